//! The services the server gives exports: sending, "myself", the Server
//! header, advertised addresses; and the counters.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::config::Config;
use crate::ctx::CoreServices;
use crate::transport::tcp::TcpTransport;
use crate::transport::udp::UdpEndpoint;
use crate::transport::Proto;

/// Counters, readable at any time.
#[derive(Debug, Default)]
pub struct Stats {
    pub rcv_requests: AtomicU64,
    pub rcv_replies: AtomicU64,
    pub fwd_replies: AtomicU64,
    pub sent: AtomicU64,
    pub send_errors: AtomicU64,
    pub drops: AtomicU64,
    pub bad_messages: AtomicU64,
    pub script_errors: AtomicU64,
}

impl Stats {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// What the control plane sees of one worker thread.
#[derive(Debug)]
pub struct WorkerInfo {
    pub name: String,
    /// The script version it runs.
    pub version: AtomicU64,
    /// Messages it handled.
    pub handled: AtomicU64,
}

/// A listening socket as configured: protocol, address, advertised name.
pub type ListenSpec = (Proto, SocketAddr, Option<(String, Option<u16>)>);

/// Expands `listen=` entries into one (proto, address) per socket.
pub fn listen_addresses(config: &Config) -> Vec<ListenSpec> {
    let core = &config.core;
    let mut out = Vec::new();
    let protos = |p: Option<Proto>| -> Vec<Proto> {
        match p {
            Some(p) => vec![p],
            None if core.disable_tcp => vec![Proto::Udp],
            None => vec![Proto::Udp, Proto::Tcp],
        }
    };
    if core.listen.is_empty() {
        let any = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), core.port);
        for p in protos(None) {
            out.push((p, any, None));
        }
    }
    for l in &core.listen {
        for p in protos(l.proto) {
            if p == Proto::Tcp && core.disable_tcp {
                continue;
            }
            out.push((
                p,
                SocketAddr::new(l.addr, l.port.unwrap_or(core.port)),
                l.advertise.clone(),
            ));
        }
    }
    out
}

/// The server's shared services.
pub struct Core {
    udp: Vec<Arc<UdpEndpoint>>,
    tcp: Option<Arc<TcpTransport>>,
    /// Bound sockets with what they advertise.
    sockets: Vec<ListenSpec>,
    aliases: Vec<(String, Option<u16>)>,
    server_header: Option<String>,
    pub stats: Stats,
    pub kemi: crate::config::KemiCallbacks,
    workers: Vec<WorkerInfo>,
    /// The loaded modules with their state.
    modules: Arc<crate::module::Modules>,
    /// The transaction layer (the tm module's state), kept here for the
    /// routes the server drives.
    tm: Option<Arc<crate::tm::Tm>>,
    /// The queues of the workers that take jobs (failure routes after
    /// timeouts), set once they exist.
    jobs: std::sync::OnceLock<Vec<tokio::sync::mpsc::Sender<super::worker::Job>>>,
}

fn split_alias(a: &str) -> (String, Option<u16>) {
    match a.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') || h.ends_with(']') => (
            h.trim_matches(['[', ']']).to_ascii_lowercase(),
            p.parse().ok(),
        ),
        _ => (a.trim_matches(['[', ']']).to_ascii_lowercase(), None),
    }
}

impl Core {
    pub fn new(
        config: &Config,
        udp: Vec<Arc<UdpEndpoint>>,
        tcp: Option<Arc<TcpTransport>>,
        listens: &[ListenSpec],
        worker_names: Vec<String>,
        me: &std::sync::Weak<Core>,
    ) -> (Core, Result<(), String>) {
        // Record the real bound addresses (port 0 becomes the port given).
        let mut sockets = Vec::new();
        for ep in &udp {
            let adv = listens
                .iter()
                .find(|(p, a, _)| *p == Proto::Udp && a.ip() == ep.local().ip())
                .and_then(|(_, _, adv)| adv.clone());
            sockets.push((Proto::Udp, ep.local(), adv));
        }
        if let Some(t) = &tcp {
            for &local in t.locals() {
                let adv = listens
                    .iter()
                    .find(|(p, a, _)| *p == Proto::Tcp && a.ip() == local.ip())
                    .and_then(|(_, _, adv)| adv.clone());
                sockets.push((Proto::Tcp, local, adv));
            }
        }
        let server_header =
            if config.core.server_signature {
                Some(
                    config.core.server_header.clone().unwrap_or_else(|| {
                        format!("Server: kemid ({})", env!("CARGO_PKG_VERSION"))
                    }),
                )
            } else {
                None
            };
        let env: std::sync::Weak<dyn crate::tm::TmEnv> = me.clone();
        let (modules, started) = match crate::module::Modules::start(config, Some(&env)) {
            Ok(m) => (m, Ok(())),
            Err(e) => (crate::module::Modules::none(), Err(e)),
        };
        let tm = modules.service::<Arc<crate::tm::Tm>>("tm").cloned();
        let core = Core {
            udp,
            tcp,
            sockets,
            aliases: config.core.aliases.iter().map(|a| split_alias(a)).collect(),
            server_header,
            stats: Stats::default(),
            kemi: config.kemi.clone(),
            workers: worker_names
                .into_iter()
                .map(|name| WorkerInfo {
                    name,
                    version: AtomicU64::new(0),
                    handled: AtomicU64::new(0),
                })
                .collect(),
            modules: Arc::new(modules),
            tm,
            jobs: std::sync::OnceLock::new(),
        };
        (core, started)
    }

    /// The loaded modules.
    pub fn loaded_modules(&self) -> &Arc<crate::module::Modules> {
        &self.modules
    }

    /// Gives the core the queues of the job-taking workers.
    pub fn set_job_queues(&self, queues: Vec<tokio::sync::mpsc::Sender<super::worker::Job>>) {
        let _ = self.jobs.set(queues);
    }

    /// The TCP transport, when the configuration listens on TCP.
    pub fn tcp(&self) -> Option<&Arc<TcpTransport>> {
        self.tcp.as_ref()
    }

    /// The transaction service, when tm is loaded.
    pub fn tm_service(&self) -> Option<&Arc<crate::tm::Tm>> {
        self.tm.as_ref()
    }

    /// The worker threads, in start order.
    pub fn workers(&self) -> &[WorkerInfo] {
        &self.workers
    }

    /// How many workers do not run script version `version` yet.
    pub fn workers_behind(&self, version: u64) -> usize {
        self.workers
            .iter()
            .filter(|w| w.version.load(Ordering::Acquire) < version)
            .count()
    }

    pub fn udp_endpoints(&self) -> &[Arc<UdpEndpoint>] {
        &self.udp
    }

    /// Every bound socket.
    pub fn bound(&self) -> Vec<(Proto, SocketAddr)> {
        self.sockets.iter().map(|(p, a, _)| (*p, *a)).collect()
    }

    /// The UDP socket to send to `dst` from: one of the same address
    /// family, the first one otherwise.
    fn udp_for(&self, dst: SocketAddr) -> Option<&UdpEndpoint> {
        self.udp
            .iter()
            .find(|e| e.local().is_ipv4() == dst.is_ipv4())
            .or_else(|| self.udp.first())
            .map(|e| &**e)
    }
}

impl crate::tm::TmEnv for Core {
    fn send(&self, target: crate::tm::Target, data: &[u8]) -> io::Result<()> {
        CoreServices::send(self, target.proto, target.addr, target.conn, data)
    }

    fn via_address(&self, proto: Proto, local: SocketAddr) -> (String, u16) {
        self.advertised(proto, local)
    }

    fn server_header(&self) -> Option<String> {
        self.server_header.clone()
    }

    fn post_failure(&self, txn: crate::tm::TxnRef) {
        let Some(queues) = self.jobs.get().filter(|q| !q.is_empty()) else {
            crate::log::error(
                "tm",
                format_args!("no worker takes jobs: a failure route after a timeout cannot run"),
            );
            return;
        };
        let i = (crate::tm::lock(&txn).id as usize) % queues.len();
        if queues[i]
            .try_send(super::worker::Job::TmFailure(txn))
            .is_err()
        {
            crate::log::error(
                "tm",
                format_args!("worker queue full: a failure route after a timeout was not run"),
            );
        }
    }
}

impl CoreServices for Core {
    fn tm(&self) -> Option<&Arc<crate::tm::Tm>> {
        self.tm.as_ref()
    }

    fn is_myself(&self, host: &str, port: Option<u16>, proto: Option<Proto>) -> bool {
        let bare = host.trim_matches(['[', ']']);
        let ip: Option<IpAddr> = bare.parse().ok();
        let port_ok = |p: u16| port.is_none_or(|want| want == p);
        let proto_ok = |p: Proto| proto.is_none_or(|want| want == p);
        let socket_match = self.sockets.iter().any(|(p, a, adv)| {
            proto_ok(*p)
                && (port_ok(a.port())
                    && ip.is_some_and(|ip| {
                        ip == a.ip() || a.ip().is_unspecified() && ip.is_loopback()
                    })
                    || adv.as_ref().is_some_and(|(h, ap)| {
                        h.trim_matches(['[', ']']).eq_ignore_ascii_case(bare)
                            && port_ok(ap.unwrap_or(a.port()))
                    }))
        });
        socket_match
            || self.aliases.iter().any(|(h, p)| {
                h.eq_ignore_ascii_case(bare)
                    && match (p, port) {
                        (Some(ap), Some(want)) => *ap == want,
                        (None, Some(want)) => self.sockets.iter().any(|(_, a, _)| a.port() == want),
                        _ => true,
                    }
            })
    }

    fn send(
        &self,
        proto: Proto,
        dst: SocketAddr,
        conn: Option<u64>,
        data: &[u8],
    ) -> io::Result<()> {
        let r = match proto {
            Proto::Udp => match self.udp_for(dst) {
                Some(ep) => ep.send(data, dst),
                None => Err(io::Error::other("no UDP socket to send from")),
            },
            Proto::Tcp => match &self.tcp {
                Some(t) => t.send(dst, conn, data),
                None => Err(io::Error::other("TCP is disabled")),
            },
        };
        Stats::bump(if r.is_ok() {
            &self.stats.sent
        } else {
            &self.stats.send_errors
        });
        r
    }

    fn server_header(&self) -> Option<&str> {
        self.server_header.as_deref()
    }

    fn advertised(&self, proto: Proto, local: SocketAddr) -> (String, u16) {
        let found = self
            .sockets
            .iter()
            .find(|(p, a, _)| *p == proto && *a == local)
            .or_else(|| self.sockets.iter().find(|(p, _, _)| *p == proto));
        match found {
            Some((_, a, Some((h, p)))) => (h.clone(), p.unwrap_or(a.port())),
            Some((_, a, None)) => (host_text(a.ip()), a.port()),
            None => (host_text(local.ip()), local.port()),
        }
    }

    fn modules(&self) -> Option<&crate::module::Modules> {
        Some(&self.modules)
    }
}

/// An IP as it goes into a URI: IPv6 in brackets.
fn host_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}
