#!/usr/bin/env python3
"""Replays the Handle.Net 9.3.1 REST vectors against a live idnode and compares the answers.

The vectors in ``vectors/handle-rest/`` were captured from the reference server. For each scenario
this script first brings the node into the state the scenario was captured in, using the node's own
REST API with the administrator's Basic credentials (the ``seed`` sections of the vector files, the
whole-server ``seed.json`` for identities, prefix administrators and the listing scenarios). It then
sends every recorded request and compares the status code, a few meaningful headers and the JSON body
with the recorded response.

What the comparison normalises (it varies from run to run, see ``vectors/handle-rest/README.md``):

* ``timestamp`` fields of values are dropped on both sides;
* ``sessionId`` and ``nonce`` values, and minted suffixes (``mintNewSuffix``), are mapped from the
  live run back to the recorded spelling when they are first seen, so that later exchanges must
  repeat them consistently;
* signatures of ``Authorization: Handle`` requests are recomputed over the live nonce;
* ``values`` arrays are compared by value index, not by position (Handle.Net returns values in its
  storage order, which changes after modifications);
* ``GET /api/site`` masks what identifies the server itself (its public key, address, ports and
  description), and the ``Date`` header and all headers not listed in ``compare_headers`` are ignored.

Known differences live in ``rest_differences.json``: each entry names a scenario, an exchange (its
position in the file, ``"seed"`` for the state set-up, or ``"*"``), the path of the differences it
covers (as printed by this script; either exactly or as an ``fnmatch`` pattern such as ``body.*``)
and the reason. The script exits non-zero
when a difference is not covered by an entry and when an entry covers nothing (it must be removed, so
the list stays true). The last line printed is ``N passed, M failed``.

Only the Python standard library is used.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import fnmatch
import hashlib
import hmac
import http.client
import json
import re
import ssl
import sys
import urllib.parse
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_VECTORS = HERE / "vectors" / "handle-rest"
DEFAULT_DIFFERENCES = HERE / "rest_differences.json"

ADMIN_USER = "300:88.118.8/ADMIN"
PREFIX = "88.118.8"

# The state `delete-handle.json` needs but its (empty) seed section does not record: the handle it
# deletes. The values are those `delete-value.json` leaves behind, the scenario captured just before.
EXTRA_SEED: dict[str, dict[str, Any]] = {
    "delete-handle": {
        "88.118.8/rest-1": {
            "responseCode": 1,
            "handle": "88.118.8/rest-1",
            "values": [
                {
                    "index": 100,
                    "type": "HS_ADMIN",
                    "data": {
                        "format": "admin",
                        "value": {"handle": "88.118.8/ADMIN", "index": 300, "permissions": "111111111111"},
                    },
                    "ttl": 86400,
                },
                {"index": 1, "type": "URL", "data": {"format": "string", "value": "https://example.org/rest/1-modified"}, "ttl": 3600},
                {"index": 3, "type": "DESC", "data": {"format": "string", "value": "replaced record"}, "ttl": 86400},
            ],
        }
    }
}

# DigestInfo prefix of SHA-256 for EMSA-PKCS1-v1_5 (RFC 8017, section 9.2, note 1).
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")

# Headers the comparison looks at (lower case). All others (Date, Vary, Content-Length, Server...)
# are transport details.
COMPARED_HEADERS = ("content-type", "www-authenticate", "location")


# --------------------------------------------------------------------------------------------------
# Small helpers: vectors, identities, signatures.


def load_scenarios(vectors_dir: Path) -> list[dict[str, Any]]:
    """Returns the scenario files of the vector directory (not `seed.json`), sorted by file name."""
    scenarios = []
    for path in sorted(vectors_dir.glob("*.json")):
        if path.name == "seed.json":
            continue
        scenarios.append(json.loads(path.read_text(encoding="utf-8")))
    return scenarios


def load_seed(vectors_dir: Path) -> dict[str, Any]:
    """Returns the whole-server seed (`seed.json`)."""
    return json.loads((vectors_dir / "seed.json").read_text(encoding="utf-8"))


def request_target(request: dict[str, Any]) -> tuple[str, str]:
    """Returns (scheme, path with query) of a recorded request; pyhandle exchanges carry a full URL."""
    if "url" in request:
        parts = urllib.parse.urlsplit(request["url"])
        target = parts.path + ("?" + parts.query if parts.query else "")
        return parts.scheme, target
    return request["scheme"], request["path"]


def handle_of_target(target: str) -> str | None:
    """Returns the percent-decoded handle of an `/api/handles/{handle}` target, or None."""
    path = target.split("?", 1)[0]
    if not path.startswith("/api/handles/"):
        return None
    return urllib.parse.unquote(path[len("/api/handles/"):])


def query_params(target: str) -> list[tuple[str, str]]:
    """Returns the query parameters of a target, in order, keeping blank values."""
    query = target.split("?", 1)[1] if "?" in target else ""
    return urllib.parse.parse_qsl(query, keep_blank_values=True)


def der_read(data: bytes, pos: int) -> tuple[int, bytes, int]:
    """Reads one DER element at `pos`: returns (tag, contents, position after it)."""
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    return tag, data[pos:pos + length], pos + length


def der_children(data: bytes) -> list[tuple[int, bytes]]:
    """Splits the contents of a DER SEQUENCE into its elements."""
    out, pos = [], 0
    while pos < len(data):
        tag, value, pos = der_read(data, pos)
        out.append((tag, value))
    return out


def rsa_key_from_pkcs8_pem(pem: str) -> tuple[int, int]:
    """Returns (n, d) of an unencrypted PKCS#8 RSA private key."""
    body = "".join(line for line in pem.splitlines() if line and not line.startswith("-----"))
    _, info, _ = der_read(base64.b64decode(body), 0)
    private_key = der_children(info)[2][1]
    _, rsa_key, _ = der_read(private_key, 0)
    numbers = [int.from_bytes(value, "big") for _, value in der_children(rsa_key)]
    return numbers[1], numbers[3]


def rsa_sha256_sign(n: int, d: int, message: bytes) -> bytes:
    """RSASSA-PKCS1-v1_5 with SHA-256 (deterministic, so it reproduces recorded signatures)."""
    size = (n.bit_length() + 7) // 8
    digest_info = SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    encoded = b"\x00\x01" + b"\xff" * (size - len(digest_info) - 3) + b"\x00" + digest_info
    return pow(int.from_bytes(encoded, "big"), d, n).to_bytes(size, "big")


@dataclasses.dataclass
class Identities:
    """Secrets and keys of the identities the vectors authenticate as."""

    secrets: dict[str, str]
    rsa_keys: dict[str, tuple[int, int]]
    recorded_admin_secret: str
    live_admin_secret: str

    @classmethod
    def from_seed(cls, seed: dict[str, Any], live_admin_secret: str | None) -> Identities:
        """Reads the identities of `seed.json`; `live_admin_secret` replaces the admin's secret."""
        secrets, rsa_keys = {}, {}
        for ident, info in seed["identities"].items():
            if info["type"] == "HS_SECKEY":
                secrets[ident] = info["secret"]
            elif info["type"] == "HS_PUBKEY" and "private_key_pkcs8_pem_test_only" in info:
                rsa_keys[ident] = rsa_key_from_pkcs8_pem(info["private_key_pkcs8_pem_test_only"])
        recorded = secrets[ADMIN_USER]
        live = recorded if live_admin_secret is None else live_admin_secret
        secrets[ADMIN_USER] = live
        return cls(secrets, rsa_keys, recorded, live)


def handle_signature(ids: Identities, ident: str, key_type: str, alg: str, nonce: bytes, cnonce: bytes) -> bytes:
    """The `signature` of an `Authorization: Handle` answer: over nonce || cnonce."""
    message = nonce + cnonce
    if key_type == "HS_SECKEY":
        secret = ids.secrets[ident].encode("utf-8")
        if alg == "HMAC-SHA256":
            return hmac.new(secret, message, hashlib.sha256).digest()
        if alg == "HMAC-SHA1":
            return hmac.new(secret, message, hashlib.sha1).digest()
        if alg == "SHA1":
            return hashlib.sha1(secret + message + secret).digest()
    elif key_type == "HS_PUBKEY" and alg == "SHA256":
        n, d = ids.rsa_keys[ident]
        return rsa_sha256_sign(n, d, message)
    raise ValueError(f"unsupported signature {key_type}/{alg}")


AUTH_PARAM = re.compile(r'([A-Za-z]+)\s*=\s*"([^"]*)"')


def parse_auth_params(value: str) -> tuple[str, dict[str, str]]:
    """Splits `Scheme k="v", ...` into the scheme and its parameters (in order)."""
    scheme, _, rest = value.strip().partition(" ")
    return scheme, {k: v for k, v in AUTH_PARAM.findall(rest)}


def format_handle_auth(params: dict[str, str]) -> str:
    """Builds an `Authorization: Handle` header value from parameters, keeping their order."""
    return "Handle " + ", ".join(f'{k}="{v}"' for k, v in params.items())


def basic_auth(user: str, secret: str) -> str:
    """Basic credentials with the username fully percent-encoded, as in the vectors."""
    token = urllib.parse.quote(user, safe="") + ":" + secret
    return "Basic " + base64.b64encode(token.encode("utf-8")).decode("ascii")


# --------------------------------------------------------------------------------------------------
# HTTP.


@dataclasses.dataclass
class Response:
    """A live answer: status, headers in order (duplicates kept) and the raw body."""

    status: int
    headers: list[tuple[str, str]]
    raw: bytes

    def json(self) -> Any:
        """The body parsed as JSON (raises ValueError when it is not)."""
        return json.loads(self.raw.decode("utf-8"))


class Node:
    """Sends raw HTTP requests to the node's HTTPS and plain HTTP listeners."""

    def __init__(self, https_base: str, http_base: str, context: ssl.SSLContext, timeout: float = 30.0):
        self.bases = {"https": urllib.parse.urlsplit(https_base), "http": urllib.parse.urlsplit(http_base)}
        self.context = context
        self.timeout = timeout

    def request(self, scheme: str, method: str, target: str, headers: list[tuple[str, str]], body: bytes | None) -> Response:
        """Sends one request on a new connection, headers in the given order."""
        base = self.bases[scheme]
        if scheme == "https":
            conn = http.client.HTTPSConnection(base.hostname, base.port, timeout=self.timeout, context=self.context)
        else:
            conn = http.client.HTTPConnection(base.hostname, base.port, timeout=self.timeout)
        try:
            conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", base.netloc)
            had_length = False
            for name, value in headers:
                lower = name.lower()
                # Host and Content-Length are recomputed; the client asks for no compression.
                if lower in ("host", "accept-encoding", "connection"):
                    continue
                if lower == "content-length":
                    had_length = True
                    continue
                conn.putheader(name, value)
            if body is not None or had_length:
                conn.putheader("Content-Length", str(len(body or b"")))
            conn.endheaders(body)
            resp = conn.getresponse()
            return Response(resp.status, resp.getheaders(), resp.read())
        finally:
            conn.close()


def make_tls_context(cert: Path | None) -> ssl.SSLContext:
    """Trusts exactly the node's self-signed certificate, or nothing is verified when `cert` is None."""
    if cert is None:
        # Unverified mode, for manual runs against a node whose certificate is not at hand.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    context = ssl.create_default_context(cafile=str(cert))
    # The node's certificate is its own trust anchor: accept it without a CA above it.
    context.verify_flags |= getattr(ssl, "VERIFY_X509_PARTIAL_CHAIN", 0)
    return context


class Admin:
    """The administrator's REST calls used to set up state (Basic auth over HTTPS)."""

    def __init__(self, node: Node, ids: Identities):
        self.node = node
        self.auth = basic_auth(ADMIN_USER, ids.live_admin_secret)

    def _call(self, method: str, handle: str, query: str = "", body: Any = None) -> Response:
        target = "/api/handles/" + urllib.parse.quote(handle, safe="/") + query
        headers = [("Accept", "application/json"), ("Authorization", self.auth)]
        data = None
        if body is not None:
            headers.append(("Content-Type", "application/json"))
            data = json.dumps(body).encode("utf-8")
        try:
            return self.node.request("https", method, target, headers, data)
        except (OSError, http.client.HTTPException) as exc:
            # Reported like an error answer, so that set-up failures show up as differences.
            return Response(0, [], f"{type(exc).__name__}: {exc}".encode("utf-8"))

    def record(self, handle: str) -> list[dict[str, Any]] | None:
        """All values of a handle (publicOnly=false), or None when it is absent or unreadable."""
        resp = self._call("GET", handle, "?publicOnly=false")
        try:
            body = resp.json()
        except ValueError:
            return None
        if resp.status == 200 and body.get("responseCode") == 1:
            return body.get("values")
        return None

    def put_record(self, handle: str, values: list[dict[str, Any]]) -> str | None:
        """Creates or replaces the whole record; returns an error description or None."""
        return self._expect_ok(self._call("PUT", handle, "", {"values": values}), "PUT")

    def put_values(self, handle: str, values: list[dict[str, Any]]) -> str | None:
        """Adds or replaces just these values; returns an error description or None."""
        query = "?" + "&".join(f"index={v['index']}" for v in values)
        return self._expect_ok(self._call("PUT", handle, query, {"values": values}), "PUT " + query)

    def delete(self, handle: str) -> str | None:
        """Deletes a handle if it exists; returns an error description or None."""
        resp = self._call("DELETE", handle)
        if resp.status == 404:
            return None
        return self._expect_ok(resp, "DELETE")

    @staticmethod
    def _expect_ok(resp: Response, what: str) -> str | None:
        try:
            code = resp.json().get("responseCode")
        except (ValueError, AttributeError):
            code = None
        if resp.status in (200, 201) and code == 1:
            return None
        return f"{what} answered {resp.status} {resp.raw[:200].decode('utf-8', 'replace')}"


# --------------------------------------------------------------------------------------------------
# Comparison.


def strip_timestamps(values: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Values as a PUT body: without the server-stamped `timestamp`."""
    return [{k: v for k, v in value.items() if k != "timestamp"} for value in values]


def canonical_values(values: list[dict[str, Any]] | None) -> Any:
    """Values without timestamps, sorted by index (for equality checks while seeding)."""
    if values is None:
        return None
    return sorted(strip_timestamps(values), key=lambda v: str(v.get("index")))


def normalise(value: Any, reverse: dict[str, str]) -> Any:
    """Drops timestamps and maps live per-run strings back to their recorded spelling."""
    if isinstance(value, dict):
        return {k: normalise(v, reverse) for k, v in value.items() if k != "timestamp"}
    if isinstance(value, list):
        return [normalise(v, reverse) for v in value]
    if isinstance(value, str):
        return reverse.get(value, value)
    return value


def mask_site(body: Any) -> Any:
    """Masks what identifies a server in `GET /api/site`: key, address, ports, description."""
    if not isinstance(body, dict) or not isinstance(body.get("site"), dict):
        return body
    site = json.loads(json.dumps(body["site"]))
    if isinstance(site.get("attributes"), list):
        site["attributes"] = [
            {**a, "value": "<masked>"} if isinstance(a, dict) and a.get("name") == "desc" else a for a in site["attributes"]
        ]
    for server in site.get("servers", []) if isinstance(site.get("servers"), list) else []:
        if isinstance(server, dict):
            for key in ("publicKey", "address"):
                if key in server:
                    server[key] = "<masked>"
            for interface in server.get("interfaces", []) if isinstance(server.get("interfaces"), list) else []:
                if isinstance(interface, dict) and "port" in interface:
                    interface["port"] = "<masked>"
    return {**body, "site": site}


def short(value: Any, limit: int = 120) -> str:
    """A one-line rendering of a JSON value for difference reports."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_value_list(items: list[Any]) -> bool:
    """True for a list of handle values (objects with an `index`)."""
    return bool(items) and all(isinstance(i, dict) and "index" in i for i in items)


def diff_json(expected: Any, actual: Any, path: str, out: list[tuple[str, str]]) -> None:
    """Appends (path, description) for every difference between two JSON values."""
    if type(expected) is not type(actual):
        out.append((path, f"expected {short(expected)}, got {short(actual)}"))
    elif isinstance(expected, dict):
        for key, value in expected.items():
            if key not in actual:
                out.append((f"{path}.{key}", f"missing (expected {short(value)})"))
            else:
                diff_json(value, actual[key], f"{path}.{key}", out)
        for key, value in actual.items():
            if key not in expected:
                out.append((f"{path}.{key}", f"unexpected {short(value)}"))
    elif isinstance(expected, list):
        if is_value_list(expected) or is_value_list(actual):
            by_index_e = {str(v.get("index")) if isinstance(v, dict) else repr(v): v for v in expected}
            by_index_a = {str(v.get("index")) if isinstance(v, dict) else repr(v): v for v in actual}
            for key, value in by_index_e.items():
                if key not in by_index_a:
                    out.append((f"{path}[index={key}]", f"missing value {short(value)}"))
                else:
                    diff_json(value, by_index_a[key], f"{path}[index={key}]", out)
            for key, value in by_index_a.items():
                if key not in by_index_e:
                    out.append((f"{path}[index={key}]", f"unexpected value {short(value)}"))
        elif len(expected) != len(actual):
            first = next((i for i, (e, a) in enumerate(zip(expected, actual)) if e != a), min(len(expected), len(actual)))
            out.append((path, f"expected {len(expected)} items, got {len(actual)}; first difference at item {first}: "
                              f"expected {short(expected[first:first + 1])}, got {short(actual[first:first + 1])}"))
        else:
            for i, (e, a) in enumerate(zip(expected, actual)):
                diff_json(e, a, f"{path}[{i}]", out)
    elif expected != actual:
        out.append((path, f"expected {short(expected)}, got {short(actual)}"))


def header_values(headers: list[tuple[str, str]] | list[list[str]], name: str) -> list[str]:
    """All values of a header, by case-insensitive name."""
    return [v for k, v in headers if k.lower() == name]


def media_type(value: str) -> str:
    """`application/json;charset=utf-8` -> `application/json`."""
    return value.split(";", 1)[0].strip().lower()


def challenge_shape(values: list[str]) -> list[str]:
    """WWW-Authenticate values as `Scheme(param names)`, sorted: values such as nonces vary."""
    shapes = []
    for value in values:
        scheme, params = parse_auth_params(value)
        shapes.append(f"{scheme}({','.join(sorted(params))})")
    return sorted(shapes)


def token_set(value: str) -> list[str]:
    """A comma-separated header value as a sorted, case-folded list of tokens."""
    return sorted(t.strip().lower() for t in value.split(",") if t.strip())


def compare_headers(expected: list[list[str]], actual: list[tuple[str, str]], has_body: bool) -> list[tuple[str, str]]:
    """Differences in the headers that matter to clients (see COMPARED_HEADERS and CORS)."""
    out: list[tuple[str, str]] = []
    exp_ct = header_values(expected, "content-type")
    if exp_ct and has_body:
        act_ct = header_values(actual, "content-type")
        got = media_type(act_ct[0]) if act_ct else None
        if got != media_type(exp_ct[0]):
            out.append(("header:content-type", f"expected {media_type(exp_ct[0])}, got {got}"))
    exp_auth = header_values(expected, "www-authenticate")
    if exp_auth:
        want, got_shape = challenge_shape(exp_auth), challenge_shape(header_values(actual, "www-authenticate"))
        if want != got_shape:
            out.append(("header:www-authenticate", f"expected {want}, got {got_shape}"))
    exp_loc = header_values(expected, "location")
    if exp_loc:
        act_loc = header_values(actual, "location")
        if act_loc[:1] != exp_loc[:1]:
            out.append(("header:location", f"expected {exp_loc[0]!r}, got {act_loc[:1]}"))
    for name, value in expected:
        lower = name.lower()
        if not lower.startswith("access-control-"):
            continue
        got_values = header_values(actual, lower)
        if not got_values:
            out.append((f"header:{lower}", f"missing (expected {value!r})"))
        elif lower in ("access-control-allow-methods", "access-control-allow-headers"):
            if token_set(got_values[0]) != token_set(value):
                out.append((f"header:{lower}", f"expected {value!r}, got {got_values[0]!r}"))
        elif got_values[0] != value:
            out.append((f"header:{lower}", f"expected {value!r}, got {got_values[0]!r}"))
    return out


JSONP = re.compile(r"^\s*([^\s(]+)\((.*)\);?\s*$", re.S)


def compare_response(expected: dict[str, Any], actual: Response, reverse: dict[str, str], target: str) -> list[tuple[str, str]]:
    """All differences between a recorded response and a live one, after normalisation."""
    out: list[tuple[str, str]] = []
    if expected["status"] != actual.status:
        out.append(("status", f"expected {expected['status']}, got {actual.status}"))
    exp_body = expected.get("body")
    raw_text = actual.raw.decode("utf-8", "replace")
    has_body = exp_body not in (None, "")
    out.extend(compare_headers(expected.get("headers", []), actual.headers, has_body))

    site = target.startswith("/api/site")
    if isinstance(exp_body, (dict, list)):
        try:
            live = json.loads(raw_text)
        except ValueError:
            out.append(("body", f"not JSON: {raw_text[:120]!r}"))
            return out
        want, got = normalise(exp_body, {}), normalise(live, reverse)
        if site:
            want, got = mask_site(want), mask_site(got)
        diff_json(want, got, "body", out)
        exp_raw = expected.get("body_raw")
        if isinstance(exp_raw, str) and "\n" in exp_raw.strip() and "\n" not in raw_text.strip():
            out.append(("body:pretty", "expected indented JSON, got a single line"))
    elif isinstance(exp_body, str) and exp_body:
        want_m, got_m = JSONP.match(exp_body), JSONP.match(raw_text)
        if want_m is None:
            if raw_text != exp_body:
                out.append(("body", f"expected {exp_body[:80]!r}, got {raw_text[:80]!r}"))
        elif got_m is None:
            out.append(("body", f"expected a JSONP call {want_m.group(1)}(...), got {raw_text[:80]!r}"))
        else:
            if got_m.group(1) != want_m.group(1):
                out.append(("body:callback", f"expected {want_m.group(1)!r}, got {got_m.group(1)!r}"))
            try:
                diff_json(normalise(json.loads(want_m.group(2)), {}), normalise(json.loads(got_m.group(2)), reverse), "body", out)
            except ValueError:
                out.append(("body", f"JSONP argument is not JSON: {got_m.group(2)[:80]!r}"))
    elif exp_body == "" and raw_text != "":
        out.append(("body", f"expected an empty body, got {raw_text[:80]!r}"))
    return out


# --------------------------------------------------------------------------------------------------
# Per-run state: what varies between the recorded and the live run.


@dataclasses.dataclass
class RunState:
    """Recorded -> live strings learned from answers, and the live nonce of each live session."""

    forward: dict[str, str] = dataclasses.field(default_factory=dict)
    nonces: dict[str, bytes] = dataclasses.field(default_factory=dict)
    minted: list[str] = dataclasses.field(default_factory=list)

    @property
    def reverse(self) -> dict[str, str]:
        """Live -> recorded."""
        return {live: recorded for recorded, live in self.forward.items()}

    def apply(self, text: str) -> str:
        """Replaces recorded per-run strings by their live counterparts."""
        for recorded, live in self.forward.items():
            text = text.replace(recorded, live)
        return text

    def _pair(self, recorded: Any, live: Any) -> None:
        if isinstance(recorded, str) and isinstance(live, str) and recorded and recorded not in self.forward:
            self.forward[recorded] = live

    def learn(self, target: str, expected: dict[str, Any], actual: Response) -> None:
        """Learns session ids, nonces and minted handles from a live answer."""
        try:
            live = json.loads(actual.raw.decode("utf-8")) if actual.raw else None
        except ValueError:
            live = None
        recorded = expected.get("body")
        if isinstance(recorded, dict) and isinstance(live, dict):
            for key in ("sessionId", "nonce"):
                self._pair(recorded.get(key), live.get(key))
            self._remember_nonce(live.get("sessionId"), live.get("nonce"))
            if any(k == "mintNewSuffix" for k, _ in query_params(target)):
                stem = handle_of_target(target) or ""
                got = live.get("handle")
                if isinstance(got, str) and got.startswith(stem) and got != stem:
                    self._pair(recorded.get("handle"), got)
                    self.minted.append(got)
        rec_challenges = [parse_auth_params(v) for v in header_values(expected.get("headers", []), "www-authenticate")]
        live_challenges = [parse_auth_params(v) for v in header_values(actual.headers, "www-authenticate")]
        for scheme, params in rec_challenges:
            if scheme != "Handle":
                continue
            for live_scheme, live_params in live_challenges:
                if live_scheme == "Handle":
                    self._pair(params.get("sessionId"), live_params.get("sessionId"))
                    self._pair(params.get("nonce"), live_params.get("nonce"))
                    self._remember_nonce(live_params.get("sessionId"), live_params.get("nonce"))

    def _remember_nonce(self, session: Any, nonce: Any) -> None:
        if isinstance(session, str) and isinstance(nonce, str):
            try:
                self.nonces[session] = base64.b64decode(nonce)
            except ValueError:
                pass


def prepare_headers(headers: list[list[str]], state: RunState, ids: Identities) -> list[tuple[str, str]]:
    """The recorded headers for the live run: per-run strings, admin secret and signatures replaced."""
    out = []
    for name, value in headers:
        value = state.apply(value)
        if name.lower() == "authorization":
            value = rewrite_authorization(value, state, ids)
        out.append((name, value))
    return out


def rewrite_authorization(value: str, state: RunState, ids: Identities) -> str:
    """Recomputes `Authorization: Handle` signatures over the live nonce; swaps the admin secret."""
    scheme, _, rest = value.partition(" ")
    if scheme == "Basic" and ids.live_admin_secret != ids.recorded_admin_secret:
        user, _, secret = base64.b64decode(rest).decode("utf-8").partition(":")
        if urllib.parse.unquote(user) == ADMIN_USER and secret == ids.recorded_admin_secret:
            token = f"{user}:{ids.live_admin_secret}".encode("utf-8")
            return "Basic " + base64.b64encode(token).decode("ascii")
        return value
    if scheme != "Handle":
        return value
    _, params = parse_auth_params(value)
    if "signature" not in params:
        return value
    nonce = state.nonces.get(params.get("sessionId", ""))
    if nonce is None:
        # The node gave no session for this request; send it unchanged and let it fail visibly.
        return value
    ident = urllib.parse.unquote(params["id"])
    signature = handle_signature(ids, ident, params["type"], params["alg"], nonce, base64.b64decode(params["cnonce"]))
    params["signature"] = base64.b64encode(signature).decode("ascii")
    return format_handle_auth(params)


# --------------------------------------------------------------------------------------------------
# Known differences and results.


@dataclasses.dataclass
class Check:
    """One exchange (or the state set-up of a scenario) and what differed."""

    scenario: str
    exchange: int | str
    diffs: list[tuple[str, str]]
    known: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    unknown: list[tuple[str, str]] = dataclasses.field(default_factory=list)


def load_differences(path: Path) -> list[dict[str, Any]]:
    """The entries of `rest_differences.json`."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return data["differences"]


def entry_matches(entry: dict[str, Any], check: Check, path: str) -> bool:
    """Whether a known-difference entry covers one difference of a check."""
    if entry["scenario"] != check.scenario:
        return False
    exchange = entry.get("exchange", "*")
    if exchange != "*" and exchange != check.exchange:
        return False
    pattern = entry.get("path", "*")
    return path == pattern or fnmatch.fnmatchcase(path, pattern)


def classify(checks: list[Check], entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Splits each check's differences into known and unknown; returns the entries that matched nothing."""
    used = [False] * len(entries)
    for check in checks:
        check.known, check.unknown = [], []
        for path, detail in check.diffs:
            hit = False
            for i, entry in enumerate(entries):
                if entry_matches(entry, check, path):
                    used[i] = True
                    hit = True
            (check.known if hit else check.unknown).append((path, detail))
    return [entry for entry, was_used in zip(entries, used) if not was_used]


# --------------------------------------------------------------------------------------------------
# Running.


def is_prefix_handle(handle: str) -> bool:
    """`0.NA/...` handles are changed value by value, never replaced, so node-made values survive."""
    return handle.upper().startswith("0.NA/")


def admin_secret_in(values: list[dict[str, Any]], ids: Identities, handle: str) -> list[dict[str, Any]]:
    """Puts the live admin secret into the admin identity's HS_SECKEY value when it differs."""
    if f"300:{handle}" != ADMIN_USER or ids.live_admin_secret == ids.recorded_admin_secret:
        return values
    out = []
    for value in values:
        if value.get("type") == "HS_SECKEY" and value.get("data", {}).get("value") == ids.recorded_admin_secret:
            value = {**value, "data": {**value["data"], "value": ids.live_admin_secret}}
        out.append(value)
    return out


class Replayer:
    """Runs the scenarios against one node."""

    def __init__(self, node: Node, ids: Identities, seed: dict[str, Any], log=print, verbose: bool = False):
        self.node = node
        self.ids = ids
        self.admin = Admin(node, ids)
        self.seed = seed
        self.log = log
        self.verbose = verbose
        self.global_handles = {h.upper() for h in self.global_records()}

    def global_records(self) -> dict[str, list[dict[str, Any]]]:
        """Every record of `seed.json`, the bulk listing records included."""
        records = {h: values for h, values in self.seed["records"].items()}
        bulk = self.seed.get("bulk_records")
        if bulk:
            for n in range(100):
                suffix = f"{n:03d}"
                values = json.loads(json.dumps(bulk["values"]).replace("NNN", suffix))
                records[f"{PREFIX}/list-{suffix}"] = values
        return records

    def ensure(self, handle: str, values: list[dict[str, Any]]) -> str | None:
        """Makes a record hold these values (timestamps aside); returns an error or None."""
        values = admin_secret_in(strip_timestamps(values), self.ids, handle)
        if is_prefix_handle(handle):
            current = self.admin.record(handle) or []
            have = {str(v.get("index")): v for v in strip_timestamps(current)}
            missing = [v for v in values if have.get(str(v["index"])) != v]
            return self.admin.put_values(handle, missing) if missing else None
        if canonical_values(self.admin.record(handle)) == canonical_values(values):
            return None
        return self.admin.put_record(handle, values)

    def seed_global(self) -> Check:
        """Loads the whole-server seed; one check."""
        diffs = []
        for handle, values in self.global_records().items():
            error = self.ensure(handle, values)
            if error:
                diffs.append((f"seed:{handle}", error))
        return Check("global-seed", "seed", diffs)

    def run_scenario(self, scenario: dict[str, Any]) -> list[Check]:
        """Sets up the scenario's state, replays its exchanges, cleans up; one check per step."""
        name = scenario["name"]
        records = dict((scenario.get("seed") or {}).get("records", {}))
        records.update(EXTRA_SEED.get(name, {}))
        touched = set()
        seed_diffs = []
        for handle, record in records.items():
            if record.get("responseCode") == 1:
                error = self.ensure(handle, record.get("values", []))
            else:
                error = self.admin.delete(handle)
            touched.add(handle)
            if error:
                seed_diffs.append((f"seed:{handle}", error))
        # Handles the scenario itself creates must not exist beforehand.
        for exchange in scenario["exchanges"]:
            request = exchange["request"]
            _, target = request_target(request)
            handle = handle_of_target(target)
            if request["method"] == "PUT" and handle and handle not in records:
                if not any(k == "mintNewSuffix" for k, _ in query_params(target)):
                    error = self.admin.delete(handle)
                    touched.add(handle)
                    if error:
                        seed_diffs.append((f"seed:{handle}", error))
        checks = []
        if records or touched:
            checks.append(Check(name, "seed", seed_diffs))

        state = RunState()
        for number, exchange in enumerate(scenario["exchanges"]):
            checks.append(self.run_exchange(name, number, exchange, state))

        # Leave the node as the global seed has it (records changed in place are re-seeded by the
        # scenarios that need them).
        for handle in sorted(touched) + state.minted:
            if handle.upper() not in self.global_handles:
                error = self.admin.delete(handle)
                if error:
                    self.log(f"note  {name}: could not delete {handle} afterwards: {error}")
        return checks

    def run_exchange(self, name: str, number: int, exchange: dict[str, Any], state: RunState) -> Check:
        """Replays one exchange and compares the answer."""
        request, expected = exchange["request"], exchange["response"]
        scheme, target = request_target(request)
        target = state.apply(target)
        headers = prepare_headers(request.get("headers", []), state, self.ids)
        body = request.get("body")
        data = state.apply(body).encode("utf-8") if isinstance(body, str) else None
        try:
            actual = self.node.request(scheme, request["method"], target, headers, data)
        except (OSError, http.client.HTTPException) as exc:
            return Check(name, number, [("transport", f"{type(exc).__name__}: {exc}")])
        state.learn(target, expected, actual)
        return Check(name, number, compare_response(expected, actual, state.reverse, target))


def report(checks: list[Check], stale: list[dict[str, Any]], verbose: bool, out=print) -> tuple[int, int]:
    """Prints one line per check and the stale entries; returns (passed, failed)."""
    passed = failed = 0
    for check in checks:
        label = f"{check.scenario} #{check.exchange}"
        if check.unknown:
            failed += 1
            out(f"FAIL  {label}")
            for path, detail in check.unknown:
                out(f"        {path}: {detail}")
        else:
            passed += 1
            if check.known:
                out(f"known {label} ({len(check.known)} listed difference{'s' if len(check.known) > 1 else ''})")
            else:
                out(f"ok    {label}")
        if verbose:
            for path, detail in check.known:
                out(f"        (listed) {path}: {detail}")
    for entry in stale:
        failed += 1
        out(f"STALE rest_differences.json entry {entry.get('scenario')} #{entry.get('exchange', '*')} "
            f"path {entry.get('path', '*')!r}: no such difference any more; remove the entry")
    return passed, failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--https", required=True, help="base URL of the node's HTTPS listener, e.g. https://127.0.0.1:8443")
    parser.add_argument("--http", required=True, help="base URL of the node's plain HTTP listener")
    parser.add_argument("--cert", type=Path, help="the node's certificate (DIR/tls/cert.pem) to verify TLS against")
    parser.add_argument("--insecure", action="store_true", help="do not verify the node's certificate")
    parser.add_argument("--admin-secret-file", type=Path, help="the admin secret given to `idnode init` (default: the vectors' secret)")
    parser.add_argument("--vectors", type=Path, default=DEFAULT_VECTORS)
    parser.add_argument("--differences", type=Path, default=DEFAULT_DIFFERENCES)
    parser.add_argument("--only", action="append", help="run only these scenarios (repeatable; stale entries are then not checked)")
    parser.add_argument("--report", type=Path, help="write every difference as JSON to this file")
    parser.add_argument("-v", "--verbose", action="store_true", help="also print the listed (known) differences")
    args = parser.parse_args(argv)
    if args.cert is None and not args.insecure:
        parser.error("give --cert DIR/tls/cert.pem, or --insecure")

    secret = args.admin_secret_file.read_text(encoding="utf-8").strip() if args.admin_secret_file else None
    seed = load_seed(args.vectors)
    ids = Identities.from_seed(seed, secret)
    node = Node(args.https, args.http, make_tls_context(None if args.insecure else args.cert))
    replayer = Replayer(node, ids, seed, verbose=args.verbose)

    scenarios = load_scenarios(args.vectors)
    if args.only:
        scenarios = [s for s in scenarios if s["name"] in args.only]
    checks = [replayer.seed_global()]
    for scenario in scenarios:
        checks.extend(replayer.run_scenario(scenario))

    entries = load_differences(args.differences)
    stale = classify(checks, entries)
    if args.only:
        stale = [e for e in stale if e["scenario"] in args.only]
    if args.report:
        args.report.write_text(json.dumps([dataclasses.asdict(c) for c in checks], indent=1), encoding="utf-8")
    passed, failed = report(checks, stale, args.verbose)
    known = sum(1 for c in checks if c.known and not c.unknown)
    print(f"({known} of the passed checks differ only as listed in {args.differences.name})")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
