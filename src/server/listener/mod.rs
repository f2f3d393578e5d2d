//! The listener: our own HTTP/1.1 connection handling, in place of tiny_http 0.12, whose
//! gaps could not be closed from outside it (it owns `accept`, never times out a head or
//! an idle connection, caps nothing, reads header lines without a bound, allocates a
//! declared `Content-Length` to drain it, and offers TLS only on rustls 0.20).
//!
//! What it guarantees, each with a test (`tests/it/listener.rs`):
//! - a request head must be complete within `header_timeout` of its first byte (of the
//!   accept, on a new connection), else the connection closes; heads are at most 64 KiB
//!   and 128 fields (431 above);
//! - a keep-alive connection idle for `idle_timeout` between requests closes;
//! - at most `max_connections` are open: the excess is refused at once (a 503 with
//!   `Connection: close` on plain HTTP, a close under TLS) while admitted connections
//!   keep being served;
//! - an unread body is drained up to 1 MiB after the answer, else the connection closes;
//!   nothing is ever allocated from a declared length; no thread or socket outlives its
//!   connection.
//!
//! Threads: one accept thread, and one thread per open connection that reads each request
//! and runs the handler itself (no queue between them: the hot path has no extra hop).
//! Writes time out after `idle_timeout` too, so a client that stops reading frees its
//! thread.
//!
//! API, for the server and the features built on it:
//! ```text
//! let listener = Listener::bind(addr, limits)?;          // backlog 1024, TCP_NODELAY
//! let listener = listener.with_tls(handshake);           // optional: Arc<Handshake>, run on
//!                                                         // the connection's thread under
//!                                                         // the header deadline
//! let stop = listener.stopper();                          // for graceful shutdown:
//! //   stop.stop()              stop accepting; open connections go on until an answer
//! //                            closes them or they idle out
//! listener.serve(handler);                                // returns once stopped
//!
//! // The handler runs on the connection's thread with a Request:
//! rq.method() rq.url() rq.headers() rq.version() rq.body_length()
//! rq.read(..)                  // the body (Content-Length or chunked; 100-continue sent)
//! rq.probe()                   // Probe::client_gone(): has the client left? (cheap peek,
//!                              // from any thread, e.g. while the request is queued)
//! rq.respond(status, headers, body, close)   // a whole answer
//! rq.into_writer()             // Box<dyn ClientWrite>: caller frames the answer (SSE)
//! rq.upgrade()                 // Upgraded: Read + Write, for a WebSocket after a 101
//! ```
//! TLS: `Handshake` turns the accepted `TcpStream` into any `Transport` (any `Read + Write +
//! Send`, e.g. rustls's `StreamOwned<ServerConnection, TcpStream>`); the listener keeps a
//! clone of the TCP socket for deadlines and probes.
//!
//! Graceful shutdown (`server::shutdown`) stops the listener through its `Stopper`.
//! `upgrade` carries the Responses WebSocket (`server::websocket`); the tests here use every
//! hook.

mod answer;
mod conn;
pub mod head;
mod request;

pub use answer::Upgraded;
pub use request::Request;

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Pending connections the kernel may queue before `accept`.
const BACKLOG: i32 = 1024;

/// The bounds on every connection (`--header-timeout`, `--idle-timeout`,
/// `--max-connections`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    /// Stack of each connection thread, which also runs the handler.
    pub stack_size: usize,
}

/// A connection's byte stream: plain TCP, or TLS over it (deadlines and probes act on a
/// clone of the TCP socket taken before the handshake).
pub trait Transport: Read + Write + Send {}

impl<T: Read + Write + Send> Transport for T {}

/// The connection's byte stream, shared with a response writer that may outlive the
/// request (the stream watchdog writes keepalives from its own thread).
type Io = Arc<Mutex<Box<dyn Transport>>>;

/// How much is read from the socket at a time.
const READ_CHUNK: usize = 16 * 1024;

/// Wraps an accepted connection (the TLS handshake); runs on the connection's thread.
pub type Handshake = dyn Fn(TcpStream) -> io::Result<Box<dyn Transport>> + Send + Sync;

/// What runs each request, on its connection's thread.
pub type Handler = dyn Fn(Request<'_>) + Send + Sync;

pub struct Listener {
    tcp: TcpListener,
    addr: SocketAddr,
    shared: Arc<Shared>,
    handshake: Option<Arc<Handshake>>,
}

struct Shared {
    limits: Limits,
    /// Set by `Stopper::stop` (the process's graceful shutdown, or a test).
    stopping: AtomicBool,
    next_id: AtomicU64,
    /// Open connections, by id.
    open: Mutex<HashSet<u64>>,
}

impl Listener {
    pub fn bind(addr: SocketAddr, limits: Limits) -> Result<Listener, String> {
        use socket2::{Domain, Socket, Type};
        let fail = |e: io::Error| format!("cannot listen on {addr}: {e}");
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None).map_err(fail)?;
        socket.set_reuse_address(true).map_err(fail)?;
        // Inherited by accepted sockets on Linux: an answer written in two segments is
        // not held back by Nagle.
        socket.set_tcp_nodelay(true).map_err(fail)?;
        socket.bind(&addr.into()).map_err(fail)?;
        // std listens with 128; a burst of new streams overflows it and the kernel then
        // drops SYNs (clients wait a second to retry).
        socket.listen(BACKLOG).map_err(fail)?;
        let tcp = TcpListener::from(socket);
        let addr = tcp.local_addr().map_err(fail)?;
        Ok(Listener {
            tcp,
            addr,
            shared: Arc::new(Shared {
                limits,
                stopping: AtomicBool::new(false),
                next_id: AtomicU64::new(1),
                open: Mutex::new(HashSet::new()),
            }),
            handshake: None,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves every connection through `handshake` (TLS).
    pub fn with_tls(mut self, handshake: Arc<Handshake>) -> Listener {
        self.handshake = Some(handshake);
        self
    }

    /// What stops this listener, from any thread (the graceful shutdown holds one).
    pub fn stopper(&self) -> Stopper {
        Stopper {
            shared: self.shared.clone(),
            tcp: self.tcp.try_clone().ok().map(Arc::new),
        }
    }

    /// Accepts until stopped.
    pub fn serve(self, handler: Arc<Handler>) {
        for accepted in self.tcp.incoming() {
            if self.shared.stopping.load(Ordering::Acquire) {
                break;
            }
            let tcp = match accepted {
                Ok(tcp) => tcp,
                Err(_) if self.shared.stopping.load(Ordering::Acquire) => break,
                Err(e) => {
                    // Out of descriptors, or a connection reset before accept: pause
                    // rather than spin, and go on.
                    crate::warn!("accept failed: {e}");
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
            };
            self.admit(tcp, &handler);
        }
    }

    /// Starts the connection's thread, or refuses it above `max_connections`.
    fn admit(&self, tcp: TcpStream, handler: &Arc<Handler>) {
        let accepted = Instant::now();
        let limits = self.shared.limits;
        let registry = {
            let mut open = crate::sync::lock(&self.shared.open);
            if open.len() >= limits.max_connections {
                drop(open);
                refuse(tcp, self.handshake.is_some(), limits.max_connections);
                return;
            }
            let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
            open.insert(id);
            Registered(self.shared.clone(), id)
        };
        let (handler, handshake) = (handler.clone(), self.handshake.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("conn-{}", registry.1))
            .stack_size(limits.stack_size)
            .spawn(move || {
                let _registry = registry;
                run(tcp, accepted, limits, handshake, &*handler);
            });
        if let Err(e) = spawned {
            // The closure (and with it the registration and socket) is dropped.
            crate::warn!("could not start a connection thread: {e}");
        }
    }
}

/// Removes a connection from the registry when its thread ends, however it ends.
struct Registered(Arc<Shared>, u64);

impl Drop for Registered {
    fn drop(&mut self) {
        crate::sync::lock(&self.0.open).remove(&self.1);
    }
}

/// One connection from accept to close.
fn run(
    tcp: TcpStream,
    accepted: Instant,
    limits: Limits,
    handshake: Option<Arc<Handshake>>,
    handler: &Handler,
) {
    let Ok(socket) = tcp.try_clone() else {
        return;
    };
    // Bounds the handshake too; every later read sets its own deadline.
    let _ = socket.set_read_timeout(Some(limits.header_timeout));
    let _ = socket.set_write_timeout(Some(limits.idle_timeout));
    let plain = handshake.is_none();
    let io: Box<dyn Transport> = match handshake {
        Some(h) => match h(tcp) {
            Ok(io) => io,
            Err(_) => return,
        },
        None => Box::new(tcp),
    };
    let mut conn = conn::Conn::new(io, socket, plain, limits);
    let mut first = true;
    // Stopping does not end a connection between two requests: its last answer did not say
    // `Connection: close`, so its client may already be sending the next request, which
    // would meet a reset. The handler closes each connection with its next answer instead
    // (the server does while draining); the idle timeout bounds the rest.
    loop {
        let head = match conn.read_head(first, accepted) {
            Ok(Some(head)) => head,
            Ok(None) => return,
            Err(e) => {
                conn.refuse_head(&e);
                return;
            }
        };
        first = false;
        let again = request::exchange(&mut conn, head, handler);
        if !again {
            return;
        }
    }
}

/// Answers a connection over the cap without reading it, and closes it.
fn refuse(tcp: TcpStream, tls: bool, max: usize) {
    crate::warn!("connection refused: {max} open (--max-connections)");
    if tls {
        return;
    }
    let body = format!(
        r#"{{"error":{{"message":"the proxy has {max} open connections, its limit (--max-connections); retry shortly","type":"server_error"}}}}"#
    );
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    // Never block the accept loop: the answer fits an empty send buffer.
    let _ = tcp.set_nonblocking(true);
    let mut tcp = tcp;
    let _ = tcp.write_all(answer.as_bytes());
    let _ = tcp.shutdown(std::net::Shutdown::Write);
    // Closing with unread bytes would send a reset that can destroy the answer in
    // flight; read what already arrived first.
    let mut sink = [0u8; 4096];
    while matches!(tcp.read(&mut sink), Ok(n) if n > 0) {}
}

/// Stops a running listener (graceful shutdown).
#[derive(Clone)]
pub struct Stopper {
    shared: Arc<Shared>,
    /// A clone of the listening socket, closed to wake the blocked `accept`.
    tcp: Option<Arc<TcpListener>>,
}

impl Stopper {
    /// Stops accepting (later connections are refused). Open connections are served on until
    /// an answer closes them (the server's do while it drains) or they idle out: a kept-alive
    /// connection stays usable, so a load balancer's probe on it still reaches `/readyz` and
    /// reads its 503.
    pub fn stop(&self) {
        self.shared.stopping.store(true, Ordering::Release);
        // On Linux, `shutdown` on a listening socket wakes the blocked `accept` with an
        // error and refuses later connections; accepted ones are untouched.
        if let Some(tcp) = &self.tcp {
            let _ = socket2::SockRef::from(&**tcp).shutdown(std::net::Shutdown::Both);
        }
    }

    #[cfg(test)]
    pub fn stopping(&self) -> bool {
        self.shared.stopping.load(Ordering::Acquire)
    }

    #[cfg(test)]
    pub fn open_connections(&self) -> usize {
        crate::sync::lock(&self.shared.open).len()
    }

    /// Waits until every connection has closed, or `timeout`; true if they all did.
    #[cfg(test)]
    pub fn wait_closed(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.open_connections() > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        true
    }
}

#[cfg(test)]
mod tests;
