//! Policy conditions (JSON paths, operators, regexes) evaluated on arbitrary arguments: the
//! first line of the input is the condition value, the second the path, the rest the
//! arguments. Must never panic, whatever is compiled or judged.
#![no_main]

use api_types::{Condition, GlobalToolPolicy, Operator, ToolAction, ToolInvocationPolicy};
use libfuzzer_sys::fuzz_target;
use policy::{Call, Context, PolicySet};

const OPERATORS: [Operator; 9] = [
    Operator::Equal,
    Operator::NotEqual,
    Operator::Contains,
    Operator::NotContains,
    Operator::StartsWith,
    Operator::EndsWith,
    Operator::Regex,
    Operator::In,
    Operator::Exists,
];

fuzz_target!(|data: &[u8]| {
    let Some((&op, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let mut lines = text.splitn(3, '\n');
    let (value, path, arguments) = (
        lines.next().unwrap_or_default(),
        lines.next().unwrap_or_default(),
        lines.next().unwrap_or_default(),
    );
    let value = serde_json::from_str(value).unwrap_or_else(|_| value.into());
    let policy = ToolInvocationPolicy {
        id: uuid::Uuid::nil(),
        team_id: None,
        profile_id: None,
        tool_name: "t*".into(),
        conditions: vec![Condition {
            path: path.into(),
            operator: OPERATORS[op as usize % OPERATORS.len()],
            value,
        }],
        action: ToolAction::BlockAlways,
        reason: None,
        version: 1,
        created_at: chrono::DateTime::UNIX_EPOCH,
        updated_at: chrono::DateTime::UNIX_EPOCH,
    };
    let Ok(set) = PolicySet::compile(GlobalToolPolicy::Permissive, &[policy], &[], &Context::default())
    else {
        return;
    };
    let call = Call {
        name: "tool",
        arguments,
        declared: true,
    };
    let _ = set.judge_call(call, op & 1 == 0);
    if let Ok(document) = serde_json::from_str(arguments) {
        let _ = set.judge_result(Some("tool"), &document);
    }
});
