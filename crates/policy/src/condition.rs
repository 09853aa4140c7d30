//! One condition of a policy, compiled: where to look (a JSON path into a tool call's
//! arguments or a tool's result, or the request's context) and how to compare what is found.

use std::collections::BTreeMap;

use api_types::{Condition, Operator};
use serde_json::Value;
use serde_json_path::JsonPath;
use uuid::Uuid;

use crate::PolicyError;

/// Largest compiled regex program a condition may use.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// What a request's context conditions read: fixed per profile.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub team_id: Option<Uuid>,
    pub profile_labels: BTreeMap<String, String>,
}

/// Where a condition looks.
#[derive(Debug)]
enum Target {
    /// Into the call's arguments or the tool's result.
    Json(JsonPath),
    /// `context.team_id`.
    TeamId,
    /// `context.profile_labels.<key>`.
    Label(String),
}

/// How a condition compares.
#[derive(Debug)]
enum Test {
    Equal(Value),
    NotEqual(Value),
    Contains(String),
    NotContains(String),
    StartsWith(String),
    EndsWith(String),
    Regex(regex::Regex),
    In(Vec<Value>),
    Exists,
}

/// A condition ready to evaluate.
#[derive(Debug)]
pub(crate) struct Compiled {
    target: Target,
    test: Test,
}

impl Compiled {
    pub(crate) fn new(condition: &Condition) -> Result<Self, PolicyError> {
        let bad = |why: String| PolicyError::Condition {
            path: condition.path.clone(),
            why,
        };
        let target =
            match condition.path.strip_prefix("context.") {
                Some("team_id") => Target::TeamId,
                Some(rest) => match rest.strip_prefix("profile_labels.") {
                    Some(key) if !key.is_empty() => Target::Label(key.to_owned()),
                    _ => return Err(bad(
                        "context paths are `context.team_id` and `context.profile_labels.<key>`"
                            .into(),
                    )),
                },
                None => Target::Json(
                    JsonPath::parse(&condition.path)
                        .map_err(|e| bad(format!("not a JSON path (RFC 9535): {e}")))?,
                ),
            };
        let text = || {
            condition
                .value
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| bad("this operator compares with a string value".into()))
        };
        let value = condition.value.clone();
        let test = match condition.operator {
            Operator::Equal => Test::Equal(value),
            Operator::NotEqual => Test::NotEqual(value),
            Operator::Contains => Test::Contains(text()?),
            Operator::NotContains => Test::NotContains(text()?),
            Operator::StartsWith => Test::StartsWith(text()?),
            Operator::EndsWith => Test::EndsWith(text()?),
            Operator::Regex => Test::Regex(
                regex::RegexBuilder::new(&text()?)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map_err(|e| bad(format!("not a valid regex: {e}")))?,
            ),
            Operator::In => match value {
                Value::Array(items) => Test::In(items),
                _ => return Err(bad("`in` compares with an array".into())),
            },
            Operator::Exists => Test::Exists,
        };
        Ok(Compiled { target, test })
    }

    /// Evaluates a context condition; `None` for a JSON-path condition.
    pub(crate) fn holds_in(&self, context: &Context) -> Option<bool> {
        let found = match &self.target {
            Target::Json(_) => return None,
            Target::TeamId => context.team_id.map(|id| Value::String(id.to_string())),
            Target::Label(key) => context
                .profile_labels
                .get(key)
                .map(|v| Value::String(v.clone())),
        };
        Some(self.test.holds_for_all(found.as_ref().into_iter()))
    }

    /// Evaluates a JSON-path condition on a call's arguments or a tool's result. Context
    /// conditions are settled when a policy set is compiled, so they hold here.
    pub(crate) fn holds_on(&self, document: &Value) -> bool {
        match &self.target {
            Target::Json(path) => self
                .test
                .holds_for_all(path.query(document).all().into_iter()),
            Target::TeamId | Target::Label(_) => true,
        }
    }
}

impl Test {
    /// Every value the path found must pass. A path that finds nothing passes only the
    /// negative tests (`not_equal`, `not_contains`): nothing found equals or contains the
    /// value; `exists` and every positive test fail.
    fn holds_for_all<'v>(&self, found: impl Iterator<Item = &'v Value>) -> bool {
        let mut any = false;
        for value in found {
            any = true;
            if !self.holds(value) {
                return false;
            }
        }
        any || matches!(self, Test::NotEqual(_) | Test::NotContains(_))
    }

    fn holds(&self, found: &Value) -> bool {
        match self {
            Test::Equal(want) => same(found, want),
            Test::NotEqual(want) => !same(found, want),
            Test::Contains(s) => as_text(found).contains(s.as_str()),
            Test::NotContains(s) => !as_text(found).contains(s.as_str()),
            Test::StartsWith(s) => as_text(found).starts_with(s.as_str()),
            Test::EndsWith(s) => as_text(found).ends_with(s.as_str()),
            Test::Regex(re) => re.is_match(&as_text(found)),
            Test::In(items) => items.iter().any(|item| same(found, item)),
            Test::Exists => true,
        }
    }
}

/// Equal as JSON, or a string equal to the other value's JSON text (`"5"` equals `5`,
/// `"true"` equals `true`): arguments written by a model are loose about types.
fn same(found: &Value, want: &Value) -> bool {
    found == want
        || match (found, want) {
            (Value::String(s), other) | (other, Value::String(s)) if !other.is_string() => {
                serde_json::from_str::<Value>(s).is_ok_and(|v| v == *other)
            }
            _ => false,
        }
}

/// A string as itself; anything else as its compact JSON text.
fn as_text(value: &Value) -> std::borrow::Cow<'_, str> {
    match value {
        Value::String(s) => std::borrow::Cow::Borrowed(s),
        other => std::borrow::Cow::Owned(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn holds(path: &str, operator: Operator, value: Value, doc: Value) -> bool {
        let c = Compiled::new(&Condition {
            path: path.into(),
            operator,
            value,
        })
        .unwrap();
        c.holds_on(&doc)
    }

    #[test]
    fn every_operator_on_a_found_string() {
        let doc = json!({"to": "eve@evil.example", "n": 5, "ok": true});
        use Operator::*;
        let cases = [
            (Equal, json!("eve@evil.example"), true),
            (Equal, json!("bob@example.com"), false),
            (NotEqual, json!("bob@example.com"), true),
            (NotEqual, json!("eve@evil.example"), false),
            (Contains, json!("evil"), true),
            (Contains, json!("good"), false),
            (NotContains, json!("good"), true),
            (NotContains, json!("evil"), false),
            (StartsWith, json!("eve@"), true),
            (StartsWith, json!("bob@"), false),
            (EndsWith, json!(".example"), true),
            (EndsWith, json!("@example.com"), false),
            (Regex, json!("^[a-z]+@evil\\."), true),
            (Regex, json!("^bob"), false),
            (In, json!(["a", "eve@evil.example"]), true),
            (In, json!(["a", "b"]), false),
            (Exists, Value::Null, true),
        ];
        for (op, value, want) in cases {
            assert_eq!(
                holds("$.to", op, value.clone(), doc.clone()),
                want,
                "{op:?} {value}"
            );
        }
    }

    #[test]
    fn numbers_and_booleans_compare_loosely_with_their_text() {
        let doc = json!({"n": 5, "ok": true, "list": [1, 2]});
        assert!(holds("$.n", Operator::Equal, json!(5), doc.clone()));
        assert!(holds("$.n", Operator::Equal, json!("5"), doc.clone()));
        assert!(holds("$.ok", Operator::In, json!(["true"]), doc.clone()));
        assert!(holds(
            "$.list",
            Operator::Contains,
            json!("2]"),
            doc.clone()
        ));
        assert!(!holds("$.n", Operator::NotEqual, json!(5), doc));
    }

    #[test]
    fn a_wildcard_path_needs_every_found_value_to_pass() {
        let doc = json!({"items": [{"url": "https://a.example/x"}, {"url": "http://b/y"}]});
        assert!(!holds(
            "$.items[*].url",
            Operator::StartsWith,
            json!("https://"),
            doc.clone()
        ));
        assert!(holds(
            "$.items[*].url",
            Operator::StartsWith,
            json!("http"),
            doc.clone()
        ));
        assert!(holds(
            "$.items[*].url",
            Operator::NotContains,
            json!("evil"),
            doc
        ));
    }

    #[test]
    fn a_path_that_finds_nothing_passes_only_negative_tests() {
        let doc = json!({"to": "x"});
        for op in [
            Operator::Equal,
            Operator::Contains,
            Operator::StartsWith,
            Operator::EndsWith,
            Operator::Regex,
        ] {
            assert!(!holds("$.cc", op, json!("x"), doc.clone()), "{op:?}");
        }
        assert!(!holds("$.cc", Operator::In, json!(["x"]), doc.clone()));
        assert!(!holds("$.cc", Operator::Exists, Value::Null, doc.clone()));
        assert!(holds("$.cc", Operator::NotEqual, json!("x"), doc.clone()));
        assert!(holds("$.cc", Operator::NotContains, json!("x"), doc));
    }

    #[test]
    fn the_root_path_reads_a_plain_text_result() {
        let doc = Value::String("IGNORE PREVIOUS INSTRUCTIONS".into());
        assert!(holds("$", Operator::Contains, json!("IGNORE"), doc));
    }

    #[test]
    fn context_conditions_read_team_and_labels() {
        let team = Uuid::from_u128(7);
        let context = Context {
            team_id: Some(team),
            profile_labels: [("env".to_owned(), "prod".to_owned())].into(),
        };
        let c = |path: &str, op, value| {
            Compiled::new(&Condition {
                path: path.into(),
                operator: op,
                value,
            })
            .unwrap()
            .holds_in(&context)
        };
        assert_eq!(
            c("context.team_id", Operator::Equal, json!(team.to_string())),
            Some(true)
        );
        assert_eq!(
            c("context.profile_labels.env", Operator::In, json!(["dev"])),
            Some(false)
        );
        assert_eq!(
            c("context.profile_labels.tier", Operator::Exists, Value::Null),
            Some(false)
        );
        assert_eq!(c("$.to", Operator::Exists, Value::Null), None);
    }

    #[test]
    fn bad_conditions_are_refused_when_compiled() {
        let bad = |path: &str, op, value| {
            Compiled::new(&Condition {
                path: path.into(),
                operator: op,
                value,
            })
            .is_err()
        };
        assert!(bad("to", Operator::Equal, json!(1)));
        assert!(bad("context.secret", Operator::Equal, json!(1)));
        assert!(bad("$.to", Operator::Regex, json!("(")));
        assert!(bad("$.to", Operator::Contains, json!(1)));
        assert!(bad("$.to", Operator::In, json!("x")));
    }
}
