//! The 20-byte message envelope (RFC 3652 §2.2.1; CNRI `Encoder.encodeEnvelope`).
//!
//! The envelope is never covered by request digests or signatures, and it stays in clear text
//! when the rest of the message is encrypted with a session key.

use std::fmt;

use crate::codec::{DecodeError, Reader, Writer};

/// The size of an envelope in bytes.
pub const ENVELOPE_LEN: usize = 20;

/// The largest accepted `MessageLength` (CNRI `Common.MAX_MESSAGE_LENGTH`).
pub const MAX_MESSAGE_LEN: usize = 262_144;

/// Envelope flag: the message is compressed (CP).
const FLAG_COMPRESSED: u8 = 0x80;
/// Envelope flag: the message is encrypted with the session key (EC).
const FLAG_ENCRYPTED: u8 = 0x40;
/// Envelope flag: the message is split over several UDP datagrams (TC).
const FLAG_TRUNCATED: u8 = 0x20;
/// Since 2.8 the low two bits of the flag byte carry the suggested major version.
const SUGGESTED_MAJOR_MASK: u8 = 0x03;

/// A protocol version, ordered so that version gates read `v >= Version::V2_7`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Version {
    /// The major version; 2 for every deployed peer.
    pub major: u8,
    /// The minor version.
    pub minor: u8,
}

impl Version {
    /// Protocol 2.1 (RFC 3652): request digests.
    pub const V2_1: Self = Self::new(2, 1);
    /// Protocol 2.3: the compatibility version clients send when they do not know the server.
    pub const V2_3: Self = Self::new(2, 3);
    /// Protocol 2.5: RC 303 means a prefix referral; credentials carry a session counter.
    pub const V2_5: Self = Self::new(2, 5);
    /// Protocol 2.6: signatures cover envelope fields (with a known encoder bug).
    pub const V2_6: Self = Self::new(2, 6);
    /// Protocol 2.7: SHA-256 digests, HMAC-SHA256 MACs, PBKDF2 secret-key answers.
    pub const V2_7: Self = Self::new(2, 7);
    /// Protocol 2.8: suggested version in envelope bytes 2 and 3.
    pub const V2_8: Self = Self::new(2, 8);
    /// Protocol 2.10: prefix referrals to new clients.
    pub const V2_10: Self = Self::new(2, 10);
    /// Protocol 2.11, spoken by Handle.Net 9.
    pub const V2_11: Self = Self::new(2, 11);

    /// A version from its two numbers.
    pub const fn new(major: u8, minor: u8) -> Self {
        Self { major, minor }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The message envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Envelope {
    /// The version this message is encoded in.
    pub version: Version,
    /// The sender's suggested version exactly as carried in bytes 2 and 3: the major part has
    /// only two bits, and a major of 0 means "same as `version`" (peers before 2.8). Use
    /// [`Envelope::suggested_version`] for the effective value.
    pub suggested: Version,
    /// CP: the message is compressed.
    pub compressed: bool,
    /// EC: everything after the envelope is encrypted with the session key.
    pub encrypted: bool,
    /// TC: the message is split over several UDP datagrams.
    pub truncated: bool,
    /// The session, 0 for none.
    pub session_id: u32,
    /// Chosen by the client and echoed by the response.
    pub request_id: u32,
    /// The packet number inside a multi-packet UDP message (CNRI `messageId`), from 0.
    pub sequence: u32,
    /// Header + body + credential length of the whole message, repeated in every UDP fragment.
    pub message_length: u32,
}

impl Envelope {
    /// Decodes the envelope at the start of `bytes`; bytes after the first 20 are ignored.
    ///
    /// Rejects a `MessageLength` above [`MAX_MESSAGE_LEN`] (which includes every negative
    /// `int4`).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let major = r.u8("envelope")?;
        let minor = r.u8("envelope")?;
        let flags = r.u8("envelope")?;
        let suggested_minor = r.u8("envelope")?;
        let session_id = r.u32("envelope")?;
        let request_id = r.u32("envelope")?;
        let sequence = r.u32("envelope")?;
        let message_length = r.u32("envelope")?;
        if message_length as usize > MAX_MESSAGE_LEN {
            return Err(DecodeError::TooLarge("message length"));
        }
        Ok(Self {
            version: Version::new(major, minor),
            suggested: Version::new(flags & SUGGESTED_MAJOR_MASK, suggested_minor),
            compressed: flags & FLAG_COMPRESSED != 0,
            encrypted: flags & FLAG_ENCRYPTED != 0,
            truncated: flags & FLAG_TRUNCATED != 0,
            session_id,
            request_id,
            sequence,
            message_length,
        })
    }

    /// Appends the 20 bytes of the envelope.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_bytes());
    }

    /// The 20 bytes of the envelope.
    pub fn to_bytes(&self) -> [u8; ENVELOPE_LEN] {
        let mut out = Vec::with_capacity(ENVELOPE_LEN);
        let mut w = Writer::new(&mut out);
        w.u8(self.version.major);
        w.u8(self.version.minor);
        w.u8(self.flag_byte());
        w.u8(self.suggested.minor);
        w.u32(self.session_id);
        w.u32(self.request_id);
        w.u32(self.sequence);
        w.u32(self.message_length);
        let mut bytes = [0u8; ENVELOPE_LEN];
        bytes.copy_from_slice(&out);
        bytes
    }

    /// Byte 2: the CP, EC and TC flags and the suggested major version.
    fn flag_byte(&self) -> u8 {
        let mut flags = self.suggested.major & SUGGESTED_MAJOR_MASK;
        if self.compressed {
            flags |= FLAG_COMPRESSED;
        }
        if self.encrypted {
            flags |= FLAG_ENCRYPTED;
        }
        if self.truncated {
            flags |= FLAG_TRUNCATED;
        }
        flags
    }

    /// The version the sender suggests for the answer; equals `version` when the sender did
    /// not suggest one (§3.1, CNRI `Encoder.decodeEnvelope`).
    pub fn suggested_version(&self) -> Version {
        if self.suggested.major == 0 {
            self.version
        } else {
            self.suggested
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_example_envelope() {
        // §14: version 2.10 suggesting 2.11, request id 1, message length 52.
        let bytes = [
            0x02, 0x0a, 0x02, 0x0b, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x34,
        ];
        let env = Envelope::decode(&bytes).unwrap();
        assert_eq!(env.version, Version::new(2, 10));
        assert_eq!(env.suggested_version(), Version::V2_11);
        assert_eq!(env.request_id, 1);
        assert_eq!(env.message_length, 52);
        assert_eq!(env.to_bytes(), bytes);
    }

    #[test]
    fn suggested_major_zero_means_actual() {
        let mut bytes = [0u8; 20];
        bytes[0] = 2;
        bytes[1] = 3;
        let env = Envelope::decode(&bytes).unwrap();
        assert_eq!(env.suggested_version(), Version::V2_3);
    }

    #[test]
    fn message_length_is_bounded() {
        let mut bytes = [0u8; 20];
        bytes[16..].copy_from_slice(&(MAX_MESSAGE_LEN as u32 + 1).to_be_bytes());
        assert_eq!(
            Envelope::decode(&bytes),
            Err(DecodeError::TooLarge("message length"))
        );
        bytes[16..].copy_from_slice(&(-1i32).to_be_bytes());
        assert!(Envelope::decode(&bytes).is_err());
        assert!(Envelope::decode(&bytes[..19]).is_err());
    }

    #[test]
    fn flags_round_trip() {
        let env = Envelope {
            version: Version::V2_11,
            suggested: Version::V2_11,
            compressed: true,
            encrypted: true,
            truncated: true,
            ..Envelope::default()
        };
        let bytes = env.to_bytes();
        assert_eq!(bytes[2], 0xe2);
        assert_eq!(Envelope::decode(&bytes).unwrap(), env);
    }
}
