//! The bottom of the chain: a counter with a private scoring function.

/// A counter whose increments come from a private function.
pub struct Counter {
    total: u64,
}

impl Counter {
    /// A counter at zero.
    pub fn new() -> Self {
        Counter { total: 0 }
    }

    /// Add one step; returns the new total.
    pub fn step(&mut self) -> u64 {
        self.total += step_size();
        self.total
    }
}

impl Default for Counter {
    fn default() -> Self {
        Self::new()
    }
}

/// Generic code: instantiated by dependents, so it is part of the interface.
pub fn describe<T: std::fmt::Debug>(value: T) -> String {
    format!("value={value:?}")
}

fn step_size() -> u64 {
    1
}

#[cfg(test)]
mod tests {
    #[test]
    fn steps() {
        let mut c = super::Counter::new();
        assert_eq!(c.step(), super::step_size());
    }
}
