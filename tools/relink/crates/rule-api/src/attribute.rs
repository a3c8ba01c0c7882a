//! `attr.*()`: what a rule's `attrs` dict maps names to, as a native value. Everything is
//! checked and parsed when the attribute is declared (providers, allowed files, rules, `cfg`),
//! so the schema a rule reads once holds only facts.

// The natives' signatures are Bazel's: one parameter per keyword argument it takes.
#![allow(clippy::too_many_arguments)]

use std::fmt;

use allocative::Allocative;
use anyhow::{anyhow, bail, Result};
use starlark::any::ProvidesStaticType;
use starlark::coerce::Coerce;
use starlark::environment::GlobalsBuilder;
use starlark::starlark_complex_value;
use starlark::starlark_module;
use starlark::values::dict::AllocDict;
use starlark::values::list::AllocList;
use starlark::values::{
    Freeze, FreezeResult, Freezer, Heap, NoSerialize, StarlarkValue, Trace, Value, ValueLifetimeless, ValueLike,
};
use starlark_derive::starlark_value;

use crate::sl::err;

/// The extensions listed by an `allow_files` value (`None` for `True`, `False` or `None`).
pub(crate) fn file_types(v: Option<Value<'_>>) -> Option<Vec<String>> {
    let list = elements(v?)?;
    Some(list.iter().filter_map(|e| e.unpack_str().map(str::to_string)).collect())
}

/// The elements of a list or tuple value.
pub(crate) fn elements(v: Value<'_>) -> Option<Vec<Value<'_>>> {
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
pub(crate) fn provider_groups(v: Option<Value<'_>>) -> Result<Vec<Vec<(u64, String)>>> {
    let Some(items) = v.and_then(elements) else { return Ok(Vec::new()) };
    if items.is_empty() {
        return Ok(Vec::new());
    }
    if items.iter().all(|i| elements(*i).is_some()) {
        return items.iter().map(|g| elements(*g).unwrap_or_default().into_iter().map(provider).collect()).collect();
    }
    Ok(vec![items.into_iter().map(provider).collect::<Result<_>>()?])
}

/// The checks an attribute asks of the values targets give it.
#[derive(Clone, Debug, Default, Allocative)]
pub struct Checks {
    pub mandatory: bool,
    pub doc: String,
    /// `allow_files` or `allow_single_file` was set.
    pub allow_files: bool,
    /// The extensions `allow_files`/`allow_single_file` lists (`None`: any).
    pub file_types: Option<Vec<String>>,
    pub single_file: bool,
    pub executable: bool,
    /// `providers`, as groups of (key, name): a dependency must have every provider of one.
    pub providers: Vec<Vec<(u64, String)>>,
    /// `allow_rules`: the rule kinds a dependency may have.
    pub allow_rules: Option<Vec<String>>,
    /// `allow_empty = False`.
    pub non_empty: bool,
}

/// What `attr.label()`, `attr.string_list()`, ... return.
#[derive(Debug, Trace, ProvidesStaticType, NoSerialize, Allocative)]
#[repr(C)]
pub struct AttributeGen<V: ValueLifetimeless> {
    /// `label`, `label_list`, `string`, `string_list`, `string_dict`, `bool`, `int`, `output`, ...
    #[allocative(skip)]
    pub kind: &'static str,
    #[allocative(skip)]
    pub checks: Checks,
    pub default: V,
    /// `values` of `attr.string`/`attr.int`: the allowed values (empty: any).
    pub values: Vec<V>,
}

// Manual: the kind and checks are the same in both states.
unsafe impl<From: Coerce<To> + ValueLifetimeless, To: ValueLifetimeless> Coerce<AttributeGen<To>>
    for AttributeGen<From>
{
}

starlark_complex_value!(pub Attribute);

impl<'v> Freeze for Attribute<'v> {
    type Frozen = FrozenAttribute;
    fn freeze(self, freezer: &Freezer) -> FreezeResult<FrozenAttribute> {
        Ok(AttributeGen {
            kind: self.kind,
            checks: self.checks,
            default: self.default.freeze(freezer)?,
            values: self.values.freeze(freezer)?,
        })
    }
}

impl<V: ValueLifetimeless> fmt::Display for AttributeGen<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<attr.{}>", self.kind)
    }
}

#[starlark_value(type = "Attribute")]
impl<'v, V: ValueLike<'v>> StarlarkValue<'v> for AttributeGen<V> where Self: ProvidesStaticType<'v> {}

/// One configuration only: the target and the exec configuration are the same.
const SAME_CONFIGURATION: &[&str] = &["exec", "host", "target"];

/// The arguments every label attribute takes beside its own.
struct LabelArgs<'v> {
    allow_files: Option<Value<'v>>,
    cfg: Option<Value<'v>>,
    providers: Option<Value<'v>>,
    aspects: Option<Value<'v>>,
    allow_rules: Option<Value<'v>>,
}

fn given(value: Option<Value<'_>>) -> Option<Value<'_>> {
    value.filter(|v| !v.is_none())
}

fn truthy(value: Option<Value<'_>>) -> bool {
    given(value).is_some_and(|v| v.to_bool())
}

impl<'v> LabelArgs<'v> {
    /// Refuse what relink cannot honour, then fill the label checks.
    fn checks(&self, function: &str, mut checks: Checks) -> Result<Checks> {
        if let Some(cfg) = given(self.cfg) {
            if !cfg.unpack_str().is_some_and(|c| SAME_CONFIGURATION.contains(&c)) {
                bail!("attr.{function}(cfg = {cfg}): relink builds in one configuration (the host); use \"exec\" or \"target\", or no cfg");
            }
        }
        if given(self.aspects).and_then(elements).is_some_and(|a| !a.is_empty()) {
            bail!("attr.{function}(aspects = ...): relink does not implement aspects");
        }
        checks.allow_files |= truthy(self.allow_files);
        if checks.file_types.is_none() {
            checks.file_types = file_types(given(self.allow_files));
        }
        checks.providers = provider_groups(given(self.providers)).map_err(|e| anyhow!("attr.{function}: {e}"))?;
        checks.allow_rules = given(self.allow_rules)
            .and_then(elements)
            .map(|l| l.iter().map(|r| r.unpack_str().unwrap_or_default().to_string()).collect());
        Ok(checks)
    }
}

fn attribute<'v>(
    kind: &'static str,
    default: Value<'v>,
    checks: Checks,
    values: Option<Value<'v>>,
    heap: Heap<'v>,
) -> Value<'v> {
    let values = given(values).and_then(elements).unwrap_or_default();
    heap.alloc_complex(AttributeGen { kind, checks, default, values })
}

fn or_default<'v>(value: Option<Value<'v>>, empty: impl FnOnce() -> Value<'v>) -> Value<'v> {
    value.unwrap_or_else(empty)
}

/// Register the `attr` namespace.
pub fn register(builder: &mut GlobalsBuilder) {
    builder.namespace("attr", attr_functions);
}

/// Keyword arguments of Bazel's attr.* that change nothing in relink: `configurable` (select()
/// is always allowed), `flags` (Bazel-internal hints). The functions take them and drop them.
#[starlark_module]
fn attr_functions(builder: &mut GlobalsBuilder) {
    /// A dependency: a target or, with `allow_files`/`allow_single_file`, a source file.
    fn label<'v>(
        #[starlark(require = named)] default: Option<Value<'v>>,
        #[starlark(require = named, default = "")] doc: &str,
        #[starlark(require = named, default = false)] mandatory: bool,
        #[starlark(require = named)] allow_files: Option<Value<'v>>,
        #[starlark(require = named)] allow_single_file: Option<Value<'v>>,
        #[starlark(require = named, default = false)] executable: bool,
        #[starlark(require = named)] cfg: Option<Value<'v>>,
        #[starlark(require = named)] providers: Option<Value<'v>>,
        #[starlark(require = named)] aspects: Option<Value<'v>>,
        #[starlark(require = named)] allow_rules: Option<Value<'v>>,
        #[starlark(require = named)] configurable: Option<Value<'v>>,
        #[starlark(require = named)] flags: Option<Value<'v>>,
        heap: Heap<'v>,
    ) -> starlark::Result<Value<'v>> {
        let _ = (configurable, flags);
        let single = truthy(allow_single_file);
        let checks = Checks {
            mandatory,
            doc: doc.to_string(),
            allow_files: single,
            file_types: if single { file_types(given(allow_single_file)) } else { None },
            single_file: single,
            executable,
            ..Checks::default()
        };
        let label = LabelArgs { allow_files, cfg, providers, aspects, allow_rules };
        let checks = label.checks("label", checks).map_err(err)?;
        Ok(attribute("label", or_default(default, Value::new_none), checks, None, heap))
    }

    /// A list of dependencies.
    fn label_list<'v>(
        #[starlark(require = named)] default: Option<Value<'v>>,
        #[starlark(require = named, default = "")] doc: &str,
        #[starlark(require = named, default = false)] mandatory: bool,
        #[starlark(require = named)] allow_files: Option<Value<'v>>,
        #[starlark(require = named, default = true)] allow_empty: bool,
        #[starlark(require = named)] cfg: Option<Value<'v>>,
        #[starlark(require = named)] providers: Option<Value<'v>>,
        #[starlark(require = named)] aspects: Option<Value<'v>>,
        #[starlark(require = named)] allow_rules: Option<Value<'v>>,
        #[starlark(require = named)] configurable: Option<Value<'v>>,
        #[starlark(require = named)] flags: Option<Value<'v>>,
        heap: Heap<'v>,
    ) -> starlark::Result<Value<'v>> {
        let _ = (configurable, flags);
        let checks = Checks { mandatory, doc: doc.to_string(), non_empty: !allow_empty, ..Checks::default() };
        let label = LabelArgs { allow_files, cfg, providers, aspects, allow_rules };
        let checks = label.checks("label_list", checks).map_err(err)?;
        Ok(attribute("label_list", or_default(default, || heap.alloc(AllocList::EMPTY)), checks, None, heap))
    }

    /// A dict from dependencies to strings.
    fn label_keyed_string_dict<'v>(
        #[starlark(require = named)] default: Option<Value<'v>>,
        #[starlark(require = named, default = "")] doc: &str,
        #[starlark(require = named, default = false)] mandatory: bool,
        #[starlark(require = named)] allow_files: Option<Value<'v>>,
        #[starlark(require = named, default = true)] allow_empty: bool,
        #[starlark(require = named)] cfg: Option<Value<'v>>,
        #[starlark(require = named)] providers: Option<Value<'v>>,
        #[starlark(require = named)] aspects: Option<Value<'v>>,
        #[starlark(require = named)] allow_rules: Option<Value<'v>>,
        #[starlark(require = named)] configurable: Option<Value<'v>>,
        #[starlark(require = named)] flags: Option<Value<'v>>,
        heap: Heap<'v>,
    ) -> starlark::Result<Value<'v>> {
        let _ = (configurable, flags);
        let checks = Checks { mandatory, doc: doc.to_string(), non_empty: !allow_empty, ..Checks::default() };
        let label = LabelArgs { allow_files, cfg, providers, aspects, allow_rules };
        let checks = label.checks("label_keyed_string_dict", checks).map_err(err)?;
        let default = or_default(default, || heap.alloc(AllocDict::EMPTY));
        Ok(attribute("label_keyed_string_dict", default, checks, None, heap))
    }

    /// A string, optionally one of `values`.
    fn string<'v>(
        #[starlark(require = named)] default: Option<Value<'v>>,
        #[starlark(require = named, default = "")] doc: &str,
        #[starlark(require = named, default = false)] mandatory: bool,
        #[starlark(require = named)] values: Option<Value<'v>>,
        #[starlark(require = named)] configurable: Option<Value<'v>>,
        #[starlark(require = named)] flags: Option<Value<'v>>,
        heap: Heap<'v>,
    ) -> starlark::Result<Value<'v>> {
        let _ = (configurable, flags);
        let checks = Checks { mandatory, doc: doc.to_string(), ..Checks::default() };
        Ok(attribute("string", or_default(default, || heap.alloc("")), checks, values, heap))
    }

    /// An integer, optionally one of `values`.
    fn int<'v>(
        #[starlark(require = named)] default: Option<Value<'v>>,
        #[starlark(require = named, default = "")] doc: &str,
        #[starlark(require = named, default = false)] mandatory: bool,
        #[starlark(require = named)] values: Option<Value<'v>>,
        #[starlark(require = named)] configurable: Option<Value<'v>>,
        #[starlark(require = named)] flags: Option<Value<'v>>,
        heap: Heap<'v>,
    ) -> starlark::Result<Value<'v>> {
        let _ = (configurable, flags);
        let checks = Checks { mandatory, doc: doc.to_string(), ..Checks::default() };
        Ok(attribute("int", or_default(default, || heap.alloc(0)), checks, values, heap))
    }

    /// A boolean.
    fn bool<'v>(
        #[starlark(require = named)] default: Option<Value<'v>>,
        #[starlark(require = named, default = "")] doc: &str,
        #[starlark(require = named, default = false)] mandatory: bool,
        #[starlark(require = named)] configurable: Option<Value<'v>>,
        #[starlark(require = named)] flags: Option<Value<'v>>,
        heap: Heap<'v>,
    ) -> starlark::Result<Value<'v>> {
        let _ = (configurable, flags);
        let checks = Checks { mandatory, doc: doc.to_string(), ..Checks::default() };
        Ok(attribute("bool", or_default(default, || Value::new_bool(false)), checks, None, heap))
    }

    /// A list of strings.
    fn string_list<'v>(
        #[starlark(require = named)] default: Option<Value<'v>>,
        #[starlark(require = named, default = "")] doc: &str,
        #[starlark(require = named, default = false)] mandatory: bool,
        #[starlark(require = named, default = true)] allow_empty: bool,
        #[starlark(require = named)] configurable: Option<Value<'v>>,
        #[starlark(require = named)] flags: Option<Value<'v>>,
        heap: Heap<'v>,
    ) -> starlark::Result<Value<'v>> {
        let _ = (configurable, flags);
        let checks = Checks { mandatory, doc: doc.to_string(), non_empty: !allow_empty, ..Checks::default() };
        Ok(attribute("string_list", or_default(default, || heap.alloc(AllocList::EMPTY)), checks, None, heap))
    }

    /// A dict from strings to strings.
    fn string_dict<'v>(
        #[starlark(require = named)] default: Option<Value<'v>>,
        #[starlark(require = named, default = "")] doc: &str,
        #[starlark(require = named, default = false)] mandatory: bool,
        #[starlark(require = named, default = true)] allow_empty: bool,
        #[starlark(require = named)] configurable: Option<Value<'v>>,
        #[starlark(require = named)] flags: Option<Value<'v>>,
        heap: Heap<'v>,
    ) -> starlark::Result<Value<'v>> {
        let _ = (configurable, flags);
        let checks = Checks { mandatory, doc: doc.to_string(), non_empty: !allow_empty, ..Checks::default() };
        Ok(attribute("string_dict", or_default(default, || heap.alloc(AllocDict::EMPTY)), checks, None, heap))
    }

    /// An output file the target names.
    fn output<'v>(
        #[starlark(require = named, default = "")] doc: &str,
        #[starlark(require = named, default = false)] mandatory: bool,
        #[starlark(require = named)] configurable: Option<Value<'v>>,
        #[starlark(require = named)] flags: Option<Value<'v>>,
        heap: Heap<'v>,
    ) -> starlark::Result<Value<'v>> {
        let _ = (configurable, flags);
        let checks = Checks { mandatory, doc: doc.to_string(), ..Checks::default() };
        Ok(attribute("output", Value::new_none(), checks, None, heap))
    }

    /// Output files the target names.
    fn output_list<'v>(
        #[starlark(require = named, default = "")] doc: &str,
        #[starlark(require = named, default = false)] mandatory: bool,
        #[starlark(require = named, default = true)] allow_empty: bool,
        #[starlark(require = named)] configurable: Option<Value<'v>>,
        #[starlark(require = named)] flags: Option<Value<'v>>,
        heap: Heap<'v>,
    ) -> starlark::Result<Value<'v>> {
        let _ = (configurable, flags);
        let checks = Checks { mandatory, doc: doc.to_string(), non_empty: !allow_empty, ..Checks::default() };
        Ok(attribute("output_list", heap.alloc(AllocList::EMPTY), checks, None, heap))
    }
}
