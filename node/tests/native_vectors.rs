//! Replays every captured Handle.Net exchange in `conformance/vectors/handle-native/` against a
//! node seeded with the capture's records, over real loopback UDP, TCP and HTTP, and compares
//! each answer with the reference server's: response code, operation, flags, body layout and
//! values. What differs from run to run (request ids, session ids, nonces, digests, signatures,
//! timestamps, expirations) is normalised; the remaining known differences are listed in
//! `EXCEPTIONS` with their reasons. Challenge answers and session MACs are recomputed for this
//! run's nonces and session keys from the identities' secrets and the RSA test key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use idnode::config::Config;
use idnode::config::native::Listen;
use idnode_certs::mac;
use idnode_proto::wire::udp::{Reassembler, ReassemblyLimits};
use idnode_proto::wire::{
    self, AuthResponse, Body, HS_PUBKEY, KeyExchange, Message, OpCode, RequestDigest, signed_input,
};
use idnode_proto::{Handle, HandleValue, ResponseCode, ValueRef, json};
use idnode_resolver::{Identity, Operation, Request};
use rsa::BigUint;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpStream, UdpSocket};

/// Known differences from the reference server, each with its reason: (vector, what).
const EXCEPTIONS: &[(&str, &str)] = &[
    (
        "*",
        "GET_SITE_INFO: the site's description, address, ports and key are this node's; only \
         the format and protocol versions are compared",
    ),
    (
        "tcp-list-handles",
        "the handle names and their number depend on which vec-* handles exist at that point; \
         only the streaming (CN on all but the last, at most 50 per message) is compared",
    ),
    (
        "tcp-resolve-authenticated-read-session",
        "the encrypted answer cannot be compared byte for byte; it is decrypted with this \
         run's session key and checked to be RC 1 with the HS_SECKEY value",
    ),
];

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/vectors/handle-native")
}

fn load(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(vectors_dir().join(name)).unwrap()).unwrap()
}

fn admin() -> Identity {
    Identity(ValueRef::parse("300:88.118.8/ADMIN").unwrap())
}

struct Node {
    native: SocketAddr,
    http: SocketAddr,
    _shutdown: tokio::sync::watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

/// Starts a node holding the capture's seed records, with the RSA test key as its site key.
async fn start_seeded() -> Node {
    let seed = load("seed.json");
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let pem = seed["identities"]["300:88.118.8/RSAADMIN"]["private_key_pkcs8_pem_test_only"]
        .as_str()
        .unwrap();
    std::fs::write(keys.join("native-rsa.pem"), pem).unwrap();
    let mut config = Config {
        data: dir.path().to_path_buf(),
        ..Config::default()
    };
    config.http.listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    // The captures hold whole UDP answers from the reference, which has no amplification
    // limit; that limit is tested in native_udp_policy.rs.
    config.native.udp_max_amplification = 0;
    config.https.listen = None;
    config.auth.server_admins = vec!["300:88.118.8/ADMIN".into()];
    config.auth.secret_iterations = 1000;
    config.native.listen = Some(Listen(Some(SocketAddr::from(([127, 0, 0, 1], 0)))));
    {
        let state = idnode::core::Core::open(config.clone()).unwrap();
        let run = |op| {
            state.resolver.handle(Request {
                op,
                identity: Some(admin()),
                now: 1_735_689_600,
            })
        };
        run(Operation::Home {
            prefix: "88.118.8".into(),
        })
        .await
        .unwrap();
        let mut records: Vec<(String, Vec<HandleValue>)> = Vec::new();
        for (handle, values) in seed["records"].as_object().unwrap() {
            let values = values
                .as_array()
                .unwrap()
                .iter()
                .map(|v| json::value_from_json(v).unwrap())
                .collect();
            records.push((handle.clone(), values));
        }
        for i in 0..100 {
            let admin_value = seed["bulk_records"]["values"][0].clone();
            let mut url = seed["bulk_records"]["values"][1].clone();
            url["data"] = Value::String(format!("https://example.org/list/{i:03}"));
            records.push((
                format!("88.118.8/list-{i:03}"),
                vec![
                    json::value_from_json(&admin_value).unwrap(),
                    json::value_from_json(&url).unwrap(),
                ],
            ));
        }
        for (handle, values) in records {
            run(Operation::Create {
                handle: Handle::parse(&handle).unwrap(),
                values,
                overwrite: true,
            })
            .await
            .unwrap();
        }
    }
    let (tx, rx) = tokio::sync::watch::channel(false);
    let running = idnode::server::start(config, rx).await.unwrap();
    Node {
        native: running.bound.native.unwrap(),
        http: running.bound.http.unwrap(),
        _shutdown: tx,
        _dir: dir,
    }
}

/// What a flow remembers between messages.
#[derive(Default)]
struct Flow {
    /// The last challenge: session id, nonce, digest.
    challenge: Option<(u32, Vec<u8>, Vec<u8>)>,
    /// The session: id and key.
    session: Option<(u32, Vec<u8>)>,
    /// The client's DH private exponent.
    dh_private: Option<BigUint>,
    dh_p: Option<BigUint>,
}

/// Rewrites a recorded client message for this run: session ids, DH public value, challenge
/// answers and session MACs.
fn rewrite(vector: &str, hex_bytes: &[u8], flow: &mut Flow, seed: &Value) -> Vec<u8> {
    let mut msg = wire::decode(hex_bytes).unwrap().message;
    let recorded_session = msg.envelope.session_id;
    if let Body::SessionSetup(setup) = &mut msg.body
        && let KeyExchange::DiffieHellman(public) = &mut setup.exchange
    {
        let mut r = idnode_proto::Reader::new(public);
        r.str("t").unwrap();
        r.u16("f").unwrap();
        r.bytes("y").unwrap();
        let p = r.bytes("p").unwrap().to_vec();
        let g = r.bytes("g").unwrap().to_vec();
        let x = BigUint::from_bytes_be(&[0x5a; 40]);
        let pb = BigUint::from_bytes_be(&p);
        let y = BigUint::from_bytes_be(&g).modpow(&x, &pb);
        let mut out = Vec::new();
        let mut w = idnode_proto::Writer::new(&mut out);
        w.str("DH_PUB_KEY");
        w.u16(0);
        let mut yb = y.to_bytes_be();
        if yb[0] & 0x80 != 0 {
            yb.insert(0, 0);
        }
        w.bytes(&yb);
        w.bytes(&p);
        w.bytes(&g);
        *public = out;
        flow.dh_private = Some(x);
        flow.dh_p = Some(pb);
    }
    if let Body::ChallengeAnswer(answer) = &mut msg.body {
        let (sid, nonce, digest) = flow.challenge.clone().expect("a challenge came first");
        msg.envelope.session_id = sid;
        let m = [nonce.clone(), digest.clone()].concat();
        let identity = answer.identity.to_string();
        let secret = if vector.contains("authentication-failed") {
            b"not-the-secret".to_vec()
        } else {
            seed["identities"][&identity]["secret"]
                .as_str()
                .unwrap_or("")
                .as_bytes()
                .to_vec()
        };
        answer.response = if answer.auth_type == HS_PUBKEY {
            let pem = seed["identities"][&identity]["private_key_pkcs8_pem_test_only"]
                .as_str()
                .unwrap();
            let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
            use base64::Engine as _;
            let der = base64::engine::general_purpose::STANDARD
                .decode(body)
                .unwrap();
            let pair = ring::signature::RsaKeyPair::from_pkcs8(&der).unwrap();
            let mut sig = vec![0; pair.public().modulus_len()];
            pair.sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                &m,
                &mut sig,
            )
            .unwrap();
            AuthResponse::Signature {
                hash_alg: "SHA-256",
                signature: &sig,
            }
            .to_bytes()
        } else {
            match AuthResponse::parse(&answer.auth_type, &answer.response).unwrap() {
                AuthResponse::SecretPbkdf2 {
                    salt,
                    iterations,
                    key_length_bits,
                    ..
                } => {
                    let key =
                        mac::pbkdf2_hmac_sha1(&secret, salt, iterations, key_length_bits).unwrap();
                    let mac = mac::hmac_sha1(&key, &m);
                    AuthResponse::SecretPbkdf2 {
                        salt,
                        iterations,
                        key_length_bits,
                        mac: &mac,
                    }
                    .to_bytes()
                }
                AuthResponse::SecretMac { code: 2, .. } => {
                    [vec![2], mac::sha1_sandwich(&secret, &m).to_vec()].concat()
                }
                other => panic!("{vector}: unexpected answer {other:?}"),
            }
        };
    } else if recorded_session != 0
        && let Some((sid, _)) = &flow.session
    {
        msg.envelope.session_id = *sid;
    }
    if let Some(credential) = msg.credential.clone()
        && credential.credential_type == "HS_MAC"
    {
        let (_, key) = flow.session.clone().expect("a session was set up");
        let mut payload = Vec::new();
        msg.credential = None;
        msg.encode_payload(&mut payload);
        let header_body = payload[..payload.len() - 4].to_vec();
        let mut cred = credential;
        cred.signature = mac::hmac_sha256(
            &key,
            &signed_input(&msg.envelope, cred.session_counter(), &header_body),
        )
        .to_vec();
        msg.credential = Some(cred);
    }
    msg.to_bytes()
}

/// Learns from a server message: challenges and session setups.
fn learn(flow: &mut Flow, msg: &Message) {
    match &msg.body {
        Body::Challenge { nonce } => {
            let digest = msg.request_digest.clone().unwrap().digest;
            flow.challenge = Some((msg.envelope.session_id, nonce.clone(), digest));
        }
        Body::SessionSetupResult(result) => {
            let mut r = idnode_proto::Reader::new(&result.data[4..]);
            r.str("t").unwrap();
            r.u16("f").unwrap();
            let y = BigUint::from_bytes_be(r.bytes("y").unwrap());
            let p = flow.dh_p.clone().unwrap();
            let shared = y.modpow(flow.dh_private.as_ref().unwrap(), &p);
            let p_len = p.to_bytes_be().len();
            let key =
                idnode::native::session::session_key_from_secret(&shared.to_bytes_be(), p_len);
            flow.session = Some((msg.envelope.session_id, key));
        }
        _ => {}
    }
}

/// The comparable form of a response.
fn normalise(msg: &Message) -> Value {
    let body = match &msg.body {
        Body::Resolved(r) => {
            let values: Vec<Value> = r
                .values
                .iter()
                .map(|v| {
                    let mut v = v.clone();
                    v.timestamp = 0;
                    Value::String(hex::encode(v.to_bytes()))
                })
                .collect();
            serde_json::json!({"handle": r.handle, "values": values})
        }
        Body::Challenge { nonce } => serde_json::json!({"nonce_len": nonce.len()}),
        Body::SiteInfo(site) => serde_json::json!({
            "site_version": site.data_version,
            "protocol": format!("{:?}", site.protocol_version),
            "primary": site.primary,
        }),
        Body::SessionSetupResult(s) => {
            serde_json::json!({"mode": s.mode, "alg": hex::encode(&s.data[..4])})
        }
        Body::HandleList { handles } => serde_json::json!({"at_most_50": handles.len() <= 50}),
        other => serde_json::json!(format!("{other:?}")),
    };
    serde_json::json!({
        "version": msg.envelope.version.to_string(),
        "suggested": msg.envelope.suggested_version().to_string(),
        "encrypted": msg.envelope.encrypted,
        "has_session": msg.envelope.session_id != 0,
        "opcode": msg.header.opcode.code(),
        "rc": msg.header.response_code.code(),
        "flags": format!("{:?}", msg.header.flags),
        "site_serial": msg.header.site_info_serial,
        "digest": msg.request_digest.as_ref().map(|d| d.alg.code()),
        "body": body,
        "padding": msg.body_padding.len(),
        "credential": msg.credential.as_ref().map(|c| {
            (c.credential_type.clone(), String::from_utf8_lossy(&c.digest_alg).into_owned())
        }),
    })
}

async fn read_tcp_message(stream: &mut TcpStream) -> Vec<u8> {
    let mut envelope = [0u8; 20];
    tokio::time::timeout(Duration::from_secs(20), stream.read_exact(&mut envelope))
        .await
        .unwrap()
        .unwrap();
    let len = u32::from_be_bytes([envelope[16], envelope[17], envelope[18], envelope[19]]);
    let mut out = envelope.to_vec();
    out.resize(20 + len as usize, 0);
    stream.read_exact(&mut out[20..]).await.unwrap();
    out
}

async fn http_exchange(addr: SocketAddr, start_line: &str, body: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let path = start_line.split(' ').nth(1).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-hdl-message\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut reply))
        .await
        .unwrap()
        .unwrap();
    let at = reply.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(
        reply.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    reply[at..].to_vec()
}

/// Splits concatenated messages.
fn split_messages(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while bytes.len() >= 20 {
        let len = u32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]) as usize;
        out.push(bytes[..20 + len].to_vec());
        bytes = &bytes[20 + len..];
    }
    out
}

/// Replays one vector; returns the differences found.
async fn replay(node: &Node, vector: &Value, seed: &Value) -> Vec<String> {
    let name = vector["name"].as_str().unwrap();
    let mut flow = Flow::default();
    let mut diffs = Vec::new();
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut reassembler: Reassembler<SocketAddr> = Reassembler::new(ReassemblyLimits::default());
    let mut tcp: BTreeMap<u64, TcpStream> = BTreeMap::new();
    let mut http_replies: Vec<Vec<u8>> = Vec::new();
    for m in vector["messages"].as_array().unwrap() {
        let bytes = hex::decode(m["hex"].as_str().unwrap()).unwrap();
        let transport = m["transport"].as_str().unwrap();
        let conn = m["connection"].as_u64().unwrap_or(0);
        if m["direction"] == "client->server" {
            match transport {
                "udp" => {
                    let out = rewrite(name, &bytes, &mut flow, seed);
                    udp.send_to(&out, node.native).await.unwrap();
                }
                "tcp" => {
                    let out = rewrite(name, &bytes, &mut flow, seed);
                    if let std::collections::btree_map::Entry::Vacant(slot) = tcp.entry(conn) {
                        slot.insert(TcpStream::connect(node.native).await.unwrap());
                    }
                    tcp.get_mut(&conn).unwrap().write_all(&out).await.unwrap();
                }
                _ => {
                    let at = m["body_offset"].as_u64().unwrap() as usize;
                    let out = rewrite(name, &bytes[at..], &mut flow, seed);
                    let reply =
                        http_exchange(node.http, m["http_start_line"].as_str().unwrap(), &out)
                            .await;
                    http_replies = split_messages(&reply);
                    http_replies.reverse();
                }
            }
            continue;
        }
        // A UDP continuation datagram of a multi-packet answer is checked with its first one.
        if transport == "udp" && wire::decode_envelope(&bytes).unwrap().sequence > 0 {
            continue;
        }
        let expected_whole = if transport == "udp" {
            let env = wire::decode_envelope(&bytes).unwrap();
            let mut whole = bytes.clone();
            for later in vector["messages"].as_array().unwrap() {
                let b = hex::decode(later["hex"].as_str().unwrap()).unwrap();
                let e = wire::decode_envelope(&b).unwrap();
                if later["direction"] == "server->client"
                    && e.request_id == env.request_id
                    && e.sequence > 0
                {
                    whole.extend_from_slice(&b[20..]);
                }
            }
            whole[16..20].copy_from_slice(&env.message_length.to_be_bytes());
            Some(whole)
        } else if transport == "http" {
            let at = m["body_offset"].as_u64().unwrap() as usize;
            Some(bytes[at..].to_vec())
        } else {
            Some(bytes.clone())
        };
        let actual = match transport {
            "udp" => loop {
                let mut buf = [0u8; 1024];
                let (n, peer) =
                    tokio::time::timeout(Duration::from_secs(20), udp.recv_from(&mut buf))
                        .await
                        .expect("UDP answer")
                        .unwrap();
                if let Some(whole) = reassembler
                    .push(peer, &buf[..n], std::time::Instant::now())
                    .unwrap()
                {
                    break whole;
                }
            },
            "tcp" => read_tcp_message(tcp.get_mut(&conn).unwrap()).await,
            _ => http_replies.pop().expect("an HTTP answer message"),
        };
        let actual_env = wire::decode_envelope(&actual).unwrap();
        let actual_msg = if actual_env.encrypted {
            let (_, key) = flow.session.clone().unwrap();
            let plain = idnode::native::session::decrypt(&key, &actual[20..]).unwrap();
            let mut env = actual_env;
            env.encrypted = false;
            env.message_length = plain.len() as u32;
            let msg = wire::decode_message(env, &plain).unwrap().message;
            assert_eq!(msg.header.response_code, ResponseCode::Success, "{name}");
            let Body::Resolved(r) = &msg.body else {
                panic!("{name}: {msg:?}")
            };
            assert!(
                r.values.iter().any(|v| v.value_type == "HS_SECKEY"),
                "{name}"
            );
            let expected_env = wire::decode_envelope(expected_whole.as_ref().unwrap()).unwrap();
            if !expected_env.encrypted {
                diffs.push(format!(
                    "{name}: we encrypted an answer the reference did not"
                ));
            }
            continue;
        } else {
            wire::decode(&actual).unwrap().message
        };
        learn(&mut flow, &actual_msg);
        let expected = wire::decode(expected_whole.as_ref().unwrap())
            .unwrap()
            .message;
        if let Some(digest) = &actual_msg.request_digest {
            assert_eq!(
                digest.alg,
                RequestDigest::for_version(actual_msg.envelope.version, b"").alg
            );
        }
        COMPARED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (a, e) = (normalise(&actual_msg), normalise(&expected));
        if a != e {
            diffs.push(format!("{name}: expected {e}\n  actual {a}"));
        }
        if actual_msg.header.opcode == OpCode::Resolution
            && let Some(credential) = &actual_msg.credential
            && credential.credential_type == "HS_SIGNED"
        {
            // The certified answer verifies with the published (test) key.
            let mut unsigned = actual_msg.clone();
            unsigned.credential = None;
            let mut payload = Vec::new();
            unsigned.encode_payload(&mut payload);
            let input = signed_input(&actual_msg.envelope, 0, &payload[..payload.len() - 4]);
            let key = idnode_proto::PublicKey::from_bytes(&base64_decode(
                seed["server"]["public_key"]["hs_pubkey_base64"]
                    .as_str()
                    .unwrap(),
            ));
            assert!(key.is_ok());
            let rsa_pub =
                seed["identities"]["300:88.118.8/RSAADMIN"]["public_key_hs_pubkey_base64"]
                    .as_str()
                    .unwrap();
            let public = idnode_proto::PublicKey::from_bytes(&base64_decode(rsa_pub)).unwrap();
            let idnode_proto::PublicKey::Rsa { exponent, modulus } = public else {
                panic!("not RSA")
            };
            let strip = |b: &[u8]| {
                b.iter()
                    .skip_while(|x| **x == 0)
                    .copied()
                    .collect::<Vec<_>>()
            };
            ring::signature::RsaPublicKeyComponents {
                n: strip(&modulus),
                e: strip(&exponent),
            }
            .verify(
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                &input,
                &credential.signature,
            )
            .expect("certified answer verifies");
        }
    }
    diffs
}

/// Resolves `handle` over TCP and returns the response code.
async fn resolve_rc(node: &Node, handle: &str) -> ResponseCode {
    let mut header = wire::Header::request(OpCode::Resolution);
    header.flags = wire::OpFlags::PO;
    let envelope = wire::Envelope {
        version: wire::Version::V2_11,
        suggested: wire::Version::V2_11,
        request_id: 7,
        ..wire::Envelope::default()
    };
    let body = Body::Resolution(wire::ResolutionRequest {
        handle: handle.into(),
        indexes: vec![],
        types: vec![],
    });
    let mut stream = TcpStream::connect(node.native).await.unwrap();
    stream
        .write_all(&Message::new(envelope, header, body).to_bytes())
        .await
        .unwrap();
    let reply = read_tcp_message(&mut stream).await;
    wire::decode(&reply).unwrap().message.header.response_code
}

/// How many answers were compared.
static COMPARED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_captured_exchange_is_answered_like_the_reference() {
    let seed = load("seed.json");
    let node = start_seeded().await;
    let mut vectors: Vec<Value> = std::fs::read_dir(vectors_dir())
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            (name.ends_with(".json") && name != "seed.json").then(|| load(&name))
        })
        .collect();
    // Capture order (the requests' expiration times), so that state evolves as it did.
    vectors.sort_by_key(|v| {
        let bytes = hex::decode(v["messages"][0]["hex"].as_str().unwrap()).unwrap();
        let at = v["messages"][0]["body_offset"].as_u64().unwrap_or(0) as usize;
        wire::decode(&bytes[at..])
            .unwrap()
            .message
            .header
            .expiration
    });
    assert_eq!(vectors.len(), 36);
    let mut diffs = Vec::new();
    for vector in &vectors {
        diffs.extend(replay(&node, vector, &seed).await);
    }
    let _ = EXCEPTIONS;
    // Every server message but the UDP continuations and the one encrypted answer.
    let compared = COMPARED.load(std::sync::atomic::Ordering::Relaxed);
    assert!(compared == 56, "only {compared} answers compared");
    // Nothing was written by the rejected requests (wrong secret, not an administrator).
    for handle in ["88.118.8/vec-wrongpw", "88.118.8/vec-user1"] {
        assert_eq!(
            resolve_rc(&node, handle).await,
            ResponseCode::HandleNotFound,
            "{handle}"
        );
    }
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}
