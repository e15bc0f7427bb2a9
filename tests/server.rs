//! A real kemid on loopback, driven by a test client over UDP and TCP, in
//! both engines: the same script, the same expectations.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{addr, each_engine, options, start, TcpClient, UdpClient};
use kemid::engine::Lang;
use kemid::server::Server;
use kemid::sip::HeaderName;
use kemid::transport::Proto;

const CFG: &str = "loadmodule \"sl.so\"\nloadmodule \"maxfwd.so\"\n";

fn script(lang: Lang) -> &'static str {
    match lang {
        Lang::Js => include_str!("data/server/route.js"),
        Lang::Squirrel => include_str!("data/server/route.nut"),
    }
}

/// kemid running the script, its UDP address of the family `v6` and a
/// client of that family.
fn udp_server(lang: Lang, v6: bool) -> (Server, SocketAddr, UdpClient) {
    let server = start(lang, script(lang), CFG);
    let to = addr(&server, Proto::Udp, v6);
    (server, to, UdpClient::new(v6))
}

/// Asserts that a plain OPTIONS to `user` gets 200.
fn assert_200(lang: Lang, client: &UdpClient, to: SocketAddr, user: &str) {
    let req = client.options(&format!("sip:{user}@{to}"), &[]);
    assert_eq!(
        client.transact(to, &req).expect("reply").status_code(),
        Some(200),
        "{lang:?}"
    );
}

/// An OPTIONS to `ruri` over TCP from `client`.
fn tcp_options(client: &TcpClient, ruri: &str) -> Vec<u8> {
    String::from_utf8(options(ruri, &client.local().to_string(), &[]))
        .expect("text")
        .replace("SIP/2.0/UDP", "SIP/2.0/TCP")
        .into_bytes()
}

#[test]
fn keepalive_options_get_200_with_the_request_headers() {
    each_engine(|lang| {
        let (server, to, client) = udp_server(lang, false);
        let req = client.options(&format!("sip:alive@{to}"), &["Max-Forwards: 70"]);
        let reply = client
            .transact(to, &req)
            .unwrap_or_else(|| panic!("{lang:?}: no reply"));
        assert_eq!(reply.status_code(), Some(200), "{lang:?}");
        assert_eq!(reply.reason(), Some("Alive alive"), "{lang:?}");
        let sent = kemid::sip::SipMsg::parse(req).expect("valid");
        assert_eq!(reply.call_id().ok(), sent.call_id().ok());
        assert_eq!(
            reply.from_header().ok().and_then(|f| f.tag()),
            sent.from_header().ok().and_then(|f| f.tag())
        );
        assert!(
            reply.to_header().ok().and_then(|t| t.tag()).is_some(),
            "{lang:?}: a To-tag is added"
        );
        let via = reply.top_via().expect("Via copied");
        assert_eq!(via.rport(), None, "no rport was asked");
        assert!(reply.header(HeaderName::Server).is_some());
        server.stop();
    });
}

#[test]
fn max_forwards_zero_gets_483_and_missing_gets_added() {
    each_engine(|lang| {
        let (server, to, client) = udp_server(lang, false);
        let req = client.options(&format!("sip:a@{to}"), &["Max-Forwards: 0"]);
        let reply = client.transact(to, &req).expect("reply");
        assert_eq!(reply.status_code(), Some(483), "{lang:?}");
        assert_200(lang, &client, to, "a");
        server.stop();
    });
}

#[test]
fn other_requests_get_404_and_ack_gets_nothing() {
    each_engine(|lang| {
        let (server, to, client) = udp_server(lang, false);
        let msg = String::from_utf8(client.options(&format!("sip:a@{to}"), &[]))
            .expect("text")
            .replace("OPTIONS", "MESSAGE");
        assert_eq!(
            client
                .transact(to, msg.as_bytes())
                .expect("reply")
                .status_code(),
            Some(404),
            "{lang:?}"
        );
        let ack = msg.replace("MESSAGE", "ACK");
        client.send(to, ack.as_bytes());
        assert!(
            client.recv(Duration::from_millis(400)).is_none(),
            "{lang:?}: ACK is never answered"
        );
        server.stop();
    });
}

#[test]
fn compact_headers_and_rport_are_honoured() {
    each_engine(|lang| {
        let (server, to, client) = udp_server(lang, false);
        let req = format!(
            "OPTIONS sip:compact@{to} SIP/2.0\r\nv: SIP/2.0/UDP 192.0.2.9:5999;branch=z9hG4bK-c{n};rport\r\nf: <sip:t@example.com>;tag=c{n}\r\nt: <sip:k@example.com>\r\ni: compact-{n}\r\nCSeq: 7 OPTIONS\r\nl: 0\r\n\r\n",
            n = common::unique()
        );
        // The Via names another host, but rport sends the reply back here.
        let reply = client
            .transact(to, req.as_bytes())
            .expect("reply over rport");
        assert_eq!(reply.status_code(), Some(200), "{lang:?}");
        let via = reply.top_via().expect("Via");
        assert_eq!(via.rport(), Some(Some(client.local().port())));
        assert_eq!(via.received(), Some("127.0.0.1"));
        server.stop();
    });
}

#[test]
fn ipv6_request_uri_and_transport() {
    each_engine(|lang| {
        let (server, to, client) = udp_server(lang, true);
        let req = client.options(&format!("sip:six@{to}"), &[]);
        let reply = client.transact(to, &req).expect("reply over IPv6");
        assert_eq!(reply.status_code(), Some(200), "{lang:?}");
        assert_eq!(reply.reason(), Some("Alive six"));
        server.stop();
    });
}

#[test]
fn garbage_then_a_normal_request_is_still_answered() {
    each_engine(|lang| {
        let (server, to, client) = udp_server(lang, false);
        client.send(to, b"\x00\x01garbage\xff\xfe not sip at all");
        client.send(to, &[0u8; 3000]);
        // A request whose headers cannot be parsed but whose Via, From,
        // To, Call-ID and CSeq can: 400.
        let n = common::unique();
        let bad = format!(
            "OPTIONS sip:a@{to} SIP/2.0\r\nVia: SIP/2.0/UDP {};branch=z9hG4bK-b{n}\r\nFrom: <sip:t@x>;tag=b{n}\r\nTo: <sip:k@x>\r\nCall-ID: bad-{n}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 999\r\n\r\n",
            client.local()
        );
        let reply = client
            .transact(to, bad.as_bytes())
            .expect("400 for a bad request");
        assert_eq!(reply.status_code(), Some(400), "{lang:?}");
        assert_200(lang, &client, to, "after");
        server.stop();
    });
}

#[test]
fn tcp_requests_are_answered_on_the_same_connection() {
    each_engine(|lang| {
        let server = start(lang, script(lang), CFG);
        let to = addr(&server, Proto::Tcp, false);
        let mut client = TcpClient::connect(to);
        for i in 0..3 {
            let req = tcp_options(&client, &format!("sip:tcp{i}@{to}"));
            client.send(&req);
            let reply = client
                .recv(Duration::from_secs(3))
                .expect("reply on the connection");
            assert_eq!(reply.status_code(), Some(200), "{lang:?}");
            assert_eq!(reply.reason(), Some(format!("Alive tcp{i}").as_str()));
        }
        // Two requests in one segment, then a keepalive ping.
        let two: Vec<u8> = [0, 1]
            .iter()
            .flat_map(|i| tcp_options(&client, &format!("sip:pair{i}@{to}")))
            .collect();
        client.send(&two);
        for i in 0..2 {
            let reply = client.recv(Duration::from_secs(3)).expect("both answered");
            assert_eq!(
                reply.reason(),
                Some(format!("Alive pair{i}").as_str()),
                "in order"
            );
        }
        server.stop();
    });
}
