//! Why a client exchange or a resolution failed, classified as the resolver's `Fault` is: whose
//! fault, and whether asking again may help.

use idnode_proto::{DecodeError, ResponseCode};

/// A failure of the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No answer arrived in time, over any transport the server offers.
    #[error("{server}: no answer in time")]
    Timeout {
        /// The server asked.
        server: String,
    },
    /// A socket failed (connection refused, reset).
    #[error("{server}: {message}")]
    Io {
        /// The server asked.
        server: String,
        /// What the operating system said.
        message: String,
    },
    /// The answer could not be decoded, or does not answer the request.
    #[error("{server}: malformed answer: {reason}")]
    Malformed {
        /// The server asked.
        server: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The service answered with a response code that ends the resolution (other than one
    /// that is passed on to the caller as an answer).
    #[error("{rc:?}: {message}")]
    Refused {
        /// The response code.
        rc: ResponseCode,
        /// The server's message.
        message: String,
    },
    /// The prefix is registered nowhere (its prefix handle does not exist).
    #[error("prefix {prefix} is not registered")]
    UnknownPrefix {
        /// The prefix.
        prefix: String,
    },
    /// The service's sites name no server that can be asked.
    #[error("no usable server for {handle}: {reason}")]
    NoServer {
        /// The handle.
        handle: String,
        /// Why.
        reason: String,
    },
    /// Referrals went on for longer than allowed, or came back to sites already asked.
    #[error("referrals for {handle}: {reason}")]
    Referrals {
        /// The handle.
        handle: String,
        /// What was cut: a loop or too long a chain.
        reason: &'static str,
    },
}

impl Error {
    /// Whether the same request may succeed later (a timeout, a busy or failing server); false
    /// for answers that will not change by asking again (malformed answers, unknown prefixes,
    /// referral loops).
    pub fn retryable(&self) -> bool {
        match self {
            Self::Timeout { .. } | Self::Io { .. } => true,
            Self::Refused { rc, .. } => matches!(
                rc,
                ResponseCode::ServerTooBusy | ResponseCode::Error | ResponseCode::ServerBackup
            ),
            Self::Malformed { .. }
            | Self::UnknownPrefix { .. }
            | Self::NoServer { .. }
            | Self::Referrals { .. } => false,
        }
    }

    pub(crate) fn malformed(server: &str, reason: impl ToString) -> Self {
        Self::Malformed {
            server: server.to_owned(),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn decode(server: &str, e: DecodeError) -> Self {
        Self::malformed(server, e)
    }
}
