//! The Contact header set (RFC 3261 §20.10): a list of addresses, or `*`.
//!
//! Registrars need the whole list across header lines, with `*` (remove all
//! bindings) recognised and rejected when mixed with addresses. The list is
//! built on first use and cached with the message.

use super::error::ViewError;
use super::name_addr::{parse_name_addr, NameAddrList, NameAddrParts};
use super::span::Span;
use super::text::CommaSplit;

/// Cached result of parsing every Contact value.
#[derive(Clone, Debug, Default)]
pub(crate) struct ContactSet {
    pub(crate) wildcard: bool,
    pub(crate) items: Vec<NameAddrParts>,
}

/// Parses the values of all Contact headers (given as value spans).
pub(crate) fn parse_contacts(
    text: &str,
    values: impl Iterator<Item = Span>,
) -> Result<ContactSet, ViewError> {
    let b = text.as_bytes();
    let mut set = ContactSet::default();
    for v in values {
        for item in CommaSplit::new(b, v) {
            if item.get(text) == "*" {
                set.wildcard = true;
            } else {
                set.items
                    .push(parse_name_addr(text, item.start(), item.end())?);
            }
        }
    }
    if set.wildcard && !set.items.is_empty() {
        return Err(ViewError::Malformed("Contact: * with other contacts"));
    }
    Ok(set)
}

/// The Contact header set of a message.
#[derive(Clone, Copy, Debug)]
pub enum Contacts<'a> {
    /// `Contact: *`
    Wildcard,
    /// Addresses in order (empty when there is no Contact header).
    List(NameAddrList<'a>),
}

impl<'a> Contacts<'a> {
    /// Whether this is `Contact: *`.
    pub fn is_wildcard(&self) -> bool {
        matches!(self, Contacts::Wildcard)
    }

    /// The addresses (none for `*`).
    pub fn list(&self) -> Option<NameAddrList<'a>> {
        match self {
            Contacts::Wildcard => None,
            Contacts::List(l) => Some(*l),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(t: &str) -> impl Iterator<Item = Span> + '_ {
        t.split('\n').scan(0, |off, line| {
            let s = Span::of(*off, *off + line.len());
            *off += line.len() + 1;
            Some(s)
        })
    }

    #[test]
    fn list_across_lines() {
        let t = "<sip:a@h>;q=0.1, \"B, b\" <sip:b@h>\n<sip:c@h>;expires=60";
        let set = parse_contacts(t, spans(t)).unwrap_or_else(|e| panic!("{e}"));
        assert!(!set.wildcard);
        let l = NameAddrList {
            src: t,
            items: &set.items,
        };
        assert_eq!(l.len(), 3);
        assert_eq!(l.get(1).and_then(|c| c.display_name()), Some("B, b"));
        assert_eq!(l.last().and_then(|c| c.expires()), Some(60));
    }

    #[test]
    fn wildcard() {
        let t = "*";
        let set = parse_contacts(t, spans(t)).unwrap_or_else(|e| panic!("{e}"));
        assert!(set.wildcard);
        let t = "*, <sip:a@h>";
        assert!(parse_contacts(t, spans(t)).is_err());
        let t = "<sip:a@h>, <bad";
        assert!(parse_contacts(t, spans(t)).is_err());
    }
}
