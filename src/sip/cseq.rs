//! The CSeq header (RFC 3261 §20.16): sequence number and method.
//!
//! Transaction matching, CANCEL/ACK handling and the method of a reply all
//! come from CSeq, so it gets its own small typed view.

use super::error::ViewError;
use super::method::Method;
use super::span::Span;
use super::text::{parse_u32, skip_ws, token_end, trim};

/// Offsets and values of a CSeq header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CSeqParts {
    pub(crate) number: u32,
    pub(crate) method: Option<Method>,
    pub(crate) method_span: Span,
}

/// Parses `text[start..end]` as `1*DIGIT LWS Method`.
pub(crate) fn parse_cseq(text: &str, start: usize, end: usize) -> Result<CSeqParts, ViewError> {
    let b = text.as_bytes();
    let (start, end) = trim(b, start, end);
    let mut ne = start;
    while ne < end && b[ne].is_ascii_digit() {
        ne += 1;
    }
    // RFC 3261 §8.1.1.5: the number must be below 2**31.
    let number = parse_u32(&b[start..ne])
        .filter(|n| *n < 1 << 31)
        .ok_or(ViewError::Malformed("CSeq: number"))?;
    let ms = skip_ws(b, ne, end);
    let me = token_end(b, ms, end);
    if ms == ne || me == ms || me != end {
        return Err(ViewError::Malformed("CSeq: method"));
    }
    Ok(CSeqParts {
        number,
        method: Some(Method::from_bytes(&b[ms..me])),
        method_span: Span::of(ms, me),
    })
}

/// A CSeq header borrowed from the message.
#[derive(Clone, Copy, Debug)]
pub struct CSeq<'a> {
    pub(crate) src: &'a str,
    pub(crate) p: CSeqParts,
}

impl<'a> CSeq<'a> {
    /// Parses a standalone CSeq value.
    pub fn parse(text: &'a str) -> Result<CSeq<'a>, ViewError> {
        Ok(CSeq {
            src: text,
            p: parse_cseq(text, 0, text.len())?,
        })
    }

    /// Sequence number.
    pub fn number(&self) -> u32 {
        self.p.number
    }

    /// Method, classified.
    pub fn method(&self) -> Method {
        self.p.method.unwrap_or(Method::Other)
    }

    /// Method as written.
    pub fn method_str(&self) -> &'a str {
        self.p.method_span.get(self.src)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_and_method() {
        let c = CSeq::parse(" 4711 \r\n INVITE ").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.number(), 4711);
        assert_eq!(c.method(), Method::Invite);
        assert_eq!(c.method_str(), "INVITE");
        let c = CSeq::parse("1 FOO").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.method(), Method::Other);
        assert_eq!(c.method_str(), "FOO");
    }

    #[test]
    fn malformed() {
        for bad in [
            "",
            "INVITE",
            "1",
            "1INVITE",
            "x 1",
            "-1 INVITE",
            "2147483648 BYE",
            "1 BYE x",
            "1 B@YE",
        ] {
            assert!(CSeq::parse(bad).is_err(), "{bad:?}");
        }
        assert!(CSeq::parse("2147483647 BYE").is_ok());
    }
}
