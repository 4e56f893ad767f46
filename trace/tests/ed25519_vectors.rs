//! Ed25519 vectors: RFC 8032 §7.1, RFC 8037 appendix A, Wycheproof and COSE EdDSA examples,
//! checked against the crate's strict verifier (`note::verify_ed25519`) and its signers.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer as _, SigningKey};
use idnode_trace::note::verify_ed25519;
use serde_json::Value;

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/vectors/ed25519")
}

fn load(rel: &str) -> Value {
    let path = vectors().join(rel);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).expect("json")
}

fn hex_field(v: &Value, key: &str) -> Vec<u8> {
    hex::decode(v[key].as_str().unwrap_or_else(|| panic!("{key}"))).expect("hex")
}

#[test]
fn rfc8032_section_7_1() {
    let v = load("rfc8032-7.1.json");
    let tests = v["vectors"].as_array().expect("vectors");
    assert_eq!(tests.len(), 5);
    for t in tests {
        let name = t["name"].as_str().expect("name");
        let seed: [u8; 32] = hex_field(t, "secret_key").try_into().expect("32 bytes");
        let public = hex_field(t, "public_key");
        let message = hex_field(t, "message");
        let signature = hex_field(t, "signature");
        let key = SigningKey::from_bytes(&seed);
        assert_eq!(key.verifying_key().as_bytes()[..], public[..], "{name}");
        assert_eq!(key.sign(&message).to_bytes()[..], signature[..], "{name}");
        assert!(verify_ed25519(&public, &message, &signature), "{name}");
        let mut bad = signature.clone();
        bad[0] ^= 1;
        assert!(!verify_ed25519(&public, &message, &bad), "{name}");
    }
}

#[test]
fn rfc8037_appendix_a() {
    let v = load("rfc8037-A.json");
    let d = URL_SAFE_NO_PAD
        .decode(v["A.1_private_jwk"]["d"].as_str().expect("d"))
        .expect("b64");
    let x = URL_SAFE_NO_PAD
        .decode(v["A.2_public_jwk"]["x"].as_str().expect("x"))
        .expect("b64");
    let key = SigningKey::from_bytes(&d.try_into().expect("32 bytes"));
    assert_eq!(key.verifying_key().as_bytes()[..], x[..]);
    // A.3: the JWK thumbprint is SHA-256 of the canonical required members.
    use sha2::Digest as _;
    let thumbprint = sha2::Sha256::digest(v["A.3_thumbprint_input"].as_str().expect("input"));
    assert_eq!(
        URL_SAFE_NO_PAD.encode(thumbprint),
        v["A.3_thumbprint_sha256_b64u"].as_str().expect("tp")
    );
    let jwk: Value =
        serde_json::json!({"crv": "Ed25519", "kty": "OKP", "x": v["A.2_public_jwk"]["x"]});
    let canonical = idnode_trace::jcs::canonicalize(&jwk).expect("jcs");
    assert_eq!(
        canonical,
        v["A.3_thumbprint_input"]
            .as_str()
            .expect("input")
            .as_bytes()
    );
    // A.4 / A.5: compact JWS over the payload.
    let signing_input = v["A.4_signing_input"].as_str().expect("input");
    let signature = key.sign(signing_input.as_bytes()).to_bytes();
    assert_eq!(
        hex::encode(signature),
        v["A.4_signature_hex"].as_str().expect("sig")
    );
    let compact = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature));
    assert_eq!(compact, v["A.4_jws_compact"].as_str().expect("jws"));
    assert!(verify_ed25519(&x, signing_input.as_bytes(), &signature));
}

#[test]
fn wycheproof_ed25519_strict() {
    let v = load("wycheproof/ed25519_test.json");
    let mut n_tests = 0;
    let mut n_valid = 0;
    for group in v["testGroups"].as_array().expect("groups") {
        let public = hex_field(&group["publicKey"], "pk");
        for t in group["tests"].as_array().expect("tests") {
            let id = t["tcId"].as_u64().expect("tcId");
            let message = hex_field(t, "msg");
            let signature = hex_field(t, "sig");
            let result = t["result"].as_str().expect("result");
            let want = match result {
                "valid" => true,
                "invalid" => false,
                // The Ed25519 file has no "acceptable" cases; fail loudly if one appears.
                other => panic!("tcId {id}: unexpected result {other}"),
            };
            assert_eq!(
                verify_ed25519(&public, &message, &signature),
                want,
                "tcId {id} ({}) flags {}",
                t["comment"],
                t["flags"]
            );
            n_tests += 1;
            n_valid += usize::from(want);
        }
    }
    assert_eq!(
        n_tests,
        v["numberOfTests"].as_u64().expect("count") as usize
    );
    println!("wycheproof: {n_tests} cases agree ({n_valid} valid), no exceptions");
}

/// COSE EdDSA examples: the Ed25519 ones (`eddsa-sig-01`, `eddsa-01`) reproduce and verify the
/// signature over `ToBeSign`; the Ed448 ones (`eddsa-sig-02`, `eddsa-02`) do not apply.
#[test]
fn cose_wg_eddsa_examples() {
    let mut checked = 0;
    for (file, signer_path, tbs_path) in [
        (
            "cose-wg/eddsa-sig-01.json",
            "/input/sign0/key",
            "/intermediates/ToBeSign_hex",
        ),
        (
            "cose-wg/eddsa-01.json",
            "/input/sign/signers/0/key",
            "/intermediates/signers/0/ToBeSign_hex",
        ),
        (
            "cose-wg/eddsa-sig-02.json",
            "/input/sign0/key",
            "/intermediates/ToBeSign_hex",
        ),
        (
            "cose-wg/eddsa-02.json",
            "/input/sign/signers/0/key",
            "/intermediates/signers/0/ToBeSign_hex",
        ),
    ] {
        let v = load(file);
        let key = v.pointer(signer_path).expect("key");
        if key["crv"] != "Ed25519" {
            println!("{file}: skipped, curve {} is not Ed25519", key["crv"]);
            continue;
        }
        let seed: [u8; 32] = hex_field(key, "d_hex").try_into().expect("32 bytes");
        let public = hex_field(key, "x_hex");
        let tbs =
            hex::decode(v.pointer(tbs_path).and_then(Value::as_str).expect("tbs")).expect("hex");
        let cbor = hex::decode(v["output"]["cbor"].as_str().expect("cbor")).expect("hex");
        // The signature is the final 64-byte byte string of the COSE structure.
        let signature = &cbor[cbor.len() - 64..];
        let signing_key = SigningKey::from_bytes(&seed);
        assert_eq!(
            signing_key.verifying_key().as_bytes()[..],
            public[..],
            "{file}"
        );
        assert_eq!(
            signing_key.sign(&tbs).to_bytes()[..],
            signature[..],
            "{file}"
        );
        assert!(verify_ed25519(&public, &tbs, signature), "{file}");
        checked += 1;
    }
    assert_eq!(checked, 2);
}
