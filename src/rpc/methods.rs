//! The RPC methods, one table: name, help, handler.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::{RpcError, RpcState};
use crate::engine::{Lang, ScriptSource};
use crate::log;

type Handler = fn(&RpcState, &[Value]) -> Result<Value, RpcError>;

/// One method.
pub struct Method {
    pub name: &'static str,
    pub help: &'static str,
    handler: Handler,
}

/// Every method the control socket answers.
pub static METHODS: &[Method] = &[
    Method {
        name: "app_jsdt.reload",
        help: "Load the JavaScript routing script again; every worker switches once it loaded. Returns {old, new} versions.",
        handler: reload_js,
    },
    Method {
        name: "app_sqlang.reload",
        help: "Load the Squirrel routing script again; every worker switches once it loaded. Returns {old, new} versions.",
        handler: reload_sq,
    },
    Method {
        name: "app_jsdt.api_list",
        help: "The KSR functions, as `kemid api` prints them.",
        handler: api_list,
    },
    Method {
        name: "app_sqlang.api_list",
        help: "The KSR functions, as `kemid api` prints them.",
        handler: api_list,
    },
    Method {
        name: "core.version",
        help: "The server's version.",
        handler: version,
    },
    Method {
        name: "core.uptime",
        help: "When the server started and for how long it has run.",
        handler: uptime,
    },
    Method {
        name: "core.psx",
        help: "The worker threads: index, kind and the script version each runs.",
        handler: psx,
    },
    Method {
        name: "core.echo",
        help: "Returns its parameters.",
        handler: echo,
    },
    Method {
        name: "system.listMethods",
        help: "The names of all methods.",
        handler: list_methods,
    },
    Method {
        name: "system.methodHelp",
        help: "The help text of a method.",
        handler: method_help,
    },
    Method {
        name: "stats.get_statistics",
        help: "Counters as \"group:name = value\" lines; parameter: all (default) or a group (core, load, script).",
        handler: statistics,
    },
    Method {
        name: "cfg.get",
        help: "The value of a runtime parameter: cfg.get core debug.",
        handler: cfg_get,
    },
    Method {
        name: "cfg.set",
        help: "Changes a runtime parameter: cfg.set core debug 3.",
        handler: cfg_set,
    },
    Method {
        name: "cfg.list",
        help: "The runtime parameters and whether they can be changed.",
        handler: cfg_list,
    },
];

/// Runs a method by name: the core's, else a loaded module's.
pub fn call(state: &RpcState, name: &str, params: &[Value]) -> Result<Value, RpcError> {
    if let Some(m) = METHODS.iter().find(|m| m.name == name) {
        return (m.handler)(state, params);
    }
    let modules = state.core.loaded_modules();
    if let Some(r) = modules.call_rpc(name, params, state) {
        return r;
    }
    Err(match crate::module::Modules::rpc_owner(name) {
        Some(module) => RpcError::new(
            500,
            format!("{name} needs the {module} module: add loadmodule \"{module}.so\""),
        ),
        None => RpcError::new(
            -32601,
            format!("no method {name}; system.listMethods lists them"),
        ),
    })
}

impl crate::module::Control for RpcState {
    fn reload(&self, module: &str) -> Result<Value, RpcError> {
        match module {
            "app_jsdt" => reload(self, Lang::Js),
            "app_sqlang" => reload(self, Lang::Squirrel),
            other => Err(RpcError::new(
                500,
                format!("{other} has no script to reload"),
            )),
        }
    }
}

/// How long a reload waits for every worker to switch.
const SWITCH_WAIT: Duration = Duration::from_secs(5);

fn reload(state: &RpcState, lang: Lang) -> Result<Value, RpcError> {
    if state.store.lang() != lang {
        let other = state.store.lang().module_name();
        return Err(RpcError::new(
            500,
            format!("the routing engine is {other}; use {other}.reload"),
        ));
    }
    let (old, new, pending) = reload_script(state).map_err(|m| RpcError::new(500, m))?;
    Ok(json!({"old": old, "new": new, "workers_pending": pending}))
}

/// Reads the script file again, checks it in a scratch interpreter,
/// publishes it and waits until every worker runs it. Returns the old and
/// new versions and how many workers had not switched when the wait ended.
/// Used by the RPC methods, SIGHUP and `--watch`.
pub fn reload_script(state: &RpcState) -> Result<(u64, u64, usize), String> {
    if !state.script_reloadable {
        return Err("the built-in script cannot be reloaded; run kemid with -f".into());
    }
    let source = ScriptSource::read(&state.script_path).map_err(|e| e.to_string())?;
    let (old, new) = state.store.publish(source).map_err(|e| {
        log::error(
            "rpc",
            format_args!("reload refused, the old script keeps serving: {e}"),
        );
        format!("reload refused, the old script keeps serving: {e}")
    })?;
    // Wait until every worker runs the new version (idle ones switch at
    // their next poll), so the answer means "done everywhere".
    let deadline = Instant::now() + SWITCH_WAIT;
    let mut pending = state.core.workers_behind(new);
    while pending > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
        pending = state.core.workers_behind(new);
    }
    log::info(
        "rpc",
        format_args!("script reloaded: version {old} -> {new}"),
    );
    Ok((old, new, pending))
}

fn reload_js(state: &RpcState, _: &[Value]) -> Result<Value, RpcError> {
    reload(state, Lang::Js)
}

fn reload_sq(state: &RpcState, _: &[Value]) -> Result<Value, RpcError> {
    reload(state, Lang::Squirrel)
}

fn api_list(_: &RpcState, _: &[Value]) -> Result<Value, RpcError> {
    Ok(crate::gen::api_document(true))
}

fn version(_: &RpcState, _: &[Value]) -> Result<Value, RpcError> {
    Ok(json!(format!(
        "kemid {} ({}/{})",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        std::env::consts::OS
    )))
}

fn epoch(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn uptime(state: &RpcState, _: &[Value]) -> Result<Value, RpcError> {
    let now = SystemTime::now();
    let up = now.duration_since(state.started).unwrap_or_default();
    Ok(json!({"now": epoch(now), "up_since": epoch(state.started), "uptime": up.as_secs()}))
}

fn psx(state: &RpcState, _: &[Value]) -> Result<Value, RpcError> {
    let pid = std::process::id();
    let mut out = vec![json!({"IDX": 0, "PID": pid, "DSC": "main process"})];
    for (i, w) in state.core.workers().iter().enumerate() {
        out.push(json!({
            "IDX": i + 1,
            "PID": pid,
            "DSC": w.name,
            "VERSION": w.version.load(Ordering::Relaxed),
        }));
    }
    Ok(Value::Array(out))
}

fn echo(_: &RpcState, params: &[Value]) -> Result<Value, RpcError> {
    Ok(Value::Array(params.to_vec()))
}

fn list_methods(state: &RpcState, _: &[Value]) -> Result<Value, RpcError> {
    let mut names: Vec<&str> = METHODS.iter().map(|m| m.name).collect();
    names.extend(
        state
            .core
            .loaded_modules()
            .rpc_methods()
            .iter()
            .map(|m| m.0),
    );
    Ok(json!(names))
}

fn method_help(state: &RpcState, params: &[Value]) -> Result<Value, RpcError> {
    let name = params
        .first()
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::bad_params("system.methodHelp needs a method name"))?;
    METHODS
        .iter()
        .map(|m| (m.name, m.help))
        .chain(state.core.loaded_modules().rpc_methods())
        .find(|m| m.0 == name)
        .map(|m| json!(m.1))
        .ok_or_else(|| RpcError::new(-32601, format!("no method {name}")))
}

fn statistics(state: &RpcState, params: &[Value]) -> Result<Value, RpcError> {
    let group = params.first().and_then(Value::as_str).unwrap_or("all");
    let group = group.trim_end_matches(':');
    let s = &state.core.stats;
    let get = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    let mut lines = Vec::new();
    for (g, name, value) in [
        ("core", "rcv_requests", get(&s.rcv_requests)),
        ("core", "rcv_replies", get(&s.rcv_replies)),
        ("core", "fwd_replies", get(&s.fwd_replies)),
        ("core", "sent", get(&s.sent)),
        ("core", "send_errors", get(&s.send_errors)),
        ("core", "drops", get(&s.drops)),
        ("core", "bad_msgs", get(&s.bad_messages)),
        ("script", "errors", get(&s.script_errors)),
        ("script", "version", state.store.version()),
        ("script", "reloads", state.store.version().saturating_sub(1)),
    ] {
        if group == "all" || group == g {
            lines.push(format!("{g}:{name} = {value}"));
        }
    }
    for (g, name, _, value) in state.core.loaded_modules().statistics() {
        if group == "all" || group == g {
            lines.push(format!("{g}:{name} = {value}"));
        }
    }
    if group == "all" || group == "load" {
        for w in state.core.workers() {
            lines.push(format!(
                "load:{} = {}",
                w.name,
                w.handled.load(Ordering::Relaxed)
            ));
        }
    }
    if lines.is_empty() {
        return Err(RpcError::bad_params(format!(
            "no statistics group {group}; use all, core, script, load or a loaded module's name"
        )));
    }
    Ok(json!(lines))
}

/// The runtime parameters: group, name, whether it can change.
const CFG_PARAMS: &[(&str, &str, bool)] = &[("core", "debug", true)];

fn cfg_name(params: &[Value]) -> Result<(&str, &str), RpcError> {
    let group = params.first().and_then(Value::as_str);
    let name = params.get(1).and_then(Value::as_str);
    match (group, name) {
        (Some(g), Some(n)) if CFG_PARAMS.iter().any(|(pg, pn, _)| *pg == g && *pn == n) => {
            Ok((g, n))
        }
        (Some(g), Some(n)) => Err(RpcError::bad_params(format!(
            "no runtime parameter {g}.{n}; cfg.list lists them"
        ))),
        _ => Err(RpcError::bad_params(
            "give a group and a name: cfg.get core debug",
        )),
    }
}

fn cfg_get(_: &RpcState, params: &[Value]) -> Result<Value, RpcError> {
    match cfg_name(params)? {
        ("core", "debug") => Ok(json!(log::level())),
        (g, n) => Err(RpcError::bad_params(format!(
            "no runtime parameter {g}.{n}"
        ))),
    }
}

fn cfg_set(_: &RpcState, params: &[Value]) -> Result<Value, RpcError> {
    let (g, n) = cfg_name(params)?;
    let value = params
        .get(2)
        .and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .ok_or_else(|| RpcError::bad_params(format!("cfg.set {g} {n} needs an integer value")))?;
    match (g, n) {
        ("core", "debug") => {
            if !(-5..=3).contains(&value) {
                return Err(RpcError::bad_params("core.debug goes from -5 to 3"));
            }
            let old = log::level();
            log::set_level(value as i32);
            log::notice(
                "rpc",
                format_args!("core.debug changed from {old} to {value}"),
            );
            Ok(json!(0))
        }
        _ => Err(RpcError::bad_params(format!(
            "{g}.{n} cannot be changed at run time"
        ))),
    }
}

fn cfg_list(_: &RpcState, _: &[Value]) -> Result<Value, RpcError> {
    Ok(json!(CFG_PARAMS
        .iter()
        .map(|(g, n, rw)| json!({"group": g, "name": n, "writable": rw}))
        .collect::<Vec<_>>()))
}
