//! The opening handshake of RFC 6455 §4.2 on top of our listener: which requests are upgrade
//! attempts, what makes one valid, and the `Sec-WebSocket-Accept` of the 101 answer.
//!
//! tungstenite's own handshake would read the request head itself; the listener has already
//! parsed it, so we check the few headers that matter and compute the accept key here
//! (SHA-1 over 60 bytes, then base64; a dependency for that would outweigh the code).

/// The GUID of RFC 6455 §1.3 appended to the client's key.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The paths Codex opens its Responses WebSocket on (`{base_url}/responses`, with the base
/// URL with or without `/v1`; codex-rs/codex-api/src/endpoint/responses_websocket.rs).
pub fn is_responses_path(path: &str) -> bool {
    matches!(path, "/v1/responses" | "/responses")
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The `Sec-WebSocket-Accept` value for a valid handshake, or what is wrong with it.
pub fn accept_key(method: &str, headers: &[(String, String)]) -> Result<String, String> {
    if method != "GET" {
        return Err("a WebSocket handshake must be a GET".into());
    }
    let connection_upgrade = header(headers, "connection").is_some_and(|c| {
        c.split(',')
            .any(|p| p.trim().eq_ignore_ascii_case("upgrade"))
    });
    if !connection_upgrade {
        return Err("a WebSocket handshake needs `Connection: Upgrade`".into());
    }
    if header(headers, "sec-websocket-version").map(str::trim) != Some("13") {
        return Err("only WebSocket version 13 is supported (Sec-WebSocket-Version: 13)".into());
    }
    let key = header(headers, "sec-websocket-key")
        .map(str::trim)
        .ok_or("the handshake has no Sec-WebSocket-Key")?;
    // The key is 16 random bytes in base64: 22 characters and `==`.
    let well_formed = key.len() == 24
        && key.ends_with("==")
        && key[..22]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
    if !well_formed {
        return Err("Sec-WebSocket-Key is not 16 bytes in base64".into());
    }
    Ok(crate::base64::encode(&sha1(
        format!("{key}{GUID}").as_bytes(),
    )))
}

/// SHA-1 (FIPS 180-4). Used only for the handshake's accept key, where RFC 6455 fixes it.
fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    let mut message = data.to_vec();
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in message.chunks(64) {
        let mut w = [0u32; 80];
        for (i, word) in block.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A827999),
                20..=39 => (b ^ c ^ d, 0x6ED9EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                _ => (b ^ c ^ d, 0xCA62C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            (e, d, c, b, a) = (d, c, b.rotate_left(30), a, t);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 20];
    for (i, word) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&word.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn sha1_known_answers() {
        let hex = |b: [u8; 20]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(hex(sha1(b"")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(
            hex(sha1(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        let long = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        assert_eq!(hex(sha1(long)), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    }

    #[test]
    fn the_rfc_6455_example_handshake() {
        let ok = headers(&[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-version", "13"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ]);
        assert_eq!(
            accept_key("GET", &ok).unwrap(),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert!(accept_key("POST", &ok).is_err());
        for (drop, replace) in [
            ("sec-websocket-key", None),
            ("sec-websocket-key", Some("short")),
            ("sec-websocket-version", Some("8")),
            ("connection", Some("keep-alive")),
        ] {
            let mut h: Vec<(String, String)> =
                ok.iter().filter(|(k, _)| k != drop).cloned().collect();
            if let Some(v) = replace {
                h.push((drop.to_string(), v.to_string()));
            }
            assert!(accept_key("GET", &h).is_err(), "{drop} {replace:?}");
        }
    }
}
