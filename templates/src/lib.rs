//! Metadata templates (元数据模板) of identifier records, and their validation.
#![warn(missing_docs)]

mod date;
pub mod validators;

pub use date::Date;
