//! The offline inclusion-proof bundle `c2sp.org/tlog-proof@v1` (extension `.tlog-proof`).
//!
//! Layout: the line `c2sp.org/tlog-proof@v1`; an optional `extra <base64>` line (unauthenticated
//! application data, for us the record JWS); `index <n>`; the inclusion-proof hashes in base64,
//! one per line, leaf's sibling first; a blank line; and the signed checkpoint note verbatim,
//! cosignatures included.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::checkpoint::parse_size;
use super::{MAX_NOTE_LEN, Note, NoteError};
use crate::merkle::{Hash, MAX_PROOF_LEN};

/// The first line of a tlog-proof bundle.
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// A parsed tlog-proof bundle. The checkpoint note is parsed but not verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    /// Unauthenticated extra data from the `extra` line.
    pub extra: Option<Vec<u8>>,
    /// The leaf index.
    pub index: u64,
    /// The inclusion proof, leaf's sibling first.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note.
    pub checkpoint: Note,
}

impl TlogProof {
    /// Parses a bundle.
    pub fn parse(bytes: &[u8]) -> Result<Self, NoteError> {
        if bytes.len() > 2 * MAX_NOTE_LEN {
            return Err(NoteError::Malformed("proof bundle too large"));
        }
        let text =
            std::str::from_utf8(bytes).map_err(|_| NoteError::Malformed("bundle is not UTF-8"))?;
        let (head, note) = text
            .split_once("\n\n")
            .ok_or(NoteError::Malformed("bundle without blank line"))?;
        let mut lines = head.split('\n');
        if lines.next() != Some(TLOG_PROOF_HEADER) {
            return Err(NoteError::Malformed("missing c2sp.org/tlog-proof@v1 line"));
        }
        let mut line = lines.next();
        let mut extra = None;
        if let Some(value) = line.and_then(|l| l.strip_prefix("extra ")) {
            extra = Some(
                STANDARD
                    .decode(value)
                    .map_err(|_| NoteError::Malformed("extra is not base64"))?,
            );
            line = lines.next();
        }
        let index = line
            .and_then(|l| l.strip_prefix("index "))
            .and_then(parse_size)
            .ok_or(NoteError::Malformed("missing or bad index line"))?;
        let mut proof = Vec::new();
        for line in lines {
            if proof.len() == MAX_PROOF_LEN {
                return Err(NoteError::Malformed("proof too long"));
            }
            let hash = STANDARD
                .decode(line)
                .ok()
                .and_then(|bytes| Hash::from_slice(&bytes))
                .ok_or(NoteError::Malformed("bad proof hash"))?;
            proof.push(hash);
        }
        let checkpoint = Note::parse(note.as_bytes())?;
        Ok(Self {
            extra,
            index,
            proof,
            checkpoint,
        })
    }

    /// Formats the bundle.
    pub fn to_text(&self) -> String {
        let mut out = format!("{TLOG_PROOF_HEADER}\n");
        if let Some(extra) = &self.extra {
            out.push_str("extra ");
            out.push_str(&STANDARD.encode(extra));
            out.push('\n');
        }
        out.push_str(&format!("index {}\n", self.index));
        for hash in &self.proof {
            out.push_str(&STANDARD.encode(hash.0));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint.to_text());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_malformed_bundles() {
        for bad in [
            "",
            "c2sp.org/tlog-proof@v1\n",
            "c2sp.org/tlog-proof@v2\nindex 0\n\nx\n",
            "c2sp.org/tlog-proof@v1\nindex 01\n\n",
            "c2sp.org/tlog-proof@v1\nextra !!\nindex 1\n\n",
            "c2sp.org/tlog-proof@v1\nindex 1\nAAAA\n\n",
            "c2sp.org/tlog-proof@v1\nindex 1\n\nnot a note\n",
        ] {
            assert!(TlogProof::parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = TlogProof::parse(&bytes);
        }
    }
}
