//! The layers of our tiles, defined once: each layer's name, description and attributes,
//! and for each attribute how to read it from the layer's items. Encoding
//! ([`LayerDef::feature`]), TileJSON's `vector_layers` and the style all read these
//! tables, so a layer or attribute cannot be announced without being encoded, or the
//! reverse.

use super::encode::{Geom, LayerWriter, Value};

use crate::model::{Base, BasemapFeature, Event, Place, Region};
use crate::query::hexbins::HexBin;

/// What a layer's features are made from: `Of<'a>` is a small copyable view borrowing
/// from the atlas (a reference, or a reference with a per-tile figure).
pub trait View: 'static {
    type Of<'a>: Copy;
}

/// An attribute value, borrowed from the atlas where it can be.
pub enum Attr<'a> {
    Text(&'a str),
    Owned(String),
    Uint(u64),
    Int(i64),
    Double(f64),
}

/// The type TileJSON announces for an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Number,
}

impl Kind {
    pub fn tilejson(self) -> &'static str {
        match self {
            Kind::String => "String",
            Kind::Number => "Number",
        }
    }
}

/// Reads an attribute from a feature's view (borrowing from the view itself, so that a
/// reference-holding view may lend what it refers to).
pub type Get<V> = for<'a, 'b> fn(&'b <V as View>::Of<'a>) -> Option<Attr<'b>>;

/// One attribute: its name, its type, and how to read it (`None`: this feature has none).
pub struct Field<V: View> {
    pub name: &'static str,
    pub kind: Kind,
    pub value: Get<V>,
}

pub struct LayerDef<V: View> {
    pub id: &'static str,
    pub description: &'static str,
    pub fields: &'static [Field<V>],
}

impl<V: View> LayerDef<V> {
    /// Adds a feature of `geom` with every attribute `item` has.
    pub fn feature<'a>(&self, layer: &mut LayerWriter, geom: &Geom, item: V::Of<'a>) {
        let tags = self.fields.iter().filter_map(|field| {
            let value = match (field.value)(&item)? {
                Attr::Text(s) => Value::Str(s.into()),
                Attr::Owned(s) => Value::Str(s.into()),
                Attr::Uint(n) => Value::Uint(n),
                Attr::Int(n) => Value::Sint(n),
                Attr::Double(x) => Value::Double(x),
            };
            Some((field.name, value))
        });
        layer.feature(geom, tags);
    }
}

/// A layer as metadata readers see it, whatever its items.
pub trait Describe: Sync {
    fn id(&self) -> &'static str;
    fn description(&self) -> &'static str;
    /// (attribute, type), in table order.
    fn attributes(&self) -> Vec<(&'static str, Kind)>;
}

impl<V: View> Describe for LayerDef<V>
where
    LayerDef<V>: Sync,
{
    fn id(&self) -> &'static str {
        self.id
    }

    fn description(&self) -> &'static str {
        self.description
    }

    fn attributes(&self) -> Vec<(&'static str, Kind)> {
        self.fields.iter().map(|f| (f.name, f.kind)).collect()
    }
}

const fn text<V: View>(name: &'static str, value: Get<V>) -> Field<V> {
    Field {
        name,
        kind: Kind::String,
        value,
    }
}

const fn number<V: View>(name: &'static str, value: Get<V>) -> Field<V> {
    Field {
        name,
        kind: Kind::Number,
        value,
    }
}

impl View for BasemapFeature {
    type Of<'a> = &'a BasemapFeature;
}

impl View for Base {
    type Of<'a> = &'a Base;
}

impl View for Place {
    type Of<'a> = &'a Place;
}

/// A region as drawn: with its fatalities summed over the tile filter's years.
#[derive(Clone, Copy)]
pub struct RegionFill<'a> {
    pub region: &'a Region,
    pub fatalities: u64,
}

/// The view type of the regions layer.
pub struct RegionFills;

impl View for RegionFills {
    type Of<'a> = RegionFill<'a>;
}

/// A point of the events layer: one event, or a cluster of them.
#[derive(Clone, Copy)]
pub enum EventPoint<'a> {
    Single(&'a Event),
    Cluster {
        count: u32,
        fatalities: u64,
        /// The most frequent event type among the members.
        event_type: &'a str,
    },
}

/// The view type of the events layer.
pub struct EventPoints;

impl View for EventPoints {
    type Of<'a> = EventPoint<'a>;
}

impl View for HexBin {
    type Of<'a> = &'a HexBin;
}

const BASEMAP_FIELDS: &[Field<BasemapFeature>] =
    &[text("name", |f| f.name.as_deref().map(Attr::Text))];

pub static COUNTRY: LayerDef<BasemapFeature> = LayerDef {
    id: "country",
    description: "Mali's outline (Natural Earth)",
    fields: BASEMAP_FIELDS,
};

pub static NEIGHBOURS: LayerDef<BasemapFeature> = LayerDef {
    id: "neighbours",
    description: "Neighbouring countries (Natural Earth)",
    fields: BASEMAP_FIELDS,
};

pub static LAKES: LayerDef<BasemapFeature> = LayerDef {
    id: "lakes",
    description: "Lakes (Natural Earth)",
    fields: BASEMAP_FIELDS,
};

pub static RIVERS: LayerDef<BasemapFeature> = LayerDef {
    id: "rivers",
    description: "Rivers (Natural Earth)",
    fields: BASEMAP_FIELDS,
};

pub static REGIONS: LayerDef<RegionFills> = LayerDef {
    id: "regions",
    description: "Mali's regions with ACLED fatalities for the selected years",
    fields: &[
        text("id", |r| Some(Attr::Text(&r.region.id))),
        text("name", |r| Some(Attr::Text(&r.region.name))),
        number("fatalities", |r| Some(Attr::Uint(r.fatalities))),
    ],
};

pub static COVERAGE: LayerDef<Base> = LayerDef {
    id: "coverage",
    description: "Geodesic circle of each base's coverage radius",
    fields: &[
        text("id", |b| Some(Attr::Text(&b.id))),
        text("name", |b| Some(Attr::Text(&b.name))),
        text("operator", |b| Some(Attr::Text(&b.operator))),
        number("coverage_km", |b| Some(Attr::Double(b.coverage_km))),
    ],
};

pub static BASES: LayerDef<Base> = LayerDef {
    id: "bases",
    description: "Military and peacekeeping bases",
    fields: &[
        text("id", |b| Some(Attr::Text(&b.id))),
        text("name", |b| Some(Attr::Text(&b.name))),
        text("operator", |b| Some(Attr::Text(&b.operator))),
        text("kind", |b| Some(Attr::Text(&b.kind))),
        number("coverage_km", |b| Some(Attr::Double(b.coverage_km))),
        number("opened", |b| b.opened.map(|y| Attr::Int(y.into()))),
        number("closed", |b| b.closed.map(|y| Attr::Int(y.into()))),
    ],
};

pub static PLACES: LayerDef<Place> = LayerDef {
    id: "places",
    description: "Towns (GeoNames, CC BY 4.0)",
    fields: &[
        text("id", |p| Some(Attr::Text(&p.id))),
        text("name", |p| Some(Attr::Text(&p.name))),
        number("population", |p| p.population.map(Attr::Uint)),
    ],
};

/// An attribute only single events carry.
fn single<'b>(p: &'b EventPoint<'_>, value: impl Fn(&'b Event) -> Attr<'b>) -> Option<Attr<'b>> {
    match *p {
        EventPoint::Single(e) => Some(value(e)),
        EventPoint::Cluster { .. } => None,
    }
}

pub static EVENTS: LayerDef<EventPoints> = LayerDef {
    id: "events",
    description: "Conflict events: clusters below zoom 10 (count, fatalities, dominant event_type), single events from zoom 10",
    fields: &[
        number("count", |p| {
            Some(Attr::Uint(match *p {
                EventPoint::Single(_) => 1,
                EventPoint::Cluster { count, .. } => count.into(),
            }))
        }),
        number("fatalities", |p| {
            Some(Attr::Uint(match *p {
                EventPoint::Single(e) => e.fatalities.into(),
                EventPoint::Cluster { fatalities, .. } => fatalities,
            }))
        }),
        text("event_type", |p| {
            Some(Attr::Text(match *p {
                EventPoint::Single(e) => &e.event_type,
                EventPoint::Cluster { event_type, .. } => event_type,
            }))
        }),
        text("id", |p| single(p, |e| Attr::Text(&e.id))),
        // NaiveDate's Display is YYYY-MM-DD, without parsing a format string per event.
        text("event_date", |p| {
            single(p, |e| Attr::Owned(e.date.to_string()))
        }),
        text("sub_event_type", |p| {
            single(p, |e| Attr::Text(&e.sub_event_type))
        }),
        text("actor1", |p| single(p, |e| Attr::Text(&e.actor1))),
        text("location", |p| single(p, |e| Attr::Text(&e.location))),
    ],
};

pub static HEXBINS: LayerDef<HexBin> = LayerDef {
    id: "hexbins",
    description: "Matching events per H3 cell (count, fatalities, top_type); the resolution follows the zoom: 3 up to z5, 4 at z6, 5 at z7-8, 6 at z9, 7 at z10, 8 at z11-12, 9 from z13",
    fields: &[
        text("h3", |b| Some(Attr::Owned(b.cell.to_string()))),
        number("res", |b| {
            Some(Attr::Uint(u8::from(b.cell.resolution()).into()))
        }),
        number("count", |b| Some(Attr::Uint(b.count))),
        number("fatalities", |b| Some(Attr::Uint(b.fatalities))),
        text("top_type", |b| Some(Attr::Text(&b.top_type))),
    ],
};

/// Every layer of the map's tiles, in drawing order (as encoded).
pub static LAYERS: &[&dyn Describe] = &[
    &COUNTRY,
    &NEIGHBOURS,
    &LAKES,
    &RIVERS,
    &REGIONS,
    &COVERAGE,
    &BASES,
    &PLACES,
    &EVENTS,
];

/// The layer of the hexbins tile set.
pub static HEXBIN_LAYERS: &[&dyn Describe] = &[&HEXBINS];

/// The layers and their attributes, as TileJSON and tile archives' metadata list them.
pub fn vector_layers(layers: &[&dyn Describe]) -> Vec<tilejson::VectorLayer> {
    layers
        .iter()
        .map(|l| {
            let mut layer = tilejson::VectorLayer::new(
                l.id().to_string(),
                l.attributes()
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.tilejson().to_string()))
                    .collect(),
            );
            layer.description = Some(l.description().to_string());
            layer.minzoom = Some(0);
            layer.maxzoom = Some(super::coord::MAX_ZOOM);
            layer
        })
        .collect()
}
