//! The listener's hooks that no route uses yet, driven directly: TLS-style wrapping, the
//! client probe, upgrades and graceful stop.

use super::*;
use std::io::{Read, Write};
use std::sync::mpsc;

fn limits() -> Limits {
    Limits {
        header_timeout: Duration::from_secs(2),
        idle_timeout: Duration::from_secs(5),
        max_connections: 8,
        stack_size: 256 * 1024,
    }
}

fn start(
    listener: Listener,
    handler: Arc<Handler>,
) -> (SocketAddr, Stopper, std::thread::JoinHandle<()>) {
    let addr = listener.local_addr();
    let stop = listener.stopper();
    let serving = std::thread::spawn(move || listener.serve(handler));
    (addr, stop, serving)
}

fn local() -> Listener {
    Listener::bind(SocketAddr::from(([127, 0, 0, 1], 0)), limits()).unwrap()
}

/// A transport that counts bytes read, standing in for a TLS stream.
struct Counting(TcpStream, Arc<AtomicU64>);

impl Read for Counting {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        let n = self.0.read(b)?;
        self.1.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl Write for Counting {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.write(b)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[test]
fn handshake_wraps_every_connection_and_stop_ends_serving() {
    let read = Arc::new(AtomicU64::new(0));
    let counted = read.clone();
    let handshake: Arc<Handshake> = Arc::new(move |tcp: TcpStream| {
        Ok(Box::new(Counting(tcp, counted.clone())) as Box<dyn Transport>)
    });
    let handler: Arc<Handler> = Arc::new(|rq: Request<'_>| {
        let last = rq.url() == "/last";
        rq.respond(200, &[], b"ok", last)
    });
    let (addr, stop, serving) = start(local().with_tls(handshake), handler);
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut answer = [0u8; 64];
    let n = c.read(&mut answer).unwrap();
    assert!(String::from_utf8_lossy(&answer[..n]).ends_with("\r\n\r\nok"));
    assert!(read.load(Ordering::Relaxed) >= 27);
    assert_eq!(stop.open_connections(), 1);
    // Stop, right after an answer that kept the connection: serve() returns and new
    // connections are refused, but the kept-alive connection is still served (its client
    // may already be sending; a close here would meet it with a reset) until an answer
    // closes it.
    stop.stop();
    serving.join().unwrap();
    assert!(TcpStream::connect(addr).is_err());
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let n = c.read(&mut answer).unwrap();
    assert!(String::from_utf8_lossy(&answer[..n]).ends_with("\r\n\r\nok"));
    c.write_all(b"GET /last HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut rest = Vec::new();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.read_to_end(&mut rest).unwrap();
    let rest = String::from_utf8_lossy(&rest);
    assert!(
        rest.contains("Connection: close") && rest.ends_with("\r\n\r\nok"),
        "{rest}"
    );
    assert!(stop.wait_closed(Duration::from_secs(2)));
}

#[test]
fn probe_sees_a_client_leave() {
    let (tx, rx) = mpsc::channel();
    let handler: Arc<Handler> = Arc::new(move |rq: Request<'_>| {
        let probe = rq.probe();
        let present = !probe.client_gone();
        let deadline = Instant::now() + Duration::from_secs(3);
        while !probe.client_gone() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = tx.send((present, probe.client_gone()));
        rq.respond(200, &[], b"late", true);
    });
    let (addr, stop, _serving) = start(local(), handler);
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    drop(c);
    let (present, gone) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(present, "the client was there while connected");
    assert!(gone, "the probe never saw the client leave");
    stop.stop();
}

#[test]
fn upgrade_hands_over_the_connection_with_early_bytes() {
    let handler: Arc<Handler> = Arc::new(|rq: Request<'_>| {
        let mut up = rq.upgrade();
        up.write_all(b"HTTP/1.1 101 Switching Protocols\r\n\r\n")
            .unwrap();
        let mut buf = [0u8; 5];
        up.read_exact(&mut buf).unwrap();
        up.write_all(&buf).unwrap();
    });
    let (addr, stop, _serving) = start(local(), handler);
    let mut c = TcpStream::connect(addr).unwrap();
    // The first frame arrives in the same packet as the head.
    c.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\nhel")
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    c.write_all(b"lo").unwrap();
    let mut got = String::new();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = c.read_to_string(&mut got);
    assert_eq!(got, "HTTP/1.1 101 Switching Protocols\r\n\r\nhello");
    stop.stop();
}

/// Stop refuses new connections and lets a request in progress finish its answer.
#[test]
fn stop_lets_a_request_in_progress_finish() {
    let (entered_tx, entered_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let handler: Arc<Handler> = Arc::new(move |rq: Request<'_>| {
        let _ = entered_tx.send(());
        let _ = crate::sync::lock(&release_rx).recv_timeout(Duration::from_secs(5));
        rq.respond(200, &[], b"done", true);
    });
    let (addr, stop, serving) = start(local(), handler);
    let mut busy = TcpStream::connect(addr).unwrap();
    busy.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    entered_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    stop.stop();
    assert!(stop.stopping());
    serving.join().unwrap();
    let refused = TcpStream::connect(addr).unwrap_err();
    assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
    release_tx.send(()).unwrap();
    busy.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = String::new();
    let _ = busy.read_to_string(&mut got);
    assert!(
        got.starts_with("HTTP/1.1 200") && got.ends_with("done"),
        "{got}"
    );
    assert!(stop.wait_closed(Duration::from_secs(2)));
}

/// The watchdog's keepalive write never waits for a client that stopped reading: once the
/// socket's buffers are full, `write_or_skip` writes nothing and says so at once; what it
/// did write arrives whole and in order when the client reads again.
#[test]
fn write_or_skip_skips_when_the_client_is_not_reading() {
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpStream::connect(server.local_addr().unwrap()).unwrap();
    let (tcp, _) = server.accept().unwrap();
    let socket = tcp.try_clone().unwrap();
    // A write that did wait would fail after this, not hang the test.
    socket
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut writer = answer::Writer {
        io: Arc::new(Mutex::new(Box::new(tcp) as Box<dyn Transport>)),
        broken: Arc::new(AtomicBool::new(false)),
        socket: Some(socket),
        pending: Vec::new(),
    };
    let frame = *b"14\r\n: keepalive\n\n\r\n";
    let started = Instant::now();
    let mut sent = 0usize;
    loop {
        match crate::http::ClientWrite::write_or_skip(&mut writer, &frame) {
            Ok(true) => sent += frame.len(),
            Ok(false) => break,
            Err(e) => panic!("the write failed: {e}"),
        }
        assert!(sent < 512 << 20, "the buffers never filled");
    }
    assert!(started.elapsed() < Duration::from_secs(5), "a write waited");
    // Skipping again is immediate, and the connection is not marked broken.
    assert!(!crate::http::ClientWrite::write_or_skip(&mut writer, &frame).unwrap());
    assert!(!writer.broken.load(Ordering::Acquire));
    // A frame taken in part is finished, ahead of the next write, once the client reads.
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        client.read_to_end(&mut got).unwrap();
        got
    });
    writer.write_all(b"end").unwrap();
    drop(writer);
    let got = reader.join().unwrap();
    assert_eq!(got.len(), sent + 3);
    let (frames, end) = got.split_at(sent);
    assert_eq!(end, b"end");
    assert!(frames.chunks(frame.len()).all(|f| f == frame));
}
