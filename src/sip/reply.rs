//! Local replies built straight from a request (stateless replies, 400s).
//!
//! A stateless reply (RFC 3261 §8.2.6) copies Via (every value, in order),
//! From, To (with a tag added when the request had none), Call-ID and CSeq
//! from the request. Here they are copied from the request's byte ranges
//! into the caller's output buffer, with no intermediate allocation. The top
//! Via is written with any `received`/`rport` edits already recorded on it
//! (RFC 3581 requires them in the response).
//!
//! For requests that could not be parsed but still carry the five headers,
//! [`build_bad_request`] does the same from the raw bytes so that the sender
//! gets a `400` instead of silence.

use super::error::ReplyError;
use super::header::{HeaderEntry, HeaderName};
use super::method::Method;
use super::msg::SipMsg;
use super::parse::{scan, Index, Limits};
use super::serialize::{emit, fmt_u32};
use super::span::Span;

/// The RFC 3261 reason phrase for common status codes ("" when unknown).
pub fn default_reason(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        305 => "Use Proxy",
        380 => "Alternative Service",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        421 => "Extension Required",
        423 => "Interval Too Brief",
        429 => "Too Many Requests",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        485 => "Ambiguous",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        493 => "Undecipherable",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ => "",
    }
}

/// Where the headers a reply copies are, in some request buffer.
struct Copied<'a> {
    /// All headers; the Via ones are copied.
    headers: &'a [HeaderEntry],
    from: Span,
    to: Span,
    to_has_tag: bool,
    call_id: Span,
    cseq: Span,
}

/// Finds the first header of each kind a reply needs.
fn first(headers: &[HeaderEntry], kind: HeaderName) -> Result<Span, ReplyError> {
    headers
        .iter()
        .find(|e| e.kind == kind)
        .map(|e| e.value)
        .ok_or(ReplyError::MissingHeader(kind))
}

/// Whether a To value already has a tag, looked up textually so that it also
/// works on requests whose To did not parse.
fn has_tag_param(value: &[u8]) -> bool {
    value.windows(4).enumerate().any(|(i, w)| {
        w.eq_ignore_ascii_case(b"tag=")
            && value[..i]
                .iter()
                .rev()
                .find(|c| !c.is_ascii_whitespace())
                .is_some_and(|c| *c == b';')
    })
}

/// Writes a reply; `write_via` copies one Via header value.
#[allow(clippy::too_many_arguments)] // each argument is a distinct part of the reply
fn write_reply(
    src: &[u8],
    c: &Copied<'_>,
    code: u16,
    reason: &str,
    to_tag: Option<&str>,
    extra_headers: &str,
    out: &mut Vec<u8>,
    mut write_via: impl FnMut(Span, &mut Vec<u8>),
) {
    let reason = if reason.is_empty() {
        default_reason(code)
    } else {
        reason
    };
    let mut digits = [0u8; 10];
    out.extend_from_slice(b"SIP/2.0 ");
    out.extend_from_slice(fmt_u32(u32::from(code), &mut digits));
    out.push(b' ');
    // A reason phrase must not break the status line.
    out.extend(
        reason
            .bytes()
            .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
    out.extend_from_slice(b"\r\n");
    for v in c.headers.iter().filter(|e| e.kind == HeaderName::Via) {
        out.extend_from_slice(b"Via: ");
        write_via(v.value, out);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"From: ");
    out.extend_from_slice(c.from.bytes(src));
    out.extend_from_slice(b"\r\nTo: ");
    out.extend_from_slice(c.to.bytes(src));
    if let Some(tag) = to_tag.filter(|t| code > 100 && !c.to_has_tag && !t.is_empty()) {
        out.extend_from_slice(b";tag=");
        out.extend(tag.bytes().filter(|b| !b.is_ascii_whitespace()));
    }
    out.extend_from_slice(b"\r\nCall-ID: ");
    out.extend_from_slice(c.call_id.bytes(src));
    out.extend_from_slice(b"\r\nCSeq: ");
    out.extend_from_slice(c.cseq.bytes(src));
    out.extend_from_slice(b"\r\n");
    let extra = extra_headers.trim_end_matches(['\r', '\n']);
    if !extra.is_empty() {
        out.extend_from_slice(extra.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
}

/// Appends to `out` a reply to `req` with status `code`: Via (all values,
/// in order, with recorded `received`/`rport` edits), From, To (plus
/// `;tag=to_tag` when the request's To has no tag and `code > 100`),
/// Call-ID, CSeq, then `extra_headers` (complete header lines, CRLF
/// optional on the last) and `Content-Length: 0`. An empty `reason` uses the
/// standard phrase.
pub fn build_reply(
    req: &SipMsg,
    code: u16,
    reason: &str,
    to_tag: Option<&str>,
    extra_headers: &str,
    out: &mut Vec<u8>,
) -> Result<(), ReplyError> {
    if !(100..=699).contains(&code) {
        return Err(ReplyError::BadStatusCode);
    }
    if !req.is_request() || req.method() == Some(Method::Ack) {
        return Err(ReplyError::NotAnswerable);
    }
    let headers = req.idx.headers.as_slice();
    first(headers, HeaderName::Via)?;
    let to = first(headers, HeaderName::To)?;
    let src = req.buf.bytes();
    let c = Copied {
        headers,
        from: first(headers, HeaderName::From)?,
        to,
        to_has_tag: match req.to_header() {
            Ok(t) => t.tag().is_some(),
            Err(_) => has_tag_param(to.bytes(src)),
        },
        call_id: first(headers, HeaderName::CallId)?,
        cseq: first(headers, HeaderName::CSeq)?,
    };
    write_reply(
        src,
        &c,
        code,
        reason,
        to_tag,
        extra_headers,
        out,
        |v, out| {
            emit(src, v.start(), v.end(), true, req.resolved_edits(), out);
        },
    );
    Ok(())
}

/// Appends to `out` a `400` reply (with `reason`, or "Bad Request") to the
/// raw request `raw` that failed to parse, if it is a request other than
/// ACK with Via, From, To, Call-ID and CSeq (what
/// [`ParseError::can_reply`](super::ParseError::can_reply) reports).
/// Returns whether a reply was written.
pub fn build_bad_request(raw: &[u8], reason: &str, out: &mut Vec<u8>) -> bool {
    let mut s = Index::new();
    scan(raw, Limits::default(), &mut s);
    if !s.replyable(raw) {
        return false;
    }
    let headers = s.headers.as_slice();
    let parts = (
        first(headers, HeaderName::From),
        first(headers, HeaderName::To),
        first(headers, HeaderName::CallId),
        first(headers, HeaderName::CSeq),
    );
    let (Ok(from), Ok(to), Ok(call_id), Ok(cseq)) = parts else {
        return false;
    };
    let c = Copied {
        headers,
        from,
        to,
        to_has_tag: has_tag_param(to.bytes(raw)),
        call_id,
        cseq,
    };
    let reason = if reason.is_empty() {
        "Bad Request"
    } else {
        reason
    };
    write_reply(raw, &c, 400, reason, None, "", out, |v, out| {
        out.extend_from_slice(v.bytes(raw));
    });
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    const REQ: &str = "INVITE sip:bob@example.com SIP/2.0\r\n\
        Via: SIP/2.0/UDP pc.example.com;branch=z9hG4bK1;rport, SIP/2.0/UDP p2.example.com;branch=z9hG4bK2\r\n\
        Max-Forwards: 70\r\n\
        v: SIP/2.0/UDP p3.example.com;branch=z9hG4bK3\r\n\
        f: \"A, B\" <sip:alice@example.com>;tag=11\r\n\
        t: <sip:bob@example.com>\r\n\
        i: call-1@example.com\r\n\
        CSeq: 5 INVITE\r\n\
        Content-Length: 0\r\n\r\n";

    fn req() -> SipMsg {
        SipMsg::parse(REQ).unwrap_or_else(|e| panic!("{e}"))
    }

    fn reply(m: &SipMsg, code: u16, tag: Option<&str>, extra: &str) -> String {
        let mut out = Vec::new();
        build_reply(m, code, "", tag, extra, &mut out).unwrap_or_else(|e| panic!("{e}"));
        String::from_utf8(out).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn copies_headers_in_order_with_tag() {
        let r = reply(&req(), 486, Some("as83kd9"), "Retry-After: 60");
        assert_eq!(
            r,
            "SIP/2.0 486 Busy Here\r\n\
             Via: SIP/2.0/UDP pc.example.com;branch=z9hG4bK1;rport, SIP/2.0/UDP p2.example.com;branch=z9hG4bK2\r\n\
             Via: SIP/2.0/UDP p3.example.com;branch=z9hG4bK3\r\n\
             From: \"A, B\" <sip:alice@example.com>;tag=11\r\n\
             To: <sip:bob@example.com>;tag=as83kd9\r\n\
             Call-ID: call-1@example.com\r\n\
             CSeq: 5 INVITE\r\n\
             Retry-After: 60\r\n\
             Content-Length: 0\r\n\r\n"
        );
        let parsed = SipMsg::parse(r).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.status_code(), Some(486));
        assert_eq!(parsed.vias().map(|v| v.len()), Ok(3));
    }

    #[test]
    fn no_tag_on_100_or_when_present() {
        let r = reply(&req(), 100, Some("x"), "");
        assert!(r.contains("To: <sip:bob@example.com>\r\n"));
        let tagged = REQ.replace("t: <sip:bob@example.com>", "t: <sip:bob@example.com>;tag=9");
        let m = SipMsg::parse(tagged).unwrap_or_else(|e| panic!("{e}"));
        let r = reply(&m, 200, Some("x"), "");
        assert!(r.contains("To: <sip:bob@example.com>;tag=9\r\n"));
    }

    #[test]
    fn recorded_rport_and_received_are_in_the_reply() {
        let mut m = req();
        let src: SocketAddr = "192.0.2.7:6000".parse().unwrap_or_else(|e| panic!("{e}"));
        m.fix_top_via(src, false).unwrap_or_else(|e| panic!("{e}"));
        let r = reply(&m, 200, Some("t"), "");
        assert!(r.contains(
            "Via: SIP/2.0/UDP pc.example.com;branch=z9hG4bK1;rport=6000;received=192.0.2.7, SIP/2.0/UDP p2"
        ), "{r}");
    }

    #[test]
    fn refusals() {
        let m = req();
        let mut out = Vec::new();
        assert_eq!(
            build_reply(&m, 99, "", None, "", &mut out),
            Err(ReplyError::BadStatusCode)
        );
        let ack = SipMsg::parse(REQ.replacen("INVITE sip", "ACK sip", 1))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            build_reply(&ack, 200, "", None, "", &mut out),
            Err(ReplyError::NotAnswerable)
        );
        let no_cseq =
            SipMsg::parse(REQ.replace("CSeq: 5 INVITE\r\n", "")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            build_reply(&no_cseq, 200, "", None, "", &mut out),
            Err(ReplyError::MissingHeader(HeaderName::CSeq))
        );
        assert!(out.is_empty());
    }

    #[test]
    fn reason_cannot_inject_lines() {
        let mut out = Vec::new();
        build_reply(&req(), 403, "No\r\nX-Evil: 1", None, "", &mut out)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(out.starts_with(b"SIP/2.0 403 No  X-Evil: 1\r\nVia"));
    }

    #[test]
    fn bad_request_from_unparsable_input() {
        let broken = REQ
            .replace("Max-Forwards: 70", "Max-Forwards 70")
            .replace("Content-Length: 0", "Content-Length: x");
        let e = SipMsg::parse(broken.clone()).err();
        assert!(e.is_some_and(|e| e.can_reply()));
        let mut out = Vec::new();
        assert!(build_bad_request(broken.as_bytes(), "", &mut out));
        let r = String::from_utf8(out).unwrap_or_else(|e| panic!("{e}"));
        assert!(r.starts_with("SIP/2.0 400 Bad Request\r\nVia: SIP/2.0/UDP pc.example.com"));
        assert!(r.contains("\r\nCSeq: 5 INVITE\r\nContent-Length: 0\r\n\r\n"));
        let mut out = Vec::new();
        assert!(!build_bad_request(b"garbage\r\n\r\n", "", &mut out));
        assert!(!build_bad_request(
            b"SIP/2.0 200 OK\r\nVia: x\r\n\r\n",
            "",
            &mut out
        ));
        assert!(out.is_empty());
        assert!(has_tag_param(b"<sip:a@b> ; TAG=1"));
        assert!(!has_tag_param(b"<sip:a@b;xtag=1>"));
    }
}
