//! `/internal/v1`: what the data plane fetches to serve a profile and a virtual key.
//! Authenticated with the shared internal token; not part of the public OpenAPI document.

use api_types::internal::{ProfileConfig, ProviderKeyConfig, VirtualKeyConfig};
use axum::extract::State;
use uuid::Uuid;

use super::crud::fetch;
use super::policies::{applying_to, ToolInvocationPolicies, TrustedDataPolicies};
use super::profiles::Profiles;
use crate::auth::Internal;
use crate::db;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

/// A profile's serving config.
pub async fn profile(
    _: Internal,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiJson<ProfileConfig>, ApiError> {
    let mut conn = state.db.acquire().await?;
    let profile = fetch::<Profiles>(&mut conn, id)
        .await?
        .ok_or(ApiError::NotFound("profile"))?;
    let organization = super::organization::load(&mut conn, false).await?;
    let tool_invocation_policies =
        applying_to::<ToolInvocationPolicies>(&mut conn, profile.id, profile.team_id).await?;
    let trusted_data_policies =
        applying_to::<TrustedDataPolicies>(&mut conn, profile.id, profile.team_id).await?;
    Ok(ApiJson(ProfileConfig {
        id: profile.id,
        name: profile.name,
        team_id: profile.team_id,
        labels: profile.labels,
        consider_context_untrusted: profile.consider_context_untrusted,
        require_virtual_key: profile.require_virtual_key,
        allowed_models: profile.allowed_models,
        global_tool_policy: organization.global_tool_policy,
        tool_invocation_policies,
        trusted_data_policies,
        log_bodies: profile.log_bodies,
    }))
}

/// A live virtual key by the hex SHA-256 of its token, with its provider secrets decrypted.
/// Revoked and unknown keys are 404.
pub async fn virtual_key(
    _: Internal,
    State(state): State<AppState>,
    ApiPath(token_sha256): ApiPath<String>,
) -> Result<ApiJson<VirtualKeyConfig>, ApiError> {
    let hash = hex::decode(&token_sha256)
        .ok()
        .filter(|h| h.len() == 32)
        .ok_or_else(|| ApiError::invalid("token_sha256", "must be 64 hex characters"))?;
    let resolved = db::virtual_keys::resolve(&state.db, &hash)
        .await?
        .ok_or(ApiError::NotFound("virtual key"))?;
    let mut provider_keys = std::collections::BTreeMap::new();
    for key in resolved.provider_keys {
        let Ok(provider) = key.provider.parse() else {
            continue;
        };
        let secret = state
            .secrets
            .open(&key.secret_key_id, &key.secret_encrypted)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        provider_keys.insert(
            provider,
            ProviderKeyConfig {
                id: key.id,
                secret,
                base_url: key.base_url,
                extra_headers: key.extra_headers.0,
            },
        );
    }
    Ok(ApiJson(VirtualKeyConfig {
        id: resolved.id,
        profile_id: resolved.profile_id,
        team_id: resolved.team_id,
        allowed_models: resolved.allowed_models,
        expires_at: resolved.expires_at,
        provider_keys,
    }))
}

/// Query of `GET /internal/v1/watch`.
#[derive(Debug, serde::Deserialize)]
pub struct WatchQuery {
    /// The revision the worker has applied; omitted by a worker with an empty cache.
    pub since: Option<i64>,
}

/// The change stream (`text/event-stream`): `change` events with a [`ConfigChange`], a
/// `reset` when the worker must drop its whole cache, a `heartbeat` every few seconds.
///
/// [`ConfigChange`]: api_types::internal::ConfigChange
pub async fn watch(
    _: Internal,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<WatchQuery>,
) -> axum::response::sse::Sse<
    impl futures::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>,
> {
    axum::response::sse::Sse::new(state.watch.subscribe(query.since))
}

/// The current config revision, for workers' periodic resync.
pub async fn revision(
    _: Internal,
    State(state): State<AppState>,
) -> Result<ApiJson<api_types::internal::RevisionInfo>, ApiError> {
    let revision = db::changes::current(&state.db).await?;
    Ok(ApiJson(api_types::internal::RevisionInfo { revision }))
}

/// The whole price table, for cost on the data plane.
pub async fn prices(
    _: Internal,
    State(state): State<AppState>,
) -> Result<ApiJson<api_types::internal::PriceTable>, ApiError> {
    let rows: Vec<(String, String, f64, f64, Option<f64>)> = sqlx::query_as(
        "SELECT provider, model, input_price_per_million, output_price_per_million, \
         cached_input_price_per_million FROM model_prices",
    )
    .fetch_all(&state.db)
    .await?;
    let prices = rows
        .into_iter()
        .filter_map(|(provider, model, input, output, cached)| {
            Some(api_types::internal::PriceConfig {
                provider: provider.parse().ok()?,
                model,
                input_price_per_million: input,
                output_price_per_million: output,
                cached_input_price_per_million: cached,
            })
        })
        .collect();
    Ok(ApiJson(api_types::internal::PriceTable { prices }))
}

/// Most bytes a decompressed batch may hold.
const MAX_BATCH_BYTES: u64 = 256 << 20;

/// Stores a batch of interaction records (JSON, gzip-compressed when `Content-Encoding:
/// gzip`). Idempotent: records already stored are counted as duplicates, not stored or
/// charged again, so a worker may retry a batch whose answer it never saw.
pub async fn ingest(
    _: Internal,
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<ApiJson<api_types::IngestAck>, ApiError> {
    use std::io::Read;
    let bad = |message: String| ApiError::BadBody {
        status: axum::http::StatusCode::BAD_REQUEST,
        message,
    };
    let gzip = headers
        .get(axum::http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let json = if gzip {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .take(MAX_BATCH_BYTES)
            .read_to_end(&mut out)
            .map_err(|e| bad(format!("batch is not valid gzip: {e}")))?;
        axum::body::Bytes::from(out)
    } else {
        body
    };
    let batch: api_types::InteractionBatch =
        serde_json::from_slice(&json).map_err(|e| bad(format!("batch is not valid: {e}")))?;
    let ack = db::interactions::ingest(&state.db, &batch.records).await?;
    crate::metrics::ingested(ack.inserted, ack.duplicates);
    Ok(ApiJson(ack))
}

/// Hands a worker a slice of a limit's budget.
pub async fn lease(
    _: Internal,
    State(state): State<AppState>,
    ApiJson(request): ApiJson<api_types::LeaseRequest>,
) -> Result<ApiJson<api_types::Lease>, ApiError> {
    if !request.amount.is_finite() {
        return Err(ApiError::invalid("amount", "must be a number"));
    }
    db::leases::grant(&state.db, &request)
        .await?
        .map(ApiJson)
        .ok_or(ApiError::NotFound("limit"))
}

/// Every limit, for enforcement on the data plane.
pub async fn limits(
    _: Internal,
    State(state): State<AppState>,
) -> Result<ApiJson<api_types::LimitTable>, ApiError> {
    let mut conn = state.db.acquire().await?;
    let limits = super::crud::fetch_all::<super::limits::Limits>(&mut conn).await?;
    Ok(ApiJson(api_types::LimitTable { limits }))
}
