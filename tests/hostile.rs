//! Servers that misbehave on purpose, written here, against `check --url`
//! and `bench --url` (its validation request and its load engine). Every
//! run must end in bounded time with a message that says what the server
//! did, and stay within [`MAX_RSS_KIB`] of memory whatever it sent: a head
//! that never ends, a body that never ends (plain or chunked), 100,000
//! header lines, garbage, a trickle, silence, a reset mid-body.
//!
//! The peak memory is the wsgiprobe process's own (with `--url` it starts
//! no child): `VmHWM`, polled while it runs. `WSGIPROBE_HOSTILE_REPORT=1`
//! prints each figure, with `ru_maxrss` from wait4 beside it.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::Value;

/// The memory any run may reach: 64 MiB.
const MAX_RSS_KIB: u64 = 64 * 1024;
/// Time any run may take.
const LIMIT: Duration = Duration::from_secs(90);

/// What the server does to a request once it stops being friendly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hostility {
    /// A header line that never ends.
    EndlessHead,
    /// A body without a length that never ends.
    EndlessBody,
    /// A good response, one byte every 200 ms.
    Trickle,
    /// Nothing at all, the connection held open.
    Silence,
    /// Bytes that are no HTTP, then a close.
    Garbage,
    /// 100,000 header lines.
    ManyHeaders,
    /// A chunked body that never ends.
    EndlessChunked,
    /// Half a body, then a TCP reset.
    ResetMidBody,
}
use Hostility::*;

/// A server on a free port: the first `friendly` requests are answered as
/// the probe app would (`ping` with its header), every later one with
/// `kind`. Stops when dropped.
struct Hostile {
    url: String,
    stop: Arc<AtomicBool>,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn hostile(kind: Hostility, friendly: usize) -> Hostile {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    listener.set_nonblocking(true).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(AtomicUsize::new(0));
    {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((s, _)) => {
                        let (stop, seen) = (stop.clone(), seen.clone());
                        std::thread::spawn(move || serve(s, kind, friendly, &seen, &stop));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
    }
    Hostile { url, stop }
}

/// Reads one request head; false when the client went away.
fn read_head(s: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
        if head.len() > 64 * 1024 {
            return None;
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

fn serve(
    mut s: TcpStream,
    kind: Hostility,
    friendly: usize,
    seen: &AtomicUsize,
    stop: &AtomicBool,
) {
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    let forever = |s: &mut TcpStream, bytes: &[u8]| {
        while !stop.load(Ordering::SeqCst) && s.write_all(bytes).is_ok() {}
    };
    while let Some(head) = read_head(&mut s) {
        if seen.fetch_add(1, Ordering::SeqCst) < friendly {
            // As the probe app answers a ping (and anything else, well enough).
            let body = b"{}";
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nX-Wsgiprobe-Probe: 1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(body);
            continue;
        }
        let _ = head;
        match kind {
            EndlessHead => {
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nX-Long: ");
                forever(&mut s, &[b'a'; 8192]);
            }
            EndlessBody => {
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
                forever(&mut s, &[b'b'; 8192]);
            }
            Trickle => {
                for b in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" {
                    if stop.load(Ordering::SeqCst) || s.write_all(&[*b]).is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
            Silence => {
                let mut sink = [0u8; 1024];
                while !stop.load(Ordering::SeqCst) && matches!(s.read(&mut sink), Ok(n) if n > 0) {}
            }
            Garbage => {
                let _ = s.write_all(b"\x16\x03\x01garbage, not HTTP at all\r\n\r\n");
            }
            ManyHeaders => {
                let mut r = b"HTTP/1.1 200 OK\r\n".to_vec();
                for i in 0..100_000 {
                    r.extend(format!("X-H-{i}: v\r\n").bytes());
                }
                r.extend(b"Content-Length: 2\r\n\r\nok");
                let _ = s.write_all(&r);
            }
            EndlessChunked => {
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
                let mut chunk = b"1000\r\n".to_vec();
                chunk.extend([b'c'; 4096]);
                chunk.extend(b"\r\n");
                forever(&mut s, &chunk);
            }
            ResetMidBody => {
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
                let _ = s.write_all(&[b'r'; 1000]);
                std::thread::sleep(Duration::from_millis(50));
                // SO_LINGER 0: close sends a reset, not a FIN.
                let linger = libc::linger {
                    l_onoff: 1,
                    l_linger: 0,
                };
                use std::os::fd::AsRawFd;
                // SAFETY: setting a socket option on our own socket.
                unsafe {
                    libc::setsockopt(
                        s.as_raw_fd(),
                        libc::SOL_SOCKET,
                        libc::SO_LINGER,
                        (&linger as *const libc::linger).cast(),
                        std::mem::size_of::<libc::linger>() as libc::socklen_t,
                    );
                }
            }
        }
        return;
    }
}

fn assert_memory(what: &str, kind: Hostility, peak: PeakMemory) {
    if std::env::var_os("WSGIPROBE_HOSTILE_REPORT").is_some() {
        eprintln!(
            "{what} against {kind:?}: peak RSS {:.1} MiB (VmHWM; ru_maxrss {:.1} MiB)",
            peak.hwm_kib as f64 / 1024.0,
            peak.maxrss_kib as f64 / 1024.0
        );
    }
    // ru_maxrss counts this test process's memory as it was at the fork
    // (the kernel keeps the pre-exec figure), so only VmHWM can be held
    // to the limit.
    assert!(
        peak.hwm_kib <= MAX_RSS_KIB,
        "{what} against {kind:?} reached {peak:?}"
    );
}

/// `check --url` against a server hostile after the readiness requests:
/// every case ends in a verdict that says what the server did.
fn check_against(kind: Hostility, says: &str) {
    // ping and environ, as Gateway::reach asks.
    let server = hostile(kind, 2);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let (out, rss) = wsgiprobe_measured(
        &[
            "check",
            "--url",
            &server.url,
            "--only",
            "environ.request-method",
            "--timeout",
            "1500",
            "--json",
            json.to_str().unwrap(),
        ],
        LIMIT,
    );
    let stderr = text(&out.stderr);
    let code = out.status.code();
    assert!(matches!(code, Some(1 | 2)), "exit {code:?}: {stderr}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let cases = report["cases"].as_array().unwrap();
    assert!(!cases.is_empty());
    for c in cases {
        assert_ne!(c["outcome"], "pass", "{c:#}");
        let actual = c["actual"].as_str().unwrap();
        assert!(
            actual.contains(says),
            "{kind:?}: {actual:?} does not say {says:?}"
        );
    }
    assert_memory("check --url", kind, rss);
}

/// `bench --url` whose validation request meets the hostile server.
fn bench_validation_against(kind: Hostility, says: &str) {
    let server = hostile(kind, 0);
    let (out, rss) = wsgiprobe_measured(
        &[
            "bench",
            "--url",
            &server.url,
            "--timeout",
            "1500ms",
            "-d",
            "1s",
        ],
        LIMIT,
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("does not answer as it should") && stderr.contains(says),
        "{kind:?}: {stderr}"
    );
    assert_memory("bench's validation request", kind, rss);
}

/// `bench --url` whose load engine meets the hostile server (the
/// validation request is answered).
fn bench_load_against(kind: Hostility, says: &str) {
    let server = hostile(kind, 1);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let (out, rss) = wsgiprobe_measured(
        &[
            "bench",
            "--url",
            &server.url,
            "--timeout",
            "1s",
            "-d",
            "1s",
            "--warmup",
            "0s",
            "-c",
            "4",
            "--json",
            json.to_str().unwrap(),
        ],
        LIMIT,
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["ok"], 0, "{report:#}");
    let first = report["errors"]["first"].as_str().unwrap_or_default();
    assert!(first.contains(says), "{kind:?}: first error {first:?}");
    assert_memory("bench's load engine", kind, rss);
}

#[test]
fn check_against_an_endless_head() {
    check_against(EndlessHead, "response head exceeds 65536 bytes");
}

#[test]
fn check_against_an_endless_body() {
    check_against(EndlessBody, "went past 1048576 bytes");
}

#[test]
fn check_against_a_trickle() {
    check_against(Trickle, "no response within 1500 ms");
}

#[test]
fn check_against_silence() {
    check_against(Silence, "no response within 1500 ms");
}

#[test]
fn check_against_garbage() {
    check_against(Garbage, "status line is not HTTP/x.y NNN");
}

#[test]
fn check_against_100k_headers() {
    check_against(ManyHeaders, "response head exceeds 65536 bytes");
}

#[test]
fn check_against_an_endless_chunked_body() {
    check_against(EndlessChunked, "went past 1048576 bytes");
}

#[test]
fn check_against_a_reset_mid_body() {
    check_against(ResetMidBody, "closed the connection during the body");
}

#[test]
fn bench_validation_against_an_endless_head() {
    bench_validation_against(EndlessHead, "response head exceeds 65536 bytes");
}

#[test]
fn bench_validation_against_an_endless_body() {
    bench_validation_against(EndlessBody, "went past 1048576 bytes");
}

#[test]
fn bench_validation_against_a_trickle() {
    bench_validation_against(Trickle, "timed out");
}

#[test]
fn bench_validation_against_silence() {
    bench_validation_against(Silence, "timed out");
}

#[test]
fn bench_validation_against_garbage() {
    bench_validation_against(Garbage, "status line is not HTTP/x.y NNN");
}

#[test]
fn bench_validation_against_100k_headers() {
    bench_validation_against(ManyHeaders, "response head exceeds 65536 bytes");
}

#[test]
fn bench_validation_against_an_endless_chunked_body() {
    bench_validation_against(EndlessChunked, "went past 1048576 bytes");
}

#[test]
fn bench_validation_against_a_reset_mid_body() {
    bench_validation_against(ResetMidBody, "connection closed during body");
}

#[test]
fn bench_load_against_an_endless_head() {
    bench_load_against(EndlessHead, "response head larger than 32768 bytes");
}

#[test]
fn bench_load_against_an_endless_body() {
    bench_load_against(EndlessBody, "no response within 1s");
}

#[test]
fn bench_load_against_a_trickle() {
    bench_load_against(Trickle, "no response within 1s");
}

#[test]
fn bench_load_against_silence() {
    bench_load_against(Silence, "no response within 1s");
}

#[test]
fn bench_load_against_garbage() {
    bench_load_against(Garbage, "the response head is not HTTP/1.x");
}

#[test]
fn bench_load_against_100k_headers() {
    bench_load_against(ManyHeaders, "more than 64 header lines");
}

#[test]
fn bench_load_against_an_endless_chunked_body() {
    bench_load_against(EndlessChunked, "no response within 1s");
}

#[test]
fn bench_load_against_a_reset_mid_body() {
    bench_load_against(ResetMidBody, "closed:");
}
