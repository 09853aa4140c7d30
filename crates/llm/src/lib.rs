//! Provider wire formats: routes, request peeking, error bodies and stream codecs. No IO.

pub mod anthropic;
pub mod bedrock;
pub mod cohere;
pub mod dialect;
pub mod eventstream;
pub mod gemini;
pub mod openai;
pub mod request;
pub mod route;
pub mod sse;
pub mod tools;
pub mod upstream;
pub mod usage;
