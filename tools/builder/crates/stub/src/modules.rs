//! Following a crate's module tree from its root, the way rustc resolves `mod x;`.

use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use syn::visit::Visit;

/// A parsed module file.
pub struct ParsedFile {
    /// Path as reached from the crate root (relative paths stay relative).
    pub path: PathBuf,
    /// Original text.
    pub source: String,
    /// Syntax tree; spans are byte-aligned with `source`.
    pub ast: syn::File,
}

/// Parse every module file reachable from `root`, root first.
pub fn parse_module_tree(root: &Path) -> Result<Vec<ParsedFile>> {
    let mut queue: VecDeque<(PathBuf, bool)> = VecDeque::from([(root.to_path_buf(), true)]);
    let mut seen: BTreeSet<PathBuf> = BTreeSet::new();
    let mut files = Vec::new();
    while let Some((path, mod_rs_like)) = queue.pop_front() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let file = parse_file(&path)?;
        let file_dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
        let children_dir = if mod_rs_like || is_mod_rs(&path) {
            file_dir.clone()
        } else {
            file_dir.join(path.file_stem().unwrap_or_default())
        };
        let mut found = Vec::new();
        collect_module_files(&file.ast.items, &path, &file_dir, &children_dir, false, &mut found)?;
        queue.extend(found);
        files.push(file);
    }
    Ok(files)
}

fn is_mod_rs(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == "mod.rs")
}

/// Read and parse one file. Shebang and byte-order mark are blanked (same byte length) so
/// that every span stays aligned with the original text.
fn parse_file(path: &Path) -> Result<ParsedFile> {
    let source =
        fs_err::read_to_string(path).with_context(|| format!("{}: cannot read module file", path.display()))?;
    let mut for_parse = source.clone();
    let mut start = 0;
    if for_parse.starts_with('\u{feff}') {
        for_parse.replace_range(0..3, "   ");
        start = 3;
    }
    let rest = &for_parse[start..];
    if rest.starts_with("#!") && !rest.starts_with("#![") {
        let end = for_parse.find('\n').unwrap_or(for_parse.len());
        for_parse.replace_range(start..end, &" ".repeat(end - start));
    }
    let ast = syn::parse_file(&for_parse).map_err(|err| {
        let start = err.span().start();
        anyhow!("{}:{}:{}: syntax error: {}", path.display(), start.line, start.column + 1, err)
    })?;
    Ok(ParsedFile { path: path.to_path_buf(), source, ast })
}

/// The string values of `#[path = ".."]`, including those behind `cfg_attr`.
fn path_attributes(attrs: &[syn::Attribute]) -> Vec<String> {
    let mut out = Vec::new();
    for attr in attrs {
        collect_path_meta(&attr.meta, &mut out);
    }
    out
}

fn collect_path_meta(meta: &syn::Meta, out: &mut Vec<String>) {
    match meta {
        syn::Meta::NameValue(nv) if nv.path.is_ident("path") => {
            if let syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) = &nv.value {
                out.push(s.value());
            }
        }
        syn::Meta::List(list) if list.path.is_ident("cfg_attr") => {
            let parsed =
                list.parse_args_with(syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated);
            if let Ok(metas) = parsed {
                for m in metas.iter().skip(1) {
                    collect_path_meta(m, out);
                }
            }
        }
        _ => {}
    }
}

fn has_cfg(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| a.path().is_ident("cfg") || a.path().is_ident("cfg_attr"))
}

/// Find the files of `mod x;` declarations among `items`.
///
/// `file_dir` is the directory of the current file (base of `#[path]` outside inline modules),
/// `children_dir` where default child module files live, `inline` whether we are inside an
/// inline `mod x { .. }` (then `#[path]` is relative to `children_dir`).
fn collect_module_files(
    items: &[syn::Item],
    current: &Path,
    file_dir: &Path,
    children_dir: &Path,
    inline: bool,
    found: &mut Vec<(PathBuf, bool)>,
) -> Result<()> {
    for item in items {
        let syn::Item::Mod(m) = item else { continue };
        let name = m.ident.to_string();
        let name = name.strip_prefix("r#").unwrap_or(&name);
        let explicit = path_attributes(&m.attrs);
        if let Some((_, inner)) = &m.content {
            let dir = match explicit.first() {
                Some(p) => children_dir.join(p),
                None => children_dir.join(name),
            };
            collect_module_files(inner, current, file_dir, &dir, true, found)?;
            continue;
        }
        let base = if inline { children_dir } else { file_dir };
        let mut candidates: Vec<(PathBuf, bool)> = explicit.iter().map(|p| (base.join(p), true)).collect();
        if explicit.is_empty() || has_cfg(&m.attrs) {
            candidates.push((children_dir.join(format!("{name}.rs")), false));
            candidates.push((children_dir.join(name).join("mod.rs"), true));
        }
        let existing: Vec<_> = candidates.iter().filter(|(p, _)| p.is_file()).cloned().collect();
        if existing.is_empty() && !has_cfg(&m.attrs) {
            let line = syn::spanned::Spanned::span(&m.ident).start().line;
            let looked: Vec<String> = candidates.iter().map(|(p, _)| p.display().to_string()).collect();
            bail!(
                "{}:{}: `mod {};` has no source file (looked for {}); add the file to `srcs`",
                current.display(),
                line,
                name,
                looked.join(", ")
            );
        }
        found.extend(existing);
    }
    Ok(())
}

/// Names of the `#[macro_export]` macros of a file (at any depth).
pub fn exported_macro_names(ast: &syn::File) -> Vec<String> {
    struct Collect(Vec<String>);
    impl<'ast> Visit<'ast> for Collect {
        fn visit_item_macro(&mut self, m: &'ast syn::ItemMacro) {
            let exported = m.attrs.iter().any(|a| a.path().is_ident("macro_export"));
            if let (true, true, Some(ident)) = (m.mac.path.is_ident("macro_rules"), exported, &m.ident) {
                self.0.push(ident.to_string());
            }
            syn::visit::visit_item_macro(self, m);
        }
    }
    let mut c = Collect(Vec::new());
    c.visit_file(ast);
    c.0
}

/// Every `macro_rules!` definition in a file, including those inside bodies, as
/// (name, body tokens).
pub fn macro_rules_definitions(ast: &syn::File) -> Vec<(String, proc_macro2::TokenStream)> {
    struct Collect(Vec<(String, proc_macro2::TokenStream)>);
    impl<'ast> Visit<'ast> for Collect {
        fn visit_item_macro(&mut self, m: &'ast syn::ItemMacro) {
            if m.mac.path.is_ident("macro_rules") {
                if let Some(ident) = &m.ident {
                    self.0.push((ident.to_string(), m.mac.tokens.clone()));
                }
            }
            syn::visit::visit_item_macro(self, m);
        }
    }
    let mut c = Collect(Vec::new());
    c.visit_file(ast);
    c.0
}

/// One leaf of a `use` item: the name it binds in this module, the name it imports, and
/// whether the item is `pub` (exported). `pub use T_ as T;` is ("T", "T_", true),
/// `use parser::{T, Kind};` ("T", "T", false) and ("Kind", "Kind", false). Globs are not
/// followed.
pub struct UseLeaf {
    pub name: String,
    pub original: String,
    pub public: bool,
}

/// Every `use` leaf of the file, nested modules included.
pub fn use_leaves(ast: &syn::File) -> Vec<UseLeaf> {
    fn walk(tree: &syn::UseTree, public: bool, out: &mut Vec<UseLeaf>) {
        let mut leaf = |name: &syn::Ident, original: &syn::Ident| {
            out.push(UseLeaf { name: name.to_string(), original: original.to_string(), public })
        };
        match tree {
            syn::UseTree::Path(p) => walk(&p.tree, public, out),
            syn::UseTree::Rename(r) => leaf(&r.rename, &r.ident),
            syn::UseTree::Name(n) => leaf(&n.ident, &n.ident),
            syn::UseTree::Group(g) => g.items.iter().for_each(|t| walk(t, public, out)),
            syn::UseTree::Glob(_) => {}
        }
    }
    struct Collect(Vec<UseLeaf>);
    impl<'ast> Visit<'ast> for Collect {
        fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
            walk(&u.tree, matches!(u.vis, syn::Visibility::Public(_)), &mut self.0);
        }
    }
    let mut c = Collect(Vec::new());
    c.visit_file(ast);
    c.0
}
