//! Faults between a secondary and its top-level node, injected by a proxy on real loopback
//! sockets in front of the top-level node: down, dropping every UDP datagram, answering too
//! slowly, answering garbage. Docking changes made while the top-level node is unreachable
//! land once it is back; recursive resolution falls back to TCP, or fails with the fault of
//! its kind within bounded time.

mod native_support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use idnode::cli::delegate::{self, IdentityKey};
use idnode::config::Role;
use idnode::config::native::Listen;
use idnode_client::locate::address_site;
use idnode_proto::wire::OpFlags;
use idnode_proto::{ResponseCode, SiteInfo, ValueRef};
use native_support::{
    ADMIN_SECRET, Tcp, TestNode, Udp, admin_value, create, free_port, http, rc, request,
    resolution, site_at, site_of, url,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

const PASS: u8 = 0;
const DOWN: u8 = 1;
const DROP_UDP: u8 = 2;
const SLOW: u8 = 3;
const GARBAGE: u8 = 4;

/// A proxy on one port (UDP and TCP) in front of `target`, misbehaving as `mode` says; it
/// counts the TCP connections it accepts in `accepted`.
async fn proxy(target: SocketAddr, mode: Arc<AtomicU8>, accepted: Arc<AtomicUsize>) -> SocketAddr {
    let port = free_port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let udp = Arc::new(UdpSocket::bind(addr).await.unwrap());
    let tcp = TcpListener::bind(addr).await.unwrap();
    let udp_mode = Arc::clone(&mode);
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        while let Ok((n, client)) = udp.recv_from(&mut buf).await {
            let datagram = buf[..n].to_vec();
            let (udp, mode) = (Arc::clone(&udp), udp_mode.load(Ordering::SeqCst));
            tokio::spawn(async move {
                match mode {
                    DOWN | DROP_UDP => {}
                    GARBAGE => {
                        let _ = udp.send_to(b"\x02\x0bnot a message", client).await;
                    }
                    _ => {
                        if mode == SLOW {
                            tokio::time::sleep(Duration::from_secs(5)).await;
                        }
                        let upstream = UdpSocket::bind("127.0.0.1:0").await.unwrap();
                        let _ = upstream.send_to(&datagram, target).await;
                        let mut reply = vec![0u8; 65536];
                        if let Ok(Ok(n)) =
                            tokio::time::timeout(Duration::from_secs(2), upstream.recv(&mut reply))
                                .await
                        {
                            let _ = udp.send_to(&reply[..n], client).await;
                        }
                    }
                }
            });
        }
    });
    tokio::spawn(async move {
        while let Ok((mut client, _)) = tcp.accept().await {
            accepted.fetch_add(1, Ordering::SeqCst);
            let mode = mode.load(Ordering::SeqCst);
            tokio::spawn(async move {
                match mode {
                    DOWN => drop(client),
                    GARBAGE => {
                        let mut buf = [0u8; 64];
                        let _ = client.read(&mut buf).await;
                        let mut garbage = vec![2, 11, 0, 0];
                        garbage.extend_from_slice(&[0; 12]);
                        garbage.extend_from_slice(&4u32.to_be_bytes());
                        garbage.extend_from_slice(b"junk");
                        let _ = client.write_all(&garbage).await;
                    }
                    _ => {
                        if mode == SLOW {
                            tokio::time::sleep(Duration::from_secs(5)).await;
                        }
                        if let Ok(mut upstream) = TcpStream::connect(target).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                        }
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_between_a_secondary_and_its_top_level_node() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("identity.secret");
    std::fs::write(&key_file, "identity-secret").unwrap();
    let top_addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mode = Arc::new(AtomicU8::new(DOWN));
    let accepted = Arc::new(AtomicUsize::new(0));
    let via = proxy(top_addr, Arc::clone(&mode), Arc::clone(&accepted)).await;
    // Secondary a reaches the top-level node only through the proxy, and caches nothing, so
    // every resolution goes upstream.
    let a = TestNode::start_as("88.118", |c| {
        c.federation.top_level = vec![via.to_string()];
        c.federation.identity = Some("300:0.NA/88.118".into());
        c.federation.identity_key = Some(key_file.clone());
        c.federation.sync_interval = 1;
        c.federation.cache_entries = 0;
    })
    .await;
    let b = TestNode::start_as("88.119", |_| {}).await;
    let b_site = site_of(&b).await;
    let top = TestNode::start_prepared(
        "88",
        |c| {
            c.federation.role = Role::TopLevel;
            c.native.listen = Some(Listen(Some(top_addr)));
        },
        async move |config| {
            let stale = address_site(SocketAddr::from(([127, 0, 0, 1], 1)));
            delegate::run(
                config.clone(),
                "88.118",
                stale,
                IdentityKey::Secret(b"identity-secret".to_vec()),
            )
            .await
            .unwrap();
            delegate::run(
                config,
                "88.119",
                b_site,
                IdentityKey::Secret(b"other".to_vec()),
            )
            .await
            .unwrap();
        },
    )
    .await;
    let b_admin = ValueRef::parse("300:88.119/ADMIN").unwrap();
    for name in ["chem-1", "chem-2", "chem-3", "chem-4"] {
        let handle = format!("88.119/{name}");
        let values = vec![admin_value(100, &b_admin), url(1, "https://b.example/x")];
        let answer = Tcp::connect(&b)
            .await
            .call_as(
                &request(create(&handle, values), OpFlags::empty(), 2, 0),
                &b_admin,
                ADMIN_SECRET.as_bytes(),
            )
            .await;
        assert_eq!(rc(&answer), ResponseCode::Success);
    }
    let a_port = u32::from(a.native.port());
    let names_a = |site: Option<SiteInfo>| {
        site.is_some_and(|s| s.servers[0].interfaces.iter().any(|i| i.port == a_port))
    };

    // Down: docking tries to reach the top-level node and cannot; the change waits.
    let start = Instant::now();
    while accepted.load(Ordering::SeqCst) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "docking never tried"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !names_a(site_at(&top, "0.NA/88.118").await),
        "nothing got through"
    );
    // Recursion fails with an upstream fault, retryable: RC 2 natively, 504 over HTTP.
    let mut udp = Udp::new(&a).await;
    let rec = OpFlags::REC.with(OpFlags::PO);
    let answer = udp
        .call(&request(resolution("88.119/chem-1"), rec, 3, 0))
        .await;
    assert_eq!(rc(&answer), ResponseCode::Error);
    let (status, _) = http(&a, "GET", "/api/handles/88.119/chem-1", &[], b"").await;
    assert_eq!(status, 504);

    // Back: the waiting change lands.
    mode.store(PASS, Ordering::SeqCst);
    let start = Instant::now();
    while !names_a(site_at(&top, "0.NA/88.118").await) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the docking change did not land"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Dropped datagrams: the resolution falls back to TCP.
    mode.store(DROP_UDP, Ordering::SeqCst);
    let answer = udp
        .call(&request(resolution("88.119/chem-2"), rec, 4, 0))
        .await;
    assert_eq!(rc(&answer), ResponseCode::Success, "{:?}", answer.body);

    // Too slow: a timeout within the client's bounds, classed retryable.
    mode.store(SLOW, Ordering::SeqCst);
    let started = Instant::now();
    let (status, body) = http(&a, "GET", "/api/handles/88.119/chem-3", &[], b"").await;
    assert_eq!(status, 504, "{}", String::from_utf8_lossy(&body));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "bounded: {:?}",
        started.elapsed()
    );

    // Garbage: refused as an answer that will not improve by asking again.
    mode.store(GARBAGE, Ordering::SeqCst);
    let (status, body) = http(&a, "GET", "/api/handles/88.119/chem-4", &[], b"").await;
    assert_eq!(status, 502, "{}", String::from_utf8_lossy(&body));
    for node in [a, b, top] {
        node.stop().await;
    }
}
