//! `name-addr` / `addr-spec` values: From, To, Contact, Route, Record-Route.
//!
//! These headers share one shape (RFC 3261 §20.10, §25.1):
//! `["Display Name"] <uri> ;params` or `uri ;params`. Parameters after an
//! addr-spec without angle brackets belong to the header, not to the URI,
//! which is why `sip:a@b;tag=1` has a tag and a URI without parameters.
//! Display names may be quoted (with commas, `<` and escaped quotes inside)
//! or plain tokens.

use super::error::ViewError;
use super::span::Span;
use super::text::{find_in, parse_u32, skip_quoted, skip_ws, trim, ParamSpans, Params};
use super::uri::{parse_uri, Uri, UriParts};

/// Offsets of one name-addr value's parts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct NameAddrParts {
    pub(crate) all: Span,
    /// Display name without its quotes.
    pub(crate) display: Option<Span>,
    /// Display name as written.
    pub(crate) display_raw: Option<Span>,
    pub(crate) angle: bool,
    pub(crate) uri: UriParts,
    /// Header parameters, from the first `;` to the end of the value.
    pub(crate) params: Span,
    pub(crate) tag: Option<Span>,
}

const fn malformed(what: &'static str) -> ViewError {
    ViewError::Malformed(what)
}

/// Parses one name-addr or addr-spec value in `text[start..end]`.
pub(crate) fn parse_name_addr(
    text: &str,
    start: usize,
    end: usize,
) -> Result<NameAddrParts, ViewError> {
    let b = text.as_bytes();
    let (start, end) = trim(b, start, end);
    if start >= end {
        return Err(malformed("address: empty"));
    }
    let mut p = NameAddrParts {
        all: Span::of(start, end),
        ..NameAddrParts::default()
    };
    // Find `<` outside quoted strings; an unquoted `;` before any `<` means
    // this is an addr-spec followed by parameters.
    let mut i = start;
    let mut lt = None;
    while i < end {
        match b[i] {
            b'"' => {
                i = skip_quoted(b, i, end);
                continue;
            }
            b'<' => {
                lt = Some(i);
                break;
            }
            b';' => break,
            _ => {}
        }
        i += 1;
    }
    let params_start = if let Some(lt) = lt {
        p.angle = true;
        let (ds, de) = trim(b, start, lt);
        if ds < de {
            p.display_raw = Some(Span::of(ds, de));
            if b[ds] == b'"' {
                if skip_quoted(b, ds, de) != de || de - ds < 2 || b[de - 1] != b'"' {
                    return Err(malformed("address: display name"));
                }
                p.display = Some(Span::of(ds + 1, de - 1));
            } else {
                p.display = Some(Span::of(ds, de));
            }
        }
        let gt = find_in(b, lt + 1, end, b'>').ok_or(malformed("address: unclosed <"))?;
        let (us, ue) = trim(b, lt + 1, gt);
        p.uri = parse_uri(text, us, ue)?;
        gt + 1
    } else {
        let (us, ue) = trim(b, start, i);
        p.uri = parse_uri(text, us, ue)?;
        i
    };
    let ps = skip_ws(b, params_start, end);
    let mut it = ParamSpans::new(b, Span::of(ps, end));
    let mut params_end = ps;
    for (name, value) in it.by_ref() {
        params_end = value.map_or(name.end(), |v| v.end());
        if p.tag.is_none() && name.bytes(b).eq_ignore_ascii_case(b"tag") {
            p.tag = Some(value.ok_or(malformed("address: tag without value"))?);
        }
    }
    if skip_ws(b, it.stopped_at(), end) < end {
        return Err(malformed("address: bytes after parameters"));
    }
    p.params = Span::of(ps, params_end);
    Ok(p)
}

/// Parses an RFC 3261 qvalue (`0`, `0.5`, `1.000`) into thousandths.
pub(crate) fn parse_q(s: &str) -> Option<u16> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let whole = match int {
        "0" => 0,
        "1" => 1000,
        _ => return None,
    };
    if frac.len() > 3 {
        return None;
    }
    let mut thousandths = 0u16;
    for (i, c) in frac.bytes().enumerate() {
        if !c.is_ascii_digit() {
            return None;
        }
        thousandths += u16::from(c - b'0') * [100, 10, 1][i];
    }
    let q = whole + thousandths;
    (q <= 1000).then_some(q)
}

/// A name-addr value borrowed from some text.
#[derive(Clone, Copy, Debug)]
pub struct NameAddr<'a> {
    pub(crate) src: &'a str,
    pub(crate) p: NameAddrParts,
}

impl<'a> NameAddr<'a> {
    /// Parses one standalone value (not a comma list).
    pub fn parse(text: &'a str) -> Result<NameAddr<'a>, ViewError> {
        Ok(NameAddr {
            src: text,
            p: parse_name_addr(text, 0, text.len())?,
        })
    }

    /// The whole value.
    pub fn as_str(&self) -> &'a str {
        self.p.all.get(self.src)
    }

    /// Where the whole value is, relative to the text it was parsed from.
    pub fn span(&self) -> Span {
        self.p.all
    }

    /// Display name without surrounding quotes (escapes kept as written).
    pub fn display_name(&self) -> Option<&'a str> {
        self.p.display.map(|s| s.get(self.src))
    }

    /// Display name as written, quotes included.
    pub fn display_name_raw(&self) -> Option<&'a str> {
        self.p.display_raw.map(|s| s.get(self.src))
    }

    /// Whether the URI was written inside `<...>`.
    pub fn has_angle_brackets(&self) -> bool {
        self.p.angle
    }

    /// The URI.
    pub fn uri(&self) -> Uri<'a> {
        Uri {
            src: self.src,
            p: self.p.uri,
        }
    }

    /// The URI text.
    pub fn uri_str(&self) -> &'a str {
        self.p.uri.all.get(self.src)
    }

    /// The header parameters (after the URI), leading `;` included.
    pub fn params_str(&self) -> &'a str {
        self.p.params.get(self.src)
    }

    /// Header parameters.
    pub fn params(&self) -> Params<'a> {
        Params::new(self.src, self.p.params)
    }

    /// Value of a header parameter: `None` if absent, `Some("")` if
    /// value-less.
    pub fn param(&self, name: &str) -> Option<&'a str> {
        self.params().find(name).map(|v| v.unwrap_or(""))
    }

    /// `tag` parameter (From/To).
    pub fn tag(&self) -> Option<&'a str> {
        self.p.tag.map(|s| s.get(self.src))
    }

    /// Contact `q` parameter in thousandths (`q=0.5` is 500), if valid.
    pub fn q_millis(&self) -> Option<u16> {
        self.param("q").and_then(parse_q)
    }

    /// Contact `expires` parameter in seconds, if a valid number.
    pub fn expires(&self) -> Option<u32> {
        self.param("expires").and_then(|e| parse_u32(e.as_bytes()))
    }
}

/// A list of name-addr values (Route, Record-Route, Contact, Path, ...),
/// borrowed from the message, in order across header lines.
#[derive(Clone, Copy, Debug)]
pub struct NameAddrList<'a> {
    pub(crate) src: &'a str,
    pub(crate) items: &'a [NameAddrParts],
}

impl<'a> NameAddrList<'a> {
    /// Number of values.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there is no value.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The value at `i`.
    pub fn get(&self, i: usize) -> Option<NameAddr<'a>> {
        let p = *self.items.get(i)?;
        Some(NameAddr { src: self.src, p })
    }

    /// The first value (the top route).
    pub fn first(&self) -> Option<NameAddr<'a>> {
        self.get(0)
    }

    /// The last value.
    pub fn last(&self) -> Option<NameAddr<'a>> {
        self.items.len().checked_sub(1).and_then(|i| self.get(i))
    }

    /// The values in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = NameAddr<'a>> + 'a {
        let src = self.src;
        self.items.iter().map(move |p| NameAddr { src, p: *p })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn na(s: &str) -> NameAddr<'_> {
        match NameAddr::parse(s) {
            Ok(v) => v,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn quoted_display_name_with_specials() {
        let a = na(r#" "Doe, John \"JD\" <x>" <sip:john@example.com;transport=tcp>;tag=abc;x=1 "#);
        assert_eq!(a.display_name(), Some(r#"Doe, John \"JD\" <x>"#));
        assert_eq!(a.display_name_raw(), Some(r#""Doe, John \"JD\" <x>""#));
        assert_eq!(a.uri_str(), "sip:john@example.com;transport=tcp");
        assert_eq!(a.uri().transport(), Some("tcp"));
        assert_eq!(a.tag(), Some("abc"));
        assert_eq!(a.param("x"), Some("1"));
        assert!(a.has_angle_brackets());
        assert_eq!(a.params_str(), ";tag=abc;x=1");
    }

    #[test]
    fn token_display_name_and_bare_brackets() {
        let a = na("Bob Smith <sips:bob@biloxi.example.com>");
        assert_eq!(a.display_name(), Some("Bob Smith"));
        assert_eq!(a.tag(), None);
        let a = na("<sip:p1.example.com;lr>");
        assert_eq!(a.display_name(), None);
        assert!(a.uri().lr());
    }

    #[test]
    fn addr_spec_params_belong_to_the_header() {
        let a = na("sip:alice@atlanta.example.com;tag=1928301774");
        assert!(!a.has_angle_brackets());
        assert_eq!(a.uri_str(), "sip:alice@atlanta.example.com");
        assert_eq!(a.uri().params().count(), 0);
        assert_eq!(a.tag(), Some("1928301774"));
        let t = na("tel:+15551234;tag=9");
        assert_eq!(t.uri().user(), Some("+15551234"));
        assert_eq!(t.tag(), Some("9"));
    }

    #[test]
    fn contact_params() {
        let c = na("<sip:u@192.0.2.4:5062>;q=0.7;expires=3600;+sip.instance=\"<urn:uuid:1>\"");
        assert_eq!(c.q_millis(), Some(700));
        assert_eq!(c.expires(), Some(3600));
        assert_eq!(c.param("+sip.instance"), Some("\"<urn:uuid:1>\""));
        assert_eq!(parse_q("1"), Some(1000));
        assert_eq!(parse_q("1.000"), Some(1000));
        assert_eq!(parse_q("0.05"), Some(50));
        assert_eq!(parse_q("1.5"), None);
        assert_eq!(parse_q("0.1234"), None);
        assert_eq!(parse_q("2"), None);
        assert_eq!(parse_q(""), None);
    }

    #[test]
    fn malformed_addresses() {
        for bad in [
            "",
            "<sip:a@b",
            "\"unterminated <sip:a@b>",
            "Name <>",
            "<sip:a@b> junk",
            "<sip:a@b>;tag",
            "not a uri",
        ] {
            assert!(NameAddr::parse(bad).is_err(), "{bad:?}");
        }
    }
}
