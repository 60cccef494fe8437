//! Where events' notes live. Notes are most of an event's bytes (2.3 GB of 10M ACLED
//! events) and rarely read, so they are kept in files on disk and mapped, costing page
//! cache rather than heap: the notes of a saved base stay in its file (`atlas::saved`),
//! and the notes of files being loaded are written to a spill file beside it as they are
//! parsed ([`NoteSink`]). Events written over HTTP keep theirs on the heap.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

/// An event's notes: text of its own, or a span of a mapped [`NotesFile`].
#[derive(Clone)]
pub enum Notes {
    Own(Arc<str>),
    /// Bytes `at..at + len` of the file; checked as UTF-8 when read (a file damaged
    /// there reads as empty notes).
    Mapped {
        file: Arc<NotesFile>,
        at: u64,
        len: u32,
    },
}

impl Notes {
    /// The bytes the notes take where they are kept: for mapped notes the span, even
    /// where it is damaged and reads as empty. A save writes these bytes (see
    /// [`NotesWriter`]), so a damaged note stays damaged rather than shifting the rest.
    pub fn stored_len(&self) -> u32 {
        match self {
            Notes::Own(s) => s.len() as u32,
            Notes::Mapped { len, .. } => *len,
        }
    }
}

impl std::ops::Deref for Notes {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            Notes::Own(s) => s,
            Notes::Mapped { file, at, len } => file
                .map
                .get(*at as usize..*at as usize + *len as usize)
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or(""),
        }
    }
}

impl std::fmt::Debug for Notes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

impl From<&str> for Notes {
    fn from(s: &str) -> Notes {
        Notes::Own(s.into())
    }
}

impl From<String> for Notes {
    fn from(s: String) -> Notes {
        Notes::Own(s.into())
    }
}

/// A file of notes, mapped for reading and open for copying out of.
pub struct NotesFile {
    file: File,
    map: memmap2::Mmap,
}

impl NotesFile {
    /// Maps `file`.
    ///
    /// # Safety
    /// No byte of `file` that a [`Notes`] points into may change while it is mapped: the
    /// file is replaced by a rename and never written in place (a saved base), or is this
    /// process's own unlinked file whose bytes are each written once, before any note
    /// points into them (a spill).
    pub unsafe fn map(file: File) -> io::Result<NotesFile> {
        // SAFETY: as the caller promises.
        let map = unsafe { memmap2::Mmap::map(&file) }?;
        Ok(NotesFile { file, map })
    }

    /// Writes bytes `at..at + len` to `out`, read from the file rather than through the
    /// map: a save copies every note, and pages read through the map would stay in the
    /// server's resident memory.
    fn copy(&self, at: u64, len: u64, out: &mut impl Write, buf: &mut [u8]) -> io::Result<()> {
        let mut done = 0;
        while done < len {
            let n = buf.len().min((len - done) as usize);
            self.file.read_exact_at(&mut buf[..n], at + done)?;
            out.write_all(&buf[..n])?;
            done += n as u64;
        }
        Ok(())
    }
}

/// Writes notes one after another to a file being saved. Mapped notes that lie one after
/// another in their file (those of a spill or of an earlier save, in event order) are
/// copied a run at a time.
pub struct NotesWriter<W: Write> {
    out: W,
    /// The file, start and end of the mapped notes not yet copied.
    run: Option<(Arc<NotesFile>, u64, u64)>,
    buf: Vec<u8>,
}

impl<W: Write> NotesWriter<W> {
    pub fn new(out: W) -> Self {
        NotesWriter {
            out,
            run: None,
            buf: vec![0; 1 << 20],
        }
    }

    /// Writes the [`Notes::stored_len`] bytes of `notes`.
    pub fn push(&mut self, notes: &Notes) -> io::Result<()> {
        match notes {
            Notes::Mapped { file, at, len } => {
                let end = at + u64::from(*len);
                match &mut self.run {
                    Some((f, _, run_end)) if Arc::ptr_eq(f, file) && *run_end == *at => {
                        *run_end = end;
                    }
                    _ => {
                        self.copy_run()?;
                        self.run = Some((file.clone(), *at, end));
                    }
                }
                Ok(())
            }
            Notes::Own(s) => {
                self.copy_run()?;
                self.out.write_all(s.as_bytes())
            }
        }
    }

    fn copy_run(&mut self) -> io::Result<()> {
        match self.run.take() {
            Some((file, start, end)) => file.copy(start, end - start, &mut self.out, &mut self.buf),
            None => Ok(()),
        }
    }

    /// Writes what is left and hands back the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.copy_run()?;
        Ok(self.out)
    }
}

/// A file of `len` bytes in `dir`, unlinked at once (it goes when the last note in it
/// does) and given its disk space now, so that running out of space shows here rather
/// than in a write while loading. `None`, logged, when it cannot be had: the notes are
/// then kept on the heap.
pub fn spill_file(dir: &Path, len: u64) -> Option<Arc<NotesFile>> {
    static SPILLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = SPILLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!(".notes-{}-{n}.spill", std::process::id()));
    let made = (|| {
        std::fs::create_dir_all(dir)?;
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        std::fs::remove_file(&path)?;
        reserve(&file, len)?;
        // SAFETY: the file is unlinked and only this process writes it, each byte once,
        // before the note that points there is read (see `NoteSink`).
        unsafe { NotesFile::map(file) }
    })();
    match made {
        Ok(file) => Some(Arc::new(file)),
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            tracing::warn!(dir = %dir.display(), "notes kept on the heap: no spill file: {e}");
            None
        }
    }
}

/// Gives `file` `len` bytes of disk space. On a file system that cannot reserve space the
/// file is only made that long: a full disk then fails the load, naming the file read.
///
/// Reserving is Linux's `fallocate`; elsewhere the file is only made that long.
fn reserve(file: &File, len: u64) -> io::Result<()> {
    file.set_len(len)?;
    if len == 0 || cfg!(not(target_os = "linux")) {
        return Ok(());
    }
    reserve_linux(file, len)
}

#[cfg(target_os = "linux")]
fn reserve_linux(file: &File, len: u64) -> io::Result<()> {
    let fd = std::os::fd::AsRawFd::as_raw_fd(file);
    // SAFETY: fallocate only reads its integer arguments; `fd` is open for writing.
    if unsafe { libc::fallocate(fd, 0, 0, len as libc::off_t) } == 0 {
        return Ok(());
    }
    match io::Error::last_os_error() {
        e if e.raw_os_error() == Some(libc::EOPNOTSUPP) => Ok(()),
        e => Err(e),
    }
}

#[cfg(not(target_os = "linux"))]
fn reserve_linux(_: &File, _: u64) -> io::Result<()> {
    Ok(())
}

/// Gives back the disk space of `range` (a spill's unused part); best effort, and on
/// Linux only (a punched hole; elsewhere the space stays until the file goes).
#[cfg(not(target_os = "linux"))]
fn release(_: &File, _: std::ops::Range<u64>) {}

/// Gives back the disk space of `range` (a spill's unused part); best effort.
#[cfg(target_os = "linux")]
fn release(file: &File, range: std::ops::Range<u64>) {
    if range.is_empty() {
        return;
    }
    let fd = std::os::fd::AsRawFd::as_raw_fd(file);
    let mode = libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE;
    // SAFETY: as in `reserve`; punching a hole only frees blocks no note points into.
    unsafe {
        libc::fallocate(
            fd,
            mode,
            range.start as libc::off_t,
            (range.end - range.start) as libc::off_t,
        );
    }
}

/// Where one reader puts the notes it parses: a span of a spill file that it alone
/// writes, filled in order through a buffer; or the heap, when there is no spill file or
/// a note does not fit what is left of the span.
pub struct NoteSink {
    spill: Option<Spilling>,
}

struct Spilling {
    file: Arc<NotesFile>,
    /// Where the next note goes, and the end of the span.
    at: u64,
    end: u64,
    /// Notes not yet written, which go at `buf_at`.
    buf: Vec<u8>,
    buf_at: u64,
}

/// Notes are written 1 MiB at a time.
const SINK_BUFFER: usize = 1 << 20;

impl NoteSink {
    /// Notes kept on the heap.
    pub fn heap() -> NoteSink {
        NoteSink { spill: None }
    }

    /// Notes written to `span` of `file`, else (`None`) kept on the heap.
    pub fn spill(file: Option<Arc<NotesFile>>, span: std::ops::Range<u64>) -> NoteSink {
        NoteSink {
            spill: file.map(|file| Spilling {
                file,
                at: span.start,
                end: span.end,
                buf: Vec::new(),
                buf_at: span.start,
            }),
        }
    }

    /// Keeps `text` as an event's notes. The bytes of a spilled note are in the file only
    /// after [`NoteSink::finish`]: the notes must not be read before.
    ///
    /// # Errors
    /// The spill file could not be written.
    pub fn keep(&mut self, text: &str) -> io::Result<Notes> {
        let Some(s) = self
            .spill
            .as_mut()
            .filter(|s| s.end - s.at >= text.len() as u64)
        else {
            return Ok(text.into());
        };
        let notes = Notes::Mapped {
            file: s.file.clone(),
            at: s.at,
            len: text.len() as u32,
        };
        s.buf.extend_from_slice(text.as_bytes());
        s.at += text.len() as u64;
        if s.buf.len() >= SINK_BUFFER {
            s.flush()?;
        }
        Ok(notes)
    }

    /// Writes the notes still buffered, and gives back the disk space of the unused rest
    /// of the span.
    ///
    /// # Errors
    /// The spill file could not be written.
    pub fn finish(mut self) -> io::Result<()> {
        if let Some(s) = self.spill.as_mut() {
            s.flush()?;
            release(&s.file.file, s.at..s.end);
        }
        Ok(())
    }
}

impl Spilling {
    fn flush(&mut self) -> io::Result<()> {
        self.file.file.write_all_at(&self.buf, self.buf_at)?;
        self.buf_at += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("sahel-notes-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn texts(n: usize, seed: u64) -> Vec<String> {
        let mut s = seed;
        (0..n)
            .map(|i| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
                let len = (s >> 40) as usize % 700;
                format!("{i} é \"{}\"", "x".repeat(len))
            })
            .collect()
    }

    /// Notes kept by two sinks sharing a spill file read back as kept, once finished;
    /// those that do not fit the span are kept on the heap; the file leaves no name.
    #[test]
    fn spilled_notes_read_back() {
        let d = dir("spill");
        let (a, b) = (texts(3000, 1), texts(3000, 2));
        let half: u64 = a.iter().map(|t| t.len() as u64).sum();
        // The second span is 100 bytes short: its last notes go to the heap.
        let short: u64 = b.iter().map(|t| t.len() as u64).sum::<u64>() - 100;
        let file = spill_file(&d, half + short);
        assert!(file.is_some());
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 0, "unlinked");
        let mut kept = Vec::new();
        for (texts, span) in [(&a, 0..half), (&b, half..half + short)] {
            let mut sink = NoteSink::spill(file.clone(), span);
            for t in texts {
                kept.push(sink.keep(t).unwrap());
            }
            sink.finish().unwrap();
        }
        let all: Vec<&String> = a.iter().chain(&b).collect();
        for (k, t) in kept.iter().zip(&all) {
            assert_eq!(&**k, t.as_str());
        }
        let on_heap = kept.iter().filter(|k| matches!(k, Notes::Own(_))).count();
        assert!((1..20).contains(&on_heap), "{on_heap}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// A save writes each note's bytes in order, whether on the heap, spilled, or in
    /// runs of one file broken by others.
    #[test]
    fn the_writer_writes_every_note_in_order() {
        let d = dir("writer");
        let t = texts(2500, 3);
        let len: u64 = t.iter().map(|t| t.len() as u64).sum();
        let file = spill_file(&d, len);
        let mut sink = NoteSink::spill(file, 0..len);
        let mut notes: Vec<Notes> = t.iter().map(|t| sink.keep(t).unwrap()).collect();
        sink.finish().unwrap();
        // Some on the heap, and some out of file order.
        for k in (0..notes.len()).step_by(7) {
            notes[k] = Notes::from(t[k].as_str());
        }
        notes.swap(100, 900);
        let mut w = NotesWriter::new(Vec::new());
        for n in &notes {
            w.push(n).unwrap();
        }
        let written = w.finish().unwrap();
        let expected: String = notes.iter().map(|n| &**n).collect();
        assert_eq!(String::from_utf8(written).unwrap(), expected);
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// Without a spill directory that can be written, or the space asked for, notes are
    /// kept on the heap, and no file is left behind.
    #[test]
    fn no_spill_file_keeps_notes_on_the_heap() {
        let d = dir("no-spill");
        let blocked = d.join("file");
        std::fs::write(&blocked, "").unwrap();
        assert!(spill_file(&blocked, 10).is_none(), "not a directory");
        assert!(
            spill_file(&d, 1 << 62).is_none(),
            "more space than any disk"
        );
        let names: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["file"]);
        let mut sink = NoteSink::spill(None, 0..10);
        assert!(matches!(sink.keep("a note").unwrap(), Notes::Own(_)));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
