//! The behaviour every [`TraceStore`] must have, run against [`MemStore`] and [`RedbStore`]:
//! appends with per-subject preconditions, the Merkle log they build, checkpoints that can
//! never disagree with the log, witness state, persistence across reopen, and concurrent
//! appends through the group-commit writer.

use std::sync::Arc;

use idnode_registry::{
    MemStore, RedbStore, Store, StoreError, TraceBatch, TraceEntry, TraceHashes, TraceMutation,
    TraceRead, TraceStore, WitnessState,
};
use idnode_trace::merkle::{
    Hash, MemHashStore, prove_consistency, prove_inclusion, tree_hash, verify_consistency,
    verify_inclusion,
};
use sha2::{Digest as _, Sha256};
use tempfile::TempDir;

fn digest_of(record: &[u8]) -> Hash {
    Hash(Sha256::digest(record).into())
}

fn entry(subject: &str, record: &str, prev: Option<Hash>) -> TraceEntry {
    TraceEntry {
        digest: digest_of(record.as_bytes()),
        record: record.as_bytes().to_vec().into(),
        subject: subject.to_owned(),
        expect_prev: prev,
        mentions: vec!["88.1/pallet".to_owned()],
        event: None,
    }
}

fn append(entries: Vec<TraceEntry>) -> TraceBatch {
    TraceBatch {
        mutations: vec![TraceMutation::Append { entries }],
    }
}

fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    assert!(
        matches!(result, Err(StoreError::Conflict { .. })),
        "expected a conflict, got {result:?}"
    );
}

/// The log the store built, recomputed in memory from its digests.
fn reference<S: TraceStore>(store: &S) -> MemHashStore {
    let size = store.trace_size().unwrap();
    let mut mem = MemHashStore::new();
    for digest in store.trace_digests(0, size as usize).unwrap() {
        mem.append_data(&digest.0);
    }
    mem
}

async fn appends_chain_and_prove<S: TraceStore>(store: &S) {
    let a1 = entry("88.1/a", "a1", None);
    let a2 = entry("88.1/a", "a2", Some(a1.digest));
    let b1 = entry("88.1/b", "b1", None);
    let committed = store
        .commit_trace(append(vec![a1.clone(), a2.clone(), b1.clone()]))
        .await
        .unwrap();
    assert_eq!((committed.first_index, committed.size), (0, 3));
    // The head of a is a2; appending with a stale prev fails and writes nothing.
    assert_conflict(
        store
            .commit_trace(append(vec![entry("88.1/a", "a3", Some(a1.digest))]))
            .await,
    );
    assert_conflict(
        store
            .commit_trace(append(vec![
                entry("88.1/c", "c1", None),
                entry("88.1/b", "b2", None),
            ]))
            .await,
    );
    // A repeated record digest is refused.
    assert_conflict(
        store
            .commit_trace(append(vec![entry("88.1/d", "a1", None)]))
            .await,
    );
    assert_eq!(store.trace_size().unwrap(), 3);
    assert_eq!(store.trace_head("88.1/c").unwrap(), None);
    let a3 = entry("88.1/a", "a3", Some(a2.digest));
    let committed = store.commit_trace(append(vec![a3.clone()])).await.unwrap();
    assert_eq!((committed.first_index, committed.size), (3, 4));

    let head = store.trace_head("88.1/a").unwrap().unwrap();
    assert_eq!((head.index, head.digest), (3, a3.digest));
    let heads = store.trace_heads(&["88.1/c", "88.1/a", "88.1/a"]).unwrap();
    assert_eq!(heads, vec![None, Some(head), Some(head)]);
    let history = store.trace_subject("88.1/a", None, 10).unwrap();
    assert_eq!(
        history.iter().map(|e| e.index).collect::<Vec<_>>(),
        vec![0, 1, 3]
    );
    assert!(history.iter().all(|e| e.chained));
    assert_eq!(
        store
            .trace_subject("88.1/a", Some(0), 1)
            .unwrap()
            .iter()
            .map(|e| e.index)
            .collect::<Vec<_>>(),
        vec![1]
    );
    let pallet = store.trace_subject("88.1/pallet", None, 10).unwrap();
    assert_eq!(pallet.len(), 4);
    assert!(pallet.iter().all(|e| !e.chained));
    assert_eq!(store.trace_index_of(&b1.digest).unwrap(), Some(2));
    let records = store.trace_records(1, 2).unwrap();
    assert_eq!(records[0].record, b"a2");
    assert_eq!(records[1].digest, b1.digest);

    // The stored hashes are those of the RFC 6962 tree over the digests.
    let mem = reference(store);
    let reader = TraceHashes(store);
    assert_eq!(tree_hash(4, &reader).unwrap(), mem.root());
    for index in 0..4 {
        let proof = prove_inclusion(index, 4, &reader).unwrap();
        let leaf = idnode_trace::merkle::leaf_hash(&store.trace_digests(index, 1).unwrap()[0].0);
        verify_inclusion(index, 4, &leaf, &proof, &mem.root()).unwrap();
    }
}

async fn checkpoints_match_the_log<S: TraceStore>(store: &S) {
    let entries: Vec<TraceEntry> = (0..5)
        .map(|i| entry(&format!("88.1/s{i}"), &format!("r{i}"), None))
        .collect();
    store.commit_trace(append(entries)).await.unwrap();
    let root = tree_hash(5, &TraceHashes(store)).unwrap();
    let text = format!("origin\n5\n{root}\n");
    let put = |root: Hash, text: &str, note: &str| TraceBatch {
        mutations: vec![TraceMutation::PutCheckpoint {
            size: 5,
            root,
            text: text.to_owned(),
            note: note.to_owned(),
        }],
    };
    let note = format!("{text}\n\u{2014} origin sig1\n");
    store.commit_trace(put(root, &text, &note)).await.unwrap();
    // A different root for the same size is refused: it is not the log's root.
    let forged = Hash([9; 32]);
    let forged_text = format!("origin\n5\n{forged}\n");
    assert_conflict(
        store
            .commit_trace(put(
                forged,
                &forged_text,
                &format!("{forged_text}\n\u{2014} origin x\n"),
            ))
            .await,
    );
    // A different body for the same size is refused even with the right root.
    let other_text = format!("origin\n5\n{root}\next\n");
    assert_conflict(
        store
            .commit_trace(put(
                root,
                &other_text,
                &format!("{other_text}\n\u{2014} origin y\n"),
            ))
            .await,
    );
    // A note whose body is not the given text is refused.
    assert_conflict(
        store
            .commit_trace(put(root, &text, "origin\n5\nother\n\n\u{2014} origin z\n"))
            .await,
    );
    // The same body with more signatures replaces the stored note.
    let cosigned = format!("{note}\u{2014} witness sig2\n");
    store
        .commit_trace(put(root, &text, &cosigned))
        .await
        .unwrap();
    assert_eq!(store.trace_checkpoint(5).unwrap(), Some(cosigned.clone()));
    assert_eq!(
        store.trace_latest_checkpoint().unwrap(),
        Some((5, cosigned))
    );
    // Sizes beyond the log are refused.
    let beyond = TraceBatch {
        mutations: vec![TraceMutation::PutCheckpoint {
            size: 6,
            root,
            text: "origin\n6\nx\n".to_owned(),
            note: "origin\n6\nx\n\n\u{2014} origin s\n".to_owned(),
        }],
    };
    assert_conflict(store.commit_trace(beyond).await);
    // Consistency proofs come from the same stored hashes.
    store
        .commit_trace(append(vec![entry("88.1/s9", "r9", None)]))
        .await
        .unwrap();
    let reader = TraceHashes(store);
    let proof = prove_consistency(5, 6, &reader).unwrap();
    verify_consistency(5, 6, &proof, &root, &tree_hash(6, &reader).unwrap()).unwrap();
}

async fn witness_state_has_preconditions<S: TraceStore>(store: &S) {
    let put = |expect_size: u64, size: u64| TraceBatch {
        mutations: vec![TraceMutation::PutWitnessState {
            origin: "peer.example/log".to_owned(),
            expect_size,
            state: WitnessState {
                size,
                root: Hash([size as u8; 32]),
            },
        }],
    };
    assert_eq!(store.witness_state("peer.example/log").unwrap(), None);
    assert_conflict(store.commit_trace(put(3, 5)).await);
    store.commit_trace(put(0, 5)).await.unwrap();
    assert_conflict(store.commit_trace(put(0, 7)).await);
    store.commit_trace(put(5, 7)).await.unwrap();
    assert_eq!(
        store.witness_state("peer.example/log").unwrap(),
        Some(WitnessState {
            size: 7,
            root: Hash([7; 32])
        })
    );
}

macro_rules! for_both_stores {
    ($($name:ident),* $(,)?) => {
        mod mem_store {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(&MemStore::new()).await;
                }
            )*
        }
        mod redb_store {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    let dir = TempDir::new().unwrap();
                    let store = RedbStore::open(&dir.path().join("db.redb")).unwrap();
                    super::$name(&store).await;
                }
            )*
        }
    };
}

for_both_stores!(
    appends_chain_and_prove,
    checkpoints_match_the_log,
    witness_state_has_preconditions,
    events_are_recorded_once
);

#[tokio::test]
async fn redb_trace_survives_reopen_and_keeps_appending() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("db.redb");
    let first = entry("88.1/x", "x1", None);
    {
        let store = RedbStore::open(&path).unwrap();
        store
            .commit_trace(append(vec![
                first.clone(),
                entry("88.1/y", "y1", None),
                entry("88.1/z", "z1", None),
            ]))
            .await
            .unwrap();
    }
    let store = RedbStore::open(&path).unwrap();
    assert_eq!(store.trace_size().unwrap(), 3);
    assert_eq!(
        store.trace_head("88.1/x").unwrap().unwrap().digest,
        first.digest
    );
    store
        .commit_trace(append(vec![entry("88.1/x", "x2", Some(first.digest))]))
        .await
        .unwrap();
    let mem = reference(&store);
    assert_eq!(tree_hash(4, &TraceHashes(&store)).unwrap(), mem.root());
    // Handle writes and trace writes share the writer and the file.
    store
        .commit(idnode_registry::WriteBatch {
            mutations: vec![idnode_registry::Mutation::HomePrefix {
                prefix: "88.1".to_owned(),
            }],
        })
        .await
        .unwrap();
    assert!(store.is_homed("88.1").unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_never_fork_a_chain() {
    let dir = TempDir::new().unwrap();
    let store = Arc::new(RedbStore::open(&dir.path().join("db.redb")).unwrap());
    let writers = 16;
    let per_writer = 20;
    let mut tasks = Vec::new();
    for writer in 0..writers {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0;
            for n in 0..per_writer {
                // Everyone extends the shared subject: read the head, append, retry on conflict.
                loop {
                    let prev = store.trace_head("88.1/shared").unwrap().map(|h| h.digest);
                    let own = entry(&format!("88.1/w{writer}"), &format!("w{writer}-{n}"), {
                        store
                            .trace_head(&format!("88.1/w{writer}"))
                            .unwrap()
                            .map(|h| h.digest)
                    });
                    let record = format!(
                        "s{writer}-{n} prev={}",
                        prev.map(|p| p.to_hex()).unwrap_or_default()
                    );
                    let shared = entry("88.1/shared", &record, prev);
                    match store.commit_trace(append(vec![own, shared])).await {
                        Ok(_) => break,
                        Err(StoreError::Conflict { .. }) => conflicts += 1,
                        Err(other) => panic!("{other}"),
                    }
                }
            }
            conflicts
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let total = (writers * per_writer * 2) as u64;
    assert_eq!(store.trace_size().unwrap(), total);
    // The shared chain is linear: each record's prev is the record before it in the history.
    let history = store.trace_subject("88.1/shared", None, 10_000).unwrap();
    assert_eq!(history.len(), writers * per_writer);
    let mut expected_prev = String::new();
    for item in &history {
        let record = &store.trace_records(item.index, 1).unwrap()[0];
        let text = String::from_utf8(record.record.clone()).unwrap();
        let (_, prev) = text.split_once(" prev=").unwrap();
        assert_eq!(prev, expected_prev, "record {}", item.index);
        expected_prev = record.digest.to_hex();
    }
    let stats = store.stats();
    assert!(stats.largest_group > 1, "{stats:?}");
    let mem = reference(&*store);
    assert_eq!(tree_hash(total, &TraceHashes(&*store)).unwrap(), mem.root());
}

/// An event recorded under a subject cannot be appended again, in the same batch or later,
/// and is found by its key.
async fn events_are_recorded_once<S: TraceStore>(store: &S) {
    let event = |key: &str| {
        Some(idnode_registry::EventKey {
            key: key.to_owned(),
            event_hash: format!("hash-of-{key}"),
        })
    };
    let mut first = entry("88.1/a", "a1", None);
    first.event = event("id:e1");
    let committed = store
        .commit_trace(append(vec![first.clone()]))
        .await
        .unwrap();
    let found = store
        .trace_events(&[
            ("88.1/a", "id:e1"),
            ("88.1/b", "id:e1"),
            ("88.1/a", "id:e2"),
        ])
        .unwrap();
    assert_eq!(
        found,
        vec![
            Some(idnode_registry::CapturedEvent {
                index: committed.first_index,
                event_hash: "hash-of-id:e1".to_owned()
            }),
            None,
            None
        ]
    );
    // Again, under a correct head: refused.
    let mut again = entry("88.1/a", "a2", Some(first.digest));
    again.event = event("id:e1");
    assert_conflict(store.commit_trace(append(vec![again])).await);
    // Twice in one batch: refused, and nothing of the batch is written.
    let mut b1 = entry("88.1/b", "b1", None);
    b1.event = event("id:e3");
    let mut b2 = entry("88.1/b", "b2", Some(b1.digest));
    b2.event = event("id:e3");
    assert_conflict(store.commit_trace(append(vec![b1, b2])).await);
    assert_eq!(store.trace_size().unwrap(), 1);
    // The same key under another subject is another event.
    let mut other = entry("88.1/b", "b1", None);
    other.event = event("id:e1");
    store.commit_trace(append(vec![other])).await.unwrap();
    assert_eq!(store.trace_size().unwrap(), 2);
}
