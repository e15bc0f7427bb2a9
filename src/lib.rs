//! kemid: a SIP routing server scripted in JavaScript or Squirrel through
//! Kamailio's KEMI API (`KSR.<module>.<function>`).
//!
//! See `ARCHITECTURE.md` for the code map and the dependency rules.

pub mod config;
pub mod ctx;
pub mod engine;
pub mod gen;
pub mod log;
pub mod module;
pub mod modules;
pub mod proxy;
pub mod pv;
pub mod registry;
pub mod rpc;
pub mod server;
pub mod sip;
pub mod tm;
pub mod transport;
