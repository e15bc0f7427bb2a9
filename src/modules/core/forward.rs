//! Stateless forwarding and the per-message connection and advertising
//! options, on `KSR` itself.

use kemid_macros::kemi;

use crate::ctx::Ctx;
use crate::proxy;

/// Forwards the request statelessly to `$du` when set, else to the
/// Request-URI, with this server's Via on top. Retransmissions are
/// forwarded again with the same branch.
///
/// # Returns
/// 1 when sent, -1 on error (unresolvable destination, send failure; logged).
///
/// # Example
/// ```js
/// if (KSR.forward() < 0) { KSR.sl.sl_send_reply(500, "Forward Failed"); }
/// ```
#[kemi]
pub fn forward(ctx: &mut Ctx) -> i32 {
    proxy::forward_stateless(ctx, None, None)
}

/// Forwards the request statelessly to the given URI (its host, port and
/// transport); an empty string behaves like `KSR.forward()`.
///
/// # Parameters
/// - `uri`: a SIP URI such as `sip:10.0.0.2:5080;transport=tcp`.
///
/// # Returns
/// 1 when sent, -1 on error (logged).
///
/// # Example
/// ```js
/// KSR.forward_uri("sip:127.0.0.1:5080");
/// ```
#[kemi]
pub fn forward_uri(ctx: &mut Ctx, uri: &str) -> i32 {
    proxy::forward_stateless(ctx, Some(uri), None)
}
