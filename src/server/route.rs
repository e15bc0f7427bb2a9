//! What happens to one received message: parse it, answer 400 or drop it
//! when it is malformed, run the script's request or reply callback, and
//! forward replies statelessly by their Via headers.

use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};

use super::{Core, Stats};
use crate::ctx::{CoreServices, Ctx, MsgState, WorkerLocal};
use crate::engine::{Outcome, ScriptHost, REQUEST_ROUTE};
use crate::log;
use crate::sip::{build_bad_request, SipMsg};
use crate::tm::{self, RelayRequest, ReplyStep, RouteKind, Tm, TmRoute, TxnRef};
use crate::transport::{Proto, RecvInfo};

thread_local! {
    static OUT: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(2048));
}

/// Routes one received message.
pub fn handle(
    core: &Core,
    host: &mut ScriptHost,
    local: &mut WorkerLocal,
    raw: &[u8],
    recv: RecvInfo,
) {
    let mut msg = match SipMsg::parse(raw) {
        Ok(m) => m,
        Err(e) => {
            malformed(core, raw, recv, &e.to_string(), e.can_reply());
            return;
        }
    };
    if msg.is_request() {
        request(core, host, local, &mut msg, recv);
    } else {
        reply(core, host, local, &mut msg, recv);
    }
}

/// Answers 400 when the message is a request a reply can be routed for,
/// else drops it; logs either way.
fn malformed(core: &Core, raw: &[u8], recv: RecvInfo, why: &str, can_reply: bool) {
    Stats::bump(&core.stats.bad_messages);
    if can_reply {
        OUT.with(|out| {
            let mut out = out.borrow_mut();
            out.clear();
            if build_bad_request(raw, "", &mut out) {
                log::notice(
                    "core",
                    format_args!("malformed message from {}: {why}; answered 400", recv.src),
                );
                let _ = core.send(recv.proto, recv.src, recv.conn, &out);
            }
        });
    } else {
        Stats::bump(&core.stats.drops);
        log::notice(
            "core",
            format_args!("malformed message from {} dropped: {why}", recv.src),
        );
    }
}

fn request(
    core: &Core,
    host: &mut ScriptHost,
    local: &mut WorkerLocal,
    msg: &mut SipMsg,
    recv: RecvInfo,
) {
    Stats::bump(&core.stats.rcv_requests);
    if let Err(e) = msg.fix_top_via(recv.src, false) {
        let raw = msg.as_bytes().to_vec();
        malformed(core, &raw, recv, &format!("top Via: {e}"), true);
        return;
    }
    let mut ctx = Ctx::for_message(local, msg, recv).with_core(core);
    if let Outcome::Failed(_) = host.call(&mut ctx, REQUEST_ROUTE, None) {
        Stats::bump(&core.stats.script_errors);
    }
    // A relay the script asked for leaves now, through the branch routes.
    let relay = ctx.tm.relay.take();
    let txn = ctx.tm.txn.clone();
    let precheck = ctx.tm.precheck.take();
    let state = ctx.take_state();
    drop(ctx);
    if let (Some(relay), Some(txn)) = (relay, txn) {
        tm_relay(core, host, local, &txn, msg, state, relay, recv);
    }
    if let (Some(key), Some(tm)) = (precheck, core.tm_service()) {
        tm.precheck_end(&key);
    }
}

/// Sends a relay prepared by `t_relay`: one branch per destination, each
/// through the branch route when one is armed.
#[allow(clippy::too_many_arguments)]
fn tm_relay(
    core: &Core,
    host: &mut ScriptHost,
    local: &mut WorkerLocal,
    txn: &TxnRef,
    msg: &SipMsg,
    state: MsgState,
    relay: RelayRequest,
    recv: RecvInfo,
) {
    let Some(tm) = core.tm_service() else { return };
    let on_branch = {
        let mut g = tm::lock(txn);
        g.state = state.clone();
        g.callbacks.on_branch.clone()
    };
    let branch_state = MsgState {
        branches: Vec::new(),
        ..state.clone()
    };
    let result = tm.relay(txn, msg, &state, &relay, recv.local, |branch_msg, idx| {
        let Some(name) = &on_branch else { return true };
        let mut ctx = Ctx::for_message(local, branch_msg, recv)
            .with_core(core)
            .with_state(branch_state.clone());
        ctx.tm = TmRoute {
            kind: RouteKind::Branch,
            txn: Some(txn.clone()),
            branch: Some(idx),
            ..TmRoute::default()
        };
        let outcome = host.call(&mut ctx, name, None);
        !(outcome == Outcome::Drop || ctx.drop_requested())
    });
    if let Err(e) = result {
        log::error("tm", format_args!("relay failed: {e}"));
        let mut g = tm::lock(txn);
        if !g.settings.disable_internal_reply
            && g.uas.status < 200
            && g.branches.iter().all(|b| b.final_code > 0)
        {
            tm.reply_with(&mut g, 500, "Relay Failed", "");
        }
    }
}

/// A reply that belongs to one of our transactions: its reply route, then
/// tm's processing and whatever route that calls for.
#[allow(clippy::too_many_arguments)]
fn tm_reply(
    core: &Core,
    tm: &Tm,
    host: &mut ScriptHost,
    local: &mut WorkerLocal,
    msg: &mut SipMsg,
    recv: RecvInfo,
    txn: &TxnRef,
    idx: usize,
) {
    let code = msg.status_code().unwrap_or(0);
    let (on_reply, state) = {
        let g = tm::lock(txn);
        (g.callbacks.on_reply.clone(), g.state.clone())
    };
    let mut dropped = false;
    if let Some(name) = on_reply {
        let mut ctx = Ctx::for_message(local, msg, recv)
            .with_core(core)
            .with_state(state);
        ctx.tm = TmRoute {
            kind: RouteKind::TmReply,
            txn: Some(txn.clone()),
            branch: Some(idx),
            reply_code: code,
            ..TmRoute::default()
        };
        match host.call(&mut ctx, &name, None) {
            Outcome::Drop => dropped = true,
            Outcome::Failed(_) => Stats::bump(&core.stats.script_errors),
            _ => {}
        }
        dropped |= ctx.drop_requested();
        let state = ctx.take_state();
        tm::lock(txn).state = state;
    }
    let step = {
        let mut g = tm::lock(txn);
        tm.on_reply(&mut g, idx, msg, dropped)
    };
    run_steps(core, tm, host, local, txn, step, Some(idx), code);
}

/// Runs the routes tm asks for, one after the other.
#[allow(clippy::too_many_arguments)]
fn run_steps(
    core: &Core,
    tm: &Tm,
    host: &mut ScriptHost,
    local: &mut WorkerLocal,
    txn: &TxnRef,
    mut step: ReplyStep,
    branch: Option<usize>,
    code: u16,
) {
    loop {
        match step {
            ReplyStep::Done => return,
            ReplyStep::BranchFailure(name) => {
                failure_route(
                    core,
                    host,
                    local,
                    txn,
                    &name,
                    RouteKind::BranchFailure,
                    branch,
                    code,
                );
                step = {
                    let mut g = tm::lock(txn);
                    tm.after_branch_failure(&mut g)
                };
            }
            ReplyStep::Failure(name) => {
                failure_route(
                    core,
                    host,
                    local,
                    txn,
                    &name,
                    RouteKind::Failure,
                    None,
                    code,
                );
                let mut g = tm::lock(txn);
                tm.after_failure(&mut g);
                return;
            }
        }
    }
}

/// Runs a failure or branch-failure route on the transaction's request as
/// relayed, with the transaction's flags and AVPs; a `t_relay` there sends
/// new branches (serial forking).
#[allow(clippy::too_many_arguments)]
fn failure_route(
    core: &Core,
    host: &mut ScriptHost,
    local: &mut WorkerLocal,
    txn: &TxnRef,
    name: &str,
    kind: RouteKind,
    branch: Option<usize>,
    code: u16,
) {
    let (bytes, mut state, recv) = {
        let g = tm::lock(txn);
        let bytes = g
            .template
            .clone()
            .unwrap_or_else(|| g.uas.request.to_bytes());
        (bytes, g.state.clone(), g.uas.recv)
    };
    // The destination set starts empty in a failure route.
    state.branches.clear();
    state.path = None;
    let Ok(mut req) = SipMsg::parse(bytes) else {
        log::error(
            "tm",
            format_args!("cannot rebuild the request for the failure route"),
        );
        return;
    };
    let mut ctx = Ctx::for_message(local, &mut req, recv)
        .with_core(core)
        .with_state(state);
    ctx.tm = TmRoute {
        kind,
        txn: Some(txn.clone()),
        branch,
        reply_code: code,
        ..TmRoute::default()
    };
    if let Outcome::Failed(_) = host.call(&mut ctx, name, None) {
        Stats::bump(&core.stats.script_errors);
    }
    let relay = ctx.tm.relay.take();
    let state = ctx.take_state();
    drop(ctx);
    tm::lock(txn).state = state.clone();
    if let Some(relay) = relay {
        tm_relay(core, host, local, txn, &req, state, relay, recv);
    }
}

/// A worker was asked to run the failure route of a transaction whose
/// branches timed out.
pub fn tm_failure_job(core: &Core, host: &mut ScriptHost, local: &mut WorkerLocal, txn: &TxnRef) {
    let Some(tm) = core.tm_service() else { return };
    let name = {
        let mut g = tm::lock(txn);
        if g.uas.status >= 200 {
            g.in_failure = false;
            return;
        }
        tm.take_failure_route(&mut g)
    };
    match name {
        Some(name) => run_steps(
            core,
            tm,
            host,
            local,
            txn,
            ReplyStep::Failure(name),
            None,
            408,
        ),
        None => {
            let mut g = tm::lock(txn);
            g.in_failure = false;
            tm.send_best(&mut g);
        }
    }
}

fn reply(
    core: &Core,
    host: &mut ScriptHost,
    local: &mut WorkerLocal,
    msg: &mut SipMsg,
    recv: RecvInfo,
) {
    Stats::bump(&core.stats.rcv_replies);
    let mut dropped = false;
    if let Some(cb) = core.kemi.reply_route.as_deref() {
        let mut ctx = Ctx::for_message(local, msg, recv).with_core(core);
        ctx.tm.kind = RouteKind::Reply;
        match host.call(&mut ctx, cb, None) {
            Outcome::Drop => dropped = true,
            Outcome::Failed(_) => Stats::bump(&core.stats.script_errors),
            _ => {}
        }
        dropped |= ctx.drop_requested();
    }
    if dropped {
        Stats::bump(&core.stats.drops);
        return;
    }
    if let Some(tm) = core.tm_service() {
        if let Some((txn, idx)) = tm.match_reply(msg) {
            tm_reply(core, tm, host, local, msg, recv, &txn, idx);
            return;
        }
    }
    forward_reply(core, msg, recv);
}

/// Forwards a reply statelessly: the top Via must be ours; it is removed
/// and the reply goes where the next Via says (RFC 3261 §18.2.2, RFC 3581).
fn forward_reply(core: &Core, msg: &mut SipMsg, recv: RecvInfo) {
    let next = {
        let Ok(vias) = msg.vias() else {
            log::notice(
                "core",
                format_args!("reply from {} without Via dropped", recv.src),
            );
            return;
        };
        let Some(top) = vias.get(0) else { return };
        let proto_of = |t: &str| {
            if t.eq_ignore_ascii_case("TCP") {
                Some(Proto::Tcp)
            } else if t.eq_ignore_ascii_case("UDP") {
                Some(Proto::Udp)
            } else {
                None
            }
        };
        if !core.is_myself(
            top.host(),
            Some(top.port().unwrap_or(5060)),
            proto_of(top.transport()),
        ) {
            log::debug(
                "core",
                format_args!(
                    "reply from {} is not for us (top Via {}); dropped",
                    recv.src,
                    top.sent_by()
                ),
            );
            Stats::bump(&core.stats.drops);
            return;
        }
        let Some(next) = vias.get(1) else {
            // A reply to a request we sent ourselves: nothing to forward to.
            return;
        };
        let Some(proto) = proto_of(next.transport()) else {
            log::notice(
                "core",
                format_args!("cannot forward a reply over {}", next.transport()),
            );
            return;
        };
        let ip: Option<IpAddr> = next
            .received()
            .and_then(|r| r.trim_matches(['[', ']']).parse().ok())
            .or_else(|| next.host_ip());
        let Some(ip) = ip else {
            log::notice(
                "core",
                format_args!(
                    "cannot forward a reply to the name {}: no received= address",
                    next.host()
                ),
            );
            return;
        };
        let port = match next.rport() {
            Some(Some(p)) => p,
            _ => next.port().unwrap_or(5060),
        };
        (proto, SocketAddr::new(ip, port))
    };
    if let Err(e) = msg.remove_top_via() {
        log::error(
            "core",
            format_args!("cannot remove our Via from a reply: {e}"),
        );
        return;
    }
    let (proto, dst) = next;
    OUT.with(|out| {
        let mut out = out.borrow_mut();
        out.clear();
        msg.write_into(&mut out);
        match core.send(proto, dst, None, &out) {
            Ok(()) => Stats::bump(&core.stats.fwd_replies),
            Err(e) => log::error("core", format_args!("cannot forward a reply to {dst}: {e}")),
        }
    });
}
