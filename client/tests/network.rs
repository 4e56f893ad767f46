//! The transport over real loopback sockets against upstreams that misbehave: one that drops
//! every UDP datagram (the client falls back to TCP), one that answers too slowly (a
//! retryable timeout), and one that answers garbage (refused, not retryable), each within the
//! configured timeouts.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use idnode_client::{Error, Network, Timeouts, Transport};
use idnode_proto::wire::{
    self, Body, Envelope, Header, Message, OpCode, ResolutionRequest, ResolutionResponse, Version,
};
use idnode_proto::{HandleValue, Interface, Protocol, ResponseCode, ServerInfo};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, UdpSocket};

fn timeouts() -> Timeouts {
    Timeouts {
        udp: vec![Duration::from_millis(100), Duration::from_millis(100)],
        tcp: Duration::from_millis(500),
    }
}

fn server(port: u16) -> ServerInfo {
    let interface = |protocol| Interface {
        query: true,
        admin: false,
        protocol,
        port: u32::from(port),
    };
    ServerInfo {
        server_id: 1,
        address: ServerInfo::address_of([127, 0, 0, 1].into()),
        public_key: Vec::new(),
        interfaces: vec![interface(Protocol::Udp), interface(Protocol::Tcp)],
    }
}

fn request() -> Message {
    let envelope = Envelope {
        version: Version::V2_11,
        suggested: Version::V2_11,
        request_id: 4242,
        ..Envelope::default()
    };
    Message::new(
        envelope,
        Header::request(OpCode::Resolution),
        Body::Resolution(ResolutionRequest {
            handle: "88.119/x".into(),
            indexes: vec![],
            types: vec![],
        }),
    )
}

/// The answer a correct server gives to `request`.
fn answer_to(request: &[u8]) -> Vec<u8> {
    let mut message = wire::decode(request).expect("a request").message;
    message.header.response_code = ResponseCode::Success;
    message.body = Body::Resolved(ResolutionResponse {
        handle: "88.119/x".into(),
        values: vec![HandleValue::new(1, "URL", b"https://b.example/x".to_vec())],
    });
    message.to_bytes()
}

/// A UDP socket and a TCP listener on one port; the UDP side reads and drops everything.
async fn bind() -> (UdpSocket, TcpListener, u16) {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = udp.local_addr().unwrap().port();
        if let Ok(tcp) = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await {
            return (udp, tcp, port);
        }
    }
}

/// Serves TCP: reads one message, waits `delay`, then writes `reply(request)`.
fn serve_tcp(listener: TcpListener, delay: Duration, reply: fn(&[u8]) -> Vec<u8>) {
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut envelope = [0u8; 20];
                if stream.read_exact(&mut envelope).await.is_err() {
                    return;
                }
                let len =
                    u32::from_be_bytes([envelope[16], envelope[17], envelope[18], envelope[19]]);
                let mut bytes = envelope.to_vec();
                bytes.resize(20 + len as usize, 0);
                if stream.read_exact(&mut bytes[20..]).await.is_err() {
                    return;
                }
                tokio::time::sleep(delay).await;
                let _ = stream.write_all(&reply(&bytes)).await;
            });
        }
    });
}

/// Drops every datagram.
fn drop_udp(socket: UdpSocket) {
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while socket.recv_from(&mut buf).await.is_ok() {}
    });
}

#[tokio::test]
async fn dropped_datagrams_fall_back_to_tcp() {
    let (udp, tcp, port) = bind().await;
    drop_udp(udp);
    serve_tcp(tcp, Duration::ZERO, answer_to);
    let network = Network::new(timeouts());
    let started = Instant::now();
    let answer = network.exchange(&server(port), &request()).await.unwrap();
    assert_eq!(answer.message.header.response_code, ResponseCode::Success);
    // Two UDP waits of 100 ms, then TCP.
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_slow_upstream_is_a_retryable_timeout() {
    let (udp, tcp, port) = bind().await;
    drop_udp(udp);
    serve_tcp(tcp, Duration::from_secs(5), answer_to);
    let started = Instant::now();
    let e = Network::new(timeouts())
        .exchange(&server(port), &request())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }) && e.retryable(), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "bounded by the timeouts"
    );
}

#[tokio::test]
async fn garbage_is_refused_and_not_retryable() {
    let (udp, tcp, port) = bind().await;
    // UDP answers garbage too: it is ignored, as anyone can send datagrams.
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while let Ok((_, peer)) = udp.recv_from(&mut buf).await {
            let _ = udp
                .send_to(b"\x02\x0bnonsense that is no message", peer)
                .await;
        }
    });
    serve_tcp(tcp, Duration::ZERO, |_| {
        let mut bytes = vec![2, 11, 0, 0];
        bytes.extend_from_slice(&[0; 12]);
        bytes.extend_from_slice(&8u32.to_be_bytes());
        bytes.extend_from_slice(b"garbage!");
        bytes
    });
    let e = Network::new(timeouts())
        .exchange(&server(port), &request())
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Malformed { .. }) && !e.retryable(),
        "{e}"
    );
}

#[tokio::test]
async fn an_answer_to_another_request_is_not_taken() {
    let (udp, tcp, port) = bind().await;
    drop_udp(udp);
    serve_tcp(tcp, Duration::ZERO, |request| {
        let mut message = wire::decode(&answer_to(request)).unwrap().message;
        message.envelope.request_id += 1;
        message.to_bytes()
    });
    let e = Network::new(timeouts())
        .exchange(&server(port), &request())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Malformed { .. }), "{e}");
}
