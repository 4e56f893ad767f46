//! Health, readiness and metrics: `GET /healthz`, `GET /readyz`, `GET /metrics` and the plain
//! greeting at `GET /`.
//!
//! `/healthz` answers 200 only while the server is serving (503 while starting or draining),
//! so a load balancer stops sending requests as soon as a drain begins. `/readyz` answers 200
//! when the node can do all its work: the store is open and readable, the search index has
//! been built (it is rebuilt in the background after a loss), and the trace log is readable;
//! otherwise 503 with what is not ready, as JSON.

use std::sync::Arc;

use http::request::Parts;
use http::{Method, StatusCode};
use idnode_registry::TraceRead as _;
use idnode_search::SearchIndex;
use serde_json::json;

use crate::core::Core;
use crate::http::{Answer, Conn, HttpRequest, HttpResponse, Service, json, plain};
use crate::lifecycle::Phase;

/// The health service.
pub(crate) struct Health {
    core: Arc<Core>,
    search: Option<Arc<SearchIndex>>,
}

impl Health {
    /// Health of `core`, with the search index whose readiness `/readyz` reports.
    pub(crate) fn new(core: Arc<Core>, search: Option<Arc<SearchIndex>>) -> Arc<Self> {
        Arc::new(Self { core, search })
    }

    fn readiness(&self) -> HttpResponse {
        let store = self.core.resolver.homed_prefixes().is_ok();
        let search = self
            .search
            .as_ref()
            .is_some_and(|index| index.is_complete());
        let trace = self.core.resolver.trace_log().trace_size().is_ok();
        let serving = self.core.phase.get() == Phase::Serving;
        let ready = store && search && trace && serving;
        let body = json!({
            "ready": ready,
            "phase": self.core.phase.get().name(),
            "store": store,
            "search": search,
            "traceLog": trace,
        });
        let status = if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        json(status, body.to_string().into_bytes())
    }
}

impl Service for Health {
    fn name(&self) -> &'static str {
        "health"
    }

    fn owns(&self, parts: &Parts) -> bool {
        parts.method == Method::GET
            && matches!(parts.uri.path(), "/healthz" | "/readyz" | "/metrics" | "/")
    }

    fn body_limit(&self, _: &Parts) -> usize {
        0
    }

    fn body_refused(&self, _: &Parts, _: usize) -> HttpResponse {
        plain(StatusCode::PAYLOAD_TOO_LARGE, "no body expected\n")
    }

    fn call(self: Arc<Self>, _: Conn, req: HttpRequest) -> Answer {
        Box::pin(async move {
            match req.uri().path() {
                "/healthz" => match self.core.phase.get() {
                    Phase::Serving => plain(StatusCode::OK, "ok\n"),
                    Phase::Starting => plain(StatusCode::SERVICE_UNAVAILABLE, "starting\n"),
                    Phase::Draining => plain(StatusCode::SERVICE_UNAVAILABLE, "draining\n"),
                    Phase::Stopped => plain(StatusCode::SERVICE_UNAVAILABLE, "stopped\n"),
                },
                "/readyz" => self.readiness(),
                "/metrics" => crate::metrics::render(&self.core.memory),
                _ => plain(
                    StatusCode::OK,
                    "idnode: identifier resolution node. See /api/site and /api/handles/{handle}.\n",
                ),
            }
        })
    }
}
