//! `relink-builder observe`: the items of a stub as the finer dependent key sees them (names
//! that reach each item, its fingerprint, the identifiers it mentions), or the identifiers of
//! a dependent's own sources. JSON on stdout; `bench/finer_key.py` computes the closure.

use std::collections::BTreeSet;
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

/// Run the verb.
pub fn run(args: &ObserveArgs) -> Result<()> {
    if let Some(dir) = &args.stub_dir {
        let items = observe::index(&super::stub_diff::stub_dir_texts(dir)?);
        println!("{}", serde_json::to_string(&items)?);
    } else if let Some(dir) = &args.sources {
        let mut idents = BTreeSet::new();
        for text in super::stub_diff::stub_dir_texts(dir)?.values() {
            idents.extend(observe::source_idents(text));
        }
        println!("{}", serde_json::to_string(&idents)?);
    }
    Ok(())
}
