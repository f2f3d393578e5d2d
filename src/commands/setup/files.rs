//! Writing a client's config file without losing what the user already had there: JSON is
//! merged key by key; Codex's TOML is edited line by line (our top-level keys replaced or
//! added, our provider table replaced), so comments and every other setting stay as they
//! were. No TOML crate: the few lines we own do not justify one.

use serde_json::{Map, Value};
use std::path::Path;

/// `patch` merged into `base`: objects recursively, anything else replaced.
pub fn merge_json(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                merge_json(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, p) => *b = p.clone(),
    }
}

/// Reads a JSON config (absent means empty), merges `patch` and writes it back.
pub fn write_json(path: &Path, patch: &Value) -> Result<(), String> {
    let mut current = match std::fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => Value::Object(Map::new()),
        Ok(text) => serde_json::from_str(&text).map_err(|e| {
            format!(
                "{} is not valid JSON ({e}); fix or move it first",
                path.display()
            )
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Value::Object(Map::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    if !current.is_object() {
        return Err(format!("{} does not hold a JSON object", path.display()));
    }
    merge_json(&mut current, patch);
    let text = serde_json::to_string_pretty(&current).map_err(|e| e.to_string())? + "\n";
    write_file(path, &text)
}

/// A TOML basic string.
pub fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `text` with each `(key, value)` set at the top level (replacing an existing line for
/// that key, else added before the first table) and the table `[table]` replaced by
/// `body` (or appended).
pub fn merge_toml(text: &str, top: &[(&str, String)], table: &str, body: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let first_table = lines
        .iter()
        .position(|l| l.trim_start().starts_with('['))
        .unwrap_or(lines.len());
    let key_of = |line: &str| {
        let t = line.trim_start();
        let end = t.find(['=', ' ', '\t'])?;
        (!t.starts_with('#')).then(|| t[..end].trim().trim_matches('"').to_string())
    };
    let mut out: Vec<String> = Vec::new();
    let mut set: Vec<&str> = Vec::new();
    for line in &lines[..first_table] {
        match key_of(line).and_then(|k| top.iter().find(|(t, _)| *t == k)) {
            Some((k, v)) => {
                out.push(format!("{k} = {v}"));
                set.push(k);
            }
            None => out.push(line.to_string()),
        }
    }
    for (k, v) in top.iter().filter(|(k, _)| !set.contains(k)) {
        out.push(format!("{k} = {v}"));
    }
    // The rest, without our table (from its header to the next header).
    let header = format!("[{table}]");
    let mut skipping = false;
    let mut rest: Vec<String> = Vec::new();
    for line in &lines[first_table..] {
        let t = line.trim();
        if t.starts_with('[') {
            skipping = t == header;
        }
        if !skipping {
            rest.push(line.to_string());
        }
    }
    while rest.last().is_some_and(|l| l.trim().is_empty()) {
        rest.pop();
    }
    if !rest.is_empty() {
        out.push(String::new());
        out.extend(rest);
    }
    out.push(String::new());
    out.push(header);
    out.extend(body.lines().map(str::to_string));
    out.join("\n") + "\n"
}

/// Writes through a temporary file in the same directory, so a crash never leaves half
/// a config; creates the directory when needed.
pub fn write_file(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let tmp = path.with_extension("copilot-api.tmp");
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_merge_keeps_other_keys() {
        let mut base = json!({"permissions": {"allow": ["Bash"]}, "env": {"KEEP": "1", "ANTHROPIC_MODEL": "old"}});
        merge_json(&mut base, &json!({"env": {"ANTHROPIC_MODEL": "new"}}));
        assert_eq!(
            base,
            json!({"permissions": {"allow": ["Bash"]}, "env": {"KEEP": "1", "ANTHROPIC_MODEL": "new"}})
        );
    }

    #[test]
    fn toml_merge_replaces_our_keys_and_table_only() {
        let text = "# my settings\nmodel = \"o3\"\napproval_policy = \"never\"\n\n[model_providers.copilot-api]\nbase_url = \"http://old\"\n\n[mcp_servers.x]\ncommand = \"y\"\n";
        let top = [
            ("model", toml_string("gpt-5.2-codex")),
            ("model_provider", toml_string("copilot-api")),
        ];
        let out = merge_toml(
            text,
            &top,
            "model_providers.copilot-api",
            "base_url = \"http://new\"",
        );
        assert_eq!(
            out,
            "# my settings\nmodel = \"gpt-5.2-codex\"\napproval_policy = \"never\"\n\nmodel_provider = \"copilot-api\"\n\n[mcp_servers.x]\ncommand = \"y\"\n\n[model_providers.copilot-api]\nbase_url = \"http://new\"\n"
        );
        let fresh = merge_toml("", &top, "t", "a = 1");
        assert_eq!(
            fresh,
            "model = \"gpt-5.2-codex\"\nmodel_provider = \"copilot-api\"\n\n[t]\na = 1\n"
        );
        assert_eq!(toml_string("a\"b\\c"), r#""a\"b\\c""#);
    }
}
