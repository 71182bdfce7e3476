//! Stopping work early. The conformance scheduler and the load engine poll
//! a [`Cancel`] between steps; the signal handler sets the flag behind it
//! (gateway/cleanup.rs), so a run that is interrupted stops taking new work
//! and the command can still write what was gathered.

use std::sync::atomic::{AtomicBool, Ordering};

/// A flag that says "stop now"; `Cancel::default()` never does.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cancel(Option<&'static AtomicBool>);

impl Cancel {
    /// A token that reads `flag`.
    pub fn on(flag: &'static AtomicBool) -> Cancel {
        Cancel(Some(flag))
    }

    /// Whether the work should stop.
    pub fn is_set(self) -> bool {
        self.0.is_some_and(|f| f.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_follows_its_flag() {
        static FLAG: AtomicBool = AtomicBool::new(false);
        let c = Cancel::on(&FLAG);
        assert!(!c.is_set() && !Cancel::default().is_set());
        FLAG.store(true, Ordering::SeqCst);
        assert!(c.is_set() && !Cancel::default().is_set());
    }
}
