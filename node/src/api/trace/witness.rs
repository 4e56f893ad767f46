//! Witnessing, both ways: the c2sp.org/tlog-witness `add-checkpoint` endpoint through which
//! this node cosigns the checkpoints of the logs it is configured to witness, and the
//! [`Collector`] that asks the configured witnesses to cosign this node's checkpoints.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full, Limited};
use idnode_registry::{StoreError, TraceBatch, TraceMutation, TraceRead as _, WitnessState};
use idnode_trace::merkle::{self, Hash, MAX_PROOF_LEN};
use idnode_trace::note::checkpoint::Checkpoint;
use idnode_trace::note::{Note, NoteError, Verifiers};

use super::TraceApi;
use super::{log, text, with_type};

/// The largest add-checkpoint request accepted.
const MAX_REQUEST: usize = 64 * 1024;

/// The content type of a 409 answer carrying the witness's size.
const SIZE_TYPE: &str = "text/x.tlog.size";

/// `POST /witness/add-checkpoint` (c2sp.org/tlog-witness): `old <size>`, up to 63 base64
/// consistency-proof lines, a blank line, and the signed checkpoint.
pub(super) async fn add_checkpoint<B>(state: &TraceApi, req: Request<B>) -> Response<Full<Bytes>>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let body = match Limited::new(req.into_body(), MAX_REQUEST).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return text(StatusCode::PAYLOAD_TOO_LARGE, "request too large\n".into()),
    };
    let Some((old, proof, note)) = parse_request(&body) else {
        return text(
            StatusCode::BAD_REQUEST,
            "malformed add-checkpoint request\n".into(),
        );
    };
    let Ok(note) = Note::parse(note) else {
        return text(
            StatusCode::BAD_REQUEST,
            "malformed checkpoint note\n".into(),
        );
    };
    let Ok(checkpoint) = Checkpoint::parse(&note.text) else {
        return text(StatusCode::BAD_REQUEST, "malformed checkpoint\n".into());
    };
    let Some(log_key) = state
        .trace
        .peers
        .iter()
        .find(|peer| peer.name() == checkpoint.origin)
    else {
        return text(StatusCode::NOT_FOUND, "unknown log origin\n".into());
    };
    let verified = note.verify(&Verifiers::new(vec![log_key.clone()]));
    if !matches!(&verified, Ok(v) if v.is_signed_by(log_key.name(), log_key.key_id())) {
        return text(
            StatusCode::FORBIDDEN,
            "the log's signature does not verify\n".into(),
        );
    }
    if old > checkpoint.size {
        return text(
            StatusCode::BAD_REQUEST,
            "old size is larger than the checkpoint\n".into(),
        );
    }
    // One request at a time, so the stored state moves forward one checkpoint at a time.
    let _guard = state.trace.witness_lock.lock().await;
    let store = state.resolver.trace_log();
    let stored = match store.witness_state(&checkpoint.origin) {
        Ok(stored) => stored,
        Err(error) => return internal(&error),
    };
    let known = stored.map_or(0, |s| s.size);
    if old != known {
        return with_type(
            StatusCode::CONFLICT,
            Bytes::from(format!("{known}\n")),
            SIZE_TYPE,
        );
    }
    let consistent = match stored {
        None => proof.is_empty(),
        Some(stored) if stored.size == 0 => proof.is_empty(),
        Some(stored) => merkle::verify_consistency(
            stored.size,
            checkpoint.size,
            &proof,
            &stored.root,
            &checkpoint.root,
        )
        .is_ok(),
    };
    if !consistent {
        return text(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the consistency proof does not verify\n".into(),
        );
    }
    let update = TraceBatch {
        mutations: vec![TraceMutation::PutWitnessState {
            origin: checkpoint.origin.clone(),
            expect_size: known,
            state: WitnessState {
                size: checkpoint.size,
                root: checkpoint.root,
            },
        }],
    };
    match state.resolver.commit_trace(update).await {
        Ok(_) => {}
        Err(StoreError::Conflict { .. }) => {
            return with_type(
                StatusCode::CONFLICT,
                Bytes::from(format!("{known}\n")),
                SIZE_TYPE,
            );
        }
        Err(error) => return internal(&error),
    }
    let now = u64::from(crate::core::unix_now());
    match state.trace.cosigner.cosign(&note.text, now) {
        Ok(line) => text(StatusCode::OK, line.to_line()),
        Err(error) => internal(&error),
    }
}

fn internal(error: &dyn std::fmt::Display) -> Response<Full<Bytes>> {
    tracing::error!(%error, "add-checkpoint failed");
    text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n".into())
}

/// Splits a request into the old size, the proof and the note bytes.
fn parse_request(body: &[u8]) -> Option<(u64, Vec<Hash>, &[u8])> {
    let split = body.windows(2).position(|w| w == b"\n\n")?;
    let head = std::str::from_utf8(&body[..split]).ok()?;
    let note = &body[split + 2..];
    let mut lines = head.split('\n');
    let old = lines.next()?.strip_prefix("old ")?;
    if old.is_empty()
        || !old.bytes().all(|b| b.is_ascii_digit())
        || (old.len() > 1 && old.starts_with('0'))
    {
        return None;
    }
    let old = old.parse().ok()?;
    let mut proof = Vec::new();
    for line in lines {
        if proof.len() == MAX_PROOF_LEN - 1 {
            return None;
        }
        proof.push(Hash::from_slice(&STANDARD.decode(line).ok()?)?);
    }
    Some((old, proof, note))
}

/// Asks the configured witnesses to cosign new checkpoints, remembering the size each one has.
pub(crate) struct Collector {
    known: HashMap<String, u64>,
}

impl Collector {
    pub(crate) fn new(_state: &TraceApi) -> Self {
        Self {
            known: HashMap::new(),
        }
    }

    /// Sends the checkpoint of `size` to every witness and stores the cosignatures that verify.
    pub(crate) async fn collect(&mut self, state: &TraceApi, size: u64, note: &str) {
        let mut lines = Vec::new();
        for (verifier, peer) in &state.trace.witnesses {
            match self.ask(state, size, note, peer).await {
                Ok(reply) => {
                    let combined = format!("{}{reply}", note);
                    let keys = Verifiers::new(vec![verifier.clone()]);
                    let checked = Note::parse(combined.as_bytes())
                        .and_then(|n| n.verify(&keys))
                        .and_then(|v| {
                            if v.is_signed_by(verifier.name(), verifier.key_id()) {
                                Ok(v)
                            } else {
                                Err(NoteError::NoVerifiedSignature)
                            }
                        });
                    match checked {
                        Ok(_) => {
                            let parsed = Note::parse(combined.as_bytes()).ok();
                            lines.extend(parsed.into_iter().flat_map(|n| n.signatures).filter(
                                |s| s.name == verifier.name() && s.key_id == verifier.key_id(),
                            ));
                            self.known.insert(peer.url.clone(), size);
                        }
                        Err(error) => {
                            tracing::warn!(url = %peer.url, %error, "witness answered with a bad cosignature");
                        }
                    }
                }
                Err(error) => tracing::warn!(url = %peer.url, %error, "witness did not cosign"),
            }
        }
        if !lines.is_empty()
            && let Err(error) = log::add_cosignatures(state, size, &lines).await
        {
            tracing::error!(%error, "cannot store cosignatures");
        }
    }

    /// One witness: send, and resend once with the size it reports on 409.
    async fn ask(
        &mut self,
        state: &TraceApi,
        size: u64,
        note: &str,
        peer: &crate::config::WitnessPeer,
    ) -> Result<String, String> {
        let mut old = self.known.get(&peer.url).copied().unwrap_or(0);
        for _ in 0..2 {
            if old > size {
                return Err(format!("witness has size {old}, larger than ours ({size})"));
            }
            let proof = if old == 0 || old == size {
                Vec::new()
            } else {
                merkle::prove_consistency(
                    old,
                    size,
                    &state.trace.hashes(state.resolver.trace_log()),
                )
                .map_err(|e| e.to_string())?
            };
            let body = format!("old {old}\n{}\n{note}", log::proof_lines(&proof));
            let (status, reply) = super::client::post(
                &peer.url,
                "text/plain",
                body.into_bytes(),
                peer.ca_file.as_deref(),
            )
            .await?;
            let reply = String::from_utf8_lossy(&reply).into_owned();
            match status {
                200 => return Ok(reply),
                409 => {
                    old = reply
                        .trim()
                        .parse()
                        .map_err(|_| format!("409 without a size: {reply:?}"))?;
                    self.known.insert(peer.url.clone(), old);
                }
                other => return Err(format!("status {other}: {}", reply.trim())),
            }
        }
        Err("the witness keeps reporting another size".to_owned())
    }
}
