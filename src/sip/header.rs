//! Header names and the index entry recorded for each header line.
//!
//! The scanner classifies every header name once, case-insensitively and with
//! the RFC 3261 §7.3.3 (and later RFCs') compact forms folded onto their full
//! kind, so that lookups by kind afterwards are integer comparisons. Headers
//! this table does not know keep [`HeaderName::Other`] and are found by
//! comparing their name text.

use super::span::Span;

/// The well-known header kinds. Compact forms map to their full kind
/// (`v` is [`HeaderName::Via`], `l` is [`HeaderName::ContentLength`], ...).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum HeaderName {
    /// `Via`, compact `v`
    Via,
    /// `From`, compact `f`
    From,
    /// `To`, compact `t`
    To,
    /// `Call-ID`, compact `i`
    CallId,
    /// `CSeq`
    CSeq,
    /// `Contact`, compact `m`
    Contact,
    /// `Max-Forwards`
    MaxForwards,
    /// `Content-Length`, compact `l`
    ContentLength,
    /// `Content-Type`, compact `c`
    ContentType,
    /// `Route`
    Route,
    /// `Record-Route`
    RecordRoute,
    /// `Expires`
    Expires,
    /// `User-Agent`
    UserAgent,
    /// `Server`
    Server,
    /// `Supported`, compact `k`
    Supported,
    /// `Require`
    Require,
    /// `Proxy-Require`
    ProxyRequire,
    /// `Allow`
    Allow,
    /// `Authorization`
    Authorization,
    /// `Proxy-Authorization`
    ProxyAuthorization,
    /// `WWW-Authenticate`
    WwwAuthenticate,
    /// `Proxy-Authenticate`
    ProxyAuthenticate,
    /// `Path` (RFC 3327)
    Path,
    /// `Event`, compact `o` (RFC 6665)
    Event,
    /// `Subject`, compact `s`
    Subject,
    /// `Accept`
    Accept,
    /// `Refer-To`, compact `r` (RFC 3515)
    ReferTo,
    /// `Referred-By`, compact `b` (RFC 3892)
    ReferredBy,
    /// `Session-Expires`, compact `x` (RFC 4028)
    SessionExpires,
    /// `Min-Expires`
    MinExpires,
    /// `Unsupported`
    Unsupported,
    /// `Content-Encoding`, compact `e`
    ContentEncoding,
    /// `Allow-Events`, compact `u` (RFC 6665)
    AllowEvents,
    /// `Identity`, compact `y` (RFC 8224)
    Identity,
    /// `Content-Disposition`
    ContentDisposition,
    /// `Subscription-State` (RFC 6665)
    SubscriptionState,
    /// `RSeq` (RFC 3262)
    RSeq,
    /// `RAck` (RFC 3262)
    RAck,
    /// `Reason` (RFC 3326)
    Reason,
    /// `P-Asserted-Identity` (RFC 3325)
    PAssertedIdentity,
    /// `Date`
    Date,
    /// Any header not listed above.
    #[default]
    Other,
}

use HeaderName as H;

const CANONICAL: [(H, &str); HeaderName::COUNT - 1] = [
    (H::Via, "Via"),
    (H::From, "From"),
    (H::To, "To"),
    (H::CallId, "Call-ID"),
    (H::CSeq, "CSeq"),
    (H::Contact, "Contact"),
    (H::MaxForwards, "Max-Forwards"),
    (H::ContentLength, "Content-Length"),
    (H::ContentType, "Content-Type"),
    (H::Route, "Route"),
    (H::RecordRoute, "Record-Route"),
    (H::Expires, "Expires"),
    (H::UserAgent, "User-Agent"),
    (H::Server, "Server"),
    (H::Supported, "Supported"),
    (H::Require, "Require"),
    (H::ProxyRequire, "Proxy-Require"),
    (H::Allow, "Allow"),
    (H::Authorization, "Authorization"),
    (H::ProxyAuthorization, "Proxy-Authorization"),
    (H::WwwAuthenticate, "WWW-Authenticate"),
    (H::ProxyAuthenticate, "Proxy-Authenticate"),
    (H::Path, "Path"),
    (H::Event, "Event"),
    (H::Subject, "Subject"),
    (H::Accept, "Accept"),
    (H::ReferTo, "Refer-To"),
    (H::ReferredBy, "Referred-By"),
    (H::SessionExpires, "Session-Expires"),
    (H::MinExpires, "Min-Expires"),
    (H::Unsupported, "Unsupported"),
    (H::ContentEncoding, "Content-Encoding"),
    (H::AllowEvents, "Allow-Events"),
    (H::Identity, "Identity"),
    (H::ContentDisposition, "Content-Disposition"),
    (H::SubscriptionState, "Subscription-State"),
    (H::RSeq, "RSeq"),
    (H::RAck, "RAck"),
    (H::Reason, "Reason"),
    (H::PAssertedIdentity, "P-Asserted-Identity"),
    (H::Date, "Date"),
];

/// Candidate names of one length; bucketing by length first means a header
/// name is compared against at most a handful of strings.
fn bucket(len: usize) -> &'static [(&'static str, HeaderName)] {
    match len {
        2 => &[("To", H::To)],
        3 => &[("Via", H::Via)],
        4 => &[
            ("From", H::From),
            ("CSeq", H::CSeq),
            ("Path", H::Path),
            ("RAck", H::RAck),
            ("RSeq", H::RSeq),
            ("Date", H::Date),
        ],
        5 => &[
            ("Route", H::Route),
            ("Event", H::Event),
            ("Allow", H::Allow),
        ],
        6 => &[
            ("Server", H::Server),
            ("Accept", H::Accept),
            ("Reason", H::Reason),
        ],
        7 => &[
            ("Call-ID", H::CallId),
            ("Contact", H::Contact),
            ("Expires", H::Expires),
            ("Require", H::Require),
            ("Subject", H::Subject),
        ],
        8 => &[("Identity", H::Identity), ("Refer-To", H::ReferTo)],
        9 => &[("Supported", H::Supported)],
        10 => &[("User-Agent", H::UserAgent)],
        11 => &[
            ("Unsupported", H::Unsupported),
            ("Min-Expires", H::MinExpires),
            ("Referred-By", H::ReferredBy),
        ],
        12 => &[
            ("Max-Forwards", H::MaxForwards),
            ("Record-Route", H::RecordRoute),
            ("Content-Type", H::ContentType),
            ("Allow-Events", H::AllowEvents),
        ],
        13 => &[
            ("Authorization", H::Authorization),
            ("Proxy-Require", H::ProxyRequire),
        ],
        14 => &[("Content-Length", H::ContentLength)],
        15 => &[("Session-Expires", H::SessionExpires)],
        16 => &[
            ("WWW-Authenticate", H::WwwAuthenticate),
            ("Content-Encoding", H::ContentEncoding),
        ],
        18 => &[
            ("Proxy-Authenticate", H::ProxyAuthenticate),
            ("Subscription-State", H::SubscriptionState),
        ],
        19 => &[
            ("Proxy-Authorization", H::ProxyAuthorization),
            ("Content-Disposition", H::ContentDisposition),
            ("P-Asserted-Identity", H::PAssertedIdentity),
        ],
        _ => &[],
    }
}

/// ASCII case-insensitive equality against a canonical name made of
/// letters, digits and `-`: two bytes match when equal, or when they differ
/// only in the case bit of a letter.
fn eq_fold(canonical: &[u8], name: &[u8]) -> bool {
    canonical.len() == name.len()
        && canonical.iter().zip(name).all(|(&c, &n)| {
            let d = c ^ n;
            d == 0 || (d == 0x20 && c.is_ascii_alphabetic())
        })
}

impl HeaderName {
    /// Number of kinds, [`HeaderName::Other`] included; sizes per-kind tables.
    pub const COUNT: usize = HeaderName::Other as usize + 1;

    /// Classifies a header name: ASCII case-insensitive, compact forms
    /// folded onto their full kind.
    pub fn from_bytes(name: &[u8]) -> HeaderName {
        if let [c] = name {
            return Self::from_compact(*c);
        }
        let Some(first) = name.first().map(|c| c | 0x20) else {
            return H::Other;
        };
        for (text, kind) in bucket(name.len()) {
            let t = text.as_bytes();
            // Cheap rejection on the first letter, then an exact comparison
            // (most agents write canonical case) before the case-folding one.
            if t.first().map(|c| c | 0x20) != Some(first) {
                continue;
            }
            if eq_fold(t, name) {
                return *kind;
            }
        }
        H::Other
    }

    /// Classifies a header name given as text.
    #[allow(clippy::should_implement_trait)] // infallible, unlike `FromStr`
    pub fn from_str(name: &str) -> HeaderName {
        Self::from_bytes(name.as_bytes())
    }

    /// The kind a one-letter compact form stands for (RFC 3261 §7.3.3 and
    /// the IANA registry), or `Other`.
    pub fn from_compact(c: u8) -> HeaderName {
        match c.to_ascii_lowercase() {
            b'v' => H::Via,
            b'f' => H::From,
            b't' => H::To,
            b'i' => H::CallId,
            b'm' => H::Contact,
            b'l' => H::ContentLength,
            b'c' => H::ContentType,
            b'k' => H::Supported,
            b's' => H::Subject,
            b'e' => H::ContentEncoding,
            b'o' => H::Event,
            b'r' => H::ReferTo,
            b'u' => H::AllowEvents,
            b'x' => H::SessionExpires,
            b'y' => H::Identity,
            b'b' => H::ReferredBy,
            _ => H::Other,
        }
    }

    /// The canonical full name, or `None` for [`HeaderName::Other`].
    pub fn as_str(self) -> Option<&'static str> {
        CANONICAL.get(self as usize).map(|(_, t)| *t)
    }

    /// Whether values of this header are comma-separated lists that may be
    /// combined on one line (RFC 3261 §7.3.1). Headers such as `From`,
    /// `Date` or the authentication headers contain commas that do not
    /// separate values and are therefore not lists.
    pub const fn is_list(self) -> bool {
        matches!(
            self,
            H::Via
                | H::Contact
                | H::Route
                | H::RecordRoute
                | H::Supported
                | H::Require
                | H::ProxyRequire
                | H::Allow
                | H::Path
                | H::Accept
                | H::Unsupported
                | H::ContentEncoding
                | H::AllowEvents
                | H::PAssertedIdentity
                | H::Reason
        )
    }
}

/// What the scanner records for one header: where its name and (trimmed,
/// possibly folded) value are, and where its line ends (after the line
/// break), which is what deleting the header needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct HeaderEntry {
    pub(crate) name: Span,
    pub(crate) value: Span,
    pub(crate) line_end: u32,
    pub(crate) kind: HeaderName,
}

impl HeaderEntry {
    /// The whole header line, from the first byte of the name through the
    /// line break of its last continuation line.
    pub(crate) fn line(&self) -> Span {
        Span::new(self.name.start() as u32, self.line_end)
    }
}

/// A header of a message, borrowed from its buffer.
#[derive(Clone, Copy, Debug)]
pub struct Header<'a> {
    /// Position among the message's headers (0 is the first header line).
    pub index: usize,
    /// Classified kind.
    pub kind: HeaderName,
    /// Name as written (maybe a compact form, any case).
    pub name: &'a str,
    /// Value as written, trimmed; a folded value keeps its inner line breaks.
    pub value: &'a str,
    pub(crate) entry: HeaderEntry,
}

impl Header<'_> {
    /// Where the name is in the message buffer.
    pub fn name_span(&self) -> Span {
        self.entry.name
    }

    /// Where the value is in the message buffer.
    pub fn value_span(&self) -> Span {
        self.entry.value
    }

    /// The whole line, line break (and continuation lines) included.
    pub fn line_span(&self) -> Span {
        self.entry.line()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_canonical_name_classifies_to_itself() {
        assert_eq!(CANONICAL.len(), HeaderName::COUNT - 1);
        for (i, (kind, text)) in CANONICAL.iter().enumerate() {
            assert_eq!(*kind as usize, i, "table order for {text}");
            assert_eq!(HeaderName::from_str(text), *kind, "{text}");
            assert_eq!(HeaderName::from_str(&text.to_ascii_lowercase()), *kind);
            assert_eq!(HeaderName::from_str(&text.to_ascii_uppercase()), *kind);
            assert_eq!(kind.as_str(), Some(*text));
        }
        assert_eq!(HeaderName::Other.as_str(), None);
    }

    #[test]
    fn compact_forms() {
        let pairs = [
            ("v", H::Via),
            ("F", H::From),
            ("t", H::To),
            ("i", H::CallId),
            ("m", H::Contact),
            ("l", H::ContentLength),
            ("c", H::ContentType),
            ("k", H::Supported),
            ("s", H::Subject),
            ("e", H::ContentEncoding),
            ("o", H::Event),
            ("r", H::ReferTo),
            ("u", H::AllowEvents),
            ("x", H::SessionExpires),
            ("y", H::Identity),
            ("b", H::ReferredBy),
            ("z", H::Other),
        ];
        for (c, k) in pairs {
            assert_eq!(HeaderName::from_str(c), k, "{c}");
        }
    }

    #[test]
    fn unknown_names() {
        assert_eq!(HeaderName::from_str("X-Foo"), H::Other);
        assert_eq!(HeaderName::from_str(""), H::Other);
        assert_eq!(HeaderName::from_str("Vias"), H::Other);
        // CR differs from '-' only in the 0x20 bit: not a case difference.
        assert_eq!(HeaderName::from_bytes(b"Call\rID"), H::Other);
        assert_eq!(HeaderName::from_str("cALL-iD"), H::CallId);
        assert!(H::Via.is_list());
        assert!(!H::From.is_list());
        assert!(!H::Date.is_list());
    }
}
