//! HTTPS serving (issue #15 item 1): a client trusting a test CA, generated here with the
//! `openssl` CLI, gets answers over `https://` with a certificate chain and each key format
//! (PKCS#8, PKCS#1, SEC1), from paths and inline PEM, by variable or flag; each
//! misconfiguration exits 1 at once with one line, before any login; a plain-HTTP client on
//! the TLS port gets a short answer and a clean close.

use crate::support::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A root CA, an intermediate, and leaves for localhost/127.0.0.1 signed by the
/// intermediate: an RSA one (key as PKCS#8 and as PKCS#1) and an EC one (SEC1 key).
struct Pki {
    dir: TempDir,
}

const MAKE_PKI: &str = r#"
set -e
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' > int.ext
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n' > leaf.ext
openssl req -x509 -newkey rsa:2048 -nodes -keyout root.key -out root.pem -days 2 \
  -subj /CN=copilot-api-test-root -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout int.key -out int.csr -subj /CN=copilot-api-test-int 2>/dev/null
openssl x509 -req -in int.csr -CA root.pem -CAkey root.key -CAcreateserial -out int.pem -days 2 -extfile int.ext 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.pkcs8.key 2>/dev/null
openssl rsa -in rsa.pkcs8.key -traditional -out rsa.pkcs1.key 2>/dev/null
openssl req -new -key rsa.pkcs8.key -out rsa.csr -subj /CN=localhost 2>/dev/null
openssl x509 -req -in rsa.csr -CA int.pem -CAkey int.key -CAcreateserial -out rsa.pem -days 2 -extfile leaf.ext 2>/dev/null
cat rsa.pem int.pem > rsa.chain.pem
openssl ecparam -name prime256v1 -genkey -noout -out ec.sec1.key
openssl req -new -key ec.sec1.key -out ec.csr -subj /CN=localhost 2>/dev/null
openssl x509 -req -in ec.csr -CA int.pem -CAkey int.key -CAcreateserial -out ec.pem -days 2 -extfile leaf.ext 2>/dev/null
cat ec.pem int.pem > ec.chain.pem
"#;

impl Pki {
    fn new() -> Pki {
        let dir = TempDir::new();
        let out = Command::new("sh")
            .args(["-c", MAKE_PKI])
            .current_dir(dir.path())
            .output()
            .expect("the openssl CLI is needed to make the test CA");
        assert!(
            out.status.success(),
            "openssl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Pki { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn arg(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    fn pem(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }

    fn first_line_is(&self, name: &str, begin: &str) {
        let pem = self.pem(name);
        assert!(pem.starts_with(begin), "{name} is not {begin}: {pem}");
    }
}

/// A client that trusts only `root` (no system roots, no proxy).
fn https_agent(root: &Path) -> ureq::Agent {
    let pem = std::fs::read(root).unwrap();
    let certs: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item.unwrap() {
            ureq::tls::PemItem::Certificate(c) => Some(c),
            _ => None,
        })
        .collect();
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::Specific(Arc::new(certs)))
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .proxy(None)
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .new_agent()
}

fn port_of(proxy: &Proxy) -> &str {
    proxy.addr.rsplit(':').next().unwrap()
}

/// `/healthz` and a chat completion over https through a client trusting only the root.
fn assert_serves_https(proxy: &Proxy, pki: &Pki) {
    let output = proxy.output().join("\n");
    assert!(output.contains("listening on https://"), "{output}");
    assert!(output.contains("TLS enabled"), "{output}");
    let base = format!("https://127.0.0.1:{}", port_of(proxy));
    let agent = https_agent(&pki.path("root.pem"));
    let mut health = agent.get(&format!("{base}/healthz")).call().unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.body_mut().read_to_string().unwrap(), "ok\n");
    let mut chat = agent
        .post(&format!("{base}/v1/chat/completions"))
        .header("content-type", "application/json")
        .send(r#"{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}"#)
        .unwrap();
    assert_eq!(chat.status(), 200);
    let body = chat.body_mut().read_to_string().unwrap();
    assert!(body.contains("chat.completion"), "{body}");
    // Served by the name in the certificate too, over one kept-alive connection.
    for _ in 0..3 {
        let r = agent
            .get(&format!("https://localhost:{}/healthz", port_of(proxy)))
            .call()
            .unwrap();
        assert_eq!(r.status(), 200);
    }
}

#[test]
fn https_with_a_chain_and_every_key_format_from_paths_and_inline_pem() {
    let pki = Pki::new();
    pki.first_line_is("rsa.pkcs8.key", "-----BEGIN PRIVATE KEY-----");
    pki.first_line_is("rsa.pkcs1.key", "-----BEGIN RSA PRIVATE KEY-----");
    pki.first_line_is("ec.sec1.key", "-----BEGIN EC PRIVATE KEY-----");
    let fake = Fake::start();

    // The reference's variables, file paths, PKCS#8.
    let (cert, key) = (pki.arg("rsa.chain.pem"), pki.arg("rsa.pkcs8.key"));
    let proxy = Proxy::start(&fake, &[], &[("TLS_CERT", &cert), ("TLS_KEY", &key)]);
    assert_serves_https(&proxy, &pki);

    // Flags, inline PEM, PKCS#1.
    let (cert, key) = (pki.pem("rsa.chain.pem"), pki.pem("rsa.pkcs1.key"));
    let proxy = Proxy::start(&fake, &["--tls-cert", &cert, "--tls-key", &key], &[]);
    assert_serves_https(&proxy, &pki);

    // COPILOT_API_ variables, a path and inline PEM, EC with a SEC1 key.
    let (cert, key) = (pki.arg("ec.chain.pem"), pki.pem("ec.sec1.key"));
    let mut proxy = Proxy::start(
        &fake,
        &[],
        &[
            ("COPILOT_API_TLS_CERT", &cert),
            ("COPILOT_API_TLS_KEY", &key),
        ],
    );
    assert_serves_https(&proxy, &pki);

    // A stream through the TLS front: each event arrives when it was sent.
    let agent = https_agent(&pki.path("root.pem"));
    let body = r#"{"model":"gpt-4.1","stream":true,"messages":[{"role":"user","content":"scenario:slow:100:8"}]}"#;
    let resp = agent
        .post(&format!(
            "https://127.0.0.1:{}/v1/chat/completions",
            port_of(&proxy)
        ))
        .header("content-type", "application/json")
        .send(body)
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut reader = std::io::BufReader::new(resp.into_body().into_reader());
    let (mut line, mut late_ms, mut seen) = (String::new(), Vec::new(), 0);
    while std::io::BufRead::read_line(&mut reader, &mut line).unwrap() > 0 {
        if let Some(sent) = line
            .split("\"fake_sent_us\":\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
        {
            let sent: u128 = sent.parse().unwrap();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_micros();
            late_ms.push(now.saturating_sub(sent) / 1000);
            seen += 1;
        }
        line.clear();
    }
    assert_eq!(seen, 8, "every event");
    assert!(
        late_ms.iter().all(|ms| *ms < 300),
        "latency per event over TLS (ms): {late_ms:?}"
    );

    // A client that does not trust the CA is refused the handshake.
    let stranger = https_agent(&pki.path("ec.pem"));
    let url = format!("https://127.0.0.1:{}/healthz", port_of(&proxy));
    assert!(stranger.get(&url).call().is_err());

    // Plain HTTP on the TLS port: a short 400 and a close, not a hung connection.
    let started = Instant::now();
    let answer = raw_request(
        &format!("127.0.0.1:{}", port_of(&proxy)),
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let resp = parse_raw(&answer);
    assert_eq!(resp.status, 400, "{answer}");
    assert!(resp.text().contains("https://"), "{answer}");
    // ...and the port still serves HTTPS afterwards.
    assert_eq!(
        https_agent(&pki.path("root.pem"))
            .get(&url)
            .call()
            .unwrap()
            .status(),
        200
    );

    // The graceful shutdown stops the TLS front too.
    proxy.signal("TERM");
    assert_eq!(proxy.wait_exit(Duration::from_secs(3)), Some(0));
}

#[test]
fn each_tls_misconfiguration_exits_1_at_once_with_one_line() {
    let pki = Pki::new();
    let home = TempDir::new();
    let (rsa_chain, rsa_key, ec_key) = (
        pki.arg("rsa.chain.pem"),
        pki.arg("rsa.pkcs8.key"),
        pki.arg("ec.sec1.key"),
    );
    let not_pem = home.path().join("not.pem");
    std::fs::write(&not_pem, "hello\n").unwrap();
    let not_pem = not_pem.display().to_string();
    // No GitHub token anywhere: were TLS checked after the login, these would fail with
    // "no GitHub token" instead.
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec![],
            vec![("TLS_CERT", &rsa_chain)],
            "TLS misconfiguration: TLS_CERT",
        ),
        (
            vec!["--tls-key", &rsa_key],
            vec![],
            "TLS misconfiguration: --tls-key",
        ),
        (
            vec![],
            vec![("TLS_CERT", "/nonexistent/cert.pem"), ("TLS_KEY", &rsa_key)],
            "TLS_CERT: cannot read /nonexistent/cert.pem",
        ),
        (
            vec![],
            vec![("TLS_CERT", &rsa_chain), ("TLS_KEY", &ec_key)],
            "TLS_KEY does not match the certificate in TLS_CERT",
        ),
        (
            vec![],
            vec![
                ("COPILOT_API_TLS_CERT", &not_pem),
                ("COPILOT_API_TLS_KEY", &rsa_key),
            ],
            "COPILOT_API_TLS_CERT: no certificate",
        ),
        (
            vec!["--tls-cert", &rsa_chain],
            vec![("TLS_KEY", &not_pem)],
            "TLS_KEY: no private key",
        ),
    ];
    for (args, env, expected) in cases {
        let mut all = vec!["start"];
        all.extend(args.iter().copied());
        let started = Instant::now();
        let (code, out, err) = run_cli(&all, &env, home.path());
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(code, 1, "{all:?} {env:?}: {out}{err}");
        assert_eq!(lines.len(), 1, "one line: {err}");
        assert!(lines[0].contains(expected), "{expected:?} in {err}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
}
