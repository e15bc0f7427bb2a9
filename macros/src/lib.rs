//! The `#[kemi]` attribute that marks a Rust function as a script export.
//!
//! The attribute does nothing at compile time: it hands the function back
//! unchanged. Its meaning lives in kemid's `build.rs`, which parses
//! `src/modules/**` with `syn`, finds every function carrying `#[kemi]`,
//! validates it against KEMI's rules and generates the registry the script
//! engines bind to. A proc-macro (rather than a `cfg_attr` trick) keeps the
//! marker readable and lets rustc reject typos such as `#[kemy]`.
//!
//! Recognised arguments (all optional), read by the build step:
//! - `name = "..."`: the script name when it differs from the Rust name;
//! - `deprecated = "..."`: the export is deprecated, with the advice given;
//! - `toplevel`: may run outside a SIP message (logging, `$var`);
//! - `xval = "str, null"`: narrows the kinds an xval return can take;
//! - `diverges`: the call never returns to the script (`KSR.x.exit`);
//! - `rest = "name"`: extra string arguments are accepted (`KSR.x.modf`).

use proc_macro::TokenStream;

/// Marks a function as a `KSR` export. See the crate documentation.
#[proc_macro_attribute]
pub fn kemi(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}

/// Marks a struct as a module's parameters: one field per `modparam`,
/// each with a doc comment and `#[param(...)]` (`default = ...`,
/// `range = "LOW..=HIGH"`, `one_of = "0, 1, 2"`, `name = "..."`, `inert`).
///
/// Like `#[kemi]`, it generates nothing here: kemid's build step reads the
/// struct and generates its reader, the checks of the cfg reader and the
/// docs. The derive only lets `#[param]` stand on the fields.
#[proc_macro_derive(ModParams, attributes(param))]
pub fn mod_params(_item: TokenStream) -> TokenStream {
    TokenStream::new()
}
