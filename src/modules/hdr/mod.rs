//! `KSR.hdr`: reading, adding and removing header fields.
//!
//! Header names match case-insensitively and compact forms are the same
//! header as their full names (`v` is `Via`, `f` is `From`, ...).
//!
//! Changes are recorded as edits and applied when the message is sent, so
//! reads keep seeing the message as received: after `KSR.hdr.remove("X")`,
//! `KSR.hdr.is_present("X")` is still 1, and an appended header cannot be
//! read back. Header text is given whole, `Name: value`; the trailing CRLF
//! may be left out (kemid adds it, where Kamailio would insert the text
//! verbatim and break the message). Several lines may be given at once.

use kemid_macros::kemi;

use crate::ctx::Ctx;
use crate::log;
use crate::registry::XVal;
use crate::sip::{Header, SipMsg};

/// Whether `name` can be a header name (an RFC 3261 token).
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
                )
        })
}

/// Checks a header name argument, logging why it is refused.
fn checked_name(func: &str, name: &str) -> Option<()> {
    if valid_name(name) {
        Some(())
    } else {
        log::error(
            "hdr",
            format_args!("{func}: `{name}` is not a valid header name"),
        );
        None
    }
}

/// Checks header text and returns it ending in exactly one CRLF.
fn header_text(func: &str, text: &str) -> Option<String> {
    let body = text.trim_end_matches(['\r', '\n']);
    let bad = body.is_empty()
        || body.starts_with([' ', '\t'])
        || body.contains('\0')
        || !body
            .split("\r\n")
            .all(|l| l.contains(':') || l.starts_with([' ', '\t']));
    if bad {
        log::error(
            "hdr",
            format_args!("{func}: `{text}` is not header text (`Name: value`)"),
        );
        return None;
    }
    let mut t = String::with_capacity(body.len() + 2);
    t.push_str(body);
    t.push_str("\r\n");
    Some(t)
}

/// The headers named `name`, in message order.
fn named<'m>(msg: &'m SipMsg, name: &'m str) -> impl Iterator<Item = Header<'m>> + 'm {
    msg.headers_by_name(name)
}

/// Inserts header text at a byte offset of the received message.
fn insert_text(ctx: &mut Ctx, func: &str, at: usize, text: &str) -> i32 {
    let Some(msg) = ctx.msg_mut() else { return -1 };
    match msg.insert_at(at, text) {
        Ok(()) => 1,
        Err(e) => {
            log::error("hdr", format_args!("{func}: {e}"));
            -1
        }
    }
}

/// Appends header text after the last header.
///
/// # Parameters
/// - `text`: the header line(s), such as `"X-Hint: external\r\n"`.
///
/// # Returns
/// 1 when recorded; -1 when the text is not header text (logged).
///
/// # Example
/// ```js
/// KSR.hdr.append("X-Hint: external\r\n");
/// ```
#[kemi]
pub fn append(ctx: &mut Ctx, text: &str) -> i32 {
    let Some(text) = header_text("append", text) else {
        return -1;
    };
    let Some(msg) = ctx.msg_mut() else { return -1 };
    match msg.append_header(&text) {
        Ok(()) => 1,
        Err(e) => {
            log::error("hdr", format_args!("append: {e}"));
            -1
        }
    }
}

/// Inserts header text right after the first header named `name`, or
/// after the last header when there is none.
///
/// # Parameters
/// - `text`: the header line(s), such as `"X-After: 1\r\n"`.
/// - `name`: the header to insert after, such as `"Call-ID"`.
///
/// # Returns
/// 1 when recorded; -1 when the text or the name is invalid (logged).
///
/// # Example
/// ```js
/// KSR.hdr.append_after("X-After: 1\r\n", "Call-ID");
/// ```
#[kemi]
pub fn append_after(ctx: &mut Ctx, text: &str, name: &str) -> i32 {
    let (Some(text), Some(())) = (
        header_text("append_after", text),
        checked_name("append_after", name),
    ) else {
        return -1;
    };
    let Some(msg) = ctx.msg() else { return -1 };
    // After the header, else after the last header (the end of its line).
    let found = named(msg, name).next().or_else(|| msg.headers().last());
    let Some(at) = found.map(|h| h.line_span().end()) else {
        return append(ctx, &text);
    };
    insert_text(ctx, "append_after", at, &text)
}

/// Inserts header text before the first header.
///
/// # Parameters
/// - `text`: the header line(s), such as `"X-First: 1\r\n"`.
///
/// # Returns
/// 1 when recorded; -1 when the text is not header text (logged).
///
/// # Example
/// ```js
/// KSR.hdr.insert("X-First: 1\r\n");
/// ```
#[kemi]
pub fn insert(ctx: &mut Ctx, text: &str) -> i32 {
    let Some(text) = header_text("insert", text) else {
        return -1;
    };
    let Some(msg) = ctx.msg_mut() else { return -1 };
    match msg.insert_header(&text) {
        Ok(()) => 1,
        Err(e) => {
            log::error("hdr", format_args!("insert: {e}"));
            -1
        }
    }
}

/// Inserts header text right before the first header named `name`, or
/// before the first header when there is none.
///
/// # Parameters
/// - `text`: the header line(s), such as `"X-Before: 1\r\n"`.
/// - `name`: the header to insert before, such as `"CSeq"`.
///
/// # Returns
/// 1 when recorded; -1 when the text or the name is invalid (logged).
///
/// # Example
/// ```js
/// KSR.hdr.insert_before("X-Before: 1\r\n", "CSeq");
/// ```
#[kemi]
pub fn insert_before(ctx: &mut Ctx, text: &str, name: &str) -> i32 {
    let (Some(text), Some(())) = (
        header_text("insert_before", text),
        checked_name("insert_before", name),
    ) else {
        return -1;
    };
    let Some(msg) = ctx.msg() else { return -1 };
    let found = named(msg, name).next().map(|h| h.line_span().start());
    match found {
        Some(at) => insert_text(ctx, "insert_before", at, &text),
        None => insert(ctx, &text),
    }
}

/// Removes every header named `name`.
///
/// # Parameters
/// - `name`: the header name, such as `"X-Internal"`.
///
/// # Returns
/// 1, also when there was no such header (test with `is_present`); -1 when
/// the name is invalid (logged).
///
/// # Example
/// ```js
/// KSR.hdr.remove("X-Internal");
/// ```
#[kemi]
pub fn remove(ctx: &mut Ctx, name: &str) -> i32 {
    if checked_name("remove", name).is_none() {
        return -1;
    }
    let Some(msg) = ctx.msg_mut() else { return -1 };
    msg.delete_headers_by_name(name);
    1
}

/// Removes every header named `remove` and appends header text after the
/// last header.
///
/// # Parameters
/// - `remove`: the name of the headers to remove.
/// - `text`: the header line(s) to append.
///
/// # Returns
/// 1 when done; -1 when the name or the text is invalid (logged; nothing
/// is changed).
///
/// # Example
/// ```js
/// KSR.hdr.rmappend("X-Route", "X-Route: internal\r\n");
/// ```
#[kemi]
pub fn rmappend(ctx: &mut Ctx, remove: &str, text: &str) -> i32 {
    if header_text("rmappend", text).is_none() || checked_name("rmappend", remove).is_none() {
        return -1;
    }
    match self::remove(ctx, remove) {
        r if r < 0 => r,
        _ => append(ctx, text),
    }
}

/// Removes every header named `remove` and inserts header text before the
/// first header.
///
/// # Parameters
/// - `remove`: the name of the headers to remove.
/// - `text`: the header line(s) to insert.
///
/// # Returns
/// 1 when done; -1 when the name or the text is invalid (logged; nothing
/// is changed).
///
/// # Example
/// ```js
/// KSR.hdr.rminsert("X-Route", "X-Route: internal\r\n");
/// ```
#[kemi]
pub fn rminsert(ctx: &mut Ctx, remove: &str, text: &str) -> i32 {
    if header_text("rminsert", text).is_none() || checked_name("rminsert", remove).is_none() {
        return -1;
    }
    match self::remove(ctx, remove) {
        r if r < 0 => r,
        _ => insert(ctx, text),
    }
}

/// Tells whether the message has a header named `name` (as received).
///
/// # Parameters
/// - `name`: the header name, such as `"Authorization"`.
///
/// # Returns
/// 1 when present; -1 when absent or the name is invalid. An integer, as
/// in Kamailio: test it with `> 0`.
///
/// # Example
/// ```js
/// if (KSR.hdr.is_present("Authorization") > 0) { KSR.info("has credentials\n"); }
/// ```
#[kemi]
pub fn is_present(ctx: &mut Ctx, name: &str) -> i32 {
    if checked_name("is_present", name).is_none() {
        return -1;
    }
    match ctx.msg() {
        Some(msg) if named(msg, name).next().is_some() => 1,
        _ => -1,
    }
}

/// Adds header text to the next reply this server builds for the message
/// (`KSR.sl.*`, `KSR.tm.t_reply`, sanity replies...).
///
/// # Parameters
/// - `text`: the header line(s), such as `"Retry-After: 60\r\n"`.
///
/// # Returns
/// 1 when recorded; -1 when the text is not header text (logged).
///
/// # Example
/// ```js
/// KSR.hdr.append_to_reply("Retry-After: 60\r\n");
/// KSR.sl.sl_send_reply(503, "Service Unavailable");
/// ```
#[kemi]
pub fn append_to_reply(ctx: &mut Ctx, text: &str) -> i32 {
    let Some(text) = header_text("append_to_reply", text) else {
        return -1;
    };
    ctx.state_mut().reply_headers.push_str(&text);
    1
}

/// The body of header `name` number `idx`: 0 is the first, -1 the last.
fn body<'m>(msg: &'m SipMsg, name: &'m str, idx: i32) -> Option<&'m str> {
    if !valid_name(name) {
        log::error("hdr", format_args!("`{name}` is not a valid header name"));
        return None;
    }
    if idx >= 0 {
        named(msg, name)
            .nth(usize::try_from(idx).ok()?)
            .map(|h| h.value)
    } else {
        let back = usize::try_from(idx.unsigned_abs()).ok()?;
        let n = named(msg, name).count();
        named(msg, name).nth(n.checked_sub(back)?).map(|h| h.value)
    }
}

fn get_with(ctx: &Ctx, name: &str, idx: i32, null: impl FnOnce() -> XVal) -> XVal {
    match ctx.msg().and_then(|m| body(m, name, idx)) {
        Some(v) => XVal::Str(v.to_owned()),
        None => null(),
    }
}

fn empty() -> XVal {
    XVal::Str(String::new())
}

fn printable_null() -> XVal {
    XVal::Str("<null>".to_owned())
}

/// Returns the body of the first header named `name`.
///
/// # Parameters
/// - `name`: the header name, such as `"User-Agent"` (compact forms too).
///
/// # Returns
/// The header body, trimmed; `null` when there is no such header.
///
/// # Example
/// ```js
/// var ua = KSR.hdr.get("User-Agent");
/// ```
#[kemi(xval = "str, null")]
pub fn get(ctx: &mut Ctx, name: &str) -> XVal {
    get_with(ctx, name, 0, || XVal::Null)
}

/// Returns the body of the first header named `name`, or `""`.
///
/// # Parameters
/// - `name`: the header name.
///
/// # Returns
/// The header body; an empty string when there is no such header.
///
/// # Example
/// ```js
/// var ua = KSR.hdr.gete("User-Agent");
/// ```
#[kemi(xval = "str")]
pub fn gete(ctx: &mut Ctx, name: &str) -> XVal {
    get_with(ctx, name, 0, empty)
}

/// Returns the body of the first header named `name`, or `"<null>"`.
///
/// # Parameters
/// - `name`: the header name.
///
/// # Returns
/// The header body; the text `<null>` when there is no such header.
///
/// # Example
/// ```js
/// KSR.info("ua: " + KSR.hdr.getw("User-Agent") + "\n");
/// ```
#[kemi(xval = "str")]
pub fn getw(ctx: &mut Ctx, name: &str) -> XVal {
    get_with(ctx, name, 0, printable_null)
}

/// Returns the body of one of the headers named `name`.
///
/// # Parameters
/// - `name`: the header name.
/// - `idx`: which one: 0 is the first, 1 the second, -1 the last, -2 the
///   one before.
///
/// # Returns
/// The header body; `null` when there is no such header.
///
/// # Example
/// ```js
/// var last_via = KSR.hdr.get_idx("Via", -1);
/// ```
#[kemi(xval = "str, null")]
pub fn get_idx(ctx: &mut Ctx, name: &str, idx: i32) -> XVal {
    get_with(ctx, name, idx, || XVal::Null)
}

/// Returns the body of one of the headers named `name`, or `""`.
///
/// # Parameters
/// - `name`: the header name.
/// - `idx`: which one: 0 is the first, -1 the last.
///
/// # Returns
/// The header body; an empty string when there is no such header.
///
/// # Example
/// ```js
/// var second = KSR.hdr.gete_idx("Record-Route", 1);
/// ```
#[kemi(xval = "str")]
pub fn gete_idx(ctx: &mut Ctx, name: &str, idx: i32) -> XVal {
    get_with(ctx, name, idx, empty)
}

/// Returns the body of one of the headers named `name`, or `"<null>"`.
///
/// # Parameters
/// - `name`: the header name.
/// - `idx`: which one: 0 is the first, -1 the last.
///
/// # Returns
/// The header body; the text `<null>` when there is no such header.
///
/// # Example
/// ```js
/// KSR.info("top via: " + KSR.hdr.getw_idx("Via", 0) + "\n");
/// ```
#[kemi(xval = "str")]
pub fn getw_idx(ctx: &mut Ctx, name: &str, idx: i32) -> XVal {
    get_with(ctx, name, idx, printable_null)
}

/// Compares the bodies of the headers named `name` with a value. Bodies
/// are trimmed and every comparison ignores case.
///
/// # Parameters
/// - `name`: the header name.
/// - `op`: `eq` (equal), `ne` (not equal), `sw` (starts with) or `in`
///   (contains). Kamailio's `re` is not implemented there either: it gives
///   `false`.
/// - `value`: the value to compare with.
/// - `which`: which headers decide, by first letter: `f` the first, `l`
///   the last, `a` all of them must match, `o` at least one.
///
/// # Returns
/// `true` when the comparison holds; `false` when it does not, when there
/// is no such header, or for an invalid operator or selector (logged).
///
/// # Example
/// ```js
/// if (KSR.hdr.match_content("User-Agent", "sw", "friendly", "o")) { KSR.x.exit(); }
/// ```
#[kemi]
pub fn match_content(ctx: &mut Ctx, name: &str, op: &str, value: &str, which: &str) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum Op {
        Eq,
        Ne,
        StartsWith,
        Contains,
    }
    let op = match op.to_ascii_lowercase().as_str() {
        "eq" => Op::Eq,
        "ne" => Op::Ne,
        "sw" => Op::StartsWith,
        "in" => Op::Contains,
        "re" => {
            log::error(
                "hdr",
                format_args!("match_content: operator `re` is not implemented"),
            );
            return false;
        }
        other => {
            log::error(
                "hdr",
                format_args!("match_content: invalid operator `{other}`"),
            );
            return false;
        }
    };
    let which = match which.bytes().next().map(|b| b.to_ascii_lowercase()) {
        Some(w @ (b'f' | b'l' | b'a' | b'o')) => w,
        _ => {
            log::error(
                "hdr",
                format_args!("match_content: invalid header selector `{which}` (f, l, a or o)"),
            );
            return false;
        }
    };
    if checked_name("match_content", name).is_none() {
        return false;
    }
    let Some(msg) = ctx.msg() else { return false };
    let want = value.to_ascii_lowercase();
    let matches = |body: &str| {
        let body = body.trim();
        match op {
            Op::Eq => body.eq_ignore_ascii_case(value),
            Op::Ne => !body.eq_ignore_ascii_case(value),
            Op::StartsWith => body
                .get(..value.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(value)),
            Op::Contains => body.to_ascii_lowercase().contains(&want),
        }
    };
    let mut last = false;
    for h in named(msg, name) {
        last = matches(h.value);
        match which {
            b'f' => return last,
            b'a' if !last => return false,
            b'o' if last => return true,
            _ => {}
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::core::tests::{parse, udp_recv, with_ctx, TestCore};

    const MSG: &str = "INVITE sip:bob@example.com SIP/2.0\r\n\
        v: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n\
        Via: SIP/2.0/UDP b.example.com;branch=z9hG4bK2\r\n\
        From: <sip:alice@example.com>;tag=1\r\n\
        To: <sip:bob@example.com>\r\n\
        Call-ID: c1\r\n\
        CSeq: 1 INVITE\r\n\
        User-Agent:  Friendly-Scanner 1.0 \r\n\
        X-Tag: alpha\r\n\
        x-tag: Beta\r\n\
        Content-Length: 0\r\n\r\n";

    fn run<R>(f: impl FnOnce(&mut Ctx) -> R) -> (R, String) {
        let core = TestCore::default();
        let mut m = parse(MSG);
        let r = with_ctx(&core, &mut m, udp_recv(), f);
        let mut out = Vec::new();
        m.write_into(&mut out);
        (r, String::from_utf8(out).expect("utf-8"))
    }

    fn s(v: &str) -> XVal {
        XVal::Str(v.to_owned())
    }

    #[test]
    fn getters_see_the_received_message() {
        run(|ctx| {
            assert_eq!(get(ctx, "user-agent"), s("Friendly-Scanner 1.0"));
            assert_eq!(
                get(ctx, "Via"),
                s("SIP/2.0/UDP a.example.com;branch=z9hG4bK1")
            );
            assert_eq!(get(ctx, "v"), get(ctx, "Via"));
            assert_eq!(
                get_idx(ctx, "via", 1),
                s("SIP/2.0/UDP b.example.com;branch=z9hG4bK2")
            );
            assert_eq!(get_idx(ctx, "X-Tag", -1), s("Beta"));
            assert_eq!(get_idx(ctx, "X-Tag", -2), s("alpha"));
            assert_eq!(get_idx(ctx, "X-Tag", -3), XVal::Null);
            assert_eq!(get_idx(ctx, "X-Tag", 2), XVal::Null);
            assert_eq!(get(ctx, "X-None"), XVal::Null);
            assert_eq!(gete(ctx, "X-None"), s(""));
            assert_eq!(getw(ctx, "X-None"), s("<null>"));
            assert_eq!(gete_idx(ctx, "X-Tag", 5), s(""));
            assert_eq!(getw_idx(ctx, "X-Tag", 5), s("<null>"));
            assert_eq!(getw_idx(ctx, "X-Tag", 0), s("alpha"));
            assert_eq!(get(ctx, "bad name"), XVal::Null);
            assert_eq!(is_present(ctx, "X-TAG"), 1);
            assert_eq!(is_present(ctx, "f"), 1);
            assert_eq!(is_present(ctx, "Route"), -1);
            assert_eq!(is_present(ctx, ""), -1);
        });
    }

    #[test]
    fn edits_are_deferred_and_placed() {
        let (_, out) = run(|ctx| {
            assert_eq!(remove(ctx, "x-tag"), 1);
            assert_eq!(remove(ctx, "X-Absent"), 1, "1 even when absent");
            assert_eq!(
                is_present(ctx, "X-Tag"),
                1,
                "reads see the received message"
            );
            assert_eq!(append(ctx, "X-End: 1"), 1);
            assert_eq!(insert(ctx, "X-Top: 1\r\n"), 1);
            assert_eq!(append_after(ctx, "X-After-CallID: 1\r\n", "i"), 1);
            assert_eq!(insert_before(ctx, "X-Before-CSeq: 1\r\n", "CSeq"), 1);
            assert_eq!(append_after(ctx, "X-Nowhere-A: 1\r\n", "X-None"), 1);
            assert_eq!(insert_before(ctx, "X-Nowhere-I: 1\r\n", "X-None"), 1);
            assert_eq!(
                get(ctx, "X-End"),
                XVal::Null,
                "appended headers are not readable"
            );
            assert_eq!(append(ctx, ""), -1);
            assert_eq!(append(ctx, "no colon"), -1);
            assert_eq!(append(ctx, " X-Folded: 1"), -1);
            assert_eq!(append_after(ctx, "X-A: 1", "bad name"), -1);
            assert_eq!(remove(ctx, "bad name"), -1);
        });
        let want = "INVITE sip:bob@example.com SIP/2.0\r\n\
            X-Top: 1\r\n\
            X-Nowhere-I: 1\r\n\
            v: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n\
            Via: SIP/2.0/UDP b.example.com;branch=z9hG4bK2\r\n\
            From: <sip:alice@example.com>;tag=1\r\n\
            To: <sip:bob@example.com>\r\n\
            Call-ID: c1\r\n\
            X-After-CallID: 1\r\n\
            X-Before-CSeq: 1\r\n\
            CSeq: 1 INVITE\r\n\
            User-Agent:  Friendly-Scanner 1.0 \r\n\
            Content-Length: 0\r\n\
            X-End: 1\r\n\
            X-Nowhere-A: 1\r\n\r\n";
        assert_eq!(out, want);
    }

    #[test]
    fn remove_then_add() {
        let (_, out) = run(|ctx| {
            assert_eq!(rmappend(ctx, "X-Tag", "X-Tag: gamma\r\n"), 1);
            assert_eq!(rminsert(ctx, "User-Agent", "User-Agent: kemid"), 1);
            assert_eq!(rmappend(ctx, "Call-ID", "bad"), -1);
        });
        assert!(!out.contains("alpha") && !out.contains("Beta"), "{out}");
        assert!(
            out.contains("Content-Length: 0\r\nX-Tag: gamma\r\n\r\n"),
            "{out}"
        );
        assert!(
            out.starts_with("INVITE sip:bob@example.com SIP/2.0\r\nUser-Agent: kemid\r\n"),
            "{out}"
        );
        assert!(
            out.contains("Call-ID: c1\r\n"),
            "a refused call changes nothing"
        );
    }

    #[test]
    fn headers_for_the_reply() {
        run(|ctx| {
            assert_eq!(append_to_reply(ctx, "Retry-After: 60"), 1);
            assert_eq!(append_to_reply(ctx, "X-A: 1\r\nX-B: 2\r\n"), 1);
            assert_eq!(append_to_reply(ctx, "\r\n"), -1);
            assert_eq!(
                ctx.state().reply_headers,
                "Retry-After: 60\r\nX-A: 1\r\nX-B: 2\r\n"
            );
        });
    }

    #[test]
    fn content_matching() {
        run(|ctx| {
            assert!(match_content(ctx, "User-Agent", "sw", "friendly", "f"));
            assert!(match_content(ctx, "User-Agent", "in", "SCANNER", "f"));
            assert!(match_content(
                ctx,
                "User-Agent",
                "eq",
                "friendly-scanner 1.0",
                "f"
            ));
            assert!(!match_content(
                ctx,
                "User-Agent",
                "ne",
                "friendly-scanner 1.0",
                "f"
            ));
            assert!(match_content(ctx, "X-Tag", "eq", "beta", "last"));
            assert!(!match_content(ctx, "X-Tag", "eq", "beta", "first"));
            assert!(match_content(ctx, "X-Tag", "eq", "beta", "one"));
            assert!(!match_content(ctx, "X-Tag", "eq", "beta", "all"));
            assert!(match_content(ctx, "X-Tag", "in", "a", "all"));
            assert!(match_content(ctx, "X-Tag", "ne", "gamma", "a"));
            assert!(
                !match_content(ctx, "X-None", "ne", "x", "a"),
                "no header, no match"
            );
            assert!(!match_content(ctx, "X-Tag", "re", "a.*", "f"));
            assert!(!match_content(ctx, "X-Tag", "zz", "a", "f"));
            assert!(!match_content(ctx, "X-Tag", "eq", "alpha", "x"));
            assert!(!match_content(ctx, "X-Tag", "eq", "alpha", ""));
        });
    }
}
