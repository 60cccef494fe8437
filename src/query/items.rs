//! Bases, places and regions selected by box, years open and property equality: the one
//! implementation behind `/api/bases` and the OGC API collections.

use geo::{Intersects, Rect};

use super::filter::Bbox;
use super::props::{PropKind, Queryable, text_eq};
use crate::atlas::Atlas;
use crate::model::RegionIdx;

macro_rules! props {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $label:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($variant),+ }
        impl Queryable for $name {
            const ALL: &'static [$name] = &[$($name::$variant),+];
            const NAMES: &'static [&'static str] = &[$($label),+];
            fn kind(self) -> PropKind {
                PropKind::Text
            }
        }
    };
}

props!(
    /// Filterable properties of bases.
    BaseProp { Operator = "operator", Kind = "kind", Sector = "sector", Town = "town", Region = "region" }
);
props!(
    /// Filterable properties of places.
    PlaceProp { Name = "name", FeatureCode = "feature_code", Region = "region" }
);
props!(
    /// Filterable properties of regions.
    RegionProp { Id = "id", Name = "name", NameFr = "name_fr" }
);

/// What to select; all conditions must hold. Items come back in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemFilter<P> {
    pub bbox: Option<Bbox>,
    /// Bases open at some time in these years (inclusive, open ends). Ignored by other
    /// kinds, which have no dates.
    pub years: (Option<i32>, Option<i32>),
    pub equals: Vec<(P, String)>,
}

impl<P> Default for ItemFilter<P> {
    fn default() -> Self {
        ItemFilter {
            bbox: None,
            years: (None, None),
            equals: Vec::new(),
        }
    }
}

fn region_id(atlas: &Atlas, r: Option<RegionIdx>) -> Option<&str> {
    r.map(|r| atlas.regions()[r as usize].id.as_str())
}

/// Bases matching `f`. A base matches years it was open during (unknown ends are open).
pub fn bases(atlas: &Atlas, f: &ItemFilter<BaseProp>) -> Vec<usize> {
    let (from, to) = f.years;
    (0..atlas.bases().len())
        .filter(|&i| {
            let b = &atlas.bases()[i];
            let opened = b.opened.unwrap_or(i32::MIN);
            let closed = b.closed.unwrap_or(i32::MAX);
            f.bbox.is_none_or(|bb| bb.contains(b.pos))
                && from.is_none_or(|y| closed >= y)
                && to.is_none_or(|y| opened <= y)
                && f.equals.iter().all(|(p, want)| {
                    let v = match p {
                        BaseProp::Operator => Some(b.operator.as_str()),
                        BaseProp::Kind => Some(b.kind.as_str()),
                        BaseProp::Sector => b.sector.as_deref(),
                        BaseProp::Town => Some(b.town.as_str()),
                        BaseProp::Region => region_id(atlas, atlas.base_region()[i]),
                    };
                    text_eq(v, want)
                })
        })
        .collect()
}

/// Places matching `f`.
pub fn places(atlas: &Atlas, f: &ItemFilter<PlaceProp>) -> Vec<usize> {
    (0..atlas.places().len())
        .filter(|&i| {
            let p = &atlas.places()[i];
            f.bbox.is_none_or(|bb| bb.contains(p.pos))
                && f.equals.iter().all(|(prop, want)| {
                    let v = match prop {
                        PlaceProp::Name => Some(p.name.as_str()),
                        PlaceProp::FeatureCode => p.feature_code.as_deref(),
                        PlaceProp::Region => region_id(atlas, atlas.place_region()[i]),
                    };
                    text_eq(v, want)
                })
        })
        .collect()
}

/// Regions matching `f`; a region matches a box its polygons intersect.
pub fn regions(atlas: &Atlas, f: &ItemFilter<RegionProp>) -> Vec<usize> {
    (0..atlas.regions().len())
        .filter(|&i| {
            let r = &atlas.regions()[i];
            let in_box = f.bbox.is_none_or(|b| {
                b.envelopes().iter().any(|e| {
                    let rect = Rect::new(
                        geo::coord! {x: e.min[0], y: e.min[1]},
                        geo::coord! {x: e.max[0], y: e.max[1]},
                    );
                    r.geometry.intersects(&rect)
                })
            });
            in_box
                && f.equals.iter().all(|(prop, want)| {
                    let v = match prop {
                        RegionProp::Id => &r.id,
                        RegionProp::Name => &r.name,
                        RegionProp::NameFr => &r.name_fr,
                    };
                    text_eq(Some(v), want)
                })
        })
        .collect()
}
