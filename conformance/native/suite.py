#!/usr/bin/env python3
"""Live conformance suite of idnode's native Handle protocol server, driven by hdlclient.

Runs against a running node: native UDP and TCP (`--udp`, `--tcp`, usually the same `host:port`)
and the HTTP tunnel on the node's HTTP and HTTPS ports (`--http`, `--https`, with `--cert` for the
node's self-signed certificate). It needs the prefix administrator's secret (`--admin-secret-file`)
and uses the REST API of the same node to cross-check what the native side writes and reads.

Covered: site info; resolution with index/type filters, RD, AT, CT, the prefix handle and the
request's spelling of the handle; multi-packet UDP requests and responses; create, delete, add,
remove and modify value; list handles (a CN stream); home, unhome and list homed prefixes;
challenge-response with HS_SECKEY (PBKDF2 and SHA-1 answers) and HS_PUBKEY RSA, answered on the same
or on a new TCP connection; OC 201 VERIFY_CHALLENGE; the IDIS OC 2001 login and its authenticated
connection; a pipelined persistent TCP connection; the error codes 4, 5, 100, 101, 102, 200, 201,
202, 301, 400, 401, 403 and 405 (where reachable); REST and native views of the same handles;
and, on a second node that the suite starts itself when given `--idnode` (with low daily quotas, a
1 s challenge timeout and the administrator as server administrator): RC 603, RC 604, RC 405 and
home/unhome.

`--offline` also runs the offline checks of test_offline.py first and counts them in. The last line
printed is `N passed, M failed, K skipped`; the exit status is non-zero on any failure.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import socket
import ssl
import sys
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import hdlclient as h  # noqa: E402

ARGS: argparse.Namespace
RUN = os.urandom(3).hex()


def handle_name(label: str) -> str:
    return f"{ARGS.prefix}/native-{RUN}-{label}"


def admin(mode: str = "pbkdf2") -> h.SecretKeyIdentity:
    index, _, handle = ARGS.admin.partition(":")
    return h.SecretKeyIdentity(handle, int(index), ARGS.secret, mode)


def hostport(spec: str) -> tuple[str, int]:
    host, _, port = spec.rpartition(":")
    return host.strip("[]"), int(port)


def transport(kind: str):
    if kind == "udp":
        return h.UdpTransport(*hostport(ARGS.udp))
    if kind == "tcp":
        return h.TcpTransport(*hostport(ARGS.tcp))
    if kind == "tcp1":
        return h.TcpPerRequestTransport(*hostport(ARGS.tcp))
    if kind == "http":
        return h.HttpTransport(ARGS.http)
    if kind == "https":
        return h.HttpTransport(ARGS.https, ARGS.cert)
    raise ValueError(kind)


def kinds(*wanted: str) -> list[str]:
    """The transports among `wanted` that were given on the command line."""
    have = {"udp": ARGS.udp, "tcp": ARGS.tcp, "tcp1": ARGS.tcp, "http": ARGS.http, "https": ARGS.https}
    return [k for k in wanted if have.get(k)]


def client(kind: str, identity=None, **kw) -> h.Client:
    return h.Client(transport(kind), identity, **kw)


def describe(resp: h.Response) -> str:
    name = h.RC_NAMES.get(resp.rc, "?")
    return f"RC {resp.rc} ({name}){' ' + repr(resp.message) if resp.message else ''}"


# ---------------------------------------------------------------------------------------------
# REST helpers (the node's own JSON API, to cross-check the native side)


def rest(method: str, path: str, body=None, auth: bool = True) -> tuple[int, dict]:
    url = ARGS.https.rstrip("/") + path
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if auth:
        user = urllib.parse.quote(ARGS.admin, safe="")
        token = base64.b64encode(f"{user}:{ARGS.secret.decode()}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    ctx = ssl.create_default_context(cafile=ARGS.cert)
    ctx.check_hostname = False
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw or b"{}")
        except ValueError:
            return exc.code, {"raw": raw.decode("latin-1")}


def rest_path(handle: str) -> str:
    return "/api/handles/" + urllib.parse.quote(handle, safe="/")


def rest_value_bytes(v: dict) -> bytes | None:
    """The native data of a REST JSON value, for the formats this suite uses."""
    data = v["data"]
    if isinstance(data, str):
        return data.encode()
    fmt, value = data.get("format"), data.get("value")
    if fmt == "string":
        return value.encode()
    if fmt == "base64":
        return base64.b64decode(value)
    if fmt == "hex":
        return bytes.fromhex(value)
    if fmt == "admin":
        perms = int(value["permissions"], 2)
        return h.admin_data(perms, value["handle"], int(value["index"]))
    return None


def rest_perms(v: dict) -> int:
    text = v.get("permissions", "1110")
    return int(text, 2)


def native_to_rest(v: h.HandleValue) -> dict:
    out = {"index": v.index, "type": v.type, "ttl": v.ttl,
           "data": {"format": "base64", "value": base64.b64encode(v.data).decode()}}
    if v.type == "HS_ADMIN":
        perms, handle, index = h.parse_admin(v.data)
        out["data"] = {"format": "admin", "value": {"handle": handle, "index": index,
                                                   "permissions": format(perms, "012b")}}
    if v.permissions != 0x0E:
        out["permissions"] = format(v.permissions, "04b")
    return out


def iso_to_epoch(text: str) -> int:
    import datetime

    return int(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def sample_values(label: str, extra: int = 0) -> list[h.HandleValue]:
    values = [h.admin_value(100, h.PERM_ALL, admin().handle, admin().index),
              h.text_value(1, "URL", f"https://example.org/native/{RUN}/{label}"),
              h.text_value(2, "DESC", f"native conformance record {label}"),
              h.text_value(3, "EMAIL", "native@example.org")]
    if extra:
        values.append(h.text_value(4, "CHEM_INFO", json.dumps({"cas": "67-64-1", "pad": "x" * extra})))
    return values


class Base(unittest.TestCase):
    maxDiff = 4000

    def ok(self, resp: h.Response, what: str = "") -> h.Response:
        self.assertEqual(resp.rc, h.RC.SUCCESS, f"{what}: {describe(resp)}")
        return resp

    def rc(self, resp: h.Response, want: int, what: str = "") -> h.Response:
        self.assertEqual(resp.rc, want, f"{what}: expected RC {want} ({h.RC_NAMES.get(want)}), got {describe(resp)}")
        return resp

    def create_native(self, handle: str, values: list[h.HandleValue], kind: str = "tcp") -> None:
        c = client(kind, admin())
        self.ok(c.create(handle, values), f"create {handle} over {kind}")


# ---------------------------------------------------------------------------------------------
# Tests


class SiteInfoTests(Base):
    def test_site_info_every_transport(self):
        for kind in kinds("udp", "tcp", "http", "https"):
            with self.subTest(transport=kind):
                resp = self.ok(client(kind).site_info(), f"site info over {kind}")
                site = h.parse_site_info(resp.site_info)
                self.assertEqual(site["data_version"], 1)
                self.assertEqual(site["protocol"][0], 2)
                self.assertGreaterEqual(site["protocol"][1], 10)
                self.assertTrue(site["servers"], "no servers in the site info")
                protocols = {p for s in site["servers"] for _, p, _ in s["interfaces"]}
                self.assertTrue({0, 1} <= protocols, f"UDP and TCP interfaces missing: {site['servers']}")
                ports = {port for s in site["servers"] for _, p, port in s["interfaces"] if p in (0, 1)}
                self.assertIn(hostport(ARGS.tcp)[1], ports)


class ResolutionTests(Base):
    @classmethod
    def setUpClass(cls):
        cls.handle = handle_name("resolve")
        c = client("tcp", admin())
        resp = c.create(cls.handle, sample_values("resolve"))
        if resp.rc != h.RC.SUCCESS:
            raise AssertionError(f"set-up create over TCP: {describe(resp)}")

    def test_resolve_all_every_transport(self):
        answers = {}
        for kind in kinds("udp", "tcp", "http", "https"):
            with self.subTest(transport=kind):
                resp = self.ok(client(kind).resolve(self.handle), f"resolve over {kind}")
                self.assertEqual(resp.handle, self.handle)
                self.assertEqual(sorted(v.index for v in resp.values), [1, 2, 3, 100])
                answers[kind] = [v.encode() for v in sorted(resp.values, key=lambda v: v.index)]
        first = next(iter(answers.values()))
        for kind, vals in answers.items():
            self.assertEqual(vals, first, f"values over {kind} differ from the other transports")

    def test_filters(self):
        for kind in kinds("udp", "tcp"):
            with self.subTest(transport=kind):
                c = client(kind)
                resp = self.ok(c.resolve(self.handle, indexes=[1, 3]))
                self.assertEqual(sorted(v.index for v in resp.values), [1, 3])
                resp = self.ok(c.resolve(self.handle, types=["URL", "DESC"]))
                self.assertEqual(sorted(v.type for v in resp.values), ["DESC", "URL"])
                # A value is returned when its index OR its type matches.
                resp = self.ok(c.resolve(self.handle, indexes=[2], types=["URL"]))
                self.assertEqual(sorted(v.index for v in resp.values), [1, 2])
                self.rc(c.resolve(self.handle, types=["NO_SUCH_TYPE"]), h.RC.VALUES_NOT_FOUND)
                self.rc(c.resolve(self.handle, indexes=[999]), h.RC.VALUES_NOT_FOUND)

    def test_type_prefix_matches_subtypes(self):
        handle = handle_name("subtypes")
        self.create_native(handle, [h.admin_value(100, h.PERM_ALL, admin().handle, admin().index),
                                    h.text_value(1, "URL", "https://example.org/a"),
                                    h.text_value(2, "URL.mobile", "https://m.example.org/a"),
                                    h.text_value(3, "URLX", "not a sub-type")])
        resp = self.ok(client("udp").resolve(handle, types=["URL."]))
        self.assertEqual(sorted(v.type for v in resp.values), ["URL", "URL.mobile"])

    def test_request_digest(self):
        for kind in kinds("udp", "tcp", "http"):
            with self.subTest(transport=kind):
                c = client(kind)
                msg = c.message(h.OC.RESOLUTION, h.body_resolution(self.handle), h.DEFAULT_FLAGS | h.FLAG_RD)
                resp = self.ok(c.send(msg))
                self.assertTrue(resp.msg.flags & h.FLAG_RD, "RD not echoed")
                self.assertEqual(resp.digest_alg, h.DIGEST_SHA256)
                self.assertEqual(resp.digest, hashlib.sha256(msg.header_body()).digest())
                self.assertEqual(len(resp.values), 4)

    def test_response_echoes_request_fields(self):
        c = client("udp")
        msg = c.message(h.OC.RESOLUTION, h.body_resolution(self.handle), h.DEFAULT_FLAGS | h.FLAG_AT)
        resp = self.ok(c.send(msg))
        self.assertEqual(resp.msg.request_id, msg.request_id)
        self.assertEqual(resp.msg.expiration, msg.expiration)
        self.assertEqual(resp.msg.opcode, h.OC.RESOLUTION)
        self.assertEqual((resp.msg.major, resp.msg.minor), (2, 11))

    def test_old_client_version(self):
        c = client("udp", version=(2, 3))
        resp = self.ok(c.resolve(self.handle))
        self.assertLessEqual((resp.msg.major, resp.msg.minor), (2, 11))

    def test_case_insensitive_and_echoed_spelling(self):
        spelled = self.handle.upper()
        for kind in kinds("udp", "tcp"):
            with self.subTest(transport=kind):
                resp = self.ok(client(kind).resolve(spelled))
                self.assertEqual(resp.handle, spelled, "the response must echo the request's spelling")

    def test_prefix_handle(self):
        for kind in kinds("udp", "tcp"):
            with self.subTest(transport=kind):
                for spelling in (f"0.NA/{ARGS.prefix}", ARGS.prefix):
                    resp = client(kind).resolve(spelling)
                    self.ok(resp, f"resolve {spelling}")
                    self.assertTrue(any(v.type == "HS_ADMIN" for v in resp.values))

    def test_certified(self):
        resp = self.ok(client("tcp").resolve(self.handle, flags=h.DEFAULT_FLAGS | h.FLAG_CT))
        self.assertTrue(resp.msg.credential, "CT set, but the response carries no credential")
        cred = h.Credential.decode(resp.msg.credential)
        self.assertEqual(cred.type, "HS_SIGNED")


class MultiPacketTests(Base):
    def test_large_record_over_udp(self):
        handle = handle_name("big")
        values = sample_values("big", extra=1500)
        self.create_native(handle, values)
        udp = self.ok(client("udp").resolve(handle), "resolve a >492-byte record over UDP")
        self.assertGreater(len(udp.msg.payload()), h.UDP_MAX_PAYLOAD)
        tcp = self.ok(client("tcp").resolve(handle))
        self.assertEqual([v.encode() for v in udp.values], [v.encode() for v in tcp.values])

    def test_fragments_have_tc_and_sequence(self):
        handle = handle_name("big2")
        self.create_native(handle, sample_values("big2", extra=1200))
        c = client("udp")
        msg = c.message(h.OC.RESOLUTION, h.body_resolution(handle))
        sock = c.transport.sock
        c.transport.send(msg)
        sock.settimeout(3)
        datagrams = []
        total = None
        while total is None or sum(len(d) - 20 for d in datagrams) < total:
            d = sock.recv(65535)
            env = h.Envelope.decode(d)
            if env.request_id != msg.request_id:
                continue
            total = env.message_length
            datagrams.append(d)
        envs = [h.Envelope.decode(d) for d in datagrams]
        self.assertEqual(sorted(e.sequence for e in envs), list(range(len(envs))))
        self.assertTrue(all(e.flags & h.ENV_TC for e in envs), "TC not set on every fragment")
        self.assertTrue(all(len(d) <= 512 for d in datagrams))

    def test_truncated_answer_to_an_unverified_source(self):
        host, port = hostport(ARGS.udp)
        if not host.startswith("127."):
            self.skipTest("needs a second loopback address as a source that never used TCP")
        handle = handle_name("big3")
        self.create_native(handle, sample_values("big3", extra=1500))

        def from_second_address(fallback: bool) -> h.Client:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.2", 0))
            sock.connect((host, port))
            return h.Client(h.UdpTransport(host, port, sock=sock, tcp_fallback=fallback))

        try:
            whole = from_second_address(False).resolve(handle)
        except h.Truncated:
            whole = None
        if whole is not None:
            self.skipTest("the server does not limit UDP amplification")
        # With the fallback a client gets the whole record, over TCP.
        c = from_second_address(True)
        resp = self.ok(c.resolve(handle), "resolve after a truncated UDP answer")
        self.assertEqual(c.transport.truncated, 1)
        tcp = self.ok(client("tcp").resolve(handle))
        self.assertEqual([v.encode() for v in resp.values], [v.encode() for v in tcp.values])

    def test_multi_packet_request(self):
        handle = handle_name("mpreq")
        self.create_native(handle, sample_values("mpreq"))
        types = ["URL"] + [f"NO_SUCH_TYPE_{i:04d}" for i in range(60)]
        c = client("udp")
        msg = c.message(h.OC.RESOLUTION, h.body_resolution(handle, [], types))
        self.assertGreater(len(msg.udp_datagrams()), 1)
        resp = self.ok(c.send(msg), "a multi-packet UDP request")
        self.assertEqual([v.type for v in resp.values], ["URL"])


class AdminOperationTests(Base):
    def lifecycle(self, kind: str, identity) -> None:
        handle = handle_name(f"life-{kind}-{identity.mode}")
        c = client(kind, identity)
        self.ok(c.create(handle, sample_values(kind)), "create")
        check = client("tcp")
        self.assertEqual(len(self.ok(check.resolve(handle)).values), 4)
        self.ok(c.add_values(handle, [h.text_value(5, "EMAIL", "more@example.org"),
                                      h.text_value(6, "DESC", "sixth")]), "add values")
        self.assertEqual(sorted(v.index for v in self.ok(check.resolve(handle)).values), [1, 2, 3, 5, 6, 100])
        self.ok(c.modify_values(handle, [h.text_value(1, "URL", "https://example.org/modified")]), "modify")
        self.assertEqual(self.ok(check.resolve(handle, indexes=[1])).values[0].text(), "https://example.org/modified")
        self.ok(c.remove_values(handle, [5, 6]), "remove values")
        self.assertEqual(sorted(v.index for v in self.ok(check.resolve(handle)).values), [1, 2, 3, 100])
        self.ok(c.delete(handle), "delete")
        self.rc(check.resolve(handle), h.RC.HANDLE_NOT_FOUND, "resolve after delete")

    def test_lifecycle_tcp_pbkdf2(self):
        self.lifecycle("tcp", admin("pbkdf2"))

    def test_lifecycle_tcp_sha1(self):
        self.lifecycle("tcp", admin("sha1"))

    def test_lifecycle_tcp_answer_on_new_connection(self):
        self.lifecycle("tcp1", admin("pbkdf2"))

    def test_lifecycle_http(self):
        for kind in kinds("http", "https"):
            with self.subTest(transport=kind):
                self.lifecycle(kind, admin("pbkdf2"))

    def test_challenge_shape(self):
        c = client("tcp")
        msg = c.message(h.OC.CREATE_HANDLE, h.body_values(handle_name("shape"), sample_values("shape")))
        resp = self.rc(c.send(msg), h.RC.AUTHENTICATION_NEEDED, "unauthenticated create")
        self.assertNotEqual(resp.msg.session_id, 0, "a challenge must carry a new session id")
        self.assertEqual(len(resp.nonce), 16)
        self.assertEqual(resp.digest, hashlib.sha256(msg.header_body()).digest())
        self.assertEqual(resp.msg.request_id, msg.request_id)

    def test_overwrite(self):
        handle = handle_name("ovrw")
        c = client("tcp", admin())
        self.ok(c.create(handle, sample_values("ovrw")))
        self.rc(c.create(handle, sample_values("ovrw")), h.RC.HANDLE_ALREADY_EXISTS)
        replaced = sample_values("ovrw")[:2]
        self.ok(c.create(handle, replaced, overwrite=True), "create with OVRW over an existing handle")
        self.assertEqual(sorted(v.index for v in self.ok(client("udp").resolve(handle)).values), [1, 100])
        self.rc(c.add_values(handle, [h.text_value(1, "URL", "x")]), h.RC.VALUE_ALREADY_EXISTS)
        self.ok(c.add_values(handle, [h.text_value(1, "URL", "https://example.org/y")], overwrite=True))

    def test_timestamps_are_stamped_by_the_server(self):
        handle = handle_name("stamp")
        before = int(time.time()) - 5
        self.create_native(handle, sample_values("stamp"))
        for v in self.ok(client("udp").resolve(handle)).values:
            self.assertGreaterEqual(v.timestamp, before)


class RsaIdentityTests(Base):
    @classmethod
    def setUpClass(cls):
        from cryptography.hazmat.primitives.asymmetric import rsa

        cls.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cls.identity_handle = handle_name("rsa-id")
        cls.identity = h.RsaIdentity(cls.identity_handle, 300, cls.key)
        c = client("tcp", admin())
        resp = c.create(cls.identity_handle, [
            h.admin_value(100, h.PERM_ALL, cls.identity_handle, 300),
            h.HandleValue(300, "HS_PUBKEY", h.rsa_pubkey_data(cls.key.public_key()))])
        if resp.rc != h.RC.SUCCESS:
            raise AssertionError(f"set-up: create the RSA identity natively: {describe(resp)}")
        cls.owned = handle_name("rsa-owned")
        resp = c.create(cls.owned, [h.admin_value(100, h.PERM_ALL, cls.identity_handle, 300),
                                    h.text_value(1, "URL", "https://example.org/rsa")])
        if resp.rc != h.RC.SUCCESS:
            raise AssertionError(f"set-up: create the RSA-administered handle: {describe(resp)}")

    def test_rsa_identity_reads_back_over_rest(self):
        status, body = rest("GET", rest_path(self.identity_handle))
        self.assertEqual(status, 200, body)
        key = next(v for v in body["values"] if v["index"] == 300)
        self.assertEqual(key["type"], "HS_PUBKEY")
        self.assertEqual(key["data"]["format"], "key", key)
        jwk = key["data"]["value"]
        n = int.from_bytes(base64.urlsafe_b64decode(jwk["n"] + "=="), "big")
        self.assertEqual(n, self.key.public_key().public_numbers().n)

    def test_rsa_challenge_response(self):
        for kind in kinds("tcp", "tcp1", "https"):
            with self.subTest(transport=kind):
                c = client(kind, self.identity)
                self.ok(c.add_values(self.owned, [h.text_value(10 + len(kind), "DESC", f"added over {kind}")],
                                     overwrite=True), "add a value as the RSA identity")

    def test_wrong_rsa_key(self):
        from cryptography.hazmat.primitives.asymmetric import rsa

        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        c = client("tcp", h.RsaIdentity(self.identity_handle, 300, other))
        self.rc(c.add_values(self.owned, [h.text_value(20, "DESC", "x")]), h.RC.AUTHENTICATION_FAILED)

    def test_rsa_identity_cannot_create_under_prefix(self):
        c = client("tcp", self.identity)
        self.rc(c.create(handle_name("rsa-denied"), sample_values("x")), h.RC.INVALID_ADMIN)


class VerifyChallengeTests(Base):
    def test_verify_challenge(self):
        nonce = os.urandom(16)
        digest = hashlib.sha256(b"some request").digest()
        ident = admin()
        c = client("tcp")
        good_sha1 = h.seckey_answer_sha1(ident.secret, nonce, digest)
        resp = self.ok(c.verify_challenge(ident.handle, ident.index, nonce, digest, good_sha1))
        self.assertTrue(resp.valid, "a correct SHA-1 answer must verify")
        self.assertEqual(resp.digest is not None, True, "RD was set: the answer must carry the digest")
        good_pbkdf2 = h.seckey_answer_pbkdf2(ident.secret, nonce, digest)
        self.assertTrue(self.ok(c.verify_challenge(ident.handle, ident.index, nonce, digest, good_pbkdf2)).valid)
        bad = bytearray(good_sha1)
        bad[-1] ^= 1
        self.assertFalse(self.ok(c.verify_challenge(ident.handle, ident.index, nonce, digest, bytes(bad))).valid)


class LoginTests(Base):
    def test_login_then_admin_on_the_same_connection(self):
        t = transport("tcp")
        c = h.Client(t)
        first, second = c.login(admin())
        self.rc(first, h.RC.AUTHENTICATION_NEEDED, "OC 2001 must be challenged first")
        self.ok(second, "answer to the login challenge")
        handle = handle_name("after-login")
        for i in range(2):
            msg = c.message(h.OC.CREATE_HANDLE, h.body_values(f"{handle}-{i}", sample_values("login")))
            self.ok(c.send(msg), f"create #{i} on the logged-in connection (session id 0), without a challenge")
        self.ok(client("udp").resolve(f"{handle}-1"))
        # An unauthenticated connection is still challenged.
        self.rc(client("tcp").create(f"{handle}-x", sample_values("login")), h.RC.AUTHENTICATION_NEEDED)

    def test_login_session_id_on_later_requests(self):
        """Reference §13: after the login, later admin requests on the connection carry its SessionId."""
        c = h.Client(transport("tcp"))
        first, second = c.login(admin())
        self.ok(second, "login")
        msg = c.message(h.OC.CREATE_HANDLE, h.body_values(handle_name("login-session"), sample_values("login")),
                        session_id=first.msg.session_id)
        self.ok(c.send(msg), "create carrying the login challenge's session id")

    def test_relogin(self):
        c = h.Client(transport("tcp"))
        self.ok(c.login(admin())[1])
        resp = c.login(admin())[0]
        self.assertIn(resp.rc, (h.RC.RELOGIN, h.RC.AUTHENTICATION_NEEDED), describe(resp))

    def test_login_wrong_secret(self):
        c = client("tcp")
        first, second = c.login(h.SecretKeyIdentity(admin().handle, admin().index, b"wrong-secret"))
        self.rc(first, h.RC.AUTHENTICATION_NEEDED)
        self.rc(second, h.RC.AUTHENTICATION_FAILED)

    def test_login_rsa(self):
        if not hasattr(RsaIdentityTests, "identity"):
            self.skipTest("the RSA identity was not created")
        first, second = client("tcp").login(RsaIdentityTests.identity)
        self.rc(first, h.RC.AUTHENTICATION_NEEDED)
        self.ok(second)


class ListAndHomeTests(Base):
    def test_list_handles_stream(self):
        c = client("tcp", admin("sha1"))
        created = []
        for i in range(60):
            handle = handle_name(f"list-{i:03d}")
            self.ok(c.create(handle, sample_values("list")), f"create {handle}")
            created.append(handle)
        for kind in kinds("tcp", "https"):
            with self.subTest(transport=kind):
                resp = self.ok(client(kind, admin()).list_handles(ARGS.prefix), f"list handles over {kind}")
                listed = {x.upper() for x in resp.all_handles()}
                missing = [x for x in created if x.upper() not in listed]
                self.assertEqual(missing, [])
                parts = resp.stream or [resp]
                self.assertTrue(all(p.msg.flags & h.FLAG_CN for p in parts[:-1]), "CN missing before the end")
                self.assertFalse(parts[-1].msg.flags & h.FLAG_CN, "CN set on the last message")
                self.assertGreater(len(parts), 1, "more than 60 handles in a single message")

    def test_list_handles_needs_permission(self):
        user = UserTests.user_identity()
        self.rc(client("tcp", user).list_handles(ARGS.prefix), h.RC.INVALID_ADMIN)

    def test_list_homed(self):
        resp = self.ok(client("tcp", admin()).list_homed(), "list homed")
        self.assertIn(f"0.NA/{ARGS.prefix}".upper(), {x.upper() for x in resp.all_handles()})

    def test_home_needs_server_admin(self):
        self.rc(client("tcp", UserTests.user_identity()).home("0.NA/99.777"), h.RC.INVALID_ADMIN)


class ConfiguredNodeTests(Base):
    """Against a second node started by this suite (`--idnode`) with a configuration of its own:
    the administrator is a server administrator, quotas are low and challenges expire after 1 s."""

    node = None
    REQUEST_QUOTA = 8
    REGISTRATION_QUOTA = 3

    @classmethod
    def setUpClass(cls):
        if not ARGS.idnode:
            raise unittest.SkipTest("no --idnode to start a node with its own configuration")
        cls.node = ConfiguredNode(ARGS.idnode, f"""
[auth]
server_admins = ["{ARGS.admin}"]

[native]
daily_request_quota = {cls.REQUEST_QUOTA}
daily_registration_quota = {cls.REGISTRATION_QUOTA}
challenge_timeout_secs = 1
""")
        cls.tcp = cls.node.handle
        # A second identity for the request quota (one registration of the administrator).
        handle = handle_name("quota-user")
        cls.user = h.SecretKeyIdentity(handle, 300, b"quota-user-secret", "sha1")
        resp = cls.client(admin("sha1")).create(handle, [
            h.admin_value(100, h.PERM_ALL, handle, 300),
            h.HandleValue(300, "HS_SECKEY", cls.user.secret, permissions=0x0C)])
        if resp.rc != h.RC.SUCCESS:
            cls.node.stop()
            raise AssertionError(f"set-up on the configured node: {describe(resp)}")

    @classmethod
    def tearDownClass(cls):
        if cls.node is not None:
            cls.node.stop()

    @classmethod
    def client(cls, identity=None) -> h.Client:
        return h.Client(h.TcpTransport(*hostport(cls.tcp)), identity)

    def test_authen_timeout(self):
        c = self.client()
        msg = c.message(h.OC.CREATE_HANDLE, h.body_values(handle_name("late"), sample_values("late")))
        challenge = self.rc(c.send(msg), h.RC.AUTHENTICATION_NEEDED)
        # Elapsed time is the condition under test: the answer must come after the node's
        # challenge_timeout_secs (1 s here); the margin covers clocks kept in whole seconds.
        time.sleep(2.2)
        self.rc(c.answer(msg, challenge, admin("sha1")), h.RC.AUTHEN_TIMEOUT, "answer after challenge_timeout_secs")

    def test_daily_request_quota(self):
        seen = []
        handle = self.user.handle
        for i in range(self.REQUEST_QUOTA + 3):
            resp = self.client(self.user).add_values(handle, [h.text_value(10 + i, "DESC", f"#{i}")])
            seen.append(resp.rc)
            if resp.rc == h.RC.REQUEST_LIMIT_DAILY:
                break
        self.assertIn(h.RC.REQUEST_LIMIT_DAILY, seen, f"RCs seen: {seen}")
        self.assertTrue(all(rc == h.RC.SUCCESS for rc in seen[:-1]), f"RCs seen: {seen}")

    def test_home_unhome_list_homed(self):
        other = f"0.NA/99.{int(RUN, 16) % 1000}"
        c = self.client(admin("sha1"))
        udp = h.Client(h.UdpTransport(*hostport(self.tcp)))
        probe = f"{other[5:]}/x"
        self.rc(udp.resolve(probe), h.RC.SERVER_NOT_RESP, "before homing")
        self.ok(c.home(other), "home")
        self.rc(udp.resolve(probe), h.RC.HANDLE_NOT_FOUND, "after homing")
        resp = self.ok(c.list_homed(), "list homed")
        homed = {x.upper() for x in resp.all_handles()}
        self.assertIn(other.upper(), homed)
        self.assertIn(f"0.NA/{ARGS.prefix}".upper(), homed)
        self.ok(c.unhome(other), "unhome")
        self.rc(udp.resolve(probe), h.RC.SERVER_NOT_RESP, "after unhoming")

    def test_registration_quota(self):
        seen = []
        for i in range(self.REGISTRATION_QUOTA + 2):
            seen.append(self.client(admin("sha1")).create(handle_name(f"quota-{i}"), sample_values("quota")).rc)
            if seen[-1] == h.RC.REGISTER_COUNT_LIMIT:
                break
        # One registration went to the quota user in setUpClass.
        self.assertEqual(seen, [h.RC.SUCCESS] * (self.REGISTRATION_QUOTA - 1) + [h.RC.REGISTER_COUNT_LIMIT])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ConfiguredNode:
    """`idnode init` + `idnode serve --config` in a temporary directory, on free loopback ports."""

    def __init__(self, idnode: str, config: str):
        import subprocess
        import tempfile

        self.dir = Path(tempfile.mkdtemp(prefix="idnode-native-suite-"))
        secret = self.dir / "secret"
        secret.write_bytes(ARGS.secret + b"\n")
        (self.dir / "config.toml").write_text(config, encoding="utf-8")
        data = self.dir / "data"
        subprocess.run([idnode, "init", "--data", str(data), "--prefix", ARGS.prefix,
                        "--admin-secret-file", str(secret)], check=True, capture_output=True)
        ports = set()
        while len(ports) < 3:
            ports.add(free_port())
        http, https, native = sorted(ports)
        self.handle = f"127.0.0.1:{native}"
        self.log = open(self.dir / "node.log", "wb")
        self.proc = subprocess.Popen([idnode, "serve", "--config", str(self.dir / "config.toml"), "--data", str(data),
                                      "--http", f"127.0.0.1:{http}", "--https", f"127.0.0.1:{https}",
                                      "--handle", self.handle], stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the configured node exited: {(self.dir / 'node.log').read_text()[-2000:]}")
            try:
                if h.Client(h.TcpTransport("127.0.0.1", native, timeout=2)).site_info().rc == h.RC.SUCCESS:
                    return
            except (OSError, h.TransportError):
                time.sleep(0.1)
        self.stop()
        raise AssertionError("the configured node did not answer within 60 s")

    def stop(self) -> None:
        import shutil

        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except Exception:  # noqa: BLE001 - any failure to stop in time ends in a kill
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class UserTests(Base):
    _user = None

    @classmethod
    def user_identity(cls) -> h.SecretKeyIdentity:
        if cls._user is None:
            handle = handle_name("user")
            secret = b"user-secret-" + RUN.encode()
            resp = client("tcp", admin()).create(handle, [
                h.admin_value(100, h.PERM_ALL, handle, 300),
                h.HandleValue(300, "HS_SECKEY", secret, permissions=h.VALUE_ADMIN_READ | h.VALUE_ADMIN_WRITE)])
            if resp.rc != h.RC.SUCCESS:
                raise AssertionError(f"set-up: create a user identity: {describe(resp)}")
            cls._user = h.SecretKeyIdentity(handle, 300, secret)
        return cls._user

    def test_invalid_admin_on_create(self):
        self.rc(client("tcp", self.user_identity()).create(handle_name("user-denied"), sample_values("x")),
                h.RC.INVALID_ADMIN)

    def test_handle_admin_may_modify_but_not_delete(self):
        user = self.user_identity()
        handle = handle_name("user-owned")
        self.create_native(handle, [h.admin_value(100, h.PERM_ALL, admin().handle, admin().index),
                                    h.admin_value(101, h.PERM_ADD_VALUE | h.PERM_MODIFY_VALUE | h.PERM_REMOVE_VALUE,
                                                  user.handle, user.index),
                                    h.text_value(1, "URL", "https://example.org/owned")])
        c = client("tcp", user)
        self.ok(c.modify_values(handle, [h.text_value(1, "URL", "https://example.org/owned2")]))
        self.rc(c.delete(handle), h.RC.INVALID_ADMIN)

    def test_secret_not_readable_publicly(self):
        user = self.user_identity()
        resp = client("udp").resolve(user.handle)
        self.ok(resp)
        self.assertIsNone(resp.value(300), "HS_SECKEY must not be returned with PO set")

    def test_authenticated_read_of_restricted_value(self):
        user = self.user_identity()
        c = client("tcp", user)
        resp = c.resolve(user.handle, flags=h.FLAG_REC | h.FLAG_CA)
        self.ok(resp, "resolution without PO, answered with the identity's own secret")
        self.assertEqual(resp.value(300).data, user.secret)


class PipelineTests(Base):
    def test_pipelined_requests(self):
        handles = []
        for i in range(3):
            handle = handle_name(f"pipe-{i}")
            self.create_native(handle, sample_values(f"pipe-{i}"))
            handles.append(handle)
        t = transport("tcp")
        c = h.Client(t)
        msgs = []
        for i in range(24):
            target = handles[i % 3] if i % 4 else handle_name("pipe-missing")
            msgs.append(c.message(h.OC.RESOLUTION, h.body_resolution(target)))
        t.send_raw(b"".join(m.encode() for m in msgs))
        # Read in reverse order of sending: the transport keeps the others by request id.
        for m in reversed(msgs):
            reply = h.parse_response(t.receive(m.request_id)[0])
            want_handle = h.parse_request_body(m)["handle"]
            if want_handle.endswith("pipe-missing"):
                self.rc(reply, h.RC.HANDLE_NOT_FOUND)
            else:
                self.ok(reply)
                self.assertEqual(reply.handle, want_handle)
        # The connection stays usable.
        self.ok(c.resolve(handles[0]))

    def test_pipelined_mixed_with_challenge(self):
        t = transport("tcp")
        c = h.Client(t)
        handle = handle_name("pipe-admin")
        create = c.message(h.OC.CREATE_HANDLE, h.body_values(handle, sample_values("pipe-admin")))
        resolve = c.message(h.OC.RESOLUTION, h.body_resolution(f"0.NA/{ARGS.prefix}"))
        t.send_raw(create.encode() + resolve.encode())
        challenge = h.parse_response(t.receive(create.request_id)[0])
        self.rc(challenge, h.RC.AUTHENTICATION_NEEDED)
        self.ok(h.parse_response(t.receive(resolve.request_id)[0]))
        self.ok(c.answer(create, challenge, admin()), "answer on the pipelined connection")

    def test_many_sequential_requests(self):
        c = client("tcp")
        for _ in range(200):
            self.ok(c.resolve(f"0.NA/{ARGS.prefix}"))


class ErrorTests(Base):
    def test_protocol_error_malformed_body(self):
        for kind in kinds("udp", "tcp"):
            with self.subTest(transport=kind):
                c = client(kind)
                # A resolution body whose index count runs past the end.
                body = h.w_str(handle_name("x")) + h.w_u32(1000)
                resp = c.send(c.message(h.OC.RESOLUTION, body))
                self.rc(resp, h.RC.PROTOCOL_ERROR, "count past the end of the body")
                if kind == "tcp":
                    self.ok(c.resolve(f"0.NA/{ARGS.prefix}"), "the connection must stay usable after RC 4")

    def test_protocol_error_bad_length_tcp(self):
        t = transport("tcp")
        c = h.Client(t)
        msg = c.message(h.OC.RESOLUTION, h.body_resolution(handle_name("x")))
        raw = bytearray(msg.encode())
        raw[20 + 20:20 + 24] = h.w_u32(0x7FFFFFF0)  # BodyLength far past the message
        t.send_raw(bytes(raw))
        try:
            reply = h.parse_response(t.receive(msg.request_id)[0])
        except h.TransportError as exc:
            self.fail(f"connection closed instead of RC 4: {exc}")
        self.rc(reply, h.RC.PROTOCOL_ERROR)

    def test_operation_not_supported(self):
        for kind in kinds("udp", "tcp"):
            with self.subTest(transport=kind):
                c = client(kind)
                resp = c.send(c.message(9999, h.body_handle("/")))
                if kind == "udp":
                    # UDP may refuse everything but queries with RC 4 before looking at the opcode.
                    self.assertIn(resp.rc, (h.RC.OPERATION_NOT_SUPPORTED, h.RC.PROTOCOL_ERROR), describe(resp))
                else:
                    self.rc(resp, h.RC.OPERATION_NOT_SUPPORTED, "opcode 9999")

    def test_not_found_every_transport(self):
        for kind in kinds("udp", "tcp", "http", "https"):
            with self.subTest(transport=kind):
                self.rc(client(kind).resolve(handle_name("no-such-handle")), h.RC.HANDLE_NOT_FOUND)

    def test_invalid_handle(self):
        c = client("tcp", admin())
        for bad in (f"{ARGS.prefix}/", "", f"{ARGS.prefix}/" + "x" * 3000):
            with self.subTest(handle=bad[:20]):
                resp = c.create(bad, sample_values("bad"))
                self.rc(resp, h.RC.INVALID_HANDLE, f"create {bad[:20]!r}")
        self.rc(client("udp").resolve(f"{ARGS.prefix}/"), h.RC.INVALID_HANDLE, "resolve an empty suffix")

    def test_values_not_found_on_remove(self):
        handle = handle_name("rm-missing")
        self.create_native(handle, sample_values("rm"))
        self.rc(client("tcp", admin()).remove_values(handle, [77]), h.RC.VALUES_NOT_FOUND)

    def test_invalid_value(self):
        c = client("tcp", admin())
        values = sample_values("idx0") + [h.text_value(0, "URL", "index zero")]
        self.rc(c.create(handle_name("idx0"), values), h.RC.INVALID_VALUE, "value index 0")
        dup = sample_values("dup") + [h.text_value(1, "URL", "duplicate index")]
        self.rc(c.create(handle_name("dup"), dup), h.RC.INVALID_VALUE, "duplicate index")

    def test_server_not_responsible(self):
        for kind in kinds("udp", "tcp"):
            with self.subTest(transport=kind):
                resp = self.rc(client(kind).resolve("99.999/not-here"), h.RC.SERVER_NOT_RESP)
                self.assertTrue(resp.message, "RC 301 should say why")

    def test_insufficient_permissions_read_only_value(self):
        handle = handle_name("readonly")
        self.create_native(handle, [h.admin_value(100, h.PERM_ALL, admin().handle, admin().index),
                                    h.text_value(1, "URL", "https://example.org/ro",
                                                 permissions=h.VALUE_ADMIN_READ | h.VALUE_PUBLIC_READ)])
        resp = client("tcp", admin()).modify_values(handle, [h.text_value(1, "URL", "https://example.org/rw")])
        self.rc(resp, h.RC.INSUFFICIENT_PERMISSIONS, "modify a value without admin write")

    def test_insufficient_permissions_unreadable_value(self):
        handle = handle_name("noread")
        self.create_native(handle, [h.admin_value(100, h.PERM_ALL, admin().handle, admin().index),
                                    h.text_value(1, "URL", "https://example.org/hidden", permissions=0)])
        self.rc(client("tcp").resolve(handle, flags=h.FLAG_REC | h.FLAG_CA), h.RC.INSUFFICIENT_PERMISSIONS,
                "resolve a value with neither public nor admin read, without PO")

    def test_authentication_failed(self):
        c = client("tcp", h.SecretKeyIdentity(admin().handle, admin().index, b"not-the-secret"))
        self.rc(c.create(handle_name("wrongpw"), sample_values("x")), h.RC.AUTHENTICATION_FAILED)
        c = client("tcp", h.SecretKeyIdentity(handle_name("no-such-identity"), 300, b"x"))
        resp = c.create(handle_name("noid"), sample_values("x"))
        self.assertIn(resp.rc, (h.RC.AUTHENTICATION_FAILED, h.RC.INVALID_CREDENTIAL, h.RC.HANDLE_NOT_FOUND),
                      f"unknown identity: {describe(resp)}")

    def test_answer_to_unknown_session(self):
        c = client("tcp")
        body = h.body_challenge_answer("HS_SECKEY", admin().handle, admin().index, b"\x02" + bytes(20))
        resp = c.send(c.message(h.OC.RESPONSE_TO_CHALLENGE, body, session_id=0x7FFF1234))
        self.assertIn(resp.rc, (h.RC.AUTHEN_TIMEOUT, h.RC.AUTHEN_ERROR, h.RC.SESSION_FAILED,
                                h.RC.INVALID_CREDENTIAL, h.RC.AUTHENTICATION_FAILED),
                      f"OC 200 for a session that does not exist: {describe(resp)}")
        print(f"  (OC 200 for an unknown session answered {describe(resp)})")

    def test_answer_reused(self):
        """A challenge can be answered once; the second answer finds no pending request."""
        c = client("tcp")
        msg = c.message(h.OC.CREATE_HANDLE, h.body_values(handle_name("reuse"), sample_values("reuse")))
        challenge = self.rc(c.send(msg), h.RC.AUTHENTICATION_NEEDED)
        self.ok(c.answer(msg, challenge, admin()))
        again = c.answer(msg, challenge, admin())
        self.assertNotEqual(again.rc, h.RC.SUCCESS, "a challenge answered twice must not run the request twice")


class CrossInterfaceTests(Base):
    def test_rest_created_reads_back_natively(self):
        handle = handle_name("from-rest")
        values = [native_to_rest(v) for v in sample_values("from-rest")]
        status, body = rest("PUT", rest_path(handle) + "?overwrite=false", {"values": values})
        self.assertIn(status, (200, 201), body)
        status, record = rest("GET", rest_path(handle))
        self.assertEqual(status, 200, record)
        expected = {v["index"]: (v["type"], rest_value_bytes(v), v["ttl"], rest_perms(v), iso_to_epoch(v["timestamp"]))
                    for v in record["values"]}
        for kind in kinds("udp", "tcp", "http", "https"):
            with self.subTest(transport=kind):
                resp = self.ok(client(kind).resolve(handle))
                got = {v.index: (v.type, v.data, v.ttl, v.permissions, v.timestamp) for v in resp.values}
                self.assertEqual(got, expected)

    def test_native_created_reads_back_over_rest(self):
        handle = handle_name("from-native")
        values = sample_values("from-native")
        self.create_native(handle, values, "tcp")
        status, record = rest("GET", rest_path(handle))
        self.assertEqual(status, 200, record)
        got = {v["index"]: (v["type"], rest_value_bytes(v), v["ttl"], rest_perms(v)) for v in record["values"]}
        want = {v.index: (v.type, v.data, v.ttl, v.permissions) for v in values}
        self.assertEqual(got, want)
        native = self.ok(client("udp").resolve(handle))
        self.assertEqual({v.index: v.timestamp for v in native.values},
                         {v["index"]: iso_to_epoch(v["timestamp"]) for v in record["values"]})

    def test_native_delete_visible_over_rest(self):
        handle = handle_name("del-cross")
        self.create_native(handle, sample_values("del-cross"))
        self.ok(client("tcp", admin()).delete(handle))
        status, _ = rest("GET", rest_path(handle))
        self.assertEqual(status, 404)


# ---------------------------------------------------------------------------------------------


# Where idnode knowingly or not yet follows the protocol reference, by test name: the test still runs
# and must still fail (an unexpected success fails the run, so that the list stays true).
KNOWN_DIFFERENCES: dict[str, str] = {
    # None at present: slashless handles (§1), the IDIS login's session id on later requests
    # (§13) and RC 401 for values nobody may read (§4) are served like the reference.
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--udp", help="native UDP host:port")
    p.add_argument("--tcp", help="native TCP host:port")
    p.add_argument("--handle", help="sets both --udp and --tcp")
    p.add_argument("--http", help="HTTP base URL (the tunnel)")
    p.add_argument("--https", help="HTTPS base URL (the tunnel and the REST API)")
    p.add_argument("--cert", help="the node's TLS certificate (PEM)")
    p.add_argument("--admin", default="300:88.118.8/ADMIN", help="administrator identity index:handle")
    p.add_argument("--admin-secret-file", type=Path)
    p.add_argument("--admin-secret")
    p.add_argument("--prefix", default="88.118.8")
    p.add_argument("--idnode", help="the idnode binary, to start a second node with low quotas, "
                                    "a 1 s challenge timeout and the administrator as server administrator")
    p.add_argument("--offline", action="store_true", help="also run the offline checks (test_offline.py)")
    p.add_argument("--skip-live", default="", help="skip the live tests, printing this reason")
    p.add_argument("-k", dest="pattern", action="append", help="only tests whose id contains this")
    p.add_argument("-v", dest="verbose", action="store_true")
    args = p.parse_args(argv)
    if args.handle:
        args.udp = args.udp or args.handle
        args.tcp = args.tcp or args.handle
    if args.admin_secret_file:
        args.secret = args.admin_secret_file.read_text(encoding="utf-8").rstrip("\n").encode()
    else:
        args.secret = (args.admin_secret or "").encode()
    return args


class Result(unittest.TextTestResult):
    def addSuccess(self, test):
        super().addSuccess(test)
        print(f"ok      {test.id().split('.', 1)[-1]}", flush=True)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        print(f"FAIL    {test.id().split('.', 1)[-1]}: {str(err[1]).splitlines()[0][:300]}", flush=True)

    def addError(self, test, err):
        super().addError(test, err)
        print(f"ERROR   {test.id().split('.', 1)[-1]}: {err[0].__name__}: {str(err[1])[:300]}", flush=True)

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            print(f"FAIL    {subtest.id().split('.', 1)[-1]}: {str(err[1]).splitlines()[0][:300]}", flush=True)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        name = test.id().split(".", 1)[-1]
        print(f"known   {name}: {KNOWN_DIFFERENCES.get(name, '')}", flush=True)

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        print(f"FAIL    {test.id().split('.', 1)[-1]}: passes now; remove it from KNOWN_DIFFERENCES", flush=True)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        print(f"skip    {test.id().split('.', 1)[-1]}: {reason}", flush=True)


def flatten(suite):
    for test in suite:
        yield from (flatten(test) if isinstance(test, unittest.TestSuite) else [test])


def main(argv: list[str]) -> int:
    global ARGS
    ARGS = parse_args(argv)
    loader = unittest.defaultTestLoader
    suite = unittest.TestSuite()
    if ARGS.offline:
        import test_offline

        suite.addTests(loader.loadTestsFromModule(test_offline))
    live = [SiteInfoTests, ResolutionTests, MultiPacketTests, AdminOperationTests, RsaIdentityTests,
            VerifyChallengeTests, LoginTests, UserTests, ListAndHomeTests, PipelineTests, ErrorTests,
            CrossInterfaceTests, ConfiguredNodeTests]
    if ARGS.skip_live:
        print(f"live tests skipped: {ARGS.skip_live}")
    elif not (ARGS.udp and ARGS.tcp and ARGS.https and ARGS.secret):
        print("live tests need --udp/--tcp (or --handle), --https, --cert and the admin secret")
        return 2
    else:
        for cls in live:
            suite.addTests(loader.loadTestsFromTestCase(cls))
    if ARGS.pattern:
        suite = unittest.TestSuite(t for t in flatten(suite) if any(p in t.id() for p in ARGS.pattern))
    for test in flatten(suite):
        name = test.id().split(".", 1)[-1]
        if name in KNOWN_DIFFERENCES:
            # What unittest.expectedFailure sets, on this test instance only.
            setattr(test, "__unittest_expecting_failure__", True)
    runner = unittest.TextTestRunner(stream=open(os.devnull, "w"), resultclass=Result, verbosity=0)
    result = runner.run(suite)
    for test, trace in result.failures + result.errors:
        print(f"\n---- {test.id().split('.', 1)[-1]}\n{trace.rstrip()}")
    failed_ids = {getattr(t, "test_case", t).id() for t, _ in result.failures + result.errors}
    failed_ids |= {t.id() for t in result.unexpectedSuccesses}
    failed = len(failed_ids)
    known = len(result.expectedFailures)
    skipped = len(result.skipped) + known
    passed = result.testsRun - failed - skipped
    if known:
        print(f"{known} known differences from the protocol reference (counted as skipped), listed above")
    print(f"native: {passed} passed, {failed} failed, {skipped} skipped")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
