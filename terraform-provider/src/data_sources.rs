//! Data sources: look an object up by name (`gatehouse_team`, `gatehouse_profile`,
//! `gatehouse_provider_key`), and list the model price table (`gatehouse_models`).

use std::borrow::Cow;
use std::marker::PhantomData;

use api_types::{ModelPrice, Page};
use async_trait::async_trait;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeConstraint, AttributeType as T, Block, Description, Schema};
use tf_provider::value::{Value, ValueEmpty, ValueList, ValueString};
use tf_provider::{AttributePath, DataSource, Diagnostics};

use crate::client::{Api, ApiError};
use crate::provider::SharedApi;
use crate::resources::{attribute, RestObject};

/// Every object of a collection, page by page.
pub async fn list_all<M: DeserializeOwned>(api: &Api, path: &str) -> Result<Vec<M>, ApiError> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("{path}?limit=500&cursor={c}"),
            None => format!("{path}?limit=500"),
        };
        let page: Option<Page<M>> = api.call(Method::GET, &query, None::<&()>).await?;
        let Some(page) = page else { return Ok(all) };
        all.extend(page.data);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(all),
        }
    }
}

/// `data "gatehouse_<object>"`: the object whose `name` matches.
pub struct ByName<O> {
    api: SharedApi,
    object: PhantomData<O>,
}

impl<O> ByName<O> {
    pub fn new(api: SharedApi) -> Self {
        Self {
            api,
            object: PhantomData,
        }
    }
}

/// The object whose lookup key (its name) is `name`, or a diagnostic saying why not.
pub async fn find_by_name<O: RestObject>(
    diags: &mut Diagnostics,
    api: &Api,
    name: &str,
) -> Option<O::Model> {
    match list_all::<O::Model>(api, O::PATH).await {
        Ok(all) => {
            let found = all
                .into_iter()
                .find(|m| O::lookup_key(m).as_deref() == Some(name));
            if found.is_none() {
                diags.error(
                    format!("No {} named `{name}`", O::NAME),
                    "Names are matched exactly, among the objects the provider's API key can see.",
                    AttributePath::new("name"),
                );
            }
            found
        }
        Err(e) => {
            e.report(diags, &format!("Looking up {} `{name}`", O::NAME));
            None
        }
    }
}

#[async_trait]
impl<O: RestObject> DataSource for ByName<O>
where
    for<'a> O::State<'a>: NameField,
{
    type State<'a> = O::State<'a>;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        // The resource's attributes, all computed except the `name` looked up.
        let mut schema = O::schema();
        for (name, attr) in schema.block.attributes.iter_mut() {
            attr.constraint = if name == "name" {
                AttributeConstraint::Required
            } else {
                AttributeConstraint::Computed
            };
        }
        for block in schema.block.blocks.values_mut() {
            let inner = match block {
                tf_provider::schema::NestedBlock::List(b)
                | tf_provider::schema::NestedBlock::Set(b)
                | tf_provider::schema::NestedBlock::Single(b)
                | tf_provider::schema::NestedBlock::Map(b)
                | tf_provider::schema::NestedBlock::Group(b)
                | tf_provider::schema::NestedBlock::Optional(b) => b,
            };
            for attr in inner.attributes.values_mut() {
                attr.constraint = AttributeConstraint::Computed;
            }
        }
        schema.block.description =
            Description::markdown(format!("Looks up a {} by its name.", O::NAME));
        Some(schema)
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        config: Self::State<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<Self::State<'a>> {
        let Some(api) = self.api.get() else {
            diags.root_error_short("The gatehouse provider is not configured");
            return None;
        };
        let name = config.name()?;
        let model = find_by_name::<O>(diags, api, &name).await?;
        Some(O::from_model(model, &O::State::default()))
    }
}

/// The `name` a lookup is for.
pub trait NameField: Default {
    fn name(&self) -> Option<String>;
}

macro_rules! name_field {
    ($($state:ident),*) => {$(
        impl NameField for crate::resources::$state<'_> {
            fn name(&self) -> Option<String> {
                self.name.as_ref_option().map(|s| s.to_string())
            }
        }
    )*};
}
name_field!(TeamState, ProfileState, ProviderKeyState);

/// `data "gatehouse_models"`: the price table, optionally for one provider.
pub struct Models {
    api: SharedApi,
}

impl Models {
    pub fn new(api: SharedApi) -> Self {
        Self { api }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ModelsState<'a> {
    #[serde(borrow)]
    pub provider_type: ValueString<'a>,
    #[serde(borrow)]
    pub models: ValueList<Value<ModelRow<'a>>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ModelRow<'a> {
    #[serde(borrow)]
    pub id: ValueString<'a>,
    #[serde(borrow)]
    pub provider_type: ValueString<'a>,
    #[serde(borrow)]
    pub model: ValueString<'a>,
    pub input_price_per_million: Value<f64>,
    pub output_price_per_million: Value<f64>,
    pub cached_input_price_per_million: Value<f64>,
}

#[async_trait]
impl DataSource for Models {
    type State<'a> = ModelsState<'a>;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        let row = [
            ("id", T::String),
            ("provider_type", T::String),
            ("model", T::String),
            ("input_price_per_million", T::Number),
            ("output_price_per_million", T::Number),
            ("cached_input_price_per_million", T::Number),
        ]
        .into_iter()
        .map(|(k, t)| (k.to_owned(), t))
        .collect();
        Some(Schema {
            version: 1,
            block: Block {
                version: 1,
                description: Description::markdown("The model price table (US dollars per million tokens), all of it or one provider's."),
                attributes: [
                    ("provider_type".to_owned(), attribute(T::String, AttributeConstraint::Optional, false, "Only this provider's models.")),
                    ("models".to_owned(), attribute(T::List(Box::new(T::Object(row))), AttributeConstraint::Computed, false, "One object per priced model: `id`, `provider_type`, `model`, `input_price_per_million`, `output_price_per_million`, `cached_input_price_per_million` (null when cached input is charged as input).")),
                ]
                .into_iter()
                .collect(),
                ..Default::default()
            },
        })
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: Self::State<'a>) -> Option<()> {
        if let Value::Value(p) = &config.provider_type {
            crate::resources::provider_key::validate_provider(
                diags,
                p,
                AttributePath::new("provider_type"),
            );
        }
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        config: Self::State<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<Self::State<'a>> {
        let Some(api) = self.api.get() else {
            diags.root_error_short("The gatehouse provider is not configured");
            return None;
        };
        let all = match list_all::<ModelPrice>(api, "/api/v1/models").await {
            Ok(all) => all,
            Err(e) => {
                e.report(diags, "Listing models");
                return None;
            }
        };
        let only = config.provider_type.as_ref_option().map(|p| p.to_string());
        let rows = all
            .into_iter()
            .filter(|m| only.as_deref().is_none_or(|p| m.provider.as_str() == p))
            .map(|m| {
                Value::Value(ModelRow {
                    id: ValueString::from(m.id.to_string()),
                    provider_type: ValueString::from(m.provider.as_str()),
                    model: ValueString::Value(Cow::Owned(m.model)),
                    input_price_per_million: Value::Value(m.input_price_per_million),
                    output_price_per_million: Value::Value(m.output_price_per_million),
                    cached_input_price_per_million: m.cached_input_price_per_million.into(),
                })
            })
            .collect();
        Some(ModelsState {
            provider_type: config.provider_type,
            models: Value::Value(rows),
        })
    }
}
