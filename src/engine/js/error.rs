//! Turning boa's errors into [`ScriptError`]s a person can act on: the
//! file, line and column, a message, and the script's call stack.
//!
//! boa 0.22 keeps an exception's backtrace private; what it offers is the
//! error's `Display`, which ends with one `    at <function> (<file>:<line>:<col>)`
//! line per frame, innermost first (the same text `Error.prototype.stack`
//! gives). The frames are read from there; the message is built from the
//! thrown value itself.

use boa_engine::error::{EngineError, RuntimeLimitError};
use boa_engine::parser::lexer::Error as LexError;
use boa_engine::parser::Error as ParseError;
use boa_engine::value::JsVariant;
use boa_engine::{Context, JsError, JsNativeErrorKind, JsString, JsValue};

use super::locate::{callee_at, locate, Culprit};

use crate::engine::{EngineConfig, ScriptError, EXIT_MARKER};

/// Whether `err` is the exit marker: the plain string, thrown by
/// `KSR.x.exit()`/`KSR.x.drop()` or by the script itself. An `Error`
/// object with that message is an ordinary error, as in app_jsdt.
pub(super) fn is_exit_marker(err: &JsError) -> bool {
    err.as_opaque()
        .and_then(JsValue::as_string)
        .is_some_and(|s| s == EXIT_MARKER)
}

/// Why the script was stopped by the engine rather than by itself.
pub(super) enum Stop<'a> {
    /// A KSR call found the time budget spent.
    Budget(&'a EngineConfig),
    /// Whatever boa reported.
    Engine(&'a EngineConfig),
}

/// The script an interpreter runs, for error reports.
pub(super) struct Origin {
    /// The file as the user named it.
    pub file: String,
    /// Its text, searched when boa's position is only the function's.
    pub text: String,
    /// The modules bound under `KSR`.
    pub modules: Vec<&'static str>,
}

/// A script error from an exception that reached the engine.
pub(super) fn runtime_error(
    origin: &Origin,
    err: &JsError,
    stop: Stop<'_>,
    cx: &mut Context,
) -> ScriptError {
    let mut culprit = None;
    let mut message = match (err.as_engine(), stop) {
        (Some(_), Stop::Budget(config)) => format!(
            "stopped after {} ms: the script ran past its execution budget (endless loop?)",
            config.budget.as_millis()
        ),
        (Some(EngineError::RuntimeLimit(limit)), Stop::Engine(config)) => match limit {
            RuntimeLimitError::LoopIteration => {
                culprit = Some(Culprit::Loop);
                format!(
                    "stopped after {} loop iterations in one function call: the script ran past its execution budget (endless loop?)",
                    config.loop_iteration_limit
                )
            }
            RuntimeLimitError::Recursion => format!(
                "stopped at {} nested calls: the script ran past its execution budget (endless recursion?)",
                config.recursion_limit
            ),
            RuntimeLimitError::StackSize => {
                "stopped with the interpreter stack full: the script ran past its execution budget (endless recursion?)".to_owned()
            }
        },
        (Some(other), _) => format!("internal engine error: {other}"),
        (None, _) => exception_message(err, cx),
    };
    // An exception that crossed the callback trampoline's `finally` comes
    // back as the Error object; read its kind and message from it.
    let native = match err.as_native() {
        Some(n) => Some(n.clone()),
        None if err.as_opaque().is_some_and(|v| v.is_object()) => err.try_native(cx).ok(),
        None => None,
    };
    if let Some(native) = &native {
        culprit = match native.kind() {
            JsNativeErrorKind::Reference => native
                .message()
                .strip_suffix(" is not defined")
                .map(Culprit::Undefined),
            JsNativeErrorKind::Type if native.message().contains("undefined") => {
                Some(Culprit::MissingModule {
                    visible: &origin.modules,
                })
            }
            _ => None,
        };
    }
    let mut frames = frames(err);
    // The innermost frame in script code: where boa says it happened.
    let innermost = frames.iter().position(|f| !f.native);
    if let Some(native) = &native {
        // boa does not say what was called; the call at that place does.
        let at = innermost.and_then(|i| frames[i].position);
        if let (JsNativeErrorKind::Type, Some(at)) = (native.kind(), at) {
            if native.message() == "not a callable function" {
                if let Some(callee) = callee_at(&origin.text, at) {
                    message = format!("{message} ({callee} is not a function)");
                }
            }
        }
    }
    if let (Some(i), Some(culprit)) = (innermost, &culprit) {
        if let Some(found) = locate(&origin.text, frames[i].position, culprit) {
            frames[i].relocate(&origin.file, found.line, found.column);
            if let Some(note) = found.note {
                message = format!("{message} ({note})");
            }
        }
    }
    let (line, column) = innermost.and_then(|i| frames[i].position).unwrap_or((0, 0));
    let stack = frames
        .iter()
        .map(|f| format!("  at {}", f.text))
        .collect::<Vec<_>>()
        .join("\n");
    ScriptError {
        file: origin.file.clone(),
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
    /// Line and column, for frames in script code whose position is known.
    position: Option<(u32, u32)>,
    /// A native function's frame (a KSR function or a builtin).
    native: bool,
}

impl Frame {
    fn parse(text: &str) -> Frame {
        let location = text
            .strip_suffix(')')
            .and_then(|t| t.rfind(" (").map(|at| &t[at + 2..]));
        Frame {
            text: text.to_owned(),
            position: location.and_then(position_of),
            native: location.is_none_or(|l| l.starts_with("native")),
        }
    }

    /// Points the frame at a better position.
    fn relocate(&mut self, file: &str, line: u32, column: u32) {
        if let Some(at) = self.text.rfind(" (") {
            self.text.truncate(at);
        }
        self.text = format!("{} ({file}:{line}:{column})", self.text);
        self.position = Some((line, column));
    }
}

/// The frames at the end of the error's `Display`, innermost first.
fn frames(err: &JsError) -> Vec<Frame> {
    let shown = err.to_string();
    let mut frames: Vec<Frame> = shown
        .lines()
        .rev()
        .map_while(|l| l.strip_prefix("    at "))
        // The callback trampoline (`EXIT_TRAMPOLINE`) is ours, not the
        // script's: it has no file.
        .filter(|l| !l.contains("(unknown at "))
        .map(Frame::parse)
        .collect();
    // boa prints the innermost frame first; collected from the end of the
    // text they came outermost first.
    frames.reverse();
    // boa names every unnamed function `<main>`; only the outermost frame
    // can be the top-level code.
    let inner = frames.len().saturating_sub(1);
    for frame in &mut frames[..inner] {
        if let Some(rest) = frame.text.strip_prefix("<main> ") {
            frame.text = format!("<anonymous> {rest}");
        }
    }
    frames
}

/// `file:12:5` → `(12, 5)`; `None` for an unknown position (`file:?:?`).
fn position_of(location: &str) -> Option<(u32, u32)> {
    let mut parts = location.rsplitn(3, ':');
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
        // boa reports a string or template left open without a position.
        ParseError::Lex {
            err: LexError::IO(_),
        } => open_literal(text).unwrap_or_else(|| end_of(text)),
        ParseError::AbruptEnd => {
            let (line, column) = end_of(text);
            return (
                line,
                column,
                "SyntaxError: unexpected end of the script".to_owned(),
            );
        }
        _ => (0, 0),
    };
    let shown = err.to_string();
    let tail = format!(" at line {line}, col {column}");
    let message = shown.strip_suffix(tail.as_str()).unwrap_or(&shown);
    (line, column, format!("SyntaxError: {message}"))
}

/// Where the first string or template literal left open starts. A light
/// scan: comments are skipped, regular expressions are not recognised.
fn open_literal(text: &str) -> Option<(u32, u32)> {
    let chars: Vec<char> = text.chars().collect();
    let (mut i, mut line, mut column) = (0, 1u32, 1u32);
    let step = |i: &mut usize, line: &mut u32, column: &mut u32| {
        if chars[*i] == '\n' {
            *line += 1;
            *column = 1;
        } else {
            *column += 1;
        }
        *i += 1;
    };
    while i < chars.len() {
        let next = chars.get(i + 1).copied();
        match (chars[i], next) {
            ('/', Some('/')) => {
                while i < chars.len() && chars[i] != '\n' {
                    step(&mut i, &mut line, &mut column);
                }
            }
            ('/', Some('*')) => {
                step(&mut i, &mut line, &mut column);
                step(&mut i, &mut line, &mut column);
                while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                    step(&mut i, &mut line, &mut column);
                }
                if i < chars.len() {
                    step(&mut i, &mut line, &mut column);
                    step(&mut i, &mut line, &mut column);
                }
            }
            (quote @ ('"' | '\'' | '`'), _) => {
                let start = (line, column);
                step(&mut i, &mut line, &mut column);
                loop {
                    let Some(&c) = chars.get(i) else {
                        return Some(start);
                    };
                    if c == '\\' {
                        step(&mut i, &mut line, &mut column);
                        if i >= chars.len() {
                            return Some(start);
                        }
                    } else if c == quote {
                        step(&mut i, &mut line, &mut column);
                        break;
                    } else if quote != '`' && (c == '\n' || c == '\r') {
                        return Some(start);
                    }
                    step(&mut i, &mut line, &mut column);
                }
            }
            _ => step(&mut i, &mut line, &mut column),
        }
    }
    None
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
