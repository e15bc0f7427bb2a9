//! What happens to one received message: parse it, answer 400 or drop it
//! when it is malformed, run the script's request or reply callback, and
//! forward replies statelessly by their Via headers.

use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};

use super::{Core, Stats};
use crate::ctx::{CoreServices, Ctx, WorkerLocal};
use crate::engine::{Outcome, ScriptHost, REQUEST_ROUTE};
use crate::log;
use crate::sip::{build_bad_request, SipMsg};
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
            if build_bad_request(raw, why, &mut out) {
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
