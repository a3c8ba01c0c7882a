//! `relink-builder observe`: the items of a stub as the finer dependent key sees them (names
//! that reach each item, its fingerprint, the identifiers it mentions), or the identifiers of
//! a dependent's own sources. JSON on stdout; `bench/finer_key.py` computes the closure.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use anyhow::Result;

use relink_stub::observe;

/// Arguments of `relink-builder observe`.
#[derive(clap::Args, Debug)]
pub struct ObserveArgs {
    /// A stub directory (written by `relink-builder stub`): print its observable items.
    #[arg(long, required_unless_present = "sources")]
    pub stub_dir: Option<PathBuf>,
    /// A directory of sources: print the identifiers of its `.rs` files.
    #[arg(long, conflicts_with = "stub_dir")]
    pub sources: Option<PathBuf>,
}

fn rust_files(dir: &std::path::Path) -> Result<BTreeMap<String, String>> {
    crate::util::files_under(dir)?
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| Ok((p.display().to_string(), fs_err::read_to_string(dir.join(&p))?)))
        .collect()
}

/// Run the verb.
pub fn run(args: &ObserveArgs) -> Result<()> {
    if let Some(dir) = &args.stub_dir {
        let items = observe::index(&rust_files(dir)?);
        println!("{}", serde_json::to_string(&items)?);
    } else if let Some(dir) = &args.sources {
        let mut idents = BTreeSet::new();
        for text in rust_files(dir)?.values() {
            idents.extend(observe::source_idents(text));
        }
        println!("{}", serde_json::to_string(&idents)?);
    }
    Ok(())
}
