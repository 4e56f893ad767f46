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
//! [`fast_answer`] recognises the requests that may be answered from here by their bytes: a
//! whole, unencrypted OC 1 request with no session, credential, filters, CT, RD or ENC. Any
//! other request (or a miss) goes through the full decoder and pipeline, which fills the cache;
//! the two paths give byte-identical answers (tested in `node/tests/native_protocol.rs`).

use idnode_proto::wire::{ENVELOPE_LEN, Envelope, HEADER_LEN, OpCode, OpFlags, Version};
use idnode_proto::{PREFIX_HANDLE_PREFIX, ResponseCode};
use idnode_registry::CommitNotice;

use crate::cache::ResponseCache;

/// Flags that make a resolution answer depend on more than the stored values.
const SLOW_FLAGS: u32 = OpFlags::CT.0 | OpFlags::RD.0 | OpFlags::ENC.0;

/// Request flags copied into answers (with AT added), as `Native::respond` does.
pub(crate) const KEPT_FLAGS: u32 = OpFlags::CT.0
    | OpFlags::ENC.0
    | OpFlags::REC.0
    | OpFlags::CA.0
    | OpFlags::KA.0
    | OpFlags::PO.0
    | OpFlags::RD.0;

/// Encoded resolution bodies for anonymous callers, with and without PO.
pub(crate) struct AnswerCache {
    public_only: ResponseCache,
    all: ResponseCache,
}

impl AnswerCache {
    /// A cache of at most about `max_bytes` in all; 0 turns it off.
    pub(crate) fn new(max_bytes: usize) -> Self {
        Self {
            public_only: ResponseCache::new(max_bytes / 2),
            all: ResponseCache::new(max_bytes / 2),
        }
    }

    fn part(&self, public_only: bool) -> &ResponseCache {
        if public_only {
            &self.public_only
        } else {
            &self.all
        }
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
    }
}

/// Reusable buffers of one receive loop.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    key: Vec<u8>,
}

/// The answer to `bytes` from the cache, written to `out` (cleared first), when `bytes` is a
/// request the cache may answer and the answer is cached. `false` means: use the full path.
pub(crate) fn fast_answer(
    cache: &AnswerCache,
    bytes: &[u8],
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
) -> bool {
    let Some(request) = Plain::parse(bytes) else {
        return false;
    };
    let Ok(spelling) = std::str::from_utf8(request.handle) else {
        return false;
    };
    // The store key of the handle, with a slashless handle naming its prefix handle.
    let key = &mut scratch.key;
    key.clear();
    if !request.handle.contains(&b'/') {
        key.extend_from_slice(PREFIX_HANDLE_PREFIX.as_bytes());
        key.push(b'/');
    }
    key.extend(request.handle.iter().map(u8::to_ascii_uppercase));
    let public_only = request.flags & OpFlags::PO.0 != 0;
    let Some(body) = cache.part(public_only).get(key, spelling) else {
        return false;
    };
    out.clear();
    encode_answer(
        &request.envelope,
        request.flags,
        request.recursion_count,
        request.expiration,
        &body,
        out,
    );
    true
}

/// Writes an RC 1 resolution answer with `body` for a request with this envelope and header
/// fields, as `Native::respond` and `Native::encode` would for an anonymous request without
/// CT, RD or ENC.
fn encode_answer(
    request: &Envelope,
    flags: u32,
    recursion_count: u8,
    expiration: u32,
    body: &[u8],
    out: &mut Vec<u8>,
) {
    let version = request.suggested_version().min(Version::V2_11);
    let suggested = if version >= Version::V2_8 {
        Version::V2_11
    } else {
        Version::default()
    };
    out.reserve(ENVELOPE_LEN + HEADER_LEN + body.len() + 4);
    // The envelope as `Envelope::to_bytes` writes it (no CP, EC or TC; sequence 0), without
    // its temporary buffer.
    out.extend_from_slice(&[
        version.major,
        version.minor,
        suggested.major & 0x03,
        suggested.minor,
    ]);
    out.extend_from_slice(&request.session_id.to_be_bytes());
    out.extend_from_slice(&request.request_id.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&((HEADER_LEN + body.len() + 4) as u32).to_be_bytes());
    out.extend_from_slice(&OpCode::Resolution.code().to_be_bytes());
    out.extend_from_slice(&ResponseCode::Success.code().to_be_bytes());
    out.extend_from_slice(&((flags & KEPT_FLAGS) | OpFlags::AT.0).to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.push(recursion_count);
    out.push(0);
    out.extend_from_slice(&expiration.to_be_bytes());
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(&0u32.to_be_bytes());
}

/// The parts of a plain resolution request that its answer depends on.
struct Plain<'a> {
    envelope: Envelope,
    flags: u32,
    recursion_count: u8,
    expiration: u32,
    handle: &'a [u8],
}

impl<'a> Plain<'a> {
    /// Recognises a whole, unencrypted, uncompressed OC 1 request without session, filters,
    /// trailing body bytes, credential, CT, RD or ENC; `None` for anything else.
    fn parse(bytes: &'a [u8]) -> Option<Self> {
        let envelope = Envelope::decode(bytes).ok()?;
        let payload = bytes.get(ENVELOPE_LEN..)?;
        if envelope.encrypted
            || envelope.compressed
            || envelope.session_id != 0
            || payload.len() != envelope.message_length as usize
        {
            return None;
        }
        let u32_at = |at: usize| -> Option<u32> {
            let b = payload.get(at..at + 4)?;
            Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        };
        let opcode = u32_at(0)?;
        let response_code = u32_at(4)?;
        let flags = u32_at(8)?;
        if opcode != OpCode::Resolution.code() || response_code != 0 || flags & SLOW_FLAGS != 0 {
            return None;
        }
        let recursion_count = *payload.get(14)?;
        let expiration = u32_at(16)?;
        let body_length = u32_at(20)? as usize;
        let handle_length = u32_at(HEADER_LEN)? as usize;
        let handle_at = HEADER_LEN + 4;
        let handle = payload.get(handle_at..handle_at.checked_add(handle_length)?)?;
        let lists_at = handle_at + handle_length;
        // No indexes, no types, and the body ends there; then an empty credential ends the
        // message.
        if body_length != 4 + handle_length + 8
            || u32_at(lists_at)? != 0
            || u32_at(lists_at + 4)? != 0
            || payload.len() != lists_at + 12
            || u32_at(lists_at + 8)? != 0
        {
            return None;
        }
        Some(Self {
            envelope,
            flags,
            recursion_count,
            expiration,
            handle,
        })
    }
}

#[cfg(test)]
mod tests {
    use idnode_proto::wire::{Body, Header, Message, ResolutionRequest};

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
        let parsed = Plain::parse(&plain).unwrap();
        assert_eq!(parsed.handle, b"88.118.8/a");
        assert_eq!((parsed.recursion_count, parsed.expiration), (2, 1234));
        assert!(Plain::parse(&request("88.118.8/a", OpFlags::PO, vec![1])).is_none());
        assert!(Plain::parse(&request("88.118.8/a", OpFlags::RD, vec![])).is_none());
        assert!(Plain::parse(&request("88.118.8/a", OpFlags::CT, vec![])).is_none());
        assert!(Plain::parse(&plain[..plain.len() - 1]).is_none());
        let mut trailing = plain.clone();
        trailing.push(0);
        assert!(Plain::parse(&trailing).is_none());
    }

    #[test]
    fn cached_bodies_are_answered_and_dropped_by_commits() {
        let cache = AnswerCache::new(1 << 20);
        let mut scratch = Scratch::default();
        let mut out = Vec::new();
        let bytes = request("88.118.8/a", OpFlags::PO, vec![]);
        assert!(!fast_answer(&cache, &bytes, &mut scratch, &mut out));
        let generation = cache.generation();
        cache.insert(b"88.118.8/A", "88.118.8/a", true, b"body", generation);
        assert!(fast_answer(&cache, &bytes, &mut scratch, &mut out));
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
            &mut out
        ));
        assert!(!fast_answer(
            &cache,
            &request("88.118.8/A", OpFlags::PO, vec![]),
            &mut scratch,
            &mut out
        ));
        cache.invalidate(&CommitNotice {
            handles: vec![b"88.118.8/A".to_vec()],
            prefixes_changed: false,
        });
        assert!(!fast_answer(&cache, &bytes, &mut scratch, &mut out));
    }
}
