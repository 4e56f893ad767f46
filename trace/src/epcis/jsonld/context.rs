//! JSON-LD 1.1 context processing (§4.1, "Context Processing Algorithm", and §4.2, "Create
//! Term Definition"), as far as EPCIS documents need it: local contexts, the EPCIS context by
//! its URL, term definitions with their IRI mappings, and bounds on nesting and chains.

use super::*;

/// Context processing (§4.1) for the supported subset.
pub(super) fn process_context(
    active: &ActiveContext,
    local: &Value,
    override_protected: bool,
    nesting: usize,
) -> Result<ActiveContext, JsonLdError> {
    if nesting > MAX_CONTEXT_NESTING {
        return Err(JsonLdError::Invalid("contexts nest too deeply".to_owned()));
    }
    let locals: Vec<&Value> = match local {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut result = active.clone();
    for local in locals {
        match local {
            Value::Null => {
                if !override_protected && result.terms.values().any(|d| d.protected) {
                    return Err(JsonLdError::Invalid(
                        "cannot nullify a context with protected terms".to_owned(),
                    ));
                }
                result = ActiveContext::default();
            }
            Value::String(url) => {
                let remote = match url.as_str() {
                    EPCIS_CONTEXT_URL => &*EPCIS_CONTEXT_VALUE,
                    EPCIS_CONTEXT_URL_GITHUB => &*EPCIS_CONTEXT_GITHUB_VALUE,
                    _ => return Err(JsonLdError::UnknownContext(url.clone())),
                };
                result = process_context(&result, remote, override_protected, nesting + 1)?;
            }
            Value::Object(map) => {
                result = process_local_object(result, map, override_protected)?;
            }
            _ => return Err(JsonLdError::Invalid("invalid local context".to_owned())),
        }
    }
    Ok(result)
}

pub(super) fn process_local_object(
    mut result: ActiveContext,
    map: &Map<String, Value>,
    override_protected: bool,
) -> Result<ActiveContext, JsonLdError> {
    for unsupported in ["@base", "@import", "@propagate"] {
        if map.contains_key(unsupported) {
            return Err(JsonLdError::Unsupported(format!(
                "{unsupported} in a context"
            )));
        }
    }
    if let Some(version) = map.get("@version")
        && version.as_f64() != Some(1.1)
    {
        return Err(JsonLdError::Invalid("@version must be 1.1".to_owned()));
    }
    if let Some(vocab) = map.get("@vocab") {
        match vocab {
            Value::Null => result.vocab = None,
            Value::String(text) => {
                let expanded = expand_iri(&result, text, true)?
                    .map(Cow::into_owned)
                    .unwrap_or_default();
                if !is_absolute_iri(&expanded) {
                    return Err(JsonLdError::Unsupported("relative @vocab".to_owned()));
                }
                result.vocab = Some(expanded);
            }
            _ => return Err(JsonLdError::Invalid("@vocab must be a string".to_owned())),
        }
    }
    for keyword in ["@language", "@direction"] {
        if map
            .get(keyword)
            .is_some_and(|v| !v.is_string() && !v.is_null())
        {
            return Err(JsonLdError::Invalid(format!("{keyword} must be a string")));
        }
    }
    let mut definer = TermDefiner {
        local: map,
        chain: 0,
        defined: HashMap::new(),
        local_protected: map.get("@protected").and_then(Value::as_bool) == Some(true),
        override_protected,
    };
    for term in map.keys() {
        if matches!(
            term.as_str(),
            "@version" | "@vocab" | "@language" | "@direction" | "@protected"
        ) {
            continue;
        }
        definer.define(&mut result, term)?;
    }
    Ok(result)
}

/// The deepest chain of term definitions that depend on each other.
pub(super) const MAX_DEFINITION_CHAIN: usize = 32;

pub(super) struct TermDefiner<'a> {
    local: &'a Map<String, Value>,
    /// How many definitions are in progress (each waiting for a dependency).
    chain: usize,
    /// `true` once defined, `false` while being defined (cycle detection).
    defined: HashMap<String, bool>,
    local_protected: bool,
    override_protected: bool,
}

impl TermDefiner<'_> {
    /// Expands `value` during context processing, defining the terms it depends on first.
    fn expand_iri_defining(
        &mut self,
        context: &mut ActiveContext,
        value: &str,
    ) -> Result<Option<String>, JsonLdError> {
        if !is_keyword(value) && !looks_like_keyword(value) {
            if self.local.contains_key(value) && self.defined.get(value) != Some(&true) {
                self.define(context, value)?;
            }
            if let Some(colon) = value.find(':').filter(|c| *c > 0) {
                let prefix = &value[..colon];
                if self.local.contains_key(prefix) && self.defined.get(prefix) != Some(&true) {
                    self.define(context, prefix)?;
                }
            }
        }
        Ok(expand_iri(context, value, true)?.map(Cow::into_owned))
    }

    /// Defines `term`, bounding the chain of definitions waiting for their dependencies.
    fn define(&mut self, context: &mut ActiveContext, term: &str) -> Result<(), JsonLdError> {
        if self.chain >= MAX_DEFINITION_CHAIN {
            return Err(JsonLdError::Unsupported(
                "term definitions depend on each other too deeply".to_owned(),
            ));
        }
        self.chain += 1;
        let result = self.define_unbounded(context, term);
        self.chain -= 1;
        result
    }

    /// PyLD's `_create_term_definition` for the supported subset.
    fn define_unbounded(
        &mut self,
        context: &mut ActiveContext,
        term: &str,
    ) -> Result<(), JsonLdError> {
        match self.defined.get(term) {
            Some(true) => return Ok(()),
            Some(false) => {
                return Err(JsonLdError::Invalid(format!(
                    "cyclic IRI mapping at {term:?}"
                )));
            }
            None => {}
        }
        self.defined.insert(term.to_owned(), false);
        let value = self.local.get(term).cloned().unwrap_or(Value::Null);
        if term == "@type" || is_keyword(term) {
            return Err(JsonLdError::Invalid(format!("keyword {term:?} redefined")));
        }
        if looks_like_keyword(term) {
            self.defined.insert(term.to_owned(), true);
            return Ok(());
        }
        if term.is_empty() {
            return Err(JsonLdError::Invalid("empty term".to_owned()));
        }
        let previous = context.terms.remove(term);
        let simple = matches!(value, Value::String(_) | Value::Null);
        let map = match value {
            Value::Object(map) => map,
            Value::String(_) | Value::Null => {
                let mut map = Map::new();
                map.insert("@id".to_owned(), value);
                map
            }
            _ => return Err(JsonLdError::Invalid(format!("definition of {term:?}"))),
        };
        for key in map.keys() {
            match key.as_str() {
                "@id" | "@type" | "@container" | "@context" | "@language" | "@direction"
                | "@prefix" | "@protected" => {}
                "@reverse" | "@nest" | "@index" => {
                    return Err(JsonLdError::Unsupported(format!("{key} in {term:?}")));
                }
                _ => return Err(JsonLdError::Invalid(format!("{key} in {term:?}"))),
            }
        }
        let colon = term.find(':').filter(|c| *c > 0);
        let mut definition = TermDefinition {
            id: None,
            type_mapping: None,
            container: Vec::new(),
            scoped_context: None,
            language: None,
            direction: None,
            prefix: false,
            protected: false,
            term_has_colon: colon.is_some(),
        };
        let mut id_set = false;
        match map.get("@id") {
            Some(Value::Null) => id_set = true,
            Some(Value::String(id)) if !is_keyword(id) && looks_like_keyword(id) => {
                // PyLD ignores such a definition and keeps the previous one.
                if let Some(previous) = previous {
                    context.terms.insert(term.to_owned(), previous);
                }
                self.defined.insert(term.to_owned(), true);
                return Ok(());
            }
            Some(Value::String(id)) if id != term => {
                let expanded = self.expand_iri_defining(context, id)?.unwrap_or_default();
                if !is_absolute_iri(&expanded) && !is_keyword(&expanded) {
                    return Err(JsonLdError::Invalid(format!("IRI mapping of {term:?}")));
                }
                if term_looks_like_iri(term) {
                    self.defined.insert(term.to_owned(), true);
                    let term_iri = self.expand_iri_defining(context, term)?;
                    self.defined.insert(term.to_owned(), false);
                    if term_iri.as_deref() != Some(expanded.as_str()) {
                        return Err(JsonLdError::Invalid(format!(
                            "term {term:?} in IRI form maps elsewhere"
                        )));
                    }
                }
                definition.prefix = simple
                    && colon.is_none()
                    && (expanded.starts_with("_:")
                        || expanded.ends_with([':', '/', '?', '#', '[', ']', '@']));
                definition.id = Some(expanded);
                id_set = true;
            }
            Some(Value::String(_)) | None => {}
            Some(_) => return Err(JsonLdError::Invalid(format!("@id of {term:?}"))),
        }
        if !id_set {
            if let Some(colon) = colon {
                let prefix = &term[..colon];
                if self.local.contains_key(prefix) {
                    self.define(context, prefix)?;
                }
                definition.id = match context.terms.get(prefix) {
                    Some(prefix_definition) => match &prefix_definition.id {
                        Some(id) => Some(format!("{id}{}", &term[colon + 1..])),
                        None => {
                            return Err(JsonLdError::Invalid(format!(
                                "prefix of {term:?} maps to null"
                            )));
                        }
                    },
                    None => Some(term.to_owned()),
                };
            } else if let Some(vocabulary) = &context.vocab {
                definition.id = Some(format!("{vocabulary}{term}"));
            } else {
                return Err(JsonLdError::Invalid(format!("{term:?} defines no IRI")));
            }
        }
        definition.protected = match map.get("@protected") {
            Some(Value::Bool(protected)) => *protected,
            _ => self.local_protected,
        };
        if let Some(type_mapping) = map.get("@type") {
            let Value::String(type_mapping) = type_mapping else {
                return Err(JsonLdError::Invalid(format!("@type of {term:?}")));
            };
            let expanded = if matches!(type_mapping.as_str(), "@id" | "@vocab" | "@json" | "@none")
            {
                type_mapping.clone()
            } else {
                let expanded = self
                    .expand_iri_defining(context, type_mapping)?
                    .unwrap_or_default();
                if !is_absolute_iri(&expanded) || expanded.starts_with("_:") {
                    return Err(JsonLdError::Invalid(format!("@type of {term:?}")));
                }
                expanded
            };
            definition.type_mapping = Some(expanded);
        }
        if let Some(container) = map.get("@container") {
            let items: Vec<&Value> = match container {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            for item in items {
                match item.as_str() {
                    Some(name @ ("@set" | "@list")) => definition.container.push(name.to_owned()),
                    _ => {
                        return Err(JsonLdError::Unsupported(format!(
                            "container mapping of {term:?}"
                        )));
                    }
                }
            }
            if definition.container.len() > 1 {
                return Err(JsonLdError::Invalid(format!("@container of {term:?}")));
            }
        }
        match map.get("@context") {
            None => {}
            Some(Value::Null) => {
                return Err(JsonLdError::Unsupported(format!(
                    "null scoped context of {term:?}"
                )));
            }
            Some(scoped) => definition.scoped_context = Some(Rc::new(scoped.clone())),
        }
        if let Some(language) = map.get("@language")
            && !map.contains_key("@type")
        {
            definition.language = Some(match language {
                Value::Null => None,
                Value::String(text) => Some(text.to_lowercase()),
                _ => return Err(JsonLdError::Invalid(format!("@language of {term:?}"))),
            });
        }
        if let Some(prefix) = map.get("@prefix") {
            let Value::Bool(prefix) = prefix else {
                return Err(JsonLdError::Invalid(format!("@prefix of {term:?}")));
            };
            if term.contains([':', '/']) || definition.id.as_deref().is_some_and(is_keyword) {
                return Err(JsonLdError::Invalid(format!("@prefix of {term:?}")));
            }
            definition.prefix = *prefix;
        }
        if let Some(direction) = map.get("@direction") {
            definition.direction = Some(match direction {
                Value::Null => None,
                Value::String(text) if text == "ltr" || text == "rtl" => Some(text.clone()),
                _ => return Err(JsonLdError::Invalid(format!("@direction of {term:?}"))),
            });
        }
        if matches!(definition.id.as_deref(), Some("@context" | "@preserve")) {
            return Err(JsonLdError::Invalid(format!("{term:?} aliases @context")));
        }
        if let Some(previous) = previous
            && previous.protected
            && !self.override_protected
        {
            definition.protected = true;
            if *previous != definition {
                return Err(JsonLdError::Invalid(format!(
                    "protected term {term:?} redefined"
                )));
            }
        }
        context.terms.insert(term.to_owned(), Rc::new(definition));
        self.defined.insert(term.to_owned(), true);
        Ok(())
    }
}

/// PyLD's `re.match(r'.*((:[^:])|/)', term)`: the term contains a slash, or a colon followed
/// by a character other than a colon.
pub(super) fn term_looks_like_iri(term: &str) -> bool {
    term.contains('/')
        || term
            .as_bytes()
            .windows(2)
            .any(|pair| pair[0] == b':' && pair[1] != b':' && pair[1] != b'\n')
}
