//! The OpenAPI document of `/api/v1`, generated from the handlers and types. The same
//! document is committed at `openapi/openapi.json`; a test fails when they differ.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{profiles, provider_keys, virtual_keys};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Gatehouse control plane API",
        description = "Configure profiles, provider keys and virtual keys. Every request \
                       carries `Authorization: Bearer <admin API key>`; errors are \
                       `application/problem+json`.",
        license(name = "Apache-2.0")
    ),
    paths(
        profiles::create, profiles::read, profiles::list, profiles::update, profiles::delete,
        provider_keys::create, provider_keys::read, provider_keys::list, provider_keys::update,
        provider_keys::delete,
        virtual_keys::create, virtual_keys::read, virtual_keys::list, virtual_keys::update,
        virtual_keys::delete,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "profiles", description = "Profiles applications are pointed at"),
        (name = "provider-keys", description = "Upstream provider credentials (write-only secrets)"),
        (name = "virtual-keys", description = "Gatehouse keys handed to applications"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document as committed: pretty JSON with a trailing newline.
pub fn document() -> String {
    let mut json = ApiDoc::openapi().to_pretty_json().unwrap_or_default();
    json.push('\n');
    json
}
