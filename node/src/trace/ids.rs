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

/// GS1 Application Identifiers that start an identifying Digital Link path.
const PRIMARY_AIS: &[&str] = &[
    "00", "01", "253", "255", "401", "402", "414", "417", "8003", "8004", "8006", "8010", "8017",
    "8018",
];

/// An identifier named by an event, with the field it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Named<'a> {
    /// The field path (`epcList/0`).
    pub(crate) field: String,
    /// The identifier as given.
    pub(crate) text: &'a str,
    /// Whether it names an object (rather than a location, party or transaction).
    pub(crate) object: bool,
}

/// Every identifier an event names: objects first, in the order parentID, epcList, childEPCs,
/// inputEPCList, outputEPCList, then the quantity lists' classes; then locations, parties and
/// business transactions.
pub(crate) fn named(event: &Map<String, Value>) -> Vec<Named<'_>> {
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
pub(crate) enum Form {
    /// A handle (`PREFIX/SUFFIX`), which may or may not be homed here.
    Handle(String),
    /// Any other identifier, in canonical form.
    Other(String),
}

/// Classifies an identifier as a handle or something else, canonicalising the latter.
pub(crate) fn form(text: &str, resolver_bases: &[String]) -> Form {
    let text = text.trim();
    if let Some(rest) = strip_prefix_ignore_case(text, "hdl:") {
        return Form::Handle(decode(rest.trim_start_matches('/')));
    }
    for base in resolver_bases {
        if let Some(rest) = text.strip_prefix(base.as_str())
            && rest.contains('/')
        {
            return Form::Handle(decode(strip_query(rest)));
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
            .filter(|rest| rest.contains('/'))
        {
            return Form::Handle(decode(rest));
        }
        if let Some(canonical) = digital_link(path) {
            return Form::Other(canonical);
        }
    }
    Form::Other(text.to_owned())
}

/// The canonical `https://id.gs1.org/…` form of a Digital Link path, if it has a primary key.
fn digital_link(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let start = segments
        .iter()
        .position(|segment| PRIMARY_AIS.contains(segment))?;
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

fn decode(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
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
    }
}
