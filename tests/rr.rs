//! A real kemid on loopback record-routing an INVITE and routing in-dialog
//! requests by their Route set, forwarding statelessly, in both engines.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{addr, each_engine, script_in, start, unique, UdpClient};
use kemid::sip::SipMsg;
use kemid::transport::Proto;

/// Initial INVITEs are record-routed (with a parameter) and forwarded to
/// their Request-URI; in-dialog requests follow `loose_route`, or get 404
/// with its code; an in-dialog OPTIONS is answered with the code and the
/// direction. In JavaScript; `script_in` makes the Squirrel text.
const SCRIPT: &str = r#"
function ksr_request_route() {
    if (KSR.pv.gete("$tt") != "") {
        var rc = KSR.rr.loose_route();
        if (KSR.pv.get("$rm") == "OPTIONS") {
            var dir = "downstream";
            if (KSR.rr.is_direction("upstream") > 0) {
                dir = "upstream";
            }
            KSR.sl.sl_send_reply(200, "rc=" + rc + " " + dir);
            return;
        }
        if (rc > 0) {
            KSR.forward();
            return;
        }
        KSR.sl.sl_send_reply(404, "No Route " + rc);
        return;
    }
    if (KSR.pv.get("$rm") == "INVITE") {
        KSR.rr.record_route();
        KSR.rr.add_rr_param(";kemid=yes");
    }
    KSR.forward();
}
"#;

const CFG: &str = "loadmodule \"sl.so\"\nloadmodule \"rr.so\"\n";

fn request(
    method: &str,
    ruri: &str,
    via: SocketAddr,
    from_tag: &str,
    to_tag: Option<&str>,
    routes: &[String],
) -> Vec<u8> {
    let mut t = format!(
        "{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP {via};branch=z9hG4bK-{n};rport\r\nMax-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag={from_tag}\r\nTo: <sip:bob@example.com>{to}\r\nCall-ID: rr-{n}@test\r\nCSeq: 1 {method}\r\n",
        n = unique(),
        to = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default()
    );
    for r in routes {
        t.push_str(&format!("Route: {r}\r\n"));
    }
    t.push_str("Content-Length: 0\r\n\r\n");
    t.into_bytes()
}

fn header_values(msg: &SipMsg, name: &str) -> Vec<String> {
    msg.values_by_name(name).map(str::to_owned).collect()
}

#[test]
fn record_route_then_route_in_dialog_in_both_engines() {
    each_engine(|lang| {
        let server = start(lang, &script_in(lang, SCRIPT), CFG);
        let proxy = addr(&server, Proto::Udp, false);
        let caller = UdpClient::new(false);
        let callee = UdpClient::new(false);

        // The INVITE reaches the callee with our Record-Route on top.
        let invite = request(
            "INVITE",
            &format!("sip:bob@{}", callee.local()),
            caller.local(),
            "caller1",
            None,
            &[],
        );
        caller.send(proxy, &invite);
        let got = callee
            .recv(Duration::from_secs(3))
            .unwrap_or_else(|| panic!("{lang:?}: INVITE not forwarded"));
        let rr = header_values(&got, "Record-Route");
        let ours = format!("<sip:{proxy};lr;ftag=caller1;kemid=yes>");
        assert_eq!(rr, std::slice::from_ref(&ours), "{lang:?}");
        assert!(
            got.top_via()
                .is_ok_and(|v| v.sent_by() == proxy.to_string()),
            "{lang:?}: our Via on top"
        );

        // The callee's BYE routes back by the Route set: ours is removed,
        // the next one is where it goes.
        let bye = request(
            "BYE",
            "sip:alice@192.0.2.99:5099",
            callee.local(),
            "callee1",
            Some("caller1"),
            &[ours.clone(), format!("<sip:{};lr>", caller.local())],
        );
        callee.send(proxy, &bye);
        let got = caller
            .recv(Duration::from_secs(3))
            .unwrap_or_else(|| panic!("{lang:?}: BYE not routed"));
        assert_eq!(
            header_values(&got, "Route"),
            [format!("<sip:{};lr>", caller.local())],
            "{lang:?}"
        );
        assert_eq!(
            got.original_ruri_str(),
            Some("sip:alice@192.0.2.99:5099"),
            "{lang:?}: loose routing keeps the Request-URI"
        );

        // Our Route alone: the Request-URI is the next hop.
        let bye = request(
            "BYE",
            &format!("sip:alice@{}", caller.local()),
            callee.local(),
            "caller1",
            Some("callee1"),
            std::slice::from_ref(&ours),
        );
        callee.send(proxy, &bye);
        let got = caller
            .recv(Duration::from_secs(3))
            .unwrap_or_else(|| panic!("{lang:?}: BYE not forwarded"));
        assert!(header_values(&got, "Route").is_empty(), "{lang:?}");

        // The direction of in-dialog requests, from the ftag of our Route.
        for (from_tag, to_tag, dir) in [
            ("caller1", "callee1", "downstream"),
            ("callee1", "caller1", "upstream"),
        ] {
            let opts = request(
                "OPTIONS",
                "sip:x@192.0.2.99",
                caller.local(),
                from_tag,
                Some(to_tag),
                std::slice::from_ref(&ours),
            );
            let reply = caller
                .transact(proxy, &opts)
                .unwrap_or_else(|| panic!("{lang:?}: no reply"));
            assert_eq!(
                reply.reason(),
                Some(format!("rc=1 {dir}").as_str()),
                "{lang:?}"
            );
        }

        // In-dialog without Route: the script answers with the code.
        let lost = request(
            "BYE",
            "sip:alice@192.0.2.99",
            caller.local(),
            "caller1",
            Some("callee1"),
            &[],
        );
        let reply = caller
            .transact(proxy, &lost)
            .unwrap_or_else(|| panic!("{lang:?}: no reply"));
        assert_eq!(reply.status_code(), Some(404), "{lang:?}");
        assert_eq!(reply.reason(), Some("No Route -1"), "{lang:?}");
        server.stop();
    });
}
