//! ACLED and UCDP GED CSV exports -> `Event`s. The format is detected from the header;
//! columns we do not read are ignored, a UTF-8 byte-order mark is tolerated.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::path::Path;
use std::rc::Rc;

use chrono::{Datelike, NaiveDate};
use rustc_hash::FxHashMap;

use super::{LoadError, Location};
use crate::model::notes::NoteSink;
use crate::model::words::Interner;
use crate::model::{Event, LonLat, Notes};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventFormat {
    Acled,
    Ucdp,
}

pub(super) const ACLED_REQUIRED: &[&str] = &[
    "event_id_cnty",
    "event_date",
    "event_type",
    "latitude",
    "longitude",
    "fatalities",
];
pub(super) const UCDP_REQUIRED: &[&str] = &[
    "id",
    "date_start",
    "type_of_violence",
    "latitude",
    "longitude",
    "best",
];

impl EventFormat {
    /// ACLED exports start with `event_id_cnty`-style columns, UCDP GED with `id`,
    /// `date_start` and `best`; anything else is neither.
    pub fn detect(header: &csv::StringRecord) -> Option<EventFormat> {
        let has = |c: &str| header.iter().any(|h| h == c);
        if has("event_id_cnty") || has("event_date") {
            Some(EventFormat::Acled)
        } else if has("date_start") || has("type_of_violence") {
            Some(EventFormat::Ucdp)
        } else {
            None
        }
    }

    fn required(self) -> &'static [&'static str] {
        match self {
            EventFormat::Acled => ACLED_REQUIRED,
            EventFormat::Ucdp => UCDP_REQUIRED,
        }
    }
}

/// Reads an ACLED or UCDP GED CSV from `input` (`path` names it in errors): every event,
/// or the problems found, at most `max_errors` (a structural CSV error ends the reading).
pub fn read_events_csv(
    input: impl std::io::Read,
    path: &Path,
    (interner, notes): (&mut Interner, &mut NoteSink),
    max_errors: usize,
) -> Result<Vec<Event>, Vec<LoadError>> {
    let lines = Rc::new(RefCell::new(Newlines::default()));
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(LineCounter {
            inner: input,
            lines: lines.clone(),
        });
    let csv_error = |e: csv::Error| {
        let line = e.position().map(|p| lines.borrow_mut().line_at(p.byte()));
        csv_error(path, e, line)
    };
    let header = clean_header(reader.headers().map_err(|e| vec![csv_error(e)])?);
    let next = |record: &mut csv::StringRecord| match reader.read_record(record) {
        Ok(false) => Ok(None),
        Ok(true) => {
            let start = record.position().map_or(0, |p| p.byte());
            Ok(Some(Location::Line(lines.borrow_mut().line_at(start))))
        }
        Err(e) => Err(csv_error(e)),
    };
    events_of_records(
        &header,
        next,
        path,
        (interner, IdCheck::Here, notes),
        max_errors,
    )
}

/// Column names as written, without a UTF-8 byte-order mark or surrounding spaces.
pub(super) fn clean_header(header: &csv::StringRecord) -> csv::StringRecord {
    header
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
        .collect()
}

/// Passes a reader's bytes through, noting where each line ends, so that a record's
/// start byte becomes its line number: the csv crate's own count is one short on files
/// with Windows line endings.
pub(super) struct LineCounter<R> {
    inner: R,
    lines: Rc<RefCell<Newlines>>,
}

impl<R> LineCounter<R> {
    pub(super) fn new(inner: R) -> Self {
        LineCounter {
            inner,
            lines: Rc::default(),
        }
    }

    /// The newlines seen, shared with the counter.
    pub(super) fn lines(&self) -> Rc<RefCell<Newlines>> {
        self.lines.clone()
    }
}

/// The offsets of the newlines read but not yet passed by the parser, and how many were.
#[derive(Default)]
pub(super) struct Newlines {
    ahead: VecDeque<u64>,
    passed: u64,
    read: u64,
}

impl Newlines {
    /// The line (from 1) of a record starting at byte `offset`; offsets must not go
    /// backwards. After `\r\n` the csv crate starts the next record at the `\n`, which
    /// ends the line before: a newline at `offset` counts as passed.
    pub(super) fn line_at(&mut self, offset: u64) -> u64 {
        while self.ahead.front().is_some_and(|&n| n <= offset) {
            self.ahead.pop_front();
            self.passed += 1;
        }
        self.passed + 1
    }
}

impl<R: std::io::Read> std::io::Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut lines = self.lines.borrow_mut();
        let at = lines.read;
        lines
            .ahead
            .extend(memchr::memchr_iter(b'\n', &buf[..n]).map(|i| at + i as u64));
        lines.read += n as u64;
        Ok(n)
    }
}

/// Who finds an id used twice.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum IdCheck {
    /// The reader, naming both lines.
    Here,
    /// The caller, over the whole file (a piece of a file read in parallel): a map of
    /// every id per piece was a tenth of reading 10M events.
    ByCaller,
}

/// The events of `header`-named records that `next` reads one at a time into a reused
/// buffer (with where each is, for errors; `None` at the end).
pub(super) fn events_of_records(
    header: &csv::StringRecord,
    mut next: impl FnMut(&mut csv::StringRecord) -> Result<Option<Location>, LoadError>,
    path: &Path,
    (interner, ids, notes): (&mut Interner, IdCheck, &mut NoteSink),
    max_errors: usize,
) -> Result<Vec<Event>, Vec<LoadError>> {
    let format = EventFormat::detect(header).ok_or_else(|| {
        vec![LoadError::at(
            path,
            Location::Line(1),
            "header",
            format!(
                "not an ACLED export (needs {}) nor a UCDP GED export (needs {})",
                ACLED_REQUIRED.join(", "),
                UCDP_REQUIRED.join(", ")
            ),
        )]
    })?;
    let columns = Columns::new(header, format, path).map_err(|e| vec![e])?;
    let mut events = Vec::new();
    let mut errors = Vec::new();
    let mut first_at: FxHashMap<std::sync::Arc<str>, Location> = FxHashMap::default();
    let mut record = csv::StringRecord::new();
    while errors.len() < max_errors.max(1) {
        let at = match next(&mut record) {
            Ok(Some(at)) => at,
            Ok(None) => break,
            Err(e) => {
                errors.push(e);
                break;
            }
        };
        let row = Row {
            record: &record,
            columns: &columns,
            path,
            at,
        };
        let event = match format {
            EventFormat::Acled => acled_event(&row, interner, notes),
            EventFormat::Ucdp => ucdp_event(&row, interner, notes),
        };
        match event {
            Ok(event) => {
                if ids == IdCheck::Here
                    && let Some(first) = first_at.insert(event.id.clone(), row.at.clone())
                {
                    let first = first.to_string();
                    errors.push(row.err(
                        columns.id_name(),
                        format!(
                            "duplicate id {:?} (first on {})",
                            event.id,
                            first.trim_end_matches(": ")
                        ),
                    ));
                }
                events.push(event);
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(events)
    } else {
        Err(errors)
    }
}

/// A structural CSV problem, at `line` if known.
pub(super) fn csv_error(path: &Path, e: csv::Error, line: Option<u64>) -> LoadError {
    let location = line.map_or(Location::File, Location::Line);
    let problem = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("has {len} fields, the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "is not valid UTF-8".to_string(),
        _ => e.to_string(),
    };
    LoadError {
        file: path.to_path_buf(),
        location,
        field: None,
        problem,
    }
}

/// Column positions by name (looked up ~15 times per row: a fast hash matters).
struct Columns {
    index: FxHashMap<String, usize>,
    format: EventFormat,
}

impl Columns {
    fn new(
        header: &csv::StringRecord,
        format: EventFormat,
        path: &Path,
    ) -> Result<Self, LoadError> {
        let index: FxHashMap<String, usize> = header
            .iter()
            .enumerate()
            .map(|(i, h)| (h.to_string(), i))
            .collect();
        for &c in format.required() {
            if !index.contains_key(c) {
                return Err(LoadError::at(
                    path,
                    Location::Line(1),
                    c,
                    "required column is missing from the header",
                ));
            }
        }
        Ok(Columns { index, format })
    }

    fn id_name(&self) -> &'static str {
        match self.format {
            EventFormat::Acled => "event_id_cnty",
            EventFormat::Ucdp => "id",
        }
    }
}

/// One data row with the context needed for precise errors.
struct Row<'a> {
    record: &'a csv::StringRecord,
    columns: &'a Columns,
    path: &'a Path,
    at: Location,
}

impl Row<'_> {
    /// The trimmed value of `column`, or "" when the file has no such column.
    fn get(&self, column: &str) -> &str {
        self.columns
            .index
            .get(column)
            .and_then(|&i| self.record.get(i))
            .map_or("", str::trim)
    }

    fn err(&self, field: &str, problem: impl Into<String>) -> LoadError {
        LoadError::at(self.path, self.at.clone(), field, problem)
    }

    fn required(&self, column: &str) -> Result<&str, LoadError> {
        match self.get(column) {
            "" => Err(self.err(column, "is empty")),
            v => Ok(v),
        }
    }

    fn coordinate(&self, column: &str, limit: f64) -> Result<f64, LoadError> {
        let raw = self.required(column)?;
        let v: f64 = raw
            .parse()
            .map_err(|_| self.err(column, format!("{raw:?} is not a number")))?;
        if !v.is_finite() || v.abs() > limit {
            return Err(self.err(column, format!("{raw} is outside -{limit}..{limit}")));
        }
        Ok(v)
    }

    fn count(&self, column: &str) -> Result<u32, LoadError> {
        let raw = self.required(column)?;
        raw.parse::<u32>().map_err(|_| {
            self.err(
                column,
                format!("{raw:?} is not a whole number of zero or more"),
            )
        })
    }

    fn date(&self, column: &str) -> Result<NaiveDate, LoadError> {
        let raw = self.required(column)?;
        parse_event_date(raw).ok_or_else(|| {
            self.err(
                column,
                format!("{raw:?} is not a date (expected YYYY-MM-DD, DD-MM-YYYY or 23 March 2019)"),
            )
        })
    }

    /// `text` kept as the event's notes by `sink`.
    fn notes(&self, sink: &mut NoteSink, text: &str) -> Result<Notes, LoadError> {
        sink.keep(text)
            .map_err(|e| self.err("notes", format!("cannot write to the spill file: {e}")))
    }

    fn pos(&self) -> Result<LonLat, LoadError> {
        Ok(LonLat::new(
            self.coordinate("longitude", 180.0)?,
            self.coordinate("latitude", 90.0)?,
        ))
    }
}

/// ACLED exports write dates as `2019-03-23`, `23-03-2019` or `23 March 2019`; UCDP may
/// append a time (`2019-03-23 00:00:00.000`), which is ignored.
pub fn parse_event_date(raw: &str) -> Option<NaiveDate> {
    let raw = raw.trim();
    // Fast path for the common YYYY-MM-DD (a million rows: chrono's format parser shows).
    let b = raw.as_bytes();
    if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            b[r].iter().try_fold(0u32, |n, &c| {
                c.is_ascii_digit().then(|| n * 10 + (c - b'0') as u32)
            })
        };
        if let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) {
            return NaiveDate::from_ymd_opt(y as i32, m, d);
        }
    }
    let day_part = raw.split(['T', ' ']).next().unwrap_or(raw);
    if let Ok(d) = NaiveDate::parse_from_str(day_part, "%Y-%m-%d") {
        return Some(d);
    }
    if let Ok(d) = NaiveDate::parse_from_str(raw, "%d-%m-%Y") {
        return Some(d);
    }
    ["%d %B %Y", "%d %b %Y", "%d-%b-%Y", "%d-%B-%Y"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(raw, f).ok())
}

fn acled_event(
    row: &Row,
    interner: &mut Interner,
    notes: &mut NoteSink,
) -> Result<Event, LoadError> {
    let id = row.required("event_id_cnty")?;
    let date = row.date("event_date")?;
    let year = row.get("year");
    if !year.is_empty() && year.parse::<i32>().ok() != Some(date.year()) {
        return Err(row.err(
            "year",
            format!(
                "{year:?} does not match event_date {:?} (read as {date}); check the date format",
                row.get("event_date")
            ),
        ));
    }
    let geo_precision = match row.get("geo_precision") {
        "" => None,
        raw => Some(
            raw.parse::<u8>()
                .ok()
                .filter(|p| (1..=3).contains(p))
                .ok_or_else(|| row.err("geo_precision", format!("{raw:?} is not 1, 2 or 3")))?,
        ),
    };
    Ok(Event {
        // Ids and notes are unique per event: interning them would only cost.
        id: id.into(),
        date,
        event_type: interner.intern(row.required("event_type")?),
        sub_event_type: interner.intern(row.get("sub_event_type")),
        actor1: interner.intern(row.get("actor1")),
        actor2: interner.intern(row.get("actor2")),
        admin1: interner.intern(row.get("admin1")),
        admin2: interner.intern(row.get("admin2")),
        location: interner.intern(row.get("location")),
        geo_precision,
        fatalities: row.count("fatalities")?,
        source: interner.intern(row.get("source")),
        notes: row.notes(notes, row.get("notes"))?,
        pos: row.pos()?,
    })
}

/// UCDP `type_of_violence` codes.
fn ucdp_violence_type(code: &str) -> Option<&'static str> {
    match code {
        "1" => Some("State-based conflict"),
        "2" => Some("Non-state conflict"),
        "3" => Some("One-sided violence"),
        _ => None,
    }
}

fn ucdp_event(row: &Row, interner: &mut Interner, sink: &mut NoteSink) -> Result<Event, LoadError> {
    let id = row.required("id")?;
    let date = row.date("date_start")?;
    let code = row.required("type_of_violence")?;
    let event_type = ucdp_violence_type(code)
        .ok_or_else(|| row.err("type_of_violence", format!("{code:?} is not 1, 2 or 3")))?;
    let end = row.get("date_end");
    let mut notes = format!(
        "UCDP GED; deaths low {} high {}",
        row.get("low"),
        row.get("high")
    );
    if !end.is_empty() {
        notes.push_str(&format!("; date_end {end}"));
    }
    let geo_precision = match row.get("where_prec") {
        "1" => Some(1),
        "2" | "3" => Some(2),
        "" => None,
        _ => Some(3),
    };
    Ok(Event {
        id: format!("UCDP-{id}").into(),
        date,
        event_type: interner.intern(event_type),
        sub_event_type: interner.intern(""),
        actor1: interner.intern(row.get("side_a")),
        actor2: interner.intern(row.get("side_b")),
        admin1: interner.intern(row.get("adm_1")),
        admin2: interner.intern(row.get("adm_2")),
        location: interner.intern(row.get("where_coordinates")),
        geo_precision,
        fatalities: row.count("best")?,
        source: interner.intern(row.get("source_article")),
        notes: row.notes(sink, &notes)?,
        pos: row.pos()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acled_date_formats() {
        let d = NaiveDate::from_ymd_opt(2019, 3, 23);
        assert_eq!(parse_event_date("2019-03-23"), d);
        assert_eq!(parse_event_date("23-03-2019"), d);
        assert_eq!(parse_event_date("23 March 2019"), d);
        assert_eq!(parse_event_date("23 Mar 2019"), d);
        assert_eq!(parse_event_date("2019-03-23 00:00:00.000"), d);
        assert_eq!(parse_event_date("2019-02-30"), None);
        assert_eq!(parse_event_date("03/23/2019"), None);
        assert_eq!(parse_event_date(""), None);
    }
}

#[cfg(test)]
mod line_tests {
    use super::*;

    /// The lines of the first problem found in `text`, read as an ACLED export.
    fn bad_lines(text: &str) -> Vec<String> {
        let mut interner = Interner::default();
        let read = (&mut interner, &mut NoteSink::heap());
        let errors = read_events_csv(text.as_bytes(), Path::new("t.csv"), read, 10)
            .expect_err("has a bad record");
        errors.iter().map(|e| e.to_string()).collect()
    }

    const HEADER: &str = "event_id_cnty,event_date,event_type,latitude,longitude,fatalities,notes";

    /// Reads `rows` under the header, joined by LF and then by CRLF: the problems must be
    /// exactly on `lines`, both times. Returns the problems of both readings.
    fn problems_on(rows: &[&str], lines: &[u64]) -> Vec<String> {
        let mut all = Vec::new();
        for eol in ["\n", "\r\n"] {
            let text = std::iter::once(HEADER)
                .chain(rows.iter().copied())
                .collect::<Vec<_>>()
                .join(eol)
                + eol;
            let errors = bad_lines(&text);
            assert_eq!(errors.len(), lines.len(), "{eol:?}: {errors:?}");
            for (e, line) in errors.iter().zip(lines) {
                let at = format!("t.csv: line {line}: ");
                assert!(e.starts_with(&at), "{eol:?}: {errors:?}");
            }
            all.extend(errors);
        }
        all
    }

    #[test]
    fn line_numbers_with_lf_and_crlf() {
        problems_on(
            &[
                "MLI1,2019-03-23,Battles,14.5,-4.2,3,fine",
                "MLI2,2019-03-24,Battles,14.5,-4.2,x,bad fatalities",
                "MLI3,2019-03-25,Battles,14.5,-4.2,1,fine",
                "MLI4,2019-03-26,Battles,95.0,-4.2,1,bad latitude",
            ],
            &[3, 5],
        );
    }

    /// A quoted note spanning three lines: the next records' lines count all of them.
    #[test]
    fn line_numbers_after_quoted_fields_spanning_lines() {
        problems_on(
            &[
                "MLI1,2019-03-23,Battles,14.5,-4.2,3,\"a note",
                "over three",
                "lines\"",
                "MLI2,2019-03-24,Battles,14.5,-4.2,x,\"bad, and quoted\"",
                "MLI3,2019-03-25,Battles,14.5,-4.2,1,\"two",
                "lines\"",
                "MLI4,2019-03-26,Battles,95.0,-4.2,1,bad latitude",
            ],
            &[5, 8],
        );
    }

    /// A record with a field too many is a structural error: its line too.
    #[test]
    fn line_numbers_of_structural_errors() {
        let problems = problems_on(
            &[
                "MLI1,2019-03-23,Battles,14.5,-4.2,3,\"a\nb\"",
                "MLI2,2019-03-24,Battles,14.5,-4.2,1,fine",
                "MLI3,2019-03-25,Battles,14.5,-4.2,1,one,too many",
            ],
            &[5],
        );
        for p in problems {
            assert!(p.contains("has 8 fields, the header has 7"), "{p}");
        }
    }
}
