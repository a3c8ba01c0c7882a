//! What `rule()` records, as a native value (`RuleSpec`), and the typed form loading and
//! analysis read (`ParsedRule`): parsed once per rule, shared by every target of it.

use std::fmt;

use allocative::Allocative;
use anyhow::{anyhow, Result};
use starlark::any::ProvidesStaticType;
use starlark::coerce::Coerce;
use starlark::starlark_complex_value;
use starlark::values::dict::DictRef;
use starlark::values::{
    Freeze, FreezeResult, Freezer, NoSerialize, OwnedFrozenValue, StarlarkValue, Trace, Value, ValueLifetimeless,
    ValueLike,
};
use starlark_derive::starlark_value;

use crate::attribute::{Attribute, FrozenAttribute};
use crate::attrs::AttrSchema;

/// The facts of a rule besides its implementation and attributes.
#[derive(Clone, Debug, Default, Allocative)]
pub struct RuleFacts {
    /// `executable = True`.
    pub executable: bool,
    /// `test = True`.
    pub test: bool,
    /// `toolchains`: each requested type as a canonical label and as written.
    pub toolchains: Vec<(String, String)>,
    /// `provides`: (key, name) of each provider the implementation must return.
    pub provides: Vec<(u64, String)>,
}

/// The value `rule()` keeps in a module variable of the `.bzl` file that defines the rule.
#[derive(Debug, Trace, ProvidesStaticType, NoSerialize, Allocative)]
#[repr(C)]
pub struct RuleSpecGen<V: ValueLifetimeless> {
    implementation: V,
    /// The `attrs` dict: attribute names to `attr.*()` values.
    attrs: V,
    #[allocative(skip)]
    facts: RuleFacts,
}

// Manual: the facts are the same in both states.
unsafe impl<From: Coerce<To> + ValueLifetimeless, To: ValueLifetimeless> Coerce<RuleSpecGen<To>> for RuleSpecGen<From> {}

starlark_complex_value!(pub RuleSpec);

impl<'v> Freeze for RuleSpec<'v> {
    type Frozen = FrozenRuleSpec;
    fn freeze(self, freezer: &Freezer) -> FreezeResult<FrozenRuleSpec> {
        Ok(RuleSpecGen {
            implementation: self.implementation.freeze(freezer)?,
            attrs: self.attrs.freeze(freezer)?,
            facts: self.facts,
        })
    }
}

impl<V: ValueLifetimeless> fmt::Display for RuleSpecGen<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<rule specification>")
    }
}

#[starlark_value(type = "rule_specification")]
impl<'v, V: ValueLike<'v>> StarlarkValue<'v> for RuleSpecGen<V> where Self: ProvidesStaticType<'v> {}

impl<'v> RuleSpec<'v> {
    /// A rule's specification; every value of `attrs` must come from `attr.*()` (checked here,
    /// so the error points at the `rule()` call).
    pub fn new(implementation: Value<'v>, attrs: Value<'v>, facts: RuleFacts) -> Result<RuleSpec<'v>> {
        let dict = DictRef::from_value(attrs)
            .ok_or_else(|| anyhow!("rule(attrs = ...) takes a dict, got {} `{attrs}`", attrs.get_type()))?;
        for (name, a) in dict.iter() {
            let name = name
                .unpack_str()
                .ok_or_else(|| anyhow!("rule(attrs = ...): attribute names are strings, got `{name}`"))?;
            if Attribute::from_value(a).is_none() {
                return Err(anyhow!("attribute `{name}` must be made with attr.*(), got {} `{a}`", a.get_type()));
            }
        }
        Ok(RuleSpecGen { implementation, attrs, facts })
    }
}

/// A rule as loading and analysis use it: parsed once from its frozen specification.
pub struct ParsedRule {
    /// The implementation function (its heap kept alive by the owned value).
    pub implementation: OwnedFrozenValue,
    pub facts: RuleFacts,
    /// The attributes, in the order `attrs` gave them.
    pub attrs: Vec<AttrSchema>,
}

impl ParsedRule {
    /// Parse the `RuleSpec` that `spec` holds.
    pub fn parse(spec: &OwnedFrozenValue) -> Result<ParsedRule> {
        let not_a_spec = || anyhow!("internal error: not a rule specification: {}", spec.value());
        let rule = RuleSpec::from_value(spec.value()).ok_or_else(not_a_spec)?;
        let implementation = spec
            .try_map(|v| RuleSpec::from_value(v.to_value()).and_then(|r| r.implementation.unpack_frozen()).ok_or(()))
            .map_err(|()| not_a_spec())?;
        let attrs = DictRef::from_value(rule.attrs)
            .ok_or_else(|| anyhow!("internal error: rule attrs are not a dict"))?
            .iter()
            .map(|(name, a)| {
                let attribute = a
                    .unpack_frozen()
                    .and_then(|f| f.downcast_ref::<FrozenAttribute>())
                    .ok_or_else(|| anyhow!("internal error: attribute is not an attr.*() value"))?;
                Ok(AttrSchema::new(name.unpack_str().unwrap_or_default(), attribute))
            })
            .collect::<Result<_>>()?;
        Ok(ParsedRule { implementation, facts: rule.facts.clone(), attrs })
    }
}
