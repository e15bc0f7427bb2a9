//! The per-message cost of each script engine: nanoseconds for one
//! `ksr_request_route` that makes 10 `KSR` calls, the same routing logic in
//! JavaScript and in Squirrel.
//!
//! `cargo bench --bench engines` (release build; an argument such as
//! `squirrel` keeps only the lines containing it). The route uses only
//! functions every configuration has (`KSR.pv.*`, `KSR.dbg`,
//! `KSR.get_debug`), touches no network, and logs nothing at the default
//! INFO level, so the figure is the engine: the call into the script, the
//! lookups of `KSR.<module>.<fn>`, argument and result conversion, the
//! script's own work between the calls, and the `pv` functions themselves.
//! Two more routes split that up: an empty route (the cost of calling a
//! callback) and ten calls of `KSR.get_debug()` (the cost of a KSR call
//! that does almost nothing).
//!
//! Times are the benchmark thread's own CPU time where Linux reports it
//! (`/proc/thread-self/schedstat`), so other work on the machine does not
//! inflate them; elsewhere wall-clock time.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use kemid::ctx::{Ctx, WorkerLocal};
use kemid::engine::{self, EngineConfig, Lang, Outcome, ScriptSource, REQUEST_ROUTE};
use kemid::sip::SipMsg;
use kemid::transport::{Proto, RecvInfo};

/// Ten KSR calls: four setters, four getters, a null test and a debug line
/// that the log level filters out.
const ROUTE_JS: &str = r#"
function ksr_request_route() {
    KSR.pv.seti("$var(hops)", 70);
    var hops = KSR.pv.geti("$var(hops)");
    KSR.pv.sets("$var(user)", "alice");
    var user = KSR.pv.get("$var(user)");
    if (KSR.pv.is_null("$var(user)")) {
        return;
    }
    KSR.pv.seti("$var(count)", KSR.pv.geti("$var(count)") + 1);
    var domain = KSR.pv.gete("$var(domain)");
    KSR.pv.sets("$var(aor)", user + "@" + domain);
    KSR.dbg("routing " + user + " hops " + hops + "\n");
}
"#;

const ROUTE_NUT: &str = r#"
function ksr_request_route() {
    KSR.pv.seti("$var(hops)", 70);
    local hops = KSR.pv.geti("$var(hops)");
    KSR.pv.sets("$var(user)", "alice");
    local user = KSR.pv.get("$var(user)");
    if (KSR.pv.is_null("$var(user)")) {
        return;
    }
    KSR.pv.seti("$var(count)", KSR.pv.geti("$var(count)") + 1);
    local domain = KSR.pv.gete("$var(domain)");
    KSR.pv.sets("$var(aor)", user + "@" + domain);
    KSR.dbg("routing " + user + " hops " + hops + "\n");
}
"#;

const EMPTY_JS: &str = "function ksr_request_route() {}\n";
const EMPTY_NUT: &str = EMPTY_JS;

const TRIVIAL_JS: &str = r#"
function ksr_request_route() {
    KSR.get_debug(); KSR.get_debug(); KSR.get_debug(); KSR.get_debug(); KSR.get_debug();
    KSR.get_debug(); KSR.get_debug(); KSR.get_debug(); KSR.get_debug(); KSR.get_debug();
}
"#;
const TRIVIAL_NUT: &str = TRIVIAL_JS;

const OPTIONS: &str = "OPTIONS sip:kemid@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-bench;rport\r\n\
From: <sip:bench@127.0.0.1>;tag=b1\r\n\
To: <sip:kemid@127.0.0.1>\r\n\
Call-ID: bench-1@127.0.0.1\r\n\
CSeq: 1 OPTIONS\r\n\
Max-Forwards: 70\r\n\
Content-Length: 0\r\n\r\n";

/// The calling thread's CPU time in nanoseconds (Linux), or `None`.
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// A clock for the rounds: thread CPU time when available, else wall time.
struct Clock {
    cpu: bool,
    wall: Instant,
}

impl Clock {
    fn new() -> Clock {
        Clock {
            cpu: thread_cpu_ns().is_some(),
            wall: Instant::now(),
        }
    }

    fn now_ns(&self) -> f64 {
        match thread_cpu_ns().filter(|_| self.cpu) {
            Some(ns) => ns as f64,
            None => self.wall.elapsed().as_secs_f64() * 1e9,
        }
    }
}

/// Nanoseconds per route: the best of a few timed rounds, each long enough
/// to dwarf the clock, after a warm-up.
fn per_route(lang: Lang, text: &str, name: &str) -> f64 {
    let source = ScriptSource {
        path: PathBuf::from(name),
        text: text.to_owned(),
    };
    let mut worker = WorkerLocal::default();
    let mut host = match engine::load(lang, &source, &EngineConfig::default(), &mut worker) {
        Ok(i) => i,
        Err(e) => panic!("{name} does not load: {e}"),
    };
    let mut msg = SipMsg::parse(OPTIONS.as_bytes()).expect("the bench message parses");
    let recv = RecvInfo {
        proto: Proto::Udp,
        src: "127.0.0.1:5070".parse().expect("address"),
        local: "127.0.0.1:5060".parse().expect("address"),
        conn: None,
    };
    let mut run = |n: u32| {
        for _ in 0..n {
            let mut ctx = Ctx::for_message(&mut worker, &mut msg, recv);
            let outcome = host.call(&mut ctx, REQUEST_ROUTE, None);
            assert_eq!(outcome, Outcome::Returned, "{name}");
        }
    };
    // Size the rounds to about 200 ms each.
    let t0 = Instant::now();
    let mut calibration = 0u32;
    while t0.elapsed() < Duration::from_millis(100) {
        run(100);
        calibration += 100;
    }
    let per = t0.elapsed().as_secs_f64() / f64::from(calibration);
    let round = ((0.2 / per) as u32).max(100);
    let clock = Clock::new();
    (0..5)
        .map(|_| {
            let t = clock.now_ns();
            run(round);
            (clock.now_ns() - t) / f64::from(round)
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument picks one engine.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let clock = if Clock::new().cpu {
        "thread CPU time"
    } else {
        "wall-clock time"
    };
    println!("ns per ksr_request_route, best of 5 rounds, {clock}:");
    let runs: [(&str, Lang, &str, &str); 6] = [
        (
            "javascript route (10 KSR calls)",
            Lang::Js,
            ROUTE_JS,
            "route.js",
        ),
        ("javascript empty route", Lang::Js, EMPTY_JS, "empty.js"),
        (
            "javascript 10 x KSR.get_debug()",
            Lang::Js,
            TRIVIAL_JS,
            "trivial.js",
        ),
        (
            "squirrel route (10 KSR calls)",
            Lang::Squirrel,
            ROUTE_NUT,
            "route.nut",
        ),
        (
            "squirrel empty route",
            Lang::Squirrel,
            EMPTY_NUT,
            "empty.nut",
        ),
        (
            "squirrel 10 x KSR.get_debug()",
            Lang::Squirrel,
            TRIVIAL_NUT,
            "trivial.nut",
        ),
    ];
    for (label, lang, text, name) in runs {
        if filter.as_deref().is_none_or(|f| label.contains(f)) {
            let ns = per_route(lang, text, name);
            println!("  {label:<34} {ns:>8.0}");
        }
    }
}
