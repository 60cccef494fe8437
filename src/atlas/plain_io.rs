//! Flat arrays of plain values written to a file and read back, little-endian, with a
//! checksum over every byte: the building blocks of the saved atlas
//! (see [`crate::atlas::saved`]). Each array is written with its length, so a reader
//! checks a length against the bytes left before it allocates for it.
//!
//! ```ignore
//! use crate::plain_io::{PlainReader, PlainWriter};
//! let mut out = Vec::new();
//! let mut w = PlainWriter::new(&mut out);
//! w.array(&[[1.5f64, -2.0], [3.0, 4.25]]).unwrap();
//! w.text("Mopti").unwrap();
//! let sum = w.finish().unwrap();
//!
//! let mut r = PlainReader::new(&out[..], out.len() as u64);
//! assert_eq!(r.array::<[f64; 2]>().unwrap(), [[1.5, -2.0], [3.0, 4.25]]);
//! assert_eq!(r.text().unwrap(), "Mopti");
//! assert_eq!(r.finish(), sum);
//! ```
//! (Run as the unit test `doc_example_module`: the module is internal.)

use std::hash::Hasher;
use std::io::{self, BufReader, BufWriter, Read, Write};

use twox_hash::XxHash64;

/// A value stored as a fixed number of little-endian bytes.
pub trait Plain: Sized {
    const SIZE: usize;
    fn put(&self, out: &mut Vec<u8>);
    /// From exactly `SIZE` bytes.
    fn get(bytes: &[u8]) -> Self;
}

macro_rules! plain_number {
    ($($t:ty),*) => {$(
        impl Plain for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            fn put(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn get(bytes: &[u8]) -> Self {
                let mut b = [0; std::mem::size_of::<$t>()];
                b.copy_from_slice(bytes);
                <$t>::from_le_bytes(b)
            }
        }
    )*};
}

plain_number!(u8, u16, u32, u64, i32, f64);

impl<T: Plain + Copy + Default, const N: usize> Plain for [T; N] {
    const SIZE: usize = T::SIZE * N;
    fn put(&self, out: &mut Vec<u8>) {
        for v in self {
            v.put(out);
        }
    }
    fn get(bytes: &[u8]) -> Self {
        let mut a = [T::default(); N];
        for (v, b) in a.iter_mut().zip(bytes.chunks_exact(T::SIZE)) {
            *v = T::get(b);
        }
        a
    }
}

impl Plain for crate::model::LonLat {
    const SIZE: usize = 16;
    fn put(&self, out: &mut Vec<u8>) {
        [self.lon, self.lat].put(out);
    }
    fn get(bytes: &[u8]) -> Self {
        let [lon, lat] = <[f64; 2]>::get(bytes);
        crate::model::LonLat { lon, lat }
    }
}

/// Values per read or write of an array: a megabyte or so at a time.
const CHUNK_BYTES: usize = 1 << 20;

fn invalid(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// Writes values through a buffer, hashing every byte.
pub struct PlainWriter<W: Write> {
    out: BufWriter<W>,
    hash: XxHash64,
    buf: Vec<u8>,
}

impl<W: Write> PlainWriter<W> {
    pub fn new(out: W) -> Self {
        PlainWriter {
            out: BufWriter::with_capacity(CHUNK_BYTES, out),
            hash: XxHash64::with_seed(0),
            buf: Vec::with_capacity(CHUNK_BYTES + 64),
        }
    }

    fn bytes(&mut self, b: &[u8]) -> io::Result<()> {
        self.hash.write(b);
        self.out.write_all(b)
    }

    pub fn value<T: Plain>(&mut self, v: &T) -> io::Result<()> {
        self.buf.clear();
        v.put(&mut self.buf);
        let buf = std::mem::take(&mut self.buf);
        let done = self.bytes(&buf);
        self.buf = buf;
        done
    }

    /// `items`, after their count.
    pub fn array<T: Plain>(&mut self, items: &[T]) -> io::Result<()> {
        self.value(&(items.len() as u64))?;
        let per_chunk = (CHUNK_BYTES / T::SIZE.max(1)).max(1);
        for chunk in items.chunks(per_chunk) {
            let mut buf = std::mem::take(&mut self.buf);
            buf.clear();
            chunk.iter().for_each(|v| v.put(&mut buf));
            let done = self.bytes(&buf);
            self.buf = buf;
            done?;
        }
        Ok(())
    }

    /// A string, after its length in bytes.
    pub fn text(&mut self, s: &str) -> io::Result<()> {
        self.value(&(s.len() as u64))?;
        self.bytes(s.as_bytes())
    }

    /// Strings' bytes one after another, without lengths (the caller writes those).
    pub fn raw_text(&mut self, s: &str) -> io::Result<()> {
        self.bytes(s.as_bytes())
    }

    /// Flushes, and returns the checksum of everything written.
    pub fn finish(mut self) -> io::Result<u64> {
        self.out.flush()?;
        Ok(self.hash.finish())
    }
}

/// Reads what a [`PlainWriter`] wrote, from at most `limit` bytes, hashing every byte.
pub struct PlainReader<R: Read> {
    input: BufReader<io::Take<R>>,
    hash: XxHash64,
    left: u64,
    buf: Vec<u8>,
}

impl<R: Read> PlainReader<R> {
    pub fn new(input: R, limit: u64) -> Self {
        PlainReader {
            input: BufReader::with_capacity(CHUNK_BYTES, input.take(limit)),
            hash: XxHash64::with_seed(0),
            left: limit,
            buf: Vec::new(),
        }
    }

    /// Fills `out` from the input.
    pub fn bytes_into(&mut self, out: &mut [u8]) -> io::Result<()> {
        if out.len() as u64 > self.left {
            return Err(invalid("the file ends early"));
        }
        self.input.read_exact(out)?;
        self.hash.write(out);
        self.left -= out.len() as u64;
        Ok(())
    }

    /// The next `n` bytes, checked against what is left before any allocation.
    pub fn bytes(&mut self, n: u64) -> io::Result<Vec<u8>> {
        if n > self.left {
            return Err(invalid("the file ends early"));
        }
        let mut out = vec![0; n as usize];
        self.bytes_into(&mut out)?;
        Ok(out)
    }

    pub fn value<T: Plain>(&mut self) -> io::Result<T> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.resize(T::SIZE, 0);
        let read = self.bytes_into(&mut buf);
        let v = read.map(|()| T::get(&buf));
        self.buf = buf;
        v
    }

    /// A count written before `size`-byte items: checked against what is left, so a
    /// damaged count never asks for more memory than the file could fill.
    pub fn count(&mut self, size: usize) -> io::Result<usize> {
        let n: u64 = self.value()?;
        match n.checked_mul(size as u64) {
            Some(bytes) if bytes <= self.left => Ok(n as usize),
            _ => Err(invalid(format!("a count of {n} runs past the end"))),
        }
    }

    pub fn array<T: Plain>(&mut self) -> io::Result<Vec<T>> {
        let n = self.count(T::SIZE.max(1))?;
        let mut items = Vec::with_capacity(n);
        let per_chunk = (CHUNK_BYTES / T::SIZE.max(1)).max(1);
        let mut buf = std::mem::take(&mut self.buf);
        while items.len() < n {
            let k = per_chunk.min(n - items.len());
            buf.resize(k * T::SIZE, 0);
            if let Err(e) = self.bytes_into(&mut buf) {
                self.buf = buf;
                return Err(e);
            }
            items.extend(buf.chunks_exact(T::SIZE).map(T::get));
        }
        self.buf = buf;
        Ok(items)
    }

    pub fn text(&mut self) -> io::Result<String> {
        let n = self.count(1)?;
        let mut bytes = vec![0; n];
        self.bytes_into(&mut bytes)?;
        String::from_utf8(bytes).map_err(|_| invalid("a string is not UTF-8"))
    }

    /// The checksum of everything read.
    pub fn finish(self) -> u64 {
        self.hash.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_count_is_an_error_not_an_allocation() {
        let mut out = Vec::new();
        let mut w = PlainWriter::new(&mut out);
        w.array(&[1u32, 2, 3]).unwrap();
        w.finish().unwrap();
        out[7] = 0x40; // the count's top byte: 2^62 and more items
        let mut r = PlainReader::new(&out[..], out.len() as u64);
        let e = r.array::<u32>().unwrap_err();
        assert!(e.to_string().contains("runs past the end"), "{e}");
    }

    #[test]
    fn reading_past_the_limit_fails() {
        let mut out = Vec::new();
        let mut w = PlainWriter::new(&mut out);
        w.array(&[7u64; 1000]).unwrap();
        w.finish().unwrap();
        let mut r = PlainReader::new(&out[..], 100);
        assert!(r.array::<u64>().is_err());
    }

    #[test]
    fn arrays_longer_than_a_chunk_round_trip() {
        let items: Vec<[u32; 3]> = (0..200_000u32).map(|i| [i, i * 2, !i]).collect();
        let mut out = Vec::new();
        let mut w = PlainWriter::new(&mut out);
        w.array(&items).unwrap();
        let sum = w.finish().unwrap();
        let mut r = PlainReader::new(&out[..], out.len() as u64);
        assert_eq!(r.array::<[u32; 3]>().unwrap(), items);
        assert_eq!(r.finish(), sum);
    }
}

#[cfg(test)]
mod doc_examples {
    #[test]
    fn doc_example_module() {
        use crate::atlas::plain_io::{PlainReader, PlainWriter};
        let mut out = Vec::new();
        let mut w = PlainWriter::new(&mut out);
        w.array(&[[1.5f64, -2.0], [3.0, 4.25]]).unwrap();
        w.text("Mopti").unwrap();
        let sum = w.finish().unwrap();

        let mut r = PlainReader::new(&out[..], out.len() as u64);
        assert_eq!(r.array::<[f64; 2]>().unwrap(), [[1.5, -2.0], [3.0, 4.25]]);
        assert_eq!(r.text().unwrap(), "Mopti");
        assert_eq!(r.finish(), sum);
    }
}
