//! A worker thread: owns one interpreter for its whole life and routes the
//! messages it reads (UDP) or is given (TCP) through it.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use super::{route, Core, ScriptStore, UDP_POLL};
use crate::ctx::WorkerLocal;
use crate::engine::{ScriptError, ScriptHost};
use crate::log;
use crate::transport::tcp::{Handoffs, TcpTransport};
use crate::transport::udp::{is_timeout, UdpEndpoint};
use crate::transport::{Proto, RecvInfo};

/// Work handed to a queue-fed worker.
pub enum Job {
    /// Run the failure route of a transaction whose branches timed out.
    TmFailure(crate::tm::TxnRef),
    /// Look at the shutdown flag and the script version now.
    Wake,
}

/// Where a worker gets its messages.
pub enum Source {
    /// Reads a shared UDP socket itself.
    Udp(Arc<UdpEndpoint>),
    /// Takes jobs from a channel and serves the TCP connections handed to
    /// it, on a single-threaded runtime of its own.
    Queue {
        jobs: tokio::sync::mpsc::Receiver<Job>,
        tcp: Option<(Arc<TcpTransport>, Handoffs)>,
    },
    /// Taken over by the serving loop.
    Detached,
}

pub struct Worker {
    core: Arc<Core>,
    store: Arc<ScriptStore>,
    shutdown: Arc<AtomicBool>,
    source: Source,
    /// This worker's slot in `Core::workers`.
    index: usize,
}

impl Worker {
    pub fn new(
        core: Arc<Core>,
        store: Arc<ScriptStore>,
        shutdown: Arc<AtomicBool>,
        source: Source,
        index: usize,
    ) -> Worker {
        Worker {
            core,
            store,
            shutdown,
            source,
            index,
        }
    }

    fn info(&self) -> Option<&crate::server::core::WorkerInfo> {
        self.core.workers().get(self.index)
    }

    fn publish_version(&self, version: u64) {
        if let Some(w) = self.info() {
            w.version.store(version, Ordering::Release);
        }
    }

    fn count_message(&self) {
        if let Some(w) = self.info() {
            w.handled.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Loads the script, reports on `ready`, then serves until shutdown.
    pub fn run(mut self, ready: mpsc::Sender<Result<(), ScriptError>>) {
        let mut local = WorkerLocal::default();
        let (source, version) = self.store.current();
        let mut host = match ScriptHost::new(
            self.store.lang(),
            &source,
            self.store.engine.clone(),
            &mut local,
        ) {
            Ok(h) => h,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        host.set_version(version);
        self.publish_version(version);
        let _ = ready.send(Ok(()));
        let source = std::mem::replace(&mut self.source, Source::Detached);
        match source {
            Source::Udp(ep) => self.serve_udp(&ep, &mut host, &mut local),
            Source::Queue { jobs, tcp } => self.serve_queue(jobs, tcp, host, local),
            Source::Detached => {}
        }
    }

    /// Reads and routes datagrams until shutdown.
    fn serve_udp(&self, ep: &UdpEndpoint, host: &mut ScriptHost, local: &mut WorkerLocal) {
        let mut buf = vec![0u8; 65536];
        while !self.shutdown.load(Ordering::Acquire) {
            self.follow_reload(host, local);
            match ep.recv(&mut buf) {
                Ok((n, src)) => {
                    // A reload published while this worker waited applies
                    // to this message already.
                    self.follow_reload(host, local);
                    self.count_message();
                    let recv = RecvInfo {
                        proto: Proto::Udp,
                        src,
                        local: ep.local(),
                        conn: None,
                    };
                    route::handle(&self.core, host, local, &buf[..n], recv);
                }
                Err(e) if is_timeout(&e) => {}
                Err(e) => {
                    // ICMP errors from earlier sends surface here on some
                    // systems; they concern no message in hand.
                    log::debug("udp", format_args!("receive error: {e}"));
                }
            }
        }
    }

    /// Runs jobs and serves the TCP connections handed to this worker
    /// until shutdown. Connections are tasks on this thread's runtime; a
    /// message is routed inside its connection's task, so the script runs
    /// here, on the thread that owns the interpreter.
    fn serve_queue(
        self,
        mut jobs: tokio::sync::mpsc::Receiver<Job>,
        tcp: Option<(Arc<TcpTransport>, Handoffs)>,
        host: ScriptHost,
        local: WorkerLocal,
    ) {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                log::error("core", format_args!("a TCP worker cannot start: {e}"));
                return;
            }
        };
        let me = Rc::new(self);
        let state = Rc::new(RefCell::new((host, local)));
        let tasks = tokio::task::LocalSet::new();
        let (transport, mut handoffs) = match tcp {
            Some((t, h)) => (Some(t), Some(h)),
            None => (None, None),
        };
        tasks.block_on(&runtime, async {
            while !me.shutdown.load(Ordering::Acquire) {
                {
                    let mut s = state.borrow_mut();
                    let (host, local) = &mut *s;
                    me.follow_reload(host, local);
                }
                tokio::select! {
                    job = jobs.recv() => match job {
                        Some(Job::TmFailure(txn)) => {
                            let mut s = state.borrow_mut();
                            let (host, local) = &mut *s;
                            me.follow_reload(host, local);
                            route::tm_failure_job(&me.core, host, local, &txn);
                        }
                        Some(Job::Wake) => {}
                        None => break,
                    },
                    Some(h) = next_handoff(&mut handoffs) => {
                        if let Some(t) = transport.clone() {
                            let me = Rc::clone(&me);
                            let state = Rc::clone(&state);
                            tokio::task::spawn_local(async move {
                                let sink = |msg: &[u8], recv: RecvInfo| {
                                    // A message is routed whole before the
                                    // next is read: no borrow is held across
                                    // an await.
                                    let mut s = state.borrow_mut();
                                    let (host, local) = &mut *s;
                                    me.follow_reload(host, local);
                                    me.count_message();
                                    route::handle(&me.core, host, local, msg, recv);
                                };
                                t.serve(h, &sink).await;
                            });
                        }
                    }
                    _ = tokio::time::sleep(UDP_POLL) => {}
                }
            }
        });
    }

    /// Switches to a newer published script before the next message.
    fn follow_reload(&self, host: &mut ScriptHost, local: &mut WorkerLocal) {
        if self.store.version() == host.version() {
            return;
        }
        let (source, version) = self.store.current();
        match host.reload(&source, version, local) {
            Ok(()) => log::debug(
                "core",
                format_args!("worker switched to script version {version}"),
            ),
            Err(e) => {
                // The store only publishes scripts that loaded; keep the
                // old one and do not retry this version.
                host.set_version(version);
                log::error(
                    "core",
                    format_args!("worker keeps its script: version {version} failed to load: {e}"),
                );
            }
        }
        self.publish_version(version);
    }
}

/// The next connection handed to this worker; pending forever without TCP.
async fn next_handoff(h: &mut Option<Handoffs>) -> Option<crate::transport::tcp::Handoff> {
    match h {
        Some(h) => h.next().await,
        None => std::future::pending().await,
    }
}
