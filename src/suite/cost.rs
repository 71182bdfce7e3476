//! What a stack costs while it serves: CPU seconds and peak resident
//! memory of its whole process tree (server master, workers, nginx), read
//! from /proc.
//!
//! The tree is every process in the stack's process groups (each launched
//! process leads one) and every descendant of those, so a worker that moved
//! to a group of its own still counts. CPU is the sum of each process's own
//! time and its reaped children's (`cutime`, `cstime`), so a worker that
//! exits during the window and is reaped by its master is not lost. Memory
//! is sampled every [`SAMPLE_EVERY`]; the peak is the highest sum seen.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::report::ServerCost;

/// How often resident memory is read during a window.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// The tree's figures at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Snapshot {
    /// utime + stime + cutime + cstime, in clock ticks.
    pub cpu_ticks: u64,
    pub rss_bytes: u64,
    pub processes: usize,
}

struct Stat {
    ppid: i32,
    pgrp: i32,
    ticks: u64,
    rss_pages: u64,
}

/// Reads `/proc/PID/stat` fields: ppid, pgrp, the four CPU times, rss.
fn read_stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces or ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_ascii_whitespace().collect();
    // `rest` starts at field 3 (state): field n is f[n - 3].
    let num = |n: usize| f.get(n - 3)?.parse::<i64>().ok();
    Some(Stat {
        ppid: num(4)? as i32,
        pgrp: num(5)? as i32,
        ticks: [14, 15, 16, 17]
            .iter()
            .map(|&n| num(n).unwrap_or(0).max(0) as u64)
            .sum(),
        rss_pages: num(24)?.max(0) as u64,
    })
}

/// The stack's tree now: processes of `groups` and their descendants.
pub fn snapshot(groups: &[i32]) -> Snapshot {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Snapshot::default();
    };
    let stats: HashMap<i32, Stat> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| Some((pid, read_stat(pid)?)))
        .collect();
    let mut tree: HashSet<i32> = stats
        .iter()
        .filter(|(_, s)| groups.contains(&s.pgrp))
        .map(|(pid, _)| *pid)
        .collect();
    loop {
        let more: Vec<i32> = stats
            .iter()
            .filter(|(pid, s)| !tree.contains(pid) && tree.contains(&s.ppid))
            .map(|(pid, _)| *pid)
            .collect();
        if more.is_empty() {
            break;
        }
        tree.extend(more);
    }
    let page = page_size();
    tree.iter()
        .filter_map(|pid| stats.get(pid))
        .fold(Snapshot::default(), |acc, s| Snapshot {
            cpu_ticks: acc.cpu_ticks + s.ticks,
            rss_bytes: acc.rss_bytes + s.rss_pages * page,
            processes: acc.processes + 1,
        })
}

fn page_size() -> u64 {
    // SAFETY: sysconf only reads a configuration value.
    let v = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if v > 0 {
        v as u64
    } else {
        4096
    }
}

fn clock_ticks() -> f64 {
    // SAFETY: as above.
    let v = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if v > 0 {
        v as f64
    } else {
        100.0
    }
}

/// Samples a stack's tree in the background over one measured window.
pub struct CostSampler {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<ServerCost>,
}

impl CostSampler {
    /// Starts sampling `groups` from `from` (the start of the measured
    /// window) to `until` (its end), or to [`CostSampler::finish`] if that
    /// comes first.
    pub fn start(groups: Vec<i32>, from: Instant, until: Instant) -> CostSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let wait_until = |t: Instant| {
                while Instant::now() < t && !flag.load(Ordering::Relaxed) {
                    let left = t.saturating_duration_since(Instant::now());
                    std::thread::sleep(left.min(Duration::from_millis(20)));
                }
            };
            wait_until(from);
            let first = snapshot(&groups);
            let mut cost = ServerCost {
                rss_max_bytes: first.rss_bytes,
                processes: first.processes,
                samples: 1,
                ..ServerCost::default()
            };
            let mut last = first;
            while Instant::now() < until && !flag.load(Ordering::Relaxed) {
                wait_until((Instant::now() + SAMPLE_EVERY).min(until));
                last = snapshot(&groups);
                cost.samples += 1;
                cost.rss_max_bytes = cost.rss_max_bytes.max(last.rss_bytes);
                cost.processes = cost.processes.max(last.processes);
            }
            cost.cpu_s = last.cpu_ticks.saturating_sub(first.cpu_ticks) as f64 / clock_ticks();
            cost
        });
        CostSampler { stop, handle }
    }

    /// Ends the window now if it has not ended, and returns the figures.
    pub fn finish(self) -> ServerCost {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};

    /// A busy shell loop with a child, in a process group of its own.
    struct Busy(std::process::Child);

    impl Drop for Busy {
        fn drop(&mut self) {
            let pgid = self.0.id() as i32;
            // SAFETY: signalling the group this test started.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
            let _ = self.0.wait();
        }
    }

    #[test]
    fn a_busy_process_tree_shows_cpu_and_memory() {
        let busy = Busy(
            Command::new("/bin/sh")
                .arg("-c")
                .arg("sleep 30 & i=0; while [ $i -lt 100000000 ]; do i=$((i+1)); done")
                .stdin(Stdio::null())
                .process_group(0)
                .spawn()
                .unwrap(),
        );
        let pgid = busy.0.id() as i32;
        let start = Instant::now() + Duration::from_millis(50);
        let sampler = CostSampler::start(vec![pgid], start, start + Duration::from_millis(600));
        std::thread::sleep(Duration::from_millis(700));
        let cost = sampler.finish();
        // One single-threaded busy process in a 0.6 s window: some CPU (how
        // much depends on what else the machine runs), never more than the
        // window plus a clock tick or two.
        assert!(
            cost.cpu_s > 0.0 && cost.cpu_s <= 0.65,
            "one busy shell for 0.6 s: {cost:?}"
        );
        assert!(cost.rss_max_bytes > 100_000, "{cost:?}");
        assert_eq!(cost.processes, 2, "the shell and its sleep: {cost:?}");
        assert!(cost.samples >= 4, "{cost:?}");

        // Nothing in a group that does not exist.
        let none = snapshot(&[i32::MAX]);
        assert_eq!(none, Snapshot::default());
    }
}
