//! The natives behind `ctx.actions`: declaring files and registering actions.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};
use starlark::eval::Evaluator;
use starlark::values::dict::DictRef;
use starlark::values::list::ListRef;
use starlark::values::Value;

use relink_core::action::{Action, ActionKind, Output};
use relink_core::label::join_path;
use relink_rule_api::context::analysis_context;
use relink_rule_api::natives::expect_str;
use relink_rule_api::values::{FileOrigin, FileValue};
use relink_rule_api::{args, depset};

/// Arguments of `ctx.actions.run`.
pub struct RunSpec<'v, 'a> {
    pub outputs: Value<'v>,
    pub executable: Value<'v>,
    pub inputs: Option<Value<'v>>,
    pub tools: Option<Value<'v>>,
    pub arguments: Option<Value<'v>>,
    pub mnemonic: Option<&'a str>,
    pub env: Option<Value<'v>>,
    pub unused_inputs_list: Option<Value<'v>>,
    pub execution_requirements: Option<Value<'v>>,
}

/// `declare_file` / `declare_directory`.
pub fn declare<'v>(
    filename: &str,
    sibling: Option<Value<'v>>,
    is_dir: bool,
    eval: &mut Evaluator<'v, '_, '_>,
) -> Result<Value<'v>> {
    let ctx = analysis_context(eval)?;
    // Outputs stay in the target's own output directory, as in Bazel.
    if filename.is_empty() || filename.starts_with('/') || filename.split('/').any(|s| s == ".." || s == ".") {
        bail!(
            "{}: cannot declare `{filename}`: an output's name is relative to the package's output directory, without `..` or `.` segments",
            ctx.label
        );
    }
    let dir = match sibling.and_then(FileValue::from_value) {
        Some(s) => s.path.rsplit_once('/').map_or(String::new(), |(d, _)| d.to_string()),
        None => join_path(&ctx.bin_dir, &ctx.label.package_exec_path()),
    };
    let path = join_path(&dir, filename);
    let short_path = path.strip_prefix(&format!("{}/", ctx.bin_dir)).unwrap_or(&path).to_string();
    let file = FileValue {
        path: path.clone(),
        short_path,
        root: ctx.bin_dir.clone(),
        owner: ctx.label.clone(),
        origin: FileOrigin::Output,
        is_directory: is_dir,
    };
    if !ctx.declared.borrow_mut().insert(path.clone()) {
        bail!("{}: file `{}` is declared twice", ctx.label, filename);
    }
    Ok(eval.heap().alloc(file))
}

fn files_of(value: Option<Value<'_>>, what: &str) -> Result<Vec<FileValue>> {
    let Some(value) = value else { return Ok(Vec::new()) };
    depset::to_list(value)?
        .into_iter()
        .map(|v| {
            FileValue::from_value(v)
                .cloned()
                .ok_or_else(|| anyhow!("{what}: expected File, got {} `{}`", v.get_type(), v))
        })
        .collect()
}

fn own_outputs(files: &[FileValue], eval: &Evaluator<'_, '_, '_>) -> Result<Vec<Output>> {
    let ctx = analysis_context(eval)?;
    files
        .iter()
        .map(|f| {
            if !ctx.declared.borrow().contains(&f.path) {
                bail!("{}: output {} was not declared by this target", ctx.label, f.path);
            }
            Ok(Output { path: f.path.clone(), is_dir: f.is_directory })
        })
        .collect()
}

/// Expand `arguments` (strings and `Args` objects) into argv, writing param files as
/// separate actions. Returns (argv tail, extra inputs).
fn expand_arguments<'v>(
    arguments: Option<Value<'v>>,
    first_output: &str,
    eval: &mut Evaluator<'v, '_, '_>,
) -> Result<(Vec<String>, Vec<String>)> {
    let Some(arguments) = arguments else { return Ok((Vec::new(), Vec::new())) };
    let list = ListRef::from_value(arguments).ok_or_else(|| anyhow!("arguments must be a list"))?;
    let mut argv = Vec::new();
    let mut extra_inputs = Vec::new();
    for (index, item) in list.iter().enumerate() {
        if let Some(s) = item.unpack_str() {
            argv.push(s.to_string());
            continue;
        }
        let Some(args) = args::state_of(item) else {
            bail!("arguments: expected a string or Args, got {} `{}`", item.get_type(), item);
        };
        match &args.param_file {
            Some(flag_format) => {
                let path = format!("{first_output}-{index}.params");
                let ctx = analysis_context(eval)?;
                ctx.graph.borrow_mut().add(Action {
                    mnemonic: "FileWrite".into(),
                    owner: ctx.label.to_string(),
                    kind: ActionKind::Write { content: args.param_file_content(), executable: false },
                    inputs: Vec::new(),
                    outputs: vec![Output { path: path.clone(), is_dir: false }],
                    unused_inputs_list: None,
                    requirements: BTreeMap::new(),
                })?;
                argv.push(flag_format.replace("%s", &path));
                extra_inputs.push(path);
            }
            None => argv.extend(args.items),
        }
    }
    Ok((argv, extra_inputs))
}

/// `ctx.actions.run`.
pub fn run<'v>(spec: RunSpec<'v, '_>, eval: &mut Evaluator<'v, '_, '_>) -> Result<()> {
    let outputs = files_of(Some(spec.outputs), "outputs")?;
    if outputs.is_empty() {
        bail!("ctx.actions.run needs at least one output");
    }
    let outputs = own_outputs(&outputs, eval)?;
    let mut inputs: Vec<String> = files_of(spec.inputs, "inputs")?.into_iter().map(|f| f.path).collect();
    inputs.extend(files_of(spec.tools, "tools")?.into_iter().map(|f| f.path));
    let executable = match FileValue::from_value(spec.executable) {
        Some(f) => {
            inputs.push(f.path.clone());
            f.path.clone()
        }
        None => expect_str(spec.executable, "executable")?,
    };
    let (args, extra) = expand_arguments(spec.arguments, &outputs[0].path, eval)?;
    inputs.extend(extra);
    let env = string_dict(spec.env, "env")?;
    let requirements = string_dict(spec.execution_requirements, "execution_requirements")?;
    let unused_inputs_list = match spec.unused_inputs_list.filter(|v| !v.is_none()) {
        None => None,
        Some(v) => {
            let file = FileValue::from_value(v)
                .ok_or_else(|| anyhow!("unused_inputs_list must be a File, got {} `{}`", v.get_type(), v))?;
            if !outputs.iter().any(|o| o.path == file.path) {
                bail!("unused_inputs_list {} must be one of the action's outputs", file.path);
            }
            Some(file.path.clone())
        }
    };
    let mut argv = vec![executable];
    argv.extend(args);
    let ctx = analysis_context(eval)?;
    ctx.graph.borrow_mut().add(Action {
        mnemonic: spec.mnemonic.unwrap_or("Action").to_string(),
        owner: ctx.label.to_string(),
        kind: ActionKind::Run { argv, env },
        inputs,
        outputs,
        unused_inputs_list,
        requirements,
    })
}

/// A dict of strings (`env`, `execution_requirements`); `None` is empty.
fn string_dict(value: Option<Value<'_>>, what: &str) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    if let Some(v) = value.filter(|v| !v.is_none()) {
        let dict =
            DictRef::from_value(v).ok_or_else(|| anyhow!("{what} must be a dict, got {} `{}`", v.get_type(), v))?;
        for (k, v) in dict.iter() {
            out.insert(expect_str(k, what)?, expect_str(v, what)?);
        }
    }
    Ok(out)
}

/// `ctx.actions.write`.
pub fn write<'v>(
    output: Value<'v>,
    content: Value<'v>,
    executable: bool,
    eval: &mut Evaluator<'v, '_, '_>,
) -> Result<()> {
    let file = FileValue::from_value(output).cloned().ok_or_else(|| anyhow!("write: output must be a File"))?;
    let outputs = own_outputs(&[file], eval)?;
    let content = match content.unpack_str() {
        Some(s) => s.to_string(),
        None => {
            let args = args::state_of(content).ok_or_else(|| {
                anyhow!("write: content must be a string or Args, got {} `{content}`", content.get_type())
            })?;
            args.param_file_content()
        }
    };
    let ctx = analysis_context(eval)?;
    ctx.graph.borrow_mut().add(Action {
        mnemonic: "FileWrite".into(),
        owner: ctx.label.to_string(),
        kind: ActionKind::Write { content, executable },
        inputs: Vec::new(),
        outputs,
        unused_inputs_list: None,
        requirements: BTreeMap::new(),
    })
}

/// `ctx.actions.symlink` (materialized as a copy).
pub fn symlink<'v>(
    output: Value<'v>,
    target: Value<'v>,
    executable: bool,
    eval: &mut Evaluator<'v, '_, '_>,
) -> Result<()> {
    let out = FileValue::from_value(output).cloned().ok_or_else(|| anyhow!("symlink: output must be a File"))?;
    let from = FileValue::from_value(target).cloned().ok_or_else(|| anyhow!("symlink: target_file must be a File"))?;
    let outputs = own_outputs(&[out], eval)?;
    let ctx = analysis_context(eval)?;
    ctx.graph.borrow_mut().add(Action {
        mnemonic: "Symlink".into(),
        owner: ctx.label.to_string(),
        kind: ActionKind::Copy { executable },
        inputs: vec![from.path],
        outputs,
        unused_inputs_list: None,
        requirements: BTreeMap::new(),
    })
}
