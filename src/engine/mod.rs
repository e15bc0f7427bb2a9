//! The script engines: JavaScript ([`js`], boa) and Squirrel ([`sqlang`]).
//!
//! An engine knows the registry and [`Ctx`], nothing else: it binds every
//! visible export as `KSR.<fn>` / `KSR.<module>.<fn>`, runs the script's top
//! level once, and calls named callbacks with a context. Interpreters are
//! not `Send`: each worker thread creates its own and keeps it for life.
//!
//! [`ScriptHost`] is what a worker holds: the current interpreter and its
//! version, and the reload that swaps in a new one only once it loaded.

pub mod check;
pub mod js;
pub mod sqlang;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::ctx::{Ctx, WorkerLocal};

/// The callback every script must define.
pub const REQUEST_ROUTE: &str = "ksr_request_route";
/// Called for every received reply, when defined.
pub const REPLY_ROUTE: &str = "ksr_reply_route";
/// Called before a request is sent, when defined.
pub const ONSEND_ROUTE: &str = "ksr_onsend_route";

/// The marker `KSR.x.exit()` and `KSR.x.drop()` throw, as in Kamailio.
pub const EXIT_MARKER: &str = "~~ksr~exit~~";

/// A script language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// JavaScript (`cfgengine "jsdt"`).
    Js,
    /// Squirrel (`cfgengine "sqlang"`).
    Squirrel,
}

impl Lang {
    /// By file extension: `.js`; `.nut` or `.sq`.
    pub fn from_path(path: &Path) -> Option<Lang> {
        match path.extension()?.to_str()? {
            "js" | "mjs" => Some(Lang::Js),
            "nut" | "sq" => Some(Lang::Squirrel),
            _ => None,
        }
    }

    /// By `cfgengine` name (case-insensitive, as in Kamailio).
    pub fn from_cfgengine(name: &str) -> Option<Lang> {
        if name.eq_ignore_ascii_case("jsdt") {
            Some(Lang::Js)
        } else if name.eq_ignore_ascii_case("sqlang") {
            Some(Lang::Squirrel)
        } else {
            None
        }
    }

    /// The Kamailio module that hosts the engine (for RPC method names).
    pub fn module_name(self) -> &'static str {
        match self {
            Lang::Js => "app_jsdt",
            Lang::Squirrel => "app_sqlang",
        }
    }
}

/// A script's text and the name it is reported under.
#[derive(Clone, Debug)]
pub struct ScriptSource {
    /// Shown in errors: the file as the user named it.
    pub path: PathBuf,
    pub text: String,
}

impl ScriptSource {
    pub fn read(path: &Path) -> Result<ScriptSource, ScriptError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(ScriptSource {
                path: path.to_owned(),
                text,
            }),
            Err(e) => Err(ScriptError {
                file: path.display().to_string(),
                line: 0,
                column: 0,
                message: format!("cannot read the script: {e}"),
                stack: String::new(),
            }),
        }
    }
}

/// How an engine is set up.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// The Kamailio module names loaded by the configuration: only their
    /// exports (and core, `pv`, `hdr`, `x`) appear under `KSR`.
    pub loaded_modules: Vec<String>,
    /// How long one callback (or the top level) may run before it is
    /// stopped as a runaway script.
    pub budget: Duration,
    /// How many loop iterations one function call may run before it is
    /// stopped as a runaway script (the JavaScript engine counts them; it
    /// has no clock inside the interpreter loop).
    pub loop_iteration_limit: u64,
    /// How deeply script functions may call each other.
    pub recursion_limit: usize,
}

impl Default for EngineConfig {
    fn default() -> EngineConfig {
        EngineConfig {
            loaded_modules: Vec::new(),
            budget: Duration::from_millis(100),
            loop_iteration_limit: 5_000_000,
            recursion_limit: 400,
        }
    }
}

/// A script fault a person can act on: where, what, and the call stack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptError {
    pub file: String,
    /// 1-based; 0 when unknown.
    pub line: u32,
    /// 1-based; 0 when unknown.
    pub column: u32,
    pub message: String,
    /// The script's call stack, one frame a line, when there is one.
    pub stack: String,
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (0, _) => write!(f, "{}: {}", self.file, self.message)?,
            (l, 0) => write!(f, "{}:{}: {}", self.file, l, self.message)?,
            (l, c) => write!(f, "{}:{}:{}: {}", self.file, l, c, self.message)?,
        }
        if !self.stack.is_empty() {
            write!(f, "\n{}", self.stack)?;
        }
        Ok(())
    }
}

impl std::error::Error for ScriptError {}

/// How a callback ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It returned.
    Returned,
    /// `KSR.x.exit()` (or a thrown exit marker) ended it.
    Exit,
    /// `KSR.x.drop()` ended it.
    Drop,
    /// The script defines no such function (not an error for optional
    /// callbacks).
    Missing,
    /// A script error or a runaway script ended it; it was logged.
    Failed(ScriptError),
}

/// One loaded script in one interpreter, owned by one thread.
pub trait Interpreter {
    /// Whether the script defines a global function of that name.
    fn has_function(&self, name: &str) -> bool;

    /// Calls a global function, with the event name as its only argument
    /// for event callbacks. Errors are logged (file, line, stack) and
    /// returned; the interpreter stays usable.
    fn call(&mut self, ctx: &mut Ctx<'_>, name: &str, arg: Option<&str>) -> Outcome;
}

/// Compiles `source` in a fresh interpreter of `lang` and runs its top
/// level with no message: what both start-up and reload do. Refused when
/// the script defines no `ksr_request_route`.
pub fn load(
    lang: Lang,
    source: &ScriptSource,
    config: &EngineConfig,
    worker: &mut WorkerLocal,
) -> Result<Box<dyn Interpreter>, ScriptError> {
    let interp: Box<dyn Interpreter> = match lang {
        Lang::Js => Box::new(js::JsInterpreter::load(source, config, worker)?),
        Lang::Squirrel => Box::new(sqlang::SqInterpreter::load(source, config, worker)?),
    };
    if !interp.has_function(REQUEST_ROUTE) {
        return Err(ScriptError {
            file: source.path.display().to_string(),
            line: 0,
            column: 0,
            message: format!(
                "the script defines no `{REQUEST_ROUTE}` function; every routing script needs one"
            ),
            stack: String::new(),
        });
    }
    Ok(interp)
}

/// A worker's script: the interpreter in use and its version.
pub struct ScriptHost {
    lang: Lang,
    config: EngineConfig,
    current: Box<dyn Interpreter>,
    version: u64,
}

impl ScriptHost {
    /// Loads the first version (version 1).
    pub fn new(
        lang: Lang,
        source: &ScriptSource,
        config: EngineConfig,
        worker: &mut WorkerLocal,
    ) -> Result<ScriptHost, ScriptError> {
        let current = load(lang, source, &config, worker)?;
        Ok(ScriptHost {
            lang,
            config,
            current,
            version: 1,
        })
    }

    pub fn lang(&self) -> Lang {
        self.lang
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    /// Records which published version this host runs (or gave up on).
    pub fn set_version(&mut self, version: u64) {
        self.version = version;
    }

    /// Loads `source` in a fresh interpreter; only if that succeeds does
    /// this host switch to it (taking `version`). On failure the old
    /// interpreter keeps serving and the error is returned.
    pub fn reload(
        &mut self,
        source: &ScriptSource,
        version: u64,
        worker: &mut WorkerLocal,
    ) -> Result<(), ScriptError> {
        let next = load(self.lang, source, &self.config, worker)?;
        self.current = next;
        self.version = version;
        Ok(())
    }

    pub fn interpreter(&mut self) -> &mut dyn Interpreter {
        &mut *self.current
    }

    /// Calls a callback, see [`Interpreter::call`].
    pub fn call(&mut self, ctx: &mut Ctx<'_>, name: &str, arg: Option<&str>) -> Outcome {
        self.current.call(ctx, name, arg)
    }
}
