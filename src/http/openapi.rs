//! The OpenAPI 3.0 description of every endpoint and parameter (`/ogc/api`, the OGC
//! landing page's `service-desc`). Parameter lists and limits come from the same
//! constants the handlers use.

use serde_json::{Map, Value, json};
use warp::http::{HeaderMap, HeaderValue, header};
use warp::reply::Response;

use super::ogc::{self, Collection};
use super::params::limits::*;
use super::{AppState, GEOJSON, JSON, base_url, json_response};

fn q(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
}

fn required(mut p: Value) -> Value {
    p["required"] = json!(true);
    p
}

fn path(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description, "schema": {"type": "string"}})
}

fn string() -> Value {
    json!({"type": "string"})
}

fn filters() -> Vec<Value> {
    vec![
        q(
            "from",
            "First day included: YYYY-MM-DD, YYYY-MM or YYYY",
            string(),
        ),
        q(
            "to",
            "Last day included: YYYY-MM-DD, YYYY-MM or YYYY (a month or year means its last day)",
            string(),
        ),
        q(
            "type",
            "Comma list of ACLED event types or sub-types (case-insensitive)",
            string(),
        ),
        q(
            "actor",
            "Part of actor1 or actor2 (accents and case ignored)",
            string(),
        ),
        q(
            "min_fatalities",
            "At least this many fatalities",
            json!({"type": "integer", "minimum": 0}),
        ),
        q(
            "region",
            "Region ISO 3166-2 code (ML-5) or name (Mopti)",
            string(),
        ),
        q(
            "bbox",
            &format!(
                "west,south,east,north in degrees (WGS84); at most {MAX_BBOX_AREA_DEG2} square degrees"
            ),
            json!({"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4}),
        ),
    ]
}

fn tile_filters() -> Vec<Value> {
    filters()
        .into_iter()
        .filter(|p| p["name"] != "bbox")
        .collect()
}

fn near() -> Vec<Value> {
    vec![
        q(
            "near",
            "A place name from the gazetteer (accent- and case-insensitive)",
            string(),
        ),
        q(
            "lon",
            "Centre longitude instead of near",
            json!({"type": "number", "minimum": -180, "maximum": 180}),
        ),
        q(
            "lat",
            "Centre latitude instead of near",
            json!({"type": "number", "minimum": -90, "maximum": 90}),
        ),
        q(
            "radius_km",
            &format!("Geodesic radius in km (default {DEFAULT_RADIUS_KM})"),
            json!({"type": "number", "minimum": 0, "maximum": MAX_RADIUS_KM}),
        ),
    ]
}

fn paging(default: usize, max: usize) -> Vec<Value> {
    vec![
        q(
            "limit",
            "Page size",
            json!({"type": "integer", "minimum": 0, "maximum": max, "default": default}),
        ),
        q(
            "offset",
            "Items to skip",
            json!({"type": "integer", "minimum": 0, "default": 0}),
        ),
    ]
}

fn op(summary: &str, parameters: Vec<Value>, content_type: &str) -> Value {
    let problem = json!({"description": "Problem (RFC 9457)", "content": {"application/problem+json": {"schema": {"type": "object"}}}});
    json!({"get": {
        "summary": summary,
        "parameters": parameters,
        "responses": {
            "200": {"description": "OK", "content": {content_type: {"schema": {"type": "object"}}}},
            "400": problem,
            "404": problem,
        }
    }})
}

fn concat(parts: Vec<Vec<Value>>) -> Vec<Value> {
    parts.into_iter().flatten().collect()
}

/// `GET /ogc/api`
pub fn document(state: &AppState, headers: &HeaderMap) -> Response {
    let mut paths = Map::new();
    let mut add = |p: &str, v: Value| {
        paths.insert(p.to_string(), v);
    };
    let id = || vec![path("id", "Identifier")];
    let sort = q(
        "sort",
        "date | -date | distance (with a centre) | -fatalities",
        string(),
    );
    add(
        "/api/places",
        op(
            "Gazetteer search",
            concat(vec![
                vec![required(q("q", "Name or part of it", string()))],
                paging(10, 100),
            ]),
            GEOJSON,
        ),
    );
    add(
        "/api/events",
        op(
            "Events, optionally within a geodesic radius",
            concat(vec![
                filters(),
                near(),
                paging(DEFAULT_LIMIT, MAX_LIMIT),
                vec![sort],
            ]),
            GEOJSON,
        ),
    );
    add(
        "/api/events/nearest",
        op(
            "The k nearest events (geodesic)",
            concat(vec![
                filters(),
                vec![
                    required(q("lon", "Longitude", json!({"type": "number"}))),
                    required(q("lat", "Latitude", json!({"type": "number"}))),
                    q(
                        "k",
                        "How many",
                        json!({"type": "integer", "minimum": 1, "maximum": MAX_K, "default": 10}),
                    ),
                ],
            ]),
            GEOJSON,
        ),
    );
    add("/api/events/{id}", op("One event", id(), GEOJSON));
    add(
        "/api/regions",
        op("Regions with ACLED fatalities by year", vec![], GEOJSON),
    );
    add(
        "/api/regions/{id}",
        op("One region (ISO code or name)", id(), GEOJSON),
    );
    add(
        "/api/bases",
        op(
            "Bases",
            vec![
                q(
                    "operator",
                    "MINUSMA, Barkhane, EUTM, G5 Sahel, FAMa, United States",
                    string(),
                ),
                q(
                    "open_in",
                    "Open during this year",
                    json!({"type": "integer"}),
                ),
                q("bbox", "west,south,east,north", string()),
            ],
            GEOJSON,
        ),
    );
    add("/api/bases/{id}", op("One base", id(), GEOJSON));
    let coverage_params = || {
        vec![
            q(
                "radius_km",
                "Radius instead of the base's coverage_km",
                json!({"type": "number", "minimum": 0, "maximum": MAX_RADIUS_KM}),
            ),
            q(
                "active_only",
                "Only events from years the base was open",
                json!({"type": "boolean"}),
            ),
        ]
    };
    add(
        "/api/bases/{id}/coverage",
        op(
            "Events inside a base's coverage circle, with totals by type and year",
            concat(vec![
                id(),
                filters(),
                coverage_params(),
                paging(DEFAULT_LIMIT, MAX_LIMIT),
            ]),
            GEOJSON,
        ),
    );
    add(
        "/api/coverage",
        op(
            "Every base's totals and the events no base covers",
            concat(vec![
                filters(),
                coverage_params(),
                paging(DEFAULT_LIMIT, MAX_LIMIT),
            ]),
            JSON,
        ),
    );
    add(
        "/api/stats",
        op(
            "Event counts and fatalities grouped",
            concat(vec![
                vec![required(q(
                    "group_by",
                    "region | year | type | month",
                    string(),
                ))],
                filters(),
                near(),
            ]),
            JSON,
        ),
    );
    add(
        "/tiles/{z}/{x}/{y}.mvt",
        op(
            "Mapbox Vector Tile (XYZ, Web Mercator); 204 when empty",
            concat(vec![
                vec![
                    path("z", "Zoom 0-16"),
                    path("x", "Column"),
                    path("y", "Row"),
                ],
                tile_filters(),
            ]),
            "application/vnd.mapbox-vector-tile",
        ),
    );
    add(
        "/tiles.json",
        op(
            "TileJSON 3.0.0 (tile filters are carried into the URL)",
            tile_filters(),
            JSON,
        ),
    );
    add(
        "/style.json",
        op("MapLibre style over these tiles", tile_filters(), JSON),
    );
    add(
        "/fonts/{fontstack}/{range}.pbf",
        op(
            "SDF glyphs for labels",
            vec![
                path("fontstack", "Any font name"),
                path("range", "e.g. 0-255"),
            ],
            "application/x-protobuf",
        ),
    );
    add("/healthz", op("Health", vec![], JSON));
    add("/metrics", op("Prometheus metrics", vec![], "text/plain"));
    let f = || {
        vec![q(
            "f",
            "Encoding: json",
            json!({"type": "string", "enum": ["json", "geojson"]}),
        )]
    };
    add("/ogc", op("OGC API landing page", vec![], JSON));
    add("/ogc/conformance", op("Conformance classes", vec![], JSON));
    add("/ogc/api", op("This document", vec![], ogc::OPENAPI));
    add("/ogc/collections", op("Feature collections", f(), JSON));
    let cid = || {
        vec![
            json!({"name": "collectionId", "in": "path", "required": true, "schema": {"type": "string", "enum": Collection::ALL.iter().map(|c| c.id()).collect::<Vec<_>>()}}),
        ]
    };
    add(
        "/ogc/collections/{collectionId}",
        op("A collection", concat(vec![cid(), f()]), JSON),
    );
    add(
        "/ogc/collections/{collectionId}/queryables",
        op(
            "Queryable properties (JSON Schema)",
            concat(vec![cid(), f()]),
            "application/schema+json",
        ),
    );
    add(
        "/ogc/collections/{collectionId}/items/{featureId}",
        op(
            "One feature",
            concat(vec![cid(), vec![path("featureId", "Feature id")], f()]),
            GEOJSON,
        ),
    );
    let items_params = || {
        vec![
            q(
                "bbox",
                "minLon,minLat,maxLon,maxLat (CRS84)",
                json!({"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 6}),
            ),
            q(
                "datetime",
                "RFC 3339 instant or interval (../2018-12-31)",
                string(),
            ),
            q(
                "limit",
                "Page size",
                json!({"type": "integer", "minimum": 0, "maximum": ogc::MAX_LIMIT, "default": ogc::DEFAULT_LIMIT}),
            ),
            q(
                "offset",
                "Items to skip",
                json!({"type": "integer", "minimum": 0, "default": 0}),
            ),
        ]
    };
    add(
        "/ogc/collections/{collectionId}/items",
        op(
            "Features of a collection",
            concat(vec![cid(), items_params(), f()]),
            GEOJSON,
        ),
    );
    // Per collection, with its queryables as equality filters (GDAL reads these).
    for c in Collection::ALL {
        let props: Vec<Value> = c
            .queryables()
            .into_iter()
            .map(|(name, ty)| {
                q(
                    name,
                    &format!("Equality filter on {name}"),
                    json!({"type": ty}),
                )
            })
            .collect();
        add(
            &format!("/ogc/collections/{}/items", c.id()),
            op(
                &format!("{} features", c.id()),
                concat(vec![items_params(), props, f()]),
                GEOJSON,
            ),
        );
    }

    let doc = json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Sahel Atlas",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Conflict events, bases, regions and towns of Mali: query API, vector tiles and OGC API – Features.",
            "license": {"name": "Data: Natural Earth (public domain), GeoNames (CC BY 4.0), cited sources"},
        },
        "servers": [{"url": base_url(state, headers)}],
        "paths": paths,
    });
    let mut resp = json_response(JSON, &doc);
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ogc::OPENAPI));
    resp
}
