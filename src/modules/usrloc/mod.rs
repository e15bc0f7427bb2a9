//! The location service (Kamailio's `usrloc`): for each address of record
//! (AoR), the contacts where its user can be reached.
//!
//! Scripts never call it directly; `KSR.registrar.*` saves and looks up
//! contacts, and the `ul.*` RPC methods show and change them. A table
//! (Kamailio's "domain", the first parameter of `registrar.save`) is a
//! [`LocationStore`]; [`Usrloc`] holds the tables, the settings of the
//! `usrloc` module and the expiry timer.
//!
//! Only the memory store exists ([`MemoryStore`], `db_mode` 0); the trait
//! is what a database-backed store would implement.
//!
//! Times are Unix seconds. A contact whose `expires` is 0 is permanent
//! (only `ul.add` creates those); any other contact stops being visible as
//! soon as its expiry passes and is freed by the next timer run or the
//! next change to its AoR.

mod aor;
mod memory;
mod rpc;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use aor::{aor_of_uri, AorError};
pub use memory::{aor_hash, sort_contacts, MemoryStore};

use crate::log;
use crate::module::{Module, Stat, StatKind, Timer};

/// `modparam("usrloc", ...)`.
#[derive(Clone, Debug, kemid_macros::ModParams)]
pub struct Params {
    /// How contacts are kept: 0, in memory only, is the one mode kemid
    /// has.
    #[param(default = 0, one_of = "0")]
    pub db_mode: i64,
    /// 1: an AoR is `user@domain` instead of `user`.
    #[param(default = false)]
    pub use_domain: bool,
    /// Seconds between the runs that free expired contacts.
    #[param(default = 60, range = "1..=86400")]
    pub timer_interval: u64,
    /// Each location table hashes AoRs into 2^hash_size slots.
    #[param(default = 10, range = "1..=16")]
    pub hash_size: u32,
    /// 1: among contacts of equal q-value the newest comes first.
    #[param(default = false)]
    pub desc_time_order: bool,
    /// How a registered contact is matched: 0 contact, 1 contact and
    /// Call-ID, 2 contact and Path, 3 Call-ID.
    #[param(default = 0, one_of = "0, 1, 2, 3")]
    pub matching_mode: i64,
    /// Seconds during which a REGISTER with the same Call-ID and CSeq is
    /// taken as a retransmission.
    #[param(default = 20, range = "0..=3600")]
    pub cseq_delay: u64,
    /// The branch flag that marks a contact behind a NAT (-1: none).
    #[param(default = -1, range = "-1..=31")]
    pub nat_bflag: i64,
    #[param(inert)]
    pub db_url: String,
    #[param(inert)]
    pub db_load: i64,
    #[param(inert)]
    pub db_insert_update: i64,
    #[param(inert)]
    pub db_update_as_insert: i64,
    #[param(inert)]
    pub db_check_update: i64,
    #[param(inert)]
    pub db_ops_ruid: i64,
    #[param(inert)]
    pub db_timer_clean: i64,
    #[param(inert)]
    pub db_raw_fetch_type: i64,
    #[param(inert)]
    pub db_insert_null: i64,
    #[param(inert)]
    pub fetch_rows: i64,
    #[param(inert)]
    pub preload: Vec<String>,
    #[param(inert)]
    pub timer_procs: i64,
    #[param(inert)]
    pub xavp_contact: String,
    #[param(inert)]
    pub handle_lost_tcp: i64,
    #[param(inert)]
    pub close_expired_tcp: i64,
    #[param(inert)]
    pub expires_type: i64,
    #[param(inert)]
    pub skip_remote_socket: i64,
    #[param(inert)]
    pub server_id_filter: i64,
    #[param(inert)]
    pub version_table: i64,
    #[param(inert)]
    pub ka_mode: i64,
    #[param(inert)]
    pub ka_filter: i64,
    #[param(inert)]
    pub ka_timeout: i64,
    #[param(inert)]
    pub ka_method: String,
    #[param(inert)]
    pub ka_from: String,
    #[param(inert)]
    pub ka_domain: String,
    #[param(inert)]
    pub ka_loglevel: i64,
    #[param(inert)]
    pub ka_logmsg: String,
    #[param(inert)]
    pub user_column: String,
    #[param(inert)]
    pub domain_column: String,
    #[param(inert)]
    pub contact_column: String,
    #[param(inert)]
    pub expires_column: String,
    #[param(inert)]
    pub q_column: String,
    #[param(inert)]
    pub callid_column: String,
    #[param(inert)]
    pub cseq_column: String,
    #[param(inert)]
    pub methods_column: String,
    #[param(inert)]
    pub flags_column: String,
    #[param(inert)]
    pub cflags_column: String,
    #[param(inert)]
    pub user_agent_column: String,
    #[param(inert)]
    pub received_column: String,
    #[param(inert)]
    pub socket_column: String,
    #[param(inert)]
    pub path_column: String,
    #[param(inert)]
    pub ruid_column: String,
    #[param(inert)]
    pub instance_column: String,
    #[param(inert)]
    pub server_id_column: String,
    #[param(inert)]
    pub connection_id_column: String,
    #[param(inert)]
    pub keepalive_column: String,
    #[param(inert)]
    pub partition_column: String,
}

/// `loadmodule "usrloc.so"`: the location service. Its state is the
/// [`Usrloc`] service other modules reach through [`api`].
pub static MODULE: Module<Usrloc> = Module::new("usrloc", "the location service")
    .init(init)
    .rpc(rpc::METHODS)
    .stats(&[
        Stat {
            name: "registered_users",
            doc: "Addresses of record with at least one contact, in every table.",
            kind: StatKind::Gauge,
            read: |ul| ul.tables().iter().map(|t| t.counts().0 as u64).sum(),
        },
        Stat {
            name: "location-users",
            doc: "Addresses of record in the `location` table.",
            kind: StatKind::Gauge,
            read: |ul| ul.find_table("location").map_or(0, |t| t.counts().0 as u64),
        },
        Stat {
            name: "location-contacts",
            doc: "Contacts in the `location` table.",
            kind: StatKind::Gauge,
            read: |ul| ul.find_table("location").map_or(0, |t| t.counts().1 as u64),
        },
    ])
    .timers(&[Timer {
        name: "expire",
        interval: |ul| Duration::from_secs(ul.config().timer_interval),
        run: |ul| {
            let n = ul.expire_all(now());
            if n > 0 {
                log::debug("usrloc", format_args!("{n} expired contacts removed"));
            }
        },
    }]);

fn init(cx: &crate::module::InitCtx<'_>) -> Result<Usrloc, String> {
    let p: Params = cx.params();
    let ul = Usrloc::new(UsrlocConfig::from_params(&p));
    // The table every configuration uses exists from the start, so the
    // RPC methods find it before the first registration.
    let _ = ul.table("location");
    Ok(ul)
}

/// What other modules may use of the location service: the service, its
/// tables and contacts.
pub mod api {
    pub use super::{
        aor_hash, methods, now, sort_contacts, AorError, Contact, LocationStore, Matching, Usrloc,
        ALL_METHODS,
    };

    /// The location service, when the configuration loads usrloc.
    pub fn service<'m>(ctx: &crate::ctx::Ctx<'m>) -> Option<&'m Usrloc> {
        super::MODULE.state(ctx)
    }

    /// The location service in `modules`, when loaded.
    pub fn service_in(modules: &crate::module::Modules) -> Option<&Usrloc> {
        super::MODULE.state_in(modules)
    }
}

/// One registered contact of an address of record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Contact {
    /// The contact URI as registered.
    pub uri: String,
    /// When the binding ends, in Unix seconds; 0 for a permanent contact.
    pub expires: u64,
    /// q-value in thousandths (q=0.5 is 500); `None` when unspecified.
    pub q: Option<u16>,
    /// Call-ID of the REGISTER that made or last refreshed the binding.
    pub call_id: String,
    /// Its CSeq number.
    pub cseq: u32,
    /// Where requests for this contact are really sent when the user agent
    /// is behind a NAT: `sip:ip:port;transport=x`.
    pub received: Option<String>,
    /// The Path header values of the registration (RFC 3327), comma
    /// separated, used as Route headers towards the contact.
    pub path: Option<String>,
    /// The User-Agent header of the registration.
    pub user_agent: Option<String>,
    /// `+sip.instance` of the contact (RFC 5626), as written.
    pub instance: Option<String>,
    /// `reg-id` of the contact (RFC 5626); 0 when none.
    pub reg_id: u32,
    /// Internal flags (`ul.add` sets them; kept and shown).
    pub flags: u32,
    /// Branch flags saved with the contact and restored on lookup.
    pub cflags: u32,
    /// The request methods the contact accepts ([`crate::modules::usrloc::methods`]);
    /// [`ALL_METHODS`] when it did not say.
    pub methods: u32,
    /// Unique id of this binding.
    pub ruid: String,
    /// The local socket the registration arrived on: `udp:ip:port`.
    pub socket: Option<String>,
    /// The TCP connection it arrived on.
    pub conn: Option<u64>,
    /// When the binding last changed.
    pub last_modified: u64,
}

impl Contact {
    /// Whether the contact is still valid at `now`.
    pub fn is_valid(&self, now: u64) -> bool {
        self.expires == 0 || self.expires > now
    }

    /// Seconds left at `now` (0 for a permanent or expired contact).
    pub fn remaining(&self, now: u64) -> u64 {
        self.expires.saturating_sub(now)
    }
}

/// Every method (the `methods` of a contact that did not list its own).
pub const ALL_METHODS: u32 = u32::MAX;

/// Method bits of a contact's `methods`, as Kamailio numbers them.
pub mod methods {
    pub const INVITE: u32 = 1;
    pub const CANCEL: u32 = 1 << 1;
    pub const ACK: u32 = 1 << 2;
    pub const BYE: u32 = 1 << 3;
    pub const INFO: u32 = 1 << 4;
    pub const REGISTER: u32 = 1 << 5;
    pub const SUBSCRIBE: u32 = 1 << 6;
    pub const NOTIFY: u32 = 1 << 7;
    pub const MESSAGE: u32 = 1 << 8;
    pub const OPTIONS: u32 = 1 << 9;
    pub const PRACK: u32 = 1 << 10;
    pub const UPDATE: u32 = 1 << 11;
    pub const REFER: u32 = 1 << 12;
    pub const PUBLISH: u32 = 1 << 13;
    pub const KDMQ: u32 = 1 << 14;
    /// Any method without a bit of its own.
    pub const OTHER: u32 = 1 << 31;

    /// The bit of a method name (case-sensitive, as in SIP).
    pub fn bit(name: &str) -> u32 {
        match name {
            "INVITE" => INVITE,
            "CANCEL" => CANCEL,
            "ACK" => ACK,
            "BYE" => BYE,
            "INFO" => INFO,
            "REGISTER" => REGISTER,
            "SUBSCRIBE" => SUBSCRIBE,
            "NOTIFY" => NOTIFY,
            "MESSAGE" => MESSAGE,
            "OPTIONS" => OPTIONS,
            "PRACK" => PRACK,
            "UPDATE" => UPDATE,
            "REFER" => REFER,
            "PUBLISH" => PUBLISH,
            "KDMQ" => KDMQ,
            _ => OTHER,
        }
    }

    /// The mask of a comma-separated method list (an Allow header value or
    /// a contact's `methods` parameter, quotes allowed).
    pub fn mask(list: &str) -> u32 {
        list.trim_matches('"')
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .fold(0, |acc, m| acc | bit(m))
    }
}

/// How a contact of a REGISTER is matched to a stored one (`matching_mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Matching {
    /// The contact URI alone (RFC 3261), the default.
    #[default]
    Contact,
    /// Contact URI and Call-ID.
    ContactCallId,
    /// Contact URI and Path.
    ContactPath,
    /// Call-ID alone.
    CallId,
}

impl Matching {
    /// Whether `stored` is the binding `uri` (with `call_id` and `path`)
    /// refers to.
    pub fn matches(self, stored: &Contact, uri: &str, call_id: &str, path: Option<&str>) -> bool {
        match self {
            Matching::Contact => stored.uri == uri,
            Matching::ContactCallId => stored.uri == uri && stored.call_id == call_id,
            Matching::ContactPath => {
                stored.uri == uri && (path.is_none() || stored.path.as_deref() == path)
            }
            Matching::CallId => stored.call_id == call_id,
        }
    }
}

/// A location table. The AoR passed in is already normalised
/// ([`Usrloc::aor_key`]).
///
/// Implementations keep each AoR's contacts ordered best first: higher q
/// first, then the order in which they were added (newest first with
/// `desc_time_order`).
pub trait LocationStore: Send + Sync {
    /// The table name (`location`).
    fn name(&self) -> &str;

    /// The valid contacts of `aor` at `now`, best first.
    fn lookup(&self, aor: &str, now: u64) -> Vec<Contact>;

    /// Runs `edit` on the valid contacts of `aor` (an empty list when the
    /// AoR is unknown) as one step no other change interleaves with, then
    /// keeps the list, re-sorted; the AoR is removed when it is left empty.
    fn modify(&self, aor: &str, now: u64, edit: &mut dyn FnMut(&mut Vec<Contact>));

    /// Removes every contact of `aor`; returns how many there were.
    fn remove_aor(&self, aor: &str) -> usize;

    /// Removes the contact with this unique id, in `aor` when given, else
    /// wherever it is; returns the AoR it belonged to.
    fn remove_ruid(&self, aor: Option<&str>, ruid: &str) -> Option<String>;

    /// Frees every contact that expired before `now` and every AoR left
    /// empty; returns how many contacts were removed.
    fn expire(&self, now: u64) -> usize;

    /// Calls `f` for every AoR with its contacts (expired ones not yet
    /// freed included, so a dump shows them as expired).
    fn for_each(&self, f: &mut dyn FnMut(&str, &[Contact]));

    /// How many AoRs and contacts are kept.
    fn counts(&self) -> (usize, usize);

    /// How many slots the table hashes AoRs into.
    fn slots(&self) -> usize;
}

/// The settings of the `usrloc` module (and the registrar settings that
/// decide what an AoR is).
#[derive(Clone, Debug)]
pub struct UsrlocConfig {
    /// `use_domain`: AoRs are `user@domain` instead of `user`.
    pub use_domain: bool,
    /// `case_sensitive` (registrar): the user part keeps its case.
    pub case_sensitive: bool,
    /// `realm_prefix` (registrar): stripped from the domain of an AoR.
    pub realm_prefix: Option<String>,
    /// `hash_size`: 2^n slots per table.
    pub hash_size: u32,
    /// `timer_interval`: seconds between expiry runs.
    pub timer_interval: u64,
    /// `desc_time_order`: among equal q-values, the newest contact first.
    pub desc_time_order: bool,
    /// `matching_mode`.
    pub matching: Matching,
    /// `cseq_delay`: seconds during which a REGISTER with the same Call-ID
    /// and CSeq is taken as a retransmission.
    pub cseq_delay: u64,
    /// `nat_bflag`: the branch flag marking a contact behind a NAT.
    pub nat_bflag: Option<u32>,
}

impl Default for UsrlocConfig {
    fn default() -> UsrlocConfig {
        UsrlocConfig {
            use_domain: false,
            case_sensitive: false,
            realm_prefix: None,
            hash_size: 10,
            timer_interval: 60,
            desc_time_order: false,
            matching: Matching::Contact,
            cseq_delay: 20,
            nat_bflag: None,
        }
    }
}

impl UsrlocConfig {
    /// The settings of the module's parameters; the registrar's AoR rules
    /// come later ([`Usrloc::set_aor_rules`]).
    pub fn from_params(p: &Params) -> UsrlocConfig {
        UsrlocConfig {
            use_domain: p.use_domain,
            hash_size: p.hash_size.clamp(1, 16),
            timer_interval: p.timer_interval.max(1),
            desc_time_order: p.desc_time_order,
            matching: match p.matching_mode {
                1 => Matching::ContactCallId,
                2 => Matching::ContactPath,
                3 => Matching::CallId,
                _ => Matching::Contact,
            },
            cseq_delay: p.cseq_delay,
            nat_bflag: u32::try_from(p.nat_bflag).ok().filter(|b| *b < 32),
            ..UsrlocConfig::default()
        }
    }
}

/// Most tables a server keeps (table names come from scripts; a bound keeps
/// a script that builds names from message data from growing memory).
pub const MAX_TABLES: usize = 64;

/// The location service: the tables, the settings, unique ids and the
/// expiry timer.
pub struct Usrloc {
    config: UsrlocConfig,
    /// The settings with the registrar's AoR rules, once it gave them.
    with_rules: std::sync::OnceLock<UsrlocConfig>,
    tables: RwLock<HashMap<String, Arc<dyn LocationStore>>>,
    ruid_base: String,
    ruid_next: AtomicU64,
}

/// The current time in Unix seconds.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Usrloc {
    pub fn new(config: UsrlocConfig) -> Usrloc {
        Usrloc {
            ruid_base: format!("uloc-{:x}-{:x}", now(), std::process::id()),
            config,
            with_rules: std::sync::OnceLock::new(),
            tables: RwLock::new(HashMap::new()),
            ruid_next: AtomicU64::new(1),
        }
    }

    pub fn config(&self) -> &UsrlocConfig {
        self.with_rules.get().unwrap_or(&self.config)
    }

    /// The registrar's rules for what an AoR is (`case_sensitive`,
    /// `realm_prefix`); set once, by the registrar's init.
    pub fn set_aor_rules(&self, case_sensitive: bool, realm_prefix: Option<String>) {
        let mut c = self.config.clone();
        c.case_sensitive = case_sensitive;
        c.realm_prefix = realm_prefix;
        let _ = self.with_rules.set(c);
    }

    /// The table `name`, created empty on first use. `None` when the name
    /// is empty or too many tables exist already (logged).
    pub fn table(&self, name: &str) -> Option<Arc<dyn LocationStore>> {
        if let Some(t) = self.find_table(name) {
            return Some(t);
        }
        if name.is_empty() {
            log::error("usrloc", format_args!("a location table needs a name"));
            return None;
        }
        let mut tables = self.tables.write().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = tables.get(name) {
            return Some(Arc::clone(t));
        }
        if tables.len() >= MAX_TABLES {
            log::error(
                "usrloc",
                format_args!(
                    "cannot create location table {name:?}: {MAX_TABLES} tables exist already"
                ),
            );
            return None;
        }
        let t: Arc<dyn LocationStore> = Arc::new(MemoryStore::new(
            name,
            1 << self.config().hash_size,
            self.config().desc_time_order,
        ));
        tables.insert(name.to_owned(), Arc::clone(&t));
        Some(t)
    }

    /// The table `name` if it exists.
    pub fn find_table(&self, name: &str) -> Option<Arc<dyn LocationStore>> {
        let tables = self.tables.read().unwrap_or_else(|p| p.into_inner());
        tables.get(name).map(Arc::clone)
    }

    /// Every table, sorted by name.
    pub fn tables(&self) -> Vec<Arc<dyn LocationStore>> {
        let tables = self.tables.read().unwrap_or_else(|p| p.into_inner());
        let mut all: Vec<_> = tables.values().map(Arc::clone).collect();
        all.sort_by(|a, b| a.name().cmp(b.name()));
        all
    }

    /// The AoR key of a SIP URI: the user (unescaped), with `@domain` when
    /// `use_domain` is on; lower-case unless `case_sensitive` (the domain
    /// always is).
    pub fn aor_key(&self, uri: &str) -> Result<String, AorError> {
        aor_of_uri(uri, self.config())
    }

    /// The AoR key of a text given by an operator (RPC): `user[@domain]`
    /// or a SIP URI.
    pub fn aor_key_loose(&self, text: &str) -> Result<String, AorError> {
        let t = text.trim();
        if t.starts_with("sip:") || t.starts_with("sips:") || t.starts_with("tel:") {
            return self.aor_key(t);
        }
        if t.contains('@') {
            self.aor_key(&format!("sip:{t}"))
        } else {
            // A user alone (use_domain off): any domain gives the same key.
            self.aor_key(&format!("sip:{t}@localhost"))
        }
    }

    /// A new unique contact id.
    pub fn next_ruid(&self) -> String {
        let n = self.ruid_next.fetch_add(1, Ordering::Relaxed);
        format!("{}-{n}", self.ruid_base)
    }

    /// Frees expired contacts in every table; returns how many.
    pub fn expire_all(&self, now: u64) -> usize {
        self.tables().iter().map(|t| t.expire(now)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(uri: &str, expires: u64) -> Contact {
        Contact {
            uri: uri.into(),
            expires,
            ..Contact::default()
        }
    }

    #[test]
    fn tables_are_created_on_use_and_bounded() {
        let ul = Usrloc::new(UsrlocConfig::default());
        assert!(ul.find_table("location").is_none());
        assert!(ul.table("location").is_some());
        assert!(ul.find_table("location").is_some());
        assert!(ul.table("").is_none());
        for i in 0..MAX_TABLES {
            let _ = ul.table(&format!("t{i}"));
        }
        assert!(ul.table("one-too-many").is_none());
        assert_eq!(ul.tables().len(), MAX_TABLES);
    }

    #[test]
    fn operator_aors() {
        let ul = Usrloc::new(UsrlocConfig::default());
        assert_eq!(ul.aor_key_loose("Alice"), Ok("alice".into()));
        assert_eq!(ul.aor_key_loose("alice@example.com"), Ok("alice".into()));
        assert_eq!(
            ul.aor_key_loose("sip:alice@example.com"),
            Ok("alice".into())
        );
        let d = Usrloc::new(UsrlocConfig {
            use_domain: true,
            ..UsrlocConfig::default()
        });
        assert_eq!(
            d.aor_key_loose("alice@Example.com"),
            Ok("alice@example.com".into())
        );
    }

    #[test]
    fn ruids_are_unique() {
        let ul = Usrloc::new(UsrlocConfig::default());
        let a = ul.next_ruid();
        let b = ul.next_ruid();
        assert_ne!(a, b);
        assert!(a.starts_with("uloc-"));
    }

    #[test]
    fn expire_all_frees_across_tables() {
        let ul = Usrloc::new(UsrlocConfig::default());
        for name in ["location", "other"] {
            let Some(t) = ul.table(name) else {
                panic!("table {name}")
            };
            t.modify("alice", 100, &mut |c| {
                c.push(contact("sip:a@1", 150));
                c.push(contact("sip:a@2", 0));
            });
        }
        assert_eq!(ul.expire_all(200), 2);
        for t in ul.tables() {
            assert_eq!(t.counts(), (1, 1));
        }
    }

    #[test]
    fn methods_masks() {
        assert_eq!(
            methods::mask("INVITE, ACK,BYE"),
            methods::INVITE | methods::ACK | methods::BYE
        );
        assert_eq!(methods::mask("\"MESSAGE\""), methods::MESSAGE);
        assert_eq!(methods::mask("FOO"), methods::OTHER);
        assert_eq!(methods::mask(""), 0);
    }

    #[test]
    fn matching_modes() {
        let mut c = contact("sip:a@1", 0);
        c.call_id = "x".into();
        c.path = Some("<sip:p>".into());
        assert!(Matching::Contact.matches(&c, "sip:a@1", "y", None));
        assert!(!Matching::ContactCallId.matches(&c, "sip:a@1", "y", None));
        assert!(Matching::ContactCallId.matches(&c, "sip:a@1", "x", None));
        assert!(Matching::ContactPath.matches(&c, "sip:a@1", "y", Some("<sip:p>")));
        assert!(!Matching::ContactPath.matches(&c, "sip:a@1", "y", Some("<sip:q>")));
        assert!(Matching::CallId.matches(&c, "sip:other", "x", None));
    }

    #[test]
    fn config_from_modparams() {
        let modules = crate::module::Modules::for_test(
            &["registrar"],
            &[
                ("usrloc", "use_domain", crate::config::CfgValue::Int(1)),
                ("usrloc", "timer_interval", crate::config::CfgValue::Int(5)),
                (
                    "registrar",
                    "case_sensitive",
                    crate::config::CfgValue::Int(1),
                ),
            ],
        );
        let ul = api::service_in(&modules).expect("usrloc is loaded");
        let c = ul.config();
        assert!(c.use_domain && c.case_sensitive);
        assert_eq!(c.timer_interval, 5);
        assert!(ul.find_table("location").is_some());
    }
}
