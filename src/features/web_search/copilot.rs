//! Copilot's own web search, which needs no third-party key: a non-streaming `POST
//! /responses` with the hosted `{"type":"web_search"}` tool on a model served there
//! (reference/peers-2026-12.md U8 a), sent as the agent's request. The results are the
//! `url_citation` annotations of its answer (url, title) with the cited sentence as the
//! snippet.

use super::{SearchError, SearchQuery, SearchResult};
use crate::app::App;
use crate::config::web_search::Settings;
use crate::upstream::catalog::Model;
use serde_json::{Value, json};

const INSTRUCTIONS: &str = "You are a web search engine. Search the web for the user's query and \
     answer with a short factual summary of the most relevant sources, citing every source you use.";

pub fn search(app: &App, s: &Settings, q: &SearchQuery) -> Result<Vec<SearchResult>, SearchError> {
    let model = search_model(app, s)?;
    let mut input = q.query.clone();
    if !q.allowed_domains.is_empty() {
        input.push_str(&format!(
            "\n(Only use results from: {})",
            q.allowed_domains.join(", ")
        ));
    }
    if !q.blocked_domains.is_empty() {
        input.push_str(&format!(
            "\n(Never use results from: {})",
            q.blocked_domains.join(", ")
        ));
    }
    let body = json!({
        "model": model,
        "instructions": INSTRUCTIONS,
        "input": input,
        "tools": [{"type": "web_search"}],
        "stream": false,
        "store": false,
    });
    let payload = body.to_string();
    let extra = [("x-initiator", "agent".to_string())];
    let opened = app
        .upstream
        .post("/responses", payload.as_bytes(), &extra, &app.metrics)
        .map_err(crate::http::ApiError::from)
        .map_err(|e| match e.status() {
            504 => SearchError::Timeout,
            status if status < 500 || status == 502 => {
                SearchError::Upstream(format!("Copilot search on {model}: {e}"))
            }
            _ => SearchError::Upstream(e.to_string()),
        })?;
    let bytes = opened
        .read_all()
        .map_err(|e| SearchError::Upstream(crate::http::ApiError::from(e).to_string()))?;
    let v: Value = serde_json::from_slice(&bytes)
        .map_err(|_| SearchError::BadAnswer("Copilot's search answer is not JSON".into()))?;
    Ok(citations(&v, q.max_results))
}

/// `--web-search-model`, else the catalog model on `/responses` with the lowest premium
/// multiplier (ties: catalog order).
fn search_model(app: &App, s: &Settings) -> Result<String, SearchError> {
    if let Some(m) = &s.model {
        return Ok(m.clone());
    }
    if app.catalog.get().is_none() {
        app.refresh_catalog_if_stale();
    }
    let models = app.catalog.get().unwrap_or_default();
    cheapest_responses_model(&models)
        .map(|m| m.id.clone())
        .ok_or(SearchError::NoModel)
}

pub fn cheapest_responses_model(models: &[Model]) -> Option<&Model> {
    models
        .iter()
        .filter(|m| m.supports("/responses") && m.kind == "chat")
        .min_by(|a, b| {
            let cost = |m: &Model| m.multiplier.unwrap_or(1.0);
            cost(a).total_cmp(&cost(b))
        })
}

/// The answer's `url_citation` annotations, one result per url (first title wins), the
/// sentence each cites as its snippet (several cited sentences joined).
fn citations(response: &Value, max: usize) -> Vec<SearchResult> {
    let mut out: Vec<SearchResult> = Vec::new();
    let parts = response["output"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|item| item["type"] == "message")
        .flat_map(|item| item["content"].as_array().into_iter().flatten());
    for part in parts {
        let text = part["text"].as_str().unwrap_or("");
        // The sentence a citation cites starts after the previous citation's marker.
        let mut ends: Vec<usize> = Vec::new();
        for a in part["annotations"].as_array().into_iter().flatten() {
            if a["type"] != "url_citation" {
                continue;
            }
            let Some(url) = a["url"].as_str() else {
                continue;
            };
            let start = a["start_index"].as_u64().unwrap_or(0) as usize;
            let end = a["end_index"].as_u64().unwrap_or(0) as usize;
            let floor = ends.iter().copied().filter(|e| *e <= start).max();
            let snippet = cited_sentence(text, floor.unwrap_or(0), start, end);
            ends.push(end);
            match out.iter_mut().find(|r| r.url == url) {
                Some(r) => {
                    if !snippet.is_empty() && !r.snippet.contains(&snippet) {
                        if !r.snippet.is_empty() {
                            r.snippet.push(' ');
                        }
                        r.snippet.push_str(&snippet);
                    }
                }
                None => out.push(SearchResult {
                    url: url.to_string(),
                    title: a["title"].as_str().unwrap_or(url).to_string(),
                    snippet,
                    page_age: None,
                }),
            }
        }
    }
    out.truncate(max);
    out
}

/// The sentence before a citation marker at `start..end` (character offsets, as OpenAI
/// counts them), not reaching back before `floor`; the marker's own text when nothing
/// precedes it.
fn cited_sentence(text: &str, floor: usize, start: usize, end: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    let start = start.min(chars.len());
    let end = end.clamp(start, chars.len());
    let before: String = chars[floor.min(start)..start].iter().collect();
    let trimmed = before.trim_end_matches([' ', '(', '[']);
    // A sentence ends at `.`, `!` or `?` followed by white space (not `1.90`), or a line.
    let body = trimmed.trim_end_matches(['.', '!', '?']);
    let from = body
        .char_indices()
        .zip(body.chars().skip(1).chain([' ']))
        .filter(|((_, c), next)| {
            *c == '\n' || (matches!(c, '.' | '!' | '?') && next.is_whitespace())
        })
        .last()
        .map_or(0, |((i, _), _)| i + 1);
    let sentence = trimmed[from..].trim();
    if sentence.is_empty() {
        chars[start..end]
            .iter()
            .collect::<String>()
            .trim()
            .to_string()
    } else {
        sentence.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_citations_become_results_with_their_sentence() {
        let text = "Intro line.\nRust 1.90 shipped in September. ([blog.rust-lang.org](https://blog.rust-lang.org/x)) It is fast. ([a.com](https://a.com/))";
        let at = |needle: &str| {
            text.chars().count() - text[text.find(needle).unwrap()..].chars().count()
        };
        let (s1, e1) = (at("([blog"), at(" It is"));
        let (s2, e2) = (at("([a.com"), text.chars().count());
        let response = json!({"output": [
            {"type": "web_search_call", "status": "completed"},
            {"type": "message", "content": [{"type": "output_text", "text": text, "annotations": [
                {"type": "url_citation", "url": "https://blog.rust-lang.org/x", "title": "Rust Blog", "start_index": s1, "end_index": e1},
                {"type": "url_citation", "url": "https://a.com/", "title": "A", "start_index": s2, "end_index": e2},
                {"type": "url_citation", "url": "https://a.com/", "title": "A again", "start_index": s2, "end_index": e2}
            ]}]}
        ]});
        let got = citations(&response, 5);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].title, "Rust Blog");
        assert_eq!(got[0].snippet, "Rust 1.90 shipped in September.");
        assert_eq!(
            (got[1].title.as_str(), got[1].snippet.as_str()),
            ("A", "It is fast.")
        );
        assert_eq!(citations(&response, 1).len(), 1);
    }

    #[test]
    fn the_cheapest_responses_model_is_chosen() {
        let m = |id: &str, ep: &[&str], mult: Option<f64>| {
            let mut v = json!({"id": id, "supported_endpoints": ep});
            if let Some(x) = mult {
                v["billing"] = json!({"multiplier": x});
            }
            Model::from_upstream(&v).unwrap()
        };
        let models = vec![
            m("gpt-5.2-codex", &["/responses"], Some(1.0)),
            m("gpt-4.1", &["/chat/completions"], Some(0.0)),
            m(
                "gpt-5-mini",
                &["/chat/completions", "/responses"],
                Some(0.0),
            ),
        ];
        assert_eq!(cheapest_responses_model(&models).unwrap().id, "gpt-5-mini");
        assert!(cheapest_responses_model(&models[1..2]).is_none());
    }
}
