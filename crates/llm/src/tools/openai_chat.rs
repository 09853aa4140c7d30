//! OpenAI chat completions (and every OpenAI-compatible provider): `tool` messages answer
//! an assistant's `tool_calls` by id; streamed calls arrive as `delta.tool_calls[]` pieces
//! keyed by `index`, one call after another, with no event closing a call.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::{json, Value};

use super::{
    complete_json, document, mentions, sse, text_of, Event, Rewriter, ToolJudge, ToolResult,
};

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
            Some("tool") | Some("function") => {
                let tool = match message["tool_call_id"].as_str() {
                    Some(id) => names.get(id).map(String::as_str),
                    None => message["name"].as_str(),
                };
                let result = ToolResult {
                    tool,
                    document: document(&text_of(&message["content"])),
                };
                if let Some(notice) = screen(result) {
                    message["content"] = Value::String(notice);
                    changed = true;
                }
            }
            _ => {}
        }
    }
    changed
}

/// One streamed call being read.
#[derive(Default)]
struct Call {
    id: Option<String>,
    name: String,
    arguments: String,
    /// Its pieces are held until it is judged.
    held: bool,
    decided: bool,
    /// The index the client sees (calls blocked before it shift it down).
    index: Option<u64>,
}

#[derive(Default)]
struct Choice {
    calls: BTreeMap<u64, Call>,
    current: Option<u64>,
    /// Calls the client has seen (or will): the next one's index.
    released: u64,
}

#[derive(Default)]
pub(super) struct Chat {
    choices: BTreeMap<u64, Choice>,
    /// `id`, `model`, `created`… of the stream's chunks, for chunks made here.
    envelope: Option<Value>,
}

impl Chat {
    fn chunk(&self, choice: u64, delta: Value) -> Bytes {
        let mut chunk = self.envelope.clone().unwrap_or_else(|| json!({}));
        chunk["choices"] = json!([{"index": choice, "delta": delta, "finish_reason": null}]);
        sse(None, &chunk)
    }

    /// Judges the choice's current held call, if any, and sends the call or its refusal.
    fn decide_current(&mut self, choice: u64, judge: &mut dyn ToolJudge, out: &mut Vec<Bytes>) {
        let Some(state) = self.choices.get_mut(&choice) else {
            return;
        };
        let Some(call) = state.current.and_then(|k| state.calls.get_mut(&k)) else {
            return;
        };
        if !call.held || call.decided {
            return;
        }
        call.decided = true;
        let delta = match judge.judge(&call.name, &call.arguments) {
            Some(refusal) => json!({"content": refusal}),
            None => {
                let index = state.released;
                state.released += 1;
                call.index = Some(index);
                json!({"tool_calls": [{
                    "index": index,
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }]})
            }
        };
        let bytes = self.chunk(choice, delta);
        out.push(bytes);
    }

    /// One choice of a chunk; returns whether it changed.
    fn choice(&mut self, c: &mut Value, judge: &mut dyn ToolJudge, out: &mut Vec<Bytes>) -> bool {
        let ci = c["index"].as_u64().unwrap_or(0);
        let mut changed = false;
        let pieces = match c["delta"]["tool_calls"].as_array_mut() {
            Some(pieces) => std::mem::take(pieces),
            None => Vec::new(),
        };
        let had_pieces = !pieces.is_empty();
        let mut kept = Vec::new();
        for mut piece in pieces {
            let k = piece["index"].as_u64().unwrap_or(0);
            let state = self.choices.entry(ci).or_default();
            if state.current != Some(k) {
                self.decide_current(ci, judge, out);
                let state = self.choices.entry(ci).or_default();
                state.current = Some(k);
                let name = piece["function"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let held = judge.may_block(&name);
                state.calls.entry(k).or_insert_with(|| Call {
                    id: piece["id"].as_str().map(str::to_owned),
                    name,
                    held,
                    ..Call::default()
                });
            }
            let state = self.choices.entry(ci).or_default();
            let Some(call) = state.calls.get_mut(&k) else {
                continue;
            };
            if call.held {
                changed = true;
                if let Some(more) = piece["function"]["arguments"].as_str() {
                    call.arguments.push_str(more);
                }
                if complete_json(&call.arguments) {
                    self.decide_current(ci, judge, out);
                }
                continue;
            }
            let index = *call.index.get_or_insert_with(|| {
                let i = state.released;
                state.released += 1;
                i
            });
            if index != k {
                piece["index"] = index.into();
                changed = true;
            }
            kept.push(piece);
        }
        if had_pieces {
            if kept.is_empty() {
                if let Some(delta) = c["delta"].as_object_mut() {
                    delta.remove("tool_calls");
                }
            } else {
                c["delta"]["tool_calls"] = Value::Array(kept);
            }
        }
        if let Some(reason) = c["finish_reason"].as_str().map(str::to_owned) {
            self.decide_current(ci, judge, out);
            let state = self.choices.entry(ci).or_default();
            if reason == "tool_calls" && state.released == 0 {
                c["finish_reason"] = "stop".into();
                changed = true;
            }
        }
        changed
    }
}

/// Whether a rewritten choice still says anything.
fn says_something(c: &Value) -> bool {
    !c["finish_reason"].is_null()
        || c["delta"]
            .as_object()
            .is_some_and(|d| d.iter().any(|(k, v)| k != "role" && !v.is_null()))
        || c["logprobs"].is_object()
}

impl Rewriter for Chat {
    fn concerns_tools(&self, _name: Option<&str>, raw: &[u8]) -> bool {
        mentions(raw, &["tool_calls", "finish_reason\":\""])
    }

    fn event(&mut self, event: Event, judge: &mut dyn ToolJudge, out: &mut Vec<Bytes>) {
        let mut data = event.data;
        if self.envelope.is_none() {
            let mut envelope = data.clone();
            if let Some(e) = envelope.as_object_mut() {
                e.remove("choices");
                e.remove("usage");
            }
            self.envelope = Some(envelope);
        }
        let mut changed = false;
        let mut before = Vec::new();
        if let Some(choices) = data["choices"].as_array_mut() {
            for c in choices.iter_mut() {
                changed |= self.choice(c, judge, &mut before);
            }
            if changed {
                choices.retain(says_something);
            }
        }
        out.extend(before);
        if !changed {
            out.push(event.raw);
        } else if data["choices"].as_array().is_some_and(|c| !c.is_empty())
            || !data["usage"].is_null()
        {
            out.push(sse(None, &data));
        }
    }

    fn finish(&mut self, judge: &mut dyn ToolJudge, out: &mut Vec<Bytes>) {
        let choices: Vec<u64> = self.choices.keys().copied().collect();
        for ci in choices {
            self.decide_current(ci, judge, out);
        }
    }

    fn body(&mut self, body: &mut Value, judge: &mut dyn ToolJudge) -> bool {
        let mut changed = false;
        for c in body["choices"].as_array_mut().into_iter().flatten() {
            let message = &mut c["message"];
            let Some(calls) = message["tool_calls"].as_array_mut() else {
                continue;
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
                continue;
            }
            changed = true;
            let none_left = calls.is_empty();
            if none_left {
                if let Some(m) = message.as_object_mut() {
                    m.remove("tool_calls");
                }
                if c["finish_reason"] == "tool_calls" {
                    c["finish_reason"] = "stop".into();
                }
            }
            let message = &mut c["message"];
            let mut text = message["content"].as_str().unwrap_or_default().to_owned();
            for refusal in refusals {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(&refusal);
            }
            message["content"] = Value::String(text);
        }
        changed
    }
}
