//! Encoded tiles kept in memory, bounded by bytes and keyed by tile and filters, so a hot
//! tile is served without re-encoding (or re-compressing).

use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock, RwLock};

use bytes::Bytes;
use rustc_hash::FxHashMap;

use crate::support::gzip::{Compression, gzip};

use super::TileSet;
use super::coord::{MAX_ZOOM, TileCoord, project};
use crate::model::LonLat;
use crate::query::filter::EventFilter;

/// One encoded tile: the MVT bytes, their gzip, and an ETag. Empty `raw` = empty tile.
#[derive(Debug)]
pub struct EncodedTile {
    pub raw: Bytes,
    /// Made on the first request that takes gzip: many clients (wrk, some GIS tools) do
    /// not, and a render for them should not pay for it.
    gzip: OnceLock<Bytes>,
    pub etag: String,
}

/// A strong ETag for a tile's bytes.
pub fn etag(bytes: &[u8]) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    format!("\"{:016x}-{:x}\"", hasher.finish(), bytes.len())
}

impl EncodedTile {
    pub fn new(raw: Option<Vec<u8>>) -> EncodedTile {
        let raw = raw.unwrap_or_default();
        EncodedTile {
            etag: etag(&raw),
            raw: Bytes::from(raw),
            gzip: OnceLock::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The tile gzipped, made once.
    pub fn gzip(&self) -> Bytes {
        self.gzip
            .get_or_init(|| Bytes::from(gzip(&self.raw, Compression::new(6))))
            .clone()
    }
}

/// An event filter in one canonical form (types lower-cased and sorted, the actor folded),
/// so equal filters share cache entries. Tiles carry no box or property filters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FilterKey {
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    types: Vec<String>,
    actor: Option<String>,
    min_fatalities: Option<u32>,
    region: Option<crate::model::RegionIdx>,
}

impl FilterKey {
    pub fn of(f: &EventFilter) -> FilterKey {
        debug_assert!(f.bbox.is_none() && f.equals.is_empty(), "not a tile filter");
        let mut types: Vec<String> = f.types.iter().map(|t| t.to_lowercase()).collect();
        types.sort();
        types.dedup();
        FilterKey {
            from: f.from,
            to: f.to,
            types,
            actor: f.actor.as_deref().map(crate::model::text::fold),
            min_fatalities: f.min_fatalities,
            region: f.region,
        }
    }

    /// Bytes this key holds, for the cache's weigher.
    fn weight(&self) -> usize {
        64 + self.types.iter().map(String::len).sum::<usize>()
            + self.actor.as_ref().map_or(0, String::len)
    }
}

/// One tile of one tile set and filter: what the cache is keyed by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TileKey {
    pub set: TileSet,
    pub tile: TileCoord,
    pub filter: FilterKey,
}

/// Which state of the data a tile was rendered from. Not part of the key: a newer version
/// replaces a tile's entry rather than adding one beside it, so a stream of writes does
/// not fill the cache with tiles no snapshot can ask for again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileVersion {
    /// The last write that changed the tile's events (see `live::Snapshot::tile_epoch`):
    /// a write makes exactly its tiles miss.
    pub epoch: u64,
    /// Which reload of the data files the tile comes from (a reload may change any tile).
    pub data_version: u64,
}

/// A cached tile and the version it was rendered from.
struct Versioned {
    version: TileVersion,
    tile: Arc<EncodedTile>,
}

pub struct TileCache {
    cache: Option<moka::sync::Cache<TileKey, Arc<Versioned>>>,
}

impl TileCache {
    /// A cache holding up to `max_bytes` of tiles; 0 disables caching.
    pub fn new(max_bytes: u64) -> TileCache {
        let cache = (max_bytes > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|k: &TileKey, v: &Arc<Versioned>| {
                    // The gzip copy may come later: count it as half the raw tile.
                    let bytes = k.filter.weight() + v.tile.raw.len() * 3 / 2;
                    bytes.min(u32::MAX as usize) as u32
                })
                .build()
        });
        TileCache { cache }
    }

    /// Whether the tile is cached at this version.
    pub fn contains(&self, key: &TileKey, version: TileVersion) -> bool {
        self.get(key, version).is_some()
    }

    /// The tile if it is cached at this version.
    pub fn get(&self, key: &TileKey, version: TileVersion) -> Option<Arc<EncodedTile>> {
        let hit = self.cache.as_ref()?.get(key)?;
        (hit.version == version).then(|| hit.tile.clone())
    }

    /// Bytes held (by the weigher's count), for metrics.
    pub fn weighted_bytes(&self) -> u64 {
        self.cache.as_ref().map_or(0, |c| {
            c.run_pending_tasks();
            c.weighted_size()
        })
    }

    /// The cached tile at `version`, or `render`'s result, cached in place of an older
    /// version (not cached without a key). Concurrent requests for the same missing tile
    /// render it once.
    pub fn get_or_render<E: Send + Sync + 'static>(
        &self,
        key: Option<(TileKey, TileVersion)>,
        render: impl Fn() -> Result<Option<Vec<u8>>, E>,
    ) -> Result<Arc<EncodedTile>, Arc<E>> {
        let make = || render().map(|raw| Arc::new(EncodedTile::new(raw)));
        let (Some(c), Some((key, version))) = (&self.cache, key) else {
            return make().map_err(Arc::new);
        };
        match c.get(&key) {
            Some(hit) if hit.version == version => return Ok(hit.tile.clone()),
            Some(_) => c.invalidate(&key),
            None => {}
        }
        let got = c.try_get_with(key, || {
            make().map(|tile| Arc::new(Versioned { version, tile }))
        })?;
        if got.version == version {
            Ok(got.tile.clone())
        } else {
            // Another snapshot's render won the race (a request that started before a
            // write, or after one this request does not see): answer from our own.
            make().map_err(Arc::new)
        }
    }
}

/// Per tile, the sequence number of the last write that changed an event in it (0: none),
/// for every zoom; only ever increases. Shared by all snapshots.
#[derive(Default)]
pub struct TileEpochs(RwLock<FxHashMap<u64, u64>>);

/// A tile as one number: zoom in the top bits, then column and row.
fn packed(t: TileCoord) -> u64 {
    (u64::from(t.z) << 58) | (u64::from(t.x) << 29) | u64::from(t.y)
}

impl TileEpochs {
    pub fn get(&self, t: TileCoord) -> u64 {
        let map = self.0.read().unwrap_or_else(|e| e.into_inner());
        map.get(&packed(t)).copied().unwrap_or(0)
    }

    /// Records that write `sequence` changed events at `points`: the tiles holding them,
    /// at every zoom.
    pub fn touch(&self, points: impl Iterator<Item = LonLat>, sequence: u64) {
        let tiles: Vec<u64> = points
            .flat_map(|p| {
                let w = project(p);
                (0..=MAX_ZOOM).map(move |z| packed(TileCoord::containing(w, z)))
            })
            .collect();
        let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
        for t in tiles {
            map.insert(t, sequence);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A newer version of a tile replaces its entry: a stream of writes does not grow the
    /// cache, and an older snapshot still gets its own tile.
    #[test]
    fn a_new_version_replaces_the_entry() {
        let cache = TileCache::new(1 << 20);
        let key = TileKey {
            set: TileSet::Main,
            tile: TileCoord::new(5, 15, 14).unwrap(),
            filter: FilterKey::of(&EventFilter::default()),
        };
        let version = |epoch| TileVersion {
            epoch,
            data_version: 1,
        };
        let render = |bytes: u8| move || Ok::<_, ()>(Some(vec![bytes; 100]));
        for epoch in 0..50u8 {
            let v = version(u64::from(epoch));
            let got = cache.get_or_render(Some((key.clone(), v)), render(epoch));
            assert_eq!(got.unwrap().raw[0], epoch);
            assert!(cache.contains(&key, v));
            let again = cache.get_or_render(Some((key.clone(), v)), render(255));
            assert_eq!(again.unwrap().raw[0], epoch, "served from the cache");
        }
        let c = cache.cache.as_ref().unwrap();
        c.run_pending_tasks();
        assert_eq!(c.entry_count(), 1);
        let old = cache.get_or_render(Some((key.clone(), version(3))), render(3));
        assert_eq!(old.unwrap().raw[0], 3, "an older snapshot renders its own");
    }
}
