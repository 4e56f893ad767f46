"""A Handle protocol (v2.11) client written from the protocol reference, for conformance testing.

It uses only the Python standard library, plus the `cryptography` package for RSA (HS_PUBKEY
identities), and shares no code with idnode's Rust implementation: it is the independent other side
that the node's native server is checked against.

What it covers:

* the message codec: the 20-byte envelope, the 24-byte header, the body, the credential; handle
  values, HS_ADMIN, HS_PUBKEY (RSA) and site-info data;
* request bodies for resolution (OC 1), site info (2), create/delete handle (100/101), add/remove/
  modify value (102-104), list handles (105), challenge answers (200), verify challenge (201),
  home/unhome/list homed prefixes (300-302), session setup (400, decode only) and the IDIS key login
  (2001); the response bodies of all of them, with the optional request digest (RD);
* challenge-response authentication: RC 402 answered by OC 200 with HS_SECKEY (SHA-1 construction
  `0x02` or PBKDF2-HMAC-SHA1 `0x22`) or HS_PUBKEY RSA (SHA256withRSA);
* transports: UDP with multi-packet requests and responses, persistent pipelined TCP, and the HTTP(S)
  tunnel (`POST` with `application/x-hdl-message`), each returning whole decoded messages.

Strings on the wire are UTF-8; they are decoded with `surrogateescape` so that any bytes survive a
decode/encode round trip.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import socket
import ssl
import struct
import time
import urllib.parse
from dataclasses import dataclass, field

# ---------------------------------------------------------------------------------------------
# Constants


class OC:
    """Operation codes (reference §4)."""

    RESOLUTION = 1
    GET_SITE_INFO = 2
    CREATE_HANDLE = 100
    DELETE_HANDLE = 101
    ADD_VALUE = 102
    REMOVE_VALUE = 103
    MODIFY_VALUE = 104
    LIST_HANDLES = 105
    RESPONSE_TO_CHALLENGE = 200
    VERIFY_CHALLENGE = 201
    HOME_NA = 300
    UNHOME_NA = 301
    LIST_HOMED_NAS = 302
    SESSION_SETUP = 400
    SESSION_TERMINATE = 401
    SESSION_EXCHANGEKEY = 402
    LOGIN = 2000
    LOGIN_ID_SYSTEM = 2001


class RC:
    """Response codes (reference §5)."""

    RESERVED = 0
    SUCCESS = 1
    ERROR = 2
    SERVER_TOO_BUSY = 3
    PROTOCOL_ERROR = 4
    OPERATION_NOT_SUPPORTED = 5
    RECURSION_COUNT_TOO_HIGH = 6
    SERVER_BACKUP = 7
    HANDLE_NOT_FOUND = 100
    HANDLE_ALREADY_EXISTS = 101
    INVALID_HANDLE = 102
    VALUES_NOT_FOUND = 200
    VALUE_ALREADY_EXISTS = 201
    INVALID_VALUE = 202
    OUT_OF_DATE_SITE_INFO = 300
    SERVER_NOT_RESP = 301
    SERVICE_REFERRAL = 302
    PREFIX_REFERRAL = 303
    INVALID_ADMIN = 400
    INSUFFICIENT_PERMISSIONS = 401
    AUTHENTICATION_NEEDED = 402
    AUTHENTICATION_FAILED = 403
    INVALID_CREDENTIAL = 404
    AUTHEN_TIMEOUT = 405
    AUTHEN_ERROR = 406
    RELOGIN = 407
    LOGIN_FIRST = 408
    SESSION_TIMEOUT = 500
    SESSION_FAILED = 501
    REQUEST_LIMIT_DAILY = 603
    REGISTER_COUNT_LIMIT = 604
    PREFIX_LIMIT = 605


# OpFlag bits (reference §3.3).
FLAG_AT = 0x80000000
FLAG_CT = 0x40000000
FLAG_ENC = 0x20000000
FLAG_REC = 0x10000000
FLAG_CA = 0x08000000
FLAG_CN = 0x04000000
FLAG_KA = 0x02000000
FLAG_PO = 0x01000000
FLAG_RD = 0x00800000
FLAG_OVRW = 0x00400000
FLAG_MINT = 0x00200000
FLAG_DNRF = 0x00100000
# The reference Java client's default flags: REC | CA | PO.
DEFAULT_FLAGS = FLAG_REC | FLAG_CA | FLAG_PO

# Envelope MessageFlag high-byte bits (reference §3.1).
ENV_CP = 0x80
ENV_EC = 0x40
ENV_TC = 0x20

ENVELOPE_LEN = 20
HEADER_LEN = 24
MAX_MESSAGE_LEN = 262_144
UDP_MAX_PAYLOAD = 492
MAX_ARRAY_LEN = 1_048_576
MAX_VALUES = 2048

# HS_ADMIN permission bits (reference §7.1).
PERM_ADD_HANDLE = 0x0001
PERM_DELETE_HANDLE = 0x0002
PERM_ADD_NA = 0x0004
PERM_DELETE_NA = 0x0008
PERM_MODIFY_VALUE = 0x0010
PERM_REMOVE_VALUE = 0x0020
PERM_ADD_VALUE = 0x0040
PERM_MODIFY_ADMIN = 0x0080
PERM_REMOVE_ADMIN = 0x0100
PERM_ADD_ADMIN = 0x0200
PERM_READ_VALUE = 0x0400
PERM_LIST_HANDLES = 0x0800
PERM_ALL = 0x0FFF

# Value permissions (reference §6).
VALUE_ADMIN_READ = 0x08
VALUE_ADMIN_WRITE = 0x04
VALUE_PUBLIC_READ = 0x02
VALUE_PUBLIC_WRITE = 0x01

# Request digest algorithms (reference §3.5).
DIGEST_MD5 = 1
DIGEST_SHA1 = 2
DIGEST_SHA256 = 3
DIGEST_LEN = {DIGEST_MD5: 16, DIGEST_SHA1: 20, DIGEST_SHA256: 32}

# HS_SECKEY answer codes (reference §10.3).
SECKEY_MD5 = 0x01
SECKEY_SHA1 = 0x02
SECKEY_SHA256 = 0x03
SECKEY_HMAC_SHA1 = 0x12
SECKEY_HMAC_SHA256 = 0x13
SECKEY_PBKDF2 = 0x22

RC_NAMES = {v: k for k, v in vars(RC).items() if isinstance(v, int)}
OC_NAMES = {v: k for k, v in vars(OC).items() if isinstance(v, int)}


class ProtocolError(Exception):
    """Bytes that do not form a valid message or body."""


class HandleError(Exception):
    """A response with an unexpected response code."""

    def __init__(self, response: "Response", expected: str = ""):
        self.response = response
        name = RC_NAMES.get(response.rc, "?")
        super().__init__(f"RC {response.rc} ({name}){': ' + response.message if response.message else ''}"
                         f"{' (expected ' + expected + ')' if expected else ''}")


def enc_str(text: str) -> bytes:
    """UTF-8 bytes of a string decoded with surrogateescape."""
    return text.encode("utf-8", "surrogateescape")


def dec_str(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


# ---------------------------------------------------------------------------------------------
# Primitive encoding (reference §2)


class Reader:
    """A bounds-checked big-endian reader over a byte string."""

    def __init__(self, data: bytes, offset: int = 0, end: int | None = None):
        self.data = data
        self.pos = offset
        self.end = len(data) if end is None else end

    def remaining(self) -> int:
        return self.end - self.pos

    def take(self, n: int) -> bytes:
        if n < 0 or n > self.remaining():
            raise ProtocolError(f"need {n} bytes at offset {self.pos}, {self.remaining()} left")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return struct.unpack(">H", self.take(2))[0]

    def u32(self) -> int:
        return struct.unpack(">I", self.take(4))[0]

    def i32(self) -> int:
        return struct.unpack(">i", self.take(4))[0]

    def bytes_(self) -> bytes:
        length = self.i32()
        if length < 0 or length > self.remaining():
            raise ProtocolError(f"length {length} at offset {self.pos - 4} past the end")
        return self.take(length)

    def string(self) -> str:
        return dec_str(self.bytes_())

    def count(self, min_item: int = 1) -> int:
        n = self.i32()
        if n < 0 or n > MAX_ARRAY_LEN or n * min_item > self.remaining():
            raise ProtocolError(f"count {n} at offset {self.pos - 4} past the end")
        return n

    def int_list(self) -> list[int]:
        return [self.u32() for _ in range(self.count(4))]

    def string_list(self) -> list[str]:
        return [self.string() for _ in range(self.count(4))]

    def rest(self) -> bytes:
        return self.take(self.remaining())


def w_u8(v: int) -> bytes:
    return struct.pack(">B", v & 0xFF)


def w_u16(v: int) -> bytes:
    return struct.pack(">H", v & 0xFFFF)


def w_u32(v: int) -> bytes:
    return struct.pack(">I", v & 0xFFFFFFFF)


def w_bytes(b: bytes) -> bytes:
    return w_u32(len(b)) + b


def w_str(s: str) -> bytes:
    return w_bytes(enc_str(s))


def w_int_list(items: list[int]) -> bytes:
    return w_u32(len(items)) + b"".join(w_u32(i) for i in items)


def w_str_list(items: list[str]) -> bytes:
    return w_u32(len(items)) + b"".join(w_str(s) for s in items)


def java_bigint(n: int) -> bytes:
    """Java `BigInteger.toByteArray()` of a non-negative integer: minimal, with a sign byte."""
    return n.to_bytes(n.bit_length() // 8 + 1, "big")


# ---------------------------------------------------------------------------------------------
# Handle values (reference §6, §7)


@dataclass
class HandleValue:
    """One handle value; `data` is the raw value data."""

    index: int
    type: str
    data: bytes
    ttl: int = 86400
    ttl_type: int = 0
    timestamp: int = 0
    permissions: int = VALUE_ADMIN_READ | VALUE_ADMIN_WRITE | VALUE_PUBLIC_READ
    refs: list[tuple[str, int]] = field(default_factory=list)

    def encode(self) -> bytes:
        out = w_u32(self.index) + w_u32(self.timestamp) + w_u8(self.ttl_type) + w_u32(self.ttl)
        out += w_u8(self.permissions) + w_str(self.type) + w_bytes(self.data)
        out += w_u32(len(self.refs)) + b"".join(w_str(h) + w_u32(i) for h, i in self.refs)
        return out

    @classmethod
    def decode(cls, r: Reader) -> "HandleValue":
        index = r.u32()
        timestamp = r.u32()
        ttl_type = r.u8()
        ttl = r.u32()
        perms = r.u8()
        vtype = r.string()
        data = r.bytes_()
        refs = [(r.string(), r.u32()) for _ in range(r.count(8))]
        return cls(index, vtype, data, ttl, ttl_type, timestamp, perms, refs)

    def text(self) -> str:
        return dec_str(self.data)

    def key(self) -> tuple:
        """What a client sees of the value, without the server-stamped timestamp."""
        return (self.index, self.type, self.data, self.ttl_type, self.ttl, self.permissions,
                tuple(self.refs))


def encode_values(values: list[HandleValue]) -> bytes:
    return w_u32(len(values)) + b"".join(v.encode() for v in values)


def decode_values(r: Reader) -> list[HandleValue]:
    n = r.count(22)
    if n > MAX_VALUES:
        raise ProtocolError(f"{n} values")
    return [HandleValue.decode(r) for _ in range(n)]


def admin_data(perms: int, handle: str, index: int) -> bytes:
    """HS_ADMIN data: int2 permissions + ValueRef (reference §7.1)."""
    return w_u16(perms) + w_str(handle) + w_u32(index)


def parse_admin(data: bytes) -> tuple[int, str, int]:
    r = Reader(data)
    return r.u16(), r.string(), r.u32()


def admin_value(index: int, perms: int, handle: str, admin_index: int) -> HandleValue:
    return HandleValue(index, "HS_ADMIN", admin_data(perms, handle, admin_index))


def text_value(index: int, vtype: str, text: str, **kw) -> HandleValue:
    return HandleValue(index, vtype, enc_str(text), **kw)


def rsa_pubkey_data(public_key) -> bytes:
    """HS_PUBKEY data of an RSA public key (a `cryptography` key), in the CNRI form.

    `RSA_PUB_KEY`, int2 flags 0, exponent and modulus as length-prefixed two's-complement integers,
    then the int4 0 that the CNRI encoder appends (as in the captured HS_PUBKEY values).
    """
    numbers = public_key.public_numbers()
    return (w_str("RSA_PUB_KEY") + w_u16(0) + w_bytes(java_bigint(numbers.e))
            + w_bytes(java_bigint(numbers.n)) + w_u32(0))


def parse_pubkey(data: bytes) -> dict:
    """Decodes HS_PUBKEY data into `{"type": ..., fields...}`; RSA gives integers `e` and `n`."""
    r = Reader(data)
    ktype = r.string()
    flags = r.u16()
    out: dict = {"type": ktype, "flags": flags}
    if ktype == "RSA_PUB_KEY":
        out["e"] = int.from_bytes(r.bytes_(), "big", signed=True)
        out["n"] = int.from_bytes(r.bytes_(), "big", signed=True)
    elif ktype == "DSA_PUB_KEY":
        for name in ("q", "p", "g", "y"):
            out[name] = int.from_bytes(r.bytes_(), "big", signed=True)
    elif ktype == "DH_PUB_KEY":
        for name in ("y", "p", "g"):
            out[name] = int.from_bytes(r.bytes_(), "big", signed=True)
    else:
        out["raw"] = r.rest()
    out["trailing"] = r.rest()
    return out


def rsa_public_key(data: bytes):
    """A `cryptography` RSA public key from HS_PUBKEY data."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    parsed = parse_pubkey(data)
    if parsed["type"] != "RSA_PUB_KEY":
        raise ProtocolError(f"not an RSA key: {parsed['type']}")
    return rsa.RSAPublicNumbers(parsed["e"], parsed["n"]).public_key()


def parse_site_info(data: bytes) -> dict:
    """Decodes a SiteInfo record (reference §7.4)."""
    r = Reader(data)
    out: dict = {"data_version": r.u16()}
    out["protocol"] = (r.u8(), r.u8())
    out["serial"] = r.u16()
    mask = r.u8()
    out["primary"] = bool(mask & 0x80)
    out["multi_primary"] = bool(mask & 0x40)
    out["hash_option"] = r.u8()
    out["hash_filter"] = r.string()
    out["attributes"] = [(r.string(), r.string()) for _ in range(r.count(8))]
    servers = []
    for _ in range(r.count(28)):
        server: dict = {"id": r.u32()}
        addr = r.take(16)
        server["address"] = (socket.inet_ntop(socket.AF_INET, addr[12:]) if addr[:12] == bytes(12)
                             else socket.inet_ntop(socket.AF_INET6, addr))
        server["public_key"] = r.bytes_()
        server["interfaces"] = [(r.u8(), r.u8(), r.u32()) for _ in range(r.count(6))]
        servers.append(server)
    out["servers"] = servers
    out["trailing"] = r.rest()
    return out


# ---------------------------------------------------------------------------------------------
# Messages (reference §3)


@dataclass
class Message:
    """One whole message: envelope fields, header fields, body bytes and credential bytes."""

    opcode: int
    body: bytes = b""
    rc: int = 0
    flags: int = DEFAULT_FLAGS
    site_serial: int = 0xFFFF
    recursion: int = 0
    expiration: int = 0
    credential: bytes = b""
    # Envelope.
    major: int = 2
    minor: int = 11
    env_flags: int = 0  # CP / EC / TC bits of the high MessageFlag byte
    suggested_major: int = 2
    suggested_minor: int = 11
    session_id: int = 0
    request_id: int = 0
    sequence: int = 0
    # Set by decode: the ciphertext of an EC message (header and body are not decodable).
    encrypted: bytes | None = None

    def header(self) -> bytes:
        return (w_u32(self.opcode) + w_u32(self.rc) + w_u32(self.flags) + w_u16(self.site_serial)
                + w_u8(self.recursion) + w_u8(0) + w_u32(self.expiration) + w_u32(len(self.body)))

    def header_body(self) -> bytes:
        """The bytes a request digest and a signature cover."""
        return self.header() + self.body

    def payload(self) -> bytes:
        """Everything after the envelope."""
        if self.encrypted is not None:
            return self.encrypted
        return self.header_body() + w_bytes(self.credential)

    def envelope(self, message_length: int, sequence: int | None = None, tc: bool = False) -> bytes:
        high = (self.env_flags | (ENV_TC if tc else 0)) & 0xFC | (self.suggested_major & 0x03)
        return (w_u8(self.major) + w_u8(self.minor) + w_u8(high) + w_u8(self.suggested_minor)
                + w_u32(self.session_id) + w_u32(self.request_id)
                + w_u32(self.sequence if sequence is None else sequence) + w_u32(message_length))

    def encode(self) -> bytes:
        payload = self.payload()
        return self.envelope(len(payload)) + payload

    def udp_datagrams(self) -> list[bytes]:
        """The message as UDP datagrams: one, or several with TC set and sequence 0, 1, ..."""
        payload = self.payload()
        if len(payload) <= UDP_MAX_PAYLOAD:
            return [self.envelope(len(payload)) + payload]
        chunks = [payload[i:i + UDP_MAX_PAYLOAD] for i in range(0, len(payload), UDP_MAX_PAYLOAD)]
        return [self.envelope(len(payload), seq, tc=True) + chunk for seq, chunk in enumerate(chunks)]

    @property
    def flag_names(self) -> list[str]:
        names = [("AT", FLAG_AT), ("CT", FLAG_CT), ("ENC", FLAG_ENC), ("REC", FLAG_REC),
                 ("CA", FLAG_CA), ("CN", FLAG_CN), ("KA", FLAG_KA), ("PO", FLAG_PO), ("RD", FLAG_RD),
                 ("OVRW", FLAG_OVRW), ("MINT", FLAG_MINT), ("DNRF", FLAG_DNRF)]
        return [n for n, bit in names if self.flags & bit]

    def is_response(self) -> bool:
        return self.rc != 0


@dataclass
class Envelope:
    major: int
    minor: int
    flags: int
    suggested_major: int
    suggested_minor: int
    session_id: int
    request_id: int
    sequence: int
    message_length: int

    @classmethod
    def decode(cls, data: bytes) -> "Envelope":
        if len(data) < ENVELOPE_LEN:
            raise ProtocolError(f"envelope of {len(data)} bytes")
        major, minor, high, low, session, request, seq, length = struct.unpack(">BBBBIIIi", data[:20])
        if length < 0 or length > MAX_MESSAGE_LEN:
            raise ProtocolError(f"message length {length}")
        return cls(major, minor, high & 0xFC, high & 0x03, low, session, request, seq, length)


def decode_message(data: bytes) -> Message:
    """Decodes one whole message (envelope + MessageLength bytes; nothing may follow)."""
    env = Envelope.decode(data)
    if len(data) != ENVELOPE_LEN + env.message_length:
        raise ProtocolError(f"{len(data) - ENVELOPE_LEN} message bytes, envelope says {env.message_length}")
    payload = data[ENVELOPE_LEN:]
    msg = Message(opcode=0, major=env.major, minor=env.minor, env_flags=env.flags,
                  suggested_major=env.suggested_major, suggested_minor=env.suggested_minor,
                  session_id=env.session_id, request_id=env.request_id, sequence=env.sequence)
    if env.flags & ENV_EC:
        msg.encrypted = payload
        return msg
    r = Reader(payload)
    msg.opcode = r.u32()
    msg.rc = r.u32()
    msg.flags = r.u32()
    msg.site_serial = r.u16()
    msg.recursion = r.u8()
    r.u8()
    msg.expiration = r.u32()
    msg.body = r.bytes_()
    if r.remaining() == 0:
        # Some old peers omit the credential length altogether.
        return msg
    msg.credential = r.bytes_()
    if r.remaining():
        raise ProtocolError(f"{r.remaining()} bytes after the credential")
    return msg


def split_messages(stream: bytes) -> list[bytes]:
    """Splits concatenated envelope+message units (a TCP stream, an HTTP body)."""
    out = []
    pos = 0
    while pos < len(stream):
        env = Envelope.decode(stream[pos:pos + ENVELOPE_LEN])
        end = pos + ENVELOPE_LEN + env.message_length
        if end > len(stream):
            raise ProtocolError("truncated message in stream")
        out.append(stream[pos:end])
        pos = end
    return out


class UdpReassembler:
    """Collects the datagrams of one multi-packet UDP message (reference §9)."""

    def __init__(self):
        self.parts: dict[int, bytes] = {}
        self.first: Envelope | None = None
        self.head = b""

    def add(self, datagram: bytes) -> bytes | None:
        """Adds a datagram; returns the whole message (envelope + payload) once complete.

        The returned envelope is the first datagram's, with sequence 0 and TC cleared.
        """
        env = Envelope.decode(datagram)
        if self.first is None:
            self.first = env
            head = bytearray(datagram[:ENVELOPE_LEN])
            head[12:16] = bytes(4)
            head[2] &= ~ENV_TC & 0xFF
            self.head = bytes(head)
        elif (env.request_id, env.message_length) != (self.first.request_id, self.first.message_length):
            raise ProtocolError("datagram of another message")
        if env.sequence > MAX_MESSAGE_LEN // UDP_MAX_PAYLOAD + 1:
            raise ProtocolError(f"sequence number {env.sequence}")
        self.parts[env.sequence] = datagram[ENVELOPE_LEN:]
        total = self.first.message_length
        if sum(len(p) for p in self.parts.values()) < total:
            return None
        if sorted(self.parts) != list(range(len(self.parts))):
            raise ProtocolError("missing fragment in a multi-packet message")
        payload = b"".join(self.parts[i] for i in sorted(self.parts))
        if len(payload) != total:
            raise ProtocolError(f"fragments hold {len(payload)} bytes, envelope says {total}")
        return self.head + payload


# ---------------------------------------------------------------------------------------------
# Request digests and credentials (reference §3.5, §3.6)


def digest_alg_for(major: int, minor: int) -> int:
    """The digest algorithm a server uses for a message of this version."""
    if (major, minor) >= (2, 7):
        return DIGEST_SHA256
    if (major, minor) >= (2, 1):
        return DIGEST_SHA1
    return DIGEST_MD5


def compute_digest(alg: int, header_body: bytes) -> bytes:
    name = {DIGEST_MD5: "md5", DIGEST_SHA1: "sha1", DIGEST_SHA256: "sha256"}[alg]
    return hashlib.new(name, header_body).digest()


def read_digest(r: Reader) -> tuple[int, bytes]:
    """Reads the request-digest prefix of a response body: (alg, digest)."""
    alg = r.u8()
    if alg == 0:
        # The pre-2.1 form: int4 length (whose first byte was the 0 just read) + MD5.
        r.pos -= 1
        return DIGEST_MD5, r.bytes_()
    if alg not in DIGEST_LEN:
        raise ProtocolError(f"digest algorithm {alg}")
    return alg, r.take(DIGEST_LEN[alg])


@dataclass
class Credential:
    version: int
    reserved: int
    flags: int
    signer_handle: str
    signer_index: int
    type: str
    digest_alg: str
    signature: bytes

    @classmethod
    def decode(cls, data: bytes) -> "Credential":
        r = Reader(data)
        version, reserved, flags = r.u8(), r.u8(), r.u16()
        signer = r.string()
        index = r.u32()
        ctype = r.string()
        signed = Reader(r.bytes_())
        alg = signed.string()
        sig = signed.bytes_()
        return cls(version, reserved, flags, signer, index, ctype, alg, sig)

    def encode(self) -> bytes:
        signed = w_str(self.digest_alg) + w_bytes(self.signature)
        return (w_u8(self.version) + w_u8(self.reserved) + w_u16(self.flags) + w_str(self.signer_handle)
                + w_u32(self.signer_index) + w_str(self.type) + w_bytes(signed))


def signed_input(msg: Message, session_counter: int) -> bytes:
    """What an HS_SIGNED (or HS_MAC) credential covers at version 2.8 and later."""
    return (bytes([msg.major, msg.minor, msg.suggested_major, msg.suggested_minor])
            + w_u32(msg.session_id) + w_u32(msg.request_id) + w_u32(session_counter) + msg.header_body())


def verify_signed(msg: Message, public_key) -> bool:
    """Checks the HS_SIGNED credential of a (reassembled) message against an RSA public key."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    cred = Credential.decode(msg.credential)
    if cred.type != "HS_SIGNED":
        return False
    algorithm = hashes.SHA256() if cred.digest_alg.replace("-", "") == "SHA256" else hashes.SHA1()
    try:
        public_key.verify(cred.signature, signed_input(msg, cred.signer_index), padding.PKCS1v15(), algorithm)
    except InvalidSignature:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# Request bodies (reference §4)


def body_resolution(handle: str, indexes: list[int] | None = None, types: list[str] | None = None) -> bytes:
    return w_str(handle) + w_int_list(indexes or []) + w_str_list(types or [])


def body_handle(handle: str) -> bytes:
    return w_str(handle)


def body_values(handle: str, values: list[HandleValue]) -> bytes:
    return w_str(handle) + encode_values(values)


def body_remove_values(handle: str, indexes: list[int]) -> bytes:
    return w_str(handle) + w_int_list(indexes)


def body_challenge_answer(auth_type: str, key_handle: str, key_index: int, answer: bytes) -> bytes:
    return w_str(auth_type) + w_str(key_handle) + w_u32(key_index) + w_bytes(answer)


def body_verify_challenge(handle: str, index: int, nonce: bytes, orig_digest: bytes, signed_response: bytes) -> bytes:
    """OC 201 body with the digest in CNRI's length-prefixed form."""
    return w_str(handle) + w_u32(index) + w_bytes(nonce) + w_bytes(orig_digest) + w_bytes(signed_response)


def body_login(identity_handle: str, index: int) -> bytes:
    """IDIS OC 2001 body: the identity handle and index."""
    return w_str(identity_handle) + w_u32(index)


def parse_request_body(msg: Message) -> dict:
    """Decodes a request body into a dict (for the offline checks and for diagnostics)."""
    r = Reader(msg.body)
    oc = msg.opcode
    out: dict = {}
    if oc in (OC.RESOLUTION, OC.LOGIN):
        out = {"handle": r.string(), "indexes": r.int_list(), "types": r.string_list()}
    elif oc in (OC.GET_SITE_INFO, OC.DELETE_HANDLE, OC.LIST_HANDLES, OC.HOME_NA, OC.UNHOME_NA,
                OC.LIST_HOMED_NAS, OC.SESSION_TERMINATE):
        out = {"handle": r.string()}
    elif oc in (OC.CREATE_HANDLE, OC.ADD_VALUE, OC.MODIFY_VALUE):
        out = {"handle": r.string(), "values": decode_values(r)}
    elif oc == OC.REMOVE_VALUE:
        out = {"handle": r.string(), "indexes": r.int_list()}
    elif oc == OC.RESPONSE_TO_CHALLENGE:
        out = {"auth_type": r.string(), "key_handle": r.string(), "key_index": r.u32(), "answer": r.bytes_()}
    elif oc == OC.VERIFY_CHALLENGE:
        out = {"handle": r.string(), "index": r.u32(), "nonce": r.bytes_()}
        first = r.data[r.pos] if r.remaining() else None
        if first == 0:
            out["orig_digest"] = r.bytes_()
        else:
            alg = r.u8()
            out["orig_digest"] = r.take(DIGEST_LEN.get(alg, 0))
        out["signed_response"] = r.bytes_()
    elif oc == OC.LOGIN_ID_SYSTEM:
        out = {"handle": r.string(), "index": r.u32()}
    elif oc == OC.SESSION_SETUP:
        out = {"mode": r.u16(), "timeout": r.u32(), "identity_handle": r.string(), "identity_index": r.u32()}
        if out["mode"] in (1, 4):
            out["public_key"] = r.bytes_()
        elif out["mode"] == 3:
            out["exchange_key_handle"] = r.string()
            out["exchange_key_index"] = r.u32()
    else:
        out = {}
    out["trailing"] = r.rest()
    return out


# ---------------------------------------------------------------------------------------------
# Challenge answers (reference §10.3)


def seckey_answer_sha1(secret: bytes, nonce: bytes, digest: bytes) -> bytes:
    """`0x02` + SHA1(secret || nonce || digest || secret)."""
    return bytes([SECKEY_SHA1]) + hashlib.sha1(secret + nonce + digest + secret).digest()


def pbkdf2_password(secret: bytes) -> bytes:
    """The PBKDF2 password CNRI derives: the secret read as Latin-1 chars, encoded as UTF-8."""
    return secret.decode("latin-1").encode("utf-8")


def seckey_answer_pbkdf2(secret: bytes, nonce: bytes, digest: bytes, salt: bytes | None = None,
                         iterations: int = 10000, key_bits: int = 160) -> bytes:
    """`0x22` + salt + iterations + key length + HMAC-SHA1(PBKDF2-HMAC-SHA1(secret), nonce || digest)."""
    salt = os.urandom(16) if salt is None else salt
    key = hashlib.pbkdf2_hmac("sha1", pbkdf2_password(secret), salt, iterations, key_bits // 8)
    mac = hmac.new(key, nonce + digest, hashlib.sha1).digest()
    return bytes([SECKEY_PBKDF2]) + w_bytes(salt) + w_u32(iterations) + w_u32(key_bits) + w_bytes(mac)


def seckey_answer_check(secret: bytes, nonce: bytes, digest: bytes, answer: bytes) -> bool:
    """Whether an HS_SECKEY answer (any supported code) was made with this secret."""
    if not answer:
        return False
    code, rest = answer[0], answer[1:]
    m = nonce + digest
    if code == SECKEY_SHA1:
        return hmac.compare_digest(rest, hashlib.sha1(secret + m + secret).digest())
    if code == SECKEY_MD5:
        return hmac.compare_digest(rest, hashlib.md5(secret + m + secret).digest())
    if code == SECKEY_SHA256:
        return hmac.compare_digest(rest, hashlib.sha256(secret + m + secret).digest())
    if code == SECKEY_HMAC_SHA1:
        return hmac.compare_digest(rest, hmac.new(secret, m, hashlib.sha1).digest())
    if code == SECKEY_HMAC_SHA256:
        return hmac.compare_digest(rest, hmac.new(secret, m, hashlib.sha256).digest())
    if code == SECKEY_PBKDF2:
        r = Reader(rest)
        salt, iterations, bits, mac = r.bytes_(), r.u32(), r.u32(), r.bytes_()
        return hmac.compare_digest(answer, seckey_answer_pbkdf2(secret, nonce, digest, salt, iterations, bits)) \
            and len(mac) == 20
    return False


def pubkey_answer_rsa(private_key, nonce: bytes, digest: bytes, hash_alg: str = "SHA-256") -> bytes:
    """`UTF8String hashAlg` + `bytes signature` (RSASSA-PKCS1-v1_5 over nonce || digest)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    algorithm = hashes.SHA256() if hash_alg.replace("-", "") == "SHA256" else hashes.SHA1()
    signature = private_key.sign(nonce + digest, padding.PKCS1v15(), algorithm)
    return w_str(hash_alg) + w_bytes(signature)


@dataclass
class SecretKeyIdentity:
    """An HS_SECKEY identity `index:handle`; `mode` is "pbkdf2" (the 2.7+ default) or "sha1"."""

    handle: str
    index: int
    secret: bytes
    mode: str = "pbkdf2"
    auth_type: str = "HS_SECKEY"
    # Fixed PBKDF2 salts to use in turn (for reproducing captures); random when empty.
    salts: list[bytes] = field(default_factory=list)

    def answer(self, nonce: bytes, digest: bytes) -> bytes:
        if self.mode == "sha1":
            return seckey_answer_sha1(self.secret, nonce, digest)
        salt = self.salts.pop(0) if self.salts else None
        return seckey_answer_pbkdf2(self.secret, nonce, digest, salt)


@dataclass
class RsaIdentity:
    """An HS_PUBKEY identity backed by an RSA private key (a `cryptography` key)."""

    handle: str
    index: int
    private_key: object
    auth_type: str = "HS_PUBKEY"

    def answer(self, nonce: bytes, digest: bytes) -> bytes:
        return pubkey_answer_rsa(self.private_key, nonce, digest)


# ---------------------------------------------------------------------------------------------
# Response bodies (reference §3.4, §4)


@dataclass
class Response:
    """A decoded response: the message plus what its body says."""

    msg: Message
    digest_alg: int | None = None
    digest: bytes | None = None
    handle: str | None = None
    values: list[HandleValue] | None = None
    nonce: bytes | None = None
    message: str = ""
    site_info: bytes | None = None
    handles: list[str] | None = None
    valid: bool | None = None
    session_mode: int | None = None
    session_data: bytes | None = None
    trailing: bytes = b""
    # For a CN stream: every message of the stream, in order (this object is the first).
    stream: list["Response"] = field(default_factory=list)

    @property
    def rc(self) -> int:
        return self.msg.rc

    @property
    def opcode(self) -> int:
        return self.msg.opcode

    def value(self, index: int) -> HandleValue | None:
        for v in self.values or []:
            if v.index == index:
                return v
        return None

    def all_handles(self) -> list[str]:
        out: list[str] = []
        for part in self.stream or [self]:
            out.extend(part.handles or [])
        return out


ERROR_FREE_RCS = {RC.SUCCESS, RC.SERVICE_REFERRAL, RC.PREFIX_REFERRAL, RC.AUTHENTICATION_NEEDED}


def parse_response(msg: Message) -> Response:
    """Decodes a response body by opcode and response code (reference §3.4, §4, §8.4, §10.2)."""
    resp = Response(msg)
    if msg.encrypted is not None:
        return resp
    r = Reader(msg.body)
    # A challenge always carries the digest; other responses when RD is set.
    if msg.rc == RC.AUTHENTICATION_NEEDED or msg.flags & FLAG_RD:
        resp.digest_alg, resp.digest = read_digest(r)
    rc, oc = msg.rc, msg.opcode
    if rc == RC.AUTHENTICATION_NEEDED:
        resp.nonce = r.bytes_()
    elif rc in (RC.SERVICE_REFERRAL, RC.PREFIX_REFERRAL):
        resp.handle = r.string()
        if r.remaining():
            resp.values = decode_values(r)
    elif rc != RC.SUCCESS:
        if r.remaining():
            resp.message = r.string()
    elif oc in (OC.RESOLUTION, OC.LOGIN):
        resp.handle = r.string()
        resp.values = decode_values(r)
    elif oc == OC.GET_SITE_INFO:
        resp.site_info = r.rest()
        parse_site_info(resp.site_info)
    elif oc in (OC.LIST_HANDLES, OC.LIST_HOMED_NAS):
        resp.handles = [r.string() for _ in range(r.count(4))]
    elif oc == OC.VERIFY_CHALLENGE:
        resp.valid = r.u8() == 1
    elif oc == OC.SESSION_SETUP:
        resp.session_mode = r.u16()
        resp.session_data = r.bytes_()
    elif oc == OC.CREATE_HANDLE:
        # CNRI answers a create with the handle (always with MINT, and in practice always).
        if r.remaining():
            resp.handle = r.string()
    resp.trailing = r.rest()
    return resp


# ---------------------------------------------------------------------------------------------
# Transports (reference §9)


class TransportError(Exception):
    """No (complete) answer from the server."""


class Truncated(Exception):
    """A UDP answer sent truncated (TC set, header only): ask again over TCP."""


class UdpTransport:
    """Queries over UDP: multi-packet requests and responses, retries at 0.5, 1 and 1.5 s.

    A server that may not send a large answer to an unverified source sends it truncated: one
    datagram with TC set holding only the message header. The query is then asked again over
    TCP on the same address and port (``tcp_fallback``), as a DNS stub resolver does.
    """

    name = "udp"

    def __init__(self, host: str, port: int, timeouts: tuple[float, ...] = (0.5, 1.0, 1.5, 3.0), sock=None,
                 tcp_fallback: bool = True):
        self.addr = (host, port)
        self.timeouts = timeouts
        self.tcp_fallback = tcp_fallback
        self.truncated = 0
        if sock is None:
            sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
            sock.connect(self.addr)
        self.sock = sock

    def close(self) -> None:
        self.sock.close()

    def send(self, msg: Message) -> None:
        for datagram in msg.udp_datagrams():
            self.sock.send(datagram)

    def exchange(self, msg: Message) -> list[Message]:
        for timeout in self.timeouts:
            self.send(msg)
            try:
                got = self._collect(msg.request_id, timeout)
            except Truncated:
                self.truncated += 1
                if not self.tcp_fallback:
                    raise
                tcp = TcpTransport(*self.addr)
                try:
                    return tcp.exchange(msg)
                finally:
                    tcp.close()
            if got is not None:
                return [decode_message(got)]
        raise TransportError(f"no complete UDP answer to request {msg.request_id} from {self.addr}")

    def _collect(self, request_id: int, timeout: float) -> bytes | None:
        deadline = time.monotonic() + timeout
        assembler = UdpReassembler()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                datagram = self.sock.recv(65535)
            except (socket.timeout, ConnectionRefusedError):
                continue
            env = Envelope.decode(datagram)
            if env.request_id != request_id:
                continue
            whole_datagram = env.message_length == len(datagram) - ENVELOPE_LEN
            if not (env.flags & ENV_TC) and whole_datagram:
                return datagram
            if env.flags & ENV_TC and whole_datagram and env.message_length == HEADER_LEN + 4:
                # A message that fits one datagram needs no TC: this is a truncated answer.
                raise Truncated(f"truncated UDP answer to request {request_id}")
            whole = assembler.add(datagram)
            if whole is not None:
                return whole


class TcpTransport:
    """A persistent TCP connection: many requests, several in flight, replies matched by RequestId."""

    name = "tcp"

    def __init__(self, host: str, port: int, timeout: float = 10.0, sock=None):
        self.addr = (host, port)
        self.timeout = timeout
        if sock is None:
            sock = socket.create_connection(self.addr, timeout=timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        self.buffer = b""
        self.pending: dict[int, list[Message]] = {}

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, msg: Message) -> None:
        self.sock.sendall(msg.encode())

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _read_exact(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise TransportError(f"connection closed by {self.addr} after {len(self.buffer)} of {n} bytes")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def read_message(self) -> Message:
        head = self._read_exact(ENVELOPE_LEN)
        env = Envelope.decode(head)
        return decode_message(head + self._read_exact(env.message_length))

    def receive(self, request_id: int) -> list[Message]:
        """The reply to `request_id`: one message, or a whole CN stream."""
        out: list[Message] = []
        while True:
            queue = self.pending.get(request_id)
            if queue:
                msg = queue.pop(0)
            else:
                msg = self.read_message()
                if msg.request_id != request_id:
                    self.pending.setdefault(msg.request_id, []).append(msg)
                    continue
            out.append(msg)
            if msg.encrypted is not None or not (msg.flags & FLAG_CN):
                return out

    def exchange(self, msg: Message) -> list[Message]:
        self.send(msg)
        return self.receive(msg.request_id)


class TcpPerRequestTransport:
    """One new TCP connection per exchange, as the CNRI client does."""

    name = "tcp"

    def __init__(self, host: str, port: int, timeout: float = 10.0):
        self.host, self.port, self.timeout = host, port, timeout

    def close(self) -> None:
        pass

    def exchange(self, msg: Message) -> list[Message]:
        conn = TcpTransport(self.host, self.port, self.timeout)
        try:
            return conn.exchange(msg)
        finally:
            conn.close()


def http_request_bytes(host_header: str, handle: str, payload: bytes) -> bytes:
    """The HTTP/1.1 request that tunnels one native message, as the CNRI client writes it."""
    path = "/" + urllib.parse.quote(handle, safe="")
    head = (f"POST {path} HTTP/1.1\r\nHost: {host_header}\r\nAccept: application/x-hdl-message\r\n"
            f"User-Agent: CNRI-HCL 2.0\r\nContent-Type: application/x-hdl-message\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n")
    return head.encode("latin-1") + payload


def parse_http_response(data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Splits a whole HTTP/1.1 response into (status, headers, body); handles chunked bodies."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        raise ProtocolError("no end of HTTP headers")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            body += rest[:size]
            rest = rest[size + 2:]
        return status, headers, body
    if "content-length" in headers:
        return status, headers, rest[:int(headers["content-length"])]
    return status, headers, rest


class HttpTransport:
    """The HTTP(S) tunnel: every message in its own POST; the reply body holds the answer(s)."""

    name = "http"

    def __init__(self, url: str, cafile: str | None = None, timeout: float = 10.0):
        parts = urllib.parse.urlsplit(url)
        self.tls = parts.scheme == "https"
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if self.tls else 80)
        self.host_header = parts.netloc
        self.timeout = timeout
        self.context = None
        if self.tls:
            self.context = ssl.create_default_context(cafile=cafile)
            self.context.check_hostname = False
            if cafile is None:
                self.context.verify_mode = ssl.CERT_NONE
        if self.tls:
            self.name = "https"
        self.last_status: int | None = None
        self.last_headers: dict[str, str] = {}

    def close(self) -> None:
        pass

    def post(self, handle: str, payload: bytes) -> tuple[int, dict[str, str], bytes]:
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        try:
            if self.context is not None:
                sock = self.context.wrap_socket(sock, server_hostname=self.host)
            request = http_request_bytes(self.host_header, handle, payload)
            # Ask for the connection to be closed so that the body ends at EOF if need be.
            request = request.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
            sock.sendall(request)
            data = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        finally:
            sock.close()
        status, headers, body = parse_http_response(data)
        self.last_status, self.last_headers = status, headers
        return status, headers, body

    def exchange(self, msg: Message, handle: str | None = None) -> list[Message]:
        if handle is None:
            handle = "/"
            if msg.opcode not in (OC.RESPONSE_TO_CHALLENGE, OC.GET_SITE_INFO):
                try:
                    handle = parse_request_body(msg).get("handle") or "/"
                except ProtocolError:
                    handle = "/"
        status, headers, body = self.post(handle, msg.encode())
        if status != 200:
            raise TransportError(f"HTTP {status} from the tunnel: {body[:200]!r}")
        if body[:1] in (b"\r", b"\n"):
            body = body[1:]
        return [decode_message(part) for part in split_messages(body)]


# ---------------------------------------------------------------------------------------------
# The client


class Client:
    """Sends requests over one transport and answers challenges with an identity."""

    def __init__(self, transport, identity=None, version: tuple[int, int] = (2, 11),
                 site_serial: int = 0xFFFF, answer_transport=None):
        self.transport = transport
        self.identity = identity
        self.version = version
        self.site_serial = site_serial
        # Where OC 200 goes: the same transport unless told otherwise.
        self.answer_transport = answer_transport
        self.last_challenge: Response | None = None

    def new_request_id(self) -> int:
        return int.from_bytes(os.urandom(4), "big") & 0x7FFFFFFF or 1

    def expiration(self) -> int:
        """Now + 12 h, as the reference client sets it."""
        return int(time.time()) + 43200

    def message(self, opcode: int, body: bytes, flags: int = DEFAULT_FLAGS, session_id: int = 0,
                request_id: int | None = None, expiration: int | None = None,
                site_serial: int | None = None) -> Message:
        return Message(opcode=opcode, body=body, flags=flags,
                       site_serial=self.site_serial if site_serial is None else site_serial,
                       expiration=self.expiration() if expiration is None else expiration,
                       major=self.version[0], minor=self.version[1], session_id=session_id,
                       request_id=self.new_request_id() if request_id is None else request_id)

    def send(self, msg: Message, transport=None) -> Response:
        """One exchange, no authentication: the (first) response, with any CN stream attached."""
        transport = transport or self.transport
        replies = transport.exchange(msg)
        parsed = [parse_response(m) for m in replies]
        first = parsed[0]
        if len(parsed) > 1 or first.msg.flags & FLAG_CN:
            first.stream = parsed
        return first

    def call(self, opcode: int, body: bytes, flags: int = DEFAULT_FLAGS, identity=None,
             session_id: int = 0) -> Response:
        """A request; a challenge (RC 402) is answered with the identity (OC 200)."""
        msg = self.message(opcode, body, flags, session_id=session_id)
        resp = self.send(msg)
        identity = identity or self.identity
        if resp.rc != RC.AUTHENTICATION_NEEDED or identity is None:
            return resp
        return self.answer(msg, resp, identity)

    def answer(self, request: Message, challenge: Response, identity) -> Response:
        """Answers an RC 402 challenge to `request` with OC 200 (reference §10.2)."""
        self.last_challenge = challenge
        if challenge.digest is None or challenge.nonce is None:
            raise ProtocolError("challenge without nonce or digest")
        answer = identity.answer(challenge.nonce, challenge.digest)
        body = body_challenge_answer(identity.auth_type, identity.handle, identity.index, answer)
        msg = self.message(OC.RESPONSE_TO_CHALLENGE, body, request.flags & ~FLAG_RD,
                           session_id=challenge.msg.session_id, site_serial=0xFFFF)
        return self.send(msg, self.answer_transport or self.transport)

    # Operations.

    def resolve(self, handle: str, indexes=None, types=None, flags: int = DEFAULT_FLAGS, identity=None) -> Response:
        return self.call(OC.RESOLUTION, body_resolution(handle, indexes, types), flags, identity)

    def site_info(self, flags: int = DEFAULT_FLAGS) -> Response:
        return self.call(OC.GET_SITE_INFO, body_handle("/"), flags)

    def create(self, handle: str, values: list[HandleValue], overwrite: bool = False, identity=None,
               flags: int = DEFAULT_FLAGS) -> Response:
        return self.call(OC.CREATE_HANDLE, body_values(handle, values),
                         flags | (FLAG_OVRW if overwrite else 0), identity)

    def delete(self, handle: str, identity=None) -> Response:
        return self.call(OC.DELETE_HANDLE, body_handle(handle), DEFAULT_FLAGS, identity)

    def add_values(self, handle: str, values: list[HandleValue], overwrite: bool = False, identity=None) -> Response:
        return self.call(OC.ADD_VALUE, body_values(handle, values),
                         DEFAULT_FLAGS | (FLAG_OVRW if overwrite else 0), identity)

    def remove_values(self, handle: str, indexes: list[int], identity=None) -> Response:
        return self.call(OC.REMOVE_VALUE, body_remove_values(handle, indexes), DEFAULT_FLAGS, identity)

    def modify_values(self, handle: str, values: list[HandleValue], identity=None) -> Response:
        return self.call(OC.MODIFY_VALUE, body_values(handle, values), DEFAULT_FLAGS, identity)

    def list_handles(self, prefix: str, identity=None) -> Response:
        prefix_handle = prefix if prefix.upper().startswith("0.NA/") else "0.NA/" + prefix
        return self.call(OC.LIST_HANDLES, body_handle(prefix_handle), DEFAULT_FLAGS, identity)

    def home(self, prefix_handle: str, identity=None) -> Response:
        return self.call(OC.HOME_NA, body_handle(prefix_handle), DEFAULT_FLAGS, identity)

    def unhome(self, prefix_handle: str, identity=None) -> Response:
        return self.call(OC.UNHOME_NA, body_handle(prefix_handle), DEFAULT_FLAGS, identity)

    def list_homed(self, identity=None) -> Response:
        return self.call(OC.LIST_HOMED_NAS, body_handle("/"), DEFAULT_FLAGS, identity)

    def verify_challenge(self, handle: str, index: int, nonce: bytes, orig_digest: bytes,
                         signed_response: bytes) -> Response:
        return self.call(OC.VERIFY_CHALLENGE,
                         body_verify_challenge(handle, index, nonce, orig_digest, signed_response),
                         DEFAULT_FLAGS | FLAG_RD, identity=None)

    def login(self, identity) -> tuple[Response, Response | None]:
        """The IDIS key login (OC 2001, RD set, PO/CT/CA clear): (first answer, answer to OC 200)."""
        flags = (DEFAULT_FLAGS | FLAG_RD) & ~(FLAG_PO | FLAG_CT | FLAG_CA)
        msg = self.message(OC.LOGIN_ID_SYSTEM, body_login(identity.handle, identity.index), flags)
        first = self.send(msg)
        if first.rc != RC.AUTHENTICATION_NEEDED:
            return first, None
        return first, self.answer(msg, first, identity)


def connect(spec: str, kind: str, cafile: str | None = None):
    """A transport from a `host:port` (udp, tcp) or a URL (http, https)."""
    if kind in ("http", "https"):
        return HttpTransport(spec, cafile)
    host, _, port = spec.rpartition(":")
    host = host.strip("[]")
    if kind == "udp":
        return UdpTransport(host, int(port))
    if kind == "tcp":
        return TcpTransport(host, int(port))
    raise ValueError(kind)
