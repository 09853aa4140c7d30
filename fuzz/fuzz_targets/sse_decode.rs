//! Any byte stream, split anywhere: the SSE decoder never panics, stays within its line
//! limit, and yields the same events however the bytes are chunked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use llm::sse::SseDecoder;

fuzz_target!(|input: (u8, &[u8])| {
    let (split, bytes) = input;
    let mut whole = SseDecoder::new(4096);
    let expected = whole.push(bytes);
    let mut pieces = SseDecoder::new(4096);
    let step = usize::from(split).max(1);
    let mut got = Vec::new();
    for chunk in bytes.chunks(step) {
        match pieces.push(chunk) {
            Ok(events) => got.extend(events),
            Err(e) => {
                assert!(expected.is_err(), "{e} only when chunked");
                return;
            }
        }
    }
    assert_eq!(expected.ok(), Some(got));
});
