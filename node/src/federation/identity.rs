//! This node's identity at the top-level node (`[federation] identity` and `identity_key`) as
//! an `idnode-client` [`Signer`]: `HS_SECKEY` for a secret, or an `HS_PUBKEY` signature with
//! an SM2 (SM3 digest, the identity's handle as the distinguishing identifier, as IDIS clients
//! sign), RSA (SHA-256, which the reference server checks) or Ed25519 key.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use ed25519_dalek::Signer as _;
use ed25519_dalek::pkcs8::DecodePrivateKey as _;
use idnode_certs::sm2::Sm2Key;
use idnode_client::auth::{SecretKey, Signer};
use idnode_proto::ValueRef;
use idnode_proto::wire::{AuthResponse, HS_PUBKEY};

use crate::keys::RsaSiteKey;

/// A private key answering with a signature.
enum Key {
    Rsa(RsaSiteKey),
    Sm2(Sm2Key),
    Ed25519(ed25519_dalek::SigningKey),
}

struct KeySigner {
    identity: ValueRef,
    key: Key,
}

impl Signer for KeySigner {
    fn identity(&self) -> &ValueRef {
        &self.identity
    }

    fn answer(&self, m: &[u8]) -> Result<(&'static str, Vec<u8>), String> {
        let (hash_alg, signature) = match &self.key {
            Key::Rsa(key) => ("SHA-256", key.sign(m).ok_or("RSA signing failed")?),
            Key::Sm2(key) => (
                "SM3",
                key.answer_challenge(&self.identity.handle, m)
                    .map_err(|e| e.to_string())?,
            ),
            Key::Ed25519(key) => ("Ed25519", key.sign(m).to_bytes().to_vec()),
        };
        let response = AuthResponse::Signature {
            hash_alg,
            signature: &signature,
        };
        Ok((HS_PUBKEY, response.to_bytes()))
    }
}

/// Loads the identity `identity` (`index:handle`) with the key in `key_file`.
pub fn load(identity: &str, key_file: &Path) -> anyhow::Result<Arc<dyn Signer>> {
    let identity = ValueRef::parse(identity).with_context(|| {
        format!(
            "[federation] identity {identity:?}: expected index:handle, such as 300:0.NA/88.118"
        )
    })?;
    let bytes = std::fs::read(key_file).with_context(|| {
        format!(
            "cannot read [federation] identity_key {}",
            key_file.display()
        )
    })?;
    let text = String::from_utf8_lossy(&bytes);
    if !text.contains("-----BEGIN") {
        let secret = text.trim_end_matches(['\r', '\n']).as_bytes().to_vec();
        anyhow::ensure!(
            !secret.is_empty(),
            "[federation] identity_key {} is empty",
            key_file.display()
        );
        return Ok(Arc::new(SecretKey::new(identity, secret)));
    }
    let key = if let Ok(key) = RsaSiteKey::from_pem(&text) {
        Key::Rsa(key)
    } else if let Ok(key) = Sm2Key::from_pkcs8(&bytes) {
        Key::Sm2(key)
    } else if let Ok(key) = ed25519_dalek::SigningKey::from_pkcs8_pem(text.trim()) {
        Key::Ed25519(key)
    } else {
        anyhow::bail!(
            "[federation] identity_key {} is PEM but no RSA, SM2 or Ed25519 PKCS#8 private key",
            key_file.display()
        );
    };
    Ok(Arc::new(KeySigner { identity, key }))
}
