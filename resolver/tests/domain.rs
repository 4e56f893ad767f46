//! The domain steps of the pipeline over an in-memory store: template validation of every
//! constraint type through every write operation, template versions, the audit log, auditors,
//! and enterprise onboarding with its role limits.

mod common;

use common::{Counter, NOW, TestSealer, h};

use idnode_proto::{HandleValue, Permissions, Record, ResponseCode, TypeFilter, ValueRef};
use idnode_registry::{MemStore, Mutation, Store, WriteBatch};
use idnode_resolver::{
    Application, AuditQuery, Config, EntState, Failure, Identity, Operation, Outcome, Request,
    Resolver, Review,
};
use idnode_templates::Template;

fn id(text: &str) -> Identity {
    Identity(ValueRef::parse(text).unwrap())
}

fn node_admin() -> Identity {
    id("300:88.118/NODE")
}

fn auditor() -> Identity {
    id("300:88.118/AUDITOR")
}

/// A node homing the secondary prefix `88.118`, with a node administrator and an auditor from
/// the configuration.
async fn node() -> Resolver<MemStore> {
    let store = MemStore::new();
    store
        .commit(WriteBatch {
            mutations: vec![Mutation::HomePrefix {
                prefix: "88.118".into(),
            }],
        })
        .await
        .unwrap();
    let config = Config {
        server_admins: vec![node_admin().0],
        auditors: vec![auditor().0],
        ..Config::default()
    };
    Resolver::new(
        store,
        config,
        Box::new(Counter::new()),
        Box::new(TestSealer),
    )
}

async fn run(
    node: &Resolver<MemStore>,
    op: Operation,
    who: Option<&Identity>,
) -> Result<Outcome, Failure> {
    node.handle(Request {
        op,
        identity: who.cloned(),
        now: NOW,
    })
    .await
}

fn create(handle: &str, values: Vec<HandleValue>) -> Operation {
    Operation::Create {
        handle: h(handle),
        values,
        overwrite: false,
    }
}

/// A template with one item of every constraint type.
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
 {"name":"关联批次","idType":"batches","idIndex":2017,"required":false,"constraint":{"type":"list","of":{"type":"handleRef"},"minItems":1,"maxItems":3}},
 {"name":"旧字段","idType":"legacy","idIndex":2018,"required":false,"enabled":false,"constraint":{"type":"string"}}
]}"#;

/// The good text of every item of [`TEST_TEMPLATE`]; handle references name `88.118/REF`.
const GOOD: [(u32, &str, &str); 18] = [
    (2000, "name", "丙酮"),
    (2001, "qty", "42"),
    (2002, "productionDate", "2024-06-01"),
    (2003, "unit", "kg"),
    (2004, "producer", "88.118/REF"),
    (2005, "homepage", "https://example.com/"),
    (2006, "sds", "88.118/REF"),
    (2007, "cas", "67-64-1"),
    (2008, "uscc", "91350100M000100Y43"),
    (2009, "unNo", "UN1090"),
    (2010, "cnDgNo", "31025"),
    (2011, "regionCode", "350100"),
    (2012, "industryCode", "C2614"),
    (2013, "hazards", r#"["H225","H319"]"#),
    (2014, "packingGroup", "II"),
    (2015, "plate", "闽A1234挂"),
    (2016, "waybillNo", "350100202406010001"),
    (2017, "batches", r#"["88.118/REF"]"#),
];

/// One bad text per constraint type, with a part of the expected message.
const BAD: [(u32, &str, &str); 19] = [
    (
        2000,
        "丙酮123",
        "名称 (name, index 2000): does not match the pattern",
    ),
    (2001, "4.5", "数量 (qty, index 2001): expected an integer"),
    (
        2002,
        "2099-01-01",
        "生产日期 (productionDate, index 2002): 2099-01-01 is later than today",
    ),
    (2003, "吨", "单位 (unit, index 2003): not one of kg, t"),
    (
        2004,
        "88.118/MISSING",
        "生产企业 (producer, index 2004): the handle 88.118/MISSING does not exist",
    ),
    (
        2005,
        "www.example.com",
        "网址 (homepage, index 2005): expected an absolute http:// or https:// URL",
    ),
    (
        2006,
        "sds.pdf",
        "安全技术说明书 (sds, index 2006): neither an http(s) URL nor a handle",
    ),
    (
        2007,
        "67-64-2",
        "CAS号 (cas, index 2007): check digit does not match",
    ),
    (
        2008,
        "91350100M000100Y44",
        "统一社会信用代码 (uscc, index 2008): check digit does not match",
    ),
    (
        2009,
        "UN109",
        "UN号 (unNo, index 2009): expected a UN number",
    ),
    (
        2010,
        "01025",
        "危规号 (cnDgNo, index 2010): the first digit of a 危规号 is the class",
    ),
    (
        2011,
        "990100",
        "行政区划代码 (regionCode, index 2011): the first two digits are not a GB/T 2260 province code",
    ),
    (
        2012,
        "C26",
        "行业代码 (industryCode, index 2012): expected a four-level GB/T 4754-2017 class",
    ),
    (
        2013,
        r#"["H225","H999"]"#,
        "危险说明 (hazards, index 2013): element 2 (\"H999\"): not a GHS hazard statement code",
    ),
    (
        2014,
        "IV",
        "包装类别 (packingGroup, index 2014): expected a packing group",
    ),
    (
        2015,
        "闽A123",
        "车牌号 (plate, index 2015): expected a Chinese vehicle plate",
    ),
    (
        2016,
        "350100-2024",
        "电子运单号 (waybillNo, index 2016): expected an e-waybill number",
    ),
    (
        2017,
        r#"["88.118/REF","88.118/NOPE"]"#,
        "关联批次 (batches, index 2017): element 2 (\"88.118/NOPE\"): the handle 88.118/NOPE does not exist",
    ),
    (
        2017,
        "[]",
        "关联批次 (batches, index 2017): fewer than 1 elements",
    ),
];

fn link(text: &str) -> HandleValue {
    HandleValue::new(1001, "TEMPLATE", text)
}

fn good_values() -> Vec<HandleValue> {
    let mut values = vec![link("test.all@1")];
    values.extend(
        GOOD.iter()
            .map(|(index, id_type, text)| HandleValue::new(*index, *id_type, *text)),
    );
    values
}

fn with(values: &[HandleValue], index: u32, text: &str) -> Vec<HandleValue> {
    values
        .iter()
        .cloned()
        .map(|mut v| {
            if v.index == index {
                v.data = text.as_bytes().to_vec();
            }
            v
        })
        .collect()
}

fn assert_invalid(result: Result<Outcome, Failure>, expected: &str) {
    match result {
        Err(f) => {
            assert_eq!(f.rc, ResponseCode::InvalidValue, "{f:?}");
            assert!(
                f.message.contains(expected),
                "{:?} lacks {expected:?}",
                f.message
            );
        }
        Ok(outcome) => panic!("expected RC 202 with {expected:?}, got {outcome:?}"),
    }
}

/// A node with the test template and the referenced handle `88.118/REF`.
async fn templated_node() -> Resolver<MemStore> {
    let node = node().await;
    let template = Template::from_json(TEST_TEMPLATE).unwrap();
    node.create_template(Some(&node_admin()), template, NOW)
        .await
        .unwrap();
    run(
        &node,
        create(
            "88.118/REF",
            vec![HandleValue::new(1, "URL", "https://example.com/")],
        ),
        Some(&node_admin()),
    )
    .await
    .unwrap();
    node
}

#[tokio::test]
async fn every_constraint_type_is_enforced_on_every_write_operation() {
    let node = templated_node().await;
    let admin = node_admin();
    // A good record is accepted.
    run(&node, create("88.118/GOOD", good_values()), Some(&admin))
        .await
        .unwrap();
    for (index, bad, expected) in BAD {
        let values = with(&good_values(), index, bad);
        // Create.
        assert_invalid(
            run(&node, create("88.118/NEW", values.clone()), Some(&admin)).await,
            expected,
        );
        // Create with overwrite (replace).
        assert_invalid(
            run(
                &node,
                Operation::Create {
                    handle: h("88.118/GOOD"),
                    values: values.clone(),
                    overwrite: true,
                },
                Some(&admin),
            )
            .await,
            expected,
        );
        let one = vec![HandleValue::new(
            index,
            GOOD.iter().find(|g| g.0 == index).unwrap().1,
            bad,
        )];
        // Add with overwrite, and modify.
        assert_invalid(
            run(
                &node,
                Operation::AddValues {
                    handle: h("88.118/GOOD"),
                    values: one.clone(),
                    overwrite: true,
                },
                Some(&admin),
            )
            .await,
            expected,
        );
        assert_invalid(
            run(
                &node,
                Operation::ModifyValues {
                    handle: h("88.118/GOOD"),
                    values: one,
                },
                Some(&admin),
            )
            .await,
            expected,
        );
    }
    // Nothing was created or changed.
    assert!(
        node.danger_store()
            .get(&h("88.118/NEW").key())
            .unwrap()
            .is_none()
    );
    let Outcome::Values { values, .. } = run(
        &node,
        Operation::Resolve {
            handle: h("88.118/GOOD"),
            filter: TypeFilter::default(),
            public_only: true,
            refer: true,
            recurse: None,
        },
        None,
    )
    .await
    .unwrap() else {
        panic!("not values")
    };
    let record = Record::parse(&values).unwrap().decode_all().unwrap();
    assert_eq!(
        record.iter().find(|v| v.index == 2000).unwrap().data,
        "丙酮".as_bytes()
    );
}

#[tokio::test]
async fn structural_rules_and_the_link() {
    let node = templated_node().await;
    let admin = node_admin();
    let good = good_values();
    // A required item is missing; an index no item defines; a disabled item.
    let missing: Vec<HandleValue> = good.iter().filter(|v| v.index != 2000).cloned().collect();
    assert_invalid(
        run(&node, create("88.118/X", missing), Some(&admin)).await,
        "名称 (name, index 2000): required item is missing",
    );
    let mut extra = good.clone();
    extra.push(HandleValue::new(2100, "extra", "x"));
    assert_invalid(
        run(&node, create("88.118/X", extra), Some(&admin)).await,
        "(extra, index 2100): no item of template test.all@1 has this index",
    );
    // The link itself: another type at 1001, an unknown template, a malformed link.
    let mut wrong_type = with(&good, 1001, "test.all@1");
    wrong_type[0].value_type = "URL".into();
    assert_invalid(
        run(&node, create("88.118/X", wrong_type), Some(&admin)).await,
        "index 1001 is reserved for the TEMPLATE link",
    );
    assert_invalid(
        run(
            &node,
            create("88.118/X", with(&good, 1001, "nope@1")),
            Some(&admin),
        )
        .await,
        "template nope@1 does not exist",
    );
    assert_invalid(
        run(
            &node,
            create("88.118/X", with(&good, 1001, "test.all")),
            Some(&admin),
        )
        .await,
        "the link must be name@version",
    );
    // A templated record cannot drop its link.
    run(&node, create("88.118/G2", good.clone()), Some(&admin))
        .await
        .unwrap();
    assert_invalid(
        run(
            &node,
            Operation::RemoveValues {
                handle: h("88.118/G2"),
                indexes: vec![1001],
            },
            Some(&admin),
        )
        .await,
        "cannot be removed",
    );
    // Removing a required item is a violation too.
    assert_invalid(
        run(
            &node,
            Operation::RemoveValues {
                handle: h("88.118/G2"),
                indexes: vec![2000],
            },
            Some(&admin),
        )
        .await,
        "required item is missing",
    );
    // Records without a link are not checked.
    run(
        &node,
        create(
            "88.118/PLAIN",
            vec![HandleValue::new(2000, "anything", "123")],
        ),
        Some(&admin),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn disabled_items_are_rejected() {
    let node = templated_node().await;
    let mut disabled = good_values();
    disabled.push(HandleValue::new(2018, "legacy", "x"));
    assert_invalid(
        run(&node, create("88.118/X", disabled), Some(&node_admin())).await,
        "旧字段 (legacy, index 2018): the item is disabled",
    );
}

#[tokio::test]
async fn template_versions_and_their_rights() {
    let node = node().await;
    let admin = node_admin();
    // Built-in templates are there before anything is stored.
    let product = node.template("hazchem.product", None).unwrap().unwrap();
    assert_eq!(product.template.version, 1);
    assert_eq!(node.templates(None).unwrap().len(), 5);
    assert_eq!(node.install_builtin_templates(NOW).await.unwrap(), 5);
    assert_eq!(node.install_builtin_templates(NOW).await.unwrap(), 0);

    let template = Template::from_json(TEST_TEMPLATE).unwrap();
    // Only node administrators manage node-wide templates; auditors may not.
    for who in [None, Some(auditor()), Some(id("300:88.118.8/ADMIN"))] {
        assert!(
            node.create_template(who.as_ref(), template.clone(), NOW)
                .await
                .is_err()
        );
    }
    node.create_template(Some(&admin), template.clone(), NOW)
        .await
        .unwrap();
    let again = node
        .create_template(Some(&admin), template.clone(), NOW)
        .await
        .unwrap_err();
    assert_eq!(again.rc, ResponseCode::HandleAlreadyExists);

    // Narrowing a constraint is refused; adding an item makes version 2.
    let mut narrowed = template.clone();
    narrowed.items[0].constraint = idnode_templates::Constraint::Cas;
    let refused = node
        .evolve_template(Some(&admin), narrowed, NOW)
        .await
        .unwrap_err();
    assert_eq!(refused.rc, ResponseCode::InvalidValue);
    let mut added = template.clone();
    added.items.push(idnode_templates::Item {
        name: "备注".into(),
        id_type: "note".into(),
        index: 2019,
        required: false,
        enabled: true,
        indexed: false,
        constraint: idnode_templates::Constraint::Url,
    });
    let v2 = node
        .evolve_template(Some(&admin), added, NOW)
        .await
        .unwrap();
    assert_eq!(v2.template.version, 2);
    assert_eq!(
        node.template("test.all", None)
            .unwrap()
            .unwrap()
            .template
            .version,
        2
    );
    assert_eq!(
        node.template("test.all", Some(1))
            .unwrap()
            .unwrap()
            .template
            .items
            .len(),
        19
    );

    // Withdrawing version 1 stops writes under it.
    run(
        &node,
        create(
            "88.118/REF",
            vec![HandleValue::new(1, "URL", "https://example.com/")],
        ),
        Some(&admin),
    )
    .await
    .unwrap();
    node.withdraw_template(Some(&admin), "test.all", 1, NOW)
        .await
        .unwrap();
    assert_invalid(
        run(&node, create("88.118/X", good_values()), Some(&admin)).await,
        "template test.all@1 is withdrawn",
    );
    run(
        &node,
        create("88.118/X", with(&good_values(), 1001, "test.all@2")),
        Some(&admin),
    )
    .await
    .unwrap();

    // A prefix's own template is usable only under that prefix.
    let mut owned = template.clone();
    owned.name = "ent.own".into();
    owned.prefix = Some("88.118.9".into());
    node.create_template(Some(&admin), owned, NOW)
        .await
        .unwrap();
    assert_invalid(
        run(
            &node,
            create("88.118/Y", with(&good_values(), 1001, "ent.own@1")),
            Some(&admin),
        )
        .await,
        "belongs to prefix 88.118.9",
    );
}

#[tokio::test]
async fn writes_are_audited_and_the_log_is_queryable() {
    let node = templated_node().await;
    let admin = node_admin();
    run(&node, create("88.118/GOOD", good_values()), Some(&admin))
        .await
        .unwrap();
    run(
        &node,
        Operation::Delete {
            handle: h("88.118/GOOD"),
        },
        Some(&admin),
    )
    .await
    .unwrap();
    // A failed write leaves no audit entry.
    let _ = run(
        &node,
        create("88.118/BAD", vec![link("nope@1")]),
        Some(&admin),
    )
    .await;

    let all = node
        .audit_log(
            Some(&admin),
            &AuditQuery {
                limit: 100,
                ..AuditQuery::default()
            },
        )
        .unwrap();
    let actions: Vec<(&str, &str)> = all
        .events
        .iter()
        .map(|e| (e.action.as_str(), e.target.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("template_create", "template:test.all@1"),
            ("create", "88.118/REF"),
            ("create", "88.118/GOOD"),
            ("delete", "88.118/GOOD"),
        ]
    );
    assert!(all.events.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(all.events.iter().all(|e| e.at == NOW));

    let by_prefix = node
        .audit_log(
            Some(&auditor()),
            &AuditQuery {
                prefix: Some("88.118".into()),
                action: Some("delete".into()),
                limit: 100,
                ..AuditQuery::default()
            },
        )
        .unwrap();
    assert_eq!(by_prefix.events.len(), 1);
    let by_actor = node
        .audit_log(
            Some(&admin),
            &AuditQuery {
                actor: Some("300:88.118/NOBODY".into()),
                limit: 100,
                ..AuditQuery::default()
            },
        )
        .unwrap();
    assert!(by_actor.events.is_empty());
    let later = node
        .audit_log(
            Some(&admin),
            &AuditQuery {
                from: Some(NOW + 1),
                limit: 100,
                ..AuditQuery::default()
            },
        )
        .unwrap();
    assert!(later.events.is_empty());
    // Paging with a cursor.
    let first = node
        .audit_log(
            Some(&admin),
            &AuditQuery {
                limit: 3,
                ..AuditQuery::default()
            },
        )
        .unwrap();
    assert_eq!(first.events.len(), 3);
    let rest = node
        .audit_log(
            Some(&admin),
            &AuditQuery {
                after: first.next,
                limit: 3,
                ..AuditQuery::default()
            },
        )
        .unwrap();
    assert_eq!(rest.events.len(), 1);
    assert_eq!(rest.events[0].action, "delete");
    // Others may not read the log.
    for who in [None, Some(id("300:88.118/SOMEONE"))] {
        assert!(
            node.audit_log(who.as_ref(), &AuditQuery::default())
                .is_err()
        );
    }
}

#[tokio::test]
async fn auditors_read_everything_are_audited_and_cannot_write() {
    let node = node().await;
    let mut secret = HandleValue::new(2000, "note", "private");
    secret.permissions = Permissions(Permissions::ADMIN_READ | Permissions::ADMIN_WRITE);
    run(
        &node,
        create(
            "88.118/P",
            vec![HandleValue::new(1, "URL", "https://x.example/"), secret],
        ),
        Some(&node_admin()),
    )
    .await
    .unwrap();
    let read = |who: Option<Identity>| {
        let node = &node;
        async move {
            run(
                node,
                Operation::Resolve {
                    handle: h("88.118/P"),
                    filter: TypeFilter::default(),
                    public_only: false,
                    refer: true,
                    recurse: None,
                },
                who.as_ref(),
            )
            .await
        }
    };
    let Outcome::Values { values, .. } = read(Some(auditor())).await.unwrap() else {
        panic!("not values")
    };
    assert_eq!(Record::parse(&values).unwrap().len(), 3);
    // Someone else sees only the public values.
    let Outcome::Values { values, .. } = read(Some(id("300:88.118/SOMEONE"))).await.unwrap() else {
        panic!("not values")
    };
    assert_eq!(Record::parse(&values).unwrap().len(), 2);
    let log = node
        .audit_log(
            Some(&node_admin()),
            &AuditQuery {
                action: Some("auditor_read".into()),
                limit: 10,
                ..AuditQuery::default()
            },
        )
        .unwrap();
    assert_eq!(log.events.len(), 1);
    assert_eq!(log.events[0].actor, "300:88.118/AUDITOR");
    assert_eq!(log.events[0].target, "88.118/P");
    // An auditor cannot write.
    let denied = run(
        &node,
        Operation::AddValues {
            handle: h("88.118/P"),
            values: vec![HandleValue::new(3, "URL", "https://y.example/")],
            overwrite: false,
        },
        Some(&auditor()),
    )
    .await
    .unwrap_err();
    assert_eq!(denied.rc, ResponseCode::InvalidAdmin);
    let denied = run(&node, create("88.118/Q", vec![]), Some(&auditor()))
        .await
        .unwrap_err();
    assert_eq!(denied.rc, ResponseCode::InvalidAdmin);
}

fn application(uscc: &str, prefix: &str) -> Application {
    Application {
        uscc: uscc.into(),
        org_name: "福建示范化工有限公司".into(),
        industry_code: "C2614".into(),
        region_code: "350100".into(),
        address: "福州市示范路1号".into(),
        prefix: prefix.into(),
        contact: Some("张三".into()),
        chem_park: None,
    }
}

const USCC_A: &str = "91350100M000100Y43";
const USCC_B: &str = "91110000MA0000001L";

#[tokio::test]
async fn onboarding_with_a_rejection_and_role_limits() {
    let node = node().await;
    let admin = node_admin();
    // Invalid applications.
    let mut bad = application(USCC_A, "88.118.8");
    bad.uscc = "91350100M000100Y44".into();
    let f = node.apply_enterprise(None, bad, NOW).await.unwrap_err();
    assert!(f.message.contains("统一社会信用代码"), "{f:?}");
    let f = node
        .apply_enterprise(None, application(USCC_A, "86.1.2"), NOW)
        .await
        .unwrap_err();
    assert!(f.message.contains("does not lie under"), "{f:?}");

    // Apply; a second application for the same prefix is refused.
    let ent = node
        .apply_enterprise(None, application(USCC_A, "88.118.8"), NOW)
        .await
        .unwrap();
    assert_eq!(ent.state, EntState::Pending);
    let f = node
        .apply_enterprise(None, application(USCC_B, "88.118.8"), NOW)
        .await
        .unwrap_err();
    assert!(f.message.contains("already been requested"), "{f:?}");

    // Only node administrators review.
    let f = node
        .review_enterprise(Some(&auditor()), USCC_A, Review::Start, NOW)
        .await
        .unwrap_err();
    assert_eq!(f.rc, ResponseCode::InvalidAdmin);
    node.review_enterprise(Some(&admin), USCC_A, Review::Start, NOW)
        .await
        .unwrap();
    let f = node
        .review_enterprise(
            Some(&admin),
            USCC_A,
            Review::Reject { reason: " ".into() },
            NOW,
        )
        .await
        .unwrap_err();
    assert!(f.message.contains("reason"), "{f:?}");
    let rejected = node
        .review_enterprise(
            Some(&admin),
            USCC_A,
            Review::Reject {
                reason: "营业执照不清晰".into(),
            },
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(rejected.state, EntState::Rejected);
    assert_eq!(rejected.reason.as_deref(), Some("营业执照不清晰"));
    // Approving a rejected application is refused; re-applying works.
    assert!(
        node.review_enterprise(
            Some(&admin),
            USCC_A,
            Review::Approve {
                admin_secret: b"s".to_vec()
            },
            NOW
        )
        .await
        .is_err()
    );
    let again = node
        .apply_enterprise(None, application(USCC_A, "88.118.8"), NOW)
        .await
        .unwrap();
    assert_eq!(again.history.len(), 4);

    // Approval creates the prefix, its administrator and the enterprise record.
    let approved = node
        .review_enterprise(
            Some(&admin),
            USCC_A,
            Review::Approve {
                admin_secret: b"ent-a-secret".to_vec(),
            },
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(approved.state, EntState::Enabled);
    assert_eq!(approved.admin.as_deref(), Some("300:88.118.8/ADMIN"));
    let ent_a = node
        .authenticate_secret(
            &ValueRef::parse("300:88.118.8/ADMIN").unwrap(),
            b"ent-a-secret",
        )
        .unwrap();
    let record = approved.record.clone().unwrap();
    assert_eq!(record, format!("88.118.8/E.{USCC_A}"));
    // The contact is not public; the enterprise and auditors read it.
    let resolve = |who: Option<Identity>| {
        let node = &node;
        let record = record.clone();
        async move {
            let Outcome::Values { values, .. } = run(
                node,
                Operation::Resolve {
                    handle: h(&record),
                    filter: TypeFilter::default(),
                    public_only: who.is_none(),
                    refer: true,
                    recurse: None,
                },
                who.as_ref(),
            )
            .await
            .unwrap() else {
                panic!("not values")
            };
            Record::parse(&values)
                .unwrap()
                .decode_all()
                .unwrap()
                .iter()
                .any(|v| v.value_type == "contact")
        }
    };
    assert!(!resolve(None).await);
    assert!(resolve(Some(ent_a.clone())).await);
    assert!(resolve(Some(auditor())).await);

    // The enterprise writes under its own prefix (validated by templates), not elsewhere.
    let product = vec![
        link("hazchem.product@1"),
        HandleValue::new(2000, "productName", "丙酮"),
        HandleValue::new(2001, "casNo", r#"["67-64-1"]"#),
        HandleValue::new(2010, "manufacturer", record.as_str()),
    ];
    run(
        &node,
        create("88.118.8/P.67-64-1", product.clone()),
        Some(&ent_a),
    )
    .await
    .unwrap();
    assert_invalid(
        run(
            &node,
            create("88.118.8/P.bad", with(&product, 2001, r#"["67-64-2"]"#)),
            Some(&ent_a),
        )
        .await,
        "CAS号 (casNo, index 2001)",
    );
    // A second enterprise cannot write the first one's prefix, nor the reverse.
    node.apply_enterprise(None, application(USCC_B, "88.118.9"), NOW)
        .await
        .unwrap();
    node.review_enterprise(
        Some(&admin),
        USCC_B,
        Review::Approve {
            admin_secret: b"ent-b-secret".to_vec(),
        },
        NOW,
    )
    .await
    .unwrap();
    let ent_b = id("300:88.118.9/ADMIN");
    for (who, target) in [
        (&ent_b, "88.118.8/P.x"),
        (&ent_a, "88.118.9/P.x"),
        (&ent_a, "88.118/P.x"),
    ] {
        let f = run(&node, create(target, product.clone()), Some(who))
            .await
            .unwrap_err();
        assert_eq!(f.rc, ResponseCode::InvalidAdmin, "{who} on {target}");
    }
    let f = run(
        &node,
        Operation::Delete {
            handle: h("88.118.8/P.67-64-1"),
        },
        Some(&ent_b),
    )
    .await
    .unwrap_err();
    assert_eq!(f.rc, ResponseCode::InvalidAdmin);
    // Enterprises see their own application only; auditors and node administrators see all.
    assert!(node.enterprise(Some(&ent_a), USCC_A).is_ok());
    assert!(node.enterprise(Some(&ent_a), USCC_B).is_err());
    assert_eq!(
        node.enterprises(Some(&auditor()), None, 0, 10).unwrap().0,
        2
    );
    assert!(node.enterprises(Some(&ent_a), None, 0, 10).is_err());

    // Disabling removes the administrator's key; enabling gives a new one.
    node.review_enterprise(
        Some(&admin),
        USCC_A,
        Review::Disable {
            reason: "许可证过期".into(),
        },
        NOW,
    )
    .await
    .unwrap();
    assert!(
        node.authenticate_secret(
            &ValueRef::parse("300:88.118.8/ADMIN").unwrap(),
            b"ent-a-secret"
        )
        .is_err()
    );
    // A disabled prefix resolves nowhere: neither its identifiers nor its prefix handle.
    let resolve = |handle: &str| Operation::Resolve {
        handle: h(handle),
        filter: TypeFilter::default(),
        public_only: true,
        refer: true,
        recurse: None,
    };
    for handle in ["88.118.8/P.67-64-1", "0.NA/88.118.8"] {
        let f = run(&node, resolve(handle), None).await.unwrap_err();
        assert_eq!(f.rc, ResponseCode::HandleNotFound, "{handle}");
        assert!(f.message.contains("disabled"), "{}", f.message);
    }
    node.review_enterprise(
        Some(&admin),
        USCC_A,
        Review::Enable {
            admin_secret: b"new-secret".to_vec(),
        },
        NOW,
    )
    .await
    .unwrap();
    assert!(
        node.authenticate_secret(
            &ValueRef::parse("300:88.118.8/ADMIN").unwrap(),
            b"new-secret"
        )
        .is_ok()
    );
    assert!(
        run(&node, resolve("88.118.8/P.67-64-1"), None)
            .await
            .is_ok()
    );
    // Every state change is in the audit log, under the enterprise's prefix.
    let log = node
        .audit_log(
            Some(&auditor()),
            &AuditQuery {
                prefix: Some("88.118.8".into()),
                limit: 1000,
                ..AuditQuery::default()
            },
        )
        .unwrap();
    let ent_actions: Vec<&str> = log
        .events
        .iter()
        .filter(|e| e.target == format!("ent:{USCC_A}"))
        .map(|e| e.action.as_str())
        .collect();
    assert_eq!(
        ent_actions,
        [
            "ent_apply",
            "ent_review",
            "ent_reject",
            "ent_apply",
            "ent_approve",
            "ent_disable",
            "ent_enable"
        ]
    );
    assert!(
        log.events
            .iter()
            .any(|e| e.action == "create" && e.target == "0.NA/88.118.8")
    );
    assert!(log.events.iter().any(|e| e.action == "create"
        && e.target == "88.118.8/P.67-64-1"
        && e.actor == "300:88.118.8/ADMIN"));
}

/// A site of one server on `port`.
fn site_on(port: u32) -> idnode_proto::SiteInfo {
    use idnode_proto::{Interface, Protocol, ServerInfo, SiteInfo};
    SiteInfo {
        data_version: 1,
        protocol_version: (2, 11),
        serial_number: 1,
        primary: true,
        multi_primary: false,
        hash_option: 0,
        hash_filter: String::new(),
        attributes: Vec::new(),
        servers: vec![ServerInfo {
            server_id: 1,
            address: ServerInfo::address_of([127, 0, 0, 1].into()),
            public_key: Vec::new(),
            interfaces: vec![Interface {
                query: true,
                admin: true,
                protocol: Protocol::Tcp,
                port,
            }],
        }],
    }
}

#[tokio::test]
async fn publish_site_brings_along_enterprise_copies_of_this_nodes_site_only() {
    let node = node().await;
    let admin = node_admin();
    let ours = site_on(2641);
    run(
        &node,
        create(
            "0.NA/88.118",
            vec![HandleValue::new(1, "HS_SITE", ours.to_bytes())],
        ),
        Some(&admin),
    )
    .await
    .unwrap();
    for (uscc, prefix) in [(USCC_A, "88.118.8"), (USCC_B, "88.118.9")] {
        node.apply_enterprise(None, application(uscc, prefix), NOW)
            .await
            .unwrap();
        for review in [
            Review::Start,
            Review::Approve {
                admin_secret: b"s".to_vec(),
            },
        ] {
            node.review_enterprise(Some(&admin), uscc, review, NOW)
                .await
                .unwrap();
        }
    }
    // Approval copied this node's site; 88.118.9 then points at a node of its own.
    let site_of = |handle: &str| node.site_at(&h(handle)).unwrap().expect("a site");
    assert!(idnode_resolver::same_site(&site_of("0.NA/88.118.8"), &ours));
    let own_node = site_on(7);
    run(
        &node,
        Operation::ModifyValues {
            handle: h("0.NA/88.118.9"),
            values: vec![HandleValue::new(1, "HS_SITE", own_node.to_bytes())],
        },
        Some(&admin),
    )
    .await
    .unwrap();
    let moved = site_on(2642);
    node.publish_site(&moved, NOW + 1).await.unwrap();
    assert!(idnode_resolver::same_site(&site_of("0.NA/88.118"), &moved));
    assert!(idnode_resolver::same_site(
        &site_of("0.NA/88.118.8"),
        &moved
    ));
    assert!(idnode_resolver::same_site(
        &site_of("0.NA/88.118.9"),
        &own_node
    ));
}
