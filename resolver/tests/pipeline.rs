//! The pipeline over an in-memory store: every operation, with allowed and denied callers.

mod common;

use common::{Counter, NOW, TestSealer, h};

use idnode_proto::{
    AdminPerms, AdminRecord, HandleValue, Permissions, Record, ResponseCode, TypeFilter, ValueList,
    ValueRef, types,
};
use idnode_registry::{Expect, MemStore, Mutation, Store, WriteBatch};
use idnode_resolver::{Config, Failure, Identity, Operation, Outcome, Request, Resolver};

fn admin(handle: &str, index: u32, perms: u16) -> HandleValue {
    let rec = AdminRecord {
        perms: AdminPerms(perms),
        admin: ValueRef {
            handle: handle.into(),
            index,
        },
    };
    HandleValue::new(100, types::HS_ADMIN, rec.to_bytes())
}

fn id(handle: &str, index: u32) -> Identity {
    Identity(ValueRef {
        handle: handle.into(),
        index,
    })
}

async fn put(store: &MemStore, handle: &str, values: Vec<HandleValue>) {
    store
        .commit(WriteBatch {
            mutations: vec![Mutation::PutHandle {
                handle: handle.into(),
                values: Record::encode(&values),
                expect: Expect::Any,
            }],
        })
        .await
        .unwrap();
}

/// A node homing `88.118.8` with the prefix admin `300:88.118.8/ADMIN` (secret `pw`), a limited
/// user `300:88.118.8/USER` (secret `upw`) and a group `200:88.118.8/GROUP` holding the user.
async fn node_store() -> MemStore {
    let store = MemStore::new();
    store
        .commit(WriteBatch {
            mutations: vec![Mutation::HomePrefix {
                prefix: "88.118.8".into(),
            }],
        })
        .await
        .unwrap();
    put(
        &store,
        "0.NA/88.118.8",
        vec![admin("88.118.8/ADMIN", 300, 0x0FFF)],
    )
    .await;
    let mut secret = HandleValue::new(300, types::HS_SECKEY, b"sealed:pw".to_vec());
    secret.permissions = Permissions::SECRET;
    put(
        &store,
        "88.118.8/ADMIN",
        vec![admin("88.118.8/ADMIN", 300, 0x0FFF), secret],
    )
    .await;
    let mut secret = HandleValue::new(300, types::HS_SECKEY, b"sealed:upw".to_vec());
    secret.permissions = Permissions::SECRET;
    put(
        &store,
        "88.118.8/USER",
        vec![admin("88.118.8/ADMIN", 300, 0x0FFF), secret],
    )
    .await;
    let group = ValueList(vec![ValueRef {
        handle: "88.118.8/USER".into(),
        index: 300,
    }]);
    put(
        &store,
        "88.118.8/GROUP",
        vec![HandleValue::new(200, types::HS_VLIST, group.to_bytes())],
    )
    .await;
    store
}

async fn node() -> Resolver<MemStore> {
    let store = node_store().await;
    Resolver::new(
        store,
        Config::default(),
        Box::new(Counter::new()),
        Box::new(TestSealer),
    )
}

async fn run(
    node: &Resolver<MemStore>,
    op: Operation,
    who: Option<Identity>,
) -> Result<Outcome, Failure> {
    node.handle(Request {
        op,
        identity: who,
        now: NOW,
    })
    .await
}

fn rc(result: Result<Outcome, Failure>) -> ResponseCode {
    match result {
        Ok(_) => ResponseCode::Success,
        Err(f) => f.rc,
    }
}

fn values_of(outcome: Outcome) -> Vec<HandleValue> {
    match outcome {
        Outcome::Values { values, .. } => Record::parse(&values).unwrap().decode_all().unwrap(),
        other => panic!("expected values, got {other:?}"),
    }
}

fn resolve(handle: &str) -> Operation {
    Operation::Resolve {
        handle: h(handle),
        filter: TypeFilter::default(),
        public_only: true,
        refer: true,
        recurse: None,
    }
}

fn create(handle: &str, values: Vec<HandleValue>, overwrite: bool) -> Operation {
    Operation::Create {
        handle: h(handle),
        values,
        overwrite,
    }
}

fn url(index: u32, text: &str) -> HandleValue {
    HandleValue::new(index, "URL", text.as_bytes().to_vec())
}

#[tokio::test]
async fn create_resolve_and_stamp() {
    let node = node().await;
    let admin_id = Some(id("88.118.8/ADMIN", 300));
    assert_eq!(
        rc(run(
            &node,
            create("88.118.8/x", vec![url(1, "https://a")], false),
            admin_id.clone()
        )
        .await),
        ResponseCode::Success
    );
    let values = values_of(run(&node, resolve("88.118.8/X"), None).await.unwrap());
    assert_eq!(values.len(), 2, "the creator gets a default HS_ADMIN");
    assert!(values.iter().all(|v| v.timestamp == NOW));
    let admin = values.iter().find(|v| v.has_type(types::HS_ADMIN)).unwrap();
    let rec = AdminRecord::from_bytes(&admin.data).unwrap();
    assert_eq!(
        rec.admin,
        ValueRef {
            handle: "88.118.8/ADMIN".into(),
            index: 300
        }
    );
    assert_eq!(
        rc(run(
            &node,
            create("88.118.8/x", vec![url(1, "https://b")], false),
            admin_id
        )
        .await),
        ResponseCode::HandleAlreadyExists
    );
}

#[tokio::test]
async fn writes_need_authentication_and_admin_rights() {
    let node = node().await;
    assert_eq!(
        rc(run(&node, create("88.118.8/y", vec![url(1, "u")], false), None).await),
        ResponseCode::AuthenticationNeeded
    );
    assert_eq!(
        rc(run(
            &node,
            create("88.118.8/y", vec![url(1, "u")], false),
            Some(id("88.118.8/USER", 300))
        )
        .await),
        ResponseCode::InvalidAdmin
    );
    assert_eq!(
        rc(run(
            &node,
            create("99.1/y", vec![url(1, "u")], false),
            Some(id("88.118.8/ADMIN", 300))
        )
        .await),
        ResponseCode::ServerNotResponsible
    );
}

#[tokio::test]
async fn groups_grant_through_vlist() {
    let node = node().await;
    let admin_id = Some(id("88.118.8/ADMIN", 300));
    let mut values = vec![url(1, "u")];
    let mut group_admin = admin("88.118.8/GROUP", 200, AdminPerms::MODIFY_VALUE);
    group_admin.index = 101;
    values.push(group_admin);
    run(&node, create("88.118.8/g", values, false), admin_id)
        .await
        .unwrap();
    let user = Some(id("88.118.8/USER", 300));
    let modify = Operation::ModifyValues {
        handle: h("88.118.8/g"),
        values: vec![url(1, "changed")],
    };
    assert_eq!(
        rc(run(&node, modify, user.clone()).await),
        ResponseCode::Success
    );
    let delete = Operation::Delete {
        handle: h("88.118.8/g"),
    };
    assert_eq!(
        rc(run(&node, delete, user).await),
        ResponseCode::InvalidAdmin,
        "the group lacks DELETE_HANDLE"
    );
    let other = Some(id("88.118.8/USER", 301));
    let modify = Operation::ModifyValues {
        handle: h("88.118.8/g"),
        values: vec![url(1, "again")],
    };
    assert_eq!(
        rc(run(&node, modify, other).await),
        ResponseCode::InvalidAdmin,
        "wrong index is not in the group"
    );
}

#[tokio::test]
async fn add_modify_remove_and_delete() {
    let node = node().await;
    let a = Some(id("88.118.8/ADMIN", 300));
    run(
        &node,
        create("88.118.8/v", vec![url(1, "u")], false),
        a.clone(),
    )
    .await
    .unwrap();
    let add = |overwrite| Operation::AddValues {
        handle: h("88.118.8/v"),
        values: vec![url(5, "five")],
        overwrite,
    };
    assert_eq!(
        run(&node, add(false), a.clone()).await,
        Ok(Outcome::Done {
            handle: h("88.118.8/v"),
            created: true
        })
    );
    assert_eq!(
        rc(run(&node, add(false), a.clone()).await),
        ResponseCode::ValueAlreadyExists
    );
    assert_eq!(
        run(&node, add(true), a.clone()).await,
        Ok(Outcome::Done {
            handle: h("88.118.8/v"),
            created: false
        })
    );
    let missing = Operation::ModifyValues {
        handle: h("88.118.8/v"),
        values: vec![url(9, "x")],
    };
    assert_eq!(
        rc(run(&node, missing, a.clone()).await),
        ResponseCode::ValuesNotFound
    );
    let remove = |i| Operation::RemoveValues {
        handle: h("88.118.8/v"),
        indexes: vec![i],
    };
    assert_eq!(
        rc(run(&node, remove(5), a.clone()).await),
        ResponseCode::Success
    );
    assert_eq!(
        rc(run(&node, remove(5), a.clone()).await),
        ResponseCode::ValuesNotFound
    );
    assert_eq!(
        rc(run(
            &node,
            Operation::Delete {
                handle: h("88.118.8/v")
            },
            a.clone()
        )
        .await),
        ResponseCode::Success
    );
    assert_eq!(
        rc(run(&node, resolve("88.118.8/v"), None).await),
        ResponseCode::HandleNotFound
    );
    assert_eq!(
        rc(run(
            &node,
            Operation::Delete {
                handle: h("88.118.8/v")
            },
            a
        )
        .await),
        ResponseCode::HandleNotFound
    );
}

#[tokio::test]
async fn read_only_values_refuse_modify() {
    let node = node().await;
    let a = Some(id("88.118.8/ADMIN", 300));
    let mut ro = url(1, "fixed");
    ro.permissions = Permissions(Permissions::ADMIN_READ | Permissions::PUBLIC_READ);
    run(&node, create("88.118.8/ro", vec![ro], false), a.clone())
        .await
        .unwrap();
    let modify = Operation::ModifyValues {
        handle: h("88.118.8/ro"),
        values: vec![url(1, "x")],
    };
    assert_eq!(
        rc(run(&node, modify, a).await),
        ResponseCode::InsufficientPermissions
    );
}

#[tokio::test]
async fn bad_values_are_rejected_and_nothing_is_written() {
    let node = node().await;
    let a = Some(id("88.118.8/ADMIN", 300));
    for values in [
        vec![url(0, "zero")],
        vec![url(1, "a"), url(1, "b")],
        vec![HandleValue::new(100, types::HS_ADMIN, vec![1, 2, 3])],
        vec![HandleValue::new(2, "", vec![])],
    ] {
        let result = run(&node, create("88.118.8/bad", values, false), a.clone()).await;
        assert_eq!(rc(result), ResponseCode::InvalidValue);
        assert_eq!(
            rc(run(&node, resolve("88.118.8/bad"), None).await),
            ResponseCode::HandleNotFound
        );
    }
}

#[tokio::test]
async fn secrets_are_sealed_and_shown_only_to_readers() {
    let node = node().await;
    let stored = node.danger_store().get(b"88.118.8/ADMIN").unwrap().unwrap();
    assert!(
        Record::parse(&stored.values)
            .unwrap()
            .iter()
            .any(|v| v.data() == b"sealed:pw")
    );
    assert!(
        node.authenticate_secret(
            &ValueRef {
                handle: "88.118.8/admin".into(),
                index: 300
            },
            b"pw"
        )
        .is_ok()
    );
    assert_eq!(
        node.authenticate_secret(
            &ValueRef {
                handle: "88.118.8/ADMIN".into(),
                index: 300
            },
            b"bad"
        )
        .unwrap_err()
        .rc,
        ResponseCode::AuthenticationFailed
    );
    // Public resolution hides the secret.
    let public = values_of(run(&node, resolve("88.118.8/ADMIN"), None).await.unwrap());
    assert!(public.iter().all(|v| !v.has_type(types::HS_SECKEY)));
    // Without public-only, an anonymous caller is challenged, and an administrator sees it.
    let private = || Operation::Resolve {
        handle: h("88.118.8/ADMIN"),
        filter: TypeFilter::default(),
        public_only: false,
        refer: true,
        recurse: None,
    };
    assert_eq!(
        rc(run(&node, private(), None).await),
        ResponseCode::AuthenticationNeeded
    );
    let all = values_of(
        run(&node, private(), Some(id("88.118.8/ADMIN", 300)))
            .await
            .unwrap(),
    );
    assert_eq!(
        all.iter()
            .find(|v| v.has_type(types::HS_SECKEY))
            .unwrap()
            .data,
        b"pw"
    );
    // A new secret is sealed before it is stored.
    let a = Some(id("88.118.8/ADMIN", 300));
    let mut secret = HandleValue::new(300, types::HS_SECKEY, b"new".to_vec());
    secret.permissions = Permissions::SECRET;
    run(&node, create("88.118.8/NEWID", vec![secret], false), a)
        .await
        .unwrap();
    let stored = node.danger_store().get(b"88.118.8/NEWID").unwrap().unwrap();
    assert!(
        Record::parse(&stored.values)
            .unwrap()
            .iter()
            .any(|v| v.data() == b"sealed:new")
    );
}

#[tokio::test]
async fn filters_select_by_index_or_type() {
    let node = node().await;
    let a = Some(id("88.118.8/ADMIN", 300));
    let values = vec![
        url(1, "u"),
        HandleValue::new(2, "EMAIL", b"e".to_vec()),
        HandleValue::new(3, "URL.alt", b"v".to_vec()),
    ];
    run(&node, create("88.118.8/f", values, false), a)
        .await
        .unwrap();
    let op = |filter| Operation::Resolve {
        handle: h("88.118.8/f"),
        filter,
        public_only: true,
        refer: true,
        recurse: None,
    };
    let by_type = values_of(
        run(
            &node,
            op(TypeFilter {
                indexes: vec![],
                types: vec!["URL.".into()],
            }),
            None,
        )
        .await
        .unwrap(),
    );
    assert_eq!(
        by_type.iter().map(|v| v.index).collect::<Vec<_>>(),
        vec![1, 3]
    );
    let by_index = values_of(
        run(
            &node,
            op(TypeFilter {
                indexes: vec![2],
                types: vec![],
            }),
            None,
        )
        .await
        .unwrap(),
    );
    assert_eq!(by_index.len(), 1);
    let none = run(
        &node,
        op(TypeFilter {
            indexes: vec![],
            types: vec!["NOPE".into()],
        }),
        None,
    )
    .await;
    assert_eq!(rc(none), ResponseCode::ValuesNotFound);
}

#[tokio::test]
async fn mint_list_and_homing() {
    let node = node().await;
    let a = Some(id("88.118.8/ADMIN", 300));
    let minted = run(
        &node,
        Operation::Mint {
            stem: "88.118.8/batch-".into(),
            values: vec![url(1, "m")],
        },
        a.clone(),
    )
    .await
    .unwrap();
    let Outcome::Done {
        handle,
        created: true,
    } = minted
    else {
        panic!("{minted:?}")
    };
    assert!(handle.as_str().starts_with("88.118.8/batch-"));
    assert_eq!(handle.suffix().len(), "batch-".len() + 36);
    let list = run(
        &node,
        Operation::ListHandles {
            prefix: "88.118.8".into(),
            page: Some((0, 2)),
        },
        a.clone(),
    )
    .await
    .unwrap();
    let Outcome::Handles { total, handles } = list else {
        panic!()
    };
    assert_eq!((total, handles.len()), (4, 2));
    assert_eq!(
        rc(run(
            &node,
            Operation::ListHandles {
                prefix: "88.118.8".into(),
                page: None
            },
            None
        )
        .await),
        ResponseCode::AuthenticationNeeded
    );
    assert_eq!(
        rc(run(
            &node,
            Operation::ListHandles {
                prefix: "88.118.8".into(),
                page: None
            },
            Some(id("88.118.8/USER", 300))
        )
        .await),
        ResponseCode::InvalidAdmin
    );
    assert_eq!(
        rc(run(
            &node,
            Operation::Home {
                prefix: "88.119".into()
            },
            a
        )
        .await),
        ResponseCode::InvalidAdmin,
        "prefix admins are not server admins"
    );
    assert_eq!(
        run(&node, Operation::ListHomed, None).await,
        Ok(Outcome::Prefixes(vec!["0.NA/88.118.8".into()]))
    );
}

#[tokio::test]
async fn overwrite_needs_rights_on_the_existing_handle() {
    let node = node().await;
    let a = Some(id("88.118.8/ADMIN", 300));
    let mut only_modify = admin("88.118.8/USER", 300, AdminPerms::MODIFY_VALUE);
    only_modify.index = 101;
    run(
        &node,
        create("88.118.8/o", vec![url(1, "u"), only_modify.clone()], false),
        a,
    )
    .await
    .unwrap();
    let user = Some(id("88.118.8/USER", 300));
    // Changing the URL only needs MODIFY_VALUE.
    let replace = create("88.118.8/o", vec![url(1, "v"), only_modify.clone()], true);
    assert_eq!(
        run(&node, replace, user.clone()).await,
        Ok(Outcome::Done {
            handle: h("88.118.8/o"),
            created: false
        })
    );
    // Adding a value needs ADD_VALUE, which the user lacks.
    let replace = create(
        "88.118.8/o",
        vec![url(1, "v"), url(2, "w"), only_modify],
        true,
    );
    assert_eq!(
        rc(run(&node, replace, user).await),
        ResponseCode::InvalidAdmin
    );
}

#[tokio::test]
async fn trace_writes_need_add_or_modify_value_on_an_existing_homed_handle() {
    let node = node().await;
    put(
        node.danger_store(),
        "88.118.8/drum-1",
        vec![
            admin("88.118.8/ADMIN", 300, AdminPerms::MODIFY_VALUE),
            admin("88.118.8/GROUP", 200, AdminPerms::ADD_VALUE),
        ],
    )
    .await;
    put(
        node.danger_store(),
        "88.118.8/drum-2",
        vec![admin("88.118.8/USER", 300, AdminPerms::READ_VALUE)],
    )
    .await;
    let admin_id = id("88.118.8/ADMIN", 300);
    let user = id("88.118.8/USER", 300);
    let stored = node
        .authorize_trace_write(&admin_id, &h("88.118.8/DRUM-1"))
        .unwrap();
    assert_eq!(stored.handle, "88.118.8/drum-1");
    // Through the group's ADD_VALUE.
    node.authorize_trace_write(&user, &h("88.118.8/drum-1"))
        .unwrap();
    let refused = node
        .authorize_trace_write(&user, &h("88.118.8/drum-2"))
        .unwrap_err();
    assert_eq!(refused.rc, ResponseCode::InsufficientPermissions);
    // The prefix administrator writes drum-2 through 0.NA/88.118.8, like every other write.
    node.authorize_trace_write(&admin_id, &h("88.118.8/drum-2"))
        .unwrap();
    let missing = node
        .authorize_trace_write(&admin_id, &h("88.118.8/none"))
        .unwrap_err();
    assert_eq!(missing.rc, ResponseCode::HandleNotFound);
    let foreign = node
        .authorize_trace_write(&admin_id, &h("99.1/x"))
        .unwrap_err();
    assert_eq!(foreign.rc, ResponseCode::ServerNotResponsible);
    assert!(node.is_homed_here(&h("88.118.8.1/x")).unwrap());
    assert!(!node.is_homed_here(&h("99.1/x")).unwrap());
}

#[tokio::test]
async fn trace_writes_and_reads_follow_the_prefix_admin_setting() {
    let strict = Resolver::new(
        node_store().await,
        Config {
            allow_prefix_admins: false,
            auditors: vec![ValueRef {
                handle: "88.118.8/AUDIT".into(),
                index: 0,
            }],
            ..Config::default()
        },
        Box::new(Counter::new()),
        Box::new(TestSealer),
    );
    put(
        strict.danger_store(),
        "88.118.8/drum-3",
        vec![admin("88.118.8/USER", 300, AdminPerms::READ_VALUE)],
    )
    .await;
    let admin_id = id("88.118.8/ADMIN", 300);
    let user = id("88.118.8/USER", 300);
    let stranger = id("88.118.8/OTHER", 300);
    let auditor = id("88.118.8/AUDIT", 1);
    // Without prefix administrators, 0.NA/88.118.8 grants nothing on drum-3.
    let refused = strict
        .authorize_trace_write(&admin_id, &h("88.118.8/drum-3"))
        .unwrap_err();
    assert_eq!(refused.rc, ResponseCode::InsufficientPermissions);
    assert!(!strict.may_read_trace(&admin_id, "88.118.8/drum-3").unwrap());
    // READ_VALUE on the subject, auditors: readable; strangers, foreign and missing: not.
    assert!(strict.may_read_trace(&user, "88.118.8/DRUM-3").unwrap());
    assert!(!strict.may_read_trace(&stranger, "88.118.8/drum-3").unwrap());
    assert!(strict.may_read_trace(&auditor, "88.118.8/drum-3").unwrap());
    assert!(
        strict
            .may_read_trace(&auditor, "https://id.gs1.org/01/1")
            .unwrap()
    );
    assert!(!strict.may_read_trace(&user, "88.118.8/none").unwrap());
    assert!(!strict.may_read_trace(&user, "99.1/x").unwrap());
    assert!(
        !strict
            .may_read_trace(&user, "https://id.gs1.org/01/1")
            .unwrap()
    );
    // With prefix administrators (the default), the prefix administrator reads drum-3 too.
    let node = node().await;
    put(
        node.danger_store(),
        "88.118.8/drum-3",
        vec![admin("88.118.8/USER", 300, AdminPerms::READ_VALUE)],
    )
    .await;
    assert!(node.may_read_trace(&admin_id, "88.118.8/drum-3").unwrap());
    assert!(!node.may_read_trace(&stranger, "88.118.8/drum-3").unwrap());
}

#[tokio::test]
async fn prefix_admins_administer_every_handle_under_the_prefix() {
    let node = node().await;
    let a = Some(id("88.118.8/ADMIN", 300));
    let user = Some(id("88.118.8/USER", 300));
    // A handle administered only by USER.
    let values = vec![url(1, "u"), admin("88.118.8/USER", 300, 0x0FFF)];
    run(&node, create("88.118.8/owned", values, false), a.clone())
        .await
        .unwrap();
    let modify = |text: &str| Operation::ModifyValues {
        handle: h("88.118.8/owned"),
        values: vec![url(1, text)],
    };
    assert_eq!(
        rc(run(&node, modify("by user"), user).await),
        ResponseCode::Success
    );
    // The prefix administrator still holds its rights through 0.NA/88.118.8.
    assert_eq!(
        rc(run(&node, modify("by prefix admin"), a.clone()).await),
        ResponseCode::Success
    );
    assert_eq!(
        rc(run(
            &node,
            Operation::Delete {
                handle: h("88.118.8/owned")
            },
            a
        )
        .await),
        ResponseCode::Success
    );

    // With the reference's allow_na_admins = no, only the handle's own administrators count.
    let strict = Resolver::new(
        node_store().await,
        Config {
            allow_prefix_admins: false,
            ..Config::default()
        },
        Box::new(Counter::new()),
        Box::new(TestSealer),
    );
    let values = vec![url(1, "u"), admin("88.118.8/USER", 300, 0x0FFF)];
    run(
        &strict,
        create("88.118.8/owned", values, false),
        Some(id("88.118.8/ADMIN", 300)),
    )
    .await
    .unwrap();
    let modify = Operation::ModifyValues {
        handle: h("88.118.8/owned"),
        values: vec![url(1, "x")],
    };
    assert_eq!(
        rc(run(&strict, modify, Some(id("88.118.8/ADMIN", 300))).await),
        ResponseCode::InvalidAdmin
    );
}

#[tokio::test]
async fn replacing_with_identical_content_needs_a_write_permission() {
    let node = node().await;
    let a = Some(id("88.118.8/ADMIN", 300));
    let mut private = HandleValue::new(2, "DESC", b"secret recipe".to_vec());
    private.permissions = Permissions(Permissions::ADMIN_READ | Permissions::ADMIN_WRITE);
    run(
        &node,
        create("88.118.8/p", vec![url(1, "u"), private.clone()], false),
        a,
    )
    .await
    .unwrap();
    let stored = values_of(
        run(
            &node,
            Operation::Resolve {
                handle: h("88.118.8/p"),
                filter: TypeFilter::default(),
                public_only: false,
                refer: true,
                recurse: None,
            },
            Some(id("88.118.8/ADMIN", 300)),
        )
        .await
        .unwrap(),
    );
    // The same record again, from someone without rights, is refused like any other change.
    let guess = create("88.118.8/p", stored, true);
    assert_eq!(
        rc(run(&node, guess, Some(id("88.118.8/USER", 300))).await),
        ResponseCode::InvalidAdmin
    );
}

fn site(port: u32, serial: u16) -> idnode_proto::SiteInfo {
    idnode_proto::SiteInfo {
        data_version: 1,
        protocol_version: (2, 11),
        serial_number: serial,
        primary: true,
        multi_primary: false,
        hash_option: 2,
        hash_filter: String::new(),
        attributes: vec![("desc".into(), "test".into())],
        servers: vec![idnode_proto::ServerInfo {
            server_id: 1,
            address: [0; 16],
            public_key: Vec::new(),
            interfaces: vec![idnode_proto::Interface {
                query: true,
                admin: true,
                protocol: idnode_proto::Protocol::Tcp,
                port,
            }],
        }],
    }
}

/// The node's own `HS_SITE` (index 1) follows what it serves, with the serial raised once per
/// change and no write when nothing changed; another site's value (a mirror's) is kept.
#[tokio::test]
async fn the_node_publishes_its_site_on_its_prefix_handles() {
    let node = node().await;
    let mirror = HandleValue::new(2, types::HS_SITE, site(9999, 7).to_bytes());
    put(
        node.danger_store(),
        "0.NA/88.118.8",
        vec![
            admin("88.118.8/ADMIN", 300, 0x0FFF),
            HandleValue::new(1, types::HS_SITE, site(2641, 5).to_bytes()),
            mirror.clone(),
        ],
    )
    .await;
    let stored = |node: &Resolver<MemStore>| {
        node.danger_store()
            .get(b"0.NA/88.118.8")
            .unwrap()
            .expect("the prefix handle")
    };
    let before = stored(&node).version;

    // The same site (whatever serial it is given): nothing is written.
    let same = node.publish_site(&site(2641, 1), NOW).await.unwrap();
    assert_eq!(same.len(), 1);
    assert!(!same[0].changed);
    assert_eq!(same[0].serial, 5);
    assert_eq!(stored(&node).version, before);

    // Another port: the value is replaced, serial 6; the mirror's value is untouched.
    let changed = node.publish_site(&site(2642, 1), NOW + 1).await.unwrap();
    assert!(changed[0].changed);
    assert_eq!(changed[0].serial, 6);
    let values = Record::parse(&stored(&node).values)
        .unwrap()
        .decode_all()
        .unwrap();
    let ours = values.iter().find(|v| v.index == 1).unwrap();
    assert_eq!(
        idnode_proto::SiteInfo::from_bytes(&ours.data).unwrap(),
        site(2642, 6)
    );
    assert_eq!(ours.timestamp, NOW + 1);
    let kept = values.iter().find(|v| v.index == 2).unwrap();
    assert_eq!(kept.data, mirror.data);
}
