//! Toolchain resolution, as Bazel does it: a rule names toolchain types
//! (`rule(toolchains = [...])`); for each, the first registered `toolchain()` whose
//! `toolchain_type` matches and whose `target_compatible_with` / `exec_compatible_with`
//! the target and host platforms satisfy is chosen, and its implementation's
//! `platform_common.ToolchainInfo` becomes `ctx.toolchains[TYPE]`.
//!
//! Registrations come, in Bazel's order, from `--extra_toolchains`, then the workspace's own
//! `register_toolchains(...)` calls (root `MODULE.bazel`, then `WORKSPACE`), then the
//! toolchain relink provides (`@relink_toolchain//:all`, registered by rules_relink's own
//! `MODULE.bazel` and by `relink_register_toolchains()` for Bazel).

use std::path::Path;
use std::rc::Rc;

use anyhow::{bail, Context, Result};
use relink_rule_api::sl::SlResult;
use starlark::syntax::ast::{ArgumentP, AstLiteral, AstStmt, ExprP, StmtP};
use starlark::syntax::{AstModule, Dialect};
use starlark::values::dict::DictRef;
use starlark::values::list::ListRef;

use relink_core::label::Label;
use relink_loading::{Loader, TargetDecl};

/// The toolchains relink registers after the workspace's own: the Rust toolchain and the
/// host's C++ toolchain.
pub const DEFAULT_REGISTRATIONS: &[&str] = &["@relink_toolchain//:all", "@bazel_tools//tools/cpp:all"];

/// A platform as a set of constraint values, each with its setting.
#[derive(Clone, Debug)]
pub struct Platform {
    /// Label of the `platform()` target, or `host`.
    pub name: String,
    /// (setting, value) pairs.
    pub constraints: Vec<(Label, Label)>,
}

/// The registered `toolchain()` patterns of a workspace, in registration order, read from the
/// top-level `register_toolchains("...")` calls of its `MODULE.bazel` and `WORKSPACE`.
pub fn workspace_registrations(root: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for file in ["MODULE.bazel", "WORKSPACE.bazel", "WORKSPACE"] {
        let path = root.join(file);
        if !path.is_file() || (file == "WORKSPACE" && root.join("WORKSPACE.bazel").is_file()) {
            continue;
        }
        let text = fs_err::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        for label in registrations_in(&path.display().to_string(), &text)? {
            if !out.contains(&label) {
                out.push(label);
            }
        }
    }
    Ok(out)
}

/// The string arguments of top-level `register_toolchains(...)` calls in one file.
fn registrations_in(file: &str, text: &str) -> Result<Vec<String>> {
    let ast = AstModule::parse(file, text.to_string(), &Dialect::Extended).anyhow()?;
    let mut out = Vec::new();
    for stmt in top_level(ast.statement()) {
        let StmtP::Expression(expr) = &stmt.node else { continue };
        let ExprP::Call(callee, args) = &expr.node else { continue };
        if !matches!(&callee.node, ExprP::Identifier(id) if id.node.ident == "register_toolchains") {
            continue;
        }
        for arg in &args.args {
            match &arg.node {
                ArgumentP::Positional(e) => match &e.node {
                    ExprP::Literal(AstLiteral::String(s)) => out.push(s.node.clone()),
                    _ => bail!(
                        "{}: relink reads register_toolchains() arguments only as string literals; write the labels out",
                        ast.file_span(e.span)
                    ),
                },
                // Bazel's `dev_dependency = True` (bzlmod) changes nothing for the root module.
                ArgumentP::Named(..) => {}
                _ => bail!("{}: register_toolchains(*args) is not supported by relink", ast.file_span(arg.span)),
            }
        }
    }
    Ok(out)
}

fn top_level(stmt: &AstStmt) -> Vec<&AstStmt> {
    match &stmt.node {
        StmtP::Statements(list) => list.iter().collect(),
        _ => vec![stmt],
    }
}

/// The platform relink builds on (the exec platform, and the target platform unless
/// `--platforms` names another): `@platforms//os:<os>` and `@platforms//cpu:<cpu>`.
pub fn host_constraint_values() -> Vec<String> {
    vec![format!("@platforms//os:{}", host_os()), format!("@platforms//cpu:{}", host_cpu())]
}

/// `@platforms`' name of this machine's operating system.
pub fn host_os() -> &'static str {
    match std::env::consts::OS {
        "macos" => "osx",
        other => other,
    }
}

/// `@platforms`' name of this machine's CPU.
pub fn host_cpu() -> &'static str {
    match std::env::consts::ARCH {
        "x86" => "x86_32",
        "powerpc64" => "ppc",
        other => other,
    }
}

/// Reading platforms, constraints and toolchain declarations through the loader.
pub struct Resolver<'l> {
    pub loader: &'l Loader,
}

impl Resolver<'_> {
    fn decl(&self, label: &Label, kind: &str, what: &str) -> Result<Rc<relink_loading::Package>> {
        let repo = self.loader.workspace.canonical_repo(&label.repo);
        let pkg = self.loader.package(repo, &label.package)?;
        match pkg.targets.get(&label.name) {
            Some(d) if d.kind == kind => Ok(pkg.clone()),
            Some(d) => bail!("{what} `{label}` is a {}, not a {kind}()", d.kind),
            None => bail!("{what} `{label}`: no {kind}() of that name in {}", pkg.build_file),
        }
    }

    pub fn canonical(&self, label: &Label) -> Label {
        Label { repo: self.loader.workspace.canonical_repo(&label.repo).to_string(), ..label.clone() }
    }

    /// The setting a `constraint_value()` belongs to.
    fn setting_of(&self, value: &Label) -> Result<Label> {
        let pkg = self.decl(value, "constraint_value", "constraint")?;
        let decl = &pkg.targets[&value.name];
        let setting = string_attr(decl, "constraint_setting").unwrap_or_default();
        Ok(self.canonical(&Label::parse(&setting, &package_of(decl))?))
    }

    /// The default value of a `constraint_setting()`, if it has one.
    fn default_of(&self, setting: &Label) -> Result<Option<Label>> {
        let pkg = self.decl(setting, "constraint_setting", "constraint setting")?;
        let decl = &pkg.targets[&setting.name];
        match string_attr(decl, "default_constraint_value").filter(|v| !v.is_empty()) {
            Some(v) => Ok(Some(self.canonical(&Label::parse(&v, &package_of(decl))?))),
            None => Ok(None),
        }
    }

    /// A platform from constraint value labels.
    pub fn platform_of_values(&self, name: &str, values: &[String], base: &Label) -> Result<Platform> {
        let mut constraints = Vec::new();
        for v in values {
            let value = self.canonical(&Label::parse(v, base)?);
            let setting = self.setting_of(&value).with_context(|| format!("platform {name}"))?;
            constraints.retain(|(s, _): &(Label, Label)| s != &setting);
            constraints.push((setting, value));
        }
        Ok(Platform { name: name.to_string(), constraints })
    }

    /// The host platform.
    pub fn host(&self) -> Result<Platform> {
        self.platform_of_values("host", &host_constraint_values(), &Label::package_base("", ""))
    }

    /// A `platform()` target (its `parents` first, then its own values).
    pub fn platform(&self, label: &Label) -> Result<Platform> {
        let label = self.canonical(label);
        let pkg = self.decl(&label, "platform", "platform")?;
        let decl = &pkg.targets[&label.name];
        let base = package_of(decl);
        let mut values = Vec::new();
        for parent in list_attr(decl, "parents") {
            let parent = self.platform(&Label::parse(&parent, &base)?)?;
            values.extend(parent.constraints.into_iter().map(|(_, v)| v.to_string()));
        }
        values.extend(
            list_attr(decl, "constraint_values")
                .into_iter()
                .map(|v| Label::parse(&v, &base).map(|l| l.to_string()).unwrap_or(v)),
        );
        self.platform_of_values(&label.to_string(), &values, &Label::package_base("", ""))
    }

    /// Whether `platform` has constraint `value` (or leaves its setting at that default).
    pub fn satisfies(&self, platform: &Platform, value: &Label) -> Result<bool> {
        if platform.constraints.iter().any(|(_, v)| v == value) {
            return Ok(true);
        }
        let setting = self.setting_of(value)?;
        if platform.constraints.iter().any(|(s, _)| s == &setting) {
            return Ok(false);
        }
        Ok(self.default_of(&setting)?.as_ref() == Some(value))
    }

    /// The `toolchain()` targets a registration pattern names, in order.
    fn expand(&self, pattern: &str) -> Result<Vec<Label>> {
        let root = Label::package_base("", "");
        if let Some(pkg) = pattern.strip_suffix(":all").or_else(|| pattern.strip_suffix(":*")) {
            let base = Label::parse(&format!("{pkg}:__pkg__"), &root)?;
            let repo = self.loader.workspace.canonical_repo(&base.repo).to_string();
            let package = self.loader.package(&repo, &base.package)?;
            return Ok(package
                .targets
                .values()
                .filter(|d| d.kind == "toolchain")
                .map(|d| self.canonical(&d.label))
                .collect());
        }
        if let Some(dir) = pattern.strip_suffix("/...") {
            if dir.starts_with('@') {
                bail!("registered toolchains `{pattern}`: relink expands `/...` in the main repository only");
            }
            let mut out = Vec::new();
            for package in self.loader.workspace.packages_under(dir.trim_start_matches("//"))? {
                out.extend(self.expand(&format!("//{package}:all"))?);
            }
            return Ok(out);
        }
        let label = self.canonical(&Label::parse(pattern, &root)?);
        self.decl(&label, "toolchain", "registered toolchain")?;
        Ok(vec![label])
    }

    /// The implementation target of the first registered toolchain of `toolchain_type` that
    /// `target` and `exec` satisfy; the error lists every candidate and why it did not match.
    pub fn resolve(
        &self,
        toolchain_type: &Label,
        registrations: &[String],
        target: &Platform,
        exec: &Platform,
        setting_matches: &dyn Fn(&Label) -> Result<bool>,
    ) -> Result<Label> {
        let wanted = self.canonical(toolchain_type);
        let mut skipped = Vec::new();
        for pattern in registrations {
            let candidates = self.expand(pattern).with_context(|| format!("registered toolchains `{pattern}`"))?;
            for candidate in candidates {
                let pkg = self.decl(&candidate, "toolchain", "registered toolchain")?;
                let decl = &pkg.targets[&candidate.name];
                let base = package_of(decl);
                let ty =
                    self.canonical(&Label::parse(&string_attr(decl, "toolchain_type").unwrap_or_default(), &base)?);
                if ty != wanted {
                    continue;
                }
                let why = self.mismatch(decl, &base, target, exec, setting_matches)?;
                match why {
                    None => {
                        let implementation = string_attr(decl, "toolchain").unwrap_or_default();
                        return Ok(self.canonical(&Label::parse(&implementation, &base)?));
                    }
                    Some(why) => skipped.push(format!("  {candidate}: {why}")),
                }
            }
        }
        let considered = if skipped.is_empty() {
            "  (no toolchain of this type is registered)".to_string()
        } else {
            skipped.join("\n")
        };
        bail!(
            "no toolchain of type {wanted} matches target platform {} and exec platform {}:\n{considered}\n\
             register one with register_toolchains(\"//pkg:name\") in MODULE.bazel or WORKSPACE, or pass --extra_toolchains",
            target.name,
            exec.name
        )
    }

    fn mismatch(
        &self,
        decl: &TargetDecl,
        base: &Label,
        target: &Platform,
        exec: &Platform,
        setting_matches: &dyn Fn(&Label) -> Result<bool>,
    ) -> Result<Option<String>> {
        for (attr, platform) in [("target_compatible_with", target), ("exec_compatible_with", exec)] {
            for value in list_attr(decl, attr) {
                let value = self.canonical(&Label::parse(&value, base)?);
                if !self.satisfies(platform, &value).with_context(|| format!("{}: {attr}", decl.location))? {
                    return Ok(Some(format!("{attr} {value} is not satisfied by {}", platform.name)));
                }
            }
        }
        for setting in list_attr(decl, "target_settings") {
            let setting = Label::parse(&setting, base)?;
            if !setting_matches(&setting)? {
                return Ok(Some(format!("target_settings {setting} does not match")));
            }
        }
        Ok(None)
    }
}

fn package_of(decl: &TargetDecl) -> Label {
    Label::package_base(&decl.label.repo, &decl.label.package)
}

fn string_attr(decl: &TargetDecl, name: &str) -> Option<String> {
    let attrs = DictRef::from_value(decl.attrs.value())?;
    attrs.get_str(name).and_then(|v| v.unpack_str().map(str::to_string))
}

fn list_attr(decl: &TargetDecl, name: &str) -> Vec<String> {
    let Some(attrs) = DictRef::from_value(decl.attrs.value()) else { return Vec::new() };
    let Some(list) = attrs.get_str(name).and_then(ListRef::from_value) else { return Vec::new() };
    list.iter().filter_map(|v| v.unpack_str().map(str::to_string)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrations_are_read_from_top_level_calls_in_order() {
        let text = r#"
load("@rules_relink//rules:repositories.bzl", "relink_register_toolchains")
register_toolchains("//tc:all", "@other//:t")
relink_register_toolchains()
register_toolchains("//more:x", dev_dependency = True)
"#;
        assert_eq!(registrations_in("WORKSPACE", text).unwrap(), ["//tc:all", "@other//:t", "//more:x"]);
    }

    #[test]
    fn a_computed_registration_is_an_error_naming_the_line() {
        let e = registrations_in("MODULE.bazel", "\nregister_toolchains(\"//a:\" + \"b\")\n").unwrap_err().to_string();
        assert!(e.contains("MODULE.bazel:2") && e.contains("string literals"), "{e}");
    }
}
