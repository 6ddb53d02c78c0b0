//! Tables of the QuestDB double: schemas, stored rows, `DEDUP UPSERT KEYS` and reading rows
//! back in designated-timestamp order.

use std::collections::{BTreeMap, HashMap};

use super::value::{ColumnType, Value};

/// A table's schema.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSchema {
    /// Table name as first created.
    pub name: String,
    /// Columns in creation order.
    pub columns: Vec<(String, ColumnType)>,
    /// The designated timestamp column.
    pub designated_timestamp: String,
    /// `DEDUP UPSERT KEYS` (empty: no dedup).
    pub dedup_keys: Vec<String>,
    /// Created by `CREATE TABLE` (true) or auto-created by ILP (false).
    pub created_by_ddl: bool,
}

impl TableSchema {
    pub(super) fn column(&self, name: &str) -> Option<(&str, ColumnType)> {
        self.columns
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(name))
            .map(|(c, t)| (c.as_str(), *t))
    }
}

/// One stored row: column name -> value.
pub type Row = BTreeMap<String, Value>;

#[derive(Debug)]
pub(super) struct TableData {
    pub(super) schema: TableSchema,
    pub(super) rows: Vec<Row>,
    dedup_index: HashMap<String, usize>,
}

impl TableData {
    pub(super) fn new(schema: TableSchema) -> Self {
        TableData {
            schema,
            rows: Vec::new(),
            dedup_index: HashMap::new(),
        }
    }

    /// The dedup identity of `row`: its key columns' values (a missing one is NULL, and NULLs
    /// are equal, as in QuestDB).
    fn key(&self, row: &Row) -> String {
        self.schema
            .dedup_keys
            .iter()
            .map(|k| format!("{:?}", row.get(k).unwrap_or(&Value::Null)))
            .collect::<Vec<_>>()
            .join("\u{1}")
    }

    /// New dedup keys (`ALTER TABLE ... DEDUP ENABLE`): later rows are matched on them.
    pub(super) fn set_dedup_keys(&mut self, keys: Vec<String>) {
        self.schema.dedup_keys = keys;
        self.dedup_index.clear();
        for i in 0..self.rows.len() {
            let key = self.key(&self.rows[i]);
            self.dedup_index.insert(key, i);
        }
    }

    /// Rewrites every stored value of `column` (a type change).
    pub(super) fn convert_column(&mut self, column: &str, convert: impl Fn(Value) -> Value) {
        for row in &mut self.rows {
            if let Some(v) = row.remove(column) {
                row.insert(column.to_string(), convert(v));
            }
        }
        let keys = self.schema.dedup_keys.clone();
        self.set_dedup_keys(keys);
    }

    pub(super) fn insert(&mut self, row: Row) {
        if self.schema.dedup_keys.is_empty() {
            self.rows.push(row);
            return;
        }
        let key = self.key(&row);
        match self.dedup_index.get(&key) {
            Some(&i) => self.rows[i] = row,
            None => {
                self.dedup_index.insert(key, self.rows.len());
                self.rows.push(row);
            }
        }
    }

    /// Rows ordered by designated timestamp (stable), with every schema column present.
    pub(super) fn sorted_rows(&self) -> Vec<Row> {
        let ts = &self.schema.designated_timestamp;
        let mut rows: Vec<Row> = self
            .rows
            .iter()
            .map(|r| {
                let mut full = r.clone();
                for (c, t) in &self.schema.columns {
                    full.entry(c.clone()).or_insert_with(|| t.missing_value());
                }
                full
            })
            .collect();
        rows.sort_by_key(|r| r.get(ts).and_then(Value::as_i64).unwrap_or(i64::MIN));
        rows
    }
}
