//! `relink-builder link`: `rustc -Zlink-only` of a normalized rlink with the real rlibs.
//!
//! The only action that sees real rlibs of dependencies. It copies the compile's object
//! directory (rustc deletes the objects it links), points every interface path recorded in the
//! rlink at the matching real rlib, links, and moves the product to `--out`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use crate::rlink;
use crate::rustc::{self, split_pair, CrateOpts};
use crate::util;
use crate::verbs::compile::{OBJ_DIR_PLACEHOLDER, RECORDED_DEPS_FILE};

/// Arguments of `relink-builder link`.
#[derive(clap::Args, Debug)]
pub struct LinkArgs {
    #[command(flatten)]
    pub krate: CrateOpts,
    /// The directory written by `compile --no-link-dir`.
    #[arg(long)]
    pub rlink_dir: PathBuf,
    /// `INTERFACE=RLIB` for every transitive dependency.
    #[arg(long = "link-dep")]
    pub link_deps: Vec<String>,
    /// Where to write the linked binary or shared object.
    #[arg(long)]
    pub out: PathBuf,
}

/// Run the verb.
pub fn run(args: &LinkArgs) -> Result<()> {
    let cwd = std::env::current_dir()?;
    let scratch = util::sibling(&args.out, "linkdir");
    util::fresh_dir(&scratch)?;
    for entry in
        fs_err::read_dir(&args.rlink_dir).with_context(|| format!("cannot read {}", args.rlink_dir.display()))?
    {
        let entry = entry?;
        util::copy_file(&entry.path(), &scratch.join(entry.file_name()))?;
    }
    let rlink_path = util::single_file_with_extension(&scratch, "rlink")?;
    let data = fs_err::read(&rlink_path)?;
    rlink::check_magic(&data)?;
    let real_of: BTreeMap<&str, &str> =
        args.link_deps.iter().map(|pair| split_pair(pair, "--link-dep")).collect::<Result<_>>()?;
    let scratch_str = scratch.display().to_string();
    let data = rlink::rewrite_strings(&data, OBJ_DIR_PLACEHOLDER.as_bytes(), |s| {
        Ok(s.strip_prefix(OBJ_DIR_PLACEHOLDER).map(|rest| format!("{scratch_str}{rest}")))
    })?;
    let recorded_path = scratch.join(RECORDED_DEPS_FILE);
    let recorded = fs_err::read_to_string(&recorded_path).with_context(|| {
        format!("{} is missing: was the directory made by `compile --no-link-dir`?", recorded_path.display())
    })?;
    fs_err::remove_file(&recorded_path)?;
    for dep in recorded.lines().filter(|l| !l.is_empty()) {
        // Proc macros run at compile time only; everything linked must have its real rlib
        // (an LTO compile already used the real rlibs).
        let is_real = real_of.values().any(|real| *real == dep);
        if !real_of.contains_key(dep) && !is_real && !dep.ends_with(".so") {
            bail!("the compile used `{dep}`, but no --link-dep gives its real rlib (a dependency is missing from the link action)");
        }
    }
    let mut data = data;
    for (interface, real) in &real_of {
        data =
            rlink::rewrite_strings(&data, interface.as_bytes(), |s| Ok((s == *interface).then(|| real.to_string())))?;
    }
    fs_err::write(&rlink_path, &data)?;

    let mut flags = args.krate.link_flags()?;
    flags.extend(CrateOpts::remap_flags(&cwd));
    flags.push("-Zlink-only".to_string());
    flags.push(rlink_path.display().to_string());
    let env = args.krate.environment(&cwd)?;
    let output = rustc::run(&args.krate.rustc_path(&cwd), &flags, &env, None, &cwd)?;
    rustc::check(&output, &format!("link of crate `{}`", args.krate.crate_name))?;

    let produced: Vec<PathBuf> = fs_err::read_dir(&scratch)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| !matches!(p.extension().and_then(|e| e.to_str()), Some("rlink" | "o")))
        .collect();
    let [product] = produced.as_slice() else {
        bail!("expected one linked file in {}, found {:?}", scratch.display(), produced);
    };
    fs_err::rename(product, &args.out)
        .with_context(|| format!("cannot move {} to {}", product.display(), args.out.display()))?;
    fs_err::remove_dir_all(&scratch)?;
    Ok(())
}
