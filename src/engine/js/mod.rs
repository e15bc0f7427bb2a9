//! The JavaScript engine: boa, with `KSR` as Kamailio's app_jsdt offers it.
//!
//! # Shape of `KSR`
//!
//! Every export visible with the configured modules is a native function
//! at `KSR.<name>` (core) or `KSR.<module>.<name>`; each non-core module
//! object is also the global `KSR_<module>`, as app_jsdt defines them. All
//! of them are one generic function ([`bind`]) closed over its
//! `&'static Export`: no per-function glue.
//!
//! # Calling conventions (Kamailio's, with one deliberate difference)
//!
//! - Arguments are coerced as Duktape does: a `str` parameter takes
//!   JavaScript's ToString of the value (`12`, `1.5`, `undefined`, `null`,
//!   `true`), an `int` parameter takes ToNumber truncated toward zero and
//!   saturated (NaN is 0, booleans 0/1, strings are parsed).
//! - Arguments beyond the declared ones are ignored, for every function.
//!   Kamailio instead refuses (returns `false` without running) a
//!   zero-parameter function given arguments; that quirk only hides typos,
//!   so it is not kept.
//! - Too few arguments is a script error (a `TypeError`), where Duktape
//!   throws too.
//! - Results: int and xval integers become numbers, xval strings strings,
//!   xval null `null`, bools booleans; a function returning nothing gives
//!   `false` when called without arguments and `0` otherwise (Kamailio's
//!   quirk, kept because scripts test it). A negative int is a truthy
//!   number: compare it (`< 0`), never test it as a boolean.
//! - KSR functions never throw for bad input; they log and return their
//!   refusal value. Only missing arguments and `KSR.x.exit()`/`drop()`
//!   throw.
//!
//! # exit and drop
//!
//! `KSR.x.exit()` and `KSR.x.drop()` record the request on the context;
//! the binding then throws the plain string `~~ksr~exit~~`. When that
//! string reaches the engine uncaught the callback ends as
//! [`Outcome::Exit`] (or [`Outcome::Drop`]), logging nothing; a script
//! that throws the string itself gets exit semantics too. Because it is an
//! ordinary exception, a `try`/`catch` around `KSR.x.exit()` catches it
//! and the callback goes on after the `catch`, exactly as in Kamailio.
//!
//! # Errors
//!
//! Any other exception that leaves a callback is logged once at ERROR
//! level (origin `js`) as `file:line:col: message` followed by the script's
//! call stack, and returned as [`Outcome::Failed`]; the interpreter keeps
//! serving. Positions come from boa's backtrace (see [`error`]).
//!
//! # Runaway scripts
//!
//! boa has no interrupt hook, so three limits stop a script that would
//! never end, each as an error the script's own `try`/`catch` cannot catch
//! (boa raises them as engine errors): loop iterations per function call
//! ([`EngineConfig::loop_iteration_limit`]), call depth
//! ([`EngineConfig::recursion_limit`]), and the time budget
//! ([`EngineConfig::budget`]), checked every 16th KSR call (reading the
//! clock costs as much as a cheap call), so a loop that keeps calling KSR
//! functions is stopped on time even below the iteration limit. Script code
//! that neither loops nor recurses nor calls KSR cannot run long, except
//! through builtins that loop natively (`Array.from({length: 1e9}, f)`):
//! boa offers no hook to stop those.
//!
//! # Threads
//!
//! A boa `Context` belongs to the thread that made it: a [`JsInterpreter`]
//! is created on its worker thread and never leaves it (it is not `Send`).
//! Promise jobs (`async` functions, `then`) run before the callback that
//! queued them returns; timers do not exist.

mod bind;
mod error;
mod locate;
mod scan;
#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Instant;

use boa_engine::job::{Job, JobExecutor};
use boa_engine::{Context, JsError, JsObject, JsResult, JsString, JsValue, Script, Source};

use super::{EngineConfig, Interpreter, Outcome, ScriptError, ScriptSource};
use crate::ctx::{Ctx, Unwind, WorkerLocal};
use crate::log;
use crate::registry;

pub use scan::scan;

use error::{Origin, Stop};

/// One script loaded in one boa context.
pub struct JsInterpreter {
    /// The script, for error reports.
    origin: Origin,
    config: EngineConfig,
    jobs: Rc<Microtasks>,
    /// `RefCell` because [`Interpreter::has_function`] takes `&self` and
    /// boa needs the context mutably even to read a property.
    cx: RefCell<Context>,
    /// Callback names already turned into JavaScript strings.
    names: Vec<(Box<str>, JsString)>,
    /// Calls a callback and catches the exit marker inside JavaScript; see
    /// [`EXIT_TRAMPOLINE`].
    trampoline: JsObject,
    /// What the trampoline returns when it caught the exit marker.
    exited: JsObject,
}

/// Every callback is called through this function. boa 0.22 leaves the
/// value stack of the inner frames behind when an exception crosses
/// JavaScript frames and leaves the outermost one uncaught (its
/// `handle_throw` returns before truncating the stack), so a script that
/// calls `KSR.x.exit()` inside a helper function would fill the stack
/// after about a thousand messages. A `try`/`finally` in a frame of our
/// own unwinds the inner frames through boa's exception handler, which
/// does restore the stack, then rethrows the very same exception, so it
/// keeps its backtrace.
const EXIT_TRAMPOLINE: &str = "(function (f, a) { let done = false; try { const r = f(a); done = true; return r; } finally { if (!done) { done = true; } } })";

impl JsInterpreter {
    /// Creates a context with `KSR`, evaluates the script's top level with
    /// no SIP message, and returns the interpreter; or the syntax or
    /// runtime error, with its position.
    pub fn load(
        source: &ScriptSource,
        config: &EngineConfig,
        worker: &mut WorkerLocal,
    ) -> Result<JsInterpreter, ScriptError> {
        let file = source.path.display().to_string();
        let fault = |message: String| ScriptError {
            file: file.clone(),
            line: 0,
            column: 0,
            message,
            stack: String::new(),
        };
        let jobs = Rc::new(Microtasks::default());
        let mut cx = Context::builder()
            .job_executor(jobs.clone())
            .build()
            .map_err(|e| fault(format!("cannot create a JavaScript context: {e}")))?;
        let limits = cx.runtime_limits_mut();
        limits.set_loop_iteration_limit(config.loop_iteration_limit);
        limits.set_recursion_limit(config.recursion_limit);
        bind::bind_ksr(&mut cx, &config.loaded_modules)
            .map_err(|e| fault(format!("cannot bind KSR: {e}")))?;

        let script = Script::parse(
            Source::from_bytes(&source.text).with_path(&source.path),
            None,
            &mut cx,
        )
        .map_err(|e| syntax_fault(source, &file, &e.to_string()))?;

        let origin = Origin {
            file,
            text: source.text.clone(),
            modules: bound_modules(&config.loaded_modules),
        };
        let mut ctx = Ctx::without_message(worker);
        let deadline = Instant::now().checked_add(config.budget);
        let entered = bind::enter(&mut ctx, deadline);
        let result = script
            .evaluate(&mut cx)
            .and_then(|_| run_microtasks(&jobs, &mut cx));
        let timed_out = entered.timed_out();
        drop(entered);
        match result {
            Ok(()) => {}
            // `KSR.x.exit()` at the top level ends it, as success.
            Err(e) if error::is_exit_marker(&e) => {}
            Err(e) => {
                let stop = if timed_out {
                    Stop::Budget(config)
                } else {
                    Stop::Engine(config)
                };
                jobs.clear();
                return Err(error::runtime_error(&origin, &e, stop, &mut cx));
            }
        }
        let trampoline = cx
            .eval(boa_engine::Source::from_bytes(EXIT_TRAMPOLINE))
            .ok()
            .and_then(|v| v.as_callable())
            .ok_or_else(|| ScriptError {
                file: origin.file.clone(),
                line: 0,
                column: 0,
                message: "internal: the callback trampoline did not compile".into(),
                stack: String::new(),
            })?;
        let exited = JsObject::with_null_proto();
        Ok(JsInterpreter {
            origin,
            config: config.clone(),
            jobs,
            cx: RefCell::new(cx),
            names: Vec::new(),
            trampoline,
            exited,
        })
    }

    /// The callback name as a JavaScript string, made once per name.
    fn name_key(&mut self, name: &str) -> JsString {
        if let Some((_, key)) = self.names.iter().find(|(n, _)| &**n == name) {
            return key.clone();
        }
        let key = JsString::from(name);
        self.names.push((name.into(), key.clone()));
        key
    }
}

/// The sub-modules `KSR` has with these Kamailio modules loaded.
fn bound_modules(loaded: &[String]) -> Vec<&'static str> {
    let loaded: Vec<&str> = loaded.iter().map(String::as_str).collect();
    let mut modules: Vec<&'static str> = registry::visible(&loaded)
        .map(|e| e.module)
        .filter(|m| !m.is_empty())
        .collect();
    modules.dedup();
    modules
}

/// The load error for a script boa could not parse: re-parsed with the
/// parser alone, whose error has a structured position.
fn syntax_fault(source: &ScriptSource, file: &str, shown: &str) -> ScriptError {
    let (line, column, message) = match scan(source) {
        Err(d) => (d.line, d.column, d.message),
        // The parsers agree, so this is not expected; keep boa's text.
        Ok(_) => (0, 0, shown.to_owned()),
    };
    ScriptError {
        file: file.to_owned(),
        line,
        column,
        message,
        stack: String::new(),
    }
}

impl Interpreter for JsInterpreter {
    fn has_function(&self, name: &str) -> bool {
        let Ok(mut cx) = self.cx.try_borrow_mut() else {
            return false;
        };
        let cx = &mut *cx;
        cx.global_object()
            .get(JsString::from(name), cx)
            .is_ok_and(|v| v.is_callable())
    }

    fn call(&mut self, ctx: &mut Ctx<'_>, name: &str, arg: Option<&str>) -> Outcome {
        let key = self.name_key(name);
        let cx = self.cx.get_mut();
        let function = match cx.global_object().get(key, cx) {
            Ok(v) => v.as_callable(),
            Err(_) => None,
        };
        // Optional callbacks may be absent; the caller decides what that
        // means.
        let Some(function) = function else {
            return Outcome::Missing;
        };
        let arg = arg.map_or_else(JsValue::undefined, |a| JsValue::from(JsString::from(a)));
        let deadline = Instant::now().checked_add(self.config.budget);
        let entered = bind::enter(ctx, deadline);
        let args = [
            JsValue::from(function),
            arg,
            JsValue::from(JsString::from(crate::engine::EXIT_MARKER)),
            JsValue::from(self.exited.clone()),
        ];
        let exited = &self.exited;
        let mut result = self
            .trampoline
            .call(&JsValue::undefined(), &args, cx)
            .and_then(|v| match v.as_object() {
                Some(o) if JsObject::equals(&o, exited) => Err(JsError::from_opaque(
                    JsValue::from(JsString::from(crate::engine::EXIT_MARKER)),
                )),
                _ => Ok(()),
            });
        if !self.jobs.is_empty() {
            let jobs = run_microtasks(&self.jobs, cx);
            if result.is_ok() {
                result = jobs;
            }
        }
        let unwind = entered.unwind();
        let timed_out = entered.timed_out();
        drop(entered);
        match result {
            Ok(()) => Outcome::Returned,
            Err(e) if error::is_exit_marker(&e) => match unwind {
                Some(Unwind::Drop) => Outcome::Drop,
                _ => Outcome::Exit,
            },
            Err(e) => {
                self.jobs.clear();
                let stop = if timed_out {
                    Stop::Budget(&self.config)
                } else {
                    Stop::Engine(&self.config)
                };
                let fault = error::runtime_error(&self.origin, &e, stop, cx);
                log::error("js", format_args!("{fault}"));
                Outcome::Failed(fault)
            }
        }
    }
}

impl Drop for JsInterpreter {
    fn drop(&mut self) {
        // Queued jobs hold script objects; release them while the context
        // is still alive.
        self.jobs.clear();
    }
}

/// Runs the queued promise jobs until none is left.
fn run_microtasks(jobs: &Rc<Microtasks>, cx: &mut Context) -> JsResult<()> {
    jobs.clone().run_jobs(cx)
}

/// The job queue: promise reactions only. kemid offers no timers, and a
/// callback's promise jobs run before it returns, so nothing accumulates
/// between messages.
#[derive(Default)]
struct Microtasks {
    queue: RefCell<VecDeque<Job>>,
}

impl Microtasks {
    fn is_empty(&self) -> bool {
        self.queue.borrow().is_empty()
    }

    fn clear(&self) {
        // Dropped outside the borrow: a job's drop cannot re-enter.
        let jobs = std::mem::take(&mut *self.queue.borrow_mut());
        drop(jobs);
    }
}

impl JobExecutor for Microtasks {
    fn enqueue_job(self: Rc<Self>, job: Job, _cx: &mut Context) {
        match job {
            Job::PromiseJob(_) | Job::GenericJob(_) => self.queue.borrow_mut().push_back(job),
            // Timers and host futures have no place in a routing callback.
            _ => {}
        }
    }

    fn run_jobs(self: Rc<Self>, cx: &mut Context) -> JsResult<()> {
        loop {
            let next = self.queue.borrow_mut().pop_front();
            let result = match next {
                None => return Ok(()),
                Some(Job::PromiseJob(job)) => job.call(cx),
                Some(Job::GenericJob(job)) => job.call(cx),
                Some(_) => continue,
            };
            if let Err(e) = result {
                self.clear();
                return Err(e);
            }
        }
    }
}
