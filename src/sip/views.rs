//! Typed views of a message's headers, parsed on first use and cached.
//!
//! Routing scripts read the same few headers many times (`$fu`, `$tt`,
//! `$ci`, the top Via...). Each typed view is parsed the first time it is
//! asked for and kept in a `OnceCell` next to the message, as offsets; later
//! reads rebuild the borrowed view at no cost. A malformed header only fails
//! its own view. Views read the message as received: recorded edits do not
//! change them until [`apply_changes`](SipMsg::apply_changes).
//!
//! Lists (all Vias, Contacts, Routes, Record-Routes) allocate their cache
//! vector when first asked for; nothing here allocates during parsing.

use std::cell::OnceCell;

use super::contact::{parse_contacts, ContactSet, Contacts};
use super::cseq::{parse_cseq, CSeq, CSeqParts};
use super::error::ViewError;
use super::header::HeaderName;
use super::msg::SipMsg;
use super::name_addr::{parse_name_addr, NameAddr, NameAddrList, NameAddrParts};
use super::span::Span;
use super::text::parse_u32;
use super::uri::{parse_uri, Uri, UriParts};
use super::via::{parse_via, Via, ViaList, ViaParts};

type Cached<T> = OnceCell<Result<T, ViewError>>;

/// The cache of parsed views, one cell per view.
#[derive(Clone, Debug, Default)]
pub(crate) struct ViewCache {
    ruri: Cached<UriParts>,
    top_via: Cached<ViaParts>,
    vias: Cached<Box<[ViaParts]>>,
    from: Cached<NameAddrParts>,
    to: Cached<NameAddrParts>,
    cseq: Cached<CSeqParts>,
    contacts: Cached<ContactSet>,
    routes: Cached<Box<[NameAddrParts]>>,
    record_routes: Cached<Box<[NameAddrParts]>>,
    max_forwards: Cached<u32>,
    expires: Cached<u32>,
}

/// Copies a cached result out (the error is `Copy`, the value borrowed).
fn cached<T>(r: &Result<T, ViewError>) -> Result<&T, ViewError> {
    r.as_ref().map_err(|e| *e)
}

impl SipMsg {
    /// First value of a kind: the first comma element for list headers.
    fn first_value(&self, kind: HeaderName) -> Result<Span, ViewError> {
        self.value_spans(kind)
            .next()
            .map(|(_, s)| s)
            .ok_or(ViewError::Missing)
    }

    /// First header value of a kind, whole (for single-valued headers).
    fn single_value(&self, kind: HeaderName) -> Result<Span, ViewError> {
        self.entries_of(kind)
            .next()
            .map(|(_, e)| e.value)
            .ok_or(ViewError::Missing)
    }

    fn name_addr_list(&self, kind: HeaderName) -> Result<Box<[NameAddrParts]>, ViewError> {
        let t = self.text();
        self.value_spans(kind)
            .map(|(_, s)| parse_name_addr(t, s.start(), s.end()))
            .collect()
    }

    fn number(&self, kind: HeaderName) -> Result<u32, ViewError> {
        let v = self.single_value(kind)?;
        parse_u32(v.bytes(self.text().as_bytes())).ok_or(ViewError::Malformed("number"))
    }

    /// The top Via value (the first element of the first Via header).
    pub fn top_via(&self) -> Result<Via<'_>, ViewError> {
        let p = self.views.top_via.get_or_init(|| {
            let v = self.first_value(HeaderName::Via)?;
            parse_via(self.text(), v.start(), v.end())
        });
        Ok(Via {
            src: self.text(),
            p: *cached(p)?,
        })
    }

    /// Every Via value, top first, across header lines and comma lists.
    pub fn vias(&self) -> Result<ViaList<'_>, ViewError> {
        let items = self.views.vias.get_or_init(|| {
            let t = self.text();
            self.value_spans(HeaderName::Via)
                .map(|(_, s)| parse_via(t, s.start(), s.end()))
                .collect()
        });
        Ok(ViaList {
            src: self.text(),
            items: cached(items)?,
        })
    }

    /// The From header.
    pub fn from_header(&self) -> Result<NameAddr<'_>, ViewError> {
        let p = self.views.from.get_or_init(|| {
            let v = self.single_value(HeaderName::From)?;
            parse_name_addr(self.text(), v.start(), v.end())
        });
        Ok(NameAddr {
            src: self.text(),
            p: *cached(p)?,
        })
    }

    /// The To header.
    pub fn to_header(&self) -> Result<NameAddr<'_>, ViewError> {
        let p = self.views.to.get_or_init(|| {
            let v = self.single_value(HeaderName::To)?;
            parse_name_addr(self.text(), v.start(), v.end())
        });
        Ok(NameAddr {
            src: self.text(),
            p: *cached(p)?,
        })
    }

    /// The CSeq header.
    pub fn cseq(&self) -> Result<CSeq<'_>, ViewError> {
        let p = self.views.cseq.get_or_init(|| {
            let v = self.single_value(HeaderName::CSeq)?;
            parse_cseq(self.text(), v.start(), v.end())
        });
        Ok(CSeq {
            src: self.text(),
            p: *cached(p)?,
        })
    }

    /// The Call-ID value (must be non-empty and without white space).
    pub fn call_id(&self) -> Result<&str, ViewError> {
        let v = self.single_value(HeaderName::CallId)?.get(self.text());
        if v.is_empty() || v.bytes().any(|c| c.is_ascii_whitespace()) {
            return Err(ViewError::Malformed("Call-ID"));
        }
        Ok(v)
    }

    /// The Contact set: `*`, or the addresses in order (an empty list when
    /// there is no Contact header).
    pub fn contacts(&self) -> Result<Contacts<'_>, ViewError> {
        let set = self.views.contacts.get_or_init(|| {
            let spans = self.entries_of(HeaderName::Contact).map(|(_, e)| e.value);
            parse_contacts(self.text(), spans)
        });
        let set = cached(set)?;
        Ok(if set.wildcard {
            Contacts::Wildcard
        } else {
            Contacts::List(NameAddrList {
                src: self.text(),
                items: &set.items,
            })
        })
    }

    /// The Route set, top first (empty when there is no Route header).
    pub fn routes(&self) -> Result<NameAddrList<'_>, ViewError> {
        let items = self
            .views
            .routes
            .get_or_init(|| self.name_addr_list(HeaderName::Route));
        Ok(NameAddrList {
            src: self.text(),
            items: cached(items)?,
        })
    }

    /// The Record-Route set, top first (empty when absent).
    pub fn record_routes(&self) -> Result<NameAddrList<'_>, ViewError> {
        let items = self
            .views
            .record_routes
            .get_or_init(|| self.name_addr_list(HeaderName::RecordRoute));
        Ok(NameAddrList {
            src: self.text(),
            items: cached(items)?,
        })
    }

    /// The Max-Forwards value.
    pub fn max_forwards(&self) -> Result<u32, ViewError> {
        let r = self
            .views
            .max_forwards
            .get_or_init(|| self.number(HeaderName::MaxForwards));
        cached(r).copied()
    }

    /// The Expires header value in seconds.
    pub fn expires(&self) -> Result<u32, ViewError> {
        let r = self
            .views
            .expires
            .get_or_init(|| self.number(HeaderName::Expires));
        cached(r).copied()
    }

    /// The Request-URI as received, parsed.
    pub fn original_ruri(&self) -> Result<Uri<'_>, ViewError> {
        let p = self.views.ruri.get_or_init(|| {
            let s = self.ruri_span().ok_or(ViewError::Missing)?;
            parse_uri(self.text(), s.start(), s.end())
        });
        Ok(Uri {
            src: self.text(),
            p: *cached(p)?,
        })
    }

    /// The current Request-URI, parsed: the one set with
    /// [`set_ruri`](SipMsg::set_ruri) if any (parsed on each call, since it
    /// may change), else the received one (cached).
    pub fn ruri(&self) -> Result<Uri<'_>, ViewError> {
        match &self.new_ruri {
            Some(u) if self.is_request() => Uri::parse(u),
            _ => self.original_ruri(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::method::Method;

    const MSG: &str = "REGISTER sip:registrar.biloxi.example.com SIP/2.0\r\n\
        Via: SIP/2.0/UDP bobspc.biloxi.example.com:5060;branch=z9hG4bKnashds7;rport\r\n\
        Max-Forwards: 70\r\n\
        To: Bob <sip:bob@biloxi.example.com>\r\n\
        From: Bob <sip:bob@biloxi.example.com>;tag=456248\r\n\
        Call-ID: 843817637684230@998sdasdh09\r\n\
        CSeq: 1826 REGISTER\r\n\
        Contact: <sip:bob@192.0.2.4>;expires=60, \"Bob, mobile\" <sip:bob@192.0.2.5>;q=0.5\r\n\
        m: <sip:bob@[2001:db8::5]>\r\n\
        Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n\
        Record-Route: <sip:rr.example.com;lr>\r\n\
        Expires: 7200\r\n\
        Content-Length: 0\r\n\r\n";

    fn msg() -> SipMsg {
        SipMsg::parse(MSG).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn typed_views() -> Result<(), ViewError> {
        let m = msg();
        let via = m.top_via()?;
        assert_eq!(via.branch(), Some("z9hG4bKnashds7"));
        assert_eq!(via.rport(), Some(None));
        assert_eq!(m.vias()?.len(), 1);
        assert_eq!(m.from_header()?.tag(), Some("456248"));
        assert_eq!(m.to_header()?.tag(), None);
        assert_eq!(m.to_header()?.display_name(), Some("Bob"));
        assert_eq!(m.cseq()?.number(), 1826);
        assert_eq!(m.cseq()?.method(), Method::Register);
        assert_eq!(m.call_id()?, "843817637684230@998sdasdh09");
        assert_eq!(m.max_forwards()?, 70);
        assert_eq!(m.expires()?, 7200);
        let Contacts::List(c) = m.contacts()? else {
            panic!("wildcard");
        };
        assert_eq!(c.len(), 3);
        assert_eq!(c.get(0).and_then(|c| c.expires()), Some(60));
        assert_eq!(c.get(1).and_then(|c| c.q_millis()), Some(500));
        assert_eq!(c.get(2).map(|c| c.uri().host()), Some("[2001:db8::5]"));
        let r = m.routes()?;
        assert_eq!(r.len(), 2);
        assert!(r.iter().all(|r| r.uri().lr()));
        assert_eq!(r.last().map(|r| r.uri().host()), Some("p2.example.com"));
        assert_eq!(m.record_routes()?.len(), 1);
        assert_eq!(m.ruri()?.host(), "registrar.biloxi.example.com");
        Ok(())
    }

    #[test]
    fn views_are_cached() -> Result<(), ViewError> {
        let m = msg();
        let a = m.from_header()?.uri().host().as_ptr();
        let b = m.from_header()?.uri().host().as_ptr();
        assert_eq!(a, b);
        assert!(m.views.from.get().is_some());
        assert!(m.views.to.get().is_none(), "not parsed until asked for");
        Ok(())
    }

    #[test]
    fn missing_and_malformed() {
        let m = SipMsg::parse(
            "OPTIONS sip:x SIP/2.0\r\nFrom: garbage <\r\nCSeq: x\r\nMax-Forwards: -1\r\nCall-ID: \r\n\r\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.top_via().err(), Some(ViewError::Missing));
        assert_eq!(m.to_header().err(), Some(ViewError::Missing));
        assert!(matches!(m.from_header(), Err(ViewError::Malformed(_))));
        assert!(matches!(m.cseq(), Err(ViewError::Malformed(_))));
        assert!(matches!(m.max_forwards(), Err(ViewError::Malformed(_))));
        assert!(matches!(m.call_id(), Err(ViewError::Malformed(_))));
        assert_eq!(m.expires().err(), Some(ViewError::Missing));
        assert!(m.routes().is_ok_and(|r| r.is_empty()));
        assert!(m
            .contacts()
            .is_ok_and(|c| c.list().is_some_and(|l| l.is_empty())));
    }
}
