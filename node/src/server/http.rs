//! HTTP and HTTPS listeners: hyper 1 with hyper-util's `auto` builder (HTTP/1.1 and HTTP/2 on
//! one port), rustls for TLS, and one task per connection, each handing requests to the
//! route table (`crate::http::Router`).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tracing::Instrument as _;

use super::limits::{ConnLimits, ConnSlot};
use crate::http::{ClientCert, Conn, Router, overloaded};

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts connections until `shutdown` turns true, then lets open connections finish their
/// current requests. A connection over the limits of `limits` is closed when it is accepted.
pub(crate) async fn serve_http(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: Arc<Router>,
    limits: Arc<ConnLimits>,
    mut shutdown: watch::Receiver<bool>,
) {
    let drain = Drain::new();
    let proto = if tls.is_some() { "https" } else { "http" };
    loop {
        let (stream, peer, slot) = tokio::select! {
            accepted = limits.accept(&listener, proto) => accepted,
            _ = shutdown.changed() => break,
        };
        let limits = Arc::clone(&limits);
        let router = router.clone();
        let tls = tls.clone();
        let watcher = drain.watcher();
        let span = tracing::debug_span!("conn", %peer, proto);
        let task =
            async move {
                match tls {
                    Some(acceptor) => {
                        let stream =
                            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                                .await
                            {
                                Ok(Ok(stream)) => stream,
                                Ok(Err(e)) => {
                                    tracing::debug!(error = %e, "TLS handshake failed");
                                    return;
                                }
                                Err(_) => {
                                    tracing::debug!("TLS handshake timed out");
                                    return;
                                }
                            };
                        let client = client_certificate(&stream);
                        serve_connection(
                            TokioIo::new(stream),
                            (Conn { peer, tls: true }, client),
                            router,
                            (limits, slot),
                            watcher,
                        )
                        .await;
                    }
                    None => {
                        serve_connection(
                            TokioIo::new(stream),
                            (Conn { peer, tls: false }, None),
                            router,
                            (limits, slot),
                            watcher,
                        )
                        .await;
                    }
                }
            };
        // A span that is off at creation stays off: spawn without polling through it.
        if span.is_disabled() {
            tokio::spawn(task);
        } else {
            tokio::spawn(task.instrument(span));
        }
    }
    if tokio::time::timeout(Duration::from_secs(10), drain.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after 10 s; closing them");
    }
}

/// The identity and key of the client certificate a TLS client presented, if any.
fn client_certificate(
    stream: &tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
) -> Option<ClientCert> {
    let leaf = stream.get_ref().1.peer_certificates()?.first()?;
    match idnode_certs::client_cert::client_certificate(leaf) {
        Ok(presented) => Some(ClientCert(Arc::new(presented))),
        Err(e) => {
            tracing::debug!(error = %e, "a client certificate names no usable identity");
            None
        }
    }
}

async fn serve_connection<I>(
    io: I,
    (conn, client): (Conn, Option<ClientCert>),
    router: Arc<Router>,
    (limits, slot): (Arc<ConnLimits>, ConnSlot),
    mut watcher: Watcher,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let header_timeout = limits.header_timeout;
    let state = Arc::clone(slot.state());
    // Whether, since the idle timer last looked, a request began or the node wrote to the
    // connection (see `Progress`).
    let active = Arc::new(AtomicBool::new(false));
    let noted = Arc::clone(&active);
    let service = service_fn(move |mut req: Request<Incoming>| {
        noted.store(true, Ordering::Relaxed);
        if let Some(client) = &client {
            req.extensions_mut().insert(client.clone());
        }
        let span = tracing::debug_span!("req", method = %req.method(), path = %req.uri().path());
        if !limits.admit_rate(conn.peer.ip(), Instant::now) {
            return Answer::Ready(Some(overloaded(
                StatusCode::TOO_MANY_REQUESTS,
                "this source sends too many requests; slow down",
            )));
        }
        // The cached path answers at once: no task state to build, move or box.
        if let Some(response) = span.in_scope(|| router.serve_cached(conn.peer.ip(), &req)) {
            return Answer::Ready(Some(response));
        }
        let Some(charge) = limits.charge_request() else {
            return Answer::Ready(Some(overloaded(
                StatusCode::SERVICE_UNAVAILABLE,
                "the node is too busy; try again shortly",
            )));
        };
        let busy = state.busy();
        let router = router.clone();
        Answer::Pending(Box::pin(
            async move {
                let _held = (charge, busy);
                router.serve(conn, req).await
            }
            .instrument(span),
        ))
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // Slow, idle and vanished clients are closed by the idle timer below, on HTTP/1.1 and
    // HTTP/2 alike, at no cost per request; hyper's own header timeout would arm and cancel a
    // timer for every request, and HTTP/2 keep-alive pings would keep idle peers connected.
    builder.http1().header_read_timeout(None);
    let io = Progress {
        io,
        active: Arc::clone(&active),
    };
    let mut connection = std::pin::pin!(builder.serve_connection_with_upgrades(io, service));
    // The idle timer: when it fires, a connection on which, since it was armed, no request
    // began and the node wrote nothing, and on which no request is being worked on, is closed:
    // one that never asked, one that sends its headers too slowly, one kept alive idle. So each
    // of those is closed between one and two header timeouts after it was last active, while a
    // slow client still reading a long answer is not.
    let mut idle = std::pin::pin!(tokio::time::sleep(header_timeout));
    let mut idle_polled = Registered::default();
    let shed_state = Arc::clone(slot.state());
    let mut shed = std::pin::pin!(shed_state.shed());
    let mut shed_polled = Registered::default();
    let mut shedding = false;
    let ended = std::future::poll_fn(|cx| {
        if !shedding
            && (shed_state.is_shed() || !shed_polled.holds(cx))
            && shed_polled.poll(cx, |cx| shed.as_mut().poll(cx)).is_ready()
        {
            // Room was needed for another client: an idle connection closes now, one that has
            // begun a request since finishes it first.
            if shed_state.is_idle() {
                return Poll::Ready(Ok(()));
            }
            shedding = true;
            connection.as_mut().graceful_shutdown();
        }
        if idle.is_elapsed() || !idle_polled.holds(cx) {
            while idle_polled.poll(cx, |cx| idle.as_mut().poll(cx)).is_ready() {
                if !active.swap(false, Ordering::Relaxed) && shed_state.is_idle() {
                    return Poll::Ready(Ok(()));
                }
                idle.as_mut()
                    .reset(tokio::time::Instant::now() + header_timeout);
            }
        }
        if watcher.poll_draining(cx).is_ready() {
            // Finish the request in progress, if any, then close (HTTP/2: GOAWAY).
            connection.as_mut().graceful_shutdown();
        }
        connection.as_mut().poll(cx)
    })
    .await;
    if let Err(e) = ended {
        tracing::debug!(error = %e, "connection ended with an error");
    }
    drop(slot);
}

/// Graceful shutdown of a listener's connections: tells each to finish the request it is
/// serving and close, and waits until all have.
///
/// This does what hyper-util's `GracefulShutdown` does, more cheaply for a busy connection:
/// that one polls a `watch` receiver's change future on every poll of the connection, which
/// takes a mutex shared by all connections each time, while [`Watcher::poll_draining`] reads
/// one atomic flag unless the task's waker changed.
struct Drain {
    tx: watch::Sender<()>,
    draining: Arc<AtomicBool>,
}

impl Drain {
    fn new() -> Self {
        Self {
            tx: watch::Sender::new(()),
            draining: Arc::new(AtomicBool::new(false)),
        }
    }

    /// A watcher for one connection; [`Self::shutdown`] waits until it is dropped.
    fn watcher(&self) -> Watcher {
        let mut rx = self.tx.subscribe();
        Watcher {
            signal: Some(Box::pin(async move {
                // An error means the sender is gone, which only happens once draining is over.
                let _ = rx.changed().await;
                rx
            })),
            draining: Arc::clone(&self.draining),
            registered: Registered::default(),
            _guard: None,
        }
    }

    /// Tells every watcher that draining started, then waits until all are dropped.
    async fn shutdown(self) {
        // Set before the notification: a watcher that skips polling its signal because the
        // flag is clear is registered for that notification.
        self.draining.store(true, Ordering::Release);
        let _ = self.tx.send(());
        self.tx.closed().await;
    }
}

/// One connection's view of a [`Drain`].
struct Watcher {
    /// Completes when draining starts, with the receiver that keeps the drain waiting; `None`
    /// once it has completed.
    signal: Option<Pin<Box<dyn Future<Output = watch::Receiver<()>> + Send>>>,
    draining: Arc<AtomicBool>,
    /// Whether `signal` is pending, registered with the task's waker.
    registered: Registered,
    /// The receiver, kept after `signal` completed until the connection ends.
    _guard: Option<watch::Receiver<()>>,
}

impl Watcher {
    /// Ready once, when draining has started; pending before and after, with the task woken
    /// when it starts.
    fn poll_draining(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(signal) = self.signal.as_mut() else {
            return Poll::Pending;
        };
        if self.registered.holds(cx) && !self.draining.load(Ordering::Acquire) {
            // The signal was polled with this task's waker and will wake it when draining
            // starts.
            return Poll::Pending;
        }
        match self.registered.poll(cx, |cx| signal.as_mut().poll(cx)) {
            Poll::Ready(rx) => {
                self._guard = Some(rx);
                self.signal = None;
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// A connection's stream, noting in `active` each time the node wrote to it.
struct Progress<I> {
    io: I,
    active: Arc<AtomicBool>,
}

impl<I> Progress<I> {
    fn wrote(&self, polled: &Poll<std::io::Result<usize>>) {
        if matches!(polled, Poll::Ready(Ok(n)) if *n > 0) {
            self.active.store(true, Ordering::Relaxed);
        }
    }
}

impl<I: hyper::rt::Read + Unpin> hyper::rt::Read for Progress<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<I: hyper::rt::Write + Unpin> hyper::rt::Write for Progress<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        self.wrote(&polled);
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.wrote(&polled);
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Whether a future that wakes its task on a condition is pending and registered with the
/// waker of the task polling it. A connection's task is polled for every read and write; while
/// the future's condition has not changed and the waker is the same, polling the future again
/// would only repeat its registration (a lock, for tokio's `Notify` and `watch`), so the
/// connection skips it.
#[derive(Default)]
struct Registered(Option<Waker>);

impl Registered {
    /// Whether the future was left pending, registered with this task's waker.
    fn holds(&self, cx: &Context<'_>) -> bool {
        self.0
            .as_ref()
            .is_some_and(|waker| waker.will_wake(cx.waker()))
    }

    /// Polls the future with `poll`, noting whether it is left registered: pending, and polled
    /// with cooperative budget left (without, tokio's futures answer pending without
    /// registering).
    fn poll<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: impl FnOnce(&mut Context<'_>) -> Poll<T>,
    ) -> Poll<T> {
        let budget = tokio::task::coop::has_budget_remaining();
        let polled = poll(cx);
        self.0 = if polled.is_pending() && budget {
            Some(cx.waker().clone())
        } else {
            None
        };
        polled
    }
}

/// The future of one request's response.
///
/// Answers computed before the service returns are handed back as they are, and the rest are
/// boxed: hyper moves the service future into the connection's state on every request, and the
/// full routing future is several kilobytes that a cached answer does not need.
enum Answer {
    /// An answer ready now; `None` once taken.
    Ready(Option<Response<Full<Bytes>>>),
    /// An answer still being computed.
    Pending(Pin<Box<dyn Future<Output = Response<Full<Bytes>>> + Send>>),
}

impl Future for Answer {
    type Output = Result<Response<Full<Bytes>>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Self::Ready(response) => match response.take() {
                Some(response) => Poll::Ready(Ok(response)),
                // Polled again after completing, which futures need not support: an empty 500
                // rather than a panic.
                None => {
                    let mut response = Response::new(Full::new(Bytes::new()));
                    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                    Poll::Ready(Ok(response))
                }
            },
            Self::Pending(future) => future.as_mut().poll(cx).map(Ok),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use super::*;

    #[tokio::test]
    async fn watchers_see_draining_once_and_the_drain_waits_for_them() {
        let drain = Drain::new();
        let mut watcher = drain.watcher();
        let mut idle = drain.watcher();
        // Registered first with another waker, then with this task's: pending each time.
        let mut other = Context::from_waker(Waker::noop());
        assert!(watcher.poll_draining(&mut other).is_pending());
        for _ in 0..3 {
            assert!(
                poll_fn(|cx| Poll::Ready(watcher.poll_draining(cx)))
                    .await
                    .is_pending()
            );
        }
        let shutdown = tokio::spawn(drain.shutdown());
        // Woken when draining starts (the shutdown task runs only once this task waits).
        tokio::time::timeout(
            Duration::from_secs(10),
            poll_fn(|cx| watcher.poll_draining(cx)),
        )
        .await
        .expect("the watcher was woken");
        assert!(
            poll_fn(|cx| Poll::Ready(watcher.poll_draining(cx)))
                .await
                .is_pending(),
            "ready only once"
        );
        // A watcher never polled before sees it at once.
        assert!(
            poll_fn(|cx| Poll::Ready(idle.poll_draining(cx)))
                .await
                .is_ready()
        );
        drop(idle);
        tokio::task::yield_now().await;
        assert!(!shutdown.is_finished(), "a watcher is still alive");
        drop(watcher);
        tokio::time::timeout(Duration::from_secs(10), shutdown)
            .await
            .expect("the drain ended")
            .expect("the drain task");
    }

    /// The idle timer counts a write as activity, so that a slow reader of a long answer is
    /// not taken for an idle client, and does not count a read, so that a client sending its
    /// headers a byte at a time is.
    #[tokio::test]
    async fn writes_count_as_activity_and_reads_do_not() {
        let (near, mut far) = tokio::io::duplex(64);
        let active = Arc::new(AtomicBool::new(false));
        let mut io = Progress {
            io: TokioIo::new(near),
            active: Arc::clone(&active),
        };
        tokio::io::AsyncWriteExt::write_all(&mut far, b"GET")
            .await
            .unwrap();
        let mut bytes = [0u8; 8];
        let mut buf = hyper::rt::ReadBuf::new(&mut bytes);
        poll_fn(|cx| hyper::rt::Read::poll_read(Pin::new(&mut io), cx, buf.unfilled()))
            .await
            .unwrap();
        assert_eq!(buf.filled(), b"GET");
        assert!(
            !active.load(Ordering::Relaxed),
            "a read counted as activity"
        );
        let written = poll_fn(|cx| hyper::rt::Write::poll_write(Pin::new(&mut io), cx, b"200"))
            .await
            .unwrap();
        assert_eq!(written, 3);
        assert!(active.load(Ordering::Relaxed), "a write did not count");
    }
}
