//! The batch path: [`Resolver::handle_batch`] gives every request the result it gets when the
//! requests run one by one through [`Resolver::handle`], writes exactly the requests that
//! succeed, and audits them one by one or in a summary.

mod common;

use common::{Counter, NOW, TestSealer, h};

use idnode_proto::{
    AdminPerms, AdminRecord, HandleValue, Permissions, Record, TypeFilter, ValueList, ValueRef,
    types,
};
use idnode_registry::{Expect, MemStore, Mutation, RedbStore, Store, WriteBatch};
use idnode_resolver::{
    AuditQuery, BatchSummary, Config, Failure, Identity, Operation, Outcome, Request, Resolver,
};
use idnode_templates::Template;

fn id(text: &str) -> Identity {
    Identity(ValueRef::parse(text).unwrap())
}

fn node_admin() -> Identity {
    id("300:88.118/NODE")
}

/// Holds ADD_HANDLE on `0.NA/88.118.8` directly.
fn enterprise() -> Identity {
    id("300:88.118.8/ENT")
}

/// Holds nothing, until a request of the batch adds it to `88.118.8/GROUP`.
fn newcomer() -> Identity {
    id("300:88.118.8/NEW")
}

fn admin(handle: &str, index: u32, perms: u16) -> HandleValue {
    let record = AdminRecord {
        perms: AdminPerms(perms),
        admin: ValueRef {
            handle: handle.into(),
            index,
        },
    };
    HandleValue::new(100, types::HS_ADMIN, record.to_bytes())
}

fn group(members: &[&Identity]) -> HandleValue {
    let list = ValueList(members.iter().map(|m| m.0.clone()).collect());
    HandleValue::new(200, types::HS_VLIST, list.to_bytes())
}

const TEMPLATE: &str = r#"{"name":"test.batch","version":1,"industryCode":"C2614","items":[
 {"name":"名称","idType":"name","idIndex":2000,"required":true,"constraint":{"type":"string","minLength":1,"maxLength":8}},
 {"name":"生产企业","idType":"producer","idIndex":2001,"required":false,"constraint":{"type":"handleRef"}}
]}"#;

/// A product under the test template.
fn product(name: &str, producer: Option<&str>) -> Vec<HandleValue> {
    let mut values = vec![
        HandleValue::new(1001, "TEMPLATE", "test.batch@1"),
        HandleValue::new(2000, "name", name),
    ];
    if let Some(producer) = producer {
        values.push(HandleValue::new(2001, "producer", producer));
    }
    values
}

/// The same node every time: `88.118` homed, a node administrator from the configuration, the
/// prefix handle `0.NA/88.118.8` granting ADD_HANDLE to the enterprise and to the members of
/// `88.118.8/GROUP`, an existing product, and the test template.
async fn node<S: Store>(store: S) -> Resolver<S> {
    let mut prefix_values = vec![
        admin("88.118.8/ENT", 300, AdminPerms::ALL.0),
        admin("88.118.8/GROUP", 200, AdminPerms::ADD_HANDLE),
    ];
    prefix_values[1].index = 101;
    let mut group_values = vec![admin("88.118.8/ENT", 300, AdminPerms::ALL.0), group(&[])];
    group_values[1].permissions = Permissions::default();
    let mutations = vec![
        Mutation::HomePrefix {
            prefix: "88.118".into(),
        },
        put("0.NA/88.118.8", &prefix_values),
        put("88.118.8/GROUP", &group_values),
        put(
            "88.118.8/OLD",
            &[
                HandleValue::new(1001, "TEMPLATE", "test.batch@1"),
                HandleValue::new(2000, "name", "旧"),
            ],
        ),
    ];
    store.commit(WriteBatch { mutations }).await.unwrap();
    let config = Config {
        server_admins: vec![node_admin().0],
        ..Config::default()
    };
    let node = Resolver::new(
        store,
        config,
        Box::new(Counter::new()),
        Box::new(TestSealer),
    );
    node.create_template(
        Some(&node_admin()),
        Template::from_json(TEMPLATE).unwrap(),
        NOW,
    )
    .await
    .unwrap();
    node
}

fn put(handle: &str, values: &[HandleValue]) -> Mutation {
    Mutation::PutHandle {
        handle: handle.into(),
        values: Record::encode(values),
        expect: Expect::Any,
    }
}

fn create(
    who: Option<Identity>,
    handle: &str,
    values: Vec<HandleValue>,
    overwrite: bool,
) -> Request {
    Request {
        op: Operation::Create {
            handle: h(handle),
            values,
            overwrite,
        },
        identity: who,
        now: NOW,
    }
}

/// Good rows, template violations, duplicates (of stored handles and of earlier rows),
/// permission failures, unhomed prefixes, missing credentials, and rows whose outcome depends
/// on an earlier row: a handle reference to a product created earlier, a replacement of an
/// earlier row, permissions granted by an earlier row, and a read between writes.
fn mixed_requests() -> Vec<Request> {
    let ent = Some(enterprise());
    vec![
        create(ent.clone(), "88.118.8/A", product("甲", None), false),
        create(
            ent.clone(),
            "88.118.8/TOOLONG",
            product("名称太长了不能通过", None),
            false,
        ),
        create(ent.clone(), "88.118.8/OLD", product("旧", None), false),
        create(
            Some(newcomer()),
            "88.118.8/DENIED",
            product("拒", None),
            false,
        ),
        create(ent.clone(), "88.118.8/B", product("乙", None), false),
        create(ent.clone(), "88.118.8/a", product("甲二", None), false),
        create(ent.clone(), "88.118.8/MAKER", product("厂", None), false),
        create(
            ent.clone(),
            "88.118.8/P1",
            product("品", Some("88.118.8/MAKER")),
            false,
        ),
        create(
            ent.clone(),
            "88.118.8/P2",
            product("品", Some("88.118.8/NOBODY")),
            false,
        ),
        create(ent.clone(), "99.9/X", product("外", None), false),
        create(None, "88.118.8/ANON", product("匿", None), false),
        Request {
            op: Operation::Resolve {
                handle: h("88.118.8/A"),
                filter: TypeFilter::default(),
                public_only: true,
                refer: true,
                recurse: None,
            },
            identity: None,
            now: NOW,
        },
        create(ent.clone(), "88.118.8/B", product("乙二", None), true),
        create(
            ent.clone(),
            "88.118.8/C",
            vec![HandleValue::new(0, "x", "y")],
            false,
        ),
        create(
            ent.clone(),
            "88.118.8/GROUP",
            vec![
                admin("88.118.8/ENT", 300, AdminPerms::ALL.0),
                group(&[&newcomer()]),
            ],
            true,
        ),
        create(
            Some(newcomer()),
            "88.118.8/GRANTED",
            product("准", None),
            false,
        ),
        create(ent.clone(), "88.118.8/D", product("丁", None), false),
        create(ent, "88.118.8/D", product("丁", None), false),
    ]
}

/// What a result says, comparable across runs.
fn summary(result: &Result<Outcome, Failure>) -> String {
    match result {
        Ok(outcome) => format!("{outcome:?}"),
        Err(failure) => format!("{:?}: {}", failure.rc, failure.message),
    }
}

/// Every handle under `88.118.8` with its decoded values.
fn contents<S: Store>(node: &Resolver<S>) -> Vec<(String, Vec<HandleValue>)> {
    node.danger_store()
        .list_handles("88.118.8", 0, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|handle| {
            let stored = node
                .danger_store()
                .get(&idnode_proto::normalize(&handle))
                .unwrap()
                .unwrap();
            let values = Record::parse(&stored.values).unwrap().decode_all().unwrap();
            (handle, values)
        })
        .collect()
}

async fn one_by_one<S: Store>(node: &Resolver<S>) -> Vec<String> {
    let mut results = Vec::new();
    for request in mixed_requests() {
        results.push(summary(&node.handle(request).await));
    }
    results
}

fn audit_actions<S: Store>(node: &Resolver<S>) -> Vec<(String, String, String)> {
    let page = node
        .audit_log(
            Some(&node_admin()),
            &AuditQuery {
                limit: 1000,
                ..AuditQuery::default()
            },
        )
        .unwrap();
    page.events
        .into_iter()
        .map(|e| (e.actor, e.action, e.target))
        .collect()
}

#[tokio::test]
async fn a_batch_gives_every_row_its_result_alone_and_writes_exactly_the_good_ones() {
    let alone = node(MemStore::new()).await;
    let expected = one_by_one(&alone).await;
    let batched = node(MemStore::new()).await;
    let results = batched.handle_batch(&mixed_requests(), None).await;
    let results: Vec<String> = results.iter().map(summary).collect();
    assert_eq!(results, expected);

    // The outcomes are the interesting ones.
    let rc = |i: usize| expected[i].split(':').next().unwrap().to_owned();
    assert!(expected[0].starts_with("Done"), "{}", expected[0]);
    assert_eq!(rc(1), "InvalidValue");
    assert_eq!(rc(2), "HandleAlreadyExists");
    assert_eq!(rc(3), "InvalidAdmin");
    assert_eq!(rc(5), "HandleAlreadyExists");
    assert!(expected[7].starts_with("Done"), "{}", expected[7]);
    assert_eq!(rc(8), "InvalidValue");
    assert_eq!(rc(9), "ServerNotResponsible");
    assert_eq!(rc(10), "AuthenticationNeeded");
    assert!(expected[11].starts_with("Values"), "{}", expected[11]);
    assert!(expected[12].contains("created: false"), "{}", expected[12]);
    assert_eq!(rc(13), "InvalidValue");
    assert!(expected[15].starts_with("Done"), "{}", expected[15]);
    assert_eq!(rc(17), "HandleAlreadyExists");

    // The same records, and the same audit entries, as one by one.
    assert_eq!(contents(&batched), contents(&alone));
    let written: Vec<String> = contents(&batched).into_iter().map(|(h, _)| h).collect();
    assert_eq!(
        written,
        [
            "88.118.8/A",
            "88.118.8/B",
            "88.118.8/D",
            "88.118.8/GRANTED",
            "88.118.8/GROUP",
            "88.118.8/MAKER",
            "88.118.8/OLD",
            "88.118.8/P1"
        ]
    );
    assert_eq!(audit_actions(&batched), audit_actions(&alone));
}

#[tokio::test]
async fn a_summarised_batch_audits_what_it_wrote_in_one_entry_per_segment() {
    let dir = tempfile::tempdir().unwrap();
    let alone = node(MemStore::new()).await;
    let expected = one_by_one(&alone).await;
    let batched = node(RedbStore::open(&dir.path().join("db.redb")).unwrap()).await;
    let import = BatchSummary {
        action: "import".into(),
        source: "rows.csv".into(),
    };
    let results = batched.handle_batch(&mixed_requests(), Some(&import)).await;
    let results: Vec<String> = results.iter().map(summary).collect();
    assert_eq!(results, expected);
    assert_eq!(contents(&batched), contents(&alone));

    // No entry per created handle: summaries name every handle written through them.
    let page = batched
        .audit_log(
            Some(&node_admin()),
            &AuditQuery {
                limit: 1000,
                action: Some("import".into()),
                ..AuditQuery::default()
            },
        )
        .unwrap();
    assert!(
        audit_actions(&batched)
            .iter()
            .all(|(_, action, _)| action != "create" && action != "replace"),
        "{:?}",
        audit_actions(&batched)
    );
    let mut named = Vec::new();
    for event in &page.events {
        assert_eq!(event.target, "import:rows.csv");
        assert_eq!(event.prefix, "88.118.8");
        assert_eq!(event.at, NOW);
        let (counts, handles) = event.detail.split_once(": ").unwrap();
        let handles: Vec<&str> = handles.split(' ').collect();
        assert!(
            counts.starts_with(&format!("{} handles", handles.len())),
            "{counts}"
        );
        named.extend(handles.into_iter().map(str::to_owned));
    }
    named.sort();
    named.dedup();
    let mut written: Vec<String> = contents(&batched)
        .into_iter()
        .map(|(h, _)| h)
        .filter(|h| h != "88.118.8/OLD")
        .collect();
    written.sort();
    assert_eq!(named, written);
    // Rows that depend on earlier rows split the batch into several transactions.
    assert!(page.events.len() > 1);
}

#[tokio::test]
async fn a_large_batch_of_good_rows_commits_together() {
    let dir = tempfile::tempdir().unwrap();
    let node = node(RedbStore::open(&dir.path().join("db.redb")).unwrap()).await;
    let before = node.danger_store().stats().transactions;
    let requests: Vec<Request> = (0..2000)
        .map(|i| {
            create(
                Some(enterprise()),
                &format!("88.118.8/R{i}"),
                product("品", Some("88.118.8/OLD")),
                false,
            )
        })
        .collect();
    let import = BatchSummary {
        action: "import".into(),
        source: "many.csv".into(),
    };
    let results = node.handle_batch(&requests, Some(&import)).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(node.danger_store().count_handles("88.118.8").unwrap(), 2002);
    assert_eq!(node.danger_store().stats().transactions - before, 1);
}
