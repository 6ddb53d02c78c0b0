//! The OpenAPI 3.1 document of the API, generated with utoipa from the types the handlers
//! answer with (`view`, `sites`, `waste`, `sterilizers`, `error`, ...) and the `#[utoipa::path]`
//! of each handler; served at `GET /api/v1/openapi.json`.
//!
//! [`schema`] holds the few schemas written by hand: strings whose values come from the rule
//! engine's enumerations (tiers, levels, kinds, programs), so that the document lists exactly the
//! values the code can write.

use std::sync::LazyLock;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::{Modify, OpenApi};

use super::error::{
    BadRequest, Conflict, ErrorBody, Forbidden, NotFound, PayloadTooLarge, Unauthorized,
    Unavailable, Unprocessable, UriTooLong,
};
use super::{alerts, risk, silences, sites, sterilizers};

/// The API's document (see the module docs).
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "weijian supervisors' API",
        version = "1",
        description = "Alerts of the caller's supervision grid subtree (区 -> 街道 -> 社区): list, \
            acknowledge, resolve, silence; site status; a dental clinic's sterilizers; the site risk \
            index (grades A-D) and the 双随机 inspection draw. Every write \
            is journaled and audited; refusals (401, 403) are audited too. Times: every field `x` \
            is RFC 3339 at Beijing time (+08:00), with `x_us` in epoch microseconds. Errors are \
            `{\"error\": \"<code>\", \"message\": \"...\"}` (plus `request_id` for a journaled \
            write)."
    ),
    servers((url = "/")),
    tags(
        (name = "alerts", description = "Alerts (预警) of the caller's grid subtree: list, one with its history, acknowledge, resolve."),
        (name = "silences", description = "Silences (静默) and maintenance windows: list, add, lift."),
        (name = "sites", description = "Sites of the caller's subtree: status, a waste store's ledger, a dental clinic's sterilizers."),
        (name = "risk", description = "The site risk index of the caller's subtree (grades A-D with their explanation, grid roll-ups, recomputation) and the 双随机 inspection draw."),
        (name = "caller", description = "Who the bearer token belongs to."),
        (name = "document", description = "This OpenAPI document."),
    ),
    security(("bearer" = [])),
    paths(
        super::openapi,
        super::me,
        alerts::list,
        alerts::detail,
        alerts::acknowledge,
        alerts::resolve,
        silences::list,
        silences::add,
        silences::expire,
        sites::list,
        sites::status,
        sterilizers::list,
        risk::list,
        risk::site,
        risk::grid,
        risk::recompute,
        risk::draw,
    ),
    components(
        schemas(ErrorBody),
        responses(BadRequest, Unauthorized, Forbidden, NotFound, Conflict, Unprocessable, Unavailable, PayloadTooLarge, UriTooLong)
    ),
    modifiers(&BearerToken, &OptionalBodies, &SizeLimits)
)]
pub struct ApiDoc;

/// Adds the `bearer` security scheme the document's `security` names.
#[derive(Debug)]
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A supervisor's API token (the server stores only its SHA-256).",
                    ))
                    .build(),
            ),
        );
    }
}

/// Bodies that may be left out, with the schema of the body when given: (path, schema).
const OPTIONAL_BODIES: &[(&str, &str)] = &[
    ("/api/v1/alerts/{id}/ack", "AckBody"),
    ("/api/v1/risk/recompute", "RecomputeRequest"),
];

/// The body of an acknowledgement (or of a recomputation) may be left out (no note;
/// yesterday), but when given it is an `AckBody` (`RecomputeRequest`) object: utoipa can only
/// say "optional" as "`AckBody` or null", and `null` is a 400, so this makes it a plain, not
/// required `AckBody` (`RecomputeRequest`).
#[derive(Debug)]
struct OptionalBodies;

impl Modify for OptionalBodies {
    fn modify(&self, doc: &mut Document) {
        for (path, schema) in OPTIONAL_BODIES {
            let body = doc
                .paths
                .paths
                .get_mut(*path)
                .and_then(|item| item.post.as_mut())
                .and_then(|op| op.request_body.as_mut());
            if let Some(body) = body {
                body.required = None;
                for content in body.content.values_mut() {
                    content.schema = Some(utoipa::openapi::Ref::from_schema_name(*schema).into());
                }
            }
        }
    }
}

/// Every operation may be refused for its size before anything else (`api.max_body_bytes`:
/// 413, `api.max_uri_bytes`: 414): added to each operation rather than written on each.
#[derive(Debug)]
struct SizeLimits;

impl Modify for SizeLimits {
    fn modify(&self, doc: &mut Document) {
        for item in doc.paths.paths.values_mut() {
            let operations = [
                item.get.as_mut(),
                item.post.as_mut(),
                item.delete.as_mut(),
                item.put.as_mut(),
                item.patch.as_mut(),
            ];
            for op in operations.into_iter().flatten() {
                for (status, name) in [("413", "PayloadTooLarge"), ("414", "UriTooLong")] {
                    op.responses.responses.insert(
                        status.to_owned(),
                        utoipa::openapi::Ref::from_response_name(name).into(),
                    );
                }
            }
        }
    }
}

/// The document, built once.
pub fn document() -> &'static Document {
    static DOC: LazyLock<Document> = LazyLock::new(ApiDoc::openapi);
    &DOC
}

/// Schemas written by hand (`#[schema(schema_with = ...)]`).
pub mod schema {
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
        ArrayBuilder::new()
            .items(item)
            .description(Some(
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
}
