//! The natives of the rule API that belong to no phase: `provider`, `DefaultInfo`, `depset`,
//! `select`, `attr`, `Args`, and the Starlark library extensions every file gets. `register` adds them;
//! loading and analysis register their own natives beside them (see `analysis::globals`).

use std::sync::OnceLock;

use anyhow::anyhow;
use starlark::environment::{GlobalsBuilder, LibraryExtension};
use starlark::starlark_module;
use starlark::values::dict::DictRef;
use starlark::values::{Heap, Value};

use super::values::ProviderValue;

/// Fields of the built-in `DefaultInfo` provider.
const DEFAULT_INFO_FIELDS: &[&str] = &["files", "runfiles", "executable", "data_runfiles", "default_runfiles"];

/// The key of `DefaultInfo`, fixed when the globals are built.
pub fn default_info_key() -> u64 {
    *DEFAULT_INFO_KEY.get().expect("globals are built before analysis")
}

static DEFAULT_INFO_KEY: OnceLock<u64> = OnceLock::new();

/// The Starlark library extensions relink's files may use.
pub const EXTENSIONS: &[LibraryExtension] = &[
    LibraryExtension::StructType,
    LibraryExtension::Print,
    LibraryExtension::Json,
    LibraryExtension::Map,
    LibraryExtension::Filter,
];

/// Add `provider`, `DefaultInfo`, `depset`, `select`, `attr` and the `Args` constructor.
pub fn register(builder: &mut GlobalsBuilder) {
    providers(builder);
    super::attribute::register(builder);
    let fields = DEFAULT_INFO_FIELDS.iter().map(|s| s.to_string()).collect();
    let provider = ProviderValue::new(Some(fields), Some("DefaultInfo"));
    let _ = DEFAULT_INFO_KEY.set(provider.key);
    builder.set("DefaultInfo", provider);
}

pub use crate::sl::err;

#[starlark_module]
fn providers(builder: &mut GlobalsBuilder) {
    /// Declare a provider (Bazel's `provider()`).
    fn provider<'v>(
        #[starlark(default = "")] doc: &str,
        #[starlark(require = named)] fields: Option<Value<'v>>,
        #[starlark(require = named)] init: Option<Value<'v>>,
    ) -> starlark::Result<ProviderValue> {
        let _ = doc;
        if init.is_some() {
            return Err(err(anyhow!("provider(init = ...) is not supported by relink")));
        }
        let fields = match fields {
            None => None,
            Some(v) => {
                if let Some(dict) = DictRef::from_value(v) {
                    Some(dict.keys().map(|k| k.to_str()).collect())
                } else {
                    let list = starlark::values::list::ListRef::from_value(v)
                        .ok_or_else(|| err(anyhow!("provider(fields = ...) takes a list or a dict")))?;
                    Some(list.iter().map(|f| f.to_str()).collect())
                }
            }
        };
        Ok(ProviderValue::new(fields, None))
    }

    /// A depset of `direct` elements and `transitive` depsets (Bazel's `depset()`).
    fn depset<'v>(
        direct: Option<Value<'v>>,
        #[starlark(default = "default")] order: &str,
        #[starlark(require = named)] transitive: Option<Value<'v>>,
        heap: Heap<'v>,
    ) -> starlark::Result<Value<'v>> {
        super::depset::make(direct, order, transitive, heap).map_err(err)
    }

    /// A configurable value: the branch whose condition matches the configuration.
    fn select<'v>(
        #[starlark(require = pos)] x: Value<'v>,
        #[starlark(require = named, default = "")] no_match_error: &str,
        heap: Heap<'v>,
    ) -> starlark::Result<Value<'v>> {
        super::select::make(x, no_match_error, heap).map_err(err)
    }

    /// A new, empty `Args` (what the prelude's `ctx.actions.args` calls).
    fn _args_new() -> starlark::Result<super::args::Args> {
        Ok(super::args::Args::default())
    }
}

/// Unpack a Starlark string or fail with a message naming `what`.
pub fn expect_str<'v>(value: Value<'v>, what: &str) -> anyhow::Result<String> {
    value
        .unpack_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("{what}: expected a string, got {} `{}`", value.get_type(), value))
}
