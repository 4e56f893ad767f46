//! Registry benchmarks: random `get` among 100,000 stored products, and the throughput of
//! durable single-create commits with 1 and 16 concurrent committers.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use idnode_benches::{product_handle, product_values};
use idnode_proto::normalize;
use idnode_registry::{Expect, Mutation, RedbStore, Store, WriteBatch};

/// Handles stored before the `get` benchmark runs.
const STORED: usize = 100_000;
/// Creates per batch while filling the store.
const FILL_BATCH: usize = 2_000;

/// A small deterministic generator (splitmix64), so runs look up the same keys.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn create(handle: String, values: Vec<u8>) -> Mutation {
    Mutation::PutHandle {
        handle,
        values,
        expect: Expect::Absent,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn bench_get(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = RedbStore::open(&dir.path().join("get.redb")).expect("the store opens");
    let rt = runtime();
    rt.block_on(async {
        for start in (0..STORED).step_by(FILL_BATCH) {
            let mutations = (start..start + FILL_BATCH)
                .map(|n| create(product_handle(n), product_values(n)))
                .collect();
            store
                .commit(WriteBatch { mutations })
                .await
                .expect("the fill commits");
        }
    });
    let keys: Vec<Vec<u8>> = (0..STORED).map(|n| normalize(&product_handle(n))).collect();
    let mut random = SplitMix(7);

    let mut group = c.benchmark_group("registry_get");
    group.throughput(Throughput::Elements(1));
    group.bench_function("random_of_100k", |b| {
        b.iter_batched(
            || &keys[(random.next() % STORED as u64) as usize],
            |key| {
                store
                    .get(key)
                    .expect("get succeeds")
                    .expect("the key is stored")
            },
            BatchSize::SmallInput,
        );
    });
    group.bench_function("absent", |b| {
        b.iter(|| store.get(b"88.118.8/NOT-THERE").expect("get succeeds"));
    });
    group.finish();
}

fn bench_commit(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store =
        Arc::new(RedbStore::open(&dir.path().join("commit.redb")).expect("the store opens"));
    let rt = runtime();
    let next = Arc::new(AtomicUsize::new(0));

    let mut group = c.benchmark_group("registry_commit_create");
    group.throughput(Throughput::Elements(1));
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    for committers in [1usize, 16] {
        group.bench_function(format!("{committers}_committers"), |b| {
            b.iter_custom(|iters| {
                let store = Arc::clone(&store);
                let next = Arc::clone(&next);
                rt.block_on(async move {
                    let iters = usize::try_from(iters).expect("iteration count fits usize");
                    let started = Instant::now();
                    let tasks: Vec<_> = (0..committers)
                        .map(|task| {
                            // Spread the iterations over the committers.
                            let share = iters / committers + usize::from(task < iters % committers);
                            let store = Arc::clone(&store);
                            let next = Arc::clone(&next);
                            tokio::spawn(async move {
                                for _ in 0..share {
                                    let n = next.fetch_add(1, Ordering::Relaxed);
                                    let handle = format!("88.118.9/NEW-{n:08}");
                                    let batch = WriteBatch {
                                        mutations: vec![create(handle, product_values(n))],
                                    };
                                    store.commit(batch).await.expect("the create commits");
                                }
                            })
                        })
                        .collect();
                    for task in tasks {
                        task.await.expect("the committer finishes");
                    }
                    started.elapsed()
                })
            });
        });
    }
    group.finish();
    let stats = store.stats();
    eprintln!(
        "commit benchmark: {} batches in {} durable transactions (largest group {})",
        stats.batches, stats.transactions, stats.largest_group
    );
}

criterion_group!(benches, bench_get, bench_commit);
criterion_main!(benches);
