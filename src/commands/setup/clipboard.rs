//! Copying text to the clipboard with whichever program the system has: `wl-copy`
//! (Wayland), `xclip`, `xsel` (X11), `pbcopy` (macOS), `clip.exe` (Windows, also from WSL).
//! Best effort: the caller always prints the text as well.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PROGRAMS: [(&str, &[&str]); 5] = [
    ("wl-copy", &[]),
    ("xclip", &["-selection", "clipboard"]),
    ("xsel", &["--clipboard", "--input"]),
    ("pbcopy", &[]),
    ("clip.exe", &[]),
];

/// A clipboard program must finish within this (xclip forks a server and returns).
const TIMEOUT: Duration = Duration::from_secs(3);

/// Copies `text` with the first program on `PATH` that succeeds; returns its name.
pub fn copy(text: &str) -> Option<&'static str> {
    let path = std::env::var_os("PATH")?;
    for (program, args) in PROGRAMS {
        let present = std::env::split_paths(&path).any(|dir| dir.join(program).is_file());
        if present && run(program, args, text) {
            return Some(program);
        }
    }
    None
}

fn run(program: &str, args: &[&str], text: &str) -> bool {
    let Ok(mut child) = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        return false;
    };
    let written = child
        .stdin
        .take()
        .is_some_and(|mut stdin| stdin.write_all(text.as_bytes()).is_ok());
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return written && status.success(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}
