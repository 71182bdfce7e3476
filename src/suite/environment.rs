//! The environment block of a suite report: the machine, the kernel, the
//! interpreters and programs, wsgiprobe itself, the date and the suite file,
//! so a report can be read (and a comparison judged) years later.

use std::collections::BTreeMap;

use crate::gateway::{nginx_version, python_version};
use crate::report::Environment;

/// What can be read before any stack starts; each stack's own versions
/// are added as it starts (`Environment::stacks`).
pub fn gather(
    python: &str,
    nginx: Option<&str>,
    suite_file: &str,
    suite_text: &str,
) -> Environment {
    Environment {
        cpu_model: cpu_model(),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        kernel: kernel(),
        python: python_version(python).ok(),
        nginx: nginx.and_then(|n| nginx_version(n).ok()),
        wsgiprobe: env!("CARGO_PKG_VERSION").to_string(),
        date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        stacks: BTreeMap::new(),
        suite_file: suite_file.to_string(),
        suite_text: suite_text.to_string(),
    }
}

/// The first `model name` of /proc/cpuinfo.
fn cpu_model() -> Option<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim() == "model name")
        .map(|(_, v)| v.trim().to_string())
}

/// `Linux 6.1.0-18-amd64`.
fn kernel() -> Option<String> {
    let read = |f: &str| {
        std::fs::read_to_string(format!("/proc/sys/kernel/{f}"))
            .ok()
            .map(|s| s.trim().to_string())
    };
    Some(format!("{} {}", read("ostype")?, read("osrelease")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_machine_is_described() {
        let e = gather("/nonexistent/python", None, "s.toml", "title = 'x'");
        assert!(e.cores >= 1);
        assert!(
            e.kernel.as_deref().is_some_and(|k| k.starts_with("Linux ")),
            "{e:?}"
        );
        assert!(e.python.is_none(), "no such interpreter");
        assert_eq!(e.date.len(), "2026-01-01T00:00:00Z".len(), "{}", e.date);
        assert_eq!(e.suite_text, "title = 'x'");
    }
}
