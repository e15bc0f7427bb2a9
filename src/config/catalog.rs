//! The Kamailio modules kemid accepts in `loadmodule`, with the parameters
//! each accepts in `modparam`.
//!
//! A module is here when kemid provides its script functions or does its
//! job in the core (`ctl`, `jsonrpcs`, `kex`, `corex`, ...). Loading any
//! other module is an error that lists these names, so an operator learns at
//! start-up, not on the first call, what kemid lacks.

/// The type a module parameter takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    Int,
    Str,
    /// An integer or a string (Kamailio accepts both for some params).
    Any,
}

/// One module parameter.
#[derive(Debug)]
pub struct ParamSpec {
    pub name: &'static str,
    pub kind: ParamKind,
    /// Whether kemid acts on it; an accepted but inert parameter is logged
    /// as such at start-up.
    pub effective: bool,
    pub doc: &'static str,
}

/// One module kemid knows.
#[derive(Debug)]
pub struct ModuleSpec {
    pub name: &'static str,
    pub doc: &'static str,
    pub params: &'static [ParamSpec],
}

const fn p(name: &'static str, kind: ParamKind, doc: &'static str) -> ParamSpec {
    ParamSpec {
        name,
        kind,
        effective: true,
        doc,
    }
}

/// A parameter accepted so that existing configurations load, with no
/// effect in kemid.
const fn inert(name: &'static str, kind: ParamKind) -> ParamSpec {
    ParamSpec {
        name,
        kind,
        effective: false,
        doc: "accepted for compatibility; no effect in kemid",
    }
}

use ParamKind::{Any, Int, Str};

/// Every module kemid accepts.
pub static MODULES: &[ModuleSpec] = &[
    ModuleSpec {
        name: "app_jsdt",
        doc: "the JavaScript routing engine (cfgengine \"jsdt\")",
        params: &[
            p("load", Str, "the JavaScript routing script"),
            inert("loaddir", Str),
            inert("mode", Int),
        ],
    },
    ModuleSpec {
        name: "app_sqlang",
        doc: "the Squirrel routing engine (cfgengine \"sqlang\")",
        params: &[p("load", Str, "the Squirrel routing script")],
    },
    ModuleSpec {
        name: "ctl",
        doc: "the control socket (kemid serves JSON-RPC on it)",
        params: &[
            p("binrpc", Str, "the control socket, unix:PATH"),
            inert("mode", Any),
            inert("user", Any),
            inert("group", Any),
            inert("fifo", Str),
            inert("binrpc_buffer_size", Int),
        ],
    },
    ModuleSpec {
        name: "jsonrpcs",
        doc: "JSON-RPC transports (kemid's control plane)",
        params: &[
            inert("pretty_format", Int),
            inert("transport", Int),
            inert("fifo_name", Str),
            inert("dgram_socket", Str),
        ],
    },
    ModuleSpec {
        name: "kex",
        doc: "core extensions, part of kemid's core",
        params: &[],
    },
    ModuleSpec {
        name: "corex",
        doc: "core extensions: branches, extended flags, raw sends, files (KSR.corex)",
        params: &[
            inert("alias_subdomains", Str),
            inert("dns_cache", Str),
            inert("dns_file", Str),
            inert("nio_intercept", Int),
            inert("nio_min_msg_len", Int),
            inert("nio_msg_avp", Str),
            inert("evcb_reply_out", Str),
        ],
    },
    ModuleSpec {
        name: "pv",
        doc: "pseudo-variables, part of kemid's core",
        params: &[inert("shvset", Str), inert("varset", Str)],
    },
    ModuleSpec {
        name: "kemix",
        doc: "KEMI extensions (KSR.kx)",
        params: &[],
    },
    ModuleSpec {
        name: "xlog",
        doc: "formatted logging (KSR.xlog)",
        params: &[
            inert("buf_size", Int),
            inert("force_color", Int),
            inert("prefix", Str),
        ],
    },
    ModuleSpec {
        name: "maxfwd",
        doc: "Max-Forwards processing (KSR.maxfwd)",
        params: &[p(
            "max_limit",
            Int,
            "the highest Max-Forwards value forwarded, 0 to 255 (default 70)",
        )],
    },
    ModuleSpec {
        name: "sanity",
        doc: "request sanity checks with error replies (KSR.sanity)",
        params: &[
            p("default_checks", Int, "the checks of sanity_check_defaults() (default 3047)"),
            p("uri_checks", Int, "the URIs sanity_check_defaults() parses (default 7)"),
            p("proxy_require", Str, "the Proxy-Require extensions accepted, comma-separated"),
            p("noreply", Int, "1: keep the error reply for sanity_reply() instead of sending it"),
            inert("autodrop", Int),
            p("size_checks", Int, "1: check sizes on every sanity_check"),
            p("size_message", Int, "the largest message, in bytes (default 16384)"),
            p("size_method", Int, "the longest method (default 32)"),
            p("size_ruri", Int, "the longest Request-URI (default 256)"),
            p("size_from_uri", Int, "the longest From URI (default 256)"),
            p("size_to_uri", Int, "the longest To URI (default 256)"),
            p("size_contact_uri", Int, "the longest Contact URI (default 256)"),
            p("size_route_uri", Int, "the longest Route or Record-Route URI (default 256)"),
            p("size_header", Int, "the longest header line (default 2048)"),
            p("size_headers", Int, "the largest header section (default 8192)"),
            p("size_body", Int, "the largest body (default 8192)"),
        ],
    },
    ModuleSpec {
        name: "sl",
        doc: "stateless replies (KSR.sl)",
        params: &[
            inert("default_code", Int),
            inert("default_reason", Str),
            inert("bind_tm", Int),
        ],
    },
    ModuleSpec {
        name: "textops",
        doc: "text operations on the message: regex search, replace, substitution (KSR.textops)",
        params: &[],
    },
    ModuleSpec {
        name: "usrloc",
        doc: "the location service registrar saves to and looks up in (memory only)",
        params: &[
            p("db_mode", Int, "0: memory only, the one mode kemid has; other values are refused"),
            p("use_domain", Int, "1: an AoR is user@domain instead of user (default 0)"),
            p("timer_interval", Int, "seconds between runs freeing expired contacts (default 60)"),
            p("hash_size", Int, "2^n slots per location table (default 10)"),
            p("desc_time_order", Int, "1: among equal q-values the newest contact comes first"),
            p("matching_mode", Int, "how a registered contact is matched: 0 contact (default), 1 contact and Call-ID, 2 contact and Path, 3 Call-ID"),
            p("cseq_delay", Int, "seconds a REGISTER with the same Call-ID and CSeq counts as a retransmission (default 20)"),
            p("nat_bflag", Int, "the branch flag that marks a contact behind a NAT"),
            inert("db_url", Str),
            inert("db_load", Int),
            inert("db_insert_update", Int),
            inert("db_update_as_insert", Int),
            inert("db_check_update", Int),
            inert("db_ops_ruid", Int),
            inert("db_timer_clean", Int),
            inert("db_raw_fetch_type", Int),
            inert("db_insert_null", Int),
            inert("fetch_rows", Int),
            inert("preload", Str),
            inert("timer_procs", Int),
            inert("xavp_contact", Str),
            inert("handle_lost_tcp", Int),
            inert("close_expired_tcp", Int),
            inert("expires_type", Int),
            inert("skip_remote_socket", Int),
            inert("server_id_filter", Int),
            inert("version_table", Int),
            inert("ka_mode", Int),
            inert("ka_filter", Int),
            inert("ka_timeout", Int),
            inert("ka_method", Str),
            inert("ka_from", Str),
            inert("ka_domain", Str),
            inert("ka_loglevel", Int),
            inert("ka_logmsg", Str),
            inert("user_column", Str),
            inert("domain_column", Str),
            inert("contact_column", Str),
            inert("expires_column", Str),
            inert("q_column", Str),
            inert("callid_column", Str),
            inert("cseq_column", Str),
            inert("methods_column", Str),
            inert("flags_column", Str),
            inert("cflags_column", Str),
            inert("user_agent_column", Str),
            inert("received_column", Str),
            inert("socket_column", Str),
            inert("path_column", Str),
            inert("ruid_column", Str),
            inert("instance_column", Str),
            inert("server_id_column", Str),
            inert("connection_id_column", Str),
            inert("keepalive_column", Str),
            inert("partition_column", Str),
        ],
    },
    ModuleSpec {
        name: "registrar",
        doc: "REGISTER processing and contact lookup (KSR.registrar)",
        params: &[
            p("default_expires", Int, "expiry of a contact when the REGISTER gives none (default 3600)"),
            p("default_expires_range", Int, "percentage by which default_expires is randomly shortened (default 0)"),
            p("expires_range", Int, "percentage by which a requested expiry is randomly shortened (default 0)"),
            p("min_expires", Int, "shortest accepted expiry; 0 disables the check (default 60)"),
            p("min_expires_mode", Int, "0: a shorter expiry is raised to min_expires (default); 1: it is refused with 423 Interval Too Brief"),
            p("max_expires", Int, "longest accepted expiry, longer ones are lowered; 0 disables the check (default 0)"),
            p("default_q", Int, "q-value in thousandths for contacts without one (default: unspecified)"),
            p("realm_prefix", Str, "prefix stripped from the domain of an AoR"),
            p("append_branches", Int, "1: lookup adds the other contacts as branches (default 1)"),
            p("case_sensitive", Int, "1: the user part of an AoR keeps its case (default 0)"),
            p("received_avp", Any, "the AVP holding the source address to store as received ($avp(name))"),
            p("received_param", Str, "name of the contact parameter giving the received address in the 200 reply (default \"received\")"),
            p("max_contacts", Int, "most contacts per AoR; 0 for no limit (default 0)"),
            p("retry_after", Int, "Retry-After seconds added to 5xx replies; 0 for none (default 0)"),
            p("method_filtering", Int, "1: lookup skips contacts whose Allow list lacks the request's method (default 0)"),
            p("use_path", Int, "1: Path headers are stored and used on lookup (default 0)"),
            p("path_mode", Int, "0: Path stored, not echoed; 1: echoed when the UA supports path; 2: required support, else 420 (default 2)"),
            p("path_use_received", Int, "1: the received parameter of the first Path URI is stored as received (default 0)"),
            p("path_check_local", Int, "1: lookup skips a first Path hop that is this server (default 0)"),
            p("contact_max_size", Int, "longest contact URI accepted (default 512)"),
            inert("gruu_enabled", Int),
            inert("outbound_mode", Int),
            inert("regid_mode", Int),
            inert("flow_timer", Int),
            inert("xavp_cfg", Str),
            inert("xavp_rcd", Str),
            inert("sock_flag", Int),
            inert("sock_hdr_name", Str),
            inert("reg_callid_avp", Str),
            inert("event_callback", Str),
            inert("use_expired_contacts", Int),
            inert("lookup_filter_mode", Int),
        ],
    },
    ModuleSpec {
        name: "rr",
        doc: "Record-Route and Route processing (KSR.rr)",
        params: &[
            p("enable_full_lr", Int, "1: write ;lr=on instead of ;lr (default 0)"),
            p("append_fromtag", Int, "1: add the From tag as ftag to Record-Route, needed by is_direction (default 1)"),
            p("enable_double_rr", Int, "1: two Record-Routes when the request changes transport (default 1)"),
            p("add_username", Int, "1: put the Request-URI user in the Record-Route URI (default 0)"),
            inert("enable_socket_mismatch_warning", Int),
            inert("custom_user_avp", Str),
            inert("force_send_socket", Int),
            inert("ignore_sips", Int),
            inert("sockname_mode", Int),
            inert("loose_route_mode", Int),
        ],
    },
    ModuleSpec {
        name: "tm",
        doc: "stateful processing: transactions (KSR.tm)",
        params: &[
            p("fr_timer", Int, "milliseconds to wait for a final reply (Timer B/F); default 30000"),
            p("fr_inv_timer", Int, "milliseconds an INVITE may ring after a provisional reply; default 120000"),
            p("wait_timer", Int, "milliseconds a finished transaction absorbs retransmissions; default 5000"),
            p("retr_timer1", Int, "T1 in milliseconds; default 500"),
            p("retr_timer2", Int, "T2 in milliseconds; default 4000"),
            p("auto_inv_100", Int, "send 100 Trying for INVITE at once; default 1"),
            p("failure_reply_mode", Int, "accepted; replies of earlier rounds stay candidates unless dropped"),
            inert("restart_fr_on_each_reply", Int),
            inert("fr_inv_timer_next", Int),
            inert("noisy_ctimer", Int),
            inert("e2e_cancel_reason", Int),
            inert("reparse_on_dns_failover", Int),
            inert("contacts_avp", Str),
            inert("contact_flows_avp", Str),
            inert("aggregate_challenges", Int),
            inert("unix_tx_timeout", Int),
            inert("on_sl_reply", Str),
            inert("xavp_contact", Str),
            inert("event_callback", Str),
            inert("max_inv_lifetime", Int),
            inert("max_noninv_lifetime", Int),
        ],
    },
    ModuleSpec {
        name: "tmx",
        doc: "tm extensions (KSR.tmx)",
        params: &[inert("precheck_trans", Int)],
    },
    ModuleSpec {
        name: "textopsx",
        doc: "more text operations: applying changes, header values, iterators (KSR.textopsx)",
        params: &[],
    },
    ModuleSpec {
        name: "siputils",
        doc: "SIP helpers: message kind, Request-URI parameters, URI comparisons, OPTIONS replies (KSR.siputils)",
        params: &[
            p("options_accept", Str, "the Accept header of options_reply (default: every type)"),
            p(
                "options_accept_encoding",
                Str,
                "the Accept-Encoding header of options_reply (default empty)",
            ),
            p(
                "options_accept_language",
                Str,
                "the Accept-Language header of options_reply (default en)",
            ),
            p("options_support", Str, "the Supported header of options_reply (default empty)"),
            inert("contact_flds_separator", Str),
            inert("rpid_prefix", Str),
            inert("rpid_suffix", Str),
            inert("rpid_avp", Str),
            inert("e164_max_len", Int),
        ],
    },
    ModuleSpec {
        name: "cfg_rpc",
        doc: "runtime configuration over RPC, part of kemid's control plane",
        params: &[],
    },
];

/// Checks a parameter value beyond its type; the error is reported at the
/// `modparam` line.
pub fn check_value(module: &str, name: &str, value: &super::CfgValue) -> Result<(), String> {
    let int = match value {
        super::CfgValue::Int(i) => Some(*i),
        super::CfgValue::Str(s) => s.trim().parse::<i64>().ok(),
    };
    match (module, name.to_ascii_lowercase().as_str(), int) {
        ("usrloc", "db_mode", Some(m)) if m != 0 => Err(format!(
            "modparam(\"usrloc\", \"db_mode\", {m}): kemid keeps locations in memory only; db_mode must be 0"
        )),
        ("usrloc", "matching_mode", Some(m)) if !(0..=3).contains(&m) => Err(format!(
            "modparam(\"usrloc\", \"matching_mode\", {m}): use 0, 1, 2 or 3"
        )),
        ("registrar", "path_mode", Some(m)) if !(0..=2).contains(&m) => Err(format!(
            "modparam(\"registrar\", \"path_mode\", {m}): use 0, 1 or 2"
        )),
        _ => Ok(()),
    }
}

/// Finds a module by its `loadmodule` name.
pub fn find(name: &str) -> Option<&'static ModuleSpec> {
    MODULES.iter().find(|m| m.name == name)
}

/// The names kemid accepts, for error messages.
pub fn names() -> String {
    let mut names: Vec<&str> = MODULES.iter().map(|m| m.name).collect();
    names.sort_unstable();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_script_module_can_be_loaded() {
        for m in crate::registry::modules() {
            if !m.provided_by.is_empty() {
                assert!(
                    super::find(m.provided_by).is_some(),
                    "KSR.{} needs loadmodule \"{}\" in the catalog",
                    m.name,
                    m.provided_by
                );
            }
        }
    }
}
