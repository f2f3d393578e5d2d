//! HTTPS serving: `TLS_CERT` / `TLS_KEY` (or `--tls-cert` / `--tls-key`), each a file path
//! or inline PEM, served with rustls.
//!
//! tiny_http's own TLS is rustls 0.20 and cannot be used, and tiny_http accepts only TCP or
//! Unix listeners. So TLS is terminated in front of it: the public TCP port is accepted
//! here, each connection's handshake is done here, and its plaintext is relayed to
//! tiny_http over a Unix socket in the abstract namespace (no file to clean up, nothing on
//! disk). Everything behind that socket, routes, limits and timeouts included, is the same
//! as for plain HTTP. Two threads per connection relay the two directions; they end
//! together, whichever side closes first.
//!
//! Interface: `load` (at start, before anything else) and `front` (returns the listener
//! that tiny_http serves).

use rustls::ServerConnection;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A client that has not finished its handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A client that stops reading holds its relay thread at most this long per write.
const WRITE_TIMEOUT: Duration = Duration::from_secs(300);
/// Relay threads copy one TLS record (16 KiB) at a time; rustls itself needs little stack.
const STACK_SIZE: usize = 256 * 1024;
/// Said to a plain-HTTP client that reached the HTTPS port, before closing.
const PLAIN_HTTP_BODY: &str = "This port serves HTTPS: use an https:// URL.\n";

/// Where a setting came from, to name it in an error: `TLS_CERT`, `--tls-cert`...
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    pub name: &'static str,
    pub value: String,
}

/// The server configuration, or None when neither setting is given. Errors are one line,
/// naming the setting: exactly one of the two set, an unreadable file, no certificate or key
/// in it, or a key that does not match the certificate.
pub fn load(
    cert: Option<&Setting>,
    key: Option<&Setting>,
) -> Result<Option<Arc<rustls::ServerConfig>>, String> {
    let (cert, key) = match (cert, key) {
        (None, None) => return Ok(None),
        (Some(c), Some(k)) => (c, k),
        (Some(c), None) => {
            return Err(format!(
                "TLS misconfiguration: {} is set but not its key (TLS_KEY or --tls-key); set both or neither",
                c.name
            ));
        }
        (None, Some(k)) => {
            return Err(format!(
                "TLS misconfiguration: {} is set but not its certificate (TLS_CERT or --tls-cert); set both or neither",
                k.name
            ));
        }
    };
    let cert_pem = pem_of(cert)?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: not a PEM certificate chain: {e}", cert.name))?;
    if chain.is_empty() {
        return Err(format!(
            "{}: no certificate (BEGIN CERTIFICATE) in it",
            cert.name
        ));
    }
    let key_pem = pem_of(key)?;
    if String::from_utf8_lossy(&key_pem).contains("ENCRYPTED") {
        return Err(format!(
            "{}: the private key is encrypted; give it decrypted (e.g. `openssl pkey -in KEY -out PLAIN`)",
            key.name
        ));
    }
    let private = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        format!(
            "{}: no private key (PKCS#8, PKCS#1 or SEC1 PEM) in it: {e}",
            key.name
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => format!(
                "{} does not match the certificate in {} (its public key differs)",
                key.name, cert.name
            ),
            other => format!("{} / {}: {other}", cert.name, key.name),
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(Arc::new(config)))
}

/// The PEM text of a setting: inline when it starts with `-----BEGIN `, else read from
/// the file it names.
fn pem_of(s: &Setting) -> Result<Vec<u8>, String> {
    let value = s.value.trim();
    if value.starts_with("-----BEGIN ") {
        // Inline PEM from an environment variable may have its newlines escaped.
        return Ok(value.replace("\\n", "\n").into_bytes());
    }
    std::fs::read(value).map_err(|e| format!("{}: cannot read {value}: {e}", s.name))
}

/// Accepts TLS on `public` and returns the listener tiny_http serves the plaintext from.
/// At most `max_connections` TLS connections are open at once; more are closed on accept.
/// Once `stopping` is set, an accept error ends the accepting thread (the shutdown closed
/// the listening socket).
pub fn front(
    public: TcpListener,
    config: Arc<rustls::ServerConfig>,
    max_connections: usize,
    stopping: Arc<AtomicBool>,
) -> Result<UnixListener, String> {
    let name = format!("copilot-api-tls-{:016x}", crate::ids::random_u64());
    let addr = SocketAddr::from_abstract_name(name.as_bytes())
        .map_err(|e| format!("TLS relay socket: {e}"))?;
    let inner = UnixListener::bind_addr(&addr).map_err(|e| format!("TLS relay socket: {e}"))?;
    let open = Arc::new(AtomicUsize::new(0));
    std::thread::Builder::new()
        .name("tls-accept".into())
        .spawn(move || accept_loop(public, config, addr, open, max_connections, &stopping))
        .map_err(|e| format!("cannot start the TLS thread: {e}"))?;
    Ok(inner)
}

fn accept_loop(
    public: TcpListener,
    config: Arc<rustls::ServerConfig>,
    inner: SocketAddr,
    open: Arc<AtomicUsize>,
    max_connections: usize,
    stopping: &AtomicBool,
) {
    for tcp in public.incoming() {
        let tcp = match tcp {
            Ok(tcp) => tcp,
            Err(_) if stopping.load(Ordering::Acquire) => return,
            Err(e) => {
                // Out of file descriptors, say: wait a little rather than spin.
                crate::warn!("TLS accept failed: {e}");
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        if open.fetch_add(1, Ordering::AcqRel) >= max_connections {
            open.fetch_sub(1, Ordering::AcqRel);
            crate::warn!("TLS connection refused: {max_connections} already open");
            continue;
        }
        let slot = Open(open.clone());
        let (config, inner) = (config.clone(), inner.clone());
        let spawned = std::thread::Builder::new()
            .name("tls-in".into())
            .stack_size(STACK_SIZE)
            .spawn(move || {
                let _slot = slot;
                serve_connection(tcp, config, &inner);
            });
        if let Err(e) = spawned {
            crate::warn!("could not start a TLS thread: {e}");
        }
    }
}

/// A place among the open TLS connections, given back however the connection ends.
struct Open(Arc<AtomicUsize>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Handshake, then relay until either side closes.
fn serve_connection(mut tcp: TcpStream, config: Arc<rustls::ServerConfig>, inner: &SocketAddr) {
    let _ = tcp.set_nodelay(true);
    let _ = tcp.set_read_timeout(Some(HANDSHAKE_TIMEOUT));
    let _ = tcp.set_write_timeout(Some(WRITE_TIMEOUT));
    if !starts_with_tls(&mut tcp) {
        return;
    }
    let Ok(mut conn) = ServerConnection::new(config) else {
        return;
    };
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut tcp) {
            crate::debug!("TLS handshake failed: {e}");
            let _ = tcp.shutdown(Shutdown::Both);
            return;
        }
    }
    let Ok(plain) = UnixStream::connect_addr(inner) else {
        return;
    };
    let _ = tcp.set_read_timeout(None);
    let conn = Arc::new(Mutex::new(conn));
    let outbound = match (plain.try_clone(), tcp.try_clone()) {
        (Ok(from), Ok(to)) => {
            let conn = conn.clone();
            std::thread::Builder::new()
                .name("tls-out".into())
                .stack_size(STACK_SIZE)
                .spawn(move || relay_out(from, to, &conn))
        }
        _ => return,
    };
    let Ok(outbound) = outbound else { return };
    relay_in(tcp, plain, &conn);
    let _ = outbound.join();
}

/// Peeks at the first byte: a TLS handshake record starts with 22. Anything else is most
/// likely plain HTTP, which gets a short 400 saying to use https, then a clean close.
fn starts_with_tls(tcp: &mut TcpStream) -> bool {
    let mut first = [0u8; 1];
    match tcp.peek(&mut first) {
        Ok(1) if first[0] == 0x16 => true,
        Ok(1) => {
            if first[0].is_ascii_uppercase() {
                // Read what the client sent (bounded) so the close is not a reset.
                let mut head = [0u8; 4096];
                let _ = tcp.set_read_timeout(Some(Duration::from_millis(200)));
                let _ = tcp.read(&mut head);
                let answer = format!(
                    "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\
                     Content-Length: {}\r\n\r\n{PLAIN_HTTP_BODY}",
                    PLAIN_HTTP_BODY.len()
                );
                let _ = tcp.write_all(answer.as_bytes());
            }
            let _ = tcp.shutdown(Shutdown::Both);
            false
        }
        _ => false,
    }
}

/// Client to tiny_http: decrypt what arrives and pass the plaintext on. The handshake may
/// already have read the first request (it often arrives with the client's Finished), so
/// what rustls holds is passed on before the first read.
fn relay_in(mut tcp: TcpStream, mut plain: UnixStream, conn: &Mutex<ServerConnection>) {
    let mut wire = vec![0u8; 16 * 1024];
    let mut incoming: &[u8] = &[];
    while let Some((out, closed)) = pump_in(&mut tcp, &mut incoming, conn) {
        if !out.is_empty() && plain.write_all(&out).is_err() {
            break;
        }
        if closed {
            break;
        }
        if incoming.is_empty() {
            match tcp.read(&mut wire) {
                Ok(0) | Err(_) => break,
                Ok(n) => incoming = &wire[..n],
            }
        }
    }
    let _ = plain.shutdown(Shutdown::Write);
}

/// Feeds what was read from the client to rustls (as much as it takes at once), answers
/// what TLS itself needs answered, and returns the plaintext now available and whether the
/// client said close_notify; None when the connection is broken.
fn pump_in(
    tcp: &mut TcpStream,
    incoming: &mut &[u8],
    conn: &Mutex<ServerConnection>,
) -> Option<(Vec<u8>, bool)> {
    let mut c = conn.lock().unwrap_or_else(|e| e.into_inner());
    if !incoming.is_empty() {
        c.read_tls(incoming).ok()?;
    }
    let state = c.process_new_packets();
    // Alerts, session tickets and key updates go back to the client.
    while c.wants_write() {
        c.write_tls(tcp).ok()?;
    }
    state.ok()?;
    let mut out = Vec::new();
    let mut clear = [0u8; 4096];
    loop {
        match c.reader().read(&mut clear) {
            Ok(0) => return Some((out, true)),
            Ok(k) => out.extend_from_slice(&clear[..k]),
            Err(_) => return Some((out, false)),
        }
    }
}

/// tiny_http to client: encrypt what it writes; when it closes, say so (close_notify) and
/// close the TCP connection, which also ends `relay_in`.
fn relay_out(mut plain: UnixStream, mut tcp: TcpStream, conn: &Mutex<ServerConnection>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match plain.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut c = conn.lock().unwrap_or_else(|e| e.into_inner());
        if c.writer().write_all(&buf[..n]).is_err() {
            break;
        }
        let mut failed = false;
        while c.wants_write() {
            if c.write_tls(&mut tcp).is_err() {
                failed = true;
                break;
            }
        }
        if failed {
            break;
        }
    }
    {
        let mut c = conn.lock().unwrap_or_else(|e| e.into_inner());
        c.send_close_notify();
        while c.wants_write() {
            if c.write_tls(&mut tcp).is_err() {
                break;
            }
        }
    }
    let _ = tcp.shutdown(Shutdown::Both);
    let _ = plain.shutdown(Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(name: &'static str, value: &str) -> Setting {
        Setting {
            name,
            value: value.into(),
        }
    }

    #[test]
    fn neither_is_plain_http_and_one_alone_is_an_error() {
        assert!(load(None, None).unwrap().is_none());
        let cert = setting("TLS_CERT", "/c.pem");
        let e = load(Some(&cert), None).unwrap_err();
        assert!(e.starts_with("TLS misconfiguration: TLS_CERT"), "{e}");
        let key = setting("--tls-key", "/k.pem");
        let e = load(None, Some(&key)).unwrap_err();
        assert!(e.contains("--tls-key is set"), "{e}");
    }

    #[test]
    fn unreadable_files_and_empty_pem_name_the_setting() {
        let cert = setting("TLS_CERT", "/nonexistent/c.pem");
        let key = setting("TLS_KEY", "/nonexistent/k.pem");
        let e = load(Some(&cert), Some(&key)).unwrap_err();
        assert!(
            e.starts_with("TLS_CERT: cannot read /nonexistent/c.pem"),
            "{e}"
        );
        let cert = setting(
            "TLS_CERT",
            "-----BEGIN NOTHING-----\n-----END NOTHING-----\n",
        );
        let e = load(Some(&cert), Some(&key)).unwrap_err();
        assert!(e.starts_with("TLS_CERT: no certificate"), "{e}");
    }
}
