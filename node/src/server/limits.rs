//! What clients may hold and ask of the TCP listeners (`[limits]`), counted together for
//! HTTP, HTTPS and the native protocol: open connections in all and per source address, with
//! the connection idle for longest shed to make room; a reserve of file descriptors; request
//! rates per source; and requests and body bytes in flight. So a flood from one source cannot
//! take the descriptors, memory or workers that others need.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use crate::budget::{Charge, InFlight, SourceRates};
use crate::config::LimitsConfig;

/// File descriptors kept free of connections: for the store, the search index, the UDP
/// sockets, logs and the listeners themselves.
const FD_RESERVE: u64 = 128;

/// How long the accept loop pauses after accept fails (out of descriptors, for instance).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

/// The limits of the TCP listeners, shared by all of them.
#[derive(Debug)]
pub(crate) struct ConnLimits {
    /// The open connections, oldest first, and the count per source.
    table: Mutex<Table>,
    next_id: AtomicU64,
    max: usize,
    max_per_source: usize,
    /// How long a request's headers (and an idle HTTP/1.1 connection) may take.
    pub(crate) header_timeout: Duration,
    /// Requests per second per source.
    rates: SourceRates,
    /// Requests being worked on.
    requests: Arc<InFlight>,
    /// Request body bytes held.
    pub(crate) bodies: Arc<InFlight>,
}

#[derive(Debug, Default)]
struct Table {
    open: BTreeMap<u64, Arc<ConnState>>,
    per_source: HashMap<IpAddr, usize>,
}

/// What the limits know of one open connection.
#[derive(Debug, Default)]
pub(crate) struct ConnState {
    /// Requests of this connection being worked on; idle when 0.
    busy: AtomicUsize,
    /// Set once the connection is asked to close to make room.
    shed: AtomicBool,
    /// Wakes the connection's task when it is shed.
    shed_notice: Notify,
}

impl ConnState {
    /// Marks a request as begun until the guard is dropped.
    pub(crate) fn busy(self: &Arc<Self>) -> BusyGuard {
        self.busy.fetch_add(1, Ordering::AcqRel);
        BusyGuard(Arc::clone(self))
    }

    /// Completes when the connection is shed to make room for another.
    pub(crate) async fn shed(&self) {
        loop {
            let notified = self.shed_notice.notified();
            if self.shed.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }

    /// Whether no request of the connection is being worked on.
    pub(crate) fn is_idle(&self) -> bool {
        self.busy.load(Ordering::Acquire) == 0
    }

    /// Whether the connection was shed.
    pub(crate) fn is_shed(&self) -> bool {
        self.shed.load(Ordering::Acquire)
    }
}

/// A request in progress on a connection.
#[derive(Debug)]
pub(crate) struct BusyGuard(Arc<ConnState>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

impl ConnLimits {
    /// The limits of `[limits]`, with the connection cap lowered to what the file descriptor
    /// limit allows (raised to its hard maximum first).
    pub(crate) fn new(config: &LimitsConfig) -> Arc<Self> {
        let descriptors = raise_fd_limit();
        let mut max = config.max_connections.max(1);
        if let Some(descriptors) = descriptors {
            let allowed = usize::try_from(descriptors.saturating_sub(FD_RESERVE).max(16))
                .unwrap_or(usize::MAX);
            if allowed < max {
                tracing::warn!(
                    configured = max,
                    allowed,
                    descriptors,
                    "limits.max_connections lowered to fit the file descriptor limit"
                );
                max = allowed;
            }
        }
        Arc::new(Self {
            table: Mutex::default(),
            next_id: AtomicU64::new(0),
            max,
            max_per_source: config.max_connections_per_source.max(1),
            header_timeout: Duration::from_secs(config.http_header_timeout_secs.max(1)),
            rates: SourceRates::new(config.requests_per_second_per_source),
            requests: InFlight::new(config.max_requests_in_flight),
            bodies: InFlight::new(config.max_body_bytes_in_flight),
        })
    }

    /// The connection cap in force.
    pub(crate) fn max_connections(&self) -> usize {
        self.max
    }

    /// Accepts the next connection within the limits. Connections over a limit are closed as
    /// they are accepted, and counted in `idnode_connections_refused_total`; when accept fails
    /// for want of descriptors, the connection idle for longest is shed.
    pub(crate) async fn accept(
        self: &Arc<Self>,
        listener: &TcpListener,
        listener_name: &'static str,
    ) -> (TcpStream, SocketAddr, ConnSlot) {
        loop {
            match listener.accept().await {
                Ok((stream, peer)) => {
                    if let Some(slot) = self.admit(peer) {
                        let _ = stream.set_nodelay(true);
                        return (stream, peer, slot);
                    }
                    metrics::counter!("idnode_connections_refused_total", "listener" => listener_name)
                        .increment(1);
                    drop(stream);
                }
                Err(e) => {
                    if matches!(e.raw_os_error(), Some(23 | 24)) {
                        // ENFILE, EMFILE: make room rather than stop serving.
                        self.shed_oldest_idle(&mut self.lock());
                    }
                    tracing::warn!(error = %e, listener = listener_name, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A slot for a new connection from `peer`, or `None` when its source is at its cap, or
    /// every place is taken and no connection is idle.
    pub(crate) fn admit(self: &Arc<Self>, peer: SocketAddr) -> Option<ConnSlot> {
        let mut table = self.lock();
        if table.per_source.get(&peer.ip()).copied().unwrap_or(0) >= self.max_per_source {
            return None;
        }
        if table.open.len() >= self.max && !self.shed_oldest_idle(&mut table) {
            return None;
        }
        *table.per_source.entry(peer.ip()).or_insert(0) += 1;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(ConnState::default());
        table.open.insert(id, Arc::clone(&state));
        metrics::gauge!("idnode_connections_open").set(table.open.len() as f64);
        Some(ConnSlot {
            limits: Arc::clone(self),
            id,
            source: peer.ip(),
            state,
        })
    }

    /// Asks the oldest idle connection not yet asked to close; whether there was one. Its
    /// place is taken at once (the table forgets it), so the count stays within the cap while
    /// it closes.
    fn shed_oldest_idle(&self, table: &mut Table) -> bool {
        let Some((&id, _)) = table
            .open
            .iter()
            .find(|(_, state)| state.is_idle() && !state.is_shed())
        else {
            return false;
        };
        if let Some(state) = table.open.remove(&id) {
            state.shed.store(true, Ordering::Release);
            state.shed_notice.notify_waiters();
            metrics::counter!("idnode_connections_shed_total").increment(1);
        }
        true
    }

    /// Whether one more request from `peer` is within its source's rate.
    /// The clock is read only when a rate is configured.
    pub(crate) fn admit_rate(&self, peer: IpAddr, now: impl FnOnce() -> Instant) -> bool {
        if !self.rates.limited() {
            return true;
        }
        let admitted = self.rates.admit(peer, now());
        if !admitted {
            metrics::counter!("idnode_requests_refused_total", "reason" => "source_rate")
                .increment(1);
        }
        admitted
    }

    /// A place for one more request being worked on, held until it is answered, or `None`
    /// when too many are.
    pub(crate) fn charge_request(&self) -> Option<Charge> {
        let charge = self.requests.charge(1);
        if charge.is_none() {
            metrics::counter!("idnode_requests_refused_total", "reason" => "busy").increment(1);
        }
        charge
    }

    /// Open connections now.
    #[cfg(test)]
    pub(crate) fn open(&self) -> usize {
        self.lock().open.len()
    }
}

/// An admitted connection; dropping it frees its place.
#[derive(Debug)]
pub(crate) struct ConnSlot {
    limits: Arc<ConnLimits>,
    id: u64,
    source: IpAddr,
    state: Arc<ConnState>,
}

impl ConnSlot {
    /// The connection's state: whether it is busy, and whether it was shed.
    pub(crate) fn state(&self) -> &Arc<ConnState> {
        &self.state
    }
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        let mut table = self.limits.lock();
        table.open.remove(&self.id);
        metrics::gauge!("idnode_connections_open").set(table.open.len() as f64);
        if let Some(count) = table.per_source.get_mut(&self.source) {
            *count -= 1;
            if *count == 0 {
                table.per_source.remove(&self.source);
            }
        }
    }
}

/// Raises the soft limit on open files to the hard one; the limit in force, if known.
fn raise_fd_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let current = limit.current?;
    if let Some(maximum) = limit.maximum
        && maximum > current
    {
        let raised = rustix::process::Rlimit {
            current: Some(maximum),
            maximum: Some(maximum),
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            return Some(maximum);
        }
    }
    Some(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: usize, per_source: usize) -> Arc<ConnLimits> {
        ConnLimits::new(&LimitsConfig {
            max_connections: max,
            max_connections_per_source: per_source,
            ..LimitsConfig::default()
        })
    }

    fn peer(last: u8) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, last], 1000))
    }

    #[test]
    fn the_oldest_idle_connection_makes_room() {
        let limits = limits(3, 3);
        let first = limits.admit(peer(1)).unwrap();
        let second = limits.admit(peer(1)).unwrap();
        let third = limits.admit(peer(2)).unwrap();
        // The first is busy: the second, idle for longest, is shed.
        let working = first.state().busy();
        let fourth = limits.admit(peer(3)).unwrap();
        assert!(!first.state().is_shed());
        assert!(second.state().is_shed());
        assert_eq!(limits.open(), 3);
        // All busy: a new one is refused.
        let _busy = (third.state().busy(), fourth.state().busy());
        assert!(limits.admit(peer(4)).is_none());
        drop(working);
        assert!(limits.admit(peer(4)).is_some());
        assert!(first.state().is_shed());
    }

    #[test]
    fn a_source_at_its_cap_is_refused_without_shedding() {
        let limits = limits(10, 2);
        let a = limits.admit(peer(1)).unwrap();
        let b = limits.admit(peer(1)).unwrap();
        assert!(limits.admit(peer(1)).is_none());
        assert!(!a.state().is_shed() && !b.state().is_shed());
        drop(a);
        assert!(limits.admit(peer(1)).is_some());
    }

    #[tokio::test]
    async fn a_shed_connection_is_woken() {
        let limits = limits(1, 1);
        let first = limits.admit(peer(1)).unwrap();
        let state = Arc::clone(first.state());
        let waiting = tokio::spawn(async move { state.shed().await });
        tokio::task::yield_now().await;
        let _second = limits.admit(peer(2)).unwrap();
        tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("woken")
            .unwrap();
    }
}
