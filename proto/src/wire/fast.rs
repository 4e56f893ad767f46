//! The native protocol's fast path: recognising, by its bytes alone, a plain anonymous
//! resolution request, and writing the answer to it from an already encoded body, without
//! decoding the request into owned values or building a [`Message`](super::Message).
//!
//! A *plain* resolution is a whole, unencrypted, uncompressed OC 1 request with no session, no
//! index or type filters, no trailing body bytes, an empty credential, and none of CT, RD or
//! ENC. [`PlainResolution::parse`] accepts exactly those (anything else is `None`, and the
//! caller uses the full codec); [`encode_resolution_answer`] writes the RC 1 answer that the
//! full codec writes for it. Both agree with the full codec on every input: the property tests
//! in `tests/fast_props.rs` and the fuzz target `fast_path` check it.

use super::envelope::{ENVELOPE_LEN, Envelope, Version};
use super::header::{HEADER_LEN, OpCode, OpFlags};
use crate::ResponseCode;

/// Flags that make a resolution answer depend on more than the stored values.
const SLOW_FLAGS: u32 = OpFlags::CT.0 | OpFlags::RD.0 | OpFlags::ENC.0;

/// Request flags copied into answers (with AT added), as the node's full path does.
pub const KEPT_FLAGS: u32 = OpFlags::CT.0
    | OpFlags::ENC.0
    | OpFlags::REC.0
    | OpFlags::CA.0
    | OpFlags::KA.0
    | OpFlags::PO.0
    | OpFlags::RD.0;

/// The parts of a plain resolution request that its answer depends on, borrowed from the
/// request bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainResolution<'a> {
    /// The request's envelope.
    pub envelope: Envelope,
    /// The request's flags.
    pub flags: u32,
    /// The request's recursion count.
    pub recursion_count: u8,
    /// The request's expiration.
    pub expiration: u32,
    /// The handle, as its bytes were sent (not checked to be UTF-8).
    pub handle: &'a [u8],
}

impl<'a> PlainResolution<'a> {
    /// Recognises a plain resolution request (see the module documentation); `None` for
    /// anything else, including every malformed input. Reads only within `bytes` and
    /// allocates nothing.
    pub fn parse(bytes: &'a [u8]) -> Option<Self> {
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
            let b = payload.get(at..at.checked_add(4)?)?;
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

    /// Whether the request asks for public values only (PO).
    pub fn public_only(&self) -> bool {
        self.flags & OpFlags::PO.0 != 0
    }

    /// Writes the store key of the handle into `key` (cleared first): the handle in ASCII upper
    /// case, with a slashless handle naming its prefix handle `0.NA/…`.
    pub fn store_key(&self, key: &mut Vec<u8>) {
        key.clear();
        if !self.handle.contains(&b'/') {
            key.extend_from_slice(crate::PREFIX_HANDLE_PREFIX.as_bytes());
            key.push(b'/');
        }
        key.extend(self.handle.iter().map(u8::to_ascii_uppercase));
    }

    /// Appends the RC 1 answer to this request whose body (the handle as requested, then the
    /// values) is `body`; see [`encode_resolution_answer`].
    pub fn encode_answer(&self, body: &[u8], out: &mut Vec<u8>) {
        encode_resolution_answer(
            &self.envelope,
            self.flags,
            self.recursion_count,
            self.expiration,
            body,
            out,
        );
    }
}

/// Appends an RC 1 resolution answer with the encoded `body` for a request with this envelope
/// and these header fields, byte for byte as the full codec encodes the answer the node gives
/// an anonymous request without CT, RD or ENC: version `min(suggested, 2.11)`, the request's
/// session and request ids, the kept flags with AT, and an empty credential.
pub fn encode_resolution_answer(
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

/// The answer to send instead of `answer` when it may not be sent whole over UDP: the same
/// envelope with TC (truncated) set, and the same header with an empty body and an empty
/// credential, so the client asks again over TCP (RFC 3652 §2.2.1). `None` when `answer` is
/// not a whole, unencrypted message (its header cannot be rewritten).
pub fn truncated_answer(answer: &[u8]) -> Option<Vec<u8>> {
    let mut envelope = Envelope::decode(answer).ok()?;
    if envelope.encrypted {
        return None;
    }
    let header = answer.get(ENVELOPE_LEN..ENVELOPE_LEN + HEADER_LEN)?;
    envelope.truncated = true;
    envelope.compressed = false;
    envelope.message_length = (HEADER_LEN + 4) as u32;
    let mut out = Vec::with_capacity(ENVELOPE_LEN + HEADER_LEN + 4);
    out.extend_from_slice(&envelope.to_bytes());
    // Every header field but the body length, which is last.
    out.extend_from_slice(&header[..HEADER_LEN - 4]);
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    Some(out)
}
