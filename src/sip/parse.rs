//! The scanner: one pass over the received bytes that records where things are.
//!
//! This is the per-message hot path. It does not build header values, it
//! only finds the start line's parts, each header's name and value
//! boundaries (joining folded continuation lines), the end of the headers and
//! the body, and classifies header names. Typed parsing of individual headers
//! happens later, only for the headers someone asks about.
//!
//! The scanner is deliberately liberal where RFC 3261 asks receivers to be
//! (white space around `:`, LF without CR, leading CRLFs, compact names,
//! folding) and strict where sloppiness would be dangerous downstream (NUL
//! bytes, bad Content-Length, missing end of headers). On the first error it
//! keeps collecting headers, so the caller learns whether a 400 could still
//! be routed back.

use super::error::{ParseError, ParseErrorKind as K};
use super::header::{HeaderEntry, HeaderName};
use super::index::HeaderIndex;
use super::method::Method;
use super::span::Span;
use super::text::{
    find_blank, find_byte, find_in, find_lf_or_nul, is_token, is_ws, parse_u32, skip_blank,
    skip_ws, token_end, trim, ParamSpans,
};

/// Default largest accepted message, in bytes (the largest UDP payload, and
/// Kamailio's default buffer size).
pub const MAX_MSG_SIZE: usize = 65_535;

/// Default largest accepted number of header lines: as many as the index
/// can number (positions are `u16`), more than a message of the default
/// size can hold (a header line takes at least 3 bytes), so the size
/// limit is what bounds a message.
pub const MAX_HEADERS: usize = u16::MAX as usize - 1;

/// Bounds that protect the server from oversized input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted message (start line, headers and body), in bytes.
    pub max_size: usize,
    /// Largest accepted number of header lines (folded lines count once).
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_size: MAX_MSG_SIZE,
            max_headers: MAX_HEADERS,
        }
    }
}

impl Limits {
    /// The limits actually enforced: offsets are stored as `u32` and header
    /// positions as `u16`, so larger settings are capped.
    pub(crate) fn effective(self) -> Limits {
        Limits {
            max_size: self.max_size.min(u32::MAX as usize - 1),
            max_headers: self.max_headers.min(u16::MAX as usize - 1),
        }
    }
}

/// The parsed start line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FirstLine {
    Request {
        method: Method,
        method_span: Span,
        uri: Span,
        version: Span,
    },
    Reply {
        version: Span,
        code: u16,
        reason: Span,
    },
}

/// The index of one message: everything one scan learned, possibly with an
/// error. A [`SipMsg`](super::SipMsg) embeds it; the scanner fills it in
/// place so that the sizeable inline header array is never copied.
#[derive(Clone, Debug)]
pub(crate) struct Index {
    /// First byte of the start line (after leading CR/LF).
    pub(crate) start: u32,
    /// End of the message: body start plus Content-Length, or end of input.
    pub(crate) end: u32,
    /// The start line; a placeholder reply with code 0 until it is parsed.
    pub(crate) first: FirstLine,
    /// Just past the start line's line break: where headers begin.
    pub(crate) first_line_end: u32,
    pub(crate) headers: HeaderIndex,
    /// For each kind, 1 + the index of its first header, or 0 if absent.
    pub(crate) first_of: [u16; HeaderName::COUNT],
    /// Offset of the empty line that ends the headers.
    pub(crate) head_end: u32,
    /// From just past the empty line to `end`.
    pub(crate) body: Span,
    pub(crate) content_length: Option<u32>,
    pub(crate) error: Option<ParseError>,
}

/// Keeps the `u32` conversions of offsets in one place: every offset the
/// scanner stores is below the effective size limit, itself below
/// `u32::MAX`.
const fn off(x: usize) -> u32 {
    x as u32
}

impl Index {
    pub(crate) fn new() -> Index {
        Index {
            start: 0,
            end: 0,
            first: FirstLine::Reply {
                version: Span::new(0, 0),
                code: 0,
                reason: Span::new(0, 0),
            },
            first_line_end: 0,
            headers: HeaderIndex::default(),
            first_of: [0; HeaderName::COUNT],
            head_end: 0,
            body: Span::new(0, 0),
            content_length: None,
            error: None,
        }
    }

    /// Records the first error only; later ones are consequences.
    fn fail(&mut self, kind: K, at: usize) {
        if self.error.is_none() {
            self.error = Some(ParseError::new(kind, at));
        }
    }

    fn has(&self, kind: HeaderName) -> bool {
        self.first_of[kind as usize] != 0
    }

    /// Entries of one kind, starting from the first one recorded, so that
    /// asking for an absent kind costs nothing.
    pub(crate) fn entries(
        &self,
        kind: HeaderName,
    ) -> impl Iterator<Item = (usize, &HeaderEntry)> + '_ {
        let first = usize::from(self.first_of[kind as usize]);
        let skip = first.checked_sub(1).unwrap_or(usize::MAX);
        self.headers
            .as_slice()
            .iter()
            .enumerate()
            .skip(skip)
            .filter(move |(_, e)| e.kind == kind)
    }

    /// Whether a 400 could be built: a request other than ACK (ACK never
    /// gets a reply) with the five headers a reply copies, none of which
    /// holds a NUL byte or (From, To) an empty tag: the reply would carry
    /// them.
    pub(crate) fn replyable(&self, buf: &[u8]) -> bool {
        let request = matches!(
            self.first,
            FirstLine::Request { method, .. } if method != Method::Ack
        );
        const COPIED: [HeaderName; 5] = [
            HeaderName::Via,
            HeaderName::From,
            HeaderName::To,
            HeaderName::CallId,
            HeaderName::CSeq,
        ];
        request
            && COPIED.iter().all(|k| self.has(*k))
            && !self
                .headers
                .as_slice()
                .iter()
                .filter(|e| COPIED.contains(&e.kind))
                .any(|e| e.value.bytes(buf).contains(&0))
            // Nor an empty tag, which the reply would repeat.
            && self
                .headers
                .as_slice()
                .iter()
                .filter(|e| matches!(e.kind, HeaderName::From | HeaderName::To))
                .all(|e| tags_ok(buf, e.value.start(), e.value.end()))
    }

    fn finish(&mut self, buf: &[u8]) {
        if self.error.is_some() {
            let replyable = self.replyable(buf);
            if let Some(e) = &mut self.error {
                e.can_reply = replyable;
            }
        }
    }
}

/// Scans one complete message (a datagram, or a frame cut from a stream)
/// into `s`, which must be fresh ([`Index::new`]).
pub(crate) fn scan(buf: &[u8], limits: Limits, s: &mut Index) {
    let limits = limits.effective();
    if buf.len() > limits.max_size {
        s.fail(K::TooLarge, limits.max_size);
        return;
    }
    scan_lines(buf, limits, s);
    if s.error.is_none() {
        check_tags(buf, s);
    }
    s.finish(buf);
    if let Some(e) = &mut s.error {
        if e.kind == K::BadTag {
            e.can_reply = false;
        }
    }
}

/// Fails the message when a To or From header has an empty `tag` (`tag=`
/// or a bare `tag`: the grammar wants a token), so that no later reader
/// of the tag (transaction and dialog matching, the To-tag of a local
/// reply) has to guess. Several tags are left to the script's checks
/// (sanity, 4096), as in Kamailio.
fn check_tags(buf: &[u8], s: &mut Index) {
    let mut bad = None;
    for kind in [HeaderName::To, HeaderName::From] {
        for (_, e) in s.entries(kind) {
            let (vs, ve) = (e.value.start(), e.value.end());
            if !tags_ok(buf, vs, ve) {
                bad = bad.or(Some(vs));
            }
        }
    }
    if let Some(at) = bad {
        s.fail(K::BadTag, at);
    }
}

/// Whether every `tag` among the header parameters of the name-addr or
/// addr-spec in `buf[vs..ve]` has a value.
fn tags_ok(buf: &[u8], vs: usize, ve: usize) -> bool {
    // The header parameters start after the `>` of `<...>` (outside a
    // quoted display name), or at the first `;` of a bare addr-spec.
    let mut quoted = false;
    let mut i = vs;
    let mut params = None;
    while i < ve {
        match buf[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b'<' if !quoted => {
                params = Some(find_in(buf, i, ve, b'>').map_or(ve, |g| g + 1));
                break;
            }
            b';' if !quoted => {
                params = Some(i);
                break;
            }
            _ => {}
        }
        i += 1;
    }
    let Some(ps) = params else { return true };
    ParamSpans::new(buf, Span::of(ps, ve)).all(|(name, value)| {
        !name.bytes(buf).eq_ignore_ascii_case(b"tag") || value.is_some_and(|v| !v.is_empty())
    })
}

fn scan_lines(buf: &[u8], limits: Limits, s: &mut Index) {
    // RFC 3261 §7.5: CRLFs before the start line are ignored (they are how
    // keepalives look).
    let mut pos = 0;
    while pos < buf.len() && matches!(buf[pos], b'\r' | b'\n') {
        pos += 1;
    }
    s.start = off(pos);
    if pos == buf.len() {
        s.fail(K::Empty, pos);
        return;
    }

    let Some(lf) = find_byte(buf, pos, b'\n') else {
        s.fail(K::NoEndOfHeaders, buf.len());
        return;
    };
    let line_end = if lf > pos && buf[lf - 1] == b'\r' {
        lf - 1
    } else {
        lf
    };
    if let Some(nul) = find_in(buf, pos, line_end, 0) {
        s.fail(K::NulByte, nul);
        return;
    }
    match parse_first_line(buf, pos, line_end) {
        Ok(fl) => s.first = fl,
        Err((kind, at)) => {
            s.fail(kind, at);
            return;
        }
    }
    pos = lf + 1;
    s.first_line_end = off(pos);

    let mut after_bad_line = false;
    let body_start = loop {
        let mut found = find_lf_or_nul(buf, pos);
        while let Some(nul) = found.filter(|&i| buf[i] == 0) {
            // A NUL is legal only escaped in a quoted string (RFC 3261
            // quoted-pair; RFC 4475 §3.1.1.2 sends one in a display name).
            if !is_quoted_pair_nul(buf, pos, nul) {
                s.fail(K::NulByte, nul);
            }
            found = find_lf_or_nul(buf, nul + 1);
        }
        let Some(lf) = found else {
            s.fail(K::NoEndOfHeaders, buf.len());
            return;
        };
        let end = if lf > pos && buf[lf - 1] == b'\r' {
            lf - 1
        } else {
            lf
        };
        if end == pos {
            s.head_end = off(pos);
            break lf + 1;
        }
        if matches!(buf[pos], b' ' | b'\t') {
            // A continuation line: RFC 3261 §7.3.1 folding, part of the
            // previous header's value. After a rejected line it belongs to
            // nothing (attaching it to the header before the rejected line
            // would splice foreign text into that header).
            match s.headers.last_mut() {
                _ if after_bad_line => {}
                None => s.fail(K::FoldWithoutHeader, pos),
                Some(h) => {
                    let (cs, ce) = trim(buf, pos, end);
                    if cs < ce {
                        let vs = if h.value.is_empty() {
                            cs
                        } else {
                            h.value.start()
                        };
                        h.value = Span::new(off(vs), off(ce));
                    }
                    h.line_end = off(lf + 1);
                }
            }
        } else if let Err(kind) = header_line(s, buf, pos, end, lf, limits.max_headers) {
            s.fail(kind, pos);
            if kind == K::TooManyHeaders {
                return;
            }
            after_bad_line = true;
        } else {
            after_bad_line = false;
        }
        pos = lf + 1;
    };

    let mut cl: Option<u32> = None;
    let mut cl_error = None;
    for (_, h) in s.entries(HeaderName::ContentLength) {
        match parse_u32(h.value.bytes(buf)) {
            None => cl_error = cl_error.or(Some((K::BadContentLength, h.value.start()))),
            Some(n) => match cl {
                Some(m) if m != n => {
                    cl_error = cl_error.or(Some((K::ConflictingContentLength, h.value.start())));
                }
                _ => cl = Some(n),
            },
        }
    }
    if let Some((kind, at)) = cl_error {
        s.fail(kind, at);
    }
    s.content_length = cl;
    let available = buf.len() - body_start;
    let end = match cl {
        Some(n) if n as usize > available => {
            s.fail(K::BodyTruncated, buf.len());
            buf.len()
        }
        // RFC 3261 §18.3: bytes past Content-Length in a datagram are
        // discarded.
        Some(n) => body_start + n as usize,
        None => buf.len(),
    };
    s.end = off(end);
    s.body = Span::new(off(body_start), off(end));
}

/// Whether the NUL at `nul` is the second byte of a quoted-pair inside a
/// quoted string that starts on the line beginning at `line`. Only run
/// when a NUL is found, which valid traffic almost never holds.
fn is_quoted_pair_nul(buf: &[u8], line: usize, nul: usize) -> bool {
    let (mut quoted, mut escaped) = (false, false);
    for &c in &buf[line..nul] {
        if escaped {
            escaped = false;
        } else if quoted && c == b'\\' {
            escaped = true;
        } else if c == b'"' {
            quoted = !quoted;
        }
    }
    quoted && escaped
}

/// Records one (non-continuation) header line `pos..end` whose line break is
/// at `lf`.
fn header_line(
    s: &mut Index,
    buf: &[u8],
    pos: usize,
    end: usize,
    lf: usize,
    max_headers: usize,
) -> Result<(), K> {
    let colon = find_in(buf, pos, end, b':').ok_or(K::MissingColon)?;
    // RFC 3261 HCOLON allows SP/HTAB between the name and the colon.
    let mut name_end = colon;
    while name_end > pos && matches!(buf[name_end - 1], b' ' | b'\t') {
        name_end -= 1;
    }
    let name = &buf[pos..name_end];
    let kind = HeaderName::from_bytes(name);
    // A known kind matched a valid token, so only unknown names need their
    // characters checked.
    if name.is_empty() || (kind == HeaderName::Other && !name.iter().all(|&c| is_token(c))) {
        return Err(K::BadHeaderName);
    }
    if s.headers.len() >= max_headers {
        return Err(K::TooManyHeaders);
    }
    let vs = skip_blank(buf, colon + 1, end);
    let mut ve = end;
    while ve > vs && is_ws(buf[ve - 1]) {
        ve -= 1;
    }
    let slot = &mut s.first_of[kind as usize];
    if *slot == 0 {
        *slot = u16::try_from(s.headers.len() + 1).unwrap_or(u16::MAX);
    }
    s.headers.push(HeaderEntry {
        name: Span::new(off(pos), off(name_end)),
        value: Span::new(off(vs), off(ve)),
        line_end: off(lf + 1),
        kind,
    });
    Ok(())
}

/// Parses `b[s..e]` (line break excluded) as a request or status line.
fn parse_first_line(b: &[u8], s: usize, e: usize) -> Result<FirstLine, (K, usize)> {
    let line = &b[s..e];
    if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"SIP/") {
        let ve = s + line
            .iter()
            .position(|&c| c == b' ' || c == b'\t')
            .unwrap_or(line.len());
        if !b[s..ve].eq_ignore_ascii_case(b"SIP/2.0") {
            return Err((K::BadVersion, s));
        }
        let cs = skip_blank(b, ve, e);
        let ce = cs + 3;
        if cs == ve || ce > e || !b[cs..ce].iter().all(u8::is_ascii_digit) {
            return Err((K::BadStatusCode, cs));
        }
        if ce < e && !matches!(b[ce], b' ' | b'\t') {
            return Err((K::BadStatusCode, cs));
        }
        let code = b[cs..ce]
            .iter()
            .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
        if !(100..=699).contains(&code) {
            return Err((K::BadStatusCode, cs));
        }
        let (rs, re) = trim(b, ce, e);
        return Ok(FirstLine::Reply {
            version: Span::of(s, ve),
            code,
            reason: Span::of(rs, re),
        });
    }

    let me = token_end(b, s, e);
    if me == s || me >= e || !matches!(b[me], b' ' | b'\t') {
        return Err((K::BadStartLine, me));
    }
    let us = skip_blank(b, me, e);
    // The line has no line break left in it, so the next blank ends the URI.
    let ue = find_blank(b, us, e).unwrap_or(e);
    let vs = skip_blank(b, ue, e);
    if ue == us || vs == ue || vs >= e || b[us..ue].contains(&b'\r') {
        return Err((K::BadStartLine, ue));
    }
    let ve = find_blank(b, vs, e).unwrap_or(e);
    if skip_ws(b, ve, e) != e {
        return Err((K::BadStartLine, ve));
    }
    let version = &b[vs..ve];
    let known = [b"SIP/2.0".as_slice(), b"HTTP/1.1", b"HTTP/1.0"];
    if !known.iter().any(|v| v.eq_ignore_ascii_case(version)) {
        return Err((K::BadVersion, vs));
    }
    Ok(FirstLine::Request {
        method: Method::from_bytes(&b[s..me]),
        method_span: Span::of(s, me),
        uri: Span::of(us, ue),
        version: Span::of(vs, ve),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_new(msg: &[u8], limits: Limits) -> Index {
        let mut s = Index::new();
        scan(msg, limits, &mut s);
        s
    }

    fn ok(msg: &str) -> Index {
        let s = scan_new(msg.as_bytes(), Limits::default());
        assert_eq!(s.error, None, "{msg:?}");
        s
    }

    fn err(msg: &[u8]) -> ParseError {
        let s = scan_new(msg, Limits::default());
        match s.error {
            Some(e) => e,
            None => panic!("accepted {:?}", String::from_utf8_lossy(msg)),
        }
    }

    const BASIC: &str = "INVITE sip:bob@example.com SIP/2.0\r\n\
        Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
        f: <sip:a@b>;tag=1\r\n\
        To: <sip:bob@example.com>\r\n\
        Call-ID: c1\r\n\
        CSeq: 1 INVITE\r\n\
        Content-Length: 4\r\n\r\nbody";

    #[test]
    fn request_line_headers_and_body() {
        let s = ok(BASIC);
        let FirstLine::Request { method, uri, .. } = s.first else {
            panic!("not a request");
        };
        assert_eq!(method, Method::Invite);
        assert_eq!(uri.get(BASIC), "sip:bob@example.com");
        let h = s.headers.as_slice();
        assert_eq!(h.len(), 6);
        assert_eq!(h[1].kind, HeaderName::From);
        assert_eq!(h[1].name.get(BASIC), "f");
        assert_eq!(h[1].value.get(BASIC), "<sip:a@b>;tag=1");
        assert_eq!(
            h[0].line().get(BASIC),
            "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
        );
        assert_eq!(s.content_length, Some(4));
        assert_eq!(&BASIC[s.body.range()], "body");
        assert_eq!(s.first_of[HeaderName::CSeq as usize], 5);
        assert_eq!(s.first_of[HeaderName::Route as usize], 0);
    }

    #[test]
    fn status_line() {
        let m = "SIP/2.0 180 Ringing Now\r\nCSeq: 1 INVITE\r\n\r\n";
        let s = ok(m);
        let FirstLine::Reply { code, reason, .. } = s.first else {
            panic!("not a reply");
        };
        assert_eq!(code, 180);
        assert_eq!(reason.get(m), "Ringing Now");
        let s = ok("SIP/2.0 200\r\n\r\n");
        assert!(matches!(s.first, FirstLine::Reply { code: 200, .. }));
    }

    #[test]
    fn folding_spaces_before_colon_and_bare_lf() {
        let m = "OPTIONS sip:x SIP/2.0\nSubject :\n  first\n\tsecond  \nX-A:1\n\n";
        let s = ok(m);
        let h = s.headers.as_slice();
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].kind, HeaderName::Subject);
        assert_eq!(h[0].value.get(m), "first\n\tsecond");
        assert_eq!(h[0].line().get(m), "Subject :\n  first\n\tsecond  \n");
        assert_eq!(h[1].value.get(m), "1");
        assert_eq!(s.end as usize, m.len());
    }

    #[test]
    fn leading_crlf_and_trailing_datagram_bytes() {
        let m = "\r\n\r\nBYE sip:x SIP/2.0\r\nContent-Length: 0\r\n\r\ntrailing";
        let s = ok(m);
        assert_eq!(s.start, 4);
        assert_eq!(
            &m[s.start as usize..s.end as usize],
            "BYE sip:x SIP/2.0\r\nContent-Length: 0\r\n\r\n"
        );
    }

    #[test]
    fn malformed_inputs() {
        assert_eq!(err(b"\r\n\r\n").kind, K::Empty);
        assert_eq!(err(b"").kind, K::Empty);
        assert_eq!(
            err(b"INVITE sip:x SIP/2.0\r\nVia: x\r\n").kind,
            K::NoEndOfHeaders
        );
        assert_eq!(err(b"INVITE sip:x SIP/2.0").kind, K::NoEndOfHeaders);
        assert_eq!(err(b"INVITE\r\n\r\n").kind, K::BadStartLine);
        assert_eq!(err(b"INVITE sip:x\r\n\r\n").kind, K::BadStartLine);
        assert_eq!(
            err(b"INVITE sip:x SIP/2.0 extra\r\n\r\n").kind,
            K::BadStartLine
        );
        assert_eq!(err(b"INVITE sip:x SIP/3.0\r\n\r\n").kind, K::BadVersion);
        assert_eq!(err(b"SIP/2.0 99 Low\r\n\r\n").kind, K::BadStatusCode);
        assert_eq!(err(b"SIP/2.0 2000 OK\r\n\r\n").kind, K::BadStatusCode);
        assert_eq!(err(b"SIP/2.1 200 OK\r\n\r\n").kind, K::BadVersion);
        assert_eq!(
            err(b"BYE x SIP/2.0\r\nNoColon\r\n\r\n").kind,
            K::MissingColon
        );
        assert_eq!(
            err(b"BYE x SIP/2.0\r\nBad Name: v\r\n\r\n").kind,
            K::BadHeaderName
        );
        assert_eq!(err(b"BYE x SIP/2.0\r\n: v\r\n\r\n").kind, K::BadHeaderName);
        assert_eq!(
            err(b"BYE x SIP/2.0\r\n folded\r\n\r\n").kind,
            K::FoldWithoutHeader
        );
        assert_eq!(err(b"BYE x SIP/2.0\r\nX: a\0b\r\n\r\n").kind, K::NulByte);
        assert_eq!(
            err(b"BYE x SIP/2.0\r\nX: \"a\0b\"\r\n\r\n").kind,
            K::NulByte
        );
        assert_eq!(err(b"BYE x SIP/2.0\r\nX: a\\\0b\r\n\r\n").kind, K::NulByte);
        assert_eq!(
            err(b"BYE x SIP/2.0\r\nX: \"a\\\\\0\"\r\n\r\n").kind,
            K::NulByte
        );
        assert_eq!(
            err(b"BYE x SIP/2.0\r\nl: -1\r\n\r\n").kind,
            K::BadContentLength
        );
        assert_eq!(
            err(b"BYE x SIP/2.0\r\nl: 1x\r\n\r\nxx").kind,
            K::BadContentLength
        );
        assert_eq!(
            err(b"BYE x SIP/2.0\r\nl: 99999999999\r\n\r\n").kind,
            K::BadContentLength
        );
        assert_eq!(
            err(b"BYE x SIP/2.0\r\nl: 5\r\n\r\nabc").kind,
            K::BodyTruncated
        );
        assert_eq!(
            err(b"BYE x SIP/2.0\r\nl: 1\r\nContent-Length: 2\r\n\r\nabc").kind,
            K::ConflictingContentLength
        );
        let garbage = vec![b'x'; 60 * 1024];
        assert_eq!(err(&garbage).kind, K::NoEndOfHeaders);
        let garbage = vec![b'x'; 64 * 1024];
        assert_eq!(err(&garbage).kind, K::TooLarge);
    }

    #[test]
    fn to_and_from_tags_must_not_be_empty() {
        let base = "OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nFrom: FROM\r\nTo: TO\r\n\
            Call-ID: c\r\nCSeq: 1 OPTIONS\r\nl: 0\r\n\r\n";
        let with = |from: &str, to: &str| base.replace("FROM", from).replace("TO", to);
        for (from, to) in [
            ("<sip:a@b>;tag=1", "<sip:x@y>"),
            ("<sip:a@b>;tag=1", "<sip:x@y;tag=in-the-uri>;tag=2"),
            ("\"x;tag=\" <sip:a@b>;tag=1", "sip:x@y"),
            ("sip:a@b;tag=1", "sip:x@y ; TAG = 2"),
            // Several tags: for the script's checks to answer.
            ("<sip:a@b>;tag=1;tag=2", "<sip:x@y>"),
        ] {
            ok(&with(from, to));
        }
        for (from, to) in [
            ("<sip:a@b>;tag=", "<sip:x@y>"),
            ("<sip:a@b>;tag=1", "<sip:x@y>;tag"),
            ("<sip:a@b>;tag=1", "<sip:x@y>;tag=2;tag= "),
            ("<sip:a@b>;tag=1", "sip:x@y;Tag="),
        ] {
            let e = err(with(from, to).as_bytes());
            assert_eq!(e.kind, K::BadTag, "{from} / {to}");
            assert!(!e.can_reply, "{from} / {to}");
        }
    }

    #[test]
    fn nul_as_a_quoted_pair_is_accepted() {
        let m = b"OPTIONS sip:x SIP/2.0\r\nTo: \"NUL:\\\0 BEL:\\\x07\" <sip:x@y>\r\nl: 0\r\n\r\n";
        let s = scan_new(m, Limits::default());
        assert_eq!(s.error, None);
        assert_eq!(
            s.headers.as_slice()[0].value.bytes(m),
            b"\"NUL:\\\0 BEL:\\\x07\" <sip:x@y>"
        );
    }

    #[test]
    fn error_reports_whether_400_is_possible() {
        let m = "INVITE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nFrom: <sip:a@b>;tag=1\r\n\
            Bogus\r\nTo: <sip:x>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nl: 10\r\n\r\n";
        let e = err(m.as_bytes());
        assert_eq!(e.kind, K::MissingColon);
        assert!(
            e.can_reply,
            "headers after the bad line were still collected"
        );
        let ack = m.replacen("INVITE sip", "ACK sip", 1);
        assert!(!err(ack.as_bytes()).can_reply);
        let reply = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h\r\nFrom: <sip:a@b>\r\nTo: <sip:x>\r\n\
            Call-ID: c\r\nCSeq: 1 INVITE\r\nl: x\r\n\r\n";
        assert!(!err(reply.as_bytes()).can_reply);
        let no_callid = m.replace("Call-ID: c\r\n", "");
        assert!(!err(no_callid.as_bytes()).can_reply);
    }

    #[test]
    fn header_count_limit() {
        let mut m = String::from("OPTIONS sip:x SIP/2.0\r\n");
        for i in 0..5 {
            m.push_str(&format!("X-{i}: v\r\n"));
        }
        m.push_str("\r\n");
        let limits = Limits {
            max_headers: 4,
            ..Limits::default()
        };
        let s = scan_new(m.as_bytes(), limits);
        assert_eq!(s.error.map(|e| e.kind), Some(K::TooManyHeaders));
        let limits = Limits {
            max_headers: 5,
            ..Limits::default()
        };
        assert_eq!(scan_new(m.as_bytes(), limits).error, None);
    }

    #[test]
    fn http_request_line_is_accepted() {
        let s = ok("GET /rpc HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(matches!(
            s.first,
            FirstLine::Request {
                method: Method::Get,
                ..
            }
        ));
    }
}
