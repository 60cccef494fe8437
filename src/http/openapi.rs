//! The OpenAPI 3.0 document (`/ogc/api`, the OGC landing page's `service-desc`), generated
//! from the route table: each route's path and query parameter types (`utoipa::IntoParams`),
//! its answer's content type, and the problem schema every error shares.

use utoipa::ToSchema;
use utoipa::openapi::path::{OperationBuilder, Parameter, PathItemBuilder, PathItemType};
use utoipa::openapi::{
    ComponentsBuilder, Content, InfoBuilder, LicenseBuilder, ObjectBuilder, OpenApi,
    OpenApiBuilder, PathsBuilder, Ref, Required, ResponseBuilder, ResponsesBuilder, Schema,
    SchemaType, Server,
};
use warp::http::Method;

use super::JSON;
use super::ogc::Collection;
use super::problem::ProblemBody;
use super::routes::{ROUTES, Route, query_params};
use crate::atlas::Atlas;
use crate::params::queries::ItemsQuery;
use crate::params::values::REGION_FORMAT;
use crate::query::filter::EventProp;
use crate::query::items::{BaseProp, PlaceProp, RegionProp};
use serde_json::json;
use utoipa::openapi::{RefOr, SchemaFormat};

fn item_type(m: &Method) -> PathItemType {
    match *m {
        Method::POST => PathItemType::Post,
        Method::PUT => PathItemType::Put,
        Method::DELETE => PathItemType::Delete,
        _ => PathItemType::Get,
    }
}

/// An error answer: the shared problem+json schema.
fn problem() -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description("Problem (RFC 9457)")
        .content(
            "application/problem+json",
            Content::new(Ref::from_schema_name("Problem")),
        )
        .build()
}

/// 503: an expensive request shed under load (see `shed`), to be retried after the
/// `Retry-After` seconds.
fn busy() -> utoipa::openapi::Response {
    let retry = utoipa::openapi::header::HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(SchemaType::Integer))
        .description(Some("Seconds to wait before retrying"))
        .build();
    let mut r = problem();
    r.description = "Busy: too many expensive requests at once (or a part of the server is \
        unavailable); retry after Retry-After seconds"
        .into();
    r.headers.insert("Retry-After".into(), retry);
    r
}

/// A write's request body, key and answers: 201/200 with what was written (204 for a
/// delete), 401 without a valid key, 403 when writes are off, 413, 415 and 422.
fn writes_documented(op: &mut utoipa::openapi::path::Operation, method: &Method, body: bool) {
    use utoipa::openapi::request_body::RequestBodyBuilder;
    if body {
        let geojson = || {
            Content::new(match *method {
                Method::PUT => super::body_schema::put_body(),
                _ => super::body_schema::post_body(),
            })
        };
        let csv = Content::new(ObjectBuilder::new().schema_type(SchemaType::String));
        op.request_body = Some(
            RequestBodyBuilder::new()
                .description(Some("GeoJSON Feature(s) of Points with ACLED properties, or an ACLED/UCDP CSV export"))
                .content("application/geo+json", geojson())
                .content("application/json", geojson())
                .content("text/csv", csv)
                .required(Some(Required::True))
                .build(),
        );
    }
    op.responses.responses.remove("200");
    let written = || {
        ResponseBuilder::new()
            .description("Written: {inserted, updated, ids, sequence}")
            .content(JSON, Content::new(ok_schema(JSON)))
            .build()
    };
    match *method {
        Method::DELETE => {
            op.responses.responses.insert(
                "204".into(),
                ResponseBuilder::new().description("Deleted").build().into(),
            );
        }
        _ => {
            op.responses
                .responses
                .insert("201".into(), written().into());
            op.responses
                .responses
                .insert("200".into(), written().into());
        }
    }
    for status in ["401", "403", "413", "415", "503"] {
        op.responses
            .responses
            .insert(status.into(), problem().into());
    }
    op.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
        "writeKey",
        Vec::<String>::new(),
    )]);
}

/// Whether `f` offers files (`f=csv|geojson`), as on every feature collection.
fn offers_downloads(params: &[Parameter]) -> bool {
    params.iter().any(|p| {
        p.name == "f"
            && matches!(&p.schema, Some(RefOr::T(Schema::Object(o)))
                if o.enum_values.iter().flatten().any(|v| v == "csv"))
    })
}

/// The 200 answer also comes as a CSV or GeoJSON file (`Content-Disposition: attachment`).
fn downloads_documented(op: &mut utoipa::openapi::path::Operation) {
    if let Some(RefOr::T(ok)) = op.responses.responses.get_mut("200") {
        for ct in ["text/csv", super::GEOJSON] {
            ok.content
                .entry(ct.to_string())
                .or_insert_with(|| Content::new(ok_schema(ct)));
        }
        ok.description.push_str(
            "; with f=csv or f=geojson, every matching feature as a file (Content-Disposition: attachment)",
        );
    }
}

/// A 200 answer of `content_type`: JSON documents as objects, anything else as bytes.
fn ok_schema(content_type: &str) -> Schema {
    let json = content_type.contains("json");
    let builder = if json {
        ObjectBuilder::new().schema_type(SchemaType::Object)
    } else if content_type.starts_with("text/") {
        ObjectBuilder::new().schema_type(SchemaType::String)
    } else {
        ObjectBuilder::new()
            .schema_type(SchemaType::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Binary,
            )))
    };
    builder.into()
}

fn operation(
    summary: &str,
    parameters: Vec<Parameter>,
    content_type: &str,
    tile: bool,
) -> utoipa::openapi::path::Operation {
    let mut responses = ResponsesBuilder::new().response(
        "200",
        ResponseBuilder::new()
            .description("OK")
            .content(content_type, Content::new(ok_schema(content_type))),
    );
    if tile {
        responses = responses
            .response(
                "204",
                ResponseBuilder::new().description("No data in this tile"),
            )
            .response(
                "304",
                ResponseBuilder::new().description("Not modified (If-None-Match)"),
            );
    }
    // 414 and 431: a query string or headers over their limits, on any operation.
    for status in ["400", "404", "414", "422", "431"] {
        responses = responses.response(status, problem());
    }
    responses = responses.response("503", busy());
    OperationBuilder::new()
        .summary(Some(summary))
        .parameters(Some(parameters))
        .responses(responses.build())
        .build()
}

fn route_params(r: &Route) -> Vec<Parameter> {
    let mut all = (r.path_params)();
    all.extend((r.query_params)());
    all
}

/// What the generated parameter schemas need before clients read them: a one-schema
/// `allOf` (how utoipa wraps an optional value) unwrapped, so clients see the array type
/// that `explode: false` applies to; and region names as an enum of the loaded regions.
fn finish(params: Vec<Parameter>, regions: &[String]) -> Vec<Parameter> {
    params
        .into_iter()
        .map(|mut p| {
            if let Some(RefOr::T(Schema::AllOf(all))) = &p.schema
                && all.items.len() == 1
            {
                p.schema = Some(all.items[0].clone());
            }
            if let Some(RefOr::T(Schema::Object(o))) = &mut p.schema
                && o.format == Some(SchemaFormat::Custom(REGION_FORMAT.to_string()))
            {
                o.format = None;
                o.pattern = None;
                o.enum_values = Some(regions.iter().map(|r| json!(r)).collect());
            }
            p
        })
        .collect()
}

/// A real value for a path parameter, so clients (and Schemathesis' example phase) can
/// try an item that exists: an event for `/api/events/{id}` and `featureId`, and so on.
fn path_example(
    atlas: &Atlas,
    archive: Option<&str>,
    path: &str,
    param: &str,
) -> Option<serde_json::Value> {
    let event = || {
        atlas
            .event_indices()
            .next()
            .map(|i| json!(&*atlas.event(i).id))
    };
    match param {
        "id" if path.starts_with("/api/events/") => event(),
        "id" if path.starts_with("/api/bases/") => atlas.bases().first().map(|b| json!(b.id)),
        "id" if path.starts_with("/api/regions/") => atlas.regions().first().map(|r| json!(r.id)),
        "collectionId" => Some(json!(Collection::Events.id())),
        "featureId" => event(),
        "name" if path.starts_with("/archives/") => archive.map(|a| json!(a)),
        _ => None,
    }
}

/// Every key a region may be named by: codes, English and French names.
fn region_keys(atlas: &Atlas) -> Vec<String> {
    let mut keys: Vec<String> = atlas
        .regions()
        .iter()
        .flat_map(|r| [r.id.clone(), r.name.clone(), r.name_fr.clone()])
        .filter(|k| !k.is_empty())
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// The parameters of one collection's items, with its queryables.
fn collection_items_params(c: Collection) -> Vec<Parameter> {
    match c {
        Collection::Events => query_params::<ItemsQuery<EventProp>>(),
        Collection::Bases => query_params::<ItemsQuery<BaseProp>>(),
        Collection::Regions => query_params::<ItemsQuery<RegionProp>>(),
        Collection::Places => query_params::<ItemsQuery<PlaceProp>>(),
    }
}

/// The whole document, for clients reaching us at `base_url`.
/// The whole document; `archive` names an archive served here, as the example of
/// archive paths.
pub fn build(base_url: &str, atlas: &Atlas, archive: Option<&str>) -> OpenApi {
    let regions = region_keys(atlas);
    // Several routes may share a path (GET, PUT and DELETE of one event).
    let mut items: std::collections::BTreeMap<String, PathItemBuilder> = Default::default();
    for r in ROUTES {
        let mut params = finish(route_params(r), &regions);
        for p in params.iter_mut() {
            if let Some(RefOr::T(Schema::Object(o))) = &mut p.schema
                && let Some(example) = path_example(atlas, archive, r.path, &p.name)
            {
                o.example = Some(example);
            }
        }
        let tile = r.content_type.contains("mapbox-vector-tile");
        let files = offers_downloads(&params);
        let mut op = operation(r.summary, params, r.content_type, tile);
        if files {
            downloads_documented(&mut op);
        }
        if r.method != Method::GET {
            // Only event writes carry a body (a reload does not).
            let body = r.path.starts_with("/api/events") && r.method != Method::DELETE;
            writes_documented(&mut op, &r.method, body);
        }
        let item = items.remove(r.path).unwrap_or_default();
        items.insert(r.path.to_string(), item.operation(item_type(&r.method), op));
    }
    // Per collection, with its queryables as equality filters (GDAL reads these).
    for c in Collection::ALL {
        let mut op = operation(
            &format!("{} features", c.id()),
            finish(collection_items_params(c), &regions),
            super::GEOJSON,
            false,
        );
        downloads_documented(&mut op);
        let path = format!("/ogc/collections/{}/items", c.id());
        items.insert(
            path,
            PathItemBuilder::new().operation(PathItemType::Get, op),
        );
    }
    let mut paths = PathsBuilder::new();
    for (path, item) in items {
        paths = paths.path(path, item.build());
    }
    let (name, problem) = ProblemBody::schema();
    let info = InfoBuilder::new()
        .title("Sahel Atlas")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "Conflict events, bases, regions and towns of Mali: query API, vector tiles and OGC API – Features.",
        ))
        .license(Some(
            LicenseBuilder::new()
                .name("Data: Natural Earth (public domain), GeoNames (CC BY 4.0), cited sources")
                .build(),
        ));
    OpenApiBuilder::new()
        .info(info)
        .servers(Some([Server::new(base_url)]))
        .paths(paths)
        .components(Some(
            ComponentsBuilder::new()
                .security_scheme(
                    "writeKey",
                    utoipa::openapi::security::SecurityScheme::Http(
                        utoipa::openapi::security::HttpBuilder::new()
                            .scheme(utoipa::openapi::security::HttpAuthScheme::Bearer)
                            .description(Some("A write key (SAHEL_ATLAS_WRITE_KEYS)"))
                            .build(),
                    ),
                )
                .schema(
                    if name == "ProblemBody" {
                        "Problem"
                    } else {
                        name
                    },
                    problem,
                )
                .build(),
        ))
        .build()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::params::fields::ParamFields;

    /// The parameter names the document lists for `method path`.
    fn documented(doc: &serde_json::Value, method: &str, path: &str) -> Vec<String> {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "the document lacks {method} {path}");
        op["parameters"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .map(|p| p["name"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn same_names(path: &str, documented: Vec<String>, read: Vec<&str>) {
        let doc_set: BTreeSet<&str> = documented.iter().map(String::as_str).collect();
        let read_set: BTreeSet<&str> = read.iter().copied().collect();
        assert_eq!(doc_set.len(), documented.len(), "{path}: a name twice");
        assert_eq!(read_set.len(), read.len(), "{path}: a field read twice");
        assert_eq!(doc_set, read_set, "{path}: documented vs read by serde");
    }

    #[test]
    fn every_route_and_every_field_read_is_documented() {
        let atlas = crate::synth::test_atlas(0, 1);
        let doc = serde_json::to_value(build("http://127.0.0.1:1", &atlas, None)).unwrap();
        for r in ROUTES {
            let method = r.method.as_str().to_ascii_lowercase();
            same_names(r.path, documented(&doc, &method, r.path), (r.fields)());
        }
        for c in Collection::ALL {
            let path = format!("/ogc/collections/{}/items", c.id());
            let read = match c {
                Collection::Events => ItemsQuery::<EventProp>::fields(),
                Collection::Bases => ItemsQuery::<BaseProp>::fields(),
                Collection::Regions => ItemsQuery::<RegionProp>::fields(),
                Collection::Places => ItemsQuery::<PlaceProp>::fields(),
            };
            same_names(&path, documented(&doc, "get", &path), read);
        }
        let operations: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|item| item.as_object().unwrap().len())
            .sum();
        assert_eq!(operations, ROUTES.len() + Collection::ALL.len());
    }
}
