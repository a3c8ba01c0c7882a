//! `relink-builder stub-diff`: why a crate's interface stub differs between two versions of
//! its sources (two checkouts, two commits): the changed ABI items and their causes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::stub::{self, diff, SpanPolicy};

/// Arguments of `relink-builder stub-diff`.
#[derive(clap::Args, Debug)]
pub struct StubDiffArgs {
    /// Crate root of the old version.
    #[arg(long)]
    pub old_root: PathBuf,
    /// Crate root of the new version.
    #[arg(long)]
    pub new_root: PathBuf,
    /// `anchored` or `compact`.
    #[arg(long, default_value = "anchored")]
    pub span_policy: SpanPolicy,
    /// One JSON object per change instead of text.
    #[arg(long)]
    pub json: bool,
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

/// Run the verb: prints `identical`, or one line per changed item.
pub fn run(args: &StubDiffArgs) -> Result<()> {
    let old = stub_texts(&args.old_root, args.span_policy)?;
    let new = stub_texts(&args.new_root, args.span_policy)?;
    let changes = diff::diff(&old, &new);
    if args.json {
        for c in &changes {
            let value = serde_json::json!({"file": c.file, "line": c.line, "item": c.item, "cause": c.cause.to_string()});
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
