//! Absurd input from the command line and from files: every numeric flag
//! out of its range, control characters bound for the wire or a shell,
//! `probe --out` over a link or a file, spec files that are not files, not
//! UTF-8, of the wrong types or very long. Each is refused with exit 2 and
//! a message that says what to fix, before anything starts, in bounded time.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use common::*;

/// What a refusal may take: it happens before any server starts.
const QUICK: Duration = Duration::from_secs(30);

fn refused(args: &[&str]) -> String {
    let out = wsgiprobe_within(args, &[], QUICK);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    stderr
}

/// A `--cmd` that leaves a mark if it ever runs.
fn marking_cmd(mark: &Path) -> String {
    format!(
        "touch {} && {{python}} -m http.server --bind {{host}} {{port}}",
        mark.display()
    )
}

#[test]
fn numeric_flags_out_of_range_name_the_flag_and_range_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let mark = dir.path().join("started");
    let cmd = marking_cmd(&mark);
    for (args, says) in [
        (
            &["bench", "-c", "10000000"][..],
            "-c/--connections 10000000 is out of range: it takes 1 to 100000",
        ),
        (
            &["bench", "-t", "100000"],
            "-t/--load-threads 100000 is out of range: it takes 1 to 128",
        ),
        (
            &["bench", "--rate", "1e12", "-d", "1s"],
            "--rate 1000000000000 is out of range: it takes above 0/s to 10000000/s",
        ),
        (
            &["bench", "--chunks", "10000000"],
            "--chunks 10000000 is out of range",
        ),
        (
            &["bench", "--ms", "999999999"],
            "--ms 999999999ms is out of range",
        ),
        (
            &["bench", "--size", "100000000"],
            "--size 100000000 is out of range: it takes 0 to 64MiB",
        ),
        (
            &[
                "bench",
                "--workload",
                "stream",
                "--chunks",
                "100000",
                "--size",
                "65536",
            ],
            "more than 67108864 bytes",
        ),
        (
            &["bench", "--sample-bodies", "0"],
            "--sample-bodies 0 is out of range",
        ),
        (
            &["bench", "--timeout", "0s"],
            "--timeout 0ns is out of range",
        ),
        (&["bench", "-n", "0"], "-n/--requests 0 is out of range"),
        (
            &["check", "--start-timeout", "1e19"],
            "--start-timeout 10000000000000000000s is out of range",
        ),
        (
            &["check", "--timeout", "0"],
            "--timeout 0ms is out of range: it takes 1ms to 3600000ms",
        ),
        (
            &["check", "--max-body", "10"],
            "--max-body 10 is out of range: it takes 1KiB to 1GiB",
        ),
    ] {
        let mut all = args.to_vec();
        all.extend(["--cmd", &cmd]);
        let stderr = refused(&all);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!mark.exists(), "{args:?} started the server");
    }
}

#[test]
fn help_shows_each_range() {
    let out = wsgiprobe_within(&["bench", "--help"], &[], QUICK);
    let help = text(&out.stdout);
    assert!(help.contains("[range: 1 to 100000]"), "{help}");
    assert!(help.contains("[range: above 0/s to 10000000/s]"), "{help}");
}

/// A listener that counts the connections it gets.
fn listening() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    l.set_nonblocking(true).unwrap();
    (l, addr)
}

#[test]
fn control_characters_are_refused_before_any_byte_goes_out() {
    let (listener, addr) = listening();
    for args in [
        vec![
            "bench".to_string(),
            "--url".into(),
            format!("http://{addr}/a\r\nX-Injected: 1"),
        ],
        vec![
            "check".into(),
            "--url".into(),
            format!("http://{addr}/a\nb"),
        ],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let stderr = refused(&args);
        assert!(stderr.contains("control characters"), "{stderr}");
    }
    assert!(listener.accept().is_err(), "a request went out");

    let dir = tempfile::tempdir().unwrap();
    let mark = dir.path().join("started");
    let stderr = refused(&[
        "check",
        "--python",
        "python3\ntouch /tmp/owned",
        "--cmd",
        &marking_cmd(&mark),
    ]);
    assert!(
        stderr.contains("--python") && stderr.contains("control characters"),
        "{stderr}"
    );
    assert!(!mark.exists());
}

#[test]
fn probe_out_never_follows_a_link_nor_overwrites_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let app = dir.path().join("wsgiprobe_app.py");
    std::os::unix::fs::symlink(&victim, &app).unwrap();
    let out_dir = dir.path().to_str().unwrap();

    let stderr = refused(&["probe", "--out", out_dir]);
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");

    let out = wsgiprobe_within(&["probe", "--out", out_dir, "--force"], &[], QUICK);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(!app.symlink_metadata().unwrap().is_symlink());
    assert!(std::fs::read_to_string(&app).unwrap().contains("def app"));

    // Once written, a second run without --force leaves it alone.
    std::fs::write(&app, "mine").unwrap();
    refused(&["probe", "--out", out_dir]);
    assert_eq!(std::fs::read_to_string(&app).unwrap(), "mine");
}

const CASE: &str = r#"area = "environ"
title = "t"

[[case]]
id = "environ.a"
level = "must"
source = "s"
requirement = "r"
stimulus = "STIMULUS"
expect = [{ subject = "status", equals = 200 }]
"#;

fn spec_dir(text: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("environ.toml"), text).unwrap();
    dir
}

#[test]
fn a_fifo_among_the_specs_is_refused_not_waited_on() {
    let dir = spec_dir(CASE.as_bytes());
    let fifo = dir.path().join("x.toml");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let stderr = refused(&["specs", "--specs", dir.path().to_str().unwrap()]);
    assert!(
        stderr.contains("x.toml") && stderr.contains("named pipe"),
        "{stderr}"
    );
}

#[test]
fn spec_errors_say_where_and_what() {
    let mut bad = CASE.as_bytes().to_vec();
    let at = CASE.find("STIMULUS").unwrap();
    bad[at + 2] = 0xff;
    let dir = spec_dir(&bad);
    let stderr = refused(&["specs", "--specs", dir.path().to_str().unwrap()]);
    assert!(
        stderr.contains(&format!(
            "not valid UTF-8 at byte {} (line 9, column 15)",
            at + 2
        )),
        "{stderr}"
    );

    let dir = spec_dir(CASE.replace("level = \"must\"", "level = 5").as_bytes());
    let stderr = refused(&["specs", "--specs", dir.path().to_str().unwrap()]);
    assert!(
        stderr.contains(
            "`level`: invalid type: integer `5`, expected one of `must`, `should`, `may`"
        ),
        "{stderr}"
    );
}

#[test]
fn selecting_no_case_at_all_is_exit_2() {
    let dir = spec_dir(CASE.as_bytes());
    let stderr = refused(&[
        "specs",
        "--specs",
        dir.path().to_str().unwrap(),
        "--skip",
        "environ",
    ]);
    assert!(stderr.contains("no case to run"), "{stderr}");
    let stderr = refused(&[
        "check", "--skip", "environ", "--skip", "input", "--skip", "response", "--skip", "deploy",
    ]);
    assert!(stderr.contains("no case to run"), "{stderr}");
}

#[test]
fn a_megabyte_long_string_is_listed_in_bounded_time() {
    let long = "a".repeat(1 << 20);
    let dir = spec_dir(CASE.replace("STIMULUS", &long).as_bytes());
    let out = wsgiprobe_within(
        &["specs", "--specs", dir.path().to_str().unwrap()],
        &[],
        QUICK,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    assert!(
        listing.contains("more characters; JSON output has them all"),
        "{listing}"
    );
    let out = wsgiprobe_within(
        &["specs", "--json", "--specs", dir.path().to_str().unwrap()],
        &[],
        QUICK,
    );
    assert!(text(&out.stdout).contains(&long));
}
