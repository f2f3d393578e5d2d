//! `start --claude-code`: after the catalog has loaded and before serving, the user picks
//! Claude Code's main and small/fast models in a terminal menu; the command that starts
//! Claude Code on this proxy is printed for their shell and copied to the clipboard.

use super::menu::{self, Terminal};
use super::models::{self, Choice};
use crate::config::Config;
use crate::routing::Api;
use crate::upstream::catalog::Model;

pub fn run(config: &Config, catalog: &[Model], base_url: &str) -> Result<(), String> {
    let choices: Vec<Choice> = catalog
        .iter()
        .map(Choice::from_model)
        .filter(|c| c.serves(Api::Messages))
        .collect();
    let index = |c: Option<&Choice>| {
        c.and_then(|c| choices.iter().position(|x| x.id == c.id))
            .unwrap_or(0)
    };
    let (main_default, small_default) = (
        index(models::default_main(&choices)),
        index(models::default_small(&choices)),
    );
    if choices.is_empty() {
        return Err("--claude-code: no model in the catalog can serve /v1/messages".into());
    }
    let (main, small) = match Terminal::open() {
        Some(mut term) => (
            menu::select(
                &mut term,
                "Main model for Claude Code",
                &choices,
                main_default,
            )?,
            menu::select(
                &mut term,
                "Small/fast model for Claude Code",
                &choices,
                small_default,
            )?,
        ),
        None => (
            menu::select_by_number("Main model for Claude Code", &choices, main_default)?,
            menu::select_by_number("Small/fast model for Claude Code", &choices, small_default)?,
        ),
    };
    let key = config.api_keys.first().map(String::as_str);
    let vars = models::claude_code_vars(base_url, key, &choices[main].id, &choices[small].id);
    let shell = super::shell_of(config);
    eprintln!("Run this in another terminal ({}):", shell.name());
    super::print_command(&shell.command(&vars, "claude"));
    Ok(())
}
