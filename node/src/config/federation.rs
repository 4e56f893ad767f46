//! The `[federation]` configuration table: this node's place in the identifier hierarchy
//! (`docs/federation.md`).

use serde::Deserialize;

/// What the node is in the hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// A secondary node (二级节点): it homes its prefixes and the enterprise prefixes derived
    /// from them, and keeps their prefix handles current at its top-level node.
    #[default]
    Secondary,
    /// A top-level node (国家顶级节点): it holds prefix handles and refers clients to the
    /// service of every prefix it delegates; it homes an ordinary handle `P/x` only when it
    /// homes `P` itself.
    TopLevel,
}

/// The `[federation]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct FederationConfig {
    /// `"secondary"` (the default) or `"top-level"`.
    pub role: Role,
}
