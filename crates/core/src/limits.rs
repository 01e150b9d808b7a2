//! API Center's limits on what APIM hands over: texts are clipped to the lengths the
//! 2024-03-01 contract allows, and URIs or e-mail addresses it would refuse are left out,
//! each with a warning, so one bad value never blocks the whole API.
//!
//! Limits (characters): API title 50, description 1000; contact name 100, e-mail 100,
//! URL 200; licence name 100, URL 200; terms of service URL 200; every URL absolute.

use serde_json::{Map, Value};

use crate::plan::Warning;

pub const TITLE_MAX: usize = 50;
pub const DESCRIPTION_MAX: usize = 1000;
pub const NAME_MAX: usize = 100;
pub const EMAIL_MAX: usize = 100;
pub const URI_MAX: usize = 200;

/// Collects the adjustments made to one API's values.
pub(crate) struct Clipper<'a> {
    api: &'a str,
    pub warnings: Vec<Warning>,
}

impl<'a> Clipper<'a> {
    pub(crate) fn new(api: &'a str) -> Self {
        Self {
            api,
            warnings: Vec::new(),
        }
    }

    fn adjusted(&mut self, field: &str, change: String) {
        self.warnings.push(Warning::ValueAdjusted {
            api: self.api.to_string(),
            field: field.to_string(),
            change,
        });
    }

    /// `text` cut to `max` characters (on a character boundary), with a warning when cut.
    pub(crate) fn text(&mut self, field: &str, text: &str, max: usize) -> String {
        let count = text.chars().count();
        if count <= max {
            return text.to_string();
        }
        self.adjusted(
            field,
            format!("{count} characters cut to API Center's {max}"),
        );
        text.chars().take(max).collect()
    }

    /// `uri` when API Center accepts it (absolute, at most 200 characters), else `None`
    /// with a warning: a cut URI would point somewhere else.
    pub(crate) fn uri(&mut self, field: &str, uri: &str) -> Option<String> {
        let uri = uri.trim();
        if uri.is_empty() {
            return None;
        }
        let count = uri.chars().count();
        if count > URI_MAX {
            self.adjusted(
                field,
                format!("URI of {count} characters is over API Center's {URI_MAX}: left out"),
            );
            return None;
        }
        if !is_absolute_uri(uri) {
            self.adjusted(field, format!("{uri:?} is not an absolute URI: left out"));
            return None;
        }
        Some(uri.to_string())
    }

    /// `email` when it is an address API Center accepts, else `None` with a warning.
    pub(crate) fn email(&mut self, field: &str, email: &str) -> Option<String> {
        let email = email.trim();
        if email.is_empty() {
            return None;
        }
        if email.chars().count() > EMAIL_MAX || !is_email(email) {
            self.adjusted(
                field,
                format!(
                    "{email:?} is not an e-mail address of at most {EMAIL_MAX} characters: left out"
                ),
            );
            return None;
        }
        Some(email.to_string())
    }
}

/// Absolute in the sense of RFC 3986 (a scheme, then something), as `format: uri` means.
pub fn is_absolute_uri(uri: &str) -> bool {
    url::Url::parse(uri).is_ok_and(|u| !u.cannot_be_a_base() || u.scheme() == "mailto")
        && !uri.chars().any(char::is_whitespace)
}

/// One `@` between a non-empty local part and a dotted domain, no white space.
pub fn is_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// An object of the members that are `Some`, or `None` when none is.
pub(crate) fn non_empty_object(pairs: Vec<(&str, Option<String>)>) -> Option<Value> {
    let map: Map<String, Value> = pairs
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_string(), Value::String(v))))
        .collect();
    (!map.is_empty()).then_some(Value::Object(map))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_cut_with_a_warning() {
        let mut clip = Clipper::new("echo");
        assert_eq!(clip.text("title", "short", TITLE_MAX), "short");
        assert!(clip.warnings.is_empty());
        let long = "é".repeat(60);
        assert_eq!(clip.text("title", &long, TITLE_MAX).chars().count(), 50);
        assert_eq!(clip.warnings.len(), 1);
        assert!(clip.warnings[0].to_string().contains("60 characters cut"));
    }

    #[test]
    fn bad_uris_and_emails_are_left_out() {
        let mut clip = Clipper::new("echo");
        assert_eq!(
            clip.uri("license.url", "https://example.com/l").as_deref(),
            Some("https://example.com/l")
        );
        assert_eq!(clip.uri("license.url", "example.com/terms"), None);
        assert_eq!(clip.uri("license.url", "https://x y"), None);
        let long = format!("https://example.com/{}", "a".repeat(200));
        assert_eq!(clip.uri("contacts[0].url", &long), None);
        assert_eq!(
            clip.email("contacts[0].email", "ops@example.com")
                .as_deref(),
            Some("ops@example.com")
        );
        assert_eq!(clip.email("contacts[0].email", "not-an-address"), None);
        assert_eq!(clip.email("contacts[0].email", ""), None);
        assert_eq!(clip.warnings.len(), 4);
        assert!(clip.warnings.iter().all(|w| w.to_string().contains("echo")));
    }

    #[test]
    fn mailto_is_an_absolute_uri() {
        assert!(is_absolute_uri("mailto:ops@example.com"));
        assert!(!is_absolute_uri("/relative/path"));
    }
}
