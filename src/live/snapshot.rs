//! One consistent view of the data, and the per-tile write epochs it answers cache keys
//! with.

use std::sync::Arc;

use crate::atlas::Atlas;
use crate::store::Change;
use crate::tiles::TileSource;
use crate::tiles::cache::TileEpochs;
use crate::tiles::coord::TileCoord;

/// One consistent view of the data: the atlas, the tile geometry built from it, and the
/// store sequence number it includes.
pub struct Snapshot {
    pub atlas: Atlas,
    pub tiles: TileSource,
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
