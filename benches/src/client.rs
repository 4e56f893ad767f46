//! What the load generators share besides CPU time: a deterministic generator for random keys,
//! HTTP Basic credentials as the reference server expects them, and secrets read from files.

use std::path::PathBuf;

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderValue;

/// A small deterministic generator (splitmix64) for random keys.
pub struct SplitMix(pub u64);

impl SplitMix {
    /// The next number.
    #[allow(clippy::should_implement_trait)] // Not an iterator: it never ends.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// `user:secret` for HTTP Basic, with the identity percent-encoded as the reference expects
/// (`300%3A88.118.8%2FADMIN`).
pub fn basic_auth(admin: &str, secret: &[u8]) -> anyhow::Result<HeaderValue> {
    let mut user = String::with_capacity(admin.len() + 8);
    for c in admin.chars() {
        match c {
            ':' => user.push_str("%3A"),
            '/' => user.push_str("%2F"),
            '%' => user.push_str("%25"),
            c => user.push(c),
        }
    }
    let mut credentials = user.into_bytes();
    credentials.push(b':');
    credentials.extend_from_slice(secret);
    Ok(HeaderValue::from_str(&format!(
        "Basic {}",
        STANDARD.encode(credentials)
    ))?)
}

/// A secret from a file, without its final line break.
pub fn read_secret(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
    let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let trimmed = text
        .strip_suffix(b"\r\n")
        .or_else(|| text.strip_suffix(b"\n"))
        .unwrap_or(&text);
    Ok(trimmed.to_vec())
}

/// The record digests of a capture answer's receipts.
pub fn receipt_digests(body: &[u8]) -> anyhow::Result<Vec<String>> {
    let answer: serde_json::Value =
        serde_json::from_slice(body).context("the capture answer is not JSON")?;
    answer["receipts"]
        .as_array()
        .context("the capture answer has no receipts")?
        .iter()
        .map(|receipt| {
            receipt["digest"]
                .as_str()
                .map(str::to_owned)
                .context("a receipt has no digest")
        })
        .collect()
}

/// One HTTP/1.1 request on a new connection to `addr`: the status and the body.
pub async fn http_once(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    auth: Option<&HeaderValue>,
    body: Option<Vec<u8>>,
) -> anyhow::Result<(u16, bytes::Bytes)> {
    use http_body_util::BodyExt as _;
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let response = sender
        .send_request(request(method, path, auth, body)?)
        .await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// A request to the node (`Host: localhost`), with credentials and a JSON body if given.
pub fn request(
    method: &str,
    path: &str,
    auth: Option<&HeaderValue>,
    body: Option<Vec<u8>>,
) -> anyhow::Result<http::Request<http_body_util::Full<bytes::Bytes>>> {
    let mut request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost");
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    Ok(request.body(http_body_util::Full::new(bytes::Bytes::from(
        body.unwrap_or_default(),
    )))?)
}

/// A free loopback port: bound, then released for a child process to take.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_encode_the_identity() {
        let value = basic_auth("300:88.118.8/ADMIN", b"s3cret").unwrap();
        let encoded = value.to_str().unwrap().strip_prefix("Basic ").unwrap();
        let decoded = STANDARD.decode(encoded).unwrap();
        assert_eq!(decoded, b"300%3A88.118.8%2FADMIN:s3cret");
    }
}
