//! `apilink emulator`: runs the emulator standalone and prints what a client needs to use it.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;
use apilink_emulator::{
    ApicContract, ApicSku, ConditionalHeaders, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET,
    DEFAULT_FEDERATED_SUBJECT, Emulator, EmulatorConfig, ImportAnswer, Seed, ThrottleConfig,
    UndeclaredCustomProperties,
};

#[derive(Debug, clap::Args)]
pub struct EmulatorArgs {
    /// APIM seed (YAML); without it (and without --synthetic) the bundled demo APIM is used.
    #[arg(long, value_name = "FILE", conflicts_with = "synthetic")]
    seed: Option<PathBuf>,
    /// Generate a large APIM with this many APIs instead of reading a seed (benchmarks).
    #[arg(long, value_name = "N")]
    synthetic: Option<usize>,
    /// Port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// API Center service names (each gets workspace "default").
    #[arg(long = "api-center", value_name = "NAME", default_value = apilink_emulator::DEFAULT_API_CENTER_SERVICE)]
    api_center: Vec<String>,
    /// Do not enforce ARM's per-principal request throttling.
    #[arg(long)]
    no_throttle: bool,
    /// How many polls an API Center import needs before it is done.
    #[arg(long, default_value_t = 1)]
    lro_polls: u32,
    /// Read API Center's contract leniently: undeclared custom properties kept, no
    /// custom-property limits, If-Match honoured, imports advertise Azure-AsyncOperation too.
    #[arg(long)]
    lax: bool,
    /// What API Center does with If-Match / If-None-Match (default: ignored, or honoured
    /// with --lax).
    #[arg(long, value_name = "MODE", value_parser = parse_conditional_headers)]
    conditional_headers: Option<ConditionalHeaders>,
    /// What API Center does with custom properties no metadata schema declares: refused
    /// (400), dropped (the write succeeds without them) or kept (default: refused, or kept
    /// with --lax).
    #[arg(long, value_name = "MODE", value_parser = parse_custom_properties)]
    custom_properties: Option<UndeclaredCustomProperties>,
    /// How importSpecification answers: location (202 + Location),
    /// location-and-async-operation (202 + Location + Azure-AsyncOperation) or synchronous
    /// (200, done at once) (default: location, or location-and-async-operation with --lax).
    #[arg(long, value_name = "MODE", value_parser = parse_import_answer)]
    import_answer: Option<ImportAnswer>,
    /// The API Center plan: free or standard; it sets the services' sku and limits.
    #[arg(long, value_name = "PLAN", default_value = "standard", value_parser = parse_sku)]
    api_center_sku: ApicSku,
}

fn parse_conditional_headers(text: &str) -> Result<ConditionalHeaders, String> {
    match text {
        "honoured" => Ok(ConditionalHeaders::Honoured),
        "ignored" => Ok(ConditionalHeaders::Ignored),
        "refused" => Ok(ConditionalHeaders::Refused),
        other => Err(format!(
            "'{other}' is not one of honoured, ignored, refused"
        )),
    }
}

fn parse_custom_properties(text: &str) -> Result<UndeclaredCustomProperties, String> {
    match text {
        "refused" => Ok(UndeclaredCustomProperties::Refused),
        "dropped" => Ok(UndeclaredCustomProperties::Dropped),
        "kept" => Ok(UndeclaredCustomProperties::Kept),
        other => Err(format!("'{other}' is not one of refused, dropped, kept")),
    }
}

fn parse_import_answer(text: &str) -> Result<ImportAnswer, String> {
    match text {
        "location" => Ok(ImportAnswer::LocationOnly),
        "location-and-async-operation" => Ok(ImportAnswer::LocationAndAsyncOperation),
        "synchronous" => Ok(ImportAnswer::Synchronous),
        other => Err(format!(
            "'{other}' is not one of location, location-and-async-operation, synchronous"
        )),
    }
}

fn parse_sku(text: &str) -> Result<ApicSku, String> {
    match text.to_ascii_lowercase().as_str() {
        "free" => Ok(ApicSku::Free),
        "standard" => Ok(ApicSku::Standard),
        _ => Err(format!("'{text}' is not one of free, standard")),
    }
}

impl EmulatorArgs {
    fn config(&self) -> anyhow::Result<EmulatorConfig> {
        let seed = match (&self.seed, self.synthetic) {
            (Some(path), _) => Seed::from_file(path)
                .with_context(|| format!("reading the seed {}", path.display()))?,
            (None, Some(n)) => Seed::synthetic(n),
            (None, None) => Seed::demo(),
        };
        seed.validate().context("the seed is not a valid APIM")?;
        Ok(EmulatorConfig {
            seed,
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, self.port)),
            api_center_services: self.api_center.clone(),
            throttle: if self.no_throttle {
                ThrottleConfig::disabled()
            } else {
                ThrottleConfig::default()
            },
            lro_polls_before_done: self.lro_polls,
            apic_contract: self.apic_contract(),
            api_center_sku: self.api_center_sku,
            ..EmulatorConfig::default()
        })
    }

    fn apic_contract(&self) -> ApicContract {
        let profile = if self.lax {
            ApicContract::lax()
        } else {
            ApicContract::strict()
        };
        ApicContract {
            conditional_headers: self
                .conditional_headers
                .unwrap_or(profile.conditional_headers),
            undeclared_custom_properties: self
                .custom_properties
                .unwrap_or(profile.undeclared_custom_properties),
            import_answer: self.import_answer.unwrap_or(profile.import_answer),
            ..profile
        }
    }
}

/// One line naming the API Center contract, e.g.
/// `strict (undeclared custom properties refused, custom-property limits enforced,
/// If-Match/If-None-Match ignored, import: 202 with Location only)`.
fn describe_contract(contract: &ApicContract) -> String {
    let profile = if *contract == ApicContract::strict() {
        "strict"
    } else if *contract == ApicContract::lax() {
        "lax"
    } else {
        "custom"
    };
    let custom = match contract.undeclared_custom_properties {
        UndeclaredCustomProperties::Refused => "refused",
        UndeclaredCustomProperties::Dropped => "dropped",
        UndeclaredCustomProperties::Kept => "kept",
    };
    let limits = if contract.enforce_custom_property_limits {
        "enforced"
    } else {
        "not enforced"
    };
    let headers = match contract.conditional_headers {
        ConditionalHeaders::Honoured => "honoured",
        ConditionalHeaders::Ignored => "ignored",
        ConditionalHeaders::Refused => "refused",
    };
    let import = match contract.import_answer {
        ImportAnswer::LocationOnly => "202 with Location only",
        ImportAnswer::LocationAndAsyncOperation => "202 with Location + Azure-AsyncOperation",
        ImportAnswer::Synchronous => "200 at once (synchronous)",
    };
    format!(
        "{profile} (undeclared custom properties {custom}, custom-property limits {limits}, If-Match/If-None-Match {headers}, import: {import})"
    )
}

pub async fn run(args: EmulatorArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    let emulator = apilink_emulator::start(config)
        .await
        .context("starting the emulator")?;
    print!("{}", banner(&emulator, &args.api_center));
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    eprintln!("stopping the emulator");
    emulator.shutdown().await;
    Ok(())
}

/// Quotes a value for a POSIX shell when it needs it.
fn shell_quote(value: &str) -> String {
    let plain = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c));
    if plain && !value.is_empty() {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

/// What the command prints once the emulator listens.
pub fn banner(emulator: &Emulator, api_centers: &[String]) -> String {
    let endpoint = emulator.arm_endpoint().to_string();
    let ca = emulator.ca_file().display().to_string();
    let mut out = String::new();
    let _ = writeln!(out, "apilink emulator listening on {endpoint}");
    let _ = writeln!(out);
    let _ = writeln!(out, "  ARM endpoint          {endpoint}");
    let _ = writeln!(out, "  Token authority       {}", emulator.authority_host());
    let _ = writeln!(out, "  CA certificate        {ca}");
    let _ = writeln!(out, "  Tenant id             {}", emulator.tenant_id());
    let _ = writeln!(
        out,
        "  Subscription id       {}",
        emulator.subscription_id()
    );
    let _ = writeln!(out, "  Resource group        {}", emulator.resource_group());
    let _ = writeln!(out, "  Client id             {DEFAULT_CLIENT_ID}");
    let _ = writeln!(out, "  Client secret         {DEFAULT_CLIENT_SECRET}");
    let _ = writeln!(out, "  Federated subject     {DEFAULT_FEDERATED_SUBJECT}");
    let _ = writeln!(
        out,
        "  Managed identity      {} (X-IDENTITY-HEADER: {})",
        emulator.managed_identity_endpoint(),
        emulator.identity_header()
    );
    for service in emulator.apim().service_names() {
        let _ = writeln!(
            out,
            "  APIM                  {}",
            emulator.apim_resource_id(&service)
        );
    }
    for service in api_centers {
        let _ = writeln!(
            out,
            "  API Center            {}",
            emulator.api_center_resource_id(service)
        );
    }
    let _ = writeln!(
        out,
        "  API Center plan       {}",
        emulator.api_center().options().sku.name()
    );
    let _ = writeln!(
        out,
        "  API Center contract   {}",
        describe_contract(&emulator.apic_contract())
    );
    let _ = writeln!(out, "  Admin                 {endpoint}_emulator/info");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "# Paste into a shell to point Azure clients at the emulator:"
    );
    let exports = [
        (
            "AZURE_AUTHORITY_HOST",
            emulator.authority_host().to_string(),
        ),
        ("SSL_CERT_FILE", ca),
        ("AZURE_TENANT_ID", emulator.tenant_id().to_string()),
        ("AZURE_CLIENT_ID", DEFAULT_CLIENT_ID.to_string()),
        ("AZURE_CLIENT_SECRET", DEFAULT_CLIENT_SECRET.to_string()),
        ("AZURE_RESOURCE_MANAGER_ENDPOINT", endpoint),
    ];
    for (name, value) in exports {
        let _ = writeln!(out, "export {name}={}", shell_quote(&value));
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Serving until Ctrl-C.");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("/tmp/ca.pem"), "/tmp/ca.pem");
        assert_eq!(shell_quote("https://127.0.0.1:1/"), "https://127.0.0.1:1/");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[tokio::test]
    async fn banner_names_everything_a_client_needs() {
        let emulator = apilink_emulator::start(EmulatorConfig::default())
            .await
            .expect("emulator");
        let text = banner(&emulator, &["contoso-catalog".to_string()]);
        let endpoint = emulator.arm_endpoint().to_string();
        assert!(text.contains(&format!("export AZURE_AUTHORITY_HOST={endpoint}\n")));
        assert!(text.contains(&format!(
            "export AZURE_RESOURCE_MANAGER_ENDPOINT={endpoint}\n"
        )));
        assert!(text.contains(&format!(
            "export SSL_CERT_FILE={}\n",
            emulator.ca_file().display()
        )));
        assert!(text.contains(&format!(
            "export AZURE_CLIENT_SECRET={DEFAULT_CLIENT_SECRET}\n"
        )));
        assert!(text.contains(&emulator.apim_resource_id("contoso-apim")));
        assert!(text.contains(&emulator.api_center_resource_id("contoso-catalog")));
        assert!(
            text.contains("  API Center plan       Standard\n"),
            "{text}"
        );
        assert!(
            text.contains("  API Center contract   strict (undeclared custom properties refused, custom-property limits enforced, If-Match/If-None-Match ignored, import: 202 with Location only)\n"),
            "{text}"
        );
    }

    #[test]
    fn the_contract_flags_pick_the_profile_and_the_header_mode() {
        use clap::Parser;
        #[derive(Parser)]
        struct Wrapper {
            #[command(flatten)]
            args: EmulatorArgs,
        }
        let contract = |argv: &[&str]| {
            let mut full = vec!["x"];
            full.extend_from_slice(argv);
            Wrapper::try_parse_from(full)
                .expect("args")
                .args
                .config()
                .expect("config")
                .apic_contract
        };
        assert_eq!(contract(&[]), ApicContract::strict());
        assert_eq!(contract(&["--lax"]), ApicContract::lax());
        assert_eq!(
            contract(&["--conditional-headers", "refused"]),
            ApicContract {
                conditional_headers: ConditionalHeaders::Refused,
                ..ApicContract::strict()
            }
        );
        let lax_ignoring = contract(&["--lax", "--conditional-headers", "ignored"]);
        assert_eq!(
            lax_ignoring,
            ApicContract {
                conditional_headers: ConditionalHeaders::Ignored,
                ..ApicContract::lax()
            }
        );
        assert!(describe_contract(&lax_ignoring).starts_with("custom ("));
        assert!(
            describe_contract(&ApicContract::lax())
                .starts_with("lax (undeclared custom properties kept")
        );
        assert!(Wrapper::try_parse_from(["x", "--conditional-headers", "sometimes"]).is_err());
    }

    #[test]
    fn custom_property_and_import_flags_override_the_profile() {
        use clap::Parser;
        #[derive(Parser)]
        struct Wrapper {
            #[command(flatten)]
            args: EmulatorArgs,
        }
        let config = |argv: &[&str]| {
            let mut full = vec!["x"];
            full.extend_from_slice(argv);
            Wrapper::try_parse_from(full)
                .expect("args")
                .args
                .config()
                .expect("config")
        };
        for (flag, mode) in [
            ("refused", UndeclaredCustomProperties::Refused),
            ("dropped", UndeclaredCustomProperties::Dropped),
            ("kept", UndeclaredCustomProperties::Kept),
        ] {
            assert_eq!(
                config(&["--custom-properties", flag]).apic_contract,
                ApicContract {
                    undeclared_custom_properties: mode,
                    ..ApicContract::strict()
                }
            );
            assert_eq!(
                config(&["--lax", "--custom-properties", flag])
                    .apic_contract
                    .undeclared_custom_properties,
                mode
            );
        }
        for (flag, answer) in [
            ("location", ImportAnswer::LocationOnly),
            (
                "location-and-async-operation",
                ImportAnswer::LocationAndAsyncOperation,
            ),
            ("synchronous", ImportAnswer::Synchronous),
        ] {
            assert_eq!(
                config(&["--import-answer", flag]).apic_contract,
                ApicContract {
                    import_answer: answer,
                    ..ApicContract::strict()
                }
            );
            assert_eq!(
                config(&["--lax", "--import-answer", flag])
                    .apic_contract
                    .import_answer,
                answer
            );
        }
        let dropped_sync = ApicContract {
            undeclared_custom_properties: UndeclaredCustomProperties::Dropped,
            import_answer: ImportAnswer::Synchronous,
            ..ApicContract::strict()
        };
        assert_eq!(
            describe_contract(&dropped_sync),
            "custom (undeclared custom properties dropped, custom-property limits enforced, If-Match/If-None-Match ignored, import: 200 at once (synchronous))"
        );
        assert!(Wrapper::try_parse_from(["x", "--custom-properties", "ignored"]).is_err());
        assert!(Wrapper::try_parse_from(["x", "--import-answer", "location-only"]).is_err());

        assert_eq!(config(&[]).api_center_sku, ApicSku::Standard);
        assert_eq!(
            config(&["--api-center-sku", "free"]).api_center_sku,
            ApicSku::Free
        );
        assert_eq!(
            config(&["--api-center-sku", "Standard"]).api_center_sku,
            ApicSku::Standard
        );
        assert!(Wrapper::try_parse_from(["x", "--api-center-sku", "premium"]).is_err());
    }

    #[test]
    fn seed_and_synthetic_conflict_and_bad_seeds_fail() {
        use clap::Parser;
        #[derive(Parser)]
        struct Wrapper {
            #[command(flatten)]
            args: EmulatorArgs,
        }
        assert!(Wrapper::try_parse_from(["x", "--seed", "a.yaml", "--synthetic", "3"]).is_err());
        let parsed =
            Wrapper::try_parse_from(["x", "--synthetic", "30", "--port", "0", "--no-throttle"])
                .expect("args");
        let config = parsed.args.config().expect("config");
        assert_eq!(config.seed.services[0].apis.len(), 30);
        assert!(!config.throttle.enabled);
        let missing =
            Wrapper::try_parse_from(["x", "--seed", "/nonexistent/seed.yaml"]).expect("args");
        assert!(missing.args.config().is_err());
    }
}
