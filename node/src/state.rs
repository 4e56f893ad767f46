//! The node's shared state: the data directory, its keys, and the resolver built on them.
//!
//! Data directory layout:
//!
//! | path | what |
//! |---|---|
//! | `idnode.redb` | the database |
//! | `keys/secret-seal.key` | the 32-byte key that seals stored `HS_SECKEY` secrets (mode 0600) |
//! | `keys/node-ed25519.pem` | the node's Ed25519 signing key, published in its site information |
//! | `keys/trace-log.pem`, `keys/trace-record.pem`, `keys/trace-witness.pem` | the Ed25519 keys that sign checkpoints, trace records and cosignatures |
//! | `keys/native-rsa.pem` | the RSA key of the native site information and certified native responses (made when the native listener is on) |
//! | `tls/cert.pem`, `tls/key.pem` | the self-signed certificate made on first start |
//! | `search/` | the search index, derived from the database and rebuilt when missing (`idnode-search`) |

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use idnode_certs::secret::{CredentialCache, SecretKeeper};
use idnode_certs::sign::NodeKey;
use idnode_proto::{HandleRules, ValueRef};
use idnode_registry::RedbStore;
use idnode_resolver::{Random, Resolver, SecretSealer};
use rand::RngCore as _;
use rand::rngs::OsRng;

use crate::config::Config;

/// The resolver type the node runs.
pub type NodeResolver = Resolver<RedbStore>;

/// What every listener shares.
pub struct State {
    /// The configuration in force.
    pub config: Config,
    /// The request pipeline.
    pub resolver: NodeResolver,
    /// The node's signing key.
    pub node_key: NodeKey,
    /// The native Handle protocol's keys, challenges, sessions and limits.
    pub native: crate::native::Native,
    /// Signed traceability records, the log and witnessing.
    pub trace: crate::trace::TraceState,
    /// Rendered REST resolutions, dropped by every commit that changes them.
    pub(crate) cache: Arc<crate::cache::ResponseCache>,
    /// The REST API's `Authorization: Handle` sessions.
    pub(crate) rest_sessions: crate::rest_auth::Sessions,
    /// The search index, if it could be opened.
    pub(crate) search: Option<Arc<idnode_search::SearchIndex>>,
}

impl State {
    /// Opens (creating if needed) the data directory and everything in it.
    pub fn open(config: Config) -> anyhow::Result<Arc<Self>> {
        let data = config.data.clone();
        fs::create_dir_all(&data)
            .with_context(|| format!("cannot create data directory {}", data.display()))?;
        let store = RedbStore::open(&data.join("idnode.redb"))
            .with_context(|| format!("cannot open database in {}", data.display()))?;
        let cache = Arc::new(crate::cache::ResponseCache::new(
            config.http.cache_max_bytes,
        ));
        let native = crate::native::Native::open(&config.native, &data)?;
        // One listener drops what a commit changed from the REST and the native answer caches.
        store.set_commit_listener({
            let cache = Arc::clone(&cache);
            let answers = Arc::clone(&native.answers);
            Arc::new(move |notice: &idnode_registry::CommitNotice| {
                cache.invalidate(notice);
                answers.invalidate(notice);
            })
        });
        let keeper = SecretKeeper::new(load_or_create_seal_key(&data)?);
        let node_key = load_or_create_node_key(&data)?;
        let trace = crate::trace::TraceState::open(&data, &config.trace)?;
        let server_admins = config
            .auth
            .server_admins
            .iter()
            .map(|s| {
                ValueRef::parse(s)
                    .with_context(|| format!("invalid server admin {s:?}: expected index:handle"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let auditors = config
            .auth
            .auditors
            .iter()
            .map(|s| {
                ValueRef::parse(s)
                    .with_context(|| format!("invalid auditor {s:?}: expected index:handle"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let (daily_request_quota, daily_registration_quota) = config.daily_quotas();
        let resolver_config = idnode_resolver::Config {
            auditors,
            daily_request_quota,
            daily_registration_quota,
            handle_rules: HandleRules {
                max_len: config.handles.max_length,
            },
            server_admins,
            ..idnode_resolver::Config::default()
        };
        let sealer = Sealer {
            cache: CredentialCache::new(CredentialCache::DEFAULT_CAPACITY, &mut OsRng),
            keeper,
            iterations: config.auth.secret_iterations,
        };
        let resolver = Resolver::new(store, resolver_config, Box::new(OsRandom), Box::new(sealer));
        Ok(Arc::new(Self {
            config,
            resolver,
            node_key,
            native,
            trace,
            cache,
            rest_sessions: crate::rest_auth::Sessions::default(),
            search: crate::search::open(&data),
        }))
    }
}

/// Randomness from the operating system.
struct OsRandom;

impl Random for OsRandom {
    fn fill(&self, buf: &mut [u8]) {
        OsRng.fill_bytes(buf);
    }
}

/// Seals secrets with idnode-certs and remembers successful checks, so that HTTP Basic
/// authentication pays PBKDF2 once per identity and secret, not once per request.
struct Sealer {
    keeper: SecretKeeper,
    cache: CredentialCache,
    iterations: u32,
}

impl SecretSealer for Sealer {
    fn seal(&self, secret: &[u8]) -> Vec<u8> {
        match self.keeper.seal(secret, self.iterations, &mut OsRng) {
            Ok(sealed) => sealed,
            // Value checks bound secrets well below the sealer's limit, so this is not reached;
            // storing nothing usable is the safe fallback.
            Err(e) => {
                tracing::error!(error = %e, "cannot seal secret");
                Vec::new()
            }
        }
    }

    fn verify(&self, identity: &ValueRef, stored: &[u8], candidate: &[u8]) -> bool {
        if !SecretKeeper::is_sealed(stored) {
            // Secrets are always sealed when written; an unsealed one is never accepted.
            return false;
        }
        self.cache
            .verify(&self.keeper, &identity.to_string(), stored, candidate)
            .unwrap_or(false)
    }

    fn open(&self, stored: &[u8]) -> Option<Vec<u8>> {
        self.keeper.open(stored).ok()
    }
}

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

fn load_or_create_seal_key(data: &Path) -> anyhow::Result<[u8; 32]> {
    let path = data.join("keys").join("secret-seal.key");
    if path.exists() {
        let bytes = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        return bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("{} must hold exactly 32 bytes", path.display()));
    }
    let key = SecretKeeper::generate_master_key(&mut OsRng);
    write_private(&path, &key)?;
    Ok(key)
}

fn load_or_create_node_key(data: &Path) -> anyhow::Result<NodeKey> {
    let path = data.join("keys").join("node-ed25519.pem");
    if path.exists() {
        let pem =
            fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        return NodeKey::from_pkcs8_pem(&pem)
            .with_context(|| format!("invalid key in {}", path.display()));
    }
    let key = NodeKey::generate(&mut OsRng);
    let pem = key.to_pkcs8_pem().context("cannot encode node key")?;
    write_private(&path, pem.as_bytes())?;
    Ok(key)
}

/// The certificate and key files for HTTPS: the configured ones, or a self-signed pair made in
/// `<data>/tls/` on first start.
pub fn tls_files(config: &Config) -> anyhow::Result<(PathBuf, PathBuf)> {
    if let (Some(cert), Some(key)) = (&config.https.cert, &config.https.key) {
        return Ok((cert.clone(), key.clone()));
    }
    let dir = config.data.join("tls");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    if !cert.exists() || !key.exists() {
        let mut names = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ];
        if let Some(addr) = config.https.listen {
            let ip = addr.ip().to_string();
            if !names.contains(&ip) && !addr.ip().is_unspecified() {
                names.push(ip);
            }
        }
        let pair = idnode_certs::tls::self_signed(&names, std::time::SystemTime::now())
            .context("cannot generate a TLS certificate")?;
        let _ = fs::remove_file(&cert);
        let _ = fs::remove_file(&key);
        write_private(&key, pair.key_pem.as_bytes())?;
        write_private(&cert, pair.cert_pem.as_bytes())?;
        tracing::info!(cert = %cert.display(), "generated a self-signed TLS certificate");
    }
    Ok((cert, key))
}
