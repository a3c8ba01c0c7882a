//! Rule attribute schemas, read once per rule from the `attr.*()` values of its `attrs`.

use crate::attribute::{Checks, FrozenAttribute};
use starlark::values::FrozenValue;

/// One attribute of a rule.
pub struct AttrSchema {
    pub name: String,
    /// `label`, `label_list`, `string`, `string_list`, `string_dict`, `bool`, `int`, `output`, ...
    pub kind: String,
    pub default: FrozenValue,
    /// `values` of `attr.string`/`attr.int`: the allowed values (empty: any).
    pub values: Vec<FrozenValue>,
    /// What the attribute asks of the values targets give it.
    pub checks: Checks,
}

impl AttrSchema {
    /// Why a rule target of `kind` returning providers `keys` may not be given to this
    /// attribute, if it may not (Bazel's "does not have mandatory providers").
    pub fn refuses_target(&self, label: &str, kind: &str, keys: &[u64]) -> Option<String> {
        if let Some(allowed) = &self.checks.allow_rules {
            if !allowed.iter().any(|r| r == kind) {
                return Some(format!("`{label}` is a {kind}, but the attribute takes only {}", allowed.join(", ")));
            }
        }
        if self.checks.providers.is_empty()
            || self.checks.providers.iter().any(|g| g.iter().all(|(k, _)| keys.contains(k)))
        {
            return None;
        }
        let missing: Vec<String> = self.checks.providers[0]
            .iter()
            .filter(|(k, _)| !keys.contains(k))
            .map(|(_, name)| format!("'{name}'"))
            .collect();
        Some(format!("`{label}` does not have mandatory providers: {}", missing.join(", ")))
    }

    /// Why source file `file` may not be given to this attribute, if it may not (as Bazel).
    pub fn refuses_file(&self, file: &str) -> Option<String> {
        if !self.checks.allow_files {
            return Some(format!(
                "`{file}` is a source file, but attribute `{}` takes targets only (its `attr` has no allow_files)",
                self.name
            ));
        }
        let types = self.checks.file_types.as_ref()?;
        if types.iter().any(|t| t.is_empty() || file.ends_with(t.as_str())) {
            return None;
        }
        Some(format!("`{file}` is not allowed in attribute `{}`: it takes {} files", self.name, types.join(", ")))
    }
}

impl AttrSchema {
    /// The schema of attribute `name`, declared as `attribute`.
    pub fn new(name: &str, attribute: &FrozenAttribute) -> AttrSchema {
        AttrSchema {
            name: name.to_string(),
            kind: attribute.kind.to_string(),
            default: attribute.default,
            values: attribute.values.clone(),
            checks: attribute.checks.clone(),
        }
    }
}
