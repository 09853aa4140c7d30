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
        }
    }

    pub fn text(&self) -> String {
        self.chunks.concat()
    }

    pub fn completion_tokens(&self) -> usize {
        self.chunks.len()
    }
}
