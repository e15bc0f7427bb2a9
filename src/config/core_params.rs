//! The global (core) parameters of a kamailio.cfg that kemid applies, with
//! Kamailio's defaults, and the ones it accepts without effect.

use std::net::IpAddr;

pub use crate::transport::Proto;

/// One `listen=` socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listen {
    /// `None`: both UDP and TCP (unless `disable_tcp`).
    pub proto: Option<Proto>,
    pub addr: IpAddr,
    /// `None`: the `port` parameter.
    pub port: Option<u16>,
    /// `advertise host[:port]`: what goes into Via and Record-Route.
    pub advertise: Option<(String, Option<u16>)>,
    /// `name "..."`.
    pub name: Option<String>,
}

/// The core parameters kemid applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreParams {
    /// `debug`: the log level (-1 errors … 3 debug). Kamailio's default is 0
    /// (warnings and worse).
    pub debug: i32,
    /// `log_stderror`: kemid always logs to standard error; kept so the value
    /// is visible through `cfg.get`.
    pub log_stderror: bool,
    pub log_prefix: String,
    /// `children`: worker threads per UDP socket set. Default 8.
    pub children: usize,
    pub listen: Vec<Listen>,
    /// `port`: the default port for listen addresses without one.
    pub port: u16,
    /// `alias`: names (with optional port) that are also this server.
    pub aliases: Vec<String>,
    pub auto_aliases: bool,
    pub disable_tcp: bool,
    /// Seconds an idle TCP connection is kept.
    pub tcp_connection_lifetime: u32,
    pub tcp_max_connections: u32,
    /// `server_header`: the full header line for local replies
    /// (`Server: name`).
    pub server_header: Option<String>,
    /// `user_agent_header`: the full header line for local requests.
    pub user_agent_header: Option<String>,
    /// `server_signature`: whether local replies carry the Server header.
    pub server_signature: bool,
    /// `msg_recv_max_size`: the largest message accepted over TCP (and the
    /// largest UDP datagram): 65535 bytes, which is also the most it can be
    /// set to.
    pub max_message_size: usize,
    /// `tcp_msg_read_timeout`: seconds within which a message must be read
    /// whole from its first byte (0: no limit). Kamailio's default, 20.
    pub tcp_msg_read_timeout: u32,
    /// `tcp_msg_data_timeout`: seconds within which an accepted connection
    /// must carry its first message (0: no limit). Kamailio's default, 20.
    pub tcp_msg_data_timeout: u32,
    /// `tcp_accept_iplimit`: connections accepted from one IP address at a
    /// time (0: no limit). Kamailio's default, 1024.
    pub tcp_accept_iplimit: u32,
    /// `maxbuffer`: the receive buffer asked for each UDP socket
    /// (`SO_RCVBUF`), in bytes, so bursts wait in the kernel instead of
    /// being dropped. The kernel caps it at `net.core.rmem_max`.
    pub udp_rcvbuf: usize,
}

impl Default for CoreParams {
    fn default() -> CoreParams {
        CoreParams {
            debug: 0,
            log_stderror: false,
            log_prefix: String::new(),
            children: 8,
            listen: Vec::new(),
            port: 5060,
            aliases: Vec::new(),
            auto_aliases: true,
            disable_tcp: false,
            tcp_connection_lifetime: 120,
            tcp_max_connections: 2048,
            server_header: None,
            user_agent_header: None,
            server_signature: true,
            max_message_size: MAX_MSG_RECV_SIZE,
            tcp_msg_read_timeout: 20,
            tcp_msg_data_timeout: 20,
            tcp_accept_iplimit: 1024,
            udp_rcvbuf: DEFAULT_UDP_RCVBUF,
        }
    }
}

/// What setting a parameter did.
pub enum Applied {
    Done,
    /// Accepted, with no effect: the notice to log.
    Inert(String),
}

/// Kamailio's default `maxbuffer`: 256 KiB.
pub const DEFAULT_UDP_RCVBUF: usize = 262_144;

/// The largest `msg_recv_max_size` kemid applies (the largest UDP payload,
/// and its parser's limit); larger settings are capped to it.
pub const MAX_MSG_RECV_SIZE: usize = 65_535;

/// Kamailio core parameters accepted with no effect in kemid.
const INERT: &[&str] = &[
    "memdbg",
    "memlog",
    "mem_join",
    "mem_summary",
    "dns",
    "rev_dns",
    "dns_cache_init",
    "use_dns_cache",
    "use_dns_failover",
    "dns_try_ipv6",
    "dns_retr_time",
    "dns_retr_no",
    "dns_use_search_list",
    "dns_srv_lb",
    "auto_bind_ipv6",
    "enable_tls",
    "enable_sctp",
    "tcp_accept_no_cl",
    "tcp_connect_timeout",
    "tcp_send_timeout",
    "tcp_keepalive",
    "tcp_rd_buf_size",
    "tcp_children",
    "latency_log",
    "latency_limit_action",
    "latency_limit_db",
    "latency_cfg_log",
    "fork",
    "log_facility",
    "log_name",
    "corelog",
    "onsend_route_reply",
    "tos",
    "pmtu_discovery",
    "sip_warning",
    "mhomed",
    "async_workers",
    "max_while_loops",
    "check_via",
    "mpath",
    "udp_mtu",
    "user",
    "group",
    "shm_force_alloc",
    "phone2tel",
    "sql_buffer_size",
    "statistics",
    "xavp_via_params",
    "received_route_mode",
    "socket_workers",
];

fn parse_bool(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "on" | "true" | "1" | "enable" => Ok(true),
        "no" | "off" | "false" | "0" | "disable" => Ok(false),
        _ => Err(format!("`{v}` is not a boolean: use yes or no")),
    }
}

fn parse_int<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, String> {
    v.parse()
        .map_err(|_| format!("{name} takes a whole number, not `{v}`"))
}

/// A quoted value without its quotes, else the text as written.
fn unquoted(v: &str) -> String {
    let v = v.trim();
    if v.len() >= 2
        && (v.starts_with('"') && v.ends_with('"') || v.starts_with('\'') && v.ends_with('\''))
    {
        v[1..v.len() - 1]
            .replace("\\\"", "\"")
            .replace("\\\\", "\\")
    } else {
        v.to_owned()
    }
}

impl CoreParams {
    /// Sets `name` from the text written after `=`.
    pub fn set(&mut self, name: &str, raw: &str) -> Result<Applied, String> {
        let v = unquoted(raw);
        match name {
            "debug" => self.debug = parse_int::<i32>(name, &v)?.clamp(-5, 3),
            "log_stderror" => self.log_stderror = parse_bool(&v)?,
            "log_prefix" => self.log_prefix = v,
            "children" => {
                self.children = parse_int(name, &v)?;
                if self.children == 0 || self.children > 1024 {
                    return Err("children must be between 1 and 1024".into());
                }
            }
            "listen" => self.listen.push(parse_listen(raw)?),
            "port" => self.port = parse_int(name, &v)?,
            "alias" => self.aliases.push(v),
            "auto_aliases" => self.auto_aliases = parse_bool(&v)?,
            "disable_tcp" => self.disable_tcp = parse_bool(&v)?,
            "tcp_connection_lifetime" => self.tcp_connection_lifetime = parse_int(name, &v)?,
            "tcp_max_connections" => self.tcp_max_connections = parse_int(name, &v)?,
            "server_header" => self.server_header = Some(v),
            "user_agent_header" => self.user_agent_header = Some(v),
            "server_signature" => self.server_signature = parse_bool(&v)?,
            "msg_recv_max_size" => {
                self.max_message_size =
                    parse_int::<usize>(name, &v)?.clamp(1024, MAX_MSG_RECV_SIZE)
            }
            "tcp_msg_read_timeout" => self.tcp_msg_read_timeout = parse_int(name, &v)?,
            "tcp_msg_data_timeout" => self.tcp_msg_data_timeout = parse_int(name, &v)?,
            "tcp_accept_iplimit" => self.tcp_accept_iplimit = parse_int(name, &v)?,
            "maxbuffer" | "udp_rcvbuf" => {
                self.udp_rcvbuf = parse_int::<usize>(name, &v)?.clamp(4096, 1 << 30)
            }
            _ if INERT.contains(&name) => {
                return Ok(Applied::Inert(format!("`{name}` is accepted but has no effect in kemid")))
            }
            _ => {
                return Err(format!(
                    "unknown global parameter `{name}`; kemid applies debug, log_stderror, log_prefix, children, listen, port, alias, auto_aliases, disable_tcp, tcp_connection_lifetime, tcp_max_connections, tcp_msg_read_timeout, tcp_msg_data_timeout, tcp_accept_iplimit, msg_recv_max_size, server_header, user_agent_header, server_signature, maxbuffer and the kemi.* callbacks"
                ))
            }
        }
        Ok(Applied::Done)
    }
}

impl CoreParams {
    /// The TCP guards these parameters set.
    pub fn tcp_guards(&self) -> crate::transport::tcp::TcpGuards {
        let secs = |s: u32| std::time::Duration::from_secs(u64::from(s));
        crate::transport::tcp::TcpGuards {
            msg_read_timeout: secs(self.tcp_msg_read_timeout),
            msg_data_timeout: secs(self.tcp_msg_data_timeout),
            accept_iplimit: self.tcp_accept_iplimit as usize,
        }
    }
}

/// Parses `[proto:]addr[:port] [advertise host[:port]] [name "x"]`.
pub fn parse_listen(raw: &str) -> Result<Listen, String> {
    let mut words = raw.split_whitespace();
    let spec = words
        .next()
        .ok_or("listen needs an address, e.g. udp:127.0.0.1:5060")?;
    let spec = unquoted(spec);
    let (proto, rest) = match spec.split_once(':') {
        Some((p, r)) if p.eq_ignore_ascii_case("udp") => (Some(Proto::Udp), r),
        Some((p, r)) if p.eq_ignore_ascii_case("tcp") => (Some(Proto::Tcp), r),
        Some((p, _))
            if ["tls", "sctp", "ws", "wss"]
                .iter()
                .any(|x| p.eq_ignore_ascii_case(x)) =>
        {
            return Err(format!(
                "listen: {p} is not supported by kemid; use udp or tcp"
            ))
        }
        _ => (None, spec.as_str()),
    };
    let (host, port) = split_host_port(rest)?;
    let addr: IpAddr = host.parse().map_err(|_| {
        format!("listen: `{host}` is not an IP address (kemid listens on addresses; put names in alias=)")
    })?;
    let mut listen = Listen {
        proto,
        addr,
        port,
        advertise: None,
        name: None,
    };
    while let Some(word) = words.next() {
        match word.to_ascii_lowercase().as_str() {
            "advertise" | "as" => {
                let a = words.next().ok_or("listen: advertise needs host[:port]")?;
                let (h, p) = split_host_port(&unquoted(a))?;
                listen.advertise = Some((h, p));
            }
            "name" => {
                let n = words.next().ok_or("listen: name needs a quoted name")?;
                listen.name = Some(unquoted(n));
            }
            other => {
                return Err(format!(
                    "listen: unexpected `{other}`; expected advertise or name"
                ))
            }
        }
    }
    Ok(listen)
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`.
fn split_host_port(s: &str) -> Result<(String, Option<u16>), String> {
    let bad_port = |p: &str| format!("`{p}` is not a port number");
    if let Some(v6) = s.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("`{s}`: missing `]`"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().map_err(|_| bad_port(p))?),
            None if after.is_empty() => None,
            None => return Err(format!("`{s}`: unexpected `{after}`")),
        };
        return Ok((host.to_owned(), port));
    }
    match s.rsplit_once(':') {
        // More than one colon without brackets: a bare IPv6 address.
        Some((h, _)) if h.contains(':') => Ok((s.to_owned(), None)),
        Some((h, p)) => Ok((h.to_owned(), Some(p.parse().map_err(|_| bad_port(p))?))),
        None => Ok((s.to_owned(), None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_forms() {
        let l = parse_listen("udp:127.0.0.1:5070 advertise 192.0.2.1:5060").expect("valid");
        assert_eq!(l.proto, Some(Proto::Udp));
        assert_eq!(l.addr, "127.0.0.1".parse::<IpAddr>().expect("ip"));
        assert_eq!(l.port, Some(5070));
        assert_eq!(l.advertise, Some(("192.0.2.1".into(), Some(5060))));
        let l = parse_listen("tcp:[::1]:5080").expect("valid");
        assert_eq!((l.proto, l.port), (Some(Proto::Tcp), Some(5080)));
        assert!(l.addr.is_ipv6());
        let l = parse_listen("10.0.0.1").expect("valid");
        assert_eq!((l.proto, l.port), (None, None));
        assert!(parse_listen("tls:127.0.0.1:5061").is_err());
        assert!(parse_listen("udp:example.com:5060").is_err());
        assert!(parse_listen("udp:127.0.0.1:notaport").is_err());
    }

    #[test]
    fn values_are_typed() {
        let mut c = CoreParams::default();
        assert!(matches!(c.set("debug", "3"), Ok(Applied::Done)));
        assert_eq!(c.debug, 3);
        assert!(c.set("children", "zero").is_err());
        assert!(matches!(c.set("log_stderror", "yes"), Ok(Applied::Done)));
        assert!(c.log_stderror);
        assert!(matches!(
            c.set("log_prefix", "\"JSC {$rm}: \""),
            Ok(Applied::Done)
        ));
        assert_eq!(c.log_prefix, "JSC {$rm}: ");
        assert!(matches!(
            c.set("mpath", "\"/usr/lib\""),
            Ok(Applied::Inert(_))
        ));
        assert!(c.set("no_such_param", "1").is_err());
    }

    #[test]
    fn maxbuffer_is_the_udp_receive_buffer() {
        let mut c = CoreParams::default();
        assert_eq!(c.udp_rcvbuf, 262_144, "Kamailio's default");
        assert!(matches!(c.set("maxbuffer", "1048576"), Ok(Applied::Done)));
        assert_eq!(c.udp_rcvbuf, 1_048_576);
        assert_eq!(c.max_message_size, 65535, "not the largest message");
        assert!(c.set("maxbuffer", "lots").is_err());
    }

    #[test]
    fn tcp_guards_and_message_size() {
        let mut c = CoreParams::default();
        assert_eq!(
            c.tcp_guards(),
            crate::transport::tcp::TcpGuards::default(),
            "Kamailio's defaults"
        );
        for (name, value) in [
            ("tcp_msg_read_timeout", "3"),
            ("tcp_msg_data_timeout", "0"),
            ("tcp_accept_iplimit", "16"),
            ("msg_recv_max_size", "32767"),
        ] {
            assert!(matches!(c.set(name, value), Ok(Applied::Done)), "{name}");
        }
        let g = c.tcp_guards();
        assert_eq!(g.msg_read_timeout, std::time::Duration::from_secs(3));
        assert!(g.msg_data_timeout.is_zero());
        assert_eq!(g.accept_iplimit, 16);
        assert_eq!(c.max_message_size, 32767);
        assert!(matches!(
            c.set("msg_recv_max_size", "1048576"),
            Ok(Applied::Done)
        ));
        assert_eq!(c.max_message_size, MAX_MSG_RECV_SIZE, "capped");
        assert!(c.set("tcp_msg_read_timeout", "-1").is_err());
        assert!(c.set("tcp_accept_iplimit", "many").is_err());
    }
}
