//! `gatehouse_tool_invocation_policy` and `gatehouse_trusted_data_policy`: a tool name
//! (exact or glob), conditions that must all hold, and an action. The two differ only in
//! their actions and in the name of their free-text field, so one macro writes both.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use tf_provider::schema::{AttributeConstraint as C, AttributeType as T, Block, NestedBlock};
use tf_provider::value::{Value, ValueList, ValueString};
use tf_provider::{AttributePath, Diagnostics};

use super::attribute;

/// One condition: `path` (a JSON path into the arguments or result, or `context.team_id` /
/// `context.profile_labels.<key>`), an operator, and the value it compares with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConditionState<'a> {
    #[serde(borrow)]
    pub path: ValueString<'a>,
    #[serde(borrow)]
    pub operator: ValueString<'a>,
    #[serde(borrow)]
    pub value: ValueString<'a>,
    #[serde(borrow)]
    pub values: ValueList<ValueString<'a>>,
    #[serde(borrow)]
    pub value_json: ValueString<'a>,
}

/// A condition as the API takes it.
#[derive(Serialize)]
pub struct ConditionBody {
    path: String,
    operator: String,
    value: Json,
}

const OPERATORS: [&str; 9] = [
    "equal",
    "not_equal",
    "contains",
    "not_contains",
    "starts_with",
    "ends_with",
    "regex",
    "in",
    "exists",
];

/// The `conditions` blocks (nested blocks rather than a list attribute: Terraform 1.0
/// cannot read nested attribute types as tf-provider writes them).
pub fn conditions_block() -> (String, NestedBlock) {
    let fields = [
        ("path", T::String, C::Required, "`$.<json path>` into the tool's arguments (or result), `context.team_id`, or `context.profile_labels.<key>`."),
        ("operator", T::String, C::Required, "`equal`, `not_equal`, `contains`, `not_contains`, `starts_with`, `ends_with`, `regex`, `in` or `exists`."),
        ("value", T::String, C::Optional, "The string compared with (all operators but `in` and `exists`)."),
        ("values", T::List(Box::new(T::String)), C::Optional, "The strings `in` matches against."),
        ("value_json", T::String, C::Optional, "Any other JSON value compared with (a number, a boolean), e.g. `jsonencode(3)`."),
    ]
    .into_iter()
    .map(|(name, t, c, d)| (name.to_owned(), attribute(t, c, false, d)))
    .collect();
    (
        "conditions".to_owned(),
        NestedBlock::List(Block {
            attributes: fields,
            description: tf_provider::schema::Description::markdown(
                "A condition; all must hold for the policy to apply (none: it always applies).",
            ),
            ..Default::default()
        }),
    )
}

fn string(v: &ValueString<'_>) -> Option<String> {
    v.as_ref_option().map(|s| s.to_string())
}

/// The conditions as the API takes them (known values only; the API refuses the rest).
pub fn conditions_body(conditions: &ValueList<Value<ConditionState<'_>>>) -> Vec<ConditionBody> {
    let Some(list) = conditions.as_ref_option() else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|c| c.as_ref_option())
        .map(|c| {
            let value = if let Some(values) = c.values.as_ref_option() {
                Json::Array(values.iter().filter_map(string).map(Json::String).collect())
            } else if let Some(json) = string(&c.value_json) {
                serde_json::from_str(&json).unwrap_or(Json::String(json))
            } else {
                string(&c.value).map(Json::String).unwrap_or(Json::Null)
            };
            ConditionBody {
                path: string(&c.path).unwrap_or_default(),
                operator: string(&c.operator).unwrap_or_default(),
                value,
            }
        })
        .collect()
}

/// The API's conditions as state, each value in the attribute that can hold it.
pub fn conditions_state<'a>(
    conditions: Vec<api_types::Condition>,
    prior: &ValueList<Value<ConditionState<'a>>>,
) -> ValueList<Value<ConditionState<'a>>> {
    let _ = prior;
    // Blocks: no conditions is an empty list, never null.
    Value::Value(
        conditions
            .into_iter()
            .map(|c| {
                let mut state = ConditionState {
                    path: ValueString::from(c.path),
                    operator: ValueString::from(c.operator.as_str()),
                    ..Default::default()
                };
                match c.value {
                    Json::Null => {}
                    Json::String(s) => state.value = ValueString::from(s),
                    Json::Array(items) if items.iter().all(Json::is_string) => {
                        state.values = Value::Value(
                            items
                                .into_iter()
                                .filter_map(|i| i.as_str().map(|s| ValueString::from(s.to_owned())))
                                .collect(),
                        );
                    }
                    other => state.value_json = ValueString::from(other.to_string()),
                }
                Value::Value(state)
            })
            .collect(),
    )
}

/// Plan-time checks of known conditions: what the API would refuse.
pub fn validate_conditions(
    diags: &mut Diagnostics,
    conditions: &ValueList<Value<ConditionState<'_>>>,
) {
    let Some(list) = conditions.as_ref_option() else {
        return;
    };
    for (i, c) in list.iter().enumerate() {
        let Some(c) = c.as_ref_option() else { continue };
        let at = |field: &'static str| {
            AttributePath::new("conditions")
                .index(i as i64)
                .attribute(field)
        };
        if let Value::Value(path) = &c.path {
            let ok = path.starts_with("context.team_id")
                || path.starts_with("context.profile_labels.")
                || serde_json_path::JsonPath::parse(path).is_ok();
            if !ok {
                diags.error(
                    "Invalid condition path",
                    format!("`{path}` is neither a JSON path (RFC 9535, e.g. `$.to`) nor `context.team_id` / `context.profile_labels.<key>`"),
                    at("path"),
                );
            }
        }
        let Value::Value(op) = &c.operator else {
            continue;
        };
        if !OPERATORS.contains(&op.as_ref()) {
            diags.error(
                "Invalid operator",
                format!("`{op}` is not one of: {}", OPERATORS.join(", ")),
                at("operator"),
            );
            continue;
        }
        let has = (
            !c.value.is_null(),
            !c.values.is_null(),
            !c.value_json.is_null(),
        );
        match (op.as_ref(), has) {
            ("exists", (false, false, false)) => {}
            ("exists", _) => diags.error_short("`exists` takes no value", at("value")),
            ("in", (false, true, false) | (false, false, true)) => {}
            ("in", _) => diags.error_short("`in` takes `values` (a list)", at("values")),
            (_, (true, false, false) | (false, false, true)) => {}
            (_, _) => diags.error_short(
                format!("`{op}` takes exactly one of `value` or `value_json`"),
                at("value"),
            ),
        }
        if let ("regex", Value::Value(pattern)) = (op.as_ref(), &c.value) {
            if let Err(e) = regex::RegexBuilder::new(pattern)
                .size_limit(1 << 20)
                .build()
            {
                diags.error("Invalid regex", e.to_string(), at("value"));
            }
        }
        if let Value::Value(json) = &c.value_json {
            if serde_json::from_str::<Json>(json).is_err() {
                diags.error_short("value_json must be JSON (use jsonencode)", at("value_json"));
            }
        }
    }
}

/// Writes the resource for one policy kind.
macro_rules! policy_object {
    (
        $(#[$doc:meta])*
        $object:ident, $state:ident, $model:ty, name: $name:literal, path: $path:literal,
        text: $text:ident, text_doc: $text_doc:literal, actions: $actions:expr, action_doc: $action_doc:literal,
        description: $description:literal
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
        pub struct $state<'a> {
            #[serde(borrow)]
            pub id: tf_provider::value::ValueString<'a>,
            #[serde(borrow)]
            pub team_id: tf_provider::value::ValueString<'a>,
            #[serde(borrow)]
            pub profile_id: tf_provider::value::ValueString<'a>,
            #[serde(borrow)]
            pub tool_name: tf_provider::value::ValueString<'a>,
            #[serde(borrow)]
            pub conditions: tf_provider::value::ValueList<
                tf_provider::value::Value<$crate::resources::policy::ConditionState<'a>>,
            >,
            #[serde(borrow)]
            pub action: tf_provider::value::ValueString<'a>,
            #[serde(borrow)]
            pub $text: tf_provider::value::ValueString<'a>,
            pub version: tf_provider::value::ValueNumber,
        }

        pub struct $object;

        impl $crate::resources::RestObject for $object {
            type State<'a> = $state<'a>;
            type Model = $model;
            type Created = $model;
            type Body = serde_json::Value;

            const NAME: &'static str = $name;
            const PATH: &'static str = $path;

            fn schema() -> tf_provider::schema::Schema {
                use tf_provider::schema::{AttributeConstraint as C, AttributeType as T};
                use $crate::resources::{attribute, id_attribute, version_attribute};
                tf_provider::schema::Schema {
                    version: 1,
                    block: tf_provider::schema::Block {
                        version: 1,
                        description: tf_provider::schema::Description::markdown($description),
                        attributes: [
                            id_attribute(),
                            ("team_id".to_owned(), attribute(T::String, C::Optional, false, "The owning team; unset for an organization-wide policy. Changing it replaces the policy.")),
                            ("profile_id".to_owned(), attribute(T::String, C::Optional, false, "Apply only to this profile; unset: every profile (of the team, or of the organization).")),
                            ("tool_name".to_owned(), attribute(T::String, C::Required, false, "The tool's name, or a glob (`mail_*`, `*`).")),
                            ("action".to_owned(), attribute(T::String, C::Required, false, $action_doc)),
                            (stringify!($text).to_owned(), attribute(T::String, C::Optional, false, $text_doc)),
                            version_attribute(),
                        ]
                        .into_iter()
                        .collect(),
                        blocks: [$crate::resources::policy::conditions_block()].into_iter().collect(),
                        ..Default::default()
                    },
                }
            }

            fn validate(diags: &mut tf_provider::Diagnostics, config: &$state<'_>) {
                $crate::resources::validate_uuid(diags, &config.team_id, "team_id");
                $crate::resources::validate_uuid(diags, &config.profile_id, "profile_id");
                $crate::resources::validate_one_of(diags, &config.action, "action", &$actions);
                if let tf_provider::value::Value::Value(tool) = &config.tool_name {
                    if tool.is_empty() || globset::Glob::new(tool).is_err() {
                        diags.error_short(
                            "tool_name must be a tool name or a valid glob",
                            tf_provider::AttributePath::new("tool_name"),
                        );
                    }
                }
                $crate::resources::policy::validate_conditions(diags, &config.conditions);
            }

            fn id(state: &$state<'_>) -> Option<String> {
                state.id.as_ref_option().map(|s| s.to_string())
            }

            fn version(state: &$state<'_>) -> Option<i64> {
                state.version.as_ref_option().copied()
            }

            fn imported<'a>(id: String) -> $state<'a> {
                $state {
                    id: tf_provider::value::ValueString::from(id),
                    ..Default::default()
                }
            }

            fn plan<'a>(planned: &mut $state<'a>, prior: Option<&$state<'a>>) {
                $crate::resources::plan_versioned(
                    planned,
                    prior,
                    |s| s.id = tf_provider::value::ValueString::Unknown,
                    |s| s.version = tf_provider::value::ValueNumber::Unknown,
                );
            }

            fn requires_replace(
                prior: &$state<'_>,
                planned: &$state<'_>,
            ) -> Vec<tf_provider::AttributePath> {
                if prior.team_id != planned.team_id {
                    vec![tf_provider::AttributePath::new("team_id")]
                } else {
                    Vec::new()
                }
            }

            fn body(state: &$state<'_>) -> serde_json::Value {
                let opt = |v: &tf_provider::value::ValueString<'_>| v.as_ref_option().map(|s| s.to_string());
                serde_json::json!({
                    "team_id": opt(&state.team_id),
                    "profile_id": opt(&state.profile_id),
                    "tool_name": opt(&state.tool_name).unwrap_or_default(),
                    "conditions": $crate::resources::policy::conditions_body(&state.conditions),
                    "action": opt(&state.action).unwrap_or_default(),
                    stringify!($text): opt(&state.$text),
                })
            }

            fn from_model<'a>(model: $model, prior: &$state<'a>) -> $state<'a>
            where
                'a: 'a,
            {
                $state {
                    id: tf_provider::value::ValueString::from(model.id.to_string()),
                    team_id: $crate::resources::optional(model.team_id.map(|t| t.to_string())),
                    profile_id: $crate::resources::optional(model.profile_id.map(|t| t.to_string())),
                    tool_name: tf_provider::value::ValueString::from(model.tool_name),
                    conditions: $crate::resources::policy::conditions_state(model.conditions, &prior.conditions),
                    action: tf_provider::value::ValueString::from(model.action.as_str()),
                    $text: $crate::resources::optional(model.$text),
                    version: tf_provider::value::ValueNumber::Value(model.version),
                }
            }

            fn from_created<'a>(created: $model, planned: &$state<'a>) -> $state<'a>
            where
                'a: 'a,
            {
                Self::from_model(created, planned)
            }
        }
    };
}

policy_object!(
    /// `gatehouse_tool_invocation_policy` state.
    ToolInvocationPolicyObject, ToolInvocationPolicyState, api_types::ToolInvocationPolicy,
    name: "tool invocation policy", path: "/api/v1/tool-invocation-policies",
    text: reason, text_doc: "Why, shown to the model and the user when a call is blocked.",
    actions: ["allow_always", "allow_when_context_is_untrusted", "block_when_context_is_untrusted", "block_always"],
    action_doc: "`allow_always`, `allow_when_context_is_untrusted`, `block_when_context_is_untrusted` or `block_always`.",
    description: "Decides whether a tool call the model makes may go ahead: for calls to `tool_name` whose arguments satisfy every condition, `action` applies."
);

policy_object!(
    /// `gatehouse_trusted_data_policy` state.
    TrustedDataPolicyObject, TrustedDataPolicyState, api_types::TrustedDataPolicy,
    name: "trusted data policy", path: "/api/v1/trusted-data-policies",
    text: description, text_doc: "Free text.",
    actions: ["mark_as_trusted", "mark_as_untrusted", "block"],
    action_doc: "`mark_as_trusted`, `mark_as_untrusted` or `block` (the result is replaced by a notice before the model sees it).",
    description: "Decides whether a tool's result may be trusted: for results of `tool_name` that satisfy every condition (JSON paths with `[*]` must hold for every match), `action` applies."
);
