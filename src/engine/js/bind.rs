//! `KSR` inside a boa context: one native function per export, all of them
//! the same closure over a `&'static Export`, all going through
//! [`dispatch`].
//!
//! The callback's `&mut Ctx` reaches [`dispatch`] through a thread-local
//! raw pointer that [`enter`] sets for the duration of one call into the
//! script and clears afterwards. A closure cannot capture it (boa native
//! functions must be `Copy` and `'static`), and the context's host data
//! would cost a type-map lookup per call.

use std::cell::Cell;
use std::fmt::Write as _;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::time::Instant;

use boa_engine::error::RuntimeLimitError;
use boa_engine::object::FunctionObjectBuilder;
use boa_engine::property::Attribute;
use boa_engine::string::JsStrVariant;
use boa_engine::value::JsVariant;
use boa_engine::{
    Context, JsError, JsNativeError, JsObject, JsResult, JsString, JsValue, NativeFunction,
};

use crate::ctx::{Ctx, Unwind};
use crate::engine::EXIT_MARKER;
use crate::log;
use crate::registry::{self, Arg, Export, ParamType, Ret, XVal};

/// What the callback running on this thread shares with [`dispatch`].
struct Current {
    /// The callback's context; `None` outside a call into the script.
    ctx: Cell<Option<NonNull<Ctx<'static>>>>,
    /// The last exit or drop a KSR call requested during this call.
    unwind: Cell<Option<Unwind>>,
    /// When the callback's time budget runs out.
    deadline: Cell<Option<Instant>>,
    /// Set when [`dispatch`] stopped the script for running out of time.
    timed_out: Cell<bool>,
    /// KSR calls made on this thread; the clock is read every
    /// [`CLOCK_EVERY`] of them.
    calls: Cell<u32>,
    /// Where string arguments are converted to UTF-8, reused from call to
    /// call so that a string argument costs no allocation. Taken out while
    /// in use, so a re-entrant call (a `toString` calling KSR) simply
    /// starts with an empty one.
    text: Cell<String>,
}

thread_local! {
    static CURRENT: Current = const {
        Current {
            ctx: Cell::new(None),
            unwind: Cell::new(None),
            deadline: Cell::new(None),
            timed_out: Cell::new(false),
            calls: Cell::new(0),
            text: Cell::new(String::new()),
        }
    };
}

/// A call into the script is under way on this thread: while this guard
/// lives, KSR functions reach `ctx`.
///
/// Safety argument for the raw pointer: it is made from a `&'a mut Ctx`
/// that the guard keeps borrowed for its whole life, and the guard clears
/// it on drop, so whenever [`dispatch`] finds a pointer its target is alive
/// and nobody else holds a reference to it. [`dispatch`] turns it into a
/// `&mut Ctx` only around `Export::invoke` and `Ctx::take_unwind`, which
/// run Rust code and never call back into the script; argument
/// conversions, which may run script code (and so nested KSR calls), are
/// done before. The lifetime is erased to store the pointer, but the
/// reference made from it never outlives that one call.
pub(super) struct Entered<'a> {
    saved_ctx: Option<NonNull<Ctx<'static>>>,
    saved_unwind: Option<Unwind>,
    saved_deadline: Option<Instant>,
    saved_timed_out: bool,
    _ctx: PhantomData<&'a mut ()>,
}

/// Makes `ctx` the context of KSR calls on this thread until the returned
/// guard drops; `deadline` bounds how long the script may run.
pub(super) fn enter<'a>(ctx: &'a mut Ctx<'_>, deadline: Option<Instant>) -> Entered<'a> {
    let ptr = NonNull::from(ctx).cast::<Ctx<'static>>();
    CURRENT.with(|c| Entered {
        saved_ctx: c.ctx.replace(Some(ptr)),
        saved_unwind: c.unwind.replace(None),
        saved_deadline: c.deadline.replace(deadline),
        saved_timed_out: c.timed_out.replace(false),
        _ctx: PhantomData,
    })
}

impl Entered<'_> {
    /// The last exit or drop requested since [`enter`].
    pub(super) fn unwind(&self) -> Option<Unwind> {
        CURRENT.with(|c| c.unwind.get())
    }

    /// Whether a KSR call stopped the script for exceeding its budget.
    pub(super) fn timed_out(&self) -> bool {
        CURRENT.with(|c| c.timed_out.get())
    }
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        // Restoring rather than clearing keeps an outer call intact should
        // calls into scripts ever nest on one thread.
        CURRENT.with(|c| {
            c.ctx.set(self.saved_ctx);
            c.unwind.set(self.saved_unwind);
            c.deadline.set(self.saved_deadline);
            c.timed_out.set(self.saved_timed_out);
        });
    }
}

/// Creates `KSR` with every visible export, and the `KSR_<module>` globals
/// app_jsdt also defines (the same objects as `KSR.<module>`).
pub(super) fn bind_ksr(cx: &mut Context, loaded_modules: &[String]) -> JsResult<()> {
    let loaded: Vec<&str> = loaded_modules.iter().map(String::as_str).collect();
    let ksr = JsObject::with_object_proto(cx.intrinsics());
    let mut modules: Vec<(&'static str, JsObject)> = Vec::new();
    for export in registry::visible(&loaded) {
        let target = if export.module.is_empty() {
            ksr.clone()
        } else if let Some((_, obj)) = modules.iter().find(|(m, _)| *m == export.module) {
            obj.clone()
        } else {
            let obj = JsObject::with_object_proto(cx.intrinsics());
            ksr.create_data_property_or_throw(JsString::from(export.module), obj.clone(), cx)?;
            modules.push((export.module, obj.clone()));
            obj
        };
        let native =
            NativeFunction::from_copy_closure(move |_this, args, cx| dispatch(export, args, cx));
        let function = FunctionObjectBuilder::new(cx.realm(), native)
            .name(JsString::from(export.name))
            .length(export.params.len())
            .constructor(false)
            .build();
        target.create_data_property_or_throw(JsString::from(export.name), function, cx)?;
    }
    let attrs = Attribute::WRITABLE | Attribute::CONFIGURABLE;
    cx.register_global_property(JsString::from("KSR"), ksr, attrs)?;
    for (name, obj) in modules {
        cx.register_global_property(JsString::from(format!("KSR_{name}")), obj, attrs)?;
    }
    Ok(())
}

/// How often (in KSR calls) the time budget is checked: reading the clock
/// costs about as much as a cheap KSR call, and a runaway loop makes
/// thousands of calls within a budget.
const CLOCK_EVERY: u32 = 16;

/// Arguments held inline; more (only rest-argument functions can take
/// more) go to the heap.
const INLINE_ARGS: usize = 8;

/// A converted argument before the string buffer is final: strings are a
/// range of it.
#[derive(Clone, Copy)]
enum Slot {
    Int(i64),
    Str(usize, usize),
}

/// The body of every KSR function: converts the arguments as Duktape
/// would, calls the export with the current context and maps its result
/// back; throws the exit marker when the export asked to unwind.
fn dispatch(export: &'static Export, args: &[JsValue], cx: &mut Context) -> JsResult<JsValue> {
    let want = export.params.len();
    if args.len() < want {
        return Err(too_few_arguments(export, args.len()));
    }
    // Extra arguments are ignored, except the string list of a rest export.
    let count = if export.rest.is_some() {
        args.len()
    } else {
        want
    };
    if count == 0 {
        // Nothing to convert: no string buffer either.
        let (ret, unwinding) =
            convert_and_invoke(export, &[], &mut [], &mut [], &mut String::new(), cx)?;
        if unwinding {
            return Err(exit_marker());
        }
        return Ok(to_js(ret, true));
    }
    let mut text = CURRENT.with(|c| c.text.take());
    text.clear();
    let result = if count <= INLINE_ARGS {
        let mut slots = [Slot::Int(0); INLINE_ARGS];
        let mut argv = [Arg::Int(0); INLINE_ARGS];
        convert_and_invoke(
            export,
            &args[..count],
            &mut slots[..count],
            &mut argv[..count],
            &mut text,
            cx,
        )
    } else {
        let mut slots = vec![Slot::Int(0); count];
        let mut argv = vec![Arg::Int(0); count];
        convert_and_invoke(export, &args[..count], &mut slots, &mut argv, &mut text, cx)
    };
    CURRENT.with(|c| c.text.set(text));
    let (ret, unwinding) = result?;
    if unwinding {
        return Err(exit_marker());
    }
    Ok(to_js(ret, false))
}

/// The plain string `KSR.x.exit()` throws, as app_jsdt does.
fn exit_marker() -> JsError {
    JsError::from_opaque(JsString::from(EXIT_MARKER).into())
}

/// Converts `args` into `argv` (strings land in `text`), then calls the
/// export. Returns its result and whether it asked to unwind.
fn convert_and_invoke<'t>(
    export: &'static Export,
    args: &[JsValue],
    slots: &mut [Slot],
    argv: &mut [Arg<'t>],
    text: &'t mut String,
    cx: &mut Context,
) -> JsResult<(Ret, bool)> {
    // Conversions may run script code (a `toString` method), hence before
    // the context is touched.
    for (i, (value, slot)) in args.iter().zip(slots.iter_mut()).enumerate() {
        let ty = export.params.get(i).map_or(ParamType::Str, |p| p.ty);
        *slot = match ty {
            ParamType::Int => Slot::Int(to_int(value, cx)?),
            ParamType::Str => {
                let start = text.len();
                push_js_string(value, text, cx)?;
                Slot::Str(start, text.len())
            }
        };
    }
    let text: &'t str = text;
    for (arg, slot) in argv.iter_mut().zip(slots.iter()) {
        *arg = match *slot {
            Slot::Int(i) => Arg::Int(i),
            // The ranges were taken at char boundaries as the text grew.
            Slot::Str(a, b) => Arg::Str(text.get(a..b).unwrap_or_default()),
        };
    }
    CURRENT.with(|c| {
        let Some(ptr) = c.ctx.get() else {
            log::error(
                "js",
                format_args!(
                    "{}() was called while no script callback is running; refused",
                    export.script_path()
                ),
            );
            return Ok((export.refusal(), false));
        };
        let calls = c.calls.get().wrapping_add(1);
        c.calls.set(calls);
        if let Some(deadline) = c.deadline.get().filter(|_| calls % CLOCK_EVERY == 0) {
            if Instant::now() >= deadline {
                c.timed_out.set(true);
                // An engine error: the script's try/catch cannot stop it.
                return Err(RuntimeLimitError::LoopIteration.into());
            }
        }
        // SAFETY: see `Entered`: the pointer is live and unaliased while
        // set, and no script code runs while this reference exists.
        let ctx = unsafe { &mut *ptr.as_ptr() };
        let ret = export.invoke(ctx, argv);
        let unwind = ctx.take_unwind();
        if unwind.is_some() {
            c.unwind.set(unwind);
        }
        Ok((ret, unwind.is_some()))
    })
}

/// `KSR.pv.sets() takes 2 arguments (name, value), 1 given`: a TypeError,
/// as Duktape throws when a parameter slot is missing.
fn too_few_arguments(export: &Export, given: usize) -> JsError {
    let want = export.params.len();
    let mut names: Vec<&str> = export.params.iter().map(|p| p.name).collect();
    let rest = export.rest.map(|r| format!("...{r}"));
    if let Some(r) = &rest {
        names.push(r);
    }
    JsNativeError::typ()
        .with_message(format!(
            "{}() takes {}{want} argument{} ({}), {given} given",
            export.script_path(),
            if export.rest.is_some() {
                "at least "
            } else {
                ""
            },
            if want == 1 { "" } else { "s" },
            names.join(", "),
        ))
        .into()
}

/// Duktape's `to_int`: ToNumber, NaN to 0, truncated and saturated.
fn to_int(value: &JsValue, cx: &mut Context) -> JsResult<i64> {
    if let Some(i) = value.as_i32() {
        return Ok(i64::from(i));
    }
    let n = match value.variant() {
        JsVariant::BigInt(b) => b.to_f64(),
        _ => value.to_number(cx)?,
    };
    // `as` truncates toward zero, saturates and maps NaN to 0.
    Ok(n as i64)
}

/// Appends JavaScript's ToString of `value` to `out` as UTF-8 (lone
/// surrogates become U+FFFD). Strings, integers and the constants avoid
/// creating a `JsString`.
fn push_js_string(value: &JsValue, out: &mut String, cx: &mut Context) -> JsResult<()> {
    match value.variant() {
        JsVariant::String(s) => push_js_str(&s, out),
        JsVariant::Integer32(i) => {
            // Writing to a String cannot fail.
            let _ = write!(out, "{i}");
        }
        JsVariant::Undefined => out.push_str("undefined"),
        JsVariant::Null => out.push_str("null"),
        JsVariant::Boolean(b) => out.push_str(if b { "true" } else { "false" }),
        _ => push_js_str(&value.to_string(cx)?, out),
    }
    Ok(())
}

fn push_js_str(s: &JsString, out: &mut String) {
    match s.variant() {
        JsStrVariant::Latin1(bytes) => match std::str::from_utf8(bytes) {
            // ASCII is the same in Latin-1 and UTF-8.
            Ok(ascii) if bytes.is_ascii() => out.push_str(ascii),
            _ => out.extend(bytes.iter().map(|&b| char::from(b))),
        },
        JsStrVariant::Utf16(units) => {
            out.extend(char::decode_utf16(units.iter().copied()).map(|c| c.unwrap_or('\u{FFFD}')))
        }
    }
}

/// An export's result as the script sees it (kemi-api conventions).
pub(super) fn to_js(ret: Ret, no_args: bool) -> JsValue {
    match ret {
        // Kamailio's quirk: "nothing" is `false` for a call without
        // arguments, `0` otherwise.
        Ret::None if no_args => JsValue::from(false),
        Ret::None => JsValue::from(0),
        Ret::Int(i) => JsValue::from(i),
        Ret::Bool(b) => JsValue::from(b),
        Ret::XVal(XVal::Int(i)) => JsValue::from(i),
        Ret::XVal(XVal::Str(s)) => JsValue::from(JsString::from(s.as_str())),
        Ret::XVal(XVal::Null) => JsValue::null(),
    }
}
