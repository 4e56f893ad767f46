//! The `[limits]` table over real sockets: a flood from one source does not starve another,
//! the busiest answers are the protocols' own (HTTP 429 and 503 with `Retry-After`, RC 3),
//! large bodies are refused before they are read unless the caller's credentials verify, body
//! bytes in flight are bounded, and when connections run out the one idle for longest makes
//! room.

use std::net::SocketAddr;
use std::time::Duration;

use idnode_proto::ResponseCode;
use idnode_proto::wire::OpFlags;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};

mod native_support;

use native_support::*;

/// A connection to `to` from the loopback address `from` (127.0.0.0/8 is all loopback).
async fn connect_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from((from, 0)))
        .expect("bind a loopback source");
    socket.connect(to).await.expect("connect")
}

/// Reads one HTTP/1.1 response head (and a `Content-Length` body) from `stream`: the status
/// and the head in lower case.
async fn read_response(stream: &mut TcpStream) -> Option<(u16, String)> {
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    while !reply.ends_with(b"\r\n\r\n") {
        match tokio::time::timeout(PATIENCE, stream.read(&mut byte)).await {
            Ok(Ok(1)) => reply.push(byte[0]),
            _ => return None,
        }
    }
    let head = String::from_utf8_lossy(&reply).to_ascii_lowercase();
    let status = head.get(9..12)?.parse().ok()?;
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.ok()?;
    Some((status, head))
}

/// Sends `GET /healthz` on a kept-alive connection and reads the answer.
async fn healthz(stream: &mut TcpStream) -> Option<(u16, String)> {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: node\r\n\r\n")
        .await
        .ok()?;
    read_response(stream).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_source_is_slowed_and_others_are_not() {
    let node = TestNode::start(|c| c.limits.requests_per_second_per_source = 5).await;
    let mut flood = connect_from([127, 0, 0, 1], node.http).await;
    let mut limited = None;
    for _ in 0..50 {
        let (status, head) = healthz(&mut flood).await.expect("an answer");
        if status == 429 {
            limited = Some(head);
            break;
        }
        assert_eq!(status, 200);
    }
    let head = limited.expect("50 requests at once were all admitted at 5 per second");
    assert!(head.contains("retry-after: 1"), "{head}");
    // Another source is answered at once.
    let mut other = connect_from([127, 0, 0, 2], node.http).await;
    assert_eq!(healthz(&mut other).await.expect("an answer").0, 200);
    // The native protocol counts against the same rate and answers RC 3.
    let mut tcp = Tcp::connect(&node).await;
    let mut busy = None;
    for id in 0..50 {
        let answer = tcp
            .call(&request(
                resolution("88.118.8/ADMIN"),
                OpFlags::default(),
                id,
                0,
            ))
            .await;
        if rc(&answer) == ResponseCode::ServerTooBusy {
            busy = Some(answer);
            break;
        }
    }
    let busy = busy.expect("50 native requests at once were all admitted at 5 per second");
    assert_eq!(busy.header.opcode, idnode_proto::wire::OpCode::Resolution);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_over_the_in_flight_budget_get_503_with_retry_after() {
    let node = TestNode::start(|c| c.limits.max_requests_in_flight = 1).await;
    // A request in progress: its headers are in, its body is not.
    let mut held = TcpStream::connect(node.http).await.unwrap();
    held.write_all(
        b"PUT /api/handles/88.118.8/held HTTP/1.1\r\nHost: node\r\nContent-Length: 100\r\n\r\n{",
    )
    .await
    .unwrap();
    let mut other = TcpStream::connect(node.http).await.unwrap();
    let mut refused = None;
    // The held request reaches the router soon; until then the other may be answered.
    for _ in 0..200 {
        let (status, head) = healthz(&mut other).await.expect("an answer");
        if status == 503 {
            refused = Some(head);
            break;
        }
        tokio::task::yield_now().await;
    }
    let head = refused.expect("a second request was admitted while one was in flight");
    assert!(head.contains("retry-after: 1"), "{head}");
    // Once the held request ends, requests are admitted again.
    drop(held);
    let mut admitted = false;
    for _ in 0..200 {
        if healthz(&mut other).await.expect("an answer").0 == 200 {
            admitted = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(admitted, "the in-flight place was not given back");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_are_refused_before_they_are_read_without_credentials() {
    let node = TestNode::start(|_| {}).await;
    // An anonymous SNMS batch claiming 30 MiB: answered at once, without the body.
    for path in ["/identityv2/data/batchCreate", "/epcis/capture"] {
        let mut stream = TcpStream::connect(node.http).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: node\r\nContent-Type: application/json\r\n\
             Content-Length: 31457280\r\n\r\n["
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let (status, _) = tokio::time::timeout(Duration::from_secs(5), read_response(&mut stream))
            .await
            .unwrap_or_else(|_| panic!("{path}: the node waited for a body it should refuse"))
            .expect("an answer");
        assert_eq!(status, 401, "{path}");
    }
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_bytes_in_flight_are_bounded() {
    let node = TestNode::start(|c| c.limits.max_body_bytes_in_flight = 64 * 1024).await;
    // One request holds 60 KiB of a 100 KiB body.
    let mut held = TcpStream::connect(node.http).await.unwrap();
    held.write_all(
        b"PUT /api/handles/88.118.8/held HTTP/1.1\r\nHost: node\r\nContent-Length: 102400\r\n\r\n",
    )
    .await
    .unwrap();
    held.write_all(&[b' '; 60 * 1024]).await.unwrap();
    let body = [b' '; 10 * 1024];
    let put = format!(
        "PUT /api/handles/88.118.8/other HTTP/1.1\r\nHost: node\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut refused = None;
    for _ in 0..200 {
        let mut other = TcpStream::connect(node.http).await.unwrap();
        other.write_all(put.as_bytes()).await.unwrap();
        other.write_all(&body).await.unwrap();
        let (status, head) = read_response(&mut other).await.expect("an answer");
        if status == 503 {
            refused = Some(head);
            break;
        }
        tokio::task::yield_now().await;
    }
    let head = refused.expect("bodies beyond the budget were read");
    assert!(head.contains("retry-after: 1"), "{head}");
    drop(held);
    // The held bytes are given back when that request ends.
    let mut admitted = false;
    for _ in 0..200 {
        let mut other = TcpStream::connect(node.http).await.unwrap();
        other.write_all(put.as_bytes()).await.unwrap();
        other.write_all(&body).await.unwrap();
        if read_response(&mut other).await.expect("an answer").0 != 503 {
            admitted = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(admitted, "the body budget was not given back");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_connections_run_out_the_oldest_idle_one_makes_room() {
    const MAX: usize = 8;
    let node = TestNode::start(|c| {
        c.limits.max_connections = MAX;
        c.limits.max_connections_per_source = 100;
    })
    .await;
    // One busy connection: a request whose body is being read (the node asks for it with
    // 100 Continue once the request is being worked on).
    let mut busy = TcpStream::connect(node.http).await.unwrap();
    busy.write_all(
        b"PUT /api/handles/88.118.8/busy HTTP/1.1\r\nHost: node\r\nContent-Length: 10\r\n\
          Expect: 100-continue\r\n\r\n",
    )
    .await
    .unwrap();
    let (status, _) = read_response(&mut busy).await.expect("100 Continue");
    assert_eq!(status, 100);
    busy.write_all(b"{").await.unwrap();
    // Idle connections fill the rest, accepted in the order they were made.
    let mut idle = Vec::new();
    for _ in 1..MAX {
        idle.push(TcpStream::connect(node.native).await.unwrap());
    }
    // A newcomer is served; the oldest idle connection was closed for it, not the busy one.
    let mut newcomer = connect_from([127, 0, 0, 2], node.http).await;
    assert_eq!(healthz(&mut newcomer).await.expect("an answer").0, 200);
    assert!(
        closed_within(&mut idle[0], Duration::from_secs(5)).await,
        "the oldest idle connection stayed open"
    );
    busy.write_all(b"\"x\": 12 }").await.unwrap();
    let (status, _) = read_response(&mut busy)
        .await
        .expect("the busy request was answered");
    assert_ne!(status, 503);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_report_memory_by_component_with_its_bounds() {
    let node = TestNode::start(|c| c.store.cache_bytes = 64 << 20).await;
    // Fill the REST answer cache a little.
    let _ = http(&node, "GET", "/api/handles/88.118.8/ADMIN", &[], b"").await;
    let _ = http(&node, "GET", "/api/handles/88.118.8/ADMIN", &[], b"").await;
    let (status, body) = http(&node, "GET", "/metrics", &[], b"").await;
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    let value = |line: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(line))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no {line} in {text}")) as u64
    };
    assert!(value("idnode_memory_bytes{component=\"rss\"}") > 1 << 20);
    assert!(value("idnode_memory_bytes{component=\"http_answer_cache\"}") > 0);
    let _ = value("idnode_memory_bytes{component=\"native_answer_cache\"}");
    let _ = value("idnode_memory_bytes{component=\"other\"}");
    assert_eq!(
        value("idnode_memory_limit_bytes{component=\"store_cache\"}"),
        64 << 20
    );
    assert_eq!(
        value("idnode_memory_limit_bytes{component=\"http_answer_cache\"}"),
        128 << 20
    );
    node.stop().await;
}
