//! The control socket: every method answers, and reload switches every
//! worker to a good script and keeps the old one on a broken script, in
//! both engines.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use common::{addr, each_engine, engine_names, scratch, UdpClient};
use kemid::config::Config;
use kemid::engine::{Lang, ScriptSource};
use kemid::rpc::{self, RpcState};
use kemid::server::Server;
use kemid::transport::Proto;
use serde_json::{json, Value};

struct Running {
    server: Server,
    socket: PathBuf,
    script: PathBuf,
    dir: PathBuf,
}

/// The same text is valid JavaScript and Squirrel.
fn script_text(reason: &str, broken: bool) -> String {
    let body = format!("KSR.sl.sl_send_reply(200, \"{reason}\");");
    if broken {
        // A syntax error on line 3 in both languages.
        format!("function ksr_request_route() {{\n    {body}\n    ) ;\n}}\n")
    } else {
        format!("function ksr_request_route() {{\n    {body}\n}}\n")
    }
}

/// The control state of `server`, with a reloadable script.
fn rpc_state(server: &Server, script: &Path, config_file: &Path) -> Arc<RpcState> {
    Arc::new(RpcState {
        core: Arc::clone(server.core()),
        store: Arc::clone(server.script()),
        script_path: script.to_path_buf(),
        script_reloadable: true,
        started: SystemTime::now(),
        config_file: config_file.to_path_buf(),
    })
}

fn start(lang: Lang) -> Running {
    let dir = scratch("rpc");
    let (module, engine, ext) = engine_names(lang);
    let script = dir.join(format!("route.{ext}"));
    std::fs::write(&script, script_text("v1", false)).expect("write script");
    let cfg = format!(
        "debug=1\nchildren=2\nlisten=udp:127.0.0.1:0\nlisten=tcp:127.0.0.1:0\nloadmodule \"sl.so\"\nloadmodule \"{module}.so\"\nloadmodule \"ctl.so\"\nmodparam(\"{module}\", \"load\", \"route.{ext}\")\ncfgengine \"{engine}\"\n"
    );
    let config = Config::from_text(&dir.join("kemid.cfg"), &cfg, &[]).expect("valid configuration");
    let source = ScriptSource::read(&config.script).expect("script");
    let server = Server::start(&config, source).expect("starts");
    let socket = dir.join("ctl.sock");
    rpc::serve(&socket, rpc_state(&server, &config.script, &config.file)).expect("control socket");
    Running {
        server,
        socket,
        script,
        dir,
    }
}

fn call(r: &Running, method: &str, params: Value) -> Result<Value, String> {
    let params = match params {
        Value::Array(a) => a,
        Value::Null => Vec::new(),
        v => vec![v],
    };
    rpc::call(&r.socket, method, &params)
}

/// The strings of the array `v` (`what` names it in a panic).
fn strings<'a>(v: &'a Value, what: &str) -> Vec<&'a str> {
    v.as_array()
        .unwrap_or_else(|| panic!("{what}: {v}"))
        .iter()
        .filter_map(Value::as_str)
        .collect()
}

fn reason_of_reply(r: &Running) -> String {
    let to = addr(&r.server, Proto::Udp, false);
    let client = UdpClient::new(false);
    let reply = client
        .transact(to, &client.options(&format!("sip:x@{to}"), &[]))
        .expect("a reply");
    reply.reason().unwrap_or_default().to_owned()
}

fn module(lang: Lang) -> &'static str {
    lang.module_name()
}

#[test]
fn reload_switches_every_worker_and_refuses_a_broken_script() {
    each_engine(|lang| {
        let r = start(lang);
        assert_eq!(reason_of_reply(&r), "v1");

        std::fs::write(&r.script, script_text("v2", false)).expect("write");
        let res =
            call(&r, &format!("{}.reload", module(lang)), Value::Null).expect("reload succeeds");
        assert_eq!(res["old"], json!(1), "{lang:?}: {res}");
        assert_eq!(res["new"], json!(2));
        assert_eq!(
            res["workers_pending"],
            json!(0),
            "every worker switched before the answer"
        );
        for _ in 0..8 {
            assert_eq!(
                reason_of_reply(&r),
                "v2",
                "{lang:?}: every worker runs the new script"
            );
        }

        std::fs::write(&r.script, script_text("v3", true)).expect("write");
        let err = call(&r, &format!("{}.reload", module(lang)), Value::Null).expect_err("refused");
        let file = r.script.display().to_string();
        assert!(
            err.contains(&format!("{file}:3")),
            "{lang:?}: error names file:line: {err}"
        );
        for _ in 0..4 {
            assert_eq!(
                reason_of_reply(&r),
                "v2",
                "{lang:?}: the old script keeps serving"
            );
        }
        let psx = call(&r, "core.psx", Value::Null).expect("psx");
        assert!(
            psx.as_array()
                .is_some_and(|a| a.iter().skip(1).all(|w| w["VERSION"] == json!(2))),
            "{psx}"
        );

        // The other engine's reload names the right one.
        let other = if lang == Lang::Js {
            "app_sqlang"
        } else {
            "app_jsdt"
        };
        let err = call(&r, &format!("{other}.reload"), Value::Null).expect_err("wrong engine");
        assert!(err.contains(&format!("{}.reload", module(lang))), "{err}");
        r.server_stop();
    });
}

impl Running {
    fn server_stop(self) {
        self.server.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn every_method_answers() {
    let r = start(Lang::Js);
    let methods = call(&r, "system.listMethods", Value::Null).expect("list");
    let names = strings(&methods, "system.listMethods");
    for m in rpc::METHODS {
        assert!(names.contains(&m.name));
        let help = call(&r, "system.methodHelp", json!(m.name)).expect("help");
        assert_eq!(help, json!(m.help));
    }
    assert!(call(&r, "core.version", Value::Null)
        .expect("version")
        .as_str()
        .is_some_and(|v| v.starts_with("kemid ")));
    let up = call(&r, "core.uptime", Value::Null).expect("uptime");
    assert!(up["uptime"].as_u64().is_some() && up["now"].as_u64() >= up["up_since"].as_u64());
    assert_eq!(
        call(&r, "core.echo", json!(["a", 1])).expect("echo"),
        json!(["a", 1])
    );
    let psx = call(&r, "core.psx", Value::Null).expect("psx");
    assert_eq!(
        psx.as_array().map(Vec::len),
        Some(1 + 4),
        "main + 2 UDP + 2 TCP workers: {psx}"
    );
    for m in ["app_jsdt.api_list", "app_sqlang.api_list"] {
        let api = call(&r, m, Value::Null).expect("api_list");
        assert_eq!(api, kemid::gen::api_document(true));
    }
    let _ = reason_of_reply(&r);
    let stats = call(&r, "stats.get_statistics", json!("all")).expect("stats");
    let lines = strings(&stats, "stats.get_statistics");
    assert!(lines.contains(&"core:rcv_requests = 1"), "{lines:?}");
    assert!(lines.contains(&"script:version = 1"));
    assert!(lines.iter().any(|l| l.starts_with("load:udp0-0")));
    assert!(call(&r, "stats.get_statistics", json!("nosuch")).is_err());
    assert_eq!(
        call(&r, "cfg.get", json!(["core", "debug"])).expect("get"),
        json!(1)
    );
    assert_eq!(
        call(&r, "cfg.set", json!(["core", "debug", 2])).expect("set"),
        json!(0)
    );
    assert_eq!(
        call(&r, "cfg.get", json!(["core", "debug"])).expect("get"),
        json!(2)
    );
    kemid::log::set_level(1);
    assert!(call(&r, "cfg.set", json!(["core", "debug", 9])).is_err());
    assert!(call(&r, "cfg.get", json!(["core", "nosuch"])).is_err());
    assert!(call(&r, "cfg.list", Value::Null)
        .expect("list")
        .as_array()
        .is_some());
    let e = call(&r, "tm.stats", Value::Null).expect_err("tm is not loaded here");
    assert!(e.contains("needs the tm module"), "{e}");
    let e = call(&r, "no.such", Value::Null).expect_err("unknown");
    assert!(e.contains("no method"));
    r.server_stop();
}

#[test]
fn the_socket_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let r = start(Lang::Js);
    let mode = std::fs::metadata(&r.socket)
        .expect("socket")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    // A second server cannot take a live socket over.
    let state_err = rpc::serve(
        Path::new(&r.socket),
        rpc_state(&r.server, &r.script, &r.dir.join("kemid.cfg")),
    );
    assert!(state_err.is_err());
    r.server_stop();
}
