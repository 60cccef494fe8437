//! The shipped GeoJSON layers: regions, bases, places and the base map.

use std::collections::BTreeMap;
use std::path::Path;

use geo::{Geometry, MultiPolygon, Validation};
use geojson::{Feature, FeatureCollection, GeometryValue, Position};
use serde_json::Value;

use super::{LoadError, Location};
use crate::model::{Base, Basemap, BasemapFeature, LonLat, Place, Region};

fn read_collection(path: &Path) -> Result<FeatureCollection, LoadError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| LoadError::file(path, format!("cannot read: {e}")))?;
    serde_json::from_str(&text).map_err(|e| LoadError {
        file: path.to_path_buf(),
        location: Location::Line(e.line() as u64),
        field: None,
        problem: format!("not a GeoJSON FeatureCollection: {e}"),
    })
}

/// One feature with the context needed for precise errors.
struct Feat<'a> {
    f: &'a Feature,
    path: &'a Path,
    index: usize,
}

impl<'a> Feat<'a> {
    fn err(&self, field: &str, problem: impl Into<String>) -> LoadError {
        LoadError::at(self.path, Location::Feature(self.index), field, problem)
    }

    fn value(&self, key: &str) -> Option<&'a Value> {
        self.f.property(key).filter(|v| !v.is_null())
    }

    fn string(&self, key: &str) -> Result<String, LoadError> {
        match self.value(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
            Some(Value::String(_)) | None => Err(self.err(key, "is missing or empty")),
            Some(v) => Err(self.err(key, format!("must be a string, found {v}"))),
        }
    }

    fn opt_string(&self, key: &str) -> Result<Option<String>, LoadError> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(_) => self.string(key).map(Some),
        }
    }

    fn opt_f64(&self, key: &str) -> Result<Option<f64>, LoadError> {
        match self.value(key) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .filter(|x| x.is_finite())
                .map(Some)
                .ok_or_else(|| self.err(key, format!("must be a number, found {v}"))),
        }
    }

    fn opt_year(&self, key: &str) -> Result<Option<i32>, LoadError> {
        match self.value(key) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .filter(|y| (1900..=2100).contains(y))
                .map(|y| Some(y as i32))
                .ok_or_else(|| self.err(key, format!("must be a year (1900-2100), found {v}"))),
        }
    }

    fn geometry(&self) -> Result<Geometry<f64>, LoadError> {
        let g = self
            .f
            .geometry
            .as_ref()
            .ok_or_else(|| self.err("geometry", "is missing"))?;
        if let Some(p) = short_position(&g.value) {
            return Err(self.err(
                "geometry",
                format!(
                    "has a position of {} number(s); each needs longitude and latitude",
                    p.len()
                ),
            ));
        }
        let geom = Geometry::<f64>::try_from(&g.value)
            .map_err(|e| self.err("geometry", format!("cannot be read: {e}")))?;
        use geo::CoordsIter;
        if let Some(c) = geom
            .coords_iter()
            .find(|c| !(c.x.abs() <= 180.0 && c.y.abs() <= 90.0))
        {
            return Err(self.err(
                "geometry",
                format!("coordinate ({}, {}) is not a lon/lat in degrees", c.x, c.y),
            ));
        }
        Ok(geom)
    }

    fn point(&self) -> Result<LonLat, LoadError> {
        match self.geometry()? {
            Geometry::Point(p) => Ok(LonLat::new(p.x(), p.y())),
            _ => Err(self.err("geometry", "must be a Point")),
        }
    }
}

/// A position of fewer than two numbers in `g`, if any: the geojson crate's conversion
/// reads the second without checking, and panics (found by fuzzing).
fn short_position(g: &GeometryValue) -> Option<&Position> {
    let short = |p: &&Position| p.len() < 2;
    match g {
        GeometryValue::Point { coordinates } => Some(coordinates).filter(short),
        GeometryValue::MultiPoint { coordinates } | GeometryValue::LineString { coordinates } => {
            coordinates.iter().find(short)
        }
        GeometryValue::MultiLineString { coordinates } | GeometryValue::Polygon { coordinates } => {
            coordinates.iter().flatten().find(short)
        }
        GeometryValue::MultiPolygon { coordinates } => {
            coordinates.iter().flatten().flatten().find(short)
        }
        GeometryValue::GeometryCollection { geometries } => {
            geometries.iter().find_map(|g| short_position(&g.value))
        }
    }
}

fn each<T>(
    path: &Path,
    mut f: impl FnMut(&Feat) -> Result<T, LoadError>,
) -> Result<Vec<T>, LoadError> {
    read_collection(path)?
        .features
        .iter()
        .enumerate()
        .map(|(index, feature)| {
            f(&Feat {
                f: feature,
                path,
                index,
            })
        })
        .collect()
}

fn check_unique<'a>(path: &Path, ids: impl Iterator<Item = &'a str>) -> Result<(), LoadError> {
    let mut seen = std::collections::HashMap::new();
    for (i, id) in ids.enumerate() {
        if let Some(first) = seen.insert(id, i) {
            return Err(LoadError::at(
                path,
                Location::Feature(i),
                "id",
                format!("duplicate id {id:?} (first in feature {first})"),
            ));
        }
    }
    Ok(())
}

/// `regions.geojson`: Polygon/MultiPolygon features with `id`, `name`, `name_fr`,
/// `fatalities_by_year` ({"2012": 42, ...}), `label_lon`, `label_lat`.
pub fn load_regions(path: &Path) -> Result<Vec<Region>, LoadError> {
    let regions = each(path, |f| {
        let geometry = match f.geometry()? {
            Geometry::Polygon(p) => MultiPolygon(vec![p]),
            Geometry::MultiPolygon(m) => m,
            _ => return Err(f.err("geometry", "must be a Polygon or MultiPolygon")),
        };
        if let Err(e) = geometry.check_validation() {
            return Err(f.err("geometry", format!("is not a valid polygon: {e}")));
        }
        let mut fatalities_by_year = BTreeMap::new();
        match f.value("fatalities_by_year") {
            None => {}
            Some(Value::Object(m)) => {
                for (year, n) in m {
                    let y = year.parse::<i32>().map_err(|_| {
                        f.err("fatalities_by_year", format!("key {year:?} is not a year"))
                    })?;
                    let n = n
                        .as_u64()
                        .filter(|&n| n <= u32::MAX as u64)
                        .ok_or_else(|| {
                            f.err(
                                "fatalities_by_year",
                                format!("value for {year} is not a count: {n}"),
                            )
                        })?;
                    fatalities_by_year.insert(y, n as u32);
                }
            }
            Some(v) => {
                return Err(f.err(
                    "fatalities_by_year",
                    format!("must be an object of year -> count, found {v}"),
                ));
            }
        }
        let label = match (f.opt_f64("label_lon")?, f.opt_f64("label_lat")?) {
            (Some(lon), Some(lat)) => LonLat::new(lon, lat),
            _ => {
                use geo::InteriorPoint;
                let p = geometry
                    .interior_point()
                    .ok_or_else(|| f.err("geometry", "is empty"))?;
                LonLat::new(p.x(), p.y())
            }
        };
        Ok(Region {
            id: f.string("id")?,
            name: f.string("name")?,
            name_fr: f.opt_string("name_fr")?.unwrap_or_else(String::new),
            fatalities_by_year,
            geometry,
            label,
        })
    })?;
    check_unique(path, regions.iter().map(|r| r.id.as_str()))?;
    Ok(regions)
}

/// `bases.geojson`: Point features with `id`, `name`, `operator`, `kind`, `sector`,
/// `town`, `opened`, `closed`, `coverage_km`, `source`.
pub fn load_bases(path: &Path) -> Result<Vec<Base>, LoadError> {
    let bases = each(path, |f| {
        let coverage_km = f
            .opt_f64("coverage_km")?
            .ok_or_else(|| f.err("coverage_km", "is missing"))?;
        if !(coverage_km > 0.0 && coverage_km <= 5000.0) {
            return Err(f.err(
                "coverage_km",
                format!("{coverage_km} is not a radius in km (0 < r <= 5000)"),
            ));
        }
        let (opened, closed) = (f.opt_year("opened")?, f.opt_year("closed")?);
        if let (Some(o), Some(c)) = (opened, closed)
            && c < o
        {
            return Err(f.err("closed", format!("{c} is before opened {o}")));
        }
        Ok(Base {
            id: f.string("id")?,
            name: f.string("name")?,
            operator: f.string("operator")?,
            kind: f.string("kind")?,
            sector: f.opt_string("sector")?,
            town: f.opt_string("town")?.unwrap_or_default(),
            opened,
            closed,
            coverage_km,
            source: f.opt_string("source")?.unwrap_or_default(),
            pos: f.point()?,
        })
    })?;
    check_unique(path, bases.iter().map(|b| b.id.as_str()))?;
    Ok(bases)
}

/// `places.geojson`: Point features with `id`, `name`, `alt_names` (array of strings),
/// `population`, `feature_code`, `source`.
pub fn load_places(path: &Path) -> Result<Vec<Place>, LoadError> {
    let places = each(path, |f| {
        let alt_names = match f.value("alt_names") {
            None => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| f.err("alt_names", format!("{v} is not a string")))
                })
                .collect::<Result<_, _>>()?,
            Some(v) => {
                return Err(f.err(
                    "alt_names",
                    format!("must be an array of strings, found {v}"),
                ));
            }
        };
        let population = match f.value("population") {
            None => None,
            Some(v) => Some(
                v.as_u64()
                    .ok_or_else(|| f.err("population", format!("{v} is not a count")))?,
            ),
        };
        Ok(Place {
            id: f.string("id")?,
            name: f.string("name")?,
            alt_names,
            population,
            feature_code: f.opt_string("feature_code")?,
            source: f.opt_string("source")?.unwrap_or_default(),
            pos: f.point()?,
        })
    })?;
    check_unique(path, places.iter().map(|p| p.id.as_str()))?;
    Ok(places)
}

/// The base-map layers: `country`, `neighbours`, `rivers`, `lakes` (.geojson), each a
/// collection of features with an optional `name`.
pub fn load_basemap(dir: &Path) -> Result<Basemap, LoadError> {
    let layer = |name: &str| {
        each(&dir.join(format!("{name}.geojson")), |f| {
            Ok(BasemapFeature {
                name: f.opt_string("name")?,
                geometry: f.geometry()?,
            })
        })
    };
    Ok(Basemap {
        country: layer("country")?,
        neighbours: layer("neighbours")?,
        rivers: layer("rivers")?,
        lakes: layer("lakes")?,
    })
}
