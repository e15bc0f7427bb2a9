//! `KSR.sl`: stateless replies.
//!
//! A reply is built straight from the request's Via, From, To, Call-ID and
//! CSeq into a reusable per-thread buffer and sent back where RFC 3261
//! §18.2.2 and RFC 3581 say: over the same TCP connection, or over UDP to
//! the `received` address and the `rport` (else sent-by) port of the top
//! Via. The To-tag of a reply is derived from the request, so a
//! retransmitted request gets the same tag.

use std::cell::RefCell;

use kemid_macros::kemi;

use crate::ctx::Ctx;
use crate::log;
use crate::sip::build_reply;

/// `modparam("sl", ...)`: accepted so that existing configurations
/// load; none of them changes what kemid does.
#[derive(Clone, Debug, kemid_macros::ModParams)]
pub struct Params {
    #[param(inert)]
    pub default_code: i64,
    #[param(inert)]
    pub default_reason: String,
    #[param(inert)]
    pub bind_tm: i64,
}

/// `loadmodule "sl.so"`.
pub static MODULE: crate::module::Module<()> =
    crate::module::Module::new("sl", "stateless replies");

thread_local! {
    /// The reply being built; reused so a reply allocates nothing once warm.
    static REPLY_BUF: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(1024));
}

pub use crate::proxy::{local_to_tag, reply_destination};

/// Builds and sends a reply to the current request; 1 when sent, -1 when
/// not (logged).
pub fn send_local_reply(ctx: &mut Ctx, code: i32, reason: &str) -> i32 {
    // Header lines the script queued with `KSR.hdr.append_to_reply` go
    // into this reply, once.
    let extra = std::mem::take(&mut ctx.state_mut().reply_headers);
    send_local_reply_with(ctx, code, reason, &extra)
}

/// Like [`send_local_reply`], with `extra_headers` (complete header lines,
/// each ending in CRLF) added after the `Server:` header.
pub fn send_local_reply_with(ctx: &mut Ctx, code: i32, reason: &str, extra_headers: &str) -> i32 {
    let Some(core) = ctx.core() else {
        log::error("sl", format_args!("no server to send the reply through"));
        return -1;
    };
    let (Some(req), Some(recv)) = (ctx.msg(), ctx.recv()) else {
        return -1;
    };
    let Ok(code) = u16::try_from(code) else {
        log::error("sl", format_args!("{code} is not a SIP status code"));
        return -1;
    };
    let tag = (code > 100).then(|| local_to_tag(req));
    let server = core.server_header().unwrap_or("");
    let joined;
    let extra = if extra_headers.is_empty() {
        server
    } else if server.is_empty() {
        extra_headers
    } else {
        joined = format!("{server}\r\n{extra_headers}");
        joined.as_str()
    };
    // `KSR.force_rport()`: back to the source port, as if Via had rport.
    let dst = if ctx.state().force_rport {
        recv.src
    } else {
        reply_destination(req, recv)
    };
    let recv = *recv;
    REPLY_BUF.with(|buf| {
        let mut out = buf.borrow_mut();
        out.clear();
        if let Err(e) = build_reply(req, code, reason, tag.as_deref(), extra, &mut out) {
            log::error("sl", format_args!("cannot build a {code} reply: {e}"));
            return -1;
        }
        match core.send(recv.proto, dst, recv.conn, &out) {
            Ok(()) => 1,
            Err(e) => {
                log::error(
                    "sl",
                    format_args!("cannot send the {code} reply to {dst}: {e}"),
                );
                -1
            }
        }
    })
}

/// Sends a stateless reply to the current request.
///
/// # Parameters
/// - `code`: the status code, 100 to 699.
/// - `reason`: the reason phrase; empty for the standard one.
///
/// # Returns
/// 1 when sent, -1 on error (logged): not a request, an ACK, a bad code, or
/// the send failed.
///
/// # Example
/// ```js
/// KSR.sl.sl_send_reply(404, "Not Found");
/// ```
#[kemi]
pub fn sl_send_reply(ctx: &mut Ctx, code: i32, reason: &str) -> i32 {
    send_local_reply(ctx, code, reason)
}

/// Sends a reply: statefully when a transaction exists for the request
/// (created by `KSR.tm.t_newtran()` or `t_relay`), else statelessly.
///
/// # Parameters
/// - `code`: the status code, 100 to 699.
/// - `reason`: the reason phrase; empty for the standard one.
///
/// # Returns
/// 1 when sent, -1 on error (logged).
///
/// # Example
/// ```js
/// KSR.sl.send_reply(200, "OK");
/// ```
#[kemi]
pub fn send_reply(ctx: &mut Ctx, code: i32, reason: &str) -> i32 {
    reply_statefully_if_possible(ctx, code, reason)
}

/// Through the request's transaction when it has one (so a retransmission
/// gets the same reply again), else statelessly.
fn reply_statefully_if_possible(ctx: &mut Ctx, code: i32, reason: &str) -> i32 {
    let txn = match (&ctx.tm.txn, ctx.core().and_then(|c| c.tm())) {
        (Some(t), Some(tm)) => Some((t.clone(), tm.clone())),
        (None, Some(tm)) => {
            let tm = tm.clone();
            ctx.txn_key()
                .and_then(|k| tm.lookup_key(&k))
                .map(|t| (t, tm))
        }
        _ => None,
    };
    let Some((txn, tm)) = txn else {
        return send_local_reply(ctx, code, reason);
    };
    let Ok(code) = u16::try_from(code) else {
        log::error("sl", format_args!("{code} is not a SIP status code"));
        return -1;
    };
    let extra = std::mem::take(&mut ctx.state_mut().reply_headers);
    if tm.reply(&txn, code, reason, &extra) {
        1
    } else {
        -1
    }
}

/// Sends a reply like `send_reply`, with connection options.
///
/// # Parameters
/// - `code`: the status code, 100 to 699.
/// - `reason`: the reason phrase; empty for the standard one.
/// - `mode`: bit 1: do not open a new connection; bit 2: close the
///   connection after sending. Replies go over the connection the request
///   came on, so bit 1 holds already; bit 2 is not supported yet and
///   logged.
///
/// # Returns
/// 1 when sent, -1 on error (logged).
///
/// # Example
/// ```js
/// KSR.sl.send_reply_mode(200, "OK", 0);
/// ```
#[kemi]
pub fn send_reply_mode(ctx: &mut Ctx, code: i32, reason: &str, mode: i32) -> i32 {
    if mode & 2 != 0 {
        log::warn("sl", format_args!("send_reply_mode: closing the connection after the reply is not supported; sending normally"));
    }
    reply_statefully_if_possible(ctx, code, reason)
}

/// Sends a stateless reply for the last internal error. kemid does not
/// track internal error codes yet, so this sends 500.
///
/// # Returns
/// 1 when sent, -1 on error (logged).
///
/// # Example
/// ```js
/// KSR.sl.sl_reply_error();
/// ```
#[kemi]
pub fn sl_reply_error(ctx: &mut Ctx) -> i32 {
    send_local_reply(ctx, 500, "Server Internal Error")
}

/// Like `sl_reply_error`, statefully when a transaction exists.
///
/// # Returns
/// 1 when sent, -1 on error (logged).
///
/// # Example
/// ```js
/// KSR.sl.send_reply_error();
/// ```
#[kemi]
pub fn send_reply_error(ctx: &mut Ctx) -> i32 {
    reply_statefully_if_possible(ctx, 500, "Server Internal Error")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::SipMsg;
    use crate::transport::{Proto, RecvInfo};

    fn req(via: &str) -> SipMsg {
        SipMsg::parse(format!(
            "OPTIONS sip:a@b SIP/2.0\r\nVia: {via}\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        ))
        .expect("valid request")
    }

    fn udp_from(src: &str) -> RecvInfo {
        RecvInfo {
            proto: Proto::Udp,
            src: src.parse().expect("address"),
            local: "127.0.0.1:5060".parse().expect("address"),
            conn: None,
        }
    }

    #[test]
    fn replies_follow_rport_received_and_sent_by() {
        let recv = udp_from("192.0.2.7:40000");
        let m = req("SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK1;rport");
        assert_eq!(reply_destination(&m, &recv), recv.src);
        let m = req("SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK1;received=192.0.2.7");
        assert_eq!(
            reply_destination(&m, &recv),
            "192.0.2.7:5070".parse().expect("addr")
        );
        let m = req("SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1");
        assert_eq!(
            reply_destination(&m, &recv),
            "10.0.0.1:5060".parse().expect("addr")
        );
    }

    #[test]
    fn to_tag_is_stable_per_request() {
        let a = req("SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1");
        let b = req("SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1");
        let c = req("SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK2");
        assert_eq!(local_to_tag(&a), local_to_tag(&b));
        assert_ne!(local_to_tag(&a), local_to_tag(&c));
        let t = local_to_tag(&a);
        assert!(
            t.len() == 16
                && t.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{t}"
        );
    }
}
