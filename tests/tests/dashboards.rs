//! Checks the Grafana dashboards in `dashboards/` against the code they display: every
//! `dashboards/json/*.json` is Grafana dashboard JSON (title, unique uid, panels with a gridPos
//! and at least one target), every data source it names is one provisioned in
//! `dashboards/provisioning/datasources/questdb.yaml` (uid and type), every `$variable` it uses is
//! defined, every QuestDB SQL query (`rawSql`) reads only tables of
//! `weijian_ingest::sink::schema::tables()` and only their columns (a small tokenizer, not a SQL
//! parser: see `check_sql`), and every Prometheus expression uses only metric names weijian
//! registers (`Metrics` and `SpoolMetrics` on a fresh registry). Negative tests show each check
//! can fail.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use prometheus::core::{Collector, MetricVec, MetricVecBuilder};
use serde_json::Value;

const QUESTDB_TYPE: &str = "questdb-questdb-datasource";
const PROMETHEUS_TYPE: &str = "prometheus";

fn dashboards_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../dashboards")
}

// ------------------------------------------------------------------------------------------
// Provisioned data sources (a minimal reader for the one YAML shape we write).

/// (uid, type) of every data source in a Grafana data source provisioning file. Reads only
/// `uid:` and `type:` keys directly under a `- ` list item; enough for our file, not YAML.
fn provisioned_datasources(yaml: &str) -> Vec<(String, String)> {
    let mut out: Vec<(Option<String>, Option<String>)> = Vec::new();
    let mut item_indent: Option<usize> = None;
    for raw in yaml.lines() {
        let line = match raw.find(" #") {
            Some(i) => &raw[..i],
            None if raw.trim_start().starts_with('#') => "",
            None => raw,
        };
        if line.trim().is_empty() {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let mut body = line.trim_start();
        let key_indent;
        if let Some(rest) = body.strip_prefix("- ") {
            out.push((None, None));
            item_indent = Some(indent + 2);
            key_indent = indent + 2;
            body = rest.trim_start();
        } else {
            key_indent = indent;
        }
        if item_indent != Some(key_indent) {
            continue;
        }
        let Some((key, value)) = body.split_once(':') else {
            continue;
        };
        let value = value
            .trim()
            .trim_matches(|c| c == '"' || c == '\'')
            .to_string();
        if let Some(last) = out.last_mut() {
            match key.trim() {
                "uid" => last.0 = Some(value),
                "type" => last.1 = Some(value),
                _ => {}
            }
        }
    }
    out.into_iter()
        .filter_map(|(uid, ty)| Some((uid?, ty?)))
        .collect()
}

// ------------------------------------------------------------------------------------------
// What the code defines: tables and columns, metric names.

/// Table name -> its columns, from the schema (unprefixed names, as the dashboards use them).
fn schema() -> BTreeMap<String, BTreeSet<String>> {
    weijian_ingest::sink::schema::tables()
        .into_iter()
        .map(|t| {
            let cols = t.columns.into_iter().map(|c| c.name).collect();
            (t.name.to_string(), cols)
        })
        .collect()
}

/// Gives a labelled metric vector one child so that `Registry::gather` reports it (gather
/// prunes families without any series).
fn touch<B: MetricVecBuilder>(vec: &MetricVec<B>) {
    let labels = vec.desc().first().map_or(0, |d| d.variable_labels.len());
    let values = vec!["dashboard-check"; labels];
    let _ = vec.get_metric_with_label_values(&values);
}

/// Every series name weijian exposes: each registered family's name, plus `_bucket`, `_sum`
/// and `_count` for histograms.
fn registered_metrics() -> anyhow::Result<BTreeSet<String>> {
    let registry = prometheus::Registry::new();
    let m = weijian_ingest::telemetry::metrics::Metrics::register(&registry)?;
    weijian_ingest::spool::SpoolMetrics::register(&registry)?;
    // The labelled vectors have no series until first use; gather() would leave them out.
    touch(&m.received);
    touch(&m.processed);
    touch(&m.rejected);
    touch(&m.rows_written);
    touch(&m.write_errors);
    touch(&m.alert_events);
    touch(&m.event_lag);
    let mut names = BTreeSet::new();
    for family in registry.gather() {
        let name = family.name();
        if family.get_field_type() == prometheus::proto::MetricType::HISTOGRAM {
            for suffix in ["_bucket", "_sum", "_count"] {
                names.insert(format!("{name}{suffix}"));
            }
        }
        names.insert(name.to_string());
    }
    Ok(names)
}

// ------------------------------------------------------------------------------------------
// SQL: a tokenizer and a table/column checker.

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// A bare or double-quoted identifier.
    Ident(String),
    /// A single-quoted string literal (content ignored).
    Str,
    Num,
    /// A Grafana variable or macro: `$x`, `${x}`, `$__x`.
    Var(String),
    Punct(char),
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn tokenize(sql: &str) -> Vec<Tok> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '-' && chars.get(i + 1) == Some(&'-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '\'' {
            i += 1;
            while i < chars.len() {
                if chars[i] == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            i += 1;
            out.push(Tok::Str);
        } else if c == '"' {
            let start = i + 1;
            i = start;
            while i < chars.len() && chars[i] != '"' {
                i += 1;
            }
            out.push(Tok::Ident(
                chars[start..i.min(chars.len())].iter().collect(),
            ));
            i += 1;
        } else if c == '$' {
            let start = i;
            i += 1;
            if chars.get(i) == Some(&'{') {
                while i < chars.len() && chars[i] != '}' {
                    i += 1;
                }
                i += 1;
            } else {
                while i < chars.len() && is_ident_char(chars[i]) {
                    i += 1;
                }
            }
            out.push(Tok::Var(chars[start..i.min(chars.len())].iter().collect()));
        } else if c.is_ascii_digit() {
            while i < chars.len() && (is_ident_char(chars[i]) || chars[i] == '.') {
                i += 1;
            }
            out.push(Tok::Num);
        } else if is_ident_char(c) {
            let start = i;
            while i < chars.len() && is_ident_char(chars[i]) {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else {
            out.push(Tok::Punct(c));
            i += 1;
        }
    }
    out
}

/// SQL and QuestDB keywords (upper case) that may appear where an identifier could.
const KEYWORDS: &[&str] = &[
    "ALIGN",
    "ALL",
    "AND",
    "AS",
    "ASC",
    "ASOF",
    "BETWEEN",
    "BOOLEAN",
    "BY",
    "CALENDAR",
    "CASE",
    "CROSS",
    "DATE",
    "DESC",
    "DISTINCT",
    "DOUBLE",
    "ELSE",
    "END",
    "EXCEPT",
    "FALSE",
    "FILL",
    "FIRST",
    "FLOAT",
    "FROM",
    "GROUP",
    "HAVING",
    "ILIKE",
    "IN",
    "INNER",
    "INT",
    "INTERSECT",
    "IS",
    "JOIN",
    "LATEST",
    "LEFT",
    "LIKE",
    "LIMIT",
    "LINEAR",
    "LONG",
    "LT",
    "NAN",
    "NONE",
    "NOT",
    "NULL",
    "OBSERVATION",
    "OFFSET",
    "ON",
    "OR",
    "ORDER",
    "OUTER",
    "PARTITION",
    "PREV",
    "SAMPLE",
    "SELECT",
    "SPLICE",
    "STRING",
    "SYMBOL",
    "THEN",
    "TIMESTAMP",
    "TO",
    "TRUE",
    "UNION",
    "VARCHAR",
    "WHEN",
    "WHERE",
    "WITH",
    "ZONE",
];

fn is_keyword(s: &str) -> bool {
    KEYWORDS.contains(&s.to_ascii_uppercase().as_str())
}

fn ident(t: Option<&Tok>) -> Option<&str> {
    match t {
        Some(Tok::Ident(s)) => Some(s.as_str()),
        _ => None,
    }
}

/// Checks one QuestDB query against the schema. Returns one message per problem.
///
/// Heuristic, for the queries we write: an identifier right after `FROM`/`JOIN` is a table
/// (unless it names a `WITH` query), and must exist; an identifier after `AS`, or right after a
/// table name or a closing parenthesis, is an alias. Every other identifier that is not a
/// keyword, not a function (followed by `(`), not an alias defined anywhere in the query and
/// not a qualifier (followed by `.`) must be a column of one of the referenced tables. String
/// literals, numbers and Grafana variables/macros are not identifiers.
fn check_sql(sql: &str, schema: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let toks = tokenize(sql);
    let kw = |t: Option<&Tok>, k: &str| ident(t).is_some_and(|s| s.eq_ignore_ascii_case(k));
    let mut problems = Vec::new();

    // WITH names: `name AS (`.
    let mut ctes = BTreeSet::new();
    for i in 0..toks.len() {
        if let Some(name) = ident(toks.get(i)) {
            if kw(toks.get(i + 1), "AS") && toks.get(i + 2) == Some(&Tok::Punct('(')) {
                ctes.insert(name.to_ascii_lowercase());
            }
        }
    }

    // Tables (positions and names) and aliases.
    let mut table_pos = BTreeSet::new();
    let mut tables = BTreeSet::new();
    let mut aliases = BTreeSet::new();
    for i in 0..toks.len() {
        if kw(toks.get(i), "FROM") || kw(toks.get(i), "JOIN") {
            if let Some(name) = ident(toks.get(i + 1)) {
                let lower = name.to_ascii_lowercase();
                table_pos.insert(i + 1);
                if ctes.contains(&lower) {
                    continue;
                }
                if schema.contains_key(&lower) {
                    tables.insert(lower);
                } else {
                    problems.push(format!("unknown table `{name}`"));
                }
                if let Some(alias) = ident(toks.get(i + 2)) {
                    if !is_keyword(alias) {
                        aliases.insert(alias.to_ascii_lowercase());
                    }
                }
            }
        }
        if kw(toks.get(i), "AS") || toks.get(i) == Some(&Tok::Punct(')')) {
            if let Some(alias) = ident(toks.get(i + 1)) {
                if !is_keyword(alias) {
                    aliases.insert(alias.to_ascii_lowercase());
                }
            }
        }
    }

    let columns: BTreeSet<&String> = tables.iter().flat_map(|t| &schema[t]).collect();
    let mut unknown = BTreeSet::new();
    for (i, tok) in toks.iter().enumerate() {
        let Tok::Ident(name) = tok else { continue };
        let lower = name.to_ascii_lowercase();
        let next = toks.get(i + 1);
        if is_keyword(name)
            || table_pos.contains(&i)
            || next == Some(&Tok::Punct('('))
            || next == Some(&Tok::Punct('.'))
            || aliases.contains(&lower)
            || ctes.contains(&lower)
            || columns.contains(&lower)
        {
            continue;
        }
        unknown.insert(name.clone());
    }
    for name in unknown {
        let tables: Vec<&str> = tables.iter().map(String::as_str).collect();
        problems.push(format!(
            "unknown column `{name}` (not in table(s) {})",
            tables.join(", ")
        ));
    }
    problems
}

// ------------------------------------------------------------------------------------------
// PromQL: metric names.

/// Metric names in a PromQL expression (identifiers starting with `weijian_`) that weijian
/// does not expose (`registered` includes the histogram series suffixes).
fn unknown_metrics(expr: &str, registered: &BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while let Some(pos) = expr[i..].find("weijian_") {
        let start = i + pos;
        let mut end = start;
        while end < bytes.len() && is_ident_char(bytes[end] as char) {
            end += 1;
        }
        let preceded = start > 0 && is_ident_char(bytes[start - 1] as char);
        let name = &expr[start..end];
        i = end;
        if !preceded && !registered.contains(name) {
            out.push(name.to_string());
        }
    }
    out
}

// ------------------------------------------------------------------------------------------
// Walking a dashboard.

/// A query found in a dashboard: where it is, which data source type runs it, its text.
#[derive(Debug)]
struct Query {
    place: String,
    ds_type: String,
    text: String,
}

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn ds_type(target: &Value, fallback: Option<&Value>) -> String {
    target
        .get("datasource")
        .or(fallback)
        .and_then(|d| str_at(d, "type"))
        .unwrap_or("")
        .to_string()
}

/// The query text of a target or variable query, for the data source type.
fn query_text(q: &Value, ty: &str) -> Option<String> {
    if let Some(s) = q.as_str() {
        return Some(s.to_string());
    }
    let key = if ty == QUESTDB_TYPE { "rawSql" } else { "expr" };
    str_at(q, key)
        .or_else(|| str_at(q, "query"))
        .map(str::to_string)
}

/// Every data source reference `{ "type", "uid" }` anywhere in the JSON, with its path.
fn datasource_refs(v: &Value, path: &str, out: &mut Vec<(String, String, String)>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let p = format!("{path}/{k}");
                if k == "datasource" {
                    match child {
                        Value::Object(_) => out.push((
                            p.clone(),
                            str_at(child, "uid").unwrap_or("").to_string(),
                            str_at(child, "type").unwrap_or("").to_string(),
                        )),
                        Value::String(s) => out.push((p.clone(), s.clone(), String::new())),
                        _ => {}
                    }
                }
                datasource_refs(child, &p, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                datasource_refs(child, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// Names of the Grafana variables and macros a query uses: `$name`, `${name}`, `${name:fmt}`.
fn variables_used(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices('$') {
        let rest = &text[i + 1..];
        let name: String = match rest.strip_prefix('{') {
            Some(braced) => braced
                .chars()
                .take_while(|&c| c != '}' && c != ':')
                .collect(),
            None => rest.chars().take_while(|&c| is_ident_char(c)).collect(),
        };
        if !name.is_empty() {
            out.push(name);
        }
    }
    out
}

/// Checks the Grafana shape of one dashboard and collects its queries.
fn check_dashboard(file: &str, d: &Value, problems: &mut Vec<String>) -> Vec<Query> {
    let mut queries = Vec::new();
    for key in ["title", "uid"] {
        if str_at(d, key).is_none_or(str::is_empty) {
            problems.push(format!("{file}: missing `{key}`"));
        }
    }
    if d.get("schemaVersion").and_then(Value::as_u64).is_none() {
        problems.push(format!("{file}: missing `schemaVersion`"));
    }

    // Template variables: names, and their own queries.
    let mut variables = BTreeSet::new();
    let vars = d
        .pointer("/templating/list")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for var in &vars {
        let name = str_at(var, "name").unwrap_or("").to_string();
        if str_at(var, "type") == Some("query") {
            let ty = ds_type(var, None);
            match var.get("query").and_then(|q| query_text(q, &ty)) {
                Some(text) if !text.trim().is_empty() => queries.push(Query {
                    place: format!("{file}, variable `{name}`"),
                    ds_type: ty,
                    text,
                }),
                _ => problems.push(format!("{file}, variable `{name}`: no query")),
            }
        }
        variables.insert(name);
    }

    // Panels (rows may nest panels).
    let mut panels: Vec<&Value> = Vec::new();
    match d.get("panels").and_then(Value::as_array) {
        Some(list) if !list.is_empty() => {
            for p in list {
                panels.push(p);
                if let Some(inner) = p.get("panels").and_then(Value::as_array) {
                    panels.extend(inner);
                }
            }
        }
        _ => problems.push(format!("{file}: no panels")),
    }
    let mut ids = BTreeSet::new();
    for p in panels {
        let title = str_at(p, "title").unwrap_or("").to_string();
        let here = format!("{file}, panel \"{title}\"");
        if title.is_empty() {
            problems.push(format!("{here}: no title"));
        }
        match p.get("id").and_then(Value::as_u64) {
            Some(id) if !ids.insert(id) => problems.push(format!("{here}: duplicate id {id}")),
            Some(_) => {}
            None => problems.push(format!("{here}: no id")),
        }
        let grid = p.get("gridPos");
        let dim = |k: &str| grid.and_then(|g| g.get(k)).and_then(Value::as_u64);
        match (dim("x"), dim("y"), dim("w"), dim("h")) {
            (Some(x), Some(_), Some(w), Some(h)) if w > 0 && h > 0 && x + w <= 24 => {}
            _ => problems.push(format!("{here}: missing or invalid gridPos")),
        }
        if str_at(p, "type") == Some("row") {
            continue;
        }
        let targets = p
            .get("targets")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if targets.is_empty() {
            problems.push(format!("{here}: no targets"));
        }
        let mut ref_ids = BTreeSet::new();
        for t in &targets {
            let ref_id = str_at(t, "refId").unwrap_or("").to_string();
            if !ref_ids.insert(ref_id.clone()) {
                problems.push(format!("{here}: duplicate refId `{ref_id}`"));
            }
            let ty = ds_type(t, p.get("datasource"));
            match query_text(t, &ty) {
                Some(text) if !text.trim().is_empty() => queries.push(Query {
                    place: here.clone(),
                    ds_type: ty,
                    text,
                }),
                _ => problems.push(format!("{here}: target `{ref_id}` has no query")),
            }
        }
    }

    // Every `$name` / `${name}` (not a `$__` macro) names a template variable.
    for q in &queries {
        for name in variables_used(&q.text) {
            if !name.starts_with("__") && !variables.contains(&name) {
                problems.push(format!("{}: undefined variable `${name}`", q.place));
            }
        }
    }
    queries
}

/// Runs every check over the dashboard files; returns the problems found.
fn check_all(
    files: &[(String, Value)],
    datasources: &[(String, String)],
    schema: &BTreeMap<String, BTreeSet<String>>,
    metrics: &BTreeSet<String>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut uids = BTreeMap::new();
    for (file, d) in files {
        if let Some(uid) = str_at(d, "uid") {
            if let Some(other) = uids.insert(uid.to_string(), file.clone()) {
                problems.push(format!("{file}: uid `{uid}` also used by {other}"));
            }
        }
        let mut refs = Vec::new();
        datasource_refs(d, "", &mut refs);
        for (path, uid, ty) in refs {
            if ty == "grafana" || ty == "datasource" {
                continue; // Grafana's built-in annotation / mixed sources
            }
            if !datasources.iter().any(|(u, t)| *u == uid && *t == ty) {
                problems.push(format!(
                    "{file} {path}: data source uid `{uid}` type `{ty}` is not provisioned"
                ));
            }
        }
        for q in check_dashboard(file, d, &mut problems) {
            match q.ds_type.as_str() {
                QUESTDB_TYPE => {
                    for p in check_sql(&q.text, schema) {
                        problems.push(format!("{}: {p}\n    in: {}", q.place, q.text));
                    }
                }
                PROMETHEUS_TYPE => {
                    for m in unknown_metrics(&q.text, metrics) {
                        problems.push(format!(
                            "{}: unknown metric `{m}` (weijian does not register it)\n    in: {}",
                            q.place, q.text
                        ));
                    }
                }
                other => problems.push(format!("{}: unexpected data source `{other}`", q.place)),
            }
        }
    }
    problems
}

fn load_dashboards() -> anyhow::Result<Vec<(String, Value)>> {
    let dir = dashboards_dir().join("json");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_string();
        let text = std::fs::read_to_string(&path)?;
        let value: Value =
            serde_json::from_str(&text).with_context(|| format!("{name} is not valid JSON"))?;
        files.push((name, value));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    if files.is_empty() {
        bail!("no dashboards in {}", dir.display());
    }
    Ok(files)
}

fn load_datasources() -> anyhow::Result<Vec<(String, String)>> {
    let path = dashboards_dir().join("provisioning/datasources/questdb.yaml");
    let yaml =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(provisioned_datasources(&yaml))
}

// ------------------------------------------------------------------------------------------
// Tests.

#[test]
fn dashboards_match_the_schema_the_metrics_and_the_provisioning() {
    let files = load_dashboards().unwrap();
    let datasources = load_datasources().unwrap();
    assert!(
        datasources.contains(&("weijian-questdb".into(), QUESTDB_TYPE.into()))
            && datasources.contains(&("weijian-prometheus".into(), PROMETHEUS_TYPE.into())),
        "provisioning must define the QuestDB and Prometheus data sources: {datasources:?}"
    );
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "alerts.json",
        "medical-waste.json",
        "operations.json",
        "sterilizers.json",
        "water-quality.json",
    ] {
        assert!(names.contains(&expected), "{expected} missing: {names:?}");
    }
    let problems = check_all(
        &files,
        &datasources,
        &schema(),
        &registered_metrics().unwrap(),
    );
    assert!(
        problems.is_empty(),
        "{} dashboard problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn every_dashboard_has_queries_of_both_kinds_overall() {
    // Guards the checker itself: if query extraction silently found nothing, the main test
    // would pass vacuously.
    let files = load_dashboards().unwrap();
    let mut problems = Vec::new();
    let mut sql = 0;
    let mut promql = 0;
    for (file, d) in &files {
        for q in check_dashboard(file, d, &mut problems) {
            match q.ds_type.as_str() {
                QUESTDB_TYPE => sql += 1,
                PROMETHEUS_TYPE => promql += 1,
                _ => {}
            }
        }
    }
    assert!(sql >= 15, "only {sql} SQL queries found");
    assert!(promql >= 15, "only {promql} PromQL queries found");
}

#[test]
fn the_metric_set_covers_labelled_vectors_and_the_spool() {
    let m = registered_metrics().unwrap();
    for name in [
        "weijian_accepted_readings_total",
        "weijian_rejected_total",
        "weijian_questdb_rows_written_total",
        "weijian_questdb_flush_duration_seconds_bucket",
        "weijian_event_lag_seconds_bucket",
        "weijian_spool_oldest_unwritten_age_seconds",
    ] {
        assert!(m.contains(name), "{name} not in {m:?}");
    }
}

#[test]
fn sql_checker_accepts_aliases_macros_functions_and_subqueries() {
    let schema = schema();
    let sql = "SELECT x.site, avg(ph) AS ph_avg, timestamp_floor('1h', ts) AS time
        FROM (SELECT * FROM water_quality WHERE $__timeFilter(ts)
              AND $__conditionalAll(site IN ($site), $site)) x
        WHERE stat = 'value' AND ph_flag != 'N'
        LATEST ON ts PARTITION BY device
        ORDER BY time, ph_avg DESC";
    assert_eq!(check_sql(sql, &schema), Vec::<String>::new());
    let cte = "WITH d AS (SELECT site, min(level) AS lvl FROM alerts) SELECT site, lvl FROM d";
    assert_eq!(check_sql(cte, &schema), Vec::<String>::new());
}

#[test]
fn sql_checker_catches_a_bogus_column_and_a_bogus_table() {
    let schema = schema();
    let problems = check_sql(
        "SELECT ts, turbidity_ntu, bogus_col FROM water_quality WHERE $__timeFilter(ts)",
        &schema,
    );
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("`bogus_col`"), "{problems:?}");

    // A real column of another table is still wrong here.
    let problems = check_sql("SELECT ts, reason FROM water_quality", &schema);
    assert!(
        problems.iter().any(|p| p.contains("`reason`")),
        "{problems:?}"
    );

    let problems = check_sql("SELECT ts FROM water_qualty", &schema);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("unknown table `water_qualty`")),
        "{problems:?}"
    );

    // Column names inside string literals or Grafana macros are not columns.
    assert!(check_sql("SELECT ts FROM alerts WHERE kind = 'nope col'", &schema).is_empty());
}

#[test]
fn promql_checker_catches_an_unregistered_metric() {
    let m = registered_metrics().unwrap();
    let ok = "histogram_quantile(0.99, sum by (le) (rate(weijian_questdb_flush_duration_seconds_bucket[5m])))";
    assert!(unknown_metrics(ok, &m).is_empty());
    let bad = "sum(rate(weijian_accepted_reading_total[5m])) + weijian_spool_bytes_bucket";
    assert_eq!(
        unknown_metrics(bad, &m),
        vec![
            "weijian_accepted_reading_total".to_string(),
            "weijian_spool_bytes_bucket".to_string()
        ]
    );
}

#[test]
fn whole_check_names_dashboard_panel_and_unknown_things() {
    let dashboard: Value = serde_json::json!({
        "uid": "x", "title": "X", "schemaVersion": 39,
        "panels": [{
            "id": 1, "type": "table", "title": "Broken panel",
            "gridPos": {"x": 0, "y": 0, "w": 12, "h": 4},
            "datasource": {"type": QUESTDB_TYPE, "uid": "weijian-questdb"},
            "targets": [{"refId": "A", "rawSql": "SELECT ts, nope FROM alerts WHERE site IN ($missing)"}]
        }, {
            "id": 2, "type": "stat", "title": "No grid",
            "datasource": {"type": PROMETHEUS_TYPE, "uid": "other-uid"},
            "targets": [{"refId": "A", "expr": "weijian_made_up"}]
        }]
    });
    let datasources = vec![
        ("weijian-questdb".to_string(), QUESTDB_TYPE.to_string()),
        (
            "weijian-prometheus".to_string(),
            PROMETHEUS_TYPE.to_string(),
        ),
    ];
    let problems = check_all(
        &[("x.json".into(), dashboard)],
        &datasources,
        &schema(),
        &registered_metrics().unwrap(),
    );
    let all = problems.join("\n");
    for expected in [
        "x.json, panel \"Broken panel\": unknown column `nope`",
        "x.json, panel \"Broken panel\": undefined variable `$missing`",
        "x.json, panel \"No grid\": missing or invalid gridPos",
        "x.json, panel \"No grid\": unknown metric `weijian_made_up`",
        "data source uid `other-uid` type `prometheus` is not provisioned",
    ] {
        assert!(all.contains(expected), "expected {expected:?} in:\n{all}");
    }
}

#[test]
fn provisioning_reader_reads_uid_and_type_per_item() {
    let yaml = "apiVersion: 1\ndatasources:\n  # comment\n  - name: A\n    uid: a-uid\n    type: questdb-questdb-datasource\n    jsonData:\n      type: nested-ignored\n  - name: B\n    type: prometheus # trailing\n    uid: \"b-uid\"\n";
    assert_eq!(
        provisioned_datasources(yaml),
        vec![
            ("a-uid".to_string(), QUESTDB_TYPE.to_string()),
            ("b-uid".to_string(), PROMETHEUS_TYPE.to_string())
        ]
    );
}
