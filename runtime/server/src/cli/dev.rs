//! `bosun dev`: Bosun on one machine. Takes the engine lock of the data
//! directory, loads the built-in documents, resumes unfinished executions and
//! keeps picking up executions that other processes create, until Ctrl-C or SIGTERM.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Args;

use super::drive::{Driver, shutdown_signal};
use super::{CliError, Context};

#[derive(Debug, Args)]
pub struct DevArgs {}

pub async fn run(ctx: &Context, _args: DevArgs) -> Result<ExitCode, CliError> {
    let driver = Driver::start(ctx).await?;

    let dir = ctx.data_dir.display();
    crate::outln!("Bosun is running on data directory {dir}");
    crate::outln!("Start an execution from another terminal:");
    crate::outln!("  bosun automation start --data-dir {dir} --document Bosun-HelloWorld -p Name=operator");
    crate::outln!("  bosun automation list --data-dir {dir}");
    crate::outln!("Press Ctrl-C to stop.");
    let _ = std::io::stdout().flush();

    driver.run_until(shutdown_signal()).await;
    Ok(ExitCode::SUCCESS)
}
