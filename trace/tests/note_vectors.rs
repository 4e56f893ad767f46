//! C2SP signed-note, tlog-checkpoint and tlog-cosignature examples, and Go `sumdb/note` vectors.

use std::path::{Path, PathBuf};

use idnode_trace::note::checkpoint::Checkpoint;
use idnode_trace::note::{
    Note, NoteError, Signer, Verifier, Verifiers, cosignature_message, format_key_id, key_id,
};
use serde_json::Value;

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/vectors/note")
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(vectors().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn load(rel: &str) -> Value {
    serde_json::from_slice(&read(rel)).expect("json")
}

#[test]
fn c2sp_examples_parse_as_expected() {
    let expected = load("c2sp/expected.json");
    for (file, want) in expected["files"].as_object().expect("files") {
        let Some(signatures) = want.get("signatures") else {
            continue;
        };
        let bytes = read(&format!("c2sp/{file}"));
        let (text, parsed) = if file.ends_with(".response.txt") {
            // A witness response is bare signature lines; parse them under a dummy text.
            let mut note = b"x\n\n".to_vec();
            note.extend_from_slice(&bytes);
            let parsed = Note::parse(&note).expect("response lines");
            (None, parsed.signatures)
        } else if file.ends_with(".request.txt") {
            // add-checkpoint body: old line, proof lines, blank line, signed checkpoint.
            let text = std::str::from_utf8(&bytes).expect("utf8");
            let (head, note) = text.split_once("\n\n").expect("blank line");
            let old: u64 = head
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("old "))
                .expect("old")
                .parse()
                .expect("size");
            assert_eq!(old, want["old_size"].as_u64().expect("old_size"));
            let proof: Vec<String> = head
                .lines()
                .skip(1)
                .map(|l| {
                    use base64::Engine as _;
                    hex::encode(
                        base64::engine::general_purpose::STANDARD
                            .decode(l)
                            .expect("b64"),
                    )
                })
                .collect();
            let want_proof: Vec<String> = want["consistency_proof_hex"]
                .as_array()
                .expect("proof")
                .iter()
                .map(|h| h.as_str().expect("hex").to_owned())
                .collect();
            assert_eq!(proof, want_proof);
            let parsed = Note::parse(note.as_bytes()).expect("checkpoint note");
            assert_eq!(parsed.text, want["checkpoint_text"].as_str().expect("text"));
            (Some(parsed.text.clone()), parsed.signatures)
        } else {
            let parsed = Note::parse(&bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(
                Note::parse(parsed.to_text().as_bytes()).expect("reparse"),
                parsed
            );
            assert_eq!(
                parsed.to_text().as_bytes(),
                &bytes[..],
                "{file}: round trip"
            );
            (Some(parsed.text.clone()), parsed.signatures)
        };
        if let (Some(text), Some(want_text)) = (&text, want.get("text")) {
            assert_eq!(text, want_text.as_str().expect("text"), "{file}");
        }
        let signatures_want = signatures.as_array().expect("signatures");
        assert_eq!(parsed.len(), signatures_want.len(), "{file}");
        for (sig, w) in parsed.iter().zip(signatures_want) {
            assert_eq!(sig.name, w["key_name"].as_str().expect("name"), "{file}");
            assert_eq!(
                format_key_id(sig.key_id),
                w["key_id"].as_str().expect("id"),
                "{file}"
            );
            assert_eq!(
                sig.signature.len() as u64,
                w["sig_len"].as_u64().expect("len"),
                "{file}"
            );
            if let Some(ts) = w.get("cosignature_timestamp").and_then(Value::as_u64) {
                if ts <= i64::MAX as u64 {
                    assert_eq!(sig.cosignature_timestamp(), Some(ts), "{file}");
                } else {
                    // Known exception: illustrative response bytes with timestamps > 2^63 - 1,
                    // which a strict cosignature parser rejects.
                    println!("{file}: timestamp {ts} > 2^63-1 rejected as documented");
                    assert_eq!(sig.cosignature_timestamp(), None);
                }
            }
        }
        if file.starts_with("tlog-checkpoint") || file.starts_with("tlog-cosignature") {
            let checkpoint = Checkpoint::parse(text.as_deref().expect("text")).expect("checkpoint");
            assert_eq!(checkpoint.origin, "example.com/behind-the-sofa");
            assert_eq!(checkpoint.size, 20_852_163);
        }
    }
}

#[test]
fn c2sp_example_note_verifies() {
    let vkey = String::from_utf8(read("c2sp/signed-note.example.vkey")).expect("utf8");
    let verifier = Verifier::parse_vkey(vkey.trim_end()).expect("vkey");
    assert_eq!(format_key_id(verifier.key_id()), "530d903a");
    let note = Note::parse(&read("c2sp/signed-note.example.note")).expect("note");
    let verified = note
        .verify(&Verifiers::new(vec![verifier]))
        .expect("verify");
    assert_eq!(verified.text(), "This is an example message.\n");
    // A note whose only signature is unknown is rejected.
    let intro = Note::parse(&read("c2sp/signed-note.intro.note")).expect("intro");
    assert_eq!(
        intro.verify(&Verifiers::default()),
        Err(NoteError::NoVerifiedSignature)
    );
    // The intro note's text contains an empty line; the separator is the last blank line.
    assert!(intro.text.contains("\n\n"));
}

#[test]
fn c2sp_cosignature_message_layout() {
    let note = Note::parse(&read("c2sp/tlog-cosignature.example.note")).expect("note");
    let cosig = &note.signatures[1];
    let timestamp = cosig.cosignature_timestamp().expect("timestamp");
    assert_eq!(timestamp, 1_679_315_147);
    assert_eq!(
        cosignature_message(timestamp, &note.text),
        read("c2sp/tlog-cosignature.signed-message.txt")
    );
}

#[test]
fn go_sumdb_keys_and_signatures() {
    let v = load("go-sumdb/note-vectors.json");
    let text = v["text"].as_str().expect("text");
    let mut verifiers = Vec::new();
    for key in v["keys"].as_array().expect("keys") {
        let name = key["name"].as_str().expect("name");
        let signer = Signer::parse_skey(key["skey"].as_str().expect("skey")).expect("skey");
        let verifier = Verifier::parse_vkey(key["vkey"].as_str().expect("vkey")).expect("vkey");
        assert_eq!(signer.verifier(), verifier, "{name}");
        assert_eq!(verifier.to_vkey(), key["vkey"].as_str().expect("vkey"));
        assert_eq!(
            format_key_id(verifier.key_id()),
            key["key_id"].as_str().expect("id")
        );
        let public = hex::decode(key["public_key_hex"].as_str().expect("pk")).expect("hex");
        assert_eq!(verifier.public_key().as_bytes()[..], public[..]);
        assert_eq!(verifier.key_id(), key_id(name, 0x01, &public));
        // Ed25519 signing is deterministic, so the signature line is reproduced exactly.
        let line = signer.sign(text.as_bytes()).to_line();
        assert_eq!(
            line,
            v["signature_lines"][name].as_str().expect("line"),
            "{name}"
        );
        verifiers.push(verifier);
    }
    let peter = Signer::parse_skey(v["keys"][0]["skey"].as_str().expect("skey")).expect("skey");
    let enoch = Signer::parse_skey(v["keys"][1]["skey"].as_str().expect("skey")).expect("skey");
    let note = Note::sign(text, &[&peter]).expect("sign");
    assert_eq!(
        note.to_text(),
        v["signed_note_peter"].as_str().expect("note")
    );
    let note = Note::sign(text, &[&peter, &enoch]).expect("sign");
    assert_eq!(
        note.to_text(),
        v["signed_note_peter_enoch"].as_str().expect("note")
    );
}

#[test]
fn go_sumdb_open_cases() {
    let v = load("go-sumdb/note-vectors.json");
    let cases = v["open_cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 11);
    for case in cases {
        let desc = case["desc"].as_str().expect("desc");
        let note = case["note"].as_str().expect("note");
        let vkeys: Vec<&str> = case["known_vkeys"]
            .as_array()
            .expect("vkeys")
            .iter()
            .map(|k| k.as_str().expect("vkey"))
            .collect();
        let verifiers = Verifiers::from_vkeys(&vkeys).expect("vkeys");
        let result = Note::parse(note.as_bytes()).and_then(|n| n.verify(&verifiers));
        let want = case["want"].as_str().expect("want");
        match (want, &result) {
            ("ok", Ok(verified)) => {
                let names = |sigs: &[idnode_trace::note::NoteSignature]| -> Vec<String> {
                    sigs.iter().map(|s| s.name.clone()).collect()
                };
                let want_names = |key: &str| -> Vec<String> {
                    case[key]
                        .as_array()
                        .expect("names")
                        .iter()
                        .map(|n| n.as_str().expect("name").to_owned())
                        .collect()
                };
                assert_eq!(names(verified.verified()), want_names("verified"), "{desc}");
                assert_eq!(
                    names(verified.unverified()),
                    want_names("unverified"),
                    "{desc}"
                );
            }
            ("error: note has no verifiable signatures", Err(NoteError::NoVerifiedSignature)) => {}
            ("error: malformed note", Err(NoteError::Malformed(_))) => {}
            (w, Err(NoteError::InvalidSignature { name, key_id }))
                if w == format!("error: invalid signature for key {name}+{key_id:08x}") => {}
            _ => panic!("{desc}: want {want}, got {result:?}"),
        }
    }
    // The case that JSON cannot hold: a note starting with the invalid UTF-8 byte 0xff.
    let mut bad = vec![0xff];
    bad.extend_from_slice(v["signed_note_peter"].as_str().expect("note").as_bytes());
    assert!(matches!(Note::parse(&bad), Err(NoteError::Malformed(_))));
}

#[test]
fn go_sumdb_bad_vkeys_and_lookup_errors() {
    let v = load("go-sumdb/note-vectors.json");
    for bad in v["bad_vkeys"].as_array().expect("bad") {
        let vkey = bad["vkey"].as_str().expect("vkey");
        assert!(Verifier::parse_vkey(vkey).is_err(), "{}", bad["why"]);
    }
    // Every proper prefix/substring and every single-byte increment of a valid vkey is rejected.
    for key in v["keys"].as_array().expect("keys") {
        for field in ["vkey", "skey"] {
            let good = key[field].as_str().expect("key");
            let parse = |s: &str| {
                if field == "vkey" {
                    Verifier::parse_vkey(s).is_ok()
                } else {
                    Signer::parse_skey(s).is_ok()
                }
            };
            assert!(parse(good));
            for start in 0..good.len() {
                for end in start..=good.len() {
                    if (start, end) != (0, good.len())
                        && let Some(sub) = good.get(start..end)
                    {
                        assert!(!parse(sub), "{field} substring {sub:?}");
                    }
                }
            }
            let bytes = good.as_bytes();
            for i in 0..bytes.len() {
                let mut changed = bytes.to_vec();
                changed[i] = changed[i].wrapping_add(1);
                if let Ok(s) = std::str::from_utf8(&changed) {
                    assert!(!parse(s), "{field} increment at {i}: {s:?}");
                }
            }
        }
    }
    // Verifier lookups.
    let peter = v["keys"][0]["vkey"].as_str().expect("vkey");
    let enoch = v["keys"][1]["vkey"].as_str().expect("vkey");
    let verifiers = Verifiers::from_vkeys(&[peter, enoch, enoch]).expect("vkeys");
    assert!(
        verifiers
            .find("PeterNeumann", 0xc74f20a4)
            .expect("lookup")
            .is_none()
    );
    assert!(
        verifiers
            .find("PeterNeuman", 0xc74f20a3)
            .expect("lookup")
            .is_none()
    );
    assert!(matches!(
        verifiers.find("EnochRoot", 0xaf0cfe78),
        Err(NoteError::AmbiguousKey { .. })
    ));
}

#[test]
fn go_tlog_tree_note_and_tile_index_encoding() {
    let v = load("go-sumdb/note-vectors.json");
    let tree = v["go_tlog"]["tree_note_golden"].as_str().expect("tree");
    let checkpoint = Checkpoint::parse(tree).expect("checkpoint");
    assert_eq!(checkpoint.size, 123_456_789_012);
    assert_eq!(
        checkpoint.root,
        idnode_trace::merkle::leaf_hash(b"hello world")
    );
    assert_eq!(checkpoint.to_text(), tree);
    // Go-layout tile paths carry an explicit height; only the index encoding is shared with
    // C2SP tlog-tiles.
    for t in v["go_tlog"]["tile_paths_go_layout"]
        .as_array()
        .expect("tiles")
    {
        if t.get("invalid").is_some() {
            continue;
        }
        let n = t["N"].as_u64().expect("N");
        let path = t["path"].as_str().expect("path");
        let encoded = idnode_trace::merkle::tile::encode_index(n);
        assert!(path.contains(&format!("/{encoded}")), "{path}");
    }
    let expected = load("c2sp/expected.json");
    for e in expected["tlog_tiles_index_encoding_examples"]
        .as_array()
        .expect("examples")
    {
        assert_eq!(
            idnode_trace::merkle::tile::encode_index(e["index"].as_u64().expect("index")),
            e["path_element"].as_str().expect("path")
        );
    }
}
