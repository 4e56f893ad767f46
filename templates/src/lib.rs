//! Metadata templates (元数据模板) of identifier records, and their validation.
#![warn(missing_docs)]
