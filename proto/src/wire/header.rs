//! The 24-byte message header (RFC 3652 §2.2.2; CNRI `Encoder.writeHeader`), operation codes and
//! operation flags.

use std::fmt;
use std::ops::{BitOr, BitOrAssign};

use crate::codec::{DecodeError, Reader, Writer};
use crate::rc::ResponseCode;

/// The size of a header in bytes.
pub const HEADER_LEN: usize = 24;

/// An operation code (§4). Variants follow the numeric order of the specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// 1: OC_RESOLUTION.
    Resolution,
    /// 2: OC_GET_SITE_INFO.
    GetSiteInfo,
    /// 100: OC_CREATE_HANDLE.
    CreateHandle,
    /// 101: OC_DELETE_HANDLE.
    DeleteHandle,
    /// 102: OC_ADD_VALUE.
    AddValue,
    /// 103: OC_REMOVE_VALUE.
    RemoveValue,
    /// 104: OC_MODIFY_VALUE.
    ModifyValue,
    /// 105: OC_LIST_HANDLES.
    ListHandles,
    /// 200: OC_RESPONSE_TO_CHALLENGE.
    ResponseToChallenge,
    /// 201: OC_VERIFY_CHALLENGE.
    VerifyChallenge,
    /// 300: OC_HOME_NA.
    HomeNa,
    /// 301: OC_UNHOME_NA.
    UnhomeNa,
    /// 302: OC_LIST_HOMED_NAS.
    ListHomedNas,
    /// 400: OC_SESSION_SETUP.
    SessionSetup,
    /// 401: OC_SESSION_TERMINATE.
    SessionTerminate,
    /// 402: OC_SESSION_EXCHANGEKEY.
    SessionExchangeKey,
    /// 2001: IDIS `OC_LOGIN_ID_SYSTEM`, key login (§13).
    LoginIdSystem,
    /// Any other code, including 0 and the replication codes 1000–1003.
    Unknown(u32),
}

const OPCODES: &[(OpCode, u32)] = &[
    (OpCode::Resolution, 1),
    (OpCode::GetSiteInfo, 2),
    (OpCode::CreateHandle, 100),
    (OpCode::DeleteHandle, 101),
    (OpCode::AddValue, 102),
    (OpCode::RemoveValue, 103),
    (OpCode::ModifyValue, 104),
    (OpCode::ListHandles, 105),
    (OpCode::ResponseToChallenge, 200),
    (OpCode::VerifyChallenge, 201),
    (OpCode::HomeNa, 300),
    (OpCode::UnhomeNa, 301),
    (OpCode::ListHomedNas, 302),
    (OpCode::SessionSetup, 400),
    (OpCode::SessionTerminate, 401),
    (OpCode::SessionExchangeKey, 402),
    (OpCode::LoginIdSystem, 2001),
];

impl OpCode {
    /// Every known operation code, in numeric order.
    pub const KNOWN: [Self; 17] = [
        Self::Resolution,
        Self::GetSiteInfo,
        Self::CreateHandle,
        Self::DeleteHandle,
        Self::AddValue,
        Self::RemoveValue,
        Self::ModifyValue,
        Self::ListHandles,
        Self::ResponseToChallenge,
        Self::VerifyChallenge,
        Self::HomeNa,
        Self::UnhomeNa,
        Self::ListHomedNas,
        Self::SessionSetup,
        Self::SessionTerminate,
        Self::SessionExchangeKey,
        Self::LoginIdSystem,
    ];

    /// The numeric code.
    pub fn code(self) -> u32 {
        match self {
            Self::Unknown(code) => code,
            known => OPCODES
                .iter()
                .find(|(op, _)| *op == known)
                .map_or(0, |(_, code)| *code),
        }
    }

    /// The operation code with this number. Codes that have a named variant never map to
    /// `Unknown`, so `from_code(op.code()) == op` for every op that `from_code` returns.
    pub fn from_code(code: u32) -> Self {
        OPCODES
            .iter()
            .find(|(_, c)| *c == code)
            .map_or(Self::Unknown(code), |(op, _)| *op)
    }
}

/// The operation flags of a header (§3.3). A bit set, like the `bitflags` crate's types.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct OpFlags(pub u32);

impl OpFlags {
    /// AT, authoritative: skip caches and use a primary site.
    pub const AT: Self = Self(0x8000_0000);
    /// CT, certify: the server signs the response.
    pub const CT: Self = Self(0x4000_0000);
    /// ENC: encrypt the response with the session key.
    pub const ENC: Self = Self(0x2000_0000);
    /// REC: a server that is not responsible may resolve on the client's behalf.
    pub const REC: Self = Self(0x1000_0000);
    /// CA, cache-certify: a caching server should sign.
    pub const CA: Self = Self(0x0800_0000);
    /// CN, continuous: more messages follow (streamed responses).
    pub const CN: Self = Self(0x0400_0000);
    /// KA, keep-alive: keep the connection open.
    pub const KA: Self = Self(0x0200_0000);
    /// PO, public only: return only publicly readable values.
    pub const PO: Self = Self(0x0100_0000);
    /// RD: the response must carry a digest of the request (§3.5).
    pub const RD: Self = Self(0x0080_0000);
    /// OVRW: overwrite when the handle or value exists (since 2.3).
    pub const OVRW: Self = Self(0x0040_0000);
    /// MINT: mint a new suffix on create (Handle.Net 8).
    pub const MINT: Self = Self(0x0020_0000);
    /// DNRF: do not refer; the server must not answer with a referral (Handle.Net 8.1).
    pub const DNRF: Self = Self(0x0010_0000);
    /// IDIS extension (`MSG_FLAG_RECU_AUTH`): forward the caller's identity when recursing.
    pub const RECU_AUTH: Self = Self(0x0000_0004);
    /// The default flags of the CNRI client for resolutions: REC, CA and PO.
    pub const CLIENT_RESOLUTION_DEFAULT: Self = Self(0x1900_0000);

    const NAMES: [(Self, &'static str); 13] = [
        (Self::AT, "AT"),
        (Self::CT, "CT"),
        (Self::ENC, "ENC"),
        (Self::REC, "REC"),
        (Self::CA, "CA"),
        (Self::CN, "CN"),
        (Self::KA, "KA"),
        (Self::PO, "PO"),
        (Self::RD, "RD"),
        (Self::OVRW, "OVRW"),
        (Self::MINT, "MINT"),
        (Self::DNRF, "DNRF"),
        (Self::RECU_AUTH, "RECU_AUTH"),
    ];

    /// No flag set.
    pub const fn empty() -> Self {
        Self(0)
    }

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// These flags with the bits of `other` set as well.
    pub const fn with(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// These flags with the bits of `other` cleared.
    pub const fn without(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }

    /// Sets or clears the bits of `other`.
    pub fn set(&mut self, other: Self, on: bool) {
        *self = if on {
            self.with(other)
        } else {
            self.without(other)
        };
    }

    /// The names of the set flags, in bit order (as in the captured vectors: `AT|REC|CA|PO`).
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES
            .into_iter()
            .filter(move |(flag, _)| self.contains(*flag))
            .map(|(_, name)| name)
    }
}

impl BitOr for OpFlags {
    type Output = Self;

    fn bitor(self, rhs: Self) -> Self {
        self.with(rhs)
    }
}

impl BitOrAssign for OpFlags {
    fn bitor_assign(&mut self, rhs: Self) {
        *self = self.with(rhs);
    }
}

impl fmt::Debug for OpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OpFlags({:#010x}", self.0)?;
        for (i, name) in self.names().enumerate() {
            f.write_str(if i == 0 { ": " } else { "|" })?;
            f.write_str(name)?;
        }
        f.write_str(")")
    }
}

/// The message header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// The operation.
    pub opcode: OpCode,
    /// 0 in every request; responses carry the codes of §5.
    pub response_code: ResponseCode,
    /// The operation flags.
    pub flags: OpFlags,
    /// Serial number of the `HS_SITE` the client used; `0xFFFF` (−1) when unknown.
    pub site_info_serial: u16,
    /// Incremented at every server-side recursion.
    pub recursion_count: u8,
    /// Epoch seconds after which the message is invalid.
    pub expiration: u32,
    /// The number of body bytes. The encoder writes the real length of the encoded body, so
    /// this field matters only after decoding (see `Message::update_lengths`).
    pub body_length: u32,
}

impl Header {
    /// A request header (response code 0) with no flags and an unknown site serial.
    pub fn request(opcode: OpCode) -> Self {
        Self {
            opcode,
            response_code: ResponseCode::Reserved,
            flags: OpFlags::empty(),
            site_info_serial: 0xFFFF,
            recursion_count: 0,
            expiration: 0,
            body_length: 0,
        }
    }

    /// Whether this is a response. RFC 3652: a non-zero response code is what tells a response
    /// from a request (§15 #1).
    pub fn is_response(&self) -> bool {
        self.response_code.code() != 0
    }

    /// Decodes the 24 header bytes at the start of `bytes`. The reserved byte is ignored.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let opcode = OpCode::from_code(r.u32("header")?);
        let response_code = ResponseCode::from_code(r.u32("header")?);
        let flags = OpFlags(r.u32("header")?);
        let site_info_serial = r.u16("header")?;
        let recursion_count = r.u8("header")?;
        r.u8("header")?;
        let expiration = r.u32("header")?;
        let body_length = r.u32("header")?;
        Ok(Self {
            opcode,
            response_code,
            flags,
            site_info_serial,
            recursion_count,
            expiration,
            body_length,
        })
    }

    /// Appends the 24 header bytes, with `body_length` as the BodyLength field.
    pub(crate) fn encode_with_body_length(&self, body_length: u32, w: &mut Writer<'_>) {
        w.u32(self.opcode.code());
        w.u32(self.response_code.code());
        w.u32(self.flags.0);
        w.u16(self.site_info_serial);
        w.u8(self.recursion_count);
        w.u8(0);
        w.u32(self.expiration);
        w.u32(body_length);
    }

    /// Appends the 24 header bytes as they are, including `body_length`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.encode_with_body_length(self.body_length, &mut Writer::new(out));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opcodes_round_trip() {
        for op in OpCode::KNOWN {
            assert_eq!(OpCode::from_code(op.code()), op);
        }
        assert_eq!(OpCode::from_code(0), OpCode::Unknown(0));
        assert_eq!(OpCode::from_code(1001).code(), 1001);
        assert_eq!(OpCode::LoginIdSystem.code(), 2001);
    }

    #[test]
    fn flag_names_follow_bit_order() {
        let flags = OpFlags(0x9980_0000);
        assert_eq!(
            flags.names().collect::<Vec<_>>(),
            ["AT", "REC", "CA", "PO", "RD"]
        );
        assert_eq!(
            OpFlags::REC | OpFlags::CA | OpFlags::PO,
            OpFlags::CLIENT_RESOLUTION_DEFAULT
        );
        let mut f = OpFlags::empty();
        f.set(OpFlags::RD, true);
        assert!(f.contains(OpFlags::RD));
        f.set(OpFlags::RD, false);
        assert_eq!(f, OpFlags::empty());
        assert_eq!(
            format!("{:?}", OpFlags(0x0080_0000)),
            "OpFlags(0x00800000: RD)"
        );
    }

    #[test]
    fn worked_example_header() {
        // §14: the OC 2001 login header.
        let bytes = [
            0x00, 0x00, 0x07, 0xd1, 0, 0, 0, 0, 0x00, 0x80, 0, 0, 0xff, 0xff, 0, 0, 0x65, 0, 0, 0,
            0, 0, 0, 0x16,
        ];
        let header = Header::decode(&bytes).unwrap();
        assert_eq!(header.opcode, OpCode::LoginIdSystem);
        assert!(!header.is_response());
        assert!(header.flags.contains(OpFlags::RD));
        assert_eq!(header.site_info_serial, 0xffff);
        assert_eq!(header.body_length, 0x16);
        let mut out = Vec::new();
        header.encode(&mut out);
        assert_eq!(out, bytes);
    }
}
