//! Arbitrary response bytes through the tool-call guard of every format and framing, split
//! anywhere, with calls judged both ways: never a panic, held bytes stay bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use llm::route::Endpoint;
use llm::tools::{ToolCallGuard, ToolJudge};
use llm::usage::Framing;

struct BlockEven(u32);

impl ToolJudge for BlockEven {
    fn may_block(&self, name: &str) -> bool {
        name.len() % 2 == 0
    }
    fn judge(&mut self, _name: &str, _arguments: &str) -> Option<String> {
        self.0 += 1;
        (self.0 % 2 == 0).then(|| "blocked".to_owned())
    }
}

const ENDPOINTS: [Endpoint; 6] = [
    Endpoint::ChatCompletions,
    Endpoint::Responses,
    Endpoint::Messages,
    Endpoint::StreamGenerateContent,
    Endpoint::ConverseStream,
    Endpoint::CohereChat,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let endpoint = ENDPOINTS[selector as usize % ENDPOINTS.len()];
    let framing = [Framing::Json, Framing::Sse, Framing::EventStream][(selector as usize / 8) % 3];
    let Some(mut guard) = ToolCallGuard::new(endpoint, framing, Box::new(BlockEven(0))) else {
        return;
    };
    for piece in body.chunks(1 + selector as usize % 13) {
        if guard.push(piece).is_err() {
            return;
        }
    }
    let _ = guard.finish();
});
