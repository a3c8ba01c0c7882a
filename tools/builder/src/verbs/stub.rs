//! `relink-builder stub`: write a crate's interface stub to a directory and explain it.
//! For debugging and for the edit-corpus tests; the `interface` verb does this internally.

use std::path::PathBuf;

use anyhow::Result;

use crate::stub::{self, SpanPolicy};
use crate::util;

/// Arguments of `relink-builder stub`.
#[derive(clap::Args, Debug)]
pub struct StubArgs {
    /// Crate root source file.
    #[arg(long)]
    pub crate_root: PathBuf,
    /// Directory that receives the stub files (mirroring their relative paths).
    #[arg(long)]
    pub out_dir: PathBuf,
    /// `anchored` or `compact`.
    #[arg(long, default_value = "anchored")]
    pub span_policy: SpanPolicy,
    /// Print which bodies were kept and why.
    #[arg(long)]
    pub explain: bool,
}

/// Run the verb.
pub fn run(args: &StubArgs) -> Result<()> {
    let stub = stub::stub_crate(&args.crate_root, args.span_policy)?;
    for (path, file) in &stub.files {
        util::write_file(&args.out_dir.join(util::relative(path)), file.text.as_bytes())?;
    }
    if args.explain {
        print!("{}", stub::explain(&stub));
    }
    println!(
        "{} files, {} bodies replaced, {} kept",
        stub.files.len(),
        stub.stubbed_bodies(),
        stub.kept_bodies()
    );
    Ok(())
}
