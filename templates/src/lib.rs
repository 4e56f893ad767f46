//! Metadata templates (元数据模板) of identifier records: the model, its JSON form, record
//! validation, check-digit validators and the built-in hazardous-chemical templates.
//!
//! A [`Template`] lists the items (name, `idType`, index ≥ 2000, [`Constraint`]) that records of
//! one kind carry; records link to their template at index 1001 with a `TEMPLATE` value
//! `name@version`. [`validate()`] checks a record's [`HandleValue`](idnode_proto::HandleValue)s
//! against its template and reports every broken rule as a [`Violation`]; [`evolve`] makes the
//! next, immutable version of a template; [`validators`] holds the code checks (CAS, GB 32100
//! USCC, UN numbers, GB/T 2260, GB/T 4754, GHS, plates, …); [`builtin`] holds the templates of
//! the hazardous-chemicals industry. The JSON forms and rules are described in
//! `docs/templates.md`.
//!
//! This crate is pure: no I/O, no clock (today's date is a parameter), no tokio, no storage.
//! Whether a referenced handle exists is asked through the [`HandleExists`] trait.
#![warn(missing_docs)]

pub mod builtin;
mod constraint;
mod date;
#[doc(hidden)]
pub mod fuzzing;
mod template;
mod validate;
pub mod validators;

pub use constraint::{
    Constraint, ConstraintError, MAX_GHS_HAZARDS, MAX_PATTERN_LEN, Pattern, PatternError,
};
pub use date::Date;
pub use template::{
    EvolveError, FIRST_ITEM_INDEX, Item, MAX_ID_TYPE_LEN, MAX_ITEMS, MAX_NAME_LEN, TEMPLATE_INDEX,
    TEMPLATE_TYPE, Template, TemplateError, evolve, parse_link,
};
pub use validate::{HandleExists, LookupError, Violation, validate};
