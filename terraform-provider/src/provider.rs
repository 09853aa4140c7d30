//! The `gatehouse` provider block: `base_url` and `api_key`, or `GATEHOUSE_BASE_URL` and
//! `GATEHOUSE_API_KEY`.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{
    Attribute, AttributeConstraint, AttributeType, Block, Description, Schema,
};
use tf_provider::value::{ValueEmpty, ValueString};
use tf_provider::{AttributePath, Diagnostics, DynamicDataSource, DynamicResource, Provider};

use crate::client::Api;
use crate::resources::api_key::ApiKeyObject;
use crate::resources::organization::OrganizationObject;
use crate::resources::policy::{ToolInvocationPolicyObject, TrustedDataPolicyObject};
use crate::resources::{limit::LimitObject, model_price::ModelPriceObject, team::TeamObject};
use crate::resources::{profile::ProfileObject, provider_key::ProviderKeyObject};
use crate::resources::{virtual_key::VirtualKeyObject, RestResource};

/// The API client, shared with every resource; set by `configure`.
pub type SharedApi = Arc<OnceLock<Api>>;

#[derive(Default)]
pub struct GatehouseProvider {
    api: SharedApi,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ProviderConfig<'a> {
    #[serde(borrow)]
    pub base_url: ValueString<'a>,
    #[serde(borrow)]
    pub api_key: ValueString<'a>,
}

/// A value from the configuration, else from the environment variable `env`.
fn setting(value: &ValueString<'_>, env: &str) -> Option<String> {
    value
        .as_ref_option()
        .map(|s| s.to_string())
        .or_else(|| std::env::var(env).ok())
        .filter(|s| !s.is_empty())
}

#[async_trait]
impl Provider for GatehouseProvider {
    type Config<'a> = ProviderConfig<'a>;
    type MetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        let attr = |desc: &str, sensitive| Attribute {
            attr_type: AttributeType::String,
            description: Description::markdown(desc),
            constraint: AttributeConstraint::Optional,
            sensitive,
            deprecated: false,
        };
        Some(Schema {
            version: 1,
            block: Block {
                version: 1,
                description: Description::markdown("Configure a Gatehouse control plane."),
                attributes: [
                    ("base_url".to_owned(), attr("Control-plane URL, e.g. `http://localhost:9000`. Environment: `GATEHOUSE_BASE_URL`.", false)),
                    ("api_key".to_owned(), attr("Admin API key. Environment: `GATEHOUSE_API_KEY`.", true)),
                ]
                .into_iter()
                .collect(),
                ..Default::default()
            },
        })
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: Self::Config<'a>) -> Option<()> {
        if let ValueString::Value(url) = &config.base_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                diags.error_short(
                    "base_url must start with http:// or https://",
                    AttributePath::new("base_url"),
                );
            }
        }
        Some(())
    }

    async fn configure<'a>(
        &self,
        diags: &mut Diagnostics,
        _terraform_version: String,
        config: Self::Config<'a>,
    ) -> Option<()> {
        let Some(base_url) = setting(&config.base_url, "GATEHOUSE_BASE_URL") else {
            diags.error(
                "Missing Gatehouse base URL",
                "Set `base_url` in the provider block or GATEHOUSE_BASE_URL.",
                AttributePath::new("base_url"),
            );
            return None;
        };
        let Some(api_key) = setting(&config.api_key, "GATEHOUSE_API_KEY") else {
            diags.error(
                "Missing Gatehouse API key",
                "Set `api_key` in the provider block or GATEHOUSE_API_KEY.",
                AttributePath::new("api_key"),
            );
            return None;
        };
        match Api::new(&base_url, &api_key) {
            Ok(api) => {
                // A second configure (never sent by Terraform) keeps the first client.
                let _ = self.api.set(api);
                Some(())
            }
            Err(e) => {
                e.report(diags, "Configuring the provider");
                None
            }
        }
    }

    fn get_resources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicResource>>> {
        let mut resources: HashMap<String, Box<dyn DynamicResource>> = HashMap::new();
        resources.insert(
            "profile".into(),
            Box::new(RestResource::<ProfileObject>::new(self.api.clone())),
        );
        resources.insert(
            "provider_key".into(),
            Box::new(RestResource::<ProviderKeyObject>::new(self.api.clone())),
        );
        resources.insert(
            "virtual_key".into(),
            Box::new(RestResource::<VirtualKeyObject>::new(self.api.clone())),
        );
        resources.insert(
            "api_key".into(),
            Box::new(RestResource::<ApiKeyObject>::new(self.api.clone())),
        );
        resources.insert(
            "organization_settings".into(),
            Box::new(RestResource::<OrganizationObject>::new(self.api.clone())),
        );
        resources.insert(
            "tool_invocation_policy".into(),
            Box::new(RestResource::<ToolInvocationPolicyObject>::new(
                self.api.clone(),
            )),
        );
        resources.insert(
            "trusted_data_policy".into(),
            Box::new(RestResource::<TrustedDataPolicyObject>::new(
                self.api.clone(),
            )),
        );
        resources.insert(
            "team".into(),
            Box::new(RestResource::<TeamObject>::new(self.api.clone())),
        );
        resources.insert(
            "limit".into(),
            Box::new(RestResource::<LimitObject>::new(self.api.clone())),
        );
        resources.insert(
            "model_price".into(),
            Box::new(RestResource::<ModelPriceObject>::new(self.api.clone())),
        );
        Some(resources)
    }

    fn get_data_sources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicDataSource>>> {
        use crate::data_sources::{ByName, Models};
        let mut sources: HashMap<String, Box<dyn DynamicDataSource>> = HashMap::new();
        sources.insert(
            "team".into(),
            Box::new(ByName::<TeamObject>::new(self.api.clone())),
        );
        sources.insert(
            "profile".into(),
            Box::new(ByName::<ProfileObject>::new(self.api.clone())),
        );
        sources.insert(
            "provider_key".into(),
            Box::new(ByName::<ProviderKeyObject>::new(self.api.clone())),
        );
        sources.insert("models".into(), Box::new(Models::new(self.api.clone())));
        Some(sources)
    }
}
