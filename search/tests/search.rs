//! Search over real data: thousands of chemicals from `chemicals.csv` imported as
//! `hazchem.product` handles into a redb store, indexed, and searched through the resolver.
//! Relevance (acetone first by name, Chinese name, CAS number and with one typo), visibility of
//! private values, reverse lookup, paging, and the index following the store across deletion,
//! corruption and writes made while it was stopped.

mod support;

use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

use idnode_proto::{HandleValue, Permissions, Record, ValueRef, normalize};
use idnode_registry::{Expect, Mutation, RedbStore, Store, WriteBatch};
use idnode_resolver::{Config, Identity, Operation, Random, Request, Resolver, SecretSealer};
use idnode_search::{
    BuiltinTemplates, ResolverTemplates, SearchError, SearchIndex, SearchPage, SearchRequest,
};
use support::chemicals::{self, Chemical};
use tempfile::TempDir;

const PREFIX: &str = "88.118.8";
const NOW: u32 = 1_750_000_000;
const ACETONE: &str = "88.118.8/P.67-64-1";

struct Counter(AtomicU8);

impl Random for Counter {
    fn fill(&self, buf: &mut [u8]) {
        let start = self.0.fetch_add(1, Ordering::Relaxed);
        for (i, b) in buf.iter_mut().enumerate() {
            *b = start.wrapping_add(i as u8);
        }
    }
}

struct TestSealer;

impl SecretSealer for TestSealer {
    fn seal(&self, secret: &[u8]) -> Vec<u8> {
        [b"sealed:".as_slice(), secret].concat()
    }
    fn verify(&self, _identity: &ValueRef, stored: &[u8], candidate: &[u8]) -> bool {
        stored.strip_prefix(b"sealed:") == Some(candidate)
    }
    fn open(&self, stored: &[u8]) -> Option<Vec<u8>> {
        stored.strip_prefix(b"sealed:").map(<[u8]>::to_vec)
    }
}

fn admin() -> Identity {
    Identity(ValueRef::parse("300:88.118.8/admin").unwrap())
}

fn resolver(store: RedbStore) -> Resolver<RedbStore> {
    let config = Config {
        server_admins: vec![admin().0],
        ..Config::default()
    };
    Resolver::new(
        store,
        config,
        Box::new(Counter(AtomicU8::new(0))),
        Box::new(TestSealer),
    )
}

fn product_handle(chemical: &Chemical) -> String {
    format!("{PREFIX}/P.{}", chemical.cas)
}

const ENTERPRISE: &str = "88.118.8/E.91350100M000100Y43";

/// Homes the prefix, creates the manufacturer, and imports chemicals as its products, 500 to a
/// batch.
async fn import<S: Store>(store: &S, chemicals: &[Chemical]) {
    let enterprise = [
        idnode_templates::builtin::enterprise().link_value(),
        HandleValue::new(2000, "uscc", "91350100M000100Y43"),
        HandleValue::new(2001, "orgName", "福州示例化工有限公司"),
        HandleValue::new(2002, "industryCode", "C2614"),
        HandleValue::new(2003, "regionCode", "350100"),
        HandleValue::new(2004, "address", "福建省福州市"),
    ];
    store
        .commit(WriteBatch {
            mutations: vec![
                Mutation::HomePrefix {
                    prefix: PREFIX.to_owned(),
                },
                Mutation::PutHandle {
                    handle: ENTERPRISE.to_owned(),
                    values: Record::encode(&enterprise),
                    expect: Expect::Any,
                },
            ],
        })
        .await
        .unwrap();
    for chunk in chemicals.chunks(500) {
        let mutations = chunk
            .iter()
            .map(|c| Mutation::PutHandle {
                handle: product_handle(c),
                values: chemicals::product_record(c, ENTERPRISE),
                expect: Expect::Any,
            })
            .collect();
        store.commit(WriteBatch { mutations }).await.unwrap();
    }
}

/// The chemicals of the shared fixture: every row with a Chinese name, every third other row,
/// and every row whose English name mentions acetone.
fn subset() -> Vec<Chemical> {
    chemicals::load()
        .into_iter()
        .enumerate()
        .filter(|(i, c)| !c.name_zh.is_empty() || i % 3 == 0 || c.name_en.contains("acetone"))
        .map(|(_, c)| c)
        .collect()
}

struct Fixture {
    _dir: TempDir,
    resolver: Resolver<RedbStore>,
    index: SearchIndex,
    imported: usize,
}

/// One store and index for the read-mostly tests, built once on a thread of its own.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        std::thread::spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            let dir = TempDir::new().unwrap();
            let store = RedbStore::open(&dir.path().join("idnode.redb")).unwrap();
            let rows = subset();
            assert!(rows.iter().any(|c| c.cas == "67-64-1"));
            runtime.block_on(import(&store, &rows));
            // Acetone is UN 1090; the list has no UN numbers, so add it.
            let acetone = rows.iter().find(|c| c.cas == "67-64-1").unwrap();
            let mut values = chemicals::product_values(acetone, ENTERPRISE);
            values.push(HandleValue::new(2002, "unNo", "UN1090"));
            values.push(HandleValue::new(
                2009,
                "sds",
                "https://sds.example.com/acetone.pdf",
            ));
            runtime.block_on(async {
                store
                    .commit(WriteBatch {
                        mutations: vec![Mutation::PutHandle {
                            handle: ACETONE.to_owned(),
                            values: Record::encode(&values),
                            expect: Expect::Any,
                        }],
                    })
                    .await
                    .unwrap();
            });
            let index = SearchIndex::open(&dir.path().join("search")).unwrap();
            let report = index.sync(&store, &BuiltinTemplates::new()).unwrap();
            assert_eq!(report.rebuilt, Some(rows.len() + 1));
            Fixture {
                _dir: dir,
                resolver: resolver(store),
                index,
                imported: rows.len(),
            }
        })
        .join()
        .unwrap()
    })
}

fn q(text: &str) -> SearchRequest {
    SearchRequest {
        q: Some(text.to_owned()),
        page_size: 10,
        ..SearchRequest::default()
    }
}

async fn search(request: &SearchRequest, identity: Option<&Identity>) -> SearchPage {
    let fx = fixture();
    fx.index
        .search(&fx.resolver, request, identity, NOW)
        .await
        .unwrap()
}

fn handles(page: &SearchPage) -> Vec<&str> {
    page.results.iter().map(|r| r.handle.as_str()).collect()
}

#[tokio::test]
async fn the_fixture_holds_thousands_of_real_chemicals() {
    let fx = fixture();
    assert!(fx.imported > 5000, "{} chemicals", fx.imported);
    // Other tests add a few handles to the shared fixture.
    assert!(fx.index.num_docs() > fx.imported as u64);
    assert!(fx.index.is_complete());
}

#[tokio::test]
async fn acetone_comes_first_by_english_name_chinese_name_and_cas_number() {
    for text in ["acetone", "Acetone", " ACETONE ", "丙酮", "67-64-1"] {
        let page = search(&q(text), None).await;
        assert_eq!(
            handles(&page).first(),
            Some(&ACETONE),
            "{text:?}: {:?}",
            handles(&page)
        );
        assert!(!page.results[0].matched.is_empty(), "{text:?}");
        assert_eq!(
            page.results[0].template.as_deref(),
            Some("hazchem.product@1")
        );
    }
    // Other names contain the word acetone or the characters 丙酮; they follow.
    assert!(search(&q("acetone"), None).await.total > 1);
    assert!(search(&q("丙酮"), None).await.total > 1);
    let page = search(&q("丙酮"), None).await;
    let matched = &page.results[0].matched;
    assert!(
        matched
            .iter()
            .any(|m| m.index == 2000 && m.value_type == "productName" && m.value == "丙酮")
    );
}

#[tokio::test]
async fn one_typo_still_finds_acetone_first() {
    for typo in ["acetome", "acteone", "acetonee", "aceton"] {
        let page = search(&q(typo), None).await;
        assert_eq!(
            handles(&page).first(),
            Some(&ACETONE),
            "{typo:?}: {:?}",
            handles(&page)
        );
        assert!(
            page.results[0].matched.iter().any(|m| m.value == "acetone"),
            "{typo:?}: {:?}",
            page.results[0].matched
        );
    }
}

#[tokio::test]
async fn exact_codes_find_exactly_their_handles() {
    let cas = search(
        &SearchRequest {
            cas: Some("67-64-1".to_owned()),
            page_size: 10,
            ..SearchRequest::default()
        },
        None,
    )
    .await;
    assert_eq!(handles(&cas), [ACETONE]);
    assert_eq!(cas.total, 1);
    assert_eq!(
        cas.results[0].matched,
        [idnode_search::MatchedValue {
            index: 2001,
            value_type: "casNo".to_owned(),
            value: r#"["67-64-1"]"#.to_owned(),
        }]
    );
    for un in ["UN1090", "un 1090", "1090"] {
        let page = search(
            &SearchRequest {
                un: Some(un.to_owned()),
                page_size: 10,
                ..SearchRequest::default()
            },
            None,
        )
        .await;
        assert_eq!(handles(&page), [ACETONE], "{un}");
    }
    // q recognizes UN and CAS numbers.
    assert_eq!(handles(&search(&q("UN1090"), None).await), [ACETONE]);
    assert_eq!(
        handles(&search(&q("50-00-0"), None).await),
        ["88.118.8/P.50-00-0"]
    );
    // A number that is no code (the check digit is wrong) finds nothing.
    assert_eq!(search(&q("50-00-1"), None).await.total, 0);
    // Credit codes, in any letter case, by parameter or in q.
    let uscc = SearchRequest {
        uscc: Some("91350100m000100y43".to_owned()),
        page_size: 10,
        ..SearchRequest::default()
    };
    assert_eq!(handles(&search(&uscc, None).await), [ENTERPRISE]);
    assert_eq!(
        handles(&search(&q("91350100M000100Y43"), None).await).first(),
        Some(&ENTERPRISE)
    );
    // So do the enterprise's name by its characters, and its indexed items by typed value.
    assert_eq!(
        handles(&search(&q("示例化工"), None).await).first(),
        Some(&ENTERPRISE)
    );
    let item = SearchRequest {
        item: Some("orgName:福州示例化工有限公司".to_owned()),
        page_size: 10,
        ..SearchRequest::default()
    };
    assert_eq!(handles(&search(&item, None).await), [ENTERPRISE]);
    // Combined parameters must all match.
    let both = SearchRequest {
        q: Some("丙酮".to_owned()),
        cas: Some("67-64-1".to_owned()),
        template: Some("hazchem.product".to_owned()),
        page_size: 10,
        ..SearchRequest::default()
    };
    assert_eq!(handles(&search(&both, None).await), [ACETONE]);
    let wrong_type = SearchRequest {
        template: Some("hazchem.batch".to_owned()),
        ..both
    };
    assert_eq!(search(&wrong_type, None).await.total, 0);
}

#[tokio::test]
async fn reverse_lookup_finds_the_handles_holding_a_value() {
    let by_url = SearchRequest {
        value: Some("https://sds.example.com/acetone.pdf".to_owned()),
        page_size: 10,
        ..SearchRequest::default()
    };
    let page = search(&by_url, None).await;
    assert_eq!(handles(&page), [ACETONE]);
    assert_eq!(page.results[0].matched[0].index, 2009);
    // Every product points to its manufacturer.
    let by_manufacturer = SearchRequest {
        value: Some(ENTERPRISE.to_owned()),
        page_size: 5,
        ..SearchRequest::default()
    };
    let page = search(&by_manufacturer, None).await;
    assert_eq!(page.results.len(), 5);
    assert!(page.total > 5000);
}

#[tokio::test]
async fn pages_do_not_overlap_and_bad_requests_are_refused() {
    let first = search(
        &SearchRequest {
            page_size: 5,
            ..q("acid")
        },
        None,
    )
    .await;
    let second = search(
        &SearchRequest {
            page: 1,
            page_size: 5,
            ..q("acid")
        },
        None,
    )
    .await;
    assert_eq!(first.results.len(), 5);
    assert_eq!(second.results.len(), 5);
    assert_eq!(first.total, second.total);
    for handle in handles(&second) {
        assert!(!handles(&first).contains(&handle));
    }
    assert!(first.results[4].score >= second.results[0].score);
    let fx = fixture();
    for bad in [
        SearchRequest {
            page_size: 10,
            ..SearchRequest::default()
        },
        SearchRequest {
            page_size: 0,
            ..q("acid")
        },
        SearchRequest {
            page: 100,
            page_size: 100,
            ..q("acid")
        },
        SearchRequest {
            page_size: 10,
            ..q(&"x".repeat(300))
        },
    ] {
        assert!(matches!(
            fx.index.search(&fx.resolver, &bad, None, NOW).await,
            Err(SearchError::BadRequest(_))
        ));
    }
}

#[tokio::test]
async fn private_values_are_only_returned_to_readers() {
    let fx = fixture();
    let handle = fx.resolver.parse_handle("88.118.8/P.private-1").unwrap();
    let mut private_name = HandleValue::new(2013, "productNameEn", "Zebraflux reagent");
    private_name.permissions = Permissions(Permissions::ADMIN_READ | Permissions::ADMIN_WRITE);
    let values = vec![
        idnode_templates::builtin::product().link_value(),
        HandleValue::new(2000, "productName", "斑马助焊剂"),
        HandleValue::new(2001, "casNo", r#"["7732-18-5"]"#),
        HandleValue::new(2010, "manufacturer", ENTERPRISE),
        private_name,
    ];
    fx.resolver
        .handle(Request {
            op: Operation::Create {
                handle,
                values,
                overwrite: true,
            },
            identity: Some(admin()),
            now: NOW,
        })
        .await
        .unwrap();
    let store = fx.resolver.danger_store();
    fx.index
        .sync(store, &ResolverTemplates::new(&fx.resolver))
        .unwrap();
    assert!(fx.index.indexed_seq() >= store.last_change().unwrap());

    // Anonymous callers do not find the handle by its private name, nor see that value.
    let anonymous = search(&q("zebraflux"), None).await;
    assert_eq!(anonymous.total, 0);
    assert!(anonymous.results.is_empty());
    let by_value = SearchRequest {
        value: Some("Zebraflux reagent".to_owned()),
        page_size: 10,
        ..SearchRequest::default()
    };
    assert!(search(&by_value, None).await.results.is_empty());
    let public = search(&q("斑马助焊剂"), None).await;
    assert_eq!(handles(&public), ["88.118.8/P.private-1"]);
    assert!(public.results[0].matched.iter().all(|m| m.index != 2013));

    // An identity without READ_VALUE on the handle does not either.
    let stranger = Identity(ValueRef::parse("300:88.118.8/stranger").unwrap());
    assert!(
        search(&q("zebraflux"), Some(&stranger))
            .await
            .results
            .is_empty()
    );
    assert!(search(&q("zebraflux"), Some(&stranger)).await.total == 0);

    // An administrator does, with the private value as the match.
    let page = search(&q("zebraflux"), Some(&admin())).await;
    assert_eq!(handles(&page), ["88.118.8/P.private-1"]);
    assert_eq!(page.results[0].matched[0].value, "Zebraflux reagent");
    assert_eq!(
        handles(&search(&by_value, Some(&admin())).await),
        ["88.118.8/P.private-1"]
    );
}

fn find<'a>(rows: &'a [Chemical], cas: &str) -> &'a Chemical {
    rows.iter().find(|c| c.cas == cas).unwrap()
}

async fn names(index: &SearchIndex, resolver: &Resolver<RedbStore>, text: &str) -> Vec<String> {
    index
        .search(resolver, &q(text), None, NOW)
        .await
        .unwrap()
        .results
        .into_iter()
        .map(|r| r.handle)
        .collect()
}

fn open_index(dir: &Path) -> SearchIndex {
    SearchIndex::open(&dir.join("search")).unwrap()
}

#[tokio::test]
async fn the_index_follows_the_store_across_deletion_corruption_and_missed_writes() {
    let rows = chemicals::load();
    let dir = TempDir::new().unwrap();
    let store = RedbStore::open(&dir.path().join("idnode.redb")).unwrap();
    let first: Vec<Chemical> = ["67-64-1", "64-17-5", "71-43-2"]
        .iter()
        .map(|cas| find(&rows, cas).clone())
        .collect();
    import(&store, &first).await;
    let resolver = resolver(store);
    let store = resolver.danger_store();
    let templates = ResolverTemplates::new(&resolver);

    let index = open_index(dir.path());
    assert!(!index.is_complete());
    assert!(matches!(
        index.candidates(&q("acetone"), true),
        Err(SearchError::NotReady)
    ));
    assert_eq!(index.sync(store, &templates).unwrap().rebuilt, Some(4));
    assert_eq!(names(&index, &resolver, "acetone").await, [ACETONE]);
    // Nothing new: nothing to do.
    let idle = index.sync(store, &templates).unwrap();
    assert_eq!((idle.applied, idle.rebuilt), (0, None));

    // The index directory is deleted: the next start rebuilds it.
    drop(index);
    std::fs::remove_dir_all(dir.path().join("search")).unwrap();
    let index = open_index(dir.path());
    assert!(!index.is_complete());
    assert_eq!(index.sync(store, &templates).unwrap().rebuilt, Some(4));
    assert_eq!(names(&index, &resolver, "丙酮").await, [ACETONE]);

    // Writes while the indexer is stopped: the next start catches up from the feed.
    let seq_before = index.indexed_seq();
    drop(index);
    let toluene = find(&rows, "108-88-3");
    store
        .commit(WriteBatch {
            mutations: vec![
                Mutation::PutHandle {
                    handle: product_handle(toluene),
                    values: chemicals::product_record(toluene, "88.118.8/E.x"),
                    expect: Expect::Absent,
                },
                Mutation::DeleteHandle {
                    handle: "88.118.8/P.71-43-2".to_owned(),
                    expect: Expect::Any,
                },
            ],
        })
        .await
        .unwrap();
    let index = open_index(dir.path());
    assert!(index.is_complete());
    assert_eq!(index.indexed_seq(), seq_before);
    let report = index.sync(store, &templates).unwrap();
    assert_eq!((report.applied, report.rebuilt), (2, None));
    assert_eq!(report.seq, store.last_change().unwrap());
    assert_eq!(
        names(&index, &resolver, "toluene").await,
        ["88.118.8/P.108-88-3"]
    );
    assert!(names(&index, &resolver, "benzene").await.is_empty());
    assert_eq!(index.num_docs(), 4);

    // A write while it runs is picked up by the next sync, through the resolver this time.
    let ethanol = resolver.parse_handle("88.118.8/P.64-17-5").unwrap();
    resolver
        .handle(Request {
            op: Operation::Delete { handle: ethanol },
            identity: Some(admin()),
            now: NOW,
        })
        .await
        .unwrap();
    assert_eq!(index.sync(store, &templates).unwrap().applied, 1);
    assert!(names(&index, &resolver, "ethanol").await.is_empty());

    // A corrupt index is rebuilt.
    drop(index);
    std::fs::write(dir.path().join("search/meta.json"), b"{not json").unwrap();
    let index = open_index(dir.path());
    assert!(!index.is_complete());
    assert_eq!(index.sync(store, &templates).unwrap().rebuilt, Some(3));
    assert_eq!(names(&index, &resolver, "acetome").await, [ACETONE]);
    drop(index);

    // An index ahead of its store (the database was restored from an older copy) is rebuilt.
    let other = RedbStore::open(&dir.path().join("restored.redb")).unwrap();
    import(&other, &first[..1]).await;
    let index = open_index(dir.path());
    assert!(index.indexed_seq() > other.last_change().unwrap());
    assert_eq!(index.sync(&other, &templates).unwrap().rebuilt, Some(2));
    assert_eq!(index.num_docs(), 2);
    assert!(other.get(&normalize(ACETONE)).unwrap().is_some());
}

#[tokio::test]
async fn items_of_stored_templates_are_indexed_when_marked() {
    let fx = fixture();
    let template = idnode_templates::Template::from_json(
        r#"{"name": "acme.drum", "version": 1, "industryCode": "G5942", "prefix": "88.118.8",
            "items": [
              {"name": "桶号", "idType": "drumCode", "idIndex": 2000, "required": true, "indexed": true,
               "constraint": {"type": "string", "minLength": 1, "maxLength": 64}},
              {"name": "内容物", "idType": "contents", "idIndex": 2001, "required": true, "indexed": true,
               "constraint": {"type": "cas"}},
              {"name": "备注", "idType": "note", "idIndex": 2002, "required": false,
               "constraint": {"type": "string", "maxLength": 255}}
            ]}"#,
    )
    .unwrap();
    fx.resolver
        .create_template(Some(&admin()), template.clone(), NOW)
        .await
        .unwrap();
    let values = vec![
        template.link_value(),
        HandleValue::new(2000, "drumCode", "DR-0042"),
        HandleValue::new(2001, "contents", "64-17-5"),
        HandleValue::new(2002, "note", "quarterly inspection"),
    ];
    fx.resolver
        .handle(Request {
            op: Operation::Create {
                handle: fx.resolver.parse_handle("88.118.8/D.0042").unwrap(),
                values,
                overwrite: true,
            },
            identity: Some(admin()),
            now: NOW,
        })
        .await
        .unwrap();
    fx.index
        .sync(
            fx.resolver.danger_store(),
            &ResolverTemplates::new(&fx.resolver),
        )
        .unwrap();

    let typed = SearchRequest {
        item: Some("drumCode:dr-0042".to_owned()),
        page_size: 10,
        ..SearchRequest::default()
    };
    let page = search(&typed, None).await;
    assert_eq!(handles(&page), ["88.118.8/D.0042"]);
    assert_eq!(page.results[0].template.as_deref(), Some("acme.drum@1"));
    assert_eq!(
        handles(&search(&q("DR-0042"), None).await).first(),
        Some(&"88.118.8/D.0042")
    );
    let by_cas = SearchRequest {
        cas: Some("64-17-5".to_owned()),
        template: Some("acme.drum".to_owned()),
        page_size: 10,
        ..SearchRequest::default()
    };
    assert_eq!(handles(&search(&by_cas, None).await), ["88.118.8/D.0042"]);
    // The note is not marked indexed: no word search, only the reverse lookup of its text.
    assert!(search(&q("quarterly"), None).await.results.is_empty());
    let by_value = SearchRequest {
        value: Some("quarterly inspection".to_owned()),
        page_size: 10,
        ..SearchRequest::default()
    };
    assert_eq!(handles(&search(&by_value, None).await), ["88.118.8/D.0042"]);
}

#[tokio::test]
async fn a_stopped_index_keeps_its_last_commit() {
    let rows = chemicals::load();
    let dir = TempDir::new().unwrap();
    let store = RedbStore::open(&dir.path().join("idnode.redb")).unwrap();
    import(&store, &rows[..10]).await;
    let index = open_index(dir.path());
    index.sync(&store, &BuiltinTemplates::new()).unwrap();
    let seq = index.indexed_seq();
    import(&store, &rows[10..20]).await;
    index.stop();
    assert!(matches!(
        index.sync(&store, &BuiltinTemplates::new()),
        Err(SearchError::Stopped)
    ));
    assert_eq!(index.indexed_seq(), seq);
    drop(index);
    let index = open_index(dir.path());
    assert_eq!(index.indexed_seq(), seq);
    // Ten products and the manufacturer, written again by the second import.
    assert_eq!(
        index
            .sync(&store, &BuiltinTemplates::new())
            .unwrap()
            .applied,
        11
    );
}

/// A rebuild large enough to flush many segments ends with one: the merge policy does not
/// merge while the scan adds segments, so the one merge of all of them at the end is not
/// refused, and the rebuild is not reported as failed.
#[tokio::test]
async fn a_rebuild_of_many_segments_ends_merged_into_one() {
    let dir = TempDir::new().unwrap();
    let store = RedbStore::open(&dir.path().join("idnode.redb")).unwrap();
    let rows = chemicals::load();
    let mut mutations = Vec::new();
    for i in 0..ROWS_FOR_SEGMENTS {
        let chemical = &rows[i % rows.len()];
        mutations.push(Mutation::PutHandle {
            handle: format!("{PREFIX}/M.{i:06}"),
            values: Record::encode(&chemicals::product_values(chemical, ENTERPRISE)),
            expect: Expect::Any,
        });
        if mutations.len() == 4_000 {
            let batch = WriteBatch {
                mutations: std::mem::take(&mut mutations),
            };
            store.commit(batch).await.unwrap();
        }
    }
    let options = idnode_search::IndexOptions {
        writer_threads: 1,
        writer_memory: 15_000_000,
    };
    let index = SearchIndex::open_with(&dir.path().join("search"), options).unwrap();
    let report = index.sync(&store, &BuiltinTemplates::new()).unwrap();
    assert_eq!(report.rebuilt, Some(ROWS_FOR_SEGMENTS));
    assert_eq!(index.num_docs(), ROWS_FOR_SEGMENTS as u64);
    assert_eq!(index.segments(), 1);
    assert!(index.is_complete());
}

/// Enough products to flush more segments than the merge policy merges at once (8) with the
/// smallest writer budget.
const ROWS_FOR_SEGMENTS: usize = 12_000;
