//! The pseudo-variables of the message being routed and where it came
//! from: reading them, and writing the few that can be written.
//!
//! Reads see the message as received, except the Request-URI and `$du`,
//! which change at once (as in Kamailio). Writes to From and To are
//! recorded as edits, so reading `$fu` after assigning it still gives the
//! received value until the message is rebuilt.

use std::borrow::Cow;
use std::net::SocketAddr;

use super::{no_message, PvError, PvIndex, PvRef, PvValue};
use crate::ctx::Ctx;
use crate::log;
use crate::sip::{
    split_commas, unquote, HeaderName, Method, NameAddr, Scheme, SipMsg, Span, StartLine, Uri,
    ViewError,
};
use crate::transport::{Proto, RecvInfo};

use super::spec::Builtin;

/// Logs a view that could not be read; a missing header is not an error.
fn view_failed(what: &str, e: ViewError) {
    match e {
        ViewError::Missing => log::debug("pv", format_args!("no {what}")),
        e => log::error("pv", format_args!("cannot parse the {what}: {e}")),
    }
}

/// The scheme as written, without the colon.
fn scheme_text<'u>(uri: &Uri<'u>) -> &'u str {
    let all = uri.as_str();
    all.split_once(':').map_or(all, |(s, _)| s)
}

/// Explicit port, else the default for the transport.
fn port_text(uri: &Uri<'_>) -> PvRef<'static> {
    match uri.port() {
        Some(p) => PvRef::owned(p.to_string()),
        None if uri
            .transport()
            .is_some_and(|t| t.eq_ignore_ascii_case("tls")) =>
        {
            PvRef::Str(Cow::Borrowed("5061"))
        }
        None => PvRef::Str(Cow::Borrowed("5060")),
    }
}

#[derive(Clone, Copy)]
enum UriPart {
    User,
    Host,
    Port,
    Transport,
    Scheme,
}

fn uri_part<'m>(uri: Result<Uri<'m>, ViewError>, what: &str, part: UriPart) -> PvRef<'m> {
    let uri = match uri {
        Ok(u) => u,
        Err(e) => {
            view_failed(what, e);
            return PvRef::Null;
        }
    };
    match part {
        UriPart::User => PvRef::non_empty(uri.user()),
        UriPart::Host => PvRef::non_empty(Some(uri.host())),
        UriPart::Port => port_text(&uri),
        UriPart::Transport => PvRef::opt(Some(uri.transport().unwrap_or("UDP"))),
        UriPart::Scheme => PvRef::opt(Some(match uri.scheme() {
            Scheme::Sip => "sip",
            Scheme::Sips => "sips",
            Scheme::Tel => "tel",
            Scheme::Other => scheme_text(&uri),
        })),
    }
}

#[derive(Clone, Copy)]
enum AddrPart {
    Uri,
    User,
    Host,
    Name,
    Tag,
}

fn name_addr_part<'m>(
    na: Result<NameAddr<'m>, ViewError>,
    what: &str,
    part: AddrPart,
) -> PvRef<'m> {
    let na = match na {
        Ok(n) => n,
        Err(e) => {
            view_failed(what, e);
            return PvRef::Null;
        }
    };
    match part {
        AddrPart::Uri => PvRef::opt(Some(na.uri_str())),
        AddrPart::User => PvRef::non_empty(na.uri().user()),
        AddrPart::Host => PvRef::non_empty(Some(na.uri().host())),
        AddrPart::Name => PvRef::non_empty(na.display_name_raw()),
        AddrPart::Tag => PvRef::non_empty(na.tag()),
    }
}

/// Kamailio's numeric method ids (`METHOD_*`), used by `$rmid`.
pub(crate) fn method_id(m: Method) -> i64 {
    match m {
        Method::Invite => 1,
        Method::Cancel => 2,
        Method::Ack => 4,
        Method::Bye => 8,
        Method::Info => 16,
        Method::Register => 32,
        Method::Subscribe => 64,
        Method::Notify => 128,
        Method::Message => 256,
        Method::Options => 512,
        Method::Prack => 1024,
        Method::Update => 2048,
        Method::Refer => 4096,
        Method::Publish => 8192,
        Method::Kdmq => 16384,
        Method::Get => 32768,
        Method::Post => 65536,
        Method::Put => 131072,
        Method::Delete => 262144,
        Method::Other => 524288,
    }
}

/// The method of a request, or the CSeq method of a reply, as written.
pub(crate) fn method_str(msg: &SipMsg) -> Option<&str> {
    match msg.method_str() {
        Some(m) => Some(m),
        None => msg.cseq().ok().map(|c| c.method_str()),
    }
}

/// The method of a request, or the CSeq method of a reply, classified.
pub(crate) fn method(msg: &SipMsg) -> Option<Method> {
    match msg.method() {
        Some(m) => Some(m),
        None => msg.cseq().ok().map(|c| c.method()),
    }
}

/// Kamailio's numeric protocol ids (`PROTO_*`), used by `$prid`.
pub(crate) fn proto_id(proto: Proto) -> i64 {
    match proto.name() {
        "udp" => 1,
        "tcp" => 2,
        "tls" => 3,
        "sctp" => 4,
        "ws" => 5,
        "wss" => 6,
        _ => 0,
    }
}

/// `sip:ip:port` for an address, with `;transport=` when `always` or the
/// transport is not UDP (Kamailio's `$su`/`$sut`).
pub(crate) fn address_uri(addr: SocketAddr, proto: Proto, always: bool) -> String {
    let mut s = match addr {
        SocketAddr::V4(a) => format!("sip:{}:{}", a.ip(), a.port()),
        SocketAddr::V6(a) => format!("sip:[{}]:{}", a.ip(), a.port()),
    };
    if always || proto.name() != "udp" {
        s.push_str(";transport=");
        s.push_str(proto.name());
    }
    s
}

/// The digest credentials of a request: the Proxy-Authorization header if
/// any, else Authorization (as Kamailio's `$au` picks them).
struct Credentials<'m> {
    value: &'m str,
}

impl<'m> Credentials<'m> {
    fn of(msg: &'m SipMsg) -> Option<Credentials<'m>> {
        if matches!(msg.method(), Some(Method::Ack | Method::Cancel)) {
            return None;
        }
        let h = msg
            .header(HeaderName::ProxyAuthorization)
            .or_else(|| msg.header(HeaderName::Authorization))?;
        Some(Credentials { value: h.value })
    }

    /// A parameter of the credentials, unquoted.
    fn param(&self, name: &str) -> Option<&'m str> {
        let v = self.value.trim_start();
        // Skip the scheme ("Digest").
        let params = v.find(char::is_whitespace).map_or("", |i| &v[i..]);
        split_commas(params).find_map(|p| {
            let (k, val) = p.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| unquote(val.trim()))
        })
    }

    /// The username split at its first `@` into user and domain.
    fn user_domain(&self) -> Option<(&'m str, Option<&'m str>)> {
        let u = self.param("username")?;
        Some(match u.split_once('@') {
            Some((user, domain)) => (user, Some(domain)),
            None => (u, None),
        })
    }
}

fn hex8(v: u32) -> PvRef<'static> {
    PvRef::owned(format!("{v:08x}"))
}

/// Reads a builtin variable.
pub(super) fn read<'c>(ctx: &'c Ctx<'_>, b: Builtin) -> PvRef<'c> {
    use Builtin as B;
    // Variables that do not need a message.
    match b {
        B::Null => return PvRef::Null,
        B::MsgFlags => return PvRef::Int(i64::from(ctx.state().flags)),
        B::MsgFlagsHex => return hex8(ctx.state().flags),
        B::BranchFlags => return PvRef::Int(i64::from(ctx.state().branch_flags[0])),
        B::BranchFlagsHex => return hex8(ctx.state().branch_flags[0]),
        B::ScriptFlags => return PvRef::Int(i64::from(ctx.script_flags())),
        B::ScriptFlagsHex => return hex8(ctx.script_flags()),
        B::Time => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            return PvRef::Int(i64::try_from(now).unwrap_or(i64::MAX));
        }
        B::Pid => return PvRef::Int(i64::from(std::process::id())),
        _ => {}
    }
    let (Some(msg), Some(recv)) = (ctx.msg(), ctx.recv()) else {
        no_message("a message pseudo-variable");
        return PvRef::Null;
    };
    read_message(msg, recv, ctx, b)
}

fn read_message<'c>(msg: &'c SipMsg, recv: &RecvInfo, ctx: &'c Ctx<'_>, b: Builtin) -> PvRef<'c> {
    use Builtin as B;
    let request = msg.is_request();
    match b {
        B::Ruri if request => PvRef::opt(msg.ruri_str()),
        B::RuriUser if request => uri_part(msg.ruri(), "R-URI", UriPart::User),
        B::RuriHost if request => uri_part(msg.ruri(), "R-URI", UriPart::Host),
        B::RuriPort if request => uri_part(msg.ruri(), "R-URI", UriPart::Port),
        B::RuriTransport if request => uri_part(msg.ruri(), "R-URI", UriPart::Transport),
        B::RuriScheme if request => uri_part(msg.ruri(), "R-URI", UriPart::Scheme),
        B::Ouri if request => PvRef::opt(msg.original_ruri_str()),
        B::OuriUser if request => uri_part(msg.original_ruri(), "R-URI", UriPart::User),
        B::OuriHost if request => uri_part(msg.original_ruri(), "R-URI", UriPart::Host),
        B::OuriPort if request => uri_part(msg.original_ruri(), "R-URI", UriPart::Port),
        B::OuriTransport if request => uri_part(msg.original_ruri(), "R-URI", UriPart::Transport),
        B::Ruri
        | B::RuriUser
        | B::RuriHost
        | B::RuriPort
        | B::RuriTransport
        | B::RuriScheme
        | B::Ouri
        | B::OuriUser
        | B::OuriHost
        | B::OuriPort
        | B::OuriTransport => PvRef::Null,
        B::Duri => PvRef::opt(msg.du()),
        B::DuriHost | B::DuriPort | B::DuriTransport => match msg.du() {
            None => PvRef::Null,
            Some(du) => {
                let part = match b {
                    B::DuriHost => UriPart::Host,
                    B::DuriPort => UriPart::Port,
                    _ => UriPart::Transport,
                };
                uri_part(Uri::parse(du), "destination URI", part)
            }
        },
        B::FromUri => name_addr_part(msg.from_header(), "From header", AddrPart::Uri),
        B::FromUser => name_addr_part(msg.from_header(), "From header", AddrPart::User),
        B::FromHost => name_addr_part(msg.from_header(), "From header", AddrPart::Host),
        B::FromName => name_addr_part(msg.from_header(), "From header", AddrPart::Name),
        B::FromTag => name_addr_part(msg.from_header(), "From header", AddrPart::Tag),
        B::ToUri => name_addr_part(msg.to_header(), "To header", AddrPart::Uri),
        B::ToUser => name_addr_part(msg.to_header(), "To header", AddrPart::User),
        B::ToHost => name_addr_part(msg.to_header(), "To header", AddrPart::Host),
        B::ToName => name_addr_part(msg.to_header(), "To header", AddrPart::Name),
        B::ToTag => name_addr_part(msg.to_header(), "To header", AddrPart::Tag),
        B::CallId => PvRef::opt(msg.header(HeaderName::CallId).map(|h| h.value)),
        B::CseqNumber => match msg.cseq() {
            Ok(c) => PvRef::owned(c.number().to_string()),
            Err(e) => {
                view_failed("CSeq header", e);
                PvRef::Null
            }
        },
        B::CseqBody => PvRef::opt(msg.header(HeaderName::CSeq).map(|h| h.value)),
        B::Method => PvRef::opt(method_str(msg)),
        B::MethodId => method(msg).map_or(PvRef::Null, |m| PvRef::Int(method_id(m))),
        B::Status => msg
            .status_code()
            .map_or(PvRef::Null, |c| PvRef::Int(i64::from(c))),
        B::Reason => PvRef::opt(msg.reason()),
        B::Version => PvRef::opt(Some(match msg.start_line() {
            StartLine::Request { version, .. } | StartLine::Reply { version, .. } => version,
        })),
        B::UserAgent => PvRef::opt(msg.header(HeaderName::UserAgent).map(|h| h.value)),
        B::Contact => PvRef::opt(msg.header(HeaderName::Contact).map(|h| h.value)),
        B::ContentType => PvRef::opt(msg.header(HeaderName::ContentType).map(|h| h.value)),
        B::ContentLength => msg
            .content_length()
            .map_or(PvRef::Null, |l| PvRef::Int(i64::from(l))),
        B::BodySize => PvRef::Int(i64::try_from(msg.body().len()).unwrap_or(i64::MAX)),
        B::Body => PvRef::Str(String::from_utf8_lossy(msg.body())),
        B::MsgBuf => PvRef::Str(String::from_utf8_lossy(msg.as_bytes())),
        B::MsgLen => PvRef::Int(i64::try_from(msg.len()).unwrap_or(i64::MAX)),
        B::MsgType => PvRef::Int(if request { 1 } else { 2 }),
        B::AuthUser
        | B::AuthDomain
        | B::AuthUsername
        | B::AuthRealm
        | B::AuthUri
        | B::AuthAlgorithm => {
            let Some(cred) = Credentials::of(msg) else {
                log::debug("pv", format_args!("no [Proxy-]Authorization header"));
                return PvRef::Null;
            };
            match b {
                B::AuthUser => PvRef::opt(cred.user_domain().map(|(u, _)| u)),
                B::AuthDomain => PvRef::opt(cred.user_domain().and_then(|(_, d)| d)),
                B::AuthUsername => PvRef::opt(cred.param("username")),
                B::AuthRealm => PvRef::opt(cred.param("realm")),
                B::AuthUri => PvRef::non_empty(cred.param("uri")),
                _ => PvRef::opt(cred.param("algorithm")),
            }
        }
        B::SrcIp => PvRef::owned(recv.src.ip().to_string()),
        B::SrcPort => PvRef::Int(i64::from(recv.src.port())),
        B::SrcUri => PvRef::owned(address_uri(recv.src, recv.proto, false)),
        B::SrcUriTransport => PvRef::owned(address_uri(recv.src, recv.proto, true)),
        B::RcvIp => PvRef::owned(recv.local.ip().to_string()),
        B::RcvPort => PvRef::Int(i64::from(recv.local.port())),
        B::RcvUri => PvRef::owned(address_uri(recv.local, recv.proto, false)),
        B::RcvUriTransport => PvRef::owned(address_uri(recv.local, recv.proto, true)),
        B::Proto => PvRef::opt(Some(recv.proto.name())),
        B::ProtoId => PvRef::Int(proto_id(recv.proto)),
        // Handled before a message is needed.
        B::Null
        | B::MsgFlags
        | B::MsgFlagsHex
        | B::BranchFlags
        | B::BranchFlagsHex
        | B::ScriptFlags
        | B::ScriptFlagsHex
        | B::Time
        | B::Pid => read(ctx, b),
    }
}

/// `$hdr(name)` with its index; `*` matches every header. `[*]` joins the
/// bodies with `,`.
pub(super) fn header<'c>(ctx: &'c Ctx<'_>, name: &str, index: PvIndex) -> PvRef<'c> {
    let Some(msg) = ctx.msg() else {
        no_message("$hdr");
        return PvRef::Null;
    };
    let any = name == "*";
    let values = || {
        msg.headers()
            .filter(move |h| any || same_header(h.kind, h.name, name))
            .map(|h| h.value)
    };
    match index {
        PvIndex::None => PvRef::opt(values().next()),
        PvIndex::At(i) if i >= 0 => {
            PvRef::opt(usize::try_from(i).ok().and_then(|i| values().nth(i)))
        }
        PvIndex::At(i) => {
            let back = usize::try_from(i.unsigned_abs()).unwrap_or(usize::MAX);
            let n = values().count();
            PvRef::opt(n.checked_sub(back).and_then(|i| values().nth(i)))
        }
        PvIndex::All => {
            let mut out: Option<String> = None;
            for v in values() {
                let s = out.get_or_insert_with(String::new);
                if !s.is_empty() {
                    s.push(',');
                }
                s.push_str(v);
            }
            out.map_or(PvRef::Null, PvRef::owned)
        }
    }
}

/// Whether a header (kind and name as written) has the name `name`:
/// case-insensitive, compact forms equal to full names.
pub(crate) fn same_header(kind: HeaderName, written: &str, name: &str) -> bool {
    let want = HeaderName::from_str(name);
    kind == want && (want != HeaderName::Other || written.eq_ignore_ascii_case(name))
}

/// `$hdrc(name)`.
pub(super) fn header_count<'c>(ctx: &'c Ctx<'_>, name: &str) -> PvRef<'c> {
    match ctx.msg() {
        Some(msg) => {
            PvRef::Int(i64::try_from(msg.headers_by_name(name).count()).unwrap_or(i64::MAX))
        }
        None => {
            no_message("$hdrc");
            PvRef::Null
        }
    }
}

/// A part of the Request-URI to rewrite.
#[derive(Clone, Copy, Debug)]
pub enum RuriPart<'v> {
    /// The whole URI.
    Whole(&'v str),
    /// The user part; `None` or empty removes it (and the password).
    User(Option<&'v str>),
    /// The host.
    Host(&'v str),
    /// The port; `None` or empty removes it.
    Port(Option<&'v str>),
}

fn bad_text(v: &str) -> bool {
    v.bytes().any(|c| c <= b' ' || c == 0x7f)
}

/// Rewrites the Request-URI, or a part of it, as Kamailio's `seturi`,
/// `setuser`, `sethost` and `setport` do. The change is seen at once by
/// `$ru` and its parts; `$ou` keeps the received URI.
pub fn rewrite_ruri(msg: &mut SipMsg, part: RuriPart<'_>) -> Result<(), PvError> {
    if !msg.is_request() {
        return Err(PvError("a reply has no Request-URI".to_owned()));
    }
    let new = match part {
        RuriPart::Whole(v) => v.to_owned(),
        part => {
            let uri = msg
                .ruri()
                .map_err(|e| PvError(format!("cannot parse the Request-URI: {e}")))?;
            rebuild_uri(&uri, part)?
        }
    };
    msg.set_ruri(&new)
        .map_err(|e| PvError(format!("cannot set the Request-URI to `{new}`: {e}")))
}

/// The URI with one part replaced.
fn rebuild_uri(uri: &Uri<'_>, part: RuriPart<'_>) -> Result<String, PvError> {
    if !matches!(uri.scheme(), Scheme::Sip | Scheme::Sips) {
        return Err(PvError(format!(
            "`{}`: only the parts of sip: and sips: URIs can be rewritten",
            uri.as_str()
        )));
    }
    let mut user = uri.user();
    let mut host = uri.host();
    let mut port = uri.port().map(|p| p.to_string());
    match part {
        RuriPart::Whole(_) => {}
        RuriPart::User(u) => {
            if let Some(u) = u.filter(|u| bad_text(u) || u.contains('@')) {
                return Err(PvError(format!("`{u}` is not a valid URI user")));
            }
            user = u.filter(|u| !u.is_empty());
        }
        RuriPart::Host(h) => {
            if h.is_empty() || bad_text(h) || h.contains(['@', ';', '?']) {
                return Err(PvError(format!("`{h}` is not a valid URI host")));
            }
            host = h;
        }
        RuriPart::Port(p) => match p.filter(|p| !p.is_empty()) {
            None => port = None,
            Some(p) => match p.parse::<u16>() {
                Ok(n) => port = Some(n.to_string()),
                Err(_) => return Err(PvError(format!("`{p}` is not a valid port"))),
            },
        },
    }
    let mut s = String::with_capacity(uri.as_str().len() + 16);
    s.push_str(scheme_text(uri));
    s.push(':');
    if let Some(u) = user {
        s.push_str(u);
        if let Some(pw) = uri.password() {
            s.push(':');
            s.push_str(pw);
        }
        s.push('@');
    }
    s.push_str(host);
    if let Some(p) = port {
        s.push(':');
        s.push_str(&p);
    }
    s.push_str(uri.params_str());
    if let Some(h) = uri.headers() {
        s.push('?');
        s.push_str(h);
    }
    Ok(s)
}

/// Where `part`, a slice of `whole`, starts in it.
fn offset_in(whole: &str, part: &str) -> Option<usize> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    (start + part.len() <= whole.len()).then_some(start)
}

/// Records the change of a part of the From or To header: replace
/// `start..end` of the received message with `text` (an insertion when
/// the range is empty).
fn edit_name_addr(
    msg: &mut SipMsg,
    kind: HeaderName,
    part: AddrPart,
    value: Option<&str>,
) -> Result<(), PvError> {
    let hname = if kind == HeaderName::From {
        "From"
    } else {
        "To"
    };
    if let Some(v) = value {
        if v.contains(['\r', '\n', '\0']) {
            return Err(PvError(format!(
                "a {hname} header part cannot contain line breaks"
            )));
        }
    }
    let (start, end, text) = {
        let h = msg
            .header(kind)
            .ok_or_else(|| PvError(format!("no {hname} header")))?;
        let na = if kind == HeaderName::From {
            msg.from_header()
        } else {
            msg.to_header()
        }
        .map_err(|e| PvError(format!("cannot parse the {hname} header: {e}")))?;
        let base = h.value_span().start();
        let at = |s: &str| {
            offset_in(h.value, s)
                .map(|o| base + o)
                .ok_or_else(|| PvError(format!("the {hname} header moved while editing")))
        };
        let uri = na.uri();
        let needs_sip = || {
            if matches!(uri.scheme(), Scheme::Sip | Scheme::Sips) {
                Ok(())
            } else {
                Err(PvError(format!(
                    "the {hname} URI `{}` has no user and host to change",
                    uri.as_str()
                )))
            }
        };
        match (part, value) {
            (AddrPart::Uri | AddrPart::Host, None) => {
                log::warn(
                    "pv",
                    format_args!("the {hname} URI and host cannot be deleted; unchanged"),
                );
                return Ok(());
            }
            (AddrPart::Uri, Some(v)) => {
                let s = at(na.uri_str())?;
                (s, s + na.uri_str().len(), v.to_owned())
            }
            (AddrPart::Host, Some(v)) => {
                needs_sip()?;
                let s = at(uri.host())?;
                (s, s + uri.host().len(), v.to_owned())
            }
            (AddrPart::User, v) => {
                needs_sip()?;
                let host_at = at(uri.host())?;
                match (uri.user(), v.filter(|v| !v.is_empty())) {
                    (None, None) => return Ok(()),
                    // The user, any password and the `@`.
                    (Some(u), None) => (at(u)?, host_at, String::new()),
                    (Some(u), Some(v)) => {
                        let s = at(u)?;
                        (s, s + u.len(), v.to_owned())
                    }
                    (None, Some(v)) => (host_at, host_at, format!("{v}@")),
                }
            }
            (AddrPart::Name, v) => match (na.display_name_raw(), v.filter(|v| !v.is_empty())) {
                (None, None) => return Ok(()),
                (Some(d), None) => {
                    let s = at(d)?;
                    let mut e = s + d.len();
                    if h.value.as_bytes().get(e - base) == Some(&b' ') {
                        e += 1;
                    }
                    (s, e, String::new())
                }
                (Some(d), Some(v)) => {
                    let s = at(d)?;
                    (s, s + d.len(), v.to_owned())
                }
                (None, Some(v)) => (base, base, format!("{v} ")),
            },
            (AddrPart::Tag, _) => {
                return Err(PvError(format!("the {hname} tag is read-only")));
            }
        }
    };
    let r = if start == end {
        msg.insert_at(start, text)
    } else {
        let span = Span::new(
            u32::try_from(start).map_err(|_| PvError("offset out of range".to_owned()))?,
            u32::try_from(end).map_err(|_| PvError("offset out of range".to_owned()))?,
        );
        msg.replace_span(span, text)
    };
    r.map_err(|e| PvError(format!("cannot edit the {hname} header: {e}")))
}

fn want_str<'v>(name: &str, value: &'v PvValue) -> Result<Option<&'v str>, PvError> {
    match value {
        PvValue::Null => Ok(None),
        PvValue::Str(s) => Ok(Some(s)),
        PvValue::Int(_) => Err(PvError(format!("{name} takes a string value"))),
    }
}

fn want_flags(name: &str, value: &PvValue) -> Result<u32, PvError> {
    match value {
        PvValue::Null => Ok(0),
        // Flags are a 32-bit mask: keep the low bits, as C does.
        PvValue::Int(i) => Ok(*i as u32),
        PvValue::Str(_) => Err(PvError(format!("{name} takes an integer value"))),
    }
}

/// Writes a builtin variable.
pub(super) fn write(ctx: &mut Ctx<'_>, b: Builtin, value: PvValue) -> Result<(), PvError> {
    use Builtin as B;
    match b {
        B::MsgFlags => {
            ctx.state_mut().flags = want_flags("$mf", &value)?;
            return Ok(());
        }
        B::BranchFlags => {
            ctx.state_mut().branch_flags[0] = want_flags("$bf", &value)?;
            return Ok(());
        }
        B::ScriptFlags => {
            let f = want_flags("$sf", &value)?;
            ctx.set_script_flags(f);
            return Ok(());
        }
        _ => {}
    }
    let writable = matches!(
        b,
        B::Ruri
            | B::RuriUser
            | B::RuriHost
            | B::RuriPort
            | B::Duri
            | B::FromUri
            | B::FromUser
            | B::FromHost
            | B::FromName
            | B::ToUri
            | B::ToUser
            | B::ToHost
            | B::ToName
    );
    if !writable {
        return Err(PvError(format!("{b:?} is a read-only pseudo-variable")));
    }
    let Some(msg) = ctx.msg_mut() else {
        return Err(PvError(
            "there is no SIP message to change (script top level?)".to_owned(),
        ));
    };
    match b {
        B::Ruri => match want_str("$ru", &value)? {
            Some(v) => rewrite_ruri(msg, RuriPart::Whole(v)),
            None => Err(PvError("$ru cannot be null".to_owned())),
        },
        B::RuriUser => rewrite_ruri(msg, RuriPart::User(want_str("$rU", &value)?)),
        B::RuriHost => match want_str("$rd", &value)? {
            Some(v) => rewrite_ruri(msg, RuriPart::Host(v)),
            None => Err(PvError("$rd cannot be null".to_owned())),
        },
        B::RuriPort => match &value {
            PvValue::Int(i) => rewrite_ruri(msg, RuriPart::Port(Some(&i.to_string()))),
            v => rewrite_ruri(msg, RuriPart::Port(want_str("$rp", v)?)),
        },
        B::Duri => match want_str("$du", &value)? {
            Some(v) => msg
                .set_du(v)
                .map_err(|e| PvError(format!("cannot set $du to `{v}`: {e}"))),
            None => {
                msg.reset_du();
                Ok(())
            }
        },
        B::FromUri | B::FromUser | B::FromHost | B::FromName => {
            let v = want_str("the From header", &value)?;
            let part = match b {
                B::FromUri => AddrPart::Uri,
                B::FromUser => AddrPart::User,
                B::FromHost => AddrPart::Host,
                _ => AddrPart::Name,
            };
            edit_name_addr(msg, HeaderName::From, part, v)
        }
        _ => {
            let v = want_str("the To header", &value)?;
            let part = match b {
                B::ToUri => AddrPart::Uri,
                B::ToUser => AddrPart::User,
                B::ToHost => AddrPart::Host,
                _ => AddrPart::Name,
            };
            edit_name_addr(msg, HeaderName::To, part, v)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::PvSpec;
    use super::*;
    use crate::ctx::WorkerLocal;

    const INVITE: &str = "INVITE sip:bob:secret@biloxi.example.com:5062;transport=tcp?subject=x SIP/2.0\r\n\
        Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
        Max-Forwards: 70\r\n\
        To: Bob <sip:bob@biloxi.example.com>\r\n\
        f: \"Alice A\" <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
        Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
        CSeq: 314159 INVITE\r\n\
        Contact: <sip:alice@pc33.atlanta.example.com>\r\n\
        User-Agent: softphone/1.0\r\n\
        X-Multi: one\r\n\
        x-multi: two\r\n\
        Proxy-Authorization: Digest username=\"alice@atlanta.example.com\", realm=\"atlanta.example.com\", nonce=\"n\", uri=\"sip:bob@biloxi.example.com\", response=\"r\", algorithm=MD5\r\n\
        c: application/sdp\r\n\
        Content-Length: 4\r\n\r\nv=0\n";

    fn recv() -> RecvInfo {
        RecvInfo {
            proto: Proto::Udp,
            src: "192.0.2.10:5066".parse().expect("addr"),
            local: "[2001:db8::1]:5060".parse().expect("addr"),
            conn: None,
        }
    }

    fn parse(text: &str) -> SipMsg {
        SipMsg::parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn get(ctx: &Ctx<'_>, name: &str) -> PvValue {
        PvSpec::parse(name)
            .unwrap_or_else(|e| panic!("{e}"))
            .get(ctx)
    }

    fn s(v: &str) -> PvValue {
        PvValue::Str(v.to_owned())
    }

    #[test]
    fn request_variables() {
        let mut w = WorkerLocal::default();
        let mut m = parse(INVITE);
        let ctx = Ctx::for_message(&mut w, &mut m, recv());
        let expect = [
            (
                "$ru",
                s("sip:bob:secret@biloxi.example.com:5062;transport=tcp?subject=x"),
            ),
            ("$rU", s("bob")),
            ("$rd", s("biloxi.example.com")),
            ("$rp", s("5062")),
            ("$rP", s("tcp")),
            ("$rz", s("sip")),
            ("$du", PvValue::Null),
            ("$fu", s("sip:alice@atlanta.example.com")),
            ("$fU", s("alice")),
            ("$fd", s("atlanta.example.com")),
            ("$fn", s("\"Alice A\"")),
            ("$ft", s("1928301774")),
            ("$tu", s("sip:bob@biloxi.example.com")),
            ("$tn", s("Bob")),
            ("$tt", PvValue::Null),
            ("$ci", s("a84b4c76e66710@pc33.atlanta.example.com")),
            ("$cs", s("314159")),
            ("$csb", s("314159 INVITE")),
            ("$rm", s("INVITE")),
            ("$rmid", PvValue::Int(1)),
            ("$rs", PvValue::Null),
            ("$rr", PvValue::Null),
            ("$rv", s("SIP/2.0")),
            ("$ua", s("softphone/1.0")),
            ("$ct", s("<sip:alice@pc33.atlanta.example.com>")),
            ("$cT", s("application/sdp")),
            ("$cl", PvValue::Int(4)),
            ("$bs", PvValue::Int(4)),
            ("$rb", s("v=0\n")),
            ("$ml", PvValue::Int(INVITE.len() as i64)),
            ("$mb", s(INVITE)),
            ("$mt", PvValue::Int(1)),
            ("$au", s("alice")),
            ("$ad", s("atlanta.example.com")),
            ("$aU", s("alice@atlanta.example.com")),
            ("$ar", s("atlanta.example.com")),
            ("$adu", s("sip:bob@biloxi.example.com")),
            ("$aa", s("MD5")),
            ("$si", s("192.0.2.10")),
            ("$sp", PvValue::Int(5066)),
            ("$su", s("sip:192.0.2.10:5066")),
            ("$sut", s("sip:192.0.2.10:5066;transport=udp")),
            ("$Ri", s("2001:db8::1")),
            ("$Rp", PvValue::Int(5060)),
            ("$Ru", s("sip:[2001:db8::1]:5060")),
            ("$pr", s("udp")),
            ("$proto", s("udp")),
            ("$prid", PvValue::Int(1)),
            ("$hdr(x-multi)", s("one")),
            ("$(hdr(X-Multi)[1])", s("two")),
            ("$(hdr(X-Multi)[-1])", s("two")),
            ("$(hdr(X-Multi)[2])", PvValue::Null),
            ("$(hdr(X-Multi)[*])", s("one,two")),
            (
                "$hdr(From)",
                s("\"Alice A\" <sip:alice@atlanta.example.com>;tag=1928301774"),
            ),
            ("$hdr(Content-Type)", s("application/sdp")),
            ("$hdr(X-None)", PvValue::Null),
            ("$hdrc(X-MULTI)", PvValue::Int(2)),
            ("$hdrc(v)", PvValue::Int(1)),
            ("$hdrc(Route)", PvValue::Int(0)),
            ("$mf", PvValue::Int(0)),
            ("$mF", s("00000000")),
            ("$null", PvValue::Null),
        ];
        for (name, want) in expect {
            assert_eq!(get(&ctx, name), want, "{name}");
        }
        assert!(matches!(get(&ctx, "$Ts"), PvValue::Int(t) if t > 1_600_000_000));
        assert_eq!(
            get(&ctx, "$pp"),
            PvValue::Int(i64::from(std::process::id()))
        );
    }

    #[test]
    fn reply_variables() {
        let mut w = WorkerLocal::default();
        let mut m = parse(
            "SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
        );
        let mut r = recv();
        r.proto = Proto::Tcp;
        let ctx = Ctx::for_message(&mut w, &mut m, r);
        assert_eq!(get(&ctx, "$rs"), PvValue::Int(486));
        assert_eq!(get(&ctx, "$rr"), s("Busy Here"));
        assert_eq!(get(&ctx, "$rm"), s("BYE"));
        assert_eq!(get(&ctx, "$rmid"), PvValue::Int(8));
        assert_eq!(get(&ctx, "$ru"), PvValue::Null);
        assert_eq!(get(&ctx, "$rU"), PvValue::Null);
        assert_eq!(get(&ctx, "$ou"), PvValue::Null);
        assert_eq!(get(&ctx, "$tt"), s("2"));
        assert_eq!(get(&ctx, "$mt"), PvValue::Int(2));
        assert_eq!(get(&ctx, "$rb"), s(""));
        assert_eq!(get(&ctx, "$su"), s("sip:192.0.2.10:5066;transport=tcp"));
        assert_eq!(get(&ctx, "$prid"), PvValue::Int(2));
        assert_eq!(get(&ctx, "$au"), PvValue::Null);
    }

    #[test]
    fn message_variables_are_null_without_a_message() {
        let mut w = WorkerLocal::default();
        let ctx = Ctx::without_message(&mut w);
        for name in ["$ru", "$si", "$hdr(Via)", "$hdrc(Via)", "$ci", "$rm"] {
            assert_eq!(get(&ctx, name), PvValue::Null, "{name}");
        }
        assert_eq!(get(&ctx, "$mf"), PvValue::Int(0));
    }

    fn set(ctx: &mut Ctx<'_>, name: &str, v: PvValue) -> Result<(), PvError> {
        PvSpec::parse(name)
            .unwrap_or_else(|e| panic!("{e}"))
            .set(ctx, v)
    }

    #[test]
    fn request_uri_writes_take_effect_at_once() {
        let mut w = WorkerLocal::default();
        let mut m = parse(INVITE);
        let mut ctx = Ctx::for_message(&mut w, &mut m, recv());
        set(&mut ctx, "$rU", s("carol")).expect("ok");
        assert_eq!(
            get(&ctx, "$ru"),
            s("sip:carol:secret@biloxi.example.com:5062;transport=tcp?subject=x")
        );
        set(&mut ctx, "$rd", s("[2001:db8::9]")).expect("ok");
        set(&mut ctx, "$rp", PvValue::Int(5080)).expect("ok");
        assert_eq!(
            get(&ctx, "$ru"),
            s("sip:carol:secret@[2001:db8::9]:5080;transport=tcp?subject=x")
        );
        set(&mut ctx, "$rp", PvValue::Null).expect("ok");
        set(&mut ctx, "$rU", PvValue::Null).expect("ok");
        assert_eq!(
            get(&ctx, "$ru"),
            s("sip:[2001:db8::9];transport=tcp?subject=x")
        );
        assert_eq!(get(&ctx, "$rp"), s("5060"));
        assert_eq!(get(&ctx, "$rU"), PvValue::Null);
        set(&mut ctx, "$ru", s("sip:x@y.example")).expect("ok");
        assert_eq!(get(&ctx, "$rd"), s("y.example"));
        assert_eq!(
            get(&ctx, "$ou"),
            s("sip:bob:secret@biloxi.example.com:5062;transport=tcp?subject=x")
        );
        assert!(set(&mut ctx, "$ru", PvValue::Int(1)).is_err());
        assert!(set(&mut ctx, "$ru", PvValue::Null).is_err());
        assert!(set(&mut ctx, "$rd", s("bad host")).is_err());
        assert!(set(&mut ctx, "$rp", s("99999")).is_err());
        assert_eq!(
            get(&ctx, "$ru"),
            s("sip:x@y.example"),
            "failed writes change nothing"
        );
        set(&mut ctx, "$ru", s("tel:+1555")).expect("ok");
        assert!(
            set(&mut ctx, "$rU", s("a")).is_err(),
            "tel URIs have no user part"
        );
    }

    #[test]
    fn destination_uri() {
        let mut w = WorkerLocal::default();
        let mut m = parse(INVITE);
        let mut ctx = Ctx::for_message(&mut w, &mut m, recv());
        set(&mut ctx, "$du", s("sip:10.0.0.1:5080;transport=tls")).expect("ok");
        assert_eq!(get(&ctx, "$du"), s("sip:10.0.0.1:5080;transport=tls"));
        assert_eq!(get(&ctx, "$dd"), s("10.0.0.1"));
        assert_eq!(get(&ctx, "$dp"), s("5080"));
        assert_eq!(get(&ctx, "$dP"), s("tls"));
        set(&mut ctx, "$du", PvValue::Null).expect("ok");
        assert_eq!(get(&ctx, "$du"), PvValue::Null);
        assert_eq!(get(&ctx, "$dd"), PvValue::Null);
    }

    fn written(ctx: &mut Ctx<'_>) -> String {
        let mut out = Vec::new();
        if let Some(m) = ctx.msg() {
            m.write_into(&mut out);
        }
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn from_and_to_writes_are_edits() {
        let mut w = WorkerLocal::default();
        let mut m = parse(INVITE);
        let mut ctx = Ctx::for_message(&mut w, &mut m, recv());
        set(&mut ctx, "$fU", s("carol")).expect("ok");
        set(&mut ctx, "$fd", s("chicago.example.com")).expect("ok");
        set(&mut ctx, "$fn", PvValue::Null).expect("ok");
        set(&mut ctx, "$tn", s("\"Robert\"")).expect("ok");
        assert_eq!(
            get(&ctx, "$fU"),
            s("alice"),
            "reads see the received message"
        );
        let out = written(&mut ctx);
        assert!(
            out.contains("\r\nf: <sip:carol@chicago.example.com>;tag=1928301774\r\n"),
            "{out}"
        );
        assert!(
            out.contains("\r\nTo: \"Robert\" <sip:bob@biloxi.example.com>\r\n"),
            "{out}"
        );
        assert!(set(&mut ctx, "$ft", s("x")).is_err());
        assert!(set(&mut ctx, "$fU", s("a\r\nX: y")).is_err());
    }

    #[test]
    fn from_edits_add_missing_parts_and_replace_the_uri() {
        let mut w = WorkerLocal::default();
        let mut m =
            parse("OPTIONS sip:x SIP/2.0\r\nFrom: sip:example.com;tag=9\r\nTo: <sip:b@c>\r\n\r\n");
        let mut ctx = Ctx::for_message(&mut w, &mut m, recv());
        set(&mut ctx, "$fU", s("anon")).expect("ok");
        set(&mut ctx, "$fn", s("Anon")).expect("ok");
        set(&mut ctx, "$tu", s("sip:d@e")).expect("ok");
        set(&mut ctx, "$tu", PvValue::Null).expect("deleting is refused softly");
        let out = written(&mut ctx);
        assert!(
            out.contains("\r\nFrom: Anon sip:anon@example.com;tag=9\r\n"),
            "{out}"
        );
        assert!(out.contains("\r\nTo: <sip:d@e>\r\n"), "{out}");
    }

    #[test]
    fn flags_and_read_only_variables() {
        let mut w = WorkerLocal::default();
        let mut m = parse(INVITE);
        let mut ctx = Ctx::for_message(&mut w, &mut m, recv());
        set(&mut ctx, "$mf", PvValue::Int(5)).expect("ok");
        set(&mut ctx, "$bf", PvValue::Int(255)).expect("ok");
        set(&mut ctx, "$sf", PvValue::Int(2)).expect("ok");
        assert_eq!(ctx.state().flags, 5);
        assert_eq!(get(&ctx, "$mF"), s("00000005"));
        assert_eq!(get(&ctx, "$bF"), s("000000ff"));
        assert_eq!(get(&ctx, "$sf"), PvValue::Int(2));
        assert!(set(&mut ctx, "$mf", s("5")).is_err());
        set(&mut ctx, "$mf", PvValue::Null).expect("ok");
        assert_eq!(get(&ctx, "$mf"), PvValue::Int(0));
        for name in ["$si", "$ci", "$rm", "$ou", "$mF", "$ft", "$tt"] {
            assert!(set(&mut ctx, name, s("x")).is_err(), "{name}");
        }
        let mut w2 = WorkerLocal::default();
        let mut top = Ctx::without_message(&mut w2);
        assert!(set(&mut top, "$ru", s("sip:a@b")).is_err());
    }
}
