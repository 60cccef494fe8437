//! Mapbox Vector Tiles over the atlas. `TileSource` prepares geometry once (projected,
//! simplified per zoom); `render` selects, clips, clusters and encodes one tile.

pub mod cache;
pub mod clip;
pub mod coord;
pub mod encode;
pub mod events;
pub mod layers;
pub mod shapes;

/// Attribution of every tile's data, for TileJSON, the style and archives.
pub const ATTRIBUTION: &str = "Natural Earth (public domain) · GeoNames (CC BY 4.0) · events and bases: cited sources per feature";

/// Mali and its surroundings: bounds `[west, south, east, north]` and centre `[lon, lat,
/// zoom]` for TileJSON, the style and archives.
pub const BOUNDS: [f64; 4] = [-12.3, 10.1, 4.3, 25.0];
pub const CENTER: [f64; 3] = [-4.0, 17.0, 5.0];

use std::sync::{Arc, OnceLock};

use crate::atlas::Atlas;
use crate::model::{BasemapFeature, Place};
use crate::query::filter::Matcher;
use crate::query::hexbins::{HexBin, HexPyramid, boundary, hexbins_touching};
use clip::Rect;
use coord::{BUFFER, EXTENT, TileCoord, project};
use encode::{Geom, LayerWriter, TileWriter};
use events::{ClusterPyramid, EventFeature, events_in_tile};
use layers::{
    BASES, COUNTRY, COVERAGE, EVENTS, EventPoint, HEXBINS, LAKES, LayerDef, NEIGHBOURS, PLACES,
    REGIONS, RIVERS, RegionFill, View,
};
use shapes::{Shape, TileGeom, ring_in_tile};

/// The tile sets served: the map's tiles, and the hexbins apart (`/tiles/hexbins/...`),
/// so that only a client that draws them pays for their bytes (they doubled a z6 tile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TileSet {
    Main,
    Hexbins,
}

impl TileSet {
    /// The layers of this set's tiles, as TileJSON and archives announce them.
    pub fn layers(self) -> &'static [&'static dyn layers::Describe] {
        match self {
            TileSet::Main => layers::LAYERS,
            TileSet::Hexbins => layers::HEXBIN_LAYERS,
        }
    }
}

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
}

/// Line and polygon geometry, prepared once: none of it depends on the events, so every
/// snapshot of the events shares it.
struct Shapes {
    country: Vec<(usize, Shape)>,
    neighbours: Vec<(usize, Shape)>,
    rivers: Vec<(usize, Shape)>,
    lakes: Vec<(usize, Shape)>,
    regions: Vec<(usize, Shape)>,
    coverage: Vec<(usize, Shape)>,
}

/// What tiles are made from besides the atlas: the prepared shapes and the clusters.
/// A clone shares both: it serves atlases with the same base events (the pyramid sums
/// those; an atlas's delta is applied per tile).
#[derive(Clone)]
pub struct TileSource {
    shapes: Arc<Shapes>,
    /// Pre-summed clusters and hexbins, filled by [`TileSource::prepare_summaries`] (in
    /// the background: until then tiles and hexbin answers scan the events, with the same
    /// result).
    pyramid: Arc<OnceLock<Option<ClusterPyramid>>>,
    hexes: Arc<OnceLock<Option<HexPyramid>>>,
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

/// The H3 resolution of the hexbins layer at zoom `z`: the one whose cells are nearest
/// 40 px across on a 512 px tile.
pub fn hexbin_res(z: u8) -> u8 {
    match z {
        0..=5 => 3,
        6 => 4,
        7..=8 => 5,
        9 => 6,
        10 => 7,
        11..=12 => 8,
        _ => 9,
    }
}

/// Number of vertices of each coverage circle.
const CIRCLE_SEGMENTS: usize = 128;

impl TileSource {
    /// Projects, simplifies and indexes the atlas's fixed geometry for every zoom.
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
            shapes: Arc::new(Shapes {
                country: basemap_shapes(&atlas.basemap().country),
                neighbours: basemap_shapes(&atlas.basemap().neighbours),
                rivers: basemap_shapes(&atlas.basemap().rivers),
                lakes: basemap_shapes(&atlas.basemap().lakes),
                regions: shapes(regions.iter()),
                coverage: shapes(circles.iter()),
            }),
            pyramid: Arc::default(),
            hexes: Arc::default(),
        }
    }

    /// A source for an atlas with this one's regions, bases and base map and other base
    /// events: the shapes are shared, the clusters are yet to be summed.
    pub fn sharing_shapes(&self) -> TileSource {
        TileSource {
            shapes: self.shapes.clone(),
            pyramid: Arc::default(),
            hexes: Arc::default(),
        }
    }

    /// Sums the base events per cluster cell and year for every cluster zoom, and per H3
    /// cell and year for the hexbin resolutions (about a second each for a million
    /// events); low-zoom tiles and country-wide hexbins use them from then on.
    pub fn prepare_summaries(&self, atlas: &Atlas) {
        self.pyramid.get_or_init(|| ClusterPyramid::build(atlas));
        self.hexes.get_or_init(|| HexPyramid::build(atlas));
    }

    /// Whether both pyramids have been summed.
    pub fn summaries_ready(&self) -> bool {
        self.pyramid.get().is_some() && self.hexes.get().is_some()
    }

    /// The hexbin pyramid, once ready.
    pub fn hex_pyramid(&self) -> Option<&HexPyramid> {
        self.hexes.get().and_then(Option::as_ref)
    }

    /// Encodes tile `t` of `set`; `None` when no layer has anything in it.
    pub fn render_set(
        &self,
        set: TileSet,
        atlas: &Atlas,
        t: TileCoord,
        m: &Matcher,
    ) -> Result<Option<Vec<u8>>, TileError> {
        match set {
            TileSet::Main => self.render(atlas, t, m),
            TileSet::Hexbins => self.render_hexbins(atlas, t, m),
        }
    }

    /// Encodes tile `t` of the hexbins set: the H3 cells of the zoom's resolution whose
    /// outline reaches the buffered tile, each with all its matching events.
    pub fn render_hexbins(
        &self,
        atlas: &Atlas,
        t: TileCoord,
        m: &Matcher,
    ) -> Result<Option<Vec<u8>>, TileError> {
        let mut tile = TileWriter::default();
        let hexes = hexbins_touching(
            atlas,
            self.hex_pyramid(),
            m,
            hexbin_res(t.z),
            t.lonlat_envelope(BUFFER as f64),
        );
        hexbins_layer(&mut tile, t, &hexes);
        Ok(tile.finish())
    }

    /// Encodes tile `t` of the map's set; `None` when no layer has anything in it.
    pub fn render(
        &self,
        atlas: &Atlas,
        t: TileCoord,
        m: &Matcher,
    ) -> Result<Option<Vec<u8>>, TileError> {
        let mut tile = TileWriter::default();
        let basemap = atlas.basemap();
        let s = &*self.shapes;
        for (def, shapes, features) in [
            (&COUNTRY, &s.country, &basemap.country),
            (&NEIGHBOURS, &s.neighbours, &basemap.neighbours),
            (&LAKES, &s.lakes, &basemap.lakes),
            (&RIVERS, &s.rivers, &basemap.rivers),
        ] {
            shapes_layer(&mut tile, def, t, shapes, |i| &features[i]);
        }
        shapes_layer(&mut tile, &REGIONS, t, &s.regions, |i| {
            let region = &atlas.regions()[i];
            let fatalities = region
                .fatalities_by_year
                .iter()
                .filter(|(y, _)| m.year_in_range(**y))
                .map(|(_, n)| u64::from(*n))
                .sum();
            RegionFill { region, fatalities }
        });
        shapes_layer(&mut tile, &COVERAGE, t, &s.coverage, |i| &atlas.bases()[i]);
        let bases = atlas.bases().iter();
        points_layer(
            &mut tile,
            &BASES,
            bases.filter_map(|b| Some((t.point_position(project(b.pos))?, b))),
        );
        let min_pop = min_population(t.z);
        let shown = |p: &&Place| p.population.map_or(min_pop == 0, |n| n >= min_pop);
        let places = atlas.places().iter().filter(shown);
        points_layer(
            &mut tile,
            &PLACES,
            places.filter_map(|p| Some((t.point_position(project(p.pos))?, p))),
        );
        let pyramid = self.pyramid.get().and_then(Option::as_ref);
        let events = events_in_tile(atlas, pyramid, m, t)
            .into_iter()
            .map(|ef| match ef {
                EventFeature::Single { event, at } => (at, EventPoint::Single(atlas.event(event))),
                EventFeature::Cluster {
                    at,
                    count,
                    fatalities,
                    event_type,
                } => (
                    at,
                    EventPoint::Cluster {
                        count,
                        fatalities,
                        event_type,
                    },
                ),
            });
        points_layer(&mut tile, &EVENTS, events);
        Ok(tile.finish())
    }
}

/// Encodes layer `def` from prepared shapes (clipped to tile `t`); `item(i)` is the view
/// of the shape made from the atlas's `i`th item.
fn shapes_layer<'a, V: View>(
    tile: &mut TileWriter,
    def: &LayerDef<V>,
    t: TileCoord,
    shapes: &[(usize, Shape)],
    item: impl Fn(usize) -> V::Of<'a>,
) {
    let mut layer = LayerWriter::new(def.id);
    for (i, shape) in shapes {
        if let Some(g) = shape
            .in_tile(t, BUFFER as f64)
            .as_ref()
            .and_then(Geom::shape)
        {
            def.feature(&mut layer, &g, item(*i));
        }
    }
    tile.add(layer);
}

/// Encodes the hexbins layer: each cell's outline, clipped to the buffered tile.
fn hexbins_layer(tile: &mut TileWriter, t: TileCoord, bins: &[HexBin]) {
    let rect = Rect {
        min: -(BUFFER as f64),
        max: (EXTENT + BUFFER) as f64,
    };
    let mut layer = LayerWriter::new(HEXBINS.id);
    for b in bins {
        let ring: Vec<_> = boundary(b.cell)
            .into_iter()
            .map(|p| t.to_tile(project(p)))
            .collect();
        let shape = ring_in_tile(&ring, rect, true).map(|q| TileGeom::Polygons(vec![vec![q]]));
        if let Some(g) = shape.as_ref().and_then(Geom::shape) {
            HEXBINS.feature(&mut layer, &g, b);
        }
    }
    tile.add(layer);
}

/// Encodes layer `def` from points already in tile units.
fn points_layer<'a, V: View>(
    tile: &mut TileWriter,
    def: &LayerDef<V>,
    points: impl Iterator<Item = ([i32; 2], V::Of<'a>)>,
) {
    let mut layer = LayerWriter::new(def.id);
    for (at, item) in points {
        def.feature(&mut layer, &Geom::point(at), item);
    }
    tile.add(layer);
}
