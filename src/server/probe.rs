//! "Has this request's client gone?", asked while a request waits in a queue (rate limits,
//! manual approval) so that an abandoned request leaves the queue and never reaches Copilot.
//!
//! tiny_http does not lend out a request's socket, so the question goes to the kernel's
//! TCP table instead (`/proc/net/tcp` and `/proc/net/tcp6`): the connection from the
//! client's address to our port is still `ESTABLISHED` while the client waits; a client
//! that closed its end moves it to `CLOSE_WAIT`, a reset removes it. Where the table cannot
//! be read (not Linux), the probe never says gone and a request waits out its bound.
//! A client that half-closes its sending side while still reading would look gone; HTTP
//! clients do not do that.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

const TCP_TABLES: [&str; 2] = ["/proc/net/tcp", "/proc/net/tcp6"];
/// `TCP_ESTABLISHED` in the kernel's state numbering.
const ESTABLISHED: u8 = 0x01;

/// Identifies one client connection: the client's address and our listening port.
#[derive(Debug, Clone, Default)]
pub struct ClientProbe {
    conn: Option<(SocketAddr, u16)>,
}

impl ClientProbe {
    pub fn new(peer: Option<SocketAddr>, local_port: Option<u16>) -> ClientProbe {
        ClientProbe {
            conn: peer.zip(local_port),
        }
    }

    /// True when the connection is known to be closed or closing.
    pub fn gone(&self) -> bool {
        let Some((peer, port)) = self.conn else {
            return false;
        };
        let mut read_any = false;
        for table in TCP_TABLES {
            let Ok(text) = std::fs::read_to_string(table) else {
                continue;
            };
            read_any = true;
            if let Some(state) = find_state(&text, peer, port) {
                return state != ESTABLISHED;
            }
        }
        read_any
    }
}

/// The state of the connection between `peer` and local `port` in one table.
fn find_state(table: &str, peer: SocketAddr, port: u16) -> Option<u8> {
    let peer_ip = peer.ip().to_canonical();
    table.lines().skip(1).find_map(|line| {
        let mut fields = line.split_whitespace().skip(1);
        let (local, remote, state) = (fields.next()?, fields.next()?, fields.next()?);
        let (_, local_port) = parse_endpoint(local)?;
        let (remote_ip, remote_port) = parse_endpoint(remote)?;
        (local_port == port && remote_port == peer.port() && remote_ip == peer_ip)
            .then(|| u8::from_str_radix(state, 16).ok())
            .flatten()
    })
}

/// `0100007F:1F90` (IPv4) or 32 hex digits `:PORT` (IPv6). Each 32-bit group is printed
/// as the kernel holds it, in host byte order.
fn parse_endpoint(text: &str) -> Option<(IpAddr, u16)> {
    let (addr, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let group = |i: usize| -> Option<[u8; 4]> {
        let hex = addr.get(i * 8..i * 8 + 8)?;
        Some(u32::from_str_radix(hex, 16).ok()?.to_ne_bytes())
    };
    let ip = match addr.len() {
        8 => IpAddr::V4(Ipv4Addr::from(group(0)?)),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&group(i)?);
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some((ip.to_canonical(), port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn parses_both_tables() {
        let v4 = u32::from_ne_bytes([127, 0, 0, 1]);
        let line = format!(
            "  sl  local_address rem_address   st\n   0: {v4:08X}:1F90 {v4:08X}:D431 08 0\n"
        );
        let peer: SocketAddr = "127.0.0.1:54321".parse().unwrap();
        assert_eq!(find_state(&line, peer, 8080), Some(8));
        assert_eq!(find_state(&line, peer, 8081), None);
        let mapped = "0000000000000000FFFF00000100007F";
        if cfg!(target_endian = "little") {
            let want: IpAddr = "127.0.0.1".parse().unwrap();
            assert_eq!(parse_endpoint(&format!("{mapped}:0050")), Some((want, 80)));
        }
    }

    #[test]
    fn sees_a_live_client_then_its_close() {
        if std::fs::metadata("/proc/net/tcp").is_err() {
            return;
        }
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (_server_side, peer) = listener.accept().unwrap();
        let probe = ClientProbe::new(Some(peer), Some(port));
        assert!(!probe.gone());
        client.write_all(b"x").unwrap();
        drop(client);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while !probe.gone() {
            assert!(std::time::Instant::now() < deadline, "close not seen");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(!ClientProbe::default().gone());
    }
}
