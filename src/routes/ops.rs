//! Operational routes: status text, liveness, readiness, usage and the opt-in token route.

use crate::app::App;
use crate::cli::VERSION;
use crate::http::ApiError;
use crate::http::Outgoing;
use serde_json::json;
use std::time::UNIX_EPOCH;

pub fn root() -> Outgoing {
    Outgoing::text(
        200,
        &format!("Server running (copilot-api {VERSION}). Models: GET /v1/models\n"),
    )
}

/// Liveness: the process answers. No auth, no upstream.
pub fn healthz() -> Outgoing {
    Outgoing::text(200, "ok\n")
}

/// Readiness: 200 only while a valid Copilot token and a model list are held, and not
/// once a shutdown has begun (so a load balancer stops sending new work at once).
pub fn readyz(app: &App) -> Outgoing {
    let (token, last_error) = app.upstream.tokens.health();
    let models = app.catalog.get().map_or(0, |m| m.len());
    let shutting_down = app.draining.load(std::sync::atomic::Ordering::Acquire);
    let ready = token && models > 0 && !shutting_down;
    let body = json!({
        "ready": ready,
        "shutting_down": shutting_down,
        "copilot_token": token,
        "models": models,
        "last_token_error": last_error,
    });
    Outgoing::json(if ready { 200 } else { 503 }, &body)
}

pub fn usage(app: &App) -> Result<Outgoing, ApiError> {
    Ok(Outgoing::bytes(200, "application/json", app.usage()?))
}

/// Only routed with `--expose-token` (which requires an API key).
pub fn token(app: &App) -> Result<Outgoing, ApiError> {
    let t = app
        .upstream
        .tokens
        .get(&app.upstream.http)
        .map_err(|e| ApiError::NotReady(e.message().to_string()))?;
    let expires_at = t
        .expires
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Ok(Outgoing::json(
        200,
        &json!({"token": t.value, "expires_at": expires_at}),
    ))
}
