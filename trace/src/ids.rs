//! Identifiers in captured events: which fields carry them, which name this node's handles,
//! and their canonical subject form.
//!
//! This node's handles appear as `hdl:PREFIX/SUFFIX`, as a handle REST URL
//! (`http(s)://host/api/handles/PREFIX/SUFFIX`), or under a configured resolver base
//! (`<base>PREFIX/SUFFIX`). Whether a handle is this node's is decided by its prefix being homed
//! here. GS1 Digital Link URIs are reduced to `https://id.gs1.org/` with only the identifying
//! path; everything else (EPC URNs, other URIs) is kept as given.

use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};

/// An identifier named by an event, with the field it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named<'a> {
    /// The field path (`epcList/0`).
    pub field: String,
    /// The identifier as given.
    pub text: &'a str,
    /// Whether it names an object (rather than a location, party or transaction).
    pub object: bool,
}

/// Every identifier an event names: objects first, in the order parentID, epcList, childEPCs,
/// inputEPCList, outputEPCList, then the quantity lists' classes; then locations, parties and
/// business transactions.
pub fn named(event: &Map<String, Value>) -> Vec<Named<'_>> {
    let mut out = Vec::new();
    if let Some(text) = event.get("parentID").and_then(Value::as_str) {
        out.push(Named {
            field: "parentID".to_owned(),
            text,
            object: true,
        });
    }
    for list in ["epcList", "childEPCs", "inputEPCList", "outputEPCList"] {
        if let Some(Value::Array(items)) = event.get(list) {
            for (n, item) in items.iter().enumerate() {
                if let Some(text) = item.as_str() {
                    out.push(Named {
                        field: format!("{list}/{n}"),
                        text,
                        object: true,
                    });
                }
            }
        }
    }
    for list in [
        "quantityList",
        "childQuantityList",
        "inputQuantityList",
        "outputQuantityList",
    ] {
        if let Some(Value::Array(items)) = event.get(list) {
            for (n, item) in items.iter().enumerate() {
                if let Some(text) = item.get("epcClass").and_then(Value::as_str) {
                    out.push(Named {
                        field: format!("{list}/{n}/epcClass"),
                        text,
                        object: true,
                    });
                }
            }
        }
    }
    for field in ["readPoint", "bizLocation"] {
        if let Some(text) = event
            .get(field)
            .and_then(|l| l.get("id"))
            .and_then(Value::as_str)
        {
            out.push(Named {
                field: format!("{field}/id"),
                text,
                object: false,
            });
        }
    }
    for (list, member) in [
        ("sourceList", "source"),
        ("destinationList", "destination"),
        ("bizTransactionList", "bizTransaction"),
    ] {
        if let Some(Value::Array(items)) = event.get(list) {
            for (n, item) in items.iter().enumerate() {
                if let Some(text) = item.get(member).and_then(Value::as_str) {
                    out.push(Named {
                        field: format!("{list}/{n}/{member}"),
                        text,
                        object: false,
                    });
                }
            }
        }
    }
    out
}

/// What an identifier is, before the registry is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Form {
    /// A handle (`PREFIX/SUFFIX`), which may or may not be homed here.
    Handle(String),
    /// Any other identifier, in canonical form.
    Other(String),
    /// A handle form whose percent-encoding does not decode to UTF-8: refused, never replaced
    /// by something else.
    Malformed(String),
}

/// Classifies an identifier as a handle or something else, canonicalising the latter. This is
/// the one normalisation of every form that names a handle (`hdl:`, a handle REST URL, a
/// configured resolver base), applied before any permission is checked: the path is
/// percent-decoded first, so `88.118.8%2Fx` names `88.118.8/x` in every form.
pub fn form(text: &str, resolver_bases: &[String]) -> Form {
    let text = text.trim();
    if let Some(rest) = strip_prefix_ignore_case(text, "hdl:") {
        return handle_form(rest.trim_start_matches('/'), true);
    }
    for base in resolver_bases {
        if let Some(rest) = text.strip_prefix(base.as_str()) {
            let form = handle_form(strip_query(rest), false);
            if !matches!(form, Form::Other(_)) {
                return form;
            }
        }
    }
    if let Some((_, after_scheme)) = text.split_once("://").filter(|(scheme, _)| {
        scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")
    }) {
        let path = after_scheme.split_once('/').map_or("", |(_, path)| path);
        let path = strip_query(path);
        if let Some(rest) = path
            .find("api/handles/")
            .map(|at| &path[at + "api/handles/".len()..])
        {
            let form = handle_form(rest, false);
            if !matches!(form, Form::Other(_)) {
                return form;
            }
        }
        if let Some(canonical) = digital_link(path) {
            return Form::Other(canonical);
        }
    }
    Form::Other(text.to_owned())
}

/// The handle that a percent-encoded path names, if it names one (it has a `/` once decoded,
/// or it came after `hdl:`); [`Form::Other`] with the text otherwise.
fn handle_form(encoded: &str, always: bool) -> Form {
    match percent_decode_str(encoded).decode_utf8() {
        Ok(decoded) if always || decoded.contains('/') => Form::Handle(decoded.into_owned()),
        Ok(_) => Form::Other(encoded.to_owned()),
        Err(_) => Form::Malformed(format!("{encoded} is not percent-encoded UTF-8")),
    }
}

/// The canonical `https://id.gs1.org/…` form of a Digital Link path, if it has a primary key.
fn digital_link(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let start = segments
        .iter()
        .position(|segment| crate::gs1::is_primary_key(segment))?;
    let identifying = &segments[start..];
    if identifying.len() < 2 || !identifying.len().is_multiple_of(2) {
        return None;
    }
    Some(format!("https://id.gs1.org/{}", identifying.join("/")))
}

fn strip_query(text: &str) -> &str {
    let end = text.find(['?', '#']).unwrap_or(text.len());
    &text[..end]
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let bases = vec!["https://id.example.cn/".to_owned()];
        assert_eq!(
            form("hdl:88.118.8/drum%201", &bases),
            Form::Handle("88.118.8/drum 1".into())
        );
        assert_eq!(
            form("https://node.example/api/handles/88.118.8/d1?x=1", &bases),
            Form::Handle("88.118.8/d1".into())
        );
        assert_eq!(
            form("https://id.example.cn/88.118.8/d2", &bases),
            Form::Handle("88.118.8/d2".into())
        );
        assert_eq!(
            form(
                "https://brand.example/p/01/09506000134352/21/D1?17=270101",
                &bases
            ),
            Form::Other("https://id.gs1.org/01/09506000134352/21/D1".into())
        );
        assert_eq!(
            form("urn:epc:id:sgtin:0614141.107346.2017", &bases),
            Form::Other("urn:epc:id:sgtin:0614141.107346.2017".into())
        );
        // An encoded slash still names a handle, in every form.
        for text in [
            "https://node.example/api/handles/88.118.8%2FE.x",
            "https://id.example.cn/88.118.8%2FE.x",
            "hdl:88.118.8%2FE.x",
        ] {
            assert_eq!(
                form(text, &bases),
                Form::Handle("88.118.8/E.x".into()),
                "{text}"
            );
        }
        // Invalid UTF-8 is refused, not replaced.
        assert!(matches!(
            form("https://node.example/api/handles/88.118.8/z%C0%AF", &bases),
            Form::Malformed(_)
        ));
    }
}
