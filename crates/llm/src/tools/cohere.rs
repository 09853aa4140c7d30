//! Cohere v2 chat: `tool` messages answer an assistant's `tool_calls` by id; a streamed
//! call runs from `tool-call-start` through `tool-call-delta`s to `tool-call-end`. A blocked
//! call becomes a text content block (`content-start` / `-delta` / `-end`).

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::{json, Value};

use super::{document, mentions, sse, Event, Rewriter, ToolJudge, ToolResult};

/// A tool message's content: a string, or `text` / `document` parts.
fn result_text(content: &Value) -> String {
    match content {
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| match &p["document"]["data"] {
                Value::String(s) => Some(s.clone()),
                Value::Null => p["text"].as_str().map(str::to_owned),
                other => Some(other.to_string()),
            })
            .collect(),
        other => super::text_of(other),
    }
}

pub(super) fn screen_results(
    body: &mut Value,
    screen: &mut dyn FnMut(ToolResult<'_>) -> Option<String>,
) -> bool {
    let Some(messages) = body["messages"].as_array_mut() else {
        return false;
    };
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut changed = false;
    for message in messages.iter_mut() {
        match message["role"].as_str() {
            Some("assistant") => {
                for call in message["tool_calls"].as_array().into_iter().flatten() {
                    if let (Some(id), Some(name)) =
                        (call["id"].as_str(), call["function"]["name"].as_str())
                    {
                        names.insert(id.to_owned(), name.to_owned());
                    }
                }
            }
            Some("tool") => {
                let tool = message["tool_call_id"]
                    .as_str()
                    .and_then(|id| names.get(id))
                    .map(String::as_str);
                let found = ToolResult {
                    tool,
                    document: document(&result_text(&message["content"])),
                };
                if let Some(notice) = screen(found) {
                    message["content"] = Value::String(notice);
                    changed = true;
                }
            }
            _ => {}
        }
    }
    changed
}

struct Held {
    name: String,
    arguments: String,
    events: Vec<Bytes>,
}

#[derive(Default)]
pub(super) struct Chat {
    held: BTreeMap<u64, Held>,
    released: usize,
    blocked: usize,
    /// Content blocks seen: a refusal's block takes the next index.
    content_blocks: u64,
}

impl Chat {
    fn release(&mut self, held: Held, judge: &mut dyn ToolJudge, out: &mut Vec<Bytes>) {
        let arguments = if held.arguments.trim().is_empty() {
            "{}"
        } else {
            &held.arguments
        };
        match judge.judge(&held.name, arguments) {
            None => {
                self.released += 1;
                out.extend(held.events);
            }
            Some(refusal) => {
                self.blocked += 1;
                let index = self.content_blocks;
                self.content_blocks += 1;
                let start = json!({"type": "content-start", "index": index,
                    "delta": {"message": {"content": {"type": "text", "text": ""}}}});
                let delta = json!({"type": "content-delta", "index": index,
                    "delta": {"message": {"content": {"text": refusal}}}});
                let end = json!({"type": "content-end", "index": index});
                out.push(sse(Some("content-start"), &start));
                out.push(sse(Some("content-delta"), &delta));
                out.push(sse(Some("content-end"), &end));
            }
        }
    }
}

impl Rewriter for Chat {
    fn concerns_tools(&self, _name: Option<&str>, raw: &[u8]) -> bool {
        mentions(
            raw,
            &["\"tool-call-", "\"content-start\"", "\"message-end\""],
        )
    }

    fn event(&mut self, event: Event, judge: &mut dyn ToolJudge, out: &mut Vec<Bytes>) {
        let index = event.data["index"].as_u64().unwrap_or(0);
        match event.data["type"].as_str() {
            Some("content-start") => {
                self.content_blocks = self.content_blocks.max(index + 1);
                out.push(event.raw);
            }
            Some("tool-call-start") => {
                let call = &event.data["delta"]["message"]["tool_calls"];
                let name = call["function"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                if judge.may_block(&name) {
                    let arguments = call["function"]["arguments"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    let held = Held {
                        name,
                        arguments,
                        events: vec![event.raw],
                    };
                    self.held.insert(index, held);
                } else {
                    self.released += 1;
                    out.push(event.raw);
                }
            }
            Some(kind @ ("tool-call-delta" | "tool-call-end")) => {
                let end = kind == "tool-call-end";
                let Some(held) = self.held.get_mut(&index) else {
                    out.push(event.raw);
                    return;
                };
                if let Some(more) =
                    event.data["delta"]["message"]["tool_calls"]["function"]["arguments"].as_str()
                {
                    held.arguments.push_str(more);
                }
                held.events.push(event.raw);
                if end {
                    if let Some(held) = self.held.remove(&index) {
                        self.release(held, judge, out);
                    }
                }
            }
            Some("message-end") => {
                self.finish(judge, out);
                if event.data["delta"]["finish_reason"] == "TOOL_CALL"
                    && self.released == 0
                    && self.blocked > 0
                {
                    let mut data = event.data;
                    data["delta"]["finish_reason"] = "COMPLETE".into();
                    out.push(sse(Some("message-end"), &data));
                } else {
                    out.push(event.raw);
                }
            }
            _ => out.push(event.raw),
        }
    }

    fn finish(&mut self, judge: &mut dyn ToolJudge, out: &mut Vec<Bytes>) {
        for (_, held) in std::mem::take(&mut self.held) {
            self.release(held, judge, out);
        }
    }

    fn body(&mut self, body: &mut Value, judge: &mut dyn ToolJudge) -> bool {
        let message = &mut body["message"];
        let Some(calls) = message["tool_calls"].as_array_mut() else {
            return false;
        };
        let mut refusals = Vec::new();
        calls.retain(|call| {
            let name = call["function"]["name"].as_str().unwrap_or_default();
            let arguments = call["function"]["arguments"].as_str().unwrap_or_default();
            match judge.judge(name, arguments) {
                Some(refusal) => {
                    refusals.push(refusal);
                    false
                }
                None => true,
            }
        });
        if refusals.is_empty() {
            return false;
        }
        if calls.is_empty() {
            if let Some(m) = message.as_object_mut() {
                m.remove("tool_calls");
            }
            if body["finish_reason"] == "TOOL_CALL" {
                body["finish_reason"] = "COMPLETE".into();
            }
        }
        let message = &mut body["message"];
        if !message["content"].is_array() {
            message["content"] = json!([]);
        }
        if let Some(content) = message["content"].as_array_mut() {
            content.extend(
                refusals
                    .into_iter()
                    .map(|t| json!({"type": "text", "text": t})),
            );
        }
        true
    }
}
