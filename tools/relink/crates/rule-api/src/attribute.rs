//! `attr.*()`: what a rule's `attrs` dict maps names to, as a native value. Everything is
//! checked and parsed when the attribute is declared (providers, allowed files, rules, `cfg`),
//! so the schema a rule reads once holds only facts.

use std::fmt;

use allocative::Allocative;
use anyhow::{anyhow, bail, Result};
use starlark::any::ProvidesStaticType;
use starlark::coerce::Coerce;
use starlark::environment::GlobalsBuilder;
use starlark::eval::{Arguments, Evaluator};
use starlark::starlark_complex_value;
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

/// Keyword arguments of Bazel's attr.* that change nothing in relink: `configurable` (select()
/// is always allowed), `flags` (Bazel-internal hints). Every function takes and drops them.
const NO_EFFECT: &[&str] = &["configurable", "flags"];

/// The keyword arguments of a label attribute (besides `default`, `doc`, `mandatory`).
const LABEL_ARGS: &[&str] =
    &["allow_files", "allow_single_file", "executable", "cfg", "providers", "aspects", "allow_rules"];
const LABEL_LIST_ARGS: &[&str] = &["allow_files", "allow_empty", "cfg", "providers", "aspects", "allow_rules"];

/// Bazel's attr.* functions: each kind with the keyword arguments it takes (besides `doc`,
/// `mandatory` and, where there is one, `default`) and whether it has a `default`.
const FUNCTIONS: &[(&str, &[&str], bool)] = &[
    ("label", LABEL_ARGS, true),
    ("label_list", LABEL_LIST_ARGS, true),
    ("label_keyed_string_dict", LABEL_LIST_ARGS, true),
    ("string", &["values"], true),
    ("int", &["values"], true),
    ("bool", &[], true),
    ("string_list", &["allow_empty"], true),
    ("string_dict", &["allow_empty"], true),
    ("output", &[], false),
    ("output_list", &["allow_empty"], false),
];

/// One `attr.*` function (`attr.label`, ...): keyword arguments only, checked against its
/// entry of [`FUNCTIONS`].
#[derive(Debug, ProvidesStaticType, NoSerialize, Allocative)]
struct AttrFunction {
    kind: &'static str,
    args: &'static [&'static str],
    has_default: bool,
}

starlark::starlark_simple_value!(AttrFunction);

impl fmt::Display for AttrFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<built-in function attr.{}>", self.kind)
    }
}

#[starlark_value(type = "builtin_function_or_method")]
impl<'v> StarlarkValue<'v> for AttrFunction {
    fn invoke(
        &self,
        _me: Value<'v>,
        args: &Arguments<'v, '_>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Value<'v>> {
        let heap = eval.heap();
        if args.positions(heap)?.next().is_some() {
            return Err(err(anyhow!("attr.{}() takes keyword arguments only", self.kind)));
        }
        let named = args.names_map()?;
        let mut given = std::collections::HashMap::new();
        for (name, value) in named.iter() {
            let name = name.as_str();
            let known = ["doc", "mandatory"].contains(&name)
                || (name == "default" && self.has_default)
                || self.args.contains(&name)
                || NO_EFFECT.contains(&name);
            if !known {
                return Err(err(anyhow!("attr.{}() got an unexpected keyword argument '{name}'", self.kind)));
            }
            if !value.is_none() {
                given.insert(name.to_string(), *value);
            }
        }
        self.make(&given, heap).map_err(err)
    }
}

impl AttrFunction {
    /// The attribute, from the keyword arguments given (those given as None left out).
    fn make<'v>(&self, given: &std::collections::HashMap<String, Value<'v>>, heap: Heap<'v>) -> Result<Value<'v>> {
        let kind = self.kind;
        let get = |name: &str| given.get(name).copied();
        let flag = |name: &str, default: bool| -> Result<bool> {
            match get(name) {
                None => Ok(default),
                Some(v) => v
                    .unpack_bool()
                    .ok_or_else(|| anyhow!("attr.{kind}({name} = ...) takes a bool, got {} `{v}`", v.get_type())),
            }
        };
        let doc = match get("doc") {
            None => String::new(),
            Some(v) => {
                v.unpack_str().map(str::to_string).ok_or_else(|| anyhow!("attr.{kind}(doc = ...) takes a string"))?
            }
        };
        let single = kind == "label" && truthy(get("allow_single_file"));
        let mut checks = Checks {
            mandatory: flag("mandatory", false)?,
            doc,
            allow_files: single,
            file_types: if single { file_types(get("allow_single_file")) } else { None },
            single_file: single,
            executable: flag("executable", false)?,
            non_empty: !flag("allow_empty", true)?,
            ..Checks::default()
        };
        if self.args.contains(&"cfg") {
            checks = label_checks(kind, given, checks)?;
        }
        let default = match get("default") {
            Some(v) => v,
            None => match kind {
                "label" | "output" => Value::new_none(),
                "label_list" | "string_list" | "output_list" => heap.alloc(AllocList::EMPTY),
                "label_keyed_string_dict" | "string_dict" => heap.alloc(AllocDict::EMPTY),
                "string" => heap.alloc(""),
                "int" => heap.alloc(0),
                _ => Value::new_bool(false),
            },
        };
        let values = get("values").and_then(elements).unwrap_or_default();
        Ok(heap.alloc_complex(AttributeGen { kind, checks, default, values }))
    }
}

fn truthy(value: Option<Value<'_>>) -> bool {
    value.is_some_and(|v| !v.is_none() && v.to_bool())
}

/// A label attribute's checks: refuse what relink cannot honour (another configuration,
/// aspects), then the files, providers and rules it allows.
fn label_checks(
    kind: &str,
    given: &std::collections::HashMap<String, Value<'_>>,
    mut checks: Checks,
) -> Result<Checks> {
    let get = |name: &str| given.get(name).copied();
    if let Some(cfg) = get("cfg") {
        if !cfg.unpack_str().is_some_and(|c| SAME_CONFIGURATION.contains(&c)) {
            bail!("attr.{kind}(cfg = {cfg}): relink builds in one configuration (the host); use \"exec\" or \"target\", or no cfg");
        }
    }
    if get("aspects").and_then(elements).is_some_and(|a| !a.is_empty()) {
        bail!("attr.{kind}(aspects = ...): relink does not implement aspects");
    }
    checks.allow_files |= truthy(get("allow_files"));
    if checks.file_types.is_none() {
        checks.file_types = file_types(get("allow_files"));
    }
    checks.providers = provider_groups(get("providers")).map_err(|e| anyhow!("attr.{kind}: {e}"))?;
    checks.allow_rules = get("allow_rules")
        .and_then(elements)
        .map(|l| l.iter().map(|r| r.unpack_str().unwrap_or_default().to_string()).collect());
    Ok(checks)
}

/// Register the `attr` namespace.
pub fn register(builder: &mut GlobalsBuilder) {
    builder.namespace("attr", |attr| {
        for (kind, args, has_default) in FUNCTIONS {
            attr.set(kind, AttrFunction { kind, args, has_default: *has_default });
        }
    });
}
