//! Operation reports (运行监测): what a top-level node keeps of the signed reports its
//! secondaries send (`docs/federation.md`, "Monitoring reports"), and the write counts a
//! secondary reports, taken from its audit log.
//!
//! A report is stored as received (the signed document), in the aux space [`REPORT_SPACE`]
//! keyed by the reporting prefix and the end and start of its window, so a report sent again
//! replaces itself. Only the identity of a delegation, `300:0.NA/<P>` whose signature the
//! front end verified, may store reports for `P`; server administrators and auditors read them.

use std::collections::BTreeMap;

use idnode_proto::{PREFIX_HANDLE_PREFIX, ResponseCode, normalize};
use idnode_registry::{AuxScan, Expect, Mutation, Store, WriteBatch};

use crate::op::{Failure, Identity, internal};
use crate::pipeline::Resolver;
use crate::records::{AuditCursor, AuditQuery, MAX_AUDIT_PAGE};

/// The aux space of received reports.
pub const REPORT_SPACE: &str = "fed.report";

/// The most reports one query returns.
pub const MAX_REPORT_PAGE: usize = 1000;

/// Handle writes under one prefix in a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteCounts {
    /// Handles created (create, mint, register, import).
    pub registrations: u64,
    /// Handles changed (replace, update, values added, modified or removed).
    pub updates: u64,
    /// Handles deleted.
    pub deletions: u64,
}

/// A stored report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReport {
    /// The reporting prefix.
    pub prefix: String,
    /// The window's start and end, epoch seconds.
    pub from: u32,
    /// The window's end.
    pub to: u32,
    /// The signed document as received.
    pub document: Vec<u8>,
}

fn report_key(prefix: &str, from: u32, to: u32) -> Vec<u8> {
    let mut key = normalize(prefix);
    key.push(0);
    key.extend_from_slice(&to.to_be_bytes());
    key.extend_from_slice(&from.to_be_bytes());
    key
}

/// `created` and `replaced` of an import entry's detail, `N handles (C created, R replaced)…`.
fn import_counts(detail: &str) -> (u64, u64) {
    let number = |word: &str| -> u64 {
        detail
            .split(['(', ',', ')'])
            .find_map(|part| part.trim().strip_suffix(word)?.trim().parse().ok())
            .unwrap_or(0)
    };
    (number("created"), number("replaced"))
}

impl<S: Store> Resolver<S> {
    /// Stores `document`, a report for `prefix` over `[from, to)` signed by `identity` (already
    /// verified). RC 400 unless `identity` is the delegation's own `300:0.NA/<prefix>`; RC 100
    /// when that prefix handle does not exist here.
    pub async fn store_report(
        &self,
        identity: &Identity,
        prefix: &str,
        from: u32,
        to: u32,
        document: Vec<u8>,
    ) -> Result<(), Failure> {
        let delegation = format!("{PREFIX_HANDLE_PREFIX}/{prefix}");
        if !identity.0.handle.eq_ignore_ascii_case(&delegation) {
            return Err(Failure::new(
                ResponseCode::InvalidAdmin,
                format!("only the identity of {delegation} reports for {prefix}"),
            ));
        }
        if self
            .store()
            .get(&normalize(&delegation))
            .map_err(internal)?
            .is_none()
        {
            return Err(Failure::new(
                ResponseCode::HandleNotFound,
                format!("{delegation} is not delegated here"),
            ));
        }
        let batch = WriteBatch {
            mutations: vec![Mutation::PutAux {
                space: REPORT_SPACE.to_owned(),
                key: report_key(prefix, from, to),
                value: document,
                expect: Expect::Any,
            }],
        };
        self.store().commit(batch).await.map_err(internal)
    }

    /// Stored reports, oldest window end first: of `prefix` (or every prefix), whose window
    /// ends at or after `since` and starts before `until`; server administrators and auditors
    /// only.
    pub fn reports(
        &self,
        identity: Option<&Identity>,
        prefix: Option<&str>,
        since: u32,
        until: u32,
        limit: usize,
    ) -> Result<Vec<StoredReport>, Failure> {
        self.require_admin_or_auditor(identity)?;
        let limit = limit.clamp(1, MAX_REPORT_PAGE);
        let start = prefix.map(|p| {
            let mut key = normalize(p);
            key.push(0);
            key
        });
        let mut cursor = start.clone().unwrap_or_default();
        let mut out = Vec::new();
        loop {
            let chunk = self
                .store()
                .scan_aux(REPORT_SPACE, &AuxScan::range(&cursor, None, 512))
                .map_err(internal)?;
            for (key, entry) in &chunk {
                if start.as_ref().is_some_and(|s| !key.starts_with(s)) {
                    return Ok(out);
                }
                let Some(at) = key
                    .iter()
                    .position(|&b| b == 0)
                    .filter(|&at| key.len() == at + 9)
                else {
                    continue;
                };
                let to = u32::from_be_bytes([key[at + 1], key[at + 2], key[at + 3], key[at + 4]]);
                let from = u32::from_be_bytes([key[at + 5], key[at + 6], key[at + 7], key[at + 8]]);
                if to < since || from >= until {
                    continue;
                }
                out.push(StoredReport {
                    prefix: String::from_utf8_lossy(&key[..at]).into_owned(),
                    from,
                    to,
                    document: entry.value.clone(),
                });
                if out.len() == limit {
                    return Ok(out);
                }
            }
            match chunk.last() {
                Some((key, _)) if chunk.len() == 512 => {
                    cursor = key.clone();
                    cursor.push(0);
                }
                _ => return Ok(out),
            }
        }
    }

    /// Handle writes per prefix over `[from, to)`, from the audit log.
    pub fn write_counts(
        &self,
        from: u32,
        to: u32,
    ) -> Result<BTreeMap<String, WriteCounts>, Failure> {
        let mut counts: BTreeMap<String, WriteCounts> = BTreeMap::new();
        let mut after: Option<AuditCursor> = None;
        loop {
            let page = self.scan_audit(&AuditQuery {
                from: Some(from),
                to: Some(to),
                after,
                limit: MAX_AUDIT_PAGE,
                ..AuditQuery::default()
            })?;
            for event in &page.events {
                if event.prefix.is_empty() {
                    continue;
                }
                let entry = counts.entry(event.prefix.clone()).or_default();
                match event.action.as_str() {
                    "create" | "mint" | "register" => entry.registrations += 1,
                    "replace" | "update" | "add_values" | "modify_values" | "remove_values" => {
                        entry.updates += 1;
                    }
                    "delete" => entry.deletions += 1,
                    "import" => {
                        let (created, replaced) = import_counts(&event.detail);
                        entry.registrations += created;
                        entry.updates += replaced;
                    }
                    _ => {}
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(counts),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_details_are_counted() {
        let detail = "12 handles (10 created, 2 replaced), first a, last b: a b";
        assert_eq!(import_counts(detail), (10, 2));
        assert_eq!(import_counts("nonsense"), (0, 0));
    }
}
