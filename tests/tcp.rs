//! TCP connections kemid opens itself: a request forwarded to a TCP
//! destination goes out on a new connection, the answer comes back on it,
//! and the next request to the same peer reuses it.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::{addr, options, start, UdpClient};
use kemid::engine::Lang;
use kemid::sip::{build_reply, frame, Frame, Limits, SipMsg};
use kemid::transport::Proto;

/// Reads the next whole message of a stream within `wait`.
fn read_message(stream: &mut TcpStream, buf: &mut Vec<u8>, wait: Duration) -> Option<SipMsg> {
    let deadline = Instant::now() + wait;
    let mut chunk = [0u8; 4096];
    loop {
        if let Frame::Complete(n) = frame(buf, Limits::default()) {
            let msg: Vec<u8> = buf.drain(..n).collect();
            return Some(SipMsg::parse(msg).expect("kemid sent a valid message"));
        }
        if Instant::now() >= deadline {
            return None;
        }
        match stream.read(&mut chunk) {
            Ok(0) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => continue,
        }
    }
}

fn forwarding_over_tcp(lang: Lang) {
    let peer = TcpListener::bind("127.0.0.1:0").expect("listen");
    let peer_addr: SocketAddr = peer.local_addr().expect("address");
    let script = format!(
        "function ksr_request_route() {{\n    if (KSR.is_method_in(\"O\")) {{\n        KSR.forward_uri(\"sip:{peer_addr};transport=tcp\");\n    }}\n}}\n"
    );
    let server = start(lang, &script, "loadmodule \"sl.so\"\n");
    let proxy = addr(&server, Proto::Udp, false);
    let client = UdpClient::new(false);
    let via = client.local().to_string();

    client.send(proxy, &options("sip:peer@example.com", &via, &[]));
    let (mut conn, _) = peer.accept().expect("kemid connects");
    conn.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let mut buf = Vec::new();
    for round in 0..2 {
        if round > 0 {
            client.send(proxy, &options("sip:peer@example.com", &via, &[]));
        }
        let req = read_message(&mut conn, &mut buf, Duration::from_secs(3))
            .unwrap_or_else(|| panic!("{lang:?}: request {round} not received over TCP"));
        let top = req.top_via().expect("our Via");
        assert_eq!(top.transport(), "TCP", "{lang:?}: {:?}", top.as_str());
        let mut reply = Vec::new();
        build_reply(&req, 200, "From Peer", Some("peer"), "", &mut reply).expect("reply");
        conn.write_all(&reply).expect("answer");
        let got = client
            .recv(Duration::from_secs(3))
            .unwrap_or_else(|| panic!("{lang:?}: reply {round} not relayed"));
        assert_eq!(got.status_code(), Some(200), "{lang:?}");
        assert_eq!(got.reason(), Some("From Peer"), "{lang:?}");
    }
    // Both requests came on the one connection.
    peer.set_nonblocking(true).expect("nonblocking");
    assert!(
        peer.accept().is_err(),
        "{lang:?}: a second connection was opened"
    );
    server.stop();
}

#[test]
fn forwarding_to_a_tcp_destination_opens_one_connection_and_reads_replies_on_it() {
    for lang in [Lang::Js, Lang::Squirrel] {
        forwarding_over_tcp(lang);
    }
}
