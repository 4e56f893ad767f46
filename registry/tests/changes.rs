//! The change feed and the handle scan, against [`MemStore`] and [`RedbStore`]: what is
//! recorded, what is not, ordering, paging, persistence, and gap-free numbering under concurrent
//! group commits.

use std::sync::Arc;

use idnode_registry::{
    Change, Expect, MemStore, Mutation, RedbStore, Store, StoreError, WriteBatch,
};
use tempfile::TempDir;

fn put(handle: &str, expect: Expect) -> Mutation {
    Mutation::PutHandle {
        handle: handle.to_owned(),
        values: vec![0, 0, 0, 0],
        expect,
    }
}

fn delete(handle: &str) -> Mutation {
    Mutation::DeleteHandle {
        handle: handle.to_owned(),
        expect: Expect::Any,
    }
}

async fn commit<S: Store>(store: &S, mutations: Vec<Mutation>) -> Result<(), StoreError> {
    store.commit(WriteBatch { mutations }).await
}

fn keys(changes: &[Change]) -> Vec<(u64, String)> {
    changes
        .iter()
        .map(|c| (c.seq, String::from_utf8(c.key.clone()).unwrap()))
        .collect()
}

async fn feed_records_handle_mutations<S: Store>(store: &S) {
    assert_eq!(store.last_change().unwrap(), 0);
    assert!(store.changes_since(0, 10).unwrap().is_empty());

    commit(
        store,
        vec![
            put("88.1/a", Expect::Absent),
            put("88.1/B", Expect::Absent),
            delete("88.1/A"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(store.last_change().unwrap(), 3);
    assert_eq!(
        keys(&store.changes_since(0, 10).unwrap()),
        vec![
            (1, "88.1/A".to_owned()),
            (2, "88.1/B".to_owned()),
            (3, "88.1/A".to_owned()),
        ]
    );

    // A rejected batch records nothing, not even its mutations before the failing one.
    let rejected = commit(
        store,
        vec![put("88.1/c", Expect::Absent), put("88.1/b", Expect::Absent)],
    )
    .await;
    assert!(matches!(rejected, Err(StoreError::Conflict { .. })));
    assert_eq!(store.last_change().unwrap(), 3);

    // Homing and auxiliary entries are not handle changes.
    commit(
        store,
        vec![
            Mutation::HomePrefix {
                prefix: "88.1".to_owned(),
            },
            Mutation::PutAux {
                space: "template".to_owned(),
                key: b"k".to_vec(),
                value: b"v".to_vec(),
                expect: Expect::Any,
            },
        ],
    )
    .await
    .unwrap();
    assert_eq!(store.last_change().unwrap(), 3);

    // Replacing a handle is a change too; paging continues after the given sequence.
    commit(store, vec![put("88.1/b", Expect::Version(1))])
        .await
        .unwrap();
    assert_eq!(
        keys(&store.changes_since(1, 2).unwrap()),
        vec![(2, "88.1/B".to_owned()), (3, "88.1/A".to_owned())]
    );
    assert_eq!(
        keys(&store.changes_since(3, 10).unwrap()),
        vec![(4, "88.1/B".to_owned())]
    );
    assert!(store.changes_since(4, 10).unwrap().is_empty());
    assert!(store.changes_since(u64::MAX, 10).unwrap().is_empty());
    assert!(store.changes_since(0, 0).unwrap().is_empty());
}

async fn scan_pages_through_every_handle<S: Store>(store: &S) {
    assert!(store.scan_handles(b"", 10).unwrap().is_empty());
    let names = ["88.1/c", "88.1/A", "88.2/b", "0.NA/88.1", "88.1/B"];
    commit(
        store,
        names.iter().map(|n| put(n, Expect::Absent)).collect(),
    )
    .await
    .unwrap();
    let mut seen = Vec::new();
    let mut after = Vec::new();
    loop {
        let page = store.scan_handles(&after, 2).unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        for (key, record) in &page {
            assert_eq!(key, &idnode_proto::normalize(&record.handle));
            seen.push(record.handle.clone());
        }
        after = page.last().unwrap().0.clone();
    }
    assert_eq!(
        seen,
        vec!["0.NA/88.1", "88.1/A", "88.1/B", "88.1/c", "88.2/b"]
    );
}

#[tokio::test]
async fn mem_feed_records_handle_mutations() {
    feed_records_handle_mutations(&MemStore::new()).await;
}

#[tokio::test]
async fn redb_feed_records_handle_mutations() {
    let dir = TempDir::new().unwrap();
    feed_records_handle_mutations(&RedbStore::open(&dir.path().join("db.redb")).unwrap()).await;
}

#[tokio::test]
async fn mem_scan_pages_through_every_handle() {
    scan_pages_through_every_handle(&MemStore::new()).await;
}

#[tokio::test]
async fn redb_scan_pages_through_every_handle() {
    let dir = TempDir::new().unwrap();
    scan_pages_through_every_handle(&RedbStore::open(&dir.path().join("db.redb")).unwrap()).await;
}

#[tokio::test]
async fn redb_feed_survives_reopening() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("db.redb");
    {
        let store = RedbStore::open(&path).unwrap();
        commit(&store, vec![put("88.1/a", Expect::Absent)])
            .await
            .unwrap();
    }
    let store = RedbStore::open(&path).unwrap();
    assert_eq!(store.last_change().unwrap(), 1);
    commit(&store, vec![delete("88.1/a")]).await.unwrap();
    assert_eq!(
        keys(&store.changes_since(0, 10).unwrap()),
        vec![(1, "88.1/A".to_owned()), (2, "88.1/A".to_owned())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redb_numbers_concurrent_group_commits_without_gaps() {
    let dir = TempDir::new().unwrap();
    let store = Arc::new(RedbStore::open(&dir.path().join("db.redb")).unwrap());
    let writers = 64;
    let tasks: Vec<_> = (0..writers)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let handle = format!("88.1/h{i}");
                commit(
                    &*store,
                    vec![put(&handle, Expect::Absent), put(&handle, Expect::Any)],
                )
                .await
                .unwrap();
                // This one conflicts and must leave no trace in the feed.
                let _ = commit(&*store, vec![put(&handle, Expect::Absent)]).await;
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert!(store.stats().largest_group >= 1);
    let feed = store.changes_since(0, 10_000).unwrap();
    assert_eq!(feed.len(), writers * 2);
    assert_eq!(store.last_change().unwrap(), (writers * 2) as u64);
    for (expected, change) in (1u64..).zip(&feed) {
        assert_eq!(change.seq, expected);
    }
    // The two puts of one batch are adjacent: a batch is applied as a whole.
    for pair in feed.chunks(2) {
        assert_eq!(pair[0].key, pair[1].key);
    }
}
