//! Whether an address or URI names this server, on `KSR` itself.
//!
//! "Myself" is the set of listen addresses and aliases; the server answers
//! through [`CoreServices::is_myself`](crate::ctx::CoreServices). A URI is
//! compared by host, by port only when it has one, and by transport only
//! when it has a `transport` parameter.

use kemid_macros::kemi;

use crate::ctx::Ctx;
use crate::log;
use crate::sip::{Scheme, SipMsg, Uri};
use crate::transport::Proto;

/// The listening transport a `transport` parameter names; `Err` for a
/// transport kemid does not listen on.
fn proto_of(transport: Option<&str>) -> Result<Option<Proto>, ()> {
    match transport {
        None => Ok(None),
        Some(t) if t.eq_ignore_ascii_case("udp") => Ok(Some(Proto::Udp)),
        Some(t) if t.eq_ignore_ascii_case("tcp") => Ok(Some(Proto::Tcp)),
        Some(_) => Err(()),
    }
}

/// Whether a parsed URI names this server.
fn uri_is_myself(ctx: &Ctx, uri: &Uri<'_>) -> bool {
    let Some(core) = ctx.core() else {
        log::error("core", format_args!("is_myself: no server to ask"));
        return false;
    };
    match proto_of(uri.transport()) {
        Ok(proto) => core.is_myself(uri.host(), uri.port(), proto),
        // No socket of ours has that transport.
        Err(()) => false,
    }
}

/// Whether `text` (a sip:/sips: URI, or a bare host or IP address) names
/// this server.
fn text_is_myself(ctx: &Ctx, text: &str) -> bool {
    let has_prefix = |p: &str| {
        text.get(..p.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(p))
    };
    let is_uri = has_prefix("sip:") || has_prefix("sips:");
    if is_uri {
        return match Uri::parse(text) {
            Ok(u) => uri_is_myself(ctx, &u),
            Err(e) => {
                log::error(
                    "core",
                    format_args!("is_myself: cannot parse `{text}`: {e}"),
                );
                false
            }
        };
    }
    match ctx.core() {
        Some(core) => !text.is_empty() && core.is_myself(text, None, None),
        None => {
            log::error("core", format_args!("is_myself: no server to ask"));
            false
        }
    }
}

/// Applies `pick` to the message's URI and asks whether it names this
/// server; `false` when the URI is absent or unparsable.
fn msg_uri_is_myself(
    ctx: &Ctx,
    what: &str,
    pick: impl for<'m> FnOnce(&'m SipMsg) -> Option<Result<Uri<'m>, crate::sip::ViewError>>,
) -> bool {
    let Some(msg) = ctx.msg() else { return false };
    match pick(msg) {
        None => false,
        Some(Ok(u)) if matches!(u.scheme(), Scheme::Sip | Scheme::Sips) => uri_is_myself(ctx, &u),
        Some(Ok(_)) => false,
        Some(Err(e)) => {
            log::error("core", format_args!("cannot parse the {what}: {e}"));
            false
        }
    }
}

/// Tells whether a URI or host names this server: one of its listen
/// addresses or aliases.
///
/// # Parameters
/// - `uri`: a `sip:` or `sips:` URI (its host is checked, with its port
///   and `transport` parameter when present), or a bare host name or IP
///   address (checked on any port and transport).
///
/// # Returns
/// `true` when it is this server; `false` otherwise, or when the URI does
/// not parse (logged).
///
/// # Example
/// ```js
/// if (KSR.is_myself("sip:" + KSR.pv.get("$rd"))) { KSR.info("for us\n"); }
/// ```
#[kemi]
pub fn is_myself(ctx: &mut Ctx, uri: &str) -> bool {
    text_is_myself(ctx, uri)
}

/// Tells whether the current Request-URI (as rewritten) names this server.
///
/// # Returns
/// `true` when it does; `false` otherwise and for replies.
///
/// # Example
/// ```js
/// if (KSR.is_myself_ruri()) { KSR.info("request for this server\n"); }
/// ```
#[kemi]
pub fn is_myself_ruri(ctx: &mut Ctx) -> bool {
    msg_uri_is_myself(ctx, "Request-URI", |m| m.is_request().then(|| m.ruri()))
}

/// Tells whether the destination URI (`$du`) is set and names this
/// server.
///
/// # Returns
/// `true` when it does; `false` when `$du` is unset or names another host.
///
/// # Example
/// ```js
/// if (KSR.is_myself_duri()) { KSR.resetdsturi(); }
/// ```
#[kemi]
pub fn is_myself_duri(ctx: &mut Ctx) -> bool {
    msg_uri_is_myself(ctx, "destination URI", |m| m.du().map(Uri::parse))
}

/// Tells whether the next hop (`$du` when set, else the Request-URI) names
/// this server.
///
/// # Returns
/// `true` when it does; `false` otherwise and for replies.
///
/// # Example
/// ```js
/// if (KSR.is_myself_nhuri()) { KSR.sl.sl_send_reply(482, "Loop Detected"); }
/// ```
#[kemi]
pub fn is_myself_nhuri(ctx: &mut Ctx) -> bool {
    msg_uri_is_myself(ctx, "next hop URI", |m| {
        if !m.is_request() {
            return None;
        }
        Some(match m.du() {
            Some(du) => Uri::parse(du),
            None => m.ruri(),
        })
    })
}

/// Tells whether the From URI names this server.
///
/// # Returns
/// `true` when it does; `false` otherwise or when the From header is
/// missing or does not parse (logged).
///
/// # Example
/// ```js
/// if (KSR.is_myself_furi()) { KSR.info("from a local domain\n"); }
/// ```
#[kemi]
pub fn is_myself_furi(ctx: &mut Ctx) -> bool {
    msg_uri_is_myself(ctx, "From header", |m| {
        Some(m.from_header().map(|f| f.uri()))
    })
}

/// Tells whether the To URI names this server.
///
/// # Returns
/// `true` when it does; `false` otherwise or when the To header is missing
/// or does not parse (logged).
///
/// # Example
/// ```js
/// if (KSR.is_myself_turi()) { KSR.info("to a local domain\n"); }
/// ```
#[kemi]
pub fn is_myself_turi(ctx: &mut Ctx) -> bool {
    msg_uri_is_myself(ctx, "To header", |m| Some(m.to_header().map(|t| t.uri())))
}

/// Tells whether the source address of the message, taken as a URI with
/// its port and transport (`$sut`), names this server.
///
/// # Returns
/// `true` when it does.
///
/// # Example
/// ```js
/// if (KSR.is_myself_suri()) { KSR.info("sent by this server\n"); }
/// ```
#[kemi]
pub fn is_myself_suri(ctx: &mut Ctx) -> bool {
    let Some(recv) = ctx.recv() else { return false };
    let Some(core) = ctx.core() else {
        log::error("core", format_args!("is_myself_suri: no server to ask"));
        return false;
    };
    core.is_myself(
        &recv.src.ip().to_string(),
        Some(recv.src.port()),
        Some(recv.proto),
    )
}

/// Tells whether the source IP address of the message is one of this
/// server's addresses (any port, any transport).
///
/// # Returns
/// `true` when it is.
///
/// # Example
/// ```js
/// if (KSR.is_myself_srcip()) { KSR.info("from this host\n"); }
/// ```
#[kemi]
pub fn is_myself_srcip(ctx: &mut Ctx) -> bool {
    let Some(recv) = ctx.recv() else { return false };
    let Some(core) = ctx.core() else {
        log::error("core", format_args!("is_myself_srcip: no server to ask"));
        return false;
    };
    core.is_myself(&recv.src.ip().to_string(), None, None)
}
