//! `bosun dev`: Bosun on one machine. Takes the engine lock of the data
//! directory, loads the built-ins, resumes unfinished executions, keeps picking
//! up executions that other processes create, and serves the HTTP API with an
//! admin token written to `<data-dir>/env`, until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Args;

use super::dev_env::{dev_token, env_path, export_lines, write_env};
use super::drive::Driver;
use super::server::{Listen, serve};
use super::{CliError, Context};

#[derive(Debug, Args)]
pub struct DevArgs {
    /// The address the HTTP API listens on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8470", value_name = "ADDR")]
    pub listen: SocketAddr,
}

pub async fn run(ctx: &Context, args: DevArgs) -> Result<ExitCode, CliError> {
    let driver = Driver::start(ctx).await?;
    let token = dev_token(&driver.store, &ctx.data_dir)?;
    let data_dir = ctx.data_dir.clone();
    serve(driver, Listen { address: args.listen, tls: None }, crate::api::ApiSettings::default(), move |address| {
        let lines = export_lines(address, &token);
        write_env(&data_dir, &lines)?;
        let dir = data_dir.display();
        crate::outln!("Bosun is running on data directory {dir}, with its HTTP API on http://{address}");
        crate::outln!("For the API (also in {}):", env_path(&data_dir).display());
        for line in lines.lines() {
            crate::outln!("  {line}");
        }
        crate::outln!("Start an execution from another terminal:");
        crate::outln!("  bosun automation start --data-dir {dir} --document Bosun-HelloWorld -p Name=operator");
        crate::outln!("  bosun automation list --data-dir {dir}");
        crate::outln!("Press Ctrl-C to stop.");
        Ok(())
    })
    .await
}
