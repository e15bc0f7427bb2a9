//! The RFC 4475 torture messages (tests/data/rfc4475/, written for kemid
//! from the RFC's descriptions) sent over UDP and over TCP to a real
//! kemid on loopback, each checked against the outcome
//! tests/data/rfc4475/expected.txt gives it.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::{addr, start, UdpClient};
use kemid::engine::Lang;
use kemid::server::Server;
use kemid::sip::{frame, Frame, Limits, SipMsg};
use kemid::transport::tcp::TcpGuards;
use kemid::transport::Proto;

const SCRIPT: &str = r#"function ksr_request_route() {
    if (KSR.maxfwd.process_maxfwd(10) < 0) {
        KSR.sl.sl_send_reply(483, "Too Many Hops");
        return;
    }
    if (KSR.sanity.sanity_check(18407, 7) < 0) {
        return;
    }
    if (KSR.is_ACK()) {
        return;
    }
    KSR.sl.sl_send_reply(200, "Processed");
}
function ksr_reply_route() {
}
"#;

const CFG: &str = "loadmodule \"sl.so\"\nloadmodule \"maxfwd.so\"\nloadmodule \"sanity.so\"\n";

/// How long a message that gets no answer is watched.
const QUIET: Duration = Duration::from_millis(400);

struct Case {
    name: String,
    udp: String,
    tcp: String,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string("tests/data/rfc4475/expected.txt").expect("expected.txt");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut w = l.split_whitespace();
            let mut next = || w.next().expect("name, udp and tcp outcomes").to_owned();
            Case {
                name: next(),
                udp: next(),
                tcp: next(),
            }
        })
        .collect()
}

fn message(name: &str, via: SocketAddr) -> Vec<u8> {
    let raw = std::fs::read(format!("tests/data/rfc4475/{name}.sip"))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let via = via.to_string();
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i..].starts_with(b"{via}") {
            out.extend_from_slice(via.as_bytes());
            i += 5;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    out
}

/// The server's counters a case moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Counters {
    bad: u64,
    replies: u64,
}

fn counters(server: &Server) -> Counters {
    let s = &server.core().stats;
    Counters {
        bad: s.bad_messages.load(Ordering::Relaxed),
        replies: s.rcv_replies.load(Ordering::Relaxed),
    }
}

/// What was observed for one message: the status codes of the answers
/// (a message kemid sent that does not parse is a failure), and for TCP
/// whether the server closed the connection.
struct Seen {
    codes: Vec<u16>,
    closed: bool,
    before: Counters,
    after: Counters,
}

fn judge(case: &str, proto: &str, want: &str, seen: &Seen) -> Result<(), String> {
    let got = format!(
        "answers {:?}, closed {}, malformed +{}, replies +{}",
        seen.codes,
        seen.closed,
        seen.after.bad - seen.before.bad,
        seen.after.replies - seen.before.replies
    );
    let bad = seen.after.bad - seen.before.bad;
    let replies = seen.after.replies - seen.before.replies;
    let ok = match want {
        "drop" => seen.codes.is_empty() && bad == 1,
        "silent" => seen.codes.is_empty() && bad == 0,
        "reply" => seen.codes.is_empty() && bad == 0 && replies == 1,
        "cut" => seen.codes.is_empty() && seen.closed,
        codes => {
            let want: Vec<u16> = codes
                .split('+')
                .map(|c| c.parse().expect("a status code"))
                .collect();
            seen.codes == want
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{case} over {proto}: expected {want}, got {got}"))
    }
}

fn status_codes(raw: &[u8], case: &str) -> Result<u16, String> {
    let m = SipMsg::parse(raw.to_vec()).map_err(|e| {
        format!(
            "{case}: kemid sent a message that does not parse ({e}): {:?}",
            String::from_utf8_lossy(raw)
        )
    })?;
    m.status_code()
        .ok_or_else(|| format!("{case}: kemid sent a request back"))
}

fn over_udp(server: &Server, case: &Case) -> Result<(), String> {
    let to = addr(server, Proto::Udp, false);
    let client = UdpClient::new(false);
    let before = counters(server);
    client.send(to, &message(&case.name, client.local()));
    let mut codes = Vec::new();
    let wanted = case.udp.split('+').count();
    let deadline = Instant::now() + QUIET;
    let mut buf = vec![0u8; 65536];
    client
        .sock
        .set_read_timeout(Some(Duration::from_millis(50)))
        .map_err(|e| e.to_string())?;
    while Instant::now() < deadline {
        if let Ok((n, _)) = client.sock.recv_from(&mut buf) {
            codes.push(status_codes(&buf[..n], &case.name)?);
            if codes.len() >= wanted && case.udp.starts_with(|c: char| c.is_ascii_digit()) {
                // Give a second, unexpected answer a moment to show.
                std::thread::sleep(Duration::from_millis(100));
                while let Ok((n, _)) = client.sock.recv_from(&mut buf) {
                    codes.push(status_codes(&buf[..n], &case.name)?);
                }
                break;
            }
        }
    }
    let seen = Seen {
        codes,
        closed: false,
        before,
        after: counters(server),
    };
    judge(&case.name, "UDP", &case.udp, &seen)
}

fn over_tcp(server: &Server, case: &Case) -> Result<(), String> {
    let to = addr(server, Proto::Tcp, false);
    let mut stream = TcpStream::connect(to).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .map_err(|e| e.to_string())?;
    let local = stream.local_addr().map_err(|e| e.to_string())?;
    let before = counters(server);
    stream
        .write_all(&message(&case.name, local))
        .map_err(|e| e.to_string())?;
    let cut = case.tcp == "cut";
    // A message that never completes is cut at the read deadline (1 s
    // here): watch past it.
    let wait = if cut { Duration::from_secs(3) } else { QUIET };
    let wanted = case.tcp.split('+').count();
    let deadline = Instant::now() + wait;
    let (mut codes, mut closed, mut buf) = (Vec::new(), false, Vec::new());
    let mut chunk = [0u8; 8192];
    while Instant::now() < deadline && !closed {
        match stream.read(&mut chunk) {
            Ok(0) => closed = true,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => closed = true,
        }
        while let Frame::Complete(n) = frame(&buf, Limits::default()) {
            let raw: Vec<u8> = buf.drain(..n).collect();
            codes.push(status_codes(&raw, &case.name)?);
        }
        if !cut && codes.len() >= wanted && case.tcp.starts_with(|c: char| c.is_ascii_digit()) {
            std::thread::sleep(Duration::from_millis(100));
            if let Ok(n) = stream.read(&mut chunk) {
                buf.extend_from_slice(&chunk[..n]);
                while let Frame::Complete(n) = frame(&buf, Limits::default()) {
                    let raw: Vec<u8> = buf.drain(..n).collect();
                    codes.push(status_codes(&raw, &case.name)?);
                }
            }
            break;
        }
    }
    let seen = Seen {
        codes,
        closed,
        before,
        after: counters(server),
    };
    judge(&case.name, "TCP", &case.tcp, &seen)
}

fn run(over: fn(&Server, &Case) -> Result<(), String>) {
    let server = start(Lang::Js, SCRIPT, CFG);
    if let Some(tcp) = server.core().tcp() {
        tcp.set_guards(TcpGuards {
            msg_read_timeout: Duration::from_secs(1),
            ..TcpGuards::default()
        });
    }
    let all = cases();
    assert_eq!(all.len(), 49, "the 49 messages of RFC 4475");
    let failures: Vec<String> = all.iter().filter_map(|c| over(&server, c).err()).collect();
    server.stop();
    assert!(
        failures.is_empty(),
        "{} of 49 differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_torture_message_over_udp_has_its_expected_outcome() {
    run(over_udp);
}

#[test]
fn every_torture_message_over_tcp_has_its_expected_outcome() {
    run(over_tcp);
}
