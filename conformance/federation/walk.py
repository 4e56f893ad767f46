"""An independent implementation of the Handle client algorithm (handle-protocol.md §8.1), for
the federation suite: from the root sites, find the service of a handle and ask it.

For `P/S`: resolve `0.NA/P` at the roots (handles starting with `0.` or without a slash are
asked there), following RC 303 prefix referrals down the derived-prefix chain; the sites are
the HS_SITE values plus those of every HS_SERV handle; inside a site the server is chosen by
the MD5 rule of §8.3; RC 301 moves on to the next site; RC 302 resends the request to the
referred sites. Over `udp` (with the TCP fallback of truncated answers), `tcp`, or `http`,
where the same walk follows the REST API's JSON referrals to each site's HTTP interface.

It shares only the message codec with the rest of conformance/native and none of idnode's code.
"""

from __future__ import annotations

import hashlib
import json
import struct
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "native"))
import hdlclient as h  # noqa: E402

PROTO_UDP, PROTO_TCP, PROTO_HTTP = 0, 1, 2
SERVICE_TYPES = ["HS_SITE", "HS_SITE.6", "HS_SERV", "HS_NAMESPACE"]


class WalkError(Exception):
    """The walk ended without an answer (a loop, a dead service, an unknown prefix)."""


def server_index(site: dict, handle: str) -> int:
    """The server of `site` that answers for `handle` (§8.3, with the errata)."""
    servers = site["servers"]
    if len(servers) == 1:
        return 0
    prefix, slash, suffix = handle.partition("/")
    option = site["hash_option"]
    part = {0: prefix if slash else "0.NA", 1: suffix if slash else handle, 2: handle}[option]
    digest = hashlib.md5(part.upper().encode()).digest()
    value = struct.unpack(">i", digest[12:16])[0]
    if value == -(2 ** 31):
        raise WalkError("the handle hashes to no server")
    return abs(value) % len(servers)


def sites_of(values, kinds: tuple[str, ...]) -> list[dict]:
    return [h.parse_site_info(v.data) for v in values if v.type in kinds]


class Walker:
    def __init__(self, roots: list[dict], proto: str = "udp", max_referrals: int = 10):
        self.roots = roots
        self.proto = proto
        self.max_referrals = max_referrals
        self.asked: list[tuple[str, str]] = []

    # -- one exchange -------------------------------------------------------------------

    def _address(self, site: dict, handle: str, protocol: int) -> tuple[str, int] | None:
        server = site["servers"][server_index(site, handle)]
        for _kind, proto, port in server["interfaces"]:
            if proto == protocol:
                return server["address"], port
        return None

    def _ask_native(self, site: dict, handle: str, types: list[str]) -> h.Response | None:
        protocol = PROTO_UDP if self.proto == "udp" else PROTO_TCP
        address = self._address(site, handle, protocol)
        if address is None:
            return None
        transport = (h.UdpTransport(*address, timeouts=(0.5, 1.0)) if protocol == PROTO_UDP
                     else h.TcpTransport(*address, timeout=5.0))
        self.asked.append((f"{address[0]}:{address[1]}", handle))
        try:
            return h.Client(transport).resolve(handle, types=types or None, flags=h.FLAG_PO)
        except (h.TransportError, OSError):
            return None
        finally:
            transport.close()

    def _ask_http(self, site: dict, handle: str, types: list[str]) -> tuple[int, dict] | None:
        address = self._address(site, handle, PROTO_HTTP)
        if address is None:
            return None
        query = "&".join(f"type={urllib.parse.quote(t)}" for t in types)
        url = f"http://{address[0]}:{address[1]}/api/handles/{urllib.parse.quote(handle, safe='/')}"
        if query:
            url += "?" + query
        self.asked.append((f"{address[0]}:{address[1]}", handle))
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return resp.status, json.load(resp)
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")
        except OSError:
            return None

    def _ask(self, site: dict, handle: str, types: list[str]) -> tuple[int, list, str]:
        """(response code, values, referral handle), or (0, [], '') when the site failed."""
        if self.proto == "http":
            got = self._ask_http(site, handle, types)
            if got is None:
                return 0, [], ""
            _status, body = got
            values = [json_value(v) for v in body.get("values", [])]
            return body.get("responseCode", 0), values, body.get("referralHandle", "")
        resp = self._ask_native(site, handle, types)
        if resp is None:
            return 0, [], ""
        return resp.rc, resp.values or [], resp.handle or ""

    # -- the algorithm ------------------------------------------------------------------

    def service_of(self, handle: str, depth: int = 0) -> list[dict]:
        if not "/" in handle or handle.startswith("0."):
            return self.roots
        if depth > 6:
            raise WalkError("service lookups nest too deeply")
        prefix = handle.split("/", 1)[0]
        rc, values, _ = self.ask_service(self.roots, f"0.NA/{prefix}", SERVICE_TYPES, depth + 1)
        if rc == h.RC.HANDLE_NOT_FOUND:
            raise WalkError(f"prefix {prefix} is not registered")
        if rc != h.RC.SUCCESS:
            raise WalkError(f"0.NA/{prefix}: RC {rc}")
        sites = sites_of(values, ("HS_SITE", "HS_SITE.6"))
        for value in values:
            if value.type == "HS_SERV":
                service = value.data.decode()
                at = self.service_of(service, depth + 1)
                rc, named, _ = self.ask_service(at, service, SERVICE_TYPES, depth + 1)
                sites += sites_of(named, ("HS_SITE", "HS_SITE.6"))
        if not sites:
            raise WalkError(f"0.NA/{prefix} names no site")
        return sites

    def ask_service(self, sites: list[dict], handle: str, types: list[str], depth: int = 0):
        visited: set = set()
        for _ in range(self.max_referrals + 1):
            key = tuple(sorted((s["address"], tuple(s["interfaces"])) for site in sites for s in site["servers"]))
            if key in visited:
                raise WalkError("a referral leads back to sites already asked")
            visited.add(key)
            answer = None
            for site in sites:
                rc, values, referral = self._ask(site, handle, types)
                if rc in (0, h.RC.SERVER_NOT_RESP, h.RC.SERVER_TOO_BUSY, h.RC.ERROR):
                    continue
                answer = (rc, values, referral)
                break
            if answer is None:
                raise WalkError(f"no site answered for {handle}")
            rc, values, referral = answer
            prefix_query = handle.upper().startswith("0.NA/") or "/" not in handle
            if rc == h.RC.SERVICE_REFERRAL:
                kinds = ("HS_SITE", "HS_SITE.6")
            elif rc == h.RC.PREFIX_REFERRAL and prefix_query:
                kinds = ("HS_SITE.PREFIX", "HS_SITE.PREFIX.6")
            else:
                return answer
            sites = sites_of(values, kinds)
            if not sites and referral:
                at = self.service_of(referral, depth + 1)
                _rc, named, _ = self.ask_service(at, referral, SERVICE_TYPES, depth + 1)
                sites = sites_of(named, ("HS_SITE", "HS_SITE.6") + kinds)
            if not sites:
                raise WalkError(f"a referral for {handle} names no site")
        raise WalkError("too many referrals")

    def resolve(self, handle: str, types: list[str] | None = None):
        """(response code, values) of `handle` at the service responsible for it."""
        rc, values, _ = self.ask_service(self.service_of(handle), handle, types or [])
        return rc, values


def json_value(v: dict) -> h.HandleValue:
    """A REST JSON value as a HandleValue (site data from its binary or JSON form)."""
    data = v.get("data", {})
    fmt, value = data.get("format"), data.get("value")
    if fmt == "site":
        raw = site_json_to_bytes(value)
    elif fmt == "base64":
        import base64
        raw = base64.b64decode(value)
    else:
        raw = str(value).encode()
    return h.HandleValue(index=v["index"], type=v["type"], data=raw)


def site_json_to_bytes(site: dict) -> bytes:
    """Encodes the REST API's JSON site information as the binary record (§7.4)."""
    import socket
    out = h.w_u16(site.get("version", 1))
    major, minor = (int(x) for x in site.get("protocolVersion", "2.11").split("."))
    out += h.w_u8(major) + h.w_u8(minor) + h.w_u16(site.get("serialNumber", 1))
    out += h.w_u8((0x80 if site.get("primarySite") else 0) | (0x40 if site.get("multiPrimary") else 0))
    out += h.w_u8(site.get("hashOption", 0)) + h.w_str(site.get("hashFilter", ""))
    attributes = site.get("attributes", [])
    out += h.w_u32(len(attributes))
    for a in attributes:
        out += h.w_str(a["name"]) + h.w_str(a["value"])
    servers = site.get("servers", [])
    out += h.w_u32(len(servers))
    for s in servers:
        out += h.w_u32(s.get("serverId", 1))
        addr = s["address"]
        packed = (bytes(12) + socket.inet_pton(socket.AF_INET, addr) if ":" not in addr
                  else socket.inet_pton(socket.AF_INET6, addr))
        out += packed + h.w_bytes(b"")
        interfaces = s.get("interfaces", [])
        out += h.w_u32(len(interfaces))
        for i in interfaces:
            kind = (0x02 if i.get("query") else 0) | (0x01 if i.get("admin") else 0)
            proto = {"UDP": 0, "TCP": 1, "HTTP": 2, "HTTPS": 3}[i["protocol"]]
            out += h.w_u8(kind) + h.w_u8(proto) + h.w_u32(i["port"])
    return out
