//! `POST /epcis/capture`: validate a whole EPCIS 2.0 document, check the identifiers it names
//! against the registry and the caller's permissions, then sign one record per event and
//! append them all to the log in one durable batch, or nothing.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full, Limited};
use idnode_registry::{EventKey, StoreError, TraceBatch, TraceEntry, TraceMutation, TraceRead};
use idnode_resolver::{Failure, Fault, Identity};
use idnode_trace::merkle::Hash;
use idnode_trace::record::{
    Lifecycle, RecordBuilder, RecordFields, RecordSigner, SignedRecord, record_digest,
};
use rand::{RngCore as _, SeedableRng as _};
use serde_json::{Map, Value, json};

use super::TraceApi;
use super::{problem, with_type};
use crate::http::auth::Presented;
use crate::http::{Auth, Conn};
use idnode_trace::capture::{self as validate, Invalid};
use idnode_trace::ids::{self, Form};

/// How often a capture is re-signed after a concurrent capture extended one of its subjects.
const MAX_ATTEMPTS: usize = 16;

/// One event ready to be recorded.
struct Prepared {
    /// `JCS(event)`.
    event: Vec<u8>,
    subject: String,
    mentions: Vec<String>,
    lifecycle: Lifecycle,
    event_hash: String,
    /// What identifies the event under its subject: `id:` and its `eventID`, or `hash:` and
    /// its event hash.
    key: String,
}

/// A validated document: the records' context and the events.
struct Document {
    context: Value,
    events: Vec<Prepared>,
}

/// The answer to a capture: a receipt per event, in document order. Events recorded by an
/// earlier capture (a retry) get that capture's receipts, marked `duplicate`.
#[derive(serde::Serialize)]
struct Captured {
    /// Events recorded by this capture.
    captured: usize,
    /// Events that an earlier capture recorded.
    duplicates: usize,
    receipts: Vec<Receipt>,
}

/// The receipt of one record: its JWS, digest and leaf index.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Receipt {
    event_index: usize,
    subject: String,
    digest: String,
    #[serde(serialize_with = "serialize_jws")]
    jws: Bytes,
    index: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    duplicate: bool,
}

/// Writes the JWS bytes (ASCII, as signed) as a JSON string.
fn serialize_jws<S: serde::Serializer>(jws: &Bytes, serializer: S) -> Result<S::Ok, S::Error> {
    let text = std::str::from_utf8(jws).map_err(serde::ser::Error::custom)?;
    serializer.serialize_str(text)
}

/// Why a capture failed, as an HTTP problem.
enum Refusal {
    /// The document is invalid.
    Invalid(Invalid),
    /// An identifier of this node does not exist.
    NotFound(Invalid),
    /// The caller may not write an identifier of this node.
    Forbidden(Invalid),
    /// An `eventID` already names a different event of the same subject.
    Conflict(Invalid),
    /// Concurrent captures on the same subjects won every attempt; the client may retry.
    Busy(&'static str),
    /// Something failed on our side.
    Internal(String),
}

pub(super) async fn capture<B>(
    state: &Arc<TraceApi>,
    conn: Conn,
    req: Request<B>,
) -> Response<Full<Bytes>>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let vouched = req
        .extensions()
        .get::<crate::http::Vouched>()
        .map(|v| v.0.clone());
    let identity = match vouched {
        Some(identity) => identity,
        None => match capturer(state, conn, Presented::of(&req)).await {
            Ok(identity) => identity,
            Err(refused) => return refused,
        },
    };
    let limit = state.trace.config.max_capture_bytes;
    let body = match Limited::new(req.into_body(), limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                "epcisException:CaptureLimitExceededException",
                &format!("the capture body is larger than {limit} bytes or could not be read"),
                None,
            );
        }
    };
    let worker = Arc::clone(state);
    let prepared = tokio::task::spawn_blocking(move || prepare(&worker, &identity, &body)).await;
    let prepared = match prepared {
        Ok(Ok(prepared)) => prepared,
        Ok(Err(refusal)) => return refusal_response(refusal),
        Err(join) => return refusal_response(Refusal::Internal(join.to_string())),
    };
    match record(state, prepared).await {
        Ok(receipts) => {
            let duplicates = receipts.iter().filter(|r| r.duplicate).count();
            let captured = receipts.len() - duplicates;
            if captured > 0 {
                state.trace.appended.notify_one();
            }
            // A retry of a capture that was recorded changes nothing: 200, not 201.
            let status = if captured > 0 {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            let answer = Captured {
                captured,
                duplicates,
                receipts,
            };
            match serde_json::to_vec(&answer) {
                Ok(body) => with_type(status, Bytes::from(body), "application/json"),
                Err(e) => refusal_response(Refusal::Internal(e.to_string())),
            }
        }
        Err(refusal) => refusal_response(refusal),
    }
}

/// The identity a capture comes from, or the 401 answer: capture needs verified credentials.
// The error is the finished response, built at most once per request.
#[allow(clippy::result_large_err)]
pub(super) async fn capturer(
    state: &TraceApi,
    conn: Conn,
    presented: Presented<'_>,
) -> Result<Identity, Response<Full<Bytes>>> {
    match crate::http::auth::authenticate(&state.http, conn, presented).await {
        Auth::Verified(identity) => Ok(identity),
        Auth::Anonymous => Err(problem(
            StatusCode::UNAUTHORIZED,
            "epcisException:SecurityException",
            "capture needs HTTP Basic credentials (over HTTPS)",
            None,
        )
        .with_basic_challenge()),
        Auth::Rejected => Err(problem(
            StatusCode::UNAUTHORIZED,
            "epcisException:SecurityException",
            "the credentials did not verify",
            None,
        )
        .with_basic_challenge()),
    }
}

trait WithChallenge {
    fn with_basic_challenge(self) -> Self;
}

impl WithChallenge for Response<Full<Bytes>> {
    fn with_basic_challenge(mut self) -> Self {
        self.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Basic realm=\"handle\""),
        );
        self
    }
}

fn refusal_response(refusal: Refusal) -> Response<Full<Bytes>> {
    let (status, kind, invalid) = match refusal {
        Refusal::Invalid(invalid) => (
            StatusCode::BAD_REQUEST,
            "epcisException:ValidationException",
            invalid,
        ),
        Refusal::NotFound(invalid) => (
            StatusCode::NOT_FOUND,
            "epcisException:ResourceNotFoundException",
            invalid,
        ),
        Refusal::Forbidden(invalid) => (
            StatusCode::FORBIDDEN,
            "epcisException:SecurityException",
            invalid,
        ),
        Refusal::Conflict(invalid) => (
            StatusCode::CONFLICT,
            "epcisException:ValidationException",
            invalid,
        ),
        Refusal::Busy(detail) => {
            tracing::warn!(detail, "capture refused as busy");
            let mut response = problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "epcisException:ImplementationException",
                &format!("{detail}; nothing was recorded, try again"),
                None,
            );
            response.headers_mut().insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from_static("1"),
            );
            return response;
        }
        Refusal::Internal(detail) => {
            tracing::error!(%detail, "capture failed");
            return problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "epcisException:ImplementationException",
                "the capture could not be recorded; nothing was recorded",
                None,
            );
        }
    };
    let mut extra = Map::new();
    if let Some(event) = invalid.event {
        extra.insert("eventIndex".to_owned(), json!(event));
    }
    extra.insert("field".to_owned(), json!(invalid.field));
    let detail = match invalid.event {
        Some(event) => format!(
            "event {event}, field {}: {}; nothing was recorded",
            invalid.field, invalid.detail
        ),
        None => format!(
            "field {}: {}; nothing was recorded",
            invalid.field, invalid.detail
        ),
    };
    problem(status, kind, &detail, Some(extra))
}

/// Parses, validates and resolves a whole document; nothing is written.
fn prepare(state: &TraceApi, identity: &Identity, body: &[u8]) -> Result<Document, Refusal> {
    let value = idnode_trace::jcs::parse(body)
        .map_err(|e| Refusal::Invalid(Invalid::new(None, "", format!("not I-JSON: {e}"))))?;
    // Validate the shape first, so that hashing only sees well-formed documents.
    let captured = validate::split_document(&value, state.trace.config.max_events)
        .map_err(Refusal::Invalid)?;
    for (i, event) in captured.events.iter().enumerate() {
        validate::validate_event(i, event, captured.context).map_err(Refusal::Invalid)?;
    }
    let hashes = event_hashes(&value, captured.events.len()).map_err(Refusal::Invalid)?;
    let context = captured.context.clone();
    let mut authorized: HashMap<Vec<u8>, Result<String, Failure>> = HashMap::new();
    let mut prepared = Vec::with_capacity(captured.events.len());
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for ((i, event), event_hash) in captured.events.into_iter().enumerate().zip(hashes) {
        check_event_id(i, event, &event_hash).map_err(Refusal::Invalid)?;
        let mut subject: Option<(bool, String)> = None;
        let mut all: Vec<String> = Vec::new();
        for named in ids::named(event) {
            let canonical = match ids::form(named.text, &state.trace.config.resolver_bases) {
                Form::Other(text) => text,
                Form::Malformed(reason) => {
                    return Err(Refusal::Invalid(Invalid::new(
                        Some(i),
                        named.field.clone(),
                        reason,
                    )));
                }
                Form::Handle(text) => {
                    let handle = state.resolver.parse_handle(&text).map_err(|f| {
                        Refusal::Invalid(Invalid::new(
                            Some(i),
                            named.field.clone(),
                            format!("not a valid handle: {}", f.message),
                        ))
                    })?;
                    let local = state
                        .resolver
                        .is_homed_here(&handle)
                        .map_err(|f| Refusal::Internal(f.to_string()))?;
                    if local {
                        let outcome = authorized.entry(handle.key()).or_insert_with(|| {
                            state
                                .resolver
                                .authorize_trace_write(identity, &handle)
                                .map(|stored| stored.handle)
                        });
                        match outcome {
                            Ok(spelling) => {
                                if named.object && subject.as_ref().is_none_or(|(l, _)| !l) {
                                    subject = Some((true, spelling.clone()));
                                }
                                spelling.clone()
                            }
                            Err(failure) => {
                                return Err(handle_refusal(i, &named.field, &text, failure));
                            }
                        }
                    } else {
                        handle.as_str().to_owned()
                    }
                }
            };
            if subject.is_none() && named.object {
                subject = Some((false, canonical.clone()));
            }
            if !all.contains(&canonical) {
                all.push(canonical);
            }
        }
        let subject = match subject {
            Some((_, subject)) => subject,
            None => all.first().cloned().ok_or_else(|| {
                Refusal::Invalid(Invalid::new(
                    Some(i),
                    "epcList",
                    "the event names no identifier to record it under",
                ))
            })?,
        };
        let mentions = all.into_iter().filter(|m| *m != subject).collect();
        let key = match event.get("eventID").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => format!("id:{id}"),
            _ => format!("hash:{event_hash}"),
        };
        if let Some(first) = seen.insert((subject.clone(), key.clone()), i) {
            return Err(Refusal::Invalid(Invalid::new(
                Some(i),
                "eventID",
                format!("the event repeats event {first} of the same document"),
            )));
        }
        let lifecycle = lifecycle(event);
        // A single event carried its own context, which the record holds instead.
        let event = if event.contains_key("@context") {
            let mut event = event.clone();
            event.remove("@context");
            idnode_trace::jcs::canonicalize_object(&event)
        } else {
            idnode_trace::jcs::canonicalize_object(event)
        };
        let event = event
            .map_err(|e| Refusal::Invalid(Invalid::new(Some(i), "", format!("not I-JSON: {e}"))))?;
        prepared.push(Prepared {
            event,
            subject,
            mentions,
            lifecycle,
            event_hash,
            key,
        });
    }
    Ok(Document {
        context,
        events: prepared,
    })
}

/// This interface's one table from a resolver failure about an identifier to an EPCIS
/// refusal (an RFC 7807 problem), by the failure's fault class.
fn handle_refusal(i: usize, field: &str, text: &str, failure: &Failure) -> Refusal {
    let invalid = |detail: String| Invalid::new(Some(i), field.to_owned(), detail);
    match failure.fault {
        Fault::NotFound => {
            Refusal::NotFound(invalid(format!("{text} is homed here but does not exist")))
        }
        Fault::Forbidden | Fault::Unauthenticated => Refusal::Forbidden(invalid(format!(
            "no ADD_VALUE or MODIFY_VALUE permission on {text}"
        ))),
        Fault::Client | Fault::Conflict => Refusal::Invalid(invalid(failure.message.clone())),
        _ => Refusal::Internal(failure.to_string()),
    }
}

/// The lifecycle step of an event: `hc:lifecycle` when given, else from the event type and
/// business step.
fn lifecycle(event: &Map<String, Value>) -> Lifecycle {
    let explicit = event
        .get("hc:lifecycle")
        .or_else(|| event.get("ilmd").and_then(|i| i.get("hc:lifecycle")))
        .and_then(Value::as_str)
        .and_then(|text| serde_json::from_value(Value::String(text.to_owned())).ok());
    if let Some(lifecycle) = explicit {
        return lifecycle;
    }
    let step = event
        .get("bizStep")
        .and_then(Value::as_str)
        .and_then(|s| validate::cbv_bare(s, "BizStep"))
        .unwrap_or("");
    let disposition = event
        .get("disposition")
        .and_then(Value::as_str)
        .and_then(|s| validate::cbv_bare(s, "Disp"))
        .unwrap_or("");
    match event.get("type").and_then(Value::as_str).unwrap_or("") {
        "TransactionEvent" => return Lifecycle::Sold,
        "TransformationEvent" => return Lifecycle::Used,
        "AggregationEvent" | "AssociationEvent" => return Lifecycle::Packed,
        _ => {}
    }
    if matches!(disposition, "recalled" | "damaged" | "stolen") {
        return Lifecycle::Incident;
    }
    match step {
        "commissioning" | "creating_class_instance" | "encoding" => Lifecycle::Produced,
        "packing" | "loading" | "assembling" | "repackaging" | "installing" => Lifecycle::Packed,
        "shipping" | "departing" | "transporting" | "arriving" | "unloading"
        | "staging_outbound" | "void_shipping" => Lifecycle::Transported,
        "accepting" | "retail_selling" | "consigning" => Lifecycle::Sold,
        "dispensing" | "unpacking" | "disassembling" | "sampling" | "picking" => Lifecycle::Used,
        "decommissioning" | "destroying" | "killing" | "removing" => Lifecycle::Disposed,
        "inspecting" if disposition != "conformant" => Lifecycle::Incident,
        _ => Lifecycle::Stored,
    }
}

/// Checks a computed CBV 2.0 event hash against an `eventID` given in the same
/// `ni:///sha-256;…?ver=CBV2.0` form; any other `eventID` is the caller's own and is kept.
fn check_event_id(i: usize, event: &Map<String, Value>, computed: &str) -> Result<(), Invalid> {
    let given = event.get("eventID").and_then(Value::as_str).unwrap_or("");
    let is_hash = given.starts_with(idnode_trace::epcis::EVENT_HASH_PREFIX)
        && given.ends_with(idnode_trace::epcis::EVENT_HASH_SUFFIX);
    if is_hash && given != computed {
        return Err(Invalid::new(
            Some(i),
            "eventID",
            format!("eventID is a CBV 2.0 event hash but not this event's ({computed})"),
        ));
    }
    Ok(())
}

/// The CBV 2.0 event hashes of every event of the document, in order.
fn event_hashes(document: &Value, count: usize) -> Result<Vec<String>, Invalid> {
    use idnode_trace::epcis::{EpcisError, event_hashes};
    match event_hashes(document) {
        Ok(hashes) if hashes.len() == count => Ok(hashes),
        Ok(hashes) => Err(Invalid::new(
            None,
            "epcisBody/eventList",
            format!(
                "the CBV 2.0 event hash covers {} of {count} events",
                hashes.len()
            ),
        )),
        Err(EpcisError::Event { index, reason }) => Err(Invalid::new(
            Some(index),
            "",
            format!("no CBV 2.0 event hash: {reason}"),
        )),
        Err(error) => Err(Invalid::new(
            None,
            "",
            format!("no CBV 2.0 event hash: {error}"),
        )),
    }
}

/// Signs one record per event and appends them in one batch, re-reading the subjects' heads
/// and re-signing when a concurrent capture got there first.
async fn record(state: &Arc<TraceApi>, prepared: Document) -> Result<Vec<Receipt>, Refusal> {
    let prepared = Arc::new(prepared);
    for _ in 0..MAX_ATTEMPTS {
        let worker = Arc::clone(state);
        let items = Arc::clone(&prepared);
        let signed = tokio::task::spawn_blocking(move || sign_all(&worker, &items))
            .await
            .map_err(|e| Refusal::Internal(e.to_string()))??;
        let (entries, receipts) = signed;
        if entries.is_empty() {
            // Every event was recorded before: a retry.
            return Ok(receipts);
        }
        let batch = TraceBatch {
            mutations: vec![TraceMutation::Append { entries }],
        };
        match state.resolver.commit_trace(batch).await {
            Ok(committed) => {
                let mut next = committed.first_index;
                return Ok(receipts
                    .into_iter()
                    .map(|mut receipt| {
                        if !receipt.duplicate {
                            receipt.index = next;
                            next += 1;
                        }
                        receipt
                    })
                    .collect());
            }
            Err(StoreError::Conflict { handle }) => {
                tracing::debug!(subject = %handle, "capture raced another one; signing again");
            }
            Err(other) => return Err(Refusal::Internal(other.to_string())),
        }
    }
    Err(Refusal::Busy(
        "too many concurrent captures on the same subjects",
    ))
}

type Signed = (Vec<TraceEntry>, Vec<Receipt>);

/// Documents with fewer records than this are signed on the calling thread only.
const PARALLEL_SIGNING_FROM: usize = 32;

/// Builds every record of the document in order (each `prev` is the digest of the subject's
/// record before it, in this document or in the log), then signs them on all cores.
fn sign_all(state: &TraceApi, document: &Document) -> Result<Signed, Refusal> {
    let prepared = &document.events;
    let store = state.resolver.trace_log();
    let recorded_at = idnode_proto::time::format_iso8601(crate::core::unix_now());
    let builder = RecordBuilder::new(&state.trace.origin, &document.context, &recorded_at)
        .map_err(|e| Refusal::Invalid(Invalid::new(None, "@context", e.to_string())))?;
    // The stored heads of every subject, read in one snapshot; then each record's `prev` is
    // the digest of the subject's record before it in this document, or the stored head.
    let subjects: Vec<&str> = prepared.iter().map(|item| item.subject.as_str()).collect();
    let stored = store
        .trace_heads(&subjects)
        .map_err(|e| Refusal::Internal(e.to_string()))?;
    // Then the events already recorded: read after the heads, so that an event recorded
    // since is either seen here or has moved its subject's head, and the append fails.
    let keys: Vec<(&str, &str)> = prepared
        .iter()
        .map(|item| (item.subject.as_str(), item.key.as_str()))
        .collect();
    let recorded = store
        .trace_events(&keys)
        .map_err(|e| Refusal::Internal(e.to_string()))?;
    let mut earlier: Vec<Option<Receipt>> = Vec::with_capacity(prepared.len());
    for (i, (item, found)) in prepared.iter().zip(recorded).enumerate() {
        earlier.push(match found {
            None => None,
            Some(found) if found.event_hash == item.event_hash => {
                Some(earlier_receipt(store, i, item, found.index)?)
            }
            Some(_) => {
                return Err(Refusal::Conflict(Invalid::new(
                    Some(i),
                    "eventID",
                    format!(
                        "{} already names a different event of {}",
                        item.key.trim_start_matches("id:"),
                        item.subject
                    ),
                )));
            }
        });
    }
    let mut heads: HashMap<&str, Option<Hash>> = HashMap::with_capacity(prepared.len());
    let mut built = Vec::with_capacity(prepared.len());
    // Salts come from a CSPRNG seeded once per document from the operating system, rather
    // than a system call per record.
    let mut rng = rand::rngs::StdRng::from_rng(rand::rngs::OsRng)
        .map_err(|e| Refusal::Internal(format!("no randomness for salts: {e}")))?;
    for (((i, item), stored), earlier) in prepared.iter().enumerate().zip(stored).zip(&earlier) {
        if earlier.is_some() {
            continue;
        }
        let prev = match heads.get(item.subject.as_str()) {
            Some(prev) => *prev,
            None => stored.map(|head| head.digest),
        };
        let mut salt = [0u8; 16];
        rng.fill_bytes(&mut salt);
        let salt = URL_SAFE_NO_PAD.encode(salt);
        let bytes = builder
            .bytes(&RecordFields {
                subject: &item.subject,
                lifecycle: item.lifecycle,
                event_hash: &item.event_hash,
                event: &item.event,
                salt: &salt,
                prev: prev.as_ref(),
            })
            .map_err(|e| Refusal::Invalid(Invalid::new(Some(i), "", e.to_string())))?;
        heads.insert(&item.subject, Some(record_digest(&bytes)));
        built.push((bytes, prev));
    }
    let mut signed = sign_parallel(&state.trace.record_signer, built).into_iter();
    let mut entries = Vec::with_capacity(prepared.len());
    let mut receipts = Vec::with_capacity(prepared.len());
    for ((i, item), earlier) in prepared.iter().enumerate().zip(earlier) {
        if let Some(receipt) = earlier {
            receipts.push(receipt);
            continue;
        }
        let (signed, prev) = signed
            .next()
            .ok_or_else(|| Refusal::Internal("a record was not signed".to_owned()))?;
        let jws = Bytes::from(signed.jws);
        receipts.push(Receipt {
            event_index: i,
            subject: item.subject.clone(),
            digest: signed.digest.to_hex(),
            jws: jws.clone(),
            // Known once the batch is committed.
            index: 0,
            duplicate: false,
        });
        entries.push(TraceEntry {
            digest: signed.digest,
            record: jws,
            subject: item.subject.clone(),
            expect_prev: prev,
            mentions: item.mentions.clone(),
            event: Some(EventKey {
                key: item.key.clone(),
                event_hash: item.event_hash.clone(),
            }),
        });
    }
    Ok((entries, receipts))
}

/// The receipt of the record an earlier capture made for event `i`, at leaf `index`.
fn earlier_receipt(
    store: &impl TraceRead,
    i: usize,
    item: &Prepared,
    index: u64,
) -> Result<Receipt, Refusal> {
    let stored = store
        .trace_records(index, 1)
        .map_err(|e| Refusal::Internal(e.to_string()))?
        .into_iter()
        .next()
        .filter(|stored| stored.index == index)
        .ok_or_else(|| Refusal::Internal(format!("trace record {index} is missing")))?;
    Ok(Receipt {
        event_index: i,
        subject: item.subject.clone(),
        digest: stored.digest.to_hex(),
        jws: Bytes::from(stored.record),
        index,
        duplicate: true,
    })
}

/// Signs record bytes, in order, splitting large batches over the available cores.
fn sign_parallel(
    signer: &RecordSigner,
    built: Vec<(Vec<u8>, Option<Hash>)>,
) -> Vec<(SignedRecord, Option<Hash>)> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    if threads < 2 || built.len() < PARALLEL_SIGNING_FROM {
        return built
            .into_iter()
            .map(|(bytes, prev)| (signer.sign_bytes(bytes), prev))
            .collect();
    }
    let per_thread = built.len().div_ceil(threads);
    let mut chunks: Vec<Vec<(Vec<u8>, Option<Hash>)>> = Vec::with_capacity(threads);
    let mut rest = built.into_iter();
    loop {
        let chunk: Vec<_> = rest.by_ref().take(per_thread).collect();
        if chunk.is_empty() {
            break;
        }
        chunks.push(chunk);
    }
    let sign = |chunk: Vec<(Vec<u8>, Option<Hash>)>| -> Vec<(SignedRecord, Option<Hash>)> {
        chunk
            .into_iter()
            .map(|(bytes, prev)| (signer.sign_bytes(bytes), prev))
            .collect()
    };
    std::thread::scope(|scope| {
        let mut chunks = chunks.into_iter();
        // The calling thread signs the first chunk itself.
        let first = chunks.next();
        let others: Vec<_> = chunks
            .map(|chunk| scope.spawn(move || sign(chunk)))
            .collect();
        let mut out = first.map(sign).unwrap_or_default();
        for other in others {
            match other.join() {
                Ok(signed) => out.extend(signed),
                // Signing does not panic; if it did, the capture fails with the panic.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}
