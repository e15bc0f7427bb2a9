//! Processing a REGISTER (RFC 3261 §10.3): checking it, updating the
//! bindings of its address of record, and the reply listing them.

use std::cell::Cell;
use std::fmt::Write as _;

use super::{RegCfg, RegState, MODULE};
use crate::ctx::Ctx;
use crate::log;
use crate::modules::usrloc::api::{self, methods, Contact, LocationStore, Usrloc, ALL_METHODS};
use crate::sip::{unquote, Contacts, HeaderName, NameAddr, SipMsg};

/// `save` flag: keep the contacts in memory only (always so in kemid).
pub const SAVE_MEMORY: i32 = 0x01;
/// `save` flag: do not reply; `reg_send_reply` can send it later.
pub const SAVE_NO_REPLY: i32 = 0x02;
/// `save` flag: one contact per AoR; the others are removed.
pub const SAVE_SINGLE: i32 = 0x04;
/// `save` flag: do not shorten expiries by `expires_range`.
pub const SAVE_NO_VARIATION: i32 = 0x08;
/// `save` flag (with `SAVE_NO_REPLY`): add the reply headers to the next
/// local reply.
pub const SAVE_PREPARE_REPLY: i32 = 0x10;

/// Why a REGISTER is refused (Kamailio's registrar error numbers), with
/// the status code and the `P-Registrar-Error` text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegError {
    InvalidCSeq,
    NoUser,
    AorTooLong,
    AorParse,
    InvalidExpires,
    InvalidQ,
    ToMissing,
    CallIdMissing,
    CSeqMissing,
    ExpiresParse,
    ContactParse,
    StarExpires,
    StarContact,
    TooMany,
    ContactTooLong,
    CallIdTooLong,
    PathParse,
    PathUnsupported,
    TooBrief,
    NoTable,
}

impl RegError {
    pub fn code(self) -> u16 {
        use RegError::*;
        match self {
            TooMany => 503,
            PathUnsupported => 420,
            TooBrief => 423,
            AorTooLong | NoTable => 500,
            _ => 400,
        }
    }

    pub fn info(self) -> &'static str {
        use RegError::*;
        match self {
            InvalidCSeq => "Invalid CSeq number",
            NoUser => "No username in To URI",
            AorTooLong => "Address Of Record too long",
            AorParse => "Error while parsing AOR",
            InvalidExpires => "Invalid expires param in contact",
            InvalidQ => "Invalid q param in contact",
            ToMissing => "To header not found",
            CallIdMissing => "Call-ID header not found",
            CSeqMissing => "CSeq header not found",
            ExpiresParse => "Expires parse error",
            ContactParse => "Contact parse error",
            StarExpires => "* used in contact and expires is not zero",
            StarContact => "* used in contact and more than 1 contact",
            TooMany => "Too many registered contacts",
            ContactTooLong => "Contact/received too long",
            CallIdTooLong => "Callid too long",
            PathParse => "Path parse error",
            PathUnsupported => "No support for found Path indicated",
            TooBrief => "Interval too brief",
            NoTable => "usrloc_record_get failed",
        }
    }
}

/// Longest Call-ID stored.
const CALLID_MAX: usize = 255;
/// Longest received address stored.
const RECEIVED_MAX: usize = 255;
/// Longest User-Agent stored.
const UA_MAX: usize = 255;

thread_local! {
    static RNG: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(api::now());
    h.finish() | 1
}

/// A pseudo-random number in `0..n` (xorshift; only spreads expiries).
fn random_below(n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    RNG.with(|r| {
        let mut x = r.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        r.set(x);
        x % n
    })
}

/// Shortens `expires` by a random part of up to `range` percent.
fn randomize(expires: u32, range: u32) -> u32 {
    if range == 0 || expires == 0 {
        return expires;
    }
    let span = u64::from(expires) * u64::from(range.min(100)) / 100;
    let min = u64::from(expires) - span;
    (min + random_below(span + 1)) as u32
}

/// The expiry, in seconds from now, of one contact (0: remove it).
/// `contact_param` is its `expires` parameter, `header` the Expires header.
pub fn contact_expires(
    cfg: &RegCfg,
    contact_param: Option<&str>,
    header: Option<u32>,
    no_variation: bool,
) -> Result<u32, RegError> {
    let (mut e, range) = match contact_param.filter(|p| !p.is_empty()) {
        Some(p) => match p.trim().parse::<u32>() {
            Ok(v) => (v, cfg.expires_range),
            Err(_) => (cfg.default_expires, cfg.default_expires_range),
        },
        None => match header {
            Some(v) => (v, cfg.expires_range),
            None => (cfg.default_expires, cfg.default_expires_range),
        },
    };
    if e == 0 {
        return Ok(0);
    }
    if e < cfg.min_expires {
        if cfg.min_expires_mode {
            return Err(RegError::TooBrief);
        }
        e = cfg.min_expires;
    }
    if !no_variation {
        e = randomize(e, range).max(cfg.min_expires).max(1);
    }
    if cfg.max_expires > 0 && e > cfg.max_expires {
        e = cfg.max_expires;
    }
    Ok(e)
}

/// What a REGISTER asks for one contact, checked before anything changes.
#[derive(Debug)]
struct Wanted {
    uri: String,
    /// Seconds from now; 0 removes the binding.
    expires: u32,
    q: Option<u16>,
    methods: u32,
    received: Option<String>,
    instance: Option<String>,
    reg_id: u32,
}

/// What is common to the contacts of one REGISTER.
#[derive(Debug, Default)]
struct Common {
    call_id: String,
    cseq: u32,
    path: Option<String>,
    user_agent: Option<String>,
    cflags: u32,
    socket: Option<String>,
    conn: Option<u64>,
}

/// The outcome of a successful save: Kamailio's return code (1 inserted,
/// 2 updated, 3 deleted, 4 queried) and the `Contact:` line of the reply
/// listing every binding left ([`contact_line`]).
pub struct Saved {
    pub code: i32,
    pub listing: String,
}

/// A refusal.
pub struct Refused {
    pub error: RegError,
}

/// Reads the AVP a `received_avp` parameter names (`$avp(name)` or
/// `$avp(s:name)`).
fn received_from_avp(ctx: &Ctx, spec: &str) -> Option<String> {
    let inner = spec
        .trim()
        .strip_prefix("$avp(")
        .and_then(|s| s.strip_suffix(')'))?;
    let name = inner.strip_prefix("s:").unwrap_or(inner);
    match ctx.state().avps.get(name)? {
        crate::pv::PvValue::Str(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// The source of the message as a URI (`sip:ip:port;transport=tcp`), what
/// a contact behind a NAT is reached at.
pub fn source_uri(ctx: &Ctx) -> Option<String> {
    let recv = ctx.recv()?;
    let mut s = format!("sip:{}", recv.src);
    if recv.proto != crate::transport::Proto::Udp {
        let _ = write!(s, ";transport={}", recv.proto.name());
    }
    Some(s)
}

/// The Path of the REGISTER (every value, in order, comma separated) and
/// the `received` parameter of its first URI.
fn path_of(msg: &SipMsg) -> Result<(Option<String>, Option<String>), RegError> {
    let values: Vec<&str> = msg.values(HeaderName::Path).collect();
    if values.is_empty() {
        return Ok((None, None));
    }
    let mut received = None;
    for (i, v) in values.iter().enumerate() {
        let na = NameAddr::parse(v).map_err(|_| RegError::PathParse)?;
        if i == 0 {
            received = na.uri().param("received").map(|r| unquote(r).to_owned());
        }
    }
    Ok((Some(values.join(",")), received.filter(|r| !r.is_empty())))
}

/// Whether the REGISTER says it supports `tag` (Supported header).
fn supports(msg: &SipMsg, tag: &str) -> bool {
    msg.values(HeaderName::Supported)
        .any(|v| v.trim().eq_ignore_ascii_case(tag))
}

/// Checks the REGISTER and applies it to `table`.
pub fn save(
    ctx: &mut Ctx,
    ul: &Usrloc,
    table: &dyn LocationStore,
    aor: &str,
    flags: i32,
    cfg: &RegCfg,
    reply_headers: &mut String,
) -> Result<Saved, Refused> {
    let refuse = |error| Refused { error };
    let now = api::now();
    let novariation = flags & SAVE_NO_VARIATION != 0;
    let q_override = MODULE
        .msg_data::<RegState>(ctx.state())
        .and_then(|r| r.q_override);
    let from_avp = cfg
        .received_avp
        .as_deref()
        .and_then(|spec| received_from_avp(ctx, spec));
    let branch0_flags = ctx.state().branch_flags[0];
    let recv = ctx.recv().copied();
    let Some(msg) = ctx.msg() else {
        return Err(refuse(RegError::ContactParse));
    };
    if msg.to_header().is_err() {
        return Err(refuse(RegError::ToMissing));
    }
    let call_id = msg.call_id().map_err(|_| refuse(RegError::CallIdMissing))?;
    if call_id.len() > CALLID_MAX {
        return Err(refuse(RegError::CallIdTooLong));
    }
    let cseq = msg
        .cseq()
        .map_err(|_| refuse(RegError::CSeqMissing))?
        .number();
    let expires_hf = match msg.expires() {
        Ok(e) => Some(e),
        Err(crate::sip::ViewError::Missing) => None,
        Err(_) => return Err(refuse(RegError::ExpiresParse)),
    };
    let contacts = msg.contacts().map_err(|e| {
        refuse(match e {
            crate::sip::ViewError::Malformed(m) if m.contains('*') => RegError::StarContact,
            _ => RegError::ContactParse,
        })
    })?;

    // Path (RFC 3327), when enabled.
    let mut common = Common {
        call_id: call_id.to_owned(),
        cseq,
        ..Common::default()
    };
    let mut path_received = None;
    if cfg.use_path {
        let (path, received) = path_of(msg).map_err(refuse)?;
        if let Some(p) = &path {
            if cfg.path_mode > 0 {
                let supported = supports(msg, "path");
                if !supported && cfg.path_mode == 2 {
                    reply_headers.push_str("Unsupported: path\r\n");
                    let _ = write!(reply_headers, "Path: {p}\r\n");
                    return Err(refuse(RegError::PathUnsupported));
                }
                if supported {
                    let _ = write!(reply_headers, "Path: {p}\r\n");
                }
            }
            if cfg.path_use_received {
                path_received = received;
            }
        }
        common.path = path;
    }
    common.user_agent = msg
        .header(HeaderName::UserAgent)
        .map(|h| h.value.trim())
        .filter(|ua| !ua.is_empty() && ua.len() <= UA_MAX)
        .map(str::to_owned);
    common.cflags = branch0_flags;
    common.socket = recv.map(|r| format!("{}:{}", r.proto.name(), r.local));
    common.conn = recv.and_then(|r| r.conn);
    let nat_flag = ul.config().nat_bflag;
    if path_received.is_some() {
        if let Some(b) = nat_flag {
            common.cflags |= 1 << b;
        }
    }
    let behind_nat = nat_flag.is_some_and(|b| common.cflags & (1 << b) != 0);
    let source = if behind_nat { source_uri(ctx) } else { None };
    let allowed = {
        let allow: Vec<&str> = msg.values(HeaderName::Allow).collect();
        if allow.is_empty() {
            ALL_METHODS
        } else {
            allow.iter().fold(0, |m, a| m | methods::bit(a.trim()))
        }
    };

    let list = match contacts {
        Contacts::Wildcard => {
            // RFC 3261 §10.3 step 6: `*` only with Expires: 0, alone.
            if expires_hf != Some(0) {
                return Err(refuse(RegError::StarExpires));
            }
            if msg.headers_of(HeaderName::Contact).count() > 1 {
                return Err(refuse(RegError::StarContact));
            }
            // A star with an older CSeq of the same Call-ID is refused too.
            let mut stale = false;
            table.modify(aor, now, &mut |cs| {
                stale = cs
                    .iter()
                    .any(|c| c.call_id == common.call_id && c.cseq > cseq);
                if !stale {
                    cs.clear();
                }
            });
            if stale {
                return Err(refuse(RegError::InvalidCSeq));
            }
            return Ok(Saved {
                code: 3,
                listing: String::new(),
            });
        }
        Contacts::List(l) if l.is_empty() => {
            let mut bindings = table.lookup(aor, now);
            api::sort_contacts(&mut bindings, ul.config().desc_time_order);
            return Ok(Saved {
                code: 4,
                listing: contact_line(&bindings, now, &cfg.received_param),
            });
        }
        Contacts::List(l) => l,
    };

    // Everything the contacts ask is checked before anything changes.
    let mut wanted = Vec::with_capacity(list.len());
    for c in list.iter() {
        let uri = c.uri_str();
        if uri.len() > cfg.contact_max_size {
            return Err(refuse(RegError::ContactTooLong));
        }
        let expires =
            contact_expires(cfg, c.param("expires"), expires_hf, novariation).map_err(refuse)?;
        let q = match (q_override, c.param("q")) {
            (Some(q), _) => Some(q),
            (None, Some(_)) => Some(c.q_millis().ok_or(refuse(RegError::InvalidQ))?),
            (None, None) => cfg.default_q,
        };
        let received = c
            .param("received")
            .map(|r| unquote(r).to_owned())
            .filter(|r| !r.is_empty())
            .or_else(|| path_received.clone())
            .or_else(|| from_avp.clone())
            .or_else(|| behind_nat.then(|| source.clone()).flatten());
        if received.as_ref().is_some_and(|r| r.len() > RECEIVED_MAX) {
            return Err(refuse(RegError::ContactTooLong));
        }
        let instance = c
            .param("+sip.instance")
            .map(|i| unquote(i).to_owned())
            .filter(|i| !i.is_empty());
        let reg_id = if instance.is_some() {
            match c.param("reg-id") {
                Some(r) => r
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|r| *r > 0)
                    .ok_or(refuse(RegError::ContactParse))?,
                None => 0,
            }
        } else {
            0
        };
        wanted.push(Wanted {
            uri: uri.to_owned(),
            expires,
            q,
            methods: c.param("methods").map_or(allowed, methods::mask),
            received,
            instance,
            reg_id,
        });
    }

    let single = flags & SAVE_SINGLE != 0;
    let matching = ul.config().matching;
    let cseq_delay = ul.config().cseq_delay;
    let max_contacts = cfg.max_contacts as usize;
    let desc_time_order = ul.config().desc_time_order;
    let mut outcome: Result<i32, RegError> = Ok(0);
    let mut listing = String::new();
    let mut new_record = false;
    let count = wanted.len();
    table.modify(aor, now, &mut |stored| {
        new_record = stored.is_empty();
        // A refusal leaves the bindings as they were. A copy is taken just
        // before the first change that a later check could still undo (a
        // CSeq of a later contact, `max_contacts`), so the common REGISTER
        // of one contact copies nothing.
        let mut before: Option<Vec<Contact>> = None;
        let mut keep_copy = |i: usize, stored: &Vec<Contact>| {
            if before.is_none() && (i + 1 < count || max_contacts > 0) {
                before = Some(stored.clone());
            }
        };
        // Bindings this request already touched: a contact listed twice in
        // one REGISTER updates, it is not a retransmission.
        let mut touched: Vec<String> = Vec::new();
        let mut rc = 0;
        let mut result = Ok(());
        for (wi, w) in wanted.iter_mut().enumerate() {
            let found = stored
                .iter()
                .position(|s| matching.matches(s, &w.uri, &common.call_id, common.path.as_deref()));
            if let Some(i) = found {
                let s = &stored[i];
                if s.call_id == common.call_id && !touched.contains(&s.ruid) {
                    if cseq < s.cseq {
                        result = Err(RegError::InvalidCSeq);
                        break;
                    }
                    if cseq == s.cseq {
                        if cseq_delay > 0 && s.last_modified + cseq_delay > now {
                            // A retransmission: answered, nothing changes.
                            continue;
                        }
                        result = Err(RegError::InvalidCSeq);
                        break;
                    }
                }
                keep_copy(wi, stored);
                if w.expires == 0 {
                    stored.remove(i);
                    rc = 3;
                    continue;
                }
                if w.instance.is_some() && stored[i].call_id != common.call_id {
                    // A device registering anew: its older bindings go.
                    let ruid = stored[i].ruid.clone();
                    stored.retain(|o| o.ruid == ruid || o.instance != w.instance);
                    if let Some(s) = stored.iter_mut().find(|s| s.ruid == ruid) {
                        fill(s, w, &common, now);
                        touched.push(ruid);
                    }
                } else {
                    fill(&mut stored[i], w, &common, now);
                    touched.push(stored[i].ruid.clone());
                }
                rc = 2;
            } else {
                if w.expires == 0 {
                    continue;
                }
                keep_copy(wi, stored);
                let mut c = Contact {
                    ruid: ul.next_ruid(),
                    ..Contact::default()
                };
                fill(&mut c, w, &common, now);
                touched.push(c.ruid.clone());
                // Most AoRs hold one or two bindings: grow one at a time.
                stored.reserve_exact(1);
                stored.push(c);
                rc = 1;
            }
            if single {
                let keep = touched.last().cloned();
                stored.retain(|s| Some(&s.ruid) == keep.as_ref());
                break;
            }
        }
        if result.is_ok() && max_contacts > 0 && stored.len() > max_contacts {
            log::info(
                "registrar",
                format_args!(
                    "too many contacts for AoR {aor} ({} with at most {max_contacts})",
                    stored.len()
                ),
            );
            result = Err(RegError::TooMany);
        }
        match result {
            Ok(()) => {
                outcome = Ok(if new_record || rc == 0 { 1 } else { rc });
                api::sort_contacts(stored, desc_time_order);
                listing = contact_line(stored, now, &cfg.received_param);
            }
            Err(e) => {
                if let Some(b) = before.take() {
                    *stored = b;
                }
                outcome = Err(e);
            }
        }
    });
    match outcome {
        Ok(code) => Ok(Saved { code, listing }),
        Err(error) => Err(Refused { error }),
    }
}

/// Writes what a REGISTER asked into a binding. Each `Wanted` is written
/// once, so its strings move into the binding.
fn fill(c: &mut Contact, w: &mut Wanted, common: &Common, now: u64) {
    c.uri = std::mem::take(&mut w.uri);
    c.expires = now + u64::from(w.expires);
    c.q = w.q;
    c.call_id.clone_from(&common.call_id);
    c.cseq = common.cseq;
    c.received = w.received.take();
    c.path.clone_from(&common.path);
    c.user_agent.clone_from(&common.user_agent);
    c.instance.clone_from(&w.instance);
    c.reg_id = w.reg_id;
    c.cflags = common.cflags;
    c.methods = w.methods;
    c.socket.clone_from(&common.socket);
    c.conn = common.conn;
    c.last_modified = now;
}

/// Formats a q-value in thousandths as RFC 3261 writes it (`0.5`, `1`).
pub fn q_text(q: u16) -> String {
    if q >= 1000 {
        return "1".into();
    }
    let s = format!("0.{q:03}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// The `Contact:` line of the reply: every binding with its q-value and
/// remaining time; empty when there is none.
pub fn contact_line(bindings: &[Contact], now: u64, received_param: &str) -> String {
    let mut out = String::new();
    for c in bindings.iter().filter(|c| c.is_valid(now)) {
        out.push_str(if out.is_empty() { "Contact: " } else { ", " });
        let _ = write!(out, "<{}>", c.uri);
        if let Some(q) = c.q {
            let _ = write!(out, ";q={}", q_text(q));
        }
        let remaining = if c.expires == 0 { 0 } else { c.remaining(now) };
        let _ = write!(out, ";expires={remaining}");
        if let (false, Some(r)) = (received_param.is_empty(), &c.received) {
            let _ = write!(out, ";{received_param}=\"{r}\"");
        }
        if let Some(i) = &c.instance {
            let _ = write!(out, ";+sip.instance=\"{i}\"");
        }
        if c.reg_id > 0 {
            let _ = write!(out, ";reg-id={}", c.reg_id);
        }
    }
    if !out.is_empty() {
        out.push_str("\r\n");
    }
    out
}

/// `Date:` as RFC 3261 §20.17 writes it (RFC 1123 format, GMT).
pub fn date_line(unix: u64) -> String {
    let mut s = String::with_capacity(40);
    push_date_line(&mut s, unix);
    s
}

/// Appends [`date_line`] to `out`.
pub fn push_date_line(out: &mut String, unix: u64) {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix / 86_400;
    let secs = unix % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let _ = write!(
        out,
        "Date: {}, {:02} {} {} {:02}:{:02}:{:02} GMT\r\n",
        DAYS[(days % 7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    );
}

/// Sends (or, with `SAVE_NO_REPLY`, keeps for `reg_send_reply`) the reply
/// to a REGISTER; -1 when sending failed.
pub fn reply(ctx: &mut Ctx, code: u16, headers: String, flags: i32) -> i32 {
    let reason = crate::sip::default_reason(code);
    if flags & SAVE_NO_REPLY != 0 {
        if flags & SAVE_PREPARE_REPLY != 0 {
            ctx.state_mut().reply_headers.push_str(&headers);
        }
        MODULE
            .msg_data_mut::<RegState>(ctx.state_mut())
            .pending_reply = Some((code, reason.to_owned(), headers));
        return 1;
    }
    MODULE
        .msg_data_mut::<RegState>(ctx.state_mut())
        .pending_reply = None;
    crate::modules::sl::send_local_reply_with(ctx, i32::from(code), reason, &headers)
}

/// The headers of an error reply.
pub fn error_headers(error: RegError, cfg: &RegCfg, mut headers: String) -> String {
    let _ = write!(headers, "P-Registrar-Error: {}\r\n", error.info());
    if error == RegError::TooBrief {
        let _ = write!(headers, "Min-Expires: {}\r\n", cfg.min_expires);
    }
    if error.code() >= 500 && cfg.retry_after > 0 {
        let _ = write!(headers, "Retry-After: {}\r\n", cfg.retry_after);
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_follow_param_header_default_and_limits() {
        let cfg = RegCfg::default();
        assert_eq!(contact_expires(&cfg, Some("120"), Some(300), true), Ok(120));
        assert_eq!(contact_expires(&cfg, None, Some(300), true), Ok(300));
        assert_eq!(contact_expires(&cfg, None, None, true), Ok(3600));
        assert_eq!(contact_expires(&cfg, Some("x"), Some(300), true), Ok(3600));
        assert_eq!(contact_expires(&cfg, Some("0"), Some(300), true), Ok(0));
        assert_eq!(contact_expires(&cfg, None, Some(0), true), Ok(0));
        assert_eq!(
            contact_expires(&cfg, Some("10"), None, true),
            Ok(60),
            "raised to min"
        );
        let strict = RegCfg {
            min_expires_mode: true,
            max_expires: 1000,
            ..RegCfg::default()
        };
        assert_eq!(
            contact_expires(&strict, Some("10"), None, true),
            Err(RegError::TooBrief)
        );
        assert_eq!(contact_expires(&strict, Some("5000"), None, true), Ok(1000));
        let ranged = RegCfg {
            expires_range: 50,
            ..RegCfg::default()
        };
        for _ in 0..100 {
            let e = contact_expires(&ranged, Some("1000"), None, false).unwrap_or(0);
            assert!((500..=1000).contains(&e), "{e}");
        }
    }

    #[test]
    fn q_values_print_as_rfc_3261() {
        assert_eq!(q_text(1000), "1");
        assert_eq!(q_text(500), "0.5");
        assert_eq!(q_text(50), "0.05");
        assert_eq!(q_text(123), "0.123");
        assert_eq!(q_text(0), "0");
    }

    #[test]
    fn dates_are_rfc_1123() {
        assert_eq!(date_line(0), "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n");
        assert_eq!(
            date_line(784_887_151),
            "Date: Tue, 15 Nov 1994 08:12:31 GMT\r\n"
        );
        assert_eq!(
            date_line(1_709_210_096),
            "Date: Thu, 29 Feb 2024 12:34:56 GMT\r\n"
        );
    }

    #[test]
    fn contact_line_lists_valid_bindings() {
        let mk = |uri: &str, expires, q| Contact {
            uri: uri.into(),
            expires,
            q,
            ..Contact::default()
        };
        let mut a = mk("sip:a@1", 160, Some(500));
        a.received = Some("sip:192.0.2.1:5070".into());
        let line = contact_line(
            &[a, mk("sip:b@2", 50, None), mk("sip:c@3", 0, None)],
            100,
            "received",
        );
        assert_eq!(
            line,
            "Contact: <sip:a@1>;q=0.5;expires=60;received=\"sip:192.0.2.1:5070\", <sip:c@3>;expires=0\r\n"
        );
        assert_eq!(contact_line(&[], 100, "received"), "");
    }
}
