//! TCP: accepted and opened connections, each owned by one worker thread.
//!
//! A small tokio runtime accepts connections and hands each one to an
//! owner, one of the workers that take TCP ([`Handoffs`]). The owner runs
//! the connection on its own single-threaded runtime: it reads, cuts
//! messages out of the stream by Content-Length ([`Framer`]) and passes
//! each one, borrowed from the read buffer, to its sink, which routes it
//! on the spot. A message thus goes from the socket to the script with no
//! hop between threads and no copy, as in Kamailio's TCP receivers.
//!
//! Any thread sends on a connection: it writes to the socket itself when
//! nothing is waiting to go out (the usual case); what the socket cannot
//! take at once is queued, in order, for the connection's writer task on
//! the owner's runtime, so no thread blocks on a slow peer. Replies and
//! in-dialog requests reuse a connection: by id when the message came on
//! it, else by the peer's address; a new connection is opened by the owner
//! the new id maps to. Connections idle for the configured lifetime are
//! closed; past the connection limit new ones are refused.
//!
//! A peer cannot hold a connection by trickling bytes ([`TcpGuards`]): a
//! message must be complete within `tcp_msg_read_timeout` of its first
//! byte, an accepted connection must carry a message within
//! `tcp_msg_data_timeout`, and one address may hold at most
//! `tcp_accept_iplimit` accepted connections. A connection keeps no read
//! buffer of its own between messages: bytes are read into one buffer per
//! owner thread, and only the unfinished part of a message is copied aside.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Notify};

use super::{Proto, RecvInfo};
use crate::log;
use crate::sip::{header_block_len, Frame, Framer, Limits, ParseErrorKind};

/// Limits of the TCP transport.
#[derive(Clone, Copy, Debug)]
pub struct TcpLimits {
    pub max_connections: usize,
    /// Close a connection with no traffic for this long.
    pub idle: Duration,
    /// The largest message accepted.
    pub max_message: usize,
}

/// Most bytes queued on one connection for a peer that does not read;
/// beyond it, sends fail and the connection is closed.
const MAX_QUEUED: usize = 4 << 20;

/// Bytes asked of the socket per read.
const READ_SIZE: usize = 16 * 1024;

/// A connection's copy of an unfinished message is given back to the
/// allocator, rather than kept for the next one, when it grew past this.
const KEEP_PENDING: usize = 4 * 1024;

thread_local! {
    /// The owner thread's read buffer, shared by all its connections: a
    /// read never waits while holding it.
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_SIZE]);
}

/// What guards the transport against peers that hold connections without
/// sending whole messages. Kamailio's global parameters of the same names;
/// a zero duration or limit turns a guard off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpGuards {
    /// `tcp_msg_read_timeout`: a message must be read whole within this
    /// time of its first byte.
    pub msg_read_timeout: Duration,
    /// `tcp_msg_data_timeout`: an accepted connection must carry its first
    /// message (keepalives do not count) within this time.
    pub msg_data_timeout: Duration,
    /// `tcp_accept_iplimit`: accepted connections one IP address may hold.
    pub accept_iplimit: usize,
}

impl Default for TcpGuards {
    /// Kamailio's defaults: 20 s, 20 s, 1024 connections.
    fn default() -> TcpGuards {
        TcpGuards {
            msg_read_timeout: Duration::from_secs(20),
            msg_data_timeout: Duration::from_secs(20),
            accept_iplimit: 1024,
        }
    }
}

/// [`TcpGuards`] that can change while connections run.
struct LiveGuards {
    read_ms: AtomicU64,
    data_ms: AtomicU64,
    iplimit: AtomicUsize,
}

impl LiveGuards {
    fn new(g: TcpGuards) -> LiveGuards {
        let l = LiveGuards {
            read_ms: AtomicU64::new(0),
            data_ms: AtomicU64::new(0),
            iplimit: AtomicUsize::new(0),
        };
        l.set(g);
        l
    }

    fn set(&self, g: TcpGuards) {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        self.read_ms
            .store(ms(g.msg_read_timeout), Ordering::Relaxed);
        self.data_ms
            .store(ms(g.msg_data_timeout), Ordering::Relaxed);
        self.iplimit.store(g.accept_iplimit, Ordering::Relaxed);
    }

    fn get(&self) -> TcpGuards {
        TcpGuards {
            msg_read_timeout: Duration::from_millis(self.read_ms.load(Ordering::Relaxed)),
            msg_data_timeout: Duration::from_millis(self.data_ms.load(Ordering::Relaxed)),
            accept_iplimit: self.iplimit.load(Ordering::Relaxed),
        }
    }
}

struct Conn {
    out: Arc<Outgoing>,
    peer: SocketAddr,
    /// Accepted from the peer (counted in `Table::accepted_from`).
    accepted: bool,
}

#[derive(Default)]
struct Table {
    by_id: HashMap<u64, Conn>,
    by_peer: HashMap<SocketAddr, u64>,
    /// Accepted connections per peer address; an address leaves the map
    /// with its last connection.
    accepted_from: HashMap<IpAddr, usize>,
}

/// The sizes of the transport's bookkeeping, for tests and the control
/// plane: every one is 0 once every connection is closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TableSizes {
    pub connections: usize,
    pub peers: usize,
    pub accepting_addresses: usize,
    pub open: usize,
}

/// A connection for an owner to serve.
pub enum Handoff {
    /// Accepted by the listener.
    Accepted(std::net::TcpStream, SocketAddr, u64, Arc<Outgoing>),
    /// To open: a message is queued for `dst`.
    Connect(SocketAddr, u64, Arc<Outgoing>),
}

/// What one owner receives: the connections it is to serve.
pub struct Handoffs(mpsc::UnboundedReceiver<Handoff>);

impl Handoffs {
    /// The next connection; `None` once the transport is gone.
    pub async fn next(&mut self) -> Option<Handoff> {
        self.0.recv().await
    }
}

/// The running TCP transport.
pub struct TcpTransport {
    runtime: tokio::runtime::Runtime,
    table: Mutex<Table>,
    next_id: AtomicU64,
    open: AtomicUsize,
    limits: TcpLimits,
    guards: LiveGuards,
    locals: Vec<SocketAddr>,
    owners: Vec<mpsc::UnboundedSender<Handoff>>,
}

/// The sending side of a connection, shared by every thread that sends on
/// it and the connection's writer task.
pub struct Outgoing {
    /// Set once connected.
    stream: OnceLock<Arc<OwnedWriteHalf>>,
    /// Bytes waiting to be written, oldest first; every write happens under
    /// this lock, so messages never overtake each other.
    queue: Mutex<Queue>,
    /// Wakes the writer task when the queue gets bytes or the connection
    /// closes.
    wake: Notify,
    closed: AtomicBool,
    /// When the connection last moved data, in ms since `epoch`.
    activity_ms: AtomicU64,
    epoch: Instant,
}

#[derive(Default)]
struct Queue {
    chunks: VecDeque<Vec<u8>>,
    /// Bytes of the first chunk already written.
    offset: usize,
    bytes: usize,
}

impl Outgoing {
    fn new() -> Outgoing {
        Outgoing {
            stream: OnceLock::new(),
            queue: Mutex::new(Queue::default()),
            wake: Notify::new(),
            closed: AtomicBool::new(false),
            activity_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn touch(&self) {
        let ms = self.epoch.elapsed().as_millis() as u64;
        self.activity_ms.store(ms, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.activity_ms.load(Ordering::Relaxed));
        self.epoch.elapsed().saturating_sub(last)
    }

    /// Sends `data`: written at once when nothing is queued and the socket
    /// takes it, else (the rest) queued for the writer task.
    fn send(&self, data: &[u8]) -> io::Result<()> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(io::Error::from(io::ErrorKind::NotConnected));
        }
        let mut q = self.queue();
        let mut sent = 0;
        if q.chunks.is_empty() {
            if let Some(stream) = self.stream.get() {
                while sent < data.len() {
                    match stream.try_write(&data[sent..]) {
                        Ok(0) => break,
                        Ok(n) => sent += n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            drop(q);
                            self.close();
                            return Err(e);
                        }
                    }
                }
                if sent == data.len() {
                    self.touch();
                    return Ok(());
                }
            }
        }
        let rest = data.len() - sent;
        if q.bytes + rest > MAX_QUEUED {
            drop(q);
            self.close();
            return Err(io::Error::other("the peer does not read: too much queued"));
        }
        q.bytes += rest;
        q.chunks.push_back(data[sent..].to_vec());
        drop(q);
        self.wake.notify_one();
        Ok(())
    }

    /// Writes what is queued: `Ok(true)` once the queue is empty,
    /// `Ok(false)` when the socket is full.
    fn flush(&self, stream: &OwnedWriteHalf) -> io::Result<bool> {
        let mut q = self.queue();
        loop {
            let Some(front) = q.chunks.front() else {
                q.offset = 0;
                return Ok(true);
            };
            match stream.try_write(&front[q.offset..]) {
                Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => {
                    self.touch();
                    q.offset += n;
                    q.bytes -= n;
                    if q.offset == q.chunks.front().map_or(0, Vec::len) {
                        q.chunks.pop_front();
                        q.offset = 0;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        self.wake.notify_one();
    }
}

/// Which limit the next wait of a connection's reader ends at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Deadline {
    Idle,
    Message,
    FirstData,
}

/// What a read of a connection leads to.
enum Step {
    More,
    Close,
}

/// The reading side of one connection: the unfinished message, if any,
/// and the clocks of the guards.
struct ConnRead {
    id: u64,
    peer: SocketAddr,
    recv: RecvInfo,
    limits: Limits,
    /// The unfinished message's bytes received so far (empty, and
    /// holding no memory, between messages).
    pending: Vec<u8>,
    framer: Framer,
    /// When the first byte of the unfinished message came.
    message_since: Option<Instant>,
    /// When an accepted connection that has carried no message yet was
    /// accepted.
    waiting_first: Option<Instant>,
}

impl ConnRead {
    /// The earliest of the idle limit and the guards that apply now.
    fn deadline(&self, g: TcpGuards, idle: Duration, out: &Outgoing) -> (Instant, Deadline) {
        let now = Instant::now();
        let mut best = (
            now + idle
                .saturating_sub(out.idle_for())
                .max(Duration::from_millis(1)),
            Deadline::Idle,
        );
        let mut consider = |since: Option<Instant>, limit: Duration, why: Deadline| {
            if let Some(since) = since.filter(|_| !limit.is_zero()) {
                let at = since + limit;
                if at < best.0 {
                    best = (at, why);
                }
            }
        };
        consider(self.message_since, g.msg_read_timeout, Deadline::Message);
        consider(self.waiting_first, g.msg_data_timeout, Deadline::FirstData);
        best
    }

    /// Reads what the socket has and passes every complete message to
    /// `sink`, straight from the owner's read buffer when no message was
    /// left unfinished.
    fn read(
        &mut self,
        reader: &OwnedReadHalf,
        out: &Outgoing,
        sink: &dyn Fn(&[u8], RecvInfo),
    ) -> Step {
        SCRATCH.with(|scratch| {
            let Ok(mut scratch) = scratch.try_borrow_mut() else {
                // Only a sink that reads a connection itself could get
                // here; none does.
                log::error("tcp", format_args!("connection {}: nested read", self.id));
                return Step::Close;
            };
            let n = match reader.try_read(&mut scratch[..]) {
                Ok(0) => return Step::Close,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::More,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => return Step::More,
                Err(_) => return Step::Close,
            };
            out.touch();
            if self.pending.is_empty() {
                let data = &scratch[..n];
                let (used, step) = self.frames(data, out, sink);
                if used < data.len() && matches!(step, Step::More) {
                    self.pending.extend_from_slice(&data[used..]);
                    self.message_since = Some(Instant::now());
                }
                step
            } else {
                self.pending.extend_from_slice(&scratch[..n]);
                let pending = std::mem::take(&mut self.pending);
                let (used, step) = self.frames(&pending, out, sink);
                self.pending = pending;
                if used > 0 {
                    self.pending.drain(..used);
                    self.message_since = (!self.pending.is_empty()).then(Instant::now);
                }
                if self.pending.is_empty() && self.pending.capacity() > KEEP_PENDING {
                    self.pending = Vec::new();
                }
                step
            }
        })
    }

    /// Cuts the messages at the front of `data`: how many bytes were
    /// consumed, and whether the connection goes on.
    fn frames(
        &mut self,
        data: &[u8],
        out: &Outgoing,
        sink: &dyn Fn(&[u8], RecvInfo),
    ) -> (usize, Step) {
        let mut start = 0;
        loop {
            match self.framer.next(&data[start..], self.limits) {
                Frame::Incomplete => return (start, Step::More),
                Frame::Keepalive(k) => {
                    if k >= 4 {
                        // RFC 5626 §3.5.1: answer a double-CRLF ping.
                        let _ = out.send(b"\r\n");
                    }
                    start += k;
                }
                Frame::Complete(len) => {
                    self.waiting_first = None;
                    sink(&data[start..start + len], self.recv);
                    start += len;
                }
                Frame::Error(e) => {
                    let rest = &data[start..];
                    // A header section that is whole but announces a body
                    // that cannot be framed goes to the sink alone, which
                    // answers it (400) or drops it and logs, before the
                    // stream, out of step, is closed.
                    let answerable = matches!(
                        e.kind(),
                        ParseErrorKind::TooLarge
                            | ParseErrorKind::BadContentLength
                            | ParseErrorKind::ConflictingContentLength
                    );
                    match header_block_len(rest, self.limits).filter(|_| answerable) {
                        Some(head) => sink(&rest[..head], self.recv),
                        None => log::notice(
                            "tcp",
                            format_args!("closing connection {} from {}: {e}", self.id, self.peer),
                        ),
                    }
                    return (start, Step::Close);
                }
            }
        }
    }
}

/// The writer task of a connection: writes queued bytes as the socket
/// takes them.
async fn write_queued(out: Arc<Outgoing>, stream: Arc<OwnedWriteHalf>) {
    loop {
        if out.closed.load(Ordering::Relaxed) {
            return;
        }
        match out.flush(&stream) {
            Ok(true) => out.wake.notified().await,
            Ok(false) => {
                if stream.writable().await.is_err() {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    out.close();
}

impl TcpTransport {
    /// Binds every listen address and starts accepting; connections go to
    /// `owners` owners, whose [`Handoffs`] are returned (one per owner, in
    /// order). Binding errors are returned here, before anything runs.
    pub fn start(
        addrs: &[SocketAddr],
        limits: TcpLimits,
        owners: usize,
    ) -> io::Result<(Arc<TcpTransport>, Vec<Handoffs>)> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("kemid-tcp")
            .enable_all()
            .build()?;
        let mut listeners = Vec::new();
        for a in addrs {
            let std_listener = std::net::TcpListener::bind(a)?;
            std_listener.set_nonblocking(true)?;
            listeners.push(std_listener);
        }
        let locals = listeners
            .iter()
            .map(|l| l.local_addr())
            .collect::<io::Result<Vec<_>>>()?;
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..owners.max(1))
            .map(|_| mpsc::unbounded_channel())
            .unzip();
        let transport = Arc::new(TcpTransport {
            runtime,
            table: Mutex::new(Table::default()),
            next_id: AtomicU64::new(1),
            open: AtomicUsize::new(0),
            limits,
            guards: LiveGuards::new(TcpGuards::default()),
            locals,
            owners: senders,
        });
        for l in listeners {
            let t = Arc::clone(&transport);
            let _guard = transport.runtime.enter();
            let listener = TcpListener::from_std(l)?;
            transport
                .runtime
                .spawn(async move { t.accept_loop(listener).await });
        }
        Ok((transport, receivers.into_iter().map(Handoffs).collect()))
    }

    /// The bound listen addresses.
    pub fn locals(&self) -> &[SocketAddr] {
        &self.locals
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        // A panic while holding the lock cannot leave the table half
        // updated (every update is one insert or remove), so go on.
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Number of open connections.
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// The guards in force ([`TcpGuards::default`] until set).
    pub fn guards(&self) -> TcpGuards {
        self.guards.get()
    }

    /// Changes the guards; connections already open follow from their next
    /// read on, new ones from their accept.
    pub fn set_guards(&self, g: TcpGuards) {
        self.guards.set(g);
    }

    /// How many entries the connection bookkeeping holds.
    pub fn table_sizes(&self) -> TableSizes {
        let t = self.table();
        TableSizes {
            connections: t.by_id.len(),
            peers: t.by_peer.len(),
            accepting_addresses: t.accepted_from.len(),
            open: self.open_connections(),
        }
    }

    /// Hands a connection to the owner its id maps to; false when that
    /// owner is gone (the server is stopping).
    fn hand_off(&self, id: u64, h: Handoff) -> bool {
        let owner = &self.owners[id as usize % self.owners.len()];
        owner.send(h).is_ok()
    }

    async fn accept_loop(self: Arc<Self>, listener: TcpListener) {
        loop {
            match listener.accept().await {
                Ok((stream, peer)) => {
                    if self.open.load(Ordering::Relaxed) >= self.limits.max_connections {
                        log::warn(
                            "tcp",
                            format_args!("refusing a connection from {peer}: {} connections open (tcp_max_connections)", self.limits.max_connections),
                        );
                        drop(stream);
                        continue;
                    }
                    let std_stream = match stream.into_std() {
                        Ok(s) => s,
                        Err(e) => {
                            log::warn(
                                "tcp",
                                format_args!("dropping a connection from {peer}: {e}"),
                            );
                            continue;
                        }
                    };
                    let Some((id, out)) = self.register_accepted(peer) else {
                        log::warn(
                            "tcp",
                            format_args!(
                                "refusing a connection from {peer}: {} open from {} (tcp_accept_iplimit)",
                                self.guards.get().accept_iplimit,
                                peer.ip()
                            ),
                        );
                        drop(std_stream);
                        continue;
                    };
                    if !self.hand_off(id, Handoff::Accepted(std_stream, peer, id, out)) {
                        self.unregister(id);
                    }
                }
                Err(e) => {
                    log::error("tcp", format_args!("accept failed: {e}"));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    /// Registers a connection we open to `peer`.
    fn register(&self, peer: SocketAddr) -> (u64, Arc<Outgoing>) {
        let mut t = self.table();
        self.insert(&mut t, peer, false)
    }

    /// Registers a connection accepted from `peer`, unless its address
    /// already holds `tcp_accept_iplimit` of them.
    fn register_accepted(&self, peer: SocketAddr) -> Option<(u64, Arc<Outgoing>)> {
        let limit = self.guards.get().accept_iplimit;
        let mut t = self.table();
        let held = t.accepted_from.get(&peer.ip()).copied().unwrap_or(0);
        if limit > 0 && held >= limit {
            return None;
        }
        *t.accepted_from.entry(peer.ip()).or_insert(0) += 1;
        Some(self.insert(&mut t, peer, true))
    }

    fn insert(&self, t: &mut Table, peer: SocketAddr, accepted: bool) -> (u64, Arc<Outgoing>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let out = Arc::new(Outgoing::new());
        out.touch();
        t.by_id.insert(
            id,
            Conn {
                out: Arc::clone(&out),
                peer,
                accepted,
            },
        );
        t.by_peer.insert(peer, id);
        self.open.fetch_add(1, Ordering::Relaxed);
        (id, out)
    }

    fn unregister(&self, id: u64) {
        let mut t = self.table();
        if let Some(c) = t.by_id.remove(&id) {
            c.out.close();
            if t.by_peer.get(&c.peer) == Some(&id) {
                t.by_peer.remove(&c.peer);
            }
            if c.accepted {
                let ip = c.peer.ip();
                if let Some(n) = t.accepted_from.get_mut(&ip) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        t.accepted_from.remove(&ip);
                    }
                }
            }
            self.open.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Serves a connection handed to this owner until it closes, passing
    /// each message received to `sink`. Runs on the owner's
    /// single-threaded runtime, inside a `LocalSet`.
    pub async fn serve(self: Arc<Self>, h: Handoff, sink: &dyn Fn(&[u8], RecvInfo)) {
        match h {
            Handoff::Accepted(std_stream, peer, id, out) => {
                match TcpStream::from_std(std_stream) {
                    Ok(stream) => self.run_connection(stream, peer, id, out, true, sink).await,
                    Err(e) => log::warn("tcp", format_args!("connection from {peer} lost: {e}")),
                }
                self.unregister(id);
            }
            Handoff::Connect(dst, id, out) => {
                match tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(dst)).await {
                    Ok(Ok(stream)) => self.run_connection(stream, dst, id, out, false, sink).await,
                    Ok(Err(e)) => log::error("tcp", format_args!("cannot connect to {dst}: {e}")),
                    Err(_) => log::error("tcp", format_args!("connecting to {dst} timed out")),
                }
                self.unregister(id);
            }
        }
    }

    async fn run_connection(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        id: u64,
        out: Arc<Outgoing>,
        accepted: bool,
        sink: &dyn Fn(&[u8], RecvInfo),
    ) {
        let _ = stream.set_nodelay(true);
        let local = match stream.local_addr() {
            Ok(a) => a,
            Err(_) => return,
        };
        let (reader, writer) = stream.into_split();
        let writer = Arc::new(writer);
        if out.stream.set(Arc::clone(&writer)).is_err() {
            return;
        }
        let write_task = tokio::task::spawn_local(write_queued(Arc::clone(&out), writer));
        let mut conn = ConnRead {
            id,
            peer,
            recv: RecvInfo {
                proto: Proto::Tcp,
                src: peer,
                local,
                conn: Some(id),
            },
            limits: Limits {
                max_size: self.limits.max_message,
                ..Limits::default()
            },
            pending: Vec::new(),
            framer: Framer::default(),
            message_since: None,
            // Only a connection the peer opened has to prove it carries
            // SIP; on ours, we speak first.
            waiting_first: accepted.then(Instant::now),
        };
        while !out.closed.load(Ordering::Relaxed) {
            let (deadline, why) = conn.deadline(self.guards.get(), self.limits.idle, &out);
            match tokio::time::timeout_at(deadline.into(), reader.readable()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => break,
                Err(_) => match why {
                    Deadline::Idle if out.idle_for() < self.limits.idle => continue,
                    Deadline::Idle => {
                        log::debug(
                            "tcp",
                            format_args!("closing idle connection {id} to {peer}"),
                        );
                        break;
                    }
                    Deadline::Message => {
                        log::notice(
                            "tcp",
                            format_args!(
                                "closing connection {id} from {peer}: a message was not complete within tcp_msg_read_timeout ({} bytes pending)",
                                conn.pending.len()
                            ),
                        );
                        break;
                    }
                    Deadline::FirstData => {
                        log::notice(
                            "tcp",
                            format_args!(
                                "closing connection {id} from {peer}: no message within tcp_msg_data_timeout"
                            ),
                        );
                        break;
                    }
                },
            }
            match conn.read(&reader, &out, sink) {
                Step::More => {}
                Step::Close => break,
            }
        }
        out.close();
        write_task.abort();
    }

    /// Sends on connection `id`; false when it is not open (any more).
    fn send_on(&self, id: u64, data: &[u8]) -> bool {
        let out = self.table().by_id.get(&id).map(|c| Arc::clone(&c.out));
        out.is_some_and(|o| o.send(data).is_ok())
    }

    /// Sends `data` to `dst`: on connection `conn` when it is still open,
    /// else on an open connection to `dst`, else on a new connection.
    pub fn send(
        self: &Arc<Self>,
        dst: SocketAddr,
        conn: Option<u64>,
        data: &[u8],
    ) -> io::Result<()> {
        if let Some(id) = conn {
            if self.send_on(id, data) {
                return Ok(());
            }
        }
        let existing = self.table().by_peer.get(&dst).copied();
        if let Some(id) = existing {
            if self.send_on(id, data) {
                return Ok(());
            }
        }
        if self.open.load(Ordering::Relaxed) >= self.limits.max_connections {
            return Err(io::Error::other("tcp_max_connections reached"));
        }
        // Queued until connected.
        let (id, out) = self.register(dst);
        out.send(data)?;
        if !self.hand_off(id, Handoff::Connect(dst, id, out)) {
            self.unregister(id);
            return Err(io::Error::other("the server is stopping"));
        }
        Ok(())
    }
}
