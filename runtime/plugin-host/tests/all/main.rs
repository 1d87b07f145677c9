//! The plugin host's integration tests, against real components built from
//! plugins/ and tests/plugins/: hostile plugins, capabilities, cloud calls, the artifact cache.

mod cache;
mod capabilities;
mod cloud;
mod collectors;
mod hostile;
mod support;
