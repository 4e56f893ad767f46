//! Search (`GET /api/search`): the HTTP request to a [`SearchRequest`] and the page back to
//! JSON.
//!
//! The index lives in `idnode-search`, and the indexer task (`crate::tasks::indexer`) keeps it
//! in step with the store. Callers authenticate as for the REST API
//! (`crate::http::auth::authenticate`); anonymous callers search public values only, and every
//! result is checked through the resolver as the caller.

use crate::http::auth::Presented;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use idnode_search::{DEFAULT_PAGE_SIZE, SearchError, SearchIndex, SearchRequest};

use crate::http::{Answer, Auth, Conn, Http, HttpRequest, HttpResponse, Query, Service};

/// The path this module serves.
const PATH: &str = "/api/search";

/// The search API's own state next to the HTTP layer: the index, if it could be opened.
pub(crate) struct SearchApi {
    http: Arc<Http>,
    /// The search index.
    pub(crate) search: Option<Arc<SearchIndex>>,
    /// Searches being planned and collected, at most one per core: the work is CPU-bound,
    /// so more at once only adds threads, and each blocking thread keeps its own allocator
    /// heap. Later searches wait for a turn; the request budget bounds how many wait.
    turns: tokio::sync::Semaphore,
}

impl std::ops::Deref for SearchApi {
    type Target = Http;

    fn deref(&self) -> &Http {
        &self.http
    }
}

impl SearchApi {
    /// The search API over the HTTP layer and the index the indexer task keeps.
    pub(crate) fn new(http: Arc<Http>, search: Option<Arc<SearchIndex>>) -> Arc<Self> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Arc::new(Self {
            http,
            search,
            turns: tokio::sync::Semaphore::new(cores),
        })
    }
}

impl Service for SearchApi {
    fn name(&self) -> &'static str {
        "search"
    }

    fn owns(&self, parts: &http::request::Parts) -> bool {
        parts.uri.path() == PATH
    }

    fn body_limit(&self, _: &http::request::Parts) -> usize {
        self.config.http.max_body_bytes
    }

    fn body_refused(&self, _: &http::request::Parts, limit: usize) -> HttpResponse {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the body is unreadable or larger than {limit} bytes"),
        )
    }

    fn call(self: Arc<Self>, conn: Conn, req: HttpRequest) -> Answer {
        Box::pin(async move { serve(self, conn, req).await })
    }
}

/// Answers `GET /api/search`.
async fn serve<B>(state: Arc<SearchApi>, conn: Conn, req: Request<B>) -> Response<Full<Bytes>> {
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

async fn respond<B>(state: &Arc<SearchApi>, conn: Conn, req: &Request<B>) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return error(StatusCode::METHOD_NOT_ALLOWED, "use GET");
    }
    let identity =
        match crate::http::auth::authenticate(&state.http, conn, Presented::of(req)).await {
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
    let Ok(turn) = state.turns.acquire().await else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "search is not available");
    };
    let candidates =
        tokio::task::spawn_blocking(move || index.candidates(&request, public_only)).await;
    drop(turn);
    let page = match candidates {
        Ok(Ok(candidates)) => {
            candidates
                .verify(&state.resolver, identity.as_ref(), state.now())
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
    for (name, value) in Query::parse(query).pairs() {
        let value = value.to_owned();
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
}
