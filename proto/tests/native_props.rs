//! Property tests of the native message codec: `decode(encode(m)) == m` for messages with every
//! body type, and decoding never panics on arbitrary or mutated bytes.

use std::path::PathBuf;
use std::sync::OnceLock;

use idnode_proto::wire::{
    self, Body, ChallengeAnswer, Credential, DigestAlg, Envelope, Header, KeyExchange, Message,
    OpCode, OpFlags, Referral, RemoveValueRequest, RequestDigest, ResolutionRequest,
    ResolutionResponse, SessionSetupRequest, SessionSetupResponse, ValuesRequest,
    VerifyChallengeRequest, Version,
};
use idnode_proto::{
    HandleValue, Interface, Permissions, Protocol, ResponseCode, ServerInfo, SiteInfo, Ttl,
    ValueRef,
};
use proptest::collection::vec;
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    "\\PC{0,16}"
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..max)
}

fn value_ref() -> impl Strategy<Value = ValueRef> {
    (text(), any::<u32>()).prop_map(|(handle, index)| ValueRef { handle, index })
}

fn handle_value() -> impl Strategy<Value = HandleValue> {
    (
        any::<u32>(),
        text(),
        bytes(40),
        any::<u32>(),
        prop_oneof![
            any::<u32>().prop_map(Ttl::Relative),
            any::<u32>().prop_map(Ttl::Absolute)
        ],
        any::<u8>(),
        vec(value_ref(), 0..3),
    )
        .prop_map(
            |(index, value_type, data, timestamp, ttl, perms, references)| HandleValue {
                index,
                value_type,
                data,
                timestamp,
                ttl,
                permissions: Permissions(perms),
                references,
            },
        )
}

fn values() -> impl Strategy<Value = Vec<HandleValue>> {
    vec(handle_value(), 0..4)
}

fn digest() -> impl Strategy<Value = RequestDigest> {
    prop_oneof![
        bytes(33).prop_map(|digest| RequestDigest {
            alg: DigestAlg::LengthPrefixed,
            digest
        }),
        any::<[u8; 16]>().prop_map(|d| RequestDigest {
            alg: DigestAlg::Md5,
            digest: d.to_vec()
        }),
        any::<[u8; 20]>().prop_map(|d| RequestDigest {
            alg: DigestAlg::Sha1,
            digest: d.to_vec()
        }),
        any::<[u8; 32]>().prop_map(|d| RequestDigest {
            alg: DigestAlg::Sha256,
            digest: d.to_vec()
        }),
    ]
}

fn site_info() -> impl Strategy<Value = SiteInfo> {
    let interface = (any::<bool>(), any::<bool>(), 0u8..4, any::<u32>()).prop_map(
        |(query, admin, protocol, port)| Interface {
            query,
            admin,
            protocol: [
                Protocol::Udp,
                Protocol::Tcp,
                Protocol::Http,
                Protocol::Https,
            ][usize::from(protocol)],
            port,
        },
    );
    let server = (
        any::<u32>(),
        any::<[u8; 16]>(),
        bytes(40),
        vec(interface, 0..4),
    )
        .prop_map(|(server_id, address, public_key, interfaces)| ServerInfo {
            server_id,
            address,
            public_key,
            interfaces,
        });
    (
        any::<u16>(),
        any::<(u8, u8)>(),
        any::<u16>(),
        any::<(bool, bool)>(),
        any::<u8>(),
        text(),
        vec((text(), text()), 0..3),
        vec(server, 0..3),
    )
        .prop_map(
            |(
                data_version,
                protocol_version,
                serial_number,
                (primary, multi_primary),
                hash_option,
                hash_filter,
                attributes,
                servers,
            )| {
                SiteInfo {
                    data_version,
                    protocol_version,
                    serial_number,
                    primary,
                    multi_primary,
                    hash_option,
                    hash_filter,
                    attributes,
                    servers,
                }
            },
        )
}

fn values_request() -> impl Strategy<Value = ValuesRequest> {
    (text(), values()).prop_map(|(handle, values)| ValuesRequest { handle, values })
}

/// Request bodies with their opcodes.
fn request_body() -> impl Strategy<Value = (OpCode, Body)> {
    prop_oneof![
        (text(), vec(any::<u32>(), 0..4), vec(text(), 0..4)).prop_map(
            |(handle, indexes, types)| (
                OpCode::Resolution,
                Body::Resolution(ResolutionRequest {
                    handle,
                    indexes,
                    types
                })
            )
        ),
        text().prop_map(|handle| (OpCode::GetSiteInfo, Body::GetSiteInfo { handle })),
        values_request().prop_map(|r| (OpCode::CreateHandle, Body::CreateHandle(r))),
        text().prop_map(|handle| (OpCode::DeleteHandle, Body::DeleteHandle { handle })),
        values_request().prop_map(|r| (OpCode::AddValue, Body::AddValue(r))),
        (text(), vec(any::<u32>(), 0..4)).prop_map(|(handle, indexes)| (
            OpCode::RemoveValue,
            Body::RemoveValue(RemoveValueRequest { handle, indexes })
        )),
        values_request().prop_map(|r| (OpCode::ModifyValue, Body::ModifyValue(r))),
        text().prop_map(|handle| (OpCode::ListHandles, Body::ListHandles { handle })),
        (text(), value_ref(), bytes(60)).prop_map(|(auth_type, identity, response)| (
            OpCode::ResponseToChallenge,
            Body::ChallengeAnswer(ChallengeAnswer {
                auth_type,
                identity,
                response
            })
        )),
        (value_ref(), bytes(20), digest(), bytes(40)).prop_map(
            |(identity, nonce, orig_digest, signed_response)| (
                OpCode::VerifyChallenge,
                Body::VerifyChallenge(VerifyChallengeRequest {
                    identity,
                    nonce,
                    orig_digest,
                    signed_response
                })
            )
        ),
        text().prop_map(|handle| (OpCode::HomeNa, Body::HomeNa { handle })),
        text().prop_map(|handle| (OpCode::UnhomeNa, Body::UnhomeNa { handle })),
        text().prop_map(|handle| (OpCode::ListHomedNas, Body::ListHomedNas { handle })),
        (any::<u32>(), value_ref(), key_exchange()).prop_map(|(timeout, identity, exchange)| (
            OpCode::SessionSetup,
            Body::SessionSetup(SessionSetupRequest {
                timeout,
                identity,
                exchange
            })
        )),
        text().prop_map(|handle| (OpCode::SessionTerminate, Body::SessionTerminate { handle })),
        proptest::option::of(bytes(40)).prop_map(|encrypted_key| (
            OpCode::SessionExchangeKey,
            Body::SessionExchangeKey { encrypted_key }
        )),
        value_ref().prop_map(|identity| (OpCode::LoginIdSystem, Body::Login { identity })),
        (1000u32..1004, bytes(40)).prop_map(|(code, raw)| (OpCode::Unknown(code), Body::Raw(raw))),
    ]
}

fn key_exchange() -> impl Strategy<Value = KeyExchange> {
    prop_oneof![
        bytes(40).prop_map(KeyExchange::ClientKey),
        Just(KeyExchange::ServerKey),
        value_ref().prop_map(KeyExchange::HandleKey),
        bytes(40).prop_map(KeyExchange::DiffieHellman),
        (5u16..).prop_map(KeyExchange::Other),
        Just(KeyExchange::Other(0)),
    ]
}

/// Response bodies with their opcodes and response codes.
fn response_body() -> impl Strategy<Value = (OpCode, ResponseCode, Body)> {
    let ok = ResponseCode::Success;
    let empty_ops = prop_oneof![
        Just(OpCode::DeleteHandle),
        Just(OpCode::AddValue),
        Just(OpCode::RemoveValue),
        Just(OpCode::ModifyValue),
        Just(OpCode::HomeNa),
        Just(OpCode::UnhomeNa),
        Just(OpCode::SessionTerminate),
        Just(OpCode::SessionExchangeKey),
        Just(OpCode::LoginIdSystem),
    ];
    let error_rc = prop_oneof![
        Just(2u32),
        Just(4),
        Just(100),
        Just(101),
        Just(200),
        Just(301),
        Just(400),
        Just(401),
        Just(403),
        Just(505),
        Just(3001),
        Just(9999),
    ];
    prop_oneof![
        (text(), values()).prop_map(move |(handle, values)| (
            OpCode::Resolution,
            ok,
            Body::Resolved(ResolutionResponse { handle, values })
        )),
        site_info().prop_map(move |site| (OpCode::GetSiteInfo, ok, Body::SiteInfo(site))),
        proptest::option::of(text()).prop_map(move |handle| (
            OpCode::CreateHandle,
            ok,
            Body::Created { handle }
        )),
        empty_ops.prop_map(move |op| (op, ok, Body::Empty)),
        (
            prop_oneof![Just(OpCode::ListHandles), Just(OpCode::ListHomedNas)],
            vec(text(), 0..5)
        )
            .prop_map(move |(op, handles)| (op, ok, Body::HandleList { handles })),
        any::<bool>().prop_map(move |valid| (
            OpCode::VerifyChallenge,
            ok,
            Body::VerifyChallengeResult { valid }
        )),
        (any::<u16>(), bytes(40)).prop_map(move |(mode, data)| (
            OpCode::SessionSetup,
            ok,
            Body::SessionSetupResult(SessionSetupResponse { mode, data })
        )),
        bytes(20).prop_map(|nonce| (
            OpCode::CreateHandle,
            ResponseCode::AuthenticationNeeded,
            Body::Challenge { nonce }
        )),
        (
            prop_oneof![
                Just(ResponseCode::ServiceReferral),
                Just(ResponseCode::PrefixReferral)
            ],
            text(),
            proptest::option::of(values())
        )
            .prop_map(|(rc, handle, values)| (
                OpCode::Resolution,
                rc,
                Body::Referral(Referral { handle, values })
            )),
        (error_rc, proptest::option::of(text())).prop_map(|(rc, message)| (
            OpCode::DeleteHandle,
            ResponseCode::from_code(rc),
            Body::Error { message }
        )),
        bytes(40).prop_map(move |raw| (OpCode::Unknown(1001), ok, Body::Raw(raw))),
    ]
}

/// Whether the decoder finds the end of this body by itself, so that padding after it stays
/// padding (bodies that end in optional fields read whatever follows).
fn has_fixed_end(body: &Body) -> bool {
    !matches!(
        body,
        Body::Created { .. }
            | Body::SessionExchangeKey { .. }
            | Body::Referral(_)
            | Body::Error { .. }
            | Body::Raw(_)
    )
}

fn envelope() -> impl Strategy<Value = Envelope> {
    (
        any::<(u8, u8)>(),
        (0u8..4, any::<u8>()),
        any::<(bool, bool, bool)>(),
        any::<(u32, u32, u32)>(),
    )
        .prop_map(
            |((major, minor), (s_major, s_minor), (cp, ec, tc), (session, request, seq))| {
                Envelope {
                    version: Version::new(major, minor),
                    suggested: Version::new(s_major, s_minor),
                    compressed: cp,
                    encrypted: ec,
                    truncated: tc,
                    session_id: session,
                    request_id: request,
                    sequence: seq,
                    message_length: 0,
                }
            },
        )
}

fn credential() -> impl Strategy<Value = Credential> {
    (
        any::<(u8, u8, u16)>(),
        value_ref(),
        text(),
        bytes(12),
        bytes(64),
    )
        .prop_map(
            |((version, reserved, flags), signer, credential_type, digest_alg, signature)| {
                Credential {
                    version,
                    reserved,
                    flags,
                    signer,
                    credential_type,
                    digest_alg,
                    signature,
                }
            },
        )
}

fn message() -> impl Strategy<Value = Message> {
    let request = request_body().prop_map(|(op, body)| (op, ResponseCode::Reserved, body));
    (
        envelope(),
        prop_oneof![request, response_body()],
        any::<(u32, u16, u8, u32)>(),
        proptest::option::of(digest()),
        bytes(6),
        proptest::option::of(credential()),
    )
        .prop_map(
            |(
                env,
                (opcode, rc, body),
                (flags, serial, recursion, expiration),
                digest,
                padding,
                credential,
            )| {
                let is_response = rc.code() != 0;
                let mut flags = OpFlags(flags);
                // A response body starts with a digest exactly when RD is set.
                let request_digest = if is_response { digest } else { None };
                if is_response {
                    flags.set(OpFlags::RD, request_digest.is_some());
                }
                let body_padding = if has_fixed_end(&body) {
                    padding
                } else {
                    Vec::new()
                };
                let mut m = Message {
                    envelope: env,
                    header: Header {
                        opcode,
                        response_code: rc,
                        flags,
                        site_info_serial: serial,
                        recursion_count: recursion,
                        expiration,
                        body_length: 0,
                    },
                    request_digest,
                    body,
                    body_padding,
                    credential,
                };
                m.update_lengths();
                m
            },
        )
}

/// The captured native messages (whole TCP/HTTP messages and single UDP datagrams).
fn vector_messages() -> &'static [Vec<u8>] {
    static MESSAGES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    MESSAGES.get_or_init(|| {
        let dir =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../conformance/vectors/handle-native");
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
            let Ok(file) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            for m in file["messages"].as_array().into_iter().flatten() {
                let raw = hex::decode(m["hex"].as_str().unwrap()).unwrap();
                let offset = m["body_offset"].as_u64().unwrap_or(0) as usize;
                out.push(raw[offset..].to_vec());
            }
        }
        out.sort();
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn message_round_trip(m in message()) {
        let bytes = m.to_bytes();
        let decoded = wire::decode(&bytes).unwrap();
        prop_assert_eq!(&decoded.message, &m);
        let body_end = wire::ENVELOPE_LEN + wire::HEADER_LEN + m.header.body_length as usize;
        prop_assert_eq!(decoded.header_body, &bytes[wire::ENVELOPE_LEN..body_end]);
        prop_assert_eq!(decoded.message.to_bytes(), bytes);
    }

    #[test]
    fn udp_split_reassembles(m in message()) {
        let bytes = m.to_bytes();
        let datagrams = wire::udp::split_datagrams(&bytes).unwrap();
        prop_assert!(datagrams.iter().all(|d| d.len() <= wire::udp::MAX_DATAGRAM_LEN));
        let mut r = wire::udp::Reassembler::new(wire::udp::ReassemblyLimits::default());
        #[allow(clippy::disallowed_methods)] // A fixed instant; expiry is not tested here.
        let now = std::time::Instant::now();
        let mut whole = None;
        for d in datagrams.iter().rev() {
            if let Some(done) = r.push(0u8, d, now).unwrap() {
                whole = Some(done);
            }
        }
        let whole = whole.unwrap();
        let reassembled = wire::decode(&whole).unwrap().message;
        prop_assert_eq!(reassembled.body, m.body);
    }

    #[test]
    fn decode_never_panics_on_arbitrary_bytes(data in bytes(700)) {
        let _ = wire::decode(&data);
        let _ = wire::decode_envelope(&data);
        // The same bytes behind an envelope whose length matches, to reach the body decoders.
        let env = Envelope { message_length: data.len() as u32, ..Envelope::default() };
        let _ = wire::decode_message(env, &data);
    }

    #[test]
    fn decode_never_panics_on_mutated_vectors(
        pick in any::<prop::sample::Index>(),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        fix_length in any::<bool>(),
    ) {
        let messages = vector_messages();
        let mut data = messages[pick.index(messages.len())].clone();
        for (at, byte) in edits {
            let i = at.index(data.len());
            data[i] = byte;
        }
        data.truncate(wire::ENVELOPE_LEN + cut.index(data.len() - wire::ENVELOPE_LEN + 1));
        if fix_length {
            let len = (data.len() - wire::ENVELOPE_LEN) as u32;
            data[16..20].copy_from_slice(&len.to_be_bytes());
        }
        if let Ok(decoded) = wire::decode(&data) {
            // Whatever decodes re-encodes to something that decodes to the same message.
            let mut m = decoded.message;
            m.update_lengths();
            prop_assert_eq!(wire::decode(&m.to_bytes()).unwrap().message, m);
        }
    }
}
