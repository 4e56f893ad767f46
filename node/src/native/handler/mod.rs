//! The sans-IO core: one request message in, the response messages out.
//!
//! Decisions follow the reference server (CNRI `HandleServer`): responses are encoded at the
//! lower of 2.11 and the client's suggested version and suggest 2.11 (envelope bytes 2–3, from
//! 2.8 on); AT is set (this is a primary site); the header copies the request's flags,
//! recursion count and expiration; RD adds the digest of the request's header and body; CT adds
//! an `HS_SIGNED` credential (or an `HS_MAC` one inside a session). Writes are checked for what
//! needs no identity (homing, existence, value checks) before a challenge is sent, as the
//! reference server does, and nothing is written before the challenge is answered.

mod ops;
mod reply;

use self::ops::{operation, parse_handle, recursion};
use self::reply::{bare_error, decode_text};

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use idnode_certs::mac;
use idnode_proto::wire::{
    self, Body, Credential, Envelope, HS_MAC, HS_SIGNED, Header, KeyExchange, Message, OpCode,
    OpFlags, RequestDigest, SessionSetupResponse, Version, signed_input,
};
use idnode_proto::{DecodeError, Record, ResponseCode, TypeFilter, ValueRef, Writer};
use idnode_resolver::{Failure, Identity, Operation, Outcome, Request};
use rand::RngCore as _;

use super::answers::KEPT_FLAGS;
use super::session::{self, DhPublicKey, ENCRYPT_ALG_AES, Session};
use super::{MAX_PENDING, Native, Pending, auth};
use crate::core::Core;

/// Handles per LIST_HANDLES message, as the reference server sends them.
const LIST_CHUNK: usize = 50;

/// The message of RC 301.
const NOT_HOMED: &str = "That prefix doesn't live here";

/// Which transport a message came on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// One datagram (or a reassembled multi-packet message).
    Udp,
    /// A TCP connection.
    Tcp,
    /// An HTTP or HTTPS POST.
    Http,
}

/// Per-connection state.
#[derive(Debug)]
pub(crate) struct ConnCtx {
    /// The transport.
    pub(crate) transport: Transport,
    /// The peer.
    pub(crate) peer: SocketAddr,
    /// The identity of an IDIS login (OC 2001) on this connection.
    pub(crate) login: Option<Identity>,
    /// The session id of the login's challenge, which IDIS clients carry on later requests
    /// of the connection (handle-protocol.md §13).
    pub(crate) login_session: Option<u32>,
}

impl ConnCtx {
    /// A fresh connection context.
    pub(crate) fn new(transport: Transport, peer: SocketAddr) -> Self {
        Self {
            transport,
            peer,
            login: None,
            login_session: None,
        }
    }
}

/// The time of a request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Now {
    /// Epoch seconds, for value timestamps and quotas.
    pub(crate) unix: u32,
    /// Monotonic time, for challenge and session expiry.
    pub(crate) instant: Instant,
}

impl Now {
    /// The current time; only transports call this.
    pub(crate) fn current() -> Self {
        Self {
            unix: crate::core::unix_now(),
            instant: Instant::now(),
        }
    }
}

/// A decoded request with its header and body as received.
struct Req {
    msg: Message,
    header_body: Vec<u8>,
}

impl Req {
    fn flags(&self) -> OpFlags {
        self.msg.header.flags
    }

    /// The version of the answer: the lower of ours and the one the client suggests.
    fn version(&self) -> Version {
        self.msg.envelope.suggested_version().min(Version::V2_11)
    }
}

/// A response before encoding, with what the encoder must do to it.
struct Out {
    msg: Message,
    /// Sign (CT): with the session key when `session` is set, otherwise with the site key.
    certify: bool,
    /// Encrypt with the session of `msg.envelope.session_id`.
    encrypt: bool,
}

impl Native {
    /// Handles one whole message (envelope and payload) and returns the encoded responses: one
    /// message, several for streamed answers, none when nothing should be sent.
    pub(crate) async fn handle_message(
        &self,
        state: &Core,
        bytes: &[u8],
        ctx: &mut ConnCtx,
        now: Now,
    ) -> Vec<Vec<u8>> {
        let outs = self.dispatch_bytes(state, bytes, ctx, now).await;
        outs.into_iter()
            .map(|out| self.encode(state, out))
            .collect()
    }

    async fn dispatch_bytes(
        &self,
        state: &Core,
        bytes: &[u8],
        ctx: &mut ConnCtx,
        now: Now,
    ) -> Vec<Out> {
        let mut envelope = match Envelope::decode(bytes) {
            Ok(envelope) => envelope,
            Err(e) => {
                return vec![bare_error(
                    bytes,
                    ResponseCode::ProtocolError,
                    &e.to_string(),
                )];
            }
        };
        let payload = &bytes[wire::ENVELOPE_LEN.min(bytes.len())..];
        let plain;
        let payload = if envelope.encrypted {
            let key = self
                .sessions
                .lock()
                .ok()
                .and_then(|s| s.get(&envelope.session_id).map(|s| s.key.clone()));
            let Some(key) = key else {
                return vec![bare_error(
                    bytes,
                    ResponseCode::SessionTimeout,
                    "Session information not available or timed out; cannot decrypt",
                )];
            };
            let Some(decrypted) = session::decrypt(&key, payload) else {
                return vec![bare_error(
                    bytes,
                    ResponseCode::SessionFailed,
                    "Cannot decrypt the request with the session key",
                )];
            };
            plain = decrypted;
            envelope.encrypted = false;
            envelope.message_length = plain.len() as u32;
            &plain[..]
        } else {
            payload
        };
        let decoded = match wire::decode_message(envelope, payload) {
            Ok(decoded) => decoded,
            Err(e) => {
                let opcode = payload
                    .get(..4)
                    .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                let mut out = bare_error(bytes, ResponseCode::ProtocolError, &decode_text(&e));
                out.msg.header.opcode = OpCode::from_code(opcode);
                return vec![out];
            }
        };
        let req = Req {
            header_body: decoded.header_body.to_vec(),
            msg: decoded.message,
        };
        if req.msg.header.is_response() {
            return vec![self.error(&req, ResponseCode::ProtocolError, "Not a request")];
        }
        self.dispatch(state, req, ctx, now).await
    }

    async fn dispatch(&self, state: &Core, req: Req, ctx: &mut ConnCtx, now: Now) -> Vec<Out> {
        let session_id = req.msg.envelope.session_id;
        let opcode = req.msg.header.opcode;
        self.expire(now.instant);
        // CNRI: a session id that names neither a pending challenge nor a session is refused;
        // the session id of this connection's IDIS login is accepted.
        if session_id != 0
            && opcode != OpCode::ResponseToChallenge
            && ctx.login_session != Some(session_id)
        {
            let known_challenge = self
                .challenges
                .lock()
                .is_ok_and(|c| c.contains_key(&session_id));
            let known_session = self
                .sessions
                .lock()
                .is_ok_and(|s| s.contains_key(&session_id));
            if !known_challenge && !known_session {
                return vec![self.error(
                    &req,
                    ResponseCode::SessionTimeout,
                    "Invalid session id or session timed out",
                )];
            }
        }
        // A session MAC is checked (and its counter recorded) when the message arrives.
        let mut mac_identity = None;
        if let Some(credential) = &req.msg.credential
            && credential.credential_type == HS_MAC
        {
            match self.check_mac(&req, credential) {
                Ok(identity) => mac_identity = identity,
                Err(failure) => return vec![self.failure(&req, &failure)],
            }
        }
        let identity = ctx.login.clone().or(mac_identity);
        tracing::debug!(peer = %ctx.peer, op = ?opcode, session_id, authenticated = identity.is_some(), "native request");
        if ctx.transport == Transport::Udp && !allowed_on_udp(opcode) {
            return vec![self.error(
                &req,
                ResponseCode::ProtocolError,
                "This interface accepts only queries; use TCP or HTTP",
            )];
        }
        match &req.msg.body {
            Body::GetSiteInfo { .. } => {
                let site = crate::site::site_info(state);
                vec![self.respond(&req, ResponseCode::Success, Body::SiteInfo(site))]
            }
            Body::ChallengeAnswer(_) => self.answer(state, req, ctx, now).await,
            Body::VerifyChallenge(v) => {
                let handle = match state.resolver.parse_handle(&v.identity.handle) {
                    Ok(handle) => handle,
                    Err(f) => return vec![self.failure(&req, &f)],
                };
                if let Err(f) = state.resolver.require_homed(&handle) {
                    return vec![self.failure(&req, &f)];
                }
                match auth::verify_challenge(
                    &state.resolver,
                    &v.identity,
                    &v.nonce,
                    &v.orig_digest.digest,
                    &v.signed_response,
                ) {
                    Ok(valid) => vec![self.respond(
                        &req,
                        ResponseCode::Success,
                        Body::VerifyChallengeResult { valid },
                    )],
                    Err(f) => vec![self.failure(&req, &f)],
                }
            }
            Body::Login { .. } => {
                if ctx.login.is_some() {
                    return vec![self.error(&req, ResponseCode::Relogin, "Already logged in")];
                }
                // The IDIS SDK treats an immediate success as a failure: always challenge.
                vec![self.challenge(req, now)]
            }
            Body::SessionSetup(_) => vec![self.session_setup(&req, now)],
            Body::SessionTerminate { .. } => {
                if let Ok(mut sessions) = self.sessions.lock() {
                    sessions.remove(&session_id);
                }
                vec![self.respond(&req, ResponseCode::Success, Body::Empty)]
            }
            Body::SessionExchangeKey { .. } => vec![self.error(
                &req,
                ResponseCode::SessionFailed,
                "Only Diffie-Hellman key exchange (mode 4) is supported",
            )],
            _ => match operation(
                state,
                &req.msg.body,
                req.flags(),
                recursion(state, &req, ctx),
            ) {
                Ok(Some(op)) => self.run(state, req, op, identity, now).await,
                Ok(None) => vec![self.error(
                    &req,
                    ResponseCode::OperationNotSupported,
                    "Operation not supported",
                )],
                Err(failure) => vec![self.failure(&req, &failure)],
            },
        }
    }

    /// Runs an operation: with an identity, through the resolver; without one, the checks
    /// that need no identity, then a challenge when the operation needs one.
    async fn run(
        &self,
        state: &Core,
        req: Req,
        op: Operation,
        identity: Option<Identity>,
        now: Now,
    ) -> Vec<Out> {
        let needs_identity = !matches!(op, Operation::Resolve { .. });
        if !needs_identity {
            crate::metrics::tally::count(&crate::metrics::tally::NATIVE);
        }
        if identity.is_none() && needs_identity {
            if let Err(failure) = state.resolver.check_before_auth(&op) {
                return vec![self.failure(&req, &failure)];
            }
            return vec![self.challenge(req, now)];
        }
        // An anonymous, unfiltered resolution outside a session is kept in the answer cache;
        // the generation is noted before the store is read.
        let cacheable = identity.is_none()
            && req.msg.envelope.session_id == 0
            && matches!(&op, Operation::Resolve { filter, .. } if filter.is_all());
        let generation = cacheable.then(|| self.answers.generation());
        let request = Request {
            op,
            identity: identity.clone(),
            now: now.unix,
        };
        match state.resolver.handle(request).await {
            Ok(outcome) => self.outcome(&req, outcome, generation),
            Err(f) if f.rc == ResponseCode::AuthenticationNeeded && identity.is_none() => {
                if let Some(failure) = unreadable_without_identity(state, &req) {
                    return vec![self.failure(&req, &failure)];
                }
                vec![self.challenge(req, now)]
            }
            Err(f) => vec![self.failure(&req, &f)],
        }
    }

    /// The answers of an outcome; `generation` is set for answers the answer cache may keep.
    fn outcome(&self, req: &Req, outcome: Outcome, generation: Option<(u64, u64)>) -> Vec<Out> {
        match outcome {
            Outcome::Values { values, handle } => {
                let (body, spelled) = resolution_body(req, &values);
                if let Some(generation) = generation {
                    self.answers.insert(
                        &handle.key(),
                        spelled,
                        req.flags().contains(OpFlags::PO),
                        &body,
                        generation,
                    );
                }
                let restricted = Record::parse(&values)
                    .map(|r| r.iter().any(|v| !v.permissions().public_read()))
                    .unwrap_or(false);
                let mut out = self.respond(req, ResponseCode::Success, Body::Raw(body));
                if restricted && out.msg.envelope.version >= Version::V2_8 {
                    out.encrypt = true;
                }
                vec![out]
            }
            Outcome::Done { handle, .. } => {
                let body = match &req.msg.body {
                    Body::CreateHandle(c) => Body::Created {
                        handle: Some(if req.flags().contains(OpFlags::MINT) {
                            handle.as_str().to_owned()
                        } else {
                            c.handle.clone()
                        }),
                    },
                    _ => Body::Empty,
                };
                vec![self.respond(req, ResponseCode::Success, body)]
            }
            // Resolved elsewhere: answered alike, but kept out of the answer cache, which
            // commits here invalidate and remote changes do not.
            Outcome::Recursed { values, handle } => {
                let (body, spelled) = resolution_body(req, &values);
                if generation.is_some() {
                    self.answers.insert_recursed(
                        &handle.key(),
                        spelled,
                        &body,
                        idnode_client::cache::ttl_of_encoded(
                            &values,
                            u64::from(crate::core::unix_now()),
                        ),
                    );
                }
                vec![self.respond(req, ResponseCode::Success, Body::Raw(body))]
            }
            Outcome::Handles { handles, .. } => self.stream(req, handles),
            Outcome::Prefixes(prefixes) => self.stream(req, prefixes),
            _ => vec![self.error(req, ResponseCode::Error, "Unexpected outcome")],
        }
    }

    /// A list answer in messages of 50 handles, CN set on all but the last.
    fn stream(&self, req: &Req, handles: Vec<String>) -> Vec<Out> {
        let chunks: Vec<Vec<String>> = if handles.is_empty() {
            vec![Vec::new()]
        } else {
            handles.chunks(LIST_CHUNK).map(<[String]>::to_vec).collect()
        };
        let last = chunks.len() - 1;
        chunks
            .into_iter()
            .enumerate()
            .map(|(i, handles)| {
                let mut out =
                    self.respond(req, ResponseCode::Success, Body::HandleList { handles });
                out.msg.header.flags.set(OpFlags::CN, i != last);
                out
            })
            .collect()
    }

    /// Sends RC 402 with a nonce and the request digest, and remembers the request.
    fn challenge(&self, req: Req, now: Now) -> Out {
        let session_id = req.msg.envelope.session_id;
        let in_session = session_id != 0
            && self
                .sessions
                .lock()
                .is_ok_and(|s| s.contains_key(&session_id));
        let id = if in_session {
            session_id
        } else {
            self.next_id()
        };
        let mut nonce = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let digest = RequestDigest::for_version(req.version(), &req.header_body);
        let mut out = self.respond(
            &req,
            ResponseCode::AuthenticationNeeded,
            Body::Challenge {
                nonce: nonce.to_vec(),
            },
        );
        out.msg.header.flags |= OpFlags::RD;
        out.msg.request_digest = Some(digest.clone());
        out.msg.envelope.session_id = id;
        out.certify = false;
        if let Ok(mut challenges) = self.challenges.lock() {
            if challenges.len() >= MAX_PENDING {
                let oldest = challenges
                    .iter()
                    .min_by_key(|(_, p)| p.expires)
                    .map(|(k, _)| *k);
                if let Some(oldest) = oldest {
                    challenges.remove(&oldest);
                }
            }
            challenges.insert(
                id,
                Pending {
                    original: req.msg,
                    original_header_body: req.header_body,
                    nonce,
                    digest: digest.digest,
                    expires: now.instant + Duration::from_secs(self.config.challenge_timeout_secs),
                },
            );
        }
        out
    }

    /// OC 200: verifies the answer and runs the challenged request with the proven identity.
    /// The response carries the answer's request id and the original operation code.
    async fn answer(&self, state: &Core, answer: Req, ctx: &mut ConnCtx, now: Now) -> Vec<Out> {
        let Body::ChallengeAnswer(body) = &answer.msg.body else {
            return Vec::new();
        };
        let session_id = answer.msg.envelope.session_id;
        let pending = self
            .challenges
            .lock()
            .ok()
            .and_then(|mut c| c.remove(&session_id));
        let Some(pending) = pending.filter(|p| p.expires > now.instant) else {
            return vec![self.error(&answer, ResponseCode::AuthenTimeout, "")];
        };
        // The answer stands in for the original request from here on.
        let mut original = Req {
            msg: pending.original,
            header_body: pending.original_header_body,
        };
        original.msg.envelope.request_id = answer.msg.envelope.request_id;
        original.msg.header.expiration = answer.msg.header.expiration;
        let in_session = self
            .sessions
            .lock()
            .is_ok_and(|s| s.contains_key(&session_id));
        original.msg.envelope.session_id = if in_session { session_id } else { 0 };
        let identity =
            match auth::verify_answer(&state.resolver, body, &pending.nonce, &pending.digest) {
                Ok(identity) => identity,
                Err(failure) => return vec![self.failure(&original, &failure)],
            };
        if in_session
            && let Ok(mut sessions) = self.sessions.lock()
            && let Some(session) = sessions.get_mut(&session_id)
            && same_identity(&session.claimed, &identity.0)
        {
            session.authenticated = Some(identity.clone());
        }
        if let Body::Login { identity: claimed } = &original.msg.body {
            if !same_identity(claimed, &identity.0) {
                return vec![self.error(
                    &original,
                    ResponseCode::InvalidAdmin,
                    "Login identity does not match the answer",
                )];
            }
            if ctx.transport != Transport::Udp {
                ctx.login = Some(identity);
                ctx.login_session = Some(session_id);
            }
            return vec![self.respond(&original, ResponseCode::Success, Body::Empty)];
        }
        let recurse = recursion(state, &original, ctx);
        match operation(state, &original.msg.body, original.flags(), recurse) {
            Ok(Some(op)) => self.run(state, original, op, Some(identity), now).await,
            Ok(None) => vec![self.error(&original, ResponseCode::OperationNotSupported, "")],
            Err(failure) => vec![self.failure(&original, &failure)],
        }
    }

    /// OC 400 with Diffie–Hellman (mode 4); other modes and peers below 2.7 are refused.
    fn session_setup(&self, req: &Req, now: Now) -> Out {
        let Body::SessionSetup(setup) = &req.msg.body else {
            return self.error(req, ResponseCode::ProtocolError, "");
        };
        if req.version() < Version::V2_7 {
            return self.error(
                req,
                ResponseCode::InvalidSessionSetupRequest,
                "Sessions need protocol 2.7 or later",
            );
        }
        let KeyExchange::DiffieHellman(public) = &setup.exchange else {
            return self.error(
                req,
                ResponseCode::SessionFailed,
                "Only Diffie-Hellman key exchange (mode 4) is supported",
            );
        };
        let Some(client) = DhPublicKey::from_bytes(public) else {
            return self.error(req, ResponseCode::SessionFailed, "Invalid DH public key");
        };
        let mut private = [0u8; 48];
        rand::rngs::OsRng.fill_bytes(&mut private);
        let agreed = match session::agree(&client, &private) {
            Ok(agreed) => agreed,
            Err(rejected) => return self.error(req, ResponseCode::SessionFailed, rejected.0),
        };
        let lifetime = match setup.timeout {
            0 => self.config.max_session_secs,
            t => t.min(self.config.max_session_secs),
        };
        let id = self.next_id();
        if let Ok(mut sessions) = self.sessions.lock() {
            if sessions.len() >= MAX_PENDING {
                let oldest = sessions
                    .iter()
                    .min_by_key(|(_, s)| s.expires)
                    .map(|(k, _)| *k);
                if let Some(oldest) = oldest {
                    sessions.remove(&oldest);
                }
            }
            sessions.insert(
                id,
                Session::new(
                    setup.identity.clone(),
                    agreed.session_key,
                    now.instant + Duration::from_secs(u64::from(lifetime)),
                ),
            );
        }
        let mut data = ENCRYPT_ALG_AES.to_be_bytes().to_vec();
        data.extend_from_slice(&agreed.server_public.to_bytes());
        let mut out = self.respond(
            req,
            ResponseCode::Success,
            Body::SessionSetupResult(SessionSetupResponse { mode: 4, data }),
        );
        // CNRI's encoder reserves four bytes for the two-byte mode (§3.4).
        out.msg.body_padding = vec![0, 0];
        out.msg.envelope.session_id = id;
        out
    }

    /// Verifies an `HS_MAC` credential and records its counter; returns the session's
    /// authenticated identity, if any.
    fn check_mac(&self, req: &Req, credential: &Credential) -> Result<Option<Identity>, Failure> {
        let envelope = &req.msg.envelope;
        let mut sessions = self
            .sessions
            .lock()
            .map_err(|_| Failure::bare(ResponseCode::Error))?;
        let Some(session) = sessions.get_mut(&envelope.session_id) else {
            return Err(Failure::new(
                ResponseCode::SessionTimeout,
                "Invalid session id or session timed out",
            ));
        };
        if envelope.version < Version::V2_7
            || !credential.digest_alg.eq_ignore_ascii_case(b"HMAC-SHA256")
        {
            return Err(Failure::new(
                ResponseCode::InvalidSessionKey,
                "Session MACs must be HMAC-SHA256 (protocol 2.7 or later)",
            ));
        }
        let counter = credential.session_counter();
        let input = signed_input(envelope, counter, &req.header_body);
        if !mac::constant_time_eq(
            &mac::hmac_sha256(&session.key, &input),
            &credential.signature,
        ) {
            return Err(Failure::new(
                ResponseCode::InvalidSessionKey,
                "Session authentication failed",
            ));
        }
        if !session.accept_counter(counter) {
            return Err(Failure::new(
                ResponseCode::SessionMessageRejected,
                "Duplicate session counter",
            ));
        }
        Ok(session.authenticated.clone())
    }

    /// Drops expired challenges and sessions, at most once a second (each pass visits every
    /// entry).
    fn expire(&self, now: Instant) {
        let at = now.saturating_duration_since(self.epoch).as_millis() as u64;
        let last = self.last_expiry_ms.load(Ordering::Relaxed);
        if at < last.saturating_add(1000)
            || self
                .last_expiry_ms
                .compare_exchange(last, at, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        if let Ok(mut challenges) = self.challenges.lock() {
            // An expired challenge stays until its answer comes, for RC 405, within a bound.
            challenges.retain(|_, p| p.expires + Duration::from_secs(600) > now);
        }
        if let Ok(mut sessions) = self.sessions.lock() {
            sessions.retain(|_, s| s.expires > now);
        }
    }
}

/// Operations a query-only interface (UDP) accepts.
fn allowed_on_udp(opcode: OpCode) -> bool {
    matches!(
        opcode,
        OpCode::Resolution
            | OpCode::GetSiteInfo
            | OpCode::ResponseToChallenge
            | OpCode::VerifyChallenge
            | OpCode::SessionSetup
            | OpCode::SessionTerminate
    )
}

/// Whether two identity references are the same (handle ignoring ASCII case; index 0 in the
/// claim matches any index).
fn same_identity(claimed: &ValueRef, proven: &ValueRef) -> bool {
    claimed.handle.eq_ignore_ascii_case(&proven.handle)
        && (claimed.index == 0 || claimed.index == proven.index)
}

/// The body of a resolution answer: the handle as the request spelled it (also returned),
/// then the encoded values.
fn resolution_body<'r>(req: &'r Req, values: &[u8]) -> (Vec<u8>, &'r str) {
    let spelled = match &req.msg.body {
        Body::Resolution(r) => r.handle.as_str(),
        _ => "",
    };
    let mut body = Vec::with_capacity(4 + spelled.len() + values.len());
    Writer::new(&mut body).str(spelled);
    body.extend_from_slice(values);
    (body, spelled)
}

/// RC 401 for a resolution without PO that selects a value with neither public nor admin read,
/// which no identity may read (handle-protocol.md §4, CNRI `checkReadAccess`): the reference
/// answers so instead of challenging.
fn unreadable_without_identity(state: &Core, req: &Req) -> Option<Failure> {
    let Body::Resolution(r) = &req.msg.body else {
        return None;
    };
    if req.flags().contains(OpFlags::PO) {
        return None;
    }
    let handle = parse_handle(state, &r.handle).ok()?;
    let filter = TypeFilter {
        indexes: r.indexes.clone(),
        types: r.types.clone(),
    };
    state.resolver.unreadable_by_anyone(&handle, &filter)
}

#[cfg(test)]
mod tests {
    use idnode_proto::Handle;
    use idnode_proto::wire::{DigestAlg, HEADER_LEN};

    use super::ops::prefix_of;
    use super::reply::downgrade;
    use super::*;

    fn parses(text: &str) -> bool {
        Handle::parse(text).is_ok()
    }

    #[test]
    fn prefixes_and_downgrades() {
        assert_eq!(prefix_of("0.NA/88.118.8"), "88.118.8");
        assert_eq!(prefix_of("0.na/88.118.8"), "88.118.8");
        assert_eq!(prefix_of("88.118.8"), "88.118.8");
        assert_eq!(
            downgrade(ResponseCode::InvalidValue, Version::V2_3),
            ResponseCode::ValueAlreadyExists
        );
        assert_eq!(
            downgrade(ResponseCode::InvalidValue, Version::V2_11),
            ResponseCode::InvalidValue
        );
        assert!(parses("88.118.8/x"));
        assert_eq!(HEADER_LEN, 24);
        assert_eq!(DigestAlg::for_version(Version::V2_11), DigestAlg::Sha256);
    }
}
