//! `.env` files: `KEY=VALUE` lines read at start, as the reference's runtime (Bun) does.
//!
//! A variable already set in the environment always wins. The values are made real
//! environment variables by re-executing the binary with them added: `std::env::set_var` is
//! unsafe in a threaded program (and `unsafe` is forbidden here), and only a real variable
//! reaches everything that reads one (the outbound proxy lookup, `SSL_CERT_FILE` in the
//! system trust store, `COPILOT_API_<FLAG>`). The second run finds nothing new and goes on.

use crate::cli::UsageError;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Which file to read, from the command line first, then `COPILOT_API_ENV_FILE` /
/// `COPILOT_API_NO_ENV_FILE`, else `./.env` when it exists. `Ok(None)`: read nothing.
pub fn chosen_file(
    args: &[OsString],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<(PathBuf, bool)>, UsageError> {
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if args.iter().any(|a| a == "--no-env-file") {
        return Ok(None);
    }
    let mut given = None;
    for (i, a) in args.iter().enumerate() {
        if a == "--env-file" {
            given = Some(args.get(i + 1).cloned().ok_or_else(|| {
                UsageError("--env-file needs a value (a file of KEY=VALUE lines)".into())
            })?);
        } else if let Some(v) = a.strip_prefix("--env-file=") {
            given = Some(v.to_string());
        }
    }
    if given.is_none() {
        let off = env("COPILOT_API_NO_ENV_FILE").unwrap_or_default();
        if matches!(
            off.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        ) {
            return Ok(None);
        }
        given = env("COPILOT_API_ENV_FILE").filter(|v| !v.trim().is_empty());
    }
    Ok(match given {
        // Named explicitly: it must exist.
        Some(path) => Some((PathBuf::from(path), true)),
        None => Some((PathBuf::from(".env"), false)),
    })
}

/// The `(key, value)` pairs of a file, in order. `#` starts a comment line; `export ` before
/// a key is allowed; a value may be in single quotes (taken as is) or double quotes (`\n`,
/// `\"`, `\\` unescaped); an unquoted value ends at ` #`.
pub fn parse(text: &str, file: &Path) -> Result<Vec<(String, String)>, UsageError> {
    let mut pairs = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let bad = |why: &str| UsageError(format!("{}:{}: {why}", file.display(), n + 1));
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let Some((key, value)) = line.split_once('=') else {
            return Err(bad("expected KEY=VALUE"));
        };
        let key = key.trim();
        let valid_key = key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_key {
            return Err(bad(&format!("`{key}` is not a variable name")));
        }
        pairs.push((key.to_string(), unquote(value.trim()).map_err(bad)?));
    }
    Ok(pairs)
}

fn unquote(value: &str) -> Result<String, &'static str> {
    let quoted = |q: char| -> Result<&str, &'static str> {
        let inner = &value[1..];
        let end = inner
            .find(q)
            .ok_or("the value's closing quote is missing")?;
        let rest = inner[end + 1..].trim();
        if !rest.is_empty() && !rest.starts_with('#') {
            return Err("text after the closing quote");
        }
        Ok(&inner[..end])
    };
    if value.starts_with('\'') {
        return quoted('\'').map(str::to_string);
    }
    if let Some(inner) = value.strip_prefix('"') {
        // Find the closing quote that is not escaped.
        let mut out = String::new();
        let mut chars = inner.chars();
        loop {
            match chars.next() {
                None => return Err("the value's closing quote is missing"),
                Some('"') => break,
                Some('\\') => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(c) => out.push(c),
                    None => return Err("the value's closing quote is missing"),
                },
                Some(c) => out.push(c),
            }
        }
        let rest = chars.as_str().trim();
        if !rest.is_empty() && !rest.starts_with('#') {
            return Err("text after the closing quote");
        }
        return Ok(out);
    }
    let value = match value.find(" #") {
        Some(at) => &value[..at],
        None => value,
    };
    Ok(value.trim_end().to_string())
}

/// Reads the chosen file and returns the variables it sets that are not set yet.
pub fn new_variables(
    args: &[OsString],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, UsageError> {
    let Some((path, required)) = chosen_file(args, env)? else {
        return Ok(Vec::new());
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Vec::new());
        }
        Err(e) => {
            return Err(UsageError(format!(
                "cannot read the env file {}: {e}",
                path.display()
            )));
        }
    };
    let mut new: Vec<(String, String)> = Vec::new();
    for (k, v) in parse(&text, &path)? {
        if env(&k).is_none() {
            // A later line for the same key wins, as when the file is sourced by a shell.
            new.retain(|(n, _)| *n != k);
            new.push((k, v));
        }
    }
    Ok(new)
}

/// Runs this same binary again with `vars` added to the environment; returns only on error.
pub fn reexec_with(vars: &[(String, String)]) -> String {
    use std::os::unix::process::CommandExt;
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return format!("cannot apply the env file: {e}"),
    };
    let mut args = std::env::args_os();
    let mut cmd = std::process::Command::new(exe);
    if let Some(arg0) = args.next() {
        cmd.arg0(arg0);
    }
    let e = cmd.args(args).envs(vars.iter().cloned()).exec();
    format!("cannot apply the env file: {e}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Vec<(String, String)>, UsageError> {
        parse(text, Path::new("x.env"))
    }

    #[test]
    fn lines_comments_quotes_and_export() {
        let got = p(
            "# c\n\nA=1\nexport B = two words # note\nC='it''s'\nD=\"q\\\"x\\n\" # c\nE=\nF=a#b\n",
        )
        .map(|v| {
            v.into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
        });
        assert!(got.is_err(), "text after a quote: {got:?}");
        let got = p("# c\n\nA=1\nexport B = two words # note\nC='a \"b\"'\nD=\"q\\\"x\\n\" # c\nE=\nF=a#b\n")
            .unwrap();
        let want = [
            ("A", "1"),
            ("B", "two words"),
            ("C", "a \"b\""),
            ("D", "q\"x\n"),
            ("E", ""),
            ("F", "a#b"),
        ];
        assert_eq!(got.len(), want.len(), "{got:?}");
        for ((k, v), (wk, wv)) in got.iter().zip(want) {
            assert_eq!((k.as_str(), v.as_str()), (wk, wv));
        }
    }

    #[test]
    fn malformed_lines_name_file_and_line() {
        assert_eq!(
            p("A=1\nnonsense\n").unwrap_err().0,
            "x.env:2: expected KEY=VALUE"
        );
        assert!(p("1A=x").unwrap_err().0.starts_with("x.env:1: `1A`"));
        assert!(p("A=\"open").unwrap_err().0.contains("closing quote"));
    }

    #[test]
    fn file_choice_flags_then_variables() {
        let none = |_: &str| None;
        let os = |w: &[&str]| w.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            chosen_file(&os(&["start"]), &none).unwrap(),
            Some((PathBuf::from(".env"), false))
        );
        assert_eq!(
            chosen_file(&os(&["start", "--env-file=/e"]), &none).unwrap(),
            Some((PathBuf::from("/e"), true))
        );
        assert_eq!(
            chosen_file(&os(&["start", "--no-env-file"]), &none).unwrap(),
            None
        );
        let off = |k: &str| (k == "COPILOT_API_NO_ENV_FILE").then(|| "1".to_string());
        assert_eq!(chosen_file(&os(&["start"]), &off).unwrap(), None);
        assert!(chosen_file(&os(&["start", "--env-file"]), &none).is_err());
    }
}
