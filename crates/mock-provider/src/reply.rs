//! The deterministic reply every format renders: the same words, streamed or whole.

use serde_json::Value;

use crate::record::unix_now;

const WORDS: [&str; 12] = [
    "Hello",
    "from",
    "the",
    "Gatehouse",
    "mock",
    "provider,",
    "a",
    "deterministic",
    "stand-in",
    "for",
    "real",
    "models.",
];

/// The content chunks of every reply with `n` chunks: the same for streaming and not.
pub fn reply_chunks(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let word = WORDS[i % WORDS.len()];
            if i + 1 == n {
                word.to_owned()
            } else {
                format!("{word} ")
            }
        })
        .collect()
}

pub(crate) fn rand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed) ^ (unix_now() * 1e6) as u64
}

/// One reply, before a format renders it.
#[derive(Debug, Clone)]
pub struct Reply {
    pub id: String,
    pub model: String,
    pub created: u64,
    pub prompt_tokens: usize,
    pub chunks: Vec<String>,
    /// OpenAI chat: the client asked for a usage chunk (`stream_options.include_usage`).
    pub include_usage: bool,
    /// Embeddings: how many inputs, and whether they are wanted base64-encoded.
    pub inputs: usize,
    pub base64: bool,
    /// Tool calls the conversation's last message directs (see [`directed_calls`]); when
    /// there are any, the reply is these calls instead of text.
    pub calls: Vec<CallReply>,
}

/// One tool call the mock makes.
#[derive(Debug, Clone)]
pub struct CallReply {
    pub id: String,
    pub name: String,
    /// The arguments' JSON text, exactly as the directive wrote it.
    pub arguments: String,
}

impl CallReply {
    /// The arguments in small pieces, as a model streams them (split on char boundaries).
    pub fn argument_pieces(&self) -> Vec<String> {
        let chars: Vec<char> = self.arguments.chars().collect();
        chars.chunks(5).map(|c| c.iter().collect()).collect()
    }

    /// The arguments as a JSON value (`{}` when they are not JSON).
    pub fn arguments_json(&self) -> Value {
        serde_json::from_str(&self.arguments).unwrap_or_else(|_| serde_json::json!({}))
    }
}

/// The tool calls a mock "model" makes: it obeys every `<<call:NAME ARGS>>` directive in the
/// conversation's last message (a user's text or a tool's result), the way a model steered
/// by injected text would. `ARGS` is the arguments' JSON text. The conversation is
/// `messages`, `input` or `contents`, whichever the format uses.
pub fn directed_calls(request: &Value) -> Vec<CallReply> {
    let conversation = ["messages", "input", "contents"]
        .iter()
        .map(|f| &request[*f])
        .find(|v| !v.is_null());
    let last = match conversation {
        Some(Value::Array(items)) => items.last(),
        other => other,
    };
    let mut texts = Vec::new();
    if let Some(last) = last {
        strings(last, &mut texts);
    }
    let mut calls = Vec::new();
    for text in texts {
        let mut rest = text.as_str();
        while let Some(at) = rest.find("<<call:") {
            rest = &rest[at + 7..];
            let Some(end) = rest.find(">>") else { break };
            let directive = &rest[..end];
            rest = &rest[end + 2..];
            let (name, arguments) = directive.split_once(' ').unwrap_or((directive, "{}"));
            calls.push(CallReply {
                id: format!("call_{}_{}", calls.len(), rand_id() % 1_000_000),
                name: name.to_owned(),
                arguments: arguments.to_owned(),
            });
        }
    }
    calls
}

/// Every string inside a value (a tool result's JSON may hold the directive in a field).
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => match serde_json::from_str(s) {
            // A tool result that is itself JSON text: its strings, unescaped.
            Ok(inner @ (Value::Object(_) | Value::Array(_))) => strings(&inner, out),
            _ => out.push(s.clone()),
        },
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

impl Reply {
    pub fn new(id: String, model: String, prompt_tokens: usize, n: usize, request: &Value) -> Self {
        let inputs = match &request["input"] {
            Value::Array(items) if items.iter().all(Value::is_array) => items.len(),
            Value::Array(items) if items.iter().all(Value::is_string) => items.len(),
            _ => 1,
        };
        Reply {
            id,
            model,
            created: unix_now() as u64,
            prompt_tokens,
            chunks: reply_chunks(n),
            include_usage: request["stream_options"]["include_usage"].as_bool() == Some(true),
            inputs,
            base64: request["encoding_format"] == "base64",
            calls: directed_calls(request),
        }
    }

    pub fn text(&self) -> String {
        self.chunks.concat()
    }

    pub fn completion_tokens(&self) -> usize {
        if self.calls.is_empty() {
            self.chunks.len()
        } else {
            self.calls.iter().map(|c| c.arguments.len() / 4 + 1).sum()
        }
    }
}
