//! The scheduler: runs the needed actions on `jobs` workers, the longest chain of dependents
//! first, each when its inputs exist; stops starting new ones after a failure unless
//! keep-going; local runs limited to `jobs` while remote lookups may overlap them.

use super::*;

struct State {
    outcomes: HashMap<usize, Outcome>,
    /// Actions whose inputs are all built, the longest chain of dependents first.
    ready: BinaryHeap<(usize, Reverse<usize>)>,
    /// Per action: how many actions the longest chain from it to a requested output holds.
    heights: HashMap<usize, usize>,
    waiting_on: HashMap<usize, usize>,
    running: usize,
    failed: Vec<(usize, anyhow::Error)>,
    /// Set when execution must stop (a failure without keep-going).
    stop: bool,
    done: usize,
}

/// Run `needed` actions (and only those). Without keep-going no action starts after the first
/// failure; either way every failure, and every action that finished, is reported.
pub fn execute(graph: &ActionGraph, needed: &[usize], opts: &ExecOptions) -> Result<Executed> {
    interrupt::install();
    let needed_set: HashSet<usize> = needed.iter().copied().collect();
    let mut dependents: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut waiting_on = HashMap::new();
    let mut roots = Vec::new();
    for &i in needed {
        let deps: HashSet<usize> = graph.actions[i]
            .inputs
            .iter()
            .filter_map(|p| graph.producer_of(p))
            .filter(|d| needed_set.contains(d))
            .collect();
        for &d in &deps {
            dependents.entry(d).or_default().push(i);
        }
        if deps.is_empty() {
            roots.push(i);
        } else {
            waiting_on.insert(i, deps.len());
        }
    }
    let total = needed.len();
    let heights = chain_heights(needed, &dependents);
    let ready = roots.into_iter().map(|i| (heights[&i], Reverse(i))).collect();
    let state = Mutex::new(State {
        outcomes: HashMap::new(),
        ready,
        heights,
        waiting_on,
        running: 0,
        failed: Vec::new(),
        stop: false,
        done: 0,
    });
    let wake = Condvar::new();
    let epoch = Instant::now();
    let status = status::Status::new(total, opts.progress);
    let jobs = opts.jobs.max(1);
    // With a remote cache most actions wait on the network, not on a core: more of them are
    // looked up at once, while no more than `jobs` run here.
    let workers_n = if opts.remote.is_some() { jobs * REMOTE_LOOKUPS_PER_JOB } else { jobs };
    let slots = LocalSlots { free: Mutex::new(jobs), freed: Condvar::new() };
    let (finished, ticks) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..workers_n)
            .map(|_| scope.spawn(|| worker(graph, &state, &wake, &dependents, opts, &status, epoch, &slots)))
            .collect();
        if status.is_live() {
            // Elapsed times of running actions on the live line, until the workers are done.
            let status = &status;
            scope.spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = ticks.recv_timeout(std::time::Duration::from_millis(100)) {
                    status.refresh();
                }
            });
        }
        for w in workers {
            if let Err(panic) = w.join() {
                std::panic::resume_unwind(panic);
            }
        }
        drop(finished);
    });
    status.finish();
    let state = state.into_inner().unwrap();
    let skipped = needed.len() - state.outcomes.len() - state.failed.len();
    Ok(Executed { outcomes: state.outcomes, failed: state.failed, skipped })
}

/// For each action, the number of actions on the longest chain from it through its dependents
/// (1 for an action nothing needed depends on). Running the highest first keeps the critical
/// path busy: an interface that dependents wait for goes before the real compile of the same
/// crate, which only a link needs.
fn chain_heights(needed: &[usize], dependents: &HashMap<usize, Vec<usize>>) -> HashMap<usize, usize> {
    let mut heights: HashMap<usize, usize> = HashMap::new();
    // Post-order over the dependents graph (a DAG), without recursion.
    for &start in needed {
        let mut stack = vec![(start, false)];
        while let Some((i, expanded)) = stack.pop() {
            if heights.contains_key(&i) {
                continue;
            }
            let next = dependents.get(&i).map(Vec::as_slice).unwrap_or(&[]);
            if expanded {
                let height = 1 + next.iter().map(|d| heights[d]).max().unwrap_or(0);
                heights.insert(i, height);
            } else {
                stack.push((i, true));
                stack.extend(next.iter().filter(|d| !heights.contains_key(*d)).map(|&d| (d, false)));
            }
        }
    }
    heights
}

/// Remote lookups in flight per local job slot (`-j`).
const REMOTE_LOOKUPS_PER_JOB: usize = 4;

/// How many actions may run on this machine at once (`-j`), whatever the number of workers.
pub(super) struct LocalSlots {
    free: Mutex<usize>,
    freed: Condvar,
}

/// A held local slot, given back on drop.
pub(super) struct LocalSlot<'a>(&'a LocalSlots);

impl LocalSlots {
    pub(super) fn acquire(&self) -> LocalSlot<'_> {
        let mut free = self.free.lock().unwrap();
        while *free == 0 {
            free = self.freed.wait(free).unwrap();
        }
        *free -= 1;
        LocalSlot(self)
    }
}

impl Drop for LocalSlot<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap() += 1;
        self.0.freed.notify_one();
    }
}

#[allow(clippy::too_many_arguments)]
fn worker(
    graph: &ActionGraph,
    state: &Mutex<State>,
    wake: &Condvar,
    dependents: &HashMap<usize, Vec<usize>>,
    opts: &ExecOptions,
    status: &status::Status,
    epoch: Instant,
    slots: &LocalSlots,
) {
    loop {
        let (index, derived) = {
            let mut s = state.lock().unwrap();
            loop {
                if s.stop || interrupt::interrupted() || (s.ready.is_empty() && s.running == 0) {
                    wake.notify_all();
                    return;
                }
                if let Some((_, Reverse(i))) = s.ready.pop() {
                    s.running += 1;
                    break (i, derived_files(graph, i, &s.outcomes));
                }
                s = wake.wait(s).unwrap();
            }
        };
        let action = &graph.actions[index];
        status.started(index, &action.mnemonic, &action.owner);
        // Hashing and running happen outside the lock.
        let result = derived.and_then(|derived| {
            let inputs = input_digests(graph, index, &derived, opts.sources, opts.workspace)?;
            run_one(graph, index, inputs, &derived, opts, epoch, slots)
        });
        let mut s = state.lock().unwrap();
        s.running -= 1;
        match result {
            Ok(outcome) => {
                s.done += 1;
                status.finished(
                    index,
                    s.done,
                    opts.progress && outcome.cache == CacheStatus::Miss,
                    &outcome.mnemonic,
                    &outcome.target,
                );
                s.outcomes.insert(index, outcome);
                for &d in dependents.get(&index).map(Vec::as_slice).unwrap_or(&[]) {
                    let left = s.waiting_on.get_mut(&d).expect("dependent counted");
                    *left -= 1;
                    if *left == 0 {
                        let height = s.heights[&d];
                        s.ready.push((height, Reverse(d)));
                    }
                }
            }
            Err(err) => {
                status.finished(index, s.done, false, &action.mnemonic, &action.owner);
                // Dependents of a failed action never become ready.
                s.stop |= !opts.keep_going;
                s.failed.push((index, err));
            }
        }
        wake.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_chain_of_dependents_runs_first() {
        // 0 = an interface that 1 (a dependent's compile) and 2 (a link) need; 1 feeds 3.
        let dependents = HashMap::from([(0, vec![1, 2]), (1, vec![3]), (4, vec![2])]);
        let heights = chain_heights(&[0, 1, 2, 3, 4], &dependents);
        assert_eq!(heights, HashMap::from([(0, 3), (1, 2), (2, 1), (3, 1), (4, 2)]));
        let mut ready: BinaryHeap<(usize, Reverse<usize>)> =
            [4, 0].into_iter().map(|i| (heights[&i], Reverse(i))).collect();
        assert_eq!(ready.pop(), Some((3, Reverse(0))));
    }
}
