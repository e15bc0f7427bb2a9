//! A test SIP client and a way to start a real kemid on loopback ports
//! chosen by the kernel.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kemid::config::Config;
use kemid::engine::{Lang, ScriptSource};
use kemid::server::Server;
use kemid::sip::{build_reply, Method, SipMsg};
use kemid::transport::Proto;

/// Starts kemid with `cfg_body` (listen lines are added: UDP and TCP on
/// 127.0.0.1 and UDP on [::1], ports chosen by the kernel) and the script
/// `script` of language `lang`.
pub fn start(lang: Lang, script: &str, cfg_body: &str) -> Server {
    let (module, engine, ext) = engine_names(lang);
    let cfg = format!(
        "#!KAMAILIO\ndebug=1\nchildren=2\nlisten=udp:127.0.0.1:0\nlisten=tcp:127.0.0.1:0\nlisten=udp:[::1]:0\n{cfg_body}\nloadmodule \"{module}.so\"\nmodparam(\"{module}\", \"load\", \"route.{ext}\")\ncfgengine \"{engine}\"\n"
    );
    let config = Config::from_text(Path::new("/test/kemid.cfg"), &cfg, &[])
        .expect("valid test configuration");
    let source = ScriptSource {
        path: config.script.clone(),
        text: script.to_owned(),
    };
    Server::start(&config, source).expect("kemid starts")
}

/// The module, `cfgengine` name and script file extension of `lang`.
pub fn engine_names(lang: Lang) -> (&'static str, &'static str, &'static str) {
    match lang {
        Lang::Js => ("app_jsdt", "jsdt", "js"),
        Lang::Squirrel => ("app_sqlang", "sqlang", "nut"),
    }
}

/// Runs `test` once per engine.
pub fn each_engine(test: impl Fn(Lang)) {
    for lang in [Lang::Js, Lang::Squirrel] {
        test(lang);
    }
}

/// The script `js` in `lang`: as it is for JavaScript; for Squirrel with
/// `var` declarations made `local` (the only difference in these scripts).
pub fn script_in(lang: Lang, js: &str) -> String {
    match lang {
        Lang::Js => js.to_owned(),
        Lang::Squirrel => js.replace("var ", "local "),
    }
}

/// A fresh folder under the temporary directory, unique to this call.
pub fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("kemid-{name}-{}-{}", std::process::id(), unique()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The first bound address of `proto`, IPv4 or IPv6.
pub fn addr(server: &Server, proto: Proto, v6: bool) -> SocketAddr {
    server
        .bound()
        .into_iter()
        .find(|(p, a)| *p == proto && a.is_ipv6() == v6)
        .map(|(_, a)| a)
        .expect("socket bound")
}

/// A request with the usual headers; `{branch}`-free, the caller's text is
/// used as is. Lines are joined with CRLF.
pub fn request(lines: &[&str]) -> Vec<u8> {
    let mut s = lines.join("\r\n");
    s.push_str("\r\n\r\n");
    s.into_bytes()
}

/// An OPTIONS to `ruri` with a Via naming `via_host` and the `extra`
/// header lines.
pub fn options(ruri: &str, via_host: &str, extra: &[&str]) -> Vec<u8> {
    let via = format!("Via: SIP/2.0/UDP {via_host};branch=z9hG4bK-{}", unique());
    let from = format!("From: <sip:tester@example.com>;tag={}", unique());
    let callid = format!("Call-ID: {}@test", unique());
    let first = format!("OPTIONS {ruri} SIP/2.0");
    let mut lines: Vec<&str> = vec![
        &first,
        &via,
        &from,
        "To: <sip:kemid@example.com>",
        &callid,
        "CSeq: 1 OPTIONS",
    ];
    lines.extend_from_slice(extra);
    lines.push("Content-Length: 0");
    request(&lines)
}

/// A number no other call in this process returns.
pub fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    N.fetch_add(1, Ordering::Relaxed) * 1000 + u64::from(std::process::id() % 1000)
}

/// A UDP client on loopback.
pub struct UdpClient {
    pub sock: UdpSocket,
}

impl UdpClient {
    pub fn new(v6: bool) -> UdpClient {
        let sock =
            UdpSocket::bind(if v6 { "[::1]:0" } else { "127.0.0.1:0" }).expect("bind client");
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        UdpClient { sock }
    }

    pub fn local(&self) -> SocketAddr {
        self.sock.local_addr().expect("local address")
    }

    pub fn send(&self, to: SocketAddr, data: &[u8]) {
        self.sock.send_to(data, to).expect("send");
    }

    /// An OPTIONS to `ruri` whose Via names this client.
    pub fn options(&self, ruri: &str, extra: &[&str]) -> Vec<u8> {
        options(ruri, &self.local().to_string(), extra)
    }

    /// The next message within `wait`, parsed.
    pub fn recv(&self, wait: Duration) -> Option<SipMsg> {
        let deadline = Instant::now() + wait;
        let mut buf = vec![0u8; 65536];
        while Instant::now() < deadline {
            match self.sock.recv_from(&mut buf) {
                Ok((n, _)) => {
                    return Some(SipMsg::parse(&buf[..n]).expect("kemid sent a valid message"))
                }
                Err(_) => continue,
            }
        }
        None
    }

    /// Sends and waits for the first final reply (skipping 1xx).
    pub fn transact(&self, to: SocketAddr, data: &[u8]) -> Option<SipMsg> {
        self.send(to, data);
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Some(m) = self.recv(Duration::from_millis(500)) {
                if m.status_code().is_some_and(|c| c >= 200) {
                    return Some(m);
                }
            }
        }
        None
    }
}

/// A TCP client.
pub struct TcpClient {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl TcpClient {
    pub fn connect(to: SocketAddr) -> TcpClient {
        let stream = TcpStream::connect(to).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        TcpClient {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn local(&self) -> SocketAddr {
        self.stream.local_addr().expect("local address")
    }

    pub fn send(&mut self, data: &[u8]) {
        self.stream.write_all(data).expect("write");
    }

    /// The next message within `wait`.
    pub fn recv(&mut self, wait: Duration) -> Option<SipMsg> {
        let deadline = Instant::now() + wait;
        let mut chunk = [0u8; 4096];
        loop {
            if let kemid::sip::Frame::Complete(n) = kemid::sip::frame(&self.buf, Default::default())
            {
                let msg: Vec<u8> = self.buf.drain(..n).collect();
                return Some(SipMsg::parse(msg).expect("kemid sent a valid message"));
            }
            if Instant::now() >= deadline {
                return None;
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(_) => continue,
            }
        }
    }
}

/// The next request of `method` `sock` receives within `wait` (other
/// messages are skipped).
pub fn expect_request(sock: &UdpClient, method: Method, wait: Duration) -> Option<SipMsg> {
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        if let Some(m) = sock.recv(Duration::from_millis(100)) {
            if m.method() == Some(method) {
                return Some(m);
            }
        }
    }
    None
}

/// Sends from `sock` a reply to `req`, a request kemid relayed to it, with
/// the `extra` header lines; to the address of kemid's top Via.
pub fn answer(sock: &UdpClient, req: &SipMsg, code: u16, to_tag: &str, extra: &str) {
    let mut out = Vec::new();
    build_reply(req, code, "", Some(to_tag), extra, &mut out).expect("reply");
    let via = req.top_via().expect("Via");
    let dst: SocketAddr = format!("{}:{}", via.host(), via.port().unwrap_or(5060))
        .parse()
        .expect("kemid's Via names an address");
    sock.send(dst, &out);
}

/// The messages `sock` receives within `wait`, up to and including the
/// first for which `last` holds.
pub fn recv_until(sock: &UdpClient, wait: Duration, last: impl Fn(&SipMsg) -> bool) -> Vec<SipMsg> {
    let mut got = Vec::new();
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        if let Some(m) = sock.recv(Duration::from_millis(100)) {
            let done = last(&m);
            got.push(m);
            if done {
                break;
            }
        }
    }
    got
}

/// Whether `m` is a final reply.
pub fn is_final(m: &SipMsg) -> bool {
    m.status_code().is_some_and(|c| c >= 200)
}

/// The status codes of the replies among `msgs`.
pub fn codes(msgs: &[SipMsg]) -> Vec<u16> {
    msgs.iter().filter_map(|m| m.status_code()).collect()
}

/// The last of `msgs` if it is a final reply.
pub fn final_reply(msgs: &[SipMsg]) -> Option<&SipMsg> {
    msgs.last().filter(|m| is_final(m))
}

/// The (status code, CSeq method) of every message `sock` receives within
/// `wait`, until each of `want` has been seen. A request counts as code 0.
pub fn replies_until_all(
    sock: &UdpClient,
    wait: Duration,
    want: &[(u16, Method)],
) -> Vec<(u16, Method)> {
    let mut seen = Vec::new();
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline && !want.iter().all(|w| seen.contains(w)) {
        if let Some(m) = sock.recv(Duration::from_millis(100)) {
            let method = m.cseq().map(|c| c.method()).unwrap_or(Method::Other);
            seen.push((m.status_code().unwrap_or(0), method));
        }
    }
    seen
}
