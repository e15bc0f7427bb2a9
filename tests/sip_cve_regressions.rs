//! Messages of the kinds behind past Kamailio advisories, against a real
//! kemid on loopback over UDP and TCP: an empty To/From tag (refused by
//! the parser) or a repeated one (400 from the script's sanity check),
//! a Via of `SIP/2.0/UDP :]`, white space before a header's colon used to
//! slip past header removal. Each gets a 4xx or a counted, logged drop,
//! the server keeps serving, and every reader of a header agrees on it.
//! (An impossible Content-Length is in tests/transport_limits.rs.)

mod common;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{addr, request, start, TcpClient, UdpClient};
use kemid::engine::Lang;
use kemid::server::Server;
use kemid::sip::SipMsg;
use kemid::transport::Proto;

fn script(peer: SocketAddr) -> String {
    format!(
        r#"function ksr_request_route() {{
    // From and To carry at most one tag, else 400 (sanity 4096).
    if (KSR.sanity.sanity_check(4096, 0) < 0) {{
        return;
    }}
    if (KSR.is_method_in("O")) {{
        var seen = KSR.hdr.is_present("X-Secret") > 0 ? "Secret" : "None";
        KSR.sl.sl_send_reply(200, seen + " " + KSR.pv.get("$tt"));
        return;
    }}
    KSR.hdr.remove("X-Secret");
    KSR.hdr.remove("Subject");
    KSR.hdr.remove("To");
    KSR.forward_uri("sip:{peer}");
}}
"#
    )
}

fn server(peer: SocketAddr) -> Server {
    start(
        Lang::Js,
        &script(peer),
        "loadmodule \"sl.so\"\nloadmodule \"textops.so\"\nloadmodule \"sanity.so\"\n",
    )
}

fn bad_messages(server: &Server) -> u64 {
    server.core().stats.bad_messages.load(Ordering::Relaxed)
}

/// A request from `via` with `to` and `from` as the To and From values
/// and `extra` header lines.
fn req(method: &str, via: &str, from: &str, to: &str, extra: &[&str]) -> Vec<u8> {
    let first = format!("{method} sip:bob@127.0.0.1 SIP/2.0");
    let via = format!("Via: SIP/2.0/UDP {via};branch=z9hG4bK-{}", common::unique());
    let from = format!("From: {from}");
    let to = format!("To: {to}");
    let call = format!("Call-ID: cve-{}@test", common::unique());
    let cseq = format!("CSeq: 1 {method}");
    let mut lines = vec![
        first.as_str(),
        via.as_str(),
        from.as_str(),
        to.as_str(),
        call.as_str(),
        cseq.as_str(),
        "Max-Forwards: 70",
    ];
    lines.extend_from_slice(extra);
    lines.push("Content-Length: 0");
    request(&lines)
}

/// Empty tags: the message is refused by the parser, counted and logged.
const EMPTY_TAGS: [(&str, &str); 4] = [
    ("<sip:a@example.org>;tag=1", "<sip:bob@example.org>;tag="),
    ("<sip:a@example.org>;tag=1", "<sip:bob@example.org>;tag"),
    ("<sip:a@example.org>;tag=", "<sip:bob@example.org>"),
    ("sip:a@example.org;tag=1", "sip:bob@example.org;TAG= "),
];

/// Several tags: the script's sanity check answers 400.
const REPEATED_TAGS: [(&str, &str); 3] = [
    (
        "<sip:a@example.org>;tag=1",
        "<sip:bob@example.org>;tag=x;tag=y",
    ),
    ("<sip:a@example.org>;tag=1;TAG=2", "<sip:bob@example.org>"),
    (
        "<sip:a@example.org>;tag=1;tag=1",
        "<sip:bob@example.org>;tag=z",
    ),
];

#[test]
fn an_empty_tag_is_dropped_with_a_log_and_a_repeated_one_gets_400() {
    let peer = UdpClient::new(false);
    let server = server(peer.local());
    let to = addr(&server, Proto::Udp, false);
    let client = UdpClient::new(false);
    let via = client.local().to_string();
    for (from, to_value) in EMPTY_TAGS {
        let before = bad_messages(&server);
        client.send(to, &req("OPTIONS", &via, from, to_value, &[]));
        assert!(
            client.recv(Duration::from_millis(400)).is_none(),
            "no answer to From {from} / To {to_value}"
        );
        assert_eq!(
            bad_messages(&server),
            before + 1,
            "counted: {from} / {to_value}"
        );
    }
    for (from, to_value) in REPEATED_TAGS {
        let reply = client
            .transact(to, &req("OPTIONS", &via, from, to_value, &[]))
            .unwrap_or_else(|| panic!("an answer to From {from} / To {to_value}"));
        assert_eq!(
            reply.status_code(),
            Some(400),
            "From {from} / To {to_value}"
        );
    }
    // One good tag: answered, and the script reads that one tag.
    let good = req(
        "OPTIONS",
        &via,
        "<sip:a@example.org>;tag=1",
        "<sip:bob@example.org>;tag=t9",
        &[],
    );
    let reply = client.transact(to, &good).expect("answered");
    assert_eq!(reply.status_code(), Some(200));
    assert_eq!(reply.reason(), Some("None t9"));

    // Over TCP the same, and the connection stays usable.
    let mut c = TcpClient::connect(addr(&server, Proto::Tcp, false));
    let via = c.local().to_string();
    for (from, to_value) in EMPTY_TAGS {
        let before = bad_messages(&server);
        c.send(&req("OPTIONS", &via, from, to_value, &[]));
        assert!(
            c.recv(Duration::from_millis(400)).is_none(),
            "TCP: {from} / {to_value}"
        );
        assert_eq!(
            bad_messages(&server),
            before + 1,
            "TCP, counted: {from} / {to_value}"
        );
    }
    for (from, to_value) in REPEATED_TAGS {
        c.send(&req("OPTIONS", &via, from, to_value, &[]));
        let reply = c.recv(Duration::from_secs(3)).expect("TCP: answered");
        assert_eq!(
            reply.status_code(),
            Some(400),
            "TCP: From {from} / To {to_value}"
        );
    }
    c.send(&req(
        "OPTIONS",
        &via,
        "<sip:a@example.org>;tag=1",
        "<sip:bob@example.org>",
        &[],
    ));
    let reply = c
        .recv(Duration::from_secs(3))
        .expect("the connection still serves");
    assert_eq!(reply.status_code(), Some(200));
    server.stop();
}

#[test]
fn a_via_without_a_host_gets_400_over_udp_and_tcp() {
    let peer = UdpClient::new(false);
    let server = server(peer.local());
    let client = UdpClient::new(false);
    let to = addr(&server, Proto::Udp, false);
    for via in [
        "SIP/2.0/UDP :]",
        "SIP/2.0/UDP :];branch=z9hG4bK1",
        "SIP/2.0/UDP [",
        "SIP/2.0/UDP host;;",
    ] {
        let msg = String::from_utf8(req(
            "OPTIONS",
            "placeholder",
            "<sip:a@example.org>;tag=1",
            "<sip:bob@example.org>",
            &[],
        ))
        .expect("text");
        let top = msg
            .lines()
            .find(|l| l.starts_with("Via:"))
            .expect("Via")
            .to_owned();
        let msg = msg.replace(&top, &format!("Via: {via}"));
        let reply = client
            .transact(to, msg.as_bytes())
            .unwrap_or_else(|| panic!("UDP: no answer for {via:?}"));
        assert_eq!(reply.status_code(), Some(400), "UDP {via:?}");
        assert_eq!(reply.reason(), Some("Bad Request"), "UDP {via:?}");

        let mut c = TcpClient::connect(addr(&server, Proto::Tcp, false));
        c.send(msg.as_bytes());
        let reply = c
            .recv(Duration::from_secs(3))
            .unwrap_or_else(|| panic!("TCP: no answer for {via:?}"));
        assert_eq!(reply.status_code(), Some(400), "TCP {via:?}");
        assert_eq!(reply.reason(), Some("Bad Request"), "TCP {via:?}");
    }
    server.stop();
}

/// The header names of `m`'s lines, lower-cased, as written.
fn names(m: &SipMsg) -> Vec<String> {
    let text = String::from_utf8_lossy(m.as_bytes()).into_owned();
    text.split("\r\n")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter(|l| !l.starts_with([' ', '\t']))
        .filter_map(|l| {
            l.split_once(':')
                .map(|(n, _)| n.trim().to_ascii_lowercase())
        })
        .collect()
}

#[test]
fn white_space_before_the_colon_does_not_hide_a_header() {
    let peer = UdpClient::new(false);
    let server = server(peer.local());
    let to = addr(&server, Proto::Udp, false);
    let client = UdpClient::new(false);
    let via = client.local().to_string();
    // The script sees the header however its name is followed.
    for line in ["X-Secret : 1", "X-Secret\t:1", "x-secret   :  1"] {
        let reply = client
            .transact(
                to,
                &req(
                    "OPTIONS",
                    &via,
                    "<sip:a@example.org>;tag=1",
                    "<sip:bob@example.org>",
                    &[line],
                ),
            )
            .expect("answered");
        assert_eq!(
            reply.reason().map(|r| r.starts_with("Secret")),
            Some(true),
            "{line:?}"
        );
    }
    // Removal takes every form of the name: spaced, tabbed, compact.
    let msg = String::from_utf8(req(
        "MESSAGE",
        &via,
        "<sip:a@example.org>;tag=1",
        "<sip:bob@example.org>",
        &[
            "X-Secret : one",
            "x-secret\t: two",
            "Subject : three",
            "s : four",
            "t : <sip:also-to@example.org>",
        ],
    ))
    .expect("text")
    .replacen("To: ", "To : ", 1);
    client.send(to, msg.as_bytes());
    let got = peer
        .recv(Duration::from_secs(3))
        .expect("the MESSAGE is forwarded to the peer");
    let names = names(&got);
    for gone in ["x-secret", "subject", "s", "to", "t"] {
        assert!(
            !names.contains(&gone.to_owned()),
            "{gone} left in {names:?}"
        );
    }
    assert!(names.contains(&"call-id".to_owned()), "{names:?}");
    server.stop();
}
