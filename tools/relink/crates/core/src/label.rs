//! Bazel labels: `@repo//package:name`, `//package:name`, `//package`, `:name`, `name`.

use std::fmt;

use anyhow::{bail, Result};

/// A resolved label. `repo` is empty for the main repository.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label {
    pub repo: String,
    pub package: String,
    pub name: String,
}

impl Label {
    /// Parse `text` relative to the package `base` (used for `:name` and `name` forms and for
    /// repository-relative `//pkg` labels written inside an external repository).
    pub fn parse(text: &str, base: &Label) -> Result<Label> {
        let (repo, rest) = if let Some(stripped) = text.strip_prefix('@') {
            let stripped = stripped.strip_prefix('@').unwrap_or(stripped);
            match stripped.split_once("//") {
                Some((repo, rest)) => (repo.to_string(), format!("//{rest}")),
                // `@repo` alone means `@repo//:repo`.
                None => (stripped.to_string(), format!("//:{stripped}")),
            }
        } else {
            (base.repo.clone(), text.to_string())
        };
        let label = if let Some(abs) = rest.strip_prefix("//") {
            let (package, name) = match abs.split_once(':') {
                Some((p, n)) => (p.to_string(), n.to_string()),
                None => (abs.to_string(), abs.rsplit('/').next().unwrap_or("").to_string()),
            };
            Label { repo, package, name }
        } else {
            let name = rest.strip_prefix(':').unwrap_or(&rest).to_string();
            Label { repo, package: base.package.clone(), name }
        };
        label.validate(text)?;
        Ok(label)
    }

    fn validate(&self, text: &str) -> Result<()> {
        if self.name.is_empty() {
            bail!("invalid label `{text}`: empty target name");
        }
        if let Some(c) = self.package.chars().chain(self.name.chars()).find(|c| !allowed_in_label(*c)) {
            bail!("invalid label `{text}`: {c:?} is not allowed in a label (no white space or control characters)");
        }
        if self.package.starts_with('/') || self.package.ends_with('/') || self.package.contains("//") {
            bail!("invalid label `{text}`: bad package name `{}`", self.package);
        }
        if self.name.contains(':') || self.package.contains(':') {
            bail!("invalid label `{text}`");
        }
        // As Bazel: no up-level or current-directory segments, which would name files outside
        // the package (or outside the workspace) behind the build's back.
        let bad_segment = |s: &str| s.split('/').any(|seg| seg == ".." || seg == ".");
        if bad_segment(&self.name) || self.name.starts_with('/') || self.name.contains("//") {
            bail!(
                "invalid label `{text}`: a target name may not start with `/` or contain `..` or `.` segments (it would name a file outside its package); refer to files of another package through a label of that package (`//other/pkg:file`, with `exports_files` there)"
            );
        }
        if bad_segment(&self.package) {
            bail!("invalid label `{text}`: a package name may not contain `..` or `.` segments");
        }
        Ok(())
    }

    /// Check a target's own name (`name = ...`) as Bazel does.
    pub fn check_target_name(name: &str) -> Result<()> {
        Label { repo: String::new(), package: String::new(), name: name.to_string() }.validate(name)
    }

    /// A label for a package (used as the base of relative labels).
    pub fn package_base(repo: &str, package: &str) -> Label {
        Label { repo: repo.to_string(), package: package.to_string(), name: "__pkg__".to_string() }
    }

    /// `external/<repo>` or `""` for the main repository.
    pub fn workspace_root(&self) -> String {
        if self.repo.is_empty() {
            String::new()
        } else {
            format!("external/{}", self.repo)
        }
    }

    /// Execroot-relative path of the package directory.
    pub fn package_exec_path(&self) -> String {
        join_path(&self.workspace_root(), &self.package)
    }
}

/// Join path pieces with `/`, skipping empty ones.
pub fn join_path(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a}/{b}"),
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.repo.is_empty() {
            write!(f, "@{}", self.repo)?;
        }
        write!(f, "//{}:{}", self.package, self.name)
    }
}

/// Bazel's label characters: anything printable but white space.
fn allowed_in_label(c: char) -> bool {
    !c.is_whitespace() && !c.is_control()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Label {
        Label::package_base("", "a/b")
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(Label::parse("//x/y:z", &base()).unwrap().to_string(), "//x/y:z");
        assert_eq!(Label::parse("//x/y", &base()).unwrap().to_string(), "//x/y:y");
        assert_eq!(Label::parse(":z", &base()).unwrap().to_string(), "//a/b:z");
        assert_eq!(Label::parse("z.rs", &base()).unwrap().to_string(), "//a/b:z.rs");
        assert_eq!(Label::parse("@r//p:n", &base()).unwrap().to_string(), "@r//p:n");
        assert_eq!(Label::parse("@r", &base()).unwrap().to_string(), "@r//:r");
        let external = Label::package_base("r", "pkg");
        assert_eq!(Label::parse("//q:n", &external).unwrap().to_string(), "@r//q:n");
    }

    #[test]
    fn rejects_bad_labels() {
        assert!(Label::parse("//a:", &base()).is_err());
        assert!(Label::parse("//a/:b", &base()).is_err());
        assert!(Label::parse("//a:b:c", &base()).is_err());
        for escape in ["../x.rs", "../../../../tmp/x/victim.txt", ":a/../../b", "//a/../b:c", "//a:./b", "/etc/passwd"]
        {
            let err = Label::parse(escape, &base()).unwrap_err().to_string();
            assert!(err.contains(escape) && (err.contains("`..`") || err.contains("`/`")), "{escape}: {err}");
        }
        assert!(Label::parse("src/x..y.rs", &base()).is_ok(), "dots inside a name are fine");
    }
}
