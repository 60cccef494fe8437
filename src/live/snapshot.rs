//! One consistent view of the data, and the per-tile write epochs it answers cache keys
//! with.

use std::sync::Arc;

use crate::atlas::Atlas;
use crate::query::filter::Matcher;
use crate::query::hexbins::HexPyramid;
use crate::store::Change;
use crate::tiles::cache::TileEpochs;
use crate::tiles::coord::TileCoord;
use crate::tiles::{TileError, TileSet, TileSource};

/// One consistent view of the data: the atlas, the tile geometry and the summaries built
/// from it (the cluster and hexbin pyramids, summed in the background), and the store
/// sequence number it includes.
pub struct Snapshot {
    /// The events, regions, bases and places, indexed.
    pub atlas: Atlas,
    /// Tile geometry and the pyramids; read through the methods below.
    pub(super) tiles: TileSource,
    /// The store's sequence number this snapshot includes.
    pub sequence: u64,
    /// Counts the reloads of the data files (1 at start-up): part of every tile's cache
    /// key, since a reload may change anything.
    pub data_version: u64,
    /// Per tile, the sequence of the last write that changed an event in it.
    pub(super) epochs: Arc<TileEpochs>,
}

impl Snapshot {
    pub(super) fn new(
        atlas: Atlas,
        sequence: u64,
        data_version: u64,
        epochs: Arc<TileEpochs>,
    ) -> Snapshot {
        let tiles = TileSource::build(&atlas);
        Snapshot {
            atlas,
            tiles,
            sequence,
            data_version,
            epochs,
        }
    }

    /// Encodes tile `t` of `set` under matcher `m`; `None` when it is empty.
    ///
    /// # Errors
    /// A tile that cannot be encoded.
    pub fn render_tile(
        &self,
        set: TileSet,
        t: TileCoord,
        m: &Matcher,
    ) -> Result<Option<Vec<u8>>, TileError> {
        self.tiles.render_set(set, &self.atlas, t, m)
    }

    /// The hexbin pyramid, once summed (country-wide whole-year counts per H3 cell).
    pub fn hexbin_pyramid(&self) -> Option<&HexPyramid> {
        self.tiles.hex_pyramid()
    }

    /// Whether both pyramids are summed (until then tiles and hexbins scan).
    pub fn summaries_ready(&self) -> bool {
        self.tiles.summaries_ready()
    }

    /// The sequence of the last write that touched tile `t` as of this snapshot (0: none
    /// since start-up), or `None` if a later write touched it: the tile as this snapshot
    /// draws it is then not the one cached under the newer epoch.
    pub fn tile_epoch(&self, t: TileCoord) -> Option<u64> {
        let epoch = self.epochs.get(t);
        (epoch <= self.sequence).then_some(epoch)
    }

    /// [`Snapshot::tile_epoch`] for a tile of the hexbins set: the latest write to it or to
    /// its eight neighbours, since a cell drawn in a tile may hold events of the tiles
    /// around (at each zoom's resolution a cell is narrower than a tile).
    pub fn tile_epoch_around(&self, t: TileCoord) -> Option<u64> {
        let n = 1i64 << t.z;
        let mut epoch = 0;
        for dy in -1..=1i64 {
            for dx in -1..=1i64 {
                let y = i64::from(t.y) + dy;
                if !(0..n).contains(&y) {
                    continue;
                }
                let x = (i64::from(t.x) + dx).rem_euclid(n);
                if let Ok(near) = TileCoord::new(t.z, x as u32, y as u32) {
                    epoch = epoch.max(self.epochs.get(near));
                }
            }
        }
        (epoch <= self.sequence).then_some(epoch)
    }

    /// This snapshot with `changes` (committed as `sequence`) applied.
    pub(super) fn with_changes(&self, changes: &[Change], sequence: u64) -> Snapshot {
        Snapshot {
            atlas: self.atlas.with_changes(changes),
            tiles: self.tiles.clone(),
            sequence,
            data_version: self.data_version,
            epochs: self.epochs.clone(),
        }
    }
}
