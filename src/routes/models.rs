//! `GET /v1/models` and `GET /v1/models/{id}`.

use crate::app::App;
use crate::http::ApiError;
use crate::http::{Incoming, Outgoing};
use crate::routes::codex_models;
use serde_json::{Value, json};

pub fn list(app: &App, rq: &Incoming) -> Result<Outgoing, ApiError> {
    if app.catalog.get().is_none() {
        app.refresh_catalog_if_stale();
    }
    let models = app
        .catalog
        .get()
        .ok_or_else(|| ApiError::NotReady("the model list is not loaded yet".into()))?;
    if codex_models::is_codex(rq) {
        return Ok(Outgoing::json(200, &codex_models::catalog(&models)));
    }
    let data: Vec<Value> = models.iter().map(|m| m.to_client_json()).collect();
    let (first, last) = (
        data.first().map(|m| m["id"].clone()),
        data.last().map(|m| m["id"].clone()),
    );
    Ok(Outgoing::json(
        200,
        &json!({"object": "list", "data": data, "has_more": false, "first_id": first, "last_id": last}),
    ))
}

pub fn one(app: &App, requested: &str) -> Result<Outgoing, ApiError> {
    match app.find_model(requested) {
        Some(m) => Ok(Outgoing::json(200, &m.to_client_json())),
        None => Err(ApiError::NotFound(format!(
            "model `{requested}` is not in the Copilot model list (GET /v1/models lists them; a model may need enabling in your Copilot settings)"
        ))),
    }
}
