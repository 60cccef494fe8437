//! Mapbox Vector Tiles over the atlas. `TileSource` prepares geometry once (projected,
//! simplified per zoom); `render` selects, clips, clusters and encodes one tile.

pub mod cache;
pub mod clip;
pub mod coord;
pub mod events;
pub mod shapes;

use mvt::{GeomData, GeomEncoder, GeomType, Layer, Tile};

use crate::atlas::Atlas;
use crate::model::BasemapFeature;
use crate::query::filter::Matcher;
use coord::{BUFFER, EXTENT, TileCoord, project};
use events::{ClusterPyramid, EventFeature, events_in_tile};
use shapes::{Shape, TileGeom};

/// Why a tile cannot be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TileError {
    /// A zoom, column or row outside the tile grid.
    #[error("{value} is outside 0..{max} at zoom {z}")]
    OutsideGrid {
        axis: &'static str,
        value: u32,
        z: u8,
        max: u32,
    },
    #[error("encoding failed: {0}")]
    Encode(#[from] mvt::Error),
}

/// A layer of the tiles and the attributes its features carry.
pub struct LayerInfo {
    pub id: &'static str,
    pub description: &'static str,
    /// (attribute, TileJSON type)
    pub fields: &'static [(&'static str, &'static str)],
}

const fn layer(
    id: &'static str,
    description: &'static str,
    fields: &'static [(&'static str, &'static str)],
) -> LayerInfo {
    LayerInfo {
        id,
        description,
        fields,
    }
}

pub const LAYERS: &[LayerInfo] = &[
    layer(
        "country",
        "Mali's outline (Natural Earth)",
        &[("name", "String")],
    ),
    layer(
        "neighbours",
        "Neighbouring countries (Natural Earth)",
        &[("name", "String")],
    ),
    layer("lakes", "Lakes (Natural Earth)", &[("name", "String")]),
    layer("rivers", "Rivers (Natural Earth)", &[("name", "String")]),
    layer(
        "regions",
        "Mali's regions with ACLED fatalities for the selected years",
        &[
            ("id", "String"),
            ("name", "String"),
            ("fatalities", "Number"),
        ],
    ),
    layer(
        "coverage",
        "Geodesic circle of each base's coverage radius",
        &[
            ("id", "String"),
            ("name", "String"),
            ("operator", "String"),
            ("coverage_km", "Number"),
        ],
    ),
    layer(
        "bases",
        "Military and peacekeeping bases",
        &[
            ("id", "String"),
            ("name", "String"),
            ("operator", "String"),
            ("kind", "String"),
            ("coverage_km", "Number"),
            ("opened", "Number"),
            ("closed", "Number"),
        ],
    ),
    layer(
        "places",
        "Towns (GeoNames, CC BY 4.0)",
        &[
            ("id", "String"),
            ("name", "String"),
            ("population", "Number"),
        ],
    ),
    layer(
        "events",
        "Conflict events: clusters below zoom 10 (count, fatalities, dominant event_type), single events from zoom 10",
        &[
            ("count", "Number"),
            ("fatalities", "Number"),
            ("event_type", "String"),
            ("id", "String"),
            ("event_date", "String"),
            ("sub_event_type", "String"),
            ("actor1", "String"),
            ("location", "String"),
        ],
    ),
];

/// Geometry prepared once per atlas.
pub struct TileSource {
    country: Vec<(usize, Shape)>,
    neighbours: Vec<(usize, Shape)>,
    rivers: Vec<(usize, Shape)>,
    lakes: Vec<(usize, Shape)>,
    regions: Vec<(usize, Shape)>,
    coverage: Vec<(usize, Shape)>,
    /// Pre-summed clusters, filled by [`TileSource::prepare_clusters`] (in the background:
    /// until then tiles scan the events, with the same result).
    pyramid: std::sync::OnceLock<Option<ClusterPyramid>>,
}

fn shapes<'a>(geoms: impl Iterator<Item = &'a geo::Geometry<f64>>) -> Vec<(usize, Shape)> {
    geoms
        .enumerate()
        .filter_map(|(i, g)| Shape::new(g).map(|s| (i, s)))
        .collect()
}

fn basemap_shapes(features: &[BasemapFeature]) -> Vec<(usize, Shape)> {
    shapes(features.iter().map(|f| &f.geometry))
}

/// Smallest population of a place shown at zoom `z` (places without one: from zoom 9).
fn min_population(z: u8) -> u64 {
    match z {
        0..=4 => 100_000,
        5..=6 => 20_000,
        7..=8 => 5_000,
        _ => 0,
    }
}

/// Number of vertices of each coverage circle.
const CIRCLE_SEGMENTS: usize = 128;

impl TileSource {
    pub fn build(atlas: &Atlas) -> TileSource {
        let regions: Vec<geo::Geometry<f64>> = atlas
            .regions()
            .iter()
            .map(|r| geo::Geometry::MultiPolygon(r.geometry.clone()))
            .collect();
        let circles: Vec<geo::Geometry<f64>> = atlas
            .bases()
            .iter()
            .map(|b| {
                geo::Geometry::Polygon(crate::geodesy::circle(
                    b.pos,
                    b.coverage_km,
                    CIRCLE_SEGMENTS,
                ))
            })
            .collect();
        TileSource {
            country: basemap_shapes(&atlas.basemap().country),
            neighbours: basemap_shapes(&atlas.basemap().neighbours),
            rivers: basemap_shapes(&atlas.basemap().rivers),
            lakes: basemap_shapes(&atlas.basemap().lakes),
            regions: shapes(regions.iter()),
            coverage: shapes(circles.iter()),
            pyramid: std::sync::OnceLock::new(),
        }
    }

    /// Sums the events per cluster cell and year for every cluster zoom (about a second for
    /// a million events); low-zoom tiles use it from then on.
    pub fn prepare_clusters(&self, atlas: &Atlas) {
        self.pyramid.get_or_init(|| ClusterPyramid::build(atlas));
    }

    /// Encodes tile `t`; `None` when no layer has anything in it.
    pub fn render(
        &self,
        atlas: &Atlas,
        t: TileCoord,
        m: &Matcher,
    ) -> Result<Option<Vec<u8>>, TileError> {
        let mut tile = Tile::new(EXTENT);
        let buffer = BUFFER as f64;
        for (name, list, features) in [
            ("country", &self.country, &atlas.basemap().country),
            ("neighbours", &self.neighbours, &atlas.basemap().neighbours),
            ("lakes", &self.lakes, &atlas.basemap().lakes),
            ("rivers", &self.rivers, &atlas.basemap().rivers),
        ] {
            let mut layer = tile.create_layer(name);
            for (i, shape) in list {
                if let Some(g) = shape.in_tile(t, buffer) {
                    let mut f = layer.into_feature(encode_shape(&g)?);
                    if let Some(n) = &features[*i].name {
                        f.add_tag_string("name", n);
                    }
                    layer = f.into_layer();
                }
            }
            add(&mut tile, layer)?;
        }

        let mut layer = tile.create_layer("regions");
        for (i, shape) in &self.regions {
            if let Some(g) = shape.in_tile(t, buffer) {
                let r = &atlas.regions()[*i];
                let fatalities: u64 = r
                    .fatalities_by_year
                    .iter()
                    .filter(|(y, _)| m.year_in_range(**y))
                    .map(|(_, n)| *n as u64)
                    .sum();
                let mut f = layer.into_feature(encode_shape(&g)?);
                f.add_tag_string("id", &r.id);
                f.add_tag_string("name", &r.name);
                f.add_tag_uint("fatalities", fatalities);
                layer = f.into_layer();
            }
        }
        add(&mut tile, layer)?;

        let mut layer = tile.create_layer("coverage");
        for (i, shape) in &self.coverage {
            if let Some(g) = shape.in_tile(t, buffer) {
                let b = &atlas.bases()[*i];
                let mut f = layer.into_feature(encode_shape(&g)?);
                f.add_tag_string("id", &b.id);
                f.add_tag_string("name", &b.name);
                f.add_tag_string("operator", &b.operator);
                f.add_tag_double("coverage_km", b.coverage_km);
                layer = f.into_layer();
            }
        }
        add(&mut tile, layer)?;

        let mut layer = tile.create_layer("bases");
        for b in atlas.bases() {
            let Some(at) = t.point_position(project(b.pos)) else {
                continue;
            };
            let mut f = layer.into_feature(encode_point(at)?);
            f.add_tag_string("id", &b.id);
            f.add_tag_string("name", &b.name);
            f.add_tag_string("operator", &b.operator);
            f.add_tag_string("kind", &b.kind);
            f.add_tag_double("coverage_km", b.coverage_km);
            if let Some(o) = b.opened {
                f.add_tag_sint("opened", o as i64);
            }
            if let Some(c) = b.closed {
                f.add_tag_sint("closed", c as i64);
            }
            layer = f.into_layer();
        }
        add(&mut tile, layer)?;

        let mut layer = tile.create_layer("places");
        let min_pop = min_population(t.z);
        for p in atlas.places() {
            let shown = match p.population {
                Some(n) => n >= min_pop,
                None => min_pop == 0,
            };
            let Some(at) = t.point_position(project(p.pos)).filter(|_| shown) else {
                continue;
            };
            let mut f = layer.into_feature(encode_point(at)?);
            f.add_tag_string("id", &p.id);
            f.add_tag_string("name", &p.name);
            if let Some(n) = p.population {
                f.add_tag_uint("population", n);
            }
            layer = f.into_layer();
        }
        add(&mut tile, layer)?;

        let mut layer = tile.create_layer("events");
        let pyramid = self.pyramid.get().and_then(Option::as_ref);
        for ef in events_in_tile(atlas, pyramid, m, t) {
            layer = match ef {
                EventFeature::Single { event, at } => {
                    let e = &atlas.events()[event as usize];
                    let mut f = layer.into_feature(encode_point(at)?);
                    f.add_tag_uint("count", 1);
                    f.add_tag_string("id", &e.id);
                    f.add_tag_string("event_date", &e.date.format("%Y-%m-%d").to_string());
                    f.add_tag_string("event_type", &e.event_type);
                    f.add_tag_string("sub_event_type", &e.sub_event_type);
                    f.add_tag_string("actor1", &e.actor1);
                    f.add_tag_uint("fatalities", e.fatalities as u64);
                    f.add_tag_string("location", &e.location);
                    f.into_layer()
                }
                EventFeature::Cluster {
                    at,
                    count,
                    fatalities,
                    event_type,
                } => {
                    let mut f = layer.into_feature(encode_point(at)?);
                    f.add_tag_uint("count", count as u64);
                    f.add_tag_uint("fatalities", fatalities);
                    f.add_tag_string("event_type", event_type);
                    f.into_layer()
                }
            };
        }
        add(&mut tile, layer)?;

        if tile.num_layers() == 0 {
            return Ok(None);
        }
        Ok(Some(tile.to_bytes()?))
    }
}

/// Adds a layer unless it is empty (an empty layer is bytes for nothing).
fn add(tile: &mut Tile, layer: Layer) -> Result<(), mvt::Error> {
    if layer.num_features() > 0 {
        tile.add_layer(layer)?;
    }
    Ok(())
}

fn encode_point(at: [i32; 2]) -> Result<GeomData, mvt::Error> {
    GeomEncoder::new(GeomType::Point)
        .point(at[0], at[1])?
        .encode()
}

fn encode_shape(g: &TileGeom) -> Result<GeomData, mvt::Error> {
    let (kind, parts): (GeomType, Vec<&Vec<[i32; 2]>>) = match g {
        TileGeom::Polygons(polys) => (GeomType::Polygon, polys.iter().flatten().collect()),
        TileGeom::Lines(lines) => (GeomType::Linestring, lines.iter().collect()),
    };
    let mut enc = GeomEncoder::new(kind);
    let mut last: Option<[i32; 2]> = None;
    for part in parts {
        // The encoder joins a part that starts where the previous one ended (no MoveTo):
        // right for lines, invalid for polygon rings, so start such a ring one vertex on.
        let start = usize::from(kind == GeomType::Polygon && part.first().copied() == last);
        for i in 0..part.len() {
            let p = part[(start + i) % part.len()];
            enc.add_point(p[0], p[1])?;
            last = Some(p);
        }
        enc.complete_geom()?;
    }
    enc.encode()
}
