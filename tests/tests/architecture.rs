//! The workspace's structure holds: crates depend on each other one way (cli -> tools ->
//! service -> ingest -> alerting), no crate's modules form a dependency cycle (at any depth:
//! the submodules of every module depend on each other one way), and
//! the production binary (`-p weijian --no-default-features`) links neither the demo's
//! broker (rumqttd) nor the web stack it pulls (axum 0.7, hyper 0.14).
//!
//! Module dependencies are read from the source as text: a module depends on another when its
//! non-test code names it by a `crate::`, `super::` or `self::` path.

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
        let graphs = sibling_graphs(&root().join(dir).join("src"));
        let top = graphs.get(&Vec::new()).map_or(0, BTreeMap::len);
        assert!(top > 1 || dir == "cli", "{dir}: no modules found");
        for (parent, graph) in &graphs {
            for cycle in cycles(graph) {
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
                let at = if parent.is_empty() {
                    "crate".to_owned()
                } else {
                    parent.join("::")
                };
                problems.push(format!("{dir} (in {at}): {}", edges.join("; ")));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "module cycles:\n{}",
        problems.join("\n")
    );
}

/// For every module that has submodules (the crate root included, as the empty path), the
/// graph of its submodules: `a -> b` when code in `a` (or below it) names something in `b` (or
/// below it). A submodule naming its parent's own items, or a parent naming its children's,
/// is not an edge.
fn sibling_graphs(src: &Path) -> BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> {
    let mut sources = Vec::new();
    collect_sources(src, &mut sources);
    let files: Vec<(Vec<String>, PathBuf)> = sources
        .into_iter()
        .filter_map(|f| Some((module_path(src, &f)?, f)))
        .collect();
    let known: BTreeSet<Vec<String>> = files.iter().map(|(m, _)| m.clone()).collect();
    let mut graphs: BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for module in &known {
        if let Some((name, parent)) = module.split_last() {
            graphs
                .entry(parent.to_vec())
                .or_default()
                .entry(name.clone())
                .or_default();
        }
    }
    for (from, path) in &files {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        for named in named_paths(&non_test_code(&text), from) {
            let Some(to) = (0..=named.len())
                .rev()
                .map(|n| &named[..n])
                .find(|p| known.contains(*p) || p.is_empty())
            else {
                continue;
            };
            let common = from.iter().zip(to).take_while(|(a, b)| a == b).count();
            if common == from.len() || common == to.len() {
                continue; // one contains the other
            }
            graphs
                .entry(from[..common].to_vec())
                .or_default()
                .entry(from[common].clone())
                .or_default()
                .insert(to[common].clone());
        }
    }
    graphs
}

/// The module a source file is: `x.rs` and `x/mod.rs` are `x`; `lib.rs` and `main.rs` the root.
fn module_path(src: &Path, file: &Path) -> Option<Vec<String>> {
    let rel = file.strip_prefix(src).ok()?;
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let last = parts.pop()?;
    match last.as_str() {
        "mod.rs" => {}
        "lib.rs" | "main.rs" if parts.is_empty() => {}
        _ => parts.push(last.strip_suffix(".rs")?.to_owned()),
    }
    Some(parts)
}

/// The code of a source file without its comments and test-only items (an item after
/// `#[cfg(test)]`, to its closing brace or semicolon).
fn non_test_code(text: &str) -> String {
    let mut kept = String::with_capacity(text.len());
    let mut lines = text.lines().map(|l| l.split("//").next().unwrap_or(""));
    while let Some(line) = lines.next() {
        if !line.trim_start().starts_with("#[cfg(test)]") {
            kept.push_str(line);
            kept.push('\n');
            continue;
        }
        // Skip the item: to the semicolon that ends it, or to the brace that closes it.
        let mut depth = 0i32;
        let mut opened = false;
        for item in lines.by_ref() {
            for c in item.chars() {
                match c {
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            if (opened && depth <= 0) || (!opened && item.trim_end().ends_with(';')) {
                break;
            }
        }
    }
    kept
}

/// Every `crate::`, `super::` and `self::` path in `code` (groups in braces expanded),
/// resolved from module `at` to a path below the crate root.
fn named_paths(code: &str, at: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for prefix in ["crate::", "super::", "self::"] {
        for (i, _) in code.match_indices(prefix) {
            let before = code[..i].chars().last();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue; // inside a longer path or a name
            }
            let base: Vec<String> = match prefix {
                "crate::" => Vec::new(),
                "super::" => at[..at.len().saturating_sub(1)].to_vec(),
                _ => at.to_vec(),
            };
            expand(&code[i + prefix.len()..], base, &mut out);
        }
    }
    out
}

/// Reads the rest of a path after `::` from `base`, into `out`.
fn expand(rest: &str, mut base: Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut rest = rest;
    loop {
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 1 => {
                        expand(item.trim(), base.clone(), out);
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
                item.push(c);
            }
            expand(item.trim(), base, out);
            return;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        match name.as_str() {
            "" => break,
            "super" => {
                base.pop();
            }
            "self" => {}
            _ => base.push(name.clone()),
        }
        match rest[name.len()..].strip_prefix("::") {
            Some(more) => rest = more,
            None => break,
        }
    }
    out.push(base);
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
    let at = ["api".to_owned(), "sites".to_owned()];
    let named = named_paths(
        &non_test_code(
            "use crate::{config::Config, sink};\n// crate::comment\nfn f() { super::super::x::y(); }\nuse super::{doc, view::{a, b}};\n#[cfg(test)]\nmod tests {\n use crate::drain;\n}\n",
        ),
        &at,
    );
    let text: Vec<String> = named.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        text,
        [
            "config::Config",
            "sink",
            "x::y",
            "api::doc",
            "api::view::a",
            "api::view::b"
        ]
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
