//! The `[federation]` configuration table: this node's place in the identifier hierarchy
//! (`docs/federation.md`).

use std::path::PathBuf;

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
    /// A secondary's top-level node: the native (TCP) addresses of its servers, `HOST:PORT`.
    /// Empty: the node docks with nobody.
    pub top_level: Vec<String>,
    /// The identity the secondary authenticates as at the top-level node, such as
    /// `300:0.NA/88.118`.
    pub identity: Option<String>,
    /// The identity's private key (PKCS#8 PEM: SM2, RSA or Ed25519, as `idnode keygen`
    /// writes), or a file holding its `HS_SECKEY` secret (`secret:FILE`).
    pub identity_key: Option<PathBuf>,
}

impl FederationConfig {
    /// Checks that the settings fit together.
    pub fn check(&self) -> Result<(), String> {
        if self.role == Role::TopLevel && !self.top_level.is_empty() {
            return Err(
                "[federation] top_level is for a secondary; a top-level node has none".into(),
            );
        }
        if !self.top_level.is_empty() && (self.identity.is_none() || self.identity_key.is_none()) {
            return Err(
                "[federation] top_level needs identity and identity_key to authenticate there"
                    .into(),
            );
        }
        Ok(())
    }
}
