//! Hollow rlibs: an `ar` archive whose only member is `lib.rmeta`.
//!
//! rustc accepts `.rmeta` files for dependencies of libraries, but a crate compiled with
//! `-Zno-link` (binaries, tests, proc macros) insists on the rlib format. Wrapping the rmeta
//! that a real compile emitted gives an interface with the very metadata of that compile.

use std::path::Path;

use anyhow::{Context, Result};

/// Write `rmeta` as a deterministic hollow rlib at `out` (zero mtime, uid, gid; mode 0644).
pub fn write_hollow_rlib(rmeta: &[u8], out: &Path) -> Result<()> {
    let file = std::fs::File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut builder = ar::Builder::new(file);
    let mut header = ar::Header::new(b"lib.rmeta".to_vec(), rmeta.len() as u64);
    header.set_mode(0o644);
    builder.append(&header, rmeta).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn hollow_rlib_is_deterministic_and_readable() {
        let dir = std::env::temp_dir().join(format!("hollow-{}", std::process::id()));
        fs_err::create_dir_all(&dir).unwrap();
        let a = dir.join("a.rlib");
        let b = dir.join("b.rlib");
        super::write_hollow_rlib(b"rust\0\0\0metadata", &a).unwrap();
        super::write_hollow_rlib(b"rust\0\0\0metadata", &b).unwrap();
        assert_eq!(fs_err::read(&a).unwrap(), fs_err::read(&b).unwrap());
        let mut archive = ar::Archive::new(std::fs::File::open(&a).unwrap());
        let entry = archive.next_entry().unwrap().unwrap();
        assert_eq!(entry.header().identifier(), b"lib.rmeta");
        fs_err::remove_dir_all(&dir).unwrap();
    }
}
