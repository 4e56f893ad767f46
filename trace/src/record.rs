//! Signed trace records: the I-JSON record, its JCS bytes and digest, and the compact JWS.
//!
//! A record (traceability design §8.2) carries one EPCIS 2.0 event as captured, its CBV 2.0
//! event hash, the node's log origin, the subject, a lifecycle step, the capture time, a random
//! salt and the digest of the previous record of the same subject. Its bytes are `JCS(record)`
//! ([`TraceRecord::to_bytes`]), its digest `SHA-256(bytes)` is the log entry, and the log leaf
//! is `SHA-256(0x00 ‖ digest)`.
//!
//! The signature is a compact JWS (RFC 7515, RFC 8037) with the protected header
//! `JCS({"alg":"EdDSA","kid":"<name>+<hex key ID>","typ":"hazchem-trace+json"})` and the record
//! bytes as payload. Verification checks the signature over the bytes first, then that the
//! payload is canonical (`JCS(parse(bytes)) == bytes`), then parses it; `alg` may be `EdDSA` or
//! `Ed25519`. [`verify_offline`] runs the whole offline check of §8.5 against a tlog-proof.
//!
//! Nothing here reads the clock or draws randomness: `recordedAt` and `salt` come from the
//! caller.
//!
//! The `eventHash` is the CBV 2.0 event hash of `event` under `context` ([`epcis`]).
//! [`TraceRecord::with_computed_event_hash`] fills it in and [`TraceRecord::check_event_hash`]
//! recomputes it (the optional step 5 of §8.5); [`TraceRecord::validate`] only checks its
//! form, so records stay verifiable without the hash algorithm, on which the signature does
//! not depend.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::epcis::{self, EpcisError};
use crate::jcs::{self, JcsError};
use crate::merkle::{self, Hash};
use crate::note::checkpoint::Checkpoint;
use crate::note::proof::TlogProof;
use crate::note::{self, NoteError, Verifiers, verify_ed25519};

/// The `kind` of version-1 records.
pub const RECORD_KIND: &str = "hazchem.trace/v1";

/// The JWS `typ` of record signatures.
pub const JWS_TYP: &str = "hazchem-trace+json";

/// The largest compact JWS accepted by [`RecordVerifier::verify`], in bytes.
pub const MAX_JWS_LEN: usize = 1 << 20;

/// Errors from building, signing and verifying records.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// A record field is invalid.
    #[error("invalid record: {0}")]
    Invalid(&'static str),
    /// The record JSON is not I-JSON or cannot be canonicalized.
    #[error("record JSON: {0}")]
    Json(#[from] JcsError),
    /// The record does not have the v1 shape.
    #[error("record shape: {0}")]
    Shape(#[source] serde_json::Error),
    /// The JWS is malformed.
    #[error("malformed JWS: {0}")]
    MalformedJws(&'static str),
    /// The JWS `kid` names no known record key.
    #[error("unknown record key {0:?}")]
    UnknownKey(String),
    /// The JWS signature does not verify.
    #[error("record signature does not verify")]
    BadSignature,
    /// The payload is not in JCS canonical form.
    #[error("record payload is not canonical JSON")]
    NotCanonical,
    /// The checkpoint note failed to parse or verify.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] NoteError),
    /// Fewer witnesses cosigned than the quorum requires.
    #[error("{got} witness cosignatures, quorum is {wanted}")]
    Quorum {
        /// Cosignatures verified.
        got: usize,
        /// Cosignatures required.
        wanted: usize,
    },
    /// The record's `log` is not the checkpoint origin, or the log key did not sign it.
    #[error("record log does not match the checkpoint: {0}")]
    WrongLog(&'static str),
    /// The inclusion proof does not verify.
    #[error("inclusion proof: {0}")]
    Inclusion(#[from] merkle::VerifyError),
    /// The CBV 2.0 event hash of the record's event cannot be computed.
    #[error("event hash: {0}")]
    EventHash(#[from] EpcisError),
    /// The record's `eventHash` is not the CBV 2.0 hash of its event.
    #[error("eventHash {stated} does not match the event, whose hash is {computed}")]
    EventHashMismatch {
        /// The record's `eventHash`.
        stated: String,
        /// The hash computed from `context` and `event`.
        computed: String,
    },
}

/// The lifecycle step a record describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lifecycle {
    /// Produced (commissioned).
    Produced,
    /// Packed or loaded.
    Packed,
    /// Stored.
    Stored,
    /// Sold.
    Sold,
    /// Transported.
    Transported,
    /// Used (consumed or transformed).
    Used,
    /// Disposed.
    Disposed,
    /// An incident or recall.
    Incident,
}

/// A version-1 trace record (design §8.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TraceRecord {
    /// The record version, 1.
    pub v: u32,
    /// The record kind, [`RECORD_KIND`].
    pub kind: String,
    /// The checkpoint origin of the node's log.
    pub log: String,
    /// The canonical subject identifier.
    pub subject: String,
    /// The lifecycle step.
    pub lifecycle: Lifecycle,
    /// The CBV 2.0 event hash `ni:///sha-256;<hex>?ver=CBV2.0`.
    pub event_hash: String,
    /// The JSON-LD context of the event.
    pub context: Value,
    /// One EPCIS 2.0 event, JSON-LD compact form, as captured.
    pub event: Map<String, Value>,
    /// Capture time, RFC 3339 UTC (`…Z`).
    pub recorded_at: String,
    /// 16 random bytes, base64url without padding.
    pub salt: String,
    /// Hex digest of the previous record of this subject, or `None`.
    pub prev: Option<String>,
}

impl TraceRecord {
    /// The CBV 2.0 event hash of `event` as the only event of an EPCIS document with the
    /// record's `context`.
    pub fn compute_event_hash(&self) -> Result<String, RecordError> {
        Ok(epcis::event_hash_in_context(&self.context, &self.event)?)
    }

    /// Returns the record with `event_hash` computed from `context` and `event`, for building
    /// records from captured events.
    pub fn with_computed_event_hash(mut self) -> Result<Self, RecordError> {
        self.event_hash = self.compute_event_hash()?;
        Ok(self)
    }

    /// Checks that `event_hash` is the CBV 2.0 hash of the event.
    pub fn check_event_hash(&self) -> Result<(), RecordError> {
        let computed = self.compute_event_hash()?;
        if computed != self.event_hash {
            return Err(RecordError::EventHashMismatch {
                stated: self.event_hash.clone(),
                computed,
            });
        }
        Ok(())
    }

    /// Checks the field formats.
    pub fn validate(&self) -> Result<(), RecordError> {
        if self.v != 1 {
            return Err(RecordError::Invalid("v must be 1"));
        }
        if self.kind != RECORD_KIND {
            return Err(RecordError::Invalid("unknown kind"));
        }
        check_shared(&self.log, &self.recorded_at)?;
        check_own(
            &self.subject,
            &self.event_hash,
            &self.salt,
            self.prev.as_deref(),
        )
    }

    /// The record bytes `JCS(record)`, after validating the fields.
    pub fn to_bytes(&self) -> Result<Vec<u8>, RecordError> {
        self.validate()?;
        let value = serde_json::to_value(self).map_err(RecordError::Shape)?;
        Ok(jcs::canonicalize(&value)?)
    }

    /// Parses canonical record bytes: they must be I-JSON, in JCS form, of the v1 shape, and
    /// valid.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, RecordError> {
        let value = jcs::parse(bytes)?;
        if jcs::canonicalize(&value)? != bytes {
            return Err(RecordError::NotCanonical);
        }
        let record: Self = serde_json::from_value(value.clone()).map_err(RecordError::Shape)?;
        record.validate()?;
        // The struct must not drop or reshape anything the bytes carry. When it serialises back
        // to the same JSON value, its canonical bytes are the (canonical) input; otherwise
        // compare the canonical bytes themselves.
        let same = serde_json::to_value(&record).is_ok_and(|again| again == value);
        if !same && record.to_bytes()? != bytes {
            return Err(RecordError::NotCanonical);
        }
        Ok(record)
    }
}

/// Checks the fields many records share: the log origin and the capture time.
fn check_shared(log: &str, recorded_at: &str) -> Result<(), RecordError> {
    if !note::is_valid_key_name(log) {
        return Err(RecordError::Invalid("log is not a valid origin"));
    }
    if !is_utc_timestamp(recorded_at) {
        return Err(RecordError::Invalid(
            "recordedAt is not an RFC 3339 UTC time",
        ));
    }
    Ok(())
}

/// Checks the fields of one record.
fn check_own(
    subject: &str,
    event_hash: &str,
    salt: &str,
    prev: Option<&str>,
) -> Result<(), RecordError> {
    if subject.is_empty() {
        return Err(RecordError::Invalid("empty subject"));
    }
    if !is_event_hash(event_hash) {
        return Err(RecordError::Invalid(
            "eventHash is not ni:///sha-256;<hex>?ver=CBV2.0",
        ));
    }
    let salt_ok = URL_SAFE_NO_PAD
        .decode(salt)
        .is_ok_and(|salt| salt.len() == 16);
    if !salt_ok {
        return Err(RecordError::Invalid("salt is not 16 bytes of base64url"));
    }
    if let Some(prev) = prev
        && !is_lower_hex(prev, 64)
    {
        return Err(RecordError::Invalid(
            "prev is not a lowercase hex SHA-256 digest",
        ));
    }
    Ok(())
}

/// Builds the bytes of records that share their log, context and capture time (the records of
/// one captured document) without serialising the shared parts once per record. The bytes are
/// exactly [`TraceRecord::to_bytes`] of the same record.
#[derive(Debug, Clone)]
pub struct RecordBuilder {
    /// `JCS(context)`.
    context: Vec<u8>,
    /// `JCS(log)`.
    log: Vec<u8>,
    /// `JCS(recorded_at)`.
    recorded_at: Vec<u8>,
}

/// The fields of one record built by a [`RecordBuilder`].
#[derive(Debug, Clone, Copy)]
pub struct RecordFields<'a> {
    /// The canonical subject identifier.
    pub subject: &'a str,
    /// The lifecycle step.
    pub lifecycle: Lifecycle,
    /// The CBV 2.0 event hash.
    pub event_hash: &'a str,
    /// `JCS(event)`, from [`jcs::canonicalize_object`].
    pub event: &'a [u8],
    /// 16 random bytes, base64url without padding.
    pub salt: &'a str,
    /// The digest of the subject's previous record.
    pub prev: Option<&'a Hash>,
}

impl RecordBuilder {
    /// A builder for records of the log `log` with this context and capture time.
    pub fn new(log: &str, context: &Value, recorded_at: &str) -> Result<Self, RecordError> {
        check_shared(log, recorded_at)?;
        Ok(Self {
            context: jcs::canonicalize(context)?,
            log: jcs_string(log)?,
            recorded_at: jcs_string(recorded_at)?,
        })
    }

    /// `JCS(record)` for a record with these fields and the shared ones, after validating them.
    pub fn bytes(&self, fields: &RecordFields<'_>) -> Result<Vec<u8>, RecordError> {
        let prev = fields.prev.map(Hash::to_hex);
        check_own(
            fields.subject,
            fields.event_hash,
            fields.salt,
            prev.as_deref(),
        )?;
        let lifecycle = serde_json::to_value(fields.lifecycle).map_err(RecordError::Shape)?;
        let mut out = Vec::with_capacity(self.context.len() + fields.event.len() + 512);
        // The members in JCS order (by UTF-16 code units; every name here is ASCII).
        let mut member = |name: &str, value: &[u8]| {
            out.push(if out.is_empty() { b'{' } else { b',' });
            out.push(b'"');
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"\":");
            out.extend_from_slice(value);
        };
        member("context", &self.context);
        member("event", fields.event);
        member("eventHash", &jcs_string(fields.event_hash)?);
        member("kind", &jcs_string(RECORD_KIND)?);
        member("lifecycle", &jcs::canonicalize(&lifecycle)?);
        member("log", &self.log);
        match &prev {
            Some(prev) => member("prev", &jcs_string(prev)?),
            None => member("prev", b"null"),
        }
        member("recordedAt", &self.recorded_at);
        member("salt", &jcs_string(fields.salt)?);
        member("subject", &jcs_string(fields.subject)?);
        member("v", b"1");
        out.push(b'}');
        Ok(out)
    }
}

/// The JCS form of a string.
fn jcs_string(text: &str) -> Result<Vec<u8>, RecordError> {
    Ok(jcs::canonicalize(&Value::String(text.to_owned()))?)
}

/// The record digest `SHA-256(record bytes)`, which is the log entry.
pub fn record_digest(bytes: &[u8]) -> Hash {
    Hash(Sha256::digest(bytes).into())
}

/// The log leaf hash of a record: `SHA-256(0x00 ‖ record digest)`.
pub fn record_leaf_hash(digest: &Hash) -> Hash {
    merkle::leaf_hash(&digest.0)
}

/// The JWS `kid` of a record key: `<name>+<hex key ID>`, with the C2SP Ed25519 key ID.
pub fn record_kid(name: &str, key: &VerifyingKey) -> String {
    let id = note::key_id(name, note::ALG_ED25519, key.as_bytes());
    format!("{name}+{}", note::format_key_id(id))
}

/// Signs records as compact JWS with EdDSA.
#[derive(Debug, Clone)]
pub struct RecordSigner {
    kid: String,
    key: SigningKey,
    /// The base64url protected header, the same for every record.
    header: String,
}

impl RecordSigner {
    /// Makes a signer for the record key `name`.
    pub fn new(name: &str, key: SigningKey) -> Result<Self, RecordError> {
        if !note::is_valid_key_name(name) {
            return Err(RecordError::Invalid("invalid record key name"));
        }
        let kid = record_kid(name, &key.verifying_key());
        let header = URL_SAFE_NO_PAD.encode(protected_header(&kid)?);
        Ok(Self { kid, key, header })
    }

    /// The JWS `kid`.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The matching verifier.
    pub fn verifier(&self) -> RecordVerifier {
        RecordVerifier {
            kid: self.kid.clone(),
            key: self.key.verifying_key(),
        }
    }

    /// The JCS protected header.
    pub fn protected_header(&self) -> Result<Vec<u8>, RecordError> {
        protected_header(&self.kid)
    }

    /// Signs a record, returning its bytes and the compact JWS.
    pub fn sign(&self, record: &TraceRecord) -> Result<SignedRecord, RecordError> {
        Ok(self.sign_bytes(record.to_bytes()?))
    }

    /// Signs record bytes that are already `JCS(record)` of a valid record, such as those of a
    /// [`RecordBuilder`].
    pub fn sign_bytes(&self, bytes: Vec<u8>) -> SignedRecord {
        let payload_len = bytes.len().div_ceil(3) * 4;
        let mut jws = String::with_capacity(self.header.len() + payload_len + 90);
        jws.push_str(&self.header);
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(&bytes, &mut jws);
        let signature = self.key.sign(jws.as_bytes());
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.to_bytes(), &mut jws);
        SignedRecord {
            digest: record_digest(&bytes),
            bytes,
            jws,
        }
    }
}

/// `JCS({"alg":"EdDSA","kid":kid,"typ":JWS_TYP})`.
fn protected_header(kid: &str) -> Result<Vec<u8>, RecordError> {
    let header = serde_json::json!({"alg": "EdDSA", "kid": kid, "typ": JWS_TYP});
    Ok(jcs::canonicalize(&header)?)
}

/// A record's bytes, digest and compact JWS, as produced by [`RecordSigner::sign`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRecord {
    /// `JCS(record)`.
    pub bytes: Vec<u8>,
    /// `SHA-256(bytes)`.
    pub digest: Hash,
    /// The compact JWS.
    pub jws: String,
}

/// Verifies record JWS for one record key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordVerifier {
    kid: String,
    key: VerifyingKey,
}

impl RecordVerifier {
    /// Makes a verifier for the record key `name`.
    pub fn new(name: &str, key: VerifyingKey) -> Result<Self, RecordError> {
        if !note::is_valid_key_name(name) {
            return Err(RecordError::Invalid("invalid record key name"));
        }
        Ok(Self {
            kid: record_kid(name, &key),
            key,
        })
    }

    /// The JWS `kid`.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Verifies a compact JWS made with this key (see [`verify_jws`]).
    pub fn verify(&self, jws: &str) -> Result<VerifiedRecord, RecordError> {
        verify_jws(jws, std::slice::from_ref(self))
    }
}

/// A record whose JWS verified and whose payload is canonical and valid.
///
/// It can only be made by [`verify_jws`].
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedRecord {
    record: TraceRecord,
    bytes: Vec<u8>,
    digest: Hash,
    kid: String,
}

impl VerifiedRecord {
    /// The record.
    pub fn record(&self) -> &TraceRecord {
        &self.record
    }

    /// The signed bytes, `JCS(record)`.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The record digest.
    pub fn digest(&self) -> Hash {
        self.digest
    }

    /// The log leaf hash.
    pub fn leaf_hash(&self) -> Hash {
        record_leaf_hash(&self.digest)
    }

    /// The `kid` of the key that signed it.
    pub fn kid(&self) -> &str {
        &self.kid
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProtectedHeader {
    alg: String,
    kid: String,
    typ: Option<String>,
}

/// Verifies a compact record JWS with the key its `kid` selects.
///
/// The signature is checked over the raw bytes before the payload is parsed; then the payload
/// must be canonical and a valid v1 record. `alg` may be `EdDSA` or `Ed25519`; `typ`, when
/// present, must be [`JWS_TYP`].
pub fn verify_jws(jws: &str, keys: &[RecordVerifier]) -> Result<VerifiedRecord, RecordError> {
    if jws.len() > MAX_JWS_LEN {
        return Err(RecordError::MalformedJws("too large"));
    }
    let mut parts = jws.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(RecordError::MalformedJws("not three parts"));
    };
    let header_bytes = URL_SAFE_NO_PAD
        .decode(header_b64)
        .map_err(|_| RecordError::MalformedJws("header is not base64url"))?;
    let header: ProtectedHeader = serde_json::from_value(jcs::parse(&header_bytes)?)
        .map_err(|_| RecordError::MalformedJws("unexpected protected header"))?;
    if header.alg != "EdDSA" && header.alg != "Ed25519" {
        return Err(RecordError::MalformedJws("alg is not EdDSA"));
    }
    if header.typ.as_deref().is_some_and(|typ| typ != JWS_TYP) {
        return Err(RecordError::MalformedJws("unexpected typ"));
    }
    let key = keys
        .iter()
        .find(|k| k.kid == header.kid)
        .ok_or_else(|| RecordError::UnknownKey(header.kid.clone()))?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| RecordError::MalformedJws("signature is not base64url"))?;
    let signing_input_len = header_b64.len() + 1 + payload_b64.len();
    let signing_input = &jws.as_bytes()[..signing_input_len];
    if !verify_ed25519(key.key.as_bytes(), signing_input, &signature) {
        return Err(RecordError::BadSignature);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(payload_b64)
        .map_err(|_| RecordError::MalformedJws("payload is not base64url"))?;
    let record = TraceRecord::from_bytes(&bytes)?;
    Ok(VerifiedRecord {
        digest: record_digest(&bytes),
        record,
        bytes,
        kid: header.kid,
    })
}

/// A record proven to be in a witnessed log checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedInclusion {
    /// The verified record.
    pub record: VerifiedRecord,
    /// The checkpoint it is included in.
    pub checkpoint: Checkpoint,
    /// The leaf index.
    pub index: u64,
    /// The names of the witnesses whose cosignatures verified.
    pub witnesses: Vec<String>,
}

/// The offline verification of design §8.5: the record JWS, then the checkpoint's log signature
/// and witness quorum, then the inclusion proof of the record's leaf.
///
/// `log` must hold the log's Ed25519 key (its name is the origin); `witnesses` holds
/// `cosignature/v1` keys, of which at least `quorum` must have cosigned.
pub fn verify_offline(
    jws: &str,
    proof: &TlogProof,
    record_keys: &[RecordVerifier],
    log: &note::Verifier,
    witnesses: &[note::Verifier],
    quorum: usize,
) -> Result<VerifiedInclusion, RecordError> {
    let record = verify_jws(jws, record_keys)?;
    if record.record.log != log.name() {
        return Err(RecordError::WrongLog(
            "record log is not the log key's name",
        ));
    }
    let mut keys = Verifiers::new(vec![log.clone()]);
    for witness in witnesses {
        keys.push(witness.clone());
    }
    let verified = proof.checkpoint.verify(&keys)?;
    if !verified.is_signed_by(log.name(), log.key_id()) {
        return Err(RecordError::WrongLog(
            "checkpoint not signed by the log key",
        ));
    }
    let checkpoint = Checkpoint::parse(verified.text())?;
    if checkpoint.origin != record.record.log {
        return Err(RecordError::WrongLog(
            "checkpoint origin is not the record log",
        ));
    }
    let cosigned: Vec<String> = witnesses
        .iter()
        .filter(|w| verified.is_signed_by(w.name(), w.key_id()))
        .map(|w| w.name().to_owned())
        .collect();
    if cosigned.len() < quorum {
        return Err(RecordError::Quorum {
            got: cosigned.len(),
            wanted: quorum,
        });
    }
    merkle::verify_inclusion(
        proof.index,
        checkpoint.size,
        &record.leaf_hash(),
        &proof.proof,
        &checkpoint.root,
    )?;
    Ok(VerifiedInclusion {
        record,
        checkpoint,
        index: proof.index,
        witnesses: cosigned,
    })
}

fn is_lower_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn is_event_hash(text: &str) -> bool {
    text.strip_prefix("ni:///sha-256;")
        .and_then(|rest| rest.strip_suffix("?ver=CBV2.0"))
        .is_some_and(|hex| is_lower_hex(hex, 64))
}

/// Checks `YYYY-MM-DDTHH:MM:SS[.fraction]Z` with plausible field ranges.
fn is_utc_timestamp(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() < 20 || bytes[bytes.len() - 1] != b'Z' {
        return false;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let slice = text.get(range)?;
        if slice.bytes().all(|b| b.is_ascii_digit()) {
            slice.parse().ok()
        } else {
            None
        }
    };
    let shape = bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes[10] == b'T'
        && bytes[13] == b':'
        && bytes[16] == b':';
    let fields = (
        digits(0..4),
        digits(5..7),
        digits(8..10),
        digits(11..13),
        digits(14..16),
        digits(17..19),
    );
    let (Some(_), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = fields else {
        return false;
    };
    let Some(fraction) = text.get(19..text.len() - 1) else {
        return false;
    };
    let fraction_ok = fraction.is_empty()
        || (fraction.len() >= 2
            && fraction.starts_with('.')
            && fraction[1..].bytes().all(|b| b.is_ascii_digit()));
    shape
        && (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && hour < 24
        && minute < 60
        && second < 61
        && fraction_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TraceRecord {
        TraceRecord {
            v: 1,
            kind: RECORD_KIND.to_owned(),
            log: "example.org/log".to_owned(),
            subject: "https://id.gs1.org/01/09506000134352/21/1".to_owned(),
            lifecycle: Lifecycle::Stored,
            event_hash: format!("ni:///sha-256;{}?ver=CBV2.0", "0".repeat(64)),
            context: Value::Array(vec![]),
            event: Map::new(),
            recorded_at: "2026-01-01T00:00:05Z".to_owned(),
            salt: URL_SAFE_NO_PAD.encode([7u8; 16]),
            prev: None,
        }
    }

    #[test]
    fn sign_verify_and_reject_tampering() {
        let signer = RecordSigner::new("example.org/records", SigningKey::from_bytes(&[9; 32]))
            .expect("signer");
        let signed = signer.sign(&sample()).expect("sign");
        let verified = signer.verifier().verify(&signed.jws).expect("verify");
        assert_eq!(verified.record(), &sample());
        assert_eq!(verified.digest(), signed.digest);
        let mut parts: Vec<&str> = signed.jws.split('.').collect();
        let other = URL_SAFE_NO_PAD.encode(br#"{"v":1}"#);
        parts[1] = &other;
        assert!(matches!(
            signer.verifier().verify(&parts.join(".")),
            Err(RecordError::BadSignature)
        ));
        let stranger = RecordVerifier::new("x", SigningKey::from_bytes(&[1; 32]).verifying_key())
            .expect("verifier");
        assert!(matches!(
            stranger.verify(&signed.jws),
            Err(RecordError::UnknownKey(_))
        ));
        assert!(signer.verifier().verify("a.b").is_err());
        assert!(signer.verifier().verify("a.b.c.d").is_err());
    }

    #[test]
    fn rejects_invalid_fields_and_non_canonical_bytes() {
        let mut bad = sample();
        bad.salt = "short".to_owned();
        assert!(bad.to_bytes().is_err());
        let mut bad = sample();
        bad.recorded_at = "2026-01-01 00:00:05".to_owned();
        assert!(bad.to_bytes().is_err());
        let mut bad = sample();
        bad.prev = Some("ABC".to_owned());
        assert!(bad.to_bytes().is_err());
        let bytes = sample().to_bytes().expect("bytes");
        assert_eq!(TraceRecord::from_bytes(&bytes).expect("parse"), sample());
        let mut spaced = b" ".to_vec();
        spaced.extend_from_slice(&bytes);
        assert!(matches!(
            TraceRecord::from_bytes(&spaced),
            Err(RecordError::NotCanonical)
        ));
        let extra = String::from_utf8(bytes)
            .expect("utf8")
            .replacen('{', r#"{"aaa":1,"#, 1);
        assert!(TraceRecord::from_bytes(extra.as_bytes()).is_err());
        assert!(is_utc_timestamp("2026-01-01T00:00:05.123Z"));
        assert!(!is_utc_timestamp("2026-13-01T00:00:05Z"));
        assert!(!is_utc_timestamp("2026-01-01T00:00:05.Z"));
    }

    #[test]
    fn event_hash_is_computed_and_checked() {
        let mut record = sample();
        record.context = serde_json::json!([
            epcis::EPCIS_CONTEXT_URL,
            {"hc": "https://idnode.example/hc/"}
        ]);
        let Value::Object(event) = serde_json::json!({
            "type": "ObjectEvent",
            "eventTime": "2026-01-01T08:00:00+08:00",
            "eventTimeZoneOffset": "+08:00",
            "epcList": ["https://id.gs1.org/01/09506000134352/21/1"],
            "action": "OBSERVE",
            "bizStep": "storing",
            "hc:unNumber": "UN1090"
        }) else {
            unreachable!("the event is an object")
        };
        record.event = event;
        assert!(matches!(
            record.check_event_hash(),
            Err(RecordError::EventHashMismatch { .. })
        ));
        let record = record.with_computed_event_hash().expect("hash");
        record.check_event_hash().expect("matches");
        assert_eq!(
            record.event_hash,
            epcis::hash_prehash(
                "eventType=ObjectEventeventTime=2026-01-01T00:00:00.000ZeventTimeZoneOffset=+08:00\
                 epcListepc=https://id.gs1.org/01/09506000134352/21/1action=OBSERVE\
                 bizStep=https://ref.gs1.org/cbv/BizStep-storing\
                 {https://idnode.example/hc/}unNumber=UN1090"
            )
        );
        record.to_bytes().expect("valid record");
        let mut unknown = record;
        unknown.context = Value::from("https://example.com/other-context.jsonld");
        assert!(matches!(
            unknown.check_event_hash(),
            Err(RecordError::EventHash(_))
        ));
    }

    /// A JSON value of strings (with escapes and non-ASCII), numbers, arrays and objects.
    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-9_007_199_254_740_991i64..=9_007_199_254_740_991).prop_map(Value::from),
            (-1e6f64..1e6).prop_map(Value::from),
            "[a-z\"\\\n\u{7f}\u{e9}\u{1f600}\u{10000}\u{ffff}]{0,6}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("[a-zA-Z\u{e9}\u{1f600}]{0,4}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    #[test]
    fn built_bytes_sign_like_records() {
        let signer = RecordSigner::new("example.org/records", SigningKey::from_bytes(&[9; 32]))
            .expect("signer");
        let mut record = sample();
        record.prev = Some("ab".repeat(32));
        let builder =
            RecordBuilder::new(&record.log, &record.context, &record.recorded_at).expect("builder");
        let event = jcs::canonicalize_object(&record.event).expect("event");
        let prev = Hash::from_hex(record.prev.as_deref().unwrap_or_default());
        let bytes = builder
            .bytes(&RecordFields {
                subject: &record.subject,
                lifecycle: record.lifecycle,
                event_hash: &record.event_hash,
                event: &event,
                salt: &record.salt,
                prev: prev.as_ref(),
            })
            .expect("bytes");
        assert_eq!(
            signer.sign_bytes(bytes),
            signer.sign(&record).expect("sign")
        );
        // Invalid fields are refused as by to_bytes.
        let refused = builder.bytes(&RecordFields {
            subject: "",
            lifecycle: record.lifecycle,
            event_hash: &record.event_hash,
            event: &event,
            salt: &record.salt,
            prev: None,
        });
        assert!(refused.is_err());
        assert!(RecordBuilder::new("not a log", &record.context, &record.recorded_at).is_err());
    }

    proptest::proptest! {
        #[test]
        fn built_bytes_equal_to_bytes(
            context in json_value(),
            event in proptest::collection::btree_map("[a-zA-Z:\u{e9}]{1,8}", json_value(), 0..6),
            subject in "[a-zA-Z0-9/.:\u{e9}\u{1f600}\"]{1,20}",
            prev in proptest::option::of(proptest::array::uniform32(proptest::prelude::any::<u8>())),
            lifecycle in 0usize..8,
        ) {
            let lifecycles = [Lifecycle::Produced, Lifecycle::Packed, Lifecycle::Stored, Lifecycle::Sold,
                Lifecycle::Transported, Lifecycle::Used, Lifecycle::Disposed, Lifecycle::Incident];
            let mut record = sample();
            record.context = context;
            record.event = event.into_iter().collect();
            record.subject = subject;
            record.lifecycle = lifecycles[lifecycle];
            record.prev = prev.map(hex::encode);
            let builder = RecordBuilder::new(&record.log, &record.context, &record.recorded_at)
                .expect("builder");
            let event = jcs::canonicalize_object(&record.event).expect("event");
            let prev = prev.map(Hash);
            let built = builder.bytes(&RecordFields {
                subject: &record.subject,
                lifecycle: record.lifecycle,
                event_hash: &record.event_hash,
                event: &event,
                salt: &record.salt,
                prev: prev.as_ref(),
            }).expect("bytes");
            proptest::prop_assert_eq!(&built, &record.to_bytes().expect("to_bytes"));
            proptest::prop_assert_eq!(TraceRecord::from_bytes(&built).expect("from_bytes"), record);
        }

        #[test]
        fn verify_never_panics(jws in "[A-Za-z0-9_.-]{0,200}") {
            let verifier = RecordVerifier::new("k", SigningKey::from_bytes(&[2; 32]).verifying_key())
                .expect("verifier");
            let _ = verifier.verify(&jws);
        }
    }
}
