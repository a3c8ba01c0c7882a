//! Rules as values: what `rule()` returns (its specification inside), and what calling one in a BUILD file does
//! (validate the attribute names, record the target for the package).

use std::fmt;
use std::sync::OnceLock;

use allocative::Allocative;
use anyhow::{anyhow, bail, Result};
use relink_core::label::Label;
use starlark::any::ProvidesStaticType;
use starlark::coerce::Coerce;
use starlark::eval::{Arguments, Evaluator};
use starlark::starlark_complex_value;
use starlark::values::dict::AllocDict;
use starlark::values::{
    Freeze, FreezeResult, Freezer, NoSerialize, StarlarkValue, StringValue, Trace, Value, ValueLifetimeless, ValueLike,
};
use starlark_derive::starlark_value;

use super::{eval_context, PendingTarget, COMMON_ATTRIBUTES};

/// A rule made by `rule()`: its identity, the name it is exported under, and its
/// specification (a [`RuleSpec`](relink_rule_api::rule_spec::RuleSpec) value).
#[derive(Debug, Trace, ProvidesStaticType, NoSerialize, Allocative)]
#[repr(C)]
pub struct RuleGen<V: ValueLifetimeless> {
    /// Unique identity.
    #[allocative(skip)]
    pub id: u64,
    /// The exported name (`rust_library`), the rule's kind.
    #[allocative(skip)]
    pub kind: OnceLock<String>,
    /// The `RuleSpec`.
    pub spec: V,
}

// Manual: identity and name are the same in both states.
unsafe impl<From: Coerce<To> + ValueLifetimeless, To: ValueLifetimeless> Coerce<RuleGen<To>> for RuleGen<From> {}

starlark_complex_value!(pub Rule);

impl<'v> Freeze for Rule<'v> {
    type Frozen = FrozenRule;
    fn freeze(self, freezer: &Freezer) -> FreezeResult<FrozenRule> {
        Ok(RuleGen { id: self.id, kind: self.kind, spec: self.spec.freeze(freezer)? })
    }
}

impl<V: ValueLifetimeless> fmt::Display for RuleGen<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<rule {}>", self.kind.get().map_or("<unexported>", String::as_str))
    }
}

#[starlark_value(type = "rule")]
impl<'v, V: ValueLike<'v>> StarlarkValue<'v> for RuleGen<V>
where
    Self: ProvidesStaticType<'v>,
{
    fn invoke(
        &self,
        _me: Value<'v>,
        args: &Arguments<'v, '_>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Value<'v>> {
        let Some(kind) = self.kind.get() else {
            return Err(starlark::Error::new_other(anyhow!(
                "a rule must be assigned to a global variable in a .bzl file before it is used"
            )));
        };
        args.no_positional_args(eval.heap())?;
        let named = args.names_map()?;
        instantiate_rule(self.id, kind, &named, eval).map_err(starlark::Error::new_other)?;
        Ok(Value::new_none())
    }

    fn export_as(&self, variable_name: &str, _eval: &mut Evaluator<'v, '_, '_>) -> starlark::Result<()> {
        let _ = self.kind.set(variable_name.to_string());
        Ok(())
    }
}

fn location(eval: &Evaluator<'_, '_, '_>) -> String {
    match eval.call_stack_top_location() {
        Some(span) => format!("{}:{}", span.filename(), span.resolve_span().begin.line + 1),
        None => "<unknown location>".to_string(),
    }
}

/// Called when a rule is invoked in a BUILD file: validate attribute names and record the target.
pub fn instantiate_rule<'v>(
    rule_id: u64,
    kind: &str,
    named: &starlark::collections::SmallMap<StringValue<'v>, Value<'v>>,
    eval: &mut Evaluator<'v, '_, '_>,
) -> Result<()> {
    let loc = location(eval);
    let ctx = eval_context(eval)?;
    if !ctx.is_build {
        bail!("{loc}: {kind}() can only be called while evaluating a BUILD file");
    }
    let mut name = None;
    let mut attrs: Vec<(Value<'v>, Value<'v>)> = Vec::new();
    let rule = ctx.loader.rule(rule_id)?;
    let allowed: Vec<&str> = rule.attrs.iter().map(|a| a.name.as_str()).collect();
    for (key, value) in named.iter() {
        let key_str = key.as_str();
        if key_str == "name" {
            name = Some(
                value.unpack_str().ok_or_else(|| anyhow!("{loc}: {kind}(name = ...) must be a string"))?.to_string(),
            );
            continue;
        }
        if !allowed.contains(&key_str) && !COMMON_ATTRIBUTES.contains(&key_str) {
            bail!(
                "{loc}: {kind}() got an unknown attribute `{key_str}` (its attributes: {})",
                allowed.iter().filter(|a| !a.starts_with('_')).cloned().collect::<Vec<_>>().join(", ")
            );
        }
        attrs.push((key.to_value(), *value));
    }
    let name = name.ok_or_else(|| anyhow!("{loc}: {kind}() needs a `name`"))?;
    Label::check_target_name(&name).map_err(|e| anyhow!("{loc}: {kind}(name = {name:?}): {e}"))?;
    let mut pending = ctx.pending.borrow_mut();
    if pending.iter().any(|p| p.name == name) {
        bail!("{loc}: target `{name}` is declared twice in this package");
    }
    let var = format!("__relink_target_{}", pending.len());
    eval.module().set(&var, eval.heap().alloc(AllocDict(attrs)));
    pending.push(PendingTarget { name, kind: kind.to_string(), rule_id, var, location: loc });
    Ok(())
}
