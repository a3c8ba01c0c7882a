//! What the user sees while actions run. On a terminal: one live status line (done/total and
//! the running actions with their elapsed time), redrawn by indicatif, with diagnostics
//! printed above it. Otherwise: one plain line per executed action, as before.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The live line of this process, if stderr is a terminal and an execution is under way.
fn bar() -> &'static Mutex<Option<ProgressBar>> {
    static BAR: OnceLock<Mutex<Option<ProgressBar>>> = OnceLock::new();
    BAR.get_or_init(Default::default)
}

/// The status display of one execution.
pub struct Status {
    live: Option<ProgressBar>,
    total: usize,
    /// Running actions: id -> (description, start).
    running: Mutex<BTreeMap<usize, (String, Instant)>>,
}

impl Status {
    /// A live line when `enabled` and stderr is a terminal; plain lines otherwise.
    pub fn new(total: usize, enabled: bool) -> Status {
        let live = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            bar.set_style(ProgressStyle::with_template("[{pos}/{len}] {wide_msg}").expect("a valid template"));
            bar.enable_steady_tick(Duration::from_millis(200));
            *bar_slot() = Some(bar.clone());
            bar
        });
        Status { live, total, running: Mutex::default() }
    }

    /// Whether a live line is shown (stderr is a terminal).
    pub fn is_live(&self) -> bool {
        self.live.is_some()
    }

    /// Action `id` started.
    pub fn started(&self, id: usize, mnemonic: &str, target: &str) {
        if self.live.is_some() {
            lock(&self.running).insert(id, (format!("{mnemonic} {target}"), Instant::now()));
            self.refresh();
        }
    }

    /// Action `id` ended; `executed`: it ran (not a cache hit). `done` actions are finished.
    pub fn finished(&self, id: usize, done: usize, executed: bool, mnemonic: &str, target: &str) {
        match &self.live {
            Some(bar) => {
                lock(&self.running).remove(&id);
                bar.set_position(done as u64);
                self.refresh();
            }
            None if executed => eprintln!("[{done}/{}] {mnemonic} {target}", self.total),
            None => {}
        }
    }

    /// Redraw the list of running actions, longest-running first.
    pub fn refresh(&self) {
        if let Some(bar) = &self.live {
            let now = Instant::now();
            let running = lock(&self.running);
            let mut items: Vec<(Duration, &String)> =
                running.values().map(|(what, start)| (now - *start, what)).collect();
            items.sort_by_key(|item| std::cmp::Reverse(item.0));
            let text: Vec<String> = items.iter().map(|(d, w)| format!("{w} {:.1}s", d.as_secs_f64())).collect();
            bar.set_message(text.join(", "));
        }
    }

    /// End the display (the live line is cleared).
    pub fn finish(self) {
        if let Some(bar) = self.live {
            bar.finish_and_clear();
            *bar_slot() = None;
        }
    }
}

fn bar_slot() -> std::sync::MutexGuard<'static, Option<ProgressBar>> {
    lock(bar())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Write `text` to stderr above the live line, if there is one.
pub fn print_above(text: &[u8]) -> std::io::Result<()> {
    let live = bar_slot().clone();
    match live {
        Some(bar) => bar.suspend(|| std::io::stderr().write_all(text)),
        None => std::io::stderr().write_all(text),
    }
}
