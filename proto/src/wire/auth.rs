//! The formats of the `challengeResponse` bytes of an OC 200 answer (§10.3).
//!
//! Verifying them needs keys and secrets, which live elsewhere; this module only splits the
//! bytes into their fields.

use crate::codec::{DecodeError, Reader, Writer};

/// `authType` of a public-key answer.
pub const HS_PUBKEY: &str = "HS_PUBKEY";
/// `authType` of a secret-key answer.
pub const HS_SECKEY: &str = "HS_SECKEY";

/// Secret-key answer codes (CNRI `Util.doMac`).
pub mod seckey_code {
    /// `MD5(key ‖ m ‖ key)`.
    pub const MD5: u8 = 0x01;
    /// `SHA1(key ‖ m ‖ key)`, the 2.1–2.6 default.
    pub const SHA1: u8 = 0x02;
    /// `SHA-256(key ‖ m ‖ key)`.
    pub const SHA256: u8 = 0x03;
    /// `HMAC-SHA1(key, m)`.
    pub const HMAC_SHA1: u8 = 0x12;
    /// `HMAC-SHA256(key, m)`.
    pub const HMAC_SHA256: u8 = 0x13;
    /// `HMAC-SHA1(PBKDF2-HMAC-SHA1(key, salt, iterations, bits), m)`, the default from 2.7.
    pub const PBKDF2_HMAC_SHA1: u8 = 0x22;
}

/// A parsed `challengeResponse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthResponse<'a> {
    /// `HS_PUBKEY`: `UTF8String hashAlg` + `bytes signature` over `nonce ‖ requestDigest`
    /// (`SHA-256`, `SHA1`, or `SM3` from IDIS clients).
    Signature {
        /// The hash algorithm name.
        hash_alg: &'a str,
        /// The signature.
        signature: &'a [u8],
    },
    /// `HS_SECKEY` with a one-byte code (see [`seckey_code`]) followed by the MAC.
    SecretMac {
        /// The algorithm code.
        code: u8,
        /// The MAC.
        mac: &'a [u8],
    },
    /// `HS_SECKEY` with code `0x22`: `bytes salt`, `int4 iterations`, `int4 keyLengthBits`,
    /// `bytes mac`.
    SecretPbkdf2 {
        /// The PBKDF2 salt.
        salt: &'a [u8],
        /// The PBKDF2 iteration count.
        iterations: u32,
        /// The derived key length in bits.
        key_length_bits: u32,
        /// `HMAC-SHA1(derived key, nonce ‖ digest)`.
        mac: &'a [u8],
    },
}

impl<'a> AuthResponse<'a> {
    /// Splits the `challengeResponse` bytes of an answer with this `authType`. The pre-2.1
    /// secret-key form (a bare MD5 with no code byte) is not recognised.
    pub fn parse(auth_type: &str, bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let parsed = match auth_type {
            HS_PUBKEY => Self::Signature {
                hash_alg: r.str("signature hash algorithm")?,
                signature: r.bytes("signature")?,
            },
            HS_SECKEY => match r.u8("secret key answer code")? {
                seckey_code::PBKDF2_HMAC_SHA1 => Self::SecretPbkdf2 {
                    salt: r.bytes("pbkdf2 salt")?,
                    iterations: r.u32("pbkdf2 iterations")?,
                    key_length_bits: r.u32("pbkdf2 key length")?,
                    mac: r.bytes("pbkdf2 mac")?,
                },
                code @ (seckey_code::MD5
                | seckey_code::SHA1
                | seckey_code::SHA256
                | seckey_code::HMAC_SHA1
                | seckey_code::HMAC_SHA256) => Self::SecretMac {
                    code,
                    mac: r.take(r.rest().len(), "secret key mac")?,
                },
                _ => return Err(DecodeError::Invalid("secret key answer code")),
            },
            _ => return Err(DecodeError::Invalid("auth type")),
        };
        r.finish("challenge response")?;
        Ok(parsed)
    }

    /// The `authType` this answer belongs to.
    pub fn auth_type(&self) -> &'static str {
        match self {
            Self::Signature { .. } => HS_PUBKEY,
            Self::SecretMac { .. } | Self::SecretPbkdf2 { .. } => HS_SECKEY,
        }
    }

    /// The `challengeResponse` bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out);
        match *self {
            Self::Signature {
                hash_alg,
                signature,
            } => {
                w.str(hash_alg);
                w.bytes(signature);
            }
            Self::SecretMac { code, mac } => {
                w.u8(code);
                w.raw(mac);
            }
            Self::SecretPbkdf2 {
                salt,
                iterations,
                key_length_bits,
                mac,
            } => {
                w.u8(seckey_code::PBKDF2_HMAC_SHA1);
                w.bytes(salt);
                w.u32(iterations);
                w.u32(key_length_bits);
                w.bytes(mac);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn worked_example_pbkdf2_answer() {
        // §14: the PBKDF2 form for secret `pw`.
        let bytes = unhex(
            "2200000010000102030405060708090a0b0c0d0e0f00002710000000a0\
             0000001464575c5309c5a218d2debf7189b8e8402ece6562",
        );
        let parsed = AuthResponse::parse(HS_SECKEY, &bytes).unwrap();
        let AuthResponse::SecretPbkdf2 {
            salt,
            iterations,
            key_length_bits,
            mac,
        } = parsed
        else {
            panic!("not pbkdf2: {parsed:?}");
        };
        assert_eq!(salt, &unhex("000102030405060708090a0b0c0d0e0f")[..]);
        assert_eq!((iterations, key_length_bits), (10_000, 160));
        assert_eq!(mac.len(), 20);
        assert_eq!(parsed.to_bytes(), bytes);
    }

    #[test]
    fn sha1_and_signature_answers() {
        let bytes = unhex("0225bd84e22b1fb2b478a3c52b52e0df2171e643e4");
        let parsed = AuthResponse::parse(HS_SECKEY, &bytes).unwrap();
        assert!(matches!(parsed, AuthResponse::SecretMac { code: 2, mac } if mac.len() == 20));
        assert_eq!(parsed.to_bytes(), bytes);
        let sig = AuthResponse::Signature {
            hash_alg: "SHA-256",
            signature: &[1, 2, 3],
        };
        assert_eq!(AuthResponse::parse(HS_PUBKEY, &sig.to_bytes()), Ok(sig));
        assert!(AuthResponse::parse(HS_SECKEY, &[0x7f]).is_err());
        assert!(AuthResponse::parse("HS_OTHER", &[]).is_err());
    }
}
