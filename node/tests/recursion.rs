//! Recursive resolution across a hierarchy on loopback: a top-level node delegating `88.118`
//! and `88.119` to two secondaries, each a real node with real sockets. A client of secondary
//! `88.118` resolves `88.119`'s identifiers through it, over UDP, TCP and HTTP.

mod native_support;

use std::net::SocketAddr;

use idnode::cli::delegate::{self, IdentityKey};
use idnode::config::Role;
use idnode::config::native::Listen;
use idnode_proto::wire::{Body, OpFlags};
use idnode_proto::{HandleValue, ResponseCode, ValueRef, types};
use native_support::{
    ADMIN_SECRET, Tcp, TestNode, Udp, admin_value, create, decode, free_port, http, rc, request,
    resolution, site_of, url, values,
};

fn admin_of(prefix: &str) -> ValueRef {
    ValueRef {
        handle: format!("{prefix}/ADMIN"),
        index: 300,
    }
}

/// Creates `handle` at `node` over native TCP as the administrator of `prefix`.
async fn create_at(node: &TestNode, prefix: &str, handle: &str, mut extra: Vec<HandleValue>) {
    let admin = admin_of(prefix);
    let mut values = vec![admin_value(100, &admin)];
    values.append(&mut extra);
    let mut tcp = Tcp::connect(node).await;
    let answer = tcp
        .call_as(
            &request(create(handle, values), OpFlags::empty(), 7, 0),
            &admin,
            ADMIN_SECRET.as_bytes(),
        )
        .await;
    assert_eq!(rc(&answer), ResponseCode::Success, "{:?}", answer.body);
}

struct Hierarchy {
    top: TestNode,
    a: TestNode,
    b: TestNode,
}

/// The top-level node homes `88` and delegates `88.118` to `a` and `88.119` to `b`; `b`
/// holds `88.119/chem-1` and the enterprise prefix `88.119.5` with `88.119.5/drum-1`.
async fn hierarchy(edit_a: impl FnOnce(&mut idnode::config::Config)) -> Hierarchy {
    let top_addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let a = TestNode::start_as("88.118", |c| {
        c.federation.top_level = vec![top_addr.to_string()];
        edit_a(c);
    })
    .await;
    let b = TestNode::start_as("88.119", |c| {
        c.federation.top_level = vec![top_addr.to_string()];
    })
    .await;
    let (site_a, site_b) = (site_of(&a).await, site_of(&b).await);
    let top = TestNode::start_prepared(
        "88",
        |c| {
            c.federation.role = Role::TopLevel;
            c.native.listen = Some(Listen(Some(top_addr)));
        },
        async move |config| {
            for (prefix, site) in [("88.118", site_a), ("88.119", site_b)] {
                let key = IdentityKey::Secret(format!("{prefix}-identity").into_bytes());
                delegate::run(config.clone(), prefix, site, key)
                    .await
                    .expect("idnode delegate");
            }
        },
    )
    .await;
    create_at(
        &b,
        "88.119",
        "88.119/chem-1",
        vec![url(1, "https://b.example/chem-1")],
    )
    .await;
    let site_b = site_of(&b).await.to_bytes();
    create_at(
        &b,
        "88.119",
        "0.NA/88.119.5",
        vec![HandleValue::new(1, types::HS_SITE, site_b)],
    )
    .await;
    create_at(
        &b,
        "88.119",
        "88.119.5/drum-1",
        vec![url(1, "https://b.example/drum-1")],
    )
    .await;
    Hierarchy { top, a, b }
}

fn rec() -> OpFlags {
    OpFlags::REC.with(OpFlags::PO)
}

fn url_of(message: &idnode_proto::wire::Message) -> String {
    let values = values(message);
    let url = values
        .iter()
        .find(|v| v.value_type == "URL")
        .expect("a URL");
    String::from_utf8(url.data.clone()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secondary_resolves_another_secondarys_identifiers_over_every_interface() {
    let h = hierarchy(|_| {}).await;
    // UDP and TCP, with REC.
    let mut udp = Udp::new(&h.a).await;
    let answer = udp
        .call(&request(resolution("88.119/chem-1"), rec(), 1, 0))
        .await;
    assert_eq!(rc(&answer), ResponseCode::Success, "{:?}", answer.body);
    assert_eq!(url_of(&answer), "https://b.example/chem-1");
    let mut tcp = Tcp::connect(&h.a).await;
    let answer = tcp
        .call(&request(resolution("88.119/chem-1"), rec(), 2, 0))
        .await;
    assert_eq!(url_of(&answer), "https://b.example/chem-1");
    // An enterprise prefix: the top-level refers `0.NA/88.119.5` down to b (RC 303).
    let answer = udp
        .call(&request(resolution("88.119.5/drum-1"), rec(), 3, 0))
        .await;
    assert_eq!(rc(&answer), ResponseCode::Success, "{:?}", answer.body);
    assert_eq!(url_of(&answer), "https://b.example/drum-1");
    // HTTP: a GET for a handle that lives elsewhere is resolved there.
    let (status, body) = http(&h.a, "GET", "/api/handles/88.119/chem-1", &[], b"").await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["handle"], "88.119/chem-1");
    assert_eq!(
        json["values"][1]["data"]["value"],
        "https://b.example/chem-1"
    );

    // What does not exist is passed on as the service answered it.
    let answer = udp
        .call(&request(resolution("88.119/missing"), rec(), 4, 0))
        .await;
    assert_eq!(rc(&answer), ResponseCode::HandleNotFound);
    let answer = udp
        .call(&request(resolution("88.120/x"), rec(), 5, 0))
        .await;
    assert_eq!(
        rc(&answer),
        ResponseCode::HandleNotFound,
        "{:?}",
        answer.body
    );
    let (status, _) = http(&h.a, "GET", "/api/handles/88.119/missing", &[], b"").await;
    assert_eq!(status, 404);

    // Without REC the node answers for itself: not its prefix.
    let answer = udp
        .call(&request(resolution("88.119/chem-1"), OpFlags::PO, 6, 0))
        .await;
    assert_eq!(rc(&answer), ResponseCode::ServerNotResponsible);

    // A certified recursive answer: b's signature was checked, and a signs its own answer.
    let answer = tcp
        .call(&request(
            resolution("88.119/chem-1"),
            rec().with(OpFlags::CT),
            7,
            0,
        ))
        .await;
    assert_eq!(rc(&answer), ResponseCode::Success, "{:?}", answer.body);
    assert!(answer.credential.is_some(), "a certified answer");

    // A request that has been through ten recursions is refused (RC 6).
    let mut looped = request(resolution("88.119/chem-1"), rec(), 8, 0);
    looped.header.recursion_count = 10;
    let answer = udp.call(&looped).await;
    assert_eq!(rc(&answer), ResponseCode::RecursionCountTooHigh);

    // The top-level node does not recurse: it refers.
    let mut top = Tcp::connect(&h.top).await;
    let answer = top
        .call(&request(resolution("88.119/chem-1"), rec(), 9, 0))
        .await;
    assert_eq!(rc(&answer), ResponseCode::ServiceReferral);
    for node in [h.a, h.b, h.top] {
        node.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_cached_and_an_unreachable_service_is_an_upstream_fault() {
    let h = hierarchy(|_| {}).await;
    let mut udp = Udp::new(&h.a).await;
    let answer = udp
        .call(&request(resolution("88.119/chem-1"), rec(), 1, 0))
        .await;
    assert_eq!(url_of(&answer), "https://b.example/chem-1");
    let (status, _) = http(&h.a, "GET", "/api/handles/88.119/chem-1", &[], b"").await;
    assert_eq!(status, 200);
    h.b.stop().await;
    // Cached per TTL: still answered with b gone, over UDP, TCP and HTTP.
    let answer = udp
        .call(&request(resolution("88.119/chem-1"), rec(), 2, 0))
        .await;
    assert_eq!(url_of(&answer), "https://b.example/chem-1");
    let mut tcp = Tcp::connect(&h.a).await;
    let answer = tcp
        .call(&request(resolution("88.119/chem-1"), rec(), 4, 0))
        .await;
    assert_eq!(url_of(&answer), "https://b.example/chem-1");
    let (status, body) = http(&h.a, "GET", "/api/handles/88.119/chem-1", &[], b"").await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    // A cached answer is still only for those who asked for recursion.
    let answer = udp
        .call(&request(resolution("88.119/chem-1"), OpFlags::PO, 5, 0))
        .await;
    assert_eq!(rc(&answer), ResponseCode::ServerNotResponsible);
    // Not cached: b cannot be reached. Natively RC 2 naming the upstream; over HTTP a
    // gateway's status.
    let answer = udp
        .call(&request(resolution("88.119/other"), rec(), 3, 0))
        .await;
    assert_eq!(rc(&answer), ResponseCode::Error);
    let Body::Error {
        message: Some(text),
    } = &answer.body
    else {
        panic!("{:?}", answer.body)
    };
    assert!(text.starts_with("upstream:"), "{text}");
    let (status, body) = http(&h.a, "GET", "/api/handles/88.119/other", &[], b"").await;
    assert_eq!(status, 504, "{}", String::from_utf8_lossy(&body));
    h.a.stop().await;
    h.top.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recursion_is_not_offered_to_other_sources() {
    let h = hierarchy(|c| c.federation.recursion_from = vec!["10.0.0.0/8".into()]).await;
    let mut udp = Udp::new(&h.a).await;
    let answer = udp
        .call(&request(resolution("88.119/chem-1"), rec(), 1, 0))
        .await;
    assert_eq!(rc(&answer), ResponseCode::ServerNotResponsible);
    let (status, body) = http(&h.a, "GET", "/api/handles/88.119/chem-1", &[], b"").await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    let _ = decode;
    for node in [h.a, h.b, h.top] {
        node.stop().await;
    }
}
