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
        name: "tm.stats",
        help: "Transaction counters: current, created, freed, replies sent by class (needs the tm module).",
        handler: needs_tm,
    },
    Method {
        name: "ul.dump",
        help: "The location table(s): every AoR with its contacts; parameter \"brief\" lists the AoRs only (needs usrloc or registrar).",
        handler: ul_dump,
    },
    Method {
        name: "ul.lookup",
        help: "The valid contacts of an address of record: ul.lookup location alice[@domain].",
        handler: ul_lookup,
    },
    Method {
        name: "ul.rm",
        help: "Removes an address of record with all its contacts: ul.rm location alice[@domain].",
        handler: ul_rm,
    },
    Method {
        name: "ul.add",
        help: "Adds or updates a contact: ul.add table AOR contact expires [q [path [flags [cflags [methods]]]]]; expires 0 is permanent, q a number such as 0.5, path \"0\" for none.",
        handler: ul_add,
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

/// Runs a method by name.
pub fn call(state: &RpcState, name: &str, params: &[Value]) -> Result<Value, RpcError> {
    match METHODS.iter().find(|m| m.name == name) {
        Some(m) => (m.handler)(state, params),
        None => Err(RpcError::new(
            -32601,
            format!("no method {name}; system.listMethods lists them"),
        )),
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

fn list_methods(_: &RpcState, _: &[Value]) -> Result<Value, RpcError> {
    Ok(json!(METHODS.iter().map(|m| m.name).collect::<Vec<_>>()))
}

fn method_help(_: &RpcState, params: &[Value]) -> Result<Value, RpcError> {
    let name = params
        .first()
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::bad_params("system.methodHelp needs a method name"))?;
    METHODS
        .iter()
        .find(|m| m.name == name)
        .map(|m| json!(m.help))
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
            "no statistics group {group}; use all, core, script or load"
        )));
    }
    Ok(json!(lines))
}

fn needs_tm(state: &RpcState, _: &[Value]) -> Result<Value, RpcError> {
    use crate::ctx::CoreServices;
    let tm = state
        .core
        .tm()
        .ok_or_else(|| RpcError::new(500, "tm is not loaded: no transactions are kept"))?;
    let s = &tm.stats;
    let get = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    Ok(json!({
        "current": tm.active(),
        "created": get(&s.created),
        "freed": get(&s.freed),
        "total_local": get(&s.replied_local),
        "relayed_replies": get(&s.relayed_replies),
        "2xx": get(&s.rpl_2xx),
        "3xx": get(&s.rpl_3xx),
        "4xx": get(&s.rpl_4xx),
        "5xx": get(&s.rpl_5xx),
        "6xx": get(&s.rpl_6xx),
    }))
}

/// The location service, or the error saying it is not loaded.
fn usrloc(state: &RpcState) -> Result<&crate::usrloc::Usrloc, RpcError> {
    state.core.usrloc().map(|u| &**u).ok_or_else(|| {
        RpcError::new(
            500,
            "no location table is kept: load the usrloc and registrar modules",
        )
    })
}

/// Parameter `i` as text (numbers are accepted and written out).
fn text_param(params: &[Value], i: usize) -> Option<String> {
    match params.get(i)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Parameter `i` as an integer (a numeric string is accepted).
fn int_param(params: &[Value], i: usize, what: &str) -> Result<Option<i64>, RpcError> {
    match params.get(i) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .map(Some)
            .ok_or_else(|| RpcError::bad_params(format!("{what} must be an integer"))),
    }
}

/// The table and AoR parameters, as Kamailio's ul.* methods take them.
fn table_and_aor(
    state: &RpcState,
    params: &[Value],
) -> Result<(std::sync::Arc<dyn crate::usrloc::LocationStore>, String), RpcError> {
    let ul = usrloc(state)?;
    let (Some(table), Some(aor)) = (text_param(params, 0), text_param(params, 1)) else {
        return Err(RpcError::new(
            500,
            "Not enough parameters (table and AOR to lookup)",
        ));
    };
    let store = ul
        .find_table(&table)
        .ok_or_else(|| RpcError::new(500, "Domain not found"))?;
    if ul.config().use_domain && !aor.contains('@') {
        return Err(RpcError::new(500, "Domain missing in AOR"));
    }
    let key = ul
        .aor_key_loose(&aor)
        .map_err(|e| RpcError::bad_params(format!("bad AOR {aor:?}: {e}")))?;
    Ok((store, key))
}

/// One contact as Kamailio's ul.dump shows it.
fn contact_json(c: &crate::usrloc::Contact, now: u64) -> Value {
    let not_set = |v: &Option<String>| v.clone().unwrap_or_else(|| "[not set]".into());
    let expires = if c.expires == 0 {
        json!("permanent")
    } else if c.expires <= now {
        json!("expired")
    } else {
        json!(c.expires - now)
    };
    json!({"Contact": {
        "Address": c.uri,
        "Expires": expires,
        "Q": c.q.map_or(-1.0, |q| f64::from(q) / 1000.0),
        "Call-ID": c.call_id,
        "CSeq": c.cseq,
        "User-Agent": not_set(&c.user_agent),
        "Received": not_set(&c.received),
        "Path": not_set(&c.path),
        "State": "CS_NEW",
        "Flags": c.flags,
        "CFlags": c.cflags,
        "Socket": not_set(&c.socket),
        // Printed as a signed number, as Kamailio does (all methods: -1).
        "Methods": c.methods as i32,
        "Ruid": if c.ruid.is_empty() { "[not set]".to_owned() } else { c.ruid.clone() },
        "Instance": not_set(&c.instance),
        "Reg-Id": c.reg_id,
        "Server-Id": 0,
        "Tcpconn-Id": c.conn.map_or(-1, |id| id as i64),
        "Keepalive": 0,
        "Last-Keepalive": 0,
        "Last-Modified": c.last_modified,
    }})
}

fn ul_dump(state: &RpcState, params: &[Value]) -> Result<Value, RpcError> {
    let ul = usrloc(state)?;
    let brief = text_param(params, 0).is_some_and(|b| b == "brief");
    let now = crate::usrloc::now();
    let mut domains = Vec::new();
    for table in ul.tables() {
        let slots = table.slots().max(1);
        let mut per_slot: std::collections::HashMap<usize, usize> = Default::default();
        let mut aors = Vec::new();
        table.for_each(&mut |aor, contacts| {
            let hash = crate::usrloc::aor_hash(aor);
            *per_slot.entry(hash as usize & (slots - 1)).or_default() += 1;
            if brief {
                aors.push(json!({"AoR": aor}));
            } else {
                let list: Vec<Value> = contacts.iter().map(|c| contact_json(c, now)).collect();
                aors.push(json!({"Info": {"AoR": aor, "HashID": hash, "Contacts": list}}));
            }
        });
        let records: usize = per_slot.values().sum();
        let max = per_slot.values().copied().max().unwrap_or(0);
        domains.push(json!({
            "Domain": table.name(),
            "Size": slots,
            "AoRs": aors,
            "Stats": {"Records": records, "Max-Slots": max},
        }));
    }
    Ok(if domains.len() == 1 {
        domains.remove(0)
    } else {
        Value::Array(domains)
    })
}

fn ul_lookup(state: &RpcState, params: &[Value]) -> Result<Value, RpcError> {
    let (table, aor) = table_and_aor(state, params)?;
    let now = crate::usrloc::now();
    let contacts = table.lookup(&aor, now);
    if contacts.is_empty() {
        return Err(RpcError::new(500, "AOR not found in location table"));
    }
    let list: Vec<Value> = contacts.iter().map(|c| contact_json(c, now)).collect();
    Ok(json!({"AoR": aor, "Contacts": list}))
}

fn ul_rm(state: &RpcState, params: &[Value]) -> Result<Value, RpcError> {
    let (table, aor) = table_and_aor(state, params)?;
    let removed = table.remove_aor(&aor);
    log::notice(
        "rpc",
        format_args!(
            "ul.rm: {aor} removed from {} ({removed} contacts)",
            table.name()
        ),
    );
    Ok(Value::Null)
}

/// A q-value given to ul.add: `0.5`, `1`, or thousandths above 1.
fn q_param(v: &Value) -> Result<Option<u16>, RpcError> {
    let f = v
        .as_f64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        .ok_or_else(|| RpcError::bad_params("Q must be a number such as 0.5"))?;
    if f < 0.0 {
        return Ok(None);
    }
    let q = if f <= 1.0 { f * 1000.0 } else { f };
    if q > 1000.0 {
        return Err(RpcError::bad_params("Q goes from 0 to 1"));
    }
    Ok(Some(q.round() as u16))
}

fn ul_add(state: &RpcState, params: &[Value]) -> Result<Value, RpcError> {
    if params.len() < 4 {
        return Err(RpcError::new(
            500,
            "Not enough parameters or wrong format: ul.add table AOR contact expires [q [path [flags [cflags [methods]]]]]",
        ));
    }
    let (table, aor) = table_and_aor(state, params)?;
    let ul = usrloc(state)?;
    let contact = text_param(params, 2).unwrap_or_default();
    if crate::sip::Uri::parse(&contact).is_err() {
        return Err(RpcError::bad_params(format!("{contact:?} is not a URI")));
    }
    let expires = int_param(params, 3, "expires")?.unwrap_or(0).max(0) as u64;
    let q = match params.get(4) {
        Some(v) => q_param(v)?,
        None => None,
    };
    let path = text_param(params, 5).filter(|p| !p.is_empty() && p != "0");
    let flags = int_param(params, 6, "flags")?.unwrap_or(0) as u32;
    let cflags = int_param(params, 7, "cflags")?.unwrap_or(0) as u32;
    let methods = int_param(params, 8, "methods")?.map_or(crate::usrloc::ALL_METHODS, |m| m as u32);
    let now = crate::usrloc::now();
    let ruid = ul.next_ruid();
    table.modify(&aor, now, &mut |cs| {
        let c = match cs.iter_mut().find(|c| c.uri == contact) {
            Some(c) => c,
            None => {
                cs.push(crate::usrloc::Contact {
                    uri: contact.clone(),
                    ruid: ruid.clone(),
                    ..Default::default()
                });
                let last = cs.len() - 1;
                &mut cs[last]
            }
        };
        c.expires = if expires == 0 { 0 } else { now + expires };
        c.q = q;
        c.path.clone_from(&path);
        c.flags = flags;
        c.cflags = cflags;
        c.methods = methods;
        c.call_id = "ul.add@kemid".into();
        c.cseq = 1;
        c.user_agent = Some("kemid RPC".into());
        c.last_modified = now;
    });
    Ok(Value::Null)
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
