//! Error types of the SIP message model.
//!
//! A parse failure has to tell the server two things: what was wrong (for
//! the log line) and whether a `400 Bad Request` could still be routed back,
//! which is only the case for a request (not ACK) in which Via, From, To,
//! Call-ID and CSeq were all found. Typed views fail separately and lazily,
//! so one malformed header never makes the whole message unusable.

use std::fmt;

use super::header::HeaderName;

/// What made a message unparsable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParseErrorKind {
    /// Nothing but CR/LF: a keepalive, not a message.
    Empty,
    /// Larger than the configured maximum message size.
    TooLarge,
    /// More header lines than the configured maximum.
    TooManyHeaders,
    /// The request or status line does not have the expected shape.
    BadStartLine,
    /// The protocol version is not `SIP/2.0` (or `HTTP/1.x` for requests).
    BadVersion,
    /// The status code is not three digits between 100 and 699.
    BadStatusCode,
    /// A header name contains bytes that are not allowed in a token.
    BadHeaderName,
    /// A header line has no colon.
    MissingColon,
    /// A continuation line (starting with white space) precedes every header.
    FoldWithoutHeader,
    /// The headers are not terminated by an empty line.
    NoEndOfHeaders,
    /// A NUL byte appears in the start line or headers.
    NulByte,
    /// Content-Length is not a non-negative decimal number.
    BadContentLength,
    /// Several Content-Length headers disagree.
    ConflictingContentLength,
    /// Content-Length announces more bytes than the datagram carries.
    BodyTruncated,
    /// A message on a stream transport has no Content-Length (RFC 3261 §18.3).
    MissingContentLength,
    /// A To or From header has an empty `tag`. Dialogs and transactions
    /// are matched by these tags, so such a message is refused whole (and
    /// not answered: the reply would repeat the tag).
    BadTag,
}

impl ParseErrorKind {
    /// A short human description for log lines.
    pub const fn describe(self) -> &'static str {
        match self {
            Self::Empty => "empty message (keepalive)",
            Self::TooLarge => "message too large",
            Self::TooManyHeaders => "too many headers",
            Self::BadStartLine => "malformed request or status line",
            Self::BadVersion => "unsupported protocol version",
            Self::BadStatusCode => "bad status code",
            Self::BadHeaderName => "bad header name",
            Self::MissingColon => "header line without colon",
            Self::FoldWithoutHeader => "continuation line before any header",
            Self::NoEndOfHeaders => "no empty line after the headers",
            Self::NulByte => "NUL byte in the headers",
            Self::BadContentLength => "bad Content-Length",
            Self::ConflictingContentLength => "conflicting Content-Length headers",
            Self::BodyTruncated => "body shorter than Content-Length",
            Self::MissingContentLength => "no Content-Length on a stream transport",
            Self::BadTag => "empty tag in To or From",
        }
    }
}

/// A message could not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub(crate) kind: ParseErrorKind,
    pub(crate) offset: u32,
    pub(crate) can_reply: bool,
}

impl ParseError {
    pub(crate) fn new(kind: ParseErrorKind, offset: usize) -> ParseError {
        ParseError {
            kind,
            offset: u32::try_from(offset).unwrap_or(u32::MAX),
            can_reply: false,
        }
    }

    /// What was wrong.
    pub fn kind(&self) -> ParseErrorKind {
        self.kind
    }

    /// Byte offset in the input where the problem was detected.
    pub fn offset(&self) -> usize {
        self.offset as usize
    }

    /// Whether the input is a request other than ACK that carries Via, From,
    /// To, Call-ID and CSeq, so that a `400 Bad Request` can be built from it
    /// (see [`build_bad_request`](super::build_bad_request)). Otherwise the
    /// server should drop it and log.
    pub fn can_reply(&self) -> bool {
        self.can_reply
    }

    /// Whether the input was only CR/LF keepalive bytes.
    pub fn is_keepalive(&self) -> bool {
        self.kind == ParseErrorKind::Empty
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.kind.describe(), self.offset)?;
        if self.can_reply {
            f.write_str(" (400 can be sent)")?;
        }
        Ok(())
    }
}

impl std::error::Error for ParseError {}

/// A typed view of a header could not be produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViewError {
    /// The header (or the request line) is not in the message.
    Missing,
    /// The header is present but does not follow its grammar; the text says
    /// which part.
    Malformed(&'static str),
}

impl fmt::Display for ViewError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ViewError::Missing => f.write_str("header missing"),
            ViewError::Malformed(what) => write!(f, "malformed {what}"),
        }
    }
}

impl std::error::Error for ViewError {}

/// An edit could not be recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EditError {
    /// The byte range is outside the message or inverted.
    OutOfRange,
    /// The byte range spans both the headers and the body.
    StraddlesBody,
    /// The header index does not exist.
    NoSuchHeader,
    /// The text cannot be used here (empty, or containing bytes that would
    /// break the message framing).
    InvalidText,
    /// The operation only applies to requests.
    NotARequest,
    /// The message has no Via header to edit.
    NoVia,
    /// The top Via header is malformed.
    BadVia,
}

impl fmt::Display for EditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EditError::OutOfRange => "edit range outside the message",
            EditError::StraddlesBody => "edit range spans headers and body",
            EditError::NoSuchHeader => "no such header",
            EditError::InvalidText => "text not allowed here",
            EditError::NotARequest => "not a request",
            EditError::NoVia => "no Via header",
            EditError::BadVia => "malformed top Via",
        })
    }
}

impl std::error::Error for EditError {}

/// A reply could not be built from a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyError {
    /// The message is a reply, or an ACK (which is never answered).
    NotAnswerable,
    /// The status code is outside 100..=699.
    BadStatusCode,
    /// A header the reply must copy is missing.
    MissingHeader(HeaderName),
}

impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplyError::NotAnswerable => f.write_str("message cannot be answered"),
            ReplyError::BadStatusCode => f.write_str("status code outside 100..=699"),
            ReplyError::MissingHeader(h) => {
                write!(
                    f,
                    "request has no {} header",
                    h.as_str().unwrap_or("required")
                )
            }
        }
    }
}

impl std::error::Error for ReplyError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_mentions_kind_offset_and_reply() {
        let mut e = ParseError::new(ParseErrorKind::MissingColon, 42);
        assert_eq!(e.to_string(), "header line without colon at byte 42");
        e.can_reply = true;
        assert!(e.to_string().ends_with("(400 can be sent)"));
        assert!(!e.is_keepalive());
        assert!(ParseError::new(ParseErrorKind::Empty, 0).is_keepalive());
        assert_eq!(ViewError::Malformed("port").to_string(), "malformed port");
    }
}
