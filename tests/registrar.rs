//! A real kemid on loopback as a registrar: REGISTER, refresh, removal,
//! limits, lookup and expiry, and the `ul.*` control methods seeing the
//! same table. Every case runs in both engines with the same script.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use common::{addr, each_engine, script_in, start, unique, TcpClient, UdpClient};
use kemid::engine::Lang;
use kemid::rpc::{self, RpcState};
use kemid::server::Server;
use kemid::sip::{HeaderName, SipMsg};
use kemid::transport::Proto;
use serde_json::{json, Value};

/// REGISTER is saved; any other request is looked up and answered 302
/// with the Request-URI and `$du` the lookup chose as reason, 404 when
/// the user has no contact. In JavaScript; `script_in` makes the Squirrel
/// text.
const SCRIPT: &str = r#"
function ksr_request_route() {
    if (KSR.pv.get("$rm") == "REGISTER") {
        KSR.registrar.save("location", 0);
        return;
    }
    var rc = KSR.registrar.lookup("location");
    if (rc == 1) {
        KSR.sl.sl_send_reply(302, "Found " + KSR.pv.gete("$ru") + " du=" + KSR.pv.gete("$du"));
        return;
    }
    KSR.sl.sl_send_reply(404, "Not Found " + rc);
}
"#;

const BASE_CFG: &str = "loadmodule \"sl.so\"\nloadmodule \"usrloc.so\"\nloadmodule \"registrar.so\"\nmodparam(\"usrloc\", \"timer_interval\", 1)\n";

fn script(lang: Lang) -> String {
    script_in(lang, SCRIPT)
}

/// One step of a case.
enum Step {
    /// A REGISTER for `user` with these Contact values and Expires header,
    /// Call-ID `call` and CSeq `cseq`; the reply must have `status`, and
    /// on 200 list exactly `listed` (URI, expires) in this order.
    Register {
        user: &'static str,
        contacts: &'static str,
        expires: Option<u32>,
        call: &'static str,
        cseq: u32,
        status: u16,
        listed: &'static [(&'static str, u32)],
    },
    /// An OPTIONS to `user`: `status` and a reason containing `reason`.
    Lookup {
        user: &'static str,
        status: u16,
        reason: &'static str,
    },
    /// A header the last reply must have, with this value.
    LastHeader(&'static str, &'static str),
    Sleep(u64),
}

struct Case {
    name: &'static str,
    /// Extra configuration lines.
    cfg: &'static str,
    steps: &'static [Step],
}

use Step::*;

const CASES: &[Case] = &[
    Case {
        name: "one contact, then looked up",
        cfg: "",
        steps: &[
            Register {
                user: "alice",
                contacts: "<sip:alice@192.0.2.10:5062>",
                expires: Some(600),
                call: "one",
                cseq: 1,
                status: 200,
                listed: &[("sip:alice@192.0.2.10:5062", 600)],
            },
            Lookup {
                user: "alice",
                status: 302,
                reason: "Found sip:alice@192.0.2.10:5062 du=",
            },
        ],
    },
    Case {
        name: "two contacts listed best first; lookup takes the best",
        cfg: "",
        steps: &[
            Register {
                user: "bob",
                contacts: "<sip:bob@192.0.2.20>;q=0.5, <sip:bob@192.0.2.21>;q=1;expires=900",
                expires: Some(300),
                call: "two",
                cseq: 1,
                status: 200,
                listed: &[("sip:bob@192.0.2.21", 900), ("sip:bob@192.0.2.20", 300)],
            },
            Lookup {
                user: "bob",
                status: 302,
                reason: "Found sip:bob@192.0.2.21 ",
            },
        ],
    },
    Case {
        name: "a refresh updates the expiry; an older CSeq is refused",
        cfg: "",
        steps: &[
            Register {
                user: "carol",
                contacts: "<sip:carol@192.0.2.30>",
                expires: Some(600),
                call: "refresh",
                cseq: 10,
                status: 200,
                listed: &[("sip:carol@192.0.2.30", 600)],
            },
            Register {
                user: "carol",
                contacts: "<sip:carol@192.0.2.30>",
                expires: Some(1200),
                call: "refresh",
                cseq: 11,
                status: 200,
                listed: &[("sip:carol@192.0.2.30", 1200)],
            },
            Register {
                user: "carol",
                contacts: "<sip:carol@192.0.2.30>",
                expires: Some(60),
                call: "refresh",
                cseq: 9,
                status: 400,
                listed: &[],
            },
            LastHeader("P-Registrar-Error", "Invalid CSeq number"),
        ],
    },
    Case {
        name: "Contact * with Expires 0 removes every binding",
        cfg: "",
        steps: &[
            Register {
                user: "dave",
                contacts: "<sip:dave@192.0.2.40>, <sip:dave@192.0.2.41>",
                expires: Some(600),
                call: "star",
                cseq: 1,
                status: 200,
                listed: &[("sip:dave@192.0.2.40", 600), ("sip:dave@192.0.2.41", 600)],
            },
            Register {
                user: "dave",
                contacts: "*",
                expires: Some(600),
                call: "star",
                cseq: 2,
                status: 400,
                listed: &[],
            },
            Register {
                user: "dave",
                contacts: "*",
                expires: Some(0),
                call: "star",
                cseq: 3,
                status: 200,
                listed: &[],
            },
            Lookup {
                user: "dave",
                status: 404,
                reason: "Not Found -1",
            },
        ],
    },
    Case {
        name: "an expiry below min_expires gets 423 with Min-Expires",
        cfg: "modparam(\"registrar\", \"min_expires\", 60)\nmodparam(\"registrar\", \"min_expires_mode\", 1)\n",
        steps: &[
            Register {
                user: "erin",
                contacts: "<sip:erin@192.0.2.50>",
                expires: Some(10),
                call: "brief",
                cseq: 1,
                status: 423,
                listed: &[],
            },
            LastHeader("Min-Expires", "60"),
            Lookup {
                user: "erin",
                status: 404,
                reason: "Not Found -1",
            },
        ],
    },
    Case {
        name: "an unknown user is not found",
        cfg: "",
        steps: &[Lookup {
            user: "nobody",
            status: 404,
            reason: "Not Found -1",
        }],
    },
    Case {
        name: "a two-second registration is gone after three",
        cfg: "modparam(\"registrar\", \"min_expires\", 1)\n",
        steps: &[
            Register {
                user: "frank",
                contacts: "<sip:frank@192.0.2.60>",
                expires: Some(2),
                call: "expiry",
                cseq: 1,
                status: 200,
                listed: &[("sip:frank@192.0.2.60", 2)],
            },
            Lookup {
                user: "frank",
                status: 302,
                reason: "Found sip:frank@192.0.2.60",
            },
            Sleep(3100),
            Lookup {
                user: "frank",
                status: 404,
                reason: "Not Found -1",
            },
        ],
    },
];

fn register_text(
    to: std::net::SocketAddr,
    via: &str,
    user: &str,
    contacts: &str,
    expires: Option<u32>,
    call: &str,
    cseq: u32,
) -> String {
    let mut t = format!(
        "REGISTER sip:{to} SIP/2.0\r\nVia: SIP/2.0/UDP {via};branch=z9hG4bK-r{n}\r\nMax-Forwards: 70\r\nFrom: <sip:{user}@example.com>;tag=r{n}\r\nTo: <sip:{user}@example.com>\r\nCall-ID: {call}-{user}@test\r\nCSeq: {cseq} REGISTER\r\nContact: {contacts}\r\n",
        n = unique()
    );
    if let Some(e) = expires {
        t.push_str(&format!("Expires: {e}\r\n"));
    }
    t.push_str("Content-Length: 0\r\n\r\n");
    t
}

/// The contacts a 200 lists, with their expiry.
fn listed(reply: &SipMsg) -> Vec<(String, u32)> {
    reply
        .contacts()
        .ok()
        .and_then(|c| c.list())
        .map(|l| {
            l.iter()
                .map(|c| (c.uri_str().to_owned(), c.expires().unwrap_or(u32::MAX)))
                .collect()
        })
        .unwrap_or_default()
}

fn run_case(lang: Lang, case: &Case) {
    let server = start(lang, &script(lang), &format!("{BASE_CFG}{}", case.cfg));
    let to = addr(&server, Proto::Udp, false);
    let client = UdpClient::new(false);
    let via = client.local().to_string();
    let mut last: Option<SipMsg> = None;
    let what = |step: usize| format!("{lang:?}, case {:?}, step {step}", case.name);
    for (i, step) in case.steps.iter().enumerate() {
        match step {
            Register {
                user,
                contacts,
                expires,
                call,
                cseq,
                status,
                listed: want,
            } => {
                let req = register_text(to, &via, user, contacts, *expires, call, *cseq);
                let reply = client
                    .transact(to, req.as_bytes())
                    .unwrap_or_else(|| panic!("{}: no reply", what(i)));
                assert_eq!(reply.status_code(), Some(*status), "{}", what(i));
                if *status == 200 {
                    let got = listed(&reply);
                    assert_eq!(got.len(), want.len(), "{}: {got:?}", what(i));
                    for ((uri, e), (want_uri, want_e)) in got.iter().zip(want.iter()) {
                        assert_eq!(uri, want_uri, "{}", what(i));
                        // A second may pass between saving and replying.
                        assert!(
                            *e <= *want_e && *e + 1 >= *want_e,
                            "{}: expires {e}, wanted {want_e}",
                            what(i)
                        );
                    }
                    assert!(reply.header(HeaderName::Date).is_some(), "{}", what(i));
                }
                last = Some(reply);
            }
            Lookup {
                user,
                status,
                reason,
            } => {
                let req = common::options(&format!("sip:{user}@example.com"), &via, &[]);
                let reply = client
                    .transact(to, &req)
                    .unwrap_or_else(|| panic!("{}: no reply", what(i)));
                assert_eq!(reply.status_code(), Some(*status), "{}", what(i));
                let got = reply.reason().unwrap_or("");
                assert!(got.contains(reason), "{}: reason {got:?}", what(i));
                last = Some(reply);
            }
            LastHeader(name, value) => {
                let got = last
                    .as_ref()
                    .and_then(|r| r.header_by_name(name).map(|h| h.value.to_owned()));
                assert_eq!(got.as_deref(), Some(*value), "{}", what(i));
            }
            Sleep(ms) => std::thread::sleep(Duration::from_millis(*ms)),
        }
    }
    server.stop();
}

#[test]
fn registrar_cases_in_both_engines() {
    each_engine(|lang| {
        for case in CASES {
            run_case(lang, case);
        }
    });
}

fn rpc_state(server: &Server) -> RpcState {
    RpcState {
        core: Arc::clone(server.core()),
        store: Arc::clone(server.script()),
        script_path: "/test/route.js".into(),
        script_reloadable: false,
        started: SystemTime::now(),
        config_file: "/test/kemid.cfg".into(),
    }
}

/// Calls a method; `Err(message)` for an error answer.
fn call(state: &RpcState, method: &str, params: Value) -> Result<Value, String> {
    let answer = rpc::handle_text(
        &json!({"jsonrpc": "2.0", "method": method, "params": params, "id": 1}).to_string(),
        state,
    );
    match answer.get("error") {
        Some(e) => Err(e["message"].as_str().unwrap_or("").to_owned()),
        None => Ok(answer["result"].clone()),
    }
}

#[test]
fn control_methods_see_and_change_the_table() {
    each_engine(|lang| {
        let server = start(lang, &script(lang), BASE_CFG);
        let state = rpc_state(&server);
        let to = addr(&server, Proto::Udp, false);
        let client = UdpClient::new(false);
        let via = client.local().to_string();
        let req = register_text(
            to,
            &via,
            "grace",
            "<sip:grace@192.0.2.70>;q=0.7",
            Some(600),
            "rpc",
            1,
        );
        let reply = client.transact(to, req.as_bytes()).expect("reply");
        assert_eq!(reply.status_code(), Some(200), "{lang:?}");

        let dump = call(&state, "ul.dump", json!([])).expect("ul.dump");
        assert_eq!(dump["Domain"], "location");
        let aors = dump["AoRs"].as_array().cloned().unwrap_or_default();
        assert_eq!(aors.len(), 1, "{dump}");
        let info = &aors[0]["Info"];
        assert_eq!(info["AoR"], "grace");
        let contact = &info["Contacts"][0]["Contact"];
        assert_eq!(contact["Address"], "sip:grace@192.0.2.70");
        assert_eq!(contact["Q"], 0.7);
        assert!(contact["Expires"]
            .as_u64()
            .is_some_and(|e| e > 590 && e <= 600));
        assert_eq!(contact["Call-ID"], "rpc-grace@test");
        assert!(contact["Socket"]
            .as_str()
            .is_some_and(|s| s.starts_with("udp:127.0.0.1:")));
        let brief = call(&state, "ul.dump", json!(["brief"])).expect("brief");
        assert_eq!(brief["AoRs"], json!([{"AoR": "grace"}]));

        let found = call(
            &state,
            "ul.lookup",
            json!(["location", "grace@example.com"]),
        )
        .expect("ul.lookup");
        assert_eq!(found["AoR"], "grace");
        assert_eq!(found["Contacts"].as_array().map(Vec::len), Some(1));
        assert_eq!(
            call(&state, "ul.lookup", json!(["location", "nobody"]))
                .err()
                .as_deref(),
            Some("AOR not found in location table")
        );
        assert_eq!(
            call(&state, "ul.lookup", json!(["nosuchtable", "grace"]))
                .err()
                .as_deref(),
            Some("Domain not found")
        );

        // ul.add: table, AoR, contact, expires, q, path, flags, cflags, methods.
        call(
            &state,
            "ul.add",
            json!([
                "location",
                "henry",
                "sip:henry@192.0.2.80:5070",
                0,
                1,
                "0",
                0,
                0,
                -1
            ]),
        )
        .expect("ul.add");
        let opts = common::options("sip:henry@example.com", &via, &[]);
        let reply = client.transact(to, &opts).expect("reply");
        assert_eq!(reply.status_code(), Some(302), "{lang:?}");
        assert!(reply
            .reason()
            .is_some_and(|r| r.contains("sip:henry@192.0.2.80:5070")));
        let henry = call(&state, "ul.lookup", json!(["location", "henry"])).expect("henry");
        assert_eq!(henry["Contacts"][0]["Contact"]["Expires"], "permanent");
        assert!(call(&state, "ul.add", json!(["location", "henry"])).is_err());

        call(&state, "ul.rm", json!(["location", "henry"])).expect("ul.rm");
        let reply = client.transact(to, &opts).expect("reply");
        assert_eq!(reply.status_code(), Some(404), "{lang:?}");
        server.stop();
    });
}

#[test]
fn expired_contacts_leave_the_table() {
    let server = start(
        Lang::Js,
        SCRIPT,
        &format!("{BASE_CFG}modparam(\"registrar\", \"min_expires\", 1)\n"),
    );
    let state = rpc_state(&server);
    let to = addr(&server, Proto::Udp, false);
    let client = UdpClient::new(false);
    let via = client.local().to_string();
    for i in 0..20 {
        let user = format!("churn{i}");
        let req = register_text(to, &via, &user, "<sip:c@192.0.2.90>", Some(1), "churn", 1);
        assert_eq!(
            client
                .transact(to, req.as_bytes())
                .and_then(|r| r.status_code()),
            Some(200)
        );
    }
    let count = |state: &RpcState| {
        call(state, "ul.dump", json!(["brief"]))
            .ok()
            .and_then(|d| d["AoRs"].as_array().map(Vec::len))
            .unwrap_or(usize::MAX)
    };
    assert_eq!(count(&state), 20);
    // The timer runs every second: within three the table is empty.
    let deadline = Instant::now() + Duration::from_secs(4);
    while count(&state) != 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(count(&state), 0, "expired AoRs are freed");
    server.stop();
}

#[test]
fn register_over_tcp_is_answered_on_the_connection() {
    each_engine(|lang| {
        let server = start(lang, &script(lang), BASE_CFG);
        let state = rpc_state(&server);
        let to = addr(&server, Proto::Tcp, false);
        let mut client = TcpClient::connect(to);
        let via = client.local().to_string();
        let req = register_text(
            to,
            &via,
            "ivan",
            "<sip:ivan@192.0.2.95;transport=tcp>",
            Some(600),
            "tcp",
            1,
        )
        .replace("SIP/2.0/UDP", "SIP/2.0/TCP");
        client.send(req.as_bytes());
        let reply = client.recv(Duration::from_secs(3)).expect("reply");
        assert_eq!(reply.status_code(), Some(200), "{lang:?}");
        let found = call(&state, "ul.lookup", json!(["location", "ivan"])).expect("ivan");
        let contact = &found["Contacts"][0]["Contact"];
        assert!(contact["Socket"]
            .as_str()
            .is_some_and(|s| s.starts_with("tcp:")));
        assert!(contact["Tcpconn-Id"].as_i64().is_some_and(|id| id >= 0));
        server.stop();
    });
}

#[test]
fn usrloc_db_mode_other_than_memory_is_a_configuration_error() {
    let cfg = "#!KAMAILIO\nloadmodule \"app_jsdt.so\"\nloadmodule \"usrloc.so\"\nmodparam(\"usrloc\", \"db_mode\", 2)\nmodparam(\"app_jsdt\", \"load\", \"r.js\")\ncfgengine \"jsdt\"\n";
    let err = kemid::config::Config::from_text(std::path::Path::new("/t/kemid.cfg"), cfg, &[])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.starts_with("/t/kemid.cfg:4: ")
            && err.contains("\"db_mode\", 2): out of range; accepted: 0"),
        "{err}"
    );
}
