//! Any request body: peeking never panics, and an accepted body is a JSON object.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    if llm::openai::peek_chat_request(body).is_ok() {
        assert!(body.iter().any(|b| *b == b'{'));
    }
});
