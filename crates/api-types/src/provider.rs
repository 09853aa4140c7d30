//! The providers Gatehouse routes to, by their wire names.

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// An LLM provider, as named in routes (`/v1/{provider}/…`) and in the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Openai,
    Anthropic,
    Gemini,
    Azure,
    Bedrock,
    Cohere,
    Groq,
    Mistral,
    Xai,
    Openrouter,
    Cerebras,
    Vllm,
    Ollama,
    Zhipuai,
    Perplexity,
    Minimax,
    Deepseek,
}

/// A provider name that is not in [`Provider::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownProvider(pub String);

impl std::error::Error for UnknownProvider {}

impl std::fmt::Display for UnknownProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown provider `{}`; known providers: ", self.0)?;
        let names: Vec<&str> = Provider::ALL.iter().map(|p| p.as_str()).collect();
        f.write_str(&names.join(", "))
    }
}

impl Provider {
    /// Every provider, in the order of DESIGN.md's route table.
    pub const ALL: [Provider; 17] = [
        Provider::Openai,
        Provider::Anthropic,
        Provider::Gemini,
        Provider::Azure,
        Provider::Bedrock,
        Provider::Cohere,
        Provider::Groq,
        Provider::Mistral,
        Provider::Xai,
        Provider::Openrouter,
        Provider::Cerebras,
        Provider::Vllm,
        Provider::Ollama,
        Provider::Zhipuai,
        Provider::Perplexity,
        Provider::Minimax,
        Provider::Deepseek,
    ];

    /// The wire name, as used in routes and JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Provider::Openai => "openai",
            Provider::Anthropic => "anthropic",
            Provider::Gemini => "gemini",
            Provider::Azure => "azure",
            Provider::Bedrock => "bedrock",
            Provider::Cohere => "cohere",
            Provider::Groq => "groq",
            Provider::Mistral => "mistral",
            Provider::Xai => "xai",
            Provider::Openrouter => "openrouter",
            Provider::Cerebras => "cerebras",
            Provider::Vllm => "vllm",
            Provider::Ollama => "ollama",
            Provider::Zhipuai => "zhipuai",
            Provider::Perplexity => "perplexity",
            Provider::Minimax => "minimax",
            Provider::Deepseek => "deepseek",
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Provider {
    type Err = UnknownProvider;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownProvider(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip_through_serde_and_from_str() {
        for p in Provider::ALL {
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{}\"", p.as_str()));
            assert_eq!(p.as_str().parse::<Provider>().unwrap(), p);
        }
    }

    #[test]
    fn unknown_provider_lists_the_known_ones() {
        let err = "opneai".parse::<Provider>().unwrap_err().to_string();
        assert!(
            err.contains("`opneai`") && err.contains("openai, anthropic"),
            "{err}"
        );
    }
}
