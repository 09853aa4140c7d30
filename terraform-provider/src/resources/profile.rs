//! `gatehouse_profile`: what applications are pointed at (`/v1/{provider}/{profile_id}/…`).

use std::borrow::Cow;
use std::collections::BTreeMap;

use api_types::{LogBodies, Profile};
use serde::{Deserialize, Serialize};
use tf_provider::schema::{
    AttributeConstraint as C, AttributeType as T, Block, Description, Schema,
};
use tf_provider::value::{Value, ValueBool, ValueList, ValueMap, ValueNumber, ValueString};
use tf_provider::{AttributePath, Diagnostics};

use super::provider_key::validate_provider;
use super::{attribute, id_attribute, validate_uuid, version_attribute, RestObject};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProfileState<'a> {
    #[serde(borrow)]
    pub id: ValueString<'a>,
    #[serde(borrow)]
    pub name: ValueString<'a>,
    #[serde(borrow)]
    pub description: ValueString<'a>,
    #[serde(borrow)]
    pub team_id: ValueString<'a>,
    #[serde(borrow)]
    pub labels: ValueMap<'a, ValueString<'a>>,
    pub consider_context_untrusted: ValueBool,
    pub require_virtual_key: ValueBool,
    #[serde(borrow)]
    pub allowed_models: ValueMap<'a, ValueList<ValueString<'a>>>,
    #[serde(borrow)]
    pub log_bodies: ValueString<'a>,
    pub version: ValueNumber,
}

/// The request body; the team and providers stay strings so the API's own validation
/// names anything malformed.
#[derive(Serialize)]
pub struct ProfileBody {
    name: String,
    description: Option<String>,
    team_id: Option<String>,
    labels: BTreeMap<String, String>,
    consider_context_untrusted: bool,
    require_virtual_key: bool,
    allowed_models: BTreeMap<String, Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_bodies: Option<String>,
}

/// A string map of known values.
pub fn string_map(map: &ValueMap<'_, ValueString<'_>>) -> BTreeMap<String, String> {
    map.as_ref_option()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.to_string(), v.as_ref_option()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// A map as state: `null` when the API holds the default (empty) and the configuration
/// did not set it, so an unset attribute does not show as drift.
pub fn map_state<'a, V>(
    map: BTreeMap<String, V>,
    prior_set: bool,
    value: impl Fn(V) -> ValueString<'a>,
) -> ValueMap<'a, ValueString<'a>> {
    if map.is_empty() && !prior_set {
        return Value::Null;
    }
    Value::Value(
        map.into_iter()
            .map(|(k, v)| (Cow::Owned(k), value(v)))
            .collect(),
    )
}

/// A bool as state: `null` when it is the API's default (`false`) and was not set.
pub fn bool_state(value: bool, prior: &ValueBool) -> ValueBool {
    if !value && prior.is_null() {
        Value::Null
    } else {
        Value::Value(value)
    }
}

pub struct ProfileObject;

/// Checks a known `name`: 1–128 characters, as the API requires.
pub fn validate_name(diags: &mut Diagnostics, name: &ValueString<'_>) {
    if let ValueString::Value(name) = name {
        let len = name.chars().count();
        if len == 0 || len > 128 || name.chars().any(char::is_control) {
            diags.error_short(
                "name must be 1–128 characters without control characters",
                AttributePath::new("name"),
            );
        }
    }
}

/// The string of a known value, or empty (the API rejects it with a clear message).
pub fn known(value: &ValueString<'_>) -> String {
    value
        .as_ref_option()
        .map(|s| s.to_string())
        .unwrap_or_default()
}

impl RestObject for ProfileObject {
    type State<'a> = ProfileState<'a>;
    type Model = Profile;
    type Created = Profile;
    type Body = ProfileBody;

    const NAME: &'static str = "profile";
    const PATH: &'static str = "/api/v1/profiles";

    fn schema() -> Schema {
        Schema {
            version: 1,
            block: Block {
                version: 1,
                description: Description::markdown("A Gatehouse profile. Applications reach providers through `/v1/{provider}/{id}/…` on the data plane."),
                attributes: [
                    id_attribute(),
                    ("name".to_owned(), attribute(T::String, C::Required, false, "Unique name, 1–128 characters.")),
                    ("description".to_owned(), attribute(T::String, C::Optional, false, "Free text.")),
                    ("team_id".to_owned(), attribute(T::String, C::Optional, false, "The owning team; unset for an organization-wide profile. Changing it replaces the profile.")),
                    ("labels".to_owned(), attribute(T::Map(Box::new(T::String)), C::Optional, false, "Free-form labels; policies can match them as `context.profile_labels.<key>`.")),
                    ("consider_context_untrusted".to_owned(), attribute(T::Bool, C::Optional, false, "Start every conversation untrusted (default `false`).")),
                    ("require_virtual_key".to_owned(), attribute(T::Bool, C::Optional, false, "Refuse requests that bring their own provider key instead of a Gatehouse virtual key (default `false`).")),
                    ("log_bodies".to_owned(), attribute(T::String, C::Optional, false, "What interaction records keep of each request: `none` (counts and timings), `metadata` (default: also body sizes, finish reasons, tool names) or `full` (also the bodies, 64 KiB each at most).")),
                    ("allowed_models".to_owned(), attribute(T::Map(Box::new(T::List(Box::new(T::String)))), C::Optional, false, "Per provider, the models this profile may call (exact names or `*` globs); a provider not listed is unrestricted.")),
                    version_attribute(),
                ]
                .into_iter()
                .collect(),
                ..Default::default()
            },
        }
    }

    fn validate(diags: &mut Diagnostics, config: &ProfileState<'_>) {
        super::validate_one_of(
            diags,
            &config.log_bodies,
            "log_bodies",
            &["none", "metadata", "full"],
        );
        validate_name(diags, &config.name);
        validate_uuid(diags, &config.team_id, "team_id");
        if let Value::Value(models) = &config.allowed_models {
            for provider in models.keys() {
                validate_provider(diags, provider, AttributePath::new("allowed_models"));
            }
        }
    }

    fn version(state: &ProfileState<'_>) -> Option<i64> {
        state.version.as_ref_option().copied()
    }

    fn requires_replace(
        prior: &ProfileState<'_>,
        planned: &ProfileState<'_>,
    ) -> Vec<AttributePath> {
        if prior.team_id != planned.team_id {
            vec![AttributePath::new("team_id")]
        } else {
            Vec::new()
        }
    }

    fn id(state: &ProfileState<'_>) -> Option<String> {
        state.id.as_ref_option().map(|s| s.to_string())
    }

    fn lookup_key(model: &Self::Model) -> Option<String> {
        Some(model.name.clone())
    }

    fn imported<'a>(id: String) -> ProfileState<'a> {
        ProfileState {
            id: ValueString::from(id),
            ..Default::default()
        }
    }

    fn plan<'a>(planned: &mut ProfileState<'a>, prior: Option<&ProfileState<'a>>) {
        super::plan_versioned(
            planned,
            prior,
            |s| s.id = ValueString::Unknown,
            |s| s.version = ValueNumber::Unknown,
        );
    }

    fn body(state: &ProfileState<'_>) -> ProfileBody {
        let models = state
            .allowed_models
            .as_ref_option()
            .map(|m| {
                m.iter()
                    .map(|(provider, models)| {
                        let list = models
                            .as_ref_option()
                            .map(|l| {
                                l.iter()
                                    .filter_map(|v| v.as_ref_option().map(|s| s.to_string()))
                                    .collect()
                            })
                            .unwrap_or_default();
                        (provider.to_string(), list)
                    })
                    .collect()
            })
            .unwrap_or_default();
        ProfileBody {
            name: known(&state.name),
            description: state.description.as_ref_option().map(|s| s.to_string()),
            team_id: state.team_id.as_ref_option().map(|s| s.to_string()),
            labels: string_map(&state.labels),
            consider_context_untrusted: state.consider_context_untrusted.as_ref_option()
                == Some(&true),
            require_virtual_key: state.require_virtual_key.as_ref_option() == Some(&true),
            allowed_models: models,
            log_bodies: state.log_bodies.as_ref_option().map(|s| s.to_string()),
        }
    }

    fn from_model<'a>(model: Profile, prior: &ProfileState<'a>) -> ProfileState<'a>
    where
        'a: 'a,
    {
        let allowed_models = if model.allowed_models.is_empty() && prior.allowed_models.is_null() {
            Value::Null
        } else {
            Value::Value(
                model
                    .allowed_models
                    .into_iter()
                    .map(|(p, list)| {
                        let list = list.into_iter().map(ValueString::from).collect();
                        (Cow::Owned(p.as_str().to_owned()), Value::Value(list))
                    })
                    .collect(),
            )
        };
        ProfileState {
            id: ValueString::from(model.id.to_string()),
            name: ValueString::from(model.name),
            description: super::optional(model.description),
            team_id: super::optional(model.team_id.map(|t| t.to_string())),
            labels: map_state(model.labels, !prior.labels.is_null(), ValueString::from),
            consider_context_untrusted: bool_state(
                model.consider_context_untrusted,
                &prior.consider_context_untrusted,
            ),
            require_virtual_key: bool_state(model.require_virtual_key, &prior.require_virtual_key),
            allowed_models,
            // The default stays unset when the configuration leaves it unset.
            log_bodies: if model.log_bodies == LogBodies::default() && prior.log_bodies.is_null() {
                Value::Null
            } else {
                ValueString::from(model.log_bodies.as_str())
            },
            version: ValueNumber::Value(model.version),
        }
    }

    fn from_created<'a>(created: Profile, planned: &ProfileState<'a>) -> ProfileState<'a>
    where
        'a: 'a,
    {
        Self::from_model(created, planned)
    }
}
