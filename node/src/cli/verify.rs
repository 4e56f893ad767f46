//! `idnode verify`: offline verification of signed trace records against a policy, with no
//! network and no database.
//!
//! The policy is C2SP tlog-policy text plus one line naming the record key:
//!
//! ```text
//! log <log vkey> [url]
//! witness <name> <cosignature vkey> [url]
//! group <name> <k|all|any> <member>...
//! quorum <witness or group name | none>
//! record <record vkey>
//! ```
//!
//! Each input is a `c2sp.org/tlog-proof@v1` bundle whose `extra` is the record JWS (as served by
//! `GET /log/proof`), or a bare record JWS. The steps, named in every failure message, are:
//! 1. record signature (JWS with a `record` key, canonical payload);
//! 2. leaf (the record digest and leaf hash; the record's `log` is the policy's log);
//! 3. checkpoint (the log key's signature) and witness quorum;
//! 4. inclusion proof against the checkpoint's size and root;
//! 5. consistency with `--previous-checkpoint` (fork detection), and the `prev` chain of each
//!    subject when several of its records are given.

use std::collections::HashMap;

use idnode_trace::merkle::{self, Hash};
use idnode_trace::note::checkpoint::Checkpoint;
use idnode_trace::note::proof::{TLOG_PROOF_HEADER, TlogProof};
use idnode_trace::note::{Note, Verifier, VerifierKind, Verifiers};
use idnode_trace::record::{RecordVerifier, VerifiedRecord, verify_jws};

/// How deep groups may nest.
const MAX_GROUP_DEPTH: usize = 8;

/// A parsed verification policy.
#[derive(Debug, Clone)]
pub struct Policy {
    log: Verifier,
    witnesses: Vec<(String, Verifier)>,
    groups: HashMap<String, (usize, Vec<String>)>,
    quorum: Option<String>,
    record_keys: Vec<RecordVerifier>,
}

impl Policy {
    /// Parses policy text; the message names the offending line.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut log = None;
        let mut witnesses = Vec::new();
        let mut groups = HashMap::new();
        let mut quorum = None;
        let mut record_keys = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |why: &str| format!("policy line {}: {why}", number + 1);
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["log", vkey, ..] => {
                    let key = Verifier::parse_vkey(vkey).map_err(|e| bad(&e.to_string()))?;
                    if key.kind() != VerifierKind::Ed25519 {
                        return Err(bad("the log key must be an Ed25519 (0x01) vkey"));
                    }
                    if log.replace(key).is_some() {
                        return Err(bad("only one log is supported"));
                    }
                }
                ["witness", name, vkey, ..] => {
                    let key = Verifier::parse_vkey(vkey).map_err(|e| bad(&e.to_string()))?;
                    if key.kind() != VerifierKind::CosignatureV1 {
                        return Err(bad("a witness key must be a cosignature/v1 (0x04) vkey"));
                    }
                    witnesses.push(((*name).to_owned(), key));
                }
                ["group", name, threshold, members @ ..] if !members.is_empty() => {
                    let k = match *threshold {
                        "all" => members.len(),
                        "any" => 1,
                        n => n
                            .parse::<usize>()
                            .ok()
                            .filter(|&k| k >= 1 && k <= members.len())
                            .ok_or_else(|| bad("the threshold must be all, any or 1..=members"))?,
                    };
                    let members = members.iter().map(|m| (*m).to_owned()).collect();
                    groups.insert((*name).to_owned(), (k, members));
                }
                ["quorum", "none"] => quorum = None,
                ["quorum", name] => quorum = Some((*name).to_owned()),
                ["record", vkey] => {
                    let key = Verifier::parse_vkey(vkey).map_err(|e| bad(&e.to_string()))?;
                    if key.kind() != VerifierKind::Ed25519 {
                        return Err(bad("the record key must be an Ed25519 (0x01) vkey"));
                    }
                    record_keys.push(
                        RecordVerifier::new(key.name(), *key.public_key())
                            .map_err(|e| bad(&e.to_string()))?,
                    );
                }
                _ => return Err(bad("expected log, witness, group, quorum or record")),
            }
        }
        let log = log.ok_or("the policy has no log line")?;
        if record_keys.is_empty() {
            return Err("the policy has no record line".to_owned());
        }
        let policy = Self {
            log,
            witnesses,
            groups,
            quorum,
            record_keys,
        };
        if let Some(name) = &policy.quorum
            && !policy.is_known(name)
        {
            return Err(format!(
                "the quorum names {name:?}, which is no witness or group"
            ));
        }
        for (name, (_, members)) in &policy.groups {
            if let Some(unknown) = members.iter().find(|m| !policy.is_known(m)) {
                return Err(format!(
                    "group {name} names {unknown:?}, which is no witness or group"
                ));
            }
        }
        Ok(policy)
    }

    fn is_known(&self, name: &str) -> bool {
        self.groups.contains_key(name) || self.witnesses.iter().any(|(n, _)| n == name)
    }

    /// Whether the witnesses in `cosigned` satisfy `name` (a witness or group).
    fn satisfied(&self, name: &str, cosigned: &[&str], depth: usize) -> bool {
        if depth > MAX_GROUP_DEPTH {
            return false;
        }
        if let Some((k, members)) = self.groups.get(name) {
            let met = members
                .iter()
                .filter(|m| self.satisfied(m, cosigned, depth + 1))
                .count();
            return met >= *k;
        }
        cosigned.contains(&name)
    }
}

/// A previous checkpoint to check the inputs' checkpoints against, with an optional consistency
/// proof (base64 hashes, one per line, from `GET /log/consistency`).
#[derive(Debug, Clone)]
pub struct Previous {
    /// The signed checkpoint note.
    pub note: Vec<u8>,
    /// The consistency proof between it and the inputs' checkpoint, if their sizes differ.
    pub proof: Option<Vec<u8>>,
}

/// One verified input.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The input's name.
    pub name: String,
    /// The record digest, hex.
    pub digest: String,
    /// The record's subject.
    pub subject: String,
    /// The leaf index and checkpoint size, for bundles.
    pub position: Option<(u64, u64)>,
    /// The witnesses whose cosignatures verified.
    pub witnesses: Vec<String>,
}

/// The outcome of verifying a set of inputs.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Inputs that passed every step.
    pub verified: Vec<Verified>,
    /// Failures: the input (or `chain`/`checkpoint`) and the message naming the step.
    pub failures: Vec<(String, String)>,
}

/// A verified checkpoint and the witnesses that cosigned it.
#[derive(Debug, Clone)]
struct GoodCheckpoint {
    checkpoint: Checkpoint,
    witnesses: Vec<String>,
}

/// Verifies every input; never stops at the first failure.
pub fn verify(
    policy: &Policy,
    inputs: &[(String, Vec<u8>)],
    previous: Option<&Previous>,
) -> Report {
    let mut report = Report::default();
    let mut checkpoints: HashMap<String, Result<GoodCheckpoint, String>> = HashMap::new();
    // Records of each subject, with their position (leaf index, or input order).
    let mut chains: HashMap<String, Vec<(u64, String, VerifiedRecord)>> = HashMap::new();
    // The signatures and payloads (most of the work) on every core; then the checkpoints (each
    // distinct one verified once) and the inclusion proofs in input order.
    let records = parallel_map(inputs, |(_, bytes)| verify_record(policy, bytes));
    for (order, ((name, _), record)) in inputs.iter().zip(records).enumerate() {
        match record.and_then(|(record, bundle)| prove(policy, record, bundle, &mut checkpoints)) {
            Ok((record, position, witnesses)) => {
                let digest = record.digest().to_hex();
                let subject = record.record().subject.clone();
                let sort_key = position.map_or(order as u64, |(index, _)| index);
                chains
                    .entry(subject.clone())
                    .or_default()
                    .push((sort_key, name.clone(), record));
                report.verified.push(Verified {
                    name: name.clone(),
                    digest,
                    subject,
                    position,
                    witnesses,
                });
            }
            Err(message) => report.failures.push((name.clone(), message)),
        }
    }
    if let Some(previous) = previous {
        let mut seen: Vec<&Checkpoint> = Vec::new();
        for good in checkpoints.values().flatten() {
            if seen.iter().any(|c| **c == good.checkpoint) {
                continue;
            }
            seen.push(&good.checkpoint);
            if let Err(message) = check_previous(policy, previous, &good.checkpoint) {
                report
                    .failures
                    .push((format!("checkpoint {}", good.checkpoint.size), message));
            }
        }
    }
    let mut subjects: Vec<_> = chains.into_iter().collect();
    subjects.sort_by(|a, b| a.0.cmp(&b.0));
    for (subject, mut records) in subjects {
        records.sort_by_key(|(key, _, _)| *key);
        for pair in records.windows(2) {
            let (_, _, before) = &pair[0];
            let (_, name, after) = &pair[1];
            let expected = before.digest().to_hex();
            match after.record().prev.as_deref() {
                Some(prev) if prev == expected => {}
                Some(prev) => report.failures.push((
                    name.clone(),
                    format!(
                        "step 5 (prev chain): record {} of subject {subject} names prev {prev}, \
                         but the record before it is {expected}: a record of the chain is missing",
                        after.digest()
                    ),
                )),
                None => report.failures.push((
                    name.clone(),
                    format!(
                        "step 5 (prev chain): record {} of subject {subject} starts a new chain \
                         after record {expected}",
                        after.digest()
                    ),
                )),
            }
        }
    }
    report
}

type OneOk = (VerifiedRecord, Option<(u64, u64)>, Vec<String>);

/// Applies `f` to every item on all cores, keeping the order.
fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    if threads < 2 || items.len() < 2 {
        return items.iter().map(f).collect();
    }
    let per_thread = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let f = &f;
        let mut chunks = items.chunks(per_thread);
        let first = chunks.next().unwrap_or_default();
        let others: Vec<_> = chunks
            .map(|chunk| scope.spawn(move || chunk.iter().map(f).collect::<Vec<R>>()))
            .collect();
        let mut out: Vec<R> = first.iter().map(f).collect();
        for other in others {
            match other.join() {
                Ok(results) => out.extend(results),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

/// Steps 0 to 2 of one input: the bundle (if it is one), the record signature and the log.
fn verify_record(
    policy: &Policy,
    bytes: &[u8],
) -> Result<(VerifiedRecord, Option<TlogProof>), String> {
    let is_bundle = bytes.starts_with(TLOG_PROOF_HEADER.as_bytes());
    let (jws, bundle) = if is_bundle {
        let bundle = TlogProof::parse(bytes)
            .map_err(|e| format!("step 0 (input): not a tlog-proof bundle: {e}"))?;
        let jws = bundle
            .extra
            .clone()
            .ok_or("step 0 (input): the bundle has no extra line with the record JWS")?;
        (jws, Some(bundle))
    } else {
        (bytes.to_vec(), None)
    };
    let jws =
        String::from_utf8(jws).map_err(|_| "step 1 (record signature): the JWS is not text")?;
    let record = verify_jws(jws.trim(), &policy.record_keys)
        .map_err(|e| format!("step 1 (record signature): {e}"))?;
    if record.record().log != policy.log.name() {
        return Err(format!(
            "step 2 (leaf): the record names log {:?}, the policy's log is {:?}",
            record.record().log,
            policy.log.name()
        ));
    }
    Ok((record, bundle))
}

/// Steps 3 and 4 of one input: its checkpoint (verified once per distinct checkpoint) and the
/// inclusion proof.
fn prove(
    policy: &Policy,
    record: VerifiedRecord,
    bundle: Option<TlogProof>,
    checkpoints: &mut HashMap<String, Result<GoodCheckpoint, String>>,
) -> Result<OneOk, String> {
    let Some(bundle) = bundle else {
        return Ok((record, None, Vec::new()));
    };
    let note_text = bundle.checkpoint.to_text();
    let good = checkpoints
        .entry(note_text)
        .or_insert_with(|| check_checkpoint(policy, &bundle.checkpoint))
        .clone()?;
    merkle::verify_inclusion(
        bundle.index,
        good.checkpoint.size,
        &record.leaf_hash(),
        &bundle.proof,
        &good.checkpoint.root,
    )
    .map_err(|e| {
        format!(
            "step 4 (inclusion proof): leaf {} against tree size {}: {e}",
            bundle.index, good.checkpoint.size
        )
    })?;
    Ok((
        record,
        Some((bundle.index, good.checkpoint.size)),
        good.witnesses,
    ))
}

/// Verifies a checkpoint note: the log's signature, then the witness quorum.
fn check_checkpoint(policy: &Policy, note: &Note) -> Result<GoodCheckpoint, String> {
    let mut keys = vec![policy.log.clone()];
    keys.extend(policy.witnesses.iter().map(|(_, key)| key.clone()));
    let verified = note
        .verify(&Verifiers::new(keys))
        .map_err(|e| format!("step 3 (checkpoint): {e}"))?;
    if !verified.is_signed_by(policy.log.name(), policy.log.key_id()) {
        return Err("step 3 (checkpoint): the log key did not sign the checkpoint".to_owned());
    }
    let checkpoint =
        Checkpoint::parse(verified.text()).map_err(|e| format!("step 3 (checkpoint): {e}"))?;
    if checkpoint.origin != policy.log.name() {
        return Err(format!(
            "step 3 (checkpoint): origin {:?} is not the policy's log",
            checkpoint.origin
        ));
    }
    let cosigned: Vec<&str> = policy
        .witnesses
        .iter()
        .filter(|(_, key)| verified.is_signed_by(key.name(), key.key_id()))
        .map(|(name, _)| name.as_str())
        .collect();
    if let Some(quorum) = &policy.quorum
        && !policy.satisfied(quorum, &cosigned, 0)
    {
        return Err(format!(
            "step 3 (witness quorum): {} of the policy's {} witnesses cosigned ({}), which does not meet quorum {quorum}",
            cosigned.len(),
            policy.witnesses.len(),
            if cosigned.is_empty() {
                "none".to_owned()
            } else {
                cosigned.join(", ")
            },
        ));
    }
    Ok(GoodCheckpoint {
        checkpoint,
        witnesses: cosigned.iter().map(|s| (*s).to_owned()).collect(),
    })
}

/// Checks that `current` extends (or equals) the previous checkpoint.
fn check_previous(
    policy: &Policy,
    previous: &Previous,
    current: &Checkpoint,
) -> Result<(), String> {
    let step = "step 5 (consistency)";
    let note =
        Note::parse(&previous.note).map_err(|e| format!("{step}: previous checkpoint: {e}"))?;
    let verified = note
        .verify(&Verifiers::new(vec![policy.log.clone()]))
        .map_err(|e| format!("{step}: previous checkpoint: {e}"))?;
    let old = Checkpoint::parse(verified.text())
        .map_err(|e| format!("{step}: previous checkpoint: {e}"))?;
    if old.origin != current.origin {
        return Err(format!("{step}: the previous checkpoint is of another log"));
    }
    if old.size == current.size {
        if old.root != current.root {
            return Err(format!(
                "{step}: fork: two checkpoints of size {} with different roots ({} and {})",
                old.size, old.root, current.root
            ));
        }
        return Ok(());
    }
    let Some(proof) = &previous.proof else {
        return Err(format!(
            "{step}: sizes {} and {} differ; give --consistency-proof (GET /log/consistency?old={}&new={})",
            old.size,
            current.size,
            old.size.min(current.size),
            old.size.max(current.size)
        ));
    };
    let proof = parse_proof(proof).map_err(|e| format!("{step}: {e}"))?;
    let (small, large) = if old.size < current.size {
        (&old, current)
    } else {
        (current, &old)
    };
    merkle::verify_consistency(small.size, large.size, &proof, &small.root, &large.root).map_err(
        |e| {
            format!(
                "{step}: fork: checkpoints of sizes {} and {} are not consistent: {e}",
                small.size, large.size
            )
        },
    )
}

/// Parses base64 hashes, one per line.
fn parse_proof(bytes: &[u8]) -> Result<Vec<Hash>, String> {
    use base64::Engine as _;
    let text = std::str::from_utf8(bytes).map_err(|_| "the proof is not text")?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .take(merkle::MAX_PROOF_LEN + 1)
        .map(|line| {
            base64::engine::general_purpose::STANDARD
                .decode(line.trim())
                .ok()
                .and_then(|b| Hash::from_slice(&b))
                .ok_or_else(|| "the proof has a line that is not a base64 hash".to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str =
        "example.org/hazchem-log+265b1858+AddamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea";
    const W1: &str = "witness.example.org/w1+2ce32234+BD1AF8PoQ4lakrcKp00bfrycmCzPLsSWjMDNVfEq9GYM";

    #[test]
    fn policies_parse_and_evaluate_groups() {
        let text = format!(
            "# comment\nlog {LOG} https://log.example\nwitness w1 {W1}\nwitness w2 {W1}\ngroup g 2 w1 w2\ngroup top any g w1\nquorum top\nrecord {LOG}\n"
        );
        let policy = Policy::parse(&text).unwrap();
        assert!(policy.satisfied("top", &["w1"], 0));
        assert!(!policy.satisfied("g", &["w1"], 0));
        assert!(policy.satisfied("g", &["w1", "w2"], 0));
        assert!(Policy::parse(&format!("log {LOG}\nquorum nobody\nrecord {LOG}\n")).is_err());
        assert!(Policy::parse(&format!("log {LOG}\n")).is_err());
        assert!(Policy::parse(&format!("log {W1}\nrecord {LOG}\n")).is_err());
        assert!(Policy::parse(&format!("log {LOG}\nrecord {LOG}\nbogus\n")).is_err());
    }
}
