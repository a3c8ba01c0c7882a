//! Flattening depsets (the prelude's `depset` is a struct of direct items and children).

use std::collections::{HashMap, HashSet};

use crate::sl::SlResult;
use anyhow::{anyhow, Result};
use starlark::values::list::ListRef;
use starlark::values::{Heap, Value, ValueIdentity};

fn list<'v>(v: Value<'v>) -> Result<&'v [Value<'v>]> {
    ListRef::from_value(v).map(|l| l.content()).ok_or_else(|| anyhow!("internal error: depset parts must be lists"))
}

fn attr<'v>(v: Value<'v>, name: &str, heap: Heap<'v>) -> Result<Value<'v>> {
    v.get_attr(name, heap).anyhow()?.ok_or_else(|| anyhow!("expected a depset, got {} `{}`", v.get_type(), v))
}

/// Elements of a depset in Bazel's order, without duplicates.
pub fn flatten<'v>(direct: Value<'v>, transitive: Value<'v>, order: &str, heap: Heap<'v>) -> Result<Vec<Value<'v>>> {
    let mut seen_nodes = HashSet::new();
    let mut out = Elements::default();
    visit(list(direct)?, list(transitive)?, order, heap, &mut seen_nodes, &mut out)?;
    let mut items = out.items;
    if order == "topological" {
        items.reverse();
    }
    Ok(items)
}

#[derive(Default)]
struct Elements<'v> {
    items: Vec<Value<'v>>,
    by_hash: HashMap<u32, Vec<Value<'v>>>,
}

impl<'v> Elements<'v> {
    fn push(&mut self, v: Value<'v>) -> Result<()> {
        let hash = v.get_hashed().anyhow()?.hash().get();
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
    order: &str,
    heap: Heap<'v>,
    seen: &mut HashSet<ValueIdentity<'v>>,
    out: &mut Elements<'v>,
) -> Result<()> {
    let direct_first = order == "preorder";
    // Topological output is reversed at the end, so emit in reverse postorder-compatible way.
    let (direct_items, children): (Vec<Value<'v>>, Vec<Value<'v>>) = if order == "topological" {
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
        let id = child.identity();
        if !seen.insert(id) {
            continue;
        }
        let d = attr(child, "_relink_direct", heap)?;
        let t = attr(child, "_relink_transitive", heap)?;
        visit(list(d)?, list(t)?, order, heap, seen, out)?;
    }
    if !direct_first {
        for v in &direct_items {
            out.push(*v)?;
        }
    }
    Ok(())
}

/// Flatten a value that is a depset or a list.
pub fn to_list<'v>(value: Value<'v>, heap: Heap<'v>) -> Result<Vec<Value<'v>>> {
    if let Some(l) = ListRef::from_value(value) {
        return Ok(l.content().to_vec());
    }
    if value.get_attr("_relink_depset", heap).anyhow()?.is_some() {
        let d = attr(value, "_relink_direct", heap)?;
        let t = attr(value, "_relink_transitive", heap)?;
        let order = attr(value, "_relink_order", heap)?;
        return flatten(d, t, order.unpack_str().unwrap_or("default"), heap);
    }
    if value.is_none() {
        return Ok(Vec::new());
    }
    Err(anyhow!("expected a list or a depset, got {} `{}`", value.get_type(), value))
}
