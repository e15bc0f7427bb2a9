//! One case table, two engines: every file in `tests/engine_cases/` holds a
//! script in JavaScript and in Squirrel and what running it must do; each
//! case runs in both engines, so they cannot drift apart.
//!
//! Case file format (sections start with `--- `):
//!
//! ```text
//! # What the case shows (first line, free text)
//! callback: ksr_request_route     (the function to call; this default)
//! arg: htable:mod-init            (the event name passed, if any)
//! calls: 2                        (how many times to call it; default 1)
//! message: no                     (run with no SIP message; default yes)
//! --- sip                         (the message, lines joined with CRLF;
//! OPTIONS sip:... SIP/2.0          default: an OPTIONS from 127.0.0.1:5070)
//! ...
//! --- js
//! <JavaScript source>
//! --- nut
//! <Squirrel source>
//! --- expect
//! load: ok | error <text>         (the load must succeed, or fail with a
//!                                  message containing <text>)
//! outcome: returned | exit | drop | missing | failed <text>
//! log: LEVEL text                 (every line the run logged, in order,
//!                                  as `LEVEL origin: text`; when no `log:`
//!                                  line is given, nothing may be logged)
//! log~: LEVEL text                (a logged line that contains text)
//! ```
//!
//! `outcome` is checked for the last call; `log` lines cover every call,
//! top level excluded (`toplevel-log:` lines check what loading logged).
//! Where the languages rightly differ (JavaScript coerces a number passed
//! for a string, Squirrel raises a script error), `--- expect-js` and
//! `--- expect-nut` sections replace `--- expect` for that language.

use std::path::{Path, PathBuf};

use kemid::ctx::{Ctx, WorkerLocal};
use kemid::engine::{self, EngineConfig, Lang, Outcome, ScriptSource};
use kemid::log::{self, Level};
use kemid::sip::SipMsg;
use kemid::transport::{Proto, RecvInfo};

const DEFAULT_SIP: &str = "OPTIONS sip:kemid@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-case;rport\r\n\
From: <sip:tester@127.0.0.1>;tag=t1\r\n\
To: <sip:kemid@127.0.0.1>\r\n\
Call-ID: case-1@127.0.0.1\r\n\
CSeq: 1 OPTIONS\r\n\
Max-Forwards: 70\r\n\
Content-Length: 0\r\n\r\n";

fn recv_info() -> RecvInfo {
    RecvInfo {
        proto: Proto::Udp,
        src: "127.0.0.1:5070".parse().expect("address"),
        local: "127.0.0.1:5060".parse().expect("address"),
        conn: None,
    }
}

#[derive(Debug, Default)]
struct Case {
    name: String,
    callback: String,
    arg: Option<String>,
    calls: usize,
    message: bool,
    js: String,
    nut: String,
    /// The SIP message, CRLF line ends; empty for the default.
    sip: String,
    /// The common expectations, then per-language ones.
    expect: Expect,
    expect_js: Option<Expect>,
    expect_nut: Option<Expect>,
}

#[derive(Debug, Default, Clone)]
struct Expect {
    load_error: Option<String>,
    outcome: Option<String>,
    logs: Vec<LogExpect>,
    toplevel_logs: Vec<LogExpect>,
}

#[derive(Debug, Clone)]
enum LogExpect {
    Exact(String),
    Contains(Level, String),
}

fn parse_level(word: &str) -> Level {
    match word {
        "DEBUG" => Level::Dbg,
        "INFO" => Level::Info,
        "NOTICE" => Level::Notice,
        "WARNING" => Level::Warn,
        "ERROR" => Level::Err,
        "CRITICAL" => Level::Crit,
        other => panic!("unknown level {other}"),
    }
}

fn parse_case(path: &Path) -> Case {
    let text = std::fs::read_to_string(path).expect("readable case");
    let mut case = Case {
        name: path
            .file_stem()
            .expect("stem")
            .to_string_lossy()
            .into_owned(),
        callback: engine::REQUEST_ROUTE.into(),
        calls: 1,
        message: true,
        ..Case::default()
    };
    let mut section = "head".to_owned();
    for line in text.lines() {
        if let Some(s) = line.strip_prefix("--- ") {
            section = s.trim().to_owned();
            continue;
        }
        match section.as_str() {
            "js" => {
                case.js.push_str(line);
                case.js.push('\n');
            }
            "nut" => {
                case.nut.push_str(line);
                case.nut.push('\n');
            }
            "sip" => {
                case.sip.push_str(line);
                case.sip.push_str("\r\n");
            }
            "head" | "expect" | "expect-js" | "expect-nut" => {
                if line.starts_with('#') || line.trim().is_empty() {
                    continue;
                }
                let expect = match section.as_str() {
                    "expect-js" => case.expect_js.get_or_insert_with(Expect::default),
                    "expect-nut" => case.expect_nut.get_or_insert_with(Expect::default),
                    _ => &mut case.expect,
                };
                let (key, value) = line
                    .split_once(':')
                    .unwrap_or_else(|| panic!("{}: bad line {line:?}", case.name));
                let value = value.trim();
                match key {
                    "callback" => case.callback = value.into(),
                    "arg" => case.arg = Some(value.into()),
                    "calls" => case.calls = value.parse().expect("calls is a number"),
                    "message" => case.message = value != "no",
                    "load" => {
                        if let Some(e) = value.strip_prefix("error") {
                            expect.load_error = Some(e.trim().into());
                        }
                    }
                    "outcome" => expect.outcome = Some(value.into()),
                    "log" | "toplevel-log" | "log~" | "toplevel-log~" => {
                        let exp = if key.ends_with('~') {
                            let (lvl, t) = value.split_once(' ').unwrap_or((value, ""));
                            LogExpect::Contains(parse_level(lvl), t.into())
                        } else {
                            LogExpect::Exact(value.into())
                        };
                        if key.starts_with("toplevel") {
                            expect.toplevel_logs.push(exp);
                        } else {
                            expect.logs.push(exp);
                        }
                    }
                    other => panic!("{}: unknown key {other:?}", case.name),
                }
            }
            other => panic!("{}: unknown section {other:?}", case.name),
        }
    }
    case
}

fn render(lines: &[(Level, String)]) -> Vec<String> {
    lines
        .iter()
        .map(|(l, t)| format!("{} {}", l.name(), t))
        .collect()
}

fn check_logs(what: &str, got: &[(Level, String)], want: &[LogExpect]) -> Result<(), String> {
    let rendered = render(got);
    if got.len() != want.len() {
        return Err(format!(
            "{what}: expected {} log lines, got {}: {rendered:#?}",
            want.len(),
            got.len()
        ));
    }
    for (i, ((lvl, text), exp)) in got.iter().zip(want).enumerate() {
        let ok = match exp {
            LogExpect::Exact(e) => &rendered[i] == e,
            LogExpect::Contains(l, t) => l == lvl && text.contains(t.as_str()),
        };
        if !ok {
            return Err(format!(
                "{what}: log line {i} is {:?}, expected {exp:?}; all: {rendered:#?}",
                rendered[i]
            ));
        }
    }
    Ok(())
}

fn outcome_matches(got: &Outcome, want: &str) -> bool {
    let (kind, text) = want.split_once(' ').unwrap_or((want, ""));
    match (kind, got) {
        ("returned", Outcome::Returned)
        | ("exit", Outcome::Exit)
        | ("drop", Outcome::Drop)
        | ("missing", Outcome::Missing) => true,
        ("failed", Outcome::Failed(e)) => e.to_string().contains(text),
        _ => false,
    }
}

fn run_case(case: &Case, lang: Lang) -> Result<(), String> {
    let (text, ext, expect) = match lang {
        Lang::Js => (
            &case.js,
            "js",
            case.expect_js.as_ref().unwrap_or(&case.expect),
        ),
        Lang::Squirrel => (
            &case.nut,
            "nut",
            case.expect_nut.as_ref().unwrap_or(&case.expect),
        ),
    };
    if text.trim().is_empty() {
        return Err("the case has no script for this language".into());
    }
    let source = ScriptSource {
        path: PathBuf::from(format!("{}.{ext}", case.name)),
        text: text.clone(),
    };
    let mut worker = WorkerLocal::default();
    log::set_level(Level::Dbg as i32);
    let (loaded, top_logs) =
        log::capture(|| engine::load(lang, &source, &EngineConfig::default(), &mut worker));
    let mut interp = match (loaded, &expect.load_error) {
        (Err(e), Some(want)) => {
            let shown = e.to_string();
            return if shown.contains(want.as_str()) {
                Ok(())
            } else {
                Err(format!(
                    "load failed with {shown:?}, expected it to contain {want:?}"
                ))
            };
        }
        (Err(e), None) => return Err(format!("load failed: {e}")),
        (Ok(_), Some(want)) => {
            return Err(format!(
                "load succeeded, expected an error containing {want:?}"
            ))
        }
        (Ok(i), None) => i,
    };
    check_logs("top level", &top_logs, &expect.toplevel_logs)?;
    let raw = if case.sip.is_empty() {
        DEFAULT_SIP.to_owned()
    } else {
        format!("{}\r\n", case.sip.trim_end())
    };
    let mut outcome = Outcome::Missing;
    let (parsed, logs) = log::capture(|| -> Result<(), String> {
        for _ in 0..case.calls {
            let mut msg = SipMsg::parse(raw.as_bytes())
                .map_err(|e| format!("the case's SIP message: {e}"))?;
            let mut ctx = if case.message {
                Ctx::for_message(&mut worker, &mut msg, recv_info())
            } else {
                Ctx::without_message(&mut worker)
            };
            outcome = interp.call(&mut ctx, &case.callback, case.arg.as_deref());
        }
        Ok(())
    });
    parsed?;
    check_logs("callback", &logs, &expect.logs)?;
    let want = expect.outcome.as_deref().unwrap_or("returned");
    if !outcome_matches(&outcome, want) {
        return Err(format!("outcome {outcome:?}, expected {want}"));
    }
    Ok(())
}

fn cases() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/engine_cases");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/engine_cases")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "case"))
        .collect();
    paths.sort();
    paths.iter().map(|p| parse_case(p)).collect()
}

fn run_all(lang: Lang) {
    let cases = cases();
    assert!(
        cases.len() >= 40,
        "the case table has {} cases; it must keep at least 40",
        cases.len()
    );
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| run_case(c, lang).err().map(|e| format!("{}: {e}", c.name)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed in {lang:?}:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn case_table_in_javascript() {
    run_all(Lang::Js);
}

#[test]
fn case_table_in_squirrel() {
    run_all(Lang::Squirrel);
}
