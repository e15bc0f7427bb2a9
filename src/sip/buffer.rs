//! The owned bytes of a message, with a `&str` view of its headers.
//!
//! Header values are handed out as `&str` slices of the received bytes. To do
//! that without re-validating UTF-8 on every access (and without `unsafe`),
//! the buffer is validated once: a message that is valid UTF-8 throughout
//! (nearly all of them: SDP is ASCII) is kept as a `String`, moved in without
//! a copy. Otherwise the raw bytes are kept for forwarding and a copy of the
//! start line and headers is made in which every invalid byte is replaced by
//! `?`. The replacement has the same length, so every offset of the index is
//! valid in both, and messages from devices that put Latin-1 in a display
//! name are still routed instead of being rejected.

/// Raw message bytes plus their textual view.
#[derive(Clone, Debug)]
pub(crate) enum Buffer {
    /// The whole message is valid UTF-8.
    Text(String),
    /// The message has invalid UTF-8 somewhere (often a binary body).
    Mixed {
        raw: Vec<u8>,
        /// `raw[..head.len()]` with invalid bytes replaced by `?`.
        head: Box<str>,
    },
}

impl Buffer {
    /// Takes ownership of `raw`; `head_end` is where the headers end, the
    /// part that needs a textual view.
    pub(crate) fn new(raw: Vec<u8>, head_end: usize) -> Buffer {
        match String::from_utf8(raw) {
            Ok(s) => Buffer::Text(s),
            Err(e) => {
                let raw = e.into_bytes();
                let head = sanitize(raw.get(..head_end).unwrap_or(&raw));
                Buffer::Mixed { raw, head }
            }
        }
    }

    /// The exact bytes received.
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Buffer::Text(s) => s.as_bytes(),
            Buffer::Mixed { raw, .. } => raw,
        }
    }

    /// Text in which every offset up to the end of the headers is valid.
    pub(crate) fn text(&self) -> &str {
        match self {
            Buffer::Text(s) => s,
            Buffer::Mixed { head, .. } => head,
        }
    }
}

/// Copies `b`, replacing each byte of an invalid UTF-8 sequence by `?`.
fn sanitize(b: &[u8]) -> Box<str> {
    let mut out = String::with_capacity(b.len());
    let mut rest = b;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(good).unwrap_or_default());
                let n = e.error_len().unwrap_or(bad.len()).max(1).min(bad.len());
                out.extend(std::iter::repeat_n('?', n));
                rest = &bad[n..];
            }
        }
    }
    out.into_boxed_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_text_is_moved_not_copied() {
        let v = b"abc".to_vec();
        let ptr = v.as_ptr();
        let b = Buffer::new(v, 3);
        assert!(matches!(b, Buffer::Text(_)));
        assert_eq!(b.bytes().as_ptr(), ptr);
        assert_eq!(b.text(), "abc");
    }

    #[test]
    fn invalid_bytes_keep_offsets() {
        let raw = b"From: \xe9l\xe8ve\r\n\r\n\xff\x00body".to_vec();
        let head_end = 15;
        let b = Buffer::new(raw.clone(), head_end);
        assert_eq!(b.bytes(), &raw[..]);
        assert_eq!(b.text(), "From: ?l?ve\r\n\r\n");
        assert_eq!(b.text().len(), head_end);
        assert_eq!(sanitize(b"\xe2\x82"), "??".into());
    }
}
