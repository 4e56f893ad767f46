//! `HS_PUBKEY` data (CNRI `Util.getBytesFromPublicKey`) and its JWK form (RFC 7517).
//!
//! Layout: `UTF8String keyType` + `int2 flags` (0) + the key's fields, each as `int4 len` and a
//! big-endian two's-complement integer. idnode adds `ED25519_PUB_KEY` for its own clients: the
//! same header followed by one `bytes` field holding the 32-byte RFC 8032 public key.
//!
//! SM2 keys (GM/T 0003) come in the forms of the IDIS SDK (`Util.getBytesFromPublicKey`,
//! `ValueHelper.newIdisPublicKeyValue`): `SM2_PUB_KEY` with one `bytes` field holding the
//! PEM text of the key's SubjectPublicKeyInfo (what the SDK writes) or its DER (what the SDK
//! reads), or the PEM text alone as the whole value. Each is read into the point; idnode
//! writes the first form.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
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
    /// `SM2_PUB_KEY` (IDIS): a point of the SM2 curve, not yet checked to lie on it.
    Sm2 {
        /// The x coordinate, big-endian.
        x: [u8; 32],
        /// The y coordinate, big-endian.
        y: [u8; 32],
    },
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
const SM2: &str = "SM2_PUB_KEY";

/// The DER of an SM2 SubjectPublicKeyInfo up to the point: `SEQUENCE { SEQUENCE { id-ecPublicKey,
/// sm2p256v1 (1.2.156.10197.1.301) }, BIT STRING { 0x04 (uncompressed) …`. An SM2 key's
/// SubjectPublicKeyInfo is this prefix and the 64 bytes of x and y.
const SM2_SPKI_PREFIX: [u8; 27] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01, 0x06, 0x08, 0x2A,
    0x81, 0x1C, 0xCF, 0x55, 0x01, 0x82, 0x2D, 0x03, 0x42, 0x00, 0x04,
];

const PEM_BEGIN: &str = "-----BEGIN PUBLIC KEY-----";
const PEM_END: &str = "-----END PUBLIC KEY-----";

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
            (Self::Sm2 { x, y }, Self::Sm2 { x: x2, y: y2 }) => x == x2 && y == y2,
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
            Self::Sm2 { x, y } => {
                w.str(SM2);
                w.u16(0);
                w.bytes(sm2_pem(x, y).as_bytes());
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
        if bytes.starts_with(PEM_BEGIN.as_bytes()) {
            return sm2_from_spki(bytes);
        }
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
            SM2 => sm2_from_spki(r.bytes("sm2 key")?)?,
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
            // RFC 7518 §6.3.1: unsigned, in as few octets as possible (no Java sign byte).
            Self::Rsa { exponent, modulus } => Some(json!({
                "kty": "RSA",
                "n": b64(&unsigned(modulus)),
                "e": b64(&unsigned(exponent)),
            })),
            Self::Dsa { q, p, g, y } => Some(json!({
                "kty": "DSA",
                "y": b64(&unsigned(y)),
                "p": b64(&unsigned(p)),
                "q": b64(&unsigned(q)),
                "g": b64(&unsigned(g)),
            })),
            Self::Ed25519(key) => Some(json!({"kty": "OKP", "crv": "Ed25519", "x": b64(key)})),
            Self::Sm2 { x, y } => {
                Some(json!({"kty": "EC", "crv": "SM2", "x": b64(x), "y": b64(y)}))
            }
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
            "EC" if jwk.get("crv")?.as_str()? == "SM2" => Some(Self::Sm2 {
                x: field("x")?.try_into().ok()?,
                y: field("y")?.try_into().ok()?,
            }),
            _ => None,
        }
    }
}

impl PublicKey {
    /// The DER SubjectPublicKeyInfo of an SM2 key.
    pub fn sm2_spki(x: &[u8; 32], y: &[u8; 32]) -> Vec<u8> {
        let mut der = Vec::with_capacity(SM2_SPKI_PREFIX.len() + 64);
        der.extend_from_slice(&SM2_SPKI_PREFIX);
        der.extend_from_slice(x);
        der.extend_from_slice(y);
        der
    }
}

/// The PEM text of an SM2 key as the IDIS SDK writes it (`KeyConverter.toX509Pem`): CRLF line
/// ends and MIME base64 lines of 76 characters.
fn sm2_pem(x: &[u8; 32], y: &[u8; 32]) -> String {
    let body = STANDARD.encode(PublicKey::sm2_spki(x, y));
    let mut pem = String::with_capacity(body.len() + 64);
    pem.push_str(PEM_BEGIN);
    pem.push_str("\r\n");
    for line in body.as_bytes().chunks(76) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push_str("\r\n");
    }
    pem.push_str(PEM_END);
    pem.push_str("\r\n");
    pem
}

/// An SM2 key from its SubjectPublicKeyInfo, as PEM text or DER. Only the uncompressed point
/// is accepted, which is what every SM2 encoder writes.
fn sm2_from_spki(bytes: &[u8]) -> Result<PublicKey, DecodeError> {
    let invalid = DecodeError::Invalid("sm2 key");
    let der = if bytes.starts_with(PEM_BEGIN.as_bytes()) {
        let text = std::str::from_utf8(bytes).map_err(|_| invalid)?;
        // The body between the markers, and nothing but line ends after them. An SM2 key's
        // body is 124 characters; anything much longer is not one.
        let (inner, after) = text[PEM_BEGIN.len()..].split_once(PEM_END).ok_or(invalid)?;
        if !after.trim().is_empty() || inner.len() > 256 {
            return Err(invalid);
        }
        let body: String = inner.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        STANDARD.decode(body).map_err(|_| invalid)?
    } else {
        bytes.to_vec()
    };
    let point = der
        .strip_prefix(&SM2_SPKI_PREFIX[..])
        .filter(|point| point.len() == 64)
        .ok_or(invalid)?;
    let (x, y) = point.split_at(32);
    Ok(PublicKey::Sm2 {
        x: x.try_into().unwrap_or([0; 32]),
        y: y.try_into().unwrap_or([0; 32]),
    })
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

    /// The public key of the signature example of GB/T 32918.2-2016 Annex A.
    const SM2_X: &str = "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020";
    const SM2_Y: &str = "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13";

    fn sm2_example() -> PublicKey {
        let hex32 = |h: &str| -> [u8; 32] {
            let bytes: Vec<u8> = (0..32)
                .map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap())
                .collect();
            bytes.try_into().unwrap()
        };
        PublicKey::Sm2 {
            x: hex32(SM2_X),
            y: hex32(SM2_Y),
        }
    }

    #[test]
    fn sm2_keys_in_every_form_of_the_idis_sdk() {
        let key = sm2_example();
        let PublicKey::Sm2 { x, y } = &key else {
            unreachable!()
        };
        // What the SDK writes: the type, flags and the PEM text of the SubjectPublicKeyInfo.
        let bytes = key.to_bytes();
        let mut r = Reader::new(&bytes);
        assert_eq!(r.str("t").unwrap(), SM2);
        r.u16("f").unwrap();
        let pem = std::str::from_utf8(r.bytes("k").unwrap())
            .unwrap()
            .to_owned();
        assert!(
            pem.starts_with("-----BEGIN PUBLIC KEY-----\r\nMFkwEwYHKoZIzj0CAQYIKoEcz1UBgi0DQgAE")
        );
        assert!(pem.ends_with("\r\n-----END PUBLIC KEY-----\r\n"));
        assert_eq!(PublicKey::from_bytes(&bytes).unwrap(), key);
        // What the SDK reads: the DER in the same field.
        let mut der_form = Vec::new();
        let mut w = Writer::new(&mut der_form);
        w.str(SM2);
        w.u16(0);
        w.bytes(&PublicKey::sm2_spki(x, y));
        assert_eq!(PublicKey::from_bytes(&der_form).unwrap(), key);
        // The PEM text alone as the value, with LF line ends.
        let bare = pem.replace("\r\n", "\n");
        assert_eq!(PublicKey::from_bytes(bare.as_bytes()).unwrap(), key);
        let jwk = key.to_jwk().unwrap();
        assert_eq!(jwk["crv"], "SM2");
        assert_eq!(PublicKey::from_jwk(&jwk).unwrap(), key);
        assert!(key.same_key(&PublicKey::from_bytes(&der_form).unwrap()));
    }

    #[test]
    fn malformed_sm2_keys_are_refused() {
        let PublicKey::Sm2 { x, y } = sm2_example() else {
            unreachable!()
        };
        let der = PublicKey::sm2_spki(&x, &y);
        let field = |data: &[u8]| {
            let mut out = Vec::new();
            let mut w = Writer::new(&mut out);
            w.str(SM2);
            w.u16(0);
            w.bytes(data);
            out
        };
        // A P-256 key (prime256v1) is not an SM2 key.
        let mut p256 = der.clone();
        p256[15..23].copy_from_slice(&[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]);
        for bad in [
            &der[..90],
            &p256[..],
            &[der.clone(), vec![0]].concat()[..],
            b"-----BEGIN PUBLIC KEY-----\nAAAA",
        ] {
            assert!(PublicKey::from_bytes(&field(bad)).is_err());
        }
        assert!(
            PublicKey::from_bytes(b"-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----")
                .is_err()
        );
        let long = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----",
            "A".repeat(4000)
        );
        assert!(PublicKey::from_bytes(long.as_bytes()).is_err());
        let trailing = format!("{}trailing", sm2_pem(&x, &y));
        assert!(PublicKey::from_bytes(trailing.as_bytes()).is_err());
    }

    proptest! {
        #[test]
        fn sm2_round_trip(x in any::<[u8; 32]>(), y in any::<[u8; 32]>()) {
            let k = PublicKey::Sm2 { x, y };
            prop_assert_eq!(PublicKey::from_bytes(&k.to_bytes()).unwrap(), k.clone());
            prop_assert_eq!(PublicKey::from_jwk(&k.to_jwk().unwrap()).unwrap(), k);
        }

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
