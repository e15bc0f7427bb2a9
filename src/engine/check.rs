//! `kemid check`: finds faults in a routing script without running it.
//!
//! Each engine reduces a script to a [`ScriptScan`] (its syntax error, the
//! global functions it defines and its `KSR` call sites); the rules are
//! applied here once, so both languages report the same faults the same
//! way.

use std::fmt;
use std::path::Path;

use super::{js, sqlang, Lang, ScriptSource, REQUEST_ROUTE};
use crate::registry;

/// One reported fault: `file:line:col: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// A `KSR.<fn>(...)` or `KSR.<module>.<fn>(...)` call found in a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallSite {
    /// `""` for `KSR.<fn>`.
    pub module: String,
    pub name: String,
    pub argc: usize,
    /// The first argument when it is a string literal (callback names).
    pub first_str_arg: Option<String>,
    pub line: u32,
    pub column: u32,
}

/// What the rules need to know of a script.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScriptScan {
    /// Global function names the script defines.
    pub functions: Vec<String>,
    pub calls: Vec<CallSite>,
}

/// The tm functions whose string argument names a script function.
const CALLBACK_SETTERS: [&str; 4] = [
    "t_on_failure",
    "t_on_branch",
    "t_on_reply",
    "t_on_branch_failure",
];

/// Checks one script file; the language comes from its extension.
pub fn check_file(path: &Path) -> Vec<Diagnostic> {
    let file = path.display().to_string();
    let Some(lang) = Lang::from_path(path) else {
        return vec![Diagnostic {
            file,
            line: 0,
            column: 0,
            message: "unknown script type: use .js for JavaScript, .nut or .sq for Squirrel".into(),
        }];
    };
    match ScriptSource::read(path) {
        Ok(source) => check_source(lang, &source),
        Err(e) => vec![Diagnostic {
            file,
            line: 0,
            column: 0,
            message: e.message,
        }],
    }
}

/// Checks a script's text.
pub fn check_source(lang: Lang, source: &ScriptSource) -> Vec<Diagnostic> {
    let scan = match lang {
        Lang::Js => js::scan(source),
        Lang::Squirrel => sqlang::scan(source),
    };
    match scan {
        Ok(scan) => apply_rules(&source.path.display().to_string(), &scan),
        Err(syntax) => vec![syntax],
    }
}

/// The rules: unknown functions, wrong argument counts, callback names that
/// name no function, a missing `ksr_request_route`.
pub fn apply_rules(file: &str, scan: &ScriptScan) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let diag = |line, column, message| Diagnostic {
        file: file.to_owned(),
        line,
        column,
        message,
    };
    for call in &scan.calls {
        let path = if call.module.is_empty() {
            format!("KSR.{}", call.name)
        } else {
            format!("KSR.{}.{}", call.module, call.name)
        };
        let Some(export) = registry::find(&call.module, &call.name) else {
            let module_known =
                call.module.is_empty() || registry::modules().iter().any(|m| m.name == call.module);
            let message = if module_known {
                format!(
                    "{path} does not exist{}",
                    suggestion(&call.module, &call.name)
                )
            } else {
                format!("KSR.{} is not a module kemid provides", call.module)
            };
            out.push(diag(call.line, call.column, message));
            continue;
        };
        let want = export.params.len();
        let fits = if export.rest.is_some() {
            call.argc >= want
        } else {
            call.argc == want
        };
        if !fits {
            let names: Vec<&str> = export.params.iter().map(|p| p.name).collect();
            out.push(diag(
                call.line,
                call.column,
                format!(
                    "{path} takes {want} argument{} ({}), given {}",
                    if want == 1 { "" } else { "s" },
                    names.join(", "),
                    call.argc
                ),
            ));
        }
        if call.module == "tm" && CALLBACK_SETTERS.contains(&call.name.as_str()) {
            if let Some(target) = &call.first_str_arg {
                if !target.is_empty() && !scan.functions.iter().any(|f| f == target) {
                    out.push(diag(
                        call.line,
                        call.column,
                        format!("{path}(\"{target}\"): the script defines no function `{target}`"),
                    ));
                }
            }
        }
    }
    if !scan.functions.iter().any(|f| f == REQUEST_ROUTE) {
        out.push(diag(
            1,
            1,
            format!(
                "the script defines no `{REQUEST_ROUTE}` function; every routing script needs one"
            ),
        ));
    }
    out.sort_by_key(|d| (d.line, d.column));
    out
}

/// ` (did you mean KSR.pv.sets?)` when close names exist in the module.
fn suggestion(module: &str, name: &str) -> String {
    let scored: Vec<(usize, &registry::Export)> = registry::exports()
        .iter()
        .filter(|e| e.module == module)
        .map(|e| (edit_distance(e.name, name), e))
        .filter(|(d, _)| *d <= 2)
        .collect();
    let Some(best) = scored.iter().map(|(d, _)| *d).min() else {
        return String::new();
    };
    let names: Vec<String> = scored
        .iter()
        .filter(|(d, _)| *d == best)
        .map(|(_, e)| e.script_path())
        .collect();
    format!(" (did you mean {}?)", names.join(" or "))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(module: &str, name: &str, argc: usize, line: u32) -> CallSite {
        CallSite {
            module: module.into(),
            name: name.into(),
            argc,
            first_str_arg: None,
            line,
            column: 5,
        }
    }

    #[test]
    fn rules_report_unknown_functions_counts_and_missing_route() {
        let scan = ScriptScan {
            functions: vec!["helper".into()],
            calls: vec![
                call("pv", "sett", 2, 3),
                call("pv", "sets", 1, 4),
                call("", "info", 1, 5),
                call("nosuch", "f", 0, 6),
                call("x", "modf", 3, 7),
            ],
        };
        let d: Vec<String> = apply_rules("s.js", &scan)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            d,
            [
                "s.js:1:1: the script defines no `ksr_request_route` function; every routing script needs one",
                "s.js:3:5: KSR.pv.sett does not exist (did you mean KSR.pv.seti or KSR.pv.sets?)",
                "s.js:4:5: KSR.pv.sets takes 2 arguments (name, value), given 1",
                "s.js:6:5: KSR.nosuch is not a module kemid provides",
            ]
        );
    }
}
