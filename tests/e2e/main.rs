//! End-to-end tests: real `bosun` processes on a temporary data directory.

mod agent_plugins;
mod agents;
mod approval;
mod associations;
mod cloud;
mod command_webhook;
mod doc;
mod durability;
mod events;
mod fleet;
mod inventory;
mod local;
mod module_docs;
mod packages;
mod packages_s3;
mod params;
mod patch;
mod plugins;
mod read_only;
mod run_command;
mod server;
mod sessions;
mod support;
mod tls;
mod windows;
