//! The parts of `cargo metadata --format-version 1` the importer uses.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use super::resolve::{Declared, FeatureResolver, Graph, Host};

/// A package of the resolved graph.
#[derive(Deserialize, Debug, Clone)]
pub struct Package {
    pub id: String,
    pub name: String,
    pub version: String,
    pub source: Option<String>,
    pub manifest_path: PathBuf,
    pub links: Option<String>,
    pub targets: Vec<Target>,
    #[serde(default)]
    pub authors: Vec<String>,
    pub description: Option<String>,
    pub license: Option<String>,
    pub repository: Option<String>,
    pub homepage: Option<String>,
    pub license_file: Option<String>,
    pub readme: Option<String>,
    pub rust_version: Option<String>,
    /// Dependencies as the manifest declares them (every platform and kind).
    #[serde(default)]
    pub dependencies: Vec<Declared>,
    /// The `[features]` table (with implicit features of optional dependencies).
    #[serde(default)]
    pub features: BTreeMap<String, Vec<String>>,
}

impl Package {
    /// The package directory.
    pub fn dir(&self) -> &Path {
        self.manifest_path.parent().expect("manifest in a directory")
    }

    /// The library target (lib or proc-macro), if any.
    pub fn lib(&self) -> Option<&Target> {
        self.targets.iter().find(|t| t.is_lib() || t.is_proc_macro())
    }

    /// The build script target, if any.
    pub fn build_script(&self) -> Option<&Target> {
        self.targets.iter().find(|t| t.kind.iter().any(|k| k == "custom-build"))
    }

    /// Whether it comes from a registry.
    pub fn is_registry(&self) -> bool {
        self.source.as_deref().is_some_and(|s| s.starts_with("registry+") || s.starts_with("sparse+"))
    }
}

/// A target of a package.
#[derive(Deserialize, Debug, Clone)]
pub struct Target {
    pub name: String,
    pub kind: Vec<String>,
    pub src_path: PathBuf,
    pub edition: String,
    #[serde(default)]
    pub required_features: Vec<String>,
    #[serde(default = "yes")]
    pub test: bool,
    /// Whether `cargo test` runs the target's documentation tests (`[lib] doctest`).
    #[serde(default)]
    pub doctest: bool,
    /// `bin`, `lib`, ... (an example may be a library).
    #[serde(default)]
    pub crate_types: Vec<String>,
}

fn yes() -> bool {
    true
}

impl Target {
    /// A `lib`/`rlib` library.
    pub fn is_lib(&self) -> bool {
        self.kind.iter().any(|k| k == "lib" || k == "rlib")
    }
    /// A proc-macro library.
    pub fn is_proc_macro(&self) -> bool {
        self.kind.iter().any(|k| k == "proc-macro")
    }
    /// Whether the target has the given kind.
    pub fn has_kind(&self, kind: &str) -> bool {
        self.kind.iter().any(|k| k == kind)
    }
}

/// A resolved dependency edge.
#[derive(Deserialize, Debug, Clone)]
pub struct NodeDep {
    /// Extern crate name as the dependent uses it (renames applied).
    pub name: String,
    pub pkg: String,
    pub dep_kinds: Vec<DepKind>,
}

/// Kind of a dependency edge: normal (`None`), `build` or `dev`.
#[derive(Deserialize, Debug, Clone, PartialEq)]
pub struct DepKind {
    pub kind: Option<String>,
}

#[derive(Deserialize, Debug)]
struct Node {
    id: String,
    deps: Vec<NodeDep>,
    features: Vec<String>,
}

#[derive(Deserialize, Debug)]
struct Resolve {
    nodes: Vec<Node>,
}

#[derive(Deserialize, Debug)]
struct Raw {
    packages: Vec<Package>,
    workspace_members: Vec<String>,
    workspace_root: PathBuf,
    resolve: Resolve,
}

/// `cargo metadata` JSON, for every platform or filtered to one.
fn cargo_metadata(manifest: &Path, feature_flags: &[String], platform: Option<&str>) -> Result<Vec<u8>> {
    let mut cmd = Command::new("cargo");
    cmd.args(["metadata", "--format-version", "1"]);
    if let Some(triple) = platform {
        cmd.args(["--filter-platform", triple]);
    }
    let out = cmd
        .args(feature_flags)
        .arg("--manifest-path")
        .arg(manifest)
        .output()
        .context("cannot run `cargo metadata` (is cargo installed?)")?;
    if !out.status.success() {
        bail!("`cargo metadata` failed for {}:\n{}", manifest.display(), String::from_utf8_lossy(&out.stderr));
    }
    Ok(out.stdout)
}

/// The resolved graph.
pub struct Metadata {
    pub packages: HashMap<String, Package>,
    pub members: Vec<String>,
    /// The directory of the workspace's root manifest (`[workspace.lints]`).
    pub workspace_root: PathBuf,
    deps: HashMap<String, Vec<NodeDep>>,
    features: HashMap<String, Vec<String>>,
}

impl Metadata {
    /// Run `cargo metadata` for `manifest` with Cargo's feature flags (`--features`,
    /// `--all-features`, `--no-default-features`) and keep what Cargo's feature resolver
    /// builds for the host (see `resolve`). When the graph cannot be matched to the manifests,
    /// `cargo metadata`'s host graph is kept, with a warning: more crates may be built than
    /// Cargo builds, none is missing.
    pub fn load(manifest: &Path, feature_flags: &[String]) -> Result<Metadata> {
        let version = FeatureResolver::of_manifest(manifest)?;
        // With resolver "2" dependencies for other platforms enable nothing, so `cargo metadata`
        // may leave them out: it then neither resolves nor downloads them (a musl-only
        // allocator crate, a Windows API crate), which Cargo's own build never fetches either.
        // Resolver "1" needs them all (see `resolve`). The host's cfgs and `cargo metadata`
        // run side by side: each is mostly process start-up.
        let triple = match version {
            FeatureResolver::V2 => Some(Host::probe_triple()?),
            FeatureResolver::V1 => None,
        };
        let (host, metadata) = std::thread::scope(|s| {
            let host = s.spawn(|| match &triple {
                Some(triple) => Host::probe_cfg(triple.clone()),
                None => Host::probe(),
            });
            let metadata = cargo_metadata(manifest, feature_flags, triple.as_deref());
            (host.join().expect("the host probe does not panic"), metadata)
        });
        let host = host?;
        let mut meta = Self::parse(&metadata?)?;
        let graph = Graph {
            packages: &meta.packages,
            nodes: &meta.deps,
            members: &meta.members,
            member_features: &meta.features,
        };
        match super::resolve::resolve(&graph, &host, version) {
            Ok(resolution) => {
                meta.deps = resolution.deps;
                meta.features = resolution.features;
                Ok(meta)
            }
            Err(e) => {
                eprintln!(
                    "relink import: warning: {e:#}; using `cargo metadata`'s graph (it may list crates Cargo does not build)"
                );
                Self::parse(&cargo_metadata(manifest, feature_flags, Some(&host.triple))?)
            }
        }
    }

    /// Parse `cargo metadata` JSON.
    pub fn parse(json: &[u8]) -> Result<Metadata> {
        let raw: Raw = serde_json::from_slice(json).context("unexpected `cargo metadata` output")?;
        let mut deps = HashMap::new();
        let mut features = HashMap::new();
        for node in raw.resolve.nodes {
            deps.insert(node.id.clone(), node.deps);
            features.insert(node.id, node.features);
        }
        let packages = raw.packages.into_iter().map(|p| (p.id.clone(), p)).collect();
        Ok(Metadata { packages, members: raw.workspace_members, workspace_root: raw.workspace_root, deps, features })
    }

    /// Packages in the resolved graph that are not workspace members, sorted by name.
    pub fn third_party(&self) -> Vec<&Package> {
        let mut v: Vec<&Package> =
            self.packages.values().filter(|p| self.deps.contains_key(&p.id) && !self.members.contains(&p.id)).collect();
        v.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
        v
    }

    /// Workspace members.
    pub fn members(&self) -> Vec<&Package> {
        self.members.iter().filter_map(|id| self.packages.get(id)).collect()
    }

    /// Resolved features of a package.
    pub fn features(&self, pkg: &Package) -> Vec<String> {
        let mut f = self.features.get(&pkg.id).cloned().unwrap_or_default();
        f.sort();
        f
    }

    /// Dependencies of `pkg` of one kind (`None` normal, `Some("build")`, `Some("dev")`).
    pub fn deps_of(&self, pkg: &Package, kind: Option<&str>) -> Vec<(&NodeDep, &Package)> {
        let mut out: Vec<(&NodeDep, &Package)> = self
            .deps
            .get(&pkg.id)
            .map(|v| v.as_slice())
            .unwrap_or(&[])
            .iter()
            .filter(|d| d.dep_kinds.iter().any(|k| k.kind.as_deref() == kind))
            .filter_map(|d| self.packages.get(&d.pkg).map(|p| (d, p)))
            .collect();
        out.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        out
    }
}
