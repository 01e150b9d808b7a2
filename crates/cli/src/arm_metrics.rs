//! The ARM client's observer over the controller's metrics: the binary is where the two
//! meet, so the controller does not depend on the Azure client.

use std::time::Duration;

use apilink_azure::ArmObserver;
use apilink_controller::Metrics;

/// Forwards every ARM answer and throttle wait into the controller's metrics.
#[derive(Clone)]
pub struct ArmMetrics(pub Metrics);

impl ArmObserver for ArmMetrics {
    fn on_response(&self, service: &str, method: &str, status: u16, duration: Duration) {
        self.0.azure_response(service, method, status, duration);
    }

    fn on_throttle_wait(&self, duration: Duration) {
        self.0.azure_throttle_wait(duration);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    #[test]
    fn the_arm_client_reports_into_the_controller_metrics() {
        let metrics = Metrics::new().unwrap();
        let observer: &dyn ArmObserver = &ArmMetrics(metrics.clone());
        observer.on_response("apicenter", "PUT", 429, Duration::from_millis(5));
        observer.on_response("apicenter", "PUT", 200, Duration::from_millis(30));
        observer.on_throttle_wait(Duration::from_millis(1500));
        let text = metrics.render().unwrap();
        assert_eq!(
            value(
                &text,
                r#"apilink_azure_requests_total{code="429",method="PUT",service="apicenter"}"#
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &text,
                r#"apilink_azure_request_duration_seconds_count{method="PUT",service="apicenter"}"#
            ),
            Some(2.0)
        );
        assert_eq!(
            value(&text, "apilink_azure_throttle_waits_total"),
            Some(1.0)
        );
        assert_eq!(
            value(&text, "apilink_azure_throttle_wait_seconds_total"),
            Some(1.5)
        );
    }
}
