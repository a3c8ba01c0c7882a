//! The middle of the chain: uses base's public API.

/// Step a fresh counter `n` times and describe the result.
pub fn run(n: u32) -> String {
    let mut counter = base::Counter::new();
    let mut last = 0;
    for _ in 0..n {
        last = counter.step();
    }
    base::describe(last)
}
