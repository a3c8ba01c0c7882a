//! The workspace's Cargo profiles, resolved per crate as Cargo resolves them.
//!
//! Cargo's built-in profiles (`dev`, `release`, and `test`/`bench` inheriting them), the
//! workspace's `[profile.NAME]` tables (custom profiles through `inherits`), per-package
//! overrides (`[profile.NAME.package.PKG]`, `"*"` for non-members) and `build-override` (build
//! scripts and proc macros) decide how each crate is compiled. The importer writes, for each
//! target, one settings line per profile as its `cargo_profile` attribute; the rules pick the
//! line of the selected profile (`relink build --profile NAME`, `--define relink_profile=NAME`;
//! `dev` by default, `release` under `-c opt`) and hand it to relink-builder as flags.
//!
//! Keys the rules cannot honour are named in one warning each (never a silent difference).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};

/// The profiles Cargo defines without a manifest entry, and what each inherits.
const BUILT_IN: &[(&str, Option<&str>)] =
    &[("dev", None), ("release", None), ("test", Some("dev")), ("bench", Some("release"))];

/// Keys Cargo forbids in `package` and `build-override` tables.
const PROFILE_ONLY: &[&str] = &["panic", "lto", "rpath", "inherits", "package", "build-override"];

/// The settings of one crate under one profile, in the `KEY=VALUE` words the rules read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `-C opt-level`.
    pub opt_level: String,
    /// `-C debuginfo`: `0`, `1`, `2`, `line-tables-only`, `line-directives-only`.
    pub debuginfo: String,
    /// `-C debug-assertions`: `on`/`off`.
    pub debug_assertions: bool,
    /// `-C overflow-checks`: `on`/`off`.
    pub overflow_checks: bool,
    /// `unwind` or `abort` (binaries; test harnesses, build scripts, proc macros unwind).
    pub panic: String,
    /// `-C codegen-units`, when the profile sets it (rustc's default otherwise, as Cargo).
    pub codegen_units: Option<u32>,
    /// `-C strip` of linked artifacts.
    pub strip: String,
    /// `-C rpath`.
    pub rpath: bool,
    /// `-C lto` of binaries (`fat`, `thin`, `off`); `None`: rustc's default (Cargo's `false`).
    pub lto: Option<String>,
    /// `PROFILE` for build scripts: `release` when the profile is or inherits `release`.
    pub kind: &'static str,
}

impl Settings {
    /// One line: `opt-level=0 debuginfo=2 ...`, the value of a `cargo_profile` entry.
    pub fn line(&self) -> String {
        let on = |b: bool| if b { "on" } else { "off" };
        let mut words = vec![
            format!("opt-level={}", self.opt_level),
            format!("debuginfo={}", self.debuginfo),
            format!("debug-assertions={}", on(self.debug_assertions)),
            format!("overflow-checks={}", on(self.overflow_checks)),
            format!("panic={}", self.panic),
        ];
        if let Some(units) = self.codegen_units {
            words.push(format!("codegen-units={units}"));
        }
        words.push(format!("strip={}", self.strip));
        words.push(format!("rpath={}", on(self.rpath)));
        if let Some(lto) = &self.lto {
            words.push(format!("lto={lto}"));
        }
        words.push(format!("kind={}", self.kind));
        words.join(" ")
    }
}

/// Values one profile table sets; `None`: inherited.
#[derive(Debug, Default, Clone)]
struct Table {
    opt_level: Option<String>,
    debuginfo: Option<String>,
    debug_assertions: Option<bool>,
    overflow_checks: Option<bool>,
    panic: Option<String>,
    codegen_units: Option<u32>,
    strip: Option<String>,
    rpath: Option<bool>,
    lto: Option<String>,
}

impl Table {
    /// `other`'s values over `self`'s.
    fn merge(&mut self, other: &Table) {
        macro_rules! take {
            ($($field:ident),*) => { $( if other.$field.is_some() { self.$field = other.$field.clone(); } )* };
        }
        take!(opt_level, debuginfo, debug_assertions, overflow_checks, panic, codegen_units, strip, rpath, lto);
    }
}

/// One profile after inheritance.
#[derive(Debug, Default, Clone)]
struct Profile {
    base: Table,
    all_non_members: Table,
    packages: BTreeMap<String, Table>,
    build_override: Table,
    kind: &'static str,
}

impl Profile {
    fn merge(&mut self, child: &Profile) {
        self.base.merge(&child.base);
        self.all_non_members.merge(&child.all_non_members);
        for (name, t) in &child.packages {
            self.packages.entry(name.clone()).or_default().merge(t);
        }
        self.build_override.merge(&child.build_override);
    }
}

/// Every profile of a workspace, resolved.
#[derive(Debug)]
pub struct Profiles {
    profiles: BTreeMap<String, Profile>,
}

impl Default for Profiles {
    fn default() -> Profiles {
        Profiles::from_manifest(&toml::Value::Table(Default::default()), Path::new("Cargo.toml"))
            .expect("built-in profiles resolve")
    }
}

impl Profiles {
    /// Read the `[profile.*]` tables of the workspace manifest; warns once per key it cannot
    /// honour.
    pub fn read(manifest: &Path) -> Result<Profiles> {
        let value = toml::Value::Table(crate::read_toml(manifest)?);
        Profiles::from_manifest(&value, manifest)
    }

    fn from_manifest(value: &toml::Value, manifest: &Path) -> Result<Profiles> {
        let empty = toml::map::Map::new();
        let tables = value.get("profile").and_then(|p| p.as_table()).unwrap_or(&empty);
        let mut names: Vec<String> = BUILT_IN.iter().map(|(n, _)| n.to_string()).collect();
        names.extend(tables.keys().filter(|k| !BUILT_IN.iter().any(|(n, _)| n == k)).cloned());
        // Each table parsed once, so that each key it cannot honour is named once.
        let mut parsed = BTreeMap::new();
        for (name, table) in tables {
            parsed.insert(name.clone(), parse_profile(table, manifest, name)?);
        }
        let mut profiles = BTreeMap::new();
        for name in &names {
            let resolved = resolve(name, tables, &parsed, manifest, &mut Vec::new())?;
            profiles.insert(name.clone(), resolved);
        }
        Ok(Profiles { profiles })
    }

    /// `cargo_profile` of a crate of package `name` (`member`: a workspace member; `host`: a
    /// build script or proc macro): profile name -> settings line.
    pub fn lines(&self, name: &str, member: bool, host: bool) -> BTreeMap<String, String> {
        self.profiles.keys().map(|p| (p.clone(), self.settings(p, name, member, host).line())).collect()
    }

    /// The settings of package `name` under `profile` (which must exist).
    pub fn settings(&self, profile: &str, name: &str, member: bool, host: bool) -> Settings {
        let p = &self.profiles[profile];
        let mut t = p.base.clone();
        if host {
            // Cargo (since 1.64): build scripts and proc macros at opt-level 0 without
            // debuginfo, whatever the profile says, unless build-override says otherwise.
            t.opt_level = Some("0".into());
            t.debuginfo = Some("0".into());
            t.codegen_units = None;
            // Build scripts and proc macros are never optimised across crates (Cargo).
            t.lto = None;
            t.merge(&p.build_override);
        }
        if !member {
            t.merge(&p.all_non_members);
        }
        if let Some(pkg) = p.packages.get(name) {
            t.merge(pkg);
        }
        let debuginfo = t.debuginfo.unwrap_or_else(|| "0".into());
        // Cargo 1.77: without debuginfo, `strip` defaults to "debuginfo" (std's is dropped).
        let strip = t.strip.unwrap_or_else(|| if debuginfo == "0" { "debuginfo" } else { "none" }.into());
        Settings {
            opt_level: t.opt_level.unwrap_or_else(|| "0".into()),
            debuginfo,
            debug_assertions: t.debug_assertions.unwrap_or(false),
            overflow_checks: t.overflow_checks.unwrap_or(false),
            panic: t.panic.unwrap_or_else(|| "unwind".into()),
            codegen_units: t.codegen_units,
            strip,
            rpath: t.rpath.unwrap_or(false),
            lto: t.lto.filter(|l| l != "false"),
            kind: p.kind,
        }
    }
}

/// Profile `name` with its `inherits` chain merged (parent first).
fn resolve(
    name: &str,
    tables: &toml::map::Map<String, toml::Value>,
    parsed: &BTreeMap<String, Profile>,
    manifest: &Path,
    seen: &mut Vec<String>,
) -> Result<Profile> {
    if seen.iter().any(|s| s == name) {
        bail!(
            "{}: the `inherits` of [profile.{}] form a cycle: {} -> {name}",
            manifest.display(),
            seen[0],
            seen.join(" -> ")
        );
    }
    seen.push(name.to_string());
    let table = tables.get(name);
    let built_in = BUILT_IN.iter().find(|(n, _)| *n == name);
    let inherits = match table.and_then(|t| t.get("inherits")) {
        Some(v) if built_in.is_some_and(|(_, parent)| parent.is_none()) => {
            bail!("{}: [profile.{name}] is a root profile and cannot have `inherits = {v}`", manifest.display())
        }
        Some(v) => Some(
            v.as_str()
                .with_context(|| format!("{}: `profile.{name}.inherits` must be a profile name", manifest.display()))?
                .to_string(),
        ),
        None => built_in.and_then(|(_, parent)| parent.map(str::to_string)),
    };
    let mut profile = match (&inherits, name) {
        (Some(parent), _) => {
            if !tables.contains_key(parent) && !BUILT_IN.iter().any(|(n, _)| n == parent) {
                bail!("{}: [profile.{name}] inherits `{parent}`, which is not a profile", manifest.display());
            }
            resolve(parent, tables, parsed, manifest, seen)?
        }
        (None, "dev") => cargo_root(false),
        (None, "release") => cargo_root(true),
        (None, _) => bail!(
            "{}: [profile.{name}] needs `inherits = \"dev\"` or `\"release\"` (Cargo requires it of custom profiles)",
            manifest.display()
        ),
    };
    if let Some(own) = parsed.get(name) {
        profile.merge(own);
    }
    Ok(profile)
}

/// A root profile as Cargo defines it: `dev` (unoptimised, full debuginfo, checks on) or
/// `release` (opt-level 3, no debuginfo, checks off); both unwind and set no rpath.
fn cargo_root(release: bool) -> Profile {
    Profile {
        base: Table {
            opt_level: Some(if release { "3" } else { "0" }.into()),
            debuginfo: Some(if release { "0" } else { "2" }.into()),
            debug_assertions: Some(!release),
            overflow_checks: Some(!release),
            panic: Some("unwind".into()),
            rpath: Some(false),
            ..Table::default()
        },
        kind: if release { "release" } else { "debug" },
        ..Profile::default()
    }
}

fn parse_profile(value: &toml::Value, manifest: &Path, name: &str) -> Result<Profile> {
    let mut profile = Profile { base: table(value, manifest, &format!("profile.{name}"), true)?, ..Profile::default() };
    if let Some(packages) = value.get("package").and_then(|p| p.as_table()) {
        for (pkg, t) in packages {
            let parsed = table(t, manifest, &format!("profile.{name}.package.{pkg}"), false)?;
            if pkg == "*" {
                profile.all_non_members = parsed;
            } else {
                profile.packages.insert(pkg.clone(), parsed);
            }
        }
    }
    if let Some(t) = value.get("build-override") {
        profile.build_override = table(t, manifest, &format!("profile.{name}.build-override"), false)?;
    }
    Ok(profile)
}

fn table(value: &toml::Value, manifest: &Path, path: &str, top: bool) -> Result<Table> {
    let mut t = Table::default();
    let Some(map) = value.as_table() else { bail!("{}: `{path}` must be a table", manifest.display()) };
    let bad = |key: &str, v: &toml::Value, what: &str| {
        anyhow::anyhow!("{}: `{path}.{key} = {v}` is not {what} (as Cargo reads it)", manifest.display())
    };
    for (key, v) in map {
        if !top && PROFILE_ONLY.contains(&key.as_str()) {
            bail!(
                "{}: `{path}.{key}` is not allowed here (Cargo allows `{key}` only in [profile.NAME])",
                manifest.display()
            );
        }
        match key.as_str() {
            "opt-level" => {
                let level = v.as_integer().map(|i| i.to_string()).or_else(|| v.as_str().map(str::to_string));
                t.opt_level = Some(
                    level.filter(|l| ["0", "1", "2", "3", "s", "z"].contains(&l.as_str())).ok_or_else(|| bad(key, v, "0-3, \"s\" or \"z\""))?,
                );
            }
            "debug" => t.debuginfo = Some(debuginfo(v).ok_or_else(|| bad(key, v, "a debug level"))?),
            "debug-assertions" => t.debug_assertions = Some(v.as_bool().ok_or_else(|| bad(key, v, "true or false"))?),
            "overflow-checks" => t.overflow_checks = Some(v.as_bool().ok_or_else(|| bad(key, v, "true or false"))?),
            "rpath" => t.rpath = Some(v.as_bool().ok_or_else(|| bad(key, v, "true or false"))?),
            "panic" => {
                t.panic = Some(
                    v.as_str().filter(|p| ["unwind", "abort"].contains(p)).ok_or_else(|| bad(key, v, "\"unwind\" or \"abort\""))?.to_string(),
                )
            }
            "codegen-units" => {
                let units = v.as_integer().filter(|n| *n >= 1 && *n <= u32::MAX as i64);
                t.codegen_units = Some(units.ok_or_else(|| bad(key, v, "a positive number"))? as u32);
            }
            "strip" => {
                let strip = match v {
                    toml::Value::Boolean(true) => Some("symbols"),
                    toml::Value::Boolean(false) => Some("none"),
                    toml::Value::String(s) if ["none", "debuginfo", "symbols"].contains(&s.as_str()) => Some(s.as_str()),
                    _ => None,
                };
                t.strip = Some(strip.ok_or_else(|| bad(key, v, "true, false, \"none\", \"debuginfo\" or \"symbols\""))?.to_string());
            }
            "lto" => {
                let lto = match v {
                    toml::Value::Boolean(true) => Some("fat"),
                    toml::Value::Boolean(false) => Some("false"),
                    toml::Value::String(s) if ["fat", "thin", "off"].contains(&s.as_str()) => Some(s.as_str()),
                    _ => None,
                };
                t.lto = Some(lto.ok_or_else(|| bad(key, v, "true, false, \"fat\", \"thin\" or \"off\""))?.to_string());
            }
            // Local compile caching: relink keeps its own (never in a cache key).
            "incremental" | "inherits" | "package" | "build-override" => {}
            // Linux's default, which relink uses.
            "split-debuginfo" if v.as_str() == Some("off") => {}
            other => eprintln!(
                "relink import: warning: {}: `{path}.{other}` is not applied by relink (relink builds as if it were absent)",
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

    fn profiles(text: &str) -> Result<Profiles> {
        Profiles::from_manifest(&text.parse::<toml::Value>().unwrap(), Path::new("ws/Cargo.toml"))
    }

    #[test]
    fn cargo_defaults_for_every_built_in_profile() {
        let p = Profiles::default();
        assert_eq!(
            p.settings("dev", "x", true, false).line(),
            "opt-level=0 debuginfo=2 debug-assertions=on overflow-checks=on panic=unwind strip=none rpath=off kind=debug"
        );
        assert_eq!(
            p.settings("release", "x", true, false).line(),
            "opt-level=3 debuginfo=0 debug-assertions=off overflow-checks=off panic=unwind strip=debuginfo rpath=off kind=release"
        );
        assert_eq!(p.settings("test", "x", true, false), p.settings("dev", "x", true, false));
        assert_eq!(p.settings("bench", "x", true, false), p.settings("release", "x", true, false));
        let host = p.settings("dev", "x", true, true);
        assert_eq!((host.opt_level.as_str(), host.debuginfo.as_str(), host.debug_assertions), ("0", "0", true));
    }

    #[test]
    fn rust_analyzers_dev_profile_resolves_per_package() {
        let p = profiles("[profile.dev]\ndebug = 1\n\n[profile.dev.package]\nrowan.opt-level = 3\n\"*\".debug = \"line-tables-only\"\n").unwrap();
        let hir = p.settings("dev", "hir", true, false);
        assert_eq!((hir.opt_level.as_str(), hir.debuginfo.as_str()), ("0", "1"));
        let rowan = p.settings("dev", "rowan", false, false);
        assert_eq!((rowan.opt_level.as_str(), rowan.debuginfo.as_str()), ("3", "line-tables-only"));
        assert!(rowan.debug_assertions, "an opt-level override keeps the profile's debug-assertions, as Cargo");
        assert_eq!(p.settings("dev", "serde", false, false).debuginfo, "line-tables-only");
        let build = p.settings("dev", "hir", true, true);
        assert_eq!(
            (build.opt_level.as_str(), build.debuginfo.as_str()),
            ("0", "0"),
            "build scripts: Cargo's host defaults"
        );
        assert_eq!(p.settings("test", "hir", true, false).debuginfo, "1", "test inherits dev");
    }

    #[test]
    fn custom_profiles_inherit_and_override() {
        let p = profiles(
            "[profile.release]\ndebug = 1\n[profile.release-lto]\ninherits = \"release\"\npanic = \"abort\"\ncodegen-units = 1\nstrip = true\nlto = true\n[profile.dev]\npanic = \"abort\"\n",
        )
        .unwrap();
        let lto = p.settings("release-lto", "rg", true, false);
        assert_eq!(
            lto.line(),
            "opt-level=3 debuginfo=1 debug-assertions=off overflow-checks=off panic=abort codegen-units=1 strip=symbols rpath=off lto=fat kind=release"
        );
        assert_eq!(
            p.settings("test", "rg", true, false).panic,
            "abort",
            "test inherits dev's panic; the rules unwind tests"
        );
        assert_eq!(
            p.lines("rg", true, false).keys().collect::<Vec<_>>(),
            ["bench", "dev", "release", "release-lto", "test"]
        );
    }

    #[test]
    fn bad_profiles_are_named() {
        let err = |text: &str| profiles(text).unwrap_err().to_string();
        assert!(err("[profile.fast]\nopt-level = 1\n").contains("[profile.fast] needs `inherits"));
        assert!(err("[profile.a]\ninherits = \"b\"\n[profile.b]\ninherits = \"a\"\n").contains("cycle"));
        assert!(err("[profile.a]\ninherits = \"nope\"\n").contains("`nope`, which is not a profile"));
        assert!(err("[profile.dev]\nopt-level = 7\n").contains("ws/Cargo.toml: `profile.dev.opt-level = 7`"));
        assert!(err("[profile.dev.package.x]\npanic = \"abort\"\n")
            .contains("`profile.dev.package.x.panic` is not allowed"));
        assert!(err("[profile.dev]\ninherits = \"release\"\n").contains("root profile"));
    }
}
