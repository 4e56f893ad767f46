//! Graceful shutdown of the HTTP listener over real sockets: when the node stops, an idle
//! keep-alive connection is closed at once, while a request still being received is answered
//! (with `connection: close`) before its connection closes, and the listener waits for both.

mod support;

use std::time::Duration;

use support::Node;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// How long any step may take before the test fails.
const STEP: Duration = Duration::from_secs(20);

/// Reads one HTTP/1.1 response with a `content-length`: its head (lower-cased) and body.
async fn read_response(stream: &mut TcpStream) -> (String, Vec<u8>) {
    let mut buffer = Vec::new();
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "connection closed inside a response head");
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().expect("content-length"));
    let mut body = buffer[head_end..].to_vec();
    while body.len() < length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "connection closed inside a response body");
        body.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(body.len(), length, "one response at a time");
    (head, body)
}

/// Waits until the server closes `stream`.
async fn closed(stream: &mut TcpStream) {
    let mut chunk = [0u8; 64];
    let n = tokio::time::timeout(STEP, stream.read(&mut chunk))
        .await
        .expect("closed in time")
        .unwrap_or(0);
    assert_eq!(n, 0, "nothing more after the last response");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_drains_http_connections() {
    let node = Node::start().await;

    // An idle keep-alive connection that has been answered twice, from the store and then
    // from the resolution cache, with the same bytes.
    let mut idle = TcpStream::connect(node.http_addr).await.expect("connect");
    let get = b"GET /api/handles/0.NA/88.118.8 HTTP/1.1\r\nhost: idnode\r\n\r\n";
    idle.write_all(get).await.expect("write");
    let (head, first) = read_response(&mut idle).await;
    assert!(head.starts_with("http/1.1 200 "), "{head}");
    idle.write_all(get).await.expect("write");
    let (head, second) = read_response(&mut idle).await;
    assert!(head.starts_with("http/1.1 200 "), "{head}");
    assert_eq!(first, second);

    // A request whose body is still on its way: `100 Continue` shows that the node is reading
    // it.
    let body = br#"{"values":[{"index":1,"type":"URL","data":{"format":"string","value":"https://example.cn/"}}]}"#;
    let mut busy = TcpStream::connect(node.http_addr).await.expect("connect");
    let head = format!(
        "PUT /api/handles/88.118.8/drain HTTP/1.1\r\nhost: idnode\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nexpect: 100-continue\r\n\r\n",
        body.len()
    );
    busy.write_all(head.as_bytes()).await.expect("write");
    let mut continued = Vec::new();
    while !continued.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        let n = tokio::time::timeout(STEP, busy.read(&mut byte))
            .await
            .expect("100 Continue in time")
            .expect("read");
        assert!(n > 0, "closed before 100 Continue");
        continued.push(byte[0]);
    }
    assert!(continued.starts_with(b"HTTP/1.1 100 "));
    busy.write_all(&body[..10]).await.expect("write");

    let client = async {
        // The idle connection is closed as soon as draining starts...
        closed(&mut idle).await;
        // ...while the request in progress is still received and answered.
        busy.write_all(&body[10..]).await.expect("write");
        let (head, _) = tokio::time::timeout(STEP, read_response(&mut busy))
            .await
            .expect("answered in time");
        assert!(head.starts_with("http/1.1 "), "{head}");
        assert!(head.contains("\r\nconnection: close\r\n"), "{head}");
        closed(&mut busy).await;
    };
    let stopped = async {
        tokio::time::timeout(STEP, node.stop())
            .await
            .expect("the listeners stopped in time");
    };
    tokio::join!(client, stopped);
}
