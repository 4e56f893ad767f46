//! Authenticated requests (handle-protocol.md §10.2): a request sent over TCP, the server's
//! challenge (RC 402) answered with the identity's key on a new connection (as the reference
//! client does), and the final answer read back. This is how a secondary node changes its prefix handles at the top-level
//! node, with ordinary `CREATE`, `MODIFY_VALUE`, `ADD_VALUE` and `DELETE` requests.
//!
//! A [`Signer`] holds the identity and answers challenges: [`SecretKey`] with `HS_SECKEY`
//! (HMAC-SHA256, code `0x13`); the node supplies signers for `HS_PUBKEY` keys (RSA, SM2,
//! Ed25519) from its own key types.

use std::net::SocketAddr;
use std::time::Duration;

use idnode_certs::mac;
use idnode_proto::ResponseCode;
use idnode_proto::ValueRef;
use idnode_proto::wire::{
    self, AuthResponse, Body, ChallengeAnswer, HS_SECKEY, Message, OpCode, seckey_code,
};
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

use crate::Error;

/// An identity that answers challenges.
pub trait Signer: Send + Sync {
    /// The identity: the key's handle and index, such as `300:0.NA/88.118`.
    fn identity(&self) -> &ValueRef;
    /// The `authType` and `challengeResponse` bytes that answer a challenge whose signed
    /// input is `m` (`nonce ‖ requestDigest`).
    fn answer(&self, m: &[u8]) -> Result<(&'static str, Vec<u8>), String>;
}

/// An `HS_SECKEY` identity: a shared secret, answered with HMAC-SHA256.
pub struct SecretKey {
    identity: ValueRef,
    secret: Vec<u8>,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKey")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl SecretKey {
    /// The identity `identity` with `secret`.
    pub fn new(identity: ValueRef, secret: Vec<u8>) -> Self {
        Self { identity, secret }
    }
}

impl Signer for SecretKey {
    fn identity(&self) -> &ValueRef {
        &self.identity
    }

    fn answer(&self, m: &[u8]) -> Result<(&'static str, Vec<u8>), String> {
        let mac = mac::hmac_sha256(&self.secret, m);
        let response = AuthResponse::SecretMac {
            code: seckey_code::HMAC_SHA256,
            mac: &mac,
        };
        Ok((HS_SECKEY, response.to_bytes()))
    }
}

/// Reads one response from `stream`.
async fn read_message(stream: &mut TcpStream, server: &str) -> Result<Message, Error> {
    let bytes = crate::transport::read_bytes(stream, server).await?;
    let message = wire::decode(&bytes)
        .map_err(|e| Error::decode(server, e))?
        .message;
    if !message.header.is_response() {
        return Err(Error::malformed(server, "the answer is not a response"));
    }
    Ok(message)
}

/// Sends `request` to `addr` over TCP as `signer`, answering the challenge if one comes, and
/// returns the final answer (any response code; the caller decides what it means). The whole
/// exchange must finish within `limit`.
pub async fn send_as(
    addr: SocketAddr,
    request: &Message,
    signer: &dyn Signer,
    limit: Duration,
) -> Result<Message, Error> {
    let server = addr.to_string();
    let exchange = async {
        let io = |e: std::io::Error| Error::Io {
            server: server.clone(),
            message: e.to_string(),
        };
        let mut stream = TcpStream::connect(addr).await.map_err(io)?;
        stream.set_nodelay(true).map_err(io)?;
        stream.write_all(&request.to_bytes()).await.map_err(io)?;
        let answer = read_message(&mut stream, &server).await?;
        if answer.header.response_code != ResponseCode::AuthenticationNeeded {
            return Ok(answer);
        }
        let (Body::Challenge { nonce }, Some(digest)) = (&answer.body, &answer.request_digest)
        else {
            return Err(Error::malformed(
                &server,
                "a challenge without nonce or digest",
            ));
        };
        let m = [nonce.as_slice(), digest.digest.as_slice()].concat();
        let (auth_type, response) = signer.answer(&m).map_err(|reason| Error::Malformed {
            server: server.clone(),
            reason: format!("cannot answer the challenge: {reason}"),
        })?;
        let mut reply = request.clone();
        reply.header.opcode = OpCode::ResponseToChallenge;
        reply.envelope.session_id = answer.envelope.session_id;
        reply.envelope.request_id = request.envelope.request_id.wrapping_add(1) & 0x7FFF_FFFF;
        reply.credential = None;
        reply.body = Body::ChallengeAnswer(ChallengeAnswer {
            auth_type: auth_type.to_owned(),
            identity: signer.identity().clone(),
            response,
        });
        // A new connection: the reference server answers one request per connection and
        // closes it (handle-protocol.md §9); idnode keeps the challenge by its session id.
        drop(stream);
        let mut stream = TcpStream::connect(addr).await.map_err(io)?;
        stream.set_nodelay(true).map_err(io)?;
        stream.write_all(&reply.to_bytes()).await.map_err(io)?;
        read_message(&mut stream, &server).await
    };
    match tokio::time::timeout(limit, exchange).await {
        Ok(result) => result,
        Err(_) => Err(Error::Timeout { server }),
    }
}
