//! The OpenAPI 3.0 document (`/ogc/api`, the OGC landing page's `service-desc`), generated
//! from the route table: each route's path and query parameter types (`utoipa::IntoParams`),
//! its answer's content type, and the problem schema every error shares.

use utoipa::ToSchema;
use utoipa::openapi::path::{OperationBuilder, Parameter, PathItemBuilder, PathItemType};
use utoipa::openapi::{
    ComponentsBuilder, Content, InfoBuilder, LicenseBuilder, ObjectBuilder, OpenApi,
    OpenApiBuilder, PathsBuilder, Ref, ResponseBuilder, ResponsesBuilder, Schema, SchemaType,
    Server,
};
use warp::reply::Response;

use super::ogc::{self, Collection};
use super::params::queries::{ItemsQuery, NoQuery, OgcQuery};
use super::params::values::REGION_FORMAT;
use super::problem::{Problem, ProblemBody};
use super::routes::{ROUTES, Route, query_params};
use super::{Request, json_response};
use crate::atlas::Atlas;
use crate::query::filter::EventProp;
use crate::query::items::{BaseProp, PlaceProp, RegionProp};
use serde_json::json;
use utoipa::openapi::{RefOr, SchemaFormat};

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
    let problem = || {
        ResponseBuilder::new()
            .description("Problem (RFC 9457)")
            .content(
                "application/problem+json",
                Content::new(Ref::from_schema_name("Problem")),
            )
            .build()
    };
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
    for status in ["400", "404", "422"] {
        responses = responses.response(status, problem());
    }
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
fn path_example(atlas: &Atlas, path: &str, param: &str) -> Option<serde_json::Value> {
    let event = || atlas.events().first().map(|e| json!(&*e.id));
    match param {
        "id" if path.starts_with("/api/events/") => event(),
        "id" if path.starts_with("/api/bases/") => atlas.bases().first().map(|b| json!(b.id)),
        "id" if path.starts_with("/api/regions/") => atlas.regions().first().map(|r| json!(r.id)),
        "collectionId" => Some(json!(Collection::Events.id())),
        "featureId" => event(),
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
pub fn build(base_url: &str, atlas: &Atlas) -> OpenApi {
    let regions = region_keys(atlas);
    let mut paths = PathsBuilder::new();
    for r in ROUTES {
        let mut params = finish(route_params(r), &regions);
        for p in params.iter_mut() {
            if let Some(RefOr::T(Schema::Object(o))) = &mut p.schema
                && let Some(example) = path_example(atlas, r.path, &p.name)
            {
                o.example = Some(example);
            }
        }
        let op = operation(r.summary, params, r.content_type, r.label == "tiles");
        paths = paths.path(
            r.path,
            PathItemBuilder::new()
                .operation(PathItemType::Get, op)
                .build(),
        );
    }
    // Per collection, with its queryables as equality filters (GDAL reads these).
    for c in Collection::ALL {
        let op = operation(
            &format!("{} features", c.id()),
            finish(collection_items_params(c), &regions),
            super::GEOJSON,
            false,
        );
        let path = format!("/ogc/collections/{}/items", c.id());
        paths = paths.path(
            path,
            PathItemBuilder::new()
                .operation(PathItemType::Get, op)
                .build(),
        );
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

/// `GET /ogc/api`
pub fn document(r: &Request, _: NoQuery, _: OgcQuery) -> Result<Response, Problem> {
    Ok(json_response(
        ogc::OPENAPI,
        &build(&r.base_url(), r.atlas()),
    ))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::http::params::fields::ParamFields;

    /// The parameter names the document lists for `GET path`.
    fn documented(doc: &serde_json::Value, path: &str) -> Vec<String> {
        let op = &doc["paths"][path]["get"];
        assert!(op.is_object(), "the document lacks GET {path}");
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
        let doc = serde_json::to_value(build("http://127.0.0.1:1", &atlas)).unwrap();
        for r in ROUTES {
            same_names(r.path, documented(&doc, r.path), (r.fields)());
        }
        for c in Collection::ALL {
            let path = format!("/ogc/collections/{}/items", c.id());
            let read = match c {
                Collection::Events => ItemsQuery::<EventProp>::fields(),
                Collection::Bases => ItemsQuery::<BaseProp>::fields(),
                Collection::Regions => ItemsQuery::<RegionProp>::fields(),
                Collection::Places => ItemsQuery::<PlaceProp>::fields(),
            };
            same_names(&path, documented(&doc, &path), read);
        }
        let paths = doc["paths"].as_object().unwrap().len();
        assert_eq!(paths, ROUTES.len() + Collection::ALL.len());
    }
}
