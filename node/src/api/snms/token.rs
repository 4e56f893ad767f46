//! `POST /identity/token`: credentials for a Bearer token valid 24 hours.
//!
//! The username is an identity `index:handle` (`300:88.118.8/ADMIN`), or a handle alone, which
//! means index 300; the password is its `HS_SECKEY` secret. A token is 32 random bytes in
//! unpadded base64url; the resolver keeps only its SHA-256 ([`idnode_resolver::tokens`]). A
//! token stops working when it expires, on logout (`DELETE /identity/token`), and when its
//! identity's secret key changes in any way (replaced, removed when an enterprise is disabled,
//! given anew when it is enabled).

use bytes::Bytes;
use http::Response;
use http_body_util::Full;
use idnode_proto::ValueRef;
use serde::Deserialize;
use serde_json::json;

use super::{Call, Status, business, envelope, ok};
use crate::http::auth::LoginRefused;

/// How long a token is valid (SNMS: 24 h).
pub(crate) const TOKEN_LIFETIME_SECS: u32 = 24 * 60 * 60;

/// The default key index of a username without one.
const DEFAULT_KEY_INDEX: u32 = 300;

#[derive(Deserialize)]
struct Login {
    username: String,
    password: String,
}

/// The identity a username names.
fn identity_of(username: &str) -> Option<ValueRef> {
    ValueRef::parse(username).or_else(|| {
        username.contains('/').then(|| ValueRef {
            handle: username.to_owned(),
            index: DEFAULT_KEY_INDEX,
        })
    })
}

/// `POST /identity/token`.
pub(super) async fn issue(call: &Call<'_>) -> Response<Full<Bytes>> {
    let login: Login = match serde_json::from_slice(call.body) {
        Ok(login) => login,
        Err(_) => {
            return business("expected {\"username\": \"300:PREFIX/ADMIN\", \"password\": \"…\"}");
        }
    };
    let Some(id) = identity_of(&login.username) else {
        return business("the username must be an identity such as 300:88.118.8/ADMIN");
    };
    // A password counts only where Basic credentials would (handle-rest-api.md §1).
    if !crate::http::auth::credentials_allowed(call.state, call.conn) {
        return envelope(
            Status::NotLoggedIn,
            "passwords are accepted over HTTPS only",
            serde_json::Value::Null,
        );
    }
    let secret = login.password.into_bytes();
    let identity =
        match crate::http::auth::check_password(&call.state.http, call.conn, id, secret).await {
            Ok(identity) => identity,
            Err(LoginRefused::Throttled(wait)) => {
                return envelope(
                    Status::NotLoggedIn,
                    &format!(
                        "too many failed logins; try again in {} s",
                        wait.as_secs().max(1)
                    ),
                    serde_json::Value::Null,
                );
            }
            Err(LoginRefused::Wrong) => {
                return envelope(
                    Status::NotLoggedIn,
                    "wrong username or password",
                    serde_json::Value::Null,
                );
            }
        };
    let expires = call.now.saturating_add(TOKEN_LIFETIME_SECS);
    match call
        .state
        .resolver
        .issue_token(&identity, expires, call.now)
        .await
    {
        Ok(token) => {
            ok(json!({"token": token, "expiresAt": expires, "identity": identity.to_string()}))
        }
        Err(failure) => {
            tracing::error!(error = %failure, "cannot store a token");
            envelope(
                Status::Internal,
                "cannot store the token",
                serde_json::Value::Null,
            )
        }
    }
}

/// `DELETE /identity/token` with the token as `Authorization: Bearer`: logout. The token stops
/// working at once.
pub(super) async fn revoke(call: &Call<'_>, token: Option<&str>) -> Response<Full<Bytes>> {
    let Some(token) = token else {
        return envelope(
            Status::NotLoggedIn,
            "log out with the token as Authorization: Bearer",
            serde_json::Value::Null,
        );
    };
    match call.state.resolver.revoke_token(token, call.now).await {
        Ok(identity) => ok(json!({"identity": identity.to_string()})),
        Err(failure) => super::failure(&failure),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(
            identity_of("300:88.118.8/ADMIN").map(|r| r.to_string()),
            Some("300:88.118.8/ADMIN".to_owned())
        );
        assert_eq!(
            identity_of("88.118.8/ADMIN").map(|r| r.to_string()),
            Some("300:88.118.8/ADMIN".to_owned())
        );
        assert_eq!(identity_of("admin"), None);
    }
}
