//! Any upstream response body, in any framing, read as any endpoint's format: the side
//! parser never panics and stays bounded, however the bytes are split.
#![no_main]

use libfuzzer_sys::fuzz_target;
use llm::route::Endpoint;
use llm::usage::{Framing, ResponseObserver};

const ENDPOINTS: [Endpoint; 8] = [
    Endpoint::ChatCompletions,
    Endpoint::Responses,
    Endpoint::Embeddings,
    Endpoint::Messages,
    Endpoint::GenerateContent,
    Endpoint::StreamGenerateContent,
    Endpoint::ConverseStream,
    Endpoint::CohereChat,
];
const FRAMINGS: [Framing; 3] = [Framing::Json, Framing::Sse, Framing::EventStream];

fuzz_target!(|input: (u8, u8, u8, &[u8])| {
    let (endpoint, framing, split, body) = input;
    let endpoint = ENDPOINTS[endpoint as usize % ENDPOINTS.len()];
    let framing = FRAMINGS[framing as usize % FRAMINGS.len()];
    let mut observer = ResponseObserver::new(endpoint, framing).capturing(64);
    for piece in body.chunks(split.max(1) as usize) {
        observer.push(piece);
    }
    let seen = observer.finish();
    assert!(seen.completion.map_or(0, |c| c.len()) <= 64);
});
