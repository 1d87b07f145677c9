//! bosun-builtin-plugins (being written).
