//! Provider instances (`MyInfo(x = 1)`) as a native value: the fields, and the key of the
//! provider that made them, which `Target[MyInfo]` and `rule(provides = ...)` look up.

use std::fmt;
use std::hash::Hasher;

use allocative::Allocative;
use starlark::any::ProvidesStaticType;
use starlark::coerce::Coerce;
use starlark::starlark_complex_value;
use starlark::values::{
    Freeze, FreezeResult, Freezer, Heap, NoSerialize, StarlarkValue, Trace, Value, ValueLifetimeless, ValueLike,
};
use starlark_derive::starlark_value;

/// An instance of a provider: field names (sorted) and their values.
#[derive(Debug, Trace, ProvidesStaticType, NoSerialize, Allocative)]
#[repr(C)]
pub struct InfoGen<V: ValueLifetimeless> {
    /// The key of the provider that made it.
    #[allocative(skip)]
    key: u64,
    /// The provider's exported name, for `repr`.
    #[allocative(skip)]
    provider: String,
    #[allocative(skip)]
    names: Vec<String>,
    values: Vec<V>,
}

// Manual: key, name and field names are the same in both states.
unsafe impl<From: Coerce<To> + ValueLifetimeless, To: ValueLifetimeless> Coerce<InfoGen<To>> for InfoGen<From> {}

starlark_complex_value!(pub Info);

impl<'v> Freeze for Info<'v> {
    type Frozen = FrozenInfo;
    fn freeze(self, freezer: &Freezer) -> FreezeResult<FrozenInfo> {
        Ok(InfoGen { key: self.key, provider: self.provider, names: self.names, values: self.values.freeze(freezer)? })
    }
}

impl<'v> Info<'v> {
    /// An instance of provider `key` (named `provider`) with these fields.
    pub fn new(key: u64, provider: &str, mut fields: Vec<(String, Value<'v>)>) -> Info<'v> {
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        let (names, values) = fields.into_iter().unzip();
        InfoGen { key, provider: provider.to_string(), names, values }
    }
}

impl<'v, V: ValueLike<'v>> InfoGen<V> {
    /// The key of the provider that made this instance.
    pub fn key(&self) -> u64 {
        self.key
    }

    fn field(&self, name: &str) -> Option<Value<'v>> {
        self.names.iter().position(|n| n == name).map(|i| self.values[i].to_value())
    }
}

impl<'v, V: ValueLike<'v>> fmt::Display for InfoGen<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.provider)?;
        for (i, (name, value)) in self.names.iter().zip(&self.values).enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{name} = {}", value.to_value().to_repr())?;
        }
        write!(f, ")")
    }
}

#[starlark_value(type = "struct")]
impl<'v, V: ValueLike<'v>> StarlarkValue<'v> for InfoGen<V>
where
    Self: ProvidesStaticType<'v>,
{
    fn get_attr(&self, attribute: &str, _heap: Heap<'v>) -> Option<Value<'v>> {
        self.field(attribute)
    }

    fn has_attr(&self, attribute: &str, _heap: Heap<'v>) -> bool {
        self.names.iter().any(|n| n == attribute)
    }

    fn dir_attr(&self) -> Vec<String> {
        self.names.clone()
    }

    fn equals(&self, other: Value<'v>) -> starlark::Result<bool> {
        let Some(other) = Info::from_value(other) else { return Ok(false) };
        if other.key != self.key || other.names != self.names {
            return Ok(false);
        }
        for (a, b) in self.values.iter().zip(&other.values) {
            if !a.to_value().equals(*b)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn write_hash(&self, hasher: &mut starlark::collections::StarlarkHasher) -> starlark::Result<()> {
        hasher.write_u64(self.key);
        for v in &self.values {
            v.to_value().write_hash(hasher)?;
        }
        Ok(())
    }
}

/// The provider key of a provider instance, if `value` is one.
pub fn provider_key_of(value: Value<'_>) -> Option<u64> {
    Info::from_value(value).map(|i| i.key())
}
