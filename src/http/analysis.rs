//! `/api/coverage/timeline`, `/api/hexbins`, `/api/trends`: what no tile server answers.
//! Each handler resolves its parameters, asks `query`, and answers JSON (GeoJSON for
//! hexbins), or with `f=csv` the same figures as a CSV file.

use serde_json::{Map, Value, json};
use warp::reply::Response;

use super::download::csv_table;
use super::problem::Problem;
use super::{GEOJSON, JSON, Request, json_response};
use crate::atlas::Atlas;
use crate::params::analysis::{TimelineTable, period_name};
use crate::params::limits::MAX_HEXBINS;
use crate::params::queries::*;
use crate::query::hexbins::{self, HexBin, PYRAMID_MAX_RES};
use crate::query::timeline::{self, Reach, TimelineYear};
use crate::query::trends::{self, Metric, TrendQuery, Unit, UnitKey, UnitTrend};

/// A figure rounded for people and files (shares and means to 4 decimals).
fn rounded(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn reach_json(r: &Reach) -> Map<String, Value> {
    let json = json!({
        "events": r.events,
        "fatalities": r.fatalities,
        "covered_events": r.covered_events,
        "covered_fatalities": r.covered_fatalities,
        "share_events": r.share_events().map(rounded),
        "share_fatalities": r.share_fatalities().map(rounded),
    });
    match json {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn year_json(y: &TimelineYear) -> Value {
    let mut m = Map::new();
    m.insert("year".into(), json!(y.year));
    m.extend(reach_json(&y.all));
    let by_op: Map<String, Value> = y
        .by_operator
        .iter()
        .map(|(op, r)| (op.clone(), Value::Object(reach_json(r))))
        .collect();
    m.insert("by_operator".into(), Value::Object(by_op));
    Value::Object(m)
}

/// A cell's outline as a GeoJSON ring, to 6 decimals (0.1 m: cells are 170 m across and
/// more); a third shorter than full precision, which country-wide answers feel.
fn hex_ring(cell: h3o::CellIndex) -> Vec<[f64; 2]> {
    let r6 = |x: f64| (x * 1e6).round() / 1e6;
    hexbins::boundary(cell)
        .iter()
        .map(|p| [r6(p.lon), r6(p.lat)])
        .collect()
}

#[derive(serde::Serialize)]
struct HexPolygon {
    #[serde(rename = "type")]
    kind: &'static str,
    coordinates: [Vec<[f64; 2]>; 1],
}

fn hex_polygon(cell: h3o::CellIndex) -> HexPolygon {
    HexPolygon {
        kind: "Polygon",
        coordinates: [hex_ring(cell)],
    }
}

#[derive(serde::Serialize)]
struct HexProperties<'a> {
    h3: String,
    res: u8,
    count: u64,
    fatalities: u64,
    top_type: &'a str,
}

/// A hexbin as a GeoJSON feature: `id` the cell's index in hex, its outline, its figures
/// (serialised straight from these structs: country-wide answers hold 100,000 of them).
#[derive(serde::Serialize)]
struct HexFeature<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    geometry: HexPolygon,
    properties: HexProperties<'a>,
}

fn hexbin_feature(b: &HexBin) -> HexFeature<'_> {
    HexFeature {
        kind: "Feature",
        id: b.cell.to_string(),
        geometry: hex_polygon(b.cell),
        properties: HexProperties {
            h3: b.cell.to_string(),
            res: u8::from(b.cell.resolution()),
            count: b.count,
            fatalities: b.fatalities,
            top_type: &b.top_type,
        },
    }
}

fn hexbin_row(b: &HexBin) -> Vec<String> {
    let c = hexbins::center(b.cell);
    let wkt: Vec<String> = hexbins::boundary(b.cell)
        .iter()
        .map(|p| format!("{} {}", p.lon, p.lat))
        .collect();
    vec![
        b.cell.to_string(),
        u8::from(b.cell.resolution()).to_string(),
        b.count.to_string(),
        b.fatalities.to_string(),
        b.top_type.to_string(),
        format!("{:.6}", c.lon),
        format!("{:.6}", c.lat),
        format!("POLYGON(({}))", wkt.join(", ")),
    ]
}

const HEXBIN_COLUMNS: [&str; 8] = [
    "h3",
    "res",
    "count",
    "fatalities",
    "top_type",
    "lon",
    "lat",
    "wkt",
];

/// `GET /api/coverage/timeline` (+ event filters, `radius_km`, `operator`, `res`,
/// `hotspots`)
pub fn timeline(r: &Request, _: NoQuery, q: TimelineQuery) -> Result<Response, Problem> {
    let atlas = r.atlas();
    let filter = q.filter.resolve(atlas, q.bbox.resolve()?)?;
    let rule = q.timeline.rule(atlas)?;
    let _turn = r.expensive()?;
    let t = timeline::timeline(atlas, &filter.compile(atlas), &rule);
    let res = q.timeline.res();
    let hot = timeline::hotspots(atlas, &t.uncovered, res, q.timeline.hotspots());
    if q.f.csv() {
        return Ok(match q.timeline.table {
            Some(TimelineTable::Hotspots) => csv_table(
                "hotspots",
                &HEXBIN_COLUMNS,
                hot.iter().map(hexbin_row).collect(),
            ),
            None | Some(TimelineTable::Years) => timeline_csv(&t.years),
        });
    }
    let hotspots = json!({
        "type": "FeatureCollection",
        "res": res,
        "features": hot.iter().map(hexbin_feature).collect::<Vec<_>>(),
    });
    Ok(json_response(
        JSON,
        &json!({
            "radius_km": rule.radius_km,
            "operator": rule.operator,
            "years": t.years.iter().map(year_json).collect::<Vec<_>>(),
            "hotspots": hotspots,
        }),
    ))
}

fn timeline_csv(years: &[TimelineYear]) -> Response {
    let columns = [
        "year",
        "operator",
        "events",
        "fatalities",
        "covered_events",
        "covered_fatalities",
        "share_events",
        "share_fatalities",
    ];
    let share = |s: Option<f64>| s.map(|x| rounded(x).to_string()).unwrap_or_default();
    let row = |year: i32, op: &str, r: &Reach| {
        vec![
            year.to_string(),
            op.to_string(),
            r.events.to_string(),
            r.fatalities.to_string(),
            r.covered_events.to_string(),
            r.covered_fatalities.to_string(),
            share(r.share_events()),
            share(r.share_fatalities()),
        ]
    };
    let rows = years
        .iter()
        .flat_map(|y| {
            std::iter::once(row(y.year, "all", &y.all))
                .chain(y.by_operator.iter().map(move |(op, r)| row(y.year, op, r)))
        })
        .collect();
    csv_table("coverage-timeline", &columns, rows)
}

/// `GET /api/hexbins?res=N` (+ event filters, bbox)
pub fn hexbins(r: &Request, _: NoQuery, q: HexbinsQuery) -> Result<Response, Problem> {
    let atlas = r.atlas();
    let filter = q.filter.resolve(atlas, q.bbox.resolve()?)?;
    let res = q.hex.res.get();
    let pyramid = r.snap.hexbin_pyramid();
    // Pre-summed data answers whole years country-wide; anything else counts events.
    let summed = pyramid.is_some() && res <= PYRAMID_MAX_RES && filter.whole_years().is_some();
    let _turn = if summed { None } else { Some(r.expensive()?) };
    let bins = hexbins::hexbins(atlas, pyramid, &filter.compile(atlas), res);
    at_most_max_cells(bins.len())?;
    if q.f.csv() {
        let rows = bins.iter().map(hexbin_row).collect();
        return Ok(csv_table(
            &format!("hexbins-res{res}"),
            &HEXBIN_COLUMNS,
            rows,
        ));
    }
    let (count, fatalities) = bins
        .iter()
        .fold((0, 0), |(c, f), b| (c + b.count, f + b.fatalities));
    let answer = HexCollection {
        kind: "FeatureCollection",
        res,
        number_matched: bins.len(),
        number_returned: bins.len(),
        totals: json!({"count": count, "fatalities": fatalities}),
        features: bins.iter().map(hexbin_feature).collect(),
    };
    Ok(json_response(GEOJSON, &answer))
}

#[derive(serde::Serialize)]
struct HexCollection<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    res: u8,
    #[serde(rename = "numberMatched")]
    number_matched: usize,
    #[serde(rename = "numberReturned")]
    number_returned: usize,
    totals: Value,
    features: Vec<HexFeature<'a>>,
}

/// # Errors
/// 422 naming `res` when an answer would hold more than [`MAX_HEXBINS`] cells.
fn at_most_max_cells(cells: usize) -> Result<(), Problem> {
    if cells <= MAX_HEXBINS {
        return Ok(());
    }
    Err(Problem::unprocessable(
        "res",
        format!(
            "{cells} cells, more than the {MAX_HEXBINS} one answer holds; choose a coarser \
             resolution or narrow the bbox or filters"
        ),
    ))
}

/// `GET /api/trends?unit=region|h3&res=&period=&at=&baseline=&metric=` (+ event filters)
pub fn trends(r: &Request, _: NoQuery, q: TrendsQuery) -> Result<Response, Problem> {
    let atlas = r.atlas();
    let filter = q.filter.resolve(atlas, q.bbox.resolve()?)?;
    let tq = q.trend.resolve(atlas)?;
    let _turn = r.expensive()?;
    let units = trends::trends(atlas, &filter.compile(atlas), &tq);
    at_most_max_cells(units.len())?;
    let periods: Vec<String> = (tq.at - tq.baseline as i32..tq.at)
        .map(|p| tq.period.label(p))
        .collect();
    if q.f.csv() {
        return Ok(trends_csv(atlas, &tq, &periods, &units));
    }
    let (unit, res) = match tq.unit {
        Unit::Region => ("region", None),
        Unit::H3(res) => ("h3", Some(res)),
    };
    Ok(json_response(
        JSON,
        &json!({
            "unit": unit,
            "res": res,
            "period": period_name(tq.period),
            "at": tq.period.label(tq.at),
            "baseline": tq.baseline,
            "baseline_periods": periods,
            "metric": match tq.metric { Metric::Events => "events", Metric::Fatalities => "fatalities" },
            "min_change": tq.min_change,
            "units": units.iter().map(|u| unit_json(atlas, u)).collect::<Vec<_>>(),
        }),
    ))
}

/// A unit's id (region code or cell) and, for people, its name.
fn unit_names(atlas: &Atlas, key: UnitKey) -> (String, String) {
    match key {
        UnitKey::Region(i) => {
            let r = &atlas.regions()[i];
            (r.id.clone(), r.name.clone())
        }
        UnitKey::Cell(c) => (c.to_string(), c.to_string()),
    }
}

fn change_pct(u: &UnitTrend) -> Option<f64> {
    (u.baseline_mean > 0.0).then(|| rounded(100.0 * u.change / u.baseline_mean))
}

fn unit_json(atlas: &Atlas, u: &UnitTrend) -> Value {
    let (id, name) = unit_names(atlas, u.unit);
    let mut v = json!({
        "unit": id,
        "name": name,
        "value": u.value,
        "baseline_mean": rounded(u.baseline_mean),
        "baseline_sd": rounded(u.baseline_sd),
        "change": rounded(u.change),
        "change_pct": change_pct(u),
        "flag": u.flag,
        "series": u.series,
    });
    if let (UnitKey::Cell(c), Value::Object(m)) = (u.unit, &mut v) {
        let ring: Vec<[f64; 2]> = hexbins::boundary(c)
            .iter()
            .map(|p| [p.lon, p.lat])
            .collect();
        m.insert(
            "geometry".into(),
            json!({"type": "Polygon", "coordinates": [ring]}),
        );
    }
    v
}

fn trends_csv(atlas: &Atlas, tq: &TrendQuery, periods: &[String], units: &[UnitTrend]) -> Response {
    let mut columns: Vec<&str> = vec![
        "unit",
        "name",
        "value",
        "baseline_mean",
        "baseline_sd",
        "change",
        "change_pct",
        "flag",
    ];
    columns.extend(periods.iter().map(String::as_str));
    let rows = units
        .iter()
        .map(|u| {
            let (id, name) = unit_names(atlas, u.unit);
            let flag = serde_json::to_value(u.flag)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let mut row = vec![
                id,
                name,
                u.value.to_string(),
                rounded(u.baseline_mean).to_string(),
                rounded(u.baseline_sd).to_string(),
                rounded(u.change).to_string(),
                change_pct(u).map(|p| p.to_string()).unwrap_or_default(),
                flag,
            ];
            row.extend(u.series.iter().map(|v| v.to_string()));
            row
        })
        .collect();
    let name = format!(
        "trends-{}-{}",
        period_name(tq.period),
        tq.period.label(tq.at)
    );
    csv_table(&name, &columns, rows)
}
