//! Data-plane routes: `/v1/{provider}/{profile}/{endpoint…}`, parsed without IO.
//!
//! Each provider keeps its native paths below the profile segment, so an SDK only needs
//! its base URL changed: `…/v1/anthropic/{profile}` + `/v1/messages`,
//! `…/v1/gemini/{profile}` + `/v1beta/models/{model}:generateContent`, and so on.

use std::borrow::Cow;

use api_types::Provider;

/// An API Gatehouse serves for a provider. It also names the response format the side
/// parser reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// OpenAI (and OpenAI-compatible) `POST /chat/completions`.
    ChatCompletions,
    /// OpenAI `POST /responses`.
    Responses,
    /// OpenAI `POST /embeddings`.
    Embeddings,
    /// OpenAI `GET /models`.
    Models,
    /// Anthropic `POST /v1/messages`.
    Messages,
    /// Anthropic `POST /v1/messages/count_tokens`.
    CountTokens,
    /// Gemini `POST /v1beta/models/{model}:generateContent`.
    GenerateContent,
    /// Gemini `POST /v1beta/models/{model}:streamGenerateContent`.
    StreamGenerateContent,
    /// Bedrock `POST /model/{modelId}/converse`.
    Converse,
    /// Bedrock `POST /model/{modelId}/converse-stream`.
    ConverseStream,
    /// Cohere `POST /v2/chat`.
    CohereChat,
}

impl Endpoint {
    /// Whether requests and responses of this endpoint carry tool use.
    pub fn has_tools(self) -> bool {
        !matches!(
            self,
            Endpoint::Embeddings | Endpoint::Models | Endpoint::CountTokens
        )
    }

    /// The API's name in metrics, logs and traces (`chat_completions`).
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "chat_completions",
            Endpoint::Responses => "responses",
            Endpoint::Embeddings => "embeddings",
            Endpoint::Models => "models",
            Endpoint::Messages => "messages",
            Endpoint::CountTokens => "count_tokens",
            Endpoint::GenerateContent => "generate_content",
            Endpoint::StreamGenerateContent => "stream_generate_content",
            Endpoint::Converse => "converse",
            Endpoint::ConverseStream => "converse_stream",
            Endpoint::CohereChat => "chat",
        }
    }

    /// The GenAI semantic-convention operation (`gen_ai.operation.name`).
    pub fn operation(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions
            | Endpoint::Messages
            | Endpoint::Converse
            | Endpoint::ConverseStream
            | Endpoint::CohereChat => "chat",
            Endpoint::GenerateContent | Endpoint::StreamGenerateContent => "generate_content",
            Endpoint::Responses => "responses",
            Endpoint::Embeddings => "embeddings",
            Endpoint::Models => "models",
            Endpoint::CountTokens => "count_tokens",
        }
    }

    /// The one HTTP method the endpoint accepts.
    pub fn method(self) -> http::Method {
        match self {
            Endpoint::Models => http::Method::GET,
            _ => http::Method::POST,
        }
    }

    /// Whether the response streams because of the endpoint itself (not a body flag).
    pub fn always_streams(self) -> bool {
        matches!(
            self,
            Endpoint::StreamGenerateContent | Endpoint::ConverseStream
        )
    }
}

/// A parsed provider route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route<'a> {
    pub provider: Provider,
    /// The `{profile}` segment as sent; a profile id when it is a UUID.
    pub profile: &'a str,
    pub endpoint: Endpoint,
    /// The model named in the path (Gemini, Bedrock, an Azure deployment), decoded.
    pub path_model: Option<String>,
    /// The path below the provider's base URL, still percent-encoded as received.
    pub upstream_path: Cow<'a, str>,
    /// The upstream needs an `api-version` query parameter (Azure's deployment URLs);
    /// the data plane adds its configured default when the client sent none.
    pub needs_api_version: bool,
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
pub fn parse<'a>(path: &'a str) -> Result<Route<'a>, RouteError> {
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
    let unknown = || RouteError::UnknownEndpoint {
        provider,
        path: format!("/{endpoint}"),
    };
    let suffix = &rest[profile.len()..];
    let route = |endpoint, upstream_path: Cow<'a, str>| Route {
        provider,
        profile,
        endpoint,
        path_model: None,
        upstream_path,
        needs_api_version: false,
    };
    let parsed = match provider {
        Provider::Openai => {
            let endpoint = match endpoint {
                "chat/completions" => Endpoint::ChatCompletions,
                "responses" => Endpoint::Responses,
                "embeddings" => Endpoint::Embeddings,
                "models" => Endpoint::Models,
                _ => return Err(unknown()),
            };
            Ok(route(endpoint, Cow::Borrowed(suffix)))
        }
        Provider::Anthropic => {
            let endpoint = match endpoint {
                "v1/messages" => Endpoint::Messages,
                "v1/messages/count_tokens" => Endpoint::CountTokens,
                _ => return Err(unknown()),
            };
            Ok(route(endpoint, Cow::Borrowed(suffix)))
        }
        Provider::Gemini => {
            let (version, call) = endpoint.split_once("/models/").ok_or_else(unknown)?;
            let (model, method) = call.rsplit_once(':').ok_or_else(unknown)?;
            let endpoint = match (version, method) {
                ("v1beta" | "v1", "generateContent") => Endpoint::GenerateContent,
                ("v1beta" | "v1", "streamGenerateContent") => Endpoint::StreamGenerateContent,
                _ => return Err(unknown()),
            };
            if model.is_empty() || model.contains('/') {
                return Err(unknown());
            }
            let mut r = route(endpoint, Cow::Borrowed(suffix));
            r.path_model = Some(percent_decode(model));
            Ok(r)
        }
        Provider::Bedrock => {
            let call = endpoint.strip_prefix("model/").ok_or_else(unknown)?;
            let (model, method) = call.rsplit_once('/').ok_or_else(unknown)?;
            let endpoint = match method {
                "converse" => Endpoint::Converse,
                "converse-stream" => Endpoint::ConverseStream,
                _ => return Err(unknown()),
            };
            if model.is_empty() || model.contains('/') {
                return Err(unknown());
            }
            let mut r = route(endpoint, Cow::Borrowed(suffix));
            r.path_model = Some(percent_decode(model));
            Ok(r)
        }
        Provider::Cohere => match endpoint {
            "v2/chat" => Ok(route(Endpoint::CohereChat, Cow::Borrowed(suffix))),
            _ => Err(unknown()),
        },
        Provider::Azure => azure(endpoint).map(|(endpoint, deployment, upstream)| {
            let mut r = route(endpoint, upstream);
            r.needs_api_version = deployment.is_some();
            r.path_model = deployment.map(percent_decode);
            r
        }),
        Provider::Groq
        | Provider::Mistral
        | Provider::Xai
        | Provider::Openrouter
        | Provider::Cerebras
        | Provider::Vllm
        | Provider::Ollama
        | Provider::Zhipuai
        | Provider::Perplexity
        | Provider::Minimax
        | Provider::Deepseek => {
            // SDKs that put the version in their paths (Mistral's: `/v1/chat/completions`)
            // reach the same endpoint; the base URL already carries the version.
            match endpoint.strip_prefix("v1/").unwrap_or(endpoint) {
                "chat/completions" => Ok(route(
                    Endpoint::ChatCompletions,
                    Cow::Borrowed("/chat/completions"),
                )),
                _ => Err(unknown()),
            }
        }
    }?;
    check_segments(&parsed.upstream_path).ok_or_else(unknown)?;
    Ok(parsed)
}

/// Azure OpenAI: `[openai/]deployments/{d}/chat/completions` (deployment URLs, with
/// `api-version`), or `[openai/][v1/]chat/completions` and `…/responses` (the v1 API,
/// the deployment named by the body's `model`).
fn azure(endpoint: &str) -> Result<(Endpoint, Option<&str>, Cow<'static, str>), RouteError> {
    let unknown = || RouteError::UnknownEndpoint {
        provider: Provider::Azure,
        path: format!("/{endpoint}"),
    };
    let rest = endpoint.strip_prefix("openai/").unwrap_or(endpoint);
    if let Some(call) = rest.strip_prefix("deployments/") {
        let (deployment, method) = call.split_once('/').ok_or_else(unknown)?;
        let endpoint = match method {
            "chat/completions" => Endpoint::ChatCompletions,
            "responses" => Endpoint::Responses,
            "embeddings" => Endpoint::Embeddings,
            _ => return Err(unknown()),
        };
        if deployment.is_empty() {
            return Err(unknown());
        }
        let upstream = format!("/deployments/{deployment}/{method}");
        return Ok((endpoint, Some(deployment), Cow::Owned(upstream)));
    }
    let (endpoint, upstream) = match rest.strip_prefix("v1/").unwrap_or(rest) {
        "chat/completions" => (Endpoint::ChatCompletions, "/v1/chat/completions"),
        "responses" => (Endpoint::Responses, "/v1/responses"),
        "embeddings" => (Endpoint::Embeddings, "/v1/embeddings"),
        _ => return Err(unknown()),
    };
    Ok((endpoint, None, Cow::Borrowed(upstream)))
}

/// Rejects `.`/`..` segments and empty segments, which a server would normalize into a
/// different path than the one routed here.
fn check_segments(path: &str) -> Option<()> {
    path.split('/')
        .skip(1)
        .all(|s| {
            let decoded = percent_decode(s);
            !s.is_empty() && decoded != "." && decoded != ".." && !decoded.contains('/')
        })
        .then_some(())
}

/// Decodes `%XX` escapes (a Bedrock model id's `:` arrives as `%3A`); invalid escapes and
/// non-UTF-8 results are kept as sent.
fn percent_decode(segment: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| segment.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_routes() {
        let r = parse("/v1/openai/3f1c/chat/completions").unwrap();
        assert_eq!(
            (r.provider, r.profile, r.endpoint),
            (Provider::Openai, "3f1c", Endpoint::ChatCompletions)
        );
        assert_eq!(r.upstream_path, "/chat/completions");
        assert_eq!(
            parse("/v1/openai/p/models").unwrap().endpoint.method(),
            http::Method::GET
        );
        assert_eq!(
            parse("/v1/openai/p/responses").unwrap().endpoint,
            Endpoint::Responses
        );
    }

    #[test]
    fn native_paths_of_every_provider() {
        let r = parse("/v1/anthropic/p/v1/messages").unwrap();
        assert_eq!(
            (r.endpoint, &*r.upstream_path),
            (Endpoint::Messages, "/v1/messages")
        );
        let r = parse("/v1/gemini/p/v1beta/models/gemini-2.5-flash:streamGenerateContent").unwrap();
        assert_eq!(r.endpoint, Endpoint::StreamGenerateContent);
        assert_eq!(r.path_model.as_deref(), Some("gemini-2.5-flash"));
        assert_eq!(
            r.upstream_path,
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
        );
        let r =
            parse("/v1/bedrock/p/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream")
                .unwrap();
        assert_eq!(r.endpoint, Endpoint::ConverseStream);
        assert_eq!(
            r.path_model.as_deref(),
            Some("anthropic.claude-3-haiku-20240307-v1:0")
        );
        assert_eq!(
            r.upstream_path,
            "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream"
        );
        assert_eq!(
            parse("/v1/cohere/p/v2/chat").unwrap().endpoint,
            Endpoint::CohereChat
        );
        let r = parse("/v1/mistral/p/v1/chat/completions").unwrap();
        assert_eq!(r.upstream_path, "/chat/completions");
        let r = parse("/v1/groq/p/chat/completions").unwrap();
        assert_eq!(r.upstream_path, "/chat/completions");
    }

    #[test]
    fn azure_deployment_and_v1_urls() {
        let r = parse("/v1/azure/p/deployments/my-gpt4o/chat/completions").unwrap();
        assert_eq!(r.path_model.as_deref(), Some("my-gpt4o"));
        assert!(r.needs_api_version);
        assert_eq!(r.upstream_path, "/deployments/my-gpt4o/chat/completions");
        let r = parse("/v1/azure/p/openai/deployments/d/chat/completions").unwrap();
        assert_eq!(r.upstream_path, "/deployments/d/chat/completions");
        let r = parse("/v1/azure/p/chat/completions").unwrap();
        assert!(!r.needs_api_version);
        assert_eq!(r.upstream_path, "/v1/chat/completions");
        assert_eq!(
            parse("/v1/azure/p/responses").unwrap().upstream_path,
            "/v1/responses"
        );
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
        for bad in [
            "/v1/openai/p/nope",
            "/v1/groq/p/responses",
            "/v1/gemini/p/v1beta/models/:generateContent",
            "/v1/gemini/p/v1beta/models/a/b:generateContent",
            "/v1/bedrock/p/model/../converse",
            "/v1/bedrock/p/model/%2E./converse",
            "/v1/bedrock/p/model/a%2Fb/converse",
            "/v1/bedrock/p/model/x/invoke",
            "/v1/anthropic/p/v1/complete",
        ] {
            assert!(
                matches!(parse(bad), Err(RouteError::UnknownEndpoint { .. })),
                "{bad}"
            );
        }
    }
}
