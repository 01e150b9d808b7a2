//! `apilink crd`: prints the `ApiSourceLink` CustomResourceDefinition (the chart's and
//! deploy/'s copies are this output; a test fails when they drift).

use std::io::Write;

use clap::Args;

#[derive(Debug, Args)]
pub struct CrdArgs {}

pub fn run(_args: CrdArgs) -> anyhow::Result<()> {
    let yaml = apilink_controller::crd_yaml()?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(yaml.as_bytes())?;
    stdout.flush()?;
    Ok(())
}
