//! `ctx.actions.args()`: Bazel's `Args` as a native value. Elements are mapped and formatted
//! when they are added (relink needs the command line at analysis time anyway); what is kept is
//! the list of arguments and how a parameter file is requested.

// The natives' signatures are Bazel's: one parameter per keyword argument it takes.
#![allow(clippy::too_many_arguments)]

use std::cell::RefCell;
use std::fmt;

use allocative::Allocative;
use anyhow::{anyhow, Result};
use starlark::any::ProvidesStaticType;
use starlark::environment::{Methods, MethodsBuilder};
use starlark::eval::Evaluator;
use starlark::starlark_module;
use starlark::starlark_simple_value;
use starlark::values::list::ListRef;
use starlark::values::{
    AllocValue, Freeze, FreezeResult, Freezer, Heap, NoSerialize, StarlarkValue, Trace, Value, ValueLike,
};
use starlark_derive::starlark_value;

use crate::sl::err;
use crate::values::{FileValue, LabelValue};

/// What an `Args` holds: its arguments, and the parameter-file request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Allocative)]
pub struct ArgsState {
    /// The arguments, in order.
    pub items: Vec<String>,
    /// `use_param_file(flag_format)`: the arguments go to a file, the command line gets
    /// `flag_format` with `%s` replaced by its path.
    pub param_file: Option<String>,
    /// `set_param_file_format`: `shell`, `multiline` or `flag_per_line`.
    pub param_file_format: Option<String>,
}

impl ArgsState {
    /// The arguments as a parameter file holds them (`set_param_file_format`; Bazel's
    /// default is `shell`), a line each, ending in a newline.
    pub fn param_file_content(&self) -> String {
        let lines: Vec<String> = match self.param_file_format.as_deref() {
            Some("multiline") => self.items.clone(),
            Some("flag_per_line") => flag_per_line(&self.items),
            _ => self.items.iter().map(|a| shell_quoted(a)).collect(),
        };
        lines.iter().map(|l| format!("{l}\n")).collect()
    }
}

/// A shell word that reads back as `arg` (Bazel's ShellUtils.shellEscape).
fn shell_quoted(arg: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "@%_-+=:,./".contains(c);
    if !arg.is_empty() && arg.chars().all(safe) {
        return arg.to_string();
    }
    format!("'{}'", arg.replace('\'', "'\\''"))
}

/// `--flag value` pairs as `--flag=value`, a flag per line.
fn flag_per_line(items: &[String]) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for item in items {
        match lines.last_mut() {
            Some(flag) if flag.starts_with("--") && !flag.contains('=') && !item.starts_with("--") => {
                flag.push('=');
                flag.push_str(item);
            }
            _ => lines.push(item.clone()),
        }
    }
    lines
}

/// An `Args` while its rule implementation runs (it can still be added to).
#[derive(Debug, Default, Trace, ProvidesStaticType, NoSerialize, Allocative)]
pub struct Args {
    #[allocative(skip)]
    state: RefCell<ArgsState>,
}

/// An `Args` after the implementation returned (kept by a provider, say): read-only.
#[derive(Debug, ProvidesStaticType, NoSerialize, Allocative)]
pub struct FrozenArgs(ArgsState);

starlark_simple_value!(FrozenArgs);

impl Freeze for Args {
    type Frozen = FrozenArgs;
    fn freeze(self, _freezer: &Freezer) -> FreezeResult<FrozenArgs> {
        Ok(FrozenArgs(self.state.into_inner()))
    }
}

impl<'v> AllocValue<'v> for Args {
    fn alloc_value(self, heap: Heap<'v>) -> Value<'v> {
        heap.alloc_complex(self)
    }
}

impl fmt::Display for Args {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<Args: {:?}>", self.state.borrow().items)
    }
}

impl fmt::Display for FrozenArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<Args: {:?}>", self.0.items)
    }
}

#[starlark_value(type = "Args")]
impl<'v> StarlarkValue<'v> for Args {
    fn get_methods() -> Option<&'static Methods> {
        Some(ARGS_METHODS.methods())
    }
}

#[starlark_value(type = "Args")]
impl<'v> StarlarkValue<'v> for FrozenArgs {
    type Canonical = Args;
}

/// The arguments and parameter-file request of an `Args` value, if `value` is one.
pub fn state_of(value: Value<'_>) -> Option<ArgsState> {
    if let Some(args) = value.downcast_ref::<Args>() {
        return Some(args.state.borrow().clone());
    }
    value.downcast_ref::<FrozenArgs>().map(|f| f.0.clone())
}

fn mutable<'v>(this: Value<'v>) -> Result<&'v Args> {
    this.downcast_ref::<Args>()
        .ok_or_else(|| anyhow!("this Args is frozen: add to it in the rule implementation that made it"))
}

/// `None` given explicitly counts as not given.
fn given(value: Option<Value<'_>>) -> Option<Value<'_>> {
    value.filter(|v| !v.is_none())
}

/// How Bazel turns an element into a command-line string: a File by its path, a Label as
/// `str()`, a string as itself.
fn arg_string(value: Value<'_>) -> String {
    if let Some(file) = value.downcast_ref::<FileValue>() {
        return file.path.clone();
    }
    if let Some(label) = value.downcast_ref::<LabelValue>() {
        return label.0.to_string();
    }
    value.unpack_str().map(str::to_string).unwrap_or_else(|| value.to_str())
}

/// Apply a `format`/`format_each`/`format_joined` string: like Bazel, it must hold exactly
/// one `%s`; `%%` stands for `%`.
fn formatted(format: Option<&str>, parameter: &str, value: String) -> Result<String> {
    let Some(format) = format else { return Ok(value) };
    let wrong = || anyhow!("Args: {parameter} = {format:?} must contain exactly one %s (write a literal % as %%)");
    let mut out = String::with_capacity(format.len() + value.len());
    let mut placed = false;
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('s') if !placed => {
                out.push_str(&value);
                placed = true;
            }
            _ => return Err(wrong()),
        }
    }
    if !placed {
        return Err(wrong());
    }
    Ok(out)
}

/// The options add_all and add_joined share.
struct Each<'v> {
    map_each: Option<Value<'v>>,
    format_each: Option<String>,
    omit_if_empty: bool,
    uniquify: bool,
}

/// Split `add_all(name, values)` from `add_all(values)`, map and format the values; `None` when
/// they are empty and omitted. Pushes the name, if any, when the values are kept.
fn mapped_values<'v>(
    args: &Args,
    arg_name_or_values: Value<'v>,
    values: Option<Value<'v>>,
    each: &Each<'v>,
    eval: &mut Evaluator<'v, '_, '_>,
) -> Result<Option<Vec<String>>> {
    let (name, values) = match values {
        Some(v) => (Some(arg_string(arg_name_or_values)), v),
        None => (None, arg_name_or_values),
    };
    let mut out = Vec::new();
    for v in crate::depset::to_list(values)? {
        let Some(map_each) = each.map_each else {
            out.push(arg_string(v));
            continue;
        };
        let mapped = eval.eval_function(map_each, &[v], &[]).map_err(|e| e.into_anyhow())?;
        if let Some(list) = ListRef::from_value(mapped) {
            out.extend(list.iter().map(arg_string));
        } else if !mapped.is_none() {
            out.push(arg_string(mapped));
        }
    }
    if each.uniquify {
        let mut seen = std::collections::HashSet::new();
        out.retain(|v| seen.insert(v.clone()));
    }
    if out.is_empty() && each.omit_if_empty {
        return Ok(None);
    }
    let out =
        out.into_iter().map(|v| formatted(each.format_each.as_deref(), "format_each", v)).collect::<Result<_>>()?;
    if let Some(name) = name {
        args.state.borrow_mut().items.push(name);
    }
    Ok(Some(out))
}

fn string_of(value: Option<Value<'_>>, parameter: &str) -> Result<Option<String>> {
    given(value)
        .map(|v| {
            v.unpack_str()
                .map(str::to_string)
                .ok_or_else(|| anyhow!("Args: {parameter} must be a string, got {} `{v}`", v.get_type()))
        })
        .transpose()
}

starlark::methods_static!(ARGS_METHODS = args_methods);

#[starlark_module]
fn args_methods(builder: &mut MethodsBuilder) {
    /// `add(value)` or `add(name, value)`, each optionally through `format`.
    fn add<'v>(
        this: Value<'v>,
        #[starlark(require = pos)] arg_name_or_value: Value<'v>,
        value: Option<Value<'v>>,
        #[starlark(require = named)] format: Option<Value<'v>>,
    ) -> starlark::Result<Value<'v>> {
        let args = mutable(this).map_err(err)?;
        let format = string_of(format, "format").map_err(err)?;
        let mut items = Vec::new();
        let value = match value {
            Some(v) => {
                items.push(arg_string(arg_name_or_value));
                v
            }
            None => arg_name_or_value,
        };
        items.push(formatted(format.as_deref(), "format", arg_string(value)).map_err(err)?);
        args.state.borrow_mut().items.extend(items);
        Ok(this)
    }

    /// Every element of a list or depset, mapped, formatted, each after `before_each`.
    fn add_all<'v>(
        this: Value<'v>,
        #[starlark(require = pos)] arg_name_or_values: Value<'v>,
        values: Option<Value<'v>>,
        #[starlark(require = named)] map_each: Option<Value<'v>>,
        #[starlark(require = named)] format_each: Option<Value<'v>>,
        #[starlark(require = named)] before_each: Option<Value<'v>>,
        #[starlark(require = named, default = true)] omit_if_empty: bool,
        #[starlark(require = named, default = false)] uniquify: bool,
        #[starlark(require = named, default = true)] expand_directories: bool,
        #[starlark(require = named)] terminate_with: Option<Value<'v>>,
        #[starlark(require = named, default = false)] allow_closure: bool,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Value<'v>> {
        let _ = (expand_directories, allow_closure);
        let args = mutable(this).map_err(err)?;
        let format_each = string_of(format_each, "format_each").map_err(err)?;
        let each = Each { map_each: given(map_each), format_each, omit_if_empty, uniquify };
        let Some(values) = mapped_values(args, arg_name_or_values, values, &each, eval).map_err(err)? else {
            return Ok(this);
        };
        let before_each = string_of(before_each, "before_each").map_err(err)?;
        let terminate_with = string_of(terminate_with, "terminate_with").map_err(err)?;
        let mut state = args.state.borrow_mut();
        for v in values {
            state.items.extend(before_each.clone());
            state.items.push(v);
        }
        state.items.extend(terminate_with);
        Ok(this)
    }

    /// The elements of a list or depset joined into one argument.
    fn add_joined<'v>(
        this: Value<'v>,
        #[starlark(require = pos)] arg_name_or_values: Value<'v>,
        values: Option<Value<'v>>,
        #[starlark(require = named)] join_with: &str,
        #[starlark(require = named)] map_each: Option<Value<'v>>,
        #[starlark(require = named)] format_each: Option<Value<'v>>,
        #[starlark(require = named)] format_joined: Option<Value<'v>>,
        #[starlark(require = named, default = true)] omit_if_empty: bool,
        #[starlark(require = named, default = false)] uniquify: bool,
        #[starlark(require = named, default = true)] expand_directories: bool,
        #[starlark(require = named, default = false)] allow_closure: bool,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Value<'v>> {
        let _ = (expand_directories, allow_closure);
        let args = mutable(this).map_err(err)?;
        let format_each = string_of(format_each, "format_each").map_err(err)?;
        let format_joined = string_of(format_joined, "format_joined").map_err(err)?;
        let each = Each { map_each: given(map_each), format_each, omit_if_empty, uniquify };
        let Some(values) = mapped_values(args, arg_name_or_values, values, &each, eval).map_err(err)? else {
            return Ok(this);
        };
        let joined = formatted(format_joined.as_deref(), "format_joined", values.join(join_with)).map_err(err)?;
        args.state.borrow_mut().items.push(joined);
        Ok(this)
    }

    /// Put the arguments in a file; the command line gets `param_file_arg` with its path.
    fn use_param_file<'v>(
        this: Value<'v>,
        #[starlark(require = pos)] param_file_arg: &str,
        #[starlark(require = named, default = false)] use_always: bool,
    ) -> starlark::Result<Value<'v>> {
        let _ = use_always;
        formatted(Some(param_file_arg), "param_file_arg", String::new()).map_err(err)?;
        mutable(this).map_err(err)?.state.borrow_mut().param_file = Some(param_file_arg.to_string());
        Ok(this)
    }

    /// How the parameter file is written: `shell`, `multiline` or `flag_per_line`.
    fn set_param_file_format<'v>(
        this: Value<'v>,
        #[starlark(require = pos)] format: &str,
    ) -> starlark::Result<Value<'v>> {
        if !["shell", "multiline", "flag_per_line"].contains(&format) {
            return Err(err(anyhow!(
                "Args.set_param_file_format({format:?}): use \"shell\", \"multiline\" or \"flag_per_line\""
            )));
        }
        mutable(this).map_err(err)?.state.borrow_mut().param_file_format = Some(format.to_string());
        Ok(this)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_take_one_placeholder_and_escaped_percents() {
        assert_eq!(formatted(Some("--x=%s"), "format", "v".into()).unwrap(), "--x=v");
        assert_eq!(formatted(Some("%s 100%%"), "format", "v".into()).unwrap(), "v 100%");
        for bad in ["--x", "%s%s", "%d", "%s %"] {
            assert!(formatted(Some(bad), "format", "v".into()).is_err(), "{bad}");
        }
    }

    #[test]
    fn parameter_files_follow_their_format() {
        let items = ["--a", "1", "two words", "it's", "--b=2", "x"].map(String::from).to_vec();
        let mut state = ArgsState { items, ..ArgsState::default() };
        assert_eq!(state.param_file_content(), "--a\n1\n'two words'\n'it'\\''s'\n--b=2\nx\n");
        state.param_file_format = Some("multiline".into());
        assert_eq!(state.param_file_content(), "--a\n1\ntwo words\nit's\n--b=2\nx\n");
        state.param_file_format = Some("flag_per_line".into());
        assert_eq!(state.param_file_content(), "--a=1\ntwo words\nit's\n--b=2\nx\n");
    }
}
