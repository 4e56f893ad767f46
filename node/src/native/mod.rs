//! The native Handle protocol (RFC 3652 with the CNRI 2.11 and IDIS extensions) over UDP, TCP
//! and the HTTP tunnel (`POST` with `Content-Type: application/x-hdl-message`).
//!
//! Every transport hands whole messages to [`Native::handle_message`], which maps a decoded
//! [`Message`](idnode_proto::wire::Message) to a resolver `Operation`, runs it through the one
//! request pipeline, and encodes the answer: response version, request digests, challenges,
//! certified responses, session MACs and encryption. It does no I/O; `now` comes in, so the
//! protocol decisions are unit-tested without sockets. The transports (the TCP and UDP loops in
//! `crate::server`, the HTTP tunnel in `crate::api::tunnel`) only frame bytes, keep
//! per-connection state (the IDIS login) and apply the UDP amplification policy ([`limits`]).
//! `docs/native.md` describes what is served.

pub(crate) mod answers;
pub mod auth;
mod handler;
pub(crate) mod limits;
pub mod session;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

use idnode_proto::wire::Message;
use rand::RngCore as _;

use crate::core::Core;

pub use crate::config::{NativeConfig, SiteKeyKind};
pub(crate) use handler::{ConnCtx, Now, Transport};

use answers::AnswerCache;
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

/// The native protocol's own state: challenges, sessions, limits and the answer cache. One
/// value serves every transport (UDP, TCP and the HTTP tunnel), so that a challenge answered on
/// another connection finds its table.
pub struct Native {
    config: NativeConfig,
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

/// The native protocol's state next to the core: what every native transport holds.
#[derive(Debug)]
pub struct NativeNode {
    /// What every part shares.
    pub core: Arc<Core>,
    /// The native protocol's own state.
    pub native: Native,
}

impl std::ops::Deref for NativeNode {
    type Target = Core;

    fn deref(&self) -> &Core {
        &self.core
    }
}

impl NativeNode {
    /// The native protocol over `core`; its answer cache follows the core's commits.
    pub fn new(core: Arc<Core>) -> Arc<Self> {
        let federation = &core.config.federation;
        let recursed = if federation.recurses() {
            federation.cache_entries
        } else {
            0
        };
        let native = Native::new(&core.config.native, recursed);
        let answers = Arc::clone(&native.answers);
        core.add_commit_listener(Arc::new(move |notice| answers.invalidate(notice)));
        Arc::new(Self { core, native })
    }

    /// Answers a plain anonymous resolution from `peer` from the cache into `out`; `false`
    /// when the message must take the full path (see [`answers`]).
    pub(crate) fn answer_from_cache(
        &self,
        bytes: &[u8],
        peer: std::net::IpAddr,
        scratch: &mut answers::Scratch,
        out: &mut Vec<u8>,
    ) -> bool {
        let answered = answers::fast_answer(&self.native.answers, bytes, scratch, out, || {
            self.core.recursion_for(peer, true, 0, false).is_some()
        });
        if answered {
            crate::metrics::tally::count(&crate::metrics::tally::NATIVE);
        }
        answered
    }
}

impl Native {
    /// Sets up the native protocol state: empty challenge and session tables, the UDP policy
    /// and the answer cache, with room for `recursed` answers resolved elsewhere. (The site
    /// key is the core's.)
    pub fn new(config: &NativeConfig, recursed: usize) -> Self {
        let config = config.clone();
        // Session ids start at a random point so that ids from an earlier run are not reused.
        let start = rand::rngs::OsRng.next_u32() % 1_000_000 + 1;
        Self {
            udp_policy: UdpPolicy::new(&config),
            answers: Arc::new(AnswerCache::new(config.answer_cache_bytes, recursed)),
            last_expiry_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            config,
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
}
