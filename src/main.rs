//! copilot-api: GitHub Copilot as OpenAI- and Anthropic-compatible HTTP endpoints.
//!
//! `main` parses, dispatches and turns the outcome into an exit code: 0 success, 1 a
//! runtime failure, 2 a usage error.
#![forbid(unsafe_code)]

mod app;
mod base64;
mod cli;
mod commands;
mod config;
mod features;
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
mod translate;
mod upstream;

use std::process::ExitCode;

fn main() -> ExitCode {
    let parsed = match cli::parse(pico_args::Arguments::from_env()) {
        Ok(p) => p,
        Err(e) => return usage_error(&e),
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
    let config = match config::Config::from_raw(*raw, &|k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => return usage_error(&e),
    };
    log::set_verbose(config.verbose);
    let result = match config.command {
        cli::CommandName::Start => commands::start::run(config),
        cli::CommandName::Auth => commands::auth::run(&config),
        cli::CommandName::CheckUsage => commands::usage::run(&config),
        cli::CommandName::Debug => commands::debug::run(&config),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            error!("{message}");
            ExitCode::from(1)
        }
    }
}

fn usage_error(e: &cli::UsageError) -> ExitCode {
    eprintln!("copilot-api: {e}");
    ExitCode::from(2)
}
