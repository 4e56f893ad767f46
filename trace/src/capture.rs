//! EPCIS 2.0 capture validation: document shape, event types and their required fields, CBV 2.0
//! vocabularies ([`crate::cbv`]), and the `hc:` hazardous-chemical extensions.
//!
//! Every check names the event (its index in the document) and the field that failed, so a
//! rejected document can be answered with an RFC 7807 problem that points at the error. Nothing
//! here does I/O; identifiers are checked against the registry by the caller.

use serde_json::{Map, Value};

use crate::cbv::*;

/// Why a capture was refused: which event, which field, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The index of the event in the document's event list; `None` for document-level errors.
    pub event: Option<usize>,
    /// The field, as a JSON-pointer-like path inside the event (`bizStep`, `epcList/2`).
    pub field: String,
    /// What is wrong.
    pub detail: String,
}

impl Invalid {
    /// A refusal of `field` of event `event` (`None`: the document), saying what is wrong.
    pub fn new(event: Option<usize>, field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            event,
            field: field.into(),
            detail: detail.into(),
        }
    }
}

/// A captured document split into its context and events, borrowed from the document.
#[derive(Debug, Clone)]
pub struct Captured<'a> {
    /// The document's `@context` (or the single event's), as given.
    pub context: &'a Value,
    /// The events, as given (a single event still holds its `@context`).
    pub events: Vec<&'a Map<String, Value>>,
}

/// Splits an `EPCISDocument` or a single event into context and events, checking the document
/// fields. `max_events` bounds the event list.
pub fn split_document(body: &Value, max_events: usize) -> Result<Captured<'_>, Invalid> {
    let Value::Object(object) = body else {
        return Err(Invalid::new(None, "", "the body is not a JSON object"));
    };
    let doc_type = object.get("type").and_then(Value::as_str).unwrap_or("");
    if EVENT_TYPES.contains(&doc_type) {
        let context = object.get("@context").unwrap_or(&Value::Null);
        if context.is_null() {
            return Err(Invalid::new(
                Some(0),
                "@context",
                "a single event needs an @context",
            ));
        }
        return Ok(Captured {
            context,
            events: vec![object],
        });
    }
    if doc_type != "EPCISDocument" {
        return Err(Invalid::new(
            None,
            "type",
            "expected an EPCISDocument or one of the five EPCIS 2.0 event types",
        ));
    }
    let context = object.get("@context").unwrap_or(&Value::Null);
    if context.is_null() {
        return Err(Invalid::new(
            None,
            "@context",
            "the document has no @context",
        ));
    }
    if object.get("schemaVersion").and_then(Value::as_str) != Some("2.0") {
        return Err(Invalid::new(
            None,
            "schemaVersion",
            "schemaVersion must be \"2.0\"",
        ));
    }
    match object.get("creationDate").and_then(Value::as_str) {
        Some(date) if parse_time(date).is_some() => {}
        _ => {
            return Err(Invalid::new(
                None,
                "creationDate",
                "creationDate must be an RFC 3339 date-time",
            ));
        }
    }
    let events = object
        .get("epcisBody")
        .and_then(|body| body.get("eventList"));
    let Some(Value::Array(list)) = events else {
        return Err(Invalid::new(
            None,
            "epcisBody/eventList",
            "missing event list",
        ));
    };
    if list.is_empty() {
        return Err(Invalid::new(
            None,
            "epcisBody/eventList",
            "the event list is empty",
        ));
    }
    if list.len() > max_events {
        return Err(Invalid::new(
            None,
            "epcisBody/eventList",
            format!("more than {max_events} events in one document"),
        ));
    }
    let mut events = Vec::with_capacity(list.len());
    for (index, event) in list.iter().enumerate() {
        match event {
            Value::Object(event) => events.push(event),
            _ => {
                return Err(Invalid::new(
                    Some(index),
                    "",
                    "the event is not a JSON object",
                ));
            }
        }
    }
    Ok(Captured { context, events })
}

/// Whether `context` declares the prefix `prefix` (in an object member of the context).
pub fn declares_prefix(context: &Value, prefix: &str) -> bool {
    match context {
        Value::Object(map) => map.contains_key(prefix),
        Value::Array(items) => items.iter().any(|item| declares_prefix(item, prefix)),
        _ => false,
    }
}

/// Validates one event (index `i`) against EPCIS 2.0, CBV 2.0 and the `hc:` extensions.
/// `context` is the document context, used to check that `hc:` is declared.
pub fn validate_event(
    i: usize,
    event: &Map<String, Value>,
    context: &Value,
) -> Result<(), Invalid> {
    let bad = |field: &str, detail: &str| Invalid::new(Some(i), field, detail);
    let event_type = event
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("type", "missing event type"))?;
    if !EVENT_TYPES.contains(&event_type) {
        return Err(bad("type", "not an EPCIS 2.0 event type"));
    }
    for key in event.keys() {
        if !KNOWN_FIELDS.contains(&key.as_str()) && !is_extension_name(key) {
            return Err(bad(key, "unknown field; extensions need a declared prefix"));
        }
    }
    let hc_declared = declares_prefix(context, "hc")
        || event
            .get("@context")
            .is_some_and(|c| declares_prefix(c, "hc"));
    let time = string(event, "eventTime").ok_or_else(|| bad("eventTime", "missing eventTime"))?;
    if parse_time(time).is_none() {
        return Err(bad(
            "eventTime",
            "eventTime is not an RFC 3339 date-time with offset",
        ));
    }
    let offset = string(event, "eventTimeZoneOffset")
        .ok_or_else(|| bad("eventTimeZoneOffset", "missing eventTimeZoneOffset"))?;
    if !is_zone_offset(offset) {
        return Err(bad("eventTimeZoneOffset", "expected an offset like +08:00"));
    }
    if let Some(id) = event.get("eventID")
        && id.as_str().is_none_or(|s| s.trim().is_empty())
    {
        return Err(bad("eventID", "eventID must be a non-empty string"));
    }
    let action = event.get("action");
    let check_action = |required: bool| -> Result<(), Invalid> {
        match action.and_then(Value::as_str) {
            Some("ADD" | "OBSERVE" | "DELETE") => Ok(()),
            None if !required && action.is_none() => Ok(()),
            None if action.is_none() => Err(bad("action", "missing action")),
            _ => Err(bad("action", "action must be ADD, OBSERVE or DELETE")),
        }
    };
    let has = |field: &str| event.contains_key(field);
    for field in ["epcList", "childEPCs", "inputEPCList", "outputEPCList"] {
        if let Some(value) = event.get(field) {
            id_list(i, field, value)?;
        }
    }
    for field in [
        "quantityList",
        "childQuantityList",
        "inputQuantityList",
        "outputQuantityList",
    ] {
        if let Some(value) = event.get(field) {
            quantity_list(i, field, value)?;
        }
    }
    if let Some(parent) = event.get("parentID")
        && !is_identifier(parent)
    {
        return Err(bad("parentID", "parentID must be a non-empty URI"));
    }
    match event_type {
        "ObjectEvent" => {
            check_action(true)?;
            let sensor = has("sensorElementList") && has("readPoint");
            if !(has("epcList") || has("quantityList") || sensor) {
                return Err(bad(
                    "epcList",
                    "an ObjectEvent needs epcList, quantityList, or sensorElementList with readPoint",
                ));
            }
        }
        "AggregationEvent" => {
            check_action(true)?;
            if !(has("childEPCs") || has("childQuantityList")) {
                return Err(bad(
                    "childEPCs",
                    "an AggregationEvent needs childEPCs or childQuantityList",
                ));
            }
            let action = action.and_then(Value::as_str);
            if matches!(action, Some("ADD" | "DELETE")) && !has("parentID") {
                return Err(bad(
                    "parentID",
                    "an AggregationEvent ADD or DELETE needs parentID",
                ));
            }
        }
        "TransactionEvent" => {
            check_action(true)?;
            if !has("bizTransactionList") {
                return Err(bad(
                    "bizTransactionList",
                    "a TransactionEvent needs bizTransactionList",
                ));
            }
            if !(has("epcList") || has("quantityList")) {
                return Err(bad(
                    "epcList",
                    "a TransactionEvent needs epcList or quantityList",
                ));
            }
        }
        "TransformationEvent" => {
            if action.is_some() {
                return Err(bad("action", "a TransformationEvent has no action"));
            }
            let inputs = has("inputEPCList") || has("inputQuantityList");
            let outputs = has("outputEPCList") || has("outputQuantityList");
            if !((inputs && outputs) || has("transformationID")) {
                return Err(bad(
                    "inputEPCList",
                    "a TransformationEvent needs inputs and outputs, or a transformationID",
                ));
            }
        }
        "AssociationEvent" => {
            check_action(true)?;
            if !has("parentID") {
                return Err(bad("parentID", "an AssociationEvent needs parentID"));
            }
            if !(has("childEPCs") || has("childQuantityList")) {
                return Err(bad(
                    "childEPCs",
                    "an AssociationEvent needs childEPCs or childQuantityList",
                ));
            }
        }
        _ => {}
    }
    if let Some(step) = event.get("bizStep") {
        vocabulary(i, "bizStep", step, "BizStep", BIZ_STEPS)?;
    }
    if let Some(disposition) = event.get("disposition") {
        vocabulary(i, "disposition", disposition, "Disp", DISPOSITIONS)?;
    }
    if let Some(persistent) = event.get("persistentDisposition") {
        let Value::Object(map) = persistent else {
            return Err(bad(
                "persistentDisposition",
                "must be an object with set and unset",
            ));
        };
        for (key, list) in map {
            if key != "set" && key != "unset" {
                return Err(bad(
                    "persistentDisposition",
                    "only set and unset are allowed",
                ));
            }
            let Value::Array(items) = list else {
                return Err(bad("persistentDisposition", "set and unset are lists"));
            };
            for (n, item) in items.iter().enumerate() {
                vocabulary(
                    i,
                    &format!("persistentDisposition/{key}/{n}"),
                    item,
                    "Disp",
                    DISPOSITIONS,
                )?;
            }
        }
    }
    for field in ["readPoint", "bizLocation"] {
        if let Some(location) = event.get(field) {
            let id = location.get("id");
            if !id.is_some_and(is_identifier) {
                return Err(bad(field, "needs an id that is a non-empty URI"));
            }
        }
    }
    if let Some(list) = event.get("bizTransactionList") {
        let Value::Array(items) = list else {
            return Err(bad("bizTransactionList", "must be a list"));
        };
        if items.is_empty() {
            return Err(bad("bizTransactionList", "must not be empty"));
        }
        for (n, item) in items.iter().enumerate() {
            let field = format!("bizTransactionList/{n}");
            if !item.get("bizTransaction").is_some_and(is_identifier) {
                return Err(Invalid::new(Some(i), field, "needs a bizTransaction URI"));
            }
            if let Some(kind) = item.get("type") {
                vocabulary(
                    i,
                    &format!("{field}/type"),
                    kind,
                    "BTT",
                    BIZ_TRANSACTION_TYPES,
                )?;
            }
        }
    }
    for (list_name, member) in [("sourceList", "source"), ("destinationList", "destination")] {
        let Some(list) = event.get(list_name) else {
            continue;
        };
        let Value::Array(items) = list else {
            return Err(bad(list_name, "must be a list"));
        };
        for (n, item) in items.iter().enumerate() {
            let field = format!("{list_name}/{n}");
            if !item.get(member).is_some_and(is_identifier) {
                return Err(Invalid::new(
                    Some(i),
                    field,
                    format!("needs a {member} URI"),
                ));
            }
            let kind = item
                .get("type")
                .ok_or_else(|| Invalid::new(Some(i), format!("{field}/type"), "missing type"))?;
            vocabulary(i, &format!("{field}/type"), kind, "SDT", SOURCE_DEST_TYPES)?;
        }
    }
    if let Some(declaration) = event.get("errorDeclaration")
        && declaration
            .get("declarationTime")
            .and_then(Value::as_str)
            .is_none_or(|t| parse_time(t).is_none())
    {
        return Err(bad(
            "errorDeclaration/declarationTime",
            "an errorDeclaration needs an RFC 3339 declarationTime",
        ));
    }
    if let Some(ilmd) = event.get("ilmd") {
        let Value::Object(ilmd) = ilmd else {
            return Err(bad("ilmd", "must be an object"));
        };
        hc_fields(i, "ilmd/", ilmd, hc_declared)?;
    }
    hc_fields(i, "", event, hc_declared)?;
    Ok(())
}

/// Checks the `hc:` extension fields of an object (the event or its `ilmd`).
fn hc_fields(
    i: usize,
    path: &str,
    object: &Map<String, Value>,
    declared: bool,
) -> Result<(), Invalid> {
    for (key, value) in object {
        let Some(name) = key.strip_prefix("hc:") else {
            continue;
        };
        let field = format!("{path}{key}");
        if !declared {
            return Err(Invalid::new(
                Some(i),
                field,
                "the hc: prefix is not declared in @context",
            ));
        }
        let text = || {
            value
                .as_str()
                .ok_or_else(|| Invalid::new(Some(i), format!("{path}{key}"), "must be a string"))
        };
        let check = |result: Result<(), String>| {
            result.map_err(|detail| Invalid::new(Some(i), format!("{path}{key}"), detail))
        };
        match name {
            "unNumber" => check(
                idnode_templates::validators::un_number(text()?)
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
            )?,
            "casNumber" => {
                check(idnode_templates::validators::cas(text()?).map_err(|e| e.to_string()))?
            }
            "packingGroup" => check(
                idnode_templates::validators::packing_group(text()?)
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
            )?,
            "ewaybill" => {
                check(idnode_templates::validators::waybill_no(text()?).map_err(|e| e.to_string()))?
            }
            "quantity" => check(if is_decimal(text()?) {
                Ok(())
            } else {
                Err("a quantity is a decimal string such as \"200\" or \"12.5\"".to_owned())
            })?,
            "quantityUnit" => {
                let unit = text()?;
                if unit.is_empty()
                    || unit.len() > 3
                    || !unit.bytes().all(|b| b.is_ascii_alphanumeric())
                {
                    return Err(Invalid::new(
                        Some(i),
                        field,
                        "a quantity unit is a UN/CEFACT Rec. 20 code such as KGM or LTR",
                    ));
                }
            }
            "lifecycle" => check(if LIFECYCLES.contains(&text()?) {
                Ok(())
            } else {
                Err(
                    "lifecycle must be one of produced, packed, stored, sold, transported, \
                     used, disposed, incident"
                        .to_owned(),
                )
            })?,
            _ => {}
        }
    }
    Ok(())
}

/// Checks a CBV value: a bare value from `allowed`, its CBV Web URI or URN, or any other
/// absolute URI (a user vocabulary).
fn vocabulary(
    i: usize,
    field: &str,
    value: &Value,
    web_kind: &str,
    allowed: &[&str],
) -> Result<(), Invalid> {
    let Some(text) = value.as_str() else {
        return Err(Invalid::new(Some(i), field, "must be a string"));
    };
    match cbv_bare(text, web_kind) {
        Some(bare) if allowed.contains(&bare) => Ok(()),
        Some(_) => Err(Invalid::new(
            Some(i),
            field,
            format!("{text:?} is not a CBV 2.0 value"),
        )),
        None if text.contains(':') && !text.contains(char::is_whitespace) => Ok(()),
        None => Err(Invalid::new(
            Some(i),
            field,
            format!("{text:?} is not a CBV 2.0 value"),
        )),
    }
}

/// The bare CBV value of `text` if it is bare or in one of the CBV URI forms of `web_kind`
/// (`BizStep`, `Disp`, `BTT`, `SDT`); `None` for other URIs.
pub fn cbv_bare<'a>(text: &'a str, web_kind: &str) -> Option<&'a str> {
    if !text.contains(':') {
        return Some(text);
    }
    let urn_kind = match web_kind {
        "BizStep" => "bizstep",
        "Disp" => "disp",
        "BTT" => "btt",
        "SDT" => "sdt",
        _ => return None,
    };
    for prefix in ["https://ref.gs1.org/cbv/", "http://ref.gs1.org/cbv/"] {
        if let Some(rest) = text.strip_prefix(prefix) {
            return rest.strip_prefix(web_kind)?.strip_prefix('-');
        }
    }
    text.strip_prefix("urn:epcglobal:cbv:")?
        .strip_prefix(urn_kind)?
        .strip_prefix(':')
}

fn id_list(i: usize, field: &str, value: &Value) -> Result<(), Invalid> {
    let Value::Array(items) = value else {
        return Err(Invalid::new(Some(i), field, "must be a list"));
    };
    for (n, item) in items.iter().enumerate() {
        if !is_identifier(item) {
            return Err(Invalid::new(
                Some(i),
                format!("{field}/{n}"),
                "must be a non-empty URI",
            ));
        }
    }
    Ok(())
}

fn quantity_list(i: usize, field: &str, value: &Value) -> Result<(), Invalid> {
    let Value::Array(items) = value else {
        return Err(Invalid::new(Some(i), field, "must be a list"));
    };
    for (n, item) in items.iter().enumerate() {
        let path = format!("{field}/{n}");
        if !item.get("epcClass").is_some_and(is_identifier) {
            return Err(Invalid::new(Some(i), path, "needs an epcClass URI"));
        }
        if let Some(quantity) = item.get("quantity")
            && !quantity.as_f64().is_some_and(|q| q >= 0.0)
        {
            return Err(Invalid::new(
                Some(i),
                format!("{path}/quantity"),
                "must be a non-negative number",
            ));
        }
        if let Some(uom) = item.get("uom")
            && !uom.as_str().is_some_and(|u| !u.is_empty() && u.len() <= 3)
        {
            return Err(Invalid::new(
                Some(i),
                format!("{path}/uom"),
                "must be a UN/CEFACT Rec. 20 code",
            ));
        }
    }
    Ok(())
}

/// An identifier: a string with a scheme (`urn:`, `https:`, `hdl:` …) and no white space.
fn is_identifier(value: &Value) -> bool {
    value.as_str().is_some_and(|s| {
        !s.is_empty() && s.len() <= 2048 && s.contains(':') && !s.contains(char::is_whitespace)
    })
}

fn is_extension_name(key: &str) -> bool {
    key.split_once(':')
        .is_some_and(|(prefix, local)| !prefix.is_empty() && !local.is_empty())
}

fn string<'a>(event: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    event.get(field).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn context() -> Value {
        json!(["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"hc": "https://ns.example.org/hazchem/"}])
    }

    fn object_event() -> Map<String, Value> {
        let Value::Object(map) = json!({
            "type": "ObjectEvent",
            "eventTime": "2026-01-01T08:00:00+08:00",
            "eventTimeZoneOffset": "+08:00",
            "epcList": ["hdl:88.118.8/drum-1"],
            "action": "ADD",
            "bizStep": "commissioning",
            "disposition": "active",
            "ilmd": {"hc:unNumber": "UN1090", "hc:casNumber": "67-64-1", "hc:packingGroup": "II"},
            "hc:quantity": "200.5",
            "hc:ewaybill": "WB2026010100001",
        }) else {
            unreachable!()
        };
        map
    }

    fn field_of(event: Map<String, Value>) -> String {
        validate_event(3, &event, &context()).unwrap_err().field
    }

    #[test]
    fn accepts_a_hazchem_object_event() {
        validate_event(0, &object_event(), &context()).unwrap();
    }

    #[test]
    fn names_the_failing_field() {
        let mut event = object_event();
        event.insert("bizStep".into(), json!("shippin"));
        assert_eq!(field_of(event), "bizStep");
        let mut event = object_event();
        event.insert(
            "bizStep".into(),
            json!("urn:epcglobal:cbv:bizstep:shipping"),
        );
        validate_event(0, &event, &context()).unwrap();
        event.insert(
            "bizStep".into(),
            json!("https://ref.gs1.org/cbv/BizStep-nope"),
        );
        assert_eq!(field_of(event), "bizStep");
        let mut event = object_event();
        event.remove("epcList");
        assert_eq!(field_of(event), "epcList");
        let mut event = object_event();
        event.insert("action".into(), json!("ADDED"));
        assert_eq!(field_of(event), "action");
        let mut event = object_event();
        event["ilmd"]["hc:casNumber"] = json!("67-64-2");
        assert_eq!(field_of(event), "ilmd/hc:casNumber");
        let mut event = object_event();
        event.insert("hc:quantity".into(), json!(200));
        assert_eq!(field_of(event), "hc:quantity");
        let mut event = object_event();
        event.insert("colour".into(), json!("red"));
        assert_eq!(field_of(event), "colour");
        let mut event = object_event();
        event.insert("eventTime".into(), json!("2026-01-01 08:00"));
        assert_eq!(field_of(event), "eventTime");
        let event = object_event();
        let err = validate_event(
            1,
            &event,
            &json!("https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"),
        )
        .unwrap_err();
        assert_eq!(
            (err.event, err.field.as_str()),
            (Some(1), "ilmd/hc:unNumber")
        );
    }

    #[test]
    fn checks_required_fields_per_type() {
        let base = |kind: &str| {
            let mut event = object_event();
            event.insert("type".into(), json!(kind));
            event
        };
        let mut aggregation = base("AggregationEvent");
        aggregation.insert("childEPCs".into(), json!(["urn:epc:id:sgtin:1.2.3"]));
        assert_eq!(field_of(aggregation.clone()), "parentID");
        aggregation.insert("parentID".into(), json!("urn:epc:id:sscc:1.2"));
        validate_event(0, &aggregation, &context()).unwrap();
        let mut transaction = base("TransactionEvent");
        assert_eq!(field_of(transaction.clone()), "bizTransactionList");
        transaction.insert(
            "bizTransactionList".into(),
            json!([{"type": "bol", "bizTransaction": "urn:x:bol:1"}]),
        );
        validate_event(0, &transaction, &context()).unwrap();
        transaction.insert(
            "bizTransactionList".into(),
            json!([{"type": "boll", "bizTransaction": "urn:x:bol:1"}]),
        );
        assert_eq!(field_of(transaction), "bizTransactionList/0/type");
        let mut transformation = base("TransformationEvent");
        assert_eq!(field_of(transformation.clone()), "action");
        transformation.remove("action");
        assert_eq!(field_of(transformation.clone()), "inputEPCList");
        transformation.insert("transformationID".into(), json!("urn:x:t:1"));
        validate_event(0, &transformation, &context()).unwrap();
        let mut association = base("AssociationEvent");
        association.insert("childEPCs".into(), json!(["urn:x:sensor:1"]));
        assert_eq!(field_of(association.clone()), "parentID");
        let mut sources = object_event();
        sources.insert(
            "sourceList".into(),
            json!([{"type": "owner", "source": "urn:x:p"}]),
        );
        assert_eq!(field_of(sources), "sourceList/0/type");
    }

    #[test]
    fn documents_are_split_and_checked() {
        let doc = json!({
            "@context": context(),
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": "2026-01-01T00:00:00Z",
            "epcisBody": {"eventList": [Value::Object(object_event())]},
        });
        let captured = split_document(&doc, 10).unwrap();
        assert_eq!(captured.events.len(), 1);
        assert!(declares_prefix(captured.context, "hc"));
        let mut bad = doc.clone();
        bad["schemaVersion"] = json!("1.2");
        assert_eq!(split_document(&bad, 10).unwrap_err().field, "schemaVersion");
        assert_eq!(
            split_document(&doc, 0).unwrap_err().field,
            "epcisBody/eventList"
        );
        let mut single = Value::Object(object_event());
        single["@context"] = context();
        assert_eq!(split_document(&single, 10).unwrap().events.len(), 1);
    }

    #[test]
    fn times_parse_with_offsets() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_time("1970-01-01T08:00:00.5+08:00"), Some(500));
        assert_eq!(
            parse_time("2026-01-01T08:00:00+08:00"),
            parse_time("2026-01-01T00:00:00.000Z")
        );
        assert_eq!(parse_time("2026-01-01T00:00:00"), None);
        assert_eq!(parse_time("2026-13-01T00:00:00Z"), None);
        assert!(
            is_decimal("12.50") && !is_decimal("1e3") && !is_decimal("-1") && !is_decimal("1.")
        );
    }

    proptest::proptest! {
        #[test]
        fn parse_time_never_panics(text in "\\PC{0,40}") {
            let _ = parse_time(&text);
        }
    }
}
