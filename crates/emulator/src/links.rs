//! The "blob storage" behind APIM export links: short-lived SAS-style URLs served by the
//! emulator outside ARM. Like a real SAS URL, a link carries its own authorization, so a
//! request that also sends an `Authorization` header is refused: a client must never send
//! its ARM token there.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::apim::documents_xml_escape as xml_escape;
use crate::calls::lock;
use crate::identity::jwt::JwtKey;

pub(crate) const PREFIX: &str = "/_blob/api-export/";
const SAS_VERSION: &str = "2023-11-03";
/// Expired links keep answering "expired" (not "not found") this long.
const KEEP_EXPIRED: Duration = Duration::from_secs(600);

struct Blob {
    content: Arc<str>,
    content_type: &'static str,
    expires: Instant,
    expiry_text: String,
}

pub(crate) struct ExportLinks {
    key: JwtKey,
    ttl: Duration,
    blobs: Mutex<HashMap<String, Blob>>,
}

enum BlobError {
    NotFound,
    BadSignature,
    Expired { expiry: String, now: String },
}

impl ExportLinks {
    pub fn new(ttl: Duration) -> Self {
        Self {
            key: JwtKey::random("export-links"),
            ttl,
            blobs: Mutex::new(HashMap::new()),
        }
    }

    /// Stores `content` and returns the absolute link (`https://{authority}/_blob/...`).
    pub fn create(
        &self,
        authority: &str,
        file_name: &str,
        content: String,
        content_type: &'static str,
    ) -> String {
        let token = uuid::Uuid::new_v4().simple().to_string();
        let now = Instant::now();
        let expiry = jiff::Timestamp::now()
            + jiff::SignedDuration::from_secs(i64::try_from(self.ttl.as_secs()).unwrap_or(300));
        let expiry_text = expiry.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        let sig = self.signature(&token, &expiry_text);
        let mut blobs = lock(&self.blobs);
        blobs.retain(|_, b| b.expires + KEEP_EXPIRED > now);
        blobs.insert(
            token.clone(),
            Blob {
                content: Arc::from(content),
                content_type,
                expires: now + self.ttl,
                expiry_text: expiry_text.clone(),
            },
        );
        let file: String = url::form_urlencoded::byte_serialize(file_name.as_bytes())
            .collect::<String>()
            .replace('+', "%20");
        let encode =
            |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
        format!(
            "https://{authority}{PREFIX}{token}/{file}?sv={SAS_VERSION}&sr=b&sp=r&se={}&sig={}",
            encode(&expiry_text),
            encode(&sig)
        )
    }

    fn signature(&self, token: &str, expiry: &str) -> String {
        self.key.mac(&format!("{token}|{expiry}|r"))
    }

    fn resolve(
        &self,
        token: &str,
        query: &HashMap<String, String>,
    ) -> Result<(Arc<str>, &'static str), BlobError> {
        let blobs = lock(&self.blobs);
        let blob = blobs.get(token).ok_or(BlobError::NotFound)?;
        let se = query.get("se").map(String::as_str).unwrap_or("");
        let sig = query.get("sig").map(String::as_str).unwrap_or("");
        if se != blob.expiry_text || sig != self.signature(token, se) {
            return Err(BlobError::BadSignature);
        }
        if Instant::now() >= blob.expires {
            return Err(BlobError::Expired {
                expiry: blob.expiry_text.clone(),
                now: jiff::Timestamp::now()
                    .strftime("%Y-%m-%dT%H:%M:%SZ")
                    .to_string(),
            });
        }
        Ok((blob.content.clone(), blob.content_type))
    }

    /// What a plain GET of `link` would return, for API Center's `link` imports (which
    /// Azure fetches itself, without the caller's token). `None` when the link is not one
    /// of ours, is forged, or has expired.
    pub fn fetch(&self, link: &str) -> Option<String> {
        let url = url::Url::parse(link).ok()?;
        let rest = url.path().strip_prefix(PREFIX)?;
        let token = rest.split('/').next()?;
        let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
        self.resolve(token, &query).ok().map(|(c, _)| c.to_string())
    }
}

fn storage_error(status: StatusCode, code: &str, message: &str, detail: Option<&str>) -> Response {
    let request_id = uuid::Uuid::new_v4();
    let time = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.7fZ");
    let detail = detail
        .map(|d| {
            format!(
                "<AuthenticationErrorDetail>{}</AuthenticationErrorDetail>",
                xml_escape(d)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>{}\nRequestId:{request_id}\nTime:{time}</Message>{detail}</Error>",
        xml_escape(message)
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "application/xml".to_string()),
            (
                header::HeaderName::from_static("x-ms-error-code"),
                code.to_string(),
            ),
            (
                header::HeaderName::from_static("x-ms-request-id"),
                request_id.to_string(),
            ),
        ],
        body,
    )
        .into_response()
}

async fn serve_blob(
    State(links): State<Arc<ExportLinks>>,
    Path((token, _file)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if headers.contains_key(header::AUTHORIZATION) {
        return storage_error(
            StatusCode::FORBIDDEN,
            "AuthenticationFailed",
            "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.",
            Some(
                "A SAS URL carries its own authorization: a request to it must not send an Authorization header.",
            ),
        );
    }
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    match links.resolve(&token, &query) {
        Ok((content, content_type)) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, content_type),
                (
                    header::HeaderName::from_static("x-ms-blob-type"),
                    "BlockBlob",
                ),
                (header::HeaderName::from_static("x-ms-version"), SAS_VERSION),
            ],
            Body::from(content.to_string()),
        )
            .into_response(),
        Err(BlobError::NotFound) => storage_error(
            StatusCode::NOT_FOUND,
            "BlobNotFound",
            "The specified blob does not exist.",
            None,
        ),
        Err(BlobError::BadSignature) => storage_error(
            StatusCode::FORBIDDEN,
            "AuthenticationFailed",
            "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.",
            Some("Signature did not match."),
        ),
        Err(BlobError::Expired { expiry, now }) => storage_error(
            StatusCode::FORBIDDEN,
            "AuthenticationFailed",
            "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.",
            Some(&format!(
                "Signed expiry time [{expiry}] must be after signed start time; signature not valid in the specified time frame: Expiry [{expiry}] - Current [{now}]"
            )),
        ),
    }
}

pub(crate) fn router(links: Arc<ExportLinks>) -> Router {
    Router::new()
        .route("/_blob/api-export/{token}/{file}", get(serve_blob))
        .with_state(links)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_resolve_until_they_expire_and_reject_forgery() {
        let links = ExportLinks::new(Duration::from_millis(200));
        let link = links.create(
            "127.0.0.1:1",
            "My API.json",
            "{\"a\":1}".into(),
            "application/json",
        );
        assert!(link.starts_with("https://127.0.0.1:1/_blob/api-export/"));
        assert!(link.contains("My%20API.json?sv="));
        assert_eq!(links.fetch(&link).as_deref(), Some("{\"a\":1}"));
        let forged = link.replace("sig=", "sig=x");
        assert_eq!(links.fetch(&forged), None);
        assert_eq!(links.fetch("https://127.0.0.1:1/elsewhere"), None);
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(links.fetch(&link), None);
    }
}
