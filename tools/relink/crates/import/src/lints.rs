//! The lint flags Cargo gives a workspace member's compiles: its `[lints]` table (or the
//! workspace's `[workspace.lints]` with `lints.workspace = true`) and `--check-cfg` for the
//! names Cargo declares (`docsrs`, `test`, the package's features) and those the
//! `unexpected_cfgs` lint's `check-cfg` lists. Mirrors Cargo's `lints_to_rustflags` and
//! `check_cfg_args`: same flags, same order.

use std::path::Path;

use anyhow::{bail, Context, Result};

use super::metadata::Package;

/// rustc flags for a member: `--forbid=unsafe_code`-style lint levels sorted by priority, then
/// `--check-cfg` arguments.
pub fn member_flags(pkg: &Package, workspace_manifest: &Path) -> Result<Vec<String>> {
    let lints = lints_table(&pkg.manifest_path, workspace_manifest)?;
    let mut flags = Vec::new();
    let mut extra_check_cfg = Vec::new();
    if let Some(lints) = &lints {
        let (levels, check_cfg) = lint_flags(lints, &pkg.manifest_path)?;
        flags = levels;
        extra_check_cfg = check_cfg;
    }
    flags.extend(check_cfg_flags(pkg.features.keys()));
    for cfg in extra_check_cfg {
        flags.extend(["--check-cfg".to_string(), cfg]);
    }
    Ok(flags)
}

/// Cargo's `--check-cfg` arguments: `docsrs` and `test`, and `feature` with every declared
/// feature (so an unknown feature name is an "unexpected value").
fn check_cfg_flags<'a>(features: impl Iterator<Item = &'a String>) -> Vec<String> {
    let values: Vec<String> = features.map(|f| format!("\"{f}\"")).collect();
    vec![
        "--check-cfg".to_string(),
        "cfg(docsrs,test)".to_string(),
        "--check-cfg".to_string(),
        format!("cfg(feature, values({}))", values.join(", ")),
    ]
}

/// The package's `[lints]`, or the workspace's when it says `workspace = true`.
fn lints_table(manifest: &Path, workspace_manifest: &Path) -> Result<Option<toml::Table>> {
    let own = crate::read_toml(manifest)?;
    let Some(lints) = own.get("lints") else { return Ok(None) };
    let lints = lints.as_table().with_context(|| format!("{}: `lints` is not a table", manifest.display()))?;
    if lints.get("workspace").and_then(toml::Value::as_bool) != Some(true) {
        return Ok(Some(lints.clone()));
    }
    let root = crate::read_toml(workspace_manifest)?;
    let inherited = root.get("workspace").and_then(|w| w.get("lints")).and_then(toml::Value::as_table);
    match inherited {
        Some(t) => Ok(Some(t.clone())),
        None => bail!(
            "{}: `lints.workspace = true` but {} has no [workspace.lints]",
            manifest.display(),
            workspace_manifest.display()
        ),
    }
}

/// Lint levels as rustc flags in Cargo's order (priority, then name descending), and the
/// `check-cfg` list of `unexpected_cfgs`. `cargo` lints are Cargo's own and are not passed.
fn lint_flags(lints: &toml::Table, manifest: &Path) -> Result<(Vec<String>, Vec<String>)> {
    let mut ordered: Vec<(i64, std::cmp::Reverse<String>, String)> = Vec::new();
    let mut check_cfg = Vec::new();
    for (tool, table) in lints.iter().filter(|(tool, _)| tool.as_str() != "cargo") {
        let table =
            table.as_table().with_context(|| format!("{}: `lints.{tool}` is not a table", manifest.display()))?;
        for (name, config) in table {
            let (level, priority) = level_and_priority(config)
                .with_context(|| format!("{}: `lints.{tool}.{name}`: expected a level (forbid, deny, warn, allow) or {{ level = .., priority = .. }}", manifest.display()))?;
            if tool == "rust" && name == "unexpected_cfgs" {
                for cfg in config.get("check-cfg").and_then(toml::Value::as_array).into_iter().flatten() {
                    check_cfg.push(cfg.as_str().context("check-cfg entries are strings")?.to_string());
                }
            }
            let flag = match level {
                "forbid" => "--forbid",
                "deny" => "--deny",
                "warn" => "--warn",
                "allow" => "--allow",
                _ => bail!("{}: `lints.{tool}.{name}`: unknown level `{level}`", manifest.display()),
            };
            let lint = if tool == "rust" { name.clone() } else { format!("{tool}::{name}") };
            ordered.push((priority, std::cmp::Reverse(name.clone()), format!("{flag}={lint}")));
        }
    }
    ordered.sort();
    Ok((ordered.into_iter().map(|(_, _, flag)| flag).collect(), check_cfg))
}

fn level_and_priority(config: &toml::Value) -> Option<(&str, i64)> {
    match config {
        toml::Value::String(level) => Some((level, 0)),
        toml::Value::Table(t) => {
            let level = t.get("level")?.as_str()?;
            let priority = t.get("priority").map(|p| p.as_integer()).unwrap_or(Some(0))?;
            Some((level, priority))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn table(text: &str) -> toml::Table {
        text.parse().unwrap()
    }

    #[test]
    fn levels_in_cargos_order() {
        let lints = table(
            "[rust]\nunsafe_code = \"forbid\"\nmissing_docs = { level = \"warn\", priority = -1 }\n\
             unexpected_cfgs = { level = \"warn\", check-cfg = ['cfg(foo)', 'cfg(bar, values(\"x\"))'] }\n\
             [clippy]\npedantic = { level = \"deny\", priority = -2 }\n[cargo]\nx = \"warn\"\n",
        );
        let (flags, check_cfg) = lint_flags(&lints, Path::new("Cargo.toml")).unwrap();
        assert_eq!(
            flags,
            ["--deny=clippy::pedantic", "--warn=missing_docs", "--forbid=unsafe_code", "--warn=unexpected_cfgs"]
        );
        assert_eq!(check_cfg, ["cfg(foo)", "cfg(bar, values(\"x\"))"]);
    }

    #[test]
    fn check_cfg_names_every_feature() {
        let features: BTreeMap<String, Vec<String>> =
            [("default".to_string(), vec![]), ("serde".to_string(), vec![])].into_iter().collect();
        assert_eq!(
            check_cfg_flags(features.keys()),
            ["--check-cfg", "cfg(docsrs,test)", "--check-cfg", "cfg(feature, values(\"default\", \"serde\"))"]
        );
        assert_eq!(
            check_cfg_flags([].iter()),
            ["--check-cfg", "cfg(docsrs,test)", "--check-cfg", "cfg(feature, values())"]
        );
    }

    #[test]
    fn bad_levels_name_the_manifest_and_lint() {
        let err = lint_flags(&table("[rust]\nunsafe_code = \"loud\"\n"), Path::new("/w/Cargo.toml")).unwrap_err();
        assert!(
            format!("{err:#}").contains("/w/Cargo.toml: `lints.rust.unsafe_code`: unknown level `loud`"),
            "{err:#}"
        );
    }
}
