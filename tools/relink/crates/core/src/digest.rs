//! Content digests: blake3 of bytes and files, and hex text. The bottom of every key
//! (action keys, source digests, store blobs); it depends on nothing else of relink.

use std::path::Path;

use anyhow::{Context, Result};

/// Lowercase hex of bytes (a digest, a key).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex blake3 of a byte slice.
pub fn digest_bytes(data: &[u8]) -> String {
    blake3::hash(data).to_hex().to_string()
}

/// Hex blake3 of a file.
pub fn digest_file(path: &Path) -> Result<String> {
    let mut hasher = blake3::Hasher::new();
    hasher.update_mmap(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(hasher.finalize().to_hex().to_string())
}
