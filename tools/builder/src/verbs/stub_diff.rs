//! `relink-builder stub-diff`: why a crate's interface stub differs between two versions of
//! its sources (two checkouts, two commits): the changed ABI items and their causes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;

use relink_stub::{self as stub, diff, SpanPolicy};

/// Arguments of `relink-builder stub-diff`.
#[derive(clap::Args, Debug)]
pub struct StubDiffArgs {
    /// Crate root of the old version (stubbed here).
    #[arg(long, required_unless_present = "old_stub_dir")]
    pub old_root: Option<PathBuf>,
    /// Crate root of the new version (stubbed here).
    #[arg(long, required_unless_present = "new_stub_dir")]
    pub new_root: Option<PathBuf>,
    /// A stub already written (by `relink-builder stub`) for the old version, instead.
    #[arg(long, conflicts_with = "old_root")]
    pub old_stub_dir: Option<PathBuf>,
    /// A stub already written for the new version, instead.
    #[arg(long, conflicts_with = "new_root")]
    pub new_stub_dir: Option<PathBuf>,
    /// `anchored` or `compact`.
    #[arg(long, default_value = "anchored")]
    pub span_policy: SpanPolicy,
    /// One JSON object per change instead of text.
    #[arg(long)]
    pub json: bool,
    /// Report lines in the new version's real sources, read from this directory (stub paths are
    /// relative to it), instead of lines in the stub.
    #[arg(long)]
    pub new_sources: Option<PathBuf>,
}

/// Stub texts keyed by path relative to the crate root's directory.
fn stub_texts(root: &Path, policy: SpanPolicy) -> Result<BTreeMap<String, String>> {
    let base = root.parent().unwrap_or(Path::new(""));
    let stub = stub::stub_crate(root, policy)?;
    Ok(stub
        .files
        .into_iter()
        .map(|(path, file)| (path.strip_prefix(base).unwrap_or(&path).display().to_string(), file.text))
        .collect())
}

/// The `.rs` files of a directory (a stub a `stub` verb wrote), keyed by path relative to it.
pub(crate) fn stub_dir_texts(dir: &Path) -> Result<BTreeMap<String, String>> {
    crate::util::files_under(dir)?
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| Ok((p.display().to_string(), fs_err::read_to_string(dir.join(&p))?)))
        .collect()
}

fn texts(root: &Option<PathBuf>, dir: &Option<PathBuf>, policy: SpanPolicy) -> Result<BTreeMap<String, String>> {
    match (root, dir) {
        (Some(root), _) => stub_texts(root, policy),
        (None, Some(dir)) => stub_dir_texts(dir),
        (None, None) => anyhow::bail!("give a crate root or a stub directory for each version"),
    }
}

/// Run the verb: prints `identical`, or one line per changed item.
pub fn run(args: &StubDiffArgs) -> Result<()> {
    let old = texts(&args.old_root, &args.old_stub_dir, args.span_policy)?;
    let new = texts(&args.new_root, &args.new_stub_dir, args.span_policy)?;
    let mut changes = diff::diff(&old, &new);
    if let Some(dir) = &args.new_sources {
        let sources: BTreeMap<String, String> =
            new.keys().filter_map(|f| fs_err::read_to_string(dir.join(f)).ok().map(|t| (f.clone(), t))).collect();
        diff::locate_in_sources(&mut changes, &sources);
    }
    if args.json {
        for c in &changes {
            let value = serde_json::json!({"file": c.file, "line": c.line, "item": c.item, "cause": c.cause.to_string(), "macros": c.macros});
            println!("{value}");
        }
    } else if changes.is_empty() {
        println!("identical");
    } else {
        for c in &changes {
            println!("{c}");
        }
    }
    Ok(())
}
