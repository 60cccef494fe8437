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
        let op = operation(
            r.summary,
            finish(route_params(r), &regions),
            r.content_type,
            r.label == "tiles",
        );
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
