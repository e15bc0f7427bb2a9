//! Unit tests of the JavaScript engine: binding, coercions, results,
//! errors and their positions, runaway limits, and the `kemid check` scan.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{scan, JsInterpreter};
use crate::ctx::{Ctx, WorkerLocal};
use crate::engine::{EngineConfig, Interpreter, Outcome, ScriptError, ScriptSource};
use crate::log::{self, Level};
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

fn recv() -> RecvInfo {
    RecvInfo {
        proto: Proto::Udp,
        src: "127.0.0.1:5070".parse().expect("address"),
        local: "127.0.0.1:5060".parse().expect("address"),
        conn: None,
    }
}

/// Calls `name` on a fresh OPTIONS message.
fn call_on_message(
    interp: &mut JsInterpreter,
    worker: &mut WorkerLocal,
    name: &str,
    arg: Option<&str>,
) -> Outcome {
    let mut msg = SipMsg::parse(OPTIONS.as_bytes()).expect("the test message parses");
    let mut ctx = Ctx::for_message(worker, &mut msg, recv());
    interp.call(&mut ctx, name, arg)
}

fn source(text: &str) -> ScriptSource {
    ScriptSource {
        path: PathBuf::from("t.js"),
        text: text.to_owned(),
    }
}

fn load_with(text: &str, config: &EngineConfig) -> (Result<JsInterpreter, ScriptError>, WorkerLocal) {
    let mut worker = WorkerLocal::default();
    let interp = JsInterpreter::load(&source(text), config, &mut worker);
    (interp, worker)
}

/// Loads `text` and runs `ksr_request_route` once with a message; returns
/// the outcome and what was logged (level and text).
fn run(text: &str) -> (Outcome, Vec<String>) {
    run_with(text, &EngineConfig::default())
}

fn run_with(text: &str, config: &EngineConfig) -> (Outcome, Vec<String>) {
    log::set_level(Level::Dbg as i32);
    let ((outcome, _), lines) = log::capture(|| {
        let (interp, mut worker) = load_with(text, config);
        let mut interp = match interp {
            Ok(i) => i,
            Err(e) => panic!("load failed: {e}"),
        };
        (call_on_message(&mut interp, &mut worker, "ksr_request_route", None), ())
    });
    (outcome, lines.into_iter().map(|(l, t)| format!("{} {t}", l.name())).collect())
}

/// The INFO lines the script logged, without the `script: ` origin.
fn infos(lines: &[String]) -> Vec<&str> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("INFO script: "))
        .collect()
}

#[test]
fn explore() {
    for t in [
        "function ksr_request_route() {\n  var a = 1;\n  undefined_function();\n}\n",
        "function ksr_request_route() {\n  var a = 1;\n  foo.bar();\n}\n",
        "function ksr_request_route() {\n  var a = 1;\n  KSR.tm.t_relay();\n}\n",
        "function ksr_request_route() {\n  var a = 1;\n  KSR.pv.nosuch();\n}\n",
        "function ksr_request_route() {\n  var a = {};\n  a.b.c = 1;\n}\n",
        "function ksr_request_route() {\n  var a = 1;\n  if (a) {\n    new Foo();\n  }\n}\n",
        "var a = 1;\nfunction ksr_request_route() {\n}\nundefined_function();\n",
        "function ksr_request_route() {\n  var a = 1;\n  a = 1 + undefined_function();\n}\n",
        "function ksr_request_route() {\n  var a = 1;\n  [1, 2].forEach(function (x) {\n    nope(x);\n  });\n}\n",
    ] {
        let t0 = Instant::now();
        let (o, l) = run(t);
        eprintln!("{:?} {o:?}\n{l:#?}", t0.elapsed());
    }
    let _ = Duration::ZERO;
    let _ = infos(&[]);
    let _ = scan;
}
