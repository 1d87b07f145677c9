//! bosun-plugin-build (being written).
