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
