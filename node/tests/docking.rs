//! Docking on loopback: a secondary keeps its prefix handles at a top-level node current with
//! authenticated native requests, and a client that knows only the top-level node reaches an
//! enterprise prefix as soon as it is approved, and no more once it is disabled.

mod native_support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use idnode::cli::delegate::{self, IdentityKey};
use idnode::config::Role;
use idnode::config::native::Listen;
use idnode_client::locate::address_site;
use idnode_client::{Limits, Locator, Network, Query, Timeouts};
use idnode_proto::{ResponseCode, SiteInfo, ValueRef};
use idnode_resolver::{Application, Identity, Review};
use native_support::{TestNode, free_port, http, site_at};

const IDENTITY_SECRET: &str = "88.118-identity-secret";
const USCC: &str = "91350100M000100Y43";

/// Waits until `check` holds, at most 20 s.
async fn eventually<F: AsyncFn() -> bool>(what: &str, check: F) {
    let start = Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "not in time: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A top-level node whose delegation of `88.118` names a stale site (port 1) and holds
/// `key`, and a secondary for `88.118` that docks with the key in `key_file`; the secondary
/// must correct the delegation's `HS_SITE`.
async fn docked(key_file: &std::path::Path, key: IdentityKey) -> (TestNode, TestNode, SocketAddr) {
    let top_addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let a = TestNode::start_as("88.118", |c| {
        c.federation.top_level = vec![top_addr.to_string()];
        c.federation.identity = Some("300:0.NA/88.118".into());
        c.federation.identity_key = Some(key_file.to_owned());
        c.federation.sync_interval = 1;
        c.federation.report_interval = 1;
        c.auth.server_admins = vec!["300:88.118/ADMIN".into()];
    })
    .await;
    let top = TestNode::start_prepared(
        "88",
        |c| {
            c.federation.role = Role::TopLevel;
            c.native.listen = Some(Listen(Some(top_addr)));
            // Its site information names its HTTP port, where reports go.
            c.http.listen = Some(SocketAddr::from(([127, 0, 0, 1], free_port())));
            c.auth.server_admins = vec!["300:88/ADMIN".into()];
        },
        async move |config| {
            let stale = address_site(SocketAddr::from(([127, 0, 0, 1], 1)));
            delegate::run(config, "88.118", stale, key)
                .await
                .expect("idnode delegate");
        },
    )
    .await;
    let a_port = u32::from(a.native.port());
    eventually(
        "0.NA/88.118 at the top-level node names the secondary",
        async || names(a_port, site_at(&top, "0.NA/88.118").await),
    )
    .await;
    (a, top, top_addr)
}

/// Whether `site` lists the native port `port`.
fn names(port: u32, site: Option<SiteInfo>) -> bool {
    site.is_some_and(|s| s.servers[0].interfaces.iter().any(|i| i.port == port))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sm2_rsa_and_ed25519_identities_dock_by_challenge_response() {
    use idnode::cli::keygen::{KeyAlgorithm, run};
    for algorithm in [KeyAlgorithm::Sm2, KeyAlgorithm::Rsa, KeyAlgorithm::Ed25519] {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("identity.pem");
        let printed = run(algorithm, &key_file, 300).unwrap();
        let public = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            printed["hs_pubkey_base64"].as_str().unwrap(),
        )
        .unwrap();
        let key = IdentityKey::Public(idnode_proto::PublicKey::from_bytes(&public).unwrap());
        let (a, top, _) = docked(&key_file, key).await;
        a.stop().await;
        top.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secondary_keeps_its_prefix_handles_at_the_top_level_node_current() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("identity.secret");
    std::fs::write(&key_file, IDENTITY_SECRET).unwrap();
    let key = IdentityKey::Secret(IDENTITY_SECRET.as_bytes().to_vec());
    let (a, top, top_addr) = docked(&key_file, key).await;
    let a_port = u32::from(a.native.port());

    // Onboarding: the approved prefix appears at the top-level node, and a client that knows
    // only the top-level node resolves the enterprise's record through it.
    let admin = Identity(ValueRef::parse("300:88.118/ADMIN").unwrap());
    let resolver = &a.core.resolver;
    let now = a.core.now();
    let app = Application {
        uscc: USCC.into(),
        org_name: "福建示范化工有限公司".into(),
        industry_code: "C2614".into(),
        region_code: "350100".into(),
        address: "福州市示范路1号".into(),
        prefix: "88.118.8".into(),
        contact: None,
        chem_park: None,
    };
    resolver
        .apply_enterprise(None, app, now)
        .await
        .expect("apply");
    for review in [
        Review::Start,
        Review::Approve {
            admin_secret: b"enterprise-secret".to_vec(),
        },
    ] {
        resolver
            .review_enterprise(Some(&admin), USCC, review, now)
            .await
            .expect("review");
    }
    eventually("0.NA/88.118.8 at the top-level node", async || {
        names(a_port, site_at(&top, "0.NA/88.118.8").await)
    })
    .await;
    let client = Locator::new(
        vec![address_site(top_addr)],
        Network::new(Timeouts::default()),
        Limits::default(),
    );
    let record = format!("88.118.8/E.{USCC}");
    let answer = client
        .resolve(&Query::all(record.clone()))
        .await
        .expect("resolved");
    assert_eq!(answer.message.header.response_code, ResponseCode::Success);

    // 企业节点对接: the enterprise points its prefix handle here at a node of its own; docking
    // registers that node's site at the top-level node instead of this one's.
    let own_node = address_site(SocketAddr::from(([127, 0, 0, 1], 7)));
    resolver
        .handle(idnode_resolver::Request {
            op: idnode_resolver::Operation::ModifyValues {
                handle: resolver.parse_handle("0.NA/88.118.8").unwrap(),
                values: vec![idnode_proto::HandleValue::new(
                    1,
                    "HS_SITE",
                    own_node.to_bytes(),
                )],
            },
            identity: Some(admin.clone()),
            now,
        })
        .await
        .expect("the enterprise's own site");
    eventually(
        "0.NA/88.118.8 at the top-level node names the enterprise's node",
        async || names(7, site_at(&top, "0.NA/88.118.8").await),
    )
    .await;

    // Disabled: withdrawn from the top-level node.
    resolver
        .review_enterprise(
            Some(&admin),
            USCC,
            Review::Disable {
                reason: "licence suspended".into(),
            },
            now,
        )
        .await
        .expect("disable");
    eventually(
        "0.NA/88.118.8 withdrawn from the top-level node",
        async || site_at(&top, "0.NA/88.118.8").await.is_none(),
    )
    .await;
    let fresh = Locator::new(
        vec![address_site(top_addr)],
        Network::new(Timeouts::default()),
        Limits::default(),
    );
    let e = fresh.resolve(&Query::all(record)).await;
    assert!(
        matches!(e, Err(idnode_client::Error::UnknownPrefix { .. })),
        "{e:?}"
    );

    // Operation reports: signed by the secondary, stored by the top-level node, listed to
    // its administrators with the writes under the enterprise prefix.
    let basic = top_admin_basic();
    let auth = [("Authorization", basic.as_str())];
    eventually("a report with the enterprise's writes", async || {
        let (status, body) = http(
            &top,
            "GET",
            "/api/federation/reports?prefix=88.118",
            &auth,
            b"",
        )
        .await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        json["reports"].as_array().unwrap().iter().any(|r| {
            r["report"]["prefix"] == "88.118"
                && r["report"]["prefixes"]["88.118.8"]["registrations"].as_u64() > Some(0)
        })
    })
    .await;
    let (status, _) = http(&top, "GET", "/api/federation/reports", &[], b"").await;
    assert_eq!(status, 401, "anonymous callers read no reports");
    // A report whose signature does not verify, or by another identity, is refused.
    let (_, body) = http(
        &top,
        "GET",
        "/api/federation/reports?prefix=88.118&limit=1",
        &auth,
        b"",
    )
    .await;
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let stored = &json["reports"][0];
    let mut forged =
        serde_json::json!({"report": stored["report"], "signature": stored["signature"]});
    forged["report"]["resolutions"]["native"] = serde_json::json!(1_000_000);
    let (status, _) = http(
        &top,
        "POST",
        "/api/federation/reports",
        &[],
        forged.to_string().as_bytes(),
    )
    .await;
    assert_eq!(status, 403);
    // Validly signed, but for a prefix that is not the identity's delegation.
    let mut foreign = stored["report"].clone();
    foreign["prefix"] = serde_json::json!("88.119");
    let signer = idnode_client::auth::SecretKey::new(
        ValueRef::parse("300:0.NA/88.118").unwrap(),
        IDENTITY_SECRET.as_bytes().to_vec(),
    );
    let other = idnode::federation::report::signed(foreign, &signer).unwrap();
    let (status, body) = http(
        &top,
        "POST",
        "/api/federation/reports",
        &[],
        other.to_string().as_bytes(),
    )
    .await;
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("only the identity of 0.NA/88.119"));
    let (_, body) = http(&top, "GET", "/api/federation/reports", &auth, b"").await;
    assert!(!String::from_utf8_lossy(&body).contains("1000000"));
    a.stop().await;
    top.stop().await;
}

/// `Authorization: Basic` of the top-level node's administrator `300:88/ADMIN`.
fn top_admin_basic() -> String {
    use base64::Engine as _;
    let user = format!("300%3A88/ADMIN:{}", native_support::ADMIN_SECRET);
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(user)
    )
}
