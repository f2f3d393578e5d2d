//! Handler threads that take requests straight from tiny_http's queue. A thread per
//! request is what streaming needs (a fixed pool of 16 queued the 17th stream for seconds,
//! reference/rust-stack.md §6), but spawning one costs tens of microseconds and a hand-off
//! through a dispatcher costs a context switch; so each worker waits on the queue itself,
//! and the worker that takes the last idle place starts another. Idle workers beyond one
//! exit after a while, so the pool follows the load; the in-flight cap bounds it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tiny_http::{Request, Server};

/// How long a spare worker waits for work before it exits.
const IDLE_EXIT: Duration = Duration::from_secs(30);

/// What a worker does with a request it took.
pub type Handler = dyn Fn(Request) + Send + Sync;

pub struct Workers {
    server: Server,
    /// Set by the graceful shutdown, which closes the listening socket: the listener's
    /// error that follows is expected, not a failure.
    stopping: Arc<AtomicBool>,
    handler: Box<Handler>,
    stack_size: usize,
    /// Workers waiting on the queue.
    idle: AtomicUsize,
    spawned: AtomicUsize,
}

impl Workers {
    /// Serves until the process ends.
    pub fn serve(
        server: Server,
        stack_size: usize,
        handler: Box<Handler>,
        stopping: Arc<AtomicBool>,
    ) {
        let workers = Arc::new(Workers {
            server,
            stopping,
            handler,
            stack_size,
            idle: AtomicUsize::new(0),
            spawned: AtomicUsize::new(0),
        });
        if let Err(e) = workers.spawn() {
            crate::error!("could not start a request thread: {e}");
            return;
        }
        loop {
            std::thread::park();
        }
    }

    fn spawn(self: &Arc<Self>) -> std::io::Result<()> {
        let n = self.spawned.fetch_add(1, Ordering::Relaxed) + 1;
        let me = self.clone();
        std::thread::Builder::new()
            .name(format!("worker-{n}"))
            .stack_size(self.stack_size)
            .spawn(move || me.work())
            .map(drop)
    }

    fn work(self: Arc<Self>) {
        loop {
            self.idle.fetch_add(1, Ordering::AcqRel);
            let next = self.server.recv_timeout(IDLE_EXIT);
            let idle_before = self.idle.fetch_sub(1, Ordering::AcqRel);
            match next {
                Ok(Some(rq)) => {
                    // The last waiting worker took this one: start the next before working.
                    if idle_before == 1 {
                        if let Err(e) = self.spawn() {
                            crate::warn!("could not start a request thread: {e}");
                        }
                    }
                    // A panic that escaped the handler's own guard must not end the worker.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        (self.handler)(rq)
                    }));
                }
                // Others are waiting: this spare one can go.
                Ok(None) if idle_before > 1 => return,
                Ok(None) => {}
                Err(e) => {
                    if !self.stopping.load(Ordering::Acquire) {
                        crate::error!("the listener failed: {e}");
                    }
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::sync::Barrier;

    #[test]
    fn a_busy_worker_never_holds_up_the_next_request() {
        let server = Server::http("127.0.0.1:0").unwrap();
        let addr = server.server_addr().to_ip().unwrap();
        // Each request waits until all three are being handled: only possible if every
        // one got a thread of its own while the others were busy.
        let barrier = Arc::new(Barrier::new(3));
        let handler = Box::new(move |rq: Request| {
            barrier.wait();
            let _ = rq.respond(tiny_http::Response::from_string("ok"));
        });
        let stopping = Arc::new(AtomicBool::new(false));
        std::thread::spawn(move || Workers::serve(server, 256 * 1024, handler, stopping));
        let clients: Vec<_> = (0..3)
            .map(|_| {
                std::thread::spawn(move || {
                    let mut s = std::net::TcpStream::connect(addr).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                        .unwrap();
                    let mut answer = String::new();
                    let _ = s.read_to_string(&mut answer);
                    answer
                })
            })
            .collect();
        for c in clients {
            assert!(c.join().unwrap().ends_with("ok"));
        }
    }
}
