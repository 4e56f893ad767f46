//! The top-level role over an in-memory store: exact homing of ordinary handles, service
//! referrals for delegated prefixes, and a secondary's identity confined to its delegation.

mod common;

use common::{Counter, NOW, TestSealer, h};

use idnode_proto::{
    AdminPerms, AdminRecord, HandleValue, Interface, Protocol, Record, ResponseCode, ServerInfo,
    SiteInfo, TypeFilter, ValueRef, types,
};
use idnode_registry::{Expect, MemStore, Mutation, Store, WriteBatch};
use idnode_resolver::{Config, Failure, Identity, Operation, Outcome, Request, Resolver};

const ROOT: &str = "0.NA/0.NA";
const SECONDARY: &str = "0.NA/88.118";

fn admin(index: u32, handle: &str, admin_index: u32, perms: u16) -> HandleValue {
    let record = AdminRecord {
        perms: AdminPerms(perms),
        admin: ValueRef {
            handle: handle.into(),
            index: admin_index,
        },
    };
    HandleValue::new(index, types::HS_ADMIN, record.to_bytes())
}

fn site(port: u32) -> Vec<u8> {
    SiteInfo {
        data_version: 1,
        protocol_version: (2, 11),
        serial_number: 1,
        primary: true,
        multi_primary: false,
        hash_option: 0,
        hash_filter: String::new(),
        attributes: vec![],
        servers: vec![ServerInfo {
            server_id: 1,
            address: ServerInfo::address_of([127, 0, 0, 1].into()),
            public_key: vec![],
            interfaces: vec![Interface {
                query: true,
                admin: true,
                protocol: Protocol::Tcp,
                port,
            }],
        }],
    }
    .to_bytes()
}

fn id(handle: &str) -> Identity {
    Identity(ValueRef {
        handle: handle.into(),
        index: 300,
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

/// What `idnode delegate` leaves at a top-level node homing `88`: `0.NA/88.118` delegated to
/// the secondary at port 2651 (HS_SITE and HS_SITE.PREFIX), administered by the root with
/// everything and by `300:0.NA/88.118` with the delegation's rights; the sibling `0.NA/88.119`
/// administered by the root only; and `88/top`, an ordinary handle of the top-level itself.
async fn top_level() -> Resolver<MemStore> {
    let store = MemStore::new();
    store
        .commit(WriteBatch {
            mutations: vec![Mutation::HomePrefix {
                prefix: "88".into(),
            }],
        })
        .await
        .unwrap();
    let delegation = AdminPerms::ADD_DERIVED_PREFIX
        | AdminPerms::DELETE_DERIVED_PREFIX
        | AdminPerms::ADD_VALUE
        | AdminPerms::MODIFY_VALUE
        | AdminPerms::REMOVE_VALUE
        | AdminPerms::READ_VALUE;
    put(
        &store,
        SECONDARY,
        vec![
            admin(100, ROOT, 300, AdminPerms::ALL.0),
            admin(101, SECONDARY, 300, delegation),
            HandleValue::new(1, types::HS_SITE, site(2651)),
            HandleValue::new(2, types::HS_SITE_PREFIX, site(2651)),
        ],
    )
    .await;
    put(
        &store,
        "0.NA/88.119",
        vec![
            admin(100, ROOT, 300, AdminPerms::ALL.0),
            HandleValue::new(1, types::HS_SITE, site(2652)),
        ],
    )
    .await;
    put(
        &store,
        "88/top",
        vec![HandleValue::new(1, "URL", b"https://example.org/".to_vec())],
    )
    .await;
    let config = Config {
        derived_homing: false,
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
    who: Option<Identity>,
) -> Result<Outcome, Failure> {
    node.handle(Request {
        op,
        identity: who,
        now: NOW,
    })
    .await
}

fn resolve(handle: &str, refer: bool) -> Operation {
    Operation::Resolve {
        handle: h(handle),
        filter: TypeFilter::default(),
        public_only: true,
        refer,
        recurse: None,
    }
}

fn rc(result: &Result<Outcome, Failure>) -> ResponseCode {
    match result {
        Ok(_) => ResponseCode::Success,
        Err(f) => f.rc,
    }
}

fn prefix_site(index: u32, port: u32) -> HandleValue {
    HandleValue::new(index, types::HS_SITE, site(port))
}

#[tokio::test]
async fn ordinary_handles_of_delegated_prefixes_are_referred_never_answered() {
    let node = top_level().await;
    // The top-level's own handles resolve.
    assert_eq!(
        rc(&run(&node, resolve("88/top", true), None).await),
        ResponseCode::Success
    );

    // 88.118/x: 0.NA/88.118 is stored here, so RC 302 with its public HS_SITE, no handle.
    let failure = run(&node, resolve("88.118/x", true), None)
        .await
        .unwrap_err();
    assert_eq!(failure.rc, ResponseCode::ServiceReferral);
    let referral = failure.referral.expect("a referral");
    assert_eq!(referral.handle, "");
    let kinds: Vec<_> = referral
        .values
        .iter()
        .map(|v| v.value_type.as_str())
        .collect();
    assert_eq!(kinds, [types::HS_SITE]);

    // 88.118.8/x: 0.NA/88.118.8 is not stored, but its parent delegates it (HS_SITE.PREFIX):
    // RC 302 naming the prefix handle for the client to resolve, no values.
    let failure = run(&node, resolve("88.118.8/x", true), None)
        .await
        .unwrap_err();
    assert_eq!(failure.rc, ResponseCode::ServiceReferral);
    let referral = failure.referral.expect("a referral");
    assert_eq!(referral.handle, "0.NA/88.118.8");
    assert!(referral.values.is_empty());

    // DNRF, and prefixes this node knows nothing of: RC 301.
    for (handle, refer) in [("88.118.8/x", false), ("88.118/x", false), ("99/x", true)] {
        let failure = run(&node, resolve(handle, refer), None).await.unwrap_err();
        assert_eq!(failure.rc, ResponseCode::ServerNotResponsible, "{handle}");
        assert!(failure.referral.is_none());
    }

    // The prefix handles themselves are answered here, or referred down the chain.
    assert_eq!(
        rc(&run(&node, resolve("0.NA/88.118", true), None).await),
        ResponseCode::Success
    );
    assert_eq!(
        rc(&run(&node, resolve("0.NA/88.118.8", true), None).await),
        ResponseCode::PrefixReferral
    );
    assert_eq!(
        rc(&run(&node, resolve("0.NA/88.118.8", false), None).await),
        ResponseCode::HandleNotFound
    );
}

#[tokio::test]
async fn a_top_level_node_never_writes_ordinary_handles_of_delegated_prefixes() {
    let node = top_level().await;
    let root = Some(id(ROOT));
    for handle in ["88.118/x", "88.118.8/x"] {
        let create = Operation::Create {
            handle: h(handle),
            values: vec![HandleValue::new(1, "URL", b"u".to_vec())],
            overwrite: false,
        };
        let err = run(&node, create, root.clone()).await.unwrap_err();
        assert_eq!(err.rc, ResponseCode::ServerNotResponsible, "{handle}");
    }
}

#[tokio::test]
async fn a_secondary_administers_only_its_delegation() {
    let node = top_level().await;
    let secondary = Some(id(SECONDARY));
    let entry = |port| {
        vec![
            admin(100, SECONDARY, 300, AdminPerms::ALL.0),
            prefix_site(1, port),
        ]
    };
    let create = |handle: &str, port| Operation::Create {
        handle: h(handle),
        values: entry(port),
        overwrite: false,
    };

    // Under its delegation: create, modify and withdraw enterprise prefix handles.
    assert_eq!(
        rc(&run(&node, create("0.NA/88.118.8", 2651), secondary.clone()).await),
        ResponseCode::Success
    );
    let modify = Operation::ModifyValues {
        handle: h("0.NA/88.118.8"),
        values: vec![prefix_site(1, 2660)],
    };
    assert_eq!(
        rc(&run(&node, modify, secondary.clone()).await),
        ResponseCode::Success
    );
    // Its own prefix handle's site values, not its administrators.
    let own_site = Operation::ModifyValues {
        handle: h(SECONDARY),
        values: vec![prefix_site(1, 2653)],
    };
    assert_eq!(
        rc(&run(&node, own_site, secondary.clone()).await),
        ResponseCode::Success
    );
    let grab = Operation::ModifyValues {
        handle: h(SECONDARY),
        values: vec![admin(100, SECONDARY, 300, AdminPerms::ALL.0)],
    };
    assert_eq!(
        rc(&run(&node, grab, secondary.clone()).await),
        ResponseCode::InvalidAdmin
    );
    // A derived prefix the secondary delegated with someone else's HS_ADMIN: it still withdraws
    // it, through DELETE_DERIVED_PREFIX on 0.NA/88.118.
    let other = Operation::Create {
        handle: h("0.NA/88.118.9"),
        values: vec![
            admin(100, "88.118.9/ADMIN", 300, AdminPerms::ALL.0),
            prefix_site(1, 2670),
        ],
        overwrite: false,
    };
    assert_eq!(
        rc(&run(&node, other, secondary.clone()).await),
        ResponseCode::Success
    );
    let withdraw = Operation::Delete {
        handle: h("0.NA/88.118.9"),
    };
    assert_eq!(
        rc(&run(&node, withdraw, secondary.clone()).await),
        ResponseCode::Success
    );
    assert_eq!(
        rc(&run(&node, resolve("0.NA/88.118.9", false), None).await),
        ResponseCode::HandleNotFound
    );

    // Outside it: a sibling's derived prefixes and values, a parentless prefix, the parent
    // itself, and deleting its own delegation. Every refusal is RC 400 and writes nothing.
    let refusals = [
        create("0.NA/88.119.1", 2651),
        create("0.NA/88.120.1", 2651),
        create("0.NA/88.1", 2651),
        Operation::ModifyValues {
            handle: h("0.NA/88.119"),
            values: vec![prefix_site(1, 2651)],
        },
        Operation::AddValues {
            handle: h("0.NA/88.119"),
            values: vec![HandleValue::new(7, types::HS_SITE_PREFIX, site(2651))],
            overwrite: false,
        },
        Operation::Delete {
            handle: h("0.NA/88.119"),
        },
        Operation::Delete {
            handle: h(SECONDARY),
        },
    ];
    for op in refusals {
        let shown = format!("{op:?}");
        let err = run(&node, op, secondary.clone()).await.unwrap_err();
        assert_eq!(err.rc, ResponseCode::InvalidAdmin, "{shown}");
    }
    for handle in ["0.NA/88.119.1", "0.NA/88.120.1", "0.NA/88.1"] {
        assert_eq!(
            rc(&run(&node, resolve(handle, false), None).await),
            ResponseCode::HandleNotFound,
            "{handle}"
        );
    }
    let sibling = node.danger_store().get(b"0.NA/88.119").unwrap().unwrap();
    let values = Record::parse(&sibling.values)
        .unwrap()
        .decode_all()
        .unwrap();
    assert_eq!(values.len(), 2);
    assert_eq!(values[1].data, site(2652));
}
