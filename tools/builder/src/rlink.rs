//! Rewriting path strings inside a `.rlink` file (the output of `rustc -Zno-link`).
//!
//! rustc records the *canonicalized absolute* path of every crate it loaded and the paths of
//! the object files it wrote. That makes the file depend on the sandbox it was made in, and the
//! link step must find real rlibs where interfaces were. The encoding (rustc 1.95) stores a
//! string as LEB128 length, bytes, then the sentinel byte `0xC1`, with no absolute offsets,
//! so strings can be replaced in place. Every replacement checks that framing; anything else
//! is an error, never a silent guess.

use anyhow::{bail, Result};

const STRING_SENTINEL: u8 = 0xC1;
const MAGIC: &[u8] = b"rustlink";

/// One string found in the rlink: where its length prefix starts, where its bytes are.
struct Found {
    prefix_start: usize,
    bytes: std::ops::Range<usize>,
}

fn decode_leb128(data: &[u8]) -> Option<(usize, usize)> {
    let mut value = 0usize;
    for (i, byte) in data.iter().enumerate().take(5) {
        value |= ((byte & 0x7f) as usize) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

fn encode_leb128(mut value: usize, out: &mut Vec<u8>) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Find the encoded string that starts exactly at `at` (its bytes), by trying each possible
/// length-prefix width in front of it.
fn framed_string_at(data: &[u8], at: usize) -> Option<Found> {
    for width in 1..=3 {
        let prefix_start = at.checked_sub(width)?;
        let Some((len, used)) = decode_leb128(&data[prefix_start..at]) else { continue };
        if used != width {
            continue;
        }
        let end = at + len;
        if end < data.len() && data[end] == STRING_SENTINEL {
            return Some(Found { prefix_start, bytes: at..end });
        }
    }
    None
}

/// Check that `data` looks like an rlink of the rustc this builder was written for.
pub fn check_magic(data: &[u8]) -> Result<()> {
    if !data.starts_with(MAGIC) {
        bail!("not an rlink file (missing `rustlink` magic)");
    }
    Ok(())
}

/// Every framed string in the file that starts with `needle`, as (start of bytes, text).
pub fn strings_starting_with(data: &[u8], needle: &[u8]) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut from = 0;
    let finder = memchr::memmem::Finder::new(needle);
    while let Some(pos) = find(&finder, &data[from..]).map(|p| p + from) {
        if let Some(found) = framed_string_at(data, pos) {
            out.push((pos, String::from_utf8_lossy(&data[found.bytes.clone()]).into_owned()));
        }
        from = pos + 1;
    }
    out
}

/// The first occurrence of the finder's needle (none for an empty needle).
fn find(finder: &memchr::memmem::Finder, haystack: &[u8]) -> Option<usize> {
    if finder.needle().is_empty() {
        return None;
    }
    finder.find(haystack)
}

/// Replace every framed string for which `rewrite` returns a new value.
/// `rewrite` sees each framed string that contains `needle` at its start.
pub fn rewrite_strings(
    data: &[u8],
    needle: &[u8],
    mut rewrite: impl FnMut(&str) -> Result<Option<String>>,
) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len());
    let mut copied = 0usize;
    let mut from = 0usize;
    let finder = memchr::memmem::Finder::new(needle);
    while let Some(pos) = find(&finder, &data[from..]).map(|p| p + from) {
        from = pos + 1;
        let Some(found) = framed_string_at(data, pos) else { continue };
        // A byte run that merely looks like a framed string is not text: leave it.
        let Ok(old) = std::str::from_utf8(&data[found.bytes.clone()]) else { continue };
        let Some(new) = rewrite(old)? else { continue };
        copied = replace_framed(&mut out, data, copied, &found, &new);
        from = found.bytes.end;
    }
    out.extend_from_slice(&data[copied..]);
    Ok(out)
}

/// Copy `data` from `copied` up to `found`'s length prefix into `out`, then `new` framed in
/// its place (the sentinel after it stays in `data`); returns where copying resumes.
fn replace_framed(out: &mut Vec<u8>, data: &[u8], copied: usize, found: &Found, new: &str) -> usize {
    out.extend_from_slice(&data[copied..found.prefix_start]);
    encode_leb128(new.len(), out);
    out.extend_from_slice(new.as_bytes());
    found.bytes.end
}

/// Empty every list of strings that consists only of strings `member` accepts: each run of
/// consecutive framed strings starting with `needle` that `member` accepts must be preceded
/// by its element count (a `Vec` of paths); the count becomes 0 and the strings go. A run
/// without that count is left to `fallback`, which may rewrite each of its strings.
pub fn empty_string_lists(
    data: &[u8],
    needle: &[u8],
    member: impl Fn(&str) -> bool,
    fallback: impl Fn(&str) -> Option<String>,
) -> Result<Vec<u8>> {
    let mut runs: Vec<Vec<Found>> = Vec::new();
    let finder = memchr::memmem::Finder::new(needle);
    let mut from = 0usize;
    while let Some(pos) = find(&finder, &data[from..]).map(|p| p + from) {
        from = pos + 1;
        let Some(found) = framed_string_at(data, pos) else { continue };
        let Ok(text) = std::str::from_utf8(&data[found.bytes.clone()]) else { continue };
        if !member(text) {
            continue;
        }
        from = found.bytes.end;
        match runs.last_mut() {
            Some(run) if run.last().is_some_and(|last| last.bytes.end + 1 == found.prefix_start) => run.push(found),
            _ => runs.push(vec![found]),
        }
    }
    let mut out = Vec::with_capacity(data.len());
    let mut copied = 0usize;
    for run in &runs {
        let first = run[0].prefix_start;
        let end = run.last().expect("runs are never empty").bytes.end + 1;
        let count_width = (1..=3).find(|&width| {
            first.checked_sub(width).and_then(|start| decode_leb128(&data[start..first])) == Some((run.len(), width))
        });
        match count_width {
            Some(width) => {
                out.extend_from_slice(&data[copied..first - width]);
                encode_leb128(0, &mut out);
                copied = end;
            }
            None => {
                for found in run {
                    let text = std::str::from_utf8(&data[found.bytes.clone()]).expect("checked above");
                    let Some(new) = fallback(text) else { continue };
                    copied = replace_framed(&mut out, data, copied, found, &new);
                }
            }
        }
    }
    out.extend_from_slice(&data[copied..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(s: &str) -> Vec<u8> {
        let mut v = Vec::new();
        encode_leb128(s.len(), &mut v);
        v.extend_from_slice(s.as_bytes());
        v.push(STRING_SENTINEL);
        v
    }

    #[test]
    fn rewrites_framed_strings_and_their_lengths() {
        let long = format!("/sandbox/{}/libc.rlib", "x".repeat(200));
        let mut data = b"rustlink\0\0\0\x01".to_vec();
        data.extend(framed("/sandbox/a/libc.rlib"));
        data.extend([0u8, 1, 2]);
        data.extend(framed(&long));
        data.extend(framed("unrelated /sandbox/ text"));
        let out = rewrite_strings(&data, b"/sandbox/", |s| Ok(Some(s.replace("/sandbox/", "out/")))).unwrap();
        let found = strings_starting_with(&out, b"out/");
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].1, "out/a/libc.rlib");
        assert_eq!(found[1].1, long.replace("/sandbox/", "out/"));
        // The string that merely contains the needle later is untouched.
        assert_eq!(strings_starting_with(&out, b"unrelated").len(), 1);
    }

    #[test]
    fn lists_of_matching_strings_are_emptied_and_other_strings_kept() {
        let mut data = b"rustlink\0\0\0\x01".to_vec();
        data.extend(framed("keep/a.o"));
        data.push(2); // a list of two session paths
        data.extend(framed("/incr/s-1/x.o"));
        data.extend(framed("/incr/s-1/y.o"));
        data.extend(framed("keep/b.o"));
        data.push(7); // not the count of the single path that follows: left to the fallback
        data.extend(framed("/incr/s-1/z.o"));
        let out = empty_string_lists(&data, b"/incr/", |s| s.contains("/s-"), |_| Some("@P@/z.o".to_string())).unwrap();
        let mut expected = b"rustlink\0\0\0\x01".to_vec();
        expected.extend(framed("keep/a.o"));
        expected.push(0);
        expected.extend(framed("keep/b.o"));
        expected.push(7);
        expected.extend(framed("@P@/z.o"));
        assert_eq!(out, expected);
    }

    #[test]
    fn leb128_round_trips() {
        for v in [0usize, 1, 127, 128, 300, 16384, 1 << 20] {
            let mut buf = Vec::new();
            encode_leb128(v, &mut buf);
            assert_eq!(decode_leb128(&buf), Some((v, buf.len())));
        }
    }
}
