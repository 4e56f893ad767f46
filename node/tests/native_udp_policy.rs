//! The UDP amplification policy over real loopback sockets: a source that has not completed a
//! TCP or HTTP exchange gets a bounded response budget, answers over it are not sent, and a TCP
//! exchange lifts the budget. Drops are observed through the node's `/metrics`, so the test
//! waits for a condition rather than for silence. (Its own test binary: the metrics recorder is
//! per process.)

mod native_support;

use std::time::Instant;

use idnode_proto::ResponseCode;
use idnode_proto::wire::OpFlags;
use native_support::*;

/// The number in the `/metrics` line that starts with `series`, 0 when absent.
async fn metric(node: &TestNode, series: &str) -> u64 {
    let (status, body) = http(node, "GET", "/metrics", &[], b"").await;
    assert_eq!(status, 200);
    String::from_utf8_lossy(&body)
        .lines()
        .find(|line| line.starts_with(series))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|n| n.parse::<f64>().ok())
        .map_or(0, |n| n as u64)
}

/// Waits until the node has dropped `count` answers for the byte budget.
async fn wait_for_drops(node: &TestNode, count: u64) {
    let series = "idnode_native_udp_dropped_total{reason=\"bytes\"}";
    let deadline = Instant::now() + PATIENCE;
    while metric(node, series).await < count {
        assert!(Instant::now() < deadline, "no drop was counted");
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unverified_sources_get_a_bounded_response_budget() {
    // 512 bytes a second, a burst of 2048; the amplification limit is off, to see the budget.
    let node = TestNode::start(|c| {
        c.native.udp_unverified_bytes_per_second = 512;
        c.native.udp_max_amplification = 0;
    })
    .await;
    // The record is written through the REST API, which does not vouch for UDP sources
    // (only native TCP and the tunnel do).
    let big = "x".repeat(1200);
    let body = serde_json::json!({"values": [
        {"index": 1, "type": "URL", "data": "https://example.org/big"},
        {"index": 2, "type": "URL", "data": big},
    ]});
    let auth = admin_basic();
    let (status, reply) = http(
        &node,
        "PUT",
        "/api/handles/88.118.8/big?overwrite=false",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        body.to_string().as_bytes(),
    )
    .await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&reply));

    let mut udp = Udp::new(&node).await;
    let query = request(resolution("88.118.8/big"), OpFlags::PO, 1, 0);
    // The first answer (about 1.3 KB in three datagrams) fits the burst.
    let first = udp.call(&query).await;
    assert_eq!(rc(&first), ResponseCode::Success);
    let size = first.to_bytes().len();
    assert!(size > 1024 && size < 2048, "{size}");
    // The second does not; it is not sent, and the drop is counted.
    udp.send(&query).await;
    wait_for_drops(&node, 1).await;
    // Datagrams sent to this source were all taken by the first answer (loopback delivers a
    // datagram before send returns, so anything sent is already here).
    assert_eq!(udp.drain(), 0);

    // A TCP exchange from the same address proves it receives; UDP answers flow again.
    let site = Tcp::connect(&node)
        .await
        .call(&request(
            idnode_proto::wire::Body::GetSiteInfo { handle: "/".into() },
            OpFlags::empty(),
            2,
            0,
        ))
        .await;
    assert_eq!(rc(&site), ResponseCode::Success);
    for i in 0..4 {
        let answer = udp
            .call(&request(resolution("88.118.8/big"), OpFlags::PO, 10 + i, 0))
            .await;
        assert_eq!(rc(&answer), ResponseCode::Success);
    }
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unverified_sources_get_at_most_three_times_their_query() {
    // The default configuration: the limit is on unless turned off.
    let node = TestNode::start(|_| {}).await;
    // A 30 KB record, written through the REST API (which does not vouch for UDP sources).
    let big = "x".repeat(30_000);
    let body = serde_json::json!({"values": [{"index": 1, "type": "DESC", "data": big}]});
    let auth = admin_basic();
    let (status, reply) = http(
        &node,
        "PUT",
        "/api/handles/88.118.8/huge?overwrite=false",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        body.to_string().as_bytes(),
    )
    .await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&reply));
    let query = request(resolution("88.118.8/huge"), OpFlags::empty(), 1, 0);
    let query_len = query.to_bytes().len();
    // Twice: once through the full path, once from the answer cache it filled.
    for _ in 0..2 {
        let mut udp = Udp::new(&node).await;
        udp.send(&query).await;
        let answer = udp.recv_within(PATIENCE).await.expect("a truncated answer");
        assert!(
            answer.len() <= 3 * query_len,
            "{} bytes answered to a {query_len}-byte query",
            answer.len()
        );
        let envelope = idnode_proto::wire::decode_envelope(&answer).unwrap();
        assert!(envelope.truncated, "no TC flag");
        assert_eq!(envelope.request_id, 1);
        assert_eq!(
            udp.drain(),
            0,
            "more datagrams followed the truncated answer"
        );
    }
    // The client asks again over TCP and gets the whole record; after that exchange its UDP
    // answers are whole too.
    let whole = Tcp::connect(&node).await.call(&query).await;
    assert_eq!(rc(&whole), ResponseCode::Success);
    assert!(whole.to_bytes().len() > 30_000);
    let mut udp = Udp::new(&node).await;
    let answer = udp.call(&query).await;
    assert_eq!(rc(&answer), ResponseCode::Success);
    assert!(answer.to_bytes().len() > 30_000);
    node.stop().await;
}
