//! The control socket. kemid serves JSON-RPC on it (`kemid rpc` is its
//! client); `modparam("ctl", "binrpc", "unix:PATH")` names it.

use crate::config::CfgValue;

/// `modparam("ctl", ...)`: accepted so that existing configurations
/// load; none of them changes what kemid does.
#[derive(Clone, Debug, kemid_macros::ModParams)]
pub struct Params {
    #[param(inert)]
    pub mode: CfgValue,
    #[param(inert)]
    pub user: CfgValue,
    #[param(inert)]
    pub group: CfgValue,
    #[param(inert)]
    pub fifo: String,
    #[param(inert)]
    pub binrpc_buffer_size: i64,
}

/// `loadmodule "ctl.so"`.
pub static MODULE: crate::module::Module<()> =
    crate::module::Module::new("ctl", "the control socket");
