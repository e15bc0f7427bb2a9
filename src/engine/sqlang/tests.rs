//! The Squirrel engine against the real VM: binding, argument checks,
//! return values, errors and their lines, exit, the budget.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use squirrel_sys::*;

use super::*;
use crate::engine::Interpreter;
use crate::log::{self, Level};
use crate::sip::SipMsg;
use crate::transport::{Proto, RecvInfo};

const OPTIONS: &str = "OPTIONS sip:kemid@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-sq;rport\r\n\
From: <sip:tester@127.0.0.1>;tag=t1\r\n\
To: <sip:kemid@127.0.0.1>\r\n\
Call-ID: sq-1@127.0.0.1\r\n\
CSeq: 1 OPTIONS\r\n\
Content-Length: 0\r\n\r\n";

fn recv() -> RecvInfo {
    RecvInfo {
        proto: Proto::Udp,
        src: "127.0.0.1:5070".parse().expect("address"),
        local: "127.0.0.1:5060".parse().expect("address"),
        conn: None,
    }
}

fn source(text: &str) -> ScriptSource {
    ScriptSource {
        path: PathBuf::from("t.nut"),
        text: text.to_owned(),
    }
}

fn load_with(text: &str, config: &EngineConfig) -> Result<SqInterpreter, ScriptError> {
    let mut worker = WorkerLocal::default();
    SqInterpreter::load(&source(text), config, &mut worker)
}

fn load(text: &str) -> SqInterpreter {
    match load_with(text, &EngineConfig::default()) {
        Ok(i) => i,
        Err(e) => panic!("load failed: {e}"),
    }
}

/// Calls `name` with a message, returning the outcome and what it logged.
fn call(interp: &mut SqInterpreter, name: &str, arg: Option<&str>) -> (Outcome, Vec<String>) {
    log::set_level(Level::Dbg as i32);
    let mut worker = WorkerLocal::default();
    let (outcome, lines) = log::capture(|| {
        let mut msg = SipMsg::parse(OPTIONS.as_bytes()).expect("test message");
        let mut ctx = Ctx::for_message(&mut worker, &mut msg, recv());
        interp.call(&mut ctx, name, arg)
    });
    let lines = lines
        .into_iter()
        .map(|(l, t)| format!("{} {t}", l.name()))
        .collect();
    (outcome, lines)
}

fn route(interp: &mut SqInterpreter) -> (Outcome, Vec<String>) {
    call(interp, "ksr_request_route", None)
}

fn failed(outcome: Outcome) -> ScriptError {
    match outcome {
        Outcome::Failed(e) => e,
        other => panic!("expected a failure, got {other:?}"),
    }
}

fn top(interp: &SqInterpreter) -> SQInteger {
    // SAFETY: reads the height of the interpreter's live VM.
    unsafe { sq_gettop(interp.vm.v) }
}

#[test]
fn ksr_has_app_sqlang_shape() {
    let mut i = load(
        r#"
        function ksr_request_route() {
            KSR.info(typeof KSR + " " + typeof KSR.pv + " " + typeof KSR.x + " "
                + typeof KSR.info + " " + typeof KSR.pv.get + " " + typeof KSR.x.exit);
            KSR.info(("KSR_pv" in getroottable()) + " " + ("pv" in KSR) + " " + ("get" in KSR));
        }
        "#,
    );
    let (o, logs) = route(&mut i);
    assert_eq!(o, Outcome::Returned);
    assert_eq!(
        logs,
        [
            "INFO script: table table table function function function",
            "INFO script: false true false",
        ]
    );
}

#[test]
fn return_values_follow_kemi() {
    let mut i = load(
        r#"
        function show(v) { return typeof v + ":" + (v == null ? "null" : v); }
        function ksr_request_route() {
            KSR.info(show(KSR.info("x")));
            KSR.info(show(KSR.pv.seti("$var(n)", 7)));
            KSR.info(show(KSR.pv.get("$var(n)")));
            KSR.info(show(KSR.pv.sets("$var(s)", "abc")));
            KSR.info(show(KSR.pv.get("$var(s)")));
            KSR.info(show(KSR.pv.geti("$var(s)")));
            KSR.info(show(KSR.pv.get("$nosuch(x)")));
            KSR.info(show(KSR.get_debug()));
        }
        "#,
    );
    let (o, logs) = route(&mut i);
    assert_eq!(o, Outcome::Returned);
    assert_eq!(
        logs,
        [
            "INFO script: x",
            "INFO script: integer:0",
            "INFO script: bool:true",
            "INFO script: integer:7",
            "INFO script: bool:true",
            "INFO script: string:abc",
            "INFO script: integer:0",
            logs[7].as_str(),
            "INFO script: null:null",
            "INFO script: integer:3",
        ]
    );
    assert!(logs[7].starts_with("ERROR pv: "), "{}", logs[7]);
}

#[test]
fn no_value_is_false_without_arguments_and_zero_with() {
    let vm = Vm::open().expect("vm");
    // SAFETY: pushes onto a live VM and reads the values back.
    unsafe {
        bind::push_ret(vm.v, &crate::registry::Ret::None, 0);
        bind::push_ret(vm.v, &crate::registry::Ret::None, 2);
        assert_eq!(sq_gettype(vm.v, -2), OT_BOOL);
        let mut b: SQBool = 1;
        assert!(SQ_SUCCEEDED(sq_getbool(vm.v, -2, &mut b)));
        assert_eq!(b, SQFalse);
        assert_eq!(sq_gettype(vm.v, -1), OT_INTEGER);
        let mut n: SQInteger = 1;
        assert!(SQ_SUCCEEDED(sq_getinteger(vm.v, -1, &mut n)));
        assert_eq!(n, 0);
    }
}

#[test]
fn int_parameters_take_floats_and_bools_extra_arguments_are_ignored() {
    let mut i = load(
        r#"
        function ksr_request_route() {
            KSR.pv.seti("$var(f)", 2.9);
            KSR.pv.seti("$var(t)", true);
            KSR.pv.seti("$var(n)", -1.5);
            KSR.info("f=" + KSR.pv.get("$var(f)") + " t=" + KSR.pv.get("$var(t)")
                + " n=" + KSR.pv.get("$var(n)"), "ignored", 3);
        }
        "#,
    );
    let (o, logs) = route(&mut i);
    assert_eq!(o, Outcome::Returned);
    assert_eq!(logs, ["INFO script: f=2 t=1 n=-1"]);
}

#[test]
fn wrong_argument_type_is_a_script_error_at_the_line() {
    let mut i = load(
        "function ksr_request_route() {\n    local n = 42;\n    KSR.info(n);\n    KSR.info(\"not reached\");\n}\n",
    );
    let (o, logs) = route(&mut i);
    let e = failed(o);
    assert_eq!((e.file.as_str(), e.line), ("t.nut", 3));
    assert_eq!(
        e.message,
        "parameter 1 has an invalid type 'integer' ; expected: 'string'"
    );
    assert_eq!(e.stack, "  at ksr_request_route (t.nut:3)");
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert!(
        logs[0].starts_with("ERROR sqlang: t.nut:3: parameter 1 has an invalid type"),
        "{logs:?}"
    );

    for (call, message) in [
        (
            "KSR.pv.seti(\"$var(x)\", \"7\")",
            "parameter 2 has an invalid type 'string' ; expected: 'integer|float|bool'",
        ),
        ("KSR.pv.sets(\"$var(x)\")", "wrong number of parameters"),
        ("KSR.info()", "wrong number of parameters"),
        (
            "KSR.info(null)",
            "parameter 1 has an invalid type 'null' ; expected: 'string'",
        ),
        (
            "KSR.x.modf(\"f\", \"a\", 3)",
            "parameter 3 has an invalid type 'integer' ; expected: 'string'",
        ),
    ] {
        let mut i = load(&format!("function ksr_request_route() {{\n  {call};\n}}\n"));
        let e = failed(route(&mut i).0);
        assert_eq!((e.line, e.message.as_str()), (2, message), "{call}");
    }
}

#[test]
fn errors_carry_the_innermost_line_and_the_stack() {
    let mut i = load(
        r#"function helper(x) {
    return x.nosuch;
}
function middle() {
    local r = helper({});
    return r;
}
function ksr_request_route() {
    KSR.info("before");
    middle();
}
function tail() {
    // A tail call replaces the caller's frame, as Squirrel does.
    return helper(null);
}
"#,
    );
    let before = top(&i);
    let (o, logs) = route(&mut i);
    let e = failed(o);
    assert_eq!(e.line, 2);
    assert_eq!(e.message, "the index 'nosuch' does not exist");
    assert_eq!(
        e.stack,
        "  at helper (t.nut:2)\n  at middle (t.nut:5)\n  at ksr_request_route (t.nut:10)"
    );
    assert_eq!(logs.len(), 2, "logged once: {logs:?}");
    assert_eq!(
        logs[1],
        format!("ERROR sqlang: {e}"),
        "the log shows file:line, message and stack"
    );
    assert_eq!(top(&i), before, "stack restored");
    // Still usable.
    assert_eq!(route(&mut i).1[0], "INFO script: before");
    let e = failed(call(&mut i, "tail", None).0);
    assert_eq!(e.stack, "  at helper (t.nut:2)");
}

#[test]
fn errors_inside_functions_called_by_natives_keep_their_line() {
    let mut i = load(
        r#"function cmp(a, b) {
    return a.x <=> b.x;
}
function inner() {
    throw "from inner";
}
function ksr_request_route() {
    [3, 1].sort(cmp);
}
function ksr_call() {
    inner.call(this);
}
class Point {
    x = 0;
    constructor(v) {
        x = v.nosuch;
    }
}
function construct() {
    local p = Point({});
}
function caught_then_other() {
    try { [3, 1].sort(cmp); } catch (e) {}
    return wrong;
}
"#,
    );
    let e = failed(route(&mut i).0);
    assert_eq!(
        (e.line, e.message.as_str()),
        (2, "the index 'x' does not exist")
    );
    let e = failed(call(&mut i, "ksr_call", None).0);
    assert_eq!((e.line, e.message.as_str()), (5, "from inner"));
    assert!(e.stack.contains("at inner (t.nut:5)"), "{}", e.stack);
    assert!(e.stack.contains("at ksr_call (t.nut:11)"), "{}", e.stack);
    let e = failed(call(&mut i, "construct", None).0);
    assert_eq!(
        (e.line, e.message.as_str()),
        (16, "the index 'nosuch' does not exist")
    );
    let e = failed(call(&mut i, "caught_then_other", None).0);
    assert_eq!(
        (e.line, e.message.as_str()),
        (24, "the index 'wrong' does not exist")
    );
    assert_eq!(e.stack, "  at caught_then_other (t.nut:24)");
}

#[test]
fn thrown_values_of_any_type_are_reported() {
    let mut i = load(
        "function ksr_request_route() { throw 42; }\nfunction t() { throw {a = 1}; }\nfunction n() { throw null; }\n",
    );
    assert_eq!(failed(route(&mut i).0).message, "42");
    assert_eq!(
        failed(call(&mut i, "t", None).0).message,
        "a value of type table was thrown"
    );
    assert_eq!(failed(call(&mut i, "n", None).0).message, "null was thrown");
}

#[test]
fn exit_and_drop_end_the_callback_silently() {
    let mut i = load(
        r#"
        function ksr_request_route() { KSR.info("a"); KSR.x.exit(); KSR.info("b"); }
        function dropper() { KSR.x.drop(); KSR.info("b"); }
        function deep() { local f = function() { KSR.x.exit(); }; f(); KSR.info("b"); }
        "#,
    );
    assert_eq!(
        route(&mut i),
        (Outcome::Exit, vec!["INFO script: a".into()])
    );
    assert_eq!(call(&mut i, "dropper", None), (Outcome::Drop, vec![]));
    assert_eq!(call(&mut i, "deep", None), (Outcome::Exit, vec![]));
}

#[test]
fn caught_exit_is_not_an_exit_later() {
    let mut i = load(
        r#"
        function caught() {
            try { KSR.x.exit(); } catch (e) { KSR.info("caught " + e); }
        }
        function caught_then_error() {
            try { KSR.x.drop(); } catch (e) {}
            local t = {};
            return t.missing;
        }
        function rethrown() {
            try { KSR.x.exit(); } catch (e) { throw e; }
        }
        function ksr_request_route() { return nosuch; }
        "#,
    );
    assert_eq!(
        call(&mut i, "caught", None),
        (
            Outcome::Returned,
            vec!["INFO script: caught ~~ksr~exit~~".into()]
        )
    );
    let e = failed(call(&mut i, "caught_then_error", None).0);
    assert_eq!(
        (e.line, e.message.as_str()),
        (8, "the index 'missing' does not exist")
    );
    assert_eq!(call(&mut i, "rethrown", None).0, Outcome::Exit);
    // A marker thrown by the script itself, without KSR.x.exit(), is an
    // error: the flag decides, as in app_sqlang.
    let mut j = load("function ksr_request_route() { throw \"~~ksr~exit~~\"; }");
    assert_eq!(failed(route(&mut j).0).message, "~~ksr~exit~~");
    // The flag of an exit in one call does not leak into the next.
    assert_eq!(failed(route(&mut i).0).line, 13);
}

#[test]
fn missing_callbacks_are_silent_and_non_functions_are_missing() {
    let mut i = load("function ksr_request_route() {}\nksr_reply_route <- 5;\n");
    assert_eq!(
        call(&mut i, "ksr_onsend_route", None),
        (Outcome::Missing, vec![])
    );
    assert_eq!(
        call(&mut i, "ksr_reply_route", None),
        (Outcome::Missing, vec![])
    );
    assert!(i.has_function("ksr_request_route"));
    assert!(!i.has_function("ksr_reply_route"));
    assert!(!i.has_function("nosuch"));
    assert!(!i.has_function("KSR"));
}

#[test]
fn event_callbacks_get_the_event_name() {
    let mut i = load(
        "function ksr_request_route() {}\nfunction ksr_htable_event(evname) { KSR.info(\"event \" + evname); }\n",
    );
    assert_eq!(
        call(&mut i, "ksr_htable_event", Some("htable:mod-init")),
        (
            Outcome::Returned,
            vec!["INFO script: event htable:mod-init".into()]
        )
    );
    // Called without its parameter: Squirrel refuses, as Kamailio's would.
    let e = failed(call(&mut i, "ksr_htable_event", None).0);
    assert_eq!(e.message, "wrong number of parameters");
}

#[test]
fn globals_persist_across_calls() {
    let mut i = load("::n <- 0;\nfunction ksr_request_route() { ::n++; KSR.info(\"n=\" + n); }\n");
    for k in 1..=3 {
        assert_eq!(route(&mut i).1, [format!("INFO script: n={k}")]);
    }
}

#[test]
fn top_level_runs_once_without_a_message() {
    log::set_level(Level::Dbg as i32);
    let (loaded, logs) = log::capture(|| {
        load_with(
            r#"
            KSR.info("top level");
            KSR.x.modf("sl_send_reply", "404", "Not Found");
            KSR.x.drop();
            print("printed\n");
            error("to error\n");
            function ksr_request_route() {}
            KSR.x.exit();
            KSR.info("not reached");
            "#,
            &EngineConfig::default(),
        )
    });
    assert!(loaded.is_ok(), "an exit ends the top level, not the load");
    assert_eq!(logs.len(), 5, "{logs:?}");
    assert_eq!(logs[0], (Level::Info, "script: top level".into()));
    assert!(logs[1]
        .1
        .starts_with("kemi: KSR.x.modf() needs a SIP message"));
    assert!(logs[2]
        .1
        .starts_with("kemi: KSR.x.drop() needs a SIP message"));
    assert_eq!(logs[3], (Level::Info, "sqlang: printed".into()));
    assert_eq!(logs[4], (Level::Err, "sqlang: to error".into()));
}

#[test]
fn load_errors_have_positions() {
    let e = load_with(
        "function ksr_request_route() {\n  local x = ;\n}\n",
        &EngineConfig::default(),
    )
    .err()
    .expect("syntax error");
    assert_eq!((e.file.as_str(), e.line), ("t.nut", 2));
    assert!(e.column > 0);
    assert_eq!(e.message, "expression expected");

    let e = load_with("local a = 1;\nlocal b = a.c;\n", &EngineConfig::default())
        .err()
        .expect("runtime error");
    assert_eq!(
        (e.line, e.message.as_str()),
        (2, "the index 'c' does not exist")
    );
    assert_eq!(e.stack, "  at main (t.nut:2)");
}

#[test]
fn runaway_scripts_stop_at_the_budget_and_the_vm_keeps_serving() {
    let config = EngineConfig {
        budget: Duration::from_millis(50),
        ..EngineConfig::default()
    };
    let mut i = load_with(
        r#"
        ::served <- 0;
        function ksr_request_route() { ::served++; KSR.info("served " + served); }
        function spin() {
            while (true) {
                try { while (true) {} } catch (e) { KSR.info("caught " + e); }
            }
        }
        function deep(n) { return 1 + deep(n + 1); }
        "#,
        &config,
    )
    .expect("loads");
    let before = top(&i);
    for round in 1..=2 {
        let t0 = Instant::now();
        let (o, logs) = call(&mut i, "spin", None);
        let elapsed = t0.elapsed();
        let e = failed(o);
        assert_eq!(
            e.message,
            "stopped after 50 ms: the script ran past its execution budget (endless loop?)"
        );
        assert_eq!(e.line, 6);
        assert!(elapsed >= Duration::from_millis(50), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
        assert_eq!(logs.len(), 1, "logged once, never caught: {logs:?}");
        assert_eq!(top(&i), before);
        assert_eq!(
            route(&mut i),
            (
                Outcome::Returned,
                vec![format!("INFO script: served {round}")]
            )
        );
    }

    let e = load_with(
        "while (true) {}\nfunction ksr_request_route() {}\n",
        &config,
    )
    .err()
    .expect("top level stopped");
    assert!(
        e.message.starts_with("stopped after 50 ms"),
        "{}",
        e.message
    );
}

#[test]
fn coroutines_reach_the_same_host() {
    let mut i = load(
        r#"
        function ksr_request_route() {
            local t = newthread(function() { KSR.info("in thread"); print("printed\n"); });
            t.call();
        }
        "#,
    );
    assert_eq!(
        route(&mut i),
        (
            Outcome::Returned,
            vec![
                "INFO script: in thread".into(),
                "INFO sqlang: printed".into()
            ]
        )
    );
}

#[test]
fn non_utf8_strings_are_passed_lossily() {
    let mut i = load("function ksr_request_route() { KSR.info(\"a\\xffb\"); }");
    assert_eq!(route(&mut i).1, ["INFO script: a\u{fffd}b"]);
}

#[test]
fn only_loaded_modules_are_bound() {
    let config = EngineConfig {
        loaded_modules: vec!["nosuchmodule".into()],
        ..EngineConfig::default()
    };
    let mut i = load_with(
        "function ksr_request_route() { KSR.info(typeof KSR.pv + \" \" + (\"tm\" in KSR)); }",
        &config,
    )
    .expect("loads");
    assert_eq!(route(&mut i).1, ["INFO script: table false"]);

    let config = EngineConfig {
        loaded_modules: vec!["kemix".into(), "sl".into()],
        ..EngineConfig::default()
    };
    let mut i = load_with(
        "function ksr_request_route() { KSR.info(typeof KSR.kx + \" \" + typeof KSR.sl.sl_send_reply + \" \" + (\"kemix\" in KSR)); }",
        &config,
    )
    .expect("loads");
    assert_eq!(route(&mut i).1, ["INFO script: table function false"]);
}

#[test]
fn an_unbounded_budget_is_no_limit() {
    let config = EngineConfig {
        budget: Duration::MAX,
        ..EngineConfig::default()
    };
    let mut i = load_with(
        "function ksr_request_route() { KSR.info(\"ok\"); }",
        &config,
    )
    .expect("loads");
    assert_eq!(
        route(&mut i),
        (Outcome::Returned, vec!["INFO script: ok".into()])
    );
}

#[test]
fn many_callback_names_past_the_name_cache() {
    let mut i = load("function ksr_request_route() { KSR.info(\"ok\"); }");
    let before = top(&i);
    for n in 0..(NAME_CACHE_MAX + 10) {
        assert_eq!(call(&mut i, &format!("cb_{n}"), None).0, Outcome::Missing);
    }
    for _ in 0..3 {
        assert_eq!(route(&mut i).1, ["INFO script: ok"]);
    }
    assert_eq!(i.names.names.len(), NAME_CACHE_MAX);
    assert_eq!(top(&i), before);
}

#[test]
fn runaway_recursion_stops_at_the_depth_limit() {
    let config = EngineConfig {
        recursion_limit: 50,
        ..EngineConfig::default()
    };
    let mut i = load_with(
        r#"function count(n) {
    if (n == 0) return 0;
    return 1 + count(n - 1);
}
function deep(n) {
    return 1 + deep(n + 1);
}
function ksr_request_route() {
    KSR.info("counted " + count(40));
}
function endless() {
    deep(0);
}
"#,
        &config,
    )
    .expect("loads");
    let before = top(&i);
    assert_eq!(
        route(&mut i).1,
        ["INFO script: counted 40"],
        "below the limit"
    );
    let t0 = Instant::now();
    let (o, logs) = call(&mut i, "endless", None);
    let e = failed(o);
    assert!(
        t0.elapsed() < Duration::from_millis(100),
        "stopped by depth, not time"
    );
    assert_eq!(
        e.message,
        "stopped: script function calls nested deeper than 50 (endless recursion?)"
    );
    assert_eq!(e.line, 6);
    let lines: Vec<&str> = e.stack.lines().collect();
    assert!(lines.len() <= 21, "a deep stack is shortened: {}", e.stack);
    assert_eq!(lines[0], "  at deep (t.nut:6)");
    assert!(lines[16].starts_with("  ... ") && lines[16].ends_with(" more frames ..."));
    assert_eq!(lines.last().copied(), Some("  at endless (t.nut:12)"));
    assert_eq!(logs.len(), 1);
    assert_eq!(top(&i), before);
    assert_eq!(
        route(&mut i).1,
        ["INFO script: counted 40"],
        "still serving"
    );
}
