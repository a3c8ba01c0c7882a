//! Cargo's feature resolution for the host, over `cargo metadata`'s graph.
//!
//! `cargo metadata`'s `resolve` comes from Cargo's *dependency* resolver, which treats a weak
//! dependency feature (`"serde?/std"`) as if it activated the optional dependency: such packages
//! appear as nodes and edges, with features, although Cargo's *feature* resolver never builds
//! them (cargo issues 10801, 15784). This module runs the feature resolver's rules over the
//! declared dependencies of each package, for the host platform, and keeps only what they
//! activate:
//! - a package is built when a member reaches it through dependencies that are not optional or
//!   whose optional dependency some enabled feature activates (`dep:x`, `x/f`, or the implicit
//!   feature `x`); dev-dependencies count for members only, build-dependencies for packages
//!   with a build script only;
//! - `x?/f` enables `f` on `x` only when something else activates the optional `x` of the same
//!   package;
//! - features are unified per package (relink builds one copy of each package, as resolver "1"
//!   does; with resolver "2" Cargo may build a build-dependency twice, with fewer features each);
//! - with resolver "1" (the default before edition 2021) dependencies declared for other
//!   platforms still enable features (Cargo's `ignore_inactive_targets = false`), although only
//!   the host's are built: `cargo metadata` must then be read without `--filter-platform`.
//!
//! Members start from the features `cargo metadata` gives them (it applies `--features`,
//! `--all-features` and `--no-default-features` to the right members).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

pub use super::host::Host;
use super::metadata::{DepKind, NodeDep, Package};

/// A dependency as `Cargo.toml` declares it (`cargo metadata`'s `packages[].dependencies`).
#[derive(Deserialize, Debug, Clone)]
pub struct Declared {
    /// The package name.
    pub name: String,
    /// `package = ...` renames: the name the dependent's manifest uses.
    pub rename: Option<String>,
    #[serde(default)]
    pub optional: bool,
    /// `None` normal, `Some("build")`, `Some("dev")`.
    pub kind: Option<String>,
    /// `[target.'cfg(...)'.dependencies]`.
    pub target: Option<String>,
    #[serde(default)]
    pub features: Vec<String>,
    #[serde(default = "yes")]
    pub uses_default_features: bool,
}

fn yes() -> bool {
    true
}

impl Declared {
    /// The name features refer to it by.
    fn name_in_toml(&self) -> &str {
        self.rename.as_deref().unwrap_or(&self.name)
    }
}

/// What the feature resolver activates: per package, its active edges and its features.
pub struct Resolution {
    pub deps: HashMap<String, Vec<NodeDep>>,
    pub features: HashMap<String, Vec<String>>,
}

/// The workspace's `resolver`: "1" unifies features across platforms, "2" and "3" do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeatureResolver {
    V1,
    V2,
}

impl FeatureResolver {
    /// From the root manifest: `resolver` of `[workspace]` or `[package]`, else the edition's
    /// default (2021 and later: "2"/"3"; before, and a virtual workspace without one: "1").
    pub fn of_manifest(manifest: &std::path::Path) -> Result<FeatureResolver> {
        let value = crate::read_toml(manifest)?;
        let field = |table: &str, key: &str| value.get(table).and_then(|t| t.get(key)).and_then(|v| v.as_str());
        let resolver = field("workspace", "resolver").or_else(|| field("package", "resolver"));
        let edition = field("package", "edition").unwrap_or("2015");
        Ok(match (resolver, edition) {
            (Some("1"), _) => FeatureResolver::V1,
            (Some(_), _) => FeatureResolver::V2,
            (None, "2015" | "2018") => FeatureResolver::V1,
            (None, _) => FeatureResolver::V2,
        })
    }
}

/// Dependency kinds of one edge: normal (`None`), `build`, `dev`.
type KindSet = BTreeSet<Option<String>>;

/// One declared dependency of a package, matched to the package it resolved to.
struct Edge<'a> {
    declared: &'a Declared,
    node: &'a NodeDep,
    /// Declared for the host (`target` absent or matching): only these are built.
    host: bool,
}

struct Resolver<'a> {
    packages: &'a HashMap<String, Package>,
    edges: HashMap<&'a str, Vec<Edge<'a>>>,
    features: HashMap<&'a str, BTreeSet<String>>,
    active_optional: HashMap<&'a str, BTreeSet<String>>,
    /// `x?/f` seen before the optional `x` was activated: (package, x) -> [f].
    weak: HashMap<(&'a str, String), Vec<String>>,
    visited: HashSet<&'a str>,
}

/// The graph `resolve` works on: `cargo metadata`'s packages, resolve (id -> edges, for every
/// platform), members and their features.
pub struct Graph<'a> {
    pub packages: &'a HashMap<String, Package>,
    pub nodes: &'a HashMap<String, Vec<NodeDep>>,
    pub members: &'a [String],
    pub member_features: &'a HashMap<String, Vec<String>>,
}

/// Resolve features for the host, starting from the members with their features. Fails when
/// a resolved edge matches no declaration (the caller then keeps `cargo metadata`'s graph).
pub fn resolve(graph: &Graph<'_>, host: &Host, version: FeatureResolver) -> Result<Resolution> {
    let Graph { packages, nodes, members, member_features } = *graph;
    let mut edges = HashMap::new();
    for (id, node_deps) in nodes {
        let pkg = packages.get(id).with_context(|| format!("`cargo metadata` resolves unknown package {id}"))?;
        let is_member = members.contains(id);
        let mut matched = match_edges(pkg, node_deps, packages, is_member, host)?;
        if version == FeatureResolver::V2 {
            matched.retain(|e| e.host);
        }
        edges.insert(id.as_str(), matched);
    }
    let mut r = Resolver {
        packages,
        edges,
        features: HashMap::new(),
        active_optional: HashMap::new(),
        weak: HashMap::new(),
        visited: HashSet::new(),
    };
    for member in members {
        let Some((id, _)) = packages.get_key_value(member) else { continue };
        r.activate(id);
        for feature in member_features.get(member).into_iter().flatten() {
            r.enable(id, feature);
        }
    }
    Ok(r.finish(members))
}

/// Pair each resolved edge with the host declarations it came from.
fn match_edges<'a>(
    pkg: &'a Package,
    node_deps: &'a [NodeDep],
    packages: &HashMap<String, Package>,
    is_member: bool,
    host: &Host,
) -> Result<Vec<Edge<'a>>> {
    let mut out = Vec::new();
    for node in node_deps {
        let to = packages.get(&node.pkg).with_context(|| format!("unknown package {}", node.pkg))?;
        let mut matched = false;
        for declared in &pkg.dependencies {
            let same_name =
                declared.name == to.name && declared.rename.as_ref().is_none_or(|r| r.replace('-', "_") == node.name);
            let kind_listed = node.dep_kinds.iter().any(|k| k.kind == declared.kind);
            if !same_name || !kind_listed {
                continue;
            }
            matched = true;
            let used = match declared.kind.as_deref() {
                Some("dev") => is_member,
                // Without a build script nothing uses build-dependencies, and Cargo builds none.
                Some("build") => pkg.build_script().is_some(),
                _ => true,
            };
            if used {
                out.push(Edge { declared, node, host: host.matches(declared.target.as_deref()) });
            }
        }
        if !matched {
            bail!("{}: resolved dependency `{}` ({}) matches no declaration", pkg.name, node.name, node.pkg);
        }
    }
    Ok(out)
}

impl<'a> Resolver<'a> {
    /// First activation of a package: its non-optional dependencies.
    fn activate(&mut self, id: &'a str) {
        if !self.visited.insert(id) {
            return;
        }
        self.features.entry(id).or_default();
        let required: Vec<usize> = self.edges_of(id, |e| !e.declared.optional);
        for i in required {
            self.activate_edge(id, i);
        }
    }

    fn edges_of(&self, id: &str, keep: impl Fn(&Edge<'a>) -> bool) -> Vec<usize> {
        let edges = self.edges.get(id).map(Vec::as_slice).unwrap_or(&[]);
        (0..edges.len()).filter(|&i| keep(&edges[i])).collect()
    }

    fn edge(&self, id: &str, i: usize) -> (&'a Declared, &'a str) {
        let edge = &self.edges[id][i];
        let to = self.packages.get_key_value(&edge.node.pkg).expect("matched packages exist").0;
        (edge.declared, to.as_str())
    }

    /// Build the edge's package with the features the declaration asks for.
    fn activate_edge(&mut self, id: &'a str, i: usize) {
        let (declared, to) = self.edge(id, i);
        self.activate(to);
        if declared.uses_default_features {
            self.enable(to, "default");
        }
        for f in &declared.features {
            self.enable_value(to, f);
        }
    }

    /// Enable feature `f` of a package (a name that is neither a feature nor an optional
    /// dependency, such as `default` of a package without one, enables nothing).
    fn enable(&mut self, id: &'a str, f: &str) {
        let pkg = &self.packages[id];
        let values = pkg.features.get(f);
        let implicit = values.is_none()
            && !self.edges_of(id, |e| e.declared.optional && e.declared.name_in_toml() == f).is_empty();
        if values.is_none() && !implicit {
            return;
        }
        if !self.features.entry(id).or_default().insert(f.to_string()) {
            return;
        }
        match values {
            Some(values) => {
                for v in values {
                    self.enable_value(id, v);
                }
            }
            // An implicit feature `cargo metadata` did not list: the optional dependency itself.
            None => self.enable_optional(id, f),
        }
    }

    /// One value of a feature's list: `dep:x`, `x/f`, `x?/f` or another feature.
    fn enable_value(&mut self, id: &'a str, value: &str) {
        if let Some(dep) = value.strip_prefix("dep:") {
            self.enable_optional(id, dep);
        } else if let Some((dep, f)) = value.split_once("?/") {
            if self.optional_active(id, dep) {
                self.enable_on_dep(id, dep, f);
            } else {
                self.weak.entry((id, dep.to_string())).or_default().push(f.to_string());
            }
        } else if let Some((dep, f)) = value.split_once('/') {
            let optional = !self.edges_of(id, |e| e.declared.optional && e.declared.name_in_toml() == dep).is_empty();
            if optional {
                if self.packages[id].features.contains_key(dep) {
                    self.enable(id, dep);
                }
                self.enable_optional(id, dep);
            }
            self.enable_on_dep(id, dep, f);
        } else {
            self.enable(id, value);
        }
    }

    /// Activate the optional dependency `dep` (its name in the manifest) of a package.
    fn enable_optional(&mut self, id: &'a str, dep: &str) {
        if !self.active_optional.entry(id).or_default().insert(dep.to_string()) {
            return;
        }
        for i in self.edges_of(id, |e| e.declared.optional && e.declared.name_in_toml() == dep) {
            self.activate_edge(id, i);
        }
        for f in self.weak.remove(&(id, dep.to_string())).unwrap_or_default() {
            self.enable_on_dep(id, dep, &f);
        }
    }

    /// Enable `f` on the active dependencies named `dep`.
    fn enable_on_dep(&mut self, id: &'a str, dep: &str, f: &str) {
        let targets = self.edges_of(id, |e| e.declared.name_in_toml() == dep && self.is_active(id, e));
        for i in targets {
            let (_, to) = self.edge(id, i);
            self.activate(to);
            self.enable_value(to, f);
        }
    }

    /// Whether the optional dependency `dep` (its name in the manifest) of a package is active.
    fn optional_active(&self, id: &str, dep: &str) -> bool {
        self.active_optional.get(id).is_some_and(|a| a.contains(dep))
    }

    fn is_active(&self, id: &str, edge: &Edge<'_>) -> bool {
        !edge.declared.optional || self.optional_active(id, edge.declared.name_in_toml())
    }

    /// The packages members reach through active host edges, each with its active host edges
    /// (and the dependency kinds they have) and its features.
    fn finish(self, members: &[String]) -> Resolution {
        let mut deps = HashMap::new();
        let mut queue: Vec<&str> = members.iter().map(String::as_str).filter(|m| self.visited.contains(m)).collect();
        while let Some(id) = queue.pop() {
            if deps.contains_key(id) {
                continue;
            }
            // (extern name, package) -> the edge and the kinds it is active as.
            let mut kinds: BTreeMap<(String, String), (NodeDep, KindSet)> = BTreeMap::new();
            for edge in self.edges.get(id).into_iter().flatten().filter(|e| e.host && self.is_active(id, e)) {
                let key = (edge.node.name.clone(), edge.node.pkg.clone());
                let entry = kinds.entry(key).or_insert_with(|| (edge.node.clone(), BTreeSet::new()));
                entry.1.insert(edge.declared.kind.clone());
            }
            let active: Vec<NodeDep> = kinds
                .into_values()
                .map(|(mut node, kinds)| {
                    node.dep_kinds = kinds.into_iter().map(|kind| DepKind { kind }).collect();
                    node
                })
                .collect();
            queue.extend(
                active
                    .iter()
                    .map(|d| d.pkg.as_str())
                    .filter_map(|p| self.packages.get_key_value(p))
                    .map(|(k, _)| k.as_str()),
            );
            deps.insert(id.to_string(), active);
        }
        let features = self
            .features
            .into_iter()
            .filter(|(id, _)| deps.contains_key(*id))
            .map(|(id, f)| (id.to_string(), f.into_iter().collect()))
            .collect();
        Resolution { deps, features }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A package `name` 1.0.0 with its declarations and features; `build_script` adds a
    /// custom-build target.
    fn package(name: &str, deps: serde_json::Value, features: serde_json::Value, build_script: bool) -> Package {
        let mut targets = vec![json!({"name": name, "kind": ["lib"], "src_path": "/p/src/lib.rs", "edition": "2021"})];
        if build_script {
            targets.push(json!({"name": "build-script-build", "kind": ["custom-build"], "src_path": "/p/build.rs", "edition": "2021"}));
        }
        serde_json::from_value(json!({
            "id": id(name), "name": name, "version": "1.0.0", "source": null,
            "manifest_path": format!("/{name}/Cargo.toml"), "links": null, "targets": targets,
            "dependencies": deps, "features": features,
        }))
        .unwrap()
    }

    fn id(name: &str) -> String {
        format!("{name}@1.0.0")
    }

    /// A declaration `{"name": .., "optional": .., ..}` with defaults filled in.
    fn dep(name: &str, extra: serde_json::Value) -> serde_json::Value {
        let mut d = json!({"name": name, "rename": null, "optional": false, "kind": null, "target": null,
            "features": [], "uses_default_features": true});
        for (k, v) in extra.as_object().unwrap() {
            d[k] = v.clone();
        }
        d
    }

    /// The resolved edge `from -> to` as `cargo metadata` lists it (for every declared kind).
    fn node(to: &str, kinds: &[Option<&str>]) -> NodeDep {
        serde_json::from_value(json!({"name": to.replace('-', "_"), "pkg": id(to),
            "dep_kinds": kinds.iter().map(|k| json!({"kind": k, "target": null})).collect::<Vec<_>>()}))
        .unwrap()
    }

    fn host() -> Host {
        Host::new("x86_64-unknown-linux-gnu".into(), "unix\ntarget_os=\"linux\"\ntarget_arch=\"x86_64\"\n").unwrap()
    }

    /// Resolve `packages` with `edges` (from, to, kinds) from member `app` with `app_features`.
    fn run(
        packages: Vec<Package>,
        edges: &[(&str, &str, &[Option<&str>])],
        app_features: &[&str],
        version: FeatureResolver,
    ) -> Resolution {
        let packages: HashMap<String, Package> = packages.into_iter().map(|p| (p.id.clone(), p)).collect();
        let mut nodes: HashMap<String, Vec<NodeDep>> = packages.keys().map(|k| (k.clone(), Vec::new())).collect();
        for (from, to, kinds) in edges {
            nodes.get_mut(&id(from)).unwrap().push(node(to, kinds));
        }
        let members = vec![id("app")];
        let member_features = HashMap::from([(id("app"), app_features.iter().map(|f| f.to_string()).collect())]);
        let graph = Graph { packages: &packages, nodes: &nodes, members: &members, member_features: &member_features };
        resolve(&graph, &host(), version).unwrap()
    }

    fn features(r: &Resolution, name: &str) -> Vec<String> {
        r.features.get(&id(name)).cloned().unwrap_or_default()
    }

    /// app -> bstr (default: std = ["serde?/std"]) with serde optional: serde is in `cargo
    /// metadata`'s graph but not built; once bstr's `serde` feature is on, it is, with std.
    #[test]
    fn weak_dependency_features_do_not_activate_the_dependency() {
        let bstr = || {
            package(
                "bstr",
                json!([dep("serde", json!({"optional": true}))]),
                json!({"default": ["std"], "std": ["serde?/std"], "serde": ["dep:serde"]}),
                false,
            )
        };
        let serde = || package("serde", json!([]), json!({"std": []}), false);
        let app = |features: serde_json::Value| {
            package("app", json!([dep("bstr", json!({"features": features}))]), json!({}), false)
        };
        let edges: &[(&str, &str, &[Option<&str>])] = &[("app", "bstr", &[None]), ("bstr", "serde", &[None])];

        let r = run(vec![app(json!([])), bstr(), serde()], edges, &[], FeatureResolver::V2);
        assert!(!r.deps.contains_key(&id("serde")), "serde is built");
        assert!(r.deps[&id("bstr")].is_empty());
        assert_eq!(features(&r, "bstr"), ["default", "std"]);

        let r = run(vec![app(json!(["serde"])), bstr(), serde()], edges, &[], FeatureResolver::V2);
        assert_eq!(r.deps[&id("bstr")].len(), 1);
        assert_eq!(features(&r, "serde"), ["std"]);
    }

    /// `x/f` activates an optional `x` (and its implicit feature); `dep:x` hides the implicit one.
    #[test]
    fn dependency_features_activate_optional_dependencies() {
        let lib = package(
            "lib",
            json!([dep("x", json!({"optional": true})), dep("y", json!({"optional": true}))]),
            json!({"fx": ["x/f"], "x": ["dep:x"], "fy": ["dep:y"]}),
            false,
        );
        let x = package("x", json!([]), json!({"f": []}), false);
        let y = package("y", json!([]), json!({}), false);
        let app = package("app", json!([dep("lib", json!({"features": ["fx"]}))]), json!({}), false);
        let edges: &[(&str, &str, &[Option<&str>])] =
            &[("app", "lib", &[None]), ("lib", "x", &[None]), ("lib", "y", &[None])];
        let r = run(vec![app, lib, x, y], edges, &[], FeatureResolver::V2);
        assert_eq!(features(&r, "lib"), ["fx", "x"]);
        assert_eq!(features(&r, "x"), ["f"]);
        assert!(!r.deps.contains_key(&id("y")));
    }

    /// Build-dependencies of a package without a build script, and dev-dependencies of a
    /// package that is not a member, are not built (Cargo builds neither).
    #[test]
    fn unused_build_and_dev_dependencies_are_not_built() {
        let meta = package(
            "meta",
            json!([dep("sha2", json!({"kind": "build"})), dep("quickcheck", json!({"kind": "dev"}))]),
            json!({}),
            false,
        );
        let app =
            package("app", json!([dep("meta", json!({})), dep("insta", json!({"kind": "dev"}))]), json!({}), false);
        let leaf = |n: &str| package(n, json!([]), json!({}), false);
        let edges: &[(&str, &str, &[Option<&str>])] = &[
            ("app", "meta", &[None]),
            ("app", "insta", &[Some("dev")]),
            ("meta", "sha2", &[Some("build")]),
            ("meta", "quickcheck", &[Some("dev")]),
        ];
        let r = run(vec![app, meta, leaf("sha2"), leaf("quickcheck"), leaf("insta")], edges, &[], FeatureResolver::V2);
        assert!(r.deps.contains_key(&id("insta")), "a member's dev-dependency is built");
        assert!(!r.deps.contains_key(&id("sha2")) && !r.deps.contains_key(&id("quickcheck")));

        let with_script = package("meta", json!([dep("sha2", json!({"kind": "build"}))]), json!({}), true);
        let app = package("app", json!([dep("meta", json!({}))]), json!({}), false);
        let r = run(
            vec![app, with_script, leaf("sha2")],
            &edges[..1].iter().chain(&edges[2..3]).cloned().collect::<Vec<_>>(),
            &[],
            FeatureResolver::V2,
        );
        assert!(r.deps.contains_key(&id("sha2")), "a build script's dependency is built");
    }

    /// Resolver "1": a dependency declared for another platform still enables features (on a
    /// package the host builds) but is not built itself; resolver "2" ignores it.
    #[test]
    fn resolver_one_unifies_features_of_other_platforms() {
        let app = package(
            "app",
            json!([dep("syn", json!({})), dep("wasm-macro", json!({"target": "cfg(target_arch = \"wasm32\")"}))]),
            json!({}),
            false,
        );
        let wasm = package("wasm-macro", json!([dep("syn", json!({"features": ["full"]}))]), json!({}), false);
        let syn = package("syn", json!([]), json!({"default": [], "full": []}), false);
        let edges: &[(&str, &str, &[Option<&str>])] =
            &[("app", "syn", &[None]), ("app", "wasm-macro", &[None]), ("wasm-macro", "syn", &[None])];
        let v1 = run(vec![app.clone(), wasm.clone(), syn.clone()], edges, &[], FeatureResolver::V1);
        assert_eq!(features(&v1, "syn"), ["default", "full"]);
        assert!(!v1.deps.contains_key(&id("wasm-macro")));
        let v2 = run(vec![app, wasm, syn], edges, &[], FeatureResolver::V2);
        assert_eq!(features(&v2, "syn"), ["default"]);
    }

    /// A package without a `default` feature gets no `default` (it would become a `--cfg`).
    #[test]
    fn features_that_do_not_exist_are_not_enabled() {
        let app = package("app", json!([dep("leaf", json!({"features": ["f"]}))]), json!({}), false);
        let leaf = package("leaf", json!([]), json!({"f": []}), false);
        let r = run(vec![app, leaf], &[("app", "leaf", &[None])], &[], FeatureResolver::V2);
        assert_eq!(features(&r, "leaf"), ["f"]);
    }

    #[test]
    fn the_resolver_follows_the_root_manifest() {
        let dir = std::env::temp_dir().join(format!("relink-resolver-{}", std::process::id()));
        fs_err::create_dir_all(&dir).unwrap();
        let manifest = dir.join("Cargo.toml");
        let cases = [
            ("[package]\nname = \"a\"\nedition = \"2018\"\n", FeatureResolver::V1),
            ("[package]\nname = \"a\"\nedition = \"2021\"\n", FeatureResolver::V2),
            ("[package]\nname = \"a\"\nedition = \"2018\"\nresolver = \"2\"\n", FeatureResolver::V2),
            ("[workspace]\nmembers = [\"a\"]\n", FeatureResolver::V1),
            ("[workspace]\nmembers = [\"a\"]\nresolver = \"3\"\n", FeatureResolver::V2),
        ];
        for (text, expected) in cases {
            fs_err::write(&manifest, text).unwrap();
            assert_eq!(FeatureResolver::of_manifest(&manifest).unwrap(), expected, "{text}");
        }
        fs_err::remove_dir_all(&dir).unwrap();
    }
}
