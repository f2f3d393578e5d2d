//! `copilot-api setup claude-code|codex|opencode` against a running proxy (issue #14): the
//! printed command run by a real shell, the clipboard and its fallback, and `--write`
//! merging into existing files that keep their other keys and still parse.

use crate::support::{Fake, Proxy, TempDir, run_cli};
use serde_json::{Value, json};
use std::path::Path;

/// A directory of stand-in programs: `claude` prints its environment, and, when asked, a
/// `wl-copy` that saves what it is given to `clipboard.txt`.
fn fake_bin(dir: &Path, clipboard: bool) -> String {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = |name: &str, body: &str| {
        let path = bin.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    script("claude", "env");
    if clipboard {
        script(
            "wl-copy",
            &format!("cat > '{}'", dir.join("clipboard.txt").display()),
        );
    }
    format!("{}:/usr/bin:/bin", bin.display())
}

fn setup(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut all = vec!["setup"];
    all.extend_from_slice(args);
    run_cli(&all, env, dir)
}

#[test]
fn claude_code_command_runs_in_bash_is_copied_and_write_keeps_other_settings() {
    let fake = Fake::start();
    let key = "sk-it's \"quoted\" key";
    let proxy = Proxy::start(&fake, &["--api-key", key], &[]);
    let home = TempDir::new();
    let path = fake_bin(home.path(), true);
    std::fs::create_dir_all(home.path().join(".claude")).unwrap();
    std::fs::write(
        home.path().join(".claude/settings.json"),
        r#"{"permissions": {"allow": ["Bash(ls)"]}, "env": {"KEEP_ME": "1", "ANTHROPIC_MODEL": "old"}}"#,
    )
    .unwrap();
    let env = [("PATH", path.as_str()), ("SHELL", "/bin/zsh")];
    let args = [
        "claude-code",
        "--url",
        &proxy.url,
        "--api-key",
        key,
        "--shell",
        "bash",
        "--write",
    ];
    let (code, out, err) = setup(home.path(), &args, &env);
    assert_eq!(code, 0, "{err}");
    let command = out.trim_end();
    assert!(command.starts_with("export ANTHROPIC_BASE_URL="), "{out}");
    assert!(command.ends_with("&& claude"), "{out}");
    assert!(err.contains("Copied to the clipboard (wl-copy)"), "{err}");
    let copied = std::fs::read_to_string(home.path().join("clipboard.txt")).unwrap();
    assert_eq!(copied, command);
    // The line as bash reads it: `claude` (here: env) gets every value intact.
    let ran = std::process::Command::new("bash")
        .arg("-c")
        .arg(command)
        .env("PATH", &path)
        .output()
        .unwrap();
    let ran = String::from_utf8_lossy(&ran.stdout);
    for line in [
        format!("ANTHROPIC_BASE_URL={}", proxy.url),
        format!("ANTHROPIC_AUTH_TOKEN={key}"),
        "ANTHROPIC_MODEL=claude-opus-4-8".into(),
        "ANTHROPIC_DEFAULT_SONNET_MODEL=claude-opus-4-8".into(),
        "ANTHROPIC_DEFAULT_OPUS_MODEL=claude-opus-4-8".into(),
        "ANTHROPIC_SMALL_FAST_MODEL=gpt-4.1".into(),
        "ANTHROPIC_DEFAULT_HAIKU_MODEL=gpt-4.1".into(),
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1".into(),
    ] {
        assert!(ran.lines().any(|l| l == line), "missing {line} in\n{ran}");
    }
    let settings: Value = serde_json::from_str(
        &std::fs::read_to_string(home.path().join(".claude/settings.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(settings["permissions"], json!({"allow": ["Bash(ls)"]}));
    assert_eq!(settings["env"]["KEEP_ME"], "1");
    assert_eq!(settings["env"]["ANTHROPIC_MODEL"], "claude-opus-4-8");
    assert_eq!(settings["env"]["ANTHROPIC_AUTH_TOKEN"], key);
}

#[test]
fn claude_code_without_a_clipboard_prints_for_the_chosen_shell() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let home = TempDir::new();
    let path = fake_bin(home.path(), false);
    let env = [("PATH", path.as_str()), ("SHELL", "/usr/bin/fish")];
    let args = [
        "claude-code",
        "--url",
        &proxy.url,
        "--model",
        "claude-sonnet-4.5",
        "--small-model",
        "gpt-5.2-codex",
    ];
    let (code, out, err) = setup(home.path(), &args, &env);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("no clipboard program found"), "{err}");
    assert!(
        out.starts_with("set -gx ANTHROPIC_BASE_URL '"),
        "detected fish: {out}"
    );
    assert!(
        out.contains("set -gx ANTHROPIC_AUTH_TOKEN 'dummy'"),
        "{out}"
    );
    assert!(
        out.contains("set -gx ANTHROPIC_MODEL 'claude-sonnet-4-5'"),
        "{out}"
    );
    assert!(
        out.contains("set -gx ANTHROPIC_SMALL_FAST_MODEL 'gpt-5.2-codex'"),
        "{out}"
    );
    assert!(
        !home.path().join(".claude").exists(),
        "nothing written without --write"
    );
    let (code, out, _) = setup(
        home.path(),
        &["claude-code", "--url", &proxy.url, "--shell", "powershell"],
        &env,
    );
    assert_eq!(code, 0);
    assert!(
        out.starts_with(&format!("$env:ANTHROPIC_BASE_URL = '{}'; ", proxy.url)),
        "{out}"
    );
    assert!(out.trim_end().ends_with("; claude"), "{out}");
}

/// Parses TOML with Python's tomllib (3.11+), as JSON.
fn toml_as_json(path: &Path) -> Value {
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg("import json,sys,tomllib; print(json.dumps(tomllib.load(open(sys.argv[1],'rb'))))")
        .arg(path)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn codex_write_merges_the_provider_into_existing_config_toml() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let home = TempDir::new();
    let codex_home = home.path().join("codex-home");
    std::fs::create_dir_all(&codex_home).unwrap();
    std::fs::write(
        codex_home.join("config.toml"),
        "# mine\nmodel = \"o3\"\napproval_policy = \"never\"\n\n[model_providers.copilot-api]\nbase_url = \"http://stale\"\n\n[mcp_servers.docs]\ncommand = \"docs-server\"\nargs = [\"--port\", \"1\"]\n",
    )
    .unwrap();
    let env = [("CODEX_HOME", codex_home.to_str().unwrap())];
    let (code, out, err) = setup(
        home.path(),
        &["codex", "--url", &proxy.url, "--write"],
        &env,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("wire_api = \"responses\""), "{out}");
    assert!(out.contains("env_key = \"COPILOT_API_KEY\""), "{out}");
    assert!(err.contains("COPILOT_API_KEY"), "{err}");
    let v = toml_as_json(&codex_home.join("config.toml"));
    assert_eq!(v["model"], "gpt-5.2-codex");
    assert_eq!(v["model_provider"], "copilot-api");
    assert_eq!(v["approval_policy"], "never");
    assert_eq!(v["mcp_servers"]["docs"]["args"], json!(["--port", "1"]));
    let provider = &v["model_providers"]["copilot-api"];
    assert_eq!(provider["base_url"], format!("{}/v1", proxy.url));
    assert_eq!(provider["wire_api"], "responses");
    assert_eq!(provider["env_key"], "COPILOT_API_KEY");
    let text = std::fs::read_to_string(codex_home.join("config.toml")).unwrap();
    assert!(
        text.starts_with("# mine\n") && !text.contains("stale"),
        "{text}"
    );

    // A model Codex does not know needs its metadata from the proxy.
    let (code, _, err) = setup(
        home.path(),
        &[
            "codex",
            "--url",
            &proxy.url,
            "--model",
            "claude-sonnet-4.5",
            "--write",
        ],
        &env,
    );
    assert_eq!(code, 0, "{err}");
    let v = toml_as_json(&codex_home.join("config.toml"));
    assert_eq!(v["model"], "claude-sonnet-4.5");
    let catalog = codex_home.join("copilot-api-models.json");
    if err.contains("does not serve Codex model metadata") {
        assert!(v.get("model_catalog_json").is_none(), "{v}");
    } else {
        assert_eq!(v["model_catalog_json"], catalog.display().to_string());
        let models: Value =
            serde_json::from_str(&std::fs::read_to_string(&catalog).unwrap()).unwrap();
        let entry = models["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["slug"] == "claude-sonnet-4.5");
        assert_eq!(entry.unwrap()["apply_patch_tool_type"], "freeform");
    }
}

#[test]
fn opencode_write_merges_the_provider_and_errors_are_clear() {
    let fake = Fake::start();
    let proxy = Proxy::start(&fake, &[], &[]);
    let home = TempDir::new();
    let xdg = home.path().join("xdg");
    std::fs::create_dir_all(xdg.join("opencode")).unwrap();
    std::fs::write(
        xdg.join("opencode/opencode.json"),
        r#"{"theme": "tokyonight", "provider": {"other": {"npm": "x"}}}"#,
    )
    .unwrap();
    let env = [("XDG_CONFIG_HOME", xdg.to_str().unwrap())];
    let args = [
        "opencode", "--url", &proxy.url, "--model", "gpt-4.1", "--write",
    ];
    let (code, out, err) = setup(home.path(), &args, &env);
    assert_eq!(code, 0, "{err}");
    let printed: Value = serde_json::from_str(&out).expect("stdout is the JSON entry");
    assert_eq!(printed["model"], "copilot-api/gpt-4.1");
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(xdg.join("opencode/opencode.json")).unwrap())
            .unwrap();
    assert_eq!(v["theme"], "tokyonight");
    assert_eq!(v["provider"]["other"]["npm"], "x");
    let ours = &v["provider"]["copilot-api"];
    assert_eq!(ours["options"]["baseURL"], format!("{}/v1", proxy.url));
    assert_eq!(ours["models"]["gpt-4.1"]["limit"]["context"], 128000);
    assert!(ours["models"].get("text-embedding-3-small").is_none());

    let (code, _, err) = setup(
        home.path(),
        &["opencode", "--url", "http://127.0.0.1:9"],
        &[],
    );
    assert_eq!(code, 1);
    assert!(err.contains("copilot-api start"), "{err}");
    let (code, _, err) = setup(home.path(), &["vscode"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("claude-code, codex or opencode"), "{err}");
    let keyed = Proxy::start(&fake, &["--api-key", "sk-k"], &[]);
    let (code, _, err) = setup(home.path(), &["codex", "--url", &keyed.url], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("--api-key"), "{err}");
    let (code, out, err) = setup(
        home.path(),
        &["codex", "--url", &keyed.url],
        &[("COPILOT_API_KEY", "sk-k")],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("model_provider"), "{out}");
}
