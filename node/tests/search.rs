//! `GET /api/search` of a node started in-process: records written through the REST API become
//! searchable once the indexer task has followed the change feed, results are restricted to
//! what the caller may read, and deletions leave the index.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Api, Node};

const ENTERPRISE: &str = "88.118.8/E.91350100M000100Y43";
const ACETONE: &str = "88.118.8/P.67-64-1";

fn typed(index: u32, value_type: &str, data: &str) -> Value {
    json!({"index": index, "type": value_type, "data": data})
}

async fn create(node: &Node, handle: &str, values: Value) {
    node.admin()
        .put(
            &format!("/api/handles/{handle}"),
            &json!({ "values": values }),
        )
        .await
        .expect(201, 1);
}

/// Searches until `done` holds for the answer, or fails after 30 seconds.
async fn search_until(api: &Api, query: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let reply = api.get(&format!("/api/search?{query}")).await;
        if reply.status.as_u16() == 200 {
            let body = reply.json();
            if done(&body) {
                return body;
            }
        } else {
            assert_eq!(reply.status.as_u16(), 503, "{}", reply.text());
        }
        assert!(
            Instant::now() < deadline,
            "{query}: no matching answer in time, last {}",
            reply.text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn first_handle(body: &Value) -> Option<&str> {
    body["results"][0]["handle"].as_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_follows_writes_and_respects_permissions() {
    let node = Node::start().await;
    create(
        &node,
        ENTERPRISE,
        json!([
            typed(1001, "TEMPLATE", "hazchem.enterprise@1"),
            typed(2000, "uscc", "91350100M000100Y43"),
            typed(2001, "orgName", "福州示例化工有限公司"),
            typed(2002, "industryCode", "C2614"),
            typed(2003, "regionCode", "350100"),
            typed(2004, "address", "福建省福州市"),
        ]),
    )
    .await;
    create(
        &node,
        ACETONE,
        json!([
            typed(1001, "TEMPLATE", "hazchem.product@1"),
            typed(2000, "productName", "丙酮"),
            typed(2001, "casNo", r#"["67-64-1"]"#),
            typed(2002, "unNo", "UN1090"),
            typed(2010, "manufacturer", ENTERPRISE),
            typed(2013, "productNameEn", "acetone"),
            {"index": 2005, "type": "safetyInfoCode", "data": "SIC-SECRET-1", "permissions": "1100"},
        ]),
    )
    .await;
    create(
        &node,
        "88.118.8/P.67-64-1.oxime",
        json!([
            typed(1001, "TEMPLATE", "hazchem.product@1"),
            typed(2000, "productName", "acetone oxime"),
            typed(2001, "casNo", r#"["127-06-0"]"#),
            typed(2010, "manufacturer", ENTERPRISE),
        ]),
    )
    .await;
    let anonymous = node.http();

    let body = search_until(&anonymous, "q=acetone", |b| b["total"] == 2).await;
    assert_eq!(first_handle(&body), Some(ACETONE));
    assert_eq!(body["page"], 0);
    assert_eq!(body["pageSize"], 20);
    let first = &body["results"][0];
    assert_eq!(first["template"], "hazchem.product@1");
    assert!(first["score"].as_f64().unwrap() > body["results"][1]["score"].as_f64().unwrap());
    assert_eq!(
        first["matched"],
        json!([{"index": 2013, "type": "productNameEn", "value": "acetone"}])
    );

    for query in [
        "q=%E4%B8%99%E9%85%AE",
        "q=67-64-1",
        "cas=67-64-1",
        "q=acetome",
        "un=UN1090&type=hazchem.product",
    ] {
        let body = search_until(&anonymous, query, |_| true).await;
        assert_eq!(first_handle(&body), Some(ACETONE), "{query}: {body}");
    }
    let body = search_until(&anonymous, "uscc=91350100m000100y43", |_| true).await;
    assert_eq!(first_handle(&body), Some(ENTERPRISE));
    let body = search_until(
        &anonymous,
        &format!("value={ENTERPRISE}&pageSize=1"),
        |_| true,
    )
    .await;
    assert_eq!(body["total"], 2);
    assert_eq!(body["results"].as_array().unwrap().len(), 1);

    // The private item is neither found nor shown anonymously; the administrator finds it.
    let body = search_until(&anonymous, "q=SIC-SECRET-1", |_| true).await;
    assert_eq!(body["total"], 0);
    let body = search_until(&anonymous, "cas=67-64-1", |_| true).await;
    assert!(!body.to_string().contains("SIC-SECRET-1"));
    let body = search_until(&node.admin(), "q=SIC-SECRET-1", |_| true).await;
    assert_eq!(first_handle(&body), Some(ACETONE));
    assert_eq!(
        body["results"][0]["matched"],
        json!([{"index": 2005, "type": "safetyInfoCode", "value": "SIC-SECRET-1"}])
    );

    // Bad requests and bad credentials.
    for query in ["", "q=acetone&pageSize=0", "q=acetone&page=x"] {
        let reply = anonymous.get(&format!("/api/search?{query}")).await;
        assert_eq!(reply.status.as_u16(), 400, "{query}: {}", reply.text());
        assert!(reply.json()["message"].is_string());
    }
    let wrong = node.https().as_user("300:88.118.8/ADMIN", "wrong secret");
    assert_eq!(
        wrong.get("/api/search?q=acetone").await.status.as_u16(),
        401
    );

    // A deleted handle leaves the results.
    node.admin()
        .delete("/api/handles/88.118.8/P.67-64-1.oxime")
        .await
        .expect(200, 1);
    let body = search_until(&anonymous, "q=acetone", |b| b["total"] == 1).await;
    assert_eq!(first_handle(&body), Some(ACETONE));
}
