//! The SNMS-compatible HTTP API (reference design §6): tokens, identifier registration and
//! resolution (single and batch), templates, enterprise onboarding and the audit log.
//!
//! Like `rest`, this module only translates: every request becomes resolver calls, so template
//! validation, authorization and auditing are the same as on every other interface. Responses
//! use the SNMS envelope `{"status", "message", "data"}` with status `1` (ok), `-1` (not logged
//! in), `-2` (business error, see `message`), `-3` (no permission) or `-4` (internal error);
//! the HTTP status mirrors it (200, 401, 400, 403, 500). `docs/snms.md` describes every route.
//!
//! Authentication: `Authorization: Bearer <token>` with a token from `POST /identity/token`, or
//! HTTP Basic as on the handle.net API. As for Basic, credentials count only over TLS, or over
//! plain HTTP from loopback when `http.allow_loopback_plain_writes` is set.

mod admin;
pub(crate) mod body;
mod data;
mod token;

use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;
use idnode_resolver::{Failure, Fault, Identity};
use serde_json::{Value, json};

use crate::http::auth::Presented;
use crate::http::auth::{self, BearerRefused};
use crate::http::{
    Answer, Auth, Conn, Http, HttpRequest, HttpResponse, Query, Service, Vouch, Vouched,
};

/// The most items a batch call accepts (SNMS: ≤ 2000 per call).
pub(crate) const MAX_BATCH: usize = 2000;

/// The largest body of a batch call.
const MAX_BATCH_BODY: usize = 32 << 20;

/// The SNMS API's service: it holds nothing but the HTTP layer.
pub(crate) struct Snms {
    pub(crate) http: Arc<Http>,
}

impl std::ops::Deref for Snms {
    type Target = Http;

    fn deref(&self) -> &Http {
        &self.http
    }
}

impl Snms {
    /// The SNMS API over the HTTP layer.
    pub(crate) fn new(http: Arc<Http>) -> Arc<Self> {
        Arc::new(Self { http })
    }
}

impl Service for Snms {
    fn name(&self) -> &'static str {
        "snms"
    }

    fn owns(&self, parts: &http::request::Parts) -> bool {
        owns(parts.uri.path())
    }

    fn body_limit(&self, parts: &http::request::Parts) -> usize {
        if parts.uri.path().contains("/batch") {
            MAX_BATCH_BODY
        } else {
            self.config.http.max_body_bytes
        }
    }

    fn vouch<'a>(&'a self, conn: Conn, parts: &'a mut http::request::Parts) -> Vouch<'a> {
        // A batch body may be large: only a caller whose credentials verify may send one.
        Box::pin(async move {
            match identify(self, conn, Presented::of_parts(parts)).await {
                Ok(Some(identity)) => {
                    parts.extensions.insert(Vouched(identity));
                    None
                }
                Ok(None) => Some(envelope(
                    Status::NotLoggedIn,
                    "batches need a token or credentials; log in first",
                    Value::Null,
                )),
                Err(refused) => Some(refused),
            }
        })
    }

    fn body_refused(&self, _: &http::request::Parts, limit: usize) -> HttpResponse {
        business(format!(
            "the body is unreadable or larger than {limit} bytes"
        ))
    }

    fn call(self: Arc<Self>, conn: Conn, req: HttpRequest) -> Answer {
        Box::pin(serve(self, conn, req))
    }
}

/// Whether a path belongs to this API.
fn owns(path: &str) -> bool {
    path.starts_with("/identity/")
        || path == "/identity/token"
        || path.starts_with("/identityv2/")
        || path.starts_with("/snms/")
}

/// An SNMS envelope status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// 1: success.
    Ok,
    /// -1: not logged in.
    NotLoggedIn,
    /// -2: business error.
    Business,
    /// -3: no permission.
    Forbidden,
    /// -4: internal error.
    Internal,
}

impl Status {
    fn code(self) -> i32 {
        match self {
            Self::Ok => 1,
            Self::NotLoggedIn => -1,
            Self::Business => -2,
            Self::Forbidden => -3,
            Self::Internal => -4,
        }
    }

    fn http(self) -> StatusCode {
        match self {
            Self::Ok => StatusCode::OK,
            Self::NotLoggedIn => StatusCode::UNAUTHORIZED,
            Self::Business => StatusCode::BAD_REQUEST,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The envelope status of a pipeline failure: this interface's one table of fault classes.
    /// A busy node or a used-up quota is a business error whose message says so (SNMS has no
    /// status of its own for it).
    pub(crate) fn of(failure: &Failure) -> Self {
        match failure.fault {
            Fault::Unauthenticated => Self::NotLoggedIn,
            Fault::Forbidden => Self::Forbidden,
            Fault::Internal | Fault::Upstream { .. } => Self::Internal,
            Fault::Client | Fault::NotFound | Fault::Conflict | Fault::Busy => Self::Business,
            _ => Self::Internal,
        }
    }
}

/// A response in the SNMS envelope.
pub(crate) fn envelope(status: Status, message: &str, data: Value) -> Response<Full<Bytes>> {
    let body = json!({"status": status.code(), "message": message, "data": data});
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status.http();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=utf-8"),
    );
    response
}

/// A success with data.
pub(crate) fn ok(data: Value) -> Response<Full<Bytes>> {
    envelope(Status::Ok, "success", data)
}

/// A business error (-2).
pub(crate) fn business(message: impl AsRef<str>) -> Response<Full<Bytes>> {
    envelope(Status::Business, message.as_ref(), Value::Null)
}

/// The envelope of a pipeline failure.
pub(crate) fn failure(failure: &Failure) -> Response<Full<Bytes>> {
    envelope(Status::of(failure), &failure_message(failure), Value::Null)
}

/// The message of a failure: its text, or the response code's name.
pub(crate) fn failure_message(failure: &Failure) -> String {
    if failure.message.is_empty() {
        format!("{:?}", failure.rc)
    } else {
        failure.message.clone()
    }
}

/// Answers one request of this API.
async fn serve(state: Arc<Snms>, conn: Conn, req: HttpRequest) -> HttpResponse {
    let started = std::time::Instant::now();
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let query = Query::parse(req.uri().query());
    let bearer = auth::bearer_token(req.headers()).map(str::to_owned);
    let vouched = req.extensions().get::<Vouched>().map(|v| v.0.clone());
    let identity = match vouched {
        Some(identity) => Some(identity),
        None => match identify(&state, conn, Presented::of(&req)).await {
            Ok(identity) => identity,
            Err(response) => return response,
        },
    };
    let body = crate::http::body_bytes(req.into_body()).await;
    let call = Call {
        state: &state,
        conn,
        identity: identity.as_ref(),
        query: &query,
        body: &body,
        now: state.now(),
    };
    let response = match (method.as_str(), path.as_str()) {
        ("POST", "/identity/token") => token::issue(&call).await,
        ("DELETE", "/identity/token") => token::revoke(&call, bearer.as_deref()).await,
        (_, p) if p.starts_with("/identityv2/data") => data::route(&call, method.as_str(), p).await,
        (_, "/snms/api/v5/template") => admin::template(&call, method.as_str()).await,
        ("POST", "/snms/api/v3/ent/apply") => admin::apply(&call).await,
        ("GET", "/snms/api/v3/ent/page") => admin::enterprise_page(&call),
        ("GET", "/snms/api/v3/ent/detail") => admin::enterprise_detail(&call),
        ("POST", "/snms/api/v3/ent/review") => admin::review(&call).await,
        ("GET", "/snms/api/prefix/query") => admin::prefix_query(&call),
        ("GET", "/snms/api/v5/audit") => admin::audit(&call),
        _ => {
            business(format!("unknown endpoint {method} {path}")).map_status(StatusCode::NOT_FOUND)
        }
    };
    crate::metrics::record(
        "snms",
        "snms",
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// What a route handler gets.
pub(crate) struct Call<'a> {
    pub(crate) state: &'a Arc<Snms>,
    pub(crate) conn: Conn,
    pub(crate) identity: Option<&'a Identity>,
    pub(crate) query: &'a Query,
    pub(crate) body: &'a Bytes,
    pub(crate) now: u32,
}

impl Call<'_> {
    /// The body as JSON, or a business error response.
    // The error is the finished response, built at most once per request.
    #[allow(clippy::result_large_err)]
    pub(crate) fn json(&self) -> Result<Value, Response<Full<Bytes>>> {
        serde_json::from_slice(self.body).map_err(|e| business(format!("malformed JSON: {e}")))
    }
}

trait MapStatus {
    fn map_status(self, status: StatusCode) -> Self;
}

impl MapStatus for Response<Full<Bytes>> {
    fn map_status(mut self, status: StatusCode) -> Self {
        *self.status_mut() = status;
        self
    }
}

/// The caller: a Bearer token, HTTP Basic credentials, or nobody. Credentials that do not
/// verify are answered with status -1 at once.
// The error is the finished response, built at most once per request.
#[allow(clippy::result_large_err)]
async fn identify(
    state: &Snms,
    conn: Conn,
    presented: Presented<'_>,
) -> Result<Option<Identity>, Response<Full<Bytes>>> {
    match auth::bearer(state, conn, presented.headers) {
        Some(Ok(identity)) => return Ok(Some(identity)),
        Some(Err(BearerRefused::PlainHttp)) => {
            return Err(envelope(
                Status::NotLoggedIn,
                "tokens are accepted over HTTPS only",
                Value::Null,
            ));
        }
        Some(Err(BearerRefused::Invalid)) => {
            return Err(envelope(
                Status::NotLoggedIn,
                "the token is unknown or expired; log in again",
                Value::Null,
            ));
        }
        None => {}
    }
    match auth::authenticate(&state.http, conn, presented).await {
        Auth::Anonymous => Ok(None),
        Auth::Verified(identity) => Ok(Some(identity)),
        Auth::Rejected => Err(envelope(
            Status::NotLoggedIn,
            "the credentials were not accepted",
            Value::Null,
        )),
    }
}

#[cfg(test)]
mod tests {
    use idnode_proto::ResponseCode;

    use super::*;

    #[test]
    fn paths_and_queries() {
        assert!(owns("/identity/token"));
        assert!(owns("/identityv2/data/detail"));
        assert!(owns("/snms/api/v5/template"));
        assert!(!owns("/api/handles/x"));
        let q = Query::parse(Some("handle=88.118.8%2Fx&limit=5&empty="));
        assert_eq!(q.get("handle"), Some("88.118.8/x"));
        assert_eq!(q.number::<usize>("limit"), Some(5));
        assert_eq!(q.get("empty"), None);
    }

    #[test]
    fn statuses_follow_the_failure() {
        let of = |rc| Status::of(&Failure::bare(rc));
        assert_eq!(of(ResponseCode::InvalidValue), Status::Business);
        assert_eq!(of(ResponseCode::InvalidAdmin), Status::Forbidden);
        assert_eq!(of(ResponseCode::AuthenticationNeeded), Status::NotLoggedIn);
        assert_eq!(of(ResponseCode::Error), Status::Internal);
        assert_eq!(of(ResponseCode::AuthenTimeout), Status::NotLoggedIn);
        assert_eq!(of(ResponseCode::RequestLimitDaily), Status::Business);
        assert_eq!(Status::Business.http(), StatusCode::BAD_REQUEST);
    }
}
