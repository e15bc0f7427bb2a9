//! The Kamailio modules kemid accepts in `loadmodule`, with the parameters
//! each accepts in `modparam`.
//!
//! A module is here when kemid provides its script functions or does its
//! job in the core (`ctl`, `jsonrpcs`, `kex`, `corex`, ...). Loading any
//! other module is an error that lists these names, so an operator learns at
//! start-up, not on the first call, what kemid lacks.

/// The type a module parameter takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    Int,
    Str,
    /// An integer or a string (Kamailio accepts both for some params).
    Any,
}

/// One module parameter.
#[derive(Debug)]
pub struct ParamSpec {
    pub name: &'static str,
    pub kind: ParamKind,
    /// Whether kemid acts on it; an accepted but inert parameter is logged
    /// as such at start-up.
    pub effective: bool,
    pub doc: &'static str,
}

/// One module kemid knows.
#[derive(Debug)]
pub struct ModuleSpec {
    pub name: &'static str,
    pub doc: &'static str,
    pub params: &'static [ParamSpec],
}

const fn p(name: &'static str, kind: ParamKind, doc: &'static str) -> ParamSpec {
    ParamSpec {
        name,
        kind,
        effective: true,
        doc,
    }
}

/// A parameter accepted so that existing configurations load, with no
/// effect in kemid.
const fn inert(name: &'static str, kind: ParamKind) -> ParamSpec {
    ParamSpec {
        name,
        kind,
        effective: false,
        doc: "accepted for compatibility; no effect in kemid",
    }
}

use ParamKind::{Any, Int, Str};

/// Every module kemid accepts.
pub static MODULES: &[ModuleSpec] = &[
    ModuleSpec {
        name: "app_jsdt",
        doc: "the JavaScript routing engine (cfgengine \"jsdt\")",
        params: &[
            p("load", Str, "the JavaScript routing script"),
            inert("loaddir", Str),
            inert("mode", Int),
        ],
    },
    ModuleSpec {
        name: "app_sqlang",
        doc: "the Squirrel routing engine (cfgengine \"sqlang\")",
        params: &[p("load", Str, "the Squirrel routing script")],
    },
    ModuleSpec {
        name: "ctl",
        doc: "the control socket (kemid serves JSON-RPC on it)",
        params: &[
            p("binrpc", Str, "the control socket, unix:PATH"),
            inert("mode", Any),
            inert("user", Any),
            inert("group", Any),
            inert("fifo", Str),
            inert("binrpc_buffer_size", Int),
        ],
    },
    ModuleSpec {
        name: "jsonrpcs",
        doc: "JSON-RPC transports (kemid's control plane)",
        params: &[
            inert("pretty_format", Int),
            inert("transport", Int),
            inert("fifo_name", Str),
            inert("dgram_socket", Str),
        ],
    },
    ModuleSpec {
        name: "kex",
        doc: "core extensions, part of kemid's core",
        params: &[],
    },
    ModuleSpec {
        name: "corex",
        doc: "core extensions, part of kemid's core",
        params: &[inert("alias_subdomains", Str)],
    },
    ModuleSpec {
        name: "pv",
        doc: "pseudo-variables, part of kemid's core",
        params: &[inert("shvset", Str), inert("varset", Str)],
    },
    ModuleSpec {
        name: "kemix",
        doc: "KEMI extensions (KSR.kx)",
        params: &[],
    },
    ModuleSpec {
        name: "xlog",
        doc: "formatted logging (KSR.xlog)",
        params: &[
            inert("buf_size", Int),
            inert("force_color", Int),
            inert("prefix", Str),
        ],
    },
    ModuleSpec {
        name: "sl",
        doc: "stateless replies (KSR.sl)",
        params: &[
            inert("default_code", Int),
            inert("default_reason", Str),
            inert("bind_tm", Int),
        ],
    },
    ModuleSpec {
        name: "cfg_rpc",
        doc: "runtime configuration over RPC, part of kemid's control plane",
        params: &[],
    },
];

/// Finds a module by its `loadmodule` name.
pub fn find(name: &str) -> Option<&'static ModuleSpec> {
    MODULES.iter().find(|m| m.name == name)
}

/// The names kemid accepts, for error messages.
#[cfg(test)]
mod tests {
    #[test]
    fn every_script_module_can_be_loaded() {
        for m in crate::registry::modules() {
            if !m.provided_by.is_empty() {
                assert!(
                    super::find(m.provided_by).is_some(),
                    "KSR.{} needs loadmodule \"{}\" in the catalog",
                    m.name,
                    m.provided_by
                );
            }
        }
    }
}

/// The names kemid accepts, for error messages.
pub fn names() -> String {
    let mut names: Vec<&str> = MODULES.iter().map(|m| m.name).collect();
    names.sort_unstable();
    names.join(", ")
}
