//! A minimal HTTP server that answers every request with one fixed JSON body: the baseline the
//! REST benchmark compares idnode with.
//!
//! It is built like idnode's listeners (a multi-thread tokio runtime, one task per connection,
//! `TCP_NODELAY`, hyper 1 with hyper-util's `auto` builder for HTTP/1.1 and HTTP/2, mimalloc as
//! the global allocator) and answers with the same content type, so the CPU it spends per
//! request is what the HTTP stack alone costs. Whatever idnode spends beyond that is routing,
//! lookup, JSON and bookkeeping.
//!
//! ```text
//! fixed_server --listen 127.0.0.1:18081 --body-bytes 1089
//! ```
//!
//! It prints `listening on ADDR` once bound and runs until killed.

use std::convert::Infallible;
use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use clap::Parser;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

/// The allocator idnode's binary uses: the baseline should differ from idnode only in the work
/// idnode does per request, not in what each allocation costs, so both use mimalloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The shortest body: `{"responseCode":1,"pad":""}`.
const MIN_BODY: usize = 27;

/// Serve one fixed JSON body on every path.
#[derive(Debug, Parser)]
#[command(about)]
struct Args {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:18081")]
    listen: SocketAddr,
    /// The exact length of the body in bytes (at least 27).
    #[arg(long, default_value_t = 700)]
    body_bytes: usize,
}

/// A JSON object of exactly `len` bytes (at least [`MIN_BODY`]).
fn fixed_body(len: usize) -> Bytes {
    let mut body = Vec::with_capacity(len.max(MIN_BODY));
    body.extend_from_slice(b"{\"responseCode\":1,\"pad\":\"");
    body.resize(len.max(MIN_BODY) - 2, b'x');
    body.extend_from_slice(b"\"}");
    Bytes::from(body)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let body = fixed_body(args.body_bytes);
    // The same runtime idnode's `main` builds.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let bound = listener.local_addr()?;
        println!("listening on {bound} with a {}-byte body", body.len());
        std::io::stdout().flush()?;
        loop {
            let (stream, _peer) = match listener.accept().await {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of descriptors, usually; back off as idnode's listener does.
                    eprintln!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let body = body.clone();
            tokio::spawn(async move {
                let service = service_fn(move |_req: Request<Incoming>| {
                    let mut response = Response::new(Full::new(body.clone()));
                    response.headers_mut().insert(
                        CONTENT_TYPE,
                        HeaderValue::from_static("application/json;charset=utf-8"),
                    );
                    async move { Ok::<_, Infallible>(response) }
                });
                let builder = auto::Builder::new(TokioExecutor::new());
                let _ = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_the_asked_length_and_are_json() {
        for len in [MIN_BODY, 28, 700, 1089] {
            let body = fixed_body(len);
            assert_eq!(body.len(), len);
            assert!(body.starts_with(b"{\"responseCode\":1"));
            assert!(body.ends_with(b"\"}"));
        }
        assert_eq!(fixed_body(3).len(), MIN_BODY);
    }
}
