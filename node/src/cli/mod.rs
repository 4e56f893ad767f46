//! The offline commands of the binary besides `serve`: [`init`] a prefix, seed a [`demo`]
//! node, [`import`] CSV or JSON Lines files, make an identity key pair ([`keygen`]),
//! [`delegate`] a prefix to a secondary at a top-level node, and [`verify`] trace records
//! without a node. They
//! work on the data directory directly, through the same resolver as the node.

pub mod delegate;
pub mod demo;
pub mod import;
pub mod init;
pub mod keygen;
pub mod verify;

/// Reads a secret from a file: its bytes without one final line end; an empty secret is an
/// error.
pub fn read_secret_file(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    use anyhow::Context as _;
    let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let trimmed = text
        .strip_suffix(b"\r\n")
        .or_else(|| text.strip_suffix(b"\n"))
        .unwrap_or(&text)
        .to_vec();
    if trimmed.is_empty() {
        anyhow::bail!("{} is empty", path.display());
    }
    Ok(trimmed)
}
