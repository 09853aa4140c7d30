//! One generic Terraform resource over the control plane's CRUD endpoints; each object
//! (`profile`, `provider_key`, `virtual_key`) says only what differs: its schema, its
//! request body, and how an API answer maps onto Terraform state.

pub mod api_key;
pub mod limit;
pub mod model_price;
pub mod organization;
pub mod policy;
pub mod profile;
pub mod provider_key;
pub mod team;
pub mod virtual_key;

pub use profile::ProfileState;
pub use provider_key::ProviderKeyState;
pub use team::TeamState;

use std::marker::PhantomData;

use async_trait::async_trait;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{Attribute, AttributeConstraint, AttributeType, Description, Schema};
use tf_provider::value::ValueEmpty;
use tf_provider::{AttributePath, Diagnostics, Resource};

use crate::client::{Api, ApiError};
use crate::provider::SharedApi;

/// What one REST-backed resource type defines.
pub trait RestObject: Send + Sync + 'static {
    type State<'a>: Serialize + Deserialize<'a> + Send + Clone + Default;
    /// The API's representation (read, update).
    type Model: DeserializeOwned + Send;
    /// The API's answer to a create (may carry a one-time token).
    type Created: DeserializeOwned + Send;
    type Body: Serialize + Send + Sync;

    /// Human name, for diagnostics ("profile").
    const NAME: &'static str;
    /// Collection path (`/api/v1/profiles`), or the object's path for a singleton.
    const PATH: &'static str;
    /// A singleton (the organization settings): read and written with `GET`/`PUT` on
    /// `PATH`, never deleted; destroy puts [`RestObject::defaults`] back.
    const SINGLETON: bool = false;

    fn schema() -> Schema;
    /// Plan-time checks of known values.
    fn validate(diags: &mut Diagnostics, config: &Self::State<'_>);
    fn id(state: &Self::State<'_>) -> Option<String>;
    /// The version last read (`ETag`), sent as `If-Match` on update; `None` when the
    /// object does not track one in state.
    fn version(_state: &Self::State<'_>) -> Option<i64> {
        None
    }
    /// What `terraform import` and the lookup data sources accept instead of an id: the
    /// object's unique name (`provider/model` for prices); `None` when there is none.
    fn lookup_key(_model: &Self::Model) -> Option<String> {
        None
    }
    /// The state `terraform import` starts from: only the id is known.
    fn imported<'a>(id: String) -> Self::State<'a>;
    /// Marks what the apply will compute as unknown; `prior` is `None` on create.
    fn plan<'a>(planned: &mut Self::State<'a>, prior: Option<&Self::State<'a>>);
    /// Plan-time checks that need more than the configuration (the environment).
    fn plan_checks(_diags: &mut Diagnostics, _planned: &Self::State<'_>) {}
    /// Attributes whose change the API cannot apply in place (the object is replaced).
    fn requires_replace(
        _prior: &Self::State<'_>,
        _planned: &Self::State<'_>,
    ) -> Vec<AttributePath> {
        Vec::new()
    }
    fn body(state: &Self::State<'_>) -> Self::Body;
    /// What a singleton returns to when destroyed.
    fn defaults() -> Option<Self::Body> {
        None
    }
    /// State from an API answer; `prior` supplies what the API never returns (secrets).
    fn from_model<'a>(model: Self::Model, prior: &Self::State<'a>) -> Self::State<'a>;
    fn from_created<'a>(created: Self::Created, planned: &Self::State<'a>) -> Self::State<'a>;
}

/// The Terraform resource for one [`RestObject`].
pub struct RestResource<O> {
    api: SharedApi,
    object: PhantomData<O>,
}

impl<O> RestResource<O> {
    pub fn new(api: SharedApi) -> Self {
        Self {
            api,
            object: PhantomData,
        }
    }

    fn api(&self, diags: &mut Diagnostics) -> Option<&Api> {
        let api = self.api.get();
        if api.is_none() {
            diags.root_error_short("The gatehouse provider is not configured");
        }
        api
    }
}

/// A schema attribute.
pub fn attribute(
    attr_type: AttributeType,
    constraint: AttributeConstraint,
    sensitive: bool,
    description: &str,
) -> Attribute {
    Attribute {
        attr_type,
        description: Description::markdown(description),
        constraint,
        sensitive,
        deprecated: false,
    }
}

/// The computed `id` attribute every resource has.
pub fn id_attribute() -> (String, Attribute) {
    (
        "id".to_owned(),
        attribute(
            AttributeType::String,
            AttributeConstraint::Computed,
            false,
            "Identifier assigned by Gatehouse.",
        ),
    )
}

/// The computed `version` attribute of objects that track one (optimistic concurrency:
/// an update is refused if the object changed since Terraform read it).
pub fn version_attribute() -> (String, Attribute) {
    (
        "version".to_owned(),
        attribute(
            AttributeType::Number,
            AttributeConstraint::Computed,
            false,
            "The object's version; every change increments it.",
        ),
    )
}

/// Plans a versioned object: `id` and `version` are unknown on create, and `version` is
/// unknown on an update that changes anything (a no-op plan stays clean).
pub fn plan_versioned<S: PartialEq>(
    planned: &mut S,
    prior: Option<&S>,
    unknown_id: fn(&mut S),
    unknown_version: fn(&mut S),
) {
    match prior {
        None => {
            unknown_id(planned);
            unknown_version(planned);
        }
        Some(prior) if prior != planned => unknown_version(planned),
        Some(_) => {}
    }
}

/// Checks a known value against the API's enumeration.
pub fn validate_one_of(
    diags: &mut Diagnostics,
    value: &tf_provider::value::ValueString<'_>,
    name: &'static str,
    allowed: &[&str],
) {
    if let tf_provider::value::Value::Value(v) = value {
        if !allowed.contains(&v.as_ref()) {
            diags.error(
                format!("Invalid {name}"),
                format!("`{v}` is not one of: {}", allowed.join(", ")),
                AttributePath::new(name),
            );
        }
    }
}

/// Checks that a known value is a UUID (an object id).
pub fn validate_uuid(
    diags: &mut Diagnostics,
    value: &tf_provider::value::ValueString<'_>,
    name: &'static str,
) {
    if let tf_provider::value::Value::Value(v) = value {
        if uuid::Uuid::parse_str(v).is_err() {
            diags.error(
                format!("Invalid {name}"),
                format!("`{v}` is not an id (a UUID)"),
                AttributePath::new(name),
            );
        }
    }
}

/// The object a call must return; a 404 or an error becomes a diagnostic.
fn required<T>(
    diags: &mut Diagnostics,
    result: Result<Option<T>, ApiError>,
    action: &str,
    missing: &str,
) -> Option<T> {
    match result {
        Ok(Some(value)) => Some(value),
        Ok(None) => {
            diags.root_error(format!("{action}: not found"), missing.to_owned());
            None
        }
        Err(e) => {
            e.report(diags, action);
            None
        }
    }
}

fn item_path<O: RestObject>(id: &str) -> String {
    if O::SINGLETON {
        O::PATH.to_owned()
    } else {
        format!("{}/{id}", O::PATH)
    }
}

#[async_trait]
impl<O: RestObject> Resource for RestResource<O> {
    type State<'a> = O::State<'a>;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(O::schema())
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: Self::State<'a>) -> Option<()> {
        O::validate(diags, &config);
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: Self::State<'a>,
        private_state: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let Some(id) = O::id(&state) else {
            return Some((state, private_state));
        };
        let api = match self.api(diags) {
            Some(api) => api,
            None => return Some((state, private_state)),
        };
        match api
            .call::<O::Model>(Method::GET, &item_path::<O>(&id), None::<&()>)
            .await
        {
            Ok(Some(model)) => Some((O::from_model(model, &state), private_state)),
            // Deleted outside Terraform: drop it from state so the plan recreates it.
            Ok(None) => None,
            Err(e) => {
                e.report(diags, &format!("Reading {} {id}", O::NAME));
                Some((state, private_state))
            }
        }
    }

    async fn plan_create<'a>(
        &self,
        diags: &mut Diagnostics,
        proposed_state: Self::State<'a>,
        _config_state: Self::State<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let mut planned = proposed_state;
        O::plan_checks(diags, &planned);
        O::plan(&mut planned, None);
        Some((planned, ValueEmpty::default()))
    }

    async fn plan_update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior_state: Self::State<'a>,
        proposed_state: Self::State<'a>,
        _config_state: Self::State<'a>,
        prior_private_state: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>, Vec<AttributePath>)> {
        let mut planned = proposed_state;
        O::plan_checks(diags, &planned);
        O::plan(&mut planned, Some(&prior_state));
        let replace = O::requires_replace(&prior_state, &planned);
        Some((planned, prior_private_state, replace))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior_state: Self::State<'a>,
        prior_private_state: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<Self::PrivateState<'a>> {
        Some(prior_private_state)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned_state: Self::State<'a>,
        _config_state: Self::State<'a>,
        private_state: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let api = self.api(diags)?;
        let body = O::body(&planned_state);
        // A singleton always exists: "creating" it is taking it over with a PUT.
        let method = if O::SINGLETON {
            Method::PUT
        } else {
            Method::POST
        };
        let result = api.call::<O::Created>(method, O::PATH, Some(&body)).await;
        let action = format!("Creating {}", O::NAME);
        let created = required(diags, result, &action, "the API answered 404")?;
        Some((O::from_created(created, &planned_state), private_state))
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior_state: Self::State<'a>,
        planned_state: Self::State<'a>,
        _config_state: Self::State<'a>,
        private_state: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let api = self.api(diags)?;
        let id = O::id(&prior_state)?;
        let body = O::body(&planned_state);
        let result = api
            .call_if_match::<O::Model>(
                Method::PUT,
                &item_path::<O>(&id),
                Some(&body),
                O::version(&prior_state),
            )
            .await;
        let action = format!("Updating {} {id}", O::NAME);
        let missing =
            "it was deleted outside Terraform; run `terraform apply` again to recreate it";
        let model = required(diags, result, &action, missing)?;
        Some((O::from_model(model, &planned_state), private_state))
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        state: Self::State<'a>,
        _private_state: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<()> {
        let api = self.api(diags)?;
        let id = O::id(&state)?;
        let result = match O::defaults() {
            Some(defaults) => {
                api.call::<serde_json::Value>(Method::PUT, O::PATH, Some(&defaults))
                    .await
            }
            // 404: already gone, which is what destroy wants.
            None => {
                api.call::<serde_json::Value>(Method::DELETE, &item_path::<O>(&id), None::<&()>)
                    .await
            }
        };
        match result {
            Ok(_) => Some(()),
            Err(e) => {
                e.report(diags, &format!("Deleting {} {id}", O::NAME));
                None
            }
        }
    }

    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        if O::SINGLETON || uuid::Uuid::parse_str(&id).is_ok() {
            return Some((O::imported(id), ValueEmpty::default()));
        }
        // Not an id: a name (or `provider/model` for a price), looked up.
        let api = self.api(diags)?;
        let model = crate::data_sources::find_by_name::<O>(diags, api, &id).await?;
        let found = O::from_model(model, &O::State::default());
        let real = O::id(&found)?;
        Some((O::imported(real), ValueEmpty::default()))
    }
}

/// An optional API field as a Terraform value (`null` when absent).
pub fn optional<'a>(value: Option<String>) -> tf_provider::value::ValueString<'a> {
    value.map(std::borrow::Cow::Owned).into()
}
