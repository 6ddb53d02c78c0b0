//! Cell values and column types of the QuestDB double, and the casts from ILP wire values that
//! it accepts (stricter than QuestDB where noted in the module docs).

use serde_json::json;

use crate::ilp::IlpValue;

/// A stored cell value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL (absent column, NaN double, `i64::MIN` long).
    Null,
    /// SYMBOL column.
    Symbol(String),
    /// DOUBLE column.
    Double(f64),
    /// LONG or INT column.
    Long(i64),
    /// BOOLEAN column.
    Bool(bool),
    /// STRING or VARCHAR column.
    Str(String),
    /// TIMESTAMP column, microseconds since the epoch.
    Timestamp(i64),
}

impl Value {
    /// The string inside a `Symbol` or `Str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Symbol(s) | Value::Str(s) => Some(s),
            _ => None,
        }
    }
    /// The number inside a `Double`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Double(v) => Some(*v),
            _ => None,
        }
    }
    /// The number inside a `Long` or `Timestamp`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Long(v) | Value::Timestamp(v) => Some(*v),
            _ => None,
        }
    }
    /// Is it `Null`?
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The JSON representation QuestDB's `/exec` uses for this value.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Symbol(s) | Value::Str(s) => json!(s),
            Value::Double(v) if v.is_finite() => json!(v),
            Value::Double(_) => serde_json::Value::Null,
            Value::Long(v) => json!(v),
            Value::Bool(v) => json!(v),
            Value::Timestamp(v) => json!(format_timestamp_micros(*v)),
        }
    }
}

/// Format microseconds since the epoch as QuestDB's JSON does (`2024-01-01T00:00:00.000000Z`).
pub fn format_timestamp_micros(micros: i64) -> String {
    match chrono::DateTime::from_timestamp_micros(micros) {
        Some(dt) => dt.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        None => micros.to_string(),
    }
}

/// Column types the double understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// TIMESTAMP (micros).
    Timestamp,
    /// SYMBOL.
    Symbol,
    /// DOUBLE.
    Double,
    /// LONG.
    Long,
    /// INT.
    Int,
    /// BOOLEAN.
    Boolean,
    /// STRING.
    String,
    /// VARCHAR.
    Varchar,
}

impl ColumnType {
    /// Parse a SQL type name (case-insensitive).
    pub fn parse(s: &str) -> Option<ColumnType> {
        Some(match s.to_ascii_uppercase().as_str() {
            "TIMESTAMP" => ColumnType::Timestamp,
            "SYMBOL" => ColumnType::Symbol,
            "DOUBLE" => ColumnType::Double,
            "LONG" => ColumnType::Long,
            "INT" => ColumnType::Int,
            "BOOLEAN" => ColumnType::Boolean,
            "STRING" => ColumnType::String,
            "VARCHAR" => ColumnType::Varchar,
            _ => return None,
        })
    }
    /// The QuestDB name of the type.
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Timestamp => "TIMESTAMP",
            ColumnType::Symbol => "SYMBOL",
            ColumnType::Double => "DOUBLE",
            ColumnType::Long => "LONG",
            ColumnType::Int => "INT",
            ColumnType::Boolean => "BOOLEAN",
            ColumnType::String => "STRING",
            ColumnType::Varchar => "VARCHAR",
        }
    }
    pub(super) fn for_new_column(v: &IlpValue) -> ColumnType {
        match v {
            IlpValue::Symbol(_) => ColumnType::Symbol,
            IlpValue::Float(_) => ColumnType::Double,
            IlpValue::Integer(_) => ColumnType::Long,
            IlpValue::Bool(_) => ColumnType::Boolean,
            IlpValue::Str(_) => ColumnType::Varchar,
            IlpValue::TimestampMicros(_) => ColumnType::Timestamp,
        }
    }
    pub(super) fn missing_value(self) -> Value {
        match self {
            ColumnType::Boolean => Value::Bool(false),
            _ => Value::Null,
        }
    }
}

/// Convert a wire value into a column's value, or `None` for a cast error.
pub(super) fn convert(v: &IlpValue, ty: ColumnType) -> Option<Value> {
    Some(match (v, ty) {
        (IlpValue::Symbol(s), ColumnType::Symbol) => Value::Symbol(s.clone()),
        (IlpValue::Str(s), ColumnType::String | ColumnType::Varchar) => Value::Str(s.clone()),
        (IlpValue::Float(f), ColumnType::Double) if f.is_nan() => Value::Null,
        (IlpValue::Float(f), ColumnType::Double) => Value::Double(*f),
        (IlpValue::Integer(i), ColumnType::Double) => Value::Double(*i as f64),
        (IlpValue::Integer(i), ColumnType::Long) if *i == i64::MIN => Value::Null,
        (IlpValue::Integer(i), ColumnType::Long) => Value::Long(*i),
        (IlpValue::Integer(i), ColumnType::Int)
            if *i > i64::from(i32::MIN) && *i <= i64::from(i32::MAX) =>
        {
            Value::Long(*i)
        }
        (IlpValue::Bool(b), ColumnType::Boolean) => Value::Bool(*b),
        (IlpValue::TimestampMicros(t), ColumnType::Timestamp) => Value::Timestamp(*t),
        _ => return None,
    })
}
