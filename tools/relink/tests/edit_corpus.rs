//! The edit corpus: edits of real crates (ripgrep's members and, stubbed with
//! `--define relink_stub_all=1`, memchr, regex-syntax and bstr), each labelled ABI-preserving
//! or ABI-changing. ABI-changing edits must always change the interface; the fraction of
//! ABI-preserving edits that keep it byte-identical is printed for both span policies and must
//! reach the target for the compact policy (see README, "Span policy").

mod common;

use common::*;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Preserving,
    Changing,
}

/// One edit: replacements applied (first occurrence each) to one file of one crate.
struct Edit {
    name: &'static str,
    kind: Kind,
    /// Package path and target name of the edited library.
    package: &'static str,
    target: &'static str,
    crate_name: &'static str,
    file: &'static str,
    replacements: &'static [(&'static str, &'static str)],
}

const GLOBSET: (&str, &str, &str) = ("crates/globset", "globset", "globset");
const SEARCHER: (&str, &str, &str) = ("crates/grep-searcher", "grep-searcher", "grep_searcher");
const MATCHER: (&str, &str, &str) = ("crates/grep-matcher", "grep-matcher", "grep_matcher");
const IGNORE: (&str, &str, &str) = ("crates/ignore", "ignore", "ignore");
const PRINTER: (&str, &str, &str) = ("crates/grep-printer", "grep-printer", "grep_printer");
const MEMCHR: (&str, &str, &str) = ("third_party/crates/memchr-2.8.3", "memchr", "memchr");
const REGEX_SYNTAX: (&str, &str, &str) = ("third_party/crates/regex-syntax-0.8.11", "regex-syntax", "regex_syntax");
const BSTR: (&str, &str, &str) = ("third_party/crates/bstr-1.13.0", "bstr", "bstr");

macro_rules! edit {
    ($name:expr, $kind:ident, $krate:expr, $file:expr, [$(($from:expr, $to:expr)),+ $(,)?]) => {
        Edit {
            name: $name,
            kind: Kind::$kind,
            package: $krate.0,
            target: $krate.1,
            crate_name: $krate.2,
            file: $file,
            replacements: &[$(($from, $to)),+],
        }
    };
}

fn corpus() -> Vec<Edit> {
    vec![
        // ---- ABI-preserving ----
        edit!("body: literal changed", Preserving, GLOBSET, "src/lib.rs",
            [(".nfa_size_limit(Some(10 * (1 << 20)))\n        .hybrid_cache_capacity(10 * (1 << 20));\n    Regex::builder().syntax(syntax)",
              ".nfa_size_limit(Some(12 * (1 << 20)))\n        .hybrid_cache_capacity(10 * (1 << 20));\n    Regex::builder().syntax(syntax)")]),
        edit!("comment added in a body", Preserving, GLOBSET, "src/glob.rs",
            [("    let mut buf = [0; 4];\n", "    // Room for one UTF-8 encoded char.\n    let mut buf = [0; 4];\n")]),
        edit!("line added in a body", Preserving, GLOBSET, "src/glob.rs",
            [("    let mut s = String::with_capacity(bs.len());\n", "    let mut s = String::with_capacity(bs.len());\n    let _len = bs.len();\n")]),
        edit!("closure added", Preserving, GLOBSET, "src/lib.rs",
            [("fn new_regex(pat: &str) -> Result<Regex, Error> {\n", "fn new_regex(pat: &str) -> Result<Regex, Error> {\n    let twice = |x: usize| x * 2;\n    let _ = twice(1);\n")]),
        edit!("anonymous const [0u8; N] added", Preserving, GLOBSET, "src/glob.rs",
            [("    let mut buf = [0; 4];\n", "    let _pad = [0u8; 32];\n    let mut buf = [0; 4];\n")]),
        edit!("local renamed", Preserving, GLOBSET, "src/glob.rs",
            [("    let bytes = c.encode_utf8(&mut buf).as_bytes();\n    bytes_to_escaped_literal(bytes)", "    let encoded = c.encode_utf8(&mut buf).as_bytes();\n    bytes_to_escaped_literal(encoded)")]),
        edit!("statements reordered", Preserving, IGNORE, "src/dir.rs",
            [("        let has_custom_ignore_files =\n            !self.inner.custom_ignore_filenames.is_empty();\n        let has_explicit_ignores = !self.inner.explicit_ignores.is_empty();\n",
              "        let has_explicit_ignores = !self.inner.explicit_ignores.is_empty();\n        let has_custom_ignore_files =\n            !self.inner.custom_ignore_filenames.is_empty();\n")]),
        edit!("private helper fn added", Preserving, GLOBSET, "src/glob.rs",
            [("/// Convert a Unicode scalar value to an escaped string suitable for use as\n", "fn relink_corpus_helper(x: u8) -> u8 {\n    x.wrapping_add(1)\n}\n\n/// Convert a Unicode scalar value to an escaped string suitable for use as\n")]),
        edit!("error message text changed", Preserving, SEARCHER, "src/line_buffer.rs",
            [("configured allocation limit ({}) exceeded", "allocation limit ({}) exceeded")]),
        edit!("log line added", Preserving, IGNORE, "src/dir.rs",
            [("    let git_dir_path = || dir.join(\".git\");\n", "    log::debug!(\"resolving the git dir of {}\", dir.display());\n    let git_dir_path = || dir.join(\".git\");\n")]),
        edit!("private method of a concrete impl edited", Preserving, GLOBSET, "src/glob.rs",
            [("        let start = match *self.tokens.get(0)? {\n            Token::RecursivePrefix => 1,\n            _ => 0,\n        };\n        match *self.tokens.get(start)? {\n            Token::ZeroOrMore => {",
              "        let start = match self.tokens.first()? {\n            Token::RecursivePrefix => 1,\n            _ => 0,\n        };\n        match *self.tokens.get(start)? {\n            Token::ZeroOrMore => {")]),
        edit!("third-party private body (regex-syntax)", Preserving, REGEX_SYNTAX, "src/lib.rs",
            [("    let mut quoted = String::new();\n    escape_into(text, &mut quoted);\n", "    let mut quoted = String::with_capacity(text.len());\n    escape_into(text, &mut quoted);\n")]),
        edit!("pub non-generic fn body (bstr)", Preserving, BSTR, "src/utf8.rs",
            [("pub fn validate(slice: &[u8]) -> Result<(), Utf8Error> {\n", "pub fn validate(slice: &[u8]) -> Result<(), Utf8Error> {\n    let _checked = slice.len();\n")]),
        // ---- ABI-changing ----
        edit!("pub signature changed", Changing, GLOBSET, "src/glob.rs",
            [("    pub fn glob(&self) -> &Glob {\n        &self.pat\n", "    pub fn glob(&self) -> &Glob {\n        self.pat_ref()\n    }\n\n    /// The glob, by another name.\n    pub fn pat_ref(&self) -> &Glob {\n        &self.pat\n")]),
        edit!("private field added", Changing, GLOBSET, "src/glob.rs",
            [("struct GlobOptions {\n", "struct GlobOptions {\n    /// Added by the edit corpus.\n    corpus_flag: bool,\n"),
             ("        GlobOptions {\n            case_insensitive: false,\n", "        GlobOptions {\n            corpus_flag: false,\n            case_insensitive: false,\n")]),
        edit!("generic body edited", Changing, GLOBSET, "src/glob.rs",
            [("        self.is_match_candidate(&Candidate::new(path.as_ref()))\n    }\n", "        let candidate = Candidate::new(path.as_ref());\n        self.is_match_candidate(&candidate)\n    }\n")]),
        edit!("#[inline] body edited", Changing, MEMCHR, "src/memchr.rs",
            [("        generic::search_slice_with_raw(haystack, |start, end| {\n            memchr_raw(needle, start, end)\n        })", "        generic::search_slice_with_raw(haystack, |start, end| {\n            let found = memchr_raw(needle, start, end);\n            found\n        })")]),
        edit!("const value changed", Changing, SEARCHER, "src/line_buffer.rs",
            [("64 * (1 << 10); // 64 KB", "128 * (1 << 10); // 128 KB")]),
        edit!("trait impl added", Changing, GLOBSET, "src/glob.rs",
            [("impl std::ops::Deref for Tokens {", "impl From<Vec<Token>> for Tokens {\n    fn from(tokens: Vec<Token>) -> Tokens {\n        Tokens(tokens)\n    }\n}\n\nimpl std::ops::Deref for Tokens {")]),
        edit!("derive added", Changing, GLOBSET, "src/glob.rs",
            [("#[derive(Clone, Debug, Eq, PartialEq)]\npub(crate) enum MatchStrategy {", "#[derive(Clone, Debug, Eq, PartialEq, Hash)]\npub(crate) enum MatchStrategy {")]),
        edit!("macro_rules edited", Changing, MEMCHR, "src/macros.rs",
            [("    ($($tt:tt)*) => { log!(log::trace!($($tt)*)) }", "    ($($tt:tt)*) => { log!(log::trace!(target: \"memchr\", $($tt)*)) }")]),
        edit!("pub fn added", Changing, GLOBSET, "src/lib.rs",
            [("fn new_regex(pat: &str) -> Result<Regex, Error> {\n", "/// Added by the edit corpus.\npub fn corpus_added() -> u8 {\n    7\n}\n\nfn new_regex(pat: &str) -> Result<Regex, Error> {\n")]),
        edit!("trait default method edited", Changing, MATCHER, "src/lib.rs",
            [("    fn is_match(&self, haystack: &[u8]) -> Result<bool, Self::Error> {\n        self.is_match_at(haystack, 0)\n", "    fn is_match(&self, haystack: &[u8]) -> Result<bool, Self::Error> {\n        let start = 0;\n        self.is_match_at(haystack, start)\n")]),
        edit!("const fn body edited", Changing, PRINTER, "src/hyperlink/aliases.rs",
            [("    HyperlinkAlias { name, description, format, display_priority: None }\n}", "    let display_priority = None;\n    HyperlinkAlias { name, description, format, display_priority }\n}")]),
        edit!("#[inline(always)] private method edited", Changing, SEARCHER, "src/lines.rs",
            [("        self.next_impl(bytes).map(|(s, e)| Match::new(s, e))", "        self.next_impl(bytes).map(|(start, end)| Match::new(start, end))")]),
        edit!("field order of a struct changed", Changing, GLOBSET, "src/glob.rs",
            [("    /// Whether to match case insensitively.\n    case_insensitive: bool,\n    /// Whether to require a literal separator to match a separator in a file\n    /// path. e.g., when enabled, `*` won't match `/`.\n    literal_separator: bool,\n",
              "    /// Whether to require a literal separator to match a separator in a file\n    /// path. e.g., when enabled, `*` won't match `/`.\n    literal_separator: bool,\n    /// Whether to match case insensitively.\n    case_insensitive: bool,\n")]),
    ]
}

fn iface_path(e: &Edit) -> String {
    format!("relink-bin/{}/_iface/lib{}-{}.rlib", e.package, e.crate_name, e.target)
}

fn build(ws: &Ws, e: &Edit, policy: &str) -> Result<String, String> {
    let label = format!("//{}:{}", e.package, e.target);
    let out = ws.relink(&[
        "build",
        "--define",
        "relink_stub_all=1",
        "--define",
        &format!("relink_span_policy={policy}"),
        &label,
    ]);
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let data = std::fs::read(ws.path(&iface_path(e))).map_err(|err| err.to_string())?;
    Ok(blake3::hash(&data).to_hex().to_string())
}

/// Run the corpus under `policy`; returns (preserving kept identical, preserving total).
fn run_corpus(ws: &Ws, policy: &str) -> (usize, usize) {
    let edits = corpus();
    let mut preserved = 0;
    let mut preserving = 0;
    let mut failures = Vec::new();
    for e in &edits {
        let baseline = build(ws, e, policy).unwrap_or_else(|err| panic!("baseline of {} failed:\n{err}", e.target));
        let path = ws.path(&format!("{}/{}", e.package, e.file));
        let original = std::fs::read_to_string(&path).unwrap();
        let mut edited = original.clone();
        for (from, to) in e.replacements {
            assert!(edited.contains(from), "edit `{}`: {} does not contain {from:?}", e.name, e.file);
            edited = edited.replacen(from, to, 1);
        }
        std::fs::write(&path, &edited).unwrap();
        let after = build(ws, e, policy);
        std::fs::write(&path, &original).unwrap();
        let after = after.unwrap_or_else(|err| panic!("edit `{}` does not compile:\n{err}", e.name));
        let identical = after == baseline;
        println!(
            "{policy:>8} | {:<10} | {:<45} | interface {}",
            format!("{:?}", e.kind),
            e.name,
            if identical { "identical" } else { "changed" }
        );
        match e.kind {
            Kind::Preserving => {
                preserving += 1;
                preserved += usize::from(identical);
            }
            Kind::Changing if identical => failures.push(e.name),
            Kind::Changing => {}
        }
    }
    assert!(failures.is_empty(), "ABI-changing edits left the interface unchanged ({policy}): {failures:?}");
    (preserved, preserving)
}

#[test]
fn abi_changing_edits_change_the_interface_and_preserving_ones_mostly_do_not() {
    if !real_code_tier("abi_changing_edits_change_the_interface_and_preserving_ones_mostly_do_not") {
        return;
    }
    let corpus = corpus();
    let kinds = |k: Kind| corpus.iter().filter(|e| e.kind == k).count();
    assert!(kinds(Kind::Preserving) >= 12 && kinds(Kind::Changing) >= 12, "at least 12 edit kinds each");

    let (_keep, ws) = ripgrep_workspace("corpus");
    assert!(ws.relink(&["import"]).status.success());

    let (anchored_kept, total) = run_corpus(&ws, "anchored");
    let (compact_kept, _) = run_corpus(&ws, "compact");
    println!("ABI-preserving edits with a byte-identical interface: anchored {anchored_kept}/{total}, compact {compact_kept}/{total}");
    assert!(compact_kept * 10 >= total * 9, "compact policy below 90%: {compact_kept}/{total}");
    assert!(anchored_kept * 10 >= total * 6, "anchored policy below 60%: {anchored_kept}/{total}");
}
