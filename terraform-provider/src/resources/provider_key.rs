//! `gatehouse_provider_key`: an upstream provider credential. The API never returns the
//! secret. Either Terraform holds it (`secret`, sensitive, in state) or it stays out of
//! state entirely (`secret_env`: the provider reads the named environment variable when it
//! plans and applies, and keeps only the fingerprint). A secret changed outside Terraform
//! shows as drift through the fingerprint the API reports.

use std::borrow::Cow;
use std::collections::BTreeMap;

use api_types::{secret_fingerprint, Provider, ProviderKey};
use serde::{Deserialize, Serialize};
use tf_provider::schema::{
    AttributeConstraint as C, AttributeType as T, Block, Description, Schema,
};
use tf_provider::value::{Value, ValueBool, ValueMap, ValueNumber, ValueString};
use tf_provider::{AttributePath, Diagnostics};

use super::profile::{bool_state, known, map_state, string_map, validate_name};
use super::{attribute, id_attribute, validate_uuid, version_attribute, RestObject};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProviderKeyState<'a> {
    #[serde(borrow)]
    pub id: ValueString<'a>,
    #[serde(borrow)]
    pub name: ValueString<'a>,
    #[serde(borrow)]
    pub provider_type: ValueString<'a>,
    #[serde(borrow)]
    pub secret: ValueString<'a>,
    #[serde(borrow)]
    pub secret_env: ValueString<'a>,
    #[serde(borrow)]
    pub base_url: ValueString<'a>,
    #[serde(borrow)]
    pub team_id: ValueString<'a>,
    #[serde(borrow)]
    pub extra_headers: ValueMap<'a, ValueString<'a>>,
    pub is_default: ValueBool,
    #[serde(borrow)]
    pub secret_last_four: ValueString<'a>,
    #[serde(borrow)]
    pub secret_fingerprint: ValueString<'a>,
    pub version: ValueNumber,
}

pub struct ProviderKeyObject;

/// The body of both create and update. The provider stays a string so an unknown one
/// reaches the API and is refused there.
#[derive(Serialize)]
pub struct ProviderKeyBody {
    name: String,
    provider: String,
    secret: Option<String>,
    base_url: Option<String>,
    team_id: Option<String>,
    extra_headers: BTreeMap<String, String>,
    is_default: bool,
}

fn last_four(secret: &str) -> String {
    let skip = secret.chars().count().saturating_sub(4);
    secret.chars().skip(skip).collect()
}

/// Checks a known provider name against the providers Gatehouse knows.
pub fn validate_provider(diags: &mut Diagnostics, value: &str, path: AttributePath) {
    if let Err(e) = value.parse::<Provider>() {
        diags.error("Unknown provider", e.to_string(), path);
    }
}

/// The secret the configuration gives: `secret`, or the value of the `secret_env`
/// variable in the provider's environment.
fn configured_secret(state: &ProviderKeyState<'_>) -> Option<String> {
    match (&state.secret, &state.secret_env) {
        (Value::Value(secret), _) => Some(secret.to_string()),
        (_, Value::Value(name)) => std::env::var(name.as_ref()).ok(),
        _ => None,
    }
}

impl RestObject for ProviderKeyObject {
    type State<'a> = ProviderKeyState<'a>;
    type Model = ProviderKey;
    type Created = ProviderKey;
    type Body = ProviderKeyBody;

    const NAME: &'static str = "provider key";
    const PATH: &'static str = "/api/v1/provider-keys";

    fn schema() -> Schema {
        Schema {
            version: 1,
            block: Block {
                version: 1,
                description: Description::markdown("A provider API key stored encrypted in Gatehouse; virtual keys map to it. Give the secret as `secret` (kept in state, sensitive) or `secret_env` (never in state)."),
                attributes: [
                    id_attribute(),
                    ("name".to_owned(), attribute(T::String, C::Required, false, "Unique name, 1–128 characters.")),
                    ("provider_type".to_owned(), attribute(T::String, C::Required, false, "The LLM provider (`provider` is reserved by Terraform): `openai`, `anthropic`, `gemini`, `azure`, `bedrock`, `cohere`, `groq`, `mistral`, `xai`, `openrouter`, `cerebras`, `vllm`, `ollama`, `zhipuai`, `perplexity`, `minimax` or `deepseek`.")),
                    ("secret".to_owned(), attribute(T::String, C::Optional, true, "The provider's API key. Write-only in the API; kept in state as a sensitive value. Exactly one of `secret` and `secret_env`.")),
                    ("secret_env".to_owned(), attribute(T::String, C::Optional, false, "Name of an environment variable holding the provider's API key, read by the provider at plan and apply time. The secret never enters Terraform state; only its fingerprint does, so a changed variable or a secret replaced outside Terraform shows in the plan.")),
                    ("base_url".to_owned(), attribute(T::String, C::Optional, false, "Upstream base URL for this key; unset uses the provider's default.")),
                    ("team_id".to_owned(), attribute(T::String, C::Optional, false, "The owning team; unset for an organization-wide key. Changing it replaces the key.")),
                    ("extra_headers".to_owned(), attribute(T::Map(Box::new(T::String)), C::Optional, false, "Headers sent upstream with every request using this key (e.g. `OpenAI-Organization`).")),
                    ("is_default".to_owned(), attribute(T::Bool, C::Optional, false, "The team's (or organization's) default key for this provider, used by virtual keys that map none (default `false`).")),
                    ("secret_last_four".to_owned(), attribute(T::String, C::Computed, false, "Last four characters of the secret, as the API reports them.")),
                    ("secret_fingerprint".to_owned(), attribute(T::String, C::Computed, false, "`sha256:` and 16 hex digits of the secret's SHA-256, as the API reports it.")),
                    version_attribute(),
                ]
                .into_iter()
                .collect(),
                ..Default::default()
            },
        }
    }

    fn validate(diags: &mut Diagnostics, config: &ProviderKeyState<'_>) {
        validate_name(diags, &config.name);
        validate_uuid(diags, &config.team_id, "team_id");
        if let ValueString::Value(p) = &config.provider_type {
            validate_provider(diags, p, AttributePath::new("provider_type"));
        }
        match (&config.secret, &config.secret_env) {
            (Value::Value(_), Value::Value(_)) => diags.error_short(
                "set either secret or secret_env, not both",
                AttributePath::new("secret_env"),
            ),
            (Value::Null, Value::Null) => diags.error_short(
                "one of secret or secret_env is required",
                AttributePath::new("secret"),
            ),
            _ => {}
        }
        if let ValueString::Value(s) = &config.secret {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_graphic()) {
                diags.error_short(
                    "secret must be visible ASCII characters without spaces",
                    AttributePath::new("secret"),
                );
            }
        }
        if let ValueString::Value(url) = &config.base_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                diags.error_short(
                    "base_url must start with http:// or https://",
                    AttributePath::new("base_url"),
                );
            }
        }
    }

    fn plan_checks(diags: &mut Diagnostics, planned: &ProviderKeyState<'_>) {
        if let Value::Value(name) = &planned.secret_env {
            match std::env::var(name.as_ref()) {
                Ok(v) if !v.is_empty() => {}
                _ => diags.error(
                    "secret_env: environment variable not set",
                    format!("The provider reads the key from `{name}`, which is unset or empty in Terraform's environment."),
                    AttributePath::new("secret_env"),
                ),
            }
        }
    }

    fn id(state: &ProviderKeyState<'_>) -> Option<String> {
        state.id.as_ref_option().map(|s| s.to_string())
    }

    fn version(state: &ProviderKeyState<'_>) -> Option<i64> {
        state.version.as_ref_option().copied()
    }

    fn lookup_key(model: &Self::Model) -> Option<String> {
        Some(model.name.clone())
    }

    fn imported<'a>(id: String) -> ProviderKeyState<'a> {
        ProviderKeyState {
            id: ValueString::from(id),
            ..Default::default()
        }
    }

    fn plan<'a>(planned: &mut ProviderKeyState<'a>, prior: Option<&ProviderKeyState<'a>>) {
        // The fingerprint the configured secret will have: a different one than the API
        // reported is a change to apply.
        match configured_secret(planned) {
            Some(secret) => {
                planned.secret_fingerprint = ValueString::from(secret_fingerprint(&secret));
                planned.secret_last_four = ValueString::from(last_four(&secret));
            }
            None => {
                planned.secret_fingerprint = ValueString::Unknown;
                planned.secret_last_four = ValueString::Unknown;
            }
        }
        super::plan_versioned(
            planned,
            prior,
            |s| s.id = ValueString::Unknown,
            |s| s.version = ValueNumber::Unknown,
        );
    }

    fn requires_replace(
        prior: &ProviderKeyState<'_>,
        planned: &ProviderKeyState<'_>,
    ) -> Vec<AttributePath> {
        if prior.team_id != planned.team_id {
            vec![AttributePath::new("team_id")]
        } else {
            Vec::new()
        }
    }

    fn body(state: &ProviderKeyState<'_>) -> ProviderKeyBody {
        ProviderKeyBody {
            name: known(&state.name),
            provider: known(&state.provider_type),
            secret: configured_secret(state),
            base_url: state.base_url.as_ref_option().map(|s| s.to_string()),
            team_id: state.team_id.as_ref_option().map(|s| s.to_string()),
            extra_headers: string_map(&state.extra_headers),
            is_default: state.is_default.as_ref_option() == Some(&true),
        }
    }

    fn from_model<'a>(model: ProviderKey, prior: &ProviderKeyState<'a>) -> ProviderKeyState<'a>
    where
        'a: 'a,
    {
        // The API never returns the secret: keep the one in state unless the fingerprint
        // shows it was replaced outside Terraform.
        let secret = match &prior.secret {
            ValueString::Value(s) if secret_fingerprint(s) == model.secret_fingerprint => {
                prior.secret.clone()
            }
            _ => ValueString::Null,
        };
        ProviderKeyState {
            id: ValueString::from(model.id.to_string()),
            name: ValueString::from(model.name),
            provider_type: ValueString::from(model.provider.as_str()),
            secret,
            secret_env: prior.secret_env.clone(),
            base_url: super::optional(model.base_url),
            team_id: super::optional(model.team_id.map(|t| t.to_string())),
            extra_headers: map_state(
                model.extra_headers,
                !prior.extra_headers.is_null(),
                |v: String| ValueString::Value(Cow::Owned(v)),
            ),
            is_default: bool_state(model.is_default, &prior.is_default),
            secret_last_four: ValueString::from(model.secret_last_four),
            secret_fingerprint: ValueString::from(model.secret_fingerprint),
            version: ValueNumber::Value(model.version),
        }
    }

    fn from_created<'a>(
        created: ProviderKey,
        planned: &ProviderKeyState<'a>,
    ) -> ProviderKeyState<'a>
    where
        'a: 'a,
    {
        Self::from_model(created, planned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(fingerprint: &str) -> ProviderKey {
        ProviderKey {
            id: uuid::Uuid::nil(),
            name: "k".into(),
            provider: Provider::Openai,
            team_id: None,
            base_url: None,
            extra_headers: Default::default(),
            is_default: false,
            secret_last_four: "1234".into(),
            secret_fingerprint: fingerprint.into(),
            version: 1,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn a_secret_replaced_outside_terraform_shows_as_drift() {
        let prior = ProviderKeyState {
            secret: ValueString::from("sk-abcd1234"),
            ..Default::default()
        };
        let same = model(&secret_fingerprint("sk-abcd1234"));
        assert_eq!(
            ProviderKeyObject::from_model(same, &prior).secret,
            prior.secret
        );
        let replaced = model(&secret_fingerprint("sk-other1234"));
        assert_eq!(
            ProviderKeyObject::from_model(replaced, &prior).secret,
            ValueString::Null
        );
    }

    #[test]
    fn secret_env_plans_the_fingerprint_of_the_variable() {
        std::env::set_var("GH_TF_TEST_SECRET", "sk-from-env");
        let mut planned = ProviderKeyState {
            secret_env: ValueString::from("GH_TF_TEST_SECRET"),
            ..Default::default()
        };
        ProviderKeyObject::plan(&mut planned, None);
        assert_eq!(
            planned.secret_fingerprint,
            ValueString::from(secret_fingerprint("sk-from-env"))
        );
        assert_eq!(
            ProviderKeyObject::body(&planned).secret.as_deref(),
            Some("sk-from-env")
        );
    }
}
