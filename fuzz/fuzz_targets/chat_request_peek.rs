//! Any request body: peeking never panics, an accepted body is a JSON object, and asking
//! for stream usage keeps it one.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let endpoint = llm::route::Endpoint::ChatCompletions;
    if llm::request::peek(endpoint, None, body).is_ok() {
        assert!(body.iter().any(|b| *b == b'{'));
        if let Some(asked) = llm::request::ask_for_usage(body) {
            let peek = llm::request::peek(endpoint, None, &asked).expect("still a request");
            assert!(peek.include_usage);
        }
    }
});
