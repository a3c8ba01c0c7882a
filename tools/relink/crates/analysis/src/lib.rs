//! The analysis phase: running rule implementations over configured targets.

#![warn(clippy::too_many_lines)]

pub mod actions;
mod attr_values;
pub mod natives;
pub mod toolchains;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use dupe::Dupe;
use relink_rule_api::sl::SlResult;
use starlark::environment::Module;
use starlark::eval::Evaluator;
use starlark::values::dict::{AllocDict, DictRef};
use starlark::values::list::ListRef;
use starlark::values::structs::AllocStruct;
use starlark::values::{FrozenValue, Heap, Value, ValueLike};

use attr_values::*;
use relink_core::action::ActionGraph;
use relink_core::label::Label;
use relink_loading::{Loader, TargetDecl};
use relink_rule_api::attrs::{self, AttrSchema};
use relink_rule_api::context::AnalysisContext;
use relink_rule_api::info::provider_key_of;
use relink_rule_api::natives::default_info_key;
use relink_rule_api::rule_spec::ParsedRule;
use relink_rule_api::values::{FileOrigin, FileValue, LabelValue, TargetValue};

/// Build configuration (Bazel's `--compilation_mode` and `--define`).
#[derive(Clone, Debug)]
pub struct Config {
    pub compilation_mode: String,
    pub defines: BTreeMap<String, String>,
    /// `--platforms`: the target platform (default: the host).
    pub target_platform: Option<String>,
    /// Registered toolchain patterns, in resolution order.
    pub toolchain_registrations: Vec<String>,
}

impl Config {
    /// Output root for this configuration.
    pub fn bin_dir(&self) -> String {
        format!("relink-out/{}/bin", self.compilation_mode)
    }
}

/// A configured target.
pub struct Configured {
    pub target: TargetValue,
    pub kind: String,
    pub is_test: bool,
    pub default_files: Vec<FileValue>,
    pub executable: Option<FileValue>,
    pub runfiles: Vec<FileValue>,
    /// Labels of the targets it depends on.
    pub deps: Vec<Label>,
}

/// Runs the analysis of targets on demand, memoized.
pub struct Analyzer<'l> {
    loader: &'l Loader,
    pub config: Config,
    pub graph: RefCell<ActionGraph>,
    done: RefCell<HashMap<Label, Rc<Configured>>>,
    stack: RefCell<Vec<Label>>,
    /// Toolchain type -> the implementation target resolution chose.
    resolved_toolchains: RefCell<HashMap<Label, Label>>,
    /// (target, exec) platforms, read once.
    platforms: std::cell::OnceCell<(toolchains::Platform, toolchains::Platform)>,
}

impl<'l> Analyzer<'l> {
    /// A fresh analyzer.
    pub fn new(loader: &'l Loader, config: Config) -> Self {
        Analyzer {
            loader,
            config,
            graph: RefCell::default(),
            done: RefCell::default(),
            stack: RefCell::default(),
            resolved_toolchains: RefCell::default(),
            platforms: std::cell::OnceCell::new(),
        }
    }

    /// Analyse `label` (and, first, everything it depends on).
    pub fn analyze(&self, label: &Label) -> Result<Rc<Configured>> {
        let label = Label { repo: self.loader.workspace.canonical_repo(&label.repo).to_string(), ..label.clone() };
        if let Some(c) = self.done.borrow().get(&label) {
            return Ok(c.clone());
        }
        if self.stack.borrow().contains(&label) {
            let chain: Vec<String> = self.stack.borrow().iter().map(Label::to_string).collect();
            bail!("dependency cycle: {} -> {}", chain.join(" -> "), label);
        }
        let package = self.loader.package(&label.repo, &label.package)?;
        let configured = match package.targets.get(&label.name) {
            Some(decl) => {
                self.stack.borrow_mut().push(label.clone());
                let result = self.analyze_rule(decl);
                self.stack.borrow_mut().pop();
                result?
            }
            None => self.source_target(&label, &package.build_file)?,
        };
        let configured = Rc::new(configured);
        self.done.borrow_mut().insert(label, configured.clone());
        Ok(configured)
    }

    fn source_target(&self, label: &Label, build_file: &str) -> Result<Configured> {
        let path = self.loader.workspace.source_path(label)?;
        let Some(is_file) = self.loader.workspace.reads.probe(&path) else {
            bail!("no such target `{label}`: no rule of that name in {build_file} and no such file");
        };
        let exec_path = self.loader.workspace.display_path(label);
        let file = FileValue {
            short_path: exec_path.clone(),
            path: exec_path,
            root: String::new(),
            owner: label.clone(),
            origin: FileOrigin::Source,
            is_directory: !is_file,
        };
        // A source file provides DefaultInfo(files = depset([file])).
        let frozen = Module::with_temp_heap(|module| -> Result<_> {
            let heap = module.heap();
            let files =
                relink_rule_api::depset::make(Some(heap.alloc(vec![heap.alloc(file.clone())])), "default", None, heap)?;
            let info = self.make_default_info(&module, files)?;
            module.set("__result", heap.alloc(vec![info]));
            module.freeze().map_err(|e| anyhow!("{e:?}"))
        })?;
        let result = frozen.get_any_visibility("__result")?.0;
        let providers = extract_providers(result.value(), label)?;
        Ok(Configured {
            target: TargetValue {
                label: label.clone(),
                providers: Arc::new(providers),
                heap: frozen.frozen_heap().dupe(),
            },
            kind: "source file".into(),
            is_test: false,
            default_files: vec![file],
            executable: None,
            runfiles: Vec::new(),
            deps: Vec::new(),
        })
    }

    fn make_default_info<'v>(&self, module: &Module<'v>, files: Value<'v>) -> Result<Value<'v>> {
        let (_, provider) = self
            .loader
            .globals()?
            .iter()
            .find(|(name, _)| *name == "DefaultInfo")
            .ok_or_else(|| anyhow!("no DefaultInfo"))?;
        let mut eval = Evaluator::new(module);
        let _running = relink_rule_api::limits::limit(&mut eval);
        eval.disable_gc();
        eval.eval_function(provider.to_value(), &[], &[("files", files)]).anyhow()
    }

    fn call_prelude<'v>(
        &self,
        module: &Module<'v>,
        name: &str,
        pos: &[Value<'v>],
        named: &[(&str, Value<'v>)],
    ) -> Result<Value<'v>> {
        let f = self.loader.prelude()?.get_any_visibility(name)?.0;
        module.frozen_heap().add_reference(f.owner());
        let f = f.value().unpack_frozen().ok_or_else(|| anyhow!("prelude value not frozen"))?;
        let mut eval = Evaluator::new(module);
        let _running = relink_rule_api::limits::limit(&mut eval);
        eval.disable_gc();
        eval.eval_function(f.to_value(), pos, named).anyhow()
    }

    fn analyze_rule(&self, decl: &TargetDecl) -> Result<Configured> {
        let rule = self.loader.rule(decl.rule_id)?;
        Module::with_temp_heap(|module| self.analyze_rule_in(decl, &rule, module))
    }

    fn analyze_rule_in<'v>(&self, decl: &TargetDecl, rule: &ParsedRule, module: Module<'v>) -> Result<Configured> {
        module.frozen_heap().add_reference(decl.attrs.owner());
        module.frozen_heap().add_reference(rule.implementation.owner());
        let heap = module.heap();
        let attrs_value =
            decl.attrs.value().unpack_frozen().ok_or_else(|| anyhow!("internal: attrs not frozen"))?.to_value();
        let given = DictRef::from_value(attrs_value).ok_or_else(|| anyhow!("internal: attrs"))?;
        let mut resolved = ResolvedAttrs::default();
        resolved.attr.push(("name".into(), heap.alloc(decl.label.name.as_str())));
        let spec_repo = decl.label.repo.clone();
        for a in &rule.attrs {
            let raw = given.get_str(&a.name);
            let from_default = raw.is_none();
            if from_default && a.checks.mandatory {
                bail!("{}: {}() is missing the mandatory attribute `{}`", decl.location, decl.kind, a.name);
            }
            let value = raw.unwrap_or_else(|| a.default.to_value());
            let value = self.resolve_select(value, decl, heap)?;
            self.resolve_attr(a, value, decl, from_default, &spec_repo, &module, &mut resolved)
                .with_context(|| format!("{}: attribute `{}` of {}()", decl.location, a.name, decl.kind))?;
        }
        let implementation = rule.implementation.value().unpack_frozen().ok_or_else(|| anyhow!("internal: spec"))?;
        let implementation = implementation.to_value();
        let is_test = rule.facts.test;
        let toolchains = self
            .toolchain_infos(&rule.facts.toolchains, &module, &mut resolved.deps)
            .with_context(|| format!("{}: toolchains of {}()", decl.location, decl.kind))?;
        let mut deps_of = std::mem::take(&mut resolved.deps);
        // Files named by attr.output/attr.output_list are this target's to write.
        let attr_outputs = resolved.pending_outputs.iter().map(|(_, n)| n);
        let attr_outputs = attr_outputs.chain(resolved.pending_output_lists.iter().flat_map(|(_, names)| names));
        let declared = attr_outputs.map(|n| self.declared_output(decl, n).path).collect();
        let ctx = self.make_ctx(&module, decl, resolved, toolchains)?;
        let actx = AnalysisContext {
            label: decl.label.clone(),
            bin_dir: self.config.bin_dir(),
            declared: RefCell::new(declared),
            graph: &self.graph,
        };
        let result = {
            let mut eval = Evaluator::new(&module);
            let _running = relink_rule_api::limits::limit(&mut eval);
            eval.disable_gc();
            eval.extra = Some(&actx);
            eval.eval_function(implementation, &[ctx], &[]).anyhow().with_context(|| {
                format!("{}: in the implementation of {}() for {}", decl.location, decl.kind, decl.label)
            })?
        };
        let result = if result.is_none() { heap.alloc(Vec::<Value>::new()) } else { result };
        if ListRef::from_value(result).is_none() {
            bail!(
                "{}: the implementation of {}() must return a list of providers, got {}",
                decl.location,
                decl.kind,
                result.get_type()
            );
        }
        module.set("__result", result);
        self.check_generated(&actx, decl)?;
        drop(actx);
        let frozen = module.freeze().map_err(|e| anyhow!("{e:?}"))?;
        let result = frozen.get_any_visibility("__result")?.0;
        let providers = extract_providers(result.value(), &decl.label)?;
        check_provides(&rule.facts.provides, &providers)
            .with_context(|| format!("{}: {}() for {}", decl.location, decl.kind, decl.label))?;
        let deps = std::mem::take(&mut deps_of);
        let target = TargetValue {
            label: decl.label.clone(),
            providers: Arc::new(providers),
            heap: frozen.frozen_heap().dupe(),
        };
        let (default_files, executable, runfiles) = default_info_parts(&target)?;
        Ok(Configured { target, kind: decl.kind.clone(), is_test, default_files, executable, runfiles, deps })
    }

    /// As Bazel: every file a target declared must have an action that writes it.
    fn check_generated(&self, actx: &AnalysisContext, decl: &TargetDecl) -> Result<()> {
        let graph = self.graph.borrow();
        let mut missing: Vec<String> =
            actx.declared.borrow().iter().filter(|p| graph.producer_of(p).is_none()).cloned().collect();
        if missing.is_empty() {
            return Ok(());
        }
        missing.sort();
        bail!(
            "{}: {}() for {} declared outputs that no action writes: {} (give each to an action's `outputs`, or do not declare it)",
            decl.location,
            decl.kind,
            decl.label,
            missing.join(", ")
        )
    }

    /// `ctx.toolchains`: for each toolchain type the rule requests, the ToolchainInfo of the
    /// toolchain resolution chose, keyed by the type as written and as a label.
    fn toolchain_infos<'v>(
        &self,
        types: &[(String, String)],
        module: &Module<'v>,
        deps: &mut Vec<Label>,
    ) -> Result<Value<'v>> {
        let heap = module.heap();
        let mut entries: Vec<(String, Value<'v>)> = Vec::new();
        for (ty, as_written) in types {
            let ty = Label::parse(ty, &Label::package_base("", ""))?;
            let implementation = self.resolve_toolchain(&ty)?;
            let dep = self.analyze(&implementation)?;
            module.frozen_heap().add_reference(&dep.target.heap);
            deps.push(dep.target.label.clone());
            let info = dep.target.provider(self.toolchain_info_key()?).ok_or_else(|| {
                anyhow!("toolchain `{implementation}` (type {ty}) does not return platform_common.ToolchainInfo")
            })?;
            let canonical = Label { repo: self.loader.workspace.canonical_repo(&ty.repo).to_string(), ..ty.clone() };
            for key in [as_written.clone(), ty.to_string(), canonical.to_string()] {
                if !entries.iter().any(|(k, _)| *k == key) {
                    entries.push((key, info.to_value()));
                }
            }
        }
        Ok(heap.alloc(AllocDict(entries)))
    }

    /// The target platform (`--platforms`, else the host) and the exec platform (the host).
    fn platforms(&self) -> Result<&(toolchains::Platform, toolchains::Platform)> {
        if let Some(p) = self.platforms.get() {
            return Ok(p);
        }
        let resolver = toolchains::Resolver { loader: self.loader };
        let exec = resolver.host()?;
        let target = match &self.config.target_platform {
            Some(p) => resolver
                .platform(&Label::parse(p, &Label::package_base("", ""))?)
                .with_context(|| format!("--platforms={p}"))?,
            None => exec.clone(),
        };
        let _ = self.platforms.set((target, exec));
        Ok(self.platforms.get().expect("just set"))
    }

    fn resolve_toolchain(&self, toolchain_type: &Label) -> Result<Label> {
        if let Some(l) = self.resolved_toolchains.borrow().get(toolchain_type) {
            return Ok(l.clone());
        }
        let resolver = toolchains::Resolver { loader: self.loader };
        let (target, exec) = self.platforms()?;
        let chosen =
            resolver.resolve(toolchain_type, &self.config.toolchain_registrations, target, exec, &|setting| {
                self.config_setting_matches(setting)
            })?;
        self.resolved_toolchains.borrow_mut().insert(toolchain_type.clone(), chosen.clone());
        Ok(chosen)
    }

    fn toolchain_info_key(&self) -> Result<u64> {
        let (v, _) = self.loader.prelude()?.get_any_visibility("_ToolchainInfo")?;
        v.value()
            .downcast_ref::<relink_rule_api::values::ProviderValue>()
            .map(|p| p.key)
            .ok_or_else(|| anyhow!("internal: _ToolchainInfo is not a provider"))
    }

    fn make_ctx<'v>(
        &self,
        module: &Module<'v>,
        decl: &TargetDecl,
        resolved: ResolvedAttrs<'v>,
        toolchains: Value<'v>,
    ) -> Result<Value<'v>> {
        let heap = module.heap();
        let mut var: Vec<(String, String)> = vec![("COMPILATION_MODE".into(), self.config.compilation_mode.clone())];
        var.extend(self.config.defines.iter().map(|(k, v)| (k.clone(), v.clone())));
        let var = heap.alloc(AllocDict(var));
        let bin_dir = heap.alloc(AllocStruct([("path", self.config.bin_dir())]));
        let pkg = self.loader.package(&decl.label.repo, &decl.label.package)?;
        let mut outputs = resolved.outputs;
        for (attr, name) in resolved.pending_outputs {
            outputs.push((attr, heap.alloc(self.declared_output(decl, &name))));
        }
        for (attr, names) in resolved.pending_output_lists {
            let files: Vec<FileValue> = names.iter().map(|n| self.declared_output(decl, n)).collect();
            outputs.push((attr, heap.alloc(files)));
        }
        let named: Vec<(&str, Value<'v>)> = vec![
            ("label", heap.alloc(LabelValue(decl.label.clone()))),
            ("attr", heap.alloc(AllocStruct(resolved.attr))),
            ("file", heap.alloc(AllocStruct(resolved.file))),
            ("files", heap.alloc(AllocStruct(resolved.files))),
            ("executable", heap.alloc(AllocStruct(resolved.executable))),
            ("outputs", heap.alloc(AllocStruct(outputs))),
            ("var", var),
            ("bin_dir", bin_dir),
            ("build_file_path", heap.alloc(pkg.build_file.as_str())),
            ("toolchains", toolchains),
            (
                "workspace_name",
                heap.alloc(if self.loader.workspace.name.is_empty() {
                    "__main__"
                } else {
                    self.loader.workspace.name.as_str()
                }),
            ),
        ];
        self.call_prelude(module, "_make_ctx", &[], &named)
    }
}

/// (provider key, instance) for every returned provider.
fn extract_providers(result: Value<'_>, label: &Label) -> Result<Vec<(u64, FrozenValue)>> {
    let result = result.unpack_frozen().ok_or_else(|| anyhow!("internal: result not frozen"))?;
    let list = ListRef::from_value(result.to_value()).ok_or_else(|| anyhow!("internal: result list"))?;
    let mut out = Vec::new();
    for item in list.iter() {
        let key = provider_key_of(item).ok_or_else(|| {
            anyhow!(
                "{label}: the rule implementation returned {} `{}`, which is not a provider instance",
                item.get_type(),
                item
            )
        })?;
        let frozen = item.unpack_frozen().ok_or_else(|| anyhow!("internal: provider not frozen"))?;
        out.push((key, frozen));
    }
    Ok(out)
}

fn to_files(v: Option<Value<'_>>) -> Result<Vec<FileValue>> {
    match v {
        None => Ok(Vec::new()),
        Some(v) => relink_rule_api::depset::to_list(v)?
            .into_iter()
            .map(|f| FileValue::from_value(f).cloned().ok_or_else(|| anyhow!("DefaultInfo holds a non-File {}", f)))
            .collect(),
    }
}

/// Files, executable and runfiles from a target's DefaultInfo.
fn default_info_parts(target: &TargetValue) -> Result<(Vec<FileValue>, Option<FileValue>, Vec<FileValue>)> {
    let Some(info) = target.provider(default_info_key()) else { return Ok((Vec::new(), None, Vec::new())) };
    Module::with_temp_heap(|tmp| {
        let heap = tmp.heap();
        let info = info.to_value();
        let files = to_files(info.get_attr("files", heap).anyhow()?)?;
        let executable = info.get_attr("executable", heap).anyhow()?.and_then(FileValue::from_value).cloned();
        let runfiles = match info.get_attr("runfiles", heap).anyhow()? {
            Some(r) if !r.is_none() => to_files(r.get_attr("files", heap).anyhow()?)?,
            _ => Vec::new(),
        };
        Ok((files, executable, runfiles))
    })
}
