//! Commit notifications arrive before the writer is acknowledged, name exactly the handles a
//! commit changed, and say when homing changed.

use std::sync::{Arc, Mutex};

use idnode_registry::{CommitNotice, Expect, Mutation, RedbStore, Store, WriteBatch};

fn put(handle: &str, expect: Expect) -> Mutation {
    Mutation::PutHandle {
        handle: handle.into(),
        values: vec![0, 0, 0, 0],
        expect,
    }
}

#[tokio::test]
async fn listener_sees_each_commit_before_its_writer_returns() {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbStore::open(&dir.path().join("db.redb")).unwrap();
    let seen: Arc<Mutex<Vec<CommitNotice>>> = Arc::default();
    let sink = Arc::clone(&seen);
    store.set_commit_listener(Arc::new(move |notice: &CommitNotice| {
        sink.lock().unwrap().push(notice.clone())
    }));

    store
        .commit(WriteBatch {
            mutations: vec![put("88.1/a", Expect::Absent)],
        })
        .await
        .unwrap();
    // The notice is already there when commit returns.
    assert_eq!(
        seen.lock().unwrap().last().unwrap().handles,
        vec![b"88.1/A".to_vec()]
    );

    // A failed precondition changes nothing and notifies nothing.
    let before = seen.lock().unwrap().len();
    let conflict = store
        .commit(WriteBatch {
            mutations: vec![put("88.1/a", Expect::Absent)],
        })
        .await;
    assert!(conflict.is_err());
    assert_eq!(seen.lock().unwrap().len(), before);

    store
        .commit(WriteBatch {
            mutations: vec![
                Mutation::HomePrefix {
                    prefix: "88.1".into(),
                },
                Mutation::DeleteHandle {
                    handle: "88.1/A".into(),
                    expect: Expect::Any,
                },
            ],
        })
        .await
        .unwrap();
    let last = seen.lock().unwrap().last().unwrap().clone();
    assert!(last.prefixes_changed);
    assert_eq!(last.handles, vec![b"88.1/A".to_vec()]);
}
