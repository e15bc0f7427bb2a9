//! `KSR.kx`: quick getters for the message and where it came from
//! (Kamailio's `kemix` module).
//!
//! Most getters come in three forms that differ only in what a missing
//! value becomes: `get_*` gives `null`, `gete_*` an empty string and
//! `getw_*` the printable text `<null>`. Values are read from the message
//! as received, except the Request-URI and `$du`, which reflect changes at
//! once.

use kemid_macros::kemi;

use crate::ctx::Ctx;
use crate::pv::{Builtin, PvClass, PvIndex, PvRef, PvSpec};
use crate::registry::XVal;
use crate::sip::Contacts;

/// `loadmodule "kemix.so"`.
pub static MODULE: crate::module::Module<()> =
    crate::module::Module::new("kemix", "KEMI extensions");

/// What a missing value becomes.
#[derive(Clone, Copy)]
enum Missing {
    Null,
    Empty,
    Print,
}

impl Missing {
    fn value(self) -> XVal {
        match self {
            Missing::Null => XVal::Null,
            Missing::Empty => XVal::Str(String::new()),
            Missing::Print => XVal::Str("<null>".to_owned()),
        }
    }
}

fn xval(v: PvRef<'_>, missing: Missing) -> XVal {
    match v {
        PvRef::Null => missing.value(),
        PvRef::Int(i) => XVal::Int(i),
        PvRef::Str(s) => XVal::Str(s.into_owned()),
    }
}

/// The value of a message pseudo-variable.
fn pv(ctx: &Ctx, b: Builtin, missing: Missing) -> XVal {
    let spec = PvSpec {
        class: PvClass::Builtin(b),
        index: PvIndex::None,
    };
    xval(spec.value(ctx), missing)
}

/// "proto:ip:port", IPv6 in brackets.
fn socket_text(proto: &str, addr: std::net::SocketAddr) -> String {
    format!("{proto}:{addr}")
}

/// The URI of the first Contact; none for `*` or no Contact.
fn contact_uri(ctx: &Ctx, missing: Missing) -> XVal {
    let uri = ctx.msg().and_then(|m| match m.contacts() {
        Ok(Contacts::List(l)) => l.first().map(|c| c.uri_str().to_owned()),
        _ => None,
    });
    uri.map_or_else(|| missing.value(), XVal::Str)
}

fn body(ctx: &Ctx, missing: Missing) -> XVal {
    match ctx.msg().map(|m| m.body()) {
        Some(b) if !b.is_empty() => XVal::Str(String::from_utf8_lossy(b).into_owned()),
        _ => missing.value(),
    }
}

/// Returns the current Request-URI (as rewritten by `seturi` and the like).
///
/// # Returns
/// The Request-URI; `null` for a reply.
///
/// # Example
/// ```js
/// var ruri = KSR.kx.get_ruri();
/// ```
#[kemi(xval = "str, null")]
pub fn get_ruri(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::Ruri, Missing::Null)
}

/// Returns the user part of the current Request-URI.
///
/// # Returns
/// The user part of the current Request-URI; `null` when it is missing or empty, and for a reply.
///
/// # Example
/// ```js
/// var user = KSR.kx.get_ruser();
/// ```
#[kemi(xval = "str, null")]
pub fn get_ruser(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::RuriUser, Missing::Null)
}

/// Returns the user part of the current Request-URI.
///
/// # Returns
/// The user part of the current Request-URI; an empty string when it is missing or empty, and for a reply.
///
/// # Example
/// ```js
/// var user = KSR.kx.gete_ruser();
/// ```
#[kemi(xval = "str")]
pub fn gete_ruser(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::RuriUser, Missing::Empty)
}

/// Returns the user part of the current Request-URI.
///
/// # Returns
/// The user part of the current Request-URI; the text `<null>` when it is missing or empty, and for a reply.
///
/// # Example
/// ```js
/// var user = KSR.kx.getw_ruser();
/// ```
#[kemi(xval = "str")]
pub fn getw_ruser(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::RuriUser, Missing::Print)
}

/// Returns the host of the current Request-URI.
///
/// # Returns
/// The host of the current Request-URI; `null` when it is missing and for a reply.
///
/// # Example
/// ```js
/// var host = KSR.kx.get_rhost();
/// ```
#[kemi(xval = "str, null")]
pub fn get_rhost(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::RuriHost, Missing::Null)
}

/// Returns the host of the current Request-URI.
///
/// # Returns
/// The host of the current Request-URI; an empty string when it is missing and for a reply.
///
/// # Example
/// ```js
/// var host = KSR.kx.gete_rhost();
/// ```
#[kemi(xval = "str")]
pub fn gete_rhost(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::RuriHost, Missing::Empty)
}

/// Returns the host of the current Request-URI.
///
/// # Returns
/// The host of the current Request-URI; the text `<null>` when it is missing and for a reply.
///
/// # Example
/// ```js
/// var host = KSR.kx.getw_rhost();
/// ```
#[kemi(xval = "str")]
pub fn getw_rhost(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::RuriHost, Missing::Print)
}

/// Returns the Request-URI as received, whatever was changed since.
///
/// # Returns
/// The received Request-URI; `null` for a reply.
///
/// # Example
/// ```js
/// var ouri = KSR.kx.get_ouri();
/// ```
#[kemi(xval = "str, null")]
pub fn get_ouri(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::Ouri, Missing::Null)
}

/// Returns the URI of the From header.
///
/// # Returns
/// The From URI; `null` when the From header is missing or does not parse.
///
/// # Example
/// ```js
/// var furi = KSR.kx.get_furi();
/// ```
#[kemi(xval = "str, null")]
pub fn get_furi(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::FromUri, Missing::Null)
}

/// Returns the user part of the From URI.
///
/// # Returns
/// The user part of the From URI; `null` when it is missing or empty.
///
/// # Example
/// ```js
/// var fuser = KSR.kx.get_fuser();
/// ```
#[kemi(xval = "str, null")]
pub fn get_fuser(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::FromUser, Missing::Null)
}

/// Returns the user part of the From URI.
///
/// # Returns
/// The user part of the From URI; an empty string when it is missing or empty.
///
/// # Example
/// ```js
/// var fuser = KSR.kx.gete_fuser();
/// ```
#[kemi(xval = "str")]
pub fn gete_fuser(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::FromUser, Missing::Empty)
}

/// Returns the user part of the From URI.
///
/// # Returns
/// The user part of the From URI; the text `<null>` when it is missing or empty.
///
/// # Example
/// ```js
/// var fuser = KSR.kx.getw_fuser();
/// ```
#[kemi(xval = "str")]
pub fn getw_fuser(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::FromUser, Missing::Print)
}

/// Returns the host of the From URI.
///
/// # Returns
/// The host of the From URI; `null` when it is missing.
///
/// # Example
/// ```js
/// var fhost = KSR.kx.get_fhost();
/// ```
#[kemi(xval = "str, null")]
pub fn get_fhost(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::FromHost, Missing::Null)
}

/// Returns the host of the From URI.
///
/// # Returns
/// The host of the From URI; an empty string when it is missing.
///
/// # Example
/// ```js
/// var fhost = KSR.kx.gete_fhost();
/// ```
#[kemi(xval = "str")]
pub fn gete_fhost(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::FromHost, Missing::Empty)
}

/// Returns the host of the From URI.
///
/// # Returns
/// The host of the From URI; the text `<null>` when it is missing.
///
/// # Example
/// ```js
/// var fhost = KSR.kx.getw_fhost();
/// ```
#[kemi(xval = "str")]
pub fn getw_fhost(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::FromHost, Missing::Print)
}

/// Returns the URI of the To header.
///
/// # Returns
/// The To URI; `null` when the To header is missing or does not parse.
///
/// # Example
/// ```js
/// var turi = KSR.kx.get_turi();
/// ```
#[kemi(xval = "str, null")]
pub fn get_turi(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::ToUri, Missing::Null)
}

/// Returns the user part of the To URI.
///
/// # Returns
/// The user part of the To URI; `null` when it is missing or empty.
///
/// # Example
/// ```js
/// var tuser = KSR.kx.get_tuser();
/// ```
#[kemi(xval = "str, null")]
pub fn get_tuser(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::ToUser, Missing::Null)
}

/// Returns the user part of the To URI.
///
/// # Returns
/// The user part of the To URI; an empty string when it is missing or empty.
///
/// # Example
/// ```js
/// var tuser = KSR.kx.gete_tuser();
/// ```
#[kemi(xval = "str")]
pub fn gete_tuser(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::ToUser, Missing::Empty)
}

/// Returns the user part of the To URI.
///
/// # Returns
/// The user part of the To URI; the text `<null>` when it is missing or empty.
///
/// # Example
/// ```js
/// var tuser = KSR.kx.getw_tuser();
/// ```
#[kemi(xval = "str")]
pub fn getw_tuser(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::ToUser, Missing::Print)
}

/// Returns the host of the To URI.
///
/// # Returns
/// The host of the To URI; `null` when it is missing.
///
/// # Example
/// ```js
/// var thost = KSR.kx.get_thost();
/// ```
#[kemi(xval = "str, null")]
pub fn get_thost(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::ToHost, Missing::Null)
}

/// Returns the host of the To URI.
///
/// # Returns
/// The host of the To URI; an empty string when it is missing.
///
/// # Example
/// ```js
/// var thost = KSR.kx.gete_thost();
/// ```
#[kemi(xval = "str")]
pub fn gete_thost(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::ToHost, Missing::Empty)
}

/// Returns the host of the To URI.
///
/// # Returns
/// The host of the To URI; the text `<null>` when it is missing.
///
/// # Example
/// ```js
/// var thost = KSR.kx.getw_thost();
/// ```
#[kemi(xval = "str")]
pub fn getw_thost(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::ToHost, Missing::Print)
}

/// Returns the destination URI (`$du`).
///
/// # Returns
/// The destination URI (`$du`); `null` when it is missing (not set).
///
/// # Example
/// ```js
/// var duri = KSR.kx.get_duri();
/// ```
#[kemi(xval = "str, null")]
pub fn get_duri(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::Duri, Missing::Null)
}

/// Returns the destination URI (`$du`).
///
/// # Returns
/// The destination URI (`$du`); an empty string when it is missing (not set).
///
/// # Example
/// ```js
/// var duri = KSR.kx.gete_duri();
/// ```
#[kemi(xval = "str")]
pub fn gete_duri(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::Duri, Missing::Empty)
}

/// Returns the destination URI (`$du`).
///
/// # Returns
/// The destination URI (`$du`); the text `<null>` when it is missing (not set).
///
/// # Example
/// ```js
/// var duri = KSR.kx.getw_duri();
/// ```
#[kemi(xval = "str")]
pub fn getw_duri(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::Duri, Missing::Print)
}

/// Returns the URI of the first Contact.
///
/// # Returns
/// The Contact URI; `null` when there is no Contact, for `Contact: *`, or when the Contact header does not parse.
///
/// # Example
/// ```js
/// var ct = KSR.kx.get_cturi();
/// ```
#[kemi(xval = "str, null")]
pub fn get_cturi(ctx: &mut Ctx) -> XVal {
    contact_uri(ctx, Missing::Null)
}

/// Returns the URI of the first Contact.
///
/// # Returns
/// The Contact URI; an empty string when there is no Contact, for `Contact: *`, or when the Contact header does not parse.
///
/// # Example
/// ```js
/// var ct = KSR.kx.gete_cturi();
/// ```
#[kemi(xval = "str")]
pub fn gete_cturi(ctx: &mut Ctx) -> XVal {
    contact_uri(ctx, Missing::Empty)
}

/// Returns the URI of the first Contact.
///
/// # Returns
/// The Contact URI; the text `<null>` when there is no Contact, for `Contact: *`, or when the Contact header does not parse.
///
/// # Example
/// ```js
/// var ct = KSR.kx.getw_cturi();
/// ```
#[kemi(xval = "str")]
pub fn getw_cturi(ctx: &mut Ctx) -> XVal {
    contact_uri(ctx, Missing::Print)
}

/// Returns the next hop: the destination URI (`$du`) when set, else the current Request-URI.
///
/// # Returns
/// The next hop URI; `null` for a reply without `$du`.
///
/// # Example
/// ```js
/// var nh = KSR.kx.get_nhuri();
/// ```
#[kemi(xval = "str, null")]
pub fn get_nhuri(ctx: &mut Ctx) -> XVal {
    match pv(ctx, Builtin::Duri, Missing::Null) {
        XVal::Null => pv(ctx, Builtin::Ruri, Missing::Null),
        du => du,
    }
}

/// Returns the source address as a SIP URI: `sip:ip:port`, with `;transport=` when not UDP (`$su`).
///
/// # Returns
/// The source URI.
///
/// # Example
/// ```js
/// var src = KSR.kx.get_srcuri();
/// ```
#[kemi(xval = "str")]
pub fn get_srcuri(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::SrcUri, Missing::Empty)
}

/// Returns the source address in socket form, `proto:ip:port` (IPv6 in brackets).
///
/// # Returns
/// The source socket text; an empty string when there is no message.
///
/// # Example
/// ```js
/// var src = KSR.kx.get_srcaddr_sock();
/// ```
#[kemi(xval = "str")]
pub fn get_srcaddr_sock(ctx: &mut Ctx) -> XVal {
    match ctx.recv() {
        Some(r) => XVal::Str(socket_text(r.proto.name(), r.src)),
        None => Missing::Empty.value(),
    }
}

/// Returns the body of the User-Agent header.
///
/// # Returns
/// The body of the User-Agent header; `null` when it is missing.
///
/// # Example
/// ```js
/// var ua = KSR.kx.get_ua();
/// ```
#[kemi(xval = "str, null")]
pub fn get_ua(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::UserAgent, Missing::Null)
}

/// Returns the body of the User-Agent header.
///
/// # Returns
/// The body of the User-Agent header; an empty string when it is missing.
///
/// # Example
/// ```js
/// var ua = KSR.kx.gete_ua();
/// ```
#[kemi(xval = "str")]
pub fn gete_ua(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::UserAgent, Missing::Empty)
}

/// Returns the body of the User-Agent header.
///
/// # Returns
/// The body of the User-Agent header; the text `<null>` when it is missing.
///
/// # Example
/// ```js
/// var ua = KSR.kx.getw_ua();
/// ```
#[kemi(xval = "str")]
pub fn getw_ua(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::UserAgent, Missing::Print)
}

/// Returns the source IP address of the message.
///
/// # Returns
/// The address, IPv6 without brackets.
///
/// # Example
/// ```js
/// var ip = KSR.kx.get_srcip();
/// ```
#[kemi(xval = "str, null")]
pub fn get_srcip(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::SrcIp, Missing::Null)
}

/// Returns the source port of the message.
///
/// # Returns
/// The port, as an integer.
///
/// # Example
/// ```js
/// var port = KSR.kx.get_srcport();
/// ```
#[kemi(xval = "int")]
pub fn get_srcport(ctx: &mut Ctx) -> XVal {
    match ctx.recv() {
        Some(r) => XVal::Int(i64::from(r.src.port())),
        None => XVal::Int(0),
    }
}

/// Returns the local IP address the message arrived on.
///
/// # Returns
/// The address, IPv6 without brackets.
///
/// # Example
/// ```js
/// var ip = KSR.kx.get_rcvip();
/// ```
#[kemi(xval = "str, null")]
pub fn get_rcvip(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::RcvIp, Missing::Null)
}

/// Returns the local port the message arrived on.
///
/// # Returns
/// The port, as an integer.
///
/// # Example
/// ```js
/// var port = KSR.kx.get_rcvport();
/// ```
#[kemi(xval = "int")]
pub fn get_rcvport(ctx: &mut Ctx) -> XVal {
    match ctx.recv() {
        Some(r) => XVal::Int(i64::from(r.local.port())),
        None => XVal::Int(0),
    }
}

/// Returns the address advertised for the socket the message arrived on (its `advertise` setting), else its real address.
///
/// # Returns
/// The advertised host or address.
///
/// # Example
/// ```js
/// var ip = KSR.kx.get_rcvadvip();
/// ```
#[kemi(xval = "str, null")]
pub fn get_rcvadvip(ctx: &mut Ctx) -> XVal {
    let (Some(r), Some(core)) = (ctx.recv(), ctx.core()) else {
        return pv(ctx, Builtin::RcvIp, Missing::Null);
    };
    XVal::Str(core.advertised(r.proto, r.local).0)
}

/// Returns the port advertised for the socket the message arrived on, else its real port.
///
/// # Returns
/// The port, as an integer.
///
/// # Example
/// ```js
/// var port = KSR.kx.get_rcvadvport();
/// ```
#[kemi(xval = "int")]
pub fn get_rcvadvport(ctx: &mut Ctx) -> XVal {
    let Some(r) = ctx.recv() else {
        return XVal::Int(0);
    };
    let port = ctx
        .core()
        .map_or(r.local.port(), |c| c.advertised(r.proto, r.local).1);
    XVal::Int(i64::from(port))
}

/// Returns the socket the message arrived on, `proto:ip:port` (IPv6 in brackets).
///
/// # Returns
/// The receiving socket text; an empty string when there is no message.
///
/// # Example
/// ```js
/// var sock = KSR.kx.get_rcvaddr_sock();
/// ```
#[kemi(xval = "str")]
pub fn get_rcvaddr_sock(ctx: &mut Ctx) -> XVal {
    match ctx.recv() {
        Some(r) => XVal::Str(socket_text(r.proto.name(), r.local)),
        None => Missing::Empty.value(),
    }
}

/// Returns the transport the message arrived on, in lower case: `udp` or
/// `tcp` (kemid listens on no other transport).
///
/// # Returns
/// The transport name; an empty string when there is no message.
///
/// # Example
/// ```js
/// if (KSR.kx.get_proto() == "tcp") { KSR.info("stream\n"); }
/// ```
#[kemi(xval = "str")]
pub fn get_proto(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::Proto, Missing::Empty)
}

/// Returns Kamailio's number for the transport the message arrived on: 1 UDP, 2 TCP, 3 TLS, 4 SCTP, 5 WS, 6 WSS.
///
/// # Returns
/// The transport number; -1 when there is no message.
///
/// # Example
/// ```js
/// var proto = KSR.kx.get_protoid();
/// ```
#[kemi]
pub fn get_protoid(ctx: &mut Ctx) -> i32 {
    ctx.recv()
        .map_or(-1, |r| crate::pv::proto_id(r.proto) as i32)
}

/// Returns the user part of the username in the credentials (Proxy-Authorization, else Authorization).
///
/// # Returns
/// The user part of the username in the credentials (Proxy-Authorization, else Authorization); `null` when it is missing, and for ACK and CANCEL.
///
/// # Example
/// ```js
/// var user = KSR.kx.get_au();
/// ```
#[kemi(xval = "str, null")]
pub fn get_au(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::AuthUser, Missing::Null)
}

/// Returns the user part of the username in the credentials (Proxy-Authorization, else Authorization).
///
/// # Returns
/// The user part of the username in the credentials (Proxy-Authorization, else Authorization); an empty string when it is missing, and for ACK and CANCEL.
///
/// # Example
/// ```js
/// var user = KSR.kx.gete_au();
/// ```
#[kemi(xval = "str")]
pub fn gete_au(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::AuthUser, Missing::Empty)
}

/// Returns the user part of the username in the credentials (Proxy-Authorization, else Authorization).
///
/// # Returns
/// The user part of the username in the credentials (Proxy-Authorization, else Authorization); the text `<null>` when it is missing, and for ACK and CANCEL.
///
/// # Example
/// ```js
/// var user = KSR.kx.getw_au();
/// ```
#[kemi(xval = "str")]
pub fn getw_au(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::AuthUser, Missing::Print)
}

/// Returns the method of a request, or the CSeq method of a reply.
///
/// # Returns
/// The method; `null` for a reply without a valid CSeq.
///
/// # Example
/// ```js
/// if (KSR.kx.get_method() == "INVITE") { KSR.info("call\n"); }
/// ```
#[kemi(xval = "str, null")]
pub fn get_method(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::Method, Missing::Null)
}

/// Returns the status code of a reply.
///
/// # Returns
/// The code, as an integer; -1 for a request.
///
/// # Example
/// ```js
/// if (KSR.kx.get_status() >= 300) { KSR.info("negative reply\n"); }
/// ```
#[kemi]
pub fn get_status(ctx: &mut Ctx) -> i32 {
    ctx.msg()
        .and_then(|m| m.status_code())
        .map_or(-1, i32::from)
}

/// Returns the status code of a reply, as a string.
///
/// # Returns
/// The code text; `null` for a request.
///
/// # Example
/// ```js
/// var code = KSR.kx.gets_status();
/// ```
#[kemi(xval = "str, null")]
pub fn gets_status(ctx: &mut Ctx) -> XVal {
    match ctx.msg().and_then(|m| m.status_code()) {
        Some(c) => XVal::Str(c.to_string()),
        None => XVal::Null,
    }
}

/// Returns the message body (bytes that are not UTF-8 are replaced).
///
/// # Returns
/// The body; `null` when there is none.
///
/// # Example
/// ```js
/// var sdp = KSR.kx.get_body();
/// ```
#[kemi(xval = "str, null")]
pub fn get_body(ctx: &mut Ctx) -> XVal {
    body(ctx, Missing::Null)
}

/// Returns the message body (bytes that are not UTF-8 are replaced).
///
/// # Returns
/// The body; an empty string when there is none.
///
/// # Example
/// ```js
/// var sdp = KSR.kx.gete_body();
/// ```
#[kemi(xval = "str")]
pub fn gete_body(ctx: &mut Ctx) -> XVal {
    body(ctx, Missing::Empty)
}

/// Returns the message body (bytes that are not UTF-8 are replaced).
///
/// # Returns
/// The body; the text `<null>` when there is none.
///
/// # Example
/// ```js
/// var sdp = KSR.kx.getw_body();
/// ```
#[kemi(xval = "str")]
pub fn getw_body(ctx: &mut Ctx) -> XVal {
    body(ctx, Missing::Print)
}

/// Returns the length of the message body in bytes.
///
/// # Returns
/// The length; 0 when there is no body.
///
/// # Example
/// ```js
/// if (KSR.kx.get_bodylen() > 0) { KSR.info("has a body\n"); }
/// ```
#[kemi]
pub fn get_bodylen(ctx: &mut Ctx) -> i32 {
    ctx.msg()
        .map_or(0, |m| i32::try_from(m.body().len()).unwrap_or(i32::MAX))
}

/// Returns the current Unix time in seconds.
///
/// # Returns
/// The time.
///
/// # Example
/// ```js
/// var now = KSR.kx.get_timestamp();
/// ```
#[kemi(toplevel)]
pub fn get_timestamp(_ctx: &mut Ctx) -> i32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i32::try_from(d.as_secs()).unwrap_or(i32::MAX))
}

/// Returns the Call-ID.
///
/// # Returns
/// The Call-ID; an empty string when the header is missing.
///
/// # Example
/// ```js
/// var callid = KSR.kx.get_callid();
/// ```
#[kemi(xval = "str")]
pub fn get_callid(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::CallId, Missing::Empty)
}

/// Returns the id of the TCP connection the message arrived on.
///
/// # Returns
/// The connection id; -1 for UDP.
///
/// # Example
/// ```js
/// if (KSR.kx.get_conid() >= 0) { KSR.info("over a connection\n"); }
/// ```
#[kemi]
pub fn get_conid(ctx: &mut Ctx) -> i32 {
    ctx.recv()
        .and_then(|r| r.conn)
        .and_then(|c| i32::try_from(c).ok())
        .unwrap_or(-1)
}

/// Returns the whole message as received (bytes that are not UTF-8 are replaced).
///
/// # Returns
/// The message text.
///
/// # Example
/// ```js
/// KSR.dbg("received: " + KSR.kx.get_msgbuf() + "\n");
/// ```
#[kemi(xval = "str")]
pub fn get_msgbuf(ctx: &mut Ctx) -> XVal {
    pv(ctx, Builtin::MsgBuf, Missing::Empty)
}

/// Returns the length of the message as received, in bytes.
///
/// # Returns
/// The length; -1 when there is no message.
///
/// # Example
/// ```js
/// var len = KSR.kx.get_msglen();
/// ```
#[kemi]
pub fn get_msglen(ctx: &mut Ctx) -> i32 {
    ctx.msg()
        .map_or(-1, |m| i32::try_from(m.len()).unwrap_or(i32::MAX))
}

/// Returns the kind of message: 1 for a request, 2 for a reply.
///
/// # Returns
/// 1 or 2; -1 when there is no message.
///
/// # Example
/// ```js
/// if (KSR.kx.get_msgtype() == 2) { KSR.info("a reply\n"); }
/// ```
#[kemi]
pub fn get_msgtype(ctx: &mut Ctx) -> i32 {
    match ctx.msg() {
        Some(m) if m.is_request() => 1,
        Some(_) => 2,
        None => -1,
    }
}

/// Returns the value of an environment variable of the server process.
///
/// # Parameters
/// - `name`: the variable name, such as `HOME`.
///
/// # Returns
/// The value; an empty string when it is not set or not valid UTF-8.
///
/// # Example
/// ```js
/// var home = KSR.kx.get_env("HOME");
/// ```
#[kemi(toplevel, xval = "str")]
pub fn get_env(_ctx: &mut Ctx, name: &str) -> XVal {
    if name.is_empty() {
        return Missing::Empty.value();
    }
    std::env::var(name).map_or_else(|_| Missing::Empty.value(), XVal::Str)
}

/// Returns the value of an environment variable as an integer: its leading decimal digits, with an optional sign.
///
/// # Parameters
/// - `name`: the variable name.
///
/// # Returns
/// The number; 0 when it is not set or not numeric.
///
/// # Example
/// ```js
/// var workers = KSR.kx.get_envn("WORKERS");
/// ```
#[kemi(toplevel)]
pub fn get_envn(_ctx: &mut Ctx, name: &str) -> i32 {
    if name.is_empty() {
        return 0;
    }
    std::env::var(name).map_or(0, |v| leading_int(&v))
}

/// The integer at the start of `s` (optional sign, then digits), 0 if none,
/// saturating: Kamailio's `str2sint`.
fn leading_int(s: &str) -> i32 {
    let s = s.trim_start();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i32 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        n = n.saturating_mul(10).saturating_add(i32::from(b - b'0'));
    }
    if neg {
        -n
    } else {
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::core::tests::{parse, udp_recv, with_ctx, TestCore};
    use crate::transport::{Proto, RecvInfo};

    const INVITE: &str = "INVITE sip:bob@biloxi.example.com:5062 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 198.51.100.7:5070;branch=z9hG4bK-1\r\n\
        From: \"Alice\" <sip:alice@atlanta.example.com>;tag=a1\r\n\
        To: <sip:biloxi.example.com>\r\n\
        Call-ID: call-1\r\n\
        CSeq: 7 INVITE\r\n\
        Contact: <sip:alice@198.51.100.7:5070>;expires=60, <sip:second@x>\r\n\
        User-Agent: phone/2\r\n\
        Authorization: Digest username=\"alice@atlanta.example.com\", realm=\"atlanta.example.com\", nonce=\"n\", uri=\"sip:bob@biloxi.example.com\", response=\"r\"\r\n\
        Content-Length: 3\r\n\r\nv=0";

    fn s(v: &str) -> XVal {
        XVal::Str(v.to_owned())
    }

    fn on<R>(text: &str, recv: RecvInfo, f: impl FnOnce(&mut Ctx) -> R) -> R {
        let core = TestCore::default();
        let mut m = parse(text);
        with_ctx(&core, &mut m, recv, f)
    }

    #[test]
    fn request_getters() {
        on(INVITE, udp_recv(), |ctx| {
            assert_eq!(get_ruri(ctx), s("sip:bob@biloxi.example.com:5062"));
            assert_eq!(get_ruser(ctx), s("bob"));
            assert_eq!(get_rhost(ctx), s("biloxi.example.com"));
            assert_eq!(get_ouri(ctx), s("sip:bob@biloxi.example.com:5062"));
            assert_eq!(get_furi(ctx), s("sip:alice@atlanta.example.com"));
            assert_eq!(get_fuser(ctx), s("alice"));
            assert_eq!(getw_fhost(ctx), s("atlanta.example.com"));
            assert_eq!(get_turi(ctx), s("sip:biloxi.example.com"));
            assert_eq!(get_tuser(ctx), XVal::Null);
            assert_eq!(gete_tuser(ctx), s(""));
            assert_eq!(getw_tuser(ctx), s("<null>"));
            assert_eq!(gete_thost(ctx), s("biloxi.example.com"));
            assert_eq!(get_duri(ctx), XVal::Null);
            assert_eq!(gete_duri(ctx), s(""));
            assert_eq!(getw_duri(ctx), s("<null>"));
            assert_eq!(get_nhuri(ctx), s("sip:bob@biloxi.example.com:5062"));
            assert_eq!(get_cturi(ctx), s("sip:alice@198.51.100.7:5070"));
            assert_eq!(get_ua(ctx), s("phone/2"));
            assert_eq!(get_au(ctx), s("alice"));
            assert_eq!(get_method(ctx), s("INVITE"));
            assert_eq!(get_status(ctx), -1);
            assert_eq!(gets_status(ctx), XVal::Null);
            assert_eq!(get_body(ctx), s("v=0"));
            assert_eq!(get_bodylen(ctx), 3);
            assert_eq!(get_callid(ctx), s("call-1"));
            assert_eq!(get_msgbuf(ctx), s(INVITE));
            assert_eq!(get_msglen(ctx), INVITE.len() as i32);
            assert_eq!(get_msgtype(ctx), 1);
            assert!(crate::modules::core::message::setdsturi(
                ctx,
                "sip:10.0.0.1"
            ));
            assert!(crate::modules::core::message::seturi(
                ctx,
                "sip:carol@c.example"
            ));
            assert_eq!(get_nhuri(ctx), s("sip:10.0.0.1"));
            assert_eq!(get_duri(ctx), s("sip:10.0.0.1"));
            assert_eq!(get_ruri(ctx), s("sip:carol@c.example"));
            assert_eq!(get_rhost(ctx), s("c.example"));
            assert_eq!(get_ouri(ctx), s("sip:bob@biloxi.example.com:5062"));
        });
    }

    #[test]
    fn transport_getters() {
        on(INVITE, udp_recv(), |ctx| {
            assert_eq!(get_srcip(ctx), s("198.51.100.7"));
            assert_eq!(get_srcport(ctx), XVal::Int(5070));
            assert_eq!(get_rcvip(ctx), s("192.0.2.1"));
            assert_eq!(get_rcvport(ctx), XVal::Int(5060));
            assert_eq!(get_rcvadvip(ctx), s("192.0.2.1"));
            assert_eq!(get_rcvadvport(ctx), XVal::Int(5060));
            assert_eq!(get_srcuri(ctx), s("sip:198.51.100.7:5070"));
            assert_eq!(get_srcaddr_sock(ctx), s("udp:198.51.100.7:5070"));
            assert_eq!(get_rcvaddr_sock(ctx), s("udp:192.0.2.1:5060"));
            assert_eq!(get_proto(ctx), s("udp"));
            assert_eq!(get_protoid(ctx), 1);
            assert_eq!(get_conid(ctx), -1);
        });
        let tcp = RecvInfo {
            proto: Proto::Tcp,
            src: "[2001:db8::9]:40000".parse().expect("address"),
            conn: Some(42),
            ..udp_recv()
        };
        on(INVITE, tcp, |ctx| {
            assert_eq!(get_srcip(ctx), s("2001:db8::9"));
            assert_eq!(get_srcuri(ctx), s("sip:[2001:db8::9]:40000;transport=tcp"));
            assert_eq!(get_srcaddr_sock(ctx), s("tcp:[2001:db8::9]:40000"));
            assert_eq!(get_protoid(ctx), 2);
            assert_eq!(get_conid(ctx), 42);
        });
    }

    #[test]
    fn reply_and_missing_values() {
        let reply = "SIP/2.0 404 Not Found\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCSeq: 1 REGISTER\r\nContact: *\r\nContent-Length: 0\r\n\r\n";
        on(reply, udp_recv(), |ctx| {
            assert_eq!(get_ruri(ctx), XVal::Null);
            assert_eq!(get_ruser(ctx), XVal::Null);
            assert_eq!(gete_rhost(ctx), s(""));
            assert_eq!(getw_rhost(ctx), s("<null>"));
            assert_eq!(get_nhuri(ctx), XVal::Null);
            assert_eq!(get_status(ctx), 404);
            assert_eq!(gets_status(ctx), s("404"));
            assert_eq!(get_method(ctx), s("REGISTER"));
            assert_eq!(get_msgtype(ctx), 2);
            assert_eq!(get_callid(ctx), s(""), "a missing Call-ID is empty");
            assert_eq!(get_cturi(ctx), XVal::Null, "Contact: * has no URI");
            assert_eq!(getw_cturi(ctx), s("<null>"));
            assert_eq!(get_body(ctx), XVal::Null);
            assert_eq!(gete_body(ctx), s(""));
            assert_eq!(getw_body(ctx), s("<null>"));
            assert_eq!(get_bodylen(ctx), 0);
            assert_eq!(get_ua(ctx), XVal::Null);
            assert_eq!(gete_ua(ctx), s(""));
            assert_eq!(getw_au(ctx), s("<null>"));
            assert_eq!(gete_au(ctx), s(""));
        });
    }

    #[test]
    fn environment_and_time() {
        let mut w = crate::ctx::WorkerLocal::default();
        let mut ctx = Ctx::without_message(&mut w);
        assert_eq!(get_env(&mut ctx, "KEMID_SURELY_UNSET_VARIABLE"), s(""));
        assert_eq!(get_env(&mut ctx, ""), s(""));
        assert_eq!(get_envn(&mut ctx, "KEMID_SURELY_UNSET_VARIABLE"), 0);
        if let Ok(path) = std::env::var("PATH") {
            assert_eq!(get_env(&mut ctx, "PATH"), XVal::Str(path));
        }
        assert!(get_timestamp(&mut ctx) > 1_600_000_000);
        assert_eq!(leading_int(" -42x"), -42);
        assert_eq!(leading_int("99999999999"), i32::MAX);
        assert_eq!(leading_int("x"), 0);
    }
}
