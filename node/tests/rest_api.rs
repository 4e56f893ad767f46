//! The handle.net REST API of a node started in-process, exercised over real loopback sockets
//! with a real HTTP client, over plain HTTP and over TLS (HTTP/1.1 and HTTP/2).

mod support;

use http::{Method, Version};
use serde_json::{Value, json};
use support::{ADMIN, ADMIN_SECRET, Node, alpn_h2, basic};

/// The identity of the second, unprivileged user.
const USER: &str = "300:88.118.8/USER";
const USER_SECRET: &str = "user-secret";

fn url(index: u32, data: &str) -> Value {
    json!({"index": index, "type": "URL", "data": data})
}

fn typed(index: u32, value_type: &str, data: &str) -> Value {
    json!({"index": index, "type": value_type, "data": data})
}

fn admin_value(index: u32, handle: &str, admin_index: u32, permissions: &str) -> Value {
    json!({"index": index, "type": "HS_ADMIN", "data": {"format": "admin",
        "value": {"handle": handle, "index": admin_index, "permissions": permissions}}})
}

/// Creates `handle` as the administrator with `values`, expecting 201.
async fn create(node: &Node, handle: &str, values: Value) {
    node.admin()
        .put(
            &format!("/api/handles/{handle}?overwrite=false"),
            &json!({ "values": values }),
        )
        .await
        .expect(201, 1);
}

/// The record as the administrator sees it (all values), or `None` when it does not exist.
async fn record(node: &Node, handle: &str) -> Option<Value> {
    let reply = node
        .admin()
        .get(&format!("/api/handles/{handle}?publicOnly=false"))
        .await;
    match reply.status.as_u16() {
        200 => Some(reply.json()),
        404 => {
            assert_eq!(reply.rc(), 100, "{}", reply.text());
            None
        }
        other => panic!("unexpected {other}: {}", reply.text()),
    }
}

/// The values of a record without their timestamps, for comparing before and after a request.
fn without_timestamps(record: &Option<Value>) -> Option<Vec<Value>> {
    record.as_ref().map(|r| {
        r["values"]
            .as_array()
            .expect("values")
            .iter()
            .map(|v| {
                let mut v = v.clone();
                v.as_object_mut().expect("value object").remove("timestamp");
                v
            })
            .collect()
    })
}

/// Creates the unprivileged identity `88.118.8/USER`: an `HS_SECKEY` at 300 and an `HS_ADMIN`
/// naming only the prefix administrator.
async fn create_user(node: &Node) {
    create(
        node,
        "88.118.8/USER",
        json!([
            admin_value(100, "88.118.8/ADMIN", 300, "111111111111"),
            {"index": 300, "type": "HS_SECKEY", "data": USER_SECRET, "permissions": "1100"},
            typed(1, "DESC", "an unprivileged user"),
        ]),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolution_parameters_and_errors() {
    let node = Node::start().await;
    create(
        &node,
        "88.118.8/chem-1",
        json!([
            admin_value(100, "88.118.8/ADMIN", 300, "111111111111"),
            url(1, "https://example.org/chem/1"),
            typed(2, "DESC", "Acetone"),
            typed(3, "EMAIL", "registry@example.org"),
            typed(4, "URL.mobile", "https://m.example.org/chem/1"),
            typed(5, "URLX", "not a sub-type of URL"),
        ]),
    )
    .await;
    let api = node.https();

    // All values, over HTTPS and over plain HTTP.
    for reply in [
        api.get("/api/handles/88.118.8/chem-1").await,
        node.http().get("/api/handles/88.118.8/chem-1").await,
    ] {
        let body = reply.expect(200, 1);
        assert_eq!(
            reply.header("content-type"),
            Some("application/json;charset=utf-8")
        );
        assert_eq!(body["handle"], "88.118.8/chem-1");
        let mut indexes = reply.indexes();
        indexes.sort_unstable();
        assert_eq!(indexes, vec![1, 2, 3, 4, 5, 100]);
        for value in body["values"].as_array().unwrap() {
            assert!(value["timestamp"].as_str().unwrap().ends_with('Z'));
            assert_eq!(value["ttl"], 86400);
        }
        let one = body["values"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["index"] == 1)
            .unwrap();
        assert_eq!(
            one["data"],
            json!({"format": "string", "value": "https://example.org/chem/1"})
        );
    }

    // Repeated `index`.
    let reply = api
        .get("/api/handles/88.118.8/chem-1?index=1&index=3")
        .await;
    reply.expect(200, 1);
    assert_eq!(reply.indexes(), vec![1, 3]);

    // Repeated `type`; types compare without case.
    let reply = api
        .get("/api/handles/88.118.8/chem-1?type=url&type=EMAIL")
        .await;
    reply.expect(200, 1);
    assert_eq!(reply.indexes(), vec![1, 3]);

    // A trailing `.` selects the type and its sub-types, not other types sharing the letters.
    let reply = api.get("/api/handles/88.118.8/chem-1?type=URL.").await;
    reply.expect(200, 1);
    assert_eq!(reply.indexes(), vec![1, 4]);

    // A value matching any index or any type is returned.
    let reply = api
        .get("/api/handles/88.118.8/chem-1?index=2&type=EMAIL")
        .await;
    reply.expect(200, 1);
    assert_eq!(reply.indexes(), vec![2, 3]);

    // Nothing matches: HTTP 200 with RC 200 and no values, in the reference's field order.
    let reply = api
        .get("/api/handles/88.118.8/chem-1?type=NO_SUCH_TYPE")
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.text(),
        r#"{"responseCode":200,"values":[],"handle":"88.118.8/chem-1"}"#
    );
    let reply = api.get("/api/handles/88.118.8/chem-1?index=77").await;
    reply.expect(200, 200);

    // A non-integer index is a protocol error.
    api.get("/api/handles/88.118.8/chem-1?index=one")
        .await
        .expect(400, 4);

    // Not found.
    let reply = api.get("/api/handles/88.118.8/no-such-handle").await;
    assert_eq!(reply.status, 404);
    assert_eq!(
        reply.text(),
        r#"{"responseCode":100,"handle":"88.118.8/no-such-handle"}"#
    );

    // Not responsible for the prefix.
    let reply = api.get("/api/handles/99.999/not-here").await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.text(),
        r#"{"responseCode":301,"message":"That prefix doesn't live here","handle":"99.999/not-here"}"#
    );
    // No `hdl:` stripping: the prefix is `hdl:88.118.8`.
    api.get("/api/handles/hdl:88.118.8/chem-1")
        .await
        .expect(400, 301);

    // Invalid handles.
    for path in [
        "/api/handles/88.118.8/",
        "/api/handles/88..8/x",
        "/api/handles/88.118.8/a%01b",
    ] {
        let body = api.get(path).await.expect(400, 102);
        assert!(body["message"].is_string(), "{body}");
    }
    let long = format!("/api/handles/88.118.8/{}", "x".repeat(300));
    api.get(&long).await.expect(400, 102);

    // The handle is matched without case and echoed as requested.
    let reply = api.get("/api/handles/88.118.8/CHEM-1").await;
    assert_eq!(reply.expect(200, 1)["handle"], "88.118.8/CHEM-1");
    let reply = api.get("/api/handles/88.118.8/Chem-1?index=1").await;
    assert_eq!(reply.expect(200, 1)["handle"], "88.118.8/Chem-1");

    // `pretty` indents the same document; `pretty=false` does not.
    let compact = api.get("/api/handles/88.118.8/chem-1").await;
    let pretty = api.get("/api/handles/88.118.8/chem-1?pretty").await;
    assert!(
        pretty.text().starts_with("{\n  \"responseCode\": 1,\n"),
        "{}",
        pretty.text()
    );
    assert_eq!(pretty.json(), compact.json());
    let pretty_true = api.get("/api/handles/88.118.8/chem-1?pretty=TRUE").await;
    assert!(pretty_true.text().contains('\n'));
    let not_pretty = api.get("/api/handles/88.118.8/chem-1?pretty=false").await;
    assert!(!not_pretty.text().contains('\n'));

    // JSONP: wrapped body, JavaScript content type, sanitised callback name.
    let reply = api.get("/api/handles/88.118.8/chem-1?callback=cb").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("application/javascript;charset=utf-8")
    );
    let text = reply.text();
    let inner = text
        .strip_prefix("cb(")
        .and_then(|t| t.strip_suffix(");"))
        .unwrap_or_else(|| panic!("not JSONP: {text}"));
    assert_eq!(
        serde_json::from_str::<Value>(inner).unwrap(),
        compact.json()
    );
    let reply = api
        .get("/api/handles/88.118.8/chem-1?callback=1a.b%3Calert(1)%3E")
        .await;
    assert!(
        reply.text().starts_with("_a_b_alert_1__({"),
        "{}",
        reply.text()
    );
    // Errors are wrapped too.
    let reply = api
        .get("/api/handles/88.118.8/no-such-handle?callback=cb")
        .await;
    assert_eq!(reply.status, 404);
    assert_eq!(
        reply.text(),
        r#"cb({"responseCode":100,"handle":"88.118.8/no-such-handle"});"#
    );

    // HEAD answers like GET.
    let reply = api
        .request(Method::HEAD, "/api/handles/88.118.8/chem-1", &[], None)
        .await;
    assert_eq!(reply.status, 200);
    assert!(reply.body.is_empty());

    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handle_paths_with_escapes_and_prefix_handles() {
    let node = Node::start().await;
    let admin = node.admin();
    let api = node.https();

    // `%2F` decodes to `/` inside the suffix; `+` stays a literal `+`.
    admin
        .put(
            "/api/handles/88.118.8/a%2Fb+c?overwrite=false",
            &json!([url(1, "https://example.org/slash")]),
        )
        .await
        .expect(201, 1);
    for path in [
        "/api/handles/88.118.8/a/b+c",
        "/api/handles/88.118.8/a%2Fb%2Bc",
        "/api/handles/88.118.8%2Fa%2Fb+c",
    ] {
        let body = api.get(path).await.expect(200, 1);
        assert_eq!(body["handle"], "88.118.8/a/b+c", "{path}");
    }
    // `+` is not a space.
    api.get("/api/handles/88.118.8/a/b%20c")
        .await
        .expect(404, 100);
    // Other escapes, including UTF-8.
    admin
        .put(
            "/api/handles/88.118.8/%E4%B8%99%20x?overwrite=false",
            &json!([url(1, "https://example.org/utf8")]),
        )
        .await
        .expect(201, 1);
    let body = api
        .get("/api/handles/88.118.8/%E4%B8%99%20X")
        .await
        .expect(200, 1);
    assert_eq!(body["handle"], "88.118.8/丙 X");

    // A path without `/` names the prefix handle.
    for (path, echoed) in [
        ("/api/handles/88.118.8", "0.NA/88.118.8"),
        ("/api/handles/0.NA/88.118.8", "0.NA/88.118.8"),
        ("/api/handles/0.na/88.118.8", "0.na/88.118.8"),
    ] {
        let reply = api.get(path).await;
        let body = reply.expect(200, 1);
        assert_eq!(body["handle"], echoed);
        let values = body["values"].as_array().unwrap();
        assert!(
            values.iter().any(|v| v["type"] == "HS_SITE"
                && v["index"] == 1
                && v["data"]["format"] == "site"),
            "{body}"
        );
        assert!(
            values.iter().any(|v| v["type"] == "HS_ADMIN"
                && v["data"]["value"]["handle"] == "88.118.8/ADMIN"
                && v["data"]["value"]["index"] == 300),
            "{body}"
        );
    }
    api.get("/api/handles/99.999").await.expect(400, 301);

    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_only_and_secret_keys() {
    let node = Node::start().await;
    create_user(&node).await;
    let api = node.https();
    let admin = node.admin();

    // Without authentication only public values are returned: HS_SECKEY is hidden.
    let reply = api.get("/api/handles/88.118.8/ADMIN").await;
    reply.expect(200, 1);
    assert_eq!(reply.indexes(), vec![100]);

    // With authentication `publicOnly` defaults to false and the admin sees the secret.
    for path in [
        "/api/handles/88.118.8/ADMIN",
        "/api/handles/88.118.8/ADMIN?publicOnly=false",
    ] {
        let reply = admin.get(path).await;
        let body = reply.expect(200, 1);
        let key = body["values"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["index"] == 300)
            .unwrap_or_else(|| panic!("no secret key in {body}"));
        assert_eq!(key["type"], "HS_SECKEY");
        assert_eq!(
            key["data"],
            json!({"format": "string", "value": ADMIN_SECRET})
        );
        assert_eq!(key["permissions"], "1100");
    }
    // The stored form is sealed: the secret is not in the database file in clear text.
    let db = std::fs::read(node.data.join("idnode.redb")).unwrap();
    assert!(
        !db.windows(ADMIN_SECRET.len())
            .any(|w| w == ADMIN_SECRET.as_bytes())
    );
    assert!(
        !db.windows(USER_SECRET.len())
            .any(|w| w == USER_SECRET.as_bytes())
    );

    // An authenticated reader may still ask for public values only.
    let reply = admin
        .get("/api/handles/88.118.8/ADMIN?publicOnly=true")
        .await;
    reply.expect(200, 1);
    assert_eq!(reply.indexes(), vec![100]);

    // Asking for non-public values without credentials: 401 over TLS, 403 over plain HTTP.
    let reply = api
        .get("/api/handles/88.118.8/ADMIN?publicOnly=false")
        .await;
    reply.expect(401, 402);
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Basic realm=\"handle\"")
    );
    let reply = node
        .http()
        .get("/api/handles/88.118.8/ADMIN?publicOnly=false")
        .await;
    reply.expect(403, 402);
    assert_eq!(reply.header("www-authenticate"), None);
    // Basic credentials over plain HTTP are ignored (the reference's 403 with RC 402).
    let reply = node
        .http()
        .as_user(ADMIN, ADMIN_SECRET)
        .get("/api/handles/88.118.8/ADMIN?publicOnly=false")
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.text(),
        r#"{"responseCode":402,"handle":"88.118.8/ADMIN"}"#
    );

    // A user without READ_VALUE on the handle sees only public values, even its own record.
    let user = api.as_user(USER, USER_SECRET);
    let reply = user.get("/api/handles/88.118.8/ADMIN").await;
    reply.expect(200, 1);
    assert_eq!(reply.indexes(), vec![100]);
    let reply = user.get("/api/handles/88.118.8/USER").await;
    reply.expect(200, 1);
    let mut indexes = reply.indexes();
    indexes.sort_unstable();
    assert_eq!(indexes, vec![1, 100]);
    // Only the secret asked for, which the user may not read.
    user.get("/api/handles/88.118.8/USER?index=300")
        .await
        .expect(200, 200);
    // The admin reads the user's secret back in clear.
    let body = admin
        .get("/api/handles/88.118.8/USER?index=300")
        .await
        .expect(200, 1);
    assert_eq!(body["values"][0]["data"]["value"], USER_SECRET);

    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_replace_add_and_conflicts() {
    let node = Node::start().await;
    let admin = node.admin();
    let path = "/api/handles/88.118.8/rest-1";
    let initial = json!({"values": [
        admin_value(100, "88.118.8/ADMIN", 300, "111111111111"),
        url(1, "https://example.org/rest/1"),
        {"index": 2, "type": "CHEM_INFO", "data": {"format": "string",
            "value": "{\"cas\":\"64-17-5\",\"name\":\"ethanol\"}"}},
    ]});

    // Create with overwrite=false: 201 and the reference's body.
    let reply = admin
        .put(&format!("{path}?overwrite=false"), &initial)
        .await;
    assert_eq!(reply.status, 201);
    assert_eq!(
        reply.text(),
        r#"{"responseCode":1,"handle":"88.118.8/rest-1"}"#
    );
    // Again: 409 with RC 101, and nothing changes.
    let before = record(&node, "88.118.8/rest-1").await;
    let reply = admin
        .put(
            &format!("{path}?overwrite=false"),
            &json!([url(1, "https://example.org/other")]),
        )
        .await;
    assert_eq!(reply.status, 409);
    assert_eq!(
        reply.text(),
        r#"{"responseCode":101,"handle":"88.118.8/rest-1"}"#
    );
    // `overwrite` follows Java's parseBoolean: anything but `true` is false.
    admin
        .put(
            &format!("{path}?overwrite=yes"),
            &json!([url(1, "https://example.org/other")]),
        )
        .await
        .expect(409, 101);
    assert_eq!(
        without_timestamps(&record(&node, "88.118.8/rest-1").await),
        without_timestamps(&before)
    );

    // Replace the whole record (no parameters): 200, and value 2 is gone.
    admin
        .put(
            path,
            &json!([
                admin_value(100, "88.118.8/ADMIN", 300, "111111111111"),
                url(1, "https://example.org/rest/1"),
                typed(3, "DESC", "replaced record"),
            ]),
        )
        .await
        .expect(200, 1);
    let reply = node.https().get(path).await;
    let mut indexes = reply.indexes();
    indexes.sort_unstable();
    assert_eq!(indexes, vec![1, 3, 100]);
    // Replacing with overwrite=true explicitly behaves the same.
    admin
        .put(
            &format!("{path}?overwrite=true"),
            &json!([
                admin_value(100, "88.118.8/ADMIN", 300, "111111111111"),
                url(1, "https://example.org/rest/1"),
                typed(3, "DESC", "replaced again"),
            ]),
        )
        .await
        .expect(200, 1);

    // `?index=5` adds a value: 201; again with new data modifies it: 200.
    admin
        .put(
            &format!("{path}?index=5&overwrite=false"),
            &json!([typed(5, "EMAIL", "rest@example.org")]),
        )
        .await
        .expect(201, 1);
    admin
        .put(
            &format!("{path}?index=5"),
            &json!([typed(5, "EMAIL", "changed@example.org")]),
        )
        .await
        .expect(200, 1);
    let body = node
        .https()
        .get(&format!("{path}?index=5"))
        .await
        .expect(200, 1);
    assert_eq!(body["values"][0]["data"]["value"], "changed@example.org");
    // Modify with a relative TTL (the reference's put-modify-value).
    admin
        .put(
            &format!("{path}?index=1"),
            &json!([{"index": 1, "type": "URL", "data": "https://example.org/rest/1-modified",
                "ttl": 3600}]),
        )
        .await
        .expect(200, 1);
    let body = node
        .https()
        .get(&format!("{path}?index=1"))
        .await
        .expect(200, 1);
    assert_eq!(
        body["values"][0]["data"]["value"],
        "https://example.org/rest/1-modified"
    );
    assert_eq!(body["values"][0]["ttl"], 3600);
    // The other values were kept.
    let mut indexes = node.https().get(path).await.indexes();
    indexes.sort_unstable();
    assert_eq!(indexes, vec![1, 3, 5, 100]);

    // `?index=various` takes the indexes from the body.
    admin
        .put(
            &format!("{path}?index=various"),
            &json!([typed(6, "DESC", "six"), typed(7, "DESC", "seven")]),
        )
        .await
        .expect(201, 1);
    admin
        .put(
            &format!("{path}?index=VARIOUS"),
            &json!([typed(6, "DESC", "six again")]),
        )
        .await
        .expect(200, 1);
    let reply = node.https().get(&format!("{path}?index=6&index=7")).await;
    let body = reply.expect(200, 1);
    assert_eq!(reply.indexes(), vec![6, 7]);
    assert_eq!(body["values"][0]["data"]["value"], "six again");

    // Several `index` parameters equal to the body's indexes, in any order.
    admin
        .put(
            &format!("{path}?index=9&index=8"),
            &json!([typed(8, "DESC", "eight"), typed(9, "DESC", "nine")]),
        )
        .await
        .expect(201, 1);

    // Rejected: an existing index with overwrite=false (409, RC 201), index parameters that do
    // not match the body (400), `various` with overwrite=false on an existing index.
    let before = record(&node, "88.118.8/rest-1").await;
    let reply = admin
        .put(
            &format!("{path}?index=1&overwrite=false"),
            &json!([url(1, "https://example.org/not-written")]),
        )
        .await;
    assert_eq!(reply.status, 409);
    assert_eq!(
        reply.text(),
        r#"{"responseCode":201,"handle":"88.118.8/rest-1"}"#
    );
    admin
        .put(
            &format!("{path}?index=various&overwrite=false"),
            &json!([
                typed(10, "DESC", "ten"),
                url(1, "https://example.org/not-written")
            ]),
        )
        .await
        .expect(409, 201);
    for query in [
        "index=1&index=2",
        "index=2",
        "index=x",
        "index=1&index=various",
    ] {
        let body = admin
            .put(
                &format!("{path}?{query}"),
                &json!([url(1, "https://example.org/not-written")]),
            )
            .await
            .expect(400, 4);
        assert!(body["message"].is_string(), "{query}: {body}");
    }
    assert_eq!(
        without_timestamps(&record(&node, "88.118.8/rest-1").await),
        without_timestamps(&before)
    );

    // Adding values to a missing handle: 404.
    admin
        .put(
            "/api/handles/88.118.8/missing?index=1",
            &json!([url(1, "https://example.org/x")]),
        )
        .await
        .expect(404, 100);
    assert_eq!(record(&node, "88.118.8/missing").await, None);

    // A create without HS_ADMIN gets the creator as administrator.
    admin
        .put(
            "/api/handles/88.118.8/no-admin?overwrite=false",
            &json!([url(1, "https://example.org/no-admin")]),
        )
        .await
        .expect(201, 1);
    let body = node
        .https()
        .get("/api/handles/88.118.8/no-admin?type=HS_ADMIN")
        .await
        .expect(200, 1);
    assert_eq!(
        body["values"][0]["data"]["value"],
        json!({"handle": "88.118.8/ADMIN", "index": 300, "permissions": "011111110011"})
    );

    // Creating under a prefix this node does not home: 400, RC 301.
    admin
        .put(
            "/api/handles/99.999/x?overwrite=false",
            &json!([url(1, "https://example.org/x")]),
        )
        .await
        .expect(400, 301);

    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mint_new_suffix() {
    let node = Node::start().await;
    let admin = node.admin();
    let reply = admin
        .put(
            "/api/handles/88.118.8/mint-?mintNewSuffix=true",
            &json!([url(1, "https://example.org/minted")]),
        )
        .await;
    let body = reply.expect(201, 1);
    let minted = body["handle"].as_str().unwrap().to_owned();
    let uuid = minted
        .strip_prefix("88.118.8/mint-")
        .unwrap_or_else(|| panic!("minted {minted}"));
    assert_eq!(uuid.len(), 36, "{uuid}");
    assert_eq!(uuid.matches('-').count(), 4, "{uuid}");
    assert_eq!(&uuid[14..15], "4", "a version 4 UUID: {uuid}");
    let body = node
        .https()
        .get(&format!("/api/handles/{minted}?index=1"))
        .await
        .expect(200, 1);
    assert_eq!(
        body["values"][0]["data"]["value"],
        "https://example.org/minted"
    );

    // Two mints give two handles.
    let again = admin
        .put(
            "/api/handles/88.118.8/mint-?mintNewSuffix=TRUE",
            &json!([url(1, "https://example.org/minted")]),
        )
        .await
        .expect(201, 1);
    assert_ne!(again["handle"], body["handle"]);
    // Minting needs authorization like any create.
    node.https()
        .put(
            "/api/handles/88.118.8/mint-?mintNewSuffix=true",
            &json!([url(1, "https://example.org/minted")]),
        )
        .await
        .expect(401, 402);
    // `mintNewSuffix=yes` is not true: the stem itself is created.
    admin
        .put(
            "/api/handles/88.118.8/stem-?mintNewSuffix=yes&overwrite=false",
            &json!([url(1, "https://example.org/stem")]),
        )
        .await
        .expect(201, 1);
    assert!(record(&node, "88.118.8/stem-").await.is_some());

    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_forms_and_value_round_trip() {
    let node = Node::start().await;
    let admin = node.admin();

    // {"values": [...]} with a matching `handle` (compared without case).
    admin
        .put(
            "/api/handles/88.118.8/form-object?overwrite=false",
            &json!({"handle": "88.118.8/FORM-OBJECT", "values": [url(1, "https://example.org/1")]}),
        )
        .await
        .expect(201, 1);
    // A bare array.
    admin
        .put(
            "/api/handles/88.118.8/form-array?overwrite=false",
            &json!([url(1, "https://example.org/2")]),
        )
        .await
        .expect(201, 1);
    // A single value object.
    admin
        .put(
            "/api/handles/88.118.8/form-single?overwrite=false",
            &url(1, "https://example.org/3"),
        )
        .await
        .expect(201, 1);
    for (handle, data) in [
        ("form-object", "https://example.org/1"),
        ("form-array", "https://example.org/2"),
        ("form-single", "https://example.org/3"),
    ] {
        let body = node
            .https()
            .get(&format!("/api/handles/88.118.8/{handle}?index=1"))
            .await
            .expect(200, 1);
        assert_eq!(
            body["values"][0]["data"],
            json!({"format": "string", "value": data})
        );
    }
    // A `handle` in the body that names another handle: 400, nothing written.
    let body = admin
        .put(
            "/api/handles/88.118.8/form-mismatch?overwrite=false",
            &json!({"handle": "88.118.8/other", "values": [url(1, "https://example.org/4")]}),
        )
        .await
        .expect(400, 4);
    assert!(body["message"].as_str().unwrap().contains("does not match"));
    assert_eq!(record(&node, "88.118.8/form-mismatch").await, None);

    // pyhandle's body: string index "200" in admin data, plain string data, `Content-Type` with
    // a charset.
    let pyhandle = json!({"values": [
        {"index": 100, "type": "HS_ADMIN", "data": {"value": {"index": "300",
            "handle": "88.118.8/ADMIN", "permissions": "011111110011"}, "format": "admin"}},
        {"index": "1", "type": "URL", "data": "https://example.org/item/1"},
        {"index": 2, "type": "CHECKSUM", "data": "abc123"},
    ]});
    admin
        .put_raw(
            "/api/handles/88.118.8/pyhandle?overwrite=false",
            Some("application/json; charset=UTF-8"),
            pyhandle.to_string().into_bytes(),
        )
        .await
        .expect(201, 1);
    let body = node
        .https()
        .get("/api/handles/88.118.8/pyhandle")
        .await
        .expect(200, 1);
    let values = body["values"].as_array().unwrap();
    let admin_data = &values.iter().find(|v| v["index"] == 100).unwrap()["data"];
    assert_eq!(
        admin_data,
        &json!({"format": "admin", "value": {"handle": "88.118.8/ADMIN", "index": 300,
            "permissions": "011111110011"}})
    );
    assert_eq!(
        values.iter().find(|v| v["index"] == 2).unwrap()["data"]["value"],
        "abc123"
    );

    // Permissions, an absolute TTL and references round trip.
    let special = json!({"index": 8, "type": "DESC", "data": "admin only", "permissions": "1100",
        "ttl": "2030-01-01T00:00:00Z",
        "references": [{"handle": "88.118.8/chem-64-17-5", "index": 1}]});
    admin
        .put("/api/handles/88.118.8/pyhandle?index=8", &json!([special]))
        .await
        .expect(201, 1);
    let body = admin
        .get("/api/handles/88.118.8/pyhandle?index=8&publicOnly=false")
        .await
        .expect(200, 1);
    let mut got = body["values"][0].clone();
    assert!(
        got.as_object_mut()
            .unwrap()
            .remove("timestamp")
            .unwrap()
            .is_string()
    );
    assert_eq!(
        got,
        json!({"index": 8, "type": "DESC", "data": {"format": "string", "value": "admin only"},
            "permissions": "1100", "ttl": "2030-01-01T00:00:00Z",
            "references": [{"handle": "88.118.8/chem-64-17-5", "index": 1}]})
    );
    // Not public: hidden from anonymous readers.
    node.https()
        .get("/api/handles/88.118.8/pyhandle?index=8")
        .await
        .expect(200, 200);

    // Binary data: given as base64 or hex, returned as base64.
    admin
        .put(
            "/api/handles/88.118.8/pyhandle?index=20&index=21",
            &json!([
                {"index": 20, "type": "BLOB", "data": {"format": "base64", "value": "AAECA/8="}},
                {"index": 21, "type": "BLOB", "data": {"format": "HEX", "value": "000102ff"}},
            ]),
        )
        .await
        .expect(201, 1);
    let body = node
        .https()
        .get("/api/handles/88.118.8/pyhandle?type=BLOB")
        .await
        .expect(200, 1);
    assert_eq!(
        body["values"][0]["data"],
        json!({"format": "base64", "value": "AAECA/8="})
    );
    assert_eq!(
        body["values"][1]["data"],
        json!({"format": "base64", "value": "AAEC/w=="})
    );

    // The whole record as GET returns it is accepted back as a PUT body (pyhandle's modify),
    // and leaves the record as it was apart from timestamps.
    let before = record(&node, "88.118.8/pyhandle").await;
    let values = before.as_ref().unwrap()["values"].clone();
    admin
        .put(
            "/api/handles/88.118.8/pyhandle",
            &json!({ "values": values }),
        )
        .await
        .expect(200, 1);
    let after = record(&node, "88.118.8/pyhandle").await;
    assert_eq!(without_timestamps(&after), without_timestamps(&before));
    // Every stored value carries a timestamp.
    for value in after.unwrap()["values"].as_array().unwrap() {
        assert!(value["timestamp"].is_string(), "{value}");
    }

    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_puts_write_nothing() {
    let node = Node::start().await;
    let admin = node.admin();
    create(
        &node,
        "88.118.8/existing",
        json!([url(1, "https://example.org/existing")]),
    )
    .await;
    let existing_before = record(&node, "88.118.8/existing").await;

    let oversized = {
        let big = "x".repeat((1 << 20) + 1024);
        json!([typed(1, "DESC", &big)]).to_string().into_bytes()
    };
    // What, content type, body, expected status, response code and message.
    type Case = (
        &'static str,
        Option<&'static str>,
        Vec<u8>,
        u16,
        i64,
        Option<&'static str>,
    );
    let cases: Vec<Case> = vec![
        (
            "index 0",
            Some("application/json"),
            json!([url(0, "https://example.org/zero")])
                .to_string()
                .into_bytes(),
            400,
            202,
            Some("Value indexes must be positive"),
        ),
        (
            "negative index",
            Some("application/json"),
            br#"[{"index": -1, "type": "URL", "data": "x"}]"#.to_vec(),
            400,
            202,
            None,
        ),
        (
            "duplicate index",
            Some("application/json"),
            json!([url(1, "https://example.org/a"), typed(1, "DESC", "b")])
                .to_string()
                .into_bytes(),
            400,
            202,
            None,
        ),
        (
            "malformed JSON",
            Some("application/json"),
            b"[{\"index\": 1, \"type\": \"URL\",".to_vec(),
            400,
            4,
            None,
        ),
        (
            "no Content-Type",
            None,
            json!([url(1, "https://example.org/a")])
                .to_string()
                .into_bytes(),
            400,
            4,
            None,
        ),
        (
            "text/plain",
            Some("text/plain"),
            json!([url(1, "https://example.org/a")])
                .to_string()
                .into_bytes(),
            400,
            4,
            None,
        ),
        (
            "form content type",
            Some("application/x-www-form-urlencoded"),
            b"index=1".to_vec(),
            400,
            4,
            None,
        ),
        (
            "bad base64",
            Some("application/json"),
            json!([{"index": 1, "type": "BLOB", "data": {"format": "base64", "value": "!!!"}}])
                .to_string()
                .into_bytes(),
            400,
            202,
            None,
        ),
        (
            "bad hex",
            Some("application/json"),
            json!([{"index": 1, "type": "BLOB", "data": {"format": "hex", "value": "0g"}}])
                .to_string()
                .into_bytes(),
            400,
            202,
            None,
        ),
        (
            "unknown data format",
            Some("application/json"),
            json!([{"index": 1, "type": "URL", "data": {"format": "nope", "value": "x"}}])
                .to_string()
                .into_bytes(),
            400,
            202,
            None,
        ),
        (
            "data of the wrong JSON type",
            Some("application/json"),
            json!([{"index": 1, "type": "URL", "data": 7}])
                .to_string()
                .into_bytes(),
            400,
            202,
            None,
        ),
        (
            "admin data without a handle",
            Some("application/json"),
            json!([{"index": 100, "type": "HS_ADMIN", "data": {"format": "admin",
                "value": {"index": 300}}}])
            .to_string()
            .into_bytes(),
            400,
            202,
            None,
        ),
        (
            "HS_ADMIN with string data",
            Some("application/json"),
            json!([typed(100, "HS_ADMIN", "not an admin record")])
                .to_string()
                .into_bytes(),
            400,
            202,
            None,
        ),
        (
            "empty HS_SECKEY",
            Some("application/json"),
            json!([typed(300, "HS_SECKEY", "")])
                .to_string()
                .into_bytes(),
            400,
            202,
            None,
        ),
        (
            "value without type",
            Some("application/json"),
            json!([{"index": 1, "data": "x"}]).to_string().into_bytes(),
            400,
            202,
            None,
        ),
        (
            "invalid ttl",
            Some("application/json"),
            json!([{"index": 1, "type": "URL", "data": "x", "ttl": "tomorrow"}])
                .to_string()
                .into_bytes(),
            400,
            202,
            None,
        ),
        (
            "body without values",
            Some("application/json"),
            b"{\"handle\": \"88.118.8/x\"}".to_vec(),
            400,
            202,
            None,
        ),
        (
            "scalar body",
            Some("application/json"),
            b"42".to_vec(),
            400,
            202,
            None,
        ),
    ];
    for (what, content_type, body, status, rc, message) in cases {
        for (handle, query) in [
            ("88.118.8/rejected", "?overwrite=false"),
            ("88.118.8/rejected", ""),
            ("88.118.8/existing", ""),
            ("88.118.8/existing", "?index=various"),
        ] {
            let reply = admin
                .put_raw(
                    &format!("/api/handles/{handle}{query}"),
                    content_type,
                    body.clone(),
                )
                .await;
            let json = reply.json();
            assert_eq!(
                (reply.status.as_u16(), json["responseCode"].as_i64()),
                (status, Some(rc)),
                "{what} on {handle}{query}: {}",
                reply.text()
            );
            assert!(json["message"].is_string(), "{what}: {json}");
            if let Some(message) = message {
                assert_eq!(json["message"], message, "{what}");
            }
        }
        assert_eq!(record(&node, "88.118.8/rejected").await, None, "{what}");
        assert_eq!(
            without_timestamps(&record(&node, "88.118.8/existing").await),
            without_timestamps(&existing_before),
            "{what}"
        );
    }

    // A body over the limit (1 MiB) gets a 4xx JSON error and writes nothing, over HTTP/1.1 and
    // over HTTP/2.
    for api in [
        admin.clone(),
        node.https_with_alpn(&alpn_h2())
            .as_user(ADMIN, ADMIN_SECRET),
    ] {
        let reply = api
            .put_raw(
                "/api/handles/88.118.8/rejected",
                Some("application/json"),
                oversized.clone(),
            )
            .await;
        assert!(reply.status.is_client_error(), "{}", reply.status);
        let json = reply.json();
        assert!(json["responseCode"].is_i64(), "{json}");
        assert!(json["message"].is_string(), "{json}");
        assert_eq!(record(&node, "88.118.8/rejected").await, None);
    }
    // The connection pool still works afterwards.
    admin
        .get("/api/handles/88.118.8/existing")
        .await
        .expect(200, 1);
    // Just under the limit is accepted.
    let fits = json!([typed(1, "DESC", &"y".repeat(60_000))]);
    admin
        .put("/api/handles/88.118.8/fits?overwrite=false", &fits)
        .await
        .expect(201, 1);

    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_handles_and_values() {
    let node = Node::start().await;
    let admin = node.admin();
    create(
        &node,
        "88.118.8/rest-1",
        json!([
            url(1, "https://example.org/rest/1"),
            typed(5, "DESC", "five"),
            typed(6, "DESC", "six"),
            typed(7, "DESC", "seven"),
        ]),
    )
    .await;

    // Values by index.
    let reply = admin
        .delete("/api/handles/88.118.8/rest-1?index=5&index=6&index=7")
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.text(),
        r#"{"responseCode":1,"handle":"88.118.8/rest-1"}"#
    );
    let mut indexes = node
        .https()
        .get("/api/handles/88.118.8/rest-1")
        .await
        .indexes();
    indexes.sort_unstable();
    assert_eq!(indexes, vec![1, 100]);
    // Values that do not exist: RC 200, HTTP 400 outside resolution.
    admin
        .delete("/api/handles/88.118.8/rest-1?index=99")
        .await
        .expect(400, 200);
    admin
        .delete("/api/handles/88.118.8/rest-1?index=x")
        .await
        .expect(400, 4);

    // The whole handle, echoing the requested spelling.
    let reply = admin.delete("/api/handles/88.118.8/REST-1").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.text(),
        r#"{"responseCode":1,"handle":"88.118.8/REST-1"}"#
    );
    node.https()
        .get("/api/handles/88.118.8/rest-1")
        .await
        .expect(404, 100);
    // A missing handle.
    let reply = admin.delete("/api/handles/88.118.8/rest-1").await;
    assert_eq!(reply.status, 404);
    assert_eq!(
        reply.text(),
        r#"{"responseCode":100,"handle":"88.118.8/rest-1"}"#
    );
    admin
        .delete("/api/handles/88.118.8/rest-1?index=1")
        .await
        .expect(404, 100);
    admin.delete("/api/handles/99.999/x").await.expect(400, 301);
    admin
        .delete("/api/handles/88.118.8/")
        .await
        .expect(400, 102);

    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_failures_write_nothing() {
    let node = Node::start().await;
    let path = "/api/handles/88.118.8/rest-2";
    let body = json!([
        admin_value(100, "88.118.8/ADMIN", 300, "111111111111"),
        url(1, "https://example.org/rest/1"),
    ]);

    // No credentials over TLS: 401, Basic challenge, RC 402 body.
    let reply = node.https().put(path, &body).await;
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Basic realm=\"handle\"")
    );
    assert_eq!(
        reply.text(),
        r#"{"responseCode":402,"handle":"88.118.8/rest-2"}"#
    );
    let reply = node.https().delete("/api/handles/88.118.8/ADMIN").await;
    reply.expect(401, 402);

    // Wrong password, unknown identity, an identity without HS_SECKEY, undecodable credentials:
    // 401 with an empty body.
    let wrong = [
        basic(ADMIN, "wrong-pw"),
        basic(ADMIN, ""),
        basic("300:88.118.8/NOBODY", ADMIN_SECRET),
        basic("100:88.118.8/ADMIN", ADMIN_SECRET),
        basic("300:0.NA/88.118.8", ADMIN_SECRET),
        basic("not-an-identity", ADMIN_SECRET),
        "Basic %%%".to_owned(),
        format!("Basic {}", base64_of("no-colon")),
    ];
    for authorization in &wrong {
        let api = node.https().with_authorization(authorization);
        for reply in [
            api.put(path, &body).await,
            api.get("/api/handles/88.118.8/ADMIN").await,
            api.delete("/api/handles/88.118.8/ADMIN").await,
        ] {
            assert_eq!(reply.status, 401, "{authorization}: {}", reply.text());
            assert!(reply.body.is_empty(), "{authorization}: {}", reply.text());
            assert_eq!(
                reply.header("www-authenticate"),
                Some("Basic realm=\"handle\"")
            );
        }
    }
    // Six failed logins of the administrator locked it for two seconds (failed logins are
    // throttled per identity): even the right password is refused until then.
    let locked = node.admin().get("/api/handles/88.118.8/ADMIN").await;
    assert_eq!(locked.status, 401, "{}", locked.text());
    // The lock ends by itself: the right password is accepted again within a few seconds.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let reply = node.admin().get("/api/handles/88.118.8/ADMIN").await;
        if reply.status == 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still locked after 10 s: {}",
            reply.text()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // The wrong password keeps failing after a right one was accepted (no credential cache
    // confusion).
    let reply = node
        .https()
        .as_user(ADMIN, "wrong-pw")
        .put(path, &body)
        .await;
    assert_eq!(reply.status, 401);

    // Basic over plain HTTP: ignored, so 403 with RC 402, for writes and deletes.
    let http_admin = node.http().as_user(ADMIN, ADMIN_SECRET);
    let reply = http_admin.put(path, &body).await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.text(),
        r#"{"responseCode":402,"handle":"88.118.8/rest-2"}"#
    );
    assert_eq!(reply.header("www-authenticate"), None);
    http_admin
        .delete("/api/handles/88.118.8/ADMIN")
        .await
        .expect(403, 402);
    http_admin
        .get("/api/handles?prefix=88.118.8")
        .await
        .expect(403, 402);
    // Wrong credentials over plain HTTP are ignored the same way.
    node.http()
        .as_user(ADMIN, "wrong-pw")
        .put(path, &body)
        .await
        .expect(403, 402);

    assert_eq!(record(&node, "88.118.8/rest-2").await, None);
    assert!(record(&node, "88.118.8/ADMIN").await.is_some());

    // The username may be percent-encoded in full (pyhandle's `quote`), and the scheme name
    // may be lower case.
    let encoded = format!(
        "Basic {}",
        base64_of(&format!("300%3A88.118.8%2FADMIN:{ADMIN_SECRET}"))
    );
    node.https()
        .with_authorization(&encoded)
        .put(&format!("{path}?overwrite=false"), &body)
        .await
        .expect(201, 1);
    node.https()
        .with_authorization(&encoded.replacen("Basic", "basic", 1))
        .delete(path)
        .await
        .expect(200, 1);
    node.https()
        .with_authorization(&encoded.replacen("Basic", "BASIC", 1))
        .put(&format!("{path}?overwrite=false"), &body)
        .await
        .expect(201, 1);
    // Another scheme is not Basic: the request is anonymous.
    node.https()
        .with_authorization(&encoded.replacen("Basic", "Bearer", 1))
        .delete(path)
        .await
        .expect(401, 402);

    node.stop().await;
}

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_plain_writes_when_allowed() {
    let node = Node::start_with(|config| config.http.allow_loopback_plain_writes = true).await;
    let http_admin = node.http().as_user(ADMIN, ADMIN_SECRET);
    http_admin
        .put(
            "/api/handles/88.118.8/plain?overwrite=false",
            &json!([url(1, "https://example.org/plain")]),
        )
        .await
        .expect(201, 1);
    let body = node
        .http()
        .get("/api/handles/88.118.8/plain?index=1")
        .await
        .expect(200, 1);
    assert_eq!(
        body["values"][0]["data"]["value"],
        "https://example.org/plain"
    );
    // Authenticated reads over plain HTTP work too.
    let reply = http_admin.get("/api/handles/88.118.8/ADMIN").await;
    reply.expect(200, 1);
    assert!(reply.indexes().contains(&300));
    // Wrong credentials are now checked (401), and anonymous writes still need credentials.
    let reply = node
        .http()
        .as_user(ADMIN, "wrong-pw")
        .put(
            "/api/handles/88.118.8/plain2",
            &json!([url(1, "https://example.org/x")]),
        )
        .await;
    assert_eq!(reply.status, 401);
    node.http()
        .put(
            "/api/handles/88.118.8/plain2",
            &json!([url(1, "https://example.org/x")]),
        )
        .await
        .expect(403, 402);
    http_admin
        .delete("/api/handles/88.118.8/plain")
        .await
        .expect(200, 1);
    assert_eq!(record(&node, "88.118.8/plain").await, None);
    assert_eq!(record(&node, "88.118.8/plain2").await, None);

    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unprivileged_identity_is_denied() {
    let node = Node::start().await;
    create_user(&node).await;
    create(
        &node,
        "88.118.8/target",
        json!([url(1, "https://example.org/target")]),
    )
    .await;
    let target_before = record(&node, "88.118.8/target").await;
    let user = node.https().as_user(USER, USER_SECRET);

    // The credentials are valid: an authenticated read works.
    user.get("/api/handles/88.118.8/target")
        .await
        .expect(200, 1);

    // Create: 403 with RC 400, nothing written (also with mintNewSuffix).
    let reply = user
        .put(
            "/api/handles/88.118.8/by-user?overwrite=false",
            &json!([url(1, "https://example.org/by-user")]),
        )
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.text(),
        r#"{"responseCode":400,"handle":"88.118.8/by-user"}"#
    );
    user.put(
        "/api/handles/88.118.8/by-user",
        &json!([url(1, "https://example.org/by-user")]),
    )
    .await
    .expect(403, 400);
    user.put(
        "/api/handles/88.118.8/by-user-?mintNewSuffix=true",
        &json!([url(1, "https://example.org/by-user")]),
    )
    .await
    .expect(403, 400);
    assert_eq!(record(&node, "88.118.8/by-user").await, None);
    // A derived prefix handle or a top-level one.
    user.put(
        "/api/handles/0.NA/88.118.8.9?overwrite=false",
        &json!([url(1, "https://example.org/x")]),
    )
    .await
    .expect(403, 400);

    // Modify, add, remove values, replace, delete: 403 with RC 400, nothing changed.
    user.put(
        "/api/handles/88.118.8/target?index=1",
        &json!([url(1, "https://example.org/hijacked")]),
    )
    .await
    .expect(403, 400);
    user.put(
        "/api/handles/88.118.8/target?index=2",
        &json!([url(2, "https://example.org/added")]),
    )
    .await
    .expect(403, 400);
    user.put(
        "/api/handles/88.118.8/target",
        &json!([url(1, "https://example.org/hijacked")]),
    )
    .await
    .expect(403, 400);
    user.delete("/api/handles/88.118.8/target?index=1")
        .await
        .expect(403, 400);
    let reply = user.delete("/api/handles/88.118.8/target").await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.text(),
        r#"{"responseCode":400,"handle":"88.118.8/target"}"#
    );
    assert_eq!(
        without_timestamps(&record(&node, "88.118.8/target").await),
        without_timestamps(&target_before)
    );
    // The user may not even change its own record: its HS_ADMIN names only the administrator.
    user.put(
        "/api/handles/88.118.8/USER?index=1",
        &json!([typed(1, "DESC", "changed")]),
    )
    .await
    .expect(403, 400);
    // Nor list handles.
    user.get("/api/handles?prefix=88.118.8")
        .await
        .expect(403, 400);

    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_grants_modify_value_only() {
    let node = Node::start().await;
    create_user(&node).await;
    // A group listing the user, and a handle whose second HS_ADMIN grants that group only
    // MODIFY_VALUE (position 8 of the permission string).
    create(
        &node,
        "88.118.8/GROUP",
        json!([{"index": 200, "type": "HS_VLIST", "data": {"format": "vlist",
            "value": [{"handle": "88.118.8/USER", "index": 300}]}}]),
    )
    .await;
    create(
        &node,
        "88.118.8/shared",
        json!([
            admin_value(100, "88.118.8/ADMIN", 300, "111111111111"),
            admin_value(101, "88.118.8/GROUP", 200, "000000010000"),
            url(1, "https://example.org/shared"),
            typed(2, "DESC", "shared"),
        ]),
    )
    .await;
    let user = node.https().as_user(USER, USER_SECRET);

    // Modify: allowed.
    user.put(
        "/api/handles/88.118.8/shared?index=1",
        &json!([url(1, "https://example.org/modified-by-user")]),
    )
    .await
    .expect(200, 1);
    let body = node
        .https()
        .get("/api/handles/88.118.8/shared?index=1")
        .await
        .expect(200, 1);
    assert_eq!(
        body["values"][0]["data"]["value"],
        "https://example.org/modified-by-user"
    );
    let before = record(&node, "88.118.8/shared").await;

    // Delete the handle, remove a value, add a value, modify the admin value: denied.
    user.delete("/api/handles/88.118.8/shared")
        .await
        .expect(403, 400);
    user.delete("/api/handles/88.118.8/shared?index=2")
        .await
        .expect(403, 400);
    user.put(
        "/api/handles/88.118.8/shared?index=3",
        &json!([typed(3, "DESC", "added")]),
    )
    .await
    .expect(403, 400);
    user.put(
        "/api/handles/88.118.8/shared?index=101",
        &json!([admin_value(101, "88.118.8/GROUP", 200, "111111111111")]),
    )
    .await
    .expect(403, 400);
    assert_eq!(
        without_timestamps(&record(&node, "88.118.8/shared").await),
        without_timestamps(&before)
    );

    // Once the user leaves the group, modifying is denied too.
    node.admin()
        .put(
            "/api/handles/88.118.8/GROUP?index=200",
            &json!([{"index": 200, "type": "HS_VLIST", "data": {"format": "vlist",
                "value": [{"handle": "88.118.8/ADMIN", "index": 300}]}}]),
        )
        .await
        .expect(200, 1);
    user.put(
        "/api/handles/88.118.8/shared?index=1",
        &json!([url(1, "https://example.org/again")]),
    )
    .await
    .expect(403, 400);

    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_handles() {
    let node = Node::start().await;
    let admin = node.admin();
    for i in 0..12 {
        create(
            &node,
            &format!("88.118.8/list-{i:03}"),
            json!([url(1, "https://example.org/list")]),
        )
        .await;
    }
    // ADMIN plus the twelve, upper-cased and sorted.
    let mut expected: Vec<String> = (0..12).map(|i| format!("88.118.8/LIST-{i:03}")).collect();
    expected.insert(0, "88.118.8/ADMIN".to_owned());
    let total = expected.len().to_string();

    // Everything: without paging parameters, with pageSize=0 (the reference lists all), with a
    // negative page.
    for query in [
        "prefix=88.118.8",
        "prefix=88.118.8&pageSize=0",
        "prefix=88.118.8&page=-1&pageSize=5",
        "prefix=88.118.8&page=0",
    ] {
        let reply = admin.get(&format!("/api/handles?{query}")).await;
        let body = reply.expect(200, 1);
        assert_eq!(body["prefix"], "88.118.8", "{query}");
        assert_eq!(body["totalCount"], Value::String(total.clone()), "{query}");
        assert_eq!(body["handles"], json!(expected), "{query}");
        assert!(body.get("page").is_none(), "{query}");
    }
    // Pages are zero-based.
    let body = admin
        .get("/api/handles?prefix=88.118.8&page=0&pageSize=5")
        .await
        .expect(200, 1);
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        vec![
            "responseCode",
            "prefix",
            "totalCount",
            "page",
            "pageSize",
            "handles"
        ]
    );
    assert_eq!(body["page"], 0);
    assert_eq!(body["pageSize"], 5);
    assert_eq!(body["totalCount"], Value::String(total.clone()));
    assert_eq!(body["handles"], json!(expected[0..5]));
    let body = admin
        .get("/api/handles?prefix=88.118.8&page=2&pageSize=5")
        .await
        .expect(200, 1);
    assert_eq!(body["handles"], json!(expected[10..13]));
    let body = admin
        .get("/api/handles?prefix=88.118.8&page=9&pageSize=5")
        .await
        .expect(200, 1);
    assert_eq!(body["handles"], json!([]));
    assert_eq!(body["totalCount"], Value::String(total.clone()));

    // Without authentication: 401 with RC 402 naming the prefix; over plain HTTP 403.
    let reply = node.https().get("/api/handles?prefix=88.118.8").await;
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Basic realm=\"handle\"")
    );
    assert_eq!(reply.text(), r#"{"responseCode":402,"handle":"88.118.8"}"#);
    node.http()
        .get("/api/handles?prefix=88.118.8")
        .await
        .expect(403, 402);
    // Not homed here.
    admin
        .get("/api/handles?prefix=99.999")
        .await
        .expect(400, 301);
    // No prefix: RC 102, 400.
    for path in ["/api/handles", "/api/handles/", "/api/handles?prefix="] {
        for api in [node.https(), node.admin()] {
            let body = api.get(path).await.expect(400, 102);
            assert_eq!(body["message"], "Empty handle invalid", "{path}");
        }
    }
    // Only GET is defined on the collection.
    admin
        .request(Method::DELETE, "/api/handles?prefix=88.118.8", &[], None)
        .await
        .expect(405, 4);

    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefixes_site_and_service_endpoints() {
    let node = Node::start().await;
    let api = node.https();

    // Homed prefixes, anonymously and as the administrator.
    for reply in [
        api.get("/api/prefixes").await,
        node.admin().get("/api/prefixes").await,
    ] {
        assert_eq!(reply.status, 200);
        assert_eq!(
            reply.text(),
            r#"{"responseCode":1,"totalCount":"1","prefixes":["0.NA/88.118.8"]}"#
        );
    }
    // Homing needs a server administrator.
    api.request(Method::POST, "/api/prefixes/88.118.9", &[], None)
        .await
        .expect(401, 402);
    node.https()
        .as_user(ADMIN, ADMIN_SECRET)
        .request(Method::POST, "/api/prefixes/88.118.9", &[], None)
        .await
        .expect(403, 400);

    // Site information: protocol 2.11, both interfaces, the node's Ed25519 key as a JWK.
    let reply = api.get("/api/site").await;
    let body = reply.expect(200, 1);
    let site = &body["site"];
    assert_eq!(site["protocolVersion"], "2.11");
    assert_eq!(site["primarySite"], true);
    let server = &site["servers"][0];
    assert_eq!(server["address"], "127.0.0.1");
    let protocols: Vec<&str> = server["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["protocol"].as_str().unwrap())
        .collect();
    assert_eq!(protocols, vec!["HTTP", "HTTPS"]);
    let key = &server["publicKey"];
    assert_eq!(key["format"], "key");
    assert_eq!(key["value"]["kty"], "OKP");
    assert_eq!(key["value"]["crv"], "Ed25519");
    let pem = std::fs::read_to_string(node.data.join("keys").join("node-ed25519.pem")).unwrap();
    let node_key = idnode_certs::sign::NodeKey::from_pkcs8_pem(&pem).unwrap();
    {
        use base64::Engine as _;
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(key["value"]["x"].as_str().unwrap())
            .unwrap();
        assert_eq!(x, node_key.public_key_bytes().to_vec());
    }
    // The prefix handle's HS_SITE carries the same key.
    let body = api
        .get("/api/handles/0.NA/88.118.8?type=HS_SITE")
        .await
        .expect(200, 1);
    assert_eq!(
        body["values"][0]["data"]["value"]["servers"][0]["publicKey"],
        *key
    );

    // Unknown endpoints and methods.
    for (method, path) in [
        (Method::GET, "/api/nothing"),
        (Method::GET, "/api/sites"),
        (Method::PATCH, "/api/handles/88.118.8/ADMIN"),
        (Method::PUT, "/api/handles"),
    ] {
        let reply = api.request(method.clone(), path, &[], None).await;
        let body = reply.expect(405, 4);
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .starts_with("Unknown HTTP API endpoint"),
            "{method} {path}: {body}"
        );
    }
    let unknown_method = Method::from_bytes(b"PROPFIND").unwrap();
    let reply = api
        .request(unknown_method, "/api/handles/88.118.8/ADMIN", &[], None)
        .await;
    assert_eq!(reply.status, 501);

    // CORS preflight, and the origin echoed on ordinary responses.
    let reply = api
        .request(
            Method::OPTIONS,
            "/api/handles/88.118.8/ADMIN",
            &[
                ("origin", "https://example.com"),
                ("access-control-request-method", "PUT"),
                (
                    "access-control-request-headers",
                    "authorization,content-type",
                ),
            ],
            None,
        )
        .await;
    assert_eq!(reply.status, 200);
    assert!(reply.body.is_empty());
    for (name, value) in [
        ("access-control-allow-origin", "https://example.com"),
        ("access-control-max-age", "86400"),
        ("access-control-allow-methods", "GET,POST,HEAD,PUT,DELETE"),
        (
            "access-control-allow-headers",
            "X-Requested-With,Authorization,Origin,Accept,Content-Type",
        ),
    ] {
        assert_eq!(reply.header(name), Some(value), "{name}");
    }
    assert_eq!(reply.header("access-control-allow-credentials"), None);
    let reply = api
        .request(
            Method::GET,
            "/api/handles/88.118.8/ADMIN",
            &[("origin", "https://app.example")],
            None,
        )
        .await;
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    let reply = api.get("/api/handles/88.118.8/ADMIN").await;
    assert_eq!(reply.header("access-control-allow-origin"), None);

    // Health, the root page, other paths.
    for base in [node.http(), node.https()] {
        let reply = base.get("/healthz").await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.text(), "ok\n");
        assert_eq!(base.get("/").await.status, 200);
        assert_eq!(base.get("/nothing-here").await.status, 404);
    }

    // Metrics count the requests made above.
    let reply = api.get("/metrics").await;
    assert_eq!(reply.status, 200);
    let text = reply.text();
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("idnode_requests_total{")
                && l.contains("interface=\"rest\"")
                && l.contains("op=\"resolve\"")
        })
        .unwrap_or_else(|| panic!("no REST request counter in:\n{text}"));
    let count: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 1.0, "{line}");
    assert!(text.contains("idnode_request_duration_seconds"));

    node.stop().await;
}

/// The site information should publish the ports the node listens on. With port 0 in the
/// configuration it publishes 0, because it is built from the configuration rather than from
/// the bound addresses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_publishes_bound_ports() {
    let node = Node::start().await;
    let body = node.https().get("/api/site").await.expect(200, 1);
    let ports: Vec<u64> = body["site"]["servers"][0]["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["port"].as_u64().unwrap())
        .collect();
    assert_eq!(
        ports,
        vec![
            u64::from(node.http_addr.port()),
            u64::from(node.https_addr.port())
        ]
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_over_tls() {
    let node = Node::start().await;
    let h2 = node.https_with_alpn(&alpn_h2());
    let reply = h2.get("/api/handles/88.118.8/ADMIN").await;
    assert_eq!(reply.version, Version::HTTP_2);
    reply.expect(200, 1);

    // Writes, authentication and errors behave the same over HTTP/2, with many requests
    // multiplexed on one connection.
    let admin = h2.as_user(ADMIN, ADMIN_SECRET);
    let writes: Vec<_> = (0..16)
        .map(|i| {
            let admin = admin.clone();
            tokio::spawn(async move {
                admin
                    .put(
                        &format!("/api/handles/88.118.8/h2-{i}?overwrite=false"),
                        &json!([url(1, &format!("https://example.org/h2/{i}"))]),
                    )
                    .await
            })
        })
        .collect();
    for write in writes {
        let reply = write.await.expect("write task");
        assert_eq!(reply.version, Version::HTTP_2);
        reply.expect(201, 1);
    }
    let reply = h2
        .put(
            "/api/handles/88.118.8/h2-0",
            &json!([url(1, "https://example.org/x")]),
        )
        .await;
    assert_eq!(reply.version, Version::HTTP_2);
    reply.expect(401, 402);
    let body = h2
        .get("/api/handles/88.118.8/h2-15?index=1")
        .await
        .expect(200, 1);
    assert_eq!(
        body["values"][0]["data"]["value"],
        "https://example.org/h2/15"
    );

    // The HTTP/1.1 client really used HTTP/1.1.
    let reply = node.https().get("/healthz").await;
    assert_eq!(reply.version, Version::HTTP_11);

    node.stop().await;
}

/// Replacing a record with exactly its current content needs a write permission like any other
/// change; otherwise a user without rights would learn whether a guess of a non-public value is
/// right (200) or wrong (403).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_with_identical_content_needs_authorization() {
    let node = Node::start().await;
    create_user(&node).await;
    create(
        &node,
        "88.118.8/secretive",
        json!([
            admin_value(100, "88.118.8/ADMIN", 300, "111111111111"),
            {"index": 2, "type": "DESC", "data": "private note", "permissions": "1100"},
        ]),
    )
    .await;
    let values = without_timestamps(&record(&node, "88.118.8/secretive").await).unwrap();
    node.https()
        .as_user(USER, USER_SECRET)
        .put(
            "/api/handles/88.118.8/secretive",
            &json!({ "values": values }),
        )
        .await
        .expect(403, 400);
    node.stop().await;
}

/// Anonymous resolutions are answered from a cache of rendered answers; every write, through
/// any route, is visible to the next read, in every spelling, and nothing private leaks into
/// the shared answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_resolutions_follow_every_write() {
    let node = Node::start().await;
    let mut private = typed(2, "DESC", "private note");
    private["permissions"] = json!("1100");
    create(
        &node,
        "88.118.8/cached",
        json!([url(1, "https://a.example"), private]),
    )
    .await;
    let anonymous = node.http();
    for _ in 0..3 {
        let body = anonymous
            .get("/api/handles/88.118.8/cached")
            .await
            .expect(200, 1);
        let values = body["values"].as_array().unwrap();
        assert!(
            values.iter().all(|v| v["index"] != 2),
            "the private value is not shared: {body}"
        );
        assert_eq!(body["values"][0]["data"]["value"], "https://a.example");
    }
    // Another spelling echoes itself.
    let body = anonymous
        .get("/api/handles/88.118.8/CACHED")
        .await
        .expect(200, 1);
    assert_eq!(body["handle"], "88.118.8/CACHED");

    // A change is visible at once, in both spellings.
    node.admin()
        .put(
            "/api/handles/88.118.8/cached?index=1",
            &json!([url(1, "https://b.example")]),
        )
        .await
        .expect(200, 1);
    for path in [
        "/api/handles/88.118.8/cached",
        "/api/handles/88.118.8/CACHED",
    ] {
        let body = anonymous.get(path).await.expect(200, 1);
        assert_eq!(
            body["values"][0]["data"]["value"], "https://b.example",
            "{path}"
        );
    }

    // Deletion too.
    node.admin()
        .delete("/api/handles/88.118.8/cached")
        .await
        .expect(200, 1);
    anonymous
        .get("/api/handles/88.118.8/cached")
        .await
        .expect(404, 100);

    // Authenticated and parameterised reads are never answered from the shared cache.
    create(
        &node,
        "88.118.8/cached",
        json!([url(1, "https://c.example"), private_note()]),
    )
    .await;
    anonymous
        .get("/api/handles/88.118.8/cached")
        .await
        .expect(200, 1);
    let admin_view = node
        .admin()
        .get("/api/handles/88.118.8/cached")
        .await
        .expect(200, 1);
    assert_eq!(
        admin_view["values"].as_array().unwrap().len(),
        3,
        "{admin_view}"
    );
    node.stop().await;
}

fn private_note() -> Value {
    json!({"index": 2, "type": "DESC", "data": "private note", "permissions": "1100"})
}
