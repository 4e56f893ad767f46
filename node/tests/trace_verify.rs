//! `idnode verify` as a user runs it: a log built in memory from signed records, its bundles
//! and policy written to files, and the tampering the verifier must catch, each with the step
//! it names.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use idnode_trace::merkle::{Hash, MemHashStore, prove_consistency, prove_inclusion};
use idnode_trace::note::checkpoint::Checkpoint;
use idnode_trace::note::proof::TlogProof;
use idnode_trace::note::{Cosigner, Note, Signer, Verifier, VerifierKind};
use idnode_trace::record::{Lifecycle, RECORD_KIND, RecordSigner, SignedRecord, TraceRecord};
use serde_json::json;

const ORIGIN: &str = "example.org/log";
const RECORD_NAME: &str = "example.org/records";

struct Log {
    signer: Signer,
    witness: Cosigner,
    records: Vec<SignedRecord>,
    tree: MemHashStore,
}

fn record(subject: &str, n: u8, prev: Option<&SignedRecord>) -> TraceRecord {
    let mut event = serde_json::Map::new();
    event.insert("type".into(), json!("ObjectEvent"));
    event.insert("epcList".into(), json!([subject]));
    TraceRecord {
        v: 1,
        kind: RECORD_KIND.to_owned(),
        log: ORIGIN.to_owned(),
        subject: subject.to_owned(),
        lifecycle: Lifecycle::Stored,
        event_hash: format!("ni:///sha-256;{}?ver=CBV2.0", hex::encode([n; 32])),
        context: json!([]),
        event,
        recorded_at: "2026-01-01T00:00:00Z".to_owned(),
        salt: URL_SAFE_NO_PAD.encode([n; 16]),
        prev: prev.map(|p| p.digest.to_hex()),
    }
}

/// Subject A has a chain of three records (leaves 0, 1, 3); subject B one (leaf 2).
fn build(last_salt: u8) -> Log {
    let signer = Signer::new(ORIGIN, SigningKey::from_bytes(&[2; 32])).unwrap();
    let witness = Cosigner::new("witness.example/w1", SigningKey::from_bytes(&[3; 32])).unwrap();
    let records_key = RecordSigner::new(RECORD_NAME, SigningKey::from_bytes(&[1; 32])).unwrap();
    let a0 = records_key.sign(&record("88.1/a", 1, None)).unwrap();
    let a1 = records_key.sign(&record("88.1/a", 2, Some(&a0))).unwrap();
    let b0 = records_key.sign(&record("88.1/b", 3, None)).unwrap();
    let a2 = records_key
        .sign(&record("88.1/a", last_salt, Some(&a1)))
        .unwrap();
    let records = vec![a0, a1, b0, a2];
    let mut tree = MemHashStore::new();
    for signed in &records {
        tree.append_data(&signed.digest.0);
    }
    Log {
        signer,
        witness,
        records,
        tree,
    }
}

impl Log {
    fn checkpoint(&self, size: u64, cosign: bool) -> Note {
        let root = idnode_trace::merkle::tree_hash(size, &self.tree).unwrap();
        let text = Checkpoint::new(ORIGIN, size, root).to_text();
        let mut note = Note::sign(&text, &[&self.signer]).unwrap();
        if cosign {
            note.signatures
                .push(self.witness.cosign(&text, 1_767_225_600).unwrap());
        }
        note
    }

    fn bundle(&self, index: u64, proof_size: u64, checkpoint: &Note) -> String {
        TlogProof {
            extra: Some(self.records[index as usize].jws.clone().into_bytes()),
            index,
            proof: prove_inclusion(index, proof_size, &self.tree).unwrap(),
            checkpoint: checkpoint.clone(),
        }
        .to_text()
    }
}

fn vkey(name: &str, kind: VerifierKind, seed: u8) -> String {
    Verifier::new(
        name,
        kind,
        SigningKey::from_bytes(&[seed; 32]).verifying_key(),
    )
    .unwrap()
    .to_vkey()
}

fn policy(witness_seed: u8) -> String {
    format!(
        "log {}\nwitness w1 {}\nquorum w1\nrecord {}\n",
        vkey(ORIGIN, VerifierKind::Ed25519, 2),
        vkey(
            "witness.example/w1",
            VerifierKind::CosignatureV1,
            witness_seed
        ),
        vkey(RECORD_NAME, VerifierKind::Ed25519, 1),
    )
}

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// Runs `idnode verify`; returns success and stderr + stdout.
fn run(policy: &Path, extra: &[&str], inputs: &[PathBuf]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_idnode"))
        .arg("verify")
        .arg("--policy")
        .arg(policy)
        .args(extra)
        .args(inputs)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    (output.status.success(), text)
}

#[test]
fn verify_accepts_a_good_log_and_names_each_tampering() {
    let log = build(4);
    let files = Files::new();
    let checkpoint = log.checkpoint(4, true);
    let bundles: Vec<PathBuf> = (0..4)
        .map(|i| files.write(&format!("r{i}.tlog-proof"), &log.bundle(i, 4, &checkpoint)))
        .collect();
    let good_policy = files.write("policy.txt", &policy(3));

    // Everything verifies, including consistency with an earlier checkpoint of size 2.
    let previous = files.write("previous.note", &log.checkpoint(2, false).to_text());
    let proof: String = prove_consistency(2, 4, &log.tree)
        .unwrap()
        .iter()
        .map(|h: &Hash| {
            format!(
                "{}\n",
                base64::engine::general_purpose::STANDARD.encode(h.0)
            )
        })
        .collect();
    let proof = files.write("consistency.txt", &proof);
    let (ok, text) = run(
        &good_policy,
        &[
            "--previous-checkpoint",
            previous.to_str().unwrap(),
            "--consistency-proof",
            proof.to_str().unwrap(),
        ],
        &bundles,
    );
    assert!(ok, "{text}");
    assert!(text.contains("verified 4 records"), "{text}");
    // A bare JWS verifies as a record on its own.
    let jws = files.write("r0.jws", &log.records[0].jws);
    let (ok, text) = run(&good_policy, &[], &[jws]);
    assert!(ok, "{text}");

    // A changed byte in a record.
    let mut parts: Vec<String> = log.records[1].jws.split('.').map(str::to_owned).collect();
    let mut payload = URL_SAFE_NO_PAD.decode(&parts[1]).unwrap();
    let at = payload.len() / 2;
    payload[at] ^= 0x01;
    parts[1] = URL_SAFE_NO_PAD.encode(&payload);
    let tampered = TlogProof {
        extra: Some(parts.join(".").into_bytes()),
        ..TlogProof::parse(log.bundle(1, 4, &checkpoint).as_bytes()).unwrap()
    };
    let tampered = files.write("tampered.tlog-proof", &tampered.to_text());
    let (ok, text) = run(&good_policy, &[], &[tampered]);
    assert!(!ok);
    assert!(text.contains("step 1 (record signature)"), "{text}");

    // A record dropped from subject A's chain (leaves 0 and 3 without 1).
    let (ok, text) = run(
        &good_policy,
        &[],
        &[bundles[0].clone(), bundles[2].clone(), bundles[3].clone()],
    );
    assert!(!ok);
    assert!(text.contains("step 5 (prev chain)"), "{text}");
    assert!(text.contains("missing"), "{text}");

    // A forked checkpoint: the same log key signed another tree of the same size.
    let fork = build(9);
    let forked = files.write("forked.note", &fork.checkpoint(4, false).to_text());
    let (ok, text) = run(
        &good_policy,
        &["--previous-checkpoint", forked.to_str().unwrap()],
        &bundles,
    );
    assert!(!ok);
    assert!(text.contains("step 5 (consistency): fork"), "{text}");

    // A wrong witness key in the policy: the quorum is not met.
    let wrong_witness = files.write("wrong-witness.txt", &policy(7));
    let (ok, text) = run(&wrong_witness, &[], &bundles[..1]);
    assert!(!ok);
    assert!(text.contains("step 3 (witness quorum)"), "{text}");

    // A proof made for tree size 3 bundled with the checkpoint of size 4.
    let wrong_size = files.write("wrong-size.tlog-proof", &log.bundle(2, 3, &checkpoint));
    let (ok, text) = run(&good_policy, &[], &[wrong_size]);
    assert!(!ok);
    assert!(text.contains("step 4 (inclusion proof)"), "{text}");
    assert!(text.contains("tree size 4"), "{text}");
}
