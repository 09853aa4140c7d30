//! The OpenAPI document of `/api/v1`, generated from the handlers and types. The same
//! document is committed at `openapi/openapi.json`; a test fails when they differ.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{
    api_keys, audit_events, interactions, limits, models, organization, policies, profiles,
    provider_keys, teams, virtual_keys,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Gatehouse control plane API",
        description = "Configure teams, API keys, profiles, provider keys, virtual keys, \
                       policies, limits and model prices; read the interaction log and usage. Every request carries \
                       `Authorization: Bearer <API key>`. Keys have a role (`admin`, \
                       `editor`, `viewer`) and optionally a team: a team-scoped key sees only \
                       its team's objects, and anything else reads as 404. Every object has a \
                       `version`, also sent as `ETag`; send it back in `If-Match` to update or \
                       delete only what you last read (412 otherwise). Deletes are idempotent. \
                       Errors are `application/problem+json` (RFC 9457), with `invalid_params` \
                       naming the offending fields.",
        license(name = "Apache-2.0")
    ),
    paths(
        teams::create, teams::read, teams::list, teams::update, teams::delete,
        api_keys::create, api_keys::read, api_keys::list, api_keys::update, api_keys::delete,
        api_keys::revoke,
        profiles::create, profiles::read, profiles::list, profiles::update, profiles::delete,
        provider_keys::create, provider_keys::read, provider_keys::list, provider_keys::update,
        provider_keys::delete,
        virtual_keys::create, virtual_keys::read, virtual_keys::list, virtual_keys::update,
        virtual_keys::delete, virtual_keys::revoke,
        policies::tool_invocation::create, policies::tool_invocation::read,
        policies::tool_invocation::list, policies::tool_invocation::update,
        policies::tool_invocation::delete,
        policies::trusted_data::create, policies::trusted_data::read,
        policies::trusted_data::list, policies::trusted_data::update,
        policies::trusted_data::delete,
        limits::create, limits::read, limits::list, limits::update, limits::delete,
        limits::status,
        interactions::list, interactions::read, interactions::usage,
        models::create, models::read, models::list, models::update, models::delete,
        organization::read, organization::update,
        audit_events::list, audit_events::read,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "teams", description = "Teams: the scopes objects and API keys belong to"),
        (name = "api-keys", description = "Admin API keys with roles (admin only)"),
        (name = "profiles", description = "Profiles applications are pointed at"),
        (name = "provider-keys", description = "Upstream provider credentials (write-only secrets)"),
        (name = "virtual-keys", description = "Gatehouse keys handed to applications"),
        (name = "policies", description = "Tool-invocation and trusted-data policies"),
        (name = "limits", description = "Usage limits"),
        (name = "interactions", description = "The interaction log and usage aggregates"),
        (name = "models", description = "The model price table"),
        (name = "organization", description = "Organization-wide settings"),
        (name = "audit-events", description = "Every change made through the API (admin only)"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An admin API key: GATEHOUSE_ADMIN_API_KEY or one created with \
                         POST /api/v1/api-keys",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document as committed: pretty JSON with a trailing newline.
pub fn document() -> String {
    let mut json = ApiDoc::openapi().to_pretty_json().unwrap_or_default();
    json.push('\n');
    json
}
