//! Checks AWS SigV4 signatures the way AWS does, when the mock knows the secret key
//! (`--aws-secret-access-key`): the canonical request is rebuilt from what arrived — the
//! signed headers, path, query and body — and signed again with `aws-sigv4`, AWS's own
//! implementation; the signatures must match.

use std::time::SystemTime;

use axum::http::HeaderMap;

/// The parts of an `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` header.
struct Authorization<'a> {
    access_key: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse(value: &str) -> Option<Authorization<'_>> {
    let params = value.strip_prefix("AWS4-HMAC-SHA256 ")?;
    let field = |name: &str| {
        params
            .split(',')
            .find_map(|p| p.trim().strip_prefix(name)?.strip_prefix('='))
    };
    let mut scope = field("Credential")?.split('/');
    let access_key = scope.next()?;
    let _date = scope.next()?;
    Some(Authorization {
        access_key,
        region: scope.next()?,
        service: scope.next()?,
        signed_headers: field("SignedHeaders")?.split(';').collect(),
        signature: field("Signature")?,
    })
}

fn amz_date(headers: &HeaderMap) -> Option<SystemTime> {
    let text = headers.get("x-amz-date")?.to_str().ok()?;
    let at = chrono::NaiveDateTime::parse_from_str(text, "%Y%m%dT%H%M%SZ").ok()?;
    Some(at.and_utc().into())
}

/// `Ok(())` when the request carries a valid signature made with `secret`; otherwise why
/// not, as AWS words it.
pub fn verify(
    secret: &str,
    headers: &HeaderMap,
    path_and_query: &str,
    body: &[u8],
) -> Result<(), String> {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    let mismatch = || {
        "The request signature we calculated does not match the signature you provided.".to_owned()
    };
    let value = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or("Missing Authentication Token")?;
    let auth = parse(value).ok_or("Authorization header is malformed")?;
    let time = amz_date(headers).ok_or("X-Amz-Date is missing or malformed")?;
    let host = headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let signed: Vec<(&str, &str)> = auth
        .signed_headers
        .iter()
        .filter(|h| **h != "x-amz-date" && **h != "x-amz-security-token")
        .filter_map(|h| Some((*h, headers.get(*h)?.to_str().ok()?)))
        .collect();
    let token = headers
        .get("x-amz-security-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let credentials =
        aws_credential_types::Credentials::new(auth.access_key, secret, token, None, "mock");
    let identity = aws_smithy_runtime_api::client::identity::Identity::from(credentials);
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(auth.region)
        .name(auth.service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let url = format!("http://{host}{path_and_query}");
    let request = SignableRequest::new("POST", &url, signed.into_iter(), SignableBody::Bytes(body))
        .map_err(|e| e.to_string())?;
    let (_, expected) = sign(request, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    if expected == auth.signature {
        Ok(())
    } else {
        Err(mismatch())
    }
}
