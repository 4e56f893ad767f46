//! HTTP and HTTPS listeners: hyper 1 with hyper-util's `auto` builder (HTTP/1.1 and HTTP/2 on
//! one port), rustls for TLS, and one task per connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

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
    let service = service_fn(move |req| {
        let state = state.clone();
        let span = tracing::debug_span!("req", method = %req.method(), path = %req.uri().path());
        async move { Ok::<_, std::convert::Infallible>(rest::serve(state, conn, req).await) }
            .instrument(span)
    });
    let builder = auto::Builder::new(TokioExecutor::new());
    let connection = builder.serve_connection_with_upgrades(io, service);
    if let Err(e) = watcher.watch(connection.into_owned()).await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}
