//! `KSR.textops`: text operations on the SIP message: regular-expression
//! search, replace and sed-like substitution over the whole message, its
//! headers or its body; header presence and removal; body helpers; and
//! string comparisons that need no message at all.
//!
//! What a script reads is always the message as received: a replacement,
//! a removed header or a new body is recorded as an edit and applied when
//! the message is sent, so a second `search` still sees the original text.
//! `KSR.textopsx.msg_apply_changes()` rebuilds the message so later reads
//! see the edits.
//!
//! Regular expressions are POSIX extended ones in Kamailio; kemid compiles
//! them with Rust's `regex` crate, which accepts the same syntax for the
//! patterns routing scripts use (classes such as `[[:digit:]]`, `\<` and
//! `\>` word boundaries, alternation, repetition). Two differences remain:
//! an alternation takes the first branch that matches rather than the
//! longest, and back-references inside a pattern are refused (POSIX
//! extended expressions have none either). Unless a function says
//! otherwise, a pattern is case-insensitive and line-aware: `.` does not
//! match a line break and `^`/`$` match at the start and end of every line.
//! Compiled patterns are kept per worker, so a script calling with a
//! literal pattern compiles it once.
//!
//! The functions that search "the message" start after the first line, as
//! Kamailio's do, so that they never rewrite the Request-URI behind the
//! core's back (use `subst_uri` for that); `search` alone looks at the
//! whole message.

use std::cell::RefCell;
use std::rc::Rc;

use kemid_macros::kemi;
use regex::bytes::{Regex, RegexBuilder};

use crate::ctx::Ctx;
use crate::log;
use crate::pv::{PvSpec, PvValue};
use crate::sip::{HeaderName, SipMsg, Span};

/// `loadmodule "textops.so"`.
pub static MODULE: crate::module::Module<()> = crate::module::Module::new(
    "textops",
    "text operations on the message: regex search, replace, substitution",
);

const ORIGIN: &str = "textops";

// ---------------------------------------------------------------------------
// Regular expressions and their per-worker cache.

/// How a pattern is compiled (the POSIX `regcomp` flags that matter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ReOpts {
    /// `REG_ICASE`: ASCII letters match either case.
    pub(crate) icase: bool,
    /// `REG_NEWLINE`: `.` stops at line breaks, `^`/`$` match at each line.
    pub(crate) newline: bool,
}

impl ReOpts {
    /// Case-insensitive and line-aware: what textops uses unless told
    /// otherwise.
    pub(crate) const TEXT: ReOpts = ReOpts {
        icase: true,
        newline: true,
    };
    /// Case-sensitive, `.` matches line breaks: a bare extended pattern.
    pub(crate) const PLAIN: ReOpts = ReOpts {
        icase: false,
        newline: false,
    };
}

/// Bound on the compiled size of one pattern, so that a script cannot make
/// a worker build a huge automaton.
const RE_SIZE_LIMIT: usize = 2 << 20;

fn compile(pattern: &str, opts: ReOpts) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .unicode(false)
        .case_insensitive(opts.icase)
        .multi_line(opts.newline)
        .dot_matches_new_line(!opts.newline)
        .size_limit(RE_SIZE_LIMIT)
        .build()
}

/// Patterns kept per worker.
const RE_CACHE_SLOTS: usize = 64;

struct CachedRe {
    pattern: Box<str>,
    opts: ReOpts,
    re: Rc<Regex>,
    last_use: u64,
}

#[derive(Default)]
struct ReCache {
    slots: Vec<CachedRe>,
    clock: u64,
}

thread_local! {
    static RE_CACHE: RefCell<ReCache> = RefCell::new(ReCache::default());
}

/// The compiled pattern, from this worker's cache when it was compiled
/// before; the least recently used entry makes room for a new one.
pub(crate) fn cached_regex(pattern: &str, opts: ReOpts) -> Result<Rc<Regex>, regex::Error> {
    RE_CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        cache.clock += 1;
        let now = cache.clock;
        if let Some(hit) = cache
            .slots
            .iter_mut()
            .find(|e| e.opts == opts && *e.pattern == *pattern)
        {
            hit.last_use = now;
            return Ok(Rc::clone(&hit.re));
        }
        let re = Rc::new(compile(pattern, opts)?);
        let entry = CachedRe {
            pattern: pattern.into(),
            opts,
            re: Rc::clone(&re),
            last_use: now,
        };
        if cache.slots.len() < RE_CACHE_SLOTS {
            cache.slots.push(entry);
        } else if let Some(oldest) = cache.slots.iter_mut().min_by_key(|e| e.last_use) {
            *oldest = entry;
        }
        Ok(re)
    })
}

/// [`cached_regex`], logging a pattern that does not compile.
pub(crate) fn regex(pattern: &str, opts: ReOpts) -> Option<Rc<Regex>> {
    match cached_regex(pattern, opts) {
        Ok(re) => Some(re),
        Err(e) => {
            log::error(
                ORIGIN,
                format_args!("failed to compile regex `{pattern}`: {e}"),
            );
            None
        }
    }
}

// ---------------------------------------------------------------------------
// sed-like substitution expressions: `/re/replacement/flags`.

/// One part of a replacement.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(Vec<u8>),
    /// `\0` (the whole match) to `\9`.
    Group(usize),
    /// `\u`: the current Request-URI.
    Uri,
    /// `$name(...)`: a pseudo-variable, by its index in `Subst::pvs`.
    Pv(usize),
}

/// A parsed `/re/replacement/flags` expression.
pub(crate) struct Subst {
    re: Rc<Regex>,
    pieces: Vec<Piece>,
    pvs: Vec<String>,
    max_group: usize,
    global: bool,
}

/// The values a replacement takes from outside the match, read before the
/// match runs.
pub(crate) struct SubstValues {
    uri: Vec<u8>,
    pvs: Vec<Vec<u8>>,
}

/// One replacement: bytes `start..end` of the input become `text`.
pub(crate) type Replacement = (usize, usize, Vec<u8>);

/// Regex metacharacters: an escaped separator that is one of them stays
/// escaped in the pattern.
const RE_META: &[u8] = b"\\.+*?()|[]{}^$#&-~";

/// Where a pseudo-variable that starts at `b[start] == '$'` ends:
/// `$name`, `$name(inner)`, `$name(inner)[index]` or `$(inner)`.
fn pv_extent(b: &[u8], start: usize) -> Option<usize> {
    fn close(b: &[u8], open_at: usize, open: u8, close: u8) -> Option<usize> {
        let mut depth = 0usize;
        for (i, &c) in b.iter().enumerate().skip(open_at) {
            if c == open {
                depth += 1;
            } else if c == close {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
        }
        None
    }
    let mut i = start + 1;
    if b.get(i) == Some(&b'(') {
        return close(b, i, b'(', b')');
    }
    let name = i;
    while b
        .get(i)
        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
    {
        i += 1;
    }
    if i == name {
        return None;
    }
    if b.get(i) == Some(&b'(') {
        i = close(b, i, b'(', b')')?;
    }
    if b.get(i) == Some(&b'[') {
        i = close(b, i, b'[', b']')?;
    }
    Some(i)
}

impl Subst {
    /// Parses `<sep>re<sep>replacement<sep>flags`. The separator is the
    /// first character (any ASCII character but `\`); flags are `i`
    /// (case-insensitive), `g` (every match) and `s` (`.` matches line
    /// breaks, `^`/`$` only at the ends).
    pub(crate) fn parse(expr: &str) -> Result<Subst, String> {
        let b = expr.as_bytes();
        if b.len() < 3 {
            return Err(format!("expression `{expr}` is too short"));
        }
        let sep = b[0];
        if sep == b'\\' || !sep.is_ascii() {
            return Err(format!("invalid separator in `{expr}`"));
        }
        let mut i = 1;
        while i < b.len() && !(b[i] == sep && b[i - 1] != b'\\') {
            i += 1;
        }
        if i >= b.len() {
            return Err(format!("no separator after the regex in `{expr}`"));
        }
        let re_text = expr.get(1..i).unwrap_or("");
        if b.len() < i + 2 {
            return Err(format!("expression `{expr}` is too short"));
        }
        let pattern = if RE_META.contains(&sep) {
            re_text.to_owned()
        } else {
            let escaped = [b'\\', sep];
            let escaped = std::str::from_utf8(&escaped).unwrap_or("");
            re_text.replace(escaped, &char::from(sep).to_string())
        };

        // The replacement, up to the next unescaped separator.
        let mut pieces = Vec::new();
        let mut pvs = Vec::new();
        let mut text = Vec::new();
        let mut max_group = 0;
        let mut j = i + 1;
        let mut ended = false;
        while j < b.len() {
            let c = b[j];
            if c == b'\\' {
                let Some(&e) = b.get(j + 1) else {
                    break;
                };
                j += 2;
                match e {
                    b'n' => text.push(b'\n'),
                    b'r' => text.push(b'\r'),
                    b't' => text.push(b'\t'),
                    b'0'..=b'9' | b'u' => {
                        if !text.is_empty() {
                            pieces.push(Piece::Text(std::mem::take(&mut text)));
                        }
                        if e == b'u' {
                            pieces.push(Piece::Uri);
                        } else {
                            let n = usize::from(e - b'0');
                            max_group = max_group.max(n);
                            pieces.push(Piece::Group(n));
                        }
                    }
                    other => {
                        if other != sep && other != b'\\' && other != b'$' {
                            log::warn(
                                ORIGIN,
                                format_args!("unknown escape \\{} in `{expr}`", char::from(other)),
                            );
                        }
                        text.push(other);
                    }
                }
            } else if c == b'$' {
                let end = pv_extent(b, j)
                    .ok_or_else(|| format!("bad pseudo-variable in the replacement of `{expr}`"))?;
                let name = expr.get(j..end).unwrap_or("");
                PvSpec::parse(name).map_err(|e| format!("in `{expr}`: {e}"))?;
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Pv(pvs.len()));
                pvs.push(name.to_owned());
                j = end;
            } else if c == sep {
                ended = true;
                j += 1;
                break;
            } else {
                text.push(c);
                j += 1;
            }
        }
        if !ended {
            return Err(format!(
                "missing separator after the replacement in `{expr}`"
            ));
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        let mut opts = ReOpts {
            icase: false,
            newline: true,
        };
        let mut global = false;
        for &f in &b[j..] {
            match f {
                b'i' => opts.icase = true,
                b's' => opts.newline = false,
                b'g' => global = true,
                other => return Err(format!("unknown flag `{}` in `{expr}`", char::from(other))),
            }
        }
        let re = cached_regex(&pattern, opts)
            .map_err(|e| format!("bad regular expression in `{expr}`: {e}"))?;
        Ok(Subst {
            re,
            pieces,
            pvs,
            max_group,
            global,
        })
    }

    /// Parses, logging a bad expression.
    pub(crate) fn parse_logged(expr: &str) -> Option<Subst> {
        Subst::parse(expr)
            .map_err(|e| log::error(ORIGIN, format_args!("{e}")))
            .ok()
    }

    /// Reads the Request-URI and the pseudo-variables the replacement uses.
    pub(crate) fn values(&self, ctx: &mut Ctx) -> SubstValues {
        let uri = if self.pieces.contains(&Piece::Uri) {
            match ctx.msg() {
                Some(m) if m.is_request() => m.ruri_str().unwrap_or("").as_bytes().to_vec(),
                _ => {
                    log::error(ORIGIN, format_args!("\\u in a replacement needs a request"));
                    Vec::new()
                }
            }
        } else {
            Vec::new()
        };
        let pvs = self
            .pvs
            .iter()
            .map(|name| match PvSpec::parse(name) {
                Ok(spec) => match spec.get(ctx) {
                    PvValue::Null => Vec::new(),
                    PvValue::Int(i) => i.to_string().into_bytes(),
                    PvValue::Str(s) => s.into_bytes(),
                },
                Err(_) => Vec::new(),
            })
            .collect();
        SubstValues { uri, pvs }
    }

    fn build(
        &self,
        hay: &[u8],
        group: impl Fn(usize) -> Option<(usize, usize)>,
        v: &SubstValues,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.extend_from_slice(t),
                Piece::Group(n) => {
                    if let Some((s, e)) = group(*n) {
                        out.extend_from_slice(hay.get(s..e).unwrap_or(&[]));
                    }
                }
                Piece::Uri => out.extend_from_slice(&v.uri),
                Piece::Pv(k) => out.extend_from_slice(v.pvs.get(*k).map_or(&[][..], |x| x)),
            }
        }
        out
    }

    /// The replacements in `hay`: the first match, or every one with `g`.
    /// A match of nothing is an error, as in Kamailio (it would loop).
    pub(crate) fn run(&self, hay: &[u8], v: &SubstValues) -> Result<Vec<Replacement>, String> {
        let mut out = Vec::new();
        if self.max_group == 0 {
            for m in self.re.find_iter(hay) {
                if m.is_empty() {
                    return Err("the expression matched an empty string".into());
                }
                let text = self.build(hay, |_| Some((m.start(), m.end())), v);
                out.push((m.start(), m.end(), text));
                if !self.global {
                    break;
                }
            }
        } else {
            for caps in self.re.captures_iter(hay) {
                let Some(m) = caps.get(0) else {
                    continue;
                };
                if m.is_empty() {
                    return Err("the expression matched an empty string".into());
                }
                let text = self.build(hay, |n| caps.get(n).map(|g| (g.start(), g.end())), v);
                out.push((m.start(), m.end(), text));
                if !self.global {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// `input` with the replacements applied, or `None` when nothing
    /// matched (errors are logged and also give `None`).
    pub(crate) fn apply(&self, input: &[u8], v: &SubstValues) -> Option<Vec<u8>> {
        let reps = match self.run(input, v) {
            Ok(r) => r,
            Err(e) => {
                log::error(ORIGIN, format_args!("{e}"));
                return None;
            }
        };
        if reps.is_empty() {
            return None;
        }
        let mut out = Vec::with_capacity(input.len());
        let mut pos = 0;
        for (s, e, t) in reps {
            out.extend_from_slice(input.get(pos..s).unwrap_or(&[]));
            out.extend_from_slice(&t);
            pos = e;
        }
        out.extend_from_slice(input.get(pos..).unwrap_or(&[]));
        Some(out)
    }
}

// ---------------------------------------------------------------------------
// Where things are in a message, and recording edits.

/// Offsets within [`SipMsg::as_bytes`] of the parts textops works on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Layout {
    /// Offset of `as_bytes()[0]` in the message buffer (edits use buffer
    /// offsets).
    pub(crate) base: usize,
    /// Start of the first header (just after the start line).
    pub(crate) head: usize,
    /// End of the last header line (before the empty line).
    pub(crate) head_end: usize,
    /// Start of the body.
    pub(crate) body: usize,
    /// End of the message.
    pub(crate) len: usize,
}

impl Layout {
    pub(crate) fn of(msg: &SipMsg) -> Layout {
        let bytes = msg.as_bytes();
        let len = bytes.len();
        let base = msg.body_span().end().saturating_sub(len);
        let head = bytes
            .iter()
            .position(|&c| c == b'\n')
            .map_or(len, |i| i + 1);
        let head_end = msg
            .header_count()
            .checked_sub(1)
            .and_then(|last| msg.header_at(last))
            .map_or(head, |h| h.line_span().end().saturating_sub(base));
        let body = msg.body_span().start().saturating_sub(base).min(len);
        Layout {
            base,
            head,
            head_end: head_end.clamp(head, len),
            body,
            len,
        }
    }

    /// A span of the buffer from offsets relative to `as_bytes()`.
    pub(crate) fn span(&self, start: usize, end: usize) -> Span {
        let abs = |x: usize| u32::try_from(self.base + x).unwrap_or(u32::MAX);
        Span::new(abs(start), abs(end))
    }

    /// A buffer span made relative to `as_bytes()`.
    pub(crate) fn rel(&self, span: Span) -> (usize, usize) {
        (
            span.start().saturating_sub(self.base),
            span.end().saturating_sub(self.base),
        )
    }
}

/// Records replacements given relative to `as_bytes()`; false (logged) if
/// one is refused. Those recorded before a refusal stay, as in Kamailio.
pub(crate) fn record(msg: &mut SipMsg, lay: &Layout, reps: &[Replacement]) -> bool {
    for (s, e, text) in reps {
        if let Err(err) = msg.replace_span(lay.span(*s, *e), text) {
            log::error(ORIGIN, format_args!("cannot change the message: {err}"));
            return false;
        }
    }
    true
}

/// Whether `name` can be a header name (an RFC 3261 token, not too long).
pub(crate) fn valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 252
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&c))
}

/// Validates a header name argument, logging a bad one.
fn header_name_ok(name: &str) -> bool {
    if valid_header_name(name) {
        true
    } else {
        log::error(ORIGIN, format_args!("invalid header name `{name}`"));
        false
    }
}

/// Stores a string in the pseudo-variable named `name`; false (logged)
/// when the name is invalid or read-only.
pub(crate) fn set_pv_str(ctx: &mut Ctx, name: &str, value: &[u8]) -> bool {
    let value = String::from_utf8_lossy(value).into_owned();
    match PvSpec::parse(name).and_then(|spec| spec.set(ctx, PvValue::Str(value))) {
        Ok(()) => true,
        Err(e) => {
            log::error(ORIGIN, format_args!("{e}"));
            false
        }
    }
}

/// First position of `needle` in `hay` at or after `from`.
fn find_bytes(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > hay.len() {
        return None;
    }
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// The first match of `re` in `hay[from..to]`, relative to `hay`.
fn first_match(re: &Regex, hay: &[u8], from: usize, to: usize) -> Option<(usize, usize)> {
    let region = hay.get(from..to)?;
    re.find(region).map(|m| (from + m.start(), from + m.end()))
}

/// Every match of `re` in `hay[from..to]`, relative to `hay`; an empty
/// match ends the list with an error, as it would loop in Kamailio.
fn all_matches(re: &Regex, hay: &[u8], from: usize, to: usize) -> (Vec<(usize, usize)>, bool) {
    let mut out = Vec::new();
    let Some(region) = hay.get(from..to) else {
        return (out, true);
    };
    for m in re.find_iter(region) {
        if m.is_empty() {
            log::error(
                ORIGIN,
                format_args!("matched string is empty, invalid regex?"),
            );
            return (out, false);
        }
        out.push((from + m.start(), from + m.end()));
    }
    (out, true)
}

/// Replaces the first match of `re` in `from..to` with `txt`.
fn replace_first(ctx: &mut Ctx, re: &str, txt: &str, part: Part) -> i32 {
    let Some(rx) = regex(re, ReOpts::TEXT) else {
        return -1;
    };
    let Some(msg) = ctx.msg_mut() else {
        return -1;
    };
    let lay = Layout::of(msg);
    let Some((from, to)) = part.range(&lay) else {
        return -1;
    };
    let Some((s, e)) = first_match(&rx, msg.as_bytes(), from, to) else {
        return -1;
    };
    if record(msg, &lay, &[(s, e, txt.as_bytes().to_vec())]) {
        1
    } else {
        -1
    }
}

/// Replaces every match of `re` in the part with `txt`.
fn replace_every(ctx: &mut Ctx, re: &str, txt: &str, part: Part) -> i32 {
    let Some(rx) = regex(re, ReOpts::TEXT) else {
        return -1;
    };
    let Some(msg) = ctx.msg_mut() else {
        return -1;
    };
    let lay = Layout::of(msg);
    let Some((from, to)) = part.range(&lay) else {
        return -1;
    };
    let (found, ok) = all_matches(&rx, msg.as_bytes(), from, to);
    let reps: Vec<Replacement> = found
        .into_iter()
        .map(|(s, e)| (s, e, txt.as_bytes().to_vec()))
        .collect();
    if !record(msg, &lay, &reps) || !ok || reps.is_empty() {
        return -1;
    }
    1
}

/// Replaces plain text in the part: the first occurrence when `mode`
/// starts with `f`, else every one. 1 even when there was none.
fn replace_plain(ctx: &mut Ctx, find: &str, repl: &str, mode: &str, part: Part) -> i32 {
    let Some(msg) = ctx.msg_mut() else {
        return -1;
    };
    let lay = Layout::of(msg);
    let Some((from, to)) = part.range(&lay) else {
        return -1;
    };
    if find.is_empty() {
        return 1;
    }
    let first_only = mode.is_empty() || mode.starts_with(['f', 'F']);
    let hay = msg.as_bytes().get(..to).unwrap_or(&[]);
    let mut reps = Vec::new();
    let mut at = from;
    while let Some(p) = find_bytes(hay, find.as_bytes(), at) {
        reps.push((p, p + find.len(), repl.as_bytes().to_vec()));
        if first_only {
            break;
        }
        at = p + find.len();
    }
    if record(msg, &lay, &reps) {
        1
    } else {
        -1
    }
}

/// Runs a substitution over a part of the message.
fn subst_part(ctx: &mut Ctx, subexp: &str, part: Part) -> i32 {
    if subexp.is_empty() {
        return -1;
    }
    let Some(se) = Subst::parse_logged(subexp) else {
        return -1;
    };
    let vals = se.values(ctx);
    let Some(msg) = ctx.msg_mut() else {
        return -1;
    };
    let lay = Layout::of(msg);
    let Some((from, to)) = part.range(&lay) else {
        return -1;
    };
    let region = msg.as_bytes().get(from..to).unwrap_or(&[]);
    let reps = match se.run(region, &vals) {
        Ok(r) => r,
        Err(e) => {
            log::error(ORIGIN, format_args!("{e}"));
            return -1;
        }
    };
    if reps.is_empty() {
        return -1;
    }
    let reps: Vec<Replacement> = reps
        .into_iter()
        .map(|(s, e, t)| (s + from, e + from, t))
        .collect();
    if record(msg, &lay, &reps) {
        1
    } else {
        -1
    }
}

/// Which part of the message a function works on.
#[derive(Clone, Copy, Debug)]
enum Part {
    /// After the start line: headers and body.
    AfterFirstLine,
    /// The header lines only.
    Headers,
    /// The body; refused (with -1) when empty.
    Body,
}

impl Part {
    fn range(self, lay: &Layout) -> Option<(usize, usize)> {
        match self {
            Part::AfterFirstLine => Some((lay.head, lay.len)),
            Part::Headers => {
                if lay.head_end > lay.head {
                    Some((lay.head, lay.head_end))
                } else {
                    log::debug(ORIGIN, format_args!("message has no headers"));
                    None
                }
            }
            Part::Body => {
                if lay.len > lay.body {
                    Some((lay.body, lay.len))
                } else {
                    log::debug(ORIGIN, format_args!("message body has zero length"));
                    None
                }
            }
        }
    }
}

/// How `search_hf` and `subst_hf` pick among headers of one name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Which {
    Any,
    First,
    Last,
}

impl Which {
    fn from_flags(flags: &str) -> Which {
        match flags.as_bytes().first() {
            Some(b'f') => Which::First,
            Some(b'l') => Which::Last,
            _ => Which::Any,
        }
    }
}

/// Value spans (relative to `as_bytes()`) of the headers named `name`,
/// narrowed by `which`.
fn header_values(msg: &SipMsg, lay: &Layout, name: &str, which: Which) -> Vec<(usize, usize)> {
    let mut all = msg.headers_by_name(name).map(|h| lay.rel(h.value_span()));
    match which {
        Which::Any => all.collect(),
        Which::First => all.next().into_iter().collect(),
        Which::Last => all.last().into_iter().collect(),
    }
}

// ---------------------------------------------------------------------------
// Searching.

/// Searches the whole message, start line included, for a regular
/// expression (case-insensitive, line-aware).
///
/// # Parameters
/// - `re`: the regular expression.
///
/// # Returns
/// 1 when it matches (and when `re` is empty), -1 when it does not or the
/// expression does not compile (logged).
///
/// # Example
/// ```js
/// if (KSR.textops.search("^User-Agent: .*friendly-scanner") > 0) {
///     KSR.x.drop();
/// }
/// ```
#[kemi]
pub fn search(ctx: &mut Ctx, re: &str) -> i32 {
    if re.is_empty() {
        return 1;
    }
    let Some(rx) = regex(re, ReOpts::TEXT) else {
        return -1;
    };
    match ctx.msg() {
        Some(msg) if rx.is_match(msg.as_bytes()) => 1,
        _ => -1,
    }
}

/// Searches the message body for a regular expression (case-insensitive,
/// line-aware).
///
/// # Parameters
/// - `re`: the regular expression.
///
/// # Returns
/// 1 when it matches (and when `re` is empty), -1 when it does not, the
/// body is empty or the expression does not compile (logged).
///
/// # Example
/// ```js
/// if (KSR.textops.search_body("^m=video ") > 0) {
///     KSR.info("video offered\n");
/// }
/// ```
#[kemi]
pub fn search_body(ctx: &mut Ctx, re: &str) -> i32 {
    if re.is_empty() {
        return 1;
    }
    let Some(rx) = regex(re, ReOpts::TEXT) else {
        return -1;
    };
    let Some(msg) = ctx.msg() else {
        return -1;
    };
    let body = msg.body();
    if body.is_empty() {
        log::debug(ORIGIN, format_args!("message body has zero length"));
        return -1;
    }
    if rx.is_match(body) {
        1
    } else {
        -1
    }
}

/// Searches the values of the headers with a given name for a regular
/// expression (case-insensitive, line-aware; `^` and `$` are the ends of
/// the value).
///
/// # Parameters
/// - `hname`: the header name; compact forms and case are handled (`f`
///   finds `From`).
/// - `re`: the regular expression.
/// - `flags`: `f` to look at the first such header only, `l` the last
///   only; anything else (`""`, `a`) looks at every one and succeeds at
///   the first that matches.
///
/// # Returns
/// 1 when a value matches, -1 when none does, there is no such header, or
/// an argument is invalid (logged).
///
/// # Example
/// ```js
/// if (KSR.textops.search_hf("Supported", "timer", "") > 0) {
///     KSR.info("session timers supported\n");
/// }
/// ```
#[kemi]
pub fn search_hf(ctx: &mut Ctx, hname: &str, re: &str, flags: &str) -> i32 {
    if hname.is_empty() || re.is_empty() || !header_name_ok(hname) {
        return -1;
    }
    let Some(rx) = regex(re, ReOpts::TEXT) else {
        return -1;
    };
    let Some(msg) = ctx.msg() else {
        return -1;
    };
    let lay = Layout::of(msg);
    let bytes = msg.as_bytes();
    let found = header_values(msg, &lay, hname, Which::from_flags(flags))
        .into_iter()
        .any(|(s, e)| rx.is_match(bytes.get(s..e).unwrap_or(&[])));
    if found {
        1
    } else {
        -1
    }
}

/// Searches the message after its first line and inserts text right after
/// the first match.
///
/// # Parameters
/// - `re`: the regular expression (case-insensitive, line-aware).
/// - `txt`: the text to insert, verbatim.
///
/// # Returns
/// 1 when inserted, -1 when nothing matches or on error (logged).
///
/// # Example
/// ```js
/// KSR.textops.search_append("^Subject: .*", " [screened]");
/// ```
#[kemi]
pub fn search_append(ctx: &mut Ctx, re: &str, txt: &str) -> i32 {
    append_after(ctx, re, txt, Part::AfterFirstLine)
}

/// Searches the body and inserts text right after the first match.
///
/// # Parameters
/// - `re`: the regular expression (case-insensitive, line-aware).
/// - `txt`: the text to insert, verbatim.
///
/// # Returns
/// 1 when inserted, -1 when nothing matches, the body is empty, or on
/// error (logged).
///
/// # Example
/// ```js
/// KSR.textops.search_append_body("^s=.*\r\n", "i=relayed\r\n");
/// ```
#[kemi]
pub fn search_append_body(ctx: &mut Ctx, re: &str, txt: &str) -> i32 {
    append_after(ctx, re, txt, Part::Body)
}

fn append_after(ctx: &mut Ctx, re: &str, txt: &str, part: Part) -> i32 {
    let Some(rx) = regex(re, ReOpts::TEXT) else {
        return -1;
    };
    let Some(msg) = ctx.msg_mut() else {
        return -1;
    };
    let lay = Layout::of(msg);
    let Some((from, to)) = part.range(&lay) else {
        return -1;
    };
    let Some((_, e)) = first_match(&rx, msg.as_bytes(), from, to) else {
        return -1;
    };
    if record(msg, &lay, &[(e, e, txt.as_bytes().to_vec())]) {
        1
    } else {
        -1
    }
}

/// Searches a string for a regular expression (case-insensitive,
/// line-aware).
///
/// # Parameters
/// - `text`: the string to search.
/// - `re`: the regular expression.
///
/// # Returns
/// 1 when it matches, -1 when it does not, 2 when `re` is empty, -2 when
/// `text` is empty or the expression does not compile (logged).
///
/// # Example
/// ```js
/// if (KSR.textops.search_str(KSR.pv.gete("$ua"), "^(polycom|yealink)") > 0) {
///     KSR.info("desk phone\n");
/// }
/// ```
#[kemi(toplevel)]
pub fn search_str(_ctx: &mut Ctx, text: &str, re: &str) -> i32 {
    if re.is_empty() {
        return 2;
    }
    if text.is_empty() {
        return -2;
    }
    let Some(rx) = regex(re, ReOpts::TEXT) else {
        return -2;
    };
    if rx.is_match(text.as_bytes()) {
        1
    } else {
        -1
    }
}

/// Checks whether a header with a given name is present.
///
/// # Parameters
/// - `hname`: the header name; compact forms and case are handled.
///
/// # Returns
/// 1 when present, -1 when absent or the name is invalid (logged).
///
/// # Example
/// ```js
/// if (KSR.textops.is_present_hf("Route") > 0) {
///     KSR.info("has Route\n");
/// }
/// ```
#[kemi]
pub fn is_present_hf(ctx: &mut Ctx, hname: &str) -> i32 {
    if hname.is_empty() || !header_name_ok(hname) {
        return -1;
    }
    match ctx.msg() {
        Some(msg) if msg.header_by_name(hname).is_some() => 1,
        _ => -1,
    }
}

/// Checks whether a header whose name matches a regular expression is
/// present. The name is matched as written in the message (`f` is not
/// `From` here).
///
/// # Parameters
/// - `re`: the regular expression for the name (case-insensitive).
///
/// # Returns
/// 1 when one is present, -1 when none is or the expression does not
/// compile (logged).
///
/// # Example
/// ```js
/// if (KSR.textops.is_present_hf_re("^X-Internal-") > 0) {
///     KSR.x.drop();
/// }
/// ```
#[kemi]
pub fn is_present_hf_re(ctx: &mut Ctx, re: &str) -> i32 {
    let Some(rx) = regex(re, ReOpts::TEXT) else {
        return -1;
    };
    match ctx.msg() {
        Some(msg) if msg.headers().any(|h| rx.is_match(h.name.as_bytes())) => 1,
        _ => -1,
    }
}

// ---------------------------------------------------------------------------
// Replacing.

/// Replaces the first match of a regular expression after the first line
/// of the message.
///
/// # Parameters
/// - `re`: the regular expression (case-insensitive, line-aware).
/// - `txt`: the replacement, verbatim.
///
/// # Returns
/// 1 when replaced, -1 when nothing matches or on error (logged).
///
/// # Example
/// ```js
/// KSR.textops.replace("^User-Agent: .*", "User-Agent: kemid");
/// ```
#[kemi]
pub fn replace(ctx: &mut Ctx, re: &str, txt: &str) -> i32 {
    replace_first(ctx, re, txt, Part::AfterFirstLine)
}

/// Replaces every match of a regular expression after the first line of
/// the message.
///
/// # Parameters
/// - `re`: the regular expression (case-insensitive, line-aware); one
///   that can match an empty string is an error.
/// - `txt`: the replacement, verbatim.
///
/// # Returns
/// 1 when at least one was replaced, -1 when nothing matches or on error
/// (logged).
///
/// # Example
/// ```js
/// KSR.textops.replace_all("10\\.0\\.0\\.1", "192.0.2.1");
/// ```
#[kemi]
pub fn replace_all(ctx: &mut Ctx, re: &str, txt: &str) -> i32 {
    replace_every(ctx, re, txt, Part::AfterFirstLine)
}

/// Replaces the first match of a regular expression in the body.
///
/// # Parameters
/// - `re`: the regular expression (case-insensitive, line-aware).
/// - `txt`: the replacement, verbatim.
///
/// # Returns
/// 1 when replaced, -1 when nothing matches, the body is empty, or on
/// error (logged).
///
/// # Example
/// ```js
/// KSR.textops.replace_body("a=sendrecv", "a=sendonly");
/// ```
#[kemi]
pub fn replace_body(ctx: &mut Ctx, re: &str, txt: &str) -> i32 {
    replace_first(ctx, re, txt, Part::Body)
}

/// Replaces every match of a regular expression in the body, line by line
/// (`^` matches at the start of each line).
///
/// # Parameters
/// - `re`: the regular expression (case-insensitive, line-aware); one
///   that can match an empty string is an error.
/// - `txt`: the replacement, verbatim.
///
/// # Returns
/// 1 when at least one was replaced, -1 when nothing matches, the body is
/// empty, or on error (logged).
///
/// # Example
/// ```js
/// KSR.textops.replace_body_all("^a=rtcp:.*\r\n", "");
/// ```
#[kemi]
pub fn replace_body_all(ctx: &mut Ctx, re: &str, txt: &str) -> i32 {
    replace_every(ctx, re, txt, Part::Body)
}

/// Replaces every match of a regular expression in the body, matching
/// over the body as a whole. In kemid this behaves as `replace_body_all`;
/// in Kamailio the two differ only in whether `^` may match right after a
/// previous match.
///
/// # Parameters
/// - `re`: the regular expression (case-insensitive, line-aware); one
///   that can match an empty string is an error.
/// - `txt`: the replacement, verbatim.
///
/// # Returns
/// 1 when at least one was replaced, -1 when nothing matches, the body is
/// empty, or on error (logged).
///
/// # Example
/// ```js
/// KSR.textops.replace_body_atonce("c=IN IP4 10\\.0\\.0\\.1", "c=IN IP4 192.0.2.1");
/// ```
#[kemi]
pub fn replace_body_atonce(ctx: &mut Ctx, re: &str, txt: &str) -> i32 {
    replace_every(ctx, re, txt, Part::Body)
}

/// Replaces the first match of a regular expression in the header lines
/// (after the first line, before the body).
///
/// # Parameters
/// - `re`: the regular expression (case-insensitive, line-aware).
/// - `txt`: the replacement, verbatim.
///
/// # Returns
/// 1 when replaced, -1 when nothing matches, there are no headers, or on
/// error (logged).
///
/// # Example
/// ```js
/// KSR.textops.replace_hdrs("internal\\.example\\.com", "example.com");
/// ```
#[kemi]
pub fn replace_hdrs(ctx: &mut Ctx, re: &str, txt: &str) -> i32 {
    replace_first(ctx, re, txt, Part::Headers)
}

/// Replaces plain text (no regular expression, case-sensitive) after the
/// first line of the message.
///
/// # Parameters
/// - `mkey`: the text to find.
/// - `rval`: the replacement.
/// - `rmode`: `f` to replace the first occurrence only, `a` every one.
///
/// # Returns
/// 1, also when the text was not found (Kamailio's behaviour); -1 on error
/// (logged).
///
/// # Example
/// ```js
/// KSR.textops.replace_str("old.example.com", "new.example.com", "a");
/// ```
#[kemi]
pub fn replace_str(ctx: &mut Ctx, mkey: &str, rval: &str, rmode: &str) -> i32 {
    replace_plain(ctx, mkey, rval, rmode, Part::AfterFirstLine)
}

/// Replaces plain text (no regular expression, case-sensitive) in the
/// body.
///
/// # Parameters
/// - `mkey`: the text to find.
/// - `rval`: the replacement.
/// - `rmode`: `f` to replace the first occurrence only, `a` every one.
///
/// # Returns
/// 1, also when the text was not found; -1 when the body is empty or on
/// error (logged).
///
/// # Example
/// ```js
/// KSR.textops.replace_body_str("10.0.0.1", "192.0.2.1", "a");
/// ```
#[kemi]
pub fn replace_body_str(ctx: &mut Ctx, mkey: &str, rval: &str, rmode: &str) -> i32 {
    replace_plain(ctx, mkey, rval, rmode, Part::Body)
}

/// Replaces plain text (no regular expression, case-sensitive) in the
/// header lines.
///
/// # Parameters
/// - `mkey`: the text to find.
/// - `rval`: the replacement.
/// - `rmode`: `f` to replace the first occurrence only, `a` every one.
///
/// # Returns
/// 1, also when the text was not found; -1 when there are no headers or on
/// error (logged).
///
/// # Example
/// ```js
/// KSR.textops.replace_hdrs_str("internal.example.com", "example.com", "a");
/// ```
#[kemi]
pub fn replace_hdrs_str(ctx: &mut Ctx, mkey: &str, rval: &str, rmode: &str) -> i32 {
    replace_plain(ctx, mkey, rval, rmode, Part::Headers)
}

// ---------------------------------------------------------------------------
// Substitutions.

/// Applies a sed-like substitution to the message after its first line.
///
/// The expression is `/re/replacement/flags`: the first character is the
/// separator (any ASCII character but `\`; escape it inside with `\`). In
/// the replacement `\0` is the whole match, `\1`..`\9` the groups, `\u`
/// the Request-URI, `\n`, `\r`, `\t` line breaks and tab, `\\` and `\$`
/// themselves, and `$name(...)` the value of a pseudo-variable. Flags: `i`
/// case-insensitive, `g` every match, `s` lets `.` match line breaks.
///
/// # Parameters
/// - `subst`: the expression.
///
/// # Returns
/// 1 when something was replaced, -1 when nothing matched or the
/// expression is invalid (logged).
///
/// # Example
/// ```js
/// KSR.textops.subst("/^(To: .*)@internal\\.example\\.com/\\1@example.com/ig");
/// ```
#[kemi]
pub fn subst(ctx: &mut Ctx, subst: &str) -> i32 {
    subst_part(ctx, subst, Part::AfterFirstLine)
}

/// Applies a sed-like substitution to the body (see `subst` for the
/// expression).
///
/// # Parameters
/// - `subst`: the expression, `/re/replacement/flags`.
///
/// # Returns
/// 1 when something was replaced, -1 when nothing matched, the body is
/// empty or the expression is invalid (logged).
///
/// # Example
/// ```js
/// KSR.textops.subst_body("/^o=(.*) 10\\.0\\.0\\.1$/o=\\1 192.0.2.1/g");
/// ```
#[kemi]
pub fn subst_body(ctx: &mut Ctx, subst: &str) -> i32 {
    subst_part(ctx, subst, Part::Body)
}

/// Applies a sed-like substitution to the current Request-URI and sets
/// the result as the new Request-URI (immediately visible as `$ru`).
///
/// # Parameters
/// - `subst`: the expression, `/re/replacement/flags` (see `subst`).
///
/// # Returns
/// 1 when the URI was rewritten, -1 when nothing matched, the message is
/// not a request, the expression is invalid or the result is not a valid
/// URI (logged).
///
/// # Example
/// ```js
/// KSR.textops.subst_uri("/^sip:([0-9]+)@.*$/sip:\\1@gw.example.com/");
/// ```
#[kemi]
pub fn subst_uri(ctx: &mut Ctx, subst: &str) -> i32 {
    if subst.is_empty() {
        return -1;
    }
    let Some(se) = Subst::parse_logged(subst) else {
        return -1;
    };
    let vals = se.values(ctx);
    let Some(msg) = ctx.msg_mut() else {
        return -1;
    };
    let Some(uri) = msg.ruri_str() else {
        log::error(ORIGIN, format_args!("subst_uri needs a request"));
        return -1;
    };
    let Some(result) = se.apply(uri.as_bytes(), &vals) else {
        return -1;
    };
    let result = String::from_utf8_lossy(&result).into_owned();
    match msg.set_ruri(&result) {
        Ok(()) => 1,
        Err(e) => {
            log::error(
                ORIGIN,
                format_args!("cannot set the Request-URI to `{result}`: {e}"),
            );
            -1
        }
    }
}

/// Applies a sed-like substitution to the user part of the current
/// Request-URI (an empty string when it has none) and sets the result as
/// the new user part; an empty result removes the user part.
///
/// # Parameters
/// - `subst`: the expression, `/re/replacement/flags` (see `subst`).
///
/// # Returns
/// 1 when the user was rewritten, -1 when nothing matched, the message is
/// not a request, its Request-URI cannot be parsed or the expression is
/// invalid (logged).
///
/// # Example
/// ```js
/// KSR.textops.subst_user("/^00/+/");
/// ```
#[kemi]
pub fn subst_user(ctx: &mut Ctx, subst: &str) -> i32 {
    if subst.is_empty() {
        return -1;
    }
    let Some(se) = Subst::parse_logged(subst) else {
        return -1;
    };
    let vals = se.values(ctx);
    let Some(msg) = ctx.msg_mut() else {
        return -1;
    };
    let Some(uri) = msg.ruri_str() else {
        log::error(ORIGIN, format_args!("subst_user needs a request"));
        return -1;
    };
    let user = match crate::sip::Uri::parse(uri) {
        Ok(u) => u.user().unwrap_or(""),
        Err(e) => {
            log::error(ORIGIN, format_args!("cannot parse the Request-URI: {e}"));
            return -1;
        }
    };
    let Some(new_user) = se.apply(user.as_bytes(), &vals) else {
        return -1;
    };
    let new_user = String::from_utf8_lossy(&new_user);
    let Some(new_uri) = with_user(uri, &new_user) else {
        log::error(ORIGIN, format_args!("cannot set the user of `{uri}`"));
        return -1;
    };
    match msg.set_ruri(&new_uri) {
        Ok(()) => 1,
        Err(e) => {
            log::error(
                ORIGIN,
                format_args!("cannot set the Request-URI to `{new_uri}`: {e}"),
            );
            -1
        }
    }
}

/// `uri` with its user part replaced by `user` (added when it had none,
/// removed with its password when `user` is empty).
pub(crate) fn with_user(uri: &str, user: &str) -> Option<String> {
    let colon = uri.find(':')?;
    let rest = &uri[colon + 1..];
    let scheme_end = colon + 1;
    let tel = uri[..colon].eq_ignore_ascii_case("tel");
    if tel {
        let end = rest.find(';').map_or(uri.len(), |i| scheme_end + i);
        if user.is_empty() {
            return None;
        }
        return Some(format!("{}{}{}", &uri[..scheme_end], user, &uri[end..]));
    }
    match rest.find('@') {
        Some(at) => {
            let at = scheme_end + at;
            let user_end = uri[scheme_end..at].find(':').map_or(at, |p| scheme_end + p);
            if user.is_empty() {
                Some(format!("{}{}", &uri[..scheme_end], &uri[at + 1..]))
            } else {
                Some(format!(
                    "{}{}{}",
                    &uri[..scheme_end],
                    user,
                    &uri[user_end..]
                ))
            }
        }
        None if user.is_empty() => Some(uri.to_owned()),
        None => Some(format!("{}{}@{}", &uri[..scheme_end], user, rest)),
    }
}

/// Applies a sed-like substitution to the values of the headers with a
/// given name (see `subst` for the expression).
///
/// # Parameters
/// - `hname`: the header name; compact forms and case are handled.
/// - `subst`: the expression, `/re/replacement/flags`.
/// - `flags`: `f` for the first such header only, `l` the last only;
///   anything else (`""`, `a`) for every one.
///
/// # Returns
/// 1 when something was replaced, -1 when nothing matched (with `f`, in
/// the first header), there is no such header or an argument is invalid
/// (logged).
///
/// # Example
/// ```js
/// KSR.textops.subst_hf("From", "/@internal\\.example\\.com/@example.com/", "f");
/// ```
#[kemi]
pub fn subst_hf(ctx: &mut Ctx, hname: &str, subst: &str, flags: &str) -> i32 {
    if hname.is_empty() || subst.is_empty() || !header_name_ok(hname) {
        return -1;
    }
    let Some(se) = Subst::parse_logged(subst) else {
        return -1;
    };
    let vals = se.values(ctx);
    let Some(msg) = ctx.msg_mut() else {
        return -1;
    };
    let lay = Layout::of(msg);
    let mut reps = Vec::new();
    for (s, e) in header_values(msg, &lay, hname, Which::from_flags(flags)) {
        let value = msg.as_bytes().get(s..e).unwrap_or(&[]);
        match se.run(value, &vals) {
            Ok(found) => reps.extend(found.into_iter().map(|(a, b, t)| (a + s, b + s, t))),
            Err(e) => {
                log::error(ORIGIN, format_args!("{e}"));
                break;
            }
        }
    }
    if reps.is_empty() || !record(msg, &lay, &reps) {
        return -1;
    }
    1
}

/// Applies a sed-like substitution to a string and stores the result in a
/// pseudo-variable (see `subst` for the expression).
///
/// # Parameters
/// - `itext`: the input string.
/// - `subex`: the expression, `/re/replacement/flags`.
/// - `opv`: the name of a writable pseudo-variable, such as `$var(out)`.
///
/// # Returns
/// 1 when something was replaced and stored, -1 when nothing matched or an
/// argument is invalid (logged).
///
/// # Example
/// ```js
/// KSR.textops.subst_v(KSR.pv.gete("$var(num)"), "/^0/+44/", "$var(e164)");
/// ```
#[kemi(toplevel)]
pub fn subst_v(ctx: &mut Ctx, itext: &str, subex: &str, opv: &str) -> i32 {
    let Some(se) = Subst::parse_logged(subex) else {
        return -1;
    };
    let vals = se.values(ctx);
    let Some(result) = se.apply(itext.as_bytes(), &vals) else {
        return -1;
    };
    if set_pv_str(ctx, opv, &result) {
        1
    } else {
        -1
    }
}

/// Finds a regular expression (extended, case-sensitive) in a string and
/// stores one of its groups in a pseudo-variable.
///
/// # Parameters
/// - `itext`: the input string.
/// - `regexp`: the regular expression.
/// - `mindex`: which group to store: 0 for the whole match, 1 for the
///   first group, ...
/// - `nmatch`: how many groups to consider (the whole match counts); must
///   be greater than `mindex`.
/// - `dpv`: the name of a writable pseudo-variable, such as `$var(out)`.
///
/// # Returns
/// 1 when stored, -2 when the expression does not match, -1 when the
/// group did not take part in the match, matched nothing, or an argument
/// is invalid (logged).
///
/// # Example
/// ```js
/// KSR.textops.regex_substring("sip:alice@example.com", "sip:([a-z]+)@", 1, 2, "$var(user)");
/// ```
#[kemi(toplevel)]
pub fn regex_substring(
    ctx: &mut Ctx,
    itext: &str,
    regexp: &str,
    mindex: i32,
    nmatch: i32,
    dpv: &str,
) -> i32 {
    if dpv.is_empty() {
        log::error(ORIGIN, format_args!("destination pseudo-variable is empty"));
        return -1;
    }
    if mindex < 0 || nmatch <= 0 || mindex > nmatch - 1 {
        log::error(
            ORIGIN,
            format_args!("matched index {mindex} must be below the match count {nmatch}"),
        );
        return -1;
    }
    let Some(rx) = regex(regexp, ReOpts::PLAIN) else {
        return -1;
    };
    let Some(caps) = rx.captures(itext.as_bytes()) else {
        log::debug(ORIGIN, format_args!("no matches"));
        return -2;
    };
    let Some(group) = usize::try_from(mindex).ok().and_then(|i| caps.get(i)) else {
        log::warn(
            ORIGIN,
            format_args!("group {mindex} is not part of the match"),
        );
        return -1;
    };
    if group.is_empty() {
        log::warn(ORIGIN, format_args!("matched string is empty"));
        return -1;
    }
    if set_pv_str(ctx, dpv, group.as_bytes()) {
        1
    } else {
        -1
    }
}

// ---------------------------------------------------------------------------
// Removing headers.

/// Removes every header with a given name.
///
/// # Parameters
/// - `hname`: the header name; compact forms and case are handled.
///
/// # Returns
/// 1, also when there was no such header (as in Kamailio: test with
/// `is_present_hf`); -1 when the name is invalid (logged).
///
/// # Example
/// ```js
/// KSR.textops.remove_hf("P-Asserted-Identity");
/// ```
#[kemi]
pub fn remove_hf(ctx: &mut Ctx, hname: &str) -> i32 {
    if !header_name_ok(hname) {
        return -1;
    }
    let Some(msg) = ctx.msg_mut() else {
        return -1;
    };
    msg.delete_headers_by_name(hname);
    1
}

/// Removes every header whose name, as written, matches a regular
/// expression.
///
/// # Parameters
/// - `re`: the regular expression for the name (case-insensitive).
///
/// # Returns
/// 1 when at least one was removed, -1 when none matched or the expression
/// does not compile (logged).
///
/// # Example
/// ```js
/// KSR.textops.remove_hf_re("^X-Internal-");
/// ```
#[kemi]
pub fn remove_hf_re(ctx: &mut Ctx, re: &str) -> i32 {
    let Some(rx) = regex(re, ReOpts::TEXT) else {
        return -1;
    };
    remove_where(ctx, |name, _| rx.is_match(name.as_bytes()))
}

/// Removes every header whose name matches one regular expression and not
/// another.
///
/// # Parameters
/// - `ematch`: the expression a name must match (case-insensitive).
/// - `eskip`: the expression of names to keep (case-insensitive).
///
/// # Returns
/// 1 when at least one was removed, -1 when none was or an expression does
/// not compile (logged).
///
/// # Example
/// ```js
/// KSR.textops.remove_hf_exp("^X-", "^X-Keep-");
/// ```
#[kemi]
pub fn remove_hf_exp(ctx: &mut Ctx, ematch: &str, eskip: &str) -> i32 {
    let (Some(m), Some(s)) = (regex(ematch, ReOpts::TEXT), regex(eskip, ReOpts::TEXT)) else {
        return -1;
    };
    remove_where(ctx, |name, _| {
        !s.is_match(name.as_bytes()) && m.is_match(name.as_bytes())
    })
}

/// Removes the headers for which `pick(name, value)` holds; 1 when at
/// least one was, else -1.
fn remove_where(ctx: &mut Ctx, pick: impl Fn(&str, &str) -> bool) -> i32 {
    let Some(msg) = ctx.msg_mut() else {
        return -1;
    };
    let lines: Vec<Span> = msg
        .headers()
        .filter(|h| pick(h.name, h.value))
        .map(|h| h.line_span())
        .collect();
    for l in &lines {
        if let Err(e) = msg.delete_span(*l) {
            log::error(ORIGIN, format_args!("cannot remove a header: {e}"));
            return -1;
        }
    }
    if lines.is_empty() {
        -1
    } else {
        1
    }
}

/// Removes one header of a given name by its position among them.
///
/// # Parameters
/// - `hname`: the header name; compact forms and case are handled.
/// - `idx`: 0 for the first, 1 for the second, ...; -1 for the last, -2
///   for the one before, ...
///
/// # Returns
/// 1 when removed, and also when a negative index goes past the first
/// header (Kamailio's behaviour); 2 when a non-negative index is past the
/// last; -1 when the name is invalid (logged).
///
/// # Example
/// ```js
/// KSR.textops.remove_hf_idx("Via", -1);
/// ```
#[kemi]
pub fn remove_hf_idx(ctx: &mut Ctx, hname: &str, idx: i32) -> i32 {
    if !header_name_ok(hname) {
        return -1;
    }
    let Some(msg) = ctx.msg_mut() else {
        return -1;
    };
    let lines: Vec<Span> = msg.headers_by_name(hname).map(|h| h.line_span()).collect();
    let pos = if idx >= 0 {
        usize::try_from(idx).ok()
    } else {
        let back = usize::try_from(idx.unsigned_abs()).unwrap_or(usize::MAX);
        match lines.len().checked_sub(back) {
            Some(p) => Some(p),
            None => return 1,
        }
    };
    let Some(line) = pos.and_then(|p| lines.get(p)) else {
        return 2;
    };
    match msg.delete_span(*line) {
        Ok(()) => 1,
        Err(e) => {
            log::error(ORIGIN, format_args!("cannot remove {hname}: {e}"));
            -1
        }
    }
}

/// Removes the headers of a given name whose value matches.
///
/// # Parameters
/// - `hname`: the header name; compact forms and case are handled.
/// - `op`: `eq` (value equals `expr`), `ne` (value differs), `in` (value
///   contains `expr`), all case-sensitive; or `re` (value matches the
///   regular expression `expr`, case-insensitive).
/// - `expr`: the text or regular expression to compare with.
///
/// # Returns
/// 1 when at least one was removed, -2 when none matched, -1 on an unknown
/// operator, an invalid name or a bad expression (logged).
///
/// # Example
/// ```js
/// KSR.textops.remove_hf_match("Supported", "in", "timer");
/// ```
#[kemi]
pub fn remove_hf_match(ctx: &mut Ctx, hname: &str, op: &str, expr: &str) -> i32 {
    if !header_name_ok(hname) {
        return -1;
    }
    let rx = if op.eq_ignore_ascii_case("re") {
        match regex(expr, ReOpts::TEXT) {
            Some(r) => Some(r),
            None => return -1,
        }
    } else {
        None
    };
    let test: Box<dyn Fn(&str) -> bool> = match (op.to_ascii_lowercase().as_str(), rx) {
        ("eq", _) => Box::new(|v: &str| v == expr),
        ("ne", _) => Box::new(|v: &str| v != expr),
        ("in", _) => Box::new(|v: &str| find_bytes(v.as_bytes(), expr.as_bytes(), 0).is_some()),
        ("re", Some(r)) => Box::new(move |v: &str| r.is_match(v.as_bytes())),
        _ => {
            log::error(ORIGIN, format_args!("unknown operator `{op}`"));
            return -1;
        }
    };
    let Some(msg) = ctx.msg_mut() else {
        return -1;
    };
    let lines: Vec<Span> = msg
        .headers_by_name(hname)
        .filter(|h| test(h.value))
        .map(|h| h.line_span())
        .collect();
    for l in &lines {
        if let Err(e) = msg.delete_span(*l) {
            log::error(ORIGIN, format_args!("cannot remove {hname}: {e}"));
            return -1;
        }
    }
    if lines.is_empty() {
        -2
    } else {
        1
    }
}

// ---------------------------------------------------------------------------
// The body.

/// Replaces the body and sets its Content-Type (Content-Length follows).
///
/// # Parameters
/// - `txt`: the new body; must not be empty.
/// - `content_type`: the Content-Type value, such as `text/plain`; must
///   not be empty.
///
/// # Returns
/// 1 when set, -1 when an argument is empty or invalid (logged).
///
/// # Example
/// ```js
/// KSR.textops.set_body("Hello", "text/plain");
/// ```
#[kemi]
pub fn set_body(ctx: &mut Ctx, txt: &str, content_type: &str) -> i32 {
    replace_body_with(ctx, txt.as_bytes(), content_type)
}

/// Replaces the body with bytes given in hexadecimal and sets its
/// Content-Type. White space between the hex digits is ignored.
///
/// # Parameters
/// - `hextxt`: the new body in hexadecimal, such as `48 65 6c 6c 6f`.
/// - `content_type`: the Content-Type value; must not be empty.
///
/// # Returns
/// 1 when set, -1 when an argument is empty or not valid hexadecimal
/// (logged).
///
/// # Example
/// ```js
/// KSR.textops.set_body_hex("48656c6c6f", "application/octet-stream");
/// ```
#[kemi]
pub fn set_body_hex(ctx: &mut Ctx, hextxt: &str, content_type: &str) -> i32 {
    match decode_hex(hextxt) {
        Some(body) => replace_body_with(ctx, &body, content_type),
        None => {
            log::error(ORIGIN, format_args!("invalid hexadecimal body"));
            -1
        }
    }
}

/// Decodes hexadecimal digits, skipping white space.
pub(crate) fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = hex.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    if digits.is_empty() || !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|p| {
            let h = char::from(p[0]).to_digit(16)?;
            let l = char::from(p[1]).to_digit(16)?;
            u8::try_from(h * 16 + l).ok()
        })
        .collect()
}

fn replace_body_with(ctx: &mut Ctx, body: &[u8], content_type: &str) -> i32 {
    if body.is_empty() {
        log::error(ORIGIN, format_args!("invalid body parameter"));
        return -1;
    }
    if content_type.is_empty() {
        log::error(ORIGIN, format_args!("invalid content-type parameter"));
        return -1;
    }
    let Some(msg) = ctx.msg_mut() else {
        return -1;
    };
    match msg.set_body(body, Some(content_type)) {
        Ok(()) => 1,
        Err(e) => {
            log::error(ORIGIN, format_args!("cannot set the body: {e}"));
            -1
        }
    }
}

/// The length of the body as the message declares it: Content-Length when
/// present, else the bytes after the headers.
fn declared_body_len(msg: &SipMsg) -> usize {
    match msg.content_length() {
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        None => msg.body().len(),
    }
}

/// Checks whether the message has a body (a non-zero Content-Length, or
/// body bytes when there is no Content-Length).
///
/// # Returns
/// 1 when it has one, -1 when not.
///
/// # Example
/// ```js
/// if (KSR.textops.has_body() > 0) {
///     KSR.info("with body\n");
/// }
/// ```
#[kemi]
pub fn has_body(ctx: &mut Ctx) -> i32 {
    match ctx.msg() {
        Some(msg) if declared_body_len(msg) > 0 => 1,
        _ => -1,
    }
}

/// Checks whether the message has a body of a given type. Without a
/// Content-Type header the body counts as `application/sdp` (RFC 3261).
///
/// # Parameters
/// - `ctype`: the type, such as `application/sdp` (case-insensitive,
///   parameters ignored); `""` accepts any type, as `has_body`.
///
/// # Returns
/// 1 when the body is present and of that type, -1 otherwise.
///
/// # Example
/// ```js
/// if (KSR.textops.has_body_type("application/sdp") > 0) {
///     KSR.info("SDP offer\n");
/// }
/// ```
#[kemi]
pub fn has_body_type(ctx: &mut Ctx, ctype: &str) -> i32 {
    let Some(msg) = ctx.msg() else {
        return -1;
    };
    if declared_body_len(msg) == 0 {
        return -1;
    }
    if ctype.is_empty() {
        return 1;
    }
    let actual = msg
        .header(HeaderName::ContentType)
        .map_or("application/sdp", |h| h.value);
    if mime_type(actual).eq_ignore_ascii_case(mime_type(ctype)) {
        1
    } else {
        -1
    }
}

/// `type/subtype` of a Content-Type value, parameters and spaces removed.
pub(crate) fn mime_type(value: &str) -> &str {
    value.split(';').next().unwrap_or("").trim()
}

/// Checks whether the Privacy header (RFC 3323) asks for a privacy type.
///
/// # Parameters
/// - `privacy`: one of `header`, `session`, `user`, `none`, `critical`,
///   `id` or `history` (case-insensitive).
///
/// # Returns
/// 1 when the first Privacy header lists it, -1 when it does not, there is
/// no Privacy header, or a value is not a privacy type (logged).
///
/// # Example
/// ```js
/// if (KSR.textops.is_privacy("id") > 0) {
///     KSR.textops.remove_hf("P-Asserted-Identity");
/// }
/// ```
#[kemi]
pub fn is_privacy(ctx: &mut Ctx, privacy: &str) -> i32 {
    const TYPES: [&str; 7] = [
        "header", "session", "user", "none", "critical", "id", "history",
    ];
    if !TYPES.iter().any(|t| t.eq_ignore_ascii_case(privacy)) {
        log::error(ORIGIN, format_args!("invalid privacy value `{privacy}`"));
        return -1;
    }
    let Some(h) = ctx.msg().and_then(|m| m.header_by_name("Privacy")) else {
        return -1;
    };
    let mut found = false;
    for v in h.value.split(';').map(str::trim).filter(|v| !v.is_empty()) {
        if !TYPES.iter().any(|t| t.eq_ignore_ascii_case(v)) {
            log::error(ORIGIN, format_args!("bad Privacy header value `{v}`"));
            return -1;
        }
        found |= v.eq_ignore_ascii_case(privacy);
    }
    if found {
        1
    } else {
        -1
    }
}

/// Checks whether an SDP body puts an audio stream on hold: with the
/// connection address `0.0.0.0` (RFC 2543) or with `a=sendonly` or
/// `a=inactive` (RFC 3264), for the stream or the whole session. An SDP
/// part of a multipart body counts.
///
/// # Returns
/// 1 when on hold the RFC 2543 way, 2 the RFC 3264 way, -1 when no audio
/// stream is on hold or there is no SDP.
///
/// # Example
/// ```js
/// if (KSR.textops.is_audio_on_hold() > 0) {
///     KSR.info("call put on hold\n");
/// }
/// ```
#[kemi]
pub fn is_audio_on_hold(ctx: &mut Ctx) -> i32 {
    let Some(msg) = ctx.msg() else {
        return -1;
    };
    let Some(sdp) = sdp_of(msg) else {
        return -1;
    };
    audio_hold(sdp).map_or(-1, i32::from)
}

/// The SDP of a message: the body, or its first `application/sdp` part.
fn sdp_of(msg: &SipMsg) -> Option<&[u8]> {
    let body = msg.body();
    if body.is_empty() {
        return None;
    }
    let ct = msg
        .header(HeaderName::ContentType)
        .map_or("application/sdp", |h| h.value);
    let mime = mime_type(ct);
    if mime.eq_ignore_ascii_case("application/sdp") {
        return Some(body);
    }
    if mime.len() >= 10 && mime[..10].eq_ignore_ascii_case("multipart/") {
        let parts = Multipart::parse(ct, body)?;
        return parts
            .parts
            .iter()
            .find(|p| mime_type(&p.content_type).eq_ignore_ascii_case("application/sdp"))
            .and_then(|p| body.get(p.content.0..p.content.1));
    }
    None
}

/// The hold state of the first audio stream on hold: 1 (RFC 2543,
/// `0.0.0.0`) or 2 (RFC 3264, `sendonly`/`inactive`).
fn audio_hold(sdp: &[u8]) -> Option<u8> {
    #[derive(Default)]
    struct Stream {
        audio: bool,
        port_9: bool,
        hold: u8,
        zero_c: Option<bool>,
        trickle: bool,
    }
    let mut session_hold = 0u8;
    let mut session_zero = false;
    let mut session_trickle = false;
    let mut streams: Vec<Stream> = Vec::new();
    for line in sdp.split(|&c| c == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let text = String::from_utf8_lossy(line);
        let (kind, value) = match text.split_once('=') {
            Some((k, v)) if k.len() == 1 => (k, v.trim()),
            _ => continue,
        };
        let attr_hold = |v: &str| {
            let v = v.to_ascii_lowercase();
            u8::from(v == "sendonly" || v == "inactive") * 2
        };
        let is_zero = |v: &str| {
            let mut f = v.split_whitespace();
            f.next() == Some("IN") && f.next() == Some("IP4") && f.next() == Some("0.0.0.0")
        };
        match (kind, streams.last_mut()) {
            ("m", _) => {
                let mut f = value.split_whitespace();
                let media = f.next().unwrap_or("");
                let port = f.next().unwrap_or("");
                streams.push(Stream {
                    audio: media == "audio",
                    port_9: port == "9",
                    ..Stream::default()
                });
            }
            ("c", None) => session_zero = is_zero(value),
            ("c", Some(s)) => s.zero_c = Some(is_zero(value)),
            ("a", None) => {
                session_hold = session_hold.max(attr_hold(value));
                session_trickle |= value.eq_ignore_ascii_case("ice-options:trickle");
            }
            ("a", Some(s)) => {
                s.hold = s.hold.max(attr_hold(value));
                s.trickle |= value.eq_ignore_ascii_case("ice-options:trickle");
            }
            _ => {}
        }
    }
    for s in streams.iter_mut().filter(|s| s.audio) {
        if s.hold == 0 {
            let zero = s.zero_c.unwrap_or(session_zero);
            let ice_renegotiation = (s.trickle || session_trickle) && s.port_9;
            if zero && !ice_renegotiation {
                s.hold = 1;
            }
        }
        if s.hold != 0 {
            return Some(s.hold);
        }
        if session_hold != 0 {
            return Some(session_hold);
        }
    }
    None
}

// ---------------------------------------------------------------------------
// Multipart bodies.

/// One part of a multipart body, offsets relative to the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BodyPart {
    /// From the first byte after the delimiter line to the line break
    /// before the next delimiter: the part's headers, empty line, content.
    pub(crate) whole: (usize, usize),
    /// The content after the part's empty line.
    pub(crate) content: (usize, usize),
    /// The part's Content-Type value (`text/plain` when absent, RFC 2046).
    pub(crate) content_type: String,
}

/// A multipart body split at its boundary (RFC 2046 §5.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Multipart {
    pub(crate) parts: Vec<BodyPart>,
}

impl Multipart {
    /// Splits `body` using the `boundary` parameter of the Content-Type
    /// value `ct`; `None` when it has none or no delimiter is found.
    pub(crate) fn parse(ct: &str, body: &[u8]) -> Option<Multipart> {
        let boundary = crate::sip::Params::parse(ct.get(ct.find(';')?..)?)
            .find("boundary")??
            .trim_matches('"')
            .to_owned();
        if boundary.is_empty() {
            return None;
        }
        let delim = format!("--{boundary}");
        let delim = delim.as_bytes();
        // Delimiter lines: at the start of the body or after a line break.
        let mut starts = Vec::new();
        let mut at = 0;
        while let Some(p) = find_bytes(body, delim, at) {
            if p == 0 || body[p - 1] == b'\n' {
                starts.push(p);
            }
            at = p + delim.len();
        }
        let mut parts = Vec::new();
        for (k, &p) in starts.iter().enumerate() {
            let after = p + delim.len();
            if body.get(after..after + 2) == Some(&b"--"[..]) {
                break;
            }
            let Some(next) = starts.get(k + 1) else {
                break;
            };
            let line_end = body[after..*next]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(*next, |i| after + i + 1);
            // The line break before the next delimiter belongs to it.
            let mut end = *next;
            if end > line_end && body[end - 1] == b'\n' {
                end -= 1;
                if end > line_end && body[end - 1] == b'\r' {
                    end -= 1;
                }
            }
            let part = &body[line_end..end];
            let (headers_len, content_start) = match find_bytes(part, b"\r\n\r\n", 0) {
                Some(i) => (i, i + 4),
                None => match find_bytes(part, b"\n\n", 0) {
                    Some(i) => (i, i + 2),
                    None if part.starts_with(b"\r\n") => (0, 2),
                    None if part.starts_with(b"\n") => (0, 1),
                    None => (part.len(), part.len()),
                },
            };
            let headers = String::from_utf8_lossy(&part[..headers_len]);
            let content_type = headers
                .lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(n, _)| HeaderName::from_str(n.trim()) == HeaderName::ContentType)
                .map_or_else(|| "text/plain".to_owned(), |(_, v)| v.trim().to_owned());
            parts.push(BodyPart {
                whole: (line_end, end),
                content: (line_end + content_start.min(part.len()), end),
                content_type,
            });
        }
        if parts.is_empty() {
            None
        } else {
            Some(Multipart { parts })
        }
    }
}

/// The multipart structure of the message body, if it has one.
fn multipart_of(msg: &SipMsg) -> Option<Multipart> {
    let ct = msg.header(HeaderName::ContentType)?.value;
    Multipart::parse(ct, msg.body())
}

/// The first part of type `ctype` (case-insensitive, parameters ignored).
fn find_part<'m>(parts: &'m Multipart, ctype: &str) -> Option<&'m BodyPart> {
    parts
        .parts
        .iter()
        .find(|p| mime_type(&p.content_type).eq_ignore_ascii_case(mime_type(ctype)))
}

/// Keeps only the content of the first part of a given type in a
/// multipart body: the rest of the body goes. The Content-Type header is
/// left as it is; change it with `KSR.textopsx.assign_hf_value` or
/// `KSR.hdr` when needed.
///
/// # Parameters
/// - `content_type`: the part type to keep, such as `application/sdp`.
///
/// # Returns
/// 1 when filtered, -1 when the body is empty, not multipart, or has no
/// such part (logged).
///
/// # Example
/// ```js
/// KSR.textops.filter_body("application/sdp");
/// ```
#[kemi]
pub fn filter_body(ctx: &mut Ctx, content_type: &str) -> i32 {
    let Some(msg) = ctx.msg_mut() else {
        return -1;
    };
    if msg.body().is_empty() {
        log::debug(ORIGIN, format_args!("message body has zero length"));
        return -1;
    }
    let Some(parts) = multipart_of(msg) else {
        log::warn(ORIGIN, format_args!("body not multipart"));
        return -1;
    };
    let Some(part) = find_part(&parts, content_type) else {
        log::error(ORIGIN, format_args!("no {content_type} part in the body"));
        return -1;
    };
    let lay = Layout::of(msg);
    let len = msg.body().len();
    let reps = [
        (lay.body, lay.body + part.content.0, Vec::new()),
        (lay.body + part.content.1, lay.body + len, Vec::new()),
    ];
    if record(msg, &lay, &reps) {
        1
    } else {
        -1
    }
}

/// Stores the content of the first body part of a given type in a
/// pseudo-variable. A body that is not multipart is stored whole.
///
/// # Parameters
/// - `ctype`: the part type, such as `application/sdp`.
/// - `opv`: the name of a writable pseudo-variable, such as `$var(sdp)`.
///
/// # Returns
/// 1 when stored, -1 when the body is empty, has no such part, or the
/// variable is not writable (logged).
///
/// # Example
/// ```js
/// KSR.textops.get_body_part("application/sdp", "$var(sdp)");
/// ```
#[kemi]
pub fn get_body_part(ctx: &mut Ctx, ctype: &str, opv: &str) -> i32 {
    body_part_to_pv(ctx, ctype, opv, false)
}

/// Stores the first body part of a given type, with its own headers, in a
/// pseudo-variable. A body that is not multipart is stored whole.
///
/// # Parameters
/// - `ctype`: the part type, such as `application/sdp`.
/// - `opv`: the name of a writable pseudo-variable, such as `$var(part)`.
///
/// # Returns
/// 1 when stored, -1 when the body is empty, has no such part, or the
/// variable is not writable (logged).
///
/// # Example
/// ```js
/// KSR.textops.get_body_part_raw("application/pidf+xml", "$var(part)");
/// ```
#[kemi]
pub fn get_body_part_raw(ctx: &mut Ctx, ctype: &str, opv: &str) -> i32 {
    body_part_to_pv(ctx, ctype, opv, true)
}

fn body_part_to_pv(ctx: &mut Ctx, ctype: &str, opv: &str, raw: bool) -> i32 {
    let Some(msg) = ctx.msg() else {
        return -1;
    };
    let body = msg.body();
    if body.is_empty() {
        log::debug(ORIGIN, format_args!("message body has zero length"));
        return -1;
    }
    let value = match multipart_of(msg) {
        None => body.to_vec(),
        Some(parts) => match find_part(&parts, ctype) {
            Some(p) => {
                let (s, e) = if raw { p.whole } else { p.content };
                body.get(s..e).unwrap_or(&[]).to_vec()
            }
            None => {
                log::debug(ORIGIN, format_args!("no {ctype} part in the body"));
                return -1;
            }
        },
    };
    if set_pv_str(ctx, opv, &value) {
        1
    } else {
        -1
    }
}

/// Removes the first part of a given type from a multipart body, with the
/// delimiter line before it.
///
/// # Parameters
/// - `content_type`: the part type, such as `application/sdp`.
///
/// # Returns
/// 1 when removed, -1 when the body is empty, not multipart, or has no
/// such part (logged).
///
/// # Example
/// ```js
/// KSR.textops.remove_body_part("application/vnd.example+xml");
/// ```
#[kemi]
pub fn remove_body_part(ctx: &mut Ctx, content_type: &str) -> i32 {
    let Some(msg) = ctx.msg_mut() else {
        return -1;
    };
    if msg.body().is_empty() {
        return -1;
    }
    let Some(parts) = multipart_of(msg) else {
        log::error(ORIGIN, format_args!("body is not multipart"));
        return -1;
    };
    let Some(part) = find_part(&parts, content_type) else {
        log::error(ORIGIN, format_args!("no {content_type} part in the body"));
        return -1;
    };
    // From the start of this part's delimiter line to the start of the
    // next delimiter line.
    let body = msg.body();
    let line_start = body[..part.whole.0.saturating_sub(1)]
        .iter()
        .rposition(|&c| c == b'\n')
        .map_or(0, |i| i + 1);
    let mut next = part.whole.1;
    while next < body.len() && (body[next] == b'\r' || body[next] == b'\n') {
        next += 1;
        if body[next - 1] == b'\n' {
            break;
        }
    }
    let lay = Layout::of(msg);
    if record(
        msg,
        &lay,
        &[(lay.body + line_start, lay.body + next, Vec::new())],
    ) {
        1
    } else {
        -1
    }
}

// ---------------------------------------------------------------------------
// Strings.

/// Splits a list at `sep`, trimming white space around each item, with
/// Kamailio's rule that the list ends at the last separator's item.
fn list_items<'a>(list: &'a str, sep: char) -> impl Iterator<Item = &'a str> + 'a {
    list.split(sep)
        .map(|i| i.trim_matches([' ', '\t', '\r', '\n']))
}

/// Checks whether a string is an item of a separated list; items are
/// trimmed of white space and compared case-sensitively.
///
/// # Parameters
/// - `subject`: the string to look for.
/// - `list`: the list, such as `"INVITE, BYE, CANCEL"`.
/// - `vsep`: the separator; only its first character is used.
///
/// # Returns
/// 1 when found, -1 when not or an argument is empty.
///
/// # Example
/// ```js
/// if (KSR.textops.in_list(KSR.pv.gete("$rm"), "INVITE,UPDATE", ",") > 0) {
///     KSR.info("session refresh method\n");
/// }
/// ```
#[kemi(toplevel)]
pub fn in_list(_ctx: &mut Ctx, subject: &str, list: &str, vsep: &str) -> i32 {
    let Some(sep) = vsep.chars().next() else {
        return -1;
    };
    if subject.is_empty() || list.is_empty() {
        return -1;
    }
    if list_items(list, sep).any(|i| i == subject) {
        1
    } else {
        -1
    }
}

/// Checks whether an item of a separated list is a prefix of a string;
/// items are trimmed of white space, empty items never match.
///
/// # Parameters
/// - `subject`: the string to test, such as a dialled number.
/// - `list`: the list of prefixes, such as `"+44, +33"`.
/// - `vsep`: the separator; only its first character is used.
///
/// # Returns
/// 1 when an item is a prefix of `subject`, -1 when none is or an argument
/// is empty.
///
/// # Example
/// ```js
/// if (KSR.textops.in_list_prefix(KSR.pv.gete("$rU"), "+44,+33", ",") > 0) {
///     KSR.info("european destination\n");
/// }
/// ```
#[kemi(toplevel)]
pub fn in_list_prefix(_ctx: &mut Ctx, subject: &str, list: &str, vsep: &str) -> i32 {
    let Some(sep) = vsep.chars().next() else {
        return -1;
    };
    if subject.is_empty() || list.is_empty() {
        return -1;
    }
    if list_items(list, sep).any(|i| !i.is_empty() && subject.starts_with(i)) {
        1
    } else {
        -1
    }
}

/// 1 for equal, -1 when `a` sorts after `b`, -2 before.
fn ordering_code(o: std::cmp::Ordering) -> i32 {
    match o {
        std::cmp::Ordering::Equal => 1,
        std::cmp::Ordering::Greater => -1,
        std::cmp::Ordering::Less => -2,
    }
}

/// Compares two strings, case-sensitively.
///
/// # Parameters
/// - `s1`: the first string.
/// - `s2`: the second string.
///
/// # Returns
/// 1 when equal, -1 when `s1` sorts after `s2`, -2 when before (byte
/// order).
///
/// # Example
/// ```js
/// if (KSR.textops.cmp_str(KSR.pv.gete("$rU"), KSR.pv.gete("$fU")) > 0) {
///     KSR.info("calling self\n");
/// }
/// ```
#[kemi(toplevel)]
pub fn cmp_str(_ctx: &mut Ctx, s1: &str, s2: &str) -> i32 {
    ordering_code(s1.as_bytes().cmp(s2.as_bytes()))
}

/// Compares two strings, ignoring ASCII case.
///
/// # Parameters
/// - `s1`: the first string.
/// - `s2`: the second string.
///
/// # Returns
/// 1 when equal, -1 when `s1` sorts after `s2`, -2 when before (byte
/// order, lower case).
///
/// # Example
/// ```js
/// if (KSR.textops.cmp_istr(KSR.pv.gete("$rd"), "Example.COM") > 0) {
///     KSR.info("local domain\n");
/// }
/// ```
#[kemi(toplevel)]
pub fn cmp_istr(_ctx: &mut Ctx, s1: &str, s2: &str) -> i32 {
    let a = s1.bytes().map(|c| c.to_ascii_lowercase());
    let b = s2.bytes().map(|c| c.to_ascii_lowercase());
    ordering_code(a.cmp(b))
}

/// Checks whether a string starts with another (case-sensitive).
///
/// # Parameters
/// - `s1`: the string.
/// - `s2`: the prefix.
///
/// # Returns
/// 1 when it does; -1 when not (`s1` shorter, or its start sorts after
/// `s2`), -2 when its start sorts before `s2`.
///
/// # Example
/// ```js
/// if (KSR.textops.starts_with(KSR.pv.gete("$rU"), "+44") > 0) {
///     KSR.info("UK number\n");
/// }
/// ```
#[kemi(toplevel)]
pub fn starts_with(_ctx: &mut Ctx, s1: &str, s2: &str) -> i32 {
    match s1.as_bytes().get(..s2.len()) {
        Some(head) => ordering_code(head.cmp(s2.as_bytes())),
        None => -1,
    }
}

/// Checks whether a string ends with another (case-sensitive).
///
/// # Parameters
/// - `vstr`: the string.
/// - `vsuffix`: the suffix.
///
/// # Returns
/// 1 when it does; -1 when not (`vstr` shorter, or its end sorts after
/// `vsuffix`), -2 when its end sorts before `vsuffix`.
///
/// # Example
/// ```js
/// if (KSR.textops.ends_with(KSR.pv.gete("$rd"), ".example.com") > 0) {
///     KSR.info("our subdomain\n");
/// }
/// ```
#[kemi(toplevel)]
pub fn ends_with(_ctx: &mut Ctx, vstr: &str, vsuffix: &str) -> i32 {
    let a = vstr.as_bytes();
    match a.len().checked_sub(vsuffix.len()).and_then(|s| a.get(s..)) {
        Some(tail) => ordering_code(tail.cmp(vsuffix.as_bytes())),
        None => -1,
    }
}

/// Finds a string in another, case-sensitively.
///
/// # Parameters
/// - `txt`: the string to search.
/// - `needle`: the string to find.
///
/// # Returns
/// The 1-based position of the first occurrence, -1 when not found or
/// `needle` is empty.
///
/// # Example
/// ```js
/// if (KSR.textops.str_find(KSR.pv.gete("$ua"), "Asterisk") > 0) {
///     KSR.info("from a PBX\n");
/// }
/// ```
#[kemi(toplevel)]
pub fn str_find(_ctx: &mut Ctx, txt: &str, needle: &str) -> i32 {
    position_code(find_bytes(txt.as_bytes(), needle.as_bytes(), 0))
}

/// Finds a string in another, ignoring ASCII case.
///
/// # Parameters
/// - `txt`: the string to search.
/// - `needle`: the string to find.
///
/// # Returns
/// The 1-based position of the first occurrence, -1 when not found or
/// `needle` is empty.
///
/// # Example
/// ```js
/// if (KSR.textops.str_ifind(KSR.pv.gete("$ua"), "asterisk") > 0) {
///     KSR.info("from a PBX\n");
/// }
/// ```
#[kemi(toplevel)]
pub fn str_ifind(_ctx: &mut Ctx, txt: &str, needle: &str) -> i32 {
    let t = txt.to_ascii_lowercase();
    let n = needle.to_ascii_lowercase();
    position_code(find_bytes(t.as_bytes(), n.as_bytes(), 0))
}

fn position_code(p: Option<usize>) -> i32 {
    p.and_then(|p| i32::try_from(p + 1).ok()).unwrap_or(-1)
}

/// Checks whether a string contains any of a set of characters.
///
/// # Parameters
/// - `txt`: the string.
/// - `clist`: the characters to look for.
///
/// # Returns
/// 1 when one is present, -1 when none is or an argument is empty.
///
/// # Example
/// ```js
/// if (KSR.textops.str_any_in(KSR.pv.gete("$rU"), "*#") > 0) {
///     KSR.info("feature code\n");
/// }
/// ```
#[kemi(toplevel)]
pub fn str_any_in(_ctx: &mut Ctx, txt: &str, clist: &str) -> i32 {
    if txt.is_empty() || clist.is_empty() {
        return -1;
    }
    if txt.bytes().any(|c| clist.as_bytes().contains(&c)) {
        1
    } else {
        -1
    }
}

/// Checks whether a string contains every one of a set of characters.
///
/// # Parameters
/// - `txt`: the string.
/// - `clist`: the characters that must all be present.
///
/// # Returns
/// 1 when all are present, -1 when one is missing or an argument is empty.
///
/// # Example
/// ```js
/// if (KSR.textops.str_all_in(KSR.pv.gete("$fu"), "@:") > 0) {
///     KSR.info("user and scheme present\n");
/// }
/// ```
#[kemi(toplevel)]
pub fn str_all_in(_ctx: &mut Ctx, txt: &str, clist: &str) -> i32 {
    if txt.is_empty() || clist.is_empty() {
        return -1;
    }
    if clist.bytes().all(|c| txt.as_bytes().contains(&c)) {
        1
    } else {
        -1
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ctx::WorkerLocal;
    use crate::transport::{Proto, RecvInfo};

    pub(crate) const INVITE: &str = "INVITE sip:bob@example.com SIP/2.0\r\n\
        Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n\
        From: Alice <sip:alice@internal.example.com>;tag=a1\r\n\
        To: <sip:bob@example.com>\r\n\
        Call-ID: c1@10.0.0.1\r\n\
        CSeq: 1 INVITE\r\n\
        Supported: timer, 100rel\r\n\
        X-Trace: one\r\n\
        x-trace: two\r\n\
        Content-Type: application/sdp\r\n\
        Content-Length: 49\r\n\
        \r\n\
        v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\nc=IN IP4 10.0.0.1\r\n";

    pub(crate) fn recv() -> RecvInfo {
        RecvInfo {
            proto: Proto::Udp,
            src: "10.0.0.1:5060".parse().expect("address"),
            local: "192.0.2.10:5060".parse().expect("address"),
            conn: None,
        }
    }

    /// Runs `f` on a context for `raw`; gives back its result, the message
    /// as it would be sent, and the message itself.
    pub(crate) fn with_msg<R>(raw: &str, f: impl FnOnce(&mut Ctx) -> R) -> (R, String, SipMsg) {
        let mut msg = SipMsg::parse(raw.to_owned()).expect("test message parses");
        let mut w = WorkerLocal::default();
        let r = {
            let mut ctx = Ctx::for_message(&mut w, &mut msg, recv());
            f(&mut ctx)
        };
        let out = String::from_utf8_lossy(&msg.to_bytes()).into_owned();
        (r, out, msg)
    }

    fn no_msg<R>(f: impl FnOnce(&mut Ctx) -> R) -> R {
        let mut w = WorkerLocal::default();
        let mut ctx = Ctx::without_message(&mut w);
        f(&mut ctx)
    }

    #[test]
    fn regexes_are_cached_per_worker() {
        let a = cached_regex("^a.c$", ReOpts::TEXT).expect("compiles");
        let b = cached_regex("^a.c$", ReOpts::TEXT).expect("compiles");
        assert!(Rc::ptr_eq(&a, &b));
        let c = cached_regex("^a.c$", ReOpts::PLAIN).expect("compiles");
        assert!(!Rc::ptr_eq(&a, &c));
        for i in 0..(RE_CACHE_SLOTS * 2) {
            cached_regex(&format!("x{i}"), ReOpts::TEXT).expect("compiles");
        }
        let n = RE_CACHE.with(|c| c.borrow().slots.len());
        assert_eq!(n, RE_CACHE_SLOTS);
        assert!(cached_regex("(", ReOpts::TEXT).is_err());
    }

    #[test]
    fn regex_options_follow_posix_flags() {
        let re = cached_regex("^b.c$", ReOpts::TEXT).expect("compiles");
        assert!(re.is_match(b"a\nBXC\nd"));
        assert!(!re.is_match(b"b\nc"));
        let re = cached_regex("b.c", ReOpts::PLAIN).expect("compiles");
        assert!(re.is_match(b"b\nc"));
        assert!(!re.is_match(b"B c"));
        let re = cached_regex("[[:digit:]]+\\>", ReOpts::TEXT).expect("compiles");
        assert!(re.is_match(b"abc 123"));
    }

    #[test]
    fn search_functions() {
        let (r, _, _) = with_msg(INVITE, |c| {
            (
                search(c, "^invite sip:"),
                search(c, "no-such-text"),
                search(c, ""),
                search(c, "("),
                search_body(c, "^c=IN IP4 10\\.0\\.0\\.1\r$"),
                search_body(c, "m=audio"),
                search_hf(c, "x-TRACE", "two", ""),
                search_hf(c, "X-Trace", "two", "f"),
                search_hf(c, "X-Trace", "two", "l"),
                search_hf(c, "f", "internal", "a"),
                search_hf(c, "Bad Name", "x", ""),
            )
        });
        assert_eq!(r, (1, -1, 1, -1, 1, -1, 1, -1, 1, 1, -1));
        let (r, _, _) = with_msg(INVITE, |c| {
            (
                search_str(c, "Polycom VVX", "^polycom"),
                search_str(c, "", "x"),
                search_str(c, "x", ""),
                is_present_hf(c, "i"),
                is_present_hf(c, "Route"),
                is_present_hf_re(c, "^x-tr"),
            )
        });
        assert_eq!(r, (1, -2, 2, 1, -1, 1));
    }

    #[test]
    fn search_append_inserts_after_the_match_and_reads_see_the_original() {
        let (r, out, msg) = with_msg(INVITE, |c| {
            let r = search_append(c, "^CSeq: 1 INVITE", " ;x");
            (r, search(c, ";x"))
        });
        assert_eq!(r, (1, -1));
        assert!(out.contains("CSeq: 1 INVITE ;x\r\n"));
        assert_eq!(
            msg.header(HeaderName::CSeq).map(|h| h.value),
            Some("1 INVITE")
        );
        let (r, out, _) = with_msg(INVITE, |c| search_append_body(c, "^v=0\r\n", "s=-\r\n"));
        assert_eq!(r, 1);
        assert!(out.contains("Content-Length: 54\r\n\r\nv=0\r\ns=-\r\n"));
    }

    #[test]
    fn replace_functions_skip_the_first_line() {
        let (r, out, _) = with_msg(INVITE, |c| replace(c, "INVITE", "BYE"));
        assert_eq!(r, 1);
        assert!(out.starts_with("INVITE sip:bob@example.com SIP/2.0\r\n"));
        assert!(out.contains("CSeq: 1 BYE\r\n"));
        let (r, out, _) = with_msg(INVITE, |c| replace_all(c, "10\\.0\\.0\\.1", "192.0.2.1"));
        assert_eq!(r, 1);
        assert!(!out.contains("10.0.0.1"));
        assert!(out.contains("Content-Length: 51\r\n"));
        let (r, _, _) = with_msg(INVITE, |c| replace_all(c, "x*", "y"));
        assert_eq!(r, -1, "an empty match is an error");
        let (r, out, _) = with_msg(INVITE, |c| replace_hdrs(c, "10\\.0\\.0\\.1", "h"));
        assert_eq!(r, 1);
        assert!(out.contains("Via: SIP/2.0/UDP h:5060"));
        assert!(out.contains("o=- 1 1 IN IP4 10.0.0.1"));
    }

    #[test]
    fn body_replacements() {
        let (r, out, _) = with_msg(INVITE, |c| replace_body(c, "10\\.0\\.0\\.1", "192.0.2.1"));
        assert_eq!(r, 1);
        assert!(out.contains("o=- 1 1 IN IP4 192.0.2.1\r\nc=IN IP4 10.0.0.1\r\n"));
        let (r, out, _) = with_msg(INVITE, |c| replace_body_all(c, "^c=.*\r\n", ""));
        assert_eq!(r, 1);
        assert!(out.ends_with("Content-Length: 30\r\n\r\nv=0\r\no=- 1 1 IN IP4 10.0.0.1\r\n"));
        let (r, _, _) = with_msg(INVITE, |c| replace_body_atonce(c, "nothing", ""));
        assert_eq!(r, -1);
        let no_body = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nContent-Length: 0\r\n\r\n";
        let (r, _, _) = with_msg(no_body, |c| {
            (
                replace_body(c, "a", "b"),
                search_body(c, "a"),
                replace_body_str(c, "a", "b", "a"),
            )
        });
        assert_eq!(r, (-1, -1, -1));
    }

    #[test]
    fn plain_replacements() {
        let (r, out, _) = with_msg(INVITE, |c| replace_str(c, "10.0.0.1", "h", "f"));
        assert_eq!(r, 1);
        assert_eq!(out.matches("10.0.0.1").count(), 3);
        let (r, out, _) = with_msg(INVITE, |c| replace_str(c, "10.0.0.1", "h", "a"));
        assert_eq!(r, 1);
        assert_eq!(out.matches("10.0.0.1").count(), 0);
        let (r, out, _) = with_msg(INVITE, |c| {
            (
                replace_str(c, "absent", "x", "a"),
                replace_hdrs_str(c, "10.0.0.1", "h", "a"),
            )
        });
        assert_eq!(r, (1, 1));
        assert_eq!(out.matches("10.0.0.1").count(), 2);
        let (r, out, _) = with_msg(INVITE, |c| replace_body_str(c, "10.0.0.1", "h", "a"));
        assert_eq!(r, 1);
        assert_eq!(out.matches("10.0.0.1").count(), 2);
    }

    #[test]
    fn subst_expressions_parse_like_sed() {
        assert!(Subst::parse("/a/b/").is_ok());
        assert!(Subst::parse("/a//").is_ok());
        assert!(Subst::parse("/a/").is_err(), "too short");
        assert!(Subst::parse("/a/b").is_err(), "no closing separator");
        assert!(Subst::parse("/a/b/x").is_err(), "unknown flag");
        assert!(Subst::parse("\\a\\b\\").is_err(), "backslash separator");
        assert!(Subst::parse("/(/b/").is_err(), "bad regex");
        assert!(
            Subst::parse("/a/$nosuch(x)/").is_err(),
            "bad pseudo-variable"
        );
        let v = SubstValues {
            uri: b"sip:u@h".to_vec(),
            pvs: Vec::new(),
        };
        let apply = |e: &str, s: &str| {
            Subst::parse(e)
                .ok()
                .and_then(|se| se.apply(s.as_bytes(), &v))
                .map(|r| String::from_utf8_lossy(&r).into_owned())
        };
        assert_eq!(apply("/b/X/", "abcb").as_deref(), Some("aXcb"));
        assert_eq!(apply("/b/X/g", "abcb").as_deref(), Some("aXcX"));
        assert_eq!(apply("/B/X/ig", "abcb").as_deref(), Some("aXcX"));
        assert_eq!(apply("/B/X/", "abcb"), None, "case-sensitive by default");
        assert_eq!(apply("/(a)(b)/\\2\\1\\0/", "ab").as_deref(), Some("baab"));
        assert_eq!(apply("#a/b#c\\#d#", "a/b").as_deref(), Some("c#d"));
        assert_eq!(apply("/a\\/b/x/", "a/b").as_deref(), Some("x"));
        assert_eq!(
            apply("/x/[\\u]\\n\\$/", "x").as_deref(),
            Some("[sip:u@h]\n$")
        );
        assert_eq!(apply("/^b/X/g", "b\nb").as_deref(), Some("X\nX"));
        assert_eq!(apply("/^b/X/gs", "b\nb").as_deref(), Some("X\nb"));
        assert_eq!(apply("/a.b/X/s", "a\nb").as_deref(), Some("X"));
        assert_eq!(apply("/a.b/X/", "a\nb"), None);
        assert_eq!(apply("/x*/y/", "abc"), None, "empty match is an error");
    }

    #[test]
    fn subst_on_the_message() {
        let (r, out, _) = with_msg(INVITE, |c| {
            subst(
                c,
                "/^(From: .*)@internal\\.example\\.com/\\1@example.com/ig",
            )
        });
        assert_eq!(r, 1);
        assert!(out.contains("From: Alice <sip:alice@example.com>;tag=a1\r\n"));
        let (r, out, _) = with_msg(INVITE, |c| subst_body(c, "/10\\.0\\.0\\.1/192.0.2.1/g"));
        assert_eq!(r, 1);
        assert!(out.ends_with("IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.1\r\n"));
        let (r, out, _) = with_msg(INVITE, |c| {
            (
                subst_hf(c, "x-trace", "/.*/[\\0]/", ""),
                subst_hf(c, "Supported", "/nothing/x/", "f"),
            )
        });
        assert_eq!(r, (1, -1));
        assert!(out.contains("X-Trace: [one]\r\nx-trace: [two]\r\n"));
        let (r, out, _) = with_msg(INVITE, |c| subst_hf(c, "X-Trace", "/o/0/g", "l"));
        assert_eq!(r, 1);
        assert!(out.contains("X-Trace: one\r\nx-trace: tw0\r\n"));
    }

    #[test]
    fn subst_with_pseudo_variables() {
        let (r, out, _) = with_msg(INVITE, |c| {
            crate::modules::pv::sets(c, "$var(host)", "gw.example.com");
            subst(c, "/^To: <sip:bob@[^>]*>/To: <sip:bob@$var(host)>/")
        });
        assert_eq!(r, 1);
        assert!(out.contains("To: <sip:bob@gw.example.com>\r\n"));
        let r = no_msg(|c| {
            crate::modules::pv::sets(c, "$var(n)", "0201234");
            let r = subst_v(c, "0201234", "/^0/+44/", "$var(out)");
            (r, crate::modules::pv::gete(c, "$var(out)"))
        });
        assert_eq!(r, (1, crate::registry::XVal::Str("+44201234".into())));
        let r = no_msg(|c| subst_v(c, "abc", "/x/y/", "$var(out)"));
        assert_eq!(r, -1);
    }

    #[test]
    fn subst_uri_and_user_change_the_request_uri_at_once() {
        let (r, out, msg) = with_msg(INVITE, |c| {
            subst_uri(
                c,
                "/^sip:([a-z]+)@.*$/sip:\\1@gw.example.com;transport=tcp/",
            )
        });
        assert_eq!(r, 1);
        assert_eq!(msg.ruri_str(), Some("sip:bob@gw.example.com;transport=tcp"));
        assert!(out.starts_with("INVITE sip:bob@gw.example.com;transport=tcp SIP/2.0\r\n"));
        let (r, _, msg) = with_msg(INVITE, |c| subst_user(c, "/^bob$/+441234/"));
        assert_eq!(r, 1);
        assert_eq!(msg.ruri_str(), Some("sip:+441234@example.com"));
        let (r, _, msg) = with_msg(INVITE, |c| subst_user(c, "/^.*$//"));
        assert_eq!(r, 1, "an empty result removes the user");
        assert_eq!(msg.ruri_str(), Some("sip:example.com"));
        let no_user = INVITE.replacen("sip:bob@example.com SIP", "sip:example.com SIP", 1);
        let (r, _, msg) = with_msg(&no_user, |c| subst_user(c, "/^$/bob/"));
        assert_eq!(r, -1, "the user is empty and an empty match is an error");
        assert_eq!(msg.ruri_str(), Some("sip:example.com"));
        let (r, _, msg) = with_msg(&no_user, |c| subst_user(c, "/^(.?)/bob\\1/"));
        assert_eq!(r, -1);
        assert_eq!(msg.ruri_str(), Some("sip:example.com"));
        assert_eq!(
            with_user("sip:a:pw@h;x", "b").as_deref(),
            Some("sip:b:pw@h;x")
        );
        assert_eq!(with_user("sip:a:pw@h", "").as_deref(), Some("sip:h"));
        assert_eq!(with_user("sip:h", "u").as_deref(), Some("sip:u@h"));
        assert_eq!(with_user("tel:+1;p=x", "+2").as_deref(), Some("tel:+2;p=x"));
        let reply = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h\r\n\r\n";
        let (r, _, _) = with_msg(reply, |c| (subst_uri(c, "/a/b/"), subst_user(c, "/a/b/")));
        assert_eq!(r, (-1, -1));
    }

    #[test]
    fn regex_substring_stores_a_group() {
        let r = no_msg(|c| {
            let r = regex_substring(c, "sip:alice@example.com", "sip:([a-z]+)@", 1, 2, "$var(u)");
            (r, crate::modules::pv::gete(c, "$var(u)"))
        });
        assert_eq!(r, (1, crate::registry::XVal::Str("alice".into())));
        let r = no_msg(|c| {
            (
                regex_substring(c, "abc", "x", 0, 1, "$var(u)"),
                regex_substring(c, "abc", "a", 1, 1, "$var(u)"),
                regex_substring(c, "abc", "a|(x)", 1, 2, "$var(u)"),
                regex_substring(c, "abc", "a", 0, 1, ""),
            )
        });
        assert_eq!(r, (-2, -1, -1, -1));
    }

    #[test]
    fn removing_headers() {
        let (r, out, msg) = with_msg(INVITE, |c| {
            (
                remove_hf(c, "X-TRACE"),
                remove_hf(c, "Absent"),
                remove_hf(c, "bad name"),
            )
        });
        assert_eq!(r, (1, 1, -1));
        assert!(!out.to_ascii_lowercase().contains("x-trace"));
        assert!(
            msg.header_by_name("X-Trace").is_some(),
            "reads see the original"
        );
        let (r, out, _) = with_msg(INVITE, |c| {
            (remove_hf_re(c, "^x-"), remove_hf_re(c, "^nope"))
        });
        assert_eq!(r, (1, -1));
        assert!(!out.contains("X-Trace") && !out.contains("x-trace"));
        let (r, out, _) = with_msg(INVITE, |c| remove_hf_exp(c, "^(x-|Supported)", "^X-"));
        assert_eq!(r, 1);
        assert!(out.contains("X-Trace: one") && !out.contains("Supported"));
        let (r, out, _) = with_msg(INVITE, |c| {
            (
                remove_hf_idx(c, "x-trace", -1),
                remove_hf_idx(c, "X-Trace", 5),
                remove_hf_idx(c, "X-Trace", -5),
            )
        });
        assert_eq!(r, (1, 2, 1));
        assert!(out.contains("X-Trace: one\r\nContent-Type"));
        let (r, out, _) = with_msg(INVITE, |c| {
            (
                remove_hf_match(c, "x-trace", "eq", "two"),
                remove_hf_match(c, "Supported", "re", "^nope"),
                remove_hf_match(c, "Supported", "xx", ""),
            )
        });
        assert_eq!(r, (1, -2, -1));
        assert!(out.contains("X-Trace: one\r\n") && !out.contains("x-trace: two"));
    }

    #[test]
    fn body_setting_and_checks() {
        let (r, out, _) = with_msg(INVITE, |c| set_body(c, "hello", "text/plain"));
        assert_eq!(r, 1);
        assert!(out.contains("Content-Type: text/plain\r\n"));
        assert!(out.ends_with("Content-Length: 5\r\n\r\nhello"));
        let (r, out, _) = with_msg(INVITE, |c| {
            (
                set_body(c, "", "text/plain"),
                set_body_hex(c, "48 65 6c 6c 6f", "application/octet-stream"),
            )
        });
        assert_eq!(r, (-1, 1));
        assert!(out.ends_with("\r\n\r\nHello"));
        assert_eq!(decode_hex("4"), None);
        assert_eq!(decode_hex("zz"), None);
        let (r, _, _) = with_msg(INVITE, |c| {
            (
                has_body(c),
                has_body_type(c, "APPLICATION/SDP"),
                has_body_type(c, "text/plain"),
                has_body_type(c, ""),
            )
        });
        assert_eq!(r, (1, 1, -1, 1));
        let no_body = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nContent-Length: 0\r\n\r\n";
        let (r, _, _) = with_msg(no_body, |c| (has_body(c), has_body_type(c, "")));
        assert_eq!(r, (-1, -1));
    }

    #[test]
    fn privacy() {
        let m = "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nPrivacy: id; header\r\n\r\n";
        let (r, _, _) = with_msg(m, |c| {
            (
                is_privacy(c, "id"),
                is_privacy(c, "HEADER"),
                is_privacy(c, "user"),
                is_privacy(c, "bogus"),
            )
        });
        assert_eq!(r, (1, 1, -1, -1));
        let (r, _, _) = with_msg(INVITE, |c| is_privacy(c, "id"));
        assert_eq!(r, -1);
    }

    fn sdp_msg(sdp: &str) -> String {
        format!(
            "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        )
    }

    #[test]
    fn audio_on_hold() {
        let check = |sdp: &str| with_msg(&sdp_msg(sdp), is_audio_on_hold).0;
        assert_eq!(
            check("v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 4000 RTP/AVP 0\r\n"),
            1
        );
        assert_eq!(
            check("v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly\r\n"),
            2
        );
        assert_eq!(check("v=0\r\na=inactive\r\nm=audio 4000 RTP/AVP 0\r\n"), 2);
        assert_eq!(
            check("v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 0\r\na=sendrecv\r\n"),
            -1
        );
        assert_eq!(check("v=0\r\nm=video 4000 RTP/AVP 0\r\na=sendonly\r\n"), -1);
        assert_eq!(
            check("v=0\r\na=ice-options:trickle\r\nc=IN IP4 0.0.0.0\r\nm=audio 9 RTP/AVP 0\r\n"),
            -1,
            "ICE trickle renegotiation is not a hold"
        );
    }

    const MULTIPART: &str = "INVITE sip:a@b SIP/2.0\r\n\
        Via: SIP/2.0/UDP h\r\n\
        Content-Type: multipart/mixed;boundary=\"unique\"\r\n\
        \r\n\
        --unique\r\n\
        Content-Type: application/sdp\r\n\
        \r\n\
        v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 4000 RTP/AVP 0\r\n\
        \r\n--unique\r\n\
        Content-Type: application/isup\r\n\
        Content-Disposition: signal\r\n\
        \r\n\
        ISUP\r\n\
        --unique--\r\n";

    #[test]
    fn multipart_bodies() {
        let (r, _, _) = with_msg(MULTIPART, |c| {
            let a = get_body_part(c, "application/sdp", "$var(sdp)");
            let b = get_body_part_raw(c, "application/isup", "$var(isup)");
            let d = get_body_part(c, "text/html", "$var(x)");
            (
                a,
                b,
                d,
                crate::modules::pv::gete(c, "$var(sdp)"),
                crate::modules::pv::gete(c, "$var(isup)"),
                is_audio_on_hold(c),
            )
        });
        assert_eq!(r.0, 1);
        assert_eq!(r.1, 1);
        assert_eq!(r.2, -1);
        assert_eq!(
            r.3,
            crate::registry::XVal::Str(
                "v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 4000 RTP/AVP 0\r\n".into()
            )
        );
        assert_eq!(
            r.4,
            crate::registry::XVal::Str(
                "Content-Type: application/isup\r\nContent-Disposition: signal\r\n\r\nISUP".into()
            )
        );
        assert_eq!(r.5, 1);
        let (r, out, _) = with_msg(MULTIPART, |c| filter_body(c, "application/isup"));
        assert_eq!(r, 1);
        assert!(out.ends_with("Content-Length: 4\r\n\r\nISUP"), "{out}");
        let (r, out, _) = with_msg(MULTIPART, |c| remove_body_part(c, "application/sdp"));
        assert_eq!(r, 1);
        assert!(out.ends_with(
            "\r\n\r\n--unique\r\nContent-Type: application/isup\r\nContent-Disposition: signal\r\n\r\nISUP\r\n--unique--\r\n"
        ), "{out}");
        let (r, _, _) = with_msg(INVITE, |c| {
            (
                filter_body(c, "application/sdp"),
                remove_body_part(c, "x/y"),
            )
        });
        assert_eq!(r, (-1, -1));
    }

    #[test]
    fn string_helpers() {
        let r = no_msg(|c| {
            (
                in_list(c, "BYE", " INVITE, BYE ,CANCEL", ","),
                in_list(c, "BY", "INVITE,BYE", ","),
                in_list(c, "", "a", ","),
                in_list_prefix(c, "+44123", "+33, +44", ","),
                in_list_prefix(c, "+1", ",,+33", ","),
            )
        });
        assert_eq!(r, (1, -1, -1, 1, -1));
        let r = no_msg(|c| {
            (
                cmp_str(c, "abc", "abc"),
                cmp_str(c, "abd", "abc"),
                cmp_str(c, "ab", "abc"),
                cmp_istr(c, "ABC", "abc"),
                starts_with(c, "+44123", "+44"),
                starts_with(c, "+4", "+44"),
                ends_with(c, "a.example.com", ".example.com"),
                ends_with(c, "com", ".com"),
            )
        });
        assert_eq!(r, (1, -1, -2, 1, 1, -1, 1, -1));
        let r = no_msg(|c| {
            (
                str_find(c, "hello world", "world"),
                str_find(c, "hello", "x"),
                str_find(c, "hello", ""),
                str_ifind(c, "Hello World", "WORLD"),
                str_any_in(c, "12*3", "*#"),
                str_any_in(c, "123", "*#"),
                str_all_in(c, "a@b:c", "@:"),
                str_all_in(c, "a@b", "@:"),
            )
        });
        assert_eq!(r, (7, -1, -1, 7, 1, -1, 1, -1));
    }

    #[test]
    fn layout_of_a_message() {
        let m = SipMsg::parse(INVITE).expect("parses");
        let lay = Layout::of(&m);
        let b = m.as_bytes();
        assert!(b[lay.head..].starts_with(b"Via:"));
        assert!(b[..lay.head_end].ends_with(b"Content-Length: 49\r\n"));
        assert!(b[lay.body..].starts_with(b"v=0"));
        assert_eq!(lay.len, b.len());
    }
}
