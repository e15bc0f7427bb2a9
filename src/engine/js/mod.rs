//! The JavaScript engine (boa): being written.

use super::check::{Diagnostic, ScriptScan};
use super::{EngineConfig, Interpreter, Outcome, ScriptError, ScriptSource};
use crate::ctx::{Ctx, WorkerLocal};

pub struct JsInterpreter;

impl JsInterpreter {
    pub fn load(
        source: &ScriptSource,
        _config: &EngineConfig,
        _worker: &mut WorkerLocal,
    ) -> Result<JsInterpreter, ScriptError> {
        Err(ScriptError {
            file: source.path.display().to_string(),
            line: 0,
            column: 0,
            message: "the JavaScript engine is not built yet".into(),
            stack: String::new(),
        })
    }
}

impl Interpreter for JsInterpreter {
    fn has_function(&self, _name: &str) -> bool {
        false
    }
    fn call(&mut self, _ctx: &mut Ctx<'_>, _name: &str, _arg: Option<&str>) -> Outcome {
        Outcome::Missing
    }
}

pub fn scan(source: &ScriptSource) -> Result<ScriptScan, Diagnostic> {
    Err(Diagnostic {
        file: source.path.display().to_string(),
        line: 0,
        column: 0,
        message: "not built yet".into(),
    })
}
