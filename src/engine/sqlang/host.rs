//! The Rust side of one Squirrel VM: the state its callbacks share with
//! the interpreter, and the callbacks themselves (print, compile errors,
//! runtime errors).
//!
//! The VM only hands callbacks an `HSQUIRRELVM`, so [`Host`] is reached
//! through the VM's *shared* foreign pointer. The shared one rather than
//! the per-VM one because a script coroutine (`newthread`) runs on its own
//! `HSQUIRRELVM` that shares the state of the VM that made it: `print` or a
//! `KSR` call inside a coroutine must find the same host.

use std::cell::{Cell, RefCell};
use std::ffi::CStr;
use std::os::raw::c_int;

use squirrel_sys::*;

use crate::ctx::{Ctx, Unwind};
use crate::engine::EXIT_MARKER;
use crate::log::{self, Level};

/// What the VM's callbacks need to know, owned by the interpreter (boxed,
/// so its address is stable) and only ever touched through shared
/// references: every field is a `Cell`/`RefCell`.
#[derive(Default)]
pub(super) struct Host {
    /// The context of the callback running now; null between calls. Set by
    /// [`Host::enter`] for exactly the duration of one top-level `sq_call`.
    ctx: Cell<*mut Ctx<'static>>,
    /// The exit flag, as app_sqlang keeps one per VM: set by the trampoline
    /// when `KSR.x.exit()`/`drop()` asks to unwind, reset at every
    /// top-level call, and cleared when an unrelated error escapes (the
    /// exit was then caught by the script, see [`on_runtime_error`]).
    pub(super) unwind: Cell<Option<Unwind>>,
    /// The last uncaught error, captured while its stack still existed.
    pub(super) failure: RefCell<Option<Failure>>,
    /// The last compile error.
    pub(super) compile_error: RefCell<Option<CompileError>>,
}

/// A runtime error as the error handler saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Failure {
    pub message: String,
    /// Innermost first; for a deep stack only its two ends (see
    /// [`KEEP_INNER`]).
    pub frames: Vec<Frame>,
    /// How many frames between the two ends were left out.
    pub omitted: usize,
}

/// A deep stack (a runaway recursion) is reported by its innermost
/// [`KEEP_INNER`] and outermost [`KEEP_OUTER`] frames, not thousands of
/// lines.
const KEEP_INNER: usize = 16;
const KEEP_OUTER: usize = 4;

/// One call-stack level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Frame {
    pub function: String,
    /// The script's source name; empty for a native function.
    pub source: String,
    /// 0 for a native function.
    pub line: u32,
}

impl Failure {
    /// The innermost frame that runs script code.
    pub fn script_frame(&self) -> Option<&Frame> {
        self.frames.iter().find(|f| !f.source.is_empty())
    }

    /// One frame a line, innermost first.
    pub fn stack_text(&self) -> String {
        let mut lines: Vec<String> = self
            .frames
            .iter()
            .map(|f| {
                if f.source.is_empty() {
                    format!("  at {} (native)", f.function)
                } else {
                    format!("  at {} ({}:{})", f.function, f.source, f.line)
                }
            })
            .collect();
        if self.omitted > 0 {
            let at = KEEP_INNER.min(lines.len());
            lines.insert(at, format!("  ... {} more frames ...", self.omitted));
        }
        lines.join("\n")
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct CompileError {
    pub message: String,
    pub line: u32,
    pub column: u32,
}

/// Restores the previous context pointer when a call ends, however it ends.
pub(super) struct Entered<'h> {
    host: &'h Host,
    previous: *mut Ctx<'static>,
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        self.host.ctx.set(self.previous);
    }
}

impl Host {
    /// Makes `ctx` the context exports receive until the guard drops.
    ///
    /// The lifetime is erased to store the pointer; the guard puts the
    /// previous value back when dropped, and callers keep it alive no
    /// longer than the `&mut Ctx` they were given, so the pointer never
    /// outlives the context it points to.
    pub(super) fn enter<'h>(&'h self, ctx: &mut Ctx<'_>) -> Entered<'h> {
        let raw: *mut Ctx<'_> = ctx;
        let previous = self.ctx.replace(raw.cast::<Ctx<'static>>());
        Entered {
            host: self,
            previous,
        }
    }

    /// The context of the running call, null outside one.
    #[inline]
    pub(super) fn ctx(&self) -> *mut Ctx<'static> {
        self.ctx.get()
    }
}

/// The host of `v`, if the VM has one.
///
/// # Safety
/// `v` must be a live VM whose shared foreign pointer is null or points to
/// a live [`Host`] (what `SqInterpreter` and the scan VM set up).
#[inline]
pub(super) unsafe fn host_of<'a>(v: HSQUIRRELVM) -> Option<&'a Host> {
    // SAFETY: per the function contract the pointer is null or a live Host
    // that outlives the VM's callbacks; only shared references are made.
    unsafe { sq_getsharedforeignptr(v).cast::<Host>().as_ref() }
}

/// Text from a VM-owned C string, empty for null.
///
/// # Safety
/// `p` is null or a NUL-terminated string valid for the call.
pub(super) unsafe fn lossy(p: *const SQChar) -> String {
    if p.is_null() {
        String::new()
    } else {
        // SAFETY: non-null and NUL-terminated per the function contract.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

/// The print shim's callback: `print()` logs at INFO, `error()` at ERROR,
/// both with the origin `sqlang`. One trailing newline is dropped, as
/// `KSR.info` does, since scripts end their prints with one.
pub(super) unsafe extern "C" fn on_print(
    _v: HSQUIRRELVM,
    is_error: c_int,
    msg: *const SQChar,
    len: usize,
) {
    if msg.is_null() {
        return;
    }
    // SAFETY: the shim passes `len` readable bytes at `msg` for this call.
    let bytes = unsafe { std::slice::from_raw_parts(msg.cast::<u8>(), len) };
    let text = String::from_utf8_lossy(bytes);
    let text = text.strip_suffix('\n').unwrap_or(&text);
    let level = if is_error != 0 {
        Level::Err
    } else {
        Level::Info
    };
    log::write(level, "sqlang", format_args!("{text}"));
}

/// The compiler error handler: keeps the message and position for the
/// `ScriptError`/`Diagnostic` being built.
pub(super) unsafe extern "C" fn on_compile_error(
    v: HSQUIRRELVM,
    desc: *const SQChar,
    _source: *const SQChar,
    line: SQInteger,
    column: SQInteger,
) {
    // SAFETY: the VM passes itself; its foreign pointer is ours.
    let Some(host) = (unsafe { host_of(v) }) else {
        return;
    };
    let error = CompileError {
        // SAFETY: the compiler passes a NUL-terminated message.
        message: unsafe { lossy(desc) },
        line: u32::try_from(line).unwrap_or(0),
        column: u32::try_from(column).unwrap_or(0),
    };
    *host.compile_error.borrow_mut() = Some(error);
}

/// The runtime error handler (a native closure installed with
/// `sq_seterrorhandler`). The VM calls it where an error is raised, before
/// unwinding: the only moment the failing frames still exist, so the stack
/// is captured here.
///
/// Exceptions notification is on for every raise (`sq_notifyallexceptions`),
/// caught or not: without it the VM skips the handler for an error raised
/// in a script function that a native called without `raiseerror` (a
/// `sort` comparator, a metamethod) and the failing line is lost. So a
/// capture may belong to an error the script caught; the runner uses it
/// only when its message is the error that ended the call.
///
/// It also settles the exit flag. An exit unwinding the script carries the
/// marker; any *other* error raised while the flag is set means the exit
/// was caught by a script `try/catch`, so the flag is stale and is cleared,
/// and that error is reported as the error it is. (app_sqlang keeps the
/// stale flag and reports a later error as a clean exit.)
pub(super) unsafe extern "C" fn on_runtime_error(v: HSQUIRRELVM) -> SQInteger {
    // SAFETY: the VM passes itself; its foreign pointer is ours.
    let Some(host) = (unsafe { host_of(v) }) else {
        return 0;
    };
    // Stack: 1 = `this` (the root table), 2 = the error.
    // SAFETY: reads slot 2 of the handler's own frame, which the VM set up.
    let message = unsafe { error_text(v, 2) };
    if message == EXIT_MARKER {
        if host.unwind.get().is_some() {
            // An exit on its way out: nothing to report, nothing to keep.
            return 0;
        }
    } else {
        host.unwind.set(None);
    }
    // SAFETY: `v` is live; stackinfos only reads the call stack.
    let (frames, omitted) = unsafe { call_stack(v) };
    let failure = Failure {
        message,
        frames,
        omitted,
    };
    let mut slot = host.failure.borrow_mut();
    // An error raised in a script function that a native called (a sort
    // comparator, `f.call()`) reaches this handler again in each caller it
    // passes through. Keep the first, deepest capture: it holds the line
    // that failed, and the later ones are its outer frames.
    let repeat = slot.as_ref().is_some_and(|prev| {
        prev.message == failure.message
            && prev.omitted >= failure.omitted
            && prev.frames.ends_with(&failure.frames)
    });
    if !repeat {
        *slot = Some(failure);
    }
    0
}

/// The call stack below the handler's own frame, innermost first, with
/// the middle of a deep one left out: the frames kept and how many were
/// not.
///
/// # Safety
/// `v` must be a live VM.
unsafe fn call_stack(v: HSQUIRRELVM) -> (Vec<Frame>, usize) {
    // Level 0 is the error handler itself. Find the depth first: frames
    // exist at levels 1..depth.
    let mut si = SQStackInfos::default();
    let mut depth: SQInteger = 1;
    // SAFETY: stackinfos only reads the call stack; `si` is valid.
    while SQ_SUCCEEDED(unsafe { sq_stackinfos(v, depth, &mut si) }) {
        depth += 1;
    }
    let count = usize::try_from(depth - 1).unwrap_or(0);
    let omitted = count.saturating_sub(KEEP_INNER + KEEP_OUTER);
    let levels = (1..depth).filter(|&l| {
        let i = usize::try_from(l - 1).unwrap_or(0);
        omitted == 0 || i < KEEP_INNER || i >= count - KEEP_OUTER
    });
    let mut frames = Vec::new();
    for level in levels {
        let mut si = SQStackInfos::default();
        // SAFETY: `si` is a valid out-parameter; the VM fills it with
        // pointers to strings it owns, copied before the next call.
        if SQ_FAILED(unsafe { sq_stackinfos(v, level, &mut si) }) {
            break;
        }
        // SAFETY: null or NUL-terminated strings owned by the VM.
        let (function, source) = unsafe { (lossy(si.funcname), lossy(si.source)) };
        let native = si.line < 0 || source == "NATIVE";
        frames.push(Frame {
            function: if function.is_empty() {
                "unknown".into()
            } else {
                function
            },
            source: if native { String::new() } else { source },
            line: if native {
                0
            } else {
                u32::try_from(si.line).unwrap_or(0)
            },
        });
    }
    (frames, omitted)
}

/// What a thrown value says: a string as is, numbers and booleans printed,
/// anything else named by its type (running a `_tostring` metamethod in an
/// error handler could raise again).
///
/// # Safety
/// `v` must be a live VM with a value at `idx`.
pub(super) unsafe fn error_text(v: HSQUIRRELVM, idx: SQInteger) -> String {
    let mut obj = HSQOBJECT::default();
    // SAFETY: `obj` is a valid out-parameter; the object is only read.
    if SQ_FAILED(unsafe { sq_getstackobj(v, idx, &mut obj) }) {
        return "unknown error".into();
    }
    match obj._type {
        OT_STRING => {
            let mut p: *const SQChar = std::ptr::null();
            let mut len: SQInteger = 0;
            // SAFETY: the value is a string; the VM returns its buffer.
            if SQ_FAILED(unsafe { sq_getstringandsize(v, idx, &mut p, &mut len) }) {
                return "unknown error".into();
            }
            let len = usize::try_from(len).unwrap_or(0);
            // SAFETY: `len` bytes at `p` belong to the string on the stack.
            let bytes = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) };
            String::from_utf8_lossy(bytes).into_owned()
        }
        // SAFETY (union reads): the type tag says which field is live.
        OT_INTEGER => unsafe { obj._unVal.nInteger }.to_string(),
        OT_FLOAT => unsafe { obj._unVal.fFloat }.to_string(),
        OT_BOOL => (unsafe { obj._unVal.nInteger } != 0).to_string(),
        OT_NULL => "null was thrown".into(),
        other => format!("a value of type {} was thrown", type_name(other)),
    }
}

/// Squirrel's name for a type, as `typeof` gives it.
pub(super) fn type_name(t: SQObjectType) -> &'static str {
    match t {
        OT_NULL => "null",
        OT_INTEGER => "integer",
        OT_FLOAT => "float",
        OT_BOOL => "bool",
        OT_STRING => "string",
        OT_TABLE => "table",
        OT_ARRAY => "array",
        OT_USERDATA => "userdata",
        OT_CLOSURE | OT_NATIVECLOSURE => "function",
        OT_GENERATOR => "generator",
        OT_USERPOINTER => "userpointer",
        OT_THREAD => "thread",
        OT_CLASS => "class",
        OT_INSTANCE => "instance",
        OT_WEAKREF => "weakref",
        _ => "unknown",
    }
}
