//! `KSR.maxfwd`: the Max-Forwards header, which stops requests from
//! looping forever (RFC 3261 §8.1.1.6, §16.6).
//!
//! The module parameter `max_limit` (default 70, 0 to 255) caps the value
//! forwarded: a request arriving with more is forwarded with `max_limit`.
//! The new value is an edit: `$hdr(Max-Forwards)` keeps reading the
//! received value, and calling `process_maxfwd` twice on one request
//! decrements once.

use kemid_macros::kemi;

use crate::ctx::Ctx;
use crate::log;
use crate::module::Module;
use crate::sip::{HeaderName, SipMsg, ViewError};

/// `modparam("maxfwd", ...)`.
#[derive(Clone, Debug, kemid_macros::ModParams)]
pub struct Params {
    /// The highest Max-Forwards value forwarded: a request arriving with
    /// more is forwarded with this value.
    #[param(default = 70, range = "0..=255")]
    pub max_limit: u32,
}

/// `loadmodule "maxfwd.so"`; its state is its parameters.
pub static MODULE: Module<Params> =
    Module::new("maxfwd", "Max-Forwards processing").init(|cx| Ok(cx.params()));

/// The `max_limit` module parameter.
fn max_limit(ctx: &Ctx) -> u32 {
    MODULE.state(ctx).map_or(70, |p| p.max_limit)
}

/// The received Max-Forwards value: `Ok(None)` when absent, `Err` when it
/// is not a number (logged).
fn received(msg: &SipMsg) -> Result<Option<u32>, ()> {
    match msg.max_forwards() {
        Ok(v) => Ok(Some(v)),
        Err(ViewError::Missing) => Ok(None),
        Err(e) => {
            log::error("maxfwd", format_args!("bad Max-Forwards header: {e}"));
            Err(())
        }
    }
}

/// Checks `limit` is 0..=255, logging when not.
fn valid_limit(func: &str, limit: i32) -> Option<u32> {
    match u32::try_from(limit) {
        Ok(l) if l <= 255 => Some(l),
        _ => {
            log::error(
                "maxfwd",
                format_args!("{func}: invalid limit {limit} (0..255)"),
            );
            None
        }
    }
}

/// Processes the Max-Forwards header before forwarding a request: adds
/// `Max-Forwards: limit` (as the first header) when absent, else
/// decrements the value, first lowering a value above `max_limit` to
/// `max_limit + 1`.
///
/// # Parameters
/// - `limit`: the value to add when the header is missing, 0 to 255.
///
/// # Returns
/// 2 when the header was added; 1 when it was decremented; -1 when it is
/// already 0 (reply `483 Too Many Hops`) or `limit` is out of range; -2
/// when the header is not a number or cannot be changed, or for a reply
/// (logged).
///
/// # Example
/// ```js
/// if (KSR.maxfwd.process_maxfwd(10) < 0) {
///     KSR.sl.sl_send_reply(483, "Too Many Hops");
///     KSR.x.exit();
/// }
/// ```
#[kemi]
pub fn process_maxfwd(ctx: &mut Ctx, limit: i32) -> i32 {
    let Some(limit) = valid_limit("process_maxfwd", limit) else {
        return -1;
    };
    let cap = max_limit(ctx);
    let Some(msg) = ctx.msg_mut() else { return -2 };
    if msg.is_reply() {
        log::error(
            "maxfwd",
            format_args!("process_maxfwd: a reply has no Max-Forwards to process"),
        );
        return -2;
    }
    let current = match received(msg) {
        Ok(v) => v,
        Err(()) => return -2,
    };
    let (result, edit) = match current {
        None => (2, msg.insert_header(&format!("Max-Forwards: {limit}"))),
        Some(0) => return -1,
        Some(v) => {
            let v = if v > cap { cap + 1 } else { v };
            let Some(h) = msg.header(HeaderName::MaxForwards) else {
                return -2;
            };
            let span = h.value_span();
            (1, msg.replace_span(span, (v - 1).to_string()))
        }
    };
    match edit {
        Ok(()) => result,
        Err(e) => {
            log::error("maxfwd", format_args!("cannot change Max-Forwards: {e}"));
            -2
        }
    }
}

/// Tells whether the received Max-Forwards value is below a limit.
///
/// # Parameters
/// - `limit`: the limit, 0 to 255.
///
/// # Returns
/// 1 when the value is below `limit`; -1 when it is not, or `limit` is out
/// of range; -2 when the header is missing; -3 when it is not a number.
///
/// # Example
/// ```js
/// if (KSR.maxfwd.is_maxfwd_lt(5) > 0) { KSR.warn("few hops left\n"); }
/// ```
#[kemi]
pub fn is_maxfwd_lt(ctx: &mut Ctx, limit: i32) -> i32 {
    let Some(limit) = valid_limit("is_maxfwd_lt", limit) else {
        return -1;
    };
    let Some(msg) = ctx.msg() else { return -3 };
    match received(msg) {
        Err(()) => -3,
        Ok(None) => -2,
        Ok(Some(v)) if v >= limit => -1,
        Ok(Some(_)) => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CfgValue;
    use crate::modules::core::tests::{parse, udp_recv, with_ctx, TestCore};

    fn msg(maxfwd: Option<&str>) -> SipMsg {
        let mf = maxfwd.map_or(String::new(), |v| format!("Max-Forwards: {v}\r\n"));
        parse(&format!(
            "OPTIONS sip:b@c SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n{mf}Call-ID: x\r\nContent-Length: 0\r\n\r\n"
        ))
    }

    /// Runs `f` and returns its result and the message as it would be sent.
    fn run(
        core: &TestCore,
        maxfwd: Option<&str>,
        f: impl FnOnce(&mut Ctx) -> i32,
    ) -> (i32, String) {
        let mut m = msg(maxfwd);
        let r = with_ctx(core, &mut m, udp_recv(), f);
        let mut out = Vec::new();
        m.write_into(&mut out);
        (r, String::from_utf8(out).expect("utf-8"))
    }

    #[test]
    fn process_adds_decrements_and_stops_at_zero() {
        let core = TestCore::default();
        let (r, out) = run(&core, None, |c| process_maxfwd(c, 10));
        assert_eq!(r, 2);
        assert!(
            out.starts_with("OPTIONS sip:b@c SIP/2.0\r\nMax-Forwards: 10\r\nVia:"),
            "{out}"
        );
        let (r, out) = run(&core, Some("16"), |c| process_maxfwd(c, 10));
        assert_eq!(r, 1);
        assert!(out.contains("\r\nMax-Forwards: 15\r\n"), "{out}");
        let (r, out) = run(&core, Some("1"), |c| process_maxfwd(c, 10));
        assert_eq!(r, 1);
        assert!(out.contains("\r\nMax-Forwards: 0\r\n"), "{out}");
        let (r, out) = run(&core, Some("0"), |c| process_maxfwd(c, 10));
        assert_eq!(r, -1);
        assert!(out.contains("\r\nMax-Forwards: 0\r\n"), "unchanged: {out}");
        assert_eq!(run(&core, Some("ten"), |c| process_maxfwd(c, 10)).0, -2);
        assert_eq!(run(&core, None, |c| process_maxfwd(c, 256)).0, -1);
        assert_eq!(run(&core, None, |c| process_maxfwd(c, -1)).0, -1);
        let mut reply = parse("SIP/2.0 200 OK\r\nCSeq: 1 INVITE\r\n\r\n");
        assert_eq!(
            with_ctx(&core, &mut reply, udp_recv(), |c| process_maxfwd(c, 10)),
            -2
        );
    }

    #[test]
    fn values_above_max_limit_are_capped() {
        let (r, out) = run(&TestCore::default(), Some("200"), |c| process_maxfwd(c, 10));
        assert_eq!(r, 1);
        assert!(out.contains("\r\nMax-Forwards: 70\r\n"), "{out}");
        let core = TestCore::default().with_param("maxfwd", "max_limit", CfgValue::Int(16));
        let (_, out) = run(&core, Some("70"), |c| process_maxfwd(c, 10));
        assert!(out.contains("\r\nMax-Forwards: 16\r\n"), "{out}");
        let (_, out) = run(&core, Some("12"), |c| process_maxfwd(c, 10));
        assert!(out.contains("\r\nMax-Forwards: 11\r\n"), "{out}");
    }

    #[test]
    fn repeated_processing_decrements_once() {
        let (_, out) = run(&TestCore::default(), Some("5"), |c| {
            process_maxfwd(c, 10);
            process_maxfwd(c, 10)
        });
        assert!(out.contains("\r\nMax-Forwards: 4\r\n"), "{out}");
    }

    #[test]
    fn lower_than() {
        let core = TestCore::default();
        assert_eq!(run(&core, Some("3"), |c| is_maxfwd_lt(c, 5)).0, 1);
        assert_eq!(run(&core, Some("5"), |c| is_maxfwd_lt(c, 5)).0, -1);
        assert_eq!(run(&core, Some("70"), |c| is_maxfwd_lt(c, 5)).0, -1);
        assert_eq!(run(&core, None, |c| is_maxfwd_lt(c, 5)).0, -2);
        assert_eq!(run(&core, Some("x"), |c| is_maxfwd_lt(c, 5)).0, -3);
        assert_eq!(run(&core, Some("3"), |c| is_maxfwd_lt(c, 300)).0, -1);
    }
}
