//! The loading phase: evaluating `.bzl` files and `BUILD` files into target declarations.

#![warn(clippy::too_many_lines)]

mod glob;
pub mod natives;
mod rules;

pub use glob::glob;
pub mod visibility;

use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{anyhow, bail, Result};
use relink_rule_api::sl::SlResult;
use starlark::any::ProvidesStaticType;
use starlark::environment::{FrozenModule, Globals, Module};
use starlark::eval::{Evaluator, FileLoader};
use starlark::syntax::{AstModule, Dialect};
use starlark::values::OwnedFrozenValue;

use relink_core::label::Label;
use relink_core::workspace::Workspace;
use relink_rule_api::rule_spec::ParsedRule;
use relink_rule_api::PRELUDE;

/// Attributes every rule accepts besides its own.
pub const COMMON_ATTRIBUTES: &[&str] = &[
    "visibility",
    "tags",
    "testonly",
    "deprecation",
    "features",
    "compatible_with",
    "target_compatible_with",
    "restricted_to",
    "exec_compatible_with",
    "licenses",
    "size",
    "timeout",
    "flaky",
    "shard_count",
    "local",
    "args",
    "applicable_licenses",
    "exec_properties",
];

static NEXT_RULE_ID: AtomicU64 = AtomicU64::new(1);

/// A fresh rule identity.
pub fn next_rule_id() -> u64 {
    NEXT_RULE_ID.fetch_add(1, Ordering::Relaxed)
}

/// A target as declared in a BUILD file.
pub struct TargetDecl {
    pub label: Label,
    /// Rule kind (`rust_library`).
    pub kind: String,
    pub rule_id: u64,
    /// Attribute values as written (a frozen dict, `name` excluded).
    pub attrs: OwnedFrozenValue,
    /// `file:line` of the rule call.
    pub location: String,
    /// Who may depend on it (its `visibility`, else the package's default, else private).
    pub visibility: visibility::Visibility,
}

impl TargetDecl {
    /// The `tags` the BUILD file gives the target (`manual`: not matched by `//...`).
    pub fn tags(&self) -> Vec<String> {
        let Some(attrs) = starlark::values::dict::DictRef::from_value(self.attrs.value()) else {
            return Vec::new();
        };
        let Some(tags) = attrs.get_str("tags").and_then(starlark::values::list::ListRef::from_value) else {
            return Vec::new();
        };
        tags.iter().filter_map(|t| t.unpack_str().map(str::to_string)).collect()
    }
}

/// An evaluated package.
pub struct Package {
    pub targets: BTreeMap<String, TargetDecl>,
    /// Execroot-relative path of the BUILD file.
    pub build_file: String,
    /// The package's `package_group`s by name.
    pub groups: BTreeMap<String, visibility::PackageGroup>,
}

/// A rule call recorded during a BUILD file's evaluation; its attributes sit in module
/// variable `var` until the module is frozen.
struct PendingTarget {
    name: String,
    kind: String,
    rule_id: u64,
    var: String,
    location: String,
}

/// Per-evaluation context reachable from native functions through `eval.extra`.
#[derive(ProvidesStaticType)]
struct EvalContext<'a> {
    loader: &'a Loader,
    /// Package whose BUILD file (or whose .bzl file) is evaluated.
    base: Label,
    is_build: bool,
    pending: RefCell<Vec<PendingTarget>>,
    /// What `package()` and `package_group()` declared.
    package_decls: RefCell<PackageDecls>,
}

/// A BUILD file's `package(default_visibility = ...)` and `package_group`s, as written.
#[derive(Default)]
struct PackageDecls {
    default_visibility: Option<Vec<String>>,
    groups: Vec<(String, Vec<String>, Vec<String>)>,
}

/// What evaluating a file left: the module, the rule calls, the package declarations.
struct Evaluated {
    module: FrozenModule,
    pending: Vec<PendingTarget>,
    decls: PackageDecls,
}

fn eval_context<'a>(eval: &'a Evaluator<'_, '_, '_>) -> Result<&'a EvalContext<'a>> {
    eval.extra
        .and_then(|e| e.downcast_ref::<EvalContext>())
        .ok_or_else(|| anyhow!("this function is only available while loading BUILD and .bzl files"))
}

/// `package(default_visibility = ...)` of the BUILD file being evaluated.
fn declare_default_visibility(eval: &Evaluator<'_, '_, '_>, items: Vec<String>) -> Result<()> {
    let ctx = eval_context(eval)?;
    if !ctx.is_build {
        bail!("package() can only be called in a BUILD file");
    }
    if !ctx.pending.borrow().is_empty() {
        bail!("package() must come before the targets of the BUILD file (as in Bazel): move it to the top");
    }
    ctx.package_decls.borrow_mut().default_visibility = Some(items);
    Ok(())
}

/// `package_group(...)` of the BUILD file being evaluated.
fn declare_package_group(
    eval: &Evaluator<'_, '_, '_>,
    name: String,
    packages: Vec<String>,
    includes: Vec<String>,
) -> Result<()> {
    let ctx = eval_context(eval)?;
    if !ctx.is_build {
        bail!("package_group() can only be called in a BUILD file");
    }
    ctx.package_decls.borrow_mut().groups.push((name, packages, includes));
    Ok(())
}

/// The label of the package being evaluated.
pub fn current_package(eval: &Evaluator<'_, '_, '_>) -> Result<Label> {
    Ok(eval_context(eval)?.base.clone())
}

/// Parse a label relative to the file being evaluated (or analysed).
pub fn parse_label_here(text: &str, eval: &Evaluator<'_, '_, '_>) -> Result<Label> {
    let base = match eval_context(eval) {
        Ok(ctx) => ctx.base.clone(),
        Err(_) => relink_rule_api::context::current_label(eval)?,
    };
    Label::parse(text, &base)
}

/// Evaluates and caches `.bzl` modules and packages.
pub struct Loader {
    pub workspace: Workspace,
    make_globals: fn() -> Globals,
    /// Globals and the evaluated prelude, built on first use: a build that reuses its stored
    /// analysis loads no Starlark and needs neither (building them is most of its start-up).
    engine: OnceCell<Engine>,
    bzl: RefCell<HashMap<Label, FrozenModule>>,
    loading: RefCell<Vec<Label>>,
    /// Each rule's specification (a `RuleSpec` in the frozen module that declared it).
    rules: RefCell<HashMap<u64, OwnedFrozenValue>>,
    /// Each rule parsed once from its specification (implementation, facts, attributes).
    parsed_rules: RefCell<HashMap<u64, Rc<ParsedRule>>>,
    packages: RefCell<HashMap<(String, String), Rc<Package>>>,
}

/// What evaluating Starlark needs: the globals and the prelude evaluated with them.
struct Engine {
    globals: Globals,
    prelude: FrozenModule,
}

struct ModuleLoader<'a> {
    loader: &'a Loader,
    base: Label,
}

impl FileLoader for ModuleLoader<'_> {
    fn load(&self, path: &str) -> starlark::Result<FrozenModule> {
        let label = Label::parse(path, &self.base).map_err(starlark::Error::new_other)?;
        self.loader.load_bzl(&label).map_err(starlark::Error::new_other)
    }
}

fn dialect() -> Dialect {
    Dialect { enable_f_strings: true, ..Dialect::Extended }
}

impl Loader {
    /// Create a loader; the Starlark globals come from `make_globals` when first needed.
    pub fn new(workspace: Workspace, make_globals: fn() -> Globals) -> Loader {
        Loader {
            workspace,
            make_globals,
            engine: OnceCell::new(),
            bzl: RefCell::default(),
            loading: RefCell::default(),
            rules: RefCell::default(),
            parsed_rules: RefCell::default(),
            packages: RefCell::default(),
        }
    }

    /// The globals and the evaluated prelude (built, and the prelude's rules registered, on
    /// the first call).
    fn engine(&self) -> Result<&Engine> {
        if let Some(engine) = self.engine.get() {
            return Ok(engine);
        }
        let globals = (self.make_globals)();
        let prelude = Module::with_temp_heap(|module| -> Result<FrozenModule> {
            let ast = AstModule::parse("@relink//:prelude.bzl", PRELUDE.to_string(), &dialect()).anyhow()?;
            {
                let mut eval = Evaluator::new(&module);
                let _running = relink_rule_api::limits::limit(&mut eval);
                eval.disable_gc();
                eval.eval_module(ast, &globals).anyhow()?;
            }
            module.freeze().map_err(|e| anyhow!("{e:?}"))
        })?;
        self.register_rules(&prelude)?;
        Ok(self.engine.get_or_init(|| Engine { globals, prelude }))
    }

    /// The evaluated prelude (its private helpers are used by analysis).
    pub fn prelude(&self) -> Result<&FrozenModule> {
        Ok(&self.engine()?.prelude)
    }

    /// The shared globals.
    pub fn globals(&self) -> Result<&Globals> {
        Ok(&self.engine()?.globals)
    }

    /// Remember the specification of every rule a frozen module exports (a rule must be
    /// exported to be used).
    fn register_rules(&self, module: &FrozenModule) -> Result<()> {
        let names: Vec<String> = module.names().map(|n| n.as_str().to_string()).collect();
        for name in names {
            let value = module.get_any_visibility(&name)?.0;
            let Some(rule) = rules::Rule::from_value(value.value()) else { continue };
            let id = rule.id;
            let spec =
                value.try_map(|v| rules::Rule::from_value(v.to_value()).and_then(|r| r.spec.unpack_frozen()).ok_or(()));
            let spec = spec.map_err(|()| anyhow!("internal error: rule `{name}` is not frozen"))?;
            self.rules.borrow_mut().entry(id).or_insert(spec);
        }
        Ok(())
    }

    /// Rule `id`: its implementation, facts and attribute schema (parsed on first use, then
    /// shared by every target declared with the rule and every analysis of one).
    pub fn rule(&self, id: u64) -> Result<Rc<ParsedRule>> {
        if let Some(rule) = self.parsed_rules.borrow().get(&id) {
            return Ok(rule.clone());
        }
        let spec = self.rules.borrow().get(&id).cloned().ok_or_else(|| anyhow!("internal error: unknown rule {id}"))?;
        let rule = Rc::new(ParsedRule::parse(&spec)?);
        self.parsed_rules.borrow_mut().insert(id, rule.clone());
        Ok(rule)
    }

    /// Load a `.bzl` file (cached; cycles are errors).
    pub fn load_bzl(&self, label: &Label) -> Result<FrozenModule> {
        if let Some(m) = self.bzl.borrow().get(label) {
            return Ok(m.clone());
        }
        if self.loading.borrow().contains(label) {
            let chain: Vec<String> = self.loading.borrow().iter().map(|l| l.to_string()).collect();
            bail!("load cycle: {} -> {}", chain.join(" -> "), label);
        }
        let path = self.workspace.source_path(label)?;
        let content = fs_err::read_to_string(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => anyhow!("cannot load {label}: {} does not exist", path.display()),
            std::io::ErrorKind::InvalidData => {
                anyhow!("cannot load {label}: {} is not UTF-8 text (Starlark files must be)", path.display())
            }
            _ => anyhow!("cannot load {label}: {e}"),
        })?;
        self.workspace.reads.file(&path, content.as_bytes());
        self.loading.borrow_mut().push(label.clone());
        let result = self.eval_file(label, &self.workspace.display_path(label), content, false);
        self.loading.borrow_mut().pop();
        let module = result?.module;
        self.register_rules(&module)?;
        self.bzl.borrow_mut().insert(label.clone(), module.clone());
        Ok(module)
    }

    fn eval_file(&self, label: &Label, display: &str, content: String, is_build: bool) -> Result<Evaluated> {
        Module::with_temp_heap(|module| self.eval_file_in(label, display, content, is_build, module))
    }

    fn eval_file_in(
        &self,
        label: &Label,
        display: &str,
        content: String,
        is_build: bool,
        module: Module<'_>,
    ) -> Result<Evaluated> {
        let base = Label::package_base(&label.repo, &label.package);
        module.import_public_symbols(self.prelude()?);
        let ast = AstModule::parse(display, content, &dialect()).anyhow()?;
        let ctx = EvalContext {
            loader: self,
            base: base.clone(),
            is_build,
            pending: RefCell::default(),
            package_decls: RefCell::default(),
        };
        let file_loader = ModuleLoader { loader: self, base };
        {
            let mut eval = Evaluator::new(&module);
            let _running = relink_rule_api::limits::limit(&mut eval);
            eval.disable_gc();
            eval.set_loader(&file_loader);
            eval.extra = Some(&ctx);
            eval.eval_module(ast, self.globals()?).anyhow()?;
        }
        let pending = ctx.pending.into_inner();
        let decls = ctx.package_decls.into_inner();
        let frozen = module.freeze().map_err(|e| anyhow!("{e:?}"))?;
        Ok(Evaluated { module: frozen, pending, decls })
    }

    /// Evaluate (once) the package `repo//package`.
    pub fn package(&self, repo: &str, package: &str) -> Result<Rc<Package>> {
        let key = (repo.to_string(), package.to_string());
        if let Some(p) = self.packages.borrow().get(&key) {
            return Ok(p.clone());
        }
        let base = Label::package_base(repo, package);
        let dir = self.workspace.package_dir(&base)?;
        let build = ["BUILD.bazel", "BUILD"]
            .iter()
            .map(|n| dir.join(n))
            .find(|p| self.workspace.reads.probe(p) == Some(true))
            .ok_or_else(|| {
                anyhow!(
                    "no such package `{}`: no BUILD.bazel or BUILD file in {}",
                    display_package(&base),
                    dir.display()
                )
            })?;
        let content = fs_err::read_to_string(&build).map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => {
                anyhow!("{}: not UTF-8 text (BUILD files must be)", build.display())
            }
            _ => anyhow!("{e}"),
        })?;
        self.workspace.reads.file(&build, content.as_bytes());
        let build_name = build.file_name().unwrap().to_string_lossy().to_string();
        let build_label = Label { name: build_name, ..base.clone() };
        let display = self.workspace.display_path(&build_label);
        let Evaluated { module, pending, decls } = self.eval_file(&build_label, &display, content, true)?;
        let default_visibility = decls.default_visibility.unwrap_or_default();
        let mut targets = BTreeMap::new();
        for p in pending {
            let attrs = module.get_any_visibility(&p.var)?.0;
            let label = Label { name: p.name.clone(), ..base.clone() };
            let written = string_list_attr(&attrs, "visibility");
            let visibility = visibility::Visibility::parse(written.as_ref().unwrap_or(&default_visibility), &base)
                .map_err(|e| anyhow!("{}: visibility of `{}`: {e}", p.location, p.name))?;
            let decl = TargetDecl { label, kind: p.kind, rule_id: p.rule_id, attrs, location: p.location, visibility };
            targets.insert(p.name, decl);
        }
        let mut groups = BTreeMap::new();
        for (name, packages, includes) in decls.groups {
            let specs = packages
                .iter()
                .map(|t| visibility::PackageSpec::parse(t, &base.repo))
                .collect::<Result<Vec<_>>>()
                .map_err(|e| anyhow!("{display}: package_group `{name}`: {e}"))?;
            let includes = includes.iter().map(|t| Label::parse(t, &base)).collect::<Result<Vec<_>>>()?;
            groups.insert(name, visibility::PackageGroup { specs, includes });
        }
        let pkg = Rc::new(Package { targets, build_file: display, groups });
        self.packages.borrow_mut().insert(key, pkg.clone());
        Ok(pkg)
    }
}

impl Loader {
    /// Whether a target of package `from` may depend on `dep` (Bazel's visibility: always
    /// within the package; else `dep`'s visibility list, package groups followed).
    pub fn is_visible(&self, dep: &TargetDecl, from: &Label) -> Result<bool> {
        if dep.label.repo == from.repo && dep.label.package == from.package {
            return Ok(true);
        }
        let rules = match &dep.visibility {
            visibility::Visibility::Public => return Ok(true),
            visibility::Visibility::Only(rules) => rules,
        };
        // `@<workspace name>//x` is the main repository, as `//x` is.
        let same_repo = |repo: &str| self.workspace.canonical_repo(repo) == self.workspace.canonical_repo(&from.repo);
        for rule in rules {
            let seen = match rule {
                visibility::Rule::Package { repo, package } => same_repo(repo) && *package == from.package,
                visibility::Rule::Subpackages { repo, package } => {
                    same_repo(repo) && visibility::below(&from.package, package)
                }
                visibility::Rule::Group(group) => self.group_contains(group, from, 0)?,
            };
            if seen {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn group_contains(&self, group: &Label, from: &Label, depth: usize) -> Result<bool> {
        if depth > 32 {
            bail!("package_group {group}: `includes` goes round in a cycle");
        }
        let package = self.package(&group.repo, &group.package)?;
        let Some(g) = package.groups.get(&group.name) else {
            bail!("{group} is named in a visibility list, but is no package_group (in {})", package.build_file);
        };
        let from_repo = self.workspace.canonical_repo(&from.repo);
        if g.specs.iter().any(|s| s.matches(from_repo, &from.package) || s.matches(&from.repo, &from.package)) {
            return Ok(true);
        }
        for included in &g.includes {
            if self.group_contains(included, from, depth + 1)? {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// A list-of-strings attribute as written (`None` when absent).
fn string_list_attr(attrs: &OwnedFrozenValue, name: &str) -> Option<Vec<String>> {
    let dict = starlark::values::dict::DictRef::from_value(attrs.value())?;
    let list = starlark::values::list::ListRef::from_value(dict.get_str(name)?)?;
    Some(list.iter().filter_map(|v| v.unpack_str().map(str::to_string)).collect())
}

fn display_package(base: &Label) -> String {
    if base.repo.is_empty() {
        format!("//{}", base.package)
    } else {
        format!("@{}//{}", base.repo, base.package)
    }
}
