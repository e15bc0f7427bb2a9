//! The control plane: JSON-RPC 2.0 on a unix stream socket, with
//! Kamailio's method names (`app_jsdt.reload`, `core.uptime`, ...).
//!
//! The socket is created with mode 0600 (only the owner may control the
//! server). Each connection may send several requests; each gets one
//! response. `kemid rpc` is the matching client ([`call`]).

mod methods;

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};

pub use methods::{reload_script, METHODS};

use crate::log;
use crate::server::{Core, ScriptStore};

/// What the methods act on.
pub struct RpcState {
    pub core: Arc<Core>,
    pub store: Arc<ScriptStore>,
    /// The script file, read again on reload.
    pub script_path: PathBuf,
    /// `None` for the built-in script (which cannot change).
    pub script_reloadable: bool,
    pub started: SystemTime,
    /// The main configuration file.
    pub config_file: PathBuf,
}

pub use crate::module::RpcError;

/// The default control socket: `<rundir>/kemid_ctl`.
pub fn default_socket(rundir: Option<&Path>) -> PathBuf {
    match rundir {
        Some(d) => d.join("kemid_ctl"),
        None => std::env::temp_dir().join("kemid").join("kemid_ctl"),
    }
}

/// Binds the control socket and serves it on its own thread.
pub fn serve(path: &Path, state: Arc<RpcState>) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        if !dir.exists() {
            std::fs::create_dir_all(dir)?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    // A socket left by a server that did not stop cleanly: reuse the name,
    // but never take over a live server's socket.
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("{} is in use by a running server", path.display()),
            ));
        }
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    log::info("rpc", format_args!("control socket on {}", path.display()));
    std::thread::Builder::new()
        .name("kemid-rpc".into())
        .spawn(move || {
            for conn in listener.incoming() {
                match conn {
                    Ok(stream) => {
                        let state = Arc::clone(&state);
                        // One short-lived thread per connection: a slow
                        // client never blocks another.
                        let _ = std::thread::Builder::new()
                            .name("kemid-rpc-conn".into())
                            .spawn(move || serve_connection(stream, &state));
                    }
                    Err(e) => log::error("rpc", format_args!("accept failed: {e}")),
                }
            }
        })?;
    Ok(())
}

fn serve_connection(stream: UnixStream, state: &RpcState) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(300)));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let reader = BufReader::new(stream);
    // One JSON document per line.
    for line in reader.lines() {
        let Ok(line) = line else { return };
        if line.trim().is_empty() {
            continue;
        }
        let response = handle_text(&line, state);
        let mut text = response.to_string();
        text.push('\n');
        if writer.write_all(text.as_bytes()).is_err() {
            return;
        }
    }
}

/// Answers one request document.
pub fn handle_text(text: &str, state: &RpcState) -> Value {
    let request: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return error_response(
                Value::Null,
                RpcError::new(-32700, format!("parse error: {e}")),
            )
        }
    };
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let Some(method) = request.get("method").and_then(Value::as_str) else {
        return error_response(id, RpcError::new(-32600, "invalid request: no method"));
    };
    let params: Vec<Value> = match request.get("params") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(other) => vec![other.clone()],
    };
    match methods::call(state, method, &params) {
        Ok(result) => json!({"jsonrpc": "2.0", "result": result, "id": id}),
        Err(e) => error_response(id, e),
    }
}

fn error_response(id: Value, e: RpcError) -> Value {
    json!({"jsonrpc": "2.0", "error": {"code": e.code, "message": e.message}, "id": id})
}

/// Sends one call to the socket at `path` and returns the result, or the
/// error message of an error reply.
pub fn call(path: &Path, method: &str, params: &[Value]) -> Result<Value, String> {
    let mut stream = UnixStream::connect(path).map_err(|e| {
        format!(
            "cannot connect to {}: {e} (is kemid running? see -s)",
            path.display()
        )
    })?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut text =
        json!({"jsonrpc": "2.0", "method": method, "params": params, "id": 1}).to_string();
    text.push('\n');
    stream
        .write_all(text.as_bytes())
        .map_err(|e| format!("cannot send: {e}"))?;
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .map_err(|e| format!("no answer: {e}"))?;
    let reply: Value = serde_json::from_str(&line).map_err(|e| format!("bad answer: {e}"))?;
    if let Some(err) = reply.get("error") {
        let msg = err
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("unknown error");
        return Err(msg.to_owned());
    }
    Ok(reply.get("result").cloned().unwrap_or(Value::Null))
}

/// Turns command-line words into JSON params: numbers stay numbers, the
/// rest are strings.
pub fn params_from_args(args: &[String]) -> Vec<Value> {
    args.iter()
        .map(|a| match a.parse::<i64>() {
            Ok(i) => json!(i),
            Err(_) => json!(a),
        })
        .collect()
}
