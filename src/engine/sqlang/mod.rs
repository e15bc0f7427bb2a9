//! The Squirrel engine (`cfgengine "sqlang"`): Kamailio's app_sqlang
//! semantics on the Squirrel 3.1 VM of `squirrel-sys`.
//!
//! One [`SqInterpreter`] owns one VM, opened on the worker thread that uses
//! it and closed when dropped; it is not `Send`. The VM gets the standard
//! libraries app_sqlang registers (blob, io, system, math, string), the
//! `KSR` table ([`bind`]), and three handlers of ours ([`host`]): `print`
//! and `error` output go to the log, compile errors and runtime errors are
//! captured with their position instead of being printed by sqstdaux.
//!
//! How a top-level call (the script body at load, or a callback) ends:
//!
//! * **Returned** when `sq_call` succeeds.
//! * **Exit/Drop** when it fails while the interpreter's exit flag is set:
//!   `KSR.x.exit()`/`drop()` set the flag and throw the marker
//!   `~~ksr~exit~~`, as app_sqlang does. The flag, not the error text, says
//!   "exit"; a `try/catch` around the call swallows the exit (the caught
//!   value is the marker) and the flag is then cleared by the next error
//!   raised or the next call, so a later real error is reported as one.
//! * **Failed** otherwise, with the file and line of the innermost script
//!   frame and the call stack, captured by the error handler while the
//!   frames still existed; logged once at ERROR. Also when the run exceeds
//!   its time budget or its call depth: the interrupt guard of
//!   `squirrel-sys` is armed around every top-level call, its callback
//!   checks the deadline and the depth, and a tripped guard cannot be
//!   caught by the script. The depth matters as much as the time: Squirrel
//!   grows its call stack without bound, and an endless recursion reaches
//!   hundreds of thousands of frames (well over 100 MB) within 100 ms,
//!   memory the VM keeps afterwards.
//!
//! The VM stays usable after any of these: the stack top is restored after
//! every call and the guard disarmed.
//!
//! One deliberate difference from app_sqlang: calling a callback the script
//! does not define is [`Outcome::Missing`] without a log line. app_sqlang
//! logs "failed to find symbol" each time, so a script without
//! `ksr_reply_route` logs an error for every reply; whether a missing
//! callback is an error is the caller's decision (`ksr_request_route` is
//! required at load already).

mod bind;
mod host;
mod scan;
#[cfg(test)]
mod tests;

use std::cell::Cell;
use std::ffi::CString;
use std::sync::Once;
use std::time::{Duration, Instant};

use squirrel_sys::*;

use self::bind::push_str;
use self::host::{CompileError, Failure, Host};
use super::{EngineConfig, Interpreter, Outcome, ScriptError, ScriptSource};
use crate::ctx::{Ctx, Unwind, WorkerLocal};
use crate::log;

pub use self::scan::scan;

/// Initial VM stack size, as app_sqlang opens its VMs.
const STACK_SIZE: SQInteger = 1024;

/// VM instructions between two guard checks: a few microseconds of script,
/// so a runaway script stops close to its budget (and a recursion a few
/// hundred frames past its limit at most), while the check stays far below
/// 1% of the run time.
const GUARD_CHECK_INTERVAL: SQInteger = 4096;

/// What the interrupt guard's callback checks during one top-level call.
struct Limits {
    /// `None` when the budget is too large to express: no time limit.
    deadline: Option<Instant>,
    /// `sq_stackinfos` level that must not exist: the call depth limit.
    max_depth: SQInteger,
    too_deep: Cell<bool>,
}

/// One loaded Squirrel script.
pub struct SqInterpreter {
    /// The callback names called so far, as strings of this VM (one
    /// reference held each): pushing a Rust string would hash and look it
    /// up in the VM's string table on every call. Declared before `vm` so
    /// the references are released while the VM is still open.
    names: NameCache,
    vm: Vm,
    /// The script as named in errors.
    file: String,
    budget: Duration,
    max_depth: usize,
}

/// Callback names interned in a VM, each with a reference held.
struct NameCache {
    v: HSQUIRRELVM,
    names: Vec<(Box<str>, HSQOBJECT)>,
}

/// Callback names are few (the fixed callbacks and the routes a script
/// names); past this many the cache stops growing and names are pushed
/// each time.
const NAME_CACHE_MAX: usize = 64;

impl NameCache {
    /// Pushes `name` as a VM string.
    ///
    /// # Safety
    /// The VM is live; the caller restores the stack top.
    unsafe fn push(&mut self, name: &str) {
        let v = self.v;
        if let Some((_, obj)) = self.names.iter().find(|(n, _)| &**n == name) {
            // SAFETY: the object is a string this cache holds a reference
            // to, so it is alive.
            unsafe { sq_pushobject(v, *obj) };
            return;
        }
        // SAFETY: pushes the string; on success a reference is taken so it
        // outlives the stack slot, released in Drop.
        unsafe {
            push_str(v, name);
            if self.names.len() < NAME_CACHE_MAX {
                let mut obj = HSQOBJECT::default();
                if SQ_SUCCEEDED(sq_getstackobj(v, -1, &mut obj)) {
                    sq_addref(v, &mut obj);
                    self.names.push((name.into(), obj));
                }
            }
        }
    }
}

impl Drop for NameCache {
    fn drop(&mut self) {
        for (_, obj) in &mut self.names {
            // SAFETY: each reference was taken once in `push`, on this VM,
            // which is still open (the cache is dropped before the `Vm`).
            unsafe { sq_release(self.v, obj) };
        }
    }
}

/// An open VM and its host; closed on drop.
struct Vm {
    v: HSQUIRRELVM,
    /// Owned (from `Box::into_raw`); the VM's shared foreign pointer.
    host: *mut Host,
}

impl Vm {
    /// A VM with the standard libraries and our handlers, no `KSR` yet.
    fn open() -> Result<Vm, String> {
        static PRINT: Once = Once::new();
        // SAFETY: sets the process-wide print callback of the shim to a
        // function that only logs.
        PRINT.call_once(|| unsafe { kemid_sq_set_print_callback(Some(host::on_print)) });

        // SAFETY: sq_open has no preconditions; null is handled.
        let v = unsafe { sq_open(STACK_SIZE) };
        if v.is_null() {
            return Err("cannot create a Squirrel VM (out of memory?)".into());
        }
        let host = Box::into_raw(Box::<Host>::default());
        let vm = Vm { v, host };
        // SAFETY: `v` is live; the host pointer stays valid until Drop,
        // which closes the VM before freeing it. Stack operations are
        // balanced by the settop.
        unsafe {
            sq_setsharedforeignptr(v, host.cast());
            kemid_sq_install_print(v);
            sq_setcompilererrorhandler(v, Some(host::on_compile_error));
            sq_newclosure(v, Some(host::on_runtime_error), 0);
            sq_setnativeclosurename(v, -1, c"error handler".as_ptr());
            sq_seterrorhandler(v);
            sq_notifyallexceptions(v, SQTrue);

            let top = sq_gettop(v);
            sq_pushroottable(v);
            let registered = [
                sqstd_register_bloblib(v),
                sqstd_register_iolib(v),
                sqstd_register_systemlib(v),
                sqstd_register_mathlib(v),
                sqstd_register_stringlib(v),
            ];
            sq_settop(v, top);
            if registered.iter().any(|&r| SQ_FAILED(r)) {
                return Err("cannot register the Squirrel standard library".into());
            }
        }
        Ok(vm)
    }

    fn host(&self) -> &Host {
        // SAFETY: owned by self, freed only in Drop.
        unsafe { &*self.host }
    }

    /// Compiles `text` and leaves the top-level function on the stack.
    fn compile(&self, file: &str, text: &str) -> Result<(), CompileError> {
        // Source names are C strings: a NUL in a path cannot be kept.
        let name = CString::new(file.replace('\0', "?")).unwrap_or_default();
        self.host().compile_error.borrow_mut().take();
        // SAFETY: the VM reads `len` bytes of `text`; raiseerror makes it
        // call our compile error handler, which fills the host.
        let r = unsafe {
            sq_compilebuffer(
                self.v,
                text.as_ptr().cast(),
                text.len() as SQInteger,
                name.as_ptr(),
                SQTrue,
            )
        };
        if SQ_SUCCEEDED(r) {
            return Ok(());
        }
        let captured = self.host().compile_error.borrow_mut().take();
        Err(captured.unwrap_or_else(|| CompileError {
            // SAFETY: `v` is live.
            message: unsafe { last_error(self.v) },
            line: 0,
            column: 0,
        }))
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        // SAFETY: the VM is closed first, so no callback can see the host
        // after it is freed; both were created in `open` and are dropped
        // once.
        unsafe {
            sq_close(self.v);
            drop(Box::from_raw(self.host));
        }
    }
}

/// The guard's callback: whether the call stack is too deep or the deadline
/// has passed.
unsafe extern "C" fn over_limits(v: HSQUIRRELVM, userdata: SQUserPointer) -> SQBool {
    // SAFETY: armed by `SqInterpreter::run` with a pointer to `Limits` on
    // its stack, disarmed before that frame ends.
    let limits = unsafe { &*userdata.cast::<Limits>() };
    let mut si = SQStackInfos::default();
    // SAFETY: `v` is the running VM; the call only reads its call stack,
    // and succeeds exactly when a frame exists at that level.
    if SQ_SUCCEEDED(unsafe { sq_stackinfos(v, limits.max_depth, &mut si) }) {
        limits.too_deep.set(true);
        return SQTrue;
    }
    SQBool::from(limits.deadline.is_some_and(|d| Instant::now() >= d))
}

/// The VM's last error as text.
///
/// # Safety
/// `v` must be live.
unsafe fn last_error(v: HSQUIRRELVM) -> String {
    // SAFETY: pushes the last error, reads it, and restores the top.
    unsafe {
        let top = sq_gettop(v);
        sq_getlasterror(v);
        let text = host::error_text(v, -1);
        sq_settop(v, top);
        text
    }
}

impl SqInterpreter {
    /// Opens a VM, binds `KSR`, compiles the script and runs its top level
    /// with no message (a `KSR.x.exit()` there ends the top level early
    /// and is not an error).
    pub fn load(
        source: &ScriptSource,
        config: &EngineConfig,
        worker: &mut WorkerLocal,
    ) -> Result<SqInterpreter, ScriptError> {
        let file = source.path.display().to_string();
        let setup_error = |message: String| ScriptError {
            file: file.clone(),
            line: 0,
            column: 0,
            message,
            stack: String::new(),
        };
        let vm = Vm::open().map_err(setup_error)?;
        // SAFETY: `vm.v` is live and nothing is pushed.
        unsafe { bind::register_ksr(vm.v, &config.loaded_modules) }.map_err(setup_error)?;
        let mut interp = SqInterpreter {
            names: NameCache {
                v: vm.v,
                names: Vec::new(),
            },
            vm,
            file,
            budget: config.budget,
            max_depth: config.recursion_limit,
        };
        let v = interp.vm.v;
        // SAFETY: `v` is live.
        let top = unsafe { sq_gettop(v) };
        if let Err(e) = interp.vm.compile(&interp.file, &source.text) {
            // SAFETY: drops what a failed compile may have left.
            unsafe { sq_settop(v, top) };
            return Err(ScriptError {
                file: interp.file.clone(),
                line: e.line,
                column: e.column,
                message: e.message,
                stack: String::new(),
            });
        }
        // SAFETY: the compiled function is on top; the root table is its
        // `this`.
        unsafe { sq_pushroottable(v) };
        let mut ctx = Ctx::without_message(worker);
        let outcome = interp.run(&mut ctx, 1);
        // SAFETY: back to the height before the compiled function.
        unsafe { sq_settop(v, top) };
        match outcome {
            Outcome::Failed(e) => Err(e),
            _ => Ok(interp),
        }
    }

    /// Calls the function on the stack under its `nargs` arguments (`this`
    /// included) with the budget armed and `ctx` reachable by `KSR`.
    /// Leaves the stack as `sq_call` does; the caller restores the top.
    fn run(&mut self, ctx: &mut Ctx<'_>, nargs: SQInteger) -> Outcome {
        let v = self.vm.v;
        let host = self.vm.host();
        // Kamailio resets the exit flag for every run.
        host.unwind.set(None);
        host.failure.borrow_mut().take();
        let entered = host.enter(ctx);
        let limits = Limits {
            deadline: Instant::now().checked_add(self.budget),
            // The top-level function is a frame too.
            max_depth: SQInteger::try_from(self.max_depth.saturating_add(1))
                .unwrap_or(SQInteger::MAX),
            too_deep: Cell::new(false),
        };
        // SAFETY: the limits outlive the armed guard: it is disarmed below,
        // before this frame ends, whatever sq_call returns. The callee runs
        // script code that may reach `ctx` through the host (see
        // `bind::dispatch`); `ctx` is not used here meanwhile.
        let (result, tripped) = unsafe {
            kemid_sq_interrupt_arm(
                GUARD_CHECK_INTERVAL,
                Some(over_limits),
                std::ptr::from_ref(&limits).cast_mut().cast(),
            );
            let result = sq_call(v, nargs, SQFalse, SQTrue);
            let tripped = kemid_sq_interrupt_tripped() != 0;
            kemid_sq_interrupt_disarm();
            (result, tripped)
        };
        drop(entered);
        if SQ_SUCCEEDED(result) {
            return Outcome::Returned;
        }
        let failure = host.failure.borrow_mut().take();
        if tripped {
            let message = if limits.too_deep.get() {
                format!(
                    "stopped: script function calls nested deeper than {} (endless recursion?)",
                    self.max_depth
                )
            } else {
                format!(
                    "stopped after {}: the script ran past its execution budget (endless loop?)",
                    show_duration(self.budget)
                )
            };
            return Outcome::Failed(self.error(message, failure.as_ref()));
        }
        match host.unwind.take() {
            Some(Unwind::Exit) => return Outcome::Exit,
            Some(Unwind::Drop) => return Outcome::Drop,
            None => {}
        }
        // SAFETY: `v` is live.
        let message = unsafe { last_error(v) };
        // The capture describes this error unless the error handler never
        // saw it: the call failed before any script code ran (a callback
        // that declares parameters), and any capture is of a caught error.
        let failure = failure.filter(|f| f.message == message);
        Outcome::Failed(self.error(message, failure.as_ref()))
    }

    /// A `ScriptError` at the innermost script frame of `failure`.
    fn error(&self, message: String, failure: Option<&Failure>) -> ScriptError {
        let frame = failure.and_then(Failure::script_frame);
        ScriptError {
            file: frame.map_or_else(|| self.file.clone(), |f| f.source.clone()),
            line: frame.map_or(0, |f| f.line),
            column: 0,
            message,
            stack: failure.map(Failure::stack_text).unwrap_or_default(),
        }
    }
}

/// Replaces the key on top of the stack (over the root table) with the
/// global it names; whether that is a function.
///
/// # Safety
/// `v` is live with the root table then a key on top; the caller restores
/// the stack top.
unsafe fn get_global_function(v: HSQUIRRELVM) -> bool {
    // SAFETY: per the function contract.
    unsafe {
        if SQ_FAILED(sq_rawget(v, -2)) {
            return false;
        }
        matches!(sq_gettype(v, -1), OT_CLOSURE | OT_NATIVECLOSURE)
    }
}

impl Interpreter for SqInterpreter {
    fn has_function(&self, name: &str) -> bool {
        let v = self.vm.v;
        // SAFETY: the top is restored after the lookup.
        unsafe {
            let top = sq_gettop(v);
            sq_pushroottable(v);
            push_str(v, name);
            let found = get_global_function(v);
            sq_settop(v, top);
            found
        }
    }

    fn call(&mut self, ctx: &mut Ctx<'_>, name: &str, arg: Option<&str>) -> Outcome {
        let v = self.vm.v;
        // SAFETY: the closure, `this` and the argument are pushed for
        // `run`; the top is restored after, whatever happened.
        let top = unsafe { sq_gettop(v) };
        // SAFETY: as above.
        let found = unsafe {
            sq_pushroottable(v);
            self.names.push(name);
            get_global_function(v)
        };
        if !found {
            // SAFETY: as above.
            unsafe { sq_settop(v, top) };
            return Outcome::Missing;
        }
        let mut nargs = 1;
        // SAFETY: as above.
        unsafe {
            sq_pushroottable(v);
            if let Some(arg) = arg {
                push_str(v, arg);
                nargs += 1;
            }
        }
        let outcome = self.run(ctx, nargs);
        // SAFETY: as above.
        unsafe { sq_settop(v, top) };
        if let Outcome::Failed(e) = &outcome {
            log::error("sqlang", format_args!("{e}"));
        }
        outcome
    }
}

/// `100 ms`, `1.5 s`, `250 µs`.
fn show_duration(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{} s", d.as_secs_f64())
    } else if d >= Duration::from_millis(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{} µs", d.as_micros())
    }
}

/// Compiles `text` in a scratch VM: the syntax error, if any.
fn syntax_check(file: &str, text: &str) -> Result<(), CompileError> {
    let vm = Vm::open().map_err(|message| CompileError {
        message,
        line: 0,
        column: 0,
    })?;
    vm.compile(file, text)
}
