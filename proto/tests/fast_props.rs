//! Property tests of the native fast path (`wire::fast`) against the full codec: for resolution
//! requests of every shape, the fast parser recognises exactly the plain ones, with the fields
//! the full decoder reads, and its answer is byte for byte the full codec's encoding of the
//! same answer. Arbitrary and mutated bytes go through `fuzzing::fast_path`, which asserts the
//! same agreement and must never panic.

use idnode_proto::HandleValue;
use idnode_proto::ResponseCode;
use idnode_proto::wire::fast::{KEPT_FLAGS, PlainResolution};
use idnode_proto::wire::{
    self, Body, Credential, Envelope, Header, Message, OpCode, OpFlags, ResolutionRequest,
    ResolutionResponse, Version,
};
use proptest::collection::vec;
use proptest::prelude::*;

/// A resolution request: (envelope fields, flags, recursion, expiration, handle, indexes,
/// types, with a credential).
#[allow(clippy::type_complexity)]
fn request() -> impl Strategy<Value = Message> {
    (
        (
            any::<(u8, u8, u8, u8)>(),
            any::<(bool, bool)>(),
            0u32..3,
            any::<u32>(),
        ),
        any::<u32>(),
        any::<(u8, u32)>(),
        "[a-zA-Z0-9./_-]{0,40}",
        vec(any::<u32>(), 0..2),
        vec("[A-Z_]{1,8}", 0..2),
        any::<bool>(),
    )
        .prop_map(
            |(
                ((ma, mi, sma, smi), (cp, ec), session, request_id),
                flags,
                (rc, exp),
                handle,
                indexes,
                types,
                signed,
            )| {
                let mut header = Header::request(OpCode::Resolution);
                header.flags = OpFlags(flags);
                header.recursion_count = rc;
                header.expiration = exp;
                let envelope = Envelope {
                    version: Version::new(ma, mi),
                    suggested: Version::new(sma & 3, smi),
                    compressed: cp,
                    encrypted: ec,
                    session_id: session,
                    request_id,
                    ..Envelope::default()
                };
                let mut message = Message::new(
                    envelope,
                    header,
                    Body::Resolution(ResolutionRequest {
                        handle,
                        indexes,
                        types,
                    }),
                );
                if signed {
                    message.credential = Some(Credential {
                        version: 0,
                        reserved: 0,
                        flags: 0,
                        signer: idnode_proto::ValueRef {
                            handle: String::new(),
                            index: 7,
                        },
                        credential_type: wire::HS_MAC.into(),
                        digest_alg: b"HMAC-SHA256".to_vec(),
                        signature: vec![1, 2, 3],
                    });
                }
                message.update_lengths();
                message
            },
        )
}

fn is_plain(message: &Message) -> bool {
    let Body::Resolution(r) = &message.body else {
        return false;
    };
    !message.envelope.encrypted
        && !message.envelope.compressed
        && message.envelope.session_id == 0
        && message.header.flags.0 & (OpFlags::CT.0 | OpFlags::RD.0 | OpFlags::ENC.0) == 0
        && r.indexes.is_empty()
        && r.types.is_empty()
        && message.credential.is_none()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_fast_parser_agrees_with_the_full_codec(message in request()) {
        let bytes = message.to_bytes();
        let parsed = PlainResolution::parse(&bytes);
        prop_assert_eq!(parsed.is_some(), is_plain(&message));
        idnode_proto::fuzzing::fast_path(&bytes);
        let Some(parsed) = parsed else { return Ok(()) };
        let Body::Resolution(r) = &message.body else { unreachable!() };
        prop_assert_eq!(parsed.handle, r.handle.as_bytes());
        prop_assert_eq!(parsed.flags, message.header.flags.0);
        prop_assert_eq!(parsed.recursion_count, message.header.recursion_count);
        prop_assert_eq!(parsed.expiration, message.header.expiration);

        // The fast answer is the full codec's encoding of the answer it describes.
        let response = ResolutionResponse {
            handle: r.handle.clone(),
            values: vec![HandleValue::new(1, "URL", b"https://example.org/x".to_vec())],
        };
        let mut body = Vec::new();
        Body::Resolved(response.clone()).encode(&mut body);
        let mut fast = Vec::new();
        parsed.encode_answer(&body, &mut fast);

        let version = message.envelope.suggested_version().min(Version::V2_11);
        let suggested = if version >= Version::V2_8 { Version::V2_11 } else { Version::default() };
        let mut header = Header::request(OpCode::Resolution);
        header.response_code = ResponseCode::Success;
        header.flags = OpFlags((message.header.flags.0 & KEPT_FLAGS) | OpFlags::AT.0);
        header.site_info_serial = 1;
        header.recursion_count = message.header.recursion_count;
        header.expiration = message.header.expiration;
        let envelope = Envelope {
            version,
            suggested,
            request_id: message.envelope.request_id,
            ..Envelope::default()
        };
        let mut full = Message::new(envelope, header, Body::Resolved(response));
        full.update_lengths();
        prop_assert_eq!(fast, full.to_bytes());
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_fast_path(bytes in vec(any::<u8>(), 0..200)) {
        let _ = PlainResolution::parse(&bytes);
        idnode_proto::fuzzing::fast_path(&bytes);
    }
}
