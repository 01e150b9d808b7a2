//! How the API Center being written treats what the 2024-03-01 contract leaves open:
//! `If-Match` / `If-None-Match`, and custom properties no metadata schema declares.
//!
//! The classification lives here, once: the normal writes (`put`, `create_if_absent`)
//! record what their answers show, and the probes (`apilink check --probe-writes`)
//! send the one write whose answer tells for sure, through the same code.

use std::sync::atomic::Ordering;

use serde_json::Value;
use url::Url;

use super::{
    ApiProperties, ApicClient, ApicKind, ApicPath, ConditionalHeaderSupport, ConditionalState,
    HeaderFate, Precondition, condition_header, inconclusive, put_body, same_refusal,
    send_conditioned,
};
use crate::error::AzureError;
use crate::http::{ArmRequest, ArmResponse, ArmTransport};
use crate::resource::ArmResource;

/// The ETag the `If-Match` probe sends: no entity ever carries it.
pub const STALE_ETAG: &str = "\"apilink-stale-etag\"";

/// The value the custom-property probe writes.
const PROBE_VALUE: &str = "probe";

/// A conditional header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConditionalHeader {
    IfMatch,
    IfNoneMatch,
}

impl ConditionalHeader {
    fn of(precondition: &Precondition) -> Option<Self> {
        match precondition {
            Precondition::None => None,
            Precondition::IfMatch(_) => Some(Self::IfMatch),
            Precondition::IfNoneMatchAny => Some(Self::IfNoneMatch),
        }
    }

    fn index(self) -> usize {
        match self {
            Self::IfMatch => 0,
            Self::IfNoneMatch => 1,
        }
    }
}

/// How a service treats one conditional header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConditionalBehaviour {
    /// A condition that did not hold stopped the write (412; 409 too for
    /// `If-None-Match`): concurrent changes are detected.
    Honoured,
    /// The header was sent and the write went through as if it were absent: a
    /// concurrent change is overwritten, and a creation may replace.
    Ignored,
    /// The service answers 400 to the header: the client sends none, with the same
    /// consequences as `Ignored`.
    Refused,
}

impl ConditionalBehaviour {
    fn as_u8(self) -> u8 {
        match self {
            Self::Honoured => 1,
            Self::Ignored => 2,
            Self::Refused => 3,
        }
    }

    fn from_u8(value: u8) -> Option<Self> {
        match value {
            1 => Some(Self::Honoured),
            2 => Some(Self::Ignored),
            3 => Some(Self::Refused),
            _ => None,
        }
    }

    /// What one write under `header` shows about the service, `None` when it shows
    /// nothing (a write with a matching ETag goes through whether the header is
    /// honoured or not).
    fn shown_by(
        header: ConditionalHeader,
        fate: HeaderFate,
        result: &Result<ArmResponse, AzureError>,
        expectation: Expectation,
    ) -> Option<Self> {
        if fate == HeaderFate::Withheld {
            return Some(Self::Refused);
        }
        match result {
            Err(e) if e.status() == Some(412) => Some(Self::Honoured),
            Err(e) if header == ConditionalHeader::IfNoneMatch && already_exists(e) => {
                Some(Self::Honoured)
            }
            // An update's answer to a create-only request: it existed and was replaced.
            Ok(answer) if header == ConditionalHeader::IfNoneMatch && answer.status == 200 => {
                Some(Self::Ignored)
            }
            Ok(_) if expectation == Expectation::Fails => Some(Self::Ignored),
            _ => None,
        }
    }
}

/// What the caller knows about a write's condition before sending it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expectation {
    /// Nothing: a write that goes through may have met its condition.
    Unknown,
    /// It does not hold (an ETag no entity carries, an entity that exists): a write
    /// that goes through proves the header ignored.
    Fails,
}

/// A 409 or 412 to `If-None-Match: *`: the entity exists.
pub(super) fn already_exists(error: &AzureError) -> bool {
    matches!(error.status(), Some(409) | Some(412))
}

impl ConditionalState {
    /// Records what a write showed about `header` (nothing when `None`).
    fn observe(&self, header: ConditionalHeader, behaviour: Option<ConditionalBehaviour>) {
        let Some(behaviour) = behaviour else {
            return;
        };
        let previous = self.observed[header.index()].swap(behaviour.as_u8(), Ordering::AcqRel);
        if ConditionalBehaviour::from_u8(previous) != Some(behaviour) {
            tracing::info!(
                ?header,
                ?behaviour,
                "learned how API Center treats a conditional header"
            );
        }
    }

    /// What writes showed about `header`; a refusal covers both headers.
    fn observed(&self, header: ConditionalHeader) -> Option<ConditionalBehaviour> {
        if self.get() == ConditionalHeaderSupport::Refused {
            return Some(ConditionalBehaviour::Refused);
        }
        ConditionalBehaviour::from_u8(self.observed[header.index()].load(Ordering::Acquire))
    }
}

/// A write's answer and what it showed about its conditional header.
#[derive(Debug)]
pub(super) struct Written {
    pub behaviour: Option<ConditionalBehaviour>,
    pub result: Result<ArmResponse, AzureError>,
}

/// Sends `plain` under `precondition` (the header as far as the service accepts it,
/// see [`send_conditioned`]) and records what the answer shows about the header. The
/// outer error is a precondition that cannot be sent (an ETag that is no header value).
pub(super) async fn write_observed<T: ArmTransport>(
    transport: &T,
    conditions: &ConditionalState,
    plain: ArmRequest,
    precondition: &Precondition,
    path: &str,
    expectation: Expectation,
) -> Result<Written, AzureError> {
    let (Some(header), Some(kind)) = (
        condition_header(precondition)?,
        ConditionalHeader::of(precondition),
    ) else {
        return Ok(Written {
            behaviour: None,
            result: transport.send(plain).await,
        });
    };
    let (fate, result) = send_conditioned(transport, conditions, plain, header, path).await;
    let behaviour = ConditionalBehaviour::shown_by(kind, fate, &result, expectation);
    conditions.observe(kind, behaviour);
    Ok(Written { behaviour, result })
}

/// A probe's finding: what its write showed, unless the answer was too transient to
/// show anything.
fn finding(written: Written) -> Result<ConditionalBehaviour, AzureError> {
    match written {
        Written { result: Err(e), .. } if inconclusive(&e) => Err(e),
        Written {
            behaviour: Some(behaviour),
            ..
        } => Ok(behaviour),
        Written { result: Err(e), .. } => Err(e),
        Written {
            result: Ok(answer), ..
        } => Err(AzureError::InvalidResponse {
            method: answer.method.to_string(),
            path: answer.path,
            message: format!(
                "HTTP {} to a write whose condition did not hold tells nothing about the header",
                answer.status
            ),
        }),
    }
}

/// `If-Match` with [`STALE_ETAG`]: 412 → `Honoured`; 2xx (`plain` written) → `Ignored`;
/// refused (known before, or learned now) → `Refused` (`plain` written).
async fn probe_if_match_via<T: ArmTransport>(
    transport: &T,
    conditions: &ConditionalState,
    plain: ArmRequest,
    path: &str,
) -> Result<ConditionalBehaviour, AzureError> {
    let precondition = Precondition::IfMatch(STALE_ETAG.to_string());
    let written = write_observed(
        transport,
        conditions,
        plain,
        &precondition,
        path,
        Expectation::Fails,
    )
    .await?;
    finding(written)
}

/// `If-None-Match: *` on an entity that exists, as `create_if_absent` sends it:
/// `AlreadyExists` → `Honoured`; `Replaced` or `Created` → `Ignored`; refused →
/// `Refused` (`plain` written in both of the latter).
async fn probe_if_none_match_via<T: ArmTransport>(
    transport: &T,
    conditions: &ConditionalState,
    plain: ArmRequest,
    path: &str,
) -> Result<ConditionalBehaviour, AzureError> {
    let written = write_observed(
        transport,
        conditions,
        plain,
        &Precondition::IfNoneMatchAny,
        path,
        Expectation::Fails,
    )
    .await?;
    finding(written)
}

/// What a service does with a custom property that no metadata schema assigned to the
/// entity kind declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CustomPropertyBehaviour {
    /// Stored and returned.
    Kept,
    /// The write succeeds, but the property is not stored.
    Dropped,
    /// 400; the same write without the property succeeds.
    Refused,
}

/// Whether `sent_name` is among the custom properties an answer (or a read) carries:
/// `answer_custom_properties` is the entity's `properties.customProperties`.
pub fn custom_property_kept(sent_name: &str, answer_custom_properties: &Value) -> bool {
    answer_custom_properties
        .get(sent_name)
        .is_some_and(|value| !value.is_null())
}

/// An error when the answer to a write of `entity` lacks the custom property `name` it
/// sent: the service dropped it (see [`AzureError::CustomPropertyDropped`]).
/// `answer_custom_properties` is the answer's `properties.customProperties`.
pub fn check_custom_property_kept(
    entity: &str,
    name: &str,
    answer_custom_properties: &Value,
) -> Result<(), AzureError> {
    if custom_property_kept(name, answer_custom_properties) {
        Ok(())
    } else {
        Err(AzureError::CustomPropertyDropped {
            entity: entity.to_string(),
            property: name.to_string(),
        })
    }
}

/// The PUT of an API's `properties` to `url`.
fn api_put(url: &Url, properties: &ApiProperties) -> Result<ArmRequest, AzureError> {
    let body = serde_json::json!({ "properties": put_body(ApicKind::Api, properties)? });
    Ok(ArmRequest::new(http::Method::PUT, url.clone()).with_body(body))
}

/// PUTs the API at `url` with `customProperties.{name}` added; a 400 is answered by
/// the same write without it (so the API is written either way) and means `Refused`
/// when that succeeds. After a 2xx the API is read back, since an answer may show
/// what was sent rather than what was stored.
async fn probe_custom_property_via<T: ArmTransport>(
    transport: &T,
    url: &Url,
    properties: &ApiProperties,
    name: &str,
) -> Result<CustomPropertyBehaviour, AzureError> {
    let mut with = properties.clone();
    with.custom_properties
        .get_or_insert_default()
        .insert(name.to_string(), Value::String(PROBE_VALUE.into()));
    let mut without = properties.clone();
    if let Some(custom) = &mut without.custom_properties {
        custom.remove(name);
    }
    match transport.send(api_put(url, &with)?).await {
        Ok(_) => {}
        Err(first) if first.status() == Some(400) => {
            return match transport.send(api_put(url, &without)?).await {
                Ok(_) => Ok(CustomPropertyBehaviour::Refused),
                Err(second) if same_refusal(&first, &second) => {
                    tracing::debug!(
                        name,
                        code = second.arm_code().unwrap_or(""),
                        "400 with and without the custom property: not the property"
                    );
                    Err(second)
                }
                Err(second) => Err(second),
            };
        }
        Err(e) => return Err(e),
    }
    let read: ArmResource<ApiProperties> =
        ArmResource::from_response(&transport.send(ArmRequest::get(url.clone())).await?)?;
    let stored = read
        .properties
        .custom_properties
        .map_or(Value::Null, Value::Object);
    Ok(if custom_property_kept(name, &stored) {
        CustomPropertyBehaviour::Kept
    } else {
        CustomPropertyBehaviour::Dropped
    })
}

impl ApicClient {
    /// What writes so far showed about `header` (`None`: nothing yet). Only a probe
    /// or a write whose condition failed tells `Honoured` from `Ignored`.
    pub fn observed_conditional_behaviour(
        &self,
        header: ConditionalHeader,
    ) -> Option<ConditionalBehaviour> {
        self.conditions.observed(header)
    }

    /// Writes `properties` to the API at `path` under `If-Match: "apilink-stale-etag"`,
    /// through the same conditional path as every write: `Honoured` (412, nothing
    /// written), `Ignored` (written) or `Refused` (written without the header).
    pub async fn probe_if_match(
        &self,
        path: &ApicPath<ApiProperties>,
        properties: &ApiProperties,
    ) -> Result<ConditionalBehaviour, AzureError> {
        let plain = self.put_request(path, properties)?;
        probe_if_match_via(&self.arm, &self.conditions, plain, path.relative()).await
    }

    /// Writes `properties` to the API at `path`, which must exist, as
    /// [`ApicClient::create_if_absent`] does: `Honoured` (it answered that the API
    /// exists, nothing written), `Ignored` (replaced) or `Refused` (replaced without
    /// the header).
    pub async fn probe_if_none_match(
        &self,
        path: &ApicPath<ApiProperties>,
        properties: &ApiProperties,
    ) -> Result<ConditionalBehaviour, AzureError> {
        let plain = self.put_request(path, properties)?;
        probe_if_none_match_via(&self.arm, &self.conditions, plain, path.relative()).await
    }

    /// Writes `properties` to the API at `path` with `customProperties.{name}: "probe"`
    /// added, `name` being a property no metadata schema declares, and reads it back:
    /// `Kept`, `Dropped` or `Refused`. The API is written either way (without the
    /// property when refused); a kept property stays until the API is written again.
    pub async fn probe_undeclared_custom_property(
        &self,
        path: &ApicPath<ApiProperties>,
        properties: &ApiProperties,
        name: &str,
    ) -> Result<CustomPropertyBehaviour, AzureError> {
        if name.trim().is_empty() {
            return Err(AzureError::InvalidInput(
                "the probed custom property needs a name".into(),
            ));
        }
        probe_custom_property_via(&self.arm, &self.url(path.relative())?, properties, name).await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::test_transport::{Scripted, http_error, json, url};

    const PATH: &str = "/workspaces/default/apis/probe-api";

    fn plain() -> ArmRequest {
        ArmRequest::new(http::Method::PUT, url(PATH))
            .with_body(json!({"properties": {"title": "Probe", "kind": "rest"}}))
    }

    fn refused_state() -> ConditionalState {
        let state = ConditionalState::default();
        state.learn(ConditionalHeaderSupport::Refused);
        state
    }

    /// For each request sent: the conditional header it carried, if any.
    fn headers_sent(script: &Scripted) -> Vec<Option<String>> {
        script
            .sent()
            .iter()
            .map(|sent| {
                sent.header("if-match")
                    .map(|v| format!("If-Match: {v}"))
                    .or_else(|| {
                        sent.header("if-none-match")
                            .map(|v| format!("If-None-Match: {v}"))
                    })
            })
            .collect()
    }

    #[tokio::test]
    async fn if_match_honoured_ignored_refused() {
        let script = Scripted::new(vec![Err(http_error(412, "PreconditionFailed"))]);
        let state = ConditionalState::default();
        let found = probe_if_match_via(&script, &state, plain(), PATH)
            .await
            .unwrap();
        assert_eq!(found, ConditionalBehaviour::Honoured);
        assert_eq!(
            headers_sent(&script),
            [Some("If-Match: \"apilink-stale-etag\"".to_string())]
        );
        assert_eq!(state.get(), ConditionalHeaderSupport::Accepted);
        assert_eq!(
            state.observed(ConditionalHeader::IfMatch),
            Some(ConditionalBehaviour::Honoured)
        );

        let script = Scripted::new(vec![json(200, &json!({"name": "probe-api"}))]);
        let state = ConditionalState::default();
        let found = probe_if_match_via(&script, &state, plain(), PATH)
            .await
            .unwrap();
        assert_eq!(found, ConditionalBehaviour::Ignored);
        assert_eq!(state.get(), ConditionalHeaderSupport::Accepted);
        assert_eq!(state.observed(ConditionalHeader::IfNoneMatch), None);

        let script = Scripted::new(vec![
            Err(http_error(400, "InvalidRequestHeader")),
            json(200, &json!({"name": "probe-api"})),
        ]);
        let state = ConditionalState::default();
        let found = probe_if_match_via(&script, &state, plain(), PATH)
            .await
            .unwrap();
        assert_eq!(found, ConditionalBehaviour::Refused);
        assert_eq!(
            headers_sent(&script),
            [Some("If-Match: \"apilink-stale-etag\"".to_string()), None]
        );
        assert_eq!(state.get(), ConditionalHeaderSupport::Refused);
        assert_eq!(
            state.observed(ConditionalHeader::IfNoneMatch),
            Some(ConditionalBehaviour::Refused),
            "one refusal covers both headers"
        );
    }

    #[tokio::test]
    async fn a_client_that_learned_refused_still_reports_refused() {
        for probe_none_match in [false, true] {
            let script = Scripted::new(vec![json(200, &json!({"name": "probe-api"}))]);
            let state = refused_state();
            let found = if probe_none_match {
                probe_if_none_match_via(&script, &state, plain(), PATH).await
            } else {
                probe_if_match_via(&script, &state, plain(), PATH).await
            };
            assert_eq!(found.unwrap(), ConditionalBehaviour::Refused);
            assert_eq!(headers_sent(&script), [None], "no header sent again");
        }
        // A transient failure of the write is still a failure, not a finding.
        let script = Scripted::new(vec![Err(http_error(503, "ServiceUnavailable"))]);
        let err = probe_if_match_via(&script, &refused_state(), plain(), PATH)
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(503));
    }

    #[tokio::test]
    async fn if_none_match_honoured_ignored_refused() {
        for (answers, expected) in [
            (
                vec![Err(http_error(412, "PreconditionFailed"))],
                ConditionalBehaviour::Honoured,
            ),
            (
                vec![Err(http_error(409, "Conflict"))],
                ConditionalBehaviour::Honoured,
            ),
            (
                vec![json(200, &json!({"name": "probe-api"}))],
                ConditionalBehaviour::Ignored,
            ),
            (
                vec![json(201, &json!({"name": "probe-api"}))],
                ConditionalBehaviour::Ignored,
            ),
            (
                vec![
                    Err(http_error(400, "InvalidRequestHeader")),
                    json(200, &json!({"name": "probe-api"})),
                ],
                ConditionalBehaviour::Refused,
            ),
        ] {
            let script = Scripted::new(answers);
            let state = ConditionalState::default();
            let found = probe_if_none_match_via(&script, &state, plain(), PATH)
                .await
                .unwrap();
            assert_eq!(found, expected);
            assert_eq!(
                headers_sent(&script)[0].as_deref(),
                Some("If-None-Match: *")
            );
            assert_eq!(
                state.observed(ConditionalHeader::IfNoneMatch),
                Some(expected)
            );
        }
    }

    #[tokio::test]
    async fn failures_that_show_nothing_are_errors() {
        // The same 400 without the header: the request is wrong, not the header.
        let script = Scripted::new(vec![
            Err(http_error(400, "ValidationError")),
            Err(http_error(400, "ValidationError")),
        ]);
        let state = ConditionalState::default();
        let err = probe_if_match_via(&script, &state, plain(), PATH)
            .await
            .unwrap_err();
        assert_eq!(err.arm_code(), Some("ValidationError"));
        assert_eq!(state.observed(ConditionalHeader::IfMatch), None);
        let script = Scripted::new(vec![Err(http_error(404, "NotFound"))]);
        let err = probe_if_none_match_via(&script, &state, plain(), PATH)
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(404));
    }

    #[tokio::test]
    async fn normal_writes_record_what_they_show() {
        let state = ConditionalState::default();
        // A write with a current ETag that goes through shows nothing.
        let script = Scripted::new(vec![json(200, &json!({}))]);
        let written = write_observed(
            &script,
            &state,
            plain(),
            &Precondition::IfMatch("\"etag-1\"".into()),
            PATH,
            Expectation::Unknown,
        )
        .await
        .unwrap();
        assert_eq!(written.behaviour, None);
        assert_eq!(state.observed(ConditionalHeader::IfMatch), None);
        // A 412 shows the header honoured, and goes back to the caller.
        let script = Scripted::new(vec![Err(http_error(412, "PreconditionFailed"))]);
        let written = write_observed(
            &script,
            &state,
            plain(),
            &Precondition::IfMatch("\"etag-1\"".into()),
            PATH,
            Expectation::Unknown,
        )
        .await
        .unwrap();
        assert_eq!(written.result.unwrap_err().status(), Some(412));
        assert_eq!(
            state.observed(ConditionalHeader::IfMatch),
            Some(ConditionalBehaviour::Honoured)
        );
        // A create answered as an update shows If-None-Match ignored.
        let script = Scripted::new(vec![json(200, &json!({}))]);
        write_observed(
            &script,
            &state,
            plain(),
            &Precondition::IfNoneMatchAny,
            PATH,
            Expectation::Unknown,
        )
        .await
        .unwrap();
        assert_eq!(
            state.observed(ConditionalHeader::IfNoneMatch),
            Some(ConditionalBehaviour::Ignored)
        );
        // An unconditional write shows nothing and sends no header.
        let script = Scripted::new(vec![json(201, &json!({}))]);
        let written = write_observed(
            &script,
            &state,
            plain(),
            &Precondition::None,
            PATH,
            Expectation::Fails,
        )
        .await
        .unwrap();
        assert_eq!(written.behaviour, None);
        assert_eq!(headers_sent(&script), [None]);
    }

    fn probe_api() -> ApiProperties {
        ApiProperties {
            title: "Probe".into(),
            kind: "rest".into(),
            custom_properties: Some(json!({"owner": "team-a"}).as_object().unwrap().clone()),
            ..Default::default()
        }
    }

    fn sent_custom_properties(script: &Scripted) -> Vec<Value> {
        script
            .sent()
            .iter()
            .filter(|sent| sent.method == http::Method::PUT)
            .map(|sent| sent.body.as_ref().unwrap()["properties"]["customProperties"].clone())
            .collect()
    }

    #[tokio::test]
    async fn an_undeclared_custom_property_kept() {
        let script = Scripted::new(vec![
            json(200, &json!({"properties": {"title": "Probe"}})),
            json(
                200,
                &json!({"properties": {"title": "Probe", "kind": "rest", "customProperties": {"owner": "team-a", "apilink-probe": "probe"}}}),
            ),
        ]);
        let found = probe_custom_property_via(&script, &url(PATH), &probe_api(), "apilink-probe")
            .await
            .unwrap();
        assert_eq!(found, CustomPropertyBehaviour::Kept);
        assert_eq!(
            script.lines(),
            [format!("PUT {PATH}"), format!("GET {PATH}")],
            "read back even though the answer lacked it"
        );
        assert_eq!(
            sent_custom_properties(&script),
            [json!({"owner": "team-a", "apilink-probe": "probe"})]
        );
    }

    #[tokio::test]
    async fn an_undeclared_custom_property_dropped() {
        // The answer shows what was sent; the read shows what was stored.
        let script = Scripted::new(vec![
            json(
                200,
                &json!({"properties": {"title": "Probe", "customProperties": {"owner": "team-a", "apilink-probe": "probe"}}}),
            ),
            json(
                200,
                &json!({"properties": {"title": "Probe", "customProperties": {"owner": "team-a"}}}),
            ),
        ]);
        let found = probe_custom_property_via(&script, &url(PATH), &probe_api(), "apilink-probe")
            .await
            .unwrap();
        assert_eq!(found, CustomPropertyBehaviour::Dropped);
        let script = Scripted::new(vec![
            json(201, &json!({})),
            json(200, &json!({"properties": {"title": "Probe"}})),
        ]);
        let found = probe_custom_property_via(&script, &url(PATH), &probe_api(), "apilink-probe")
            .await
            .unwrap();
        assert_eq!(found, CustomPropertyBehaviour::Dropped);
    }

    #[tokio::test]
    async fn an_undeclared_custom_property_refused_still_writes_the_entity() {
        let script = Scripted::new(vec![
            Err(http_error(400, "ValidationError")),
            json(200, &json!({"properties": {"title": "Probe"}})),
        ]);
        let found = probe_custom_property_via(&script, &url(PATH), &probe_api(), "apilink-probe")
            .await
            .unwrap();
        assert_eq!(found, CustomPropertyBehaviour::Refused);
        assert_eq!(
            sent_custom_properties(&script),
            [
                json!({"owner": "team-a", "apilink-probe": "probe"}),
                json!({"owner": "team-a"})
            ]
        );
        // The same 400 without the property: the write itself is wrong.
        let script = Scripted::new(vec![
            Err(http_error(400, "ValidationError")),
            Err(http_error(400, "ValidationError")),
        ]);
        let err = probe_custom_property_via(&script, &url(PATH), &probe_api(), "apilink-probe")
            .await
            .unwrap_err();
        assert_eq!(err.arm_code(), Some("ValidationError"));
        // Anything else is an error, and nothing is resent.
        let script = Scripted::new(vec![Err(http_error(403, "AuthorizationFailed"))]);
        let err = probe_custom_property_via(&script, &url(PATH), &probe_api(), "apilink-probe")
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(403));
        assert_eq!(script.sent().len(), 1);
    }

    #[test]
    fn kept_means_present_and_not_null() {
        let answer = json!({"apilink-ownership": "v2;link=x", "empty": null});
        assert!(custom_property_kept("apilink-ownership", &answer));
        assert!(!custom_property_kept("Apilink-Ownership", &answer));
        assert!(!custom_property_kept("empty", &answer));
        assert!(!custom_property_kept("apilink-ownership", &json!(null)));
        assert!(!custom_property_kept("apilink-ownership", &json!("x")));
        assert!(check_custom_property_kept("/apis/a", "apilink-ownership", &answer).is_ok());
        let err = check_custom_property_kept("/workspaces/default/apis/a", "owner", &json!({}))
            .unwrap_err();
        assert!(matches!(
            &err,
            AzureError::CustomPropertyDropped { entity, property }
                if entity == "/workspaces/default/apis/a" && property == "owner"
        ));
    }
}
