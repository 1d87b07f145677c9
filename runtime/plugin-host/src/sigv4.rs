//! AWS Signature Version 4, shared by the requests `cloud` sends for plugins
//! and the control plane's own S3 requests (the package content store): the
//! `aws-sigv4` crate computes the headers; the secret never leaves this module.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings, UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

use crate::cloud::CloudCredentials;

/// What one signed request is made of.
pub struct Unsigned<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    pub service: &'a str,
    pub region: &'a str,
}

/// What one S3 request is made of: its payload is signed by its sha256, given
/// up front (the body can then be streamed), as S3 asks.
pub struct UnsignedS3<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub headers: &'a [(String, String)],
    /// The payload's sha256 in lowercase hex (of no bytes for a request without a body).
    pub payload_sha256: &'a str,
    pub region: &'a str,
}

/// The headers to add to `request` (`authorization`, `x-amz-date`, and
/// `x-amz-security-token` with temporary credentials). Errors never hold a key.
pub fn signing_headers(request: &Unsigned<'_>, credentials: &CloudCredentials, at: SystemTime) -> Result<Vec<(String, String)>, String> {
    let target = (request.method, request.url, request.headers, request.service, request.region);
    sign_headers(target, SignableBody::Bytes(request.body), SigningSettings::default(), credentials, at)
}

/// The headers to add to an S3 request: as [`signing_headers`], plus
/// `x-amz-content-sha256`; the path is signed as sent (S3 neither normalises
/// nor double-encodes it).
pub fn s3_signing_headers(
    request: &UnsignedS3<'_>,
    credentials: &CloudCredentials,
    at: SystemTime,
) -> Result<Vec<(String, String)>, String> {
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    let target = (request.method, request.url, request.headers, "s3", request.region);
    sign_headers(target, SignableBody::Precomputed(request.payload_sha256.to_string()), settings, credentials, at)
}

/// Method, URL, headers, service and region of a request to sign.
type Target<'a> = (&'a str, &'a str, &'a [(String, String)], &'a str, &'a str);

fn sign_headers(
    (method, url, headers, service, region): Target<'_>,
    body: SignableBody<'_>,
    settings: SigningSettings,
    credentials: &CloudCredentials,
    at: SystemTime,
) -> Result<Vec<(String, String)>, String> {
    let identity: Identity = Credentials::new(
        credentials.access_key_id.as_str(),
        credentials.secret_access_key.as_str(),
        credentials.session_token.clone(),
        None,
        "bosun",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(at)
        .settings(settings)
        .build()
        .map_err(|e| format!("cannot sign the request: {e}"))?
        .into();
    let signable = SignableRequest::new(method, url, headers.iter().map(|(k, v)| (k.as_str(), v.as_str())), body)
        .map_err(|e| format!("cannot sign the request: {e}"))?;
    let (instructions, _signature) = sign(signable, &params).map_err(|e| format!("cannot sign the request: {e}"))?.into_parts();
    Ok(instructions.headers().map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials(token: Option<&str>) -> CloudCredentials {
        CloudCredentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: token.map(String::from),
        }
    }

    fn request<'a>(headers: &'a [(String, String)]) -> Unsigned<'a> {
        Unsigned {
            method: "POST",
            url: "https://ec2.us-east-1.amazonaws.com/",
            headers,
            body: b"Action=DescribeInstances&Version=2016-11-15",
            service: "ec2",
            region: "us-east-1",
        }
    }

    #[test]
    fn signs_with_a_scope_of_service_and_region() {
        let headers = vec![("content-type".to_string(), "application/x-www-form-urlencoded".to_string())];
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let signed = signing_headers(&request(&headers), &credentials(None), at).unwrap();
        let auth = &signed.iter().find(|(k, _)| k == "authorization").unwrap().1;
        assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/us-east-1/ec2/aws4_request"), "{auth}");
        assert!(auth.contains("SignedHeaders=content-type;host;x-amz-date"), "{auth}");
        assert!(signed.iter().any(|(k, v)| k == "x-amz-date" && v == "20231114T221320Z"));
        assert!(!signed.iter().any(|(_, v)| v.contains("EXAMPLEKEY")), "the secret is never a header");
        // The same request at the same time signs the same; another body does not.
        assert_eq!(signing_headers(&request(&headers), &credentials(None), at).unwrap(), signed);
        let mut other = request(&headers);
        other.body = b"Action=DescribeVolumes&Version=2016-11-15";
        assert_ne!(signing_headers(&other, &credentials(None), at).unwrap(), signed);
    }

    #[test]
    fn s3_requests_sign_the_payload_hash_they_send() {
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let s3 = |payload_sha256| UnsignedS3 {
            method: "GET",
            url: "http://127.0.0.1:9000/bucket/a%20b/key",
            headers: &[],
            payload_sha256,
            region: "eu-west-1",
        };
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let signed = s3_signing_headers(&s3(empty), &credentials(None), at).unwrap();
        assert!(signed.iter().any(|(k, v)| k == "x-amz-content-sha256" && v == empty), "{signed:?}");
        let auth = &signed.iter().find(|(k, _)| k == "authorization").unwrap().1;
        assert!(auth.contains("/20231114/eu-west-1/s3/aws4_request") && auth.contains("x-amz-content-sha256"), "{auth}");
        assert_ne!(s3_signing_headers(&s3(&"0".repeat(64)), &credentials(None), at).unwrap(), signed, "the payload hash is signed");
    }

    #[test]
    fn temporary_credentials_send_their_token() {
        let signed = signing_headers(&request(&[]), &credentials(Some("TOKEN")), SystemTime::now()).unwrap();
        assert!(signed.iter().any(|(k, v)| k == "x-amz-security-token" && v == "TOKEN"));
    }
}
