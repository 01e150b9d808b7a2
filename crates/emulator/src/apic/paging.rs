//! List paging: `{value, nextLink}` pages of a fixed size, continued by an opaque
//! `$skipToken`. The token is the key of the last item returned, so a page boundary stays
//! stable while items are created or deleted between calls.

use std::collections::BTreeMap;
use std::ops::Bound;

use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::filter::Filter;
use super::store::Node;
use crate::arm::{APIC_API_VERSION, ArmError};

#[derive(Debug, Default)]
pub(crate) struct ListQuery {
    after: Option<String>,
    filter: Option<(String, Filter)>,
}

fn invalid_token() -> ArmError {
    ArmError::new(
        StatusCode::BAD_REQUEST,
        "InvalidQueryParameterValue",
        "The $skipToken is not valid: follow nextLink verbatim.",
    )
    .with_target("$skipToken")
}

impl ListQuery {
    pub(crate) fn parse(query: &str) -> Result<ListQuery, ArmError> {
        let mut parsed = ListQuery::default();
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            if name.eq_ignore_ascii_case("$skipToken") {
                let bytes = URL_SAFE_NO_PAD
                    .decode(value.as_bytes())
                    .map_err(|_| invalid_token())?;
                parsed.after = Some(String::from_utf8(bytes).map_err(|_| invalid_token())?);
            } else if name.eq_ignore_ascii_case("$filter") && !value.trim().is_empty() {
                let filter = Filter::parse(&value)?;
                parsed.filter = Some((value.into_owned(), filter));
            }
        }
        Ok(parsed)
    }
}

/// One page of `items` (keyed, in key order) rendered by `render`, as a list response.
/// `link_base` is the absolute URL of the collection, without a query.
pub(crate) fn page(
    items: &BTreeMap<String, Node>,
    query: &ListQuery,
    page_size: usize,
    link_base: &str,
    render: impl Fn(&Node) -> Value,
) -> Value {
    let page_size = page_size.max(1);
    let range = match &query.after {
        Some(after) => items.range::<String, _>((Bound::Excluded(after), Bound::Unbounded)),
        None => items.range::<String, _>(..),
    };
    let mut value = Vec::new();
    let mut last_key: Option<&String> = None;
    let mut more = false;
    for (key, node) in range {
        let rendered = render(node);
        if let Some((_, filter)) = &query.filter
            && !filter.matches(&rendered)
        {
            continue;
        }
        if value.len() == page_size {
            more = true;
            break;
        }
        value.push(rendered);
        last_key = Some(key);
    }
    let mut body = json!({ "value": value });
    if more && let Some(last) = last_key {
        let mut link = format!(
            "{link_base}?api-version={APIC_API_VERSION}&$skipToken={}",
            URL_SAFE_NO_PAD.encode(last.as_bytes())
        );
        if let Some((raw, _)) = &query.filter {
            link.push_str("&$filter=");
            link.extend(url::form_urlencoded::byte_serialize(raw.as_bytes()));
        }
        body["nextLink"] = json!(link);
    }
    body
}
