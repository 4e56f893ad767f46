//! Reproductions of attacks over real sockets, each refused: a lossy REST path decoding, a
//! percent-encoded REST URL in an EPCIS event naming another identity's handle, passwords over
//! plain HTTP, and password guessing.

use serde_json::{Value, json};

mod native_support;

use native_support::*;

/// An identity with no permission on anything but its own handle.
const OUTSIDER: &str = "88.118.8/OUTSIDER";
const OUTSIDER_SECRET: &str = "outsider-secret-pw";

fn basic(identity: &str, secret: &str) -> String {
    use base64::Engine as _;
    let user = identity.replace('%', "%25").replace(':', "%3A");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"))
    )
}

async fn json_call(
    node: &TestNode,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: &Value,
) -> (u16, Value) {
    let bytes = body.to_string();
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(auth) = auth {
        headers.push(("Authorization", auth));
    }
    let (status, reply) = http(node, method, path, &headers, bytes.as_bytes()).await;
    (
        status,
        serde_json::from_slice(&reply).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_in_a_rest_path_is_refused_and_nothing_is_written() {
    let node = TestNode::start(|_| {}).await;
    let auth = admin_basic();
    let body = json!({"values": [{"index": 1, "type": "URL",
                      "data": {"format": "string", "value": "https://example.org/z"}}]});
    let (status, reply) = json_call(
        &node,
        "PUT",
        "/api/handles/88.118.8/z%C0%AF",
        Some(&auth),
        &body,
    )
    .await;
    assert_eq!(status, 400, "{reply}");
    assert_eq!(reply["responseCode"], 102, "{reply}");
    let (_, listed) = json_call(
        &node,
        "GET",
        "/api/handles?prefix=88.118.8",
        Some(&auth),
        &Value::Null,
    )
    .await;
    let handles = listed["handles"].as_array().unwrap();
    assert!(
        handles
            .iter()
            .all(|h| !h.as_str().unwrap_or("").starts_with("88.118.8/z")),
        "a handle was created from a lossy decoding: {listed}"
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encoded_rest_url_in_an_event_is_permission_checked() {
    let node = TestNode::start(|_| {}).await;
    let auth = admin_basic();
    let outsider = json!({"values": [{"index": 300, "type": "HS_SECKEY",
                          "data": {"format": "string", "value": OUTSIDER_SECRET}}]});
    let (status, reply) = json_call(
        &node,
        "PUT",
        &format!("/api/handles/{OUTSIDER}"),
        Some(&auth),
        &outsider,
    )
    .await;
    assert_eq!(status, 201, "{reply}");
    let outsider_auth = basic(&format!("300:{OUTSIDER}"), OUTSIDER_SECRET);
    for id in [
        // The administrator's handle, which the outsider may not annotate, in encoded forms.
        "https://node.example/api/handles/88.118.8%2FADMIN",
        "hdl:88.118.8%2FADMIN",
    ] {
        let document = json!({
            "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": "2026-01-01T00:00:00Z",
            "epcisBody": {"eventList": [{
                "type": "ObjectEvent",
                "eventTime": "2026-01-01T08:00:00+08:00",
                "eventTimeZoneOffset": "+08:00",
                "epcList": [id],
                "action": "OBSERVE",
                "bizStep": "inspecting",
            }]},
        });
        let (status, reply) = json_call(
            &node,
            "POST",
            "/epcis/capture",
            Some(&outsider_auth),
            &document,
        )
        .await;
        assert_eq!(status, 403, "{id} was accepted: {reply}");
    }
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_are_refused_over_plain_http_without_the_loopback_exception() {
    let node = TestNode::start(|c| c.http.allow_loopback_plain_writes = false).await;
    let (_, reply) = json_call(
        &node,
        "POST",
        "/identity/token",
        None,
        &json!({"username": format!("{ADMIN_INDEX}:{ADMIN}"), "password": ADMIN_SECRET}),
    )
    .await;
    assert_eq!(
        reply["status"], -1,
        "a token was issued over plain HTTP: {reply}"
    );
    assert!(reply["data"].get("token").is_none(), "{reply}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_throttled_per_identity_and_source() {
    let owned = TestNode::start(|_| {}).await;
    let node = &owned;
    let login = |password: &'static str| {
        let body = json!({"username": format!("{ADMIN_INDEX}:{ADMIN}"), "password": password});
        async move {
            json_call(node, "POST", "/identity/token", None, &body)
                .await
                .1
        }
    };
    for _ in 0..5 {
        let reply = login("wrong-guess").await;
        assert_eq!(reply["message"], "wrong username or password", "{reply}");
    }
    // Locked now: even the right password is refused without being checked.
    let reply = login(ADMIN_SECRET).await;
    assert!(
        reply["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("too many failed logins"),
        "{reply}"
    );
    // HTTP Basic from the same source is locked out too.
    let (status, _) = json_call(
        node,
        "GET",
        "/api/handles/88.118.8/ADMIN",
        Some(&admin_basic()),
        &Value::Null,
    )
    .await;
    assert_eq!(status, 401);
    // After the lock (one second for the first one past the free failures), it works again.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let reply = login(ADMIN_SECRET).await;
        if reply["status"] == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still locked after 10 s: {reply}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    owned.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_slow_http_connections_are_closed_and_capped_per_source() {
    use tokio::io::AsyncWriteExt as _;
    use tokio::net::TcpStream;
    let node = TestNode::start(|c| {
        c.limits.http_header_timeout_secs = 1;
        c.limits.max_connections_per_source = 4;
    })
    .await;
    let second = std::time::Duration::from_secs(1);
    // Four idle connections fill this source's share; a fifth is closed at once.
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(node.http).await.unwrap());
    }
    // Once the four are admitted (they are accepted in order), a fifth is closed at once.
    let mut refused = false;
    for _ in 0..20 {
        let mut fifth = TcpStream::connect(node.http).await.unwrap();
        if closed_within(&mut fifth, second / 4).await {
            refused = true;
            break;
        }
    }
    assert!(refused, "a connection over the per-source cap stayed open");
    // The idle ones are closed by the header timeout.
    for stream in &mut idle {
        assert!(
            closed_within(stream, second * 3).await,
            "an idle connection stayed open"
        );
    }
    // A slowloris client (a header byte every 300 ms) is closed too.
    let mut slow = TcpStream::connect(node.http).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    let mut closed = false;
    for byte in b"Host: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaa".iter() {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        if slow.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
    }
    assert!(
        closed || closed_within(&mut slow, second * 2).await,
        "a slowloris client held its connection"
    );
    // Meanwhile and afterwards, the node answers others.
    let (status, _) = http(&node, "GET", "/healthz", &[], b"").await;
    assert_eq!(status, 200);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_alive_idle_connections_and_stalled_bodies_are_closed() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpStream;
    let node = TestNode::start(|c| c.limits.http_header_timeout_secs = 1).await;
    let second = std::time::Duration::from_secs(1);
    // A connection kept alive after its answer is closed once it has idled for the timeout.
    let mut kept = TcpStream::connect(node.http).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    assert!(
        closed_within(&mut kept, second * 4).await,
        "a kept-alive idle connection stayed open"
    );
    assert!(started.elapsed() >= second, "closed before the timeout");
    // An anonymous write whose body stops arriving gets 408 and is closed, and writes nothing.
    let mut stalled = TcpStream::connect(node.http).await.unwrap();
    stalled
        .write_all(
            b"PUT /api/handles/88.118.8/stalled HTTP/1.1\r\nHost: 127.0.0.1\r\n\
              Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"values\"",
        )
        .await
        .unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(second * 5, stalled.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "a stalled body held its connection");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let (status, _) = http(&node, "GET", "/api/handles/88.118.8/stalled", &[], b"").await;
    assert_eq!(status, 404);
    node.stop().await;
}

/// This process's resident memory, in bytes (the node runs in-process).
fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    kib * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_tcp_connections_hold_only_what_they_sent_and_are_capped() {
    use tokio::io::AsyncWriteExt as _;
    use tokio::net::TcpStream;
    const CONNECTIONS: usize = 300;
    let node = TestNode::start(|c| c.limits.max_connections_per_source = CONNECTIONS).await;
    // An envelope that claims a 256 KiB message, and nothing after it.
    let envelope = idnode_proto::wire::Envelope {
        message_length: 256 * 1024,
        ..idnode_proto::wire::Envelope::default()
    }
    .to_bytes();
    let before = rss();
    let mut open = Vec::new();
    for _ in 0..CONNECTIONS {
        let mut stream = TcpStream::connect(node.native).await.unwrap();
        stream.write_all(&envelope).await.unwrap();
        open.push(stream);
    }
    // The source's share is full: one more connection is closed at once, native or HTTP. So
    // the node has accepted all of them.
    for addr in [node.native, node.http] {
        let mut extra = TcpStream::connect(addr).await.unwrap();
        assert!(
            closed_within(&mut extra, std::time::Duration::from_secs(1)).await,
            "a connection over the per-source cap stayed open ({addr})"
        );
    }
    // Each connection's task reads its envelope right after it is accepted, and nothing outside
    // shows that it has; a short settle lets the reads (and any buffer they would allocate)
    // happen before the memory is measured.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let grown = rss().saturating_sub(before);
    // A buffer of the claimed length for each would be 75 MiB.
    assert!(
        grown < 24 << 20,
        "{CONNECTIONS} connections that sent 20 bytes each grew the process by {} MiB",
        grown >> 20
    );
    drop(open);
    node.stop().await;
}
