//! End-to-end tests of the bindings, the print shim and the interrupt guard
//! against the real Squirrel 3.1 VM.

use squirrel_sys::*;
use std::ffi::{CStr, CString};
use std::os::raw::c_int;
use std::time::{Duration, Instant};

/// Per-VM host state, reached from callbacks through `sq_getforeignptr`.
#[derive(Default)]
struct Host {
    out: String,
    err: String,
    compile_errors: Vec<CompileError>,
    line_events: u64,
}

#[derive(Debug, Clone)]
struct CompileError {
    desc: String,
    source: String,
    line: SQInteger,
    column: SQInteger,
}

unsafe fn host<'a>(v: HSQUIRRELVM) -> Option<&'a mut Host> {
    (sq_getforeignptr(v) as *mut Host).as_mut()
}

unsafe fn lossy(p: *const SQChar) -> String {
    if p.is_null() {
        String::new()
    } else {
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

unsafe extern "C" fn print_cb(v: HSQUIRRELVM, is_error: c_int, msg: *const SQChar, len: usize) {
    if let Some(h) = host(v) {
        let text = String::from_utf8_lossy(std::slice::from_raw_parts(msg.cast::<u8>(), len));
        if is_error != 0 {
            h.err.push_str(&text);
        } else {
            h.out.push_str(&text);
        }
    }
}

unsafe extern "C" fn compile_error_cb(
    v: HSQUIRRELVM,
    desc: *const SQChar,
    source: *const SQChar,
    line: SQInteger,
    column: SQInteger,
) {
    if let Some(h) = host(v) {
        h.compile_errors.push(CompileError {
            desc: lossy(desc),
            source: lossy(source),
            line,
            column,
        });
    }
}

enum Arg<'a> {
    Int(SQInteger),
    Str(&'a str),
}

/// Owns a VM with the standard libraries, the print shim and a compiler
/// error handler installed.
struct Vm {
    v: HSQUIRRELVM,
    host: *mut Host,
}

impl Vm {
    fn new() -> Vm {
        unsafe {
            let v = sq_open(1024);
            assert!(!v.is_null());
            let host: *mut Host = Box::into_raw(Box::default());
            sq_setforeignptr(v, host.cast());
            kemid_sq_set_print_callback(Some(print_cb));
            kemid_sq_install_print(v);

            sq_pushroottable(v);
            assert!(SQ_SUCCEEDED(sqstd_register_bloblib(v)));
            assert!(SQ_SUCCEEDED(sqstd_register_iolib(v)));
            assert!(SQ_SUCCEEDED(sqstd_register_mathlib(v)));
            assert!(SQ_SUCCEEDED(sqstd_register_stringlib(v)));
            assert!(SQ_SUCCEEDED(sqstd_register_systemlib(v)));
            sq_pop(v, 1);

            // Runtime errors: sqstdaux prints them through the error function.
            sqstd_seterrorhandlers(v);
            // Compile errors: our own handler (replaces sqstdaux's).
            sq_setcompilererrorhandler(v, Some(compile_error_cb));
            assert_eq!(sq_gettop(v), 0);
            Vm { v, host }
        }
    }

    fn host(&self) -> &Host {
        unsafe { &*self.host }
    }

    fn host_mut(&mut self) -> &mut Host {
        unsafe { &mut *self.host }
    }

    fn last_error(&self) -> String {
        unsafe {
            let top = sq_gettop(self.v);
            sq_getlasterror(self.v);
            let mut s: *const SQChar = std::ptr::null();
            let text = if SQ_SUCCEEDED(sq_getstring(self.v, -1, &mut s)) {
                lossy(s)
            } else {
                format!("<non-string error of type {:#x}>", sq_gettype(self.v, -1))
            };
            sq_settop(self.v, top);
            text
        }
    }

    /// Compiles `src` as `name` and runs the resulting top-level function
    /// with the root table as `this`.
    fn run(&self, name: &str, src: &str) -> Result<(), String> {
        let v = self.v;
        let name = CString::new(name).unwrap();
        unsafe {
            let top = sq_gettop(v);
            let r = sq_compilebuffer(
                v,
                src.as_ptr().cast(),
                src.len() as SQInteger,
                name.as_ptr(),
                SQTrue,
            );
            if SQ_FAILED(r) {
                let e = self.last_error();
                sq_settop(v, top);
                return Err(e);
            }
            sq_pushroottable(v);
            let r = sq_call(v, 1, SQFalse, SQTrue);
            let out = if SQ_FAILED(r) {
                Err(self.last_error())
            } else {
                Ok(())
            };
            sq_settop(v, top);
            out
        }
    }

    /// Calls the global function `func` with `this` = root table and leaves
    /// its result on the stack top; returns the stack height to restore.
    unsafe fn call_raw(&self, func: &str, args: &[Arg]) -> Result<SQInteger, String> {
        let v = self.v;
        let top = sq_gettop(v);
        sq_pushroottable(v);
        sq_pushstring(v, func.as_ptr().cast(), func.len() as SQInteger);
        if SQ_FAILED(sq_get(v, -2)) {
            sq_settop(v, top);
            return Err(format!("no global `{func}`"));
        }
        sq_pushroottable(v);
        for a in args {
            match a {
                Arg::Int(i) => sq_pushinteger(v, *i),
                Arg::Str(s) => sq_pushstring(v, s.as_ptr().cast(), s.len() as SQInteger),
            }
        }
        let r = sq_call(v, 1 + args.len() as SQInteger, SQTrue, SQTrue);
        if SQ_FAILED(r) {
            let e = self.last_error();
            // A failed call pops the arguments; the closure and root remain.
            assert_eq!(sq_gettop(v), top + 2, "stack after a failed call");
            sq_settop(v, top);
            return Err(e);
        }
        assert_eq!(sq_gettop(v), top + 3, "stack after a call");
        Ok(top)
    }

    fn call_int(&self, func: &str, args: &[Arg]) -> Result<SQInteger, String> {
        unsafe {
            let top = self.call_raw(func, args)?;
            let mut i: SQInteger = 0;
            let r = sq_getinteger(self.v, -1, &mut i);
            let ty = sq_gettype(self.v, -1);
            sq_settop(self.v, top);
            if SQ_FAILED(r) || ty != OT_INTEGER {
                return Err(format!("`{func}` returned type {ty:#x}, not an integer"));
            }
            Ok(i)
        }
    }

    fn call_float(&self, func: &str, args: &[Arg]) -> Result<SQFloat, String> {
        unsafe {
            let top = self.call_raw(func, args)?;
            let mut f: SQFloat = 0.0;
            let r = sq_getfloat(self.v, -1, &mut f);
            let ty = sq_gettype(self.v, -1);
            sq_settop(self.v, top);
            if SQ_FAILED(r) || ty != OT_FLOAT {
                return Err(format!("`{func}` returned type {ty:#x}, not a float"));
            }
            Ok(f)
        }
    }

    fn call_str(&self, func: &str, args: &[Arg]) -> Result<String, String> {
        unsafe {
            let top = self.call_raw(func, args)?;
            let mut obj = HSQOBJECT::default();
            assert!(SQ_SUCCEEDED(sq_getstackobj(self.v, -1, &mut obj)));
            let is_string = sq_isstring(&obj);
            let mut p: *const SQChar = std::ptr::null();
            let mut len: SQInteger = 0;
            let r = sq_getstringandsize(self.v, -1, &mut p, &mut len);
            let out = if is_string && SQ_SUCCEEDED(r) {
                let bytes = std::slice::from_raw_parts(p.cast::<u8>(), len as usize);
                Ok(String::from_utf8(bytes.to_vec()).expect("utf-8 from script"))
            } else {
                Err(format!("`{func}` did not return a string"))
            };
            sq_settop(self.v, top);
            out
        }
    }

    fn global_int(&self, name: &str) -> SQInteger {
        unsafe {
            let v = self.v;
            let top = sq_gettop(v);
            sq_pushroottable(v);
            sq_pushstring(v, name.as_ptr().cast(), name.len() as SQInteger);
            assert!(SQ_SUCCEEDED(sq_get(v, -2)), "no global `{name}`");
            let mut i: SQInteger = 0;
            assert!(SQ_SUCCEEDED(sq_getinteger(v, -1, &mut i)));
            sq_settop(v, top);
            i
        }
    }

    /// Registers `f` as global `name` with `nfree` free variables already
    /// pushed by `push_free`, and an optional parameter check.
    fn register(
        &self,
        name: &str,
        f: SQFUNCTION,
        push_free: impl FnOnce(HSQUIRRELVM) -> SQUnsignedInteger,
        check: Option<(SQInteger, &str)>,
    ) {
        unsafe {
            let v = self.v;
            let top = sq_gettop(v);
            sq_pushroottable(v);
            sq_pushstring(v, name.as_ptr().cast(), name.len() as SQInteger);
            let nfree = push_free(v);
            sq_newclosure(v, f, nfree);
            if let Some((n, mask)) = check {
                let mask = CString::new(mask).unwrap();
                assert!(SQ_SUCCEEDED(sq_setparamscheck(v, n, mask.as_ptr())));
            }
            let cname = CString::new(name).unwrap();
            assert!(SQ_SUCCEEDED(sq_setnativeclosurename(v, -1, cname.as_ptr())));
            assert!(SQ_SUCCEEDED(sq_newslot(v, -3, SQFalse)));
            sq_settop(v, top);
        }
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        unsafe {
            kemid_sq_interrupt_disarm();
            sq_close(self.v);
            drop(Box::from_raw(self.host));
        }
    }
}

const LIB: &str = r#"
function add(a, b) { return a + b; }
function greet(name) { return "hello, " + name + "!"; }
function half(x) { return x / 2.0; }
function spin() { while (true) {} }
"#;

#[test]
fn version_and_type_sizes() {
    use std::mem::size_of;
    assert_eq!(unsafe { sq_getversion() }, 310);
    assert_eq!(SQUIRREL_VERSION_NUMBER, 310);
    assert_eq!(size_of::<SQInteger>(), 8);
    assert_eq!(size_of::<SQUnsignedInteger>(), 8);
    assert_eq!(size_of::<SQBool>(), 8);
    assert_eq!(size_of::<SQChar>(), 1);
    assert_eq!(size_of::<SQFloat>(), 4);
    assert_eq!(size_of::<HSQOBJECT>(), 16);
    let msg = unsafe { CStr::from_ptr(kemid_sq_interrupt_message()) };
    assert_eq!(msg.to_str().unwrap(), KEMID_SQ_INTERRUPT_MESSAGE);
}

#[test]
fn runs_scripts_and_reads_results() {
    let vm = Vm::new();
    vm.run("lib.nut", LIB).unwrap();
    assert_eq!(vm.call_int("add", &[Arg::Int(40), Arg::Int(2)]), Ok(42));
    assert_eq!(
        vm.call_int("add", &[Arg::Int(i64::MAX - 1), Arg::Int(1)]),
        Ok(i64::MAX),
        "SQInteger is 64-bit"
    );
    assert_eq!(
        vm.call_str("greet", &[Arg::Str("kemid")]).as_deref(),
        Ok("hello, kemid!")
    );
    assert_eq!(vm.call_float("half", &[Arg::Int(5)]), Ok(2.5));
    assert!(vm.call_int("greet", &[Arg::Str("x")]).is_err());
    assert_eq!(unsafe { sq_gettop(vm.v) }, 0);
}

#[test]
fn standard_libraries_are_registered() {
    let vm = Vm::new();
    vm.run(
        "std.nut",
        r#"
        function probe() {
            return format("%d-%s", 7, "x") + "|" + sqrt(16).tointeger() + "|" + blob(4).len()
                + "|" + typeof clock() + "|" + typeof stdout + "|" + regexp("a+").match("aaa");
        }
        "#,
    )
    .unwrap();
    assert_eq!(
        vm.call_str("probe", &[]).as_deref(),
        Ok("7-x|4|4|float|file|true")
    );
}

#[test]
fn print_and_error_output_is_captured() {
    let vm = Vm::new();
    vm.run(
        "print.nut",
        r#"
        print("hello " + 42 + "\n");
        error("to stderr\n");
        local s = "";
        for (local i = 0; i < 3000; i++) s += "ab";
        print(s);
        "#,
    )
    .unwrap();
    let h = vm.host();
    assert!(
        h.out.starts_with("hello 42\n"),
        "{:?}",
        &h.out[..20.min(h.out.len())]
    );
    assert_eq!(
        h.out.len(),
        "hello 42\n".len() + 6000,
        "long message must not be truncated"
    );
    assert!(h.out.ends_with("abab"));
    assert_eq!(h.err, "to stderr\n");
}

#[test]
fn runtime_error_is_reported_and_vm_survives() {
    let vm = Vm::new();
    vm.run("lib.nut", LIB).unwrap();
    let err = vm
        .run(
            "boom.nut",
            "function boom() { return nosuchvar + 1; }\nboom();\n",
        )
        .unwrap_err();
    assert_eq!(err, "the index 'nosuchvar' does not exist");
    // sqstdaux's handler printed the error and the call stack via the shim.
    let h = vm.host();
    assert!(
        h.err
            .contains("AN ERROR HAS OCCURRED [the index 'nosuchvar' does not exist]"),
        "{}",
        h.err
    );
    assert!(h.err.contains("boom.nut"), "{}", h.err);
    assert_eq!(vm.call_int("add", &[Arg::Int(1), Arg::Int(2)]), Ok(3));
}

#[test]
fn compile_error_reports_line_through_handler() {
    let mut vm = Vm::new();
    let src = "local a = 1;\nlocal b = 2;\nlocal c = = 3;\n";
    let err = vm.run("broken.nut", src).unwrap_err();
    let errors = vm.host().compile_errors.clone();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let e = &errors[0];
    assert_eq!(e.source, "broken.nut");
    assert_eq!(e.line, 3);
    assert!(e.column > 0);
    assert_eq!(e.desc, "expression expected");
    assert_eq!(err, e.desc, "last error is the compiler's message");

    // Without raiseerror the handler is not called, the error still is set.
    vm.host_mut().compile_errors.clear();
    let bad = "function f( {";
    let name = CString::new("quiet.nut").unwrap();
    let r = unsafe {
        sq_compilebuffer(
            vm.v,
            bad.as_ptr().cast(),
            bad.len() as SQInteger,
            name.as_ptr(),
            SQFalse,
        )
    };
    assert_eq!(r, SQ_ERROR);
    assert!(vm.host().compile_errors.is_empty());
    assert!(!vm.last_error().is_empty());
}

/// `scaled(x)`: returns `free * 1000 + x`, where `free` is the closure's
/// free variable.
unsafe extern "C" fn scaled(v: HSQUIRRELVM) -> SQInteger {
    // Stack: 1 = this, 2 = x (checked by the type mask), 3 = free variable.
    if sq_gettop(v) != 3 {
        return sq_throwerror(v, c"unexpected stack height".as_ptr());
    }
    let mut x: SQInteger = 0;
    let mut free: SQInteger = 0;
    if SQ_FAILED(sq_getinteger(v, 2, &mut x)) || SQ_FAILED(sq_getinteger(v, 3, &mut free)) {
        return sq_throwerror(v, c"bad arguments".as_ptr());
    }
    sq_pushinteger(v, free * 1000 + x);
    1
}

#[test]
fn native_closure_with_free_variable_and_param_check() {
    let vm = Vm::new();
    vm.register(
        "scaled",
        Some(scaled),
        |v| {
            unsafe { sq_pushinteger(v, 42) };
            1
        },
        Some((2, ".i")),
    );
    vm.run(
        "native.nut",
        r#"
        function use_native(x) { return scaled(x); }
        function wrong_type() {
            try { scaled("seven"); } catch (e) { return "caught: " + e; }
            return "no error";
        }
        function wrong_count() { return scaled(1, 2); }
        "#,
    )
    .unwrap();
    assert_eq!(vm.call_int("use_native", &[Arg::Int(7)]), Ok(42_007));
    assert_eq!(
        vm.call_str("wrong_type", &[]).as_deref(),
        Ok("caught: parameter 1 has an invalid type 'string' ; expected: 'integer'")
    );
    assert_eq!(
        vm.call_int("wrong_count", &[]),
        Err("wrong number of parameters".to_string())
    );
    // Calling the native directly from Rust with a bad argument: an error,
    // not a crash.
    assert_eq!(
        vm.call_int("scaled", &[Arg::Str("x")]),
        Err("parameter 1 has an invalid type 'string' ; expected: 'integer'".to_string())
    );
    assert_eq!(vm.call_int("scaled", &[Arg::Int(1)]), Ok(42_001));
}

// ---- runaway scripts ------------------------------------------------------

unsafe extern "C" fn deadline_passed(_v: HSQUIRRELVM, userdata: SQUserPointer) -> SQBool {
    let deadline = &*(userdata as *const Instant);
    SQBool::from(Instant::now() >= *deadline)
}

/// Runs `f` with the guard armed; returns the result, whether the guard
/// tripped, and the elapsed time. Always disarms.
fn guarded<T>(
    interval: SQInteger,
    cb: kemid_sq_interrupt_cb,
    ud: SQUserPointer,
    f: impl FnOnce() -> T,
) -> (T, bool, Duration) {
    let t0 = Instant::now();
    unsafe { kemid_sq_interrupt_arm(interval, cb, ud) };
    let out = f();
    let tripped = unsafe { kemid_sq_interrupt_tripped() } != 0;
    unsafe { kemid_sq_interrupt_disarm() };
    (out, tripped, t0.elapsed())
}

#[test]
fn deadline_stops_infinite_loop_and_vm_stays_usable() {
    let vm = Vm::new();
    vm.run("lib.nut", LIB).unwrap();
    for round in 0..3 {
        let deadline = Instant::now() + Duration::from_millis(150);
        let (res, tripped, elapsed) = guarded(
            10_000,
            Some(deadline_passed),
            &deadline as *const Instant as SQUserPointer,
            || vm.call_int("spin", &[]),
        );
        assert_eq!(
            res,
            Err(KEMID_SQ_INTERRUPT_MESSAGE.to_string()),
            "round {round}"
        );
        assert!(tripped);
        assert!(elapsed >= Duration::from_millis(150), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
        assert_eq!(unsafe { sq_gettop(vm.v) }, 0);
        // The VM still works after the interruption.
        assert_eq!(vm.call_int("add", &[Arg::Int(2), Arg::Int(3)]), Ok(5));
        assert_eq!(
            vm.call_str("greet", &[Arg::Str("again")]).as_deref(),
            Ok("hello, again!")
        );
    }
    assert!(
        vm.host().err.contains(KEMID_SQ_INTERRUPT_MESSAGE),
        "sqstdaux reported it"
    );
}

#[test]
fn budget_cannot_be_swallowed_by_try_catch() {
    let vm = Vm::new();
    vm.run("lib.nut", LIB).unwrap();
    vm.run(
        "sneaky.nut",
        r#"
        caught <- 0;
        function sneaky(unused) {
            while (true) {
                try { while (true) {} } catch (e) { caught++; }
            }
        }
        function rec(n) { return rec(n + 1); }   // tail call: no stack growth
        function deep(n) { return 1 + deep(n + 1); }
        "#,
    )
    .unwrap();
    for f in ["sneaky", "rec", "deep"] {
        let (res, tripped, _) = guarded(2_000_000, None, std::ptr::null_mut(), || {
            vm.call_int(f, &[Arg::Int(0)])
        });
        assert_eq!(res, Err(KEMID_SQ_INTERRUPT_MESSAGE.to_string()), "{f}");
        assert!(tripped, "{f}");
        assert_eq!(vm.global_int("caught"), 0, "{f}: a catch block ran");
        assert_eq!(vm.call_int("add", &[Arg::Int(20), Arg::Int(22)]), Ok(42));
    }
    // Disarmed (and under budget) the same VM runs code normally.
    let (res, tripped, _) = guarded(2_000_000, None, std::ptr::null_mut(), || {
        vm.call_int("add", &[Arg::Int(1), Arg::Int(1)])
    });
    assert_eq!(res, Ok(2));
    assert!(!tripped);
}

/// `call_back(f)`: calls the script function `f` from native code.
unsafe extern "C" fn call_back(v: HSQUIRRELVM) -> SQInteger {
    sq_push(v, 2);
    sq_pushroottable(v);
    if SQ_FAILED(sq_call(v, 1, SQFalse, SQTrue)) {
        return SQ_ERROR; // re-raises the VM's last error in the caller
    }
    0
}

/// `stop_now()`: trips the guard from native code.
unsafe extern "C" fn stop_now(_v: HSQUIRRELVM) -> SQInteger {
    kemid_sq_interrupt_trip();
    0
}

#[test]
fn interruption_crosses_native_frames_and_can_be_tripped_natively() {
    let vm = Vm::new();
    vm.run("lib.nut", LIB).unwrap();
    vm.register("call_back", Some(call_back), |_| 0, Some((2, ".c")));
    vm.register("stop_now", Some(stop_now), |_| 0, None);
    vm.run(
        "nested.nut",
        r#"
        caught <- 0;
        iterations <- 0;
        function outer() {
            try { call_back(function() { while (true) {} }); } catch (e) { caught++; }
            return "survived";
        }
        function self_stop() {
            while (true) { iterations++; if (iterations == 1000) stop_now(); }
        }
        "#,
    )
    .unwrap();
    let (res, tripped, _) = guarded(1_000_000, None, std::ptr::null_mut(), || {
        vm.call_str("outer", &[])
    });
    assert_eq!(res, Err(KEMID_SQ_INTERRUPT_MESSAGE.to_string()));
    assert!(tripped);
    assert_eq!(vm.global_int("caught"), 0);

    let (res, tripped, _) = guarded(1 << 40, None, std::ptr::null_mut(), || {
        vm.call_int("self_stop", &[])
    });
    assert_eq!(res, Err(KEMID_SQ_INTERRUPT_MESSAGE.to_string()));
    assert!(tripped);
    assert_eq!(vm.global_int("iterations"), 1000);
    assert_eq!(vm.call_int("add", &[Arg::Int(3), Arg::Int(4)]), Ok(7));

    // Tripping while disarmed does nothing.
    unsafe { kemid_sq_interrupt_trip() };
    assert_eq!(unsafe { kemid_sq_interrupt_tripped() }, SQFalse);
    assert_eq!(vm.call_int("add", &[Arg::Int(3), Arg::Int(4)]), Ok(7));
}

/// A debug hook that tries to stop the script the way the C API suggests.
unsafe extern "C" fn throwing_hook(
    v: HSQUIRRELVM,
    event: SQInteger,
    _source: *const SQChar,
    _line: SQInteger,
    _func: *const SQChar,
) {
    if event == SQInteger::from(b'l') {
        if let Some(h) = host(v) {
            h.line_events += 1;
        }
        sq_throwerror(v, c"stop from debug hook".as_ptr());
    }
}

/// Documents why the interrupt guard exists: stock Squirrel 3.1's debug hook
/// cannot stop a script, and never runs inside a one-line loop.
#[test]
fn debug_hook_alone_cannot_stop_a_loop() {
    let mut vm = Vm::new();
    unsafe {
        sq_enabledebuginfo(vm.v, SQTrue);
        sq_setnativedebughook(vm.v, Some(throwing_hook));
    }
    vm.run(
        "hooked.nut",
        r#"
        function multi_line() {
            local i = 0;
            while (true) {
                i++;
            }
        }
        function one_line() { while (true) {} }
        "#,
    )
    .unwrap();

    vm.host_mut().line_events = 0;
    let (res, tripped, _) = guarded(2_000_000, None, std::ptr::null_mut(), || {
        vm.call_int("multi_line", &[])
    });
    // The hook "threw" on every line, yet only the guard ended the loop.
    assert!(tripped);
    assert_eq!(res, Err(KEMID_SQ_INTERRUPT_MESSAGE.to_string()));
    assert!(vm.host().line_events > 10_000, "{}", vm.host().line_events);

    vm.host_mut().line_events = 0;
    let (res, tripped, _) = guarded(2_000_000, None, std::ptr::null_mut(), || {
        vm.call_int("one_line", &[])
    });
    assert!(tripped);
    assert_eq!(res, Err(KEMID_SQ_INTERRUPT_MESSAGE.to_string()));
    // Two million instructions, but no line event inside the loop.
    assert!(vm.host().line_events <= 2, "{}", vm.host().line_events);

    unsafe { sq_setnativedebughook(vm.v, None) };
}
