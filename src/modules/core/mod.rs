//! Functions on `KSR` itself: logging here; flags, methods, transports,
//! the Request-URI and destination, "myself" checks and forwarding in the
//! files of the `core` folder.
//!
//! The logging functions write the text as given: no pseudo-variable is
//! expanded (use `KSR.xlog` for that) and no newline is added; a trailing
//! newline in the text is optional.

pub mod flags;
pub mod forward;
pub mod message;
pub mod method;
pub mod myself;
#[cfg(test)]
pub(crate) mod tests;
pub mod transport;

use kemid_macros::kemi;

use crate::ctx::Ctx;
use crate::log::{self, Level};

fn script_log(level: Level, text: &str) {
    let text = text.strip_suffix('\n').unwrap_or(text);
    log::write(level, "script", format_args!("{text}"));
}

/// Writes a line to the log at DEBUG level.
///
/// # Parameters
/// - `text`: the text to log, written as given.
///
/// # Example
/// ```js
/// KSR.dbg("route entered\n");
/// ```
#[kemi(toplevel)]
pub fn dbg(_ctx: &mut Ctx, text: &str) {
    script_log(Level::Dbg, text)
}

/// Writes a line to the log at INFO level.
///
/// # Parameters
/// - `text`: the text to log, written as given.
///
/// # Example
/// ```js
/// KSR.info("request received\n");
/// ```
#[kemi(toplevel)]
pub fn info(_ctx: &mut Ctx, text: &str) {
    script_log(Level::Info, text)
}

/// Writes a line to the log at NOTICE level.
///
/// # Parameters
/// - `text`: the text to log, written as given.
///
/// # Example
/// ```js
/// KSR.notice("new registration\n");
/// ```
#[kemi(toplevel)]
pub fn notice(_ctx: &mut Ctx, text: &str) {
    script_log(Level::Notice, text)
}

/// Writes a line to the log at WARNING level.
///
/// # Parameters
/// - `text`: the text to log, written as given.
///
/// # Example
/// ```js
/// KSR.warn("too many hops\n");
/// ```
#[kemi(toplevel)]
pub fn warn(_ctx: &mut Ctx, text: &str) {
    script_log(Level::Warn, text)
}

/// Writes a line to the log at ERROR level.
///
/// # Parameters
/// - `text`: the text to log, written as given.
///
/// # Example
/// ```js
/// KSR.err("relay failed\n");
/// ```
#[kemi(toplevel)]
pub fn err(_ctx: &mut Ctx, text: &str) {
    script_log(Level::Err, text)
}

/// Writes a line to the log at CRITICAL level.
///
/// # Parameters
/// - `text`: the text to log, written as given.
///
/// # Example
/// ```js
/// KSR.crit("out of destinations\n");
/// ```
#[kemi(toplevel)]
pub fn crit(_ctx: &mut Ctx, text: &str) {
    script_log(Level::Crit, text)
}

/// Writes a line to the log at the level named by `level`.
///
/// # Parameters
/// - `level`: one of `dbg`, `info`, `notice`, `warn`, `err`, `crit`, in
///   any case; any other value logs at ERROR level.
/// - `text`: the text to log, written as given.
///
/// # Example
/// ```js
/// KSR.log("notice", "call from " + KSR.pv.get("$var(caller)") + "\n");
/// ```
#[kemi(toplevel)]
pub fn log(_ctx: &mut Ctx, level: &str, text: &str) {
    script_log(Level::from_script_name(level).unwrap_or(Level::Err), text)
}

/// Returns the current log level (the `debug` parameter): -1 errors only,
/// 0 warnings, 1 notices, 2 information, 3 debugging.
///
/// # Returns
/// The level number.
///
/// # Example
/// ```js
/// if (KSR.get_debug() >= 3) { KSR.dbg("verbose\n"); }
/// ```
#[kemi(toplevel)]
pub fn get_debug(_ctx: &mut Ctx) -> i32 {
    log::level()
}
