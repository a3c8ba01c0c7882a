//! Text splicing of stub bodies, and the span policy that keeps kept code on its lines.

use std::ops::Range;

use anyhow::{bail, Result};

use super::KeepReason;

/// How replaced bodies affect the position of the code that follows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpanPolicy {
    /// Every replaced body collapses to one line; code after it moves up. Best cutoff (a line
    /// added inside a private body never changes the interface) but the panic locations and
    /// debug lines of kept generic/inline bodies, as instantiated in dependents, are off.
    Compact,
    /// Collapse bodies, then pad with newlines in front of every kept item that carries code
    /// (kept function bodies, traits, macros, consts, statics) so that it starts on its
    /// original line: panic locations and debuginfo in dependents are exact. A line added in a
    /// private body changes the interface only when kept code follows it in the same file.
    Anchored,
}

impl std::str::FromStr for SpanPolicy {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "compact" => Ok(SpanPolicy::Compact),
            "anchored" => Ok(SpanPolicy::Anchored),
            other => bail!("unknown span policy `{other}`: use `anchored` or `compact`"),
        }
    }
}

/// What to do to one file: bodies to replace, kept items to anchor, and private functions
/// that may be dropped altogether.
pub struct Plan {
    /// The text that replaces a body.
    body: &'static str,
    /// Byte ranges of bodies (braces included) to replace, with their 1-based start line.
    pub replacements: Vec<Range<usize>>,
    anchors: Vec<usize>,
    kept: Vec<(usize, KeepReason)>,
    /// Private functions (whole item ranges, attributes included) with their names.
    pub removable: Vec<(Range<usize>, String)>,
    /// Items dropped unconditionally.
    dropped: Vec<Range<usize>>,
}

impl Plan {
    /// An empty plan whose replaced bodies become `body`.
    pub fn new(body: &'static str) -> Plan {
        Plan { body, replacements: Vec::new(), anchors: Vec::new(), kept: Vec::new(), removable: Vec::new(), dropped: Vec::new() }
    }

    /// A function: replace its body unless a keep reason was found.
    pub fn function(&mut self, item: proc_macro2::Span, body: proc_macro2::Span, reason: Option<KeepReason>) {
        match reason {
            None => self.replacements.push(body.byte_range()),
            Some(reason) => {
                self.kept.push((body.start().line, reason));
                self.anchor(item);
            }
        }
    }

    /// An item that does not exist in the library build (`#[cfg(test)]`): always dropped.
    pub fn drop_item(&mut self, item: proc_macro2::Span) {
        self.dropped.push(item.byte_range());
    }

    /// A private function (already stubbed) that no dependent can name: dropped from the stub
    /// when no kept code mentions its name.
    pub fn removable(&mut self, item: proc_macro2::Span, name: String) {
        self.removable.push((item.byte_range(), name));
    }

    /// Kept code whose line numbers must be preserved under [`SpanPolicy::Anchored`].
    pub fn anchor(&mut self, item: proc_macro2::Span) {
        self.anchors.push(item.byte_range().start);
    }

    /// Kept bodies with their lines.
    pub fn kept_lines(&self) -> Vec<(usize, KeepReason)> {
        self.kept.clone()
    }

    /// Produce the stub text, dropping the removable functions named in `drop`.
    pub fn render(&self, source: &str, policy: SpanPolicy, drop: &dyn Fn(&str) -> bool) -> Result<String> {
        let removed: Vec<Range<usize>> = self
            .removable
            .iter()
            .filter(|(_, name)| drop(name))
            .map(|(r, _)| r.clone())
            .chain(self.dropped.iter().cloned())
            .map(|r| whole_lines(source, r))
            .collect();
        let inside_removed = |r: &Range<usize>| removed.iter().any(|d| d.start <= r.start && r.end <= d.end);
        // (range, replacement text)
        let mut replacements: Vec<(Range<usize>, &str)> = self
            .replacements
            .iter()
            .filter(|r| !inside_removed(r))
            .map(|r| (r.clone(), self.body))
            .chain(removed.iter().map(|r| (r.clone(), "")))
            .collect();
        replacements.sort_by_key(|(r, _)| r.start);
        let replacements_text: Vec<&str> = replacements.iter().map(|(_, t)| *t).collect();
        let replacements: Vec<Range<usize>> = replacements.into_iter().map(|(r, _)| r).collect();
        for pair in replacements.windows(2) {
            if pair[0].end > pair[1].start {
                bail!("internal error: overlapping stub replacements {:?} and {:?}", pair[0], pair[1]);
            }
        }
        let anchors = match policy {
            SpanPolicy::Compact => Vec::new(),
            SpanPolicy::Anchored => valid_anchor_line_starts(source, &self.anchors, &replacements),
        };
        // Events: (position, is_replacement, index). Anchors sort before replacements.
        let mut events: Vec<(usize, bool, usize)> = anchors.iter().map(|&a| (a, false, 0)).collect();
        events.extend(replacements.iter().enumerate().map(|(i, r)| (r.start, true, i)));
        events.sort();

        let mut out = String::with_capacity(source.len());
        let mut out_lines = 0usize;
        let mut cursor = 0usize;
        for (pos, is_replacement, index) in events {
            if pos < cursor {
                continue;
            }
            let segment = &source[cursor..pos];
            out_lines += segment.matches('\n').count();
            out.push_str(segment);
            cursor = pos;
            if is_replacement {
                out.push_str(replacements_text[index]);
                cursor = replacements[index].end;
            } else {
                let original_line = source[..pos].matches('\n').count();
                if original_line > out_lines {
                    let pad = original_line - out_lines;
                    out.push_str(&"\n".repeat(pad));
                    out_lines += pad;
                }
            }
        }
        out.push_str(&source[cursor..]);
        Ok(out)
    }
}

/// Widen a removed item to its whole lines (leading indentation, trailing newline) when
/// nothing else shares them, so that dropping it leaves no trace in the text.
fn whole_lines(source: &str, range: Range<usize>) -> Range<usize> {
    let line_start = source[..range.start].rfind('\n').map_or(0, |i| i + 1);
    let start = if source[line_start..range.start].trim().is_empty() { line_start } else { range.start };
    let rest = &source[range.end..];
    let mut end = match rest.find('\n') {
        Some(i) if rest[..i].trim().is_empty() => range.end + i + 1,
        _ => range.end,
    };
    // An item set off by blank lines on both sides takes one of them along, so that the
    // text reads as if it had never been written.
    let blank_before = source[..start].ends_with("\n\n") || start == 0;
    let after = &source[end..];
    if blank_before && start == line_start {
        if let Some(i) = after.find('\n') {
            if after[..i].trim().is_empty() {
                end += i + 1;
            }
        }
    }
    start..end
}

/// Line starts of anchors that can be padded: no replacement may touch the text between the
/// line start and the anchor (it would have to be split).
fn valid_anchor_line_starts(source: &str, anchors: &[usize], replacements: &[Range<usize>]) -> Vec<usize> {
    let mut starts: Vec<usize> = anchors
        .iter()
        .map(|&a| (a, source[..a].rfind('\n').map_or(0, |i| i + 1)))
        .filter(|&(a, line_start)| !replacements.iter().any(|r| r.start < a && r.end > line_start))
        .map(|(_, line_start)| line_start)
        .collect();
    starts.sort_unstable();
    starts.dedup();
    starts
}
