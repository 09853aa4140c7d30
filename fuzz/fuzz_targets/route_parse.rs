//! Any request path: `route::parse` never panics, and what it accepts round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|path: &str| {
    if let Ok(route) = llm::route::parse(path) {
        assert!(!route.profile.is_empty());
        assert!(path.starts_with(&format!("/v1/{}/{}/", route.provider, route.profile)));
    }
});
