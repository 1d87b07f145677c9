//! AWS Signature Version 4 for the requests `cloud` sends: the `aws-sigv4`
//! crate computes the headers; the secret never leaves this function.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
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

/// The headers to add to `request` (`authorization`, `x-amz-date`, and
/// `x-amz-security-token` with temporary credentials). Errors never hold a key.
pub fn signing_headers(request: &Unsigned<'_>, credentials: &CloudCredentials, at: SystemTime) -> Result<Vec<(String, String)>, String> {
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
        .region(request.region)
        .name(request.service)
        .time(at)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("cannot sign the request: {e}"))?
        .into();
    let signable = SignableRequest::new(
        request.method,
        request.url,
        request.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(request.body),
    )
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
    fn temporary_credentials_send_their_token() {
        let signed = signing_headers(&request(&[]), &credentials(Some("TOKEN")), SystemTime::now()).unwrap();
        assert!(signed.iter().any(|(k, v)| k == "x-amz-security-token" && v == "TOKEN"));
    }
}
