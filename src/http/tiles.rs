//! `/tiles/{z}/{x}/{y}.mvt`, `/tiles.json` (TileJSON 3.0.0) and `/style.json` (MapLibre).

use serde_json::{Value, json};
use warp::reply::Response;

use super::problem::Problem;
use super::tile_body::{TileBody, tile_response};
use super::{JSON, Request, json_response};
use crate::params::groups::EventFilterParams;
use crate::params::queries::{NoQuery, StyleQuery, TilePath, TileQuery};
use crate::query::filter::EventFilter;
use crate::tiles::cache::{FilterKey, TileKey, TileVersion};
use crate::tiles::coord::{MAX_ZOOM, TileCoord};
use crate::tiles::events::{INDIVIDUAL_FROM_ZOOM, scans_widely};
use crate::tiles::{TileSet, layers};

pub use crate::tiles::{ATTRIBUTION, BOUNDS, CENTER};

/// `GET /tiles/{z}/{x}/{y}.mvt`
pub fn tile(r: &Request, path: TilePath, q: TileQuery) -> Result<Response, Problem> {
    serve_tile(r, TileSet::Main, path, q)
}

/// `GET /tiles/hexbins/{z}/{x}/{y}.mvt`
pub fn hexbin_tile(r: &Request, path: TilePath, q: TileQuery) -> Result<Response, Problem> {
    serve_tile(r, TileSet::Hexbins, path, q)
}

/// What names one tile of `set` in the cache: the tile, the filter, and the cache key
/// with the version it must have (`None`: never cached).
type Keyed = (TileCoord, EventFilter, Option<(TileKey, TileVersion)>);

fn tile_key(r: &Request, set: TileSet, path: &TilePath, q: &TileQuery) -> Result<Keyed, Problem> {
    let t = TileCoord::new(path.z.get() as u8, path.x.get(), path.y.get())?;
    let snap = &r.snap;
    let filter = q.filter.resolve(&snap.atlas, None)?;
    let epoch = match set {
        TileSet::Main => snap.tile_epoch(t),
        TileSet::Hexbins => snap.tile_epoch_around(t),
    };
    let key = epoch.map(|epoch| {
        let key = TileKey {
            set,
            tile: t,
            filter: FilterKey::of(&filter),
        };
        let version = TileVersion {
            epoch,
            data_version: snap.data_version,
        };
        (key, version)
    });
    Ok((t, filter, key))
}

/// A tile of the map's set the cache holds (the inline answer of `/tiles`).
pub fn cached_main(r: &Request, path: &TilePath, q: &TileQuery) -> Option<Response> {
    cached(r, TileSet::Main, path, q)
}

/// A tile of the hexbins set the cache holds (the inline answer of `/tiles/hexbins`).
pub fn cached_hexbins(r: &Request, path: &TilePath, q: &TileQuery) -> Option<Response> {
    cached(r, TileSet::Hexbins, path, q)
}

/// The answer for a tile of `set` when the cache holds it, else `None` (including for
/// a bad request: the job answers those). Cheap enough for the async workers.
fn cached(r: &Request, set: TileSet, path: &TilePath, q: &TileQuery) -> Option<Response> {
    let (_, _, key) = tile_key(r, set, path, q).ok()?;
    let (key, version) = key?;
    let encoded = r.state.tile_cache.get(&key, version)?;
    tile_response(r.headers, &encoded.etag, TileBody::of(&encoded)).ok()
}

/// Tile `path` of `set`, from the cache or rendered.
fn serve_tile(
    r: &Request,
    set: TileSet,
    path: TilePath,
    q: TileQuery,
) -> Result<Response, Problem> {
    let snap = &r.snap;
    let (t, filter, key) = tile_key(r, set, &path, &q)?;
    let cache = &r.state.tile_cache;
    let cached = key.as_ref().is_some_and(|(k, v)| cache.contains(k, *v));
    let costly = scans_widely(t, &filter) && !cached;
    let _turn = if costly { Some(r.expensive()?) } else { None };
    let encoded = cache
        .get_or_render(key, || {
            snap.render_tile(set, t, &filter.compile(&snap.atlas))
        })
        .map_err(|e| Problem::internal(format!("tile {}/{}/{}: {e}", t.z, t.x, t.y)))?;

    tile_response(r.headers, &encoded.etag, TileBody::of(&encoded))
}

/// The tile URL template of `set`, carrying the request's filters (validated) and nothing
/// else.
fn tiles_url(r: &Request, set: TileSet, filter: &EventFilterParams) -> Result<String, Problem> {
    filter.resolve(r.atlas(), None)?;
    let pairs = form_urlencoded::parse(r.raw_query.as_bytes());
    let query = if pairs.clone().any(|(k, _)| k == "basemap") {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs.filter(|(k, _)| k != "basemap"))
            .finish()
    } else {
        r.raw_query.to_string()
    };
    let query = if query.is_empty() {
        query
    } else {
        format!("?{query}")
    };
    let dir = match set {
        TileSet::Main => "tiles",
        TileSet::Hexbins => "tiles/hexbins",
    };
    Ok(format!(
        "{}/{dir}/{{z}}/{{x}}/{{y}}.mvt{query}",
        r.base_url()
    ))
}

/// `GET /tiles.json` (TileJSON 3.0.0); the tile filters may be given and are passed on.
pub fn tilejson(r: &Request, _: NoQuery, q: TileQuery) -> Result<Response, Problem> {
    let description = format!(
        "Regions, bases, coverage, towns and conflict events in Mali. Events are clustered below zoom {INDIVIDUAL_FROM_ZOOM}."
    );
    tilejson_of(r, TileSet::Main, &q, "Sahel Atlas", description)
}

/// `GET /tiles/hexbins.json` (TileJSON 3.0.0 of the hexbins tile set).
pub fn hexbins_tilejson(r: &Request, _: NoQuery, q: TileQuery) -> Result<Response, Problem> {
    let description = "Conflict events per H3 cell; the resolution follows the zoom.".into();
    tilejson_of(r, TileSet::Hexbins, &q, "Sahel Atlas hexbins", description)
}

fn tilejson_of(
    r: &Request,
    set: TileSet,
    q: &TileQuery,
    name: &str,
    description: String,
) -> Result<Response, Problem> {
    let url = tiles_url(r, set, &q.filter)?;
    let layers = layers::vector_layers(set.layers());
    let mut tj = tilejson::tilejson! { tiles: vec![url] };
    tj.name = Some(name.into());
    tj.description = Some(description);
    tj.version = Some(env!("CARGO_PKG_VERSION").into());
    tj.attribution = Some(ATTRIBUTION.into());
    tj.scheme = Some("xyz".into());
    tj.minzoom = Some(0);
    tj.maxzoom = Some(MAX_ZOOM);
    tj.bounds = Some(tilejson::Bounds::new(
        BOUNDS[0], BOUNDS[1], BOUNDS[2], BOUNDS[3],
    ));
    tj.center = Some(tilejson::Center::new(CENTER[0], CENTER[1], CENTER[2] as u8));
    tj.vector_layers = Some(layers);
    Ok(json_response(JSON, &tj))
}

/// `GET /style.json`: a MapLibre style drawing every layer from our tiles alone.
pub fn style(r: &Request, _: NoQuery, q: StyleQuery) -> Result<Response, Problem> {
    let tiles = tiles_url(r, TileSet::Main, &q.filter)?;
    let hexbins = tiles_url(r, TileSet::Hexbins, &q.filter)?;
    let basemap = match &q.base.basemap {
        None => None,
        Some(name) => {
            let served = r
                .state
                .archives
                .get(&name.0)
                .map_err(|p| Problem::unprocessable("basemap", p.detail))?;
            Some(super::archives::style_source(r, &name.0, served))
        }
    };
    Ok(json_response(
        JSON,
        &style_json(&r.base_url(), [&tiles, &hexbins], basemap),
    ))
}

/// Operator colours, shared by bases and their coverage circles.
fn operator_colour() -> Value {
    json!([
        "match",
        ["get", "operator"],
        "MINUSMA",
        "#1f78b4",
        "Barkhane",
        "#e31a1c",
        "EUTM",
        "#33a02c",
        "G5 Sahel",
        "#ff7f00",
        "FAMa",
        "#6a3d9a",
        "United States",
        "#b15928",
        "#555555"
    ])
}

fn event_colour() -> Value {
    json!([
        "match",
        ["get", "event_type"],
        "Battles",
        "#d7301f",
        "Violence against civilians",
        "#7a0177",
        "Explosions/Remote violence",
        "#fd8d3c",
        "Riots",
        "#dd3497",
        "Protests",
        "#41ab5d",
        "Strategic developments",
        "#4292c6",
        "#737373"
    ])
}

/// The font stack label layers ask for (any name gets our one font; see `assets::Glyphs`).
const FONT: &str = "DejaVu Sans";

/// The style over the live tiles; with `basemap` (a vector source), the layers that do
/// not change with events or bases (land, borders, water, towns) are drawn from it.
/// `tiles`: the URL templates of the map's tiles and of the hexbins.
fn style_json(base: &str, tiles: [&str; 2], basemap: Option<Value>) -> Value {
    let [tiles, hexbins] = tiles;
    let src = "sahel";
    let base_src = if basemap.is_some() { "basemap" } else { src };
    let mut style = json!({
        "version": 8,
        "name": "Sahel Atlas",
        "glyphs": format!("{base}/fonts/{{fontstack}}/{{range}}.pbf"),
        "metadata": {"attribution": ATTRIBUTION},
        "center": [CENTER[0], CENTER[1]],
        "zoom": CENTER[2],
        "sources": {
            src: {
                "type": "vector",
                "tiles": [tiles],
                "minzoom": 0,
                "maxzoom": MAX_ZOOM,
                "bounds": BOUNDS,
                "attribution": ATTRIBUTION,
            },
            // Fetched only while a layer drawing it is visible (the web map's Hexbins view).
            "hexbins": {
                "type": "vector",
                "tiles": [hexbins],
                "minzoom": 0,
                "maxzoom": MAX_ZOOM,
                "bounds": BOUNDS,
            }
        },
        "layers": [
            {"id": "background", "type": "background", "paint": {"background-color": "#eef3f6"}},
            {"id": "neighbours", "type": "fill", "source": base_src, "source-layer": layers::NEIGHBOURS.id,
             "paint": {"fill-color": "#f4f1ea", "fill-outline-color": "#b8b2a7"}},
            {"id": "country", "type": "fill", "source": base_src, "source-layer": layers::COUNTRY.id,
             "paint": {"fill-color": "#fbf7ef"}},
            {"id": "regions", "type": "fill", "source": src, "source-layer": layers::REGIONS.id,
             "paint": {
                "fill-color": ["interpolate", ["linear"], ["get", "fatalities"],
                    0, "#fff5eb", 100, "#fdbe85", 500, "#fd8d3c", 1000, "#e6550d", 2000, "#a63603"],
                "fill-opacity": 0.75}},
            {"id": "region-borders", "type": "line", "source": base_src, "source-layer": layers::REGIONS.id,
             "paint": {"line-color": "#8c6d4f", "line-width": 0.8}},
            {"id": "country-border", "type": "line", "source": base_src, "source-layer": layers::COUNTRY.id,
             "paint": {"line-color": "#5b4636", "line-width": 1.6}},
            {"id": "lakes", "type": "fill", "source": base_src, "source-layer": layers::LAKES.id,
             "paint": {"fill-color": "#9cc7e0"}},
            {"id": "rivers", "type": "line", "source": base_src, "source-layer": layers::RIVERS.id,
             "paint": {"line-color": "#5b9bd5", "line-width": ["interpolate", ["linear"], ["zoom"], 3, 0.8, 10, 3]}},
            {"id": "coverage", "type": "fill", "source": src, "source-layer": layers::COVERAGE.id,
             "paint": {"fill-color": operator_colour(), "fill-opacity": 0.08}},
            {"id": "coverage-outline", "type": "line", "source": src, "source-layer": layers::COVERAGE.id,
             "paint": {"line-color": operator_colour(), "line-width": 1, "line-dasharray": [3, 2]}},
        ]
    });
    if let (Some(layers), Value::Array(more)) = (
        style["layers"].as_array_mut(),
        overlay_layers(src, base_src),
    ) {
        layers.extend(more);
    }
    if let Some(b) = basemap {
        style["sources"][base_src] = b;
    }
    style
}

/// The layers drawn over the land and borders: hexbins, towns, events, bases, labels.
fn overlay_layers(src: &str, base_src: &str) -> Value {
    json!([
            // Hidden until the web map's "Hexbins" view shows them (instead of the events).
            {"id": "hexbins", "type": "fill", "source": "hexbins", "source-layer": layers::HEXBINS.id,
             "layout": {"visibility": "none"},
             "paint": {
                "fill-color": ["interpolate", ["linear"], ["ln", ["+", 1, ["get", "count"]]],
                    0, "#ffffcc", 2.3, "#a1dab4", 4.6, "#41b6c4", 6.9, "#2c7fb8", 9.2, "#253494"],
                "fill-opacity": 0.8}},
            {"id": "hexbins-outline", "type": "line", "source": "hexbins", "source-layer": layers::HEXBINS.id,
             "layout": {"visibility": "none"},
             "paint": {"line-color": "#ffffff", "line-width": 0.5, "line-opacity": 0.8}},
            {"id": "places", "type": "circle", "source": base_src, "source-layer": layers::PLACES.id,
             "paint": {"circle-radius": 2.5, "circle-color": "#333333", "circle-stroke-color": "#ffffff", "circle-stroke-width": 0.8}},
            {"id": "event-clusters", "type": "circle", "source": src, "source-layer": layers::EVENTS.id,
             "filter": [">", ["get", "count"], 1],
             "paint": {
                "circle-color": event_colour(),
                "circle-opacity": 0.8,
                "circle-radius": ["interpolate", ["linear"], ["sqrt", ["get", "count"]], 1, 5, 10, 14, 100, 40],
                "circle-stroke-color": "#ffffff", "circle-stroke-width": 1}},
            {"id": "events", "type": "circle", "source": src, "source-layer": layers::EVENTS.id,
             "filter": ["==", ["get", "count"], 1],
             "paint": {
                "circle-color": event_colour(),
                "circle-radius": ["interpolate", ["linear"], ["get", "fatalities"], 0, 4, 10, 6, 100, 12],
                "circle-stroke-color": "#ffffff", "circle-stroke-width": 1}},
            {"id": "bases", "type": "circle", "source": src, "source-layer": layers::BASES.id,
             "paint": {"circle-color": operator_colour(), "circle-radius": 5,
                       "circle-stroke-color": "#000000", "circle-stroke-width": 1.5}},
            {"id": "event-cluster-counts", "type": "symbol", "source": src, "source-layer": layers::EVENTS.id,
             "filter": [">", ["get", "count"], 1],
             "layout": {"text-field": ["to-string", ["get", "count"]], "text-font": [FONT], "text-size": 11,
                        "text-allow-overlap": true},
             "paint": {"text-color": "#ffffff", "text-halo-color": "rgba(0,0,0,0.35)", "text-halo-width": 0.8}},
            {"id": "place-labels", "type": "symbol", "source": base_src, "source-layer": layers::PLACES.id,
             "layout": {"text-field": ["get", "name"], "text-font": [FONT],
                        "text-size": ["interpolate", ["linear"], ["zoom"], 4, 10, 10, 14],
                        "text-offset": [0, 0.7], "text-anchor": "top", "text-optional": true},
             "paint": {"text-color": "#222222", "text-halo-color": "#ffffff", "text-halo-width": 1.2}},
            {"id": "base-labels", "type": "symbol", "source": src, "source-layer": layers::BASES.id, "minzoom": 7,
             "layout": {"text-field": ["get", "name"], "text-font": [FONT], "text-size": 10,
                        "text-offset": [0, -0.9], "text-anchor": "bottom", "text-optional": true},
             "paint": {"text-color": "#111111", "text-halo-color": "#ffffff", "text-halo-width": 1.2}},
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiles::layers::{HEXBIN_LAYERS, LAYERS};

    /// Every `["get", name]` inside a style expression.
    fn attributes_read(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Array(items) => {
                if let [Value::String(op), Value::String(name)] = items.as_slice()
                    && op == "get"
                {
                    out.push(name.clone());
                }
                items.iter().for_each(|i| attributes_read(i, out));
            }
            Value::Object(map) => map.values().for_each(|i| attributes_read(i, out)),
            _ => {}
        }
    }

    #[test]
    fn the_style_draws_only_announced_layers_and_attributes() {
        let tiles = [
            "http://x/tiles/{z}/{x}/{y}.mvt",
            "http://x/tiles/hexbins/{z}/{x}/{y}.mvt",
        ];
        let style = style_json("http://x", tiles, None);
        let mut drawn = std::collections::BTreeSet::new();
        for l in style["layers"].as_array().unwrap() {
            let Some(source_layer) = l["source-layer"].as_str() else {
                continue;
            };
            let def = LAYERS
                .iter()
                .chain(HEXBIN_LAYERS)
                .find(|d| d.id() == source_layer)
                .unwrap_or_else(|| panic!("style layer {} draws unknown {source_layer}", l["id"]));
            let mut read = Vec::new();
            attributes_read(l, &mut read);
            for name in read {
                assert!(
                    def.attributes().iter().any(|(a, _)| *a == name),
                    "style layer {} reads {name}, which {source_layer} lacks",
                    l["id"]
                );
            }
            drawn.insert(source_layer);
        }
        let all: std::collections::BTreeSet<_> =
            LAYERS.iter().chain(HEXBIN_LAYERS).map(|d| d.id()).collect();
        assert_eq!(drawn, all, "every tile layer is drawn");
    }
}
