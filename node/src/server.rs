//! The node's lifecycle: start, serve, stop.
//!
//! | phase | entered when |
//! |---|---|
//! | `Starting` | `idnode serve` runs: the data directory, database, keys and certificate are opened or created |
//! | `Serving` | every configured listener is bound; `/healthz` answers 200 |
//! | `Draining` | SIGINT or SIGTERM arrives: listeners stop accepting, open connections finish their requests (at most 10 s) |
//! | `Stopped` | every listener has returned; the database is closed cleanly |
//!
//! Durability does not depend on a clean stop: every acknowledged write was committed to disk
//! before it was acknowledged, so `kill -9` loses nothing that a client was told succeeded.

use std::net::SocketAddr;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::config::Config;
use crate::state::{self, State};

/// The addresses a running node listens on.
#[derive(Debug, Clone)]
pub struct Bound {
    /// The plain HTTP address.
    pub http: Option<SocketAddr>,
    /// The HTTPS address.
    pub https: Option<SocketAddr>,
    /// The native Handle protocol address (UDP and TCP on the same port).
    pub native: Option<SocketAddr>,
}

/// Runs the node until SIGINT or SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let (tx, rx) = watch::channel(false);
    let running = start(config, rx).await?;
    tracing::info!(http = ?running.bound.http, https = ?running.bound.https, native = ?running.bound.native, "serving");
    wait_for_signal().await;
    tracing::info!("draining");
    let _ = tx.send(true);
    for task in running.tasks {
        let _ = task.await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// A started node.
pub struct Running {
    /// Where it listens.
    pub bound: Bound,
    /// The listener tasks; they end after shutdown is signalled.
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Opens the state and binds the listeners; serving continues in spawned tasks until `shutdown`
/// turns true.
pub async fn start(mut config: Config, shutdown: watch::Receiver<bool>) -> anyhow::Result<Running> {
    crate::metrics::install();
    // Bind first, so that the site information publishes the ports actually bound (which
    // differ from the configured ones when those are port 0).
    let http = match config.http.listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on http {addr}"))?,
        ),
        None => None,
    };
    let https = match config.https.listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on https {addr}"))?,
        ),
        None => None,
    };
    let native = match config.native.address() {
        Some(addr) => {
            let tcp = TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on native tcp {addr}"))?;
            let addr = tcp.local_addr()?;
            let udp = tokio::net::UdpSocket::bind(addr)
                .await
                .with_context(|| format!("cannot listen on native udp {addr}"))?;
            Some((tcp, udp))
        }
        None => None,
    };
    let bound = Bound {
        http: http.as_ref().map(TcpListener::local_addr).transpose()?,
        https: https.as_ref().map(TcpListener::local_addr).transpose()?,
        native: native
            .as_ref()
            .map(|(tcp, _)| tcp.local_addr())
            .transpose()?,
    };
    config.http.listen = bound.http;
    config.https.listen = bound.https;
    if let Some(addr) = bound.native {
        config.native.listen = Some(crate::native::config::Listen(Some(addr)));
    }
    let tls_files = if https.is_some() {
        Some(state::tls_files(&config)?)
    } else {
        None
    };
    let state = State::open(config)?;
    let mut tasks = Vec::new();
    if let Some(listener) = http {
        tasks.push(tokio::spawn(crate::listeners::serve_http(
            listener,
            None,
            state.clone(),
            shutdown.clone(),
        )));
    }
    if let (Some(listener), Some((cert, key))) = (https, tls_files) {
        let cert_pem =
            std::fs::read(&cert).with_context(|| format!("cannot read {}", cert.display()))?;
        let key_pem =
            std::fs::read(&key).with_context(|| format!("cannot read {}", key.display()))?;
        let tls = idnode_certs::tls::server_config(
            &cert_pem,
            &key_pem,
            &[b"h2".to_vec(), b"http/1.1".to_vec()],
        )
        .context("invalid TLS certificate or key")?;
        tasks.push(tokio::spawn(crate::listeners::serve_http(
            listener,
            Some(TlsAcceptor::from(tls)),
            state.clone(),
            shutdown.clone(),
        )));
    }
    tasks.push(tokio::spawn(crate::trace::run_checkpointer(
        state.clone(),
        shutdown.clone(),
    )));
    tasks.push(tokio::spawn(crate::search::run_indexer(
        state.clone(),
        shutdown.clone(),
    )));
    if let Some((tcp, udp)) = native {
        tasks.push(tokio::spawn(crate::native::tcp::serve_tcp(
            tcp,
            state.clone(),
            shutdown.clone(),
        )));
        tasks.push(tokio::spawn(crate::native::udp::serve_udp(
            udp,
            state.clone(),
            shutdown.clone(),
        )));
    }
    if state
        .resolver
        .homed_prefixes()
        .map(|p| p.is_empty())
        .unwrap_or(false)
    {
        tracing::warn!(
            "no prefix is homed yet: run `idnode init --data DIR --prefix 88.118.8` to create one"
        );
    }
    Ok(Running { bound, tasks })
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
