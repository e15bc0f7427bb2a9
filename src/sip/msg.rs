//! `SipMsg`: a received message, owned, with its index and raw accessors.
//!
//! The message keeps the received bytes exactly as they arrived and an index
//! of where the start line's parts, each header and the body are. Everything
//! read from it is a slice of those bytes. Typed views (in `views.rs`),
//! recorded edits (`edit.rs`) and serialisation (`serialize.rs`) extend this
//! type from their own files.

use super::buffer::Buffer;
use super::edit::EditList;
use super::error::ParseError;
use super::header::{Header, HeaderEntry, HeaderName};
use super::method::Method;
use super::parse::{scan, FirstLine, Index, Limits};
use super::span::Span;
use super::text::CommaSplit;
use super::views::ViewCache;

/// A parsed SIP message that owns its bytes.
///
/// Reads always see the message as received; edits are recorded and only
/// take effect when the message is serialised (or rebuilt with
/// [`apply_changes`](SipMsg::apply_changes)). The Request-URI and destination
/// URI are the exception: they are plain fields that change at once.
#[derive(Clone, Debug)]
pub struct SipMsg {
    pub(crate) buf: Buffer,
    /// Where everything is; see [`Index`].
    pub(crate) idx: Index,
    pub(crate) limits: Limits,
    pub(crate) edits: EditList,
    pub(crate) new_ruri: Option<Box<str>>,
    pub(crate) dst_uri: Option<Box<str>>,
    pub(crate) views: ViewCache,
}

/// The start line of a message, as text slices of the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartLine<'a> {
    /// `Method Request-URI Version`
    Request {
        /// Classified method.
        method: Method,
        /// Method as written.
        method_str: &'a str,
        /// Request-URI as received.
        uri: &'a str,
        /// `SIP/2.0` (or `HTTP/1.x`).
        version: &'a str,
    },
    /// `Version Status-Code Reason-Phrase`
    Reply {
        /// `SIP/2.0`.
        version: &'a str,
        /// Status code, 100 to 699.
        code: u16,
        /// Reason phrase (may be empty).
        reason: &'a str,
    },
}

impl SipMsg {
    /// Parses one datagram (or one frame cut from a stream by
    /// [`frame`](super::frame)) with the default [`Limits`].
    ///
    /// A `Vec<u8>` is moved in without copying; a slice is copied once.
    pub fn parse(buf: impl Into<Vec<u8>>) -> Result<SipMsg, ParseError> {
        SipMsg::parse_with(buf, Limits::default())
    }

    /// Parses with explicit size limits.
    pub fn parse_with(buf: impl Into<Vec<u8>>, limits: Limits) -> Result<SipMsg, ParseError> {
        let buf = buf.into();
        // Built first and filled in place: the index holds the inline header
        // array, which is then never copied around.
        let mut msg = SipMsg {
            buf: Buffer::Text(String::new()),
            idx: Index::new(),
            limits,
            edits: EditList::default(),
            new_ruri: None,
            dst_uri: None,
            views: ViewCache::default(),
        };
        scan(&buf, limits, &mut msg.idx);
        if let Some(e) = msg.idx.error {
            return Err(e);
        }
        msg.buf = Buffer::new(buf, msg.idx.head_end as usize);
        Ok(msg)
    }

    /// Text of the start line and headers (offsets of the index are valid
    /// in it).
    pub(crate) fn text(&self) -> &str {
        self.buf.text()
    }

    /// Whether this is a request.
    pub fn is_request(&self) -> bool {
        matches!(self.idx.first, FirstLine::Request { .. })
    }

    /// Whether this is a reply.
    pub fn is_reply(&self) -> bool {
        !self.is_request()
    }

    /// The start line.
    pub fn start_line(&self) -> StartLine<'_> {
        let t = self.text();
        match self.idx.first {
            FirstLine::Request {
                method,
                method_span,
                uri,
                version,
            } => StartLine::Request {
                method,
                method_str: method_span.get(t),
                uri: uri.get(t),
                version: version.get(t),
            },
            FirstLine::Reply {
                version,
                code,
                reason,
            } => StartLine::Reply {
                version: version.get(t),
                code,
                reason: reason.get(t),
            },
        }
    }

    /// The request method (`None` for a reply; a reply's method is in CSeq).
    pub fn method(&self) -> Option<Method> {
        match self.idx.first {
            FirstLine::Request { method, .. } => Some(method),
            FirstLine::Reply { .. } => None,
        }
    }

    /// The request method as written.
    pub fn method_str(&self) -> Option<&str> {
        match self.idx.first {
            FirstLine::Request { method_span, .. } => Some(method_span.get(self.text())),
            FirstLine::Reply { .. } => None,
        }
    }

    /// The status code of a reply.
    pub fn status_code(&self) -> Option<u16> {
        match self.idx.first {
            FirstLine::Reply { code, .. } => Some(code),
            FirstLine::Request { .. } => None,
        }
    }

    /// The reason phrase of a reply.
    pub fn reason(&self) -> Option<&str> {
        match self.idx.first {
            FirstLine::Reply { reason, .. } => Some(reason.get(self.text())),
            FirstLine::Request { .. } => None,
        }
    }

    /// Where the received Request-URI is in the buffer.
    pub(crate) fn ruri_span(&self) -> Option<Span> {
        match self.idx.first {
            FirstLine::Request { uri, .. } => Some(uri),
            FirstLine::Reply { .. } => None,
        }
    }

    /// The Request-URI as received, whatever [`set_ruri`](SipMsg::set_ruri)
    /// did since.
    pub fn original_ruri_str(&self) -> Option<&str> {
        self.ruri_span().map(|s| s.get(self.text()))
    }

    /// The current Request-URI: the one set by
    /// [`set_ruri`](SipMsg::set_ruri), or the received one.
    pub fn ruri_str(&self) -> Option<&str> {
        if !self.is_request() {
            return None;
        }
        match &self.new_ruri {
            Some(u) => Some(u),
            None => self.original_ruri_str(),
        }
    }

    /// The message as received, from its start line to the end of its body
    /// (leading CRLFs and datagram bytes past Content-Length excluded). This
    /// is what serialising without edits produces.
    pub fn as_bytes(&self) -> &[u8] {
        Span::new(self.idx.start, self.idx.end).bytes(self.buf.bytes())
    }

    /// Size of [`as_bytes`](SipMsg::as_bytes).
    pub fn len(&self) -> usize {
        (self.idx.end - self.idx.start) as usize
    }

    /// Always false: a parsed message has at least a start line. Present for
    /// symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The body bytes.
    pub fn body(&self) -> &[u8] {
        self.idx.body.bytes(self.buf.bytes())
    }

    /// The body as text, if it is valid UTF-8.
    pub fn body_str(&self) -> Option<&str> {
        std::str::from_utf8(self.body()).ok()
    }

    /// Where the body is in the buffer.
    pub fn body_span(&self) -> Span {
        self.idx.body
    }

    /// The Content-Length value, if the header is present (the scanner has
    /// already checked it).
    pub fn content_length(&self) -> Option<u32> {
        self.idx.content_length
    }

    /// Number of header lines (folded lines count once).
    pub fn header_count(&self) -> usize {
        self.idx.headers.len()
    }

    fn make_header(&self, index: usize, entry: HeaderEntry) -> Header<'_> {
        let t = self.text();
        Header {
            index,
            kind: entry.kind,
            name: entry.name.get(t),
            value: entry.value.get(t),
            entry,
        }
    }

    /// The header at `index`, in message order.
    pub fn header_at(&self, index: usize) -> Option<Header<'_>> {
        let e = *self.idx.headers.as_slice().get(index)?;
        Some(self.make_header(index, e))
    }

    /// All headers in message order.
    pub fn headers(&self) -> impl Iterator<Item = Header<'_>> + '_ {
        self.idx
            .headers
            .as_slice()
            .iter()
            .enumerate()
            .map(move |(i, e)| self.make_header(i, *e))
    }

    /// Entries of one kind with their positions, starting from the first one
    /// the scanner saw, so that asking for an absent header costs nothing.
    pub(crate) fn entries_of(
        &self,
        kind: HeaderName,
    ) -> impl Iterator<Item = (usize, &HeaderEntry)> + '_ {
        self.idx.entries(kind)
    }

    /// The first header of a kind.
    pub fn header(&self, kind: HeaderName) -> Option<Header<'_>> {
        self.headers_of(kind).next()
    }

    /// Every header of a kind, in message order.
    pub fn headers_of(&self, kind: HeaderName) -> impl Iterator<Item = Header<'_>> + '_ {
        self.entries_of(kind)
            .map(move |(i, e)| self.make_header(i, *e))
    }

    /// The first header with this name: case-insensitive, compact forms
    /// equivalent to full names (`"v"` finds `Via:` and `"VIA"` finds `v:`).
    pub fn header_by_name(&self, name: &str) -> Option<Header<'_>> {
        let kind = HeaderName::from_str(name);
        self.headers().find(|h| {
            h.kind == kind && (kind != HeaderName::Other || h.name.eq_ignore_ascii_case(name))
        })
    }

    /// Every header with this name (see [`header_by_name`](SipMsg::header_by_name)).
    pub fn headers_by_name<'a>(&'a self, name: &'a str) -> impl Iterator<Item = Header<'a>> + 'a {
        let kind = HeaderName::from_str(name);
        self.headers().filter(move |h| {
            h.kind == kind && (kind != HeaderName::Other || h.name.eq_ignore_ascii_case(name))
        })
    }

    /// Spans of every value of a kind: comma-separated elements for list
    /// headers ([`HeaderName::is_list`]), whole values otherwise. Each item
    /// carries the index of the header line it came from.
    pub(crate) fn value_spans(&self, kind: HeaderName) -> impl Iterator<Item = (usize, Span)> + '_ {
        let b = self.text().as_bytes();
        let list = kind.is_list();
        self.entries_of(kind)
            .flat_map(move |(i, e)| ValueSplit::new(b, e.value, list).map(move |s| (i, s)))
    }

    /// Every value of a kind, in order, across header lines; for list headers
    /// (Via, Route, Record-Route, Contact, Allow, Supported, ...) each
    /// comma-separated element is a separate value. Commas inside quoted
    /// strings and `<...>` do not split.
    pub fn values(&self, kind: HeaderName) -> impl Iterator<Item = &str> + '_ {
        let t = self.text();
        self.value_spans(kind).map(move |(_, s)| s.get(t))
    }

    /// [`values`](SipMsg::values) by header name; headers this model does not
    /// know are not split (use [`split_commas`](super::split_commas) on them).
    pub fn values_by_name<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let kind = HeaderName::from_str(name);
        let list = kind.is_list();
        let t = self.text();
        self.headers_by_name(name)
            .flat_map(move |h| ValueSplit::new(t.as_bytes(), h.entry.value, list))
            .map(move |s| s.get(t))
    }
}

/// Either the whole value once, or its comma-separated elements.
enum ValueSplit<'a> {
    One(Option<Span>),
    List(CommaSplit<'a>),
}

impl<'a> ValueSplit<'a> {
    fn new(b: &'a [u8], value: Span, list: bool) -> ValueSplit<'a> {
        if list {
            ValueSplit::List(CommaSplit::new(b, value))
        } else {
            ValueSplit::One(Some(value))
        }
    }
}

impl Iterator for ValueSplit<'_> {
    type Item = Span;

    fn next(&mut self) -> Option<Span> {
        match self {
            ValueSplit::One(v) => v.take(),
            ValueSplit::List(it) => it.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &str = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
        Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/TCP b.example.com;branch=z9hG4bK2\r\n\
        v: SIP/2.0/UDP c.example.com;branch=z9hG4bK3\r\n\
        From: \"Doe, John\" <sip:j@example.com>;tag=88\r\n\
        t: <sip:bob@biloxi.example.com>\r\n\
        Call-ID: abc@host\r\n\
        CSeq: 7 INVITE\r\n\
        X-Custom: one, two\r\n\
        x-custom: three\r\n\
        Allow: INVITE, ACK,BYE\r\n\
        Content-Length: 5\r\n\
        \r\n\
        hello";

    fn msg() -> SipMsg {
        match SipMsg::parse(MSG) {
            Ok(m) => m,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn start_line_and_body() {
        let m = msg();
        assert!(m.is_request());
        assert_eq!(m.method(), Some(Method::Invite));
        assert_eq!(m.method_str(), Some("INVITE"));
        assert_eq!(m.ruri_str(), Some("sip:bob@biloxi.example.com"));
        assert_eq!(m.status_code(), None);
        assert_eq!(m.body(), b"hello");
        assert_eq!(m.body_str(), Some("hello"));
        assert_eq!(m.content_length(), Some(5));
        assert_eq!(m.as_bytes(), MSG.as_bytes());
        assert_eq!(m.len(), MSG.len());
        assert!(matches!(
            m.start_line(),
            StartLine::Request {
                version: "SIP/2.0",
                ..
            }
        ));
    }

    #[test]
    fn lookups_by_kind_and_name() {
        let m = msg();
        assert_eq!(m.header_count(), 10);
        assert_eq!(m.header(HeaderName::To).map(|h| h.name), Some("t"));
        assert_eq!(
            m.header_by_name("TO").map(|h| h.value),
            Some("<sip:bob@biloxi.example.com>")
        );
        assert_eq!(m.header_by_name("i").map(|h| h.value), Some("abc@host"));
        assert!(m.header(HeaderName::Route).is_none());
        assert_eq!(m.headers_of(HeaderName::Via).count(), 2);
        assert_eq!(m.headers_by_name("x-CUSTOM").count(), 2);
        assert_eq!(m.header_at(5).map(|h| h.kind), Some(HeaderName::CSeq));
        assert!(m.header_at(10).is_none());
        let h = m.header(HeaderName::CallId).map(|h| h.line_span());
        assert_eq!(h.map(|s| &MSG[s.range()]), Some("Call-ID: abc@host\r\n"));
    }

    #[test]
    fn values_split_lists_only() {
        let m = msg();
        let vias: Vec<&str> = m.values(HeaderName::Via).collect();
        assert_eq!(vias.len(), 3);
        assert_eq!(vias[1], "SIP/2.0/TCP b.example.com;branch=z9hG4bK2");
        assert_eq!(
            m.values(HeaderName::Allow).collect::<Vec<_>>(),
            vec!["INVITE", "ACK", "BYE"]
        );
        assert_eq!(
            m.values(HeaderName::From).collect::<Vec<_>>(),
            vec!["\"Doe, John\" <sip:j@example.com>;tag=88"]
        );
        assert_eq!(
            m.values_by_name("x-custom").collect::<Vec<_>>(),
            vec!["one, two", "three"]
        );
        assert_eq!(m.values_by_name("v").count(), 3);
        assert_eq!(m.values(HeaderName::Route).count(), 0);
    }

    #[test]
    fn reply_accessors() {
        let m = match SipMsg::parse(&b"SIP/2.0 486 Busy Here\r\nCSeq: 1 INVITE\r\n\r\n"[..]) {
            Ok(m) => m,
            Err(e) => panic!("{e}"),
        };
        assert!(m.is_reply());
        assert_eq!(m.status_code(), Some(486));
        assert_eq!(m.reason(), Some("Busy Here"));
        assert_eq!(m.method(), None);
        assert_eq!(m.ruri_str(), None);
        assert!(m.body().is_empty());
    }

    #[test]
    fn index_stays_inline_for_typical_messages() {
        assert!(!msg().idx.headers.spilled());
    }
}
