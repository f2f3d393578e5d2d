//! Several instances behind a real nginx (issue #15 item 8, README "Running several
//! instances"): the shipped `deploy/nginx.conf`, ports replaced, in front of two proxies.
//! Events of a stream arrive one by one through it (not buffered), requests with one
//! session header stay on one instance, and with one instance stopped every request is
//! still answered by the other.
//!
//! nginx comes from the Debian package (`scripts/test` installs it); without it this test
//! fails rather than skipping.

use crate::support::*;
use crate::{chat_request, exclusive};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, UNIX_EPOCH};

/// nginx as a child process in a directory of its own, stopped on drop.
struct Nginx {
    url: String,
    dir: TempDir,
    child: Child,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn nginx_binary() -> PathBuf {
    for candidate in ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"] {
        if Path::new(candidate).exists() {
            return candidate.into();
        }
    }
    panic!("nginx is needed by this test: apt-get install nginx (scripts/test does this)");
}

/// A free port below the kernel's ephemeral range. A port taken from `bind(:0)` and
/// released is in that range, where any other test's `--port 0` proxy or outgoing
/// connection may take it before nginx binds it: nginx then fails to start and the test
/// talks to another test's proxy (a stream cut short when that test ends).
fn free_port(attempt: u32) -> u16 {
    let range =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let low: u64 = range
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(32768);
    let span = low.saturating_sub(10_000).max(1);
    let nanos = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let seed = u64::from(std::process::id()) + u64::from(attempt) * 7919 + u64::from(nanos);
    (0..span)
        .map(|i| (10_000 + (seed + i * 104_729) % span) as u16)
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free port below the ephemeral range")
}

/// Starts nginx with `deploy/nginx.conf`, its two upstream servers replaced by `backends`,
/// and checks that nginx itself answers on its port (retrying on another port if nginx
/// could not bind it).
fn start_nginx(backends: [&str; 2]) -> Nginx {
    let mut logs = Vec::new();
    for attempt in 0..5 {
        match try_start_nginx(backends, free_port(attempt)) {
            Ok(nginx) => return nginx,
            Err(log) => logs.push(log),
        }
    }
    panic!("nginx did not start: {logs:#?}");
}

fn try_start_nginx(backends: [&str; 2], port: u16) -> Result<Nginx, String> {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/nginx.conf");
    let mut site = std::fs::read_to_string(&example).unwrap();
    for (from, to) in [
        ("server 127.0.0.1:4141 ", format!("server {} ", backends[0])),
        ("server 127.0.0.1:4142 ", format!("server {} ", backends[1])),
        ("listen 8080;", format!("listen 127.0.0.1:{port};")),
    ] {
        assert!(site.contains(from), "deploy/nginx.conf lost `{from}`");
        site = site.replace(from, &to);
    }
    let dir = TempDir::new();
    let d = dir.path().display();
    std::fs::write(dir.path().join("copilot-api.conf"), site).unwrap();
    let main = format!(
        "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log info;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  \
         fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  \
         include {d}/copilot-api.conf;\n}}\n"
    );
    std::fs::write(dir.path().join("nginx.conf"), main).unwrap();
    let child = Command::new(nginx_binary())
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(dir.path().join("nginx.conf"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nginx");
    let mut nginx = Nginx {
        url: format!("http://127.0.0.1:{port}"),
        dir,
        child,
    };
    // nginx answers with its own `Server` header; whatever else might hold the port does not.
    let up = wait_until(Duration::from_secs(10), || {
        nginx.child.try_wait().ok().flatten().is_some() || answered_by_nginx(port)
    });
    let exited = nginx.child.try_wait().ok().flatten();
    if up && exited.is_none() {
        return Ok(nginx);
    }
    let log = std::fs::read_to_string(nginx.dir.path().join("error.log")).unwrap_or_default();
    Err(format!("port {port}, exited {exited:?}: {log}"))
}

/// Whether what listens on `port` answers a request with nginx's own `Server` header
/// (another test's proxy or fake could hold a port nginx failed to bind).
fn answered_by_nginx(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /readyz HTTP/1.0\r\n\r\n").is_err() {
        return false;
    }
    let mut head = Vec::new();
    let _ = s.take(4096).read_to_end(&mut head);
    String::from_utf8_lossy(&head)
        .to_ascii_lowercase()
        .contains("\r\nserver: nginx")
}

/// How many access-log lines for `path` a proxy has written.
fn served(proxy: &Proxy, path: &str) -> usize {
    let needle = format!(" {path} ");
    proxy
        .output()
        .iter()
        .filter(|l| l.contains(&needle))
        .count()
}

#[test]
fn two_instances_behind_nginx_stream_stick_and_fail_over() {
    let _alone = exclusive();
    let fake = Fake::start();
    let first = Proxy::start(&fake, &[], &[]);
    let second = Proxy::start(&fake, &[], &[]);
    let nginx = start_nginx([&first.addr, &second.addr]);
    for p in [&first, &second] {
        assert!(wait_until(Duration::from_secs(5), || get(
            &p.at("/readyz"),
            &[]
        )
        .status
            == 200));
    }

    // A stream of 15 events 100 ms apart: each must arrive about when it was sent.
    let body = chat_request("gpt-4.1", "scenario:slow:100:15", true);
    let mut client = StreamClient::post(
        &nginx.url,
        "/v1/chat/completions",
        &[],
        body.to_string().as_bytes(),
    );
    assert_eq!(client.status, 200);
    let mut pending = String::new();
    let mut latencies_ms = Vec::new();
    while let Some((chunk, at)) = client.next_chunk() {
        pending.push_str(&String::from_utf8(chunk).unwrap());
        let Some(end) = pending.rfind("\n\n") else {
            continue;
        };
        let complete: String = pending.drain(..end + 2).collect();
        for event in parse_sse(&complete) {
            if event.data.is_none() || event.is_done() {
                continue;
            }
            let Some(sent) = event.json()["fake_sent_us"].as_str().map(str::to_string) else {
                continue;
            };
            let sent: u128 = sent.parse().unwrap();
            let received = at.duration_since(UNIX_EPOCH).unwrap().as_micros();
            latencies_ms.push(received.saturating_sub(sent) / 1000);
        }
    }
    if latencies_ms.len() != 15 {
        let log = std::fs::read_to_string(nginx.dir.path().join("error.log")).unwrap_or_default();
        panic!(
            "{} of 15 events arrived ({latencies_ms:?}); body ended by {:?}, unparsed {pending:?}\n\
             first proxy: {:#?}\nsecond proxy: {:#?}\nnginx: {log}",
            latencies_ms.len(),
            client.end,
            first.output(),
            second.output(),
        );
    }
    // Buffered, the first event would wait for the last, 1.4 s later.
    assert!(
        latencies_ms.iter().all(|ms| *ms < 300),
        "latency per event through nginx (ms): {latencies_ms:?}"
    );

    // Affinity: one session id, one instance.
    let (before_1, before_2) = (served(&first, "/v1/models"), served(&second, "/v1/models"));
    for _ in 0..6 {
        let r = get(
            &format!("{}/v1/models", nginx.url),
            &[("session_id", "sess-42")],
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    assert!(wait_until(Duration::from_secs(2), || served(
        &first,
        "/v1/models"
    ) + served(
        &second,
        "/v1/models"
    ) == before_1
        + before_2
        + 6));
    let counts = (
        served(&first, "/v1/models") - before_1,
        served(&second, "/v1/models") - before_2,
    );
    assert!(counts == (6, 0) || counts == (0, 6), "{counts:?}");

    // One instance stops (SIGTERM, as systemd or docker stop it): every request, whatever
    // its session, is still answered.
    let mut second = second;
    second.signal("TERM");
    assert_eq!(second.wait_exit(Duration::from_secs(5)), Some(0));
    for i in 0..10 {
        let session = format!("sess-{i}");
        let r = post(
            &format!("{}/v1/chat/completions", nginx.url),
            &[
                ("content-type", "application/json"),
                ("session_id", &session),
            ],
            chat_request("gpt-4.1", "hello", false)
                .to_string()
                .as_bytes(),
        );
        assert_eq!(
            r.status,
            200,
            "request {i} after one instance stopped: {}",
            r.text()
        );
    }
}
