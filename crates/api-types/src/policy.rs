//! What the gateway enforces: tool-invocation and trusted-data policies, usage limits, and
//! the model price table cost is computed from.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Provider;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// How a condition compares the value found at its path with its `value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    Equal,
    NotEqual,
    Contains,
    NotContains,
    StartsWith,
    EndsWith,
    /// `value` is a regular expression (Rust `regex` syntax).
    Regex,
    /// `value` is an array; the found value must be one of its elements.
    In,
    /// The path is present; `value` is ignored.
    Exists,
}

/// One condition of a policy; all conditions of a policy must hold for it to apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// A JSON path (RFC 9535) into the tool call's arguments or the tool's result, e.g.
    /// `$.to` or `$.items[*].url`; or `context.team_id` / `context.profile_labels.<key>`.
    #[cfg_attr(feature = "openapi", schema(example = "$.to"))]
    pub path: String,
    pub operator: Operator,
    /// What the found value is compared with; a string for the string operators, an array
    /// for `in`, anything for `equal` / `not_equal`, omitted for `exists`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "@example.com"))]
    pub value: serde_json::Value,
}

/// What a tool-invocation policy does with a matching call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ToolAction {
    AllowAlways,
    AllowWhenContextIsUntrusted,
    BlockWhenContextIsUntrusted,
    BlockAlways,
}

/// A tool-invocation policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ToolInvocationPolicy {
    pub id: Uuid,
    /// Owning team; `null`: organization-wide.
    pub team_id: Option<Uuid>,
    /// The one profile it applies to; `null`: every profile in its team (or everywhere).
    pub profile_id: Option<Uuid>,
    pub tool_name: String,
    pub conditions: Vec<Condition>,
    pub action: ToolAction,
    pub reason: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Body of `POST` / `PUT` on `/api/v1/tool-invocation-policies`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ToolInvocationPolicyInput {
    #[serde(default)]
    pub team_id: Option<Uuid>,
    #[serde(default)]
    pub profile_id: Option<Uuid>,
    /// Exact tool name or a glob (`*`, `?`, `[...]`), e.g. `send_*`.
    #[cfg_attr(feature = "openapi", schema(example = "send_email"))]
    pub tool_name: String,
    /// At most 32.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    pub action: ToolAction,
    /// Shown to the model and the user when the policy blocks a call.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(example = "Mail may only go to our own domain")
    )]
    pub reason: Option<String>,
}

/// What a trusted-data policy does with a matching tool result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TrustedDataAction {
    MarkAsTrusted,
    MarkAsUntrusted,
    /// The result's content is replaced by a notice before the model sees it.
    Block,
}

/// A trusted-data policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TrustedDataPolicy {
    pub id: Uuid,
    pub team_id: Option<Uuid>,
    pub profile_id: Option<Uuid>,
    pub tool_name: String,
    pub conditions: Vec<Condition>,
    pub action: TrustedDataAction,
    pub description: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Body of `POST` / `PUT` on `/api/v1/trusted-data-policies`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TrustedDataPolicyInput {
    #[serde(default)]
    pub team_id: Option<Uuid>,
    #[serde(default)]
    pub profile_id: Option<Uuid>,
    #[cfg_attr(feature = "openapi", schema(example = "fetch_url"))]
    pub tool_name: String,
    #[serde(default)]
    pub conditions: Vec<Condition>,
    pub action: TrustedDataAction,
    #[serde(default)]
    pub description: Option<String>,
}

/// What a limit is placed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LimitScope {
    Organization,
    Team,
    Profile,
    VirtualKey,
}

/// What a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LimitMetric {
    Requests,
    /// Input plus output tokens.
    Tokens,
    /// Cost in US dollars from the model price table.
    CostUsd,
}

/// The period a limit's count is kept over; calendar periods in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LimitWindow {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    /// Never resets.
    Total,
}

wire_names!(Operator {
    Equal => "equal",
    NotEqual => "not_equal",
    Contains => "contains",
    NotContains => "not_contains",
    StartsWith => "starts_with",
    EndsWith => "ends_with",
    Regex => "regex",
    In => "in",
    Exists => "exists",
});
wire_names!(ToolAction {
    AllowAlways => "allow_always",
    AllowWhenContextIsUntrusted => "allow_when_context_is_untrusted",
    BlockWhenContextIsUntrusted => "block_when_context_is_untrusted",
    BlockAlways => "block_always",
});
wire_names!(TrustedDataAction {
    MarkAsTrusted => "mark_as_trusted",
    MarkAsUntrusted => "mark_as_untrusted",
    Block => "block",
});
wire_names!(LimitScope {
    Organization => "organization",
    Team => "team",
    Profile => "profile",
    VirtualKey => "virtual_key",
});
wire_names!(LimitMetric {
    Requests => "requests",
    Tokens => "tokens",
    CostUsd => "cost_usd",
});
wire_names!(LimitWindow {
    Minute => "minute",
    Hour => "hour",
    Day => "day",
    Week => "week",
    Month => "month",
    Total => "total",
});

/// A usage limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Limit {
    pub id: Uuid,
    pub team_id: Option<Uuid>,
    pub scope: LimitScope,
    /// The team, profile or virtual key limited; `null` for the organization.
    pub subject_id: Option<Uuid>,
    pub metric: LimitMetric,
    pub window: LimitWindow,
    /// The most the subject may use per window.
    pub max: f64,
    /// Only requests for this model count (the model the client asked for); `null`: all.
    pub model: Option<String>,
    /// `false`: calendar windows in UTC (the count resets at the start of each minute,
    /// hour, day, week or month). `true`: a sliding window over the last minute, hour, …
    pub rolling: bool,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Body of `POST` / `PUT` on `/api/v1/limits`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LimitInput {
    /// Owning team: the subject's team (the subject itself for `team` scope), `null` for
    /// `organization` scope and for subjects owned by no team. A team-scoped key's own
    /// team when omitted.
    #[serde(default)]
    pub team_id: Option<Uuid>,
    pub scope: LimitScope,
    #[serde(default)]
    pub subject_id: Option<Uuid>,
    pub metric: LimitMetric,
    pub window: LimitWindow,
    /// Greater than zero.
    #[cfg_attr(feature = "openapi", schema(example = 100.0))]
    pub max: f64,
    /// Only requests for this model count; omitted: every model.
    #[serde(default)]
    pub model: Option<String>,
    /// A sliding window instead of a calendar one (not for `total`).
    #[serde(default)]
    pub rolling: bool,
}

/// One row of the price table, in US dollars per million tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ModelPrice {
    pub id: Uuid,
    pub provider: Provider,
    pub model: String,
    pub input_price_per_million: f64,
    pub output_price_per_million: f64,
    /// Price of cached input tokens; `null`: charged as ordinary input.
    pub cached_input_price_per_million: Option<f64>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Body of `POST` / `PUT` on `/api/v1/models`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ModelPriceInput {
    pub provider: Provider,
    #[cfg_attr(feature = "openapi", schema(example = "gpt-4o-mini"))]
    pub model: String,
    #[cfg_attr(feature = "openapi", schema(example = 0.15))]
    pub input_price_per_million: f64,
    #[cfg_attr(feature = "openapi", schema(example = 0.6))]
    pub output_price_per_million: f64,
    #[serde(default)]
    pub cached_input_price_per_million: Option<f64>,
}
