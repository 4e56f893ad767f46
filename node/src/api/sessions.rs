//! The sessions API of the handle.net REST API (`handle-rest-api.md` §6.5): `POST
//! /api/sessions` starts a session for `Authorization: Handle`, and `GET`/`PUT`/`DELETE
//! /api/sessions/this` read, authenticate and end it. The sessions themselves and the
//! challenge–response are the HTTP layer's (`crate::http::session`).

use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::request::Parts;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full, Limited};
use idnode_proto::json::write_str;
use serde_json::Value;

use crate::http::session::*;
use crate::http::{Answer, Auth, Conn, Http, HttpRequest, HttpResponse, JSON, Service};

/// The sessions API service.
pub(crate) struct SessionsApi {
    http: Arc<Http>,
}

impl SessionsApi {
    /// The service over the HTTP layer's sessions.
    pub(crate) fn new(http: Arc<Http>) -> Arc<Self> {
        Arc::new(Self { http })
    }
}

impl Service for SessionsApi {
    fn name(&self) -> &'static str {
        "sessions"
    }

    fn owns(&self, parts: &Parts) -> bool {
        owns(parts.uri.path())
    }

    fn body_limit(&self, _: &Parts) -> usize {
        MAX_SESSION_BODY
    }

    fn body_refused(&self, _: &Parts, limit: usize) -> HttpResponse {
        let mut body = Vec::new();
        body.extend_from_slice(b"{\"responseCode\":4,\"message\":");
        write_str(
            &mut body,
            &format!("Cannot read request body: larger than {limit} bytes"),
        );
        body.push(b'}');
        json(StatusCode::BAD_REQUEST, body)
    }

    fn call(self: Arc<Self>, conn: Conn, req: HttpRequest) -> Answer {
        Box::pin(async move { serve(self.http.clone(), conn, req).await })
    }
}

/// Whether a path belongs to the sessions API.
fn owns(path: &str) -> bool {
    path == "/api/sessions" || path.starts_with("/api/sessions/")
}

/// Answers `POST /api/sessions` and `GET`/`PUT`/`DELETE /api/sessions/this`.
async fn serve<B>(state: Arc<Http>, conn: Conn, req: Request<B>) -> Response<Full<Bytes>>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let started = Instant::now();
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let response = sessions_api(&state, conn, req, &method, &path).await;
    crate::metrics::record(
        "rest",
        "session",
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

async fn sessions_api<B>(
    state: &Arc<Http>,
    conn: Conn,
    req: Request<B>,
    method: &Method,
    path: &str,
) -> Response<Full<Bytes>>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let this = path == "/api/sessions/this";
    let known = matches!(
        (method, path, this),
        (&Method::POST, "/api/sessions", _)
            | (&Method::GET | &Method::PUT | &Method::DELETE, _, true)
    );
    if !known {
        let mut body = b"{\"responseCode\":4,\"message\":".to_vec();
        write_str(
            &mut body,
            &format!("Unknown HTTP API endpoint {method} {path}"),
        );
        body.push(b'}');
        return json(StatusCode::METHOD_NOT_ALLOWED, body);
    }
    if !crate::http::auth::credentials_allowed(state, conn) {
        // Over plain HTTP credentials are ignored, so a session could never prove anything;
        // its id would also travel in clear text.
        return json(
            StatusCode::FORBIDDEN,
            b"{\"responseCode\":402,\"message\":\"Sessions need HTTPS\"}".to_vec(),
        );
    }
    let (header_params, basic) = authorization(req.headers());
    let mut params = header_params.unwrap_or_default();
    let now = Instant::now();
    if *method == Method::POST || *method == Method::PUT {
        match read_json(req).await {
            Ok(Some(body)) => params.fill_from_json(&body),
            Ok(None) => {}
            Err(message) => {
                let mut body = b"{\"responseCode\":4,\"message\":".to_vec();
                write_str(&mut body, &message);
                body.push(b'}');
                return json(StatusCode::BAD_REQUEST, body);
            }
        }
    }
    match *method {
        Method::POST => {
            let identity = match &basic {
                Some(credentials) => {
                    match crate::http::auth::basic_credentials(state, conn, credentials).await {
                        Auth::Verified(identity) => Some(identity),
                        Auth::Anonymous | Auth::Rejected => return rejected(state, &params),
                    }
                }
                None => None,
            };
            let session = state.sessions.create(params.cnonce_bytes(), identity, now);
            let mut response = json(StatusCode::CREATED, session_body(state, &session));
            response.headers_mut().insert(
                header::LOCATION,
                HeaderValue::from_static("/api/sessions/this"),
            );
            response
        }
        Method::GET => match current(state, &params, now) {
            Some(session) => json(StatusCode::OK, session_body(state, &session)),
            None => missing_session(state, &params),
        },
        Method::DELETE => {
            match params
                .session_id
                .as_deref()
                .filter(|id| state.sessions.remove(id, now))
            {
                Some(_) => {
                    let mut response = Response::new(Full::new(Bytes::new()));
                    *response.status_mut() = StatusCode::NO_CONTENT;
                    response
                }
                None => missing_session(state, &params),
            }
        }
        _ => {
            // PUT: prove an identity in the session, by signature or by Basic credentials.
            let Some(session) = current(state, &params, now) else {
                return missing_session(state, &params);
            };
            let identity = if params.signature.is_some() {
                match verify(state, session.nonce, &params).await {
                    Ok(identity) => identity,
                    Err(Refused::Malformed | Refused::Wrong) => {
                        state.sessions.remove(&session.id, now);
                        return rejected(state, &params);
                    }
                }
            } else if let Some(credentials) = &basic {
                match crate::http::auth::basic_credentials(state, conn, credentials).await {
                    Auth::Verified(identity) => identity,
                    Auth::Anonymous | Auth::Rejected => {
                        state.sessions.remove(&session.id, now);
                        return rejected(state, &params);
                    }
                }
            } else {
                return json(
                    StatusCode::BAD_REQUEST,
                    b"{\"responseCode\":4,\"message\":\"Give id, type, cnonce, alg and signature, or Basic credentials\"}"
                        .to_vec(),
                );
            };
            if !state
                .sessions
                .set_identity(&session.id, identity.clone(), now)
            {
                return missing_session(state, &params);
            }
            let session = SessionView {
                identity: Some(identity),
                ..session
            };
            json(StatusCode::OK, session_body(state, &session))
        }
    }
}

/// The caller's live session.
fn current(state: &Http, params: &HandleParams, now: Instant) -> Option<SessionView> {
    params
        .session_id
        .as_deref()
        .and_then(|id| state.sessions.find(id, now))
}

/// 401 for a request without a session (a plain challenge) or with an unknown or expired one
/// (a challenge with `error`).
fn missing_session(state: &Http, params: &HandleParams) -> Response<Full<Bytes>> {
    let failed = params.session_id.is_some();
    let mut response = json(StatusCode::UNAUTHORIZED, b"{\"responseCode\":402}".to_vec());
    let hint = ChallengeHint {
        session_id: None,
        cnonce: params.cnonce_bytes(),
    };
    add_challenge(state, &mut response, &hint, failed);
    response
}

/// 401 with an empty body and a challenge with `error`, as for failed Basic credentials.
fn rejected(state: &Http, params: &HandleParams) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    let hint = ChallengeHint {
        session_id: None,
        cnonce: params.cnonce_bytes(),
    };
    add_challenge(state, &mut response, &hint, true);
    response
}

/// `{"sessionId","nonce"[,"serverAlg","serverSignature"][,"authenticated":true,"id"]}`.
fn session_body(state: &Http, session: &SessionView) -> Vec<u8> {
    let mut body = serde_json::Map::new();
    body.insert("sessionId".into(), Value::from(session.id.clone()));
    body.insert("nonce".into(), Value::from(STANDARD.encode(session.nonce)));
    if let Some((alg, signature)) = server_signature(state, session) {
        body.insert("serverAlg".into(), Value::from(alg));
        body.insert(
            "serverSignature".into(),
            Value::from(STANDARD.encode(signature)),
        );
    }
    if let Some(identity) = &session.identity {
        body.insert("authenticated".into(), Value::Bool(true));
        body.insert("id".into(), Value::from(identity.to_string()));
    }
    Value::Object(body).to_string().into_bytes()
}

/// The request body as JSON: `None` when empty, `Err` when unreadable or not JSON.
async fn read_json<B>(req: Request<B>) -> Result<Option<Value>, String>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let bytes = Limited::new(req.into_body(), MAX_SESSION_BODY)
        .collect()
        .await
        .map_err(|e| format!("Cannot read request body: {e}"))?
        .to_bytes();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| format!("Malformed JSON: {e}"))
}

fn json(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    response
}
