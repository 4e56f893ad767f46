//! Templates (`/snms/api/v5/template`), enterprise onboarding (`/snms/api/v3/ent/…`,
//! `/snms/api/prefix/query`) and the audit log (`/snms/api/v5/audit`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::Response;
use http_body_util::Full;
use idnode_resolver::{
    Application, AuditCursor, AuditQuery, EntState, Enterprise, Review, StoredTemplate,
};
use idnode_templates::Template;
use rand::RngCore as _;
use rand::rngs::OsRng;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Call, business, failure, ok};

fn template_json(stored: &StoredTemplate) -> Value {
    let mut value = serde_json::to_value(stored).unwrap_or(Value::Null);
    // The SNMS split of the industry class, for clients that expect it.
    if let (Some(levels), Value::Object(map)) = (stored.template.industry_levels(), &mut value) {
        map.insert(
            "industry".to_owned(),
            json!({"industryCategory": levels[0], "industrySpecific": levels[1],
                   "industryTrade": levels[2], "industrySubclass": levels[3]}),
        );
        map.insert("link".to_owned(), Value::String(stored.template.link()));
    }
    value
}

/// `GET|POST|PUT|DELETE /snms/api/v5/template`.
pub(super) async fn template(call: &Call<'_>, method: &str) -> Response<Full<Bytes>> {
    let resolver = &call.state.resolver;
    match method {
        "GET" => {
            if let Some(name) = call.query.get("name") {
                let version = call.query.number::<u32>("version");
                return match resolver.template(name, version) {
                    Ok(Some(stored)) => ok(template_json(&stored)),
                    Ok(None) => business(format!("no template {name}")),
                    Err(f) => failure(&f),
                };
            }
            match resolver.templates(call.query.get("prefix")) {
                Ok(all) => ok(Value::Array(all.iter().map(template_json).collect())),
                Err(f) => failure(&f),
            }
        }
        "POST" | "PUT" => {
            let text = String::from_utf8_lossy(call.body);
            let template = match Template::from_json(&text) {
                Ok(template) => template,
                Err(e) => return business(e.to_string()),
            };
            let result = if method == "POST" {
                resolver
                    .create_template(call.identity, template, call.now)
                    .await
            } else {
                resolver
                    .evolve_template(call.identity, template, call.now)
                    .await
            };
            match result {
                Ok(stored) => ok(template_json(&stored)),
                Err(f) => failure(&f),
            }
        }
        "DELETE" => {
            let (Some(name), Some(version)) =
                (call.query.get("name"), call.query.number::<u32>("version"))
            else {
                return business("name and version are required");
            };
            match resolver
                .withdraw_template(call.identity, name, version, call.now)
                .await
            {
                Ok(stored) => ok(template_json(&stored)),
                Err(f) => failure(&f),
            }
        }
        _ => business(format!("{method} is not supported here")),
    }
}

fn enterprise_json(ent: &Enterprise) -> Value {
    let mut value = serde_json::to_value(ent).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.insert("stateCode".to_owned(), json!(ent.state.code()));
    }
    value
}

/// `POST /snms/api/v3/ent/apply`: anyone may apply.
pub(super) async fn apply(call: &Call<'_>) -> Response<Full<Bytes>> {
    let app: Application = match serde_json::from_slice(call.body) {
        Ok(app) => app,
        Err(e) => return business(format!("malformed application: {e}")),
    };
    match call
        .state
        .resolver
        .apply_enterprise(call.identity, app, call.now)
        .await
    {
        Ok(ent) => ok(enterprise_json(&ent)),
        Err(f) => failure(&f),
    }
}

/// `GET /snms/api/v3/ent/page?state=&page=&size=`.
pub(super) fn enterprise_page(call: &Call<'_>) -> Response<Full<Bytes>> {
    let state = match call.query.get("state") {
        Some(text) => match EntState::parse(text) {
            Some(state) => Some(state),
            None => return business(format!("unknown state {text}")),
        },
        None => None,
    };
    let page = call.query.number::<usize>("page").unwrap_or(0);
    let size = call
        .query
        .number::<usize>("size")
        .unwrap_or(50)
        .clamp(1, 500);
    match call
        .state
        .resolver
        .enterprises(call.identity, state, page.saturating_mul(size), size)
    {
        Ok((total, ents)) => ok(json!({
            "total": total,
            "page": page,
            "size": size,
            "records": ents.iter().map(enterprise_json).collect::<Vec<_>>(),
        })),
        Err(f) => failure(&f),
    }
}

/// `GET /snms/api/v3/ent/detail?uscc=`.
pub(super) fn enterprise_detail(call: &Call<'_>) -> Response<Full<Bytes>> {
    let Some(uscc) = call.query.get("uscc") else {
        return business("the uscc parameter is required");
    };
    match call.state.resolver.enterprise(call.identity, uscc) {
        Ok(ent) => ok(enterprise_json(&ent)),
        Err(f) => failure(&f),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewBody {
    uscc: String,
    action: String,
    #[serde(default)]
    reason: String,
}

/// `POST /snms/api/v3/ent/review` `{uscc, action: start|approve|reject|disable|enable, reason}`.
/// Approving and enabling return the new administrator secret, once.
pub(super) async fn review(call: &Call<'_>) -> Response<Full<Bytes>> {
    let body: ReviewBody = match serde_json::from_slice(call.body) {
        Ok(body) => body,
        Err(e) => return business(format!("malformed review: {e}")),
    };
    let new_secret = || {
        let mut raw = [0u8; 24];
        OsRng.fill_bytes(&mut raw);
        URL_SAFE_NO_PAD.encode(raw)
    };
    let mut secret = None;
    let decision = match body.action.as_str() {
        "start" => Review::Start,
        "reject" => Review::Reject {
            reason: body.reason,
        },
        "disable" => Review::Disable {
            reason: body.reason,
        },
        "approve" | "enable" => {
            let generated = new_secret();
            secret = Some(generated.clone());
            if body.action == "approve" {
                Review::Approve {
                    admin_secret: generated.into_bytes(),
                }
            } else {
                Review::Enable {
                    admin_secret: generated.into_bytes(),
                }
            }
        }
        other => {
            return business(format!(
                "unknown action {other}: start, approve, reject, disable or enable"
            ));
        }
    };
    match call
        .state
        .resolver
        .review_enterprise(call.identity, &body.uscc, decision, call.now)
        .await
    {
        Ok(ent) => {
            let mut data = enterprise_json(&ent);
            if let (Some(secret), Value::Object(map)) = (secret, &mut data) {
                // Shown once: only its sealed form is stored.
                map.insert("adminSecret".to_owned(), Value::String(secret));
            }
            ok(data)
        }
        Err(f) => failure(&f),
    }
}

/// `GET /snms/api/prefix/query?prefix=`: who requested or holds a prefix, and its state.
pub(super) fn prefix_query(call: &Call<'_>) -> Response<Full<Bytes>> {
    let Some(prefix) = call.query.get("prefix") else {
        return business("the prefix parameter is required");
    };
    match call
        .state
        .resolver
        .enterprise_of_prefix(call.identity, prefix)
    {
        Ok(ent) => ok(json!({
            "prefix": ent.application.prefix,
            "uscc": ent.application.uscc,
            "orgName": ent.application.org_name,
            "state": ent.state,
            "stateCode": ent.state.code(),
        })),
        Err(f) => failure(&f),
    }
}

/// `GET /snms/api/v5/audit?actor=&prefix=&action=&from=&to=&after=&limit=`.
pub(super) fn audit(call: &Call<'_>) -> Response<Full<Bytes>> {
    let q = call.query;
    let after = match q.get("after") {
        Some(text) => match AuditCursor::parse(text) {
            Some(cursor) => Some(cursor),
            None => return business("after must be a cursor from a previous page"),
        },
        None => None,
    };
    let query = AuditQuery {
        actor: q.get("actor").map(str::to_owned),
        prefix: q.get("prefix").map(str::to_owned),
        action: q.get("action").map(str::to_owned),
        from: q.number("from"),
        to: q.number("to"),
        after,
        limit: q.number("limit").unwrap_or(100),
    };
    match call.state.resolver.audit_log(call.identity, &query) {
        Ok(page) => ok(json!({
            "events": page.events,
            "next": page.next.map(AuditCursor::to_text),
        })),
        Err(f) => failure(&f),
    }
}
