//! `gatehouse_virtual_key`: a `gh_vk_…` token handed to applications. The token is
//! returned once, at creation, and kept (sensitive) in state; it cannot be imported.

use std::borrow::Cow;
use std::collections::BTreeMap;

use api_types::{VirtualKey, VirtualKeyCreated};
use serde::{Deserialize, Serialize};
use tf_provider::schema::{
    AttributeConstraint as C, AttributeType as T, Block, Description, Schema,
};
use tf_provider::value::{ValueMap, ValueString};
use tf_provider::{AttributePath, Diagnostics};

use super::profile::{known, validate_name};
use super::provider_key::validate_provider;
use super::{attribute, id_attribute, RestObject};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
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
}

pub struct VirtualKeyObject;

/// Request body; ids stay strings so malformed ones reach the API's own validation.
#[derive(Serialize)]
pub struct VirtualKeyBody {
    name: String,
    profile_id: String,
    provider_keys: BTreeMap<String, String>,
    expires_at: Option<String>,
}

fn parse_time(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
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
                ]
                .into_iter()
                .collect(),
                ..Default::default()
            },
        }
    }

    fn validate(diags: &mut Diagnostics, config: &VirtualKeyState<'_>) {
        validate_name(diags, &config.name);
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

    fn plan(planned: &mut VirtualKeyState<'_>, prior: Option<&VirtualKeyState<'_>>) {
        if prior.is_none() {
            planned.id = ValueString::Unknown;
            planned.token = ValueString::Unknown;
            planned.token_prefix = ValueString::Unknown;
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
        }
    }

    fn from_model<'a>(model: VirtualKey, prior: &VirtualKeyState<'a>) -> VirtualKeyState<'a>
    where
        'a: 'a,
    {
        // Keep the configured spelling of an unchanged expiry (`+00:00` vs `Z`).
        let expires_at = match (model.expires_at, prior.expires_at.as_ref_option()) {
            (Some(at), Some(written)) if parse_time(written) == Some(at) => {
                prior.expires_at.clone()
            }
            (Some(at), _) => {
                ValueString::from(at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
            }
            (None, _) => ValueString::Null,
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
