//! JSON written straight into a buffer, for the event features that fill most answers.
//! serde_json escapes strings a byte at a time: with 45 KB of text in a page of 100 events,
//! that was a tenth of a near query's whole cost. [`write_str`] skips eight bytes at a
//! time while none needs escaping, and writes serde_json's escapes (`\"`, `\\`, `\b`, `\f`,
//! `\n`, `\r`, `\t`, other control characters as `\u00xx`), byte for byte (tested).

use serde::Serialize;

/// Appends `s` as a JSON string literal.
///
/// ```ignore
/// let mut out = Vec::new();
/// crate::http::json_text::write_str(&mut out, "say \"hi\"\n");
/// assert_eq!(out, br#""say \"hi\"\n""#);
/// ```
/// (Run as the unit test `doc_example_write_str`: the module is internal.)
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut copied = 0;
    let mut at = 0;
    while let Some(k) = next_escape(bytes, at) {
        out.extend_from_slice(&bytes[copied..k]);
        write_escape(out, bytes[k]);
        copied = k + 1;
        at = k + 1;
    }
    out.extend_from_slice(&bytes[copied..]);
    out.push(b'"');
}

/// Appends any other JSON value (numbers, `null`) as serde_json writes it.
pub fn write_value<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Writing numbers, options and strings into a Vec cannot fail.
    let _ = serde_json::to_writer(out, value);
}

/// Appends `object` (anything serde_json writes as a JSON object) without its closing
/// brace, for members to follow: a collection's head, then its features.
pub fn write_open_object<T: Serialize + ?Sized>(out: &mut Vec<u8>, object: &T) {
    let start = out.len();
    write_value(out, object);
    debug_assert!(out.len() > start && out[start] == b'{' && out.last() == Some(&b'}'));
    out.pop();
}

/// Eight copies of byte `b`.
const fn splat(b: u8) -> u64 {
    u64::from_ne_bytes([b; 8])
}

/// Whether any byte of `w` is below 0x20, `"` or `\`: Mycroft's zero-byte test on `w`
/// (for bytes below 0x20) and on `w` xor each quote character.
fn any_to_escape(w: u64) -> bool {
    let below = |x: u64, n: u8| x.wrapping_sub(splat(n)) & !x & splat(0x80);
    (below(w, 0x20) | below(w ^ splat(b'"'), 1) | below(w ^ splat(b'\\'), 1)) != 0
}

fn is_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// The first byte at or after `from` that needs escaping.
fn next_escape(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let w = u64::from_ne_bytes(chunk.try_into().unwrap_or_default());
        if any_to_escape(w) {
            break;
        }
        i += 8;
    }
    bytes[i..].iter().position(|&b| is_escape(b)).map(|k| i + k)
}

fn write_escape(out: &mut Vec<u8>, b: u8) {
    let short = match b {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x0C => b'f',
        b'\n' => b'n',
        b'\r' => b'r',
        b'\t' => b't',
        _ => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xF)]);
            return;
        }
    };
    out.extend_from_slice(&[b'\\', short]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every string serde_json writes, we write the same: every single character that
    /// matters, and many random mixes of them with plain text at every alignment.
    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        let mut pieces: Vec<String> = (0u8..0x80).map(|b| (b as char).to_string()).collect();
        pieces.extend(["é", "日本", "🙂", "\u{2028}", "\u{7f}", "plain words "].map(String::from));
        let mut seed = 3u64;
        let mut next = |m: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize % m
        };
        let mut strings: Vec<String> = pieces.clone();
        for _ in 0..5_000 {
            let n = next(40);
            strings.push(
                (0..n)
                    .map(|_| pieces[next(pieces.len())].as_str())
                    .collect(),
            );
        }
        for s in &strings {
            let mut ours = Vec::new();
            write_str(&mut ours, s);
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string(s).unwrap(),
                "{s:?}"
            );
        }
    }

    /// An object opened this way and closed by hand is the object with the members added.
    #[test]
    fn an_open_object_takes_more_members() {
        for head in [
            serde_json::json!({"a": 1}),
            serde_json::json!({"a": 1, "b": "}"}),
        ] {
            let mut out = b"[".to_vec();
            write_open_object(&mut out, &head);
            out.extend_from_slice(br#","x":[]}]"#);
            let mut want = head.clone();
            want["x"] = serde_json::json!([]);
            let got: serde_json::Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(got, serde_json::json!([want]));
        }
    }

    /// The word test finds exactly the words with a byte to escape.
    #[test]
    fn the_word_test_is_exact() {
        for b in 0..=255u8 {
            for at in 0..8 {
                let mut w = [b'a'; 8];
                w[at] = b;
                assert_eq!(
                    any_to_escape(u64::from_ne_bytes(w)),
                    is_escape(b),
                    "{b:#x} at {at}"
                );
                let mut w = [0xC3u8; 8];
                w[at] = b;
                let want = is_escape(b);
                assert_eq!(
                    any_to_escape(u64::from_ne_bytes(w)),
                    want,
                    "{b:#x} at {at} in 0xC3"
                );
            }
        }
    }
}

#[cfg(test)]
mod doc_examples {
    #[test]
    fn doc_example_write_str() {
        let mut out = Vec::new();
        crate::http::json_text::write_str(&mut out, "say \"hi\"\n");
        assert_eq!(out, br#""say \"hi\"\n""#);
    }
}
