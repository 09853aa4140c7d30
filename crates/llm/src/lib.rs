//! Provider wire formats: routes, request peeking, error bodies and stream codecs. No IO.

pub mod openai;
pub mod route;
pub mod sse;
pub mod upstream;
pub mod usage;
