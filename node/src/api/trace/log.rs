//! The log over HTTP (C2SP tlog-tiles, proofs, keys) and the task that signs checkpoints and
//! collects cosignatures.
//!
//! The task is the only writer of checkpoints. It signs the log's current size and root, and
//! the store refuses a checkpoint whose root is not the log's root at that size or whose body
//! differs from one already stored for that size, so the node never publishes two different
//! roots for one size.

use crate::http::auth::Presented;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use idnode_registry::{StoreError, TraceBatch, TraceMutation, TraceRead as _};
use idnode_trace::merkle::tile::{self, Tile, TileKind};
use idnode_trace::merkle::{self, Hash};
use idnode_trace::note::checkpoint::Checkpoint;
use idnode_trace::note::proof::TlogProof;
use idnode_trace::note::{Note, NoteSignature};
use serde_json::json;

use super::TraceApi;
use super::{json, problem, text, with_type};

/// `GET /log/checkpoint`: the latest signed checkpoint, cosignatures included.
pub(super) fn checkpoint(state: &TraceApi) -> Response<Full<Bytes>> {
    match state.resolver.trace_log().trace_latest_checkpoint() {
        Ok(Some((_, note))) => {
            let mut response = text(StatusCode::OK, note);
            response.headers_mut().insert(
                http::header::CACHE_CONTROL,
                http::HeaderValue::from_static("no-cache"),
            );
            response
        }
        Ok(None) => not_found("no checkpoint has been signed yet"),
        Err(error) => internal(&error),
    }
}

/// `GET /api/keys`: the record key as a JWK set (RFC 7517, RFC 8037).
pub(super) fn jwks(state: &TraceApi) -> Response<Full<Bytes>> {
    json(
        StatusCode::OK,
        &json!({"keys": [{
            "kty": "OKP",
            "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(state.trace.record_public.as_bytes()),
            "kid": state.trace.record_signer.kid(),
            "alg": "EdDSA",
            "use": "sig",
        }]}),
    )
}

/// `GET /log/tile/<L>/<N>[.p/<W>]` and `GET /log/tile/entries/<N>[.p/<W>]`.
pub(super) fn tile(state: &TraceApi, path: &str) -> Response<Full<Bytes>> {
    let Ok(tile) = Tile::parse_path(path) else {
        return not_found("not a tile path");
    };
    let store = state.resolver.trace_log();
    let size = match store.trace_size() {
        Ok(size) => size,
        Err(error) => return internal(&error),
    };
    let first = tile.index.saturating_mul(u64::from(tile::TILE_WIDTH));
    let body = match tile.kind {
        TileKind::Entries => {
            let end = first.saturating_add(u64::from(tile.width));
            if end > size {
                return not_found("the log does not have these entries yet");
            }
            match store.trace_digests(first, usize::from(tile.width)) {
                Ok(digests) => match tile::encode_entry_bundle(
                    &digests.iter().map(|d| d.0).collect::<Vec<_>>(),
                ) {
                    Ok(bundle) => bundle,
                    Err(error) => return internal(&error),
                },
                Err(error) => return internal(&error),
            }
        }
        TileKind::Hashes { level } => {
            let shift = u32::from(level) * tile::TILE_HEIGHT;
            let end = first.saturating_add(u64::from(tile.width));
            // The tile exists when the tree has every subtree it covers.
            let covered = end.checked_shl(shift).filter(|&n| n >> shift == end);
            if covered.is_none_or(|needed| needed > size) {
                return not_found("the log does not have this tile yet");
            }
            match tile::read_tile_data(&tile, &state.trace.hashes(store)) {
                Ok(data) => data,
                Err(error) => return internal(&error),
            }
        }
    };
    let mut response = with_type(
        StatusCode::OK,
        Bytes::from(body),
        "application/octet-stream",
    );
    if tile.is_full() {
        response.headers_mut().insert(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("public, max-age=31536000, immutable"),
        );
    }
    response
}

/// `GET /log/proof?digest=<hex>`: a `c2sp.org/tlog-proof@v1` bundle for the record against the
/// latest checkpoint. The record JWS (which holds the event) is the bundle's `extra` only for a
/// caller who may read the record's subject; anyone else gets the inclusion proof alone.
pub(super) async fn proof(
    state: &Arc<TraceApi>,
    conn: crate::http::Conn,
    presented: Presented<'_>,
    query: Option<&str>,
) -> Response<Full<Bytes>> {
    let Some(digest) = param(query, "digest").and_then(|d| Hash::from_hex(&d)) else {
        return bad_request("give digest=<64 hex digits>");
    };
    let identity = match super::reader_identity(state, conn, presented).await {
        Ok(identity) => identity,
        Err(response) => return response,
    };
    let store = state.resolver.trace_log();
    let found = store
        .trace_index_of(&digest)
        .and_then(|index| Ok((index, store.trace_latest_checkpoint()?)));
    let (index, size, note) = match found {
        Ok((Some(index), Some((size, note)))) if index < size => (index, size, note),
        Ok(_) => return not_found("no record with this digest is covered by a checkpoint yet"),
        Err(error) => return internal(&error),
    };
    let mut reader = identity.map(|identity| super::Reader::new(state, identity));
    let with_record = match &mut reader {
        None => false,
        Some(reader) => {
            let subject = match store.trace_records(index, 1) {
                Ok(mut records) => records.pop().and_then(|r| record_subject(&r.record)),
                Err(error) => return internal(&error),
            };
            match subject.map(|s| reader.may_read(&s)) {
                Some(Ok(allowed)) => allowed,
                Some(Err(failure)) => return internal(&failure),
                None => false,
            }
        }
    };
    let bundle = match bundle_at(state, index, size, &note, with_record) {
        Ok(Some(bundle)) => bundle,
        Ok(None) => return not_found("no record with this digest is covered by a checkpoint yet"),
        Err(error) => return internal(&error),
    };
    if with_record
        && let Some(reader) = &reader
        && let Err(failure) = reader.audit(&digest.to_hex(), "record proof").await
    {
        return internal(&failure);
    }
    let mut response = text(StatusCode::OK, bundle);
    // The answer depends on the credentials.
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("private, no-cache"),
    );
    response.headers_mut().insert(
        http::header::VARY,
        http::HeaderValue::from_static("authorization"),
    );
    response
}

/// The `subject` of a stored record JWS, read without verifying (the node signed it).
pub(super) fn record_subject(jws: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Subject {
        subject: String,
    }
    let payload = std::str::from_utf8(jws).ok()?.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice::<Subject>(&bytes)
        .ok()
        .map(|s| s.subject)
}

/// The bundle of leaf `index` against the checkpoint `note` of `size` leaves, with the record
/// JWS as `extra` when `with_record`.
pub(super) fn bundle_at(
    state: &TraceApi,
    index: u64,
    size: u64,
    note: &str,
    with_record: bool,
) -> Result<Option<String>, String> {
    if index >= size {
        return Ok(None);
    }
    let store = state.resolver.trace_log();
    let extra = if with_record {
        let record = store
            .trace_records(index, 1)
            .map_err(|e| e.to_string())?
            .pop()
            .ok_or("record vanished")?;
        Some(record.record)
    } else {
        None
    };
    let proof = merkle::prove_inclusion(index, size, &state.trace.hashes(store))
        .map_err(|e| e.to_string())?;
    let checkpoint = Note::parse(note.as_bytes()).map_err(|e| e.to_string())?;
    Ok(Some(
        TlogProof {
            extra,
            index,
            proof,
            checkpoint,
        }
        .to_text(),
    ))
}

/// `GET /log/consistency?old=&new=`: the consistency proof, base64 hashes one per line.
pub(super) fn consistency(state: &TraceApi, query: Option<&str>) -> Response<Full<Bytes>> {
    let number = |name: &str| param(query, name).and_then(|v| v.parse::<u64>().ok());
    let (Some(old), Some(new)) = (number("old"), number("new")) else {
        return bad_request("give old=<size>&new=<size>");
    };
    let store = state.resolver.trace_log();
    let size = match store.trace_size() {
        Ok(size) => size,
        Err(error) => return internal(&error),
    };
    if old == 0 || old > new || new > size {
        return bad_request("need 0 < old <= new <= the log size");
    }
    match merkle::prove_consistency(old, new, &state.trace.hashes(store)) {
        Ok(proof) => text(StatusCode::OK, proof_lines(&proof)),
        Err(error) => internal(&error),
    }
}

/// Base64 hashes, one per line.
pub(super) fn proof_lines(proof: &[Hash]) -> String {
    proof
        .iter()
        .map(|hash| format!("{}\n", STANDARD.encode(hash.0)))
        .collect()
}

/// One query parameter, percent-decoded.
pub(super) fn param(query: Option<&str>, name: &str) -> Option<String> {
    crate::http::Query::parse(query)
        .first(name)
        .map(str::to_owned)
}

fn not_found(detail: &str) -> Response<Full<Bytes>> {
    problem(
        StatusCode::NOT_FOUND,
        "epcisException:ResourceNotFoundException",
        detail,
        None,
    )
}

fn bad_request(detail: &str) -> Response<Full<Bytes>> {
    problem(
        StatusCode::BAD_REQUEST,
        "epcisException:QueryParameterException",
        detail,
        None,
    )
}

fn internal(error: &dyn std::fmt::Display) -> Response<Full<Bytes>> {
    tracing::error!(%error, "trace log request failed");
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "epcisException:ImplementationException",
        "internal error",
        None,
    )
}

/// The latest checkpoint's size and the log size.
pub(crate) fn latest_size(state: &TraceApi) -> Option<(u64, u64)> {
    let store = state.resolver.trace_log();
    let checkpointed = store
        .trace_latest_checkpoint()
        .ok()?
        .map_or(0, |(size, _)| size);
    Some((checkpointed, store.trace_size().ok()?))
}

/// Signs and stores a checkpoint of the current log if it is larger than the latest one (or
/// if there is none). Returns the new checkpoint; `None` when nothing changed.
pub(crate) async fn sign_checkpoint(state: &TraceApi) -> Result<Option<(u64, String)>, StoreError> {
    let store = state.resolver.trace_log();
    let latest = store.trace_latest_checkpoint()?;
    let size = store.trace_size()?;
    if latest.as_ref().is_some_and(|(latest, _)| *latest >= size) {
        return Ok(None);
    }
    let root = merkle::tree_hash(size, &state.trace.hashes(store))
        .map_err(|e| StoreError::Storage(e.to_string()))?;
    let text = Checkpoint::new(&state.trace.origin, size, root).to_text();
    let note = Note::sign(&text, &[&state.trace.log_signer])
        .map_err(|e| StoreError::Storage(e.to_string()))?
        .to_text();
    state
        .resolver
        .commit_trace(TraceBatch {
            mutations: vec![TraceMutation::PutCheckpoint {
                size,
                root,
                text,
                note: note.clone(),
            }],
        })
        .await?;
    tracing::debug!(size, "signed a checkpoint");
    Ok(Some((size, note)))
}

/// Adds cosignature lines to the stored checkpoint of `size` (whose body is unchanged).
pub(super) async fn add_cosignatures(
    state: &TraceApi,
    size: u64,
    lines: &[NoteSignature],
) -> Result<String, StoreError> {
    let store = state.resolver.trace_log();
    let stored = store
        .trace_checkpoint(size)?
        .ok_or_else(|| StoreError::Storage(format!("no checkpoint {size}")))?;
    let mut note =
        Note::parse(stored.as_bytes()).map_err(|e| StoreError::Storage(e.to_string()))?;
    for line in lines {
        let known = note
            .signatures
            .iter()
            .any(|s| s.name == line.name && s.key_id == line.key_id);
        if !known {
            note.signatures.push(line.clone());
        }
    }
    let checkpoint =
        Checkpoint::parse(&note.text).map_err(|e| StoreError::Storage(e.to_string()))?;
    let text = note.to_text();
    state
        .resolver
        .commit_trace(TraceBatch {
            mutations: vec![TraceMutation::PutCheckpoint {
                size,
                root: checkpoint.root,
                text: note.text.clone(),
                note: text.clone(),
            }],
        })
        .await?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::atomic::{AtomicBool, Ordering};

    use idnode_registry::{TraceEntry, TraceHashes};
    use sha2::{Digest as _, Sha256};

    use super::*;

    /// Appends one record with a unique digest and subject.
    async fn append(state: &TraceApi, writer: usize, n: usize) {
        let digest = Hash(Sha256::digest(format!("{writer}/{n}")).into());
        state
            .resolver
            .commit_trace(TraceBatch {
                mutations: vec![TraceMutation::Append {
                    entries: vec![TraceEntry {
                        digest,
                        record: Bytes::from_static(b"record"),
                        subject: format!("subject-{writer}-{n}"),
                        expect_prev: None,
                        mentions: Vec::new(),
                        event: None,
                    }],
                }],
            })
            .await
            .unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_signers_never_publish_two_roots_for_one_size() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::config::Config {
            data: dir.path().join("data"),
            ..Default::default()
        };
        let state = TraceApi::open(crate::http::Http::new(
            crate::core::Core::open(config).unwrap(),
        ))
        .unwrap();
        // The node's own checkpoint task runs too, with the shortest interval.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(crate::tasks::checkpointer::run_checkpointer(
            Arc::clone(&state),
            stopped,
        ));
        let appending = Arc::new(AtomicBool::new(true));
        let appenders: Vec<_> = (0..4)
            .map(|writer| {
                let state = Arc::clone(&state);
                tokio::spawn(async move {
                    for n in 0..40 {
                        append(&state, writer, n).await;
                        state.trace.appended.notify_one();
                    }
                })
            })
            .collect();
        // Signers forced to run all the time, racing each other and the task.
        let signers: Vec<_> = (0..3)
            .map(|_| {
                let state = Arc::clone(&state);
                let appending = Arc::clone(&appending);
                tokio::spawn(async move {
                    let mut published = Vec::new();
                    loop {
                        let last_round = !appending.load(Ordering::SeqCst);
                        match sign_checkpoint(&state).await {
                            Ok(Some(checkpoint)) => published.push(checkpoint),
                            Ok(None) | Err(StoreError::Conflict { .. }) => {}
                            Err(error) => panic!("{error}"),
                        }
                        if last_round {
                            return published;
                        }
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        for appender in appenders {
            appender.await.unwrap();
        }
        appending.store(false, Ordering::SeqCst);
        let mut published = Vec::new();
        for signer in signers {
            published.extend(signer.await.unwrap());
        }
        let _ = stop.send(true);
        task.await.unwrap();

        let store = state.resolver.trace_log();
        let size = store.trace_size().unwrap();
        assert_eq!(size, 160);
        assert!(!published.is_empty());
        // Every checkpoint a signer was told it published, and every stored one.
        let mut roots: BTreeMap<u64, BTreeSet<Hash>> = BTreeMap::new();
        let mut root_of = |size: u64, note: &str| {
            let parsed = Note::parse(note.as_bytes()).unwrap();
            let checkpoint = Checkpoint::parse(&parsed.text).unwrap();
            assert_eq!(checkpoint.size, size);
            roots.entry(size).or_default().insert(checkpoint.root);
        };
        for (size, note) in &published {
            root_of(*size, note);
        }
        let mut stored = 0;
        for n in 1..=size {
            if let Some(note) = store.trace_checkpoint(n).unwrap() {
                root_of(n, &note);
                stored += 1;
            }
        }
        assert!(stored > 0);
        assert_eq!(
            store.trace_latest_checkpoint().unwrap().map(|(n, _)| n),
            Some(size)
        );
        for (size, roots) in &roots {
            assert_eq!(roots.len(), 1, "size {size} has {} roots", roots.len());
            let actual = merkle::tree_hash(*size, &TraceHashes(store)).unwrap();
            assert!(roots.contains(&actual), "size {size}");
        }
    }
}
