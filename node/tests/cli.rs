//! The `idnode` command line: `init`, `serve` start-up errors and `--help`.

mod support;

use std::path::Path;

use http::Method;
use serde_json::json;
use support::{ADMIN, Client, DataDir, ITERATIONS, PREFIX, Served, alpn_http1, basic, node_cert};

fn arg(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// A configuration file with a low PBKDF2 cost, in `dir`.
fn fast_config(dir: &Path) -> std::path::PathBuf {
    let config = dir.join("idnode.toml");
    support::write_file(
        &config,
        &format!("[auth]\nsecret_iterations = {ITERATIONS}\n"),
    );
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_writes_a_private_secret_that_authenticates() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = fast_config(dir.path());
    let (ok, stdout, stderr) = support::run_idnode(&[
        "init",
        "--data",
        &arg(&data),
        "--config",
        &arg(&config),
        "--prefix",
        PREFIX,
    ]);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("initialised prefix 88.118.8 with administrator 300:88.118.8/ADMIN"),
        "{stdout}"
    );
    // It says where the secret is.
    let line = stdout
        .lines()
        .find(|l| l.contains("secret was written to"))
        .unwrap_or_else(|| panic!("no secret path in {stdout:?}"));
    let path = line.rsplit("written to ").next().map(str::trim).unwrap();
    let path = Path::new(path);
    assert_eq!(path, data.join("admin-secret-88.118.8"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    }
    let secret = std::fs::read_to_string(path).unwrap();
    assert!(secret.len() >= 32, "a long random secret: {secret:?}");
    assert!(
        secret
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "{secret:?}"
    );

    // The secret works for Basic authentication against the served node; another does not.
    let served = Served::start(&data, &config, dir.path().join("serve.log")).await;
    let client = Client::new(&node_cert(&data), &alpn_http1());
    let url = format!(
        "https://{}/api/handles/88.118.8/by-cli?overwrite=false",
        served.https_addr
    );
    let body = json!([{"index": 1, "type": "URL", "data": "https://example.org/cli"}]);
    let put = |authorization: String| {
        let client = client.clone();
        let url = url.clone();
        let body = body.to_string().into_bytes();
        async move {
            client
                .send(
                    Method::PUT,
                    &url,
                    &[
                        ("content-type", "application/json"),
                        ("authorization", &authorization),
                    ],
                    Some(body),
                )
                .await
        }
    };
    assert_eq!(put(basic(ADMIN, "not-the-secret")).await.status, 401);
    let reply = put(basic(ADMIN, &secret)).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    // The secret in the database is the one in the file.
    let reply = client
        .send(
            Method::GET,
            &format!(
                "https://{}/api/handles/88.118.8/ADMIN?index=300",
                served.https_addr
            ),
            &[("authorization", &basic(ADMIN, &secret))],
            None,
        )
        .await;
    assert_eq!(reply.json()["values"][0]["data"]["value"], secret.as_str());
}

#[test]
fn init_twice_fails_clearly() {
    let dir = DataDir::init();
    let again = |extra: &[&str]| {
        let mut args = vec![
            "init".to_owned(),
            "--data".to_owned(),
            arg(&dir.data),
            "--config".to_owned(),
            arg(&dir.config),
            "--prefix".to_owned(),
            PREFIX.to_owned(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        support::run_idnode(&args)
    };
    // With a generated secret, and with a given one.
    let given = dir.dir.path().join("admin-secret");
    for extra in [&[][..], &["--admin-secret-file", &arg(&given)][..]] {
        let (ok, stdout, stderr) = again(extra);
        assert!(!ok, "{stdout}");
        assert!(
            stderr.contains("88.118.8/ADMIN already exists") && stderr.contains("initialised"),
            "{stderr}"
        );
        // No secret file was left behind by the failed attempt.
        assert!(!dir.data.join("admin-secret-88.118.8").exists());
    }
    // The second generated-secret init also fails clearly when the first one left its file.
    std::fs::copy(&given, dir.data.join("admin-secret-88.118.8")).unwrap();
    let (ok, _, stderr) = again(&[]);
    assert!(!ok);
    assert!(stderr.contains("88.118.8/ADMIN already exists"), "{stderr}");
    std::fs::remove_file(dir.data.join("admin-secret-88.118.8")).unwrap();

    // Another prefix in the same data directory is fine.
    let (ok, stdout, stderr) = support::run_idnode(&[
        "init",
        "--data",
        &arg(&dir.data),
        "--config",
        &arg(&dir.config),
        "--prefix",
        "88.118.9",
    ]);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(dir.data.join("admin-secret-88.118.9").exists());
}

#[test]
fn init_refuses_to_overwrite_an_existing_secret_file() {
    // A data directory whose database was removed but whose secret file was kept: init must
    // fail before creating anything, rather than create an administrator whose new secret it
    // then cannot save.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = fast_config(dir.path());
    let init = || {
        support::run_idnode(&[
            "init",
            "--data",
            &arg(&data),
            "--config",
            &arg(&config),
            "--prefix",
            PREFIX,
        ])
    };
    let (ok, _, stderr) = init();
    assert!(ok, "{stderr}");
    let secret_file = data.join("admin-secret-88.118.8");
    let old_secret = std::fs::read(&secret_file).unwrap();
    std::fs::remove_file(data.join("idnode.redb")).unwrap();

    let (ok, _, stderr) = init();
    assert!(!ok, "init over an existing secret file succeeded");
    assert!(
        stderr.contains("admin-secret-88.118.8") && stderr.contains("already exists"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&secret_file).unwrap(), old_secret);
    // Nothing was created: once the file is moved away, init works.
    std::fs::rename(&secret_file, dir.path().join("old-secret")).unwrap();
    let (ok, _, stderr) = init();
    assert!(ok, "{stderr}");
}

#[test]
fn init_rejects_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let empty = dir.path().join("empty");
    support::write_file(&empty, "\n");
    let (ok, _, stderr) = support::run_idnode(&[
        "init",
        "--data",
        &arg(&data),
        "--prefix",
        PREFIX,
        "--admin-secret-file",
        &arg(&empty),
    ]);
    assert!(!ok);
    assert!(stderr.contains("is empty"), "{stderr}");
    let (ok, _, stderr) = support::run_idnode(&[
        "init",
        "--data",
        &arg(&data),
        "--prefix",
        PREFIX,
        "--admin-secret-file",
        &arg(&dir.path().join("missing")),
    ]);
    assert!(!ok);
    assert!(stderr.contains("cannot read"), "{stderr}");
    let (ok, _, stderr) =
        support::run_idnode(&["init", "--data", &arg(&data), "--prefix", "88..8"]);
    assert!(!ok);
    assert!(stderr.contains("empty label"), "{stderr}");
    let (ok, _, stderr) = support::run_idnode(&["init", "--data", &arg(&data)]);
    assert!(!ok);
    assert!(stderr.contains("--prefix"), "{stderr}");
}

#[test]
fn serve_rejects_unknown_config_keys() {
    let dir = tempfile::tempdir().unwrap();
    for (text, key) in [
        ("bogus = 1\n", "bogus"),
        (
            "[http]\nlisten = \"127.0.0.1:0\"\nmax_body = 5\n",
            "max_body",
        ),
        ("[auth]\nsecret_iteration = 5\n", "secret_iteration"),
    ] {
        let config = dir.path().join("bad.toml");
        support::write_file(&config, text);
        let (ok, _, stderr) = support::run_idnode(&[
            "serve",
            "--data",
            &arg(&dir.path().join("data")),
            "--config",
            &arg(&config),
            "--http",
            "off",
            "--https",
            "off",
        ]);
        assert!(!ok, "{text}");
        assert!(
            stderr.contains("invalid config file")
                && stderr.contains(&format!("unknown field `{key}`")),
            "{text}: {stderr}"
        );
    }
    let (ok, _, stderr) =
        support::run_idnode(&["serve", "--config", &arg(&dir.path().join("no-such.toml"))]);
    assert!(!ok);
    assert!(stderr.contains("cannot read config file"), "{stderr}");
    let (ok, _, stderr) = support::run_idnode(&["serve", "--http", "nowhere"]);
    assert!(!ok);
    assert!(stderr.contains("is not an address"), "{stderr}");
}

#[test]
fn help_and_version() {
    let (ok, stdout, _) = support::run_idnode(&["--help"]);
    assert!(ok);
    for word in ["serve", "init", "Usage"] {
        assert!(stdout.contains(word), "{stdout}");
    }
    let (ok, stdout, _) = support::run_idnode(&["serve", "--help"]);
    assert!(ok);
    for word in ["--data", "--http", "--https", "--config"] {
        assert!(stdout.contains(word), "{stdout}");
    }
    let (ok, stdout, _) = support::run_idnode(&["init", "--help"]);
    assert!(ok);
    for word in ["--prefix", "--admin-secret-file"] {
        assert!(stdout.contains(word), "{stdout}");
    }
    let (ok, stdout, _) = support::run_idnode(&["--version"]);
    assert!(ok);
    assert!(stdout.starts_with("idnode "), "{stdout}");
    let (ok, _, stderr) = support::run_idnode(&[]);
    assert!(!ok);
    assert!(stderr.contains("Usage"), "{stderr}");
}
