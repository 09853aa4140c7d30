//! Request and response types of the control plane's REST and internal APIs, shared by the
//! control plane (server), the data plane and the Terraform provider (clients).
//!
//! Input types people write use `deny_unknown_fields`; snapshot types the data plane reads
//! do not, so an older worker can read a newer control plane's answer.

/// `as_str` and `parse` for an enum's wire names (as serde writes them).
macro_rules! wire_names {
    ($ty:ty { $($variant:ident => $name:literal),* $(,)? }) => {
        impl $ty {
            /// The wire name, as serialized.
            pub fn as_str(self) -> &'static str {
                match self { $(<$ty>::$variant => $name),* }
            }

            /// Parses what `as_str` writes.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($name => Some(<$ty>::$variant),)* _ => None }
            }
        }
    };
}

mod access;
pub mod internal;
mod policy;
mod provider;
mod routing;
mod usage;

pub use access::*;
pub use policy::*;
pub use provider::{Provider, UnknownProvider};
pub use routing::*;
pub use usage::*;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[cfg(feature = "openapi")]
use utoipa::{IntoParams, ToSchema};

/// `sha256:` and the first 16 hex digits of a provider secret's SHA-256, as the API reports
/// it (`secret_fingerprint`): enough to tell whether a client holds the same secret, too
/// little to help guess it. The Terraform provider computes it to detect changes of a
/// secret it does not keep in state.
pub fn secret_fingerprint(secret: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(secret.as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Prefix of every virtual-key token.
pub const VIRTUAL_KEY_PREFIX: &str = "gh_vk_";

/// The token of an `Authorization: Bearer <token>` header value (scheme case-insensitive);
/// `None` for other schemes or an empty token.
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Compares two secrets in time independent of where they differ (it compares their
/// SHA-256 digests).
pub fn secrets_equal(a: &str, b: &str) -> bool {
    use sha2::{Digest, Sha256};
    let (ha, hb) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    ha.iter()
        .zip(hb.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// Whether an `Authorization` header value is `Bearer <secret>`, compared in constant time.
pub fn bearer_matches(authorization: Option<&str>, secret: &str) -> bool {
    authorization
        .and_then(bearer_token)
        .is_some_and(|presented| secrets_equal(presented, secret))
}

/// One page of a list endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Pagination parameters of every list endpoint. Lists are ordered by id, and ids are
/// time-ordered (UUIDv7), so pages come oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct ListQuery {
    /// Page size, 1–500 (default 100).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Filters of list endpoints; each endpoint documents the ones it honours and ignores the
/// others.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListFilter {
    pub team_id: Option<Uuid>,
    pub profile_id: Option<Uuid>,
    pub provider: Option<Provider>,
    /// `key=value`: only objects carrying that label.
    pub label: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
}

/// `application/problem+json` body (RFC 9457) of every REST error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The request fields at fault, as JSON pointers into the body (or parameter names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invalid_params: Vec<InvalidParam>,
}

/// One offending field of a rejected request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct InvalidParam {
    /// Field name, dotted for nested fields (`conditions[0].operator`).
    pub name: String,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::{bearer_matches, bearer_token, secret_fingerprint, secrets_equal};

    #[test]
    fn fingerprints_are_a_sha256_prefix() {
        // sha256("sk-test") = f3abf2a6cc4f0098…
        assert_eq!(secret_fingerprint("sk-test"), "sha256:f3abf2a6cc4f0098");
    }

    #[test]
    fn bearer_tokens() {
        assert_eq!(bearer_token("Bearer gh_vk_abc"), Some("gh_vk_abc"));
        assert_eq!(bearer_token("bearer  sk-1 "), Some("sk-1"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearer"), None);
    }

    #[test]
    fn wire_names_match_serde() {
        use crate::{GlobalToolPolicy, LimitWindow, Role};
        for role in [Role::Viewer, Role::Editor, Role::Admin] {
            assert_eq!(serde_json::to_value(role).unwrap(), role.as_str());
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        for p in [GlobalToolPolicy::Permissive, GlobalToolPolicy::Restrictive] {
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
        assert_eq!(serde_json::to_value(LimitWindow::Month).unwrap(), "month");
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn secrets_compare_exactly() {
        assert!(
            secrets_equal("abc", "abc")
                && !secrets_equal("abc", "abd")
                && !secrets_equal("abc", "ab")
        );
        assert!(bearer_matches(Some("Bearer s3cret"), "s3cret"));
        assert!(!bearer_matches(Some("Bearer other"), "s3cret"));
        assert!(!bearer_matches(Some("Basic s3cret"), "s3cret") && !bearer_matches(None, "s3cret"));
    }
}
