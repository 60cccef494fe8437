//! Gzip in memory: one helper for everything sent or stored compressed (tiles, archives,
//! the web map's files, glyphs, answers).

use std::io::Write;

pub use flate2::Compression;

/// `bytes` gzipped at `level`.
///
/// ```ignore
/// use crate::gzip::{Compression, gzip};
/// let z = gzip(b"Mopti Mopti Mopti", Compression::best());
/// assert_eq!(&z[..2], &[0x1f, 0x8b]);
/// ```
/// (Run as the unit test `doc_example_gzip`: the module is internal.)
pub fn gzip(bytes: &[u8], level: Compression) -> Vec<u8> {
    let mut z = flate2::write::GzEncoder::new(Vec::with_capacity(bytes.len() / 2 + 64), level);
    // Writing into memory cannot fail.
    z.write_all(bytes).expect("writing to memory");
    z.finish().expect("writing to memory")
}

#[cfg(test)]
mod doc_examples {
    #[test]
    fn doc_example_gzip() {
        use crate::support::gzip::{Compression, gzip};
        let z = gzip(b"Mopti Mopti Mopti", Compression::best());
        assert_eq!(&z[..2], &[0x1f, 0x8b]);
    }
}
