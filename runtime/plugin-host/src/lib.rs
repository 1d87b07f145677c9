//! The sandboxed WebAssembly plugin host, shared by the control plane and the
//! node agent.
