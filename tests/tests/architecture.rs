//! The workspace's structure holds: crates depend on each other one way (cli -> tools ->
//! service -> ingest -> alerting), no crate's top-level modules form a dependency cycle, and
//! the production binary (`-p weijian --no-default-features`) links neither the demo's
//! broker (rumqttd) nor the web stack it pulls (axum 0.7, hyper 0.14).
//!
//! Module dependencies are read from the source as text: a module depends on another when its
//! non-test code names `crate::other` (or `super::other` from the module's own top file).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The crates from the bottom up: each may depend only on those before it.
const LAYERS: [(&str, &str); 5] = [
    ("alerting", "alerting"),
    ("ingest", "weijian-ingest"),
    ("service", "weijian-service"),
    ("tools", "weijian-tools"),
    ("cli", "weijian"),
];

#[test]
fn crates_depend_on_each_other_one_way() {
    for (i, (dir, name)) in LAYERS.iter().enumerate() {
        let manifest = std::fs::read_to_string(root().join(dir).join("Cargo.toml"))
            .unwrap_or_else(|e| panic!("{dir}/Cargo.toml: {e}"));
        let deps = dependencies(&manifest);
        for (j, (_, other)) in LAYERS.iter().enumerate() {
            if deps.contains(*other) {
                assert!(j < i, "{name} depends on {other}, which is above it");
            }
        }
    }
    let ingest = std::fs::read_to_string(root().join("ingest/Cargo.toml")).unwrap_or_default();
    let service = std::fs::read_to_string(root().join("service/Cargo.toml")).unwrap_or_default();
    for (name, manifest) in [("weijian-ingest", &ingest), ("weijian-service", &service)] {
        assert!(
            !dependencies(manifest).contains("rumqttd"),
            "{name} must not depend on the demo's broker"
        );
    }
}

/// The `[dependencies]` (not dev-dependencies) of a manifest, by name.
fn dependencies(manifest: &str) -> BTreeSet<String> {
    let value: toml::Value = toml::from_str(manifest).unwrap_or(toml::Value::Integer(0));
    value
        .get("dependencies")
        .and_then(toml::Value::as_table)
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn no_crate_has_a_module_cycle() {
    let mut problems = Vec::new();
    for (dir, _) in LAYERS {
        let graph = module_graph(&root().join(dir).join("src"));
        assert!(graph.len() > 1 || dir == "cli", "{dir}: no modules found");
        for cycle in cycles(&graph) {
            let edges: Vec<String> = cycle
                .iter()
                .map(|m| {
                    let inside: Vec<&str> = graph[m]
                        .iter()
                        .filter(|d| cycle.contains(*d))
                        .map(String::as_str)
                        .collect();
                    format!("{m} -> {}", inside.join(", "))
                })
                .collect();
            problems.push(format!("{dir}: {}", edges.join("; ")));
        }
    }
    assert!(
        problems.is_empty(),
        "module cycles:\n{}",
        problems.join("\n")
    );
}

/// Top-level module -> the top-level modules its non-test code names.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files: BTreeMap<String, Vec<(PathBuf, bool)>> = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(src) else {
        return BTreeMap::new();
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(module) = name.strip_suffix(".rs") {
            if module != "lib" && module != "main" {
                files
                    .entry(module.to_owned())
                    .or_default()
                    .push((path, true));
            }
        } else if path.is_dir() {
            let mut found = Vec::new();
            collect_sources(&path, &mut found);
            let top = path.join("mod.rs");
            files
                .entry(name)
                .or_default()
                .extend(found.into_iter().map(|f| {
                    let is_top = f == top;
                    (f, is_top)
                }));
        }
    }
    let names: BTreeSet<String> = files.keys().cloned().collect();
    files
        .iter()
        .map(|(module, sources)| {
            let mut deps = BTreeSet::new();
            for (path, top) in sources {
                let text = std::fs::read_to_string(path).unwrap_or_default();
                for d in referenced_modules(&text, *top) {
                    if names.contains(&d) && &d != module {
                        deps.insert(d);
                    }
                }
            }
            (module.clone(), deps)
        })
        .collect()
}

/// Source files under `dir`, leaving out test modules (`tests/` folders, `tests.rs`) and
/// test data.
fn collect_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if name != "tests" && name != "testdata" {
                collect_sources(&path, out);
            }
        } else if name.ends_with(".rs") && name != "tests.rs" {
            out.push(path);
        }
    }
}

/// The first path segments after `crate::` (and `super::` in a module's top file), in code
/// before an inline `#[cfg(test)] mod ... {`, comments left out.
fn referenced_modules(text: &str, top: bool) -> BTreeSet<String> {
    let mut code = String::with_capacity(text.len());
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") {
            // An inline test module ends the code that counts; `mod x;` lines are skipped.
            code.push_str("\u{0}TEST\n");
            continue;
        }
        let line = line.split("//").next().unwrap_or("");
        code.push_str(line);
        code.push('\n');
    }
    let mut kept = String::new();
    let mut lines = code.lines().peekable();
    while let Some(line) = lines.next() {
        if line == "\u{0}TEST" {
            let next = lines.peek().map(|l| l.trim()).unwrap_or("");
            if next.starts_with("mod ") && next.ends_with('{') {
                break;
            }
            // `#[cfg(test)] mod x;` or a test-only item: skip the next line.
            lines.next();
            continue;
        }
        kept.push_str(line);
        kept.push('\n');
    }
    let mut out = BTreeSet::new();
    let prefixes: &[&str] = if top {
        &["crate::", "super::"]
    } else {
        &["crate::"]
    };
    for prefix in prefixes {
        for (at, _) in kept.match_indices(prefix) {
            let before = kept[..at].chars().last();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let rest = &kept[at + prefix.len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or("");
                out.extend(inner.split(',').filter_map(|p| first_segment(p.trim())));
            } else if let Some(name) = first_segment(rest) {
                out.insert(name);
            }
        }
    }
    out
}

fn first_segment(path: &str) -> Option<String> {
    let name: String = path
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty() && name.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
        .then_some(name)
}

/// The strongly connected components with more than one module (Tarjan).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        next: usize,
        found: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        let graph = s.graph;
        for w in graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.found
}

#[test]
fn the_cycle_finder_finds_a_cycle_and_accepts_a_tree() {
    let graph = |edges: &[(&str, &str)]| {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in edges {
            g.entry((*a).to_owned())
                .or_default()
                .insert((*b).to_owned());
            g.entry((*b).to_owned()).or_default();
        }
        g
    };
    assert_eq!(
        cycles(&graph(&[("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")])),
        vec![vec!["a".to_owned(), "b".to_owned(), "c".to_owned()]]
    );
    assert!(cycles(&graph(&[("a", "b"), ("a", "c"), ("b", "c")])).is_empty());
    let refs = referenced_modules(
        "use crate::{config::Config, sink};\n// crate::comment\nfn f() { super::x::y(); }\n#[cfg(test)]\nmod tests {\n use crate::drain;\n}\n",
        true,
    );
    assert_eq!(
        refs.into_iter().collect::<Vec<_>>(),
        ["config", "sink", "x"]
    );
}

/// `cargo tree` of the production binary: no rumqttd, no axum 0.7, no hyper 0.14.
#[test]
fn the_production_binary_links_no_demo_broker_and_one_web_stack() {
    let output = std::process::Command::new(env!("CARGO"))
        .current_dir(root())
        .args([
            "tree",
            "-p",
            "weijian",
            "--no-default-features",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run cargo tree: {e}"));
    let tree = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && tree.contains("weijian-service"),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    for banned in ["rumqttd ", "axum v0.7", "hyper v0.14", "weijian-tools "] {
        assert!(
            !tree.contains(banned),
            "the production binary links {banned}"
        );
    }
}
