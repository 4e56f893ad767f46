//! [`SearchIndex`]: the tantivy index in a directory, kept in step with a store through its
//! change feed ([`ChangeFeed`]).
//!
//! Every commit of the index carries a payload `{"schema":1,"seq":N,"complete":true}`: the
//! schema version and the last change of the store's feed that the index reflects. On
//! [`SearchIndex::open`] a directory that is missing, unreadable, of another schema or without
//! a payload is wiped and the index starts empty and incomplete. [`SearchIndex::sync`] then
//! rebuilds it from a scan of the store when it is incomplete, ahead of the store (a restored
//! database), or when the feed has a gap; otherwise it applies the changes after `seq`. A
//! rebuild commits only at its end, so an interrupted rebuild leaves the previous commit in
//! place. Applying a change re-reads the handle's current record, so replaying changes is
//! harmless.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use idnode_registry::{ChangeFeed, StoredRecord};
use serde::{Deserialize, Serialize};
use tantivy::indexer::{LogMergePolicy, NoMergePolicy};
use tantivy::schema::Schema;
use tantivy::tokenizer::{PreTokenizedString, Token};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use crate::SearchError;
use crate::analyze::{Kind, TemplateSource, extract};
use crate::schema::{self, Fields, SCHEMA_VERSION};

/// How many changes or records are read from the store at a time.
const PAGE: usize = 1024;

/// How often a long catch-up commits, in changes, so that progress survives a stop.
const COMMIT_EVERY: usize = 100_000;

/// How many times [`SearchIndex::reload`] tries to open the last commit.
const RELOAD_ATTEMPTS: u32 = 5;

/// How often a rebuild logs its progress, in records.
const LOG_EVERY: usize = 100_000;

/// Settings of the index writer.
#[derive(Debug, Clone, Copy)]
pub struct IndexOptions {
    /// Indexing threads.
    pub writer_threads: usize,
    /// The writer's memory budget over all threads, in bytes (at least 15 MB per thread).
    pub writer_memory: usize,
}

impl Default for IndexOptions {
    fn default() -> Self {
        Self {
            writer_threads: 1,
            writer_memory: 64 << 20,
        }
    }
}

/// The commit payload.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Payload {
    schema: u32,
    seq: u64,
    complete: bool,
}

/// What a [`SearchIndex::sync`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncReport {
    /// The last change of the store's feed that the index now reflects.
    pub seq: u64,
    /// Changes applied from the feed.
    pub applied: usize,
    /// Records indexed by a rebuild; `None` when there was no rebuild.
    pub rebuilt: Option<usize>,
}

/// A search index of handle records in a directory.
///
/// One writer at a time: [`SearchIndex::sync`] holds the writer's lock. Searches run
/// concurrently with it on the last committed state.
pub struct SearchIndex {
    pub(crate) reader: IndexReader,
    pub(crate) fields: Fields,
    writer: Mutex<IndexWriter>,
    indexed: AtomicU64,
    complete: AtomicBool,
    stopping: AtomicBool,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex")
            .field("indexed", &self.indexed_seq())
            .field("complete", &self.is_complete())
            .finish_non_exhaustive()
    }
}

impl SearchIndex {
    /// Opens the index in `dir` (creating it), with the default writer settings.
    pub fn open(dir: &Path) -> Result<Self, SearchError> {
        Self::open_with(dir, IndexOptions::default())
    }

    /// Opens the index in `dir`, creating the directory if needed. A directory without a usable
    /// index of this schema (missing, corrupt, another schema version, no payload) is wiped
    /// and the index starts empty; [`SearchIndex::sync`] rebuilds it.
    pub fn open_with(dir: &Path, options: IndexOptions) -> Result<Self, SearchError> {
        let (schema, fields) = schema::build();
        std::fs::create_dir_all(dir)?;
        let (index, payload) = match open_existing(dir, &schema) {
            Ok(found) => found,
            Err(reason) => {
                if dir.join("meta.json").exists() {
                    tracing::warn!(dir = %dir.display(), %reason, "the search index is unusable and will be rebuilt");
                } else {
                    tracing::info!(dir = %dir.display(), "creating the search index");
                }
                std::fs::remove_dir_all(dir)?;
                std::fs::create_dir_all(dir)?;
                let index = Index::create_in_dir(dir, schema)?;
                (index, None)
            }
        };
        let writer =
            index.writer_with_num_threads(options.writer_threads, options.writer_memory)?;
        // Searches read the index through mappings of their own, not the writer's: applying
        // deletes and merging segments fault in whole term dictionaries and postings, and if
        // the searcher shared those mappings they would stay resident as long as the segment
        // lives. Apart, the writer's mappings go with the segment readers it opens for a
        // commit or a merge, and the searcher's hold only the pages that queries touched.
        let reader = Index::open_in_dir(dir)?
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let (seq, complete) = payload.map_or((0, false), |p| (p.seq, p.complete));
        Ok(Self {
            reader,
            fields,
            writer: Mutex::new(writer),
            indexed: AtomicU64::new(seq),
            complete: AtomicBool::new(complete),
            stopping: AtomicBool::new(false),
        })
    }

    /// The last change of the store's feed that the searchable state reflects.
    pub fn indexed_seq(&self) -> u64 {
        self.indexed.load(Ordering::Acquire)
    }

    /// Whether the index holds every record (it has been built once and is not being rebuilt).
    pub fn is_complete(&self) -> bool {
        self.complete.load(Ordering::Acquire)
    }

    /// Asks a running and every later [`SearchIndex::sync`] to stop at the next page of
    /// changes or records, with [`SearchError::Stopped`], leaving the last commit in place.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
    }

    /// Fails with [`SearchError::Stopped`] once [`SearchIndex::stop`] was called.
    fn check_running(&self) -> Result<(), SearchError> {
        if self.stopping.load(Ordering::Acquire) {
            Err(SearchError::Stopped)
        } else {
            Ok(())
        }
    }

    /// The number of segments that searches read.
    pub fn segments(&self) -> usize {
        self.reader.searcher().segment_readers().len()
    }

    /// The number of indexed handles.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Brings the index up to the store's last change: rebuilds it from a scan of the store if
    /// it is incomplete, ahead of the store, or the feed has a gap, and otherwise applies the
    /// changes after [`SearchIndex::indexed_seq`]. Commits and makes the result searchable
    /// before returning. Blocking; progress is logged. `templates` tells which items of a
    /// record are indexed (see [`crate::analyze`]).
    pub fn sync<S: ChangeFeed + ?Sized>(
        &self,
        store: &S,
        templates: &dyn TemplateSource,
    ) -> Result<SyncReport, SearchError> {
        let mut writer = self.lock_writer();
        let last = store.last_change()?;
        let indexed = self.indexed_seq();
        let mut run = Run {
            writer: &mut writer,
            templates,
        };
        if !self.is_complete() {
            return self.rebuild(&mut run, store, "the index is new or incomplete");
        }
        if indexed > last {
            return self.rebuild(&mut run, store, "the index is ahead of the store");
        }
        self.catch_up(&mut run, store, indexed)
    }

    /// Rebuilds the index from a scan of the store, whatever its state.
    pub fn rebuild_from<S: ChangeFeed + ?Sized>(
        &self,
        store: &S,
        templates: &dyn TemplateSource,
    ) -> Result<SyncReport, SearchError> {
        let mut writer = self.lock_writer();
        let mut run = Run {
            writer: &mut writer,
            templates,
        };
        self.rebuild(&mut run, store, "a rebuild was requested")
    }

    fn lock_writer(&self) -> MutexGuard<'_, IndexWriter> {
        // A panic while indexing leaves at worst uncommitted operations, which the next
        // rebuild or catch-up makes good, so a poisoned lock is recovered.
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn catch_up<S: ChangeFeed + ?Sized>(
        &self,
        run: &mut Run<'_, '_>,
        store: &S,
        from: u64,
    ) -> Result<SyncReport, SearchError> {
        let mut seq = from;
        let mut applied = 0;
        let mut uncommitted = 0;
        loop {
            self.check_running()?;
            let changes = store.changes_since(seq, PAGE)?;
            let Some(first) = changes.first() else {
                break;
            };
            if Some(first.seq) != seq.checked_add(1) {
                return self.rebuild(run, store, "the change feed has a gap");
            }
            let keys: BTreeSet<&[u8]> = changes.iter().map(|c| c.key.as_slice()).collect();
            for key in keys {
                self.reindex(run, store, key)?;
            }
            seq = changes.last().map_or(seq, |c| c.seq);
            applied += changes.len();
            uncommitted += changes.len();
            if uncommitted >= COMMIT_EVERY {
                self.commit(run.writer, seq, true)?;
                uncommitted = 0;
                tracing::info!(applied, seq, "search index catch-up progress");
            }
        }
        if seq != from {
            self.commit(run.writer, seq, true)?;
            tracing::debug!(applied, seq, "search index caught up");
        }
        Ok(SyncReport {
            seq,
            applied,
            rebuilt: None,
        })
    }

    fn rebuild<S: ChangeFeed + ?Sized>(
        &self,
        run: &mut Run<'_, '_>,
        store: &S,
        reason: &str,
    ) -> Result<SyncReport, SearchError> {
        tracing::info!(reason, "rebuilding the search index from the store");
        self.complete.store(false, Ordering::Release);
        run.writer.delete_all_documents()?;
        // The writer's merge policy would merge the new segments while the scan adds them, and
        // those merges would race the one merge of all segments at the end (tantivy refuses a
        // merge of segments that another merge took away). A commit starts merges too, so
        // the policy comes back only after that merge.
        run.writer.set_merge_policy(Box::new(NoMergePolicy));
        let built = self.scan_and_merge(run, store);
        run.writer
            .set_merge_policy(Box::<LogMergePolicy>::default());
        let (snapshot, count) = built?;
        self.publish(snapshot, true)?;
        tracing::info!(records = count, seq = snapshot, "search index rebuilt");
        let caught_up = self.catch_up(run, store, snapshot)?;
        Ok(SyncReport {
            rebuilt: Some(count),
            ..caught_up
        })
    }

    /// Adds a document for every record of the store, commits, and merges the segments into
    /// one; returns the change the scan started after and the number of records. The index is
    /// ready only once merged: a merge maps every segment it reads, so until then the node
    /// holds those pages too.
    fn scan_and_merge<S: ChangeFeed + ?Sized>(
        &self,
        run: &mut Run<'_, '_>,
        store: &S,
    ) -> Result<(u64, usize), SearchError> {
        let (snapshot, count) = self.scan_into(run, store)?;
        self.write_commit(run.writer, snapshot, true)?;
        // One segment answers queries fastest; later writes add small segments that the
        // writer's merge policy folds in as they accumulate.
        let segments = run.writer.index().searchable_segment_ids()?;
        if segments.len() > 1 {
            tracing::info!(
                segments = segments.len(),
                "merging the rebuilt search index"
            );
            if let Err(error) = run.writer.merge(&segments).wait() {
                // Only an optimisation: the index is complete and searchable without it.
                tracing::warn!(%error, "cannot merge the rebuilt search index");
            }
        }
        Ok((snapshot, count))
    }

    /// Adds a document for every record of the store; returns the change the scan started
    /// after and the number of records.
    fn scan_into<S: ChangeFeed + ?Sized>(
        &self,
        run: &mut Run<'_, '_>,
        store: &S,
    ) -> Result<(u64, usize), SearchError> {
        // Changes after this point are applied by the catch-up below; changes the scan already
        // saw are applied twice, which is harmless.
        let snapshot = store.last_change()?;
        let mut after = Vec::new();
        let mut count = 0;
        loop {
            self.check_running()?;
            let page = store.scan_handles(&after, PAGE)?;
            let Some((last, _)) = page.last() else {
                break;
            };
            after.clone_from(last);
            for (key, record) in &page {
                let doc = self.document(&String::from_utf8_lossy(key), record, run.templates);
                run.writer.add_document(doc)?;
            }
            let before = count;
            count += page.len();
            if count / LOG_EVERY != before / LOG_EVERY {
                tracing::info!(records = count, "search index rebuild progress");
            }
        }
        Ok((snapshot, count))
    }

    /// Replaces the document of one handle by its current record, or removes it.
    fn reindex<S: ChangeFeed + ?Sized>(
        &self,
        run: &mut Run<'_, '_>,
        store: &S,
        key: &[u8],
    ) -> Result<(), SearchError> {
        let key_text = String::from_utf8_lossy(key);
        // A delete applies to the documents added before it, so the new document survives.
        run.writer
            .delete_term(Term::from_field_text(self.fields.key, &key_text));
        if let Some(record) = store.get(key)? {
            let doc = self.document(&key_text, &record, run.templates);
            run.writer.add_document(doc)?;
        }
        Ok(())
    }

    fn commit(
        &self,
        writer: &mut IndexWriter,
        seq: u64,
        complete: bool,
    ) -> Result<(), SearchError> {
        self.write_commit(writer, seq, complete)?;
        self.publish(seq, complete)
    }

    /// Commits what the writer holds, with the payload, without making it searchable.
    fn write_commit(
        &self,
        writer: &mut IndexWriter,
        seq: u64,
        complete: bool,
    ) -> Result<(), SearchError> {
        let payload = Payload {
            schema: SCHEMA_VERSION,
            seq,
            complete,
        };
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload(&serde_json::to_string(&payload)?);
        prepared.commit()?;
        Ok(())
    }

    /// Makes the last commit searchable and says what it reflects.
    fn publish(&self, seq: u64, complete: bool) -> Result<(), SearchError> {
        self.reload()?;
        self.indexed.store(seq, Ordering::Release);
        self.complete.store(complete, Ordering::Release);
        Ok(())
    }

    /// Makes the last commit searchable. The searcher's index does not protect its files from
    /// the writer's garbage collection, so a background merge that ends while the searcher
    /// opens the segments of the commit before it can delete one of them; the next attempt
    /// reads the newer commit. (Segments already open stay readable: their files are mapped.)
    fn reload(&self) -> Result<(), SearchError> {
        let mut attempt = 1;
        loop {
            match self.reader.reload() {
                Ok(()) => return Ok(()),
                Err(error) if attempt < RELOAD_ATTEMPTS => {
                    tracing::debug!(%error, attempt, "reloading the search index again");
                    attempt += 1;
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// The document of a handle.
    pub(crate) fn document(
        &self,
        key: &str,
        record: &StoredRecord,
        templates: &dyn TemplateSource,
    ) -> TantivyDocument {
        let f = &self.fields;
        let extracted = extract(&record.values, templates);
        let mut doc = TantivyDocument::default();
        doc.add_text(f.key, key);
        doc.add_text(f.handle, &record.handle);
        if let Some((prefix, _)) = key.split_once('/') {
            doc.add_text(f.prefix, prefix);
        }
        if let Some(link) = &extracted.template {
            doc.add_text(f.template, link);
            if let Some(name) = extracted.template_name().filter(|name| name != link) {
                doc.add_text(f.template, name);
            }
            doc.add_text(f.template_link, link);
        }
        for public_only in [true, false] {
            let fields = f.level(public_only);
            let mut terms = BTreeSet::new();
            let mut names = BTreeSet::new();
            for value in extracted.values.iter().filter(|v| v.public || !public_only) {
                for (kind, term) in &value.terms {
                    if terms.insert((*kind, term.as_str())) {
                        doc.add_text(fields.of(*kind), term);
                    }
                }
                // The same name in several values (a name and its English form written alike)
                // is indexed once, so that repetition does not raise a record's score.
                for name in &value.names {
                    if name.key.is_empty() || !names.insert(name.key.as_str()) {
                        continue;
                    }
                    doc.add_text(fields.of(Kind::NameKey), &name.key);
                    add_tokens(&mut doc, fields.of(Kind::NameEn), &name.en);
                    add_tokens(&mut doc, fields.of(Kind::NameZh), &name.zh);
                }
            }
        }
        doc
    }
}

/// The writer and the templates of one sync.
struct Run<'w, 't> {
    writer: &'w mut IndexWriter,
    templates: &'t dyn TemplateSource,
}

/// Adds already analyzed tokens to a text field.
fn add_tokens(doc: &mut TantivyDocument, field: tantivy::schema::Field, tokens: &[String]) {
    if tokens.is_empty() {
        return;
    }
    let tokens = tokens
        .iter()
        .enumerate()
        .map(|(position, text)| Token {
            offset_from: 0,
            offset_to: 0,
            position,
            text: text.clone(),
            position_length: 1,
        })
        .collect();
    doc.add_pre_tokenized_text(
        field,
        PreTokenizedString {
            text: String::new(),
            tokens,
        },
    );
}

/// Opens an existing index of this schema with its payload, or says why not.
fn open_existing(dir: &Path, schema: &Schema) -> Result<(Index, Option<Payload>), String> {
    if !dir.join("meta.json").exists() {
        return Err("no index".to_owned());
    }
    let index = Index::open_in_dir(dir).map_err(|e| e.to_string())?;
    if index.schema() != *schema {
        return Err("the index has another schema".to_owned());
    }
    let metas = index.load_metas().map_err(|e| e.to_string())?;
    let payload: Payload = metas
        .payload
        .as_deref()
        .ok_or("the index has no commit payload")
        .and_then(|p| serde_json::from_str(p).map_err(|_| "the commit payload is unreadable"))?;
    if payload.schema != SCHEMA_VERSION {
        return Err(format!(
            "the index has schema version {}, not {SCHEMA_VERSION}",
            payload.schema
        ));
    }
    // Opening a reader opens every segment, which finds missing or truncated files.
    let reader = index.reader().map_err(|e| e.to_string())?;
    drop(reader);
    Ok((index, Some(payload)))
}
