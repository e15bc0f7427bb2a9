//! The modules: one folder each, named as its `KSR` namespace
//! (`KSR.tm.*` in `tm/`, functions on `KSR` itself in `core/`).
//!
//! Every function marked `#[kemi]` here is an export, its doc comment the
//! source of its generated stubs and docs. A module's root declares
//! `pub static MODULE` (its `loadmodule` name, state, control methods,
//! statistics, timers, dependencies) and its parameters as one
//! `#[derive(ModParams)]` struct: see `crate::module` and ARCHITECTURE.md.
//! `core`, `hdr` and `x` are parts of `KSR` with no `loadmodule`.
//!
//! Adding a module is adding its folder and its line below. Modules know
//! the message model and the services they use, never an engine; they use
//! each other only through a declared `api` (`usrloc::api`).

pub mod app_jsdt;
pub mod app_sqlang;
pub mod cfg_rpc;
pub mod core;
pub mod corex;
pub mod ctl;
pub mod hdr;
pub mod jsonrpcs;
pub mod kex;
pub mod kx;
pub mod maxfwd;
pub mod pv;
pub mod registrar;
pub mod rr;
pub mod sanity;
pub mod siputils;
pub mod sl;
pub mod textops;
pub mod textopsx;
pub mod tm;
pub mod tmx;
pub mod usrloc;
pub mod x;
pub mod xlog;
