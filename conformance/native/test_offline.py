#!/usr/bin/env python3
"""Offline checks of hdlclient against the captured Handle.Net exchanges (no server needed).

For every capture in conformance/vectors/handle-native/:

* decode: every message (UDP fragments reassembled) decodes, re-encodes to the same bytes, and its
  fields agree with the capture's own `decoded` section (apart from the fields listed in
  KNOWN_WRONG_DECODED, each with its reason); request digests in challenges and RD responses equal
  the digest computed over the preceding request; HS_SIGNED credentials verify with the capturing
  server's public key;
* replay: the same operation is driven through hdlclient's Client and its real transport code, with
  a fake socket that serves the captured server bytes, and every byte the client writes must equal
  the captured client bytes. The random inputs (request ids, expirations, PBKDF2 salts) are taken
  from the capture; nonces and digests come from the captured challenges. The HTTP captures also
  check the HTTP/1.1 request framing byte for byte.

Plus the worked examples of the protocol reference (§14) and decoder robustness on mangled input.
Prints `N passed, M failed` last; exits non-zero on any failure.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import socket
import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import hdlclient as h  # noqa: E402

VECTORS = HERE.parent / "vectors" / "handle-native"
SEED = json.loads((VECTORS / "seed.json").read_text(encoding="utf-8"))
SECRETS = {ident: info["secret"].encode() for ident, info in SEED["identities"].items() if "secret" in info}

# Fields of the captures' `decoded` sections that the capture tool got wrong, by (file, message).
KNOWN_WRONG_DECODED = {
    ("tcp-verify-challenge", 0): {"body.orig_digest", "body.signed_response", "body.unparsed_body_bytes"},
    ("tcp-verify-challenge-invalid", 0): {"body.orig_digest", "body.signed_response", "body.unparsed_body_bytes"},
    # The capture tool decoded only the first datagram of these multi-packet responses.
    ("udp-resolve-multi-packet", 1): {"body.decode_error"},
    ("udp-resolve-certified", 1): {"credential.signature_len"},
    ("tcp-create-seckey-default-client-session", 1): {"credential.signature_len"},
    ("tcp-resolve-authenticated-read-session", 3): {"credential.signature_len"},
}
REASONS = {
    "tcp-verify-challenge": "the capture tool read CNRI's length-prefixed digest as algorithm 0",
    "udp-resolve-multi-packet": "the capture tool saw only the first datagram",
    "udp-resolve-certified": "the capture tool saw only the first datagram",
}


def load(name: str) -> dict:
    return json.loads((VECTORS / f"{name}.json").read_text(encoding="utf-8"))


def capture_names() -> list[str]:
    return sorted(p.stem for p in VECTORS.glob("*.json") if p.stem != "seed")


def native_bytes(m: dict) -> bytes:
    raw = bytes.fromhex(m["hex"])
    return raw[m["body_offset"]:] if "body_offset" in m else raw


def units(d: dict) -> list[tuple[int, dict, bytes]]:
    """Whole messages of a capture: (position of the first part, its entry, whole message bytes)."""
    out = []
    assembler: h.UdpReassembler | None = None
    start = 0
    for i, m in enumerate(d["messages"]):
        raw = native_bytes(m)
        env = h.Envelope.decode(raw)
        multi = m["transport"] == "udp" and env.flags & h.ENV_TC
        if not multi:
            out.append((i, m, raw))
            continue
        if env.sequence == 0:
            assembler, start = h.UdpReassembler(), i
        assert assembler is not None
        whole = assembler.add(raw)
        if whole is not None:
            out.append((start, d["messages"][start], whole))
            assembler = None
    return out


def value_from_decoded(v: dict) -> h.HandleValue:
    """A HandleValue built from the capture tool's decoding (text, or hex for binary data)."""
    text = v["data"].encode("utf-8")
    data = text if len(text) == v["data_len"] else bytes.fromhex(v["data"])
    return h.HandleValue(v["index"], v["type"], data, v["ttl"], v["ttl_type"], v["timestamp"],
                         int(v["permissions"], 16), [(r["handle"], r["index"]) for r in v["refs"]])


def shape(msg: h.Message, raw_len: int) -> dict:
    """My decoding of a message, in the shape of the captures' `decoded` sections."""
    out: dict = {"envelope": {
        "version": f"{msg.major}.{msg.minor}", "suggested_version": f"{msg.suggested_major}.{msg.suggested_minor}",
        "CP": bool(msg.env_flags & h.ENV_CP), "EC": bool(msg.env_flags & h.ENV_EC),
        "session_id": msg.session_id, "request_id": msg.request_id, "sequence": msg.sequence,
        "message_length": raw_len - h.ENVELOPE_LEN}}
    if msg.encrypted is not None:
        out["encrypted"] = True
        return out
    out["header"] = {"opcode": msg.opcode, "rc": msg.rc, "opflags": f"0x{msg.flags:08x}",
                     "site_serial": msg.site_serial - 0x10000 if msg.site_serial >= 0x8000 else msg.site_serial,
                     "recursion": msg.recursion, "expiration": msg.expiration, "body_length": len(msg.body),
                     "flags": msg.flag_names}
    out["credential_length"] = len(msg.credential)
    if msg.credential:
        cred = h.Credential.decode(msg.credential)
        out["credential"] = {"type": cred.type, "signer_handle": cred.signer_handle,
                             "signer_index": cred.signer_index, "digest_alg": cred.digest_alg,
                             "signature_len": len(cred.signature)}
    body: dict = {}
    if msg.rc == 0:
        req = h.parse_request_body(msg)
        body["unparsed_body_bytes"] = len(req.pop("trailing"))
        if msg.opcode == h.OC.RESPONSE_TO_CHALLENGE:
            answer = req.pop("answer")
            body.update(req)
            body["challenge_response_len"] = len(answer)
            if req["auth_type"] == "HS_SECKEY":
                body["mac_alg"] = answer[0]
                if answer[0] == h.SECKEY_PBKDF2:
                    r = h.Reader(answer, 1)
                    body["pbkdf2"] = {"salt": r.bytes_().hex(), "iterations": r.u32(),
                                      "key_length_bits": r.u32(), "hmac": r.bytes_().hex()}
                else:
                    body["mac"] = answer[1:].hex()
            else:
                r = h.Reader(answer)
                body["sig_hash_alg"] = r.string()
                body["signature_len"] = len(r.bytes_())
        elif msg.opcode == h.OC.SESSION_SETUP:
            body.update({"key_exchange_mode": req["mode"], "timeout": req["timeout"],
                         "identity_handle": req["identity_handle"], "identity_index": req["identity_index"]})
            if "public_key" in req:
                body["exchange_public_key_len"] = len(req["public_key"])
        elif msg.opcode == h.OC.VERIFY_CHALLENGE:
            body.update({"handle": req["handle"], "index": req["index"], "nonce": req["nonce"].hex()})
        else:
            body.update(req)
    else:
        resp = h.parse_response(msg)
        body["unparsed_body_bytes"] = len(resp.trailing)
        if resp.digest is not None:
            body["request_digest"] = {"alg": resp.digest_alg, "digest": resp.digest.hex()}
        for name in ("handle", "values", "handles"):
            if getattr(resp, name) is not None:
                body[name] = getattr(resp, name)
        if resp.nonce is not None:
            body["nonce"] = resp.nonce.hex()
        if msg.rc not in h.ERROR_FREE_RCS:
            body["message"] = resp.message
        if resp.valid is not None:
            body["valid"] = int(resp.valid)
        if resp.site_info is not None:
            body["siteinfo_bytes"] = len(resp.site_info)
        if resp.session_mode is not None:
            body["key_exchange_mode"] = resp.session_mode
            body["exchange_data_len"] = len(resp.session_data or b"")
    out["body"] = body
    return out


def compare(expected, actual, path: str, skip: set[str], problems: list[str]) -> None:
    if path in skip:
        return
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            problems.append(f"{path}: expected an object, got {actual!r}")
            return
        for key, value in expected.items():
            if key in ("rc_name", "op", "TC"):
                continue
            if key == "encrypted":
                if actual.get("encrypted") is not True:
                    problems.append(f"{path}: the capture says encrypted, my decoding does not")
                continue
            sub = f"{path}.{key}" if path else key
            if sub in skip:
                continue
            if key not in actual:
                problems.append(f"{sub}: missing in my decoding (capture: {str(value)[:80]})")
                continue
            compare(value, actual[key], sub, skip, problems)
    elif isinstance(expected, list) and isinstance(actual, list) and actual and isinstance(actual[0], h.HandleValue):
        if len(expected) != len(actual):
            problems.append(f"{path}: {len(expected)} values in the capture, {len(actual)} decoded")
            return
        for i, (e, a) in enumerate(zip(expected, actual)):
            if value_from_decoded(e) != a:
                problems.append(f"{path}[{i}]: {e} != {a}")
    elif expected != actual:
        problems.append(f"{path}: capture {str(expected)[:100]!r}, decoded {str(actual)[:100]!r}")


def server_public_key():
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    return load_pem_public_key(SEED["server"]["public_key"]["pem"].encode())


def rsa_private_key():
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    pem = SEED["identities"]["300:88.118.8/RSAADMIN"]["private_key_pkcs8_pem_test_only"]
    return load_pem_private_key(pem.encode(), password=None)


# ---------------------------------------------------------------------------------------------
# Replay: fake sockets serving captured bytes


class Script:
    """The capture as a conversation: client bytes to expect, server bytes released after each."""

    def __init__(self, d: dict, ignore: dict[int, list[tuple[int, int]]] | None = None):
        self.entries = [(m["direction"], bytes.fromhex(m["hex"]), i) for i, m in enumerate(d["messages"])]
        self.pos = 0
        self.readable: list[bytes] = []
        self.problems: list[str] = []
        self.ignore = ignore or {}
        self.release()

    def release(self) -> None:
        while self.pos < len(self.entries) and self.entries[self.pos][0] == "server->client":
            self.readable.append(self.entries[self.pos][1])
            self.pos += 1

    def expect(self, sent: bytes) -> None:
        if self.pos >= len(self.entries):
            self.problems.append(f"client sent {len(sent)} bytes more than the capture holds")
            return
        _, want, index = self.entries[self.pos]
        a, b = bytearray(sent), bytearray(want)
        for lo, hi in self.ignore.get(index, []):
            lo, hi = lo % len(b) if lo < 0 else lo, hi % len(b) if hi < 0 else hi
            if len(a) == len(b):
                a[lo:hi] = b[lo:hi]
        if a != b:
            first = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), min(len(a), len(b)))
            self.problems.append(f"message {index}: client bytes differ at offset {first} "
                                 f"(sent {len(sent)} bytes, captured {len(want)}):\n"
                                 f"  sent     {bytes(a[max(0, first - 8):first + 24]).hex()}\n"
                                 f"  captured {bytes(b[max(0, first - 8):first + 24]).hex()}")
        self.pos += 1
        self.release()

    def done(self) -> bool:
        return self.pos >= len(self.entries) and not self.readable


class FakeTcpSocket:
    def __init__(self, script: Script):
        self.script = script

    def sendall(self, data: bytes) -> None:
        self.script.expect(data)

    def recv(self, n: int) -> bytes:
        if not self.script.readable:
            raise AssertionError("the client waits for bytes the capture does not have")
        return self.script.readable.pop(0)

    def close(self) -> None:
        pass


class FakeUdpSocket(FakeTcpSocket):
    def send(self, data: bytes) -> None:
        self.script.expect(data)

    def recv(self, n: int) -> bytes:
        if not self.script.readable:
            raise socket.timeout()
        return self.script.readable.pop(0)

    def settimeout(self, _t) -> None:
        pass


class ReplayHttp(h.HttpTransport):
    """The HTTP tunnel with the POST replaced by the capture: checks the whole HTTP request."""

    def __init__(self, script: Script):
        super().__init__("http://127.0.0.1:8052")
        self.script = script

    def post(self, handle: str, payload: bytes):
        self.script.expect(h.http_request_bytes(self.host_header, handle, payload))
        if not self.script.readable:
            raise AssertionError("no captured HTTP answer")
        return h.parse_http_response(self.script.readable.pop(0))


def replay_client(d: dict, transport, version=(2, 11)) -> h.Client:
    """A client whose request ids and expirations are the captured ones, in order."""
    requests = [h.decode_message(native_bytes(m)) for m in d["messages"]
                if m["direction"] == "client->server" and h.Envelope.decode(native_bytes(m)).sequence == 0]
    ids = [m.request_id for m in requests]
    expirations = [m.expiration for m in requests]
    serial = requests[0].site_serial
    client = h.Client(transport, version=version, site_serial=serial)
    client.new_request_id = lambda: ids.pop(0)
    client.expiration = lambda: expirations.pop(0)
    return client


def first_request(d: dict) -> dict:
    """The capture tool's decoding of the first client message body."""
    return d["messages"][0]["decoded"]["body"]


def salts(d: dict) -> list[bytes]:
    out = []
    for m in d["messages"]:
        b = (m.get("decoded") or {}).get("body") or {}
        if "pbkdf2" in b:
            out.append(bytes.fromhex(b["pbkdf2"]["salt"]))
    return out


def seckey(ident: str, d: dict, mode: str = "pbkdf2", secret: bytes | None = None) -> h.SecretKeyIdentity:
    index, _, handle = ident.partition(":")
    return h.SecretKeyIdentity(handle, int(index), secret or SECRETS[ident], mode, salts=salts(d))


def values(body: dict) -> list[h.HandleValue]:
    return [value_from_decoded(v) for v in body["values"]]


ADMIN = "300:88.118.8/ADMIN"
USER1 = "300:88.118.8/USER1"


def scenario(name: str, c: h.Client, d: dict) -> list[h.Response]:
    """Drives the operation the capture shows; returns the final responses."""
    b = first_request(d) if d["messages"][0]["decoded"] else {}
    if name.endswith("get-site-info"):
        return [c.site_info()]
    if name in ("udp-resolve-all", "tcp-resolve-all", "http-resolve-all", "udp-resolve-compat-version",
                "udp-resolve-handle-not-found", "udp-resolve-multi-packet", "tcp-resolve-prefix-handle",
                "tcp-error-server-not-responsible"):
        return [c.resolve(b["handle"])]
    if name == "udp-resolve-authoritative":
        return [c.resolve(b["handle"], flags=h.DEFAULT_FLAGS | h.FLAG_AT)]
    if name == "udp-resolve-certified":
        return [c.resolve(b["handle"], flags=h.DEFAULT_FLAGS | h.FLAG_CT)]
    if name == "udp-resolve-request-digest":
        return [c.resolve(b["handle"], flags=h.DEFAULT_FLAGS | h.FLAG_RD)]
    if name in ("udp-resolve-index-filter", "udp-resolve-type-filter", "udp-resolve-values-not-found"):
        return [c.resolve(b["handle"], b["indexes"], b["types"])]
    if name == "tcp-resolve-authenticated-read":
        return [c.resolve(b["handle"], flags=h.FLAG_REC | h.FLAG_CA, identity=seckey(ADMIN, d))]
    if name == "tcp-create-seckey-sha1":
        return [c.create(b["handle"], values(b), identity=seckey(ADMIN, d, "sha1"))]
    if name in ("tcp-create-seckey-pbkdf2", "http-create-seckey", "tcp-error-handle-exists"):
        return [c.create(b["handle"], values(b), identity=seckey(ADMIN, d))]
    if name == "tcp-error-authentication-failed":
        return [c.create(b["handle"], values(b), identity=seckey(ADMIN, d, secret=b"not-the-password"))]
    if name == "tcp-error-invalid-admin":
        return [c.create(b["handle"], values(b), identity=seckey(USER1, d))]
    if name == "tcp-create-pubkey-rsa":
        return [c.create(b["handle"], values(b), identity=h.RsaIdentity("88.118.8/RSAADMIN", 300, rsa_private_key()))]
    if name == "tcp-add-value":
        return [c.add_values(b["handle"], values(b), identity=seckey(ADMIN, d))]
    if name == "tcp-modify-value" or name == "tcp-error-insufficient-permissions":
        return [c.modify_values(b["handle"], values(b), identity=seckey(ADMIN, d))]
    if name == "tcp-modify-value-by-handle-admin":
        return [c.modify_values(b["handle"], values(b), identity=seckey(USER1, d))]
    if name == "tcp-remove-value":
        return [c.remove_values(b["handle"], b["indexes"], identity=seckey(ADMIN, d))]
    if name == "tcp-delete-handle":
        return [c.delete(b["handle"], identity=seckey(ADMIN, d))]
    if name == "tcp-error-delete-without-permission":
        return [c.delete(b["handle"], identity=seckey(USER1, d))]
    if name == "tcp-list-handles":
        return [c.list_handles("88.118.8", identity=seckey(ADMIN, d))]
    if name in ("tcp-verify-challenge", "tcp-verify-challenge-invalid"):
        nonce = bytes(range(16))
        digest = hashlib.sha256(b"example request body").digest()
        good = h.seckey_answer_sha1(SECRETS[ADMIN], nonce, digest)
        answer = good
        if name.endswith("invalid"):
            captured = h.parse_request_body(h.decode_message(native_bytes(d["messages"][0])))["signed_response"]
            flipped = sum(bin(x ^ y).count("1") for x, y in zip(captured, good))
            if flipped != 1 or len(captured) != len(good):
                raise AssertionError(f"the invalid answer differs from the valid one in {flipped} bits")
            answer = captured
        return [c.verify_challenge("88.118.8/ADMIN", 300, nonce, digest, answer)]
    raise KeyError(name)


# Captures the client cannot replay, and why (they are still decoded and checked).
NOT_REPLAYED = {
    "tcp-create-seckey-default-client-session":
        "needs a Diffie-Hellman session and HS_MAC credentials made with the random session key",
    "tcp-resolve-authenticated-read-session": "the same session set-up; the last answer is session-encrypted",
}
# Byte ranges of client messages that cannot be reproduced: (message index) -> [(start, end)].
IGNORE = {
    # The answer was made with an unknown wrong password: the last 20 bytes before the credential
    # length are its MAC.
    "tcp-error-authentication-failed": {2: [(-24, -4)]},
}
EXPECTED_RC = {
    "tcp-error-authentication-failed": 403, "tcp-error-invalid-admin": 400,
    "tcp-error-delete-without-permission": 400, "tcp-error-handle-exists": 101,
    "tcp-error-insufficient-permissions": 401, "tcp-error-server-not-responsible": 301,
    "udp-resolve-handle-not-found": 100, "udp-resolve-values-not-found": 200,
}


class CaptureTests(unittest.TestCase):
    """Generated per capture: test_decode_<name> and test_replay_<name>."""

    def check_decode(self, name: str) -> None:
        d = load(name)
        problems: list[str] = []
        last_request: h.Message | None = None
        for position, m, raw in units(d):
            try:
                msg = h.decode_message(raw)
            except h.ProtocolError as exc:
                problems.append(f"message {position}: {exc}")
                continue
            if msg.encode() != raw:
                problems.append(f"message {position}: re-encoding differs")
            if m["direction"] == "client->server":
                if msg.rc != 0:
                    problems.append(f"message {position}: request with RC {msg.rc}")
                last_request = msg
            else:
                resp = h.parse_response(msg)
                if resp.digest is not None and last_request is not None:
                    want = h.compute_digest(resp.digest_alg, last_request.header_body())
                    if want != resp.digest:
                        problems.append(f"message {position}: request digest is not over the preceding request")
                if msg.credential and h.Credential.decode(msg.credential).type == "HS_SIGNED":
                    if not h.verify_signed(msg, server_public_key()):
                        problems.append(f"message {position}: HS_SIGNED credential does not verify")
                if msg.encrypted is not None and (msg.env_flags & h.ENV_EC) == 0:
                    problems.append(f"message {position}: undecodable without EC")
            expected = m.get("decoded") or {}
            skip = KNOWN_WRONG_DECODED.get((name, position), set())
            compare(expected, shape(msg, len(raw)), "", skip, problems)
        self.assertEqual(problems, [], "\n".join(problems))

    def check_replay(self, name: str) -> None:
        d = load(name)
        script = Script(d, IGNORE.get(name))
        if d["transport"] == "udp":
            transport = h.UdpTransport("127.0.0.1", 2651, sock=FakeUdpSocket(script))
        elif d["transport"] == "tcp":
            transport = h.TcpTransport("127.0.0.1", 2651, sock=FakeTcpSocket(script))
        else:
            transport = ReplayHttp(script)
        first = h.decode_message(native_bytes(d["messages"][0]))
        client = replay_client(d, transport, version=(first.major, first.minor))
        results = scenario(name, client, d)
        self.assertEqual(script.problems, [], "\n".join(script.problems))
        self.assertTrue(script.done(), f"capture not used up: stopped at message {script.pos}")
        final = results[-1]
        self.assertEqual(final.rc, EXPECTED_RC.get(name, 1))
        if name == "tcp-list-handles":
            self.assertEqual(len(final.all_handles()), 115)
            self.assertEqual(len(final.stream), 3)
        if name == "tcp-verify-challenge":
            self.assertTrue(final.valid)
        if name == "tcp-verify-challenge-invalid":
            self.assertFalse(final.valid)
        if name == "udp-resolve-certified":
            self.assertTrue(h.verify_signed(final.msg, server_public_key()))
        if name == "udp-resolve-multi-packet":
            self.assertGreater(len(final.msg.encode()), h.UDP_MAX_PAYLOAD)
        if name == "tcp-error-authentication-failed":
            answer = h.decode_message(native_bytes(d["messages"][2]))
            challenge = h.parse_response(h.decode_message(native_bytes(d["messages"][1])))
            captured = h.parse_request_body(answer)["answer"]
            self.assertFalse(h.seckey_answer_check(SECRETS[ADMIN], challenge.nonce, challenge.digest, captured))
        if d["transport"] == "http":
            # The captured HTTP requests themselves, byte for byte.
            for m in d["messages"]:
                if m["direction"] == "client->server":
                    raw = bytes.fromhex(m["hex"])
                    path = m["http_start_line"].split(" ")[1]
                    handle = h.urllib.parse.unquote(path[1:])
                    self.assertEqual(h.http_request_bytes("127.0.0.1:8052", handle, raw[m["body_offset"]:]), raw)


def _add_generated_tests() -> None:
    for name in capture_names():
        attr = name.replace("-", "_")
        setattr(CaptureTests, f"test_decode_{attr}", lambda self, n=name: self.check_decode(n))
        if name in NOT_REPLAYED:
            reason = NOT_REPLAYED[name]
            setattr(CaptureTests, f"test_replay_{attr}",
                    unittest.skip(reason)(lambda self: None))
        else:
            setattr(CaptureTests, f"test_replay_{attr}", lambda self, n=name: self.check_replay(n))


_add_generated_tests()


class AnswerTests(unittest.TestCase):
    """Challenge answers recomputed from the captured nonces and digests."""

    def challenge_and_answer(self, name: str) -> tuple[h.Response, dict]:
        d = load(name)
        msgs = [h.decode_message(raw) for _, _, raw in units(d)]
        challenge = next(h.parse_response(m) for m in msgs if m.rc == h.RC.AUTHENTICATION_NEEDED)
        answer = h.parse_request_body(next(m for m in msgs if m.opcode == h.OC.RESPONSE_TO_CHALLENGE and m.rc == 0))
        return challenge, answer

    def test_sha1_answer(self):
        challenge, answer = self.challenge_and_answer("tcp-create-seckey-sha1")
        self.assertEqual(h.seckey_answer_sha1(SECRETS[ADMIN], challenge.nonce, challenge.digest), answer["answer"])

    def test_pbkdf2_answers(self):
        for name in ("tcp-create-seckey-pbkdf2", "http-create-seckey", "tcp-add-value", "tcp-delete-handle",
                     "tcp-list-handles", "tcp-resolve-authenticated-read", "tcp-modify-value"):
            challenge, answer = self.challenge_and_answer(name)
            with self.subTest(name=name):
                self.assertTrue(h.seckey_answer_check(SECRETS[ADMIN], challenge.nonce, challenge.digest,
                                                      answer["answer"]))
                self.assertFalse(h.seckey_answer_check(b"wrong", challenge.nonce, challenge.digest,
                                                       answer["answer"]))

    def test_rsa_answer(self):
        challenge, answer = self.challenge_and_answer("tcp-create-pubkey-rsa")
        self.assertEqual(h.pubkey_answer_rsa(rsa_private_key(), challenge.nonce, challenge.digest), answer["answer"])

    def test_rsa_identity_key_encoding(self):
        info = SEED["identities"]["300:88.118.8/RSAADMIN"]
        import base64

        want = base64.b64decode(info["public_key_hs_pubkey_base64"])
        self.assertEqual(h.rsa_pubkey_data(rsa_private_key().public_key()), want)
        self.assertEqual(h.rsa_public_key(want).public_numbers(), rsa_private_key().public_key().public_numbers())

    def test_site_info(self):
        d = load("tcp-get-site-info")
        resp = h.parse_response(h.decode_message(native_bytes(d["messages"][1])))
        site = h.parse_site_info(resp.site_info)
        self.assertEqual(site["protocol"], (2, 11))
        self.assertEqual(site["serial"], 1)
        self.assertTrue(site["primary"])
        self.assertEqual(site["servers"][0]["address"], "127.0.0.1")
        self.assertEqual(site["servers"][0]["interfaces"], [(3, 1, 2651), (2, 0, 2651), (3, 2, 8051)])
        key = h.rsa_public_key(site["servers"][0]["public_key"])
        self.assertEqual(key.public_numbers(), server_public_key().public_numbers())


class WorkedExampleTests(unittest.TestCase):
    """The worked bytes of the protocol reference (§14)."""

    def test_resolution_request(self):
        msg = h.Message(h.OC.RESOLUTION, h.body_resolution("88.118.8/abc"), flags=0x19000000, site_serial=0xFFFF,
                        expiration=0x65000000, major=2, minor=10, request_id=1)
        want = bytes.fromhex("020a020b 00000000 00000001 00000000 00000034"
                             "00000001 00000000 19000000 ffff 00 00 65000000 00000018"
                             "0000000c 38382e3131382e382f616263 00000000 00000000 00000000".replace(" ", ""))
        self.assertEqual(msg.encode(), want)
        self.assertEqual(hashlib.sha256(msg.header_body()).hexdigest(),
                         "c8b6263b3179c5ef91b99fa47a4cf379d166b97b4a842166e81b3bade5fe3c9c")

    def test_values(self):
        url = h.text_value(1, "URL", "http://example.com", timestamp=0x65000000)
        self.assertEqual(url.encode().hex(), "0000000165000000000001518" "00e0000000355524c00000012"
                         "687474703a2f2f6578616d706c652e636f6d00000000")
        admin = h.admin_value(100, 0x0FFF, "0.NA/88.118.8", 200)
        admin.timestamp = 0x65000000
        self.assertEqual(admin.encode().hex(), "0000006465000000000001518" "00e0000000848535f41444d494e"
                         "000000170fff0000000d302e4e412f38382e3131382e38000000c800000000")

    def test_login(self):
        msg = h.Message(h.OC.LOGIN_ID_SYSTEM, h.body_login("88.118.8/ADMIN", 300), flags=0x00800000,
                        site_serial=0xFFFF, expiration=0x65000000)
        self.assertEqual(msg.header().hex(), "000007d1000000000080000" "0ffff000065000000" "00000016")
        self.assertEqual(msg.body.hex(), "0000000e38382e3131382e382f41444d494e0000012c")

    def test_seckey_answers(self):
        nonce = bytes(range(0x10, 0x20))
        digest = bytes.fromhex("c8b6263b3179c5ef91b99fa47a4cf379d166b97b4a842166e81b3bade5fe3c9c")
        self.assertEqual(h.seckey_answer_pbkdf2(b"pw", nonce, digest, bytes(range(16))).hex(),
                         "220000001000010203040506070809" "0a0b0c0d0e0f00002710000000a000000014"
                         "64575c5309c5a218d2debf7189b8e8402ece6562")
        self.assertEqual(h.seckey_answer_sha1(b"pw", nonce, digest).hex(),
                         "0225bd84e22b1fb2b478a3c52b52e0df2171e643e4")


class CodecTests(unittest.TestCase):
    def test_multi_packet_request_round_trip(self):
        big = [h.text_value(i, "DESC", "x" * 300) for i in range(1, 5)]
        msg = h.Message(h.OC.CREATE_HANDLE, h.body_values("88.118.8/big", big), request_id=7, expiration=1)
        datagrams = msg.udp_datagrams()
        self.assertGreater(len(datagrams), 1)
        for seq, dg in enumerate(datagrams):
            env = h.Envelope.decode(dg)
            self.assertEqual((env.sequence, env.request_id), (seq, 7))
            self.assertTrue(env.flags & h.ENV_TC)
            self.assertLessEqual(len(dg), 512)
        shuffled = datagrams[:]
        random.Random(1).shuffle(shuffled)
        assembler = h.UdpReassembler()
        whole = None
        for dg in shuffled:
            whole = assembler.add(dg)
        self.assertEqual(whole, msg.encode())

    def test_decoders_never_fail_unexpectedly(self):
        rng = random.Random(7)
        samples = [raw for name in capture_names() for _, _, raw in units(load(name))]
        for _ in range(3000):
            raw = bytearray(rng.choice(samples))
            for _ in range(rng.randint(1, 4)):
                op = rng.randint(0, 2)
                if op == 0 and raw:
                    raw[rng.randrange(len(raw))] = rng.randrange(256)
                elif op == 1:
                    del raw[rng.randrange(len(raw) + 1):]
                else:
                    raw[rng.randrange(len(raw) + 1):0] = os.urandom(rng.randint(1, 8))
            try:
                msg = h.decode_message(bytes(raw))
                if msg.rc:
                    h.parse_response(msg)
                else:
                    h.parse_request_body(msg)
            except h.ProtocolError:
                pass


class Result(unittest.TextTestResult):
    pass


def main() -> int:
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    runner = unittest.TextTestRunner(verbosity=2 if "-v" in sys.argv else 1, stream=sys.stdout)
    result = runner.run(suite)
    failed = len(result.failures) + len(result.errors)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    for test, reason in result.skipped:
        print(f"skipped {test.id().rsplit('.', 1)[-1]}: {reason}")
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
