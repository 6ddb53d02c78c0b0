//! The OpenAPI 3.1 document of the API, generated with utoipa from the types the handlers
//! answer with (`view`, `sites`, `waste`, `sterilizers`, `error`, ...) and the `#[utoipa::path]`
//! of each handler; served at `GET /api/v1/openapi.json`.
//!
//! The few schemas written by hand (values of the rule engine's enumerations) are in
//! `schema.rs`.

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
