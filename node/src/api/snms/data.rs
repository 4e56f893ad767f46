//! Identifier operations (标识操作接口, reference design §6.2): resolve, register, update and
//! delete, one at a time or in batches of up to 2000 with a result per item.
//!
//! A body names its template with `templateVersion`: `name@version` (`hazchem.product@1`), or
//! a name alone for the latest version. The node writes the index-1001 `TEMPLATE` link itself;
//! a body that writes index 1001 is refused, as in SNMS. Values are strings (`data.format` must
//! be `string`); `auth` is empty or `public` for publicly readable values and `admin` for values
//! that only administrators (and auditors) read. Registering a handle that exists with exactly
//! the same content succeeds without writing anything, so clients may retry after a timeout.
//! An update keeps the values below index 2000 that it does not name and replaces the rest, as
//! one resolver operation under the record's version precondition.

use bytes::Bytes;
use http::Response;
use http_body_util::Full;
use idnode_proto::{Handle, HandleValue, Record, ResponseCode, TypeFilter};
use idnode_resolver::domain::prefix_of;
use idnode_resolver::{Operation, Outcome, Request};
use idnode_templates::{TEMPLATE_INDEX, TEMPLATE_TYPE, parse_link};
use serde_json::{Value, json};

use super::Snms;
use super::body::{DataBody, batch_items, item_values, parse_item};
use super::{Call, Status, business, failure, failure_message, ok};

/// The outcome of one item: a message, or an envelope status with a message.
type ItemResult = Result<String, (Status, String)>;

pub(super) async fn route(call: &Call<'_>, method: &str, path: &str) -> Response<Full<Bytes>> {
    match (method, path) {
        ("GET", "/identityv2/data/detail") => detail(call).await,
        ("POST", "/identityv2/data") => single(call, Kind::Create).await,
        ("PUT", "/identityv2/data") => single(call, Kind::Update).await,
        ("DELETE", "/identityv2/data") => single(call, Kind::Delete).await,
        ("POST", "/identityv2/data/batchCreate") => batch(call, Kind::Create).await,
        ("PUT", "/identityv2/data/batchUpdate") => batch(call, Kind::Update).await,
        ("DELETE", "/identityv2/data/batchDelete") => batch(call, Kind::Delete).await,
        _ => business(format!("unknown endpoint {method} {path}")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Create,
    Update,
    Delete,
}

async fn single(call: &Call<'_>, kind: Kind) -> Response<Full<Bytes>> {
    let body = match call.json() {
        Ok(body) => body,
        Err(response) => return response,
    };
    let handle = handle_of(kind, &body);
    let result = match request_of(call, kind, body) {
        Ok(request) => item_result(kind, call.state.resolver.handle(request).await),
        Err(refused) => Err(refused),
    };
    match result {
        Ok(message) => super::envelope(Status::Ok, &message, json!({"handle": handle})),
        Err((status, message)) => super::envelope(status, &message, json!({"handle": handle})),
    }
}

/// The handle an item names, for per-item results.
fn handle_of(kind: Kind, item: &Value) -> String {
    let named = match kind {
        Kind::Delete => item.as_str().map(str::to_owned).or_else(|| {
            item.get("handle")
                .and_then(Value::as_str)
                .map(str::to_owned)
        }),
        _ => item
            .get("handle")
            .and_then(Value::as_str)
            .map(str::to_owned),
    };
    named.unwrap_or_default()
}

/// A batch: every item that parses becomes a request, and the requests run together through
/// [`Resolver::handle_batch`](idnode_resolver::Resolver::handle_batch), which commits the
/// registrations of consecutive items in one transaction and answers each item as if it had
/// run alone.
async fn batch(call: &Call<'_>, kind: Kind) -> Response<Full<Bytes>> {
    let body = match call.json() {
        Ok(body) => body,
        Err(response) => return response,
    };
    let items = match batch_items(body) {
        Ok(items) => items,
        Err(refused) => return business(refused),
    };
    let total = items.len();
    let handles: Vec<String> = items.iter().map(|item| handle_of(kind, item)).collect();
    let mut results: Vec<Option<ItemResult>> = (0..total).map(|_| None).collect();
    let mut requests = Vec::with_capacity(total);
    let mut positions = Vec::with_capacity(total);
    for (position, item) in items.into_iter().enumerate() {
        match request_of(call, kind, item) {
            Ok(request) => {
                requests.push(request);
                positions.push(position);
            }
            Err(refused) => results[position] = Some(Err(refused)),
        }
    }
    let outcomes = call.state.resolver.handle_batch(&requests, None).await;
    for (position, outcome) in positions.into_iter().zip(outcomes) {
        results[position] = Some(item_result(kind, outcome));
    }
    let mut failed = 0;
    let per_item: Vec<Value> = results
        .into_iter()
        .zip(handles)
        .map(|(result, handle)| {
            let result = result.unwrap_or_else(|| Err((Status::Internal, "internal error".into())));
            match result {
                Ok(msg) => json!({"handle": handle, "code": 1, "msg": msg}),
                Err((status, msg)) => {
                    failed += 1;
                    json!({"handle": handle, "code": status.code(), "msg": msg})
                }
            }
        })
        .collect();
    super::envelope(
        Status::Ok,
        &format!("{} succeeded, {failed} failed", total - failed),
        Value::Array(per_item),
    )
}

/// The values below this index are kept by an update (administrators, keys, URLs); the
/// template items at and above it are replaced.
const UPDATE_KEEPS_BELOW: u32 = 2000;

/// The resolver request of one register, update or delete item, or why it is refused.
fn request_of(call: &Call<'_>, kind: Kind, item: Value) -> Result<Request, (Status, String)> {
    let resolver = &call.state.resolver;
    let to_err = |f: idnode_resolver::Failure| (Status::of(&f), failure_message(&f));
    let op = if kind == Kind::Delete {
        let text = handle_of(kind, &item);
        let handle = resolver.parse_handle(&text).map_err(to_err)?;
        Operation::Delete { handle }
    } else {
        let body = parse_item(item).map_err(|e| (Status::Business, e))?;
        let handle = resolver.parse_handle(&body.handle).map_err(to_err)?;
        let values = values_of(call.state, &body)?;
        match kind {
            Kind::Create => Operation::Register { handle, values },
            _ => Operation::Update {
                handle,
                values,
                keep_below: UPDATE_KEEPS_BELOW,
            },
        }
    };
    Ok(Request {
        op,
        identity: call.identity.cloned(),
        now: call.now,
    })
}

/// The per-item answer of a resolver result.
fn item_result(kind: Kind, result: Result<Outcome, idnode_resolver::Failure>) -> ItemResult {
    match (kind, result) {
        (_, Ok(Outcome::Unchanged { .. })) => {
            Ok("标识已存在 (already registered with identical content)".to_owned())
        }
        (Kind::Create, Ok(_)) => Ok("created".to_owned()),
        (Kind::Update, Ok(_)) => Ok("updated".to_owned()),
        (Kind::Delete, Ok(_)) => Ok("deleted".to_owned()),
        (Kind::Create, Err(f)) if f.rc == ResponseCode::HandleAlreadyExists => Err((
            Status::Business,
            "标识已存在 (the handle exists with other content)".to_owned(),
        )),
        (Kind::Update, Err(f)) if f.rc == ResponseCode::HandleNotFound => {
            Err((Status::Business, "标识不存在 (no such handle)".to_owned()))
        }
        (_, Err(f)) => Err((Status::of(&f), failure_message(&f))),
    }
}

/// The values of a body: the template link, then the items.
fn values_of(state: &Snms, body: &DataBody) -> Result<Vec<HandleValue>, (Status, String)> {
    let bad = |m: String| (Status::Business, m);
    let (name, version) = match parse_link(&body.template_version) {
        Some((name, version)) => (name, Some(version)),
        None => (body.template_version.as_str(), None),
    };
    let template = state
        .resolver
        .template(name, version)
        .map_err(|f| (Status::of(&f), failure_message(&f)))?
        .ok_or_else(|| bad(format!("template {} does not exist", body.template_version)))?;
    let mut values = vec![template.template.link_value()];
    values.extend(item_values(body).map_err(bad)?);
    Ok(values)
}

/// `GET /identityv2/data/detail?handle=`.
async fn detail(call: &Call<'_>) -> Response<Full<Bytes>> {
    let Some(text) = call.query.get("handle") else {
        return business("the handle parameter is required");
    };
    let handle: Handle = match call.state.resolver.parse_handle(text) {
        Ok(handle) => handle,
        Err(f) => return failure(&f),
    };
    let result = call
        .state
        .resolver
        .handle(Request {
            op: Operation::Resolve {
                handle: handle.clone(),
                filter: TypeFilter::default(),
                public_only: call.identity.is_none(),
                refer: true,
                recurse: None,
            },
            identity: call.identity.cloned(),
            now: call.now,
        })
        .await;
    let values = match result {
        Ok(Outcome::Values { values, .. }) => values,
        Ok(_) => return super::envelope(Status::Internal, "unexpected outcome", Value::Null),
        Err(f) => return failure(&f),
    };
    let Ok(record) = Record::parse(&values).and_then(|r| r.decode_all()) else {
        return super::envelope(Status::Internal, "stored record is corrupt", Value::Null);
    };
    let mut template_version = Value::Null;
    let items: Vec<Value> = record
        .iter()
        .map(|v| {
            if v.index == TEMPLATE_INDEX && v.has_type(TEMPLATE_TYPE) {
                template_version = Value::String(String::from_utf8_lossy(&v.data).into_owned());
            }
            let (format, text) = match std::str::from_utf8(&v.data) {
                Ok(text) => ("string", text.to_owned()),
                Err(_) => (
                    "base64",
                    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &v.data),
                ),
            };
            json!({
                "index": v.index,
                "type": v.value_type,
                "data": {"format": format, "value": text},
                "auth": if v.permissions.public_read() { "" } else { "admin" },
            })
        })
        .collect();
    ok(json!({
        "prefix": prefix_of(handle.as_str()),
        "handle": handle.as_str(),
        "templateVersion": template_version,
        "value": items,
    }))
}
