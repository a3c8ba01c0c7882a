//! Limits on every Starlark evaluation (a BUILD file, a `.bzl` file, a rule implementation), so
//! that bad input ends in an error naming its file and line, never a hang or a panic:
//! - statements (an endless loop) and starlark-rust's ticks (calls and loop iterations, which
//!   also count comprehensions), each with an error at the statement;
//! - the evaluation's Starlark heap (a value that grows in a loop), checked by starlark-rust;
//! - the process's memory while an evaluation runs (one operation that builds a huge value,
//!   `[0] * 2000000000`, never reaches a statement boundary), watched by a thread that stops
//!   relink with the location of the statement running;
//! - a panic inside starlark-rust (it refuses values over 4 GiB that way), reported the same way.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, Once, OnceLock};
use std::time::Duration;

use starlark::codemap::{CodeMap, CodeMapId, FileSpan, FileSpanRef, Pos, Span};
use starlark::eval::{BeforeStmtFunc, BeforeStmtFuncDyn, Evaluator};

/// Statements one evaluation may run: beyond this it is taken to loop forever (about 10 s).
/// Real ones run a few thousand. `RELINK_STARLARK_MAX_STEPS` overrides it.
pub const MAX_STEPS: u64 = 50_000_000;

/// The Starlark heap one evaluation may fill, in MB (starlark-rust checks it every few thousand
/// calls and loop iterations); one analysis of a rust-analyzer target uses well under 1 MB.
/// `RELINK_STARLARK_MAX_HEAP_MB` overrides it.
pub const MAX_HEAP_MB: u64 = 1024;

/// The memory (resident set) relink may use while it evaluates Starlark, in MB; the analysis of
/// rust-analyzer's 290 packages peaks at 160 MB. `RELINK_STARLARK_MAX_MEMORY_MB` overrides it.
pub const MAX_MEMORY_MB: u64 = 4096;

fn env_limit(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).filter(|v| *v > 0).unwrap_or(default)
}

/// The limits in force, read from the environment once per process.
struct Limits {
    steps: u64,
    heap_mb: u64,
    memory_mb: u64,
}

fn limits() -> &'static Limits {
    static LIMITS: OnceLock<Limits> = OnceLock::new();
    LIMITS.get_or_init(|| Limits {
        steps: env_limit("RELINK_STARLARK_MAX_STEPS", MAX_STEPS),
        heap_mb: env_limit("RELINK_STARLARK_MAX_HEAP_MB", MAX_HEAP_MB),
        memory_mb: env_limit("RELINK_STARLARK_MAX_MEMORY_MB", MAX_MEMORY_MB),
    })
}

/// Evaluations running now (the watchdog and the panic hook act only while one runs).
static RUNNING: AtomicUsize = AtomicUsize::new(0);
/// The span of the statement running last (begin << 32 | end), in the file of `LAST_FILE`.
static LAST_SPAN: AtomicU64 = AtomicU64::new(0);
static LAST_FILE: Mutex<Option<CodeMap>> = Mutex::new(None);

/// Where the statement running last is, as `file:line:col-col`.
fn last_location() -> String {
    let span = LAST_SPAN.load(Ordering::Relaxed);
    let span = Span::new(Pos::new((span >> 32) as u32), Pos::new(span as u32));
    match LAST_FILE.lock().ok().and_then(|f| f.clone()) {
        Some(file) if span.end().get() as usize <= file.source().len() => FileSpan { file, span }.to_string(),
        _ => "<unknown location>".to_string(),
    }
}

/// Counts statements, records where the evaluation is, and stops it at the statement limit.
struct StepLimit {
    left: u64,
    limit: u64,
    file: CodeMapId,
}

impl<'e> BeforeStmtFuncDyn<'e> for StepLimit {
    fn call<'v>(
        &mut self,
        span: FileSpanRef,
        _continued: bool,
        _eval: &mut Evaluator<'v, '_, 'e>,
    ) -> starlark::Result<()> {
        if self.left == 0 {
            return Err(starlark::Error::new_other(anyhow::anyhow!(
                "{span}: evaluation ran {} statements without finishing (an endless loop, or a loop over a huge range?)",
                self.limit
            )));
        }
        self.left -= 1;
        let id = span.file.id();
        if id != self.file {
            self.file = id;
            if let Ok(mut file) = LAST_FILE.lock() {
                *file = Some(span.file.clone());
            }
        }
        LAST_SPAN.store(((span.span.begin().get() as u64) << 32) | span.span.end().get() as u64, Ordering::Relaxed);
        Ok(())
    }
}

/// While alive, an evaluation counts as running (for the memory watchdog and the panic hook).
pub struct Running(());

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Put every limit on `eval` (the code it compiles is instrumented for the statement count).
/// Keep the returned guard alive while `eval` runs.
#[must_use = "the evaluation counts as running only while the guard lives"]
pub fn limit(eval: &mut Evaluator<'_, '_, '_>) -> Running {
    let steps = limits().steps;
    eval.before_stmt_for_dap(BeforeStmtFunc::from_dyn(Box::new(StepLimit {
        left: steps,
        limit: steps,
        file: CodeMapId::EMPTY,
    })));
    // Both are set once per evaluator; a second call on the same one changes nothing.
    let _ = eval.set_max_heap_size((limits().heap_mb << 20) as usize);
    let _ = eval.set_max_tick_count(steps.saturating_mul(4));
    start_watching();
    RUNNING.fetch_add(1, Ordering::SeqCst);
    Running(())
}

/// Start the memory watchdog and the panic hook (once per process).
fn start_watching() {
    static START: Once = Once::new();
    START.call_once(|| {
        let limit_mb = limits().memory_mb;
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(50));
            if RUNNING.load(Ordering::SeqCst) > 0 && resident_mb().is_some_and(|mb| mb > limit_mb) {
                stop(&format!(
                    "evaluation uses more than {limit_mb} MB of memory (a value too large to build, such as \
                     `[0] * 2000000000`?); RELINK_STARLARK_MAX_MEMORY_MB raises the limit"
                ));
            }
        });
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if RUNNING.load(Ordering::SeqCst) == 0 {
                return default_hook(info);
            }
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            stop(&format!("evaluation failed inside starlark-rust: {message} (a value over 4 GiB?)"));
        }));
    });
}

/// starlark-rust reports its heap and tick limits without a location: name the statement that
/// ran last (the evaluation that hit the limit has just returned) and what to do.
pub fn located(error: anyhow::Error) -> anyhow::Error {
    let text = error.to_string();
    if text.starts_with("Heap memory limit of") {
        return anyhow::anyhow!(
            "{}: evaluation built more than {} MB of Starlark values (a value that grows without end?); \
             RELINK_STARLARK_MAX_HEAP_MB raises the limit",
            last_location(),
            limits().heap_mb
        );
    }
    if text.starts_with("Execution duration limit of") {
        let steps = limits().steps;
        return anyhow::anyhow!(
            "{}: evaluation ran {} calls and loop iterations without finishing (an endless loop, or a \
             comprehension over a huge range?); RELINK_STARLARK_MAX_STEPS raises the limit",
            last_location(),
            steps.saturating_mul(4)
        );
    }
    error
}

/// Report `why` at the statement running and end relink (exit code 1, as for a bad BUILD file).
fn stop(why: &str) -> ! {
    eprintln!("ERROR: {}: {why}", last_location());
    std::process::exit(1)
}

/// This process's resident set in MB.
fn resident_mb() -> Option<u64> {
    let status = fs_err::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}
