//! Search latency at scale: builds (or reuses) an index of 1,000,000 `hazchem.product` records,
//! synthetic variants of the real chemicals of `chemicals.csv` (each chemical made by about 58
//! manufacturers, with grade words added to some names), and measures p50/p99 of
//!
//! - fuzzy English name queries with one typo (`q=acetome`),
//! - Chinese name queries (`q=丙酮`, bigrams),
//! - exact CAS queries (`cas=67-64-1`),
//!
//! once for the index alone (planning, collecting and reading the first page's handles) and
//! once end to end (every result of the page checked through the resolver over an in-memory
//! store, as an anonymous caller).
//!
//! `cargo bench -p idnode-search --bench latency`; `IDNODE_SEARCH_BENCH_RECORDS` changes the
//! number of records and `IDNODE_SEARCH_BENCH_DIR` the index directory (default
//! `target/search-bench-<records>`, reused when it already holds the same records).

#[path = "../tests/support/chemicals.rs"]
#[allow(dead_code)]
mod chemicals;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use chemicals::Chemical;
use idnode_proto::{HandleValue, Record, ValueRef};
use idnode_registry::{Expect, MemStore, Mutation, WriteBatch};
use idnode_resolver::{Config, Random, Resolver, SecretSealer};
use idnode_search::{BuiltinTemplates, IndexOptions, SearchIndex, SearchRequest};

const PREFIX: &str = "88.118.8";
const NOW: u32 = 1_750_000_000;
const EN_GRADES: [&str; 6] = ["", " technical grade", " reagent", " solution", " 99%", ""];
const ZH_GRADES: [&str; 6] = ["", "（工业级）", "试剂", "溶液", "", ""];

struct Counter(AtomicU8);

impl Random for Counter {
    fn fill(&self, buf: &mut [u8]) {
        let start = self.0.fetch_add(1, Ordering::Relaxed);
        buf.iter_mut()
            .enumerate()
            .for_each(|(i, b)| *b = start.wrapping_add(i as u8));
    }
}

struct NoSecrets;

impl SecretSealer for NoSecrets {
    fn seal(&self, secret: &[u8]) -> Vec<u8> {
        secret.to_vec()
    }
    fn verify(&self, _identity: &ValueRef, _stored: &[u8], _candidate: &[u8]) -> bool {
        false
    }
    fn open(&self, _stored: &[u8]) -> Option<Vec<u8>> {
        None
    }
}

/// The `i`-th synthetic record: chemical `i mod n`, variant `i / n`.
fn record(rows: &[Chemical], i: usize) -> (String, Vec<u8>) {
    let chemical = &rows[i % rows.len()];
    let variant = i / rows.len();
    let graded = Chemical {
        cas: chemical.cas.clone(),
        name_en: format!(
            "{}{}",
            chemical.name_en,
            EN_GRADES[variant % EN_GRADES.len()]
        ),
        name_zh: if chemical.name_zh.is_empty() {
            String::new()
        } else {
            format!(
                "{}{}",
                chemical.name_zh,
                ZH_GRADES[variant % ZH_GRADES.len()]
            )
        },
    };
    let manufacturer = format!("{PREFIX}/E.{variant:06}");
    let mut values = chemicals::product_values(&graded, &manufacturer);
    values.push(HandleValue::new(
        2002,
        "unNo",
        format!("UN{:04}", 1001 + i % 2999),
    ));
    let handle = format!("{PREFIX}/P.{}.{variant}", chemical.cas);
    (handle, Record::encode(&values))
}

fn store_of(rows: &[Chemical], records: usize) -> MemStore {
    let store = MemStore::new();
    let home = WriteBatch {
        mutations: vec![Mutation::HomePrefix {
            prefix: PREFIX.to_owned(),
        }],
    };
    store.commit_now(&home).expect("homing a prefix in memory");
    for start in (0..records).step_by(10_000) {
        let mutations = (start..(start + 10_000).min(records))
            .map(|i| {
                let (handle, values) = record(rows, i);
                Mutation::PutHandle {
                    handle,
                    values,
                    expect: Expect::Any,
                }
            })
            .collect();
        store
            .commit_now(&WriteBatch { mutations })
            .expect("writing in memory");
    }
    store
}

/// One typo in the longest word: a substitution, a transposition or a deletion, by turns.
fn typo(name: &str, turn: usize) -> Option<String> {
    let words: Vec<&str> = name.split(' ').collect();
    let (at, word) = words
        .iter()
        .enumerate()
        .filter(|(_, w)| w.len() >= 5 && w.bytes().all(|b| b.is_ascii_lowercase()))
        .max_by_key(|(_, w)| w.len())?;
    let mut chars: Vec<char> = word.chars().collect();
    let middle = chars.len() / 2;
    match turn % 3 {
        0 => chars[middle] = if chars[middle] == 'x' { 'y' } else { 'x' },
        1 => chars.swap(middle, middle + 1),
        _ => {
            chars.remove(middle);
        }
    }
    let mut out: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
    out[at] = chars.into_iter().collect();
    Some(out.join(" "))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn report(label: &str, mut times: Vec<Duration>) {
    times.sort();
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    println!(
        "| {label} | {} | {:.3} | {:.3} | {:.3} | {:.3} |",
        times.len(),
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
        mean.as_secs_f64() * 1e3,
        times.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("latency: bench");
        return;
    }
    let records: usize = std::env::var("IDNODE_SEARCH_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = std::env::var_os("IDNODE_SEARCH_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../target")
                .join(format!("search-bench-{records}"))
        });
    let rows = chemicals::load();
    let started = Instant::now();
    let store = store_of(&rows, records);
    println!(
        "store: {records} records in memory in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let index = SearchIndex::open_with(
        &dir,
        IndexOptions {
            writer_threads: 2,
            writer_memory: 512 << 20,
        },
    )
    .expect("opening the index");
    let started = Instant::now();
    let synced = index
        .sync(&store, &BuiltinTemplates::new())
        .expect("building the index");
    println!(
        "index: {} documents in {} ({:?}) in {:.1} s",
        index.num_docs(),
        dir.display(),
        synced,
        started.elapsed().as_secs_f64()
    );
    let resolver = Resolver::new(
        store,
        Config::default(),
        Box::new(Counter(AtomicU8::new(0))),
        Box::new(NoSecrets),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");

    let request = |q: Option<String>, cas: Option<String>| SearchRequest {
        q,
        cas,
        page_size: 20,
        ..SearchRequest::default()
    };
    let step = (rows.len() / 400).max(1);
    let fuzzy: Vec<SearchRequest> = rows
        .iter()
        .step_by(step)
        .enumerate()
        .filter_map(|(turn, c)| typo(&c.name_en, turn))
        .take(300)
        .map(|q| request(Some(q), None))
        .collect();
    let chinese: Vec<SearchRequest> = rows
        .iter()
        .filter(|c| !c.name_zh.is_empty())
        .take(300)
        .map(|c| request(Some(c.name_zh.clone()), None))
        .collect();
    let exact: Vec<SearchRequest> = rows
        .iter()
        .step_by(step)
        .take(300)
        .map(|c| request(None, Some(c.cas.clone())))
        .collect();

    println!();
    println!("| query | n | p50 ms | p99 ms | mean ms | max ms |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (label, queries) in [
        ("fuzzy English name, one typo", &fuzzy),
        ("Chinese name (bigrams)", &chinese),
        ("exact CAS", &exact),
    ] {
        let index_only = |query: &SearchRequest| {
            let started = Instant::now();
            let candidates = index.candidates(query, true).expect("searching");
            let handles = candidates.handles(20).expect("reading handles");
            std::hint::black_box(handles);
            started.elapsed()
        };
        let end_to_end = |query: &SearchRequest| {
            let started = Instant::now();
            let page = runtime
                .block_on(index.search(&resolver, query, None, NOW))
                .expect("searching");
            std::hint::black_box(page);
            started.elapsed()
        };
        // Warm the page cache and the term dictionaries once.
        queries.iter().for_each(|q| {
            index_only(q);
        });
        let times: Vec<Duration> = (0..3)
            .flat_map(|_| queries.iter().map(index_only))
            .collect();
        report(&format!("{label}, index"), times);
        let times: Vec<Duration> = (0..3)
            .flat_map(|_| queries.iter().map(end_to_end))
            .collect();
        report(&format!("{label}, checked through the resolver"), times);
    }
}
