//! Out of file descriptors: a node limited to 256 open files, flooded with more idle
//! connections than that, still answers a newcomer, because its connection cap keeps a reserve
//! of descriptors and the connection idle for longest makes room. (Before, accept failed with
//! EMFILE and every listener stopped serving.)

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

mod support;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_out_of_descriptors_keeps_answering() {
    let data = DataDir::init();
    write_file(
        &data.config,
        "[auth]\nsecret_iterations = 1000\n[limits]\nmax_connections_per_source = 100000\n\
         http_header_timeout_secs = 120\n",
    );
    let served = Served::start_limited(
        &data.data,
        &data.config,
        data.dir.path().join("serve.log"),
        Some(256),
    )
    .await;
    // Twice the descriptors the node has, all idle.
    let mut idle = Vec::new();
    for _ in 0..512 {
        idle.push(TcpStream::connect(served.http_addr).await.expect("connect"));
    }
    // Well before the idle connections time out.
    let mut answered = false;
    for _ in 0..3 {
        let mut stream = TcpStream::connect(served.http_addr).await.expect("connect");
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: node\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut reply = Vec::new();
        if let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut reply)).await
            && reply.starts_with(b"HTTP/1.1 200")
        {
            answered = true;
            break;
        }
    }
    assert!(
        answered,
        "a node out of descriptors did not answer:\n{}",
        std::fs::read_to_string(&served.log).unwrap_or_default()
    );
    drop(idle);
}
