//! Cutting messages out of a stream (TCP, TLS, WebSocket-less streams).
//!
//! On a stream transport a message ends where its Content-Length says, and
//! RFC 3261 §18.3 makes that header mandatory there. Between messages a peer
//! may send CRLF keepalives (RFC 5626 §3.5.1: a double CRLF "ping" to which
//! the server answers with a single CRLF "pong"). [`frame`] looks at the
//! bytes received so far and says whether they start with keepalives, hold
//! a complete message, need more bytes, or can never become a valid message
//! (then the connection should be closed).

use super::error::{ParseError, ParseErrorKind as K};
use super::header::HeaderName;
use super::parse::Limits;
use super::text::{find_byte, parse_u32, skip_blank, token_end, trim};

/// What the start of a stream buffer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    /// More bytes are needed.
    Incomplete,
    /// The first `n` bytes are CR/LF keepalives: consume them. `n >= 4`
    /// means a double-CRLF ping was received, to be answered with CRLF.
    Keepalive(usize),
    /// The first `n` bytes are one message (pass them to
    /// [`SipMsg::parse`](super::SipMsg::parse)).
    Complete(usize),
    /// The stream does not hold a valid message; close the connection.
    Error(ParseError),
}

/// Finds where the first message of `buf` ends. Never returns a length
/// larger than `buf.len()` and never reads past `limits.max_size` bytes.
/// The number of header lines is not limited here: a message that fits the
/// size limit is framed whole, so that its parser can answer it.
///
/// A message without Content-Length is an error (RFC 3261 §18.3), except an
/// HTTP request, whose missing Content-Length means an empty body.
pub fn frame(buf: &[u8], limits: Limits) -> Frame {
    match scan(buf, limits) {
        Scan::Frame(f) => f,
        Scan::Body(_) => Frame::Incomplete,
    }
}

/// What [`scan`] found: a frame, or headers complete and a message of
/// this total length still arriving.
enum Scan {
    Frame(Frame),
    Body(usize),
}

impl From<Frame> for Scan {
    fn from(f: Frame) -> Scan {
        Scan::Frame(f)
    }
}

fn scan(buf: &[u8], limits: Limits) -> Scan {
    let limits = limits.effective();
    let mut i = 0;
    while i < buf.len() {
        match buf[i] {
            b'\n' => i += 1,
            b'\r' if buf.get(i + 1) == Some(&b'\n') => i += 2,
            _ => break,
        }
    }
    if i > 0 {
        return Frame::Keepalive(i).into();
    }
    if buf.is_empty() || buf == b"\r" {
        return Frame::Incomplete.into();
    }

    let window = &buf[..buf.len().min(limits.max_size)];
    let Some(first_lf) = find_byte(window, 0, b'\n') else {
        return too_large_or_incomplete(buf, limits).into();
    };
    let http = is_http_request_line(&window[..first_lf]);
    let mut pos = first_lf + 1;
    let mut length: Option<u32> = None;
    // Whether the header being read (so its continuation lines) is a
    // Content-Length; a folded Content-Length is legal, if odd.
    let mut in_length = false;
    let mut length_value = (0, 0);
    let body_start = loop {
        let Some(lf) = find_byte(window, pos, b'\n') else {
            return too_large_or_incomplete(buf, limits).into();
        };
        let end = if lf > pos && window[lf - 1] == b'\r' {
            lf - 1
        } else {
            lf
        };
        if end == pos {
            if in_length {
                if let Err(e) = take_length(window, length_value, &mut length) {
                    return Frame::Error(e).into();
                }
            }
            break lf + 1;
        }
        if matches!(window[pos], b' ' | b'\t') {
            if in_length {
                length_value.1 = end;
            }
        } else {
            if in_length {
                if let Err(e) = take_length(window, length_value, &mut length) {
                    return Frame::Error(e).into();
                }
            }
            let name_end = token_end(window, pos, end);
            let colon = skip_blank(window, name_end, end);
            in_length = colon < end
                && window[colon] == b':'
                && HeaderName::from_bytes(&window[pos..name_end]) == HeaderName::ContentLength;
            length_value = (colon + 1, end);
        }
        pos = lf + 1;
    };

    let Some(n) = length.or(http.then_some(0)) else {
        return Frame::Error(ParseError::new(K::MissingContentLength, body_start)).into();
    };
    let total = body_start.saturating_add(n as usize);
    if total > limits.max_size {
        return Frame::Error(ParseError::new(K::TooLarge, body_start)).into();
    }
    if total > buf.len() {
        Scan::Body(total)
    } else {
        Frame::Complete(total).into()
    }
}

/// [`frame`] for one stream, without rescanning: it remembers how far it
/// looked for the end of the headers and, once they are read, how long
/// the message is, so a peer sending a message in tiny pieces costs work
/// in proportion to its size, not to its size squared.
#[derive(Clone, Copy, Debug, Default)]
pub struct Framer {
    /// Bytes already searched for the empty line ending the headers.
    scanned: usize,
    /// The length of the message whose body is still arriving.
    total: Option<usize>,
}

impl Framer {
    /// What the start of `buf` holds, as [`frame`] says. `buf` is the
    /// stream's unconsumed bytes: the same buffer, grown, until a
    /// `Keepalive` or `Complete` is consumed from its front.
    pub fn next(&mut self, buf: &[u8], limits: Limits) -> Frame {
        if let Some(total) = self.total {
            if buf.len() < total {
                return Frame::Incomplete;
            }
        } else if buf.first().is_some_and(|b| !matches!(b, b'\r' | b'\n')) {
            let max = limits.effective().max_size;
            let window = &buf[..buf.len().min(max)];
            if !headers_end_after(window, self.scanned.saturating_sub(3)) {
                self.scanned = window.len();
                if buf.len() < max {
                    return Frame::Incomplete;
                }
            }
        }
        match scan(buf, limits) {
            Scan::Body(total) => {
                self.total = Some(total);
                Frame::Incomplete
            }
            Scan::Frame(f) => {
                if f != Frame::Incomplete {
                    // Consumed or fatal: the next call starts afresh.
                    *self = Framer::default();
                }
                f
            }
        }
    }
}

/// The length of the header section at the front of `buf` (start line,
/// headers and the empty line), if it is complete within the size limit.
/// Used to answer a message whose body cannot be framed.
pub fn header_block_len(buf: &[u8], limits: Limits) -> Option<usize> {
    let max = limits.effective().max_size;
    let window = &buf[..buf.len().min(max)];
    let mut at = 0;
    while let Some(lf) = find_byte(window, at, b'\n') {
        match window.get(lf + 1) {
            Some(b'\n') => return Some(lf + 2),
            Some(b'\r') if window.get(lf + 2) == Some(&b'\n') => return Some(lf + 3),
            _ => at = lf + 1,
        }
    }
    None
}

/// Whether `b` holds an empty line (LF LF or LF CR LF) with its first LF
/// at or after `from`.
fn headers_end_after(b: &[u8], from: usize) -> bool {
    let mut at = from;
    while let Some(lf) = find_byte(b, at, b'\n') {
        match b.get(lf + 1) {
            Some(b'\n') => return true,
            Some(b'\r') if b.get(lf + 2) == Some(&b'\n') => return true,
            _ => at = lf + 1,
        }
    }
    false
}

/// Reads one Content-Length value, checking it against earlier ones.
fn take_length(
    b: &[u8],
    (s, e): (usize, usize),
    length: &mut Option<u32>,
) -> Result<(), ParseError> {
    let (s, e) = trim(b, s, e);
    let n = parse_u32(&b[s..e]).ok_or(ParseError::new(K::BadContentLength, s))?;
    match *length {
        Some(m) if m != n => Err(ParseError::new(K::ConflictingContentLength, s)),
        _ => {
            *length = Some(n);
            Ok(())
        }
    }
}

fn too_large_or_incomplete(buf: &[u8], limits: Limits) -> Frame {
    if buf.len() >= limits.max_size {
        Frame::Error(ParseError::new(K::TooLarge, limits.max_size))
    } else {
        Frame::Incomplete
    }
}

/// Whether a start line ends in ` HTTP/1.x` (a request of the HTTP server
/// that may share the SIP port).
fn is_http_request_line(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.len() >= 9 && {
        let tail = &line[line.len() - 9..];
        tail[0] == b' ' && tail[1..8].eq_ignore_ascii_case(b"HTTP/1.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_d(b: &[u8]) -> Frame {
        frame(b, Limits::default())
    }

    const MSG: &[u8] =
        b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP h\r\nContent-Length: 3\r\n\r\nabc";

    #[test]
    fn complete_and_incomplete() {
        assert_eq!(frame_d(MSG), Frame::Complete(MSG.len()));
        let mut two = MSG.to_vec();
        two.extend_from_slice(MSG);
        assert_eq!(frame_d(&two), Frame::Complete(MSG.len()));
        for cut in 0..MSG.len() {
            assert_eq!(frame_d(&MSG[..cut]), Frame::Incomplete, "cut at {cut}");
        }
    }

    #[test]
    fn keepalives() {
        assert_eq!(frame_d(b"\r\n\r\n"), Frame::Keepalive(4));
        assert_eq!(frame_d(b"\r\n"), Frame::Keepalive(2));
        assert_eq!(frame_d(b"\r"), Frame::Incomplete);
        let mut b = b"\r\n\r\n".to_vec();
        b.extend_from_slice(MSG);
        assert_eq!(frame_d(&b), Frame::Keepalive(4));
        assert_eq!(frame_d(&b[4..]), Frame::Complete(MSG.len()));
    }

    #[test]
    fn content_length_rules() {
        let compact = b"BYE sip:x SIP/2.0\r\nl : 2\r\n\r\nxy";
        assert_eq!(frame_d(compact), Frame::Complete(compact.len()));
        let folded = b"BYE sip:x SIP/2.0\r\nContent-Length:\r\n 2\r\n\r\nxy";
        assert_eq!(frame_d(folded), Frame::Complete(folded.len()));
        let missing = b"BYE sip:x SIP/2.0\r\nVia: x\r\n\r\n";
        assert!(matches!(frame_d(missing), Frame::Error(e) if e.kind() == K::MissingContentLength));
        let bad = b"BYE sip:x SIP/2.0\r\nContent-Length: -1\r\n\r\n";
        assert!(matches!(frame_d(bad), Frame::Error(e) if e.kind() == K::BadContentLength));
        let conflict = b"BYE sip:x SIP/2.0\r\nl: 1\r\nl: 2\r\n\r\nab";
        assert!(
            matches!(frame_d(conflict), Frame::Error(e) if e.kind() == K::ConflictingContentLength)
        );
        let huge = b"BYE sip:x SIP/2.0\r\nl: 4000000000\r\n\r\n";
        assert!(matches!(frame_d(huge), Frame::Error(e) if e.kind() == K::TooLarge));
        let http = b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(frame_d(http), Frame::Complete(http.len()));
    }

    #[test]
    fn limits() {
        let garbage = vec![b'x'; 70_000];
        assert!(matches!(frame_d(&garbage), Frame::Error(e) if e.kind() == K::TooLarge));
        assert_eq!(frame_d(&garbage[..1000]), Frame::Incomplete);
        // However many header lines: framed whole if it fits, for the
        // parser to answer.
        let mut many = b"BYE sip:x SIP/2.0\r\n".to_vec();
        for _ in 0..200 {
            many.extend_from_slice(b"X: y\r\n");
        }
        assert_eq!(frame_d(&many), Frame::Incomplete);
        many.extend_from_slice(b"l: 0\r\n\r\n");
        assert_eq!(frame_d(&many), Frame::Complete(many.len()));
    }

    #[test]
    fn header_block() {
        let huge = b"BYE sip:x SIP/2.0\r\nl: 4000000000\r\n\r\nabc";
        assert_eq!(
            header_block_len(huge, Limits::default()),
            Some(huge.len() - 3)
        );
        assert_eq!(
            header_block_len(b"BYE sip:x SIP/2.0\nl: 1\n\nx", Limits::default()),
            Some(24)
        );
        assert_eq!(
            header_block_len(b"BYE sip:x SIP/2.0\r\nl: 1\r\n", Limits::default()),
            None
        );
    }
}
