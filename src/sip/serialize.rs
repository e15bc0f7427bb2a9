//! Writing a message out with its recorded edits applied.
//!
//! Serialisation is one forward pass over the original bytes: copy up to the
//! next edit, write its text, skip what it removes, repeat. Two edits are
//! added on the fly rather than recorded, because they depend on the final
//! state: the Request-URI (if [`set_ruri`](SipMsg::set_ruri) changed it) and
//! Content-Length (whenever the body changed, computed from the edited
//! body). The output goes into a caller-provided `Vec<u8>` that can be
//! reused from one message to the next, so sending does not allocate once
//! the vector has grown.

use std::iter::Peekable;

use super::edit::OpKey;
use super::error::ParseError;
use super::header::HeaderName;
use super::msg::SipMsg;

/// Where serialised bytes go: an output vector, or a counter used to size
/// the edited body before Content-Length is written.
pub(crate) trait Sink {
    fn put(&mut self, b: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, b: &[u8]) {
        self.extend_from_slice(b);
    }
}

/// Counts bytes instead of writing them.
pub(crate) struct Counter(pub(crate) usize);

impl Sink for Counter {
    fn put(&mut self, b: &[u8]) {
        self.0 += b.len();
    }
}

/// An edit with its text resolved, ready to apply.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Resolved<'a> {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) key: OpKey,
    pub(crate) text: &'a [u8],
}

/// Merges two sequences of edits that are each sorted by key.
struct Merge<'a, A: Iterator<Item = Resolved<'a>>, B: Iterator<Item = Resolved<'a>>> {
    a: Peekable<A>,
    b: Peekable<B>,
}

impl<'a, A, B> Iterator for Merge<'a, A, B>
where
    A: Iterator<Item = Resolved<'a>>,
    B: Iterator<Item = Resolved<'a>>,
{
    type Item = Resolved<'a>;

    fn next(&mut self) -> Option<Resolved<'a>> {
        let take_a = match (self.a.peek(), self.b.peek()) {
            (Some(x), Some(y)) => x.key <= y.key,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if take_a {
            self.a.next()
        } else {
            self.b.next()
        }
    }
}

/// Copies `src[from..to]` into `sink` with the edits that start in that
/// range applied (edits must come sorted by key). Pure insertions at `to`
/// belong to the range only when `inserts_at_end` is set.
pub(crate) fn emit<'a>(
    src: &[u8],
    from: usize,
    to: usize,
    inserts_at_end: bool,
    ops: impl Iterator<Item = Resolved<'a>>,
    sink: &mut impl Sink,
) {
    let mut pos = from;
    for op in ops {
        if op.start < from {
            continue;
        }
        if op.start > to || (op.start == to && (op.end > op.start || !inserts_at_end)) {
            break;
        }
        if op.start < pos {
            // Inside a range an earlier edit removed: dropped.
            continue;
        }
        sink.put(src.get(pos..op.start).unwrap_or(&[]));
        sink.put(op.text);
        pos = op.end.clamp(op.start, to);
    }
    sink.put(src.get(pos..to).unwrap_or(&[]));
}

/// Writes `n` in decimal into `buf`, returning the digits.
pub(crate) fn fmt_u32(mut n: u32, buf: &mut [u8; 10]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

/// Key that makes an automatic edit win over user edits at the same offset.
const AUTO: u32 = 0;

impl SipMsg {
    /// The recorded edits, resolved and in key order.
    pub(crate) fn resolved_edits(&self) -> impl Iterator<Item = Resolved<'_>> + '_ {
        self.edits.ops.iter().map(move |o| Resolved {
            start: o.start as usize,
            end: o.end as usize,
            key: o.key(),
            text: self.edits.text(o),
        })
    }

    /// Appends the message, with every recorded edit applied, to `out`.
    ///
    /// Without edits this writes exactly [`as_bytes`](SipMsg::as_bytes).
    pub fn write_into(&self, out: &mut Vec<u8>) {
        let src = self.buf.bytes();
        let (ms, me) = (self.idx.start as usize, self.idx.end as usize);
        let bs = self.idx.body.start();

        let body_changed = self.edits.ops.iter().any(|o| o.start as usize >= bs);
        let body_len = if body_changed {
            let mut c = Counter(0);
            emit(src, bs, me, true, self.resolved_edits(), &mut c);
            c.0
        } else {
            self.idx.body.len()
        };
        let fix_length = body_changed || self.edits.force_content_length;
        let mut digits_buf = [0u8; 10];
        let digits = fmt_u32(u32::try_from(body_len).unwrap_or(u32::MAX), &mut digits_buf);

        let ruri = self
            .new_ruri
            .as_deref()
            .zip(self.ruri_span())
            .map(|(u, s)| Resolved {
                start: s.start(),
                end: s.end(),
                key: (s.start() as u32, !s.is_empty(), AUTO),
                text: u.as_bytes(),
            });
        let lengths = self
            .entries_of(HeaderName::ContentLength)
            .filter(move |_| fix_length)
            .map(move |(_, e)| Resolved {
                start: e.value.start(),
                end: e.value.end(),
                key: (e.value.start() as u32, !e.value.is_empty(), AUTO),
                text: digits,
            });
        let mut line_buf = [0u8; 32];
        let missing = fix_length && self.idx.content_length.is_none();
        let added = missing.then(|| {
            let head = b"Content-Length: ";
            let n = head.len() + digits.len() + 2;
            line_buf[..head.len()].copy_from_slice(head);
            line_buf[head.len()..head.len() + digits.len()].copy_from_slice(digits);
            line_buf[n - 2..n].copy_from_slice(b"\r\n");
            n
        });
        let added = added.map(|n| Resolved {
            start: self.idx.head_end as usize,
            end: self.idx.head_end as usize,
            key: (self.idx.head_end, false, u32::MAX),
            text: &line_buf[..n],
        });
        // The Request-URI precedes every header and the added line follows
        // them all, so this chain is already in key order.
        let auto = ruri.into_iter().chain(lengths).chain(added);

        let extra = self.new_ruri.as_ref().map_or(0, |u| u.len()) + self.edits.arena.len() + 24;
        out.reserve(self.len() + extra);
        let head_ops = Merge {
            a: self.resolved_edits().peekable(),
            b: auto.peekable(),
        };
        emit(src, ms, bs, false, head_ops, out);
        emit(src, bs, me, true, self.resolved_edits(), out);
    }

    /// The message with its edits applied, in a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_into(&mut out);
        out
    }

    /// Rebuilds the message from its edited form (Kamailio's
    /// `msg_apply_changes`): serialises, re-parses, and replaces `self`, so
    /// that reads see the edits. The new Request-URI becomes the received
    /// one; the destination URI is kept. On error `self` is unchanged.
    pub fn apply_changes(&mut self) -> Result<(), ParseError> {
        if !self.has_changes() {
            return Ok(());
        }
        let mut out = Vec::new();
        self.write_into(&mut out);
        let mut rebuilt = SipMsg::parse_with(out, self.limits)?;
        rebuilt.dst_uri = self.dst_uri.take();
        *self = rebuilt;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::span::Span;

    const MSG: &str = "INVITE sip:bob@example.com SIP/2.0\r\n\
        Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/UDP b.example.com;branch=z9hG4bK2\r\n\
        From: <sip:alice@example.com>;tag=1\r\n\
        To: <sip:bob@example.com>\r\n\
        Call-ID: c1\r\n\
        CSeq: 1 INVITE\r\n\
        Content-Type: application/sdp\r\n\
        Content-Length: 4\r\n\
        \r\n\
        v=0\n";

    fn msg() -> SipMsg {
        SipMsg::parse(MSG).unwrap_or_else(|e| panic!("{e}"))
    }

    fn out(m: &SipMsg) -> String {
        String::from_utf8(m.to_bytes()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn no_edits_is_identity_and_output_is_reusable() {
        let m = msg();
        assert_eq!(out(&m), MSG);
        let mut buf = b"prefix".to_vec();
        m.write_into(&mut buf);
        assert_eq!(&buf[6..], MSG.as_bytes());
    }

    #[test]
    fn header_edits() -> Result<(), crate::sip::EditError> {
        let mut m = msg();
        m.add_via("SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp")?;
        m.add_record_route("<sip:proxy.example.com;lr>")?;
        m.append_header("X-Last: 1")?;
        m.append_header("X-Later: 2\r\n")?;
        m.insert_header("X-First: 0")?;
        m.delete_header(3)?; // Call-ID
        m.replace_header_value(5, "text/plain")?;
        m.set_ruri("sip:bob@192.0.2.9:5080")?;
        let s = out(&m);
        // The three insertions share an offset (the first header is a Via
        // and there is no Record-Route): they keep the order they were made in.
        let expected = "INVITE sip:bob@192.0.2.9:5080 SIP/2.0\r\n\
            Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp\r\n\
            Record-Route: <sip:proxy.example.com;lr>\r\n\
            X-First: 0\r\n\
            Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/UDP b.example.com;branch=z9hG4bK2\r\n\
            From: <sip:alice@example.com>;tag=1\r\n\
            To: <sip:bob@example.com>\r\n\
            CSeq: 1 INVITE\r\n\
            Content-Type: text/plain\r\n\
            Content-Length: 4\r\n\
            X-Last: 1\r\n\
            X-Later: 2\r\n\
            \r\n\
            v=0\n";
        assert_eq!(s, expected);
        // Reads still see the original.
        assert_eq!(m.call_id(), Ok("c1"));
        assert_eq!(m.original_ruri_str(), Some("sip:bob@example.com"));
        Ok(())
    }

    #[test]
    fn body_change_fixes_content_length() -> Result<(), crate::sip::EditError> {
        let mut m = msg();
        m.set_body(b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n", None)?;
        let s = out(&m);
        assert!(s.contains("Content-Length: 31\r\n\r\nv=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n"));
        m.set_body(b"", Some("text/plain"))?;
        let s = out(&m);
        assert!(
            s.ends_with("Content-Type: text/plain\r\nContent-Length: 0\r\n\r\n"),
            "{s}"
        );
        // Appending to the body also counts.
        let mut m = msg();
        let end = m.len();
        m.insert_at(end, "a=x\n")?;
        assert!(out(&m).contains("Content-Length: 8\r\n\r\nv=0\na=x\n"));
        Ok(())
    }

    #[test]
    fn missing_content_length_is_added() -> Result<(), crate::sip::EditError> {
        let mut m = SipMsg::parse("MESSAGE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n\r\nhi")
            .unwrap_or_else(|e| panic!("{e}"));
        m.ensure_content_length();
        assert_eq!(
            out(&m),
            "MESSAGE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nContent-Length: 2\r\n\r\nhi"
        );
        m.set_body(b"hello", Some("text/plain"))?;
        m.append_header("X-A: 1")?;
        assert_eq!(
            out(&m),
            "MESSAGE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nContent-Type: text/plain\r\n\
             X-A: 1\r\nContent-Length: 5\r\n\r\nhello"
        );
        Ok(())
    }

    #[test]
    fn overlapping_edits_follow_the_rules() -> Result<(), crate::sip::EditError> {
        let mut m = msg();
        let via = m
            .header(HeaderName::Via)
            .map(|h| (h.line_span(), h.value_span()));
        let Some((line, value)) = via else {
            panic!("no via");
        };
        // An insertion inside a deleted line disappears with it.
        m.insert_at(value.end(), ";received=1.2.3.4")?;
        m.delete_span(line)?;
        // Two replacements of the same range: the later one wins.
        let cseq = m.header(HeaderName::CSeq).map(|h| h.value_span());
        let cseq = cseq.unwrap_or_default();
        m.replace_span(cseq, "2 INVITE")?;
        m.replace_span(cseq, "3 INVITE")?;
        let s = out(&m);
        assert!(!s.contains("Via"));
        assert!(!s.contains("received"));
        assert!(s.contains("CSeq: 3 INVITE\r\n"));
        // Insertion at the start of a deleted range survives.
        let mut m = msg();
        m.insert_at(line.start(), "X-Before: 1\r\n")?;
        m.delete_span(line)?;
        assert!(out(&m).contains("\r\nX-Before: 1\r\nFrom:"));
        Ok(())
    }

    #[test]
    fn remove_top_via_handles_shared_lines() -> Result<(), crate::sip::EditError> {
        let mut m = msg();
        m.remove_top_via()?;
        assert!(out(&m).contains("\r\nVia: SIP/2.0/UDP b.example.com;branch=z9hG4bK2\r\nFrom:"));
        let mut m =
            SipMsg::parse("SIP/2.0 200 OK\r\nv: SIP/2.0/UDP a\r\nVia: SIP/2.0/UDP b\r\n\r\n")
                .unwrap_or_else(|e| panic!("{e}"));
        m.remove_top_via()?;
        assert_eq!(out(&m), "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP b\r\n\r\n");
        Ok(())
    }

    #[test]
    fn apply_changes_rebuilds() -> Result<(), Box<dyn std::error::Error>> {
        let mut m = msg();
        m.add_header("X-New", "yes")?;
        m.set_ruri("sip:carol@example.org")?;
        m.set_du("sip:192.0.2.1")?;
        m.delete_headers(HeaderName::Via);
        assert!(m.header_by_name("X-New").is_none());
        m.apply_changes()?;
        assert_eq!(m.header_by_name("X-New").map(|h| h.value), Some("yes"));
        assert_eq!(m.original_ruri_str(), Some("sip:carol@example.org"));
        assert_eq!(m.du(), Some("sip:192.0.2.1"));
        assert!(m.top_via().is_err());
        assert!(!m.has_changes());
        // A rebuild that would be unparsable leaves the message alone.
        let before = m.as_bytes().to_vec();
        m.replace_span(Span::of(0, 6), "BAD LINE WITH SPACES")?;
        assert!(m.apply_changes().is_err());
        assert_eq!(m.as_bytes(), &before[..]);
        Ok(())
    }

    #[test]
    fn number_formatting() {
        let mut b = [0u8; 10];
        assert_eq!(fmt_u32(0, &mut b), b"0");
        assert_eq!(fmt_u32(4_294_967_295, &mut b), b"4294967295");
        assert_eq!(fmt_u32(1230, &mut b), b"1230");
    }
}
