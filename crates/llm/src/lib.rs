//! Provider wire formats: request peeking, error bodies and stream codecs. No IO.

pub mod openai;
