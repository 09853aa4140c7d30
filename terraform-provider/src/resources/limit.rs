//! `gatehouse_limit`: a budget or rate limit at one scope (organization, team, profile or
//! virtual key) on one metric over one window.

use api_types::{Limit, LimitMetric, LimitScope, LimitWindow};
use serde::{Deserialize, Serialize};
use tf_provider::schema::{
    AttributeConstraint as C, AttributeType as T, Block, Description, Schema,
};
use tf_provider::value::{Value, ValueNumber, ValueString};
use tf_provider::{AttributePath, Diagnostics};

use super::profile::known;
use super::{
    attribute, id_attribute, validate_one_of, validate_uuid, version_attribute, RestObject,
};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LimitState<'a> {
    #[serde(borrow)]
    pub id: ValueString<'a>,
    #[serde(borrow)]
    pub team_id: ValueString<'a>,
    #[serde(borrow)]
    pub scope: ValueString<'a>,
    #[serde(borrow)]
    pub subject_id: ValueString<'a>,
    #[serde(borrow)]
    pub metric: ValueString<'a>,
    #[serde(borrow)]
    pub window: ValueString<'a>,
    pub max: Value<f64>,
    #[serde(borrow)]
    pub model: ValueString<'a>,
    pub rolling: tf_provider::value::ValueBool,
    pub version: ValueNumber,
}

pub struct LimitObject;

/// The body; enums stay strings so the API's own validation names anything unknown.
#[derive(Serialize)]
pub struct LimitBody {
    team_id: Option<String>,
    scope: String,
    subject_id: Option<String>,
    metric: String,
    window: String,
    max: f64,
    model: Option<String>,
    rolling: bool,
}

const SCOPES: [&str; 4] = ["organization", "team", "profile", "virtual_key"];
const METRICS: [&str; 3] = ["requests", "tokens", "cost_usd"];
const WINDOWS: [&str; 6] = ["minute", "hour", "day", "week", "month", "total"];

impl RestObject for LimitObject {
    type State<'a> = LimitState<'a>;
    type Model = Limit;
    type Created = Limit;
    type Body = LimitBody;

    const NAME: &'static str = "limit";
    const PATH: &'static str = "/api/v1/limits";

    fn schema() -> Schema {
        Schema {
            version: 1,
            block: Block {
                version: 1,
                description: Description::markdown("A budget or rate limit: at most `max` of `metric` per `window` for one scope."),
                attributes: [
                    id_attribute(),
                    ("team_id".to_owned(), attribute(T::String, C::Optional, false, "The owning team; unset for an organization-wide limit. Changing it replaces the limit.")),
                    ("scope".to_owned(), attribute(T::String, C::Required, false, "`organization`, `team`, `profile` or `virtual_key`.")),
                    ("subject_id".to_owned(), attribute(T::String, C::Optional, false, "The team, profile or virtual key limited; unset for `organization`.")),
                    ("metric".to_owned(), attribute(T::String, C::Required, false, "`requests`, `tokens` or `cost_usd`.")),
                    ("window".to_owned(), attribute(T::String, C::Required, false, "`minute`, `hour`, `day`, `week`, `month` or `total`.")),
                    ("max".to_owned(), attribute(T::Number, C::Required, false, "The ceiling, greater than 0 (dollars for `cost_usd`).")),
                    ("model".to_owned(), attribute(T::String, C::Optional, false, "Only requests for this model (as the client names it) count; unset: every model.")),
                    ("rolling".to_owned(), attribute(T::Bool, C::Optional, false, "`true`: a sliding window over the last minute, hour, … instead of calendar windows in UTC (default `false`; not for `total`).")),
                    version_attribute(),
                ]
                .into_iter()
                .collect(),
                ..Default::default()
            },
        }
    }

    fn validate(diags: &mut Diagnostics, config: &LimitState<'_>) {
        validate_one_of(diags, &config.scope, "scope", &SCOPES);
        validate_one_of(diags, &config.metric, "metric", &METRICS);
        validate_one_of(diags, &config.window, "window", &WINDOWS);
        validate_uuid(diags, &config.team_id, "team_id");
        validate_uuid(diags, &config.subject_id, "subject_id");
        match (
            config.scope.as_ref_option().map(|s| &**s),
            &config.subject_id,
        ) {
            (Some("organization"), ValueString::Value(_)) => diags.error_short(
                "an organization limit has no subject_id",
                AttributePath::new("subject_id"),
            ),
            (Some("team" | "profile" | "virtual_key"), ValueString::Null) => diags.error_short(
                "subject_id is required for this scope",
                AttributePath::new("subject_id"),
            ),
            _ => {}
        }
        if let (Some("total"), Value::Value(true)) =
            (config.window.as_ref_option().map(|s| &**s), &config.rolling)
        {
            diags.error_short(
                "a total window never resets, so it cannot be rolling",
                AttributePath::new("rolling"),
            );
        }
        if let Value::Value(max) = config.max {
            if !max.is_finite() || max <= 0.0 {
                diags.error_short("max must be greater than 0", AttributePath::new("max"));
            }
        }
    }

    fn id(state: &LimitState<'_>) -> Option<String> {
        state.id.as_ref_option().map(|s| s.to_string())
    }

    fn version(state: &LimitState<'_>) -> Option<i64> {
        state.version.as_ref_option().copied()
    }

    fn imported<'a>(id: String) -> LimitState<'a> {
        LimitState {
            id: ValueString::from(id),
            ..Default::default()
        }
    }

    fn plan<'a>(planned: &mut LimitState<'a>, prior: Option<&LimitState<'a>>) {
        super::plan_versioned(
            planned,
            prior,
            |s| s.id = ValueString::Unknown,
            |s| s.version = ValueNumber::Unknown,
        );
    }

    fn requires_replace(prior: &LimitState<'_>, planned: &LimitState<'_>) -> Vec<AttributePath> {
        if prior.team_id != planned.team_id {
            vec![AttributePath::new("team_id")]
        } else {
            Vec::new()
        }
    }

    fn body(state: &LimitState<'_>) -> LimitBody {
        let opt = |v: &ValueString<'_>| v.as_ref_option().map(|s| s.to_string());
        LimitBody {
            team_id: opt(&state.team_id),
            scope: known(&state.scope),
            subject_id: opt(&state.subject_id),
            metric: known(&state.metric),
            window: known(&state.window),
            max: state.max.as_ref_option().copied().unwrap_or(0.0),
            model: opt(&state.model),
            rolling: state.rolling.as_ref_option() == Some(&true),
        }
    }

    fn from_model<'a>(model: Limit, prior: &LimitState<'a>) -> LimitState<'a>
    where
        'a: 'a,
    {
        let scope: LimitScope = model.scope;
        let metric: LimitMetric = model.metric;
        let window: LimitWindow = model.window;
        LimitState {
            id: ValueString::from(model.id.to_string()),
            team_id: super::optional(model.team_id.map(|t| t.to_string())),
            scope: ValueString::from(scope.as_str()),
            subject_id: super::optional(model.subject_id.map(|t| t.to_string())),
            metric: ValueString::from(metric.as_str()),
            window: ValueString::from(window.as_str()),
            max: Value::Value(model.max),
            model: super::optional(model.model),
            rolling: super::profile::bool_state(model.rolling, &prior.rolling),
            version: ValueNumber::Value(model.version),
        }
    }

    fn from_created<'a>(created: Limit, planned: &LimitState<'a>) -> LimitState<'a>
    where
        'a: 'a,
    {
        Self::from_model(created, planned)
    }
}
