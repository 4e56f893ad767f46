//! The native Handle protocol (RFC 3652 with the CNRI 2.11 and IDIS extensions) over UDP, TCP
//! and the HTTP tunnel (`POST` with `Content-Type: application/x-hdl-message`).
//!
//! Every transport hands whole messages to [`Native::handle_message`], which maps a decoded
//! [`Message`](idnode_proto::wire::Message) to a resolver `Operation`, runs it through the one
//! request pipeline, and encodes the answer: response version, request digests, challenges,
//! certified responses, session MACs and encryption. It does no I/O; `now` comes in, so the
//! protocol decisions are unit-tested without sockets. The transports ([`udp`], [`tcp`],
//! [`http`]) only frame bytes, keep per-connection state (the IDIS login) and apply the UDP
//! amplification policy ([`limits`]). `docs/native.md` describes what is served.

pub(crate) mod answers;
pub mod auth;
pub mod config;
mod handler;
pub(crate) mod http;
pub mod keys;
pub(crate) mod limits;
pub mod session;
pub(crate) mod tcp;
pub(crate) mod udp;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

use idnode_certs::sign::NodeKey;
use idnode_proto::PublicKey;
use idnode_proto::wire::Message;
use rand::RngCore as _;

pub use config::{NativeConfig, SiteKeyKind};
pub(crate) use handler::{ConnCtx, Now, Transport};

use answers::AnswerCache;
use keys::{RsaSiteKey, SiteSigner};
use limits::UdpPolicy;
use session::Session;

/// The most challenges and sessions kept at once; older ones are dropped first.
const MAX_PENDING: usize = 100_000;

/// A challenge waiting for its answer.
#[derive(Debug)]
struct Pending {
    /// The request that was challenged, with its header and body as received.
    original: Message,
    original_header_body: Vec<u8>,
    /// The challenge nonce.
    nonce: [u8; 16],
    /// The raw request digest the answer covers.
    digest: Vec<u8>,
    /// When the challenge stops being answerable.
    expires: Instant,
}

/// The native protocol's shared state: site key, challenges, sessions and limits. It lives in
/// the node's `State` so that every transport (and a challenge answered on another connection)
/// sees the same tables.
pub struct Native {
    config: NativeConfig,
    signer: SiteSigner,
    challenges: Mutex<HashMap<u32, Pending>>,
    sessions: Mutex<HashMap<u32, Session>>,
    next_id: AtomicU32,
    pub(crate) udp_policy: UdpPolicy,
    /// Encoded answers to anonymous resolutions, dropped by every commit that changes them.
    pub(crate) answers: Arc<AnswerCache>,
    /// When expired challenges and sessions were last dropped, in milliseconds since `epoch`.
    last_expiry_ms: AtomicU64,
    epoch: Instant,
}

impl std::fmt::Debug for Native {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Native").finish_non_exhaustive()
    }
}

impl Native {
    /// Sets up the native protocol state; loads (or makes) the RSA site key when the native
    /// listener is enabled and `site_key = "rsa"`.
    pub fn open(config: &NativeConfig, data: &Path) -> anyhow::Result<Self> {
        let signer = match (config.address(), config.site_key) {
            (Some(_), SiteKeyKind::Rsa) => SiteSigner::Rsa(RsaSiteKey::load_or_create(data)?),
            _ => SiteSigner::Ed25519,
        };
        Ok(Self::with_signer(config.clone(), signer))
    }

    fn with_signer(config: NativeConfig, signer: SiteSigner) -> Self {
        // Session ids start at a random point so that ids from an earlier run are not reused.
        let start = rand::rngs::OsRng.next_u32() % 1_000_000 + 1;
        Self {
            udp_policy: UdpPolicy::new(&config),
            answers: Arc::new(AnswerCache::new(config.answer_cache_bytes)),
            last_expiry_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            config,
            signer,
            challenges: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
            next_id: AtomicU32::new(start),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &NativeConfig {
        &self.config
    }

    /// Whether the native listener is enabled.
    pub fn enabled(&self) -> bool {
        self.config.address().is_some()
    }

    /// The key published in the site information.
    pub fn published_key(&self, node_key: &NodeKey) -> PublicKey {
        match &self.signer {
            SiteSigner::Rsa(key) => key.public_key(),
            SiteSigner::Ed25519 => PublicKey::Ed25519(node_key.public_key_bytes()),
        }
    }

    /// Signs `message` with the key published in the site information, returning the digest
    /// algorithm's name (`SHA-256` for RSA, `Ed25519`) and the signature.
    pub(crate) fn sign_as_site(
        &self,
        node_key: &NodeKey,
        message: &[u8],
    ) -> Option<(&'static str, Vec<u8>)> {
        self.signer.sign(node_key, message)
    }

    /// A new session or challenge id, never 0.
    fn next_id(&self) -> u32 {
        loop {
            let id = self.next_id.fetch_add(1, Ordering::Relaxed) & 0x7fff_ffff;
            if id != 0 {
                return id;
            }
        }
    }

    /// Records that `peer` completed a TCP or HTTP exchange, so UDP responses to it may be
    /// larger (see [`limits::UdpPolicy`]).
    pub(crate) fn mark_verified(&self, peer: SocketAddr, now: Instant) {
        self.udp_policy.verify(peer.ip(), now);
    }

    /// Answers a plain anonymous resolution from the cache into `out`; `false` when the
    /// message must take the full path (see [`answers`]).
    pub(crate) fn answer_from_cache(
        &self,
        bytes: &[u8],
        scratch: &mut answers::Scratch,
        out: &mut Vec<u8>,
    ) -> bool {
        answers::fast_answer(&self.answers, bytes, scratch, out)
    }
}
