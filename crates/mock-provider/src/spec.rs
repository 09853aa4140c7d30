//! Request validation against the providers' published schemas (`specs/`), so the mock
//! refuses what the real APIs refuse: OpenAI's OpenAPI document (MIT), the OpenAPI
//! document behind Anthropic's SDK, and schemas extracted from Google's discovery document,
//! botocore's Bedrock model and the Cohere SDK's types
//! (`scripts/extract-provider-schemas.py`).

use jsonschema::Validator;
use serde_json::Value;

static OPENAI_SPEC: &str = include_str!("../specs/openai-openapi.yaml");
static ANTHROPIC_SPEC: &str = include_str!("../specs/anthropic-openapi.json");
static GEMINI_SCHEMA: &str = include_str!("../specs/gemini-generate-content-request.schema.json");
static BEDROCK_SCHEMA: &str = include_str!("../specs/bedrock-converse-request.schema.json");
static COHERE_SCHEMA: &str = include_str!("../specs/cohere-chat-request.schema.json");

/// Why the spec could not be turned into a validator.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("parsing the OpenAI OpenAPI document: {0}")]
    Parse(#[from] serde_yaml::Error),
    #[error("converting a provider schema document to JSON: {0}")]
    Convert(serde_json::Error),
    #[error("the provider's document has no schema `{0}`")]
    MissingSchema(String),
    #[error("compiling schema `{name}`: {message}")]
    Compile { name: String, message: String },
}

/// Validators for the request schemas the mock serves.
pub struct Schemas {
    pub chat_completion_request: Validator,
    pub create_response: Validator,
    pub create_embedding_request: Validator,
    pub anthropic_messages: Validator,
    pub anthropic_count_tokens: Validator,
    pub gemini_generate_content: Validator,
    pub bedrock_converse: Validator,
    pub bedrock_converse_stream: Validator,
    pub cohere_chat: Validator,
}

impl Schemas {
    /// Parses the bundled documents and compiles the request schemas.
    pub fn load() -> Result<Self, SpecError> {
        let yaml: serde_yaml::Value = serde_yaml::from_str(&huge_integers_as_floats(OPENAI_SPEC))?;
        let mut openai = serde_json::to_value(yaml).map_err(SpecError::Convert)?;
        allow_nullable(&mut openai);
        let mut anthropic: Value =
            serde_json::from_str(ANTHROPIC_SPEC).map_err(SpecError::Convert)?;
        drop_null_types(&mut anthropic);
        let bedrock: Value = serde_json::from_str(BEDROCK_SCHEMA).map_err(SpecError::Convert)?;
        let bedrock_operation = |name: &str| {
            let mut root = bedrock.clone();
            if let Some(map) = root.as_object_mut() {
                map.remove("operations");
                map.insert("$ref".into(), format!("#/$defs/{name}Request").into());
            }
            standalone(&root, name)
        };
        Ok(Self {
            chat_completion_request: compile(&openai, "CreateChatCompletionRequest")?,
            create_response: compile(&openai, "CreateResponse")?,
            create_embedding_request: compile(&openai, "CreateEmbeddingRequest")?,
            anthropic_messages: compile(&anthropic, "CreateMessageParams")?,
            anthropic_count_tokens: compile(&anthropic, "BetaCountMessageTokensParams")?,
            gemini_generate_content: standalone(
                &serde_json::from_str(GEMINI_SCHEMA).map_err(SpecError::Convert)?,
                "GenerateContentRequest",
            )?,
            bedrock_converse: bedrock_operation("Converse")?,
            bedrock_converse_stream: bedrock_operation("ConverseStream")?,
            cohere_chat: standalone(
                &serde_json::from_str(COHERE_SCHEMA).map_err(SpecError::Convert)?,
                "v2 chat",
            )?,
        })
    }
}

/// A validator for a self-contained JSON Schema document.
fn standalone(schema: &Value, name: &str) -> Result<Validator, SpecError> {
    jsonschema::options()
        .build(schema)
        .map_err(|e| SpecError::Compile {
            name: name.to_owned(),
            message: e.to_string(),
        })
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

/// The Anthropic document writes `"type": null` beside an `anyOf` (its `Model`), which
/// JSON Schema does not allow; without it the `anyOf` says the same.
fn drop_null_types(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("type") == Some(&Value::Null) {
                map.remove("type");
            }
            map.values_mut().for_each(drop_null_types);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_null_types),
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
    fn every_provider_schema_accepts_a_minimal_request_and_refuses_a_wrong_one() {
        let s = Schemas::load().unwrap();
        let cases = [
            (
                &s.anthropic_messages,
                json!({"model": "claude-x", "max_tokens": 5,
                "messages": [{"role": "user", "content": "hi"}]}),
                json!({"model": "c", "messages": []}),
            ),
            (
                &s.gemini_generate_content,
                json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
                "generationConfig": {"maxOutputTokens": 5}}),
                json!({"contents": [], "generation_config": {}}),
            ),
            (
                &s.bedrock_converse,
                json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}],
                "inferenceConfig": {"maxTokens": 5}}),
                json!({"messages": [{"role": "wizard", "content": []}]}),
            ),
            (
                &s.cohere_chat,
                json!({"model": "command-a", "messages": [{"role": "user", "content": "hi"}]}),
                json!({"messages": []}),
            ),
            (
                &s.create_response,
                json!({"model": "gpt-4.1", "input": "hi"}),
                json!({"model": 3}),
            ),
            (
                &s.create_embedding_request,
                json!({"model": "e", "input": "hi"}),
                json!({"model": "e"}),
            ),
        ];
        for (validator, good, bad) in cases {
            assert!(
                violations(validator, &good).is_empty(),
                "{good}: {:?}",
                violations(validator, &good)
            );
            assert!(
                !violations(validator, &bad).is_empty(),
                "{bad} should be refused"
            );
        }
    }

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
