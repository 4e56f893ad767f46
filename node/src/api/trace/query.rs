//! Reading the records back: the EPCIS simple-event query (`GET /epcis/events`) and a subject's
//! history with proofs (`GET /api/trace/{handle}`).
//!
//! Both need credentials, and show only the records the caller may read (see
//! [`super::Reader`]). Queries walk the log in order from the page token (a leaf index).
//! `MATCH_epc` walks the merged history indexes of its identifiers instead of the whole log. A
//! page scans at most [`SCAN_LIMIT`] records, so a page can hold fewer events than `perPage`
//! and still have a next page. `page=N` skips N pages of matching, readable events, reading at
//! most [`PAGE_SCAN_LIMIT`] records.

use crate::http::auth::Presented;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;
use std::sync::Arc;

use idnode_registry::{StoredTrace, TraceRead as _};
use serde_json::{Map, Value, json};

use super::TraceApi;
use super::log::{bundle_at, param};
use super::{Reader, json, problem};
use crate::http::Conn;
use idnode_trace::capture as validate;
use idnode_trace::cbv::parse_time;
use idnode_trace::ids::{self, Form};

/// The most records one query page reads.
const SCAN_LIMIT: usize = 10_000;

/// The most records a page read by number (`page=`) reads, the skipped pages included.
const PAGE_SCAN_LIMIT: usize = 100_000;

/// The default and largest page sizes.
const DEFAULT_PER_PAGE: usize = 30;
const MAX_PER_PAGE: usize = 1000;

/// The filters of a simple-event query.
#[derive(Debug, Default)]
struct Filters {
    event_types: Vec<String>,
    ge_time: Option<i64>,
    lt_time: Option<i64>,
    biz_steps: Vec<String>,
    epcs: Vec<String>,
    biz_locations: Vec<String>,
    read_points: Vec<String>,
}

/// `GET /epcis/events`: the events the caller may read (see [`super::Reader`]) that match
/// the filters, in log order.
pub(super) async fn events(
    state: &Arc<TraceApi>,
    conn: Conn,
    presented: Presented<'_>,
    query: Option<&str>,
) -> Response<Full<Bytes>> {
    let identity = match super::reader_identity(state, conn, presented).await {
        Ok(Some(identity)) => identity,
        Ok(None) => return super::unauthorized("event queries need HTTP Basic credentials"),
        Err(response) => return response,
    };
    let mut reader = Reader::new(state, identity);
    let filters = match filters(state, query) {
        Ok(filters) => filters,
        Err(detail) => return bad(&detail),
    };
    let per_page = match param(query, "perPage").map(|v| v.parse::<usize>()) {
        None => DEFAULT_PER_PAGE,
        Some(Ok(n)) if (1..=MAX_PER_PAGE).contains(&n) => n,
        Some(_) => return bad(&format!("perPage must be 1 to {MAX_PER_PAGE}")),
    };
    // A page number skips that many pages of matching (and readable) events.
    let (start, skip) = match (param(query, "nextPageToken"), param(query, "page")) {
        (Some(token), _) => match decode_token(&token) {
            Some(start) => (start, 0),
            None => return bad("invalid nextPageToken"),
        },
        (None, Some(page)) => match page.parse::<usize>() {
            Ok(page) => (0, page.saturating_mul(per_page)),
            Err(_) => return bad("page must be a number"),
        },
        (None, None) => (0, 0),
    };
    let budget = if skip > 0 {
        PAGE_SCAN_LIMIT
    } else {
        SCAN_LIMIT
    };
    let page = match scan(state, &mut reader, &filters, start, skip, per_page, budget) {
        Ok(page) => page,
        Err(error) => return internal(&error),
    };
    if page.skipping {
        return problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "epcisException:QueryTooComplexException",
            &format!(
                "page {} lies beyond the first {PAGE_SCAN_LIMIT} records; page with nextPageToken",
                skip / per_page
            ),
            None,
        );
    }
    if let Err(failure) = reader
        .audit("epcis/events", query.unwrap_or_default())
        .await
    {
        return internal(&failure);
    }
    let mut body = json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": idnode_proto::time::format_iso8601(crate::core::unix_now()),
        "epcisBody": {"queryResults": {
            "queryName": "SimpleEventQuery",
            "resultsBody": {"eventList": page.found},
        }},
    });
    let next = page.next;
    if let Some(next) = next {
        body["nextPageToken"] = json!(encode_token(next));
    }
    let mut response = json(StatusCode::OK, &body);
    if let Some(next) = next {
        let link = format!(
            "</epcis/events?nextPageToken={}>; rel=\"next\"",
            encode_token(next)
        );
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
        if let Ok(value) = HeaderValue::from_str(&encode_token(next)) {
            response.headers_mut().insert("GS1-Next-Page-Token", value);
        }
    }
    response
}

/// One page of a query.
struct Page {
    /// The events of the page.
    found: Vec<Value>,
    /// The leaf index to go on from, when the log may hold more matching events.
    next: Option<u64>,
    /// Whether the scan budget ran out before the skipped pages were passed.
    skipping: bool,
}

/// Where a query reads its candidates: the whole log in order, or the merged histories of the
/// `MATCH_epc` identifiers.
enum Source<'f> {
    Log,
    Epcs(&'f [String]),
}

/// Records read from the store per round.
const CHUNK: usize = 1000;

/// Walks the candidates from leaf `start`, skipping `skip` matching events, until `per_page`
/// more are found (and one after them, so the last page has no `next`) or `budget` records
/// were read.
fn scan(
    state: &TraceApi,
    reader: &mut Reader<'_>,
    filters: &Filters,
    start: u64,
    mut skip: usize,
    per_page: usize,
    budget: usize,
) -> Result<Page, String> {
    let store = state.resolver.trace_log();
    let source = if filters.epcs.is_empty() {
        Source::Log
    } else {
        Source::Epcs(&filters.epcs)
    };
    let mut found = Vec::new();
    let mut cursor = start;
    let mut scanned = 0usize;
    loop {
        let want = CHUNK.min(budget - scanned);
        let (records, exhausted, after) = match source {
            Source::Log => {
                let records = store
                    .trace_records(cursor, want)
                    .map_err(|e| e.to_string())?;
                let exhausted = records.len() < want;
                let after = records.last().map_or(cursor, |r| r.index + 1);
                (records, exhausted, after)
            }
            Source::Epcs(epcs) => {
                let (indexes, more) = epc_indexes(state, epcs, cursor, want)?;
                let after = indexes.last().map_or(cursor, |index| index + 1);
                let mut records = Vec::with_capacity(indexes.len());
                for index in indexes {
                    let mut one = store.trace_records(index, 1).map_err(|e| e.to_string())?;
                    records.extend(one.pop());
                }
                (records, !more, after)
            }
        };
        scanned += want;
        cursor = after;
        for stored in &records {
            let Some((event, record)) = event_of(stored) else {
                continue;
            };
            if !matches(state, filters, &event) {
                continue;
            }
            let subject = record.get("subject").and_then(Value::as_str).unwrap_or("");
            if !reader.may_read(subject).map_err(|f| f.to_string())? {
                continue;
            }
            if skip > 0 {
                skip -= 1;
                continue;
            }
            if found.len() == per_page {
                return Ok(Page {
                    found,
                    next: Some(stored.index),
                    skipping: false,
                });
            }
            found.push(Value::Object(event));
        }
        if exhausted {
            return Ok(Page {
                found,
                next: None,
                skipping: false,
            });
        }
        if scanned >= budget {
            return Ok(Page {
                found,
                next: Some(cursor),
                skipping: skip > 0,
            });
        }
    }
}

/// The leaf indexes from `from` on (at most `limit`) of records naming any of `epcs`, merged
/// from their history indexes in log order, and whether more may follow.
fn epc_indexes(
    state: &TraceApi,
    epcs: &[String],
    from: u64,
    limit: usize,
) -> Result<(Vec<u64>, bool), String> {
    let store = state.resolver.trace_log();
    let mut merged = std::collections::BTreeSet::new();
    // A history that filled its limit may go on past its last index: nothing beyond the
    // smallest such index is known to be complete.
    let mut complete_until: Option<u64> = None;
    for epc in epcs {
        let history = store
            .trace_subject(epc, from.checked_sub(1), limit)
            .map_err(|e| e.to_string())?;
        if history.len() == limit
            && let Some(last) = history.last()
        {
            complete_until = Some(complete_until.map_or(last.index, |c| c.min(last.index)));
        }
        merged.extend(history.iter().map(|entry| entry.index));
    }
    let mut more = complete_until.is_some();
    let mut indexes: Vec<u64> = merged
        .into_iter()
        .filter(|&index| complete_until.is_none_or(|c| index <= c))
        .collect();
    if indexes.len() > limit {
        indexes.truncate(limit);
        more = true;
    }
    Ok((indexes, more))
}

fn filters(state: &TraceApi, query: Option<&str>) -> Result<Filters, String> {
    let mut filters = Filters::default();
    let list = |name: &str| -> Vec<String> {
        param(query, name)
            .map(|v| v.split('|').map(str::to_owned).collect())
            .unwrap_or_default()
    };
    filters.event_types = list("eventType");
    filters.event_types.extend(list("type"));
    for (name, slot) in [
        ("GE_eventTime", &mut filters.ge_time),
        ("LT_eventTime", &mut filters.lt_time),
    ] {
        if let Some(value) = param(query, name) {
            *slot =
                Some(parse_time(&value).ok_or_else(|| format!("{name} is not an RFC 3339 time"))?);
        }
    }
    filters.biz_steps = list("EQ_bizStep")
        .iter()
        .map(|s| validate::cbv_bare(s, "BizStep").unwrap_or(s).to_owned())
        .collect();
    let bases = &state.trace.config.resolver_bases;
    let canonical = |text: &str| canonical_id(state, text, bases);
    filters.epcs = list("MATCH_epc").iter().map(|t| canonical(t)).collect();
    filters.biz_locations = list("EQ_bizLocation")
        .iter()
        .map(|t| canonical(t))
        .collect();
    filters.read_points = list("EQ_readPoint").iter().map(|t| canonical(t)).collect();
    Ok(filters)
}

/// The canonical form of an identifier, as records are indexed under it.
fn canonical_id(state: &TraceApi, text: &str, bases: &[String]) -> String {
    match ids::form(text, bases) {
        Form::Other(text) => text,
        Form::Malformed(_) => text.to_owned(),
        Form::Handle(text) => match state.resolver.parse_handle(&text) {
            Ok(handle) => match state.resolver.stored_spelling(&handle) {
                Ok(Some(spelling)) => spelling,
                _ => handle.as_str().to_owned(),
            },
            Err(_) => text,
        },
    }
}

fn matches(state: &TraceApi, filters: &Filters, event: &Map<String, Value>) -> bool {
    let string = |field: &str| event.get(field).and_then(Value::as_str);
    if !filters.event_types.is_empty()
        && !string("type").is_some_and(|t| filters.event_types.iter().any(|f| f == t))
    {
        return false;
    }
    let time = string("eventTime").and_then(parse_time);
    if filters
        .ge_time
        .is_some_and(|ge| time.is_none_or(|t| t < ge))
    {
        return false;
    }
    if filters
        .lt_time
        .is_some_and(|lt| time.is_none_or(|t| t >= lt))
    {
        return false;
    }
    if !filters.biz_steps.is_empty() {
        let step = string("bizStep").map(|s| validate::cbv_bare(s, "BizStep").unwrap_or(s));
        if !step.is_some_and(|s| filters.biz_steps.iter().any(|f| f == s)) {
            return false;
        }
    }
    let bases = &state.trace.config.resolver_bases;
    let location = |field: &str| {
        event
            .get(field)
            .and_then(|l| l.get("id"))
            .and_then(Value::as_str)
            .map(|id| canonical_id(state, id, bases))
    };
    if !filters.biz_locations.is_empty()
        && !location("bizLocation").is_some_and(|l| filters.biz_locations.contains(&l))
    {
        return false;
    }
    if !filters.read_points.is_empty()
        && !location("readPoint").is_some_and(|l| filters.read_points.contains(&l))
    {
        return false;
    }
    if !filters.epcs.is_empty() {
        let named = ids::named(event);
        let hit = named.iter().filter(|n| n.object).any(|n| {
            let id = canonical_id(state, n.text, bases);
            filters.epcs.contains(&id)
        });
        if !hit {
            return false;
        }
    }
    true
}

/// The event and the whole record of a stored JWS, without verifying it (the node signed it).
fn event_of(stored: &StoredTrace) -> Option<(Map<String, Value>, Value)> {
    let jws = std::str::from_utf8(&stored.record).ok()?;
    let payload = jws.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let mut record: Value = serde_json::from_slice(&bytes).ok()?;
    let Value::Object(event) = record.get_mut("event")?.take() else {
        return None;
    };
    Some((event, record))
}

fn encode_token(index: u64) -> String {
    URL_SAFE_NO_PAD.encode(index.to_be_bytes())
}

fn decode_token(token: &str) -> Option<u64> {
    let bytes: [u8; 8] = URL_SAFE_NO_PAD.decode(token).ok()?.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

/// `GET /api/trace/{handle}?after=&limit=`: the subject's records in log order, each with its
/// tlog-proof bundle against the latest checkpoint (`null` until a checkpoint covers it). The
/// caller must be allowed to read the subject's records; a record that only mentions the
/// subject is shown with its JWS and proof only when the caller may read that record's own
/// subject (`withheld` otherwise).
pub(super) async fn subject(
    state: &Arc<TraceApi>,
    conn: Conn,
    presented: Presented<'_>,
    raw: &str,
    query: Option<&str>,
) -> Response<Full<Bytes>> {
    let identity = match super::reader_identity(state, conn, presented).await {
        Ok(Some(identity)) => identity,
        Ok(None) => return super::unauthorized("trace histories need HTTP Basic credentials"),
        Err(response) => return response,
    };
    let mut reader = Reader::new(state, identity);
    let text = percent_encoding::percent_decode_str(raw)
        .decode_utf8_lossy()
        .into_owned();
    let subject = match state.resolver.parse_handle(&text) {
        Ok(handle) => match state.resolver.stored_spelling(&handle) {
            Ok(Some(spelling)) => spelling,
            Ok(None) => handle.as_str().to_owned(),
            Err(failure) => return internal(&failure),
        },
        Err(_) => canonical_id(state, &text, &state.trace.config.resolver_bases),
    };
    match reader.may_read(&subject) {
        Ok(true) => {}
        Ok(false) => {
            return problem(
                StatusCode::FORBIDDEN,
                "epcisException:SecurityException",
                &format!("no READ_VALUE permission on {subject}"),
                None,
            );
        }
        Err(failure) => return internal(&failure),
    }
    let after = match param(query, "after").map(|v| v.parse::<u64>()) {
        None => None,
        Some(Ok(after)) => Some(after),
        Some(Err(_)) => return bad("after must be a leaf index"),
    };
    let limit = match param(query, "limit").map(|v| v.parse::<usize>()) {
        None => 100,
        Some(Ok(n)) if (1..=MAX_PER_PAGE).contains(&n) => n,
        Some(_) => return bad(&format!("limit must be 1 to {MAX_PER_PAGE}")),
    };
    let store = state.resolver.trace_log();
    let history = match store.trace_subject(&subject, after, limit) {
        Ok(history) => history,
        Err(error) => return internal(&error),
    };
    let checkpoint = match store.trace_latest_checkpoint() {
        Ok(checkpoint) => checkpoint,
        Err(error) => return internal(&error),
    };
    let mut records = Vec::with_capacity(history.len());
    for entry in &history {
        let stored = match store.trace_records(entry.index, 1) {
            Ok(mut found) => match found.pop() {
                Some(stored) => stored,
                None => continue,
            },
            Err(error) => return internal(&error),
        };
        let readable = entry.chained || {
            let own = event_of(&stored)
                .and_then(|(_, record)| record.get("subject")?.as_str().map(str::to_owned))
                .unwrap_or_default();
            match reader.may_read(&own) {
                Ok(readable) => readable,
                Err(failure) => return internal(&failure),
            }
        };
        if !readable {
            records.push(json!({
                "index": entry.index,
                "digest": stored.digest.to_hex(),
                "chained": false,
                "withheld": true,
                "jws": null,
                "proof": null,
            }));
            continue;
        }
        let proof = match &checkpoint {
            Some((size, note)) => match bundle_at(state, entry.index, *size, note, true) {
                Ok(bundle) => bundle,
                Err(error) => return internal(&error),
            },
            None => None,
        };
        records.push(json!({
            "index": entry.index,
            "digest": stored.digest.to_hex(),
            "chained": entry.chained,
            "jws": String::from_utf8_lossy(&stored.record),
            "proof": proof,
        }));
    }
    if let Err(failure) = reader.audit(&subject, "trace history").await {
        return internal(&failure);
    }
    let next = (history.len() == limit).then(|| history.last().map(|e| e.index));
    json(
        StatusCode::OK,
        &json!({
            "subject": subject,
            "checkpoint": checkpoint.map(|(_, note)| note),
            "records": records,
            "next": next.flatten(),
        }),
    )
}

fn bad(detail: &str) -> Response<Full<Bytes>> {
    problem(
        StatusCode::BAD_REQUEST,
        "epcisException:QueryParameterException",
        detail,
        None,
    )
}

fn internal(error: &dyn std::fmt::Display) -> Response<Full<Bytes>> {
    tracing::error!(%error, "trace query failed");
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "epcisException:ImplementationException",
        "internal error",
        None,
    )
}
