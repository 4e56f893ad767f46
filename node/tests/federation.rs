//! The node in the hierarchy, as separate processes on loopback: a top-level node set up with
//! `idnode init` and `idnode delegate`, and what it answers for the prefixes it delegates.

mod support;

use std::path::Path;

use http::Method;
use serde_json::{Value, json};
use support::{Client, ITERATIONS, Served, alpn_http1, node_cert, run_idnode, write_file};

fn arg(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// A secondary's site information, as `GET /api/site` answers it.
fn secondary_site(port: u16) -> Value {
    json!({"responseCode": 1, "site": {
        "version": 1, "protocolVersion": "2.11", "serialNumber": 1,
        "primarySite": true, "multiPrimary": false, "attributes": [],
        "servers": [{"serverId": 1, "address": "127.0.0.1",
            "publicKey": {"format": "base64", "value": ""},
            "interfaces": [
                {"query": true, "admin": true, "protocol": "TCP", "port": port},
                {"query": true, "admin": false, "protocol": "UDP", "port": port}]}]}})
}

/// A top-level node's data directory: `idnode init --prefix 88` with the top-level role.
fn top_level(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let data = dir.join("top");
    let config = dir.join("top.toml");
    write_file(
        &config,
        &format!(
            "[auth]\nsecret_iterations = {ITERATIONS}\n\n[federation]\nrole = \"top-level\"\n"
        ),
    );
    let (ok, stdout, stderr) = run_idnode(&[
        "init",
        "--data",
        &arg(&data),
        "--config",
        &arg(&config),
        "--prefix",
        "88",
    ]);
    assert!(ok, "{stdout}\n{stderr}");
    (data, config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delegate_creates_the_prefix_handle_and_the_top_level_refers_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let (data, config) = top_level(dir.path());
    let site = dir.path().join("site.json");
    write_file(&site, &secondary_site(2651).to_string());
    let key = dir.path().join("secondary.pem");
    let (ok, pubkey, stderr) = run_idnode(&["keygen", "--algorithm", "sm2", "--out", &arg(&key)]);
    assert!(ok, "{stderr}");
    let pubkey_file = dir.path().join("secondary.pub.json");
    write_file(&pubkey_file, &pubkey);

    let delegate = |prefix: &str| {
        run_idnode(&[
            "delegate",
            "--data",
            &arg(&data),
            "--config",
            &arg(&config),
            "--prefix",
            prefix,
            "--site",
            &arg(&site),
            "--admin-pubkey",
            &arg(&pubkey_file),
        ])
    };
    let (ok, stdout, stderr) = delegate("88.118");
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("0.NA/88.118") && stdout.contains("300:0.NA/88.118"),
        "{stdout}"
    );
    // Twice is an error that says why; outside the homed prefix too; both write nothing.
    let (ok, _, stderr) = delegate("88.118");
    assert!(!ok && stderr.contains("delegated already"), "{stderr}");
    let (ok, _, stderr) = delegate("99.1");
    assert!(
        !ok && stderr.contains("homes no prefix above 99.1"),
        "{stderr}"
    );
    let garbage = dir.path().join("garbage.json");
    write_file(&garbage, "{\"kty\": \"nonsense\"}");
    let (ok, _, stderr) = run_idnode(&[
        "delegate",
        "--data",
        &arg(&data),
        "--config",
        &arg(&config),
        "--prefix",
        "88.119",
        "--site",
        &arg(&site),
        "--admin-pubkey",
        &arg(&garbage),
    ]);
    assert!(!ok && stderr.contains("not a public key"), "{stderr}");

    let served = Served::start(&data, &config, dir.path().join("top.log")).await;
    let client = Client::new(&node_cert(&data), &alpn_http1());
    let get = |path: String| {
        let client = client.clone();
        let url = format!("https://{}{path}", served.https_addr);
        async move { client.send(Method::GET, &url, &[], None).await }
    };
    // The prefix handle: the secondary's site twice, its administrator, its key.
    let reply = get("/api/handles/0.NA/88.118".into()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let record = reply.json();
    let types: Vec<&str> = record["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["HS_SITE", "HS_SITE.PREFIX", "HS_ADMIN", "HS_PUBKEY"]
    );
    assert_eq!(record["values"][3]["index"], 300);
    assert_eq!(record["values"][3]["data"]["value"]["crv"], "SM2");

    // An identifier of the delegated prefix: referred (RC 302), never answered RC 100.
    let reply = get("/api/handles/88.118/x".into()).await;
    assert_eq!(reply.status, 300, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["responseCode"], 302);
    assert_eq!(body["values"][0]["type"], "HS_SITE");
    assert_eq!(
        body["values"][0]["data"]["value"]["servers"][0]["interfaces"][0]["port"],
        2651
    );
    // Under an unregistered enterprise prefix: RC 302 naming its prefix handle.
    let body = get("/api/handles/88.118.8/x".into()).await.json();
    assert_eq!(body["responseCode"], 302, "{body}");
    assert_eq!(body["referralHandle"], "0.NA/88.118.8");
    // And the prefix handle itself is referred down the chain (RC 303).
    let body = get("/api/handles/0.NA/88.118.8".into()).await.json();
    assert_eq!(body["responseCode"], 303, "{body}");
    assert_eq!(body["values"][0]["type"], "HS_SITE.PREFIX");
    // The top-level's own prefix still homes its own handles.
    let body = get("/api/handles/88/ADMIN".into()).await.json();
    assert_eq!(body["responseCode"], 1, "{body}");
}
