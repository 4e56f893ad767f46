//! SM2 signatures (GB/T 32918.2, GM/T 0003.2) with the SM3 hash (GB/T 32905, GM/T 0004), the
//! national algorithms that IDIS nodes and clients use, as the IDIS SDK uses them
//! (`PublicKeyAuthenticationInfo`).
//!
//! An SM2 signature binds the signer's distinguishing identifier (the user ID `Z_A` is hashed
//! from): a challenge answer uses the identity's handle (`88.118.8/ADMIN`, without the index),
//! and signs the 32 bytes of `SM3(nonce ‖ requestDigest)`, which the signature hashes again
//! with `Z_A`. Signatures are DER `SEQUENCE { r, s }`. Private keys are PKCS#8, as the SDK
//! loads them.

use idnode_proto::PublicKey;
use rand_core::CryptoRngCore;
use sm2::dsa::signature::{Signer, Verifier};
use sm2::dsa::{Signature, SigningKey, VerifyingKey};
use sm2::elliptic_curve::sec1::ToEncodedPoint;
use sm2::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use sm3::{Digest, Sm3};

/// The distinguishing identifier that GB/T 32918 and GM/T 0009 use when none is agreed.
pub const DEFAULT_DISTID: &str = "1234567812345678";

/// The hash name of an SM2 challenge answer.
pub const CHALLENGE_HASH: &str = "SM3";

/// Why an SM2 key could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Sm2Error {
    /// The PKCS#8 document is not an SM2 private key.
    #[error("not an SM2 private key in PKCS#8: {0}")]
    PrivateKey(String),
    /// The distinguishing identifier is longer than SM2 allows (8 191 bytes).
    #[error("the SM2 distinguishing identifier is too long")]
    Distid,
}

/// SM3 of `data`.
pub fn sm3(data: &[u8]) -> [u8; 32] {
    Sm3::digest(data).into()
}

/// An SM2 private key.
#[derive(Clone)]
pub struct Sm2Key(sm2::SecretKey);

impl std::fmt::Debug for Sm2Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Sm2Key").field(&self.public_key()).finish()
    }
}

impl Sm2Key {
    /// A new random key.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        Self(sm2::SecretKey::random(rng))
    }

    /// The key of a 32-byte big-endian scalar.
    pub fn from_scalar(bytes: &[u8; 32]) -> Result<Self, Sm2Error> {
        sm2::SecretKey::from_bytes(bytes.into())
            .map(Self)
            .map_err(|e| Sm2Error::PrivateKey(e.to_string()))
    }

    /// Reads a PKCS#8 private key, PEM (`-----BEGIN PRIVATE KEY-----`) or DER.
    pub fn from_pkcs8(bytes: &[u8]) -> Result<Self, Sm2Error> {
        let key = match std::str::from_utf8(bytes) {
            Ok(text) if text.trim_start().starts_with("-----BEGIN") => {
                sm2::SecretKey::from_pkcs8_pem(text.trim())
            }
            _ => sm2::SecretKey::from_pkcs8_der(bytes),
        };
        key.map(Self)
            .map_err(|e| Sm2Error::PrivateKey(e.to_string()))
    }

    /// The key as PKCS#8 PEM text.
    pub fn to_pkcs8_pem(&self) -> Result<String, Sm2Error> {
        self.0
            .to_pkcs8_pem(LineEnding::LF)
            .map(|pem| pem.to_string())
            .map_err(|e| Sm2Error::PrivateKey(e.to_string()))
    }

    /// The public key, as an `HS_PUBKEY` holds it.
    pub fn public_key(&self) -> PublicKey {
        let point = self.0.public_key().to_encoded_point(false);
        let mut x = [0; 32];
        let mut y = [0; 32];
        if let (Some(px), Some(py)) = (point.x(), point.y()) {
            x.copy_from_slice(px);
            y.copy_from_slice(py);
        }
        PublicKey::Sm2 { x, y }
    }

    /// The DER signature of `message` under the distinguishing identifier `distid`.
    pub fn sign(&self, distid: &str, message: &[u8]) -> Result<Vec<u8>, Sm2Error> {
        let signer = SigningKey::new(distid, &self.0).map_err(|_| Sm2Error::Distid)?;
        let signature: Signature = signer.sign(message);
        Ok(signature_to_der(&signature))
    }

    /// A site's signature of `m` (a certified response, a server's answer to a cnonce): the
    /// same construction as a challenge answer, under the default distinguishing identifier,
    /// since a site has no identity handle of its own. Verified by
    /// [`challenge_answer_matches`] with [`DEFAULT_DISTID`].
    pub fn sign_as_site(&self, m: &[u8]) -> Result<Vec<u8>, Sm2Error> {
        self.answer_challenge(DEFAULT_DISTID, m)
    }

    /// The answer to a challenge for the identity `handle`: the signature of `SM3(m)` with the
    /// handle as the distinguishing identifier, where `m` is `nonce ‖ requestDigest` (native)
    /// or `nonce ‖ cnonce` (REST).
    pub fn answer_challenge(&self, handle: &str, m: &[u8]) -> Result<Vec<u8>, Sm2Error> {
        self.sign(handle, &sm3(m))
    }
}

/// Whether `signature` (DER) is a signature of `message` by the SM2 point `(x, y)` under the
/// distinguishing identifier `distid`. A point off the curve never verifies.
pub fn verify(x: &[u8; 32], y: &[u8; 32], distid: &str, message: &[u8], signature: &[u8]) -> bool {
    let mut sec1 = [0u8; 65];
    sec1[0] = 0x04;
    sec1[1..33].copy_from_slice(x);
    sec1[33..].copy_from_slice(y);
    let Ok(key) = VerifyingKey::from_sec1_bytes(distid, &sec1) else {
        return false;
    };
    let Some(signature) = signature_from_der(signature) else {
        return false;
    };
    key.verify(message, &signature).is_ok()
}

/// Whether `signature` answers a challenge for the identity `handle` (see
/// [`Sm2Key::answer_challenge`]).
pub fn challenge_answer_matches(
    x: &[u8; 32],
    y: &[u8; 32],
    handle: &str,
    m: &[u8],
    signature: &[u8],
) -> bool {
    verify(x, y, handle, &sm3(m), signature)
}

/// `SEQUENCE { INTEGER r, INTEGER s }`. Each integer is at most 33 bytes, so every length
/// fits in one byte.
fn signature_to_der(signature: &Signature) -> Vec<u8> {
    fn integer(out: &mut Vec<u8>, bytes: &[u8]) {
        let first = bytes
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(bytes.len() - 1);
        let magnitude = &bytes[first..];
        let pad = magnitude[0] & 0x80 != 0;
        out.push(0x02);
        out.push((magnitude.len() + usize::from(pad)) as u8);
        if pad {
            out.push(0);
        }
        out.extend_from_slice(magnitude);
    }
    let mut body = Vec::with_capacity(72);
    integer(&mut body, &signature.r_bytes());
    integer(&mut body, &signature.s_bytes());
    let mut out = Vec::with_capacity(body.len() + 2);
    out.push(0x30);
    out.push(body.len() as u8);
    out.extend_from_slice(&body);
    out
}

/// Reads a DER `SEQUENCE { INTEGER r, INTEGER s }`, strictly: nothing after it, both in
/// `1..n`.
fn signature_from_der(bytes: &[u8]) -> Option<Signature> {
    use der::{Decode, Reader};
    let mut reader = der::SliceReader::new(bytes).ok()?;
    let (r, s) = reader
        .sequence(|seq| {
            let r = der::asn1::UintRef::decode(seq)?;
            let s = der::asn1::UintRef::decode(seq)?;
            Ok((r, s))
        })
        .ok()?;
    if !reader.is_finished() {
        return None;
    }
    let scalar = |n: der::asn1::UintRef<'_>| -> Option<[u8; 32]> {
        let bytes = n.as_bytes();
        let mut out = [0u8; 32];
        out.get_mut(32usize.checked_sub(bytes.len())?..)?
            .copy_from_slice(bytes);
        Some(out)
    };
    Signature::from_scalars(scalar(r)?, scalar(s)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex32(h: &str) -> [u8; 32] {
        hex::decode(h).unwrap().try_into().unwrap()
    }

    /// GB/T 32918.2-2016 Annex A (GM/T 0003.5): the signature example on the recommended
    /// curve, message "message digest", the default identifier.
    const D: &str = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8";
    const PX: &str = "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020";
    const PY: &str = "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13";
    const R: &str = "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3";
    const S: &str = "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA";

    fn example_signature() -> Vec<u8> {
        let signature = Signature::from_scalars(hex32(R), hex32(S)).expect("the example's r and s");
        signature_to_der(&signature)
    }

    #[test]
    fn sm3_standard_vectors() {
        // GB/T 32905-2016 Annex A: "abc" and "abcd" sixteen times.
        assert_eq!(
            hex::encode(sm3(b"abc")),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
        assert_eq!(
            hex::encode(sm3("abcd".repeat(16).as_bytes())),
            "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
        );
    }

    #[test]
    fn the_standards_signature_example_verifies() {
        let key = Sm2Key::from_scalar(&hex32(D)).unwrap();
        let (x, y) = (hex32(PX), hex32(PY));
        assert_eq!(key.public_key(), PublicKey::Sm2 { x, y });
        let signature = example_signature();
        assert!(verify(
            &x,
            &y,
            DEFAULT_DISTID,
            b"message digest",
            &signature
        ));
        assert!(!verify(
            &x,
            &y,
            DEFAULT_DISTID,
            b"message digesT",
            &signature
        ));
        assert!(!verify(
            &x,
            &y,
            "ALICE123@YAHOO.COM",
            b"message digest",
            &signature
        ));
        let mut other_y = y;
        other_y[31] ^= 1;
        assert!(!verify(
            &x,
            &other_y,
            DEFAULT_DISTID,
            b"message digest",
            &signature
        ));
        assert!(!verify(
            &x,
            &y,
            DEFAULT_DISTID,
            b"message digest",
            &signature[..10]
        ));
    }

    #[test]
    fn challenge_answers_bind_the_identity_and_the_message() {
        let key = Sm2Key::generate(&mut rand::rngs::OsRng);
        let PublicKey::Sm2 { x, y } = key.public_key() else {
            unreachable!()
        };
        let m = b"nonce and request digest";
        let answer = key.answer_challenge("88.118.8/ADMIN", m).unwrap();
        assert!(challenge_answer_matches(
            &x,
            &y,
            "88.118.8/ADMIN",
            m,
            &answer
        ));
        assert!(!challenge_answer_matches(
            &x,
            &y,
            "88.118.8/OTHER",
            m,
            &answer
        ));
        assert!(!challenge_answer_matches(
            &x,
            &y,
            "88.118.8/ADMIN",
            b"other",
            &answer
        ));
        // It is a signature of SM3(m), not of m.
        assert!(verify(&x, &y, "88.118.8/ADMIN", &sm3(m), &answer));
        assert!(!verify(&x, &y, "88.118.8/ADMIN", m, &answer));
    }

    #[test]
    fn signatures_are_strict_der() {
        let der = example_signature();
        assert_eq!(der[0], 0x30);
        assert_eq!(
            signature_from_der(&der).map(|s| s.to_bytes()),
            Signature::from_scalars(hex32(R), hex32(S))
                .ok()
                .map(|s| s.to_bytes())
        );
        // Trailing bytes, a truncation, a zero r and the raw 64-byte form are refused.
        assert!(signature_from_der(&[der.clone(), vec![0]].concat()).is_none());
        assert!(signature_from_der(&der[..der.len() - 1]).is_none());
        assert!(signature_from_der(&[0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01]).is_none());
        assert!(signature_from_der(&[hex32(R), hex32(S)].concat()).is_none());
    }

    proptest::proptest! {
        #[test]
        fn signature_decoding_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80)) {
            let _ = signature_from_der(&bytes);
        }
    }

    #[test]
    fn private_keys_round_trip_through_pkcs8() {
        let key = Sm2Key::from_scalar(&hex32(D)).unwrap();
        let pem = key.to_pkcs8_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let again = Sm2Key::from_pkcs8(pem.as_bytes()).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        assert!(
            Sm2Key::from_pkcs8(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
                .is_err()
        );
        assert!(Sm2Key::from_pkcs8(&[0x30, 0x03, 0x02, 0x01, 0x00]).is_err());
    }
}
