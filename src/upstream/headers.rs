//! The header sets Copilot and GitHub expect (reference/platform.md §4.4), with the
//! versions taken from the configuration so that a 466 cut-off is a setting, not a release.

use crate::config::{GITHUB_API_VERSION, Versions};
use crate::ids::uuid_v4;

/// For api.github.com calls that carry the GitHub token (`/copilot_internal/*`).
pub fn github(v: &Versions, github_token: &str) -> Vec<(&'static str, String)> {
    vec![
        ("content-type", "application/json".into()),
        ("accept", "application/json".into()),
        ("authorization", format!("token {github_token}")),
        ("editor-version", v.editor_version.clone()),
        ("editor-plugin-version", v.plugin_version.clone()),
        ("user-agent", v.user_agent.clone()),
        ("x-github-api-version", GITHUB_API_VERSION.into()),
        (
            "x-vscode-user-agent-library-version",
            "electron-fetch".into(),
        ),
    ]
}

/// For every call to the Copilot API. A fresh `x-request-id` each time the set is built.
pub fn copilot(v: &Versions, copilot_token: &str) -> Vec<(&'static str, String)> {
    vec![
        ("authorization", format!("Bearer {copilot_token}")),
        ("content-type", "application/json".into()),
        ("copilot-integration-id", v.integration_id.clone()),
        ("editor-version", v.editor_version.clone()),
        ("editor-plugin-version", v.plugin_version.clone()),
        ("user-agent", v.user_agent.clone()),
        ("openai-intent", "conversation-panel".into()),
        ("x-github-api-version", v.copilot_api_version.clone()),
        ("x-request-id", uuid_v4()),
        (
            "x-vscode-user-agent-library-version",
            "electron-fetch".into(),
        ),
    ]
}

/// For the OAuth device flow on github.com: JSON only, as GitHub's documentation shows.
pub fn oauth() -> Vec<(&'static str, String)> {
    vec![
        ("content-type", "application/json".into()),
        ("accept", "application/json".into()),
    ]
}

/// `X-Initiator`, which Copilot uses to tell a billed user prompt from an agent turn.
pub fn initiator_header(user_turn: bool) -> (&'static str, String) {
    (
        "x-initiator",
        if user_turn { "user" } else { "agent" }.to_string(),
    )
}

/// `copilot-vision-request: true` only when the request carries an image: sending it
/// always gets requests rate limited as vision traffic.
pub fn vision_header(has_images: bool) -> Option<(&'static str, String)> {
    has_images.then(|| ("copilot-vision-request", "true".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn versions() -> Versions {
        Versions {
            editor_version: "vscode/1".into(),
            plugin_version: "copilot-chat/2".into(),
            user_agent: "UA/3".into(),
            copilot_api_version: "2026-06-01".into(),
            integration_id: "vscode-chat".into(),
        }
    }

    #[test]
    fn copilot_headers_carry_bearer_versions_and_fresh_ids() {
        let a = copilot(&versions(), "tok");
        let get =
            |h: &[(&str, String)], k: &str| h.iter().find(|(n, _)| *n == k).unwrap().1.clone();
        assert_eq!(get(&a, "authorization"), "Bearer tok");
        assert_eq!(get(&a, "editor-version"), "vscode/1");
        assert_eq!(get(&a, "x-github-api-version"), "2026-06-01");
        assert_ne!(
            get(&a, "x-request-id"),
            get(&copilot(&versions(), "tok"), "x-request-id")
        );
        let g = github(&versions(), "gho");
        assert_eq!(get(&g, "authorization"), "token gho");
        assert_eq!(get(&g, "x-github-api-version"), GITHUB_API_VERSION);
    }
}
