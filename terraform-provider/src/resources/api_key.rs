//! `gatehouse_api_key`: an admin REST API key (`gh_ak_…`) with a role and an optional team
//! scope. The token is returned once, at creation, and kept (sensitive) in state.

use api_types::{ApiKey, ApiKeyCreated};
use serde::{Deserialize, Serialize};
use tf_provider::schema::{
    AttributeConstraint as C, AttributeType as T, Block, Description, Schema,
};
use tf_provider::value::{ValueNumber, ValueString};
use tf_provider::{AttributePath, Diagnostics};

use super::profile::{known, validate_name};
use super::virtual_key::{expiry_state, parse_time};
use super::{
    attribute, id_attribute, validate_one_of, validate_uuid, version_attribute, RestObject,
};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyState<'a> {
    #[serde(borrow)]
    pub id: ValueString<'a>,
    #[serde(borrow)]
    pub name: ValueString<'a>,
    #[serde(borrow)]
    pub role: ValueString<'a>,
    #[serde(borrow)]
    pub team_id: ValueString<'a>,
    #[serde(borrow)]
    pub expires_at: ValueString<'a>,
    #[serde(borrow)]
    pub token: ValueString<'a>,
    #[serde(borrow)]
    pub token_prefix: ValueString<'a>,
    pub version: ValueNumber,
}

pub struct ApiKeyObject;

#[derive(Serialize)]
pub struct ApiKeyBody {
    name: String,
    role: String,
    team_id: Option<String>,
    expires_at: Option<String>,
}

const ROLES: [&str; 3] = ["admin", "editor", "viewer"];

impl RestObject for ApiKeyObject {
    type State<'a> = ApiKeyState<'a>;
    type Model = ApiKey;
    type Created = ApiKeyCreated;
    type Body = ApiKeyBody;

    const NAME: &'static str = "API key";
    const PATH: &'static str = "/api/v1/api-keys";

    fn schema() -> Schema {
        Schema {
            version: 1,
            block: Block {
                version: 1,
                description: Description::markdown("An API key for Gatehouse's REST API (and this provider): a role, and optionally a team it is confined to."),
                attributes: [
                    id_attribute(),
                    ("name".to_owned(), attribute(T::String, C::Required, false, "Name, 1–128 characters.")),
                    ("role".to_owned(), attribute(T::String, C::Required, false, "`admin`, `editor` or `viewer`.")),
                    ("team_id".to_owned(), attribute(T::String, C::Optional, false, "Confine the key to this team's objects; unset for an organization-wide key. Changing it replaces the key.")),
                    ("expires_at".to_owned(), attribute(T::String, C::Optional, false, "RFC 3339 time after which the key is refused.")),
                    ("token".to_owned(), attribute(T::String, C::Computed, true, "The `gh_ak_…` token. Known only to the Terraform run that created the key (null after import).")),
                    ("token_prefix".to_owned(), attribute(T::String, C::Computed, false, "The token's first characters, to recognise it.")),
                    version_attribute(),
                ]
                .into_iter()
                .collect(),
                ..Default::default()
            },
        }
    }

    fn validate(diags: &mut Diagnostics, config: &ApiKeyState<'_>) {
        validate_name(diags, &config.name);
        validate_one_of(diags, &config.role, "role", &ROLES);
        validate_uuid(diags, &config.team_id, "team_id");
        if let ValueString::Value(at) = &config.expires_at {
            if parse_time(at).is_none() {
                diags.error_short(
                    "expires_at must be an RFC 3339 time, e.g. 2030-01-31T00:00:00Z",
                    AttributePath::new("expires_at"),
                );
            }
        }
    }

    fn id(state: &ApiKeyState<'_>) -> Option<String> {
        state.id.as_ref_option().map(|s| s.to_string())
    }

    fn version(state: &ApiKeyState<'_>) -> Option<i64> {
        state.version.as_ref_option().copied()
    }

    fn lookup_key(model: &Self::Model) -> Option<String> {
        Some(model.name.clone())
    }

    fn imported<'a>(id: String) -> ApiKeyState<'a> {
        ApiKeyState {
            id: ValueString::from(id),
            ..Default::default()
        }
    }

    fn plan<'a>(planned: &mut ApiKeyState<'a>, prior: Option<&ApiKeyState<'a>>) {
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

    fn requires_replace(prior: &ApiKeyState<'_>, planned: &ApiKeyState<'_>) -> Vec<AttributePath> {
        if prior.team_id != planned.team_id {
            vec![AttributePath::new("team_id")]
        } else {
            Vec::new()
        }
    }

    fn body(state: &ApiKeyState<'_>) -> ApiKeyBody {
        ApiKeyBody {
            name: known(&state.name),
            role: known(&state.role),
            team_id: state.team_id.as_ref_option().map(|s| s.to_string()),
            expires_at: state.expires_at.as_ref_option().map(|s| s.to_string()),
        }
    }

    fn from_model<'a>(model: ApiKey, prior: &ApiKeyState<'a>) -> ApiKeyState<'a>
    where
        'a: 'a,
    {
        ApiKeyState {
            id: ValueString::from(model.id.to_string()),
            name: ValueString::from(model.name),
            role: ValueString::from(model.role.as_str()),
            team_id: super::optional(model.team_id.map(|t| t.to_string())),
            expires_at: expiry_state(model.expires_at, &prior.expires_at),
            token: prior.token.clone(),
            token_prefix: ValueString::from(model.token_prefix),
            version: ValueNumber::Value(model.version),
        }
    }

    fn from_created<'a>(created: ApiKeyCreated, planned: &ApiKeyState<'a>) -> ApiKeyState<'a>
    where
        'a: 'a,
    {
        let mut state = Self::from_model(created.key, planned);
        state.token = ValueString::from(created.token);
        state
    }
}
