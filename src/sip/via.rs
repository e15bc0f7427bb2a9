//! One Via value (RFC 3261 §20.42, RFC 3581) as a view over text.
//!
//! Via decides where replies go, so it is read for every message a proxy
//! handles. The parser accepts the white space RFC 3261 allows around `/`,
//! `:`, `;` and `=` (which stricter parsers reject), IPv6 sent-by hosts in
//! brackets, value-less `rport`, and trailing comments. The positions of
//! `received` and `rport` are kept so that RFC 3581 edits can be recorded
//! at the right byte.

use std::net::IpAddr;

use super::error::ViewError;
use super::span::Span;
use super::text::{
    find_in, is_host_char, is_ipv6_char, parse_u16, skip_ws, token_end, trim, ParamSpans, Params,
};
use super::uri::host_to_ip;

/// Offsets of one Via value's parts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ViaParts {
    pub(crate) all: Span,
    pub(crate) protocol: Span,
    pub(crate) version: Span,
    pub(crate) transport: Span,
    pub(crate) host: Span,
    pub(crate) port: Option<u16>,
    /// Host through port, as written.
    pub(crate) sent_by: Span,
    /// The parameter list, from its first `;` to the end of its last value.
    pub(crate) params: Span,
    pub(crate) branch: Option<Span>,
    pub(crate) received: Option<Span>,
    /// Name of the `rport` parameter (where `=port` goes when it is empty).
    pub(crate) rport_name: Option<Span>,
    pub(crate) rport_value: Option<Span>,
    pub(crate) rport: Option<u16>,
    pub(crate) maddr: Option<Span>,
    pub(crate) ttl: Option<u8>,
}

const fn malformed(what: &'static str) -> ViewError {
    ViewError::Malformed(what)
}

/// Expects `/` at `i` (after optional white space) and returns the index of
/// the next non-white byte after it.
fn slash(b: &[u8], i: usize, end: usize) -> Result<usize, ViewError> {
    let i = skip_ws(b, i, end);
    if i < end && b[i] == b'/' {
        Ok(skip_ws(b, i + 1, end))
    } else {
        Err(malformed("Via: sent-protocol"))
    }
}

/// Whether `b[start..end]` has a `;` followed (after white space) by
/// another `;` or by nothing, outside quoted strings.
fn has_empty_param(b: &[u8], start: usize, end: usize) -> bool {
    let mut i = start;
    let mut quoted = false;
    while i < end {
        match b[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b';' if !quoted => {
                let next = skip_ws(b, i + 1, end);
                if next >= end || b[next] == b';' {
                    return true;
                }
            }
            _ => {}
        }
        i += 1;
    }
    false
}

/// Parses one Via value (one comma element) in `text[start..end]`.
pub(crate) fn parse_via(text: &str, start: usize, end: usize) -> Result<ViaParts, ViewError> {
    let b = text.as_bytes();
    let (start, end) = trim(b, start, end);
    let mut p = ViaParts {
        all: Span::of(start, end),
        ..ViaParts::default()
    };
    let pe = token_end(b, start, end);
    if pe == start {
        return Err(malformed("Via: protocol name"));
    }
    p.protocol = Span::of(start, pe);
    let vs = slash(b, pe, end)?;
    let ve = token_end(b, vs, end);
    let ts = slash(b, ve, end)?;
    let te = token_end(b, ts, end);
    if ve == vs || te == ts {
        return Err(malformed("Via: sent-protocol"));
    }
    p.version = Span::of(vs, ve);
    p.transport = Span::of(ts, te);

    let hs = skip_ws(b, te, end);
    if hs == te {
        return Err(malformed("Via: no space before sent-by"));
    }
    let mut i = hs;
    if i < end && b[i] == b'[' {
        let close = find_in(b, i, end, b']').ok_or(malformed("Via: unclosed IPv6 reference"))?;
        if close == i + 1 || !b[i + 1..close].iter().all(|&c| is_ipv6_char(c)) {
            return Err(malformed("Via: IPv6 reference"));
        }
        i = close + 1;
    } else {
        while i < end && is_host_char(b[i]) {
            i += 1;
        }
        if i == hs {
            return Err(malformed("Via: host"));
        }
    }
    p.host = Span::of(hs, i);
    let mut sent_by_end = i;
    let c = skip_ws(b, i, end);
    if c < end && b[c] == b':' {
        let ps = skip_ws(b, c + 1, end);
        let mut pe = ps;
        while pe < end && b[pe].is_ascii_digit() {
            pe += 1;
        }
        p.port = Some(parse_u16(&b[ps..pe]).ok_or(malformed("Via: port"))?);
        sent_by_end = pe;
    }
    p.sent_by = Span::of(hs, sent_by_end);

    let params_start = skip_ws(b, sent_by_end, end);
    // `;;` or a `;` with nothing after it: a via-param is `;` and a token
    // (RFC 4475 §3.1.2.1 sends `;;,;,,`). The parameter walk skips such
    // empties, so they are looked for here.
    if has_empty_param(b, params_start, end) {
        return Err(malformed("Via: empty parameter"));
    }
    let mut params_end = params_start;
    let mut it = ParamSpans::new(b, Span::of(params_start, end));
    for (name, value) in it.by_ref() {
        params_end = value.map_or(name.end(), |v| v.end());
        let n = name.bytes(b);
        if n.eq_ignore_ascii_case(b"branch") {
            p.branch = Some(value.ok_or(malformed("Via: branch without value"))?);
        } else if n.eq_ignore_ascii_case(b"received") {
            p.received = Some(value.ok_or(malformed("Via: received without value"))?);
        } else if n.eq_ignore_ascii_case(b"rport") {
            p.rport_name = Some(name);
            p.rport_value = value;
            if let Some(v) = value {
                p.rport = Some(parse_u16(v.bytes(b)).ok_or(malformed("Via: rport"))?);
            }
        } else if n.eq_ignore_ascii_case(b"maddr") {
            p.maddr = Some(value.ok_or(malformed("Via: maddr without value"))?);
        } else if n.eq_ignore_ascii_case(b"ttl") {
            let v = value.ok_or(malformed("Via: ttl without value"))?;
            p.ttl = Some(
                super::text::parse_u32(v.bytes(b))
                    .and_then(|t| u8::try_from(t).ok())
                    .ok_or(malformed("Via: ttl"))?,
            );
        }
    }
    // Only a comment may follow the parameters (RFC 3261 allows comments in
    // Via); anything else means the value is not a Via.
    let tail = skip_ws(b, it.stopped_at(), end);
    if tail < end && b[tail] != b'(' {
        return Err(malformed("Via: bytes after parameters"));
    }
    p.params = Span::of(params_start, params_end);
    Ok(p)
}

/// One Via value borrowed from some text.
#[derive(Clone, Copy, Debug)]
pub struct Via<'a> {
    pub(crate) src: &'a str,
    pub(crate) p: ViaParts,
}

impl<'a> Via<'a> {
    /// Parses one standalone Via value (not a comma list).
    pub fn parse(text: &'a str) -> Result<Via<'a>, ViewError> {
        Ok(Via {
            src: text,
            p: parse_via(text, 0, text.len())?,
        })
    }

    /// The whole value.
    pub fn as_str(&self) -> &'a str {
        self.p.all.get(self.src)
    }

    /// Where the value is, relative to the text it was parsed from.
    pub fn span(&self) -> Span {
        self.p.all
    }

    /// Protocol name, `SIP`.
    pub fn protocol(&self) -> &'a str {
        self.p.protocol.get(self.src)
    }

    /// Protocol version, `2.0`.
    pub fn version(&self) -> &'a str {
        self.p.version.get(self.src)
    }

    /// Transport: `UDP`, `TCP`, `TLS`, `SCTP`, `WS`, `WSS`, ...
    pub fn transport(&self) -> &'a str {
        self.p.transport.get(self.src)
    }

    /// Sent-by host as written (IPv6 keeps its brackets).
    pub fn host(&self) -> &'a str {
        self.p.host.get(self.src)
    }

    /// Sent-by host as an IP address, if it is one.
    pub fn host_ip(&self) -> Option<IpAddr> {
        host_to_ip(self.host())
    }

    /// Sent-by port, if written.
    pub fn port(&self) -> Option<u16> {
        self.p.port
    }

    /// Sent-by as written (`host[:port]`, inner white space kept).
    pub fn sent_by(&self) -> &'a str {
        self.p.sent_by.get(self.src)
    }

    /// `branch` parameter.
    pub fn branch(&self) -> Option<&'a str> {
        self.p.branch.map(|s| s.get(self.src))
    }

    /// `received` parameter.
    pub fn received(&self) -> Option<&'a str> {
        self.p.received.map(|s| s.get(self.src))
    }

    /// `rport` parameter: `None` if absent, `Some(None)` if present without
    /// a value (a client asking for RFC 3581 symmetric response routing),
    /// `Some(Some(port))` once filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.p.rport_name.map(|_| self.p.rport)
    }

    /// `maddr` parameter.
    pub fn maddr(&self) -> Option<&'a str> {
        self.p.maddr.map(|s| s.get(self.src))
    }

    /// `ttl` parameter.
    pub fn ttl(&self) -> Option<u8> {
        self.p.ttl
    }

    /// All parameters, in order.
    pub fn params(&self) -> Params<'a> {
        Params::new(self.src, self.p.params)
    }

    /// Value of a parameter: `None` if absent, `Some("")` if value-less.
    pub fn param(&self, name: &str) -> Option<&'a str> {
        self.params().find(name).map(|v| v.unwrap_or(""))
    }
}

/// Every Via value of a message, top first, across header lines.
#[derive(Clone, Copy, Debug)]
pub struct ViaList<'a> {
    pub(crate) src: &'a str,
    pub(crate) items: &'a [ViaParts],
}

impl<'a> ViaList<'a> {
    /// Number of Via values.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The value at `i` (0 is the top Via).
    pub fn get(&self, i: usize) -> Option<Via<'a>> {
        let p = *self.items.get(i)?;
        Some(Via { src: self.src, p })
    }

    /// The values in order, top first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = Via<'a>> + 'a {
        let src = self.src;
        self.items.iter().map(move |p| Via { src, p: *p })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn via(s: &str) -> Via<'_> {
        match Via::parse(s) {
            Ok(v) => v,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn plain_via() {
        let v = via("SIP/2.0/UDP pc33.atlanta.com:5066;branch=z9hG4bK776asdhds;received=192.0.2.1;rport=5070;maddr=224.2.0.1;ttl=16;x=y");
        assert_eq!(v.protocol(), "SIP");
        assert_eq!(v.version(), "2.0");
        assert_eq!(v.transport(), "UDP");
        assert_eq!(v.host(), "pc33.atlanta.com");
        assert_eq!(v.port(), Some(5066));
        assert_eq!(v.sent_by(), "pc33.atlanta.com:5066");
        assert_eq!(v.branch(), Some("z9hG4bK776asdhds"));
        assert_eq!(v.received(), Some("192.0.2.1"));
        assert_eq!(v.rport(), Some(Some(5070)));
        assert_eq!(v.maddr(), Some("224.2.0.1"));
        assert_eq!(v.ttl(), Some(16));
        assert_eq!(v.param("x"), Some("y"));
        assert_eq!(v.params().count(), 6);
        assert_eq!(v.params_end_for_test(), v.as_str().len());
    }

    impl Via<'_> {
        fn params_end_for_test(&self) -> usize {
            self.p.params.end()
        }
    }

    #[test]
    fn white_space_everywhere_rfc_allows_it() {
        let v = via("SIP / 2.0 / TCP  host.example.com : 5060 ; branch = z9hG4bKabc ; rport");
        assert_eq!(v.transport(), "TCP");
        assert_eq!(v.host(), "host.example.com");
        assert_eq!(v.port(), Some(5060));
        assert_eq!(v.sent_by(), "host.example.com : 5060");
        assert_eq!(v.branch(), Some("z9hG4bKabc"));
        assert_eq!(v.rport(), Some(None));
        let folded = via("SIP/2.0/UDP\r\n host;branch=z9hG4bK1");
        assert_eq!(folded.host(), "host");
    }

    #[test]
    fn ipv6_sent_by_and_comment() {
        let v = via(
            "SIP/2.0/TLS [2001:db8::9:1]:5061;branch=z9hG4bK2;received=2001:db8::9:255 (a comment)",
        );
        assert_eq!(v.host(), "[2001:db8::9:1]");
        assert!(v.host_ip().is_some_and(|ip| ip.is_ipv6()));
        assert_eq!(v.port(), Some(5061));
        assert_eq!(v.received(), Some("2001:db8::9:255"));
        let v = via("SIP/2.0/UDP [::1]");
        assert_eq!(v.port(), None);
        assert_eq!(v.rport(), None);
        assert_eq!(v.branch(), None);
    }

    #[test]
    fn malformed_vias() {
        for bad in [
            "",
            "SIP",
            "SIP/2.0",
            "SIP/2.0/UDP",
            "SIP/2.0/UDPhost",
            "SIP/2.0/ host",
            "SIP//UDP host",
            "SIP/2.0/UDP [::1",
            "SIP/2.0/UDP host:",
            "SIP/2.0/UDP host:70000",
            "SIP/2.0/UDP host;rport=x",
            "SIP/2.0/UDP host;branch",
            "SIP/2.0/UDP host;ttl=300",
            "SIP/2.0/UDP host junk",
            "SIP/2.0/UDP host;;",
            "SIP/2.0/UDP host;",
            "SIP/2.0/UDP host;;,;,,",
            "SIP/2.0/UDP :]",
        ] {
            assert!(Via::parse(bad).is_err(), "{bad:?}");
        }
    }
}
