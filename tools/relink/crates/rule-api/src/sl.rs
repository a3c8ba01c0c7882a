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

/// A native's error from an `anyhow` one (its message and context chain).
pub fn err(e: anyhow::Error) -> starlark::Error {
    starlark::Error::new_other(e)
}

/// Statements one evaluation (a BUILD file, a `.bzl` file, a rule implementation) may run:
/// beyond this it is taken to loop forever (about 10 s). Real ones run a few thousand.
/// `RELINK_STARLARK_MAX_STEPS` overrides it.
pub const MAX_STEPS: u64 = 50_000_000;

fn max_steps() -> u64 {
    std::env::var("RELINK_STARLARK_MAX_STEPS").ok().and_then(|v| v.parse().ok()).unwrap_or(MAX_STEPS)
}

/// Counts statements and stops the evaluation at [`MAX_STEPS`] with an error at the statement.
struct StepLimit {
    left: u64,
    limit: u64,
}

impl StepLimit {
    fn new(limit: u64) -> StepLimit {
        StepLimit { left: limit, limit }
    }
}

impl<'e> starlark::eval::BeforeStmtFuncDyn<'e> for StepLimit {
    fn call<'v>(
        &mut self,
        span: starlark::codemap::FileSpanRef,
        _continued: bool,
        _eval: &mut starlark::eval::Evaluator<'v, '_, 'e>,
    ) -> starlark::Result<()> {
        if self.left == 0 {
            return Err(starlark::Error::new_other(anyhow::anyhow!(
                "{span}: evaluation ran {} statements without finishing (an endless loop, or a loop over a huge range?)",
                self.limit
            )));
        }
        self.left -= 1;
        Ok(())
    }
}

/// Limit the statements `eval` runs (the code it compiles is instrumented for it).
pub fn limit_steps(eval: &mut starlark::eval::Evaluator<'_, '_, '_>) {
    eval.before_stmt_for_dap(starlark::eval::BeforeStmtFunc::from_dyn(Box::new(StepLimit::new(max_steps()))));
}
