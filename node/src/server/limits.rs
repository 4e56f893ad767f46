//! What one client may hold open on the TCP listeners: connections in all and per source
//! address (`[limits]`), counted together for HTTP, HTTPS and the native protocol, so that a
//! flood of connections from one source cannot take the descriptors others need.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The limits of the TCP listeners (HTTP, HTTPS and native) on what clients may hold open.
#[derive(Debug)]
pub(crate) struct ConnLimits {
    /// Open connections in all, and the most allowed.
    open: std::sync::atomic::AtomicUsize,
    max: usize,
    /// Open connections per source address, and the most allowed.
    per_source: std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>,
    max_per_source: usize,
    /// How long a request's headers (and an idle HTTP/1.1 connection) may take.
    pub(crate) header_timeout: Duration,
}

impl ConnLimits {
    /// The limits of `[limits]`, shared by every TCP listener.
    pub(crate) fn new(config: &crate::config::LimitsConfig) -> Arc<Self> {
        Arc::new(Self {
            open: std::sync::atomic::AtomicUsize::new(0),
            max: config.max_connections.max(1),
            per_source: std::sync::Mutex::default(),
            max_per_source: config.max_connections_per_source.max(1),
            header_timeout: Duration::from_secs(config.http_header_timeout_secs.max(1)),
        })
    }

    /// A slot for a new connection from `peer`, or `None` when a limit is reached.
    pub(crate) fn admit(self: &Arc<Self>, peer: SocketAddr) -> Option<ConnSlot> {
        let mut per_source = self
            .per_source
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let from_source = per_source.entry(peer.ip()).or_insert(0);
        if *from_source >= self.max_per_source || self.open.load(Ordering::Relaxed) >= self.max {
            if *from_source == 0 {
                per_source.remove(&peer.ip());
            }
            return None;
        }
        *from_source += 1;
        self.open.fetch_add(1, Ordering::Relaxed);
        Some(ConnSlot {
            limits: Arc::clone(self),
            source: peer.ip(),
        })
    }
}

/// An admitted connection; dropping it frees its place.
pub(crate) struct ConnSlot {
    limits: Arc<ConnLimits>,
    source: std::net::IpAddr,
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        self.limits.open.fetch_sub(1, Ordering::Relaxed);
        let mut per_source = self
            .limits
            .per_source
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = per_source.get_mut(&self.source) {
            *count -= 1;
            if *count == 0 {
                per_source.remove(&self.source);
            }
        }
    }
}
