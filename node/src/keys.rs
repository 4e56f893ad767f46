//! The node's site key, which signs certified native responses (`HS_SIGNED`, §10.6) and is published in the
//! site information.
//!
//! Handle.Net clients verify only RSA and DSA site keys, so by default the node makes an
//! RSA-2048 key on first start (`keys/native-rsa.pem`, PKCS#8) with the `rsa` crate and signs
//! with ring (RSASSA-PKCS1-v1_5 with SHA-256; ring cannot sign with SHA-1, so peers below 2.7,
//! which expect SHA1withRSA, get SHA-256 signatures too). With
//! `[native] site_key = "ed25519"` the node's Ed25519 key is published and used instead, and
//! with `site_key = "sm2"` an SM2 key (`keys/native-sm2.pem`, PKCS#8) made on first start,
//! signing as `idnode_certs::sm2::Sm2Key::sign_as_site` says.

use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use idnode_certs::sign::NodeKey;
use idnode_certs::sm2::Sm2Key;
use idnode_proto::PublicKey;
use ring::rand::SystemRandom;
use ring::signature::{KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};

/// Writes `bytes` to a new file readable only by its owner.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.sync_all()
        .with_context(|| format!("cannot sync {}", path.display()))?;
    Ok(())
}

/// The RSA key of the native site.
#[derive(Debug, Clone)]
pub struct RsaSiteKey {
    pair: Arc<RsaKeyPair>,
}

impl RsaSiteKey {
    /// Loads `keys/native-rsa.pem` from the data directory, creating it when missing.
    pub fn load_or_create(data: &Path) -> anyhow::Result<Self> {
        let path = data.join("keys").join("native-rsa.pem");
        if !path.exists() {
            tracing::info!(path = %path.display(), "generating the native site's RSA key");
            write_private(&path, Self::generate_pem()?.as_bytes())?;
        }
        let pem =
            fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        Self::from_pem(&pem).with_context(|| format!("invalid RSA key in {}", path.display()))
    }

    /// A new RSA-2048 private key as PKCS#8 PEM.
    pub fn generate_pem() -> anyhow::Result<String> {
        use rsa::pkcs8::EncodePrivateKey as _;
        let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)
            .context("cannot generate an RSA key")?;
        let pem = key
            .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
            .context("cannot encode the RSA key")?;
        Ok(pem.to_string())
    }

    /// Parses a PKCS#8 PEM RSA private key.
    pub fn from_pem(pem: &str) -> anyhow::Result<Self> {
        let body: String = pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<Vec<_>>()
            .concat();
        use base64::Engine as _;
        let der = base64::engine::general_purpose::STANDARD
            .decode(body.trim())
            .context("PEM body is not base64")?;
        let pair = RsaKeyPair::from_pkcs8(&der)
            .map_err(|e| anyhow::anyhow!("not a PKCS#8 RSA key: {e}"))?;
        Ok(Self {
            pair: Arc::new(pair),
        })
    }

    /// The public key in `HS_PUBKEY` form, integers as Java writes them (with a leading zero
    /// byte when the top bit is set).
    pub fn public_key(&self) -> PublicKey {
        let public = self.pair.public_key();
        let java = |bytes: &[u8]| {
            let mut out = Vec::with_capacity(bytes.len() + 1);
            if bytes.first().is_some_and(|b| b & 0x80 != 0) {
                out.push(0);
            }
            out.extend_from_slice(bytes);
            out
        };
        let components: ring::rsa::PublicKeyComponents<Vec<u8>> = public.into();
        PublicKey::Rsa {
            exponent: java(&components.e),
            modulus: java(&components.n),
        }
    }

    /// Signs with SHA256withRSA.
    pub(crate) fn sign(&self, message: &[u8]) -> Option<Vec<u8>> {
        let mut signature = vec![0u8; self.pair.public().modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut signature,
            )
            .ok()?;
        Some(signature)
    }
}

/// Loads the SM2 site key `keys/native-sm2.pem` from the data directory, creating it when
/// missing.
pub fn load_or_create_sm2(data: &Path) -> anyhow::Result<Sm2Key> {
    let path = data.join("keys").join("native-sm2.pem");
    if !path.exists() {
        tracing::info!(path = %path.display(), "generating the native site's SM2 key");
        let pem = Sm2Key::generate(&mut rand::rngs::OsRng).to_pkcs8_pem()?;
        write_private(&path, pem.as_bytes())?;
    }
    let bytes = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    Sm2Key::from_pkcs8(&bytes).with_context(|| format!("invalid SM2 key in {}", path.display()))
}

/// What signs certified responses.
#[derive(Debug, Clone)]
pub(crate) enum SiteSigner {
    /// The RSA site key.
    Rsa(RsaSiteKey),
    /// The SM2 site key.
    Sm2(Sm2Key),
    /// The node's Ed25519 key.
    Ed25519,
}

impl SiteSigner {
    /// Signs `message`, returning the credential's digest algorithm name and the signature.
    pub(crate) fn sign(
        &self,
        node_key: &NodeKey,
        message: &[u8],
    ) -> Option<(&'static str, Vec<u8>)> {
        match self {
            Self::Rsa(key) => key.sign(message).map(|sig| ("SHA-256", sig)),
            Self::Sm2(key) => key
                .sign_as_site(message)
                .ok()
                .map(|sig| (idnode_certs::sm2::CHALLENGE_HASH, sig)),
            Self::Ed25519 => Some(("Ed25519", node_key.sign(message).to_vec())),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn published_key_has_java_integers() {
        let pem = test_key_pem();
        let key = RsaSiteKey::from_pem(&pem).unwrap();
        let PublicKey::Rsa { exponent, modulus } = key.public_key() else {
            panic!("not RSA");
        };
        assert_eq!(exponent, vec![1, 0, 1]);
        assert_eq!(modulus.len(), 257);
        assert_eq!(modulus[0], 0);
        assert_eq!(key.sign(b"x").unwrap().len(), 256);
    }

    /// The RSA test key of the captured vectors' seed (marked for tests only).
    pub(crate) fn test_key_pem() -> String {
        let seed: serde_json::Value = serde_json::from_str(
            &fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../conformance/vectors/handle-native/seed.json"),
            )
            .unwrap(),
        )
        .unwrap();
        seed["identities"]["300:88.118.8/RSAADMIN"]["private_key_pkcs8_pem_test_only"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}
