//! C2SP tlog-checkpoint note bodies (<https://c2sp.org/tlog-checkpoint>).
//!
//! The body is `<origin>\n<tree size>\n<base64 root hash>\n` followed by optional extension
//! lines. The size is decimal without leading zeros; the root hash is standard base64 of 32
//! bytes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{NoteError, check_text};
use crate::merkle::Hash;

/// A checkpoint body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log origin (first line); by convention also the log's key name.
    pub origin: String,
    /// The tree size.
    pub size: u64,
    /// The root hash of the tree.
    pub root: Hash,
    /// Extension lines, without their newlines (not recommended by the spec).
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// Makes a checkpoint without extension lines.
    pub fn new(origin: &str, size: u64, root: Hash) -> Self {
        Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// Parses a checkpoint body (the text of a note).
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        check_text(text)?;
        let mut lines = text[..text.len() - 1].split('\n');
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or(NoteError::Malformed("checkpoint without origin"))?;
        let size_line = lines
            .next()
            .ok_or(NoteError::Malformed("checkpoint without size"))?;
        let size = parse_size(size_line).ok_or(NoteError::Malformed("bad checkpoint size"))?;
        let root_line = lines
            .next()
            .ok_or(NoteError::Malformed("checkpoint without root hash"))?;
        let root = STANDARD
            .decode(root_line)
            .ok()
            .and_then(|bytes| Hash::from_slice(&bytes))
            .ok_or(NoteError::Malformed("bad checkpoint root hash"))?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(NoteError::Malformed("empty checkpoint extension line"));
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// Formats the checkpoint body.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root.0)
        );
        for line in &self.extensions {
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

/// Parses a decimal tree size without sign or leading zeros.
pub(crate) fn parse_size(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if text.len() > 1 && text.starts_with('0') {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_bad_bodies() {
        let text =
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        let checkpoint = Checkpoint::parse(text).expect("parse");
        assert_eq!(checkpoint.size, 20_852_163);
        assert_eq!(checkpoint.to_text(), text);
        let with_ext = format!("{text}ext one\n");
        assert_eq!(
            Checkpoint::parse(&with_ext).expect("ext").extensions,
            vec!["ext one"]
        );
        for bad in [
            "origin\n012\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
            "origin\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
            "origin\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n",
            "origin\n1\nAAAA\n",
            "\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
            "origin\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",
            "origin\n1\n",
            "origin\n18446744073709551616\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        ] {
            assert!(Checkpoint::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Checkpoint::parse("o\n0\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n").is_ok());
    }
}
