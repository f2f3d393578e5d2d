//! Manual approval (`--manual`): the operator approves each limited request on the
//! terminal before anything is sent upstream.
//!
//! One prompt at a time, first in first out: a request waits in a bounded queue until it
//! heads it, then its thread shows the facts (what, which model, where it goes, what it
//! costs, the start of the prompt) and waits for a line from the terminal. Keystrokes typed
//! while no prompt is showing are thrown away rather than taken as the next answer. The
//! reference shows a bare "Accept incoming request?" and lets concurrent prompts fight over
//! one terminal (reference/platform.md §8).

use std::collections::VecDeque;
use std::io::{BufRead, Write};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Requests that may wait for a prompt; beyond it the queue answers 429.
pub const QUEUE_LIMIT: usize = 256;
/// How often a waiting request checks that its client is still there.
const PROBE_EVERY: Duration = Duration::from_millis(100);
/// Characters of the latest user text shown at the prompt.
const PREVIEW_CHARS: usize = 200;

/// What the operator sees about a request; every client-supplied string is already free of
/// control characters (see `printable`).
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub time: String,
    pub method: String,
    pub path: String,
    pub requested: String,
    pub resolved: String,
    pub route: String,
    pub stream: bool,
    pub messages: usize,
    pub tools: usize,
    pub billed_as: &'static str,
    pub multiplier: Option<f64>,
    pub preview: String,
}

/// How a request's turn at the prompt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Approved,
    /// Approved because the operator answered `a` to this or an earlier prompt.
    ApprovedAll,
    Rejected,
    TimedOut,
    /// The terminal was closed: no one can answer any more.
    NoTerminal,
    /// The client went away while waiting.
    Gone,
    QueueFull,
}

#[derive(Default)]
struct Queue {
    approve_all: bool,
    waiting: VecDeque<u64>,
    next_ticket: u64,
}

pub struct Approval {
    timeout: Duration,
    queue: Mutex<Queue>,
    changed: Condvar,
    /// Lines typed on the terminal, read by a thread of their own; held by the request
    /// whose prompt is showing.
    lines: Mutex<Receiver<String>>,
}

impl Approval {
    /// Starts reading the terminal (standard input).
    pub fn new(timeout: Duration) -> Approval {
        let (tx, rx) = channel();
        let reader = std::thread::Builder::new()
            .name("approval-input".into())
            .spawn(move || {
                for line in std::io::stdin().lock().lines() {
                    let Ok(line) = line else { return };
                    if tx.send(line).is_err() {
                        return;
                    }
                }
            });
        if let Err(e) = reader {
            crate::error!("could not start the terminal reader: {e}");
        }
        Approval {
            timeout,
            queue: Mutex::new(Queue::default()),
            changed: Condvar::new(),
            lines: Mutex::new(rx),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for this request's turn, prompts, and returns the operator's decision.
    pub fn decide(&self, facts: &Facts, gone: &dyn Fn() -> bool) -> Verdict {
        let ticket = {
            let mut q = self.lock();
            if q.approve_all {
                return Verdict::ApprovedAll;
            }
            if q.waiting.len() >= QUEUE_LIMIT {
                return Verdict::QueueFull;
            }
            let t = q.next_ticket;
            q.next_ticket += 1;
            q.waiting.push_back(t);
            t
        };
        let place = Place {
            approval: self,
            ticket,
        };
        let verdict = self.take_turn(ticket, facts, gone);
        if verdict == Verdict::ApprovedAll {
            self.lock().approve_all = true;
        }
        drop(place);
        verdict
    }

    fn take_turn(&self, ticket: u64, facts: &Facts, gone: &dyn Fn() -> bool) -> Verdict {
        let behind = loop {
            if gone() {
                return Verdict::Gone;
            }
            let q = self.lock();
            if q.approve_all {
                return Verdict::ApprovedAll;
            }
            if q.waiting.front() == Some(&ticket) {
                break q.waiting.len() - 1;
            }
            let _ = self
                .changed
                .wait_timeout(q, PROBE_EVERY)
                .unwrap_or_else(|e| e.into_inner());
        };
        let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        while lines.try_recv().is_ok() {}
        show(&prompt_text(facts, behind, self.timeout));
        let deadline = Instant::now() + self.timeout;
        loop {
            if gone() {
                show("  -> the client went away; request dropped\n");
                return Verdict::Gone;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left.min(PROBE_EVERY)) {
                Ok(line) => match parse_answer(&line) {
                    Some(v) => return v,
                    None => show("  answer y (or Enter), n, or a\n"),
                },
                Err(RecvTimeoutError::Timeout) if left.is_zero() => {
                    show("  -> no answer in time; request rejected\n");
                    return Verdict::TimedOut;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Verdict::NoTerminal,
            }
        }
    }
}

/// A request's place in the queue, given up however its turn ends: a panic while it heads
/// the queue (the handler's panic is caught, the server goes on) must not leave its ticket
/// in front of every later request for ever.
struct Place<'a> {
    approval: &'a Approval,
    ticket: u64,
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        self.approval.lock().waiting.retain(|t| *t != self.ticket);
        self.approval.changed.notify_all();
    }
}

fn parse_answer(line: &str) -> Option<Verdict> {
    match line.trim().to_ascii_lowercase().as_str() {
        "" | "y" | "yes" => Some(Verdict::Approved),
        "n" | "no" => Some(Verdict::Rejected),
        "a" | "all" | "always" => Some(Verdict::ApprovedAll),
        _ => None,
    }
}

/// Writes to the terminal (standard error, where the log goes, so the two interleave in
/// order); a failed write cannot be reported anywhere better.
fn show(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

fn prompt_text(f: &Facts, behind: usize, timeout: Duration) -> String {
    let model = if f.requested == f.resolved {
        f.requested.clone()
    } else {
        format!("{} -> {}", f.requested, f.resolved)
    };
    let multiplier = f
        .multiplier
        .map_or_else(|| "not in the catalog".to_string(), |m| format!("x{m}"));
    let waiting = match behind {
        0 => String::new(),
        n => format!(" ({n} more waiting)"),
    };
    format!(
        "\n=== approval needed{waiting} ===\n  time:     {}\n  request:  {} {}\n  model:    {model}\n  \
         route:    {}\n  stream:   {}\n  messages: {}, tools: {}\n  billed:   {}\n  \
         premium:  {multiplier}\n  text:     {}\n\
         approve? [Y]es (Enter) / [n]o / [a]ll until restart; {} s to answer\n",
        f.time,
        f.method,
        f.path,
        f.route,
        if f.stream { "yes" } else { "no" },
        f.messages,
        f.tools,
        f.billed_as,
        f.preview,
        timeout.as_secs_f64()
    )
}

/// Client text made safe for a terminal: control characters (escape sequences, carriage
/// returns) removed, line breaks and tabs turned into spaces, cut to `limit` characters.
pub fn printable(text: &str, limit: usize) -> String {
    text.chars()
        .filter_map(|c| match c {
            '\n' | '\r' | '\t' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .take(limit)
        .collect()
}

/// The first characters of the latest user text, shown at the prompt.
pub fn preview(text: &str) -> String {
    printable(text, PREVIEW_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_at_the_head_does_not_block_the_queue() {
        let approval = std::sync::Arc::new(Approval::new(Duration::from_millis(50)));
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            approval.decide(&Facts::default(), &|| panic!("the probe failed"))
        }));
        assert!(panicked.is_err());
        let (tx, rx) = std::sync::mpsc::channel();
        let next = approval.clone();
        std::thread::spawn(move || tx.send(next.decide(&Facts::default(), &|| false)));
        let verdict = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("the next request reached the prompt");
        assert!(
            matches!(verdict, Verdict::TimedOut | Verdict::NoTerminal),
            "{verdict:?}"
        );
    }

    #[test]
    fn answers() {
        assert_eq!(parse_answer("\n"), Some(Verdict::Approved));
        assert_eq!(parse_answer(" Y "), Some(Verdict::Approved));
        assert_eq!(parse_answer("n"), Some(Verdict::Rejected));
        assert_eq!(parse_answer("a"), Some(Verdict::ApprovedAll));
        assert_eq!(parse_answer("maybe"), None);
    }

    #[test]
    fn client_text_cannot_drive_the_terminal() {
        assert_eq!(printable("a\u{1b}[2Jb\r\nc\u{7}", 10), "a[2Jb  c");
        assert_eq!(preview(&"x".repeat(500)).len(), 200);
    }

    #[test]
    fn the_prompt_shows_every_fact() {
        let f = Facts {
            time: "2026-12-04T21:00:00Z".into(),
            method: "POST".into(),
            path: "/v1/messages".into(),
            requested: "claude-sonnet-4-5".into(),
            resolved: "claude-sonnet-4.5".into(),
            route: "native (/v1/messages)".into(),
            stream: true,
            messages: 3,
            tools: 2,
            billed_as: "user",
            multiplier: Some(1.0),
            preview: "hello".into(),
        };
        let text = prompt_text(&f, 1, Duration::from_secs(300));
        for part in [
            "2026-12-04T21:00:00Z",
            "POST /v1/messages",
            "claude-sonnet-4-5 -> claude-sonnet-4.5",
            "native (/v1/messages)",
            "stream:   yes",
            "messages: 3, tools: 2",
            "billed:   user",
            "premium:  x1",
            "text:     hello",
            "(1 more waiting)",
        ] {
            assert!(text.contains(part), "{part}: {text}");
        }
    }
}
