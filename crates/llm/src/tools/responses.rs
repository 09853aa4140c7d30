//! OpenAI Responses: `function_call_output` items answer `function_call` items by
//! `call_id`; a streamed call runs from `response.output_item.added` through
//! `response.function_call_arguments.*` to `response.output_item.done`. A blocked call
//! becomes an assistant `message` item at the same output index, in the stream and in the
//! final `response.completed` snapshot.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::{json, Value};

use super::{document, mentions, sse, text_of, Event, Rewriter, ToolJudge, ToolResult};

pub(super) fn screen_results(
    body: &mut Value,
    screen: &mut dyn FnMut(ToolResult<'_>) -> Option<String>,
) -> bool {
    let Some(items) = body["input"].as_array_mut() else {
        return false;
    };
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut changed = false;
    for item in items.iter_mut() {
        match item["type"].as_str() {
            Some("function_call") => {
                if let (Some(id), Some(name)) = (item["call_id"].as_str(), item["name"].as_str()) {
                    names.insert(id.to_owned(), name.to_owned());
                }
            }
            Some("function_call_output") => {
                let tool = item["call_id"]
                    .as_str()
                    .and_then(|id| names.get(id))
                    .map(String::as_str);
                let found = ToolResult {
                    tool,
                    document: document(&text_of(&item["output"])),
                };
                if let Some(notice) = screen(found) {
                    item["output"] = Value::String(notice);
                    changed = true;
                }
            }
            _ => {}
        }
    }
    changed
}

/// The assistant message that replaces a blocked call.
fn refusal_item(call: &Value, refusal: &str) -> Value {
    let id = call["id"].as_str().unwrap_or("call");
    json!({"type": "message", "id": format!("msg_gh_{id}"), "status": "completed",
           "role": "assistant",
           "content": [{"type": "output_text", "text": refusal, "annotations": []}]})
}

struct Held {
    name: String,
    events: Vec<Bytes>,
}

#[derive(Default)]
pub(super) struct Responses {
    held: BTreeMap<u64, Held>,
    /// Output index → the message that replaced a blocked call.
    replaced: BTreeMap<u64, Value>,
}

impl Rewriter for Responses {
    fn concerns_tools(&self, _name: Option<&str>, raw: &[u8]) -> bool {
        mentions(
            raw,
            &[
                "function_call",
                "\"response.completed\"",
                "\"response.incomplete\"",
            ],
        )
    }

    fn event(&mut self, event: Event, judge: &mut dyn ToolJudge, out: &mut Vec<Bytes>) {
        let data = &event.data;
        let index = data["output_index"].as_u64().unwrap_or(0);
        let kind = data["type"].as_str().unwrap_or_default().to_owned();
        match kind.as_str() {
            "response.output_item.added" if data["item"]["type"] == "function_call" => {
                let name = data["item"]["name"].as_str().unwrap_or_default().to_owned();
                if judge.may_block(&name) {
                    let held = Held {
                        name,
                        events: vec![event.raw],
                    };
                    self.held.insert(index, held);
                } else {
                    out.push(event.raw);
                }
            }
            "response.function_call_arguments.delta" | "response.function_call_arguments.done" => {
                match self.held.get_mut(&index) {
                    Some(held) => held.events.push(event.raw),
                    None => out.push(event.raw),
                }
            }
            "response.output_item.done" => {
                let Some(mut held) = self.held.remove(&index) else {
                    out.push(event.raw);
                    return;
                };
                let item = &data["item"];
                let arguments = item["arguments"].as_str().unwrap_or_default();
                match judge.judge(&held.name, arguments) {
                    None => {
                        held.events.push(event.raw);
                        out.extend(held.events);
                    }
                    Some(refusal) => {
                        let message = refusal_item(item, &refusal);
                        let seq = data["sequence_number"].clone();
                        let item_id = message["id"].clone();
                        let mut added = message.clone();
                        added["status"] = "in_progress".into();
                        added["content"] = json!([]);
                        let part = json!({"type": "output_text", "text": "", "annotations": []});
                        let done_part = message["content"][0].clone();
                        let at = |kind: &str, extra: Value| {
                            let mut e = json!({"type": kind, "sequence_number": seq,
                                               "output_index": index});
                            if let (Some(e), Value::Object(extra)) = (e.as_object_mut(), extra) {
                                e.extend(extra);
                            }
                            sse(Some(kind), &e)
                        };
                        out.push(at("response.output_item.added", json!({"item": added})));
                        out.push(at(
                            "response.content_part.added",
                            json!({"item_id": item_id, "content_index": 0, "part": part}),
                        ));
                        out.push(at(
                            "response.output_text.delta",
                            json!({"item_id": item_id, "content_index": 0, "delta": refusal,
                                   "logprobs": []}),
                        ));
                        out.push(at(
                            "response.output_text.done",
                            json!({"item_id": item_id, "content_index": 0, "text": refusal,
                                   "logprobs": []}),
                        ));
                        out.push(at(
                            "response.content_part.done",
                            json!({"item_id": item_id, "content_index": 0, "part": done_part}),
                        ));
                        out.push(at(
                            "response.output_item.done",
                            json!({"item": message.clone()}),
                        ));
                        self.replaced.insert(index, message);
                    }
                }
            }
            "response.completed" | "response.incomplete" if !self.replaced.is_empty() => {
                let mut data = event.data;
                for (index, message) in &self.replaced {
                    if let Some(item) = data["response"]["output"]
                        .as_array_mut()
                        .and_then(|o| o.get_mut(*index as usize))
                    {
                        *item = message.clone();
                    }
                }
                out.push(sse(Some(&kind), &data));
            }
            _ => out.push(event.raw),
        }
    }

    fn finish(&mut self, judge: &mut dyn ToolJudge, out: &mut Vec<Bytes>) {
        // A stream cut before a call's `output_item.done`: judge what arrived.
        for (_, held) in std::mem::take(&mut self.held) {
            if judge.judge(&held.name, "").is_none() {
                out.extend(held.events);
            }
        }
    }

    fn body(&mut self, body: &mut Value, judge: &mut dyn ToolJudge) -> bool {
        let mut changed = false;
        for item in body["output"].as_array_mut().into_iter().flatten() {
            if item["type"] != "function_call" {
                continue;
            }
            let name = item["name"].as_str().unwrap_or_default();
            let arguments = item["arguments"].as_str().unwrap_or_default();
            if let Some(refusal) = judge.judge(name, arguments) {
                *item = refusal_item(item, &refusal);
                changed = true;
            }
        }
        changed
    }
}
