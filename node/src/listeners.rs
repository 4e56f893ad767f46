//! HTTP and HTTPS listeners: hyper 1 with hyper-util's `auto` builder (HTTP/1.1 and HTTP/2 on
//! one port), rustls for TLS, and one task per connection.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tracing::Instrument as _;

use crate::rest::{self, Conn};
use crate::state::State;

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts connections until `shutdown` turns true, then lets open connections finish their
/// current requests.
pub(crate) async fn serve_http(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    state: Arc<State>,
    mut shutdown: watch::Receiver<bool>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let proto = if tls.is_some() { "https" } else { "http" };
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => break,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let tls = tls.clone();
        let watcher = graceful.watcher();
        let span = tracing::debug_span!("conn", %peer, proto);
        tokio::spawn(
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
                        serve_connection(TokioIo::new(stream), peer, true, state, watcher).await;
                    }
                    None => {
                        serve_connection(TokioIo::new(stream), peer, false, state, watcher).await
                    }
                }
            }
            .instrument(span),
        );
    }
    if tokio::time::timeout(Duration::from_secs(10), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after 10 s; closing them");
    }
}

async fn serve_connection<I>(
    io: I,
    peer: SocketAddr,
    tls: bool,
    state: Arc<State>,
    watcher: hyper_util::server::graceful::Watcher,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let conn = Conn { peer, tls };
    let service = service_fn(move |req: Request<Incoming>| {
        let span = tracing::debug_span!("req", method = %req.method(), path = %req.uri().path());
        // The cached path answers at once: no task state to build, move or box.
        if let Some(response) = span.in_scope(|| rest::serve_cached(&state, &req)) {
            return Answer::Ready(Some(response));
        }
        let state = state.clone();
        Answer::Pending(Box::pin(rest::serve(state, conn, req).instrument(span)))
    });
    let builder = auto::Builder::new(TokioExecutor::new());
    let connection = builder.serve_connection_with_upgrades(io, service);
    if let Err(e) = watcher.watch(connection.into_owned()).await {
        tracing::debug!(error = %e, "connection ended with an error");
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
                    *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                    Poll::Ready(Ok(response))
                }
            },
            Self::Pending(future) => future.as_mut().poll(cx).map(Ok),
        }
    }
}
