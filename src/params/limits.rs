//! Caps on everything a client controls, used by `/api` and `/ogc` alike (stated in the
//! README and in the OpenAPI document, which reads them from the parameter types).

/// Largest page of events or features.
pub const MAX_LIMIT: usize = 10_000;
/// Page size of `/api` event lists when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 100;
/// Page size of OGC API items when `limit` is not given.
pub const OGC_DEFAULT_LIMIT: usize = 10;
/// Largest and default page of gazetteer matches.
pub const MAX_PLACES_LIMIT: usize = 100;
pub const DEFAULT_PLACES_LIMIT: usize = 10;
pub const MAX_RADIUS_KM: f64 = 1_000.0;
pub const DEFAULT_RADIUS_KM: f64 = 50.0;
/// A bounding box for `/api` may cover at most this many square degrees (OGC clients ask
/// for the whole world and page, so `/ogc` has no cap).
pub const MAX_BBOX_AREA_DEG2: f64 = 3_600.0;
pub const MAX_K: usize = 1_000;
pub const DEFAULT_K: usize = 10;
pub const MAX_TEXT_LEN: usize = 200;
pub const MAX_LIST_ITEMS: usize = 20;
pub const MAX_QUERY_LEN: usize = 8_192;
/// Years a base can be asked about (`open_in`).
pub const MIN_YEAR: u64 = 1900;
pub const MAX_YEAR: u64 = 2100;

/// Changes listed per `/api/changes` answer (default [`DEFAULT_CHANGES_LIMIT`]).
pub const MAX_CHANGES_LIMIT: usize = 10_000;
pub const DEFAULT_CHANGES_LIMIT: usize = 1_000;
/// The largest request body (`POST /api/events`), in bytes: 32 MiB.
pub const MAX_BODY_BYTES: usize = 32 << 20;
/// Record errors listed in one 422 answer.
pub const MAX_RECORD_ERRORS: usize = 100;

/// Periods a trend's baseline may span (ten years of months).
pub const MAX_BASELINE: usize = 120;
pub const DEFAULT_BASELINE: usize = 8;
/// Hot spots a coverage timeline lists at most, and by default.
pub const MAX_HOTSPOTS: usize = 100;
pub const DEFAULT_HOTSPOTS: usize = 10;
/// H3 resolution of hot spots unless `res` is given.
pub const DEFAULT_HOTSPOT_RES: u8 = 5;
/// Cells one hexbin answer may hold: a country at resolution 7 (5 km² cells) fits; finer
/// resolutions need a box or filters.
pub const MAX_HEXBINS: usize = 100_000;
