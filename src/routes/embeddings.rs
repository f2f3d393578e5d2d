//! `POST /v1/embeddings`: pass-through with the model id resolved. Copilot's answer is
//! returned as it is, so `encoding_format: base64` and `dimensions` work as upstream does.

use crate::app::App;
use crate::http::ApiError;
use crate::http::{Incoming, Outgoing};
use crate::routes::fields;
use serde_json::Value;

pub fn create(app: &App, rq: &Incoming) -> Result<Outgoing, ApiError> {
    let mut body = rq.json_object()?;
    let requested = fields::model(&body)?;
    super::shapes::embeddings(&body)?;
    match body.get("input") {
        Some(Value::String(_)) => {}
        Some(Value::Array(a)) if !a.is_empty() => {}
        Some(_) => {
            return Err(ApiError::BadRequest(
                "`input` must be a string or a non-empty array".into(),
            ));
        }
        None => return Err(ApiError::BadRequest("`input` is required".into())),
    }
    fields::optional_types(&body, &[("dimensions", fields::Kind::Integer)])?;
    if let Some(m) = app.find_model(&requested) {
        body.insert("model".into(), Value::from(m.id));
    }
    let payload = serde_json::to_vec(&body).map_err(|e| ApiError::Internal(e.to_string()))?;
    let bytes = app
        .upstream
        .post("/embeddings", &payload, &[], &app.metrics)?
        .read_all()?;
    let mut out = Outgoing::bytes(200, "application/json", bytes);
    out.model = Some(requested);
    Ok(out)
}
