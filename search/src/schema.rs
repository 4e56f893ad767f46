//! The index schema: one document per handle.
//!
//! | field | options | content |
//! |---|---|---|
//! | `key` | raw, indexed | the normalized handle; documents are replaced and deleted by it |
//! | `handle` | stored | the handle as first spelled |
//! | `prefix` | raw, indexed | the normalized prefix |
//! | `template` | raw, indexed | the template name and the link `name@version` |
//! | `template_link` | stored | the link |
//! | `pub_<kind>` | per kind | the terms of the record's public values |
//! | `all_<kind>` | per kind | the terms of all its readable values, public or not |
//!
//! Name words and grams (`name_en`, `name_zh`) are indexed with term frequencies and field
//! lengths for BM25; every other kind is one raw term per value. Anonymous queries run on the
//! `pub_` fields, authenticated ones on the `all_` fields; either way the hits are checked
//! through the resolver before they are returned.

use tantivy::schema::{
    Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};

use crate::analyze::Kind;

/// The schema version recorded in every commit payload; a different one means a rebuild.
pub(crate) const SCHEMA_VERSION: u32 = 1;

/// The fields of one visibility level.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KindFields([Field; Kind::ALL.len()]);

impl KindFields {
    /// The field of a kind.
    pub(crate) fn of(&self, kind: Kind) -> Field {
        self.0[kind.position()]
    }
}

/// Every field of the schema.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    pub(crate) key: Field,
    pub(crate) handle: Field,
    pub(crate) prefix: Field,
    pub(crate) template: Field,
    pub(crate) template_link: Field,
    pub(crate) public: KindFields,
    pub(crate) all: KindFields,
}

impl Fields {
    /// The fields of public values, or of all values.
    pub(crate) fn level(&self, public_only: bool) -> &KindFields {
        if public_only { &self.public } else { &self.all }
    }
}

/// The schema and its fields.
pub(crate) fn build() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let key = builder.add_text_field("key", STRING);
    let handle = builder.add_text_field("handle", STORED);
    let prefix = builder.add_text_field("prefix", STRING);
    let template = builder.add_text_field("template", STRING);
    let template_link = builder.add_text_field("template_link", STORED);
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("raw")
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    let mut level = |stem: &str| {
        KindFields(Kind::ALL.map(|kind| {
            let name = format!("{stem}_{}", kind.name());
            if kind.is_text() {
                builder.add_text_field(&name, text.clone())
            } else {
                builder.add_text_field(&name, STRING)
            }
        }))
    };
    let public = level("pub");
    let all = level("all");
    let fields = Fields {
        key,
        handle,
        prefix,
        template,
        template_link,
        public,
        all,
    };
    (builder.build(), fields)
}
