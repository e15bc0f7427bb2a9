//! `KSR.textopsx`: more text operations: rebuilding the message so reads
//! see the edits, changing a reply's status, editing comma-separated
//! header values and their parameters, walking headers and body lines with
//! named iterators, and shell-style pattern matching.
//!
//! As in `KSR.textops`, edits are recorded against the message as
//! received and reads keep seeing the original until
//! [`msg_apply_changes`] rebuilds it.
//!
//! Header value expressions (`append_hf_value` and the functions after
//! it) have the form `name[index].param`: `name` is the header name (case
//! and compact forms handled), `index` picks one comma-separated value
//! counted over every header of that name (1 is the first, -1 the last,
//! `*` every one), and `param` names a `;param=value` parameter of that
//! value. Values are used as given: unlike Kamailio, kemid does not expand
//! `$pv` references inside them (build the string in the script).
//!
//! Iterators (`hf_iterator_*`, `bl_iterator_*`) belong to the worker, as
//! Kamailio's belong to the process: at most four of each kind, each
//! known by a name of up to 31 characters. Start one for each message.

use std::cell::RefCell;

use kemid_macros::kemi;

use super::textops::{record, regex, valid_header_name, Layout, ReOpts, Replacement};
use crate::ctx::Ctx;
use crate::log;
use crate::registry::XVal;
use crate::sip::{split_commas, HeaderName, SipMsg, Span};

/// `loadmodule "textopsx.so"`.
pub static MODULE: crate::module::Module<()> = crate::module::Module::new(
    "textopsx",
    "more text operations: applying changes, header values, iterators",
);

const ORIGIN: &str = "textopsx";

/// Rebuilds the message from its edited form so that what the script
/// reads next (headers, body, `$hdr`, `KSR.hdr.get`...) sees the changes
/// recorded so far. The Request-URI set by the script becomes the received
/// one; the destination URI (`$du`) is kept.
///
/// # Returns
/// 1 when rebuilt (or when there was nothing to apply), -1 when the edited
/// message no longer parses (it is then left as it was; logged).
///
/// # Example
/// ```js
/// KSR.hdr.append("X-Checked: yes\r\n");
/// KSR.textopsx.msg_apply_changes();
/// ```
#[kemi]
pub fn msg_apply_changes(ctx: &mut Ctx) -> i32 {
    let Some(msg) = ctx.msg_mut() else {
        return -1;
    };
    match msg.apply_changes() {
        Ok(()) => 1,
        Err(e) => {
            log::error(
                ORIGIN,
                format_args!("the edited message does not parse, changes not applied: {e}"),
            );
            -1
        }
    }
}

/// Replaces the whole message with new text, which must be a complete SIP
/// message; recorded edits are discarded and the destination URI (`$du`)
/// is kept.
///
/// # Parameters
/// - `data`: the new message.
///
/// # Returns
/// 1 when replaced, -1 when the text is empty or does not parse as a SIP
/// message (logged).
///
/// # Example
/// ```js
/// KSR.textopsx.msg_set_buffer(KSR.pv.gete("$var(rewritten)"));
/// ```
#[kemi]
pub fn msg_set_buffer(ctx: &mut Ctx, data: &str) -> i32 {
    if data.is_empty() {
        log::error(ORIGIN, format_args!("invalid buffer parameter"));
        return -1;
    }
    let Some(msg) = ctx.msg_mut() else {
        return -1;
    };
    let mut new = match SipMsg::parse(data.as_bytes()) {
        Ok(m) => m,
        Err(e) => {
            log::error(
                ORIGIN,
                format_args!("the new buffer is not a SIP message: {e}"),
            );
            return -1;
        }
    };
    if let Some(du) = msg.du() {
        // The old destination was accepted once; keep it.
        let _ = new.set_du(du);
    }
    *msg = new;
    1
}

/// Where the status code and reason phrase of a reply are, relative to
/// `as_bytes()`.
fn status_spans(msg: &SipMsg) -> Option<((usize, usize), (usize, usize))> {
    let b = msg.as_bytes();
    let line_end = b.iter().position(|&c| c == b'\r' || c == b'\n')?;
    let line = &b[..line_end];
    let mut i = line.iter().position(|&c| c == b' ')?;
    while line.get(i) == Some(&b' ') {
        i += 1;
    }
    let code = (i, i + 3);
    if line
        .get(code.0..code.1)?
        .iter()
        .any(|c| !c.is_ascii_digit())
    {
        return None;
    }
    let reason_start = if line.get(code.1) == Some(&b' ') {
        code.1 + 1
    } else {
        code.1
    };
    Some((code, (reason_start.min(line_end), line_end)))
}

/// Checks a new status code against the reply's one: 100..699, and the
/// class of a provisional or successful reply cannot change.
fn status_change_allowed(msg: &SipMsg, code: i32) -> bool {
    let Some(current) = msg.status_code() else {
        log::error(ORIGIN, format_args!("not a reply"));
        return false;
    };
    if !(100..=699).contains(&code) {
        log::error(ORIGIN, format_args!("wrong status code: {code}"));
        return false;
    }
    let current = i32::from(current);
    if (code < 300 || current < 300) && code / 100 != current / 100 {
        log::error(
            ORIGIN,
            format_args!("the class of provisional or positive final replies cannot be changed"),
        );
        return false;
    }
    true
}

/// Changes the status code and reason phrase of a reply before it is
/// forwarded. A provisional or 2xx reply keeps its class, and no reply can
/// become provisional or 2xx. Reads (`$rs`) keep the received code.
///
/// # Parameters
/// - `code`: the new status code.
/// - `reason`: the new reason phrase; must not be empty.
///
/// # Returns
/// 1 when changed, -1 when the message is not a reply or the change is not
/// allowed (logged).
///
/// # Example
/// ```js
/// if (KSR.pv.get("$rs") == 603) {
///     KSR.textopsx.change_reply_status(486, "Busy Here");
/// }
/// ```
#[kemi]
pub fn change_reply_status(ctx: &mut Ctx, code: i32, reason: &str) -> i32 {
    if reason.is_empty() {
        log::error(ORIGIN, format_args!("invalid reason parameter"));
        return -1;
    }
    set_status(ctx, code, Some(reason))
}

/// Changes only the status code of a reply before it is forwarded (same
/// rules as `change_reply_status`).
///
/// # Parameters
/// - `code`: the new status code.
///
/// # Returns
/// 1 when changed, -1 when the message is not a reply or the change is not
/// allowed (logged).
///
/// # Example
/// ```js
/// KSR.textopsx.change_reply_status_code(480);
/// ```
#[kemi]
pub fn change_reply_status_code(ctx: &mut Ctx, code: i32) -> i32 {
    set_status(ctx, code, None)
}

fn set_status(ctx: &mut Ctx, code: i32, reason: Option<&str>) -> i32 {
    let Some(msg) = ctx.msg_mut() else {
        return -1;
    };
    if !status_change_allowed(msg, code) {
        return -1;
    }
    let Some((code_at, reason_at)) = status_spans(msg) else {
        log::error(ORIGIN, format_args!("cannot find the status code"));
        return -1;
    };
    let lay = Layout::of(msg);
    let mut reps: Vec<Replacement> = vec![(code_at.0, code_at.1, code.to_string().into_bytes())];
    if let Some(r) = reason {
        reps.push((reason_at.0, reason_at.1, r.as_bytes().to_vec()));
    }
    if record(msg, &lay, &reps) {
        1
    } else {
        -1
    }
}

/// Removes the message body (Content-Length follows; Content-Type is left
/// as it is).
///
/// # Returns
/// 1 when removed or when there was no body, -1 on error (logged).
///
/// # Example
/// ```js
/// KSR.textopsx.remove_body();
/// ```
#[kemi]
pub fn remove_body(ctx: &mut Ctx) -> i32 {
    let Some(msg) = ctx.msg_mut() else {
        return -1;
    };
    if msg.body().is_empty() {
        return 1;
    }
    match msg.set_body(b"", None) {
        Ok(()) => 1,
        Err(e) => {
            log::error(ORIGIN, format_args!("cannot remove the body: {e}"));
            -1
        }
    }
}

/// Headers `keep_hf` never removes.
fn mandatory(kind: HeaderName) -> bool {
    use HeaderName as H;
    matches!(
        kind,
        H::From
            | H::To
            | H::CallId
            | H::CSeq
            | H::Via
            | H::Contact
            | H::ContentLength
            | H::ContentType
            | H::Route
            | H::RecordRoute
            | H::MaxForwards
    )
}

fn keep_headers(ctx: &mut Ctx, keep: Option<&str>) -> i32 {
    let rx = match keep {
        Some(re) if !re.is_empty() => match regex(re, ReOpts::TEXT) {
            Some(r) => Some(r),
            None => return -1,
        },
        _ => None,
    };
    let Some(msg) = ctx.msg_mut() else {
        return -1;
    };
    let lines: Vec<Span> = msg
        .headers()
        .filter(|h| !mandatory(h.kind))
        .filter(|h| !rx.as_ref().is_some_and(|r| r.is_match(h.name.as_bytes())))
        .map(|h| h.line_span())
        .collect();
    for l in lines {
        if let Err(e) = msg.delete_span(l) {
            log::error(ORIGIN, format_args!("cannot remove a header: {e}"));
            return -1;
        }
    }
    1
}

/// Removes every header except those a SIP message needs for routing:
/// Via, From, To, Call-ID, CSeq, Contact, Route, Record-Route,
/// Max-Forwards, Content-Type and Content-Length.
///
/// # Returns
/// 1 when done, -1 on error (logged). Kamailio returns -1 here even on
/// success; kemid returns 1.
///
/// # Example
/// ```js
/// KSR.textopsx.keep_hf();
/// ```
#[kemi]
pub fn keep_hf(ctx: &mut Ctx) -> i32 {
    keep_headers(ctx, None)
}

/// Like `keep_hf`, also keeping the headers whose name matches a regular
/// expression.
///
/// # Parameters
/// - `sre`: the regular expression for names to keep (case-insensitive);
///   empty keeps only the mandatory ones.
///
/// # Returns
/// 1 when done, -1 when the expression does not compile or on error
/// (logged).
///
/// # Example
/// ```js
/// KSR.textopsx.keep_hf_re("^(Allow|Supported|P-)");
/// ```
#[kemi]
pub fn keep_hf_re(ctx: &mut Ctx, sre: &str) -> i32 {
    keep_headers(ctx, Some(sre))
}

/// Matches `text` against a shell glob (POSIX `fnmatch` without flags):
/// `*` any run of characters, `?` one character, `[a-z]`/`[!a-z]` a set,
/// `\` escapes the next character.
pub(crate) fn glob_match(pattern: &str, text: &str, icase: bool) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let eq = |a: char, b: char| {
        if icase {
            a.to_lowercase().eq(b.to_lowercase())
        } else {
            a == b
        }
    };
    // One position in each, plus where to resume after the last `*`.
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
                continue;
            }
            Some('?') => Some(pi + 1),
            Some('[') => match_set(&p, pi, t[ti], icase),
            Some('\\') if pi + 1 < p.len() => eq(p[pi + 1], t[ti]).then_some(pi + 2),
            Some(&c) => eq(c, t[ti]).then_some(pi + 1),
            None => None,
        };
        match step {
            Some(next) => {
                pi = next;
                ti += 1;
            }
            None => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Matches `c` against the bracket expression starting at `p[open]`;
/// the position after it when `c` is in the set. An unclosed `[` is an
/// ordinary character.
fn match_set(p: &[char], open: usize, c: char, icase: bool) -> Option<usize> {
    let mut i = open + 1;
    let negate = matches!(p.get(i), Some('!') | Some('^'));
    if negate {
        i += 1;
    }
    let fold = |x: char| if icase { x.to_ascii_lowercase() } else { x };
    let c = fold(c);
    let mut found = false;
    let mut first = true;
    loop {
        let Some(&lo) = p.get(i) else {
            // No closing bracket: `[` matches itself.
            return (c == '[').then_some(open + 1);
        };
        if lo == ']' && !first {
            break;
        }
        first = false;
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&hi| hi != ']') {
            let hi = p[i + 2];
            if fold(lo) <= c && c <= fold(hi) {
                found = true;
            }
            i += 3;
        } else {
            if fold(lo) == c {
                found = true;
            }
            i += 1;
        }
    }
    (found != negate).then_some(i + 1)
}

/// Matches a value against a shell glob pattern: `*` any run of
/// characters, `?` one character, `[abc]`, `[a-z]` and `[!a-z]` sets, `\`
/// escaping the next character.
///
/// # Parameters
/// - `value`: the value to test.
/// - `pattern`: the glob pattern.
///
/// # Returns
/// 1 when it matches, -1 when not. (Kamailio's KEMI export returns 0 on a
/// match; kemid returns 1 so that `> 0` tests work.)
///
/// # Example
/// ```js
/// if (KSR.textopsx.fnmatch(KSR.pv.gete("$rU"), "+44*") > 0) {
///     KSR.info("UK number\n");
/// }
/// ```
#[kemi(toplevel)]
pub fn fnmatch(_ctx: &mut Ctx, value: &str, pattern: &str) -> i32 {
    if glob_match(pattern, value, false) {
        1
    } else {
        -1
    }
}

/// Matches a value against a shell glob pattern, with flags.
///
/// # Parameters
/// - `value`: the value to test.
/// - `pattern`: the glob pattern (see `fnmatch`).
/// - `flags`: `i` for a case-insensitive match; `""` for none.
///
/// # Returns
/// 1 when it matches, -1 when not (see `fnmatch`).
///
/// # Example
/// ```js
/// if (KSR.textopsx.fnmatch_ex(KSR.pv.gete("$ua"), "*polycom*", "i") > 0) {
///     KSR.info("Polycom phone\n");
/// }
/// ```
#[kemi(toplevel)]
pub fn fnmatch_ex(_ctx: &mut Ctx, value: &str, pattern: &str, flags: &str) -> i32 {
    let icase = flags.starts_with(['i', 'I']);
    if glob_match(pattern, value, icase) {
        1
    } else {
        -1
    }
}

// ---------------------------------------------------------------------------
// Header value expressions.

/// Which values an expression picks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Index {
    /// No index given (or `[]`).
    Unset,
    /// `[*]`.
    All,
    /// `[n]`: 1-based from the first, negative from the last.
    At(i32),
}

/// A parsed `name[index].param` expression.
#[derive(Debug, PartialEq, Eq)]
struct HfExpr<'a> {
    name: &'a str,
    index: Index,
    param: Option<&'a str>,
}

fn is_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

impl<'a> HfExpr<'a> {
    fn parse(text: &'a str) -> Option<HfExpr<'a>> {
        let b = text.as_bytes();
        let skip_ws = |mut i: usize| {
            while b.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
                i += 1;
            }
            i
        };
        let mut i = skip_ws(0);
        let ns = i;
        while b.get(i).copied().is_some_and(is_name_char) {
            i += 1;
        }
        let name = text.get(ns..i)?;
        if name.is_empty() {
            return None;
        }
        i = skip_ws(i);
        let mut index = Index::Unset;
        if b.get(i) == Some(&b'[') {
            i = skip_ws(i + 1);
            if b.get(i) == Some(&b'*') {
                index = Index::All;
                i += 1;
            } else if b.get(i) != Some(&b']') {
                let s = i;
                if matches!(b.get(i), Some(b'-') | Some(b'+')) {
                    i += 1;
                }
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
                let n: i32 = text.get(s..i)?.parse().ok()?;
                index = if n == 0 { Index::Unset } else { Index::At(n) };
            }
            i = skip_ws(i);
            if b.get(i) != Some(&b']') {
                return None;
            }
            i = skip_ws(i + 1);
        }
        let mut param = None;
        if b.get(i) == Some(&b'.') {
            i = skip_ws(i + 1);
            let ps = i;
            while b.get(i).copied().is_some_and(is_name_char) {
                i += 1;
            }
            let p = text.get(ps..i)?;
            if p.is_empty() {
                return None;
            }
            param = Some(p);
        }
        if i != b.len() {
            return None;
        }
        Some(HfExpr { name, index, param })
    }

    fn parse_logged(text: &'a str) -> Option<HfExpr<'a>> {
        let e = HfExpr::parse(text);
        if e.is_none() {
            log::error(
                ORIGIN,
                format_args!("cannot parse header expression `{text}`"),
            );
        }
        e
    }
}

/// One comma-separated value of a header, offsets relative to
/// `as_bytes()`.
#[derive(Clone, Copy, Debug)]
struct HfValue {
    /// Which header line (its position among the message's headers).
    line: Span,
    /// The value text, trimmed.
    at: (usize, usize),
    /// Where the value area starts: after the preceding comma, or at the
    /// start of the header value.
    area: usize,
    /// Position among the values of its header line, and their count.
    pos: usize,
    count: usize,
}

/// Every value of the headers named `name`, in order.
fn hf_values(msg: &SipMsg, lay: &Layout, name: &str) -> Vec<HfValue> {
    let mut out = Vec::new();
    for h in msg.headers_by_name(name) {
        let (vs, _) = lay.rel(h.value_span());
        let base = h.value.as_ptr() as usize;
        let items: Vec<(usize, usize)> = split_commas(h.value)
            .map(|s| {
                let off = s.as_ptr() as usize - base;
                (vs + off, vs + off + s.len())
            })
            .collect();
        let count = items.len();
        let mut area = vs;
        for (pos, &(s, e)) in items.iter().enumerate() {
            out.push(HfValue {
                line: h.line_span(),
                at: (s, e),
                area,
                pos,
                count,
            });
            // The next area starts after the comma following this value.
            let rest = msg.as_bytes().get(e..).unwrap_or(&[]);
            area = rest
                .iter()
                .position(|&c| c == b',')
                .map_or(e, |c| e + c + 1);
        }
    }
    out
}

/// The value an index picks among `values`.
fn pick(values: &[HfValue], n: i32) -> Option<HfValue> {
    if n > 0 {
        values.get(usize::try_from(n - 1).ok()?).copied()
    } else {
        let back = usize::try_from(n.unsigned_abs()).ok()?;
        values.get(values.len().checked_sub(back)?).copied()
    }
}

/// Where a new header line goes at the end of the headers.
fn end_of_headers(lay: &Layout) -> usize {
    lay.head_end
}

fn header_line(name: &str, value: &str) -> Vec<u8> {
    format!("{name}: {value}\r\n").into_bytes()
}

/// The replacement that deletes value `v` with its delimiter, or its whole
/// header line when it is the only value there.
fn delete_value(lay: &Layout, values: &[HfValue], k: usize) -> Option<Replacement> {
    let v = values.get(k)?;
    if v.count <= 1 {
        let (s, e) = lay.rel(v.line);
        return Some((s, e, Vec::new()));
    }
    if v.pos + 1 < v.count {
        let next = values.get(k + 1)?;
        Some((v.at.0, next.at.0, Vec::new()))
    } else {
        let prev = values.get(k.checked_sub(1)?)?;
        Some((prev.at.1, v.at.1, Vec::new()))
    }
}

/// Where the `;param` list of a header value starts (after a display name
/// and `<uri>`, or after a bare URI), relative to the value.
fn params_start(value: &[u8]) -> usize {
    let mut quoted = false;
    let mut angle = false;
    for (i, &c) in value.iter().enumerate() {
        match c {
            b'"' if !angle => quoted = !quoted,
            b'<' if !quoted => angle = true,
            b'>' if !quoted => angle = false,
            b';' if !quoted && !angle => return i,
            _ => {}
        }
    }
    value.len()
}

/// A `;name[=value]` parameter of a header value: where it starts (its
/// `;`, spaces before it included), where its name ends, and where it ends.
fn find_params(value: &[u8], name: &str) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    let mut i = params_start(value);
    while i < value.len() {
        let start = i;
        // Back up over spaces before the `;`.
        let mut del = start;
        while del > 0 && value[del - 1].is_ascii_whitespace() {
            del -= 1;
        }
        i += 1;
        while value.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        let ns = i;
        while value
            .get(i)
            .is_some_and(|&c| !c.is_ascii_whitespace() && c != b'=' && c != b';')
        {
            i += 1;
        }
        let name_end = i;
        while value.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        let mut end = name_end;
        if value.get(i) == Some(&b'=') {
            i += 1;
            while value.get(i).is_some_and(u8::is_ascii_whitespace) {
                i += 1;
            }
            if value.get(i) == Some(&b'"') {
                i += 1;
                while value.get(i).is_some_and(|&c| c != b'"') {
                    i += 1;
                }
                i = (i + 1).min(value.len());
            } else {
                while value
                    .get(i)
                    .is_some_and(|&c| !c.is_ascii_whitespace() && c != b';')
                {
                    i += 1;
                }
            }
            end = i;
        }
        if value
            .get(ns..name_end)
            .is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()))
        {
            out.push((del, name_end, end));
        }
        // On to the next `;`.
        while value.get(i).is_some_and(|&c| c != b';') {
            i += 1;
        }
    }
    out
}

/// Sets (`Some`) or removes (`None`) a parameter of one value; whether the
/// value had it (for removal) or it was set.
fn param_edits(
    msg: &SipMsg,
    v: &HfValue,
    param: &str,
    new: Option<&str>,
    reps: &mut Vec<Replacement>,
) -> bool {
    let text = msg.as_bytes().get(v.at.0..v.at.1).unwrap_or(&[]);
    let found = find_params(text, param);
    let base = v.at.0;
    match new {
        Some(value) => {
            let assign = if value.is_empty() {
                Vec::new()
            } else {
                format!("={value}").into_bytes()
            };
            match found.first() {
                Some(&(_, name_end, end)) => reps.push((base + name_end, base + end, assign)),
                None => {
                    let mut t = format!(";{param}").into_bytes();
                    t.extend_from_slice(&assign);
                    reps.push((v.at.1, v.at.1, t));
                }
            }
            true
        }
        None => {
            for &(del, _, end) in &found {
                reps.push((base + del, base + end, Vec::new()));
            }
            !found.is_empty()
        }
    }
}

/// Runs one header-value operation and records its edits.
fn modify(
    ctx: &mut Ctx,
    hexp: &str,
    op: impl FnOnce(&SipMsg, &Layout, &HfExpr) -> Option<Vec<Replacement>>,
) -> i32 {
    let Some(e) = HfExpr::parse_logged(hexp) else {
        return -1;
    };
    if !valid_header_name(e.name) {
        log::error(ORIGIN, format_args!("invalid header name `{}`", e.name));
        return -1;
    }
    let Some(msg) = ctx.msg_mut() else {
        return -1;
    };
    let lay = Layout::of(msg);
    let Some(reps) = op(msg, &lay, &e) else {
        return -1;
    };
    if record(msg, &lay, &reps) {
        1
    } else {
        -1
    }
}

/// Adds a value to a comma-separated header. Without an index, a new
/// header line `hname: hvalue` is appended after the last header; with
/// one, the value goes right after the value it picks (`,hvalue`), or in a
/// new header line when there is no such value.
///
/// # Parameters
/// - `hexp`: `name` or `name[index]` (1 the first value, -1 the last);
///   `*` and `.param` are not allowed.
/// - `hvalue`: the value to add, verbatim.
///
/// # Returns
/// 1 when added, -1 when the expression is invalid (logged).
///
/// # Example
/// ```js
/// KSR.textopsx.append_hf_value("Supported[-1]", "path");
/// ```
#[kemi]
pub fn append_hf_value(ctx: &mut Ctx, hexp: &str, hvalue: &str) -> i32 {
    modify(ctx, hexp, |msg, lay, e| {
        if e.index == Index::All || e.param.is_some() {
            log::error(
                ORIGIN,
                format_args!("`*` and `.param` are not allowed in append_hf_value"),
            );
            return None;
        }
        let new_line = (
            end_of_headers(lay),
            end_of_headers(lay),
            header_line(e.name, hvalue),
        );
        let Index::At(n) = e.index else {
            return Some(vec![new_line]);
        };
        let values = hf_values(msg, lay, e.name);
        Some(vec![match pick(&values, n) {
            Some(v) => (v.at.1, v.at.1, format!(",{hvalue}").into_bytes()),
            None => new_line,
        }])
    })
}

/// Adds a value to a comma-separated header, before another. Without an
/// index, a new header line `hname: hvalue` goes before the first header
/// of that name (or after the last header when there is none); with one,
/// the value goes before the value it picks (`hvalue,`).
///
/// # Parameters
/// - `hexp`: `name` or `name[index]` (1 the first value, -1 the last);
///   `*` and `.param` are not allowed.
/// - `hvalue`: the value to add, verbatim.
///
/// # Returns
/// 1 when added, -1 when the index picks no value or the expression is
/// invalid (logged).
///
/// # Example
/// ```js
/// KSR.textopsx.insert_hf_value("Supported[1]", "100rel");
/// ```
#[kemi]
pub fn insert_hf_value(ctx: &mut Ctx, hexp: &str, hvalue: &str) -> i32 {
    modify(ctx, hexp, |msg, lay, e| {
        if e.index == Index::All || e.param.is_some() {
            log::error(
                ORIGIN,
                format_args!("`*` and `.param` are not allowed in insert_hf_value"),
            );
            return None;
        }
        let n = match e.index {
            Index::At(n) => n,
            _ => 1,
        };
        let values = hf_values(msg, lay, e.name);
        let first_line = msg
            .headers_by_name(e.name)
            .next()
            .map(|h| lay.rel(h.line_span()).0);
        if e.index == Index::Unset {
            let at = first_line.unwrap_or_else(|| end_of_headers(lay));
            return Some(vec![(at, at, header_line(e.name, hvalue))]);
        }
        match pick(&values, n) {
            Some(v) => Some(vec![(v.area, v.area, format!("{hvalue},").into_bytes())]),
            None if n == 1 && first_line.is_none() => {
                let at = end_of_headers(lay);
                Some(vec![(at, at, header_line(e.name, hvalue))])
            }
            None => None,
        }
    })
}

/// Removes a value of a comma-separated header (the whole header line when
/// it is its only value), or a parameter of values.
///
/// # Parameters
/// - `hexp`: `name[index]` to remove one value (no index: the first);
///   `name[index].param` to remove a parameter of that value;
///   `name[*]` to remove every such header, `name[*].param` the parameter
///   from every value.
///
/// # Returns
/// 1 when something was removed, -1 when nothing matched or the
/// expression is invalid (logged).
///
/// # Example
/// ```js
/// KSR.textopsx.remove_hf_value("Contact[*].expires");
/// ```
#[kemi]
pub fn remove_hf_value(ctx: &mut Ctx, hexp: &str) -> i32 {
    modify(ctx, hexp, |msg, lay, e| {
        let values = hf_values(msg, lay, e.name);
        let mut reps = Vec::new();
        match (e.index, e.param) {
            (Index::All, None) => {
                for h in msg.headers_by_name(e.name) {
                    let (s, end) = lay.rel(h.line_span());
                    reps.push((s, end, Vec::new()));
                }
            }
            (Index::All, Some(p)) => {
                let mut any = false;
                for v in &values {
                    any |= param_edits(msg, v, p, None, &mut reps);
                }
                if !any {
                    return None;
                }
            }
            (idx, param) => {
                let n = if let Index::At(n) = idx { n } else { 1 };
                let v = pick(&values, n)?;
                match param {
                    None => {
                        let k = values.iter().position(|x| x.at == v.at)?;
                        reps.push(delete_value(lay, &values, k)?);
                    }
                    Some(p) => {
                        if !param_edits(msg, &v, p, None, &mut reps) {
                            return None;
                        }
                    }
                }
            }
        }
        (!reps.is_empty()).then_some(reps)
    })
}

/// Replaces a value of a comma-separated header, or sets a parameter of
/// values (adding it when absent).
///
/// # Parameters
/// - `hexp`: `name[index]` to replace one value (no index: the first);
///   `name[index].param` to set a parameter of that value;
///   `name[*].param` to set it in every value.
/// - `hvalue`: the new value; for a parameter, an empty value leaves a
///   bare `;param`.
///
/// # Returns
/// 1 when changed, -1 when the index picks no value or the expression is
/// invalid (logged).
///
/// # Example
/// ```js
/// KSR.textopsx.assign_hf_value("Contact[1].expires", "600");
/// ```
#[kemi]
pub fn assign_hf_value(ctx: &mut Ctx, hexp: &str, hvalue: &str) -> i32 {
    modify(ctx, hexp, |msg, lay, e| {
        let values = hf_values(msg, lay, e.name);
        let mut reps = Vec::new();
        match (e.index, e.param) {
            (Index::All, None) => {
                log::error(
                    ORIGIN,
                    format_args!("`*` needs a parameter in assign_hf_value"),
                );
                return None;
            }
            (Index::All, Some(p)) => {
                for v in &values {
                    param_edits(msg, v, p, Some(hvalue), &mut reps);
                }
            }
            (idx, param) => {
                let n = if let Index::At(n) = idx { n } else { 1 };
                let v = pick(&values, n)?;
                match param {
                    None => reps.push((v.at.0, v.at.1, hvalue.as_bytes().to_vec())),
                    Some(p) => {
                        param_edits(msg, &v, p, Some(hvalue), &mut reps);
                    }
                }
            }
        }
        (!reps.is_empty()).then_some(reps)
    })
}

/// Parses an expression that names a header only (no index, no param).
fn plain_name(hexp: &str) -> Option<&str> {
    let e = HfExpr::parse_logged(hexp)?;
    if e.index != Index::Unset || e.param.is_some() {
        log::error(
            ORIGIN,
            format_args!("neither index nor param may be given in `{hexp}`"),
        );
        return None;
    }
    if !valid_header_name(e.name) {
        log::error(ORIGIN, format_args!("invalid header name `{}`", e.name));
        return None;
    }
    Some(e.name)
}

/// Adds a value to a comma-separated header unless it is already there
/// (compared case-insensitively): at the end of the first such header, or
/// in a new header line when there is none.
///
/// # Parameters
/// - `hexp`: the header name, such as `Supported`.
/// - `hvalue`: the value.
///
/// # Returns
/// 1 when present or added, -1 when the value is empty or the name invalid
/// (logged).
///
/// # Example
/// ```js
/// KSR.textopsx.include_hf_value("Supported", "path");
/// ```
#[kemi]
pub fn include_hf_value(ctx: &mut Ctx, hexp: &str, hvalue: &str) -> i32 {
    let Some(name) = plain_name(hexp) else {
        return -1;
    };
    if hvalue.is_empty() {
        return -1;
    }
    let Some(msg) = ctx.msg_mut() else {
        return -1;
    };
    let lay = Layout::of(msg);
    let values = hf_values(msg, &lay, name);
    let bytes = msg.as_bytes();
    if values.iter().any(|v| {
        bytes
            .get(v.at.0..v.at.1)
            .is_some_and(|t| t.eq_ignore_ascii_case(hvalue.as_bytes()))
    }) {
        return 1;
    }
    let rep = match msg.headers_by_name(name).next() {
        Some(h) => {
            let (_, e) = lay.rel(h.value_span());
            let text = if h.value.is_empty() {
                hvalue.to_owned()
            } else {
                format!(",{hvalue}")
            };
            (e, e, text.into_bytes())
        }
        None => {
            let at = end_of_headers(&lay);
            (at, at, header_line(name, hvalue))
        }
    };
    if record(msg, &lay, &[rep]) {
        1
    } else {
        -1
    }
}

/// Removes a value from comma-separated headers wherever it appears
/// (compared case-insensitively); a header left without values is
/// removed.
///
/// # Parameters
/// - `hexp`: the header name, such as `Supported`.
/// - `hvalue`: the value.
///
/// # Returns
/// 1, also when the value was not there; -1 when the value is empty or the
/// name invalid (logged).
///
/// # Example
/// ```js
/// KSR.textopsx.exclude_hf_value("Supported", "timer");
/// ```
#[kemi]
pub fn exclude_hf_value(ctx: &mut Ctx, hexp: &str, hvalue: &str) -> i32 {
    let Some(name) = plain_name(hexp) else {
        return -1;
    };
    if hvalue.is_empty() {
        return -1;
    }
    let Some(msg) = ctx.msg_mut() else {
        return -1;
    };
    let lay = Layout::of(msg);
    let values = hf_values(msg, &lay, name);
    let bytes = msg.as_bytes();
    let matching: Vec<bool> = values
        .iter()
        .map(|v| {
            bytes
                .get(v.at.0..v.at.1)
                .is_some_and(|t| t.eq_ignore_ascii_case(hvalue.as_bytes()))
        })
        .collect();
    let mut reps = Vec::new();
    let mut first = 0;
    while first < values.len() {
        let v = values[first];
        let end = (first + v.count).min(values.len());
        if matching[first..end].iter().all(|&m| m) {
            let (s, e) = lay.rel(v.line);
            reps.push((s, e, Vec::new()));
        } else {
            // Each run of matching values goes with the comma before it,
            // or, for a run at the start of the line, the comma after it.
            let mut i = first;
            while i < end {
                if !matching[i] {
                    i += 1;
                    continue;
                }
                let mut j = i;
                while j + 1 < end && matching[j + 1] {
                    j += 1;
                }
                if i > first {
                    reps.push((values[i - 1].at.1, values[j].at.1, Vec::new()));
                } else {
                    reps.push((values[i].at.0, values[j + 1].at.0, Vec::new()));
                }
                i = j + 1;
            }
        }
        first = end;
    }
    if record(msg, &lay, &reps) {
        1
    } else {
        -1
    }
}

/// Checks whether comma-separated headers contain a value (compared
/// case-insensitively).
///
/// # Parameters
/// - `hexp`: the header name, such as `Supported`.
/// - `hvalue`: the value.
///
/// # Returns
/// 1 when present, -1 when not, the value is empty or the name invalid.
///
/// # Example
/// ```js
/// if (KSR.textopsx.hf_value_exists("Supported", "100rel") > 0) {
///     KSR.info("reliable provisional responses\n");
/// }
/// ```
#[kemi]
pub fn hf_value_exists(ctx: &mut Ctx, hexp: &str, hvalue: &str) -> i32 {
    let Some(name) = plain_name(hexp) else {
        return -1;
    };
    if hvalue.is_empty() {
        return -1;
    }
    let Some(msg) = ctx.msg() else {
        return -1;
    };
    let found = msg
        .headers_by_name(name)
        .flat_map(|h| split_commas(h.value))
        .any(|v| v.eq_ignore_ascii_case(hvalue));
    if found {
        1
    } else {
        -1
    }
}

// ---------------------------------------------------------------------------
// Iterators.

const ITERATORS: usize = 4;
const ITERATOR_NAME_MAX: usize = 31;

#[derive(Debug, Default)]
struct HfIter {
    name: String,
    /// The current header, by position; `None` before the first.
    at: Option<usize>,
    /// Set once `next` went past the last header.
    done: bool,
}

#[derive(Debug, Default)]
struct BlIter {
    name: String,
    /// The current line, relative to the body.
    line: Option<(usize, usize)>,
    done: bool,
}

thread_local! {
    static HF_ITERS: RefCell<Vec<HfIter>> = const { RefCell::new(Vec::new()) };
    static BL_ITERS: RefCell<Vec<BlIter>> = const { RefCell::new(Vec::new()) };
}

trait Named {
    fn name(&self) -> &str;
    fn named(name: &str) -> Self;
}

impl Named for HfIter {
    fn name(&self) -> &str {
        &self.name
    }
    fn named(name: &str) -> Self {
        HfIter {
            name: name.to_owned(),
            ..HfIter::default()
        }
    }
}

impl Named for BlIter {
    fn name(&self) -> &str {
        &self.name
    }
    fn named(name: &str) -> Self {
        BlIter {
            name: name.to_owned(),
            ..BlIter::default()
        }
    }
}

/// The iterator called `name`, created when `create` and there is room.
fn slot<'a, T: Named>(list: &'a mut Vec<T>, name: &str, create: bool) -> Option<&'a mut T> {
    if let Some(i) = list.iter().position(|it| it.name() == name) {
        return list.get_mut(i);
    }
    if !create {
        log::error(ORIGIN, format_args!("iterator not available [{name}]"));
        return None;
    }
    if name.is_empty() || name.len() > ITERATOR_NAME_MAX {
        log::error(
            ORIGIN,
            format_args!("iterator name [{name}] is empty or too long"),
        );
        return None;
    }
    if list.len() >= ITERATORS {
        log::error(
            ORIGIN,
            format_args!("no iterator available - max number is {ITERATORS}"),
        );
        return None;
    }
    list.push(T::named(name));
    list.last_mut()
}

fn with_hf<R>(name: &str, create: bool, f: impl FnOnce(&mut HfIter) -> R) -> Option<R> {
    HF_ITERS.with(|l| slot(&mut l.borrow_mut(), name, create).map(f))
}

fn with_bl<R>(name: &str, create: bool, f: impl FnOnce(&mut BlIter) -> R) -> Option<R> {
    BL_ITERS.with(|l| slot(&mut l.borrow_mut(), name, create).map(f))
}

/// The header the iterator is on.
fn hf_current(name: &str) -> Option<usize> {
    with_hf(name, false, |it| it.at).flatten()
}

/// Starts (or restarts) a header iterator before the first header.
///
/// # Parameters
/// - `iname`: the iterator name (up to 31 characters; four iterators).
///
/// # Returns
/// 1 when started, -1 when there is no free iterator or the message has
/// no headers (logged).
///
/// # Example
/// ```js
/// KSR.textopsx.hf_iterator_start("h");
/// while (KSR.textopsx.hf_iterator_next("h") > 0) {
///     KSR.info(KSR.textopsx.hf_iterator_hname("h") + "\n");
/// }
/// ```
#[kemi]
pub fn hf_iterator_start(ctx: &mut Ctx, iname: &str) -> i32 {
    let started = with_hf(iname, true, |it| {
        it.at = None;
        it.done = false;
    });
    if started.is_none() {
        return -1;
    }
    match ctx.msg() {
        Some(m) if m.header_count() > 0 => 1,
        _ => {
            log::error(ORIGIN, format_args!("no headers for iterator [{iname}]"));
            -1
        }
    }
}

/// Moves a header iterator to the next header.
///
/// # Parameters
/// - `iname`: the iterator name.
///
/// # Returns
/// 1 when on a header, -1 past the last one or when the iterator does not
/// exist.
///
/// # Example
/// ```js
/// while (KSR.textopsx.hf_iterator_next("h") > 0) {
///     KSR.info(KSR.textopsx.hf_iterator_hbody("h") + "\n");
/// }
/// ```
#[kemi]
pub fn hf_iterator_next(ctx: &mut Ctx, iname: &str) -> i32 {
    let count = ctx.msg().map_or(0, SipMsg::header_count);
    with_hf(iname, false, |it| {
        if it.done {
            return -1;
        }
        let next = it.at.map_or(0, |i| i + 1);
        if next >= count {
            it.at = None;
            it.done = true;
            return -1;
        }
        it.at = Some(next);
        1
    })
    .unwrap_or(-1)
}

/// Moves a header iterator back to the previous header (before the first
/// one when it is on the first).
///
/// # Parameters
/// - `iname`: the iterator name.
///
/// # Returns
/// 1 when moved, -1 when the iterator went past the last header or does
/// not exist.
///
/// # Example
/// ```js
/// KSR.textopsx.hf_iterator_prev("h");
/// ```
#[kemi]
pub fn hf_iterator_prev(_ctx: &mut Ctx, iname: &str) -> i32 {
    with_hf(iname, false, |it| {
        if it.done {
            return -1;
        }
        it.at = it.at.and_then(|i| i.checked_sub(1));
        1
    })
    .unwrap_or(-1)
}

/// Ends a header iterator (it can be started again).
///
/// # Parameters
/// - `iname`: the iterator name.
///
/// # Returns
/// 1, or -1 when the iterator does not exist.
///
/// # Example
/// ```js
/// KSR.textopsx.hf_iterator_end("h");
/// ```
#[kemi]
pub fn hf_iterator_end(_ctx: &mut Ctx, iname: &str) -> i32 {
    with_hf(iname, false, |it| {
        it.at = None;
        it.done = false;
        1
    })
    .unwrap_or(-1)
}

/// Removes the header the iterator is on.
///
/// # Parameters
/// - `iname`: the iterator name.
///
/// # Returns
/// 1 when removed, -1 when the iterator is not on a header (logged).
///
/// # Example
/// ```js
/// if (KSR.textopsx.hf_iterator_hname("h") == "X-Debug") {
///     KSR.textopsx.hf_iterator_rm("h");
/// }
/// ```
#[kemi]
pub fn hf_iterator_rm(ctx: &mut Ctx, iname: &str) -> i32 {
    let Some(i) = hf_current(iname) else {
        return -1;
    };
    let Some(msg) = ctx.msg_mut() else {
        return -1;
    };
    match msg.delete_header(i) {
        Ok(()) => 1,
        Err(e) => {
            log::error(ORIGIN, format_args!("cannot remove the header: {e}"));
            -1
        }
    }
}

fn hf_iterator_add(ctx: &mut Ctx, iname: &str, htext: &str, after: bool) -> i32 {
    let Some(i) = hf_current(iname) else {
        return -1;
    };
    let Some(msg) = ctx.msg_mut() else {
        return -1;
    };
    let Some(line) = msg.header_at(i).map(|h| h.line_span()) else {
        return -1;
    };
    let at = if after { line.end() } else { line.start() };
    match msg.insert_at(at, htext) {
        Ok(()) => 1,
        Err(e) => {
            log::error(ORIGIN, format_args!("cannot add the header text: {e}"));
            -1
        }
    }
}

/// Adds header text after the header the iterator is on.
///
/// # Parameters
/// - `iname`: the iterator name.
/// - `htext`: the text, verbatim: complete header lines ending in CRLF.
///
/// # Returns
/// 1 when added, -1 when the iterator is not on a header or the text is
/// refused (logged).
///
/// # Example
/// ```js
/// KSR.textopsx.hf_iterator_append("h", "X-After: 1\r\n");
/// ```
#[kemi]
pub fn hf_iterator_append(ctx: &mut Ctx, iname: &str, htext: &str) -> i32 {
    hf_iterator_add(ctx, iname, htext, true)
}

/// Adds header text before the header the iterator is on.
///
/// # Parameters
/// - `iname`: the iterator name.
/// - `htext`: the text, verbatim: complete header lines ending in CRLF.
///
/// # Returns
/// 1 when added, -1 when the iterator is not on a header or the text is
/// refused (logged).
///
/// # Example
/// ```js
/// KSR.textopsx.hf_iterator_insert("h", "X-Before: 1\r\n");
/// ```
#[kemi]
pub fn hf_iterator_insert(ctx: &mut Ctx, iname: &str, htext: &str) -> i32 {
    hf_iterator_add(ctx, iname, htext, false)
}

/// The name of the header the iterator is on, as written.
///
/// # Parameters
/// - `iname`: the iterator name.
///
/// # Returns
/// The name, or `null` when the iterator is not on a header.
///
/// # Example
/// ```js
/// var name = KSR.textopsx.hf_iterator_hname("h");
/// ```
#[kemi(xval = "str, null")]
pub fn hf_iterator_hname(ctx: &mut Ctx, iname: &str) -> XVal {
    let h = hf_current(iname).and_then(|i| ctx.msg()?.header_at(i).map(|h| h.name.to_owned()));
    XVal::from(h)
}

/// The value of the header the iterator is on.
///
/// # Parameters
/// - `iname`: the iterator name.
///
/// # Returns
/// The value, or `null` when the iterator is not on a header.
///
/// # Example
/// ```js
/// var value = KSR.textopsx.hf_iterator_hbody("h");
/// ```
#[kemi(xval = "str, null")]
pub fn hf_iterator_hbody(ctx: &mut Ctx, iname: &str) -> XVal {
    let h = hf_current(iname).and_then(|i| ctx.msg()?.header_at(i).map(|h| h.value.to_owned()));
    XVal::from(h)
}

/// Starts (or restarts) a body line iterator before the first line.
///
/// # Parameters
/// - `iname`: the iterator name (up to 31 characters; four iterators).
///
/// # Returns
/// 1 when started, -1 when there is no free iterator (logged).
///
/// # Example
/// ```js
/// KSR.textopsx.bl_iterator_start("b");
/// while (KSR.textopsx.bl_iterator_next("b") > 0) {
///     KSR.info(KSR.textopsx.bl_iterator_value("b"));
/// }
/// ```
#[kemi]
pub fn bl_iterator_start(_ctx: &mut Ctx, iname: &str) -> i32 {
    with_bl(iname, true, |it| {
        it.line = None;
        it.done = false;
        1
    })
    .unwrap_or(-1)
}

/// Moves a body line iterator to the next line.
///
/// # Parameters
/// - `iname`: the iterator name.
///
/// # Returns
/// 1 when on a line, -1 past the last line or when the iterator does not
/// exist.
///
/// # Example
/// ```js
/// while (KSR.textopsx.bl_iterator_next("b") > 0) {
///     KSR.info(KSR.textopsx.bl_iterator_value("b"));
/// }
/// ```
#[kemi]
pub fn bl_iterator_next(ctx: &mut Ctx, iname: &str) -> i32 {
    let body = ctx.msg().map_or(&[][..], SipMsg::body);
    with_bl(iname, false, |it| {
        if it.done {
            return -1;
        }
        let start = it.line.map_or(0, |(s, e)| s + e);
        if start >= body.len() {
            it.line = None;
            it.done = true;
            return -1;
        }
        let len = body[start..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(body.len() - start, |i| i + 1);
        it.line = Some((start, len));
        1
    })
    .unwrap_or(-1)
}

/// Ends a body line iterator (it can be started again).
///
/// # Parameters
/// - `iname`: the iterator name.
///
/// # Returns
/// 1, or -1 when the iterator does not exist.
///
/// # Example
/// ```js
/// KSR.textopsx.bl_iterator_end("b");
/// ```
#[kemi]
pub fn bl_iterator_end(_ctx: &mut Ctx, iname: &str) -> i32 {
    with_bl(iname, false, |it| {
        it.line = None;
        it.done = false;
        1
    })
    .unwrap_or(-1)
}

/// The line the body iterator is on, relative to `as_bytes()`.
fn bl_current(msg: &SipMsg, iname: &str) -> Option<(usize, usize)> {
    let (s, len) = with_bl(iname, false, |it| it.line).flatten()?;
    let lay = Layout::of(msg);
    let end = lay.body + s + len;
    (end <= lay.len).then_some((lay.body + s, end))
}

/// Removes the body line the iterator is on.
///
/// # Parameters
/// - `iname`: the iterator name.
///
/// # Returns
/// 1 when removed, -1 when the iterator is not on a line (logged).
///
/// # Example
/// ```js
/// if (KSR.textopsx.bl_iterator_value("b").indexOf("a=rtcp") == 0) {
///     KSR.textopsx.bl_iterator_rm("b");
/// }
/// ```
#[kemi]
pub fn bl_iterator_rm(ctx: &mut Ctx, iname: &str) -> i32 {
    bl_edit(ctx, iname, |(s, e)| (s, e, Vec::new()))
}

/// Adds text after the body line the iterator is on.
///
/// # Parameters
/// - `iname`: the iterator name.
/// - `text`: the text, verbatim (end it with CRLF to add a line).
///
/// # Returns
/// 1 when added, -1 when the iterator is not on a line (logged).
///
/// # Example
/// ```js
/// KSR.textopsx.bl_iterator_append("b", "a=ptime:20\r\n");
/// ```
#[kemi]
pub fn bl_iterator_append(ctx: &mut Ctx, iname: &str, text: &str) -> i32 {
    bl_edit(ctx, iname, |(_, e)| (e, e, text.as_bytes().to_vec()))
}

/// Adds text before the body line the iterator is on.
///
/// # Parameters
/// - `iname`: the iterator name.
/// - `text`: the text, verbatim (end it with CRLF to add a line).
///
/// # Returns
/// 1 when added, -1 when the iterator is not on a line (logged).
///
/// # Example
/// ```js
/// KSR.textopsx.bl_iterator_insert("b", "a=sendrecv\r\n");
/// ```
#[kemi]
pub fn bl_iterator_insert(ctx: &mut Ctx, iname: &str, text: &str) -> i32 {
    bl_edit(ctx, iname, |(s, _)| (s, s, text.as_bytes().to_vec()))
}

fn bl_edit(ctx: &mut Ctx, iname: &str, f: impl FnOnce((usize, usize)) -> Replacement) -> i32 {
    let Some(msg) = ctx.msg_mut() else {
        return -1;
    };
    let Some(line) = bl_current(msg, iname) else {
        log::error(
            ORIGIN,
            format_args!("iterator [{iname}] is not on a body line"),
        );
        return -1;
    };
    let lay = Layout::of(msg);
    if record(msg, &lay, &[f(line)]) {
        1
    } else {
        -1
    }
}

/// The body line the iterator is on, line break included.
///
/// # Parameters
/// - `iname`: the iterator name.
///
/// # Returns
/// The line, or `null` when the iterator is not on a line.
///
/// # Example
/// ```js
/// var line = KSR.textopsx.bl_iterator_value("b");
/// ```
#[kemi(xval = "str, null")]
pub fn bl_iterator_value(ctx: &mut Ctx, iname: &str) -> XVal {
    let Some(msg) = ctx.msg() else {
        return XVal::Null;
    };
    match bl_current(msg, iname) {
        Some((s, e)) => {
            XVal::Str(String::from_utf8_lossy(msg.as_bytes().get(s..e).unwrap_or(&[])).into_owned())
        }
        None => XVal::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::textops::tests::{with_msg, INVITE};

    const REG: &str = "REGISTER sip:example.com SIP/2.0\r\n\
        Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n\
        From: <sip:a@example.com>;tag=1\r\n\
        To: <sip:a@example.com>\r\n\
        Call-ID: r1\r\n\
        CSeq: 1 REGISTER\r\n\
        Contact: \"A, B\" <sip:a@10.0.0.1;transport=udp>;expires=60;q=0.5, <sip:a@10.0.0.2>\r\n\
        Supported: path, outbound\r\n\
        Supported: gruu\r\n\
        User-Agent: test\r\n\
        Content-Length: 0\r\n\r\n";

    #[test]
    fn apply_changes_makes_edits_visible() {
        let (r, _, msg) = with_msg(INVITE, |c| {
            crate::modules::textops::remove_hf(c, "X-Trace");
            let before = crate::modules::textops::is_present_hf(c, "X-Trace");
            let applied = msg_apply_changes(c);
            (
                before,
                applied,
                crate::modules::textops::is_present_hf(c, "X-Trace"),
            )
        });
        assert_eq!(r, (1, 1, -1));
        assert!(msg.header_by_name("x-trace").is_none());
        let (r, _, msg) = with_msg(INVITE, |c| msg_set_buffer(c, REG));
        assert_eq!(r, 1);
        assert_eq!(msg.method_str(), Some("REGISTER"));
        let (r, _, _) = with_msg(INVITE, |c| msg_set_buffer(c, "garbage"));
        assert_eq!(r, -1);
    }

    #[test]
    fn reply_status_changes() {
        let reply = "SIP/2.0 603 Decline\r\nVia: SIP/2.0/UDP h\r\nContent-Length: 0\r\n\r\n";
        let (r, out, _) = with_msg(reply, |c| change_reply_status(c, 486, "Busy Here"));
        assert_eq!(r, 1);
        assert!(out.starts_with("SIP/2.0 486 Busy Here\r\n"));
        let (r, _, _) = with_msg(reply, |c| {
            (
                change_reply_status(c, 200, "OK"),
                change_reply_status(c, 486, ""),
                change_reply_status_code(c, 99),
            )
        });
        assert_eq!(r, (-1, -1, -1));
        let ringing = "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h\r\n\r\n";
        let (r, out, _) = with_msg(ringing, |c| {
            (
                change_reply_status_code(c, 183),
                change_reply_status_code(c, 486),
            )
        });
        assert_eq!(r, (1, -1));
        assert!(out.starts_with("SIP/2.0 183 Ringing\r\n"));
        let (r, _, _) = with_msg(INVITE, |c| change_reply_status_code(c, 183));
        assert_eq!(r, -1, "not a reply");
    }

    #[test]
    fn body_and_header_pruning() {
        let (r, out, _) = with_msg(INVITE, remove_body);
        assert_eq!(r, 1);
        assert!(out.ends_with("Content-Length: 0\r\n\r\n"));
        let (r, out, _) = with_msg(REG, keep_hf);
        assert_eq!(r, 1);
        assert!(!out.contains("Supported") && !out.contains("User-Agent"));
        assert!(out.contains("Contact:") && out.contains("CSeq:"));
        let (r, out, _) = with_msg(REG, |c| keep_hf_re(c, "^supp"));
        assert_eq!(r, 1);
        assert!(out.contains("Supported: gruu") && !out.contains("User-Agent"));
    }

    #[test]
    fn globs() {
        assert!(glob_match("+44*", "+4412", false));
        assert!(!glob_match("+44*", "+3312", false));
        assert!(glob_match("a?c", "abc", false));
        assert!(glob_match("*b*d", "abcbd", false));
        assert!(glob_match("[a-c]x[!0-9]", "bxy", false));
        assert!(!glob_match("[a-c]x[!0-9]", "bx5", false));
        assert!(glob_match("\\*", "*", false));
        assert!(!glob_match("\\*", "x", false));
        assert!(glob_match("*POLY*", "a polycom", true));
        assert!(glob_match("[]]", "]", false));
        assert!(glob_match("[", "[", false));
        assert!(glob_match("", "", false));
        assert!(!glob_match("", "a", false));
        let (r, _, _) = with_msg(INVITE, |c| {
            (
                fnmatch(c, "abc", "a*"),
                fnmatch(c, "abc", "b*"),
                fnmatch_ex(c, "ABC", "a*", "i"),
            )
        });
        assert_eq!(r, (1, -1, 1));
    }

    #[test]
    fn expressions_parse() {
        let p = HfExpr::parse;
        assert_eq!(
            p("Contact[-1].expires"),
            Some(HfExpr {
                name: "Contact",
                index: Index::At(-1),
                param: Some("expires")
            })
        );
        assert_eq!(
            p(" foo [ * ] "),
            Some(HfExpr {
                name: "foo",
                index: Index::All,
                param: None
            })
        );
        assert_eq!(
            p("foo[]"),
            Some(HfExpr {
                name: "foo",
                index: Index::Unset,
                param: None
            })
        );
        assert_eq!(p("foo[0]").map(|e| e.index), Some(Index::Unset));
        assert_eq!(p("foo[x]"), None);
        assert_eq!(p("foo."), None);
        assert_eq!(p("foo bar"), None);
        assert_eq!(p(""), None);
    }

    #[test]
    fn appending_and_inserting_values() {
        let (r, out, _) = with_msg(REG, |c| append_hf_value(c, "Supported", "timer"));
        assert_eq!(r, 1);
        assert!(out.contains("Content-Length: 0\r\nSupported: timer\r\n\r\n"));
        let (r, out, _) = with_msg(REG, |c| append_hf_value(c, "Supported[1]", "timer"));
        assert_eq!(r, 1);
        assert!(out.contains("Supported: path,timer, outbound\r\n"));
        let (r, out, _) = with_msg(REG, |c| append_hf_value(c, "Supported[-1]", "timer"));
        assert_eq!(r, 1);
        assert!(out.contains("Supported: gruu,timer\r\n"));
        let (r, out, _) = with_msg(REG, |c| insert_hf_value(c, "Supported", "timer"));
        assert_eq!(r, 1);
        assert!(out.contains("User-Agent"));
        assert!(out.contains("CSeq: 1 REGISTER\r\nContact:"));
        assert!(out.contains("\r\nSupported: timer\r\nSupported: path, outbound\r\n"));
        let (r, out, _) = with_msg(REG, |c| insert_hf_value(c, "Supported[2]", "timer"));
        assert_eq!(r, 1);
        assert!(out.contains("Supported: path,timer, outbound\r\n"));
        let (r, _, _) = with_msg(REG, |c| {
            (
                insert_hf_value(c, "Supported[9]", "x"),
                append_hf_value(c, "Supported[*]", "x"),
            )
        });
        assert_eq!(r, (-1, -1));
    }

    #[test]
    fn removing_and_assigning_values() {
        let (r, out, _) = with_msg(REG, |c| remove_hf_value(c, "Supported"));
        assert_eq!(r, 1);
        assert!(out.contains("Supported: outbound\r\nSupported: gruu\r\n"));
        let (r, out, _) = with_msg(REG, |c| remove_hf_value(c, "Supported[-1]"));
        assert_eq!(r, 1);
        assert!(out.contains("Supported: path, outbound\r\nUser-Agent"));
        let (r, out, _) = with_msg(REG, |c| remove_hf_value(c, "Supported[2]"));
        assert_eq!(r, 1);
        assert!(out.contains("Supported: path\r\nSupported: gruu\r\n"));
        let (r, out, _) = with_msg(REG, |c| remove_hf_value(c, "Supported[*]"));
        assert_eq!(r, 1);
        assert!(!out.contains("Supported"));
        let (r, out, _) = with_msg(REG, |c| remove_hf_value(c, "Contact[*].expires"));
        assert_eq!(r, 1);
        assert!(out.contains(
            "Contact: \"A, B\" <sip:a@10.0.0.1;transport=udp>;q=0.5, <sip:a@10.0.0.2>\r\n"
        ));
        let (r, _, _) = with_msg(REG, |c| remove_hf_value(c, "Contact[2].expires"));
        assert_eq!(r, -1);
        let (r, out, _) = with_msg(REG, |c| assign_hf_value(c, "Contact[1].expires", "600"));
        assert_eq!(r, 1);
        assert!(out.contains(";expires=600;q=0.5, "));
        let (r, out, _) = with_msg(REG, |c| assign_hf_value(c, "Contact[*].expires", "0"));
        assert_eq!(r, 1);
        assert!(out.contains(";expires=0;q=0.5, <sip:a@10.0.0.2>;expires=0\r\n"));
        let (r, out, _) = with_msg(REG, |c| assign_hf_value(c, "Supported[2]", "x"));
        assert_eq!(r, 1);
        assert!(out.contains("Supported: path, x\r\n"));
        let (r, _, _) = with_msg(REG, |c| {
            (
                assign_hf_value(c, "Supported[*]", "x"),
                assign_hf_value(c, "Supported[7]", "x"),
            )
        });
        assert_eq!(r, (-1, -1));
    }

    #[test]
    fn including_and_excluding_values() {
        let (r, out, _) = with_msg(REG, |c| {
            (
                include_hf_value(c, "Supported", "GRUU"),
                include_hf_value(c, "Supported", "timer"),
            )
        });
        assert_eq!(r, (1, 1));
        assert!(out.contains("Supported: path, outbound,timer\r\nSupported: gruu\r\n"));
        let (r, out, _) = with_msg(INVITE, |c| include_hf_value(c, "Require", "100rel"));
        assert_eq!(r, 1);
        assert!(out.contains("Require: 100rel\r\n\r\n"));
        let (r, out, _) = with_msg(REG, |c| {
            (
                exclude_hf_value(c, "supported", "OUTBOUND"),
                exclude_hf_value(c, "Supported", "gruu"),
            )
        });
        assert_eq!(r, (1, 1));
        assert!(out.contains("Supported: path\r\nUser-Agent"), "{out}");
        let (r, out, _) = with_msg(REG, |c| exclude_hf_value(c, "Supported", "path"));
        assert_eq!(r, 1);
        assert!(out.contains("Supported: outbound\r\n"), "{out}");
        let (r, _, _) = with_msg(REG, |c| {
            (
                hf_value_exists(c, "Supported", "GRUU"),
                hf_value_exists(c, "Supported", "x"),
                hf_value_exists(c, "Supported[1]", "x"),
            )
        });
        assert_eq!(r, (1, -1, -1));
    }

    #[test]
    fn header_iterator_walks_and_edits() {
        let (r, out, _) = with_msg(REG, |c| {
            let mut names = Vec::new();
            assert_eq!(hf_iterator_start(c, "h"), 1);
            while hf_iterator_next(c, "h") > 0 {
                if let XVal::Str(n) = hf_iterator_hname(c, "h") {
                    if n == "User-Agent" {
                        hf_iterator_rm(c, "h");
                        hf_iterator_prev(c, "h");
                        hf_iterator_append(c, "h", "X-Seen: 1\r\n");
                        hf_iterator_next(c, "h");
                    }
                    names.push(n);
                }
            }
            let after = hf_iterator_hbody(c, "h");
            hf_iterator_end(c, "h");
            (names.len(), after, hf_iterator_next(c, "nope"))
        });
        assert_eq!(r, (10, XVal::Null, -1));
        assert!(
            out.contains("Supported: gruu\r\nX-Seen: 1\r\nContent-Length"),
            "{out}"
        );
        let r = HF_ITERS.with(|l| {
            l.borrow_mut().clear();
            for i in 0..ITERATORS {
                assert!(slot(&mut l.borrow_mut(), &format!("i{i}"), true).is_some());
            }
            slot(&mut l.borrow_mut(), "one-too-many", true).is_none()
        });
        assert!(r);
        HF_ITERS.with(|l| l.borrow_mut().clear());
    }

    #[test]
    fn body_line_iterator() {
        let (r, out, _) = with_msg(INVITE, |c| {
            let mut lines = Vec::new();
            bl_iterator_start(c, "b");
            while bl_iterator_next(c, "b") > 0 {
                if let XVal::Str(l) = bl_iterator_value(c, "b") {
                    if l.starts_with("c=") {
                        bl_iterator_rm(c, "b");
                    }
                    if l.starts_with("v=") {
                        bl_iterator_append(c, "b", "s=-\r\n");
                    }
                    lines.push(l);
                }
            }
            bl_iterator_end(c, "b");
            lines
        });
        assert_eq!(
            r,
            vec![
                "v=0\r\n",
                "o=- 1 1 IN IP4 10.0.0.1\r\n",
                "c=IN IP4 10.0.0.1\r\n"
            ]
        );
        assert!(
            out.ends_with("\r\n\r\nv=0\r\ns=-\r\no=- 1 1 IN IP4 10.0.0.1\r\n"),
            "{out}"
        );
    }
}
