//! Byte ranges into a message buffer.
//!
//! The header index of a parsed message, and every typed view cached beside
//! it, refer to the received bytes by offset rather than by reference. That is
//! what lets a [`SipMsg`](super::SipMsg) own its buffer and its index at the
//! same time, with no self-referential borrow and no copy of header text.
//! Offsets are `u32` because no accepted message comes near 4 GiB and smaller
//! entries keep the index compact.

use std::ops::Range;

/// A half-open byte range `start..end` into a message buffer (or into the
/// string a standalone view was parsed from).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    start: u32,
    end: u32,
}

impl Span {
    /// Builds a span; an `end` before `start` collapses to an empty span at
    /// `start`, so a span is never inverted.
    pub const fn new(start: u32, end: u32) -> Span {
        if end < start {
            Span { start, end: start }
        } else {
            Span { start, end }
        }
    }

    /// Builds a span from `usize` offsets. Callers only pass offsets inside a
    /// buffer whose size was checked against the message size limit, so the
    /// saturation never triggers in practice; it exists so that no input can
    /// make a conversion panic.
    pub(crate) fn of(start: usize, end: usize) -> Span {
        let s = u32::try_from(start).unwrap_or(u32::MAX);
        let e = u32::try_from(end).unwrap_or(u32::MAX);
        Span::new(s, e)
    }

    /// An empty span at `at`.
    pub(crate) fn at(at: usize) -> Span {
        Span::of(at, at)
    }

    /// First byte offset.
    pub const fn start(self) -> usize {
        self.start as usize
    }

    /// One past the last byte offset.
    pub const fn end(self) -> usize {
        self.end as usize
    }

    /// Length in bytes.
    pub const fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    /// Whether the span covers no byte.
    pub const fn is_empty(self) -> bool {
        self.end == self.start
    }

    /// The span as a `Range<usize>` for slicing.
    pub const fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }

    /// The text this span covers in `s`, or `""` if the span does not fit
    /// (which would be a bug, but must never become a panic on the hot path).
    pub fn get(self, s: &str) -> &str {
        s.get(self.range()).unwrap_or("")
    }

    /// The bytes this span covers in `b`, or an empty slice if it does not fit.
    pub fn bytes(self, b: &[u8]) -> &[u8] {
        b.get(self.range()).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverted_spans_collapse() {
        let s = Span::new(7, 3);
        assert_eq!(s.start(), 7);
        assert!(s.is_empty());
    }

    #[test]
    fn get_is_total() {
        let s = Span::new(2, 5);
        assert_eq!(s.get("abcdef"), "cde");
        assert_eq!(s.get("ab"), "");
        assert_eq!(Span::new(1, 2).get("é"), "", "not a char boundary");
        assert_eq!(s.bytes(b"abcdef"), b"cde");
        assert_eq!(s.bytes(b"a"), b"");
        assert_eq!(s.len(), 3);
    }
}
