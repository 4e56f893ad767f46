//! `HS_PUBKEY` data (CNRI `Util.getBytesFromPublicKey`) and its JWK form (RFC 7517).
//!
//! Layout: `UTF8String keyType` + `int2 flags` (0) + the key's fields, each as `int4 len` and a
//! big-endian two's-complement integer. idnode adds `ED25519_PUB_KEY` for its own clients: the
//! same header followed by one `bytes` field holding the 32-byte RFC 8032 public key.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::codec::{DecodeError, Reader, Writer};

/// A public key as stored in an `HS_PUBKEY` value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PublicKey {
    /// `RSA_PUB_KEY`: exponent, then modulus.
    Rsa {
        /// The public exponent, big-endian.
        exponent: Vec<u8>,
        /// The modulus, big-endian.
        modulus: Vec<u8>,
    },
    /// `DSA_PUB_KEY`: q, p, g, y.
    Dsa {
        /// Subprime.
        q: Vec<u8>,
        /// Prime.
        p: Vec<u8>,
        /// Generator.
        g: Vec<u8>,
        /// Public value.
        y: Vec<u8>,
    },
    /// `ED25519_PUB_KEY` (idnode): the 32-byte RFC 8032 key.
    Ed25519([u8; 32]),
    /// Any other key type, kept as the bytes after the type and flags.
    Other {
        /// The key type, such as `DH_PUB_KEY` or `SM2_PUB_KEY`.
        key_type: String,
        /// Everything after the flags.
        rest: Vec<u8>,
    },
}

const RSA: &str = "RSA_PUB_KEY";
const DSA: &str = "DSA_PUB_KEY";
const ED25519: &str = "ED25519_PUB_KEY";

impl PublicKey {
    /// Whether `other` is the same key: the same type and the same numbers, whatever leading
    /// zero bytes either encoding carries.
    pub fn same_key(&self, other: &Self) -> bool {
        fn number(bytes: &[u8]) -> &[u8] {
            let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
            &bytes[first..]
        }
        let same = |a: &[u8], b: &[u8]| number(a) == number(b);
        match (self, other) {
            (
                Self::Rsa { exponent, modulus },
                Self::Rsa {
                    exponent: e,
                    modulus: m,
                },
            ) => same(exponent, e) && same(modulus, m),
            (
                Self::Dsa { q, p, g, y },
                Self::Dsa {
                    q: q2,
                    p: p2,
                    g: g2,
                    y: y2,
                },
            ) => same(q, q2) && same(p, p2) && same(g, g2) && same(y, y2),
            (Self::Ed25519(a), Self::Ed25519(b)) => a == b,
            _ => false,
        }
    }

    /// Encodes the key as `HS_PUBKEY` data.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out);
        match self {
            Self::Rsa { exponent, modulus } => {
                w.str(RSA);
                w.u16(0);
                w.bytes(&positive(exponent));
                w.bytes(&positive(modulus));
            }
            Self::Dsa { q, p, g, y } => {
                w.str(DSA);
                w.u16(0);
                for field in [q, p, g, y] {
                    w.bytes(&positive(field));
                }
            }
            Self::Ed25519(key) => {
                w.str(ED25519);
                w.u16(0);
                w.bytes(key);
            }
            Self::Other { key_type, rest } => {
                w.str(key_type);
                w.u16(0);
                w.raw(rest);
            }
        }
        out
    }

    /// Decodes `HS_PUBKEY` data.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let key_type = r.str("key type")?;
        r.u16("key flags")?;
        let key = match key_type {
            RSA => {
                let exponent = unsigned(r.bytes("rsa exponent")?);
                let modulus = unsigned(r.bytes("rsa modulus")?);
                // CNRI `Util.getBytesFromPublicKey` sizes its RSA buffer for four length
                // fields but writes three, so every RSA key it encodes ends in four zero bytes.
                if r.rest() == [0, 0, 0, 0] {
                    r.take(4, "rsa padding")?;
                }
                Self::Rsa { exponent, modulus }
            }
            DSA => {
                let q = unsigned(r.bytes("dsa q")?);
                let p = unsigned(r.bytes("dsa p")?);
                let g = unsigned(r.bytes("dsa g")?);
                let y = unsigned(r.bytes("dsa y")?);
                Self::Dsa { q, p, g, y }
            }
            ED25519 => {
                let key = r.bytes("ed25519 key")?;
                Self::Ed25519(
                    key.try_into()
                        .map_err(|_| DecodeError::Invalid("ed25519 key"))?,
                )
            }
            other => {
                return Ok(Self::Other {
                    key_type: other.to_owned(),
                    rest: r.rest().to_vec(),
                });
            }
        };
        r.finish("public key")?;
        Ok(key)
    }

    /// The key as a JWK, or `None` for key types without one.
    pub fn to_jwk(&self) -> Option<Value> {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        match self {
            Self::Rsa { exponent, modulus } => {
                Some(json!({"kty": "RSA", "n": b64(modulus), "e": b64(exponent)}))
            }
            Self::Dsa { q, p, g, y } => {
                Some(json!({"kty": "DSA", "y": b64(y), "p": b64(p), "q": b64(q), "g": b64(g)}))
            }
            Self::Ed25519(key) => Some(json!({"kty": "OKP", "crv": "Ed25519", "x": b64(key)})),
            Self::Other { .. } => None,
        }
    }

    /// Reads a JWK.
    pub fn from_jwk(jwk: &Value) -> Option<Self> {
        let field = |name: &str| -> Option<Vec<u8>> {
            URL_SAFE_NO_PAD
                .decode(jwk.get(name)?.as_str()?.trim_end_matches('='))
                .ok()
        };
        match jwk.get("kty")?.as_str()? {
            "RSA" => Some(Self::Rsa {
                exponent: field("e")?,
                modulus: field("n")?,
            }),
            "DSA" => Some(Self::Dsa {
                q: field("q")?,
                p: field("p")?,
                g: field("g")?,
                y: field("y")?,
            }),
            "OKP" if jwk.get("crv")?.as_str()? == "Ed25519" => {
                Some(Self::Ed25519(field("x")?.try_into().ok()?))
            }
            _ => None,
        }
    }
}

/// Java `BigInteger.toByteArray()` of a positive number: minimal, with a leading zero when the
/// top bit is set.
fn positive(magnitude: &[u8]) -> Vec<u8> {
    let trimmed = unsigned(magnitude);
    let mut out = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|b| b & 0x80 != 0) {
        out.push(0);
    }
    out.extend_from_slice(&trimmed);
    out
}

/// The magnitude without leading zero bytes.
fn unsigned(bytes: &[u8]) -> Vec<u8> {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes[first..].to_vec()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn rsa_fields_get_java_sign_bytes() {
        let key = PublicKey::Rsa {
            exponent: vec![1, 0, 1],
            modulus: vec![0xC0, 0x01],
        };
        let bytes = key.to_bytes();
        let mut r = Reader::new(&bytes);
        assert_eq!(r.str("t").unwrap(), RSA);
        r.u16("f").unwrap();
        assert_eq!(r.bytes("e").unwrap(), &[1, 0, 1]);
        assert_eq!(r.bytes("n").unwrap(), &[0, 0xC0, 0x01]);
        assert_eq!(PublicKey::from_bytes(&bytes).unwrap(), key);
        let jwk = key.to_jwk().unwrap();
        assert_eq!(jwk["e"], "AQAB");
        assert_eq!(PublicKey::from_jwk(&jwk).unwrap(), key);
    }

    #[test]
    fn cnri_rsa_padding_is_accepted() {
        let key = PublicKey::Rsa {
            exponent: vec![1, 0, 1],
            modulus: vec![0xC0, 0x01],
        };
        let mut bytes = key.to_bytes();
        bytes.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(PublicKey::from_bytes(&bytes).unwrap(), key);
        bytes.push(0);
        assert!(PublicKey::from_bytes(&bytes).is_err());
    }

    proptest! {
        #[test]
        fn ed25519_round_trip(key in any::<[u8; 32]>()) {
            let k = PublicKey::Ed25519(key);
            prop_assert_eq!(PublicKey::from_bytes(&k.to_bytes()).unwrap(), k.clone());
            prop_assert_eq!(PublicKey::from_jwk(&k.to_jwk().unwrap()).unwrap(), k);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = PublicKey::from_bytes(&bytes);
        }
    }
}
