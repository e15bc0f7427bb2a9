//! `KSR.xlog`: logging with pseudo-variables expanded in the text.
//!
//! Unlike `KSR.info` and the other core log functions, the text is a
//! format: `$name`, `$name(inner)` and `$(name(inner)[index])` are replaced
//! with their values (see the pseudo-variables kemid supports). A null
//! value prints as `<null>`; so does a pseudo-variable kemid does not know
//! or cannot parse (the error is logged too), where Kamailio refuses the
//! whole format. A `$` not followed by a name is printed as is. The format
//! is expanded only when the level is logged. A trailing newline is
//! optional.

use std::cell::RefCell;

use kemid_macros::kemi;

use crate::ctx::Ctx;
use crate::log::{self, Level};
use crate::pv;

/// `modparam("xlog", ...)`: accepted so that existing configurations
/// load; none of them changes what kemid does.
#[derive(Clone, Debug, kemid_macros::ModParams)]
pub struct Params {
    #[param(inert)]
    pub buf_size: i64,
    #[param(inert)]
    pub force_color: i64,
    #[param(inert)]
    pub prefix: String,
}

/// `loadmodule "xlog.so"`.
pub static MODULE: crate::module::Module<()> =
    crate::module::Module::new("xlog", "formatted logging");

thread_local! {
    /// The line being expanded, reused so logging allocates nothing once warm.
    static LINE: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Expands `format` and writes it at `level`.
fn xlog_at(ctx: &Ctx, level: Level, format: &str) -> i32 {
    if !log::enabled(level) {
        return 1;
    }
    LINE.with(|line| {
        let Ok(mut line) = line.try_borrow_mut() else {
            // Only a log sink calling back into xlog could get here.
            return;
        };
        line.clear();
        pv::expand(ctx, format, &mut line);
        let text = line.strip_suffix('\n').unwrap_or(&line);
        log::write(level, "script", format_args!("{text}"));
    });
    1
}

/// The level named by `name`: Kamailio's `L_DBG`, `L_INFO`, `L_NOTICE`,
/// `L_WARN`, `L_ERR`, `L_CRIT`, `L_ALERT`, `L_BUG` (the `L_` prefix and the
/// case are optional).
fn level_named(name: &str) -> Option<Level> {
    let bare = name
        .get(..2)
        .filter(|p| p.eq_ignore_ascii_case("l_"))
        .map_or(name, |_| &name[2..]);
    Level::from_script_name(bare).or_else(|| {
        if bare.eq_ignore_ascii_case("alert") {
            Some(Level::Alert)
        } else if bare.eq_ignore_ascii_case("bug") {
            Some(Level::Bug)
        } else {
            None
        }
    })
}

/// Logs the text at DEBUG level, with pseudo-variables expanded.
///
/// # Parameters
/// - `text`: the format, such as `"$rm from $si\n"`.
///
/// # Returns
/// 1, always.
///
/// # Example
/// ```js
/// KSR.xlog.xdbg("route for $ru from $si:$sp\n");
/// ```
#[kemi(toplevel)]
pub fn xdbg(ctx: &mut Ctx, text: &str) -> i32 {
    xlog_at(ctx, Level::Dbg, text)
}

/// Logs the text at INFO level, with pseudo-variables expanded.
///
/// # Parameters
/// - `text`: the format, such as `"$rm from $si\n"`.
///
/// # Returns
/// 1, always.
///
/// # Example
/// ```js
/// KSR.xlog.xinfo("$rm from $fu to $ru\n");
/// ```
#[kemi(toplevel)]
pub fn xinfo(ctx: &mut Ctx, text: &str) -> i32 {
    xlog_at(ctx, Level::Info, text)
}

/// Logs the text at NOTICE level, with pseudo-variables expanded.
///
/// # Parameters
/// - `text`: the format, such as `"$rm from $si\n"`.
///
/// # Returns
/// 1, always.
///
/// # Example
/// ```js
/// KSR.xlog.xnotice("registered $tu from $si\n");
/// ```
#[kemi(toplevel)]
pub fn xnotice(ctx: &mut Ctx, text: &str) -> i32 {
    xlog_at(ctx, Level::Notice, text)
}

/// Logs the text at WARNING level, with pseudo-variables expanded.
///
/// # Parameters
/// - `text`: the format, such as `"$rm from $si\n"`.
///
/// # Returns
/// 1, always.
///
/// # Example
/// ```js
/// KSR.xlog.xwarn("no credentials from $si\n");
/// ```
#[kemi(toplevel)]
pub fn xwarn(ctx: &mut Ctx, text: &str) -> i32 {
    xlog_at(ctx, Level::Warn, text)
}

/// Logs the text at ERROR level, with pseudo-variables expanded.
///
/// # Parameters
/// - `text`: the format, such as `"$rm from $si\n"`.
///
/// # Returns
/// 1, always.
///
/// # Example
/// ```js
/// KSR.xlog.xerr("relay of $ci to $du failed\n");
/// ```
#[kemi(toplevel)]
pub fn xerr(ctx: &mut Ctx, text: &str) -> i32 {
    xlog_at(ctx, Level::Err, text)
}

/// Logs the text at CRITICAL level, with pseudo-variables expanded.
///
/// # Parameters
/// - `text`: the format, such as `"$rm from $si\n"`.
///
/// # Returns
/// 1, always.
///
/// # Example
/// ```js
/// KSR.xlog.xcrit("no gateway left for $ru\n");
/// ```
#[kemi(toplevel)]
pub fn xcrit(ctx: &mut Ctx, text: &str) -> i32 {
    xlog_at(ctx, Level::Crit, text)
}

/// Logs the text at ALERT level, with pseudo-variables expanded.
///
/// # Parameters
/// - `text`: the format, such as `"$rm from $si\n"`.
///
/// # Returns
/// 1, always.
///
/// # Example
/// ```js
/// KSR.xlog.xalert("flood from $si\n");
/// ```
#[kemi(toplevel)]
pub fn xalert(ctx: &mut Ctx, text: &str) -> i32 {
    xlog_at(ctx, Level::Alert, text)
}

/// Logs the text at the level named by `level`, with pseudo-variables
/// expanded.
///
/// # Parameters
/// - `level`: `L_DBG`, `L_INFO`, `L_NOTICE`, `L_WARN`, `L_ERR`, `L_CRIT`,
///   `L_ALERT` or `L_BUG`; any other value logs at ERROR level.
/// - `text`: the format, such as `"$rm from $si\n"`.
///
/// # Returns
/// 1, always.
///
/// # Example
/// ```js
/// KSR.xlog.xlog("L_NOTICE", "call $ci from $fu\n");
/// ```
#[kemi(toplevel)]
pub fn xlog(ctx: &mut Ctx, level: &str, text: &str) -> i32 {
    xlog_at(ctx, level_named(level).unwrap_or(Level::Err), text)
}

/// Like `xlog`, for a syslog facility. kemid writes every line to the same
/// log, so the facility is ignored.
///
/// # Parameters
/// - `facility`: a syslog facility such as `LOG_LOCAL0` (ignored).
/// - `level`: `L_DBG` to `L_BUG`, as for `xlog`.
/// - `text`: the format.
///
/// # Returns
/// 1, always.
///
/// # Example
/// ```js
/// KSR.xlog.xlog_facility("LOG_LOCAL0", "L_INFO", "accounting $ci\n");
/// ```
#[kemi(toplevel)]
pub fn xlog_facility(ctx: &mut Ctx, facility: &str, level: &str, text: &str) -> i32 {
    let _ = facility;
    xlog(ctx, level, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctx::WorkerLocal;
    use crate::modules::core::tests::{request, udp_recv, with_ctx, TestCore};

    #[test]
    fn expands_and_logs_at_the_level() {
        // Unit tests that log set the most verbose level; none lowers it.
        log::set_level(Level::Dbg as i32);
        let core = TestCore::default();
        let mut m = request("INVITE", "sip:bob@example.com", "");
        let (r, lines) = log::capture(|| {
            with_ctx(&core, &mut m, udp_recv(), |ctx| {
                [
                    xinfo(ctx, "$rm from $si:$sp to $ru\n"),
                    xerr(ctx, "bad $nosuch here"),
                    xlog(ctx, "L_WARN", "warn $ci"),
                    xlog(ctx, "notice", "plain"),
                    xlog(ctx, "L_WHAT", "unknown level"),
                    xalert(ctx, "alert $fU"),
                    xlog_facility(ctx, "LOG_LOCAL0", "L_CRIT", "crit $tU"),
                    xdbg(ctx, "debug $rU"),
                ]
            })
        });
        assert_eq!(r, [1; 8]);
        let texts: Vec<(Level, &str)> = lines.iter().map(|(l, t)| (*l, t.as_str())).collect();
        assert!(texts.contains(&(
            Level::Info,
            "script: INVITE from 198.51.100.7:5070 to sip:bob@example.com"
        )));
        assert!(texts.contains(&(Level::Err, "script: bad <null> here")));
        assert!(texts.contains(&(Level::Warn, "script: warn call-1")));
        assert!(texts.contains(&(Level::Notice, "script: plain")));
        assert!(texts.contains(&(Level::Err, "script: unknown level")));
        assert!(texts.contains(&(Level::Alert, "script: alert alice")));
        assert!(texts.contains(&(Level::Crit, "script: crit bob")));
        assert!(texts.contains(&(Level::Dbg, "script: debug bob")));
    }

    #[test]
    fn works_at_the_top_level() {
        let mut w = WorkerLocal::default();
        w.vars.set("n", crate::pv::PvValue::Int(7));
        let mut ctx = Ctx::without_message(&mut w);
        log::set_level(Level::Dbg as i32);
        let (_, lines) = log::capture(|| xinfo(&mut ctx, "n=$var(n) ru=$ru"));
        assert!(lines.contains(&(Level::Info, "script: n=7 ru=<null>".to_owned())));
    }

    #[test]
    fn level_names() {
        assert_eq!(level_named("L_DBG"), Some(Level::Dbg));
        assert_eq!(level_named("l_bug"), Some(Level::Bug));
        assert_eq!(level_named("ALERT"), Some(Level::Alert));
        assert_eq!(level_named("L_"), None);
        assert_eq!(level_named(""), None);
    }
}
