//! Auxiliary entries: the same behaviour from [`MemStore`] and [`RedbStore`], atomicity with
//! handle changes, append-only sequences, scans, and persistence.

use idnode_proto::normalize;
use idnode_registry::{
    AuxScan, Expect, MemStore, Mutation, RedbStore, Store, StoreError, WriteBatch,
};
use tempfile::TempDir;

fn put_aux(space: &str, key: &[u8], value: &[u8], expect: Expect) -> Mutation {
    Mutation::PutAux {
        space: space.to_owned(),
        key: key.to_vec(),
        value: value.to_vec(),
        expect,
    }
}

fn append(space: &str, key_prefix: &[u8], value: &[u8]) -> Mutation {
    Mutation::AppendAux {
        space: space.to_owned(),
        key_prefix: key_prefix.to_vec(),
        value: value.to_vec(),
    }
}

async fn commit<S: Store>(store: &S, mutations: Vec<Mutation>) -> Result<(), StoreError> {
    store.commit(WriteBatch { mutations }).await
}

fn assert_conflict(result: Result<(), StoreError>, name: &str) {
    match result {
        Err(StoreError::Conflict { handle }) => assert_eq!(handle, name),
        other => panic!("expected a conflict on {name}, got {other:?}"),
    }
}

async fn puts_gets_and_preconditions<S: Store>(store: &S) {
    assert_eq!(store.aux("template", b"a").unwrap(), None);
    commit(
        store,
        vec![put_aux("template", b"a", b"one", Expect::Absent)],
    )
    .await
    .unwrap();
    let entry = store.aux("template", b"a").unwrap().unwrap();
    assert_eq!((entry.version, entry.value.as_slice()), (1, &b"one"[..]));
    // Another space with the same key is another entry.
    assert_eq!(store.aux("tokens", b"a").unwrap(), None);

    assert_conflict(
        commit(store, vec![put_aux("template", b"a", b"x", Expect::Absent)]).await,
        "template:a",
    );
    assert_conflict(
        commit(
            store,
            vec![put_aux("template", b"a", b"x", Expect::Version(7))],
        )
        .await,
        "template:a",
    );
    commit(
        store,
        vec![put_aux("template", b"a", b"two", Expect::Version(1))],
    )
    .await
    .unwrap();
    let entry = store.aux("template", b"a").unwrap().unwrap();
    assert_eq!((entry.version, entry.value.as_slice()), (2, &b"two"[..]));

    let delete = |expect| Mutation::DeleteAux {
        space: "template".to_owned(),
        key: b"a".to_vec(),
        expect,
    };
    assert_conflict(
        commit(store, vec![delete(Expect::Absent)]).await,
        "template:a",
    );
    assert_conflict(
        commit(store, vec![delete(Expect::Version(1))]).await,
        "template:a",
    );
    commit(store, vec![delete(Expect::Version(2))])
        .await
        .unwrap();
    assert_eq!(store.aux("template", b"a").unwrap(), None);
}

async fn batches_with_handles_are_atomic<S: Store>(store: &S) {
    commit(
        store,
        vec![put_aux("ent", b"u1", b"pending", Expect::Absent)],
    )
    .await
    .unwrap();
    // The handle write is fine but the aux precondition fails: nothing is applied.
    let result = commit(
        store,
        vec![
            Mutation::PutHandle {
                handle: "88.1/x".to_owned(),
                values: vec![0, 0, 0, 0],
                expect: Expect::Absent,
            },
            append("audit", b"", b"created 88.1/x"),
            put_aux("ent", b"u1", b"enabled", Expect::Version(5)),
        ],
    )
    .await;
    assert_conflict(result, "ent:u1");
    assert_eq!(store.get(&normalize("88.1/x")).unwrap(), None);
    assert!(
        store
            .scan_aux("audit", &AuxScan::all(10))
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.aux("$seq", b"audit").unwrap(), None);

    // The same batch with the right version applies everything.
    commit(
        store,
        vec![
            Mutation::PutHandle {
                handle: "88.1/x".to_owned(),
                values: vec![0, 0, 0, 0],
                expect: Expect::Absent,
            },
            append("audit", b"", b"created 88.1/x"),
            put_aux("ent", b"u1", b"enabled", Expect::Version(1)),
        ],
    )
    .await
    .unwrap();
    assert!(store.get(&normalize("88.1/x")).unwrap().is_some());
    let audit = store.scan_aux("audit", &AuxScan::all(10)).unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].0, 1u64.to_be_bytes());
    assert_eq!(
        store.aux("ent", b"u1").unwrap().unwrap().value,
        b"enabled".to_vec()
    );
}

async fn appends_and_scans<S: Store>(store: &S) {
    // Two appends in one batch and one in another, with a time prefix.
    let t1 = 1000u64.to_be_bytes();
    let t2 = 2000u64.to_be_bytes();
    commit(
        store,
        vec![append("log", &t1, b"a"), append("log", &t1, b"b")],
    )
    .await
    .unwrap();
    commit(store, vec![append("log", &t2, b"c")]).await.unwrap();
    let all = store.scan_aux("log", &AuxScan::all(100)).unwrap();
    let values: Vec<&[u8]> = all.iter().map(|(_, e)| e.value.as_slice()).collect();
    assert_eq!(values, [b"a", b"b", b"c"]);
    let mut third_key = t2.to_vec();
    third_key.extend_from_slice(&3u64.to_be_bytes());
    assert_eq!(all[2].0, third_key);

    // A time range, a prefix, a reverse scan with a limit.
    let since = store
        .scan_aux("log", &AuxScan::range(&t2, None, 100))
        .unwrap();
    assert_eq!(since.len(), 1);
    let before = store
        .scan_aux("log", &AuxScan::range(&[], Some(&t2), 100))
        .unwrap();
    assert_eq!(before.len(), 2);
    let last = store.scan_aux("log", &AuxScan::all(1).reversed()).unwrap();
    assert_eq!(last[0].1.value, b"c");
    let prefixed = store.scan_aux("log", &AuxScan::prefixed(&t1, 100)).unwrap();
    assert_eq!(prefixed.len(), 2);
    let empty = store
        .scan_aux("log", &AuxScan::range(&t2, Some(&t1), 100))
        .unwrap();
    assert!(empty.is_empty());

    // Neighbouring spaces do not leak into scans.
    commit(
        store,
        vec![
            put_aux("lo", b"\xff", b"x", Expect::Any),
            put_aux("log\0", b"", b"y", Expect::Any),
            put_aux("logs", b"", b"z", Expect::Any),
        ],
    )
    .await
    .unwrap();
    assert_eq!(store.scan_aux("log", &AuxScan::all(100)).unwrap().len(), 3);
    assert_eq!(
        store
            .scan_aux("log", &AuxScan::all(100).reversed())
            .unwrap()
            .len(),
        3
    );
}

async fn rejects_bad_addresses<S: Store>(store: &S) {
    let long_key = vec![b'k'; 2000];
    assert!(matches!(
        commit(store, vec![put_aux("s", &long_key, b"", Expect::Any)]).await,
        Err(StoreError::Storage(_))
    ));
    assert!(matches!(
        commit(store, vec![put_aux("", b"k", b"", Expect::Any)]).await,
        Err(StoreError::Storage(_))
    ));
}

async fn all_behaviour<S: Store>(store: &S) {
    puts_gets_and_preconditions(store).await;
    batches_with_handles_are_atomic(store).await;
    appends_and_scans(store).await;
    rejects_bad_addresses(store).await;
}

#[tokio::test]
async fn mem_store() {
    all_behaviour(&MemStore::new()).await;
}

#[tokio::test]
async fn redb_store() {
    let dir = TempDir::new().unwrap();
    let store = RedbStore::open(&dir.path().join("db.redb")).unwrap();
    all_behaviour(&store).await;
}

#[tokio::test]
async fn redb_aux_entries_persist_and_sequences_continue() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("db.redb");
    {
        let store = RedbStore::open(&path).unwrap();
        commit(
            &store,
            vec![
                put_aux("template", b"t\x00\x00\x00\x00\x01", b"{}", Expect::Absent),
                append("audit", b"", b"1"),
            ],
        )
        .await
        .unwrap();
    }
    let store = RedbStore::open(&path).unwrap();
    assert!(
        store
            .aux("template", b"t\x00\x00\x00\x00\x01")
            .unwrap()
            .is_some()
    );
    commit(&store, vec![append("audit", b"", b"2")])
        .await
        .unwrap();
    let keys: Vec<Vec<u8>> = store
        .scan_aux("audit", &AuxScan::all(10))
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        keys,
        [1u64.to_be_bytes().to_vec(), 2u64.to_be_bytes().to_vec()]
    );
}

#[tokio::test]
async fn concurrent_appends_get_distinct_sequence_numbers() {
    let dir = TempDir::new().unwrap();
    let store = std::sync::Arc::new(RedbStore::open(&dir.path().join("db.redb")).unwrap());
    let mut tasks = Vec::new();
    for i in 0..64u32 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            commit(&*store, vec![append("audit", b"", &i.to_be_bytes())]).await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let entries = store.scan_aux("audit", &AuxScan::all(1000)).unwrap();
    assert_eq!(entries.len(), 64);
    let mut seen: Vec<Vec<u8>> = entries.into_iter().map(|(_, e)| e.value).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 64);
}
