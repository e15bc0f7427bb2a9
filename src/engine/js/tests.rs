//! Unit tests of the JavaScript engine: binding, coercions, results,
//! exit and drop, errors and their positions, runaway limits, and the
//! `kemid check` scan.

use std::path::PathBuf;
use std::time::Duration;

use boa_engine::JsValue;

use super::{bind, scan, JsInterpreter};
use crate::ctx::{Ctx, WorkerLocal};
use crate::engine::check::CallSite;
use crate::engine::{EngineConfig, Interpreter, Outcome, ScriptError, ScriptSource};
use crate::log::{self, Level};
use crate::registry::{self, Ret, XVal};
use crate::sip::SipMsg;
use crate::transport::{Proto, RecvInfo};

const OPTIONS: &str = "OPTIONS sip:kemid@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-unit;rport\r\n\
From: <sip:tester@127.0.0.1>;tag=t1\r\n\
To: <sip:kemid@127.0.0.1>\r\n\
Call-ID: unit-1@127.0.0.1\r\n\
CSeq: 1 OPTIONS\r\n\
Max-Forwards: 70\r\n\
Content-Length: 0\r\n\r\n";

fn source(text: &str) -> ScriptSource {
    ScriptSource {
        path: PathBuf::from("t.js"),
        text: text.to_owned(),
    }
}

/// An interpreter and its worker, as a worker thread holds them.
struct Fixture {
    interp: JsInterpreter,
    worker: WorkerLocal,
}

impl Fixture {
    fn new(text: &str) -> Fixture {
        Fixture::with(text, &EngineConfig::default())
    }

    fn with(text: &str, config: &EngineConfig) -> Fixture {
        match try_load(text, config) {
            Ok((interp, worker)) => Fixture { interp, worker },
            Err(e) => panic!("load failed: {e}"),
        }
    }

    /// Calls `name` on a fresh OPTIONS message; returns the outcome and
    /// the lines logged, as `LEVEL origin: text`.
    fn call(&mut self, name: &str, arg: Option<&str>) -> (Outcome, Vec<String>) {
        log::set_level(Level::Dbg as i32);
        let (outcome, lines) = log::capture(|| {
            let mut msg = SipMsg::parse(OPTIONS.as_bytes()).expect("the test message parses");
            let recv = RecvInfo {
                proto: Proto::Udp,
                src: "127.0.0.1:5070".parse().expect("address"),
                local: "127.0.0.1:5060".parse().expect("address"),
                conn: None,
            };
            let mut ctx = Ctx::for_message(&mut self.worker, &mut msg, recv);
            self.interp.call(&mut ctx, name, arg)
        });
        (outcome, render(lines))
    }

    fn route(&mut self) -> (Outcome, Vec<String>) {
        self.call("ksr_request_route", None)
    }
}

fn render(lines: Vec<(Level, String)>) -> Vec<String> {
    lines
        .into_iter()
        .map(|(l, t)| format!("{} {t}", l.name()))
        .collect()
}

fn try_load(
    text: &str,
    config: &EngineConfig,
) -> Result<(JsInterpreter, WorkerLocal), ScriptError> {
    let mut worker = WorkerLocal::default();
    log::set_level(Level::Dbg as i32);
    let (loaded, _) = log::capture(|| JsInterpreter::load(&source(text), config, &mut worker));
    loaded.map(|i| (i, worker))
}

/// Runs `ksr_request_route` of `text` once.
fn run(text: &str) -> (Outcome, Vec<String>) {
    Fixture::new(text).route()
}

/// What `KSR.info(String(<expr>))` logs inside a route (the last line).
fn eval(expr: &str) -> String {
    eval_with(expr, &EngineConfig::default())
}

fn eval_with(expr: &str, config: &EngineConfig) -> String {
    let text = format!("function ksr_request_route() {{\n  KSR.info(String({expr}));\n}}\n");
    let (outcome, lines) = Fixture::with(&text, config).route();
    assert_eq!(outcome, Outcome::Returned, "{expr}: {lines:?}");
    // The last line is the value; exports may log before it.
    match lines.last().and_then(|l| l.strip_prefix("INFO script: ")) {
        Some(value) => value.to_owned(),
        None => panic!("{expr}: {lines:?}"),
    }
}

fn failed(outcome: Outcome) -> ScriptError {
    match outcome {
        Outcome::Failed(e) => e,
        other => panic!("expected a failure, got {other:?}"),
    }
}

// --- binding ---------------------------------------------------------------

#[test]
fn every_visible_export_is_a_function_with_its_arity() {
    for export in registry::visible(&[]) {
        let path = export.script_path();
        assert_eq!(eval(&format!("typeof {path}")), "function", "{path}");
        assert_eq!(
            eval(&format!("{path}.length")),
            export.params.len().to_string(),
            "{path}"
        );
        assert_eq!(eval(&format!("{path}.name")), export.name, "{path}");
    }
}

#[test]
fn module_objects_are_also_ksr_module_globals() {
    assert_eq!(eval("KSR_pv === KSR.pv"), "true");
    assert_eq!(eval("KSR_x === KSR.x"), "true");
    // Core functions live on KSR itself; there is no `KSR_` global for it.
    assert_eq!(eval("typeof KSR_"), "undefined");
}

#[test]
fn only_loaded_modules_are_bound() {
    let Some(module) = registry::modules()
        .iter()
        .find(|m| !m.provided_by.is_empty())
    else {
        return;
    };
    let name = module.name;
    assert_eq!(eval(&format!("typeof KSR.{name}")), "undefined");
    assert_eq!(eval(&format!("typeof KSR_{name}")), "undefined");
    let config = EngineConfig {
        loaded_modules: vec![module.provided_by.to_owned()],
        ..EngineConfig::default()
    };
    assert_eq!(eval_with(&format!("typeof KSR.{name}"), &config), "object");
    assert_eq!(
        eval_with(&format!("KSR_{name} === KSR.{name}"), &config),
        "true"
    );
}

// --- argument conversions -------------------------------------------------

/// What `KSR.pv.sets("$var(v)", <arg>)` stores.
fn stored_string(arg: &str) -> String {
    eval(&format!(
        "(KSR.pv.sets(\"$var(v)\", {arg}), KSR.pv.get(\"$var(v)\"))"
    ))
}

/// What `KSR.pv.seti("$var(v)", <arg>)` stores.
fn stored_int(arg: &str) -> String {
    eval(&format!(
        "(KSR.pv.seti(\"$var(v)\", {arg}), KSR.pv.get(\"$var(v)\"))"
    ))
}

#[test]
fn string_parameters_take_javascript_to_string() {
    for (arg, want) in [
        ("12", "12"),
        ("1.5", "1.5"),
        ("-0", "0"),
        ("1e21", "1e+21"),
        ("0.1 + 0.2", "0.30000000000000004"),
        ("NaN", "NaN"),
        ("undefined", "undefined"),
        ("null", "null"),
        ("true", "true"),
        ("false", "false"),
        ("[1, 2]", "1,2"),
        ("{}", "[object Object]"),
        ("{ toString: function () { return 'mine'; } }", "mine"),
        ("'Zoë'", "Zoë"),
        ("'☎ 📞'", "☎ 📞"),
        // A lone surrogate cannot be UTF-8: it becomes U+FFFD.
        ("'a\\uD800b'", "a\u{FFFD}b"),
        ("''", ""),
    ] {
        assert_eq!(stored_string(arg), want, "{arg}");
    }
}

#[test]
fn int_parameters_take_to_int_saturated() {
    for (arg, want) in [
        ("7", "7"),
        ("2.9", "2"),
        ("-2.9", "-2"),
        ("'42'", "42"),
        ("' 42 '", "42"),
        ("'0x10'", "16"),
        ("'12abc'", "0"),
        ("'abc'", "0"),
        ("NaN", "0"),
        ("undefined", "0"),
        ("null", "0"),
        ("true", "1"),
        ("false", "0"),
        ("1e12", "2147483647"),
        ("-1e12", "-2147483648"),
        ("Infinity", "2147483647"),
        ("{ valueOf: function () { return 9; } }", "9"),
    ] {
        assert_eq!(stored_int(arg), want, "{arg}");
    }
}

#[test]
fn extra_arguments_are_ignored_for_every_function() {
    assert_eq!(eval("KSR.get_debug('extra', 2)"), "3");
    assert_eq!(stored_int("5, 'extra', {}"), "5");
}

#[test]
fn too_few_arguments_is_a_type_error_naming_the_parameters() {
    let (outcome, logs) = run("function ksr_request_route() {\n  KSR.pv.sets('$var(a)');\n}\n");
    let e = failed(outcome);
    assert_eq!(
        e.message,
        "TypeError: KSR.pv.sets() takes 2 arguments (name, value), 1 given"
    );
    assert_eq!((e.line, e.column), (2, 14));
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert!(logs[0].starts_with("ERROR js: t.js:2:14: TypeError: KSR.pv.sets()"));

    let e = failed(run("function ksr_request_route() {\n  KSR.x.modf();\n}\n").0);
    assert_eq!(
        e.message,
        "TypeError: KSR.x.modf() takes at least 1 argument (fname, ...params), 0 given"
    );
    assert_eq!(
        eval(
            "(function () { try { KSR.info(); } catch (e) { return e instanceof TypeError; } })()"
        ),
        "true"
    );
}

#[test]
fn a_conversion_may_call_ksr_itself() {
    // The argument's toString runs script code that calls KSR while the
    // outer call is converting its arguments.
    let (outcome, logs) = run(
        "function ksr_request_route() {\n  KSR.info({ toString: function () { KSR.info('inner'); return 'outer'; } });\n}\n",
    );
    assert_eq!(outcome, Outcome::Returned);
    assert_eq!(logs, ["INFO script: inner", "INFO script: outer"]);
}

#[test]
fn an_exception_in_a_conversion_propagates() {
    let e = failed(
        run("function ksr_request_route() {\n  KSR.info({ toString: function () { throw new Error('no text'); } });\n}\n").0,
    );
    assert_eq!(e.message, "Error: no text");
    assert_eq!(e.line, 2);
}

// --- results ---------------------------------------------------------------

#[test]
fn results_map_to_script_values() {
    assert!(matches!(
        bind::to_js(Ret::None, true).as_boolean(),
        Some(false)
    ));
    assert_eq!(bind::to_js(Ret::None, false).as_i32(), Some(0));
    assert_eq!(bind::to_js(Ret::Int(-1), false).as_i32(), Some(-1));
    assert_eq!(
        bind::to_js(Ret::Int(1 << 40), false).as_number(),
        Some((1u64 << 40) as f64)
    );
    assert_eq!(bind::to_js(Ret::Bool(true), true).as_boolean(), Some(true));
    assert_eq!(
        bind::to_js(Ret::XVal(XVal::Int(7)), false).as_i32(),
        Some(7)
    );
    assert!(bind::to_js(Ret::XVal(XVal::Null), false).is_null());
    let s = bind::to_js(Ret::XVal(XVal::Str("Zoë".into())), false);
    assert_eq!(
        s.as_string().map(|s| s.to_std_string_escaped()),
        Some("Zoë".to_owned())
    );
    assert_eq!(bind::to_js(Ret::None, true), JsValue::from(false));
}

#[test]
fn results_seen_by_scripts() {
    assert_eq!(eval("typeof KSR.get_debug()"), "number");
    assert_eq!(eval("KSR.pv.seti('$var(a)', 1)"), "true");
    assert_eq!(eval("KSR.pv.get('$avp(none)') === null"), "true");
    assert_eq!(eval("KSR.pv.gete('$avp(none)') === ''"), "true");
    // -1 is a number, and truthy: no special case.
    assert_eq!(eval("KSR.x.modf('f') === -1 && !!KSR.x.modf('f')"), "true");
}

// --- exit and drop ---------------------------------------------------------

#[test]
fn exit_and_drop_end_the_callback() {
    let (o, logs) = run("function ksr_request_route() {\n  KSR.x.exit();\n  KSR.info('no');\n}\n");
    assert_eq!((o, logs), (Outcome::Exit, vec![]));
    let (o, logs) = run("function ksr_request_route() {\n  KSR.x.drop();\n  KSR.info('no');\n}\n");
    assert_eq!((o, logs), (Outcome::Drop, vec![]));
    let (o, _) = run("function ksr_request_route() {\n  throw '~~ksr~exit~~';\n}\n");
    assert_eq!(o, Outcome::Exit);
    // An Error object with the marker text is an error, as in app_jsdt.
    let (o, _) = run("function ksr_request_route() {\n  throw new Error('~~ksr~exit~~');\n}\n");
    assert!(matches!(o, Outcome::Failed(_)));
    // So is a String object: only the primitive string is the marker.
    let (o, _) = run("function ksr_request_route() {\n  throw new String('~~ksr~exit~~');\n}\n");
    assert!(matches!(o, Outcome::Failed(_)));
}

#[test]
fn a_drop_caught_in_one_call_does_not_leak_into_the_next() {
    let mut f = Fixture::new(
        "var n = 0;\nfunction ksr_request_route() {\n  n++;\n  if (n == 1) { try { KSR.x.drop(); } catch (e) {} return; }\n  throw '~~ksr~exit~~';\n}\n",
    );
    assert_eq!(f.route().0, Outcome::Returned);
    assert_eq!(f.route().0, Outcome::Exit);
}

#[test]
fn exit_inside_try_is_caught_and_the_callback_goes_on() {
    let (o, logs) = run(
        "function ksr_request_route() {\n  try { KSR.x.exit(); } catch (e) { KSR.info('caught ' + e); }\n  KSR.info('after');\n}\n",
    );
    assert_eq!(o, Outcome::Returned);
    assert_eq!(
        logs,
        ["INFO script: caught ~~ksr~exit~~", "INFO script: after"]
    );
}

// --- callbacks ---------------------------------------------------------------

#[test]
fn callbacks_are_looked_up_by_name() {
    let mut f = Fixture::new(
        "var seen = [];\nfunction ksr_request_route() {}\nfunction ev(name) { seen.push(name); KSR.info(seen.join(',')); }\nvar not_fn = 1;\n",
    );
    assert!(f.interp.has_function("ksr_request_route"));
    assert!(f.interp.has_function("ev"));
    assert!(!f.interp.has_function("not_fn"));
    assert!(!f.interp.has_function("ksr_reply_route"));
    assert_eq!(f.call("ksr_reply_route", None), (Outcome::Missing, vec![]));
    assert_eq!(f.call("ksr_onsend_route", None), (Outcome::Missing, vec![]));
    assert_eq!(f.call("not_fn", None), (Outcome::Missing, vec![]));
    assert_eq!(f.call("ev", Some("a:b")).1, ["INFO script: a:b"]);
    // Globals persist across calls.
    assert_eq!(f.call("ev", Some("c:d")).1, ["INFO script: a:b,c:d"]);
}

#[test]
fn ksr_outside_a_callback_is_refused_not_undefined_behaviour() {
    // A getter on the global object runs script code from has_function,
    // when no callback is running.
    let text = "function ksr_request_route() {}\nObject.defineProperty(globalThis, 'sneaky', { get: function () { KSR.info('x'); return KSR.pv.seti('$var(a)', 1); } });\n";
    let (f, _) = try_load(text, &EngineConfig::default()).expect("loads");
    let (found, logs) = log::capture(|| f.has_function("sneaky"));
    assert!(!found);
    assert_eq!(
        render(logs),
        [
            "ERROR js: KSR.info() was called while no script callback is running; refused",
            "ERROR js: KSR.pv.seti() was called while no script callback is running; refused",
        ]
    );
}

#[test]
fn promise_jobs_run_before_the_callback_returns() {
    let (o, logs) = run(
        "async function later() { await null; KSR.info('after await'); }\nfunction ksr_request_route() {\n  Promise.resolve(1).then(function (v) { KSR.info('then ' + v); });\n  later();\n  KSR.info('sync');\n}\n",
    );
    assert_eq!(o, Outcome::Returned);
    assert_eq!(
        logs,
        [
            "INFO script: sync",
            "INFO script: then 1",
            "INFO script: after await"
        ]
    );
}

// --- the top level -----------------------------------------------------------

#[test]
fn the_top_level_runs_without_a_message() {
    let mut worker = WorkerLocal::default();
    log::set_level(Level::Dbg as i32);
    let (loaded, logs) = log::capture(|| {
        JsInterpreter::load(
            &source("var r = KSR.x.drop();\nKSR.info('drop gave ' + r);\nKSR.pv.seti('$var(boot)', 1);\nfunction ksr_request_route() {}\n"),
            &EngineConfig::default(),
            &mut worker,
        )
    });
    assert!(loaded.is_ok());
    let logs = render(logs);
    assert_eq!(logs.len(), 2, "{logs:?}");
    assert!(logs[0].starts_with("ERROR kemi: KSR.x.drop() needs a SIP message"));
    assert_eq!(logs[1], "INFO script: drop gave false");
}

#[test]
fn a_top_level_error_refuses_the_load_with_its_line() {
    let e = try_load(
        "function ksr_request_route() {}\nvar cfg = null;\nvar port = cfg.port;\n",
        &EngineConfig::default(),
    )
    .err()
    .expect("refused");
    assert_eq!((e.file.as_str(), e.line), ("t.js", 3));
    let e = try_load(
        "function ksr_request_route() {}\nnot_defined();\n",
        &EngineConfig::default(),
    )
    .err()
    .expect("refused");
    assert_eq!((e.line, e.column), (2, 1));
    assert_eq!(e.message, "ReferenceError: not_defined is not defined");
}

#[test]
fn syntax_errors_have_line_and_column() {
    let e = try_load(
        "function ksr_request_route() {\n  var x = ;\n}\n",
        &EngineConfig::default(),
    )
    .err()
    .expect("refused");
    assert_eq!((e.line, e.column), (2, 11));
    assert!(e.message.starts_with("SyntaxError: "), "{}", e.message);
    assert!(!e.message.contains(" at line "), "{}", e.message);
    let e = try_load(
        "function ksr_request_route() {\n  KSR.info('open);\n}\n",
        &EngineConfig::default(),
    )
    .err()
    .expect("refused");
    assert_eq!((e.line, e.column), (2, 12));
    let e = try_load("function ksr_request_route() {\n", &EngineConfig::default())
        .err()
        .expect("refused");
    assert_eq!(e.line, 2);
}

// --- runtime errors ------------------------------------------------------------

#[test]
fn runtime_errors_have_line_column_and_stack() {
    let text = "function lookup(t) {\n  return t.missing.value;\n}\nfunction ksr_request_route() {\n  lookup({});\n}\n";
    let (o, logs) = run(text);
    let e = failed(o);
    assert_eq!((e.line, e.column), (2, 20));
    assert_eq!(
        e.stack,
        "  at lookup (t.js:2:20)\n  at ksr_request_route (t.js:5:9)"
    );
    // Logged once, with the position and the stack.
    assert_eq!(logs, [format!("ERROR js: {e}")]);
    assert!(logs[0].starts_with("ERROR js: t.js:2:20: TypeError: "));
}

#[test]
fn errors_that_boa_places_only_in_their_function_are_located() {
    for (body, line, column, message) in [
        (
            "  var a = 1;\n  undefined_function();\n",
            3,
            3,
            "ReferenceError: undefined_function is not defined",
        ),
        (
            "  var a = 1;\n  if (a) {\n    new Nothing();\n  }\n",
            4,
            9,
            "ReferenceError: Nothing is not defined",
        ),
        (
            "  var a = 1;\n  KSR.nosuchmodule.f();\n",
            3,
            3,
            "TypeError: cannot convert 'null' or 'undefined' to object (KSR.nosuchmodule is undefined: kemid has no such module)",
        ),
        (
            "  KSR.pv.sett('$var(a)', 1);\n",
            2,
            14,
            "TypeError: not a callable function (KSR.pv.sett is not a function)",
        ),
    ] {
        let text = format!("function ksr_request_route() {{\n{body}}}\n");
        let e = failed(run(&text).0);
        assert_eq!(
            (e.line, e.column, e.message.as_str()),
            (line, column, message),
            "{text}"
        );
    }
}

#[test]
fn anonymous_functions_are_not_called_main_in_stacks() {
    let e = failed(
        run("function ksr_request_route() {\n  [1].forEach(function (x) {\n    nope(x);\n  });\n}\n").0,
    );
    assert_eq!((e.line, e.column), (3, 5));
    assert_eq!(
        e.stack,
        "  at <anonymous> (t.js:3:5)\n  at forEach (native)\n  at ksr_request_route (t.js:2:14)"
    );
}

#[test]
fn thrown_values_are_described() {
    let message = |thrown: &str| {
        failed(
            run(&format!(
                "function ksr_request_route() {{\n  throw {thrown};\n}}\n"
            ))
            .0,
        )
        .message
    };
    assert_eq!(message("'plain'"), "uncaught exception: plain");
    assert_eq!(message("42"), "uncaught exception: 42");
    assert_eq!(message("new RangeError('far')"), "RangeError: far");
    assert_eq!(
        message("{ name: 'RouteError', message: 'no gateway' }"),
        "RouteError: no gateway"
    );
}

#[test]
fn a_failed_call_leaves_the_interpreter_serving() {
    let mut f = Fixture::new(
        "var n = 0;\nfunction ksr_request_route() {\n  n++;\n  if (n == 1) { null.x; }\n  KSR.info('n=' + n);\n}\n",
    );
    assert!(matches!(f.route().0, Outcome::Failed(_)));
    assert_eq!(
        f.route(),
        (Outcome::Returned, vec!["INFO script: n=2".into()])
    );
}

// --- runaway scripts ----------------------------------------------------------------

#[test]
fn the_loop_limit_stops_a_loop_that_catch_cannot_rescue() {
    let config = EngineConfig {
        loop_iteration_limit: 1000,
        ..EngineConfig::default()
    };
    let mut f = Fixture::with(
        "var n = 0;\nfunction ksr_request_route() {\n  n++;\n  if (n > 1) { KSR.info('served'); return; }\n  while (true) {\n    try {\n      for (;;) {}\n    } catch (e) {\n      KSR.info('caught');\n    }\n  }\n}\n",
        &config,
    );
    let (o, logs) = f.route();
    let e = failed(o);
    assert_eq!(
        e.message,
        "stopped after 1000 loop iterations in one function call: the script ran past its execution budget (endless loop?)"
    );
    // Two loops in the function: boa knows only the function.
    assert_eq!(e.line, 2);
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(f.route().1, ["INFO script: served"]);
}

#[test]
fn the_loop_limit_names_the_loop_when_there_is_one() {
    let config = EngineConfig {
        loop_iteration_limit: 1000,
        ..EngineConfig::default()
    };
    let e = failed(
        Fixture::with(
            "function ksr_request_route() {\n  var i = 0;\n  do {\n    i++;\n  } while (i > 0);\n}\n",
            &config,
        )
        .route()
        .0,
    );
    assert_eq!((e.line, e.column), (5, 12));
}

#[test]
fn the_time_budget_stops_a_loop_calling_ksr() {
    let config = EngineConfig {
        budget: Duration::from_millis(30),
        loop_iteration_limit: u64::MAX,
        ..EngineConfig::default()
    };
    let mut f = Fixture::with(
        "var n = 0;\nfunction ksr_request_route() {\n  n++;\n  if (n > 1) { KSR.info('served'); return; }\n  while (true) {\n    try { KSR.pv.seti('$var(spin)', n); } catch (e) { KSR.info('caught'); }\n  }\n}\n",
        &config,
    );
    let t0 = std::time::Instant::now();
    let (o, logs) = f.route();
    let e = failed(o);
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert_eq!(
        e.message,
        "stopped after 30 ms: the script ran past its execution budget (endless loop?)"
    );
    assert_eq!(e.line, 6);
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(f.route().1, ["INFO script: served"]);
}

#[test]
fn the_recursion_limit_stops_endless_recursion() {
    let config = EngineConfig {
        recursion_limit: 50,
        ..EngineConfig::default()
    };
    let e = failed(
        Fixture::with(
            "function down(n) {\n  return down(n + 1) + 1;\n}\nfunction ksr_request_route() {\n  try { down(0); } catch (e) { KSR.info('caught'); }\n}\n",
            &config,
        )
        .route()
        .0,
    );
    assert_eq!(
        e.message,
        "stopped at 50 nested calls: the script ran past its execution budget (endless recursion?)"
    );
    assert_eq!(e.line, 2);
}

#[test]
fn a_runaway_top_level_refuses_the_load() {
    let config = EngineConfig {
        loop_iteration_limit: 1000,
        ..EngineConfig::default()
    };
    let e = try_load(
        "function ksr_request_route() {}\nwhile (true) {}\n",
        &config,
    )
    .err()
    .expect("refused");
    assert!(e.message.contains("execution budget"), "{}", e.message);
    assert_eq!(e.line, 2);
}

// --- kemid check -----------------------------------------------------------------------

fn site(
    module: &str,
    name: &str,
    argc: usize,
    first: Option<&str>,
    line: u32,
    column: u32,
) -> CallSite {
    CallSite {
        module: module.into(),
        name: name.into(),
        argc,
        first_str_arg: first.map(Into::into),
        line,
        column,
    }
}

#[test]
fn scan_finds_global_functions() {
    let s = scan(&source(
        "function ksr_request_route() {}\nvar a = function () {};\nvar b = () => 1;\nc = function () {};\nvar d = 1;\nlet e = function () {};\nconst f = () => 2;\nasync function g() {}\nfunction outer() { function inner() {} }\n",
    ))
    .expect("parses");
    assert_eq!(
        s.functions,
        ["ksr_request_route", "a", "b", "c", "g", "outer"]
    );
}

#[test]
fn scan_finds_ksr_calls_with_positions() {
    let s = scan(&source(
        "function ksr_request_route() {\n  KSR.info('x');\n    KSR.tm.t_on_failure(\"fail\", 2);\n  var v = KSR_pv.get(KSR.pv.gete('$var(a)'));\n  if (KSR.x.modf()) {}\n  other.info('no'); KSR['pv'].get('computed');\n}\n",
    ))
    .expect("parses");
    assert_eq!(
        s.calls,
        [
            site("", "info", 1, Some("x"), 2, 3),
            site("tm", "t_on_failure", 2, Some("fail"), 3, 5),
            site("pv", "get", 1, None, 4, 11),
            site("pv", "gete", 1, Some("$var(a)"), 4, 22),
            site("x", "modf", 0, None, 5, 7),
        ]
    );
}

#[test]
fn scan_reports_syntax_errors_with_their_position() {
    let d = scan(&source("function ksr_request_route() {\n  var x = ;\n}\n"))
        .expect_err("a syntax error");
    assert_eq!((d.file.as_str(), d.line, d.column), ("t.js", 2, 11));
    assert!(d.message.starts_with("SyntaxError: "), "{}", d.message);
    let d = scan(&source("var s = `open\nstill open\n")).expect_err("a syntax error");
    assert_eq!((d.line, d.column), (1, 9));
}
