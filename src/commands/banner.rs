//! The start-up banner: where the proxy listens, the dashboard, and the two lines most
//! users need next (Claude Code's variables, Codex's provider), with no secret in them.

use std::net::SocketAddr;

/// The URL clients use: a wildcard bind is reached on loopback from this machine.
pub fn base_url(scheme: &str, bound: SocketAddr) -> String {
    let ip = bound.ip();
    let host = if ip.is_unspecified() {
        "127.0.0.1".to_string()
    } else if ip.is_ipv6() {
        format!("[{ip}]")
    } else {
        ip.to_string()
    };
    format!("{scheme}://{host}:{}", bound.port())
}

/// The lines printed after `listening on ...`.
pub fn lines(base: &str, has_key: bool) -> Vec<String> {
    let token = if has_key { "<your API key>" } else { "dummy" };
    vec![
        format!("base URL: {base} (OpenAI: {base}/v1, Anthropic: {base})"),
        format!("dashboard: {base}/dashboard"),
        format!(
            "Claude Code: ANTHROPIC_BASE_URL={base} ANTHROPIC_AUTH_TOKEN={token} claude   (pick models: copilot-api setup claude-code)"
        ),
        format!(
            "Codex: codex -c model_provider=copilot-api -c 'model_providers.copilot-api={{name=\"copilot-api\",base_url=\"{base}/v1\",wire_api=\"responses\",env_key=\"COPILOT_API_KEY\"}}'   (or: copilot-api setup codex --write)"
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banner_names_urls_and_never_a_key() {
        assert_eq!(
            base_url("http", "0.0.0.0:4141".parse().unwrap()),
            "http://127.0.0.1:4141"
        );
        assert_eq!(
            base_url("https", "[::1]:8080".parse().unwrap()),
            "https://[::1]:8080"
        );
        let l = lines("http://127.0.0.1:4141", true);
        assert_eq!(l[1], "dashboard: http://127.0.0.1:4141/dashboard");
        assert!(l[2].contains("ANTHROPIC_AUTH_TOKEN=<your API key>"));
        assert!(l[3].contains("base_url=\"http://127.0.0.1:4141/v1\""));
        assert!(lines("http://h:1", false)[2].contains("ANTHROPIC_AUTH_TOKEN=dummy"));
    }
}
