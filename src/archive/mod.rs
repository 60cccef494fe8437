//! Tile archives: PMTiles v3 and MBTiles 1.3, read to serve them (`serve --archive`) and
//! written to publish the atlas (`export tiles`).

mod read;
mod write;

pub use read::{Archive, ArchiveError, ArchiveProblem};
pub use write::{ArchiveFormat, ExportError, ExportSpec, Exported, SinkError, export_tiles};
