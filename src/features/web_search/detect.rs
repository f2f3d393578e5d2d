//! When a Messages request asks for web search, and how the request is changed so that
//! the proxy can serve it: the server tool (any dated `web_search_*` version) or, with
//! `--web-search-custom-tools`, a client function named like a search, is replaced by the
//! `web_search(query)` function the model calls and the proxy answers.

use super::blocks::{TOOL_NAME, function_tool};
use serde_json::{Map, Value, json};

/// Anthropic's default when `max_uses` is absent (issue #12: 5).
pub const DEFAULT_MAX_USES: usize = 5;
/// Names the reference treats as a search tool (reference/platform.md §9.2).
pub const SEARCH_NAMES: [&str; 7] = [
    "web_search",
    "internet_search",
    "brave_search",
    "bing_search",
    "google_search",
    "find_online",
    "internet_research",
];

/// How this request's searches are served.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub max_uses: usize,
    pub allowed_domains: Vec<String>,
    pub blocked_domains: Vec<String>,
    /// The client's tool name that the function replaces.
    pub client_name: String,
}

/// The server web-search tool of the request, if any: a typed tool (no `input_schema`)
/// whose type is a dated `web_search_*` version or whose name is a search name.
pub fn server_tool(body: &Map<String, Value>) -> Option<Plan> {
    tools(body).iter().find(|t| is_server_search(t)).map(|t| {
        let list = |key: &str| -> Vec<String> {
            t.get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        };
        Plan {
            max_uses: t
                .get("max_uses")
                .and_then(Value::as_u64)
                .map_or(DEFAULT_MAX_USES, |n| n as usize),
            allowed_domains: list("allowed_domains"),
            blocked_domains: list("blocked_domains"),
            client_name: t
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(TOOL_NAME)
                .to_string(),
        }
    })
}

/// The name of a client function tool named like a search (for the preflight).
pub fn custom_tool(body: &Map<String, Value>) -> Option<String> {
    tools(body)
        .iter()
        .filter(|t| t.get("input_schema").is_some())
        .filter_map(|t| t.get("name").and_then(Value::as_str))
        .find(|n| SEARCH_NAMES.contains(n))
        .map(str::to_string)
}

fn tools(body: &Map<String, Value>) -> &[Value] {
    body.get("tools")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn is_server_search(tool: &Value) -> bool {
    if tool.get("input_schema").is_some() {
        return false;
    }
    let kind = tool.get("type").and_then(Value::as_str).unwrap_or("custom");
    let name = tool.get("name").and_then(Value::as_str).unwrap_or("");
    kind.starts_with("web_search_") || (kind != "custom" && SEARCH_NAMES.contains(&name))
}

/// Replaces the search tool(s) by the `web_search` function (one, even if the client sent
/// several) and points a `tool_choice` naming it at the function.
pub fn offer_function(body: &mut Map<String, Value>, plan: &Plan) {
    let Some(Value::Array(list)) = body.get_mut("tools") else {
        return;
    };
    list.retain(|t| {
        let name = t.get("name").and_then(Value::as_str).unwrap_or("");
        !(is_server_search(t) || name == plan.client_name || name == TOOL_NAME)
    });
    list.push(function_tool());
    if let Some(choice) = body.get_mut("tool_choice") {
        if choice.get("name").and_then(Value::as_str) == Some(plan.client_name.as_str()) {
            choice["name"] = json!(TOOL_NAME);
        }
    }
}

/// Takes the function away once `max_uses` searches ran. When no other tool is left the
/// definition stays (the history refers to it) and `tool_choice: none` forbids calling it.
pub fn withdraw_function(body: &mut Map<String, Value>) {
    let Some(Value::Array(list)) = body.get_mut("tools") else {
        return;
    };
    if list.len() > 1 {
        list.retain(|t| t.get("name").and_then(Value::as_str) != Some(TOOL_NAME));
        if body
            .get("tool_choice")
            .and_then(|c| c.get("name"))
            .and_then(Value::as_str)
            == Some(TOOL_NAME)
        {
            body.insert("tool_choice".into(), json!({"type": "auto"}));
        }
    } else {
        body.insert("tool_choice".into(), json!({"type": "none"}));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn every_dated_version_is_a_server_tool() {
        for kind in [
            "web_search_20250305",
            "web_search_20260209",
            "web_search_20260318",
            "web_search_20991231",
        ] {
            let b = body(
                json!({"tools": [{"type": kind, "name": "web_search", "max_uses": 2,
                                            "allowed_domains": ["a.com"]}]}),
            );
            let plan = server_tool(&b).unwrap();
            assert_eq!(
                (plan.max_uses, plan.allowed_domains.as_slice()),
                (2, &["a.com".to_string()][..])
            );
        }
        let custom =
            body(json!({"tools": [{"name": "web_search", "input_schema": {"type": "object"}}]}));
        assert!(server_tool(&custom).is_none());
        assert_eq!(custom_tool(&custom).as_deref(), Some("web_search"));
        let plan = server_tool(&body(
            json!({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}),
        ))
        .unwrap();
        assert_eq!(plan.max_uses, DEFAULT_MAX_USES);
    }

    #[test]
    fn the_function_replaces_the_tool_and_is_withdrawn() {
        let mut b = body(json!({"tools": [
            {"type": "web_search_20250305", "name": "web_search"},
            {"name": "Read", "input_schema": {"type": "object"}}
        ], "tool_choice": {"type": "tool", "name": "web_search"}}));
        let plan = server_tool(&b).unwrap();
        offer_function(&mut b, &plan);
        let names: Vec<&str> = b["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Read", "web_search"]);
        assert!(b["tools"][1]["input_schema"]["required"] == json!(["query"]));
        withdraw_function(&mut b);
        assert_eq!(b["tools"].as_array().unwrap().len(), 1);
        assert_eq!(b["tool_choice"], json!({"type": "auto"}));
        let mut only =
            body(json!({"tools": [{"type": "web_search_20260209", "name": "web_search"}]}));
        let plan = server_tool(&only).unwrap();
        offer_function(&mut only, &plan);
        withdraw_function(&mut only);
        assert_eq!(
            (
                only["tools"].as_array().unwrap().len(),
                &only["tool_choice"]
            ),
            (1, &json!({"type": "none"}))
        );
    }
}
