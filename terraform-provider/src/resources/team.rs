//! `gatehouse_team`: the scope that objects and API keys belong to.

use api_types::{Team, TeamInput};
use serde::{Deserialize, Serialize};
use tf_provider::schema::{
    AttributeConstraint as C, AttributeType as T, Block, Description, Schema,
};
use tf_provider::value::{ValueNumber, ValueString};
use tf_provider::Diagnostics;

use super::profile::{known, validate_name};
use super::{attribute, id_attribute, version_attribute, RestObject};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TeamState<'a> {
    #[serde(borrow)]
    pub id: ValueString<'a>,
    #[serde(borrow)]
    pub name: ValueString<'a>,
    #[serde(borrow)]
    pub description: ValueString<'a>,
    pub version: ValueNumber,
}

pub struct TeamObject;

impl RestObject for TeamObject {
    type State<'a> = TeamState<'a>;
    type Model = Team;
    type Created = Team;
    type Body = TeamInput;

    const NAME: &'static str = "team";
    const PATH: &'static str = "/api/v1/teams";

    fn schema() -> Schema {
        Schema {
            version: 1,
            block: Block {
                version: 1,
                description: Description::markdown("A Gatehouse team: profiles, keys, policies and limits can belong to it, and team-scoped API keys see only its objects."),
                attributes: [
                    id_attribute(),
                    ("name".to_owned(), attribute(T::String, C::Required, false, "Unique name, 1–128 characters.")),
                    ("description".to_owned(), attribute(T::String, C::Optional, false, "Free text.")),
                    version_attribute(),
                ]
                .into_iter()
                .collect(),
                ..Default::default()
            },
        }
    }

    fn validate(diags: &mut Diagnostics, config: &TeamState<'_>) {
        validate_name(diags, &config.name);
    }

    fn id(state: &TeamState<'_>) -> Option<String> {
        state.id.as_ref_option().map(|s| s.to_string())
    }

    fn version(state: &TeamState<'_>) -> Option<i64> {
        state.version.as_ref_option().copied()
    }

    fn lookup_key(model: &Self::Model) -> Option<String> {
        Some(model.name.clone())
    }

    fn imported<'a>(id: String) -> TeamState<'a> {
        TeamState {
            id: ValueString::from(id),
            ..Default::default()
        }
    }

    fn plan<'a>(planned: &mut TeamState<'a>, prior: Option<&TeamState<'a>>) {
        super::plan_versioned(
            planned,
            prior,
            |s| s.id = ValueString::Unknown,
            |s| s.version = ValueNumber::Unknown,
        );
    }

    fn body(state: &TeamState<'_>) -> TeamInput {
        TeamInput {
            name: known(&state.name),
            description: state.description.as_ref_option().map(|s| s.to_string()),
        }
    }

    fn from_model<'a>(model: Team, _prior: &TeamState<'a>) -> TeamState<'a>
    where
        'a: 'a,
    {
        TeamState {
            id: ValueString::from(model.id.to_string()),
            name: ValueString::from(model.name),
            description: super::optional(model.description),
            version: ValueNumber::Value(model.version),
        }
    }

    fn from_created<'a>(created: Team, planned: &TeamState<'a>) -> TeamState<'a>
    where
        'a: 'a,
    {
        Self::from_model(created, planned)
    }
}
