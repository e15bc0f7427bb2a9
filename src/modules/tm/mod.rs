//! `KSR.tm`: stateful processing — transactions, relaying with failover,
//! stateful replies.
//!
//! `t_relay()` creates the transaction (absorbing retransmissions) and
//! checks the destination at once, so `if (KSR.tm.t_relay() < 0)` works as
//! in Kamailio; the request leaves when the route returns, after the branch
//! route (`t_on_branch`) of each branch. Callbacks are stored by name;
//! `t_on_failure` fires once and must be armed again for further serial
//! forking.

use kemid_macros::kemi;

use crate::ctx::Ctx;
use crate::log;
use crate::module::{Module, RpcCall, RpcError, RpcMethod, Stat, StatKind};
use crate::proxy;
use crate::sip::Method;
use crate::tm::{self, Created, RelayRequest, RouteKind, TxnRef, TxnSettings};
use crate::transport::Proto;

/// `modparam("tm", ...)`.
#[derive(Clone, Debug, kemid_macros::ModParams)]
pub struct Params {
    /// Milliseconds to wait for a final reply (Timer B/F).
    #[param(default = 30000, range = "1..=86400000")]
    pub fr_timer: u64,
    /// Milliseconds an INVITE may ring after a provisional reply.
    #[param(default = 120000, range = "1..=86400000")]
    pub fr_inv_timer: u64,
    /// Milliseconds a finished transaction absorbs retransmissions.
    #[param(default = 5000, range = "1..=600000")]
    pub wait_timer: u64,
    /// T1 in milliseconds: the first retransmission interval.
    #[param(default = 500, range = "1..=60000")]
    pub retr_timer1: u64,
    /// T2 in milliseconds: the longest retransmission interval.
    #[param(default = 4000, range = "1..=600000")]
    pub retr_timer2: u64,
    /// 1: answer an INVITE with 100 Trying at once.
    #[param(default = true)]
    pub auto_inv_100: bool,
    /// Accepted; replies of earlier rounds stay candidates unless dropped.
    #[param(default = 0, range = "0..=3")]
    pub failure_reply_mode: i64,
    #[param(inert)]
    pub restart_fr_on_each_reply: i64,
    #[param(inert)]
    pub fr_inv_timer_next: i64,
    #[param(inert)]
    pub noisy_ctimer: i64,
    #[param(inert)]
    pub e2e_cancel_reason: i64,
    #[param(inert)]
    pub reparse_on_dns_failover: i64,
    #[param(inert)]
    pub aggregate_challenges: i64,
    #[param(inert)]
    pub unix_tx_timeout: i64,
    #[param(inert)]
    pub max_inv_lifetime: i64,
    #[param(inert)]
    pub max_noninv_lifetime: i64,
    #[param(inert)]
    pub contacts_avp: String,
    #[param(inert)]
    pub contact_flows_avp: String,
    #[param(inert)]
    pub on_sl_reply: String,
    #[param(inert)]
    pub xavp_contact: String,
    #[param(inert)]
    pub event_callback: String,
}

impl Params {
    /// The transaction layer's settings.
    fn tm_params(&self) -> tm::TmParams {
        use std::time::Duration;
        tm::TmParams {
            fr: Duration::from_millis(self.fr_timer),
            fr_inv: Duration::from_millis(self.fr_inv_timer),
            wait: Duration::from_millis(self.wait_timer),
            t1: Duration::from_millis(self.retr_timer1),
            t2: Duration::from_millis(self.retr_timer2),
            auto_inv_100: self.auto_inv_100,
            failure_reply_mode: self.failure_reply_mode,
        }
    }
}

/// `loadmodule "tm.so"`. Its state is the transaction layer, which the
/// server drives (it runs the routes tm asks for).
pub static MODULE: Module<std::sync::Arc<tm::Tm>> =
    Module::new("tm", "stateful processing: transactions")
        .init(|cx| {
            let p: Params = cx.params();
            let env = cx.tm_env().ok_or("transactions need a running server")?;
            Ok(tm::Tm::new(p.tm_params(), env))
        })
        .rpc(&[RpcMethod {
            name: "tm.stats",
            help: "Transaction counters: current, created, freed, replies sent by class.",
            handler: tm_stats,
        }])
        .stats(&[
            Stat {
                name: "UAS_transactions",
                doc: "Transactions created by received requests.",
                kind: StatKind::Counter,
                read: |t| load(&t.stats.created),
            },
            Stat {
                name: "inuse_transactions",
                doc: "Transactions in memory now.",
                kind: StatKind::Gauge,
                read: |t| t.active() as u64,
            },
            Stat {
                name: "local_replies",
                doc: "Replies this server generated.",
                kind: StatKind::Counter,
                read: |t| load(&t.stats.replied_local),
            },
            Stat {
                name: "relayed_replies",
                doc: "Replies relayed upstream.",
                kind: StatKind::Counter,
                read: |t| load(&t.stats.relayed_replies),
            },
            Stat {
                name: "2xx_transactions",
                doc: "Transactions answered with a 2xx.",
                kind: StatKind::Counter,
                read: |t| load(&t.stats.rpl_2xx),
            },
            Stat {
                name: "3xx_transactions",
                doc: "Transactions answered with a 3xx.",
                kind: StatKind::Counter,
                read: |t| load(&t.stats.rpl_3xx),
            },
            Stat {
                name: "4xx_transactions",
                doc: "Transactions answered with a 4xx.",
                kind: StatKind::Counter,
                read: |t| load(&t.stats.rpl_4xx),
            },
            Stat {
                name: "5xx_transactions",
                doc: "Transactions answered with a 5xx.",
                kind: StatKind::Counter,
                read: |t| load(&t.stats.rpl_5xx),
            },
            Stat {
                name: "6xx_transactions",
                doc: "Transactions answered with a 6xx.",
                kind: StatKind::Counter,
                read: |t| load(&t.stats.rpl_6xx),
            },
        ]);

fn load(c: &std::sync::atomic::AtomicU64) -> u64 {
    c.load(std::sync::atomic::Ordering::Relaxed)
}

fn tm_stats(call: &RpcCall<'_, std::sync::Arc<tm::Tm>>) -> Result<serde_json::Value, RpcError> {
    let tm = call.state;
    let s = &tm.stats;
    Ok(serde_json::json!({
        "current": tm.active(),
        "created": load(&s.created),
        "freed": load(&s.freed),
        "total_local": load(&s.replied_local),
        "relayed_replies": load(&s.relayed_replies),
        "2xx": load(&s.rpl_2xx),
        "3xx": load(&s.rpl_3xx),
        "4xx": load(&s.rpl_4xx),
        "5xx": load(&s.rpl_5xx),
        "6xx": load(&s.rpl_6xx),
    }))
}

fn service(ctx: &Ctx) -> Option<std::sync::Arc<tm::Tm>> {
    ctx.core().and_then(|c| c.tm()).cloned()
}

/// The current transaction: the one of this route, else the request's.
fn current(ctx: &mut Ctx) -> Option<TxnRef> {
    if let Some(t) = &ctx.tm.txn {
        return Some(t.clone());
    }
    let tm = service(ctx)?;
    let t = tm.lookup_key(&ctx.txn_key()?)?;
    ctx.tm.txn = Some(t.clone());
    Some(t)
}

/// Creates the transaction of the request being routed, or finds it.
/// `Ok(true)`: new; `Ok(false)`: a retransmission (absorbed).
fn ensure_txn(ctx: &mut Ctx) -> Result<bool, String> {
    if ctx.tm.txn.is_some() {
        return Ok(true);
    }
    let tm = service(ctx).ok_or("tm is not loaded")?;
    let (Some(msg), Some(recv)) = (ctx.msg(), ctx.recv().copied()) else {
        return Err("no request".into());
    };
    if !msg.is_request() {
        return Err("a reply has no transaction of its own".into());
    }
    let state = ctx.state().clone();
    match tm.create(msg, &recv, state, &ctx.tm)? {
        Created::New(t) => {
            ctx.tm.txn = Some(t);
            Ok(true)
        }
        Created::Existing(t) => {
            ctx.tm.txn = Some(t);
            Ok(false)
        }
    }
}

/// The relay behind every `t_relay*` variant.
fn relay(ctx: &mut Ctx, request: RelayRequest) -> i32 {
    let Some(tm) = service(ctx) else {
        log::error("tm", format_args!("t_relay: tm is not loaded"));
        return -1;
    };
    let Some(msg) = ctx.msg() else { return -1 };
    if !msg.is_request() {
        log::error("tm", format_args!("t_relay: only requests are relayed"));
        return -1;
    }
    match msg.method() {
        Some(Method::Ack) if ctx.tm.kind == RouteKind::Request => {
            // An ACK for a 2xx is end to end: forwarded statelessly. One for a
            // negative reply we sent is absorbed.
            if let Some(t) = tm.lookup_request(msg) {
                if tm::lock(&t).uas.status >= 300 {
                    tm.ack_received(&t);
                    return 1;
                }
            }
            return proxy::forward_stateless(ctx, None, request.proto);
        }
        Some(Method::Cancel) if ctx.tm.kind == RouteKind::Request => {
            return match tm.lookup_cancel(msg) {
                Some(inv) => {
                    tm.cancel_all(&inv);
                    crate::modules::sl::send_local_reply(ctx, 200, "canceling")
                }
                None => proxy::forward_stateless(ctx, None, request.proto),
            };
        }
        _ => {}
    }
    // The destination must be usable now, so the script can react.
    let dest = match &request.host_port {
        Some((h, p)) => proxy::resolve_host(h, *p).map(|_| ()),
        None => {
            let uri = msg.du().or(msg.ruri_str()).unwrap_or("").to_owned();
            proxy::resolve(&uri, request.proto).map(|_| ())
        }
    };
    if let Err(e) = dest {
        log::error("tm", format_args!("t_relay: {e}"));
        return -1;
    }
    match ctx.tm.kind {
        RouteKind::Request => match ensure_txn(ctx) {
            Ok(true) => {}
            Ok(false) => return 0,
            Err(e) => {
                log::error("tm", format_args!("t_relay: {e}"));
                return -1;
            }
        },
        RouteKind::Failure | RouteKind::BranchFailure => {
            if ctx.tm.txn.is_none() {
                return -1;
            }
        }
        other => {
            log::error(
                "tm",
                format_args!("t_relay cannot be used in a {other:?} route"),
            );
            return -1;
        }
    }
    // Callbacks armed before the transaction existed go with it.
    if let Some(t) = &ctx.tm.txn {
        let mut g = tm::lock(t);
        merge_callbacks(&mut g.callbacks, &ctx.tm.callbacks);
    }
    ctx.tm.relay = Some(request);
    1
}

fn merge_callbacks(into: &mut tm::Callbacks, from: &tm::Callbacks) {
    for (dst, src) in [
        (&mut into.on_failure, &from.on_failure),
        (&mut into.on_branch, &from.on_branch),
        (&mut into.on_reply, &from.on_reply),
        (&mut into.on_branch_failure, &from.on_branch_failure),
    ] {
        if src.is_some() {
            dst.clone_from(src);
        }
    }
}

/// Relays the request statefully to `$du` if set, else to the
/// Request-URI, plus every branch of the destination set (parallel
/// forking). Creates the transaction when the request has none; a
/// retransmission is absorbed (its last reply sent again) and returns 0.
/// ACK for a 2xx and CANCEL without transaction are forwarded statelessly;
/// a CANCEL for a known INVITE cancels its branches and gets 200.
///
/// # Returns
/// 1 when the request will be relayed, 0 for an absorbed retransmission
/// (stop the script), -1 on error (unresolvable destination, tm not
/// loaded): the script usually answers with `KSR.sl.sl_reply_error()`.
///
/// # Example
/// ```js
/// if (KSR.tm.t_relay() < 0) { KSR.sl.sl_reply_error(); }
/// ```
#[kemi]
pub fn t_relay(ctx: &mut Ctx) -> i32 {
    relay(ctx, RelayRequest::default())
}

/// `t_relay` with flags: 0x1 no automatic `100 Trying`, 0x2 no internal
/// error reply when sending fails (0x4, no DNS failover, is accepted).
///
/// # Parameters
/// - `flags`: the bit mask.
///
/// # Returns
/// As `t_relay`.
///
/// # Example
/// ```js
/// KSR.tm.t_relay_to_flags(1);
/// ```
#[kemi]
pub fn t_relay_to_flags(ctx: &mut Ctx, flags: i32) -> i32 {
    apply_flags(ctx, flags);
    relay(
        ctx,
        RelayRequest {
            no_100: flags & 1 != 0,
            ..RelayRequest::default()
        },
    )
}

fn apply_flags(ctx: &mut Ctx, flags: i32) {
    if flags & 2 != 0 {
        settings_mut(ctx, |s| s.disable_internal_reply = true);
    }
}

/// Parses `[proto:]host[:port]`.
fn parse_proxy(proxy: &str) -> Option<(Option<Proto>, String, u16)> {
    let (proto, rest) = match proxy.split_once(':') {
        Some((p, r)) if p.eq_ignore_ascii_case("udp") => (Some(Proto::Udp), r),
        Some((p, r)) if p.eq_ignore_ascii_case("tcp") => (Some(Proto::Tcp), r),
        _ => (None, proxy),
    };
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        (
            h.to_owned(),
            after.strip_prefix(':').map(str::parse).transpose().ok()?,
        )
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h.to_owned(), Some(p.parse().ok()?)),
            _ => (rest.to_owned(), None),
        }
    };
    (!host.is_empty()).then(|| (proto, host, port.unwrap_or(5060)))
}

/// Relays statefully to an explicit address instead of the Request-URI.
///
/// # Parameters
/// - `proxy`: `[proto:]host[:port]`, e.g. `udp:10.0.0.2:5060`.
///
/// # Returns
/// As `t_relay`; -1 when `proxy` cannot be parsed.
///
/// # Example
/// ```js
/// KSR.tm.t_relay_to_proxy("udp:127.0.0.1:5080");
/// ```
#[kemi]
pub fn t_relay_to_proxy(ctx: &mut Ctx, proxy: &str) -> i32 {
    t_relay_to_proxy_flags(ctx, proxy, 0)
}

/// `t_relay_to_proxy` with the flags of `t_relay_to_flags`.
///
/// # Parameters
/// - `proxy`: `[proto:]host[:port]`.
/// - `flags`: as for `t_relay_to_flags`.
///
/// # Returns
/// As `t_relay`; -1 when `proxy` cannot be parsed.
///
/// # Example
/// ```js
/// KSR.tm.t_relay_to_proxy_flags("tcp:127.0.0.1:5080", 1);
/// ```
#[kemi]
pub fn t_relay_to_proxy_flags(ctx: &mut Ctx, proxy: &str, flags: i32) -> i32 {
    let Some((proto, host, port)) = parse_proxy(proxy) else {
        log::error(
            "tm",
            format_args!("t_relay_to_proxy: `{proxy}` is not [proto:]host[:port]"),
        );
        return -1;
    };
    apply_flags(ctx, flags);
    relay(
        ctx,
        RelayRequest {
            proto,
            host_port: Some((host, port)),
            no_100: flags & 1 != 0,
        },
    )
}

/// Relays statefully forcing the transport.
///
/// # Parameters
/// - `proto`: `UDP` or `TCP` (any case).
///
/// # Returns
/// As `t_relay`; -1 for another transport.
///
/// # Example
/// ```js
/// KSR.tm.t_relay_to_proto("TCP");
/// ```
#[kemi]
pub fn t_relay_to_proto(ctx: &mut Ctx, proto: &str) -> i32 {
    let Some(p) = parse_proto(proto) else {
        return -1;
    };
    relay(
        ctx,
        RelayRequest {
            proto: Some(p),
            ..RelayRequest::default()
        },
    )
}

fn parse_proto(proto: &str) -> Option<Proto> {
    if proto.eq_ignore_ascii_case("udp") {
        Some(Proto::Udp)
    } else if proto.eq_ignore_ascii_case("tcp") {
        Some(Proto::Tcp)
    } else {
        log::error(
            "tm",
            format_args!("transport `{proto}` is not supported; use UDP or TCP"),
        );
        None
    }
}

/// Relays statefully to `host:port` over `proto`.
///
/// # Parameters
/// - `proto`: `UDP` or `TCP`.
/// - `host`: an IP address or a name.
/// - `port`: the port.
///
/// # Returns
/// As `t_relay`; -1 for a bad transport or port.
///
/// # Example
/// ```js
/// KSR.tm.t_relay_to_proto_addr("UDP", "127.0.0.1", 5080);
/// ```
#[kemi]
pub fn t_relay_to_proto_addr(ctx: &mut Ctx, proto: &str, host: &str, port: i32) -> i32 {
    let Some(p) = parse_proto(proto) else {
        return -1;
    };
    let Ok(port) = u16::try_from(port) else {
        return -1;
    };
    relay(
        ctx,
        RelayRequest {
            proto: Some(p),
            host_port: Some((host.to_owned(), port)),
            no_100: false,
        },
    )
}

fn arm(ctx: &mut Ctx, name: &str, pick: fn(&mut tm::Callbacks) -> &mut Option<String>) -> i32 {
    let value = (!name.is_empty()).then(|| name.to_owned());
    *pick(&mut ctx.tm.callbacks) = value.clone();
    if let Some(t) = ctx.tm.txn.clone() {
        *pick(&mut tm::lock(&t).callbacks) = value;
    }
    1
}

/// Arms the failure route: the script function run when the transaction
/// ends with a negative final reply or a timeout. It runs once; arm it
/// again inside it to fork further. `""` disarms.
///
/// # Parameters
/// - `name`: the name of a function of the script.
///
/// # Returns
/// 1.
///
/// # Example
/// ```js
/// KSR.tm.t_on_failure("ksr_failure_manage");
/// ```
#[kemi]
pub fn t_on_failure(ctx: &mut Ctx, name: &str) -> i32 {
    arm(ctx, name, |c| &mut c.on_failure)
}

/// Arms the branch route: the function run for each new outgoing branch
/// before it is sent; `KSR.x.drop()` there cancels that branch.
///
/// # Parameters
/// - `name`: the name of a function of the script; `""` disarms.
///
/// # Returns
/// 1.
///
/// # Example
/// ```js
/// KSR.tm.t_on_branch("ksr_branch_manage");
/// ```
#[kemi]
pub fn t_on_branch(ctx: &mut Ctx, name: &str) -> i32 {
    arm(ctx, name, |c| &mut c.on_branch)
}

/// Arms the reply route: the function run for every reply the transaction
/// receives; `KSR.x.drop()` there keeps a provisional reply from going
/// upstream.
///
/// # Parameters
/// - `name`: the name of a function of the script; `""` disarms.
///
/// # Returns
/// 1.
///
/// # Example
/// ```js
/// KSR.tm.t_on_reply("ksr_onreply_manage");
/// ```
#[kemi]
pub fn t_on_reply(ctx: &mut Ctx, name: &str) -> i32 {
    arm(ctx, name, |c| &mut c.on_reply)
}

/// Arms the branch-failure route: the function run for each negative final
/// reply of each branch.
///
/// # Parameters
/// - `name`: the name of a function of the script; `""` disarms.
///
/// # Returns
/// 1.
///
/// # Example
/// ```js
/// KSR.tm.t_on_branch_failure("ksr_branch_failure");
/// ```
#[kemi]
pub fn t_on_branch_failure(ctx: &mut Ctx, name: &str) -> i32 {
    arm(ctx, name, |c| &mut c.on_branch_failure)
}

/// Tells whether a callback is armed.
///
/// # Parameters
/// - `target`: `branch_route`, `failure_route` or `onreply_route` (only the
///   first letter counts).
///
/// # Returns
/// 1 when armed, -1 otherwise.
///
/// # Example
/// ```js
/// if (KSR.tm.t_is_set("failure_route") < 0) { KSR.tm.t_on_failure("ksr_failure_manage"); }
/// ```
#[kemi]
pub fn t_is_set(ctx: &mut Ctx, target: &str) -> i32 {
    let cbs = match &ctx.tm.txn {
        Some(t) => tm::lock(t).callbacks.clone(),
        None => ctx.tm.callbacks.clone(),
    };
    let set = match target.as_bytes().first() {
        Some(b'b' | b'B') => cbs.on_branch.is_some(),
        Some(b'f' | b'F') => cbs.on_failure.is_some(),
        Some(b'o' | b'O') => cbs.on_reply.is_some(),
        _ => false,
    };
    if set {
        1
    } else {
        -1
    }
}

fn stateful_reply(ctx: &mut Ctx, code: i32, reason: &str, create: bool) -> i32 {
    let Some(tm) = service(ctx) else { return -1 };
    let Ok(code) = u16::try_from(code) else {
        return -1;
    };
    let txn = match current(ctx) {
        Some(t) => t,
        None if create => match ensure_txn(ctx) {
            Ok(true) => match &ctx.tm.txn {
                Some(t) => t.clone(),
                None => return -1,
            },
            Ok(false) => return 0,
            Err(e) => {
                log::error("tm", format_args!("t_send_reply: {e}"));
                return -1;
            }
        },
        None => {
            log::error(
                "tm",
                format_args!(
                    "t_reply: no transaction; call KSR.tm.t_newtran() first or use t_send_reply"
                ),
            );
            return -1;
        }
    };
    let extra = std::mem::take(&mut ctx.state_mut().reply_headers);
    ctx.tm.replied = true;
    if tm.reply(&txn, code, reason, &extra) {
        1
    } else {
        -1
    }
}

/// Sends a reply statefully: the transaction must exist (`t_newtran`,
/// `t_relay`, or a failure route).
///
/// # Parameters
/// - `code`: the status code.
/// - `reason`: the reason phrase.
///
/// # Returns
/// 1 when sent, -1 otherwise.
///
/// # Example
/// ```js
/// KSR.tm.t_reply(404, "Not Found");
/// ```
#[kemi]
pub fn t_reply(ctx: &mut Ctx, code: i32, reason: &str) -> i32 {
    stateful_reply(ctx, code, reason, false)
}

/// Sends a reply statefully, creating the transaction when needed.
///
/// # Parameters
/// - `code`: the status code.
/// - `reason`: the reason phrase.
///
/// # Returns
/// 1 when sent, 0 for a retransmission (absorbed), -1 otherwise.
///
/// # Example
/// ```js
/// KSR.tm.t_send_reply(403, "Forbidden");
/// ```
#[kemi]
pub fn t_send_reply(ctx: &mut Ctx, code: i32, reason: &str) -> i32 {
    stateful_reply(ctx, code, reason, true)
}

/// Sends a stateful 500 for the last internal error (kemid does not track
/// finer error codes).
///
/// # Returns
/// 1 when sent, -1 otherwise.
///
/// # Example
/// ```js
/// KSR.tm.t_reply_error();
/// ```
#[kemi]
pub fn t_reply_error(ctx: &mut Ctx) -> i32 {
    stateful_reply(ctx, 500, "Server Internal Error", true)
}

/// Creates the transaction of the request (for answering statefully).
///
/// # Returns
/// 1 when created, 0 when it exists already (a retransmission, whose last
/// reply was sent again: stop the script), -1 on error.
///
/// # Example
/// ```js
/// if (KSR.tm.t_newtran() == 0) { KSR.x.exit(); }
/// ```
#[kemi]
pub fn t_newtran(ctx: &mut Ctx) -> i32 {
    match ensure_txn(ctx) {
        Ok(true) => 1,
        Ok(false) => 0,
        Err(e) => {
            log::error("tm", format_args!("t_newtran: {e}"));
            -1
        }
    }
}

/// Checks whether the message belongs to a transaction. For a request: 0
/// when it is a retransmission (its last reply was sent again) or an ACK
/// to a negative reply (absorbed) — the script must stop —, 1 for an ACK
/// to a 2xx, -1 when there is no transaction. For a CANCEL: 1 when its
/// INVITE transaction exists. In tm routes: 1.
///
/// # Returns
/// 0, 1 or -1 as described.
///
/// # Example
/// ```js
/// if (KSR.tm.t_check_trans() == 0) { KSR.x.exit(); }
/// ```
#[kemi]
pub fn t_check_trans(ctx: &mut Ctx) -> i32 {
    if ctx.tm.kind != RouteKind::Request {
        return 1;
    }
    let Some(tm) = service(ctx) else { return -1 };
    let Some(method) = ctx.msg().and_then(|m| m.method()) else {
        return -1;
    };
    if method != Method::Cancel && ctx.txn_key().is_none() {
        return -1;
    }
    let Some(msg) = ctx.msg() else { return -1 };
    let found = || ctx.tm.key.as_deref().and_then(|k| tm.lookup_key(k));
    match method {
        Method::Cancel => {
            if tm.lookup_cancel(msg).is_some() {
                1
            } else {
                -1
            }
        }
        Method::Ack => match found() {
            Some(t) => {
                let status = tm::lock(&t).uas.status;
                if status >= 300 {
                    tm.ack_received(&t);
                    0
                } else {
                    1
                }
            }
            None => -1,
        },
        _ => match found() {
            Some(t) => {
                tm.retransmit_reply(&t);
                0
            }
            None => -1,
        },
    }
}

/// Tells whether a transaction exists for the request.
///
/// # Returns
/// 1 when one exists, -1 otherwise.
///
/// # Example
/// ```js
/// if (KSR.tm.t_lookup_request() > 0) { KSR.x.exit(); }
/// ```
#[kemi]
pub fn t_lookup_request(ctx: &mut Ctx) -> i32 {
    let found = service(ctx)
        .zip(ctx.txn_key())
        .and_then(|(tm, k)| tm.lookup_key(&k))
        .is_some();
    if found {
        1
    } else {
        -1
    }
}

/// Like `t_lookup_request`, without making it the current transaction.
///
/// # Returns
/// 1 when one exists, -1 otherwise.
///
/// # Example
/// ```js
/// var known = KSR.tm.t_exists();
/// ```
#[kemi]
pub fn t_exists(ctx: &mut Ctx) -> i32 {
    t_lookup_request(ctx)
}

/// Tells whether the INVITE transaction of this CANCEL exists.
///
/// # Returns
/// 1 when it exists, -1 otherwise.
///
/// # Example
/// ```js
/// if (KSR.is_CANCEL() && KSR.tm.t_lookup_cancel() > 0) { KSR.tm.t_relay(); }
/// ```
#[kemi]
pub fn t_lookup_cancel(ctx: &mut Ctx) -> i32 {
    let found = service(ctx)
        .zip(ctx.msg())
        .and_then(|(tm, m)| tm.lookup_cancel(m))
        .is_some();
    if found {
        1
    } else {
        -1
    }
}

/// Like `t_lookup_cancel`; with `flags` 1 the INVITE's message flags are
/// copied onto the CANCEL.
///
/// # Parameters
/// - `flags`: 1 to copy the flags, 0 not to.
///
/// # Returns
/// 1 when the INVITE transaction exists, -1 otherwise.
///
/// # Example
/// ```js
/// KSR.tm.t_lookup_cancel_flags(1);
/// ```
#[kemi]
pub fn t_lookup_cancel_flags(ctx: &mut Ctx, flags: i32) -> i32 {
    let found = service(ctx)
        .zip(ctx.msg())
        .and_then(|(tm, m)| tm.lookup_cancel(m));
    match found {
        Some(t) => {
            if flags & 1 != 0 {
                let f = tm::lock(&t).state.flags;
                ctx.state_mut().flags |= f;
            }
            1
        }
        None => -1,
    }
}

/// Tells whether a CANCEL was received for the current transaction.
///
/// # Returns
/// 1 when canceled, -1 otherwise.
///
/// # Example
/// ```js
/// if (KSR.tm.t_is_canceled() > 0) { KSR.x.exit(); }
/// ```
#[kemi]
pub fn t_is_canceled(ctx: &mut Ctx) -> i32 {
    match current(ctx) {
        Some(t) if tm::lock(&t).canceled => 1,
        _ => -1,
    }
}

/// Sends the last reply of the current transaction again.
///
/// # Returns
/// 1 when sent, -1 otherwise.
///
/// # Example
/// ```js
/// KSR.tm.t_retransmit_reply();
/// ```
#[kemi]
pub fn t_retransmit_reply(ctx: &mut Ctx) -> i32 {
    match (service(ctx), current(ctx)) {
        (Some(tm), Some(t)) if tm.retransmit_reply(&t) => 1,
        _ => -1,
    }
}

/// Releases the current transaction: it is freed after the wait timer.
///
/// # Returns
/// 1, or -1 without a transaction.
///
/// # Example
/// ```js
/// KSR.tm.t_release();
/// ```
#[kemi]
pub fn t_release(ctx: &mut Ctx) -> i32 {
    match current(ctx) {
        Some(t) => {
            let mut g = tm::lock(&t);
            if g.free_at.is_none() {
                g.free_at = Some(std::time::Instant::now() + std::time::Duration::from_secs(5));
            }
            1
        }
        None => -1,
    }
}

fn settings_mut(ctx: &mut Ctx, change: impl Fn(&mut TxnSettings)) {
    if let Some(t) = ctx.tm.txn.clone() {
        change(&mut tm::lock(&t).settings);
        return;
    }
    let base = ctx.tm.settings.unwrap_or_else(|| {
        service(ctx)
            .map(|s| s.params)
            .unwrap_or_default()
            .txn_settings()
    });
    let mut s = base;
    change(&mut s);
    ctx.tm.settings = Some(s);
}

fn ms(v: i32) -> Option<std::time::Duration> {
    (v > 0).then(|| std::time::Duration::from_millis(v as u64))
}

/// Sets the final-response timeouts of the current or next transaction.
///
/// # Parameters
/// - `fr_inv`: milliseconds an INVITE may ring after a provisional reply
///   (0 leaves it).
/// - `fr`: milliseconds to wait for a first reply (0 leaves it).
///
/// # Returns
/// 1.
///
/// # Example
/// ```js
/// KSR.tm.t_set_fr(30000, 2000);
/// ```
#[kemi]
pub fn t_set_fr(ctx: &mut Ctx, fr_inv: i32, fr: i32) -> i32 {
    settings_mut(ctx, |s| {
        if let Some(v) = ms(fr_inv) {
            s.fr_inv = v;
        }
        if let Some(v) = ms(fr) {
            s.fr = v;
        }
    });
    1
}

/// Sets the INVITE ringing timeout of the current or next transaction.
///
/// # Parameters
/// - `fr_inv`: milliseconds.
///
/// # Returns
/// 1.
///
/// # Example
/// ```js
/// KSR.tm.t_set_fr_inv(30000);
/// ```
#[kemi]
pub fn t_set_fr_inv(ctx: &mut Ctx, fr_inv: i32) -> i32 {
    t_set_fr(ctx, fr_inv, 0)
}

/// Restores the module's timeouts for the current or next transaction.
///
/// # Returns
/// 1.
///
/// # Example
/// ```js
/// KSR.tm.t_reset_fr();
/// ```
#[kemi]
pub fn t_reset_fr(ctx: &mut Ctx) -> i32 {
    let p = service(ctx).map(|s| s.params).unwrap_or_default();
    settings_mut(ctx, |s| {
        s.fr = p.fr;
        s.fr_inv = p.fr_inv;
    });
    1
}

/// Sets the retransmission timers T1 and T2 of the current or next
/// transaction.
///
/// # Parameters
/// - `t1`: milliseconds (0 leaves it).
/// - `t2`: milliseconds (0 leaves it).
///
/// # Returns
/// 1.
///
/// # Example
/// ```js
/// KSR.tm.t_set_retr(250, 2000);
/// ```
#[kemi]
pub fn t_set_retr(ctx: &mut Ctx, t1: i32, t2: i32) -> i32 {
    settings_mut(ctx, |s| {
        if let Some(v) = ms(t1) {
            s.t1 = v;
        }
        if let Some(v) = ms(t2) {
            s.t2 = v;
        }
    });
    1
}

/// Restores the module's T1 and T2.
///
/// # Returns
/// 1.
///
/// # Example
/// ```js
/// KSR.tm.t_reset_retr();
/// ```
#[kemi]
pub fn t_reset_retr(ctx: &mut Ctx) -> i32 {
    let p = service(ctx).map(|s| s.params).unwrap_or_default();
    settings_mut(ctx, |s| {
        s.t1 = p.t1;
        s.t2 = p.t2;
    });
    1
}

/// Turns the automatic `100 Trying` for INVITE on or off for the next
/// transaction.
///
/// # Parameters
/// - `on`: 1 to send it, 0 not to.
///
/// # Returns
/// 1.
///
/// # Example
/// ```js
/// KSR.tm.t_set_auto_inv_100(0);
/// ```
#[kemi]
pub fn t_set_auto_inv_100(ctx: &mut Ctx, on: i32) -> i32 {
    settings_mut(ctx, |s| s.auto_inv_100 = on != 0);
    1
}

/// Treats 6xx replies like others (no precedence) for the transaction.
///
/// # Parameters
/// - `on`: 1 to disable the 6xx rule, 0 to keep it.
///
/// # Returns
/// 1.
///
/// # Example
/// ```js
/// KSR.tm.t_set_disable_6xx(1);
/// ```
#[kemi]
pub fn t_set_disable_6xx(ctx: &mut Ctx, on: i32) -> i32 {
    settings_mut(ctx, |s| s.disable_6xx = on != 0);
    1
}

/// Keeps tm from sending its own error reply when relaying fails.
///
/// # Parameters
/// - `on`: 1 to disable the internal reply, 0 to keep it.
///
/// # Returns
/// 1.
///
/// # Example
/// ```js
/// KSR.tm.t_set_disable_internal_reply(1);
/// ```
#[kemi]
pub fn t_set_disable_internal_reply(ctx: &mut Ctx, on: i32) -> i32 {
    settings_mut(ctx, |s| s.disable_internal_reply = on != 0);
    1
}

fn with_txn<R>(ctx: &mut Ctx, f: impl FnOnce(&mut tm::Transaction) -> R) -> Option<R> {
    let t = current(ctx)?;
    let mut g = tm::lock(&t);
    Some(f(&mut g))
}

fn yes(b: bool) -> i32 {
    if b {
        1
    } else {
        -1
    }
}

/// In a failure route: drops every reply received so far, so none is
/// picked as the reply to send upstream.
///
/// # Returns
/// 1, or -1 without a transaction.
///
/// # Example
/// ```js
/// KSR.tm.t_drop_replies_all();
/// ```
#[kemi]
pub fn t_drop_replies_all(ctx: &mut Ctx) -> i32 {
    yes(with_txn(ctx, |g| {
        g.branches.iter_mut().for_each(|b| b.dropped = true)
    })
    .is_some())
}

/// In a failure route: drops received replies.
///
/// # Parameters
/// - `mode`: `a` all, `l` the branches of the last round, `n` none.
///
/// # Returns
/// 1, or -1 without a transaction.
///
/// # Example
/// ```js
/// KSR.tm.t_drop_replies("l");
/// ```
#[kemi]
pub fn t_drop_replies(ctx: &mut Ctx, mode: &str) -> i32 {
    let mode = mode.as_bytes().first().copied().unwrap_or(b'a');
    yes(with_txn(ctx, |g| {
        let last = g.branches.iter().map(|b| b.round).max().unwrap_or(0);
        for b in &mut g.branches {
            match mode {
                b'n' => {}
                b'l' if b.round != last => {}
                _ => b.dropped = true,
            }
        }
    })
    .is_some())
}

/// Tells whether any branch received a reply.
///
/// # Returns
/// 1 when one did, -1 otherwise.
///
/// # Example
/// ```js
/// if (KSR.tm.t_any_replied() > 0) { KSR.info("someone answered\n"); }
/// ```
#[kemi]
pub fn t_any_replied(ctx: &mut Ctx) -> i32 {
    yes(with_txn(ctx, |g| {
        g.branches
            .iter()
            .any(|b| b.provisional > 0 || b.final_reply.is_some())
    })
    .unwrap_or(false))
}

/// Tells whether any branch timed out.
///
/// # Returns
/// 1 when one did, -1 otherwise.
///
/// # Example
/// ```js
/// if (KSR.tm.t_any_timeout() > 0) { KSR.info("a branch timed out\n"); }
/// ```
#[kemi]
pub fn t_any_timeout(ctx: &mut Ctx) -> i32 {
    yes(with_txn(ctx, |g| g.branches.iter().any(|b| b.timed_out)).unwrap_or(false))
}

fn current_branch(ctx: &mut Ctx) -> Option<usize> {
    if let Some(b) = ctx.tm.branch {
        return Some(b);
    }
    // In a failure route: the branch whose reply was chosen.
    with_txn(ctx, |g| {
        g.best_failure().or_else(|| g.branches.len().checked_sub(1))
    })
    .flatten()
}

/// In a failure or branch-failure route: tells whether the branch received
/// a reply (before ending).
///
/// # Returns
/// 1 when it did, -1 otherwise.
///
/// # Example
/// ```js
/// if (KSR.tm.t_branch_replied() > 0) { KSR.info("replied\n"); }
/// ```
#[kemi]
pub fn t_branch_replied(ctx: &mut Ctx) -> i32 {
    let Some(i) = current_branch(ctx) else {
        return -1;
    };
    yes(with_txn(ctx, |g| {
        g.branches
            .get(i)
            .is_some_and(|b| b.provisional > 0 || b.final_reply.is_some())
    })
    .unwrap_or(false))
}

/// In a failure or branch-failure route: tells whether the branch timed
/// out.
///
/// # Returns
/// 1 when it did, -1 otherwise.
///
/// # Example
/// ```js
/// if (KSR.tm.t_branch_timeout() > 0) { KSR.info("timeout\n"); }
/// ```
#[kemi]
pub fn t_branch_timeout(ctx: &mut Ctx) -> i32 {
    let Some(i) = current_branch(ctx) else {
        return -1;
    };
    yes(with_txn(ctx, |g| g.branches.get(i).is_some_and(|b| b.timed_out)).unwrap_or(false))
}

/// Tells whether any branch ended with this status code.
///
/// # Parameters
/// - `code`: the status code.
///
/// # Returns
/// 1 when one did, -1 otherwise.
///
/// # Example
/// ```js
/// if (KSR.tm.t_grep_status(486) > 0) { KSR.info("busy somewhere\n"); }
/// ```
#[kemi]
pub fn t_grep_status(ctx: &mut Ctx, code: i32) -> i32 {
    yes(with_txn(ctx, |g| {
        g.branches.iter().any(|b| i32::from(b.final_code) == code)
    })
    .unwrap_or(false))
}

/// The most relevant status code of the transaction: the reply sent
/// upstream, else the best branch reply, else the highest provisional.
///
/// # Returns
/// The code, or -1 when there is none.
///
/// # Example
/// ```js
/// var code = KSR.tm.t_get_status_code();
/// ```
#[kemi]
pub fn t_get_status_code(ctx: &mut Ctx) -> i32 {
    if ctx.tm.reply_code > 0 {
        return i32::from(ctx.tm.reply_code);
    }
    with_txn(ctx, |g| g.status_code())
        .flatten()
        .map_or(-1, i32::from)
}

/// Matches the relevant status code against a regular expression: the
/// reply being processed in reply routes, the chosen one in a failure
/// route, the last one sent in the request route.
///
/// # Parameters
/// - `pattern`: a regular expression such as `4[0-9][0-9]`, matched
///   against the whole code.
///
/// # Returns
/// 1 when it matches, -1 otherwise.
///
/// # Example
/// ```js
/// if (KSR.tm.t_check_status("486|408") > 0) { KSR.info("busy or no answer\n"); }
/// ```
#[kemi]
pub fn t_check_status(ctx: &mut Ctx, pattern: &str) -> i32 {
    let code = t_get_status_code(ctx);
    if code < 0 {
        return -1;
    }
    yes(status_matches(pattern, &code.to_string()))
}

/// Matches a three-digit status against a pattern of alternatives (`|`)
/// made of digits, `.`, `[0-9]`-style classes and a trailing `*`/`.*`.
fn status_matches(pattern: &str, code: &str) -> bool {
    pattern
        .trim_start_matches('^')
        .trim_end_matches('$')
        .split('|')
        .any(|alt| {
            matches_alt(
                alt.trim()
                    .trim_start_matches('(')
                    .trim_end_matches(')')
                    .as_bytes(),
                code.as_bytes(),
            )
        })
}

fn matches_alt(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'.'), _) if p.get(1) == Some(&b'*') => {
            (0..=s.len()).any(|k| matches_alt(&p[2..], &s[k..]))
        }
        (Some(b'*'), _) => true,
        (None, Some(_)) => false,
        (Some(b'['), Some(c)) => {
            let Some(end) = p.iter().position(|&x| x == b']') else {
                return false;
            };
            let class = &p[1..end];
            let hit = class
                .windows(3)
                .any(|w| w[1] == b'-' && (w[0]..=w[2]).contains(c))
                || class.contains(c);
            hit && matches_alt(&p[end + 1..], &s[1..])
        }
        (Some(b'.'), Some(_)) => matches_alt(&p[1..], &s[1..]),
        (Some(a), Some(b)) => a == b && matches_alt(&p[1..], &s[1..]),
        (Some(_), None) => false,
    }
}

/// The branch being processed in branch, reply and branch-failure routes;
/// in the request route, how many branches were created so far.
///
/// # Returns
/// The index.
///
/// # Example
/// ```js
/// var idx = KSR.tm.t_get_branch_index();
/// ```
#[kemi]
pub fn t_get_branch_index(ctx: &mut Ctx) -> i32 {
    if let Some(b) = ctx.tm.branch {
        return b as i32;
    }
    with_txn(ctx, |g| g.branches.len() as i32).unwrap_or(0)
}

/// Housekeeping: transactions are freed by the timer, so this only
/// returns.
///
/// # Returns
/// 1.
///
/// # Example
/// ```js
/// KSR.tm.t_clean();
/// ```
#[kemi]
pub fn t_clean(_ctx: &mut Ctx) -> i32 {
    1
}

/// Sorts the destination set (the Request-URI branch and the added
/// branches) by q into groups for serial forking: `t_next_contacts` then
/// takes the highest-q group, equal q-values forking in parallel.
///
/// # Returns
/// 1 when loaded (also when there was only one destination, which leaves
/// the set as it is), -1 without a request.
///
/// # Example
/// ```js
/// if (KSR.registrar.lookup("location") == 1) { KSR.tm.t_load_contacts(); KSR.tm.t_next_contacts(); }
/// ```
#[kemi]
pub fn t_load_contacts(ctx: &mut Ctx) -> i32 {
    load_contacts(ctx, 0)
}

/// `t_load_contacts` with a mode: 0 groups equal q-values for parallel
/// forking; 1 (proportional, random by q in Kamailio) is taken as 0.
///
/// # Parameters
/// - `mode`: 0 or 1.
///
/// # Returns
/// 1 when loaded, -1 without a request.
///
/// # Example
/// ```js
/// KSR.tm.ki_t_load_contacts_mode(0);
/// ```
#[kemi(name = "ki_t_load_contacts_mode")]
pub fn t_load_contacts_mode(ctx: &mut Ctx, mode: i32) -> i32 {
    load_contacts(ctx, mode)
}

fn load_contacts(ctx: &mut Ctx, mode: i32) -> i32 {
    if mode != 0 {
        log::notice(
            "tm",
            format_args!("t_load_contacts mode {mode}: kemid orders by q only (mode 0)"),
        );
    }
    let Some(msg) = ctx.msg() else { return -1 };
    let Some(ruri) = msg.ruri_str().map(str::to_owned) else {
        return -1;
    };
    let du = msg.du().map(str::to_owned);
    let state = ctx.state_mut();
    if state.branches.is_empty() {
        return 1;
    }
    let mut all = vec![crate::ctx::Branch {
        uri: ruri,
        dst_uri: du,
        path: state.path.clone(),
        q: state.ruri_q,
        ..crate::ctx::Branch::default()
    }];
    all.append(&mut state.branches);
    // Highest q first; a contact without q counts as 1.0. The sort is
    // stable, so equal q-values keep their order.
    all.sort_by_key(|b| std::cmp::Reverse(b.q.unwrap_or(1000)));
    let mut groups: Vec<Vec<crate::ctx::Branch>> = Vec::new();
    for b in all {
        match groups.last_mut() {
            Some(g) if g[0].q.unwrap_or(1000) == b.q.unwrap_or(1000) => g.push(b),
            _ => groups.push(vec![b]),
        }
    }
    state.contact_groups = groups;
    1
}

/// Takes the highest-q group loaded by `t_load_contacts`: its first
/// contact becomes the Request-URI (with `$du` and Path), the others
/// branches. Call `t_relay` after it; in the failure route, call it again
/// for the next group.
///
/// # Returns
/// 1 when a group was taken, -1 when none is left.
///
/// # Example
/// ```js
/// if (KSR.tm.t_next_contacts() > 0) { KSR.tm.t_relay(); }
/// ```
#[kemi]
pub fn t_next_contacts(ctx: &mut Ctx) -> i32 {
    if ctx.state().contact_groups.is_empty() {
        return -1;
    }
    let mut group = ctx.state_mut().contact_groups.remove(0);
    let first = group.remove(0);
    let Some(msg) = ctx.msg_mut() else { return -1 };
    if msg.set_ruri(&first.uri).is_err() {
        return -1;
    }
    match first.dst_uri.as_deref() {
        Some(du) => {
            if msg.set_du(du).is_err() {
                return -1;
            }
        }
        None => msg.reset_du(),
    }
    let state = ctx.state_mut();
    state.path = first.path;
    state.ruri_q = first.q;
    state.branches = group;
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_patterns() {
        assert!(status_matches("486|408", "408"));
        assert!(status_matches("4[0-9][0-9]", "404"));
        assert!(!status_matches("4[0-9][0-9]", "503"));
        assert!(status_matches("5..", "503"));
        assert!(status_matches("3.*", "302"));
        assert!(!status_matches("18[0-3]", "200"));
        assert!(status_matches("^(486)$", "486"));
    }

    #[test]
    fn contacts_are_relayed_by_q_groups() {
        let mut w = crate::ctx::WorkerLocal::default();
        let mut msg = crate::sip::SipMsg::parse(
            "INVITE sip:a@one SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
        )
        .expect("valid");
        let recv = crate::transport::RecvInfo {
            proto: Proto::Udp,
            src: "127.0.0.1:5070".parse().expect("addr"),
            local: "127.0.0.1:5060".parse().expect("addr"),
            conn: None,
        };
        let mut ctx = Ctx::for_message(&mut w, &mut msg, recv);
        ctx.state_mut().ruri_q = Some(500);
        for (uri, q) in [
            ("sip:a@two", Some(1000)),
            ("sip:a@three", Some(500)),
            ("sip:a@four", None),
        ] {
            ctx.state_mut().branches.push(crate::ctx::Branch {
                uri: uri.into(),
                q,
                ..crate::ctx::Branch::default()
            });
        }
        assert_eq!(t_load_contacts(&mut ctx), 1);
        assert_eq!(
            ctx.state().contact_groups.len(),
            2,
            "q 1.0 (two, four) then q 0.5 (one, three)"
        );
        assert_eq!(t_next_contacts(&mut ctx), 1);
        assert_eq!(ctx.msg().and_then(|m| m.ruri_str()), Some("sip:a@two"));
        assert_eq!(
            ctx.state()
                .branches
                .iter()
                .map(|b| b.uri.as_str())
                .collect::<Vec<_>>(),
            ["sip:a@four"]
        );
        assert_eq!(t_next_contacts(&mut ctx), 1);
        assert_eq!(ctx.msg().and_then(|m| m.ruri_str()), Some("sip:a@one"));
        assert_eq!(
            ctx.state()
                .branches
                .iter()
                .map(|b| b.uri.as_str())
                .collect::<Vec<_>>(),
            ["sip:a@three"]
        );
        assert_eq!(t_next_contacts(&mut ctx), -1, "none left");
    }

    #[test]
    fn proxy_addresses() {
        assert_eq!(
            parse_proxy("udp:10.0.0.1:5080"),
            Some((Some(Proto::Udp), "10.0.0.1".into(), 5080))
        );
        assert_eq!(
            parse_proxy("tcp:[::1]"),
            Some((Some(Proto::Tcp), "::1".into(), 5060))
        );
        assert_eq!(
            parse_proxy("example.com"),
            Some((None, "example.com".into(), 5060))
        );
        assert_eq!(parse_proxy("udp:"), None);
    }
}
