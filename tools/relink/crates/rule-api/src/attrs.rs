//! Rule attribute schemas (from `attr.*` structs) and the values targets give them.

use crate::sl::SlResult;
use anyhow::{anyhow, Result};
use starlark::environment::Module;
use starlark::values::dict::DictRef;
use starlark::values::{FrozenValue, OwnedFrozenValue, Value, ValueLike};

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

/// The extensions listed by an `allow_files` value (`None` for `True`, `False` or `None`).
fn file_types(v: Option<Value<'_>>) -> Option<Vec<String>> {
    let list = starlark::values::list::ListRef::from_value(v?)
        .map(|l| l.iter().collect::<Vec<_>>())
        .or_else(|| starlark::values::tuple::TupleRef::from_value(v?).map(|t| t.content().to_vec()))?;
    Some(list.iter().filter_map(|e| e.unpack_str().map(str::to_string)).collect())
}

/// The elements of a list or tuple value.
fn elements(v: Value<'_>) -> Option<Vec<Value<'_>>> {
    starlark::values::list::ListRef::from_value(v)
        .map(|l| l.iter().collect())
        .or_else(|| starlark::values::tuple::TupleRef::from_value(v).map(|t| t.content().to_vec()))
}

/// A provider value's (key, name).
fn provider(v: Value<'_>) -> Result<(u64, String)> {
    let p = v.downcast_ref::<crate::values::ProviderValue>().ok_or_else(|| {
        anyhow!(
            "providers = [...] takes providers (such as DefaultInfo or a provider() value), got {} `{v}`",
            v.get_type()
        )
    })?;
    Ok((p.key, p.name.get().cloned().unwrap_or_else(|| "<anonymous provider>".to_string())))
}

/// `providers = [A, B]` (one group) or `[[A], [B, C]]` (any group).
fn provider_groups(v: Option<Value<'_>>) -> Result<Vec<Vec<(u64, String)>>> {
    let Some(items) = v.and_then(elements) else { return Ok(Vec::new()) };
    if items.is_empty() {
        return Ok(Vec::new());
    }
    if items.iter().all(|i| elements(*i).is_some()) {
        return items.iter().map(|g| elements(*g).unwrap_or_default().into_iter().map(provider).collect()).collect();
    }
    Ok(vec![items.into_iter().map(provider).collect::<Result<_>>()?])
}

fn truthy(v: Option<Value<'_>>) -> bool {
    v.is_some_and(|v| !v.is_none() && v.to_bool())
}

/// The attribute schema of a rule specification.
pub fn schema(spec: &OwnedFrozenValue) -> Result<Vec<AttrSchema>> {
    Module::with_temp_heap(|tmp| schema_in(spec, &tmp))
}

fn schema_in<'v>(spec: &OwnedFrozenValue, tmp: &Module<'v>) -> Result<Vec<AttrSchema>> {
    let heap = tmp.heap();
    let spec_v = spec.value().unpack_frozen().ok_or_else(|| anyhow!("spec not frozen"))?.to_value();
    let attrs = spec_v.get_attr("attrs", heap).anyhow()?.ok_or_else(|| anyhow!("rule spec without attrs"))?;
    let dict = DictRef::from_value(attrs).ok_or_else(|| anyhow!("rule(attrs = ...) must be a dict"))?;
    let mut out = Vec::new();
    for (name, a) in dict.iter() {
        let name = name.unpack_str().ok_or_else(|| anyhow!("attribute names must be strings"))?.to_string();
        let kind = a
            .get_attr("_relink_attr", heap)
            .anyhow()?
            .and_then(|k| k.unpack_str().map(str::to_string))
            .ok_or_else(|| anyhow!("attribute `{name}` must be made with attr.*()"))?;
        let get = |field: &str| a.get_attr(field, heap).ok().flatten();
        let default = get("default").unwrap_or_else(Value::new_none);
        let providers = provider_groups(get("providers")).map_err(|e| anyhow!("attribute `{name}`: {e}"))?;
        let allow_rules = get("allow_rules")
            .and_then(elements)
            .map(|l| l.iter().map(|r| r.unpack_str().unwrap_or_default().to_string()).collect());
        let values = get("values").and_then(elements).unwrap_or_default();
        out.push(AttrSchema {
            name,
            kind,
            // Defaults come from the frozen rule specification.
            default: default.unpack_frozen().unwrap_or(FrozenValue::new_none()),
            mandatory: truthy(get("mandatory")),
            allow_files: truthy(get("allow_files")) || truthy(get("allow_single_file")),
            file_types: file_types(get("allow_files")).or_else(|| file_types(get("allow_single_file"))),
            single_file: truthy(get("allow_single_file")),
            executable: truthy(get("executable")),
            providers,
            allow_rules,
            values: values.iter().map(|v| v.unpack_frozen().unwrap_or(FrozenValue::new_none())).collect(),
            non_empty: get("allow_empty").is_some_and(|v| !v.is_none() && !v.to_bool()),
        });
    }
    Ok(out)
}
