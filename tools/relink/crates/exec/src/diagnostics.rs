//! What actions print on stderr, shown once: a crate's library, its unit tests and its interface
//! all compile the same sources, and a diagnostic the user has already seen is not repeated
//! (Cargo's "(1 duplicate)").

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

/// Diagnostics shown so far by this process (one relink command).
fn shown() -> &'static Mutex<HashSet<String>> {
    static SHOWN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    SHOWN.get_or_init(Default::default)
}

/// `text` without ANSI escape sequences (rustc's colours): what two diagnostics are compared on.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ parameters, then one final byte in @..~.
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A rustc diagnostic: a paragraph that starts with `error`/`warning` and points at a source.
fn is_diagnostic(plain: &str) -> bool {
    (plain.starts_with("error") || plain.starts_with("warning")) && plain.contains("--> ")
}

/// The part of `stderr` not yet shown: every diagnostic paragraph seen before is dropped; when
/// all of them were, the rest (rustc's "aborting due to" summary) is replaced by one line
/// naming the action.
pub fn unseen(stderr: &str, action: &str) -> String {
    let mut shown = shown().lock().unwrap();
    filter(stderr, action, &mut shown)
}

fn filter(stderr: &str, action: &str, shown: &mut HashSet<String>) -> String {
    let paragraphs: Vec<(&str, String)> = stderr.split("\n\n").map(|p| (p, strip_ansi(p))).collect();
    let diagnostics = paragraphs.iter().filter(|(_, plain)| is_diagnostic(plain)).count();
    let mut kept = Vec::new();
    let mut duplicates = 0;
    for (p, plain) in &paragraphs {
        if is_diagnostic(plain) && !shown.insert(plain.trim_end().to_string()) {
            duplicates += 1;
        } else {
            kept.push(*p);
        }
    }
    if diagnostics > 0 && duplicates == diagnostics {
        return format!("{action}: {duplicates} diagnostic(s), all shown above\n");
    }
    let mut out = kept.join("\n\n");
    if duplicates > 0 {
        out = format!("{}\n{action}: {duplicates} more diagnostic(s) shown above\n", out.trim_end());
    }
    out
}

/// Write what is new in `stderr` to relink's stderr.
pub fn show(stderr: &[u8], action: &str) -> std::io::Result<()> {
    if stderr.is_empty() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(stderr);
    super::status::print_above(unseen(&text, action).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_ERRORS: &str = "error[E0425]: cannot find value `x` in this scope\n  --> a/lib.rs:3:5\n   |\n3  |     x\n   |     ^ not found\n\nerror[E0308]: mismatched types\n  --> a/lib.rs:7:9\n   |\n\nerror: aborting due to 2 previous errors\n";

    #[test]
    fn a_repeated_diagnostic_is_shown_once() {
        let mut shown = HashSet::new();
        let first = filter(TWO_ERRORS, "RustCompile //a:a", &mut shown);
        assert_eq!(first, TWO_ERRORS);
        let second = filter(TWO_ERRORS, "RustCompileNoLink //a:a_test", &mut shown);
        assert_eq!(second, "RustCompileNoLink //a:a_test: 2 diagnostic(s), all shown above\n");
    }

    #[test]
    fn new_diagnostics_are_shown_and_old_ones_counted() {
        let mut shown = HashSet::new();
        filter(TWO_ERRORS, "RustCompile //a:a", &mut shown);
        let more = TWO_ERRORS.replace("aborting due to 2", "unused\n  --> a/test.rs:1:1\n\nerror: aborting due to 3");
        let out = filter(&more, "RustCompileNoLink //a:a_test", &mut shown);
        assert!(out.starts_with("error: unused\n  --> a/test.rs:1:1"), "{out}");
        assert!(out.contains("aborting due to 3"), "{out}");
        assert!(out.ends_with("RustCompileNoLink //a:a_test: 2 more diagnostic(s) shown above\n"), "{out}");
        assert!(!out.contains("E0425"), "{out}");
    }

    #[test]
    fn coloured_and_plain_copies_of_a_diagnostic_are_one() {
        let mut shown = HashSet::new();
        let coloured = "\x1b[1m\x1b[91merror[E0425]\x1b[0m\x1b[1m: cannot find value `x` in this scope\x1b[0m\n \x1b[1m\x1b[94m--> \x1b[0ma/lib.rs:3:5\n";
        assert_eq!(strip_ansi(coloured), "error[E0425]: cannot find value `x` in this scope\n --> a/lib.rs:3:5\n");
        assert_eq!(filter(coloured, "RustCompile //a:a", &mut shown), coloured, "colours pass through");
        let again = filter(&strip_ansi(coloured), "RustInterface //a:a", &mut shown);
        assert_eq!(again, "RustInterface //a:a: 1 diagnostic(s), all shown above\n");
    }

    #[test]
    fn output_without_diagnostics_passes_through() {
        let mut shown = HashSet::new();
        assert_eq!(filter("warning: build script said hi\n", "x", &mut shown), "warning: build script said hi\n");
        assert_eq!(filter("warning: build script said hi\n", "x", &mut shown), "warning: build script said hi\n");
    }
}
