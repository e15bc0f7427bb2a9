//! JSON-RPC: kemid's control plane always speaks it on the control socket;
//! the module's own transports are accepted for compatibility.

/// `modparam("jsonrpcs", ...)`: accepted so that existing configurations
/// load; none of them changes what kemid does.
#[derive(Clone, Debug, kemid_macros::ModParams)]
pub struct Params {
    #[param(inert)]
    pub pretty_format: i64,
    #[param(inert)]
    pub transport: i64,
    #[param(inert)]
    pub fifo_name: String,
    #[param(inert)]
    pub dgram_socket: String,
}

/// `loadmodule "jsonrpcs.so"`.
pub static MODULE: crate::module::Module<()> =
    crate::module::Module::new("jsonrpcs", "JSON-RPC transports");
