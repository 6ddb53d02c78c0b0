//! Schemas of the OpenAPI document written by hand (`#[schema(schema_with = ...)]`): strings
//! whose values come from the rule engine's enumerations (tiers, levels, kinds, programs), so
//! that the document lists exactly the values the code can write. The handlers' types name
//! them; `doc.rs` assembles the document.

use alerting::delivery::Tier;
use alerting::model::{DeviceKind, SiteKind};
use alerting::risk::Grade;
use alerting::sterilization::{DeviceVerdict, Program};
use alerting::waste::Category;
use alerting::{EventKind, Level};
use serde_json::Value;
use utoipa::openapi::schema::{
    ArrayBuilder, Object, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::RefOr;

/// A string that is one of `values`.
fn one_of<'a>(values: impl IntoIterator<Item = &'a str>, description: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .description(Some(description))
        .build()
}

/// A string that is one of `values`, or null.
fn one_of_or_null<'a>(values: impl IntoIterator<Item = &'a str>, description: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(
            values.into_iter().map(Value::from).chain([Value::Null]),
        ))
        .description(Some(description))
        .build()
}

pub fn tier() -> Object {
    one_of(
        Tier::ALL.map(Tier::as_str),
        "A tier of the supervision grid: community (社区), street (街道), district (区), city (市).",
    )
}

pub fn tier_or_null() -> Object {
    one_of_or_null(
        Tier::ALL.map(Tier::as_str),
        "The tier currently responsible (after escalations); null when not open.",
    )
}

pub fn level_code() -> Object {
    one_of(
        Level::ALL.map(Level::as_str),
        "The level's code, I (most severe, 一级) .. IV.",
    )
}

pub fn level_code_or_null() -> Object {
    one_of_or_null(
        Level::ALL.map(Level::as_str),
        "The level's code, I (most severe, 一级) .. IV.",
    )
}

pub fn worst_level_code() -> Object {
    one_of_or_null(
        Level::ALL.map(Level::as_str),
        "The code of the most severe open alert's level; null when all clear.",
    )
}

pub fn colour() -> Object {
    one_of(
        Level::ALL.map(Level::colour),
        "The level's colour (red = I .. blue = IV).",
    )
}

pub fn worst_colour() -> Object {
    one_of_or_null(
        Level::ALL.map(Level::colour),
        "The colour of the most severe open alert's level; null when all clear.",
    )
}

pub fn level_name() -> Object {
    one_of(Level::ALL.map(Level::name_en), "The level's English name.")
}

pub fn event_kind() -> Object {
    one_of(
        [
            EventKind::Pending,
            EventKind::Firing,
            EventKind::LevelChanged,
            EventKind::Resolved,
        ]
        .map(EventKind::as_str),
        "The rule engine's latest transition.",
    )
}

/// Every site kind.
const SITE_KINDS: [SiteKind; 3] = [
    SiteKind::Water,
    SiteKind::WasteStore,
    SiteKind::DentalSterilization,
];

pub fn site_kind() -> Object {
    one_of(
        SITE_KINDS.map(SiteKind::as_str),
        "water (饮用水), waste_store (医疗废物暂存间) or dental_sterilization (口腔器械消毒).",
    )
}

/// A site kind, or null.
pub fn site_kind_or_null() -> Object {
    one_of_or_null(
        SITE_KINDS.map(SiteKind::as_str),
        "water (饮用水), waste_store (医疗废物暂存间) or dental_sterilization (口腔器械消毒); null for every kind.",
    )
}

/// `tier=` of a risk roll-up.
pub fn roll_up_tier() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(Tier::ALL.map(Tier::as_str)))
        .default(Some(Tier::Community.as_str().into()))
        .description(Some(
            "A tier of the supervision grid: community (社区), street (街道), district (区), city (市).",
        ))
        .build()
}

pub fn grade() -> Object {
    one_of(
        Grade::ALL.map(Grade::as_str),
        "A site's risk grade: A (低风险, lowest risk) .. D (高风险, highest).",
    )
}

/// `min_grade=`.
pub fn min_grade() -> Object {
    one_of(
        Grade::ALL.map(Grade::as_str),
        "This grade or riskier: B is B, C and D (A .. D, D the riskiest).",
    )
}

pub fn grade_zh() -> Object {
    one_of(
        Grade::ALL.map(Grade::name_zh),
        "The grade's name in Chinese (低风险 .. 高风险).",
    )
}

pub fn grade_en() -> Object {
    one_of(
        Grade::ALL.map(Grade::name_en),
        "The grade's name in English (low .. high).",
    )
}

/// The constant `site_risk`.
pub fn site_risk_table() -> Object {
    one_of(
        ["site_risk"],
        "The table of the daily grades (one row per site per day).",
    )
}

/// `seed` of a draw: decimal text or a number.
pub fn seed_in() -> RefOr<Schema> {
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(r"^\s*[0-9]{1,20}\s*$"))
                .description(Some("Decimal, 0 .. 2^64-1 (text keeps every digit).")),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .description(Some(
                    "0 .. 2^64-1 (above 2^53 many JSON libraries round it).",
                )),
        )
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .description(Some(
            "The draw's seed; left out or null: a fresh one (the answer gives it).",
        ))
        .into()
}

pub fn device_kind() -> Object {
    one_of(
        DeviceKind::ALL.map(DeviceKind::as_str),
        "The device's kind.",
    )
}

pub fn category() -> Object {
    one_of(
        Category::ALL.map(Category::as_str),
        "Medical waste category (医疗废物分类).",
    )
}

pub fn program() -> Object {
    one_of(Program::ALL.map(Program::as_str), "The sterilizer program.")
}

pub fn device_verdict() -> Object {
    one_of_or_null(
        [
            DeviceVerdict::Pass,
            DeviceVerdict::Fail,
            DeviceVerdict::Aborted,
        ]
        .map(DeviceVerdict::as_str),
        "The sterilizer's own verdict; null while the cycle runs or when it sent none.",
    )
}

/// A boolean that is always `value` (tells the variants of a `oneOf` apart).
fn always(value: bool) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Boolean)
        .enum_values(Some([value]))
        .build()
}

pub fn always_true() -> Object {
    always(true)
}

pub fn always_false() -> Object {
    always(false)
}

/// The constant `queued`.
pub fn queued() -> Object {
    one_of(
        ["queued"],
        "The request is durable and waits to be applied.",
    )
}

/// `evidence`: alerting's `Evidence` as serde writes it.
pub fn evidence() -> ArrayBuilder {
    let value = OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Number))
        .item(ObjectBuilder::new().schema_type(Type::String));
    let item = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("name", ObjectBuilder::new().schema_type(Type::String))
        .property("value", value)
        .required("name")
        .required("value");
    ArrayBuilder::new().items(item).description(Some(
        "Named values behind the alert (measured value, limit, times, ...): a number or text each.",
    ))
}

/// `until` of a new silence: RFC 3339 text or epoch milliseconds.
pub fn until_in() -> RefOr<Schema> {
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some("RFC 3339 (any offset) or epoch milliseconds as text.")),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .description(Some("Epoch milliseconds.")),
        )
        .description(Some("When the silence ends by itself."))
        .into()
}
