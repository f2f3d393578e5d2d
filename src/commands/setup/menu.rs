//! The terminal menu of the `start --claude-code` wizard: arrow keys move, typing filters,
//! Backspace unfilters, Enter picks, Ctrl-C cancels. It draws on stderr (stdout keeps only
//! the command) and reads keys from the terminal in raw mode, set and restored with
//! `stty` (no unsafe termios calls); where `stty` is missing it asks for a number instead.

use super::models::Choice;
use std::fs::File;
use std::io::{BufRead, Read, Write};
use std::process::{Command, Stdio};

/// Items shown at once; the list scrolls with the cursor.
const VISIBLE: usize = 10;

/// The controlling terminal in raw mode, restored on drop.
pub struct Terminal {
    tty: File,
    saved: String,
}

fn stty(tty: &File, args: &[&str]) -> Option<String> {
    let out = Command::new("stty")
        .args(args)
        .stdin(Stdio::from(tty.try_clone().ok()?))
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

impl Terminal {
    /// None when there is no `/dev/tty` or no `stty` (Windows): use `select_by_number`.
    pub fn open() -> Option<Terminal> {
        let tty = File::options()
            .read(true)
            .write(true)
            .open("/dev/tty")
            .ok()?;
        let saved = stty(&tty, &["-g"])?;
        // No echo, no line buffering, Ctrl-C read as a byte so the terminal is restored.
        stty(
            &tty,
            &["-icanon", "-echo", "-isig", "min", "1", "time", "0"],
        )?;
        Some(Terminal { tty, saved })
    }

    fn key(&mut self) -> Key {
        let mut b = [0u8; 1];
        if self.tty.read(&mut b).unwrap_or(0) == 0 {
            return Key::Cancel;
        }
        match b[0] {
            b'\r' | b'\n' => Key::Enter,
            0x03 | 0x04 => Key::Cancel,
            0x7f | 0x08 => Key::Backspace,
            0x15 => Key::Clear,
            0x1b => {
                let mut seq = [0u8; 2];
                if self.tty.read_exact(&mut seq).is_err() {
                    return Key::Other;
                }
                match seq {
                    [b'[' | b'O', b'A'] => Key::Up,
                    [b'[' | b'O', b'B'] => Key::Down,
                    _ => Key::Other,
                }
            }
            c if (0x20..0x7f).contains(&c) => Key::Char(c as char),
            _ => Key::Other,
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = stty(&self.tty, &[&self.saved]);
    }
}

#[derive(Debug, PartialEq)]
enum Key {
    Up,
    Down,
    Enter,
    Backspace,
    Clear,
    Cancel,
    Char(char),
    Other,
}

/// The menu's state, apart from any terminal: what is shown and what a key does.
struct State<'a> {
    items: &'a [Choice],
    filter: String,
    /// Index into `matches()`.
    cursor: usize,
}

impl State<'_> {
    fn matches(&self) -> Vec<usize> {
        let f = self.filter.to_ascii_lowercase();
        (0..self.items.len())
            .filter(|i| self.items[*i].id.to_ascii_lowercase().contains(&f))
            .collect()
    }

    /// Applies a key; Some(index into items) when one is picked.
    fn on(&mut self, key: &Key) -> Option<usize> {
        let n = self.matches().len();
        match key {
            Key::Up => self.cursor = self.cursor.saturating_sub(1),
            Key::Down if n > 0 => self.cursor = (self.cursor + 1).min(n - 1),
            Key::Char(c) => {
                self.filter.push(*c);
                self.cursor = 0;
            }
            Key::Backspace => {
                self.filter.pop();
                self.cursor = 0;
            }
            Key::Clear => {
                self.filter.clear();
                self.cursor = 0;
            }
            Key::Enter => return self.matches().get(self.cursor).copied(),
            _ => {}
        }
        None
    }

    fn lines(&self, title: &str) -> Vec<String> {
        let matches = self.matches();
        let mut lines = vec![
            format!("? {title} (↑/↓ to move, type to filter, Enter to pick)"),
            format!("  filter: {}", self.filter),
        ];
        if matches.is_empty() {
            lines.push("  (no model matches)".into());
        }
        let start = self.cursor.saturating_sub(VISIBLE - 1);
        for (pos, i) in matches.iter().enumerate().skip(start).take(VISIBLE) {
            let marker = if pos == self.cursor { ">" } else { " " };
            lines.push(format!("{marker} {}", self.items[*i].label()));
        }
        lines
    }
}

/// Lets the user pick one of `items`, starting on `default`. Err when cancelled.
pub fn select(
    term: &mut Terminal,
    title: &str,
    items: &[Choice],
    default: usize,
) -> Result<usize, String> {
    let mut state = State {
        items,
        filter: String::new(),
        cursor: default.min(items.len().saturating_sub(1)),
    };
    let mut err = std::io::stderr();
    let mut drawn = 0;
    loop {
        let lines = state.lines(title);
        let mut frame = String::new();
        if drawn > 0 {
            frame.push_str(&format!("\x1b[{drawn}A\r\x1b[J"));
        }
        for l in &lines {
            frame.push_str(l);
            frame.push_str("\r\n");
        }
        let _ = err.write_all(frame.as_bytes()).and_then(|_| err.flush());
        drawn = lines.len();
        let key = term.key();
        if key == Key::Cancel {
            return Err("cancelled".into());
        }
        if let Some(i) = state.on(&key) {
            let _ = write!(err, "\x1b[{drawn}A\r\x1b[J✔ {title}: {}\r\n", items[i].id);
            return Ok(i);
        }
    }
}

/// Without raw mode: a numbered list, a number (or Enter for the default) read per line.
pub fn select_by_number(title: &str, items: &[Choice], default: usize) -> Result<usize, String> {
    eprintln!("{title}:");
    for (i, c) in items.iter().enumerate() {
        eprintln!("  {:>2}. {}", i + 1, c.label());
    }
    let stdin = std::io::stdin();
    loop {
        eprint!("Number [{}]: ", default + 1);
        let mut line = String::new();
        if stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| e.to_string())?
            == 0
        {
            return Err("cancelled".into());
        }
        match line.trim() {
            "" => return Ok(default),
            n => match n.parse::<usize>() {
                Ok(k) if (1..=items.len()).contains(&k) => return Ok(k - 1),
                _ => eprintln!("Type a number from 1 to {}.", items.len()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items() -> Vec<Choice> {
        ["gpt-4.1", "claude-sonnet-4.5", "claude-opus-4.8"]
            .iter()
            .map(|id| Choice {
                id: id.to_string(),
                name: String::new(),
                context: None,
                max_output: None,
                multiplier: None,
                endpoints: vec![],
            })
            .collect()
    }

    #[test]
    fn keys_move_filter_and_pick() {
        let items = items();
        let mut s = State {
            items: &items,
            filter: String::new(),
            cursor: 2,
        };
        assert_eq!(s.on(&Key::Enter), Some(2), "Enter keeps the default");
        s.on(&Key::Up);
        assert_eq!(s.on(&Key::Enter), Some(1));
        for c in "opus".chars() {
            s.on(&Key::Char(c));
        }
        assert_eq!(s.matches(), [2]);
        assert!(
            s.lines("t")
                .iter()
                .any(|l| l.starts_with("> claude-opus-4.8"))
        );
        s.on(&Key::Down);
        assert_eq!(s.on(&Key::Enter), Some(2));
        s.on(&Key::Char('z'));
        assert_eq!(s.on(&Key::Enter), None, "nothing matches");
        s.on(&Key::Clear);
        s.on(&Key::Down);
        assert_eq!(s.on(&Key::Enter), Some(1));
    }
}
