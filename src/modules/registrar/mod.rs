//! `KSR.registrar`: REGISTER processing (RFC 3261 §10.3) and finding the
//! registered contacts of a user.
//!
//! `save` stores the contacts of a REGISTER in a location table (kept by
//! the location service, Kamailio's `usrloc`) and answers 200 listing every
//! current binding; `lookup` turns a request for a user into requests for
//! its contacts. The first parameter of most functions is the table name,
//! `"location"` in every usual configuration.
//!
//! A contact behind a NAT is reached at its `received` address: the
//! `received` parameter of the contact, else the AVP named by the
//! `received_avp` parameter (set by nathelper's `fix_nated_register`),
//! else, when the usrloc `nat_bflag` branch flag is set on the REGISTER,
//! the address the REGISTER came from.
//!
//! Module parameters: `default_expires` (3600), `min_expires` (60),
//! `min_expires_mode` (0: raise to the minimum; 1: refuse with 423),
//! `max_expires` (0: none), `default_expires_range`, `expires_range`,
//! `default_q`, `max_contacts` (0: none), `append_branches` (1),
//! `method_filtering` (0), `case_sensitive` (0), `realm_prefix`,
//! `received_avp`, `received_param` (`received`), `use_path` (0),
//! `path_mode` (2), `path_use_received`, `path_check_local`,
//! `retry_after`, `contact_max_size` (512).

pub mod fetch;
pub mod lookup;
pub mod save;

use kemid_macros::kemi;

use crate::ctx::Ctx;
use crate::log;
use crate::module::{Dep, Module};
use crate::modules::usrloc::api::{self, LocationStore, Usrloc};
use crate::registry::XVal;

pub use lookup::Target;
pub use save::RegError;

/// `modparam("registrar", ...)`.
#[derive(Clone, Debug, kemid_macros::ModParams)]
pub struct Params {
    /// Expiry in seconds of a contact when the REGISTER gives none.
    #[param(default = 3600, range = "0..=4294967295")]
    pub default_expires: u32,
    /// Percentage by which `default_expires` is randomly shortened.
    #[param(default = 0, range = "0..=100")]
    pub default_expires_range: u32,
    /// Percentage by which a requested expiry is randomly shortened.
    #[param(default = 0, range = "0..=100")]
    pub expires_range: u32,
    /// Shortest accepted expiry in seconds; 0 disables the check.
    #[param(default = 60, range = "0..=4294967295")]
    pub min_expires: u32,
    /// 0: a shorter expiry is raised to `min_expires`; 1: it is refused
    /// with 423 Interval Too Brief.
    #[param(default = false)]
    pub min_expires_mode: bool,
    /// Longest accepted expiry in seconds, longer ones are lowered; 0
    /// disables the check.
    #[param(default = 0, range = "0..=4294967295")]
    pub max_expires: u32,
    /// q-value in thousandths for contacts that give none; -1 leaves it
    /// unspecified.
    #[param(default = -1, range = "-1..=1000")]
    pub default_q: i64,
    /// Prefix stripped from the domain of an AoR.
    #[param(default = "")]
    pub realm_prefix: String,
    /// 1: lookup adds the other contacts as branches.
    #[param(default = true)]
    pub append_branches: bool,
    /// 1: the user part of an AoR keeps its case.
    #[param(default = false)]
    pub case_sensitive: bool,
    /// The AVP holding the source address to store as received
    /// (`$avp(name)`).
    pub received_avp: Option<crate::config::CfgValue>,
    /// Name of the contact parameter giving the received address in the
    /// 200 reply.
    #[param(default = "received")]
    pub received_param: String,
    /// Most contacts per AoR; 0 for no limit.
    #[param(default = 0, range = "0..=4294967295")]
    pub max_contacts: u32,
    /// Retry-After seconds added to 5xx replies; 0 for none.
    #[param(default = 0, range = "0..=4294967295")]
    pub retry_after: u32,
    /// 1: lookup skips contacts whose Allow list lacks the request's
    /// method.
    #[param(default = false)]
    pub method_filtering: bool,
    /// 1: Path headers are stored and used on lookup.
    #[param(default = false)]
    pub use_path: bool,
    /// 0: Path stored, not echoed; 1: echoed when the UA supports path; 2:
    /// support required, else 420.
    #[param(default = 2, one_of = "0, 1, 2")]
    pub path_mode: u8,
    /// 1: the received parameter of the first Path URI is stored as
    /// received.
    #[param(default = false)]
    pub path_use_received: bool,
    /// 1: lookup skips a first Path hop that is this server.
    #[param(default = false)]
    pub path_check_local: bool,
    /// Longest contact URI accepted.
    #[param(default = 512, range = "1..=65535")]
    pub contact_max_size: u32,
    #[param(inert)]
    pub gruu_enabled: i64,
    #[param(inert)]
    pub outbound_mode: i64,
    #[param(inert)]
    pub regid_mode: i64,
    #[param(inert)]
    pub flow_timer: i64,
    #[param(inert)]
    pub sock_flag: i64,
    #[param(inert)]
    pub use_expired_contacts: i64,
    #[param(inert)]
    pub lookup_filter_mode: i64,
    #[param(inert)]
    pub xavp_cfg: String,
    #[param(inert)]
    pub xavp_rcd: String,
    #[param(inert)]
    pub sock_hdr_name: String,
    #[param(inert)]
    pub reg_callid_avp: String,
    #[param(inert)]
    pub event_callback: String,
}

/// `loadmodule "registrar.so"`; its state is its settings.
pub static MODULE: Module<RegCfg> =
    Module::new("registrar", "REGISTER processing and contact lookup")
        .deps(&[Dep {
            module: "usrloc",
            why: "registrar saves to and looks up in the location service",
        }])
        .init(|cx| {
            let p: Params = cx.params();
            if let Some(ul) = api::service_in(cx.modules) {
                let prefix = Some(p.realm_prefix.to_ascii_lowercase()).filter(|s| !s.is_empty());
                ul.set_aor_rules(p.case_sensitive, prefix);
            }
            Ok(RegCfg::from_params(&p))
        });

/// What registrar keeps about the message being routed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegState {
    /// `set_q_override`: the q-value (thousandths) the next `save` gives
    /// every contact.
    pub q_override: Option<u16>,
    /// The reply `save` prepared but did not send (flag 0x02): status,
    /// reason and header lines, for `reg_send_reply`.
    pub pending_reply: Option<(u16, String, String)>,
}

/// The registrar settings, made from its parameters at start.
#[derive(Clone, Debug)]
pub struct RegCfg {
    pub default_expires: u32,
    pub default_expires_range: u32,
    pub expires_range: u32,
    pub min_expires: u32,
    pub min_expires_mode: bool,
    pub max_expires: u32,
    pub default_q: Option<u16>,
    pub append_branches: bool,
    pub received_avp: Option<String>,
    pub received_param: String,
    pub max_contacts: u32,
    pub retry_after: u32,
    pub method_filtering: bool,
    pub use_path: bool,
    pub path_mode: u8,
    pub path_use_received: bool,
    pub path_check_local: bool,
    pub contact_max_size: usize,
}

impl Default for RegCfg {
    fn default() -> RegCfg {
        RegCfg::from_params(&crate::module::FromModParams::from_values(
            &crate::module::ParamValues::new("registrar", &[]),
        ))
    }
}

impl RegCfg {
    fn from_params(p: &Params) -> RegCfg {
        RegCfg {
            default_expires: p.default_expires,
            default_expires_range: p.default_expires_range.min(100),
            expires_range: p.expires_range.min(100),
            min_expires: p.min_expires,
            min_expires_mode: p.min_expires_mode,
            max_expires: p.max_expires,
            default_q: u16::try_from(p.default_q).ok().filter(|q| *q <= 1000),
            append_branches: p.append_branches,
            received_avp: p
                .received_avp
                .as_ref()
                .map(|v| match v {
                    crate::config::CfgValue::Str(s) => s.clone(),
                    crate::config::CfgValue::Int(i) => i.to_string(),
                })
                .filter(|s| !s.is_empty()),
            received_param: p.received_param.clone(),
            max_contacts: p.max_contacts,
            retry_after: p.retry_after,
            method_filtering: p.method_filtering,
            use_path: p.use_path,
            path_mode: p.path_mode.min(2),
            path_use_received: p.path_use_received,
            path_check_local: p.path_check_local,
            contact_max_size: p.contact_max_size as usize,
        }
    }
}

/// The settings of the running configuration (the defaults in tools).
fn settings<'m>(ctx: &Ctx<'m>) -> &'m RegCfg {
    static DEFAULT: std::sync::OnceLock<RegCfg> = std::sync::OnceLock::new();
    MODULE
        .state(ctx)
        .unwrap_or_else(|| DEFAULT.get_or_init(RegCfg::default))
}

/// The location service and the table `name`; `None` (logged) without
/// them.
fn location<'c>(
    ctx: &Ctx<'c>,
    name: &str,
) -> Option<(&'c Usrloc, std::sync::Arc<dyn LocationStore>)> {
    let Some(ul) = api::service(ctx) else {
        log::error(
            "registrar",
            format_args!("no location service: load the usrloc and registrar modules"),
        );
        return None;
    };
    let table = ul.table(name)?;
    Some((ul, table))
}

/// The AoR of `uri`, or of the Request-URI when `uri` is empty (the To URI
/// for a reply); `None` when there is none (logged).
fn aor_of(ctx: &Ctx, ul: &Usrloc, uri: &str) -> Option<String> {
    let text = if uri.is_empty() {
        let msg = ctx.msg()?;
        if msg.is_request() {
            msg.ruri_str()?.to_owned()
        } else {
            msg.to_header().ok()?.uri_str().to_owned()
        }
    } else {
        uri.to_owned()
    };
    match ul.aor_key(&text) {
        Ok(a) => Some(a),
        Err(e) => {
            log::error(
                "registrar",
                format_args!("no address of record in {text:?}: {e}"),
            );
            None
        }
    }
}

fn save_common(ctx: &mut Ctx, table: &str, flags: i32, uri: &str) -> i32 {
    let cfg = settings(ctx);
    let mut headers = String::new();
    let Some(msg) = ctx.msg() else { return -1 };
    if !msg.is_request() {
        log::error(
            "registrar",
            format_args!("save works on a REGISTER request only"),
        );
        return -1;
    }
    let Some((ul, store)) = location(ctx, table) else {
        let h = save::error_headers(RegError::NoTable, cfg, headers);
        save::reply(ctx, 500, h, flags);
        return -1;
    };
    let aor_text = if uri.is_empty() {
        msg.to_header().map(|t| t.uri_str().to_owned()).ok()
    } else {
        Some(uri.to_owned())
    };
    let aor = match aor_text.as_deref().map(|t| ul.aor_key(t)) {
        Some(Ok(a)) => a,
        other => {
            let error = match other {
                None => RegError::ToMissing,
                Some(Err(api::AorError::NoUser)) => RegError::NoUser,
                Some(Err(api::AorError::TooLong)) => RegError::AorTooLong,
                _ => RegError::AorParse,
            };
            log::notice(
                "registrar",
                format_args!("REGISTER refused: {}", error.info()),
            );
            let h = save::error_headers(error, cfg, headers);
            save::reply(ctx, error.code(), h, flags);
            return -1;
        }
    };
    match save::save(ctx, ul, &*store, &aor, flags, cfg, &mut headers) {
        Ok(saved) => {
            let mut h = saved.listing;
            h.push_str(&headers);
            save::push_date_line(&mut h, api::now());
            if save::reply(ctx, 200, h, flags) < 0 {
                return -1;
            }
            saved.code
        }
        Err(refused) => {
            log::notice(
                "registrar",
                format_args!(
                    "REGISTER for {aor} refused with {}: {}",
                    refused.error.code(),
                    refused.error.info()
                ),
            );
            let h = save::error_headers(refused.error, cfg, headers);
            save::reply(ctx, refused.error.code(), h, flags);
            if refused.error == RegError::TooMany {
                -2
            } else {
                -1
            }
        }
    }
}

/// Saves the contacts of the REGISTER being routed for the address of
/// record in its To header, and replies: 200 listing every current binding
/// with its remaining time (and a `Date` header), or the error (400 for a
/// malformed request, 423 with `Min-Expires` when `min_expires_mode` is 1
/// and a contact asks less than `min_expires`, 420 for a Path the user agent
/// does not support in `path_mode` 2, 503 beyond `max_contacts`), with a
/// `P-Registrar-Error` header saying why.
///
/// `Contact: *` with `Expires: 0` removes every binding; no Contact header
/// only asks for the bindings. A contact's expiry is its `expires`
/// parameter, else the Expires header, else `default_expires`, kept within
/// `min_expires` and `max_expires`; 0 removes the binding. A REGISTER with
/// the Call-ID of a binding and a lower CSeq is refused; with the same CSeq
/// within `cseq_delay` seconds it is a retransmission and changes nothing.
///
/// # Parameters
/// - `table`: the location table, usually `"location"`.
/// - `flags`: a sum of: 0x01 memory only (always so in kemid); 0x02 do not
///   reply (`reg_send_reply` can send it later); 0x04 keep one contact per
///   AoR, removing the others; 0x08 do not shorten expiries by
///   `expires_range`; 0x10 with 0x02, add the reply headers to the next
///   local reply.
///
/// # Returns
/// 1 contacts inserted, 2 updated, 3 deleted, 4 only queried; -1 error
/// (the error reply was sent), -2 too many contacts.
///
/// # Example
/// ```js
/// if (KSR.registrar.save("location", 0) < 0) {
///     KSR.sl.sl_reply_error();
/// }
/// ```
#[kemi]
pub fn save(ctx: &mut Ctx, table: &str, flags: i32) -> i32 {
    save_common(ctx, table, flags, "")
}

/// Like `save`, for the address of record of `uri` instead of the To
/// header's.
///
/// # Parameters
/// - `table`: the location table, usually `"location"`.
/// - `flags`: as for `save`.
/// - `uri`: the SIP URI of the address of record.
///
/// # Returns
/// As `save`: 1 inserted, 2 updated, 3 deleted, 4 queried, -1 error, -2
/// too many contacts.
///
/// # Example
/// ```js
/// KSR.registrar.save_uri("location", 0, "sip:alice@example.com");
/// ```
#[kemi]
pub fn save_uri(ctx: &mut Ctx, table: &str, flags: i32, uri: &str) -> i32 {
    save_common(ctx, table, flags, uri)
}

/// Sends the reply a `save` with flag 0x02 prepared and did not send.
///
/// # Returns
/// 1 when sent, -1 when there is none or sending failed.
///
/// # Example
/// ```js
/// if (KSR.registrar.save("location", 2) > 0) {
///     KSR.registrar.reg_send_reply();
/// }
/// ```
#[kemi]
pub fn reg_send_reply(ctx: &mut Ctx) -> i32 {
    let Some((code, reason, headers)) = MODULE
        .msg_data_mut::<RegState>(ctx.state_mut())
        .pending_reply
        .take()
    else {
        log::error(
            "registrar",
            format_args!("reg_send_reply: no reply prepared by save"),
        );
        return -1;
    };
    crate::modules::sl::send_local_reply_with(ctx, i32::from(code), &reason, &headers)
}

/// Makes the next `save` of this message give every contact the q-value
/// `q` (in thousandths) whatever the REGISTER says.
///
/// # Parameters
/// - `q`: 0 to 1000, as text (`"500"` is q=0.5).
///
/// # Returns
/// 1 when set, -1 when `q` is not a number from 0 to 1000.
///
/// # Example
/// ```js
/// KSR.registrar.set_q_override("500");
/// ```
#[kemi]
pub fn set_q_override(ctx: &mut Ctx, q: &str) -> i32 {
    match q.trim().parse::<u16>() {
        Ok(v) if v <= 1000 => {
            MODULE.msg_data_mut::<RegState>(ctx.state_mut()).q_override = Some(v);
            1
        }
        _ => {
            log::error("registrar", format_args!("set_q_override: invalid q {q:?}"));
            -1
        }
    }
}

fn lookup_common(ctx: &mut Ctx, table: &str, uri: &str, to_dset: bool) -> i32 {
    let cfg = settings(ctx);
    let Some((ul, store)) = location(ctx, table) else {
        return -3;
    };
    let Some(aor) = aor_of(ctx, ul, uri) else {
        return -3;
    };
    let targets = match lookup::targets(ctx, &*store, &aor, cfg) {
        Ok(t) if !t.is_empty() => t,
        Ok(_) => return -3,
        Err(code) => return code,
    };
    if to_dset {
        if cfg.append_branches {
            lookup::append_branches(ctx, &targets);
        }
        return 1;
    }
    if !lookup::set_ruri_branch(ctx, &targets[0]) {
        return -3;
    }
    if cfg.append_branches {
        lookup::append_branches(ctx, &targets[1..]);
    }
    1
}

/// Finds the contacts registered for the address of record of the
/// Request-URI. The Request-URI becomes the best contact (highest q,
/// then the oldest registration), `$du` its Path's first hop or its NAT
/// `received` address; with `append_branches` (the default) the other
/// contacts become further branches, so `tm.t_relay` forks to all of them.
///
/// With `method_filtering`, a request without To-tag skips contacts whose
/// REGISTER did not allow its method.
///
/// # Parameters
/// - `table`: the location table, usually `"location"`.
///
/// # Returns
/// 1 found, -1 no contact, -2 contacts found but none accepts the
/// request's method, -3 error (no usable Request-URI or table).
///
/// # Example
/// ```js
/// var rc = KSR.registrar.lookup("location");
/// if (rc < 0) {
///     KSR.sl.sl_send_reply(404, "Not Found");
/// }
/// ```
#[kemi]
pub fn lookup(ctx: &mut Ctx, table: &str) -> i32 {
    lookup_common(ctx, table, "", false)
}

/// Like `lookup`, for the address of record of `uri` instead of the
/// Request-URI's (the Request-URI still becomes the contact found).
///
/// # Parameters
/// - `table`: the location table, usually `"location"`.
/// - `uri`: the SIP URI of the address of record.
///
/// # Returns
/// 1 found, -1 no contact, -2 method not accepted, -3 error.
///
/// # Example
/// ```js
/// KSR.registrar.lookup_uri("location", "sip:alice@example.com");
/// ```
#[kemi]
pub fn lookup_uri(ctx: &mut Ctx, table: &str, uri: &str) -> i32 {
    lookup_common(ctx, table, uri, false)
}

/// Adds every contact of the address of record of `uri` (the Request-URI
/// when empty) as a further branch, leaving the Request-URI as it is.
/// Nothing is added when `append_branches` is 0.
///
/// # Parameters
/// - `table`: the location table, usually `"location"`.
/// - `uri`: the SIP URI of the address of record; `""` for the
///   Request-URI.
///
/// # Returns
/// 1 found, -1 no contact, -2 method not accepted, -3 error.
///
/// # Example
/// ```js
/// KSR.registrar.lookup_to_dset("location", "sip:bob@example.com");
/// ```
#[kemi]
pub fn lookup_to_dset(ctx: &mut Ctx, table: &str, uri: &str) -> i32 {
    lookup_common(ctx, table, uri, true)
}

/// Runs `lookup` for the Request-URI and for each further branch that has
/// only a URI (no destination, Path or flags): such a branch becomes its
/// best contact and its other contacts are added as branches.
///
/// # Parameters
/// - `table`: the location table, usually `"location"`.
///
/// # Returns
/// 1 when contacts were found for the Request-URI or a branch; else the
/// code of the Request-URI lookup: -1 no contact, -2 method not accepted,
/// -3 error.
///
/// # Example
/// ```js
/// KSR.registrar.lookup_branches("location");
/// ```
#[kemi]
pub fn lookup_branches(ctx: &mut Ctx, table: &str) -> i32 {
    let first = lookup_common(ctx, table, "", false);
    let cfg = settings(ctx);
    let Some((ul, store)) = location(ctx, table) else {
        return first;
    };
    let mut found = first > 0;
    let count = ctx.state().branches.len();
    for i in 0..count {
        let Some(b) = ctx.state().branches.get(i).cloned() else {
            break;
        };
        if b.dst_uri.is_some() || b.path.is_some() || b.flags != 0 || b.uri.is_empty() {
            continue;
        }
        let Ok(aor) = ul.aor_key(&b.uri) else {
            continue;
        };
        let Ok(targets) = lookup::targets(ctx, &*store, &aor, cfg) else {
            continue;
        };
        let Some(best) = targets.first() else {
            continue;
        };
        found = true;
        if let Some(slot) = ctx.state_mut().branches.get_mut(i) {
            slot.uri.clone_from(&best.uri);
            slot.dst_uri.clone_from(&best.dst_uri);
            slot.path.clone_from(&best.path);
            slot.q = best.q.map(i32::from);
            slot.flags = best.cflags;
            slot.instance.clone_from(&best.instance);
            slot.ruid = Some(best.ruid.clone());
        }
        if cfg.append_branches {
            lookup::append_branches(ctx, &targets[1..]);
        }
    }
    if found {
        1
    } else {
        first
    }
}

fn registered_common(ctx: &mut Ctx, table: &str, uri: &str) -> i32 {
    let Some((ul, store)) = location(ctx, table) else {
        return -1;
    };
    let Some(aor) = aor_of(ctx, ul, uri) else {
        return -1;
    };
    if store.lookup(&aor, api::now()).is_empty() {
        -1
    } else {
        1
    }
}

/// Tells whether the address of record of the Request-URI (the To URI in
/// a reply) has a valid contact. Nothing changes.
///
/// # Parameters
/// - `table`: the location table, usually `"location"`.
///
/// # Returns
/// 1 registered, -1 not registered or error.
///
/// # Example
/// ```js
/// if (KSR.registrar.registered("location") > 0) {
///     KSR.info("callee is online\n");
/// }
/// ```
#[kemi]
pub fn registered(ctx: &mut Ctx, table: &str) -> i32 {
    registered_common(ctx, table, "")
}

/// Like `registered`, for the address of record of `uri`.
///
/// # Parameters
/// - `table`: the location table, usually `"location"`.
/// - `uri`: the SIP URI of the address of record; `""` for the
///   Request-URI.
///
/// # Returns
/// 1 registered, -1 not registered or error.
///
/// # Example
/// ```js
/// if (KSR.registrar.registered_uri("location", "sip:bob@example.com") > 0) {
///     KSR.info("bob is online\n");
/// }
/// ```
#[kemi]
pub fn registered_uri(ctx: &mut Ctx, table: &str, uri: &str) -> i32 {
    registered_common(ctx, table, uri)
}

/// Like `registered_uri`. Kamailio narrows the match with values from the
/// `xavp_cfg` XAVP; kemid has no XAVPs, so `match_flags` changes nothing.
///
/// # Parameters
/// - `table`: the location table, usually `"location"`.
/// - `uri`: the SIP URI of the address of record; `""` for the
///   Request-URI.
/// - `match_flags`: 1 Call-ID, 2 received, 4 contact (no effect in kemid).
///
/// # Returns
/// 1 registered, -1 not registered or error.
///
/// # Example
/// ```js
/// KSR.registrar.registered_flags("location", "", 0);
/// ```
#[kemi]
pub fn registered_flags(ctx: &mut Ctx, table: &str, uri: &str, match_flags: i32) -> i32 {
    let _ = match_flags;
    registered_common(ctx, table, uri)
}

/// Like `registered_flags`; the actions Kamailio takes on XAVPs do not
/// apply in kemid.
///
/// # Parameters
/// - `table`: the location table, usually `"location"`.
/// - `uri`: the SIP URI of the address of record; `""` for the
///   Request-URI.
/// - `match_flags`: 1 Call-ID, 2 received, 4 contact (no effect in kemid).
/// - `match_action`: 1 restore XAVPs, 2 skip `xavp_rcd` (no effect in
///   kemid).
///
/// # Returns
/// 1 registered, -1 not registered or error.
///
/// # Example
/// ```js
/// KSR.registrar.registered_action("location", "", 0, 0);
/// ```
#[kemi]
pub fn registered_action(
    ctx: &mut Ctx,
    table: &str,
    uri: &str,
    match_flags: i32,
    match_action: i32,
) -> i32 {
    let _ = (match_flags, match_action);
    registered_common(ctx, table, uri)
}

/// Removes every contact of the address of record of `uri` (of the To
/// header when empty).
///
/// # Parameters
/// - `table`: the location table, usually `"location"`.
/// - `uri`: the SIP URI of the address of record; `""` for the To URI.
///
/// # Returns
/// 1 done (also when there was nothing to remove), -1 no address of record
/// in `uri`, -2 no such table.
///
/// # Example
/// ```js
/// KSR.registrar.unregister("location", "sip:alice@example.com");
/// ```
#[kemi]
pub fn unregister(ctx: &mut Ctx, table: &str, uri: &str) -> i32 {
    let Some((ul, store)) = location(ctx, table) else {
        return -2;
    };
    let text = if uri.is_empty() {
        match ctx.msg().and_then(|m| m.to_header().ok()) {
            Some(t) => t.uri_str().to_owned(),
            None => return -1,
        }
    } else {
        uri.to_owned()
    };
    let Some(aor) = aor_of(ctx, ul, &text) else {
        return -1;
    };
    let n = store.remove_aor(&aor);
    log::debug(
        "registrar",
        format_args!("unregister: {n} contacts of {aor} removed"),
    );
    1
}

/// Removes the contact with record id `ruid` (see `$ulc(...=>ruid)`,
/// `ulc_cget`), in the address of record of `uri`, or wherever it is when
/// `uri` is empty.
///
/// # Parameters
/// - `table`: the location table, usually `"location"`.
/// - `uri`: the SIP URI of the address of record, or `""`.
/// - `ruid`: the record id.
///
/// # Returns
/// 1 removed, -1 no address of record in `uri`, -2 no such table, -3 no
/// such contact.
///
/// # Example
/// ```js
/// KSR.registrar.unregister_ruid("location", "", KSR.registrar.ulc_cget("caller", "ruid", 0));
/// ```
#[kemi]
pub fn unregister_ruid(ctx: &mut Ctx, table: &str, uri: &str, ruid: &str) -> i32 {
    let Some((ul, store)) = location(ctx, table) else {
        return -2;
    };
    let aor = if uri.is_empty() {
        None
    } else {
        match aor_of(ctx, ul, uri) {
            Some(a) => Some(a),
            None => return -1,
        }
    };
    match store.remove_ruid(aor.as_deref(), ruid) {
        Some(_) => 1,
        None => {
            log::notice(
                "registrar",
                format_args!("unregister_ruid: no contact with ruid {ruid:?}"),
            );
            -3
        }
    }
}

/// Adds a header `hname: proto:ip:port` naming the socket the request
/// arrived on (for registrars that share a location table).
///
/// # Parameters
/// - `hname`: the header name.
///
/// # Returns
/// 1 added, -1 error (bad name).
///
/// # Example
/// ```js
/// KSR.registrar.add_sock_hdr("Sock-Info");
/// ```
#[kemi]
pub fn add_sock_hdr(ctx: &mut Ctx, hname: &str) -> i32 {
    let Some(recv) = ctx.recv().copied() else {
        return -1;
    };
    let value = format!("{}:{}", recv.proto.name(), recv.local);
    let Some(msg) = ctx.msg_mut() else { return -1 };
    match msg.add_header(hname.trim(), &value) {
        Ok(()) => 1,
        Err(e) => {
            log::error("registrar", format_args!("add_sock_hdr({hname:?}): {e}"));
            -1
        }
    }
}

/// Loads the contacts of the address of record of `uri` into the profile
/// `profile` of this worker, for `ulc_rget` and `ulc_cget`. A profile keeps
/// a copy: later registrations do not change it.
///
/// # Parameters
/// - `table`: the location table, usually `"location"`.
/// - `uri`: the SIP URI of the address of record.
/// - `profile`: the name to keep them under.
///
/// # Returns
/// 1 contacts loaded, -1 none or error (the profile is then empty).
///
/// # Example
/// ```js
/// if (KSR.registrar.reg_fetch_contacts("location", "sip:bob@example.com", "callee") > 0) {
///     KSR.info("first contact: " + KSR.registrar.ulc_cget("callee", "addr", 0) + "\n");
/// }
/// ```
#[kemi]
pub fn reg_fetch_contacts(ctx: &mut Ctx, table: &str, uri: &str, profile: &str) -> i32 {
    fetch::free(profile);
    let Some((ul, store)) = location(ctx, table) else {
        return -1;
    };
    let Some(aor) = aor_of(ctx, ul, uri) else {
        return -1;
    };
    let contacts = store.lookup(&aor, api::now());
    if contacts.is_empty() {
        return -1;
    }
    if fetch::store(profile, store.name(), &aor, contacts) {
        1
    } else {
        -1
    }
}

/// Empties the profile `profile` filled by `reg_fetch_contacts`.
///
/// # Parameters
/// - `profile`: the profile name.
///
/// # Returns
/// 1.
///
/// # Example
/// ```js
/// KSR.registrar.reg_free_contacts("callee");
/// ```
#[kemi]
pub fn reg_free_contacts(_ctx: &mut Ctx, profile: &str) -> i32 {
    fetch::free(profile);
    1
}

/// Returns an attribute of the address of record in a profile filled by
/// `reg_fetch_contacts`.
///
/// # Parameters
/// - `profile`: the profile name.
/// - `attr`: `aor`, `domain` (the table), `aorhash` or `count`.
///
/// # Returns
/// The value (string or integer); `null` for an unknown profile or
/// attribute.
///
/// # Example
/// ```js
/// var n = KSR.registrar.ulc_rget("callee", "count");
/// ```
#[kemi]
pub fn ulc_rget(_ctx: &mut Ctx, profile: &str, attr: &str) -> XVal {
    fetch::record_attr(profile, attr)
}

/// Returns an attribute of contact `idx` (from 0, best first) in a profile
/// filled by `reg_fetch_contacts`.
///
/// # Parameters
/// - `profile`: the profile name.
/// - `attr`: `addr`, `path`, `received`, `expires` (absolute Unix time),
///   `callid`, `q` (thousandths), `cseq`, `flags`, `cflags`, `user_agent`,
///   `socket`, `modified`, `methods`, `ruid`, `regid`, `instance` or
///   `conid`.
/// - `idx`: the contact index.
///
/// # Returns
/// The value (string or integer); `null` when the profile, contact or
/// attribute does not exist or the attribute is not set.
///
/// # Example
/// ```js
/// var c = KSR.registrar.ulc_cget("callee", "addr", 0);
/// ```
#[kemi]
pub fn ulc_cget(_ctx: &mut Ctx, profile: &str, attr: &str, idx: i32) -> XVal {
    fetch::contact_attr(profile, attr, idx)
}

#[cfg(test)]
pub(crate) mod tests;
