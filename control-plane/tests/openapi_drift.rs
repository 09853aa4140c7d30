//! The committed `openapi/openapi.json` must be exactly what the code generates
//! (regenerate with `make openapi`).

#[test]
fn committed_openapi_document_matches_the_code() {
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../openapi/openapi.json"
    ))
    .expect("openapi/openapi.json is committed; run `make openapi`");
    let generated = control_plane::openapi::document();
    assert!(
        committed == generated,
        "openapi/openapi.json is stale: run `make openapi` and commit the result"
    );
}
