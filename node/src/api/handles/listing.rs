//! The listing routes of the handle.net API: `GET /api/handles?prefix=` (OC 105), the homed
//! prefixes under `/api/prefixes` (OC 300–302), and the site information at `/api/site`.

use super::*;

pub(super) async fn list_handles(
    state: &Handles,
    conn: Conn,
    method: &Method,
    query: &Query,
    style: &Style,
    identity: Option<Identity>,
) -> Response<Full<Bytes>> {
    if method != Method::GET {
        let failure = protocol_error(format!("Unknown HTTP API endpoint {method} /api/handles"));
        return failure_response(&failure, None, false, conn, style)
            .with_status(StatusCode::METHOD_NOT_ALLOWED);
    }
    let Some(prefix) = query
        .first("prefix")
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
    else {
        return failure_response(
            &Failure::new(ResponseCode::InvalidHandle, "Empty handle invalid"),
            None,
            false,
            conn,
            style,
        );
    };
    let number = |name: &str| query.first(name).and_then(|v| v.trim().parse::<i64>().ok());
    let page = match (number("page"), number("pageSize")) {
        (Some(page), Some(size)) if page >= 0 && size > 0 => Some((page as usize, size as usize)),
        _ => None,
    };
    let op = Operation::ListHandles {
        prefix: prefix.clone(),
        page,
    };
    match state
        .resolver
        .handle(idnode_resolver::Request {
            op,
            identity,
            now: now(),
        })
        .await
    {
        Ok(Outcome::Handles { total, handles }) => {
            let mut body = Vec::with_capacity(64 + handles.len() * 32);
            body.extend_from_slice(b"{\"responseCode\":1,\"prefix\":");
            write_str(&mut body, &prefix);
            body.extend_from_slice(format!(",\"totalCount\":\"{total}\"").as_bytes());
            if let Some((page, size)) = page {
                body.extend_from_slice(format!(",\"page\":{page},\"pageSize\":{size}").as_bytes());
            }
            body.extend_from_slice(b",\"handles\":[");
            for (i, h) in handles.iter().enumerate() {
                if i > 0 {
                    body.push(b',');
                }
                // The reference lists handles in their stored, upper-cased form.
                write_str(&mut body, &h.to_ascii_uppercase());
            }
            body.extend_from_slice(b"]}");
            json_response(StatusCode::OK, body, style)
        }
        Ok(_) => failure_response(
            &Failure::bare(ResponseCode::Error),
            Some(&prefix),
            false,
            conn,
            style,
        ),
        Err(f) => failure_response(&f, Some(&prefix), false, conn, style),
    }
}

pub(super) async fn prefixes(
    state: &Handles,
    conn: Conn,
    method: &Method,
    path: &str,
    query: &Query,
    style: &Style,
    identity: Option<Identity>,
) -> Response<Full<Bytes>> {
    let named = path
        .strip_prefix("/api/prefixes/")
        .map(|p| percent_decode_str(p).decode_utf8_lossy().into_owned())
        .or_else(|| query.first("prefix").map(str::to_owned))
        .map(|p| {
            p.strip_prefix("0.NA/")
                .or_else(|| p.strip_prefix("0.na/"))
                .map(str::to_owned)
                .unwrap_or(p)
        })
        .filter(|p| !p.is_empty());
    let op = match (method, named) {
        (&Method::GET, None) => Operation::ListHomed,
        (&Method::POST | &Method::PUT, Some(prefix)) => Operation::Home { prefix },
        (&Method::DELETE, Some(prefix)) => Operation::Unhome { prefix },
        _ => {
            let failure = protocol_error(format!("Unknown HTTP API endpoint {method} {path}"));
            return failure_response(&failure, None, false, conn, style)
                .with_status(StatusCode::METHOD_NOT_ALLOWED);
        }
    };
    match state
        .resolver
        .handle(idnode_resolver::Request {
            op,
            identity,
            now: now(),
        })
        .await
    {
        Ok(Outcome::Prefixes(list)) => {
            let mut body = Vec::with_capacity(64 + list.len() * 24);
            body.extend_from_slice(
                format!(
                    "{{\"responseCode\":1,\"totalCount\":\"{}\",\"prefixes\":[",
                    list.len()
                )
                .as_bytes(),
            );
            for (i, p) in list.iter().enumerate() {
                if i > 0 {
                    body.push(b',');
                }
                write_str(&mut body, p);
            }
            body.extend_from_slice(b"]}");
            json_response(StatusCode::OK, body, style)
        }
        Ok(Outcome::Done { handle, .. }) => {
            let mut body = b"{\"responseCode\":1,\"handle\":".to_vec();
            write_str(&mut body, handle.as_str());
            body.push(b'}');
            json_response(StatusCode::OK, body, style)
        }
        Ok(_) => failure_response(
            &Failure::bare(ResponseCode::Error),
            None,
            false,
            conn,
            style,
        ),
        Err(f) => failure_response(&f, None, false, conn, style),
    }
}

pub(super) fn site_response(state: &Handles, style: &Style) -> Response<Full<Bytes>> {
    let site = site::site_info(state);
    let mut body = b"{\"responseCode\":1,\"site\":".to_vec();
    body.extend_from_slice(site.to_json().to_string().as_bytes());
    body.push(b'}');
    json_response(StatusCode::OK, body, style)
}
