//! HTTPS serving: `TLS_CERT` / `TLS_KEY` (or `--tls-cert` / `--tls-key`), each a file path
//! or inline PEM, served with rustls 0.23 (the one ureq already brings).
//!
//! The listener (`server::listener`) runs `handshake` on each accepted connection's own
//! thread and then reads and writes through the rustls stream: routes, limits and
//! timeouts are the same as for plain HTTP, and there is no relay in between.
//!
//! Interface: `load` (at start, before anything else) and `handshake` (given to
//! `Listener::with_tls`).

use crate::config::Setting;
use crate::server::listener::{Handshake, Transport};
use rustls::ServerConnection;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// Said to a plain-HTTP client that reached the HTTPS port, before closing.
const PLAIN_HTTP_BODY: &str = "This port serves HTTPS: use an https:// URL.\n";

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

/// The listener's handshake for HTTPS (`Listener::with_tls`): each accepted connection is
/// wrapped in a rustls stream on its own connection thread, under the listener's header
/// deadline; a plain-HTTP client gets a short 400 saying to use https. Everything after
/// the handshake (limits, timeouts, routes) is the same as for plain HTTP, with no relay
/// threads in between.
pub fn handshake(config: Arc<rustls::ServerConfig>) -> Arc<Handshake> {
    Arc::new(move |mut tcp: TcpStream| {
        if !starts_with_tls(&mut tcp) {
            return Err(io::Error::other("not a TLS client"));
        }
        let conn = ServerConnection::new(config.clone()).map_err(io::Error::other)?;
        let mut stream = rustls::StreamOwned::new(conn, tcp);
        while stream.conn.is_handshaking() {
            if let Err(e) = stream.conn.complete_io(&mut stream.sock) {
                crate::debug!("TLS handshake failed: {e}");
                let _ = stream.sock.shutdown(Shutdown::Both);
                return Err(e);
            }
        }
        Ok(Box::new(stream) as Box<dyn Transport>)
    })
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
