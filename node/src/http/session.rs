//! `Authorization: Handle` challenge–response of the handle.net REST API
//! (`handle-rest-api.md` §6.3), and the sessions it creates; the sessions API that manages them
//! (§6.5) is `crate::api::sessions`.
//!
//! | step | exchange |
//! |---|---|
//! | challenge | every 401 answer of `/api/...` carries `WWW-Authenticate: Handle sessionId="…", nonce="…"` for a new (or the caller's still unauthenticated) session, besides `Basic realm="handle"`; `error="Identity not verified"` when credentials failed |
//! | answer | `Authorization: Handle sessionId, id, type, cnonce, alg, signature` (and `salt`, `iterations`, `length` for PBKDF2), signed over `nonce ‖ cnonce` |
//! | later | `Authorization: Handle sessionId="…"` alone authenticates |
//! | server authenticity | `Authorization: Handle cnonce="…"` (or a JSON `cnonce` on `POST /api/sessions`) makes the node add `serverAlg` and `serverSignature` over `nonce ‖ cnonce`, made with the key of its site information |
//!
//! | `type` | `alg` | `signature` |
//! |---|---|---|
//! | `HS_SECKEY` | `HMAC-SHA256`, `HMAC-SHA1` | `HMAC(secret, nonce ‖ cnonce)` |
//! | `HS_SECKEY` | `SHA1`, `SHA256`, `MD5` | `H(secret ‖ nonce ‖ cnonce ‖ secret)` |
//! | `HS_SECKEY` | `PBKDF2-HMAC-SHA1` | `HMAC-SHA1(PBKDF2-HMAC-SHA1(secret, salt, iterations, length bits), nonce ‖ cnonce)` |
//! | `HS_PUBKEY` | `SHA256`, `SHA1` (RSA), `Ed25519` | a signature of `nonce ‖ cnonce` by a key at the identity |
//!
//! The checks themselves are the native protocol's ([`idnode_certs::proof`]); the secret never leaves
//! the resolver. Sessions live in memory ([`Sessions`]): at most [`MAX_SESSIONS`], each ending
//! after [`SESSION_IDLE`] without use and at the latest [`SESSION_LIFETIME`] after it began.
//! A session id is 128 random bits and works like a bearer token; the table is keyed by the
//! SHA-256 digest of the id, which is compared in constant time, so lookups reveal nothing
//! about stored ids. A failed signature ends the session it was made in. As for Basic,
//! credentials count only over TLS (or over plain HTTP from loopback when
//! `http.allow_loopback_plain_writes` is set); the sessions API answers 403 otherwise.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{HeaderMap, Response};
use http_body_util::Full;
use idnode_certs::mac;
use idnode_proto::ValueRef;
use idnode_resolver::Identity;
use percent_encoding::percent_decode_str;
use rand::RngCore as _;
use rand::rngs::OsRng;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use super::{Auth, Http};
use idnode_certs::proof::{SecretMac, secret_mac_matches, signature_matches};

/// The most sessions kept at once.
pub(crate) const MAX_SESSIONS: usize = 10_000;
/// A session ends after this long without a request.
pub(crate) const SESSION_IDLE: Duration = Duration::from_secs(30 * 60);
/// A session ends this long after it began, however much it is used.
pub(crate) const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);

/// The length of the server's nonce.
const NONCE_LEN: usize = 16;
/// The longest accepted client nonce. The server signs `nonce ‖ cnonce` for anyone who asks,
/// so the part a caller chooses stays short and always follows 16 random bytes of ours.
const MAX_CNONCE_LEN: usize = 64;
/// The largest accepted body of `POST /api/sessions` and `PUT /api/sessions/this`.
pub(crate) const MAX_SESSION_BODY: usize = 16 << 10;
/// The `error` of a challenge after credentials failed, as the reference words it.
pub(crate) const NOT_VERIFIED: &str = "Identity not verified";

// -------------------------------------------------------------------------------------------
// Sessions.

/// One session in the table.
#[derive(Debug)]
struct Entry {
    /// SHA-256 of the session id, compared in constant time after the lookup.
    digest: [u8; 32],
    nonce: [u8; NONCE_LEN],
    cnonce: Option<Vec<u8>>,
    identity: Option<Identity>,
    created: Instant,
    last_used: Instant,
}

impl Entry {
    fn live(&self, now: Instant, idle: Duration, lifetime: Duration) -> bool {
        now.saturating_duration_since(self.last_used) < idle
            && now.saturating_duration_since(self.created) < lifetime
    }
}

/// What a caller learns about a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionView {
    /// The session id, as the client sends it.
    pub(crate) id: String,
    /// The server's nonce.
    pub(crate) nonce: [u8; NONCE_LEN],
    /// The client's nonce for the server's signature, if it sent one.
    pub(crate) cnonce: Option<Vec<u8>>,
    /// The identity the session proved, if any.
    pub(crate) identity: Option<Identity>,
}

/// The REST API's sessions, in memory and bounded.
#[derive(Debug)]
pub(crate) struct Sessions {
    table: Mutex<HashMap<[u8; 32], Entry>>,
    max: usize,
    idle: Duration,
    lifetime: Duration,
}

impl Default for Sessions {
    fn default() -> Self {
        Self::new(MAX_SESSIONS, SESSION_IDLE, SESSION_LIFETIME)
    }
}

impl Sessions {
    /// An empty table holding at most `max` sessions (at least one).
    pub(crate) fn new(max: usize, idle: Duration, lifetime: Duration) -> Self {
        Self {
            table: Mutex::new(HashMap::new()),
            max: max.max(1),
            idle,
            lifetime,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Entry>> {
        // A panic while the lock was held leaves only whole entries behind, so the table is
        // still consistent.
        self.table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts a session with a fresh nonce. When the table is full, expired sessions go first,
    /// then the least recently used unauthenticated one, and only when every session is
    /// authenticated the least recently used of those.
    pub(crate) fn create(
        &self,
        cnonce: Option<Vec<u8>>,
        identity: Option<Identity>,
        now: Instant,
    ) -> SessionView {
        let mut raw = [0u8; 16];
        OsRng.fill_bytes(&mut raw);
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let id = URL_SAFE_NO_PAD.encode(raw);
        let digest: [u8; 32] = Sha256::digest(raw).into();
        let mut table = self.lock();
        if table.len() >= self.max {
            let (idle, lifetime) = (self.idle, self.lifetime);
            table.retain(|_, e| e.live(now, idle, lifetime));
        }
        if table.len() >= self.max {
            let victim = table
                .iter()
                .min_by_key(|(_, e)| (e.identity.is_some(), e.last_used))
                .map(|(k, _)| *k);
            if let Some(victim) = victim {
                table.remove(&victim);
            }
        }
        table.insert(
            digest,
            Entry {
                digest,
                nonce,
                cnonce: cnonce.clone(),
                identity: identity.clone(),
                created: now,
                last_used: now,
            },
        );
        SessionView {
            id,
            nonce,
            cnonce,
            identity,
        }
    }

    /// Runs `f` on the live session `id`, marking it used; expired sessions are dropped.
    fn with<T>(&self, id: &str, now: Instant, f: impl FnOnce(&mut Entry) -> T) -> Option<T> {
        let digest = digest_of(id)?;
        let mut table = self.lock();
        let entry = table.get_mut(&digest)?;
        if !mac::constant_time_eq(&entry.digest, &digest) {
            return None;
        }
        if !entry.live(now, self.idle, self.lifetime) {
            table.remove(&digest);
            return None;
        }
        entry.last_used = now;
        Some(f(entry))
    }

    /// The live session `id`, marked as used.
    pub(crate) fn find(&self, id: &str, now: Instant) -> Option<SessionView> {
        self.with(id, now, |e| SessionView {
            id: id.to_owned(),
            nonce: e.nonce,
            cnonce: e.cnonce.clone(),
            identity: e.identity.clone(),
        })
    }

    /// Records the identity session `id` proved; `false` when the session is gone.
    pub(crate) fn set_identity(&self, id: &str, identity: Identity, now: Instant) -> bool {
        self.with(id, now, |e| e.identity = Some(identity))
            .is_some()
    }

    /// Records the client's nonce for the server's signature; `false` when the session is gone.
    pub(crate) fn set_cnonce(&self, id: &str, cnonce: Vec<u8>, now: Instant) -> bool {
        self.with(id, now, |e| e.cnonce = Some(cnonce)).is_some()
    }

    /// Ends session `id`; `false` when there was no such live session.
    pub(crate) fn remove(&self, id: &str, now: Instant) -> bool {
        let Some(digest) = digest_of(id) else {
            return false;
        };
        let mut table = self.lock();
        match table.remove(&digest) {
            Some(entry) => {
                mac::constant_time_eq(&entry.digest, &digest)
                    && entry.live(now, self.idle, self.lifetime)
            }
            None => false,
        }
    }

    /// The number of sessions held (expired ones included until they are swept).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether session `id` is in the table, without marking it used.
    #[cfg(test)]
    fn contains(&self, id: &str) -> bool {
        digest_of(id).is_some_and(|d| self.lock().contains_key(&d))
    }
}

/// The table key of a session id: SHA-256 of its 16 bytes, or `None` for a malformed id.
fn digest_of(id: &str) -> Option<[u8; 32]> {
    let raw = URL_SAFE_NO_PAD.decode(id.trim()).ok()?;
    (raw.len() == 16).then(|| Sha256::digest(&raw).into())
}

// -------------------------------------------------------------------------------------------
// The `Authorization: Handle` header.

/// The parameters of an `Authorization: Handle` header (or of a sessions API JSON body).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct HandleParams {
    pub(crate) session_id: Option<String>,
    /// `index:handle`, already percent-decoded when it came from a header.
    id: Option<String>,
    key_type: Option<String>,
    cnonce: Option<String>,
    alg: Option<String>,
    pub(crate) signature: Option<String>,
    salt: Option<String>,
    iterations: Option<String>,
    length: Option<String>,
}

impl HandleParams {
    /// Parses the part of a header after `Handle`: `name="value"` or `name=token` pairs
    /// separated by commas. Unknown names are ignored; `None` when the syntax is broken.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let mut out = Self::default();
        let mut rest = text;
        loop {
            rest = rest.trim_start_matches(|c: char| c == ',' || c.is_ascii_whitespace());
            if rest.is_empty() {
                return Some(out);
            }
            let name_end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                .unwrap_or(rest.len());
            if name_end == 0 {
                return None;
            }
            let name = &rest[..name_end];
            rest = rest[name_end..].trim_start();
            rest = rest.strip_prefix('=')?.trim_start();
            let value;
            if let Some(quoted) = rest.strip_prefix('"') {
                let mut text = String::new();
                let mut chars = quoted.char_indices();
                let mut end = None;
                while let Some((i, c)) = chars.next() {
                    match c {
                        '"' => {
                            end = Some(i + 1);
                            break;
                        }
                        '\\' => text.push(chars.next()?.1),
                        c => text.push(c),
                    }
                }
                rest = &quoted[end?..];
                value = text;
            } else {
                let end = rest
                    .find(|c: char| c == ',' || c.is_ascii_whitespace())
                    .unwrap_or(rest.len());
                value = rest[..end].to_owned();
                rest = &rest[end..];
            }
            out.set(name, value, true);
        }
    }

    /// Sets one parameter by its (case-insensitive) name; `from_header` percent-decodes `id`.
    fn set(&mut self, name: &str, value: String, from_header: bool) {
        let slot = match name.to_ascii_lowercase().as_str() {
            "sessionid" => &mut self.session_id,
            "id" => {
                let value = if from_header {
                    percent_decode_str(&value).decode_utf8_lossy().into_owned()
                } else {
                    value
                };
                self.id = Some(value);
                return;
            }
            "type" => &mut self.key_type,
            "cnonce" => &mut self.cnonce,
            "alg" => &mut self.alg,
            "signature" => &mut self.signature,
            "salt" => &mut self.salt,
            "iterations" => &mut self.iterations,
            "length" => &mut self.length,
            _ => return,
        };
        *slot = Some(value);
    }

    /// Fills the parameters still missing from a JSON object (string or number members; `id`
    /// is not percent-encoded there).
    pub(crate) fn fill_from_json(&mut self, body: &Value) {
        let Some(object) = body.as_object() else {
            return;
        };
        for (name, value) in object {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => continue,
            };
            let mut single = Self::default();
            single.set(name, text, false);
            self.merge_missing(single);
        }
    }

    fn merge_missing(&mut self, other: Self) {
        let pairs = [
            (&mut self.session_id, other.session_id),
            (&mut self.id, other.id),
            (&mut self.key_type, other.key_type),
            (&mut self.cnonce, other.cnonce),
            (&mut self.alg, other.alg),
            (&mut self.signature, other.signature),
            (&mut self.salt, other.salt),
            (&mut self.iterations, other.iterations),
            (&mut self.length, other.length),
        ];
        for (mine, theirs) in pairs {
            if mine.is_none() {
                *mine = theirs;
            }
        }
    }

    /// The client nonce, when it is valid base64 of 1 to [`MAX_CNONCE_LEN`] bytes.
    pub(crate) fn cnonce_bytes(&self) -> Option<Vec<u8>> {
        decode_b64(self.cnonce.as_deref()?).filter(|c| (1..=MAX_CNONCE_LEN).contains(&c.len()))
    }
}

pub(crate) fn decode_b64(text: &str) -> Option<Vec<u8>> {
    STANDARD.decode(text.trim()).ok()
}

/// The `Authorization` headers of a request split by scheme: the parameters of every `Handle`
/// one (the first occurrence of a parameter wins) and the credentials of the first `Basic`.
pub(crate) fn authorization(headers: &HeaderMap) -> (Option<HandleParams>, Option<String>) {
    let mut handle: Option<HandleParams> = None;
    let mut basic = None;
    for value in headers.get_all(header::AUTHORIZATION) {
        let Ok(value) = value.to_str() else {
            continue;
        };
        let (scheme, rest) = value
            .trim()
            .split_once(' ')
            .unwrap_or_else(|| (value.trim(), ""));
        if scheme.eq_ignore_ascii_case("handle") {
            // A header that does not parse contributes nothing.
            if let Some(params) = HandleParams::parse(rest) {
                match &mut handle {
                    Some(existing) => existing.merge_missing(params),
                    None => handle = Some(params),
                }
            }
        } else if scheme.eq_ignore_ascii_case("basic") && basic.is_none() {
            basic = Some(rest.trim().to_owned());
        }
    }
    (handle, basic)
}

// -------------------------------------------------------------------------------------------
// Verification.

/// Why a signed answer was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// A parameter is missing or malformed, or the type or algorithm is unknown.
    Malformed,
    /// The answer does not prove the identity.
    Wrong,
}

/// Checks a signed answer to the session's nonce and returns the proven identity.
pub(crate) async fn verify(
    state: &Arc<Http>,
    nonce: [u8; NONCE_LEN],
    params: &HandleParams,
) -> Result<Identity, Refused> {
    let field = |v: &Option<String>| v.clone().ok_or(Refused::Malformed);
    let identity = ValueRef::parse(&field(&params.id)?).ok_or(Refused::Malformed)?;
    let cnonce = params.cnonce_bytes().ok_or(Refused::Malformed)?;
    let signature = decode_b64(&field(&params.signature)?).ok_or(Refused::Malformed)?;
    let alg = field(&params.alg)?;
    let key_type = field(&params.key_type)?;
    let mut message = nonce.to_vec();
    message.extend_from_slice(&cnonce);
    let pbkdf2 = Pbkdf2Params::from(params)?;
    let state = Arc::clone(state);
    let secret_key = key_type.eq_ignore_ascii_case("HS_SECKEY");
    if !secret_key && !key_type.eq_ignore_ascii_case("HS_PUBKEY") {
        return Err(Refused::Malformed);
    }
    if secret_key && secret_kind(&alg, &pbkdf2).is_none() {
        return Err(Refused::Malformed);
    }
    // PBKDF2 is deliberately slow and the keys are read from the store: off the request threads.
    let checked = tokio::task::spawn_blocking(move || {
        if secret_key {
            let Some(kind) = secret_kind(&alg, &pbkdf2) else {
                return Err(Refused::Malformed);
            };
            return state
                .resolver
                .verify_secret_mac(&identity, |secret| {
                    secret_mac_matches(secret, &message, &kind, &signature)
                })
                .map_err(|_| Refused::Wrong);
        }
        let keys = state
            .resolver
            .public_keys(&identity)
            .map_err(|_| Refused::Wrong)?;
        if keys
            .iter()
            .any(|key| signature_matches(key, &identity.handle, &alg, &message, &signature))
        {
            Ok(Identity(identity))
        } else {
            Err(Refused::Wrong)
        }
    })
    .await;
    checked.unwrap_or(Err(Refused::Wrong))
}

/// The PBKDF2 parameters of an answer (`salt` base64, `iterations`, `length` in bits,
/// default 160).
#[derive(Debug, Clone, Default)]
struct Pbkdf2Params {
    salt: Option<Vec<u8>>,
    iterations: Option<u32>,
    length: u32,
}

impl Pbkdf2Params {
    fn from(params: &HandleParams) -> Result<Self, Refused> {
        let salt = match &params.salt {
            Some(s) => Some(decode_b64(s).ok_or(Refused::Malformed)?),
            None => None,
        };
        let number = |v: &Option<String>| match v {
            Some(s) => s
                .trim()
                .parse::<u32>()
                .map(Some)
                .map_err(|_| Refused::Malformed),
            None => Ok(None),
        };
        Ok(Self {
            salt,
            iterations: number(&params.iterations)?,
            length: number(&params.length)?.unwrap_or(160),
        })
    }
}

/// The secret-key answer an `alg` names (case, `-` and `_` ignored).
fn secret_kind<'a>(alg: &str, pbkdf2: &'a Pbkdf2Params) -> Option<SecretMac<'a>> {
    let squashed: String = alg
        .chars()
        .filter(|c| *c != '-' && *c != '_')
        .collect::<String>()
        .to_ascii_uppercase();
    Some(match squashed.as_str() {
        "HMACSHA256" => SecretMac::HmacSha256,
        "HMACSHA1" => SecretMac::HmacSha1,
        "SHA1" => SecretMac::Sha1Sandwich,
        "SHA256" => SecretMac::Sha256Sandwich,
        "MD5" => SecretMac::Md5Sandwich,
        "PBKDF2HMACSHA1" | "PBKDF2WITHHMACSHA1" => SecretMac::Pbkdf2HmacSha1 {
            salt: pbkdf2.salt.as_deref()?,
            iterations: pbkdf2.iterations?,
            key_length_bits: pbkdf2.length,
        },
        _ => return None,
    })
}

/// Authenticates a request by its `Authorization: Handle` parameters (the text after the
/// scheme): a signed answer in a session, or a session id alone.
pub(crate) async fn authenticate(state: &Arc<Http>, params: &str) -> Auth {
    let Some(params) = HandleParams::parse(params) else {
        return Auth::Rejected;
    };
    let Some(session_id) = params.session_id.clone() else {
        // Only a cnonce (or nothing usable): anonymous, and the challenge will use it.
        return if params.signature.is_some() {
            Auth::Rejected
        } else {
            Auth::Anonymous
        };
    };
    let now = Instant::now();
    let Some(session) = state.sessions.find(&session_id, now) else {
        return Auth::Rejected;
    };
    if params.signature.is_none() {
        return match session.identity {
            Some(identity) => Auth::Verified(identity),
            None => Auth::Anonymous,
        };
    }
    match verify(state, session.nonce, &params).await {
        Ok(identity) => {
            state
                .sessions
                .set_identity(&session_id, identity.clone(), now);
            Auth::Verified(identity)
        }
        Err(_) => {
            state.sessions.remove(&session_id, now);
            Auth::Rejected
        }
    }
}

// -------------------------------------------------------------------------------------------
// Challenges.

/// What a request said that shapes the challenge of a 401 answer: its session and cnonce.
#[derive(Debug, Clone, Default)]
pub(crate) struct ChallengeHint {
    pub(crate) session_id: Option<String>,
    pub(crate) cnonce: Option<Vec<u8>>,
}

impl ChallengeHint {
    /// Reads the hint from the request's `Authorization: Handle` headers.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Self {
        match authorization(headers).0 {
            Some(params) => Self {
                cnonce: params.cnonce_bytes(),
                session_id: params.session_id,
            },
            None => Self::default(),
        }
    }
}

/// Adds the challenges to a 401 answer: `Basic realm="handle"` (unless present) and
/// `Handle sessionId, nonce[, serverAlg, serverSignature][, error]`. The caller's session is
/// reused while it is live and unauthenticated; otherwise a new one begins.
pub(crate) fn add_challenge(
    state: &Http,
    response: &mut Response<Full<Bytes>>,
    hint: &ChallengeHint,
    failed: bool,
) {
    let now = Instant::now();
    let reused = hint
        .session_id
        .as_deref()
        .and_then(|id| state.sessions.find(id, now))
        .filter(|s| s.identity.is_none())
        .map(|mut s| {
            if let Some(cnonce) = &hint.cnonce {
                state.sessions.set_cnonce(&s.id, cnonce.clone(), now);
                s.cnonce = Some(cnonce.clone());
            }
            s
        });
    let session = reused.unwrap_or_else(|| state.sessions.create(hint.cnonce.clone(), None, now));
    let mut value = format!(
        "Handle sessionId=\"{}\", nonce=\"{}\"",
        session.id,
        STANDARD.encode(session.nonce)
    );
    if let Some((alg, signature)) = server_signature(state, &session) {
        value.push_str(&format!(
            ", serverAlg=\"{alg}\", serverSignature=\"{}\"",
            STANDARD.encode(signature)
        ));
    }
    if failed {
        value.push_str(&format!(", error=\"{NOT_VERIFIED}\""));
    }
    let headers = response.headers_mut();
    let has_basic = headers.get_all(header::WWW_AUTHENTICATE).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.trim_start().to_ascii_lowercase().starts_with("basic"))
    });
    if !has_basic {
        headers.append(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"handle\""),
        );
    }
    // Only base64 and fixed ASCII went into the value, so it is a valid header value.
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.append(header::WWW_AUTHENTICATE, value);
    }
}

/// The server's signature over `nonce ‖ cnonce` when the client sent a cnonce: the algorithm
/// as a client names it (`SHA256` for RSA, `Ed25519`) and the signature.
pub(crate) fn server_signature(
    state: &Http,
    session: &SessionView,
) -> Option<(&'static str, Vec<u8>)> {
    let cnonce = session.cnonce.as_ref()?;
    let mut message = session.nonce.to_vec();
    message.extend_from_slice(cnonce);
    let (alg, signature) = state.sign_as_site(&message)?;
    let alg = if alg == "SHA-256" { "SHA256" } else { alg };
    Some((alg, signature))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn vector(name: &str) -> Value {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../conformance/vectors/handle-rest")
            .join(name);
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    /// The recorded `Authorization: Handle` answer of exchange `n` and the nonce it answers.
    fn recorded_answer(file: &str, nonce_exchange: usize, n: usize) -> (Vec<u8>, HandleParams) {
        let v = vector(file);
        let exchanges = v["exchanges"].as_array().unwrap();
        let nonce_text = match exchanges[nonce_exchange]["response"]["body"]["nonce"].as_str() {
            Some(nonce) => nonce.to_owned(),
            None => {
                // The challenge of a 401: the nonce is in WWW-Authenticate.
                let headers = exchanges[nonce_exchange]["response"]["headers"]
                    .as_array()
                    .unwrap();
                let challenge = headers
                    .iter()
                    .filter(|h| h[0] == "WWW-Authenticate")
                    .map(|h| h[1].as_str().unwrap())
                    .find(|h| h.starts_with("Handle "))
                    .unwrap();
                let params = HandleParams::parse(&challenge["Handle ".len()..]).unwrap();
                assert!(params.session_id.is_some());
                let nonce = challenge.split("nonce=\"").nth(1).unwrap();
                nonce[..nonce.find('"').unwrap()].to_owned()
            }
        };
        let headers = exchanges[n]["request"]["headers"].as_array().unwrap();
        let auth = headers
            .iter()
            .find(|h| h[0] == "Authorization")
            .map(|h| h[1].as_str().unwrap())
            .unwrap();
        let params = HandleParams::parse(auth.strip_prefix("Handle ").unwrap()).unwrap();
        (STANDARD.decode(nonce_text).unwrap(), params)
    }

    fn message(nonce: &[u8], params: &HandleParams) -> Vec<u8> {
        [nonce.to_vec(), params.cnonce_bytes().unwrap()].concat()
    }

    #[test]
    fn recorded_hmac_sha256_answers_verify() {
        for (file, nonce_at, answer_at) in [
            ("session-seckey-hmac-sha256.json", 0, 1),
            ("challenge-then-handle-auth.json", 0, 1),
        ] {
            let (nonce, params) = recorded_answer(file, nonce_at, answer_at);
            assert_eq!(params.id.as_deref(), Some("300:88.118.8/ADMIN"));
            assert_eq!(params.key_type.as_deref(), Some("HS_SECKEY"));
            let pbkdf2 = Pbkdf2Params::from(&params).unwrap();
            let kind = secret_kind(params.alg.as_deref().unwrap(), &pbkdf2).unwrap();
            assert_eq!(kind, SecretMac::HmacSha256);
            let signature = decode_b64(params.signature.as_deref().unwrap()).unwrap();
            let m = message(&nonce, &params);
            assert!(
                secret_mac_matches(b"secret-pw", &m, &kind, &signature),
                "{file}"
            );
            assert!(
                !secret_mac_matches(b"secret-px", &m, &kind, &signature),
                "{file}"
            );
        }
    }

    #[test]
    fn recorded_rsa_sha256_answer_verifies() {
        let (nonce, params) = recorded_answer("session-pubkey-rsa-sha256.json", 0, 1);
        let v = vector("session-pubkey-rsa-sha256.json");
        let jwk = &v["seed"]["records"]["88.118.8/RSAADMIN"]["values"][1]["data"]["value"];
        let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
        let e = URL_SAFE_NO_PAD.decode(jwk["e"].as_str().unwrap()).unwrap();
        let key = idnode_proto::PublicKey::Rsa {
            exponent: e,
            modulus: n,
        };
        let signature = decode_b64(params.signature.as_deref().unwrap()).unwrap();
        let m = message(&nonce, &params);
        assert!(signature_matches(
            &key,
            "88.118.8/RSAADMIN",
            params.alg.as_deref().unwrap(),
            &m,
            &signature
        ));
        let mut other = m.clone();
        other[0] ^= 1;
        assert!(!signature_matches(
            &key,
            "88.118.8/RSAADMIN",
            "SHA256",
            &other,
            &signature
        ));
    }

    #[test]
    fn header_parameters() {
        let p = HandleParams::parse(
            "sessionId=\"abc\", id=\"300%3A88.118.8%2FADMIN\", type=\"HS_SECKEY\",cnonce=\"AAE=\", \
             alg=HMAC-SHA256, signature=\"x\\\"y\", unknown=\"z\"",
        )
        .unwrap();
        assert_eq!(p.session_id.as_deref(), Some("abc"));
        assert_eq!(p.id.as_deref(), Some("300:88.118.8/ADMIN"));
        assert_eq!(p.alg.as_deref(), Some("HMAC-SHA256"));
        assert_eq!(p.signature.as_deref(), Some("x\"y"));
        assert_eq!(p.cnonce_bytes(), Some(vec![0, 1]));
        assert_eq!(HandleParams::parse("").unwrap(), HandleParams::default());
        assert!(HandleParams::parse("sessionId=\"open").is_none());
        assert!(HandleParams::parse("=x").is_none());
        assert!(HandleParams::parse("sessionId").is_none());

        let mut q = HandleParams::parse("sessionId=\"s\"").unwrap();
        q.fill_from_json(&serde_json::json!({
            "sessionId": "other", "id": "300:88.118.8/A%41", "iterations": 10
        }));
        assert_eq!(q.session_id.as_deref(), Some("s"));
        // In JSON bodies the id is not percent-encoded.
        assert_eq!(q.id.as_deref(), Some("300:88.118.8/A%41"));
        assert_eq!(q.iterations.as_deref(), Some("10"));
    }

    #[test]
    fn algorithm_names() {
        let none = Pbkdf2Params::default();
        assert_eq!(secret_kind("hmac-sha1", &none), Some(SecretMac::HmacSha1));
        assert_eq!(secret_kind("SHA1", &none), Some(SecretMac::Sha1Sandwich));
        assert_eq!(secret_kind("PBKDF2-HMAC-SHA1", &none), None);
        let given = Pbkdf2Params {
            salt: Some(vec![1, 2]),
            iterations: Some(10),
            length: 160,
        };
        assert_eq!(
            secret_kind("PBKDF2-HMAC-SHA1", &given),
            Some(SecretMac::Pbkdf2HmacSha1 {
                salt: &[1, 2],
                iterations: 10,
                key_length_bits: 160
            })
        );
        assert_eq!(secret_kind("RSA", &given), None);
    }

    fn identity(name: &str) -> Identity {
        Identity(ValueRef::parse(name).unwrap())
    }

    #[test]
    fn sessions_expire_when_idle_and_when_old() {
        let sessions = Sessions::new(10, Duration::from_secs(60), Duration::from_secs(300));
        let t0 = Instant::now();
        let s = sessions.create(None, None, t0);
        assert_eq!(URL_SAFE_NO_PAD.decode(&s.id).unwrap().len(), 16);
        assert_eq!(
            sessions.find(&s.id, t0 + Duration::from_secs(59)),
            Some(s.clone())
        );
        // Used at 59 s, so still live at 118 s; idle past 60 s after that it is gone.
        assert!(
            sessions
                .find(&s.id, t0 + Duration::from_secs(118))
                .is_some()
        );
        assert!(
            sessions
                .find(&s.id, t0 + Duration::from_secs(179))
                .is_none()
        );
        assert_eq!(sessions.len(), 0);

        let s = sessions.create(None, None, t0);
        for minute in 1..5 {
            assert!(
                sessions
                    .find(&s.id, t0 + Duration::from_secs(minute * 59))
                    .is_some()
            );
        }
        assert!(
            sessions
                .find(&s.id, t0 + Duration::from_secs(300))
                .is_none()
        );
    }

    #[test]
    fn session_ids_must_match_exactly() {
        let sessions = Sessions::default();
        let now = Instant::now();
        let s = sessions.create(Some(vec![7]), None, now);
        assert!(sessions.find("", now).is_none());
        assert!(sessions.find("not base64!", now).is_none());
        let mut other = URL_SAFE_NO_PAD.decode(&s.id).unwrap();
        other[15] ^= 1;
        assert!(sessions.find(&URL_SAFE_NO_PAD.encode(other), now).is_none());
        assert!(sessions.set_identity(&s.id, identity("300:88.118.8/ADMIN"), now));
        let found = sessions.find(&s.id, now).unwrap();
        assert_eq!(found.identity, Some(identity("300:88.118.8/ADMIN")));
        assert_eq!(found.cnonce, Some(vec![7]));
        assert!(sessions.remove(&s.id, now));
        assert!(!sessions.remove(&s.id, now));
        assert!(sessions.find(&s.id, now).is_none());
    }

    #[test]
    fn a_full_table_evicts_unauthenticated_sessions_first() {
        let sessions = Sessions::new(3, Duration::from_secs(60), Duration::from_secs(600));
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let admin = sessions.create(None, Some(identity("300:88.118.8/ADMIN")), t0);
        let first = sessions.create(None, None, at(1));
        let second = sessions.create(None, None, at(2));
        let third = sessions.create(None, None, at(3));
        assert_eq!(sessions.len(), 3);
        assert!(sessions.contains(&admin.id));
        assert!(!sessions.contains(&first.id));
        assert!(sessions.contains(&second.id) && sessions.contains(&third.id));
        // Expired sessions are swept before anything live is evicted.
        let fourth = sessions.create(None, None, at(62));
        assert_eq!(sessions.len(), 2);
        assert!(!sessions.contains(&admin.id) && !sessions.contains(&second.id));
        assert!(sessions.contains(&third.id) && sessions.contains(&fourth.id));
        // When every session is authenticated, the least recently used one goes.
        let sessions = Sessions::new(2, Duration::from_secs(60), Duration::from_secs(600));
        let a = sessions.create(None, Some(identity("300:88.118.8/A")), at(1));
        let b = sessions.create(None, Some(identity("300:88.118.8/B")), at(2));
        assert!(sessions.find(&a.id, at(3)).is_some());
        let c = sessions.create(None, None, at(4));
        assert!(sessions.contains(&a.id) && sessions.contains(&c.id));
        assert!(!sessions.contains(&b.id));
    }

    proptest::proptest! {
        #[test]
        fn header_parsing_never_panics(text in "\\PC{0,200}") {
            let _ = HandleParams::parse(&text);
        }

        #[test]
        fn header_parsing_of_param_like_text(text in "[a-zA-Z =\",\\\\%]{0,80}") {
            let _ = HandleParams::parse(&text);
        }
    }
}
