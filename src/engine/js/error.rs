//! Turning boa's errors into [`ScriptError`]s a person can act on: the
//! file, line and column, a message, and the script's call stack.
//!
//! boa 0.22 keeps an exception's backtrace private; what it offers is the
//! error's `Display`, which ends with one `    at <function> (<file>:<line>:<col>)`
//! line per frame, innermost first (the same text `Error.prototype.stack`
//! gives). The frames are read from there; the message is built from the
//! thrown value itself.

use boa_engine::error::{EngineError, RuntimeLimitError};
use boa_engine::parser::Error as ParseError;
use boa_engine::parser::lexer::Error as LexError;
use boa_engine::value::JsVariant;
use boa_engine::{Context, JsError, JsString, JsValue};

use crate::engine::{EngineConfig, ScriptError, EXIT_MARKER};

/// Whether `err` is the exit marker: the plain string, thrown by
/// `KSR.x.exit()`/`KSR.x.drop()` or by the script itself. An `Error`
/// object with that message is an ordinary error, as in app_jsdt.
pub(super) fn is_exit_marker(err: &JsError) -> bool {
    err.as_opaque()
        .and_then(JsValue::as_string)
        .is_some_and(|s| s == JsString::from(EXIT_MARKER))
}

/// Why the script was stopped by the engine rather than by itself.
pub(super) enum Stop<'a> {
    /// A KSR call found the time budget spent.
    Budget(&'a EngineConfig),
    /// Whatever boa reported.
    Engine(&'a EngineConfig),
}

/// A script error from an exception that reached the engine.
pub(super) fn runtime_error(
    file: &str,
    err: &JsError,
    stop: Stop<'_>,
    cx: &mut Context,
) -> ScriptError {
    let message = match (err.as_engine(), stop) {
        (Some(_), Stop::Budget(config)) => format!(
            "runaway script stopped: it ran longer than its {} ms budget",
            config.budget.as_millis()
        ),
        (Some(EngineError::RuntimeLimit(limit)), Stop::Engine(config)) => match limit {
            RuntimeLimitError::LoopIteration => format!(
                "runaway script stopped: more than {} loop iterations in one function call",
                config.loop_iteration_limit
            ),
            RuntimeLimitError::Recursion => format!(
                "runaway script stopped: function calls nested deeper than {}",
                config.recursion_limit
            ),
            RuntimeLimitError::StackSize => {
                "runaway script stopped: the interpreter stack is full".to_owned()
            }
        },
        (Some(other), _) => format!("internal engine error: {other}"),
        (None, _) => exception_message(err, cx),
    };
    let frames = frames(err);
    let (line, column) = frames
        .iter()
        .find_map(|f| f.position)
        .unwrap_or((0, 0));
    let stack = frames
        .iter()
        .map(|f| format!("  at {}", f.text))
        .collect::<Vec<_>>()
        .join("\n");
    ScriptError {
        file: file.to_owned(),
        line,
        column,
        message,
        stack,
    }
}

/// `TypeError: ...` for native errors and `Error` objects (their `name`
/// and `message`), the value's text for anything else thrown.
fn exception_message(err: &JsError, cx: &mut Context) -> String {
    if let Some(native) = err.as_native() {
        return format!("{}: {}", native.kind(), native.message());
    }
    let Some(value) = err.as_opaque() else {
        return err.to_string();
    };
    match value.variant() {
        JsVariant::String(s) => format!("uncaught exception: {}", s.to_std_string_lossy()),
        JsVariant::Object(obj) => {
            let mut field = |key: &str| {
                obj.get(JsString::from(key), cx)
                    .ok()
                    .filter(|v| !v.is_undefined())
                    .and_then(|v| v.to_string(cx).ok())
                    .map(|s| s.to_std_string_lossy())
            };
            match (field("name"), field("message")) {
                (Some(name), Some(message)) if !message.is_empty() => {
                    format!("{name}: {message}")
                }
                (Some(name), _) => name,
                (None, _) => format!("uncaught exception: {}", value.display()),
            }
        }
        _ => format!("uncaught exception: {}", value.display()),
    }
}

/// One frame of a backtrace.
struct Frame {
    /// `ksr_request_route (route.js:3:5)`, as boa prints it.
    text: String,
    /// Line and column, for frames in script code.
    position: Option<(u32, u32)>,
}

/// The frames at the end of the error's `Display`, innermost first.
fn frames(err: &JsError) -> Vec<Frame> {
    let shown = err.to_string();
    let mut frames: Vec<Frame> = shown
        .lines()
        .rev()
        .map_while(|l| l.strip_prefix("    at "))
        .map(|text| Frame {
            text: text.to_owned(),
            position: frame_position(text),
        })
        .collect();
    // boa prints the innermost frame first; collected from the end of the
    // text they came outermost first.
    frames.reverse();
    frames
}

/// `name (file:12:5)` → `(12, 5)`; `None` for native frames or unknown
/// positions (`file:?:?`).
fn frame_position(text: &str) -> Option<(u32, u32)> {
    let inner = text.strip_suffix(')')?;
    let loc = &inner[inner.rfind(" (")? + 2..];
    let mut parts = loc.rsplitn(3, ':');
    let column = parts.next()?.parse().ok()?;
    let line = parts.next()?.parse().ok()?;
    parts.next()?;
    Some((line, column))
}

/// Line, column and message of a parse error; the message without boa's
/// ` at line N, col M` tail since the position is reported apart.
pub(super) fn syntax_error(err: &ParseError, text: &str) -> (u32, u32, String) {
    let (line, column) = match err {
        ParseError::Expected { span, .. } | ParseError::Unexpected { span, .. } => {
            (span.start().line_number(), span.start().column_number())
        }
        ParseError::General { position, .. }
        | ParseError::Lex {
            err: LexError::Syntax(_, position),
        } => (position.line_number(), position.column_number()),
        ParseError::AbruptEnd => {
            let (line, column) = end_of(text);
            return (line, column, "SyntaxError: unexpected end of the script".to_owned());
        }
        _ => (0, 0),
    };
    let shown = err.to_string();
    let tail = format!(" at line {line}, col {column}");
    let message = shown.strip_suffix(tail.as_str()).unwrap_or(&shown);
    (line, column, format!("SyntaxError: {message}"))
}

/// The position just after the last character of `text`.
fn end_of(text: &str) -> (u32, u32) {
    let line = text.matches('\n').count() + 1;
    let column = text.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(column).unwrap_or(u32::MAX),
    )
}
