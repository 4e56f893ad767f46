//! The native Handle protocol over real loopback sockets: REST and native views of the same
//! handles over UDP, TCP and the HTTP tunnel; rejected requests write nothing; the IDIS login;
//! Ed25519 and SM2 `HS_PUBKEY` answers; daily quotas; session replay rejection; challenge expiry;
//! pipelined TCP; answers from the answer cache equal to those of the full path; and the
//! protocol-reference behaviours for slashless handles, unreadable values and the login's
//! session id.

mod native_support;

use ed25519_dalek::Signer as _;
use idnode_certs::mac;
use idnode_proto::wire::{
    AuthResponse, Body, Credential, HS_MAC, HS_PUBKEY, KeyExchange, Message, OpFlags,
    ResolutionRequest, SessionSetupRequest, ValuesRequest, Version, signed_input,
};
use idnode_proto::{HandleValue, PublicKey, ResponseCode, ValueRef, Writer};
use native_support::*;
use rsa::BigUint;
use serde_json::json;

/// The public resolution flags of the reference client.
const CLIENT_FLAGS: OpFlags = OpFlags(OpFlags::REC.0 | OpFlags::CA.0 | OpFlags::PO.0);

/// Resolves `handle` over TCP (all values the anonymous caller may see) and returns the answer.
async fn resolve_tcp(node: &TestNode, handle: &str) -> Message {
    Tcp::connect(node)
        .await
        .call(&request(resolution(handle), CLIENT_FLAGS, 7, 0))
        .await
}

/// Whether `handle` exists, by a TCP resolution.
async fn exists(node: &TestNode, handle: &str) -> bool {
    match rc(&resolve_tcp(node, handle).await) {
        ResponseCode::Success => true,
        ResponseCode::HandleNotFound => false,
        other => panic!("resolving {handle}: RC {other:?}"),
    }
}

/// Creates `handle` over TCP as the administrator.
async fn create_native(node: &TestNode, handle: &str, values: Vec<HandleValue>) {
    let answer = Tcp::connect(node)
        .await
        .call_as(
            &request(create(handle, values), OpFlags::empty(), 1, 0),
            &admin(),
            ADMIN_SECRET.as_bytes(),
        )
        .await;
    assert_eq!(rc(&answer), ResponseCode::Success, "create {handle}");
}

/// Values without their timestamps (set by the server).
fn untimed(mut values: Vec<HandleValue>) -> Vec<HandleValue> {
    for v in &mut values {
        v.timestamp = 0;
    }
    values.sort_by_key(|v| v.index);
    values
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_and_native_views_of_a_handle_agree_both_ways() {
    let node = TestNode::start(|_| {}).await;
    // Created through REST, read natively over UDP, TCP and the HTTP tunnel.
    let body = json!({"values": [
        {"index": 1, "type": "URL", "data": {"format": "string", "value": "https://example.org/a"}},
        {"index": 2, "type": "EMAIL", "data": "safety@example.cn", "ttl": 3600},
        {"index": 100, "type": "HS_ADMIN", "data": {"format": "admin",
            "value": {"handle": ADMIN, "index": ADMIN_INDEX, "permissions": "011111111111"}}},
    ]});
    let auth = admin_basic();
    let (status, reply) = http(
        &node,
        "PUT",
        "/api/handles/88.118.8/from-rest?overwrite=false",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        body.to_string().as_bytes(),
    )
    .await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&reply));
    let (status, record) = rest_get(&node, "88.118.8/from-rest").await;
    assert_eq!(status, 200, "{record}");
    let from_rest = rest_values(&record);
    let query = request(resolution("88.118.8/from-rest"), CLIENT_FLAGS, 11, 0);
    let over_udp = values(&Udp::new(&node).await.call(&query).await);
    let over_tcp = values(&Tcp::connect(&node).await.call(&query).await);
    let over_http = values(&decode(&tunnel(&node, &query).await[0]));
    assert_eq!(over_udp, over_tcp);
    assert_eq!(over_udp, over_http);
    assert_eq!(over_udp, from_rest, "timestamps included");
    assert_eq!(untimed(over_udp).len(), 3);

    // Created natively, read through REST.
    let mut written = sample("https://example.org/b");
    written.push(with_permissions(
        url(3, "https://example.org/private"),
        0x0C,
    ));
    create_native(&node, "88.118.8/from-native", written.clone()).await;
    let (status, record) = rest_get(&node, "88.118.8/from-native").await;
    assert_eq!(status, 200, "{record}");
    let from_rest = rest_values(&record);
    assert_eq!(untimed(from_rest.clone()), untimed(written));
    let mut tcp = Tcp::connect(&node).await;
    let all = tcp
        .call_as(
            &request(resolution("88.118.8/from-native"), OpFlags::empty(), 20, 0),
            &admin(),
            ADMIN_SECRET.as_bytes(),
        )
        .await;
    assert_eq!(values(&all), from_rest, "timestamps included");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_requests_write_nothing() {
    let node = TestNode::start(|_| {}).await;
    let secret = ADMIN_SECRET.as_bytes();
    let mut tcp = Tcp::connect(&node).await;

    // A wrong secret: RC 403.
    let answer = tcp
        .call_as(
            &request(
                create("88.118.8/wrong-secret", sample("x")),
                OpFlags::empty(),
                1,
                0,
            ),
            &admin(),
            b"not-the-secret",
        )
        .await;
    assert_eq!(rc(&answer), ResponseCode::AuthenticationFailed);
    assert!(!exists(&node, "88.118.8/wrong-secret").await);

    // An identity without rights on the prefix.
    let user = ValueRef {
        handle: "88.118.8/USER".into(),
        index: 300,
    };
    create_native(
        &node,
        "88.118.8/USER",
        vec![
            admin_value(100, &user),
            with_permissions(
                HandleValue::new(300, "HS_SECKEY", b"user-secret".to_vec()),
                0x0C,
            ),
        ],
    )
    .await;
    let answer = tcp
        .call_as(
            &request(
                create("88.118.8/by-user", sample("x")),
                OpFlags::empty(),
                3,
                0,
            ),
            &user,
            b"user-secret",
        )
        .await;
    assert!(
        matches!(
            rc(&answer),
            ResponseCode::InvalidAdmin | ResponseCode::InsufficientPermissions
        ),
        "{:?}",
        answer.header
    );
    assert!(!exists(&node, "88.118.8/by-user").await);

    // A write over UDP: refused before any challenge.
    let answer = Udp::new(&node)
        .await
        .call(&request(
            create("88.118.8/over-udp", sample("x")),
            OpFlags::empty(),
            5,
            0,
        ))
        .await;
    assert_eq!(rc(&answer), ResponseCode::ProtocolError);
    assert!(!exists(&node, "88.118.8/over-udp").await);

    // A create of an existing handle without OVRW: RC 101 before any challenge, and the
    // stored values stay.
    create_native(
        &node,
        "88.118.8/kept",
        sample("https://example.org/original"),
    )
    .await;
    let before = values(&resolve_tcp(&node, "88.118.8/kept").await);
    let answer = tcp
        .call(&request(
            create("88.118.8/kept", sample("https://example.org/replaced")),
            OpFlags::empty(),
            7,
            0,
        ))
        .await;
    assert_eq!(rc(&answer), ResponseCode::HandleAlreadyExists);
    // A modify of a read-only value: RC 401 before any challenge.
    let read_only = "88.118.8/read-only";
    create_native(
        &node,
        read_only,
        vec![
            admin_value(100, &admin()),
            with_permissions(url(1, "https://example.org/fixed"), 0x0A),
        ],
    )
    .await;
    let answer = tcp
        .call(&request(
            Body::ModifyValue(ValuesRequest {
                handle: read_only.into(),
                values: vec![url(1, "https://example.org/changed")],
            }),
            OpFlags::empty(),
            9,
            0,
        ))
        .await;
    assert_eq!(rc(&answer), ResponseCode::InsufficientPermissions);
    assert_eq!(values(&resolve_tcp(&node, "88.118.8/kept").await), before);
    let fixed = values(&resolve_tcp(&node, read_only).await);
    assert!(fixed.iter().any(|v| v.data == b"https://example.org/fixed"));

    // A challenge answered twice runs its request once; the second answer finds nothing.
    let create_once = request(
        create("88.118.8/once", sample("x")),
        OpFlags::empty(),
        11,
        0,
    );
    let challenge = tcp.call(&create_once).await;
    let answer = seckey_answer(&challenge, &admin(), secret, OpFlags::empty(), 12);
    assert_eq!(rc(&tcp.call(&answer).await), ResponseCode::Success);
    assert_eq!(rc(&tcp.call(&answer).await), ResponseCode::AuthenTimeout);

    // A malformed message: RC 4, and the connection is still usable.
    let mut garbled = request(
        create("88.118.8/garbled", sample("x")),
        OpFlags::empty(),
        13,
        0,
    )
    .to_bytes();
    let at = garbled.len() - 10;
    garbled[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    tcp.send_bytes(&garbled).await;
    assert_eq!(rc(&tcp.read().await), ResponseCode::ProtocolError);
    assert!(!exists(&node, "88.118.8/garbled").await);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_challenge_is_rc_405_and_writes_nothing() {
    let node = TestNode::start(|c| c.native.challenge_timeout_secs = 0).await;
    let answer = Tcp::connect(&node)
        .await
        .call_as(
            &request(create("88.118.8/late", sample("x")), OpFlags::empty(), 1, 0),
            &admin(),
            ADMIN_SECRET.as_bytes(),
        )
        .await;
    assert_eq!(rc(&answer), ResponseCode::AuthenTimeout);
    assert!(!exists(&node, "88.118.8/late").await);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idis_login_authenticates_later_writes_on_its_connection() {
    let node = TestNode::start(|_| {}).await;
    let mut tcp = Tcp::connect(&node).await;
    let login = request(Body::Login { identity: admin() }, OpFlags::RD, 1, 0);
    let challenge = tcp.call(&login).await;
    assert_eq!(rc(&challenge), ResponseCode::AuthenticationNeeded);
    let session = challenge.envelope.session_id;
    assert_ne!(session, 0);
    let answer = seckey_answer(
        &challenge,
        &admin(),
        ADMIN_SECRET.as_bytes(),
        OpFlags::RD,
        2,
    );
    assert_eq!(rc(&tcp.call(&answer).await), ResponseCode::Success);

    // Later writes need no challenge, with session id 0 or the login's session id.
    for (i, session_id) in [(3u32, 0u32), (4, session)] {
        let handle = format!("88.118.8/after-login-{i}");
        let answer = tcp
            .call(&request(
                create(&handle, sample("x")),
                OpFlags::empty(),
                i,
                session_id,
            ))
            .await;
        assert_eq!(
            rc(&answer),
            ResponseCode::Success,
            "session id {session_id}"
        );
        assert_eq!(answer.envelope.session_id, session_id);
        assert!(exists(&node, &handle).await);
    }
    // A second login on the connection is RC 407; another connection is not logged in.
    let again = tcp
        .call(&request(
            Body::Login { identity: admin() },
            OpFlags::RD,
            5,
            0,
        ))
        .await;
    assert_eq!(rc(&again), ResponseCode::Relogin);
    let other = Tcp::connect(&node)
        .await
        .call(&request(
            create("88.118.8/other-connection", sample("x")),
            OpFlags::empty(),
            6,
            0,
        ))
        .await;
    assert_eq!(rc(&other), ResponseCode::AuthenticationNeeded);
    // The login's session id is not accepted on another connection.
    let foreign = Tcp::connect(&node)
        .await
        .call(&request(
            resolution("88.118.8/after-login-3"),
            CLIENT_FLAGS,
            7,
            session,
        ))
        .await;
    assert_eq!(rc(&foreign), ResponseCode::SessionTimeout);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ed25519_pubkey_answers_authenticate() {
    let node = TestNode::start(|_| {}).await;
    let signing = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    let identity = ValueRef {
        handle: "88.118.8/ED".into(),
        index: 300,
    };
    let key = PublicKey::Ed25519(signing.verifying_key().to_bytes());
    create_native(
        &node,
        "88.118.8/ED",
        vec![
            admin_value(100, &identity),
            HandleValue::new(300, "HS_PUBKEY", key.to_bytes()),
            url(1, "https://example.org/ed"),
        ],
    )
    .await;
    let mut tcp = Tcp::connect(&node).await;
    let add = |index: u32, request_id: u32| {
        request(
            Body::AddValue(ValuesRequest {
                handle: "88.118.8/ED".into(),
                values: vec![url(index, "https://example.org/added")],
            }),
            OpFlags::empty(),
            request_id,
            0,
        )
    };
    let challenge = tcp.call(&add(2, 1)).await;
    let signature = signing.sign(&challenge_input(&challenge)).to_bytes();
    let response = AuthResponse::Signature {
        hash_alg: "Ed25519",
        signature: &signature,
    }
    .to_bytes();
    let answer = answer_with(
        &challenge,
        &identity,
        HS_PUBKEY,
        response,
        OpFlags::empty(),
        2,
    );
    assert_eq!(rc(&tcp.call(&answer).await), ResponseCode::Success);

    // A signature over anything else is RC 403 and adds nothing.
    let challenge = tcp.call(&add(3, 3)).await;
    let wrong = signing.sign(b"something else").to_bytes();
    let response = AuthResponse::Signature {
        hash_alg: "Ed25519",
        signature: &wrong,
    }
    .to_bytes();
    let answer = answer_with(
        &challenge,
        &identity,
        HS_PUBKEY,
        response,
        OpFlags::empty(),
        4,
    );
    assert_eq!(
        rc(&tcp.call(&answer).await),
        ResponseCode::AuthenticationFailed
    );
    let indexes: Vec<u32> = values(&resolve_tcp(&node, "88.118.8/ED").await)
        .iter()
        .map(|v| v.index)
        .collect();
    assert!(indexes.contains(&2) && !indexes.contains(&3), "{indexes:?}");
    node.stop().await;
}

/// An SM2 identity as IDIS clients hold one: the key stored as the SDK writes it
/// (`SM2_PUB_KEY` with the PEM text), the challenge answered with hash `SM3` and an SM2
/// signature of `SM3(nonce ‖ digest)` under the identity's handle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sm2_pubkey_answers_authenticate() {
    let node = TestNode::start(|_| {}).await;
    let key = idnode_certs::sm2::Sm2Key::from_scalar(&[7; 32]).unwrap();
    let identity = ValueRef {
        handle: "88.118.8/SM2USER".into(),
        index: 300,
    };
    create_native(
        &node,
        "88.118.8/SM2USER",
        vec![
            admin_value(100, &identity),
            HandleValue::new(300, "HS_PUBKEY", key.public_key().to_bytes()),
            url(1, "https://example.org/sm2"),
        ],
    )
    .await;
    let mut tcp = Tcp::connect(&node).await;
    let add = |index: u32, request_id: u32| {
        request(
            Body::AddValue(ValuesRequest {
                handle: "88.118.8/SM2USER".into(),
                values: vec![url(index, "https://example.org/added")],
            }),
            OpFlags::empty(),
            request_id,
            0,
        )
    };
    let answer = |challenge: &Message, signer: &str, request_id: u32| {
        let signature = key
            .answer_challenge(signer, &challenge_input(challenge))
            .unwrap();
        let response = AuthResponse::Signature {
            hash_alg: "SM3",
            signature: &signature,
        }
        .to_bytes();
        answer_with(
            challenge,
            &identity,
            HS_PUBKEY,
            response,
            OpFlags::empty(),
            request_id,
        )
    };
    let challenge = tcp.call(&add(2, 1)).await;
    assert_eq!(
        rc(&tcp.call(&answer(&challenge, "88.118.8/SM2USER", 2)).await),
        ResponseCode::Success
    );
    // Signed under another distinguishing identifier (the standard's default): RC 403.
    let challenge = tcp.call(&add(3, 3)).await;
    assert_eq!(
        rc(&tcp
            .call(&answer(&challenge, idnode_certs::sm2::DEFAULT_DISTID, 4))
            .await),
        ResponseCode::AuthenticationFailed
    );
    let indexes: Vec<u32> = values(&resolve_tcp(&node, "88.118.8/SM2USER").await)
        .iter()
        .map(|v| v.index)
        .collect();
    assert!(indexes.contains(&2) && !indexes.contains(&3), "{indexes:?}");
    node.stop().await;
}

/// With `[native] site_key = "sm2"`, certified answers are signed with the SM2 site key that
/// the node made on first start, labelled `SM3`, and verify with its public key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certified_answers_are_signed_with_an_sm2_site_key() {
    let node = TestNode::start(|c| c.native.site_key = idnode::native::SiteKeyKind::Sm2).await;
    let pem = std::fs::read(node.data.join("keys/native-sm2.pem")).unwrap();
    let site = idnode_certs::sm2::Sm2Key::from_pkcs8(&pem)
        .unwrap()
        .public_key();
    let answer = Tcp::connect(&node)
        .await
        .call(&request(
            resolution("88.118.8/ADMIN"),
            CLIENT_FLAGS | OpFlags::CT,
            1,
            0,
        ))
        .await;
    assert_eq!(rc(&answer), ResponseCode::Success);
    let credential = answer.credential.clone().expect("a certified answer");
    assert_eq!(credential.credential_type, "HS_SIGNED");
    assert_eq!(credential.digest_alg, b"SM3");
    let mut unsigned = answer.clone();
    unsigned.credential = None;
    let mut payload = Vec::new();
    unsigned.encode_payload(&mut payload);
    let input = signed_input(&answer.envelope, 0, &payload[..payload.len() - 4]);
    let default = idnode_certs::sm2::DEFAULT_DISTID;
    assert!(idnode_certs::proof::signature_matches(
        &site,
        default,
        "SM3",
        &input,
        &credential.signature
    ));
    let mut tampered = input.clone();
    *tampered.last_mut().unwrap() ^= 1;
    assert!(!idnode_certs::proof::signature_matches(
        &site,
        default,
        "SM3",
        &tampered,
        &credential.signature
    ));
    node.stop().await;
}

/// `idnode init` stored the site information of its configuration (here port 0, since the
/// test binds ephemeral ports); on start the node publishes what it actually serves on its
/// prefix handle, with the serial number raised, and the value resolves as the native
/// `GET_SITE_INFO` answer does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prefix_handle_carries_the_site_information_served() {
    let node = TestNode::start(|_| {}).await;
    let values = values(&resolve_tcp(&node, "0.NA/88.118.8").await);
    let site = values
        .iter()
        .find(|v| v.index == idnode_resolver::SITE_INDEX && v.value_type == "HS_SITE")
        .expect("the node's HS_SITE");
    let site = idnode_proto::SiteInfo::from_bytes(&site.data).unwrap();
    assert_eq!(site.serial_number, 2, "{site:?}");
    let ports: Vec<(idnode_proto::Protocol, u32)> = site.servers[0]
        .interfaces
        .iter()
        .map(|i| (i.protocol, i.port))
        .collect();
    let native = u32::from(node.native.port());
    assert!(
        ports.contains(&(idnode_proto::Protocol::Tcp, native)),
        "{ports:?}"
    );
    assert!(
        ports.contains(&(idnode_proto::Protocol::Udp, native)),
        "{ports:?}"
    );
    let http = (idnode_proto::Protocol::Http, u32::from(node.http.port()));
    assert!(ports.contains(&http), "{ports:?}");
    node.stop().await;
}

/// A prefix handle that is not stored, under a stored ancestor carrying `HS_SITE.PREFIX`, is
/// answered with a prefix referral (RC 303) holding that ancestor's public delegation values,
/// natively and over REST; with DNRF (`doNotRefer`) it is RC 100, as at the reference server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unstored_prefix_handles_are_referred_down_the_chain() {
    let node = TestNode::start(|_| {}).await;
    let site = |port: u32| {
        idnode_proto::SiteInfo {
            data_version: 1,
            protocol_version: (2, 11),
            serial_number: 1,
            primary: true,
            multi_primary: false,
            hash_option: 2,
            hash_filter: String::new(),
            attributes: Vec::new(),
            servers: vec![idnode_proto::ServerInfo {
                server_id: 1,
                address: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 192, 0, 2, 7],
                public_key: Vec::new(),
                interfaces: vec![idnode_proto::Interface {
                    query: true,
                    admin: true,
                    protocol: idnode_proto::Protocol::Tcp,
                    port,
                }],
            }],
        }
        .to_bytes()
    };
    let delegated = HandleValue::new(2, "HS_SITE.PREFIX", site(2641));
    let mut private = HandleValue::new(3, "HS_NA_DELEGATE", site(2642));
    private.permissions.0 &= !idnode_proto::Permissions::PUBLIC_READ;
    create_native(
        &node,
        "0.NA/88.118.8.5",
        vec![admin_value(100, &admin()), delegated.clone(), private],
    )
    .await;
    let query = |flags: OpFlags| request(resolution("0.NA/88.118.8.5.1"), flags, 3, 0);
    for answer in [
        Tcp::connect(&node).await.call(&query(CLIENT_FLAGS)).await,
        Udp::new(&node).await.call(&query(CLIENT_FLAGS)).await,
    ] {
        assert_eq!(rc(&answer), ResponseCode::PrefixReferral);
        let Body::Referral(referral) = &answer.body else {
            panic!("not a referral: {:?}", answer.body)
        };
        assert_eq!(referral.handle, "");
        let values = referral.values.as_ref().expect("the delegation values");
        assert_eq!(untimed(values.clone()), untimed(vec![delegated.clone()]));
    }
    let refused = Tcp::connect(&node)
        .await
        .call(&query(CLIENT_FLAGS | OpFlags::DNRF))
        .await;
    assert_eq!(rc(&refused), ResponseCode::HandleNotFound);
    // A stored prefix handle and an ordinary handle are not referred.
    assert_eq!(
        rc(&resolve_tcp(&node, "0.NA/88.118.8.5").await),
        ResponseCode::Success
    );
    assert_eq!(
        rc(&resolve_tcp(&node, "88.118.8.5/missing").await),
        ResponseCode::HandleNotFound
    );

    // Over REST anonymously: the private delegation value is left out there too.
    let (status, body) = http(&node, "GET", "/api/handles/0.NA/88.118.8.5.1", &[], b"").await;
    assert_eq!(status, 300, "{}", String::from_utf8_lossy(&body));
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["responseCode"], 303);
    assert!(body.get("referralHandle").is_none(), "{body}");
    assert_eq!(body["values"].as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(body["values"][0]["type"], "HS_SITE.PREFIX");
    let (status, _) = http(
        &node,
        "GET",
        "/api/handles/0.NA/88.118.8.5.1?doNotRefer=true",
        &[],
        b"",
    )
    .await;
    assert_eq!(status, 404);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_quotas_answer_rc_604_and_603() {
    let node = TestNode::start(|c| {
        c.native.daily_request_quota = 3;
        c.native.daily_registration_quota = 1;
    })
    .await;
    let secret = ADMIN_SECRET.as_bytes();
    let mut tcp = Tcp::connect(&node).await;
    let mut next_id = 0u32;
    let mut call = async |tcp: &mut Tcp, body: Body| {
        next_id += 2;
        tcp.call_as(
            &request(body, OpFlags::empty(), next_id, 0),
            &admin(),
            secret,
        )
        .await
    };
    let created = call(&mut tcp, create("88.118.8/quota-1", sample("x"))).await;
    assert_eq!(rc(&created), ResponseCode::Success);
    let refused = call(&mut tcp, create("88.118.8/quota-2", sample("x"))).await;
    assert_eq!(rc(&refused), ResponseCode::RegisterCountLimit);
    assert!(!exists(&node, "88.118.8/quota-2").await);
    let add = |index: u32| {
        Body::AddValue(ValuesRequest {
            handle: "88.118.8/quota-1".into(),
            values: vec![url(index, "https://example.org/more")],
        })
    };
    assert_eq!(rc(&call(&mut tcp, add(2)).await), ResponseCode::Success);
    assert_eq!(rc(&call(&mut tcp, add(3)).await), ResponseCode::Success);
    let refused = call(&mut tcp, add(4)).await;
    assert_eq!(rc(&refused), ResponseCode::RequestLimitDaily);
    let indexes: Vec<u32> = values(&resolve_tcp(&node, "88.118.8/quota-1").await)
        .iter()
        .map(|v| v.index)
        .collect();
    assert!(!indexes.contains(&4), "{indexes:?}");
    node.stop().await;
}

/// The 1024-bit MODP group of RFC 2409 (Oakley group 2).
const MODP_1024: &str = "ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74020bbea63b139b22514a08798e3404ddef9519b3cd3a431b302b0a6df25f14374fe1356d6d51c245e485b576625e7ec6f44c42e9a637ed6b0bff5cb6f406b7edee386bfb5a899fa5ae9f24117c4b1fe649286651ece65381ffffffffffffffff";

/// A message with an `HS_MAC` credential of `counter` under `key`.
fn with_mac(mut message: Message, key: &[u8], counter: u32) -> Message {
    message.credential = None;
    let mut payload = Vec::new();
    message.encode_payload(&mut payload);
    let header_body = &payload[..payload.len() - 4];
    let signature = mac::hmac_sha256(key, &signed_input(&message.envelope, counter, header_body));
    message.credential = Some(Credential {
        version: 0,
        reserved: 0,
        flags: 0,
        signer: ValueRef {
            handle: String::new(),
            index: counter,
        },
        credential_type: HS_MAC.into(),
        digest_alg: b"HMAC-SHA256".to_vec(),
        signature: signature.to_vec(),
    });
    message
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_session_counter_is_rc_505() {
    let node = TestNode::start(|_| {}).await;
    create_native(&node, "88.118.8/in-session", sample("x")).await;
    let p = BigUint::parse_bytes(MODP_1024.as_bytes(), 16).unwrap();
    let g = BigUint::from(2u32);
    let x = BigUint::from_bytes_be(&[0x5a; 40]);
    let y = g.modpow(&x, &p);
    let java = |n: &BigUint| {
        let mut bytes = n.to_bytes_be();
        if bytes[0] & 0x80 != 0 {
            bytes.insert(0, 0);
        }
        bytes
    };
    let mut public = Vec::new();
    let mut w = Writer::new(&mut public);
    w.str("DH_PUB_KEY");
    w.u16(0);
    w.bytes(&java(&y));
    w.bytes(&java(&p));
    w.bytes(&java(&g));
    let mut tcp = Tcp::connect(&node).await;
    let setup = tcp
        .call(&request(
            Body::SessionSetup(SessionSetupRequest {
                timeout: 600,
                identity: admin(),
                exchange: KeyExchange::DiffieHellman(public),
            }),
            OpFlags::empty(),
            1,
            0,
        ))
        .await;
    assert_eq!(rc(&setup), ResponseCode::Success);
    let Body::SessionSetupResult(result) = &setup.body else {
        panic!("{:?}", setup.body);
    };
    let mut r = idnode_proto::Reader::new(&result.data[4..]);
    r.str("type").unwrap();
    r.u16("flags").unwrap();
    let server_y = BigUint::from_bytes_be(r.bytes("y").unwrap());
    let shared = server_y.modpow(&x, &p);
    let key = idnode::native::session::session_key_from_secret(&shared.to_bytes_be(), 128);
    let session = setup.envelope.session_id;

    let query = |request_id: u32| {
        request(
            resolution("88.118.8/in-session"),
            CLIENT_FLAGS,
            request_id,
            session,
        )
    };
    let first = tcp.call(&with_mac(query(2), &key, 1)).await;
    assert_eq!(rc(&first), ResponseCode::Success);
    let second = tcp.call(&with_mac(query(3), &key, 2)).await;
    assert_eq!(rc(&second), ResponseCode::Success);
    let replayed = tcp.call(&with_mac(query(4), &key, 1)).await;
    assert_eq!(rc(&replayed), ResponseCode::SessionMessageRejected);
    let wrong_key = tcp.call(&with_mac(query(5), &[9; 32], 3)).await;
    assert_eq!(rc(&wrong_key), ResponseCode::InvalidSessionKey);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_tcp_requests_are_answered_in_order() {
    let node = TestNode::start(|_| {}).await;
    create_native(&node, "88.118.8/piped", sample("https://example.org/p")).await;
    let mut requests = Vec::new();
    for i in 0..12u32 {
        let body = match i % 4 {
            0 | 1 => resolution("88.118.8/piped"),
            2 => resolution("88.118.8/no-such-handle"),
            _ => create(&format!("88.118.8/piped-{i}"), sample("x")),
        };
        requests.push(request(body, CLIENT_FLAGS, 100 + i, 0));
    }
    let all: Vec<u8> = requests.iter().flat_map(Message::to_bytes).collect();
    let mut tcp = Tcp::connect(&node).await;
    tcp.send_bytes(&all).await;
    for (i, sent) in requests.iter().enumerate() {
        let answer = tcp.read().await;
        assert_eq!(answer.envelope.request_id, sent.envelope.request_id);
        let expected = match i % 4 {
            0 | 1 => ResponseCode::Success,
            2 => ResponseCode::HandleNotFound,
            _ => ResponseCode::AuthenticationNeeded,
        };
        assert_eq!(rc(&answer), expected, "answer {i}");
    }
    node.stop().await;
}

/// Request variants whose answers the cache serves: versions, flags, recursion counts.
fn cacheable_variants(handle: &str) -> Vec<Message> {
    let mut out = Vec::new();
    let versions = [
        (Version::V2_1, Version::default()),
        (Version::V2_5, Version::default()),
        (Version::V2_7, Version::V2_7),
        (Version::V2_10, Version::V2_11),
        (Version::V2_11, Version::V2_11),
        (Version::new(2, 12), Version::new(2, 12)),
    ];
    let flags = [
        OpFlags::empty(),
        CLIENT_FLAGS,
        OpFlags::PO,
        OpFlags(OpFlags::KA.0 | OpFlags::AT.0 | OpFlags::OVRW.0),
    ];
    for (i, (version, suggested)) in versions.into_iter().enumerate() {
        for (j, flags) in flags.into_iter().enumerate() {
            let mut message = request(resolution(handle), flags, (i * 10 + j) as u32, 0);
            message.envelope.version = version;
            message.envelope.suggested = suggested;
            message.header.recursion_count = j as u8;
            message.header.expiration = 1_000 + i as u32;
            out.push(message);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_answers_equal_full_path_answers_and_follow_writes() {
    let node = TestNode::start(|_| {}).await;
    let handle = "88.118.8/cached";
    create_native(&node, handle, sample("https://example.org/v0")).await;
    let mut writer = Tcp::connect(&node).await;
    let login = writer
        .call(&request(
            Body::Login { identity: admin() },
            OpFlags::RD,
            1,
            0,
        ))
        .await;
    let answer = seckey_answer(&login, &admin(), ADMIN_SECRET.as_bytes(), OpFlags::RD, 2);
    assert_eq!(rc(&writer.call(&answer).await), ResponseCode::Success);
    let mut udp = Udp::new(&node).await;
    let mut tcp = Tcp::connect(&node).await;
    for (n, variant) in cacheable_variants(handle).into_iter().enumerate() {
        // A write drops the cached answers of the handle; the next answer takes the full path
        // and fills the cache, and the one after is served from it.
        let text = format!("https://example.org/v{}", n + 1);
        let modified = writer
            .call(&request(
                Body::ModifyValue(ValuesRequest {
                    handle: handle.into(),
                    values: vec![url(1, &text)],
                }),
                OpFlags::empty(),
                1000 + n as u32,
                0,
            ))
            .await;
        assert_eq!(rc(&modified), ResponseCode::Success);
        let bytes = variant.to_bytes();
        let tcp_side = n % 2 == 1;
        let mut answers = Vec::new();
        for _ in 0..2 {
            if tcp_side {
                tcp.send_bytes(&bytes).await;
                answers.push(tcp.read_bytes().await.expect("a TCP answer"));
            } else {
                udp.send(&variant).await;
                answers.push(udp.recv_within(PATIENCE).await.expect("a UDP answer"));
            }
        }
        assert_eq!(
            answers[0], answers[1],
            "variant {n} ({:?}, {:?})",
            variant.envelope, variant.header
        );
        let message = decode(&answers[1]);
        assert_eq!(rc(&message), ResponseCode::Success);
        assert!(
            values(&message).iter().any(|v| v.data == text.as_bytes()),
            "variant {n} sees the write"
        );
    }
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_behaviours_slashless_handles_and_unreadable_values() {
    // Whole answers over UDP from a fresh source, to compare with TCP; the amplification
    // limit that would truncate them is tested in native_udp_policy.rs.
    let node = TestNode::start(|c| c.native.udp_max_amplification = 0).await;
    // A handle without '/' names its prefix handle, over UDP and TCP, and the answer echoes
    // the request's spelling.
    for spelling in ["0.NA/88.118.8", "88.118.8"] {
        let query = request(resolution(spelling), CLIENT_FLAGS, 1, 0);
        for answer in [
            Udp::new(&node).await.call(&query).await,
            Tcp::connect(&node).await.call(&query).await,
        ] {
            assert_eq!(rc(&answer), ResponseCode::Success, "{spelling}");
            let Body::Resolved(resolved) = &answer.body else {
                panic!("{:?}", answer.body);
            };
            assert_eq!(resolved.handle, spelling);
            assert!(resolved.values.iter().any(|v| v.value_type == "HS_ADMIN"));
        }
    }
    // A value nobody may read: RC 401 without PO (no challenge), left out with PO; a value
    // administrators may read is challenged.
    let handle = "88.118.8/unreadable";
    create_native(
        &node,
        handle,
        vec![
            admin_value(100, &admin()),
            url(1, "https://example.org/open"),
            with_permissions(url(2, "https://example.org/hidden"), 0),
            with_permissions(url(3, "https://example.org/admins"), 0x0C),
        ],
    )
    .await;
    let mut tcp = Tcp::connect(&node).await;
    let flags = OpFlags(OpFlags::REC.0 | OpFlags::CA.0);
    let all = tcp.call(&request(resolution(handle), flags, 2, 0)).await;
    assert_eq!(rc(&all), ResponseCode::InsufficientPermissions);
    let public = tcp
        .call(&request(resolution(handle), CLIENT_FLAGS, 3, 0))
        .await;
    let indexes: Vec<u32> = values(&public).iter().map(|v| v.index).collect();
    assert_eq!(indexes, [100, 1]);
    let admins_only = tcp
        .call(&request(
            Body::Resolution(ResolutionRequest {
                handle: handle.into(),
                indexes: vec![3],
                types: vec![],
            }),
            flags,
            4,
            0,
        ))
        .await;
    assert_eq!(rc(&admins_only), ResponseCode::AuthenticationNeeded);
    node.stop().await;
}
