//! copilot-api: GitHub Copilot as OpenAI- and Anthropic-compatible HTTP endpoints.
//!
//! `main` reads the env file, parses, dispatches and turns the outcome into an exit code:
//! 0 success, 1 a runtime failure, 2 a usage error.
#![forbid(unsafe_code)]

mod accounting;
mod app;
mod base64;
mod bytes;
mod cli;
mod commands;
mod config;
mod dotenv;
mod features;
mod flags;
mod http;
mod ids;
mod log;
mod metrics;
mod protocol;
mod relay;
mod routes;
mod routing;
mod server;
mod sse;
mod streaming;
mod sync;
mod traffic;
mod translate;
mod upstream;

use std::process::ExitCode;

fn main() -> ExitCode {
    let env = |k: &str| std::env::var(k).ok();
    let argv: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    match dotenv::new_variables(&argv, &env) {
        Err(e) => return usage_error(&e),
        Ok(vars) if !vars.is_empty() => {
            eprintln!("copilot-api: {}", dotenv::reexec_with(&vars));
            return ExitCode::from(1);
        }
        Ok(_) => {}
    }
    let (argv, from_env) = match flags::args_with_env(argv, &env) {
        Ok(x) => x,
        Err(e) => return usage_error(&e),
    };
    let parsed = match cli::parse(pico_args::Arguments::from_vec(argv)) {
        Ok(p) => p,
        Err(e) => return usage_error(&from_env.rename(e)),
    };
    let raw = match parsed {
        cli::Parsed::Help(text) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        cli::Parsed::Version => {
            println!("copilot-api {}", cli::VERSION);
            return ExitCode::SUCCESS;
        }
        cli::Parsed::Command(raw) => raw,
    };
    // These two need no configuration (and no HOME): a health probe in a container, a
    // completion script at install time.
    match raw.command {
        Some(cli::CommandName::Health) => return commands::health::run(raw.url.as_deref()),
        Some(cli::CommandName::Completions) => {
            return match commands::completions::run(raw.shell.as_deref()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => usage_error(&e),
            };
        }
        _ => {}
    }
    let config = match config::Config::from_raw(*raw, &env) {
        Ok(c) => c,
        Err(e) => return usage_error(&from_env.rename(e)),
    };
    log::set_verbose(config.verbose);
    log::set_format(config.log_format);
    if config.claude_code && !commands::interactive() {
        eprintln!(
            "copilot-api: --claude-code asks in a terminal and none is attached; in scripts use `copilot-api setup claude-code`"
        );
        return ExitCode::from(2);
    }
    let result = match config.command {
        cli::CommandName::Start => commands::start::run(config),
        cli::CommandName::Auth => commands::auth::run(&config),
        cli::CommandName::CheckUsage => commands::usage::run(&config),
        cli::CommandName::Debug => commands::debug::run(&config),
        cli::CommandName::Setup => commands::setup::run(&config),
        cli::CommandName::Health | cli::CommandName::Completions => unreachable!("run above"),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            // A runtime failure may still come from a variable (TLS files): name it.
            error!("{}", from_env.rename(cli::UsageError(message)).0);
            ExitCode::from(1)
        }
    }
}

fn usage_error(e: &cli::UsageError) -> ExitCode {
    eprintln!("copilot-api: {e}");
    ExitCode::from(2)
}
