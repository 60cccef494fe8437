//! The base events and every index built over them, saved to one file and read back in
//! one pass, so that a restart with unchanged inputs skips parsing and indexing: at ten
//! million events that is the difference between seconds and most of a minute.
//!
//! The file starts with a magic string and [`FORMAT`]; then, through a checksummed
//! [`PlainWriter`], the fingerprint of the inputs it was built from, the store sequence
//! it includes, the events in columns (repeated words once, in a vocabulary), the regions
//! and actors of each event, the point index and the grid; then the checksum. A file of
//! another format, another fingerprint, or with any byte damaged is not used: the caller
//! builds from the inputs again and saves over it. Files are written beside and renamed
//! into place, so a reader never sees half of one.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use rustc_hash::FxHashMap;

use super::events::{Actors, EventIndex};
use super::points::PointIndex;
use crate::grid::EventGrid;
use crate::model::{Event, LonLat, RegionIdx};
use crate::plain_io::{PlainReader, PlainWriter};

const MAGIC: &[u8; 16] = b"SAHEL-ATLAS-BASE";
/// Bumped whenever what is written changes.
const FORMAT: u32 = 1;

/// Why a saved file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SavedError {
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
}

fn at(path: &Path) -> impl Fn(io::Error) -> SavedError + '_ {
    move |source| SavedError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// What the base was built from: each input file's path, size, modification time and a
/// hash of its first and last 64 KiB, plus the store's name and this program's version.
/// Another value means other inputs: the saved base is not used.
///
/// # Errors
/// A file that cannot be read (the build from the inputs will then name it too).
pub fn fingerprint(files: &[PathBuf], store: &str) -> io::Result<String> {
    let mut parts = vec![format!(
        "format {FORMAT}, sahel-atlas {}, store {store}",
        env!("CARGO_PKG_VERSION")
    )];
    for f in files {
        let meta = std::fs::metadata(f)?;
        let mtime = meta
            .modified()?
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = std::fs::canonicalize(f)?;
        parts.push(format!(
            "{} {} bytes, modified {mtime}, ends {:016x}",
            path.display(),
            meta.len(),
            hash_ends(f, meta.len())?
        ));
    }
    Ok(parts.join("\n"))
}

/// A hash of a file's first and last 64 KiB: catches an edit that kept size and time.
fn hash_ends(path: &Path, len: u64) -> io::Result<u64> {
    const SPAN: u64 = 64 << 10;
    let mut f = File::open(path)?;
    let mut h = twox_hash::XxHash64::with_seed(0);
    let mut buf = vec![0; SPAN.min(len) as usize];
    f.read_exact(&mut buf)?;
    std::hash::Hasher::write(&mut h, &buf);
    f.seek(SeekFrom::Start(len.saturating_sub(SPAN)))?;
    f.read_exact(&mut buf)?;
    std::hash::Hasher::write(&mut h, &buf);
    Ok(std::hash::Hasher::finish(&h))
}

/// Writes `base` (including the store's changes up to `sequence`) to `path`.
///
/// # Errors
/// The file or its directory cannot be written.
pub(super) fn save(
    base: &EventIndex,
    path: &Path,
    fingerprint: &str,
    sequence: u64,
) -> Result<(), SavedError> {
    let err = at(path);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(&err)?;
    }
    // One name, so the part a killed process left is written over, not kept.
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    let part = path.with_file_name(name);
    let written = (|| {
        let mut file = File::create(&part)?;
        file.write_all(MAGIC)?;
        file.write_all(&FORMAT.to_le_bytes())?;
        let mut w = PlainWriter::new(&mut file);
        w.text(fingerprint)?;
        w.value(&sequence)?;
        write_body(base, &mut w)?;
        let sum = w.finish()?;
        file.write_all(&sum.to_le_bytes())?;
        file.sync_all()?;
        std::fs::rename(&part, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&part);
    }
    written.map_err(err)
}

/// The base saved at `path` and the store sequence it includes, if the file is there,
/// whole, of this format and built from inputs with this `fingerprint`; `Ok(None)`
/// when there is no file or it was built from other inputs.
///
/// # Errors
/// A file that is damaged or cannot be read.
pub(super) fn open(
    path: &Path,
    fingerprint: &str,
    n_regions: usize,
) -> Result<Option<(EventIndex, u64)>, SavedError> {
    let err = at(path);
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err(e)),
    };
    let len = file.metadata().map_err(&err)?.len();
    let head = (MAGIC.len() + 4) as u64;
    let mut magic = [0; MAGIC.len() + 4];
    if len < head + 8 || file.read_exact(&mut magic).is_err() || &magic[..MAGIC.len()] != MAGIC {
        return Err(err(invalid("not a saved Sahel Atlas base")));
    }
    if magic[MAGIC.len()..] != FORMAT.to_le_bytes() {
        return Ok(None);
    }
    let mut r = PlainReader::new(&mut file, len - head - 8);
    if r.text().map_err(&err)? != fingerprint {
        return Ok(None);
    }
    let sequence: u64 = r.value().map_err(&err)?;
    let base = read_body(&mut r, n_regions).map_err(&err)?;
    let sum = r.finish();
    let mut stored = [0; 8];
    file.seek(SeekFrom::Start(len - 8)).map_err(&err)?;
    file.read_exact(&mut stored).map_err(&err)?;
    if u64::from_le_bytes(stored) != sum {
        return Err(err(invalid(
            "the checksum does not match: the file is damaged",
        )));
    }
    Ok(Some((base, sequence)))
}

/// No region, in the saved regions column.
const NO_REGION: u16 = u16::MAX;

fn write_body<W: Write>(base: &EventIndex, w: &mut PlainWriter<W>) -> io::Result<()> {
    write_events(&base.events, w)?;
    let region: Vec<u16> = base.region.iter().map(|r| r.unwrap_or(NO_REGION)).collect();
    w.array(&region)?;
    w.value(&(base.actors.names.len() as u64))?;
    for name in &base.actors.names {
        w.text(name)?;
    }
    w.array(&base.actor_pairs)?;
    base.points.save(w)?;
    base.grid.save(w)
}

fn read_body<R: Read>(r: &mut PlainReader<R>, n_regions: usize) -> io::Result<EventIndex> {
    let events = read_events(r)?;
    let region: Vec<Option<RegionIdx>> = r
        .array::<u16>()?
        .into_iter()
        .map(|v| (v != NO_REGION).then_some(v))
        .collect();
    let n_actors = r.count(8)?;
    let mut actors = Actors::default();
    for _ in 0..n_actors {
        actors.id(&r.text()?.into());
    }
    let actor_pairs: Vec<[u32; 2]> = r.array()?;
    let points = PointIndex::read(r)?;
    let grid = EventGrid::read(r, events.len())?;
    let n = events.len();
    let whole = region.len() == n
        && region.iter().flatten().all(|&g| usize::from(g) < n_regions)
        && actors.names.len() == n_actors
        && actor_pairs.len() == n
        && actor_pairs
            .iter()
            .flatten()
            .all(|&a| (a as usize) < n_actors)
        && points.len() == n;
    if !whole {
        return Err(invalid("the events' columns do not agree"));
    }
    Ok(EventIndex::assemble(
        events,
        region,
        actors,
        actor_pairs,
        points,
        grid,
        n_regions,
    ))
}

/// The words of an event that many events share, in the order they are written.
fn words(e: &Event) -> [&Arc<str>; 8] {
    [
        &e.event_type,
        &e.sub_event_type,
        &e.actor1,
        &e.actor2,
        &e.admin1,
        &e.admin2,
        &e.location,
        &e.source,
    ]
}

/// No geo_precision, in its saved column.
const NO_PRECISION: u8 = u8::MAX;

fn write_events<W: Write>(events: &[Event], w: &mut PlainWriter<W>) -> io::Result<()> {
    let mut vocab: Vec<&str> = Vec::new();
    let mut ids: FxHashMap<&str, u32> = FxHashMap::default();
    let coded: Vec<[u32; 8]> = events
        .iter()
        .map(|e| {
            words(e).map(|s| {
                *ids.entry(&**s).or_insert_with(|| {
                    vocab.push(s);
                    (vocab.len() - 1) as u32
                })
            })
        })
        .collect();
    w.value(&(vocab.len() as u64))?;
    for s in &vocab {
        w.text(s)?;
    }
    w.array(&coded)?;
    let column = |f: &dyn Fn(&Event) -> u32| events.iter().map(f).collect::<Vec<u32>>();
    w.array(&column(&|e| {
        chrono::Datelike::num_days_from_ce(&e.date) as u32
    }))?;
    w.array(&column(&|e| e.fatalities))?;
    let precision: Vec<u8> = events
        .iter()
        .map(|e| e.geo_precision.unwrap_or(NO_PRECISION))
        .collect();
    w.array(&precision)?;
    w.array(&events.iter().map(|e| e.pos).collect::<Vec<LonLat>>())?;
    w.array(&column(&|e| e.id.len() as u32))?;
    w.array(&column(&|e| e.notes.len() as u32))?;
    for e in events {
        w.raw_text(&e.id)?;
        w.raw_text(&e.notes)?;
    }
    Ok(())
}

fn read_events<R: Read>(r: &mut PlainReader<R>) -> io::Result<Vec<Event>> {
    let n_words = r.count(8)?;
    let vocab = (0..n_words)
        .map(|_| r.text().map(Arc::<str>::from))
        .collect::<io::Result<Vec<_>>>()?;
    let coded: Vec<[u32; 8]> = r.array()?;
    let days: Vec<u32> = r.array()?;
    let fatalities: Vec<u32> = r.array()?;
    let precision: Vec<u8> = r.array()?;
    let pos: Vec<LonLat> = r.array()?;
    let id_len: Vec<u32> = r.array()?;
    let notes_len: Vec<u32> = r.array()?;
    let n = coded.len();
    if [
        days.len(),
        fatalities.len(),
        precision.len(),
        pos.len(),
        id_len.len(),
        notes_len.len(),
    ]
    .iter()
    .any(|&k| k != n)
        || coded.iter().flatten().any(|&c| c as usize >= n_words)
    {
        return Err(invalid("the events' columns do not agree"));
    }
    let mut events = Vec::with_capacity(n);
    let mut text = Vec::new();
    // The ids and notes in runs of about a megabyte: one read each, cut up in memory.
    let mut i = 0;
    while i < n {
        let (start, mut bytes) = (i, 0usize);
        while i < n && (i == start || bytes < 1 << 20) {
            bytes += id_len[i] as usize + notes_len[i] as usize;
            i += 1;
        }
        text.resize(bytes, 0);
        r.bytes_into(&mut text)?;
        let chunk =
            std::str::from_utf8(&text).map_err(|_| invalid("an id or note is not UTF-8"))?;
        let mut at = 0;
        for k in start..i {
            let cut = |at: usize, len: u32| chunk.get(at..at + len as usize).map(Arc::<str>::from);
            let (id, notes) = cut(at, id_len[k])
                .zip(cut(at + id_len[k] as usize, notes_len[k]))
                .ok_or_else(|| invalid("an id or note is cut inside a character"))?;
            at += id_len[k] as usize + notes_len[k] as usize;
            let [
                event_type,
                sub_event_type,
                actor1,
                actor2,
                admin1,
                admin2,
                location,
                source,
            ] = coded[k].map(|c| vocab[c as usize].clone());
            events.push(Event {
                id,
                date: NaiveDate::from_num_days_from_ce_opt(days[k] as i32)
                    .ok_or_else(|| invalid("a date is out of range"))?,
                event_type,
                sub_event_type,
                actor1,
                actor2,
                admin1,
                admin2,
                location,
                geo_precision: (precision[k] != NO_PRECISION).then_some(precision[k]),
                fatalities: fatalities[k],
                source,
                notes,
                pos: pos[k],
            });
        }
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atlas::Atlas;
    use crate::load::load_fixed;
    use crate::query::filter::EventFilter;
    use crate::query::{Near, Sort, find_events, near_page, nearest};

    fn geodata() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("geodata")
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sahel-saved-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("atlas.base")
    }

    fn read_back(path: &Path, fingerprint: &str) -> Result<Option<(Atlas, u64)>, SavedError> {
        Atlas::open_saved(load_fixed(&geodata()).unwrap(), path, fingerprint)
    }

    /// Every event, its region and the answers of every index are the same read back.
    #[test]
    fn a_saved_base_reads_back_as_built() {
        let atlas = crate::synth::test_atlas(20_000, 11);
        let path = scratch("round-trip");
        atlas.save_base(&path, "inputs", 7).unwrap();
        let (back, sequence) = read_back(&path, "inputs").unwrap().expect("the saved base");
        assert_eq!(sequence, 7);
        assert_eq!(back.event_count(), atlas.event_count());
        for i in 0..atlas.event_count() as u32 {
            assert_eq!(
                format!("{:?}", back.event(i)),
                format!("{:?}", atlas.event(i))
            );
            assert_eq!(back.event_region(i), atlas.event_region(i));
            assert_eq!(back.event_index(&atlas.event(i).id), Some(i));
        }
        assert_eq!(back.region_event_count(), atlas.region_event_count());
        assert_eq!(back.extents(), atlas.extents());
        let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
        let filters = [
            EventFilter::default(),
            EventFilter {
                from: date(2018, 1, 1),
                types: vec!["battles".into()],
                ..EventFilter::default()
            },
            EventFilter {
                actor: Some("jnim".into()),
                ..EventFilter::default()
            },
        ];
        let ids = |a: &Atlas, hits: &[crate::query::Hit]| -> Vec<Arc<str>> {
            hits.iter().map(|h| a.event(h.event).id.clone()).collect()
        };
        let mut compared = 0;
        for f in &filters {
            let (m, mb) = (f.compile(&atlas), f.compile(&back));
            for c in [
                LonLat::new(-4.18296, 14.4843),
                LonLat::new(-0.04472, 16.27167),
            ] {
                let near = Near {
                    center: c,
                    radius_km: 80.0,
                };
                let (n, page) = near_page(&atlas, &m, near, 5, 50);
                let (nb, page_b) = near_page(&back, &mb, near, 5, 50);
                assert_eq!((n, ids(&atlas, &page)), (nb, ids(&back, &page_b)));
                let all = find_events(&atlas, &m, Some(near), Sort::Date, usize::MAX);
                let all_b = find_events(&back, &mb, Some(near), Sort::Date, usize::MAX);
                assert_eq!(ids(&atlas, &all), ids(&back, &all_b));
                let k = nearest(&atlas, &m, c, 10);
                assert_eq!(ids(&atlas, &k), ids(&back, &nearest(&back, &mb, c, 10)));
                compared += all.len() + k.len();
            }
        }
        assert!(compared > 1000, "{compared}");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_base_saved_from_other_inputs_or_in_another_format_is_not_used() {
        let atlas = crate::synth::test_atlas(500, 3);
        let path = scratch("other-inputs");
        assert!(read_back(&path, "inputs").unwrap().is_none(), "no file yet");
        atlas.save_base(&path, "inputs", 0).unwrap();
        assert!(read_back(&path, "other inputs").unwrap().is_none());
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[MAGIC.len()] ^= 0xff; // the format number
        std::fs::write(&path, &bytes).unwrap();
        assert!(read_back(&path, "inputs").unwrap().is_none());
        std::fs::remove_file(&path).unwrap();
    }

    /// Any damaged byte, or a short file, is an error (the caller builds instead); never a
    /// panic or an atlas with wrong data.
    #[test]
    fn a_damaged_base_is_an_error() {
        let atlas = crate::synth::test_atlas(2_000, 5);
        let path = scratch("damaged");
        atlas.save_base(&path, "inputs", 0).unwrap();
        let good = std::fs::read(&path).unwrap();
        let mut tried = 0;
        for at in (MAGIC.len() + 4..good.len()).step_by(good.len() / 97) {
            let mut bad = good.clone();
            bad[at] ^= 0x55;
            std::fs::write(&path, &bad).unwrap();
            match read_back(&path, "inputs") {
                Err(_) => {}
                // The fingerprint's own bytes: read as other inputs.
                Ok(None) if at < MAGIC.len() + 4 + 8 + "inputs".len() => {}
                Ok(other) => panic!("byte {at} damaged, read as {:?}", other.map(|o| o.1)),
            }
            tried += 1;
        }
        for len in [good.len() - 1, good.len() / 2, MAGIC.len() + 2] {
            std::fs::write(&path, &good[..len]).unwrap();
            assert!(read_back(&path, "inputs").is_err(), "cut at {len}");
        }
        assert!(tried > 90);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn the_fingerprint_changes_with_any_input() {
        let dir = scratch("fingerprint").with_file_name("");
        let file = dir.join("events.csv");
        std::fs::write(&file, "event_id_cnty,latitude\nMLI1,14.5\n").unwrap();
        let files = [file.clone()];
        let first = fingerprint(&files, "store/a.gpkg").unwrap();
        assert_eq!(fingerprint(&files, "store/a.gpkg").unwrap(), first);
        assert_ne!(fingerprint(&files, "store/b.gpkg").unwrap(), first);
        // The same size and modification time, other bytes.
        let modified = std::fs::metadata(&file).unwrap().modified().unwrap();
        std::fs::write(&file, "event_id_cnty,latitude\nMLI2,14.5\n").unwrap();
        let f = std::fs::File::options().write(true).open(&file).unwrap();
        f.set_modified(modified).unwrap();
        assert_ne!(fingerprint(&files, "store/a.gpkg").unwrap(), first);
        // Another modification time alone.
        std::fs::write(&file, "event_id_cnty,latitude\nMLI1,14.5\n").unwrap();
        let later = modified + std::time::Duration::from_secs(5);
        let f = std::fs::File::options().write(true).open(&file).unwrap();
        f.set_modified(later).unwrap();
        assert_ne!(fingerprint(&files, "store/a.gpkg").unwrap(), first);
        f.set_modified(modified).unwrap();
        assert_eq!(fingerprint(&files, "store/a.gpkg").unwrap(), first);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
