//! The `bosun` command: parses the command line, sets up logging and runs one command.

mod api;
mod associations;
mod bench;
mod bench_cloud;
mod bench_events;
mod bench_fleet;
mod bench_inventory;
mod bench_packages;
mod bench_params;
#[cfg(feature = "bench-plugins")]
mod bench_plugins;
mod bench_schedules;
mod bench_sessions;
mod cli;
mod cloud;
mod events;
mod heap_trim;
mod http_serve;
mod malloc_arenas;
mod opsitem_action;
mod output;
mod packages;
mod params;
mod patches;
mod plugins;
mod run_command;
mod runbooks;
mod sessions;
mod signing;
mod tls;
mod webhook_sign;
mod windows;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    malloc_arenas::cap();
    let args = cli::Cli::parse();
    cli::init_logging(&args);
    match cli::run(args) {
        Ok(code) => code,
        Err(error) => {
            crate::errln!("error: {}", error.message);
            ExitCode::from(error.code)
        }
    }
}
