//! Gemini: `functionResponse` parts name their tool; `functionCall` parts arrive whole, in
//! one streamed response each, so nothing is ever held: a blocked call's part becomes a text
//! part in the same response. (Gemini's finish reason is `STOP` with or without calls.)

use bytes::Bytes;
use serde_json::{json, Value};

use super::{mentions, sse, Event, Rewriter, ToolJudge, ToolResult};

pub(super) fn screen_results(
    body: &mut Value,
    screen: &mut dyn FnMut(ToolResult<'_>) -> Option<String>,
) -> bool {
    let mut changed = false;
    for content in body["contents"].as_array_mut().into_iter().flatten() {
        for part in content["parts"].as_array_mut().into_iter().flatten() {
            let Some(response) = part.get_mut("functionResponse") else {
                continue;
            };
            let name = response["name"].as_str().map(str::to_owned);
            let found = ToolResult {
                tool: name.as_deref(),
                document: result_document(&response["response"]),
            };
            if let Some(notice) = screen(found) {
                response["response"] = json!({"result": notice});
                changed = true;
            }
        }
    }
    changed
}

/// A `functionResponse.response`: an object that wraps one text field (`{"result": …}`,
/// the SDKs' convention) reads as that text's document; any other object as itself.
fn result_document(response: &Value) -> Value {
    match response.as_object() {
        Some(fields) if fields.len() == 1 => match fields.values().next() {
            Some(Value::String(text)) => super::document(text),
            _ => response.clone(),
        },
        _ => response.clone(),
    }
}

pub(super) struct Gemini;

/// Judges the calls of one `GenerateContentResponse`; returns whether it changed.
fn judge_response(response: &mut Value, judge: &mut dyn ToolJudge) -> bool {
    let mut changed = false;
    for candidate in response["candidates"].as_array_mut().into_iter().flatten() {
        for part in candidate["content"]["parts"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            let Some(call) = part.get("functionCall") else {
                continue;
            };
            let name = call["name"].as_str().unwrap_or_default();
            let arguments = match &call["args"] {
                Value::Null => "{}".to_owned(),
                args => args.to_string(),
            };
            if let Some(refusal) = judge.judge(name, &arguments) {
                *part = json!({"text": refusal});
                changed = true;
            }
        }
    }
    changed
}

impl Rewriter for Gemini {
    fn concerns_tools(&self, _name: Option<&str>, raw: &[u8]) -> bool {
        mentions(raw, &["functionCall"])
    }

    fn event(&mut self, event: Event, judge: &mut dyn ToolJudge, out: &mut Vec<Bytes>) {
        let mut data = event.data;
        if judge_response(&mut data, judge) {
            out.push(sse(None, &data));
        } else {
            out.push(event.raw);
        }
    }

    fn finish(&mut self, _judge: &mut dyn ToolJudge, _out: &mut Vec<Bytes>) {}

    fn body(&mut self, body: &mut Value, judge: &mut dyn ToolJudge) -> bool {
        match body {
            // `streamGenerateContent` without `alt=sse`: a JSON array of responses.
            Value::Array(responses) => {
                let mut changed = false;
                for r in responses {
                    changed |= judge_response(r, judge);
                }
                changed
            }
            response => judge_response(response, judge),
        }
    }
}
