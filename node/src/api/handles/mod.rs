//! The handle.net-compatible JSON REST API (`/api/...`), mapped onto resolver operations.
//!
//! This module only translates: HTTP requests to [`Operation`]s, and [`Outcome`]s and
//! [`Failure`]s to the response objects and statuses of the reference server
//! (`handle-rest-api.md` §4 and §5). The resolve route writes JSON straight from the stored
//! value encodings.

mod listing;

use self::listing::{list_handles, prefixes, site_response};
use crate::http::auth::Presented;

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::request::Parts;
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt as _, Full, Limited};
use idnode_proto::json::{values_from_body, write_encoded_value, write_str};
use idnode_proto::{Record, ResponseCode, TypeFilter};
use idnode_resolver::{Failure, Fault, Identity, Operation, Outcome};
use percent_encoding::percent_decode_str;

use crate::cache::ResponseCache;
use crate::http::{
    Answer, Auth, Conn, FastPath, Http, HttpRequest, HttpResponse, JSON, Query, Service, plain,
};
use crate::site;
use idnode_client::cache::{TtlCache, ttl_of_encoded};

/// The handle.net API's own state next to the HTTP layer: the caches of rendered resolutions.
pub(crate) struct Handles {
    http: Arc<Http>,
    /// Rendered REST resolutions, dropped by every commit that changes them.
    pub(crate) cache: Arc<ResponseCache>,
    /// Rendered resolutions of handles that live elsewhere, by spelling, each for the shortest
    /// TTL of its values; dropped when the homed prefixes change.
    recursed: Option<Arc<TtlCache<String, Bytes>>>,
}

impl std::ops::Deref for Handles {
    type Target = Http;

    fn deref(&self) -> &Http {
        &self.http
    }
}

impl Handles {
    /// The handle.net API over the HTTP layer; its cache follows the core's commits.
    pub(crate) fn new(http: Arc<Http>) -> Arc<Self> {
        let cache = Arc::new(ResponseCache::new(http.config.http.cache_max_bytes));
        let federation = &http.config.federation;
        let recursed = (federation.recurses() && federation.cache_entries > 0 && cache.enabled())
            .then(|| Arc::new(TtlCache::new(federation.cache_entries)));
        let listener = Arc::clone(&cache);
        let recursed_listener = recursed.clone();
        http.add_commit_listener(Arc::new(move |notice| {
            listener.invalidate(notice);
            if notice.prefixes_changed
                && let Some(recursed) = &recursed_listener
            {
                recursed.clear();
            }
        }));
        Arc::new(Self {
            http,
            cache,
            recursed,
        })
    }
}

impl Service for Handles {
    fn name(&self) -> &'static str {
        "handles"
    }

    fn owns(&self, parts: &Parts) -> bool {
        parts.uri.path().starts_with("/api/")
    }

    fn body_limit(&self, _: &Parts) -> usize {
        self.config.http.max_body_bytes
    }

    fn body_refused(&self, parts: &Parts, limit: usize) -> HttpResponse {
        let style = Style::from_query(&Query::parse(parts.uri.query()));
        let failure = protocol_error(format!("Request body exceeds {limit} bytes"));
        let conn = Conn {
            peer: std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
            tls: false,
        };
        failure_response(&failure, None, false, conn, &style)
    }

    fn call(self: Arc<Self>, conn: Conn, req: HttpRequest) -> Answer {
        Box::pin(async move {
            let path = req.uri().path().to_owned();
            api(self, conn, req, &path).await
        })
    }
}

/// Anonymous `GET /api/handles/{handle}` without parameters, answered from the cache of
/// rendered resolutions when it holds the handle in this spelling: the hot path, which the
/// listeners try before the router, synchronously and without cloning anything.
impl FastPath for Handles {
    fn answer(
        &self,
        peer: std::net::IpAddr,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Option<HttpResponse> {
        if method != Method::GET
            || uri.query().is_some()
            || !self.cache.enabled()
            || headers.contains_key(header::AUTHORIZATION)
        {
            return None;
        }
        let started = Instant::now();
        let raw = uri.path().strip_prefix("/api/handles/")?;
        let text: std::borrow::Cow<'_, str> = if raw.contains('%') {
            handle_text(raw).ok()?.into()
        } else if raw.contains('/') {
            raw.into()
        } else {
            return None;
        };
        let body = match self.cache.spelled(&text) {
            Some(body) => body,
            // A handle that lives elsewhere, resolved before for a source that may recurse.
            None => self
                .recursed
                .as_ref()?
                .get(text.as_ref(), Instant::now())
                .filter(|_| self.recursion_for(peer, true, 0, false).is_some())?,
        };
        let mut response = Response::new(Full::new(body));
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
        crate::metrics::record_cached_resolution(started.elapsed());
        Some(response)
    }
}

/// How a response body is presented.
#[derive(Clone)]
struct Style {
    pretty: bool,
    callback: Option<String>,
}

impl Style {
    fn from_query(q: &Query) -> Self {
        Self {
            pretty: q.flag("pretty").unwrap_or(false),
            callback: q
                .first("callback")
                .filter(|c| !c.is_empty())
                .map(sanitize_callback),
        }
    }
}

/// JSONP callback names keep `_`, `$`, letters, digits (not first) and code points from U+00A0;
/// anything else becomes `_`.
fn sanitize_callback(name: &str) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| match c {
            '_' | '$' => c,
            c if c.is_ascii_alphabetic() => c,
            c if c.is_ascii_digit() && i > 0 => c,
            c if u32::from(c) >= 0xA0 => c,
            _ => '_',
        })
        .collect()
}

fn json_response(status: StatusCode, body: Vec<u8>, style: &Style) -> Response<Full<Bytes>> {
    let body = if style.pretty {
        match serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| serde_json::to_vec_pretty(&v).ok())
        {
            Some(pretty) => pretty,
            None => body,
        }
    } else {
        body
    };
    let (body, content_type) = match &style.callback {
        Some(cb) => {
            let mut wrapped = Vec::with_capacity(body.len() + cb.len() + 3);
            wrapped.extend_from_slice(cb.as_bytes());
            wrapped.push(b'(');
            wrapped.extend_from_slice(&body);
            wrapped.extend_from_slice(b");");
            (wrapped, "application/javascript;charset=utf-8")
        }
        None => (body, JSON),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// `{"responseCode":N[,"message":…][,"handle":…]}` with the status of the reference's table.
fn failure_response(
    failure: &Failure,
    handle: Option<&str>,
    resolution: bool,
    conn: Conn,
    style: &Style,
) -> Response<Full<Bytes>> {
    let mut body = Vec::with_capacity(96);
    body.extend_from_slice(b"{\"responseCode\":");
    body.extend_from_slice(failure.rc.code().to_string().as_bytes());
    if !failure.message.is_empty() {
        body.extend_from_slice(b",\"message\":");
        write_str(&mut body, &failure.message);
    }
    if let Some(handle) = handle {
        body.extend_from_slice(b",\"handle\":");
        write_str(&mut body, handle);
    }
    // A referral (RC 302 or 303), as the reference server writes it.
    if let Some(referral) = &failure.referral {
        if !referral.handle.is_empty() {
            body.extend_from_slice(b",\"referralHandle\":");
            write_str(&mut body, &referral.handle);
        }
        body.extend_from_slice(b",\"values\":[");
        for (i, value) in referral.values.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            idnode_proto::json::write_value(&mut body, value);
        }
        body.push(b']');
    }
    body.push(b'}');
    let needs_auth = failure.rc == ResponseCode::AuthenticationNeeded;
    // Over plain HTTP credentials are not accepted, so asking for them is pointless: 403.
    let status = match failure.fault {
        _ if needs_auth && !conn.tls => StatusCode::FORBIDDEN,
        // Another node failed us: a gateway's statuses.
        Fault::Upstream { retryable: true } => StatusCode::GATEWAY_TIMEOUT,
        Fault::Upstream { retryable: false } => StatusCode::BAD_GATEWAY,
        _ => status(failure.rc.http_status(resolution, false)),
    };
    let mut response = json_response(status, body, style);
    if needs_auth && conn.tls {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"handle\""),
        );
    }
    response
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn protocol_error(message: impl Into<String>) -> Failure {
    Failure::new(ResponseCode::ProtocolError, message)
}

/// 401 with an empty body and the challenges, `error` included, as the reference answers
/// credentials that did not verify.
fn rejected_credentials(
    state: &Handles,
    hint: &crate::http::session::ChallengeHint,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    crate::http::session::add_challenge(state, &mut response, hint, true);
    response
}

async fn api<B>(
    state: Arc<Handles>,
    conn: Conn,
    req: Request<B>,
    path: &str,
) -> Response<Full<Bytes>>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let started = Instant::now();
    let query = Query::parse(req.uri().query());
    let style = Style::from_query(&query);
    let method = req.method().clone();
    let hint = crate::http::session::ChallengeHint::from_headers(req.headers());
    let identity =
        match crate::http::auth::authenticate(&state.http, conn, Presented::of(&req)).await {
            Auth::Anonymous => None,
            Auth::Verified(identity) => Some(identity),
            Auth::Rejected => return rejected_credentials(&state, &hint),
        };
    let (op_name, mut response) =
        if let Some(raw) = path.strip_prefix("/api/handles/").filter(|r| !r.is_empty()) {
            handle_resource(&state, conn, req, raw, &query, &style, identity).await
        } else if path == "/api/handles" || path == "/api/handles/" {
            (
                "list_handles",
                list_handles(&state, conn, &method, &query, &style, identity).await,
            )
        } else if path == "/api/prefixes" || path.starts_with("/api/prefixes/") {
            (
                "prefixes",
                prefixes(&state, conn, &method, path, &query, &style, identity).await,
            )
        } else if path == "/api/site" && method == Method::GET {
            ("site", site_response(&state, &style))
        } else {
            let failure = protocol_error(format!("Unknown HTTP API endpoint {path}"));
            (
                "unknown",
                failure_response(&failure, None, false, conn, &style)
                    .with_status(StatusCode::METHOD_NOT_ALLOWED),
            )
        };
    if response.status() == StatusCode::UNAUTHORIZED {
        // Authentication needed: offer a session for `Authorization: Handle` besides Basic.
        crate::http::session::add_challenge(&state, &mut response, &hint, false);
    }
    crate::metrics::record(
        "rest",
        op_name,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

trait WithStatus {
    fn with_status(self, status: StatusCode) -> Self;
}

impl WithStatus for Response<Full<Bytes>> {
    fn with_status(mut self, status: StatusCode) -> Self {
        *self.status_mut() = status;
        self
    }
}

/// The `{handle}` of `/api/handles/{handle}`: percent-decoded, with `+` kept literally. A
/// handle without `/` names the prefix handle `0.NA/{handle}`, as in the reference.
///
/// Percent-encoded bytes that are not UTF-8 are refused (RC 102), never replaced: a lossy
/// decoding would create or change a handle other than the one the client named.
fn handle_text(raw: &str) -> Result<String, Failure> {
    let text = percent_decode_str(raw).decode_utf8().map_err(|_| {
        Failure::new(
            ResponseCode::InvalidHandle,
            "The handle in the path is not percent-encoded UTF-8",
        )
    })?;
    if text.contains('/') {
        Ok(text.into_owned())
    } else {
        Ok(format!("{}/{text}", idnode_proto::PREFIX_HANDLE_PREFIX))
    }
}

async fn handle_resource<B>(
    state: &Arc<Handles>,
    conn: Conn,
    req: Request<B>,
    raw: &str,
    query: &Query,
    style: &Style,
    identity: Option<Identity>,
) -> (&'static str, Response<Full<Bytes>>)
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let text = match handle_text(raw) {
        Ok(text) => text,
        Err(failure) => {
            let resolution = matches!(*req.method(), Method::GET | Method::HEAD);
            let op = if resolution { "resolve" } else { "write" };
            return (
                op,
                failure_response(&failure, None, resolution, conn, style),
            );
        }
    };
    let fail = |failure: Failure, resolution: bool| {
        failure_response(&failure, Some(&text), resolution, conn, style)
    };
    let method = req.method().clone();
    match method {
        Method::GET | Method::HEAD => {
            let handle = match state.resolver.parse_handle(&text) {
                Ok(h) => h,
                Err(f) => return ("resolve", fail(f, true)),
            };
            let filter = match type_filter(query) {
                Ok(f) => f,
                Err(f) => return ("resolve", fail(f, true)),
            };
            let public_only = query
                .flag("publicOnly")
                .unwrap_or_else(|| identity.is_none());
            // Only the plain anonymous answer is shared between callers.
            let cacheable = method == Method::GET && query.is_empty() && identity.is_none();
            let op = Operation::Resolve {
                handle,
                filter,
                public_only,
                refer: !query.flag("doNotRefer").unwrap_or(false),
                // A GET for a handle that lives elsewhere is resolved there for the sources
                // that may ask (`[federation] recursion_from`); others get the referral.
                recurse: state.recursion_for(conn.peer.ip(), true, 0, false),
            };
            (
                "resolve",
                resolve_response(state, op, identity, &text, conn, style, cacheable).await,
            )
        }
        Method::PUT => {
            let op = match put_operation(state, req, &text, query).await {
                Ok(op) => op,
                Err(f) => return ("create", fail(f, false)),
            };
            let name = op.name();
            (
                name,
                write_response(state, op, identity, &text, conn, style).await,
            )
        }
        Method::DELETE => {
            let handle = match state.resolver.parse_handle(&text) {
                Ok(h) => h,
                Err(f) => return ("delete", fail(f, false)),
            };
            let op = match indexes(query) {
                Ok(None) => Operation::Delete { handle },
                Ok(Some(indexes)) => Operation::RemoveValues { handle, indexes },
                Err(f) => return ("delete", fail(f, false)),
            };
            let name = op.name();
            (
                name,
                write_response(state, op, identity, &text, conn, style).await,
            )
        }
        Method::POST | Method::OPTIONS | Method::PATCH | Method::CONNECT | Method::TRACE => {
            let failure =
                protocol_error(format!("Unknown HTTP API endpoint {method} /api/handles/"));
            (
                "unknown",
                fail(failure, false).with_status(StatusCode::METHOD_NOT_ALLOWED),
            )
        }
        _ => (
            "unknown",
            plain(StatusCode::NOT_IMPLEMENTED, "method not implemented\n"),
        ),
    }
}

fn type_filter(query: &Query) -> Result<TypeFilter, Failure> {
    let indexes = query
        .all("index")
        .map(|i| {
            i.trim()
                .parse::<u32>()
                .map_err(|_| protocol_error(format!("Invalid index {i:?}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let types = query.all("type").map(str::to_owned).collect();
    Ok(TypeFilter { indexes, types })
}

/// `?index=` parameters: `None` when absent, every index otherwise. `various` is not allowed
/// here.
fn indexes(query: &Query) -> Result<Option<Vec<u32>>, Failure> {
    let listed: Vec<&str> = query.all("index").collect();
    if listed.is_empty() {
        return Ok(None);
    }
    listed
        .iter()
        .map(|i| {
            i.trim()
                .parse::<u32>()
                .map_err(|_| protocol_error(format!("Invalid index {i:?}")))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

async fn read_body<B>(state: &Handles, req: Request<B>) -> Result<Bytes, Failure>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let limit = state.config.http.max_body_bytes;
    match Limited::new(req.into_body(), limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(protocol_error(format!(
                "Request body exceeds {limit} bytes"
            )))
        }
        Err(e) => Err(protocol_error(format!("Cannot read request body: {e}"))),
    }
}

async fn put_operation<B>(
    state: &Handles,
    req: Request<B>,
    text: &str,
    query: &Query,
) -> Result<Operation, Failure>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let is_json = content_type
        .as_deref()
        .map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/json")
        })
        .unwrap_or(false);
    if !is_json {
        return Err(protocol_error(format!(
            "Unsupported media type {}: use application/json",
            content_type.as_deref().unwrap_or("(none)")
        )));
    }
    let body = read_body(state, req).await?;
    let json: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| protocol_error(format!("Malformed JSON: {e}")))?;
    let (body_handle, values) =
        values_from_body(&json).map_err(|e| Failure::new(ResponseCode::InvalidValue, e.0))?;
    if query.java_bool("mintNewSuffix").unwrap_or(false) {
        return Ok(Operation::Mint {
            stem: text.to_owned(),
            values,
        });
    }
    let handle = state.resolver.parse_handle(text)?;
    if let Some(named) = body_handle.filter(|named| !named.eq_ignore_ascii_case(text)) {
        return Err(protocol_error(format!(
            "Handle in body {named:?} does not match the path"
        )));
    }
    let overwrite = query.java_bool("overwrite").unwrap_or(true);
    let listed: Vec<&str> = query.all("index").collect();
    if listed.is_empty() {
        return Ok(Operation::Create {
            handle,
            values,
            overwrite,
        });
    }
    if listed.len() == 1 && listed[0].eq_ignore_ascii_case("various") {
        return Ok(Operation::AddValues {
            handle,
            values,
            overwrite,
        });
    }
    let mut wanted = indexes(query)?.unwrap_or_default();
    let mut given: Vec<u32> = values.iter().map(|v| v.index).collect();
    wanted.sort_unstable();
    wanted.dedup();
    given.sort_unstable();
    given.dedup();
    if wanted != given {
        return Err(protocol_error(
            "The index parameters must equal the indexes of the values in the body",
        ));
    }
    Ok(Operation::AddValues {
        handle,
        values,
        overwrite,
    })
}

fn now() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
        .unwrap_or(0)
}

/// The JSON of a successful resolution: `text` as the handle, and the encoded values.
fn values_body(text: &str, values: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(64 + values.len() * 2);
    body.extend_from_slice(b"{\"responseCode\":1,\"handle\":");
    write_str(&mut body, text);
    body.extend_from_slice(b",\"values\":[");
    if let Ok(record) = Record::parse(values) {
        for (i, value) in record.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            write_encoded_value(&mut body, value);
        }
    }
    body.extend_from_slice(b"]}");
    body
}

async fn resolve_response(
    state: &Handles,
    op: Operation,
    identity: Option<Identity>,
    text: &str,
    conn: Conn,
    style: &Style,
    cacheable: bool,
) -> Response<Full<Bytes>> {
    // Noted before the store is read: see `cache::ResponseCache::insert`.
    let generation = (cacheable && state.cache.enabled()).then(|| state.cache.generation());
    let result = state
        .resolver
        .handle(idnode_resolver::Request {
            op,
            identity,
            now: now(),
        })
        .await;
    match result {
        Ok(Outcome::Values { values, handle }) => {
            let body = values_body(text, &values);
            if let Some(generation) = generation {
                state.cache.insert(&handle.key(), text, &body, generation);
                let mut response = Response::new(Full::new(Bytes::from(body)));
                response
                    .headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
                return response;
            }
            json_response(StatusCode::OK, body, style)
        }
        // Resolved elsewhere: rendered alike, but not cached, since commits here do not
        // invalidate it.
        Ok(Outcome::Recursed { values, .. }) => {
            let body = values_body(text, &values);
            if let (Some(recursed), true) = (&state.recursed, cacheable) {
                let ttl = ttl_of_encoded(&values, u64::from(crate::core::unix_now()));
                recursed.insert(
                    text.to_owned(),
                    Bytes::from(body.clone()),
                    Instant::now(),
                    ttl,
                );
            }
            json_response(StatusCode::OK, body, style)
        }
        Ok(other) => {
            tracing::error!(?other, "resolution produced an unexpected outcome");
            failure_response(
                &Failure::bare(ResponseCode::Error),
                Some(text),
                true,
                conn,
                style,
            )
        }
        Err(f) if f.rc == ResponseCode::ValuesNotFound => {
            let mut body = Vec::with_capacity(64);
            body.extend_from_slice(b"{\"responseCode\":200,\"values\":[],\"handle\":");
            write_str(&mut body, text);
            body.push(b'}');
            json_response(StatusCode::OK, body, style)
        }
        Err(f) => failure_response(&f, Some(text), true, conn, style),
    }
}

async fn write_response(
    state: &Handles,
    op: Operation,
    identity: Option<Identity>,
    text: &str,
    conn: Conn,
    style: &Style,
) -> Response<Full<Bytes>> {
    let result = state
        .resolver
        .handle(idnode_resolver::Request {
            op,
            identity,
            now: now(),
        })
        .await;
    match result {
        Ok(Outcome::Done { handle, created }) => {
            let mut body = Vec::with_capacity(64);
            body.extend_from_slice(b"{\"responseCode\":1,\"handle\":");
            // A minted handle is new; otherwise echo the request's spelling.
            write_str(
                &mut body,
                if handle.as_str().len() == text.len() {
                    text
                } else {
                    handle.as_str()
                },
            );
            body.push(b'}');
            json_response(
                if created {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                },
                body,
                style,
            )
        }
        Ok(other) => {
            tracing::error!(?other, "write produced an unexpected outcome");
            failure_response(
                &Failure::bare(ResponseCode::Error),
                Some(text),
                false,
                conn,
                style,
            )
        }
        Err(f) => failure_response(&f, Some(text), false, conn, style),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_names_are_sanitized() {
        assert_eq!(sanitize_callback("cb"), "cb");
        assert_eq!(sanitize_callback("1a.b<"), "_a_b_");
        assert_eq!(sanitize_callback("$x_9丙"), "$x_9丙");
    }

    #[test]
    fn handle_paths() {
        assert_eq!(handle_text("88.118.8/a%2Fb+c").unwrap(), "88.118.8/a/b+c");
        assert_eq!(handle_text("88.118.8").unwrap(), "0.NA/88.118.8");
        let refused = handle_text("88.118.8/z%C0%AF").unwrap_err();
        assert_eq!(refused.rc, ResponseCode::InvalidHandle);
    }
}
