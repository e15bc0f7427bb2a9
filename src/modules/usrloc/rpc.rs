//! The `ul.*` control methods, with Kamailio's names, parameters and
//! answer shapes.

use std::sync::Arc;

use serde_json::{json, Value};

use super::{LocationStore, Usrloc};
use crate::log;
use crate::module::{RpcCall, RpcError, RpcMethod};

pub(super) static METHODS: &[RpcMethod<Usrloc>] = &[
    RpcMethod {
        name: "ul.dump",
        help: "The location table(s): every AoR with its contacts; parameter \"brief\" lists the AoRs only.",
        handler: ul_dump,
    },
    RpcMethod {
        name: "ul.lookup",
        help: "The valid contacts of an address of record: ul.lookup location alice[@domain].",
        handler: ul_lookup,
    },
    RpcMethod {
        name: "ul.rm",
        help: "Removes an address of record with all its contacts: ul.rm location alice[@domain].",
        handler: ul_rm,
    },
    RpcMethod {
        name: "ul.add",
        help: "Adds or updates a contact: ul.add table AOR contact expires [q [path [flags [cflags [methods]]]]]; expires 0 is permanent, q a number such as 0.5, path \"0\" for none.",
        handler: ul_add,
    },
];

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
    ul: &Usrloc,
    params: &[Value],
) -> Result<(Arc<dyn LocationStore>, String), RpcError> {
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
fn contact_json(c: &super::Contact, now: u64) -> Value {
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

fn ul_dump(call: &RpcCall<'_, Usrloc>) -> Result<Value, RpcError> {
    let (ul, params) = (call.state, call.params);
    let brief = text_param(params, 0).is_some_and(|b| b == "brief");
    let now = super::now();
    let mut domains = Vec::new();
    for table in ul.tables() {
        let slots = table.slots().max(1);
        let mut per_slot: std::collections::HashMap<usize, usize> = Default::default();
        let mut aors = Vec::new();
        table.for_each(&mut |aor, contacts| {
            let hash = super::aor_hash(aor);
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

fn ul_lookup(call: &RpcCall<'_, Usrloc>) -> Result<Value, RpcError> {
    let (table, aor) = table_and_aor(call.state, call.params)?;
    let now = super::now();
    let contacts = table.lookup(&aor, now);
    if contacts.is_empty() {
        return Err(RpcError::new(500, "AOR not found in location table"));
    }
    let list: Vec<Value> = contacts.iter().map(|c| contact_json(c, now)).collect();
    Ok(json!({"AoR": aor, "Contacts": list}))
}

fn ul_rm(call: &RpcCall<'_, Usrloc>) -> Result<Value, RpcError> {
    let (table, aor) = table_and_aor(call.state, call.params)?;
    let removed = table.remove_aor(&aor);
    log::notice(
        "usrloc",
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

fn ul_add(call: &RpcCall<'_, Usrloc>) -> Result<Value, RpcError> {
    let (ul, params) = (call.state, call.params);
    if params.len() < 4 {
        return Err(RpcError::new(
            500,
            "Not enough parameters or wrong format: ul.add table AOR contact expires [q [path [flags [cflags [methods]]]]]",
        ));
    }
    let (table, aor) = table_and_aor(ul, params)?;
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
    let methods = int_param(params, 8, "methods")?.map_or(super::ALL_METHODS, |m| m as u32);
    let now = super::now();
    let ruid = ul.next_ruid();
    table.modify(&aor, now, &mut |cs| {
        let c = match cs.iter_mut().find(|c| c.uri == contact) {
            Some(c) => c,
            None => {
                cs.push(super::Contact {
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
