//! The `kemid` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// kemid: a SIP routing server scripted in JavaScript or Squirrel through
/// Kamailio's KEMI API (`KSR.<module>.<function>`).
///
/// Without a subcommand, kemid runs the server (`kemid run`).
#[derive(Parser)]
#[command(name = "kemid", version, about, long_about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the SIP server with a kamailio.cfg-style configuration.
    ///
    /// Signals: SIGHUP reloads the routing script (a broken one is refused
    /// and the running one keeps serving); SIGTERM and SIGINT stop the
    /// server once each worker has finished its message, removing the
    /// control socket.
    Run(RunArgs),
    /// Regenerate the IDE stubs (stubs/) and the API reference (docs/kemi/)
    /// from the annotated modules compiled into this binary.
    Gen {
        /// Write nothing: exit 1 and name every file that is stale.
        #[arg(long)]
        check: bool,
        /// The project root to write stubs/ and docs/kemi/ under.
        #[arg(long, value_name = "DIR", default_value = ".")]
        out: PathBuf,
    },
    /// Print the KSR API listing as JSON: the document Kamailio's
    /// `app_jsdt.api_list` answers, plus parameter names and docs.
    Api {
        /// Print only the fields Kamailio prints.
        #[arg(long)]
        compat: bool,
        /// Print every module's parameters instead (name, type, default,
        /// accepted values, doc), as stubs/kemi-params.json has them.
        #[arg(long, conflicts_with = "compat")]
        params: bool,
    },
    /// Check routing scripts (.js, .nut, .sq) without running them:
    /// syntax errors, KSR functions that do not exist or get the wrong
    /// number of arguments, t_on_failure/t_on_branch/t_on_reply names that
    /// name no function of the script, a missing ksr_request_route. Prints
    /// `file:line:col: message` per fault; exits 1 when any is found.
    Check {
        /// The script files to check.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Send one JSON-RPC call to a running kemid's control socket and
    /// print the result as indented JSON; exits 1 with the message of an
    /// error reply. `kemid rpc system.listMethods` lists the methods.
    Rpc {
        /// The control socket (default: the one `kemid run` uses without
        /// -Y, -s or a ctl modparam).
        #[arg(short = 's', long = "socket", value_name = "PATH")]
        socket: Option<PathBuf>,
        /// The run folder kemid was started with (-Y).
        #[arg(short = 'Y', long = "rundir", value_name = "RUNDIR")]
        rundir: Option<PathBuf>,
        /// The method, e.g. app_jsdt.reload, core.uptime, cfg.set.
        method: String,
        /// The method's parameters: numbers are sent as numbers, the rest
        /// as strings.
        params: Vec<String>,
    },
}

#[derive(clap::Args, Default)]
struct RunArgs {
    /// The configuration file (kamailio.cfg syntax: global parameters,
    /// loadmodule, modparam, cfgengine, #!define/#!ifdef/include_file).
    /// Without it kemid serves UDP and TCP on 127.0.0.1:5060 with a
    /// built-in configuration and JavaScript script.
    #[arg(short = 'f', long = "config", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Define NAME (optionally with a value) for #!ifdef and substitution,
    /// like Kamailio's -A. Repeatable.
    #[arg(short = 'A', value_name = "NAME[=VALUE]")]
    defines: Vec<String>,
    /// Check the configuration and the script, then exit (0 when both
    /// load).
    #[arg(short = 'c', long = "check-config")]
    check_only: bool,
    /// The run folder: the control socket is RUNDIR/kemid_ctl unless the
    /// configuration sets modparam("ctl", "binrpc", "unix:PATH").
    #[arg(short = 'Y', long = "rundir", value_name = "RUNDIR")]
    rundir: Option<PathBuf>,
    /// The control socket (overrides -Y and the configuration).
    #[arg(short = 's', long = "socket", value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Reload the routing script whenever its file changes (as SIGHUP and
    /// `kemid rpc app_jsdt.reload` do; a broken version is refused and the
    /// running one keeps serving).
    #[arg(long)]
    watch: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Run(RunArgs::default())) {
        Command::Gen { check, out } => gen(check, &out),
        Command::Api { compat, params } => {
            let doc = if params {
                kemid::gen::params_document()
            } else {
                kemid::gen::api_document(!compat)
            };
            match serde_json::to_string_pretty(&doc) {
                Ok(text) => {
                    println!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("kemid api: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Check { files } => check(&files),
        Command::Run(args) => run(&args),
        Command::Rpc {
            socket,
            rundir,
            method,
            params,
        } => {
            let path = socket.unwrap_or_else(|| kemid::rpc::default_socket(rundir.as_deref()));
            match kemid::rpc::call(&path, &method, &kemid::rpc::params_from_args(&params)) {
                Ok(result) => {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&result).unwrap_or_default()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("kemid rpc: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn run(args: &RunArgs) -> ExitCode {
    use kemid::config::{parse_define, Config};
    use kemid::engine::ScriptSource;
    use kemid::server::{self, Server};
    use std::path::Path;

    let mut defines = Vec::new();
    for d in &args.defines {
        match parse_define(d) {
            Ok(d) => defines.push(d),
            Err(e) => {
                eprintln!("kemid: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let builtin = args.config.is_none();
    let loaded = match &args.config {
        Some(path) => Config::load(path, &defines),
        None => Config::from_text(
            Path::new(server::BUILTIN_CONFIG_NAME),
            server::BUILTIN_CONFIG,
            &defines,
        ),
    };
    let config = match loaded {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kemid: configuration error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let script = if builtin {
        Ok(ScriptSource {
            path: config.script.clone(),
            text: server::BUILTIN_SCRIPT.to_owned(),
        })
    } else {
        ScriptSource::read(&config.script)
    };
    let script = match script {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kemid: {e}");
            return ExitCode::FAILURE;
        }
    };
    if builtin {
        eprintln!("kemid: no -f given: serving the built-in configuration (UDP and TCP on 127.0.0.1:5060, built-in JavaScript routing)");
    }
    if args.check_only {
        // The script checks of `kemid check` (unknown KSR functions, wrong
        // argument counts, callback names), then a real load.
        let faults = kemid::engine::check::check_source(config.engine, &script);
        for d in &faults {
            eprintln!("{d}");
        }
        if !faults.is_empty() {
            eprintln!("kemid: {} fault(s) in the routing script", faults.len());
            return ExitCode::FAILURE;
        }
        let mut local = kemid::ctx::WorkerLocal::default();
        let engine = kemid::engine::EngineConfig {
            loaded_modules: config.modules.clone(),
            ..Default::default()
        };
        return match kemid::engine::load(config.engine, &script, &engine, &mut local) {
            Ok(_) => {
                println!("configuration and script are valid");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("kemid: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let script_path = config.script.clone();
    let server = match Server::start(&config, script) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("kemid: {e}");
            return ExitCode::FAILURE;
        }
    };
    let state = std::sync::Arc::new(kemid::rpc::RpcState {
        core: std::sync::Arc::clone(server.core()),
        store: std::sync::Arc::clone(server.script()),
        script_path,
        script_reloadable: !builtin,
        started: std::time::SystemTime::now(),
        config_file: config.file.clone(),
    });
    let socket = args
        .socket
        .clone()
        .or_else(|| control_socket_from_config(&config))
        .unwrap_or_else(|| kemid::rpc::default_socket(args.rundir.as_deref()));
    if let Err(e) = kemid::rpc::serve(&socket, std::sync::Arc::clone(&state)) {
        eprintln!(
            "kemid: cannot open the control socket {}: {e}",
            socket.display()
        );
        server.stop();
        return ExitCode::FAILURE;
    }
    handle_signals(std::sync::Arc::clone(&state), server.stopper());
    if args.watch {
        watch_script(std::sync::Arc::clone(&state));
    }
    server.wait();
    // Stopped by SIGTERM or SIGINT: the control socket goes with us.
    let _ = std::fs::remove_file(&socket);
    kemid::log::notice("core", format_args!("stopped"));
    ExitCode::SUCCESS
}

/// `modparam("ctl", "binrpc", "unix:PATH")`.
fn control_socket_from_config(config: &kemid::config::Config) -> Option<PathBuf> {
    match config.modparam("ctl", "binrpc")? {
        kemid::config::CfgValue::Str(s) => match s.strip_prefix("unix:") {
            Some(p) => Some(PathBuf::from(p)),
            None => {
                eprintln!("kemid: ctl binrpc {s:?}: only unix:PATH is supported; using the default socket");
                None
            }
        },
        kemid::config::CfgValue::Int(_) => None,
    }
}

/// Reloads the script on SIGHUP; stops the server on SIGTERM and SIGINT
/// (each worker finishes the message it is handling first).
fn handle_signals(state: std::sync::Arc<kemid::rpc::RpcState>, stopper: kemid::server::Stopper) {
    let spawned = std::thread::Builder::new()
        .name("kemid-signals".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("kemid: no signal handling: {e}");
                    return;
                }
            };
            rt.block_on(async move {
                use tokio::signal::unix::{signal, SignalKind};
                let (Ok(mut hup), Ok(mut term), Ok(mut int)) = (
                    signal(SignalKind::hangup()),
                    signal(SignalKind::terminate()),
                    signal(SignalKind::interrupt()),
                ) else {
                    eprintln!("kemid: cannot install the signal handlers");
                    return;
                };
                loop {
                    tokio::select! {
                        _ = hup.recv() => {
                            let state = std::sync::Arc::clone(&state);
                            // Reloading compiles the script: keep it off the
                            // signal loop.
                            let _ = tokio::task::spawn_blocking(move || {
                                kemid::rpc::reload_script(&state)
                            })
                            .await;
                        }
                        _ = term.recv() => break,
                        _ = int.recv() => break,
                    }
                }
                kemid::log::notice("core", format_args!("stopping on a signal"));
                stopper.stop();
            });
        });
    if let Err(e) = spawned {
        eprintln!("kemid: no signal handling: {e}");
    }
}

/// Reloads the script when its file changes (checked twice a second).
fn watch_script(state: std::sync::Arc<kemid::rpc::RpcState>) {
    let _ = std::thread::Builder::new()
        .name("kemid-watch".into())
        .spawn(move || {
            let stamp = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
            let mut last = stamp(&state.script_path);
            loop {
                std::thread::sleep(std::time::Duration::from_millis(500));
                let now = stamp(&state.script_path);
                if now.is_some() && now != last {
                    last = now;
                    let _ = kemid::rpc::reload_script(&state);
                }
            }
        });
}

/// Prints every fault as `file:line:col: message`; exit 1 when any.
fn check(files: &[PathBuf]) -> ExitCode {
    let mut faults = 0;
    for file in files {
        for d in kemid::engine::check::check_file(file) {
            println!("{d}");
            faults += 1;
        }
    }
    if faults == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("{faults} fault(s) found");
        ExitCode::FAILURE
    }
}

fn gen(check: bool, out: &std::path::Path) -> ExitCode {
    if check {
        return match kemid::gen::check(out) {
            Ok(s) if s.is_clean() => {
                println!("stubs and docs are up to date");
                ExitCode::SUCCESS
            }
            Ok(s) => {
                for p in &s.stale {
                    eprintln!("stale: {}", p.display());
                }
                for p in &s.orphaned {
                    eprintln!(
                        "orphaned (no module generates it any more): {}",
                        p.display()
                    );
                }
                eprintln!("run `kemid gen` (or `cargo run -- gen`) and commit the result");
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("kemid gen: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match kemid::gen::write(out) {
        Ok(written) => {
            for p in &written {
                println!("wrote {}", p.display());
            }
            if written.is_empty() {
                println!("stubs and docs were already up to date");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kemid gen: {e}");
            ExitCode::FAILURE
        }
    }
}
