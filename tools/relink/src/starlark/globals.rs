//! Relink's native Starlark globals: `rule`, `provider`, `Label`, `glob`, package functions,
//! `DefaultInfo`, and the private natives behind `ctx.actions`.

use std::sync::OnceLock;

use anyhow::anyhow;
use starlark::environment::{Globals, GlobalsBuilder, LibraryExtension};
use starlark::eval::Evaluator;
use starlark::starlark_module;
use starlark::values::dict::DictRef;
use starlark::values::list::UnpackList;
use starlark::values::none::NoneOr;
use starlark::values::structs::AllocStruct;
use starlark::values::{Heap, Value};

use super::values::{LabelValue, ProviderValue, RuleValue};
use crate::analysis;
use crate::loading;

/// Fields of the built-in `DefaultInfo` provider.
const DEFAULT_INFO_FIELDS: &[&str] = &["files", "runfiles", "executable", "data_runfiles", "default_runfiles"];

/// The key of `DefaultInfo`, fixed when the globals are built.
pub fn default_info_key() -> u64 {
    *DEFAULT_INFO_KEY.get().expect("globals are built before analysis")
}

static DEFAULT_INFO_KEY: OnceLock<u64> = OnceLock::new();

/// Build the globals shared by every BUILD and .bzl file.
pub fn build_globals() -> Globals {
    GlobalsBuilder::extended_by(&[
        LibraryExtension::StructType,
        LibraryExtension::Print,
        LibraryExtension::Json,
        LibraryExtension::Map,
        LibraryExtension::Filter,
    ])
    .with(rule_api)
    .with(package_api)
    .with(action_api)
    .with(|builder| {
        let fields = DEFAULT_INFO_FIELDS.iter().map(|s| s.to_string()).collect();
        let provider = ProviderValue::new(Some(fields), Some("DefaultInfo"));
        let _ = DEFAULT_INFO_KEY.set(provider.key);
        builder.set("DefaultInfo", provider);
    })
    .build()
}

/// `rule(toolchains = [...])`: the toolchain types as written and as labels resolved against
/// the .bzl file that declares the rule (strings or `Label`s; `config_common.toolchain_type`
/// is not supported).
fn toolchain_types(
    toolchains: Option<Value<'_>>,
    eval: &Evaluator<'_, '_, '_>,
) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let Some(list) = toolchains else { return Ok((Vec::new(), Vec::new())) };
    let list = starlark::values::list::ListRef::from_value(list).ok_or_else(|| {
        anyhow!("rule(toolchains = ...) takes a list of toolchain type labels, got {}", list.get_type())
    })?;
    let mut written = Vec::new();
    let mut types = Vec::new();
    for item in list.iter() {
        let text = match LabelValue::from_value(item) {
            Some(label) => label.0.to_string(),
            None => expect_str(item, "rule(toolchains = ...)")?,
        };
        types.push(loading::parse_label_here(&text, eval)?.to_string());
        written.push(text);
    }
    Ok((written, types))
}

fn err(e: anyhow::Error) -> starlark::Error {
    starlark::Error::new_other(e)
}

#[starlark_module]
fn rule_api(builder: &mut GlobalsBuilder) {
    /// Declare a rule (Bazel's `rule()`); assign it to a global of a .bzl file.
    #[allow(clippy::too_many_arguments)]
    fn rule<'v>(
        implementation: Value<'v>,
        #[starlark(require = named)] attrs: Option<Value<'v>>,
        #[starlark(require = named, default = false)] executable: bool,
        #[starlark(require = named, default = false)] test: bool,
        #[starlark(require = named, default = "")] doc: &str,
        #[starlark(require = named)] outputs: Option<Value<'v>>,
        #[starlark(require = named)] toolchains: Option<Value<'v>>,
        #[starlark(require = named)] fragments: Option<Value<'v>>,
        #[starlark(require = named)] host_fragments: Option<Value<'v>>,
        #[starlark(require = named)] provides: Option<Value<'v>>,
        #[starlark(require = named)] cfg: Option<Value<'v>>,
        #[starlark(require = named)] exec_compatible_with: Option<Value<'v>>,
        #[starlark(require = named)] incompatible_use_toolchain_transition: Option<Value<'v>>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<RuleValue> {
        // `fragments`/`host_fragments` only declare what `ctx.fragments` may read (relink has
        // none to read); the toolchain transition is Bazel's default behaviour.
        let _ = (doc, fragments, host_fragments, incompatible_use_toolchain_transition);
        let given = |v: Option<Value<'v>>| v.is_some_and(|v| !v.is_none() && v.length().map_or(true, |n| n > 0));
        if given(outputs) {
            return Err(err(anyhow!(
                "rule(outputs = ...): relink does not implement implicit outputs; declare them with attr.output() or ctx.actions.declare_file()"
            )));
        }
        if given(cfg) {
            return Err(err(anyhow!("rule(cfg = ...): relink builds in one configuration and has no transitions")));
        }
        if given(exec_compatible_with) {
            return Err(err(anyhow!(
                "rule(exec_compatible_with = ...): relink runs every action on the host; remove it or build with Bazel"
            )));
        }
        let heap = eval.heap();
        let provides = provides.unwrap_or_else(|| heap.alloc(Vec::<Value>::new()));
        let attrs = attrs.unwrap_or_else(|| heap.alloc(starlark::values::dict::AllocDict::EMPTY));
        let (written, types) = toolchain_types(toolchains, eval).map_err(err)?;
        let spec = heap.alloc(AllocStruct([
            ("implementation", implementation),
            ("attrs", attrs),
            ("executable", Value::new_bool(executable)),
            ("test", Value::new_bool(test)),
            ("toolchains", heap.alloc(types)),
            ("toolchains_as_written", heap.alloc(written)),
            ("provides", provides),
        ]));
        let rule = RuleValue { id: loading::next_rule_id(), kind: OnceLock::new() };
        eval.module().set(&RuleValue::spec_variable(rule.id), spec);
        Ok(rule)
    }

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

    /// A label, resolved relative to the repository of the current file.
    #[starlark(as_type = LabelValue)]
    fn Label<'v>(label: &str, eval: &mut Evaluator<'v, '_, '_>) -> starlark::Result<LabelValue> {
        loading::parse_label_here(label, eval).map(LabelValue).map_err(err)
    }

    /// Flatten a depset (private helper of the prelude's `depset`).
    fn _depset_flatten<'v>(
        direct: Value<'v>,
        transitive: Value<'v>,
        order: &str,
        heap: Heap<'v>,
    ) -> starlark::Result<Vec<Value<'v>>> {
        analysis::depset::flatten(direct, transitive, order, heap).map_err(err)
    }
}

#[starlark_module]
fn package_api(builder: &mut GlobalsBuilder) {
    /// Files of the current package matching `include` and not `exclude`.
    fn glob<'v>(
        include: UnpackList<String>,
        #[starlark(default = UnpackList::default())] exclude: UnpackList<String>,
        #[starlark(require = named, default = 1)] exclude_directories: i32,
        #[starlark(require = named)] allow_empty: Option<bool>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Vec<String>> {
        let _ = exclude_directories;
        loading::glob(&include.items, &exclude.items, allow_empty.unwrap_or(true), eval).map_err(err)
    }

    /// Name of the package being evaluated.
    fn package_name<'v>(eval: &mut Evaluator<'v, '_, '_>) -> starlark::Result<String> {
        loading::current_package(eval).map(|l| l.package).map_err(err)
    }

    /// Name of the repository being evaluated (`@` for the main one).
    fn repository_name<'v>(eval: &mut Evaluator<'v, '_, '_>) -> starlark::Result<String> {
        loading::current_package(eval).map(|l| format!("@{}", l.repo)).map_err(err)
    }

    /// Make source files visible to other packages (all files are, in relink).
    fn exports_files<'v>(
        srcs: UnpackList<String>,
        #[starlark(require = named)] visibility: Option<Value<'v>>,
        #[starlark(require = named)] licenses: Option<Value<'v>>,
    ) -> starlark::Result<NoneOr<i32>> {
        let _ = (srcs, visibility, licenses);
        Ok(NoneOr::None)
    }

    /// Package defaults (accepted; visibility is not enforced by relink).
    fn package<'v>(#[starlark(kwargs)] kwargs: Value<'v>) -> starlark::Result<NoneOr<i32>> {
        let _ = kwargs;
        Ok(NoneOr::None)
    }

    /// `workspace(name = ...)` in WORKSPACE files.
    fn workspace<'v>(#[starlark(kwargs)] kwargs: Value<'v>) -> starlark::Result<NoneOr<i32>> {
        let _ = kwargs;
        Ok(NoneOr::None)
    }
}

#[starlark_module]
fn action_api(builder: &mut GlobalsBuilder) {
    /// `ctx.actions.declare_file`.
    fn _actions_declare_file<'v>(
        filename: &str,
        #[starlark(require = named)] sibling: Option<Value<'v>>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Value<'v>> {
        analysis::actions::declare(filename, sibling, false, eval).map_err(err)
    }

    /// `ctx.actions.declare_directory`.
    fn _actions_declare_directory<'v>(
        filename: &str,
        #[starlark(require = named)] sibling: Option<Value<'v>>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Value<'v>> {
        analysis::actions::declare(filename, sibling, true, eval).map_err(err)
    }

    /// `ctx.actions.run`.
    #[allow(clippy::too_many_arguments)]
    fn _actions_run<'v>(
        #[starlark(require = named)] outputs: Value<'v>,
        #[starlark(require = named)] executable: Value<'v>,
        #[starlark(require = named)] inputs: Option<Value<'v>>,
        #[starlark(require = named)] tools: Option<Value<'v>>,
        #[starlark(require = named)] arguments: Option<Value<'v>>,
        #[starlark(require = named)] mnemonic: Option<&str>,
        #[starlark(require = named)] progress_message: Option<&str>,
        #[starlark(require = named)] env: Option<Value<'v>>,
        #[starlark(require = named)] use_default_shell_env: Option<bool>,
        #[starlark(require = named)] execution_requirements: Option<Value<'v>>,
        #[starlark(require = named)] input_manifests: Option<Value<'v>>,
        #[starlark(require = named)] toolchain: Option<Value<'v>>,
        #[starlark(require = named)] unused_inputs_list: Option<Value<'v>>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<NoneOr<i32>> {
        let _ = (progress_message, use_default_shell_env, input_manifests, toolchain);
        let spec = analysis::actions::RunSpec {
            outputs,
            executable,
            inputs,
            tools,
            arguments,
            mnemonic,
            env,
            unused_inputs_list,
            execution_requirements,
        };
        analysis::actions::run(spec, eval).map_err(err)?;
        Ok(NoneOr::None)
    }

    /// `ctx.actions.write`.
    fn _actions_write<'v>(
        output: Value<'v>,
        content: Value<'v>,
        #[starlark(default = false)] is_executable: bool,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<NoneOr<i32>> {
        analysis::actions::write(output, content, is_executable, eval).map_err(err)?;
        Ok(NoneOr::None)
    }

    /// `ctx.actions.symlink` (relink copies the file).
    fn _actions_symlink<'v>(
        #[starlark(require = named)] output: Value<'v>,
        #[starlark(require = named)] target_file: Value<'v>,
        #[starlark(require = named, default = false)] is_executable: bool,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<NoneOr<i32>> {
        analysis::actions::symlink(output, target_file, is_executable, eval).map_err(err)?;
        Ok(NoneOr::None)
    }
}

/// Unpack a Starlark string or fail with a message naming `what`.
pub fn expect_str<'v>(value: Value<'v>, what: &str) -> anyhow::Result<String> {
    value
        .unpack_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("{what}: expected a string, got {} `{}`", value.get_type(), value))
}
