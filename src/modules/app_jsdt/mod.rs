//! The JavaScript routing engine: `cfgengine "jsdt"` runs the script named by
//! `modparam("app_jsdt", "load", ...)`.

/// `modparam("app_jsdt", ...)`.
#[derive(Clone, Debug, kemid_macros::ModParams)]
pub struct Params {
    /// The JavaScript routing script, relative to the configuration's folder.
    #[param(default = "")]
    pub load: String,
    #[param(inert)]
    pub loaddir: String,
    #[param(inert)]
    pub mode: i64,
}

/// `loadmodule "app_jsdt.so"`.
pub static MODULE: crate::module::Module<()> =
    crate::module::Module::new("app_jsdt", "the JavaScript routing engine");
