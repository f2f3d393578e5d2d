//! API keys and CORS: who may call the proxy.

use crate::http::Incoming;

/// The key the client presented, from `Authorization: Bearer K` or `x-api-key: K`.
fn presented(rq: &Incoming) -> impl Iterator<Item = &str> {
    let bearer = rq.header("authorization").and_then(|v| {
        let (scheme, rest) = v.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
    });
    bearer
        .into_iter()
        .chain(rq.header("x-api-key").map(str::trim))
}

/// True when no key is configured, or when the request carries one of the keys.
pub fn authorized(keys: &[String], rq: &Incoming) -> bool {
    keys.is_empty()
        || presented(rq).any(|p| {
            keys.iter()
                .any(|k| constant_time_eq(k.as_bytes(), p.as_bytes()))
        })
}

/// Compares without an early exit, so response timing does not reveal how much of a key
/// matched. (The length still shows; keys are not secret in length.)
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Routes anyone may call: the status text, liveness and readiness (load balancers,
/// orchestrators and `copilot-api health` probe them without a key; they reveal nothing
/// secret), and the dashboard page and assets (they hold no data; the page asks for the key
/// and sends it to `/dashboard/data`).
pub fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/" | "/healthz" | "/readyz" | "/dashboard" | "/dashboard/app.js" | "/dashboard/style.css"
    )
}

/// The CORS headers for this request's `Origin`, if that origin is allowed.
pub fn cors_headers(allowed: &[String], rq: &Incoming) -> Vec<(String, String)> {
    let Some(origin) = rq.header("origin") else {
        return Vec::new();
    };
    if !allowed.iter().any(|a| a == "*" || a == origin) {
        return Vec::new();
    }
    let mut h = vec![
        (
            "Access-Control-Allow-Origin".to_string(),
            origin.to_string(),
        ),
        ("Vary".to_string(), "Origin".to_string()),
    ];
    if rq.method == "OPTIONS" {
        let asked = rq
            .header("access-control-request-headers")
            .unwrap_or("authorization, content-type, x-api-key");
        h.push((
            "Access-Control-Allow-Methods".into(),
            "GET, POST, OPTIONS".into(),
        ));
        h.push(("Access-Control-Allow-Headers".into(), asked.to_string()));
        h.push(("Access-Control-Max-Age".into(), "600".into()));
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rq(headers: &[(&str, &str)]) -> Incoming {
        Incoming {
            method: "GET".into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Incoming::default()
        }
    }

    #[test]
    fn keys_by_bearer_or_x_api_key() {
        let keys = vec!["k1".to_string(), "k2".to_string()];
        assert!(authorized(&[], &rq(&[])));
        assert!(authorized(&keys, &rq(&[("authorization", "Bearer k2")])));
        assert!(authorized(&keys, &rq(&[("authorization", "bearer  k1 ")])));
        assert!(authorized(&keys, &rq(&[("x-api-key", "k1")])));
        assert!(!authorized(&keys, &rq(&[])));
        assert!(!authorized(&keys, &rq(&[("authorization", "Bearer k3")])));
        assert!(!authorized(&keys, &rq(&[("authorization", "k1")])));
        assert!(!authorized(&keys, &rq(&[("x-api-key", "k")])));
    }

    #[test]
    fn cors_only_for_allowed_origins() {
        let allowed = vec!["https://app.example".to_string()];
        assert!(cors_headers(&allowed, &rq(&[("origin", "https://evil.example")])).is_empty());
        assert!(cors_headers(&[], &rq(&[("origin", "https://app.example")])).is_empty());
        let h = cors_headers(&allowed, &rq(&[("origin", "https://app.example")]));
        assert_eq!(h[0].1, "https://app.example");
    }
}
