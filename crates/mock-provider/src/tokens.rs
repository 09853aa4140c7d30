//! OAuth token endpoints, as Google and Entra ID answer them, so server-side credentials
//! are exercised end to end: Google's JWT-bearer grant (`POST /token`, the `token_uri` a
//! test's service-account key names) and Entra ID's client-credentials grant
//! (`POST /{tenant}/oauth2/v2.0/token`). Tokens the mock issued are the only bearer tokens
//! its Vertex AI route accepts.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use base64::Engine;
use serde_json::{json, Value};

use crate::{reply, MockState};

/// Access tokens handed out so far.
#[derive(Default)]
pub struct Issued(Mutex<HashSet<String>>);

impl Issued {
    fn issue(&self, prefix: &str) -> String {
        let token = format!("{prefix}mock-{:016x}", reply::rand_id());
        if let Ok(mut issued) = self.0.lock() {
            issued.insert(token.clone());
        }
        token
    }

    /// Whether `token` was issued here.
    pub fn contains(&self, token: &str) -> bool {
        self.0.lock().is_ok_and(|issued| issued.contains(token))
    }
}

fn oauth_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// The claims of a JWT, unverified (the mock has no key to check the signature with).
fn jwt_claims(jwt: &str) -> Option<Value> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// `POST /token`: Google's JWT-bearer grant.
pub async fn google(
    State(state): State<Arc<MockState>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if form.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return oauth_error("unsupported_grant_type", "expected the JWT-bearer grant");
    }
    let Some(claims) = form.get("assertion").and_then(|a| jwt_claims(a)) else {
        return oauth_error("invalid_grant", "the assertion is not a JWT");
    };
    let complete = ["iss", "aud", "scope", "iat", "exp"]
        .iter()
        .all(|k| !claims[*k].is_null());
    if !complete
        || !claims["scope"]
            .as_str()
            .unwrap_or_default()
            .contains("cloud-platform")
    {
        return oauth_error(
            "invalid_grant",
            "the assertion lacks iss, aud, scope or times",
        );
    }
    let token = state.issued.issue("ya29.");
    Json(json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})).into_response()
}

/// `POST /{tenant}/oauth2/v2.0/token`: Entra ID's client-credentials grant.
pub async fn entra(
    State(state): State<Arc<MockState>>,
    Path(_tenant): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    if field("grant_type") != "client_credentials" {
        return oauth_error("unsupported_grant_type", "expected client_credentials");
    }
    if field("client_id").is_empty() || field("client_secret").is_empty() {
        return oauth_error("invalid_client", "client_id and client_secret are required");
    }
    if field("scope") != "https://cognitiveservices.azure.com/.default" {
        return oauth_error("invalid_scope", "expected the Cognitive Services scope");
    }
    let token = state.issued.issue("eyJ0.");
    Json(
        json!({"access_token": token, "expires_in": 3599, "ext_expires_in": 3599,
                "token_type": "Bearer"}),
    )
    .into_response()
}
