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
    /// Send one JSON-RPC call to a running kemid's control socket.
    Rpc {
        /// The control socket.
        #[arg(short = 's', long = "socket", value_name = "PATH")]
        socket: Option<PathBuf>,
        /// The method, e.g. app_jsdt.reload.
        method: String,
        /// The method's parameters.
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Run(RunArgs::default())) {
        Command::Gen { check, out } => gen(check, &out),
        Command::Api { compat } => {
            let doc = kemid::gen::api_document(!compat);
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
        Command::Rpc { .. } => {
            eprintln!("kemid: this command is not available in this build yet");
            ExitCode::from(2)
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
    match Server::start(&config, script) {
        Ok(server) => {
            server.wait();
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kemid: {e}");
            ExitCode::FAILURE
        }
    }
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
