//! Expectation files: the outcome each case is expected to have on each
//! stack, so that a server that fails some cases today can still gate its
//! pull requests on "nothing changed for the worse".
//!
//! Quirks and expectations answer different questions. A quirk is a
//! server's documented policy and changes a verdict (a warn or skip it
//! explains becomes `quirk`; a fail stands). An expectation changes no
//! verdict: it is compared with the final outcome, after the whole verdict
//! pipeline (quirks included), and only decides what is *unexpected*.
//!
//! What "as expected" means, outcome by outcome (docs/ci.md repeats this):
//!
//! | the file says | the run gives | change | exit |
//! | --- | --- | --- | --- |
//! | X | X (any outcome but error) | as expected | 0 |
//! | anything else | `fail` or `warn` | broken | 1 |
//! | anything else | `pass` | fixed | 0 (1 with `--strict-expectations`) |
//! | anything else | `skip` or `quirk` | changed | 0 (1 with `--strict-expectations`) |
//! | anything | `error` | undecided | 2 (the harness could not decide) |
//! | nothing (case not in the file) | `fail` or `warn` | new, failing | 1 |
//! | nothing | `pass`, `skip` or `quirk` | new | 0 (1 with `--strict-expectations`) |
//! | X, for a case id that no longer exists | - | stale | 0 (1 with `--strict-expectations`) |
//!
//! So `fail` expected means "this MUST is known broken here"; `warn`
//! expected, "this SHOULD is known broken"; `quirk` expected, "a declared
//! quirk explains this one" (if the quirk stops applying, the plain `warn`
//! is a broken case); `skip` expected, "not applicable here". `error` is
//! never expected: the file refuses it.
//!
//! `file` reads and writes the TOML; `delta` compares a run with it.

mod delta;
mod file;

pub use delta::{classify, CaseDelta, Change, Delta, DeltaCounts, Notable, StaleEntry};
pub use file::{
    write, Entry, ExpectationsError, ExpectationsFile, RunOutcomes, StackExpectations, Written,
};
