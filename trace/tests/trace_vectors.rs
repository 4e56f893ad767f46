//! The worked example of `conformance/vectors/trace`: checkpoints, cosignatures, proofs and
//! the tlog-proof bundle.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::SigningKey;
use idnode_trace::merkle::{
    Hash, MemHashStore, leaf_hash, prove_consistency, prove_inclusion, verify_consistency,
    verify_inclusion,
};
use idnode_trace::note::checkpoint::Checkpoint;
use idnode_trace::note::proof::TlogProof;
use idnode_trace::note::{Cosigner, Note, Signer, Verifiers};
use serde_json::Value;

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/vectors")
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(vectors().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn example() -> Value {
    serde_json::from_slice(&read("trace/worked-example.json")).expect("json")
}

fn key(v: &Value, field: &str) -> SigningKey {
    let seed: [u8; 32] = hex::decode(v["keys"][field].as_str().expect("key"))
        .expect("hex")
        .try_into()
        .expect("32 bytes");
    SigningKey::from_bytes(&seed)
}

fn reference_tree() -> MemHashStore {
    let reference: Value =
        serde_json::from_slice(&read("merkle/rfc6962-reference-tree.json")).expect("json");
    let mut store = MemHashStore::new();
    for leaf in reference["leaves_hex"].as_array().expect("leaves") {
        store.append_data(&hex::decode(leaf.as_str().expect("hex")).expect("hex"));
    }
    store
}

fn signers(v: &Value) -> (Signer, Cosigner) {
    let log = Signer::new(
        "example.org/hazchem-log",
        key(v, "record_and_log_secret_key_hex"),
    )
    .expect("log");
    let witness =
        Cosigner::new("witness.example.org/w1", key(v, "witness_secret_key_hex")).expect("witness");
    assert_eq!(
        log.verifier().to_vkey(),
        v["keys"]["log_vkey"].as_str().expect("vkey")
    );
    assert_eq!(
        witness.verifier().to_vkey(),
        v["keys"]["witness_vkey"].as_str().expect("vkey")
    );
    (log, witness)
}

#[test]
fn checkpoint_over_reference_tree_is_reproduced() {
    let v = example();
    let (log, witness) = signers(&v);
    let cp = &v["checkpoint_reference_tree"];
    let store = reference_tree();
    let checkpoint = Checkpoint::new("example.org/hazchem-log", 8, store.root());
    let text = checkpoint.to_text();
    assert_eq!(text, cp["note_text"].as_str().expect("text"));
    let time = cp["cosignature_time"].as_u64().expect("time");
    let mut note = Note::sign(&text, &[&log]).expect("sign");
    note.signatures
        .push(witness.cosign(&text, time).expect("cosign"));
    assert_eq!(note.to_text(), cp["signed_note"].as_str().expect("note"));
    assert_eq!(
        note.to_text().as_bytes(),
        &read("trace/checkpoint-8.note")[..]
    );
    assert_eq!(
        idnode_trace::note::cosignature_message(time, &text),
        cp["cosignature_signed_message"]
            .as_str()
            .expect("msg")
            .as_bytes()
    );
    let verifiers = Verifiers::new(vec![log.verifier(), witness.verifier()]);
    let verified = Note::parse(&read("trace/checkpoint-8.note"))
        .expect("parse")
        .verify(&verifiers)
        .expect("verify");
    assert_eq!(verified.verified().len(), 2);
    assert_eq!(verified.verified()[1].cosignature_timestamp(), Some(time));

    let inclusion = &cp["inclusion"];
    let proof = prove_inclusion(5, 8, &store).expect("prove");
    let want: Vec<String> = inclusion["proof_b64"]
        .as_array()
        .expect("proof")
        .iter()
        .map(|p| p.as_str().expect("b64").to_owned())
        .collect();
    assert_eq!(
        proof
            .iter()
            .map(|h| STANDARD.encode(h.0))
            .collect::<Vec<_>>(),
        want
    );
    let leaf =
        leaf_hash(&hex::decode(inclusion["leaf_data_hex"].as_str().expect("hex")).expect("hex"));
    assert_eq!(
        leaf.to_hex(),
        inclusion["leaf_hash_hex"].as_str().expect("leaf")
    );
    verify_inclusion(5, 8, &leaf, &proof, &checkpoint.root).expect("inclusion");
}

#[test]
fn end_to_end_log_of_nine_and_tlog_proof_bundle() {
    let v = example();
    let (log, witness) = signers(&v);
    let mut store = reference_tree();
    let root8 = store.root();
    let digest = Hash::from_hex(v["record_digest_hex"].as_str().expect("digest")).expect("hash");
    assert_eq!(
        leaf_hash(&digest.0).to_hex(),
        v["leaf_hash_hex"].as_str().expect("leaf")
    );
    assert_eq!(store.append_data(&digest.0), 8);
    let checkpoint = Checkpoint::new("example.org/hazchem-log", 9, store.root());
    let text = checkpoint.to_text();
    let cp9 = Note::parse(&read("trace/checkpoint-9.note")).expect("checkpoint-9");
    assert_eq!(cp9.text, text);
    let time = cp9.signatures[1]
        .cosignature_timestamp()
        .expect("timestamp");
    let mut note = Note::sign(&text, &[&log]).expect("sign");
    note.signatures
        .push(witness.cosign(&text, time).expect("cosign"));
    assert_eq!(
        note.to_text().as_bytes(),
        &read("trace/checkpoint-9.note")[..]
    );

    let consistency = prove_consistency(8, 9, &store).expect("consistency");
    verify_consistency(8, 9, &consistency, &root8, &checkpoint.root).expect("verify");

    let bundle_bytes = read("trace/record-index-8.tlog-proof");
    let bundle = TlogProof::parse(&bundle_bytes).expect("bundle");
    assert_eq!(bundle.to_text().as_bytes(), &bundle_bytes[..]);
    assert_eq!(bundle.index, 8);
    assert_eq!(bundle.checkpoint, note);
    assert_eq!(
        bundle.extra.as_deref(),
        Some(read("trace/record.jws").as_slice()).map(|j| {
            // The extra line carries the JWS text (without a trailing newline, if the file has one).
            j.strip_suffix(b"\n").unwrap_or(j)
        })
    );
    assert_eq!(bundle.proof, prove_inclusion(8, 9, &store).expect("prove"));
    let verifiers = Verifiers::new(vec![log.verifier(), witness.verifier()]);
    let verified = bundle.checkpoint.verify(&verifiers).expect("verify");
    let parsed = Checkpoint::parse(verified.text()).expect("checkpoint");
    verify_inclusion(
        bundle.index,
        parsed.size,
        &leaf_hash(&digest.0),
        &bundle.proof,
        &parsed.root,
    )
    .expect("inclusion");
}

#[test]
fn record_bytes_jws_and_offline_verification() {
    use idnode_trace::record::{
        RecordSigner, TraceRecord, record_digest, record_leaf_hash, verify_offline,
    };
    let v = example();
    let record: TraceRecord = serde_json::from_value(v["record"].clone()).expect("record shape");
    let bytes = record.to_bytes().expect("bytes");
    assert_eq!(bytes, read("trace/record.jcs.json"));
    assert_eq!(
        bytes.len() as u64,
        v["record_jcs_length"].as_u64().expect("len")
    );
    assert_eq!(
        String::from_utf8(bytes.clone()).expect("utf8"),
        v["record_jcs_utf8"].as_str().expect("jcs")
    );
    let digest = record_digest(&bytes);
    assert_eq!(
        digest.to_hex(),
        v["record_digest_hex"].as_str().expect("digest")
    );
    assert_eq!(
        record_leaf_hash(&digest).to_hex(),
        v["leaf_hash_hex"].as_str().expect("leaf")
    );

    let signer = RecordSigner::new(
        "example.org/hazchem-log",
        key(&v, "record_and_log_secret_key_hex"),
    )
    .expect("signer");
    assert_eq!(
        signer.kid(),
        v["keys"]["record_key_jwk"]["kid"].as_str().expect("kid")
    );
    assert_eq!(
        signer.protected_header().expect("header"),
        v["jws"]["protected_header_jcs"]
            .as_str()
            .expect("header")
            .as_bytes()
    );
    let signed = signer.sign(&record).expect("sign");
    assert_eq!(signed.jws, v["jws"]["compact"].as_str().expect("compact"));
    let jws_file = String::from_utf8(read("trace/record.jws")).expect("utf8");
    assert_eq!(signed.jws, jws_file.trim_end());
    let verified = signer.verifier().verify(&signed.jws).expect("verify");
    assert_eq!(verified.record(), &record);

    // Offline verification against the tlog-proof bundle and the policy's keys (quorum w1).
    let (log, witness) = signers(&v);
    let bundle = TlogProof::parse(&read("trace/record-index-8.tlog-proof")).expect("bundle");
    let jws_from_extra = String::from_utf8(bundle.extra.clone().expect("extra")).expect("utf8");
    let policy = String::from_utf8(read("trace/policy.txt")).expect("utf8");
    assert!(
        policy.contains(&log.verifier().to_vkey())
            && policy.contains(&witness.verifier().to_vkey())
    );
    let inclusion = verify_offline(
        &jws_from_extra,
        &bundle,
        &[signer.verifier()],
        &log.verifier(),
        &[witness.verifier()],
        1,
    )
    .expect("offline verification");
    assert_eq!(inclusion.index, 8);
    assert_eq!(inclusion.checkpoint.size, 9);
    assert_eq!(
        inclusion.witnesses,
        vec!["witness.example.org/w1".to_owned()]
    );
    // Without the witness the quorum of one is not met.
    assert!(
        verify_offline(
            &jws_from_extra,
            &bundle,
            &[signer.verifier()],
            &log.verifier(),
            &[],
            1
        )
        .is_err()
    );
    // A proof for another index fails.
    let mut wrong = bundle.clone();
    wrong.index = 7;
    assert!(
        verify_offline(
            &jws_from_extra,
            &wrong,
            &[signer.verifier()],
            &log.verifier(),
            &[witness.verifier()],
            1
        )
        .is_err()
    );
}
