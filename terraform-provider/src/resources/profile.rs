//! `gatehouse_profile`: what applications are pointed at (`/v1/{provider}/{profile_id}/…`).

use api_types::{Profile, ProfileInput};
use serde::{Deserialize, Serialize};
use tf_provider::schema::{
    AttributeConstraint as C, AttributeType as T, Block, Description, Schema,
};
use tf_provider::value::ValueString;
use tf_provider::{AttributePath, Diagnostics};

use super::{attribute, id_attribute, RestObject};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProfileState<'a> {
    #[serde(borrow)]
    pub id: ValueString<'a>,
    #[serde(borrow)]
    pub name: ValueString<'a>,
    #[serde(borrow)]
    pub description: ValueString<'a>,
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
    type Body = ProfileInput;

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
                ]
                .into_iter()
                .collect(),
                ..Default::default()
            },
        }
    }

    fn validate(diags: &mut Diagnostics, config: &ProfileState<'_>) {
        validate_name(diags, &config.name);
    }

    fn id(state: &ProfileState<'_>) -> Option<String> {
        state.id.as_ref_option().map(|s| s.to_string())
    }

    fn imported<'a>(id: String) -> ProfileState<'a> {
        ProfileState {
            id: ValueString::from(id),
            ..Default::default()
        }
    }

    fn plan(planned: &mut ProfileState<'_>, prior: Option<&ProfileState<'_>>) {
        if prior.is_none() {
            planned.id = ValueString::Unknown;
        }
    }

    fn body(state: &ProfileState<'_>) -> ProfileInput {
        ProfileInput {
            name: known(&state.name),
            description: state.description.as_ref_option().map(|s| s.to_string()),
            ..ProfileInput::default()
        }
    }

    fn from_model<'a>(model: Profile, _prior: &ProfileState<'a>) -> ProfileState<'a>
    where
        'a: 'a,
    {
        ProfileState {
            id: ValueString::from(model.id.to_string()),
            name: ValueString::from(model.name),
            description: super::optional(model.description),
        }
    }

    fn from_created<'a>(created: Profile, planned: &ProfileState<'a>) -> ProfileState<'a>
    where
        'a: 'a,
    {
        Self::from_model(created, planned)
    }
}
