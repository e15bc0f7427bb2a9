//! What every forwarding path shares: where a URI sends a request, the Via
//! a proxy adds, and writing a request out with it.
//!
//! Used by stateless forwarding (`KSR.forward`) and by tm's branches.

use std::hash::{BuildHasher, Hash, Hasher};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use crate::sip::{SipMsg, Uri};
use crate::transport::{Proto, RecvInfo};

/// Why a destination cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestError(pub String);

impl std::fmt::Display for DestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The transport and address a SIP URI sends to (RFC 3263 without SRV/NAPTR:
/// the host's A/AAAA record, the URI's port or 5060, its `transport`
/// parameter or UDP). `proto` overrides the transport.
pub fn resolve(uri: &str, proto: Option<Proto>) -> Result<(Proto, SocketAddr), DestError> {
    let parsed = Uri::parse(uri.trim().trim_start_matches('<').trim_end_matches('>'))
        .map_err(|e| DestError(format!("`{uri}` is not a usable URI: {e}")))?;
    let proto = match proto {
        Some(p) => p,
        None => match parsed.transport() {
            None => Proto::Udp,
            Some(t) if t.eq_ignore_ascii_case("udp") => Proto::Udp,
            Some(t) if t.eq_ignore_ascii_case("tcp") => Proto::Tcp,
            Some(t) => {
                return Err(DestError(format!(
                    "transport `{t}` of `{uri}` is not supported"
                )))
            }
        },
    };
    if matches!(parsed.scheme(), crate::sip::Scheme::Sips) {
        return Err(DestError(format!(
            "`{uri}`: sips needs TLS, which kemid does not have"
        )));
    }
    let host = parsed.maddr().unwrap_or(parsed.host());
    let port = parsed.port().unwrap_or(5060);
    let addr = resolve_host(host, port)?;
    Ok((proto, addr))
}

/// An IP literal (IPv6 with or without brackets) or a name looked up with
/// the system resolver.
pub fn resolve_host(host: &str, port: u16) -> Result<SocketAddr, DestError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    (bare, port)
        .to_socket_addrs()
        .map_err(|e| DestError(format!("cannot resolve `{bare}`: {e}")))?
        .next()
        .ok_or_else(|| DestError(format!("`{bare}` has no address")))
}

/// A branch parameter for a stateless forward: derived from the received
/// request's top Via branch and the destination, so a retransmitted request
/// is forwarded with the same branch (RFC 3261 §16.11).
pub fn stateless_branch(msg: &SipMsg, dst: &str) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    if let Ok(v) = msg.top_via() {
        v.branch().hash(&mut h);
        v.sent_by().hash(&mut h);
    }
    if let Ok(c) = msg.call_id() {
        c.hash(&mut h);
    }
    dst.hash(&mut h);
    format!("z9hG4bKsl{:016x}", h.finish())
}

/// The value of the Via a proxy adds: `SIP/2.0/UDP host:port;branch=...`,
/// with `;rport` when asked.
pub fn via_value(proto: Proto, host: &str, port: u16, branch: &str, rport: bool) -> String {
    let rport = if rport { ";rport" } else { "" };
    format!(
        "SIP/2.0/{} {host}:{port};branch={branch}{rport}",
        proto.via_name()
    )
}

/// Writes `msg` (with its edits) into `out` with `via` as the new top Via,
/// `ruri` as the Request-URI and `routes` (Path) as Route headers on top.
pub fn write_request(
    msg: &SipMsg,
    via: &str,
    ruri: Option<&str>,
    routes: Option<&str>,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let mut copy =
        SipMsg::parse(msg.to_bytes()).map_err(|e| format!("cannot re-read the request: {e}"))?;
    if let Some(u) = ruri {
        copy.set_ruri(u).map_err(|e| e.to_string())?;
    }
    if let Some(r) = routes.filter(|r| !r.is_empty()) {
        copy.insert_header(&format!("Route: {r}\r\n"))
            .map_err(|e| e.to_string())?;
    }
    copy.add_via(via).map_err(|e| e.to_string())?;
    out.clear();
    copy.write_into(out);
    Ok(())
}

/// Forwards the request being routed statelessly (`KSR.forward`): to
/// `uri` when given and not empty, else to `$du`, else to the Request-URI,
/// with our Via on top. Returns 1 when sent, -1 otherwise (logged).
pub fn forward_stateless(
    ctx: &mut crate::ctx::Ctx,
    uri: Option<&str>,
    proto: Option<Proto>,
) -> i32 {
    let (Some(core), Some(msg), Some(recv)) = (ctx.core(), ctx.msg(), ctx.recv().copied()) else {
        return -1;
    };
    if !msg.is_request() {
        crate::log::error("core", format_args!("forward: only requests are forwarded"));
        return -1;
    }
    let dest = match uri
        .filter(|u| !u.is_empty())
        .or(msg.du())
        .or(msg.ruri_str())
    {
        Some(d) => d.to_owned(),
        None => return -1,
    };
    let (proto, addr) = match resolve(&dest, proto) {
        Ok(d) => d,
        Err(e) => {
            crate::log::error("core", format_args!("forward: {e}"));
            return -1;
        }
    };
    let (host, port) = core.advertised(proto, recv.local);
    let via = via_value(
        proto,
        &host,
        port,
        &stateless_branch(msg, &dest),
        ctx.state().add_local_rport,
    );
    let mut out = Vec::with_capacity(msg.len() + 128);
    if let Err(e) = write_request(msg, &via, None, ctx.state().path.as_deref(), &mut out) {
        crate::log::error("core", format_args!("forward: {e}"));
        return -1;
    }
    match core.send(proto, addr, None, &out) {
        Ok(()) => 1,
        Err(e) => {
            crate::log::error("core", format_args!("forward to {addr}: {e}"));
            -1
        }
    }
}

/// Where a reply to `req` goes (RFC 3261 §18.2.2, RFC 3581): the source of
/// the request when the top Via has `rport`, else the `received` (or
/// sent-by) host at the sent-by port.
pub fn reply_destination(req: &SipMsg, recv: &RecvInfo) -> SocketAddr {
    if recv.proto == Proto::Tcp {
        return recv.src;
    }
    let Ok(via) = req.top_via() else {
        return recv.src;
    };
    if via.rport().is_some() {
        return recv.src;
    }
    let ip: IpAddr = via
        .received()
        .and_then(|r| r.trim_matches(['[', ']']).parse().ok())
        .or_else(|| via.host_ip())
        .unwrap_or(recv.src.ip());
    SocketAddr::new(ip, via.port().unwrap_or(5060))
}

/// The To-tag for local replies to `req`: a hash of what identifies the
/// request, so retransmissions get the same tag.
pub fn local_to_tag(req: &SipMsg) -> String {
    // A fixed seed: a retransmission must get the same tag.
    let mut h = foldhash::fast::FixedState::with_seed(0x6b65_6d69_645f_736c).build_hasher();
    if let Some(c) = req.header(crate::sip::HeaderName::CallId) {
        c.value.hash(&mut h);
    }
    if let Ok(from) = req.from_header() {
        from.tag().hash(&mut h);
    }
    if let Ok(via) = req.top_via() {
        via.branch().hash(&mut h);
    }
    let n = h.finish();
    const HEX: &[u8; 16] = b"0123456789abcdef";
    (0..16)
        .map(|i| char::from(HEX[((n >> (60 - 4 * i)) & 0xf) as usize]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_resolve_to_transport_and_address() {
        assert_eq!(
            resolve("sip:bob@127.0.0.1:5080", None),
            Ok((Proto::Udp, "127.0.0.1:5080".parse().expect("addr")))
        );
        assert_eq!(
            resolve("sip:bob@[::1];transport=tcp", None),
            Ok((Proto::Tcp, "[::1]:5060".parse().expect("addr")))
        );
        assert_eq!(
            resolve("<sip:10.0.0.1;lr>", Some(Proto::Tcp)),
            Ok((Proto::Tcp, "10.0.0.1:5060".parse().expect("addr")))
        );
        assert!(resolve("sip:bob@127.0.0.1;transport=sctp", None).is_err());
        assert!(resolve("sips:bob@127.0.0.1", None).is_err());
        assert!(resolve("not a uri", None).is_err());
    }

    #[test]
    fn a_request_is_written_with_our_via_on_top() {
        let msg = SipMsg::parse(
            "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h:5070;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        )
        .expect("valid");
        let mut out = Vec::new();
        let via = via_value(
            Proto::Udp,
            "127.0.0.1",
            5060,
            &stateless_branch(&msg, "x"),
            true,
        );
        write_request(
            &msg,
            &via,
            Some("sip:a@10.0.0.2"),
            Some("<sip:p1;lr>"),
            &mut out,
        )
        .expect("written");
        let text = String::from_utf8(out).expect("text");
        assert!(text.starts_with("OPTIONS sip:a@10.0.0.2 SIP/2.0\r\nRoute: <sip:p1;lr>\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKsl"), "{text}");
        assert!(text.contains(";rport\r\nVia: SIP/2.0/UDP h:5070;branch=z9hG4bK1\r\n"));
        assert_eq!(stateless_branch(&msg, "x"), stateless_branch(&msg, "x"));
        assert_ne!(stateless_branch(&msg, "x"), stateless_branch(&msg, "y"));
    }
}
