//! Every exit code wsgiprobe returns, in one place.
//!
//! Other tools rely on these (a CI step gates on them), so they never
//! change meaning:
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | no failure (with `--strict`, no warning either; with `--expectations`, nothing unexpected) |
//! | 1 | failures found: a broken MUST (or SHOULD with `--strict`); with `--expectations`, an unexpected fail or warn (or, with `--strict-expectations`, any difference from the file); a bench run that was not valid or broke a `--fail-if` threshold |
//! | 2 | the harness could not run or could not decide: bad arguments, a bad spec, a bad expectations file, a server that would not start, cases in error with no failure |
//! | 129 | interrupted by SIGHUP (the terminal went away), as for SIGINT |
//! | 130 | interrupted by SIGINT (Ctrl-C), after stopping every server and writing what was gathered |
//! | 143 | interrupted by SIGTERM, after stopping every server and writing what was gathered |
//!
//! `--expectations FILE` changes what 1 means for `check`: a case's outcome
//! is compared with what the file expects of it (after the whole verdict
//! pipeline, quirks included), and only an unexpected `fail` or `warn` (a
//! broken case, or a failing case the file does not name) is a failure; a
//! `fail` the file expects is not. Fixed, changed and new passing cases
//! and stale entries are listed and exit 0, or 1 with
//! `--strict-expectations`. An `error` is never expected: still 2.
//! `--update-expectations FILE` writes the file from the run, which it then
//! describes: 0, or 2 when something could not be decided.

/// How a run ended; `main` turns it into the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// No failure (with `--strict`, no warning either; with
    /// `--expectations`, nothing unexpected).
    Clean,
    /// The gateway broke a requirement (one the expectations did not
    /// expect), or a load run was not valid or broke a threshold.
    Failures,
    /// The harness could not run or could not decide.
    Harness,
    /// A signal ended the run early (what was gathered was written).
    Interrupted(Signal),
}

/// A signal that ends a run early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT: Ctrl-C.
    Interrupt,
    /// SIGTERM: a supervisor (CI, systemd, `kill`) stopping the run.
    Terminate,
    /// SIGHUP: the terminal went away.
    Hangup,
}

impl Signal {
    /// The signal with this number, if it is one of those a run stops on.
    pub fn from_number(n: i32) -> Option<Signal> {
        match n {
            libc::SIGINT => Some(Signal::Interrupt),
            libc::SIGTERM => Some(Signal::Terminate),
            libc::SIGHUP => Some(Signal::Hangup),
            _ => None,
        }
    }

    /// Its number.
    pub fn number(self) -> i32 {
        match self {
            Signal::Interrupt => libc::SIGINT,
            Signal::Terminate => libc::SIGTERM,
            Signal::Hangup => libc::SIGHUP,
        }
    }

    /// `SIGINT`, `SIGTERM`, `SIGHUP`.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
            Signal::Hangup => "SIGHUP",
        }
    }

    /// The exit status a shell reports for death by this signal (128 + n).
    pub fn exit_code(self) -> i32 {
        match self {
            Signal::Interrupt => SIGINT_EXIT,
            Signal::Terminate => SIGTERM_EXIT,
            Signal::Hangup => SIGHUP_EXIT,
        }
    }
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> i32 {
        match self {
            Exit::Clean => CLEAN,
            Exit::Failures => FAILURES,
            Exit::Harness => HARNESS,
            Exit::Interrupted(signal) => signal.exit_code(),
        }
    }

    /// The most serious of several ends: an interruption beats everything,
    /// failures beat harness trouble, which beats a clean run (a matrix
    /// where one stack failed a case and another did not start reports the
    /// failure).
    pub fn worst(exits: impl IntoIterator<Item = Exit>) -> Exit {
        let mut worst = Exit::Clean;
        for e in exits {
            worst = match (worst, e) {
                (i @ Exit::Interrupted(_), _) | (_, i @ Exit::Interrupted(_)) => i,
                (Exit::Failures, _) | (_, Exit::Failures) => Exit::Failures,
                (Exit::Harness, _) | (_, Exit::Harness) => Exit::Harness,
                _ => Exit::Clean,
            };
        }
        worst
    }
}

/// No failure.
pub const CLEAN: i32 = 0;
/// Failures found.
pub const FAILURES: i32 = 1;
/// The harness could not run or decide; also every error `run` returns.
pub const HARNESS: i32 = 2;
/// Interrupted by SIGINT, as a shell reports death by that signal (128 + 2).
pub const SIGINT_EXIT: i32 = 130;
/// Interrupted by SIGTERM (128 + 15).
pub const SIGTERM_EXIT: i32 = 143;
/// Interrupted by SIGHUP (128 + 1).
pub const SIGHUP_EXIT: i32 = 129;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_beat_harness_trouble() {
        use Exit::*;
        assert_eq!(Exit::worst([Clean, Harness, Failures, Clean]), Failures);
        assert_eq!(Exit::worst([Clean, Harness]), Harness);
        assert_eq!(Exit::worst([Clean, Clean]), Clean);
        assert_eq!(Exit::worst([]), Clean);
        assert_eq!((Clean.code(), Failures.code(), Harness.code()), (0, 1, 2));
        let term = Interrupted(Signal::Terminate);
        assert_eq!(Exit::worst([Failures, term, Harness]), term);
        assert_eq!(term.code(), 143);
        assert_eq!(Interrupted(Signal::Interrupt).code(), 130);
        for s in [Signal::Interrupt, Signal::Terminate, Signal::Hangup] {
            assert_eq!(Signal::from_number(s.number()), Some(s));
            assert_eq!(s.exit_code(), 128 + s.number());
        }
    }
}
