//! `Authorization: Handle` challenge–response and the sessions API of the handle.net REST API,
//! against a node started in-process and reached over real TLS on loopback.

mod support;

use std::collections::HashMap;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::Method;
use idnode_certs::mac;
use serde_json::{Value, json};
use support::{ADMIN, ADMIN_SECRET, Api, Node, Reply};

/// The client nonce the vectors use: bytes 00..0f.
const CNONCE: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

/// The RSA identity of the vectors.
const RSA_ADMIN: &str = "300:88.118.8/RSAADMIN";

fn admin_value(index: u32, identity_handle: &str, identity_index: u32) -> Value {
    json!({"index": index, "type": "HS_ADMIN", "data": {"format": "admin",
        "value": {"handle": identity_handle, "index": identity_index, "permissions": "111111111111"}}})
}

/// A small record administered by `identity_handle` at index 300.
fn record(identity_handle: &str) -> Value {
    json!({"values": [
        admin_value(100, identity_handle, 300),
        {"index": 1, "type": "URL", "data": "https://example.org/sessions/1"},
    ]})
}

/// The parameters of the `WWW-Authenticate: Handle` challenge of a reply.
fn handle_challenge(reply: &Reply) -> HashMap<String, String> {
    let challenges: Vec<&str> = reply
        .headers
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().expect("ASCII challenge"))
        .collect();
    assert!(
        challenges.contains(&"Basic realm=\"handle\""),
        "no Basic challenge in {challenges:?}"
    );
    let handle = challenges
        .iter()
        .find_map(|c| c.strip_prefix("Handle "))
        .unwrap_or_else(|| panic!("no Handle challenge in {challenges:?}"));
    auth_params(handle)
}

/// `k="v", ...` as a map (the values of these tests contain no quotes or commas).
fn auth_params(text: &str) -> HashMap<String, String> {
    text.split(", ")
        .map(|pair| {
            let (k, v) = pair.split_once('=').expect("name=value");
            (k.to_owned(), v.trim_matches('"').to_owned())
        })
        .collect()
}

fn nonce_of(params: &HashMap<String, String>) -> Vec<u8> {
    let nonce = STANDARD.decode(&params["nonce"]).expect("base64 nonce");
    assert_eq!(nonce.len(), 16);
    nonce
}

/// `Authorization: Handle` with a session and a signed answer.
fn signed(
    session: &str,
    id: &str,
    key_type: &str,
    alg: &str,
    signature: &[u8],
    extra: &str,
) -> String {
    let id = id
        .replace('%', "%25")
        .replace(':', "%3A")
        .replace('/', "%2F");
    format!(
        "Handle sessionId=\"{session}\", id=\"{id}\", type=\"{key_type}\", cnonce=\"{}\", alg=\"{alg}\", signature=\"{}\"{extra}",
        STANDARD.encode(CNONCE),
        STANDARD.encode(signature)
    )
}

fn session_only(session: &str) -> String {
    format!("Handle sessionId=\"{session}\"")
}

/// `nonce ‖ cnonce`, what every answer signs.
fn message(nonce: &[u8]) -> Vec<u8> {
    [nonce, &CNONCE[..]].concat()
}

fn hmac_sha256_answer(session: &str, nonce: &[u8], secret: &str) -> String {
    let signature = mac::hmac_sha256(secret.as_bytes(), &message(nonce));
    signed(session, ADMIN, "HS_SECKEY", "HMAC-SHA256", &signature, "")
}

fn json_body(body: &Value) -> Option<Vec<u8>> {
    Some(body.to_string().into_bytes())
}

async fn put_json(api: &Api, path: &str, body: &Value) -> Reply {
    api.request(
        Method::PUT,
        path,
        &[("content-type", "application/json")],
        json_body(body),
    )
    .await
}

/// `POST /api/sessions`: 201, `Location`, a session id and a 16-byte nonce.
async fn new_session(node: &Node) -> (String, Vec<u8>) {
    let reply = node
        .https()
        .request(
            Method::POST,
            "/api/sessions",
            &[("accept", "application/json")],
            None,
        )
        .await;
    assert_eq!(reply.status.as_u16(), 201, "{}", reply.text());
    assert_eq!(reply.header("location"), Some("/api/sessions/this"));
    let body = reply.json();
    let session = body["sessionId"].as_str().expect("sessionId").to_owned();
    assert_eq!(
        URL_SAFE_NO_PAD
            .decode(&session)
            .expect("base64url id")
            .len(),
        16
    );
    let nonce = STANDARD
        .decode(body["nonce"].as_str().expect("nonce"))
        .expect("base64 nonce");
    assert_eq!(nonce.len(), 16);
    assert!(body.get("authenticated").is_none(), "{body}");
    (session, nonce)
}

#[tokio::test]
async fn challenge_then_signed_repeat_then_session_id_alone() {
    let node = Node::start().await;
    let path = "/api/handles/88.118.8/challenged?overwrite=false";
    let body = record("88.118.8/ADMIN");

    let first = put_json(&node.https(), path, &body).await;
    first.expect(401, 402);
    let challenge = handle_challenge(&first);
    assert!(!challenge.contains_key("error"), "{challenge:?}");
    assert!(!challenge.contains_key("serverSignature"));
    let session = challenge["sessionId"].clone();
    let nonce = nonce_of(&challenge);

    let answer = hmac_sha256_answer(&session, &nonce, ADMIN_SECRET);
    let repeat = put_json(&node.https().with_authorization(&answer), path, &body).await;
    assert_eq!(repeat.expect(201, 1)["handle"], "88.118.8/challenged");

    // The session id alone authenticates from now on, on any connection.
    let by_session = node.https().with_authorization(&session_only(&session));
    let info = by_session.get("/api/sessions/this").await;
    assert_eq!(info.status.as_u16(), 200, "{}", info.text());
    assert_eq!(
        info.json(),
        json!({"sessionId": session, "nonce": STANDARD.encode(&nonce),
            "authenticated": true, "id": ADMIN})
    );
    let private = by_session
        .get("/api/handles/88.118.8/ADMIN?publicOnly=false")
        .await;
    assert_eq!(private.status.as_u16(), 200, "{}", private.text());
    by_session
        .delete("/api/handles/88.118.8/challenged")
        .await
        .expect(200, 1);

    // A second unauthenticated request gets a different session and nonce.
    let other = put_json(&node.https(), path, &body).await;
    let other = handle_challenge(&other);
    assert_ne!(other["sessionId"], session);
    assert_ne!(nonce_of(&other), nonce);
    node.stop().await;
}

#[tokio::test]
async fn sessions_api_with_pbkdf2_and_delete() {
    let node = Node::start().await;
    let (session, nonce) = new_session(&node).await;
    let by_session = node.https().with_authorization(&session_only(&session));

    // Before it is authenticated the session only describes itself, and writes need more.
    let info = by_session.get("/api/sessions/this").await;
    assert_eq!(info.status.as_u16(), 200, "{}", info.text());
    assert_eq!(
        info.json(),
        json!({"sessionId": session, "nonce": STANDARD.encode(&nonce)})
    );
    let refused = put_json(
        &by_session,
        "/api/handles/88.118.8/pbkdf2",
        &record("88.118.8/ADMIN"),
    )
    .await;
    refused.expect(401, 402);
    // The challenge continues the caller's unauthenticated session.
    let challenge = handle_challenge(&refused);
    assert_eq!(challenge["sessionId"], session);
    assert_eq!(nonce_of(&challenge), nonce);

    // PBKDF2-HMAC-SHA1, with the parameters in the header.
    let salt = b"0123456789abcdef";
    let key = mac::pbkdf2_hmac_sha1(ADMIN_SECRET.as_bytes(), salt, 1000, 160).unwrap();
    let signature = mac::hmac_sha1(&key, &message(&nonce));
    let extra = format!(
        ", salt=\"{}\", iterations=\"1000\", length=\"160\"",
        STANDARD.encode(salt)
    );
    let answer = signed(
        &session,
        ADMIN,
        "HS_SECKEY",
        "PBKDF2-HMAC-SHA1",
        &signature,
        &extra,
    );
    let reply = node
        .https()
        .with_authorization(&answer)
        .request(
            Method::PUT,
            "/api/sessions/this",
            &[("accept", "application/json")],
            None,
        )
        .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.text());
    assert_eq!(
        reply.json(),
        json!({"sessionId": session, "nonce": STANDARD.encode(&nonce),
            "authenticated": true, "id": ADMIN})
    );

    put_json(
        &by_session,
        "/api/handles/88.118.8/pbkdf2?overwrite=false",
        &record("88.118.8/ADMIN"),
    )
    .await
    .expect(201, 1);

    // DELETE ends the session: 204 with an empty body; afterwards the id is refused.
    let ended = by_session.delete("/api/sessions/this").await;
    assert_eq!(ended.status.as_u16(), 204);
    assert!(ended.body.is_empty());
    let after = by_session.delete("/api/handles/88.118.8/pbkdf2").await;
    assert_eq!(after.status.as_u16(), 401, "{}", after.text());
    assert_eq!(handle_challenge(&after)["error"], "Identity not verified");
    assert_ne!(handle_challenge(&after)["sessionId"], session);
    assert_eq!(
        by_session.get("/api/sessions/this").await.status.as_u16(),
        401
    );
    assert_eq!(
        by_session
            .delete("/api/sessions/this")
            .await
            .status
            .as_u16(),
        401
    );
    node.stop().await;
}

#[tokio::test]
async fn sessions_api_body_parameters_and_basic() {
    let node = Node::start().await;

    // PUT /api/sessions/this with the answer in a JSON body (the id not percent-encoded).
    let (session, nonce) = new_session(&node).await;
    let signature = mac::hmac_sha256(ADMIN_SECRET.as_bytes(), &message(&nonce));
    let body = json!({"sessionId": session, "id": ADMIN, "type": "HS_SECKEY",
        "cnonce": STANDARD.encode(CNONCE), "alg": "HMAC-SHA256",
        "signature": STANDARD.encode(signature)});
    let reply = put_json(&node.https(), "/api/sessions/this", &body).await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.text());
    assert_eq!(reply.json()["authenticated"], true);

    // Basic credentials on POST authenticate the new session at once.
    let reply = node
        .admin()
        .request(Method::POST, "/api/sessions", &[], None)
        .await;
    assert_eq!(reply.status.as_u16(), 201, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["authenticated"], true);
    assert_eq!(body["id"], ADMIN);
    let session = body["sessionId"].as_str().unwrap().to_owned();
    put_json(
        &node.https().with_authorization(&session_only(&session)),
        "/api/handles/88.118.8/basic-session?overwrite=false",
        &record("88.118.8/ADMIN"),
    )
    .await
    .expect(201, 1);

    // A session id in the body plus Basic credentials in the header (PUT /api/sessions/this).
    let (session, _) = new_session(&node).await;
    let reply = put_json(
        &node.admin(),
        "/api/sessions/this",
        &json!({"sessionId": session}),
    )
    .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.text());
    assert_eq!(reply.json()["id"], ADMIN);

    // Wrong Basic credentials on POST: 401 with the error.
    let reply = node
        .https()
        .as_user(ADMIN, "wrong")
        .request(Method::POST, "/api/sessions", &[], None)
        .await;
    assert_eq!(reply.status.as_u16(), 401);
    assert_eq!(handle_challenge(&reply)["error"], "Identity not verified");

    // Unknown methods and paths under /api/sessions.
    let reply = node.https().get("/api/sessions").await;
    reply.expect(405, 4);
    let reply = node.https().get("/api/sessions/other").await;
    reply.expect(405, 4);
    node.stop().await;
}

/// The RSA test key pair of the captured native vectors (marked there for tests only), and its
/// public key as the REST vectors store it (a `key`-format JWK).
fn rsa_test_key() -> (ring::signature::RsaKeyPair, Value) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/vectors");
    let seed: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("handle-native/seed.json")).expect("native seed"),
    )
    .expect("seed JSON");
    let pem = seed["identities"][RSA_ADMIN]["private_key_pkcs8_pem_test_only"]
        .as_str()
        .expect("test key");
    let der: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let pair = ring::signature::RsaKeyPair::from_pkcs8(&STANDARD.decode(der).unwrap())
        .expect("PKCS#8 RSA key");
    let vector: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("handle-rest/session-pubkey-rsa-sha256.json"))
            .expect("REST vector"),
    )
    .expect("vector JSON");
    let jwk = vector["seed"]["records"]["88.118.8/RSAADMIN"]["values"][1]["data"]["value"].clone();
    (pair, jwk)
}

fn rsa_sha256(pair: &ring::signature::RsaKeyPair, message: &[u8]) -> Vec<u8> {
    let mut signature = vec![0; pair.public().modulus_len()];
    pair.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        message,
        &mut signature,
    )
    .expect("RSA signature");
    signature
}

#[tokio::test]
async fn rsa_identity_authenticates_with_a_signature() {
    let node = Node::start().await;
    let (pair, jwk) = rsa_test_key();
    // The RSA identity, and a handle it administers.
    let identity = json!({"values": [
        admin_value(100, "88.118.8/ADMIN", 300),
        {"index": 300, "type": "HS_PUBKEY", "data": {"format": "key", "value": jwk}},
    ]});
    put_json(
        &node.admin(),
        "/api/handles/88.118.8/RSAADMIN?overwrite=false",
        &identity,
    )
    .await
    .expect(201, 1);
    put_json(
        &node.admin(),
        "/api/handles/88.118.8/rsa-owned?overwrite=false",
        &record("88.118.8/RSAADMIN"),
    )
    .await
    .expect(201, 1);

    // A wrong signature (over another message) is refused and ends the session.
    let (session, nonce) = new_session(&node).await;
    let wrong = rsa_sha256(&pair, &nonce);
    let answer = signed(&session, RSA_ADMIN, "HS_PUBKEY", "SHA256", &wrong, "");
    let reply = node
        .https()
        .with_authorization(&answer)
        .request(Method::PUT, "/api/sessions/this", &[], None)
        .await;
    assert_eq!(reply.status.as_u16(), 401, "{}", reply.text());
    assert!(reply.body.is_empty());
    assert_eq!(handle_challenge(&reply)["error"], "Identity not verified");
    let gone = node
        .https()
        .with_authorization(&session_only(&session))
        .get("/api/sessions/this")
        .await;
    assert_eq!(gone.status.as_u16(), 401);

    // SHA256withRSA over nonce ‖ cnonce.
    let (session, nonce) = new_session(&node).await;
    let answer = signed(
        &session,
        RSA_ADMIN,
        "HS_PUBKEY",
        "SHA256",
        &rsa_sha256(&pair, &message(&nonce)),
        "",
    );
    let reply = node
        .https()
        .with_authorization(&answer)
        .request(Method::PUT, "/api/sessions/this", &[], None)
        .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.text());
    assert_eq!(reply.json()["id"], RSA_ADMIN);

    let by_session = node.https().with_authorization(&session_only(&session));
    let change =
        json!({"values": [{"index": 1, "type": "URL", "data": "https://example.org/rsa"}]});
    put_json(
        &by_session,
        "/api/handles/88.118.8/rsa-owned?index=1",
        &change,
    )
    .await
    .expect(200, 1);
    // The RSA identity administers only its own handle: RC 400 (not an administrator).
    put_json(&by_session, "/api/handles/88.118.8/ADMIN?index=1", &change)
        .await
        .expect(403, 400);
    node.stop().await;
}

/// An SM2 identity written through the REST API as a JWK (`{"kty":"EC","crv":"SM2"}`), read
/// back as such, and authenticated with `alg="SM3"`: an SM2 signature of `SM3(nonce ‖ cnonce)`
/// under the identity's handle, as the IDIS SDK signs.
#[tokio::test]
async fn sm2_identity_authenticates_with_a_signature() {
    let node = Node::start().await;
    let key = idnode_certs::sm2::Sm2Key::from_scalar(&[9; 32]).unwrap();
    let jwk = key.public_key().to_jwk().unwrap();
    let identity = json!({"values": [
        admin_value(100, "88.118.8/ADMIN", 300),
        {"index": 300, "type": "HS_PUBKEY", "data": {"format": "key", "value": jwk}},
    ]});
    put_json(
        &node.admin(),
        "/api/handles/88.118.8/SM2ADMIN?overwrite=false",
        &identity,
    )
    .await
    .expect(201, 1);
    let stored = node.https().get("/api/handles/88.118.8/SM2ADMIN").await;
    assert_eq!(
        stored.json()["values"][1]["data"]["value"]["crv"],
        "SM2",
        "{}",
        stored.text()
    );

    // Signed under another handle: refused.
    let (session, nonce) = new_session(&node).await;
    let wrong = key
        .answer_challenge("88.118.8/ADMIN", &message(&nonce))
        .unwrap();
    let answer = signed(
        &session,
        "300:88.118.8/SM2ADMIN",
        "HS_PUBKEY",
        "SM3",
        &wrong,
        "",
    );
    let reply = node
        .https()
        .with_authorization(&answer)
        .request(Method::PUT, "/api/sessions/this", &[], None)
        .await;
    assert_eq!(reply.status.as_u16(), 401, "{}", reply.text());

    let (session, nonce) = new_session(&node).await;
    let right = key
        .answer_challenge("88.118.8/SM2ADMIN", &message(&nonce))
        .unwrap();
    let answer = signed(
        &session,
        "300:88.118.8/SM2ADMIN",
        "HS_PUBKEY",
        "SM3",
        &right,
        "",
    );
    let reply = node
        .https()
        .with_authorization(&answer)
        .request(Method::PUT, "/api/sessions/this", &[], None)
        .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.text());
    assert_eq!(reply.json()["id"], "300:88.118.8/SM2ADMIN");
}

#[tokio::test]
async fn wrong_answers_and_unknown_sessions_are_refused() {
    let node = Node::start().await;
    let path = "/api/handles/88.118.8/refused?overwrite=false";
    let body = record("88.118.8/ADMIN");

    // A wrong HMAC: 401 with an empty body, a new challenge with the error; the session ends.
    let challenge = handle_challenge(&put_json(&node.https(), path, &body).await);
    let session = challenge["sessionId"].clone();
    let answer = hmac_sha256_answer(&session, &nonce_of(&challenge), "not-the-secret");
    let reply = put_json(&node.https().with_authorization(&answer), path, &body).await;
    assert_eq!(reply.status.as_u16(), 401);
    assert!(reply.body.is_empty(), "{}", reply.text());
    let again = handle_challenge(&reply);
    assert_eq!(again["error"], "Identity not verified");
    assert_ne!(again["sessionId"], session);
    let reply = put_json(
        &node.https().with_authorization(&session_only(&session)),
        path,
        &body,
    )
    .await;
    assert_eq!(reply.status.as_u16(), 401);

    // The right answer for another nonce does not verify either.
    let answer = hmac_sha256_answer(&again["sessionId"], &[0; 16], ADMIN_SECRET);
    let reply = put_json(&node.https().with_authorization(&answer), path, &body).await;
    assert_eq!(reply.status.as_u16(), 401);

    // Unknown, malformed and missing session ids; an unknown algorithm.
    let unknown = URL_SAFE_NO_PAD.encode([7u8; 16]);
    for authorization in [
        session_only(&unknown),
        session_only("node0ppxe8cemvvkg4cqu8lpfie5411"),
        hmac_sha256_answer("", &[0; 16], ADMIN_SECRET).replace("sessionId=\"\", ", ""),
    ] {
        let reply = node
            .https()
            .with_authorization(&authorization)
            .get("/api/handles/88.118.8/ADMIN")
            .await;
        assert_eq!(
            reply.status.as_u16(),
            401,
            "{authorization}: {}",
            reply.text()
        );
        assert_eq!(handle_challenge(&reply)["error"], "Identity not verified");
    }
    let (session, nonce) = new_session(&node).await;
    let answer = signed(&session, ADMIN, "HS_SECKEY", "ROT13", &message(&nonce), "");
    let reply = put_json(&node.https().with_authorization(&answer), path, &body).await;
    assert_eq!(reply.status.as_u16(), 401);

    // Without a session, anonymous reads are unaffected by a lone cnonce.
    let reply = node
        .https()
        .with_authorization(&format!("Handle cnonce=\"{}\"", STANDARD.encode(CNONCE)))
        .get("/api/handles/88.118.8/ADMIN")
        .await;
    reply.expect(200, 1);
    node.stop().await;
}

#[tokio::test]
async fn plain_http_ignores_handle_credentials() {
    let node = Node::start().await;
    let path = "/api/handles/88.118.8/plain?overwrite=false";
    let body = record("88.118.8/ADMIN");

    // A session authenticated over HTTPS counts for nothing over plain HTTP.
    let (session, nonce) = new_session(&node).await;
    let answer = hmac_sha256_answer(&session, &nonce, ADMIN_SECRET);
    let reply = node
        .https()
        .with_authorization(&answer)
        .request(Method::PUT, "/api/sessions/this", &[], None)
        .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.text());
    let reply = put_json(
        &node.http().with_authorization(&session_only(&session)),
        path,
        &body,
    )
    .await;
    reply.expect(403, 402);
    assert!(reply.header("www-authenticate").is_none());
    // A signed answer over plain HTTP is ignored as well.
    let reply = put_json(&node.http().with_authorization(&answer), path, &body).await;
    reply.expect(403, 402);
    // Anonymous reads still work.
    node.http()
        .with_authorization(&session_only(&session))
        .get("/api/handles/88.118.8/ADMIN")
        .await
        .expect(200, 1);
    // The sessions API needs HTTPS.
    for method in [Method::POST, Method::GET, Method::DELETE] {
        let target = if method == Method::POST {
            "/api/sessions"
        } else {
            "/api/sessions/this"
        };
        let reply = node
            .http()
            .with_authorization(&session_only(&session))
            .request(method.clone(), target, &[], None)
            .await;
        assert_eq!(reply.status.as_u16(), 403, "{method}: {}", reply.text());
    }
    // The session itself is untouched and still works over HTTPS.
    put_json(
        &node.https().with_authorization(&session_only(&session)),
        path,
        &body,
    )
    .await
    .expect(201, 1);
    node.stop().await;
}

#[tokio::test]
async fn plain_http_from_loopback_when_configured() {
    let node = Node::start_with(|c| c.http.allow_loopback_plain_writes = true).await;
    let reply = node
        .http()
        .request(Method::POST, "/api/sessions", &[], None)
        .await;
    assert_eq!(reply.status.as_u16(), 201, "{}", reply.text());
    let body = reply.json();
    let session = body["sessionId"].as_str().unwrap().to_owned();
    let nonce = STANDARD.decode(body["nonce"].as_str().unwrap()).unwrap();
    let answer = hmac_sha256_answer(&session, &nonce, ADMIN_SECRET);
    put_json(
        &node.http().with_authorization(&answer),
        "/api/handles/88.118.8/loopback?overwrite=false",
        &record("88.118.8/ADMIN"),
    )
    .await
    .expect(201, 1);
    node.stop().await;
}

/// The node's published key: the `publicKey` JWK of `GET /api/site`.
async fn site_key(node: &Node) -> idnode_proto::PublicKey {
    let site = node.https().get("/api/site").await.expect(200, 1);
    let key = &site["site"]["servers"][0]["publicKey"];
    assert_eq!(key["format"], "key", "{key}");
    idnode_proto::PublicKey::from_jwk(&key["value"]).expect("site key")
}

fn verify_server_signature(
    key: &idnode_proto::PublicKey,
    alg: &str,
    nonce: &[u8],
    signature: &str,
) {
    let signature = STANDARD.decode(signature).expect("base64 signature");
    let idnode_proto::PublicKey::Ed25519(public) = key else {
        panic!("a node without the native listener publishes its Ed25519 key, not {key:?}");
    };
    assert_eq!(alg, "Ed25519");
    let signature: [u8; 64] = signature.try_into().expect("64-byte signature");
    assert!(idnode_certs::sign::verify(
        public,
        &message(nonce),
        &signature
    ));
}

#[tokio::test]
async fn server_signs_nonce_and_cnonce_when_asked() {
    let node = Node::start().await;
    let key = site_key(&node).await;
    let cnonce = format!("Handle cnonce=\"{}\"", STANDARD.encode(CNONCE));

    // In the challenge of a 401.
    let reply = put_json(
        &node.https().with_authorization(&cnonce),
        "/api/handles/88.118.8/server-auth",
        &record("88.118.8/ADMIN"),
    )
    .await;
    reply.expect(401, 402);
    let challenge = handle_challenge(&reply);
    verify_server_signature(
        &key,
        &challenge["serverAlg"],
        &nonce_of(&challenge),
        &challenge["serverSignature"],
    );

    // In the answer of POST /api/sessions, with the cnonce in the JSON body.
    let reply = node
        .https()
        .request(
            Method::POST,
            "/api/sessions",
            &[("content-type", "application/json")],
            json_body(&json!({"cnonce": STANDARD.encode(CNONCE)})),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 201, "{}", reply.text());
    let body = reply.json();
    let nonce = STANDARD.decode(body["nonce"].as_str().unwrap()).unwrap();
    verify_server_signature(
        &key,
        body["serverAlg"].as_str().unwrap(),
        &nonce,
        body["serverSignature"].as_str().unwrap(),
    );
    node.stop().await;
}
