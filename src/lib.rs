//! Sahel Atlas: a map service for the conflict in Mali and the wider Sahel.
//!
//! Data flows one way: files and the store -> `load` (validate) -> `atlas` (indexes) ->
//! `query` / `tiles` -> `http`. Writes go `http` -> `live` -> `store` (durable first) -> a
//! delta the readers pick up atomically. ARCHITECTURE.md draws the parts.
//!
//! The modules are private; what the binary, the integration tests, the benchmarks and
//! the fuzz targets use is re-exported here.

mod archive;
mod atlas;
mod geodesy;
mod http;
mod live;
mod load;
mod model;
mod params;
mod query;
mod store;
mod support;
mod synth;
mod tiles;

pub use archive::{
    Archive, ArchiveError, ArchiveFormat, ArchiveProblem, ExportError, ExportSpec, Exported,
    SinkError, export_tiles,
};
pub use atlas::Atlas;
pub use http::archives::{Archives, Served, origin as archive_origin};
pub use http::download::DownloadLimits;
pub use http::problem::{Problem, ProblemKind};
pub use http::server::{ConnectionLimits, raise_open_files_limit, runtime};
pub use http::shed::ShedLimits;
pub use http::{AppState, Config, answer_get, serve};
pub use live::{Live, LoadFailed, Sources, read_atlas};
pub use load::{
    Dataset, EventSources, LoadError, load_bases, load_dataset, load_events_file, load_places,
    load_regions, read_events_csv, read_events_geojson,
};
pub use model::LonLat;
pub use model::notes::NoteSink;
pub use model::words::Interner;
pub use params::{Rejected, tile_filter};
pub use query::coverage::{CoverageRule, coverage_all};
pub use query::filter::EventFilter;
pub use query::{Near, Sort, fill_distances, find_events, near_page, nearest};
pub use store::gpkg::GeoPackageStore;
pub use store::import::{ImportError, import_files};
pub use store::{Change, ImportMark, StoreError, is_postgres_url, open as open_store};
pub use support::memory::tune_allocator;
pub use synth::write_events;
pub use tiles::coord::{TileCoord, project};
pub use tiles::{BOUNDS, TileSource};
