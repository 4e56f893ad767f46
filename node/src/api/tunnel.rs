//! The HTTP tunnel (§9): `POST` with `Content-Type: application/x-hdl-message` on the HTTP and
//! HTTPS ports; the request body is one envelope + message (one leading CR or LF is skipped),
//! and the response body holds the answer messages back to back.

use std::sync::Arc;

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::Full;
use idnode_proto::wire::{ENVELOPE_LEN, MAX_MESSAGE_LEN};

use crate::http::{Answer, Conn, HttpRequest, HttpResponse, Service};
use crate::native::{ConnCtx, NativeNode, Now, Transport};

/// The media type of tunnelled messages.
pub(crate) const MEDIA_TYPE: &str = "application/x-hdl-message";

/// The tunnel service: native messages over HTTP, answered by the native protocol's handler.
pub(crate) struct Tunnel {
    native: Arc<NativeNode>,
}

impl Tunnel {
    /// The tunnel into `native`.
    pub(crate) fn new(native: Arc<NativeNode>) -> Arc<Self> {
        Arc::new(Self { native })
    }
}

impl Service for Tunnel {
    fn name(&self) -> &'static str {
        "tunnel"
    }

    fn owns(&self, parts: &http::request::Parts) -> bool {
        is_tunnel(parts)
    }

    fn body_limit(&self, _: &http::request::Parts) -> usize {
        ENVELOPE_LEN + MAX_MESSAGE_LEN + 1
    }

    fn body_refused(&self, _: &http::request::Parts, _: usize) -> HttpResponse {
        plain(StatusCode::PAYLOAD_TOO_LARGE)
    }

    fn call(self: Arc<Self>, conn: Conn, req: HttpRequest) -> Answer {
        Box::pin(async move { serve(Arc::clone(&self.native), conn, req).await })
    }
}

/// Whether a request is a tunnelled native message.
fn is_tunnel(parts: &http::request::Parts) -> bool {
    parts.method == http::Method::POST
        && parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case(MEDIA_TYPE))
            })
}

/// Answers one tunnelled message.
async fn serve(state: Arc<NativeNode>, conn: Conn, req: HttpRequest) -> HttpResponse {
    let body = crate::http::body_bytes(req.into_body()).await;
    let message = match body.first() {
        Some(b'\r' | b'\n') => body.slice(1..),
        _ => body,
    };
    let now = Now::current();
    let mut ctx = ConnCtx::new(Transport::Http, conn.peer);
    let responses = state
        .native
        .handle_message(&state, &message, &mut ctx, now)
        .await;
    state.native.mark_verified(conn.peer, now.instant);
    let reply: Vec<u8> = responses.concat();
    let mut response = Response::new(Full::new(Bytes::from(reply)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static(MEDIA_TYPE),
    );
    response
}

fn plain(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}
