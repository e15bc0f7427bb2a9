//! TCP: accepted and opened connections, on a small tokio runtime.
//!
//! Each connection has a reader task that cuts messages out of the stream
//! by Content-Length ([`crate::sip::frame`]) and hands each one, with the
//! connection's id, to the sink the server gave; and a writer task fed by a
//! channel, so worker threads send without blocking on the socket. Replies
//! and in-dialog requests reuse a connection: by id when the message came
//! on it, else by the peer's address. Connections idle for the configured
//! lifetime are closed; past the connection limit new ones are refused.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::{Proto, RecvInfo};
use crate::log;
use crate::sip::{Frame, Framer, Limits};

/// Limits of the TCP transport.
#[derive(Clone, Copy, Debug)]
pub struct TcpLimits {
    pub max_connections: usize,
    /// Close a connection with no traffic for this long.
    pub idle: Duration,
    /// The largest message accepted.
    pub max_message: usize,
}

/// Where received messages go: the bytes of one message and its origin.
pub type Sink = Arc<dyn Fn(Vec<u8>, RecvInfo) + Send + Sync>;

struct Conn {
    tx: mpsc::UnboundedSender<Vec<u8>>,
    peer: SocketAddr,
}

#[derive(Default)]
struct Table {
    by_id: HashMap<u64, Conn>,
    by_peer: HashMap<SocketAddr, u64>,
}

/// The running TCP transport.
pub struct TcpTransport {
    runtime: tokio::runtime::Runtime,
    table: Mutex<Table>,
    next_id: AtomicU64,
    open: AtomicUsize,
    limits: TcpLimits,
    sink: Sink,
    locals: Vec<SocketAddr>,
}

impl TcpTransport {
    /// Binds every listen address, then serves them. Binding errors are
    /// returned here, before anything runs.
    pub fn start(
        addrs: &[SocketAddr],
        limits: TcpLimits,
        sink: Sink,
    ) -> io::Result<Arc<TcpTransport>> {
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
        let transport = Arc::new(TcpTransport {
            runtime,
            table: Mutex::new(Table::default()),
            next_id: AtomicU64::new(1),
            open: AtomicUsize::new(0),
            limits,
            sink,
            locals,
        });
        for l in listeners {
            let t = Arc::clone(&transport);
            let _guard = transport.runtime.enter();
            let listener = TcpListener::from_std(l)?;
            transport
                .runtime
                .spawn(async move { t.accept_loop(listener).await });
        }
        Ok(transport)
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
                    let t = Arc::clone(&self);
                    tokio::spawn(async move { t.serve(stream, peer).await });
                }
                Err(e) => {
                    log::error("tcp", format_args!("accept failed: {e}"));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn register(&self, peer: SocketAddr) -> (u64, mpsc::UnboundedReceiver<Vec<u8>>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        let mut t = self.table();
        t.by_id.insert(id, Conn { tx, peer });
        t.by_peer.insert(peer, id);
        self.open.fetch_add(1, Ordering::Relaxed);
        (id, rx)
    }

    fn unregister(&self, id: u64) {
        let mut t = self.table();
        if let Some(c) = t.by_id.remove(&id) {
            if t.by_peer.get(&c.peer) == Some(&id) {
                t.by_peer.remove(&c.peer);
            }
            self.open.fetch_sub(1, Ordering::Relaxed);
        }
    }

    async fn serve(self: Arc<Self>, stream: TcpStream, peer: SocketAddr) {
        let (id, rx) = self.register(peer);
        self.run_connection(stream, peer, id, rx).await;
        self.unregister(id);
    }

    async fn run_connection(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        id: u64,
        mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    ) {
        let _ = stream.set_nodelay(true);
        let local = match stream.local_addr() {
            Ok(a) => a,
            Err(_) => return,
        };
        let (mut reader, mut writer) = stream.into_split();
        let last_activity = Arc::new(Mutex::new(Instant::now()));
        let writer_activity = Arc::clone(&last_activity);
        let write_task = tokio::spawn(async move {
            while let Some(data) = rx.recv().await {
                if writer.write_all(&data).await.is_err() {
                    break;
                }
                if let Ok(mut t) = writer_activity.lock() {
                    *t = Instant::now();
                }
            }
        });
        let limits = Limits {
            max_size: self.limits.max_message,
            ..Limits::default()
        };
        let mut buf: Vec<u8> = Vec::with_capacity(4096);
        let mut framer = Framer::default();
        let mut chunk = vec![0u8; 16 * 1024];
        'read: loop {
            let n = match tokio::time::timeout(self.limits.idle, reader.read(&mut chunk)).await {
                Ok(Ok(0)) => break,
                Ok(Ok(n)) => n,
                Ok(Err(_)) => break,
                Err(_) => {
                    let idle_for = last_activity
                        .lock()
                        .map(|t| t.elapsed())
                        .unwrap_or_default();
                    if idle_for >= self.limits.idle {
                        log::debug(
                            "tcp",
                            format_args!("closing idle connection {id} to {peer}"),
                        );
                        break;
                    }
                    continue;
                }
            };
            if let Ok(mut t) = last_activity.lock() {
                *t = Instant::now();
            }
            buf.extend_from_slice(&chunk[..n]);
            loop {
                match framer.next(&buf, limits) {
                    Frame::Incomplete => break,
                    Frame::Keepalive(k) => {
                        if k >= 4 {
                            // RFC 5626 §3.5.1: answer a double-CRLF ping.
                            self.send_on(id, b"\r\n".to_vec());
                        }
                        buf.drain(..k);
                    }
                    Frame::Complete(len) => {
                        let msg: Vec<u8> = buf.drain(..len).collect();
                        (self.sink)(
                            msg,
                            RecvInfo {
                                proto: Proto::Tcp,
                                src: peer,
                                local,
                                conn: Some(id),
                            },
                        );
                    }
                    Frame::Error(e) => {
                        log::warn(
                            "tcp",
                            format_args!("closing connection {id} from {peer}: {e}"),
                        );
                        break 'read;
                    }
                }
            }
        }
        write_task.abort();
    }

    fn send_on(&self, id: u64, data: Vec<u8>) -> bool {
        self.table()
            .by_id
            .get(&id)
            .is_some_and(|c| c.tx.send(data).is_ok())
    }

    /// Queues `data` for `dst`: on connection `conn` when it is still open,
    /// else on an open connection to `dst`, else on a new connection.
    pub fn send(
        self: &Arc<Self>,
        dst: SocketAddr,
        conn: Option<u64>,
        data: &[u8],
    ) -> io::Result<()> {
        if let Some(id) = conn {
            if self.send_on(id, data.to_vec()) {
                return Ok(());
            }
        }
        let existing = self.table().by_peer.get(&dst).copied();
        if let Some(id) = existing {
            if self.send_on(id, data.to_vec()) {
                return Ok(());
            }
        }
        if self.open.load(Ordering::Relaxed) >= self.limits.max_connections {
            return Err(io::Error::other("tcp_max_connections reached"));
        }
        let (id, rx) = self.register(dst);
        self.send_on(id, data.to_vec());
        let t = Arc::clone(self);
        self.runtime.spawn(async move {
            match tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(dst)).await {
                Ok(Ok(stream)) => t.run_connection(stream, dst, id, rx).await,
                Ok(Err(e)) => log::error("tcp", format_args!("cannot connect to {dst}: {e}")),
                Err(_) => log::error("tcp", format_args!("connecting to {dst} timed out")),
            }
            t.unregister(id);
        });
        Ok(())
    }
}
