//! Encoded tiles kept in memory, bounded by bytes and keyed by tile and filters, so a hot
//! tile is served without re-encoding (or re-compressing).

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;

use super::coord::TileCoord;

/// One encoded tile: the MVT bytes, their gzip, and an ETag. Empty `raw` = empty tile.
#[derive(Debug)]
pub struct EncodedTile {
    pub raw: Bytes,
    pub gzip: Bytes,
    pub etag: String,
}

impl EncodedTile {
    pub fn new(raw: Option<Vec<u8>>) -> EncodedTile {
        let raw = raw.unwrap_or_default();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        raw.hash(&mut hasher);
        let etag = format!("\"{:016x}-{:x}\"", hasher.finish(), raw.len());
        let gzip = if raw.is_empty() {
            Bytes::new()
        } else {
            let mut enc = flate2::write::GzEncoder::new(
                Vec::with_capacity(raw.len() / 2),
                flate2::Compression::new(6),
            );
            // Writing to a Vec cannot fail.
            let _ = enc.write_all(&raw);
            Bytes::from(enc.finish().unwrap_or_default())
        };
        EncodedTile {
            raw: Bytes::from(raw),
            gzip,
            etag,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }
}

/// Tile + canonical filter string.
pub type TileKey = (TileCoord, String);

pub struct TileCache {
    cache: Option<moka::sync::Cache<TileKey, Arc<EncodedTile>>>,
}

impl TileCache {
    /// A cache holding up to `max_bytes` of tiles; 0 disables caching.
    pub fn new(max_bytes: u64) -> TileCache {
        let cache = (max_bytes > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|k: &TileKey, v: &Arc<EncodedTile>| {
                    (k.1.len() + v.raw.len() + v.gzip.len() + 64).min(u32::MAX as usize) as u32
                })
                .build()
        });
        TileCache { cache }
    }

    /// The cached tile, or `render`'s result, cached. Concurrent requests for the same
    /// missing tile render it once.
    pub fn get_or_render<E: Send + Sync + 'static>(
        &self,
        key: TileKey,
        render: impl FnOnce() -> Result<Option<Vec<u8>>, E>,
    ) -> Result<Arc<EncodedTile>, Arc<E>> {
        let make = || render().map(|raw| Arc::new(EncodedTile::new(raw)));
        match &self.cache {
            Some(c) => c.try_get_with(key, make),
            None => make().map_err(Arc::new),
        }
    }
}
