//! RFC 6962 / RFC 9162 Merkle vectors: transparency-dev/merkle testdata and the reference tree.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use idnode_trace::merkle::{
    Hash, MemHashStore, empty_root, leaf_hash, node_hash, prove_consistency, prove_inclusion,
    tree_hash, verify_consistency, verify_inclusion,
};
use serde_json::Value;

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/vectors/merkle")
}

fn load(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Known exceptions: relative path → reason.
fn exceptions() -> Vec<(String, String)> {
    let v = load(&vectors().join("known-exceptions.json"));
    v["exceptions"]
        .as_array()
        .expect("exceptions")
        .iter()
        .map(|e| {
            (
                e["file"].as_str().expect("file").to_owned(),
                e["reason"].as_str().expect("reason").to_owned(),
            )
        })
        .collect()
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Decodes a base64 hash; `None` when it is not exactly 32 bytes.
fn b64_hash(v: &Value) -> Option<Hash> {
    let bytes = STANDARD.decode(v.as_str()?).ok()?;
    Hash::from_slice(&bytes)
}

/// Decodes a proof; `None` when any element is not a 32-byte hash.
fn b64_proof(v: &Value) -> Option<Vec<Hash>> {
    match v {
        Value::Null => Some(Vec::new()),
        Value::Array(items) => items.iter().map(b64_hash).collect(),
        _ => None,
    }
}

fn run_set(kind: &str, check: impl Fn(&Value) -> bool) {
    let root = vectors().join("testdata");
    let skip = exceptions();
    let files = json_files(&root.join(kind));
    assert!(
        files.len() >= 90,
        "expected the full {kind} set, found {}",
        files.len()
    );
    let mut checked = 0;
    for path in &files {
        let rel = format!(
            "testdata/{}",
            path.strip_prefix(&root).expect("prefix").to_string_lossy()
        );
        if let Some((_, reason)) = skip.iter().find(|(f, _)| *f == rel) {
            println!("skipping {rel}: {reason}");
            continue;
        }
        let v = load(path);
        let want_err = v["wantErr"].as_bool().expect("wantErr");
        let ok = check(&v);
        assert_eq!(ok, !want_err, "{rel}: {}", v["desc"]);
        checked += 1;
    }
    println!("{kind}: {checked} files agree with wantErr");
}

#[test]
fn inclusion_vectors() {
    run_set("inclusion", |v| {
        let (Some(index), Some(size)) = (v["leafIdx"].as_u64(), v["treeSize"].as_u64()) else {
            return false;
        };
        let (Some(root), Some(leaf), Some(proof)) = (
            b64_hash(&v["root"]),
            b64_hash(&v["leafHash"]),
            b64_proof(&v["proof"]),
        ) else {
            return false;
        };
        verify_inclusion(index, size, &leaf, &proof, &root).is_ok()
    });
}

#[test]
fn consistency_vectors() {
    run_set("consistency", |v| {
        let (Some(size1), Some(size2)) = (v["size1"].as_u64(), v["size2"].as_u64()) else {
            return false;
        };
        let (Some(root1), Some(root2), Some(proof)) = (
            b64_hash(&v["root1"]),
            b64_hash(&v["root2"]),
            b64_proof(&v["proof"]),
        ) else {
            return false;
        };
        verify_consistency(size1, size2, &proof, &root1, &root2).is_ok()
    });
}

#[test]
fn known_exception_is_rejected_with_typed_hashes() {
    // The skipped file carries 12-byte "roots"; typed hashes reject it while parsing.
    for (file, reason) in exceptions() {
        let v = load(&vectors().join(&file));
        println!("{file}: {reason}");
        assert!(b64_hash(&v["root1"]).is_none());
    }
}

fn hex_hash(v: &Value) -> Hash {
    Hash::from_hex(v.as_str().expect("hex string")).expect("32-byte hex")
}

fn hex_list(v: &Value) -> Vec<Hash> {
    v.as_array().expect("array").iter().map(hex_hash).collect()
}

#[test]
fn rfc6962_reference_tree() {
    let v = load(&vectors().join("rfc6962-reference-tree.json"));
    let hasher = &v["hasher"];
    assert_eq!(empty_root(), hex_hash(&hasher["empty_tree_root"]));
    assert_eq!(leaf_hash(b""), hex_hash(&hasher["leaf_hash_of_empty"]));
    assert_eq!(
        leaf_hash(b"L123456"),
        hex_hash(&hasher["leaf_hash_of_ascii_L123456"])
    );
    // RFC 6962 test: node hash of the raw 4-byte strings "N123" and "N456" (not 32-byte hashes).
    let mut raw = vec![0x01];
    raw.extend_from_slice(b"N123N456");
    let expected = hex_hash(&hasher["node_hash_of_ascii_N123_N456"]);
    use sha2::Digest as _;
    assert_eq!(Hash(sha2::Sha256::digest(&raw).into()), expected);
    let _ = node_hash;

    let leaves: Vec<Vec<u8>> = v["leaves_hex"]
        .as_array()
        .expect("leaves")
        .iter()
        .map(|l| hex::decode(l.as_str().expect("hex")).expect("hex"))
        .collect();
    let mut store = MemHashStore::new();
    for (leaf, expected) in leaves.iter().zip(hex_list(&v["leaf_hashes"])) {
        assert_eq!(leaf_hash(leaf), expected);
        store.append_data(leaf);
    }
    for (size, root) in v["roots"].as_object().expect("roots") {
        let size: u64 = size.parse().expect("size");
        assert_eq!(
            tree_hash(size, &store).expect("root"),
            hex_hash(root),
            "root of {size}"
        );
    }
    let mut n_inclusion = 0;
    for case in v["inclusion"].as_array().expect("inclusion") {
        let index = case["leaf_index"].as_u64().expect("index");
        let size = case["tree_size"].as_u64().expect("size");
        let expected = hex_list(&case["proof"]);
        assert_eq!(
            prove_inclusion(index, size, &store).expect("prove"),
            expected
        );
        let root = tree_hash(size, &store).expect("root");
        let leaf = leaf_hash(&leaves[index as usize]);
        verify_inclusion(index, size, &leaf, &expected, &root).expect("verify");
        n_inclusion += 1;
    }
    let mut n_consistency = 0;
    for case in v["consistency"].as_array().expect("consistency") {
        let size1 = case["size1"].as_u64().expect("size1");
        let size2 = case["size2"].as_u64().expect("size2");
        let expected = hex_list(&case["proof"]);
        assert_eq!(
            prove_consistency(size1, size2, &store).expect("prove"),
            expected
        );
        let root1 = tree_hash(size1, &store).expect("root");
        let root2 = tree_hash(size2, &store).expect("root");
        verify_consistency(size1, size2, &expected, &root1, &root2).expect("verify");
        n_consistency += 1;
    }
    assert_eq!((n_inclusion, n_consistency), (36, 36));
}
