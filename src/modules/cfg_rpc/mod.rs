//! Runtime configuration over RPC (`cfg.get`, `cfg.set`, `cfg.list`), served
//! by kemid's control plane.

/// `loadmodule "cfg_rpc.so"`.
pub static MODULE: crate::module::Module<()> =
    crate::module::Module::new("cfg_rpc", "runtime configuration over RPC");
