//! tm through a real kemid: a caller and callees on loopback sockets, the
//! same script in both engines. Covers a full call, serial forking from a
//! failure route, CANCEL of a ringing call, a timeout, and retransmission
//! absorption.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{
    addr, answer, codes, each_engine, expect_request, final_reply, is_final, recv_until,
    replies_until_all, start, UdpClient,
};
use kemid::engine::Lang;
use kemid::server::Server;
use kemid::sip::{Method, SipMsg};
use kemid::transport::Proto;

const CFG: &str = "loadmodule \"sl.so\"\nloadmodule \"corex.so\"\nloadmodule \"tm.so\"\nloadmodule \"tmx.so\"\nmodparam(\"tm\", \"fr_timer\", 1500)\nmodparam(\"tm\", \"fr_inv_timer\", 3000)\n";

/// The same text is valid JavaScript and Squirrel. `second` is where the
/// failure route sends a call refused with 486.
fn script(second: SocketAddr) -> String {
    format!(
        r#"
function ksr_request_route() {{
    // 0: a retransmission or an ACK to a negative reply, absorbed.
    if (KSR.tm.t_check_trans() == 0) {{
        return;
    }}
    // t_relay forwards an ACK to a 2xx statelessly and turns a CANCEL of
    // a known INVITE into CANCELs of its branches.
    if (KSR.pv.get("$rU") == "gone") {{
        KSR.tm.t_newtran();
        KSR.sl.send_reply(404, "Gone");
        return;
    }}
    KSR.tm.t_on_failure("ksr_failure");
    if (KSR.pv.get("$rU") == "fork") {{
        KSR.corex.append_branch_uri("sip:fork@{second}");
    }}
    if (KSR.tm.t_relay() < 0) {{
        KSR.sl.sl_reply_error();
    }}
}}

function ksr_failure() {{
    if (KSR.tm.t_is_canceled() > 0) {{
        return;
    }}
    if (KSR.tm.t_check_status("486") > 0) {{
        KSR.tm.t_relay_to_proxy("udp:{second}");
        return;
    }}
    if (KSR.tm.t_check_status("404") > 0) {{
        KSR.tm.t_reply(480, "was " + KSR.pv.get("$T_reply_code") + " " + KSR.pv.get("$T_rpl($hdr(X-Why))"));
    }}
}}
"#
    )
}

/// An INVITE from `caller` to `sip:bob@` at `callee`.
fn invite(caller: &UdpClient, callee: SocketAddr) -> Vec<u8> {
    let n = common::unique();
    format!(
        "INVITE sip:bob@{callee} SIP/2.0\r\nVia: SIP/2.0/UDP {};branch=z9hG4bK-inv{n};rport\r\nFrom: <sip:alice@example.com>;tag=a{n}\r\nTo: <sip:bob@example.com>\r\nCall-ID: call-{n}\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@{}>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        caller.local(),
        caller.local()
    )
    .into_bytes()
}

/// The codes of the replies the caller sees until a final one (or none in
/// `wait`).
fn replies_until_final(caller: &UdpClient, wait: Duration) -> Vec<u16> {
    codes(&recv_until(caller, wait, is_final))
}

/// kemid running [`script`] with `second` as the failure route's target,
/// a callee and a caller.
struct Setup {
    server: Server,
    proxy: SocketAddr,
    second: UdpClient,
    callee: UdpClient,
    caller: UdpClient,
}

fn setup(lang: Lang, cfg: &str) -> Setup {
    let second = UdpClient::new(false);
    let server = start(lang, &script(second.local()), cfg);
    let proxy = addr(&server, Proto::Udp, false);
    Setup {
        server,
        proxy,
        second,
        callee: UdpClient::new(false),
        caller: UdpClient::new(false),
    }
}

impl Setup {
    /// Sends an INVITE for the callee; the INVITE sent and the one the
    /// callee received.
    fn call(&self, lang: Lang) -> (Vec<u8>, SipMsg) {
        let inv = invite(&self.caller, self.callee.local());
        self.caller.send(self.proxy, &inv);
        let got = expect_request(&self.callee, Method::Invite, Duration::from_secs(2))
            .unwrap_or_else(|| panic!("{lang:?}: INVITE relayed"));
        (inv, got)
    }
}

#[test]
fn a_call_is_relayed_with_100_180_200_and_retransmissions_are_absorbed() {
    each_engine(|lang| {
        let s = setup(lang, CFG);
        let (inv, got) = s.call(lang);
        assert_eq!(got.vias().expect("Vias").len(), 2, "kemid added its Via");
        // The caller retransmits: kemid answers 100 again and does not relay.
        s.caller.send(s.proxy, &inv);
        answer(&s.callee, &got, 180, "b1", "");
        answer(&s.callee, &got, 200, "b1", "");
        let mut codes = Vec::new();
        for _ in 0..4 {
            if let Some(m) = s.caller.recv(Duration::from_millis(800)) {
                codes.push(m.status_code().unwrap_or(0));
                if m.status_code() == Some(200) {
                    assert_eq!(m.vias().expect("Via").len(), 1, "kemid removed its Via");
                    break;
                }
            }
        }
        assert_eq!(codes.first(), Some(&100), "{lang:?}: {codes:?}");
        assert!(
            codes.contains(&180) && codes.last() == Some(&200),
            "{lang:?}: {codes:?}"
        );
        assert!(
            expect_request(&s.callee, Method::Invite, Duration::from_millis(300)).is_none(),
            "{lang:?}: the retransmitted INVITE was absorbed"
        );
        s.server.stop();
    });
}

#[test]
fn a_busy_callee_is_replaced_by_the_failure_route() {
    each_engine(|lang| {
        let s = setup(lang, CFG);
        let (_, first) = s.call(lang);
        answer(&s.callee, &first, 486, "busy", "");
        // kemid ACKs the 486 hop by hop.
        assert!(
            expect_request(&s.callee, Method::Ack, Duration::from_secs(2)).is_some(),
            "{lang:?}: ACK for 486"
        );
        let next = expect_request(&s.second, Method::Invite, Duration::from_secs(2))
            .unwrap_or_else(|| panic!("{lang:?}: serial fork"));
        answer(&s.second, &next, 200, "ok", "");
        let codes = replies_until_final(&s.caller, Duration::from_secs(3));
        assert_eq!(codes.last(), Some(&200), "{lang:?}: {codes:?}");
        assert!(!codes.contains(&486), "{lang:?}: the 486 was not passed on");
        s.server.stop();
    });
}

#[test]
fn cancel_of_a_ringing_call_gives_200_and_487() {
    each_engine(|lang| {
        let s = setup(lang, CFG);
        let (inv, got) = s.call(lang);
        answer(&s.callee, &got, 180, "r1", "");
        let codes = {
            let mut c = Vec::new();
            while let Some(m) = s.caller.recv(Duration::from_millis(500)) {
                c.push(m.status_code().unwrap_or(0));
                if c.contains(&180) {
                    break;
                }
            }
            c
        };
        assert!(codes.contains(&180), "{lang:?}: ringing: {codes:?}");
        let cancel = String::from_utf8(inv)
            .expect("text")
            .replace("INVITE sip:", "CANCEL sip:")
            .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL");
        s.caller.send(s.proxy, cancel.as_bytes());
        let c = expect_request(&s.callee, Method::Cancel, Duration::from_secs(2))
            .unwrap_or_else(|| panic!("{lang:?}: CANCEL relayed"));
        answer(&s.callee, &c, 200, "r1", "");
        answer(&s.callee, &got, 487, "r1", "");
        let seen = replies_until_all(
            &s.caller,
            Duration::from_secs(3),
            &[(200, Method::Cancel), (487, Method::Invite)],
        );
        assert!(
            seen.contains(&(200, Method::Cancel)),
            "{lang:?}: 200 for CANCEL: {seen:?}"
        );
        assert!(
            seen.contains(&(487, Method::Invite)),
            "{lang:?}: 487 for INVITE: {seen:?}"
        );
        assert!(
            expect_request(&s.callee, Method::Ack, Duration::from_secs(1)).is_some(),
            "{lang:?}: 487 ACKed"
        );
        s.server.stop();
    });
}

#[test]
fn an_unresponsive_destination_times_out_with_408() {
    each_engine(|lang| {
        let s = setup(lang, CFG);
        let silent = &s.callee;
        let n = common::unique();
        let options = format!(
            "OPTIONS sip:nobody@{} SIP/2.0\r\nVia: SIP/2.0/UDP {};branch=z9hG4bK-to{n}\r\nFrom: <sip:a@x>;tag=t{n}\r\nTo: <sip:nobody@x>\r\nCall-ID: to-{n}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
            silent.local(),
            s.caller.local()
        );
        s.caller.send(s.proxy, options.as_bytes());
        // kemid retransmits to the silent destination (Timer E) ...
        assert!(expect_request(silent, Method::Options, Duration::from_secs(1)).is_some());
        assert!(
            expect_request(silent, Method::Options, Duration::from_secs(1)).is_some(),
            "{lang:?}: retransmitted"
        );
        // ... and answers 408 after fr_timer (1.5 s).
        let codes = replies_until_final(&s.caller, Duration::from_secs(4));
        assert_eq!(codes.last(), Some(&408), "{lang:?}: {codes:?}");
        s.server.stop();
    });
}

#[test]
fn finished_transactions_are_freed_after_the_wait_timer() {
    let s = setup(
        Lang::Js,
        &format!("{CFG}modparam(\"tm\", \"wait_timer\", 300)\n"),
    );
    for i in 0..50 {
        let n = common::unique();
        let req = format!(
            "OPTIONS sip:bob@{} SIP/2.0\r\nVia: SIP/2.0/UDP {};branch=z9hG4bK-f{n}\r\nFrom: <sip:a@x>;tag=f{n}\r\nTo: <sip:b@x>\r\nCall-ID: free-{n}\r\nCSeq: {i} OPTIONS\r\nContent-Length: 0\r\n\r\n",
            s.callee.local(),
            s.caller.local()
        );
        s.caller.send(s.proxy, req.as_bytes());
        let got =
            expect_request(&s.callee, Method::Options, Duration::from_secs(2)).expect("relayed");
        answer(&s.callee, &got, 200, "ok", "");
        assert_eq!(
            replies_until_final(&s.caller, Duration::from_secs(2)).last(),
            Some(&200)
        );
    }
    let tm = s.server.core().tm_service().expect("tm loaded");
    assert_eq!(
        tm.stats.created.load(std::sync::atomic::Ordering::Relaxed),
        50
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while tm.active() > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(tm.active(), 0, "every finished transaction was freed");
    assert_eq!(
        tm.stats.freed.load(std::sync::atomic::Ordering::Relaxed),
        50
    );
    s.server.stop();
}

/// A call to `sip:fork@` through a proxy running [`script`]: forked to
/// `first` (the Request-URI) and `second` (an appended branch).
struct Forked {
    server: Server,
    caller: UdpClient,
    first: UdpClient,
    second: UdpClient,
    /// The INVITE each branch received.
    a: SipMsg,
    b: SipMsg,
}

fn forked_call(lang: Lang) -> Forked {
    let Setup {
        server,
        proxy,
        second,
        callee: first,
        caller,
    } = setup(lang, CFG);
    let inv = String::from_utf8(invite(&caller, first.local()))
        .expect("text")
        .replacen("INVITE sip:bob@", "INVITE sip:fork@", 1);
    caller.send(proxy, inv.as_bytes());
    let a = expect_request(&first, Method::Invite, Duration::from_secs(2))
        .unwrap_or_else(|| panic!("{lang:?}: branch 1"));
    let b = expect_request(&second, Method::Invite, Duration::from_secs(2))
        .unwrap_or_else(|| panic!("{lang:?}: branch 2"));
    Forked {
        server,
        caller,
        first,
        second,
        a,
        b,
    }
}

#[test]
fn parallel_forking_takes_the_first_2xx_and_cancels_the_other_branch() {
    each_engine(|lang| {
        let f = forked_call(lang);
        answer(&f.first, &f.a, 180, "a", "");
        answer(&f.second, &f.b, 200, "b", "");
        let codes = replies_until_final(&f.caller, Duration::from_secs(3));
        assert_eq!(codes.last(), Some(&200), "{lang:?}: {codes:?}");
        // The ringing branch is cancelled.
        let c = expect_request(&f.first, Method::Cancel, Duration::from_secs(2))
            .unwrap_or_else(|| panic!("{lang:?}: CANCEL"));
        answer(&f.first, &c, 200, "a", "");
        answer(&f.first, &f.a, 487, "a", "");
        assert!(
            expect_request(&f.first, Method::Ack, Duration::from_secs(2)).is_some(),
            "{lang:?}: 487 ACKed"
        );
        f.server.stop();
    });
}

#[test]
fn a_6xx_on_one_branch_cancels_the_others_and_goes_upstream() {
    each_engine(|lang| {
        let f = forked_call(lang);
        answer(&f.first, &f.a, 180, "a", "");
        answer(&f.second, &f.b, 603, "b", "");
        // The ringing branch is cancelled at once, before it answers.
        let c = expect_request(&f.first, Method::Cancel, Duration::from_secs(2))
            .unwrap_or_else(|| panic!("{lang:?}: no CANCEL after the 603"));
        answer(&f.first, &c, 200, "a", "");
        answer(&f.first, &f.a, 487, "a", "");
        let codes = replies_until_final(&f.caller, Duration::from_secs(3));
        assert_eq!(codes.last(), Some(&603), "{lang:?}: {codes:?}");
        f.server.stop();
    });
}

#[test]
fn the_failure_route_reads_the_reply_through_t_pseudo_variables() {
    each_engine(|lang| {
        let s = setup(lang, CFG);
        let (_, got) = s.call(lang);
        answer(&s.callee, &got, 404, "n", "X-Why: nobody here");
        let replies = recv_until(&s.caller, Duration::from_secs(3), is_final);
        let last = final_reply(&replies).unwrap_or_else(|| panic!("{lang:?}: a final reply"));
        assert_eq!(last.status_code(), Some(480), "{lang:?}");
        assert_eq!(last.reason(), Some("was 404 nobody here"), "{lang:?}");
        s.server.stop();
    });
}

#[test]
fn challenges_of_every_branch_are_aggregated_into_the_401() {
    let f = forked_call(Lang::Js);
    answer(
        &f.first,
        &f.a,
        401,
        "c",
        "WWW-Authenticate: Digest realm=\"one\", nonce=\"1\"",
    );
    answer(
        &f.second,
        &f.b,
        407,
        "c",
        "Proxy-Authenticate: Digest realm=\"two\", nonce=\"2\"",
    );
    let replies = recv_until(&f.caller, Duration::from_secs(3), is_final);
    let last = final_reply(&replies).expect("a final reply");
    assert!(matches!(last.status_code(), Some(401 | 407)));
    let text = String::from_utf8_lossy(last.as_bytes()).into_owned();
    assert!(
        text.contains("realm=\"one\"") && text.contains("realm=\"two\""),
        "{text}"
    );
    f.server.stop();
}

#[test]
fn sl_send_reply_after_t_newtran_is_stateful_so_retransmissions_get_it_again() {
    each_engine(|lang| {
        let s = setup(lang, CFG);
        let inv = String::from_utf8(invite(&s.caller, s.second.local()))
            .expect("text")
            .replacen("INVITE sip:bob@", "INVITE sip:gone@", 1);
        for round in 0..2 {
            s.caller.send(s.proxy, inv.as_bytes());
            let codes = replies_until_final(&s.caller, Duration::from_secs(2));
            assert_eq!(
                codes.last(),
                Some(&404),
                "{lang:?} round {round}: {codes:?}"
            );
        }
        s.server.stop();
    });
}

/// Branch, reply and branch-failure routes: `skip` is dropped in the
/// branch route, a 183 is dropped in the reply route, the branch-failure
/// route notes each negative code, and the failure route, run once after
/// the last branch fails, answers with the last code noted.
fn routes_script(skip: SocketAddr, second: SocketAddr) -> String {
    format!(
        r#"
function ksr_request_route() {{
    if (KSR.tm.t_check_trans() == 0) {{
        return;
    }}
    KSR.tm.t_on_failure("ksr_failure");
    KSR.tm.t_on_branch_failure("ksr_branch_failure");
    KSR.tm.t_on_branch("ksr_branch");
    KSR.tm.t_on_reply("ksr_reply");
    KSR.corex.append_branch_uri("sip:skip@{skip}");
    KSR.corex.append_branch_uri("sip:fork@{second}");
    KSR.tm.t_relay();
}}

function ksr_branch() {{
    if (KSR.pv.get("$rU") == "skip") {{
        KSR.x.drop();
    }}
}}

function ksr_reply() {{
    if (KSR.pv.get("$rs") == 183) {{
        KSR.x.drop();
    }}
}}

function ksr_branch_failure() {{
    KSR.pv.sets("$avp(last_bf)", "" + KSR.pv.get("$T_reply_code"));
}}

function ksr_failure() {{
    KSR.tm.t_reply(480, "bf " + KSR.pv.get("$avp(last_bf)"));
}}
"#
    )
}

#[test]
fn branch_reply_and_branch_failure_routes_drop_and_observe() {
    each_engine(|lang| {
        let skip = UdpClient::new(false);
        let second = UdpClient::new(false);
        let server = start(lang, &routes_script(skip.local(), second.local()), CFG);
        let proxy = addr(&server, Proto::Udp, false);
        let callee = UdpClient::new(false);
        let caller = UdpClient::new(false);
        caller.send(proxy, &invite(&caller, callee.local()));
        let a = expect_request(&callee, Method::Invite, Duration::from_secs(2))
            .unwrap_or_else(|| panic!("{lang:?}: branch 1"));
        let b = expect_request(&second, Method::Invite, Duration::from_secs(2))
            .unwrap_or_else(|| panic!("{lang:?}: branch 3"));
        assert!(
            expect_request(&skip, Method::Invite, Duration::from_millis(300)).is_none(),
            "{lang:?}: the branch dropped in the branch route was sent"
        );
        answer(&callee, &a, 183, "a", "");
        answer(&callee, &a, 486, "a", "");
        assert!(
            expect_request(&callee, Method::Ack, Duration::from_secs(2)).is_some(),
            "{lang:?}: 486 ACKed"
        );
        answer(&second, &b, 404, "b", "");
        let replies = recv_until(&caller, Duration::from_secs(3), is_final);
        let seen = codes(&replies);
        assert!(
            !seen.contains(&183),
            "{lang:?}: the dropped 183 went upstream: {seen:?}"
        );
        let last = final_reply(&replies).unwrap_or_else(|| panic!("{lang:?}: {seen:?}"));
        assert_eq!(last.status_code(), Some(480), "{lang:?}: {seen:?}");
        assert_eq!(last.reason(), Some("bf 404"), "{lang:?}");
        server.stop();
    });
}
