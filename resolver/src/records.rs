//! The records the pipeline keeps besides handles, as pure data and functions: template
//! versions as stored ([`StoredTemplate`]) and their cache, the audit log's entries
//! ([`AuditEvent`]) with their queries and cursors, and the small rules every part of the
//! resolver shares (a handle's prefix, whether two records hold the same content).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use idnode_proto::{HandleValue, PREFIX_HANDLE_PREFIX, Record, ResponseCode, types};
use idnode_registry::Mutation;
use idnode_templates::Template;
use serde::{Deserialize, Serialize};

use crate::op::{Failure, Identity};

/// The aux space of template versions.
pub const TEMPLATE_SPACE: &str = "template";

/// The aux space of the audit log.
pub const AUDIT_SPACE: &str = "audit";

/// The most audit entries one query examines, so that a query with a rare filter stays bounded;
/// the page then ends early with a cursor to continue from.
pub(crate) const MAX_AUDIT_SCAN: usize = 100_000;

/// The most audit entries one page returns.
pub const MAX_AUDIT_PAGE: usize = 1000;

/// A template version as stored, with its state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredTemplate {
    /// The template.
    pub template: Template,
    /// Whether the version was withdrawn: records may no longer be written under it.
    #[serde(default)]
    pub withdrawn: bool,
    /// Who stored it (`index:handle`), or `builtin`.
    #[serde(default)]
    pub created_by: String,
    /// When it was stored, in epoch seconds; 0 for built-in templates not stored yet.
    #[serde(default)]
    pub created_at: u32,
}

/// Template versions read so far, by name and version. Versions are immutable, so entries stay
/// valid; withdrawing a version through this resolver replaces its entry.
/// The versions of a name are few, so they are kept in a list; a lookup allocates nothing,
/// since the template step of every write asks.
#[derive(Debug, Default)]
pub(crate) struct TemplateCache {
    map: RwLock<HashMap<String, Vec<Arc<StoredTemplate>>>>,
}

impl TemplateCache {
    pub(crate) fn get(&self, name: &str, version: u32) -> Option<Arc<StoredTemplate>> {
        // A poisoned cache holds complete entries only (inserts are single operations).
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        map.get(name)?
            .iter()
            .find(|t| t.template.version == version)
            .cloned()
    }

    pub(crate) fn put(&self, stored: Arc<StoredTemplate>) {
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        let versions = map.entry(stored.template.name.clone()).or_default();
        versions.retain(|t| t.template.version != stored.template.version);
        versions.push(stored);
    }
}

/// The aux key of a template version: `name ‖ 0x00 ‖ version` (big-endian).
pub fn template_key(name: &str, version: u32) -> Vec<u8> {
    let mut key = Vec::with_capacity(name.len() + 5);
    key.extend_from_slice(name.as_bytes());
    key.push(0);
    key.extend_from_slice(&version.to_be_bytes());
    key
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    /// The store's sequence number (filled in when read; 0 when written).
    #[serde(default)]
    pub seq: u64,
    /// When, in epoch seconds.
    pub at: u32,
    /// Who: `index:handle`, `anonymous`, or a name such as `cli:import`.
    pub actor: String,
    /// What: `create`, `replace`, `import`, `add_values`, `modify_values`, `remove_values`, `delete`,
    /// `home`, `unhome`, `auditor_read`, `template_create`, `template_evolve`,
    /// `template_withdraw`, `ent_apply`, `ent_review`, `ent_approve`, `ent_reject`,
    /// `ent_disable`, `ent_enable`, `token_issue`, …
    pub action: String,
    /// The object: a handle, `template:name@version` or `ent:USCC`.
    pub target: String,
    /// The prefix the object belongs to, when there is one (`88.118.8`).
    #[serde(default)]
    pub prefix: String,
    /// More detail, such as a rejection reason.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// A query of the audit log. Every filter is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only entries of this actor (exact, ASCII case-insensitive).
    pub actor: Option<String>,
    /// Only entries whose prefix is this one or lies under it.
    pub prefix: Option<String>,
    /// Only entries with this action.
    pub action: Option<String>,
    /// Only entries at or after this time (epoch seconds).
    pub from: Option<u32>,
    /// Only entries before this time (epoch seconds, exclusive).
    pub to: Option<u32>,
    /// Continue after this cursor (from [`AuditPage::next`]).
    pub after: Option<AuditCursor>,
    /// The most entries to return (at most [`MAX_AUDIT_PAGE`]).
    pub limit: usize,
}

/// Where an audit query stopped: the time and sequence number of the last entry examined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditCursor {
    /// The entry's time.
    pub at: u64,
    /// The entry's sequence number.
    pub seq: u64,
}

impl AuditCursor {
    /// The text form `at.seq`.
    pub fn to_text(self) -> String {
        format!("{}.{}", self.at, self.seq)
    }

    /// Parses the text form `at.seq`.
    pub fn parse(text: &str) -> Option<Self> {
        let (at, seq) = text.split_once('.')?;
        Some(Self {
            at: at.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

/// One page of audit entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPage {
    /// The entries, oldest first.
    pub events: Vec<AuditEvent>,
    /// Where to continue, when more entries may match.
    pub next: Option<AuditCursor>,
}

/// The prefix a handle belongs to: `P` for `P/x`, and `P` for the prefix handle `0.NA/P`.
pub fn prefix_of(handle: &str) -> &str {
    match handle.split_once('/') {
        Some((na, prefix)) if na.eq_ignore_ascii_case(PREFIX_HANDLE_PREFIX) => prefix,
        Some((prefix, _)) => prefix,
        None => handle,
    }
}

/// Whether `prefix` is `ancestor` or lies under it (`88.118.8` under `88.118`), ignoring
/// ASCII case.
pub fn is_under(prefix: &str, ancestor: &str) -> bool {
    prefix.eq_ignore_ascii_case(ancestor)
        || (prefix.len() > ancestor.len()
            && prefix.as_bytes()[ancestor.len()] == b'.'
            && prefix[..ancestor.len()].eq_ignore_ascii_case(ancestor))
}

/// The audit actor name of an identity.
pub fn actor_name(identity: Option<&Identity>) -> String {
    identity.map_or_else(|| "anonymous".to_owned(), ToString::to_string)
}

/// The audit mutation of a write to `handle` by `identity`.
pub(crate) fn audit_write(
    identity: Option<&Identity>,
    action: &str,
    handle: &str,
    now: u32,
) -> Mutation {
    audit_mutation(&AuditEvent {
        seq: 0,
        at: now,
        actor: actor_name(identity),
        action: action.to_owned(),
        target: handle.to_owned(),
        prefix: prefix_of(handle).to_owned(),
        detail: String::new(),
    })
}

/// The mutation that appends `event` to the audit log, keyed by its time.
pub fn audit_mutation(event: &AuditEvent) -> Mutation {
    Mutation::AppendAux {
        space: AUDIT_SPACE.to_owned(),
        key_prefix: u64::from(event.at).to_be_bytes().to_vec(),
        // An event holds only strings and integers, so serialisation cannot fail.
        value: serde_json::to_vec(event).unwrap_or_default(),
    }
}

/// Whether a stored record already holds exactly `values`, apart from timestamps and from the
/// `HS_ADMIN` values the pipeline adds: every given value is stored with the same index, type
/// and data, and every stored value other than `HS_ADMIN` was given. A retried create with the
/// same content is then a success that changes nothing (SNMS: "标识已存在" on a retry counts
/// as success).
pub fn has_same_content(stored_values: &[u8], values: &[HandleValue]) -> bool {
    let Ok(stored) = Record::parse(stored_values).and_then(|r| r.decode_all()) else {
        return false;
    };
    let same = |a: &HandleValue, b: &HandleValue| {
        a.index == b.index && a.value_type == b.value_type && a.data == b.data
    };
    values
        .iter()
        .all(|v| v.has_type(types::HS_ADMIN) || stored.iter().any(|s| same(s, v)))
        && stored
            .iter()
            .all(|s| s.has_type(types::HS_ADMIN) || values.iter().any(|v| same(s, v)))
}

pub(crate) fn invalid(message: impl Into<String>) -> Failure {
    Failure::new(ResponseCode::InvalidValue, message)
}

pub(crate) fn denied(message: impl Into<String>) -> Failure {
    Failure::new(ResponseCode::InvalidAdmin, message)
}

/// The cursor of an audit key: time (8 bytes) ‖ sequence (8 bytes).
pub(crate) fn cursor_of(key: &[u8]) -> AuditCursor {
    let number = |bytes: Option<&[u8]>| {
        bytes
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map_or(0, u64::from_be_bytes)
    };
    AuditCursor {
        at: number(key.get(..8)),
        seq: number(key.get(8..16)),
    }
}

pub(crate) fn matches(event: &AuditEvent, query: &AuditQuery) -> bool {
    query
        .actor
        .as_deref()
        .is_none_or(|actor| event.actor.eq_ignore_ascii_case(actor))
        && query
            .prefix
            .as_deref()
            .is_none_or(|prefix| is_under(&event.prefix, prefix))
        && query
            .action
            .as_deref()
            .is_none_or(|action| event.action == action)
}

pub(crate) fn encode_template(stored: &StoredTemplate) -> Vec<u8> {
    // A stored template holds strings, integers, booleans and finite numbers (checked by
    // `Template::check`), so serialisation cannot fail.
    serde_json::to_vec(stored).unwrap_or_default()
}

pub(crate) fn decode_template(bytes: &[u8]) -> Result<StoredTemplate, Failure> {
    let stored: StoredTemplate = serde_json::from_slice(bytes).map_err(|e| {
        tracing::error!(error = %e, "stored template does not decode");
        Failure::new(ResponseCode::Error, "Stored template is corrupt")
    })?;
    Ok(stored)
}
