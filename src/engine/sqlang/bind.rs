//! `KSR` for Squirrel: one native closure per visible export, all made
//! from the single [`trampoline`] with the export's index in the registry
//! as the closure's free variable.
//!
//! The VM checks arguments before the trampoline runs: `sq_setparamscheck`
//! is derived from the export's declared parameters (a minimum count, so
//! extra arguments pass and are ignored as KEMI ignores them; `int`
//! parameters accept integer, float or bool, `str` parameters strings
//! only). A wrong call is therefore an ordinary Squirrel error at the
//! script's line, where app_sqlang would read a null string and crash.

use std::borrow::Cow;
use std::ffi::CString;
use std::panic::{catch_unwind, AssertUnwindSafe};

use squirrel_sys::*;

use super::host::{host_of, type_name};
use crate::engine::EXIT_MARKER;
use crate::log;
use crate::registry::{self, Arg, Export, ParamType, Ret, XVal};

/// The exit marker as a C string, thrown by the trampoline.
const EXIT_MARKER_C: &std::ffi::CStr = c"~~ksr~exit~~";
const _: () = assert!(EXIT_MARKER_C.to_bytes().len() == EXIT_MARKER.len());

/// Arguments are converted into a stack array up to this many (KEMI
/// functions take at most six); more spill to the heap.
const INLINE_ARGS: usize = 8;

/// Builds the `KSR` table in the root table of `v`: core exports as its
/// slots, every other module as a nested table. Leaves the stack as found.
///
/// # Safety
/// `v` must be a live VM with nothing pushed by the caller expected above
/// the current top.
pub(super) unsafe fn register_ksr(v: HSQUIRRELVM, loaded_modules: &[String]) -> Result<(), String> {
    let loaded: Vec<&str> = loaded_modules.iter().map(String::as_str).collect();
    // SAFETY: stack operations on a live VM, balanced by the final settop.
    unsafe {
        let top = sq_gettop(v);
        let result = build_ksr(v, &loaded);
        sq_settop(v, top);
        result
    }
}

/// # Safety
/// As [`register_ksr`]; may leave values pushed on failure.
unsafe fn build_ksr(v: HSQUIRRELVM, loaded: &[&str]) -> Result<(), String> {
    // SAFETY: every push below is consumed by the newslot or pop that
    // follows it; `ksr` is an absolute index to the table pushed first.
    unsafe {
        sq_newtable(v);
        let ksr = sq_gettop(v);
        for export in registry::visible(loaded) {
            if export.module.is_empty() {
                push_str(v, export.name);
                push_export(v, export)?;
                new_slot(v, ksr, export.name)?;
                continue;
            }
            // KSR.<module>, made on first use.
            push_str(v, export.module);
            if SQ_FAILED(sq_rawget(v, ksr)) {
                push_str(v, export.module);
                sq_newtable(v);
                new_slot(v, ksr, export.module)?;
                push_str(v, export.module);
                if SQ_FAILED(sq_rawget(v, ksr)) {
                    return Err(format!("cannot make KSR.{}", export.module));
                }
            }
            push_str(v, export.name);
            push_export(v, export)?;
            new_slot(v, -3, export.name)?;
            sq_pop(v, 1);
        }
        sq_pushroottable(v);
        push_str(v, "KSR");
        sq_push(v, ksr);
        new_slot(v, -3, "KSR")
    }
}

/// Pushes the native closure for `export`.
///
/// # Safety
/// `v` must be a live VM.
unsafe fn push_export(v: HSQUIRRELVM, export: &'static Export) -> Result<(), String> {
    // The index from the address: `visible` yields references into the
    // registry's one static slice.
    let all = registry::exports();
    let offset = (export as *const Export as usize).wrapping_sub(all.as_ptr() as usize);
    let index = offset / std::mem::size_of::<Export>().max(1);
    if !all.get(index).is_some_and(|e| std::ptr::eq(e, export)) {
        return Err(format!("{} is not in the registry", export.script_path()));
    }
    let name = CString::new(export.script_path()).map_err(|e| e.to_string())?;
    // SAFETY: pushes one integer, then the closure consumes it as its free
    // variable; the closure is left on top for the calls that follow.
    unsafe {
        sq_pushinteger(v, index as SQInteger);
        sq_newclosure(v, Some(trampoline), 1);
        if !export.params.is_empty() {
            let (count, mask) = params_check(export);
            let mask = CString::new(mask).map_err(|e| e.to_string())?;
            if SQ_FAILED(sq_setparamscheck(v, count, mask.as_ptr())) {
                return Err(format!("bad parameter check for {}", export.script_path()));
            }
        }
        sq_setnativeclosurename(v, -1, name.as_ptr());
    }
    Ok(())
}

/// The `sq_setparamscheck` arguments for an export: a minimum count that
/// includes `this` (negative, so extra arguments are allowed), and a type
/// mask with `.` for `this`.
pub(super) fn params_check(export: &Export) -> (SQInteger, String) {
    let mut mask = String::from(".");
    for p in export.params {
        mask.push_str(match p.ty {
            ParamType::Int => "i|f|b",
            ParamType::Str => "s",
        });
    }
    (-(export.params.len() as SQInteger + 1), mask)
}

/// The one native function behind every `KSR` export.
///
/// Stack on entry: 1 = `this` (the KSR table), 2..=n+1 = the script's `n`
/// arguments (already checked by the VM against the parameter mask), and
/// on top the free variable: the export's index.
///
/// The call reaches the export with the `&mut Ctx` of the running callback,
/// found through the VM's host. A panic in an export becomes a script
/// error rather than unwinding through the VM's C++ frames.
unsafe extern "C" fn trampoline(v: HSQUIRRELVM) -> SQInteger {
    // SAFETY: the VM calls this with the stack described above.
    match catch_unwind(AssertUnwindSafe(|| unsafe { dispatch(v) })) {
        Ok(n) => n,
        // SAFETY: throws on the live VM that called us.
        Err(_) => unsafe {
            sq_throwerror(
                v,
                c"internal error in a KSR function (see the log)".as_ptr(),
            )
        },
    }
}

/// # Safety
/// Called only by [`trampoline`], with its stack.
#[inline(always)]
unsafe fn dispatch(v: HSQUIRRELVM) -> SQInteger {
    // SAFETY: all reads and pushes below are on the live calling VM, at
    // stack indices within 1..=top; strings borrowed from the stack stay
    // valid until this native returns, because the stack slots holding
    // them are not touched before then.
    unsafe {
        let top = sq_gettop(v);
        let mut index: SQInteger = -1;
        sq_getinteger(v, top, &mut index);
        let Some(export) = usize::try_from(index)
            .ok()
            .and_then(|i| registry::exports().get(i))
        else {
            return sq_throwerror(v, c"KSR function with no registry entry".as_ptr());
        };
        // Arguments given by the script: all but `this` and the index.
        let given = usize::try_from(top - 2).unwrap_or(0);
        let Some(host) = host_of(v) else {
            return sq_throwerror(v, c"KSR called on a VM without a host".as_ptr());
        };
        let ctx = host.ctx();
        if ctx.is_null() {
            // Only reachable if script code runs outside a call the
            // interpreter made (nothing does today).
            log::error(
                "sqlang",
                format_args!(
                    "{}() called with no callback running; refused",
                    export.script_path()
                ),
            );
            return push_ret(v, &export.refusal(), given);
        }
        // SAFETY (ctx): set by `Host::enter` from the `&mut Ctx` of the
        // call in progress on this thread, whose owner does not touch it
        // while `sq_call` runs; exports never run script code, so no other
        // reference to it exists while this one lives.
        let ctx = &mut *ctx;

        if given < export.params.len() {
            // The VM's count check rules this out; never read past the
            // arguments if it was not installed.
            return sq_throwerror(v, c"wrong number of parameters".as_ptr());
        }
        let extra = given - export.params.len();
        let wanted = export.params.len() + if export.rest.is_some() { extra } else { 0 };
        if export.rest.is_some() {
            // The VM's mask covers the declared parameters only.
            for i in export.params.len()..given {
                let t = sq_gettype(v, arg_slot(i));
                if t != OT_STRING {
                    return throw(
                        v,
                        &format!(
                            "parameter {} has an invalid type '{}' ; expected: 'string'",
                            i + 1,
                            type_name(t)
                        ),
                    );
                }
            }
        }

        let ret = if wanted <= INLINE_ARGS {
            let mut args = [Arg::Int(0); INLINE_ARGS];
            let mut all_utf8 = true;
            for (i, slot) in args.iter_mut().enumerate().take(wanted) {
                match read_arg(v, export, i) {
                    Some(a) => *slot = a,
                    None => {
                        all_utf8 = false;
                        break;
                    }
                }
            }
            if all_utf8 {
                export.invoke(ctx, &args[..wanted])
            } else {
                invoke_lossy(v, export, wanted, ctx)
            }
        } else {
            invoke_lossy(v, export, wanted, ctx)
        };

        if let Some(how) = ctx.take_unwind() {
            host.unwind.set(Some(how));
            return sq_throwerror(v, EXIT_MARKER_C.as_ptr());
        }
        push_ret(v, &ret, given)
    }
}

/// The stack slot of the script's argument `i` (0-based).
#[inline(always)]
fn arg_slot(i: usize) -> SQInteger {
    i as SQInteger + 2
}

/// Reads argument `i` as its declared type (rest arguments are strings).
/// `None` when a string is not UTF-8: the slow path converts it.
///
/// # Safety
/// Within [`dispatch`], with `i` below the number of arguments given.
#[inline(always)]
unsafe fn read_arg<'a>(v: HSQUIRRELVM, export: &Export, i: usize) -> Option<Arg<'a>> {
    let ty = export.params.get(i).map_or(ParamType::Str, |p| p.ty);
    // SAFETY: see `dispatch`.
    unsafe {
        match ty {
            ParamType::Int => Some(Arg::Int(read_int(v, arg_slot(i)))),
            ParamType::Str => std::str::from_utf8(stack_bytes(v, arg_slot(i)))
                .ok()
                .map(Arg::Str),
        }
    }
}

/// The slow path: some string argument is not UTF-8 (Squirrel strings are
/// bytes), or there are many arguments. Invalid sequences become U+FFFD.
///
/// # Safety
/// As [`read_arg`].
#[cold]
unsafe fn invoke_lossy(
    v: HSQUIRRELVM,
    export: &Export,
    wanted: usize,
    ctx: &mut crate::ctx::Ctx<'_>,
) -> Ret {
    enum Owned<'a> {
        Int(i64),
        Str(Cow<'a, str>),
    }
    let owned: Vec<Owned<'_>> = (0..wanted)
        .map(|i| {
            let ty = export.params.get(i).map_or(ParamType::Str, |p| p.ty);
            // SAFETY: see `dispatch`.
            unsafe {
                match ty {
                    ParamType::Int => Owned::Int(read_int(v, arg_slot(i))),
                    ParamType::Str => {
                        Owned::Str(String::from_utf8_lossy(stack_bytes(v, arg_slot(i))))
                    }
                }
            }
        })
        .collect();
    let args: Vec<Arg<'_>> = owned
        .iter()
        .map(|o| match o {
            Owned::Int(i) => Arg::Int(*i),
            Owned::Str(s) => Arg::Str(s),
        })
        .collect();
    export.invoke(ctx, &args)
}

/// An `int` parameter: integer as is, float truncated (saturating), bool as
/// 0/1. The mask admits nothing else; anything else reads as 0.
///
/// # Safety
/// `v` live, `idx` a valid stack index.
#[inline(always)]
unsafe fn read_int(v: HSQUIRRELVM, idx: SQInteger) -> i64 {
    let mut obj = HSQOBJECT::default();
    // SAFETY: a plain copy of the stack object; the union field read is the
    // one the type tag names.
    unsafe {
        sq_getstackobj(v, idx, &mut obj);
        match obj._type {
            OT_INTEGER => obj._unVal.nInteger,
            OT_FLOAT => obj._unVal.fFloat as i64,
            OT_BOOL => i64::from(obj._unVal.nInteger != 0),
            _ => 0,
        }
    }
}

/// The bytes of the string at `idx`, borrowed from the VM (empty if it is
/// not a string, which the parameter mask rules out).
///
/// # Safety
/// `v` live, `idx` a valid stack index; the slice must not outlive the
/// stack slot's value.
#[inline(always)]
unsafe fn stack_bytes<'a>(v: HSQUIRRELVM, idx: SQInteger) -> &'a [u8] {
    let mut p: *const SQChar = std::ptr::null();
    let mut len: SQInteger = 0;
    // SAFETY: out-parameters are valid; on success `len` bytes at `p` belong
    // to the string object in the slot.
    unsafe {
        if SQ_FAILED(sq_getstringandsize(v, idx, &mut p, &mut len)) || p.is_null() {
            return &[];
        }
        std::slice::from_raw_parts(p.cast::<u8>(), usize::try_from(len).unwrap_or(0))
    }
}

/// Pushes an export's result as Kamailio's app_sqlang does; returns 1 (one
/// value returned to the script).
///
/// # Safety
/// `v` live.
#[inline(always)]
pub(super) unsafe fn push_ret(v: HSQUIRRELVM, ret: &Ret, given: usize) -> SQInteger {
    // SAFETY: pushes one value on the live VM.
    unsafe {
        match ret {
            Ret::Int(i) | Ret::XVal(XVal::Int(i)) => sq_pushinteger(v, *i),
            Ret::Bool(b) => sq_pushbool(v, SQBool::from(*b)),
            Ret::XVal(XVal::Str(s)) => push_str(v, s),
            Ret::XVal(XVal::Null) => sq_pushnull(v),
            // KEMI's quirk: "no value" is `false` for a call without
            // arguments and `0` for one with arguments.
            Ret::None if given == 0 => sq_pushbool(v, SQFalse),
            Ret::None => sq_pushinteger(v, 0),
        }
    }
    1
}

/// Raises a script error with a Rust message.
///
/// # Safety
/// `v` live.
unsafe fn throw(v: HSQUIRRELVM, message: &str) -> SQInteger {
    // SAFETY: the VM copies the message into its own string.
    unsafe {
        push_str(v, message);
        sq_throwobject(v)
    }
}

/// Pushes a Rust string (length-exact: NULs and non-ASCII are kept).
///
/// # Safety
/// `v` live.
#[inline]
pub(super) unsafe fn push_str(v: HSQUIRRELVM, s: &str) {
    // SAFETY: the VM copies `len` bytes from `s`.
    unsafe { sq_pushstring(v, s.as_ptr().cast(), s.len() as SQInteger) }
}

/// `sq_newslot` at `idx`, named for the error.
///
/// # Safety
/// `v` live with a table at `idx` and a key and value on top.
unsafe fn new_slot(v: HSQUIRRELVM, idx: SQInteger, what: &str) -> Result<(), String> {
    // SAFETY: per the function contract.
    if SQ_FAILED(unsafe { sq_newslot(v, idx, SQFalse) }) {
        return Err(format!("cannot add `{what}` to KSR"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_follow_the_declared_parameters() {
        let seti = registry::find("pv", "seti").expect("pv.seti");
        assert_eq!(params_check(seti), (-3, ".si|f|b".to_owned()));
        let info = registry::find("", "info").expect("info");
        assert_eq!(params_check(info), (-2, ".s".to_owned()));
    }
}
