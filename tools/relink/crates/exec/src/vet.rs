//! cargo-vet audits, read to decide whether a pre-compiled crate may be taken from a remote.
//!
//! The store is cargo-vet's `supply-chain/` directory beside Cargo.lock: `audits.toml` (this
//! project's audits and criteria), `imports.lock` (audits imported from peers) and
//! `config.toml` (exemptions). A crate version is vetted for a criterion when an exemption
//! names it, a full audit names it, or a chain of delta audits leads to it from a full audit,
//! each entry certifying the criterion or one that implies it (`safe-to-deploy` implies
//! `safe-to-run`; custom criteria declare `implies`). A violation whose version requirement
//! matches wins over everything. Wildcard audits and publisher trust need crates.io's publisher
//! data and are not counted here: such crates need an audit or exemption to be accepted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Where cargo-vet keeps its files, relative to the workspace root.
pub const STORE_DIR: &str = "supply-chain";
pub use relink_core::inputs::VENDORED_MARKER;

/// One audit entry.
#[derive(Debug, Clone)]
struct Audit {
    criteria: Vec<String>,
    kind: AuditKind,
}

#[derive(Debug, Clone)]
enum AuditKind {
    Full(String),
    Delta(String, String),
    Violation(semver::VersionReq),
    Exemption(String),
}

/// The audits of a workspace's cargo-vet store.
#[derive(Debug, Default)]
pub struct VetStore {
    dir: PathBuf,
    audits: BTreeMap<String, Vec<Audit>>,
    /// Criterion -> criteria it implies directly.
    implies: BTreeMap<String, Vec<String>>,
}

impl VetStore {
    /// Read `ROOT/supply-chain/`; an absent store has no audits. Malformed files are errors
    /// that name the file and line.
    pub fn load(workspace_root: &Path) -> Result<VetStore> {
        let dir = workspace_root.join(STORE_DIR);
        let mut store = VetStore { dir: dir.clone(), ..Default::default() };
        store.implies.insert("safe-to-deploy".into(), vec!["safe-to-run".into()]);
        if let Some(audits) = read_toml(&dir.join("audits.toml"))? {
            store.add_criteria(&audits);
            store.add_audits(audits.get("audits"));
        }
        if let Some(imports) = read_toml(&dir.join("imports.lock"))? {
            for peer in imports.get("audits").and_then(|a| a.as_table()).into_iter().flat_map(|t| t.values()) {
                store.add_audits(peer.get("audits"));
            }
        }
        if let Some(config) = read_toml(&dir.join("config.toml"))? {
            for (name, entries) in config.get("exemptions").and_then(|e| e.as_table()).into_iter().flatten() {
                for e in entries.as_array().into_iter().flatten() {
                    if let Some(version) = e.get("version").and_then(|v| v.as_str()) {
                        let audit = Audit { criteria: criteria_of(e), kind: AuditKind::Exemption(version.into()) };
                        store.audits.entry(name.clone()).or_default().push(audit);
                    }
                }
            }
        }
        Ok(store)
    }

    fn add_criteria(&mut self, audits: &toml::Value) {
        for (name, c) in audits.get("criteria").and_then(|c| c.as_table()).into_iter().flatten() {
            let implied = match c.get("implies") {
                Some(toml::Value::String(s)) => vec![s.clone()],
                Some(toml::Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
                _ => Vec::new(),
            };
            self.implies.entry(name.clone()).or_default().extend(implied);
        }
    }

    fn add_audits(&mut self, table: Option<&toml::Value>) {
        for (name, entries) in table.and_then(|t| t.as_table()).into_iter().flatten() {
            for e in entries.as_array().into_iter().flatten() {
                let field = |k: &str| e.get(k).and_then(|v| v.as_str());
                let kind = if let Some(v) = field("version") {
                    AuditKind::Full(v.into())
                } else if let Some((from, to)) = field("delta").and_then(|d| d.split_once("->")) {
                    AuditKind::Delta(from.trim().into(), to.trim().into())
                } else if let Some(req) = field("violation").and_then(|v| semver::VersionReq::parse(v).ok()) {
                    AuditKind::Violation(req)
                } else {
                    continue;
                };
                self.audits.entry(name.clone()).or_default().push(Audit { criteria: criteria_of(e), kind });
            }
        }
    }

    /// Whether `criterion` is implied by `given` (reflexively, transitively).
    fn certifies(&self, given: &str, criterion: &str) -> bool {
        let mut seen = BTreeSet::new();
        let mut todo = vec![given.to_string()];
        while let Some(c) = todo.pop() {
            if c == criterion {
                return true;
            }
            if seen.insert(c.clone()) {
                todo.extend(self.implies.get(&c).into_iter().flatten().cloned());
            }
        }
        false
    }

    /// Whether `name` at `version` is vetted for `criterion`, or why not.
    pub fn check(&self, name: &str, version: &str, criterion: &str) -> std::result::Result<(), String> {
        let entries = self.audits.get(name).map(Vec::as_slice).unwrap_or_default();
        let counts = |a: &&Audit| a.criteria.iter().any(|c| self.certifies(c, criterion));
        // A violation of a weaker or a stronger criterion: either way, refuse.
        let related =
            |a: &&Audit| a.criteria.iter().any(|c| self.certifies(c, criterion) || self.certifies(criterion, c));
        let parsed = semver::Version::parse(version).ok();
        for a in entries.iter().filter(related) {
            if let (AuditKind::Violation(req), Some(v)) = (&a.kind, &parsed) {
                if req.matches(v) {
                    return Err(format!(
                        "{} records a violation of `{criterion}` for {name} {req}",
                        self.dir.join("audits.toml").display()
                    ));
                }
            }
        }
        // Versions reachable from a full audit or exemption through deltas.
        let mut vetted: BTreeSet<&str> = entries
            .iter()
            .filter(counts)
            .filter_map(|a| match &a.kind {
                AuditKind::Full(v) | AuditKind::Exemption(v) => Some(v.as_str()),
                _ => None,
            })
            .collect();
        loop {
            let before = vetted.len();
            for a in entries.iter().filter(counts) {
                if let AuditKind::Delta(from, to) = &a.kind {
                    if vetted.contains(from.as_str()) {
                        vetted.insert(to.as_str());
                    }
                }
            }
            if vetted.len() == before {
                break;
            }
        }
        if vetted.contains(version) {
            return Ok(());
        }
        Err(format!(
            "no cargo-vet audit or exemption certifies {name} {version} as `{criterion}` in {}/ (audits.toml, imports.lock, config.toml)",
            self.dir.display()
        ))
    }
}

fn criteria_of(entry: &toml::Value) -> Vec<String> {
    match entry.get("criteria") {
        Some(toml::Value::String(s)) => vec![s.clone()],
        Some(toml::Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        // cargo-vet's default criterion for audits and exemptions.
        _ => vec!["safe-to-deploy".into()],
    }
}

/// A TOML file, or `None` when it does not exist.
fn read_toml(path: &Path) -> Result<Option<toml::Value>> {
    let text = match fs_err::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let value = text.parse::<toml::Value>().map_err(|e| {
        let line = e.span().map(|s| text[..s.start].lines().count().max(1)).unwrap_or(1);
        anyhow::anyhow!("{}:{line}: {}", path.display(), e.message())
    })?;
    Ok(Some(value))
}

/// The crates.io package a target's directory holds, as `relink import` vendors it (its
/// checksum marker beside a Cargo.toml): (name, version). `None` for workspace code.
pub fn vendored_package(workspace_root: &Path, label: &str) -> Option<(String, String)> {
    let package = label.strip_prefix("//")?.split(':').next()?;
    let dir = workspace_root.join(package);
    if !dir.join(VENDORED_MARKER).is_file() {
        return None;
    }
    let manifest: toml::Value = fs_err::read_to_string(dir.join("Cargo.toml")).ok()?.parse().ok()?;
    let field = |k: &str| manifest.get("package")?.get(k)?.as_str().map(str::to_string);
    Some((field("name")?, field("version")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory for one test.
    fn scratch(name: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("relink-vet-{}-{name}", std::process::id()));
        let _ = fs_err::remove_dir_all(&root);
        fs_err::create_dir_all(root.join(STORE_DIR)).unwrap();
        root
    }

    fn store(audits: &str, imports: &str, config: &str) -> VetStore {
        let root = scratch("store");
        let dir = root.join(STORE_DIR);
        fs_err::create_dir_all(&dir).unwrap();
        fs_err::write(dir.join("audits.toml"), audits).unwrap();
        fs_err::write(dir.join("imports.lock"), imports).unwrap();
        fs_err::write(dir.join("config.toml"), config).unwrap();
        let store = VetStore::load(&root).unwrap();
        fs_err::remove_dir_all(&root).unwrap();
        store
    }

    #[test]
    fn full_audits_delta_chains_exemptions_imports_and_violations_decide() {
        let audits = r#"
[criteria.reviewed-twice]
description = "two reviewers"
implies = "safe-to-deploy"

[[audits.memchr]]
who = "A"
criteria = "safe-to-deploy"
version = "2.7.0"

[[audits.memchr]]
who = "A"
criteria = "safe-to-deploy"
delta = "2.7.0 -> 2.7.4"

[[audits.regex]]
who = "B"
criteria = "safe-to-run"
version = "1.11.1"

[[audits.log]]
who = "C"
criteria = "reviewed-twice"
version = "0.4.22"

[[audits.bad]]
who = "D"
criteria = "safe-to-run"
violation = ">=1.0.0, <1.3.0"
"#;
        let imports = r#"
[[audits.google.audits.itoa]]
who = "G"
criteria = "safe-to-deploy"
version = "1.0.14"
"#;
        let config = r#"
[[exemptions.bad]]
version = "1.2.0"
criteria = "safe-to-deploy"

[[exemptions.libc]]
version = "0.2.169"
criteria = "safe-to-run"
"#;
        let s = store(audits, imports, config);
        assert!(s.check("memchr", "2.7.0", "safe-to-deploy").is_ok());
        assert!(s.check("memchr", "2.7.4", "safe-to-deploy").is_ok(), "reached through a delta");
        assert!(s.check("memchr", "2.7.4", "safe-to-run").is_ok(), "safe-to-deploy implies safe-to-run");
        assert!(s.check("memchr", "2.7.2", "safe-to-deploy").is_err());
        assert!(s.check("regex", "1.11.1", "safe-to-run").is_ok());
        assert!(s.check("regex", "1.11.1", "safe-to-deploy").is_err(), "safe-to-run does not imply deploy");
        assert!(s.check("log", "0.4.22", "safe-to-run").is_ok(), "custom criterion implies transitively");
        assert!(s.check("itoa", "1.0.14", "safe-to-deploy").is_ok(), "imported audit");
        assert!(s.check("libc", "0.2.169", "safe-to-run").is_ok(), "exemption");
        assert!(s.check("libc", "0.2.169", "safe-to-deploy").is_err());
        let violation = s.check("bad", "1.2.0", "safe-to-run").unwrap_err();
        assert!(violation.contains("violation"), "{violation}");
        let missing = s.check("serde", "1.0.0", "safe-to-deploy").unwrap_err();
        assert!(missing.contains("serde 1.0.0") && missing.contains("supply-chain"), "{missing}");
    }

    #[test]
    fn a_malformed_store_names_file_and_line() {
        let root = scratch("malformed");
        fs_err::write(root.join("supply-chain/audits.toml"), "[[audits.x]]\nwho = \n").unwrap();
        let err = VetStore::load(&root).unwrap_err().to_string();
        fs_err::remove_dir_all(&root).unwrap();
        assert!(err.contains("supply-chain/audits.toml:2"), "{err}");
    }
}
