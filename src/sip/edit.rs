//! Deferred edits ("lumps"): changes recorded against the received bytes.
//!
//! A proxy changes a few bytes of each message it forwards (a Via on top, a
//! Record-Route, `received=` on the top Via, a header added or removed). As
//! in Kamailio, these changes are not applied to the buffer one by one; each
//! is recorded as "replace bytes `start..end` of the original with this
//! text", and serialisation applies them all in one pass. Reads keep seeing
//! the original message meanwhile, and offsets stay valid because the
//! original is never modified.
//!
//! Ordering rules, so that results do not depend on how edits interleave:
//! edits apply in byte order; pure insertions at the same offset keep the
//! order they were recorded in and come before a removal starting there; of
//! removals starting at the same offset, the latest recorded wins; an edit
//! that starts inside a range already removed is dropped (its text too).

use super::error::EditError;
use super::header::HeaderName;
use super::msg::SipMsg;
use super::span::Span;
use super::text::CommaSplit;

/// One recorded edit: replace `start..end` of the original with `text`
/// (an insertion has `start == end`, a deletion an empty text).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Op {
    pub(crate) start: u32,
    pub(crate) end: u32,
    /// Where the replacement text is in the edit list's arena.
    pub(crate) text: Span,
    pub(crate) seq: u32,
}

/// Sort key of an edit; see the module documentation for the rules it encodes.
pub(crate) type OpKey = (u32, bool, u32);

impl Op {
    pub(crate) fn key(&self) -> OpKey {
        let removal = self.end > self.start;
        let order = if removal {
            u32::MAX - self.seq
        } else {
            self.seq
        };
        (self.start, removal, order)
    }
}

/// The edits recorded on a message. All replacement texts live in one
/// arena, so recording an edit allocates only when the arena or the list
/// must grow.
#[derive(Clone, Debug, Default)]
pub(crate) struct EditList {
    /// Sorted by [`Op::key`].
    pub(crate) ops: Vec<Op>,
    pub(crate) arena: Vec<u8>,
    next_seq: u32,
    /// Sequence number of the Content-Type line added by `set_body`.
    content_type_seq: Option<u32>,
    /// Whether serialisation must write a Content-Length header even when
    /// the body is unchanged.
    pub(crate) force_content_length: bool,
    /// Whether the RFC 3581 Via fix-up was already recorded.
    pub(crate) via_fixed: bool,
}

impl EditList {
    /// Records a replacement whose text is the concatenation of `pieces`;
    /// returns its sequence number.
    pub(crate) fn record(&mut self, start: usize, end: usize, pieces: &[&[u8]]) -> u32 {
        let ts = self.arena.len();
        for p in pieces {
            self.arena.extend_from_slice(p);
        }
        self.next_seq = self.next_seq.saturating_add(1);
        let op = Op {
            start: start as u32,
            end: end as u32,
            text: Span::of(ts, self.arena.len()),
            seq: self.next_seq,
        };
        let key = op.key();
        let at = self.ops.partition_point(|o| o.key() <= key);
        self.ops.insert(at, op);
        op.seq
    }

    /// Replacement text of an edit.
    pub(crate) fn text(&self, op: &Op) -> &[u8] {
        op.text.bytes(&self.arena)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ops.is_empty() && !self.force_content_length
    }
}

/// Refuses text that would corrupt the message framing of a header line.
fn check_value(text: &str) -> Result<(), EditError> {
    if text.bytes().any(|c| matches!(c, b'\r' | b'\n' | 0)) {
        Err(EditError::InvalidText)
    } else {
        Ok(())
    }
}

impl SipMsg {
    /// Validates a byte range of the original message for editing.
    fn check_range(&self, start: usize, end: usize) -> Result<(), EditError> {
        if start > end || start < self.idx.start as usize || end > self.idx.end as usize {
            return Err(EditError::OutOfRange);
        }
        let b = self.idx.body.start();
        if start < b && end > b {
            return Err(EditError::StraddlesBody);
        }
        Ok(())
    }

    fn record_checked(&mut self, start: usize, end: usize, text: &[u8]) -> Result<(), EditError> {
        self.check_range(start, end)?;
        if start < self.idx.body.start() && text.contains(&0) {
            return Err(EditError::InvalidText);
        }
        self.edits.record(start, end, &[text]);
        Ok(())
    }

    /// Records an insertion of `text` at byte `offset` of the original.
    pub fn insert_at(&mut self, offset: usize, text: impl AsRef<[u8]>) -> Result<(), EditError> {
        self.record_checked(offset, offset, text.as_ref())
    }

    /// Records the deletion of a byte range of the original.
    pub fn delete_span(&mut self, span: Span) -> Result<(), EditError> {
        self.record_checked(span.start(), span.end(), b"")
    }

    /// Records the replacement of a byte range of the original.
    pub fn replace_span(&mut self, span: Span, text: impl AsRef<[u8]>) -> Result<(), EditError> {
        self.record_checked(span.start(), span.end(), text.as_ref())
    }

    /// Records header line(s) `text` (`"Name: value"`, CRLF optional; several
    /// lines may be given) to be inserted at `at`.
    fn insert_lines(&mut self, at: usize, text: &str) -> Result<(), EditError> {
        let body = text.trim_end_matches(['\r', '\n']);
        if body.is_empty() || body.contains('\0') || body.starts_with([' ', '\t']) {
            return Err(EditError::InvalidText);
        }
        self.check_range(at, at)?;
        self.edits.record(at, at, &[body.as_bytes(), b"\r\n"]);
        Ok(())
    }

    /// Appends header line(s) after the last header (Kamailio `append_hf`).
    pub fn append_header(&mut self, text: &str) -> Result<(), EditError> {
        self.insert_lines(self.idx.head_end as usize, text)
    }

    /// Inserts header line(s) before the first header (Kamailio `insert_hf`).
    pub fn insert_header(&mut self, text: &str) -> Result<(), EditError> {
        self.insert_lines(self.idx.first_line_end as usize, text)
    }

    /// Appends `Name: value` after the last header.
    pub fn add_header(&mut self, name: &str, value: &str) -> Result<(), EditError> {
        if name.is_empty() || !name.bytes().all(super::text::is_token) {
            return Err(EditError::InvalidText);
        }
        check_value(value)?;
        let at = self.idx.head_end as usize;
        self.edits
            .record(at, at, &[name.as_bytes(), b": ", value.as_bytes(), b"\r\n"]);
        Ok(())
    }

    /// Deletes the header line at `index` (continuation lines included).
    pub fn delete_header(&mut self, index: usize) -> Result<(), EditError> {
        let e = *self
            .idx
            .headers
            .as_slice()
            .get(index)
            .ok_or(EditError::NoSuchHeader)?;
        let line = e.line();
        self.record_checked(line.start(), line.end(), b"")
    }

    /// Deletes every header of a kind; returns how many.
    pub fn delete_headers(&mut self, kind: HeaderName) -> usize {
        let lines: Vec<Span> = self.entries_of(kind).map(|(_, e)| e.line()).collect();
        for l in &lines {
            self.edits.record(l.start(), l.end(), &[]);
        }
        lines.len()
    }

    /// Deletes every header with this name (case-insensitive, compact forms
    /// included); returns how many.
    pub fn delete_headers_by_name(&mut self, name: &str) -> usize {
        let lines: Vec<Span> = self.headers_by_name(name).map(|h| h.line_span()).collect();
        for l in &lines {
            self.edits.record(l.start(), l.end(), &[]);
        }
        lines.len()
    }

    /// Replaces the whole value of the header at `index`.
    pub fn replace_header_value(&mut self, index: usize, value: &str) -> Result<(), EditError> {
        check_value(value)?;
        let e = *self
            .idx
            .headers
            .as_slice()
            .get(index)
            .ok_or(EditError::NoSuchHeader)?;
        self.record_checked(e.value.start(), e.value.end(), value.as_bytes())
    }

    /// Where a new header that must come first among its kind goes: before
    /// the first header of `kind`, or before the first header if none.
    fn top_of(&self, kind: HeaderName) -> usize {
        self.entries_of(kind)
            .next()
            .map_or(self.idx.first_line_end as usize, |(_, e)| e.name.start())
    }

    /// Adds a Via value on top (a new `Via:` line above the existing ones).
    pub fn add_via(&mut self, value: &str) -> Result<(), EditError> {
        check_value(value)?;
        if value.is_empty() {
            return Err(EditError::InvalidText);
        }
        let at = self.top_of(HeaderName::Via);
        self.edits
            .record(at, at, &[b"Via: ", value.as_bytes(), b"\r\n"]);
        Ok(())
    }

    /// Adds a Record-Route value on top of the Record-Route set (before the
    /// first Record-Route, or before the first header when there is none,
    /// as Kamailio's `record_route` does).
    pub fn add_record_route(&mut self, value: &str) -> Result<(), EditError> {
        check_value(value)?;
        if value.is_empty() {
            return Err(EditError::InvalidText);
        }
        let at = self.top_of(HeaderName::RecordRoute);
        self.edits
            .record(at, at, &[b"Record-Route: ", value.as_bytes(), b"\r\n"]);
        Ok(())
    }

    /// Takes back the latest recorded insertion whose text is exactly
    /// `text` (a header line an earlier call added, to rewrite it or to
    /// remove it again); false when there is none. Replacements and
    /// deletions of the original are not insertions and stay.
    pub fn withdraw_insertion(&mut self, text: &[u8]) -> bool {
        let edits = &mut self.edits;
        let found = edits
            .ops
            .iter()
            .rposition(|o| o.start == o.end && o.text.bytes(&edits.arena) == text);
        match found {
            Some(i) => {
                edits.ops.remove(i);
                true
            }
            None => false,
        }
    }

    /// Removes the top Via value: its whole line when it is alone on the
    /// line, otherwise just the value and the comma after it (what a proxy
    /// does to a reply before forwarding it).
    pub fn remove_top_via(&mut self) -> Result<(), EditError> {
        let (idx, first) = self
            .value_spans(HeaderName::Via)
            .next()
            .ok_or(EditError::NoVia)?;
        let e = *self
            .idx
            .headers
            .as_slice()
            .get(idx)
            .ok_or(EditError::NoVia)?;
        let mut elements = CommaSplit::new(self.text().as_bytes(), e.value);
        let _top = elements.next();
        let range = match elements.next() {
            Some(second) => Span::of(first.start(), second.start()),
            None => e.line(),
        };
        self.record_checked(range.start(), range.end(), b"")
    }

    /// Replaces the body. With `content_type`, the Content-Type header is
    /// replaced (or added); without it, Content-Type is left as it is.
    /// Content-Length is fixed up when the message is serialised. A later
    /// call replaces what an earlier one set.
    pub fn set_body(&mut self, body: &[u8], content_type: Option<&str>) -> Result<(), EditError> {
        if let Some(ct) = content_type {
            check_value(ct)?;
        }
        let bs = self.idx.body.start() as u32;
        self.edits.ops.retain(|o| o.start < bs);
        self.record_checked(self.idx.body.start(), self.idx.body.end(), body)?;
        if let Some(ct) = content_type {
            if let Some(seq) = self.edits.content_type_seq.take() {
                self.edits.ops.retain(|o| o.seq != seq);
            }
            match self.header(HeaderName::ContentType).map(|h| h.value_span()) {
                Some(v) => {
                    self.record_checked(v.start(), v.end(), ct.as_bytes())?;
                }
                None => {
                    let at = self.idx.head_end as usize;
                    let seq =
                        self.edits
                            .record(at, at, &[b"Content-Type: ", ct.as_bytes(), b"\r\n"]);
                    self.edits.content_type_seq = Some(seq);
                }
            }
        }
        Ok(())
    }

    /// Makes serialisation write a Content-Length header even if the body
    /// is unchanged and the datagram had none (needed before forwarding
    /// over a stream transport, RFC 3261 §18.3).
    pub fn ensure_content_length(&mut self) {
        self.edits.force_content_length = true;
    }

    /// Sets the Request-URI that serialisation writes. Takes effect at once
    /// for [`ruri`](SipMsg::ruri); [`original_ruri`](SipMsg::original_ruri)
    /// keeps the received one.
    pub fn set_ruri(&mut self, uri: &str) -> Result<(), EditError> {
        if !self.is_request() {
            return Err(EditError::NotARequest);
        }
        if uri.is_empty() || uri.bytes().any(|c| c <= b' ' || c == 0x7f) {
            return Err(EditError::InvalidText);
        }
        self.new_ruri = Some(uri.into());
        Ok(())
    }

    /// Forgets a Request-URI set with [`set_ruri`](SipMsg::set_ruri).
    pub fn reset_ruri(&mut self) {
        self.new_ruri = None;
    }

    /// Whether the Request-URI was changed.
    pub fn ruri_changed(&self) -> bool {
        self.new_ruri.is_some()
    }

    /// Sets the destination URI (`$du`): where the request is sent, without
    /// changing the message.
    pub fn set_du(&mut self, uri: &str) -> Result<(), EditError> {
        if uri.is_empty() || uri.bytes().any(|c| c <= b' ' || c == 0x7f) {
            return Err(EditError::InvalidText);
        }
        self.dst_uri = Some(uri.into());
        Ok(())
    }

    /// The destination URI, if set.
    pub fn du(&self) -> Option<&str> {
        self.dst_uri.as_deref()
    }

    /// Forgets the destination URI.
    pub fn reset_du(&mut self) {
        self.dst_uri = None;
    }

    /// Whether any edit is recorded or the Request-URI was changed.
    pub fn has_changes(&self) -> bool {
        !self.edits.is_empty() || self.new_ruri.is_some()
    }

    /// Drops every recorded edit and the Request-URI change (the destination
    /// URI is kept: it is not part of the message).
    pub fn discard_changes(&mut self) {
        self.edits = EditList::default();
        self.new_ruri = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_are_kept_in_key_order() {
        let mut l = EditList::default();
        l.record(10, 12, &[b"a"]);
        l.record(5, 5, &[b"b"]);
        l.record(10, 10, &[b"c"]);
        l.record(10, 14, &[b"d"]);
        l.record(5, 5, &[b"e"]);
        let texts: Vec<&[u8]> = l.ops.iter().map(|o| l.text(o)).collect();
        assert_eq!(texts, vec![&b"b"[..], b"e", b"c", b"d", b"a"]);
    }

    fn msg() -> SipMsg {
        SipMsg::parse("OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nl: 2\r\n\r\nab")
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn range_checks() {
        let mut m = msg();
        let end = m.len();
        assert_eq!(m.insert_at(end + 1, "x"), Err(EditError::OutOfRange));
        assert_eq!(
            m.delete_span(Span::new(3, 2)),
            Ok(()),
            "inverted spans collapse"
        );
        let bs = m.body_span().start();
        assert_eq!(
            m.delete_span(Span::of(bs - 3, bs + 1)),
            Err(EditError::StraddlesBody)
        );
        assert_eq!(m.insert_at(0, "\0"), Err(EditError::InvalidText));
        assert_eq!(m.insert_at(end, "\0"), Ok(()), "binary bodies are fine");
        assert_eq!(m.delete_header(9), Err(EditError::NoSuchHeader));
        assert_eq!(m.append_header("\r\n"), Err(EditError::InvalidText));
        assert_eq!(m.add_header("Bad Name", "v"), Err(EditError::InvalidText));
        assert_eq!(m.add_via("a\r\nb"), Err(EditError::InvalidText));
        assert_eq!(m.set_ruri("sip:a b"), Err(EditError::InvalidText));
        assert_eq!(m.set_du(""), Err(EditError::InvalidText));
    }

    #[test]
    fn an_insertion_can_be_withdrawn() {
        let mut m = msg();
        assert_eq!(m.add_record_route("<sip:p1;lr>"), Ok(()));
        assert_eq!(m.add_record_route("<sip:p2;lr>"), Ok(()));
        assert_eq!(m.delete_header(0), Ok(()));
        assert!(m.withdraw_insertion(b"Record-Route: <sip:p1;lr>\r\n"));
        assert!(
            !m.withdraw_insertion(b"Record-Route: <sip:p1;lr>\r\n"),
            "only once"
        );
        assert!(
            !m.withdraw_insertion(b"Via: SIP/2.0/UDP h\r\n"),
            "not an insertion"
        );
        let out = String::from_utf8(m.to_bytes()).expect("text");
        assert_eq!(
            out,
            "OPTIONS sip:x SIP/2.0\r\nRecord-Route: <sip:p2;lr>\r\nl: 2\r\n\r\nab"
        );
    }

    #[test]
    fn ruri_and_du_take_effect_at_once() {
        let mut m = msg();
        assert!(!m.has_changes());
        assert_eq!(m.set_ruri("sip:new@example.com"), Ok(()));
        assert_eq!(m.ruri_str(), Some("sip:new@example.com"));
        assert_eq!(m.ruri().map(|u| u.host()), Ok("example.com"));
        assert_eq!(m.original_ruri_str(), Some("sip:x"));
        assert_eq!(m.original_ruri().map(|u| u.host()), Ok("x"));
        assert!(m.has_changes() && m.ruri_changed());
        m.reset_ruri();
        assert_eq!(m.ruri_str(), Some("sip:x"));
        assert_eq!(m.set_du("sip:10.0.0.1:5080;transport=tcp"), Ok(()));
        assert_eq!(m.du(), Some("sip:10.0.0.1:5080;transport=tcp"));
        m.reset_du();
        assert_eq!(m.du(), None);
        let mut r = SipMsg::parse("SIP/2.0 200 OK\r\n\r\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.set_ruri("sip:x"), Err(EditError::NotARequest));
    }
}
