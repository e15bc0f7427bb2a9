//! `KSR.rr`: record-routing (RFC 3261 §16.6 step 4) and routing by the
//! Route set (§16.4, §16.12), strict routers included.
//!
//! `record_route` puts this server's `Record-Route` on top of the request,
//! `<sip:HOST:PORT;transport=tcp;lr;ftag=FROMTAG>`, with the address
//! advertised for the socket the request arrived on (`;transport` only
//! when it is not UDP). In-dialog requests then carry it back as a Route
//! header, which `loose_route` consumes.
//!
//! Module parameters: `append_fromtag` (1: add `ftag`, which
//! `is_direction` needs), `enable_full_lr` (1: `;lr=on`),
//! `enable_double_rr` (1: two Record-Routes marked `r2=on` when the
//! request leaves over the other transport, judged from `$du` or the
//! Request-URI when `record_route` runs; 2: always two, with explicit
//! transports), `add_username` (1: the Request-URI user in the URI).

use std::cell::RefCell;
use std::collections::HashMap;

use kemid_macros::kemi;
use regex::{Regex, RegexBuilder};

use crate::ctx::{CoreServices, Ctx};
use crate::log;
use crate::module::Module;
use crate::sip::{HeaderName, SipMsg, Span, Uri};
use crate::transport::Proto;

/// `modparam("rr", ...)`.
#[derive(Clone, Debug, kemid_macros::ModParams)]
pub struct Params {
    /// 1: write `;lr=on` instead of `;lr`.
    #[param(default = false)]
    pub enable_full_lr: bool,
    /// 1: add the From tag as `ftag` to Record-Route, needed by
    /// `is_direction`.
    #[param(default = true)]
    pub append_fromtag: bool,
    /// 1: two Record-Routes when the request changes transport (2: always
    /// two).
    #[param(default = 1, one_of = "0, 1, 2")]
    pub enable_double_rr: i64,
    /// 1: put the Request-URI user in the Record-Route URI.
    #[param(default = false)]
    pub add_username: bool,
    #[param(inert)]
    pub enable_socket_mismatch_warning: i64,
    #[param(inert)]
    pub custom_user_avp: String,
    #[param(inert)]
    pub force_send_socket: i64,
    #[param(inert)]
    pub ignore_sips: i64,
    #[param(inert)]
    pub sockname_mode: i64,
    #[param(inert)]
    pub loose_route_mode: i64,
}

/// `loadmodule "rr.so"`; its state is its settings.
pub static MODULE: Module<RrCfg> =
    Module::new("rr", "Record-Route and Route processing").init(|cx| {
        let p: Params = cx.params();
        Ok(RrCfg {
            append_fromtag: p.append_fromtag,
            full_lr: p.enable_full_lr,
            double_rr: p.enable_double_rr,
            add_username: p.add_username,
        })
    });

/// What rr kept for the message, or nothing kept yet.
fn rr_state<'a>(ctx: &'a Ctx) -> &'a RrState {
    static NONE: RrState = RrState {
        added: Vec::new(),
        params: String::new(),
        routed_params: None,
        next_hop_from_route: false,
    };
    MODULE.msg_data(ctx.state()).unwrap_or(&NONE)
}

fn rr_state_mut<'a>(ctx: &'a mut Ctx) -> &'a mut RrState {
    MODULE.msg_data_mut(ctx.state_mut())
}

/// What rr keeps about the message being routed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RrState {
    /// The Record-Route values this module added, top first (Kamailio's
    /// "record-route added" message flag is `!added.is_empty()`).
    pub added: Vec<String>,
    /// Parameters given to `add_rr_param`, added to every Record-Route
    /// this module writes.
    pub params: String,
    /// The URI parameters of this server's Route entry consumed by
    /// `loose_route` (`check_route_param`, `is_direction`).
    pub routed_params: Option<String>,
    /// Whether `loose_route` took the next hop from the Route set.
    pub next_hop_from_route: bool,
}

/// The rr settings, from its parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RrCfg {
    append_fromtag: bool,
    full_lr: bool,
    double_rr: i64,
    add_username: bool,
}

impl RrCfg {
    /// The settings of the running configuration (the defaults in tools).
    fn of(ctx: &Ctx) -> RrCfg {
        MODULE.state(ctx).copied().unwrap_or(RrCfg {
            append_fromtag: true,
            full_lr: false,
            double_rr: 1,
            add_username: false,
        })
    }

    fn lr(self) -> &'static str {
        if self.full_lr {
            ";lr=on"
        } else {
            ";lr"
        }
    }
}

fn rr_line(value: &str) -> Vec<u8> {
    format!("Record-Route: {value}\r\n").into_bytes()
}

/// `value` as a URI parameter list starting with `;` (empty stays empty).
fn as_params(value: &str) -> String {
    let v = value.trim();
    if v.is_empty() || v.starts_with(';') {
        v.to_owned()
    } else {
        format!(";{v}")
    }
}

/// Checks text going into a header.
fn clean(text: &str) -> bool {
    !text.bytes().any(|c| matches!(c, b'\r' | b'\n' | 0))
}

/// The protocol a `transport` parameter names (UDP when absent).
fn proto_of(transport: Option<&str>) -> Option<Proto> {
    match transport {
        None => Some(Proto::Udp),
        Some(t) if t.eq_ignore_ascii_case("udp") => Some(Proto::Udp),
        Some(t) if t.eq_ignore_ascii_case("tcp") => Some(Proto::Tcp),
        Some(_) => None,
    }
}

/// Whether `uri` names this server.
fn uri_is_myself(core: &dyn CoreServices, uri: &Uri) -> bool {
    let proto = uri.transport().and_then(|t| proto_of(Some(t)));
    core.is_myself(uri.host(), Some(uri.port_or_default()), proto)
}

/// Builds one Record-Route value: `<sip:[user@]hostport[;transport=..]
/// [;r2=on];lr[;ftag=..][params]>`.
fn rr_value(
    hostport: &str,
    user: Option<&str>,
    transport: Option<Proto>,
    r2: bool,
    ftag: Option<&str>,
    params: &str,
    cfg: RrCfg,
) -> String {
    let mut v = String::with_capacity(64 + params.len());
    v.push('<');
    let lower = hostport.to_ascii_lowercase();
    if !(lower.starts_with("sip:") || lower.starts_with("sips:")) {
        v.push_str("sip:");
    }
    if let Some(u) = user.filter(|u| !u.is_empty()) {
        v.push_str(u);
        v.push('@');
    }
    v.push_str(hostport);
    if let Some(p) = transport {
        v.push_str(";transport=");
        v.push_str(p.name());
    }
    if r2 {
        v.push_str(";r2=on");
    }
    v.push_str(cfg.lr());
    if let Some(t) = ftag.filter(|t| !t.is_empty()) {
        v.push_str(";ftag=");
        v.push_str(t);
    }
    v.push_str(params);
    v.push('>');
    v
}

/// `host:port` with IPv6 hosts in brackets.
fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The transport the request will leave over, judged from `$du`, else the
/// Request-URI.
fn outgoing_proto(msg: &SipMsg) -> Option<Proto> {
    let next = msg.du().or_else(|| msg.ruri_str())?;
    let uri = Uri::parse(next).ok()?;
    proto_of(uri.transport())
}

/// What every Record-Route of this message shares.
struct RrParts {
    user: Option<String>,
    ftag: Option<String>,
    params: String,
}

fn rr_parts(ctx: &Ctx, cfg: RrCfg, extra: &str) -> Option<RrParts> {
    let msg = ctx.msg()?;
    let user = if cfg.add_username {
        msg.ruri().ok().and_then(|u| u.user().map(str::to_owned))
    } else {
        None
    };
    let ftag = if cfg.append_fromtag {
        msg.from_header()
            .ok()
            .and_then(|f| f.tag().map(str::to_owned))
    } else {
        None
    };
    let mut params = as_params(extra);
    params.push_str(&rr_state(ctx).params);
    Some(RrParts { user, ftag, params })
}

/// Adds the Record-Route values (top first) and remembers them.
fn insert(ctx: &mut Ctx, values: Vec<String>) -> i32 {
    let Some(msg) = ctx.msg_mut() else { return -1 };
    for (i, v) in values.iter().enumerate() {
        if let Err(e) = msg.add_record_route(v) {
            log::error("rr", format_args!("cannot add Record-Route {v}: {e}"));
            for done in &values[..i] {
                msg.withdraw_insertion(&rr_line(done));
            }
            return -1;
        }
    }
    rr_state_mut(ctx).added = values;
    1
}

/// Whether Record-Route may be added (once per message).
fn may_record(ctx: &Ctx) -> bool {
    if !rr_state(ctx).added.is_empty() {
        log::error("rr", format_args!("double attempt to record-route"));
        return false;
    }
    ctx.msg().is_some_and(SipMsg::is_request)
}

/// Record-Route with this server's advertised address(es).
fn record(ctx: &mut Ctx, extra: &str, address: Option<&str>) -> i32 {
    if !may_record(ctx) || !clean(extra) || !address.is_none_or(clean) {
        return -1;
    }
    let cfg = RrCfg::of(ctx);
    let (Some(recv), Some(core)) = (ctx.recv().copied(), ctx.core()) else {
        log::error("rr", format_args!("record_route needs a received message"));
        return -1;
    };
    let Some(parts) = rr_parts(ctx, cfg, extra) else {
        return -1;
    };
    let inbound = recv.proto;
    let outbound = ctx.msg().and_then(outgoing_proto).unwrap_or(inbound);
    let address_for = |proto: Proto| -> String {
        match address {
            Some(a) => a.trim().to_owned(),
            None => {
                let (host, port) = core.advertised(proto, recv.local);
                host_port(&host, port)
            }
        }
    };
    let value = |proto: Proto, explicit: bool, r2: bool| {
        let transport = (explicit || proto != Proto::Udp).then_some(proto);
        rr_value(
            &address_for(proto),
            parts.user.as_deref(),
            transport,
            r2,
            parts.ftag.as_deref(),
            &parts.params,
            cfg,
        )
    };
    let values = if cfg.double_rr >= 2 || (cfg.double_rr == 1 && outbound != inbound) {
        let explicit = cfg.double_rr >= 2;
        vec![
            value(outbound, explicit, true),
            value(inbound, explicit, true),
        ]
    } else {
        vec![value(inbound, false, false)]
    };
    insert(ctx, values)
}

/// Adds this server's `Record-Route` on top of the request, so in-dialog
/// requests come through here. The address is the one advertised for the
/// socket the request arrived on; `;transport` is added unless UDP, `ftag`
/// with `append_fromtag`, and any `add_rr_param` parameters. With
/// `enable_double_rr`, two are added (`r2=on`) when the request will leave
/// over the other transport.
///
/// # Returns
/// 1 added, -1 already added for this message or error.
///
/// # Example
/// ```js
/// if (KSR.is_INVITE() || KSR.is_SUBSCRIBE()) {
///     KSR.rr.record_route();
/// }
/// ```
#[kemi]
pub fn record_route(ctx: &mut Ctx) -> i32 {
    record(ctx, "", None)
}

/// Like `record_route`, adding URI parameters to the Record-Route.
///
/// # Parameters
/// - `params`: parameters in `;name=value` form (a leading `;` is added
///   when missing).
///
/// # Returns
/// 1 added, -1 already added for this message or error.
///
/// # Example
/// ```js
/// KSR.rr.record_route_params(";nat=yes");
/// ```
#[kemi]
pub fn record_route_params(ctx: &mut Ctx, params: &str) -> i32 {
    record(ctx, params, None)
}

/// Adds a `Record-Route` with the given address instead of the advertised
/// one (two with `enable_double_rr` when the transport changes).
///
/// # Parameters
/// - `addr`: `host[:port]` to put in the Record-Route URI.
///
/// # Returns
/// 1 added, -1 already added for this message or error.
///
/// # Example
/// ```js
/// KSR.rr.record_route_advertised_address("sip.example.com:5060");
/// ```
#[kemi]
pub fn record_route_advertised_address(ctx: &mut Ctx, addr: &str) -> i32 {
    if addr.trim().is_empty() {
        log::error(
            "rr",
            format_args!("record_route_advertised_address: empty address"),
        );
        return -1;
    }
    record(ctx, "", Some(addr))
}

fn preset(ctx: &mut Ctx, addrs: &[&str]) -> i32 {
    if !may_record(ctx) {
        return -1;
    }
    if addrs.iter().any(|a| a.trim().is_empty() || !clean(a)) {
        log::error(
            "rr",
            format_args!("record_route_preset: empty or invalid address"),
        );
        return -1;
    }
    let cfg = RrCfg::of(ctx);
    let Some(parts) = rr_parts(ctx, cfg, "") else {
        return -1;
    };
    let r2 = addrs.len() > 1;
    let values = addrs
        .iter()
        .map(|a| {
            rr_value(
                a.trim(),
                parts.user.as_deref(),
                None,
                r2,
                parts.ftag.as_deref(),
                &parts.params,
                cfg,
            )
        })
        .collect();
    insert(ctx, values)
}

/// Adds a `Record-Route` with exactly the given address (`sip:` is added
/// when missing), plus `;lr`, `ftag` and `add_rr_param` parameters.
///
/// # Parameters
/// - `addr`: the address, such as `"10.0.0.1:5060;transport=tcp"`.
///
/// # Returns
/// 1 added, -1 already added for this message or error.
///
/// # Example
/// ```js
/// KSR.rr.record_route_preset_one("10.0.0.1:5060");
/// ```
#[kemi]
pub fn record_route_preset_one(ctx: &mut Ctx, addr: &str) -> i32 {
    preset(ctx, &[addr])
}

/// Adds `Record-Route`s with the given addresses: `addr` alone, or, when
/// `addr2` is not empty, two (both `r2=on`): `addr` for the interface the
/// request leaves from (on top) and `addr2` for the one it arrived on.
/// Two need `enable_double_rr`.
///
/// # Parameters
/// - `addr`: the (outbound) address.
/// - `addr2`: the inbound address, or `""` for one Record-Route.
///
/// # Returns
/// 1 added, -1 already added, `addr2` given with `enable_double_rr` 0, or
/// error.
///
/// # Example
/// ```js
/// KSR.rr.record_route_preset("203.0.113.1:5060", "10.0.0.1:5060");
/// ```
#[kemi]
pub fn record_route_preset(ctx: &mut Ctx, addr: &str, addr2: &str) -> i32 {
    if addr2.trim().is_empty() {
        return preset(ctx, &[addr]);
    }
    if RrCfg::of(ctx).double_rr == 0 {
        log::error(
            "rr",
            format_args!("record_route_preset with two addresses needs enable_double_rr"),
        );
        return -1;
    }
    preset(ctx, &[addr, addr2])
}

/// Withdraws the Record-Route headers this message got from `record_route`
/// and its variants; `record_route` may then be called again.
///
/// # Returns
/// 1.
///
/// # Example
/// ```js
/// KSR.rr.remove_record_route();
/// ```
#[kemi]
pub fn remove_record_route(ctx: &mut Ctx) -> i32 {
    let added = std::mem::take(&mut rr_state_mut(ctx).added);
    if let Some(msg) = ctx.msg_mut() {
        for v in &added {
            msg.withdraw_insertion(&rr_line(v));
        }
    }
    1
}

/// Adds a URI parameter to this server's Record-Route: to the ones already
/// added, and to those `record_route` adds later for this message.
///
/// # Parameters
/// - `param`: `;name=value` (a leading `;` is added when missing).
///
/// # Returns
/// 1 added, -1 invalid text.
///
/// # Example
/// ```js
/// KSR.rr.add_rr_param(";nat=yes");
/// ```
#[kemi]
pub fn add_rr_param(ctx: &mut Ctx, param: &str) -> i32 {
    let p = as_params(param);
    if p.is_empty() || !clean(&p) || p.contains(['<', '>', ',']) {
        log::error(
            "rr",
            format_args!("add_rr_param: invalid parameter {param:?}"),
        );
        return -1;
    }
    rr_state_mut(ctx).params.push_str(&p);
    let added = rr_state(ctx).added.clone();
    if added.is_empty() {
        return 1;
    }
    // Rewrite the Record-Routes already added with the parameter.
    let Some(msg) = ctx.msg_mut() else { return -1 };
    let mut rewritten = Vec::with_capacity(added.len());
    for v in &added {
        msg.withdraw_insertion(&rr_line(v));
        let new = match v.strip_suffix('>') {
            Some(inner) => format!("{inner}{p}>"),
            None => v.clone(),
        };
        rewritten.push(new);
    }
    for v in &rewritten {
        if let Err(e) = msg.add_record_route(v) {
            log::error("rr", format_args!("cannot rewrite Record-Route {v}: {e}"));
        }
    }
    rr_state_mut(ctx).added = rewritten;
    1
}

/// One Route entry of the message: its URI and where it is.
struct RouteEntry {
    header: usize,
    span: Span,
    uri: String,
}

fn route_entries(msg: &SipMsg) -> Result<Vec<RouteEntry>, ()> {
    let routes = msg.routes().map_err(|_| ())?;
    let spans: Vec<(usize, Span)> = msg.value_spans(HeaderName::Route).collect();
    if spans.len() != routes.len() {
        return Err(());
    }
    Ok(routes
        .iter()
        .zip(spans)
        .map(|(r, (header, span))| RouteEntry {
            header,
            span,
            uri: r.uri_str().to_owned(),
        })
        .collect())
}

/// Records the removal of the Route entries `remove` (indexes into
/// `entries`): whole lines when every value of a line goes, else the
/// values with their commas.
fn remove_routes(msg: &mut SipMsg, entries: &[RouteEntry], remove: &[usize]) -> Result<(), ()> {
    let mut headers: Vec<usize> = remove
        .iter()
        .filter_map(|&i| entries.get(i).map(|e| e.header))
        .collect();
    headers.sort_unstable();
    headers.dedup();
    for h in headers {
        let line: Vec<(usize, &RouteEntry)> = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.header == h)
            .collect();
        let gone: Vec<bool> = line.iter().map(|(i, _)| remove.contains(i)).collect();
        if gone.iter().all(|g| *g) {
            msg.delete_header(h).map_err(|_| ())?;
            continue;
        }
        // Contiguous runs of removed values on this line.
        let mut k = 0;
        while k < line.len() {
            if !gone[k] {
                k += 1;
                continue;
            }
            let start = k;
            while k < line.len() && gone[k] {
                k += 1;
            }
            let last = k - 1;
            let span = if k < line.len() {
                Span::of(line[start].1.span.start(), line[k].1.span.start())
            } else {
                Span::of(line[start - 1].1.span.end(), line[last].1.span.end())
            };
            msg.delete_span(span).map_err(|_| ())?;
        }
    }
    Ok(())
}

/// The URI a request is sent to for a Route URI: `sip:MADDR[:port]` when
/// it has `maddr`, else itself.
fn maddr_uri(uri: &Uri) -> String {
    match uri.maddr() {
        Some(m) => match uri.port() {
            Some(p) => format!("sip:{m}:{p}"),
            None => format!("sip:{m}"),
        },
        None => uri.as_str().to_owned(),
    }
}

const RR_DRIVEN: i32 = 1;
const RR_ERROR: i32 = -1;
const RR_PRELOADED: i32 = -3;

fn set_du(msg: &mut SipMsg, uri: &str) -> bool {
    match msg.set_du(uri) {
        Ok(()) => true,
        Err(e) => {
            log::error("rr", format_args!("cannot route to {uri}: {e}"));
            false
        }
    }
}

fn set_ruri(msg: &mut SipMsg, uri: &str) -> bool {
    match msg.set_ruri(uri) {
        Ok(()) => true,
        Err(e) => {
            log::error(
                "rr",
                format_args!("cannot set the Request-URI to {uri}: {e}"),
            );
            false
        }
    }
}

/// RFC 3261 §16.12 after a loose router (or for a preloaded route set).
fn after_loose(ctx: &mut Ctx, entries: &[RouteEntry], preloaded: bool, double_rr: bool) -> i32 {
    let Some(core) = ctx.core() else {
        return RR_ERROR;
    };
    let Ok(top) = Uri::parse(&entries[0].uri) else {
        log::error("rr", format_args!("bad Route URI {}", entries[0].uri));
        return RR_ERROR;
    };
    // Every Route entry to drop is removed in one step: removals on one
    // header line must be computed together.
    let mut remove = Vec::new();
    let mut next = 0;
    if uri_is_myself(core, &top) {
        rr_state_mut(ctx).routed_params = Some(top.params_str().to_owned());
        remove.push(0);
        next = 1;
        if double_rr && top.has_param("r2") && entries.len() > 1 {
            remove.push(1);
            next = 2;
        }
        if next >= entries.len() {
            let Some(msg) = ctx.msg_mut() else {
                return RR_ERROR;
            };
            if remove_routes(msg, entries, &remove).is_err() {
                return RR_ERROR;
            }
            return if preloaded { RR_PRELOADED } else { RR_DRIVEN };
        }
        rr_state_mut(ctx).next_hop_from_route = true;
    } else {
        rr_state_mut(ctx).routed_params = None;
    }
    let Ok(hop) = Uri::parse(&entries[next].uri) else {
        log::error("rr", format_args!("bad Route URI {}", entries[next].uri));
        return RR_ERROR;
    };
    let Some(msg) = ctx.msg_mut() else {
        return RR_ERROR;
    };
    if !hop.lr() {
        // The next hop is a strict router: it gets the request with its
        // URI as Request-URI and ours (the remote target) as last Route.
        let Some(old) = msg.original_ruri_str().map(str::to_owned) else {
            return RR_ERROR;
        };
        remove.push(next);
        if msg.append_header(&format!("Route: <{old}>")).is_err()
            || !set_ruri(msg, &maddr_uri(&hop))
        {
            return RR_ERROR;
        }
    } else if !set_du(msg, &maddr_uri(&hop)) {
        return RR_ERROR;
    }
    if remove_routes(msg, entries, &remove).is_err() {
        return RR_ERROR;
    }
    RR_DRIVEN
}

/// RFC 3261 §16.4: the previous hop was a strict router, so the
/// Request-URI is this server's Record-Route URI and the remote target is
/// the last Route.
fn after_strict(ctx: &mut Ctx, entries: &[RouteEntry], double_rr: bool) -> i32 {
    let Some(core) = ctx.core() else {
        return RR_ERROR;
    };
    let mut current = 0;
    let mut remove = Vec::new();
    if let Ok(top) = Uri::parse(&entries[0].uri) {
        if double_rr && top.has_param("r2") && uri_is_myself(core, &top) {
            remove.push(0);
            current = 1;
            if entries.len() < 2 {
                // Our two Routes and nothing after them.
                let Some(msg) = ctx.msg_mut() else {
                    return RR_ERROR;
                };
                let _ = remove_routes(msg, entries, &remove);
                return RR_ERROR;
            }
        }
    }
    let ruri_params = ctx
        .msg()
        .and_then(|m| m.ruri().ok().map(|u| u.params_str().to_owned()));
    rr_state_mut(ctx).routed_params = ruri_params;
    let Ok(hop) = Uri::parse(&entries[current].uri) else {
        log::error("rr", format_args!("bad Route URI {}", entries[current].uri));
        return RR_ERROR;
    };
    let Some(msg) = ctx.msg_mut() else {
        return RR_ERROR;
    };
    if !hop.lr() {
        // Strict router next too: behave as one.
        remove.push(current);
        if !set_ruri(msg, &maddr_uri(&hop)) || remove_routes(msg, entries, &remove).is_err() {
            return RR_ERROR;
        }
    } else {
        if !set_du(msg, &maddr_uri(&hop)) {
            return RR_ERROR;
        }
        let last = entries.len() - 1;
        if last <= current {
            log::error(
                "rr",
                format_args!("strict-routed request without remote target in Route"),
            );
            return RR_ERROR;
        }
        let Ok(target) = Uri::parse(&entries[last].uri) else {
            return RR_ERROR;
        };
        remove.push(last);
        if !set_ruri(msg, &maddr_uri(&target)) || remove_routes(msg, entries, &remove).is_err() {
            return RR_ERROR;
        }
    }
    RR_DRIVEN
}

fn loose_route_with(ctx: &mut Ctx, mode: i32) -> i32 {
    let cfg = RrCfg::of(ctx);
    let Some(core) = ctx.core() else {
        log::error("rr", format_args!("loose_route needs a running server"));
        return RR_ERROR;
    };
    let Some(msg) = ctx.msg() else {
        return RR_ERROR;
    };
    if !msg.is_request() {
        return RR_ERROR;
    }
    let entries = match route_entries(msg) {
        Ok(e) if !e.is_empty() => e,
        Ok(_) => return RR_ERROR,
        Err(()) => {
            log::error("rr", format_args!("cannot parse the Route headers"));
            return RR_ERROR;
        }
    };
    let Ok(to) = msg.to_header() else {
        log::error("rr", format_args!("loose_route: no valid To header"));
        return RR_ERROR;
    };
    let preloaded = to.tag().is_none_or(str::is_empty);
    let ruri_mine = match msg.ruri() {
        Ok(u) => uri_is_myself(core, &u),
        Err(_) => {
            log::error("rr", format_args!("loose_route: bad Request-URI"));
            return RR_ERROR;
        }
    };
    let double_rr = cfg.double_rr != 0;
    if preloaded {
        after_loose(ctx, &entries, true, double_rr)
    } else if mode & 1 == 0 && ruri_mine {
        after_strict(ctx, &entries, double_rr)
    } else {
        after_loose(ctx, &entries, false, double_rr)
    }
}

/// Routes a request by its Route headers (RFC 3261 §16.12): when the top
/// Route is this server it is removed (with its `r2=on` twin); the next
/// Route sets `$du` (a strict router's instead becomes the Request-URI,
/// the old Request-URI going last in the Route set). An in-dialog request
/// whose Request-URI is this server came through a strict router: the
/// last Route becomes the Request-URI again. Route headers are removed
/// from the forwarded request, not from what reads of the message see.
///
/// # Returns
/// 1 routed by the Route set; -1 no Route header or error; -3 a preloaded
/// route set (request without To-tag) whose only Route was this server (it
/// was removed; route the request normally).
///
/// # Example
/// ```js
/// if (KSR.siputils.has_totag() > 0) {
///     if (KSR.rr.loose_route() > 0) {
///         KSR.tm.t_relay();
///     }
/// }
/// ```
#[kemi]
pub fn loose_route(ctx: &mut Ctx) -> i32 {
    loose_route_with(ctx, 0)
}

/// Runs `loose_route` and tells whether the request had a preloaded route
/// set that ended at this server.
///
/// # Returns
/// 1 when `loose_route` gave -3, -1 otherwise.
///
/// # Example
/// ```js
/// if (KSR.rr.loose_route_preloaded() > 0) {
///     KSR.info("preloaded route to us\n");
/// }
/// ```
#[kemi]
pub fn loose_route_preloaded(ctx: &mut Ctx) -> i32 {
    if loose_route_with(ctx, 0) == RR_PRELOADED {
        1
    } else {
        -1
    }
}

/// `loose_route` with options.
///
/// # Parameters
/// - `mode`: bit 1 (value 1): do not treat a Request-URI naming this
///   server as left by a strict router; bit 2 (value 2): skip outbound
///   flow-token processing (kemid has none).
///
/// # Returns
/// As `loose_route`: 1 routed, -1 no Route or error, -3 preloaded route
/// set ended here.
///
/// # Example
/// ```js
/// KSR.rr.loose_route_mode(1);
/// ```
#[kemi]
pub fn loose_route_mode(ctx: &mut Ctx, mode: i32) -> i32 {
    loose_route_with(ctx, mode)
}

/// After `loose_route`: tells whether the next hop came from a Route
/// header (this server's Route was followed by another).
///
/// # Returns
/// 1 yes, -1 no.
///
/// # Example
/// ```js
/// if (KSR.rr.next_hop_route() > 0) {
///     KSR.info("next hop from the route set\n");
/// }
/// ```
#[kemi]
pub fn next_hop_route(ctx: &mut Ctx) -> i32 {
    if rr_state(ctx).next_hop_from_route {
        1
    } else {
        -1
    }
}

/// The parameters of this server's Route entry: those `loose_route`
/// consumed, else those of the top Route when it names this server.
fn local_route_params(ctx: &Ctx) -> Option<String> {
    if let Some(p) = &rr_state(ctx).routed_params {
        return Some(p.clone());
    }
    let core = ctx.core()?;
    let msg = ctx.msg()?;
    let routes = msg.routes().ok()?;
    let top = routes.first()?;
    let uri = top.uri();
    uri_is_myself(core, &uri).then(|| uri.params_str().to_owned())
}

thread_local! {
    static REGEXES: RefCell<HashMap<String, Regex>> = RefCell::new(HashMap::new());
}

/// Most compiled expressions kept per worker.
const REGEX_CACHE: usize = 64;

fn matches(pattern: &str, text: &str) -> Option<bool> {
    REGEXES.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(re) = cache.get(pattern) {
            return Some(re.is_match(text));
        }
        let re = match RegexBuilder::new(pattern)
            .case_insensitive(true)
            .size_limit(1 << 20)
            .build()
        {
            Ok(re) => re,
            Err(e) => {
                log::error(
                    "rr",
                    format_args!("bad regular expression {pattern:?}: {e}"),
                );
                return None;
            }
        };
        let hit = re.is_match(text);
        if cache.len() >= REGEX_CACHE {
            cache.clear();
        }
        cache.insert(pattern.to_owned(), re);
        Some(hit)
    })
}

/// After `loose_route`: tells whether the URI parameters of this server's
/// Route entry (leading `;` included) match a regular expression
/// (case-insensitive).
///
/// # Parameters
/// - `re`: the regular expression.
///
/// # Returns
/// 1 match, -1 no match, no such parameters, or a bad expression.
///
/// # Example
/// ```js
/// if (KSR.rr.check_route_param("nat=yes") > 0) {
///     KSR.setflag(5);
/// }
/// ```
#[kemi]
pub fn check_route_param(ctx: &mut Ctx, re: &str) -> i32 {
    let Some(params) = local_route_params(ctx).filter(|p| !p.is_empty()) else {
        return -1;
    };
    match matches(re, &params) {
        Some(true) => 1,
        _ => -1,
    }
}

/// After `loose_route`: tells the direction of an in-dialog request from
/// the `ftag` parameter of this server's Route entry: `downstream` when the
/// From tag is the one the dialog started with (caller to callee), else
/// `upstream`. Needs `append_fromtag`; a Route without `ftag` counts as
/// downstream.
///
/// # Parameters
/// - `dir`: `"downstream"` or `"upstream"` (any case).
///
/// # Returns
/// 1 the request goes that way, -1 it does not, or bad `dir`, or
/// `append_fromtag` is off.
///
/// # Example
/// ```js
/// if (KSR.rr.is_direction("upstream") > 0) {
///     KSR.info("from callee to caller\n");
/// }
/// ```
#[kemi]
pub fn is_direction(ctx: &mut Ctx, dir: &str) -> i32 {
    if !RrCfg::of(ctx).append_fromtag {
        log::error(
            "rr",
            format_args!("is_direction needs modparam(\"rr\", \"append_fromtag\", 1)"),
        );
        return -1;
    }
    let want_up = if dir.eq_ignore_ascii_case("upstream") {
        true
    } else if dir.eq_ignore_ascii_case("downstream") {
        false
    } else {
        log::error(
            "rr",
            format_args!("is_direction: unknown direction {dir:?}; use downstream or upstream"),
        );
        return -1;
    };
    let params = local_route_params(ctx).unwrap_or_default();
    let ftag = crate::sip::Params::parse(&params)
        .find("ftag")
        .flatten()
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    let from_tag = ctx.msg().and_then(|m| {
        m.from_header()
            .ok()
            .and_then(|f| f.tag().map(str::to_owned))
    });
    let upstream = match (ftag, from_tag) {
        (Some(f), Some(t)) if !t.is_empty() => f != t,
        _ => false,
    };
    if upstream == want_up {
        1
    } else {
        -1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctx::{MsgState, WorkerLocal};
    use crate::modules::registrar::tests::{udp_from, TestCore};
    use crate::transport::RecvInfo;

    fn run<R>(
        core: &TestCore,
        msg: &mut SipMsg,
        recv: RecvInfo,
        state: MsgState,
        f: impl FnOnce(&mut Ctx) -> R,
    ) -> (R, MsgState) {
        let mut worker = WorkerLocal::default();
        let mut ctx = Ctx::for_message(&mut worker, msg, recv)
            .with_core(core)
            .with_state(state);
        let r = f(&mut ctx);
        (r, ctx.take_state())
    }

    fn parse(text: &str) -> SipMsg {
        SipMsg::parse(text.replace('\n', "\r\n")).unwrap_or_else(|e| panic!("{e}"))
    }

    fn invite(ruri: &str, extra: &str) -> SipMsg {
        parse(&format!(
            "INVITE {ruri} SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-1\nFrom: <sip:alice@example.com>;tag=from1\nTo: <sip:bob@example.com>\nCall-ID: rr-1\nCSeq: 1 INVITE\n{extra}Content-Length: 0\n\n"
        ))
    }

    fn in_dialog(ruri: &str, from_tag: &str, routes: &str) -> SipMsg {
        parse(&format!(
            "BYE {ruri} SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-2\nFrom: <sip:alice@example.com>;tag={from_tag}\nTo: <sip:bob@example.com>;tag=to1\nCall-ID: rr-1\nCSeq: 2 BYE\n{routes}Content-Length: 0\n\n"
        ))
    }

    fn out(msg: &SipMsg) -> String {
        String::from_utf8_lossy(&msg.to_bytes()).into_owned()
    }

    fn rr_lines(msg: &SipMsg) -> Vec<String> {
        out(msg)
            .lines()
            .filter(|l| l.starts_with("Record-Route:"))
            .map(str::to_owned)
            .collect()
    }

    fn route_lines(msg: &SipMsg) -> Vec<String> {
        out(msg)
            .lines()
            .filter(|l| l.starts_with("Route:"))
            .map(str::to_owned)
            .collect()
    }

    fn client() -> RecvInfo {
        udp_from("192.0.2.1:5060")
    }

    #[test]
    fn record_route_goes_on_top_once() {
        let core = TestCore::new(&[]);
        let mut m = invite(
            "sip:bob@example.com",
            "Record-Route: <sip:upstream.example.org;lr>\n",
        );
        let (rc, state) = run(&core, &mut m, client(), MsgState::default(), record_route);
        assert_eq!(rc, 1);
        assert_eq!(
            rr_lines(&m),
            [
                "Record-Route: <sip:10.0.0.1:5060;lr;ftag=from1>",
                "Record-Route: <sip:upstream.example.org;lr>"
            ]
        );
        let (rc, _) = run(&core, &mut m, client(), state, record_route);
        assert_eq!(rc, -1, "double attempt");
        assert_eq!(rr_lines(&m).len(), 2);
    }

    #[test]
    fn parameters_full_lr_fromtag_and_tcp() {
        let core = TestCore::new(&[("rr", "enable_full_lr", 1), ("rr", "append_fromtag", 0)]);
        let mut m = invite("sip:bob@192.0.2.50;transport=tcp", "");
        let mut tcp = client();
        tcp.proto = Proto::Tcp;
        let (rc, _) = run(&core, &mut m, tcp, MsgState::default(), |c| {
            record_route_params(c, "did=abc")
        });
        assert_eq!(rc, 1);
        assert_eq!(
            rr_lines(&m),
            ["Record-Route: <sip:10.0.0.1:5060;transport=tcp;lr=on;did=abc>"]
        );
        // TCP in, UDP out (no transport in the Request-URI): two.
        let mut m = invite("sip:bob@192.0.2.50", "");
        run(&core, &mut m, tcp, MsgState::default(), record_route);
        assert_eq!(
            rr_lines(&m),
            [
                "Record-Route: <sip:10.0.0.1:5060;r2=on;lr=on>",
                "Record-Route: <sip:10.0.0.1:5060;transport=tcp;r2=on;lr=on>"
            ]
        );
        let mut m = invite("sip:bob@example.com", "");
        let (rc, _) = run(&core, &mut m, client(), MsgState::default(), |c| {
            record_route_params(c, "bad\r\nX: y")
        });
        assert_eq!(rc, -1);
        assert!(rr_lines(&m).is_empty());
    }

    #[test]
    fn add_rr_param_before_and_after() {
        let core = TestCore::new(&[]);
        let mut m = invite("sip:bob@example.com", "");
        let (_, state) = run(&core, &mut m, client(), MsgState::default(), |c| {
            add_rr_param(c, ";a=1")
        });
        let (_, state) = run(&core, &mut m, client(), state, record_route);
        let (rc, state) = run(&core, &mut m, client(), state, |c| {
            add_rr_param(c, "nat=yes")
        });
        assert_eq!(rc, 1);
        assert_eq!(
            rr_lines(&m),
            ["Record-Route: <sip:10.0.0.1:5060;lr;ftag=from1;a=1;nat=yes>"]
        );
        let (rc, state) = run(&core, &mut m, client(), state, remove_record_route);
        assert_eq!(rc, 1);
        assert!(rr_lines(&m).is_empty());
        let (rc, _) = run(&core, &mut m, client(), state, |c| add_rr_param(c, "x<y"));
        assert_eq!(rc, -1);
    }

    #[test]
    fn presets_and_advertised_address() {
        let core = TestCore::new(&[]);
        let mut m = invite("sip:bob@example.com", "");
        let (rc, _) = run(&core, &mut m, client(), MsgState::default(), |c| {
            record_route_preset(c, "203.0.113.1:5060", "10.0.0.1:5060")
        });
        assert_eq!(rc, 1);
        assert_eq!(
            rr_lines(&m),
            [
                "Record-Route: <sip:203.0.113.1:5060;r2=on;lr;ftag=from1>",
                "Record-Route: <sip:10.0.0.1:5060;r2=on;lr;ftag=from1>"
            ]
        );
        let mut m = invite("sip:bob@example.com", "");
        let (rc, _) = run(&core, &mut m, client(), MsgState::default(), |c| {
            record_route_preset_one(c, "sip:edge.example.com")
        });
        assert_eq!(rc, 1);
        assert_eq!(
            rr_lines(&m),
            ["Record-Route: <sip:edge.example.com;lr;ftag=from1>"]
        );
        let mut m = invite("sip:bob@example.com", "");
        let (rc, _) = run(&core, &mut m, client(), MsgState::default(), |c| {
            record_route_advertised_address(c, "sip.example.com:5080")
        });
        assert_eq!(rc, 1);
        assert_eq!(
            rr_lines(&m),
            ["Record-Route: <sip:sip.example.com:5080;lr;ftag=from1>"]
        );
        let single = TestCore::new(&[("rr", "enable_double_rr", 0)]);
        let mut m = invite("sip:bob@example.com", "");
        let (rc, _) = run(&single, &mut m, client(), MsgState::default(), |c| {
            record_route_preset(c, "a:1", "b:2")
        });
        assert_eq!(rc, -1);
    }

    #[test]
    fn double_record_route_when_the_transport_changes() {
        let core = TestCore::new(&[]);
        let mut m = invite("sip:bob@192.0.2.50;transport=tcp", "");
        let (rc, _) = run(&core, &mut m, client(), MsgState::default(), record_route);
        assert_eq!(rc, 1);
        assert_eq!(
            rr_lines(&m),
            [
                "Record-Route: <sip:10.0.0.1:5060;transport=tcp;r2=on;lr;ftag=from1>",
                "Record-Route: <sip:10.0.0.1:5060;r2=on;lr;ftag=from1>"
            ]
        );
        // And loose_route later consumes both.
        let mut bye = in_dialog(
            "sip:alice@192.0.2.1",
            "to1",
            "Route: <sip:10.0.0.1:5060;transport=tcp;r2=on;lr;ftag=from1>, <sip:10.0.0.1:5060;r2=on;lr;ftag=from1>\nRoute: <sip:next.example.com;lr>\n",
        );
        let (rc, state) = run(&core, &mut bye, client(), MsgState::default(), loose_route);
        assert_eq!(rc, 1);
        assert_eq!(bye.du(), Some("sip:next.example.com;lr"));
        assert_eq!(route_lines(&bye), ["Route: <sip:next.example.com;lr>"]);
        assert!(MODULE
            .msg_data::<RrState>(&state)
            .is_some_and(|r| r.next_hop_from_route));
    }

    #[test]
    fn loose_route_cases() {
        let core = TestCore::new(&[]);
        // No Route header.
        let mut m = in_dialog("sip:bob@192.0.2.9", "from1", "");
        assert_eq!(
            run(&core, &mut m, client(), MsgState::default(), loose_route).0,
            -1
        );

        // Our Route then a loose router: $du is the next one.
        let mut m = in_dialog(
            "sip:bob@192.0.2.9",
            "from1",
            "Route: <sip:10.0.0.1:5060;lr;ftag=from1;nat=yes>, <sip:p2.example.com;lr>\n",
        );
        let (rc, state) = run(&core, &mut m, client(), MsgState::default(), loose_route);
        assert_eq!(rc, 1);
        assert_eq!(m.du(), Some("sip:p2.example.com;lr"));
        assert_eq!(m.ruri_str(), Some("sip:bob@192.0.2.9"));
        assert_eq!(route_lines(&m), ["Route: <sip:p2.example.com;lr>"]);
        let (rc, state) = run(&core, &mut m, client(), state, |c| {
            check_route_param(c, "NAT=yes")
        });
        assert_eq!(rc, 1, "case-insensitive match on our Route's parameters");
        let (rc, state) = run(&core, &mut m, client(), state, |c| {
            check_route_param(c, "foo")
        });
        assert_eq!(rc, -1);
        let (rc, state) = run(&core, &mut m, client(), state, |c| {
            check_route_param(c, "(")
        });
        assert_eq!(rc, -1, "a bad expression is a failure, not a panic");
        assert_eq!(
            run(&core, &mut m, client(), state.clone(), |c| is_direction(
                c,
                "downstream"
            ))
            .0,
            1
        );
        assert_eq!(
            run(&core, &mut m, client(), state.clone(), |c| is_direction(
                c, "upstream"
            ))
            .0,
            -1
        );
        assert_eq!(
            run(&core, &mut m, client(), state.clone(), |c| is_direction(
                c, "sideways"
            ))
            .0,
            -1
        );
        assert_eq!(run(&core, &mut m, client(), state, next_hop_route).0, 1);

        // The callee's request: its From tag is not the dialog's ftag.
        let mut m = in_dialog(
            "sip:alice@192.0.2.1",
            "to1",
            "Route: <sip:10.0.0.1:5060;lr;ftag=from1>\n",
        );
        let (rc, state) = run(&core, &mut m, client(), MsgState::default(), loose_route);
        assert_eq!(rc, 1, "our Route alone: routed by the Request-URI");
        assert_eq!(m.du(), None);
        assert!(route_lines(&m).is_empty());
        assert_eq!(
            run(&core, &mut m, client(), state.clone(), |c| is_direction(
                c, "upstream"
            ))
            .0,
            1
        );
        assert_eq!(run(&core, &mut m, client(), state, next_hop_route).0, -1);

        // The top Route is not us: it is the next hop.
        let mut m = in_dialog(
            "sip:bob@192.0.2.9",
            "from1",
            "Route: <sip:other.example.com;lr>\n",
        );
        assert_eq!(
            run(&core, &mut m, client(), MsgState::default(), loose_route).0,
            1
        );
        assert_eq!(m.du(), Some("sip:other.example.com;lr"));
        assert_eq!(route_lines(&m).len(), 1);

        // A preloaded Route naming only us.
        let mut m = invite("sip:bob@example.com", "Route: <sip:10.0.0.1;lr>\n");
        assert_eq!(
            run(&core, &mut m, client(), MsgState::default(), loose_route).0,
            -3
        );
        assert!(route_lines(&m).is_empty());
        let mut m = invite("sip:bob@example.com", "Route: <sip:10.0.0.1;lr>\n");
        assert_eq!(
            run(
                &core,
                &mut m,
                client(),
                MsgState::default(),
                loose_route_preloaded
            )
            .0,
            1
        );
    }

    #[test]
    fn strict_routers_both_ways() {
        let core = TestCore::new(&[]);
        // Next hop is a strict router: it becomes the Request-URI and the
        // old Request-URI goes last in the Route set.
        let mut m = in_dialog(
            "sip:bob@192.0.2.9",
            "from1",
            "Route: <sip:10.0.0.1;lr>, <sip:strict.example.com>\n",
        );
        assert_eq!(
            run(&core, &mut m, client(), MsgState::default(), loose_route).0,
            1
        );
        assert_eq!(m.ruri_str(), Some("sip:strict.example.com"));
        assert_eq!(route_lines(&m), ["Route: <sip:bob@192.0.2.9>"]);

        // The previous hop was a strict router: the Request-URI is our
        // Record-Route URI and the remote target is the last Route.
        let mut m = in_dialog(
            "sip:10.0.0.1;lr;ftag=from1",
            "from1",
            "Route: <sip:p2.example.com;lr>\nRoute: <sip:bob@192.0.2.9>\n",
        );
        let (rc, state) = run(&core, &mut m, client(), MsgState::default(), loose_route);
        assert_eq!(rc, 1);
        assert_eq!(m.ruri_str(), Some("sip:bob@192.0.2.9"));
        assert_eq!(m.du(), Some("sip:p2.example.com;lr"));
        assert_eq!(route_lines(&m), ["Route: <sip:p2.example.com;lr>"]);
        assert_eq!(
            run(&core, &mut m, client(), state, |c| is_direction(
                c,
                "downstream"
            ))
            .0,
            1
        );

        // With mode 1, a Request-URI naming us is not taken as strict
        // routing.
        let mut m = in_dialog(
            "sip:10.0.0.1;lr",
            "from1",
            "Route: <sip:p2.example.com;lr>\n",
        );
        assert_eq!(
            run(&core, &mut m, client(), MsgState::default(), |c| {
                loose_route_mode(c, 1)
            })
            .0,
            1
        );
        assert_eq!(m.ruri_str(), Some("sip:10.0.0.1;lr"));
        assert_eq!(m.du(), Some("sip:p2.example.com;lr"));
    }

    #[test]
    fn route_values_are_removed_from_the_right_lines() {
        let mut m = in_dialog(
            "sip:bob@192.0.2.9",
            "from1",
            "Route: <sip:a.example.com;lr>, <sip:10.0.0.1;lr>, <sip:c.example.com;lr>\n",
        );
        let entries = route_entries(&m).unwrap_or_default();
        assert_eq!(entries.len(), 3);
        assert!(remove_routes(&mut m, &entries, &[1, 2]).is_ok());
        assert_eq!(route_lines(&m), ["Route: <sip:a.example.com;lr>"]);
        let mut m = in_dialog(
            "sip:bob@192.0.2.9",
            "from1",
            "Route: <sip:a;lr>, <sip:b;lr>\nRoute: <sip:c;lr>\n",
        );
        let entries = route_entries(&m).unwrap_or_default();
        assert!(remove_routes(&mut m, &entries, &[0, 2]).is_ok());
        assert_eq!(route_lines(&m), ["Route: <sip:b;lr>"]);
    }

    #[test]
    fn maddr_is_followed() {
        let u = Uri::parse("sip:p.example.com:5070;maddr=192.0.2.7;lr")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(maddr_uri(&u), "sip:192.0.2.7:5070");
    }
}
