//! `KSR.sanity`: checks that a request is well formed before routing it,
//! replying with a precise error when it is not.
//!
//! The checks are chosen with a bit mask (the sum of their numbers):
//!
//! | bit | check |
//! |---|---|
//! | 1 | the Request-URI's SIP version is 2.0 (else 505) |
//! | 2 | the Request-URI parses (else 400) and its scheme is sip, sips, tel or tels (else 416) |
//! | 4 | From, To, Call-ID and CSeq are present, once each (no reply) |
//! | 8, 16 | Via version and protocol: always pass, as in Kamailio |
//! | 32 | the CSeq method equals the request method (else 400) |
//! | 64 | the CSeq number is a 32-bit unsigned integer (else 400) |
//! | 128 | Content-Length equals the body size (else 400) |
//! | 256 | Expires is a 32-bit unsigned integer (else 400) |
//! | 512 | every Proxy-Require extension is in the `proxy_require` parameter (else 420 with `Unsupported:`) |
//! | 1024 | the URIs chosen by the second mask parse: 1 Request-URI, 2 From, 4 To, 8 Contact (else 400) |
//! | 2048 | every Authorization/Proxy-Authorization is complete Digest credentials (else 400; another scheme fails without reply) |
//! | 4096 | From and To have at most one tag (else 400) |
//! | 8192 | like 2048, but credentials of other schemes pass |
//! | 16384 | the top Via parses and has a host (no reply) |
//! | 32768 | the six headers RFC 3261 §8.1.1 requires (To, From, CSeq, Call-ID, Max-Forwards, Via) are present (else 400); kemid's reading of this bit |
//! | 65536 | sizes within the `size_*` parameters (no reply) |
//!
//! A failing check replies statelessly at once, with any header lines
//! added by `KSR.hdr.append_to_reply`, unless the module parameter
//! `noreply` is 1: then the reply is kept for `sanity_reply()`. ACKs and
//! replies are never answered. Checks about the request line pass for
//! replies.
//!
//! Module parameters: `default_checks` (3047), `uri_checks` (7),
//! `proxy_require` (comma-separated extensions, none by default),
//! `noreply` (0), `size_checks` (0: the size check only when bit 65536 is
//! asked) and the limits `size_message` (16384), `size_ruri` (256),
//! `size_method` (32), `size_header` (2048), `size_headers` (8192),
//! `size_body` (8192), `size_from_uri`, `size_to_uri`,
//! `size_contact_uri`, `size_route_uri` (256 each).

use kemid_macros::kemi;

use crate::ctx::Ctx;
use crate::log;
use crate::module::Module;
use crate::modules::sl::send_local_reply_with;
use crate::sip::{split_commas, unquote, Contacts, HeaderName, Method, Scheme, SipMsg, StartLine};

const RURI_SIP_VERSION: i32 = 1;
const RURI_SCHEME: i32 = 1 << 1;
const REQUIRED_HEADERS: i32 = 1 << 2;
const CSEQ_METHOD: i32 = 1 << 5;
const CSEQ_VALUE: i32 = 1 << 6;
const CONTENT_LENGTH: i32 = 1 << 7;
const EXPIRES_VALUE: i32 = 1 << 8;
const PROXY_REQUIRE: i32 = 1 << 9;
const PARSE_URIS: i32 = 1 << 10;
const DIGEST: i32 = 1 << 11;
const DUPTAGS: i32 = 1 << 12;
const AUTHORIZATION: i32 = 1 << 13;
const VIA1_HEADER: i32 = 1 << 14;
const RFC3261: i32 = 1 << 15;
const SIZES: i32 = 1 << 16;

const URI_RURI: i32 = 1;
const URI_FROM: i32 = 1 << 1;
const URI_TO: i32 = 1 << 2;
const URI_CONTACT: i32 = 1 << 3;

/// Why a check failed: the reply to send, or `None` when the request
/// cannot or must not be answered.
type Failure = Option<(u16, &'static str)>;

/// `modparam("sanity", ...)`.
#[derive(Clone, Debug, kemid_macros::ModParams)]
pub struct Params {
    /// The checks of `sanity_check_defaults()`, a sum of check bits.
    #[param(default = 3047, range = "0..=131071")]
    pub default_checks: i32,
    /// The URIs `sanity_check_defaults()` parses: 1 R-URI, 2 From, 4 To, 8
    /// Contact.
    #[param(default = 7, range = "0..=15")]
    pub uri_checks: i32,
    /// The Proxy-Require extensions accepted, comma-separated.
    #[param(default = "")]
    pub proxy_require: String,
    /// 1: keep the error reply for `sanity_reply()` instead of sending it.
    #[param(default = false)]
    pub noreply: bool,
    #[param(inert)]
    pub autodrop: i64,
    /// 1: check sizes on every `sanity_check`.
    #[param(default = false)]
    pub size_checks: bool,
    /// With `size_checks`: The largest message, in bytes.
    #[param(default = 16384, range = "0..=4294967295")]
    pub size_message: u32,
    /// With `size_checks`: The longest method.
    #[param(default = 32, range = "0..=4294967295")]
    pub size_method: u32,
    /// With `size_checks`: The longest Request-URI.
    #[param(default = 256, range = "0..=4294967295")]
    pub size_ruri: u32,
    /// With `size_checks`: The longest From URI.
    #[param(default = 256, range = "0..=4294967295")]
    pub size_from_uri: u32,
    /// With `size_checks`: The longest To URI.
    #[param(default = 256, range = "0..=4294967295")]
    pub size_to_uri: u32,
    /// With `size_checks`: The longest Contact URI.
    #[param(default = 256, range = "0..=4294967295")]
    pub size_contact_uri: u32,
    /// With `size_checks`: The longest Route or Record-Route URI.
    #[param(default = 256, range = "0..=4294967295")]
    pub size_route_uri: u32,
    /// With `size_checks`: The longest header line.
    #[param(default = 2048, range = "0..=4294967295")]
    pub size_header: u32,
    /// With `size_checks`: The largest header section.
    #[param(default = 8192, range = "0..=4294967295")]
    pub size_headers: u32,
    /// With `size_checks`: The largest body.
    #[param(default = 8192, range = "0..=4294967295")]
    pub size_body: u32,
}

/// `loadmodule "sanity.so"`; its state is its settings.
pub static MODULE: Module<Settings> =
    Module::new("sanity", "request sanity checks with error replies")
        .init(|cx| Ok(Settings::new(&cx.params())));

/// The settings, from the module parameters.
pub struct Settings {
    proxy_require: Vec<String>,
    size_checks: bool,
    sizes: Sizes,
    noreply: bool,
    default_checks: i32,
    uri_checks: i32,
}

struct Sizes {
    message: usize,
    ruri: usize,
    method: usize,
    header: usize,
    headers: usize,
    body: usize,
    from_uri: usize,
    to_uri: usize,
    contact_uri: usize,
    route_uri: usize,
}

impl Settings {
    /// The settings of `ctx`'s configuration (the defaults in tools).
    fn of<'m>(ctx: &Ctx<'m>) -> &'m Settings {
        static DEFAULT: std::sync::OnceLock<Settings> = std::sync::OnceLock::new();
        MODULE.state(ctx).unwrap_or_else(|| {
            DEFAULT.get_or_init(|| {
                Settings::new(&crate::module::FromModParams::from_values(
                    &crate::module::ParamValues::new("sanity", &[]),
                ))
            })
        })
    }

    fn new(p: &Params) -> Settings {
        let size = |v: u32| v as usize;
        Settings {
            proxy_require: p
                .proxy_require
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
            size_checks: p.size_checks,
            noreply: p.noreply,
            default_checks: p.default_checks,
            uri_checks: p.uri_checks,
            sizes: Sizes {
                message: size(p.size_message),
                ruri: size(p.size_ruri),
                method: size(p.size_method),
                header: size(p.size_header),
                headers: size(p.size_headers),
                body: size(p.size_body),
                from_uri: size(p.size_from_uri),
                to_uri: size(p.size_to_uri),
                contact_uri: size(p.size_contact_uri),
                route_uri: size(p.size_route_uri),
            },
        }
    }
}

/// Whether `s` is a decimal number that fits 32 bits unsigned.
fn valid_u32(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && s.parse::<u32>().is_ok()
}

/// A limit of 0 (or less) disables a size check.
fn over(len: usize, limit: usize) -> bool {
    limit > 0 && len > limit
}

fn check_sizes(msg: &SipMsg, s: &Sizes) -> Result<(), Failure> {
    let too_big = over(msg.len(), s.message)
        || msg.ruri_str().is_some_and(|u| over(u.len(), s.ruri))
        || msg.method_str().is_some_and(|m| over(m.len(), s.method))
        || (msg.is_reply()
            && msg
                .cseq()
                .is_ok_and(|c| over(c.method_str().len(), s.method)))
        || msg.headers().any(|h| over(h.line_span().len(), s.header))
        || over(msg.body().len(), s.body)
        || msg
            .headers()
            .next()
            .zip(msg.headers().last())
            .is_some_and(|(a, b)| over(b.line_span().end() - a.line_span().start(), s.headers))
        || !msg
            .from_header()
            .is_ok_and(|f| !over(f.uri_str().len(), s.from_uri))
        || !msg
            .to_header()
            .is_ok_and(|t| !over(t.uri_str().len(), s.to_uri));
    if too_big {
        return Err(None);
    }
    match msg.contacts() {
        Ok(Contacts::List(l)) if l.iter().any(|c| over(c.uri_str().len(), s.contact_uri)) => {
            return Err(None)
        }
        Err(_) => return Err(None),
        _ => {}
    }
    for list in [msg.routes(), msg.record_routes()] {
        match list {
            Ok(l) if l.iter().all(|r| !over(r.uri_str().len(), s.route_uri)) => {}
            _ => return Err(None),
        }
    }
    Ok(())
}

fn check_ruri_version(msg: &SipMsg) -> Result<(), Failure> {
    let StartLine::Request { version, .. } = msg.start_line() else {
        return Ok(());
    };
    match version.split_once('/') {
        None => Err(None),
        Some((_, "2.0")) => Ok(()),
        Some(_) => Err(Some((505, "Version Not Supported (R-URI)"))),
    }
}

fn check_ruri_scheme(msg: &SipMsg) -> Result<(), Failure> {
    if msg.is_reply() {
        return Ok(());
    }
    match msg.ruri() {
        Err(_) => Err(Some((400, "Bad Request URI"))),
        Ok(u) => match u.scheme() {
            Scheme::Sip | Scheme::Sips | Scheme::Tel => Ok(()),
            Scheme::Other
                if u.as_str()
                    .get(..5)
                    .is_some_and(|s| s.eq_ignore_ascii_case("tels:")) =>
            {
                Ok(())
            }
            Scheme::Other => Err(Some((416, "Unsupported URI Scheme in Request URI"))),
        },
    }
}

fn check_required_headers(msg: &SipMsg) -> Result<(), Failure> {
    for kind in [
        HeaderName::From,
        HeaderName::To,
        HeaderName::CallId,
        HeaderName::CSeq,
    ] {
        if msg.headers_of(kind).count() != 1 {
            return Err(None);
        }
    }
    Ok(())
}

fn check_via1(msg: &SipMsg) -> Result<(), Failure> {
    match msg.top_via() {
        Ok(v) if !v.host().is_empty() => Ok(()),
        _ => Err(None),
    }
}

fn check_rfc3261(msg: &SipMsg) -> Result<(), Failure> {
    if msg.is_reply() {
        return Ok(());
    }
    let all = [
        HeaderName::To,
        HeaderName::From,
        HeaderName::CSeq,
        HeaderName::CallId,
        HeaderName::MaxForwards,
        HeaderName::Via,
    ]
    .into_iter()
    .all(|k| msg.header(k).is_some());
    if all {
        Ok(())
    } else {
        Err(Some((400, "Missing Required Header in Request")))
    }
}

/// The CSeq number and method as written (either may be empty).
fn cseq_parts(msg: &SipMsg) -> Option<(&str, &str)> {
    let v = msg.header(HeaderName::CSeq)?.value.trim();
    Some(match v.split_once(|c: char| c.is_ascii_whitespace()) {
        Some((n, m)) => (n, m.trim()),
        None if v.bytes().next().is_some_and(|b| b.is_ascii_digit()) => (v, ""),
        None => ("", v),
    })
}

fn check_cseq_method(msg: &SipMsg) -> Result<(), Failure> {
    let Some(request_method) = msg.method_str() else {
        return Ok(());
    };
    let Some((_, method)) = cseq_parts(msg) else {
        return Err(None);
    };
    if method.is_empty() {
        Err(Some((400, "Missing method in CSeq header")))
    } else if method != request_method {
        Err(Some((400, "CSeq method does not match request method")))
    } else {
        Ok(())
    }
}

fn check_cseq_value(msg: &SipMsg) -> Result<(), Failure> {
    let Some((number, _)) = cseq_parts(msg) else {
        return Err(None);
    };
    if number.is_empty() {
        Err(Some((400, "Missing number in CSeq header")))
    } else if !valid_u32(number) {
        Err(Some((400, "CSeq number is illegal")))
    } else {
        Ok(())
    }
}

fn check_content_length(msg: &SipMsg) -> Result<(), Failure> {
    match msg.content_length() {
        Some(cl) if usize::try_from(cl).ok() != Some(msg.body().len()) => {
            Err(Some((400, "Content-Length mis-match")))
        }
        _ => Ok(()),
    }
}

fn check_expires(msg: &SipMsg) -> Result<(), Failure> {
    let Some(h) = msg.header(HeaderName::Expires) else {
        return Ok(());
    };
    let v = h.value.trim();
    if v.is_empty() {
        Err(Some((400, "Missing number in Expires header")))
    } else if !valid_u32(v) {
        Err(Some((400, "Expires value is illegal")))
    } else {
        Ok(())
    }
}

fn check_proxy_require(
    msg: &SipMsg,
    supported: &[String],
    reply_headers: &mut String,
) -> Result<(), Failure> {
    for h in msg.headers_of(HeaderName::ProxyRequire) {
        for ext in h.value.split(',').map(str::trim) {
            if !supported.iter().any(|s| s == ext) {
                log::debug(
                    "sanity",
                    format_args!("unsupported extension `{ext}` required"),
                );
                reply_headers.push_str("Unsupported: ");
                reply_headers.push_str(ext);
                reply_headers.push_str("\r\n");
                return Err(Some((420, "Bad Proxy Require Extension")));
            }
        }
    }
    Ok(())
}

fn check_parse_uris(msg: &SipMsg, uri_checks: i32) -> Result<(), Failure> {
    if uri_checks & URI_RURI != 0 && msg.is_request() && msg.ruri().is_err() {
        return Err(Some((400, "Bad Request URI")));
    }
    if uri_checks & URI_FROM != 0 {
        if msg.header(HeaderName::From).is_none() {
            return Err(None);
        }
        if msg.from_header().is_err() {
            return Err(Some((400, "Invalid From Header")));
        }
    }
    if uri_checks & URI_TO != 0 {
        if msg.header(HeaderName::To).is_none() {
            return Err(None);
        }
        if msg.to_header().is_err() {
            return Err(Some((400, "Invalid To Header")));
        }
    }
    if uri_checks & URI_CONTACT != 0 && msg.contacts().is_err() {
        return Err(Some((400, "Bad Contact Header")));
    }
    Ok(())
}

/// What checking the credentials of a message found.
enum Credentials {
    /// None, or all complete Digest credentials.
    Good,
    /// Credentials of another scheme.
    NotDigest,
    Bad(Failure),
}

/// Checks every Authorization, then every Proxy-Authorization header.
fn check_credentials(msg: &SipMsg) -> Credentials {
    let headers = msg
        .headers_of(HeaderName::Authorization)
        .chain(msg.headers_of(HeaderName::ProxyAuthorization));
    for h in headers {
        let v = h.value.trim_start();
        let (scheme, params) = v
            .split_once(|c: char| c.is_ascii_whitespace())
            .unwrap_or((v, ""));
        if !scheme.eq_ignore_ascii_case("digest") {
            return Credentials::NotDigest;
        }
        let mut found: [Option<&str>; 8] = [None; 8];
        const NAMES: [&str; 8] = [
            "username", "realm", "nonce", "uri", "response", "qop", "cnonce", "nc",
        ];
        for p in split_commas(params) {
            let Some((k, val)) = p.split_once('=') else {
                return Credentials::Bad(Some((400, "Bad Auth Header")));
            };
            if let Some(i) = NAMES.iter().position(|n| n.eq_ignore_ascii_case(k.trim())) {
                found[i] = Some(unquote(val.trim()));
            }
        }
        let [username, realm, nonce, uri, response, qop, cnonce, nc] = found;
        let complete = username.is_some()
            && realm.is_some()
            && nonce.is_some()
            && uri.is_some()
            && response.is_some()
            && (qop.is_none() || (cnonce.is_some() && nc.is_some()));
        if !complete {
            return Credentials::Bad(Some((400, "Bad Auth Credentials")));
        }
        let empty = |v: Option<&str>| v.is_none_or(str::is_empty);
        if empty(username) {
            return Credentials::Bad(Some((400, "Auth Empty User")));
        }
        if empty(nonce) {
            return Credentials::Bad(Some((400, "Auth Empty Nonce")));
        }
        if empty(response) {
            return Credentials::Bad(Some((400, "Auth Empty Response")));
        }
    }
    Credentials::Good
}

fn check_duptags(msg: &SipMsg) -> Result<(), Failure> {
    let (Ok(from), Ok(to)) = (msg.from_header(), msg.to_header()) else {
        return Err(None);
    };
    let tags = |p: crate::sip::Params<'_>| p.filter(|p| p.name.eq_ignore_ascii_case("tag")).count();
    if tags(from.params()) > 1 {
        return Err(Some((400, "Many From Tag Params")));
    }
    if tags(to.params()) > 1 {
        return Err(Some((400, "Many To Tag Params")));
    }
    Ok(())
}

/// Runs the checks of `msg_checks` in Kamailio's order; `reply_headers`
/// receives header lines for the error reply.
fn run_checks(
    msg: &SipMsg,
    params: &Settings,
    msg_checks: i32,
    uri_checks: i32,
    reply_headers: &mut String,
) -> Result<(), Failure> {
    let on = |bit: i32| msg_checks & bit != 0;
    if on(SIZES) || params.size_checks {
        check_sizes(msg, &params.sizes)?;
    }
    if on(RURI_SIP_VERSION) {
        check_ruri_version(msg)?;
    }
    if on(RURI_SCHEME) {
        check_ruri_scheme(msg)?;
    }
    if on(REQUIRED_HEADERS) {
        check_required_headers(msg)?;
    }
    if on(VIA1_HEADER) {
        check_via1(msg)?;
    }
    if on(RFC3261) {
        check_rfc3261(msg)?;
    }
    if on(CSEQ_METHOD) {
        check_cseq_method(msg)?;
    }
    if on(CSEQ_VALUE) {
        check_cseq_value(msg)?;
    }
    if on(CONTENT_LENGTH) {
        check_content_length(msg)?;
    }
    if on(EXPIRES_VALUE) {
        check_expires(msg)?;
    }
    if on(PROXY_REQUIRE) {
        check_proxy_require(msg, &params.proxy_require, reply_headers)?;
    }
    if on(PARSE_URIS) {
        check_parse_uris(msg, uri_checks)?;
    }
    if on(DIGEST) {
        match check_credentials(msg) {
            Credentials::Good => {}
            Credentials::NotDigest => return Err(None),
            Credentials::Bad(f) => return Err(f),
        }
    }
    if on(AUTHORIZATION) {
        if let Credentials::Bad(f) = check_credentials(msg) {
            return Err(f);
        }
    }
    if on(DUPTAGS) {
        check_duptags(msg)?;
    }
    Ok(())
}

/// Whether the message may be answered: a request other than ACK.
fn answerable(msg: &SipMsg) -> bool {
    msg.is_request() && msg.method() != Some(Method::Ack)
}

/// Sends a sanity error reply with the pending reply headers.
fn send(ctx: &mut Ctx, code: u16, reason: &str) -> i32 {
    let extra = std::mem::take(&mut ctx.state_mut().reply_headers);
    send_local_reply_with(ctx, i32::from(code), reason, &extra)
}

fn check(ctx: &mut Ctx, msg_checks: i32, uri_checks: i32) -> i32 {
    let params = Settings::of(ctx);
    let noreply = params.noreply;
    let mut headers = String::new();
    let result = match ctx.msg() {
        Some(msg) => run_checks(msg, params, msg_checks, uri_checks, &mut headers)
            .map_err(|f| (f, answerable(msg))),
        None => return -1,
    };
    let Err((failure, answerable)) = result else {
        return 1;
    };
    log::debug("sanity", format_args!("sanity checks failed: {failure:?}"));
    if noreply {
        // Code 0 marks a message that must not be answered.
        ctx.state_mut().sanity_reply = Some(failure.unwrap_or((0, "")));
    }
    ctx.state_mut().reply_headers.push_str(&headers);
    if let (Some((code, reason)), true, false) = (failure, answerable, noreply) {
        if send(ctx, code, reason) < 0 {
            log::warn("sanity", format_args!("failed to send the {code} reply"));
        }
    }
    -1
}

/// Checks the message with the given checks, and replies with the error
/// when one fails (see the module documentation for the checks and their
/// replies).
///
/// # Parameters
/// - `msg_checks`: the sum of the numbers of the checks to run, such as
///   1511 (1+2+4+32+64+128+256+1024).
/// - `uri_checks`: for check 1024, the URIs to parse: 1 Request-URI,
///   2 From, 4 To, 8 Contact.
///
/// # Returns
/// 1 when every check passes; -1 when one fails. The error reply has then
/// been sent (or kept for `sanity_reply()` with `noreply`): stop routing
/// the request.
///
/// # Example
/// ```js
/// if (KSR.sanity.sanity_check(1511, 7) < 0) {
///     KSR.err("malformed request from " + KSR.kx.get_srcip() + "\n");
///     KSR.x.exit();
/// }
/// ```
#[kemi]
pub fn sanity_check(ctx: &mut Ctx, msg_checks: i32, uri_checks: i32) -> i32 {
    check(ctx, msg_checks, uri_checks)
}

/// Checks the message with the checks of the module parameters
/// `default_checks` (3047) and `uri_checks` (7), replying with the error
/// when one fails.
///
/// # Returns
/// 1 when every check passes; -1 when one fails (the error reply is sent,
/// or kept with `noreply`).
///
/// # Example
/// ```js
/// if (KSR.sanity.sanity_check_defaults() < 0) { KSR.x.exit(); }
/// ```
#[kemi]
pub fn sanity_check_defaults(ctx: &mut Ctx) -> i32 {
    let params = Settings::of(ctx);
    check(ctx, params.default_checks, params.uri_checks)
}

/// Sends the error reply a failed check prepared, when the module
/// parameter `noreply` is 1 (otherwise the checks replied already and this
/// does nothing). With no prepared reply, sends `500 Server Sanity
/// Failure`; a request that cannot be answered (missing headers) gets
/// nothing.
///
/// # Returns
/// 1 when done (also for replies, ACKs and without `noreply`); -1 when the
/// reply could not be sent.
///
/// # Example
/// ```js
/// if (KSR.sanity.sanity_check(1511, 7) < 0) {
///     KSR.sanity.sanity_reply();
///     KSR.x.exit();
/// }
/// ```
#[kemi]
pub fn sanity_reply(ctx: &mut Ctx) -> i32 {
    if !ctx.msg().is_some_and(answerable) || !Settings::of(ctx).noreply {
        return 1;
    }
    let (code, reason) = ctx
        .state_mut()
        .sanity_reply
        .take()
        .unwrap_or((500, "Server Sanity Failure"));
    if code == 0 {
        return 1;
    }
    if send(ctx, code, reason) < 0 {
        -1
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CfgValue;
    use crate::modules::core::tests::{parse, request, udp_recv, with_ctx, TestCore};

    const ALL: i32 = (1 << 17) - 1;

    /// Runs `sanity_check(checks, uris)` on `msg`; the result and the
    /// status line of the reply sent, if any.
    fn run(core: &TestCore, msg: SipMsg, checks: i32, uris: i32) -> (i32, Option<String>) {
        let mut m = msg;
        let before = core.sent.borrow().len();
        let r = with_ctx(core, &mut m, udp_recv(), |ctx| {
            sanity_check(ctx, checks, uris)
        });
        let sent = core.sent.borrow();
        let line = (sent.len() > before)
            .then(|| {
                sent.last().map(|s| {
                    String::from_utf8_lossy(s)
                        .lines()
                        .next()
                        .unwrap_or("")
                        .to_owned()
                })
            })
            .flatten();
        (r, line)
    }

    fn fails_with(extra: &str, checks: i32, status: Option<&str>) {
        let core = TestCore::default();
        let (r, line) = run(&core, request("INVITE", "sip:b@c", extra), checks, 7);
        assert_eq!(r, -1, "{extra}");
        assert_eq!(line.as_deref(), status, "{extra}");
    }

    #[test]
    fn a_good_request_passes_everything() {
        let core = TestCore::default();
        let extra = "Expires: 60\r\nContact: <sip:a@h>\r\nAuthorization: Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"sip:b@c\", response=\"x\"\r\n";
        assert_eq!(
            run(&core, request("INVITE", "sip:b@c", extra), ALL, 15),
            (1, None)
        );
        assert_eq!(
            run(&core, request("MESSAGE", "tel:+1555", ""), 3047, 7),
            (1, None)
        );
    }

    #[test]
    fn request_line_checks() {
        let core = TestCore::default();
        let m = parse("OPTIONS sip:b@c HTTP/1.1\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n");
        assert_eq!(
            run(&core, m, RURI_SIP_VERSION, 7),
            (-1, Some("SIP/2.0 505 Version Not Supported (R-URI)".into()))
        );
        let (r, line) = run(&core, request("INVITE", "mailto:x@y", ""), RURI_SCHEME, 7);
        assert_eq!(
            (r, line.as_deref()),
            (
                -1,
                Some("SIP/2.0 416 Unsupported URI Scheme in Request URI")
            )
        );
        let (r, line) = run(&core, request("INVITE", "sip:", ""), RURI_SCHEME, 7);
        assert_eq!(
            (r, line.as_deref()),
            (-1, Some("SIP/2.0 400 Bad Request URI"))
        );
    }

    #[test]
    fn header_checks_and_their_replies() {
        fails_with(
            "Expires: soon\r\n",
            EXPIRES_VALUE,
            Some("SIP/2.0 400 Expires value is illegal"),
        );
        fails_with(
            "Expires: 4294967296\r\n",
            EXPIRES_VALUE,
            Some("SIP/2.0 400 Expires value is illegal"),
        );
        fails_with("Call-ID: again\r\n", REQUIRED_HEADERS, None);
        fails_with(
            "Proxy-Require: foo\r\n",
            PROXY_REQUIRE,
            Some("SIP/2.0 420 Bad Proxy Require Extension"),
        );
        let core = TestCore::default();
        let bad_contact = || request("INVITE", "sip:b@c", "Contact: <sip:a@h\r\n");
        assert_eq!(
            run(&core, bad_contact(), PARSE_URIS, 7),
            (1, None),
            "Contact not asked"
        );
        assert_eq!(
            run(&core, bad_contact(), PARSE_URIS, 8),
            (-1, Some("SIP/2.0 400 Bad Contact Header".to_owned()))
        );
        fails_with("Authorization: Basic YTpi\r\n", DIGEST, None);
        fails_with(
            "Authorization: Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\"\r\n",
            DIGEST,
            Some("SIP/2.0 400 Bad Auth Credentials"),
        );
        fails_with(
            "Proxy-Authorization: Digest username=\"\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"x\"\r\n",
            AUTHORIZATION,
            Some("SIP/2.0 400 Auth Empty User"),
        );
        let core = TestCore::default();
        let basic = request("INVITE", "sip:b@c", "Authorization: Basic YTpi\r\n");
        assert_eq!(
            run(&core, basic, AUTHORIZATION, 7),
            (1, None),
            "other schemes pass 8192"
        );
    }

    #[test]
    fn cseq_checks() {
        let core = TestCore::default();
        let m = parse("INVITE sip:b@c SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: x\r\nCSeq: 1 BYE\r\n\r\n");
        let (r, line) = run(&core, m, CSEQ_METHOD, 7);
        assert_eq!(
            (r, line.as_deref()),
            (
                -1,
                Some("SIP/2.0 400 CSeq method does not match request method")
            )
        );
        let m = parse("INVITE sip:b@c SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: x\r\nCSeq: 99999999999 INVITE\r\n\r\n");
        let (r, line) = run(&core, m, CSEQ_VALUE, 7);
        assert_eq!(
            (r, line.as_deref()),
            (-1, Some("SIP/2.0 400 CSeq number is illegal"))
        );
    }

    #[test]
    fn tags_via_and_rfc3261() {
        let core = TestCore::default();
        let m = parse("INVITE sip:b@c SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1;tag=2\r\nTo: <sip:b@c>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n");
        let (r, line) = run(&core, m, DUPTAGS, 7);
        assert_eq!(
            (r, line.as_deref()),
            (-1, Some("SIP/2.0 400 Many From Tag Params"))
        );
        let m = parse("INVITE sip:b@c SIP/2.0\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n");
        assert_eq!(
            run(&core, m, VIA1_HEADER, 7),
            (-1, None),
            "no Via: no reply"
        );
        let m = parse("INVITE sip:b@c SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n");
        let (r, line) = run(&core, m, RFC3261, 7);
        assert_eq!(
            (r, line.as_deref()),
            (-1, Some("SIP/2.0 400 Missing Required Header in Request"))
        );
    }

    #[test]
    fn sizes_use_the_module_parameters() {
        let core = TestCore::default().with_param("sanity", "size_ruri", CfgValue::Int(10));
        assert_eq!(
            run(&core, request("INVITE", "sip:b@c", ""), SIZES, 7),
            (1, None)
        );
        assert_eq!(
            run(
                &core,
                request("INVITE", "sip:bob@biloxi.example.com", ""),
                SIZES,
                7
            ),
            (-1, None)
        );
        let core = TestCore::default()
            .with_param("sanity", "size_checks", CfgValue::Int(1))
            .with_param("sanity", "size_header", CfgValue::Int(20));
        assert_eq!(
            run(
                &core,
                request("INVITE", "sip:b@c", "X-Long: aaaaaaaaaaaaaaaaaaa\r\n"),
                1,
                7
            ),
            (-1, None)
        );
    }

    #[test]
    fn acks_are_not_answered() {
        let core = TestCore::default();
        assert_eq!(
            run(
                &core,
                request("ACK", "sip:b@c", "Expires: x\r\n"),
                EXPIRES_VALUE,
                7
            ),
            (-1, None)
        );
    }

    #[test]
    fn noreply_keeps_the_reply_for_sanity_reply() {
        let core = TestCore::default()
            .with_param("sanity", "noreply", CfgValue::Int(1))
            .with_param("sanity", "proxy_require", CfgValue::Str("foo, bar".into()));
        let mut m = request("INVITE", "sip:b@c", "Proxy-Require: foo, baz\r\n");
        with_ctx(&core, &mut m, udp_recv(), |ctx| {
            assert_eq!(sanity_check(ctx, PROXY_REQUIRE, 7), -1);
            assert!(core.sent.borrow().is_empty(), "nothing sent yet");
            assert_eq!(
                ctx.state().sanity_reply,
                Some((420, "Bad Proxy Require Extension"))
            );
            assert_eq!(sanity_reply(ctx), 1);
        });
        let reply = core.last_sent().expect("a reply");
        assert_eq!(reply.status_code(), Some(420));
        assert_eq!(
            reply.header_by_name("Unsupported").map(|h| h.value),
            Some("baz")
        );
        let mut m = request("INVITE", "sip:b@c", "Proxy-Require: bar\r\n");
        with_ctx(&core, &mut m, udp_recv(), |ctx| {
            assert_eq!(sanity_check(ctx, PROXY_REQUIRE, 7), 1);
            assert_eq!(sanity_reply(ctx), 1);
        });
        assert_eq!(
            core.last_sent().and_then(|r| r.status_code()),
            Some(500),
            "nothing prepared: 500"
        );
        let n = core.sent.borrow().len();
        let mut m = request("INVITE", "sip:b@c", "Call-ID: again\r\n");
        with_ctx(&core, &mut m, udp_recv(), |ctx| {
            assert_eq!(sanity_check(ctx, REQUIRED_HEADERS, 7), -1);
            assert_eq!(sanity_reply(ctx), 1);
        });
        assert_eq!(core.sent.borrow().len(), n, "unanswerable: nothing sent");
    }

    #[test]
    fn without_noreply_sanity_reply_does_nothing() {
        let core = TestCore::default();
        let mut m = request("INVITE", "sip:b@c", "Expires: x\r\n");
        with_ctx(&core, &mut m, udp_recv(), |ctx| {
            assert_eq!(sanity_check(ctx, EXPIRES_VALUE, 7), -1);
            assert_eq!(core.sent.borrow().len(), 1);
            assert_eq!(sanity_reply(ctx), 1);
            assert_eq!(core.sent.borrow().len(), 1);
        });
    }

    #[test]
    fn defaults_come_from_the_module_parameters() {
        let core = TestCore::default();
        let (r, _) = {
            let mut m = request("INVITE", "sip:b@c", "Expires: x\r\n");
            (
                with_ctx(&core, &mut m, udp_recv(), sanity_check_defaults),
                (),
            )
        };
        assert_eq!(r, -1, "3047 includes the Expires check");
        let core = TestCore::default().with_param("sanity", "default_checks", CfgValue::Int(1));
        let mut m = request("INVITE", "sip:b@c", "Expires: x\r\n");
        assert_eq!(
            with_ctx(&core, &mut m, udp_recv(), sanity_check_defaults),
            1
        );
    }
}
