//! A worker thread: owns one interpreter for its whole life and routes the
//! messages it reads (UDP) or is given (TCP) through it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use super::{route, Core, ScriptStore, UDP_POLL};
use crate::ctx::WorkerLocal;
use crate::engine::{ScriptError, ScriptHost};
use crate::log;
use crate::transport::udp::{is_timeout, UdpEndpoint};
use crate::transport::{Proto, RecvInfo};

/// Work handed to a queue-fed worker.
pub enum Job {
    Message(Vec<u8>, RecvInfo),
    /// Run the failure route of a transaction whose branches timed out.
    TmFailure(crate::tm::TxnRef),
    /// Look at the shutdown flag and the script version now.
    Wake,
}

/// Where a worker gets its messages.
pub enum Source {
    /// Reads a shared UDP socket itself.
    Udp(Arc<UdpEndpoint>),
    /// Is given messages (TCP) through a channel.
    Queue(mpsc::Receiver<Job>),
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
    pub fn run(self, ready: mpsc::Sender<Result<(), ScriptError>>) {
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
        let mut buf = vec![0u8; 65536];
        while !self.shutdown.load(Ordering::Acquire) {
            self.follow_reload(&mut host, &mut local);
            match &self.source {
                Source::Udp(ep) => match ep.recv(&mut buf) {
                    Ok((n, src)) => {
                        // A reload published while this worker waited
                        // applies to this message already.
                        self.follow_reload(&mut host, &mut local);
                        self.count_message();
                        let recv = RecvInfo {
                            proto: Proto::Udp,
                            src,
                            local: ep.local(),
                            conn: None,
                        };
                        route::handle(&self.core, &mut host, &mut local, &buf[..n], recv);
                    }
                    Err(e) if is_timeout(&e) => {}
                    Err(e) => {
                        // ICMP errors from earlier sends surface here on
                        // some systems; they concern no message in hand.
                        log::debug("udp", format_args!("receive error: {e}"));
                    }
                },
                Source::Queue(rx) => match rx.recv_timeout(UDP_POLL) {
                    Ok(Job::Message(bytes, recv)) => {
                        self.follow_reload(&mut host, &mut local);
                        self.count_message();
                        route::handle(&self.core, &mut host, &mut local, &bytes, recv);
                    }
                    Ok(Job::TmFailure(txn)) => {
                        self.follow_reload(&mut host, &mut local);
                        route::tm_failure_job(&self.core, &mut host, &mut local, &txn);
                    }
                    Ok(Job::Wake) | Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                },
            }
        }
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
