//! Reversible tool-name aliases for the Chat Completions upstream.
//!
//! OpenAI-style function names must match `^[a-zA-Z0-9_-]{1,64}$`; Anthropic clients send
//! longer names or other characters (Claude Code's MCP tools are `mcp__<server>__<tool>`,
//! often past 64 characters, sometimes with dots). Each such name gets an alias on the way
//! up and is restored on the way back. Names that are already valid are never renamed, and
//! an alias depends only on its own name unless two aliases would collide, so aliases stay
//! the same from one turn to the next (which keeps upstream prompt caches warm).

use std::collections::{HashMap, HashSet};

const MAX_LEN: usize = 64;
/// Hex digits of the hash suffix, widened only when a shorter suffix collides.
const HASH_LENGTHS: [usize; 3] = [8, 12, 16];

#[derive(Debug, Clone, Default)]
pub struct ToolNames {
    /// Client name -> alias, only for names that needed one.
    upstream: HashMap<String, String>,
    /// Alias -> client name.
    client: HashMap<String, String>,
}

impl ToolNames {
    /// Aliases for the `name` of each tool definition.
    #[cfg(test)]
    pub fn from_tools(tools: &[serde_json::Value]) -> ToolNames {
        Self::from_names(
            tools
                .iter()
                .filter_map(|t| t.get("name").and_then(serde_json::Value::as_str)),
        )
    }

    /// Aliases for a list of names (tool definitions, plus names used in the history).
    /// Valid names are reserved first, so an invalid `a.b` can never take a real `a_b`.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> ToolNames {
        let mut seen = HashSet::new();
        let names: Vec<&str> = names.into_iter().filter(|n| seen.insert(*n)).collect();
        let mut used: HashSet<String> = names
            .iter()
            .filter(|n| is_valid(n))
            .map(|n| n.to_string())
            .collect();
        let mut map = ToolNames::default();
        for name in names.into_iter().filter(|n| !is_valid(n)) {
            let alias = alias_for(name, &used);
            used.insert(alias.clone());
            map.client.insert(alias.clone(), name.to_string());
            map.upstream.insert(name.to_string(), alias);
        }
        map
    }

    /// The name to send upstream; names without an alias pass through unchanged.
    pub fn to_upstream(&self, name: &str) -> String {
        self.upstream
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_string())
    }

    /// The client's original name for an upstream name; unknown names pass through.
    pub fn to_client(&self, alias: &str) -> String {
        self.client
            .get(alias)
            .cloned()
            .unwrap_or_else(|| alias.to_string())
    }
}

fn is_valid(name: &str) -> bool {
    (1..=MAX_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The sanitized name when it fits and is free; otherwise the sanitized name cut to its
/// start and end (MCP names differ at both ends) plus `__` and a hash of the full name.
fn alias_for(name: &str, used: &HashSet<String>) -> String {
    let mut clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() {
        clean = "tool".into();
    }
    if clean.len() <= MAX_LEN && !used.contains(&clean) {
        return clean;
    }
    for attempt in 0u32.. {
        let input = if attempt == 0 {
            name.to_string()
        } else {
            format!("{name}:{attempt}")
        };
        let hash = format!("{:016x}", fnv1a(&input));
        let width = HASH_LENGTHS[(attempt as usize).min(HASH_LENGTHS.len() - 1)];
        let room = MAX_LEN - 2 - width;
        let base = if clean.len() <= room {
            clean.clone()
        } else {
            // `clean` is ASCII, so byte slicing is character slicing.
            let head = room.div_ceil(2);
            format!(
                "{}{}",
                &clean[..head],
                &clean[clean.len() - (room - head)..]
            )
        };
        let alias = format!("{base}__{}", &hash[..width]);
        if !used.contains(&alias) {
            return alias;
        }
    }
    unreachable!("the attempt counter is unbounded")
}

/// 64-bit FNV-1a: stable across builds and platforms, unlike std's `DefaultHasher`.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LONG: &str = "mcp__plugin_chrome-devtools-mcp_chrome-devtools__get_console_message";

    #[test]
    fn aliases_by_case() {
        let cases: &[(&str, &str)] = &[
            ("Bash", "Bash"),
            ("mcp__server.with.dots__tool", "mcp__server_with_dots__tool"),
            ("", "tool"),
            ("ünï", "_n_"),
        ];
        for (name, want) in cases {
            let names = ToolNames::from_names([*name]);
            assert_eq!(names.to_upstream(name), *want, "{name}");
            assert_eq!(names.to_client(want), *name, "{name}");
        }
    }

    #[test]
    fn long_mcp_name_round_trips_within_64_characters() {
        let names = ToolNames::from_tools(&[json!({"name": LONG}), json!({"name": "Read"})]);
        let alias = names.to_upstream(LONG);
        assert!(is_valid(&alias), "{alias}");
        assert_eq!(alias.len(), 64);
        assert!(alias.starts_with("mcp__plugin_chrome-devtools"), "{alias}");
        assert!(alias.contains("get_console_message__"), "{alias}");
        assert_eq!(names.to_client(&alias), LONG);
        assert_eq!(names.to_upstream("Read"), "Read");
        // Deterministic: the same alias in a later request, whatever else it holds.
        let again = ToolNames::from_names(["Other", LONG]);
        assert_eq!(again.to_upstream(LONG), alias);
    }

    #[test]
    fn valid_names_keep_their_name_whatever_the_order() {
        for order in [["a.b", "a_b"], ["a_b", "a.b"]] {
            let names = ToolNames::from_names(order);
            assert_eq!(names.to_upstream("a_b"), "a_b");
            let alias = names.to_upstream("a.b");
            assert!(alias.starts_with("a_b__") && is_valid(&alias), "{alias}");
            assert_eq!(names.to_client(&alias), "a.b");
            assert_eq!(names.to_client("a_b"), "a_b");
        }
    }

    #[test]
    fn long_names_sharing_both_ends_stay_distinct() {
        let a = format!("mcp__{}__x__{}", "a".repeat(40), "z".repeat(40));
        let b = format!("mcp__{}__y__{}", "a".repeat(40), "z".repeat(40));
        let names = ToolNames::from_names([a.as_str(), b.as_str()]);
        let (x, y) = (names.to_upstream(&a), names.to_upstream(&b));
        assert_ne!(x, y);
        assert!(is_valid(&x) && is_valid(&y));
        assert_eq!((names.to_client(&x), names.to_client(&y)), (a, b));
    }

    #[test]
    fn colliding_hash_widens_the_suffix() {
        // Force the first candidate to be taken and check the next one is used.
        let name = "x".repeat(80);
        let first = alias_for(&name, &HashSet::new());
        let second = alias_for(&name, &HashSet::from([first.clone()]));
        assert_ne!(first, second);
        assert!(is_valid(&second) && second.len() <= 64);
    }

    #[test]
    fn unknown_names_pass_through() {
        let names = ToolNames::from_names([LONG]);
        assert_eq!(names.to_upstream("web_search"), "web_search");
        assert_eq!(names.to_client("something.else"), "something.else");
        assert_eq!(ToolNames::default().to_client("x"), "x");
    }
}
