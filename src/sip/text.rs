//! Lexical helpers shared by every part of the SIP parser.
//!
//! SIP's grammar (RFC 3261 §25) is mostly about tokens, linear white space,
//! quoted strings, `<...>` brackets, comma lists and `;name=value`
//! parameters. Keeping those rules in one place means the header scanner,
//! the URI parser and the typed views agree on them, and the rules that are
//! easy to get wrong (commas inside quotes or brackets, white space around
//! `=`, folded lines) are fixed once.
//!
//! Everything here works on bytes and offsets, never allocates and never
//! indexes out of bounds.

use super::span::Span;

/// Character classes, looked up in one table: the byte loops over names,
/// hosts and tokens run for every header of every message, and a table
/// lookup is cheaper than a chain of range comparisons.
const TOKEN: u8 = 1;
const HOST: u8 = 2;
const WS: u8 = 4;
const IPV6: u8 = 8;
/// Bytes that matter when splitting a comma list: `" < > ( ) ,`.
const LIST_SPECIAL: u8 = 16;
/// Bytes that end a parameter name: white space and `; = ? " < > ,`.
const PARAM_NAME_END: u8 = 32;
/// Bytes that end an unquoted parameter value: white space and `;`.
const PARAM_VALUE_END: u8 = 64;

const CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let alnum = b.is_ascii_alphanumeric();
        let mut c = 0;
        if alnum
            || matches!(
                b,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            )
        {
            c |= TOKEN;
        }
        if alnum || matches!(b, b'-' | b'.' | b'_') {
            c |= HOST;
        }
        if matches!(b, b' ' | b'\t' | b'\r' | b'\n') {
            c |= WS;
        }
        if b.is_ascii_hexdigit() || matches!(b, b':' | b'.') {
            c |= IPV6;
        }
        if matches!(b, b'"' | b'<' | b'>' | b'(' | b')' | b',') {
            c |= LIST_SPECIAL;
        }
        let ws = matches!(b, b' ' | b'\t' | b'\r' | b'\n');
        if ws || matches!(b, b';' | b'=' | b'?' | b'"' | b'<' | b'>' | b',') {
            c |= PARAM_NAME_END;
        }
        if ws || b == b';' {
            c |= PARAM_VALUE_END;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// White space as the parser sees it once lines are joined: SP, HTAB and the
/// CR/LF left inside a folded header value (RFC 3261 §7.3.1 LWS).
#[inline]
pub(crate) const fn is_ws(b: u8) -> bool {
    CLASSES[b as usize] & WS != 0
}

/// RFC 3261 `token` characters.
#[inline]
pub(crate) const fn is_token(b: u8) -> bool {
    CLASSES[b as usize] & TOKEN != 0
}

/// Characters of a host name or IPv4 address. The underscore is not in the
/// grammar but is common enough in real deployments to be accepted.
#[inline]
pub(crate) const fn is_host_char(b: u8) -> bool {
    CLASSES[b as usize] & HOST != 0
}

/// Characters inside an IPv6 reference `[...]` (hex digits, colons, and the
/// dots of an embedded IPv4 tail).
#[inline]
pub(crate) const fn is_ipv6_char(b: u8) -> bool {
    CLASSES[b as usize] & IPV6 != 0
}

/// First index at or after `i` (and before `end`) that is not white space.
pub(crate) fn skip_ws(b: &[u8], mut i: usize, end: usize) -> usize {
    let end = end.min(b.len());
    while i < end && is_ws(b[i]) {
        i += 1;
    }
    i
}

/// Same as [`skip_ws`] but only SP and HTAB: used on a single physical line.
pub(crate) fn skip_blank(b: &[u8], mut i: usize, end: usize) -> usize {
    let end = end.min(b.len());
    while i < end && matches!(b[i], b' ' | b'\t') {
        i += 1;
    }
    i
}

/// `start..end` with white space removed from both ends.
pub(crate) fn trim(b: &[u8], start: usize, end: usize) -> (usize, usize) {
    let end = end.min(b.len());
    // An inverted range gives an empty one, so callers can slice the result.
    let s = skip_ws(b, start.min(end), end);
    let mut e = end;
    while e > s && is_ws(b[e - 1]) {
        e -= 1;
    }
    (s, e)
}

/// Index just past the token starting at `i`.
pub(crate) fn token_end(b: &[u8], mut i: usize, end: usize) -> usize {
    let end = end.min(b.len());
    while i < end && is_token(b[i]) {
        i += 1;
    }
    i
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte of `x` that is zero. Borrows can only create
/// false marks above a true one, so the lowest mark is exact.
#[inline]
const fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(LO) & !x & HI
}

/// Shared word-at-a-time search: position of the first byte at or after
/// `from` for which `marks` (applied to 8 bytes read little-endian) sets a
/// high bit, or that `scalar` accepts in the tail.
#[inline]
fn search(
    hay: &[u8],
    from: usize,
    marks: impl Fn(u64) -> u64,
    scalar: impl Fn(u8) -> bool,
) -> Option<usize> {
    let rest = hay.get(from..)?;
    let mut chunks = rest.chunks_exact(8);
    let mut base = from;
    for chunk in &mut chunks {
        let Ok(word) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let m = marks(u64::from_le_bytes(word));
        if m != 0 {
            return Some(base + (m.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| scalar(b))
        .map(|p| base + p)
}

/// Position of the first `needle` at or after `from`.
///
/// This runs over every line of every message, so it compares eight bytes
/// at a time with the classic "has zero byte" bit trick instead of a byte
/// loop; it is plain safe code, no SIMD intrinsics.
pub(crate) fn find_byte(hay: &[u8], from: usize, needle: u8) -> Option<usize> {
    let pattern = LO.wrapping_mul(u64::from(needle));
    search(hay, from, |w| zero_bytes(w ^ pattern), |b| b == needle)
}

/// Position of the first LF or NUL at or after `from`: the scanner looks for
/// line ends and rejects NUL bytes in the same pass.
pub(crate) fn find_lf_or_nul(hay: &[u8], from: usize) -> Option<usize> {
    let lf = LO.wrapping_mul(u64::from(b'\n'));
    search(
        hay,
        from,
        |w| zero_bytes(w ^ lf) | zero_bytes(w),
        |b| b == b'\n' || b == 0,
    )
}

/// Position of the first SP or HTAB in `from..end`.
pub(crate) fn find_blank(hay: &[u8], from: usize, end: usize) -> Option<usize> {
    let hay = hay.get(..end.min(hay.len()))?;
    let sp = LO.wrapping_mul(u64::from(b' '));
    let ht = LO.wrapping_mul(u64::from(b'\t'));
    search(
        hay,
        from,
        |w| zero_bytes(w ^ sp) | zero_bytes(w ^ ht),
        |b| b == b' ' || b == b'\t',
    )
}

/// Position of the first `needle` in `from..end`, if any.
pub(crate) fn find_in(hay: &[u8], from: usize, end: usize, needle: u8) -> Option<usize> {
    let end = end.min(hay.len());
    if from >= end {
        return None;
    }
    find_byte(&hay[..end], from, needle)
}

/// Decimal digits only, at least one, no sign, no overflow.
pub(crate) fn parse_u32(b: &[u8]) -> Option<u32> {
    if b.is_empty() {
        return None;
    }
    let mut n: u32 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u32::from(c - b'0'))?;
    }
    Some(n)
}

/// Decimal port number.
pub(crate) fn parse_u16(b: &[u8]) -> Option<u16> {
    parse_u32(b).and_then(|n| u16::try_from(n).ok())
}

/// Index just past the quoted string whose opening quote is at `i`, honouring
/// backslash escapes. An unterminated string runs to `end`.
pub(crate) fn skip_quoted(b: &[u8], i: usize, end: usize) -> usize {
    let end = end.min(b.len());
    let mut j = i + 1;
    while j < end {
        match b[j] {
            b'\\' => j += 2,
            b'"' => return j + 1,
            _ => j += 1,
        }
    }
    end
}

/// Splits a header value into its comma-separated elements (RFC 3261 §7.3.1),
/// yielding trimmed spans and skipping empty elements. Commas inside quoted
/// strings, `<...>` and `(comments)` do not split.
#[derive(Clone, Debug)]
pub(crate) struct CommaSplit<'a> {
    b: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> CommaSplit<'a> {
    pub(crate) fn new(b: &'a [u8], span: Span) -> CommaSplit<'a> {
        CommaSplit {
            b,
            pos: span.start(),
            end: span.end().min(b.len()),
        }
    }
}

impl Iterator for CommaSplit<'_> {
    type Item = Span;

    fn next(&mut self) -> Option<Span> {
        while self.pos < self.end {
            let b = self.b;
            let start = self.pos;
            let mut i = start;
            let mut in_angle = false;
            let mut comment_depth = 0u32;
            while i < self.end {
                // Most bytes are ordinary: skip them in a tight loop.
                let ordinary = b[i..self.end]
                    .iter()
                    .position(|&c| CLASSES[c as usize] & LIST_SPECIAL != 0);
                match ordinary {
                    Some(n) => i += n,
                    None => {
                        i = self.end;
                        break;
                    }
                }
                match b[i] {
                    b'"' => {
                        i = skip_quoted(b, i, self.end);
                        continue;
                    }
                    b'<' => in_angle = true,
                    b'>' => in_angle = false,
                    b'(' if !in_angle => comment_depth += 1,
                    b')' if !in_angle => comment_depth = comment_depth.saturating_sub(1),
                    b',' if !in_angle && comment_depth == 0 => break,
                    _ => {}
                }
                i += 1;
            }
            self.pos = i + 1;
            let (s, e) = trim(b, start, i);
            if s < e {
                return Some(Span::of(s, e));
            }
        }
        None
    }
}

/// Walks a `;name[=value]` parameter list (RFC 3261 `generic-param`),
/// tolerating white space around `;` and `=` and keeping quoted values whole.
/// It stops at the first byte that cannot continue the list; `stopped_at`
/// tells where.
#[derive(Clone, Debug)]
pub(crate) struct ParamSpans<'a> {
    b: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> ParamSpans<'a> {
    pub(crate) fn new(b: &'a [u8], span: Span) -> ParamSpans<'a> {
        ParamSpans {
            b,
            pos: span.start(),
            end: span.end().min(b.len()),
        }
    }

    /// Offset where the walk ended (after the last parameter, or at the
    /// first byte that is not part of the list).
    pub(crate) fn stopped_at(&self) -> usize {
        self.pos
    }
}

const fn is_param_char(b: u8) -> bool {
    CLASSES[b as usize] & PARAM_NAME_END == 0
}

impl Iterator for ParamSpans<'_> {
    type Item = (Span, Option<Span>);

    fn next(&mut self) -> Option<(Span, Option<Span>)> {
        let b = self.b;
        let end = self.end;
        loop {
            let i = skip_ws(b, self.pos, end);
            if i >= end || b[i] != b';' {
                // Leave `pos` on the stopping byte, or at the end of the
                // last parameter when nothing follows it.
                if i < end {
                    self.pos = i;
                }
                return None;
            }
            let mut j = skip_ws(b, i + 1, end);
            let name_start = j;
            while j < end && is_param_char(b[j]) {
                j += 1;
            }
            let name_end = j;
            let after_name = skip_ws(b, j, end);
            let mut value = None;
            if after_name < end && b[after_name] == b'=' {
                let vs = skip_ws(b, after_name + 1, end);
                let mut k = vs;
                if k < end && b[k] == b'"' {
                    k = skip_quoted(b, k, end);
                } else {
                    while k < end && CLASSES[b[k] as usize] & PARAM_VALUE_END == 0 {
                        k += 1;
                    }
                }
                value = Some(Span::of(vs, k));
                j = k;
            }
            self.pos = j;
            if name_start < name_end {
                return Some((Span::of(name_start, name_end), value));
            }
            // An empty name (";;" or a stray ";") carries nothing: skip it.
        }
    }
}

/// One `name[=value]` parameter as text. A value-less parameter (`lr`,
/// `rport`) has `value == None`; `name=` has `Some("")`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param<'a> {
    /// Parameter name as written.
    pub name: &'a str,
    /// Parameter value as written (quotes kept), if there is an `=`.
    pub value: Option<&'a str>,
}

/// Iterator over the `;name=value` parameters of a URI or header value.
#[derive(Clone, Debug)]
pub struct Params<'a> {
    src: &'a str,
    inner: ParamSpans<'a>,
}

impl<'a> Params<'a> {
    pub(crate) fn new(src: &'a str, span: Span) -> Params<'a> {
        Params {
            src,
            inner: ParamSpans::new(src.as_bytes(), span),
        }
    }

    /// Parses a standalone parameter list such as `;lr;transport=tcp`.
    pub fn parse(text: &'a str) -> Params<'a> {
        Params::new(text, Span::of(0, text.len()))
    }

    /// Value of the first parameter named `name` (ASCII case-insensitive):
    /// `None` if absent, `Some(None)` if present without a value.
    pub fn find(self, name: &str) -> Option<Option<&'a str>> {
        let mut this = self;
        this.find_map(|p| p.name.eq_ignore_ascii_case(name).then_some(p.value))
    }
}

impl<'a> Iterator for Params<'a> {
    type Item = Param<'a>;

    fn next(&mut self) -> Option<Param<'a>> {
        let (n, v) = self.inner.next()?;
        Some(Param {
            name: n.get(self.src),
            value: v.map(|v| v.get(self.src)),
        })
    }
}

/// Splits a header value into its comma-separated elements; commas inside
/// quoted strings, `<...>` and comments do not split, empty elements are
/// skipped and each element is trimmed.
pub fn split_commas(value: &str) -> impl Iterator<Item = &str> + '_ {
    CommaSplit::new(value.as_bytes(), Span::of(0, value.len())).map(move |s| s.get(value))
}

/// The inside of a quoted string (`"a b"` gives `a b`, escapes kept as
/// written); anything else is returned unchanged.
pub fn unquote(s: &str) -> &str {
    let b = s.as_bytes();
    if b.len() >= 2 && b[0] == b'"' && b[b.len() - 1] == b'"' {
        s.get(1..s.len() - 1).unwrap_or(s)
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_byte_matches_naive_search() {
        let hay: Vec<u8> = (0u8..=255).chain(0u8..40).collect();
        for needle in [0u8, 1, 10, 13, 127, 128, 200, 255] {
            for from in 0..hay.len() {
                let naive = hay[from..]
                    .iter()
                    .position(|&b| b == needle)
                    .map(|p| p + from);
                assert_eq!(find_byte(&hay, from, needle), naive, "{needle} from {from}");
            }
        }
        assert_eq!(find_byte(b"abc", 10, b'a'), None);
        for from in 0..hay.len() {
            let naive = hay[from..]
                .iter()
                .position(|&b| b == 0 || b == b'\n')
                .map(|p| p + from);
            assert_eq!(find_lf_or_nul(&hay, from), naive);
        }
        assert_eq!(find_lf_or_nul(b"0123456789\0\n", 3), Some(10));
        assert_eq!(find_blank(b"sip:abcdefghijkl\tx y", 0, 21), Some(16));
        assert_eq!(find_blank(b"sip:abcdefghijkl\tx y", 0, 16), None);
        assert_eq!(find_blank(b"a b", 2, 99), None);
        assert_eq!(find_in(b"abcabc", 1, 3, b'a'), None);
        assert_eq!(find_in(b"abcabc", 1, 4, b'a'), Some(3));
    }

    #[test]
    fn classes_match_the_grammar() {
        for b in 0..=255u8 {
            let token = b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b);
            assert_eq!(is_token(b), token, "{b}");
            assert_eq!(is_ws(b), b" \t\r\n".contains(&b), "{b}");
            assert_eq!(
                is_host_char(b),
                b.is_ascii_alphanumeric() || b"-._".contains(&b)
            );
            assert_eq!(is_ipv6_char(b), b.is_ascii_hexdigit() || b":.".contains(&b));
            let ws = b" \t\r\n".contains(&b);
            assert_eq!(is_param_char(b), !ws && !b";=?\"<>,".contains(&b));
            let special = CLASSES[b as usize] & LIST_SPECIAL != 0;
            assert_eq!(special, b"\"<>(),".contains(&b));
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u32(b"0"), Some(0));
        assert_eq!(parse_u32(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_u32(b"4294967296"), None);
        assert_eq!(parse_u32(b"-1"), None);
        assert_eq!(parse_u32(b""), None);
        assert_eq!(parse_u32(b"1 2"), None);
        assert_eq!(parse_u16(b"65535"), Some(65535));
        assert_eq!(parse_u16(b"65536"), None);
    }

    #[test]
    fn comma_split_respects_quotes_brackets_and_comments() {
        let v = r#""Doe, John" <sip:j@h;a=1,b>;q=0.5 , <sip:x@y>,,  sip:z@w (a, b) "#;
        let parts: Vec<&str> = split_commas(v).collect();
        assert_eq!(
            parts,
            vec![
                r#""Doe, John" <sip:j@h;a=1,b>;q=0.5"#,
                "<sip:x@y>",
                "sip:z@w (a, b)"
            ]
        );
        let esc = r#""a\",b", c"#;
        assert_eq!(
            split_commas(esc).collect::<Vec<_>>(),
            vec![r#""a\",b""#, "c"]
        );
        assert_eq!(split_commas(" , ,").count(), 0);
        assert_eq!(split_commas(r#""unterminated, x"#).count(), 1);
    }

    #[test]
    fn params_tolerate_white_space_and_quotes() {
        let p: Vec<Param> = Params::parse(" ; branch = z9hG4bK1 ;rport; x=\"a;b\" ;;lr").collect();
        assert_eq!(p.len(), 4);
        assert_eq!(
            p[0],
            Param {
                name: "branch",
                value: Some("z9hG4bK1")
            }
        );
        assert_eq!(
            p[1],
            Param {
                name: "rport",
                value: None
            }
        );
        assert_eq!(
            p[2],
            Param {
                name: "x",
                value: Some("\"a;b\"")
            }
        );
        assert_eq!(p[3].name, "lr");
        assert_eq!(Params::parse(";a=1;B=2").find("b"), Some(Some("2")));
        assert_eq!(Params::parse(";a").find("a"), Some(None));
        assert_eq!(Params::parse(";a").find("c"), None);
    }

    #[test]
    fn params_stop_at_foreign_bytes() {
        let s = ";a=1 (comment)";
        let mut it = ParamSpans::new(s.as_bytes(), Span::of(0, s.len()));
        assert!(it.next().is_some());
        assert!(it.next().is_none());
        assert_eq!(&s[it.stopped_at()..], "(comment)");
    }

    #[test]
    fn trimming_and_unquote() {
        assert_eq!(trim(b"  a b \r\n", 0, 8), (2, 5));
        assert_eq!(trim(b"   ", 0, 3), (3, 3));
        assert_eq!(trim(b"abc", 2, 1), (1, 1));
        assert_eq!(trim(b"abc", 9, 99), (3, 3));
        assert_eq!(unquote("\"x y\""), "x y");
        assert_eq!(unquote("\""), "\"");
        assert_eq!(unquote("plain"), "plain");
    }
}
