//! The server: binds the transports, starts the workers, and routes each
//! received message through the script.
//!
//! [`Core`] is what exports reach through [`CoreServices`]: the sockets,
//! who "myself" is, the Server header. [`ScriptStore`] holds the routing
//! script and its version; a worker that sees a newer version loads it in a
//! fresh interpreter before its next message.

pub mod core;
mod route;
mod worker;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

pub use self::core::{Core, Stats};

use crate::config::Config;
use crate::ctx::WorkerLocal;
use crate::engine::{self, EngineConfig, Lang, ScriptError, ScriptSource};
use crate::log;
use crate::transport::tcp::{TcpLimits, TcpTransport};
use crate::transport::udp::UdpEndpoint;
use crate::transport::Proto;

/// The configuration `kemid run` serves without `-f`.
pub const BUILTIN_CONFIG: &str = include_str!("builtin/kemid.cfg");
/// The routing script of the built-in configuration.
pub const BUILTIN_SCRIPT: &str = include_str!("builtin/default.js");
/// The name the built-in configuration is reported under.
pub const BUILTIN_CONFIG_NAME: &str = "<built-in>/kemid.cfg";

/// How long an idle UDP worker waits in `recv_from` before it looks for a
/// reload or a shutdown.
const UDP_POLL: Duration = Duration::from_millis(100);

/// The routing script every worker runs, with its version.
pub struct ScriptStore {
    lang: Lang,
    pub(crate) engine: EngineConfig,
    version: AtomicU64,
    source: RwLock<Arc<ScriptSource>>,
}

impl ScriptStore {
    pub fn new(lang: Lang, engine: EngineConfig, source: ScriptSource) -> ScriptStore {
        ScriptStore {
            lang,
            engine,
            version: AtomicU64::new(1),
            source: RwLock::new(Arc::new(source)),
        }
    }

    pub fn lang(&self) -> Lang {
        self.lang
    }

    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// The current source and its version.
    pub fn current(&self) -> (Arc<ScriptSource>, u64) {
        let src = self.source.read().unwrap_or_else(|p| p.into_inner());
        (Arc::clone(&src), self.version())
    }

    /// Checks `source` in a scratch interpreter (compile and top level) and
    /// only then publishes it: workers switch before their next message.
    /// Returns the old and new versions.
    pub fn publish(&self, source: ScriptSource) -> Result<(u64, u64), ScriptError> {
        let mut scratch = WorkerLocal::default();
        engine::load(self.lang, &source, &self.engine, &mut scratch)?;
        let mut slot = self.source.write().unwrap_or_else(|p| p.into_inner());
        *slot = Arc::new(source);
        let old = self.version.fetch_add(1, Ordering::AcqRel);
        Ok((old, old + 1))
    }
}

/// Why the server could not start.
#[derive(Debug)]
pub enum StartError {
    Script(ScriptError),
    Bind(SocketAddr, Proto, io::Error),
    /// A module's init failed.
    Module(String),
    Io(io::Error),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Script(e) => write!(f, "the routing script cannot be loaded: {e}"),
            StartError::Bind(a, p, e) => write!(f, "cannot listen on {}:{a}: {e}", p.name()),
            StartError::Module(e) => write!(f, "{e}"),
            StartError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// A running server.
/// See [`Server::stopper`].
#[derive(Clone)]
pub struct Stopper {
    shutdown: Arc<AtomicBool>,
    queues: Vec<tokio::sync::mpsc::Sender<worker::Job>>,
}

impl Stopper {
    /// Asks every worker to stop after its current message.
    pub fn stop(&self) {
        self.shutdown.store(true, Ordering::Release);
        for q in &self.queues {
            let _ = q.try_send(worker::Job::Wake);
        }
    }
}

pub struct Server {
    core: Arc<Core>,
    store: Arc<ScriptStore>,
    shutdown: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
    tcp_queues: Vec<tokio::sync::mpsc::Sender<worker::Job>>,
}

impl Server {
    /// Starts serving `config` with `script`. Returns once every worker has
    /// loaded the script.
    pub fn start(config: &Config, script: ScriptSource) -> Result<Server, StartError> {
        log::set_level(config.core.debug);
        for n in &config.notices {
            log::notice("config", format_args!("{n}"));
        }
        let engine_config = EngineConfig {
            loaded_modules: config.modules.clone(),
            ..EngineConfig::default()
        };
        let store = Arc::new(ScriptStore::new(config.engine, engine_config, script));
        // Load once here so a broken script fails start-up with its error,
        // before any socket is bound.
        {
            let (src, _) = store.current();
            let mut scratch = WorkerLocal::default();
            engine::load(store.lang, &src, &store.engine, &mut scratch)
                .map_err(StartError::Script)?;
        }

        let listens = core::listen_addresses(config);
        let mut udp = Vec::new();
        for &(proto, addr, _) in &listens {
            if proto == Proto::Udp {
                let ep = UdpEndpoint::bind(addr, UDP_POLL, config.core.udp_rcvbuf)
                    .map_err(|e| StartError::Bind(addr, proto, e))?;
                if let Ok(got) = ep.recv_buffer() {
                    log::debug(
                        "udp",
                        format_args!(
                            "{addr}: receive buffer {got} bytes (maxbuffer {})",
                            config.core.udp_rcvbuf
                        ),
                    );
                }
                udp.push(Arc::new(ep));
            }
        }
        let children = config.core.children;
        let tcp_addrs: Vec<SocketAddr> = listens
            .iter()
            .filter(|(p, _, _)| *p == Proto::Tcp)
            .map(|&(_, a, _)| a)
            .collect();
        // Queue-fed workers own the TCP connections (each serves its own,
        // reading and routing them on its thread) and take jobs such as a
        // failure route after a timeout: `children` of them with TCP, else
        // one.
        let mut tcp_queues = Vec::new();
        let mut tcp_receivers = Vec::new();
        let queue_workers = if tcp_addrs.is_empty() { 1 } else { children };
        for _ in 0..queue_workers {
            let (tx, rx) = tokio::sync::mpsc::channel::<worker::Job>(1024);
            tcp_queues.push(tx);
            tcp_receivers.push(rx);
        }
        let (tcp, mut handoffs) = if tcp_addrs.is_empty() {
            (None, Vec::new())
        } else {
            let limits = TcpLimits {
                max_connections: config.core.tcp_max_connections as usize,
                idle: Duration::from_secs(u64::from(config.core.tcp_connection_lifetime.max(1))),
                max_message: config.core.max_message_size,
            };
            let (t, h) = TcpTransport::start(&tcp_addrs, limits, queue_workers)
                .map_err(|e| StartError::Bind(tcp_addrs[0], Proto::Tcp, e))?;
            t.set_guards(config.core.tcp_guards());
            (Some(t), h)
        };
        let mut names = Vec::new();
        for (i, ep) in udp.iter().enumerate() {
            for c in 0..children {
                names.push(format!("udp{i}-{c} ({})", ep.local()));
            }
        }
        for c in 0..tcp_receivers.len() {
            names.push(format!("queue-{c}"));
        }
        let mut started = Ok(());
        let core = Arc::new_cyclic(|me| {
            let (core, result) = Core::new(config, udp, tcp, &listens, names, me);
            started = result;
            core
        });
        started.map_err(StartError::Module)?;
        core.loaded_modules().start_timers();
        core.set_job_queues(tcp_queues.clone());
        let shutdown = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), ScriptError>>();
        let mut workers = Vec::new();
        let mut index = 0;
        let mut spawn = |name: String, source: worker::Source| -> Result<(), StartError> {
            let w = worker::Worker::new(
                Arc::clone(&core),
                Arc::clone(&store),
                Arc::clone(&shutdown),
                source,
                index,
            );
            index += 1;
            let ready = ready_tx.clone();
            let handle = std::thread::Builder::new()
                .name(name)
                .spawn(move || w.run(ready))
                .map_err(StartError::Io)?;
            workers.push(handle);
            Ok(())
        };
        for (i, ep) in core.udp_endpoints().iter().enumerate() {
            for c in 0..children {
                spawn(
                    format!("kemid-udp{i}-{c}"),
                    worker::Source::Udp(Arc::clone(ep)),
                )?;
            }
        }
        handoffs.reverse();
        for (c, rx) in tcp_receivers.into_iter().enumerate() {
            let tcp = core.tcp().cloned().zip(handoffs.pop());
            spawn(
                format!("kemid-tcp-{c}"),
                worker::Source::Queue { jobs: rx, tcp },
            )?;
        }
        drop(ready_tx);
        for _ in 0..workers.len() {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(StartError::Script(e)),
                Err(_) => break,
            }
        }
        for (proto, addr) in core.bound() {
            log::info("core", format_args!("listening on {}:{addr}", proto.name()));
        }
        Ok(Server {
            core,
            store,
            shutdown,
            workers,
            tcp_queues,
        })
    }

    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    pub fn script(&self) -> &Arc<ScriptStore> {
        &self.store
    }

    /// The addresses actually bound (useful with port 0).
    pub fn bound(&self) -> Vec<(Proto, SocketAddr)> {
        self.core.bound()
    }

    /// Asks every worker to stop and waits for them, then lets the modules
    /// shut down.
    pub fn stop(mut self) {
        self.stopper().stop();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        self.core.loaded_modules().shutdown();
    }

    /// A handle another thread (a signal handler) uses to make the server
    /// stop; [`Server::wait`] then returns once every worker has finished
    /// the message it was handling.
    pub fn stopper(&self) -> Stopper {
        Stopper {
            shutdown: Arc::clone(&self.shutdown),
            queues: self.tcp_queues.clone(),
        }
    }

    /// Blocks until the workers end (they end on shutdown only), then lets
    /// the modules shut down.
    pub fn wait(mut self) {
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        self.core.loaded_modules().shutdown();
    }
}
