//! idnode's request pipeline: every interface turns its input into an [`Operation`], and
//! [`Resolver::handle`] runs it through the same steps to an [`Outcome`] or a [`Failure`].
//!
//! The steps are: validate the handle, check that this node homes its prefix, authorize the
//! verified [`Identity`] that the front end hands in through the one `HS_ADMIN` / `HS_VLIST`
//! implementation in [`authz`], apply the change with a precondition on the version read, and
//! build the outcome. Write conflicts are retried. Front ends only map bytes to operations and
//! outcomes back to bytes; they hold no other logic. [`Resolver::handle_batch`] runs many
//! requests through the same steps and commits their writes together, for bulk import.
//!
//! The hazardous-chemicals domain lives here too, so that every interface gets it: the template
//! step that validates records against their metadata template, template versions, the
//! append-only audit log ([`domain`]) and enterprise onboarding ([`onboarding`]).
//!
//! This crate opens no sockets or files and does not read the clock: `now` comes in with every
//! request, and randomness and secret sealing come in through the [`Random`] and
//! [`SecretSealer`] traits.
#![warn(missing_docs)]

pub mod authz;
mod batch;
pub mod domain;
pub mod onboarding;
mod op;
mod pipeline;
mod quota;
mod reads;
mod records;
mod referrals;
pub mod reports;
mod site;
pub mod tokens;
mod upstream;
mod views;
mod writes;

pub use batch::BatchSummary;
pub use domain::{AuditCursor, AuditEvent, AuditPage, AuditQuery, StoredTemplate};
pub use onboarding::{Application, EntState, Enterprise, Review};
pub use op::{Failure, Fault, Identity, Operation, Outcome, Recursion, Referral, Request};
pub use pipeline::{Config, Random, Resolver, SecretSealer};
pub use site::{Published, SITE_INDEX, same_site};
pub use upstream::{MAX_RECURSION_COUNT, Upstream, UpstreamFuture, UpstreamQuery};
