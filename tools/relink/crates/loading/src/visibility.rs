//! Who may depend on a target: Bazel's `visibility` attribute, `package(default_visibility)`
//! and `package_group`, with Bazel's rules (a target is always visible in its own package;
//! without a visibility it is private).

use anyhow::{anyhow, bail, Result};

use relink_core::label::Label;

/// A target's visibility, its labels resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Visibility {
    /// `//visibility:public`.
    Public,
    /// The packages these rules name (none: `//visibility:private`).
    Only(Vec<Rule>),
}

/// One entry of a visibility list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    /// `//foo:__pkg__`: that package.
    Package { repo: String, package: String },
    /// `//foo:__subpackages__`: that package and every package below it.
    Subpackages { repo: String, package: String },
    /// `//foo:friends`: the packages of a `package_group`.
    Group(Label),
}

impl Visibility {
    /// Parse a visibility list written in the package `base`.
    pub fn parse(items: &[String], base: &Label) -> Result<Visibility> {
        let mut rules = Vec::new();
        for item in items {
            let label = Label::parse(item, base)?;
            match (label.package.as_str(), label.name.as_str()) {
                ("visibility", "public") => return Ok(Visibility::Public),
                ("visibility", "private") => {}
                (_, "__pkg__") => rules.push(Rule::Package { repo: label.repo, package: label.package }),
                (_, "__subpackages__") => rules.push(Rule::Subpackages { repo: label.repo, package: label.package }),
                _ => rules.push(Rule::Group(label)),
            }
        }
        Ok(Visibility::Only(rules))
    }

    /// As a BUILD file would write it.
    pub fn describe(&self) -> String {
        match self {
            Visibility::Public => "[\"//visibility:public\"]".to_string(),
            Visibility::Only(rules) if rules.is_empty() => "private (no visibility)".to_string(),
            Visibility::Only(rules) => {
                let items: Vec<String> = rules
                    .iter()
                    .map(|r| match r {
                        Rule::Package { repo, package } => format!("\"{}:__pkg__\"", package_label(repo, package)),
                        Rule::Subpackages { repo, package } => {
                            format!("\"{}:__subpackages__\"", package_label(repo, package))
                        }
                        Rule::Group(label) => format!("\"{label}\""),
                    })
                    .collect();
                format!("[{}]", items.join(", "))
            }
        }
    }
}

fn package_label(repo: &str, package: &str) -> String {
    if repo.is_empty() {
        format!("//{package}")
    } else {
        format!("@{repo}//{package}")
    }
}

/// A `package_group`: the packages it names and the groups it includes.
#[derive(Clone, Debug, Default)]
pub struct PackageGroup {
    pub specs: Vec<PackageSpec>,
    pub includes: Vec<Label>,
}

/// One entry of `package_group(packages = [...])`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PackageSpec {
    /// `public` (or `//...` of every repository).
    All,
    /// `//foo`: that package.
    Exact { repo: String, package: String },
    /// `//foo/...`: that package and every package below it.
    Below { repo: String, package: String },
}

impl PackageSpec {
    /// Parse one `packages` entry written in a package of `repo`.
    pub fn parse(text: &str, repo: &str) -> Result<PackageSpec> {
        if text == "public" {
            return Ok(PackageSpec::All);
        }
        if text == "private" {
            bail!("package_group: `private` names no package; leave it out");
        }
        let (spec_repo, rest) = match text.strip_prefix('@') {
            Some(r) => {
                let (name, rest) =
                    r.split_once("//").ok_or_else(|| anyhow!("`{text}` is not a package specification"))?;
                (name.to_string(), rest)
            }
            None => (
                repo.to_string(),
                text.strip_prefix("//").ok_or_else(|| {
                    anyhow!("`{text}` is not a package specification (`//foo`, `//foo/...`, `public`)")
                })?,
            ),
        };
        Ok(match rest.strip_suffix("...") {
            Some(prefix) => PackageSpec::Below { repo: spec_repo, package: prefix.trim_end_matches('/').to_string() },
            None => PackageSpec::Exact { repo: spec_repo, package: rest.to_string() },
        })
    }

    /// Whether the package `package` of `repo` is named.
    pub fn matches(&self, repo: &str, package: &str) -> bool {
        match self {
            PackageSpec::All => true,
            PackageSpec::Exact { repo: r, package: p } => r == repo && p == package,
            PackageSpec::Below { repo: r, package: p } => r == repo && below(package, p),
        }
    }
}

/// Whether `package` is `parent` or lies below it.
pub fn below(package: &str, parent: &str) -> bool {
    parent.is_empty() || package == parent || package.starts_with(&format!("{parent}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Label {
        Label::package_base("", "lib")
    }

    #[test]
    fn visibility_lists_parse_as_bazel_reads_them() {
        let parse =
            |items: &[&str]| Visibility::parse(&items.iter().map(|s| s.to_string()).collect::<Vec<_>>(), &base());
        assert_eq!(parse(&["//visibility:public"]).unwrap(), Visibility::Public);
        assert_eq!(parse(&["//visibility:private"]).unwrap(), Visibility::Only(vec![]));
        assert_eq!(
            parse(&[":__pkg__", "//app:__subpackages__", "//groups:friends"]).unwrap(),
            Visibility::Only(vec![
                Rule::Package { repo: String::new(), package: "lib".into() },
                Rule::Subpackages { repo: String::new(), package: "app".into() },
                Rule::Group(Label::parse("//groups:friends", &base()).unwrap()),
            ])
        );
    }

    #[test]
    fn package_specifications_name_packages_and_subtrees() {
        let below_app = PackageSpec::parse("//app/...", "").unwrap();
        assert!(below_app.matches("", "app") && below_app.matches("", "app/cli") && !below_app.matches("", "apps"));
        let exact = PackageSpec::parse("//app", "").unwrap();
        assert!(exact.matches("", "app") && !exact.matches("", "app/cli"));
        assert!(PackageSpec::parse("//...", "").unwrap().matches("", "anything/below"));
        assert_eq!(PackageSpec::parse("public", "").unwrap(), PackageSpec::All);
        assert!(PackageSpec::parse("app", "").is_err());
    }
}
