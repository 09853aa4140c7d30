//! `gatehouse_model_price`: one row of the price table costs are computed from (US dollars
//! per million tokens).

use api_types::ModelPrice;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{
    AttributeConstraint as C, AttributeType as T, Block, Description, Schema,
};
use tf_provider::value::{Value, ValueNumber, ValueString};
use tf_provider::{AttributePath, Diagnostics};

use super::profile::known;
use super::provider_key::validate_provider;
use super::{attribute, id_attribute, version_attribute, RestObject};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelPriceState<'a> {
    #[serde(borrow)]
    pub id: ValueString<'a>,
    #[serde(borrow)]
    pub provider_type: ValueString<'a>,
    #[serde(borrow)]
    pub model: ValueString<'a>,
    pub input_price_per_million: Value<f64>,
    pub output_price_per_million: Value<f64>,
    pub cached_input_price_per_million: Value<f64>,
    pub version: ValueNumber,
}

pub struct ModelPriceObject;

/// The body; the provider stays a string so an unknown one reaches the API's own check.
#[derive(Serialize)]
pub struct ModelPriceBody {
    provider: String,
    model: String,
    input_price_per_million: f64,
    output_price_per_million: f64,
    cached_input_price_per_million: Option<f64>,
}

/// Prices are finite and not negative.
pub fn validate_price(diags: &mut Diagnostics, value: &Value<f64>, name: &'static str) {
    if let Value::Value(v) = value {
        if !v.is_finite() || *v < 0.0 {
            diags.error_short(
                format!("{name} must be a number of dollars, 0 or more"),
                AttributePath::new(name),
            );
        }
    }
}

impl RestObject for ModelPriceObject {
    type State<'a> = ModelPriceState<'a>;
    type Model = ModelPrice;
    type Created = ModelPrice;
    type Body = ModelPriceBody;

    const NAME: &'static str = "model price";
    const PATH: &'static str = "/api/v1/models";

    fn schema() -> Schema {
        Schema {
            version: 1,
            block: Block {
                version: 1,
                description: Description::markdown("A model's list price; request costs in metrics, traces and budgets come from this table. One row per provider and model."),
                attributes: [
                    id_attribute(),
                    ("provider_type".to_owned(), attribute(T::String, C::Required, false, "The LLM provider (`openai`, `anthropic`, …).")),
                    ("model".to_owned(), attribute(T::String, C::Required, false, "The model id as the provider names it; dated snapshots of it are priced the same.")),
                    ("input_price_per_million".to_owned(), attribute(T::Number, C::Required, false, "US dollars per million input tokens.")),
                    ("output_price_per_million".to_owned(), attribute(T::Number, C::Required, false, "US dollars per million output tokens.")),
                    ("cached_input_price_per_million".to_owned(), attribute(T::Number, C::Optional, false, "US dollars per million cached input tokens; unset charges them as input.")),
                    version_attribute(),
                ]
                .into_iter()
                .collect(),
                ..Default::default()
            },
        }
    }

    fn validate(diags: &mut Diagnostics, config: &ModelPriceState<'_>) {
        if let ValueString::Value(p) = &config.provider_type {
            validate_provider(diags, p, AttributePath::new("provider_type"));
        }
        if let ValueString::Value(m) = &config.model {
            if m.is_empty() || m.len() > 200 {
                diags.error_short(
                    "model must be 1–200 characters",
                    AttributePath::new("model"),
                );
            }
        }
        validate_price(
            diags,
            &config.input_price_per_million,
            "input_price_per_million",
        );
        validate_price(
            diags,
            &config.output_price_per_million,
            "output_price_per_million",
        );
        validate_price(
            diags,
            &config.cached_input_price_per_million,
            "cached_input_price_per_million",
        );
    }

    fn id(state: &ModelPriceState<'_>) -> Option<String> {
        state.id.as_ref_option().map(|s| s.to_string())
    }

    fn version(state: &ModelPriceState<'_>) -> Option<i64> {
        state.version.as_ref_option().copied()
    }

    fn lookup_key(model: &Self::Model) -> Option<String> {
        Some(format!("{}/{}", model.provider.as_str(), model.model))
    }

    fn imported<'a>(id: String) -> ModelPriceState<'a> {
        ModelPriceState {
            id: ValueString::from(id),
            ..Default::default()
        }
    }

    fn plan<'a>(planned: &mut ModelPriceState<'a>, prior: Option<&ModelPriceState<'a>>) {
        super::plan_versioned(
            planned,
            prior,
            |s| s.id = ValueString::Unknown,
            |s| s.version = ValueNumber::Unknown,
        );
    }

    fn body(state: &ModelPriceState<'_>) -> ModelPriceBody {
        ModelPriceBody {
            provider: known(&state.provider_type),
            model: known(&state.model),
            input_price_per_million: state
                .input_price_per_million
                .as_ref_option()
                .copied()
                .unwrap_or(-1.0),
            output_price_per_million: state
                .output_price_per_million
                .as_ref_option()
                .copied()
                .unwrap_or(-1.0),
            cached_input_price_per_million: state
                .cached_input_price_per_million
                .as_ref_option()
                .copied(),
        }
    }

    fn from_model<'a>(model: ModelPrice, _prior: &ModelPriceState<'a>) -> ModelPriceState<'a>
    where
        'a: 'a,
    {
        ModelPriceState {
            id: ValueString::from(model.id.to_string()),
            provider_type: ValueString::from(model.provider.as_str()),
            model: ValueString::from(model.model),
            input_price_per_million: Value::Value(model.input_price_per_million),
            output_price_per_million: Value::Value(model.output_price_per_million),
            cached_input_price_per_million: model.cached_input_price_per_million.into(),
            version: ValueNumber::Value(model.version),
        }
    }

    fn from_created<'a>(created: ModelPrice, planned: &ModelPriceState<'a>) -> ModelPriceState<'a>
    where
        'a: 'a,
    {
        Self::from_model(created, planned)
    }
}
