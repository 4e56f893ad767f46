//! The hazardous-chemicals domain over real sockets: the SNMS API end to end (tokens, single
//! and batch writes with mixed good and bad items, idempotent retries, role limits), template
//! violations through the handle.net REST API, the SNMS API and `idnode import`, onboarding over
//! HTTP, and importing the real chemicals file.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use idnode::cli::import::{ImportOptions, run as import};
use idnode::config::Config;
use idnode::core::Core;
use idnode_proto::{HandleValue, Permissions, ValueRef, types};
use idnode_resolver::{Application, Identity, Operation, Request, Review};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::watch;

mod native_support;

const NODE_ADMIN: &str = "300:88.118/ADMIN";
const NODE_ADMIN_SECRET: &str = "node-admin-pw";
const AUDITOR: &str = "300:88.118/AUDITOR";
const AUDITOR_SECRET: &str = "auditor-pw";
const USCC_A: &str = "91350100M000100Y43";
const USCC_B: &str = "91110000MA0000001L";
const ENT_A_SECRET: &str = "ent-a-pw";
const ENT_B_SECRET: &str = "ent-b-pw";

/// A template with one item of every constraint type (as in the resolver's tests).
const TEST_TEMPLATE: &str = r#"{"name":"test.all","version":1,"industryCode":"C2614","items":[
 {"name":"名称","idType":"name","idIndex":2000,"required":true,"constraint":{"type":"string","minLength":1,"maxLength":8,"pattern":"[^0-9]+"}},
 {"name":"数量","idType":"qty","idIndex":2001,"required":false,"constraint":{"type":"number","min":0,"max":100,"integer":true}},
 {"name":"生产日期","idType":"productionDate","idIndex":2002,"required":false,"constraint":{"type":"date","notAfterToday":true}},
 {"name":"单位","idType":"unit","idIndex":2003,"required":false,"constraint":{"type":"enum","values":["kg","t"]}},
 {"name":"生产企业","idType":"producer","idIndex":2004,"required":false,"constraint":{"type":"handleRef"}},
 {"name":"网址","idType":"homepage","idIndex":2005,"required":false,"constraint":{"type":"url"}},
 {"name":"安全技术说明书","idType":"sds","idIndex":2006,"required":false,"constraint":{"type":"fileRef"}},
 {"name":"CAS号","idType":"cas","idIndex":2007,"required":false,"constraint":{"type":"cas"}},
 {"name":"统一社会信用代码","idType":"uscc","idIndex":2008,"required":false,"constraint":{"type":"uscc"}},
 {"name":"UN号","idType":"unNo","idIndex":2009,"required":false,"constraint":{"type":"unNumber"}},
 {"name":"危规号","idType":"cnDgNo","idIndex":2010,"required":false,"constraint":{"type":"dangerousGoodsNo"}},
 {"name":"行政区划代码","idType":"regionCode","idIndex":2011,"required":false,"constraint":{"type":"region"}},
 {"name":"行业代码","idType":"industryCode","idIndex":2012,"required":false,"constraint":{"type":"industryCode"}},
 {"name":"危险说明","idType":"hazards","idIndex":2013,"required":false,"constraint":{"type":"ghsHazards"}},
 {"name":"包装类别","idType":"packingGroup","idIndex":2014,"required":false,"constraint":{"type":"packingGroup"}},
 {"name":"车牌号","idType":"plate","idIndex":2015,"required":false,"constraint":{"type":"plate"}},
 {"name":"电子运单号","idType":"waybillNo","idIndex":2016,"required":false,"constraint":{"type":"waybillNo"}},
 {"name":"关联批次","idType":"batches","idIndex":2017,"required":false,"constraint":{"type":"list","of":{"type":"handleRef"},"minItems":1,"maxItems":3}}
]}"#;

/// One bad value per constraint type: (index, idType, bad text, expected part of the message).
const BAD: [(u32, &str, &str, &str); 18] = [
    (
        2000,
        "name",
        "丙酮123",
        "名称 (name, index 2000): does not match the pattern",
    ),
    (
        2001,
        "qty",
        "4.5",
        "数量 (qty, index 2001): expected an integer",
    ),
    (
        2002,
        "productionDate",
        "2999-01-01",
        "生产日期 (productionDate, index 2002): 2999-01-01 is later than today",
    ),
    (
        2003,
        "unit",
        "吨",
        "单位 (unit, index 2003): not one of kg, t",
    ),
    (
        2004,
        "producer",
        "88.118.8/MISSING",
        "生产企业 (producer, index 2004): the handle 88.118.8/MISSING does not exist",
    ),
    (
        2005,
        "homepage",
        "www.example.com",
        "网址 (homepage, index 2005): expected an absolute http:// or https:// URL",
    ),
    (
        2006,
        "sds",
        "sds.pdf",
        "安全技术说明书 (sds, index 2006): neither an http(s) URL nor a handle",
    ),
    (
        2007,
        "cas",
        "67-64-2",
        "CAS号 (cas, index 2007): check digit does not match",
    ),
    (
        2008,
        "uscc",
        "91350100M000100Y44",
        "统一社会信用代码 (uscc, index 2008): check digit does not match",
    ),
    (
        2009,
        "unNo",
        "UN109",
        "UN号 (unNo, index 2009): expected a UN number",
    ),
    (
        2010,
        "cnDgNo",
        "01025",
        "危规号 (cnDgNo, index 2010): the first digit of a 危规号 is the class",
    ),
    (
        2011,
        "regionCode",
        "990100",
        "行政区划代码 (regionCode, index 2011): the first two digits are not a GB/T 2260 province code",
    ),
    (
        2012,
        "industryCode",
        "C26",
        "行业代码 (industryCode, index 2012): expected a four-level GB/T 4754-2017 class",
    ),
    (
        2013,
        "hazards",
        r#"["H225","H999"]"#,
        "危险说明 (hazards, index 2013): element 2 (\"H999\"): not a GHS hazard statement code",
    ),
    (
        2014,
        "packingGroup",
        "IV",
        "包装类别 (packingGroup, index 2014): expected a packing group",
    ),
    (
        2015,
        "plate",
        "闽A123",
        "车牌号 (plate, index 2015): expected a Chinese vehicle plate",
    ),
    (
        2016,
        "waybillNo",
        "350100-2024",
        "电子运单号 (waybillNo, index 2016): expected an e-waybill number",
    ),
    (
        2017,
        "batches",
        "[]",
        "关联批次 (batches, index 2017): fewer than 1 elements",
    ),
];

fn config(dir: &Path) -> Config {
    let mut config = Config {
        data: dir.to_path_buf(),
        ..Config::default()
    };
    config.http.listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    config.http.allow_loopback_plain_writes = true;
    config.https.listen = None;
    config.native.listen = Some(idnode::config::native::Listen(Some(SocketAddr::from((
        [127, 0, 0, 1],
        0,
    )))));
    config.auth.server_admins = vec![NODE_ADMIN.to_owned()];
    config.auth.auditors = vec![AUDITOR.to_owned()];
    config.auth.secret_iterations = 1000;
    config
}

fn now() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0)
}

fn application(uscc: &str, prefix: &str) -> Application {
    Application {
        uscc: uscc.into(),
        org_name: "测试化工有限公司".into(),
        industry_code: "C2614".into(),
        region_code: "350100".into(),
        address: "福州市测试路1号".into(),
        prefix: prefix.into(),
        contact: Some("李四".into()),
        chem_park: None,
    }
}

/// Seeds a data directory: the secondary prefix 88.118 with the node administrator and the
/// auditor, the test template, and two approved enterprises 88.118.8 (A) and 88.118.9 (B).
async fn seed(dir: &Path) {
    let state = Core::open(config(dir)).unwrap();
    let resolver = &state.resolver;
    let admin = Identity(ValueRef::parse(NODE_ADMIN).unwrap());
    let run = |op| {
        resolver.handle(Request {
            op,
            identity: Some(admin.clone()),
            now: now(),
        })
    };
    run(Operation::Home {
        prefix: "88.118".into(),
    })
    .await
    .unwrap();
    for (who, secret) in [(NODE_ADMIN, NODE_ADMIN_SECRET), (AUDITOR, AUDITOR_SECRET)] {
        let id = ValueRef::parse(who).unwrap();
        let mut key = HandleValue::new(300, types::HS_SECKEY, secret.as_bytes().to_vec());
        key.permissions = Permissions::SECRET;
        run(Operation::Create {
            handle: resolver.parse_handle(&id.handle).unwrap(),
            values: vec![key],
            overwrite: false,
        })
        .await
        .unwrap();
    }
    let template = idnode_templates::Template::from_json(TEST_TEMPLATE).unwrap();
    resolver
        .create_template(Some(&admin), template, now())
        .await
        .unwrap();
    for (uscc, prefix, secret) in [
        (USCC_A, "88.118.8", ENT_A_SECRET),
        (USCC_B, "88.118.9", ENT_B_SECRET),
    ] {
        resolver
            .apply_enterprise(None, application(uscc, prefix), now())
            .await
            .unwrap();
        resolver
            .review_enterprise(
                Some(&admin),
                uscc,
                Review::Approve {
                    admin_secret: secret.as_bytes().to_vec(),
                },
                now(),
            )
            .await
            .unwrap();
    }
}

/// A running node on a seeded data directory.
struct Node {
    addr: SocketAddr,
    native: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Node {
    async fn start(dir: &Path) -> Self {
        let (stop, rx) = watch::channel(false);
        let running = idnode::server::start(config(dir), rx).await.unwrap();
        Self {
            addr: running.bound.http.unwrap(),
            native: running.bound.native.unwrap(),
            stop,
            tasks: running.tasks,
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }

    /// One HTTP/1.1 request with `Connection: close`; returns the status and the JSON body.
    async fn call(
        &self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let addr = self.addr;
        let request = {
            let body = body.map(Value::to_string).unwrap_or_default();
            let mut head = format!(
                "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
                body.len()
            );
            if !body.is_empty() {
                head.push_str("Content-Type: application/json\r\n");
            }
            if let Some(auth) = auth {
                head.push_str(&format!("Authorization: {auth}\r\n"));
            }
            head.push_str("\r\n");
            head.push_str(&body);
            head
        };
        tokio::task::spawn_blocking(move || {
            let mut stream = TcpStream::connect(addr).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(60)))
                .unwrap();
            stream.write_all(request.as_bytes()).unwrap();
            let mut response = Vec::new();
            stream.read_to_end(&mut response).unwrap();
            let text = String::from_utf8_lossy(&response).into_owned();
            let status: u16 = text[9..12].parse().unwrap();
            let (head, body) = text.split_once("\r\n\r\n").unwrap();
            let body = if head
                .to_ascii_lowercase()
                .contains("transfer-encoding: chunked")
            {
                dechunk(body)
            } else {
                body.to_owned()
            };
            (status, serde_json::from_str(&body).unwrap_or(Value::Null))
        })
        .await
        .unwrap()
    }

    async fn token(&self, user: &str, secret: &str) -> String {
        let (status, body) = self
            .call(
                "POST",
                "/identity/token",
                None,
                Some(&json!({"username": user, "password": secret})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        format!("Bearer {}", body["data"]["token"].as_str().unwrap())
    }
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&tail[..size]);
        rest = &tail[size + 2..];
    }
    out
}

fn basic(identity: &str, secret: &str) -> String {
    let user = identity.replace('%', "%25").replace(':', "%3A");
    format!("Basic {}", STANDARD.encode(format!("{user}:{secret}")))
}

/// An SNMS register body for the test template.
fn snms_item(handle: &str, template: &str, items: &[(u32, &str, &str)]) -> Value {
    json!({
        "handle": handle,
        "templateVersion": template,
        "value": items.iter().map(|(index, id_type, text)| json!({
            "index": index, "type": id_type, "data": {"format": "string", "value": text}, "auth": ""
        })).collect::<Vec<_>>(),
    })
}

fn product(handle: &str, cas: &str) -> Value {
    snms_item(
        handle,
        "hazchem.product@1",
        &[
            (2000, "productName", "丙酮"),
            (2001, "casNo", &format!("[\"{cas}\"]")),
            (2010, "manufacturer", &format!("88.118.8/E.{USCC_A}")),
        ],
    )
}

/// The per-item `code`s of a batch answer's `data` list.
fn result_codes(body: &Value) -> Vec<i64> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_i64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snms_api_end_to_end() {
    let dir = TempDir::new().unwrap();
    seed(dir.path()).await;
    let node = Node::start(dir.path()).await;

    // Logging in.
    let (status, body) = node
        .call(
            "POST",
            "/identity/token",
            None,
            Some(&json!({"username": "300:88.118.8/ADMIN", "password": "wrong"})),
        )
        .await;
    assert_eq!((status, body["status"].as_i64()), (401, Some(-1)));
    let ent_a = node.token("88.118.8/ADMIN", ENT_A_SECRET).await;
    let ent_b = node.token("300:88.118.9/ADMIN", ENT_B_SECRET).await;
    let (status, body) = node
        .call(
            "GET",
            "/identityv2/data/detail?handle=88.118.8/P.1",
            Some("Bearer nope"),
            None,
        )
        .await;
    assert_eq!((status, body["status"].as_i64()), (401, Some(-1)));

    // Register, retry with identical content, conflict with other content.
    let item = product("88.118.8/P.1", "67-64-1");
    let (status, body) = node
        .call("POST", "/identityv2/data", Some(&ent_a), Some(&item))
        .await;
    assert_eq!((status, body["status"].as_i64()), (200, Some(1)), "{body}");
    let (status, body) = node
        .call("POST", "/identityv2/data", Some(&ent_a), Some(&item))
        .await;
    assert_eq!((status, body["status"].as_i64()), (200, Some(1)), "{body}");
    let other = product("88.118.8/P.1", "64-17-5");
    let (status, body) = node
        .call("POST", "/identityv2/data", Some(&ent_a), Some(&other))
        .await;
    assert_eq!((status, body["status"].as_i64()), (400, Some(-2)), "{body}");
    assert!(body["message"].as_str().unwrap().contains("标识已存在"));
    // Writing index 1001 directly is refused.
    let direct = snms_item(
        "88.118.8/P.2",
        "hazchem.product@1",
        &[(1001, "TEMPLATE", "hazchem.product@1")],
    );
    let (_, body) = node
        .call("POST", "/identityv2/data", Some(&ent_a), Some(&direct))
        .await;
    assert!(body["message"].as_str().unwrap().contains("1001"), "{body}");

    // Resolve.
    let (status, body) = node
        .call(
            "GET",
            "/identityv2/data/detail?handle=88.118.8/P.1",
            None,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["templateVersion"], "hazchem.product@1");
    assert_eq!(body["data"]["prefix"], "88.118.8");
    let values = body["data"]["value"].as_array().unwrap();
    assert!(
        values
            .iter()
            .any(|v| v["type"] == "casNo" && v["data"]["value"] == "[\"67-64-1\"]")
    );

    // Update: the business values are replaced, the administrators kept.
    let (status, body) = node
        .call("PUT", "/identityv2/data", Some(&ent_a), Some(&other))
        .await;
    assert_eq!((status, body["status"].as_i64()), (200, Some(1)), "{body}");
    let (_, body) = node
        .call(
            "GET",
            "/identityv2/data/detail?handle=88.118.8/P.1",
            None,
            None,
        )
        .await;
    let values = body["data"]["value"].as_array().unwrap();
    assert!(
        values
            .iter()
            .any(|v| v["type"] == "casNo" && v["data"]["value"] == "[\"64-17-5\"]")
    );
    assert!(values.iter().any(|v| v["type"] == "HS_ADMIN"));

    // Enterprise B may not write under A's prefix; an auditor may not write at all.
    let (status, body) = node
        .call(
            "POST",
            "/identityv2/data",
            Some(&ent_b),
            Some(&product("88.118.8/P.9", "67-64-1")),
        )
        .await;
    assert_eq!((status, body["status"].as_i64()), (403, Some(-3)), "{body}");
    let (status, body) = node
        .call("PUT", "/identityv2/data", Some(&ent_b), Some(&other))
        .await;
    assert_eq!((status, body["status"].as_i64()), (403, Some(-3)), "{body}");
    let auditor = node.token(AUDITOR, AUDITOR_SECRET).await;
    let (status, body) = node
        .call(
            "POST",
            "/identityv2/data",
            Some(&auditor),
            Some(&product("88.118.8/P.8", "67-64-1")),
        )
        .await;
    assert_eq!((status, body["status"].as_i64()), (403, Some(-3)), "{body}");
    // The auditor reads the restricted contact of A's enterprise record; anonymous does not.
    let record = format!("/identityv2/data/detail?handle=88.118.8/E.{USCC_A}");
    let (_, body) = node.call("GET", &record, Some(&auditor), None).await;
    assert!(
        body["data"]["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["type"] == "contact" && v["auth"] == "admin")
    );
    let (_, body) = node.call("GET", &record, None, None).await;
    assert!(
        !body["data"]["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["type"] == "contact")
    );

    // A batch with good and bad items, and one item more than allowed.
    let batch = json!([
        product("88.118.8/P.b1", "67-64-1"),
        product("88.118.8/P.b2", "67-64-2"),
        product("88.118.8/P.b3", "64-17-5"),
        product("88.118.9/P.b4", "64-17-5"),
        {"handle": "88.118.8/P.b5"},
        product("88.118.8/P.b1", "67-64-1"),
    ]);
    let (status, body) = node
        .call(
            "POST",
            "/identityv2/data/batchCreate",
            Some(&ent_a),
            Some(&batch),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let results = body["data"].as_array().unwrap();
    assert_eq!(result_codes(&body), [1, -2, 1, -3, -2, 1], "{body}");
    assert_eq!(results[1]["handle"], "88.118.8/P.b2");
    assert!(
        results[1]["msg"]
            .as_str()
            .unwrap()
            .contains("CAS号 (casNo, index 2001)")
    );
    assert_eq!(body["message"], "3 succeeded, 3 failed");
    let too_many = Value::Array(vec![json!({}); 2001]);
    let (_, body) = node
        .call(
            "POST",
            "/identityv2/data/batchCreate",
            Some(&ent_a),
            Some(&too_many),
        )
        .await;
    assert_eq!(body["status"], -2);
    let update = json!([
        product("88.118.8/P.b1", "64-17-5"),
        product("88.118.8/P.nope", "64-17-5")
    ]);
    let (_, body) = node
        .call(
            "PUT",
            "/identityv2/data/batchUpdate",
            Some(&ent_a),
            Some(&update),
        )
        .await;
    assert_eq!(result_codes(&body), [1, -2]);
    let delete = json!(["88.118.8/P.b1", "88.118.8/P.missing", "88.118.8/P.b3"]);
    let (_, body) = node
        .call(
            "DELETE",
            "/identityv2/data/batchDelete",
            Some(&ent_a),
            Some(&delete),
        )
        .await;
    assert_eq!(result_codes(&body), [1, -2, 1]);
    let (_, body) = node
        .call(
            "DELETE",
            "/identityv2/data",
            Some(&ent_a),
            Some(&json!({"handle": "88.118.8/P.1"})),
        )
        .await;
    assert_eq!(body["status"], 1);

    // Templates: the enterprise may not publish node-wide ones, but may publish its own.
    let mut own: Value = serde_json::from_str(TEST_TEMPLATE).unwrap();
    own["name"] = json!("ent.a.test");
    let (_, body) = node
        .call("POST", "/snms/api/v5/template", Some(&ent_a), Some(&own))
        .await;
    assert_eq!(body["status"], -3, "{body}");
    own["prefix"] = json!("88.118.8");
    let (_, body) = node
        .call("POST", "/snms/api/v5/template", Some(&ent_a), Some(&own))
        .await;
    assert_eq!(body["status"], 1, "{body}");
    let (_, body) = node
        .call(
            "POST",
            "/snms/api/v5/template",
            Some(&ent_b),
            Some(&{
                let mut b = own.clone();
                b["name"] = json!("ent.b.test");
                b
            }),
        )
        .await;
    assert_eq!(body["status"], -3, "{body}");
    let (_, body) = node
        .call(
            "GET",
            "/snms/api/v5/template?name=hazchem.product",
            None,
            None,
        )
        .await;
    assert_eq!(body["data"]["template"]["name"], "hazchem.product");
    assert_eq!(body["data"]["industry"]["industrySubclass"], "2614");

    // The audit log: node administrator and auditor only.
    let (_, body) = node
        .call(
            "GET",
            "/snms/api/v5/audit?prefix=88.118.8&action=create&limit=1000",
            Some(&basic(NODE_ADMIN, NODE_ADMIN_SECRET)),
            None,
        )
        .await;
    assert_eq!(body["status"], 1, "{body}");
    let events = body["data"]["events"].as_array().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e["target"] == "88.118.8/P.b1" && e["actor"] == "300:88.118.8/ADMIN")
    );
    let (_, body) = node
        .call(
            "GET",
            "/snms/api/v5/audit?action=auditor_read",
            Some(&auditor),
            None,
        )
        .await;
    assert_eq!(
        body["data"]["events"].as_array().unwrap().len(),
        1,
        "{body}"
    );
    let (_, body) = node
        .call("GET", "/snms/api/v5/audit", Some(&ent_a), None)
        .await;
    assert_eq!(body["status"], -3);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_violations_through_every_write_interface() {
    let dir = TempDir::new().unwrap();
    seed(dir.path()).await;
    let report = dir.path().join("report.tsv");
    // Import: one row per bad value, plus one good row.
    let csv_path = dir.path().join("rows.csv");
    {
        let mut csv = String::from("suffix,name,");
        csv.push_str(
            &BAD.iter()
                .filter(|b| b.0 != 2000)
                .map(|b| b.1)
                .collect::<Vec<_>>()
                .join(","),
        );
        csv.push('\n');
        csv.push_str("GOOD,丙酮");
        csv.push_str(&",".repeat(BAD.len() - 1));
        csv.push('\n');
        for (i, (index, _, text, _)) in BAD.iter().enumerate() {
            csv.push_str(&format!("X{i},"));
            let mut cells = vec![String::new(); BAD.len()];
            cells[0] = "丙酮".into();
            let column = (*index - 2000) as usize;
            cells[column] = format!("\"{}\"", text.replace('"', "\"\""));
            csv.push_str(&cells.join(","));
            csv.push('\n');
        }
        std::fs::write(&csv_path, csv).unwrap();
    }
    let summary = import(
        config(dir.path()),
        &ImportOptions {
            template: "test.all".into(),
            prefix: Some("88.118.8".into()),
            file: csv_path.clone(),
            set: Vec::new(),
            report: Some(report.clone()),
            progress: false,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        (summary.rows, summary.created, summary.rejected),
        (19, 1, 18),
        "{summary:?}"
    );
    let text = std::fs::read_to_string(&report).unwrap();
    for (i, (_, _, _, expected)) in BAD.iter().enumerate() {
        let line = format!("{}\t88.118.8/X{i}\t", i + 3);
        let row = text
            .lines()
            .find(|l| l.starts_with(&line))
            .unwrap_or_else(|| panic!("no report line {line:?} in {text}"));
        assert!(row.contains(expected), "{row} lacks {expected}");
    }

    let node = Node::start(dir.path()).await;
    let ent_a = node.token("300:88.118.8/ADMIN", ENT_A_SECRET).await;
    let basic_a = basic("300:88.118.8/ADMIN", ENT_A_SECRET);
    for (index, id_type, text, expected) in BAD {
        // The handle.net REST API: the link is an ordinary value at index 1001.
        let mut values = vec![
            json!({"index": 1001, "type": "TEMPLATE", "data": {"format": "string", "value": "test.all@1"}}),
            json!({"index": 2000, "type": "name", "data": {"format": "string", "value": "丙酮"}}),
        ];
        if index == 2000 {
            values.pop();
        }
        values.push(
            json!({"index": index, "type": id_type, "data": {"format": "string", "value": text}}),
        );
        let (status, body) = node
            .call(
                "PUT",
                "/api/handles/88.118.8/R1",
                Some(&basic_a),
                Some(&json!({"values": values})),
            )
            .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["responseCode"], 202);
        assert!(
            body["message"].as_str().unwrap().contains(expected),
            "{body} lacks {expected}"
        );

        // The SNMS API.
        let mut items = vec![(2000, "name", "丙酮")];
        if index == 2000 {
            items.clear();
        }
        items.push((index, id_type, text));
        let (status, body) = node
            .call(
                "POST",
                "/identityv2/data",
                Some(&ent_a),
                Some(&snms_item("88.118.8/S1", "test.all@1", &items)),
            )
            .await;
        assert_eq!((status, body["status"].as_i64()), (400, Some(-2)), "{body}");
        assert!(
            body["message"].as_str().unwrap().contains(expected),
            "{body} lacks {expected}"
        );

        // The native Handle protocol: CREATE over TCP, authenticated by challenge-response.
        let mut values = vec![
            HandleValue::new(1001, "TEMPLATE", b"test.all@1".to_vec()),
            HandleValue::new(2000, "name", "丙酮".as_bytes().to_vec()),
        ];
        if index == 2000 {
            values.pop();
        }
        values.push(HandleValue::new(index, id_type, text.as_bytes().to_vec()));
        let message = native_support::request(
            native_support::create("88.118.8/N1", values),
            idnode_proto::wire::OpFlags::default(),
            index,
            0,
        );
        let mut tcp = native_support::Tcp::connect_to(node.native).await;
        let admin = ValueRef {
            handle: "88.118.8/ADMIN".into(),
            index: 300,
        };
        let answer = tcp.call_as(&message, &admin, ENT_A_SECRET.as_bytes()).await;
        assert_eq!(
            native_support::rc(&answer),
            idnode_proto::ResponseCode::InvalidValue
        );
        let idnode_proto::wire::Body::Error {
            message: Some(text),
        } = &answer.body
        else {
            panic!("no error message: {answer:?}");
        };
        assert!(text.contains(expected), "{text} lacks {expected}");
    }
    // Nothing bad was stored through any interface.
    let (status, _) = node
        .call("GET", "/api/handles/88.118.8/N1", None, None)
        .await;
    assert_eq!(status, 404);
    let (status, _) = node
        .call("GET", "/api/handles/88.118.8/R1", None, None)
        .await;
    assert_eq!(status, 404);
    // The import fails clearly while the node holds the database.
    let error = import(
        config(dir.path()),
        &ImportOptions {
            template: "test.all".into(),
            prefix: Some("88.118.8".into()),
            file: csv_path,
            set: Vec::new(),
            report: None,
            progress: false,
        },
    )
    .await
    .unwrap_err();
    assert!(format!("{error:#}").contains("in use"), "{error:#}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onboarding_over_http() {
    let dir = TempDir::new().unwrap();
    seed(dir.path()).await;
    let node = Node::start(dir.path()).await;
    let admin = basic(NODE_ADMIN, NODE_ADMIN_SECRET);
    let uscc = "91350100MA10000021";
    let app = json!({"uscc": uscc, "orgName": "第三化工", "industryCode": "C2614", "regionCode": "350100",
                     "address": "福州", "prefix": "88.118.10"});
    let (_, body) = node
        .call("POST", "/snms/api/v3/ent/apply", None, Some(&app))
        .await;
    assert_eq!(
        (body["status"].as_i64(), body["data"]["stateCode"].as_i64()),
        (Some(1), Some(4)),
        "{body}"
    );
    // Enterprises cannot review.
    let ent_a = node.token("300:88.118.8/ADMIN", ENT_A_SECRET).await;
    let (_, body) = node
        .call(
            "POST",
            "/snms/api/v3/ent/review",
            Some(&ent_a),
            Some(&json!({"uscc": uscc, "action": "approve"})),
        )
        .await;
    assert_eq!(body["status"], -3);
    let (_, body) = node
        .call(
            "POST",
            "/snms/api/v3/ent/review",
            Some(&admin),
            Some(&json!({"uscc": uscc, "action": "reject", "reason": "材料不全"})),
        )
        .await;
    assert_eq!(
        (
            body["data"]["state"].as_str(),
            body["data"]["reason"].as_str()
        ),
        (Some("rejected"), Some("材料不全")),
        "{body}"
    );
    let (_, body) = node
        .call("POST", "/snms/api/v3/ent/apply", None, Some(&app))
        .await;
    assert_eq!(body["status"], 1, "{body}");
    let (_, body) = node
        .call(
            "POST",
            "/snms/api/v3/ent/review",
            Some(&admin),
            Some(&json!({"uscc": uscc, "action": "approve"})),
        )
        .await;
    assert_eq!(body["data"]["stateCode"], 1, "{body}");
    let secret = body["data"]["adminSecret"].as_str().unwrap().to_owned();
    let token = node.token("300:88.118.10/ADMIN", &secret).await;
    let (_, body) = node
        .call(
            "GET",
            &format!("/snms/api/v3/ent/detail?uscc={uscc}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(body["data"]["admin"], "300:88.118.10/ADMIN");
    let (_, body) = node
        .call(
            "GET",
            "/snms/api/prefix/query?prefix=88.118.10",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(body["data"]["uscc"], uscc);
    let (_, body) = node
        .call(
            "GET",
            "/snms/api/v3/ent/page?state=enabled",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(body["data"]["total"], 3);
    // Disabling makes the token useless.
    let (_, body) = node
        .call(
            "POST",
            "/snms/api/v3/ent/review",
            Some(&admin),
            Some(&json!({"uscc": uscc, "action": "disable", "reason": "停业"})),
        )
        .await;
    assert_eq!(body["data"]["state"], "disabled");
    let (status, _) = node
        .call(
            "GET",
            &format!("/snms/api/v3/ent/detail?uscc={uscc}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 401);
    node.stop().await;
}

fn chemicals_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/chemicals.csv")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn importing_the_chemicals_file_is_idempotent() {
    let dir = TempDir::new().unwrap();
    seed(dir.path()).await;
    // The first 2000 rows of the real file.
    let text = std::fs::read_to_string(chemicals_file()).unwrap();
    let subset: String = text.lines().take(2001).map(|l| format!("{l}\n")).collect();
    let path = dir.path().join("chemicals.csv");
    std::fs::write(&path, subset).unwrap();
    let options = ImportOptions {
        template: "hazchem.product".into(),
        prefix: Some("88.118.8".into()),
        file: path,
        set: vec![("manufacturer".into(), format!("88.118.8/E.{USCC_A}"))],
        report: None,
        progress: false,
    };
    let first = import(config(dir.path()), &options).await.unwrap();
    assert_eq!(first.rows, 2000);
    assert_eq!(first.created + first.rejected, 2000);
    assert!(first.created > 1990, "{first:?}");
    let second = import(config(dir.path()), &options).await.unwrap();
    assert_eq!(
        (second.unchanged, second.created, second.updated),
        (first.created, 0, 0),
        "{second:?}"
    );

    let node = Node::start(dir.path()).await;
    let (_, body) = node
        .call(
            "GET",
            "/identityv2/data/detail?handle=88.118.8/P.50-00-0",
            None,
            None,
        )
        .await;
    let values = body["data"]["value"].as_array().unwrap();
    assert!(
        values
            .iter()
            .any(|v| v["type"] == "productName" && v["data"]["value"] == "甲醛"),
        "{body}"
    );
    assert!(
        values
            .iter()
            .any(|v| v["type"] == "productNameEn" && v["data"]["value"] == "formaldehyde")
    );
    node.stop().await;
}
