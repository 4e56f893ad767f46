//! Text analysis, shared by indexing, query planning and result matching so that all three
//! agree on what a value's terms are.
//!
//! A stored value yields terms of several [`Kind`]s:
//!
//! | kind | from | term |
//! |---|---|---|
//! | `Value` | every readable text value (not `HS_*`, not the template link) of at most [`MAX_VALUE_BYTES`] bytes, and each element of a JSON string array | the exact text |
//! | `Cas`, `Un`, `Uscc` | indexed template items whose constraint (or list element constraint) is `cas`, `unNumber`, `uscc` | the CAS number as written, the UN number as 4 digits, the credit code upper-cased |
//! | `Item`, `ItemTyped` | every indexed template item | the text trimmed and lower-cased, and `idType:text` |
//! | `NameKey`, `NameEn`, `NameZh` | indexed template items of the `string` constraint (names) | the whole name lower-cased with white space collapsed; its Latin words lower-cased; its Chinese characters and character bigrams |

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use idnode_proto::{Record, types};
use idnode_registry::Store;
use idnode_resolver::Resolver;
use idnode_templates::{
    Constraint, TEMPLATE_INDEX, TEMPLATE_TYPE, Template, parse_link, validators,
};

/// The longest value text that is indexed for reverse lookup, in bytes.
pub const MAX_VALUE_BYTES: usize = 1024;

/// The most words or grams taken from one name or one query.
const MAX_TOKENS: usize = 64;

/// What a term says about a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A whole name, normalized ([`name_key`]).
    NameKey,
    /// A Latin-script word of a name ([`en_tokens`]).
    NameEn,
    /// A Chinese character or character bigram of a name ([`zh_index_grams`]).
    NameZh,
    /// A CAS Registry Number.
    Cas,
    /// A UN number, as 4 digits.
    Un,
    /// A unified social credit code, upper-cased.
    Uscc,
    /// The text of an indexed template item, trimmed and lower-cased.
    Item,
    /// `idType:text` of an indexed template item.
    ItemTyped,
    /// The exact text of a value (reverse lookup).
    Value,
}

impl Kind {
    /// Every kind, in the order of the index fields.
    pub const ALL: [Self; 9] = [
        Self::NameKey,
        Self::NameEn,
        Self::NameZh,
        Self::Cas,
        Self::Un,
        Self::Uscc,
        Self::Item,
        Self::ItemTyped,
        Self::Value,
    ];

    /// The kind's position in [`Kind::ALL`].
    pub fn position(self) -> usize {
        self as usize
    }

    /// The field name stem.
    pub fn name(self) -> &'static str {
        match self {
            Self::NameKey => "name_key",
            Self::NameEn => "name_en",
            Self::NameZh => "name_zh",
            Self::Cas => "cas",
            Self::Un => "un",
            Self::Uscc => "uscc",
            Self::Item => "item",
            Self::ItemTyped => "item_typed",
            Self::Value => "value",
        }
    }

    /// Whether the kind is tokenized text scored with term frequencies (the name words and
    /// grams), rather than one exact term per value.
    pub fn is_text(self) -> bool {
        matches!(self, Self::NameEn | Self::NameZh)
    }
}

/// Where the search index finds templates, by name and version.
pub trait TemplateSource: Send + Sync {
    /// The template `name@version`, if known.
    fn template(&self, name: &str, version: u32) -> Option<Arc<Template>>;
}

/// The templates a resolver knows, stored and built in
/// ([`Resolver::template`](idnode_resolver::Resolver::template)), remembered by name and version
/// (a published version never changes).
pub struct ResolverTemplates<'a, S> {
    resolver: &'a Resolver<S>,
    seen: Mutex<HashMap<(String, u32), Found>>,
}

/// A template lookup's outcome.
type Found = Option<Arc<Template>>;

impl<'a, S: Store> ResolverTemplates<'a, S> {
    /// The templates of `resolver`.
    pub fn new(resolver: &'a Resolver<S>) -> Self {
        Self {
            resolver,
            seen: Mutex::new(HashMap::new()),
        }
    }
}

impl<S: Store> TemplateSource for ResolverTemplates<'_, S> {
    fn template(&self, name: &str, version: u32) -> Option<Arc<Template>> {
        let key = (name.to_owned(), version);
        // The map holds finished lookups only, so a poisoned lock is still consistent.
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(found) = seen.get(&key) {
            return found.clone();
        }
        // A failed lookup counts as an unknown template for this pass; the record is then
        // indexed by its values only, and a later change of the handle indexes it again.
        let found = match self.resolver.template(name, Some(version)) {
            Ok(found) => found.map(|stored| Arc::new(stored.template.clone())),
            Err(failure) => {
                tracing::warn!(name, version, %failure, "cannot read a template for the search index");
                None
            }
        };
        seen.insert(key, found.clone());
        found
    }
}

/// The node's built-in templates (`idnode_templates::builtin`).
#[derive(Debug)]
pub struct BuiltinTemplates {
    templates: Vec<Arc<Template>>,
}

impl BuiltinTemplates {
    /// The built-in templates.
    pub fn new() -> Self {
        Self {
            templates: idnode_templates::builtin::all()
                .iter()
                .cloned()
                .map(Arc::new)
                .collect(),
        }
    }
}

impl Default for BuiltinTemplates {
    fn default() -> Self {
        Self::new()
    }
}

impl TemplateSource for BuiltinTemplates {
    fn template(&self, name: &str, version: u32) -> Option<Arc<Template>> {
        self.templates
            .iter()
            .find(|t| t.name == name && t.version == version)
            .cloned()
    }
}

/// The terms of one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameTerms {
    /// The whole name, normalized.
    pub key: String,
    /// Its Latin-script words.
    pub en: Vec<String>,
    /// Its Chinese characters and bigrams.
    pub zh: Vec<String>,
}

impl NameTerms {
    fn of(text: &str) -> Self {
        Self {
            key: name_key(text),
            en: en_tokens(text),
            zh: zh_index_grams(text),
        }
    }
}

/// The searchable terms of one stored value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueTerms {
    /// The value's index.
    pub index: u32,
    /// The value's type.
    pub value_type: String,
    /// The value's text.
    pub text: String,
    /// Whether anyone may read it (the public-read permission).
    pub public: bool,
    /// Exact terms, without repetitions.
    pub terms: Vec<(Kind, String)>,
    /// The names the value holds (names are indexed as words and grams).
    pub names: Vec<NameTerms>,
}

/// What a record contributes to the index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    /// The template link `name@version` at index 1001, if the record has a readable one.
    pub template: Option<String>,
    /// Whether the template link is public.
    pub template_public: bool,
    /// The searchable values.
    pub values: Vec<ValueTerms>,
}

impl Extracted {
    /// The template's name, without the version.
    pub fn template_name(&self) -> Option<&str> {
        let link = self.template.as_deref()?;
        Some(parse_link(link).map_or(link, |(name, _)| name))
    }
}

/// The searchable terms of a record's values (`int4 count` + encoded values). Undecodable
/// records yield nothing; values nobody may read (neither public nor administrator read) and
/// `HS_*` values (keys, secrets, administrators) are never indexed.
pub fn extract(values: &[u8], templates: &dyn TemplateSource) -> Extracted {
    let Ok(record) = Record::parse(values) else {
        return Extracted::default();
    };
    let mut out = Extracted::default();
    let mut template: Option<Arc<Template>> = None;
    for value in record.iter() {
        let perms = value.permissions();
        if value.index() == TEMPLATE_INDEX
            && value.value_type() == TEMPLATE_TYPE.as_bytes()
            && (perms.public_read() || perms.admin_read())
            && let Ok(link) = std::str::from_utf8(value.data())
        {
            if let Some((name, version)) = parse_link(link) {
                template = templates.template(name, version);
            }
            out.template = Some(link.to_owned());
            out.template_public = perms.public_read();
        }
    }
    for value in record.iter() {
        let perms = value.permissions();
        if !perms.public_read() && !perms.admin_read() {
            continue;
        }
        let Ok(value_type) = std::str::from_utf8(value.value_type()) else {
            continue;
        };
        if value_type.len() >= 3 && value_type[..3].eq_ignore_ascii_case("HS_")
            || value_type == TEMPLATE_TYPE
            || value_type.eq_ignore_ascii_case(types::HS_SECKEY)
        {
            continue;
        }
        let Ok(text) = std::str::from_utf8(value.data()) else {
            continue;
        };
        let item = template.as_deref().and_then(|t| {
            t.item(value.index())
                .filter(|item| item.id_type == value_type && item.indexed && item.enabled)
        });
        let mut terms = Vec::new();
        let mut names = Vec::new();
        if text.len() <= MAX_VALUE_BYTES {
            terms.push((Kind::Value, text.to_owned()));
            if let Some(elements) = json_strings(text) {
                terms.extend(elements.into_iter().map(|e| (Kind::Value, e)));
            }
        }
        if let Some(item) = item {
            let (elements, constraint) = match &item.constraint {
                Constraint::List { of, .. } => (json_strings(text).unwrap_or_default(), &**of),
                other => (vec![text.to_owned()], other),
            };
            for element in elements.iter().filter(|e| e.len() <= MAX_VALUE_BYTES) {
                match constraint {
                    Constraint::Cas => terms.push((Kind::Cas, element.trim().to_owned())),
                    Constraint::UnNumber => {
                        if let Some(un) = normalize_un(element) {
                            terms.push((Kind::Un, un));
                        }
                    }
                    Constraint::Uscc => terms.push((Kind::Uscc, normalize_uscc(element))),
                    Constraint::String { .. } => names.push(NameTerms::of(element)),
                    _ => {}
                }
                terms.push((Kind::Item, item_term(element)));
                terms.push((Kind::ItemTyped, typed_item_term(&item.id_type, element)));
            }
        }
        let mut seen = HashSet::new();
        terms.retain(|t| !t.1.is_empty() && seen.insert(t.clone()));
        if terms.is_empty() && names.is_empty() {
            continue;
        }
        out.values.push(ValueTerms {
            index: value.index(),
            value_type: value_type.to_owned(),
            text: text.to_owned(),
            public: perms.public_read(),
            terms,
            names,
        });
    }
    out
}

/// The elements of a JSON array of strings, or `None` for any other text.
fn json_strings(text: &str) -> Option<Vec<String>> {
    if !text.trim_start().starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(text).ok()
}

/// Whether a character is a CJK ideograph (the unified blocks, extension A and the
/// compatibility ideographs, and the supplementary-plane extensions).
pub fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{2FA1F}')
}

/// The Latin-script (and other non-CJK) words of a text, lower-cased: maximal runs of
/// alphanumeric characters that are not CJK ideographs.
pub fn en_tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric() || is_cjk(c))
        .filter(|w| !w.is_empty())
        .take(MAX_TOKENS)
        .map(str::to_lowercase)
        .collect()
}

/// The runs of consecutive CJK ideographs of a text.
fn cjk_runs(text: &str) -> Vec<Vec<char>> {
    let mut runs = Vec::new();
    let mut run = Vec::new();
    for c in text.chars() {
        if is_cjk(c) {
            run.push(c);
        } else if !run.is_empty() {
            runs.push(std::mem::take(&mut run));
        }
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}

/// The grams a name is indexed with: every CJK character and every pair of adjacent CJK
/// characters.
pub fn zh_index_grams(text: &str) -> Vec<String> {
    let mut grams = Vec::new();
    for run in cjk_runs(text) {
        for (i, c) in run.iter().enumerate() {
            grams.push(c.to_string());
            if let Some(next) = run.get(i + 1) {
                grams.push([*c, *next].iter().collect());
            }
        }
    }
    grams.truncate(MAX_TOKENS * 2);
    grams
}

/// The grams a query is searched with: the bigrams of each run of CJK characters, or the
/// character itself for a run of one.
pub fn zh_query_grams(text: &str) -> Vec<String> {
    let mut grams = Vec::new();
    for run in cjk_runs(text) {
        if run.len() == 1 {
            grams.push(run[0].to_string());
        } else {
            grams.extend(run.windows(2).map(|pair| pair.iter().collect::<String>()));
        }
    }
    let mut seen = HashSet::new();
    grams.retain(|g| seen.insert(g.clone()));
    grams.truncate(MAX_TOKENS);
    grams
}

/// A whole name for exact comparison: lower-cased, white space trimmed and collapsed.
pub fn name_key(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// A UN number as 4 digits (`UN1090`, `un 1090`, `1090` → `1090`), or `None` if it is not one.
pub fn normalize_un(text: &str) -> Option<String> {
    let upper = text.trim().to_ascii_uppercase();
    validators::un_number(&upper)
        .ok()
        .map(|number| format!("{number:04}"))
}

/// A credit code as indexed: trimmed and upper-cased.
pub fn normalize_uscc(text: &str) -> String {
    text.trim().to_ascii_uppercase()
}

/// The text of an indexed item as indexed: trimmed and lower-cased.
pub fn item_term(text: &str) -> String {
    text.trim().to_lowercase()
}

/// `idType:text` of an indexed item.
pub fn typed_item_term(id_type: &str, text: &str) -> String {
    format!("{id_type}:{}", item_term(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use idnode_proto::{HandleValue, Permissions};

    #[test]
    fn tokens_and_grams() {
        assert_eq!(
            en_tokens("2-Propanone, dimethyl ketone"),
            ["2", "propanone", "dimethyl", "ketone"]
        );
        assert_eq!(en_tokens("工业级 acetone丙酮"), ["acetone"]);
        assert_eq!(zh_index_grams("丙酮 x 氯"), ["丙", "丙酮", "酮", "氯"]);
        assert_eq!(zh_query_grams("二氯丙酮"), ["二氯", "氯丙", "丙酮"]);
        assert_eq!(zh_query_grams("酮"), ["酮"]);
        assert_eq!(name_key("  Acetone \t Oxime "), "acetone oxime");
    }

    #[test]
    fn codes_are_normalized() {
        assert_eq!(normalize_un("un 1090").as_deref(), Some("1090"));
        assert_eq!(normalize_un("1090").as_deref(), Some("1090"));
        assert_eq!(normalize_un("acetone"), None);
        assert_eq!(normalize_uscc(" 91350100m000100y43 "), "91350100M000100Y43");
    }

    #[test]
    fn product_values_yield_terms() {
        let product = idnode_templates::builtin::product();
        let mut secret = HandleValue::new(2005, "safetyInfoCode", "X-1");
        secret.permissions = Permissions(Permissions::ADMIN_READ | Permissions::ADMIN_WRITE);
        let values = vec![
            product.link_value(),
            HandleValue::new(2000, "productName", "丙酮"),
            HandleValue::new(2001, "casNo", r#"["67-64-1"]"#),
            HandleValue::new(2002, "unNo", "UN1090"),
            HandleValue::new(2013, "productNameEn", "Acetone"),
            HandleValue::new(2010, "manufacturer", "88.1/E.x"),
            HandleValue::new(1, "URL", "https://example.com/a"),
            HandleValue::new(300, "HS_SECKEY", "secret"),
            secret,
        ];
        let extracted = extract(&Record::encode(&values), &BuiltinTemplates::new());
        assert_eq!(extracted.template.as_deref(), Some("hazchem.product@1"));
        assert_eq!(extracted.template_name(), Some("hazchem.product"));
        let terms = |index: u32| {
            extracted
                .values
                .iter()
                .find(|v| v.index == index)
                .unwrap()
                .clone()
        };
        assert!(
            terms(2001)
                .terms
                .contains(&(Kind::Cas, "67-64-1".to_owned()))
        );
        assert!(
            terms(2001)
                .terms
                .contains(&(Kind::Value, "67-64-1".to_owned()))
        );
        assert!(terms(2002).terms.contains(&(Kind::Un, "1090".to_owned())));
        assert_eq!(terms(2013).names[0].en, ["acetone"]);
        assert_eq!(terms(2000).names[0].zh, ["丙", "丙酮", "酮"]);
        // Not indexed: the manufacturer is only a value for reverse lookup.
        assert_eq!(terms(2010).terms, [(Kind::Value, "88.1/E.x".to_owned())]);
        assert_eq!(
            terms(1).terms,
            [(Kind::Value, "https://example.com/a".to_owned())]
        );
        assert!(!terms(2005).public);
        assert!(terms(2000).public);
        assert!(extracted.values.iter().all(|v| v.index != 300));
    }
}
