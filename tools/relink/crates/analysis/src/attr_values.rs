//! The values a target gives its rule's attributes: select() resolved against the
//! configuration (config_setting values, defines, constraint values), labels analysed into
//! dependencies and checked (allow_files, allow_rules, providers), output names declared, plain
//! values type-checked (values, allow_empty).

use super::*;

impl Analyzer<'_> {
    /// The value a configurable attribute value takes in this configuration: each select()
    /// picks the branch whose config_setting matches (else its default, else it fails with its
    /// no_match_error), and the parts of a sum are added up.
    pub(super) fn resolve_select<'v>(&self, value: Value<'v>, decl: &TargetDecl, heap: Heap<'v>) -> Result<Value<'v>> {
        let base = Label::package_base(&decl.label.repo, &decl.label.package);
        relink_rule_api::select::resolve(value, heap, |branches, no_match_error| {
            let mut default = None;
            for (cond, branch) in branches.iter() {
                let cond = match cond.downcast_ref::<relink_rule_api::values::LabelValue>() {
                    Some(label) => label.0.to_string(),
                    None => cond.unpack_str().unwrap_or_default().to_string(),
                };
                if cond == "//conditions:default" || cond == "@bazel_tools//conditions:default" {
                    default = Some(branch);
                    continue;
                }
                let label = Label::parse(&cond, &base)?;
                if self.config_setting_matches(&label)? {
                    return Ok(branch);
                }
            }
            default.ok_or_else(|| {
                let why = if no_match_error.is_empty() {
                    format!("no select() condition matches compilation mode `{}`", self.config.compilation_mode)
                } else {
                    no_match_error.to_string()
                };
                anyhow!(
                    "{}: configurable attribute of {} doesn't match this configuration: {why}",
                    decl.location,
                    decl.label
                )
            })
        })
    }

    pub(super) fn config_setting_matches(&self, label: &Label) -> Result<bool> {
        let pkg = self.loader.package(self.loader.workspace.canonical_repo(&label.repo), &label.package)?;
        let decl = pkg.targets.get(&label.name).ok_or_else(|| anyhow!("no such config_setting `{label}`"))?;
        if decl.kind != "config_setting" {
            bail!("select() key `{label}` is a {}, not a config_setting", decl.kind);
        }
        let attrs = DictRef::from_value(decl.attrs.value().to_value()).ok_or_else(|| anyhow!("attrs"))?;
        let mut ok = true;
        if let Some(values) = attrs.get_str("values").and_then(|v| DictRef::from_value(v.to_value())) {
            for (k, v) in values.iter() {
                let (k, v) = (k.unpack_str().unwrap_or(""), v.unpack_str().unwrap_or(""));
                ok &= match k {
                    "compilation_mode" => self.config.compilation_mode == v,
                    "define" => v
                        .split_once('=')
                        .is_some_and(|(dk, dv)| self.config.defines.get(dk).map(String::as_str) == Some(dv)),
                    _ => false,
                };
            }
        }
        if let Some(values) = attrs.get_str("define_values").and_then(|v| DictRef::from_value(v.to_value())) {
            for (k, v) in values.iter() {
                ok &= self.config.defines.get(k.unpack_str().unwrap_or("")).map(String::as_str) == v.unpack_str();
            }
        }
        if attrs.get_str("flag_values").and_then(|v| DictRef::from_value(v.to_value())).is_some_and(|d| !d.is_empty()) {
            bail!(
                "{}: config_setting(flag_values = ...): relink has no Starlark build settings; use values = {{\"define\": ...}} with --define",
                decl.location
            );
        }
        let constraints = attrs.get_str("constraint_values").and_then(|v| ListRef::from_value(v.to_value()));
        if let Some(constraints) = constraints.filter(|l| !l.is_empty()) {
            let resolver = toolchains::Resolver { loader: self.loader };
            let (target, _) = self.platforms()?;
            let base = Label::package_base(&decl.label.repo, &decl.label.package);
            for value in constraints.iter() {
                let text =
                    value.unpack_str().ok_or_else(|| anyhow!("{}: constraint_values takes labels", decl.location))?;
                ok &= resolver.satisfies(target, &resolver.canonical(&Label::parse(text, &base)?))?;
            }
        }
        Ok(ok)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn resolve_attr<'v>(
        &self,
        a: &AttrSchema,
        value: Value<'v>,
        decl: &TargetDecl,
        from_default: bool,
        spec_repo: &str,
        module: &Module<'v>,
        out: &mut ResolvedAttrs<'v>,
    ) -> Result<()> {
        let base = if from_default {
            Label::package_base(spec_repo, &decl.label.package)
        } else {
            Label::package_base(&decl.label.repo, &decl.label.package)
        };
        if !value.is_none() {
            check_allowed(a, value)?;
        }
        let deps_before = out.deps.len();
        match a.kind.as_str() {
            "label" => self.resolve_label(a, value, &base, module, out)?,
            "label_list" | "label_keyed_string_dict" => self.resolve_labels(a, value, &base, module, out)?,
            "output" | "output_list" => resolve_output(a, value, out)?,
            kind => {
                check_plain_type(kind, value)?;
                out.attr.push((a.name.clone(), value));
            }
        }
        // What the BUILD file names must be visible to it; a rule's own defaults and private
        // attributes are the rule's business (Bazel checks those against the rule's package).
        if !from_default && !a.name.starts_with('_') {
            for dep in &out.deps[deps_before..] {
                self.check_visible(dep, decl)?;
            }
        }
        Ok(())
    }

    /// Refuse a dependency on a target that is not visible to `decl`'s package, as Bazel does.
    fn check_visible(&self, dep: &Label, decl: &TargetDecl) -> Result<()> {
        let package = self.loader.package(&dep.repo, &dep.package)?;
        let Some(target) = package.targets.get(&dep.name) else { return Ok(()) };
        if self.loader.is_visible(target, &decl.label)? {
            return Ok(());
        }
        let here = if decl.label.repo.is_empty() {
            format!("//{}:__pkg__", decl.label.package)
        } else {
            format!("@{}//{}:__pkg__", decl.label.repo, decl.label.package)
        };
        bail!(
            "target `{}` depends on `{}`, which is not visible to this package: its visibility is {} ({}). Add \"{here}\" (or \"//visibility:public\") to the visibility of `{}`.",
            decl.label,
            dep,
            target.visibility.describe(),
            target.location,
            dep
        )
    }

    /// `attr.label`: the target, its files, its single file and executable when asked for.
    fn resolve_label<'v>(
        &self,
        a: &AttrSchema,
        value: Value<'v>,
        base: &Label,
        module: &Module<'v>,
        out: &mut ResolvedAttrs<'v>,
    ) -> Result<()> {
        let heap = module.heap();
        if value.is_none() {
            out.attr.push((a.name.clone(), Value::new_none()));
            if a.checks.allow_files {
                out.files.push((a.name.clone(), heap.alloc(Vec::<Value>::new())));
            }
            if a.checks.single_file {
                out.file.push((a.name.clone(), Value::new_none()));
            }
            if a.checks.executable {
                out.executable.push((a.name.clone(), Value::new_none()));
            }
            return Ok(());
        }
        let dep = self.dependency(value, base, module, &mut out.deps)?;
        refuse_dependency(a, &dep)?;
        out.attr.push((a.name.clone(), heap.alloc(dep.target.clone())));
        let files: Vec<Value> = dep.default_files.iter().map(|f| heap.alloc(f.clone())).collect();
        if a.checks.single_file {
            if files.len() != 1 {
                bail!("`{}` must be a single file, but provides {}", dep.target.label, files.len());
            }
            out.file.push((a.name.clone(), files[0]));
        }
        if a.checks.executable {
            let exe =
                dep.executable.clone().or_else(|| (dep.default_files.len() == 1).then(|| dep.default_files[0].clone()));
            let exe = exe.ok_or_else(|| anyhow!("`{}` is not executable", dep.target.label))?;
            out.executable.push((a.name.clone(), heap.alloc(exe)));
        }
        out.files.push((a.name.clone(), heap.alloc(files)));
        Ok(())
    }

    /// `attr.label_list` (a list of targets) and `attr.label_keyed_string_dict` (targets as
    /// keys of strings): the dependencies, and all their files.
    fn resolve_labels<'v>(
        &self,
        a: &AttrSchema,
        value: Value<'v>,
        base: &Label,
        module: &Module<'v>,
        out: &mut ResolvedAttrs<'v>,
    ) -> Result<()> {
        let heap = module.heap();
        let keyed = a.kind == "label_keyed_string_dict";
        let pairs: Vec<(Value<'v>, Option<Value<'v>>)> = if keyed {
            let dict = DictRef::from_value(value)
                .ok_or_else(|| anyhow!("expected a dict of labels to strings, got {} `{}`", value.get_type(), value))?;
            dict.iter().map(|(k, v)| (k, Some(v))).collect()
        } else {
            let items = ListRef::from_value(value)
                .ok_or_else(|| anyhow!("expected a list of labels, got {} `{}`", value.get_type(), value))?;
            items.iter().map(|k| (k, None)).collect()
        };
        let mut targets = Vec::new();
        let mut entries = Vec::new();
        let mut files = Vec::new();
        for (label, text) in pairs {
            if let Some(text) = text.filter(|t| t.unpack_str().is_none()) {
                bail!("expected string values, got {} `{}` for `{}`", text.get_type(), text, label);
            }
            let dep = self.dependency(label, base, module, &mut out.deps)?;
            refuse_dependency(a, &dep)?;
            files.extend(dep.default_files.iter().map(|f| heap.alloc(f.clone())));
            let target = heap.alloc(dep.target.clone());
            match text {
                Some(text) => entries.push((target, text)),
                None => targets.push(target),
            }
        }
        let attr = if keyed { heap.alloc(AllocDict(entries)) } else { heap.alloc(targets) };
        out.attr.push((a.name.clone(), attr));
        out.files.push((a.name.clone(), heap.alloc(files)));
        Ok(())
    }

    /// Analyse the dependency a label attribute names, keep its providers' heap alive for
    /// `module`, and record it among the target's dependencies.
    pub(super) fn dependency<'v>(
        &self,
        value: Value<'v>,
        base: &Label,
        module: &Module<'v>,
        deps: &mut Vec<Label>,
    ) -> Result<Rc<Configured>> {
        let text = value
            .unpack_str()
            .ok_or_else(|| anyhow!("expected a label string, got {} `{}`", value.get_type(), value))?;
        let dep = self.analyze(&Label::parse(text, base)?)?;
        module.frozen_heap().add_reference(&dep.target.heap);
        deps.push(dep.target.label.clone());
        Ok(dep)
    }

    /// The file an `attr.output`/`attr.output_list` name declares in the target's package.
    pub(super) fn declared_output(&self, decl: &TargetDecl, name: &str) -> FileValue {
        let path = relink_core::label::join_path(
            &relink_core::label::join_path(&self.config.bin_dir(), &decl.label.package_exec_path()),
            name,
        );
        FileValue {
            short_path: path.strip_prefix(&format!("{}/", self.config.bin_dir())).unwrap_or(&path).to_string(),
            path,
            root: self.config.bin_dir(),
            owner: decl.label.clone(),
            origin: FileOrigin::Output,
            is_directory: false,
        }
    }
}

/// Attribute values being collected for `ctx`.
#[derive(Default)]
pub(super) struct ResolvedAttrs<'v> {
    pub(super) attr: Vec<(String, Value<'v>)>,
    pub(super) file: Vec<(String, Value<'v>)>,
    pub(super) files: Vec<(String, Value<'v>)>,
    pub(super) executable: Vec<(String, Value<'v>)>,
    pub(super) outputs: Vec<(String, Value<'v>)>,
    pub(super) pending_outputs: Vec<(String, String)>,
    pub(super) pending_output_lists: Vec<(String, Vec<String>)>,
    pub(super) deps: Vec<Label>,
}

/// A dependency an attribute does not take, as Bazel refuses it: a source file without
/// `allow_files`, a rule kind outside `allow_rules`, a target without the `providers` asked for.
pub(super) fn refuse_dependency(a: &attrs::AttrSchema, dep: &Configured) -> Result<()> {
    let label = dep.target.label.to_string();
    let why = if dep.kind == "source file" {
        a.refuses_file(&label)
    } else {
        let keys: Vec<u64> = dep.target.providers.iter().map(|(k, _)| *k).collect();
        a.refuses_target(&label, &dep.kind, &keys)
    };
    match why {
        Some(why) => bail!("{why}"),
        None => Ok(()),
    }
}

/// `rule(provides = [...])`: the implementation must return each provider it promises.
pub(super) fn check_provides(promised: &[(u64, String)], returned: &[(u64, FrozenValue)]) -> Result<()> {
    match promised.iter().find(|(key, _)| !returned.iter().any(|(k, _)| k == key)) {
        Some((_, name)) => bail!("the implementation did not return {name}, which rule(provides = ...) promises"),
        None => Ok(()),
    }
}

/// `allow_empty = False` and `values = [...]`, as Bazel enforces them.
pub(super) fn check_allowed(a: &attrs::AttrSchema, value: Value<'_>) -> Result<()> {
    if a.checks.non_empty && value.length().is_ok_and(|n| n == 0) {
        bail!("must not be empty (allow_empty = False)");
    }
    if !a.values.is_empty() && !a.values.iter().any(|v| v.to_value().equals(value).unwrap_or(false)) {
        let allowed: Vec<String> = a.values.iter().map(|v| v.to_value().to_repr()).collect();
        bail!("{} is not one of the allowed values [{}]", value.to_repr(), allowed.join(", "));
    }
    Ok(())
}

pub(super) fn check_plain_type(kind: &str, value: Value<'_>) -> Result<()> {
    let ty = value.get_type();
    let ok = match kind {
        "string" => ty == "string",
        "string_list" => ListRef::from_value(value).is_some_and(|l| l.iter().all(|v| v.unpack_str().is_some())),
        "string_dict" => DictRef::from_value(value).is_some(),
        "bool" => ty == "bool",
        "int" => ty == "int",
        _ => true,
    };
    if !ok {
        bail!("expected {}, got {} `{}`", kind.replace('_', " "), ty, value);
    }
    // Bazel's attr.int is a signed 32-bit integer.
    if kind == "int" && <i32 as starlark::values::UnpackValue>::unpack_value(value).ok().flatten().is_none() {
        bail!("{value} is out of range for attr.int (a signed 32-bit integer)");
    }
    Ok(())
}

/// `attr.output` and `attr.output_list`: the names, declared as the target's outputs later.
fn resolve_output<'v>(a: &AttrSchema, value: Value<'v>, out: &mut ResolvedAttrs<'v>) -> Result<()> {
    if a.kind == "output_list" {
        let items = ListRef::from_value(value)
            .ok_or_else(|| anyhow!("expected a list of file names, got {} `{}`", value.get_type(), value))?;
        let names = items
            .iter()
            .map(|i| i.unpack_str().map(str::to_string).ok_or_else(|| anyhow!("expected a file name, got `{i}`")))
            .collect::<Result<Vec<_>>>()?;
        out.pending_output_lists.push((a.name.clone(), names));
        out.attr.push((a.name.clone(), value));
    } else {
        if value.is_none() {
            out.outputs.push((a.name.clone(), Value::new_none()));
        } else {
            let name = value.unpack_str().ok_or_else(|| anyhow!("expected a file name"))?;
            out.pending_outputs.push((a.name.clone(), name.to_string()));
        }
        out.attr.push((a.name.clone(), value));
    }
    Ok(())
}
