//! Operation reports at a top-level node (运行监测): `POST /api/federation/reports` takes a
//! secondary's signed report (the format is in `docs/federation.md` and
//! `crate::federation::report`), and `GET /api/federation/reports` lists the stored ones to
//! server administrators and auditors, filtered by `prefix` and by time (`from`, `to`: ISO
//! 8601 or epoch seconds).
//!
//! A report is accepted only with a signature of the identity it names, checked as a
//! challenge answer of that identity (`crate::native::auth::verify_answer`), and only from the
//! identity of the delegation it reports for; anything else is refused and nothing is stored.

use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Response, StatusCode};
use http_body_util::Full;
use idnode_proto::ValueRef;
use idnode_proto::wire::ChallengeAnswer;
use idnode_resolver::{Failure, Fault, Identity};
use serde_json::{Value, json};

use crate::federation::report::{PATH, SIGNED_PREFIX, signed_digest};
use crate::http::auth::Presented;
use crate::http::{Answer, Auth, Conn, Http, HttpRequest, HttpResponse, Query, Service};

/// The largest report accepted.
const MAX_REPORT_BYTES: usize = 256 * 1024;

/// The reports API over the HTTP layer.
pub(crate) struct Reports {
    http: Arc<Http>,
}

impl Reports {
    /// The reports API.
    pub(crate) fn new(http: Arc<Http>) -> Arc<Self> {
        Arc::new(Self { http })
    }
}

impl Service for Reports {
    fn name(&self) -> &'static str {
        "federation"
    }

    fn owns(&self, parts: &http::request::Parts) -> bool {
        parts.uri.path() == PATH
    }

    fn body_limit(&self, _: &http::request::Parts) -> usize {
        MAX_REPORT_BYTES
    }

    fn body_refused(&self, _: &http::request::Parts, limit: usize) -> HttpResponse {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("a report is at most {limit} bytes"),
        )
    }

    fn call(self: Arc<Self>, conn: Conn, req: HttpRequest) -> Answer {
        Box::pin(async move {
            let started = Instant::now();
            let response = match *req.method() {
                Method::POST => receive(&self.http, req).await,
                Method::GET => list(&self.http, conn, &req).await,
                _ => error(StatusCode::METHOD_NOT_ALLOWED, "use GET or POST"),
            };
            crate::metrics::record(
                "rest",
                "federation_reports",
                response.status().as_u16(),
                started.elapsed(),
            );
            response
        })
    }
}

/// The status of a failure.
fn status_of(failure: &Failure) -> StatusCode {
    match failure.fault {
        Fault::Unauthenticated => StatusCode::UNAUTHORIZED,
        Fault::Forbidden => StatusCode::FORBIDDEN,
        Fault::NotFound => StatusCode::NOT_FOUND,
        Fault::Internal | Fault::Upstream { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        Fault::Busy => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// What a posted report claims, before its signature is checked.
#[derive(Debug)]
pub(crate) struct Posted {
    /// The reporting prefix.
    pub(crate) prefix: String,
    /// The window, epoch seconds.
    pub(crate) from: u32,
    /// The window's end.
    pub(crate) to: u32,
    /// The SHA-256 of the report's JCS form.
    pub(crate) digest: [u8; 32],
    /// The signature as a challenge answer.
    pub(crate) answer: ChallengeAnswer,
}

/// Reads a posted report: JSON, the format and version, prefix, window and signature fields,
/// and the digest the signature must cover. Pure, for the `federation_report` fuzz target.
pub(crate) fn parse(bytes: &[u8]) -> Result<Posted, String> {
    let posted = serde_json::from_slice::<Value>(bytes).map_err(|_| "the body is not JSON")?;
    let (Some(report), Some(signature)) = (posted.get("report"), posted.get("signature")) else {
        return Err("expected {\"report\": …, \"signature\": …}".into());
    };
    if report["format"] != "idnode-report" || report["version"] != 1 {
        return Err("not an idnode-report of version 1".into());
    }
    let window = |name: &str| {
        report["window"][name]
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
    };
    let (Some(prefix), Some(from), Some(to)) =
        (report["prefix"].as_str(), window("from"), window("to"))
    else {
        return Err("a report needs prefix and window {from, to}".into());
    };
    if from > to {
        return Err("the window ends before it starts".into());
    }
    let identity = signature["identity"].as_str().and_then(ValueRef::parse);
    let response = signature["response"]
        .as_str()
        .and_then(|r| base64::engine::general_purpose::STANDARD.decode(r).ok());
    let (Some(identity), Some(auth_type), Some(response)) =
        (identity, signature["authType"].as_str(), response)
    else {
        return Err(
            "a signature needs identity (index:handle), authType and response (base64)".into(),
        );
    };
    if report["identity"].as_str() != Some(identity.to_string().as_str()) {
        return Err("the signature's identity is not the report's".into());
    }
    let digest = signed_digest(report).map_err(|e| format!("the report has no JCS form: {e}"))?;
    Ok(Posted {
        prefix: prefix.to_owned(),
        from,
        to,
        digest,
        answer: ChallengeAnswer {
            auth_type: auth_type.to_owned(),
            identity,
            response,
        },
    })
}

/// Checks and stores a posted report.
async fn receive(http: &Arc<Http>, req: HttpRequest) -> HttpResponse {
    let bytes = http_body_util::BodyExt::collect(req.into_body())
        .await
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default();
    let Posted {
        prefix,
        from,
        to,
        digest,
        answer,
    } = match parse(&bytes) {
        Ok(parsed) => parsed,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    let Ok(proven) =
        crate::native::auth::verify_answer(&http.resolver, &answer, SIGNED_PREFIX, &digest)
    else {
        return error(StatusCode::FORBIDDEN, "the signature does not verify");
    };
    match http
        .resolver
        .store_report(&proven, &prefix, from, to, bytes.to_vec())
        .await
    {
        Ok(()) => json(StatusCode::CREATED, json!({"stored": true}).to_string()),
        Err(f) => error(status_of(&f), &f.message),
    }
}

/// A time parameter: ISO 8601 or epoch seconds.
fn time_of(text: &str) -> Option<u32> {
    text.parse()
        .ok()
        .or_else(|| idnode_proto::time::parse_iso8601(text))
}

/// Lists stored reports.
async fn list(http: &Arc<Http>, conn: Conn, req: &HttpRequest) -> HttpResponse {
    let identity = match crate::http::auth::authenticate(http, conn, Presented::of(req)).await {
        Auth::Verified(identity) => Some(identity),
        Auth::Anonymous => None,
        Auth::Rejected => return error(StatusCode::UNAUTHORIZED, "credentials did not verify"),
    };
    let query = Query::parse(req.uri().query());
    let bound = |name: &str, default: u32| match query.get(name) {
        None => Ok(default),
        Some(text) => time_of(text).ok_or_else(|| name.to_owned()),
    };
    let (since, until) = match (bound("from", 0), bound("to", u32::MAX)) {
        (Ok(since), Ok(until)) => (since, until),
        (Err(name), _) | (_, Err(name)) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("{name}: expected ISO 8601 or epoch seconds"),
            );
        }
    };
    let limit = query.number("limit").unwrap_or(100);
    let reports = match http.resolver.reports(
        identity.as_ref().map(|i: &Identity| i),
        query.get("prefix"),
        since,
        until,
        limit,
    ) {
        Ok(reports) => reports,
        Err(f) => {
            let mut response = error(status_of(&f), "server administrators and auditors only");
            if f.fault == Fault::Unauthenticated {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"handle\""),
                );
            }
            return response;
        }
    };
    let items: Vec<Value> = reports
        .into_iter()
        .map(|r| {
            let document = serde_json::from_slice::<Value>(&r.document).unwrap_or(Value::Null);
            json!({"prefix": r.prefix, "from": r.from, "to": r.to,
                   "report": document["report"], "signature": document["signature"]})
        })
        .collect();
    json(StatusCode::OK, json!({"reports": items}).to_string())
}

fn json(status: StatusCode, body: String) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=utf-8"),
    );
    response
}

fn error(status: StatusCode, message: &str) -> HttpResponse {
    json(status, json!({"message": message}).to_string())
}
