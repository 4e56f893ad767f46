//! The bodies of the SNMS identifier operations as data, before anything is looked up: a
//! register or update item ([`DataBody`]), a batch (a JSON array of at most [`MAX_BATCH`]
//! items), and the handle values an item's `value` list stands for. Pure functions, so that
//! they are fuzzed on their own (`idnode::fuzzing::snms_body`).

use idnode_proto::{HandleValue, Permissions};
use idnode_templates::TEMPLATE_INDEX;
use serde::Deserialize;
use serde_json::Value;

use super::MAX_BATCH;

/// One value of a register or update body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ValueItem {
    index: u32,
    #[serde(rename = "type")]
    value_type: String,
    data: ValueData,
    #[serde(default)]
    auth: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ValueData {
    format: String,
    value: String,
}

/// A register or update body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct DataBody {
    pub(crate) handle: String,
    pub(crate) template_version: String,
    #[serde(default)]
    pub(crate) value: Vec<ValueItem>,
}

/// The items of a batch body, or why it is refused.
pub(crate) fn batch_items(body: Value) -> Result<Vec<Value>, String> {
    let Value::Array(items) = body else {
        return Err("a batch body is a JSON array".to_owned());
    };
    if items.len() > MAX_BATCH {
        return Err(format!(
            "a batch holds at most {MAX_BATCH} items, not {}",
            items.len()
        ));
    }
    Ok(items)
}

/// A register or update item, or why it is refused.
pub(crate) fn parse_item(item: Value) -> Result<DataBody, String> {
    serde_json::from_value(item).map_err(|e| format!("malformed item: {e}"))
}

/// The handle values of an item's `value` list (the template link is the caller's): strings
/// only, `auth` empty or `public` for public values and `admin` for administrator-only ones,
/// and never index 1001, which holds the template link.
pub(crate) fn item_values(body: &DataBody) -> Result<Vec<HandleValue>, String> {
    let mut values = Vec::with_capacity(body.value.len());
    for item in &body.value {
        if item.index == TEMPLATE_INDEX {
            return Err(
                "非法操作: index 1001 holds the template link; name the template with templateVersion"
                    .to_owned(),
            );
        }
        if item.data.format != "string" {
            return Err(format!(
                "index {}: data.format must be string, not {}",
                item.index, item.data.format
            ));
        }
        let mut value =
            HandleValue::new(item.index, item.value_type.clone(), item.data.value.clone());
        value.permissions = match item.auth.as_str() {
            "" | "public" => Permissions::DEFAULT,
            "admin" => Permissions(Permissions::ADMIN_READ | Permissions::ADMIN_WRITE),
            other => {
                return Err(format!(
                    "index {}: auth must be empty, public or admin, not {other}",
                    item.index
                ));
            }
        };
        values.push(value);
    }
    Ok(values)
}
