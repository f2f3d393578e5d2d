//! The third-party search APIs, exactly as reference/platform.md §9.4 calls them: Tavily
//! (`POST /search`, bearer key, JSON body) and Brave (`GET /res/v1/web/search`,
//! `X-Subscription-Token`). One attempt each, within the configured timeout (5 s).

use super::{SearchError, SearchQuery, SearchResult};
use crate::config::web_search::Settings;
use crate::upstream::client::{Http, Reply};
use serde_json::{Value, json};

/// Tavily: `{"query", "max_results"}` plus `include_domains` / `exclude_domains` when the
/// client's tool names them.
pub fn tavily(
    http: &Http,
    s: &Settings,
    q: &SearchQuery,
) -> Result<Vec<SearchResult>, SearchError> {
    let key = s
        .tavily_key
        .as_deref()
        .ok_or(SearchError::NoKey("TAVILY_API_KEY"))?;
    let mut body = json!({"query": q.query, "max_results": q.max_results});
    if !q.allowed_domains.is_empty() {
        body["include_domains"] = json!(q.allowed_domains);
    }
    if !q.blocked_domains.is_empty() {
        body["exclude_domains"] = json!(q.blocked_domains);
    }
    let headers = [
        ("content-type", "application/json".to_string()),
        ("accept", "application/json".to_string()),
        ("authorization", format!("Bearer {key}")),
    ];
    let url = format!("{}/search", s.tavily_base);
    let payload = body.to_string();
    let reply = http
        .call_within("POST", &url, &headers, Some(payload.as_bytes()), s.timeout)
        .map_err(SearchError::from_net)?;
    let v = json_answer(reply)?;
    Ok(collect(&v["results"], "content", q.max_results))
}

/// Brave: `?q=…&count=N`, the domain filters as `site:` / `-site:` terms of the query.
/// `Accept-Encoding: gzip` (which the reference sends) is left out: this build's HTTP client
/// does not decompress, and Brave would then answer with bytes we cannot read.
pub fn brave(http: &Http, s: &Settings, q: &SearchQuery) -> Result<Vec<SearchResult>, SearchError> {
    let key = s
        .brave_key
        .as_deref()
        .ok_or(SearchError::NoKey("BRAVE_API_KEY"))?;
    let url = format!(
        "{}/res/v1/web/search?q={}&count={}",
        s.brave_base,
        percent_encode(&brave_query(q)),
        q.max_results
    );
    let headers = [
        ("accept", "application/json".to_string()),
        ("x-subscription-token", key.to_string()),
    ];
    let reply = http
        .call_within("GET", &url, &headers, None, s.timeout)
        .map_err(SearchError::from_net)?;
    let v = json_answer(reply)?;
    Ok(collect(&v["web"]["results"], "description", q.max_results))
}

/// The query with Brave's search operators for the domain filters.
fn brave_query(q: &SearchQuery) -> String {
    let mut text = q.query.clone();
    match q.allowed_domains.as_slice() {
        [] => {}
        [one] => text.push_str(&format!(" site:{one}")),
        many => {
            let sites: Vec<String> = many.iter().map(|d| format!("site:{d}")).collect();
            text.push_str(&format!(" ({})", sites.join(" OR ")));
        }
    }
    for d in &q.blocked_domains {
        text.push_str(&format!(" -site:{d}"));
    }
    text
}

fn json_answer(reply: Reply) -> Result<Value, SearchError> {
    if !(200..300).contains(&reply.status) {
        return Err(SearchError::Http(reply.status));
    }
    serde_json::from_slice(&reply.body)
        .map_err(|_| SearchError::BadAnswer("the provider's answer is not JSON".into()))
}

/// `[{title, url, <snippet_key>, page_age?}]` as results, at most `max`.
fn collect(list: &Value, snippet_key: &str, max: usize) -> Vec<SearchResult> {
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    list.as_array()
        .into_iter()
        .flatten()
        .filter(|r| r.get("url").and_then(Value::as_str).is_some())
        .take(max)
        .map(|r| SearchResult {
            url: text(r, "url"),
            title: text(r, "title"),
            snippet: text(r, snippet_key),
            page_age: ["page_age", "published_date", "age"]
                .iter()
                .find_map(|k| r.get(*k).and_then(Value::as_str))
                .map(str::to_string),
        })
        .collect()
}

/// RFC 3986 percent-encoding of a query value (unreserved characters kept).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brave_query_carries_domain_filters() {
        let mut q = SearchQuery {
            query: "rust news".into(),
            max_results: 5,
            allowed_domains: vec!["a.com".into()],
            blocked_domains: vec!["b.com".into()],
        };
        assert_eq!(brave_query(&q), "rust news site:a.com -site:b.com");
        q.allowed_domains.push("c.org".into());
        q.blocked_domains.clear();
        assert_eq!(brave_query(&q), "rust news (site:a.com OR site:c.org)");
        assert_eq!(percent_encode("a b&c=é"), "a%20b%26c%3D%C3%A9");
    }

    #[test]
    fn results_are_capped_and_need_a_url() {
        let list = json!([
            {"title": "A", "url": "https://a", "content": "x", "published_date": "2026-01-01"},
            {"title": "no url"},
            {"title": "B", "url": "https://b"},
            {"title": "C", "url": "https://c", "content": "z"}
        ]);
        let got = collect(&list, "content", 2);
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].snippet.as_str(), got[0].page_age.as_deref()),
            ("x", Some("2026-01-01"))
        );
        assert_eq!(
            (got[1].url.as_str(), got[1].snippet.as_str()),
            ("https://b", "")
        );
    }
}
