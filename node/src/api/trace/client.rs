//! A minimal HTTP/1.1 client for talking to witnesses: one POST per connection, over TCP or
//! TLS (trusting one configured certificate).

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Uri};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// The most a witness may answer, in bytes.
const MAX_REPLY: usize = 64 * 1024;

/// How long one exchange may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// POSTs `body` to `url` and returns the status and body.
pub(super) async fn post(
    url: &str,
    content_type: &str,
    body: Vec<u8>,
    ca_file: Option<&Path>,
) -> Result<(u16, Bytes), String> {
    tokio::time::timeout(TIMEOUT, post_inner(url, content_type, body, ca_file))
        .await
        .map_err(|_| format!("{url}: timed out"))?
}

async fn post_inner(
    url: &str,
    content_type: &str,
    body: Vec<u8>,
    ca_file: Option<&Path>,
) -> Result<(u16, Bytes), String> {
    let uri: Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
    let host = uri
        .host()
        .ok_or_else(|| format!("{url}: no host"))?
        .to_owned();
    let tls = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => return Err(format!("{url}: only http and https are supported")),
    };
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let authority = uri
        .authority()
        .map_or_else(|| host.clone(), |a| a.to_string());
    let request = Request::post(path)
        .header(http::header::HOST, authority)
        .header(http::header::CONTENT_TYPE, content_type)
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    if tls {
        let pem = match ca_file {
            Some(path) => std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?,
            None => return Err(format!("{url}: https needs ca_file")),
        };
        let config = idnode_certs::tls::client_config_trusting(&pem, &[b"http/1.1".to_vec()])
            .map_err(|e| e.to_string())?;
        let name = rustls::pki_types::ServerName::try_from(host.clone())
            .map_err(|e| format!("{url}: {e}"))?;
        let stream = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        exchange(TokioIo::new(stream), request).await
    } else {
        exchange(TokioIo::new(tcp), request).await
    }
}

async fn exchange<I>(io: I, request: Request<Full<Bytes>>) -> Result<(u16, Bytes), String>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string());
    let outcome = match response {
        Ok(response) => {
            let status = response.status().as_u16();
            Limited::new(response.into_body(), MAX_REPLY)
                .collect()
                .await
                .map(|collected| (status, collected.to_bytes()))
                .map_err(|e| e.to_string())
        }
        Err(error) => Err(error),
    };
    driver.abort();
    outcome
}
