//! Concurrent writes to one handle through every pair of write interfaces (the handle.net REST
//! API, the SNMS API and the native protocol over TCP), over real sockets: no acknowledged
//! change is lost, and a removed `HS_ADMIN` grant never comes back. Quotas hold on REST and SNMS
//! as on the native protocol.
//!
//! Every write interface reaches the same resolver operations, each computed from the record as
//! it is when it commits, under the record's version precondition; these tests would fail if an
//! interface read the record and wrote it back outside that precondition.

use std::sync::Arc;
use std::time::Duration;

use idnode_proto::ResponseCode;
use idnode_proto::wire::{Body, OpFlags, RemoveValueRequest, ValuesRequest};
use serde_json::{Value, json};

mod native_support;

use native_support::*;

/// The handle every writer changes.
const RACED: &str = "88.118.8/race";
/// A second enterprise identity, granted `HS_ADMIN` on the raced handle and then removed.
const OTHER: &str = "88.118.8/OTHER";
const OTHER_SECRET: &str = "other-secret-pw";
/// Writers per interface in each trial.
const WRITERS: u32 = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Rest,
    Snms,
    Native,
}

fn basic(identity: &str, secret: &str) -> String {
    use base64::Engine as _;
    let user = identity.replace('%', "%25").replace(':', "%3A");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"))
    )
}

async fn json_call(node: &TestNode, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let auth = admin_basic();
    let bytes = body.to_string();
    let (status, reply) = http(
        node,
        method,
        path,
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        bytes.as_bytes(),
    )
    .await;
    (
        status,
        serde_json::from_slice(&reply).unwrap_or(Value::Null),
    )
}

/// The SNMS body of the raced product, named `name`.
fn product(name: &str) -> Value {
    json!({
        "handle": RACED,
        "templateVersion": "hazchem.product@1",
        "value": [
            {"index": 2000, "type": "productName", "data": {"format": "string", "value": name}},
            {"index": 2001, "type": "casNo", "data": {"format": "string", "value": "[\"67-64-1\"]"}},
            {"index": 2010, "type": "manufacturer", "data": {"format": "string", "value": "88.118.8/ADMIN"}},
        ],
    })
}

/// Creates the other identity and the raced handle, and grants the other identity `HS_ADMIN`
/// at index 101 of the raced handle.
async fn prepare(node: &TestNode) {
    let (status, body) = json_call(
        node,
        "PUT",
        &format!("/api/handles/{OTHER}"),
        &json!({"values": [{"index": 300, "type": "HS_SECKEY",
                            "data": {"format": "string", "value": OTHER_SECRET}}]}),
    )
    .await;
    assert!(status == 201 || status == 200, "{status} {body}");
    let (status, body) = json_call(node, "POST", "/identityv2/data", &product("丙酮")).await;
    assert_eq!((status, &body["status"]), (200, &json!(1)), "{body}");
    grant_other(node).await;
}

async fn grant_other(node: &TestNode) {
    let (status, body) = json_call(
        node,
        "PUT",
        &format!("/api/handles/{RACED}?index=101&overwrite=true"),
        &json!([{"index": 101, "type": "HS_ADMIN",
                 "data": {"format": "admin", "value": {"handle": OTHER, "index": 300,
                          "permissions": "011111110011"}}}]),
    )
    .await;
    assert!(status == 200 || status == 201, "{status} {body}");
}

/// One writer's change through `via`: REST and native writers add a value at their own
/// index, SNMS writers replace the template items. Returns the index added, if the change was
/// acknowledged.
async fn write(node: &TestNode, via: Via, writer: u32) -> Option<u32> {
    match via {
        Via::Rest => {
            let index = 500 + writer;
            let (status, _) = json_call(
                node,
                "PUT",
                &format!("/api/handles/{RACED}?index={index}"),
                &json!([{"index": index, "type": "URL",
                         "data": {"format": "string", "value": format!("https://example.org/r/{writer}")}}]),
            )
            .await;
            (status == 200 || status == 201).then_some(index)
        }
        Via::Native => {
            let index = 700 + writer;
            let message = request(
                Body::AddValue(ValuesRequest {
                    handle: RACED.into(),
                    values: vec![url(index, &format!("https://example.org/n/{writer}"))],
                }),
                OpFlags::empty(),
                2 + 2 * writer,
                0,
            );
            let mut tcp = Tcp::connect(node).await;
            let answer = tcp
                .call_as(&message, &admin(), ADMIN_SECRET.as_bytes())
                .await;
            (rc(&answer) == ResponseCode::Success).then_some(index)
        }
        Via::Snms => {
            let (status, body) = json_call(
                node,
                "PUT",
                "/identityv2/data",
                &product(&format!("丙酮{writer}")),
            )
            .await;
            // A writer that lost every retry to the others is told the node is busy; that
            // change was not acknowledged, and nothing of it may be in the record.
            assert!(
                body["status"] == 1
                    || body["message"] == "Too many concurrent changes to this handle",
                "{status} {body}"
            );
            None
        }
    }
}

/// Removes the other identity's grant through `via` (REST or native), and says whether the
/// removal was acknowledged; anything but success or "busy" fails the test.
async fn revoke_other(node: &TestNode, via: Via) -> bool {
    match via {
        Via::Native => {
            let message = request(
                Body::RemoveValue(RemoveValueRequest {
                    handle: RACED.into(),
                    indexes: vec![101],
                }),
                OpFlags::empty(),
                9000,
                0,
            );
            let mut tcp = Tcp::connect(node).await;
            let answer = tcp
                .call_as(&message, &admin(), ADMIN_SECRET.as_bytes())
                .await;
            assert!(
                matches!(
                    rc(&answer),
                    ResponseCode::Success | ResponseCode::ServerTooBusy
                ),
                "{answer:?}"
            );
            rc(&answer) == ResponseCode::Success
        }
        _ => {
            let auth = admin_basic();
            let (status, _) = http(
                node,
                "DELETE",
                &format!("/api/handles/{RACED}?index=101"),
                &[("Authorization", &auth)],
                b"",
            )
            .await;
            assert!(status == 200 || status == 503, "{status}");
            status == 200
        }
    }
}

/// Runs `WRITERS` writers through each of `a` and `b` at once, with a removal of the other
/// identity's grant in the middle, and checks the record afterwards.
async fn race(node: &Arc<TestNode>, a: Via, b: Via) {
    grant_other(node).await;
    let revoker = if a == Via::Snms { b } else { a };
    let mut tasks = tokio::task::JoinSet::new();
    for writer in 0..WRITERS {
        for via in [a, b] {
            let node = Arc::clone(node);
            tasks.spawn(async move { (via, write(&node, via, writer).await) });
        }
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    // A removal that lost every retry to the writers is answered "busy"; the client tries
    // again, as real clients do.
    let mut revoked = false;
    for _ in 0..50 {
        if revoke_other(node, revoker).await {
            revoked = true;
            break;
        }
    }
    assert!(
        revoked,
        "the removal of the grant was never acknowledged ({a:?}, {b:?})"
    );
    let mut acknowledged = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        if let (_, Some(index)) = joined.expect("writer task") {
            acknowledged.push(index);
        }
    }
    let (status, record) = rest_get(node, RACED).await;
    assert_eq!(status, 200, "{record}");
    let indexes: Vec<u32> = rest_values(&record).iter().map(|v| v.index).collect();
    for index in &acknowledged {
        assert!(
            indexes.contains(index),
            "the acknowledged value at index {index} was lost ({a:?} with {b:?}): {indexes:?}"
        );
    }
    assert!(
        !indexes.contains(&101),
        "the removed grant came back ({a:?} with {b:?}): {indexes:?}"
    );
    // The other identity may no longer write the handle.
    let auth = basic(&format!("300:{OTHER}"), OTHER_SECRET);
    let body = json!([{"index": 999, "type": "URL", "data": {"format": "string", "value": "x"}}]);
    let (status, _) = http(
        node,
        "PUT",
        &format!("/api/handles/{RACED}?index=999"),
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        body.to_string().as_bytes(),
    )
    .await;
    assert!(
        status == 400 || status == 403,
        "the revoked identity wrote the handle ({a:?} with {b:?}): {status}"
    );
    // Remove what this trial added, so the next trial starts from the same record.
    let added: Vec<String> = indexes
        .iter()
        .filter(|i| (500..1000).contains(*i))
        .map(|i| format!("index={i}"))
        .collect();
    if !added.is_empty() {
        let auth = admin_basic();
        let (status, _) = http(
            node,
            "DELETE",
            &format!("/api/handles/{RACED}?{}", added.join("&")),
            &[("Authorization", &auth)],
            b"",
        )
        .await;
        assert_eq!(status, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_acknowledged_write_is_lost_and_no_removed_grant_returns() {
    let node = Arc::new(TestNode::start(|_| {}).await);
    prepare(&node).await;
    for (a, b) in [
        (Via::Rest, Via::Snms),
        (Via::Native, Via::Snms),
        (Via::Rest, Via::Native),
        (Via::Snms, Via::Snms),
        (Via::Rest, Via::Rest),
        (Via::Native, Via::Native),
    ] {
        for _trial in 0..3 {
            race(&node, a, b).await;
        }
    }
    // The SNMS writers' last update is what the template items say: one of theirs, intact.
    let (_, record) = rest_get(&node, RACED).await;
    let values = rest_values(&record);
    let name = values
        .iter()
        .find(|v| v.index == 2000)
        .expect("a product name");
    assert!(
        String::from_utf8_lossy(&name.data).starts_with("丙酮"),
        "{name:?}"
    );
    assert!(values.iter().any(|v| v.index == 2010), "{values:?}");
    let Ok(node) = Arc::try_unwrap(node) else {
        panic!("a writer still holds the node");
    };
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_hold_on_rest_and_snms() {
    let node = TestNode::start(|c| {
        c.limits.daily_request_quota = 4;
        c.limits.daily_registration_quota = 2;
    })
    .await;
    // REST: two registrations, then RC 604 as HTTP 429.
    for (n, expected) in [(1, 201), (2, 201), (3, 429)] {
        let (status, body) = json_call(
            &node,
            "PUT",
            &format!("/api/handles/88.118.8/q-{n}?overwrite=false"),
            &json!({"values": [{"index": 1, "type": "URL",
                                "data": {"format": "string", "value": "https://example.org/q"}}]}),
        )
        .await;
        assert_eq!(status, expected, "REST registration {n}: {body}");
        if expected == 429 {
            assert_eq!(body["responseCode"], 604, "{body}");
        }
    }
    // SNMS: a registration is refused by the registration quota, with a message saying so.
    let (_, body) = json_call(&node, "POST", "/identityv2/data", &product("丙酮")).await;
    assert_eq!(body["status"], -2, "{body}");
    assert!(
        body["message"].as_str().unwrap_or("").contains("quota"),
        "{body}"
    );
    // Two more requests of any kind fit in the request quota, then RC 603.
    let update = json!([{"index": 2, "type": "URL", "data": {"format": "string", "value": "x"}}]);
    for expected in [201, 200, 429] {
        let (status, body) =
            json_call(&node, "PUT", "/api/handles/88.118.8/q-1?index=2", &update).await;
        assert_eq!(status, expected, "{body}");
        if expected == 429 {
            assert_eq!(body["responseCode"], 603, "{body}");
        }
    }
    // An SNMS batch is charged per item: every item is refused.
    let items = json!([product("丙酮")]);
    let (_, body) = json_call(&node, "POST", "/identityv2/data/batchCreate", &items).await;
    assert_eq!(body["data"][0]["code"], -2, "{body}");
    assert!(
        body["data"][0]["msg"]
            .as_str()
            .unwrap_or("")
            .contains("quota"),
        "{body}"
    );
    // The handles refused were not written (anonymous reads are not charged).
    for handle in ["88.118.8/q-3", RACED] {
        let (status, _) = http(&node, "GET", &format!("/api/handles/{handle}"), &[], b"").await;
        assert_eq!(status, 404, "{handle}");
    }
    node.stop().await;
}
