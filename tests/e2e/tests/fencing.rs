//! Leader fencing (issue "Safe to point at a production catalogue"): a leader that
//! cannot renew its lease stops starting Azure writes before another replica can take
//! over, even though nothing tells it that it lost the lease.
//!
//! Two replicas, each with its own loopback TCP proxy to the API server (named in its
//! kubeconfig) and its own proxy to the emulator (its ARM endpoint and token authority).
//! The leader's API-server proxy is cut in the middle of a long first sync: its lease
//! renewals fail, but the process lives on and can still reach Azure. The emulator's
//! call log cannot tell the replicas apart (they share the link's principal), so each
//! replica's Azure proxy records when it sent requests; the Lease says when the other
//! replica took over, and the call log when that replica first wrote.
//!
//! Run it alone with `tests/e2e/run.sh fencing`; see tests/e2e/README.md.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use apilink_e2e::link::{self, api_counts};
use apilink_e2e::proxy::{TcpProxy, epoch_ms, install_through, upstream_of};
use apilink_e2e::{
    Call, EmulatorOptions, Error, InstallOptions, LinkManifest, Probe, Result, Scenario, ensure,
    eventually, run,
};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use kube::Api;
use serde_json::{Value, json};

const LEASE_SECS: u32 = 8;
const GRACE_SECS: u32 = 3;
/// How long after a confirmed renewal a leader may start writes: the lease duration less
/// half the renew grace (crates/controller/src/leadership.rs).
const WRITER_WINDOW_MS: u64 = (LEASE_SECS as u64) * 1000 - (GRACE_SECS as u64) * 500;
/// The proxies read the leader's bytes a moment after it decided to send them.
const CLOCK_SLACK_MS: u64 = 500;
/// How long the old leader is watched after the new leader's first write.
const WATCH_AFTER_TAKEOVER: Duration = Duration::from_secs(20);

fn expected_apis(apim: &Value) -> usize {
    let service = &apim["services"][0];
    let sets = service["versionSets"].as_array().map_or(0, Vec::len);
    let loose = service["apis"].as_array().map_or(0, |apis| {
        apis.iter().filter(|a| a["versionSet"].is_null()).count()
    });
    sets + loose
}

async fn lease_spec(s: &Scenario, name: &str) -> Result<LeaseSpec> {
    let leases: Api<Lease> = Api::namespaced(s.admin.clone(), &s.ns);
    Ok(leases
        .get(name)
        .await
        .map_err(Error::kube(format!("reading Lease {}/{name}", s.ns)))?
        .spec
        .unwrap_or_default())
}

fn micro_ms(t: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime>) -> Option<u64> {
    t.and_then(|t| u64::try_from(t.0.as_millisecond()).ok())
}

/// Seconds of `at_ms` after `origin_ms`, for people.
fn rel(at_ms: u64, origin_ms: u64) -> String {
    format!("{:+.1}s", (at_ms as f64 - origin_ms as f64) / 1000.0)
}

fn writes(calls: &[Call]) -> Vec<&Call> {
    calls.iter().filter(|c| c.is_write()).collect()
}

#[test]
fn leader_fencing_a_leader_cut_off_from_the_api_server_stops_writing_before_the_other_takes_over() {
    run("fencing", async |s: &mut Scenario| {
        let emulator = s.start_emulator(&EmulatorOptions::synthetic(200)).await?;
        s.create_credentials(&s.ns, &emulator).await?;
        let install = s
            .install(
                &emulator,
                &InstallOptions::namespaced(&[&s.ns]).with_leader_election(LEASE_SECS, GRACE_SECS),
            )
            .await?;
        let lease = install
            .lease_name
            .clone()
            .ok_or_else(|| Error::Check("the chart sets no APILINK_LEASE_NAME".into()))?;
        let apim = emulator.apim_state().await?;
        let expected = expected_apis(&apim);

        let apiserver = upstream_of(&s.cluster.apiserver_url)?;
        let azure = upstream_of(&emulator.endpoint)?;
        let kube_a = TcpProxy::start("kube-a", apiserver)?;
        let azure_a = TcpProxy::start("azure-a", azure)?;
        let kube_b = TcpProxy::start("kube-b", apiserver)?;
        let azure_b = TcpProxy::start("azure-b", azure)?;
        let install_a = install_through(
            s.cluster,
            &install,
            &emulator,
            &s.dir,
            "apilink-a",
            &kube_a,
            &azure_a,
        )?;
        let install_b = install_through(
            s.cluster,
            &install,
            &emulator,
            &s.dir,
            "apilink-b",
            &kube_b,
            &azure_b,
        )?;

        let mut a = s
            .start_controller(&install_a, &emulator, "apilink-a")
            .await?;
        eventually(
            "replica a to hold the lease",
            Duration::from_secs(30),
            || async {
                Ok(match s.lease_holder(&lease).await? {
                    Some(h) if h == "apilink-a" => Probe::Done(()),
                    other => Probe::NotYet(format!("holder {other:?}")),
                })
            },
        )
        .await?;
        let b = s
            .start_controller(&install_b, &emulator, "apilink-b")
            .await?;

        let link = LinkManifest::new(&s.ns, "shared", &emulator).with("/interval", json!("30s"));
        let id = link.id();
        s.apply_link(&link).await?;
        eventually(
            "a's sync to be part-way",
            Duration::from_secs(180),
            || async {
                let owned = emulator.snapshot().await?.owned_apis(&id).len();
                if link::is_ready(&s.link("shared").await?) {
                    return Err(Error::Check(
                        "the sync finished before the leader could be cut off".into(),
                    ));
                }
                Ok(if owned >= 5 {
                    Probe::Done(())
                } else {
                    Probe::NotYet(format!("{owned} APIs"))
                })
            },
        )
        .await?;
        ensure(azure_b.last_request_ms().is_none(), || {
            "the standby called Azure before it led".to_string()
        })?;

        // Cut the leader off the API server; it keeps running and keeps reaching Azure.
        kube_a.cut();
        let cut_ms = epoch_ms();
        let cut_at = Instant::now();
        let before = lease_spec(s, &lease).await?;
        ensure(
            before.holder_identity.as_deref() == Some("apilink-a"),
            || {
                format!(
                    "right after the cut the Lease names {:?}",
                    before.holder_identity
                )
            },
        )?;
        let last_renewal_ms = micro_ms(before.renew_time.as_ref())
            .ok_or_else(|| Error::Check("the Lease held by a has no renewTime".into()))?;

        let taken = eventually(
            "replica b to take the lease",
            Duration::from_secs(u64::from(LEASE_SECS) * 3),
            || async {
                let spec = lease_spec(s, &lease).await?;
                Ok(match spec.holder_identity.as_deref() {
                    Some("apilink-b") => Probe::Done(spec),
                    other => Probe::NotYet(format!("holder {other:?}")),
                })
            },
        )
        .await?;
        let acquired_ms = micro_ms(taken.acquire_time.as_ref())
            .ok_or_else(|| Error::Check("the Lease taken by b has no acquireTime".into()))?;
        eprintln!(
            "[e2e] fencing: b took the lease {:.1}s after a was cut off (lease {LEASE_SECS}s)",
            cut_at.elapsed().as_secs_f64()
        );

        let first_b_write = eventually(
            "b's first write to Azure",
            Duration::from_secs(180),
            || async {
                let calls = emulator.calls().await?;
                Ok(
                    match writes(&calls).into_iter().find(|c| c.at_ms >= acquired_ms) {
                        Some(call) => Probe::Done((*call).clone()),
                        None => Probe::NotYet(format!(
                            "{} calls, none a write since b took the lease",
                            calls.len()
                        )),
                    },
                )
            },
        )
        .await?;
        tokio::time::sleep(WATCH_AFTER_TAKEOVER).await;

        // The old leader, from its Azure proxy: nothing after the new leader's first
        // write, and in fact nothing once its window after its last renewal had closed,
        // before the new leader could even take the lease.
        let calls = emulator.calls().await?;
        let all_writes = writes(&calls);
        let late = azure_a.requests_after(first_b_write.at_ms);
        let last_a_ms = azure_a.last_request_ms().unwrap_or_default();
        let a_writes_after_cut = all_writes
            .iter()
            .filter(|c| c.at_ms > cut_ms && c.at_ms < acquired_ms)
            .count();
        let b_writes = all_writes.iter().filter(|c| c.at_ms >= acquired_ms).count();
        let summary = format!(
            "times from the cut: a's last renewal {}, a's writer window closed {}, a's last Azure request {}, b acquired the lease {}, b's first write {} ({} {}); writes: {} before the cut, {a_writes_after_cut} by a after it, {b_writes} since b took over",
            rel(last_renewal_ms, cut_ms),
            rel(last_renewal_ms + WRITER_WINDOW_MS, cut_ms),
            rel(last_a_ms, cut_ms),
            rel(acquired_ms, cut_ms),
            rel(first_b_write.at_ms, cut_ms),
            first_b_write.method,
            first_b_write.path,
            all_writes.iter().filter(|c| c.at_ms <= cut_ms).count(),
        );
        ensure(late.is_empty(), || {
            format!(
                "the old leader a sent {} requests to Azure after the new leader's first write ({} bytes, the last {} after it); {summary}",
                late.len(),
                late.iter().map(|s| s.bytes).sum::<usize>(),
                late.last()
                    .map_or(String::new(), |l| rel(l.at_ms, first_b_write.at_ms)),
            )
        })?;
        ensure(last_a_ms < acquired_ms, || {
            format!("the old leader a still called Azure after b took the lease; {summary}")
        })?;
        ensure(
            last_a_ms <= last_renewal_ms + WRITER_WINDOW_MS + CLOCK_SLACK_MS,
            || format!("a called Azure after its writer window had closed; {summary}"),
        )?;
        ensure(
            a.log_text()
                .contains("the leader lease was not renewed in time"),
            || "a's log does not say that fencing stopped its pass".to_string(),
        )?;
        ensure(azure_b.last_request_ms().is_some(), || {
            format!("b's writes did not go through its proxy; {summary}")
        })?;
        eprintln!("[e2e] fencing: {summary}");

        // Back in touch, a learns that b holds the lease and stands by, silent.
        kube_a.heal();
        let healed_ms = epoch_ms();
        eventually(
            "a to stand by once it reaches the API server again",
            Duration::from_secs(60),
            || async {
                let leader = a.metric_sum("apilink_leader", &[]).await?;
                Ok(if leader == 0.0 {
                    Probe::Done(())
                } else {
                    Probe::NotYet(format!("a's apilink_leader {leader}"))
                })
            },
        )
        .await?;
        ensure(a.log_text().contains("leader lease lost"), || {
            "a did not log that it lost the lease".to_string()
        })?;

        let ready = s
            .wait_link(
                "shared",
                "Ready, finished by b",
                Duration::from_secs(300),
                |l| {
                    link::is_ready(l)
                        && api_counts(l).is_some_and(|(d, sy, _)| {
                            d as usize == expected && sy as usize == expected
                        })
                },
            )
            .await?;
        let snap = emulator.snapshot().await?;
        let duplicates: Vec<(String, usize)> = snap
            .sources_of(&id)
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .collect();
        ensure(
            snap.apis().len() == expected && duplicates.is_empty(),
            || {
                format!(
                    "{} APIs for {expected} expected, duplicates {duplicates:?}; {}",
                    snap.apis().len(),
                    link::describe(&ready)
                )
            },
        )?;
        let after_heal = azure_a.requests_after(healed_ms);
        ensure(after_heal.is_empty(), || {
            format!(
                "the old leader called Azure {} times after it was back in touch",
                after_heal.len()
            )
        })?;
        let leader_b = b.metric_sum("apilink_leader", &[]).await?;
        ensure(leader_b == 1.0, || {
            format!("b's apilink_leader is {leader_b}")
        })?;
        let (_, refused) = kube_a.connection_counts();
        eprintln!(
            "[e2e] fencing: a stood by after the heal ({refused} API-server connections refused while cut); b finished the sync: {expected} APIs, no duplicates"
        );
        a.stop();
        Ok(())
    });
}
