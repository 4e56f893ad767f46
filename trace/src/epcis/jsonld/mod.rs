//! The part of JSON-LD 1.1 expansion the reference generator depends on.
//!
//! The reference (`json_to_py._bare_string_pre_preocessing`) expands the whole document with
//! PyLD, collects every string in the expanded form that starts with `https://ref.gs1.org/cbv`
//! or `https://gs1.org/voc`, and uses them to replace bare strings. So only those strings are
//! needed here, and no expanded document is built: [`collect_vocabulary_iris`] walks the
//! compact document with the active context and reports the IRIs and literals that expansion
//! would produce under kept keys.
//!
//! Supported: the two EPCIS 2.0 context URLs (resolved offline to the context the reference
//! ships), embedded and property-scoped contexts, simple and expanded term definitions with
//! `@id`, `@type`, `@container` (`@set`, `@list`), `@context`, `@prefix`, `@protected`,
//! `@language` and `@direction`, `@vocab`, keyword aliases, and protected-term checks. Features
//! that could change the collected strings and that EPCIS documents do not use (`@base`,
//! `@import`, `@reverse`, `@nest`, index/language/id/type/graph containers, type-scoped
//! contexts, `@propagate`) are rejected with [`JsonLdError::Unsupported`] rather than guessed.

mod context;

use self::context::*;

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;
use std::sync::LazyLock;

use serde_json::{Map, Value};

/// The EPCIS 2.0.0 JSON-LD context, as shipped by epcis-event-hash-generator 1.9.3 (its file
/// name there is the SHA-256 of these bytes).
const EPCIS_CONTEXT: &str = include_str!("../epcis-context-2.0.0.jsonld");

/// The context URLs the reference resolves from its package instead of the network. The older
/// `gs1.github.io` copy differs only in the `quantity` datatype (`xsd:decimal`), which is
/// patched in when it is loaded.
const EPCIS_CONTEXT_URL: &str = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";
const EPCIS_CONTEXT_URL_GITHUB: &str = "https://gs1.github.io/EPCIS/epcis-context.jsonld";

/// The prefixes of the strings the reference keeps from the expanded document.
const VOCABULARY_PREFIXES: [&str; 2] = ["https://ref.gs1.org/cbv", "https://gs1.org/voc"];

/// The deepest nesting of remote and scoped contexts followed.
const MAX_CONTEXT_NESTING: usize = 16;

/// Errors from the JSON-LD subset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonLdError {
    /// A context URL other than the EPCIS 2.0 context (the reference would fetch it).
    #[error("unknown remote context {0:?} (only the EPCIS 2.0 context is available offline)")]
    UnknownContext(String),
    /// Invalid JSON-LD that the reference's JSON-LD processor rejects.
    #[error("invalid JSON-LD: {0}")]
    Invalid(String),
    /// A JSON-LD feature outside the supported subset.
    #[error("unsupported JSON-LD feature: {0}")]
    Unsupported(String),
}

/// A term definition (JSON-LD 1.1 §4.2), with the fields PyLD compares for protected terms.
#[derive(Debug, Clone, PartialEq)]
struct TermDefinition {
    /// The IRI mapping or keyword; `None` for a term mapped to `null`.
    id: Option<String>,
    /// The expanded type mapping: `@id`, `@vocab`, `@json`, `@none` or an IRI.
    type_mapping: Option<String>,
    container: Vec<String>,
    scoped_context: Option<Rc<Value>>,
    language: Option<Option<String>>,
    direction: Option<Option<String>>,
    prefix: bool,
    protected: bool,
    term_has_colon: bool,
}

#[derive(Debug, Clone, Default)]
struct ActiveContext {
    terms: HashMap<String, Rc<TermDefinition>>,
    vocab: Option<String>,
}

/// The parsed EPCIS context object (the value of its `@context` member).
static EPCIS_CONTEXT_VALUE: LazyLock<Value> = LazyLock::new(|| {
    serde_json::from_str::<Value>(EPCIS_CONTEXT)
        .ok()
        .and_then(|mut document| document.get_mut("@context").map(Value::take))
        // The embedded file is valid JSON with an `@context` member; a test checks it.
        .unwrap_or(Value::Null)
});

static EPCIS_CONTEXT_GITHUB_VALUE: LazyLock<Value> = LazyLock::new(|| {
    let mut context = EPCIS_CONTEXT_VALUE.clone();
    if let Some(quantity) = context.get_mut("quantity").and_then(Value::as_object_mut) {
        quantity.insert("@type".to_owned(), Value::from("xsd:decimal"));
    }
    context
});

/// Returns every string the JSON-LD expansion of `document` contains (as `@id`, `@type`,
/// `@value` or a datatype) that starts with `https://ref.gs1.org/cbv` or `https://gs1.org/voc`,
/// sorted and without duplicates.
pub(crate) fn collect_vocabulary_iris(document: &Value) -> Result<Vec<String>, JsonLdError> {
    let mut collector = Collector {
        found: BTreeSet::new(),
        cache: CONTEXT_CACHE.take(),
    };
    let context = Rc::new(ActiveContext::default());
    let expanded = collector.expand(&context, None, document);
    CONTEXT_CACHE.set(collector.cache);
    expanded?;
    Ok(collector.found.into_iter().collect())
}

/// The property-scoped contexts already applied, keyed by the identities of the active
/// context and the scoped context; the key's active context is kept alive with the result so
/// that its address is not reused.
type ScopeCache =
    HashMap<(*const ActiveContext, *const Value), (Rc<ActiveContext>, Rc<ActiveContext>)>;

/// The most entries of each map of [`ContextCache`]; a full map is emptied.
const MAX_CACHED_CONTEXTS: usize = 256;

/// The longest document context (as JSON text) that [`ContextCache`] keeps.
const MAX_CACHED_CONTEXT_BYTES: usize = 4096;

/// Processed contexts, kept between documents on one thread.
///
/// Processing the EPCIS context and its property-scoped contexts defines some two hundred
/// terms, more work than expanding a hundred events, and the documents a node receives
/// repeat the same `@context`. Processing is a function of its inputs, so a result is reused
/// whenever they are the same.
#[derive(Default)]
struct ContextCache {
    /// The `@context` of documents (as JSON text) processed against the empty active context.
    documents: HashMap<String, Rc<ActiveContext>>,
    scopes: ScopeCache,
}

thread_local! {
    static CONTEXT_CACHE: RefCell<ContextCache> = RefCell::default();
}

struct Collector {
    /// The strings found, sorted and without duplicates.
    found: BTreeSet<String>,
    /// The thread's cache, taken for the time of one document.
    cache: ContextCache,
}

impl Collector {
    fn note(&mut self, text: &str) {
        if VOCABULARY_PREFIXES
            .iter()
            .any(|prefix| text.starts_with(prefix))
            && !self.found.contains(text)
        {
            self.found.insert(text.to_owned());
        }
    }

    /// Notes every string inside a JSON literal (`@type: @json`), as the reference's walk over
    /// the expanded document does.
    fn note_json_literal(&mut self, value: &Value) {
        match value {
            Value::String(text) => self.note(text),
            Value::Array(items) => items.iter().for_each(|item| self.note_json_literal(item)),
            Value::Object(map) => map.values().for_each(|item| self.note_json_literal(item)),
            _ => {}
        }
    }

    /// The expansion algorithm (JSON-LD 1.1 §5.1.2) reduced to the strings it outputs.
    fn expand(
        &mut self,
        context: &Rc<ActiveContext>,
        property: Option<Property<'_>>,
        element: &Value,
    ) -> Result<(), JsonLdError> {
        match element {
            Value::Null => Ok(()),
            Value::Array(items) => {
                for item in items {
                    self.expand(context, property, item)?;
                }
                Ok(())
            }
            Value::Object(map) => self.expand_object(context, property, map),
            scalar => {
                // Free-floating scalars are dropped.
                let Some(property) = property.filter(|p| p.name != "@graph") else {
                    return Ok(());
                };
                match property.scoped_context() {
                    None => self.expand_value(context, property.definition, scalar),
                    Some(scoped) => {
                        let context = self.apply_scope(context, scoped)?;
                        let definition = context.terms.get(property.name);
                        self.expand_value(&context, definition, scalar)
                    }
                }
            }
        }
    }

    /// Applies the property-scoped context `scoped` to `context`.
    fn apply_scope(
        &mut self,
        context: &Rc<ActiveContext>,
        scoped: Rc<Value>,
    ) -> Result<Rc<ActiveContext>, JsonLdError> {
        let key = (Rc::as_ptr(context), Rc::as_ptr(&scoped));
        if let Some((_, applied)) = self.cache.scopes.get(&key) {
            return Ok(Rc::clone(applied));
        }
        let applied = Rc::new(process_context(context, &scoped, true, 1)?);
        if self.cache.scopes.len() >= MAX_CACHED_CONTEXTS {
            self.cache.scopes.clear();
        }
        self.cache
            .scopes
            .insert(key, (Rc::clone(context), Rc::clone(&applied)));
        Ok(applied)
    }

    /// Processes the `@context` of an object against the active context. The context of a
    /// document (processed against the empty active context) is taken from the cache when the
    /// same text was processed before.
    fn process_object_context(
        &mut self,
        active: Rc<ActiveContext>,
        local: &Value,
    ) -> Result<Rc<ActiveContext>, JsonLdError> {
        let key = (active.terms.is_empty() && active.vocab.is_none())
            .then(|| serde_json::to_string(local).ok())
            .flatten();
        if let Some(cached) = key.as_ref().and_then(|key| self.cache.documents.get(key)) {
            return Ok(Rc::clone(cached));
        }
        let processed = Rc::new(process_context(&active, local, false, 0)?);
        if let Some(key) = key.filter(|key| key.len() <= MAX_CACHED_CONTEXT_BYTES) {
            if self.cache.documents.len() >= MAX_CACHED_CONTEXTS {
                self.cache.documents.clear();
            }
            self.cache.documents.insert(key, Rc::clone(&processed));
        }
        Ok(processed)
    }

    /// Value expansion (§5.3.2) of a scalar under a property with the term definition
    /// `definition` in `context`.
    fn expand_value(
        &mut self,
        context: &Rc<ActiveContext>,
        definition: Option<&Rc<TermDefinition>>,
        value: &Value,
    ) -> Result<(), JsonLdError> {
        let type_mapping = definition.and_then(|d| d.type_mapping.as_deref());
        match (type_mapping, value) {
            (Some("@id"), Value::String(text)) => {
                if let Some(iri) = expand_iri(context, text, false)? {
                    self.note(&iri);
                }
            }
            (Some("@vocab"), Value::String(text)) => {
                if let Some(iri) = expand_iri(context, text, true)? {
                    self.note(&iri);
                }
            }
            (Some("@json"), value) => self.note_json_literal(value),
            (type_mapping, value) => {
                if let Value::String(text) = value {
                    self.note(text);
                }
                if let Some(datatype) =
                    type_mapping.filter(|t| !matches!(*t, "@id" | "@vocab" | "@none"))
                {
                    self.note(datatype);
                }
            }
        }
        Ok(())
    }

    fn expand_object(
        &mut self,
        outer: &Rc<ActiveContext>,
        property: Option<Property<'_>>,
        map: &Map<String, Value>,
    ) -> Result<(), JsonLdError> {
        let mut context = match property.and_then(|p| p.scoped_context()) {
            Some(scoped) => self.apply_scope(outer, scoped)?,
            None => Rc::clone(outer),
        };
        let property = property.map(|p| p.name);
        // A scan finds the member without hashing its name (objects are small).
        if let Some((_, local)) = map.iter().find(|(key, _)| *key == "@context") {
            context = self.process_object_context(context, local)?;
        }
        // Each key is expanded once, with its term definition.
        let keys = map
            .keys()
            .map(|key| expand_key(&context, key))
            .collect::<Result<Vec<_>, _>>()?;
        // Type-scoped contexts would change the active context; reject them.
        for ((_, value), (expanded, _)) in map.iter().zip(&keys) {
            if expanded.as_deref() != Some("@type") {
                continue;
            }
            let types: Vec<&Value> = match value {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            for item in types {
                let Value::String(name) = item else {
                    return Err(JsonLdError::Invalid(
                        "@type values must be strings".to_owned(),
                    ));
                };
                if context
                    .terms
                    .get(name)
                    .is_some_and(|d| d.scoped_context.is_some())
                {
                    return Err(JsonLdError::Unsupported(format!(
                        "type-scoped context of {name:?}"
                    )));
                }
            }
        }
        for ((key, value), (expanded, definition)) in map.iter().zip(&keys) {
            if key == "@context" {
                continue;
            }
            let Some(expanded) = expanded else {
                continue;
            };
            if expanded.starts_with('@') {
                self.expand_keyword(&context, property, expanded, value)?;
                continue;
            }
            if !expanded.contains(':') {
                // Not an IRI: the key and its value are dropped.
                continue;
            }
            if let Some(definition) = definition {
                if definition
                    .container
                    .iter()
                    .any(|c| !matches!(c.as_str(), "@set" | "@list"))
                {
                    return Err(JsonLdError::Unsupported(format!(
                        "container mapping of {key:?}"
                    )));
                }
                if definition.type_mapping.as_deref() == Some("@json") {
                    self.note_json_literal(value);
                    continue;
                }
            }
            let property = Property {
                name: key,
                definition: *definition,
            };
            self.expand(&context, Some(property), value)?;
        }
        Ok(())
    }

    fn expand_keyword(
        &mut self,
        context: &Rc<ActiveContext>,
        property: Option<&str>,
        keyword: &str,
        value: &Value,
    ) -> Result<(), JsonLdError> {
        match keyword {
            "@id" => {
                let Value::String(text) = value else {
                    return Err(JsonLdError::Invalid(
                        "@id value must be a string".to_owned(),
                    ));
                };
                if let Some(iri) = expand_iri(context, text, false)? {
                    self.note(&iri);
                }
            }
            "@type" => {
                let items: Vec<&Value> = match value {
                    Value::Array(items) => items.iter().collect(),
                    other => vec![other],
                };
                for item in items {
                    let Value::String(text) = item else {
                        return Err(JsonLdError::Invalid(
                            "@type values must be strings".to_owned(),
                        ));
                    };
                    if let Some(iri) = expand_iri(context, text, true)? {
                        self.note(&iri);
                    }
                }
            }
            "@value" => {
                if let Value::String(text) = value {
                    self.note(text);
                }
            }
            "@language" | "@direction" | "@index" => {
                if let Value::String(text) = value {
                    self.note(text);
                }
            }
            "@list" | "@set" => {
                let property = property.map(|name| Property::new(context, name));
                self.expand(context, property, value)?;
            }
            "@graph" | "@included" => {
                self.expand(context, Some(Property::new(context, "@graph")), value)?;
            }
            "@reverse" | "@nest" => {
                return Err(JsonLdError::Unsupported(keyword.to_owned()));
            }
            _ => {}
        }
        Ok(())
    }
}

/// A member key with its term definition in the active context it is expanded with.
#[derive(Clone, Copy)]
struct Property<'p> {
    name: &'p str,
    definition: Option<&'p Rc<TermDefinition>>,
}

impl<'p> Property<'p> {
    fn new(context: &'p ActiveContext, name: &'p str) -> Self {
        Self {
            name,
            definition: context.terms.get(name),
        }
    }

    /// The property-scoped context of the term, if it has one.
    fn scoped_context(&self) -> Option<Rc<Value>> {
        self.definition.and_then(|d| d.scoped_context.clone())
    }
}

/// A member key's IRI (or keyword) and its term definition.
type ExpandedKey<'a> = (Option<Cow<'a, str>>, Option<&'a Rc<TermDefinition>>);

/// [`expand_iri`] of a member key (with `@vocab`), and the key's term definition, if the key
/// is a term rather than a keyword.
fn expand_key<'a>(
    context: &'a ActiveContext,
    key: &'a str,
) -> Result<ExpandedKey<'a>, JsonLdError> {
    if is_keyword(key) || looks_like_keyword(key) {
        return Ok((expand_iri(context, key, true)?, None));
    }
    match context.terms.get(key) {
        // What `expand_iri` returns for a term.
        Some(definition) => Ok((
            definition.id.as_deref().map(Cow::Borrowed),
            Some(definition),
        )),
        None => Ok((Some(expand_non_term(context, key, true)), None)),
    }
}

fn is_keyword(text: &str) -> bool {
    matches!(
        text,
        "@base"
            | "@container"
            | "@context"
            | "@default"
            | "@direction"
            | "@embed"
            | "@explicit"
            | "@first"
            | "@graph"
            | "@id"
            | "@import"
            | "@included"
            | "@index"
            | "@json"
            | "@language"
            | "@list"
            | "@nest"
            | "@none"
            | "@omitDefault"
            | "@preserve"
            | "@protected"
            | "@propagate"
            | "@requireAll"
            | "@reverse"
            | "@set"
            | "@type"
            | "@value"
            | "@version"
            | "@vocab"
    )
}

/// PyLD's `KEYWORD_PATTERN`: `^@[a-zA-Z]+$`.
fn looks_like_keyword(text: &str) -> bool {
    text.len() > 1 && text.starts_with('@') && text[1..].bytes().all(|b| b.is_ascii_alphabetic())
}

/// PyLD's `_is_absolute_iri`: `^([A-Za-z][A-Za-z0-9+-.]*|_):[^\s]*$`.
fn is_absolute_iri(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once(':') else {
        return false;
    };
    let scheme_ok = scheme == "_"
        || scheme
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b',' | b'-' | b'.'));
    // Python's `\s` in a str pattern is Unicode whitespace plus U+001C..U+001F.
    scheme_ok
        && !rest
            .chars()
            .any(|c| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

/// IRI expansion (§5.2.2, as PyLD's `_expand_iri`) against a finished active context.
/// Relative IRIs are returned as they are: resolving them against the document base (PyLD's
/// `http://example.org/base/`) never yields a collected string.
fn expand_iri<'a>(
    context: &'a ActiveContext,
    value: &'a str,
    vocab: bool,
) -> Result<Option<Cow<'a, str>>, JsonLdError> {
    if is_keyword(value) {
        return Ok(Some(Cow::Borrowed(value)));
    }
    if looks_like_keyword(value) {
        return Ok(None);
    }
    if vocab && let Some(definition) = context.terms.get(value) {
        return Ok(definition.id.as_deref().map(Cow::Borrowed));
    }
    Ok(Some(expand_non_term(context, value, vocab)))
}

/// The rest of [`expand_iri`] for a value that is not a keyword and, with `vocab`, not a term.
fn expand_non_term<'a>(context: &'a ActiveContext, value: &'a str, vocab: bool) -> Cow<'a, str> {
    if let Some(colon) = value.find(':').filter(|c| *c > 0) {
        let (prefix, suffix) = (&value[..colon], &value[colon + 1..]);
        if prefix == "_" || suffix.starts_with("//") {
            return Cow::Borrowed(value);
        }
        if let Some(definition) = context.terms.get(prefix)
            && definition.prefix
            && let Some(id) = &definition.id
        {
            return Cow::Owned(format!("{id}{suffix}"));
        }
        // Without a vocabulary mapping below, the value is returned either way.
        if vocab && context.vocab.is_some() && is_absolute_iri(value) {
            return Cow::Borrowed(value);
        }
    }
    if vocab && let Some(vocabulary) = &context.vocab {
        return Cow::Owned(format!("{vocabulary}{value}"));
    }
    Cow::Borrowed(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_context_parses() {
        assert!(EPCIS_CONTEXT_VALUE.get("bizStep").is_some());
        assert_eq!(
            EPCIS_CONTEXT_GITHUB_VALUE["quantity"]["@type"],
            Value::from("xsd:decimal")
        );
    }

    #[test]
    fn collects_expanded_cbv_values() {
        let document = serde_json::json!({
            "@context": [EPCIS_CONTEXT_URL, {"ex": "https://ex.example/"}],
            "type": "EPCISDocument",
            "epcisBody": {"eventList": [{
                "type": "ObjectEvent",
                "bizStep": "shipping",
                "disposition": "cbv:Disp-active",
                "bizTransactionList": [{"type": "po", "bizTransaction": "urn:x"}],
                "sensorElementList": [{"sensorReport": [{"type": "Temperature"}]}],
                "undefinedKey": "https://ref.gs1.org/cbv/dropped",
                "ex:field": "https://gs1.org/voc/kept"
            }]}
        });
        let found = collect_vocabulary_iris(&document).expect("expand");
        assert_eq!(
            found,
            vec![
                "https://gs1.org/voc/Temperature",
                "https://gs1.org/voc/kept",
                "https://ref.gs1.org/cbv/BTT-po",
                "https://ref.gs1.org/cbv/BizStep-shipping",
                "https://ref.gs1.org/cbv/Disp-active",
            ]
        );
    }

    #[test]
    fn rejects_unknown_contexts_and_protected_redefinitions() {
        let unknown = serde_json::json!({"@context": "https://example.com/ctx.jsonld"});
        assert!(matches!(
            collect_vocabulary_iris(&unknown),
            Err(JsonLdError::UnknownContext(_))
        ));
        let redefined = serde_json::json!({"@context": [EPCIS_CONTEXT_URL, {"gs1": "https://ref.gs1.org/voc/"}]});
        assert!(matches!(
            collect_vocabulary_iris(&redefined),
            Err(JsonLdError::Invalid(_))
        ));
        let same =
            serde_json::json!({"@context": [EPCIS_CONTEXT_URL, {"gs1": "https://gs1.org/voc/"}]});
        assert!(collect_vocabulary_iris(&same).is_ok());
    }

    #[test]
    fn cached_contexts_give_the_same_strings() {
        let contexts = [
            serde_json::json!([EPCIS_CONTEXT_URL, {"hc": "https://ns.example/hc/"}]),
            serde_json::json!([EPCIS_CONTEXT_URL, {"storing": "https://ref.gs1.org/cbv/BizStep-other"}]),
            serde_json::json!([EPCIS_CONTEXT_URL_GITHUB]),
            serde_json::json!([{"@vocab": "https://gs1.org/voc/"}, EPCIS_CONTEXT_URL]),
            serde_json::json!([EPCIS_CONTEXT_URL, {"gs1": "https://ref.gs1.org/voc/"}]),
        ];
        let documents: Vec<Value> = contexts
            .iter()
            .map(|context| {
                serde_json::json!({
                    "@context": context,
                    "epcisBody": {"eventList": [
                        {"type": "ObjectEvent", "bizStep": "storing", "disposition": "active",
                         "sensorElementList": [{"sensorReport": [{"type": "Temperature"}]}]},
                        {"@context": {"x": "https://gs1.org/voc/x-"}, "type": "ObjectEvent",
                         "bizStep": "shipping", "x:y": "Pressure"}
                    ]}
                })
            })
            .collect();
        // Each document with an empty cache, then all of them twice in turn with a warm one.
        let fresh: Vec<_> = documents
            .iter()
            .map(|document| {
                CONTEXT_CACHE.take();
                collect_vocabulary_iris(document)
            })
            .collect();
        for _ in 0..2 {
            for (document, expected) in documents.iter().zip(&fresh) {
                assert_eq!(&collect_vocabulary_iris(document), expected);
            }
        }
        assert!(fresh.iter().filter(|found| found.is_ok()).count() >= 4);
        assert!(!CONTEXT_CACHE.with_borrow(|cache| cache.documents.is_empty()));
    }
}
