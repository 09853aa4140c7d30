//! `gatehouse_organization_settings`: the organization's singleton settings. It always
//! exists: creating the resource takes it over, destroying it restores the defaults.

use api_types::{GlobalToolPolicy, Organization, OrganizationInput};
use serde::{Deserialize, Serialize};
use tf_provider::schema::{
    AttributeConstraint as C, AttributeType as T, Block, Description, Schema,
};
use tf_provider::value::{ValueNumber, ValueString};
use tf_provider::Diagnostics;

use super::profile::{known, validate_name};
use super::{attribute, id_attribute, validate_one_of, version_attribute, RestObject};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrganizationState<'a> {
    #[serde(borrow)]
    pub id: ValueString<'a>,
    #[serde(borrow)]
    pub name: ValueString<'a>,
    #[serde(borrow)]
    pub global_tool_policy: ValueString<'a>,
    pub version: ValueNumber,
}

pub struct OrganizationObject;

/// The singleton's id in state and for `terraform import`.
const ID: &str = "organization";
const POLICIES: [&str; 2] = ["permissive", "restrictive"];

#[derive(Serialize)]
pub struct OrganizationBody {
    name: String,
    global_tool_policy: String,
}

impl RestObject for OrganizationObject {
    type State<'a> = OrganizationState<'a>;
    type Model = Organization;
    type Created = Organization;
    type Body = OrganizationBody;

    const NAME: &'static str = "organization settings";
    const PATH: &'static str = "/api/v1/organization";
    const SINGLETON: bool = true;

    fn schema() -> Schema {
        Schema {
            version: 1,
            block: Block {
                version: 1,
                description: Description::markdown("The organization's settings (a singleton: declare it once; destroying it restores the defaults, `default` and `permissive`). Import with the id `organization`."),
                attributes: [
                    id_attribute(),
                    ("name".to_owned(), attribute(T::String, C::Required, false, "The organization's name.")),
                    ("global_tool_policy".to_owned(), attribute(T::String, C::Required, false, "`permissive`: tool calls are allowed unless a policy blocks them; `restrictive`: blocked unless a policy allows them.")),
                    version_attribute(),
                ]
                .into_iter()
                .collect(),
                ..Default::default()
            },
        }
    }

    fn validate(diags: &mut Diagnostics, config: &OrganizationState<'_>) {
        validate_name(diags, &config.name);
        validate_one_of(
            diags,
            &config.global_tool_policy,
            "global_tool_policy",
            &POLICIES,
        );
    }

    fn id(state: &OrganizationState<'_>) -> Option<String> {
        state.id.as_ref_option().map(|s| s.to_string())
    }

    fn version(state: &OrganizationState<'_>) -> Option<i64> {
        state.version.as_ref_option().copied()
    }

    fn imported<'a>(_id: String) -> OrganizationState<'a> {
        OrganizationState {
            id: ValueString::from(ID),
            ..Default::default()
        }
    }

    fn plan<'a>(planned: &mut OrganizationState<'a>, prior: Option<&OrganizationState<'a>>) {
        super::plan_versioned(
            planned,
            prior,
            |s| s.id = ValueString::from(ID),
            |s| s.version = ValueNumber::Unknown,
        );
    }

    fn body(state: &OrganizationState<'_>) -> OrganizationBody {
        OrganizationBody {
            name: known(&state.name),
            global_tool_policy: known(&state.global_tool_policy),
        }
    }

    fn defaults() -> Option<OrganizationBody> {
        let defaults = OrganizationInput {
            name: "default".into(),
            global_tool_policy: GlobalToolPolicy::Permissive,
        };
        Some(OrganizationBody {
            name: defaults.name,
            global_tool_policy: defaults.global_tool_policy.as_str().to_owned(),
        })
    }

    fn from_model<'a>(model: Organization, _prior: &OrganizationState<'a>) -> OrganizationState<'a>
    where
        'a: 'a,
    {
        OrganizationState {
            id: ValueString::from(ID),
            name: ValueString::from(model.name),
            global_tool_policy: ValueString::from(model.global_tool_policy.as_str()),
            version: ValueNumber::Value(model.version),
        }
    }

    fn from_created<'a>(
        created: Organization,
        planned: &OrganizationState<'a>,
    ) -> OrganizationState<'a>
    where
        'a: 'a,
    {
        Self::from_model(created, planned)
    }
}
