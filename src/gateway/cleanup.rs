//! Making sure no child process and no private folder outlives wsgiprobe,
//! and that a signal ends a run with what it gathered written out.
//!
//! Every server is started in a process group of its own, so one signal to
//! the group reaches the server, its workers and anything a shell wrapper
//! forked. Normal ends and panics are covered by `Drop` on the running
//! gateway. SIGINT, SIGTERM and SIGHUP go to one handler thread
//! ([`install_signal_handler`], at start-up, for every command) which
//! records the signal, sets the [`Cancel`] flag and stops every registered
//! process group. Then:
//!
//! - a command that gathers results (check, bench) said so with
//!   [`gather_on_interrupt`]: its runner sees the flag, stops early, and the
//!   command writes the partial report and exits with the signal's status;
//!   the handler only steps in if that takes longer than [`GATHER_LIMIT`];
//! - any other command is ended by the handler at once;
//! - a second signal ends the process at once.
//!
//! Whoever ends the process removes the registered folders first. A
//! program that hosts wsgiprobe in its own process (the Python module)
//! installs no handler: it catches the signal itself and calls
//! [`interrupt`], which stops the servers and sets the flag the same way
//! but leaves the process alone. SIGKILL,
//! which runs no handler, is covered by each group's supervisor
//! (process.rs).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

use crate::cancel::Cancel;
use crate::exit::Signal;

static GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());
static FOLDERS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static HANDLER: Once = Once::new();
/// The number of the first signal that arrived; 0 before any.
static SIGNAL: AtomicI32 = AtomicI32::new(0);
static CANCEL: AtomicBool = AtomicBool::new(false);
static GATHER: AtomicBool = AtomicBool::new(false);
static NOTICE: OnceLock<fn(Signal)> = OnceLock::new();

/// How long a gathering command has, after a signal, to write its report
/// and exit before the handler ends the process itself. Longer than the
/// longest case limit, so the cases in flight can come back.
pub const GATHER_LIMIT: Duration = Duration::from_secs(20);

/// Registers what to tell the user when the handler itself ends the
/// process (this module does not print; the words belong to the command
/// layer). The first registration stands.
pub fn on_interrupt(notice: fn(Signal)) {
    let _ = NOTICE.set(notice);
}

/// Says that the running command stops its work on [`on_signal`], writes
/// what it gathered and exits itself: the handler then waits for it (up
/// to [`GATHER_LIMIT`]) instead of ending the process at once.
pub fn gather_on_interrupt() {
    GATHER.store(true, Ordering::SeqCst);
}

/// The flag a signal sets, for runners to poll.
pub fn on_signal() -> Cancel {
    Cancel::on(&CANCEL)
}

/// Interrupts the running command as the handler would for `signal`,
/// without ending the process: records the signal, sets the [`Cancel`]
/// flag and stops every registered process group. For a program that
/// hosts wsgiprobe (`crate::dispatch`) and catches signals itself; it
/// waits for the command to return, then calls [`reset_interrupt`].
pub fn interrupt(signal: Signal) {
    let _ = SIGNAL.compare_exchange(0, signal.number(), Ordering::SeqCst, Ordering::SeqCst);
    CANCEL.store(true, Ordering::SeqCst);
    stop_registered_groups(STOP_GRACE);
}

/// Clears what [`interrupt`] recorded, so the next command in the same
/// process starts afresh.
pub fn reset_interrupt() {
    SIGNAL.store(0, Ordering::SeqCst);
    CANCEL.store(false, Ordering::SeqCst);
}

/// Installs the handler thread once. Called at start-up, before any child.
pub fn install_signal_handler() {
    HANDLER.call_once(|| {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        // If the handler cannot be installed, the Drop-based teardown still
        // covers every exit but a signal.
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
            return;
        };
        let _ = std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for number in signals.forever() {
                    let Some(signal) = Signal::from_number(number) else {
                        continue;
                    };
                    if SIGNAL
                        .compare_exchange(0, number, Ordering::SeqCst, Ordering::SeqCst)
                        .is_err()
                    {
                        // A second signal: the user does not want to wait.
                        end_now(interrupted().unwrap_or(signal), Duration::ZERO);
                    }
                    CANCEL.store(true, Ordering::SeqCst);
                    if !GATHER.load(Ordering::SeqCst) {
                        end_now(signal, STOP_GRACE);
                    }
                    stop_registered_groups(STOP_GRACE);
                    let _ = std::thread::Builder::new()
                        .name("signal-watchdog".into())
                        .spawn(move || {
                            std::thread::sleep(GATHER_LIMIT);
                            end_now(signal, Duration::ZERO);
                        });
                }
            });
    });
}

/// Time servers get to stop after TERM before they are killed.
const STOP_GRACE: Duration = Duration::from_millis(1500);

/// The signal that interrupted the run, if one did.
pub fn interrupted() -> Option<Signal> {
    Signal::from_number(SIGNAL.load(Ordering::SeqCst))
}

/// Stops every registered process group, removes every registered folder,
/// tells the user and exits with the signal's status.
fn end_now(signal: Signal, grace: Duration) -> ! {
    stop_registered_groups(grace);
    remove_registered_folders();
    if let Some(notice) = NOTICE.get() {
        notice(signal);
    }
    std::process::exit(signal.exit_code());
}

/// Removes the private folders still registered (their owners were not
/// dropped: the process is ending early).
pub fn remove_registered_folders() {
    let dirs = FOLDERS.lock().map(|v| v.clone()).unwrap_or_default();
    for dir in dirs {
        let _ = std::fs::remove_dir_all(&dir);
        unregister_folder(&dir);
    }
}

/// Registers a process group to stop on a signal.
pub fn register_group(pgid: i32) {
    if let Ok(mut g) = GROUPS.lock() {
        g.push(pgid);
    }
}

/// Forgets a process group after it has been stopped.
pub fn unregister_group(pgid: i32) {
    if let Ok(mut g) = GROUPS.lock() {
        g.retain(|p| *p != pgid);
    }
}

/// Registers a private folder to remove should the process end early.
pub fn register_folder(dir: PathBuf) {
    if let Ok(mut f) = FOLDERS.lock() {
        f.push(dir);
    }
}

/// Forgets a private folder (it is removed by its owner).
pub fn unregister_folder(dir: &std::path::Path) {
    if let Ok(mut f) = FOLDERS.lock() {
        f.retain(|p| p != dir);
    }
}

fn stop_registered_groups(grace: Duration) {
    let groups = GROUPS.lock().map(|g| g.clone()).unwrap_or_default();
    stop_groups(&groups, grace, || {});
}

/// Stops process groups: TERM so servers can stop their workers, a grace
/// period while any process of them lives, then KILL for whatever is left.
/// `reap` runs while waiting, so an owner can collect its child: a zombie
/// leader still counts as a member of its group.
pub fn stop_groups(groups: &[i32], grace: Duration, mut reap: impl FnMut()) {
    for pgid in groups {
        signal_group(*pgid, libc::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    loop {
        reap();
        if Instant::now() >= deadline || !groups.iter().any(|g| group_alive(*g)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    for pgid in groups {
        signal_group(*pgid, libc::SIGKILL);
    }
}

/// Sends `sig` to every process of the group.
pub fn signal_group(pgid: i32, sig: i32) {
    if pgid > 1 {
        // SAFETY: kill(2) with a negative pid signals a process group; it
        // touches no memory of ours.
        unsafe {
            libc::kill(-pgid, sig);
        }
    }
}

/// Whether any process of the group is still alive (zombies count as gone
/// only once reaped, which the owner's wait does).
pub fn group_alive(pgid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence and permission.
    pgid > 1 && unsafe { libc::kill(-pgid, 0) } == 0
}
