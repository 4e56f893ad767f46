//! Search (`GET /api/search`) and the indexer task that keeps `<data>/search/` in step with the
//! database.
//!
//! The index lives in `idnode-search`; this module opens it, runs [`run_indexer`] (a sync of
//! the index with the store's change feed every [`POLL`], in a blocking thread), and maps the
//! HTTP request to a [`SearchRequest`] and the page back to JSON. Callers authenticate as for
//! the REST API (`rest::authenticate`); anonymous callers search public values only, and every
//! result is checked through the resolver as the caller.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use idnode_search::{
    DEFAULT_PAGE_SIZE, ResolverTemplates, SearchError, SearchIndex, SearchRequest,
};
use percent_encoding::percent_decode_str;
use tokio::sync::watch;

use crate::rest::{Auth, Conn};
use crate::state::State;

/// How often the indexer looks for new changes. Every pass that finds changes commits a
/// tantivy segment, and small segments are merged in the background, so the interval trades
/// search freshness against CPU under write load: at 100 ms, indexing and merging took about
/// half of the node's CPU during a bulk of REST creates; at one second a write is searchable
/// within about a second for a tenth of the segments.
pub(crate) const POLL: Duration = Duration::from_secs(1);

/// The longest pause after repeated indexing failures.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The path this module serves.
const PATH: &str = "/api/search";

/// Opens the index in `<data>/search/`, or logs why it cannot and runs without search.
pub(crate) fn open(data: &Path) -> Option<Arc<SearchIndex>> {
    let dir = data.join("search");
    match SearchIndex::open(&dir) {
        Ok(index) => Some(Arc::new(index)),
        Err(error) => {
            tracing::error!(dir = %dir.display(), %error, "cannot open the search index; search is off");
            None
        }
    }
}

/// Keeps the index in step with the store until shutdown: the first sync builds or catches up
/// the index (logging its progress), later ones apply new changes.
pub(crate) async fn run_indexer(state: Arc<State>, mut shutdown: watch::Receiver<bool>) {
    let Some(index) = state.search.clone() else {
        return;
    };
    let mut failures: u32 = 0;
    loop {
        let mut running = {
            let state = Arc::clone(&state);
            let index = Arc::clone(&index);
            tokio::task::spawn_blocking(move || {
                let templates = ResolverTemplates::new(&state.resolver);
                index.sync(&state.resolver.change_feed(), &templates)
            })
        };
        // A rebuild can take a minute; shutting down stops it at its next page.
        let sync = tokio::select! {
            sync = &mut running => sync,
            _ = shutdown.changed() => {
                index.stop();
                let _ = running.await;
                return;
            }
        };
        let pause = match sync {
            Ok(Ok(report)) => {
                if report.applied > 0 || report.rebuilt.is_some() {
                    tracing::debug!(?report, "search index synced");
                }
                failures = 0;
                POLL
            }
            Ok(Err(error)) => {
                failures = failures.saturating_add(1);
                tracing::warn!(%error, failures, "cannot update the search index");
                backoff(failures)
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                tracing::error!(%error, "the search indexer failed");
                backoff(failures)
            }
        };
        tokio::select! {
            _ = shutdown.changed() => return,
            () = tokio::time::sleep(pause) => {}
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

/// The pause after `failures` failures in a row: doubling from [`POLL`] up to [`MAX_BACKOFF`].
fn backoff(failures: u32) -> Duration {
    POLL.saturating_mul(1 << failures.min(9)).min(MAX_BACKOFF)
}

/// Whether this module serves `path`.
pub(crate) fn owns(path: &str) -> bool {
    path == PATH
}

/// Answers `GET /api/search`.
pub(crate) async fn serve<B>(
    state: Arc<State>,
    conn: Conn,
    req: Request<B>,
) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let response = respond(&state, conn, &req).await;
    crate::metrics::record(
        "rest",
        "search",
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

async fn respond<B>(state: &Arc<State>, conn: Conn, req: &Request<B>) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return error(StatusCode::METHOD_NOT_ALLOWED, "use GET");
    }
    let identity = match crate::rest::authenticate(state, conn, req.headers()).await {
        Auth::Anonymous => None,
        Auth::Verified(identity) => Some(identity),
        Auth::Rejected => {
            let mut response = error(StatusCode::UNAUTHORIZED, "credentials did not verify");
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"handle\""),
            );
            return response;
        }
    };
    let request = match parse(req.uri().query()) {
        Ok(request) => request,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    let Some(index) = state.search.clone() else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "search is not available");
    };
    let public_only = identity.is_none();
    // Planning and collecting are CPU work on memory-mapped files: keep them off the reactor.
    let candidates =
        tokio::task::spawn_blocking(move || index.candidates(&request, public_only)).await;
    let page = match candidates {
        Ok(Ok(candidates)) => {
            candidates
                .verify(&state.resolver, identity.as_ref(), crate::rest_now())
                .await
        }
        Ok(Err(error)) => Err(error),
        Err(join) => {
            tracing::error!(error = %join, "a search failed");
            return error(StatusCode::INTERNAL_SERVER_ERROR, "search failed");
        }
    };
    match page {
        Ok(page) => match serde_json::to_vec(&page) {
            Ok(body) => json(StatusCode::OK, body),
            Err(e) => {
                tracing::error!(error = %e, "cannot encode search results");
                error(StatusCode::INTERNAL_SERVER_ERROR, "search failed")
            }
        },
        Err(SearchError::BadRequest(message)) => error(StatusCode::BAD_REQUEST, &message),
        Err(SearchError::Refused(failure)) => error(
            StatusCode::from_u16(failure.rc.http_status(true, false))
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            &failure.message,
        ),
        Err(SearchError::NotReady) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the search index is being built; try again shortly",
        ),
        Err(other) => {
            tracing::error!(error = %other, "a search failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, "search failed")
        }
    }
}

/// The request of a query string; unknown parameters are ignored.
fn parse(query: Option<&str>) -> Result<SearchRequest, String> {
    let mut request = SearchRequest {
        page_size: DEFAULT_PAGE_SIZE,
        ..SearchRequest::default()
    };
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode_str(&value.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned();
        let number = |value: &str| {
            value
                .trim()
                .parse::<usize>()
                .map_err(|_| format!("{name} must be a non-negative integer"))
        };
        match name {
            "q" => request.q = Some(value),
            "cas" => request.cas = Some(value),
            "un" => request.un = Some(value),
            "uscc" => request.uscc = Some(value),
            "type" => request.template = Some(value),
            "value" => request.value = Some(value),
            "item" => request.item = Some(value),
            "page" => request.page = number(&value)?,
            "pageSize" => request.page_size = number(&value)?,
            _ => {}
        }
    }
    Ok(request)
}

fn json(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=utf-8"),
    );
    response
}

/// `{"message": …}` with a status.
fn error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({ "message": message }).to_string();
    json(status, body.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_become_requests() {
        let request = parse(Some(
            "q=%E4%B8%99%E9%85%AE&cas=67-64-1&type=hazchem.product&value=a+b&page=2&pageSize=5&x=1",
        ))
        .unwrap();
        assert_eq!(request.q.as_deref(), Some("丙酮"));
        assert_eq!(request.cas.as_deref(), Some("67-64-1"));
        assert_eq!(request.template.as_deref(), Some("hazchem.product"));
        assert_eq!(request.value.as_deref(), Some("a b"));
        assert_eq!((request.page, request.page_size), (2, 5));
        assert_eq!(parse(None).unwrap().page_size, DEFAULT_PAGE_SIZE);
        assert!(parse(Some("page=-1")).is_err());
    }

    #[test]
    fn backoff_doubles_up_to_a_limit() {
        assert_eq!(backoff(1), POLL * 2);
        assert_eq!(backoff(30), MAX_BACKOFF);
    }
}
