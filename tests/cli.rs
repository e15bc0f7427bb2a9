//! The `kemid` binary as an operator runs it: started with a
//! configuration, answering, and stopping cleanly on SIGTERM.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{options, scratch, UdpClient};

/// A UDP port free at the time of asking.
fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn wait_exit(child: &mut Child, within: Duration) -> Option<std::process::ExitStatus> {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn sigterm_stops_the_server_and_removes_the_control_socket() {
    let dir = scratch("cli-sigterm");
    let port = free_port();
    std::fs::write(
        dir.join("kemid.cfg"),
        format!(
            "#!KAMAILIO\nchildren=2\nlisten=udp:127.0.0.1:{port}\nloadmodule \"sl.so\"\nloadmodule \"app_jsdt.so\"\nmodparam(\"app_jsdt\", \"load\", \"route.js\")\ncfgengine \"jsdt\"\n"
        ),
    )
    .expect("write cfg");
    std::fs::write(
        dir.join("route.js"),
        "function ksr_request_route() { KSR.sl.sl_send_reply(200, \"Up\"); }\n",
    )
    .expect("write script");
    let socket = dir.join("ctl.sock");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kemid"))
        .arg("run")
        .arg("-f")
        .arg(dir.join("kemid.cfg"))
        .arg("-s")
        .arg(&socket)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("kemid starts");

    // It answers once started.
    let client = UdpClient::new(false);
    let to = format!("127.0.0.1:{port}").parse().expect("address");
    let mut answered = None;
    let end = Instant::now() + Duration::from_secs(20);
    while answered.is_none() && Instant::now() < end {
        // The reply goes to the Via's sent-by: the client's own address.
        let via = client.local().to_string();
        client.send(to, &options(&format!("sip:127.0.0.1:{port}"), &via, &[]));
        answered = client.recv(Duration::from_millis(200));
    }
    let answered = answered.unwrap_or_else(|| {
        let _ = child.kill();
        panic!("kemid did not answer")
    });
    assert_eq!(answered.status_code(), Some(200));
    assert!(socket.exists(), "control socket created");

    let killed = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let status = wait_exit(&mut child, Duration::from_secs(10)).unwrap_or_else(|| {
        let _ = child.kill();
        panic!("kemid did not stop within 10 s of SIGTERM")
    });
    assert!(status.success(), "exit status {status}");
    assert!(!socket.exists(), "control socket removed");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `kemid run -c -f CFG`: exit status and what it printed on stderr.
fn check_config(name: &str, cfg: &str, script: &str) -> (bool, String) {
    let dir = scratch(name);
    std::fs::write(dir.join("kemid.cfg"), cfg).expect("write cfg");
    std::fs::write(dir.join("route.js"), script).expect("write script");
    let out = Command::new(env!("CARGO_BIN_EXE_kemid"))
        .arg("run")
        .arg("-c")
        .arg("-f")
        .arg(dir.join("kemid.cfg"))
        .output()
        .expect("kemid runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const CHECK_CFG: &str = "#!KAMAILIO\nloadmodule \"sl.so\"\nloadmodule \"app_jsdt.so\"\nmodparam(\"app_jsdt\", \"load\", \"route.js\")\ncfgengine \"jsdt\"\n";

#[test]
fn check_config_reports_a_misspelled_ksr_function() {
    let (ok, err) = check_config(
        "cli-check-typo",
        CHECK_CFG,
        "function ksr_request_route() {\n    KSR.sl.sl_send_replly(200, \"OK\");\n}\n",
    );
    assert!(!ok, "a misspelled function fails the check");
    assert!(err.contains("route.js:2:"), "{err}");
    assert!(err.contains("sl_send_replly"), "{err}");
    let (ok, err) = check_config(
        "cli-check-good",
        CHECK_CFG,
        "function ksr_request_route() {\n    KSR.sl.sl_send_reply(200, \"OK\");\n}\n",
    );
    assert!(ok, "{err}");
}

#[test]
fn check_config_names_a_bad_parameter_value_and_what_is_accepted() {
    let cfg = CHECK_CFG.replace(
        "cfgengine",
        "loadmodule \"maxfwd.so\"\nmodparam(\"maxfwd\", \"max_limit\", 300)\ncfgengine",
    );
    let (ok, err) = check_config("cli-check-range", &cfg, "function ksr_request_route() {}\n");
    assert!(!ok);
    assert!(err.contains("kemid.cfg:6: modparam(\"maxfwd\", \"max_limit\", 300): out of range; accepted: 0 to 255"), "{err}");
}

#[test]
fn kamailio_cfg_constructs_are_read() {
    // Adjacent strings across lines, a module-name regular expression,
    // loadmodule with a path or without .so, and mpath.
    let cfg = "#!KAMAILIO\nmpath=\"/usr/lib/x86_64-linux-gnu/kamailio/modules/\"\n\
        loadmodule \"/usr/lib/x86_64-linux-gnu/kamailio/modules/sl.so\"\n\
        loadmodule \"usrloc\"\nloadmodule \"registrar.so\"\n\
        modparam(\"nathelper|registrar\", \"received_avp\", \"$avp(RECEIVED)\")\n\
        loadmodule \"app_jsdt.so\"\nmodparam(\"app_jsdt\", \"load\",\n    \"rou\"\n    \"te.js\")\ncfgengine \"jsdt\"\n";
    let (ok, err) = check_config("cli-constructs", cfg, "function ksr_request_route() {}\n");
    assert!(ok, "{err}");
    // Every loaded module the expression matches must have the parameter.
    let bad = cfg.replace("nathelper|registrar", "usrloc|registrar");
    let (ok, err) = check_config(
        "cli-constructs-bad",
        &bad,
        "function ksr_request_route() {}\n",
    );
    assert!(!ok);
    assert!(
        err.contains("kemid.cfg:6: module `usrloc` has no parameter `received_avp`"),
        "{err}"
    );
}
