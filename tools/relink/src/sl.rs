//! Glue between starlark-rust's error type and anyhow.

/// Convert a starlark result into an anyhow result.
pub trait SlResult<T> {
    /// Map the error into `anyhow::Error`, keeping its message and location.
    fn anyhow(self) -> anyhow::Result<T>;
}

impl<T> SlResult<T> for starlark::Result<T> {
    fn anyhow(self) -> anyhow::Result<T> {
        self.map_err(|e| e.into_anyhow())
    }
}
