//! Headless Chromium for the HTML reports: load a page, let its script
//! run, and read back the DOM and everything the page wrote to the console.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A page as Chromium left it after its scripts ran.
pub struct Rendered {
    /// The serialized DOM (`--dump-dom`).
    pub dom: String,
    /// Console messages (errors, uncaught exceptions, logs).
    pub console: Vec<String>,
}

/// The Chromium program: `$WSGIPROBE_CHROMIUM`, else `chromium` (Debian)
/// or `chromium-browser` / `google-chrome` on PATH.
pub fn chromium() -> String {
    if let Ok(p) = std::env::var("WSGIPROBE_CHROMIUM") {
        return p;
    }
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        let found = std::env::var_os("PATH")
            .map(|paths| std::env::split_paths(&paths).any(|d| d.join(name).is_file()))
            .unwrap_or(false);
        if found {
            return name.to_string();
        }
    }
    panic!(
        "no Chromium to test the HTML reports with: run scripts/test.sh (it installs Debian's chromium with apt-get) or set WSGIPROBE_CHROMIUM"
    );
}

/// Loads `page` in headless Chromium with a fresh profile and returns
/// the DOM after its scripts ran.
pub fn render(page: &Path) -> Rendered {
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let (tx, rx) = std::sync::mpsc::channel();
    let pid = child.id();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(Duration::from_secs(90)) {
        Ok(out) => out.expect("chromium ran"),
        Err(_) => {
            // SAFETY: signalling the child this test started.
            unsafe {
                libc::kill(pid as i32, libc::SIGKILL);
            }
            panic!("chromium did not render {url} within 90 s");
        }
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    Rendered {
        dom: String::from_utf8_lossy(&out.stdout).into_owned(),
        console: stderr
            .lines()
            .filter(|l| l.contains(":CONSOLE"))
            .map(str::to_string)
            .collect(),
    }
}

impl Rendered {
    /// The page's script ran to its end without an error anywhere, and
    /// nothing was written to the console.
    pub fn assert_script_ran(&self, what: &str) {
        let start = self.dom.find("<html").unwrap_or(0);
        let end = self.dom[start..].find('>').map_or(start, |e| start + e);
        let head = &self.dom[start..end];
        assert!(
            !head.contains("data-script-errors="),
            "{what}: script errors: {head}"
        );
        assert!(
            head.contains("data-ready=\"true\""),
            "{what}: the script did not finish: {head}"
        );
        assert!(
            self.console.is_empty(),
            "{what}: console: {:#?}",
            self.console
        );
    }

    /// How many times `needle` occurs in the DOM.
    pub fn count(&self, needle: &str) -> usize {
        self.dom.matches(needle).count()
    }
}
