//! Anthropic messages: `tool_result` blocks answer `tool_use` blocks by id; a streamed
//! `tool_use` block runs from `content_block_start` through `input_json_delta`s to
//! `content_block_stop`. A blocked call becomes a text block at the same index, so block
//! indexes stay contiguous.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::{json, Value};

use super::{document, mentions, sse, text_of, Event, Rewriter, ToolJudge, ToolResult};

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
            match block["type"].as_str() {
                Some("tool_use" | "server_tool_use") => {
                    if let (Some(id), Some(name)) = (block["id"].as_str(), block["name"].as_str()) {
                        names.insert(id.to_owned(), name.to_owned());
                    }
                }
                Some("tool_result") => {
                    let tool = block["tool_use_id"]
                        .as_str()
                        .and_then(|id| names.get(id))
                        .map(String::as_str);
                    let result = ToolResult {
                        tool,
                        document: document(&text_of(&block["content"])),
                    };
                    if let Some(notice) = screen(result) {
                        block["content"] = json!([{"type": "text", "text": notice}]);
                        changed = true;
                    }
                }
                _ => {}
            }
        }
    }
    changed
}

/// A `tool_use` block being held.
struct Held {
    name: String,
    input: String,
    events: Vec<Bytes>,
}

#[derive(Default)]
pub(super) struct Messages {
    held: BTreeMap<u64, Held>,
    calls_released: usize,
    calls_blocked: usize,
}

impl Rewriter for Messages {
    fn concerns_tools(&self, name: Option<&str>, raw: &[u8]) -> bool {
        !self.held.is_empty()
            || match name {
                Some("content_block_start") => mentions(raw, &["tool_use"]),
                Some("message_delta") => mentions(raw, &["tool_use"]),
                _ => false,
            }
    }

    fn event(&mut self, event: Event, judge: &mut dyn ToolJudge, out: &mut Vec<Bytes>) {
        let index = event.data["index"].as_u64();
        match event.name.as_deref() {
            Some("content_block_start") => {
                let block = &event.data["content_block"];
                if block["type"] == "tool_use" {
                    let name = block["name"].as_str().unwrap_or_default().to_owned();
                    if judge.may_block(&name) {
                        let input = match &block["input"] {
                            Value::Object(o) if !o.is_empty() => block["input"].to_string(),
                            _ => String::new(),
                        };
                        self.held.insert(
                            index.unwrap_or(0),
                            Held {
                                name,
                                input,
                                events: vec![event.raw],
                            },
                        );
                        return;
                    }
                    self.calls_released += 1;
                }
                out.push(event.raw);
            }
            Some("content_block_delta") | Some("content_block_stop") => {
                let Some(held) = index.and_then(|i| self.held.get_mut(&i)) else {
                    out.push(event.raw);
                    return;
                };
                if let Some(more) = event.data["delta"]["partial_json"].as_str() {
                    held.input.push_str(more);
                }
                held.events.push(event.raw);
                if event.name.as_deref() == Some("content_block_stop") {
                    let index = index.unwrap_or(0);
                    if let Some(held) = self.held.remove(&index) {
                        self.release(index, held, judge, out);
                    }
                }
            }
            Some("message_delta") => {
                self.finish(judge, out);
                if event.data["delta"]["stop_reason"] == "tool_use"
                    && self.calls_released == 0
                    && self.calls_blocked > 0
                {
                    let mut data = event.data;
                    data["delta"]["stop_reason"] = "end_turn".into();
                    out.push(sse(Some("message_delta"), &data));
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
        let Some(content) = body["content"].as_array_mut() else {
            return false;
        };
        let (mut kept, mut blocked) = (0, 0);
        for block in content.iter_mut() {
            if block["type"] != "tool_use" {
                continue;
            }
            let name = block["name"].as_str().unwrap_or_default();
            match judge.judge(name, &block["input"].to_string()) {
                Some(refusal) => {
                    *block = json!({"type": "text", "text": refusal, "citations": null});
                    blocked += 1;
                }
                None => kept += 1,
            }
        }
        if blocked > 0 && kept == 0 && body["stop_reason"] == "tool_use" {
            body["stop_reason"] = "end_turn".into();
        }
        blocked > 0
    }
}

impl Messages {
    fn release(&mut self, index: u64, held: Held, judge: &mut dyn ToolJudge, out: &mut Vec<Bytes>) {
        let input = if held.input.trim().is_empty() {
            "{}"
        } else {
            &held.input
        };
        match judge.judge(&held.name, input) {
            None => {
                self.calls_released += 1;
                out.extend(held.events);
            }
            Some(refusal) => {
                self.calls_blocked += 1;
                let start = json!({"type": "content_block_start", "index": index,
                    "content_block": {"type": "text", "text": ""}});
                let delta = json!({"type": "content_block_delta", "index": index,
                    "delta": {"type": "text_delta", "text": refusal}});
                let stop = json!({"type": "content_block_stop", "index": index});
                out.push(sse(Some("content_block_start"), &start));
                out.push(sse(Some("content_block_delta"), &delta));
                out.push(sse(Some("content_block_stop"), &stop));
            }
        }
    }
}
