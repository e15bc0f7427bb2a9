//! The script API: one file or folder per `KSR` sub-module, named as the
//! module (`KSR.tm.*` in `tm`, functions on `KSR` itself in `core`).
//!
//! Every function marked `#[kemi]` here is an export. `build.rs` reads these
//! files, so the doc comment of each export is the source of its generated
//! stubs and docs. A module declares `KAMAILIO_MODULE` when it is visible
//! only after `loadmodule` of that name; modules without it (core, `pv`,
//! `hdr`, `x`) are always present.
//!
//! Modules know the message model and the services they use, never an
//! engine.

pub mod core;
pub mod corex;
pub mod hdr;
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
pub mod x;
pub mod xlog;
