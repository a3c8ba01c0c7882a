//! Native Starlark values of the Bazel rule API: `Label`, `File`, providers, rules, targets.
//!
//! All are *simple* values (they hold no unfrozen Starlark values): a rule's specification
//! and a target's kwargs live in module variables, a target's providers in the frozen heap of
//! its analysis, which the target keeps alive.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use allocative::Allocative;
use starlark::any::ProvidesStaticType;
use starlark::eval::{Arguments, Evaluator};
use starlark::starlark_simple_value;
use starlark::values::structs::AllocStruct;
use starlark::values::{FrozenHeapRef, FrozenValue, Heap, NoSerialize, StarlarkValue, Value};
use starlark_derive::starlark_value;

use relink_core::label::Label;

fn unsupported<T>(what: impl fmt::Display) -> starlark::Result<T> {
    Err(starlark::Error::new_other(anyhow::anyhow!("{what}")))
}

fn hash_of(value: &impl Hash) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

// ---------------------------------------------------------------------------------------------
// Label

/// A `Label`: `@repo//package:name`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, ProvidesStaticType, NoSerialize, Allocative)]
pub struct LabelValue(#[allocative(skip)] pub Label);

impl fmt::Display for LabelValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

starlark_simple_value!(LabelValue);

#[starlark_value(type = "Label")]
impl<'v> StarlarkValue<'v> for LabelValue {
    fn get_attr(&self, attribute: &str, heap: Heap<'v>) -> Option<Value<'v>> {
        let l = &self.0;
        Some(match attribute {
            "name" => heap.alloc(l.name.as_str()),
            "package" => heap.alloc(l.package.as_str()),
            "workspace_name" | "repo_name" => heap.alloc(l.repo.as_str()),
            "workspace_root" => heap.alloc(l.workspace_root()),
            _ => return None,
        })
    }

    fn dir_attr(&self) -> Vec<String> {
        ["name", "package", "workspace_name", "repo_name", "workspace_root"].map(String::from).to_vec()
    }

    fn equals(&self, other: Value<'v>) -> starlark::Result<bool> {
        Ok(LabelValue::from_value(other).is_some_and(|o| o.0 == self.0))
    }

    fn write_hash(&self, hasher: &mut starlark::collections::StarlarkHasher) -> starlark::Result<()> {
        hasher.write_u64(hash_of(&self.0));
        Ok(())
    }

    fn collect_repr(&self, collector: &mut String) {
        collector.push_str(&format!("Label({:?})", self.0.to_string()));
    }

    fn collect_str(&self, collector: &mut String) {
        collector.push_str(&self.0.to_string());
    }
}

// ---------------------------------------------------------------------------------------------
// File

/// Where a file lives.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FileOrigin {
    /// A source file of the workspace or of an external repository.
    Source,
    /// An output of an action of the target `owner`.
    Output,
}

/// A `File`: a source file or an action output, identified by its execroot-relative path.
#[derive(Clone, Debug, PartialEq, Eq, Hash, ProvidesStaticType, NoSerialize, Allocative)]
pub struct FileValue {
    /// Path relative to the execroot (`pkg/a.rs`, `relink-out/fastbuild/bin/pkg/liba.rlib`).
    pub path: String,
    /// Path relative to the output root (same as `path` for main-repo sources).
    pub short_path: String,
    /// Output root (`relink-out/fastbuild/bin`) or `""` for sources.
    pub root: String,
    /// Label of the target or source file that owns the file.
    #[allocative(skip)]
    pub owner: Label,
    #[allocative(skip)]
    pub origin: FileOrigin,
    /// Declared with `declare_directory`.
    pub is_directory: bool,
}

impl fmt::Display for FileValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.origin {
            FileOrigin::Source => write!(f, "<source file {}>", self.short_path),
            FileOrigin::Output => write!(f, "<generated file {}>", self.short_path),
        }
    }
}

starlark_simple_value!(FileValue);

impl FileValue {
    fn basename(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}

#[starlark_value(type = "File")]
impl<'v> StarlarkValue<'v> for FileValue {
    fn get_attr(&self, attribute: &str, heap: Heap<'v>) -> Option<Value<'v>> {
        Some(match attribute {
            "path" => heap.alloc(self.path.as_str()),
            "short_path" => heap.alloc(self.short_path.as_str()),
            "basename" => heap.alloc(self.basename()),
            "dirname" => heap.alloc(self.path.rsplit_once('/').map_or("", |(d, _)| d)),
            "extension" => heap.alloc(self.basename().rsplit_once('.').map_or("", |(_, e)| e)),
            "is_source" => Value::new_bool(self.origin == FileOrigin::Source),
            "is_directory" => Value::new_bool(self.is_directory),
            "owner" => heap.alloc(LabelValue(self.owner.clone())),
            "root" => heap.alloc(AllocStruct([("path", self.root.as_str())])),
            _ => return None,
        })
    }

    fn dir_attr(&self) -> Vec<String> {
        ["path", "short_path", "basename", "dirname", "extension", "is_source", "is_directory", "owner", "root"]
            .map(String::from)
            .to_vec()
    }

    fn equals(&self, other: Value<'v>) -> starlark::Result<bool> {
        Ok(FileValue::from_value(other).is_some_and(|o| o.path == self.path))
    }

    fn write_hash(&self, hasher: &mut starlark::collections::StarlarkHasher) -> starlark::Result<()> {
        hasher.write_u64(hash_of(&self.path));
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Provider

static NEXT_KEY: AtomicU64 = AtomicU64::new(1);

/// A provider made by `provider()`; calling it makes an instance ([`crate::info::Info`]).
#[derive(Debug, ProvidesStaticType, NoSerialize, Allocative)]
pub struct ProviderValue {
    /// Unique identity of the provider.
    pub key: u64,
    /// Name it was exported under (`RustInfo`), set when assigned to a global.
    #[allocative(skip)]
    pub name: OnceLock<String>,
    /// Allowed field names, when declared.
    pub fields: Option<Vec<String>>,
}

impl ProviderValue {
    /// A new provider with a fresh identity.
    pub fn new(fields: Option<Vec<String>>, name: Option<&str>) -> Self {
        let cell = OnceLock::new();
        if let Some(n) = name {
            let _ = cell.set(n.to_string());
        }
        ProviderValue { key: NEXT_KEY.fetch_add(1, Ordering::Relaxed), name: cell, fields }
    }

    /// The exported name, or a placeholder.
    pub fn display_name(&self) -> &str {
        self.name.get().map_or("<anonymous provider>", String::as_str)
    }
}

impl fmt::Display for ProviderValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<provider {}>", self.display_name())
    }
}

starlark_simple_value!(ProviderValue);

#[starlark_value(type = "Provider")]
impl<'v> StarlarkValue<'v> for ProviderValue {
    fn invoke(
        &self,
        _me: Value<'v>,
        args: &Arguments<'v, '_>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Value<'v>> {
        args.no_positional_args(eval.heap())?;
        let named = args.names_map()?;
        let mut fields: Vec<(String, Value<'v>)> = Vec::with_capacity(named.len() + 1);
        for (name, value) in named.iter() {
            let name = name.as_str().to_string();
            if let Some(allowed) = &self.fields {
                if !allowed.contains(&name) {
                    return unsupported(format!(
                        "{}() got an unexpected field `{}` (declared fields: {})",
                        self.display_name(),
                        name,
                        allowed.join(", ")
                    ));
                }
            }
            fields.push((name, *value));
        }
        if let Some(allowed) = &self.fields {
            for name in allowed {
                if !fields.iter().any(|(n, _)| n == name) {
                    fields.push((name.clone(), Value::new_none()));
                }
            }
        }
        Ok(eval.heap().alloc_complex(crate::info::Info::new(self.key, self.display_name(), fields)))
    }

    fn export_as(&self, variable_name: &str, _eval: &mut Evaluator<'v, '_, '_>) -> starlark::Result<()> {
        let _ = self.name.set(variable_name.to_string());
        Ok(())
    }

    fn equals(&self, other: Value<'v>) -> starlark::Result<bool> {
        Ok(ProviderValue::from_value(other).is_some_and(|o| o.key == self.key))
    }

    fn write_hash(&self, hasher: &mut starlark::collections::StarlarkHasher) -> starlark::Result<()> {
        hasher.write_u64(self.key);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Target

/// A configured target as its dependents see it: a label and the providers its
/// implementation returned (frozen; the heap that holds them is kept alive here).
#[derive(Clone, Debug, ProvidesStaticType, NoSerialize, Allocative)]
pub struct TargetValue {
    #[allocative(skip)]
    pub label: Label,
    #[allocative(skip)]
    pub providers: Arc<Vec<(u64, FrozenValue)>>,
    #[allocative(skip)]
    pub heap: FrozenHeapRef,
}

impl fmt::Display for TargetValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<target {}>", self.label)
    }
}

starlark_simple_value!(TargetValue);

impl TargetValue {
    /// The instance of provider `key`.
    pub fn provider(&self, key: u64) -> Option<FrozenValue> {
        self.providers.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
}

#[starlark_value(type = "Target")]
impl<'v> StarlarkValue<'v> for TargetValue {
    fn at(&self, index: Value<'v>, _heap: Heap<'v>) -> starlark::Result<Value<'v>> {
        let Some(provider) = ProviderValue::from_value(index) else {
            return unsupported(format!("a Target is indexed by a provider, not by {}", index.get_type()));
        };
        match self.provider(provider.key) {
            Some(v) => Ok(v.to_value()),
            None => unsupported(format!("{} does not provide {}", self.label, provider.display_name())),
        }
    }

    fn is_in(&self, other: Value<'v>) -> starlark::Result<bool> {
        Ok(ProviderValue::from_value(other).is_some_and(|p| self.provider(p.key).is_some()))
    }

    /// Targets are dict keys (attr.label_keyed_string_dict), equal when their labels are.
    fn equals(&self, other: Value<'v>) -> starlark::Result<bool> {
        Ok(TargetValue::from_value(other).is_some_and(|o| o.label == self.label))
    }

    fn write_hash(&self, hasher: &mut starlark::collections::StarlarkHasher) -> starlark::Result<()> {
        hasher.write_u64(hash_of(&self.label));
        Ok(())
    }

    fn get_attr(&self, attribute: &str, heap: Heap<'v>) -> Option<Value<'v>> {
        match attribute {
            "label" => Some(heap.alloc(LabelValue(self.label.clone()))),
            _ => None,
        }
    }
}
