//! `KSR.corex`: core extensions: the destination set (`append_branch`),
//! extended message flags, checks on the Request-URI and User-Agent,
//! sending raw data, and reading or writing files.
//!
//! kemid has no per-socket settings, Via extensions, socket names or
//! forwarding without transactions yet, so the socket, Via and
//! `forward_uac` functions of Kamailio's corex are not provided.
//!
//! Module parameters (`alias_subdomains`, `dns_cache`, ...) are accepted
//! and have no effect.

use std::net::{SocketAddr, ToSocketAddrs};

use kemid_macros::kemi;

use crate::ctx::{Branch, Ctx, MAX_BRANCHES};
use crate::log;
use crate::registry::XVal;
use crate::sip::{HeaderName, Scheme, Uri};
use crate::transport::Proto;

/// `modparam("corex", ...)`: accepted so that existing configurations
/// load; none of them changes what kemid does.
#[derive(Clone, Debug, kemid_macros::ModParams)]
pub struct Params {
    #[param(inert)]
    pub alias_subdomains: String,
    #[param(inert)]
    pub dns_cache: String,
    #[param(inert)]
    pub dns_file: String,
    #[param(inert)]
    pub nio_intercept: i64,
    #[param(inert)]
    pub nio_min_msg_len: i64,
    #[param(inert)]
    pub nio_msg_avp: String,
    #[param(inert)]
    pub evcb_reply_out: String,
}

/// `loadmodule "corex.so"`.
pub static MODULE: crate::module::Module<()> = crate::module::Module::new(
    "corex",
    "core extensions: branches, extended flags, raw sends, files",
);

const ORIGIN: &str = "corex";

/// Parses a q-value (`0` to `1`, at most three decimals) into thousandths.
fn parse_q(text: &str) -> Option<i32> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if int.is_empty()
        || frac.len() > 3
        || !int.bytes().chain(frac.bytes()).all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let int: i32 = int.parse().ok()?;
    let mut f = frac.to_owned();
    while f.len() < 3 {
        f.push('0');
    }
    let q = int.checked_mul(1000)?.checked_add(f.parse().ok()?)?;
    (0..=1000).contains(&q).then_some(q)
}

/// Adds a branch to the destination set with the current destination URI,
/// Path and branch flags. `uri` `None` moves the Request-URI branch into
/// it: those attributes are then cleared for the Request-URI branch.
fn add_branch(ctx: &mut Ctx, uri: Option<&str>, q: &str) -> i32 {
    let q = if q.is_empty() {
        None
    } else {
        match parse_q(q) {
            Some(v) => Some(v),
            None => {
                log::error(ORIGIN, format_args!("cannot parse the q value `{q}`"));
                return -1;
            }
        }
    };
    if ctx.state().branches.len() >= MAX_BRANCHES - 1 {
        log::error(ORIGIN, format_args!("max nr of branches exceeded"));
        return -1;
    }
    let Some(msg) = ctx.msg() else {
        return -1;
    };
    let shift = uri.is_none();
    let uri = match uri {
        Some(u) => {
            if u.bytes().any(|c| c <= b' ' || c == 0x7f) {
                log::error(ORIGIN, format_args!("invalid branch URI `{u}`"));
                return -1;
            }
            u.to_owned()
        }
        None => match msg.ruri_str() {
            Some(u) => u.to_owned(),
            None => {
                log::error(ORIGIN, format_args!("no Request-URI to make a branch of"));
                return -1;
            }
        },
    };
    let dst_uri = msg.du().map(str::to_owned);
    let state = ctx.state();
    let branch = Branch {
        uri,
        dst_uri,
        path: state.path.clone(),
        q,
        flags: state.branch_flags[0],
        ..Branch::default()
    };
    ctx.state_mut().branches.push(branch);
    if shift {
        let state = ctx.state_mut();
        state.branch_flags[0] = 0;
        state.path = None;
        if let Some(m) = ctx.msg_mut() {
            m.reset_du();
        }
    }
    1
}

/// Adds the current Request-URI as a new branch of the destination set,
/// with the destination URI (`$du`), Path and branch flags; those are then
/// cleared for the Request-URI branch. `KSR.tm.t_relay()` forks to every
/// branch.
///
/// # Returns
/// 1 when added, -1 when the message is not a request or the set is full
/// (logged).
///
/// # Example
/// ```js
/// KSR.corex.append_branch();
/// KSR.setuser("bob-mobile");
/// ```
#[kemi]
pub fn append_branch(ctx: &mut Ctx) -> i32 {
    add_branch(ctx, None, "")
}

/// Adds a branch with a given URI to the destination set; it takes the
/// current destination URI (`$du`), Path and branch flags, which stay
/// with the Request-URI branch too.
///
/// # Parameters
/// - `uri`: the branch's Request-URI; empty to use the current one (as
///   `append_branch`).
///
/// # Returns
/// 1 when added, -1 when the URI is invalid or the set is full (logged).
///
/// # Example
/// ```js
/// KSR.corex.append_branch_uri("sip:bob@192.0.2.20");
/// ```
#[kemi]
pub fn append_branch_uri(ctx: &mut Ctx, uri: &str) -> i32 {
    add_branch(ctx, (!uri.is_empty()).then_some(uri), "")
}

/// Adds a branch with a given URI and q-value to the destination set (see
/// `append_branch_uri`).
///
/// # Parameters
/// - `uri`: the branch's Request-URI; empty to use the current one.
/// - `q`: the q-value, `0` to `1` with up to three decimals (`"0.5"`);
///   empty for none.
///
/// # Returns
/// 1 when added, -1 when the URI or q-value is invalid or the set is full
/// (logged).
///
/// # Example
/// ```js
/// KSR.corex.append_branch_uri_q("sip:bob@192.0.2.20", "0.5");
/// ```
#[kemi]
pub fn append_branch_uri_q(ctx: &mut Ctx, uri: &str, q: &str) -> i32 {
    add_branch(ctx, (!uri.is_empty()).then_some(uri), q)
}

/// The largest extended flag.
const MAX_XFLAG: i32 = 63;

fn xflag_bit(flag: i32) -> Option<u64> {
    (0..=MAX_XFLAG).contains(&flag).then(|| 1u64 << flag)
}

/// Sets an extended message flag (64 flags, separate from `KSR.setflag`).
///
/// # Parameters
/// - `fval`: the flag, 0 to 63.
///
/// # Returns
/// 1 when set, -1 when the flag is out of range.
///
/// # Example
/// ```js
/// KSR.corex.setxflag(40);
/// ```
#[kemi]
pub fn setxflag(ctx: &mut Ctx, fval: i32) -> i32 {
    match xflag_bit(fval) {
        Some(bit) => {
            ctx.state_mut().xflags |= bit;
            1
        }
        None => -1,
    }
}

/// Resets an extended message flag.
///
/// # Parameters
/// - `fval`: the flag, 0 to 63.
///
/// # Returns
/// 1 when reset, -1 when the flag is out of range.
///
/// # Example
/// ```js
/// KSR.corex.resetxflag(40);
/// ```
#[kemi]
pub fn resetxflag(ctx: &mut Ctx, fval: i32) -> i32 {
    match xflag_bit(fval) {
        Some(bit) => {
            ctx.state_mut().xflags &= !bit;
            1
        }
        None => -1,
    }
}

/// Checks an extended message flag.
///
/// # Parameters
/// - `fval`: the flag, 0 to 63.
///
/// # Returns
/// 1 when set, -1 when not set or out of range.
///
/// # Example
/// ```js
/// if (KSR.corex.isxflagset(40) > 0) {
///     KSR.info("flag 40 set\n");
/// }
/// ```
#[kemi]
pub fn isxflagset(ctx: &mut Ctx, fval: i32) -> i32 {
    match xflag_bit(fval) {
        Some(bit) if ctx.state().xflags & bit != 0 => 1,
        _ => -1,
    }
}

/// Checks whether the current Request-URI has a user part.
///
/// # Returns
/// 1 when it has a non-empty one, -1 when not, for a reply, or when the
/// Request-URI does not parse (logged).
///
/// # Example
/// ```js
/// if (KSR.corex.has_ruri_user() < 0) {
///     KSR.sl.sl_send_reply(484, "Address Incomplete");
/// }
/// ```
#[kemi]
pub fn has_ruri_user(ctx: &mut Ctx) -> i32 {
    let Some(msg) = ctx.msg() else {
        return -1;
    };
    if !msg.is_request() {
        return -1;
    }
    match msg.ruri() {
        Ok(u) if u.user().is_some_and(|u| !u.is_empty()) => 1,
        Ok(_) => -1,
        Err(e) => {
            log::error(ORIGIN, format_args!("failed to parse the R-URI: {e}"));
            -1
        }
    }
}

/// Checks whether the message has a non-empty User-Agent header.
///
/// # Returns
/// 1 when it has, -1 when not.
///
/// # Example
/// ```js
/// if (KSR.corex.has_user_agent() < 0) {
///     KSR.sl.sl_send_reply(403, "Forbidden");
/// }
/// ```
#[kemi]
pub fn has_user_agent(ctx: &mut Ctx) -> i32 {
    match ctx.msg().and_then(|m| m.header(HeaderName::UserAgent)) {
        Some(h) if !h.value.is_empty() => 1,
        _ => -1,
    }
}

/// Checks whether the callback runs without a real SIP message: kemid's
/// counterpart of Kamailio's internal "faked" message, used for event
/// routes and the script's top level.
///
/// # Returns
/// 1 when there is no real message, -1 when there is one.
///
/// # Example
/// ```js
/// if (KSR.corex.is_faked_msg() > 0) {
///     KSR.info("no SIP message here\n");
/// }
/// ```
#[kemi(toplevel)]
pub fn is_faked_msg(ctx: &mut Ctx) -> i32 {
    if ctx.has_message() {
        -1
    } else {
        1
    }
}

/// Where to send to for a SIP URI: its transport (UDP unless
/// `transport=tcp`) and address (the host resolved if it is a name; port
/// 5060 unless given).
fn uri_destination(text: &str) -> Result<(Proto, SocketAddr), String> {
    let uri = Uri::parse(text).map_err(|e| format!("invalid destination `{text}`: {e}"))?;
    if !matches!(uri.scheme(), Scheme::Sip) {
        return Err(format!("destination `{text}` is not a sip: URI"));
    }
    let proto = match uri.transport() {
        None => Proto::Udp,
        Some(t) if t.eq_ignore_ascii_case("udp") => Proto::Udp,
        Some(t) if t.eq_ignore_ascii_case("tcp") => Proto::Tcp,
        Some(t) => return Err(format!("transport `{t}` is not supported")),
    };
    let port = uri.port().unwrap_or(5060);
    if let Some(ip) = uri.host_ip() {
        return Ok((proto, SocketAddr::new(ip, port)));
    }
    let addr = (uri.host(), port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve `{}`: {e}", uri.host()))?
        .next()
        .ok_or_else(|| format!("no address for `{}`", uri.host()))?;
    Ok((proto, addr))
}

/// Sends raw data to the address of a SIP URI, from this server's socket
/// of the URI's transport (UDP, or TCP with `;transport=tcp`). A host name
/// is resolved first, which blocks the worker for the lookup.
///
/// # Parameters
/// - `uri`: where to send, such as `sip:192.0.2.30:5060`.
/// - `data`: the bytes to send.
///
/// # Returns
/// 1 when sent, -1 when the URI is invalid or sending failed (logged).
///
/// # Example
/// ```js
/// KSR.corex.send_data("sip:192.0.2.30:5060", "keep-alive\r\n");
/// ```
#[kemi(toplevel)]
pub fn send_data(ctx: &mut Ctx, uri: &str, data: &str) -> i32 {
    let (proto, dst) = match uri_destination(uri) {
        Ok(d) => d,
        Err(e) => {
            log::error(ORIGIN, format_args!("{e}"));
            return -1;
        }
    };
    let Some(core) = ctx.core() else {
        log::error(ORIGIN, format_args!("no server to send through"));
        return -1;
    };
    match core.send(proto, dst, None, data.as_bytes()) {
        Ok(()) => 1,
        Err(e) => {
            log::error(ORIGIN, format_args!("cannot send to {dst}: {e}"));
            -1
        }
    }
}

/// Reads a whole file.
///
/// # Parameters
/// - `fname`: the file path.
///
/// # Returns
/// The content (invalid UTF-8 replaced), or `""` when the file cannot be
/// read (logged).
///
/// # Example
/// ```js
/// var motd = KSR.corex.file_read("/etc/kemid/motd.txt");
/// ```
#[kemi(toplevel, xval = "str")]
pub fn file_read(_ctx: &mut Ctx, fname: &str) -> XVal {
    match std::fs::read(fname) {
        Ok(data) => XVal::Str(String::from_utf8_lossy(&data).into_owned()),
        Err(e) => {
            log::error(ORIGIN, format_args!("cannot read file {fname}: {e}"));
            XVal::Str(String::new())
        }
    }
}

/// Writes a file, replacing its content.
///
/// # Parameters
/// - `fname`: the file path.
/// - `fdata`: the content.
///
/// # Returns
/// 1 when written, -1 when the file cannot be written (logged).
///
/// # Example
/// ```js
/// KSR.corex.file_write("/tmp/last-caller.txt", KSR.pv.gete("$fu"));
/// ```
#[kemi(toplevel)]
pub fn file_write(_ctx: &mut Ctx, fname: &str, fdata: &str) -> i32 {
    match std::fs::write(fname, fdata) {
        Ok(()) => 1,
        Err(e) => {
            log::error(ORIGIN, format_args!("cannot write file {fname}: {e}"));
            -1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctx::WorkerLocal;
    use crate::modules::textops::tests::{with_msg, INVITE};

    #[test]
    fn q_values() {
        assert_eq!(parse_q("0.5"), Some(500));
        assert_eq!(parse_q("1"), Some(1000));
        assert_eq!(parse_q("1.000"), Some(1000));
        assert_eq!(parse_q("0.125"), Some(125));
        assert_eq!(parse_q("1.5"), None);
        assert_eq!(parse_q("0.1234"), None);
        assert_eq!(parse_q(".5"), None);
        assert_eq!(parse_q("x"), None);
    }

    #[test]
    fn branches() {
        let (r, _, msg) = with_msg(INVITE, |c| {
            if let Some(m) = c.msg_mut() {
                m.set_du("sip:192.0.2.99").expect("valid");
            }
            c.state_mut().branch_flags[0] = 4;
            let a = append_branch_uri_q(c, "sip:b2@example.com", "0.5");
            let b = append_branch(c);
            let e = (
                append_branch_uri_q(c, "sip:x@y", "2"),
                append_branch_uri(c, "sip:a b"),
            );
            (
                a,
                b,
                e,
                c.state().branches.clone(),
                c.state().branch_flags[0],
            )
        });
        assert_eq!((r.0, r.1, r.2), (1, 1, (-1, -1)));
        let br = r.3;
        assert_eq!(br.len(), 2);
        assert_eq!(br[0].uri, "sip:b2@example.com");
        assert_eq!(br[0].q, Some(500));
        assert_eq!(br[0].dst_uri.as_deref(), Some("sip:192.0.2.99"));
        assert_eq!(br[0].flags, 4);
        assert_eq!(br[1].uri, "sip:bob@example.com");
        assert_eq!(br[1].q, None);
        assert_eq!(r.4, 0, "the Request-URI branch moved into the new one");
        assert_eq!(msg.du(), None);
        let (r, _, _) = with_msg(INVITE, |c| {
            (0..MAX_BRANCHES)
                .map(|_| append_branch_uri(c, "sip:x@y"))
                .collect::<Vec<_>>()
        });
        assert_eq!(r.iter().filter(|&&x| x == 1).count(), MAX_BRANCHES - 1);
        assert_eq!(r.last(), Some(&-1));
    }

    #[test]
    fn extended_flags() {
        let (r, _, _) = with_msg(INVITE, |c| {
            (
                setxflag(c, 63),
                isxflagset(c, 63),
                isxflagset(c, 1),
                resetxflag(c, 63),
                isxflagset(c, 63),
                setxflag(c, 64),
                setxflag(c, -1),
            )
        });
        assert_eq!(r, (1, 1, -1, 1, -1, -1, -1));
    }

    #[test]
    fn message_checks() {
        let ua = INVITE.replacen("CSeq:", "User-Agent: phone\r\nCSeq:", 1);
        let (r, _, _) = with_msg(&ua, |c| {
            (has_ruri_user(c), has_user_agent(c), is_faked_msg(c))
        });
        assert_eq!(r, (1, 1, -1));
        let no_user = INVITE.replacen("sip:bob@example.com SIP", "sip:example.com SIP", 1);
        let (r, _, _) = with_msg(&no_user, |c| (has_ruri_user(c), has_user_agent(c)));
        assert_eq!(r, (-1, -1));
        let mut w = WorkerLocal::default();
        let mut ctx = Ctx::without_message(&mut w);
        assert_eq!(is_faked_msg(&mut ctx), 1);
    }

    #[test]
    fn destinations() {
        assert_eq!(
            uri_destination("sip:192.0.2.30:5070;transport=TCP"),
            Ok((Proto::Tcp, "192.0.2.30:5070".parse().expect("addr")))
        );
        assert_eq!(
            uri_destination("sip:[2001:db8::1]"),
            Ok((Proto::Udp, "[2001:db8::1]:5060".parse().expect("addr")))
        );
        assert!(uri_destination("sip:h;transport=tls").is_err());
        assert!(uri_destination("tel:+123").is_err());
        assert!(uri_destination("garbage").is_err());
        let mut w = WorkerLocal::default();
        let mut ctx = Ctx::without_message(&mut w);
        assert_eq!(send_data(&mut ctx, "sip:192.0.2.30", "x"), -1, "no server");
    }

    #[test]
    fn files() {
        let dir = std::env::temp_dir().join(format!("kemid-corex-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let f = dir.join("f.txt");
        let f = f.to_string_lossy();
        let mut w = WorkerLocal::default();
        let mut ctx = Ctx::without_message(&mut w);
        assert_eq!(file_write(&mut ctx, &f, "hello"), 1);
        assert_eq!(file_read(&mut ctx, &f), XVal::Str("hello".into()));
        let missing = dir.join("missing").join("x");
        assert_eq!(
            file_read(&mut ctx, &missing.to_string_lossy()),
            XVal::Str(String::new())
        );
        assert_eq!(file_write(&mut ctx, &missing.to_string_lossy(), "x"), -1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
