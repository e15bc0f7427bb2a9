//! The limits that keep one peer from holding the server: a message's
//! read deadline (`tcp_msg_read_timeout`), the first-message deadline of a
//! new connection (`tcp_msg_data_timeout`), connections per address
//! (`tcp_accept_iplimit`), messages with many headers or an impossible
//! Content-Length, and the bookkeeping and memory left after many short
//! connections. Each against a real kemid on loopback.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{addr, options, start, TcpClient, UdpClient};
use kemid::engine::Lang;
use kemid::server::Server;
use kemid::transport::tcp::{TableSizes, TcpGuards, TcpTransport};
use kemid::transport::Proto;

const SCRIPT: &str = "function ksr_request_route() {\n    KSR.sl.sl_send_reply(200, \"OK\");\n}\n";

fn server() -> (Server, Arc<TcpTransport>, SocketAddr) {
    let server = start(Lang::Js, SCRIPT, "loadmodule \"sl.so\"\n");
    let tcp = server.core().tcp().cloned().expect("kemid listens on TCP");
    let to = addr(&server, Proto::Tcp, false);
    (server, tcp, to)
}

/// An OPTIONS over TCP from `from`.
fn tcp_options(from: SocketAddr, extra: &[&str]) -> Vec<u8> {
    String::from_utf8(options("sip:x@127.0.0.1", &from.to_string(), extra))
        .expect("text")
        .replace("SIP/2.0/UDP", "SIP/2.0/TCP")
        .into_bytes()
}

/// A connection to `to` from the loopback address `from_ip`.
fn connect_from(from_ip: &str, to: SocketAddr) -> TcpStream {
    let sock =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    let from: SocketAddr = format!("{from_ip}:0").parse().expect("address");
    sock.bind(&from.into()).expect("bind a loopback address");
    sock.connect(&to.into()).expect("connect");
    let stream: TcpStream = sock.into();
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    stream
}

/// Whether the server has closed `s` (end of stream or reset), looking
/// for `wait` at most.
fn closed_by_server(s: &mut TcpStream, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    let mut b = [0u8; 512];
    loop {
        match s.read(&mut b) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return true,
        }
        if Instant::now() >= deadline {
            return false;
        }
    }
}

/// Waits (bounded) for the bookkeeping to come back to `want`.
fn settle(tcp: &TcpTransport, want: TableSizes, wait: Duration) -> TableSizes {
    let deadline = Instant::now() + wait;
    loop {
        let now = tcp.table_sizes();
        if now == want || Instant::now() >= deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn slow_clients_are_cut_at_the_message_deadline_while_others_are_served() {
    let (server, tcp, to) = server();
    assert_eq!(tcp.guards(), TcpGuards::default());
    let read_timeout = Duration::from_secs(2);
    tcp.set_guards(TcpGuards {
        msg_read_timeout: read_timeout,
        msg_data_timeout: Duration::ZERO,
        accept_iplimit: 0,
    });
    const SLOW: usize = 12;
    let began = Instant::now();
    let mut slow: Vec<(TcpStream, Option<Duration>)> = (0..SLOW)
        .map(|_| {
            let s = connect_from("127.0.0.1", to);
            s.set_nonblocking(true).expect("nonblocking");
            (s, None)
        })
        .collect();
    let trickle = tcp_options("127.0.0.9:5060".parse().expect("address"), &[]);
    let mut served = None;
    // One byte per connection every 100 ms (each resets any idle timer),
    // for at most 8 s.
    for tick in 0..80usize {
        for (s, cut) in slow.iter_mut().filter(|(_, cut)| cut.is_none()) {
            let byte = trickle[tick % trickle.len()];
            if s.write_all(&[byte]).is_err() || closed_by_server(s, Duration::ZERO) {
                *cut = Some(began.elapsed());
            }
        }
        if tick == 5 {
            // Meanwhile a normal client is answered at once.
            let mut c = TcpClient::connect(to);
            let asked = Instant::now();
            c.send(&tcp_options(c.local(), &[]));
            let reply = c.recv(Duration::from_secs(2));
            assert_eq!(reply.and_then(|r| r.status_code()), Some(200));
            served = Some(asked.elapsed());
        }
        if slow.iter().all(|(_, cut)| cut.is_some()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let cuts: Vec<Duration> = slow.iter().filter_map(|(_, c)| *c).collect();
    assert_eq!(cuts.len(), SLOW, "every slow client is cut: {cuts:?}");
    for c in &cuts {
        assert!(
            *c >= read_timeout - Duration::from_millis(200) && *c < read_timeout * 2,
            "cut after {c:?}, the deadline is {read_timeout:?}"
        );
    }
    eprintln!(
        "{SLOW} slow clients cut after {:?}..{:?}; a normal OPTIONS answered in {:?}",
        cuts.iter().min(),
        cuts.iter().max(),
        served
    );
    drop(slow);
    assert_eq!(
        settle(&tcp, TableSizes::default(), Duration::from_secs(3)),
        TableSizes::default()
    );
    server.stop();
}

#[test]
fn a_connection_without_a_message_is_cut_at_the_first_data_deadline() {
    let (server, tcp, to) = server();
    tcp.set_guards(TcpGuards {
        msg_read_timeout: Duration::from_secs(30),
        msg_data_timeout: Duration::from_secs(1),
        accept_iplimit: 0,
    });
    let began = Instant::now();
    let mut silent = connect_from("127.0.0.1", to);
    let mut pinging = connect_from("127.0.0.1", to);
    let mut talking = TcpClient::connect(to);
    talking.send(&tcp_options(talking.local(), &[]));
    assert_eq!(
        talking
            .recv(Duration::from_secs(2))
            .and_then(|r| r.status_code()),
        Some(200)
    );
    // Keepalives are not a message.
    for _ in 0..3 {
        pinging.write_all(b"\r\n\r\n").expect("ping");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(closed_by_server(&mut silent, Duration::from_secs(3)));
    let cut = began.elapsed();
    assert!(cut >= Duration::from_millis(900), "cut after {cut:?}");
    assert!(closed_by_server(&mut pinging, Duration::from_secs(3)));
    // The connection that carried a message is kept, and still served.
    std::thread::sleep(Duration::from_millis(500));
    talking.send(&tcp_options(talking.local(), &[]));
    assert_eq!(
        talking
            .recv(Duration::from_secs(2))
            .and_then(|r| r.status_code()),
        Some(200),
        "a connection that carried a message is not cut"
    );
    drop(talking);
    assert_eq!(
        settle(&tcp, TableSizes::default(), Duration::from_secs(3)),
        TableSizes::default()
    );
    server.stop();
}

#[test]
fn one_address_holds_at_most_tcp_accept_iplimit_connections() {
    let (server, tcp, to) = server();
    tcp.set_guards(TcpGuards {
        accept_iplimit: 3,
        ..TcpGuards::default()
    });
    let mut held: Vec<TcpStream> = (0..3).map(|_| connect_from("127.0.0.2", to)).collect();
    let open = |n| TableSizes {
        connections: n,
        peers: n,
        accepting_addresses: 1,
        open: n,
    };
    assert_eq!(settle(&tcp, open(3), Duration::from_secs(2)), open(3));
    let mut over = connect_from("127.0.0.2", to);
    assert!(
        closed_by_server(&mut over, Duration::from_secs(2)),
        "the fourth connection from 127.0.0.2 is refused"
    );
    // Another address is served.
    let mut other = TcpClient::connect(to);
    other.send(&tcp_options(other.local(), &[]));
    assert_eq!(
        other
            .recv(Duration::from_secs(2))
            .and_then(|r| r.status_code()),
        Some(200)
    );
    drop(other);
    // A held one still works, and once one closes a new one is taken.
    let mut first = held.remove(0);
    let local = first.local_addr().expect("address");
    first.write_all(&tcp_options(local, &[])).expect("send");
    assert!(!closed_by_server(&mut first, Duration::from_millis(300)));
    drop(first);
    assert_eq!(settle(&tcp, open(2), Duration::from_secs(2)), open(2));
    let mut again = connect_from("127.0.0.2", to);
    assert!(!closed_by_server(&mut again, Duration::from_millis(300)));
    drop(again);
    drop(held);
    drop(over);
    assert_eq!(
        settle(&tcp, TableSizes::default(), Duration::from_secs(3)),
        TableSizes::default()
    );
    server.stop();
}

#[test]
fn connection_churn_leaves_no_bookkeeping_and_no_growing_memory() {
    let (server, tcp, to) = server();
    let began = Instant::now();
    let partial = b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK-c\r\n";
    // Warm up: threads, runtimes and the allocator's pools settle.
    for _ in 0..50 {
        let mut c = TcpClient::connect(to);
        c.send(&tcp_options(c.local(), &[]));
        assert!(c.recv(Duration::from_secs(3)).is_some());
    }
    let baseline = rss_kib();
    let mut rss = Vec::new();
    let mut held_rss = Vec::new();
    // 5 rounds of 1000 connections: 500 at once holding half a message,
    // 500 one after the other with a whole OPTIONS and its answer.
    for _round in 0..5 {
        let mut held = Vec::new();
        for _ in 0..500 {
            let mut s = connect_from("127.0.0.1", to);
            s.write_all(partial).expect("send");
            held.push(s);
        }
        assert_eq!(
            settle(
                &tcp,
                TableSizes {
                    connections: 500,
                    peers: 500,
                    accepting_addresses: 1,
                    open: 500
                },
                Duration::from_secs(5)
            )
            .open,
            500
        );
        held_rss.push(rss_kib());
        drop(held);
        for _ in 0..500 {
            let mut c = TcpClient::connect(to);
            c.send(&tcp_options(c.local(), &[]));
            assert_eq!(
                c.recv(Duration::from_secs(3)).and_then(|r| r.status_code()),
                Some(200)
            );
        }
        assert_eq!(
            settle(&tcp, TableSizes::default(), Duration::from_secs(5)),
            TableSizes::default(),
            "the bookkeeping is empty once the connections are closed"
        );
        rss.push(rss_kib());
        assert!(
            began.elapsed() < Duration::from_secs(120),
            "bounded in time"
        );
    }
    eprintln!("RSS (KiB) at start {baseline:?}; holding 500 partial messages: {held_rss:?}; after each round: {rss:?}");
    if let (Some(Some(first)), Some(Some(last))) = (rss.first(), rss.last()) {
        // The first round brings the allocator's pools up; later rounds
        // must reuse them, not add.
        assert!(
            last.saturating_sub(*first) < 4 * 1024,
            "RSS grew from {first} to {last} KiB over 4000 more connections"
        );
    }
    if let (Some(before), Some(Some(held))) = (baseline, held_rss.first()) {
        // A connection waiting for the rest of a message keeps its bytes,
        // not a read buffer: 500 of them cost far less than 500 x 16 KiB.
        assert!(
            held.saturating_sub(before) < 6 * 1024,
            "500 connections holding a partial message took {} KiB",
            held.saturating_sub(before)
        );
    }
    server.stop();
}

#[test]
fn a_request_with_many_headers_is_processed_over_udp_and_tcp() {
    let (server, _tcp, to_tcp) = server();
    let to_udp = addr(&server, Proto::Udp, false);
    let lines: Vec<String> = (0..300)
        .map(|i| format!("X-Header-{i}: value {i}"))
        .collect();
    let extra: Vec<&str> = lines.iter().map(String::as_str).collect();
    let udp = UdpClient::new(false);
    let req = udp.options("sip:x@127.0.0.1", &extra);
    let reply = udp.transact(to_udp, &req).expect("an answer over UDP");
    assert_eq!(reply.status_code(), Some(200));
    let mut c = TcpClient::connect(to_tcp);
    c.send(&tcp_options(c.local(), &extra));
    let reply = c.recv(Duration::from_secs(3)).expect("an answer over TCP");
    assert_eq!(reply.status_code(), Some(200));
    server.stop();
}

#[test]
fn a_message_larger_than_msg_recv_max_size_closes_the_connection_with_a_log() {
    let (server, tcp, to) = server();
    let drops = || {
        server
            .core()
            .stats
            .bad_messages
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let mut s = connect_from("127.0.0.1", to);
    let mut big = b"OPTIONS sip:x SIP/2.0\r\n".to_vec();
    while big.len() < 70_000 {
        big.extend_from_slice(
            b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
        );
    }
    let _ = s.write_all(&big);
    assert!(closed_by_server(&mut s, Duration::from_secs(3)));
    assert_eq!(drops(), 0, "no message reached the router");
    assert_eq!(
        settle(&tcp, TableSizes::default(), Duration::from_secs(3)),
        TableSizes::default()
    );
    server.stop();
}

#[test]
fn an_impossible_content_length_gets_400_bad_request_over_udp_and_tcp() {
    let (server, _tcp, to_tcp) = server();
    let to_udp = addr(&server, Proto::Udp, false);
    let udp = UdpClient::new(false);
    for cl in ["4000000000", "99999999999", "70000", "-1"] {
        let req = String::from_utf8(udp.options("sip:x@127.0.0.1", &[]))
            .expect("text")
            .replace("Content-Length: 0", &format!("Content-Length: {cl}"));
        let reply = udp.transact(to_udp, req.as_bytes()).expect("an answer");
        assert_eq!(reply.status_code(), Some(400), "UDP, Content-Length {cl}");
        assert_eq!(
            reply.reason(),
            Some("Bad Request"),
            "UDP, Content-Length {cl}"
        );

        let mut c = TcpClient::connect(to_tcp);
        let req = String::from_utf8(tcp_options(c.local(), &[]))
            .expect("text")
            .replace("Content-Length: 0", &format!("Content-Length: {cl}"));
        c.send(req.as_bytes());
        let reply = c.recv(Duration::from_secs(3)).expect("an answer over TCP");
        assert_eq!(reply.status_code(), Some(400), "TCP, Content-Length {cl}");
        assert_eq!(
            reply.reason(),
            Some("Bad Request"),
            "TCP, Content-Length {cl}"
        );
        assert!(
            closed_by_server(&mut c.stream, Duration::from_secs(2)),
            "then closed"
        );
    }
    server.stop();
}
