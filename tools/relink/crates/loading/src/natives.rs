//! The natives of the loading phase: `rule`, `Label`, `glob` and the package functions.

use std::sync::OnceLock;

use anyhow::anyhow;
use starlark::environment::GlobalsBuilder;
use starlark::eval::Evaluator;
use starlark::starlark_module;
use starlark::values::list::UnpackList;
use starlark::values::none::NoneOr;
use starlark::values::{Value, ValueLike};

use super::rules::RuleGen;
use relink_rule_api::natives::{err, expect_str};
use relink_rule_api::rule_spec::{RuleFacts, RuleSpec};
use relink_rule_api::values::{LabelValue, ProviderValue};

/// Add the loading phase's natives.
pub fn register(builder: &mut GlobalsBuilder) {
    rules(builder);
    package_api(builder);
}

/// `rule(toolchains = [...])`: each type (a string or a `Label`) as a label resolved against the
/// .bzl file that declares the rule, and as written (`config_common.toolchain_type` is not
/// supported).
fn toolchain_types(
    toolchains: Option<Value<'_>>,
    eval: &Evaluator<'_, '_, '_>,
) -> anyhow::Result<Vec<(String, String)>> {
    let Some(list) = toolchains.filter(|v| !v.is_none()) else { return Ok(Vec::new()) };
    let list = starlark::values::list::ListRef::from_value(list).ok_or_else(|| {
        anyhow!("rule(toolchains = ...) takes a list of toolchain type labels, got {}", list.get_type())
    })?;
    let mut types = Vec::new();
    for item in list.iter() {
        let text = match LabelValue::from_value(item) {
            Some(label) => label.0.to_string(),
            None => expect_str(item, "rule(toolchains = ...)")?,
        };
        types.push((super::parse_label_here(&text, eval)?.to_string(), text));
    }
    Ok(types)
}

/// `rule(provides = [...])`: the (key, name) of each provider.
fn promised_providers(provides: Option<Value<'_>>) -> anyhow::Result<Vec<(u64, String)>> {
    let Some(list) = provides.filter(|v| !v.is_none()) else { return Ok(Vec::new()) };
    let list = starlark::values::list::ListRef::from_value(list)
        .ok_or_else(|| anyhow!("rule(provides = ...) takes a list of providers, got {}", list.get_type()))?;
    list.iter()
        .map(|p| {
            let provider = p
                .downcast_ref::<ProviderValue>()
                .ok_or_else(|| anyhow!("rule(provides = [...]) takes providers, got {} `{p}`", p.get_type()))?;
            Ok((provider.key, provider.name.get().cloned().unwrap_or_else(|| "a promised provider".to_string())))
        })
        .collect()
}

#[starlark_module]
fn rules(builder: &mut GlobalsBuilder) {
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
    ) -> starlark::Result<Value<'v>> {
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
        // As Bazel: a rule whose implementation cannot be called is an error where it is defined.
        if !matches!(implementation.get_type(), "function" | "builtin_function_or_method") {
            return Err(err(anyhow!(
                "rule(implementation = ...) must be a function, got {} `{}`",
                implementation.get_type(),
                implementation
            )));
        }
        let heap = eval.heap();
        let attrs = attrs.unwrap_or_else(|| heap.alloc(starlark::values::dict::AllocDict::EMPTY));
        let facts = RuleFacts {
            executable,
            test,
            toolchains: toolchain_types(toolchains, eval).map_err(err)?,
            provides: promised_providers(provides).map_err(err)?,
        };
        let spec = heap.alloc_complex(RuleSpec::new(implementation, attrs, facts).map_err(err)?);
        Ok(heap.alloc_complex(RuleGen { id: super::next_rule_id(), kind: OnceLock::new(), spec }))
    }

    /// A label, resolved relative to the repository of the current file.
    #[starlark(as_type = LabelValue)]
    fn Label<'v>(label: &str, eval: &mut Evaluator<'v, '_, '_>) -> starlark::Result<LabelValue> {
        super::parse_label_here(label, eval).map(LabelValue).map_err(err)
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
        super::glob(&include.items, &exclude.items, allow_empty.unwrap_or(true), eval).map_err(err)
    }

    /// Name of the package being evaluated.
    fn package_name<'v>(eval: &mut Evaluator<'v, '_, '_>) -> starlark::Result<String> {
        super::current_package(eval).map(|l| l.package).map_err(err)
    }

    /// Name of the repository being evaluated (`@` for the main one).
    fn repository_name<'v>(eval: &mut Evaluator<'v, '_, '_>) -> starlark::Result<String> {
        super::current_package(eval).map(|l| format!("@{}", l.repo)).map_err(err)
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

    /// Package defaults: `default_visibility` is the visibility of the package's targets
    /// that set none (the other arguments change nothing in relink).
    fn package<'v>(
        #[starlark(require = named)] default_visibility: Option<UnpackList<String>>,
        #[starlark(kwargs)] kwargs: Value<'v>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<NoneOr<i32>> {
        let _ = kwargs;
        if let Some(list) = default_visibility {
            super::declare_default_visibility(eval, list.items).map_err(err)?;
        }
        Ok(NoneOr::None)
    }

    /// A set of packages that visibility lists can name (Bazel's `package_group`).
    fn package_group<'v>(
        #[starlark(require = named)] name: String,
        #[starlark(require = named, default = UnpackList::default())] packages: UnpackList<String>,
        #[starlark(require = named, default = UnpackList::default())] includes: UnpackList<String>,
        #[starlark(kwargs)] kwargs: Value<'v>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<NoneOr<i32>> {
        let _ = kwargs;
        super::declare_package_group(eval, name, packages.items, includes.items).map_err(err)?;
        Ok(NoneOr::None)
    }

    /// `workspace(name = ...)` in WORKSPACE files.
    fn workspace<'v>(#[starlark(kwargs)] kwargs: Value<'v>) -> starlark::Result<NoneOr<i32>> {
        let _ = kwargs;
        Ok(NoneOr::None)
    }
}
