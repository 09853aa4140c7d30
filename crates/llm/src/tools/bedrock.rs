//! Bedrock Converse: `toolResult` blocks answer `toolUse` blocks by id; a streamed
//! `toolUse` block runs from `contentBlockStart` through `contentBlockDelta`s to
//! `contentBlockStop`, each an event-stream frame. A blocked call becomes a text block at
//! the same index.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::{json, Value};

use super::{document, Event, Rewriter, ToolJudge, ToolResult};
use crate::eventstream;

/// A `toolResult`'s content: its text parts, or its JSON part as it is.
fn result_document(content: &Value) -> Value {
    let parts = content.as_array().map(Vec::as_slice).unwrap_or_default();
    if let [part] = parts {
        if let Some(json) = part.get("json") {
            return json.clone();
        }
    }
    let text: String = parts.iter().filter_map(|p| p["text"].as_str()).collect();
    document(&text)
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
        for block in message["content"].as_array_mut().into_iter().flatten() {
            if let (Some(id), Some(name)) = (
                block["toolUse"]["toolUseId"].as_str(),
                block["toolUse"]["name"].as_str(),
            ) {
                names.insert(id.to_owned(), name.to_owned());
            }
            let Some(result) = block.get_mut("toolResult") else {
                continue;
            };
            let tool = result["toolUseId"]
                .as_str()
                .and_then(|id| names.get(id))
                .map(String::as_str);
            let found = ToolResult {
                tool,
                document: result_document(&result["content"]),
            };
            if let Some(notice) = screen(found) {
                result["content"] = json!([{"text": notice}]);
                changed = true;
            }
        }
    }
    changed
}

struct Held {
    name: String,
    input: String,
    frames: Vec<Bytes>,
}

#[derive(Default)]
pub(super) struct Converse {
    held: BTreeMap<u64, Held>,
    released: usize,
    blocked: usize,
}

impl Converse {
    fn release(&mut self, index: u64, held: Held, judge: &mut dyn ToolJudge, out: &mut Vec<Bytes>) {
        let input = if held.input.trim().is_empty() {
            "{}"
        } else {
            &held.input
        };
        match judge.judge(&held.name, input) {
            None => {
                self.released += 1;
                out.extend(held.frames);
            }
            Some(refusal) => {
                self.blocked += 1;
                let delta = json!({"contentBlockIndex": index, "delta": {"text": refusal}});
                let stop = json!({"contentBlockIndex": index});
                out.push(eventstream::event("contentBlockDelta", delta.to_string()));
                out.push(eventstream::event("contentBlockStop", stop.to_string()));
            }
        }
    }
}

impl Rewriter for Converse {
    fn concerns_tools(&self, name: Option<&str>, _raw: &[u8]) -> bool {
        match name {
            Some("contentBlockStart" | "messageStop") => true,
            Some("contentBlockDelta" | "contentBlockStop") => !self.held.is_empty(),
            _ => false,
        }
    }

    fn event(&mut self, event: Event, judge: &mut dyn ToolJudge, out: &mut Vec<Bytes>) {
        let index = event.data["contentBlockIndex"].as_u64().unwrap_or(0);
        match event.name.as_deref() {
            Some("contentBlockStart") => {
                if let Some(name) = event.data["start"]["toolUse"]["name"].as_str() {
                    if judge.may_block(name) {
                        let held = Held {
                            name: name.to_owned(),
                            input: String::new(),
                            frames: vec![event.raw],
                        };
                        self.held.insert(index, held);
                        return;
                    }
                    self.released += 1;
                }
                out.push(event.raw);
            }
            Some("contentBlockDelta" | "contentBlockStop") => {
                let Some(held) = self.held.get_mut(&index) else {
                    out.push(event.raw);
                    return;
                };
                if let Some(more) = event.data["delta"]["toolUse"]["input"].as_str() {
                    held.input.push_str(more);
                }
                held.frames.push(event.raw);
                if event.name.as_deref() == Some("contentBlockStop") {
                    if let Some(held) = self.held.remove(&index) {
                        self.release(index, held, judge, out);
                    }
                }
            }
            Some("messageStop") => {
                self.finish(judge, out);
                if event.data["stopReason"] == "tool_use" && self.released == 0 && self.blocked > 0
                {
                    let mut data = event.data;
                    data["stopReason"] = "end_turn".into();
                    out.push(eventstream::event("messageStop", data.to_string()));
                } else {
                    out.push(event.raw);
                }
            }
            _ => out.push(event.raw),
        }
    }

    fn finish(&mut self, judge: &mut dyn ToolJudge, out: &mut Vec<Bytes>) {
        for (index, held) in std::mem::take(&mut self.held) {
            self.release(index, held, judge, out);
        }
    }

    fn body(&mut self, body: &mut Value, judge: &mut dyn ToolJudge) -> bool {
        let Some(content) = body["output"]["message"]["content"].as_array_mut() else {
            return false;
        };
        let (mut kept, mut blocked) = (0, 0);
        for block in content.iter_mut() {
            let Some(name) = block["toolUse"]["name"].as_str() else {
                continue;
            };
            match judge.judge(name, &block["toolUse"]["input"].to_string()) {
                Some(refusal) => {
                    *block = json!({"text": refusal});
                    blocked += 1;
                }
                None => kept += 1,
            }
        }
        if blocked > 0 && kept == 0 && body["stopReason"] == "tool_use" {
            body["stopReason"] = "end_turn".into();
        }
        blocked > 0
    }
}
