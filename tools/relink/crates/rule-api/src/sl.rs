//! Glue between starlark-rust's error type and anyhow.

/// Convert a starlark result into an anyhow result.
pub trait SlResult<T> {
    /// Map the error into `anyhow::Error`, keeping its message and location.
    fn anyhow(self) -> anyhow::Result<T>;
}

impl<T> SlResult<T> for starlark::Result<T> {
    fn anyhow(self) -> anyhow::Result<T> {
        self.map_err(|e| crate::limits::located(e.into_anyhow()))
    }
}

/// A native's error from an `anyhow` one (its message and context chain).
pub fn err(e: anyhow::Error) -> starlark::Error {
    starlark::Error::new_other(e)
}
