//! `ALTER TABLE` in the QuestDB double, the three forms weijian uses to bring a table of an
//! earlier version up to date, answering as QuestDB 9.3.5 does: `ADD COLUMN [IF NOT EXISTS]`,
//! `DEDUP ENABLE UPSERT KEYS(...)` (replaces the key list; the designated timestamp must be
//! in it) and `ALTER COLUMN c TYPE t` (an error when the column already has that type).

use serde_json::json;

use super::sql::{exec_err, Sql};
use super::value::{ColumnType, Value};
use super::{DbState, ExecError};

pub(super) fn alter_table(st: &mut DbState, p: &mut Sql) -> Result<serde_json::Value, ExecError> {
    p.expect("TABLE")?;
    let name_pos = p.pos();
    let name = p.ident("table name")?;
    let Some(table) = st.tables.get_mut(&name.to_ascii_lowercase()) else {
        return exec_err(name_pos, format!("table does not exist [table={name}]"));
    };
    if p.eat_kw("ADD") {
        p.expect("COLUMN")?;
        let if_not_exists = if p.eat_kw("IF") {
            p.expect("NOT")?;
            p.expect("EXISTS")?;
            true
        } else {
            false
        };
        let cpos = p.pos();
        let column = p.ident("column name")?;
        let tpos = p.pos();
        let ty_name = p.ident("column type")?;
        p.end()?;
        let Some(ty) = ColumnType::parse(&ty_name) else {
            return exec_err(tpos, format!("unsupported column type: {ty_name}"));
        };
        if table.schema.column(&column).is_some() {
            if if_not_exists {
                return Ok(json!({"ddl": "OK"}));
            }
            return exec_err(cpos, format!("column '{column}' already exists"));
        }
        table.schema.columns.push((column, ty));
    } else if p.eat_kw("DEDUP") {
        let pos = p.pos();
        p.expect("ENABLE")?;
        p.expect("UPSERT")?;
        p.expect("KEYS")?;
        let mut keys = Vec::new();
        for k in p.ident_list("dedup key")? {
            let Some((c, _)) = table.schema.column(&k) else {
                return exec_err(
                    pos,
                    format!("deduplicate key column not found [column={k}]"),
                );
            };
            keys.push(c.to_string());
        }
        p.end()?;
        if !keys.contains(&table.schema.designated_timestamp) {
            return exec_err(
                pos,
                format!(
                    "deduplicate key list must include dedicated timestamp column [column={}]",
                    table.schema.designated_timestamp
                ),
            );
        }
        table.set_dedup_keys(keys);
    } else if p.eat_kw("ALTER") {
        p.expect("COLUMN")?;
        let cpos = p.pos();
        let column = p.ident("column name")?;
        p.expect("TYPE")?;
        let tpos = p.pos();
        let ty_name = p.ident("column type")?;
        p.end()?;
        let Some(ty) = ColumnType::parse(&ty_name) else {
            return exec_err(tpos, format!("unsupported column type: {ty_name}"));
        };
        let Some((stored, old)) = table
            .schema
            .column(&column)
            .map(|(c, t)| (c.to_string(), t))
        else {
            return exec_err(cpos, format!("column '{column}' does not exist"));
        };
        if old == ty {
            return exec_err(
                tpos,
                format!("column '{column}' type is already '{}'", ty.name()),
            );
        }
        let text_types = [ColumnType::Symbol, ColumnType::String, ColumnType::Varchar];
        if !(text_types.contains(&old) && text_types.contains(&ty)) {
            return exec_err(
                tpos,
                "the QuestDB double converts only between SYMBOL, STRING and VARCHAR",
            );
        }
        for (c, t) in &mut table.schema.columns {
            if *c == stored {
                *t = ty;
            }
        }
        table.convert_column(&stored, |v| match v {
            Value::Symbol(s) | Value::Str(s) if ty == ColumnType::Symbol => Value::Symbol(s),
            Value::Symbol(s) | Value::Str(s) => Value::Str(s),
            other => other,
        });
    } else {
        return p.err("the QuestDB double supports ALTER TABLE ADD COLUMN, DEDUP ENABLE and ALTER COLUMN TYPE");
    }
    Ok(json!({"ddl": "OK"}))
}
