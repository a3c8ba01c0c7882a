//! What actions print on stderr, shown once: a crate's library, its unit tests and its interface
//! all compile the same sources, and a diagnostic the user has already seen is not repeated
//! (Cargo's "(1 duplicate)").

use std::collections::HashSet;
use std::io::Write;
use std::sync::{Mutex, OnceLock};

/// Diagnostics shown so far by this process (one relink command).
fn shown() -> &'static Mutex<HashSet<String>> {
    static SHOWN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    SHOWN.get_or_init(Default::default)
}

/// A rustc diagnostic: a paragraph that starts with `error`/`warning` and points at a source.
fn is_diagnostic(paragraph: &str) -> bool {
    (paragraph.starts_with("error") || paragraph.starts_with("warning")) && paragraph.contains("--> ")
}

/// The part of `stderr` not yet shown: every diagnostic paragraph seen before is dropped; when
/// all of them were, the rest (rustc's "aborting due to" summary) is replaced by one line
/// naming the action.
pub fn unseen(stderr: &str, action: &str) -> String {
    let mut shown = shown().lock().unwrap();
    filter(stderr, action, &mut shown)
}

fn filter(stderr: &str, action: &str, shown: &mut HashSet<String>) -> String {
    let paragraphs: Vec<&str> = stderr.split("\n\n").collect();
    let diagnostics = paragraphs.iter().filter(|p| is_diagnostic(p)).count();
    let mut kept = Vec::new();
    let mut duplicates = 0;
    for p in &paragraphs {
        if is_diagnostic(p) && !shown.insert(p.trim_end().to_string()) {
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
    std::io::stderr().write_all(unseen(&text, action).as_bytes())
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
    fn output_without_diagnostics_passes_through() {
        let mut shown = HashSet::new();
        assert_eq!(filter("warning: build script said hi\n", "x", &mut shown), "warning: build script said hi\n");
        assert_eq!(filter("warning: build script said hi\n", "x", &mut shown), "warning: build script said hi\n");
    }
}
