//! The behaviour every [`Store`] must have, run against [`MemStore`] and [`RedbStore`], plus
//! what only the redb store has: persistence, group commit under concurrency, and agreement
//! with the in-memory store on random mutation sequences.

use std::sync::Arc;

use idnode_proto::normalize;
use idnode_registry::{
    Expect, MemStore, Mutation, RedbStore, Store, StoreError, StoredRecord, WriteBatch,
};
use proptest::prelude::*;
use tempfile::TempDir;

fn put(handle: &str, values: &[u8], expect: Expect) -> Mutation {
    Mutation::PutHandle {
        handle: handle.to_owned(),
        values: values.to_vec(),
        expect,
    }
}

fn delete(handle: &str, expect: Expect) -> Mutation {
    Mutation::DeleteHandle {
        handle: handle.to_owned(),
        expect,
    }
}

fn home(prefix: &str) -> Mutation {
    Mutation::HomePrefix {
        prefix: prefix.to_owned(),
    }
}

fn unhome(prefix: &str) -> Mutation {
    Mutation::UnhomePrefix {
        prefix: prefix.to_owned(),
    }
}

fn batch(mutations: Vec<Mutation>) -> WriteBatch {
    WriteBatch { mutations }
}

async fn one<S: Store>(store: &S, mutation: Mutation) -> Result<(), StoreError> {
    store.commit(batch(vec![mutation])).await
}

fn fetch<S: Store>(store: &S, handle: &str) -> Option<StoredRecord> {
    store.get(&normalize(handle)).unwrap()
}

fn assert_conflict(result: Result<(), StoreError>, handle: &str) {
    match result {
        Err(StoreError::Conflict { handle: failed }) => assert_eq!(failed, handle),
        other => panic!("expected a conflict on {handle}, got {other:?}"),
    }
}

async fn create_if_absent_conflicts<S: Store>(store: &S) {
    one(store, put("88.1/a", b"v1", Expect::Absent))
        .await
        .unwrap();
    assert_conflict(
        one(store, put("88.1/A", b"v2", Expect::Absent)).await,
        "88.1/A",
    );
    let record = fetch(store, "88.1/a").unwrap();
    assert_eq!(record.version, 1);
    assert_eq!(record.values, b"v1");
}

async fn version_preconditions<S: Store>(store: &S) {
    assert_conflict(
        one(store, put("88.1/v", b"x", Expect::Version(1))).await,
        "88.1/v",
    );
    assert!(fetch(store, "88.1/v").is_none());
    one(store, put("88.1/v", b"a", Expect::Any)).await.unwrap();
    one(store, put("88.1/v", b"b", Expect::Version(1)))
        .await
        .unwrap();
    assert_conflict(
        one(store, put("88.1/v", b"c", Expect::Version(1))).await,
        "88.1/v",
    );
    one(store, put("88.1/v", b"d", Expect::Any)).await.unwrap();
    let record = fetch(store, "88.1/v").unwrap();
    assert_eq!(
        (record.version, record.values.as_slice()),
        (3, b"d".as_slice())
    );
}

async fn delete_semantics<S: Store>(store: &S) {
    one(store, put("88.1/d", b"x", Expect::Absent))
        .await
        .unwrap();
    assert_conflict(one(store, delete("88.1/d", Expect::Absent)).await, "88.1/d");
    assert_conflict(
        one(store, delete("88.1/d", Expect::Version(2))).await,
        "88.1/d",
    );
    one(store, delete("88.1/D", Expect::Version(1)))
        .await
        .unwrap();
    assert!(fetch(store, "88.1/d").is_none());
    // Deleting what is not there: fine without a precondition, a conflict with one.
    one(store, delete("88.1/d", Expect::Any)).await.unwrap();
    assert_conflict(
        one(store, delete("88.1/d", Expect::Version(1))).await,
        "88.1/d",
    );
    // A handle created again starts over at version 1.
    one(store, put("88.1/d", b"y", Expect::Absent))
        .await
        .unwrap();
    assert_eq!(fetch(store, "88.1/d").unwrap().version, 1);
}

async fn batches_are_atomic<S: Store>(store: &S) {
    one(store, put("88.1/taken", b"x", Expect::Absent))
        .await
        .unwrap();
    let failing = batch(vec![
        put("88.1/new", b"n", Expect::Absent),
        home("88.9"),
        put("88.1/taken", b"y", Expect::Absent),
    ]);
    assert_conflict(store.commit(failing).await, "88.1/taken");
    assert!(fetch(store, "88.1/new").is_none());
    assert!(!store.is_homed("88.9").unwrap());
    assert_eq!(fetch(store, "88.1/taken").unwrap().values, b"x");

    // Later mutations of a batch see the earlier ones.
    let chained = batch(vec![
        put("88.1/chain", b"1", Expect::Absent),
        put("88.1/CHAIN", b"2", Expect::Version(1)),
        delete("88.1/taken", Expect::Version(1)),
        put("88.1/taken", b"z", Expect::Absent),
    ]);
    store.commit(chained).await.unwrap();
    let record = fetch(store, "88.1/chain").unwrap();
    assert_eq!(
        record,
        StoredRecord {
            handle: "88.1/chain".to_owned(),
            version: 2,
            values: b"2".to_vec()
        }
    );
    let taken = fetch(store, "88.1/taken").unwrap();
    assert_eq!(
        (taken.version, taken.values.as_slice()),
        (1, b"z".as_slice())
    );

    // An empty batch is a no-op that succeeds.
    store.commit(WriteBatch::default()).await.unwrap();
}

async fn spelling_is_kept<S: Store>(store: &S) {
    one(store, put("88.1/MixedCase", b"1", Expect::Absent))
        .await
        .unwrap();
    one(store, put("88.1/MIXEDCASE", b"2", Expect::Any))
        .await
        .unwrap();
    one(store, put("88.1/mixedcase", b"3", Expect::Version(2)))
        .await
        .unwrap();
    let record = fetch(store, "88.1/mixedcase").unwrap();
    assert_eq!(record.handle, "88.1/MixedCase");
    assert_eq!(record.version, 3);
    assert_eq!(
        store.list_handles("88.1", 0, 10).unwrap(),
        ["88.1/MixedCase"]
    );
}

async fn homing<S: Store>(store: &S) {
    assert!(store.homed_prefixes().unwrap().is_empty());
    store
        .commit(batch(vec![
            home("88.118.b"),
            home("88.118.A"),
            home("20.500"),
        ]))
        .await
        .unwrap();
    one(store, home("88.118.a")).await.unwrap();
    assert!(store.is_homed("88.118.B").unwrap());
    assert!(store.is_homed("88.118.a").unwrap());
    assert!(!store.is_homed("88.118").unwrap());
    assert_eq!(
        store.homed_prefixes().unwrap(),
        ["20.500", "88.118.A", "88.118.b"]
    );
    one(store, unhome("88.118.B")).await.unwrap();
    one(store, unhome("88.118.B")).await.unwrap();
    assert!(!store.is_homed("88.118.b").unwrap());
    assert_eq!(store.homed_prefixes().unwrap(), ["20.500", "88.118.A"]);
}

async fn commit_all_applies_each_batch_on_its_own<S: Store>(store: &S) {
    one(store, put("88.1/taken", b"old", Expect::Absent))
        .await
        .unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let epilogue: idnode_registry::Epilogue = {
        let seen = Arc::clone(&seen);
        Box::new(move |applied: &[bool]| {
            seen.lock().unwrap().extend_from_slice(applied);
            let count = applied.iter().filter(|a| **a).count();
            Some(batch(vec![put(
                "88.1/summary",
                count.to_string().as_bytes(),
                Expect::Absent,
            )]))
        })
    };
    let results = store
        .commit_all(
            vec![
                batch(vec![put("88.1/a", b"a", Expect::Absent), home("88.7")]),
                // Fails on its own; the batches around it still apply.
                batch(vec![
                    put("88.1/half", b"h", Expect::Absent),
                    put("88.1/taken", b"new", Expect::Absent),
                ]),
                batch(vec![put("88.1/b", b"b", Expect::Absent)]),
                // Sees the effect of the first batch, as if committed after it.
                batch(vec![put("88.1/a", b"a2", Expect::Version(1))]),
                batch(vec![put("88.1/b", b"b2", Expect::Absent)]),
            ],
            Some(epilogue),
        )
        .await;
    assert!(results[0].is_ok());
    assert_conflict(results[1].clone_err(), "88.1/taken");
    assert!(results[2].is_ok());
    assert!(results[3].is_ok());
    assert_conflict(results[4].clone_err(), "88.1/b");
    assert_eq!(*seen.lock().unwrap(), [true, false, true, true, false]);
    assert_eq!(fetch(store, "88.1/a").unwrap().values, b"a2");
    assert_eq!(fetch(store, "88.1/a").unwrap().version, 2);
    assert_eq!(fetch(store, "88.1/b").unwrap().values, b"b");
    assert!(fetch(store, "88.1/half").is_none());
    assert_eq!(fetch(store, "88.1/taken").unwrap().values, b"old");
    assert_eq!(fetch(store, "88.1/summary").unwrap().values, b"3");
    assert!(store.is_homed("88.7").unwrap());

    // A closing batch that fails its precondition keeps nothing of the call.
    let results = store
        .commit_all(
            vec![batch(vec![put("88.1/c", b"c", Expect::Absent)])],
            Some(Box::new(|_: &[bool]| {
                Some(batch(vec![put("88.1/summary", b"x", Expect::Absent)]))
            })),
        )
        .await;
    assert!(matches!(results[..], [Err(StoreError::Storage(_))]));
    assert!(fetch(store, "88.1/c").is_none());
    assert_eq!(fetch(store, "88.1/summary").unwrap().values, b"3");

    // Without an epilogue, and with nothing to apply.
    let results = store
        .commit_all(vec![batch(vec![put("88.1/c", b"c", Expect::Absent)])], None)
        .await;
    assert!(results[0].is_ok());
    assert!(store.commit_all(Vec::new(), None).await.is_empty());
}

trait CloneErr {
    fn clone_err(&self) -> Result<(), StoreError>;
}

impl CloneErr for Result<(), StoreError> {
    fn clone_err(&self) -> Result<(), StoreError> {
        match self {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict { handle }) => Err(StoreError::Conflict {
                handle: handle.clone(),
            }),
            Err(other) => Err(StoreError::Storage(other.to_string())),
        }
    }
}

async fn listing<S: Store>(store: &S) {
    let mut mutations = Vec::new();
    for i in 0..25 {
        mutations.push(put(&format!("88.5/Item{i:02}"), b"v", Expect::Absent));
    }
    // Neighbours that must not be listed under 88.5.
    for other in ["88.50/x", "88.5.1/x", "88.4/x", "88.6/x", "88.5"] {
        mutations.push(put(other, b"v", Expect::Absent));
    }
    store.commit(batch(mutations)).await.unwrap();

    assert_eq!(store.count_handles("88.5").unwrap(), 25);
    assert_eq!(store.count_handles("88.5.1").unwrap(), 1);
    assert_eq!(store.count_handles("88.7").unwrap(), 0);
    let first = store.list_handles("88.5", 0, 10).unwrap();
    let expected: Vec<String> = (0..10).map(|i| format!("88.5/Item{i:02}")).collect();
    assert_eq!(first, expected);
    let last = store.list_handles("88.5", 20, 10).unwrap();
    let expected: Vec<String> = (20..25).map(|i| format!("88.5/Item{i:02}")).collect();
    assert_eq!(last, expected);
    assert!(store.list_handles("88.5", 25, 10).unwrap().is_empty());
    assert!(store.list_handles("88.5", 0, 0).unwrap().is_empty());

    // Prefixes match in any letter case.
    one(store, put("88.ab/one", b"v", Expect::Absent))
        .await
        .unwrap();
    assert_eq!(store.list_handles("88.AB", 0, 5).unwrap(), ["88.ab/one"]);
    assert_eq!(store.count_handles("88.Ab").unwrap(), 1);
}

/// Runs one behaviour against both stores.
macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {
        mod mem {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(&idnode_registry::MemStore::new()).await;
                }
            )*
        }
        mod redb {
            $(
                #[tokio::test]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = idnode_registry::RedbStore::open(&dir.path().join("db.redb")).unwrap();
                    super::$name(&store).await;
                }
            )*
        }
    };
}

both_stores!(
    create_if_absent_conflicts,
    version_preconditions,
    delete_semantics,
    batches_are_atomic,
    spelling_is_kept,
    homing,
    commit_all_applies_each_batch_on_its_own,
    listing,
);

fn temp_db() -> (TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idnode.redb");
    (dir, path)
}

#[tokio::test]
async fn redb_persists_across_reopen() {
    let (_dir, path) = temp_db();
    {
        let store = RedbStore::open(&path).unwrap();
        store
            .commit(batch(vec![
                put("88.1/Kept", b"values", Expect::Absent),
                put("88.1/gone", b"x", Expect::Absent),
                home("88.1"),
            ]))
            .await
            .unwrap();
        one(&store, delete("88.1/gone", Expect::Any)).await.unwrap();
        one(&store, put("88.1/kept", b"values2", Expect::Version(1)))
            .await
            .unwrap();
    }
    let store = RedbStore::open(&path).unwrap();
    let record = fetch(&store, "88.1/KEPT").unwrap();
    assert_eq!(
        record,
        StoredRecord {
            handle: "88.1/Kept".to_owned(),
            version: 2,
            values: b"values2".to_vec()
        }
    );
    assert!(fetch(&store, "88.1/gone").is_none());
    assert_eq!(store.homed_prefixes().unwrap(), ["88.1"]);
    assert_eq!(store.count_handles("88.1").unwrap(), 1);
}

/// The homed prefixes are kept in memory: every change is visible as soon as its commit
/// returns, whether it came through `commit` or `commit_all`, and the copy is rebuilt from the
/// file at open.
#[tokio::test]
async fn redb_homed_prefixes_are_current_and_survive_reopen() {
    let (_dir, path) = temp_db();
    {
        let store = RedbStore::open(&path).unwrap();
        one(&store, home("88.118.A")).await.unwrap();
        assert!(store.is_homed("88.118.a").unwrap());
        one(&store, home("88.118.a")).await.unwrap();
        assert_eq!(store.homed_prefixes().unwrap(), ["88.118.A"]);
        let results = store
            .commit_all(
                vec![
                    batch(vec![home("20.500")]),
                    // A failed batch homes nothing.
                    batch(vec![home("99.9"), put("88.1/x", b"", Expect::Version(4))]),
                    batch(vec![home("88.2"), unhome("88.2"), home("88.3")]),
                ],
                None,
            )
            .await;
        assert!(results[0].is_ok() && results[1].is_err() && results[2].is_ok());
        assert!(!store.is_homed("99.9").unwrap());
        assert!(!store.is_homed("88.2").unwrap());
        assert_eq!(
            store.homed_prefixes().unwrap(),
            ["20.500", "88.118.A", "88.3"]
        );
        one(&store, unhome("20.500")).await.unwrap();
        assert!(!store.is_homed("20.500").unwrap());
    }
    let store = RedbStore::open(&path).unwrap();
    assert_eq!(store.homed_prefixes().unwrap(), ["88.118.A", "88.3"]);
    assert!(store.is_homed("88.3").unwrap());
    assert!(!store.is_homed("20.500").unwrap());
}

#[tokio::test]
async fn redb_open_twice_is_an_error() {
    let (_dir, path) = temp_db();
    let _store = RedbStore::open(&path).unwrap();
    assert!(matches!(
        RedbStore::open(&path),
        Err(StoreError::Storage(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_committers_are_grouped() {
    const TASKS: usize = 64;
    const PER_TASK: usize = 50;
    let (_dir, path) = temp_db();
    {
        let store = Arc::new(RedbStore::open(&path).unwrap());
        let mut tasks = Vec::new();
        for task in 0..TASKS {
            let store = Arc::clone(&store);
            tasks.push(tokio::spawn(async move {
                for i in 0..PER_TASK {
                    let handle = format!("88.7/t{task}-{i}");
                    one(&*store, put(&handle, handle.as_bytes(), Expect::Absent))
                        .await
                        .unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let stats = store.stats();
        let batches = (TASKS * PER_TASK) as u64;
        eprintln!("group commit: {stats:?}");
        assert_eq!(stats.batches, batches);
        assert_eq!(stats.conflicts + stats.failures, 0);
        assert!(
            stats.transactions < batches,
            "no grouping happened: {stats:?}"
        );
        assert!(stats.largest_group > 1, "{stats:?}");
    }
    let store = RedbStore::open(&path).unwrap();
    assert_eq!(store.count_handles("88.7").unwrap(), TASKS * PER_TASK);
    for task in 0..TASKS {
        for i in 0..PER_TASK {
            let handle = format!("88.7/t{task}-{i}");
            assert_eq!(fetch(&store, &handle).unwrap().values, handle.as_bytes());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_creates_of_one_handle_have_one_winner() {
    let (_dir, path) = temp_db();
    let store = Arc::new(RedbStore::open(&path).unwrap());
    let mut tasks = Vec::new();
    for task in 0..100u8 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let racing = batch(vec![
                put(&format!("88.8/own{task}"), &[task], Expect::Absent),
                put("88.8/contested", &[task], Expect::Absent),
            ]);
            store.commit(racing).await
        }));
    }
    let mut winners = Vec::new();
    for (task, handle) in tasks.into_iter().enumerate() {
        match handle.await.unwrap() {
            Ok(()) => winners.push(task),
            Err(StoreError::Conflict { handle }) => assert_eq!(handle, "88.8/contested"),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1);
    let winner = winners[0];
    assert_eq!(
        fetch(&*store, "88.8/contested").unwrap().values,
        [winner as u8]
    );
    // The losers' other mutation was not applied either.
    assert_eq!(store.count_handles("88.8").unwrap(), 2);
    assert!(fetch(&*store, &format!("88.8/own{winner}")).is_some());
    let stats = store.stats();
    assert_eq!((stats.batches, stats.conflicts), (1, 99));
}

/// A small alphabet of handles and prefixes so that random sequences collide often.
fn arb_mutation() -> impl Strategy<Value = Mutation> {
    let handle = prop::sample::select(vec![
        "88.1/a", "88.1/A", "88.1/b", "88.1/B", "88.2/a", "88.10/a", "88.1.2/a",
    ])
    .prop_map(str::to_owned);
    let prefix = prop::sample::select(vec!["88.1", "88.A", "88.a", "88.2"]).prop_map(str::to_owned);
    let expect = prop_oneof![
        Just(Expect::Any),
        Just(Expect::Absent),
        (1u64..4).prop_map(Expect::Version),
    ];
    prop_oneof![
        4 => (handle.clone(), prop::collection::vec(any::<u8>(), 0..8), expect.clone())
            .prop_map(|(handle, values, expect)| Mutation::PutHandle { handle, values, expect }),
        2 => (handle, expect).prop_map(|(handle, expect)| Mutation::DeleteHandle { handle, expect }),
        1 => prefix.clone().prop_map(|prefix| Mutation::HomePrefix { prefix }),
        1 => prefix.prop_map(|prefix| Mutation::UnhomePrefix { prefix }),
    ]
}

/// Everything a caller can observe about a store.
fn observe<S: Store>(store: &S) -> (Vec<Option<StoredRecord>>, Vec<String>, Vec<Vec<String>>) {
    let records = ["88.1/A", "88.1/B", "88.2/A", "88.10/A", "88.1.2/A"]
        .iter()
        .map(|key| store.get(key.as_bytes()).unwrap())
        .collect();
    let listings = ["88.1", "88.2", "88.10", "88.1.2"]
        .iter()
        .map(|prefix| {
            let listed = store.list_handles(prefix, 0, 100).unwrap();
            assert_eq!(listed.len(), store.count_handles(prefix).unwrap());
            listed
        })
        .collect();
    (records, store.homed_prefixes().unwrap(), listings)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn redb_agrees_with_memory(
        batches in prop::collection::vec(prop::collection::vec(arb_mutation(), 0..4), 1..12)
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (_dir, path) = temp_db();
        let redb = RedbStore::open(&path).unwrap();
        let mem = MemStore::new();
        runtime.block_on(async {
            for mutations in batches {
                let from_mem = mem.commit(batch(mutations.clone())).await;
                let from_redb = redb.commit(batch(mutations)).await;
                prop_assert_eq!(format!("{from_mem:?}"), format!("{from_redb:?}"));
                prop_assert_eq!(observe(&mem), observe(&redb));
            }
            Ok(())
        })?;
        drop(redb);
        let reopened = RedbStore::open(&path).unwrap();
        prop_assert_eq!(observe(&mem), observe(&reopened));
    }
}

#[test]
fn redb_refuses_an_unknown_schema_version() {
    let (_dir, path) = temp_db();
    drop(RedbStore::open(&path).unwrap());
    {
        let db = ::redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let meta: ::redb::TableDefinition<'_, &str, u64> = ::redb::TableDefinition::new("meta");
            txn.open_table(meta).unwrap().insert("schema", 99).unwrap();
        }
        txn.commit().unwrap();
    }
    match RedbStore::open(&path) {
        Err(StoreError::Storage(message)) => assert!(message.contains("99"), "{message}"),
        other => panic!("expected a schema error, got {other:?}"),
    }
}

#[tokio::test]
async fn redb_reports_a_corrupt_record_instead_of_panicking() {
    let (_dir, path) = temp_db();
    drop(RedbStore::open(&path).unwrap());
    {
        let db = ::redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let handles: ::redb::TableDefinition<'_, &[u8], &[u8]> =
                ::redb::TableDefinition::new("handles");
            let mut table = txn.open_table(handles).unwrap();
            // A header that claims a 200-byte spelling in a 12-byte record.
            table
                .insert(
                    b"88.1/BAD".as_slice(),
                    [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 200, b'x'].as_slice(),
                )
                .unwrap();
        }
        txn.commit().unwrap();
    }
    let store = RedbStore::open(&path).unwrap();
    assert!(matches!(
        store.get(b"88.1/BAD"),
        Err(StoreError::Storage(_))
    ));
    assert!(matches!(
        store.list_handles("88.1", 0, 10),
        Err(StoreError::Storage(_))
    ));
    // A batch that has to read the corrupt record fails alone; the store keeps working.
    let failed = one(&store, put("88.1/bad", b"v", Expect::Any)).await;
    assert!(matches!(failed, Err(StoreError::Storage(_))), "{failed:?}");
    one(&store, put("88.2/good", b"v", Expect::Absent))
        .await
        .unwrap();
    assert_eq!(store.count_handles("88.2").unwrap(), 1);
}
