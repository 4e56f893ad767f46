//! Answers to anonymous resolutions, kept so that repeated ones are answered without touching
//! the store or decoding the request into owned values.
//!
//! What is kept per handle is the encoded body of the answer (the request's spelling of the
//! handle, then the values), for requests without index or type filters, separately with and
//! without PO. Everything else in an answer (envelope, header, flags, request id, expiration)
//! comes from the request and is written for each one by [`encode_answer`]. Entries live in
//! two [`ResponseCache`]s, so they are dropped by the store's commit listener before a writer
//! is acknowledged, and a generation check keeps answers read before a commit from being
//! stored after it (see `crate::cache`).
//!
//! Answers resolved elsewhere for recursing clients (`Outcome::Recursed`) are kept apart, each
//! for the shortest TTL of its values (at most two days), and answered only to plain requests
//! with REC from a source that may use recursion, below the recursion limit. A commit that
//! changes the homed prefixes drops them all, since a handle may then live here.
//!
//! [`fast_answer`] recognises the requests that may be answered from here by their bytes
//! ([`PlainResolution`] in `idnode-proto`: a whole, unencrypted OC 1 request with no session,
//! credential, filters, CT, RD or ENC). Any other request (or a miss) goes through the full
//! decoder and pipeline, which fills the cache; the two paths give byte-identical answers
//! (tested in `node/tests/native_protocol.rs`, and against the full codec in `idnode-proto`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use idnode_client::cache::TtlCache;
use idnode_proto::wire::OpFlags;
use idnode_proto::wire::fast::PlainResolution;
use idnode_registry::CommitNotice;
use idnode_resolver::MAX_RECURSION_COUNT;

use crate::cache::ResponseCache;

/// Request flags copied into answers (with AT added).
pub(crate) use idnode_proto::wire::fast::KEPT_FLAGS;

/// Encoded resolution bodies for anonymous callers, with and without PO.
pub(crate) struct AnswerCache {
    public_only: ResponseCache,
    all: ResponseCache,
    /// Answers resolved elsewhere, by store key, `0xFF` and spelling.
    recursed: Option<TtlCache<Vec<u8>, Arc<Vec<u8>>>>,
}

impl AnswerCache {
    /// A cache of at most about `max_bytes` in all (0 turns it off), and of at most
    /// `recursed_entries` answers resolved elsewhere (0: none).
    pub(crate) fn new(max_bytes: usize, recursed_entries: usize) -> Self {
        Self {
            public_only: ResponseCache::new(max_bytes / 2),
            all: ResponseCache::new(max_bytes / 2),
            recursed: (max_bytes > 0 && recursed_entries > 0)
                .then(|| TtlCache::new(recursed_entries)),
        }
    }

    /// Keeps the encoded body of an answer resolved elsewhere for `ttl`.
    pub(crate) fn insert_recursed(&self, key: &[u8], spelling: &str, body: &[u8], ttl: Duration) {
        if let Some(recursed) = &self.recursed {
            let mut composite = Vec::new();
            recursed_key(key, spelling, &mut composite);
            recursed.insert(composite, Arc::new(body.to_vec()), Instant::now(), ttl);
        }
    }

    fn part(&self, public_only: bool) -> &ResponseCache {
        if public_only {
            &self.public_only
        } else {
            &self.all
        }
    }

    /// The bytes held now.
    pub(crate) fn bytes(&self) -> usize {
        self.public_only.bytes() + self.all.bytes()
    }

    /// The generation to note before reading the store for [`Self::insert`].
    pub(crate) fn generation(&self) -> (u64, u64) {
        (self.public_only.generation(), self.all.generation())
    }

    /// Keeps the encoded body of an answer to an anonymous, unfiltered resolution of the
    /// handle whose key is `key`, spelled `spelling`, read from the store at `generation`.
    pub(crate) fn insert(
        &self,
        key: &[u8],
        spelling: &str,
        public_only: bool,
        body: &[u8],
        generation: (u64, u64),
    ) {
        let generation = if public_only {
            generation.0
        } else {
            generation.1
        };
        self.part(public_only)
            .insert(key, spelling, body, generation);
    }

    /// Drops what a commit changed.
    pub(crate) fn invalidate(&self, notice: &CommitNotice) {
        self.public_only.invalidate(notice);
        self.all.invalidate(notice);
        if notice.prefixes_changed
            && let Some(recursed) = &self.recursed
        {
            recursed.clear();
        }
    }
}

/// The key of an answer resolved elsewhere: the store key, `0xFF` (in no handle's UTF-8), and
/// the request's spelling.
fn recursed_key(key: &[u8], spelling: &str, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(key);
    out.push(0xFF);
    out.extend_from_slice(spelling.as_bytes());
}

/// Reusable buffers of one receive loop.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    key: Vec<u8>,
    recursed: Vec<u8>,
}

/// The answer to `bytes` from the cache, written to `out` (cleared first), when `bytes` is a
/// request the cache may answer and the answer is cached. `false` means: use the full path.
/// `may_recurse` says whether the request's source may use recursion; it is asked only for
/// requests with REC that miss the local answers.
pub(crate) fn fast_answer(
    cache: &AnswerCache,
    bytes: &[u8],
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
    may_recurse: impl FnOnce() -> bool,
) -> bool {
    let Some(request) = PlainResolution::parse(bytes) else {
        return false;
    };
    let Ok(spelling) = std::str::from_utf8(request.handle) else {
        return false;
    };
    request.store_key(&mut scratch.key);
    if let Some(body) = cache
        .part(request.public_only())
        .get(&scratch.key, spelling)
    {
        out.clear();
        request.encode_answer(&body, out);
        return true;
    }
    let Some(recursed) = &cache.recursed else {
        return false;
    };
    if request.flags & OpFlags::REC.0 == 0
        || request.recursion_count >= MAX_RECURSION_COUNT
        || !may_recurse()
    {
        return false;
    }
    recursed_key(&scratch.key, spelling, &mut scratch.recursed);
    let Some(body) = recursed.get(&scratch.recursed, Instant::now()) else {
        return false;
    };
    out.clear();
    request.encode_answer(&body, out);
    true
}

#[cfg(test)]
mod tests {
    use idnode_proto::wire::{
        Body, ENVELOPE_LEN, Envelope, HEADER_LEN, Header, Message, OpCode, OpFlags,
        ResolutionRequest, Version,
    };

    use super::*;

    fn request(handle: &str, flags: OpFlags, indexes: Vec<u32>) -> Vec<u8> {
        let mut header = Header::request(OpCode::Resolution);
        header.flags = flags;
        header.expiration = 1234;
        header.recursion_count = 2;
        let envelope = Envelope {
            version: Version::V2_10,
            suggested: Version::V2_11,
            request_id: 99,
            ..Envelope::default()
        };
        Message::new(
            envelope,
            header,
            Body::Resolution(ResolutionRequest {
                handle: handle.into(),
                indexes,
                types: vec![],
            }),
        )
        .to_bytes()
    }

    #[test]
    fn plain_requests_are_recognised_and_others_are_not() {
        let plain = request("88.118.8/a", OpFlags::PO, vec![]);
        let parsed = PlainResolution::parse(&plain).unwrap();
        assert_eq!(parsed.handle, b"88.118.8/a");
        assert_eq!((parsed.recursion_count, parsed.expiration), (2, 1234));
        assert!(PlainResolution::parse(&request("88.118.8/a", OpFlags::PO, vec![1])).is_none());
        assert!(PlainResolution::parse(&request("88.118.8/a", OpFlags::RD, vec![])).is_none());
        assert!(PlainResolution::parse(&request("88.118.8/a", OpFlags::CT, vec![])).is_none());
        assert!(PlainResolution::parse(&plain[..plain.len() - 1]).is_none());
        let mut trailing = plain.clone();
        trailing.push(0);
        assert!(PlainResolution::parse(&trailing).is_none());
    }

    #[test]
    fn cached_bodies_are_answered_and_dropped_by_commits() {
        let cache = AnswerCache::new(1 << 20, 16);
        let mut scratch = Scratch::default();
        let mut out = Vec::new();
        let bytes = request("88.118.8/a", OpFlags::PO, vec![]);
        assert!(!fast_answer(&cache, &bytes, &mut scratch, &mut out, || {
            true
        }));
        let generation = cache.generation();
        cache.insert(b"88.118.8/A", "88.118.8/a", true, b"body", generation);
        assert!(fast_answer(&cache, &bytes, &mut scratch, &mut out, || true));
        let answer = idnode_proto::wire::decode_envelope(&out).unwrap();
        assert_eq!(answer.request_id, 99);
        let expected = Envelope {
            version: Version::V2_11,
            suggested: Version::V2_11,
            request_id: 99,
            message_length: (HEADER_LEN + 4 + 4) as u32,
            ..Envelope::default()
        };
        assert_eq!(out[..ENVELOPE_LEN], expected.to_bytes());
        assert_eq!(&out[ENVELOPE_LEN + HEADER_LEN..out.len() - 4], b"body");
        // Without PO, another spelling, or after a commit: not answered from here.
        assert!(!fast_answer(
            &cache,
            &request("88.118.8/a", OpFlags::empty(), vec![]),
            &mut scratch,
            &mut out,
            || true
        ));
        assert!(!fast_answer(
            &cache,
            &request("88.118.8/A", OpFlags::PO, vec![]),
            &mut scratch,
            &mut out,
            || true
        ));
        cache.invalidate(&CommitNotice {
            handles: vec![b"88.118.8/A".to_vec()],
            prefixes_changed: false,
            aux_spaces: Vec::new(),
        });
        assert!(!fast_answer(&cache, &bytes, &mut scratch, &mut out, || {
            true
        }));
    }

    #[test]
    fn recursed_answers_need_rec_an_allowed_source_and_expire() {
        let cache = AnswerCache::new(1 << 20, 16);
        let mut scratch = Scratch::default();
        let mut out = Vec::new();
        let rec = request("88.119/a", OpFlags::REC.with(OpFlags::PO), vec![]);
        cache.insert_recursed(b"88.119/A", "88.119/a", b"body", Duration::from_secs(60));
        assert!(fast_answer(&cache, &rec, &mut scratch, &mut out, || true));
        assert_eq!(&out[ENVELOPE_LEN + HEADER_LEN..out.len() - 4], b"body");
        // Not without REC, not for a source that may not recurse.
        let plain = request("88.119/a", OpFlags::PO, vec![]);
        assert!(!fast_answer(&cache, &plain, &mut scratch, &mut out, || {
            true
        }));
        assert!(!fast_answer(&cache, &rec, &mut scratch, &mut out, || false));
        // Dropped when the homed prefixes change; never kept with a zero TTL.
        cache.invalidate(&CommitNotice {
            handles: vec![],
            prefixes_changed: true,
            aux_spaces: Vec::new(),
        });
        assert!(!fast_answer(&cache, &rec, &mut scratch, &mut out, || true));
        cache.insert_recursed(b"88.119/A", "88.119/a", b"body", Duration::ZERO);
        assert!(!fast_answer(&cache, &rec, &mut scratch, &mut out, || true));
        // Off when the recursion cache is off.
        let off = AnswerCache::new(1 << 20, 0);
        off.insert_recursed(b"88.119/A", "88.119/a", b"body", Duration::from_secs(60));
        assert!(!fast_answer(&off, &rec, &mut scratch, &mut out, || true));
    }
}
