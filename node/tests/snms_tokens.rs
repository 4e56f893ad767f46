//! SNMS Bearer tokens over real sockets: a token works until it is revoked (logout), and a
//! token issued before the identity's secret changed stops working.

use serde_json::{Value, json};

mod native_support;

use native_support::*;

async fn call(node: &TestNode, method: &str, path: &str, auth: &str, body: &Value) -> Value {
    let bytes = body.to_string();
    let mut headers = vec![("Content-Type", "application/json")];
    if !auth.is_empty() {
        headers.push(("Authorization", auth));
    }
    let (_, reply) = http(node, method, path, &headers, bytes.as_bytes()).await;
    serde_json::from_slice(&reply).unwrap_or(Value::Null)
}

async fn login(node: &TestNode, secret: &str) -> String {
    let body = call(
        node,
        "POST",
        "/identity/token",
        "",
        &json!({"username": format!("{ADMIN_INDEX}:{ADMIN}"), "password": secret}),
    )
    .await;
    assert_eq!(body["status"], 1, "{body}");
    format!("Bearer {}", body["data"]["token"].as_str().unwrap())
}

/// Whether `bearer` is accepted: a detail read of the administrator's own handle.
async fn accepted(node: &TestNode, bearer: &str) -> bool {
    let body = call(
        node,
        "GET",
        &format!("/identityv2/data/detail?handle={ADMIN}"),
        bearer,
        &Value::Null,
    )
    .await;
    match body["status"].as_i64() {
        Some(1) => true,
        Some(-1) => false,
        _ => panic!("unexpected answer: {body}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_end_on_logout_and_when_the_secret_changes() {
    let node = TestNode::start(|_| {}).await;
    let token = login(&node, ADMIN_SECRET).await;
    assert!(accepted(&node, &token).await);

    // Logout: the token stops working at once, and cannot be revoked twice.
    let body = call(&node, "DELETE", "/identity/token", &token, &Value::Null).await;
    assert_eq!(body["status"], 1, "{body}");
    assert!(!accepted(&node, &token).await);
    let body = call(&node, "DELETE", "/identity/token", &token, &Value::Null).await;
    assert_eq!(body["status"], -1, "{body}");

    // A new secret ends every token issued for the old one.
    let token = login(&node, ADMIN_SECRET).await;
    assert!(accepted(&node, &token).await);
    let change = json!([{"index": ADMIN_INDEX, "type": "HS_SECKEY",
                         "data": {"format": "string", "value": "a-new-secret"}}]);
    let auth = admin_basic();
    let (status, reply) = http(
        &node,
        "PUT",
        &format!("/api/handles/{ADMIN}?index={ADMIN_INDEX}"),
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        change.to_string().as_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&reply));
    assert!(
        !accepted(&node, &token).await,
        "a token outlived the secret it was issued for"
    );
    let token = login(&node, "a-new-secret").await;
    assert!(accepted(&node, &token).await);
    node.stop().await;
}
