//! idnode's search index (检索): find handle records by CAS number, UN number, unified social
//! credit code, indexed template items, names (Chinese by character bigrams, English by words
//! with one typo allowed) and, in reverse, by any value's text.
//!
//! [`SearchIndex`] keeps a tantivy index in a directory (the node uses `<data>/search/`), one
//! document per handle, and follows the registry's change feed
//! ([`Store::changes_since`](idnode_registry::Store::changes_since)): [`SearchIndex::sync`]
//! applies the committed changes after the last one it indexed, which it stores in the index's
//! commit payload, and rebuilds from a scan of the store when the index is missing, corrupt,
//! or ahead of the store. What a record contributes is decided by its template (the index-1001
//! link and the items marked `indexed`, see [`analyze`]).
//!
//! [`SearchIndex::search`] plans a [`SearchRequest`] into a tantivy query, collects candidates
//! on the public values (anonymous callers) or all values, and then resolves each candidate
//! through the [`Resolver`](idnode_resolver::Resolver) as the caller: only handles whose
//! readable values still match are returned, with those values as `matched`. The permission
//! rules are the resolver's; this crate does not re-implement them.
//!
//! This crate reads and writes only the index directory it is given, does not read the clock
//! (`now` is a parameter), and spawns no tasks; tantivy's writer runs its own indexing and
//! merge threads. The node runs [`SearchIndex::sync`] in a loop and serves `GET /api/search`.
#![warn(missing_docs)]

pub mod analyze;
mod index;
mod query;
mod schema;

use thiserror::Error;

pub use analyze::{BuiltinTemplates, ResolverTemplates, TemplateSource};
pub use index::{IndexOptions, SearchIndex, SyncReport};
pub use query::{
    Candidates, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_PARAM_CHARS, MAX_WINDOW, MatchedValue,
    SearchHit, SearchPage, SearchRequest,
};

/// Why a search or an index update failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SearchError {
    /// The request is malformed or out of bounds; the message says why.
    #[error("{0}")]
    BadRequest(String),
    /// The resolver refused the search itself (the caller's daily request quota is used up).
    #[error("{0}")]
    Refused(idnode_resolver::Failure),
    /// The index has not been built yet (or is being rebuilt).
    #[error("the search index is being built")]
    NotReady,
    /// [`SearchIndex::stop`] was called; the last commit stays in place.
    #[error("the search index is stopping")]
    Stopped,
    /// The index failed.
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    /// The index directory failed.
    #[error("search index directory: {0}")]
    Io(#[from] std::io::Error),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] idnode_registry::StoreError),
    /// The commit payload could not be written.
    #[error("search index payload: {0}")]
    Payload(#[from] serde_json::Error),
}
