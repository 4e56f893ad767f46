//! Message bodies (§4): one variant per request operation and per response layout.
//!
//! Which layout a body has depends on the header: the response code tells requests (0) from
//! responses, and the operation code and response code together choose the layout, as in CNRI
//! `Encoder.decodeMessage`. The request digest that starts a response body when RD is set is
//! kept in `Message::request_digest`, not here.

use super::header::{Header, OpCode, OpFlags};
use crate::admin::ValueRef;
use crate::codec::{DecodeError, MAX_ARRAY_LEN, Reader, Writer};
use crate::rc::ResponseCode;
use crate::site::SiteInfo;
use crate::value::{HandleValue, MAX_VALUES};

/// The smallest encoding of a handle value: five fixed fields and three empty lengths.
const MIN_VALUE_LEN: usize = 4 + 4 + 1 + 4 + 1 + 4 + 4 + 4;

/// An OC 1 resolution request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ResolutionRequest {
    /// The handle, in the caller's spelling.
    pub handle: String,
    /// Requested indexes; empty together with `types` for all values.
    pub indexes: Vec<u32>,
    /// Requested types.
    pub types: Vec<String>,
}

/// The body of OC 100 (create), 102 (add) and 104 (modify): a handle and values.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ValuesRequest {
    /// The handle.
    pub handle: String,
    /// The values.
    pub values: Vec<HandleValue>,
}

/// An OC 103 remove-value request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct RemoveValueRequest {
    /// The handle.
    pub handle: String,
    /// The indexes of the values to remove.
    pub indexes: Vec<u32>,
}

/// An OC 200 answer to a challenge (§10.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChallengeAnswer {
    /// `HS_PUBKEY` or `HS_SECKEY`.
    pub auth_type: String,
    /// The identity: the key's handle and index.
    pub identity: ValueRef,
    /// The signature or MAC bytes; see `AuthResponse::parse` for their formats (§10.3).
    pub response: Vec<u8>,
}

/// An OC 201 request to verify a secret-key answer at the identity's home service (§10.4).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VerifyChallengeRequest {
    /// The identity whose secret made the answer.
    pub identity: ValueRef,
    /// The challenge nonce.
    pub nonce: Vec<u8>,
    /// The digest of the original request, length-prefixed as CNRI writes it or with an
    /// algorithm byte (§15 #5).
    pub orig_digest: super::digest::RequestDigest,
    /// The challenge answer bytes, algorithm code included.
    pub signed_response: Vec<u8>,
}

/// The key exchange of an OC 400 session setup (§10.5, CNRI `Common.KEY_EXCHANGE_*`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyExchange {
    /// Mode 1: the server encrypts the session key to this client public key.
    ClientKey(Vec<u8>),
    /// Mode 2: the client sends a key encrypted to the server's key later (OC 402).
    ServerKey,
    /// Mode 3: the server encrypts to the public key stored at this value reference.
    HandleKey(ValueRef),
    /// Mode 4: Diffie–Hellman; the client's DH public key (`DH_PUB_KEY` encoding).
    DiffieHellman(Vec<u8>),
    /// Any other mode; CNRI reads no further fields for it.
    Other(u16),
}

impl KeyExchange {
    /// The mode number.
    pub fn mode(&self) -> u16 {
        match self {
            Self::ClientKey(_) => 1,
            Self::ServerKey => 2,
            Self::HandleKey(_) => 3,
            Self::DiffieHellman(_) => 4,
            Self::Other(mode) => *mode,
        }
    }
}

/// An OC 400 session setup request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionSetupRequest {
    /// Requested session lifetime in seconds.
    pub timeout: u32,
    /// The identity the session is for (may be empty).
    pub identity: ValueRef,
    /// How the session key is agreed.
    pub exchange: KeyExchange,
}

/// The RC 1 answer to OC 400.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionSetupResponse {
    /// The key exchange mode.
    pub mode: u16,
    /// The encrypted session key, or the server's DH public key.
    pub data: Vec<u8>,
}

/// The RC 1 answer to OC 1.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ResolutionResponse {
    /// The handle, echoed as the request spelled it.
    pub handle: String,
    /// The values.
    pub values: Vec<HandleValue>,
}

/// An RC 302 or RC 303 referral (§8.4).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Referral {
    /// The referral handle; may be empty.
    pub handle: String,
    /// The `HS_SITE` / `HS_SERV` values, or `None` when the body ends after the handle.
    pub values: Option<Vec<HandleValue>>,
}

/// A message body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Body {
    /// OC 1 request.
    Resolution(ResolutionRequest),
    /// OC 2 request: usually the handle `/`.
    GetSiteInfo {
        /// The handle.
        handle: String,
    },
    /// OC 100 request.
    CreateHandle(ValuesRequest),
    /// OC 101 request.
    DeleteHandle {
        /// The handle.
        handle: String,
    },
    /// OC 102 request.
    AddValue(ValuesRequest),
    /// OC 103 request.
    RemoveValue(RemoveValueRequest),
    /// OC 104 request; values are matched by index.
    ModifyValue(ValuesRequest),
    /// OC 105 request: the prefix handle `0.NA/<P>`.
    ListHandles {
        /// The prefix handle.
        handle: String,
    },
    /// OC 200 request.
    ChallengeAnswer(ChallengeAnswer),
    /// OC 201 request.
    VerifyChallenge(VerifyChallengeRequest),
    /// OC 300 request: the prefix handle to home.
    HomeNa {
        /// The prefix handle.
        handle: String,
    },
    /// OC 301 request: the prefix handle to unhome.
    UnhomeNa {
        /// The prefix handle.
        handle: String,
    },
    /// OC 302 request.
    ListHomedNas {
        /// The handle.
        handle: String,
    },
    /// OC 400 request.
    SessionSetup(SessionSetupRequest),
    /// OC 401 request; the handle may be empty.
    SessionTerminate {
        /// The handle.
        handle: String,
    },
    /// OC 402 request: the session key encrypted to the server, or `None` for an empty body.
    SessionExchangeKey {
        /// The encrypted session key.
        encrypted_key: Option<Vec<u8>>,
    },
    /// OC 2001 (IDIS) key login: the identity to authenticate as (§13).
    Login {
        /// The identity.
        identity: ValueRef,
    },
    /// RC 1 to OC 1.
    Resolved(ResolutionResponse),
    /// RC 1 to OC 2: the raw site-info record, not length-prefixed.
    SiteInfo(SiteInfo),
    /// RC 1 to OC 100: the created (or, with MINT, minted) handle; CNRI sends it even
    /// without MINT.
    Created {
        /// The handle, or `None` for an empty body.
        handle: Option<String>,
    },
    /// RC 1 with no fields: OC 101–104, 300, 301, 401, 402 and 2001.
    Empty,
    /// RC 1 to OC 105 or OC 302: one message of the stream (CN set on all but the last).
    HandleList {
        /// The handles.
        handles: Vec<String>,
    },
    /// RC 1 to OC 201.
    VerifyChallengeResult {
        /// Whether the answer was valid (`0x01`).
        valid: bool,
    },
    /// RC 1 to OC 400.
    SessionSetupResult(SessionSetupResponse),
    /// RC 402 to any request: a challenge. Its envelope carries the new session id.
    Challenge {
        /// The nonce, 16 random bytes.
        nonce: Vec<u8>,
    },
    /// RC 302 or RC 303.
    Referral(Referral),
    /// Any other non-zero response code: `int4 len` + UTF-8 message.
    Error {
        /// The message, or `None` for an empty body.
        message: Option<String>,
    },
    /// The body of an operation this codec does not know (such as the replication codes
    /// 1000–1003), or of an RC 1 response to one, kept as bytes.
    Raw(Vec<u8>),
}

/// What is decoded from the bytes inside `BodyLength`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodedBody {
    pub(crate) request_digest: Option<super::digest::RequestDigest>,
    pub(crate) body: Body,
    pub(crate) trailing: Vec<u8>,
}

/// Reads `int4 n` + n × `int4`.
fn int_list(r: &mut Reader<'_>, what: &'static str) -> Result<Vec<u32>, DecodeError> {
    let n = r.count(MAX_ARRAY_LEN, 4, what)?;
    let mut list = Vec::with_capacity(n);
    for _ in 0..n {
        list.push(r.u32(what)?);
    }
    Ok(list)
}

/// Reads `int4 n` + n × `UTF8String`.
fn string_list(r: &mut Reader<'_>, what: &'static str) -> Result<Vec<String>, DecodeError> {
    let n = r.count(MAX_ARRAY_LEN, 4, what)?;
    let mut list = Vec::with_capacity(n);
    for _ in 0..n {
        list.push(r.str(what)?.to_owned());
    }
    Ok(list)
}

/// Reads `int4 n` + n × HandleValue.
fn values(r: &mut Reader<'_>) -> Result<Vec<HandleValue>, DecodeError> {
    let n = r.count(MAX_VALUES, MIN_VALUE_LEN, "value count")?;
    let mut list = Vec::with_capacity(n);
    for _ in 0..n {
        list.push(HandleValue::decode(r)?);
    }
    Ok(list)
}

fn handle(r: &mut Reader<'_>) -> Result<String, DecodeError> {
    Ok(r.str("handle")?.to_owned())
}

fn value_ref(r: &mut Reader<'_>) -> Result<ValueRef, DecodeError> {
    let handle = r.str("identity handle")?.to_owned();
    let index = r.u32("identity index")?;
    Ok(ValueRef { handle, index })
}

fn write_int_list(w: &mut Writer<'_>, list: &[u32]) {
    w.u32(list.len() as u32);
    for &i in list {
        w.u32(i);
    }
}

fn write_string_list(w: &mut Writer<'_>, list: &[String]) {
    w.u32(list.len() as u32);
    for s in list {
        w.str(s);
    }
}

fn write_values(out: &mut Vec<u8>, list: &[HandleValue]) {
    Writer::new(out).u32(list.len() as u32);
    for v in list {
        v.encode(out);
    }
}

impl Body {
    /// Decodes the bytes inside `BodyLength` as the header says. Bytes after the fields of the
    /// layout are returned as trailing bytes (§3.4: CNRI pads OC 400 bodies with two zero
    /// bytes), so that re-encoding reproduces the input.
    pub(crate) fn decode(header: &Header, bytes: &[u8]) -> Result<DecodedBody, DecodeError> {
        let mut r = Reader::new(bytes);
        let mut request_digest = None;
        let body = if header.is_response() {
            if header.flags.contains(OpFlags::RD) {
                request_digest = Some(super::digest::RequestDigest::decode(&mut r)?);
            }
            Self::decode_response(header, &mut r)?
        } else {
            Self::decode_request(header.opcode, &mut r)?
        };
        Ok(DecodedBody {
            request_digest,
            body,
            trailing: r.rest().to_vec(),
        })
    }

    fn decode_request(opcode: OpCode, r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match opcode {
            OpCode::Resolution => Self::Resolution(ResolutionRequest {
                handle: handle(r)?,
                indexes: int_list(r, "index list")?,
                types: string_list(r, "type list")?,
            }),
            OpCode::GetSiteInfo => Self::GetSiteInfo { handle: handle(r)? },
            OpCode::CreateHandle => Self::CreateHandle(ValuesRequest {
                handle: handle(r)?,
                values: values(r)?,
            }),
            OpCode::DeleteHandle => Self::DeleteHandle { handle: handle(r)? },
            OpCode::AddValue => Self::AddValue(ValuesRequest {
                handle: handle(r)?,
                values: values(r)?,
            }),
            OpCode::RemoveValue => Self::RemoveValue(RemoveValueRequest {
                handle: handle(r)?,
                indexes: int_list(r, "index list")?,
            }),
            OpCode::ModifyValue => Self::ModifyValue(ValuesRequest {
                handle: handle(r)?,
                values: values(r)?,
            }),
            OpCode::ListHandles => Self::ListHandles { handle: handle(r)? },
            OpCode::ResponseToChallenge => Self::ChallengeAnswer(ChallengeAnswer {
                auth_type: r.str("auth type")?.to_owned(),
                identity: value_ref(r)?,
                response: r.bytes("challenge response")?.to_vec(),
            }),
            OpCode::VerifyChallenge => Self::VerifyChallenge(VerifyChallengeRequest {
                identity: value_ref(r)?,
                nonce: r.bytes("nonce")?.to_vec(),
                orig_digest: super::digest::RequestDigest::decode(r)?,
                signed_response: r.bytes("signed response")?.to_vec(),
            }),
            OpCode::HomeNa => Self::HomeNa { handle: handle(r)? },
            OpCode::UnhomeNa => Self::UnhomeNa { handle: handle(r)? },
            OpCode::ListHomedNas => Self::ListHomedNas { handle: handle(r)? },
            OpCode::SessionSetup => {
                let mode = r.u16("key exchange mode")?;
                let timeout = r.u32("session timeout")?;
                let identity = value_ref(r)?;
                let exchange = match mode {
                    1 => KeyExchange::ClientKey(r.bytes("exchange public key")?.to_vec()),
                    2 => KeyExchange::ServerKey,
                    3 => KeyExchange::HandleKey(value_ref(r)?),
                    4 => KeyExchange::DiffieHellman(r.bytes("exchange public key")?.to_vec()),
                    other => KeyExchange::Other(other),
                };
                Self::SessionSetup(SessionSetupRequest {
                    timeout,
                    identity,
                    exchange,
                })
            }
            OpCode::SessionTerminate => Self::SessionTerminate { handle: handle(r)? },
            OpCode::SessionExchangeKey => Self::SessionExchangeKey {
                encrypted_key: if r.is_empty() {
                    None
                } else {
                    Some(r.bytes("encrypted session key")?.to_vec())
                },
            },
            OpCode::LoginIdSystem => Self::Login {
                identity: value_ref(r)?,
            },
            OpCode::Unknown(_) => Self::Raw(r.take(r.rest().len(), "body")?.to_vec()),
        })
    }

    fn decode_response(header: &Header, r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match header.response_code {
            ResponseCode::Success => match header.opcode {
                OpCode::Resolution => Self::Resolved(ResolutionResponse {
                    handle: handle(r)?,
                    values: values(r)?,
                }),
                OpCode::GetSiteInfo => Self::SiteInfo(SiteInfo::decode(r)?),
                OpCode::CreateHandle => Self::Created {
                    handle: if r.is_empty() { None } else { Some(handle(r)?) },
                },
                OpCode::DeleteHandle
                | OpCode::AddValue
                | OpCode::RemoveValue
                | OpCode::ModifyValue
                | OpCode::HomeNa
                | OpCode::UnhomeNa
                | OpCode::SessionTerminate
                | OpCode::SessionExchangeKey
                | OpCode::LoginIdSystem => Self::Empty,
                OpCode::ListHandles | OpCode::ListHomedNas => Self::HandleList {
                    handles: string_list(r, "handle list")?,
                },
                OpCode::VerifyChallenge => Self::VerifyChallengeResult {
                    valid: match r.u8("verification result")? {
                        0 => false,
                        1 => true,
                        _ => return Err(DecodeError::Invalid("verification result")),
                    },
                },
                OpCode::SessionSetup => Self::SessionSetupResult(SessionSetupResponse {
                    mode: r.u16("key exchange mode")?,
                    data: r.bytes("session setup data")?.to_vec(),
                }),
                OpCode::ResponseToChallenge | OpCode::Unknown(_) => {
                    Self::Raw(r.take(r.rest().len(), "body")?.to_vec())
                }
            },
            ResponseCode::ServiceReferral | ResponseCode::PrefixReferral => {
                let handle = handle(r)?;
                let values = if r.is_empty() { None } else { Some(values(r)?) };
                Self::Referral(Referral { handle, values })
            }
            ResponseCode::AuthenticationNeeded => Self::Challenge {
                nonce: r.bytes("nonce")?.to_vec(),
            },
            _ => Self::Error {
                message: if r.is_empty() {
                    None
                } else {
                    Some(r.str("error message")?.to_owned())
                },
            },
        })
    }

    /// Appends the body fields (without the request digest and without trailing bytes).
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Resolution(req) => {
                let mut w = Writer::new(out);
                w.str(&req.handle);
                write_int_list(&mut w, &req.indexes);
                write_string_list(&mut w, &req.types);
            }
            Self::GetSiteInfo { handle }
            | Self::DeleteHandle { handle }
            | Self::ListHandles { handle }
            | Self::HomeNa { handle }
            | Self::UnhomeNa { handle }
            | Self::ListHomedNas { handle }
            | Self::SessionTerminate { handle } => Writer::new(out).str(handle),
            Self::CreateHandle(req) | Self::AddValue(req) | Self::ModifyValue(req) => {
                Writer::new(out).str(&req.handle);
                write_values(out, &req.values);
            }
            Self::RemoveValue(req) => {
                let mut w = Writer::new(out);
                w.str(&req.handle);
                write_int_list(&mut w, &req.indexes);
            }
            Self::ChallengeAnswer(answer) => {
                let mut w = Writer::new(out);
                w.str(&answer.auth_type);
                answer.identity.encode(&mut w);
                w.bytes(&answer.response);
            }
            Self::VerifyChallenge(req) => {
                let mut w = Writer::new(out);
                req.identity.encode(&mut w);
                w.bytes(&req.nonce);
                req.orig_digest.encode(&mut w);
                w.bytes(&req.signed_response);
            }
            Self::SessionSetup(req) => {
                let mut w = Writer::new(out);
                w.u16(req.exchange.mode());
                w.u32(req.timeout);
                req.identity.encode(&mut w);
                match &req.exchange {
                    KeyExchange::ClientKey(key) | KeyExchange::DiffieHellman(key) => w.bytes(key),
                    KeyExchange::HandleKey(key_ref) => key_ref.encode(&mut w),
                    KeyExchange::ServerKey | KeyExchange::Other(_) => {}
                }
            }
            Self::SessionExchangeKey { encrypted_key } => {
                if let Some(key) = encrypted_key {
                    Writer::new(out).bytes(key);
                }
            }
            Self::Login { identity } => identity.encode(&mut Writer::new(out)),
            Self::Resolved(res) => {
                Writer::new(out).str(&res.handle);
                write_values(out, &res.values);
            }
            Self::SiteInfo(site) => out.extend_from_slice(&site.to_bytes()),
            Self::Created { handle } => {
                if let Some(handle) = handle {
                    Writer::new(out).str(handle);
                }
            }
            Self::Empty => {}
            Self::HandleList { handles } => write_string_list(&mut Writer::new(out), handles),
            Self::VerifyChallengeResult { valid } => out.push(u8::from(*valid)),
            Self::SessionSetupResult(res) => {
                let mut w = Writer::new(out);
                w.u16(res.mode);
                w.bytes(&res.data);
            }
            Self::Challenge { nonce } => Writer::new(out).bytes(nonce),
            Self::Referral(referral) => {
                Writer::new(out).str(&referral.handle);
                if let Some(values) = &referral.values {
                    write_values(out, values);
                }
            }
            Self::Error { message } => {
                if let Some(message) = message {
                    Writer::new(out).str(message);
                }
            }
            Self::Raw(bytes) => out.extend_from_slice(bytes),
        }
    }

    /// The operation code of a request body, or `None` for response bodies and raw bytes.
    pub fn request_opcode(&self) -> Option<OpCode> {
        Some(match self {
            Self::Resolution(_) => OpCode::Resolution,
            Self::GetSiteInfo { .. } => OpCode::GetSiteInfo,
            Self::CreateHandle(_) => OpCode::CreateHandle,
            Self::DeleteHandle { .. } => OpCode::DeleteHandle,
            Self::AddValue(_) => OpCode::AddValue,
            Self::RemoveValue(_) => OpCode::RemoveValue,
            Self::ModifyValue(_) => OpCode::ModifyValue,
            Self::ListHandles { .. } => OpCode::ListHandles,
            Self::ChallengeAnswer(_) => OpCode::ResponseToChallenge,
            Self::VerifyChallenge(_) => OpCode::VerifyChallenge,
            Self::HomeNa { .. } => OpCode::HomeNa,
            Self::UnhomeNa { .. } => OpCode::UnhomeNa,
            Self::ListHomedNas { .. } => OpCode::ListHomedNas,
            Self::SessionSetup(_) => OpCode::SessionSetup,
            Self::SessionTerminate { .. } => OpCode::SessionTerminate,
            Self::SessionExchangeKey { .. } => OpCode::SessionExchangeKey,
            Self::Login { .. } => OpCode::LoginIdSystem,
            _ => return None,
        })
    }
}
