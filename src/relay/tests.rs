//! The relay without sockets: sinks over an in-memory writer, upstreams over scripted reads.

use super::*;
use crate::config::Timing;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Records every write the sink makes.
#[derive(Clone, Default)]
struct Writes(Arc<Mutex<Vec<Vec<u8>>>>);

impl Writes {
    fn all(&self) -> Vec<String> {
        let w = self.0.lock().unwrap();
        w.iter()
            .map(|b| String::from_utf8_lossy(b).into())
            .collect()
    }

    fn text(&self) -> String {
        self.all().concat()
    }
}

impl Write for Writes {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().push(buf.to_vec());
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A client that has hung up.
struct Gone;

impl crate::http::ClientWrite for Gone {}
impl crate::http::ClientWrite for Writes {}

impl Write for Gone {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::ErrorKind::BrokenPipe.into())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// An upstream that returns each piece in one read, then ends or fails.
struct Script(Vec<Result<&'static [u8], io::ErrorKind>>);

impl Read for Script {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.0.is_empty() {
            return Ok(0);
        }
        match self.0.remove(0) {
            Ok(piece) => {
                buf[..piece.len()].copy_from_slice(piece);
                Ok(piece.len())
            }
            Err(kind) => Err(kind.into()),
        }
    }
}

/// Forwards each event's data; `[DONE]` completes, `fail` is an upstream error, and the
/// closing events name the ending.
#[derive(Default)]
struct Echo {
    done_at_eof: bool,
    settled: Option<Result<(), Fault>>,
}

impl Adapter for Echo {
    fn on_event(&mut self, event: &Event, sink: &mut Sink) -> Result<Step, Fault> {
        match event.data.as_str() {
            "[DONE]" => Ok(Step::Done),
            "fail" => Err(Fault::Upstream("boom".into())),
            "settle" => {
                self.settled = Some(Ok(()));
                Ok(Step::Continue)
            }
            data => {
                sink.event(event.event.as_deref(), data);
                Ok(Step::Continue)
            }
        }
    }

    fn on_eof(&mut self, _: &mut Sink) -> Result<(), Fault> {
        if self.done_at_eof {
            Ok(())
        } else {
            Err(Fault::ClosedEarly)
        }
    }

    fn settled(&self) -> Option<Result<(), Fault>> {
        self.settled.clone()
    }

    fn close(&mut self, ending: &Result<(), Fault>, sink: &mut Sink) {
        match ending {
            Ok(()) => sink.sse(b"data: end\n\n"),
            Err(f) => sink.event(Some("error"), &f.message()),
        };
    }

    fn name(&self) -> &'static str {
        "test"
    }
}

fn sink(chunked: bool) -> (Sink, Writes) {
    let writes = Writes::default();
    let sink = Sink::over(Box::new(writes.clone()), Box::new(Sse { chunked }));
    (sink, writes)
}

#[test]
fn events_of_one_read_leave_in_one_write() {
    let (mut sink, writes) = sink(false);
    let upstream = Script(vec![Ok(b"data: a\n\ndata: b\n\nda"), Ok(b"ta: c\n\n")]);
    let ending = relay(upstream, &mut sink, &mut Echo::default());
    assert_eq!(ending, Err(Fault::ClosedEarly));
    assert_eq!(writes.all(), ["data: a\n\ndata: b\n\n", "data: c\n\n"]);
}

#[test]
fn chunked_framing_counts_every_byte() {
    let (mut sink, writes) = sink(true);
    sink.event(Some("message_start"), "{\"a\":1}\nx");
    sink.sse(b": keepalive\n\n");
    sink.end();
    let wire = "event: message_start\ndata: {\"a\":1}\ndata: x\n\n";
    assert_eq!(
        writes.text(),
        format!(
            "{:x}\r\n{wire}\r\nd\r\n: keepalive\n\n\r\n0\r\n\r\n",
            wire.len()
        )
    );
}

#[test]
fn done_completes_and_finish_writes_the_closing_events() {
    let (mut sink, writes) = sink(false);
    let mut echo = Echo::default();
    let upstream = Script(vec![Ok(b"data: a\n\ndata: [DONE]\n\ndata: late\n\n")]);
    let outcome = relay_to_end(upstream, &mut sink, &mut echo);
    assert_eq!(outcome, Outcome::Completed);
    assert_eq!(writes.text(), "data: a\n\ndata: end\n\n");
}

#[test]
fn a_line_complete_event_at_the_end_of_the_body_counts() {
    let (mut sink, _) = sink(false);
    let upstream = Script(vec![Ok(b"data: a\n\ndata: [DONE]\n")]);
    assert_eq!(relay(upstream, &mut sink, &mut Echo::default()), Ok(()));
}

#[test]
fn faults_end_with_the_terminal_event_and_their_outcome() {
    let cases: [(Script, Fault, Outcome); 3] = [
        (
            Script(vec![Ok(b"data: a\n\ndata: fail\n\n")]),
            Fault::Upstream("boom".into()),
            Outcome::UpstreamError,
        ),
        (
            Script(vec![
                Ok(b"data: a\n\n"),
                Err(io::ErrorKind::ConnectionReset),
            ]),
            Fault::Dropped(String::new()),
            Outcome::UpstreamError,
        ),
        (
            Script(vec![Ok(b"data: a\n\n")]),
            Fault::ClosedEarly,
            Outcome::UpstreamError,
        ),
    ];
    for (upstream, expected, outcome) in cases {
        let (mut sink, writes) = sink(false);
        let mut echo = Echo::default();
        let ending = relay(upstream, &mut sink, &mut echo);
        match (&ending, &expected) {
            (Err(Fault::Dropped(m)), Fault::Dropped(_)) => assert!(m.contains("failed"), "{m}"),
            _ => assert_eq!(ending, Err(expected.clone())),
        }
        assert_eq!(finish(ending, &mut sink, &mut echo), outcome);
        let text = writes.text();
        assert!(text.starts_with("data: a\n\nevent: error\n"), "{text}");
    }
}

#[test]
fn an_answer_the_upstream_already_ended_survives_a_broken_connection() {
    let (mut sink, _) = sink(false);
    let upstream = Script(vec![
        Ok(b"data: settle\n\n"),
        Err(io::ErrorKind::ConnectionReset),
    ]);
    assert_eq!(relay(upstream, &mut sink, &mut Echo::default()), Ok(()));
    let mut complete = Echo {
        done_at_eof: true,
        ..Echo::default()
    };
    let (mut sink, _) = self::sink(false);
    assert_eq!(relay(Script(vec![]), &mut sink, &mut complete), Ok(()));
}

#[test]
fn a_vanished_client_stops_the_relay_and_gets_nothing_more() {
    let mut sink = Sink::over(Box::new(Gone), Box::new(Sse { chunked: true }));
    let upstream = Script(vec![Ok(b"data: a\n\n"), Ok(b"data: b\n\n")]);
    let mut echo = Echo::default();
    let ending = relay(upstream, &mut sink, &mut echo);
    assert_eq!(ending, Err(Fault::ClientGone));
    assert_eq!(finish(ending, &mut sink, &mut echo), Outcome::ClientGone);
}

#[test]
fn several_upstreams_relay_into_one_client_stream() {
    let (mut sink, writes) = sink(false);
    let mut echo = Echo {
        done_at_eof: true,
        ..Echo::default()
    };
    assert_eq!(
        relay(Script(vec![Ok(b"data: one\n\n")]), &mut sink, &mut echo),
        Ok(())
    );
    sink.event(Some("injected"), "{}");
    let ending = relay(Script(vec![Ok(b"data: two\n\n")]), &mut sink, &mut echo);
    assert_eq!(finish(ending, &mut sink, &mut echo), Outcome::Completed);
    assert_eq!(
        writes.text(),
        "data: one\n\nevent: injected\ndata: {}\n\ndata: two\n\ndata: end\n\n"
    );
}

/// An upstream that stays silent until cancelled.
struct Silent(Arc<std::sync::atomic::AtomicBool>);

impl Read for Silent {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        while !self.0.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(5));
        }
        Err(io::ErrorKind::UnexpectedEof.into())
    }
}

fn silent_stream(shutdown: Shutdown, stall: Duration) -> (Outcome, String) {
    silent_stream_every(Duration::from_millis(30), shutdown, stall)
}

fn silent_stream_every(
    keepalive: Duration,
    shutdown: Shutdown,
    stall: Duration,
) -> (Outcome, String) {
    let cancelled = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let upstream = Silent(cancelled.clone());
    let body = StreamBody {
        keepalive: b": keepalive\n\n",
        timing: Timing {
            keepalive,
            stall,
            first_byte: stall,
        },
        cancel: Box::new(move || cancelled.store(true, Ordering::Release)),
        shutdown,
        produce: Box::new(move |sink| relay_to_end(upstream, sink, &mut Echo::default())),
    };
    let writes = Writes::default();
    let outcome = body.serve(Box::new(writes.clone()), Box::new(Sse { chunked: false }));
    (outcome, writes.text())
}

#[test]
fn the_watchdog_keeps_alive_then_cancels_a_stall() {
    // The stall limit is far past the first keepalive (30 ms), so that a watchdog woken
    // late on a loaded machine still finds the keepalive due before the stall.
    let (outcome, text) = silent_stream(Shutdown::default(), Duration::from_secs(1));
    assert_eq!(outcome, Outcome::Stalled);
    assert!(text.starts_with(": keepalive\n\n"), "{text}");
    assert!(text.ends_with("event: error\ndata: Copilot stopped sending data (stall timeout); the response is incomplete\n\n"), "{text}");
}

/// The watchdog sleeps until the nearest deadline it knows; a stream added with an
/// earlier one must wake it, or its keepalives and stall limit wait for the other's.
#[test]
fn a_new_stream_with_an_earlier_deadline_wakes_the_sleeping_watchdog() {
    let long = Shutdown::default();
    let end_long = long.clone();
    let slow = std::thread::spawn(move || {
        silent_stream_every(Duration::from_secs(20), long, Duration::from_secs(30))
    });
    // Let the watchdog take in the slow stream and go to sleep for its 20 s.
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    let (outcome, text) = silent_stream(Shutdown::default(), Duration::from_secs(1));
    let took = started.elapsed();
    end_long.trigger();
    assert_eq!(slow.join().unwrap().0, Outcome::UpstreamError);
    assert_eq!(outcome, Outcome::Stalled);
    assert!(text.starts_with(": keepalive\n\n"), "{text}");
    assert!(
        took < Duration::from_secs(5),
        "the short stream waited {took:?}"
    );
}

#[test]
fn a_shutdown_ends_every_open_stream_with_its_terminal_event() {
    let shutdown = Shutdown::default();
    let trigger = shutdown.clone();
    let timer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(60));
        trigger.trigger();
    });
    let (outcome, text) = silent_stream(shutdown, Duration::from_secs(30));
    timer.join().unwrap();
    assert_eq!(outcome, Outcome::UpstreamError);
    assert!(
        text.ends_with(
            "event: error\ndata: the proxy is shutting down; the response is incomplete\n\n"
        ),
        "{text}"
    );
}

/// Threads of this process named `name` (Linux: `/proc/self/task/*/comm`).
fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .filter(|comm| comm.trim_end() == name)
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn one_watchdog_thread_keeps_every_open_stream_alive_and_cancels_each_stall() {
    let streams: Vec<_> = (0..8)
        .map(|_| std::thread::spawn(|| silent_stream(Shutdown::default(), Duration::from_secs(1))))
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    let watchdogs = threads_named("stream-watchdog");
    for stream in streams {
        let (outcome, text) = stream.join().unwrap();
        assert_eq!(outcome, Outcome::Stalled);
        assert!(text.starts_with(": keepalive\n\n"), "{text}");
    }
    assert_eq!(watchdogs, 1);
}

/// Closing events several to a stream (Anthropic's block stop, `message_delta`,
/// `message_stop`) leave in one write, like the events of one read.
#[test]
fn the_closing_events_leave_in_one_write() {
    struct Closing;
    impl Adapter for Closing {
        fn on_event(&mut self, _: &Event, _: &mut Sink) -> Result<Step, Fault> {
            Ok(Step::Done)
        }
        fn close(&mut self, _: &Result<(), Fault>, sink: &mut Sink) {
            sink.event(Some("content_block_stop"), "{}");
            sink.events(&[Event {
                event: Some("message_delta".into()),
                data: "{}".into(),
                ..Event::default()
            }]);
            sink.sse(b"event: message_stop\ndata: {}\n\n");
        }
        fn name(&self) -> &'static str {
            "closing"
        }
    }
    let (mut sink, writes) = sink(false);
    let upstream = Script(vec![Ok(b"data: x\n\n")]);
    assert_eq!(
        relay_to_end(upstream, &mut sink, &mut Closing),
        Outcome::Completed
    );
    assert_eq!(
        writes.all(),
        [
            "event: content_block_stop\ndata: {}\n\nevent: message_delta\ndata: {}\n\nevent: message_stop\ndata: {}\n\n"
        ]
    );
}

#[test]
fn events_given_together_leave_in_one_write() {
    let (mut sink, writes) = sink(true);
    let event = |data: &str| Event {
        data: data.into(),
        ..Event::default()
    };
    assert!(sink.events(&[event("a"), event("b")]));
    assert_eq!(writes.all(), ["9\r\ndata: a\n\n\r\n9\r\ndata: b\n\n\r\n"]);
}

/// The watchdog is one thread for every stream: a cancel hook that panics stops the
/// watching of its own stream only, and the next stream is still kept alive and cancelled.
#[test]
fn a_panicking_cancel_hook_leaves_the_watchdog_serving_other_streams() {
    let upstream: Box<dyn Read + Send> = Box::new(Script(vec![Err(io::ErrorKind::TimedOut)]));
    let body = StreamBody {
        keepalive: b": keepalive\n\n",
        timing: Timing {
            keepalive: Duration::from_millis(30),
            stall: Duration::from_millis(20),
            first_byte: Duration::from_millis(20),
        },
        // Unwinds as a panic does, without the panic hook: with RUST_BACKTRACE set, the
        // hook's backtrace (symbolized from a debug build's DWARF) kept the one watchdog
        // thread busy long enough that a stream of a test running beside this one missed
        // its keepalive.
        cancel: Box::new(|| std::panic::resume_unwind(Box::new("a broken cancel hook"))),
        shutdown: Shutdown::default(),
        produce: Box::new(move |sink| {
            // Silent past the stall limit, so the watchdog calls the hook.
            std::thread::sleep(Duration::from_millis(100));
            relay_to_end(upstream, sink, &mut Echo::default())
        }),
    };
    body.serve(
        Box::new(Writes::default()),
        Box::new(Sse { chunked: false }),
    );
    let (outcome, text) = silent_stream(Shutdown::default(), Duration::from_millis(200));
    assert_eq!(outcome, Outcome::Stalled);
    assert!(text.starts_with(": keepalive\n\n"), "{text}");
}
