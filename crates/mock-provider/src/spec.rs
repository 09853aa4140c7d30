//! Request validation against OpenAI's published OpenAPI document (`specs/`, MIT), so the
//! mock refuses exactly what the real API's schema refuses.

use jsonschema::Validator;
use serde_json::Value;

static OPENAI_SPEC: &str = include_str!("../specs/openai-openapi.yaml");

/// Why the spec could not be turned into a validator.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("parsing the OpenAI OpenAPI document: {0}")]
    Parse(#[from] serde_yaml::Error),
    #[error("converting the OpenAI OpenAPI document to JSON: {0}")]
    Convert(serde_json::Error),
    #[error("the OpenAI OpenAPI document has no schema `{0}`")]
    MissingSchema(String),
    #[error("compiling schema `{name}`: {message}")]
    Compile { name: String, message: String },
}

/// Validators for the request schemas the mock serves.
pub struct Schemas {
    pub chat_completion_request: Validator,
}

impl Schemas {
    /// Parses the bundled OpenAI document and compiles the request schemas.
    pub fn load() -> Result<Self, SpecError> {
        let yaml: serde_yaml::Value = serde_yaml::from_str(&huge_integers_as_floats(OPENAI_SPEC))?;
        let mut document = serde_json::to_value(yaml).map_err(SpecError::Convert)?;
        allow_nullable(&mut document);
        Ok(Self {
            chat_completion_request: compile(&document, "CreateChatCompletionRequest")?,
        })
    }
}

/// A validator for `#/components/schemas/{name}`, resolving `$ref`s inside the document.
fn compile(document: &Value, name: &str) -> Result<Validator, SpecError> {
    if document
        .pointer(&format!("/components/schemas/{name}"))
        .is_none()
    {
        return Err(SpecError::MissingSchema(name.to_owned()));
    }
    let mut root = serde_json::Map::new();
    root.insert(
        "$schema".into(),
        "https://json-schema.org/draft/2020-12/schema".into(),
    );
    root.insert("$ref".into(), format!("#/components/schemas/{name}").into());
    if let Some(components) = document.get("components") {
        root.insert("components".into(), components.clone());
    }
    jsonschema::options()
        .build(&Value::Object(root))
        .map_err(|e| SpecError::Compile {
            name: name.to_owned(),
            message: e.to_string(),
        })
}

/// The document has integers beyond i64 (`seed`'s bounds) that no YAML-to-JSON path
/// accepts; written as floats (`…000.0`) they parse, and compare the same.
fn huge_integers_as_floats(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let value = body
            .rsplit_once(": ")
            .map(|(_, v)| v.trim_start_matches('-'));
        let huge = value.is_some_and(|v| v.len() > 18 && v.bytes().all(|b| b.is_ascii_digit()));
        out.push_str(body);
        if huge {
            out.push_str(".0");
        }
        out.push_str(&line[body.len()..]);
    }
    out
}

/// Applies OpenAPI 3.0's `nullable: true`, which the document still uses in places, as
/// JSON Schema does: `type: X` becomes `type: [X, "null"]`.
fn allow_nullable(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("nullable") == Some(&Value::Bool(true)) {
                if let Some(Value::String(t)) = map.get("type").cloned() {
                    map.insert("type".into(), serde_json::json!([t, "null"]));
                }
            }
            map.values_mut().for_each(allow_nullable);
        }
        Value::Array(items) => items.iter_mut().for_each(allow_nullable),
        _ => {}
    }
}

/// The first few schema violations of `instance`, as readable strings; empty when valid.
pub fn violations(validator: &Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .take(5)
        .map(|e| format!("{} (at `{}`)", e, e.instance_path))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chat_requests_are_checked_against_the_published_schema() {
        let schemas = Schemas::load().unwrap();
        let v = &schemas.chat_completion_request;
        let ok = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}],
                        "stream": true, "stream_options": {"include_usage": true}});
        assert!(violations(v, &ok).is_empty(), "{:?}", violations(v, &ok));
        assert!(
            !violations(v, &json!({"model": "gpt-4o"})).is_empty(),
            "messages is required"
        );
        let bad_role = json!({"model": "m", "messages": [{"role": "wizard", "content": "x"}]});
        assert!(!violations(v, &bad_role).is_empty());
        let null_seed =
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "seed": null});
        assert!(
            violations(v, &null_seed).is_empty(),
            "{:?}",
            violations(v, &null_seed)
        );
        let bad_temp = json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"});
        assert!(!violations(v, &bad_temp).is_empty());
    }
}
