//! `GET /dashboard`: the usage dashboard, one page embedded in the binary (HTML, script and
//! style served from here; no CDN, no external font, works offline). The page itself holds
//! no data and needs no key; it reads `GET /dashboard/data`, which requires the API key
//! when one is configured, every few seconds. Every value is inserted as text by the
//! script, and the Content-Security-Policy forbids any other origin and any inline script,
//! so even a hostile model name cannot become markup or reach another host.

use crate::app::App;
use crate::cli::VERSION;
use crate::http::Outgoing;
use serde_json::{Value, json};

const PAGE: &str = include_str!("dashboard/index.html");
const SCRIPT: &str = include_str!("dashboard/app.js");
const STYLE: &str = include_str!("dashboard/style.css");

/// Same origin only: the page's own script and style, fetches to this proxy alone.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The page and its two assets, by path.
pub fn asset(path: &str) -> Option<Outgoing> {
    let (body, content_type) = match path {
        "/dashboard" => (PAGE, "text/html; charset=utf-8"),
        "/dashboard/app.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "/dashboard/style.css" => (STYLE, "text/css; charset=utf-8"),
        _ => return None,
    };
    let mut out = Outgoing::bytes(200, content_type, body.as_bytes().to_vec());
    out.headers.extend([
        ("Content-Security-Policy".into(), CSP.into()),
        ("X-Content-Type-Options".into(), "nosniff".into()),
        ("Referrer-Policy".into(), "no-referrer".into()),
        ("Cache-Control".into(), "no-cache".into()),
    ]);
    Some(out)
}

/// `GET /dashboard/data`: Copilot's quota JSON (from the 30 s cache; an error is reported
/// beside the rest rather than failing it), the accounting and the limits.
pub fn data(app: &App) -> Outgoing {
    let (quota, quota_error) = match app.usage() {
        Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
            Ok(v) => (v, Value::Null),
            Err(_) => (Value::Null, json!("the usage answer is not JSON")),
        },
        Err(e) => (Value::Null, json!(e.to_string())),
    };
    let mut v = app.metrics.usage.to_json();
    v["version"] = json!(VERSION);
    v["quota"] = quota;
    v["quota_error"] = quota_error;
    let mut out = Outgoing::json(200, &v);
    out.headers
        .push(("Cache-Control".into(), "no-store".into()));
    out
}
