//! Large CSV exports parsed on every core: the file is split at record boundaries (a
//! newline outside quotes, found from the parity of the quotes before it) and each piece
//! is read by its own thread; the events come back in file order, errors with the line
//! numbers of the whole file.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::Path;

use super::events_csv::{
    IdCheck, LineCounter, clean_header, csv_error, events_of_records, read_events_csv,
};
use super::{LoadError, Location};
use crate::model::Event;
use crate::model::notes::{NoteSink, spill_file};
use crate::model::words::Interner;

/// Below this size one thread reads the file: splitting would not pay.
const SPLIT_MIN_BYTES: u64 = 16 << 20;

/// A piece of the file: a byte range starting at a record, and how many lines come
/// before it.
#[derive(Debug, Clone, PartialEq)]
struct Piece {
    bytes: Range<u64>,
    lines_before: u64,
}

/// Reads one ACLED or UCDP GED CSV file, in pieces on every core when it is large. With
/// `notes_dir`, the events' notes are kept in a spill file there rather than on the heap
/// (see [`crate::model::notes`]).
pub fn load_events_file(
    path: &Path,
    interner: &mut Interner,
    notes_dir: Option<&Path>,
) -> Result<Vec<Event>, LoadError> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    load_in_pieces(path, (interner, notes_dir), threads, SPLIT_MIN_BYTES)
}

/// [`load_events_file`] with `threads` pieces for files of `min_bytes` or more.
fn load_in_pieces(
    path: &Path,
    (interner, notes_dir): (&mut Interner, Option<&Path>),
    threads: usize,
    min_bytes: u64,
) -> Result<Vec<Event>, LoadError> {
    let len = open(path)?.metadata().map_or(0, |m| m.len());
    // A piece's notes go to the span of the spill that its bytes take in the file: an
    // ACLED note is text of its record, so they fit (a note that does not, as a UCDP
    // one written from several fields may not, is kept on the heap).
    let spill = notes_dir.and_then(|dir| spill_file(dir, len));
    if len < min_bytes || threads < 2 {
        return read_in_one(path, interner, NoteSink::spill(spill, 0..len));
    }
    // The header, and where the first record starts.
    let mut reader = csv::ReaderBuilder::new().from_reader(BufReader::new(open(path)?));
    let header = match reader.headers() {
        Ok(h) => clean_header(h),
        // Let the one-thread reader word the error.
        Err(_) => return read_in_one(path, interner, NoteSink::heap()),
    };
    let first = Piece {
        bytes: reader.position().byte()..len,
        lines_before: reader.position().line() - 1,
    };
    let pieces = split(path, first, threads).map_err(|e| LoadError::file(path, e.to_string()))?;
    let read = std::thread::scope(|s| {
        let workers: Vec<_> = pieces
            .iter()
            .map(|p| {
                let notes = NoteSink::spill(spill.clone(), p.bytes.clone());
                s.spawn(|| read_piece(path, &header, p, notes))
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("CSV piece reader"))
            .collect::<Vec<_>>()
    });
    let mut events = Vec::with_capacity(read.iter().map(|r| r.as_ref().map_or(0, Vec::len)).sum());
    for piece in read {
        events.extend(piece?);
    }
    // The pieces do not check their ids (see `IdCheck`); on a repeat the one-thread
    // reader names both lines.
    if let Some((_, again)) = super::repeated_id(events.len(), |i| &events[i].id) {
        read_in_one(path, interner, NoteSink::heap())?;
        return Err(LoadError::file(
            path,
            format!("event id {:?} is used twice", events[again].id),
        ));
    }
    Ok(events)
}

fn open(path: &Path) -> Result<File, LoadError> {
    File::open(path).map_err(|e| LoadError::file(path, format!("cannot open: {e}")))
}

/// Reads the file on one thread, stopping at its first problem.
fn read_in_one(
    path: &Path,
    interner: &mut Interner,
    mut notes: NoteSink,
) -> Result<Vec<Event>, LoadError> {
    let input = BufReader::with_capacity(1 << 20, open(path)?);
    let events = read_events_csv(input, path, (interner, &mut notes), 1)
        .map_err(|mut e| e.swap_remove(0))?;
    notes.finish().map_err(|e| notes_unwritten(path, e))?;
    Ok(events)
}

fn notes_unwritten(path: &Path, e: std::io::Error) -> LoadError {
    LoadError::file(
        path,
        format!("cannot write its notes to the spill file: {e}"),
    )
}

/// Splits `whole` into about `n` pieces at record starts: newlines with an even number
/// of quotes between the first record's start and them.
fn split(path: &Path, whole: Piece, n: usize) -> std::io::Result<Vec<Piece>> {
    let (start, end) = (whole.bytes.start, whole.bytes.end);
    let step = (end - start).div_ceil(n as u64).max(1);
    let stripes: Vec<Range<u64>> = (0..n as u64)
        .map(|i| (start + i * step).min(end)..(start + (i + 1) * step).min(end))
        .collect();
    // Quotes and newlines in each stripe, counted in parallel.
    let counts = std::thread::scope(|s| {
        let workers: Vec<_> = stripes
            .iter()
            .map(|r| s.spawn(|| count(path, r.clone())))
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("CSV stripe counter"))
            .collect::<std::io::Result<Vec<(u64, u64)>>>()
    })?;
    let mut pieces = vec![whole.clone()];
    let (mut quotes, mut lines) = (0, whole.lines_before);
    for (i, r) in stripes.iter().enumerate().skip(1) {
        quotes += counts[i - 1].0;
        lines += counts[i - 1].1;
        // The first newline at or after the stripe's start outside quotes.
        if let Some((at, lines_passed)) = record_start(path, r.start..end, quotes % 2 == 1)? {
            let prev = pieces.last_mut().expect("one piece");
            if at > prev.bytes.start && at < end {
                prev.bytes.end = at;
                pieces.push(Piece {
                    bytes: at..end,
                    lines_before: lines + lines_passed,
                });
            }
        }
    }
    Ok(pieces)
}

/// Reads `range` of the file in large blocks.
fn for_each_block(
    path: &Path,
    range: Range<u64>,
    mut f: impl FnMut(&[u8]) -> bool,
) -> std::io::Result<()> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(range.start))?;
    let mut input = file.take(range.end - range.start);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 || !f(&buf[..n]) {
            return Ok(());
        }
    }
}

/// How many quotes and newlines `range` holds.
fn count(path: &Path, range: Range<u64>) -> std::io::Result<(u64, u64)> {
    let (mut quotes, mut lines) = (0, 0);
    for_each_block(path, range, |block| {
        quotes += memchr::memchr_iter(b'"', block).count() as u64;
        lines += memchr::memchr_iter(b'\n', block).count() as u64;
        true
    })?;
    Ok((quotes, lines))
}

/// The offset just past the first newline in `range` outside quotes (`in_quotes`: the
/// state at its start), and the newlines up to it.
fn record_start(
    path: &Path,
    range: Range<u64>,
    in_quotes: bool,
) -> std::io::Result<Option<(u64, u64)>> {
    let (mut quoted, mut at, mut lines, mut found) = (in_quotes, range.start, 0, None);
    for_each_block(path, range, |block| {
        for i in memchr::memchr2_iter(b'"', b'\n', block) {
            if block[i] == b'"' {
                quoted = !quoted;
                continue;
            }
            lines += 1;
            if !quoted {
                found = Some((at + i as u64 + 1, lines));
                return false;
            }
        }
        at += block.len() as u64;
        true
    })?;
    Ok(found)
}

/// The events of one piece, its records checked against the header's length.
fn read_piece(
    path: &Path,
    header: &csv::StringRecord,
    piece: &Piece,
    mut notes: NoteSink,
) -> Result<Vec<Event>, LoadError> {
    let io_error = |e: std::io::Error| LoadError::file(path, format!("cannot read: {e}"));
    let mut file = File::open(path).map_err(io_error)?;
    file.seek(SeekFrom::Start(piece.bytes.start))
        .map_err(io_error)?;
    let input = file.take(piece.bytes.end - piece.bytes.start);
    let counter = LineCounter::new(BufReader::with_capacity(1 << 20, input));
    let lines = counter.lines();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(counter);
    let line_of = |record: &csv::StringRecord| {
        let start = record.position().map_or(0, |p| p.byte());
        piece.lines_before + lines.borrow_mut().line_at(start)
    };
    let next = |record: &mut csv::StringRecord| match reader.read_record(record) {
        Ok(false) => Ok(None),
        Ok(true) if record.len() != header.len() => Err(LoadError {
            file: path.to_path_buf(),
            location: Location::Line(line_of(record)),
            field: None,
            problem: format!(
                "has {} fields, the header has {}",
                record.len(),
                header.len()
            ),
        }),
        Ok(true) => Ok(Some(Location::Line(line_of(record)))),
        Err(e) => {
            let line = e
                .position()
                .map(|p| piece.lines_before + lines.borrow_mut().line_at(p.byte()));
            Err(csv_error(path, e, line))
        }
    };
    // Each piece has its own interner in front of the shared vocabulary, so only a
    // value new to the piece takes the vocabulary's lock. `load_dataset` checks the ids
    // of the whole file.
    let mut interner = Interner::default();
    let read = (&mut interner, IdCheck::ByCaller, &mut notes);
    let events =
        events_of_records(header, next, path, read, 1).map_err(|mut e| e.swap_remove(0))?;
    notes.finish().map_err(|e| notes_unwritten(path, e))?;
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Notes;

    /// Every split lands on a record start: a file of records with quoted newlines and
    /// escaped quotes, split every way, reads back the same records and lines.
    #[test]
    fn pieces_start_at_records() {
        let mut text = String::from("a,b,c\n");
        for i in 0..400 {
            match i % 4 {
                0 => text.push_str(&format!("{i},\"line\nbreak, \"\"quoted\"\"\",x\n")),
                1 => text.push_str(&format!("{i},\"\"\"\",\"two\n\nbreaks\"\n")),
                2 => text.push_str(&format!("{i},plain,\"a \"\"b\"\" c\"\r\n")),
                _ => text.push_str(&format!("{i},,\n")),
            }
        }
        let file = std::env::temp_dir().join(format!("sahel-split-{}.csv", std::process::id()));
        std::fs::write(&file, &text).unwrap();
        let len = text.len() as u64;
        let whole = Piece {
            bytes: 6..len,
            lines_before: 1,
        };
        for n in 1..40 {
            let pieces = split(&file, whole.clone(), n).unwrap();
            assert_eq!(pieces[0].bytes.start, 6);
            assert_eq!(pieces.last().unwrap().bytes.end, len);
            let mut ids = Vec::new();
            for (p, q) in pieces.iter().zip(pieces.iter().skip(1)) {
                assert_eq!(p.bytes.end, q.bytes.start);
            }
            for p in &pieces {
                let slice = &text.as_bytes()[p.bytes.start as usize..p.bytes.end as usize];
                // A piece's first record is on the line after `lines_before`.
                let before = text.as_bytes()[..p.bytes.start as usize]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count() as u64;
                assert_eq!(p.lines_before, before, "{n} pieces");
                let mut r = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .from_reader(slice);
                for rec in r.records() {
                    let rec = rec.unwrap();
                    assert_eq!(rec.len(), 3, "{n} pieces: {rec:?}");
                    ids.push(rec[0].parse::<u32>().unwrap());
                }
            }
            assert_eq!(ids, (0..400).collect::<Vec<_>>(), "{n} pieces");
        }
        std::fs::remove_file(file).unwrap();
    }

    fn temp_csv(name: &str, text: &str) -> std::path::PathBuf {
        let file = std::env::temp_dir().join(format!("sahel-{name}-{}.csv", std::process::id()));
        std::fs::write(&file, text).unwrap();
        file
    }

    const HEADER: &str = "event_id_cnty,event_date,year,event_type,sub_event_type,actor1,actor2,admin1,location,latitude,longitude,geo_precision,fatalities,source,notes\n";

    fn row(i: usize) -> String {
        format!(
            "MLI{i},2019-03-{:02},2019,Battles,Armed clash,A,B,Mopti,Sévaré,14.{i:04},-4.1,1,{},src,\"line one\nline \"\"two\"\", {i}\"\n",
            1 + i % 28,
            i % 7
        )
    }

    /// Read in pieces or in one, a file gives the same events, and errors name the line
    /// of the whole file, in any piece.
    #[test]
    fn pieces_read_like_one_thread() {
        let text: String = HEADER.to_string() + &(0..300).map(row).collect::<String>();
        let file = temp_csv("pieces", &text);
        let one = load_in_pieces(&file, (&mut Interner::default(), None), 1, 0).unwrap();
        assert!(one.iter().all(|e| matches!(e.notes, Notes::Own(_))));
        let spill = file.with_extension("notes");
        for threads in [1, 2, 3, 7] {
            let many = load_in_pieces(&file, (&mut Interner::default(), None), threads, 0).unwrap();
            assert_eq!(format!("{many:?}"), format!("{one:?}"), "{threads} threads");
            // The notes kept in a spill file read the same.
            let read = (&mut Interner::default(), Some(spill.as_path()));
            let spilled = load_in_pieces(&file, read, threads, 0).unwrap();
            assert_eq!(
                format!("{spilled:?}"),
                format!("{one:?}"),
                "{threads} threads"
            );
            assert!(
                spilled
                    .iter()
                    .all(|e| matches!(e.notes, Notes::Mapped { .. }))
            );
            assert_eq!(std::fs::read_dir(&spill).unwrap().count(), 0, "unlinked");
        }
        std::fs::remove_dir(spill).unwrap();
        assert_eq!(one.len(), 300);
        // Each record takes two lines: record i starts on line 2 + 2i.
        let mut bad = text.clone();
        bad = bad.replace("MLI250,2019-03-27", "MLI250,2019-13-27");
        std::fs::write(&file, &bad).unwrap();
        for threads in [1, 2, 3] {
            let e =
                load_in_pieces(&file, (&mut Interner::default(), None), threads, 0).unwrap_err();
            assert_eq!(e.location, Location::Line(502), "{threads} threads: {e}");
            assert_eq!(e.field.as_deref(), Some("event_date"));
        }
        let mut short = text.clone();
        short = short.replace("MLI260,", "");
        std::fs::write(&file, &short).unwrap();
        for threads in [1, 2, 3] {
            let e =
                load_in_pieces(&file, (&mut Interner::default(), None), threads, 0).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "{}: line 522: has 14 fields, the header has 15",
                    file.display()
                ),
                "{threads} threads"
            );
        }
        std::fs::remove_file(file).unwrap();
    }

    /// An id used twice, in two pieces or in one, is an error naming both lines.
    #[test]
    fn duplicate_ids_across_pieces() {
        let dir = std::env::temp_dir().join(format!("sahel-dup-{}", std::process::id()));
        let rows: String = (0..300)
            .map(row)
            .collect::<String>()
            .replace("MLI290,", "MLI3,");
        let file = dir.join("events.csv");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&file, HEADER.to_string() + &rows).unwrap();
        for threads in [1, 2, 3] {
            let e =
                load_in_pieces(&file, (&mut Interner::default(), None), threads, 0).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "{}: line 582: field `event_id_cnty`: duplicate id \"MLI3\" (first on line 8)",
                    file.display()
                ),
                "{threads} threads"
            );
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
