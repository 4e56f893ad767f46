//! The node's Ed25519 signing key (RFC 8032) and signature verification.
//!
//! [`NodeKey`] wraps an `ed25519_dalek::SigningKey`. It is stored as an unencrypted PKCS#8 PEM
//! document (RFC 8410), which the node keeps in a file only it can read; this crate only
//! converts to and from the text. [`verify`] uses strict verification (`verify_strict`), which
//! rejects small-order public keys and non-canonical signature encodings, so that one message
//! has one valid signature per key.

use std::fmt;

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

/// An Ed25519 key that could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The PEM text is not a PKCS#8 Ed25519 private key.
    #[error("not a PKCS#8 Ed25519 private key: {0}")]
    InvalidPkcs8(String),
    /// The key could not be encoded as PKCS#8.
    #[error("cannot encode the key as PKCS#8: {0}")]
    Encode(String),
}

/// The node's Ed25519 signing key.
///
/// Its `Debug` form shows only the public key.
#[derive(Clone)]
pub struct NodeKey {
    signing: SigningKey,
}

impl NodeKey {
    /// Generates a new key from `rng`.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        Self {
            signing: SigningKey::generate(rng),
        }
    }

    /// Makes the key whose RFC 8032 private key (the 32-byte seed) is `seed`.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self {
            signing: SigningKey::from_bytes(seed),
        }
    }

    /// Reads a key from a PKCS#8 PEM document (`-----BEGIN PRIVATE KEY-----`, RFC 8410).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, SignError> {
        SigningKey::from_pkcs8_pem(pem)
            .map(|signing| Self { signing })
            .map_err(|err| SignError::InvalidPkcs8(err.to_string()))
    }

    /// Writes the key as a PKCS#8 PEM document with `\n` line endings. The text is wiped from
    /// memory when the returned value is dropped.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, SignError> {
        self.signing
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|err| SignError::Encode(err.to_string()))
    }

    /// Returns the 32-byte public key (RFC 8032 §5.1.5).
    pub fn public_key_bytes(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    /// Signs `message` and returns the 64-byte signature `R ‖ S` (RFC 8032 §5.1.6).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }
}

impl fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeKey")
            .field("public", &Hex(&self.public_key_bytes()))
            .finish_non_exhaustive()
    }
}

/// Checks the Ed25519 `signature` of `message` under `public`, strictly (see the module doc).
///
/// Returns `false` for a malformed public key as well as for a wrong signature.
pub fn verify(public: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(public) else {
        return false;
    };
    key.verify_strict(message, &Signature::from_bytes(signature))
        .is_ok()
}

/// Formats bytes as lowercase hex in `Debug` output.
struct Hex<'a>(&'a [u8]);

impl fmt::Debug for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use serde::Deserialize;

    use super::*;

    #[derive(Deserialize)]
    struct VectorFile {
        vectors: Vec<Vector>,
    }

    #[derive(Deserialize)]
    struct Vector {
        name: String,
        secret_key: String,
        public_key: String,
        message: String,
        message_len: usize,
        signature: String,
    }

    fn rfc8032_vectors() -> Vec<Vector> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../conformance/vectors/ed25519/rfc8032-7.1.json"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let file: VectorFile = serde_json::from_str(&text).unwrap();
        assert_eq!(file.vectors.len(), 5);
        file.vectors
    }

    fn array<const N: usize>(text: &str) -> [u8; N] {
        hex::decode(text).unwrap().try_into().unwrap()
    }

    #[test]
    fn rfc8032_section_7_1() {
        for vector in rfc8032_vectors() {
            let key = NodeKey::from_seed(&array(&vector.secret_key));
            let message = hex::decode(&vector.message).unwrap();
            assert_eq!(message.len(), vector.message_len, "{}", vector.name);
            let public = array::<32>(&vector.public_key);
            let signature = array::<64>(&vector.signature);
            assert_eq!(key.public_key_bytes(), public, "{}", vector.name);
            assert_eq!(key.sign(&message), signature, "{}", vector.name);
            assert!(verify(&public, &message, &signature), "{}", vector.name);
        }
    }

    #[test]
    fn altered_message_or_signature_fails() {
        let vector = rfc8032_vectors().remove(2);
        let public = array::<32>(&vector.public_key);
        let mut message = hex::decode(&vector.message).unwrap();
        let mut signature = array::<64>(&vector.signature);
        message[0] ^= 1;
        assert!(!verify(&public, &message, &signature));
        message[0] ^= 1;
        signature[10] ^= 0x40;
        assert!(!verify(&public, &message, &signature));
    }

    #[test]
    fn strict_verification_rejects_small_order_key() {
        // The identity point (y = 1) has small order; with the identity as R and S = 0, the
        // non-strict equation holds for every message, so only strict checking rejects it.
        let mut public = [0u8; 32];
        public[0] = 1;
        let mut signature = [0u8; 64];
        signature[0] = 1;
        let lax = VerifyingKey::from_bytes(&public).unwrap();
        let parsed = Signature::from_bytes(&signature);
        assert!(ed25519_dalek::Verifier::verify(&lax, b"any message", &parsed).is_ok());
        assert!(!verify(&public, b"any message", &signature));
    }

    #[test]
    fn malformed_public_key_fails() {
        // y = 2 is not the y coordinate of any curve point.
        let mut public = [0u8; 32];
        public[0] = 2;
        assert!(!verify(&public, b"m", &[0u8; 64]));
    }

    #[test]
    fn pkcs8_pem_round_trip() {
        let mut rng = StdRng::seed_from_u64(7);
        let key = NodeKey::generate(&mut rng);
        let pem = key.to_pkcs8_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let back = NodeKey::from_pkcs8_pem(&pem).unwrap();
        assert_eq!(back.public_key_bytes(), key.public_key_bytes());
        let signature = back.sign(b"hello");
        assert!(verify(&key.public_key_bytes(), b"hello", &signature));
    }

    #[test]
    fn pkcs8_rejects_garbage() {
        assert!(matches!(
            NodeKey::from_pkcs8_pem("nonsense"),
            Err(SignError::InvalidPkcs8(_))
        ));
        let truncated =
            "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n-----END PRIVATE KEY-----\n";
        assert!(NodeKey::from_pkcs8_pem(truncated).is_err());
    }

    #[test]
    fn debug_shows_only_the_public_key() {
        let key = NodeKey::from_seed(&[9; 32]);
        let text = format!("{key:?}");
        assert!(text.contains(&hex::encode(key.public_key_bytes())));
        assert!(!text.contains(&hex::encode([9u8; 32])));
    }
}
