//! ARM list paging: `{value, nextLink}`; `nextLink` is followed verbatim (it already
//! carries the api-version and skip token), and an absent or empty `nextLink` ends it.

use std::collections::HashSet;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::error::AzureError;
use crate::http::{ArmClient, ArmRequest, ArmTransport};

/// A guard against a server that never stops paging.
pub const MAX_PAGES: usize = 10_000;

#[derive(Debug, Clone, Deserialize)]
#[serde(bound(deserialize = "T: DeserializeOwned"))]
pub struct Page<T> {
    /// Required: a page without a `value` array is a read error, never an empty list
    /// (an empty answer would otherwise plan the deletion of everything listed before).
    pub value: Vec<T>,
    #[serde(default, rename = "nextLink")]
    pub next_link: Option<String>,
    /// APIM reports a total; API Center does not.
    #[serde(default)]
    pub count: Option<u64>,
}

/// The next page's URL: `None` for an absent, `null` or empty `nextLink`.
pub fn next_link(raw: Option<&str>) -> Result<Option<Url>, AzureError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(link) => Url::parse(link)
            .map(Some)
            .map_err(|e| AzureError::InvalidResponse {
                method: "GET".into(),
                path: "nextLink".into(),
                message: format!("nextLink is not an absolute URL: {e}"),
            }),
    }
}

/// The walk over one list's links: refuses a `nextLink` seen before and paging past
/// [`MAX_PAGES`], so a server that never stops cannot keep a client reading.
#[derive(Debug)]
struct PageWalk {
    next: Option<Url>,
    seen: HashSet<String>,
    pages: usize,
}

impl PageWalk {
    fn new(first: Url) -> Self {
        Self {
            next: Some(first),
            seen: HashSet::new(),
            pages: 0,
        }
    }

    /// The URL of the next page to read, or `None` after the last page.
    fn next_url(&mut self) -> Result<Option<Url>, AzureError> {
        let Some(url) = self.next.take() else {
            return Ok(None);
        };
        if !self.seen.insert(url.as_str().to_string()) || self.pages >= MAX_PAGES {
            return Err(AzureError::InvalidResponse {
                method: "GET".into(),
                path: url.path().to_string(),
                message: format!(
                    "paging does not end (page {} repeats a nextLink or exceeds {MAX_PAGES} pages)",
                    self.pages + 1
                ),
            });
        }
        self.pages += 1;
        Ok(Some(url))
    }

    /// Takes a page read from the URL [`PageWalk::next_url`] gave: its items.
    fn read<T>(&mut self, page: Page<T>) -> Result<Vec<T>, AzureError> {
        self.next = next_link(page.next_link.as_deref())?;
        Ok(page.value)
    }
}

/// Every item of a list, across all pages.
pub async fn list_all<T: DeserializeOwned>(
    client: &ArmClient,
    first: Url,
) -> Result<Vec<T>, AzureError> {
    list_all_via(client, first).await
}

/// [`list_all`] over any transport.
pub(crate) async fn list_all_via<T: DeserializeOwned, S: ArmTransport>(
    transport: &S,
    first: Url,
) -> Result<Vec<T>, AzureError> {
    list_filter_map_via(transport, first, Some).await
}

/// The items of a list that `keep` keeps, in the form it gives them, across all pages.
/// Each page is converted as it arrives, so a long list never holds more than one page
/// in its form as read: only the caller's compact values accumulate.
pub async fn list_filter_map<T: DeserializeOwned, U>(
    client: &ArmClient,
    first: Url,
    keep: impl FnMut(T) -> Option<U>,
) -> Result<Vec<U>, AzureError> {
    list_filter_map_via(client, first, keep).await
}

/// [`list_filter_map`] over any transport.
pub(crate) async fn list_filter_map_via<T: DeserializeOwned, U, S: ArmTransport>(
    transport: &S,
    first: Url,
    mut keep: impl FnMut(T) -> Option<U>,
) -> Result<Vec<U>, AzureError> {
    let mut walk = PageWalk::new(first);
    let mut items = Vec::new();
    while let Some(url) = walk.next_url()? {
        let page: Page<T> = transport.send(ArmRequest::get(url)).await?.json()?;
        items.extend(walk.read(page)?.into_iter().filter_map(&mut keep));
    }
    // Growth by doubling leaves up to half the list's slots unused for the whole pass.
    items.shrink_to_fit();
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_next_link_ends_paging() {
        assert_eq!(next_link(None).unwrap(), None);
        assert_eq!(next_link(Some("")).unwrap(), None);
        assert_eq!(next_link(Some("  ")).unwrap(), None);
        let url = next_link(Some(
            "https://management.azure.com/x/apis?api-version=2024-05-01&%24skip=2&%24top=2",
        ))
        .unwrap()
        .unwrap();
        // Followed verbatim: the query is kept exactly as given.
        assert_eq!(
            url.query(),
            Some("api-version=2024-05-01&%24skip=2&%24top=2")
        );
        assert!(next_link(Some("/relative?x=1")).is_err());
    }

    #[test]
    fn page_shapes() {
        let page: Page<serde_json::Value> =
            serde_json::from_str(r#"{"value":[{"a":1}],"count":3,"nextLink":""}"#).unwrap();
        assert_eq!(page.value.len(), 1);
        assert_eq!(page.count, Some(3));
        assert_eq!(next_link(page.next_link.as_deref()).unwrap(), None);
        let page: Page<serde_json::Value> =
            serde_json::from_str(r#"{"value":[],"nextLink":null}"#).unwrap();
        assert!(page.next_link.is_none());
        // No `value` is a broken answer, not an empty list.
        assert!(serde_json::from_str::<Page<serde_json::Value>>(r#"{}"#).is_err());
        assert!(serde_json::from_str::<Page<serde_json::Value>>(r#"{"value":null}"#).is_err());
    }
}
