//! The natives of the rule API that belong to no phase: `provider`, `DefaultInfo`, the
//! depset helper, and the Starlark library extensions every file gets. `register` adds them;
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

/// Add `provider`, `DefaultInfo` and the depset helper.
pub fn register(builder: &mut GlobalsBuilder) {
    providers(builder);
    let fields = DEFAULT_INFO_FIELDS.iter().map(|s| s.to_string()).collect();
    let provider = ProviderValue::new(Some(fields), Some("DefaultInfo"));
    let _ = DEFAULT_INFO_KEY.set(provider.key);
    builder.set("DefaultInfo", provider);
}

/// A native's error from an `anyhow` one (its message and context chain).
pub fn err(e: anyhow::Error) -> starlark::Error {
    starlark::Error::new_other(e)
}

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

    /// Flatten a depset (private helper of the prelude's `depset`).
    fn _depset_flatten<'v>(
        direct: Value<'v>,
        transitive: Value<'v>,
        order: &str,
        heap: Heap<'v>,
    ) -> starlark::Result<Vec<Value<'v>>> {
        super::depset::flatten(direct, transitive, order, heap).map_err(err)
    }
}

/// Unpack a Starlark string or fail with a message naming `what`.
pub fn expect_str<'v>(value: Value<'v>, what: &str) -> anyhow::Result<String> {
    value
        .unpack_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("{what}: expected a string, got {} `{}`", value.get_type(), value))
}
