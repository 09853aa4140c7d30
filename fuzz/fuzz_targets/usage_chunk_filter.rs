//! Any stream through the usage-chunk filter: it never panics and never invents bytes —
//! what comes out is what went in, less what it removed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use llm::request::UsageChunkFilter;

fuzz_target!(|input: (u8, &[u8])| {
    let (split, stream) = input;
    let mut filter = UsageChunkFilter::new();
    let mut out = Vec::new();
    for piece in stream.chunks(split.max(1) as usize) {
        out.extend_from_slice(&filter.push(piece));
    }
    out.extend_from_slice(&filter.finish());
    assert!(out.len() <= stream.len());
});
