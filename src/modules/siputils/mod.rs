//! `KSR.siputils`: SIP helpers: what kind of message this is, checks on
//! the Request-URI and its parameters, URI and header-name comparisons,
//! string checks for numbers, and answering OPTIONS sent to the server.
//!
//! Module parameters: `options_accept` (default: every type),
//! `options_accept_encoding` (empty), `options_accept_language` (`en`) and
//! `options_support` (empty) fill the headers of `options_reply()`.

use kemid_macros::kemi;

use crate::ctx::Ctx;
use crate::log;
use crate::modules::sl::send_local_reply_with;
use crate::sip::{
    unquote, HeaderName, Method, Params as UriParams, Scheme, SipMsg, StartLine, Uri,
};
use crate::transport::Proto;

/// `modparam("siputils", ...)`.
#[derive(Clone, Debug, kemid_macros::ModParams)]
pub struct Params {
    /// The Accept header of `options_reply`.
    #[param(default = "*/*")]
    pub options_accept: String,
    /// The Accept-Encoding header of `options_reply`.
    #[param(default = "")]
    pub options_accept_encoding: String,
    /// The Accept-Language header of `options_reply`.
    #[param(default = "en")]
    pub options_accept_language: String,
    /// The Supported header of `options_reply`.
    #[param(default = "")]
    pub options_support: String,
    #[param(inert)]
    pub contact_flds_separator: String,
    #[param(inert)]
    pub rpid_prefix: String,
    #[param(inert)]
    pub rpid_suffix: String,
    #[param(inert)]
    pub rpid_avp: String,
    #[param(inert)]
    pub e164_max_len: i64,
}

/// `loadmodule "siputils.so"`; its state is its parameters.
pub static MODULE: crate::module::Module<Params> = crate::module::Module::new(
    "siputils",
    "SIP helpers: message kind, Request-URI parameters, URI comparisons, OPTIONS replies",
)
.init(|cx| Ok(cx.params()));

const ORIGIN: &str = "siputils";

// ---------------------------------------------------------------------------
// The kind of message.

/// Checks whether the message is within a dialog: its To header has a
/// non-empty tag.
///
/// # Returns
/// 1 when the To header has a tag, -1 when it has none or there is no
/// valid To header.
///
/// # Example
/// ```js
/// if (KSR.siputils.has_totag() > 0) {
///     KSR.info("in-dialog request\n");
/// }
/// ```
#[kemi]
pub fn has_totag(ctx: &mut Ctx) -> i32 {
    let Some(msg) = ctx.msg() else {
        return -1;
    };
    match msg.to_header() {
        Ok(to) if to.tag().is_some_and(|t| !t.is_empty()) => 1,
        Ok(_) => -1,
        Err(e) => {
            log::error(ORIGIN, format_args!("no valid To header: {e}"));
            -1
        }
    }
}

/// Checks whether the message is a request.
///
/// # Returns
/// 1 for a request, -1 for a reply.
///
/// # Example
/// ```js
/// if (KSR.siputils.is_request() > 0) {
///     KSR.info("request\n");
/// }
/// ```
#[kemi]
pub fn is_request(ctx: &mut Ctx) -> i32 {
    match ctx.msg() {
        Some(m) if m.is_request() => 1,
        _ => -1,
    }
}

/// Checks whether the message is a reply.
///
/// # Returns
/// 1 for a reply, -1 for a request.
///
/// # Example
/// ```js
/// if (KSR.siputils.is_reply() > 0) {
///     KSR.info("reply\n");
/// }
/// ```
#[kemi]
pub fn is_reply(ctx: &mut Ctx) -> i32 {
    match ctx.msg() {
        Some(m) if m.is_reply() => 1,
        _ => -1,
    }
}

/// The protocol version of the start line (`SIP/2.0`, `HTTP/1.1`).
fn version(msg: &SipMsg) -> &str {
    match msg.start_line() {
        StartLine::Request { version, .. } | StartLine::Reply { version, .. } => version,
    }
}

/// Checks whether the message is SIP (and not HTTP).
///
/// # Returns
/// 1 for SIP, -1 otherwise.
///
/// # Example
/// ```js
/// if (KSR.siputils.is_sip() < 0) {
///     KSR.x.drop();
/// }
/// ```
#[kemi]
pub fn is_sip(ctx: &mut Ctx) -> i32 {
    match ctx.msg() {
        Some(m)
            if version(m)
                .get(..4)
                .is_some_and(|v| v.eq_ignore_ascii_case("SIP/")) =>
        {
            1
        }
        _ => -1,
    }
}

/// Checks whether the message is HTTP.
///
/// # Returns
/// 1 for HTTP, -1 otherwise.
///
/// # Example
/// ```js
/// if (KSR.siputils.is_http() > 0) {
///     KSR.x.drop();
/// }
/// ```
#[kemi]
pub fn is_http(ctx: &mut Ctx) -> i32 {
    match ctx.msg() {
        Some(m)
            if version(m)
                .get(..5)
                .is_some_and(|v| v.eq_ignore_ascii_case("HTTP/")) =>
        {
            1
        }
        _ => -1,
    }
}

/// Checks whether the main headers of the message parse: every Via, From,
/// To, CSeq, Call-ID, Contact, Route, Record-Route, Max-Forwards and
/// Expires present.
///
/// # Returns
/// 1 when they all parse, -1 when one does not.
///
/// # Example
/// ```js
/// if (KSR.siputils.sip_parse_headers() < 0) {
///     KSR.sl.sl_send_reply(400, "Bad Request");
/// }
/// ```
#[kemi]
pub fn sip_parse_headers(ctx: &mut Ctx) -> i32 {
    let Some(m) = ctx.msg() else {
        return -1;
    };
    let present = |k: HeaderName| m.header(k).is_some();
    let ok = m.vias().is_ok()
        && (!present(HeaderName::From) || m.from_header().is_ok())
        && (!present(HeaderName::To) || m.to_header().is_ok())
        && (!present(HeaderName::CSeq) || m.cseq().is_ok())
        && (!present(HeaderName::CallId) || m.call_id().is_ok())
        && m.contacts().is_ok()
        && m.routes().is_ok()
        && m.record_routes().is_ok()
        && (!present(HeaderName::MaxForwards) || m.max_forwards().is_ok())
        && (!present(HeaderName::Expires) || m.expires().is_ok());
    if ok {
        1
    } else {
        -1
    }
}

/// The transport a URI asks for, when kemid has it; `Err` for one it does
/// not serve.
fn uri_proto(uri: &Uri) -> Result<Option<Proto>, ()> {
    match uri.transport() {
        None => Ok(None),
        Some(t) if t.eq_ignore_ascii_case("udp") => Ok(Some(Proto::Udp)),
        Some(t) if t.eq_ignore_ascii_case("tcp") => Ok(Some(Proto::Tcp)),
        Some(_) => Err(()),
    }
}

/// Checks whether this server is the first hop: for a request, that it
/// has a single Via; for a reply, that its top Record-Route is this server
/// (an IP address, given with or without port and transport) and that the
/// reply does not come from that same address (a loop).
///
/// # Returns
/// 1 when first hop, -1 when not or when the Record-Route cannot be
/// parsed.
///
/// # Example
/// ```js
/// if (KSR.siputils.is_first_hop() > 0) {
///     KSR.info("from our own client\n");
/// }
/// ```
#[kemi]
pub fn is_first_hop(ctx: &mut Ctx) -> i32 {
    first_hop(ctx, 0)
}

/// Checks whether this server is the first hop, with a mode for replies.
///
/// # Parameters
/// - `mode`: 0 as `is_first_hop`; 1 also accepts a top Record-Route whose
///   host is a name of this server, and skips the loop check.
///
/// # Returns
/// 1 when first hop, -1 when not or when the Record-Route cannot be
/// parsed.
///
/// # Example
/// ```js
/// if (KSR.siputils.is_first_hop_mode(1) > 0) {
///     KSR.info("first hop\n");
/// }
/// ```
#[kemi]
pub fn is_first_hop_mode(ctx: &mut Ctx, mode: i32) -> i32 {
    first_hop(ctx, mode)
}

fn first_hop(ctx: &mut Ctx, mode: i32) -> i32 {
    let Some(msg) = ctx.msg() else {
        return -1;
    };
    if msg.is_request() {
        return match msg.vias() {
            Ok(v) if v.len() > 1 => -1,
            _ => 1,
        };
    }
    let rr = match msg.record_routes() {
        Ok(r) => r,
        Err(e) => {
            log::debug(ORIGIN, format_args!("cannot parse Record-Route: {e}"));
            return -1;
        }
    };
    let Some(top) = rr.first() else {
        return 1;
    };
    let uri = top.uri();
    let ip = uri.host_ip();
    if mode == 0 && ip.is_none() {
        log::debug(
            ORIGIN,
            format_args!("top Record-Route host is not an IP address"),
        );
        return -1;
    }
    let Ok(proto) = uri_proto(&uri) else {
        return -1;
    };
    let Some(core) = ctx.core() else {
        log::error(ORIGIN, format_args!("no server to compare addresses with"));
        return -1;
    };
    if !core.is_myself(uri.host(), uri.port(), proto) {
        return -1;
    }
    if mode == 0 {
        if let (Some(ip), Some(recv)) = (ip, ctx.recv()) {
            let same_port = match uri.port() {
                Some(p) => p == recv.src.port(),
                None => recv.src.port() == 5060,
            };
            let same_proto = proto.unwrap_or(Proto::Udp) == recv.proto;
            if ip == recv.src.ip() && same_port && same_proto {
                log::debug(
                    ORIGIN,
                    format_args!("reply comes from the top Record-Route: loop"),
                );
                return -1;
            }
        }
    }
    1
}

// ---------------------------------------------------------------------------
// Strings.

/// Checks whether a string is a valid SIP, SIPS or tel URI.
///
/// # Parameters
/// - `suri`: the string.
///
/// # Returns
/// 1 when valid, -1 when not.
///
/// # Example
/// ```js
/// if (KSR.siputils.is_uri(KSR.pv.gete("$hdr(Refer-To)")) < 0) {
///     KSR.sl.sl_send_reply(400, "Bad Refer-To");
/// }
/// ```
#[kemi(toplevel)]
pub fn is_uri(_ctx: &mut Ctx, suri: &str) -> i32 {
    match Uri::parse(suri) {
        Ok(u) if u.scheme() != Scheme::Other && u.as_str().len() == suri.len() => 1,
        _ => -1,
    }
}

/// Checks whether a string is a telephone number: an optional `+` with a
/// non-zero digit after it, then digits only.
///
/// # Parameters
/// - `tval`: the string.
///
/// # Returns
/// 1 when it is, -2 when not (or empty).
///
/// # Example
/// ```js
/// if (KSR.siputils.is_tel_number(KSR.pv.gete("$rU")) > 0) {
///     KSR.info("dialled a number\n");
/// }
/// ```
#[kemi(toplevel)]
pub fn is_tel_number(_ctx: &mut Ctx, tval: &str) -> i32 {
    let digits = match tval.strip_prefix('+') {
        Some(rest) => {
            if !rest.starts_with(|c: char| ('1'..='9').contains(&c)) {
                return -2;
            }
            rest
        }
        None if tval.is_empty() => return -2,
        None => tval,
    };
    if digits.bytes().all(|c| c.is_ascii_digit()) {
        1
    } else {
        -2
    }
}

/// Checks whether a string has decimal digits only.
///
/// # Parameters
/// - `tval`: the string.
///
/// # Returns
/// 1 when it has, -2 when not (or empty).
///
/// # Example
/// ```js
/// if (KSR.siputils.is_numeric(KSR.pv.gete("$rU")) > 0) {
///     KSR.info("numeric user\n");
/// }
/// ```
#[kemi(toplevel)]
pub fn is_numeric(_ctx: &mut Ctx, tval: &str) -> i32 {
    if !tval.is_empty() && tval.bytes().all(|c| c.is_ascii_digit()) {
        1
    } else {
        -2
    }
}

/// Checks whether a string has ASCII letters and digits only.
///
/// # Parameters
/// - `tval`: the string.
///
/// # Returns
/// 1 when it has, -3 when another character is present, -2 when empty.
///
/// # Example
/// ```js
/// if (KSR.siputils.is_alphanum(KSR.pv.gete("$fU")) < 0) {
///     KSR.sl.sl_send_reply(400, "Bad User");
/// }
/// ```
#[kemi(toplevel)]
pub fn is_alphanum(_ctx: &mut Ctx, tval: &str) -> i32 {
    is_alphanumex(_ctx, tval, "")
}

/// Checks whether a string has ASCII letters, digits and characters of a
/// given set only.
///
/// # Parameters
/// - `tval`: the string.
/// - `eset`: the other characters allowed.
///
/// # Returns
/// 1 when it has, -3 when another character is present, -2 when empty.
///
/// # Example
/// ```js
/// if (KSR.siputils.is_alphanumex(KSR.pv.gete("$fU"), "-_.") < 0) {
///     KSR.sl.sl_send_reply(400, "Bad User");
/// }
/// ```
#[kemi(toplevel)]
pub fn is_alphanumex(_ctx: &mut Ctx, tval: &str, eset: &str) -> i32 {
    if tval.is_empty() {
        return -2;
    }
    if tval
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || eset.as_bytes().contains(&c))
    {
        1
    } else {
        -3
    }
}

// ---------------------------------------------------------------------------
// Comparisons.

/// 1 for equal, -1 for different, -2 when a side does not parse.
fn compare_uris(u1: &str, u2: &str, f: impl Fn(&Uri, &Uri) -> bool) -> i32 {
    match (Uri::parse(u1), Uri::parse(u2)) {
        (Ok(a), Ok(b)) => {
            if f(&a, &b) {
                1
            } else {
                -1
            }
        }
        _ => -2,
    }
}

/// Compares two SIP URIs by the rules of RFC 3261 §19.1.4 (user and
/// password case-sensitive, host case-insensitive, ports equal, the
/// `user`, `ttl`, `method`, `maddr` and `transport` parameters must match
/// when either has them, other parameters when both have them).
///
/// # Parameters
/// - `uri1`: the first URI.
/// - `uri2`: the second URI.
///
/// # Returns
/// 1 when they match, -1 when not, -2 when one does not parse.
///
/// # Example
/// ```js
/// if (KSR.siputils.cmp_uri(KSR.pv.gete("$ru"), KSR.pv.gete("$tu")) > 0) {
///     KSR.info("request to the To URI\n");
/// }
/// ```
#[kemi(toplevel)]
pub fn cmp_uri(_ctx: &mut Ctx, uri1: &str, uri2: &str) -> i32 {
    compare_uris(uri1, uri2, |a, b| a.equivalent(b))
}

/// Compares the addresses of record of two URIs: user (case-sensitive),
/// host (case-insensitive) and port (a missing port equals 5060); scheme
/// and parameters are ignored.
///
/// # Parameters
/// - `uri1`: the first URI.
/// - `uri2`: the second URI.
///
/// # Returns
/// 1 when they match, -1 when not, -2 when one does not parse.
///
/// # Example
/// ```js
/// if (KSR.siputils.cmp_aor(KSR.pv.gete("$fu"), KSR.pv.gete("$tu")) > 0) {
///     KSR.info("calling self\n");
/// }
/// ```
#[kemi(toplevel)]
pub fn cmp_aor(_ctx: &mut Ctx, uri1: &str, uri2: &str) -> i32 {
    compare_uris(uri1, uri2, |a, b| {
        a.user() == b.user()
            && a.host().eq_ignore_ascii_case(b.host())
            && a.port().unwrap_or(5060) == b.port().unwrap_or(5060)
    })
}

/// Compares two header names: compact forms and case are handled
/// (`f` equals `From`).
///
/// # Parameters
/// - `hname1`: the first name.
/// - `hname2`: the second name.
///
/// # Returns
/// 1 when they name the same header, -1 or -2 when not (-1 when the
/// first sorts after the second), -2 when a name is empty.
///
/// # Example
/// ```js
/// if (KSR.siputils.cmp_hdr_name("v", "Via") > 0) {
///     KSR.info("same header\n");
/// }
/// ```
#[kemi(toplevel)]
pub fn cmp_hdr_name(_ctx: &mut Ctx, hname1: &str, hname2: &str) -> i32 {
    let (a, b) = (hname1.trim_end(), hname2.trim_end());
    if a.is_empty() || b.is_empty() {
        log::error(ORIGIN, format_args!("empty header name"));
        return -2;
    }
    let (ka, kb) = (HeaderName::from_str(a), HeaderName::from_str(b));
    if ka != HeaderName::Other || kb != HeaderName::Other {
        return if ka == kb { 1 } else { -1 };
    }
    let la = a.bytes().map(|c| c.to_ascii_lowercase());
    let lb = b.bytes().map(|c| c.to_ascii_lowercase());
    match la.cmp(lb) {
        std::cmp::Ordering::Equal => 1,
        std::cmp::Ordering::Greater => -1,
        std::cmp::Ordering::Less => -2,
    }
}

// ---------------------------------------------------------------------------
// The Request-URI.

/// The current Request-URI, logging why there is none.
fn ruri<'m>(msg: &'m SipMsg) -> Option<Uri<'m>> {
    match msg.ruri() {
        Ok(u) => Some(u),
        Err(e) => {
            log::error(ORIGIN, format_args!("cannot parse the Request-URI: {e}"));
            None
        }
    }
}

/// Checks whether the Request-URI has a parameter given without a value
/// (such as `;lr`). The name is compared case-sensitively.
///
/// # Parameters
/// - `param`: the parameter name.
///
/// # Returns
/// 1 when present without a value, -1 when absent, given a value, or the
/// Request-URI does not parse (logged).
///
/// # Example
/// ```js
/// if (KSR.siputils.uri_param("gw") > 0) {
///     KSR.info("to a gateway\n");
/// }
/// ```
#[kemi]
pub fn uri_param(ctx: &mut Ctx, param: &str) -> i32 {
    uri_param_check(ctx, param, None)
}

/// Checks whether the Request-URI has a parameter with a given value
/// (name and value compared case-sensitively).
///
/// # Parameters
/// - `param`: the parameter name.
/// - `value`: the value.
///
/// # Returns
/// 1 when present with that value, -1 otherwise or when the Request-URI
/// does not parse (logged).
///
/// # Example
/// ```js
/// if (KSR.siputils.uri_param_value("user", "phone") > 0) {
///     KSR.info("telephone number\n");
/// }
/// ```
#[kemi]
pub fn uri_param_value(ctx: &mut Ctx, param: &str, value: &str) -> i32 {
    uri_param_check(ctx, param, Some(value))
}

fn uri_param_check(ctx: &mut Ctx, param: &str, value: Option<&str>) -> i32 {
    let Some(uri) = ctx.msg().and_then(ruri) else {
        return -1;
    };
    let Some(p) = Iterator::find(&mut uri.params(), |p| p.name == param) else {
        return -1;
    };
    let ok = match value {
        None => p.value.is_none_or(str::is_empty),
        Some(v) => p.value.unwrap_or("") == v,
    };
    if ok {
        1
    } else {
        -1
    }
}

/// Checks whether the Request-URI has a parameter, with or without a value
/// (name compared case-insensitively).
///
/// # Parameters
/// - `param`: the parameter name.
///
/// # Returns
/// 1 when present, -1 when absent or the Request-URI does not parse
/// (logged).
///
/// # Example
/// ```js
/// if (KSR.siputils.uri_param_any("transport") > 0) {
///     KSR.info("explicit transport\n");
/// }
/// ```
#[kemi]
pub fn uri_param_any(ctx: &mut Ctx, param: &str) -> i32 {
    match ctx.msg().and_then(ruri) {
        Some(uri) if uri.has_param(param) => 1,
        _ => -1,
    }
}

/// Removes a parameter (name compared case-insensitively) from the
/// Request-URI; the change is immediately visible as `$ru`.
///
/// # Parameters
/// - `param`: the parameter name.
///
/// # Returns
/// 1 when removed or when absent, -1 when the Request-URI does not parse
/// (logged).
///
/// # Example
/// ```js
/// KSR.siputils.uri_param_rm("gw");
/// ```
#[kemi]
pub fn uri_param_rm(ctx: &mut Ctx, param: &str) -> i32 {
    let Some(msg) = ctx.msg_mut() else {
        return -1;
    };
    let Some(uri) = ruri(msg) else {
        return -1;
    };
    let text = uri.as_str();
    let params = uri.params_str();
    let Some(start) = text.find(params).filter(|_| !params.is_empty()) else {
        return 1;
    };
    let Some(kept) = remove_param(params, param) else {
        return 1;
    };
    let new = format!(
        "{}{}{}",
        &text[..start],
        kept,
        &text[start + params.len()..]
    );
    set_ruri(msg, &new)
}

/// `params` (a `;a=1;b` list) without the first parameter named `name`;
/// `None` when there is none.
fn remove_param(params: &str, name: &str) -> Option<String> {
    let mut out = String::with_capacity(params.len());
    let mut removed = false;
    for p in UriParams::parse(params) {
        if !removed && p.name.eq_ignore_ascii_case(name) {
            removed = true;
            continue;
        }
        out.push(';');
        out.push_str(p.name);
        if let Some(v) = p.value {
            out.push('=');
            out.push_str(v);
        }
    }
    removed.then_some(out)
}

fn set_ruri(msg: &mut SipMsg, uri: &str) -> i32 {
    match msg.set_ruri(uri) {
        Ok(()) => 1,
        Err(e) => {
            log::error(
                ORIGIN,
                format_args!("cannot set the Request-URI to `{uri}`: {e}"),
            );
            -1
        }
    }
}

/// Appends a parameter to the Request-URI (before its headers part, if
/// any); the change is immediately visible as `$ru`.
///
/// # Parameters
/// - `param`: the parameter, `name` or `name=value`, without `;`.
///
/// # Returns
/// 1 when added (and when `param` is empty), -1 when the Request-URI does
/// not parse or the result is not a valid URI (logged).
///
/// # Example
/// ```js
/// KSR.siputils.add_uri_param("user=phone");
/// ```
#[kemi]
pub fn add_uri_param(ctx: &mut Ctx, param: &str) -> i32 {
    if param.is_empty() {
        return 1;
    }
    let Some(msg) = ctx.msg_mut() else {
        return -1;
    };
    let Some(uri) = ruri(msg) else {
        return -1;
    };
    let text = uri.as_str();
    let new = match uri.headers() {
        None => format!("{text};{param}"),
        Some(h) => {
            let q = text.len() - h.len() - 1;
            format!("{};{param}{}", &text[..q], &text[q..])
        }
    };
    set_ruri(msg, &new)
}

/// Checks whether the Request-URI is a GRUU (RFC 5627): it has a `gr`
/// parameter.
///
/// # Returns
/// 1 for a public GRUU (`gr` with a value), 2 for a temporary one (`gr`
/// without value), -1 when not a GRUU or the Request-URI does not parse.
///
/// # Example
/// ```js
/// if (KSR.siputils.is_gruu() > 0) {
///     KSR.info("to a GRUU\n");
/// }
/// ```
#[kemi]
pub fn is_gruu(ctx: &mut Ctx) -> i32 {
    let Some(uri) = ctx.msg().and_then(ruri) else {
        return -1;
    };
    match Iterator::find(&mut uri.params(), |p| p.name.eq_ignore_ascii_case("gr")) {
        Some(p) if p.value.is_some_and(|v| !v.is_empty()) => 1,
        Some(_) => 2,
        None => -1,
    }
}

// ---------------------------------------------------------------------------
// Credentials and dates.

/// The user part of the `username` in the first Authorization (else
/// Proxy-Authorization) header.
fn credentials_user(msg: &SipMsg) -> Option<&str> {
    let h = msg
        .header(HeaderName::Authorization)
        .or_else(|| msg.header(HeaderName::ProxyAuthorization))?;
    let (_scheme, rest) = h.value.split_once(|c: char| c.is_ascii_whitespace())?;
    let username = crate::sip::split_commas(rest).find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("username")
            .then(|| unquote(v.trim()))
    })?;
    Some(username.split('@').next().unwrap_or(username))
}

/// Checks the user name of the credentials the request carries (the first
/// Authorization header, else Proxy-Authorization; the part before `@`).
/// kemid takes the credentials as sent: call this only after the request
/// was authenticated.
///
/// # Parameters
/// - `suser`: the expected user name (case-sensitive).
///
/// # Returns
/// 1 when it matches, -1 when not or when there are no credentials
/// (logged).
///
/// # Example
/// ```js
/// if (KSR.siputils.is_user("admin") > 0) {
///     KSR.info("administrator\n");
/// }
/// ```
#[kemi]
pub fn is_user(ctx: &mut Ctx, suser: &str) -> i32 {
    let Some(msg) = ctx.msg() else {
        return -1;
    };
    match credentials_user(msg) {
        Some(u) if !u.is_empty() && u == suser => 1,
        Some(_) => -1,
        None => {
            log::error(ORIGIN, format_args!("no credentials found in the request"));
            -1
        }
    }
}

/// Seconds since 1970 of a civil date (proleptic Gregorian, UTC).
fn unix_time(year: i64, month: u32, day: u32, h: u32, m: u32, s: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(s)
}

/// Parses an RFC 1123 date (`Sun, 06 Nov 1994 08:49:37 GMT`, the SIP-date
/// of RFC 3261 §25.1) into seconds since 1970.
pub(crate) fn parse_sip_date(text: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let rest = text.trim().split_once(',')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let [day, month, year, time, zone] = f.as_slice() else {
        return None;
    };
    if *zone != "GMT" || day.len() != 2 || year.len() != 4 {
        return None;
    }
    let day: u32 = day.parse().ok()?;
    let month = u32::try_from(MONTHS.iter().position(|m| m == month)? + 1).ok()?;
    let year: i64 = year.parse().ok()?;
    let t: Vec<u32> = time
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = t.as_slice() else {
        return None;
    };
    if !(1..=31).contains(&day) || *h > 23 || *m > 59 || *s > 60 {
        return None;
    }
    Some(unix_time(year, month, day, *h, *m, *s))
}

/// Checks that the Date header is recent: not older than a given number of
/// seconds.
///
/// # Parameters
/// - `tdiff`: the largest accepted age, in seconds.
///
/// # Returns
/// 1 when the date is recent enough, -4 when it is older, -1 when there is
/// no Date header or it does not parse (logged).
///
/// # Example
/// ```js
/// if (KSR.siputils.hdr_date_check(300) < 0) {
///     KSR.sl.sl_send_reply(403, "Stale Date");
/// }
/// ```
#[kemi]
pub fn hdr_date_check(ctx: &mut Ctx, tdiff: i32) -> i32 {
    let Some(msg) = ctx.msg() else {
        return -1;
    };
    let Some(h) = msg.header(HeaderName::Date) else {
        log::error(ORIGIN, format_args!("Date header field is not found"));
        return -1;
    };
    let Some(date) = parse_sip_date(h.value) else {
        log::error(
            ORIGIN,
            format_args!("failed parsing Date header `{}`", h.value),
        );
        return -1;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    if now > date + i64::from(tdiff) {
        log::error(
            ORIGIN,
            format_args!("outdated date header value ({} sec)", now - date),
        );
        return -4;
    }
    1
}

// ---------------------------------------------------------------------------
// OPTIONS.

/// The methods a kemid proxy routes, for the Allow header of its own
/// OPTIONS answer.
const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, SUBSCRIBE, NOTIFY, REFER, INFO, MESSAGE, PRACK, UPDATE, PUBLISH";

/// Answers an OPTIONS request addressed to the server itself (no user
/// part in the Request-URI) with 200 OK and the capability headers of RFC
/// 3261 §11.2: Allow, Accept, Accept-Encoding, Accept-Language and
/// Supported (the last four from the module parameters `options_accept`,
/// `options_accept_encoding`, `options_accept_language`,
/// `options_support`). Kamailio sends no Allow header; kemid adds one.
/// Header lines added with `KSR.hdr.append_to_reply` are included.
///
/// # Returns
/// 1 when the reply was sent, -1 when the request is not an OPTIONS, its
/// Request-URI has a user part or does not parse, or sending failed
/// (logged).
///
/// # Example
/// ```js
/// if (KSR.is_OPTIONS() && KSR.is_myself_ruri() && KSR.corex.has_ruri_user() < 0) {
///     KSR.siputils.options_reply();
///     KSR.x.exit();
/// }
/// ```
#[kemi]
pub fn options_reply(ctx: &mut Ctx) -> i32 {
    let Some(msg) = ctx.msg() else {
        return -1;
    };
    if msg.method() != Some(Method::Options) {
        log::error(
            ORIGIN,
            format_args!("options_reply called for a non-OPTIONS request"),
        );
        return -1;
    }
    match msg.ruri() {
        Ok(u) if u.user().is_some_and(|u| !u.is_empty()) => {
            log::error(ORIGIN, format_args!("ruri contains username"));
            return -1;
        }
        Ok(_) => {}
        Err(e) => {
            log::error(ORIGIN, format_args!("error while parsing the R-URI: {e}"));
            return -1;
        }
    }
    let (accept, encoding, language, support) = match MODULE.state(ctx) {
        Some(p) => (
            p.options_accept.as_str(),
            p.options_accept_encoding.as_str(),
            p.options_accept_language.as_str(),
            p.options_support.as_str(),
        ),
        None => ("*/*", "", "en", ""),
    };
    let headers = format!(
        "{}Allow: {ALLOW}\r\nAccept: {accept}\r\nAccept-Encoding: {encoding}\r\nAccept-Language: {language}\r\nSupported: {support}\r\n",
        ctx.state().reply_headers,
    );
    send_local_reply_with(ctx, 200, "OK", &headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CfgValue;
    use crate::ctx::{CoreServices, WorkerLocal};
    use crate::modules::textops::tests::{recv, with_msg, INVITE};
    use std::cell::RefCell;
    use std::net::SocketAddr;

    /// A server that is 192.0.2.10:5060 and records what it sends.
    struct TestCore {
        sent: RefCell<Vec<Vec<u8>>>,
        modules: crate::module::Modules,
    }

    impl Default for TestCore {
        fn default() -> TestCore {
            TestCore {
                sent: RefCell::default(),
                modules: crate::module::Modules::for_test(&["siputils"], &[]),
            }
        }
    }

    impl CoreServices for TestCore {
        fn is_myself(&self, host: &str, port: Option<u16>, _proto: Option<Proto>) -> bool {
            host == "192.0.2.10" && port.is_none_or(|p| p == 5060)
        }
        fn send(
            &self,
            _: Proto,
            _: SocketAddr,
            _: Option<u64>,
            data: &[u8],
        ) -> std::io::Result<()> {
            self.sent.borrow_mut().push(data.to_vec());
            Ok(())
        }
        fn server_header(&self) -> Option<&str> {
            Some("Server: kemid")
        }
        fn advertised(&self, _: Proto, local: SocketAddr) -> (String, u16) {
            (local.ip().to_string(), local.port())
        }
        fn modules(&self) -> Option<&crate::module::Modules> {
            Some(&self.modules)
        }
    }

    fn with_core<R>(raw: &str, core: &TestCore, f: impl FnOnce(&mut Ctx) -> R) -> R {
        let mut msg = SipMsg::parse(raw.to_owned()).expect("parses");
        let mut w = WorkerLocal::default();
        let mut ctx = Ctx::for_message(&mut w, &mut msg, recv()).with_core(core);
        f(&mut ctx)
    }

    const OPTIONS: &str = "OPTIONS sip:192.0.2.10 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKo\r\n\
        From: <sip:mon@example.com>;tag=9\r\n\
        To: <sip:192.0.2.10>\r\n\
        Call-ID: o1\r\n\
        CSeq: 5 OPTIONS\r\n\
        Content-Length: 0\r\n\r\n";

    #[test]
    fn options_reply_sends_capabilities() {
        let core = TestCore {
            modules: crate::module::Modules::for_test(
                &[],
                &[(
                    "siputils",
                    "options_accept",
                    CfgValue::Str("application/sdp".into()),
                )],
            ),
            ..TestCore::default()
        };
        let r = with_core(OPTIONS, &core, |c| {
            crate::modules::hdr::append_to_reply(c, "X-Pong: 1\r\n");
            options_reply(c)
        });
        assert_eq!(r, 1);
        let sent = core.sent.borrow();
        let reply = String::from_utf8_lossy(&sent[0]);
        assert!(reply.starts_with("SIP/2.0 200 OK\r\n"), "{reply}");
        assert!(
            reply.contains("\r\nServer: kemid\r\nX-Pong: 1\r\nAllow: INVITE"),
            "{reply}"
        );
        assert!(reply.contains("\r\nAccept: application/sdp\r\nAccept-Encoding: \r\nAccept-Language: en\r\nSupported: \r\nContent-Length: 0\r\n\r\n"), "{reply}");
        let core = TestCore::default();
        let with_user = OPTIONS.replacen("sip:192.0.2.10 SIP", "sip:u@192.0.2.10 SIP", 1);
        let r = with_core(&with_user, &core, options_reply);
        let r2 = with_core(INVITE, &core, options_reply);
        assert_eq!((r, r2), (-1, -1));
        assert!(core.sent.borrow().is_empty());
    }

    #[test]
    fn message_kind() {
        let (r, _, _) = with_msg(INVITE, |c| {
            (
                has_totag(c),
                is_request(c),
                is_reply(c),
                is_sip(c),
                is_http(c),
                sip_parse_headers(c),
            )
        });
        assert_eq!(r, (-1, 1, -1, 1, -1, 1));
        let reply = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@b>;tag=x\r\nCSeq: x\r\n\r\n";
        let (r, _, _) = with_msg(reply, |c| {
            (
                has_totag(c),
                is_request(c),
                is_reply(c),
                sip_parse_headers(c),
            )
        });
        assert_eq!(r, (1, -1, 1, -1));
    }

    #[test]
    fn first_hop() {
        let two_vias = INVITE.replacen("Via: ", "Via: SIP/2.0/UDP p;branch=z9hG4bKp\r\nVia: ", 1);
        let (r, _, _) = with_msg(INVITE, is_first_hop);
        let (r2, _, _) = with_msg(&two_vias, is_first_hop);
        assert_eq!((r, r2), (1, -1));
        let core = TestCore::default();
        let reply = |rr: &str| {
            format!("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1\r\n{rr}To: <sip:a@b>;tag=x\r\n\r\n")
        };
        assert_eq!(with_core(&reply(""), &core, is_first_hop), 1);
        assert_eq!(
            with_core(
                &reply("Record-Route: <sip:192.0.2.10;lr>\r\n"),
                &core,
                is_first_hop
            ),
            1
        );
        assert_eq!(
            with_core(
                &reply("Record-Route: <sip:192.0.2.99;lr>\r\n"),
                &core,
                is_first_hop
            ),
            -1
        );
        assert_eq!(
            with_core(
                &reply("Record-Route: <sip:proxy.example.com;lr>\r\n"),
                &core,
                is_first_hop
            ),
            -1
        );
        // A transport kemid does not serve cannot name this server.
        assert_eq!(
            with_core(
                &reply("Record-Route: <sip:192.0.2.10;transport=tls;lr>\r\n"),
                &core,
                is_first_hop
            ),
            -1
        );
    }

    #[test]
    fn string_checks() {
        let (r, _, _) = with_msg(INVITE, |c| {
            (
                is_uri(c, "sip:alice@example.com;transport=tcp"),
                is_uri(c, "tel:+1-555"),
                is_uri(c, "http://example.com"),
                is_uri(c, "sip:"),
                is_tel_number(c, "+441234"),
                is_tel_number(c, "+0123"),
                is_tel_number(c, "12a"),
                is_numeric(c, "0123"),
                is_numeric(c, ""),
                is_alphanum(c, "abc123"),
                is_alphanum(c, "a-b"),
                is_alphanumex(c, "a-b.c", "-."),
            )
        });
        assert_eq!(r, (1, 1, -1, -1, 1, -2, -2, 1, -2, 1, -3, 1));
    }

    #[test]
    fn comparisons() {
        let (r, _, _) = with_msg(INVITE, |c| {
            (
                cmp_uri(
                    c,
                    "sip:%61lice@Example.com;transport=TCP",
                    "sip:alice@example.com;transport=tcp",
                ),
                cmp_uri(c, "sip:a@h", "sip:a@h:5060"),
                cmp_uri(c, "sip:a@h", "not a uri"),
                cmp_aor(c, "sip:a@H:5060;x=1", "sips:a@h"),
                cmp_aor(c, "sip:a@h", "sip:b@h"),
                cmp_hdr_name(c, "f", "FROM"),
                cmp_hdr_name(c, "X-A", "x-a "),
                cmp_hdr_name(c, "X-A", "X-B"),
                cmp_hdr_name(c, "v", "To"),
            )
        });
        assert_eq!(r, (1, -1, -2, 1, -1, 1, 1, -2, -1));
    }

    #[test]
    fn request_uri_parameters() {
        let m = INVITE.replacen(
            "sip:bob@example.com SIP",
            "sip:bob@example.com;lr;user=phone;gr=urn:x;Transport=udp?Subject=x SIP",
            1,
        );
        let (r, _, msg) = with_msg(&m, |c| {
            (
                uri_param(c, "lr"),
                uri_param(c, "user"),
                uri_param(c, "LR"),
                uri_param_value(c, "user", "phone"),
                uri_param_value(c, "user", "PHONE"),
                uri_param_any(c, "transport"),
                is_gruu(c),
                uri_param_rm(c, "USER"),
                add_uri_param(c, "x=1"),
            )
        });
        assert_eq!(r, (1, -1, -1, 1, -1, 1, 1, 1, 1));
        assert_eq!(
            msg.ruri_str(),
            Some("sip:bob@example.com;lr;gr=urn:x;Transport=udp;x=1?Subject=x")
        );
        let (r, _, msg) = with_msg(INVITE, |c| {
            (
                add_uri_param(c, "user=phone"),
                uri_param_rm(c, "nope"),
                is_gruu(c),
            )
        });
        assert_eq!(r, (1, 1, -1));
        assert_eq!(msg.ruri_str(), Some("sip:bob@example.com;user=phone"));
        assert_eq!(remove_param(";a;b=2;c", "B").as_deref(), Some(";a;c"));
    }

    #[test]
    fn credentials_and_dates() {
        let m = INVITE.replacen(
            "CSeq:",
            "Proxy-Authorization: Digest username=\"alice@example.com\", realm=\"example.com\", nonce=\"n\", uri=\"sip:bob@example.com\", response=\"r\"\r\nCSeq:",
            1,
        );
        let (r, _, _) = with_msg(&m, |c| (is_user(c, "alice"), is_user(c, "bob")));
        assert_eq!(r, (1, -1));
        let (r, _, _) = with_msg(INVITE, |c| is_user(c, "alice"));
        assert_eq!(r, -1);
        assert_eq!(
            parse_sip_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(parse_sip_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_sip_date("Sat, 29 Feb 2020 12:00:00 GMT"),
            Some(1_582_977_600)
        );
        assert_eq!(parse_sip_date("06 Nov 1994 08:49:37 GMT"), None);
        assert_eq!(parse_sip_date("Sun, 06 Nov 1994 08:49:37 PST"), None);
        let old = INVITE.replacen("CSeq:", "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nCSeq:", 1);
        let (r, _, _) = with_msg(&old, |c| {
            (hdr_date_check(c, 60), hdr_date_check(c, i32::MAX))
        });
        assert_eq!(r, (-4, 1));
        let (r, _, _) = with_msg(INVITE, |c| hdr_date_check(c, 60));
        assert_eq!(r, -1);
    }
}
