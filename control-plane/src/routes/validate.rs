//! Checks on input people write, shared by the resource handlers. Each failure names the
//! offending field.

use std::collections::BTreeMap;

use api_types::{Condition, Operator};

use crate::error::ApiError;

const MAX_LABELS: usize = 64;
const MAX_LIST: usize = 256;
const MAX_CONDITIONS: usize = 32;
const MAX_TEXT: usize = 2048;

/// A name: 1–128 characters, no control characters.
pub fn name(value: &str) -> Result<(), ApiError> {
    text_field("name", value, 128)
}

fn text_field(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    let len = value.chars().count();
    if len == 0 || len > max || value.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            field,
            format!("must be 1–{max} characters without control characters"),
        ));
    }
    Ok(())
}

/// Free text (descriptions, reasons): at most 2048 characters; line breaks and tabs are
/// the only control characters allowed.
pub fn optional_text(field: &str, value: Option<&str>) -> Result<(), ApiError> {
    match value {
        Some(v)
            if v.chars().count() > MAX_TEXT
                || v.chars()
                    .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) =>
        {
            Err(ApiError::invalid(
                field,
                format!("must be at most {MAX_TEXT} characters, without control characters"),
            ))
        }
        _ => Ok(()),
    }
}

/// Whether a JSON value holds a NUL character anywhere (Postgres cannot store one).
fn has_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(has_nul),
        serde_json::Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        serde_json::Value::Null | serde_json::Value::Bool(_) | serde_json::Value::Number(_) => {
            false
        }
    }
}

pub fn description(value: Option<&str>) -> Result<(), ApiError> {
    optional_text("description", value)
}

/// An upstream base URL: absolute `http` or `https`, with a host, no query or fragment.
pub fn base_url(value: &str) -> Result<(), ApiError> {
    let invalid = |why: &str| ApiError::invalid("base_url", why);
    let url = url::Url::parse(value).map_err(|e| invalid(&format!("is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("must use http or https"));
    }
    if url.host_str().is_none() || url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("must have a host and no query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must not carry credentials"));
    }
    Ok(())
}

/// A provider secret: 1–4096 visible ASCII characters, so it is always a valid header value.
pub fn secret(value: &str) -> Result<(), ApiError> {
    if value.is_empty() || value.len() > 4096 || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::invalid(
            "secret",
            "must be 1–4096 visible ASCII characters (no spaces or newlines)",
        ));
    }
    Ok(())
}

/// Labels: at most 64; keys 1–63 characters of `[A-Za-z0-9_.-/]`; values at most 256
/// characters without control characters.
pub fn labels(labels: &BTreeMap<String, String>) -> Result<(), ApiError> {
    if labels.len() > MAX_LABELS {
        return Err(ApiError::invalid(
            "labels",
            format!("at most {MAX_LABELS} labels"),
        ));
    }
    for (key, value) in labels {
        let key_ok = (1..=63).contains(&key.len())
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-/".contains(&b));
        if !key_ok {
            return Err(ApiError::invalid(
                format!("labels.{key}"),
                "keys are 1–63 characters of letters, digits, `_`, `.`, `-` and `/`",
            ));
        }
        if value.chars().count() > 256 || value.chars().any(char::is_control) {
            return Err(ApiError::invalid(
                format!("labels.{key}"),
                "values are at most 256 characters without control characters",
            ));
        }
    }
    Ok(())
}

/// A list of model names: at most 256 names of 1–256 characters.
pub fn models(field: &str, models: &[String]) -> Result<(), ApiError> {
    if models.len() > MAX_LIST {
        return Err(ApiError::invalid(
            field,
            format!("at most {MAX_LIST} models"),
        ));
    }
    for (i, m) in models.iter().enumerate() {
        text_field(&format!("{field}[{i}]"), m, 256)?;
    }
    Ok(())
}

/// Extra upstream headers: valid names and values, and none that carries credentials or
/// framing (those are the gateway's to set).
pub fn extra_headers(headers: &BTreeMap<String, String>) -> Result<(), ApiError> {
    const RESERVED: [&str; 10] = [
        "authorization",
        "x-api-key",
        "api-key",
        "x-goog-api-key",
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "te",
        "upgrade",
    ];
    if headers.len() > MAX_LABELS {
        return Err(ApiError::invalid(
            "extra_headers",
            format!("at most {MAX_LABELS} headers"),
        ));
    }
    for (name, value) in headers {
        let field = format!("extra_headers.{name}");
        if axum::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(ApiError::invalid(field, "is not a valid header name"));
        }
        if RESERVED.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(ApiError::invalid(
                field,
                "is set by the gateway and cannot be overridden",
            ));
        }
        if value.len() > 4096 || axum::http::HeaderValue::from_str(value).is_err() {
            return Err(ApiError::invalid(field, "is not a valid header value"));
        }
    }
    Ok(())
}

/// A tool name: an exact name or a glob (`*`, `?`, `[...]`).
pub fn tool_name(value: &str) -> Result<(), ApiError> {
    text_field("tool_name", value, 256)?;
    globset::Glob::new(value)
        .map(drop)
        .map_err(|e| ApiError::invalid("tool_name", format!("is not a valid glob: {e}")))
}

/// Policy conditions: each path a JSON path (RFC 9535) or a `context.` path, each value of
/// the kind its operator compares.
pub fn conditions(conditions: &[Condition]) -> Result<(), ApiError> {
    if conditions.len() > MAX_CONDITIONS {
        return Err(ApiError::invalid(
            "conditions",
            format!("at most {MAX_CONDITIONS} conditions"),
        ));
    }
    for (i, c) in conditions.iter().enumerate() {
        condition(i, c)?;
    }
    Ok(())
}

fn condition(i: usize, c: &Condition) -> Result<(), ApiError> {
    let field = |f: &str| format!("conditions[{i}].{f}");
    condition_path(&c.path).map_err(|why| ApiError::invalid(field("path"), why))?;
    let value = &c.value;
    if has_nul(value) {
        return Err(ApiError::invalid(
            field("value"),
            "must not contain NUL characters",
        ));
    }
    match c.operator {
        Operator::Equal | Operator::NotEqual | Operator::Exists => Ok(()),
        Operator::Contains | Operator::NotContains | Operator::StartsWith | Operator::EndsWith => {
            match value.as_str() {
                Some(s) if s.len() <= MAX_TEXT => Ok(()),
                _ => Err(ApiError::invalid(
                    field("value"),
                    "must be a string of at most 2048 bytes for this operator",
                )),
            }
        }
        Operator::Regex => {
            let pattern = value.as_str().ok_or_else(|| {
                ApiError::invalid(field("value"), "must be a regular expression string")
            })?;
            regex::RegexBuilder::new(pattern)
                .size_limit(1 << 20)
                .build()
                .map(drop)
                .map_err(|e| {
                    ApiError::invalid(field("value"), format!("is not a valid regex: {e}"))
                })
        }
        Operator::In => match value.as_array() {
            Some(items) if items.len() <= MAX_LIST => Ok(()),
            _ => Err(ApiError::invalid(
                field("value"),
                format!("must be an array of at most {MAX_LIST} values"),
            )),
        },
    }
}

/// A condition path: `context.team_id`, `context.profile_labels.<key>`, or a JSON path.
fn condition_path(path: &str) -> Result<(), String> {
    if let Some(rest) = path.strip_prefix("context.") {
        return match rest.split_once('.') {
            None if rest == "team_id" => Ok(()),
            Some(("profile_labels", key)) if !key.is_empty() => Ok(()),
            _ => {
                Err("context paths are `context.team_id` and `context.profile_labels.<key>`".into())
            }
        };
    }
    if path.len() > 1024 || path.contains('\0') {
        return Err("must be at most 1024 characters, without NUL".into());
    }
    serde_json_path::JsonPath::parse(path)
        .map(drop)
        .map_err(|e| format!("is not a JSON path (RFC 9535, e.g. `$.to`): {e}"))
}

/// A price: finite, at least zero, at most a million dollars per million tokens.
pub fn price(field: &str, value: f64) -> Result<(), ApiError> {
    if value.is_finite() && (0.0..=1_000_000.0).contains(&value) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            "must be a number from 0 to 1000000",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn base_urls() {
        base_url("https://api.openai.com/v1").unwrap();
        base_url("http://127.0.0.1:8081").unwrap();
        for bad in [
            "ftp://x",
            "not a url",
            "https://a/b?c=d",
            "https://u:p@host/",
        ] {
            assert!(base_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secrets_and_names() {
        secret("sk-abc_123").unwrap();
        assert!(secret("").is_err() && secret("sk abc").is_err() && secret("sk\nabc").is_err());
        name("prod").unwrap();
        assert!(name("").is_err() && name(&"x".repeat(129)).is_err() && name("a\tb").is_err());
    }

    fn cond(path: &str, operator: Operator, value: serde_json::Value) -> Condition {
        Condition {
            path: path.into(),
            operator,
            value,
        }
    }

    #[test]
    fn conditions_are_checked_by_operator_and_path() {
        conditions(&[
            cond("$.to", Operator::EndsWith, json!("@example.com")),
            cond("$.items[*].url", Operator::Regex, json!("^https://")),
            cond("context.team_id", Operator::In, json!(["a", "b"])),
            cond("context.profile_labels.env", Operator::Equal, json!("prod")),
            cond("$.cc", Operator::Exists, json!(null)),
        ])
        .unwrap();
        let field = |c: Condition| match conditions(&[c]) {
            Err(ApiError::Invalid { field, .. }) => field,
            other => panic!("expected a field error, got {other:?}"),
        };
        assert_eq!(
            field(cond("to", Operator::Equal, json!(1))),
            "conditions[0].path"
        );
        assert_eq!(
            field(cond("context.secret", Operator::Equal, json!(1))),
            "conditions[0].path"
        );
        assert_eq!(
            field(cond("$.to", Operator::Regex, json!("("))),
            "conditions[0].value"
        );
        assert_eq!(
            field(cond("$.to", Operator::In, json!("x"))),
            "conditions[0].value"
        );
        assert_eq!(
            field(cond("$.to", Operator::Contains, json!(3))),
            "conditions[0].value"
        );
    }

    #[test]
    fn labels_headers_and_tools() {
        labels(&BTreeMap::from([("env".into(), "prod".into())])).unwrap();
        assert!(labels(&BTreeMap::from([("bad key".into(), "x".into())])).is_err());
        extra_headers(&BTreeMap::from([(
            "HTTP-Referer".into(),
            "https://a".into(),
        )]))
        .unwrap();
        assert!(extra_headers(&BTreeMap::from([("Authorization".into(), "x".into())])).is_err());
        assert!(extra_headers(&BTreeMap::from([("bad header".into(), "x".into())])).is_err());
        tool_name("send_*").unwrap();
        assert!(tool_name("[").is_err() && tool_name("").is_err());
        price("p", 0.15).unwrap();
        assert!(price("p", -1.0).is_err() && price("p", f64::NAN).is_err());
    }
}
