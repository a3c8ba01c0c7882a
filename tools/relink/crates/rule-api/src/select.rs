//! `select()`: a configurable attribute value as a native value. `select({...}) + [...]`,
//! `[...] + select({...})` and sums of selects are kept as their parts, resolved by analysis
//! against the configuration and then added up (lists and strings concatenated, dicts merged).

use std::fmt;

use allocative::Allocative;
use anyhow::{anyhow, bail, Result};
use starlark::any::ProvidesStaticType;
use starlark::coerce::Coerce;
use starlark::starlark_complex_value;
use starlark::values::dict::DictRef;
use starlark::values::{
    Freeze, FreezeResult, Freezer, Heap, NoSerialize, StarlarkValue, Trace, Value, ValueLifetimeless, ValueLike,
};
use starlark_derive::starlark_value;

use crate::sl::SlResult;

/// One term of a sum that holds a select.
#[derive(Debug, Trace, Allocative)]
#[repr(C)]
pub enum PartGen<V: ValueLifetimeless> {
    /// A value given as is (`[":a"]` in `[":a"] + select(...)`).
    Plain(V),
    /// `select(branches, no_match_error)`: a dict from condition labels to values.
    Select(V, #[allocative(skip)] String),
}

/// A `select()`, or a sum in which one appears.
#[derive(Debug, Trace, ProvidesStaticType, NoSerialize, Allocative)]
#[repr(C)]
pub struct SelectGen<V: ValueLifetimeless> {
    parts: Vec<PartGen<V>>,
}

// Manual: the parts hold values of the same representation in both states.
unsafe impl<From: Coerce<To> + ValueLifetimeless, To: ValueLifetimeless> Coerce<SelectGen<To>> for SelectGen<From> {}

starlark_complex_value!(pub Select);

impl<'v> Freeze for Select<'v> {
    type Frozen = FrozenSelect;
    fn freeze(self, freezer: &Freezer) -> FreezeResult<FrozenSelect> {
        let parts = self
            .parts
            .into_iter()
            .map(|p| {
                Ok(match p {
                    PartGen::Plain(v) => PartGen::Plain(v.freeze(freezer)?),
                    PartGen::Select(v, error) => PartGen::Select(v.freeze(freezer)?, error),
                })
            })
            .collect::<FreezeResult<_>>()?;
        Ok(SelectGen { parts })
    }
}

impl<'v, V: ValueLike<'v>> fmt::Display for SelectGen<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, part) in self.parts.iter().enumerate() {
            if i > 0 {
                write!(f, " + ")?;
            }
            match part {
                PartGen::Plain(v) => write!(f, "{}", v.to_value())?,
                PartGen::Select(v, _) => write!(f, "select({})", v.to_value())?,
            }
        }
        Ok(())
    }
}

#[starlark_value(type = "select")]
impl<'v, V: ValueLike<'v>> StarlarkValue<'v> for SelectGen<V>
where
    Self: ProvidesStaticType<'v>,
{
    fn add(&self, rhs: Value<'v>, heap: Heap<'v>) -> Option<starlark::Result<Value<'v>>> {
        let mut parts = self.values();
        parts.extend(parts_of(rhs));
        Some(Ok(heap.alloc_complex(SelectGen { parts })))
    }

    fn radd(&self, lhs: Value<'v>, heap: Heap<'v>) -> Option<starlark::Result<Value<'v>>> {
        let mut parts = parts_of(lhs);
        parts.extend(self.values());
        Some(Ok(heap.alloc_complex(SelectGen { parts })))
    }
}

impl<'v, V: ValueLike<'v>> SelectGen<V> {
    fn values(&self) -> Vec<PartGen<Value<'v>>> {
        self.parts
            .iter()
            .map(|p| match p {
                PartGen::Plain(v) => PartGen::Plain(v.to_value()),
                PartGen::Select(v, e) => PartGen::Select(v.to_value(), e.clone()),
            })
            .collect()
    }
}

/// The parts of a value added to a select: its own parts if it is one.
fn parts_of(value: Value<'_>) -> Vec<PartGen<Value<'_>>> {
    match Select::from_value(value) {
        Some(s) => s.values(),
        None => vec![PartGen::Plain(value)],
    }
}

/// `select(x, no_match_error = "")`.
pub fn make<'v>(branches: Value<'v>, no_match_error: &str, heap: Heap<'v>) -> Result<Value<'v>> {
    let dict = DictRef::from_value(branches)
        .ok_or_else(|| anyhow!("select() takes a dict, got {} `{branches}`", branches.get_type()))?;
    if dict.is_empty() {
        bail!("select({{}}) has no conditions: add one, or \"//conditions:default\"");
    }
    for key in dict.keys() {
        if key.unpack_str().is_none() && key.get_type() != "Label" {
            bail!("select() keys must be labels, got {} `{key}`", key.get_type());
        }
    }
    Ok(heap.alloc_complex(SelectGen { parts: vec![PartGen::Select(branches, no_match_error.to_string())] }))
}

/// What a configurable value becomes: `choose(branches)` picks the value of a select's dict
/// (or fails with its `no_match_error`), and the parts are added up. Other values are returned
/// as they are.
pub fn resolve<'v>(
    value: Value<'v>,
    heap: Heap<'v>,
    mut choose: impl FnMut(DictRef<'v>, &str) -> Result<Value<'v>>,
) -> Result<Value<'v>> {
    let Some(select) = Select::from_value(value) else { return Ok(value) };
    let mut sum: Option<Value<'v>> = None;
    for part in select.values() {
        let term = match part {
            PartGen::Plain(v) => v,
            PartGen::Select(branches, error) => choose(
                DictRef::from_value(branches).ok_or_else(|| anyhow!("internal error: select branches"))?,
                &error,
            )?,
        };
        sum = Some(match sum {
            None => term,
            Some(acc) => add(acc, term, heap)?,
        });
    }
    sum.ok_or_else(|| anyhow!("internal error: an empty select"))
}

/// `a + b` as Bazel adds configurable values: dicts are merged (a key of `b` wins).
fn add<'v>(a: Value<'v>, b: Value<'v>, heap: Heap<'v>) -> Result<Value<'v>> {
    if DictRef::from_value(a).is_some() && DictRef::from_value(b).is_some() {
        return a.bit_or(b, heap).anyhow();
    }
    a.add(b, heap).anyhow().map_err(|e| anyhow!("adding the branches of a select(): {e}"))
}
