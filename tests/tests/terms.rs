//! One term for weijian's alerts: 预警 (domain reference section E, 预警分级; levels 一级红色 ..
//! 四级蓝色). 告警 must not reappear in notice texts (the Rust sources that write them), the
//! dashboards, the docs, the README or the shipped configuration.
//!
//! A line may name 告警 only in the files of [`ALLOWED`] and only next to 预警 (the upgrade note
//! about the DingTalk keyword; a standard whose title says 告警 would be added there with its
//! quotation), or anywhere in the [`CHECKS`] that look for it.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Files allowed to name 告警 on a line that also says 预警.
const ALLOWED: &[&str] = &["service/src/notify/dingtalk.rs", "docs/alert-delivery.md"];

/// The tests that check for 告警 (they must name it).
const CHECKS: &[&str] = &[
    "alerting/src/tests/texts.rs",
    "service/src/notify/tests/texts.rs",
    "tests/tests/terms.rs",
];

const OLD: &str = "告警";

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if p.is_dir() {
            if !name.starts_with('.') && name != "target" && name != "node_modules" {
                walk(&p, out);
            }
        } else if ["rs", "md", "json", "toml", "yaml", "yml", "html", "txt"]
            .iter()
            .any(|ext| name.ends_with(&format!(".{ext}")))
        {
            out.push(p);
        }
    }
}

#[test]
fn the_term_is_yujing_in_notice_texts_dashboards_docs_and_configuration() {
    let root = root();
    let mut files = Vec::new();
    for dir in [
        "alerting",
        "ingest",
        "service",
        "tools",
        "cli",
        "tests",
        "docs",
        "dashboards",
        "config",
        "deploy",
        "packaging",
    ] {
        walk(&root.join(dir), &mut files);
    }
    files.push(root.join("README.md"));
    assert!(
        files
            .iter()
            .any(|f| f.ends_with("dashboards/json/alerts.json")),
        "the walk reaches the dashboards"
    );
    let mut found = Vec::new();
    for f in &files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        let rel = f
            .strip_prefix(&root)
            .unwrap_or(f)
            .to_string_lossy()
            .replace('\\', "/");
        for (i, line) in text.lines().enumerate() {
            let allowed = CHECKS.contains(&rel.as_str())
                || ALLOWED.contains(&rel.as_str()) && line.contains("预警");
            if line.contains(OLD) && !allowed {
                found.push(format!("{rel}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "告警 where weijian's alerts are 预警:\n{}",
        found.join("\n")
    );
}
