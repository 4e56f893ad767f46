//! The node's lifecycle (`crate::lifecycle::Phase`) and its wiring: the only module that opens
//! sockets. [`start`] opens the core, builds each interface's own state on it, registers the
//! HTTP services in the route table, binds the listeners and spawns them and the background
//! tasks.
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
use std::sync::Arc;

use anyhow::Context as _;
use idnode_registry::SharedStore;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

mod http;
mod limits;
mod tcp;
mod udp;

use crate::api;
use crate::config::Config;
use crate::core::{self, Core};
use crate::http::{Http, Preflight, Router};
use crate::lifecycle::Phase;
use crate::native::NativeNode;

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
    running.core.phase.set(Phase::Stopped);
    Ok(())
}

/// A started node.
pub struct Running {
    /// Where it listens.
    pub bound: Bound,
    /// The listener tasks; they end after shutdown is signalled.
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
    /// What every part shares, for observing the node (its phase).
    pub core: Arc<Core>,
}

/// Opens the state and binds the listeners; serving continues in spawned tasks until `shutdown`
/// turns true.
pub async fn start(config: Config, shutdown: watch::Receiver<bool>) -> anyhow::Result<Running> {
    start_with(config, None, shutdown).await
}

/// [`start`] over `store` instead of the database in the data directory: the whole node in
/// one process over any backend, such as `MemStore` in tests.
pub async fn start_with_store(
    config: Config,
    store: SharedStore,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<Running> {
    start_with(config, Some(store), shutdown).await
}

/// Writes the site information this node serves (the addresses actually bound, the site key)
/// to the `HS_SITE` of each prefix handle it homes, where it changed since `idnode init` or
/// the last start. A failure is logged: the node still serves, with the stored value.
async fn publish_site(core: &Core) {
    let site = crate::site::site_info(core);
    match core.resolver.publish_site(&site, core.now()).await {
        Ok(published) => {
            for p in published.iter().filter(|p| p.changed) {
                tracing::info!(handle = %p.handle, serial = p.serial, "published the site information");
            }
        }
        Err(failure) => {
            tracing::warn!(%failure, "cannot publish the site information on the prefix handles");
        }
    }
}

async fn start_with(
    mut config: Config,
    store: Option<SharedStore>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<Running> {
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
        config.native.listen = Some(crate::config::Listen(Some(addr)));
    }
    let tls_files = if https.is_some() {
        Some(core::tls_files(&config)?)
    } else {
        None
    };
    let core = match store {
        Some(store) => Core::with_store(config, store)?,
        None => Core::open(config)?,
    };
    // Handles that live elsewhere are resolved there for clients that ask (docs/federation.md).
    if let Some(recursor) = crate::federation::recursor::Recursor::from_config(&core.config)? {
        core.resolver.set_upstream(Arc::new(recursor));
    }
    publish_site(&core).await;
    // Each interface's own state, on the shared core.
    let http_layer = Http::new(Arc::clone(&core));
    let native_node = NativeNode::new(Arc::clone(&core));
    let trace = api::trace::TraceApi::open(Arc::clone(&http_layer))?;
    let search = crate::tasks::indexer::open(&core.config.data, &core.config.search);
    let handles = api::handles::Handles::new(Arc::clone(&http_layer));
    let conn_limits = limits::ConnLimits::new(&core.config.limits);
    track_memory(&core, &handles, &native_node, &conn_limits);
    tracing::debug!(
        max_connections = conn_limits.max_connections(),
        "connection limits"
    );
    // The route table: the first service that owns a request answers it.
    let router = Arc::new(
        Router::default()
            .route(api::tunnel::Tunnel::new(Arc::clone(&native_node)))
            .route(trace.clone())
            .route(api::snms::Snms::new(Arc::clone(&http_layer)))
            .route(api::federation::Reports::new(Arc::clone(&http_layer)))
            .route(api::search::SearchApi::new(
                Arc::clone(&http_layer),
                search.clone(),
            ))
            .route(api::health::Health::new(Arc::clone(&core), search.clone()))
            .route(Arc::new(Preflight))
            .route(api::sessions::SessionsApi::new(Arc::clone(&http_layer)))
            .route(handles.clone())
            .fast_path(handles)
            .body_limits(Arc::clone(&conn_limits.bodies), conn_limits.header_timeout),
    );
    let mut tasks = Vec::new();
    if let Some(listener) = http {
        tasks.push(tokio::spawn(http::serve_http(
            listener,
            None,
            router.clone(),
            conn_limits.clone(),
            shutdown.clone(),
        )));
    }
    if let (Some(listener), Some((cert, key))) = (https, tls_files) {
        let cert_pem =
            std::fs::read(&cert).with_context(|| format!("cannot read {}", cert.display()))?;
        let key_pem =
            std::fs::read(&key).with_context(|| format!("cannot read {}", key.display()))?;
        let alpn = [b"h2".to_vec(), b"http/1.1".to_vec()];
        let tls = if core.config.https.client_certificates {
            idnode_certs::tls::server_config_with_client_certs(&cert_pem, &key_pem, &alpn)
        } else {
            idnode_certs::tls::server_config(&cert_pem, &key_pem, &alpn)
        }
        .context("invalid TLS certificate or key")?;
        tasks.push(tokio::spawn(http::serve_http(
            listener,
            Some(TlsAcceptor::from(tls)),
            router.clone(),
            conn_limits.clone(),
            shutdown.clone(),
        )));
    }
    tasks.push(tokio::spawn(crate::tasks::checkpointer::run_checkpointer(
        trace,
        shutdown.clone(),
    )));
    if let Some(index) = search {
        tasks.push(tokio::spawn(crate::tasks::indexer::run_indexer(
            Arc::clone(&core),
            index,
            shutdown.clone(),
        )));
    }
    if let Some((tcp, udp)) = native {
        tasks.push(tokio::spawn(tcp::serve_tcp(
            tcp,
            native_node.clone(),
            conn_limits.clone(),
            shutdown.clone(),
        )));
        tasks.push(tokio::spawn(udp::serve_udp(
            udp,
            native_node.clone(),
            shutdown.clone(),
        )));
    }
    if let Some(docking) = crate::federation::docking::Docking::from_config(&core)? {
        tasks.push(tokio::spawn(docking.reporter().run(shutdown.clone())));
        tasks.push(tokio::spawn(docking.run(shutdown.clone())));
    }
    // Draining begins when shutdown is signalled.
    tasks.push(tokio::spawn({
        let core = Arc::clone(&core);
        let mut shutdown = shutdown.clone();
        async move {
            while !*shutdown.borrow() {
                if shutdown.changed().await.is_err() {
                    break;
                }
            }
            core.phase.set(Phase::Draining);
        }
    }));
    core.phase.set(Phase::Serving);
    let state = &core;
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
    Ok(Running {
        bound,
        tasks,
        core: Arc::clone(&core),
    })
}

/// What `/metrics` reports of the node's memory, by component (`idnode_memory_bytes`,
/// `idnode_memory_limit_bytes`): every cache and buffer with a configured bound.
fn track_memory(
    core: &Core,
    handles: &Arc<api::handles::Handles>,
    native: &Arc<NativeNode>,
    limits: &Arc<limits::ConnLimits>,
) {
    let track = |component, limit, held| core.memory.track(component, limit, held);
    let config = &core.config;
    let cache = Arc::clone(&handles.cache);
    track(
        "http_answer_cache",
        config.http.cache_max_bytes,
        Some(Box::new(move || cache.bytes())),
    );
    let answers = Arc::clone(&native.native.answers);
    track(
        "native_answer_cache",
        config.native.answer_cache_bytes,
        Some(Box::new(move || answers.bytes())),
    );
    let bodies = Arc::clone(&limits.bodies);
    track(
        "request_bodies",
        config.limits.max_body_bytes_in_flight,
        Some(Box::new(move || bodies.used())),
    );
    track("store_cache", config.store.cache_bytes, None);
    track("search_writer", config.search.writer_memory_bytes, None);
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
