//! The core every part of the node shares: the configuration, the resolver and its store, the
//! node's keys, the clock, and the lifecycle phase. Each interface owns its own state on top of
//! it (native sessions, trace signers, the search index, response caches); the core knows none
//! of them, and any part can register a commit listener without changing it.
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
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::Context as _;
use idnode_certs::secret::{CredentialCache, SecretKeeper};
use idnode_certs::sign::NodeKey;
use idnode_proto::{HandleRules, PublicKey, ValueRef};
use idnode_registry::{CommitListener, CommitNotice, RedbStore, SharedStore};
use idnode_resolver::{Random, Resolver, SecretSealer};
use rand::RngCore as _;
use rand::rngs::OsRng;

use crate::config::{Config, SiteKeyKind};
use crate::keys::{RsaSiteKey, SiteSigner, write_private};
use crate::lifecycle::PhaseCell;

/// The resolver type the node runs.
pub type NodeResolver = Resolver<SharedStore>;

/// What every part of the node shares.
pub struct Core {
    /// The configuration in force.
    pub config: Config,
    /// The request pipeline, and through it the store.
    pub resolver: NodeResolver,
    /// The node's Ed25519 signing key.
    pub node_key: NodeKey,
    /// The key published in the site information and signing certified native responses.
    site_key: SiteSigner,
    /// The server's lifecycle phase.
    pub phase: PhaseCell,
    /// Everything told about each commit, before its writers are acknowledged.
    listeners: Arc<RwLock<Vec<CommitListener>>>,
    /// The parts of the node's memory that `/metrics` reports.
    pub(crate) memory: crate::metrics::MemoryParts,
    /// The sources that may ask for recursion.
    recursion_sources: Vec<crate::config::federation::Cidr>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("data", &self.config.data)
            .finish_non_exhaustive()
    }
}

impl Core {
    /// Opens (creating if needed) the data directory and everything in it, with the database
    /// in `<data>/idnode.redb`.
    pub fn open(config: Config) -> anyhow::Result<Arc<Self>> {
        let data = config.data.clone();
        fs::create_dir_all(&data)
            .with_context(|| format!("cannot create data directory {}", data.display()))?;
        let store = RedbStore::open_with_cache(&data.join("idnode.redb"), config.store.cache_bytes)
            .with_context(|| format!("cannot open database in {}", data.display()))?;
        Self::with_store(config, SharedStore::new(store))
    }

    /// Opens the data directory's keys around `store`, which may be any backend (tests run the
    /// whole node over `MemStore`).
    pub fn with_store(config: Config, store: SharedStore) -> anyhow::Result<Arc<Self>> {
        let data = config.data.clone();
        fs::create_dir_all(&data)
            .with_context(|| format!("cannot create data directory {}", data.display()))?;
        // One listener on the store tells every registered part what a commit changed.
        let listeners: Arc<RwLock<Vec<CommitListener>>> = Arc::default();
        store.set_commit_listener({
            let listeners = Arc::clone(&listeners);
            Arc::new(move |notice: &CommitNotice| {
                let listeners = match listeners.read() {
                    Ok(listeners) => listeners,
                    Err(poisoned) => poisoned.into_inner(),
                };
                for listener in listeners.iter() {
                    listener(notice);
                }
            })
        });
        let keeper = SecretKeeper::new(load_or_create_seal_key(&data)?);
        let node_key = load_or_create_node_key(&data)?;
        let site_key = match (config.native.address(), config.native.site_key) {
            (Some(_), SiteKeyKind::Rsa) => SiteSigner::Rsa(RsaSiteKey::load_or_create(&data)?),
            (Some(_), SiteKeyKind::Sm2) => SiteSigner::Sm2(crate::keys::load_or_create_sm2(&data)?),
            _ => SiteSigner::Ed25519,
        };
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
            derived_homing: config.federation.role == crate::config::Role::Secondary,
            ..idnode_resolver::Config::default()
        };
        let sealer = Sealer {
            cache: CredentialCache::new(CredentialCache::DEFAULT_CAPACITY, &mut OsRng),
            keeper,
            iterations: config.auth.secret_iterations,
        };
        let resolver = Resolver::new(store, resolver_config, Box::new(OsRandom), Box::new(sealer));
        let recursion_sources = config.federation.recursion_sources()?;
        Ok(Arc::new(Self {
            config,
            resolver,
            node_key,
            site_key,
            phase: PhaseCell::default(),
            listeners,
            memory: crate::metrics::MemoryParts::default(),
            recursion_sources,
        }))
    }

    /// What a resolution from `peer` may ask of recursion: `None` unless the node recurses,
    /// the client asked (`asked`), and `peer` is one of `[federation] recursion_from`.
    pub(crate) fn recursion_for(
        &self,
        peer: std::net::IpAddr,
        asked: bool,
        count: u8,
        certified: bool,
    ) -> Option<idnode_resolver::Recursion> {
        (asked
            && self.resolver.recurses()
            && self.recursion_sources.iter().any(|c| c.contains(peer)))
        .then_some(idnode_resolver::Recursion { count, certified })
    }

    /// Registers `listener` to be told what each commit changed, after the commit is durable
    /// and before any of its writers is acknowledged (so caches never serve a replaced value
    /// to a client that saw the write succeed).
    pub fn add_commit_listener(&self, listener: CommitListener) {
        match self.listeners.write() {
            Ok(mut listeners) => listeners.push(listener),
            Err(poisoned) => poisoned.into_inner().push(listener),
        }
    }

    /// The current time in epoch seconds: the node's one clock for stamping changes.
    pub fn now(&self) -> u32 {
        unix_now()
    }

    /// The key published in the site information.
    pub fn published_key(&self) -> PublicKey {
        match &self.site_key {
            SiteSigner::Rsa(key) => key.public_key(),
            SiteSigner::Sm2(key) => key.public_key(),
            SiteSigner::Ed25519 => PublicKey::Ed25519(self.node_key.public_key_bytes()),
        }
    }

    /// Signs `message` with the key published in the site information, returning the digest
    /// algorithm's name (`SHA-256` for RSA, `SM3` for SM2, `Ed25519`) and the signature.
    pub(crate) fn sign_as_site(&self, message: &[u8]) -> Option<(&'static str, Vec<u8>)> {
        self.site_key.sign(&self.node_key, message)
    }
}

/// The current time in epoch seconds.
pub(crate) fn unix_now() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
        .unwrap_or(0)
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
