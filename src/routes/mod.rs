//! The route table: a plain `match` on method and path (query already stripped).

mod alpha_search;
mod chat;
mod codex_models;
mod compact;
mod count_tokens;
mod dashboard;
mod embeddings;
pub(crate) mod fields;
pub(crate) mod messages;
mod models;
mod ops;
pub(crate) mod pivot;
mod responses;
mod shapes;

pub(crate) use crate::streaming::streaming;

use crate::app::App;
use crate::http::{ApiError, Incoming, Outgoing};
use std::sync::Arc;

pub fn route(app: &Arc<App>, rq: &Incoming) -> Result<Outgoing, ApiError> {
    let result = dispatch(app, rq);
    if let Err(e) = &result {
        if names_a_model_problem(e) {
            // The catalog may be out of date (a model enabled, retired or moved to another
            // endpoint): refresh it now rather than in up to 30 minutes (DESIGN.md §3).
            app.refresh_catalog_if_stale();
        }
    }
    result
}

/// Copilot's answers that mean "this model is not what you think".
fn names_a_model_problem(e: &ApiError) -> bool {
    let ApiError::Upstream {
        status: 400 | 404,
        body,
        ..
    } = e
    else {
        return false;
    };
    let text = String::from_utf8_lossy(body);
    [
        "unsupported_api_for_model",
        "model_not_supported",
        "model_not_found",
    ]
    .iter()
    .any(|code| text.contains(code))
}

fn dispatch(app: &Arc<App>, rq: &Incoming) -> Result<Outgoing, ApiError> {
    let path = rq.path.as_str();
    match (rq.method.as_str(), path) {
        ("GET" | "HEAD", "/") => Ok(ops::root()),
        ("GET" | "HEAD", "/healthz") => Ok(ops::healthz()),
        ("GET" | "HEAD", "/readyz") => Ok(ops::readyz(app)),
        ("GET", "/v1/models" | "/models") => models::list(app, rq),
        ("GET", _) if model_id(path).is_some() => {
            models::one(app, model_id(path).unwrap_or_default())
        }
        ("POST", "/v1/chat/completions" | "/chat/completions") => chat::completions(app, rq),
        ("POST", "/v1/embeddings" | "/embeddings") => embeddings::create(app, rq),
        ("POST", "/v1/messages") => messages::create(app, rq),
        ("POST", "/v1/responses" | "/responses") => responses::create(app, rq),
        ("POST", "/v1/responses/compact" | "/responses/compact") => compact::create(app, rq),
        ("POST", "/v1/alpha/search" | "/alpha/search") => alpha_search::create(app, rq),
        ("POST", "/v1/messages/count_tokens") => count_tokens::count(app, rq),
        ("GET", "/usage") => ops::usage(app),
        ("GET", "/metrics") => Ok(Outgoing::bytes(
            200,
            "text/plain; version=0.0.4",
            app.metrics.render().into_bytes(),
        )),
        ("GET", "/token") if app.config.expose_token => ops::token(app),
        ("GET", "/dashboard/data") => Ok(dashboard::data(app)),
        ("GET", "/dashboard" | "/dashboard/app.js" | "/dashboard/style.css") => {
            dashboard::asset(path).ok_or_else(|| ApiError::NotFound(path.into()))
        }
        (_, _) => {
            match allowed_method(path).filter(|_| path != "/token" || app.config.expose_token) {
                Some(allowed) => Err(ApiError::MethodNotAllowed(allowed)),
                None => Err(ApiError::NotFound(format!(
                    "no route for {} {path}",
                    rq.method
                ))),
            }
        }
    }
}

/// `claude-opus-4.8` from `/v1/models/claude-opus-4.8` or `/models/claude-opus-4.8`.
fn model_id(path: &str) -> Option<&str> {
    path.strip_prefix("/v1/models/")
        .or_else(|| path.strip_prefix("/models/"))
        .filter(|id| !id.is_empty())
}

/// The method a known path takes, for a 405 on the others (`HEAD` goes with `GET`).
fn allowed_method(path: &str) -> Option<&'static str> {
    match FIXED_PATHS.iter().find(|(p, _)| *p == path) {
        Some((_, method)) => Some(method),
        None => model_id(path).map(|_| "GET"),
    }
}

/// The metrics label of every path that is not a route.
const OTHER: &str = "other";

/// Paths answered as they are, each with its method; each is its own metrics label.
/// `dispatch` is the route table; this list must name the same paths.
const FIXED_PATHS: [(&str, &str); 24] = [
    ("/", "GET"),
    ("/healthz", "GET"),
    ("/readyz", "GET"),
    ("/metrics", "GET"),
    ("/v1/models", "GET"),
    ("/models", "GET"),
    ("/usage", "GET"),
    ("/token", "GET"),
    ("/dashboard", "GET"),
    ("/dashboard/app.js", "GET"),
    ("/dashboard/style.css", "GET"),
    ("/dashboard/data", "GET"),
    ("/v1/chat/completions", "POST"),
    ("/chat/completions", "POST"),
    ("/v1/embeddings", "POST"),
    ("/embeddings", "POST"),
    ("/v1/messages", "POST"),
    ("/v1/messages/count_tokens", "POST"),
    ("/v1/responses", "POST"),
    ("/responses", "POST"),
    ("/v1/responses/compact", "POST"),
    ("/responses/compact", "POST"),
    ("/v1/alpha/search", "POST"),
    ("/alpha/search", "POST"),
];

/// The route a path belongs to, from a fixed set, for the metrics: a path with a
/// parameter is labelled by its pattern and every unknown path shares one label, so no
/// client (authenticated or not) can grow the number of series.
pub fn label(path: &str) -> &'static str {
    if let Some((fixed, _)) = FIXED_PATHS.iter().find(|(p, _)| *p == path) {
        return fixed;
    }
    match model_id(path) {
        Some(_) if path.starts_with("/v1/") => "/v1/models/{id}",
        Some(_) => "/models/{id}",
        None => OTHER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_problems_are_recognised() {
        let upstream = |status, body: &str| ApiError::Upstream {
            status,
            body: body.as_bytes().to_vec(),
            content_type: "application/json".into(),
            retry_after: None,
        };
        let unsupported = r#"{"error":{"message":"model x is not supported via /chat/completions","code":"unsupported_api_for_model"}}"#;
        assert!(names_a_model_problem(&upstream(400, unsupported)));
        assert!(names_a_model_problem(&upstream(
            404,
            r#"{"error":{"code":"model_not_found"}}"#
        )));
        assert!(!names_a_model_problem(&upstream(
            400,
            r#"{"error":{"code":"invalid_request_body"}}"#
        )));
        assert!(!names_a_model_problem(&upstream(500, unsupported)));
        assert!(!names_a_model_problem(&ApiError::Unauthorized));
    }

    #[test]
    fn labels_come_from_a_fixed_set() {
        assert_eq!(label("/v1/models/gpt-4.1"), "/v1/models/{id}");
        assert_eq!(label("/models/x"), "/models/{id}");
        assert_eq!(label("/v1/models/"), OTHER);
        assert_eq!(label("/v1/messages"), "/v1/messages");
        assert_eq!(label("/wp-admin"), OTHER);
        assert_eq!(label("/nope"), OTHER);
    }

    #[test]
    fn each_known_path_names_its_method() {
        for (path, want) in [
            ("/", Some("GET")),
            ("/metrics", Some("GET")),
            ("/v1/models/gpt-4.1", Some("GET")),
            ("/models/x", Some("GET")),
            ("/v1/messages", Some("POST")),
            ("/chat/completions", Some("POST")),
            ("/v1/messages/count_tokens", Some("POST")),
            ("/v1/models/", None),
            ("/nope", None),
        ] {
            assert_eq!(allowed_method(path), want, "{path}");
        }
    }
}
