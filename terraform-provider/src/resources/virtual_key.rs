//! `gatehouse_virtual_key`: a `gh_vk_…` token handed to applications. The token is
//! returned once, at creation, and kept (sensitive) in state; it cannot be imported.

use std::borrow::Cow;
use std::collections::BTreeMap;

use api_types::{VirtualKey, VirtualKeyCreated};
use serde::{Deserialize, Serialize};
use tf_provider::schema::{
    AttributeConstraint as C, AttributeType as T, Block, Description, Schema,
};
use tf_provider::value::{Value, ValueList, ValueMap, ValueNumber, ValueString};
use tf_provider::{AttributePath, Diagnostics};

use super::profile::{known, validate_name};
use super::provider_key::validate_provider;
use super::{attribute, id_attribute, validate_uuid, version_attribute, RestObject};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VirtualKeyState<'a> {
    #[serde(borrow)]
    pub id: ValueString<'a>,
    #[serde(borrow)]
    pub name: ValueString<'a>,
    #[serde(borrow)]
    pub profile_id: ValueString<'a>,
    #[serde(borrow)]
    pub provider_keys: ValueMap<'a, ValueString<'a>>,
    #[serde(borrow)]
    pub expires_at: ValueString<'a>,
    #[serde(borrow)]
    pub token: ValueString<'a>,
    #[serde(borrow)]
    pub token_prefix: ValueString<'a>,
    #[serde(borrow)]
    pub team_id: ValueString<'a>,
    #[serde(borrow)]
    pub allowed_models: ValueList<ValueString<'a>>,
    pub version: ValueNumber,
}

pub struct VirtualKeyObject;

/// Request body; ids stay strings so malformed ones reach the API's own validation.
#[derive(Serialize)]
pub struct VirtualKeyBody {
    name: String,
    profile_id: String,
    provider_keys: BTreeMap<String, String>,
    expires_at: Option<String>,
    team_id: Option<String>,
    allowed_models: Vec<String>,
}

/// An RFC 3339 time.
pub fn parse_time(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// An expiry as state, keeping the configured spelling of an unchanged time (`+00:00` vs
/// `Z`).
pub fn expiry_state<'a>(
    at: Option<chrono::DateTime<chrono::Utc>>,
    prior: &ValueString<'a>,
) -> ValueString<'a> {
    match (at, prior.as_ref_option()) {
        (Some(at), Some(written)) if parse_time(written) == Some(at) => prior.clone(),
        (Some(at), _) => ValueString::from(at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
        (None, _) => ValueString::Null,
    }
}

impl RestObject for VirtualKeyObject {
    type State<'a> = VirtualKeyState<'a>;
    type Model = VirtualKey;
    type Created = VirtualKeyCreated;
    type Body = VirtualKeyBody;

    const NAME: &'static str = "virtual key";
    const PATH: &'static str = "/api/v1/virtual-keys";

    fn schema() -> Schema {
        Schema {
            version: 1,
            block: Block {
                version: 1,
                description: Description::markdown("A Gatehouse virtual key: applications send it as their provider API key; the data plane swaps it for the mapped provider key."),
                attributes: [
                    id_attribute(),
                    ("name".to_owned(), attribute(T::String, C::Required, false, "Name, 1–128 characters.")),
                    ("profile_id".to_owned(), attribute(T::String, C::Required, false, "The profile this key may be used with.")),
                    ("provider_keys".to_owned(), attribute(T::Map(Box::new(T::String)), C::Optional, false, "Provider name → `gatehouse_provider_key` id used for that provider.")),
                    ("expires_at".to_owned(), attribute(T::String, C::Optional, false, "RFC 3339 time after which the key is refused.")),
                    ("token".to_owned(), attribute(T::String, C::Computed, true, "The `gh_vk_…` token. Known only to the Terraform run that created the key (null after import).")),
                    ("token_prefix".to_owned(), attribute(T::String, C::Computed, false, "The token's first characters, to recognise it.")),
                    ("team_id".to_owned(), attribute(T::String, C::Optional, false, "The owning team: the profile's team (unset for an organization-wide profile). Changing it replaces the key.")),
                    ("allowed_models".to_owned(), attribute(T::List(Box::new(T::String)), C::Optional, false, "Models this key may call (exact names or `*` globs); unset or empty allows every model the profile allows.")),
                    version_attribute(),
                ]
                .into_iter()
                .collect(),
                ..Default::default()
            },
        }
    }

    fn validate(diags: &mut Diagnostics, config: &VirtualKeyState<'_>) {
        validate_name(diags, &config.name);
        validate_uuid(diags, &config.team_id, "team_id");
        if let ValueString::Value(id) = &config.profile_id {
            if uuid::Uuid::parse_str(id).is_err() {
                diags.error_short(
                    "profile_id must be a profile id (UUID)",
                    AttributePath::new("profile_id"),
                );
            }
        }
        if let ValueMap::Value(map) = &config.provider_keys {
            for (provider, id) in map {
                let path = AttributePath::new("provider_keys").key(provider.to_string());
                validate_provider(diags, provider, path.clone());
                if let ValueString::Value(id) = id {
                    if uuid::Uuid::parse_str(id).is_err() {
                        diags.error_short("must be a provider key id (UUID)", path);
                    }
                }
            }
        }
        if let ValueString::Value(at) = &config.expires_at {
            if parse_time(at).is_none() {
                diags.error_short(
                    "expires_at must be an RFC 3339 time, e.g. 2030-01-31T00:00:00Z",
                    AttributePath::new("expires_at"),
                );
            }
        }
    }

    fn id(state: &VirtualKeyState<'_>) -> Option<String> {
        state.id.as_ref_option().map(|s| s.to_string())
    }

    fn imported<'a>(id: String) -> VirtualKeyState<'a> {
        VirtualKeyState {
            id: ValueString::from(id),
            ..Default::default()
        }
    }

    fn version(state: &VirtualKeyState<'_>) -> Option<i64> {
        state.version.as_ref_option().copied()
    }

    fn plan<'a>(planned: &mut VirtualKeyState<'a>, prior: Option<&VirtualKeyState<'a>>) {
        super::plan_versioned(
            planned,
            prior,
            |s| {
                s.id = ValueString::Unknown;
                s.token = ValueString::Unknown;
                s.token_prefix = ValueString::Unknown;
            },
            |s| s.version = ValueNumber::Unknown,
        );
    }

    fn requires_replace(
        prior: &VirtualKeyState<'_>,
        planned: &VirtualKeyState<'_>,
    ) -> Vec<AttributePath> {
        // A team the configuration leaves unset is the profile's: not a change.
        match (&prior.team_id, &planned.team_id) {
            (Value::Value(a), Value::Value(b)) if a != b => vec![AttributePath::new("team_id")],
            _ => Vec::new(),
        }
    }

    fn body(state: &VirtualKeyState<'_>) -> VirtualKeyBody {
        VirtualKeyBody {
            name: known(&state.name),
            profile_id: known(&state.profile_id),
            provider_keys: state
                .provider_keys
                .as_ref_option()
                .map(|m| m.iter().map(|(k, v)| (k.to_string(), known(v))).collect())
                .unwrap_or_default(),
            expires_at: state.expires_at.as_ref_option().map(|s| s.to_string()),
            team_id: state.team_id.as_ref_option().map(|s| s.to_string()),
            allowed_models: state
                .allowed_models
                .as_ref_option()
                .map(|l| {
                    l.iter()
                        .filter_map(|v| v.as_ref_option().map(|s| s.to_string()))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    fn from_model<'a>(model: VirtualKey, prior: &VirtualKeyState<'a>) -> VirtualKeyState<'a>
    where
        'a: 'a,
    {
        let expires_at = expiry_state(model.expires_at, &prior.expires_at);
        // The team defaults to the profile's: keep it null when the configuration did.
        let team_id = match (&prior.team_id, model.team_id) {
            (Value::Null, _) => Value::Null,
            (_, team) => super::optional(team.map(|t| t.to_string())),
        };
        let allowed_models = if model.allowed_models.is_empty() && prior.allowed_models.is_null() {
            Value::Null
        } else {
            Value::Value(
                model
                    .allowed_models
                    .into_iter()
                    .map(ValueString::from)
                    .collect(),
            )
        };
        // An empty map reads back as null when the configuration left it out.
        let provider_keys = if model.provider_keys.is_empty() && prior.provider_keys.is_null() {
            ValueMap::Null
        } else {
            ValueMap::Value(
                model
                    .provider_keys
                    .into_iter()
                    .map(|(p, id)| {
                        (
                            Cow::Owned(p.as_str().to_owned()),
                            ValueString::from(id.to_string()),
                        )
                    })
                    .collect(),
            )
        };
        VirtualKeyState {
            id: ValueString::from(model.id.to_string()),
            name: ValueString::from(model.name),
            profile_id: ValueString::from(model.profile_id.to_string()),
            provider_keys,
            expires_at,
            token: prior.token.clone(),
            token_prefix: ValueString::from(model.token_prefix),
            team_id,
            allowed_models,
            version: ValueNumber::Value(model.version),
        }
    }

    fn from_created<'a>(
        created: VirtualKeyCreated,
        planned: &VirtualKeyState<'a>,
    ) -> VirtualKeyState<'a>
    where
        'a: 'a,
    {
        let mut state = Self::from_model(created.key, planned);
        state.token = ValueString::from(created.token);
        state
    }
}
