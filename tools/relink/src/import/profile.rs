//! The workspace's dev profile, as `relink build` (fastbuild and dbg) honours it.
//!
//! Cargo's `[profile.dev]` (defaults: `opt-level = 0`, `debug = true`) and its per-package
//! overrides (`[profile.dev.package.NAME]`, `[profile.dev.package."*"]` for non-members,
//! `[profile.dev.build-override]` for build scripts and proc macros) decide how each crate is
//! compiled. The importer writes the resolved `opt-level` and `debug` of each target as its
//! `profile_opt_level` and `profile_debuginfo` attributes, so that relink's default build
//! compiles like `cargo build` does. `-c opt` keeps Bazel's meaning (optimised, no stubs).
//! Keys the rules cannot honour yet are named in one warning each.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};

/// The settings of one crate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `-C opt-level`.
    pub opt_level: String,
    /// `-C debuginfo`: `0`, `1`, `2`, `line-tables-only`, `line-directives-only`.
    pub debuginfo: String,
}

/// The dev profile of a workspace, resolved per package.
#[derive(Debug, Default)]
pub struct DevProfile {
    base: Table,
    all_non_members: Table,
    packages: BTreeMap<String, Table>,
    build_override: Table,
}

#[derive(Debug, Default, Clone)]
struct Table {
    opt_level: Option<String>,
    debuginfo: Option<String>,
}

/// Keys of a profile table the rules apply.
const APPLIED: &[&str] = &["opt-level", "debug", "package", "build-override", "incremental"];

impl DevProfile {
    /// Read `[profile.dev]` of the workspace manifest; warns once per key it cannot honour.
    pub fn read(manifest: &Path) -> Result<DevProfile> {
        let text = std::fs::read_to_string(manifest).with_context(|| format!("cannot read {}", manifest.display()))?;
        let value: toml::Value = text.parse().with_context(|| format!("{} is not valid TOML", manifest.display()))?;
        let Some(dev) = value.get("profile").and_then(|p| p.get("dev")) else { return Ok(DevProfile::default()) };
        let mut profile = DevProfile { base: table(dev, manifest, "profile.dev")?, ..DevProfile::default() };
        if let Some(packages) = dev.get("package").and_then(|p| p.as_table()) {
            for (name, t) in packages {
                let parsed = table(t, manifest, &format!("profile.dev.package.{name}"))?;
                if name == "*" {
                    profile.all_non_members = parsed;
                } else {
                    profile.packages.insert(name.clone(), parsed);
                }
            }
        }
        if let Some(t) = dev.get("build-override") {
            profile.build_override = table(t, manifest, "profile.dev.build-override")?;
        }
        Ok(profile)
    }

    /// The settings of package `name` (`member`: a workspace member), or of its build script
    /// and proc macros (`host`: Cargo's `build-override`, opt-level 0 and no debuginfo by
    /// default since Cargo 1.64).
    pub fn settings(&self, name: &str, member: bool, host: bool) -> Settings {
        let mut s = Settings { opt_level: "0".into(), debuginfo: "2".into() };
        let mut apply = |t: &Table| {
            if let Some(o) = &t.opt_level {
                s.opt_level = o.clone();
            }
            if let Some(d) = &t.debuginfo {
                s.debuginfo = d.clone();
            }
        };
        apply(&self.base);
        if host {
            apply(&Table { opt_level: Some("0".into()), debuginfo: Some("0".into()) });
            apply(&self.build_override);
        }
        if !member {
            apply(&self.all_non_members);
        }
        if let Some(t) = self.packages.get(name) {
            apply(t);
        }
        s
    }
}

fn table(value: &toml::Value, manifest: &Path, path: &str) -> Result<Table> {
    let mut t = Table::default();
    let Some(map) = value.as_table() else { return Ok(t) };
    for (key, v) in map {
        match key.as_str() {
            "opt-level" => t.opt_level = Some(v.as_integer().map(|i| i.to_string()).or_else(|| v.as_str().map(str::to_string)).with_context(|| format!("{}: `{path}.opt-level` must be a number or a string", manifest.display()))?),
            "debug" => t.debuginfo = Some(debuginfo(v).with_context(|| format!("{}: `{path}.debug` = {v} is not a debug level", manifest.display()))?),
            k if APPLIED.contains(&k) => {}
            other => eprintln!(
                "relink import: warning: {}: `{path}.{other}` is not applied by relink yet (relink builds as if it were absent)",
                manifest.display()
            ),
        }
    }
    Ok(t)
}

/// Cargo's `debug` values as `-C debuginfo` values.
fn debuginfo(v: &toml::Value) -> Option<String> {
    let level = match v {
        toml::Value::Boolean(true) => "2",
        toml::Value::Boolean(false) => "0",
        toml::Value::Integer(0) => "0",
        toml::Value::Integer(1) => "1",
        toml::Value::Integer(2) => "2",
        toml::Value::String(s) => match s.as_str() {
            "none" => "0",
            "limited" => "1",
            "full" => "2",
            "line-tables-only" => "line-tables-only",
            "line-directives-only" => "line-directives-only",
            _ => return None,
        },
        _ => return None,
    };
    Some(level.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_analyzers_dev_profile_resolves_per_package() {
        let dir = std::env::temp_dir().join(format!("profile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let manifest = dir.join("Cargo.toml");
        std::fs::write(&manifest, "[profile.dev]\ndebug = 1\n\n[profile.dev.package]\nrowan.opt-level = 3\n\"*\".debug = \"line-tables-only\"\n").unwrap();
        let p = DevProfile::read(&manifest).unwrap();
        assert_eq!(p.settings("hir", true, false), Settings { opt_level: "0".into(), debuginfo: "1".into() });
        assert_eq!(
            p.settings("rowan", false, false),
            Settings { opt_level: "3".into(), debuginfo: "line-tables-only".into() }
        );
        assert_eq!(p.settings("serde", false, false).debuginfo, "line-tables-only");
        assert_eq!(
            p.settings("hir", true, true),
            Settings { opt_level: "0".into(), debuginfo: "0".into() },
            "build scripts: Cargo's host defaults"
        );
        std::fs::write(&manifest, "[package]\nname = \"x\"\n").unwrap();
        assert_eq!(
            DevProfile::read(&manifest).unwrap().settings("x", true, false),
            Settings { opt_level: "0".into(), debuginfo: "2".into() },
            "Cargo's defaults"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
