//! The minimal SQL of the QuestDB double's `/exec`: a tokenizer, `CREATE TABLE` (with
//! `TIMESTAMP`, `PARTITION BY`, WAL and `DEDUP UPSERT KEYS`), `SELECT` (with a `WHERE` of
//! comparisons joined by `AND`, and `LIMIT`), `DROP TABLE`.

use serde_json::json;

use super::table::{TableData, TableSchema};
use super::value::{ColumnType, Value};
use super::{DbState, ExecError};

/// An `/exec` error at byte `position` of the query.
pub(super) fn exec_err<T>(position: usize, error: impl Into<String>) -> Result<T, ExecError> {
    Err(ExecError {
        error: error.into(),
        position,
    })
}

#[derive(Debug, Clone, PartialEq)]
struct Tok {
    text: String,
    pos: usize,
    quoted: bool,
}

fn tokenize(sql: &str) -> Result<Vec<Tok>, ExecError> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = sql.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (pos, c) = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' || c == '\'' {
            let mut text = String::new();
            i += 1;
            loop {
                let Some(&(_, d)) = chars.get(i) else {
                    return exec_err(pos, "unterminated quoted identifier");
                };
                i += 1;
                if d == c {
                    break;
                }
                text.push(d);
            }
            out.push(Tok {
                text,
                pos,
                quoted: true,
            });
        } else if "(),;*".contains(c) {
            out.push(Tok {
                text: c.to_string(),
                pos,
                quoted: false,
            });
            i += 1;
        } else {
            let mut text = String::new();
            while let Some(&(_, d)) = chars.get(i) {
                if d.is_whitespace() || "(),;*\"'".contains(d) {
                    break;
                }
                text.push(d);
                i += 1;
            }
            out.push(Tok {
                text,
                pos,
                quoted: false,
            });
        }
    }
    Ok(out)
}

pub(super) struct Sql {
    toks: Vec<Tok>,
    i: usize,
    len: usize,
}

impl Sql {
    pub(super) fn pos(&self) -> usize {
        self.toks.get(self.i).map_or(self.len, |t| t.pos)
    }
    pub(super) fn err<T>(&self, msg: impl Into<String>) -> Result<T, ExecError> {
        exec_err(self.pos(), msg)
    }
    pub(super) fn peek_kw(&self, kw: &str) -> bool {
        self.toks
            .get(self.i)
            .is_some_and(|t| !t.quoted && t.text.eq_ignore_ascii_case(kw))
    }
    pub(super) fn eat_kw(&mut self, kw: &str) -> bool {
        if self.peek_kw(kw) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    pub(super) fn expect(&mut self, kw: &str) -> Result<(), ExecError> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            self.err(format!("'{kw}' expected"))
        }
    }
    pub(super) fn ident(&mut self, what: &str) -> Result<String, ExecError> {
        match self.toks.get(self.i) {
            Some(t) if t.quoted || !"(),;*".contains(t.text.as_str()) => {
                self.i += 1;
                Ok(t.text.clone())
            }
            _ => self.err(format!("{what} expected")),
        }
    }
    pub(super) fn ident_list(&mut self, what: &str) -> Result<Vec<String>, ExecError> {
        self.expect("(")?;
        let mut v = vec![self.ident(what)?];
        while self.eat_kw(",") {
            v.push(self.ident(what)?);
        }
        self.expect(")")?;
        Ok(v)
    }
    pub(super) fn end(&mut self) -> Result<(), ExecError> {
        self.eat_kw(";");
        if self.i < self.toks.len() {
            return self.err("unexpected token");
        }
        Ok(())
    }
}

pub(super) fn exec_sql(st: &mut DbState, sql: &str) -> Result<serde_json::Value, ExecError> {
    let mut p = Sql {
        toks: tokenize(sql)?,
        i: 0,
        len: sql.len(),
    };
    if p.eat_kw("CREATE") {
        create_table(st, &mut p)
    } else if p.eat_kw("DROP") {
        p.expect("TABLE")?;
        let if_exists = if p.eat_kw("IF") {
            p.expect("EXISTS")?;
            true
        } else {
            false
        };
        let pos = p.pos();
        let name = p.ident("table name")?;
        p.end()?;
        if st.tables.remove(&name.to_ascii_lowercase()).is_none() && !if_exists {
            return exec_err(pos, format!("table does not exist [table={name}]"));
        }
        Ok(json!({"ddl": "OK"}))
    } else if p.eat_kw("ALTER") {
        super::alter::alter_table(st, &mut p)
    } else if p.eat_kw("SELECT") {
        select(st, &mut p, sql)
    } else {
        p.err("the QuestDB double only supports CREATE TABLE, ALTER TABLE, DROP TABLE and simple SELECT")
    }
}

fn create_table(st: &mut DbState, p: &mut Sql) -> Result<serde_json::Value, ExecError> {
    p.expect("TABLE")?;
    let if_not_exists = if p.eat_kw("IF") {
        p.expect("NOT")?;
        p.expect("EXISTS")?;
        true
    } else {
        false
    };
    let name_pos = p.pos();
    let name = p.ident("table name")?;
    p.expect("(")?;
    let mut columns: Vec<(String, ColumnType)> = Vec::new();
    loop {
        let cpos = p.pos();
        let col = p.ident("column name")?;
        let tpos = p.pos();
        let ty_name = p.ident("column type")?;
        let Some(ty) = ColumnType::parse(&ty_name) else {
            return exec_err(tpos, format!("unsupported column type: {ty_name}"));
        };
        if columns.iter().any(|(c, _)| c.eq_ignore_ascii_case(&col)) {
            return exec_err(cpos, format!("Duplicate column [name={col}]"));
        }
        columns.push((col, ty));
        // Skip modifiers such as `CAPACITY 256 CACHE INDEX`.
        while !p.peek_kw(",") && !p.peek_kw(")") {
            if p.i >= p.toks.len() {
                return p.err("')' expected");
            }
            p.i += 1;
        }
        if p.eat_kw(")") {
            break;
        }
        p.expect(",")?;
    }
    let mut designated = None;
    if p.eat_kw("TIMESTAMP") {
        p.expect("(")?;
        let pos = p.pos();
        let col = p.ident("timestamp column")?;
        p.expect(")")?;
        match columns.iter().find(|(c, _)| c.eq_ignore_ascii_case(&col)) {
            Some((c, ColumnType::Timestamp)) => designated = Some(c.clone()),
            Some(_) => return exec_err(pos, "TIMESTAMP column expected"),
            None => return exec_err(pos, "invalid designated timestamp column"),
        }
    }
    let mut partitioned = false;
    if p.eat_kw("PARTITION") {
        p.expect("BY")?;
        let pos = p.pos();
        let unit = p.ident("partition unit")?;
        if !["NONE", "HOUR", "DAY", "WEEK", "MONTH", "YEAR"]
            .iter()
            .any(|u| u.eq_ignore_ascii_case(&unit))
        {
            return exec_err(pos, format!("invalid partition unit: {unit}"));
        }
        partitioned = !unit.eq_ignore_ascii_case("NONE");
        if partitioned && designated.is_none() {
            return exec_err(
                pos,
                "partitioning is possible only on tables with designated timestamps",
            );
        }
    }
    let mut wal = partitioned;
    if p.eat_kw("BYPASS") {
        p.expect("WAL")?;
        wal = false;
    } else if p.eat_kw("WAL") {
        wal = true;
    }
    let mut dedup_keys = Vec::new();
    if p.eat_kw("DEDUP") {
        let pos = p.pos();
        p.expect("UPSERT")?;
        p.expect("KEYS")?;
        if !wal {
            return exec_err(pos, "deduplication is possible only on WAL tables");
        }
        for k in p.ident_list("dedup key")? {
            let Some((c, _)) = columns.iter().find(|(c, _)| c.eq_ignore_ascii_case(&k)) else {
                return exec_err(
                    pos,
                    format!("deduplicate key column not found [column={k}]"),
                );
            };
            dedup_keys.push(c.clone());
        }
        let Some(ts) = &designated else {
            return exec_err(
                pos,
                "deduplication is possible only on tables with designated timestamp",
            );
        };
        if !dedup_keys.contains(ts) {
            return exec_err(
                pos,
                format!(
                    "deduplicate key list must include dedicated timestamp column [column={ts}]"
                ),
            );
        }
    }
    p.end()?;
    let Some(designated) = designated else {
        return exec_err(
            name_pos,
            "the QuestDB double requires a designated TIMESTAMP(col)",
        );
    };
    let key = name.to_ascii_lowercase();
    if st.tables.contains_key(&key) {
        if if_not_exists {
            return Ok(json!({"ddl": "OK"}));
        }
        return exec_err(name_pos, format!("table already exists [table={name}]"));
    }
    st.tables.insert(
        key,
        TableData::new(TableSchema {
            name,
            columns,
            designated_timestamp: designated,
            dedup_keys,
            created_by_ddl: true,
        }),
    );
    Ok(json!({"ddl": "OK"}))
}

fn select(st: &DbState, p: &mut Sql, sql: &str) -> Result<serde_json::Value, ExecError> {
    // SELECT count() FROM t | SELECT * FROM t | SELECT a, b FROM t
    let mut count = false;
    let mut cols: Vec<(usize, String)> = Vec::new();
    // `SELECT 1` (liveness check).
    if let Some(n) = p
        .toks
        .get(p.i)
        .filter(|t| !t.quoted)
        .and_then(|t| t.text.parse::<i64>().ok())
    {
        p.i += 1;
        p.end()?;
        return Ok(json!({
            "query": sql,
            "columns": [{"name": n.to_string(), "type": "INT"}],
            "timestamp": -1,
            "dataset": [[n]],
            "count": 1
        }));
    }
    if p.eat_kw("count") {
        p.expect("(")?;
        p.expect(")")?;
        count = true;
    } else if !p.eat_kw("*") {
        loop {
            let pos = p.pos();
            cols.push((pos, p.ident("column")?));
            if !p.eat_kw(",") {
                break;
            }
        }
    }
    p.expect("FROM")?;
    let tpos = p.pos();
    let table = p.ident("table name")?;
    let Some(t) = st.tables.get(&table.to_ascii_lowercase()) else {
        return exec_err(tpos, format!("table does not exist [table={table}]"));
    };
    let mut conditions = Vec::new();
    if p.eat_kw("WHERE") {
        loop {
            conditions.push(condition(p, t)?);
            if !p.eat_kw("AND") {
                break;
            }
        }
    }
    let mut limit = usize::MAX;
    if p.eat_kw("LIMIT") {
        let pos = p.pos();
        let n = p.ident("row count")?;
        limit = n.parse().map_err(|_| ExecError {
            error: format!("LIMIT expects a number, got {n}"),
            position: pos,
        })?;
    }
    p.end()?;
    let rows: Vec<_> = t
        .sorted_rows()
        .into_iter()
        .filter(|r| conditions.iter().all(|c| c.holds(r)))
        .take(limit)
        .collect();
    if count {
        return Ok(json!({
            "query": sql,
            "columns": [{"name": "count()", "type": "LONG"}],
            "timestamp": -1,
            "dataset": [[rows.len()]],
            "count": 1
        }));
    }
    let mut selected = Vec::new();
    if cols.is_empty() {
        selected.clone_from(&t.schema.columns);
    } else {
        for (pos, c) in cols {
            match t.schema.column(&c) {
                Some((n, ty)) => selected.push((n.to_string(), ty)),
                None => return exec_err(pos, format!("Invalid column: {c}")),
            }
        }
    }
    let dataset: Vec<Vec<serde_json::Value>> = rows
        .iter()
        .map(|r| {
            selected
                .iter()
                .map(|(c, _)| r.get(c).map_or(serde_json::Value::Null, Value::to_json))
                .collect()
        })
        .collect();
    Ok(json!({
        "query": sql,
        "columns": selected.iter().map(|(c, t)| json!({"name": c, "type": t.name()})).collect::<Vec<_>>(),
        "timestamp": selected.iter().position(|(c, _)| *c == t.schema.designated_timestamp).map_or(-1, |i| i as i64),
        "dataset": dataset,
        "count": rows.len()
    }))
}

/// One `column <op> literal` of a `WHERE`.
struct Condition {
    column: String,
    op: String,
    literal: Value,
}

impl Condition {
    fn holds(&self, row: &super::table::Row) -> bool {
        let Some(have) = row.get(&self.column) else {
            return false;
        };
        let ord = match (have, &self.literal) {
            (Value::Timestamp(a), Value::Timestamp(b)) | (Value::Long(a), Value::Long(b)) => {
                a.partial_cmp(b)
            }
            (Value::Double(a), Value::Double(b)) => a.partial_cmp(b),
            (Value::Long(a), Value::Double(b)) => (*a as f64).partial_cmp(b),
            (Value::Double(a), Value::Long(b)) => a.partial_cmp(&(*b as f64)),
            (a, b) => match (a.as_str(), b.as_str()) {
                (Some(x), Some(y)) => x.partial_cmp(y),
                // NULL compares with nothing (QuestDB: only `= NULL` matches it).
                _ => None,
            },
        };
        let Some(ord) = ord else { return false };
        match self.op.as_str() {
            "=" => ord.is_eq(),
            "!=" | "<>" => ord.is_ne(),
            "<" => ord.is_lt(),
            "<=" => ord.is_le(),
            ">" => ord.is_gt(),
            _ => ord.is_ge(),
        }
    }
}

/// `column op literal`: a quoted literal is text, or a timestamp when the column is one (as
/// QuestDB reads `ts >= '2026-11-22T00:00:00.000000Z'`); an unquoted one a number.
fn condition(p: &mut Sql, t: &TableData) -> Result<Condition, ExecError> {
    let cpos = p.pos();
    let column = p.ident("column")?;
    let Some((name, ty)) = t.schema.column(&column) else {
        return exec_err(cpos, format!("Invalid column: {column}"));
    };
    let name = name.to_string();
    let opos = p.pos();
    let op = p.ident("operator")?;
    if !["=", "!=", "<>", "<", "<=", ">", ">="].contains(&op.as_str()) {
        return exec_err(
            opos,
            format!("unexpected token [{op}]; the QuestDB double supports =, !=, <, <=, >, >="),
        );
    }
    let lpos = p.pos();
    let Some(tok) = p.toks.get(p.i).cloned() else {
        return p.err("literal expected");
    };
    p.i += 1;
    let literal = if tok.quoted {
        if ty == ColumnType::Timestamp {
            let micros = chrono::DateTime::parse_from_rfc3339(&tok.text)
                .map_err(|_| ExecError {
                    error: format!("Invalid date [str={}]", tok.text),
                    position: lpos,
                })?
                .timestamp_micros();
            Value::Timestamp(micros)
        } else {
            Value::Str(tok.text)
        }
    } else if let Ok(n) = tok.text.parse::<i64>() {
        Value::Long(n)
    } else if let Ok(x) = tok.text.parse::<f64>() {
        Value::Double(x)
    } else {
        return exec_err(lpos, format!("Invalid column: {}", tok.text));
    };
    Ok(Condition {
        column: name,
        op,
        literal,
    })
}
