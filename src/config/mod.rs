//! The configuration: the start-up part of a kamailio.cfg, evaluated once.
//!
//! [`preprocess`] resolves directives and includes; [`parse`](parse) reads the
//! statements (global parameters, `loadmodule`, `modparam`, `cfgengine`)
//! into a plain [`Config`]. Every fault is a [`ConfigError`] naming the
//! user's file and line. Native routing blocks are refused: kemid runs KEMI
//! scripts only.

mod core_params;
pub mod preprocess;
mod statements;

use std::fmt;
use std::path::{Path, PathBuf};

pub use core_params::{CoreParams, Listen, Proto};

use crate::engine::Lang;

/// A configuration fault: `file:line: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based; 0 when the fault is about the whole file.
    pub line: u32,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// A value given to a parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CfgValue {
    Int(i64),
    Str(String),
}

impl fmt::Display for CfgValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CfgValue::Int(i) => write!(f, "{i}"),
            CfgValue::Str(s) => write!(f, "{s:?}"),
        }
    }
}

/// Where something was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct At {
    pub file: PathBuf,
    pub line: u32,
}

/// One `modparam("module", "name", value)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModParam {
    pub module: String,
    pub name: String,
    pub value: CfgValue,
    pub at: At,
}

/// The KEMI callback names the core calls (the `kemi.*` parameters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KemiCallbacks {
    /// `kemi.reply_route_callback`; `None` when set to "none".
    pub reply_route: Option<String>,
    /// `kemi.onsend_route_callback`; `None` when set to "none".
    pub onsend_route: Option<String>,
    /// `kemi.event_route_callback`.
    pub event_route: Option<String>,
}

impl Default for KemiCallbacks {
    fn default() -> KemiCallbacks {
        KemiCallbacks {
            reply_route: Some(crate::engine::REPLY_ROUTE.into()),
            onsend_route: Some(crate::engine::ONSEND_ROUTE.into()),
            event_route: None,
        }
    }
}

/// The whole configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// The main file; relative paths resolve against its folder.
    pub file: PathBuf,
    pub core: CoreParams,
    /// The Kamailio module names loaded, in order.
    pub modules: Vec<String>,
    pub modparams: Vec<ModParam>,
    /// The routing engine (`cfgengine`).
    pub engine: Lang,
    /// The routing script (`modparam("app_jsdt"|"app_sqlang", "load", ...)`),
    /// resolved against the configuration's folder.
    pub script: PathBuf,
    pub kemi: KemiCallbacks,
    /// Parameters accepted for compatibility but without effect, to log at
    /// start-up: `file:line: text`.
    pub notices: Vec<String>,
}

impl Config {
    /// Reads, preprocesses and parses a configuration file; `defines` are
    /// the `-A NAME[=value]` of the command line.
    pub fn load(path: &Path, defines: &[(String, String)]) -> Result<Config, ConfigError> {
        let pre = preprocess::preprocess(path, defines)?;
        statements::parse(path, &pre)
    }

    /// Parses configuration text reported as `path`.
    pub fn from_text(
        path: &Path,
        text: &str,
        defines: &[(String, String)],
    ) -> Result<Config, ConfigError> {
        let pre = preprocess::preprocess_text(path, text, defines)?;
        statements::parse(path, &pre)
    }

    /// The value of a module parameter, the last one set winning.
    pub fn modparam(&self, module: &str, name: &str) -> Option<&CfgValue> {
        self.modparams
            .iter()
            .rev()
            .find(|p| p.module == module && p.name.eq_ignore_ascii_case(name))
            .map(|p| &p.value)
    }

    /// Whether a module was loaded.
    pub fn has_module(&self, name: &str) -> bool {
        self.modules.iter().any(|m| m == name)
    }
}

/// Parses `-A NAME` or `-A NAME=value`.
pub fn parse_define(arg: &str) -> Result<(String, String), String> {
    let (name, value) = arg.split_once('=').unwrap_or((arg, ""));
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "-A {arg}: a define is NAME or NAME=value, NAME of letters, digits and _"
        ));
    }
    Ok((name.to_owned(), value.to_owned()))
}
