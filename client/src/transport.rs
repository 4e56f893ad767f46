//! Sending one request to one server and reading its answer: UDP first, with the retry schedule
//! of the reference client, then TCP (handle-protocol.md §9).
//!
//! [`Transport`] is the seam between the client algorithm ([`crate::locate`]) and the network:
//! [`Network`] talks to real sockets; tests put faults in between.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::{Duration, Instant};

use idnode_proto::wire::udp::{Reassembler, ReassemblyLimits, split_datagrams};
use idnode_proto::wire::{self, ENVELOPE_LEN, HEADER_LEN, Message};
use idnode_proto::{Protocol, ServerInfo};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpStream, UdpSocket};

use crate::Error;

/// A boxed future, so that [`Transport`] stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An answer with the bytes that its credential covers.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The decoded message.
    pub message: Message,
    /// The header and body exactly as received (what a certified answer's signature covers).
    pub header_body: Vec<u8>,
}

/// Sends a request to a server and returns its answer: a response with the request's id and
/// operation.
pub trait Transport: Send + Sync {
    /// One exchange with `server`.
    fn exchange<'a>(
        &'a self,
        server: &'a ServerInfo,
        request: &'a Message,
    ) -> BoxFuture<'a, Result<Answer, Error>>;
}

/// How long to wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeouts {
    /// One wait per UDP attempt; the request is sent again before each. Empty: no UDP.
    pub udp: Vec<Duration>,
    /// The whole TCP exchange: connect, write and read.
    pub tcp: Duration,
}

impl Default for Timeouts {
    /// Shorter than the reference client's 500, 1000 and 1500 ms, because a node resolving for
    /// its clients would rather fail over to another server than keep one client waiting.
    fn default() -> Self {
        Self {
            udp: vec![Duration::from_millis(300), Duration::from_millis(600)],
            tcp: Duration::from_secs(3),
        }
    }
}

/// The transport over real sockets: a fresh UDP socket (or TCP connection) per exchange.
#[derive(Debug, Clone, Default)]
pub struct Network {
    timeouts: Timeouts,
}

impl Network {
    /// A transport with these timeouts.
    pub fn new(timeouts: Timeouts) -> Self {
        Self { timeouts }
    }

    async fn exchange_with(&self, server: &ServerInfo, request: &Message) -> Result<Answer, Error> {
        let ip = server.ip();
        let port = |protocol: Protocol| {
            server
                .interfaces
                .iter()
                .filter(|i| i.query && i.protocol == protocol)
                .find_map(|i| u16::try_from(i.port).ok())
                .map(|port| SocketAddr::new(ip, port))
        };
        let bytes = request.to_bytes();
        let mut last = None;
        if let Some(addr) = port(Protocol::Udp).filter(|_| !self.timeouts.udp.is_empty()) {
            match udp(addr, &bytes, request, &self.timeouts.udp).await {
                Ok(answer) => return Ok(answer),
                Err(e) => {
                    tracing::debug!(%addr, error = %e, "UDP failed; trying TCP");
                    last = Some(e);
                }
            }
        }
        if let Some(addr) = port(Protocol::Tcp) {
            return tcp(addr, &bytes, request, self.timeouts.tcp).await;
        }
        Err(last.unwrap_or_else(|| Error::NoServer {
            handle: String::new(),
            reason: format!("server {} offers no UDP or TCP query interface", ip),
        }))
    }
}

impl Transport for Network {
    fn exchange<'a>(
        &'a self,
        server: &'a ServerInfo,
        request: &'a Message,
    ) -> BoxFuture<'a, Result<Answer, Error>> {
        Box::pin(self.exchange_with(server, request))
    }
}

/// Checks that `bytes` is one whole answer to `request`.
fn answer_to(server: &str, bytes: &[u8], request: &Message) -> Result<Answer, Error> {
    let decoded = wire::decode(bytes).map_err(|e| Error::decode(server, e))?;
    let message = decoded.message;
    if message.envelope.request_id != request.envelope.request_id {
        return Err(Error::malformed(server, "the answer is to another request"));
    }
    if !message.header.is_response() {
        return Err(Error::malformed(server, "the answer is not a response"));
    }
    if message.header.opcode != request.header.opcode {
        return Err(Error::malformed(
            server,
            "the answer is to another operation",
        ));
    }
    if message.envelope.encrypted {
        return Err(Error::malformed(server, "the answer is encrypted"));
    }
    Ok(Answer {
        message,
        header_body: decoded.header_body.to_vec(),
    })
}

/// Whether `bytes` is a UDP answer to `request` with TC set and the body left out, which
/// tells the client to ask over TCP (RFC 3652 §2.2.1).
fn is_truncated_answer(bytes: &[u8], request: &Message) -> bool {
    wire::decode_envelope(bytes).is_ok_and(|envelope| {
        envelope.truncated
            && envelope.request_id == request.envelope.request_id
            && envelope.message_length as usize == HEADER_LEN + 4
    })
}

fn io(server: &str, e: std::io::Error) -> Error {
    Error::Io {
        server: server.to_owned(),
        message: e.to_string(),
    }
}

/// Sends `bytes` in datagrams and waits for the answer, once per entry of `schedule`.
/// Datagrams that are not (part of) the answer are ignored: anyone can send them.
async fn udp(
    addr: SocketAddr,
    bytes: &[u8],
    request: &Message,
    schedule: &[Duration],
) -> Result<Answer, Error> {
    let server = addr.to_string();
    let local: SocketAddr = if addr.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).await.map_err(|e| io(&server, e))?;
    socket.connect(addr).await.map_err(|e| io(&server, e))?;
    let datagrams = split_datagrams(bytes).map_err(|e| Error::decode(&server, e))?;
    let mut reassembler = Reassembler::new(ReassemblyLimits {
        max_partial: 2,
        ..ReassemblyLimits::default()
    });
    let mut buf = vec![0u8; 2048];
    for wait in schedule {
        for datagram in &datagrams {
            socket.send(datagram).await.map_err(|e| io(&server, e))?;
        }
        let deadline = tokio::time::Instant::now() + *wait;
        loop {
            let n = match tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await {
                Err(_) => break,
                Ok(Err(e)) => return Err(io(&server, e)),
                Ok(Ok(n)) => n,
            };
            let Ok(Some(message)) = reassembler.push((), &buf[..n], Instant::now()) else {
                continue;
            };
            if is_truncated_answer(&message, request) {
                // Too large for this server to send over UDP (its amplification policy):
                // ask again over TCP at once.
                return Err(Error::malformed(&server, "the answer was truncated"));
            }
            match answer_to(&server, &message, request) {
                Ok(answer) => return Ok(answer),
                Err(e) => tracing::debug!(error = %e, "ignoring a datagram"),
            }
        }
    }
    Err(Error::Timeout { server })
}

/// Reads one whole message (envelope and payload) from `stream`; the envelope decoder caps
/// the length at the protocol's message limit before anything is allocated for it.
pub(crate) async fn read_bytes(stream: &mut TcpStream, server: &str) -> Result<Vec<u8>, Error> {
    let mut envelope = [0u8; ENVELOPE_LEN];
    stream
        .read_exact(&mut envelope)
        .await
        .map_err(|e| io(server, e))?;
    let len = wire::decode_envelope(&envelope)
        .map_err(|e| Error::decode(server, e))?
        .message_length as usize;
    let mut message = envelope.to_vec();
    message.resize(ENVELOPE_LEN + len, 0);
    stream
        .read_exact(&mut message[ENVELOPE_LEN..])
        .await
        .map_err(|e| io(server, e))?;
    Ok(message)
}

/// Connects, writes `bytes`, and reads one answer, all within `limit`.
async fn tcp(
    addr: SocketAddr,
    bytes: &[u8],
    request: &Message,
    limit: Duration,
) -> Result<Answer, Error> {
    let server = addr.to_string();
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.map_err(|e| io(&server, e))?;
        stream.set_nodelay(true).map_err(|e| io(&server, e))?;
        stream.write_all(bytes).await.map_err(|e| io(&server, e))?;
        let message = read_bytes(&mut stream, &server).await?;
        answer_to(&server, &message, request)
    };
    match tokio::time::timeout(limit, exchange).await {
        Ok(result) => result,
        Err(_) => Err(Error::Timeout { server }),
    }
}
