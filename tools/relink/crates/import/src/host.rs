//! The host platform, as Cargo matches `[target.'cfg(..)'.dependencies]` against it: its
//! triple (`rustc -vV`) and cfgs (`rustc --print cfg`).

use std::str::FromStr;

use anyhow::{bail, Context, Result};
use cargo_platform::{Cfg, Platform};

/// The host platform as Cargo matches `[target.'cfg(..)'.dependencies]`.
pub struct Host {
    pub triple: String,
    pub cfg: Vec<Cfg>,
}

impl Host {
    /// The host of `rustc` (`rustc -vV`, `rustc --print cfg`).
    pub fn probe() -> Result<Host> {
        Host::probe_cfg(Host::probe_triple()?)
    }

    /// The host triple of `rustc` (`rustc -vV`).
    pub fn probe_triple() -> Result<String> {
        run_rustc(&["-vV"])?
            .lines()
            .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
            .context("`rustc -vV` names no host")
    }

    /// The host of `triple`, with its cfgs from `rustc --print cfg`.
    pub fn probe_cfg(triple: String) -> Result<Host> {
        Host::new(triple, &run_rustc(&["--print", "cfg"])?)
    }

    /// A host from its triple and `rustc --print cfg` output.
    pub fn new(triple: String, print_cfg: &str) -> Result<Host> {
        let cfg = print_cfg
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| Cfg::from_str(l).with_context(|| format!("unexpected `rustc --print cfg` line `{l}`")))
            .collect::<Result<_>>()?;
        Ok(Host { triple, cfg })
    }

    /// Whether a declaration's `target` applies to the host (an unparsable one does, which keeps
    /// more, never less).
    pub(crate) fn matches(&self, target: Option<&str>) -> bool {
        match target {
            None => true,
            Some(t) => Platform::from_str(t).map(|p| p.matches(&self.triple, &self.cfg)).unwrap_or(true),
        }
    }
}

/// The standard output of `rustc ARGS`.
fn run_rustc(args: &[&str]) -> Result<String> {
    let out = std::process::Command::new("rustc")
        .args(args)
        .output()
        .with_context(|| format!("cannot run `rustc {}`", args.join(" ")))?;
    if !out.status.success() {
        bail!("`rustc {}` failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
