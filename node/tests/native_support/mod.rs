//! Shared helpers of the native protocol tests: a node started in-process with its native
//! listener on an ephemeral loopback port, message builders, UDP, TCP and HTTP-tunnel clients,
//! challenge answers and a plain HTTP/1.1 REST client.
//!
//! Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use idnode::config::Config;
use idnode::config::native::Listen;
use idnode_certs::mac;
use idnode_proto::wire::udp::{Reassembler, ReassemblyLimits};
use idnode_proto::wire::{
    self, Body, ChallengeAnswer, Envelope, HS_SECKEY, Header, Message, OpFlags, ResolutionRequest,
    ValuesRequest, Version,
};
use idnode_proto::{HandleValue, Permissions, ResponseCode, ValueRef};
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpStream, UdpSocket};

/// The prefix every test node homes.
pub(crate) const PREFIX: &str = "88.118.8";
/// The administrator `init` creates.
pub(crate) const ADMIN: &str = "88.118.8/ADMIN";
/// The administrator's value index.
pub(crate) const ADMIN_INDEX: u32 = 300;
/// The administrator's secret.
pub(crate) const ADMIN_SECRET: &str = "admin-secret-pw";
/// How long any single answer may take before a test fails.
pub(crate) const PATIENCE: Duration = Duration::from_secs(20);

/// The administrator identity.
pub(crate) fn admin() -> ValueRef {
    ValueRef {
        handle: ADMIN.into(),
        index: ADMIN_INDEX,
    }
}

/// A node serving HTTP and the native protocol on ephemeral loopback ports.
pub(crate) struct TestNode {
    /// The native UDP and TCP address.
    pub(crate) native: SocketAddr,
    /// The plain HTTP address (REST API and the tunnel).
    pub(crate) http: SocketAddr,
    /// The data directory.
    pub(crate) data: std::path::PathBuf,
    /// What the running node shares.
    pub(crate) core: std::sync::Arc<idnode::core::Core>,
    shutdown: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl TestNode {
    /// Initialises prefix 88.118.8 and serves it; `edit` adjusts the configuration first.
    pub(crate) async fn start(edit: impl FnOnce(&mut Config)) -> Self {
        Self::start_as(PREFIX, edit).await
    }

    /// Initialises `prefix` (administrator `300:<prefix>/ADMIN` with [`ADMIN_SECRET`]) and
    /// serves it; `edit` adjusts the configuration first.
    pub(crate) async fn start_as(prefix: &str, edit: impl FnOnce(&mut Config)) -> Self {
        Self::start_prepared(prefix, edit, async |_| {}).await
    }

    /// As [`TestNode::start_as`], with `prepare` run on the data directory between `init` and
    /// serving (offline commands such as `idnode delegate`).
    pub(crate) async fn start_prepared(
        prefix: &str,
        edit: impl FnOnce(&mut Config),
        prepare: impl AsyncFnOnce(Config),
    ) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let data = dir.path().join("data");
        let mut config = Config {
            data: data.clone(),
            ..Config::default()
        };
        config.http.listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        // Tests send bursts from one loopback source; `limits.rs` tests the rate itself.
        config.limits.requests_per_second_per_source = 0;
        config.http.allow_loopback_plain_writes = true;
        config.https.listen = None;
        config.auth.secret_iterations = 1000;
        config.native.listen = Some(Listen(Some(SocketAddr::from(([127, 0, 0, 1], 0)))));
        // The site key is irrelevant here; Ed25519 saves generating an RSA key.
        config.native.site_key = idnode::native::SiteKeyKind::Ed25519;
        edit(&mut config);
        let secret_file = dir.path().join("admin-secret");
        std::fs::write(&secret_file, ADMIN_SECRET).expect("secret file");
        idnode::cli::init::run(config.clone(), prefix, Some(&secret_file))
            .await
            .expect("idnode init");
        prepare(config.clone()).await;
        let (shutdown, rx) = tokio::sync::watch::channel(false);
        let running = idnode::server::start(config, rx)
            .await
            .expect("idnode serve");
        Self {
            native: running.bound.native.expect("native bound"),
            http: running.bound.http.expect("http bound"),
            data,
            core: running.core,
            shutdown,
            tasks: running.tasks,
            _dir: dir,
        }
    }

    /// Signals shutdown and waits for the listeners to finish.
    pub(crate) async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            task.await.expect("listener task");
        }
    }
}

/// A port free on loopback for both UDP and TCP, for a node whose address must be known
/// before it starts (to name it in another node's configuration).
pub(crate) fn free_port() -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = tcp.local_addr().expect("address").port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A request message with version 2.11, the given request id and session id.
pub(crate) fn request(body: Body, flags: OpFlags, request_id: u32, session_id: u32) -> Message {
    let opcode = body.request_opcode().expect("a request body");
    let mut header = Header::request(opcode);
    header.flags = flags;
    header.expiration = 2_000_000_000;
    let envelope = Envelope {
        version: Version::V2_11,
        suggested: Version::V2_11,
        request_id,
        session_id,
        ..Envelope::default()
    };
    Message::new(envelope, header, body)
}

/// A resolution of all values of `handle`.
pub(crate) fn resolution(handle: &str) -> Body {
    Body::Resolution(ResolutionRequest {
        handle: handle.into(),
        indexes: vec![],
        types: vec![],
    })
}

/// A create of `handle` with `values`.
pub(crate) fn create(handle: &str, values: Vec<HandleValue>) -> Body {
    Body::CreateHandle(ValuesRequest {
        handle: handle.into(),
        values,
    })
}

/// An `HS_ADMIN` value giving `admin` every permission.
pub(crate) fn admin_value(index: u32, admin: &ValueRef) -> HandleValue {
    let record = idnode_proto::AdminRecord {
        perms: idnode_proto::AdminPerms(0x0FFF),
        admin: admin.clone(),
    };
    HandleValue::new(index, "HS_ADMIN", record.to_bytes())
}

/// A public `URL` value.
pub(crate) fn url(index: u32, text: &str) -> HandleValue {
    HandleValue::new(index, "URL", text.as_bytes().to_vec())
}

/// A value with the given permissions.
pub(crate) fn with_permissions(mut value: HandleValue, permissions: u8) -> HandleValue {
    value.permissions = Permissions(permissions);
    value
}

/// The values an ordinary test handle gets: the administrator and one URL.
pub(crate) fn sample(text: &str) -> Vec<HandleValue> {
    vec![admin_value(100, &admin()), url(1, text)]
}

/// A decoded answer.
pub(crate) fn decode(bytes: &[u8]) -> Message {
    wire::decode(bytes)
        .unwrap_or_else(|e| panic!("undecodable answer ({e}): {}", hex::encode(bytes)))
        .message
}

/// The response code of an answer.
pub(crate) fn rc(message: &Message) -> ResponseCode {
    message.header.response_code
}

/// The values of a resolution answer, timestamps included.
pub(crate) fn values(message: &Message) -> Vec<HandleValue> {
    match &message.body {
        Body::Resolved(r) => r.values.clone(),
        other => panic!("not a resolution answer: {other:?} ({:?})", message.header),
    }
}

/// The OC 200 answer to a challenge, with an HMAC-SHA256 `HS_SECKEY` answer by `identity`.
pub(crate) fn seckey_answer(
    challenge: &Message,
    identity: &ValueRef,
    secret: &[u8],
    flags: OpFlags,
    request_id: u32,
) -> Message {
    let Body::Challenge { nonce } = &challenge.body else {
        panic!(
            "not a challenge: {:?} {:?}",
            challenge.header, challenge.body
        );
    };
    let digest = &challenge.request_digest.as_ref().expect("digest").digest;
    let m = [nonce.as_slice(), digest.as_slice()].concat();
    let mut response = vec![0x13];
    response.extend_from_slice(&mac::hmac_sha256(secret, &m));
    answer_with(challenge, identity, HS_SECKEY, response, flags, request_id)
}

/// An OC 200 message for `challenge` with an answer of `auth_type`.
pub(crate) fn answer_with(
    challenge: &Message,
    identity: &ValueRef,
    auth_type: &str,
    response: Vec<u8>,
    flags: OpFlags,
    request_id: u32,
) -> Message {
    request(
        Body::ChallengeAnswer(ChallengeAnswer {
            auth_type: auth_type.into(),
            identity: identity.clone(),
            response,
        }),
        flags,
        request_id,
        challenge.envelope.session_id,
    )
}

/// `nonce ‖ digest` of a challenge: what an answer signs.
pub(crate) fn challenge_input(challenge: &Message) -> Vec<u8> {
    let Body::Challenge { nonce } = &challenge.body else {
        panic!("not a challenge: {:?}", challenge.header);
    };
    let digest = &challenge.request_digest.as_ref().expect("digest").digest;
    [nonce.as_slice(), digest.as_slice()].concat()
}

/// A persistent TCP connection to the native listener.
pub(crate) struct Tcp {
    stream: TcpStream,
}

impl Tcp {
    /// Connects.
    pub(crate) async fn connect(node: &TestNode) -> Self {
        Self::connect_to(node.native).await
    }

    /// Connects to a native listener at `addr`.
    pub(crate) async fn connect_to(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Self { stream }
    }

    /// Writes one message.
    pub(crate) async fn send(&mut self, message: &Message) {
        self.send_bytes(&message.to_bytes()).await;
    }

    /// Writes raw bytes.
    pub(crate) async fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// Reads one answer's bytes; `None` when the server closed the connection.
    pub(crate) async fn read_bytes(&mut self) -> Option<Vec<u8>> {
        let mut envelope = [0u8; 20];
        tokio::time::timeout(PATIENCE, self.stream.read_exact(&mut envelope))
            .await
            .expect("an answer in time")
            .ok()?;
        let len = u32::from_be_bytes([envelope[16], envelope[17], envelope[18], envelope[19]]);
        let mut out = envelope.to_vec();
        out.resize(20 + len as usize, 0);
        tokio::time::timeout(PATIENCE, self.stream.read_exact(&mut out[20..]))
            .await
            .expect("the rest of the answer in time")
            .ok()?;
        Some(out)
    }

    /// Reads one answer.
    pub(crate) async fn read(&mut self) -> Message {
        decode(&self.read_bytes().await.expect("an answer"))
    }

    /// Sends one message and reads one answer.
    pub(crate) async fn call(&mut self, message: &Message) -> Message {
        self.send(message).await;
        self.read().await
    }

    /// Sends a request that needs an identity, answers its challenge as `identity` with
    /// `secret`, and returns the final answer.
    pub(crate) async fn call_as(
        &mut self,
        message: &Message,
        identity: &ValueRef,
        secret: &[u8],
    ) -> Message {
        let challenge = self.call(message).await;
        if rc(&challenge) != ResponseCode::AuthenticationNeeded {
            return challenge;
        }
        let answer = seckey_answer(
            &challenge,
            identity,
            secret,
            message.header.flags,
            message.envelope.request_id.wrapping_add(1),
        );
        self.call(&answer).await
    }
}

/// A UDP client socket that reassembles multi-packet answers.
pub(crate) struct Udp {
    socket: UdpSocket,
    server: SocketAddr,
    reassembler: Reassembler<SocketAddr>,
}

impl Udp {
    /// Binds a fresh loopback socket.
    pub(crate) async fn new(node: &TestNode) -> Self {
        Self {
            socket: UdpSocket::bind("127.0.0.1:0").await.expect("bind"),
            server: node.native,
            reassembler: Reassembler::new(ReassemblyLimits::default()),
        }
    }

    /// Sends one message (requests here fit one datagram).
    pub(crate) async fn send(&self, message: &Message) {
        self.socket
            .send_to(&message.to_bytes(), self.server)
            .await
            .expect("send");
    }

    /// Waits up to `wait` for one whole answer's bytes.
    pub(crate) async fn recv_within(&mut self, wait: Duration) -> Option<Vec<u8>> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut buf = [0u8; 2048];
        loop {
            let (n, peer) = tokio::time::timeout_at(deadline, self.socket.recv_from(&mut buf))
                .await
                .ok()?
                .expect("receive");
            if let Some(whole) = self
                .reassembler
                .push(peer, &buf[..n], Instant::now())
                .expect("well-formed datagrams")
            {
                return Some(whole);
            }
        }
    }

    /// Takes every datagram already received, without waiting; returns their total size.
    pub(crate) fn drain(&self) -> usize {
        let mut buf = [0u8; 2048];
        let mut total = 0;
        while let Ok((n, _)) = self.socket.try_recv_from(&mut buf) {
            total += n;
        }
        total
    }

    /// Sends one message and waits for its answer.
    pub(crate) async fn call(&mut self, message: &Message) -> Message {
        self.send(message).await;
        decode(&self.recv_within(PATIENCE).await.expect("a UDP answer"))
    }
}

/// Sends one message through the HTTP tunnel and returns the answer messages' bytes.
pub(crate) async fn tunnel(node: &TestNode, message: &Message) -> Vec<Vec<u8>> {
    let (status, body) = http(
        node,
        "POST",
        "/",
        &[("Content-Type", "application/x-hdl-message")],
        &message.to_bytes(),
    )
    .await;
    assert_eq!(status, 200, "tunnel status");
    let mut rest = body.as_slice();
    let mut out = Vec::new();
    while rest.len() >= 20 {
        let len = u32::from_be_bytes([rest[16], rest[17], rest[18], rest[19]]) as usize;
        out.push(rest[..20 + len].to_vec());
        rest = &rest[20 + len..];
    }
    out
}

/// Whether the server closes `stream` within `within` (reads until EOF or an error).
pub(crate) async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// One HTTP/1.1 exchange on a new connection: the status and the body.
pub(crate) async fn http(
    node: &TestNode,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(node.http).await.expect("connect");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        node.http,
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.expect("write");
    stream.write_all(body).await.expect("write");
    let mut reply = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut reply))
        .await
        .expect("an HTTP answer in time")
        .expect("read");
    let at = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header end")
        + 4;
    let status: u16 = std::str::from_utf8(&reply[9..12])
        .expect("status")
        .parse()
        .expect("numeric status");
    let head = String::from_utf8_lossy(&reply[..at]).to_ascii_lowercase();
    let mut body = reply[at..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    (status, body)
}

fn dechunk(mut bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = bytes.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(std::str::from_utf8(&bytes[..end]).unwrap().trim(), 16)
            .expect("chunk size");
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&bytes[end + 2..end + 2 + size]);
        bytes = &bytes[end + 2 + size + 2..];
    }
}

/// `Authorization: Basic` of the administrator.
pub(crate) fn admin_basic() -> String {
    use base64::Engine as _;
    let user = format!("{ADMIN_INDEX}%3A{ADMIN}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{ADMIN_SECRET}"))
    )
}

/// `GET /api/handles/{handle}` as the administrator (all values): the status and the JSON.
pub(crate) async fn rest_get(node: &TestNode, handle: &str) -> (u16, Value) {
    let auth = admin_basic();
    let (status, body) = http(
        node,
        "GET",
        &format!("/api/handles/{handle}?publicOnly=false"),
        &[("Authorization", &auth), ("Accept", "application/json")],
        b"",
    )
    .await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// The values of a REST resolution as handle values.
pub(crate) fn rest_values(record: &Value) -> Vec<HandleValue> {
    record["values"]
        .as_array()
        .unwrap_or_else(|| panic!("no values in {record}"))
        .iter()
        .map(|v| idnode_proto::json::value_from_json(v).expect("a REST value"))
        .collect()
}

/// The `HS_SITE` of `handle` at `node` (DNRF, so an absent handle is RC 100), or `None`.
pub(crate) async fn site_at(node: &TestNode, handle: &str) -> Option<idnode_proto::SiteInfo> {
    let mut tcp = Tcp::connect(node).await;
    let answer = tcp
        .call(&request(
            resolution(handle),
            OpFlags::PO.with(OpFlags::DNRF),
            1,
            0,
        ))
        .await;
    if rc(&answer) != ResponseCode::Success {
        return None;
    }
    let Body::Resolved(r) = answer.body else {
        return None;
    };
    r.values
        .iter()
        .find(|v| v.value_type == "HS_SITE")
        .and_then(|v| idnode_proto::SiteInfo::from_bytes(&v.data).ok())
}

/// The site information a node publishes at `GET /api/site`.
pub(crate) async fn site_of(node: &TestNode) -> idnode_proto::SiteInfo {
    let (status, body) = http(node, "GET", "/api/site", &[], b"").await;
    assert_eq!(status, 200);
    let json: Value = serde_json::from_slice(&body).expect("JSON");
    idnode_proto::SiteInfo::from_json(&json["site"]).expect("site information")
}
