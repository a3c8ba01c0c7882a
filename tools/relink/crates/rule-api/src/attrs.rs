//! Rule attribute schemas, read once per rule from the `attr.*()` values of its `attrs`.

use crate::attribute::FrozenAttribute;
use starlark::values::FrozenValue;

/// One attribute of a rule.
pub struct AttrSchema {
    pub name: String,
    /// `label`, `label_list`, `string`, `string_list`, `string_dict`, `bool`, `int`, `output`, ...
    pub kind: String,
    pub default: FrozenValue,
    pub mandatory: bool,
    /// `allow_files` or `allow_single_file` was set.
    pub allow_files: bool,
    /// The file extensions `allow_files`/`allow_single_file` lists (`None`: any file, or none
    /// at all when `allow_files` is false).
    pub file_types: Option<Vec<String>>,
    pub single_file: bool,
    pub executable: bool,
    /// `providers`: the dependency must return every provider of one of these groups
    /// (Bazel's list of providers, or list of lists), as (key, name).
    pub providers: Vec<Vec<(u64, String)>>,
    /// `allow_rules`: the rule kinds a dependency may have (source files always allowed where
    /// `allow_files` says so).
    pub allow_rules: Option<Vec<String>>,
    /// `values` of `attr.string`/`attr.int`: the allowed values (empty: any).
    pub values: Vec<FrozenValue>,
    /// `allow_empty = False`.
    pub non_empty: bool,
}

impl AttrSchema {
    /// Why a rule target of `kind` returning providers `keys` may not be given to this
    /// attribute, if it may not (Bazel's "does not have mandatory providers").
    pub fn refuses_target(&self, label: &str, kind: &str, keys: &[u64]) -> Option<String> {
        if let Some(allowed) = &self.allow_rules {
            if !allowed.iter().any(|r| r == kind) {
                return Some(format!("`{label}` is a {kind}, but the attribute takes only {}", allowed.join(", ")));
            }
        }
        if self.providers.is_empty() || self.providers.iter().any(|g| g.iter().all(|(k, _)| keys.contains(k))) {
            return None;
        }
        let missing: Vec<String> =
            self.providers[0].iter().filter(|(k, _)| !keys.contains(k)).map(|(_, name)| format!("'{name}'")).collect();
        Some(format!("`{label}` does not have mandatory providers: {}", missing.join(", ")))
    }

    /// Why source file `file` may not be given to this attribute, if it may not (as Bazel).
    pub fn refuses_file(&self, file: &str) -> Option<String> {
        if !self.allow_files {
            return Some(format!(
                "`{file}` is a source file, but attribute `{}` takes targets only (its `attr` has no allow_files)",
                self.name
            ));
        }
        let types = self.file_types.as_ref()?;
        if types.iter().any(|t| t.is_empty() || file.ends_with(t.as_str())) {
            return None;
        }
        Some(format!("`{file}` is not allowed in attribute `{}`: it takes {} files", self.name, types.join(", ")))
    }
}

impl AttrSchema {
    /// The schema of attribute `name`, declared as `attribute`.
    pub fn new(name: &str, attribute: &FrozenAttribute) -> AttrSchema {
        let checks = &attribute.checks;
        AttrSchema {
            name: name.to_string(),
            kind: attribute.kind.to_string(),
            default: attribute.default,
            mandatory: checks.mandatory,
            allow_files: checks.allow_files,
            file_types: checks.file_types.clone(),
            single_file: checks.single_file,
            executable: checks.executable,
            providers: checks.providers.clone(),
            allow_rules: checks.allow_rules.clone(),
            values: attribute.values.clone(),
            non_empty: checks.non_empty,
        }
    }
}
