//! Any base URL: parsing never panics, and a parsed URL rebuilt from its parts parses back
//! to the same thing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use llm::upstream::BaseUrl;

fuzz_target!(|url: &str| {
    if let Ok(parsed) = BaseUrl::parse(url) {
        let scheme = if parsed.tls { "https" } else { "http" };
        let rebuilt = format!("{scheme}://{}{}", parsed.authority(), parsed.path);
        assert_eq!(BaseUrl::parse(&rebuilt).as_ref(), Ok(&parsed), "{url} -> {rebuilt}");
    }
});
