//! Fuzz targets over every decoder of this crate, as plain functions.
//!
//! Each target takes arbitrary bytes, decodes them, and when decoding succeeds checks the
//! round trip: encoding the decoded value and decoding that again gives the same value (and,
//! for whole messages, the same header and body bytes). A target panics only when that
//! property fails, which is the finding a fuzzer reports; decoders themselves must never panic.
//!
//! The `fuzz/` crate (cargo-fuzz, nightly) calls these functions, and `tests/fuzz_smoke.rs`
//! runs them on stable Rust over the captured vectors and deterministic mutations of them.
//! Not part of the supported API.

use std::time::{Duration, Instant};

use super::auth::{AuthResponse, HS_PUBKEY, HS_SECKEY};
use super::body::Body;
use super::credential::Credential;
use super::digest::RequestDigest;
use super::envelope::Envelope;
use super::header::{Header, OpCode, OpFlags};
use super::message::{Message, decode};
use super::udp::{Reassembler, ReassemblyLimits, split_datagrams};
use crate::admin::{AdminRecord, ValueList};
use crate::codec::{Reader, Writer};
use crate::rc::ResponseCode;
use crate::site::SiteInfo;
use crate::value::{HandleValue, Record};

/// A fuzz target.
pub type Target = fn(&[u8]);

/// Every target with its name; the `fuzz/` crate has one binary per entry.
pub const TARGETS: &[(&str, Target)] = &[
    ("envelope", envelope),
    ("message", message),
    ("body_resolution_request", body_resolution_request),
    ("body_handle_request", body_handle_request),
    ("body_values_request", body_values_request),
    ("body_remove_value_request", body_remove_value_request),
    ("body_challenge_answer", body_challenge_answer),
    ("body_verify_challenge", body_verify_challenge),
    ("body_session_setup", body_session_setup),
    ("body_session_exchange_key", body_session_exchange_key),
    ("body_login", body_login),
    ("body_resolution_response", body_resolution_response),
    ("body_site_info_response", body_site_info_response),
    ("body_create_response", body_create_response),
    ("body_empty_response", body_empty_response),
    ("body_handle_list_response", body_handle_list_response),
    (
        "body_verify_challenge_response",
        body_verify_challenge_response,
    ),
    ("body_session_setup_response", body_session_setup_response),
    ("body_challenge", body_challenge),
    ("body_referral", body_referral),
    ("body_error", body_error),
    ("body_raw", body_raw),
    ("credential", credential),
    ("request_digest", request_digest),
    ("auth_response", auth_response),
    ("site_info", site_info),
    ("handle_value", handle_value),
    ("record", record),
    ("admin_record", admin_record),
    ("value_list", value_list),
    ("udp_reassembly", udp_reassembly),
    ("public_key", public_key),
    ("rest_json", rest_json),
    ("handle_name", handle_name),
    ("iso8601", iso8601),
    ("fast_path", fast_path),
];

/// Envelope: decode, encode, decode gives the same envelope.
pub fn envelope(data: &[u8]) {
    if let Ok(env) = Envelope::decode(data) {
        let again = Envelope::decode(&env.to_bytes());
        assert_eq!(again, Ok(env), "envelope round trip");
    }
}

/// Whole message: the re-encoding decodes to the same message, re-encoding that gives the same
/// bytes again (a message is either kept byte for byte or canonicalised once), and its UDP
/// datagrams reassemble to it.
pub fn message(data: &[u8]) {
    let Ok(decoded) = decode(data) else {
        return;
    };
    let mut first = decoded.message;
    first.update_lengths();
    let bytes = first.to_bytes();
    let second = match decode(&bytes) {
        Ok(second) => second,
        Err(e) => panic!("re-encoded message does not decode: {e}"),
    };
    assert_eq!(second.message, first, "message round trip");
    assert_eq!(
        second.message.to_bytes(),
        bytes,
        "re-encoding is not stable"
    );
    reassemble_all(&bytes);
}

/// Splits an encoded message into datagrams and checks they reassemble to it.
fn reassemble_all(bytes: &[u8]) {
    let datagrams = match split_datagrams(bytes) {
        Ok(datagrams) => datagrams,
        Err(e) => panic!("encoded message does not split: {e}"),
    };
    let mut reassembler = Reassembler::new(ReassemblyLimits::default());
    let now = fixed_instant();
    let mut whole = None;
    for datagram in datagrams.iter().rev() {
        match reassembler.push((), datagram, now) {
            Ok(Some(done)) => whole = Some(done),
            Ok(None) => {}
            Err(e) => panic!("datagram rejected: {e}"),
        }
    }
    let Some(mut whole) = whole else {
        panic!("datagrams did not reassemble");
    };
    if datagrams.len() > 1 {
        // The fragments carry TC and their own sequence numbers; the reassembled envelope is
        // fragment 0's.
        whole[2] &= !0x20;
        whole[2] |= bytes[2] & 0x20;
        whole[12..16].copy_from_slice(&bytes[12..16]);
    }
    assert_eq!(whole, bytes, "reassembly differs");
}

/// One instant for targets that need a clock; it only anchors relative times.
#[allow(clippy::disallowed_methods)] // Fuzz harnesses only; no protocol logic reads it.
fn fixed_instant() -> Instant {
    use std::sync::OnceLock;
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// Decodes `data` as the body of a message with this header and checks the round trip.
fn body_with(header: Header, data: &[u8]) {
    let Ok(decoded) = Body::decode(&header, data) else {
        return;
    };
    let mut bytes = Vec::new();
    if let Some(digest) = &decoded.request_digest {
        digest.encode(&mut Writer::new(&mut bytes));
    }
    decoded.body.encode(&mut bytes);
    bytes.extend_from_slice(&decoded.trailing);
    match Body::decode(&header, &bytes) {
        Ok(again) => assert_eq!(again, decoded, "body round trip"),
        Err(e) => panic!("re-encoded body does not decode: {e}"),
    }
}

/// A request header for the opcode picked from `choices` by the first byte.
fn request(choices: &[OpCode], data: &[u8]) -> Option<(Header, usize)> {
    let (&pick, _) = data.split_first()?;
    let opcode = choices[usize::from(pick) % choices.len()];
    Some((Header::request(opcode), 1))
}

/// A response header: the first byte picks the opcode from `choices` and, in its top bit,
/// whether RD is set.
fn response(choices: &[OpCode], rc: ResponseCode, data: &[u8]) -> Option<(Header, usize)> {
    let (&pick, _) = data.split_first()?;
    let mut header = Header::request(choices[usize::from(pick & 0x7f) % choices.len()]);
    header.response_code = rc;
    header.flags.set(OpFlags::RD, pick & 0x80 != 0);
    Some((header, 1))
}

fn run(header: Option<(Header, usize)>, data: &[u8]) {
    if let Some((header, skip)) = header {
        body_with(header, &data[skip..]);
    }
}

/// OC 1 request bodies.
pub fn body_resolution_request(data: &[u8]) {
    run(request(&[OpCode::Resolution], data), data);
}

/// Request bodies that are a single handle: OC 2, 101, 105, 300, 301, 302, 401.
pub fn body_handle_request(data: &[u8]) {
    let ops = [
        OpCode::GetSiteInfo,
        OpCode::DeleteHandle,
        OpCode::ListHandles,
        OpCode::HomeNa,
        OpCode::UnhomeNa,
        OpCode::ListHomedNas,
        OpCode::SessionTerminate,
    ];
    run(request(&ops, data), data);
}

/// OC 100, 102 and 104 request bodies.
pub fn body_values_request(data: &[u8]) {
    let ops = [OpCode::CreateHandle, OpCode::AddValue, OpCode::ModifyValue];
    run(request(&ops, data), data);
}

/// OC 103 request bodies.
pub fn body_remove_value_request(data: &[u8]) {
    run(request(&[OpCode::RemoveValue], data), data);
}

/// OC 200 request bodies.
pub fn body_challenge_answer(data: &[u8]) {
    run(request(&[OpCode::ResponseToChallenge], data), data);
}

/// OC 201 request bodies.
pub fn body_verify_challenge(data: &[u8]) {
    run(request(&[OpCode::VerifyChallenge], data), data);
}

/// OC 400 request bodies.
pub fn body_session_setup(data: &[u8]) {
    run(request(&[OpCode::SessionSetup], data), data);
}

/// OC 402 request bodies.
pub fn body_session_exchange_key(data: &[u8]) {
    run(request(&[OpCode::SessionExchangeKey], data), data);
}

/// OC 2001 request bodies.
pub fn body_login(data: &[u8]) {
    run(request(&[OpCode::LoginIdSystem], data), data);
}

/// RC 1 answers to OC 1.
pub fn body_resolution_response(data: &[u8]) {
    run(
        response(&[OpCode::Resolution], ResponseCode::Success, data),
        data,
    );
}

/// RC 1 answers to OC 2.
pub fn body_site_info_response(data: &[u8]) {
    run(
        response(&[OpCode::GetSiteInfo], ResponseCode::Success, data),
        data,
    );
}

/// RC 1 answers to OC 100.
pub fn body_create_response(data: &[u8]) {
    run(
        response(&[OpCode::CreateHandle], ResponseCode::Success, data),
        data,
    );
}

/// RC 1 answers without fields.
pub fn body_empty_response(data: &[u8]) {
    let ops = [
        OpCode::DeleteHandle,
        OpCode::AddValue,
        OpCode::RemoveValue,
        OpCode::ModifyValue,
        OpCode::HomeNa,
        OpCode::UnhomeNa,
        OpCode::SessionTerminate,
        OpCode::SessionExchangeKey,
        OpCode::LoginIdSystem,
    ];
    run(response(&ops, ResponseCode::Success, data), data);
}

/// RC 1 answers to OC 105 and OC 302.
pub fn body_handle_list_response(data: &[u8]) {
    let ops = [OpCode::ListHandles, OpCode::ListHomedNas];
    run(response(&ops, ResponseCode::Success, data), data);
}

/// RC 1 answers to OC 201.
pub fn body_verify_challenge_response(data: &[u8]) {
    run(
        response(&[OpCode::VerifyChallenge], ResponseCode::Success, data),
        data,
    );
}

/// RC 1 answers to OC 400.
pub fn body_session_setup_response(data: &[u8]) {
    run(
        response(&[OpCode::SessionSetup], ResponseCode::Success, data),
        data,
    );
}

/// RC 402 challenges.
pub fn body_challenge(data: &[u8]) {
    let ops = [
        OpCode::Resolution,
        OpCode::CreateHandle,
        OpCode::LoginIdSystem,
    ];
    run(
        response(&ops, ResponseCode::AuthenticationNeeded, data),
        data,
    );
}

/// RC 302 and RC 303 referrals.
pub fn body_referral(data: &[u8]) {
    let rc = match data.get(1) {
        Some(b) if b & 1 == 1 => ResponseCode::PrefixReferral,
        _ => ResponseCode::ServiceReferral,
    };
    run(response(&[OpCode::Resolution], rc, data), data);
}

/// Error bodies, for a response code picked by the second byte.
pub fn body_error(data: &[u8]) {
    const ERROR_RCS: [u32; 8] = [2, 4, 100, 200, 301, 401, 403, 3001];
    let rc = ERROR_RCS[usize::from(data.get(1).copied().unwrap_or(0)) % ERROR_RCS.len()];
    run(
        response(&[OpCode::Resolution], ResponseCode::from_code(rc), data),
        data,
    );
}

/// Bodies of unknown operations, as requests and as RC 1 answers.
pub fn body_raw(data: &[u8]) {
    let unknown = [OpCode::Unknown(1001), OpCode::ResponseToChallenge];
    run(response(&unknown, ResponseCode::Success, data), data);
    run(request(&[OpCode::Unknown(0)], data), data);
}

/// Credentials.
pub fn credential(data: &[u8]) {
    if let Ok(cred) = Credential::from_bytes(data) {
        assert_eq!(
            Credential::from_bytes(&cred.to_bytes()),
            Ok(cred),
            "credential round trip"
        );
    }
}

/// Request digests in both encodings.
pub fn request_digest(data: &[u8]) {
    let mut r = Reader::new(data);
    if let Ok(digest) = RequestDigest::decode(&mut r) {
        let mut bytes = Vec::new();
        digest.encode(&mut Writer::new(&mut bytes));
        assert_eq!(bytes, data[..r.position()], "digest bytes change");
    }
}

/// `challengeResponse` formats; the first byte picks the auth type.
pub fn auth_response(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let auth_type = if pick & 1 == 0 { HS_SECKEY } else { HS_PUBKEY };
    if let Ok(parsed) = AuthResponse::parse(auth_type, rest) {
        assert_eq!(parsed.to_bytes(), rest, "challenge response bytes change");
    }
}

/// Site-info records.
pub fn site_info(data: &[u8]) {
    if let Ok(site) = SiteInfo::from_bytes(data) {
        assert_eq!(
            SiteInfo::from_bytes(&site.to_bytes()),
            Ok(site),
            "site info round trip"
        );
    }
}

/// Single handle values: their encoding is canonical, so the bytes must come back.
pub fn handle_value(data: &[u8]) {
    if let Ok(value) = HandleValue::from_bytes(data) {
        assert_eq!(value.to_bytes(), data, "handle value bytes change");
    }
}

/// Stored records (`int4 count` + values).
pub fn record(data: &[u8]) {
    let Ok(parsed) = Record::parse(data) else {
        return;
    };
    // `parse` checks the structure; only full decoding checks that type names are UTF-8.
    if let Ok(values) = parsed.decode_all() {
        assert_eq!(Record::encode(&values), data, "record bytes change");
    }
}

/// `HS_ADMIN` data.
pub fn admin_record(data: &[u8]) {
    if let Ok(admin) = AdminRecord::from_bytes(data) {
        assert_eq!(
            AdminRecord::from_bytes(&admin.to_bytes()),
            Ok(admin),
            "admin record round trip"
        );
    }
}

/// `HS_VLIST` data.
pub fn value_list(data: &[u8]) {
    if let Ok(list) = ValueList::from_bytes(data) {
        assert_eq!(list.to_bytes(), data, "value list bytes change");
    }
}

/// The reassembler fed arbitrary datagrams: each datagram is a one-byte length (times 4)
/// followed by that many bytes; the sender is the low bit of the length byte. The byte
/// accounting must stay within the limits and return to zero after expiry.
pub fn udp_reassembly(data: &[u8]) {
    let limits = ReassemblyLimits {
        max_partial: 4,
        max_buffered: 4096,
        ..ReassemblyLimits::default()
    };
    let mut reassembler = Reassembler::new(limits);
    let start = fixed_instant();
    let mut rest = data;
    let mut step = 0u64;
    while let Some((&len, tail)) = rest.split_first() {
        let take = (usize::from(len) * 4).min(tail.len());
        let (datagram, tail) = tail.split_at(take);
        rest = tail;
        step += 1;
        let now = start + Duration::from_millis(step * 700);
        let _ = reassembler.push(len & 1, datagram, now);
        assert!(
            reassembler.buffered() <= limits.max_buffered,
            "buffer limit"
        );
        assert!(reassembler.len() <= limits.max_partial, "partial limit");
    }
    reassembler.expire(start + Duration::from_secs(3600 * 24));
    assert_eq!(reassembler.buffered(), 0, "buffer accounting");
}

/// Whether a message's body would come back unchanged through `Body::decode` and
/// `Body::encode`; used by the property tests to build consistent messages.
pub fn body_round_trips(message: &Message) -> bool {
    let mut bytes = Vec::new();
    if let Some(digest) = &message.request_digest {
        digest.encode(&mut Writer::new(&mut bytes));
    }
    message.body.encode(&mut bytes);
    bytes.extend_from_slice(&message.body_padding);
    Body::decode(&message.header, &bytes).is_ok_and(|d| {
        d.request_digest == message.request_digest
            && d.body == message.body
            && d.trailing == message.body_padding
    })
}

/// `HS_PUBKEY` data: a decoded key encodes to bytes that decode to the same key.
pub fn public_key(data: &[u8]) {
    if let Ok(key) = crate::PublicKey::from_bytes(data) {
        assert_eq!(
            crate::PublicKey::from_bytes(&key.to_bytes()),
            Ok(key),
            "public key round trip"
        );
    }
}

/// REST PUT bodies: the JSON written for values read from a body is a fixed point (reading it
/// and writing again gives the same JSON, apart from the admin-read bit, which the
/// four-character permission form cannot clear), and writing from the encoded value agrees.
pub fn rest_json(data: &[u8]) {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok((_, values)) = crate::json::values_from_body(&body) else {
        return;
    };
    for value in values {
        let mut out = Vec::new();
        crate::json::write_value(&mut out, &value);
        let back: serde_json::Value = serde_json::from_slice(&out).expect("written JSON parses");
        let mut again = crate::json::value_from_json(&back).expect("written JSON reads back");
        again.permissions = value.permissions;
        let mut out_again = Vec::new();
        crate::json::write_value(&mut out_again, &again);
        assert_eq!(out_again, out, "REST JSON is a fixed point");
        let bytes = value.to_bytes();
        let (view, _) = crate::EncodedValue::split(&bytes).expect("encoded value splits");
        let mut direct = Vec::new();
        crate::json::write_encoded_value(&mut direct, view);
        assert_eq!(direct, out, "encoded and decoded JSON agree");
    }
}

/// Handle names: parsing never panics, and the storage key of a valid handle is itself a valid
/// handle with the same key.
pub fn handle_name(data: &[u8]) {
    let Ok(handle) = crate::Handle::parse_bytes(data, crate::HandleRules { max_len: 4096 }) else {
        return;
    };
    let key = handle.key();
    let text = std::str::from_utf8(&key).expect("keys of UTF-8 handles are UTF-8");
    let again = crate::Handle::parse_with(text, crate::HandleRules { max_len: 4096 })
        .expect("a key is a valid handle");
    assert_eq!(again.key(), key, "normalization is idempotent");
}

/// ISO 8601 timestamps: whatever parses formats to a string that parses to the same instant.
pub fn iso8601(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(secs) = crate::time::parse_iso8601(text) {
        assert_eq!(
            crate::time::parse_iso8601(&crate::time::format_iso8601(secs)),
            Some(secs),
            "time round trip"
        );
    }
}

/// The native fast path against the full codec: [`super::fast::PlainResolution::parse`]
/// accepts exactly the plain resolutions the full decoder finds in these bytes, with the same
/// fields, and the fast answer to one decodes with the full codec into the answer it describes
/// and re-encodes to the same bytes.
pub fn fast_path(data: &[u8]) {
    use super::body::ResolutionResponse;
    use super::fast::{KEPT_FLAGS, PlainResolution};

    let fast = PlainResolution::parse(data);
    let full = decode(data).ok().map(|d| d.message);
    let plain_in_full = full.as_ref().and_then(|m| match &m.body {
        Body::Resolution(r)
            if !m.envelope.encrypted
                && !m.envelope.compressed
                && m.envelope.session_id == 0
                && m.header.opcode == OpCode::Resolution
                && m.header.response_code == ResponseCode::Reserved
                && m.header.flags.0 & (OpFlags::CT.0 | OpFlags::RD.0 | OpFlags::ENC.0) == 0
                && r.indexes.is_empty()
                && r.types.is_empty()
                && m.request_digest.is_none()
                && m.body_padding.is_empty()
                && m.credential.is_none() =>
        {
            Some((m, r))
        }
        _ => None,
    });
    let Some(fast) = fast else {
        // The full decoder reads a credential length only when it fits, and a handle only as
        // UTF-8; the fast path is stricter about the credential and laxer about UTF-8, so only
        // a plain message whose bytes end in an empty credential must be recognised.
        if let Some((m, _)) = plain_in_full {
            let mut again = m.clone();
            again.update_lengths();
            assert!(
                again.to_bytes() != data,
                "the fast path refused a canonical plain resolution"
            );
        }
        return;
    };
    if let Some((m, r)) = plain_in_full {
        assert_eq!(fast.handle, r.handle.as_bytes(), "fast path handle");
        assert_eq!(fast.flags, m.header.flags.0, "fast path flags");
        assert_eq!(fast.recursion_count, m.header.recursion_count);
        assert_eq!(fast.expiration, m.header.expiration);
        assert_eq!(fast.envelope, m.envelope);
    } else {
        // Accepted by the fast path only: the handle is not UTF-8, which the node checks
        // before it answers from the cache.
        assert!(
            std::str::from_utf8(fast.handle).is_err(),
            "the fast path accepted what the full decoder does not call a plain resolution"
        );
        return;
    }
    let Ok(handle) = std::str::from_utf8(fast.handle) else {
        return;
    };
    let response = ResolutionResponse {
        handle: handle.to_owned(),
        values: vec![HandleValue::new(1, "URL", b"https://example.org/".to_vec())],
    };
    let mut body = Vec::new();
    Body::Resolved(response.clone()).encode(&mut body);
    let mut answer = Vec::new();
    fast.encode_answer(&body, &mut answer);
    let decoded = match decode(&answer) {
        Ok(decoded) => decoded.message,
        Err(e) => panic!("the fast answer does not decode: {e}"),
    };
    assert_eq!(decoded.envelope.request_id, fast.envelope.request_id);
    assert_eq!(decoded.envelope.session_id, 0);
    assert_eq!(decoded.header.opcode, OpCode::Resolution);
    assert_eq!(decoded.header.response_code, ResponseCode::Success);
    assert_eq!(
        decoded.header.flags.0,
        (fast.flags & KEPT_FLAGS) | OpFlags::AT.0
    );
    assert_eq!(decoded.header.recursion_count, fast.recursion_count);
    assert_eq!(decoded.header.expiration, fast.expiration);
    assert_eq!(decoded.body, Body::Resolved(response), "fast answer body");
    assert_eq!(
        decoded.to_bytes(),
        answer,
        "the fast answer is not canonical"
    );
}

/// What the stable smoke runs of every crate's fuzz targets share: a deterministic generator,
/// the mutations (bit flips, interesting bytes and integers, truncations, insertions,
/// splices, duplications), and a run of a target over a corpus and its mutations.
pub mod smoke {
    /// xorshift64*: deterministic and dependency-free.
    pub struct Rng(pub u64);

    impl Rng {
        /// The next number.
        #[allow(clippy::should_implement_trait)] // Not an iterator: it never ends.
        pub fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        /// A number below `n` (0 when `n` is 0).
        pub fn below(&mut self, n: usize) -> usize {
            if n == 0 {
                0
            } else {
                (self.next() % n as u64) as usize
            }
        }
    }

    /// A mutation of an entry of `corpus` (which must not be empty): one to three changes.
    pub fn mutate(rng: &mut Rng, corpus: &[Vec<u8>]) -> Vec<u8> {
        let mut data = corpus[rng.below(corpus.len())].clone();
        for _ in 0..1 + rng.below(3) {
            match rng.below(7) {
                0 if !data.is_empty() => {
                    let at = rng.below(data.len());
                    data[at] ^= 1 << rng.below(8);
                }
                1 if !data.is_empty() => {
                    let at = rng.below(data.len());
                    data[at] = [0x00, 0x01, 0x7f, 0x80, 0xff, b'"', b'{', b'['][rng.below(8)];
                }
                2 if data.len() >= 4 => {
                    // An interesting int4, most likely over a length or count field.
                    let at = rng.below(data.len() - 3);
                    let value: u32 = match rng.below(6) {
                        0 => 0,
                        1 => 1,
                        2 => u32::MAX,
                        3 => i32::MAX as u32,
                        4 => data.len() as u32,
                        _ => 262_145,
                    };
                    data[at..at + 4].copy_from_slice(&value.to_be_bytes());
                }
                3 => data.truncate(rng.below(data.len() + 1)),
                4 => {
                    let at = rng.below(data.len() + 1);
                    let n = 1 + rng.below(8);
                    let noise: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                    data.splice(at..at, noise);
                }
                5 => {
                    let other = &corpus[rng.below(corpus.len())];
                    let cut = rng.below(data.len() + 1);
                    let from = rng.below(other.len() + 1);
                    data.truncate(cut);
                    data.extend_from_slice(&other[from..]);
                }
                _ if data.len() > 1 => {
                    let from = rng.below(data.len());
                    let to = from + rng.below(data.len() - from);
                    let copy = data[from..to].to_vec();
                    let at = rng.below(data.len() + 1);
                    data.splice(at..at, copy);
                }
                _ => {}
            }
        }
        data
    }

    /// Runs `target` on every entry of `corpus` and on `mutations` mutations of it (seeded by
    /// `seed`), and on empty and tiny inputs; panics with the failing input, in hex, if the
    /// target panics. Returns the number of runs.
    pub fn run(
        name: &str,
        target: fn(&[u8]),
        corpus: &[Vec<u8>],
        mutations: usize,
        seed: u64,
    ) -> usize {
        assert!(!corpus.is_empty(), "target {name}: empty corpus");
        let check = |input: &[u8]| {
            let outcome = std::panic::catch_unwind(|| target(input));
            assert!(
                outcome.is_ok(),
                "target {name} failed on input {}",
                hex(input)
            );
        };
        for input in corpus {
            check(input);
        }
        for len in 0..16 {
            check(&vec![0u8; len]);
            check(&vec![0xffu8; len]);
        }
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ seed);
        for _ in 0..mutations {
            check(&mutate(&mut rng, corpus));
        }
        corpus.len() + 32 + mutations
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
