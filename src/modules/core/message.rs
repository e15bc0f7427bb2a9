//! Changing where the request goes and what the core does with the
//! message, on `KSR` itself: the Request-URI, `$du`, rport handling and
//! the drop mark.
//!
//! Request-URI and `$du` changes take effect at once (`$ru` reads the new
//! value); `$ou` keeps the received Request-URI.

use kemid_macros::kemi;

use crate::ctx::Ctx;
use crate::log;
use crate::pv::{rewrite_ruri, RuriPart};

fn rewrite(ctx: &mut Ctx, what: &str, part: RuriPart<'_>) -> bool {
    let Some(msg) = ctx.msg_mut() else {
        return false;
    };
    match rewrite_ruri(msg, part) {
        Ok(()) => true,
        Err(e) => {
            log::error("core", format_args!("{what}: {e}"));
            false
        }
    }
}

/// Replaces the whole Request-URI.
///
/// # Parameters
/// - `uri`: the new Request-URI, such as `sip:alice@10.0.0.5:5060`.
///
/// # Returns
/// `true` when set; `false` for a reply, an empty URI or one with white
/// space or control characters (logged).
///
/// # Example
/// ```js
/// KSR.seturi("sip:alice@10.0.0.5:5060");
/// ```
#[kemi]
pub fn seturi(ctx: &mut Ctx, uri: &str) -> bool {
    rewrite(ctx, "seturi", RuriPart::Whole(uri))
}

/// Replaces the user part of the Request-URI; an empty string removes it
/// (with any password). A password in the URI is kept.
///
/// # Parameters
/// - `user`: the new user part.
///
/// # Returns
/// `true` when set; `false` for a reply, an invalid user, or a Request-URI
/// that is not a sip: or sips: URI (logged).
///
/// # Example
/// ```js
/// KSR.setuser("voicemail");
/// ```
#[kemi]
pub fn setuser(ctx: &mut Ctx, user: &str) -> bool {
    rewrite(ctx, "setuser", RuriPart::User(Some(user)))
}

/// Replaces the host part of the Request-URI; user, port, parameters and
/// headers are kept.
///
/// # Parameters
/// - `host`: the new host: a name, an IPv4 address or a bracketed IPv6
///   address.
///
/// # Returns
/// `true` when set; `false` for a reply, an empty or invalid host, or a
/// Request-URI that is not a sip: or sips: URI (logged).
///
/// # Example
/// ```js
/// KSR.sethost("gw.example.com");
/// ```
#[kemi]
pub fn sethost(ctx: &mut Ctx, host: &str) -> bool {
    rewrite(ctx, "sethost", RuriPart::Host(host))
}

/// Sets the destination URI (`$du`): the request is sent there instead of
/// to the Request-URI's host, without changing the message.
///
/// As in Kamailio, the result is `true` even when the URI is refused (an
/// empty string, or one with white space): the failure is only logged.
///
/// # Parameters
/// - `uri`: the destination, such as `sip:10.0.0.7:5080;transport=tcp`.
///
/// # Returns
/// `true`, always.
///
/// # Example
/// ```js
/// KSR.setdsturi("sip:10.0.0.7:5080;transport=tcp");
/// ```
#[kemi]
pub fn setdsturi(ctx: &mut Ctx, uri: &str) -> bool {
    if let Some(msg) = ctx.msg_mut() {
        if let Err(e) = msg.set_du(uri) {
            log::error("core", format_args!("setdsturi(\"{uri}\"): {e}"));
        }
    }
    true
}

/// Clears the destination URI (`$du`): the request goes to its
/// Request-URI again.
///
/// # Returns
/// `true`, always.
///
/// # Example
/// ```js
/// KSR.resetdsturi();
/// ```
#[kemi]
pub fn resetdsturi(ctx: &mut Ctx) -> bool {
    if let Some(msg) = ctx.msg_mut() {
        msg.reset_du();
    }
    true
}

/// Tells whether a destination URI (`$du`) is set.
///
/// # Returns
/// `true` when `$du` is set and not empty.
///
/// # Example
/// ```js
/// if (!KSR.isdsturiset()) { KSR.setdsturi("sip:10.0.0.7"); }
/// ```
#[kemi]
pub fn isdsturiset(ctx: &mut Ctx) -> bool {
    ctx.msg()
        .and_then(|m| m.du())
        .is_some_and(|du| !du.is_empty())
}

/// Makes replies to this request go to the port it came from, as if its
/// top Via had an `rport` parameter (RFC 3581): the usual fix for clients
/// behind NAT.
///
/// # Returns
/// `true`, always.
///
/// # Example
/// ```js
/// KSR.force_rport();
/// ```
#[kemi]
pub fn force_rport(ctx: &mut Ctx) -> bool {
    ctx.state_mut().force_rport = true;
    true
}

/// Adds an `rport` parameter to the Via this server puts on the request
/// when forwarding it, asking the next hop to reply to the port it came
/// from.
///
/// # Returns
/// `true`, always.
///
/// # Example
/// ```js
/// KSR.add_local_rport();
/// ```
#[kemi]
pub fn add_local_rport(ctx: &mut Ctx) -> bool {
    ctx.state_mut().add_local_rport = true;
    true
}

/// Marks the message to be dropped without stopping the script: a reply is
/// not forwarded, a branch is not sent. It has no effect in the request
/// route. `KSR.x.drop()` is this plus `KSR.x.exit()`.
///
/// # Example
/// ```js
/// KSR.set_drop();
/// ```
#[kemi]
pub fn set_drop(ctx: &mut Ctx) {
    ctx.set_drop();
}
