//! Testing the transport a message came on, and the one its next hop
//! uses, on `KSR` itself.
//!
//! Transport names are those of `$pr`: `udp`, `tcp`, `tls`, `sctp`, `ws`,
//! `wss`. kemid listens on UDP and TCP only, so the functions for the
//! other transports are false for every received message.

use kemid_macros::kemi;

use crate::ctx::Ctx;
use crate::log;
use crate::sip::{Scheme, SipMsg, Uri};

/// The transport the message came on.
fn received(ctx: &Ctx) -> Option<&'static str> {
    ctx.recv().map(|r| r.proto.name())
}

/// The transport of the next hop, in lower case: for a request the
/// `transport` parameter of `$du` (else of the Request-URI), defaulting to
/// `tls` for sips URIs and `udp` otherwise; for a reply, the transport of
/// the second Via (where the reply goes).
pub(crate) fn next_hop_transport(msg: &SipMsg) -> Option<String> {
    if msg.is_reply() {
        let vias = msg.vias().ok()?;
        return vias.get(1).map(|v| v.transport().to_ascii_lowercase());
    }
    let uri = next_hop_uri(msg)?;
    let t = uri.transport().map(str::to_ascii_lowercase);
    Some(match (uri.scheme(), t) {
        (Scheme::Sips, None) => "tls".to_owned(),
        (Scheme::Sips, Some(t)) if t == "tcp" => "tls".to_owned(),
        (_, Some(t)) => t,
        (_, None) => "udp".to_owned(),
    })
}

/// The next hop of a request: `$du` when set, else the Request-URI.
fn next_hop_uri(msg: &SipMsg) -> Option<Uri<'_>> {
    let parsed = match msg.du() {
        Some(du) => Uri::parse(du),
        None => msg.ruri(),
    };
    match parsed {
        Ok(u) => Some(u),
        Err(e) => {
            log::error("core", format_args!("cannot parse the next hop URI: {e}"));
            None
        }
    }
}

/// The next hop's host: the `$du` or Request-URI host for a request, the
/// second Via's host for a reply.
fn next_hop_host(msg: &SipMsg) -> Option<String> {
    if msg.is_reply() {
        let vias = msg.vias().ok()?;
        return vias.get(1).map(|v| v.host().to_owned());
    }
    next_hop_uri(msg).map(|u| u.host().to_owned())
}

fn next_hop_is(ctx: &Ctx, names: &[&str]) -> bool {
    ctx.msg()
        .and_then(next_hop_transport)
        .is_some_and(|t| names.contains(&t.as_str()))
}

/// The IP address family of the next hop's host: 4, 6, or `None` for a
/// host name.
fn next_hop_family(ctx: &Ctx) -> Option<u8> {
    let host = ctx.msg().and_then(next_hop_host)?;
    let ip: std::net::IpAddr = host.trim_matches(['[', ']']).parse().ok()?;
    Some(if ip.is_ipv4() { 4 } else { 6 })
}

/// Tells whether the message was received over UDP.
///
/// # Returns
/// `true` when it was, `false` otherwise.
///
/// # Example
/// ```js
/// if (KSR.is_UDP()) { KSR.info("received over UDP\n"); }
/// ```
#[kemi(name = "is_UDP")]
pub fn is_udp(ctx: &mut Ctx) -> bool {
    received(ctx).is_some_and(|p| ["udp"].contains(&p))
}

/// Tells whether the message was received over TCP.
///
/// # Returns
/// `true` when it was, `false` otherwise.
///
/// # Example
/// ```js
/// if (KSR.is_TCP()) { KSR.info("received over TCP\n"); }
/// ```
#[kemi(name = "is_TCP")]
pub fn is_tcp(ctx: &mut Ctx) -> bool {
    received(ctx).is_some_and(|p| ["tcp"].contains(&p))
}

/// Tells whether the message was received over TLS.
///
/// # Returns
/// `true` when it was, `false` otherwise.
///
/// # Example
/// ```js
/// if (KSR.is_TLS()) { KSR.info("received over TLS\n"); }
/// ```
#[kemi(name = "is_TLS")]
pub fn is_tls(ctx: &mut Ctx) -> bool {
    received(ctx).is_some_and(|p| ["tls"].contains(&p))
}

/// Tells whether the message was received over SCTP.
///
/// # Returns
/// `true` when it was, `false` otherwise.
///
/// # Example
/// ```js
/// if (KSR.is_SCTP()) { KSR.info("received over SCTP\n"); }
/// ```
#[kemi(name = "is_SCTP")]
pub fn is_sctp(ctx: &mut Ctx) -> bool {
    received(ctx).is_some_and(|p| ["sctp"].contains(&p))
}

/// Tells whether the message was received over WebSocket (WS).
///
/// # Returns
/// `true` when it was, `false` otherwise.
///
/// # Example
/// ```js
/// if (KSR.is_WS()) { KSR.info("received over WS\n"); }
/// ```
#[kemi(name = "is_WS")]
pub fn is_ws(ctx: &mut Ctx) -> bool {
    received(ctx).is_some_and(|p| ["ws"].contains(&p))
}

/// Tells whether the message was received over secure WebSocket (WSS).
///
/// # Returns
/// `true` when it was, `false` otherwise.
///
/// # Example
/// ```js
/// if (KSR.is_WSS()) { KSR.info("received over WSS\n"); }
/// ```
#[kemi(name = "is_WSS")]
pub fn is_wss(ctx: &mut Ctx) -> bool {
    received(ctx).is_some_and(|p| ["wss"].contains(&p))
}

/// Tells whether the message was received over WS or WSS.
///
/// # Returns
/// `true` when it was, `false` otherwise.
///
/// # Example
/// ```js
/// if (KSR.is_WSX()) { KSR.info("received over WSX\n"); }
/// ```
#[kemi(name = "is_WSX")]
pub fn is_wsx(ctx: &mut Ctx) -> bool {
    received(ctx).is_some_and(|p| ["ws", "wss"].contains(&p))
}

/// Tells whether the message was received over a stream transport: TCP, TLS, WS or WSS.
///
/// # Returns
/// `true` when it was, `false` otherwise.
///
/// # Example
/// ```js
/// if (KSR.is_TCPX()) { KSR.info("received over TCPX\n"); }
/// ```
#[kemi(name = "is_TCPX")]
pub fn is_tcpx(ctx: &mut Ctx) -> bool {
    received(ctx).is_some_and(|p| ["tcp", "tls", "ws", "wss"].contains(&p))
}

/// Tells whether the message was received over one of the transports
/// given by letter: `u` UDP, `t` TCP, `e` TLS, `s` SCTP, `v` WS, `w` WSS
/// (either case).
///
/// # Parameters
/// - `letters`: the transport letters, such as `"ut"`.
///
/// # Returns
/// `true` when the transport is among them; `false` otherwise (unknown
/// letters are logged and ignored).
///
/// # Example
/// ```js
/// if (KSR.is_proto("tev")) { KSR.info("stream transport\n"); }
/// ```
#[kemi]
pub fn is_proto(ctx: &mut Ctx, letters: &str) -> bool {
    let Some(p) = received(ctx) else { return false };
    letters.chars().any(|c| {
        let name = match c.to_ascii_lowercase() {
            'u' => "udp",
            't' => "tcp",
            'e' => "tls",
            's' => "sctp",
            'v' => "ws",
            'w' => "wss",
            other => {
                log::warn(
                    "core",
                    format_args!("is_proto: unknown transport letter `{other}`"),
                );
                return false;
            }
        };
        name == p
    })
}

/// Tells whether the local socket the message arrived on is IPv4.
///
/// # Returns
/// `true` for IPv4, `false` otherwise.
///
/// # Example
/// ```js
/// if (KSR.is_IPv4()) { KSR.info("IPv4 socket\n"); }
/// ```
#[kemi(name = "is_IPv4")]
pub fn is_ipv4(ctx: &mut Ctx) -> bool {
    ctx.recv().is_some_and(|r| r.local.is_ipv4())
}

/// Tells whether the local socket the message arrived on is IPv6.
///
/// # Returns
/// `true` for IPv6, `false` otherwise.
///
/// # Example
/// ```js
/// if (KSR.is_IPv6()) { KSR.info("IPv6 socket\n"); }
/// ```
#[kemi(name = "is_IPv6")]
pub fn is_ipv6(ctx: &mut Ctx) -> bool {
    ctx.recv().is_some_and(|r| r.local.is_ipv6())
}

/// Tells whether the message came from the given source port.
///
/// # Parameters
/// - `port`: the port to compare with.
///
/// # Returns
/// `true` when the source port is `port`.
///
/// # Example
/// ```js
/// if (KSR.is_src_port(5060)) { KSR.info("from port 5060\n"); }
/// ```
#[kemi]
pub fn is_src_port(ctx: &mut Ctx, port: i32) -> bool {
    ctx.recv().is_some_and(|r| i32::from(r.src.port()) == port)
}

/// Tells whether the message arrived on the given local port.
///
/// # Parameters
/// - `port`: the port to compare with.
///
/// # Returns
/// `true` when the local receiving port is `port`.
///
/// # Example
/// ```js
/// if (KSR.is_dst_port(5080)) { KSR.info("on the internal port\n"); }
/// ```
#[kemi]
pub fn is_dst_port(ctx: &mut Ctx, port: i32) -> bool {
    ctx.recv()
        .is_some_and(|r| i32::from(r.local.port()) == port)
}

/// Tells whether the next hop uses UDP: for a request, the `transport`
/// parameter of `$du` (else of the Request-URI), which defaults to TLS for
/// sips URIs and UDP otherwise; for a reply, the transport of the second
/// Via.
///
/// # Returns
/// `true` when it does; `false` otherwise or when the next hop cannot be
/// parsed (logged).
///
/// # Example
/// ```js
/// if (KSR.to_UDP()) { KSR.info("next hop over UDP\n"); }
/// ```
#[kemi(name = "to_UDP")]
pub fn to_udp(ctx: &mut Ctx) -> bool {
    next_hop_is(ctx, &["udp"])
}

/// Tells whether the next hop uses TCP: for a request, the `transport`
/// parameter of `$du` (else of the Request-URI), which defaults to TLS for
/// sips URIs and UDP otherwise; for a reply, the transport of the second
/// Via.
///
/// # Returns
/// `true` when it does; `false` otherwise or when the next hop cannot be
/// parsed (logged).
///
/// # Example
/// ```js
/// if (KSR.to_TCP()) { KSR.info("next hop over TCP\n"); }
/// ```
#[kemi(name = "to_TCP")]
pub fn to_tcp(ctx: &mut Ctx) -> bool {
    next_hop_is(ctx, &["tcp"])
}

/// Tells whether the next hop uses TLS: for a request, the `transport`
/// parameter of `$du` (else of the Request-URI), which defaults to TLS for
/// sips URIs and UDP otherwise; for a reply, the transport of the second
/// Via.
///
/// # Returns
/// `true` when it does; `false` otherwise or when the next hop cannot be
/// parsed (logged).
///
/// # Example
/// ```js
/// if (KSR.to_TLS()) { KSR.info("next hop over TLS\n"); }
/// ```
#[kemi(name = "to_TLS")]
pub fn to_tls(ctx: &mut Ctx) -> bool {
    next_hop_is(ctx, &["tls"])
}

/// Tells whether the next hop uses SCTP: for a request, the `transport`
/// parameter of `$du` (else of the Request-URI), which defaults to TLS for
/// sips URIs and UDP otherwise; for a reply, the transport of the second
/// Via.
///
/// # Returns
/// `true` when it does; `false` otherwise or when the next hop cannot be
/// parsed (logged).
///
/// # Example
/// ```js
/// if (KSR.to_SCTP()) { KSR.info("next hop over SCTP\n"); }
/// ```
#[kemi(name = "to_SCTP")]
pub fn to_sctp(ctx: &mut Ctx) -> bool {
    next_hop_is(ctx, &["sctp"])
}

/// Tells whether the next hop uses WS: for a request, the `transport`
/// parameter of `$du` (else of the Request-URI), which defaults to TLS for
/// sips URIs and UDP otherwise; for a reply, the transport of the second
/// Via.
///
/// # Returns
/// `true` when it does; `false` otherwise or when the next hop cannot be
/// parsed (logged).
///
/// # Example
/// ```js
/// if (KSR.to_WS()) { KSR.info("next hop over WS\n"); }
/// ```
#[kemi(name = "to_WS")]
pub fn to_ws(ctx: &mut Ctx) -> bool {
    next_hop_is(ctx, &["ws"])
}

/// Tells whether the next hop uses WSS: for a request, the `transport`
/// parameter of `$du` (else of the Request-URI), which defaults to TLS for
/// sips URIs and UDP otherwise; for a reply, the transport of the second
/// Via.
///
/// # Returns
/// `true` when it does; `false` otherwise or when the next hop cannot be
/// parsed (logged).
///
/// # Example
/// ```js
/// if (KSR.to_WSS()) { KSR.info("next hop over WSS\n"); }
/// ```
#[kemi(name = "to_WSS")]
pub fn to_wss(ctx: &mut Ctx) -> bool {
    next_hop_is(ctx, &["wss"])
}

/// Tells whether the next hop uses WS or WSS: for a request, the `transport`
/// parameter of `$du` (else of the Request-URI), which defaults to TLS for
/// sips URIs and UDP otherwise; for a reply, the transport of the second
/// Via.
///
/// # Returns
/// `true` when it does; `false` otherwise or when the next hop cannot be
/// parsed (logged).
///
/// # Example
/// ```js
/// if (KSR.to_WSX()) { KSR.info("next hop over WSX\n"); }
/// ```
#[kemi(name = "to_WSX")]
pub fn to_wsx(ctx: &mut Ctx) -> bool {
    next_hop_is(ctx, &["ws", "wss"])
}

/// Tells whether the next hop's host (`$du`, else the Request-URI; the
/// second Via for a reply) is an IPv4 address. A host name is neither.
///
/// # Returns
/// `true` for an IPv4 address, `false` otherwise.
///
/// # Example
/// ```js
/// if (KSR.to_IPv4()) { KSR.info("next hop is IPv4\n"); }
/// ```
#[kemi(name = "to_IPv4")]
pub fn to_ipv4(ctx: &mut Ctx) -> bool {
    next_hop_family(ctx) == Some(4)
}

/// Tells whether the next hop's host (`$du`, else the Request-URI; the
/// second Via for a reply) is an IPv6 address. A host name is neither.
///
/// # Returns
/// `true` for an IPv6 address, `false` otherwise.
///
/// # Example
/// ```js
/// if (KSR.to_IPv6()) { KSR.info("next hop is IPv6\n"); }
/// ```
#[kemi(name = "to_IPv6")]
pub fn to_ipv6(ctx: &mut Ctx) -> bool {
    next_hop_family(ctx) == Some(6)
}
