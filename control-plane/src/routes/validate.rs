//! Checks on input people write, shared by the resource handlers.

use crate::error::ApiError;

/// A name: 1–128 characters, no control characters.
pub fn name(value: &str) -> Result<(), ApiError> {
    let len = value.chars().count();
    if len == 0 || len > 128 || value.chars().any(char::is_control) {
        return Err(ApiError::Invalid(
            "name must be 1–128 characters without control characters".into(),
        ));
    }
    Ok(())
}

/// An upstream base URL: absolute `http` or `https`, with a host, no query or fragment.
pub fn base_url(value: &str) -> Result<(), ApiError> {
    let invalid = |why: &str| ApiError::Invalid(format!("base_url {why}"));
    let url = url::Url::parse(value).map_err(|e| invalid(&format!("is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("must use http or https"));
    }
    if url.host_str().is_none() || url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("must have a host and no query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must not carry credentials"));
    }
    Ok(())
}

/// A provider secret: 1–4096 visible ASCII characters, so it is always a valid header value.
pub fn secret(value: &str) -> Result<(), ApiError> {
    if value.is_empty() || value.len() > 4096 || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::Invalid(
            "secret must be 1–4096 visible ASCII characters (no spaces or newlines)".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        base_url("https://api.openai.com/v1").unwrap();
        base_url("http://127.0.0.1:8081").unwrap();
        for bad in [
            "ftp://x",
            "not a url",
            "https://a/b?c=d",
            "https://u:p@host/",
        ] {
            assert!(base_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secrets_and_names() {
        secret("sk-abc_123").unwrap();
        assert!(secret("").is_err() && secret("sk abc").is_err() && secret("sk\nabc").is_err());
        name("prod").unwrap();
        assert!(name("").is_err() && name(&"x".repeat(129)).is_err() && name("a\tb").is_err());
    }
}
