//! `POST /v1/alpha/search`: Codex's standalone `web.run` tool, which it calls for models
//! that use it (Responses-Lite models, or `supports_standalone_web_search`). The request and
//! answer shapes are `SearchRequest` / `SearchResponse` of codex-rs/codex-api/src/search.rs
//! (`{id, model, commands: {search_query, open, find, …}, settings, …}` in,
//! `{"output": "…"}` out). The searches run on the web-search providers of
//! `features::web_search` (Tavily, Brave or Copilot's own search).
//!
//! What a text search provider can do is done: `search_query` (recency is not offered by
//! the providers and is ignored), `open` and `find` on a result's URL (from what the
//! search returns for it; pages are not fetched), `time`. The other commands (images,
//! clicks, screenshots, finance, weather, sports) are answered in the output with a line
//! saying they are not available here, never with an error status.

use crate::app::App;
use crate::features::web_search::{self, SearchQuery, SearchResult};
use crate::http::{ApiError, Incoming, Outgoing};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// A provider search: the query in, results or what went wrong (shown to the model) out.
type Run<'a> = &'a dyn Fn(&SearchQuery) -> Result<Vec<SearchResult>, String>;

/// `POST /v1/alpha/search`.
pub fn create(app: &Arc<App>, rq: &Incoming) -> Result<Outgoing, ApiError> {
    let body = rq.json_object()?;
    let run = |q: &SearchQuery| web_search::search(app, q).map_err(|e| e.to_string());
    let mut out = Outgoing::json(200, &answer(&body, &run)?);
    out.model = body
        .get("model")
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(out)
}

/// Commands Codex may send that a text search provider cannot serve.
const UNSUPPORTED: [&str; 6] = [
    "image_query",
    "click",
    "screenshot",
    "finance",
    "weather",
    "sports",
];

/// Runs every command of the request with `run` and writes the tool's text output.
pub fn answer(body: &Map<String, Value>, run: Run) -> Result<Value, ApiError> {
    let commands = match body.get("commands") {
        Some(Value::Object(c)) => c,
        Some(_) => return Err(bad("`commands` must be an object")),
        None => return Err(bad("`commands` is required")),
    };
    let settings = body.get("settings").cloned().unwrap_or(Value::Null);
    let max_results = result_count(commands, &settings);
    let filter =
        |key: &str| -> Vec<String> { strings(settings.pointer(&format!("/filters/{key}"))) };
    let (allowed, blocked) = (filter("allowed_domains"), filter("blocked_domains"));
    let mut sections = Vec::new();
    for q in list(commands, "search_query")? {
        let query = q
            .get("q")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("each `search_query` needs a `q`"))?;
        if query.trim().is_empty() {
            // What Codex's tool description tells the model to send after calling the tool
            // by accident.
            sections.push("## search_query: (empty)\nNothing searched.".to_string());
            continue;
        }
        let mut allowed_domains = allowed.clone();
        allowed_domains.extend(strings(q.get("domains")));
        let ask = SearchQuery {
            query: query.to_string(),
            max_results,
            allowed_domains,
            blocked_domains: blocked.clone(),
        };
        sections.push(match run(&ask) {
            Ok(hits) => render_search(query, &hits),
            Err(e) => format!("## search_query: {query}\nThe search failed: {e}"),
        });
    }
    for op in list(commands, "open")? {
        let target = ref_id(op)?;
        sections.push(open(target, None, run, max_results));
    }
    for op in list(commands, "find")? {
        let target = ref_id(op)?;
        let pattern = op
            .get("pattern")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("each `find` needs a `pattern`"))?;
        sections.push(open(target, Some(pattern), run, max_results));
    }
    for op in list(commands, "time")? {
        let offset = op.get("utc_offset").and_then(Value::as_str).unwrap_or("");
        sections.push(time_at(offset));
    }
    for name in UNSUPPORTED {
        if commands.get(name).is_some_and(|v| !v.is_null()) {
            sections.push(format!(
                "## {name}\nNot available: this proxy's web search provider offers text search only."
            ));
        }
    }
    if sections.is_empty() {
        return Err(bad("`commands` holds no command to run"));
    }
    Ok(json!({"output": sections.join("\n\n")}))
}

fn bad(message: &str) -> ApiError {
    ApiError::BadRequest(message.to_string())
}

fn list<'a>(commands: &'a Map<String, Value>, name: &str) -> Result<&'a [Value], ApiError> {
    match commands.get(name) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) if items.iter().all(Value::is_object) => Ok(items),
        Some(_) => Err(bad(&format!(
            "`commands.{name}` must be an array of objects"
        ))),
    }
}

fn ref_id(op: &Value) -> Result<&str, ApiError> {
    op.get("ref_id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad("`open` and `find` need a `ref_id`"))
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// `response_length` (short, medium, long) or `settings.search_context_size` (low, medium,
/// high) as a number of results per query.
fn result_count(commands: &Map<String, Value>, settings: &Value) -> usize {
    let size = commands
        .get("response_length")
        .and_then(Value::as_str)
        .or_else(|| settings.get("search_context_size").and_then(Value::as_str));
    match size {
        Some("short" | "low") => 3,
        Some("long" | "high") => 10,
        _ => 5,
    }
}

fn render_search(query: &str, hits: &[SearchResult]) -> String {
    let mut out = format!("## search_query: {query}\n");
    if hits.is_empty() {
        out.push_str("No results.");
        return out;
    }
    for (i, hit) in hits.iter().enumerate() {
        out.push_str(&render_hit(i + 1, hit));
    }
    out.trim_end().to_string()
}

fn render_hit(n: usize, hit: &SearchResult) -> String {
    let age = hit
        .page_age
        .as_deref()
        .map(|a| format!(" (published {a})"))
        .unwrap_or_default();
    format!(
        "[{n}] {}\nref_id: {}{age}\n{}\n\n",
        hit.title,
        hit.url,
        hit.snippet.trim()
    )
}

/// `open` (and `find` with a pattern) on a result: the providers serve search results, not
/// pages, so the result for that URL is looked up again and its text shown (or searched).
fn open(target: &str, pattern: Option<&str>, run: Run, max_results: usize) -> String {
    let verb = if pattern.is_some() { "find" } else { "open" };
    let head = format!("## {verb}: {target}\n");
    if !target.starts_with("http://") && !target.starts_with("https://") {
        return format!(
            "{head}Not available: `ref_id` must be the URL of a result (the ref_id line of each result)."
        );
    }
    let domain = target
        .split("//")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
        .to_string();
    let ask = SearchQuery {
        query: target.to_string(),
        max_results,
        allowed_domains: vec![domain],
        blocked_domains: Vec::new(),
    };
    let hits = match run(&ask) {
        Ok(hits) => hits,
        Err(e) => return format!("{head}The lookup failed: {e}"),
    };
    let Some(hit) = hits
        .iter()
        .find(|h| h.url.trim_end_matches('/') == target.trim_end_matches('/'))
        .or_else(|| hits.first())
    else {
        return format!("{head}Nothing found for this URL.");
    };
    let Some(pattern) = pattern else {
        return format!(
            "{head}{}(The text is what the search provider returns for the page, not the whole page.)",
            render_hit(1, hit)
        );
    };
    let needle = pattern.to_lowercase();
    let lines: Vec<&str> = hit
        .snippet
        .lines()
        .filter(|l| l.to_lowercase().contains(&needle))
        .collect();
    if lines.is_empty() {
        format!("{head}`{pattern}` does not occur in what the provider returns for this page.")
    } else {
        format!("{head}{}", lines.join("\n"))
    }
}

/// `time`: the current time at a UTC offset such as `+03:00`.
fn time_at(offset: &str) -> String {
    let parsed = offset
        .strip_prefix(['+', '-'])
        .and_then(|rest| rest.split_once(':'))
        .and_then(|(h, m)| Some((h.parse::<i64>().ok()?, m.parse::<i64>().ok()?)))
        .filter(|(h, m)| *h <= 14 && *m < 60);
    let Some((h, m)) = parsed else {
        return format!("## time: {offset}\nNot a UTC offset like +03:00.");
    };
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let local = now + sign * (h * 3600 + m * 60);
    let (days, secs) = (local.div_euclid(86_400), local.rem_euclid(86_400));
    let (y, mo, d) = civil_from_days(days);
    format!(
        "## time: {offset}\n{y:04}-{mo:02}-{d:02} {:02}:{:02}:{:02} (UTC{offset})",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    fn hit(url: &str, snippet: &str) -> SearchResult {
        SearchResult {
            url: url.into(),
            title: format!("Title of {url}"),
            snippet: snippet.into(),
            page_age: Some("2026-11-30".into()),
        }
    }

    #[test]
    fn queries_open_find_time_and_unsupported_commands() {
        let asked = RefCell::new(Vec::new());
        let run = |a: &SearchQuery| -> Result<Vec<SearchResult>, String> {
            asked.borrow_mut().push(a.clone());
            if a.query == "broken" {
                return Err("TAVILY_API_KEY is not set".into());
            }
            Ok(vec![hit(
                "https://rust-lang.org/",
                "Rust 1.99 released\nFaster builds",
            )])
        };
        let body = json!({
            "id": "s1", "model": "gpt-5.6-lite",
            "commands": {
                "search_query": [{"q": "rust release", "domains": ["rust-lang.org"]}, {"q": "broken"},
                                 {"q": ""}],
                "open": [{"ref_id": "https://rust-lang.org"}, {"ref_id": "turn0search0"}],
                "find": [{"ref_id": "https://rust-lang.org/", "pattern": "faster"}],
                "time": [{"utc_offset": "+02:00"}],
                "weather": [{"location": "France, Paris"}],
                "response_length": "short"
            },
            "settings": {"filters": {"blocked_domains": ["spam.example"]}}
        });
        let out = answer(body.as_object().unwrap(), &run).unwrap();
        let text = out["output"].as_str().unwrap();
        assert!(
            text.contains("## search_query: rust release\n[1] Title of https://rust-lang.org/")
        );
        assert!(text.contains("ref_id: https://rust-lang.org/ (published 2026-11-30)"));
        assert!(text.contains("The search failed: TAVILY_API_KEY is not set"));
        assert!(text.contains("## search_query: (empty)\nNothing searched."));
        assert!(text.contains("## open: https://rust-lang.org\n[1]"));
        assert!(text.contains("## open: turn0search0\nNot available"));
        assert!(text.contains("## find: https://rust-lang.org/\nFaster builds"));
        assert!(text.contains("## time: +02:00\n20"));
        assert!(text.contains("## weather\nNot available"));
        let asked = asked.borrow();
        assert_eq!(asked[0].max_results, 3);
        assert_eq!(asked[0].allowed_domains, ["rust-lang.org"]);
        assert_eq!(asked[0].blocked_domains, ["spam.example"]);
        assert_eq!(asked[2].allowed_domains, ["rust-lang.org"]);
    }

    #[test]
    fn malformed_requests_are_400s() {
        let run = |_: &SearchQuery| -> Result<Vec<SearchResult>, String> { Ok(Vec::new()) };
        for body in [
            json!({}),
            json!({"commands": []}),
            json!({"commands": {}}),
            json!({"commands": {"search_query": [{"query": "x"}]}}),
            json!({"commands": {"search_query": "x"}}),
            json!({"commands": {"find": [{"ref_id": "https://a"}]}}),
        ] {
            let e = answer(body.as_object().unwrap(), &run).unwrap_err();
            assert_eq!(e.status(), 400, "{body}");
        }
    }

    #[test]
    fn calendar_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_791), (2026, 12, 4));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
