//! The decision orders of `judge_call` and `judge_result`, one step at a time.

use api_types::{Condition, Operator};
use serde_json::json;

use super::*;

fn tool(name: &str, action: ToolAction, conditions: Vec<Condition>) -> ToolInvocationPolicy {
    ToolInvocationPolicy {
        id: Uuid::new_v4(),
        team_id: None,
        profile_id: None,
        tool_name: name.into(),
        conditions,
        action,
        reason: Some(format!("{name} {}", action.as_str())),
        version: 1,
        created_at: chrono::DateTime::UNIX_EPOCH,
        updated_at: chrono::DateTime::UNIX_EPOCH,
    }
}

fn data(name: &str, action: TrustedDataAction, conditions: Vec<Condition>) -> TrustedDataPolicy {
    TrustedDataPolicy {
        id: Uuid::new_v4(),
        team_id: None,
        profile_id: None,
        tool_name: name.into(),
        conditions,
        action,
        description: Some("secrets".into()),
        version: 1,
        created_at: chrono::DateTime::UNIX_EPOCH,
        updated_at: chrono::DateTime::UNIX_EPOCH,
    }
}

fn cond(path: &str, operator: Operator, value: Value) -> Condition {
    Condition {
        path: path.into(),
        operator,
        value,
    }
}

fn set(global: GlobalToolPolicy, tools: &[ToolInvocationPolicy]) -> PolicySet {
    PolicySet::compile(global, tools, &[], &Context::default()).unwrap()
}

fn call<'a>(name: &'a str, arguments: &'a str) -> Call<'a> {
    Call {
        name,
        arguments,
        declared: true,
    }
}

fn kind(verdict: CallVerdict) -> Option<BlockKind> {
    match verdict {
        CallVerdict::Allow => None,
        CallVerdict::Block(b) => Some(b.kind),
    }
}

#[test]
fn undeclared_tools_are_blocked_whatever_the_policies() {
    let s = set(
        GlobalToolPolicy::Permissive,
        &[tool("*", ToolAction::AllowAlways, vec![])],
    );
    let undeclared = Call {
        declared: false,
        ..call("rm_rf", "{}")
    };
    assert_eq!(
        kind(s.judge_call(undeclared, false)),
        Some(BlockKind::Undeclared)
    );
    assert!(s.may_block("rm_rf", false, false));
}

#[test]
fn invalid_arguments_are_blocked_only_when_a_policy_reads_them() {
    let to = cond("$.to", Operator::EndsWith, json!("@corp.example"));
    let s = set(
        GlobalToolPolicy::Permissive,
        &[tool("send_email", ToolAction::AllowAlways, vec![to])],
    );
    assert_eq!(
        kind(s.judge_call(call("send_email", "{\"to\": \"a@"), false)),
        Some(BlockKind::InvalidArguments)
    );
    assert_eq!(
        kind(s.judge_call(call("get_weather", "not json"), false)),
        None
    );
    // Empty arguments read as an empty object.
    assert_eq!(kind(s.judge_call(call("send_email", ""), false)), None);
}

#[test]
fn block_always_beats_allow_always() {
    let s = set(
        GlobalToolPolicy::Permissive,
        &[
            tool("send_*", ToolAction::AllowAlways, vec![]),
            tool(
                "send_email",
                ToolAction::BlockAlways,
                vec![cond("$.to", Operator::Contains, json!("evil"))],
            ),
        ],
    );
    let blocked = s.judge_call(call("send_email", r#"{"to":"x@evil.example"}"#), false);
    match blocked {
        CallVerdict::Block(b) => {
            assert_eq!(b.kind, BlockKind::BlockAlways);
            assert!(
                b.message.contains("send_email block_always"),
                "{}",
                b.message
            );
        }
        CallVerdict::Allow => panic!("not blocked"),
    }
    assert_eq!(
        kind(s.judge_call(call("send_email", r#"{"to":"x@corp.example"}"#), true)),
        None
    );
}

#[test]
fn allow_always_is_an_exception_to_untrusted_blocks() {
    let s = set(
        GlobalToolPolicy::Permissive,
        &[
            tool(
                "send_email",
                ToolAction::BlockWhenContextIsUntrusted,
                vec![],
            ),
            tool(
                "send_email",
                ToolAction::AllowAlways,
                vec![cond("$.to", Operator::EndsWith, json!("@corp.example"))],
            ),
        ],
    );
    let inside = call("send_email", r#"{"to":"a@corp.example"}"#);
    let outside = call("send_email", r#"{"to":"a@evil.example"}"#);
    assert_eq!(kind(s.judge_call(inside, true)), None);
    assert_eq!(
        kind(s.judge_call(outside, true)),
        Some(BlockKind::BlockWhenUntrusted)
    );
    assert_eq!(kind(s.judge_call(outside, false)), None);
}

#[test]
fn restrictive_blocks_what_no_policy_allows_in_any_context() {
    let s = set(
        GlobalToolPolicy::Restrictive,
        &[
            tool("read_*", ToolAction::AllowWhenContextIsUntrusted, vec![]),
            tool("get_weather", ToolAction::AllowAlways, vec![]),
            tool(
                "read_secrets",
                ToolAction::BlockWhenContextIsUntrusted,
                vec![],
            ),
        ],
    );
    assert_eq!(kind(s.judge_call(call("read_file", "{}"), true)), None);
    assert_eq!(kind(s.judge_call(call("get_weather", "{}"), true)), None);
    assert_eq!(
        kind(s.judge_call(call("delete_file", "{}"), false)),
        Some(BlockKind::NotAllowed)
    );
    assert_eq!(
        kind(s.judge_call(call("read_secrets", "{}"), true)),
        Some(BlockKind::BlockWhenUntrusted)
    );
    assert_eq!(kind(s.judge_call(call("read_secrets", "{}"), false)), None);
    assert!(s.may_block("delete_file", true, false));
    assert!(!s.may_block("get_weather", true, true));
    assert!(s.may_block("read_secrets", true, true));
}

#[test]
fn permissive_allows_unless_a_policy_blocks() {
    let s = set(
        GlobalToolPolicy::Permissive,
        &[tool(
            "fetch_url",
            ToolAction::BlockWhenContextIsUntrusted,
            vec![],
        )],
    );
    assert_eq!(kind(s.judge_call(call("get_weather", "{}"), true)), None);
    assert_eq!(kind(s.judge_call(call("fetch_url", "{}"), false)), None);
    assert_eq!(
        kind(s.judge_call(call("fetch_url", "{}"), true)),
        Some(BlockKind::BlockWhenUntrusted)
    );
    assert!(!s.may_block("get_weather", true, true));
    assert!(!s.may_block("fetch_url", true, false));
    assert!(s.may_block("fetch_url", true, true));
    assert!(set(GlobalToolPolicy::Permissive, &[]).permissive_and_empty());
}

#[test]
fn policies_whose_context_conditions_fail_never_apply() {
    let team = Uuid::from_u128(1);
    let prod = cond("context.profile_labels.env", Operator::Equal, json!("prod"));
    let other_team = cond(
        "context.team_id",
        Operator::Equal,
        json!(Uuid::from_u128(2).to_string()),
    );
    let tools = [
        tool("a", ToolAction::BlockAlways, vec![prod]),
        tool("b", ToolAction::BlockAlways, vec![other_team]),
    ];
    let context = Context {
        team_id: Some(team),
        profile_labels: [("env".to_owned(), "prod".to_owned())].into(),
    };
    let s = PolicySet::compile(GlobalToolPolicy::Permissive, &tools, &[], &context).unwrap();
    assert!(kind(s.judge_call(call("a", "{}"), false)).is_some());
    assert!(kind(s.judge_call(call("b", "{}"), false)).is_none());
    assert!(!s.may_block("a-not", true, true));
}

#[test]
fn results_are_untrusted_unless_a_policy_trusts_them_and_block_wins() {
    let internal = cond(
        "$.url",
        Operator::StartsWith,
        json!("https://wiki.corp.example/"),
    );
    let secret = cond("$..text", Operator::Regex, json!("AKIA[0-9A-Z]{16}"));
    let policies = [
        data(
            "fetch_url",
            TrustedDataAction::MarkAsTrusted,
            vec![internal],
        ),
        data("get_weather", TrustedDataAction::MarkAsTrusted, vec![]),
        data(
            "get_weather",
            TrustedDataAction::MarkAsUntrusted,
            vec![cond("$.alert", Operator::Exists, Value::Null)],
        ),
        data("*", TrustedDataAction::Block, vec![secret]),
    ];
    let s = PolicySet::compile(
        GlobalToolPolicy::Permissive,
        &[],
        &policies,
        &Context::default(),
    )
    .unwrap();
    assert!(s.may_block_results());
    let wiki = json!({"url": "https://wiki.corp.example/x", "text": "hi"});
    let web = json!({"url": "https://evil.example/", "text": "hi"});
    assert_eq!(
        s.judge_result(Some("fetch_url"), &wiki),
        ResultVerdict::Trusted
    );
    assert_eq!(
        s.judge_result(Some("fetch_url"), &web),
        ResultVerdict::Untrusted
    );
    assert_eq!(
        s.judge_result(Some("get_weather"), &json!({"temp": 3})),
        ResultVerdict::Trusted
    );
    assert_eq!(
        s.judge_result(Some("get_weather"), &json!({"alert": "x"})),
        ResultVerdict::Untrusted
    );
    assert_eq!(
        s.judge_result(Some("unknown_tool"), &json!("x")),
        ResultVerdict::Untrusted
    );
    assert_eq!(s.judge_result(None, &json!("x")), ResultVerdict::Untrusted);
    let leak = json!({"url": "https://wiki.corp.example/x", "text": "key AKIAABCDEFGHIJKLMNOP"});
    match s.judge_result(Some("fetch_url"), &leak) {
        ResultVerdict::Block { notice, .. } => assert!(notice.contains("secrets"), "{notice}"),
        other => panic!("not blocked: {other:?}"),
    }
}

#[test]
fn validate_refuses_what_compile_refuses() {
    assert!(validate("send_*", &[cond("$.to", Operator::Exists, Value::Null)]).is_ok());
    assert!(validate("[", &[]).is_err());
    assert!(validate("x", &[cond("$.to", Operator::Regex, json!("("))]).is_err());
}
