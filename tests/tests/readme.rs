//! The documentation (`docs/`, linked from the README) is the user-facing copy of the
//! contract: every table and column of the schema, every rejection code and every metric
//! weijian registers must appear in it.

use weijian_ingest::reject::Reason;
use weijian_ingest::sink::schema::tables;

/// The documentation pages these checks read (each section below lives in one of them).
const DOCS: &[&str] = &[
    include_str!("../../docs/tables.md"),
    include_str!("../../docs/payload-contract.md"),
    include_str!("../../docs/operations.md"),
    include_str!("../../docs/configuration.md"),
];

/// The text of the section `title` (up to the next `## ` heading) in whichever page holds it.
fn section(title: &str) -> &'static str {
    let (doc, start) = DOCS
        .iter()
        .find_map(|doc| doc.find(title).map(|start| (*doc, start)))
        .unwrap_or_else(|| panic!("no page of docs/ has a section {title:?}"));
    let rest = &doc[start + title.len()..];
    let end = rest.find("\n## ").unwrap_or(rest.len());
    &rest[..end]
}

#[test]
fn the_readme_schema_names_every_table_and_column() {
    let schema = section("## Table schema");
    for table in tables() {
        let row = schema
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", table.name)))
            .unwrap_or_else(|| panic!("README schema has no row for table {}", table.name));
        for column in &table.columns {
            let name = column.name.strip_suffix("_flag").unwrap_or(&column.name);
            assert!(
                row.contains(&format!("`{name}`"))
                    || (column.name.ends_with("_flag") && row.contains("`<metric>_flag`")),
                "README schema row of {} does not name column {}",
                table.name,
                column.name
            );
        }
        for key in &table.dedup_keys {
            assert!(
                row.contains(key),
                "README schema row of {} does not list dedup key {key}",
                table.name
            );
        }
    }
}

#[test]
fn the_readme_lists_every_rejection_code() {
    let readme = section("### Rejection reasons");
    for reason in Reason::ALL {
        assert!(
            readme.contains(&format!("`{}`", reason.code())),
            "README lacks rejection code {}",
            reason.code()
        );
    }
}

#[test]
fn the_readme_lists_every_metric() {
    let registry = prometheus::Registry::new();
    let m = weijian_ingest::telemetry::metrics::Metrics::register(&registry).unwrap();
    // Label vectors only show up once a child exists.
    m.received.with_label_values(&["1"]);
    m.processed.with_label_values(&["telemetry"]);
    m.rows_written.with_label_values(&["water_quality"]);
    m.write_errors.with_label_values(&["unavailable"]);
    m.alert_events.with_label_values(&["W2", "II", "firing"]);
    m.event_lag.with_label_values(&["telemetry"]);
    weijian_ingest::spool::SpoolMetrics::register(&registry).unwrap();
    let outbox = weijian_service::supervision::outbox::OutboxMetrics::register(&registry).unwrap();
    outbox.notices.with_label_values(&["webhook", "delivered"]);
    let api = weijian_service::api::ApiMetrics::register(&registry).unwrap();
    api.refused.with_label_values(&["401"]);
    weijian_ingest::source::hj212_tcp::Hj212TcpMetrics::register(&registry).unwrap();
    let metrics = section("## Metrics and health");
    let names: Vec<String> = registry
        .gather()
        .iter()
        .map(|f| f.name().to_string())
        .collect();
    assert!(names.len() >= 24, "{names:?}");
    for name in names {
        assert!(
            metrics.contains(&format!("`{name}")),
            "README metrics table lacks {name}"
        );
    }
}

#[test]
fn the_readme_documents_registry_files() {
    let config = section("## Configuration reference");
    for key in ["registry.sites_file", "registry.devices_file", "JSON Lines"] {
        assert!(config.contains(key), "README configuration lacks {key}");
    }
}
