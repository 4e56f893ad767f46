//! Golden vectors: every message captured from the Handle.Net 9.3.1 reference server
//! (`conformance/vectors/handle-native/`) is decoded, checked against the capture's own
//! field-by-field decoding, re-encoded byte for byte, and cross-checked (request digests,
//! `HS_SIGNED` credentials and the RSA challenge answer are verified with the captured keys).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use idnode_proto::wire::{
    self, AuthResponse, Body, Decoded, Envelope, HS_SIGNED, KeyExchange, Message, OpCode,
    signed_input, udp,
};
use idnode_proto::{HandleValue, PublicKey, ResponseCode, Ttl};
use serde_json::Value;

/// Messages that cannot be decoded past the envelope, by file and message position.
const SKIP_MESSAGES: &[(&str, usize, &str)] = &[(
    "tcp-resolve-authenticated-read-session",
    8,
    "EC set: everything after the envelope is encrypted with a session key agreed by a random \
     Diffie-Hellman exchange, which the capture cannot reproduce; only the envelope is decoded \
     and re-encoded, and the ciphertext length is checked against MessageLength",
)];

/// Fields of the captures' own `decoded` sections that are wrong or incomplete, by file,
/// message position and field path. The bytes themselves are still decoded, re-encoded and
/// checked by this test; only the comparison with these fields is skipped.
const WRONG_DECODED_FIELDS: &[(&str, usize, &str, &str)] = &[
    (
        "tcp-verify-challenge",
        0,
        "body.orig_digest",
        "the capture decoder read the length-prefixed digest (int4 32 + SHA-256, CNRI's \
         encodeVerifyAuthRequest form) as algorithm 0 with an empty digest; the test checks the \
         digest against its own reading instead",
    ),
    (
        "tcp-verify-challenge",
        0,
        "body.signed_response",
        "misaligned by the orig_digest misreading above",
    ),
    (
        "tcp-verify-challenge",
        0,
        "body.unparsed_body_bytes",
        "negative, from the orig_digest misreading above",
    ),
    (
        "tcp-verify-challenge-invalid",
        0,
        "body.orig_digest",
        "same misreading as in tcp-verify-challenge",
    ),
    (
        "tcp-verify-challenge-invalid",
        0,
        "body.signed_response",
        "same misreading as in tcp-verify-challenge",
    ),
    (
        "tcp-verify-challenge-invalid",
        0,
        "body.unparsed_body_bytes",
        "same misreading as in tcp-verify-challenge",
    ),
    (
        "udp-resolve-multi-packet",
        1,
        "body.decode_error",
        "the capture decoder saw only the first datagram; the test decodes the reassembled message",
    ),
    (
        "udp-resolve-certified",
        1,
        "credential.signature_len",
        "the capture decoder saw only the first datagram, which cuts the signature; the \
         reassembled credential has the full 256-byte signature",
    ),
    (
        "tcp-create-seckey-default-client-session",
        1,
        "credential.signature_len",
        "first datagram only, as in udp-resolve-certified",
    ),
    (
        "tcp-resolve-authenticated-read-session",
        3,
        "credential.signature_len",
        "first datagram only, as in udp-resolve-certified",
    ),
];

/// The response code of every server message, in order (`None` for an encrypted response).
const EXPECTED_RCS: &[(&str, &[Option<u32>])] = &[
    ("http-create-seckey", &[Some(402), Some(1)]),
    ("http-resolve-all", &[Some(1)]),
    ("tcp-add-value", &[Some(402), Some(1)]),
    ("tcp-create-pubkey-rsa", &[Some(402), Some(1)]),
    (
        "tcp-create-seckey-default-client-session",
        &[Some(1), Some(402), Some(1)],
    ),
    ("tcp-create-seckey-pbkdf2", &[Some(402), Some(1)]),
    ("tcp-create-seckey-sha1", &[Some(402), Some(1)]),
    ("tcp-delete-handle", &[Some(402), Some(1)]),
    ("tcp-error-authentication-failed", &[Some(402), Some(403)]),
    (
        "tcp-error-delete-without-permission",
        &[Some(402), Some(400)],
    ),
    ("tcp-error-handle-exists", &[Some(101)]),
    ("tcp-error-insufficient-permissions", &[Some(401)]),
    ("tcp-error-invalid-admin", &[Some(402), Some(400)]),
    ("tcp-error-server-not-responsible", &[Some(301)]),
    ("tcp-get-site-info", &[Some(1)]),
    ("tcp-list-handles", &[Some(402), Some(1), Some(1), Some(1)]),
    ("tcp-modify-value-by-handle-admin", &[Some(402), Some(1)]),
    ("tcp-modify-value", &[Some(402), Some(1)]),
    ("tcp-remove-value", &[Some(402), Some(1)]),
    ("tcp-resolve-all", &[Some(1)]),
    (
        "tcp-resolve-authenticated-read-session",
        &[Some(402), Some(1), Some(402), None],
    ),
    ("tcp-resolve-authenticated-read", &[Some(402), Some(1)]),
    ("tcp-resolve-prefix-handle", &[Some(1)]),
    ("tcp-verify-challenge-invalid", &[Some(1)]),
    ("tcp-verify-challenge", &[Some(1)]),
    ("udp-get-site-info", &[Some(1)]),
    ("udp-resolve-all", &[Some(1)]),
    ("udp-resolve-authoritative", &[Some(1)]),
    ("udp-resolve-certified", &[Some(1)]),
    ("udp-resolve-compat-version", &[Some(1)]),
    ("udp-resolve-handle-not-found", &[Some(100)]),
    ("udp-resolve-index-filter", &[Some(1)]),
    ("udp-resolve-multi-packet", &[Some(1)]),
    ("udp-resolve-request-digest", &[Some(1)]),
    ("udp-resolve-type-filter", &[Some(1)]),
    ("udp-resolve-values-not-found", &[Some(200)]),
];

fn vector_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../conformance/vectors/handle-native")
}

fn load(name: &str) -> Value {
    let path = vector_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn exchange_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(vector_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter_map(|n| n.strip_suffix(".json").map(str::to_owned))
        .filter(|n| n != "seed")
        .collect();
    names.sort();
    names
}

/// The native bytes of a message entry: the whole entry, or for HTTP the body at
/// `body_offset`.
fn native_bytes(entry: &Value) -> Vec<u8> {
    let bytes = hex::decode(entry["hex"].as_str().unwrap()).unwrap();
    match entry["body_offset"].as_u64() {
        Some(offset) => bytes[offset as usize..].to_vec(),
        None => bytes,
    }
}

fn public_key(base64: &str) -> (Vec<u8>, Vec<u8>) {
    let bytes = STANDARD.decode(base64).unwrap();
    match PublicKey::from_bytes(&bytes).unwrap() {
        PublicKey::Rsa { exponent, modulus } => (modulus, exponent),
        other => panic!("not an RSA key: {other:?}"),
    }
}

fn verify_rsa_sha256(key: &(Vec<u8>, Vec<u8>), message: &[u8], signature: &[u8]) -> bool {
    ring::signature::RsaPublicKeyComponents {
        n: &key.0,
        e: &key.1,
    }
    .verify(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        message,
        signature,
    )
    .is_ok()
}

/// Compares a decoded field with the capture's value, unless the field is on the
/// wrong-fields list.
struct Checker<'a> {
    file: &'a str,
    position: usize,
    compared: usize,
}

impl Checker<'_> {
    fn skipped(&self, path: &str) -> bool {
        WRONG_DECODED_FIELDS
            .iter()
            .any(|(f, p, field, _)| *f == self.file && *p == self.position && *field == path)
    }

    fn check(&mut self, path: &str, expected: &Value, actual: Value) {
        if expected.is_null() || self.skipped(path) {
            return;
        }
        assert_eq!(
            &actual, expected,
            "{} message {}: field {path}",
            self.file, self.position
        );
        self.compared += 1;
    }
}

fn version_text(major: u8, minor: u8) -> Value {
    Value::from(format!("{major}.{minor}"))
}

fn check_envelope(c: &mut Checker<'_>, expected: &Value, env: &Envelope) {
    let suggested = env.suggested_version();
    c.check(
        "envelope.version",
        &expected["version"],
        version_text(env.version.major, env.version.minor),
    );
    c.check(
        "envelope.suggested_version",
        &expected["suggested_version"],
        version_text(suggested.major, suggested.minor),
    );
    c.check("envelope.CP", &expected["CP"], env.compressed.into());
    c.check("envelope.EC", &expected["EC"], env.encrypted.into());
    c.check("envelope.TC", &expected["TC"], env.truncated.into());
    c.check(
        "envelope.session_id",
        &expected["session_id"],
        env.session_id.into(),
    );
    c.check(
        "envelope.request_id",
        &expected["request_id"],
        env.request_id.into(),
    );
    c.check(
        "envelope.sequence",
        &expected["sequence"],
        env.sequence.into(),
    );
    c.check(
        "envelope.message_length",
        &expected["message_length"],
        env.message_length.into(),
    );
}

/// A value's data as the capture writes it: UTF-8 text when printable, otherwise hex.
fn data_matches(expected: &Value, data: &[u8]) -> bool {
    let expected = expected.as_str().unwrap_or_default();
    std::str::from_utf8(data).is_ok_and(|s| s == expected) || hex::encode(data) == expected
}

fn check_values(c: &mut Checker<'_>, path: &str, expected: &Value, values: &[HandleValue]) {
    if expected.is_null() || c.skipped(path) {
        return;
    }
    let expected = expected.as_array().unwrap();
    assert_eq!(expected.len(), values.len(), "{} {path}", c.file);
    for (e, v) in expected.iter().zip(values) {
        let (ttl_type, ttl) = match v.ttl {
            Ttl::Relative(s) => (0, s),
            Ttl::Absolute(s) => (1, s),
        };
        c.check(&format!("{path}.index"), &e["index"], v.index.into());
        c.check(
            &format!("{path}.timestamp"),
            &e["timestamp"],
            v.timestamp.into(),
        );
        c.check(&format!("{path}.ttl_type"), &e["ttl_type"], ttl_type.into());
        c.check(&format!("{path}.ttl"), &e["ttl"], ttl.into());
        c.check(
            &format!("{path}.permissions"),
            &e["permissions"],
            format!("{:#04x}", v.permissions.0).into(),
        );
        c.check(
            &format!("{path}.type"),
            &e["type"],
            v.value_type.clone().into(),
        );
        c.check(
            &format!("{path}.data_len"),
            &e["data_len"],
            v.data.len().into(),
        );
        assert!(
            data_matches(&e["data"], &v.data),
            "{} {path}.data: {:?}",
            c.file,
            e["data"]
        );
        c.check(
            &format!("{path}.refs"),
            &e["refs"],
            Value::Array(
                v.references
                    .iter()
                    .map(|r| Value::from(r.to_string()))
                    .collect(),
            ),
        );
    }
}

fn check_decoded(c: &mut Checker<'_>, expected: &Value, decoded: &Decoded<'_>) {
    let m = &decoded.message;
    check_envelope(c, &expected["envelope"], &m.envelope);
    let h = &expected["header"];
    c.check("header.opcode", &h["opcode"], m.header.opcode.code().into());
    c.check("header.rc", &h["rc"], m.header.response_code.code().into());
    c.check(
        "header.opflags",
        &h["opflags"],
        format!("{:#010x}", m.header.flags.0).into(),
    );
    c.check(
        "header.flags",
        &h["flags"],
        m.header.flags.names().collect::<Vec<_>>().into(),
    );
    c.check(
        "header.site_serial",
        &h["site_serial"],
        i64::from(m.header.site_info_serial as i16).into(),
    );
    c.check(
        "header.recursion",
        &h["recursion"],
        m.header.recursion_count.into(),
    );
    c.check(
        "header.expiration",
        &h["expiration"],
        m.header.expiration.into(),
    );
    c.check(
        "header.body_length",
        &h["body_length"],
        m.header.body_length.into(),
    );

    let b = &expected["body"];
    if let Some(d) = &m.request_digest {
        c.check(
            "body.request_digest",
            &b["request_digest"],
            serde_json::json!({"alg": d.alg.code(), "digest": hex::encode(&d.digest)}),
        );
    } else {
        assert!(b["request_digest"].is_null(), "{}: digest expected", c.file);
    }
    c.check(
        "body.unparsed_body_bytes",
        &b["unparsed_body_bytes"],
        m.body_padding.len().into(),
    );
    match &m.body {
        Body::Resolution(req) => {
            c.check("body.handle", &b["handle"], req.handle.clone().into());
            c.check("body.indexes", &b["indexes"], req.indexes.clone().into());
            c.check("body.types", &b["types"], req.types.clone().into());
        }
        Body::GetSiteInfo { handle }
        | Body::DeleteHandle { handle }
        | Body::ListHandles { handle } => {
            c.check("body.handle", &b["handle"], handle.clone().into());
        }
        Body::CreateHandle(req) | Body::AddValue(req) | Body::ModifyValue(req) => {
            c.check("body.handle", &b["handle"], req.handle.clone().into());
            check_values(c, "body.values", &b["values"], &req.values);
        }
        Body::RemoveValue(req) => {
            c.check("body.handle", &b["handle"], req.handle.clone().into());
            c.check("body.indexes", &b["indexes"], req.indexes.clone().into());
        }
        Body::ChallengeAnswer(answer) => {
            c.check(
                "body.auth_type",
                &b["auth_type"],
                answer.auth_type.clone().into(),
            );
            c.check(
                "body.key_handle",
                &b["key_handle"],
                answer.identity.handle.clone().into(),
            );
            c.check(
                "body.key_index",
                &b["key_index"],
                answer.identity.index.into(),
            );
            c.check(
                "body.challenge_response_len",
                &b["challenge_response_len"],
                answer.response.len().into(),
            );
            match AuthResponse::parse(&answer.auth_type, &answer.response).unwrap() {
                AuthResponse::Signature {
                    hash_alg,
                    signature,
                } => {
                    c.check("body.sig_hash_alg", &b["sig_hash_alg"], hash_alg.into());
                    c.check(
                        "body.signature_len",
                        &b["signature_len"],
                        signature.len().into(),
                    );
                }
                AuthResponse::SecretMac { code, mac } => {
                    c.check("body.mac_alg", &b["mac_alg"], code.into());
                    c.check("body.mac", &b["mac"], hex::encode(mac).into());
                }
                AuthResponse::SecretPbkdf2 {
                    salt,
                    iterations,
                    key_length_bits,
                    mac,
                } => {
                    c.check("body.mac_alg", &b["mac_alg"], 0x22.into());
                    c.check(
                        "body.pbkdf2",
                        &b["pbkdf2"],
                        serde_json::json!({
                            "salt": hex::encode(salt),
                            "iterations": iterations,
                            "key_length_bits": key_length_bits,
                            "hmac": hex::encode(mac),
                        }),
                    );
                }
            }
        }
        Body::VerifyChallenge(req) => {
            c.check(
                "body.handle",
                &b["handle"],
                req.identity.handle.clone().into(),
            );
            c.check("body.index", &b["index"], req.identity.index.into());
            c.check("body.nonce", &b["nonce"], hex::encode(&req.nonce).into());
            c.check(
                "body.orig_digest",
                &b["orig_digest"],
                serde_json::json!({
                    "alg": req.orig_digest.alg.code(),
                    "digest": hex::encode(&req.orig_digest.digest),
                }),
            );
            c.check(
                "body.signed_response",
                &b["signed_response"],
                hex::encode(&req.signed_response).into(),
            );
        }
        Body::SessionSetup(req) => {
            c.check(
                "body.key_exchange_mode",
                &b["key_exchange_mode"],
                req.exchange.mode().into(),
            );
            c.check("body.timeout", &b["timeout"], req.timeout.into());
            c.check(
                "body.identity_handle",
                &b["identity_handle"],
                req.identity.handle.clone().into(),
            );
            c.check(
                "body.identity_index",
                &b["identity_index"],
                req.identity.index.into(),
            );
            if let KeyExchange::DiffieHellman(key) | KeyExchange::ClientKey(key) = &req.exchange {
                c.check(
                    "body.exchange_public_key_len",
                    &b["exchange_public_key_len"],
                    key.len().into(),
                );
            }
        }
        Body::Resolved(res) => {
            c.check("body.handle", &b["handle"], res.handle.clone().into());
            check_values(c, "body.values", &b["values"], &res.values);
        }
        Body::SiteInfo(site) => {
            c.check(
                "body.siteinfo_bytes",
                &b["siteinfo_bytes"],
                site.to_bytes().len().into(),
            );
        }
        Body::Created { handle } => {
            c.check("body.handle", &b["handle"], handle.clone().into());
        }
        Body::Empty => {}
        Body::HandleList { handles } => {
            c.check("body.handles", &b["handles"], handles.clone().into());
        }
        Body::VerifyChallengeResult { valid } => {
            c.check("body.valid", &b["valid"], u8::from(*valid).into());
        }
        Body::SessionSetupResult(res) => {
            c.check(
                "body.key_exchange_mode",
                &b["key_exchange_mode"],
                res.mode.into(),
            );
            c.check(
                "body.exchange_data_len",
                &b["exchange_data_len"],
                res.data.len().into(),
            );
        }
        Body::Challenge { nonce } => {
            c.check("body.nonce", &b["nonce"], hex::encode(nonce).into());
        }
        Body::Error { message } => {
            c.check(
                "body.message",
                &b["message"],
                message.clone().unwrap_or_default().into(),
            );
        }
        other => panic!("{}: unexpected body in the captures: {other:?}", c.file),
    }

    let credential_len = m.credential.as_ref().map_or(0, |cr| cr.to_bytes().len());
    c.check(
        "credential_length",
        &expected["credential_length"],
        credential_len.into(),
    );
    if let Some(cr) = &m.credential {
        let e = &expected["credential"];
        c.check(
            "credential.type",
            &e["type"],
            cr.credential_type.clone().into(),
        );
        c.check(
            "credential.signer_handle",
            &e["signer_handle"],
            cr.signer.handle.clone().into(),
        );
        c.check(
            "credential.signer_index",
            &e["signer_index"],
            cr.signer.index.into(),
        );
        c.check(
            "credential.digest_alg",
            &e["digest_alg"],
            String::from_utf8(cr.digest_alg.clone()).unwrap().into(),
        );
        c.check(
            "credential.signature_len",
            &e["signature_len"],
            cr.signature.len().into(),
        );
    }
}

/// What the run saw, for the final summary assertions.
#[derive(Default)]
struct Tally {
    messages: usize,
    decoded: usize,
    fields: usize,
    digests_checked: usize,
    signatures_checked: usize,
    skipped: Vec<(String, usize)>,
}

/// One whole message: the entries it came from and its bytes.
struct Unit {
    positions: Vec<usize>,
    direction: String,
    datagrams: Vec<Vec<u8>>,
    bytes: Vec<u8>,
}

fn units(file: &Value) -> Vec<Unit> {
    #[allow(clippy::disallowed_methods)] // One fixed instant: the captures need no expiry.
    let now = Instant::now();
    let mut reassembler = udp::Reassembler::new(udp::ReassemblyLimits::default());
    // Datagram positions and bytes of each UDP message, by direction and request id.
    type Pending = HashMap<(String, u32), (Vec<usize>, Vec<Vec<u8>>)>;
    let mut pending = Pending::new();
    let mut units = Vec::new();
    for (position, entry) in file["messages"].as_array().unwrap().iter().enumerate() {
        let direction = entry["direction"].as_str().unwrap().to_owned();
        let bytes = native_bytes(entry);
        if entry["transport"] == "udp" {
            let env = wire::decode_envelope(&bytes).unwrap();
            let group = pending
                .entry((direction.clone(), env.request_id))
                .or_default();
            group.0.push(position);
            group.1.push(bytes.clone());
            if let Some(whole) = reassembler.push(direction.clone(), &bytes, now).unwrap() {
                let (positions, datagrams) = pending
                    .remove(&(direction.clone(), env.request_id))
                    .unwrap();
                units.push(Unit {
                    positions,
                    direction,
                    datagrams,
                    bytes: whole,
                });
            }
        } else {
            units.push(Unit {
                positions: vec![position],
                direction,
                datagrams: vec![bytes.clone()],
                bytes,
            });
        }
    }
    assert!(pending.is_empty(), "incomplete UDP messages");
    assert!(reassembler.is_empty());
    units
}

fn run_file(name: &str, seed: &Value, tally: &mut Tally) {
    let file = load(name);
    let entries = file["messages"].as_array().unwrap();
    let server_key = public_key(
        file["server_public_key"]["hs_pubkey_base64"]
            .as_str()
            .unwrap(),
    );
    let mut requests: HashMap<u32, (Vec<u8>, Message)> = HashMap::new();
    let mut challenges: HashMap<u32, (Vec<u8>, Vec<u8>)> = HashMap::new();
    let mut rcs = Vec::new();

    for unit in units(&file) {
        let position = unit.positions[0];
        let entry = &entries[position];
        tally.messages += 1;
        let envelope = wire::decode_envelope(&unit.bytes).unwrap();
        let mut c = Checker {
            file: name,
            position,
            compared: 0,
        };
        // Every continuation datagram's envelope matches its own entry.
        for (&p, datagram) in unit.positions.iter().zip(&unit.datagrams).skip(1) {
            let mut continuation = Checker {
                file: name,
                position: p,
                compared: 0,
            };
            let env = wire::decode_envelope(datagram).unwrap();
            check_envelope(&mut continuation, &entries[p]["decoded"]["envelope"], &env);
            assert_eq!(
                continuation.compared, 9,
                "{name} message {p}: envelope fields"
            );
            tally.fields += continuation.compared;
        }

        if envelope.encrypted {
            assert!(
                SKIP_MESSAGES
                    .iter()
                    .any(|(f, p, _)| *f == name && *p == position),
                "{name} message {position}: encrypted message not on the skip list"
            );
            check_envelope(&mut c, &entry["decoded"]["envelope"], &envelope);
            assert_eq!(envelope.to_bytes()[..], unit.bytes[..20]);
            assert_eq!(unit.bytes.len() - 20, envelope.message_length as usize);
            tally.skipped.push((name.to_owned(), position));
            tally.fields += c.compared;
            if unit.direction == "server->client" {
                rcs.push(None);
            }
            continue;
        }

        let decoded =
            wire::decode(&unit.bytes).unwrap_or_else(|e| panic!("{name} message {position}: {e}"));
        tally.decoded += 1;
        let message = &decoded.message;

        // Byte-identical re-encoding, and the same datagrams for UDP.
        let reencoded = message.to_bytes();
        assert_eq!(
            hex::encode(&reencoded),
            hex::encode(&unit.bytes),
            "{name} message {position}: re-encoding differs"
        );
        if entry["transport"] == "udp" {
            assert_eq!(
                udp::split_datagrams(&reencoded).unwrap(),
                unit.datagrams,
                "{name} message {position}: datagrams differ"
            );
        }
        let mut normalised = message.clone();
        normalised.update_lengths();
        assert_eq!(&normalised, message, "{name} message {position}: lengths");

        check_decoded(&mut c, &entry["decoded"], &decoded);
        tally.fields += c.compared;

        let rc = message.header.response_code;
        if unit.direction == "client->server" {
            assert_eq!(rc, ResponseCode::Reserved, "{name}: request with an RC");
            requests.insert(
                envelope.request_id,
                (decoded.header_body.to_vec(), message.clone()),
            );
        } else {
            assert!(message.header.is_response(), "{name}: response with RC 0");
            rcs.push(Some(rc.code()));
            let (request_hb, request) = requests
                .get(&envelope.request_id)
                .unwrap_or_else(|| panic!("{name} message {position}: no request"));
            assert_eq!(
                message.header.opcode,
                match request.header.opcode {
                    // The answer to a challenge answer is the answer to the original request.
                    OpCode::ResponseToChallenge => message.header.opcode,
                    op => op,
                },
            );
            if let Some(digest) = &message.request_digest {
                assert!(
                    digest.matches(request_hb),
                    "{name} message {position}: request digest does not match"
                );
                tally.digests_checked += 1;
            }
            if let Body::Challenge { nonce } = &message.body {
                let digest = message.request_digest.as_ref().unwrap();
                challenges.insert(envelope.session_id, (nonce.clone(), digest.digest.clone()));
            }
        }

        if let Some(cr) = &message.credential
            && cr.credential_type == HS_SIGNED
        {
            let signed = signed_input(&envelope, cr.session_counter(), decoded.header_body);
            assert!(
                verify_rsa_sha256(&server_key, &signed, &cr.signature),
                "{name} message {position}: HS_SIGNED credential does not verify"
            );
            tally.signatures_checked += 1;
        }

        if let Body::ChallengeAnswer(answer) = &message.body
            && let Ok(AuthResponse::Signature { signature, .. }) =
                AuthResponse::parse(&answer.auth_type, &answer.response)
        {
            let identity = format!("{}:{}", answer.identity.index, answer.identity.handle);
            let key = public_key(
                seed["identities"][&identity]["public_key_hs_pubkey_base64"]
                    .as_str()
                    .unwrap(),
            );
            let (nonce, digest) = &challenges[&envelope.session_id];
            let signed = [nonce.as_slice(), digest.as_slice()].concat();
            assert!(
                verify_rsa_sha256(&key, &signed, signature),
                "{name} message {position}: RSA challenge answer does not verify"
            );
            tally.signatures_checked += 1;
        }
    }

    let expected = EXPECTED_RCS
        .iter()
        .find(|(f, _)| *f == name)
        .unwrap_or_else(|| panic!("{name}: no expected response codes"))
        .1;
    assert_eq!(rcs, expected, "{name}: response codes");
}

#[test]
fn every_captured_message_decodes_and_reencodes_identically() {
    let seed = load("seed");
    let names = exchange_names();
    assert_eq!(names.len(), 36, "vector files");
    let mut tally = Tally::default();
    for name in &names {
        run_file(name, &seed, &mut tally);
    }
    // Every skip-list entry names a real message that was skipped.
    let skipped: BTreeMap<_, _> = tally.skipped.iter().map(|s| (s.clone(), ())).collect();
    for (file, position, reason) in SKIP_MESSAGES {
        assert!(!reason.is_empty());
        assert!(skipped.contains_key(&((*file).to_owned(), *position)));
    }
    assert_eq!(tally.skipped.len(), SKIP_MESSAGES.len());
    assert_eq!(tally.messages, tally.decoded + tally.skipped.len());
    assert!(tally.fields > 1000, "compared {} fields", tally.fields);
    eprintln!(
        "{} messages, {} decoded, {} fields compared, {} digests and {} signatures verified",
        tally.messages,
        tally.decoded,
        tally.fields,
        tally.digests_checked,
        tally.signatures_checked
    );
    // 17 challenges, the RD resolution, two OC 201 answers and two session setup answers.
    assert_eq!(tally.digests_checked, 22, "digests");
    assert_eq!(tally.signatures_checked, 4, "signatures");
}
