//! Logging with Kamailio's levels.
//!
//! The level check is one relaxed atomic load, so a disabled `dbg` costs
//! nothing on the per-message path. Lines go to standard error; tests can
//! capture the lines written on their own thread with [`capture`].

use std::cell::RefCell;
use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicI32, Ordering};

/// Kamailio's log levels (the `debug` global parameter uses these numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(i32)]
pub enum Level {
    Alert = -5,
    Bug = -4,
    Crit = -2,
    Err = -1,
    Warn = 0,
    Notice = 1,
    Info = 2,
    Dbg = 3,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Alert => "ALERT",
            Level::Bug => "BUG",
            Level::Crit => "CRITICAL",
            Level::Err => "ERROR",
            Level::Warn => "WARNING",
            Level::Notice => "NOTICE",
            Level::Info => "INFO",
            Level::Dbg => "DEBUG",
        }
    }

    /// Parses the names `KSR.log()` accepts: `dbg`, `info`, `notice`,
    /// `warn`, `err`, `crit` (any case).
    pub fn from_script_name(name: &str) -> Option<Level> {
        const NAMES: [(&str, Level); 6] = [
            ("dbg", Level::Dbg),
            ("info", Level::Info),
            ("notice", Level::Notice),
            ("warn", Level::Warn),
            ("err", Level::Err),
            ("crit", Level::Crit),
        ];
        NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, l)| l)
    }
}

static LEVEL: AtomicI32 = AtomicI32::new(Level::Info as i32);

/// Sets the most verbose level that is written (the `debug` parameter).
pub fn set_level(level: i32) {
    LEVEL.store(level, Ordering::Relaxed);
}

/// The current level (`KSR.get_debug()`).
pub fn level() -> i32 {
    LEVEL.load(Ordering::Relaxed)
}

/// Whether a line at `level` would be written.
#[inline]
pub fn enabled(level: Level) -> bool {
    (level as i32) <= LEVEL.load(Ordering::Relaxed)
}

thread_local! {
    static CAPTURE: RefCell<Option<Vec<(Level, String)>>> = const { RefCell::new(None) };
}

/// Runs `f` and returns what it logged on this thread, level and text,
/// without writing it to standard error. Lines below the current level are
/// not captured either.
pub fn capture<R>(f: impl FnOnce() -> R) -> (R, Vec<(Level, String)>) {
    let outer = CAPTURE.with(|c| c.borrow_mut().replace(Vec::new()));
    let r = f();
    let lines = CAPTURE.with(|c| std::mem::replace(&mut *c.borrow_mut(), outer));
    (r, lines.unwrap_or_default())
}

/// Writes one line: `LEVEL: <origin>: text`. `origin` is `script` for what
/// scripts log, else the kemid module speaking.
pub fn write(level: Level, origin: &str, args: fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let captured = CAPTURE.with(|c| match c.borrow_mut().as_mut() {
        Some(lines) => {
            lines.push((level, format!("{origin}: {args}")));
            true
        }
        None => false,
    });
    if captured {
        return;
    }
    let mut err = std::io::stderr().lock();
    // Nothing sensible can be done when standard error is gone.
    let _ = writeln!(err, "{}: <{}> {}", level.name(), origin, args);
}

pub fn error(origin: &str, args: fmt::Arguments<'_>) {
    write(Level::Err, origin, args)
}

pub fn warn(origin: &str, args: fmt::Arguments<'_>) {
    write(Level::Warn, origin, args)
}

pub fn notice(origin: &str, args: fmt::Arguments<'_>) {
    write(Level::Notice, origin, args)
}

pub fn info(origin: &str, args: fmt::Arguments<'_>) {
    write(Level::Info, origin, args)
}

pub fn debug(origin: &str, args: fmt::Arguments<'_>) {
    write(Level::Dbg, origin, args)
}
