//! The configuration file (TOML) and its defaults. Unknown keys are rejected, so that a typo
//! fails at start-up instead of silently doing nothing.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Deserialize;

pub mod federation;
pub mod native;

pub use federation::{FederationConfig, Role};
pub use native::{Listen, NativeConfig, SiteKeyKind};

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the database, keys and certificates live.
    pub data: PathBuf,
    /// The plain HTTP listener.
    pub http: HttpConfig,
    /// The HTTPS listener.
    pub https: HttpsConfig,
    /// Handle names.
    pub handles: HandlesConfig,
    /// Authentication and authorization.
    pub auth: AuthConfig,
    /// What this node says about itself in its site information.
    pub site: SiteConfig,
    /// The native Handle protocol over UDP, TCP and the HTTP tunnel (`docs/native.md`).
    pub native: NativeConfig,
    /// Signed traceability records, the log and witnessing.
    pub trace: TraceConfig,
    /// Limits on what clients may use, on every interface.
    pub limits: LimitsConfig,
    /// The store.
    pub store: StoreConfig,
    /// The search index.
    pub search: SearchConfig,
    /// This node's place in the hierarchy: its role and its top-level node.
    pub federation: FederationConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data: PathBuf::from("idnode-data"),
            http: HttpConfig::default(),
            https: HttpsConfig::default(),
            handles: HandlesConfig::default(),
            auth: AuthConfig::default(),
            site: SiteConfig::default(),
            native: NativeConfig::default(),
            trace: TraceConfig::default(),
            limits: LimitsConfig::default(),
            store: StoreConfig::default(),
            search: SearchConfig::default(),
            federation: FederationConfig::default(),
        }
    }
}

impl Config {
    /// The daily quotas in force: `[limits]`, or the older `[native]` keys of the same names
    /// when `[limits]` sets none.
    pub fn daily_quotas(&self) -> (u64, u64) {
        let pick = |limits: u64, native: u64| if limits != 0 { limits } else { native };
        (
            pick(
                self.limits.daily_request_quota,
                self.native.daily_request_quota,
            ),
            pick(
                self.limits.daily_registration_quota,
                self.native.daily_registration_quota,
            ),
        )
    }
}

impl Config {
    /// The same configuration without daily quotas, for the offline commands (`init`, `demo`,
    /// `import`) that the operator runs on the data directory: quotas bound network clients,
    /// and their counters live in the serving process.
    pub fn without_quotas(mut self) -> Self {
        self.limits.daily_request_quota = 0;
        self.limits.daily_registration_quota = 0;
        self.native.daily_request_quota = 0;
        self.native.daily_registration_quota = 0;
        self
    }
}

/// Limits on what clients may use. Quotas are charged per identity by the resolver, so they
/// hold on every interface: the handle.net REST API, the SNMS API, the native protocol and
/// bulk import.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Authenticated requests one identity may make per UTC day (RC 603, HTTP 429, SNMS -2
    /// after that); 0 means no limit.
    pub daily_request_quota: u64,
    /// Handles one identity may create per UTC day (RC 604 after that); 0 means no limit.
    pub daily_registration_quota: u64,
    /// Open TCP connections at once (HTTP, HTTPS and native, together), in all. When it is
    /// reached, the connection idle for longest is closed to make room for a new one; when none
    /// is idle, the new one is closed. It is lowered at start-up to what the process's file
    /// descriptor limit allows after a reserve for the store, the index and the listeners.
    pub max_connections: usize,
    /// Open TCP connections from one source address at once; one more is closed when it is
    /// accepted.
    pub max_connections_per_source: usize,
    /// How long a client may take to send a request's headers, in seconds; on HTTP/1.1 this
    /// also bounds how long a kept-alive connection may wait idle for its next request.
    pub http_header_timeout_secs: u64,
    /// Requests per second one source address may send over HTTP, HTTPS and native TCP
    /// together (bursts of twice that); more get HTTP 429 or RC 3 with a retry hint. 0 means
    /// no limit. (UDP has its own rate, `native.udp_requests_per_second`.)
    pub requests_per_second_per_source: u32,
    /// Requests being worked on at once, over every TCP interface; more get HTTP 503 or RC 3
    /// with a retry hint. Answers from the resolution caches do not count. 0 means no limit.
    pub max_requests_in_flight: usize,
    /// Request body bytes held at once, over every HTTP request being read or worked on; a
    /// request whose body does not fit gets HTTP 503 with a retry hint. 0 means no limit.
    pub max_body_bytes_in_flight: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            daily_request_quota: 0,
            daily_registration_quota: 0,
            max_connections: 4096,
            max_connections_per_source: 256,
            http_header_timeout_secs: 15,
            requests_per_second_per_source: 1000,
            max_requests_in_flight: 1024,
            max_body_bytes_in_flight: 256 << 20,
        }
    }
}

/// The store (`<data>/idnode.redb`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// The database's page cache, in bytes.
    pub cache_bytes: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            cache_bytes: idnode_registry::DEFAULT_CACHE_BYTES,
        }
    }
}

/// The search index (`<data>/search/`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct SearchConfig {
    /// Memory for the index writer's buffers, in bytes (at least 15 MiB).
    pub writer_memory_bytes: usize,
}

impl Default for SearchConfig {
    fn default() -> Self {
        Self {
            writer_memory_bytes: 64 << 20,
        }
    }
}

/// The plain HTTP listener.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address to listen on; empty disables the listener.
    pub listen: Option<SocketAddr>,
    /// Accept authenticated writes over plain HTTP from loopback addresses. Off by default:
    /// credentials sent in clear text are ignored, as the reference server does.
    pub allow_loopback_plain_writes: bool,
    /// The largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// Memory for rendered answers to anonymous resolutions, in bytes; 0 turns the cache off.
    /// Every commit drops what it changed before the writer is answered.
    pub cache_max_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 8000))),
            allow_loopback_plain_writes: false,
            max_body_bytes: 1 << 20,
            cache_max_bytes: 128 << 20,
        }
    }
}

/// The HTTPS listener.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpsConfig {
    /// Address to listen on; empty disables the listener.
    pub listen: Option<SocketAddr>,
    /// A PEM certificate chain. Without one, a self-signed certificate is generated in
    /// `<data>/tls/` on first start.
    pub cert: Option<PathBuf>,
    /// The PEM private key of `cert`.
    pub key: Option<PathBuf>,
    /// Ask clients for an optional TLS certificate, which authenticates a request without an
    /// `Authorization` header (or with `Authorization: Handle clientCert="true"`) as the
    /// identity in its subject's UID or CN, when its key is an `HS_PUBKEY` value there.
    /// Browsers holding personal certificates may offer one for the console; turn this off to
    /// stop that.
    pub client_certificates: bool,
}

impl Default for HttpsConfig {
    fn default() -> Self {
        Self {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 8443))),
            cert: None,
            key: None,
            client_certificates: true,
        }
    }
}

/// Handle names.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct HandlesConfig {
    /// The longest accepted handle in bytes.
    pub max_length: usize,
}

impl Default for HandlesConfig {
    fn default() -> Self {
        Self { max_length: 255 }
    }
}

/// Authentication and authorization.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Identities (`index:handle`) with every permission on every handle, such as
    /// `300:0.NA/88.118.8`.
    pub server_admins: Vec<String>,
    /// PBKDF2 iterations used when a secret key is stored.
    pub secret_iterations: u32,
    /// Auditors (regulators, `index:handle`): they read every value, public or not, and the
    /// audit log, and write nothing; each of their reads is audited.
    pub auditors: Vec<String>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            server_admins: Vec::new(),
            secret_iterations: 100_000,
            auditors: Vec::new(),
        }
    }
}

/// What the node publishes about itself.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct SiteConfig {
    /// A human-readable description.
    pub description: String,
    /// The address published for this node's servers; defaults to the HTTP listen address.
    pub public_address: Option<std::net::IpAddr>,
}

impl Default for SiteConfig {
    fn default() -> Self {
        Self {
            description: "idnode secondary node".into(),
            public_address: None,
        }
    }
}

/// Signed traceability records, the log and witnessing (`docs/traceability.md`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct TraceConfig {
    /// The log origin: the first line of every checkpoint and the log key's name, such as
    /// `id.example.cn/hazchem-log`. Defaults to `idnode.invalid/log-<log key ID>`.
    pub origin: Option<String>,
    /// The record key's name (the JWS `kid` is `<name>+<key ID>`). Defaults to
    /// `<origin>/records`.
    pub record_key_name: Option<String>,
    /// This node's witness key name. Defaults to `<origin>/witness`.
    pub witness_name: Option<String>,
    /// URL bases under which this node's handles appear in events besides `hdl:` and
    /// `…/api/handles/`, such as `https://id.example.cn/`; `<base>PREFIX/SUFFIX` names a handle.
    pub resolver_bases: Vec<String>,
    /// The most events one capture accepts.
    pub max_events: usize,
    /// The largest capture body in bytes.
    pub max_capture_bytes: usize,
    /// The shortest time between two checkpoints, in milliseconds.
    pub checkpoint_interval_ms: u64,
    /// How many stored log hashes to keep in memory for proofs and tiles (about 48 bytes
    /// each); 0 turns the cache off.
    pub hash_cache_entries: usize,
    /// Logs this node witnesses: their origins and verifier keys.
    pub peers: Vec<PeerLog>,
    /// Witnesses asked to cosign this node's checkpoints.
    pub witnesses: Vec<WitnessPeer>,
}

impl Default for TraceConfig {
    fn default() -> Self {
        Self {
            origin: None,
            record_key_name: None,
            witness_name: None,
            resolver_bases: Vec::new(),
            max_events: 10_000,
            max_capture_bytes: 32 << 20,
            checkpoint_interval_ms: 1000,
            hash_cache_entries: 1 << 21,
            peers: Vec::new(),
            witnesses: Vec::new(),
        }
    }
}

/// A log this node witnesses.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PeerLog {
    /// The log's verifier key (`<origin>+<key ID>+<base64 key>`); its name is the origin.
    pub vkey: String,
}

/// A witness this node asks for cosignatures.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct WitnessPeer {
    /// The witness's cosignature verifier key (type `0x04`).
    pub vkey: String,
    /// Its `add-checkpoint` URL, such as `https://witness.example/witness/add-checkpoint`.
    pub url: String,
    /// A PEM certificate to trust for an `https` URL (otherwise none is trusted).
    pub ca_file: Option<PathBuf>,
}

impl Config {
    /// Reads a configuration file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("invalid config file {}", path.display()))
    }

    /// Parses configuration text.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        Ok(toml::from_str(text)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = include_str!("../../../docs/idnode.example.toml");

    #[test]
    fn sample_config_parses() {
        let config = Config::parse(SAMPLE).unwrap();
        assert_eq!(config.handles.max_length, 255);
        assert_eq!(config.trace, TraceConfig::default());
        assert_eq!(Config::parse("").unwrap(), Config::default());
    }

    #[test]
    fn the_documented_hierarchy_configs_parse() {
        let top = Config::parse(include_str!("../../../docs/federation/top-level.toml")).unwrap();
        assert_eq!(top.federation.role, Role::TopLevel);
        for text in [
            include_str!("../../../docs/federation/secondary-88.118.toml"),
            include_str!("../../../docs/federation/secondary-88.119.toml"),
        ] {
            let config = Config::parse(text).unwrap();
            assert!(config.federation.recurses());
            assert!(config.federation.identity.is_some());
        }
    }

    #[test]
    fn unknown_keys_are_rejected_in_every_table() {
        assert!(Config::parse("bogus = 1").is_err());
        for table in [
            "http",
            "https",
            "handles",
            "auth",
            "site",
            "trace",
            "native",
            "limits",
            "federation",
        ] {
            let text = format!("{SAMPLE}\n[{table}]\nbogus = 1\n");
            // A repeated table is itself an error; test the key inside a fresh document too.
            assert!(Config::parse(&text).is_err(), "{table}");
            assert!(
                Config::parse(&format!("[{table}]\nbogus = 1\n")).is_err(),
                "{table}"
            );
        }
    }
}
