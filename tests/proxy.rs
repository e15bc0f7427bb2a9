//! The typical proxy-registrar script (tests/data/proxy/route.js and
//! route.nut, with the modules of proxy-modules.cfg) in a real kemid on
//! loopback: users register, calls reach them through the location table
//! and are record-routed, in-dialog requests follow the Route set, a busy
//! callee is replaced by the failure route, CANCEL, timeouts and
//! retransmissions. Every case of the table at the end runs in both engines.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{
    addr, answer, codes, expect_request, final_reply, is_final, recv_until, replies_until_all,
    start, UdpClient,
};
use kemid::engine::Lang;
use kemid::server::Server;
use kemid::sip::{HeaderName, Method, SipMsg};
use kemid::transport::Proto;

/// proxy-modules.cfg with short tm timers, and the engine settings of
/// proxy.cfg.
fn cfg() -> String {
    format!(
        "#!define TM_FR_TIMER 1500\n#!define TM_FR_INV_TIMER 3000\nkemi.onsend_route_callback=\"none\"\n{}",
        include_str!("data/proxy/proxy-modules.cfg")
    )
}

fn script(lang: Lang) -> &'static str {
    match lang {
        Lang::Js => include_str!("data/proxy/route.js"),
        Lang::Squirrel => include_str!("data/proxy/route.nut"),
    }
}

/// A kemid running the script, and the address it serves UDP on.
struct Proxy {
    server: Option<Server>,
    addr: SocketAddr,
    lang: Lang,
}

impl Proxy {
    fn start(lang: Lang) -> Proxy {
        let server = start(lang, script(lang), &cfg());
        let addr = addr(&server, Proto::Udp, false);
        Proxy {
            server: Some(server),
            addr,
            lang,
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop();
        }
    }
}

fn n() -> u64 {
    common::unique()
}

fn send_text(from: &UdpClient, to: SocketAddr, text: &str) {
    from.send(to, text.as_bytes());
}

/// Replies received until the first final one for `method` (or `wait`).
fn replies_until_final(sock: &UdpClient, method: Method, wait: Duration) -> Vec<SipMsg> {
    let mut got = recv_until(sock, wait, |m| {
        is_final(m) && m.cseq().map(|c| c.method()).ok() == Some(method)
    });
    got.retain(|m| m.status_code().is_some());
    got
}

/// Registers `user` at `contact` from `from`; the 200 reply.
fn register(p: &Proxy, from: &UdpClient, user: &str, contact: SocketAddr) -> SipMsg {
    let i = n();
    let text = format!(
        "REGISTER sip:{px} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK-reg{i};rport\r\nMax-Forwards: 70\r\nFrom: <sip:{user}@{px}>;tag=r{i}\r\nTo: <sip:{user}@{px}>\r\nCall-ID: reg-{i}\r\nCSeq: 1 REGISTER\r\nContact: <sip:{user}@{contact}>\r\nExpires: 300\r\nContent-Length: 0\r\n\r\n",
        px = p.addr,
        me = from.local(),
    );
    let reply = from
        .transact(p.addr, text.as_bytes())
        .unwrap_or_else(|| panic!("{:?}: no reply to REGISTER", p.lang));
    assert_eq!(
        reply.status_code(),
        Some(200),
        "{:?}: REGISTER {user}",
        p.lang
    );
    reply
}

/// A caller's side of one call: what the requests of the dialog reuse.
struct Call {
    caller: UdpClient,
    id: u64,
    invite: String,
    user: String,
}

impl Call {
    /// The INVITE of a call from a new caller to `user` of our domain, with
    /// `extra` header lines (each ending in CRLF).
    fn new(p: &Proxy, user: &str, extra: &str) -> Call {
        let caller = UdpClient::new(false);
        let id = n();
        let invite = format!(
            "INVITE sip:{user}@{px} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK-inv{id};rport\r\nMax-Forwards: 70\r\nFrom: <sip:alice@{px}>;tag=a{id}\r\nTo: <sip:{user}@{px}>\r\nCall-ID: call-{id}\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@{me}>\r\n{extra}Content-Length: 0\r\n\r\n",
            px = p.addr,
            me = caller.local(),
        );
        Call {
            caller,
            id,
            invite,
            user: user.to_owned(),
        }
    }

    fn send_invite(&self, p: &Proxy) {
        send_text(&self.caller, p.addr, &self.invite);
    }

    /// The CANCEL of the INVITE (same branch, R-URI, Call-ID and CSeq number).
    fn cancel(&self) -> String {
        self.invite
            .replacen("INVITE sip:", "CANCEL sip:", 1)
            .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL")
    }

    /// An in-dialog request after a 2xx: to the callee's Contact, with the
    /// Route set from the 2xx's Record-Route, sent to the first Route hop.
    fn in_dialog(&self, p: &Proxy, ok: &SipMsg, method: &str, cseq: u32) -> String {
        let to_tag = ok
            .to_header()
            .expect("To")
            .tag()
            .expect("To tag")
            .to_owned();
        let target = contact_uri(ok);
        let routes: Vec<&str> = ok.values(HeaderName::RecordRoute).collect();
        assert!(
            !routes.is_empty(),
            "{:?}: the 2xx carries a Record-Route",
            p.lang
        );
        format!(
            "{method} {target} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK-{m}{id}-{cseq};rport\r\nRoute: {route}\r\nMax-Forwards: 70\r\nFrom: <sip:alice@{px}>;tag=a{id}\r\nTo: <sip:{user}@{px}>;tag={to_tag}\r\nCall-ID: call-{id}\r\nCSeq: {cseq} {method}\r\nContact: <sip:alice@{me}>\r\nContent-Length: 0\r\n\r\n",
            m = method.to_lowercase(),
            id = self.id,
            me = self.caller.local(),
            route = routes.join(", "),
            px = p.addr,
            user = self.user,
        )
    }
}

/// The URI of the first Contact of a message.
fn contact_uri(m: &SipMsg) -> String {
    let v = m.values(HeaderName::Contact).next().expect("Contact");
    let start = v.find('<').map_or(0, |i| i + 1);
    let end = v[start..].find('>').map_or(v.len(), |i| start + i);
    v[start..end].to_owned()
}

/// The Record-Route headers of a relayed request, for the callee's 2xx,
/// and its Contact.
fn ok_headers(req: &SipMsg, callee: &UdpClient, user: &str) -> String {
    let mut h = String::new();
    for rr in req.values(HeaderName::RecordRoute) {
        h.push_str(&format!("Record-Route: {rr}\r\n"));
    }
    h.push_str(&format!("Contact: <sip:{user}@{}>\r\n", callee.local()));
    h
}

/// A call to a registered callee up to the caller receiving the 200:
/// the relayed INVITE and the caller's replies.
fn call_answered(p: &Proxy, callee: &UdpClient, call: &Call) -> (SipMsg, Vec<SipMsg>) {
    let lang = p.lang;
    call.send_invite(p);
    let inv = expect_request(callee, Method::Invite, Duration::from_secs(3))
        .unwrap_or_else(|| panic!("{lang:?}: the INVITE reaches the registered contact"));
    // The 200 only once the 180 is through: two workers could otherwise
    // take them in either order, and a 1xx after the final is dropped.
    answer(callee, &inv, 180, "b1", "");
    let mut replies = replies_until(&call.caller, 180);
    answer(callee, &inv, 200, "b1", &ok_headers(&inv, callee, "bob"));
    replies.extend(replies_until_final(
        &call.caller,
        Method::Invite,
        Duration::from_secs(3),
    ));
    (inv, replies)
}

/// Messages received until a reply with `code` (at most 2 s).
fn replies_until(sock: &UdpClient, code: u16) -> Vec<SipMsg> {
    recv_until(sock, Duration::from_secs(2), |m| {
        m.status_code() == Some(code)
    })
}

/// A call from a new caller to `bob`, registered at `callee`, ringing with
/// `to_tag`: the INVITE the callee received, once the caller has seen the
/// 180.
fn ringing_call(p: &Proxy, callee: &UdpClient, to_tag: &str) -> (Call, SipMsg) {
    let lang = p.lang;
    register(p, callee, "bob", callee.local());
    let call = Call::new(p, "bob", "");
    call.send_invite(p);
    let inv = expect_request(callee, Method::Invite, Duration::from_secs(3))
        .unwrap_or_else(|| panic!("{lang:?}: INVITE"));
    answer(callee, &inv, 180, to_tag, "");
    let seen = codes(&replies_until(&call.caller, 180));
    assert!(seen.contains(&180), "{lang:?}: ringing: {seen:?}");
    (call, inv)
}

// ---------------------------------------------------------------- cases

fn register_then_call(lang: Lang) {
    let p = Proxy::start(lang);
    let callee = UdpClient::new(false);
    let reply = register(&p, &callee, "bob", callee.local());
    assert!(
        reply
            .values(HeaderName::Contact)
            .any(|c| c.contains(&callee.local().to_string())),
        "{lang:?}: the 200 lists the binding"
    );
    let call = Call::new(&p, "bob", "");
    let (inv, replies) = call_answered(&p, &callee, &call);
    // The INVITE went to the contact, through kemid, record-routed.
    assert_eq!(
        inv.ruri_str(),
        Some(format!("sip:bob@{}", callee.local()).as_str()),
        "{lang:?}: R-URI is the registered contact"
    );
    assert_eq!(
        inv.vias().expect("Vias").len(),
        2,
        "{lang:?}: kemid's Via on top"
    );
    let rr: Vec<&str> = inv.values(HeaderName::RecordRoute).collect();
    assert_eq!(rr.len(), 1, "{lang:?}: one Record-Route: {rr:?}");
    assert!(
        rr[0].contains(&p.addr.to_string()) && rr[0].contains(";lr"),
        "{lang:?}: {rr:?}"
    );
    assert_eq!(
        inv.header(HeaderName::MaxForwards).map(|h| h.value),
        Some("69"),
        "{lang:?}: Max-Forwards decremented"
    );
    let c = codes(&replies);
    assert!(c.contains(&180), "{lang:?}: 180 comes back: {c:?}");
    assert_eq!(c.last(), Some(&200), "{lang:?}: 200 comes back: {c:?}");
    let ok = final_reply(&replies).expect("200");
    assert_eq!(
        ok.vias().expect("Via").len(),
        1,
        "{lang:?}: kemid removed its Via"
    );
    assert_eq!(ok.to_header().expect("To").tag(), Some("b1"));
}

fn record_routed_ack_and_bye(lang: Lang) {
    let p = Proxy::start(lang);
    let callee = UdpClient::new(false);
    register(&p, &callee, "bob", callee.local());
    let call = Call::new(&p, "bob", "");
    let (_, replies) = call_answered(&p, &callee, &call);
    let ok = final_reply(&replies)
        .filter(|m| m.status_code() == Some(200))
        .unwrap_or_else(|| panic!("{lang:?}: 200 for INVITE: {:?}", codes(&replies)));

    // ACK to the 2xx: a new transaction, routed by the Route set.
    send_text(&call.caller, p.addr, &call.in_dialog(&p, ok, "ACK", 1));
    let ack = expect_request(&callee, Method::Ack, Duration::from_secs(2))
        .unwrap_or_else(|| panic!("{lang:?}: the ACK reaches the callee"));
    assert_eq!(
        ack.ruri_str(),
        Some(format!("sip:bob@{}", callee.local()).as_str())
    );
    assert_eq!(
        ack.vias().expect("Vias").len(),
        2,
        "{lang:?}: the ACK went through kemid"
    );
    assert!(
        ack.header(HeaderName::Route).is_none(),
        "{lang:?}: kemid consumed its Route entry"
    );

    // BYE: relayed statefully, its 200 comes back.
    send_text(&call.caller, p.addr, &call.in_dialog(&p, ok, "BYE", 2));
    let bye = expect_request(&callee, Method::Bye, Duration::from_secs(2))
        .unwrap_or_else(|| panic!("{lang:?}: the BYE reaches the callee"));
    assert_eq!(
        bye.vias().expect("Vias").len(),
        2,
        "{lang:?}: the BYE went through kemid"
    );
    assert!(
        bye.header(HeaderName::Route).is_none(),
        "{lang:?}: Route consumed"
    );
    answer(&callee, &bye, 200, "b1", "");
    let replies = replies_until_final(&call.caller, Method::Bye, Duration::from_secs(3));
    assert_eq!(
        codes(&replies).last(),
        Some(&200),
        "{lang:?}: 200 for BYE: {:?}",
        codes(&replies)
    );
    assert!(
        expect_request(&callee, Method::Bye, Duration::from_millis(700)).is_none(),
        "{lang:?}: the answered BYE is not sent again"
    );
}

fn busy_callee_goes_to_the_fallback(lang: Lang) {
    let p = Proxy::start(lang);
    let callee = UdpClient::new(false);
    let fallback = UdpClient::new(false);
    register(&p, &callee, "bob", callee.local());
    let extra = format!("X-Fallback: sip:voicemail@{}\r\n", fallback.local());
    let call = Call::new(&p, "bob", &extra);
    call.send_invite(&p);
    let first = expect_request(&callee, Method::Invite, Duration::from_secs(3))
        .unwrap_or_else(|| panic!("{lang:?}: first INVITE"));
    answer(&callee, &first, 486, "busy", "");
    assert!(
        expect_request(&callee, Method::Ack, Duration::from_secs(2)).is_some(),
        "{lang:?}: kemid ACKs the 486"
    );
    let next = expect_request(&fallback, Method::Invite, Duration::from_secs(3))
        .unwrap_or_else(|| panic!("{lang:?}: the failure route relays to the fallback"));
    assert_eq!(
        next.ruri_str(),
        Some(format!("sip:voicemail@{}", fallback.local()).as_str()),
        "{lang:?}: R-URI of the new branch"
    );
    answer(
        &fallback,
        &next,
        200,
        "vm",
        &ok_headers(&next, &fallback, "voicemail"),
    );
    let replies = replies_until_final(&call.caller, Method::Invite, Duration::from_secs(3));
    let c = codes(&replies);
    assert_eq!(c.last(), Some(&200), "{lang:?}: {c:?}");
    assert!(
        !c.contains(&486),
        "{lang:?}: the 486 is not passed on: {c:?}"
    );
}

fn cancel_of_a_ringing_call(lang: Lang) {
    let p = Proxy::start(lang);
    let callee = UdpClient::new(false);
    let (call, inv) = ringing_call(&p, &callee, "r1");

    send_text(&call.caller, p.addr, &call.cancel());
    let cancel = expect_request(&callee, Method::Cancel, Duration::from_secs(2))
        .unwrap_or_else(|| panic!("{lang:?}: the CANCEL is relayed"));
    answer(&callee, &cancel, 200, "r1", "");
    answer(&callee, &inv, 487, "r1", "");
    let got = replies_until_all(
        &call.caller,
        Duration::from_secs(3),
        &[(200, Method::Cancel), (487, Method::Invite)],
    );
    assert!(
        got.contains(&(200, Method::Cancel)),
        "{lang:?}: 200 for CANCEL: {got:?}"
    );
    assert!(
        got.contains(&(487, Method::Invite)),
        "{lang:?}: 487 for INVITE: {got:?}"
    );
    assert!(
        expect_request(&callee, Method::Ack, Duration::from_secs(2)).is_some(),
        "{lang:?}: kemid ACKs the 487"
    );
}

fn unresponsive_callee_times_out_with_408(lang: Lang) {
    let p = Proxy::start(lang);
    let silent = UdpClient::new(false);
    register(&p, &silent, "bob", silent.local());
    let call = Call::new(&p, "bob", "");
    let sent = Instant::now();
    call.send_invite(&p);
    assert!(expect_request(&silent, Method::Invite, Duration::from_secs(2)).is_some());
    assert!(
        expect_request(&silent, Method::Invite, Duration::from_secs(2)).is_some(),
        "{lang:?}: kemid retransmits the INVITE (timer A)"
    );
    let replies = replies_until_final(&call.caller, Method::Invite, Duration::from_secs(6));
    let c = codes(&replies);
    assert_eq!(c.first(), Some(&100), "{lang:?}: 100 Trying first: {c:?}");
    assert_eq!(c.last(), Some(&408), "{lang:?}: 408 after fr_timer: {c:?}");
    assert!(
        sent.elapsed() >= Duration::from_millis(1400),
        "{lang:?}: not before fr_timer (1.5 s): {:?}",
        sent.elapsed()
    );
}

fn retransmitted_invite_is_not_relayed_twice(lang: Lang) {
    let p = Proxy::start(lang);
    let callee = UdpClient::new(false);
    // A provisional reply stops kemid's own retransmissions (timer A) ...
    let (call, inv) = ringing_call(&p, &callee, "b1");
    // ... so a second INVITE at the callee could only be the caller's one.
    call.send_invite(&p);
    call.send_invite(&p);
    assert!(
        expect_request(&callee, Method::Invite, Duration::from_millis(800)).is_none(),
        "{lang:?}: the retransmitted INVITE was absorbed"
    );
    // The caller's retransmissions are answered with the last reply.
    let again = codes(&replies_until(&call.caller, 180));
    assert!(
        again.contains(&180),
        "{lang:?}: the 180 is sent again: {again:?}"
    );
    answer(&callee, &inv, 200, "b1", &ok_headers(&inv, &callee, "bob"));
    let replies = replies_until_final(&call.caller, Method::Invite, Duration::from_secs(3));
    assert_eq!(
        codes(&replies).last(),
        Some(&200),
        "{lang:?}: {:?}",
        codes(&replies)
    );
}

fn unknown_user_gets_404(lang: Lang) {
    let p = Proxy::start(lang);
    let call = Call::new(&p, "nobody", "");
    call.send_invite(&p);
    let replies = replies_until_final(&call.caller, Method::Invite, Duration::from_secs(3));
    let fin = final_reply(&replies).unwrap_or_else(|| panic!("{lang:?}: a final reply"));
    assert_eq!(fin.status_code(), Some(404), "{lang:?}");
    assert_eq!(fin.reason(), Some("Not Found"), "{lang:?}");
}

fn too_many_hops_and_keepalive(lang: Lang) {
    let p = Proxy::start(lang);
    let client = UdpClient::new(false);
    let i = n();
    let hops = format!(
        "OPTIONS sip:bob@{px} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK-mf{i}\r\nMax-Forwards: 0\r\nFrom: <sip:a@{px}>;tag=m{i}\r\nTo: <sip:bob@{px}>\r\nCall-ID: mf-{i}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        px = p.addr,
        me = client.local()
    );
    let r = client.transact(p.addr, hops.as_bytes()).expect("reply");
    assert_eq!(r.status_code(), Some(483), "{lang:?}");
    let keepalive = hops
        .replace(&format!("sip:bob@{}", p.addr), &format!("sip:{}", p.addr))
        .replace("Max-Forwards: 0", "Max-Forwards: 70")
        .replace("branch=z9hG4bK-mf", "branch=z9hG4bK-ka");
    let r = client
        .transact(p.addr, keepalive.as_bytes())
        .expect("reply");
    assert_eq!(
        (r.status_code(), r.reason()),
        (Some(200), Some("Keepalive")),
        "{lang:?}"
    );
}

fn in_dialog_request_without_route_is_404(lang: Lang) {
    let p = Proxy::start(lang);
    let client = UdpClient::new(false);
    let i = n();
    let bye = format!(
        "BYE sip:bob@{px} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK-nr{i}\r\nMax-Forwards: 70\r\nFrom: <sip:a@{px}>;tag=n{i}\r\nTo: <sip:bob@{px}>;tag=x{i}\r\nCall-ID: nr-{i}\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
        px = p.addr,
        me = client.local()
    );
    let r = client.transact(p.addr, bye.as_bytes()).expect("reply");
    assert_eq!(
        (r.status_code(), r.reason()),
        (Some(404), Some("Not here")),
        "{lang:?}"
    );
}

// ---------------------------------------------------------------- table

/// Each case runs once per engine, as `js::<case>` and `squirrel::<case>`.
macro_rules! cases {
    ($($case:ident),* $(,)?) => {
        mod js {
            $(#[test] fn $case() { super::$case(kemid::engine::Lang::Js) })*
        }
        mod squirrel {
            $(#[test] fn $case() { super::$case(kemid::engine::Lang::Squirrel) })*
        }
    };
}

cases!(
    register_then_call,
    record_routed_ack_and_bye,
    busy_callee_goes_to_the_fallback,
    cancel_of_a_ringing_call,
    unresponsive_callee_times_out_with_408,
    retransmitted_invite_is_not_relayed_twice,
    unknown_user_gets_404,
    too_many_hops_and_keepalive,
    in_dialog_request_without_route_is_404,
);
