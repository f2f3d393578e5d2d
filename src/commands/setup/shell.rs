//! One command line that sets environment variables and runs a program, correctly quoted
//! for the user's shell. The reference printed values unquoted (a URL broke Powershell, a
//! space broke every shell); here every value is quoted the way its shell reads it back.

/// The shells we write for. `sh` and `bash` share a form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
    Cmd,
}

impl Shell {
    pub fn parse(name: &str) -> Option<Shell> {
        match name.to_ascii_lowercase().as_str() {
            "bash" | "sh" | "dash" | "ksh" => Some(Shell::Bash),
            "zsh" => Some(Shell::Zsh),
            "fish" => Some(Shell::Fish),
            "powershell" | "pwsh" => Some(Shell::Powershell),
            "cmd" => Some(Shell::Cmd),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Shell::Bash => "bash",
            Shell::Zsh => "zsh",
            Shell::Fish => "fish",
            Shell::Powershell => "powershell",
            Shell::Cmd => "cmd",
        }
    }

    /// The shell the user runs: `$SHELL` on Unix; on Windows Powershell when its module
    /// path is set (it is in every Powershell session, not in cmd), else cmd.
    pub fn detect(env: &dyn Fn(&str) -> Option<String>, windows: bool) -> Shell {
        if windows {
            return match env("PSModulePath") {
                Some(p) if !p.is_empty() => Shell::Powershell,
                _ => Shell::Cmd,
            };
        }
        let shell = env("SHELL").unwrap_or_default();
        let base = shell.rsplit(['/', '\\']).next().unwrap_or("");
        Shell::parse(base.trim_end_matches(".exe")).unwrap_or(Shell::Bash)
    }

    /// `vars` set for `program` only when the shell allows it, else for the session, then
    /// `program` run.
    pub fn command(self, vars: &[(&str, String)], program: &str) -> String {
        let sets: Vec<String> = vars.iter().map(|(k, v)| self.set(k, v)).collect();
        match self {
            Shell::Bash | Shell::Zsh => format!("export {} && {program}", sets.join(" ")),
            Shell::Fish => format!("{}; and {program}", sets.join("; ")),
            Shell::Powershell => format!("{}; {program}", sets.join("; ")),
            // No space before `&&`: cmd would keep it as part of the value.
            Shell::Cmd => format!("{}&& {program}", sets.join("&& ")),
        }
    }

    fn set(self, key: &str, value: &str) -> String {
        match self {
            Shell::Bash | Shell::Zsh => format!("{key}={}", posix_quote(value)),
            Shell::Fish => format!("set -gx {key} {}", fish_quote(value)),
            Shell::Powershell => format!("$env:{key} = {}", powershell_quote(value)),
            Shell::Cmd => format!("set {key}={}", cmd_escape(value)),
        }
    }
}

/// `'...'`, a quote written as `'\''` (close, escaped quote, reopen).
fn posix_quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', r"'\''"))
}

/// fish single quotes: only `\` and `'` are escaped inside.
fn fish_quote(v: &str) -> String {
    format!("'{}'", v.replace('\\', r"\\").replace('\'', r"\'"))
}

/// Powershell single quotes: a quote is doubled; nothing else is special.
fn powershell_quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', "''"))
}

/// cmd has no quoting that survives `&&` with a `"` inside, so each metacharacter gets a
/// caret instead (`^&`, `^"`, ...). `%` is left alone: on an interactive line `%NAME%`
/// stays literal unless NAME is a variable.
fn cmd_escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if "^&|<>()\"".contains(c) {
            out.push('^');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vec<(&'static str, String)> {
        vec![
            ("A", "http://127.0.0.1:4141".to_string()),
            ("B", "it's a \"key\" & more".to_string()),
        ]
    }

    #[test]
    fn each_shell_quotes_spaces_and_quotes() {
        assert_eq!(
            Shell::Bash.command(&vars(), "claude"),
            r#"export A='http://127.0.0.1:4141' B='it'\''s a "key" & more' && claude"#
        );
        assert_eq!(
            Shell::Fish.command(&vars(), "claude"),
            r#"set -gx A 'http://127.0.0.1:4141'; set -gx B 'it\'s a "key" & more'; and claude"#
        );
        assert_eq!(
            Shell::Powershell.command(&vars(), "claude"),
            r#"$env:A = 'http://127.0.0.1:4141'; $env:B = 'it''s a "key" & more'; claude"#
        );
        assert_eq!(
            Shell::Cmd.command(&vars(), "claude"),
            r#"set A=http://127.0.0.1:4141&& set B=it's a ^"key^" ^& more&& claude"#
        );
        assert_eq!(fish_quote(r"a\b"), r"'a\\b'");
    }

    #[test]
    fn detection_and_names() {
        let env = |shell: &'static str| move |k: &str| (k == "SHELL").then(|| shell.to_string());
        assert_eq!(Shell::detect(&env("/usr/bin/fish"), false), Shell::Fish);
        assert_eq!(Shell::detect(&env("/bin/zsh"), false), Shell::Zsh);
        assert_eq!(Shell::detect(&env("/opt/pwsh"), false), Shell::Powershell);
        assert_eq!(Shell::detect(&env("/bin/tcsh"), false), Shell::Bash);
        let ps = |k: &str| (k == "PSModulePath").then(|| "C:\\x".to_string());
        assert_eq!(Shell::detect(&ps, true), Shell::Powershell);
        assert_eq!(Shell::detect(&|_: &str| None, true), Shell::Cmd);
        assert_eq!(Shell::parse("PWSH"), Some(Shell::Powershell));
        assert_eq!(Shell::parse("nu"), None);
    }

    /// The POSIX form read back by real shells: every value arrives byte for byte.
    #[test]
    fn posix_shells_read_the_values_back() {
        let tricky = vec![
            ("V1", "two words".to_string()),
            ("V2", r#"it's "quoted" $HOME `x` \n & ; |"#.to_string()),
        ];
        for sh in ["sh", "bash", "zsh", "fish"] {
            let shell = Shell::parse(sh).unwrap();
            let line = shell.command(&tricky, "env");
            let Ok(out) = std::process::Command::new(sh).arg("-c").arg(&line).output() else {
                continue; // this shell is not installed here
            };
            let out = String::from_utf8_lossy(&out.stdout);
            for (k, v) in &tricky {
                assert!(out.contains(&format!("{k}={v}\n")), "{sh}: {line}\n{out}");
            }
        }
    }
}
