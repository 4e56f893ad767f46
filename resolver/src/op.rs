//! The typed operations and outcomes shared by every interface.

use idnode_proto::{Handle, HandleValue, ResponseCode, TypeFilter, ValueRef};

/// A verified identity: `index:handle` of an `HS_SECKEY` or `HS_PUBKEY` value. Front ends build
/// one only after checking a credential.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity(pub ValueRef);

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// What a caller asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operation {
    /// Read values (OC 1).
    Resolve {
        /// The handle.
        handle: Handle,
        /// Which values.
        filter: TypeFilter,
        /// Only values with public read permission.
        public_only: bool,
    },
    /// Create a handle, or replace its whole record when `overwrite` is set (OC 100).
    Create {
        /// The handle.
        handle: Handle,
        /// The values.
        values: Vec<HandleValue>,
        /// Replace an existing handle instead of failing with RC 101.
        overwrite: bool,
    },
    /// Create a handle named by a stem and a random suffix (`MSG_FLAG_MINT`, REST
    /// `mintNewSuffix`).
    Mint {
        /// The stem, such as `88.118.8/` or `88.118.8/batch-`, to which a UUID is appended.
        stem: String,
        /// The values.
        values: Vec<HandleValue>,
    },
    /// Add values, or replace those with the same index when `overwrite` is set (OC 102).
    AddValues {
        /// The handle.
        handle: Handle,
        /// The values.
        values: Vec<HandleValue>,
        /// Replace values whose index exists instead of failing with RC 201.
        overwrite: bool,
    },
    /// Change existing values (OC 104). Every index must exist, and each value must allow
    /// administrators to write it.
    ModifyValues {
        /// The handle.
        handle: Handle,
        /// The new values.
        values: Vec<HandleValue>,
    },
    /// Remove values by index (OC 103).
    RemoveValues {
        /// The handle.
        handle: Handle,
        /// The indexes.
        indexes: Vec<u32>,
    },
    /// Delete a handle (OC 101).
    Delete {
        /// The handle.
        handle: Handle,
    },
    /// List the handles under a prefix (OC 105).
    ListHandles {
        /// The prefix, such as `88.118.8`.
        prefix: String,
        /// Zero-based page and page size; `None` lists everything.
        page: Option<(usize, usize)>,
    },
    /// List the prefixes homed here (OC 302).
    ListHomed,
    /// Home a prefix here (OC 300).
    Home {
        /// The prefix.
        prefix: String,
    },
    /// Stop homing a prefix (OC 301).
    Unhome {
        /// The prefix.
        prefix: String,
    },
}

impl Operation {
    /// A short name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Resolve { .. } => "resolve",
            Self::Create { .. } => "create",
            Self::Mint { .. } => "mint",
            Self::AddValues { .. } => "add_values",
            Self::ModifyValues { .. } => "modify_values",
            Self::RemoveValues { .. } => "remove_values",
            Self::Delete { .. } => "delete",
            Self::ListHandles { .. } => "list_handles",
            Self::ListHomed => "list_homed",
            Self::Home { .. } => "home",
            Self::Unhome { .. } => "unhome",
        }
    }

    /// Whether the operation changes state.
    pub fn is_write(&self) -> bool {
        !matches!(
            self,
            Self::Resolve { .. } | Self::ListHandles { .. } | Self::ListHomed
        )
    }
}

/// An operation with its caller and the time of the request.
#[derive(Debug, Clone)]
pub struct Request {
    /// What to do.
    pub op: Operation,
    /// Who asks, if authenticated.
    pub identity: Option<Identity>,
    /// Epoch seconds, used to stamp changed values.
    pub now: u32,
}

/// A successful result.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The selected values of a handle, as `int4 count` + encoded values.
    Values {
        /// The handle as requested.
        handle: Handle,
        /// The encoded values.
        values: Vec<u8>,
    },
    /// A write succeeded.
    Done {
        /// The handle as requested, or the minted handle.
        handle: Handle,
        /// Whether something new was created (a handle, or only new values) rather than
        /// replaced.
        created: bool,
    },
    /// Handles under a prefix.
    Handles {
        /// The total number under the prefix.
        total: usize,
        /// The requested page.
        handles: Vec<String>,
    },
    /// Homed prefixes, as prefix handles (`0.NA/88.118.8`).
    Prefixes(Vec<String>),
}

/// A failed request, in the Handle protocol's terms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{rc:?}: {message}")]
pub struct Failure {
    /// The response code.
    pub rc: ResponseCode,
    /// A human-readable explanation; may be empty.
    pub message: String,
}

impl Failure {
    /// A failure with a message.
    pub fn new(rc: ResponseCode, message: impl Into<String>) -> Self {
        Self {
            rc,
            message: message.into(),
        }
    }

    /// A failure without a message.
    pub fn bare(rc: ResponseCode) -> Self {
        Self {
            rc,
            message: String::new(),
        }
    }
}
