//! The `start --claude-code` wizard driven through a real pseudo-terminal (Python's `pty`):
//! arrow keys, typing to filter, Enter on the defaults, the printed command and the
//! clipboard; and, without a terminal, exit 2 pointing to `setup`.

use crate::support::{Fake, GITHUB_TOKEN, TempDir, run_cli, upstream_env};
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_copilot-api");

/// Runs `argv` on a new pseudo-terminal. For each `[wait_for, keys]` step it waits until
/// the output shows `wait_for` (since the previous step), then types `keys`. After the
/// last step it waits for `done`, stops the child and prints everything it wrote.
const DRIVER: &str = r#"
import json, os, pty, select, signal, sys, time
argv, steps, done = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
out, seen = b"", 0
def wait(text):
    global out, seen
    deadline = time.time() + 20
    while text.encode() not in out[seen:]:
        if time.time() > deadline:
            sys.stdout.write(out.decode(errors="replace"))
            sys.exit("timed out waiting for %r" % text)
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                out += os.read(fd, 65536)
            except OSError:
                break
    seen = out.index(text.encode(), seen) + len(text)
for text, keys in steps:
    wait(text)
    time.sleep(0.1)
    os.write(fd, keys.encode())
wait(done)
os.kill(pid, signal.SIGTERM)
os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
"#;

const MAIN: &str = "Main model for Claude Code (";
const SMALL: &str = "Small/fast model for Claude Code (";
const DOWN: &str = "\x1b[B";
const UP: &str = "\x1b[A";

/// Runs the wizard with these key steps; returns the terminal output and the clipboard.
fn drive(steps: &[(&str, &str)]) -> (String, String) {
    let fake = Fake::start();
    let home = TempDir::new();
    let bin = home.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    write_script(
        &bin.join("wl-copy"),
        &format!("cat > '{}'", home.path().join("clip").display()),
    );
    let steps: Vec<[&str; 2]> = steps.iter().map(|(a, b)| [*a, *b]).collect();
    let argv = [
        BIN,
        "start",
        "--port",
        "0",
        "--claude-code",
        "--shell",
        "bash",
    ];
    let mut cmd = Command::new("python3");
    cmd.arg("-c")
        .arg(DRIVER)
        .arg(serde_json::to_string(&argv).unwrap())
        .arg(serde_json::to_string(&steps).unwrap())
        .arg("listening on")
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("TERM", "xterm")
        .env("GH_TOKEN", GITHUB_TOKEN);
    for (k, v) in upstream_env(&fake) {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("python3");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let clip = std::fs::read_to_string(home.path().join("clip")).unwrap_or_default();
    (text, clip)
}

fn write_script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The `export ... && claude` line of the output.
fn command(out: &str) -> &str {
    out.lines()
        .map(str::trim)
        .find(|l| l.starts_with("export ANTHROPIC_BASE_URL="))
        .unwrap_or_else(|| panic!("no command in\n{out}"))
}

#[test]
fn wizard_filters_by_typing_and_takes_the_default_small_model() {
    let (out, clip) = drive(&[(MAIN, "sonnet"), ("claude-sonnet-4.5", "\r"), (SMALL, "\r")]);
    let line = command(&out);
    assert!(
        line.contains("ANTHROPIC_MODEL='claude-sonnet-4-5'"),
        "{line}"
    );
    assert!(
        line.contains("ANTHROPIC_DEFAULT_OPUS_MODEL='claude-sonnet-4-5'"),
        "{line}"
    );
    assert!(
        line.contains("ANTHROPIC_SMALL_FAST_MODEL='gpt-4.1'"),
        "cheapest by default: {line}"
    );
    assert!(line.contains("ANTHROPIC_AUTH_TOKEN='dummy'"), "{line}");
    assert!(line.ends_with("&& claude"), "{line}");
    assert_eq!(clip, line, "the same command is on the clipboard");
    assert!(
        out.contains("✔ Main model for Claude Code: claude-sonnet-4.5"),
        "{out}"
    );
    // The menu lists only models that can serve /v1/messages, with window and multiplier.
    assert!(
        out.contains("claude-opus-4.8") && out.contains("×3 premium"),
        "{out}"
    );
    let listed = |id: &str| {
        out.lines()
            .any(|l| l.starts_with(&format!("  {id} ")) || l.starts_with(&format!("> {id} ")))
    };
    assert!(
        listed("gemini-2.5-pro") && !listed("text-embedding-3-small"),
        "{out}"
    );
}

#[test]
fn wizard_arrow_keys_move_from_the_defaults() {
    // Main: the default (best Claude), one up. Small: the default, one down.
    let (out, _) = drive(&[
        (MAIN, UP),
        ("> claude-sonnet-4.5", "\r"),
        (SMALL, DOWN),
        ("> gpt-5.2-codex", "\r"),
    ]);
    let line = command(&out);
    assert!(
        line.contains("ANTHROPIC_MODEL='claude-sonnet-4-5'"),
        "{line}"
    );
    assert!(
        line.contains("ANTHROPIC_SMALL_FAST_MODEL='gpt-5.2-codex'"),
        "{line}"
    );
    let (out, _) = drive(&[(MAIN, "\r"), (SMALL, "\r")]);
    let line = command(&out);
    assert!(
        line.contains("ANTHROPIC_MODEL='claude-opus-4-8'"),
        "best Claude: {line}"
    );
    assert!(
        line.contains("ANTHROPIC_DEFAULT_HAIKU_MODEL='gpt-4.1'"),
        "{line}"
    );
}

#[test]
fn without_a_terminal_claude_code_exits_2_pointing_to_setup() {
    let home = TempDir::new();
    let (code, _, err) = run_cli(&["start", "--claude-code"], &[], home.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("copilot-api setup claude-code"), "{err}");
}
