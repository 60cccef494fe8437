//! The base events and every index built over them, saved to one file and read back in
//! one pass, so that a restart with unchanged inputs skips parsing and indexing: at ten
//! million events that is the difference between seconds and most of a minute.
//!
//! The file starts with a magic string and [`FORMAT`]; then, through a checksummed
//! [`PlainWriter`], the fingerprint of the inputs it was built from, how far into the
//! store it goes (a [`StoreMark`]), the events in columns (repeated words once, in a
//! vocabulary), the regions and actors of each event, the point index, the grid and the
//! id table; then the notes of every event, one after another; last, the length of the
//! checksummed part and its checksum.
//!
//! A file of another format, another fingerprint, or with any checksummed byte damaged
//! is not used: the caller builds from the inputs again and saves over it. The notes are
//! not read at start-up: the file stays mapped and each event's [`Notes`] points into it,
//! paged in when shown (checked as UTF-8 there), so they cost page cache, not heap.
//! Files are written beside and renamed into place, never changed in place, so a mapped
//! file stays as it was read.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use rustc_hash::FxHashMap;

use super::events::{Actors, EventIndex, Indexes};
use super::ids::IdIndex;
use super::points::PointIndex;
use crate::atlas::grid::EventGrid;
use crate::atlas::plain_io::{Plain, PlainReader, PlainWriter};
use crate::model::notes::{NotesFile, NotesWriter};
use crate::model::{Event, LonLat, Notes, RegionIdx, Word};

const MAGIC: &[u8; 16] = b"SAHEL-ATLAS-BASE";
/// Bumped whenever what is written changes.
const FORMAT: u32 = 5;
/// The magic string and the format.
const HEAD: u64 = MAGIC.len() as u64 + 4;

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

/// How far into the store a saved base goes: its last sequence, and that change as the
/// store recorded it (`"<seq> <op> <id>"`, empty at 0). A store whose change at that
/// sequence is another is another store: the base is not laid under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreMark {
    pub sequence: u64,
    pub last_change: String,
}

/// Writes `base` (including the store's changes up to `mark`) to `path`.
///
/// # Errors
/// The file or its directory cannot be written.
pub(super) fn save(
    base: &EventIndex,
    path: &Path,
    fingerprint: &str,
    mark: &StoreMark,
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
        w.value(&mark.sequence)?;
        w.text(&mark.last_change)?;
        write_body(base, &mut w)?;
        let sum = w.finish()?;
        let checked = file.stream_position()? - HEAD;
        let mut notes = NotesWriter::new(io::BufWriter::with_capacity(1 << 20, &mut file));
        for e in &base.events {
            notes.push(&e.notes)?;
        }
        notes.finish()?.flush()?;
        file.write_all(&checked.to_le_bytes())?;
        file.write_all(&sum.to_le_bytes())?;
        file.sync_all()?;
        std::fs::rename(&part, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&part);
    }
    written.map_err(err)
}

/// The base saved at `path` and how far into the store it goes, if the file is there,
/// whole, of this format and built from inputs with this `fingerprint`; `Ok(None)`
/// when there is no file or it was built from other inputs.
///
/// # Errors
/// A file that is damaged or cannot be read.
pub(super) fn open(
    path: &Path,
    fingerprint: &str,
    n_regions: usize,
) -> Result<Option<(EventIndex, StoreMark)>, SavedError> {
    let err = at(path);
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err(e)),
    };
    let len = file.metadata().map_err(&err)?.len();
    let mut magic = [0; HEAD as usize];
    if len < HEAD + 16 || file.read_exact(&mut magic).is_err() || &magic[..MAGIC.len()] != MAGIC {
        return Err(err(invalid("not a saved Sahel Atlas base")));
    }
    if magic[MAGIC.len()..] != FORMAT.to_le_bytes() {
        return Ok(None);
    }
    let mut footer = [0; 16];
    file.seek(SeekFrom::Start(len - 16)).map_err(&err)?;
    file.read_exact(&mut footer).map_err(&err)?;
    let [checked, stored_sum] = <[u64; 2]>::get(&footer);
    if checked > len - HEAD - 16 {
        return Err(err(invalid("the file is cut short")));
    }
    file.seek(SeekFrom::Start(HEAD)).map_err(&err)?;
    let mut r = PlainReader::new(&file, checked);
    if r.text().map_err(&err)? != fingerprint {
        return Ok(None);
    }
    let sequence: u64 = r.value().map_err(&err)?;
    let mark = StoreMark {
        sequence,
        last_change: r.text().map_err(&err)?,
    };
    // SAFETY: the file is only ever replaced by a rename, never written in place, so the
    // mapping keeps the bytes that were checked; a note that is not UTF-8 reads as empty.
    let mapped = unsafe { NotesFile::map(file.try_clone().map_err(&err)?) };
    let notes = Tail {
        file: Arc::new(mapped.map_err(&err)?),
        start: HEAD + checked,
        end: len - 16,
    };
    let base = read_body(&mut r, &notes, n_regions).map_err(&err)?;
    if r.finish() != stored_sum {
        return Err(err(invalid(
            "the checksum does not match: the file is damaged",
        )));
    }
    Ok(Some((base, mark)))
}

/// Where the notes lie in a mapped saved file.
struct Tail {
    file: Arc<NotesFile>,
    start: u64,
    end: u64,
}

/// No region, in the saved regions column.
const NO_REGION: u16 = u16::MAX;

fn write_body<W: Write>(base: &EventIndex, w: &mut PlainWriter<W>) -> io::Result<()> {
    write_events(&base.events, w)?;
    let region: Vec<u16> = base
        .indexes
        .region
        .iter()
        .map(|r| r.unwrap_or(NO_REGION))
        .collect();
    w.array(&region)?;
    w.value(&(base.indexes.actors.names.len() as u64))?;
    for name in &base.indexes.actors.names {
        w.text(name)?;
    }
    w.array(&base.indexes.actor_pairs)?;
    base.indexes.points.save(w)?;
    base.indexes.grid.save(w)?;
    base.indexes.ids.save(w)
}

fn read_body<R: Read + Send>(
    r: &mut PlainReader<R>,
    notes: &Tail,
    n_regions: usize,
) -> io::Result<EventIndex> {
    let columns = EventColumns::read(r, notes)?;
    let n = columns.len();
    // The events are put together on one core while the indexes are read on another:
    // both are mostly the kernel handing out fresh pages. The events, with an allocation
    // for each id, are put together on the calling thread: at start-up that is the main
    // thread, whose arena grows by `brk`, where a spawned thread's grows by `mprotect`
    // calls (10M events: 1.9-2.1 s -> 1.65-1.85 s).
    let (events, indexes) = std::thread::scope(|s| {
        let indexes = s.spawn(|| read_indexes(r, n, n_regions));
        let events = columns.into_events(notes);
        (events, indexes.join().expect("indexes read"))
    });
    Ok(EventIndex::assemble(events?, indexes?, n_regions))
}

/// The indexes of `n` events, as `write_body` wrote them after the events.
fn read_indexes<R: Read>(
    r: &mut PlainReader<R>,
    n: usize,
    n_regions: usize,
) -> io::Result<Indexes> {
    let region: Vec<Option<RegionIdx>> = r
        .array::<u16>()?
        .into_iter()
        .map(|v| (v != NO_REGION).then_some(v))
        .collect();
    let n_actors = r.count(8)?;
    let mut actors = Actors::default();
    for _ in 0..n_actors {
        actors.id(Word::new(&r.text()?));
    }
    let actor_pairs: Vec<[u32; 2]> = r.array()?;
    let points = PointIndex::read(r)?;
    let grid = EventGrid::read(r, n)?;
    let ids = IdIndex::read(r, n)?;
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
    Ok(Indexes {
        region,
        actors,
        actor_pairs,
        points,
        grid,
        ids,
    })
}

/// The words of an event that many events share, in the order they are written.
fn words(e: &Event) -> [Word; 8] {
    [
        e.event_type,
        e.sub_event_type,
        e.actor1,
        e.actor2,
        e.admin1,
        e.admin2,
        e.location,
        e.source,
    ]
}

/// No geo_precision, in its saved column.
const NO_PRECISION: u8 = u8::MAX;

fn write_events<W: Write>(events: &[Event], w: &mut PlainWriter<W>) -> io::Result<()> {
    let mut vocab: Vec<Word> = Vec::new();
    let mut ids: FxHashMap<Word, u32> = FxHashMap::default();
    let coded: Vec<[u32; 8]> = events
        .iter()
        .map(|e| {
            words(e).map(|s| {
                *ids.entry(s).or_insert_with(|| {
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
    w.array(&column(&|e| e.notes.stored_len()))?;
    for e in events {
        w.raw_text(&e.id)?;
    }
    Ok(())
}

/// The events as `write_events` wrote them, in columns, checked to agree.
struct EventColumns {
    vocab: Vec<Word>,
    coded: Vec<[u32; 8]>,
    days: Vec<u32>,
    fatalities: Vec<u32>,
    precision: Vec<u8>,
    pos: Vec<LonLat>,
    id_len: Vec<u32>,
    notes_len: Vec<u32>,
    /// Every id, one after another.
    ids: String,
}

impl EventColumns {
    fn read<R: Read>(r: &mut PlainReader<R>, notes: &Tail) -> io::Result<EventColumns> {
        let n_words = r.count(8)?;
        let vocab = (0..n_words)
            .map(|_| r.text().map(|s| Word::new(&s)))
            .collect::<io::Result<Vec<_>>>()?;
        let coded: Vec<[u32; 8]> = r.array()?;
        let days: Vec<u32> = r.array()?;
        let fatalities: Vec<u32> = r.array()?;
        let precision: Vec<u8> = r.array()?;
        let pos: Vec<LonLat> = r.array()?;
        let id_len: Vec<u32> = r.array()?;
        let notes_len: Vec<u32> = r.array()?;
        let n = coded.len();
        let sum = |v: &[u32]| v.iter().map(|&l| u64::from(l)).sum::<u64>();
        let agree = [
            days.len(),
            fatalities.len(),
            precision.len(),
            pos.len(),
            id_len.len(),
            notes_len.len(),
        ]
        .iter()
        .all(|&k| k == n)
            && coded.iter().flatten().all(|&c| (c as usize) < n_words)
            && notes.start + sum(&notes_len) == notes.end;
        if !agree {
            return Err(invalid("the events' columns do not agree"));
        }
        let ids =
            String::from_utf8(r.bytes(sum(&id_len))?).map_err(|_| invalid("an id is not UTF-8"))?;
        Ok(EventColumns {
            vocab,
            coded,
            days,
            fatalities,
            precision,
            pos,
            id_len,
            notes_len,
            ids,
        })
    }

    fn len(&self) -> usize {
        self.coded.len()
    }

    /// The events, their notes left in the mapped file.
    fn into_events(self, notes: &Tail) -> io::Result<Vec<Event>> {
        let mut events = Vec::with_capacity(self.len());
        let (mut id_at, mut notes_at) = (0, notes.start);
        for k in 0..self.len() {
            let id = self
                .ids
                .get(id_at..id_at + self.id_len[k] as usize)
                .ok_or_else(|| invalid("an id is cut inside a character"))?;
            id_at += id.len();
            let [
                event_type,
                sub_event_type,
                actor1,
                actor2,
                admin1,
                admin2,
                location,
                source,
            ] = self.coded[k].map(|c| self.vocab[c as usize]);
            events.push(Event {
                id: id.into(),
                date: NaiveDate::from_num_days_from_ce_opt(self.days[k] as i32)
                    .ok_or_else(|| invalid("a date is out of range"))?,
                event_type,
                sub_event_type,
                actor1,
                actor2,
                admin1,
                admin2,
                location,
                geo_precision: (self.precision[k] != NO_PRECISION).then_some(self.precision[k]),
                fatalities: self.fatalities[k],
                source,
                notes: Notes::Mapped {
                    file: notes.file.clone(),
                    at: notes_at,
                    len: self.notes_len[k],
                },
                pos: self.pos[k],
            });
            notes_at += u64::from(self.notes_len[k]);
        }
        Ok(events)
    }
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

    const NO_WRITES: StoreMark = StoreMark {
        sequence: 0,
        last_change: String::new(),
    };

    fn read_back(path: &Path, fingerprint: &str) -> Result<Option<(Atlas, StoreMark)>, SavedError> {
        Atlas::open_saved(load_fixed(&geodata()).unwrap(), path, fingerprint)
    }

    /// Every event, its region and the answers of every index are the same read back.
    #[test]
    fn a_saved_base_reads_back_as_built() {
        let atlas = crate::synth::test_atlas(20_000, 11);
        let path = scratch("round-trip");
        let mark = StoreMark {
            sequence: 7,
            last_change: "7 upsert MLI7".into(),
        };
        atlas.save_base(&path, "inputs", &mark).unwrap();
        let (back, read_mark) = read_back(&path, "inputs").unwrap().expect("the saved base");
        assert_eq!(read_mark, mark);
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
        atlas.save_base(&path, "inputs", &NO_WRITES).unwrap();
        assert!(read_back(&path, "other inputs").unwrap().is_none());
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[MAGIC.len()] ^= 0xff; // the format number
        std::fs::write(&path, &bytes).unwrap();
        assert!(read_back(&path, "inputs").unwrap().is_none());
        std::fs::remove_file(&path).unwrap();
    }

    /// Any damaged byte of the checked part, or a short file, is an error (the caller
    /// builds instead); a damaged note reads as other or empty notes of that one event.
    /// Never a panic.
    #[test]
    fn a_damaged_base_is_an_error() {
        let atlas = crate::synth::test_atlas(2_000, 5);
        let path = scratch("damaged");
        atlas.save_base(&path, "inputs", &NO_WRITES).unwrap();
        let good = std::fs::read(&path).unwrap();
        let checked = u64::get(&good[good.len() - 16..good.len() - 8]) as usize;
        let notes = HEAD as usize + checked..good.len() - 16;
        let fingerprint = HEAD as usize..HEAD as usize + 8 + "inputs".len();
        let (mut errors, mut in_notes) = (0, 0);
        for at in (HEAD as usize..good.len()).step_by(good.len() / 197) {
            let mut bad = good.clone();
            bad[at] ^= 0x95;
            std::fs::write(&path, &bad).unwrap();
            match read_back(&path, "inputs") {
                Err(_) => errors += 1,
                Ok(None) if fingerprint.contains(&at) => {}
                Ok(Some((back, _))) if notes.contains(&at) => {
                    let differ = (0..back.event_count() as u32)
                        .filter(|&i| *back.event(i).notes != *atlas.event(i).notes)
                        .count();
                    assert_eq!(differ, 1, "byte {at} of the notes");
                    in_notes += 1;
                }
                Ok(other) => panic!("byte {at} damaged, read as {:?}", other.map(|o| o.1)),
            }
        }
        for len in [
            good.len() - 1,
            good.len() - 9,
            good.len() / 2,
            MAGIC.len() + 2,
        ] {
            std::fs::write(&path, &good[..len]).unwrap();
            assert!(read_back(&path, "inputs").is_err(), "cut at {len}");
        }
        assert!(errors > 30 && in_notes > 30, "{errors} {in_notes}");
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
