//! The HTTP layer every HTTP service plugs into: the connection context ([`Conn`]), the route
//! table of [`Service`]s ([`Router`]), body limits and collection, CORS, and authentication
//! ([`auth`]: Basic, `Authorization: Handle` with its [`session`]s, Bearer tokens, and the
//! rules for plain HTTP), with one query-string parser ([`query`]).
//!
//! A request's path: the listener (`crate::server`) hands it to [`Router::serve_cached`] and
//! then [`Router::serve`]; the router finds the first service that owns it, collects its body
//! up to the service's limit, and calls the service with the collected body. No service
//! imports another service or the router, so a new front end (HTTP/3, the console) adds a
//! service and feeds the same table.

pub(crate) mod auth;
pub(crate) mod query;
pub(crate) mod session;
pub(crate) mod throttle;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::request::Parts;
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt as _, Full, Limited};

use crate::budget::{Charge, InFlight};
use crate::core::Core;

pub(crate) use auth::{Auth, ClientCert};
pub(crate) use query::Query;

/// What the listener knows about the connection a request came on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Conn {
    /// The peer address.
    pub(crate) peer: SocketAddr,
    /// Whether the connection is TLS.
    pub(crate) tls: bool,
}

/// A response of any service.
pub(crate) type HttpResponse = Response<Full<Bytes>>;

/// A request with its body collected, as services receive it.
pub(crate) type HttpRequest = Request<Full<Bytes>>;

/// A service's pending answer.
pub(crate) type Answer = Pin<Box<dyn Future<Output = HttpResponse> + Send>>;

/// A service's pending check of a request before its body is read.
pub(crate) type Vouch<'a> = Pin<Box<dyn Future<Output = Option<HttpResponse>> + Send + 'a>>;

/// Bodies up to this size are read before the service has looked at the request; a service
/// that accepts larger ones checks the request's credentials first ([`Service::vouch`]), so an
/// anonymous client cannot make the node buffer more than this.
pub(crate) const UNVOUCHED_BODY: usize = 1 << 20;

/// The identity a service verified in [`Service::vouch`], kept in the request's extensions so
/// that it is not verified twice.
#[derive(Debug, Clone)]
pub(crate) struct Vouched(pub(crate) idnode_resolver::Identity);

/// `application/json;charset=utf-8`.
pub(crate) const JSON: &str = "application/json;charset=utf-8";

/// One HTTP service in the route table: the handle.net API, the SNMS API, trace and log,
/// search, the native tunnel, health and metrics.
pub(crate) trait Service: Send + Sync + 'static {
    /// A short name for logs.
    fn name(&self) -> &'static str;
    /// Whether this service answers the request (by its method, path and headers).
    fn owns(&self, parts: &Parts) -> bool;
    /// The largest body this service reads for the request.
    fn body_limit(&self, parts: &Parts) -> usize;
    /// Checks a request whose body limit is over [`UNVOUCHED_BODY`] before its body is read:
    /// the answer to give without reading it (typically: the credentials are missing or do not
    /// verify), or `None` to read it. A verified identity may be left in the extensions as
    /// [`Vouched`].
    fn vouch<'a>(&'a self, _conn: Conn, _parts: &'a mut Parts) -> Vouch<'a> {
        Box::pin(std::future::ready(None))
    }
    /// The answer, in this service's own terms, to a body that is unreadable or larger than
    /// `limit`.
    fn body_refused(&self, parts: &Parts, limit: usize) -> HttpResponse;
    /// Answers the request.
    fn call(self: Arc<Self>, conn: Conn, req: HttpRequest) -> Answer;
}

/// A synchronous answer from a cache, tried before a request future is built: the hot path of
/// anonymous resolutions.
pub(crate) trait FastPath: Send + Sync + 'static {
    /// The cached answer, if the request from `peer` may be answered from the cache and it
    /// holds one.
    fn answer(
        &self,
        peer: std::net::IpAddr,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Option<HttpResponse>;
}

/// The HTTP layer's own state next to the core: the `Authorization: Handle` sessions.
#[derive(Debug)]
pub(crate) struct Http {
    /// What every part shares.
    pub(crate) core: Arc<Core>,
    /// The REST API's `Authorization: Handle` sessions.
    pub(crate) sessions: session::Sessions,
    /// Failed password logins, per identity and per source.
    pub(crate) logins: throttle::LoginThrottle,
}

impl std::ops::Deref for Http {
    type Target = Core;

    fn deref(&self) -> &Core {
        &self.core
    }
}

impl Http {
    /// The HTTP layer over `core`.
    pub(crate) fn new(core: Arc<Core>) -> Arc<Self> {
        Arc::new(Self {
            core,
            sessions: session::Sessions::default(),
            logins: throttle::LoginThrottle::default(),
        })
    }
}

/// The route table: services in order (the first that owns a request answers it), and the
/// fast path.
#[derive(Default)]
pub(crate) struct Router {
    services: Vec<Arc<dyn Service>>,
    fast: Option<Arc<dyn FastPath>>,
    /// Body bytes held by every request at once, if bounded.
    bodies: Option<Arc<InFlight>>,
    /// How long a request body may go without a byte arriving, if bounded.
    body_idle: Option<Duration>,
}

impl Router {
    /// Adds a service after those added before.
    pub(crate) fn route(mut self, service: Arc<dyn Service>) -> Self {
        self.services.push(service);
        self
    }

    /// Sets the fast path.
    pub(crate) fn fast_path(mut self, fast: Arc<dyn FastPath>) -> Self {
        self.fast = Some(fast);
        self
    }

    /// Bounds the body bytes that all requests hold at once, and how long a body may go
    /// without a byte arriving (as nginx's `client_body_timeout`: a body sent slowly holds a
    /// place among the requests in flight).
    pub(crate) fn body_limits(mut self, bodies: Arc<InFlight>, idle: Duration) -> Self {
        self.bodies = Some(bodies);
        self.body_idle = Some(idle);
        self
    }

    /// Answers from the fast path when it can, synchronously, with the CORS header.
    pub(crate) fn serve_cached<B>(
        &self,
        peer: std::net::IpAddr,
        req: &Request<B>,
    ) -> Option<HttpResponse> {
        let fast = self.fast.as_ref()?;
        let mut response = fast.answer(peer, req.method(), req.uri(), req.headers())?;
        allow_origin(req.headers(), &mut response);
        Some(response)
    }

    /// Answers one request: the first service that owns it gets it with its body collected.
    /// Correct for any request; the listeners call it for those [`Self::serve_cached`] did
    /// not answer.
    pub(crate) async fn serve<B>(&self, conn: Conn, req: Request<B>) -> HttpResponse
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let (mut parts, body) = req.into_parts();
        let origin = parts.headers.get(header::ORIGIN).cloned();
        let mut response = match self.services.iter().find(|s| s.owns(&parts)) {
            None => plain(StatusCode::NOT_FOUND, "not found\n"),
            Some(service) => 'answer: {
                tracing::trace!(service = service.name(), "routed");
                let limit = service.body_limit(&parts);
                if limit > UNVOUCHED_BODY
                    && let Some(refused) = service.vouch(conn, &mut parts).await
                {
                    break 'answer refused;
                }
                match collect(body, limit, self.bodies.as_ref(), self.body_idle).await {
                    Ok((collected, _held)) => {
                        let req = Request::from_parts(parts, Full::new(collected));
                        // The body's bytes stay charged until the answer is ready.
                        Arc::clone(service).call(conn, req).await
                    }
                    Err(BodyError::OverBudget) => overloaded(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "the node holds too many request bodies; try again shortly",
                    ),
                    Err(BodyError::Refused) => service.body_refused(&parts, limit),
                    Err(BodyError::TimedOut) => {
                        let mut response = refusal(
                            StatusCode::REQUEST_TIMEOUT,
                            2,
                            "the request body stopped arriving; send it again",
                        );
                        response
                            .headers_mut()
                            .insert(header::CONNECTION, HeaderValue::from_static("close"));
                        response
                    }
                }
            }
        };
        if let Some(origin) = origin {
            response
                .headers_mut()
                .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        }
        response
    }
}

/// Why a body was not collected.
enum BodyError {
    /// It is larger than the limit, or could not be read.
    Refused,
    /// The bytes held by all requests would exceed their budget.
    OverBudget,
    /// No byte arrived for too long.
    TimedOut,
}

/// Collects a body of at most `limit` bytes, charging what arrives to `budget` as it arrives.
async fn collect<B>(
    body: B,
    limit: usize,
    budget: Option<&Arc<InFlight>>,
    idle: Option<Duration>,
) -> Result<(Bytes, Option<Charge>), BodyError>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let mut charge = match budget {
        Some(budget) => Some(budget.charge(0).ok_or(BodyError::OverBudget)?),
        None => None,
    };
    let mut body = std::pin::pin!(Limited::new(body, limit));
    let mut first: Option<Bytes> = None;
    let mut rest: Vec<u8> = Vec::new();
    loop {
        if hyper::body::Body::is_end_stream(&*body) {
            break;
        }
        let frame = match idle {
            Some(idle) => tokio::time::timeout(idle, body.frame())
                .await
                .map_err(|_| BodyError::TimedOut)?,
            None => body.frame().await,
        };
        let Some(frame) = frame else {
            break;
        };
        let frame = frame.map_err(|_| BodyError::Refused)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if let Some(charge) = charge.as_mut()
            && !charge.grow(data.len())
        {
            return Err(BodyError::OverBudget);
        }
        match first.take() {
            // The usual case: one frame, kept without a copy.
            None if rest.is_empty() => first = Some(data),
            held => {
                if let Some(held) = held {
                    rest.extend_from_slice(&held);
                }
                rest.extend_from_slice(&data);
            }
        }
    }
    let collected = first.unwrap_or_else(|| Bytes::from(rest));
    Ok((collected, charge))
}

/// A refusal for want of capacity: `status` (429 or 503) with `Retry-After` and the handle.net
/// API's body for RC 3 (server too busy).
pub(crate) fn overloaded(status: StatusCode, message: &str) -> HttpResponse {
    let mut response = refusal(status, 3, message);
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(crate::budget::RETRY_AFTER_SECS),
    );
    response
}

/// A request refused before any service saw it: `status` with the handle.net API's body for
/// `response_code`.
fn refusal(status: StatusCode, response_code: u32, message: &str) -> HttpResponse {
    let body = serde_json::json!({"responseCode": response_code, "message": message});
    json(status, body.to_string().into_bytes())
}

/// The collected body of a request, as bytes.
pub(crate) async fn body_bytes(body: Full<Bytes>) -> Bytes {
    // A full body yields its one frame; it cannot fail.
    body.collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default()
}

/// Copies the request's `Origin` into `Access-Control-Allow-Origin`.
fn allow_origin(headers: &HeaderMap, response: &mut HttpResponse) {
    if let Some(origin) = headers.get(header::ORIGIN) {
        response
            .headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    }
}

/// A plain-text response.
pub(crate) fn plain(status: StatusCode, text: &'static str) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// A JSON response.
pub(crate) fn json(status: StatusCode, body: Vec<u8>) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    response
}

/// CORS preflight: every `OPTIONS` request that no earlier service owns.
#[derive(Debug, Default)]
pub(crate) struct Preflight;

impl Service for Preflight {
    fn name(&self) -> &'static str {
        "preflight"
    }

    fn owns(&self, parts: &Parts) -> bool {
        parts.method == Method::OPTIONS
    }

    fn body_limit(&self, _: &Parts) -> usize {
        0
    }

    fn body_refused(&self, _: &Parts, _: usize) -> HttpResponse {
        preflight()
    }

    fn call(self: Arc<Self>, _: Conn, _: HttpRequest) -> Answer {
        Box::pin(async { preflight() })
    }
}

fn preflight() -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::new()));
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET,POST,HEAD,PUT,DELETE"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("X-Requested-With,Authorization,Origin,Accept,Content-Type"),
    );
    response
}
