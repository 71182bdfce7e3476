//! Making sure no child process outlives wsgiprobe.
//!
//! Every server is started in a process group of its own, so one signal to
//! the group reaches the server, its workers and anything a shell wrapper
//! forked. Normal ends and panics are covered by `Drop` on the running
//! gateway; Ctrl-C, SIGTERM and SIGHUP by a handler that kills every group
//! still registered here and removes the private folders, then exits;
//! SIGKILL, which runs no handler, by each group's supervisor (process.rs).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

static GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());
static FOLDERS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static HANDLER: Once = Once::new();
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static NOTICE: OnceLock<fn()> = OnceLock::new();

/// Registers what the signal handler calls once every server is stopped
/// and before it exits. The handler ends the process, so nobody could tell
/// the user afterwards; and this module does not print, so the words belong
/// to whoever registers them (the command layer, at start-up). The first
/// registration stands.
pub fn on_interrupt(notice: fn()) {
    let _ = NOTICE.set(notice);
}

/// Installs the signal handler once. Called before the first child starts.
pub fn install_signal_handler() {
    HANDLER.call_once(|| {
        // If a handler cannot be installed (another library owns SIGINT), the
        // Drop-based teardown still covers every exit but a signal.
        let _ = ctrlc::set_handler(|| {
            INTERRUPTED.store(true, Ordering::SeqCst);
            kill_all_registered();
            for dir in FOLDERS.lock().map(|v| v.clone()).unwrap_or_default() {
                let _ = std::fs::remove_dir_all(dir);
            }
            if let Some(notice) = NOTICE.get() {
                notice();
            }
            std::process::exit(crate::exit::SIGINT_EXIT);
        });
    });
}

/// Whether a signal arrived. The handler then owns the exit: the main
/// thread, which may finish meanwhile (its server is gone), must wait for it
/// rather than exit with a status of its own.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Waits for the signal handler to finish tearing down and exit; exits
/// with the interrupt status itself should the handler not (bounded).
pub fn exit_if_interrupted() {
    if !interrupted() {
        return;
    }
    std::thread::sleep(Duration::from_secs(10));
    std::process::exit(crate::exit::SIGINT_EXIT);
}

/// Registers a process group to kill on a signal.
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

/// Registers a private folder to remove on a signal.
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

fn kill_all_registered() {
    let groups = GROUPS.lock().map(|g| g.clone()).unwrap_or_default();
    stop_groups(&groups, Duration::from_millis(1500), || {});
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
