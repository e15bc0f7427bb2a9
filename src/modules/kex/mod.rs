//! Core extensions that are part of kemid's core.

/// `loadmodule "kex.so"`.
pub static MODULE: crate::module::Module<()> =
    crate::module::Module::new("kex", "core extensions, part of kemid's core");
