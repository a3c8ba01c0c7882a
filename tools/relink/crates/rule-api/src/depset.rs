//! `depset`: Bazel's nested set as a native value. A depset holds its direct elements and its
//! child depsets; `to_list()` flattens it in the order it was made with, without duplicates.

use std::collections::{HashMap, HashSet};
use std::fmt;

use allocative::Allocative;
use anyhow::{anyhow, bail, Result};
use starlark::any::ProvidesStaticType;
use starlark::coerce::Coerce;
use starlark::environment::{Methods, MethodsBuilder};
use starlark::starlark_complex_value;
use starlark::starlark_module;
use starlark::values::list::ListRef;
use starlark::values::tuple::TupleRef;
use starlark::values::{
    Freeze, FreezeResult, Freezer, Heap, NoSerialize, StarlarkValue, Trace, Value, ValueIdentity, ValueLifetimeless,
    ValueLike,
};
use starlark_derive::starlark_value;

use crate::sl::SlResult;

/// How a depset's elements are ordered when it is flattened (Bazel's `order`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Allocative)]
pub enum Order {
    /// Bazel's "default" (which is postorder, but combines with every other order).
    Default,
    /// Children first, left to right, then the direct elements.
    Postorder,
    /// Direct elements first, then the children.
    Preorder,
    /// Every element before the elements of the children that hold it.
    Topological,
}

impl Order {
    /// The order a `depset(order = ...)` string names.
    pub fn parse(name: &str) -> Result<Order> {
        Ok(match name {
            "default" | "stable" => Order::Default,
            "postorder" | "compile" => Order::Postorder,
            "preorder" | "naive_link" => Order::Preorder,
            "topological" | "link" => Order::Topological,
            other => bail!("depset: invalid order {other:?} (use one of default, postorder, preorder, topological)"),
        })
    }

    /// Bazel's name of the order.
    pub fn name(self) -> &'static str {
        match self {
            Order::Default => "default",
            Order::Postorder => "postorder",
            Order::Preorder => "preorder",
            Order::Topological => "topological",
        }
    }

    fn combines_with(self, other: Order) -> bool {
        self == other || self == Order::Default || other == Order::Default
    }
}

/// A depset: direct elements and child depsets (never an empty child), made in one order.
#[derive(Debug, Trace, ProvidesStaticType, NoSerialize, Allocative)]
#[repr(C)]
pub struct DepsetGen<V: ValueLifetimeless> {
    #[allocative(skip)]
    order: Order,
    /// The Starlark type of the elements (`None` while empty), as Bazel checks it.
    #[allocative(skip)]
    element_type: Option<&'static str>,
    direct: Vec<V>,
    transitive: Vec<V>,
}

// Manual: `Order` and the type name are the same in both states.
unsafe impl<From: Coerce<To> + ValueLifetimeless, To: ValueLifetimeless> Coerce<DepsetGen<To>> for DepsetGen<From> {}

starlark_complex_value!(pub Depset);

impl<'v> Freeze for Depset<'v> {
    type Frozen = FrozenDepset;
    fn freeze(self, freezer: &Freezer) -> FreezeResult<FrozenDepset> {
        Ok(DepsetGen {
            order: self.order,
            element_type: self.element_type,
            direct: self.direct.freeze(freezer)?,
            transitive: self.transitive.freeze(freezer)?,
        })
    }
}

impl<V: ValueLifetimeless> fmt::Display for DepsetGen<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "depset(<{} direct, {} transitive>)", self.direct.len(), self.transitive.len())
    }
}

#[starlark_value(type = "depset")]
impl<'v, V: ValueLike<'v>> StarlarkValue<'v> for DepsetGen<V>
where
    Self: ProvidesStaticType<'v>,
{
    fn get_methods() -> Option<&'static Methods> {
        Some(DEPSET_METHODS.methods())
    }

    fn to_bool(&self) -> bool {
        !self.direct.is_empty() || !self.transitive.is_empty()
    }

    fn collect_repr(&self, collector: &mut String) {
        let items = self.elements().unwrap_or_default();
        collector.push_str("depset([");
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                collector.push_str(", ");
            }
            item.collect_repr(collector);
        }
        collector.push(']');
        if self.order != Order::Default {
            collector.push_str(&format!(", order = \"{}\"", self.order.name()));
        }
        collector.push(')');
    }
}

starlark::methods_static!(DEPSET_METHODS = depset_methods);

#[starlark_module]
fn depset_methods(builder: &mut MethodsBuilder) {
    /// The elements, flattened in the depset's order, without duplicates.
    fn to_list<'v>(this: Value<'v>) -> starlark::Result<Vec<Value<'v>>> {
        let depset = Depset::from_value(this).ok_or_else(|| crate::sl::err(anyhow!("not a depset")))?;
        depset.elements().map_err(crate::sl::err)
    }
}

/// The elements of a list or a tuple.
fn sequence<'v>(value: Value<'v>, what: &str) -> Result<Vec<Value<'v>>> {
    if let Some(list) = ListRef::from_value(value) {
        return Ok(list.content().to_vec());
    }
    if let Some(tuple) = TupleRef::from_value(value) {
        return Ok(tuple.content().to_vec());
    }
    bail!("depset: {what} must be a list or a tuple, got {} `{value}`", value.get_type())
}

/// `depset(direct = None, order = "default", transitive = None)`.
pub fn make<'v>(
    direct: Option<Value<'v>>,
    order: &str,
    transitive: Option<Value<'v>>,
    heap: Heap<'v>,
) -> Result<Value<'v>> {
    let order = Order::parse(order)?;
    let direct = match direct {
        Some(d) if !d.is_none() => sequence(d, "direct")?,
        _ => Vec::new(),
    };
    let mut element_type = None;
    for item in &direct {
        check_type(&mut element_type, item.get_type())?;
    }
    let mut children = Vec::new();
    for child in transitive.filter(|t| !t.is_none()).map(|t| sequence(t, "transitive")).transpose()?.unwrap_or_default()
    {
        let set = Depset::from_value(child)
            .ok_or_else(|| anyhow!("depset: transitive takes depsets, got {} `{child}`", child.get_type()))?;
        if !set.order.combines_with(order) {
            bail!("depset: order mismatch: {} != {}", set.order.name(), order.name());
        }
        if let Some(t) = set.element_type {
            check_type(&mut element_type, t)?;
            children.push(child);
        }
    }
    if direct.is_empty() && children.len() == 1 && Depset::from_value(children[0]).is_some_and(|c| c.order == order) {
        // Sharing the only child keeps chains of forwarded depsets flat.
        return Ok(children[0]);
    }
    Ok(heap.alloc_complex(DepsetGen { order, element_type, direct, transitive: children }))
}

fn check_type(element_type: &mut Option<&'static str>, next: &'static str) -> Result<()> {
    match element_type {
        Some(t) if *t != next => bail!("depset: cannot add an item of type '{next}' to a depset of '{t}'"),
        _ => {
            *element_type = Some(next);
            Ok(())
        }
    }
}

impl<'v, V: ValueLike<'v>> DepsetGen<V> {
    /// The elements in Bazel's order, without duplicates.
    pub fn elements(&self) -> Result<Vec<Value<'v>>> {
        let mut seen_nodes = HashSet::new();
        let mut out = Elements::default();
        let direct: Vec<Value<'v>> = self.direct.iter().map(|v| v.to_value()).collect();
        let transitive: Vec<Value<'v>> = self.transitive.iter().map(|v| v.to_value()).collect();
        visit(&direct, &transitive, self.order, &mut seen_nodes, &mut out)?;
        let mut items = out.items;
        if self.order == Order::Topological {
            items.reverse();
        }
        Ok(items)
    }
}

/// Elements seen so far: equal hashable values count once; unhashable ones (a struct with a
/// list field) once per identity.
#[derive(Default)]
struct Elements<'v> {
    items: Vec<Value<'v>>,
    by_hash: HashMap<u32, Vec<Value<'v>>>,
    unhashable: HashSet<ValueIdentity<'v>>,
}

impl<'v> Elements<'v> {
    fn push(&mut self, v: Value<'v>) -> Result<()> {
        let Ok(hashed) = v.get_hashed() else {
            if self.unhashable.insert(v.identity()) {
                self.items.push(v);
            }
            return Ok(());
        };
        let hash = hashed.hash().get();
        let bucket = self.by_hash.entry(hash).or_default();
        for existing in bucket.iter() {
            if existing.equals(v).anyhow()? {
                return Ok(());
            }
        }
        bucket.push(v);
        self.items.push(v);
        Ok(())
    }
}

fn visit<'v>(
    direct: &[Value<'v>],
    transitive: &[Value<'v>],
    order: Order,
    seen: &mut HashSet<ValueIdentity<'v>>,
    out: &mut Elements<'v>,
) -> Result<()> {
    let direct_first = order == Order::Preorder;
    // Topological output is reversed at the end, so visit everything in reverse here.
    let (direct_items, children): (Vec<Value<'v>>, Vec<Value<'v>>) = if order == Order::Topological {
        (direct.iter().rev().copied().collect(), transitive.iter().rev().copied().collect())
    } else {
        (direct.to_vec(), transitive.to_vec())
    };
    if direct_first {
        for v in &direct_items {
            out.push(*v)?;
        }
    }
    for child in children {
        if !seen.insert(child.identity()) {
            continue;
        }
        let set = Depset::from_value(child).ok_or_else(|| anyhow!("internal error: a depset child is not a depset"))?;
        let d: Vec<Value<'v>> = set.direct.iter().map(|v| v.to_value()).collect();
        let t: Vec<Value<'v>> = set.transitive.iter().map(|v| v.to_value()).collect();
        visit(&d, &t, order, seen, out)?;
    }
    if !direct_first {
        for v in &direct_items {
            out.push(*v)?;
        }
    }
    Ok(())
}

/// Flatten a value that is a depset, a list or None.
pub fn to_list<'v>(value: Value<'v>) -> Result<Vec<Value<'v>>> {
    if let Some(l) = ListRef::from_value(value) {
        return Ok(l.content().to_vec());
    }
    if let Some(set) = Depset::from_value(value) {
        return set.elements();
    }
    if value.is_none() {
        return Ok(Vec::new());
    }
    Err(anyhow!("expected a list or a depset, got {} `{}`", value.get_type(), value))
}
