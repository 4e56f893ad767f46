//! Search requests: planning them into tantivy queries, collecting candidates, and checking
//! every candidate through the resolver before it is returned.
//!
//! Every parameter is a *group* of terms that a result must match: `cas`, `un`, `uscc`,
//! `value`, `item` exactly, and `q` through any of its clauses (the whole name, exactly or with
//! one edit; its Latin words, exactly or with one edit; its Chinese bigrams; and, when `q` is
//! itself a CAS number, UN number or credit code, that code; an indexed item's text; a value's
//! exact text). `type` filters by template without scoring.
//!
//! Candidates come from the index (the `pub_` fields for anonymous callers, the `all_` fields
//! otherwise), best first. Each candidate is then resolved through
//! [`Resolver::handle`](idnode_resolver::Resolver::handle), exactly as a resolution by the same
//! caller, and kept only if the values the caller may read still match every group; those
//! values are the result's `matched` list. Permissions are therefore decided by the resolver
//! alone, and a stale index can only cost a candidate, never leak a value.

use std::collections::{HashMap, HashSet};

use idnode_proto::TypeFilter;
use idnode_registry::Store;
use idnode_resolver::{Identity, Operation, Outcome, Request, Resolver};
use idnode_templates::validators;
use serde::Serialize;
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{
    BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, Query, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption, Value as _};
use tantivy::{DocAddress, Score, Searcher, TantivyDocument, Term};

use crate::SearchError;
use crate::analyze::{
    Kind, MAX_VALUE_BYTES, ResolverTemplates, ValueTerms, en_tokens, extract, item_term, name_key,
    normalize_un, normalize_uscc, typed_item_term, zh_query_grams,
};
use crate::index::SearchIndex;
use crate::schema::KindFields;

/// The page size when none is given.
pub const DEFAULT_PAGE_SIZE: usize = 20;
/// The largest page size.
pub const MAX_PAGE_SIZE: usize = 100;
/// How deep results can be paged: `(page + 1) × pageSize` may not exceed this.
pub const MAX_WINDOW: usize = 1000;
/// The longest value of one parameter, in characters.
pub const MAX_PARAM_CHARS: usize = 256;
/// When the index finds at most this many candidates, all are checked and `total` is exact.
const VERIFY_ALL: usize = 100;
/// Candidates collected beyond the requested page, to replace those the check rejects.
const SLACK: usize = 100;
/// The most terms one query word expands to with one edit.
const MAX_EXPANSIONS: usize = 32;
/// The least weight of an expansion relative to the most frequent one.
const MIN_EXPANSION_WEIGHT: Score = 0.1;
/// The most words of `q` that are searched.
const MAX_WORDS: usize = 8;

/// Boosts of the clauses of `q`: an exact whole name dominates, then codes, then items, then
/// names within one edit, then words and grams.
const BOOST_NAME_KEY: Score = 8.0;
const BOOST_CODE: Score = 10.0;
const BOOST_ITEM: Score = 5.0;
const BOOST_VALUE: Score = 3.0;
const BOOST_NAME_FUZZY: Score = 3.0;
const BOOST_WORD: Score = 2.0;
const BOOST_WORD_FUZZY: Score = 1.0;
const BOOST_GRAM: Score = 2.0;

/// A search: the parameters of `GET /api/search`. Empty strings count as absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchRequest {
    /// Free text: names (Chinese or English, one typo allowed), codes, item values.
    pub q: Option<String>,
    /// A CAS number, exactly.
    pub cas: Option<String>,
    /// A UN number (`UN1090`, `1090`).
    pub un: Option<String>,
    /// A unified social credit code (any letter case).
    pub uscc: Option<String>,
    /// A template name (`hazchem.product`) or link (`hazchem.product@1`) the results must have.
    pub template: Option<String>,
    /// The exact text of some value (reverse lookup: which handles hold this URL?).
    pub value: Option<String>,
    /// An indexed item's text (any letter case), optionally typed: `batchNo:B-1`.
    pub item: Option<String>,
    /// The zero-based page.
    pub page: usize,
    /// Results per page, 1 to [`MAX_PAGE_SIZE`].
    pub page_size: usize,
}

impl SearchRequest {
    /// Checks the request's bounds: something to search for, parameter lengths, page size and
    /// depth.
    pub fn check(&self) -> Result<(), SearchError> {
        let params = [
            &self.q,
            &self.cas,
            &self.un,
            &self.uscc,
            &self.template,
            &self.value,
            &self.item,
        ];
        if params.iter().all(|p| present(p).is_none()) {
            return Err(SearchError::BadRequest(
                "give at least one of q, cas, un, uscc, type, value, item".to_owned(),
            ));
        }
        if params
            .iter()
            .filter_map(|p| p.as_deref())
            .any(|p| p.chars().count() > MAX_PARAM_CHARS)
        {
            return Err(SearchError::BadRequest(format!(
                "parameters are limited to {MAX_PARAM_CHARS} characters"
            )));
        }
        if self.page_size == 0 || self.page_size > MAX_PAGE_SIZE {
            return Err(SearchError::BadRequest(format!(
                "pageSize must be 1 to {MAX_PAGE_SIZE}"
            )));
        }
        if self
            .page
            .checked_add(1)
            .and_then(|p| p.checked_mul(self.page_size))
            .is_none_or(|end| end > MAX_WINDOW)
        {
            return Err(SearchError::BadRequest(format!(
                "results can be paged up to the first {MAX_WINDOW}"
            )));
        }
        Ok(())
    }
}

/// A parameter's text, unless absent or blank.
fn present(param: &Option<String>) -> Option<&str> {
    param.as_deref().filter(|p| !p.trim().is_empty())
}

/// One value of a result that matched the search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatchedValue {
    /// The value's index.
    pub index: u32,
    /// The value's type.
    #[serde(rename = "type")]
    pub value_type: String,
    /// The value's text.
    pub value: String,
}

/// One result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchHit {
    /// The handle, as first spelled.
    pub handle: String,
    /// Its template link `name@version`, if it has one the caller may read.
    pub template: Option<String>,
    /// The relevance score; higher is better.
    pub score: Score,
    /// The values, readable by the caller, that matched.
    pub matched: Vec<MatchedValue>,
}

/// A page of results.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchPage {
    /// How many handles match. Exact when the index finds at most 100 candidates; otherwise
    /// the index's count less the candidates found unreadable while filling the page.
    pub total: usize,
    /// The zero-based page.
    pub page: usize,
    /// The page size.
    pub page_size: usize,
    /// The results of the page, best first.
    pub results: Vec<SearchHit>,
}

/// Terms of which a result's readable values must match at least one.
#[derive(Debug, Clone, Default)]
struct Group {
    terms: HashSet<(Kind, String)>,
}

impl Group {
    fn insert(&mut self, kind: Kind, term: impl Into<String>) {
        self.terms.insert((kind, term.into()));
    }

    fn has(&self, kind: Kind, term: &str) -> bool {
        // Allocation-free lookups would need a borrowed key type; groups are small.
        self.terms.contains(&(kind, term.to_owned()))
    }

    fn matches(&self, value: &ValueTerms) -> bool {
        value.terms.iter().any(|t| self.terms.contains(t))
            || value.names.iter().any(|name| {
                self.has(Kind::NameKey, &name.key)
                    || name.en.iter().any(|w| self.has(Kind::NameEn, w))
                    || name.zh.iter().any(|g| self.has(Kind::NameZh, g))
            })
    }
}

/// Clauses of a boolean query.
type Clauses = Vec<(Occur, Box<dyn Query>)>;

/// A planned search: the index query and what the check must find.
struct Plan {
    query: Box<dyn Query>,
    groups: Vec<Group>,
    template: Option<String>,
}

/// A term query, boosted unless the boost is 1.
fn term(field: Field, text: &str, freqs: bool, boost: Score) -> Box<dyn Query> {
    let option = if freqs {
        IndexRecordOption::WithFreqs
    } else {
        IndexRecordOption::Basic
    };
    let query: Box<dyn Query> =
        Box::new(TermQuery::new(Term::from_field_text(field, text), option));
    if (boost - 1.0).abs() < Score::EPSILON {
        query
    } else {
        Box::new(BoostQuery::new(query, boost))
    }
}

/// An exact term of a kind: a query on its field and a one-term group.
fn exact(fields: &KindFields, kind: Kind, text: String) -> (Box<dyn Query>, Group) {
    let query = term(fields.of(kind), &text, false, 1.0);
    let mut group = Group::default();
    group.insert(kind, text);
    (query, group)
}

/// The indexed terms within one edit of `word` in a field, across every segment, that are more
/// frequent than `word` itself, at most [`MAX_EXPANSIONS`] of the most frequent ones, each with
/// its frequency relative to the most frequent one (at least [`MIN_EXPANSION_WEIGHT`]).
///
/// A misspelling is rarer than what was meant: `acetome` (absent) expands to `acetone`, but a
/// correctly spelled `acid` does not expand to the rarer `cid`, whose higher inverse document
/// frequency would otherwise rank it above the exact word. Among the expansions the weight
/// prefers the common word (`aceton` is `acetone` rather than `acetoin`), as a spelling
/// corrector would.
fn expand(
    searcher: &Searcher,
    field: Field,
    word: &str,
) -> Result<Vec<(String, Score)>, SearchError> {
    let exact = Term::from_field_text(field, word);
    let own = searcher.doc_freq(&exact)?;
    let automaton = FuzzyTermQuery::new(exact, 1, true).automaton()?;
    let mut found: HashMap<String, u64> = HashMap::new();
    for segment in searcher.segment_readers() {
        let inverted = segment.inverted_index(field)?;
        let mut stream = inverted.terms().search(&automaton).into_stream()?;
        while stream.advance() && found.len() < MAX_EXPANSIONS * 8 {
            if let Ok(text) = std::str::from_utf8(stream.key()) {
                *found.entry(text.to_owned()).or_default() += u64::from(stream.value().doc_freq);
            }
        }
    }
    let mut near: Vec<(String, u64)> = found
        .into_iter()
        .filter(|(text, freq)| *freq > own && text != word)
        .collect();
    near.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let top = near.first().map_or(1, |(_, freq)| (*freq).max(1)) as Score;
    Ok(near
        .into_iter()
        .take(MAX_EXPANSIONS)
        .map(|(text, freq)| (text, (freq as Score / top).max(MIN_EXPANSION_WEIGHT)))
        .collect())
}

/// Plans the free-text parameter `q` as a flat list of optional term queries, so that the
/// collector can skip blocks of documents that cannot reach the top (block-max WAND). A
/// document's score is the sum of the clauses it matches.
fn plan_q(
    searcher: &Searcher,
    fields: &KindFields,
    q: &str,
) -> Result<(Clauses, Group), SearchError> {
    let mut clauses: Clauses = Vec::new();
    let mut group = Group::default();
    let mut should = |query: Box<dyn Query>| clauses.push((Occur::Should, query));
    let trimmed = q.trim();
    let mut is_code = false;
    if validators::cas(trimmed).is_ok() {
        should(term(fields.of(Kind::Cas), trimmed, false, BOOST_CODE));
        group.insert(Kind::Cas, trimmed);
        is_code = true;
    }
    let upper = trimmed.to_ascii_uppercase();
    let un_shaped = upper.starts_with("UN")
        || (trimmed.len() == 4 && trimmed.bytes().all(|b| b.is_ascii_digit()));
    if let Some(un) = normalize_un(trimmed).filter(|_| un_shaped) {
        should(term(fields.of(Kind::Un), &un, false, BOOST_CODE));
        group.insert(Kind::Un, un);
        is_code = true;
    }
    let uscc = normalize_uscc(trimmed);
    if validators::uscc(&uscc).is_ok() {
        should(term(fields.of(Kind::Uscc), &uscc, false, BOOST_CODE));
        group.insert(Kind::Uscc, uscc);
        is_code = true;
    }
    let item = item_term(trimmed);
    should(term(fields.of(Kind::Item), &item, false, BOOST_ITEM));
    group.insert(Kind::Item, item);
    if trimmed.len() <= MAX_VALUE_BYTES {
        should(term(fields.of(Kind::Value), trimmed, false, BOOST_VALUE));
        group.insert(Kind::Value, trimmed);
    }
    let key = name_key(q);
    if !key.is_empty() {
        should(term(fields.of(Kind::NameKey), &key, false, BOOST_NAME_KEY));
        group.insert(Kind::NameKey, key.clone());
    }
    if !is_code {
        if key.chars().count() >= 4 {
            let field = fields.of(Kind::NameKey);
            for (near, weight) in expand(searcher, field, &key)? {
                should(term(field, &near, false, BOOST_NAME_FUZZY * weight));
                group.insert(Kind::NameKey, near);
            }
        }
        let mut words = en_tokens(q);
        let mut seen = HashSet::new();
        words.retain(|w| seen.insert(w.clone()));
        // Numbers alone (`50-00-1`, a code that did not validate) would match every name with
        // a `1` in it; they count only beside a word.
        if words.iter().all(|w| w.chars().all(|c| c.is_ascii_digit())) {
            words.clear();
        }
        for word in words.into_iter().take(MAX_WORDS) {
            let field = fields.of(Kind::NameEn);
            should(term(field, &word, true, BOOST_WORD));
            if word.chars().count() >= 4 && !word.chars().all(|c| c.is_ascii_digit()) {
                for (near, weight) in expand(searcher, field, &word)? {
                    if !group.has(Kind::NameEn, &near) {
                        should(term(field, &near, true, BOOST_WORD_FUZZY * weight));
                        group.insert(Kind::NameEn, near);
                    }
                }
            }
            group.insert(Kind::NameEn, word);
        }
        for gram in zh_query_grams(q) {
            should(term(fields.of(Kind::NameZh), &gram, true, BOOST_GRAM));
            group.insert(Kind::NameZh, gram);
        }
    }
    Ok((clauses, group))
}

/// Plans a request on the fields of one visibility level.
fn plan(
    searcher: &Searcher,
    index: &SearchIndex,
    request: &SearchRequest,
    public_only: bool,
) -> Result<Plan, SearchError> {
    let fields = index.fields.level(public_only);
    let mut clauses: Clauses = Vec::new();
    let mut groups = Vec::new();
    let q = match present(&request.q) {
        Some(q) => Some(plan_q(searcher, fields, q)?),
        None => None,
    };
    let mut must = |(query, group): (Box<dyn Query>, Group)| {
        clauses.push((Occur::Must, query));
        groups.push(group);
    };
    if let Some(cas) = present(&request.cas) {
        must(exact(fields, Kind::Cas, cas.trim().to_owned()));
    }
    if let Some(un) = present(&request.un) {
        let normalized = normalize_un(un).unwrap_or_else(|| un.trim().to_ascii_uppercase());
        must(exact(fields, Kind::Un, normalized));
    }
    if let Some(uscc) = present(&request.uscc) {
        must(exact(fields, Kind::Uscc, normalize_uscc(uscc)));
    }
    if let Some(value) = present(&request.value) {
        must(exact(fields, Kind::Value, value.trim().to_owned()));
    }
    if let Some(item) = present(&request.item) {
        let typed = item
            .split_once(':')
            .filter(|(id_type, _)| !id_type.is_empty() && !id_type.contains(char::is_whitespace));
        match typed {
            Some((id_type, text)) => must(exact(
                fields,
                Kind::ItemTyped,
                typed_item_term(id_type, text),
            )),
            None => must(exact(fields, Kind::Item, item_term(item))),
        }
    }
    let template = present(&request.template).map(|t| t.trim().to_owned());
    if let Some(template) = &template {
        let filter = term(index.fields.template, template, false, 1.0);
        clauses.push((Occur::Must, Box::new(ConstScoreQuery::new(filter, 0.0))));
    }
    let query: Box<dyn Query> = match q {
        // `q` alone stays one flat union, which the collector can prune.
        Some((alternatives, group)) if clauses.is_empty() => {
            groups.push(group);
            Box::new(BooleanQuery::new(alternatives))
        }
        Some((alternatives, group)) => {
            groups.insert(0, group);
            clauses.insert(0, (Occur::Must, Box::new(BooleanQuery::new(alternatives))));
            Box::new(BooleanQuery::new(clauses))
        }
        None => Box::new(BooleanQuery::new(clauses)),
    };
    Ok(Plan {
        query,
        groups,
        template,
    })
}

/// The candidates of a search, best first, to be checked through the resolver.
pub struct Candidates {
    searcher: Searcher,
    handle_field: Field,
    hits: Vec<(Score, DocAddress)>,
    total: usize,
    groups: Vec<Group>,
    template: Option<String>,
    page: usize,
    page_size: usize,
}

impl std::fmt::Debug for Candidates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Candidates")
            .field("hits", &self.hits.len())
            .field("total", &self.total)
            .finish_non_exhaustive()
    }
}

impl SearchIndex {
    /// Finds the candidates of a search, on the public values only (`public_only`, for
    /// anonymous callers) or on all values. Blocking and CPU-bound; the index must be complete.
    pub fn candidates(
        &self,
        request: &SearchRequest,
        public_only: bool,
    ) -> Result<Candidates, SearchError> {
        request.check()?;
        if !self.is_complete() {
            return Err(SearchError::NotReady);
        }
        let searcher = self.reader.searcher();
        let plan = plan(&searcher, self, request, public_only)?;
        let window = ((request.page + 1) * request.page_size + SLACK).min(MAX_WINDOW);
        // Two passes: counting without scores is cheap, and collecting the top documents alone
        // lets the collector skip what cannot reach them, which a combined collector would not.
        let total = searcher.search(&*plan.query, &Count)?;
        let hits = searcher.search(&*plan.query, &TopDocs::with_limit(window).order_by_score())?;
        Ok(Candidates {
            searcher,
            handle_field: self.fields.handle,
            hits,
            total,
            groups: plan.groups,
            template: plan.template,
            page: request.page,
            page_size: request.page_size,
        })
    }

    /// Searches and checks the results through `resolver` as `identity` (see the module
    /// documentation). Runs the index part on the calling thread.
    pub async fn search<S: Store>(
        &self,
        resolver: &Resolver<S>,
        request: &SearchRequest,
        identity: Option<&Identity>,
        now: u32,
    ) -> Result<SearchPage, SearchError> {
        self.candidates(request, identity.is_none())?
            .verify(resolver, identity, now)
            .await
    }
}

impl Candidates {
    /// How many documents the index matched.
    pub fn total(&self) -> usize {
        self.total
    }

    /// The handles of the first `n` candidates, best first, unchecked.
    pub fn handles(&self, n: usize) -> Result<Vec<String>, SearchError> {
        self.hits
            .iter()
            .take(n)
            .map(|(_, address)| self.handle(*address))
            .collect()
    }

    fn handle(&self, address: DocAddress) -> Result<String, SearchError> {
        let doc: TantivyDocument = self.searcher.doc(address)?;
        Ok(doc
            .get_first(self.handle_field)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned())
    }

    /// Checks candidates through the resolver, as `identity` would resolve them, until the
    /// requested page is filled, and returns it.
    pub async fn verify<S: Store>(
        self,
        resolver: &Resolver<S>,
        identity: Option<&Identity>,
        now: u32,
    ) -> Result<SearchPage, SearchError> {
        resolver
            .charge_request(identity, now)
            .map_err(SearchError::Refused)?;
        let templates = ResolverTemplates::new(resolver);
        let start = self.page * self.page_size;
        let end = start + self.page_size;
        let check_all = self.total <= VERIFY_ALL;
        let mut accepted = 0;
        let mut rejected = 0;
        let mut checked = 0;
        let mut results = Vec::new();
        for &(score, address) in &self.hits {
            if accepted >= end && !check_all {
                break;
            }
            checked += 1;
            let handle = self.handle(address)?;
            match self
                .check(resolver, &templates, identity, &handle, now)
                .await
            {
                Some((template, matched)) => {
                    if accepted >= start && accepted < end {
                        results.push(SearchHit {
                            handle,
                            template,
                            score,
                            matched,
                        });
                    }
                    accepted += 1;
                }
                None => rejected += 1,
            }
        }
        let total = if checked == self.total {
            accepted
        } else {
            self.total.saturating_sub(rejected).max(accepted)
        };
        Ok(SearchPage {
            total,
            page: self.page,
            page_size: self.page_size,
            results,
        })
    }

    /// Resolves one candidate as the caller and returns its readable template link and matched
    /// values, or `None` if it does not match in what the caller may read.
    async fn check<S: Store>(
        &self,
        resolver: &Resolver<S>,
        templates: &ResolverTemplates<'_, S>,
        identity: Option<&Identity>,
        handle: &str,
        now: u32,
    ) -> Option<(Option<String>, Vec<MatchedValue>)> {
        let parsed = resolver.parse_handle(handle).ok()?;
        let request = Request {
            op: Operation::Resolve {
                handle: parsed,
                filter: TypeFilter::default(),
                public_only: identity.is_none(),
                refer: true,
                recurse: None,
            },
            identity: identity.cloned(),
            now,
        };
        // The search as a whole was charged to the caller's quota in `verify`.
        let Ok(Outcome::Values { values, .. }) = resolver.resolve_uncharged(request).await else {
            return None;
        };
        let visible = extract(&values, templates);
        if let Some(template) = &self.template
            && visible.template.as_deref() != Some(template.as_str())
            && visible.template_name() != Some(template.as_str())
        {
            return None;
        }
        if !self
            .groups
            .iter()
            .all(|group| visible.values.iter().any(|v| group.matches(v)))
        {
            return None;
        }
        let matched = visible
            .values
            .iter()
            .filter(|v| self.groups.iter().any(|group| group.matches(v)))
            .map(|v| MatchedValue {
                index: v.index,
                value_type: v.value_type.clone(),
                value: v.text.clone(),
            })
            .collect();
        Some((visible.template, matched))
    }
}
