//! The natives of the analysis phase: what `ctx.actions` calls (the prelude's `ctx` wraps
//! them), and `globals()`, every native of the rule API, loading and analysis together.

use starlark::environment::{Globals, GlobalsBuilder};
use starlark::eval::Evaluator;
use starlark::starlark_module;
use starlark::values::none::NoneOr;
use starlark::values::Value;

use relink_rule_api::natives::err;

/// The globals shared by every BUILD and .bzl file.
pub fn globals() -> Globals {
    GlobalsBuilder::extended_by(relink_rule_api::natives::EXTENSIONS)
        .with(relink_rule_api::natives::register)
        .with(relink_loading::natives::register)
        .with(action_api)
        .build()
}

#[starlark_module]
fn action_api(builder: &mut GlobalsBuilder) {
    /// `ctx.actions.declare_file`.
    fn _actions_declare_file<'v>(
        filename: &str,
        #[starlark(require = named)] sibling: Option<Value<'v>>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Value<'v>> {
        super::actions::declare(filename, sibling, false, eval).map_err(err)
    }

    /// `ctx.actions.declare_directory`.
    fn _actions_declare_directory<'v>(
        filename: &str,
        #[starlark(require = named)] sibling: Option<Value<'v>>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Value<'v>> {
        super::actions::declare(filename, sibling, true, eval).map_err(err)
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
        let spec = super::actions::RunSpec {
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
        super::actions::run(spec, eval).map_err(err)?;
        Ok(NoneOr::None)
    }

    /// `ctx.actions.write`.
    fn _actions_write<'v>(
        output: Value<'v>,
        content: Value<'v>,
        #[starlark(default = false)] is_executable: bool,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<NoneOr<i32>> {
        super::actions::write(output, content, is_executable, eval).map_err(err)?;
        Ok(NoneOr::None)
    }

    /// `ctx.actions.symlink` (relink copies the file).
    fn _actions_symlink<'v>(
        #[starlark(require = named)] output: Value<'v>,
        #[starlark(require = named)] target_file: Value<'v>,
        #[starlark(require = named, default = false)] is_executable: bool,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<NoneOr<i32>> {
        super::actions::symlink(output, target_file, is_executable, eval).map_err(err)?;
        Ok(NoneOr::None)
    }
}
