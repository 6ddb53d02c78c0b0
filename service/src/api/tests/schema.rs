//! A small JSON Schema validator for the subset of JSON Schema 2020-12 that utoipa writes into
//! an OpenAPI 3.1 document: `$ref` (local), `type` (one or several), `enum`, `const`,
//! `properties`, `required`, `additionalProperties`, `items`, `allOf`, `oneOf`, `anyOf`,
//! `minimum`, `maximum`, `minLength`, `maxLength`, `format: date-time`. Any other keyword that
//! constrains values is refused, so nothing is skipped silently (`pattern` and the numeric
//! formats are read as annotations: they only appear in parameters and request bodies).
//!
//! It is stricter than JSON Schema in one way: an object may only have the properties that the
//! schemas at its place declare (as if every object schema said `unevaluatedProperties:
//! false`), unless one of them allows more (`additionalProperties`) or none declares any (a
//! free-form `type: object`). So an answer with a field the document does not know fails.

use std::collections::BTreeSet;

use serde_json::Value;

/// Keywords that only describe.
const ANNOTATIONS: &[&str] = &[
    "description",
    "title",
    "default",
    "examples",
    "example",
    "deprecated",
    "readOnly",
    "writeOnly",
    "pattern",
    "format",
    "contentMediaType",
    "contentEncoding",
];

/// Keywords checked below.
const CHECKED: &[&str] = &[
    "$ref",
    "type",
    "enum",
    "const",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "allOf",
    "oneOf",
    "anyOf",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
];

/// What the schemas at one place in a value said about its properties.
#[derive(Debug, Default)]
struct Seen {
    /// Properties some schema declares.
    declared: BTreeSet<String>,
    /// Some schema declares properties.
    closed: bool,
    /// Some schema allows other properties.
    open: bool,
}

impl Seen {
    fn merge(&mut self, other: Seen) {
        self.declared.extend(other.declared);
        self.closed |= other.closed;
        self.open |= other.open;
    }
}

/// Validates values against the schemas of one document (the root `$ref`s point into).
#[derive(Debug)]
pub struct Validator<'a> {
    root: &'a Value,
}

impl<'a> Validator<'a> {
    pub fn new(root: &'a Value) -> Self {
        Self { root }
    }

    /// What is wrong with `value` against `schema`, each as `<JSON pointer>: <what>`;
    /// empty when it conforms.
    pub fn errors(&self, value: &Value, schema: &Value) -> Vec<String> {
        self.place(value, schema, "", 0).err().unwrap_or_default()
    }

    /// Resolves a local reference (`#/components/schemas/Alert`).
    pub fn resolve(&self, reference: &str) -> Option<&'a Value> {
        let pointer = reference.strip_prefix('#')?;
        self.root.pointer(pointer)
    }

    /// `value` at `at` against `schema`, then its properties against all the schemas there.
    fn place(
        &self,
        value: &Value,
        schema: &Value,
        at: &str,
        depth: usize,
    ) -> Result<(), Vec<String>> {
        let seen = self.check(value, schema, at, depth)?;
        if let Value::Object(map) = value {
            if seen.closed && !seen.open {
                let unknown: Vec<String> = map
                    .keys()
                    .filter(|k| !seen.declared.contains(*k))
                    .map(|k| format!("{at}/{k}: not in the schema"))
                    .collect();
                if !unknown.is_empty() {
                    return Err(unknown);
                }
            }
        }
        Ok(())
    }

    fn check(
        &self,
        value: &Value,
        schema: &Value,
        at: &str,
        depth: usize,
    ) -> Result<Seen, Vec<String>> {
        if depth > 64 {
            return Err(vec![format!(
                "{at}: schema nesting deeper than 64 (a $ref loop?)"
            )]);
        }
        let s = match schema {
            Value::Bool(true) => {
                return Ok(Seen {
                    open: true,
                    ..Seen::default()
                })
            }
            Value::Bool(false) => return Err(vec![format!("{at}: no value is allowed")]),
            Value::Object(s) => s,
            other => return Err(vec![format!("{at}: the schema {other} is not an object")]),
        };
        let mut errors = Vec::new();
        let mut seen = Seen::default();
        for key in s.keys() {
            if !CHECKED.contains(&key.as_str()) && !ANNOTATIONS.contains(&key.as_str()) {
                errors.push(format!("{at}: unsupported schema keyword `{key}`"));
            }
        }
        if let Some(r) = s.get("$ref") {
            match r.as_str().and_then(|r| self.resolve(r)) {
                Some(target) => match self.check(value, target, at, depth + 1) {
                    Ok(s) => seen.merge(s),
                    Err(e) => errors.extend(e),
                },
                None => errors.push(format!("{at}: unresolved $ref {r}")),
            }
        }
        if let Some(t) = s.get("type") {
            let types: Vec<&str> = match t {
                Value::String(t) => vec![t.as_str()],
                Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            if !types.iter().any(|t| is_type(value, t)) {
                errors.push(format!("{at}: {} is not of type {t}", brief(value)));
            }
        }
        if let Some(Value::Array(values)) = s.get("enum") {
            if !values.contains(value) {
                errors.push(format!("{at}: {} is not one of {values:?}", brief(value)));
            }
        }
        if let Some(c) = s.get("const") {
            if c != value {
                errors.push(format!("{at}: {} is not {c}", brief(value)));
            }
        }
        if let Some(n) = value.as_f64() {
            if let Some(min) = s.get("minimum").and_then(Value::as_f64) {
                if n < min {
                    errors.push(format!("{at}: {n} < minimum {min}"));
                }
            }
            if let Some(max) = s.get("maximum").and_then(Value::as_f64) {
                if n > max {
                    errors.push(format!("{at}: {n} > maximum {max}"));
                }
            }
        }
        if let Value::String(text) = value {
            let n = text.chars().count() as u64;
            if s.get("minLength")
                .and_then(Value::as_u64)
                .is_some_and(|m| n < m)
            {
                errors.push(format!("{at}: shorter than minLength"));
            }
            if s.get("maxLength")
                .and_then(Value::as_u64)
                .is_some_and(|m| n > m)
            {
                errors.push(format!("{at}: longer than maxLength"));
            }
            if s.get("format").and_then(Value::as_str) == Some("date-time")
                && chrono::DateTime::parse_from_rfc3339(text).is_err()
            {
                errors.push(format!("{at}: `{text}` is not an RFC 3339 date-time"));
            }
        }
        if let Value::Object(map) = value {
            if let Some(Value::Array(required)) = s.get("required") {
                for name in required.iter().filter_map(Value::as_str) {
                    if !map.contains_key(name) {
                        errors.push(format!("{at}: required property `{name}` is missing"));
                    }
                }
            }
            let properties = s.get("properties").and_then(Value::as_object);
            if let Some(properties) = properties {
                seen.closed = true;
                for (name, sub) in properties {
                    seen.declared.insert(name.clone());
                    if let Some(v) = map.get(name) {
                        if let Err(e) = self.place(v, sub, &format!("{at}/{name}"), depth + 1) {
                            errors.extend(e);
                        }
                    }
                }
            }
            match s.get("additionalProperties") {
                None => {}
                Some(Value::Bool(false)) => seen.closed = true,
                Some(extra) => {
                    seen.open = true;
                    for (name, v) in map {
                        if properties.is_some_and(|p| p.contains_key(name)) {
                            continue;
                        }
                        if let Err(e) = self.place(v, extra, &format!("{at}/{name}"), depth + 1) {
                            errors.extend(e);
                        }
                    }
                }
            }
        }
        if let (Value::Array(items), Some(item)) = (value, s.get("items")) {
            for (i, v) in items.iter().enumerate() {
                if let Err(e) = self.place(v, item, &format!("{at}/{i}"), depth + 1) {
                    errors.extend(e);
                }
            }
        }
        if let Some(Value::Array(all)) = s.get("allOf") {
            for sub in all {
                match self.check(value, sub, at, depth + 1) {
                    Ok(s) => seen.merge(s),
                    Err(e) => errors.extend(e),
                }
            }
        }
        for (keyword, exactly_one) in [("oneOf", true), ("anyOf", false)] {
            if let Some(Value::Array(subs)) = s.get(keyword) {
                let mut passed = Vec::new();
                let mut failed = Vec::new();
                for sub in subs {
                    match self.check(value, sub, at, depth + 1) {
                        Ok(s) => passed.push(s),
                        Err(e) => failed.push(e.join("; ")),
                    }
                }
                let ok = if exactly_one {
                    passed.len() == 1
                } else {
                    !passed.is_empty()
                };
                if ok {
                    for s in passed {
                        seen.merge(s);
                    }
                } else {
                    errors.push(format!(
                        "{at}: {} of the {} `{keyword}` schemas match ({})",
                        passed.len(),
                        subs.len(),
                        failed.join(" | ")
                    ));
                }
            }
        }
        if errors.is_empty() {
            Ok(seen)
        } else {
            Err(errors)
        }
    }
}

fn is_type(value: &Value, t: &str) -> bool {
    match t {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "number" => value.is_number(),
        "integer" => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => false,
    }
}

/// A value in an error message, cut short.
fn brief(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(80) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A change to a value.
    type Change = Box<dyn Fn(&mut Value)>;

    fn doc() -> Value {
        json!({
            "components": { "schemas": {
                "Grid": {
                    "type": "object",
                    "required": ["district", "street"],
                    "properties": {
                        "district": { "type": "string" },
                        "street": { "type": "string" },
                        "community": { "type": ["string", "null"] }
                    }
                },
                "Level": {
                    "type": "object",
                    "required": ["level"],
                    "properties": { "level": { "type": "integer", "minimum": 1, "maximum": 4 } }
                },
                "Alert": {
                    "allOf": [
                        { "$ref": "#/components/schemas/Level" },
                        {
                            "type": "object",
                            "required": ["id", "grid", "at", "acknowledged"],
                            "properties": {
                                "id": { "type": "string", "maxLength": 5 },
                                "grid": { "$ref": "#/components/schemas/Grid" },
                                "at": { "type": "string", "format": "date-time" },
                                "state": { "type": "string", "enum": ["open", "resolved"] },
                                "acknowledged": { "oneOf": [
                                    { "type": "null" },
                                    { "$ref": "#/components/schemas/Grid" }
                                ] },
                                "tags": { "type": "array", "items": { "type": "string" } },
                                "extra": { "type": "object" },
                                "map": { "type": "object", "additionalProperties": { "type": "integer" } }
                            }
                        }
                    ]
                },
                "Kind": { "oneOf": [
                    { "type": "object", "required": ["kind"], "properties": {
                        "kind": { "type": "string", "enum": ["a"] }, "x": { "type": "integer" } } },
                    { "type": "object", "required": ["kind"], "properties": {
                        "kind": { "type": "string", "enum": ["b"] }, "y": { "type": "string" } } }
                ] }
            } }
        })
    }

    fn good() -> Value {
        json!({
            "level": 2,
            "id": "W2",
            "grid": { "district": "示范区", "street": "东城街道", "community": null },
            "at": "2026-11-22T08:00:00+08:00",
            "state": "open",
            "acknowledged": null,
            "tags": ["x"],
            "extra": { "anything": [1, 2] },
            "map": { "a": 1 }
        })
    }

    fn errors(value: &Value, name: &str) -> Vec<String> {
        let d = doc();
        let v = Validator::new(&d);
        v.errors(
            value,
            &json!({ "$ref": format!("#/components/schemas/{name}") }),
        )
    }

    #[test]
    fn a_conforming_value_passes_across_refs_all_of_and_one_of() {
        assert_eq!(errors(&good(), "Alert"), Vec::<String>::new());
        let mut acked = good();
        acked["acknowledged"] = json!({ "district": "d", "street": "s" });
        assert_eq!(errors(&acked, "Alert"), Vec::<String>::new());
        assert!(errors(&json!({ "kind": "a", "x": 1 }), "Kind").is_empty());
        assert!(errors(&json!({ "kind": "b", "y": "t" }), "Kind").is_empty());
    }

    #[test]
    fn each_kind_of_wrong_value_fails_and_says_where() {
        let cases: Vec<(&str, Change, &str)> = vec![
            ("wrong type", Box::new(|v| v["id"] = json!(7)), "/id"),
            (
                "missing required",
                Box::new(|v| {
                    v.as_object_mut().unwrap().remove("at");
                }),
                "`at`",
            ),
            (
                "required in a $ref",
                Box::new(|v| {
                    v["grid"].as_object_mut().unwrap().remove("street");
                }),
                "`street`",
            ),
            (
                "required in an allOf branch",
                Box::new(|v| {
                    v.as_object_mut().unwrap().remove("level");
                }),
                "`level`",
            ),
            (
                "null where not nullable",
                Box::new(|v| v["grid"]["district"] = Value::Null),
                "/grid/district",
            ),
            (
                "not in the enum",
                Box::new(|v| v["state"] = json!("closed")),
                "/state",
            ),
            (
                "below the minimum",
                Box::new(|v| v["level"] = json!(0)),
                "minimum",
            ),
            (
                "above the maximum",
                Box::new(|v| v["level"] = json!(5)),
                "maximum",
            ),
            (
                "too long",
                Box::new(|v| v["id"] = json!("W2-long")),
                "maxLength",
            ),
            (
                "not a date-time",
                Box::new(|v| v["at"] = json!("yesterday")),
                "/at",
            ),
            (
                "an item of the wrong type",
                Box::new(|v| v["tags"] = json!(["x", 1])),
                "/tags/1",
            ),
            (
                "no oneOf branch",
                Box::new(|v| v["acknowledged"] = json!("yes")),
                "oneOf",
            ),
            (
                "an unknown property",
                Box::new(|v| v["colour"] = json!("red")),
                "/colour: not in the schema",
            ),
            (
                "an unknown nested property",
                Box::new(|v| v["grid"]["x"] = json!(1)),
                "/grid/x",
            ),
            (
                "additionalProperties of the wrong type",
                Box::new(|v| v["map"]["b"] = json!("no")),
                "/map/b",
            ),
            (
                "an integer that is a fraction",
                Box::new(|v| v["level"] = json!(2.5)),
                "integer",
            ),
        ];
        for (what, change, expected) in cases {
            let mut value = good();
            change(&mut value);
            let e = errors(&value, "Alert");
            assert!(e.iter().any(|e| e.contains(expected)), "{what}: {e:?}");
        }
        // Properties of another `oneOf` branch are not allowed in this one.
        assert!(!errors(&json!({ "kind": "a", "y": "t" }), "Kind").is_empty());
        assert!(!errors(&json!({ "kind": "c" }), "Kind").is_empty());
        // A free-form object takes anything.
        let mut free = good();
        free["extra"]["deep"] = json!({ "x": 1 });
        assert!(errors(&free, "Alert").is_empty());
    }

    #[test]
    fn more_than_one_matching_one_of_branch_fails() {
        let d = json!({});
        let v = Validator::new(&d);
        let schema = json!({ "oneOf": [{ "type": "integer" }, { "type": "number" }] });
        assert!(v.errors(&json!(1), &schema)[0].contains("2 of the 2"));
        assert!(v.errors(&json!(1.5), &schema).is_empty());
    }

    #[test]
    fn unresolved_references_and_unsupported_keywords_fail() {
        let d = doc();
        let v = Validator::new(&d);
        let e = v.errors(
            &json!(1),
            &json!({ "$ref": "#/components/schemas/Nothing" }),
        );
        assert!(e[0].contains("unresolved $ref"), "{e:?}");
        let e = v.errors(
            &json!([1]),
            &json!({ "type": "array", "uniqueItems": true }),
        );
        assert!(
            e[0].contains("unsupported schema keyword `uniqueItems`"),
            "{e:?}"
        );
    }
}
