//! Registrar on parsed messages with a small server stand-in, and the
//! stand-in itself (shared with the rr tests).

use std::cell::RefCell;
use std::net::SocketAddr;

use super::*;
use crate::config::CfgValue;
use crate::ctx::CoreServices;
use crate::ctx::{MsgState, WorkerLocal};
use crate::module::Modules;
use crate::sip::{HeaderName, SipMsg};
use crate::transport::{Proto, RecvInfo};

/// A server stand-in: module parameters, a location service, "myself" and
/// the messages sent.
pub(crate) struct TestCore {
    pub params: Vec<(&'static str, &'static str, CfgValue)>,
    pub modules: Modules,
    /// Host and port that are this server.
    pub me: Vec<(&'static str, u16)>,
    pub sent: RefCell<Vec<Vec<u8>>>,
}

impl TestCore {
    pub fn new(params: &[(&'static str, &'static str, i64)]) -> TestCore {
        let mut params: Vec<(&'static str, &'static str, CfgValue)> = params
            .iter()
            .map(|&(m, n, v)| (m, n, CfgValue::Int(v)))
            .collect();
        params.insert(0, ("usrloc", "nat_bflag", CfgValue::Int(6)));
        TestCore {
            modules: Modules::for_test(&["registrar", "rr"], &params),
            params,
            me: vec![("10.0.0.1", 5060), ("proxy.example.com", 5060)],
            sent: RefCell::new(Vec::new()),
        }
    }

    pub fn with_str(mut self, module: &'static str, name: &'static str, v: &str) -> TestCore {
        self.params.push((module, name, CfgValue::Str(v.into())));
        self.modules = Modules::for_test(&["registrar", "rr"], &self.params);
        self
    }

    /// The location service.
    pub fn usrloc(&self) -> Option<&Usrloc> {
        api::service_in(&self.modules)
    }

    /// The last message sent, parsed.
    pub fn last_sent(&self) -> Option<SipMsg> {
        let sent = self.sent.borrow();
        sent.last().and_then(|b| SipMsg::parse(b.clone()).ok())
    }
}

impl CoreServices for TestCore {
    fn is_myself(&self, host: &str, port: Option<u16>, _proto: Option<Proto>) -> bool {
        self.me.iter().any(|(h, p)| {
            h.eq_ignore_ascii_case(host.trim_matches(['[', ']']))
                && port.is_none_or(|want| want == *p)
        })
    }

    fn send(&self, _: Proto, _: SocketAddr, _: Option<u64>, data: &[u8]) -> std::io::Result<()> {
        self.sent.borrow_mut().push(data.to_vec());
        Ok(())
    }

    fn server_header(&self) -> Option<&str> {
        None
    }

    fn advertised(&self, _proto: Proto, _local: SocketAddr) -> (String, u16) {
        ("10.0.0.1".into(), 5060)
    }

    fn modules(&self) -> Option<&Modules> {
        Some(&self.modules)
    }
}

pub(crate) fn udp_from(src: &str) -> RecvInfo {
    RecvInfo {
        proto: Proto::Udp,
        src: src.parse().unwrap_or_else(|e| panic!("{src}: {e}")),
        local: "10.0.0.1:5060".parse().unwrap_or_else(|e| panic!("{e}")),
        conn: None,
    }
}

/// A REGISTER for alice with `cseq`, `call_id` and extra header lines.
fn register(call_id: &str, cseq: u32, extra: &[&str]) -> SipMsg {
    let mut t = format!(
        "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-{cseq}\r\nFrom: <sip:alice@example.com>;tag=f1\r\nTo: <sip:alice@example.com>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\n"
    );
    for l in extra {
        t.push_str(l);
        t.push_str("\r\n");
    }
    t.push_str("Content-Length: 0\r\n\r\n");
    SipMsg::parse(t).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `f` on `msg` in a context with `core`; returns what it returned,
/// the state left behind and the message.
fn run<R>(
    core: &TestCore,
    mut msg: SipMsg,
    state: MsgState,
    f: impl FnOnce(&mut Ctx) -> R,
) -> (R, MsgState, SipMsg) {
    let mut worker = WorkerLocal::default();
    let (r, state) = {
        let mut ctx = Ctx::for_message(&mut worker, &mut msg, udp_from("192.0.2.10:5060"))
            .with_core(core)
            .with_state(state);
        let r = f(&mut ctx);
        (r, ctx.take_state())
    };
    (r, state, msg)
}

/// Saves `msg`; returns the code and the reply sent.
fn save_msg(core: &TestCore, msg: SipMsg, flags: i32) -> (i32, Option<SipMsg>) {
    let before = core.sent.borrow().len();
    let (rc, _, _) = run(core, msg, MsgState::default(), |ctx| {
        save(ctx, "location", flags)
    });
    let reply = (core.sent.borrow().len() > before)
        .then(|| core.last_sent())
        .flatten();
    (rc, reply)
}

fn contacts_of(reply: &SipMsg) -> Vec<(String, Option<u32>)> {
    reply
        .contacts()
        .ok()
        .and_then(|c| c.list())
        .map(|l| {
            l.iter()
                .map(|c| (c.uri_str().to_owned(), c.expires()))
                .collect()
        })
        .unwrap_or_default()
}

fn header(reply: &SipMsg, name: &str) -> Option<String> {
    reply.header_by_name(name).map(|h| h.value.to_owned())
}

fn table(core: &TestCore) -> std::sync::Arc<dyn LocationStore> {
    core.usrloc()
        .and_then(|u| u.table("location"))
        .unwrap_or_else(|| panic!("location table"))
}

#[test]
fn one_then_two_contacts_are_listed_with_their_expiry() {
    let core = TestCore::new(&[]);
    let (rc, reply) = save_msg(
        &core,
        register(
            "c1",
            1,
            &["Contact: <sip:alice@192.0.2.10:5060>;expires=120"],
        ),
        0,
    );
    assert_eq!(rc, 1);
    let reply = reply.unwrap_or_else(|| panic!("no reply"));
    assert_eq!(reply.status_code(), Some(200));
    assert_eq!(
        contacts_of(&reply),
        [("sip:alice@192.0.2.10:5060".to_owned(), Some(120))]
    );
    assert!(header(&reply, "Date").is_some_and(|d| d.ends_with("GMT")));

    let (rc, reply) = save_msg(
        &core,
        register(
            "c2",
            1,
            &[
                "Contact: <sip:alice@192.0.2.11>;q=0.9, <sip:alice@192.0.2.12>;q=0.1",
                "Expires: 300",
            ],
        ),
        0,
    );
    assert_eq!(rc, 1, "inserted");
    let reply = reply.unwrap_or_else(|| panic!("no reply"));
    let listed = contacts_of(&reply);
    assert_eq!(listed.len(), 3);
    assert_eq!(
        listed[0],
        ("sip:alice@192.0.2.11".into(), Some(300)),
        "highest q first"
    );
    assert_eq!(listed[1], ("sip:alice@192.0.2.12".into(), Some(300)));
    assert_eq!(
        listed[2],
        ("sip:alice@192.0.2.10:5060".into(), Some(120)),
        "no q sorts last"
    );
    assert!(reply
        .header(HeaderName::Contact)
        .is_some_and(|h| h.value.contains(";q=0.9;expires=300")));
}

#[test]
fn refresh_retransmission_and_old_cseq() {
    let core = TestCore::new(&[]);
    let c = "Contact: <sip:alice@192.0.2.10>";
    assert_eq!(
        save_msg(&core, register("c", 5, &[c, "Expires: 100"]), 0).0,
        1
    );
    let (rc, reply) = save_msg(&core, register("c", 6, &[c, "Expires: 200"]), 0);
    assert_eq!(rc, 2, "updated");
    assert_eq!(
        reply.as_ref().map(contacts_of),
        Some(vec![("sip:alice@192.0.2.10".to_owned(), Some(200))])
    );
    let (rc, reply) = save_msg(&core, register("c", 6, &[c, "Expires: 900"]), 0);
    assert_eq!(rc, 1, "a retransmission changes nothing");
    assert_eq!(reply.as_ref().and_then(SipMsg::status_code), Some(200));
    assert_eq!(
        reply.as_ref().map(contacts_of),
        Some(vec![("sip:alice@192.0.2.10".to_owned(), Some(200))])
    );
    let (rc, reply) = save_msg(&core, register("c", 4, &[c]), 0);
    assert_eq!(rc, -1);
    let reply = reply.unwrap_or_else(|| panic!("no reply"));
    assert_eq!(reply.status_code(), Some(400));
    assert_eq!(
        header(&reply, "P-Registrar-Error").as_deref(),
        Some("Invalid CSeq number")
    );
    // Another Call-ID may register the same contact at any CSeq.
    assert_eq!(save_msg(&core, register("other", 1, &[c]), 0).0, 2);
}

#[test]
fn a_refused_register_changes_no_binding() {
    // The second contact's CSeq check fails after the first was added.
    let core = TestCore::new(&[]);
    let a = "Contact: <sip:alice@192.0.2.10>";
    assert_eq!(save_msg(&core, register("c", 10, &[a]), 0).0, 1);
    let both = "Contact: <sip:alice@192.0.2.99>, <sip:alice@192.0.2.10>";
    let (rc, reply) = save_msg(&core, register("c", 7, &[both]), 0);
    assert_eq!(rc, -1);
    assert_eq!(reply.as_ref().and_then(SipMsg::status_code), Some(400));
    let stored: Vec<String> = table(&core)
        .lookup("alice", crate::modules::usrloc::api::now())
        .into_iter()
        .map(|c| c.uri)
        .collect();
    assert_eq!(stored, ["sip:alice@192.0.2.10"]);

    // Beyond max_contacts, an existing AoR keeps what it had.
    let core = TestCore::new(&[("registrar", "max_contacts", 1)]);
    assert_eq!(save_msg(&core, register("c", 1, &[a]), 0).0, 1);
    let b = "Contact: <sip:alice@192.0.2.11>";
    assert_eq!(save_msg(&core, register("d", 1, &[b]), 0).0, -2);
    let stored = table(&core).lookup("alice", crate::modules::usrloc::api::now());
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].uri, "sip:alice@192.0.2.10");
    assert_eq!(stored[0].call_id, "c");
}

#[test]
fn removal_by_expires_zero_and_star() {
    let core = TestCore::new(&[]);
    let two = "Contact: <sip:alice@192.0.2.1>, <sip:alice@192.0.2.2>";
    assert_eq!(save_msg(&core, register("c", 1, &[two]), 0).0, 1);
    let (rc, reply) = save_msg(
        &core,
        register("c", 2, &["Contact: <sip:alice@192.0.2.1>;expires=0"]),
        0,
    );
    assert_eq!(rc, 3);
    assert_eq!(reply.map(|r| contacts_of(&r).len()), Some(1));
    let (rc, reply) = save_msg(&core, register("c", 3, &["Contact: *"]), 0);
    assert_eq!(rc, -1, "* needs Expires: 0");
    assert_eq!(reply.and_then(|r| r.status_code()), Some(400));
    let (rc, reply) = save_msg(&core, register("c", 4, &["Contact: *", "Expires: 0"]), 0);
    assert_eq!(rc, 3);
    let reply = reply.unwrap_or_else(|| panic!("no reply"));
    assert_eq!(reply.status_code(), Some(200));
    assert!(reply.header(HeaderName::Contact).is_none());
    assert_eq!(table(&core).counts(), (0, 0));
    let (rc, reply) = save_msg(&core, register("c", 5, &[]), 0);
    assert_eq!(rc, 4, "a query");
    assert_eq!(reply.and_then(|r| r.status_code()), Some(200));
}

#[test]
fn expiry_limits() {
    let core = TestCore::new(&[("registrar", "max_expires", 600)]);
    let (_, reply) = save_msg(
        &core,
        register("c", 1, &["Contact: <sip:a@1.2.3.4>;expires=10"]),
        0,
    );
    assert_eq!(
        reply.map(|r| contacts_of(&r)),
        Some(vec![("sip:a@1.2.3.4".to_owned(), Some(60))]),
        "raised to min_expires"
    );
    let (_, reply) = save_msg(
        &core,
        register("c", 2, &["Contact: <sip:a@1.2.3.4>;expires=7200"]),
        0,
    );
    assert_eq!(
        reply.map(|r| contacts_of(&r)),
        Some(vec![("sip:a@1.2.3.4".to_owned(), Some(600))]),
        "lowered to max_expires"
    );
    let strict = TestCore::new(&[
        ("registrar", "min_expires_mode", 1),
        ("registrar", "min_expires", 30),
    ]);
    let (rc, reply) = save_msg(
        &strict,
        register("c", 1, &["Contact: <sip:a@1.2.3.4>", "Expires: 10"]),
        0,
    );
    assert_eq!(rc, -1);
    let reply = reply.unwrap_or_else(|| panic!("no reply"));
    assert_eq!(reply.status_code(), Some(423));
    assert_eq!(reply.reason(), Some("Interval Too Brief"));
    assert_eq!(header(&reply, "Min-Expires").as_deref(), Some("30"));
    assert_eq!(table(&strict).counts(), (0, 0), "nothing saved");
}

#[test]
fn max_contacts_and_single_contact() {
    let core = TestCore::new(&[
        ("registrar", "max_contacts", 1),
        ("registrar", "retry_after", 30),
    ]);
    let (rc, reply) = save_msg(
        &core,
        register("c", 1, &["Contact: <sip:a@1.1.1.1>, <sip:a@2.2.2.2>"]),
        0,
    );
    assert_eq!(rc, -2);
    let reply = reply.unwrap_or_else(|| panic!("no reply"));
    assert_eq!(reply.status_code(), Some(503));
    assert_eq!(header(&reply, "Retry-After").as_deref(), Some("30"));
    assert_eq!(table(&core).counts(), (0, 0));

    let core = TestCore::new(&[]);
    assert_eq!(
        save_msg(&core, register("c", 1, &["Contact: <sip:a@1.1.1.1>"]), 0).0,
        1
    );
    let (rc, reply) = save_msg(
        &core,
        register("d", 1, &["Contact: <sip:a@2.2.2.2>"]),
        save::SAVE_SINGLE,
    );
    assert_eq!(rc, 1);
    assert_eq!(
        reply.map(|r| contacts_of(&r)),
        Some(vec![("sip:a@2.2.2.2".to_owned(), Some(3600))])
    );
}

#[test]
fn no_reply_flag_then_reg_send_reply() {
    let core = TestCore::new(&[]);
    let msg = register("c", 1, &["Contact: <sip:a@1.1.1.1>"]);
    let (rc, state, msg) = run(&core, msg, MsgState::default(), |ctx| {
        save(ctx, "location", save::SAVE_NO_REPLY)
    });
    assert_eq!(rc, 1);
    assert!(core.sent.borrow().is_empty());
    assert!(MODULE
        .msg_data::<RegState>(&state)
        .is_some_and(|r| r.pending_reply.is_some()));
    let (rc, _, _) = run(&core, msg, state, reg_send_reply);
    assert_eq!(rc, 1);
    assert_eq!(core.last_sent().and_then(|r| r.status_code()), Some(200));
    let (rc, _, _) = run(
        &core,
        register("x", 1, &[]),
        MsgState::default(),
        reg_send_reply,
    );
    assert_eq!(rc, -1, "nothing prepared");
}

#[test]
fn malformed_registers_get_400() {
    let core = TestCore::new(&[]);
    for (extra, info) in [
        (
            &["Contact: <sip:a@1.1.1.1>;q=2"][..],
            "Invalid q param in contact",
        ),
        (
            &["Contact: <sip:a@1.1.1.1>", "Expires: soon"][..],
            "Expires parse error",
        ),
        (
            &["Contact: <sip:a@1.1.1.1", "X: y"][..],
            "Contact parse error",
        ),
        (
            &["Contact: *, <sip:a@1.1.1.1>", "Expires: 0"][..],
            "* used in contact and more than 1 contact",
        ),
    ] {
        let (rc, reply) = save_msg(&core, register("c", 1, extra), 0);
        assert_eq!(rc, -1, "{extra:?}");
        let reply = reply.unwrap_or_else(|| panic!("no reply for {extra:?}"));
        assert_eq!(reply.status_code(), Some(400), "{extra:?}");
        assert_eq!(header(&reply, "P-Registrar-Error").as_deref(), Some(info));
    }
    let no_user = SipMsg::parse(
        "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:example.com>;tag=1\r\nTo: <sip:example.com>\r\nCall-ID: x\r\nCSeq: 1 REGISTER\r\nContact: <sip:1.1.1.1>\r\n\r\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (rc, reply) = save_msg(&core, no_user, 0);
    assert_eq!(rc, -1);
    assert_eq!(reply.and_then(|r| r.status_code()), Some(400));
}

fn invite(ruri: &str, to_tag: bool) -> SipMsg {
    let tag = if to_tag { ";tag=t1" } else { "" };
    SipMsg::parse(format!(
        "INVITE {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.99;branch=z9hG4bK-i\r\nFrom: <sip:bob@example.com>;tag=b1\r\nTo: <sip:alice@example.com>{tag}\r\nCall-ID: call-1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    ))
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn lookup_rewrites_the_ruri_and_adds_branches() {
    let core = TestCore::new(&[]);
    save_msg(
        &core,
        register(
            "c",
            1,
            &["Contact: <sip:alice@192.0.2.1>;q=0.5, <sip:alice@192.0.2.2>;q=1"],
        ),
        0,
    );
    let (rc, state, msg) = run(
        &core,
        invite("sip:alice@example.com", false),
        MsgState::default(),
        |ctx| lookup(ctx, "location"),
    );
    assert_eq!(rc, 1);
    assert_eq!(msg.ruri_str(), Some("sip:alice@192.0.2.2"));
    assert_eq!(msg.du(), None);
    assert_eq!(state.ruri_q, Some(1000));
    assert_eq!(state.branches.len(), 1);
    assert_eq!(state.branches[0].uri, "sip:alice@192.0.2.1");
    assert_eq!(state.branches[0].q, Some(500));
    assert!(state.branches[0].ruid.is_some());

    let (rc, _, msg) = run(
        &core,
        invite("sip:nobody@example.com", false),
        MsgState::default(),
        |ctx| lookup(ctx, "location"),
    );
    assert_eq!(rc, -1);
    assert_eq!(msg.ruri_str(), Some("sip:nobody@example.com"), "untouched");
    let (rc, _, _) = run(
        &core,
        invite("sip:example.com", false),
        MsgState::default(),
        |ctx| lookup(ctx, "location"),
    );
    assert_eq!(rc, -3, "no user in the Request-URI");

    let quiet = TestCore::new(&[("registrar", "append_branches", 0)]);
    save_msg(
        &quiet,
        register(
            "c",
            1,
            &["Contact: <sip:alice@1.1.1.1>, <sip:alice@2.2.2.2>"],
        ),
        0,
    );
    let (rc, state, _) = run(
        &quiet,
        invite("sip:alice@example.com", false),
        MsgState::default(),
        |ctx| lookup(ctx, "location"),
    );
    assert_eq!(rc, 1);
    assert!(state.branches.is_empty());

    let (rc, state, msg) = run(
        &core,
        invite("sip:carol@example.com", false),
        MsgState::default(),
        |ctx| lookup_to_dset(ctx, "location", "sip:alice@example.com"),
    );
    assert_eq!(rc, 1);
    assert_eq!(msg.ruri_str(), Some("sip:carol@example.com"));
    assert_eq!(state.branches.len(), 2);
}

#[test]
fn nat_contacts_are_reached_at_their_source() {
    let core = TestCore::new(&[]);
    let mut state = MsgState::default();
    state.branch_flags[0] = 1 << 6; // the nat_bflag of TestCore
    let (rc, _, _) = run(
        &core,
        register("c", 1, &["Contact: <sip:alice@10.10.10.10:5062>"]),
        state,
        |ctx| save(ctx, "location", 0),
    );
    assert_eq!(rc, 1);
    let reply = core.last_sent().unwrap_or_else(|| panic!("reply"));
    assert!(reply
        .header(HeaderName::Contact)
        .is_some_and(|h| h.value.contains(";received=\"sip:192.0.2.10:5060\"")));
    let (rc, state, msg) = run(
        &core,
        invite("sip:alice@example.com", false),
        MsgState::default(),
        |ctx| lookup(ctx, "location"),
    );
    assert_eq!(rc, 1);
    assert_eq!(msg.ruri_str(), Some("sip:alice@10.10.10.10:5062"));
    assert_eq!(msg.du(), Some("sip:192.0.2.10:5060"));
    assert_eq!(state.branch_flags[0], 1 << 6, "contact flags restored");

    // Without the flag, the received AVP is used.
    let avp = TestCore::new(&[]).with_str("registrar", "received_avp", "$avp(RECEIVED)");
    let mut state = MsgState::default();
    state.avps.push(
        "RECEIVED",
        crate::pv::PvValue::Str("sip:203.0.113.5:4000".into()),
    );
    run(
        &avp,
        register("c", 1, &["Contact: <sip:alice@10.1.1.1>"]),
        state,
        |ctx| save(ctx, "location", 0),
    );
    let (_, _, msg) = run(
        &avp,
        invite("sip:alice@example.com", false),
        MsgState::default(),
        |ctx| lookup(ctx, "location"),
    );
    assert_eq!(msg.du(), Some("sip:203.0.113.5:4000"));
}

#[test]
fn method_filtering() {
    let core = TestCore::new(&[("registrar", "method_filtering", 1)]);
    save_msg(
        &core,
        register(
            "c",
            1,
            &["Contact: <sip:alice@1.1.1.1>", "Allow: INVITE, ACK, BYE"],
        ),
        0,
    );
    let (rc, _, _) = run(
        &core,
        invite("sip:alice@example.com", false),
        MsgState::default(),
        |ctx| lookup(ctx, "location"),
    );
    assert_eq!(rc, 1);
    let message = SipMsg::parse(
        "MESSAGE sip:alice@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:b@x>;tag=1\r\nTo: <sip:alice@example.com>\r\nCall-ID: m\r\nCSeq: 1 MESSAGE\r\n\r\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (rc, _, _) = run(&core, message, MsgState::default(), |ctx| {
        lookup(ctx, "location")
    });
    assert_eq!(rc, -2);
}

#[test]
fn path_is_stored_echoed_and_used() {
    let core = TestCore::new(&[("registrar", "use_path", 1)]);
    let path = "Path: <sip:edge.example.net;lr>";
    let (rc, reply) = save_msg(
        &core,
        register("c", 1, &["Contact: <sip:alice@10.0.0.9>", path]),
        0,
    );
    assert_eq!(rc, -1, "path_mode 2 needs Supported: path");
    let reply = reply.unwrap_or_else(|| panic!("reply"));
    assert_eq!(reply.status_code(), Some(420));
    assert_eq!(header(&reply, "Unsupported").as_deref(), Some("path"));

    let (rc, reply) = save_msg(
        &core,
        register(
            "c",
            2,
            &["Contact: <sip:alice@10.0.0.9>", path, "Supported: path"],
        ),
        0,
    );
    assert_eq!(rc, 1);
    let reply = reply.unwrap_or_else(|| panic!("reply"));
    assert_eq!(
        header(&reply, "Path").as_deref(),
        Some("<sip:edge.example.net;lr>")
    );
    let (_, state, msg) = run(
        &core,
        invite("sip:alice@example.com", false),
        MsgState::default(),
        |ctx| lookup(ctx, "location"),
    );
    assert_eq!(msg.du(), Some("sip:edge.example.net;lr"));
    assert_eq!(state.path.as_deref(), Some("<sip:edge.example.net;lr>"));
}

#[test]
fn registered_unregister_and_profiles() {
    let core = TestCore::new(&[]);
    save_msg(
        &core,
        register(
            "c",
            1,
            &["Contact: <sip:alice@1.1.1.1>, <sip:alice@2.2.2.2>"],
        ),
        0,
    );
    let inv = || invite("sip:alice@example.com", false);
    assert_eq!(
        run(&core, inv(), MsgState::default(), |c| registered(
            c, "location"
        ))
        .0,
        1
    );
    assert_eq!(
        run(&core, inv(), MsgState::default(), |c| registered_uri(
            c,
            "location",
            "sip:bob@x"
        ))
        .0,
        -1
    );
    let (rc, _, _) = run(&core, inv(), MsgState::default(), |c| {
        reg_fetch_contacts(c, "location", "sip:alice@example.com", "p")
    });
    assert_eq!(rc, 1);
    assert_eq!(fetch::record_attr("p", "count"), XVal::Int(2));
    let XVal::Str(ruid) = fetch::contact_attr("p", "ruid", 1) else {
        panic!("ruid");
    };
    let (rc, _, _) = run(&core, inv(), MsgState::default(), |c| {
        unregister_ruid(c, "location", "", &ruid)
    });
    assert_eq!(rc, 1);
    let (rc, _, _) = run(&core, inv(), MsgState::default(), |c| {
        unregister_ruid(c, "location", "sip:alice@example.com", &ruid)
    });
    assert_eq!(rc, -3);
    assert_eq!(table(&core).counts(), (1, 1));
    let (rc, _, _) = run(&core, inv(), MsgState::default(), |c| {
        unregister(c, "location", "sip:alice@example.com")
    });
    assert_eq!(rc, 1);
    assert_eq!(
        run(&core, inv(), MsgState::default(), |c| registered(
            c, "location"
        ))
        .0,
        -1
    );
    assert_eq!(
        run(&core, inv(), MsgState::default(), |c| unregister(
            c,
            "location",
            "not a uri"
        ))
        .0,
        -1
    );
    fetch::free("p");
}

#[test]
fn q_override_and_default_q() {
    let core = TestCore::new(&[("registrar", "default_q", 300)]);
    let (_, state, msg) = run(&core, register("c", 1, &[]), MsgState::default(), |ctx| {
        set_q_override(ctx, "700")
    });
    assert_eq!(
        MODULE
            .msg_data::<RegState>(&state)
            .and_then(|r| r.q_override),
        Some(700)
    );
    let _ = msg;
    let (rc, _, _) = run(
        &core,
        register("c", 1, &["Contact: <sip:a@1.1.1.1>;q=0.1"]),
        state,
        |ctx| save(ctx, "location", 0),
    );
    assert_eq!(rc, 1);
    save_msg(&core, register("d", 1, &["Contact: <sip:a@2.2.2.2>"]), 0);
    let qs: Vec<Option<u16>> = table(&core)
        .lookup("alice", api::now())
        .iter()
        .map(|c| c.q)
        .collect();
    assert_eq!(qs, [Some(700), Some(300)]);
    assert_eq!(
        run(&core, register("c", 1, &[]), MsgState::default(), |c| {
            set_q_override(c, "1001")
        })
        .0,
        -1
    );
}

#[test]
fn no_location_service_is_an_error_not_a_panic() {
    let mut core = TestCore::new(&[]);
    core.modules = Modules::none();
    let (rc, reply) = save_msg(&core, register("c", 1, &["Contact: <sip:a@1.1.1.1>"]), 0);
    assert_eq!(rc, -1);
    assert_eq!(reply.and_then(|r| r.status_code()), Some(500));
    let (rc, _, _) = run(
        &core,
        invite("sip:alice@example.com", false),
        MsgState::default(),
        |ctx| lookup(ctx, "location"),
    );
    assert_eq!(rc, -3);
}
