//! bosun-test-plugin-hostile (being written).
