//! tm: stateful request processing, RFC 3261 transactions.
//!
//! A [`Transaction`] pairs the request received (the server side) with the
//! requests relayed downstream (client branches). The table is sharded so
//! workers rarely meet on a lock; a reply can arrive on any worker, which
//! finds the transaction through the branch id of our Via.
//!
//! tm never runs a script itself (modules never know an engine). Script
//! functions record what they ask for in the callback's [`TmRoute`]: a relay
//! is prepared while the script runs and sent by the server once the
//! callback returns, running the branch route for each new branch; replies
//! and timeouts come back to the server as [`ReplyStep`]s that say which
//! route to run next. Timers (retransmissions, final-response timeouts,
//! freeing finished transactions) run on one thread; a timeout that needs a
//! failure route becomes a job for a worker.

mod timer;
pub mod txn;

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::hash::{BuildHasher, Hash};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

pub use txn::{Branch, BranchState, Callbacks, Target, Transaction, TxnSettings, Uas};

use crate::ctx::MsgState;
use crate::log;
use crate::proxy;
use crate::sip::{build_reply, Method, SipMsg};
use crate::transport::{Proto, RecvInfo};

/// A transaction shared between workers and the timer.
pub type TxnRef = Arc<Mutex<Transaction>>;

/// Locks a transaction; a panic in another holder does not make the data
/// unusable (every update is a plain field write).
pub fn lock(t: &TxnRef) -> MutexGuard<'_, Transaction> {
    t.lock().unwrap_or_else(|p| p.into_inner())
}

/// What tm needs from the server.
pub trait TmEnv: Send + Sync {
    /// Sends bytes.
    fn send(&self, target: Target, data: &[u8]) -> std::io::Result<()>;
    /// Our host and port for the Via of `proto` on the local socket.
    fn via_address(&self, proto: Proto, local: SocketAddr) -> (String, u16);
    /// The Server header line for local replies, if any.
    fn server_header(&self) -> Option<String>;
    /// Asks a worker to run the failure route of a transaction whose
    /// branches all ended by timeout.
    fn post_failure(&self, txn: TxnRef);
}

/// The module parameters of tm.
#[derive(Clone, Copy, Debug)]
pub struct TmParams {
    pub fr: Duration,
    pub fr_inv: Duration,
    pub wait: Duration,
    pub t1: Duration,
    pub t2: Duration,
    pub auto_inv_100: bool,
    /// Kamailio's failure_reply_mode is accepted; replies kept by default.
    pub failure_reply_mode: i64,
}

impl Default for TmParams {
    fn default() -> TmParams {
        TmParams {
            fr: Duration::from_millis(30_000),
            fr_inv: Duration::from_millis(120_000),
            wait: Duration::from_millis(5_000),
            t1: Duration::from_millis(500),
            t2: Duration::from_millis(4_000),
            auto_inv_100: true,
            failure_reply_mode: 0,
        }
    }
}

impl TmParams {
    /// The settings a new transaction starts with, before the script
    /// changes them (`t_set_fr`, ...).
    pub fn txn_settings(&self) -> TxnSettings {
        TxnSettings {
            fr: self.fr,
            fr_inv: self.fr_inv,
            t1: self.t1,
            t2: self.t2,
            auto_inv_100: self.auto_inv_100,
            disable_6xx: false,
            disable_internal_reply: false,
        }
    }
}

/// Counters for `tm.stats`.
#[derive(Debug, Default)]
pub struct TmStats {
    pub created: AtomicU64,
    pub freed: AtomicU64,
    pub replied_local: AtomicU64,
    pub relayed_replies: AtomicU64,
    pub rpl_2xx: AtomicU64,
    pub rpl_3xx: AtomicU64,
    pub rpl_4xx: AtomicU64,
    pub rpl_5xx: AtomicU64,
    pub rpl_6xx: AtomicU64,
}

const SHARDS: usize = 64;

/// The maps of a shard hash with foldhash, seeded per map: several times
/// cheaper than SipHash on transaction keys, and still not predictable by
/// a peer choosing branch ids.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

#[derive(Default)]
struct Shard {
    by_key: FastMap<TxnKey, TxnRef>,
    by_id: FastMap<u64, TxnRef>,
    /// Requests some worker is processing (`t_precheck_trans`).
    in_flight: HashSet<TxnKey, foldhash::fast::RandomState>,
}

/// The tm service.
pub struct Tm {
    pub params: TmParams,
    shards: Vec<Mutex<Shard>>,
    next_id: AtomicU64,
    pub stats: TmStats,
    env: Weak<dyn TmEnv>,
    timer: timer::Timer,
}

/// Which route a callback runs as, for tm functions and `KSR.x.drop`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RouteKind {
    #[default]
    Request,
    /// The core reply route (`ksr_reply_route`).
    Reply,
    /// A transaction's reply route (`t_on_reply`).
    TmReply,
    Failure,
    Branch,
    BranchFailure,
    Event,
}

/// A relay the script asked for; sent when the callback returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RelayRequest {
    /// Forced destination (`t_relay_to_proto_addr` and friends).
    pub proto: Option<Proto>,
    pub host_port: Option<(String, u16)>,
    /// `t_relay_to_flags` 0x1: no 100 Trying.
    pub no_100: bool,
}

/// What tm knows about the callback being run: the current transaction
/// and what the script asked of it.
#[derive(Default)]
pub struct TmRoute {
    pub kind: RouteKind,
    /// The current transaction (`T` in Kamailio).
    pub txn: Option<TxnRef>,
    /// The branch a reply, branch or branch-failure route is about.
    pub branch: Option<usize>,
    /// The reply being processed (its code) in reply routes.
    pub reply_code: u16,
    /// A relay requested by `t_relay` in this callback.
    pub relay: Option<RelayRequest>,
    /// Callbacks armed before a transaction exists.
    pub callbacks: Callbacks,
    /// Settings changed before a transaction exists.
    pub settings: Option<TxnSettings>,
    /// `t_reply` was called in this callback.
    pub replied: bool,
    /// The key `t_precheck_trans` registered as in processing; released
    /// when the request route ends.
    pub precheck: Option<TxnKey>,
    /// The transaction key of the callback's request, computed once
    /// ([`request_key`]).
    pub key: Option<TxnKey>,
}

impl TmRoute {
    pub fn new(kind: RouteKind) -> TmRoute {
        TmRoute {
            kind,
            ..TmRoute::default()
        }
    }
}

/// What `create` found.
pub enum Created {
    New(TxnRef),
    /// The request is a retransmission of this transaction's.
    Existing(TxnRef),
}

/// What the server must do next for a reply or a timeout.
pub enum ReplyStep {
    /// Nothing more.
    Done,
    /// Run the branch-failure route `name` on the reply, then call
    /// [`Tm::after_branch_failure`].
    BranchFailure(String),
    /// Run the failure route `name` on the transaction's request, then
    /// call [`Tm::after_failure`].
    Failure(String),
}

/// A server transaction's key, shared by the table, the transaction and
/// the callback that looked it up.
pub type TxnKey = Arc<str>;

/// The key of a server transaction (RFC 3261 §17.2.3): the top Via's
/// branch and sent-by, and the method (ACK counts as INVITE). For requests
/// without the RFC 3261 magic cookie: Call-ID, From tag, CSeq number and
/// top Via.
pub fn server_key(msg: &SipMsg) -> Option<TxnKey> {
    let method = match msg.method()? {
        Method::Ack => "INVITE",
        _ => msg.method_str()?,
    };
    key_with_method(msg, method)
}

/// The key of the request `msg` with `method` in place of its own (a
/// CANCEL looks for its INVITE).
fn key_with_method(msg: &SipMsg, method: &str) -> Option<TxnKey> {
    let via = msg.top_via().ok()?;
    let mut k = String::with_capacity(96);
    match via.branch() {
        Some(b) if b.starts_with("z9hG4bK") => {
            k.push_str(b);
            k.push('|');
            k.extend(via.sent_by().chars().map(|c| c.to_ascii_lowercase()));
        }
        _ => {
            let cseq = msg.cseq().ok()?;
            let from_tag = msg.from_header().ok().and_then(|f| f.tag()).unwrap_or("");
            let _ = write!(
                k,
                "{}|{from_tag}|{}|{}",
                msg.call_id().ok()?,
                cseq.number(),
                via.as_str()
            );
        }
    }
    k.push('|');
    k.push_str(method);
    Some(Arc::from(k))
}

/// The transaction key of the request a callback runs for, computed on
/// first use and kept in `route` for the other tm calls of the callback.
pub fn request_key(route: &mut TmRoute, msg: &SipMsg) -> Option<TxnKey> {
    if route.key.is_none() {
        route.key = server_key(msg);
    }
    route.key.clone()
}

/// The branch id of client branch `idx` of transaction `id`.
fn branch_id(id: u64, idx: usize) -> String {
    format!("z9hG4bKtm{id:x}.{idx}")
}

/// Reads a branch id written by [`branch_id`].
fn parse_branch_id(b: &str) -> Option<(u64, usize)> {
    let rest = b.strip_prefix("z9hG4bKtm")?;
    let (id, idx) = rest.split_once('.')?;
    Some((u64::from_str_radix(id, 16).ok()?, idx.parse().ok()?))
}

fn shard_of<T: Hash + ?Sized>(k: &T) -> usize {
    // A fixed seed: the shard must not change between calls. A peer aiming
    // at one shard only makes workers wait on one lock; each shard's maps
    // have seeds of their own.
    (foldhash::fast::FixedState::with_seed(0x6b65_6d69_6474_6d31).hash_one(k) as usize) % SHARDS
}

/// Where replies to a request go.
pub fn reply_target(req: &SipMsg, recv: &RecvInfo) -> Target {
    Target {
        proto: recv.proto,
        addr: crate::proxy::reply_destination(req, recv),
        conn: recv.conn,
    }
}

impl Tm {
    /// Creates the service and starts its timer thread.
    pub fn new(params: TmParams, env: Weak<dyn TmEnv>) -> Arc<Tm> {
        Arc::new_cyclic(|me: &Weak<Tm>| Tm {
            params,
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            next_id: AtomicU64::new(1),
            stats: TmStats::default(),
            env,
            timer: timer::Timer::start(me.clone()),
        })
    }

    fn shard(&self, i: usize) -> MutexGuard<'_, Shard> {
        self.shards[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    fn env(&self) -> Option<Arc<dyn TmEnv>> {
        self.env.upgrade()
    }

    /// Registers a request key as being processed; false when another
    /// worker has it.
    pub fn precheck_begin(&self, key: &TxnKey) -> bool {
        self.shard(shard_of(&**key)).in_flight.insert(key.clone())
    }

    /// Releases a key registered by [`Tm::precheck_begin`].
    pub fn precheck_end(&self, key: &str) {
        self.shard(shard_of(key)).in_flight.remove(key);
    }

    /// Transactions in the table.
    pub fn active(&self) -> usize {
        (0..SHARDS).map(|i| self.shard(i).by_id.len()).sum()
    }

    /// The transaction of a request, by its key.
    pub fn lookup_request(&self, msg: &SipMsg) -> Option<TxnRef> {
        self.lookup_key(&server_key(msg)?)
    }

    /// The transaction with the key `key` ([`server_key`]).
    pub fn lookup_key(&self, key: &str) -> Option<TxnRef> {
        self.shard(shard_of(key)).by_key.get(key).cloned()
    }

    /// The INVITE transaction a CANCEL is for.
    pub fn lookup_cancel(&self, cancel: &SipMsg) -> Option<TxnRef> {
        self.lookup_key(&key_with_method(cancel, "INVITE")?)
    }

    /// The transaction and branch a reply belongs to.
    pub fn match_reply(&self, reply: &SipMsg) -> Option<(TxnRef, usize)> {
        let via = reply.top_via().ok()?;
        let (id, idx) = parse_branch_id(via.branch()?)?;
        let t = self.shard(shard_of(&id)).by_id.get(&id).cloned()?;
        let ok = {
            let g = lock(&t);
            let cseq_method = reply.cseq().ok().map(|c| c.method());
            idx < g.branches.len()
                && (cseq_method == Some(g.method) || cseq_method == Some(Method::Cancel))
        };
        ok.then_some((t, idx))
    }

    /// Creates the transaction of `msg` (t_newtran), or finds the one a
    /// retransmission belongs to (whose last reply is then sent again).
    pub fn create(
        &self,
        msg: &SipMsg,
        recv: &RecvInfo,
        state: MsgState,
        route: &TmRoute,
    ) -> Result<Created, String> {
        let key = match &route.key {
            Some(k) => k.clone(),
            None => server_key(msg).ok_or("the request has no usable Via, CSeq or Call-ID")?,
        };
        if let Some(existing) = self.lookup_key(&key) {
            self.retransmit_reply(&existing);
            return Ok(Created::Existing(existing));
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let method = msg.method().unwrap_or(Method::Other);
        let mut settings = route.settings.unwrap_or_else(|| self.params.txn_settings());
        if route.relay.as_ref().is_some_and(|r| r.no_100) {
            settings.auto_inv_100 = false;
        }
        // The server side keeps the request as received, with the
        // received/rport edits that local replies must carry.
        let mut request =
            SipMsg::parse(msg.as_bytes()).map_err(|e| format!("cannot copy the request: {e}"))?;
        let _ = request.fix_top_via(recv.src, state.force_rport);
        let txn = Transaction {
            id,
            key: Some(key.clone()),
            method,
            uas: Uas {
                reply_target: reply_target(msg, recv),
                to_tag: crate::proxy::local_to_tag(msg),
                request,
                recv: *recv,
                last_reply: None,
                status: 0,
                next_reply_retr: None,
                reply_retr_interval: settings.t1,
                acked: false,
            },
            branches: Vec::new(),
            template: None,
            callbacks: route.callbacks.clone(),
            settings,
            state,
            canceled: false,
            rounds: 0,
            completed: false,
            free_at: None,
            in_failure: false,
            created: Instant::now(),
        };
        let t = Arc::new(Mutex::new(txn));
        {
            let mut shard = self.shard(shard_of(&*key));
            if let Some(existing) = shard.by_key.get(&key).cloned() {
                // Another worker created it meanwhile.
                drop(shard);
                self.retransmit_reply(&existing);
                return Ok(Created::Existing(existing));
            }
            shard.by_key.insert(key, t.clone());
        }
        self.shard(shard_of(&id)).by_id.insert(id, t.clone());
        self.stats.created.fetch_add(1, Ordering::Relaxed);
        if method == Method::Invite && settings.auto_inv_100 {
            let mut g = lock(&t);
            self.reply_locked(&mut g, 100, "trying -- your call is important to us");
        }
        // A transaction nobody relays or answers is still freed: after the
        // longest final-response timeout.
        self.timer.schedule(
            id,
            Instant::now() + settings.fr_inv.max(settings.fr) + self.params.wait,
        );
        Ok(Created::New(t))
    }

    /// A transaction by id.
    fn by_id(&self, id: u64) -> Option<TxnRef> {
        self.shard(shard_of(&id)).by_id.get(&id).cloned()
    }

    /// Sends the last reply of the server side again (a retransmitted
    /// request arrived).
    pub fn retransmit_reply(&self, t: &TxnRef) -> bool {
        let g = lock(t);
        match (&g.uas.last_reply, self.env()) {
            (Some(r), Some(env)) => env.send(g.uas.reply_target, r).is_ok(),
            _ => false,
        }
    }

    /// Sends a reply upstream built locally from the request (t_reply).
    pub fn reply(&self, t: &TxnRef, code: u16, reason: &str, extra_headers: &str) -> bool {
        let mut g = lock(t);
        self.reply_with(&mut g, code, reason, extra_headers)
    }

    fn reply_locked(&self, g: &mut Transaction, code: u16, reason: &str) -> bool {
        self.reply_with(g, code, reason, "")
    }

    /// t_reply on a locked transaction.
    pub fn reply_with(
        &self,
        g: &mut Transaction,
        code: u16,
        reason: &str,
        extra_headers: &str,
    ) -> bool {
        if g.uas.status >= 200
            && !(g.method == Method::Invite && (200..300).contains(&code) && g.uas.status < 300)
        {
            log::notice(
                "tm",
                format_args!(
                    "a final reply ({}) was sent already; {code} not sent",
                    g.uas.status
                ),
            );
            return false;
        }
        let Some(env) = self.env() else { return false };
        let mut headers = String::new();
        if let Some(s) = env.server_header() {
            headers.push_str(&s);
            headers.push_str("\r\n");
        }
        headers.push_str(extra_headers);
        let mut out = Vec::with_capacity(512);
        let tag = (code > 100).then_some(g.uas.to_tag.as_str());
        if let Err(e) = build_reply(&g.uas.request, code, reason, tag, &headers, &mut out) {
            log::error("tm", format_args!("cannot build a {code} reply: {e}"));
            return false;
        }
        self.stats.replied_local.fetch_add(1, Ordering::Relaxed);
        self.send_upstream(g, code, out, &env)
    }

    /// Sends a reply (local or relayed) upstream and updates the server
    /// side: a final reply completes the transaction.
    fn send_upstream(
        &self,
        g: &mut Transaction,
        code: u16,
        data: Vec<u8>,
        env: &Arc<dyn TmEnv>,
    ) -> bool {
        let ok = match env.send(g.uas.reply_target, &data) {
            Ok(()) => true,
            Err(e) => {
                log::error(
                    "tm",
                    format_args!(
                        "cannot send a {code} reply to {}: {e}",
                        g.uas.reply_target.addr
                    ),
                );
                false
            }
        };
        if code >= g.uas.status || g.uas.status < 200 {
            g.uas.status = code;
            g.uas.last_reply = Some(data);
        }
        if code >= 200 {
            self.count_code(code);
            self.complete(g);
        }
        ok
    }

    fn count_code(&self, code: u16) {
        let c = match code {
            200..=299 => &self.stats.rpl_2xx,
            300..=399 => &self.stats.rpl_3xx,
            400..=499 => &self.stats.rpl_4xx,
            500..=599 => &self.stats.rpl_5xx,
            _ => &self.stats.rpl_6xx,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// A final reply went upstream: cancel what still rings (INVITE), start
    /// retransmitting a negative INVITE reply until ACK (Timer G, UDP), and
    /// schedule the transaction's release.
    fn complete(&self, g: &mut Transaction) {
        if g.completed {
            return;
        }
        g.completed = true;
        let now = Instant::now();
        if g.method == Method::Invite {
            for i in 0..g.branches.len() {
                if g.branches[i].state != BranchState::Completed {
                    self.cancel_branch(g, i);
                }
            }
            if g.uas.status >= 300 && g.uas.reply_target.proto == Proto::Udp {
                g.uas.next_reply_retr = Some(now + g.settings.t1);
                g.uas.reply_retr_interval = g.settings.t1;
            }
        }
        // Timer H (64·T1) bounds the wait for an ACK; the wait timer absorbs
        // retransmissions afterwards.
        let linger = if g.uas.next_reply_retr.is_some() {
            g.settings.t1 * 64
        } else {
            self.params.wait
        };
        g.free_at = Some(now + linger.max(self.params.wait));
        self.timer
            .schedule(g.id, now + g.settings.t1.min(self.params.wait));
    }

    /// Sends CANCEL on a branch that received a provisional reply; marks
    /// one that has not for cancelling when it does (RFC 3261 §9.1).
    pub fn cancel_branch(&self, g: &mut Transaction, i: usize) {
        let Some(b) = g.branches.get_mut(i) else {
            return;
        };
        if b.cancel_sent || b.state == BranchState::Completed {
            return;
        }
        if b.state == BranchState::Calling {
            b.cancel_pending = true;
            return;
        }
        b.cancel_sent = true;
        let Some(env) = self.env() else { return };
        match build_cancel(&b.request) {
            Some(cancel) => {
                if let Err(e) = env.send(b.target, &cancel) {
                    log::error(
                        "tm",
                        format_args!("cannot send CANCEL to {}: {e}", b.target.addr),
                    );
                }
            }
            None => log::error("tm", format_args!("cannot build a CANCEL for branch {i}")),
        }
    }

    /// A CANCEL arrived for `t`: cancel every pending branch.
    pub fn cancel_all(&self, t: &TxnRef) {
        let mut g = lock(t);
        g.canceled = true;
        for i in 0..g.branches.len() {
            self.cancel_branch(&mut g, i);
        }
        if g.branches.is_empty() && g.uas.status < 200 {
            // Nothing was relayed: answer the INVITE ourselves.
            self.reply_locked(&mut g, 487, "Request Terminated");
        }
    }

    /// Records the request as relayed in `t` (the base for failure-route
    /// relays) and sends it to every destination: branch 0 from the
    /// Request-URI / `$du`, then the destination set. Branch routes are run
    /// by the caller through `before_send`, which returns false to drop a
    /// branch. Returns how many branches were sent.
    pub fn relay(
        &self,
        t: &TxnRef,
        msg: &SipMsg,
        state: &MsgState,
        request: &RelayRequest,
        local: SocketAddr,
        mut before_send: impl FnMut(&mut SipMsg, usize) -> bool,
    ) -> Result<usize, String> {
        let env = self.env().ok_or("the server is stopping")?;
        // The destinations.
        let mut dests: Vec<(String, Option<String>, Option<String>)> = Vec::new();
        let ruri = msg.ruri_str().ok_or("not a request")?.to_owned();
        dests.push((ruri, msg.du().map(str::to_owned), state.path.clone()));
        for b in &state.branches {
            dests.push((b.uri.clone(), b.dst_uri.clone(), b.path.clone()));
        }
        let template = msg.to_bytes();
        let mut g = lock(t);
        if g.template.is_none() {
            g.template = Some(template.clone());
        }
        let round = g.rounds;
        let mut sent = 0;
        let mut errors = Vec::new();
        for (uri, du, path) in dests {
            let next_hop = match &request.host_port {
                Some((h, p)) => {
                    proxy::resolve_host(h, *p).map(|a| (request.proto.unwrap_or(Proto::Udp), a))
                }
                None => proxy::resolve(du.as_deref().unwrap_or(&uri), request.proto),
            };
            let (proto, addr) = match next_hop {
                Ok(d) => d,
                Err(e) => {
                    errors.push(e.to_string());
                    continue;
                }
            };
            let idx = g.branches.len();
            let bid = branch_id(g.id, idx);
            let (host, port) = env.via_address(proto, local);
            let via = proxy::via_value(proto, &host, port, &bid, state.add_local_rport);
            let mut branch_msg = match SipMsg::parse(template.clone()) {
                Ok(m) => m,
                Err(e) => return Err(format!("cannot copy the request: {e}")),
            };
            if branch_msg.set_ruri(&uri).is_err() {
                errors.push(format!("bad Request-URI {uri}"));
                continue;
            }
            if let Some(p) = path.as_deref().filter(|p| !p.is_empty()) {
                let _ = branch_msg.insert_header(&format!("Route: {p}\r\n"));
            }
            // The branch route sees the branch as it will be sent.
            if !before_send(&mut branch_msg, idx) {
                continue;
            }
            if let Err(e) = branch_msg.add_via(&via) {
                errors.push(e.to_string());
                continue;
            }
            let mut out = Vec::with_capacity(template.len() + 128);
            branch_msg.write_into(&mut out);
            let target = Target {
                proto,
                addr,
                conn: None,
            };
            let now = Instant::now();
            let fr = g.settings.fr;
            let t1 = g.settings.t1;
            g.branches.push(Branch {
                branch_id: bid,
                uri,
                target,
                request: out,
                state: BranchState::Calling,
                final_code: 0,
                final_reply: None,
                provisional: 0,
                timed_out: false,
                cancel_sent: false,
                cancel_pending: false,
                retr_interval: t1,
                next_retr: (proto == Proto::Udp).then_some(now + t1),
                fr_deadline: now + fr,
                dropped: false,
                round,
            });
            let b = &g.branches[idx];
            match env.send(b.target, &b.request) {
                Ok(()) => sent += 1,
                Err(e) => {
                    errors.push(format!("cannot send to {addr}: {e}"));
                    let b = &mut g.branches[idx];
                    b.state = BranchState::Completed;
                    b.final_code = 477;
                }
            }
        }
        let id = g.id;
        let next = g
            .branches
            .iter()
            .filter_map(|b| b.next_retr)
            .chain(g.branches.iter().map(|b| b.fr_deadline))
            .min();
        drop(g);
        if let Some(n) = next {
            self.timer.schedule(id, n);
        }
        if sent == 0 {
            return Err(if errors.is_empty() {
                "no destination".into()
            } else {
                errors.join("; ")
            });
        }
        for e in errors {
            log::warn("tm", format_args!("a branch was not sent: {e}"));
        }
        Ok(sent)
    }

    /// Processes a reply for branch `idx` of the locked transaction after
    /// its onreply route (`dropped`: the route called `KSR.x.drop()`).
    /// Relays what must go upstream and says what to run next.
    pub fn on_reply(
        &self,
        g: &mut Transaction,
        idx: usize,
        reply: &mut SipMsg,
        dropped: bool,
    ) -> ReplyStep {
        let Some(env) = self.env() else {
            return ReplyStep::Done;
        };
        let Some(code) = reply.status_code() else {
            return ReplyStep::Done;
        };
        if reply.cseq().ok().map(|c| c.method()) == Some(Method::Cancel) {
            // The answer to our CANCEL: nothing goes upstream.
            return ReplyStep::Done;
        }
        let is_invite = g.method == Method::Invite;
        {
            let Some(b) = g.branches.get_mut(idx) else {
                return ReplyStep::Done;
            };
            if b.state == BranchState::Completed {
                // A retransmitted final: absorb; re-ACK a negative INVITE reply.
                if is_invite && code >= 300 {
                    if let Some(ack) = build_ack(&b.request, reply) {
                        let _ = env.send(b.target, &ack);
                    }
                }
                if is_invite && (200..300).contains(&code) {
                    // 2xx retransmissions go upstream: the UAC's ACK is end to end.
                    return self.relay_upstream(g, reply, code, &env);
                }
                return ReplyStep::Done;
            }
            if code < 200 {
                b.state = BranchState::Proceeding;
                b.provisional = b.provisional.max(code);
                if is_invite {
                    // Timer A stops; Timer C (fr_inv) replaces Timer B.
                    b.next_retr = None;
                    b.fr_deadline = Instant::now() + g.settings.fr_inv;
                } else {
                    b.retr_interval = g.settings.t2;
                }
                let pending_cancel = b.cancel_pending;
                if pending_cancel {
                    b.cancel_pending = false;
                }
                if pending_cancel || g.canceled {
                    self.cancel_branch(g, idx);
                }
                if code == 100 || dropped || g.uas.status >= 200 {
                    return ReplyStep::Done;
                }
                return self.relay_upstream(g, reply, code, &env);
            }
            b.state = BranchState::Completed;
            b.next_retr = None;
            b.final_code = code;
            b.final_reply = Some(reply.as_bytes().to_vec());
            if is_invite && code >= 300 {
                if let Some(ack) = build_ack(&b.request, reply) {
                    let _ = env.send(b.target, &ack);
                }
            }
        }
        if (200..300).contains(&code) {
            return self.relay_upstream(g, reply, code, &env);
        }
        if is_invite && code >= 600 && !g.settings.disable_6xx {
            // RFC 3261 §16.7 step 5: a 6xx ends the search; the other
            // branches are cancelled and the 6xx goes upstream once all are
            // final (it ranks first in `best_failure`).
            for i in 0..g.branches.len() {
                if i != idx {
                    self.cancel_branch(g, i);
                }
            }
        }
        if let Some(name) = g.callbacks.on_branch_failure.clone() {
            return ReplyStep::BranchFailure(name);
        }
        self.after_negative(g)
    }

    /// After a negative final on a branch (and its branch-failure route):
    /// when every branch is final, run the failure route or send the best
    /// reply upstream.
    pub fn after_negative(&self, g: &mut Transaction) -> ReplyStep {
        if !g.all_branches_final() || g.uas.status >= 200 {
            return ReplyStep::Done;
        }
        if let Some(name) = g.callbacks.on_failure.take() {
            g.in_failure = true;
            return ReplyStep::Failure(name);
        }
        self.send_best(g);
        ReplyStep::Done
    }

    /// Call after the branch-failure route.
    pub fn after_branch_failure(&self, g: &mut Transaction) -> ReplyStep {
        self.after_negative(g)
    }

    /// Call after the failure route: unless it relayed again or replied,
    /// the best reply goes upstream.
    pub fn after_failure(&self, g: &mut Transaction) {
        g.in_failure = false;
        g.rounds += 1;
        if g.uas.status >= 200 {
            return;
        }
        if g.all_branches_final() {
            self.send_best(g);
        }
    }

    /// Sends the best final reply upstream, or a local 408/500 when no
    /// branch has one.
    pub fn send_best(&self, g: &mut Transaction) {
        let Some(env) = self.env() else { return };
        match g.best_failure() {
            Some(i) => {
                let code = g.branches[i].final_code;
                let bytes = g.branches[i].final_reply.clone();
                match bytes.and_then(|b| SipMsg::parse(b).ok()) {
                    Some(mut reply) => {
                        let code = if code == 503 { 500 } else { code };
                        if code == 500 && reply.status_code() == Some(503) {
                            // RFC 3261 §16.7 step 6: a 503 is not passed on.
                            self.reply_locked(g, 500, "Server Error");
                            return;
                        }
                        if code == 401 || code == 407 {
                            aggregate_challenges(g, i, &mut reply);
                        }
                        let _ = self.relay_upstream(g, &mut reply, code, &env);
                    }
                    None => {
                        let reason = if g.branches[i].timed_out || code == 408 {
                            "Request Timeout"
                        } else {
                            "Server Error"
                        };
                        self.reply_locked(g, if code == 477 { 500 } else { code }, reason);
                    }
                }
            }
            None => {
                if g.canceled {
                    self.reply_locked(g, 487, "Request Terminated");
                } else if g.branches.iter().any(|b| b.timed_out) {
                    self.reply_locked(g, 408, "Request Timeout");
                } else {
                    self.reply_locked(g, 500, "Server Error");
                }
            }
        }
    }

    /// Relays a reply upstream: our Via removed.
    fn relay_upstream(
        &self,
        g: &mut Transaction,
        reply: &mut SipMsg,
        code: u16,
        env: &Arc<dyn TmEnv>,
    ) -> ReplyStep {
        if g.uas.status >= 200 && !(g.method == Method::Invite && (200..300).contains(&code)) {
            return ReplyStep::Done;
        }
        if reply.remove_top_via().is_err() {
            log::notice(
                "tm",
                format_args!("a reply without our Via cannot be relayed"),
            );
            return ReplyStep::Done;
        }
        let mut out = Vec::with_capacity(reply.len());
        reply.write_into(&mut out);
        self.stats.relayed_replies.fetch_add(1, Ordering::Relaxed);
        self.send_upstream(g, code, out, env);
        ReplyStep::Done
    }

    /// An ACK for the negative final reply of an INVITE: stop Timer G.
    pub fn ack_received(&self, t: &TxnRef) {
        let mut g = lock(t);
        g.uas.acked = true;
        g.uas.next_reply_retr = None;
    }

    /// Removes a finished transaction from the table.
    fn free(&self, g: &Transaction) {
        if let Some(key) = &g.key {
            self.shard(shard_of(&**key)).by_key.remove(key);
        }
        self.shard(shard_of(&g.id)).by_id.remove(&g.id);
        self.stats.freed.fetch_add(1, Ordering::Relaxed);
    }

    /// The timer's work on one transaction: retransmissions, timeouts,
    /// Timer G, release. Returns when to look again.
    fn tick(&self, t: &TxnRef, now: Instant) -> Option<Instant> {
        let env = self.env()?;
        let mut g = match t.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            // A worker holds it (a route is running): look again soon.
            Err(std::sync::TryLockError::WouldBlock) => {
                return Some(now + Duration::from_millis(10))
            }
        };
        if g.free_at.is_some_and(|f| f <= now) {
            self.free(&g);
            return None;
        }
        // Timer G: retransmit a negative INVITE reply until ACK.
        if let (Some(at), Some(r)) = (g.uas.next_reply_retr, g.uas.last_reply.as_ref()) {
            if at <= now && !g.uas.acked {
                let _ = env.send(g.uas.reply_target, r);
                let next = (g.uas.reply_retr_interval * 2).min(g.settings.t2);
                g.uas.reply_retr_interval = next;
                g.uas.next_reply_retr = Some(now + next);
            }
        }
        let is_invite = g.method == Method::Invite;
        let mut timed_out = false;
        for i in 0..g.branches.len() {
            let t2 = g.settings.t2;
            let b = &mut g.branches[i];
            if b.state == BranchState::Completed {
                continue;
            }
            if b.fr_deadline <= now {
                b.state = BranchState::Completed;
                b.timed_out = true;
                b.next_retr = None;
                if b.final_code == 0 {
                    b.final_code = 408;
                }
                timed_out = true;
                if is_invite && b.provisional > 0 && !b.cancel_sent {
                    b.state = BranchState::Proceeding;
                    self.cancel_branch(&mut g, i);
                    g.branches[i].state = BranchState::Completed;
                }
                continue;
            }
            if let Some(at) = b.next_retr {
                if at <= now {
                    let _ = env.send(b.target, &b.request);
                    let next = if is_invite {
                        b.retr_interval * 2
                    } else {
                        (b.retr_interval * 2).min(t2)
                    };
                    b.retr_interval = next;
                    b.next_retr = Some(now + next);
                }
            }
        }
        if timed_out && g.all_branches_final() && g.uas.status < 200 && !g.in_failure {
            if g.callbacks.on_failure.is_some() {
                g.in_failure = true;
                drop(g);
                env.post_failure(t.clone());
                return Some(now + Duration::from_millis(50));
            }
            self.send_best(&mut g);
        }
        let mut next = g.free_at;
        for b in &g.branches {
            if b.state != BranchState::Completed {
                next = [next, b.next_retr, Some(b.fr_deadline)]
                    .into_iter()
                    .flatten()
                    .min();
            }
        }
        if let Some(r) = g.uas.next_reply_retr {
            next = Some(next.map_or(r, |n| n.min(r)));
        }
        next
    }

    /// The failure route of a timed-out transaction is due (called by the
    /// worker the job reached): the name to run, if still armed.
    pub fn take_failure_route(&self, g: &mut Transaction) -> Option<String> {
        g.callbacks.on_failure.take()
    }
}

/// RFC 3261 §16.7 step 7: a 401 or 407 sent upstream carries the
/// challenges of every branch that answered 401 or 407.
fn aggregate_challenges(g: &Transaction, chosen: usize, reply: &mut SipMsg) {
    use crate::sip::HeaderName as H;
    for (i, b) in g.branches.iter().enumerate() {
        if i == chosen || b.dropped || !(b.final_code == 401 || b.final_code == 407) {
            continue;
        }
        let Some(other) = b
            .final_reply
            .as_ref()
            .and_then(|r| SipMsg::parse(r.as_slice()).ok())
        else {
            continue;
        };
        for (kind, name) in [
            (H::WwwAuthenticate, "WWW-Authenticate"),
            (H::ProxyAuthenticate, "Proxy-Authenticate"),
        ] {
            for h in other.headers_of(kind) {
                let _ = reply.append_header(&format!("{name}: {}\r\n", h.value));
            }
        }
    }
}

/// A CANCEL for a request we sent (RFC 3261 §9.1): same Request-URI, top
/// Via, Call-ID, From, To, CSeq number, and Route set.
pub fn build_cancel(request: &[u8]) -> Option<Vec<u8>> {
    build_hop_request(request, "CANCEL", None)
}

/// An ACK for a negative final reply to an INVITE we sent (RFC 3261
/// §17.1.1.3): the To of the reply (with its tag).
pub fn build_ack(request: &[u8], reply: &SipMsg) -> Option<Vec<u8>> {
    let to = reply
        .header(crate::sip::HeaderName::To)
        .map(|h| h.value.to_owned());
    build_hop_request(request, "ACK", to.as_deref())
}

fn build_hop_request(request: &[u8], method: &str, to: Option<&str>) -> Option<Vec<u8>> {
    use crate::sip::HeaderName as H;
    let req = SipMsg::parse(request).ok()?;
    let ruri = req.ruri_str()?;
    let via = req.vias().ok()?.get(0)?.as_str().to_owned();
    let cseq = req.cseq().ok()?.number();
    let mut out = format!("{method} {ruri} SIP/2.0\r\nVia: {via}\r\n");
    for r in req.values(H::Route) {
        out.push_str("Route: ");
        out.push_str(r);
        out.push_str("\r\n");
    }
    out.push_str("From: ");
    out.push_str(req.header(H::From)?.value);
    out.push_str("\r\nTo: ");
    out.push_str(to.unwrap_or(req.header(H::To)?.value));
    out.push_str("\r\nCall-ID: ");
    out.push_str(req.call_id().ok()?);
    out.push_str(&format!(
        "\r\nCSeq: {cseq} {method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    ));
    Some(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_ids_round_trip() {
        assert_eq!(parse_branch_id(&branch_id(0x1234, 3)), Some((0x1234, 3)));
        assert_eq!(parse_branch_id("z9hG4bKother"), None);
    }

    #[test]
    fn cancel_and_ack_copy_what_rfc_3261_asks() {
        let invite = b"INVITE sip:b@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKtm1.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bKa\r\nRoute: <sip:p;lr>\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@y>\r\nCall-ID: cid\r\nCSeq: 7 INVITE\r\nContent-Length: 0\r\n\r\n";
        let cancel = String::from_utf8(build_cancel(invite).expect("cancel")).expect("text");
        assert!(cancel.starts_with("CANCEL sip:b@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKtm1.0\r\nRoute: <sip:p;lr>\r\n"), "{cancel}");
        assert!(cancel.contains("CSeq: 7 CANCEL\r\n") && !cancel.contains("branch=z9hG4bKa"));
        let reply = SipMsg::parse("SIP/2.0 486 Busy\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKtm1.0\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@y>;tag=b2\r\nCall-ID: cid\r\nCSeq: 7 INVITE\r\nContent-Length: 0\r\n\r\n").expect("reply");
        let ack = String::from_utf8(build_ack(invite, &reply).expect("ack")).expect("text");
        assert!(
            ack.contains("To: <sip:b@y>;tag=b2\r\n") && ack.contains("CSeq: 7 ACK\r\n"),
            "{ack}"
        );
    }

    #[test]
    fn keys_match_ack_and_cancel_to_their_invite() {
        let invite = SipMsg::parse("INVITE sip:b@y SIP/2.0\r\nVia: SIP/2.0/UDP a:5070;branch=z9hG4bKx\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@y>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n").expect("valid");
        let ack = SipMsg::parse("ACK sip:b@y SIP/2.0\r\nVia: SIP/2.0/UDP a:5070;branch=z9hG4bKx\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@y>;tag=2\r\nCall-ID: c\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n").expect("valid");
        assert_eq!(server_key(&invite), server_key(&ack));
        let options = SipMsg::parse("OPTIONS sip:b@y SIP/2.0\r\nVia: SIP/2.0/UDP a:5070;branch=z9hG4bKx\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@y>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").expect("valid");
        assert_ne!(server_key(&invite), server_key(&options));
    }
}
