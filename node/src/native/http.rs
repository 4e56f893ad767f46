//! The HTTP tunnel (§9): `POST` with `Content-Type: application/x-hdl-message` on the HTTP and
//! HTTPS ports; the request body is one envelope + message (one leading CR or LF is skipped),
//! and the response body holds the answer messages back to back.

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Full, Limited};
use idnode_proto::wire::{ENVELOPE_LEN, MAX_MESSAGE_LEN};

use super::{ConnCtx, Now, Transport};
use crate::rest::Conn;
use crate::state::State;

/// The media type of tunnelled messages.
pub(crate) const MEDIA_TYPE: &str = "application/x-hdl-message";

/// Whether a request is a tunnelled native message.
pub(crate) fn is_tunnel<B>(req: &Request<B>) -> bool {
    req.method() == http::Method::POST
        && req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case(MEDIA_TYPE))
            })
}

/// Answers one tunnelled message.
pub(crate) async fn serve<B>(
    state: Arc<State>,
    conn: Conn,
    req: Request<B>,
) -> Response<Full<Bytes>>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let limit = ENVELOPE_LEN + MAX_MESSAGE_LEN + 1;
    let body = match Limited::new(req.into_body(), limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return plain(StatusCode::PAYLOAD_TOO_LARGE),
    };
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
