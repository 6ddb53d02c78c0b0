//! The types of the QuestDB schema: column types, columns and tables with their DDL. The tables
//! themselves are listed in `schema.rs` (and, for the domains, `waste.rs`, `cycles.rs`,
//! `risk.rs`), which all build on these.

/// QuestDB column types used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Timestamp,
    Symbol,
    Double,
    Long,
    Boolean,
    Varchar,
}

impl ColumnType {
    pub const fn sql(self) -> &'static str {
        match self {
            Self::Timestamp => "TIMESTAMP",
            Self::Symbol => "SYMBOL",
            Self::Double => "DOUBLE",
            Self::Long => "LONG",
            Self::Boolean => "BOOLEAN",
            Self::Varchar => "VARCHAR",
        }
    }
}

/// A column of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub ty: ColumnType,
    pub doc: &'static str,
}

/// A table: its unprefixed name, columns (the designated timestamp `ts` first) and dedup keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub name: &'static str,
    pub doc: &'static str,
    pub columns: Vec<Column>,
    pub dedup_keys: Vec<&'static str>,
}

impl Table {
    /// `CREATE TABLE IF NOT EXISTS` in QuestDB's dialect.
    pub fn ddl(&self, prefix: &str) -> String {
        let cols: Vec<String> = self
            .columns
            .iter()
            .map(|c| format!("{} {}", c.name, c.ty.sql()))
            .collect();
        format!(
            "CREATE TABLE IF NOT EXISTS {prefix}{} ({}) TIMESTAMP(ts) PARTITION BY DAY WAL DEDUP UPSERT KEYS({});",
            self.name,
            cols.join(", "),
            self.dedup_keys.join(", ")
        )
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// A column with its documentation.
pub(super) fn col(name: impl Into<String>, ty: ColumnType, doc: &'static str) -> Column {
    Column {
        name: name.into(),
        ty,
        doc,
    }
}
