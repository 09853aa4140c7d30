//! `gatehouse_provider_key`: an upstream provider credential. The secret is sent to the
//! API and kept (sensitive) in state, because the API never returns it; a secret changed
//! outside Terraform is detected through its last four characters.

use api_types::{Provider, ProviderKey};
use serde::{Deserialize, Serialize};
use tf_provider::schema::{
    AttributeConstraint as C, AttributeType as T, Block, Description, Schema,
};
use tf_provider::value::ValueString;
use tf_provider::{AttributePath, Diagnostics};

use super::profile::{known, validate_name};
use super::{attribute, id_attribute, RestObject};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
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
    pub base_url: ValueString<'a>,
    #[serde(borrow)]
    pub secret_last_four: ValueString<'a>,
}

pub struct ProviderKeyObject;

/// The body of both create and update (`secret` always sent: Terraform holds it). The
/// provider stays a string so an unknown one reaches the API and is refused there.
#[derive(Serialize)]
pub struct ProviderKeyBody {
    name: String,
    provider: String,
    secret: Option<String>,
    base_url: Option<String>,
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
                description: Description::markdown("A provider API key stored encrypted in Gatehouse; virtual keys map to it."),
                attributes: [
                    id_attribute(),
                    ("name".to_owned(), attribute(T::String, C::Required, false, "Unique name, 1–128 characters.")),
                    ("provider_type".to_owned(), attribute(T::String, C::Required, false, "The LLM provider (`provider` is reserved by Terraform): `openai`, `anthropic`, `gemini`, `azure`, `bedrock`, `cohere`, `groq`, `mistral`, `xai`, `openrouter`, `cerebras`, `vllm`, `ollama`, `zhipuai`, `perplexity`, `minimax` or `deepseek`.")),
                    ("secret".to_owned(), attribute(T::String, C::Required, true, "The provider's API key. Write-only in the API; kept in state as a sensitive value.")),
                    ("base_url".to_owned(), attribute(T::String, C::Optional, false, "Upstream base URL for this key; unset uses the provider's default.")),
                    ("secret_last_four".to_owned(), attribute(T::String, C::Computed, false, "Last four characters of the secret, as the API reports them.")),
                ]
                .into_iter()
                .collect(),
                ..Default::default()
            },
        }
    }

    fn validate(diags: &mut Diagnostics, config: &ProviderKeyState<'_>) {
        validate_name(diags, &config.name);
        if let ValueString::Value(p) = &config.provider_type {
            validate_provider(diags, p, AttributePath::new("provider_type"));
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

    fn id(state: &ProviderKeyState<'_>) -> Option<String> {
        state.id.as_ref_option().map(|s| s.to_string())
    }

    fn imported<'a>(id: String) -> ProviderKeyState<'a> {
        ProviderKeyState {
            id: ValueString::from(id),
            ..Default::default()
        }
    }

    fn plan(planned: &mut ProviderKeyState<'_>, prior: Option<&ProviderKeyState<'_>>) {
        match prior {
            None => {
                planned.id = ValueString::Unknown;
                planned.secret_last_four = ValueString::Unknown;
            }
            Some(prior) if prior.secret != planned.secret => {
                planned.secret_last_four = match &planned.secret {
                    ValueString::Value(s) => ValueString::from(last_four(s)),
                    _ => ValueString::Unknown,
                };
            }
            Some(_) => {}
        }
    }

    fn body(state: &ProviderKeyState<'_>) -> ProviderKeyBody {
        ProviderKeyBody {
            name: known(&state.name),
            provider: known(&state.provider_type),
            secret: state.secret.as_ref_option().map(|s| s.to_string()),
            base_url: state.base_url.as_ref_option().map(|s| s.to_string()),
        }
    }

    fn from_model<'a>(model: ProviderKey, prior: &ProviderKeyState<'a>) -> ProviderKeyState<'a>
    where
        'a: 'a,
    {
        // The API never returns the secret: keep the one in state unless the key's last
        // four characters show it was replaced outside Terraform.
        let secret = match &prior.secret {
            ValueString::Value(s) if last_four(s) == model.secret_last_four => prior.secret.clone(),
            _ => ValueString::Null,
        };
        ProviderKeyState {
            id: ValueString::from(model.id.to_string()),
            name: ValueString::from(model.name),
            provider_type: ValueString::from(model.provider.as_str()),
            secret,
            base_url: super::optional(model.base_url),
            secret_last_four: ValueString::from(model.secret_last_four),
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

    #[test]
    fn a_secret_replaced_outside_terraform_shows_as_drift() {
        let prior = ProviderKeyState {
            secret: ValueString::from("sk-abcd1234"),
            ..Default::default()
        };
        let mut model = ProviderKey {
            id: uuid::Uuid::nil(),
            name: "k".into(),
            provider: Provider::Openai,
            team_id: None,
            base_url: None,
            extra_headers: Default::default(),
            is_default: false,
            secret_last_four: "1234".into(),
            secret_fingerprint: String::new(),
            version: 1,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        };
        assert_eq!(
            ProviderKeyObject::from_model(model.clone(), &prior).secret,
            prior.secret
        );
        model.secret_last_four = "9999".into();
        assert_eq!(
            ProviderKeyObject::from_model(model, &prior).secret,
            ValueString::Null
        );
    }
}
