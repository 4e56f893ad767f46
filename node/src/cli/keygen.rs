//! `idnode keygen`: a new identity key pair. The private key goes to a file readable only by
//! its owner (PKCS#8 PEM, what the IDIS SDK and the Handle.Net tools' converters read); the
//! public key is printed as the `HS_PUBKEY` value to store in the identity's handle, in the
//! REST API's JSON (a JWK) and as the native encoding in base64.

use std::path::Path;

use anyhow::Context as _;
use base64::Engine as _;
use idnode_proto::PublicKey;
use serde_json::{Value, json};

use crate::keys::{RsaSiteKey, write_private};

/// The key types `idnode keygen` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KeyAlgorithm {
    /// SM2 (GB/T 32918), the national algorithm of IDIS nodes and clients.
    Sm2,
    /// RSA-2048, which Handle.Net clients and servers understand.
    Rsa,
    /// Ed25519, for idnode's own clients.
    Ed25519,
}

/// Makes a key pair, writes the private key to `out` (which must not exist) and returns the
/// `HS_PUBKEY` value at `index` as JSON.
pub fn run(algorithm: KeyAlgorithm, out: &Path, index: u32) -> anyhow::Result<Value> {
    let mut rng = rand::rngs::OsRng;
    let (pem, public) = match algorithm {
        KeyAlgorithm::Sm2 => {
            let key = idnode_certs::sm2::Sm2Key::generate(&mut rng);
            (key.to_pkcs8_pem()?, key.public_key())
        }
        KeyAlgorithm::Rsa => {
            let pem = RsaSiteKey::generate_pem()?;
            let public = RsaSiteKey::from_pem(&pem)?.public_key();
            (pem, public)
        }
        KeyAlgorithm::Ed25519 => {
            use ed25519_dalek::pkcs8::EncodePrivateKey as _;
            let key = ed25519_dalek::SigningKey::generate(&mut rng);
            let pem = key
                .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
                .context("cannot encode the Ed25519 key")?;
            (
                pem.to_string(),
                PublicKey::Ed25519(key.verifying_key().to_bytes()),
            )
        }
    };
    write_private(out, pem.as_bytes())?;
    Ok(json!({
        "index": index,
        "type": "HS_PUBKEY",
        "data": {"format": "key", "value": public.to_jwk()},
        "hs_pubkey_base64": base64::engine::general_purpose::STANDARD.encode(public.to_bytes()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_writes_a_private_key_and_prints_its_public_key() {
        let dir = tempfile::tempdir().unwrap();
        for (algorithm, kty) in [
            (KeyAlgorithm::Sm2, "EC"),
            (KeyAlgorithm::Ed25519, "OKP"),
            (KeyAlgorithm::Rsa, "RSA"),
        ] {
            let out = dir.path().join(format!("{algorithm:?}.pem"));
            let value = run(algorithm, &out, 300).unwrap();
            assert_eq!(value["data"]["value"]["kty"], kty);
            let pem = std::fs::read_to_string(&out).unwrap();
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
            let stored = base64::engine::general_purpose::STANDARD
                .decode(value["hs_pubkey_base64"].as_str().unwrap())
                .unwrap();
            let public = PublicKey::from_bytes(&stored).unwrap();
            assert_eq!(public.to_jwk().unwrap(), value["data"]["value"]);
            if algorithm == KeyAlgorithm::Sm2 {
                let key = idnode_certs::sm2::Sm2Key::from_pkcs8(pem.as_bytes()).unwrap();
                assert_eq!(key.public_key(), public);
            }
            // An existing file is never overwritten.
            assert!(run(algorithm, &out, 300).is_err());
        }
    }
}
