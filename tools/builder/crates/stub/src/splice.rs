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
    /// Byte ranges of bodies (braces included) to replace.
    pub replacements: Vec<Range<usize>>,
    /// Starts of kept code whose *line* matters at run time (anchored policy only).
    anchors: Vec<usize>,
    /// Offsets of tokens whose line *and column* a compile-time value can observe: honoured
    /// under every policy (see [`super::position`]).
    pub exact: Vec<usize>,
    kept: Vec<(usize, KeepReason)>,
    /// Private functions (whole item ranges, attributes included) with their names.
    pub removable: Vec<(Range<usize>, String)>,
    /// Items dropped unconditionally.
    dropped: Vec<Range<usize>>,
    /// Parts of items (import leaves) removable by name, never widened.
    removable_leaves: Vec<(Range<usize>, String)>,
}

/// The stub text of one file and what went into it.
pub struct Rendered {
    pub text: String,
    /// Bodies replaced.
    pub replaced: usize,
    /// Private functions dropped.
    pub removed: usize,
    /// Bodies or items kept only because replacing them would move an exact anchor's column.
    pub kept_for_anchor: usize,
}

impl Plan {
    /// An empty plan whose replaced bodies become `body`.
    pub fn new(body: &'static str) -> Plan {
        Plan {
            body,
            replacements: Vec::new(),
            anchors: Vec::new(),
            exact: Vec::new(),
            kept: Vec::new(),
            removable: Vec::new(),
            dropped: Vec::new(),
            removable_leaves: Vec::new(),
        }
    }

    /// A function: replace its body unless a keep reason was found. A kept body is anchored
    /// at its opening brace, never at the item's first attribute: doc comments above it may
    /// be removed, and an anchor inside removed text would be lost.
    pub fn function(&mut self, body: proc_macro2::Span, reason: Option<KeepReason>) {
        match reason {
            None => self.replacements.push(body.byte_range()),
            Some(reason) => {
                self.kept.push((body.start().line, reason));
                self.anchor(body);
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

    /// Like [`Plan::removable`], for a byte range inside an item (an import's leaf): removed
    /// as is, never widened to whole lines.
    pub fn removable_range(&mut self, range: Range<usize>, name: String) {
        self.removable_leaves.push((range, name));
    }

    /// Kept code whose line numbers must be preserved under [`SpanPolicy::Anchored`].
    pub fn anchor(&mut self, item: proc_macro2::Span) {
        self.anchors.push(item.byte_range().start);
    }

    /// Names under which something of this file may be removed (items and import leaves).
    pub fn removable_names(&self) -> impl Iterator<Item = &str> {
        self.removable.iter().chain(&self.removable_leaves).map(|(_, n)| n.as_str())
    }

    /// Each removable thing with the text it would keep if it stayed: its source with the
    /// bodies this plan replaces and the text it drops inside it cut out.
    pub fn removable_texts(&self, source: &str) -> Vec<(&str, String)> {
        self.removable
            .iter()
            .chain(&self.removable_leaves)
            .map(|(range, name)| {
                let mut text = String::new();
                let mut cursor = range.start;
                // Replaced bodies and dropped text (doc comments, test-only items) inside it.
                let mut inner: Vec<&Range<usize>> = self
                    .replacements
                    .iter()
                    .chain(&self.dropped)
                    .filter(|r| range.start <= r.start && r.end <= range.end && *r != range)
                    .collect();
                inner.sort_by_key(|r| r.start);
                for r in inner {
                    text.push_str(&source[cursor..r.start]);
                    cursor = r.end;
                }
                text.push_str(&source[cursor..range.end]);
                (name.as_str(), text)
            })
            .collect()
    }

    /// Kept bodies with their lines.
    pub fn kept_lines(&self) -> Vec<(usize, KeepReason)> {
        self.kept.clone()
    }

    /// Produce the stub text, dropping the removable functions named in `drop`.
    ///
    /// Every exact anchor ends up on its original line and column: a replaced body or removed
    /// item on the anchor's own line, before it, is kept instead. Missing lines are restored
    /// by newlines inserted right after the replacement that lost them (always between
    /// tokens), just enough to bring the next anchor back to its line.
    pub fn render(&self, source: &str, policy: SpanPolicy, drop: &dyn Fn(&str) -> bool) -> Result<Rendered> {
        let mut candidates: Vec<Candidate> = self
            .removable
            .iter()
            .filter(|(_, name)| drop(name))
            .map(|(r, _)| Candidate::removal(source, r, true))
            .chain(self.dropped.iter().map(|r| Candidate::removal(source, r, false)))
            .chain(self.removable_leaves.iter().filter(|(_, name)| drop(name)).map(|(r, _)| Candidate {
                range: r.clone(),
                text: "",
                private_fn: false,
                on: true,
            }))
            .chain(self.replacements.iter().map(|r| Candidate {
                range: r.clone(),
                text: self.body,
                private_fn: false,
                on: true,
            }))
            .collect();
        // One item may be removable for two reasons (a `#[cfg(test)]` import nobody names).
        candidates.sort_by(|a, b| (a.range.start, a.range.end, a.text).cmp(&(b.range.start, b.range.end, b.text)));
        candidates.dedup_by(|a, b| a.range == b.range && a.text == b.text);
        let mut kept_for_anchor = 0;
        let (edits, exact) = loop {
            let removed: Vec<Range<usize>> =
                candidates.iter().filter(|c| c.on && c.text.is_empty()).map(|c| c.range.clone()).collect();
            let within = |r: &Range<usize>| removed.iter().any(|d| d != r && d.start <= r.start && r.end <= d.end);
            let exact: Vec<usize> =
                self.exact.iter().copied().filter(|a| !removed.iter().any(|d| d.contains(a))).collect();
            let mut changed = false;
            for c in candidates.iter_mut().filter(|c| c.on && !within(&c.range)) {
                if exact.iter().any(|&a| moves_column(source, &c.range, a)) {
                    c.on = false;
                    kept_for_anchor += 1;
                    changed = true;
                }
            }
            if !changed {
                let mut edits: Vec<&Candidate> = candidates.iter().filter(|c| c.on && !within(&c.range)).collect();
                edits.sort_by_key(|c| c.range.start);
                break (edits, exact);
            }
        };
        for pair in edits.windows(2) {
            if pair[0].range.end > pair[1].range.start {
                bail!("internal error: overlapping stub replacements {:?} and {:?}", pair[0].range, pair[1].range);
            }
        }
        let mut anchors = exact;
        if policy == SpanPolicy::Anchored {
            // A line anchor that an edit on its own line would move is not honoured: such code
            // keeps its line only as far as the text allows (runtime locations only).
            anchors.extend(
                self.anchors.iter().copied().filter(|&a| !edits.iter().any(|e| moves_column(source, &e.range, a))),
            );
        }
        anchors.sort_unstable();
        anchors.dedup();
        let text = splice(source, &edits, &anchors);
        Ok(Rendered {
            text,
            replaced: edits.iter().filter(|e| !e.text.is_empty()).count(),
            removed: edits.iter().filter(|e| e.private_fn).count(),
            kept_for_anchor,
        })
    }
}

/// A possible edit: a body to replace or an item to remove.
struct Candidate {
    range: Range<usize>,
    text: &'static str,
    /// A removed private function (counted in the stub's report).
    private_fn: bool,
    /// Still applied (an exact anchor may veto it).
    on: bool,
}

impl Candidate {
    fn removal(source: &str, item: &Range<usize>, private_fn: bool) -> Candidate {
        Candidate { range: whole_lines(source, item.clone()), text: "", private_fn, on: true }
    }
}

/// Whether editing `range` changes the text between the start of `anchor`'s line and
/// `anchor`, i.e. would move its column.
fn moves_column(source: &str, range: &Range<usize>, anchor: usize) -> bool {
    range.start < anchor && range.end > line_start(source, anchor)
}

/// Offset of the start of the line holding `offset`.
fn line_start(source: &str, offset: usize) -> usize {
    source[..offset].rfind('\n').map_or(0, |i| i + 1)
}

/// Apply `edits` (sorted, disjoint) and pad so that each anchor keeps its original line.
fn splice(source: &str, edits: &[&Candidate], anchors: &[usize]) -> String {
    let mut out = String::with_capacity(source.len());
    let mut out_lines = 0usize;
    let mut cursor = 0usize;
    let mut next_anchor = 0usize;
    for (i, edit) in edits.iter().enumerate() {
        let segment = &source[cursor..edit.range.start];
        out_lines += segment.matches('\n').count();
        out.push_str(segment);
        out.push_str(edit.text);
        cursor = edit.range.end;
        // Anchors up to here sit inside or before edits already written.
        while next_anchor < anchors.len() && anchors[next_anchor] < cursor {
            next_anchor += 1;
        }
        let next_edit = edits.get(i + 1).map_or(source.len(), |e| e.range.start);
        if let Some(&anchor) = anchors.get(next_anchor).filter(|&&a| a < next_edit) {
            let original_line = source[..anchor].matches('\n').count();
            let line_here = out_lines + source[cursor..anchor].matches('\n').count();
            if original_line > line_here {
                let pad = original_line - line_here;
                out.push_str(&"\n".repeat(pad));
                out_lines += pad;
            }
        }
    }
    out.push_str(&source[cursor..]);
    out
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
