//! The interaction log and usage: one record per proxied request, written by the data plane
//! and read back through `/api/v1/interactions` and `/api/v1/usage`; and the budget leases
//! workers take to enforce limits.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{LimitMetric, Provider};

#[cfg(feature = "openapi")]
use utoipa::{IntoParams, ToSchema};

/// How much of the conversation a profile's interaction records keep.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LogBodies {
    /// Counts and timings only.
    None,
    /// Also what can be said about the bodies without their content: sizes, message
    /// count, declared and called tool names, finish reasons.
    #[default]
    Metadata,
    /// Also the request as sent upstream and the response as sent to the client, each
    /// capped at [`BODY_CAP`] bytes. Credentials are never part of a body.
    Full,
}

wire_names!(LogBodies {
    None => "none",
    Metadata => "metadata",
    Full => "full",
});

/// Most bytes of a request or response body an interaction record keeps.
pub const BODY_CAP: usize = 64 * 1024;

/// How the client authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CredentialMode {
    /// A Gatehouse virtual key, swapped for a stored provider key.
    Virtual,
    /// The client's own provider key (or none), passed through.
    Passthrough,
}

wire_names!(CredentialMode {
    Virtual => "virtual",
    Passthrough => "passthrough",
});

/// Tokens of one request, as the provider reported them (partial for a stream the client
/// left early).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TokenCounts {
    /// Every input token, cached or not.
    pub input: u64,
    pub output: u64,
    /// Input tokens read from the provider's prompt cache (part of `input`).
    pub cached_read: u64,
    /// Input tokens written to the provider's prompt cache (part of `input`).
    pub cache_write: u64,
    /// Output tokens spent on reasoning (part of `output`).
    pub reasoning: u64,
}

/// What one request counted against one limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LimitCharge {
    pub limit_id: Uuid,
    /// The lease the request was admitted under.
    pub lease_id: Uuid,
    /// Start of the window (or sliding-window bucket) the charge counts in.
    pub window_start: DateTime<Utc>,
    /// In the limit's metric: requests, tokens or US dollars.
    pub amount: f64,
}

/// One proxied request: also refused, failed and client-aborted ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Interaction {
    /// Made by the worker (UUIDv7, time-ordered): the idempotency key of the record.
    pub id: Uuid,
    /// When the request arrived.
    pub occurred_at: DateTime<Utc>,
    /// The client's `x-request-id`, or the one the gateway made up.
    pub request_id: String,
    pub provider: Option<Provider>,
    /// The endpoint: `chat_completions`, `responses`, `messages`, `converse`, …
    pub api: Option<String>,
    /// The model the client asked for.
    pub model: Option<String>,
    /// The model the provider says answered.
    pub response_model: Option<String>,
    pub profile_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub virtual_key_id: Option<Uuid>,
    pub credential: CredentialMode,
    /// HTTP status sent to the client; 0 when none was (the client left first).
    pub status: u16,
    /// Why the request failed, when it did (`budget_exhausted`, `upstream_timeout`, …).
    pub error: Option<String>,
    pub stream: bool,
    /// The client disconnected before the response was complete.
    pub client_aborted: bool,
    /// `null` when the provider reported no usage.
    pub tokens: Option<TokenCounts>,
    /// From the model price table; `null` when there is no usage or no price.
    pub cost_usd: Option<f64>,
    /// Arrival to the last byte sent.
    pub duration_ms: f64,
    /// Arrival to the first response byte; `null` when none came.
    pub time_to_first_token_ms: Option<f64>,
    /// Time spent in the gateway itself (not waiting on the client or the upstream).
    pub gateway_overhead_us: u64,
    pub tool_calls_allowed: u32,
    pub tool_calls_blocked: u32,
    /// The conversation carried untrusted data.
    pub untrusted: bool,
    /// What the request counted against each limit that applied.
    #[serde(default)]
    pub charges: Vec<LimitCharge>,
    /// What can be said about the bodies without their content (`log_bodies` `metadata`
    /// or `full`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BodyMetadata>,
    /// The request as sent upstream (`log_bodies: full`; one record's view only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_body: Option<String>,
    /// The response as sent to the client (`log_bodies: full`; one record's view only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_body: Option<String>,
}

/// What an interaction record says about its bodies without their content.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BodyMetadata {
    /// Bytes of the request body as sent upstream.
    pub request_bytes: u64,
    /// Bytes of the response body as sent to the client.
    pub response_bytes: u64,
    #[serde(default)]
    pub finish_reasons: Vec<String>,
    /// Names of the tools the model called, in order.
    #[serde(default)]
    pub tool_calls: Vec<String>,
}

/// What a worker posts to `/internal/v1/interactions` (gzip-compressed JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InteractionBatch {
    pub records: Vec<Interaction>,
}

/// The control plane's answer to a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestAck {
    /// Records stored now.
    pub inserted: u64,
    /// Records already stored by an earlier delivery of the same batch.
    pub duplicates: u64,
}

/// Filters of `GET /api/v1/interactions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct InteractionFilter {
    pub team_id: Option<Uuid>,
    pub profile_id: Option<Uuid>,
    pub virtual_key_id: Option<Uuid>,
    pub provider: Option<Provider>,
    pub model: Option<String>,
    pub status: Option<u16>,
    /// Only records at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only records before this time.
    pub until: Option<DateTime<Utc>>,
}

/// What `/api/v1/usage` groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum UsageGroup {
    Team,
    Profile,
    VirtualKey,
    Model,
    Day,
}

/// Query of `GET /api/v1/usage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct UsageQuery {
    /// One grouping: `team`, `profile`, `virtual_key`, `model` or `day` (UTC).
    pub group_by: UsageGroup,
    pub team_id: Option<Uuid>,
    pub profile_id: Option<Uuid>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// One group of `/api/v1/usage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UsageRow {
    /// The team, profile or virtual key id, the model, or the day (`YYYY-MM-DD`); `null`
    /// for records without one (a request refused before its profile was known).
    pub key: Option<String>,
    pub requests: u64,
    /// Requests that failed (status 0 or ≥ 400).
    pub errors: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_read_tokens: u64,
    pub reasoning_tokens: u64,
    pub cost_usd: f64,
    /// Requests with usage but no price in the table (not in `cost_usd`).
    pub unpriced_requests: u64,
}

/// Answer of `GET /api/v1/usage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UsageReport {
    pub group_by: UsageGroup,
    pub data: Vec<UsageRow>,
}

/// Where a limit stands now (`GET /api/v1/limits/{id}/status`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LimitStatus {
    pub limit_id: Uuid,
    pub metric: LimitMetric,
    pub max: f64,
    /// Start of the current window (for a sliding window: now minus its length).
    pub window_start: DateTime<Utc>,
    /// When the count resets (calendar windows); `null` for sliding and `total` windows.
    pub resets_at: Option<DateTime<Utc>>,
    /// Counted from stored interaction records in the current window.
    pub used: f64,
    /// Handed to workers and not yet accounted for by records.
    pub reserved: f64,
}

/// A worker asks for a slice of a limit's budget (`POST /internal/v1/leases`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaseRequest {
    pub limit_id: Uuid,
    /// How much the worker would like.
    pub amount: f64,
    /// The lease this one replaces, with what the worker did not spend of it: given back.
    #[serde(default)]
    pub release: Option<LeaseRelease>,
}

/// Unspent budget of a lease, given back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaseRelease {
    pub lease_id: Uuid,
    pub unspent: f64,
}

/// A slice of budget a worker may spend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lease {
    pub lease_id: Uuid,
    pub limit_id: Uuid,
    pub window_start: DateTime<Utc>,
    /// 0 when the limit is spent.
    pub granted: f64,
    /// The limit's budget left for everyone after this grant.
    pub remaining: f64,
    /// Spend no more of the lease after this many seconds (its window ends, or the lease
    /// is due for renewal).
    pub valid_for_secs: f64,
    /// When the window resets (calendar windows).
    pub resets_at: Option<DateTime<Utc>>,
    /// Sliding windows: charges count in the bucket (this many seconds, aligned to the
    /// Unix epoch) in which the request finished, not in `window_start`.
    #[serde(default)]
    pub bucket_secs: Option<i64>,
}

/// Every limit, for the data plane (`GET /internal/v1/limits`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LimitTable {
    pub limits: Vec<crate::Limit>,
}
