//! The Squirrel routing engine: `cfgengine "sqlang"` runs the script named by
//! `modparam("app_sqlang", "load", ...)`.

/// `modparam("app_sqlang", ...)`.
#[derive(Clone, Debug, kemid_macros::ModParams)]
pub struct Params {
    /// The Squirrel routing script, relative to the configuration's folder.
    #[param(default = "")]
    pub load: String,
}

/// `loadmodule "app_sqlang.so"`.
pub static MODULE: crate::module::Module<()> =
    crate::module::Module::new("app_sqlang", "the Squirrel routing engine");
