//! Data-plane routes: `/v1/{provider}/{profile}/{endpoint…}`, parsed without IO.

use api_types::Provider;

/// An API Gatehouse serves for a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// OpenAI `POST /chat/completions`.
    ChatCompletions,
}

impl Endpoint {
    /// The API's name in metrics, logs and traces (`chat_completions`).
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "chat_completions",
        }
    }

    /// The path below the provider's base URL (`https://api.openai.com/v1` + this).
    pub fn upstream_path(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "/chat/completions",
        }
    }
}

/// A parsed provider route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route<'a> {
    pub provider: Provider,
    /// The `{profile}` segment as sent; a profile id when it is a UUID.
    pub profile: &'a str,
    pub endpoint: Endpoint,
}

/// Why a path is not a provider route.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("unknown path `{0}`; provider routes look like /v1/{{provider}}/{{profile}}/…")]
    NotARoute(String),
    #[error("unknown provider `{0}`")]
    UnknownProvider(String),
    #[error("provider {provider} has no endpoint `{path}` in Gatehouse")]
    UnknownEndpoint { provider: Provider, path: String },
}

/// Parses `path` (without query) into a [`Route`].
pub fn parse(path: &str) -> Result<Route<'_>, RouteError> {
    let not_a_route = || RouteError::NotARoute(path.to_owned());
    let rest = path.strip_prefix("/v1/").ok_or_else(not_a_route)?;
    let (provider, rest) = rest.split_once('/').ok_or_else(not_a_route)?;
    let (profile, endpoint) = rest.split_once('/').ok_or_else(not_a_route)?;
    if profile.is_empty() {
        return Err(not_a_route());
    }
    let provider: Provider = provider
        .parse()
        .map_err(|_| RouteError::UnknownProvider(provider.to_owned()))?;
    let endpoint = match (provider, endpoint) {
        (Provider::Openai, "chat/completions") => Endpoint::ChatCompletions,
        _ => {
            return Err(RouteError::UnknownEndpoint {
                provider,
                path: format!("/{endpoint}"),
            })
        }
    };
    Ok(Route {
        provider,
        profile,
        endpoint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_chat_completions() {
        let r = parse("/v1/openai/3f1c/chat/completions").unwrap();
        assert_eq!(
            r,
            Route {
                provider: Provider::Openai,
                profile: "3f1c",
                endpoint: Endpoint::ChatCompletions
            }
        );
        assert_eq!(r.endpoint.upstream_path(), "/chat/completions");
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert!(matches!(parse("/healthz"), Err(RouteError::NotARoute(_))));
        assert!(matches!(
            parse("/v1/openai//chat/completions"),
            Err(RouteError::NotARoute(_))
        ));
        assert_eq!(
            parse("/v1/foo/p/chat/completions"),
            Err(RouteError::UnknownProvider("foo".into()))
        );
        assert!(matches!(
            parse("/v1/openai/p/nope"),
            Err(RouteError::UnknownEndpoint { .. })
        ));
    }
}
