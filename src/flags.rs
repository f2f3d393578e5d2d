//! The flag table, read from the help texts, and the `COPILOT_API_<FLAG>` variables built on
//! it.
//!
//! The help text of each command is the one place where every flag is listed with its value
//! name, so the table is parsed from it rather than kept beside it: a flag added to
//! `start --help` gets its variable and its shell completion without another edit, and one
//! missing from the help is missing everywhere (which the tests catch). A help line that
//! starts with `-` declares a flag: `  -p, --port PORT   Text` (a value, one space after the
//! name) or `      --no-auth   Text` (a switch, two or more spaces). A flag whose text says
//! "repeatable" takes a comma-separated list in its variable.

use crate::cli::{UsageError, help_for};
use std::ffi::OsString;

/// Prefix of every flag variable: `--max-body-mb` is `COPILOT_API_MAX_BODY_MB`.
pub const ENV_PREFIX: &str = "COPILOT_API_";

#[derive(Debug, Clone, PartialEq)]
pub struct Flag {
    /// `--port`.
    pub long: String,
    /// `-p`.
    pub short: Option<String>,
    /// The value's name in the help (`PORT`), or None for a switch.
    pub value: Option<String>,
    pub repeatable: bool,
    /// The help text, continuation lines joined.
    pub help: String,
}

impl Flag {
    /// `COPILOT_API_` + the long name, upper case, dashes as underscores.
    pub fn env_var(&self) -> String {
        let name = self.long.trim_start_matches('-');
        format!(
            "{ENV_PREFIX}{}",
            name.to_ascii_uppercase().replace('-', "_")
        )
    }

    fn given_in(&self, args: &[OsString]) -> bool {
        args.iter().any(|a| {
            let a = a.to_string_lossy();
            a == self.long
                || self.short.as_deref() == Some(a.as_ref())
                || a.strip_prefix(self.long.as_str())
                    .is_some_and(|rest| rest.starts_with('='))
        })
    }
}

/// The flags a help text declares, in order.
pub fn parse_help(help: &str) -> Vec<Flag> {
    let mut flags: Vec<Flag> = Vec::new();
    let mut in_flag = false;
    for line in help.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('-') {
            in_flag = false;
            let Some(flag) = parse_flag_line(trimmed) else {
                continue;
            };
            flags.retain(|f| f.long != flag.long);
            flags.push(flag);
            in_flag = true;
        } else if in_flag && !trimmed.is_empty() && line.starts_with("   ") {
            let last = flags.last_mut().expect("in_flag means a flag was pushed");
            last.help = format!("{} {}", last.help, trimmed);
            last.repeatable |= trimmed.contains("repeatable");
        } else {
            in_flag = false;
        }
    }
    flags
}

fn parse_flag_line(line: &str) -> Option<Flag> {
    let (short, rest) = match line.split_once(", ") {
        Some((s, rest)) if !s.starts_with("--") && !s.contains(' ') => (Some(s.to_string()), rest),
        _ => (None, line),
    };
    if !rest.starts_with("--") {
        return None;
    }
    let end = rest.find(' ').unwrap_or(rest.len());
    let long = rest[..end].to_string();
    let after = &rest[end..];
    let (value, help) = match after.strip_prefix(' ') {
        Some(v) if !v.is_empty() && !v.starts_with(' ') => {
            let vend = v.find(' ').unwrap_or(v.len());
            (Some(v[..vend].to_string()), v[vend..].trim())
        }
        _ => (None, after.trim()),
    };
    Some(Flag {
        long,
        short,
        value,
        repeatable: help.contains("repeatable"),
        help: help.to_string(),
    })
}

/// `(name, summary)` of every command in the main help.
pub fn commands() -> Vec<(String, String)> {
    crate::cli::MAIN_HELP
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| {
            let l = l.trim();
            let (name, summary) = l.split_once(' ')?;
            Some((name.to_string(), summary.trim().to_string()))
        })
        .collect()
}

/// Which flag each injected argument came from, so an error can name the variable.
#[derive(Debug, Default)]
pub struct FromEnv(Vec<(String, String)>);

impl FromEnv {
    /// The error with each flag that came from a variable replaced by that variable's name:
    /// `--port: `x` is not a port` becomes `COPILOT_API_PORT: `x` is not a port`.
    pub fn rename(&self, e: UsageError) -> UsageError {
        let mut msg = e.0;
        for (flag, var) in &self.0 {
            msg = replace_word(&msg, flag, var);
        }
        UsageError(msg)
    }
}

fn replace_word(text: &str, word: &str, with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(word) {
        let after = &rest[at + word.len()..];
        let whole = !after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-');
        out.push_str(&rest[..at]);
        out.push_str(if whole { with } else { word });
        rest = after;
    }
    out.push_str(rest);
    out
}

/// argv with a `--flag value` appended for each `start` flag that the command takes, is not
/// on the command line, and has a non-empty `COPILOT_API_<FLAG>` in `env`.
pub fn args_with_env(
    mut args: Vec<OsString>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Vec<OsString>, FromEnv), UsageError> {
    let mut from = FromEnv::default();
    let Some(help) = args.first().and_then(|c| help_for(&c.to_string_lossy())) else {
        return Ok((args, from));
    };
    let start = parse_help(&crate::cli::start_help());
    let takes = parse_help(&help);
    let mut added: Vec<OsString> = Vec::new();
    for flag in start
        .iter()
        .filter(|f| takes.iter().any(|t| t.long == f.long))
    {
        let var = flag.env_var();
        let Some(value) = env(&var).filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        if flag.given_in(&args) {
            continue;
        }
        match &flag.value {
            None => {
                if switch_value(&var, &value)? {
                    added.push(flag.long.clone().into());
                }
            }
            Some(_) if flag.repeatable => {
                for item in value.split(',').map(str::trim).filter(|i| !i.is_empty()) {
                    added.push(flag.long.clone().into());
                    added.push(item.into());
                }
            }
            Some(_) => {
                added.push(flag.long.clone().into());
                added.push(value.trim().into());
            }
        }
        from.0.push((flag.long.clone(), var));
    }
    args.extend(added);
    Ok((args, from))
}

/// A switch variable: `1`, `true`, `yes`, `on` or their opposites, any case.
fn switch_value(var: &str, value: &str) -> Result<bool, UsageError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(UsageError(format!(
            "{var}: `{value}` is not a switch value (1/0, true/false, yes/no, on/off)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Parsed, parse, start_help};

    fn raw_debug(args: Vec<OsString>) -> String {
        match parse(pico_args::Arguments::from_vec(args)) {
            Ok(Parsed::Command(raw)) => format!("{raw:?}"),
            other => panic!("{other:?}"),
        }
    }

    fn os(words: &[&str]) -> Vec<OsString> {
        words.iter().map(Into::into).collect()
    }

    #[test]
    fn help_lines_become_flags() {
        let flags = parse_help(&start_help());
        let port = flags.iter().find(|f| f.long == "--port").unwrap();
        assert_eq!(port.short.as_deref(), Some("-p"));
        assert_eq!(port.value.as_deref(), Some("PORT"));
        assert_eq!(port.env_var(), "COPILOT_API_PORT");
        let no_auth = flags.iter().find(|f| f.long == "--no-auth").unwrap();
        assert_eq!(no_auth.value, None);
        assert!(
            flags
                .iter()
                .any(|f| f.long == "--cors-origin" && f.repeatable)
        );
        assert!(flags.iter().any(|f| f.long == "--verbose"));
    }

    /// The rule that makes a forgotten variable impossible: for EVERY flag in `start --help`,
    /// setting its variable parses exactly as giving the flag does.
    #[test]
    fn every_start_flag_has_its_variable() {
        let flags = parse_help(&start_help());
        assert!(flags.len() > 20, "{flags:?}");
        for flag in &flags {
            let value = flag.value.as_deref().map(|_| "7");
            let mut direct = os(&["start", &flag.long]);
            direct.extend(value.map(OsString::from));
            let var = flag.env_var();
            let env = |k: &str| (k == var).then(|| value.unwrap_or("1").to_string());
            let (via_env, from) = args_with_env(os(&["start"]), &env).unwrap();
            assert_eq!(raw_debug(via_env), raw_debug(direct), "{var}");
            let renamed = from.rename(UsageError(format!("{}: bad", flag.long)));
            assert_eq!(renamed.0, format!("{var}: bad"));
        }
    }

    #[test]
    fn a_flag_wins_over_its_variable_and_lists_split_on_commas() {
        let env = |k: &str| match k {
            "COPILOT_API_PORT" => Some("9".to_string()),
            "COPILOT_API_CORS_ORIGIN" => Some("http://a, http://b".to_string()),
            "COPILOT_API_NO_AUTH" => Some("off".to_string()),
            _ => None,
        };
        let (args, _) = args_with_env(os(&["start", "--port=5"]), &env).unwrap();
        let raw = raw_debug(args);
        assert!(raw.contains("port: Some(\"5\")"), "{raw}");
        assert!(
            raw.contains("cors_origins: [\"http://a\", \"http://b\"]"),
            "{raw}"
        );
        assert!(raw.contains("no_auth: false"), "{raw}");
        let (args, _) = args_with_env(os(&["start", "-p", "5"]), &env).unwrap();
        assert!(raw_debug(args).contains("port: Some(\"5\")"));
    }

    #[test]
    fn bad_switch_value_names_the_variable() {
        let env = |k: &str| (k == "COPILOT_API_NO_AUTH").then(|| "maybe".to_string());
        let e = args_with_env(os(&["start"]), &env).unwrap_err();
        assert!(e.0.starts_with("COPILOT_API_NO_AUTH: `maybe`"), "{e}");
    }

    #[test]
    fn other_commands_take_only_the_start_flags_they_accept() {
        let env = |k: &str| match k {
            "COPILOT_API_PORT" => Some("9".to_string()),
            "COPILOT_API_VERBOSE" => Some("1".to_string()),
            _ => None,
        };
        let (args, _) = args_with_env(os(&["auth"]), &env).unwrap();
        assert_eq!(args, os(&["auth", "--verbose"]));
        let (args, _) = args_with_env(os(&["health"]), &env).unwrap();
        assert_eq!(args, os(&["health"]));
    }

    #[test]
    fn renaming_replaces_whole_flags_only() {
        let from = FromEnv(vec![("--proxy-env".into(), "COPILOT_API_PROXY_ENV".into())]);
        let e = from.rename(UsageError(
            "--proxy-env and --no-proxy-env contradict; --proxy-envy".into(),
        ));
        assert_eq!(
            e.0,
            "COPILOT_API_PROXY_ENV and --no-proxy-env contradict; --proxy-envy"
        );
    }

    #[test]
    fn commands_come_from_the_main_help() {
        let names: Vec<String> = commands().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "start",
                "auth",
                "check-usage",
                "debug",
                "setup",
                "health",
                "completions"
            ]
        );
    }
}
