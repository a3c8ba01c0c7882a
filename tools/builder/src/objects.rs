//! Deterministic names for the object files of incremental compiles.
//!
//! With `-C incremental`, rustc (since 1.87, rust-lang/rust#139453) puts a random string of
//! each invocation into the names of the objects it writes (`krate.<cgu>.<random>.rcgu.o`), so
//! the same sources give rlibs and `-Zno-link` directories whose bytes differ between runs.
//! The contents are identical; only the names differ. The builder renames the objects
//! (`krate.<cgu>.rcgu.o`) and re-writes the rlib archive with `ar_archive_writer`, the crate
//! rustc itself writes rlibs with, which recomputes the symbol table.

use std::io::Read;
use std::path::Path;

use anyhow::{bail, Context, Result};

/// `krate.<cgu>.<random>.rcgu.o` without the random part; `None` for other names.
pub fn stable_name(name: &str) -> Option<String> {
    let stem = name.strip_suffix(".rcgu.o")?;
    let (head, random) = stem.rsplit_once('.')?;
    // The head is `krate.<cgu>`: exactly one dot (crate names and CGU hashes have none).
    if head.matches('.').count() != 1 || random.is_empty() || !random.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    Some(format!("{head}.rcgu.o"))
}

/// Re-write the rlib at `path` with stable object names (a no-op when none needs renaming).
pub fn normalize_rlib(path: &Path) -> Result<()> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut archive = ar::Archive::new(file);
    let mut members: Vec<(String, Vec<u8>)> = Vec::new();
    let mut renamed = false;
    while let Some(entry) = archive.next_entry() {
        let mut entry = entry.with_context(|| format!("cannot read the archive {}", path.display()))?;
        let name = String::from_utf8_lossy(entry.header().identifier()).into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data)?;
        let stable = stable_name(&name);
        renamed |= stable.is_some();
        members.push((stable.unwrap_or(name), data));
    }
    if !renamed {
        return Ok(());
    }
    let mut names: Vec<&String> = members.iter().map(|(n, _)| n).collect();
    names.sort();
    if names.windows(2).any(|w| w[0] == w[1]) {
        bail!("{}: renaming its objects would give two members one name", path.display());
    }
    let new_members: Vec<ar_archive_writer::NewArchiveMember> = members
        .iter()
        .map(|(name, data)| {
            ar_archive_writer::NewArchiveMember::new(
                data.as_slice(),
                &ar_archive_writer::DEFAULT_OBJECT_READER,
                name.clone(),
            )
        })
        .collect();
    let mut out = std::io::Cursor::new(Vec::new());
    ar_archive_writer::write_archive_to_stream(
        &mut out,
        &new_members,
        ar_archive_writer::ArchiveKind::Gnu,
        false,
        None,
    )
    .with_context(|| format!("cannot re-write {}", path.display()))?;
    let tmp = crate::util::sibling(path, "normalized");
    fs_err::write(&tmp, out.into_inner()).with_context(|| format!("cannot write {}", tmp.display()))?;
    fs_err::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))
}

/// Rename the objects of a `-Zno-link` directory; returns (old, new) file names.
pub fn normalize_dir(dir: &Path) -> Result<Vec<(String, String)>> {
    let mut renames = Vec::new();
    for entry in fs_err::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(stable) = stable_name(&name) {
            if dir.join(&stable).exists() {
                bail!("{}: renaming {name} would replace {stable}", dir.display());
            }
            fs_err::rename(dir.join(&name), dir.join(&stable))?;
            renames.push((name, stable));
        }
    }
    Ok(renames)
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_random_part_of_incremental_names_goes() {
        use super::stable_name;
        assert_eq!(
            stable_name("sfx.co1kzzgq9iml88fdneh5mans4.01ybce6.rcgu.o").as_deref(),
            Some("sfx.co1kzzgq9iml88fdneh5mans4.rcgu.o")
        );
        assert_eq!(stable_name("spans.spans.3a00172875d61cd8-cgu.0.rcgu.o"), None, "non-incremental names stay");
        assert_eq!(stable_name("lib.rmeta"), None);
    }
}
