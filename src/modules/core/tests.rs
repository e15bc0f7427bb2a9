//! Tests of the core functions, and a small server for the tests of the
//! modules that ask the server something (myself, replies, modparams).

use std::cell::RefCell;
use std::net::SocketAddr;

use crate::config::CfgValue;
use crate::ctx::{Branch, CoreServices, Ctx, WorkerLocal};
use crate::pv::PvSpec;
use crate::sip::SipMsg;
use crate::transport::{Proto, RecvInfo};

use super::{flags, message, method, myself, transport};

/// A server for tests: listens on 192.0.2.1:5060 (UDP and TCP) and
/// [2001:db8::1]:5060, has the alias `proxy.example.com`, records what it
/// sends and answers the modparams it is given.
pub(crate) struct TestCore {
    pub sent: RefCell<Vec<Vec<u8>>>,
    pub params: Vec<(&'static str, &'static str, CfgValue)>,
    pub modules: crate::module::Modules,
}

impl Default for TestCore {
    fn default() -> TestCore {
        TestCore {
            sent: RefCell::default(),
            params: Vec::new(),
            modules: crate::module::Modules::for_test(&[], &[]),
        }
    }
}

impl TestCore {
    /// With `modparam(module, name, value)` set (and that module loaded).
    #[allow(dead_code)] // used by the tests of other modules
    pub fn with_param(mut self, module: &'static str, name: &'static str, v: CfgValue) -> Self {
        self.params.push((module, name, v));
        self.modules = crate::module::Modules::for_test(&[], &self.params);
        self
    }

    /// The last message sent, parsed.
    #[allow(dead_code)] // used by the tests of other modules
    pub fn last_sent(&self) -> Option<SipMsg> {
        let sent = self.sent.borrow();
        sent.last().and_then(|m| SipMsg::parse(m.clone()).ok())
    }
}

impl CoreServices for TestCore {
    fn is_myself(&self, host: &str, port: Option<u16>, proto: Option<Proto>) -> bool {
        let host = host.trim_matches(['[', ']']);
        let known = ["192.0.2.1", "2001:db8::1", "proxy.example.com"]
            .iter()
            .any(|h| h.eq_ignore_ascii_case(host));
        known && port.is_none_or(|p| p == 5060) && proto.is_none_or(|_| true)
    }

    fn send(&self, _: Proto, _: SocketAddr, _: Option<u64>, data: &[u8]) -> std::io::Result<()> {
        self.sent.borrow_mut().push(data.to_vec());
        Ok(())
    }

    fn server_header(&self) -> Option<&str> {
        None
    }

    fn advertised(&self, _proto: Proto, local: SocketAddr) -> (String, u16) {
        (local.ip().to_string(), local.port())
    }

    fn modules(&self) -> Option<&crate::module::Modules> {
        Some(&self.modules)
    }
}

/// Where test messages come from: UDP, 198.51.100.7:5070 to 192.0.2.1:5060.
pub(crate) fn udp_recv() -> RecvInfo {
    RecvInfo {
        proto: Proto::Udp,
        src: "198.51.100.7:5070".parse().expect("address"),
        local: "192.0.2.1:5060".parse().expect("address"),
        conn: None,
    }
}

pub(crate) fn parse(text: &str) -> SipMsg {
    SipMsg::parse(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// A request with the usual headers; `extra` lines are added before
/// Content-Length.
pub(crate) fn request(method: &str, ruri: &str, extra: &str) -> SipMsg {
    parse(&format!(
        "{method} {ruri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 198.51.100.7:5070;branch=z9hG4bK-1\r\n\
         From: \"Alice\" <sip:alice@atlanta.example.com>;tag=a1\r\n\
         To: <sip:bob@biloxi.example.com>\r\n\
         Call-ID: call-1\r\n\
         CSeq: 7 {method}\r\n\
         Max-Forwards: 70\r\n\
         {extra}\
         Content-Length: 0\r\n\r\n"
    ))
}

/// Runs `f` on a context for `msg` received as `recv`, with `core`.
pub(crate) fn with_ctx<R>(
    core: &TestCore,
    msg: &mut SipMsg,
    recv: RecvInfo,
    f: impl FnOnce(&mut Ctx) -> R,
) -> R {
    let mut w = WorkerLocal::default();
    let mut ctx = Ctx::for_message(&mut w, msg, recv).with_core(core);
    f(&mut ctx)
}

fn on_request<R>(method: &str, ruri: &str, extra: &str, f: impl FnOnce(&mut Ctx) -> R) -> R {
    let core = TestCore::default();
    let mut m = request(method, ruri, extra);
    with_ctx(&core, &mut m, udp_recv(), f)
}

fn pv(ctx: &Ctx, name: &str) -> crate::pv::PvValue {
    PvSpec::parse(name).expect("valid").get(ctx)
}

#[test]
fn message_flags() {
    on_request("INVITE", "sip:b@c", "", |ctx| {
        assert!(!flags::isflagset(ctx, 3));
        assert!(flags::setflag(ctx, 3));
        assert!(flags::setflag(ctx, 31));
        assert!(flags::isflagset(ctx, 3));
        assert_eq!(ctx.state().flags, (1 << 3) | (1 << 31));
        assert!(flags::resetflag(ctx, 3));
        assert!(!flags::isflagset(ctx, 3));
        assert!(!flags::setflag(ctx, 32));
        assert!(!flags::setflag(ctx, -1));
        assert!(!flags::isflagset(ctx, 99));
        assert!(!flags::resetflag(ctx, 40));
    });
}

#[test]
fn branch_flags_exist_only_for_existing_branches() {
    on_request("INVITE", "sip:b@c", "", |ctx| {
        assert!(flags::setbflag(ctx, 6));
        assert!(flags::isbflagset(ctx, 6));
        assert!(flags::isbiflagset(ctx, 6, 0));
        assert_eq!(ctx.state().branch_flags[0], 1 << 6);
        assert!(!flags::setbiflag(ctx, 1, 1), "no branch 1 yet");
        ctx.state_mut().branches.push(Branch {
            uri: "sip:x@y".into(),
            ..Branch::default()
        });
        assert!(flags::setbiflag(ctx, 1, 1));
        assert!(flags::isbiflagset(ctx, 1, 1));
        assert!(!flags::isbiflagset(ctx, 6, 1));
        assert_eq!(ctx.state().branches[0].flags, 2);
        assert!(flags::resetbiflag(ctx, 1, 1));
        assert!(!flags::isbiflagset(ctx, 1, 1));
        assert!(flags::resetbflag(ctx, 6));
        assert!(!flags::isbflagset(ctx, 6));
        assert!(!flags::setbiflag(ctx, 1, -1));
        assert!(!flags::setbiflag(ctx, 33, 0));
    });
}

#[test]
fn script_flags_belong_to_the_callback() {
    let mut w = WorkerLocal::default();
    {
        let mut ctx = Ctx::without_message(&mut w);
        assert!(flags::setsflag(&mut ctx, 2));
        assert!(flags::issflagset(&mut ctx, 2));
        assert_eq!(pv(&ctx, "$sf"), crate::pv::PvValue::Int(4));
        assert!(flags::resetsflag(&mut ctx, 2));
        assert!(!flags::issflagset(&mut ctx, 2));
        assert!(flags::setsflag(&mut ctx, 5));
        assert!(!flags::setsflag(&mut ctx, 32));
    }
    let mut ctx = Ctx::without_message(&mut w);
    assert!(
        !flags::issflagset(&mut ctx, 5),
        "a new callback starts clean"
    );
}

#[test]
fn methods_of_requests_and_replies() {
    on_request("INVITE", "sip:b@c", "", |ctx| {
        assert!(method::is_invite(ctx));
        assert!(!method::is_bye(ctx));
        assert!(method::is_method(ctx, "INVITE"));
        assert!(method::is_method(ctx, "invite"));
        assert!(method::is_method(ctx, "BYE|INVITE"));
        assert!(method::is_method(ctx, "BYE, invite"));
        assert!(!method::is_method(ctx, "BYE|CANCEL"));
        assert!(!method::is_method(ctx, ""));
        assert!(method::is_method_in(ctx, "BI"));
        assert!(method::is_method_in(ctx, "i"));
        assert!(!method::is_method_in(ctx, "ABC"));
        assert!(!method::is_method_in(ctx, "?"));
    });
    on_request("FOO", "sip:b@c", "", |ctx| {
        assert!(method::is_method(ctx, "FOO"));
        assert!(
            !method::is_method(ctx, "foo"),
            "extension methods are exact"
        );
        assert!(!method::is_method(ctx, "FOO|BAR"));
        assert!(!method::is_method_in(ctx, "IABCMREPSNOFGUKDTV"));
    });
    type Check = fn(&mut Ctx) -> bool;
    let checks: [(&str, Check); 19] = [
        ("INVITE", method::is_invite),
        ("ACK", method::is_ack),
        ("BYE", method::is_bye),
        ("CANCEL", method::is_cancel),
        ("REGISTER", method::is_register),
        ("OPTIONS", method::is_options),
        ("SUBSCRIBE", method::is_subscribe),
        ("PUBLISH", method::is_publish),
        ("NOTIFY", method::is_notify),
        ("REFER", method::is_refer),
        ("INFO", method::is_info),
        ("UPDATE", method::is_update),
        ("PRACK", method::is_prack),
        ("MESSAGE", method::is_message),
        ("KDMQ", method::is_kdmq),
        ("GET", method::is_get),
        ("POST", method::is_post),
        ("PUT", method::is_put),
        ("DELETE", method::is_delete),
    ];
    for (name, _) in checks {
        on_request(name, "sip:b@c", "", |ctx| {
            for (other, g) in checks {
                assert_eq!(g(ctx), other == name, "is_{other} on {name}");
            }
        });
    }
    let core = TestCore::default();
    let mut reply = parse(
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCSeq: 3 BYE\r\nContent-Length: 0\r\n\r\n",
    );
    with_ctx(&core, &mut reply, udp_recv(), |ctx| {
        assert!(method::is_bye(ctx), "replies use the CSeq method");
        assert!(method::is_method(ctx, "bye"));
        assert!(method::is_method_in(ctx, "B"));
        assert!(!method::is_invite(ctx));
    });
}

#[test]
fn received_transport_and_ports() {
    on_request("OPTIONS", "sip:b@c", "", |ctx| {
        assert!(transport::is_udp(ctx));
        assert!(!transport::is_tcp(ctx));
        assert!(!transport::is_tcpx(ctx));
        assert!(!transport::is_tls(ctx));
        assert!(!transport::is_ws(ctx) && !transport::is_wss(ctx) && !transport::is_wsx(ctx));
        assert!(!transport::is_sctp(ctx));
        assert!(transport::is_proto(ctx, "tu"));
        assert!(transport::is_proto(ctx, "U"));
        assert!(!transport::is_proto(ctx, "tevws"));
        assert!(transport::is_ipv4(ctx));
        assert!(!transport::is_ipv6(ctx));
        assert!(transport::is_src_port(ctx, 5070));
        assert!(!transport::is_src_port(ctx, 5060));
        assert!(transport::is_dst_port(ctx, 5060));
        assert!(!transport::is_dst_port(ctx, -1));
    });
    let core = TestCore::default();
    let mut m = request("OPTIONS", "sip:b@c", "");
    let recv = RecvInfo {
        proto: Proto::Tcp,
        local: "[2001:db8::1]:5060".parse().expect("address"),
        ..udp_recv()
    };
    with_ctx(&core, &mut m, recv, |ctx| {
        assert!(transport::is_tcp(ctx));
        assert!(transport::is_tcpx(ctx));
        assert!(!transport::is_udp(ctx));
        assert!(transport::is_proto(ctx, "t"));
        assert!(transport::is_ipv6(ctx));
    });
}

#[test]
fn next_hop_transport_and_family() {
    on_request("INVITE", "sip:b@10.0.0.1", "", |ctx| {
        assert!(transport::to_udp(ctx));
        assert!(transport::to_ipv4(ctx));
        assert!(!transport::to_ipv6(ctx));
        assert!(message::setdsturi(ctx, "sip:[2001:db8::7];transport=TCP"));
        assert!(transport::to_tcp(ctx));
        assert!(!transport::to_udp(ctx));
        assert!(transport::to_ipv6(ctx));
        assert!(message::setdsturi(ctx, "sips:gw.example.com"));
        assert!(transport::to_tls(ctx));
        assert!(!transport::to_ipv4(ctx) && !transport::to_ipv6(ctx));
        assert!(message::setdsturi(ctx, "sip:gw.example.com;transport=ws"));
        assert!(transport::to_ws(ctx) && transport::to_wsx(ctx) && !transport::to_wss(ctx));
        assert!(message::setdsturi(ctx, "sip:gw.example.com;transport=sctp"));
        assert!(transport::to_sctp(ctx));
    });
    let core = TestCore::default();
    let mut reply = parse(
        "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nVia: SIP/2.0/TCP 10.1.1.1:5070;branch=z9hG4bK2\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
    );
    with_ctx(&core, &mut reply, udp_recv(), |ctx| {
        assert!(transport::to_tcp(ctx), "replies go by the second Via");
        assert!(transport::to_ipv4(ctx));
    });
}

#[test]
fn request_uri_and_destination() {
    on_request(
        "INVITE",
        "sip:bob@biloxi.example.com;user=phone",
        "",
        |ctx| {
            assert!(message::setuser(ctx, "carol"));
            assert!(message::sethost(ctx, "10.0.0.9"));
            assert_eq!(
                pv(ctx, "$ru"),
                crate::pv::PvValue::Str("sip:carol@10.0.0.9;user=phone".into())
            );
            assert!(message::setuser(ctx, ""));
            assert_eq!(
                pv(ctx, "$ru"),
                crate::pv::PvValue::Str("sip:10.0.0.9;user=phone".into())
            );
            assert!(!message::sethost(ctx, ""));
            assert!(!message::sethost(ctx, "a b"));
            assert!(!message::seturi(ctx, ""));
            assert!(message::seturi(ctx, "sip:x@y"));
            assert_eq!(pv(ctx, "$ru"), crate::pv::PvValue::Str("sip:x@y".into()));
            assert_eq!(
                pv(ctx, "$ou"),
                crate::pv::PvValue::Str("sip:bob@biloxi.example.com;user=phone".into())
            );
            assert!(!message::isdsturiset(ctx));
            assert!(message::setdsturi(ctx, "sip:10.0.0.7:5080"));
            assert!(message::isdsturiset(ctx));
            assert!(message::setdsturi(ctx, "bad uri"), "true even when refused");
            assert_eq!(
                pv(ctx, "$du"),
                crate::pv::PvValue::Str("sip:10.0.0.7:5080".into())
            );
            assert!(message::resetdsturi(ctx));
            assert!(!message::isdsturiset(ctx));
        },
    );
    let core = TestCore::default();
    let mut reply = parse("SIP/2.0 200 OK\r\nCSeq: 1 INVITE\r\n\r\n");
    with_ctx(&core, &mut reply, udp_recv(), |ctx| {
        assert!(
            !message::seturi(ctx, "sip:a@b"),
            "a reply has no Request-URI"
        );
        assert!(!message::setuser(ctx, "a"));
    });
}

#[test]
fn core_requests_are_recorded() {
    on_request("INVITE", "sip:b@c", "", |ctx| {
        assert!(!ctx.state().force_rport && !ctx.state().add_local_rport);
        assert!(message::force_rport(ctx));
        assert!(message::add_local_rport(ctx));
        assert!(ctx.state().force_rport && ctx.state().add_local_rport);
        assert!(!ctx.drop_requested());
        message::set_drop(ctx);
        assert!(ctx.drop_requested());
        assert_eq!(ctx.take_unwind(), None, "set_drop does not stop the script");
    });
}

#[test]
fn myself_checks() {
    on_request("INVITE", "sip:bob@proxy.example.com", "", |ctx| {
        assert!(myself::is_myself(ctx, "sip:192.0.2.1"));
        assert!(myself::is_myself(ctx, "sip:u@192.0.2.1:5060;transport=tcp"));
        assert!(myself::is_myself(ctx, "SIPS:[2001:db8::1]"));
        assert!(myself::is_myself(ctx, "192.0.2.1"));
        assert!(myself::is_myself(ctx, "proxy.example.com"));
        assert!(!myself::is_myself(ctx, "sip:192.0.2.1:5080"));
        assert!(!myself::is_myself(ctx, "sip:192.0.2.1;transport=tls"));
        assert!(!myself::is_myself(ctx, "sip:other.example.com"));
        assert!(!myself::is_myself(ctx, "sip:"));
        assert!(!myself::is_myself(ctx, ""));
        assert!(myself::is_myself_ruri(ctx));
        assert!(!myself::is_myself_duri(ctx), "no $du");
        assert!(myself::is_myself_nhuri(ctx));
        assert!(message::setdsturi(ctx, "sip:10.9.9.9"));
        assert!(!myself::is_myself_duri(ctx));
        assert!(!myself::is_myself_nhuri(ctx));
        assert!(message::setdsturi(ctx, "sip:192.0.2.1:5060"));
        assert!(myself::is_myself_duri(ctx));
        assert!(!myself::is_myself_furi(ctx));
        assert!(!myself::is_myself_turi(ctx));
        assert!(!myself::is_myself_srcip(ctx));
        assert!(!myself::is_myself_suri(ctx));
        assert!(message::seturi(ctx, "tel:+15551234"));
        assert!(!myself::is_myself_ruri(ctx));
    });
    let core = TestCore::default();
    let mut m = parse(
        "OPTIONS sip:x@y SIP/2.0\r\nFrom: <sip:a@PROXY.example.com>;tag=1\r\nTo: <sip:b@192.0.2.1>\r\n\r\n",
    );
    let recv = RecvInfo {
        src: "192.0.2.1:5060".parse().expect("address"),
        ..udp_recv()
    };
    with_ctx(&core, &mut m, recv, |ctx| {
        assert!(myself::is_myself_furi(ctx));
        assert!(myself::is_myself_turi(ctx));
        assert!(myself::is_myself_srcip(ctx));
        assert!(myself::is_myself_suri(ctx));
    });
    let mut w = WorkerLocal::default();
    let mut m = request("OPTIONS", "sip:192.0.2.1", "");
    let mut no_core = Ctx::for_message(&mut w, &mut m, udp_recv());
    assert!(!myself::is_myself_ruri(&mut no_core), "no server: false");
}
