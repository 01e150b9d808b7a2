//! Two stages sharing APIs on the real API server (`spec.apiIdentity.scope: Shared`): a
//! production and a development `ApiSourceLink`, each reading its own APIM instance of
//! the same emulator, fill one API Center with one API per logical API and a deployment
//! per stage; production decides the API's title. Deleting the development link (its
//! finalizer) removes only its environment, its deployments and the API only it served;
//! production's entities stay as they were and the production link stays Ready.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use apilink_e2e::link::{self, api_counts};
use apilink_e2e::snapshot::{
    ApicSnapshot, definitions, deployments, deployments_by_environment, property, share_of,
    sharing_links, versions,
};
use apilink_e2e::{
    EmulatorOptions, Error, InstallOptions, LinkManifest, Probe, Result, Scenario, ensure,
    eventually, run, throughout,
};
use serde_json::{Value, json};

const PROD_APIM: &str = "contoso-apim";
const DEV_APIM: &str = "contoso-apim-dev";

/// Two APIM instances, one per stage: both serve Echo (with a title of dev's own in dev)
/// and the Orders version set (v1, v2); only dev has Invoices.
const TWO_STAGES: &str = r#"
services:
  - name: contoso-apim
    versionSets:
      - {id: orders, displayName: Orders, versioningScheme: Segment}
    apis:
      - id: echo
        displayName: Echo
        description: Echoes requests back.
        path: echo
        operations:
          - GET /echo Echo a request
      - id: orders-v1
        displayName: Orders
        path: orders
        versionSet: orders
        version: v1
        operations:
          - GET /orders List orders
      - id: orders-v2
        displayName: Orders
        path: orders
        versionSet: orders
        version: v2
        operations:
          - GET /orders List orders
          - POST /orders Place an order
  - name: contoso-apim-dev
    versionSets:
      - {id: orders, displayName: Orders, versioningScheme: Segment}
    apis:
      - id: echo
        displayName: Echo (dev)
        description: Echoes requests back.
        path: echo
        operations:
          - GET /echo Echo a request
      - id: orders-v1
        displayName: Orders
        path: orders
        versionSet: orders
        version: v1
        operations:
          - GET /orders List orders
      - id: orders-v2
        displayName: Orders
        path: orders
        versionSet: orders
        version: v2
        operations:
          - GET /orders List orders
          - POST /orders Place an order
      - id: invoices
        displayName: Invoices
        path: invoices
        operations:
          - GET /invoices List invoices
"#;

/// The logical APIs: identity (what the shared API's name starts with) and APIM source.
const ECHO: (&str, &str) = ("echo", "apis/echo");
const ORDERS: (&str, &str) = ("orders", "apiVersionSets/orders");
const INVOICES: (&str, &str) = ("invoices", "apis/invoices");

const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// Both links poll every 5 s: what one pass left to the other is done within an interval
/// and a few seconds.
const CONVERGENCE: Duration = Duration::from_secs(15);
const DELETE_TIMEOUT: Duration = Duration::from_secs(120);

fn stage(s: &Scenario, name: &str, apim_id: &str, apic_id: &str, kind: &str) -> LinkManifest {
    LinkManifest::with_ids(&s.ns, name, apim_id, apic_id)
        .with("/environment", json!({"kind": kind}))
        .with("/apiIdentity", json!({"scope": "Shared"}))
}

/// A shared API is named `sanitize(identity)-{8 hex}`, whoever made it.
fn is_shared_name(name: &str, identity: &str) -> bool {
    name.strip_prefix(identity)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|hash| hash.len() == 8 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The one API standing for `logical`; an error when there is none or more than one.
fn the_api<'a>(snap: &'a ApicSnapshot, logical: (&str, &str)) -> Result<(&'a str, &'a Value)> {
    let (identity, source) = logical;
    let found = snap.apis_for_source(source);
    match found.as_slice() {
        [(name, api)] if is_shared_name(name, identity) => Ok((name, api)),
        _ => Err(Error::Check(format!(
            "expected one shared API named {identity}-<8 hex> for {source}, found {:?}",
            found.iter().map(|(n, _)| *n).collect::<Vec<_>>()
        ))),
    }
}

/// How many deployments an API has in each environment.
fn per_environment(api: &Value) -> BTreeMap<String, usize> {
    deployments_by_environment(api)
        .into_iter()
        .map(|(env, deps)| (env, deps.len()))
        .collect()
}

fn expect_per_environment(name: &str, api: &Value, expected: &[(&str, usize)]) -> Result<()> {
    let expected: BTreeMap<String, usize> =
        expected.iter().map(|(e, n)| (e.to_string(), *n)).collect();
    let seen = per_environment(api);
    ensure(seen == expected, || {
        format!("{name}: deployments per environment {seen:?}, expected {expected:?}")
    })
}

fn expect_sharing(name: &str, api: &Value, links: &[&str]) -> Result<()> {
    let seen: BTreeSet<&str> = sharing_links(api).into_iter().collect();
    let expected: BTreeSet<&str> = links.iter().copied().collect();
    ensure(seen == expected, || {
        format!("{name}: records of {seen:?}, expected {expected:?}")
    })
}

/// Orders has v1 and v2 once each (a label too short for a name gets a hash:
/// `v1-{6 hex}`).
fn expect_orders_versions(name: &str, orders: &Value) -> Result<()> {
    let names: Vec<&str> = versions(orders).iter().map(|(n, _)| *n).collect();
    let of = |label: &str| {
        names
            .iter()
            .filter(|n| **n == label || n.starts_with(&format!("{label}-")))
            .count()
    };
    ensure(names.len() == 2 && of("v1") == 1 && of("v2") == 1, || {
        format!("{name}: versions {names:?}, expected v1 and v2 once each")
    })
}

/// How many definitions an API holds under all its versions.
fn expect_definitions(name: &str, api: &Value, expected: usize) -> Result<()> {
    let seen: Vec<String> = versions(api)
        .iter()
        .flat_map(|(v, version)| {
            definitions(version)
                .into_iter()
                .map(move |(d, _)| format!("{v}/{d}"))
        })
        .collect();
    ensure(seen.len() == expected, || {
        format!("{name}: definitions {seen:?}, expected {expected}")
    })
}

fn title(api: &Value) -> Option<&str> {
    property(api, "title").and_then(Value::as_str)
}

/// The environment `link` owns: exactly one, of `kind`.
fn environment_of(snap: &ApicSnapshot, link: &str, kind: &str) -> Result<String> {
    let envs = snap.owned_environments(link);
    let [(name, env)] = envs.as_slice() else {
        return Err(Error::Check(format!(
            "{link} owns environments {:?}, expected one",
            envs.iter().map(|(n, _)| *n).collect::<Vec<_>>()
        )));
    };
    ensure(property(env, "kind") == Some(&json!(kind)), || {
        format!(
            "{link}'s environment {name} has kind {:?}, expected {kind}",
            property(env, "kind")
        )
    })?;
    Ok(name.to_string())
}

/// Both stages synced: three APIs (no duplicates, none link-scoped), Echo and Orders
/// shared with a deployment per version in each stage's environment and production's
/// title, Invoices dev's alone.
fn expect_both_stages(
    snap: &ApicSnapshot,
    prod: &str,
    dev: &str,
    prod_env: &str,
    dev_env: &str,
) -> Result<()> {
    let names: BTreeSet<&str> = snap.apis().iter().map(|(n, _)| *n).collect();
    ensure(names.len() == 3, || {
        format!("API Center holds APIs {names:?}, expected one per logical API (3)")
    })?;
    for link in [prod, dev] {
        ensure(snap.owned_apis(link).is_empty(), || {
            format!("{link} made link-scoped APIs although it shares them")
        })?;
    }
    let (echo_name, echo) = the_api(snap, ECHO)?;
    expect_sharing(echo_name, echo, &[prod, dev])?;
    ensure(title(echo) == Some("Echo"), || {
        format!(
            "{echo_name}: title {:?}, expected production's \"Echo\"",
            title(echo)
        )
    })?;
    ensure(
        share_of(echo, prod) == Some("production/echo")
            && share_of(echo, dev) == Some("development/echo"),
        || {
            format!(
                "{echo_name}: shares {:?} / {:?}",
                share_of(echo, prod),
                share_of(echo, dev)
            )
        },
    )?;
    expect_per_environment(echo_name, echo, &[(prod_env, 1), (dev_env, 1)])?;
    // Dev's Echo has a title of its own, so its contract differs: a definition each.
    expect_definitions(echo_name, echo, 2)?;

    let (orders_name, orders) = the_api(snap, ORDERS)?;
    expect_sharing(orders_name, orders, &[prod, dev])?;
    expect_orders_versions(orders_name, orders)?;
    expect_per_environment(orders_name, orders, &[(prod_env, 2), (dev_env, 2)])?;

    let (invoices_name, invoices) = the_api(snap, INVOICES)?;
    expect_sharing(invoices_name, invoices, &[dev])?;
    expect_per_environment(invoices_name, invoices, &[(dev_env, 1)])
}

/// Production's own entities: its environment and its deployments, with their ETags.
fn prod_entities(snap: &ApicSnapshot, prod_env: &str) -> BTreeMap<String, String> {
    let etag = |v: &Value| v["etag"].as_str().unwrap_or("").to_string();
    let mut out = BTreeMap::new();
    for (name, env) in snap.environments() {
        if name == prod_env {
            out.insert(format!("environments/{name}"), etag(env));
        }
    }
    for (api_name, api) in snap.apis() {
        for (dep_name, dep) in deployments(api) {
            let in_prod = property(dep, "environmentId")
                .and_then(Value::as_str)
                .is_some_and(|id| id.ends_with(&format!("/environments/{prod_env}")));
            if in_prod {
                out.insert(format!("apis/{api_name}/deployments/{dep_name}"), etag(dep));
            }
        }
    }
    out
}

/// Path suffixes (lower case) of what deleting dev must not delete: production's
/// environment and deployments, the shared APIs and their versions, and the definitions
/// production's deployments point at.
fn prod_paths(
    snap: &ApicSnapshot,
    prod_env: &str,
    shared_names: &BTreeSet<String>,
) -> BTreeSet<String> {
    let mut out = BTreeSet::from([format!("/environments/{prod_env}")]);
    for (api_name, api) in snap.apis() {
        if !shared_names.contains(api_name) {
            continue;
        }
        out.insert(format!("/apis/{api_name}"));
        for (version, _) in versions(api) {
            out.insert(format!("/apis/{api_name}/versions/{version}"));
        }
        for (dep_name, dep) in deployments(api) {
            let in_prod = property(dep, "environmentId")
                .and_then(Value::as_str)
                .is_some_and(|id| id.ends_with(&format!("/environments/{prod_env}")));
            if !in_prod {
                continue;
            }
            out.insert(format!("/apis/{api_name}/deployments/{dep_name}"));
            if let Some(definition) = property(dep, "definitionId").and_then(Value::as_str) {
                let tail = definition
                    .split_once(&format!("/apis/{api_name}/"))
                    .map(|(_, tail)| tail)
                    .unwrap_or(definition);
                out.insert(format!("/apis/{api_name}/{tail}"));
            }
        }
    }
    out.into_iter().map(|p| p.to_ascii_lowercase()).collect()
}

/// After dev left: Echo and Orders under the same names with production's share only,
/// Invoices gone.
fn expect_prod_alone(
    snap: &ApicSnapshot,
    prod: &str,
    prod_env: &str,
    shared_names: &BTreeSet<String>,
) -> Result<()> {
    let names: BTreeSet<String> = snap.apis().iter().map(|(n, _)| n.to_string()).collect();
    ensure(&names == shared_names, || {
        format!("APIs after dev left: {names:?}, expected {shared_names:?}")
    })?;
    ensure(snap.apis_for_source(INVOICES.1).is_empty(), || {
        "the API only dev served is still there".to_string()
    })?;
    let (echo_name, echo) = the_api(snap, ECHO)?;
    expect_sharing(echo_name, echo, &[prod])?;
    ensure(title(echo) == Some("Echo"), || {
        format!("{echo_name}: title {:?} after dev left", title(echo))
    })?;
    expect_per_environment(echo_name, echo, &[(prod_env, 1)])?;
    expect_definitions(echo_name, echo, 1)?;
    let (orders_name, orders) = the_api(snap, ORDERS)?;
    expect_sharing(orders_name, orders, &[prod])?;
    expect_orders_versions(orders_name, orders)?;
    expect_per_environment(orders_name, orders, &[(prod_env, 2)])
}

#[test]
fn two_stages_share_apis_and_deleting_one_leaves_the_other_intact() {
    run("shared-apis", async |s: &mut Scenario| {
        let (emulator, _install, _controller) = s
            .standard(
                EmulatorOptions::seed(TWO_STAGES),
                InstallOptions::namespaced(&[&s.ns]),
            )
            .await?;
        let prod = stage(
            s,
            "prod",
            &emulator.apim_id_of(PROD_APIM)?,
            &emulator.apic_id,
            "production",
        );
        let dev = stage(
            s,
            "dev",
            &emulator.apim_id_of(DEV_APIM)?,
            &emulator.apic_id,
            "development",
        );
        let (prod_id, dev_id) = (prod.id(), dev.id());
        s.apply_link(&prod).await?;
        s.apply_link(&dev).await?;
        let prod_ready = s.kubectl_wait_ready("prod", READY_TIMEOUT).await?;
        let dev_ready = s.kubectl_wait_ready("dev", READY_TIMEOUT).await?;
        for (ready, expected) in [(&prod_ready, (2, 2, 0)), (&dev_ready, (3, 3, 0))] {
            ensure(api_counts(ready) == Some(expected), || {
                format!(
                    "status.apis should be {expected:?}: {}",
                    link::describe(ready)
                )
            })?;
        }

        // Both Ready: one API per logical API, a deployment per version in each stage.
        let started = Instant::now();
        let first_miss = std::cell::RefCell::new(None::<String>);
        let (snap, prod_env, dev_env) = eventually(
            "one API per logical API, shared by both stages",
            CONVERGENCE,
            || async {
                let snap = emulator.snapshot().await?;
                let envs = environment_of(&snap, &prod_id, "production")
                    .and_then(|p| environment_of(&snap, &dev_id, "development").map(|d| (p, d)));
                let checked = envs.and_then(|(p, d)| {
                    expect_both_stages(&snap, &prod_id, &dev_id, &p, &d).map(|()| (p, d))
                });
                Ok(match checked {
                    Ok((p, d)) => Probe::Done((snap, p, d)),
                    Err(e) => {
                        first_miss.borrow_mut().get_or_insert_with(|| e.to_string());
                        Probe::NotYet(e.to_string())
                    }
                })
            },
        )
        .await?;
        eprintln!(
            "[e2e] shared-apis: both stages converged {:.1}s after both were Ready (first look: {}); APIs {:?}",
            started.elapsed().as_secs_f64(),
            first_miss.borrow().as_deref().unwrap_or("converged"),
            snap.apis().iter().map(|(n, _)| *n).collect::<Vec<_>>()
        );
        let prod_before = prod_entities(&snap, &prod_env);
        ensure(prod_before.len() == 4, || {
            format!("production's environment and 3 deployments, found {prod_before:?}")
        })?;
        let shared_names: BTreeSet<String> = [ECHO, ORDERS]
            .into_iter()
            .map(|logical| the_api(&snap, logical).map(|(n, _)| n.to_string()))
            .collect::<Result<_>>()?;

        let protected = prod_paths(&snap, &prod_env, &shared_names);
        let prod_definitions = protected
            .iter()
            .filter(|p| p.contains("/definitions/"))
            .count();
        ensure(prod_definitions == 3, || {
            format!("production's deployments should point at 3 definitions: {protected:?}")
        })?;

        // The dev link goes: kubectl returns once its finalizer is done.
        let mark = emulator.last_seq().await?;
        let started = Instant::now();
        s.delete_link("dev", Some(DELETE_TIMEOUT)).await?;
        s.wait_gone("dev", Duration::from_secs(10)).await?;
        let deleted: Vec<String> = emulator
            .azure_calls_since(mark)
            .await?
            .iter()
            .filter(|c| c.kind == "Arm" && c.method.eq_ignore_ascii_case("DELETE"))
            .map(|c| {
                let path = c.path.to_ascii_lowercase();
                match path.split_once("/workspaces/default") {
                    Some((_, tail)) => tail.to_string(),
                    None => path,
                }
            })
            .collect();
        eprintln!(
            "[e2e] shared-apis: dev link deleted in {:.1}s; DELETEs: {deleted:?}",
            started.elapsed().as_secs_f64()
        );
        let hit: Vec<&String> = deleted
            .iter()
            .filter(|path| protected.iter().any(|p| path.ends_with(p.as_str())))
            .collect();
        ensure(hit.is_empty(), || {
            format!("deleting dev deleted production's entities or a shared API: {hit:?}")
        })?;
        let dev_env_path = format!("/environments/{}", dev_env.to_ascii_lowercase());
        ensure(deleted.iter().any(|p| p.ends_with(&dev_env_path)), || {
            format!("no DELETE of dev's environment {dev_env}: {deleted:?}")
        })?;
        let snap = emulator.snapshot().await?;
        expect_prod_alone(&snap, &prod_id, &prod_env, &shared_names)?;
        ensure(
            snap.owned_environments(&dev_id).is_empty()
                && snap.environments().iter().all(|(n, _)| *n != dev_env),
            || format!("dev's environment {dev_env} is still there"),
        )?;
        let envs: Vec<&str> = snap.environments().iter().map(|(n, _)| *n).collect();
        ensure(envs == [prod_env.as_str()], || {
            format!("environments after dev left: {envs:?}, expected only {prod_env}")
        })?;
        ensure(snap.shared_apis(&dev_id).is_empty(), || {
            "dev's record is still on an API".to_string()
        })?;
        ensure(prod_entities(&snap, &prod_env) == prod_before, || {
            format!(
                "production's environment or deployments changed when dev left: before {prod_before:?}, after {:?}",
                prod_entities(&snap, &prod_env)
            )
        })?;

        // Production stays Ready; a pass it is asked for finds everything in place and
        // writes nothing.
        let mark = emulator.last_seq().await?;
        let token = format!(
            "after-dev-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or_default()
        );
        s.request_reconcile("prod", &token).await?;
        s.wait_link(
            "prod",
            "the requested pass handled, Ready",
            READY_TIMEOUT,
            |l| {
                l.pointer("/status/lastHandledReconcileAt") == Some(&json!(token))
                    && link::is_ready(l)
            },
        )
        .await?;
        throughout("prod Ready", Duration::from_secs(6), || async {
            let link = s.link("prod").await?;
            Ok((!link::is_ready(&link)).then(|| link::describe(&link)))
        })
        .await?;
        let calls = emulator.azure_calls_since(mark).await?;
        ensure(calls.iter().any(|c| c.kind == "Arm"), || {
            "production made no ARM call after dev left: no pass ran".to_string()
        })?;
        let writes: Vec<String> = calls
            .iter()
            .filter(|c| c.is_write())
            .map(|c| format!("{} {}", c.method, c.path))
            .collect();
        ensure(writes.is_empty(), || {
            format!("production's passes after dev left wrote {writes:?}")
        })?;
        let snap = emulator.snapshot().await?;
        expect_prod_alone(&snap, &prod_id, &prod_env, &shared_names)?;
        ensure(prod_entities(&snap, &prod_env) == prod_before, || {
            "production's environment or deployments changed in its own later passes".to_string()
        })
    });
}
