//! The typed operations and outcomes shared by every interface.

use idnode_proto::{Handle, HandleValue, ResponseCode, TypeFilter, ValueRef};
use idnode_registry::StoreError;

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
        /// Whether an unstored prefix handle whose ancestor delegates it may be answered with
        /// a prefix referral (RC 303, [`Failure::referral`]); false for DNRF ("do not refer"),
        /// which gets RC 100 instead.
        refer: bool,
        /// Resolve a handle that does not live here at the service responsible for it, on the
        /// client's behalf (native REC, or an HTTP GET), when the node recurses and the client
        /// may use it; `None` answers with the referral or RC 301.
        recurse: Option<Recursion>,
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
    /// Register a handle: a create that also succeeds, writing nothing, when the handle exists
    /// with exactly the same content and the caller administers its prefix, so that a client
    /// may retry a registration whose answer it did not see ([`Outcome::Unchanged`]).
    Register {
        /// The handle.
        handle: Handle,
        /// The values.
        values: Vec<HandleValue>,
    },
    /// Replace the values of an existing handle at or above index `keep_below` with `values`,
    /// keeping the values below it that `values` does not replace (the SNMS update: the
    /// administrators, keys and URLs below 2000 stay, the template items are replaced). The
    /// change is computed from the record as it is when it commits, under its version
    /// precondition, so a concurrent change is never lost and a removed value never returns.
    Update {
        /// The handle.
        handle: Handle,
        /// The new values.
        values: Vec<HandleValue>,
        /// Values below this index that `values` does not name are kept.
        keep_below: u32,
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
            Self::Register { .. } => "register",
            Self::Update { .. } => "update",
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

/// A client's request to be resolved on its behalf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Recursion {
    /// The recursion count of the request as it arrived.
    pub count: u8,
    /// Whether the client asked for a certified answer (CT): the upstream answer is then
    /// asked certified and checked against the answering server's key.
    pub certified: bool,
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
    /// A registration was a retry: the handle exists with the same content, and nothing was
    /// written.
    Unchanged {
        /// The handle.
        handle: Handle,
    },
    /// Homed prefixes, as prefix handles (`0.NA/88.118.8`).
    Prefixes(Vec<String>),
    /// The selected values of a handle that lives elsewhere, resolved on the client's behalf,
    /// as `int4 count` + encoded values. Front ends answer it as [`Outcome::Values`], but keep
    /// it out of their answer caches, which commits here invalidate and remote changes do not.
    Recursed {
        /// The handle as requested.
        handle: Handle,
        /// The encoded values.
        values: Vec<u8>,
    },
}

/// Whose fault a failure is, and whether trying again may help: the class every interface maps
/// to its own terms (a Handle response code, an HTTP status, an SNMS status, an RFC 7807
/// problem) in one table of its own.
///
/// Modelled on rustls's errors classified by fault and pingora's `ErrorSource` with its retry
/// flag: a front end never guesses from a message whether the client or the node is to blame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Fault {
    /// The request is malformed or breaks a rule (a bad handle, a bad value, a template
    /// violation); sending it again unchanged fails again.
    Client,
    /// The request needs an identity, or the credential given did not verify.
    Unauthenticated,
    /// The identity is known but may not do this.
    Forbidden,
    /// The handle, value or record asked for does not exist (or does not live here).
    NotFound,
    /// The request conflicts with the current state (the handle or value already exists).
    Conflict,
    /// The node is too busy or a quota is used up; the same request may succeed later.
    Busy,
    /// Another node that this one asked failed; `retryable` says whether asking again may help.
    Upstream {
        /// Whether the same request may succeed later.
        retryable: bool,
    },
    /// The node itself failed (storage, corruption); not the client's fault.
    Internal,
}

impl Fault {
    /// The class of a response code, when a failure names no other.
    pub fn of(rc: ResponseCode) -> Self {
        use ResponseCode as Rc;
        match rc {
            Rc::Error => Self::Internal,
            Rc::ServerTooBusy
            | Rc::ServerBackup
            | Rc::RequestLimitDaily
            | Rc::RegisterCountLimit
            | Rc::PrefixLimit => Self::Busy,
            Rc::HandleNotFound
            | Rc::ValuesNotFound
            | Rc::ServerNotResponsible
            | Rc::ServiceReferral
            | Rc::PrefixReferral => Self::NotFound,
            Rc::HandleAlreadyExists | Rc::ValueAlreadyExists => Self::Conflict,
            Rc::InvalidAdmin | Rc::InsufficientPermissions => Self::Forbidden,
            Rc::AuthenticationNeeded
            | Rc::AuthenticationFailed
            | Rc::InvalidCredential
            | Rc::AuthenTimeout
            | Rc::AuthenError
            | Rc::LoginFirst
            | Rc::SessionTimeout
            | Rc::VerifyCredentialFailed => Self::Unauthenticated,
            Rc::ClientChannelError | Rc::ClientTimeOut => Self::Upstream { retryable: true },
            _ => Self::Client,
        }
    }

    /// Whether the same request may succeed if sent again later.
    pub fn is_retryable(self) -> bool {
        matches!(self, Self::Busy | Self::Upstream { retryable: true })
    }
}

/// A failed request: the Handle response code, whose fault it is, and an explanation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{rc:?}: {message}")]
pub struct Failure {
    /// The response code.
    pub rc: ResponseCode,
    /// Whose fault it is; by default the class of `rc` ([`Fault::of`]).
    pub fault: Fault,
    /// A human-readable explanation; may be empty.
    pub message: String,
    /// For a referral (RC 302 or 303), where to ask instead.
    pub referral: Option<Box<Referral>>,
}

/// Where to ask instead (handle-protocol.md §8.4): a referral handle, which may be empty, and
/// the public values that name the sites (`HS_SITE.PREFIX`, `HS_SERV.PREFIX` and
/// `HS_NA_DELEGATE` for a prefix referral).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referral {
    /// The referral handle, or empty.
    pub handle: String,
    /// The values, each in its full stored form.
    pub values: Vec<HandleValue>,
}

impl Failure {
    /// A failure with a message.
    pub fn new(rc: ResponseCode, message: impl Into<String>) -> Self {
        Self {
            rc,
            fault: Fault::of(rc),
            message: message.into(),
            referral: None,
        }
    }

    /// A referral: `rc` (RC 302 or 303) with where to ask instead.
    pub fn referral(rc: ResponseCode, referral: Referral) -> Self {
        Self {
            referral: Some(Box::new(referral)),
            ..Self::bare(rc)
        }
    }

    /// A failure without a message.
    pub fn bare(rc: ResponseCode) -> Self {
        Self::new(rc, String::new())
    }

    /// The same failure, classed as `fault`.
    pub fn with_fault(mut self, fault: Fault) -> Self {
        self.fault = fault;
        self
    }

    /// An internal failure (RC 2) with a message for the log and the client.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ResponseCode::Error, message)
    }
}

/// A storage failure as RC 2; the detail goes to the log, not to the client.
pub(crate) fn internal(e: StoreError) -> Failure {
    tracing::error!(error = %e, "storage failure");
    Failure::new(ResponseCode::Error, "Internal storage error")
}

pub(crate) fn corrupt(e: idnode_proto::DecodeError) -> Failure {
    tracing::error!(error = %e, "stored record does not decode");
    Failure::new(ResponseCode::Error, "Stored record is corrupt")
}

pub(crate) fn too_busy() -> Failure {
    Failure::new(
        ResponseCode::ServerTooBusy,
        "Too many concurrent changes to this handle",
    )
}
