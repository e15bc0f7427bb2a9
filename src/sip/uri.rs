//! SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966) as views over text.
//!
//! A URI is parsed into offsets ([`UriParts`]) that can be cached beside the
//! message and turned back into a [`Uri`] borrowing the message text at no
//! cost. Host names keep their IPv6 brackets (`[2001:db8::1]`) because that
//! is how they are written back; [`Uri::host_ip`] gives the address.
//! Schemes other than sip/sips/tel are accepted as opaque text so that a
//! `urn:` or `http:` URI in a header does not make the header unusable.

use std::net::IpAddr;

use super::error::ViewError;
use super::span::Span;
use super::text::{find_in, is_host_char, is_ipv6_char, parse_u16, Params};

/// URI scheme.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `sip:`
    Sip,
    /// `sips:`
    Sips,
    /// `tel:`
    Tel,
    /// Anything else (kept opaque).
    #[default]
    Other,
}

/// Offsets of a URI's parts within some text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct UriParts {
    pub(crate) all: Span,
    pub(crate) scheme: Scheme,
    pub(crate) user: Option<Span>,
    pub(crate) password: Option<Span>,
    pub(crate) host: Span,
    pub(crate) port: Option<u16>,
    /// From the first `;` after host and port up to `?` or the end.
    pub(crate) params: Span,
    /// After `?`.
    pub(crate) headers: Option<Span>,
}

const fn malformed(what: &'static str) -> ViewError {
    ViewError::Malformed(what)
}

/// Parses the URI in `text[start..end]` (already trimmed).
pub(crate) fn parse_uri(text: &str, start: usize, end: usize) -> Result<UriParts, ViewError> {
    let b = text.as_bytes();
    let end = end.min(b.len());
    if start >= end {
        return Err(malformed("URI: empty"));
    }
    // Written as a fold without early exit so that it vectorises.
    let bad = b[start..end]
        .iter()
        .fold(false, |bad, &c| bad | (c <= b' ') | (c == 0x7f));
    if bad {
        return Err(malformed("URI: white space or control byte"));
    }
    let colon = find_in(b, start, end, b':').ok_or(malformed("URI: no scheme"))?;
    let scheme_text = &b[start..colon];
    if scheme_text.is_empty()
        || !scheme_text[0].is_ascii_alphabetic()
        || !scheme_text
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
    {
        return Err(malformed("URI: scheme"));
    }
    let scheme = if scheme_text.eq_ignore_ascii_case(b"sip") {
        Scheme::Sip
    } else if scheme_text.eq_ignore_ascii_case(b"sips") {
        Scheme::Sips
    } else if scheme_text.eq_ignore_ascii_case(b"tel") {
        Scheme::Tel
    } else {
        Scheme::Other
    };
    let rest = colon + 1;
    let mut p = UriParts {
        all: Span::of(start, end),
        scheme,
        user: None,
        password: None,
        host: Span::at(rest),
        port: None,
        params: Span::at(end),
        headers: None,
    };
    match scheme {
        Scheme::Sip | Scheme::Sips => parse_sip_rest(b, rest, end, &mut p)?,
        Scheme::Tel => {
            let semi = find_in(b, rest, end, b';').unwrap_or(end);
            if semi == rest {
                return Err(malformed("tel URI: number"));
            }
            p.user = Some(Span::of(rest, semi));
            p.host = Span::at(semi);
            p.params = Span::of(semi, end);
        }
        Scheme::Other => {
            if rest == end {
                return Err(malformed("URI: empty after scheme"));
            }
        }
    }
    Ok(p)
}

fn parse_sip_rest(b: &[u8], rest: usize, end: usize, p: &mut UriParts) -> Result<(), ViewError> {
    // The user part may itself contain `;` and `?` (RFC 3261
    // user-unreserved), so the `@` decides where the host starts.
    let hp_start = match find_in(b, rest, end, b'@') {
        Some(at) => {
            let pw = find_in(b, rest, at, b':');
            let user_end = pw.unwrap_or(at);
            if user_end == rest {
                return Err(malformed("URI: empty user"));
            }
            p.user = Some(Span::of(rest, user_end));
            p.password = pw.map(|c| Span::of(c + 1, at));
            at + 1
        }
        None => rest,
    };
    let mut i = hp_start;
    if i < end && b[i] == b'[' {
        let close = find_in(b, i, end, b']').ok_or(malformed("URI: unclosed IPv6 reference"))?;
        if close == i + 1 || !b[i + 1..close].iter().all(|&c| is_ipv6_char(c)) {
            return Err(malformed("URI: IPv6 reference"));
        }
        i = close + 1;
    } else {
        while i < end && is_host_char(b[i]) {
            i += 1;
        }
        if i == hp_start {
            return Err(malformed("URI: host"));
        }
    }
    p.host = Span::of(hp_start, i);
    if i < end && b[i] == b':' {
        let ps = i + 1;
        let mut pe = ps;
        while pe < end && b[pe].is_ascii_digit() {
            pe += 1;
        }
        p.port = Some(parse_u16(&b[ps..pe]).ok_or(malformed("URI: port"))?);
        i = pe;
    }
    if i < end && b[i] != b';' && b[i] != b'?' {
        return Err(malformed("URI: bytes after host"));
    }
    let q = find_in(b, i, end, b'?');
    p.params = Span::of(i, q.unwrap_or(end));
    p.headers = q.map(|q| Span::of(q + 1, end));
    Ok(())
}

/// A URI borrowed from some text.
#[derive(Clone, Copy, Debug)]
pub struct Uri<'a> {
    pub(crate) src: &'a str,
    pub(crate) p: UriParts,
}

impl<'a> Uri<'a> {
    /// Parses a standalone URI (surrounding white space is ignored).
    pub fn parse(text: &'a str) -> Result<Uri<'a>, ViewError> {
        let (s, e) = super::text::trim(text.as_bytes(), 0, text.len());
        Ok(Uri {
            src: text,
            p: parse_uri(text, s, e)?,
        })
    }

    /// The whole URI text.
    pub fn as_str(&self) -> &'a str {
        self.p.all.get(self.src)
    }

    /// Where the whole URI is, relative to the text it was parsed from.
    pub fn span(&self) -> Span {
        self.p.all
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.p.scheme
    }

    /// User part (for tel URIs, the number), escapes kept as written.
    pub fn user(&self) -> Option<&'a str> {
        self.p.user.map(|s| s.get(self.src))
    }

    /// Password part of the userinfo (deprecated but legal).
    pub fn password(&self) -> Option<&'a str> {
        self.p.password.map(|s| s.get(self.src))
    }

    /// Host as written (IPv6 references keep their brackets); empty for tel
    /// and opaque URIs.
    pub fn host(&self) -> &'a str {
        self.p.host.get(self.src)
    }

    /// The host as an IP address, if it is one.
    pub fn host_ip(&self) -> Option<IpAddr> {
        host_to_ip(self.host())
    }

    /// Explicit port.
    pub fn port(&self) -> Option<u16> {
        self.p.port
    }

    /// Explicit port, or the scheme's default (5061 for sips or
    /// `transport=tls`, 5060 otherwise).
    pub fn port_or_default(&self) -> u16 {
        self.p.port.unwrap_or_else(|| {
            let tls = self
                .transport()
                .is_some_and(|t| t.eq_ignore_ascii_case("tls"));
            if self.p.scheme == Scheme::Sips || tls {
                5061
            } else {
                5060
            }
        })
    }

    /// `host[:port]` as written.
    pub fn host_port(&self) -> &'a str {
        let end = if self.p.port.is_some() {
            self.p.params.start()
        } else {
            self.p.host.end()
        };
        Span::of(self.p.host.start(), end).get(self.src)
    }

    /// The URI parameters section, leading `;` included (may be empty).
    pub fn params_str(&self) -> &'a str {
        self.p.params.get(self.src)
    }

    /// The URI parameters.
    pub fn params(&self) -> Params<'a> {
        Params::new(self.src, self.p.params)
    }

    /// Value of a parameter: `None` if absent, `Some("")` if value-less.
    pub fn param(&self, name: &str) -> Option<&'a str> {
        self.params().find(name).map(|v| v.unwrap_or(""))
    }

    /// Whether a parameter is present.
    pub fn has_param(&self, name: &str) -> bool {
        self.params().find(name).is_some()
    }

    /// `transport=` parameter.
    pub fn transport(&self) -> Option<&'a str> {
        self.param("transport")
    }

    /// Whether the `lr` (loose routing) parameter is present.
    pub fn lr(&self) -> bool {
        self.has_param("lr")
    }

    /// `maddr=` parameter.
    pub fn maddr(&self) -> Option<&'a str> {
        self.param("maddr")
    }

    /// `ttl=` parameter, if a valid 0..=255 number.
    pub fn ttl(&self) -> Option<u8> {
        self.param("ttl").and_then(|t| t.parse().ok())
    }

    /// `user=` parameter (`phone`, `ip`, ...).
    pub fn user_param(&self) -> Option<&'a str> {
        self.param("user")
    }

    /// `method=` parameter.
    pub fn method_param(&self) -> Option<&'a str> {
        self.param("method")
    }

    /// Headers part after `?`, as written.
    pub fn headers(&self) -> Option<&'a str> {
        self.p.headers.map(|s| s.get(self.src))
    }

    /// The `name=value` pairs of the headers part, split on `&`.
    pub fn header_pairs(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.headers()
            .unwrap_or("")
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| kv.split_once('=').unwrap_or((kv, "")))
    }

    /// URI equivalence per RFC 3261 §19.1.4: scheme, user and password
    /// compared case-sensitively after unescaping, host case-insensitively,
    /// ports must both be absent or equal, the `user`, `ttl`, `method`,
    /// `maddr` and `transport` parameters must match when either side has
    /// them, other parameters only when both sides have them, and header
    /// components must all match.
    pub fn equivalent(&self, other: &Uri<'_>) -> bool {
        if self.p.scheme != other.p.scheme {
            return false;
        }
        if self.p.scheme == Scheme::Other {
            return self.as_str() == other.as_str();
        }
        let opt_eq = |a: Option<&str>, b: Option<&str>| match (a, b) {
            (None, None) => true,
            (Some(a), Some(b)) => escaped_eq(a, b, false),
            _ => false,
        };
        if !opt_eq(self.user(), other.user()) || !opt_eq(self.password(), other.password()) {
            return false;
        }
        if !self.host().eq_ignore_ascii_case(other.host()) || self.p.port != other.p.port {
            return false;
        }
        const MUST_MATCH: [&str; 5] = ["user", "ttl", "method", "maddr", "transport"];
        for name in MUST_MATCH {
            match (self.params().find(name), other.params().find(name)) {
                (None, None) => {}
                (Some(a), Some(b)) if escaped_eq(a.unwrap_or(""), b.unwrap_or(""), true) => {}
                _ => return false,
            }
        }
        for p in self.params() {
            if MUST_MATCH.iter().any(|m| m.eq_ignore_ascii_case(p.name)) {
                continue;
            }
            if let Some(v) = other.params().find(p.name) {
                if !escaped_eq(p.value.unwrap_or(""), v.unwrap_or(""), true) {
                    return false;
                }
            }
        }
        let covers = |a: &Uri<'_>, b: &Uri<'_>| {
            a.header_pairs().all(|(n, v)| {
                b.header_pairs()
                    .any(|(n2, v2)| escaped_eq(n, n2, true) && escaped_eq(v, v2, false))
            })
        };
        covers(self, other) && covers(other, self)
    }
}

/// Parses a host as written in a URI or Via (`[v6]` or dotted v4).
pub(crate) fn host_to_ip(host: &str) -> Option<IpAddr> {
    let inner = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    inner.parse().ok()
}

/// Decodes one `%XX` escape at the start of `b`.
fn unescape_at(b: &[u8]) -> (u8, usize) {
    if let [b'%', h, l, ..] = b {
        let hex = |c: u8| (c as char).to_digit(16);
        if let (Some(h), Some(l)) = (hex(*h), hex(*l)) {
            return ((h * 16 + l) as u8, 3);
        }
    }
    (b.first().copied().unwrap_or(0), 1)
}

/// Compares two URI components after `%XX` unescaping, without allocating.
fn escaped_eq(a: &str, b: &str, ignore_case: bool) -> bool {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    while !a.is_empty() && !b.is_empty() {
        let (ca, na) = unescape_at(a);
        let (cb, nb) = unescape_at(b);
        let same = if ignore_case {
            ca.eq_ignore_ascii_case(&cb)
        } else {
            ca == cb
        };
        if !same {
            return false;
        }
        a = &a[na..];
        b = &b[nb..];
    }
    a.is_empty() && b.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    fn uri(s: &str) -> Uri<'_> {
        match Uri::parse(s) {
            Ok(u) => u,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn full_sip_uri() {
        let u = uri("sip:alice:secret@Atlanta.example.com:5070;transport=TCP;lr;maddr=239.255.255.1;ttl=15;user=phone;method=REGISTER?subject=project%20x&priority=urgent");
        assert_eq!(u.scheme(), Scheme::Sip);
        assert_eq!(u.user(), Some("alice"));
        assert_eq!(u.password(), Some("secret"));
        assert_eq!(u.host(), "Atlanta.example.com");
        assert_eq!(u.port(), Some(5070));
        assert_eq!(u.host_port(), "Atlanta.example.com:5070");
        assert_eq!(u.transport(), Some("TCP"));
        assert!(u.lr());
        assert_eq!(u.maddr(), Some("239.255.255.1"));
        assert_eq!(u.ttl(), Some(15));
        assert_eq!(u.user_param(), Some("phone"));
        assert_eq!(u.method_param(), Some("REGISTER"));
        assert_eq!(u.headers(), Some("subject=project%20x&priority=urgent"));
        assert_eq!(
            u.header_pairs().collect::<Vec<_>>(),
            vec![("subject", "project%20x"), ("priority", "urgent")]
        );
        assert_eq!(u.params().count(), 6);
    }

    #[test]
    fn ipv6_hosts() {
        let u = uri("sips:[2001:db8::1]:5061;transport=tls");
        assert_eq!(u.scheme(), Scheme::Sips);
        assert_eq!(u.user(), None);
        assert_eq!(u.host(), "[2001:db8::1]");
        assert_eq!(u.port(), Some(5061));
        assert_eq!(
            u.host_ip(),
            Some(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)))
        );
        let u = uri("sip:bob@[::ffff:192.0.2.1]");
        assert_eq!(u.host(), "[::ffff:192.0.2.1]");
        assert_eq!(u.port_or_default(), 5060);
        assert!(Uri::parse("sip:[2001:db8::1").is_err());
        assert!(Uri::parse("sip:[]").is_err());
        assert!(Uri::parse("sip:[zz]").is_err());
    }

    #[test]
    fn user_part_may_hold_semicolons() {
        let u = uri("sip:+1-212-555-1212;npdi;rn=+1@gw.example.com;user=phone");
        assert_eq!(u.user(), Some("+1-212-555-1212;npdi;rn=+1"));
        assert_eq!(u.host(), "gw.example.com");
        assert_eq!(u.user_param(), Some("phone"));
    }

    #[test]
    fn tel_and_opaque_uris() {
        let u = uri("tel:+1-201-555-0123;phone-context=example.com");
        assert_eq!(u.scheme(), Scheme::Tel);
        assert_eq!(u.user(), Some("+1-201-555-0123"));
        assert_eq!(u.host(), "");
        assert_eq!(u.param("phone-context"), Some("example.com"));
        let u = uri("urn:service:sos");
        assert_eq!(u.scheme(), Scheme::Other);
        assert_eq!(u.as_str(), "urn:service:sos");
        assert!(Uri::parse("tel:").is_err());
        assert!(Uri::parse("tel:;x").is_err());
    }

    #[test]
    fn malformed_uris() {
        for bad in [
            "",
            "sip",
            ":x",
            "1sip:x",
            "sip:",
            "sip:@h",
            "sip:a@",
            "sip:h:",
            "sip:h:99999",
            "sip:h:5x",
            "sip:h/x",
            "sip:a b@h",
            "sip:h\0",
        ] {
            assert!(Uri::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(uri("  sip:h  ").as_str(), "sip:h");
    }

    #[test]
    fn equivalence_rules() {
        let eq = |a: &str, b: &str| uri(a).equivalent(&uri(b));
        // The RFC 3261 §19.1.4 examples of equivalent URIs.
        assert!(eq(
            "sip:%61lice@atlanta.com;transport=TCP",
            "sip:alice@AtLanTa.CoM;Transport=tcp"
        ));
        assert!(eq(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com;newparam=5"
        ));
        assert!(eq(
            "sip:carol@chicago.com;security=on",
            "sip:carol@chicago.com;newparam=5"
        ));
        assert!(eq(
            "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
            "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"
        ));
        assert!(eq(
            "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
            "sip:alice@atlanta.com?priority=urgent&subject=project%20x"
        ));
        // And the ones that are not.
        assert!(!eq(
            "SIP:ALICE@AtLanTa.CoM;Transport=udp",
            "sip:alice@AtLanTa.CoM;Transport=UDP"
        ));
        assert!(!eq("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"));
        assert!(!eq(
            "sip:bob@biloxi.com",
            "sip:bob@biloxi.com;transport=udp"
        ));
        assert!(!eq(
            "sip:bob@biloxi.com",
            "sip:bob@biloxi.com:6000;transport=tcp"
        ));
        assert!(!eq(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com?Subject=next%20meeting"
        ));
        assert!(!eq("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"));
        assert!(!eq(
            "sip:carol@chicago.com;security=on",
            "sip:carol@chicago.com;security=off"
        ));
        assert!(!eq("sip:a@h", "sips:a@h"));
        assert!(eq("urn:x", "urn:x"));
    }
}
