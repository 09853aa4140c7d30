//! The REST API over a real Postgres (`GATEHOUSE_TEST_DATABASE_URL`, started by `make test`):
//! each test gets its own database and an in-process server on an ephemeral port.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use clap::Parser;
use control_plane::{app, prepare, Settings};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

const ADMIN_KEY: &str = "test-admin-key-0123456789abcdef0123456789";
const INTERNAL_SECRET: &str = "test-internal-secret-0123456789abcdef012345";

fn internal_token() -> String {
    api_types::internal::mint_internal_token(INTERNAL_SECRET.as_bytes(), "test", chrono::Utc::now())
        .unwrap()
}

struct Server {
    url: String,
    db: PgPool,
    http: Client,
}

impl Server {
    async fn start() -> Self {
        let base = std::env::var("GATEHOUSE_TEST_DATABASE_URL").expect(
            "GATEHOUSE_TEST_DATABASE_URL must point at a Postgres server; `make test` starts one",
        );
        let (server, _) = base.rsplit_once('/').expect("URL has a database path");
        let url = format!("{server}/cp_test_{}", uuid::Uuid::new_v4().simple());
        let data_dir = tempfile::tempdir().unwrap().keep();
        let settings = Settings::try_parse_from([
            "cp",
            "--admin-api-key",
            ADMIN_KEY,
            "--internal-token-secret",
            INTERNAL_SECRET,
            "--auth-secret",
            "test-auth-secret-0123456789abcdef0123456789",
            "--api-body-limit",
            "64KiB",
            "--data-dir",
            data_dir.to_str().unwrap(),
        ])
        .unwrap();
        let db = control_plane::db::connect(&url).await.unwrap();
        let state = prepare(&settings, db.clone()).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = app(&settings, state);
        tokio::spawn(async move { axum::serve(listener, router).await });
        Server {
            url: format!("http://{addr}"),
            db,
            http: Client::new(),
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(ADMIN_KEY);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn call_with(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
    ) -> (StatusCode, Value) {
        let res = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }
}

#[tokio::test]
async fn requests_without_a_valid_key_get_401_problem_json() {
    let s = Server::start().await;
    for auth in [None, Some("Bearer wrong"), Some("Basic abc")] {
        let mut req = s.http.get(format!("{}/api/v1/profiles", s.url));
        if let Some(auth) = auth {
            req = req.header("authorization", auth);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 401, "{auth:?}");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["status"], 401);
    }
    // Keys are stored hashed: the bootstrap key's text is nowhere in the table.
    let hashes: Vec<Vec<u8>> = sqlx::query_scalar("SELECT key_hash FROM api_keys")
        .fetch_all(&s.db)
        .await
        .unwrap();
    assert_eq!(hashes.len(), 1);
    assert!(!hashes[0]
        .windows(ADMIN_KEY.len())
        .any(|w| w == ADMIN_KEY.as_bytes()));
}

#[tokio::test]
async fn a_new_bootstrap_key_replaces_the_old_one() {
    let s = Server::start().await;
    let rotated = "rotated-admin-key-0123456789abcdef01234567";
    control_plane::db::api_keys::ensure_bootstrap(
        &s.db,
        &control_plane::crypto::hash_token(rotated),
    )
    .await
    .unwrap();
    let status = |key: &'static str| {
        let req = s
            .http
            .get(format!("{}/api/v1/profiles", s.url))
            .bearer_auth(key);
        async move { req.send().await.unwrap().status() }
    };
    assert_eq!(status(rotated).await, 200);
    assert_eq!(
        status(ADMIN_KEY).await,
        401,
        "the previous bootstrap key is revoked"
    );
}

#[tokio::test]
async fn profiles_crud_and_cursor_pagination() {
    let s = Server::start().await;
    let (status, created) = s
        .post(
            "/api/v1/profiles",
            json!({"name": "alpha", "description": "d"}),
        )
        .await;
    assert_eq!(status, 201);
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        s.get(&format!("/api/v1/profiles/{id}")).await.1["name"],
        "alpha"
    );

    let (status, dup) = s.post("/api/v1/profiles", json!({"name": "alpha"})).await;
    assert_eq!(
        (status, dup["status"].clone()),
        (StatusCode::CONFLICT, json!(409))
    );

    let (status, updated) = s
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/profiles/{id}"),
            Some(json!({"name": "beta"})),
        )
        .await;
    assert_eq!(
        (
            status,
            updated["name"].clone(),
            updated["description"].clone()
        ),
        (StatusCode::OK, json!("beta"), Value::Null)
    );

    for i in 0..4 {
        s.post("/api/v1/profiles", json!({"name": format!("p{i}")}))
            .await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/profiles?limit=2&cursor={c}"),
            None => "/api/v1/profiles?limit=2".to_owned(),
        };
        let (status, page) = s.get(&path).await;
        assert_eq!(status, 200);
        seen.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, ["beta", "p0", "p1", "p2", "p3"]);
    assert_eq!(s.get("/api/v1/profiles?limit=0").await.0, 422);

    let (status, _) = s
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/profiles/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(s.get(&format!("/api/v1/profiles/{id}")).await.0, 404);
    assert_eq!(s.get("/api/v1/profiles/not-a-uuid").await.0, 400);
}

#[tokio::test]
async fn bad_bodies_get_problem_json_with_the_right_status() {
    let s = Server::start().await;
    let res = s
        .http
        .post(format!("{}/api/v1/profiles", s.url))
        .bearer_auth(ADMIN_KEY)
        .header("content-type", "application/json")
        .body("{\"name\":")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.headers()["content-type"], "application/problem+json");

    let (status, body) = s
        .post("/api/v1/profiles", json!({"name": "x", "colour": "red"}))
        .await;
    assert_eq!(status, 422, "unknown fields are refused: {body}");
    assert!(body["detail"].as_str().unwrap().contains("colour"));

    let (status, _) = s.post("/api/v1/profiles", json!({"name": ""})).await;
    assert_eq!(status, 422);

    let big = "x".repeat(70 * 1024);
    let (status, _) = s
        .post(
            "/api/v1/profiles",
            json!({"name": "big", "description": big}),
        )
        .await;
    assert_eq!(status, 413);
}

#[tokio::test]
async fn provider_secrets_are_write_only_and_encrypted_at_rest() {
    let s = Server::start().await;
    let secret = "sk-live-super-secret-4242";
    let (status, key) = s
        .post(
            "/api/v1/provider-keys",
            json!({"name": "k", "provider": "openai", "secret": secret}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(key["secret_last_four"], "4242");
    let id = key["id"].as_str().unwrap().to_owned();
    for (_, body) in [
        s.get(&format!("/api/v1/provider-keys/{id}")).await,
        s.get("/api/v1/provider-keys").await,
    ] {
        assert!(!body.to_string().contains(secret), "secret leaked: {body}");
    }
    let stored: Vec<u8> = sqlx::query_scalar("SELECT secret_encrypted FROM provider_keys")
        .fetch_one(&s.db)
        .await
        .unwrap();
    assert!(!stored.windows(secret.len()).any(|w| w == secret.as_bytes()));

    let (status, body) = s
        .post(
            "/api/v1/provider-keys",
            json!({"name": "k2", "provider": "opneai", "secret": "x"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = s
        .post(
            "/api/v1/provider-keys",
            json!({"name": "k3", "provider": "openai", "secret": "a b"}),
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) = s
        .post(
            "/api/v1/provider-keys",
            json!({"name": "k4", "provider": "openai", "secret": "x", "base_url": "ftp://h"}),
        )
        .await;
    assert_eq!(status, 422);

    // An update without a secret keeps the stored one.
    let (status, updated) = s
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/provider-keys/{id}"),
            Some(json!({"name": "k", "provider": "openai", "base_url": "http://127.0.0.1:1/v1"})),
        )
        .await;
    assert_eq!(
        (status, updated["secret_last_four"].clone()),
        (StatusCode::OK, json!("4242"))
    );
}

#[tokio::test]
async fn virtual_keys_resolve_for_the_data_plane_only_with_the_internal_token() {
    let s = Server::start().await;
    let profile = s.post("/api/v1/profiles", json!({"name": "p"})).await.1;
    let openai = s
        .post(
            "/api/v1/provider-keys",
            json!({"name": "o", "provider": "openai", "secret": "sk-o"}),
        )
        .await
        .1;
    let groq = s
        .post(
            "/api/v1/provider-keys",
            json!({"name": "g", "provider": "groq", "secret": "gsk-g"}),
        )
        .await
        .1;

    let (status, body) = s
        .post("/api/v1/virtual-keys", json!({"name": "v", "profile_id": profile["id"], "provider_keys": {"openai": groq["id"]}}))
        .await;
    assert_eq!(status, 422, "a groq key cannot serve openai: {body}");

    let (status, vk) = s
        .post("/api/v1/virtual-keys", json!({"name": "v", "profile_id": profile["id"], "provider_keys": {"openai": openai["id"]}}))
        .await;
    assert_eq!(status, 201);
    let token = vk["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("gh_vk_") && token.starts_with(vk["token_prefix"].as_str().unwrap()));
    let (_, read) = s
        .get(&format!(
            "/api/v1/virtual-keys/{}",
            vk["id"].as_str().unwrap()
        ))
        .await;
    assert!(read.get("token").is_none(), "the token is shown only once");
    assert_eq!(read["provider_keys"]["openai"], openai["id"]);

    use sha2::Digest;
    let digest = hex::encode(sha2::Sha256::digest(token.as_bytes()));
    let path = format!("{}/internal/v1/virtual-keys/{digest}", s.url);
    assert_eq!(s.http.get(&path).send().await.unwrap().status(), 401);
    assert_eq!(
        s.http
            .get(&path)
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let forged = api_types::internal::mint_internal_token(
        b"another-secret-0123456789abcdef0123456789",
        "test",
        chrono::Utc::now(),
    )
    .unwrap();
    assert_eq!(
        s.http
            .get(&path)
            .bearer_auth(forged)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let (status, _) = s
        .call_with(reqwest::Method::GET, "/api/v1/profiles", &internal_token())
        .await;
    assert_eq!(status, 401, "internal tokens do not open /api/v1");
    let resolved: Value = s
        .http
        .get(&path)
        .bearer_auth(internal_token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(resolved["provider_keys"]["openai"]["secret"], "sk-o");
    assert_eq!(resolved["profile_id"], profile["id"]);

    let (status, _) = s
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/provider-keys/{}", openai["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, 409, "a provider key in use cannot be deleted");
    let (status, _) = s
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/provider-keys/{}", openai["id"].as_str().unwrap()),
            Some(json!({"name": "o", "provider": "groq"})),
        )
        .await;
    assert_eq!(
        status, 409,
        "a key mapped under openai cannot become a groq key"
    );
    let (status, _) = s
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/virtual-keys/{}", vk["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let gone = s
        .http
        .get(&path)
        .bearer_auth(internal_token())
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
}

#[tokio::test]
async fn health_and_readiness() {
    let s = Server::start().await;
    for path in ["/healthz", "/readyz"] {
        let res = s.http.get(format!("{}{path}", s.url)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
    }
    let doc: Value = s
        .http
        .get(format!("{}/openapi.json", s.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["paths"]["/api/v1/virtual-keys"].is_object());
}

/// An interaction record charging `amount` to `limit` under `lease`.
fn interaction(limit: &str, lease: &str, window_start: &str, amount: f64) -> Value {
    json!({
        "id": uuid::Uuid::now_v7(), "occurred_at": chrono::Utc::now(), "request_id": "r",
        "provider": "openai", "api": "chat_completions", "model": "gpt-4o-mini",
        "response_model": null, "profile_id": null, "team_id": null, "virtual_key_id": null,
        "credential": "passthrough", "status": 200, "error": null, "stream": false,
        "client_aborted": false,
        "tokens": {"input": 10, "output": 5, "cached_read": 0, "cache_write": 0, "reasoning": 0},
        "cost_usd": amount, "duration_ms": 3.0, "time_to_first_token_ms": 1.0,
        "gateway_overhead_us": 40, "tool_calls_allowed": 0, "tool_calls_blocked": 0,
        "untrusted": false,
        "charges": [{"limit_id": limit, "lease_id": lease, "window_start": window_start, "amount": amount}]
    })
}

impl Server {
    async fn internal_post(&self, path: &str, body: Vec<u8>, gzip: bool) -> (StatusCode, Value) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.url))
            .bearer_auth(internal_token())
            .header("content-type", "application/json");
        if gzip {
            req = req.header("content-encoding", "gzip");
        }
        let res = req.body(body).send().await.unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn leases_never_hand_out_more_than_the_budget_and_batches_count_once() {
    use std::io::Write;
    let s = Server::start().await;
    let (status, limit) = s
        .post(
            "/api/v1/limits",
            json!({"scope": "organization", "metric": "cost_usd", "window": "day", "max": 1.0}),
        )
        .await;
    assert_eq!(status, 201, "{limit}");
    let limit_id = limit["id"].as_str().unwrap().to_owned();
    let lease = |amount: f64, release: Option<(&str, f64)>| {
        let mut body = json!({"limit_id": limit_id, "amount": amount});
        if let Some((id, unspent)) = release {
            body["release"] = json!({"lease_id": id, "unspent": unspent});
        }
        serde_json::to_vec(&body).unwrap()
    };
    let (status, first) = s
        .internal_post("/internal/v1/leases", lease(0.7, None), false)
        .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["granted"], 0.7);
    let (_, second) = s
        .internal_post("/internal/v1/leases", lease(0.7, None), false)
        .await;
    assert!(
        (second["granted"].as_f64().unwrap() - 0.3).abs() < 1e-9,
        "only what is left: {second}"
    );
    let (_, third) = s
        .internal_post("/internal/v1/leases", lease(0.7, None), false)
        .await;
    assert_eq!(third["granted"], 0.0, "spent: {third}");

    // The first lease's holder spent 0.25 and gives back the rest.
    let window = first["window_start"].as_str().unwrap().to_owned();
    let lease_id = first["lease_id"].as_str().unwrap().to_owned();
    let records: Vec<Value> = (0..5)
        .map(|_| interaction(&limit_id, &lease_id, &window, 0.05))
        .collect();
    let batch = serde_json::to_vec(&json!({ "records": records })).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&batch).unwrap();
    let gzipped = gz.finish().unwrap();
    let (status, ack) = s
        .internal_post("/internal/v1/interactions", gzipped.clone(), true)
        .await;
    assert_eq!(
        (status, ack["inserted"].as_u64()),
        (StatusCode::OK, Some(5)),
        "{ack}"
    );
    let (_, again) = s
        .internal_post("/internal/v1/interactions", gzipped, true)
        .await;
    assert_eq!(
        (again["inserted"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(5))
    );
    let (_, standing) = s.get(&format!("/api/v1/limits/{limit_id}/status")).await;
    assert!(
        (standing["used"].as_f64().unwrap() - 0.25).abs() < 1e-12,
        "{standing}"
    );
    assert!(
        (standing["reserved"].as_f64().unwrap() - 0.75).abs() < 1e-9,
        "{standing}"
    );
    let (_, renewed) = s
        .internal_post(
            "/internal/v1/leases",
            lease(0.7, Some((&lease_id, 0.45))),
            false,
        )
        .await;
    assert!(
        (renewed["granted"].as_f64().unwrap() - 0.45).abs() < 1e-9,
        "{renewed}"
    );
    let (_, standing) = s.get(&format!("/api/v1/limits/{limit_id}/status")).await;
    let total = standing["used"].as_f64().unwrap() + standing["reserved"].as_f64().unwrap();
    assert!(
        total <= 1.0 + 1e-9,
        "never more than the budget: {standing}"
    );

    let (status, problem) = s
        .internal_post(
            "/internal/v1/interactions",
            b"\x1f\x8bnot gzip".to_vec(),
            true,
        )
        .await;
    assert_eq!(status, 400, "{problem}");
    let (status, _) = s
        .call_with(reqwest::Method::GET, "/api/v1/interactions", ADMIN_KEY)
        .await;
    assert_eq!(status, 200);
}
