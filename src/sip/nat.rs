//! `received` and `rport` on the top Via of incoming requests.
//!
//! RFC 3261 §18.2.1: when the sent-by host of the top Via is not the address
//! the request came from (or is a name), the server adds `received=<source
//! IP>` so that replies go back to where the request came from. RFC 3581:
//! when the client asked for it with a value-less `rport`, the server fills in
//! the source port, and then must add `received` even if the address matches.
//! Both are recorded as edits on the top Via, so they appear in forwarded
//! requests and in locally built replies alike.

use std::io::Write;
use std::net::SocketAddr;

use super::error::{EditError, ViewError};
use super::msg::SipMsg;
use super::serialize::fmt_u32;

/// What [`SipMsg::fix_top_via`] recorded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ViaFix {
    /// A `received` parameter was added or its value replaced.
    pub received: bool,
    /// The `rport` parameter was given the source port.
    pub rport: bool,
}

impl SipMsg {
    /// Applies RFC 3261 §18.2.1 and RFC 3581 to the top Via of a request
    /// received from `source`: records `received=` when the sent-by host
    /// differs from the source address (or is a name) or when `rport` is
    /// filled, and fills `rport=` when the Via has an empty `rport`, or
    /// always when `force_rport` is set (Kamailio's `force_rport()`).
    ///
    /// Runs once per message; later calls record nothing.
    pub fn fix_top_via(
        &mut self,
        source: SocketAddr,
        force_rport: bool,
    ) -> Result<ViaFix, EditError> {
        if !self.is_request() {
            return Err(EditError::NotARequest);
        }
        if self.edits.via_fixed {
            return Ok(ViaFix::default());
        }
        let via = self.top_via().map_err(|e| match e {
            ViewError::Missing => EditError::NoVia,
            ViewError::Malformed(_) => EditError::BadVia,
        })?;
        let p = via.p;
        let ip = source.ip().to_canonical();
        let host_matches = via.host_ip().map(|h| h.to_canonical()) == Some(ip);
        let rport_empty = p.rport_name.is_some() && p.rport_value.is_none();
        let set_rport = rport_empty || force_rport;
        let set_received = !host_matches || set_rport;

        let mut ip_buf = [0u8; 48];
        let ip_len = match ip {
            // The usual case, without the formatting machinery.
            std::net::IpAddr::V4(v4) => {
                let mut len = 0;
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        ip_buf[len] = b'.';
                        len += 1;
                    }
                    let mut digits = [0u8; 10];
                    let d = fmt_u32(u32::from(octet), &mut digits);
                    ip_buf[len..len + d.len()].copy_from_slice(d);
                    len += d.len();
                }
                len
            }
            std::net::IpAddr::V6(_) => {
                let mut cursor = &mut ip_buf[..];
                // An IPv6 address with an IPv4 tail is at most 45 bytes.
                let _ = write!(cursor, "{ip}");
                48 - cursor.len()
            }
        };
        let ip_text = &ip_buf[..ip_len];
        let mut port_buf = [0u8; 10];
        let port = fmt_u32(u32::from(source.port()), &mut port_buf);
        let at = if p.params.is_empty() {
            p.sent_by.end()
        } else {
            p.params.end()
        };
        let already = p
            .received
            .is_some_and(|v| v.bytes(self.text().as_bytes()) == ip_text);

        let mut fix = ViaFix::default();
        // Edits at the same offset apply in recording order: an empty
        // `rport` that ends the parameter list must get its `=port` before
        // `;received=` is appended there.
        if set_rport {
            match (p.rport_name, p.rport_value) {
                (_, Some(v)) => self.edits.record(v.start(), v.end(), &[port]),
                (Some(n), None) => self.edits.record(n.end(), n.end(), &[b"=", port]),
                (None, None) => 0,
            };
        }
        if set_received && !already {
            match p.received {
                Some(v) => self.edits.record(v.start(), v.end(), &[ip_text]),
                None => self.edits.record(at, at, &[b";received=", ip_text]),
            };
            fix.received = true;
        }
        if set_rport {
            if p.rport_name.is_none() {
                self.edits.record(at, at, &[b";rport=", port]);
            }
            fix.rport = true;
        }
        self.edits.via_fixed = true;
        Ok(fix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(via: &str, src: &str, force: bool) -> (ViaFix, String) {
        let text = format!("OPTIONS sip:x SIP/2.0\r\nVia: {via}\r\nVia: SIP/2.0/UDP other\r\n\r\n");
        let mut m = SipMsg::parse(text).unwrap_or_else(|e| panic!("{e}"));
        let src: SocketAddr = src.parse().unwrap_or_else(|e| panic!("{e}"));
        let fix = m.fix_top_via(src, force).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            m.fix_top_via(src, force),
            Ok(ViaFix::default()),
            "runs once"
        );
        let out = String::from_utf8(m.to_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let top = out.lines().nth(1).unwrap_or("").to_string();
        (fix, top)
    }

    #[test]
    fn matching_address_needs_nothing() {
        let (fix, top) = fixed(
            "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1",
            "192.0.2.1:5060",
            false,
        );
        assert_eq!(fix, ViaFix::default());
        assert_eq!(top, "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1");
    }

    #[test]
    fn name_or_other_address_gets_received() {
        let (fix, top) = fixed(
            "SIP/2.0/UDP pc.example.com;branch=z9hG4bK1",
            "192.0.2.1:5070",
            false,
        );
        assert!(fix.received && !fix.rport);
        assert_eq!(
            top,
            "Via: SIP/2.0/UDP pc.example.com;branch=z9hG4bK1;received=192.0.2.1"
        );
        let (_, top) = fixed("SIP/2.0/UDP 10.0.0.1", "192.0.2.1:5070", false);
        assert_eq!(top, "Via: SIP/2.0/UDP 10.0.0.1;received=192.0.2.1");
        for ip in ["0.0.0.0", "255.255.255.255", "10.20.100.9", "127.0.0.1"] {
            let (_, top) = fixed("SIP/2.0/UDP h", &format!("{ip}:5070"), false);
            assert_eq!(top, format!("Via: SIP/2.0/UDP h;received={ip}"));
        }
    }

    #[test]
    fn empty_rport_is_filled_and_forces_received() {
        let (fix, top) = fixed(
            "SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bK1",
            "192.0.2.1:34567",
            false,
        );
        assert!(fix.received && fix.rport);
        assert_eq!(
            top,
            "Via: SIP/2.0/UDP 192.0.2.1:5060;rport=34567;branch=z9hG4bK1;received=192.0.2.1"
        );
    }

    #[test]
    fn forced_rport_and_ipv6() {
        let (fix, top) = fixed(
            "SIP/2.0/TCP [2001:db8::1]:5060;branch=z9hG4bK1",
            "[2001:db8::2]:40000",
            true,
        );
        assert!(fix.received && fix.rport);
        assert_eq!(
            top,
            "Via: SIP/2.0/TCP [2001:db8::1]:5060;branch=z9hG4bK1;received=2001:db8::2;rport=40000"
        );
        // A v4-mapped source matches a v4 sent-by.
        let (fix, _) = fixed(
            "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1",
            "[::ffff:192.0.2.1]:5060",
            false,
        );
        assert_eq!(fix, ViaFix::default());
        // Existing values are replaced.
        let (_, top) = fixed(
            "SIP/2.0/UDP h;received=1.1.1.1;rport=1",
            "192.0.2.1:5",
            true,
        );
        assert_eq!(top, "Via: SIP/2.0/UDP h;received=192.0.2.1;rport=5");
    }

    #[test]
    fn errors() {
        let mut r = SipMsg::parse("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h\r\n\r\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let src: SocketAddr = "192.0.2.1:5060".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.fix_top_via(src, false), Err(EditError::NotARequest));
        let mut m =
            SipMsg::parse("OPTIONS sip:x SIP/2.0\r\n\r\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.fix_top_via(src, false), Err(EditError::NoVia));
        let mut m = SipMsg::parse("OPTIONS sip:x SIP/2.0\r\nVia: nonsense\r\n\r\n")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.fix_top_via(src, false), Err(EditError::BadVia));
    }
}
