//! The header index: a small vector that keeps its first entries inline.
//!
//! Parsing a datagram must not allocate in the common case. A typical request
//! has 10 to 25 header lines, so the index stores up to [`INLINE`] entries
//! inside the message itself and only moves to the heap for unusually long
//! headers sections. Written here with safe code (no `MaybeUninit`) because
//! entries are small `Copy` values that are cheap to default-initialise.

use super::header::HeaderEntry;

/// Number of header entries stored without a heap allocation.
pub(crate) const INLINE: usize = 24;

// The size difference between the variants is the point: the inline one
// avoids the allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
enum Store {
    Inline {
        len: usize,
        items: [HeaderEntry; INLINE],
    },
    Heap(Vec<HeaderEntry>),
}

/// Ordered header entries of one message.
#[derive(Clone, Debug)]
pub(crate) struct HeaderIndex {
    store: Store,
}

impl Default for HeaderIndex {
    fn default() -> Self {
        HeaderIndex {
            store: Store::Inline {
                len: 0,
                items: [HeaderEntry::default(); INLINE],
            },
        }
    }
}

impl HeaderIndex {
    /// Appends an entry, spilling to the heap when the inline room is full.
    pub(crate) fn push(&mut self, e: HeaderEntry) {
        match &mut self.store {
            Store::Inline { len, items } => {
                if let Some(slot) = items.get_mut(*len) {
                    *slot = e;
                    *len += 1;
                } else {
                    let mut v = Vec::with_capacity(INLINE * 2);
                    v.extend_from_slice(&items[..]);
                    v.push(e);
                    self.store = Store::Heap(v);
                }
            }
            Store::Heap(v) => v.push(e),
        }
    }

    /// The entries in message order.
    pub(crate) fn as_slice(&self) -> &[HeaderEntry] {
        match &self.store {
            Store::Inline { len, items } => items.get(..*len).unwrap_or(&[]),
            Store::Heap(v) => v,
        }
    }

    /// The last entry, for extending it with a folded continuation line.
    pub(crate) fn last_mut(&mut self) -> Option<&mut HeaderEntry> {
        match &mut self.store {
            Store::Inline { len, items } => len.checked_sub(1).and_then(|i| items.get_mut(i)),
            Store::Heap(v) => v.last_mut(),
        }
    }

    /// Number of entries.
    pub(crate) fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether the index spilled to the heap (used by tests about allocation).
    #[cfg(test)]
    pub(crate) fn spilled(&self) -> bool {
        matches!(self.store, Store::Heap(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::span::Span;

    fn entry(i: u32) -> HeaderEntry {
        HeaderEntry {
            name: Span::new(i, i + 1),
            ..HeaderEntry::default()
        }
    }

    #[test]
    fn stays_inline_then_spills_keeping_order() {
        let mut idx = HeaderIndex::default();
        assert!(idx.last_mut().is_none());
        for i in 0..INLINE as u32 {
            idx.push(entry(i));
        }
        assert!(!idx.spilled());
        assert_eq!(idx.len(), INLINE);
        idx.push(entry(100));
        assert!(idx.spilled());
        assert_eq!(idx.len(), INLINE + 1);
        for (i, e) in idx.as_slice()[..INLINE].iter().enumerate() {
            assert_eq!(e.name.start(), i);
        }
        assert_eq!(idx.last_mut().map(|e| e.name.start()), Some(100));
    }
}
