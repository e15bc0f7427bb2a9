//! `KSR.x`: leaving the current callback.
//!
//! `exit` and `drop` record the request on the context; the engine then
//! unwinds the script by throwing the marker `~~ksr~exit~~`, exactly as
//! Kamailio's engines do. Because the marker is an ordinary exception, a
//! script's own `try`/`catch` around the call catches it and execution
//! goes on after the `catch`: keep `KSR.x.exit()` outside `try` blocks.

use kemid_macros::kemi;

use crate::ctx::{Ctx, Unwind};
use crate::log;

/// Stops the current callback at once, as success (native `exit`).
///
/// Implemented by throwing the string `~~ksr~exit~~`: a surrounding
/// `try`/`catch` in the script catches it and the callback goes on.
///
/// # Example
/// ```js
/// KSR.x.exit();
/// ```
#[kemi(toplevel, diverges)]
pub fn exit(ctx: &mut Ctx) {
    ctx.request_unwind(Unwind::Exit)
}

/// Stops the current callback and discards the message (native `drop`):
/// a reply is not forwarded, a branch is not sent. In the request route it
/// only stops, like `exit`.
///
/// # Example
/// ```js
/// KSR.x.drop();
/// ```
#[kemi(diverges)]
pub fn drop(ctx: &mut Ctx) {
    ctx.request_unwind(Unwind::Drop)
}

/// Runs a native kamailio.cfg function by name. kemid has no native
/// functions, so this always fails: call the `KSR` function instead.
///
/// # Parameters
/// - `fname`: the native function name.
///
/// # Returns
/// -1, always (logged as not supported).
///
/// # Example
/// ```js
/// KSR.x.modf("sl_send_reply", "404", "Not Found");
/// ```
#[kemi(
    rest = "params",
    deprecated = "call the KSR function instead, e.g. KSR.sl.sl_send_reply(404, \"Not Found\")"
)]
pub fn modf(_ctx: &mut Ctx, fname: &str) -> i32 {
    log::error(
        "kemi",
        format_args!("KSR.x.modf(\"{fname}\", ...) is not supported: kemid has no native cfg functions; call the KSR equivalent"),
    );
    -1
}
