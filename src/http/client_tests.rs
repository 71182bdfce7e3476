//! Tests of the conformance client against small servers written here:
//! exact bytes in, every way a response can be malformed or cut short.

use super::*;
use crate::http::{RequestBody, RequestParts};
use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};

/// What the test peer does, in order, on the one connection it accepts.
enum Step {
    /// Read until one more request head (ending in CRLF CRLF) has arrived.
    ReadHead,
    /// Read until the client closes or shuts down its side.
    ReadToEof,
    /// Write these bytes at once.
    Reply(Vec<u8>),
    /// Write these bytes a few at a time, pausing between pieces.
    Trickle(Vec<u8>, usize),
    /// Pause.
    Sleep(u64),
    /// Write these bytes over and over until the client goes away.
    Forever(Vec<u8>),
}
use Step::*;

fn w(bytes: &[u8]) -> Step {
    Reply(bytes.to_vec())
}

/// Plays the steps, then closes; returns every byte received.
fn play<S: Read + Write>(mut s: S, steps: Vec<Step>) -> Vec<u8> {
    let mut got = Vec::new();
    let mut mark = 0;
    let mut chunk = [0u8; 4096];
    for step in steps {
        match step {
            ReadHead => loop {
                if let Some(i) = got[mark..].windows(4).position(|x| x == b"\r\n\r\n") {
                    mark += i + 4;
                    break;
                }
                match s.read(&mut chunk) {
                    Ok(0) | Err(_) => return got,
                    Ok(n) => got.extend_from_slice(&chunk[..n]),
                }
            },
            ReadToEof => loop {
                match s.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&chunk[..n]),
                }
            },
            Reply(bytes) => {
                let _ = s.write_all(&bytes);
            }
            Trickle(bytes, piece) => {
                for part in bytes.chunks(piece) {
                    let _ = s.write_all(part);
                    thread::sleep(Duration::from_millis(5));
                }
            }
            Sleep(ms) => thread::sleep(Duration::from_millis(ms)),
            Forever(bytes) => while s.write_all(&bytes).is_ok() {},
        }
    }
    got
}

fn tcp_peer(steps: Vec<Step>) -> (Target, JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        play(s, steps)
    });
    let target = Target::Tcp {
        host: "127.0.0.1".into(),
        port,
    };
    (target, handle)
}

fn timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(2),
        io: Duration::from_secs(5),
    }
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(5)
}

fn get(target: &Target, path: &[u8]) -> Vec<u8> {
    RequestParts::new("GET", path)
        .with_header("Host", target.authority())
        .to_bytes()
}

/// Connects, sends one GET and reads one response.
fn exchange(steps: Vec<Step>) -> (Result<Response, HttpError>, Connection) {
    let (target, _peer) = tcp_peer(steps);
    let mut conn = Connection::open(&target, timeouts()).unwrap();
    conn.send(&get(&target, b"/")).unwrap();
    (conn.read_response(false, soon()), conn)
}

fn malformed_what(r: Result<Response, HttpError>) -> String {
    match r {
        Err(HttpError::Malformed { what }) => what,
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[test]
fn content_length_body_and_exact_request_bytes() {
    let head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n";
    let mut wire = head.to_vec();
    wire.extend_from_slice(b"hello");
    let (target, peer) = tcp_peer(vec![ReadHead, Reply(wire)]);
    let mut conn = Connection::open(&target, timeouts()).unwrap();
    let request = get(&target, b"/caf\xe9?x=1");
    conn.send(&request).unwrap();
    let r = conn.read_response(false, soon()).unwrap();
    assert_eq!(r.version, "HTTP/1.1");
    assert_eq!((r.status, r.reason.as_str()), (200, "OK"));
    assert_eq!(r.body, b"hello");
    assert_eq!(r.framing, Framing::ContentLength(5));
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.raw_head, head);
    assert!(!r.bare_lf && r.keep_alive() && r.interim.is_empty());
    assert!(conn.leftover().is_empty());
    assert_eq!(peer.join().unwrap(), request);
}

#[test]
fn chunked_body_with_extensions_and_trailers() {
    let wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
        5;name=value\r\nhello\r\n\
        7 ; a ; b=\"x y\"\r\n, world\r\n\
        0;last\r\n\
        X-Trailer: one\r\nX-Trailer: two\r\n\r\n";
    let (r, conn) = exchange(vec![ReadHead, Trickle(wire.to_vec(), 3)]);
    let r = r.unwrap();
    assert_eq!(r.framing, Framing::Chunked);
    assert_eq!(r.body, b"hello, world");
    assert_eq!(
        r.trailers,
        vec![
            ("X-Trailer".to_string(), "one".to_string()),
            ("X-Trailer".to_string(), "two".to_string())
        ]
    );
    assert!(r.keep_alive());
    assert!(conn.leftover().is_empty());
}

#[test]
fn until_close_body() {
    let (r, conn) = exchange(vec![
        ReadHead,
        w(b"HTTP/1.0 200 OK\r\nX: 1\r\n\r\nabc"),
        Sleep(50),
        w(b"def"),
    ]);
    let r = r.unwrap();
    assert_eq!(r.framing, Framing::UntilClose);
    assert_eq!(r.body, b"abcdef");
    assert!(!r.keep_alive());
    assert!(conn.peer_closed());
}

#[test]
fn head_response_has_no_body_and_next_response_follows() {
    let (target, _peer) = tcp_peer(vec![
        ReadHead,
        w(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"),
        ReadHead,
        w(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    ]);
    let mut conn = Connection::open(&target, timeouts()).unwrap();
    let head = RequestParts::new("HEAD", "/")
        .with_header("Host", target.authority())
        .to_bytes();
    conn.send(&head).unwrap();
    let r = conn.read_response(true, soon()).unwrap();
    assert_eq!(r.framing, Framing::NoBody);
    assert!(r.body.is_empty());
    assert_eq!(r.header("content-length"), Some("5"));
    conn.send(&get(&target, b"/")).unwrap();
    let r = conn.read_response(false, soon()).unwrap();
    assert_eq!(r.body, b"ok");
}

#[test]
fn interim_responses_then_final() {
    let (r, _conn) = exchange(vec![
        ReadHead,
        w(b"HTTP/1.1 100 Continue\r\n\r\n"),
        Sleep(20),
        w(
            b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n\
            HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nhi",
        ),
    ]);
    let r = r.unwrap();
    assert_eq!((r.status, r.body.as_slice()), (201, &b"hi"[..]));
    assert_eq!(r.interim.len(), 2);
    assert_eq!(
        (r.interim[0].status, r.interim[0].reason.as_str()),
        (100, "Continue")
    );
    assert_eq!(r.interim[1].status, 103);
    assert_eq!(
        r.interim[1].headers,
        vec![("Link".to_string(), "</a.css>; rel=preload".to_string())]
    );
    assert!(r.raw_head.starts_with(b"HTTP/1.1 201 Created\r\n"));
}

#[test]
fn switching_protocols_is_final_and_keeps_following_bytes() {
    let (r, conn) = exchange(vec![
        ReadHead,
        w(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\nraw-bytes"),
        Sleep(100),
    ]);
    let r = r.unwrap();
    assert_eq!((r.status, r.framing), (101, Framing::NoBody));
    assert!(r.interim.is_empty());
    // The bytes may not all have arrived with the head.
    assert!(b"raw-bytes".starts_with(conn.leftover()));
}

#[test]
fn pipelined_responses_share_the_buffer() {
    let (target, _peer) = tcp_peer(vec![
        ReadHead,
        ReadHead,
        w(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none\
            HTTP/1.1 204 No Content\r\n\r\n\
            HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n"),
        ReadToEof,
    ]);
    let mut conn = Connection::open(&target, timeouts()).unwrap();
    let mut both = get(&target, b"/1");
    both.extend_from_slice(&get(&target, b"/2"));
    conn.send(&both).unwrap();
    thread::sleep(Duration::from_millis(100));
    let first = conn.read_response(false, soon()).unwrap();
    assert_eq!(first.body, b"one");
    assert!(conn.leftover().starts_with(b"HTTP/1.1 204"));
    let second = conn.read_response(false, soon()).unwrap();
    assert_eq!((second.status, second.framing), (204, Framing::NoBody));
    let third = conn.read_response(false, soon()).unwrap();
    assert_eq!(third.body, b"two");
    assert!(conn.leftover().is_empty());
}

#[test]
fn duplicate_headers_kept_in_order() {
    let (r, _conn) = exchange(vec![
        ReadHead,
        w(b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nX-Other:  v \t\r\n\
            set-cookie: b=2\r\nSET-COOKIE: c=3\r\nContent-Length: 0\r\n\r\n"),
    ]);
    let r = r.unwrap();
    assert_eq!(r.header_all("Set-Cookie"), vec!["a=1", "b=2", "c=3"]);
    let names: Vec<&str> = r.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "Set-Cookie",
            "X-Other",
            "set-cookie",
            "SET-COOKIE",
            "Content-Length"
        ]
    );
    assert_eq!(r.header("x-other"), Some("v"));
}

#[test]
fn identical_repeated_content_length_is_accepted() {
    let (r, _conn) = exchange(vec![
        ReadHead,
        w(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok"),
    ]);
    assert_eq!(r.unwrap().framing, Framing::ContentLength(2));
}

#[test]
fn bare_lf_is_accepted_and_flagged() {
    let (r, _conn) = exchange(vec![
        ReadHead,
        w(b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok"),
    ]);
    let r = r.unwrap();
    assert!(r.bare_lf);
    assert_eq!(r.body, b"ok");
    assert_eq!(r.raw_head, b"HTTP/1.1 200 OK\nContent-Length: 2\n\n");
}

#[test]
fn missing_reason_is_tolerated() {
    let (r, _conn) = exchange(vec![
        ReadHead,
        w(b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"),
    ]);
    let r = r.unwrap();
    assert_eq!((r.status, r.reason.as_str()), (200, ""));
    assert!(r.reason_missing());
}

#[test]
fn malformed_status_line() {
    let (r, conn) = exchange(vec![ReadHead, w(b"HTTP/1.1 OK 200\r\n\r\n")]);
    assert!(malformed_what(r).starts_with("status line is not HTTP/x.y NNN"));
    assert_eq!(conn.leftover(), b"HTTP/1.1 OK 200\r\n\r\n");
}

#[test]
fn space_before_colon_is_malformed() {
    let (r, _conn) = exchange(vec![
        ReadHead,
        w(b"HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok"),
    ]);
    assert!(malformed_what(r).starts_with("whitespace between header name and colon"));
}

#[test]
fn obs_fold_is_malformed() {
    let (r, _conn) = exchange(vec![
        ReadHead,
        w(b"HTTP/1.1 200 OK\r\nX-Long: a\r\n  b\r\nContent-Length: 0\r\n\r\n"),
    ]);
    assert!(malformed_what(r).contains("obs-fold"));
}

#[test]
fn conflicting_content_length_is_malformed() {
    let (r, _conn) = exchange(vec![
        ReadHead,
        w(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!"),
    ]);
    assert!(malformed_what(r).starts_with("conflicting content-length"));
}

#[test]
fn bad_chunk_framing_is_malformed() {
    let (r, _conn) = exchange(vec![
        ReadHead,
        w(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
    ]);
    assert!(malformed_what(r).starts_with("invalid chunk size"));
    let (r, _conn) = exchange(vec![
        ReadHead,
        w(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokX\r\n0\r\n\r\n"),
    ]);
    assert_eq!(malformed_what(r), "chunk data not followed by CRLF");
}

#[test]
fn oversized_head_is_malformed() {
    let mut wire = b"HTTP/1.1 200 OK\r\n".to_vec();
    while wire.len() <= HEAD_LIMIT {
        wire.extend_from_slice(b"X-Filler: 0123456789012345678901234567890123456789\r\n");
    }
    let (r, _conn) = exchange(vec![ReadHead, Reply(wire), ReadToEof]);
    assert!(malformed_what(r).starts_with("response head exceeds 65536 bytes"));
}

#[test]
fn silent_server_times_out_within_deadline() {
    let (target, _peer) = tcp_peer(vec![ReadHead, ReadToEof]);
    let mut conn = Connection::open(&target, timeouts()).unwrap();
    conn.send(&get(&target, b"/")).unwrap();
    let limit = Duration::from_millis(400);
    let began = Instant::now();
    let err = conn.read_response(false, began + limit).unwrap_err();
    let elapsed = began.elapsed();
    assert!(
        matches!(
            err,
            HttpError::Timeout {
                phase: Phase::StatusLine
            }
        ),
        "{err:?}"
    );
    assert!(
        elapsed >= limit && elapsed < limit + Duration::from_secs(1),
        "{elapsed:?}"
    );
    assert_eq!(err.to_string(), "timed out during status line");
}

#[test]
fn io_step_timeout_applies_before_deadline() {
    let (target, _peer) = tcp_peer(vec![
        ReadHead,
        w(b"HTTP/1.1 200 OK\r\nContent-Le"),
        ReadToEof,
    ]);
    let quick = Timeouts {
        connect: Duration::from_secs(2),
        io: Duration::from_millis(200),
    };
    let mut conn = Connection::open(&target, quick).unwrap();
    conn.send(&get(&target, b"/")).unwrap();
    let began = Instant::now();
    let err = conn
        .read_response(false, began + Duration::from_secs(30))
        .unwrap_err();
    assert!(
        matches!(
            err,
            HttpError::Timeout {
                phase: Phase::Headers
            }
        ),
        "{err:?}"
    );
    assert!(began.elapsed() < Duration::from_secs(2));
    assert_eq!(conn.leftover(), b"HTTP/1.1 200 OK\r\nContent-Le");
}

#[test]
fn close_mid_body_reports_bytes_received() {
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
    let mut wire = head.to_vec();
    wire.extend_from_slice(b"abc");
    let (r, conn) = exchange(vec![ReadHead, Reply(wire.clone())]);
    match r {
        Err(HttpError::Closed {
            phase: Phase::Body,
            received,
        }) => assert_eq!(received, head.len() + 3),
        other => panic!("expected Closed, got {other:?}"),
    }
    assert_eq!(conn.leftover(), wire);
}

#[test]
fn close_before_any_byte() {
    let (r, _conn) = exchange(vec![ReadHead]);
    assert!(
        matches!(
            r,
            Err(HttpError::Closed {
                phase: Phase::StatusLine,
                received: 0
            })
        ),
        "{r:?}"
    );
}

#[test]
fn wait_closed_sees_close_and_extra_bytes() {
    let (r, mut conn) = exchange(vec![
        ReadHead,
        w(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        Sleep(50),
        w(b"junk"),
    ]);
    assert_eq!(r.unwrap().body, b"ok");
    assert!(conn.wait_closed(soon()).unwrap());
    assert_eq!(conn.leftover(), b"junk");
}

#[test]
fn wait_closed_reports_open_connection_at_deadline() {
    let (target, _peer) = tcp_peer(vec![ReadHead, ReadToEof]);
    let quick = Timeouts {
        connect: Duration::from_secs(2),
        io: Duration::from_millis(100),
    };
    let mut conn = Connection::open(&target, quick).unwrap();
    conn.send(&get(&target, b"/")).unwrap();
    let began = Instant::now();
    assert!(!conn
        .wait_closed(began + Duration::from_millis(350))
        .unwrap());
    assert!(began.elapsed() >= Duration::from_millis(350));
}

#[test]
fn shutdown_write_lets_the_server_see_the_end() {
    let (target, peer) = tcp_peer(vec![
        ReadToEof,
        w(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone"),
    ]);
    let mut conn = Connection::open(&target, timeouts()).unwrap();
    let request = RequestParts::new("POST", "/")
        .with_header("Host", target.authority())
        .with_header("Transfer-Encoding", "chunked")
        .with_body(RequestBody::Chunked(vec![b"abc".to_vec()]))
        .to_bytes();
    conn.send(&request).unwrap();
    conn.shutdown_write().unwrap();
    let r = conn.read_response(false, soon()).unwrap();
    assert_eq!(r.body, b"done");
    assert_eq!(peer.join().unwrap(), request);
}

#[test]
fn refused_connection_is_connect_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let target = Target::Tcp {
        host: "127.0.0.1".into(),
        port,
    };
    match Connection::open(&target, timeouts()) {
        Err(HttpError::Connect { target: t, source }) => {
            assert_eq!(t, format!("127.0.0.1:{port}"));
            assert_eq!(source.kind(), ErrorKind::ConnectionRefused);
        }
        other => panic!("expected Connect, got {other:?}"),
    }
}

#[test]
fn unix_socket_round_trip() {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "wsgiprobe-http-{}-{}.sock",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).unwrap();
    let peer = thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        play(
            s,
            vec![
                ReadHead,
                w(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nunix"),
            ],
        )
    });
    let target = Target::parse(&format!("unix:{}", path.display())).unwrap();
    assert_eq!(target, Target::Unix(path.clone()));
    assert_eq!(target.authority(), "localhost");
    let mut conn = Connection::open(&target, timeouts()).unwrap();
    let request = get(&target, b"/");
    conn.send(&request).unwrap();
    let r = conn.read_response(false, soon()).unwrap();
    assert_eq!(r.body, b"unix");
    assert!(!r.keep_alive());
    assert!(conn.wait_closed(soon()).unwrap());
    assert_eq!(peer.join().unwrap(), request);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn missing_unix_socket_is_connect_error() {
    let target = Target::Unix(PathBuf::from("/nonexistent/wsgiprobe.sock"));
    let err = Connection::open(&target, timeouts()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot connect to unix:/nonexistent/wsgiprobe.sock"
    );
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn target_parsing() {
    let tcp = |host: &str, port| Target::Tcp {
        host: host.into(),
        port,
    };
    let ok = |s: &str| parse_url(s).unwrap();
    assert_eq!(
        ok("http://127.0.0.1:8000"),
        (tcp("127.0.0.1", 8000), "/".into())
    );
    assert_eq!(
        ok("http://example.test/app/"),
        (tcp("example.test", 80), "/app/".into())
    );
    assert_eq!(ok("HTTP://h:/x"), (tcp("h", 80), "/x".into()));
    assert_eq!(ok("localhost:9000"), (tcp("localhost", 9000), "/".into()));
    assert_eq!(
        ok("localhost:9000/base"),
        (tcp("localhost", 9000), "/base".into())
    );
    assert_eq!(ok("http://[::1]:8080/p"), (tcp("::1", 8080), "/p".into()));
    assert_eq!(ok("[::1]:8080"), (tcp("::1", 8080), "/".into()));
    assert_eq!(
        ok("unix:/run/app.sock"),
        (Target::Unix("/run/app.sock".into()), "/".into())
    );
    assert_eq!(Target::parse("http://h:81/ignored").unwrap(), tcp("h", 81));

    assert_eq!(parse_url(""), Err(TargetError::Empty));
    let err = |s: &str| parse_url(s).unwrap_err();
    assert!(
        matches!(err("ftp://h:21"), TargetError::UnsupportedScheme { scheme, .. } if scheme == "ftp")
    );
    let (tls, base) = parse_url_with("https://h/app/", true).unwrap();
    assert_eq!(base, "/app/");
    let Target::Tls { host, port, tls } = &tls else {
        panic!("{tls:?}")
    };
    assert_eq!((host.as_str(), *port), ("h", 443));
    assert_eq!(tls.trust(), &crate::http::tls::Trust::Insecure);
    assert_eq!(tls_target().scheme(), "https");
    assert_eq!(tls_target().authority(), "127.0.0.1:8443");
    assert!(matches!(err("localhost"), TargetError::MissingPort { .. }));
    assert!(matches!(err(":8000"), TargetError::MissingHost { .. }));
    assert!(matches!(
        err("http://:8000/"),
        TargetError::MissingHost { .. }
    ));
    assert!(matches!(err("unix:"), TargetError::EmptySocketPath { .. }));
    for bad_port in ["h:0", "h:65536", "h:+80", "h:http", "h:"] {
        assert!(
            matches!(err(bad_port), TargetError::InvalidPort { .. }),
            "{bad_port}"
        );
    }
    for invalid in [
        "http://u@h:1/",
        "http://h:1/?q",
        "http://h:1#f",
        "::1:80",
        "http://[::1/",
        "http://[::1]x/",
    ] {
        assert!(
            matches!(err(invalid), TargetError::Invalid { .. }),
            "{invalid}"
        );
    }
}

fn tls_target() -> Target {
    Target::Tls {
        host: "127.0.0.1".into(),
        port: 8443,
        tls: crate::http::tls::TlsClient::insecure(),
    }
}

#[test]
fn control_characters_in_a_url_are_refused() {
    for (url, at) in [
        ("http://127.0.0.1:8080/a\r\nX-Injected: 1", 23),
        ("http://127.0.0.1:8080/a b", 23),
        ("http://127.0.0.1:8080/\x00", 22),
        ("unix:/tmp/a\n.sock", 11),
    ] {
        match parse_url(url) {
            Err(TargetError::ControlCharacter { at: got, .. }) => assert_eq!(got, at, "{url:?}"),
            other => panic!("{url:?}: {other:?}"),
        }
    }
    assert!(parse_url("unix:/tmp/my dir/a.sock").is_ok());
    assert!(matches!(
        parse_url("h st:80"),
        Err(TargetError::ControlCharacter { at: 1, .. })
    ));
}

#[test]
fn target_display_and_authority() {
    let v4 = Target::Tcp {
        host: "127.0.0.1".into(),
        port: 8000,
    };
    let v6 = Target::Tcp {
        host: "::1".into(),
        port: 80,
    };
    assert_eq!(v4.to_string(), "127.0.0.1:8000");
    assert_eq!(v6.authority(), "[::1]:80");
    let unix = Target::Unix("/tmp/a.sock".into());
    assert_eq!(unix.to_string(), "unix:/tmp/a.sock");
    for t in [v4, v6, unix] {
        assert_eq!(Target::parse(&t.to_string()).unwrap(), t);
    }
}

#[test]
fn error_messages() {
    let e = HttpError::Closed {
        phase: Phase::Body,
        received: 42,
    };
    assert_eq!(
        e.to_string(),
        "connection closed during body after 42 bytes of the response"
    );
    let e = HttpError::Io {
        phase: Phase::Write,
        source: io::Error::new(ErrorKind::BrokenPipe, "pipe"),
    };
    assert_eq!(e.to_string(), "i/o error during write");
    assert!(std::error::Error::source(&e).is_some());
}

/// Connects with a body limit, sends one GET and reads one response.
fn exchange_capped(steps: Vec<Step>, limit: usize) -> (Result<Response, HttpError>, Connection) {
    let (target, _peer) = tcp_peer(steps);
    let mut conn = Connection::open(&target, timeouts()).unwrap();
    conn.limit_body(limit);
    conn.send(&get(&target, b"/")).unwrap();
    (conn.read_response(false, soon()), conn)
}

/// What a connection may hold besides a body at its limit.
const SLACK: usize = 3 * HEAD_LIMIT + COMPACT_AT + 2 * READ_CHUNK;

fn assert_too_large(r: &Result<Response, HttpError>, conn: &Connection, limit: usize) {
    assert!(
        matches!(r, Err(HttpError::BodyTooLarge { limit: l }) if *l == limit),
        "{r:?}"
    );
    assert!(
        conn.leftover().len() <= limit + SLACK,
        "{} bytes held",
        conn.leftover().len()
    );
}

#[test]
fn an_endless_body_stops_at_the_limit() {
    let limit = 300_000;
    let (r, conn) = exchange_capped(
        vec![
            ReadHead,
            w(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"),
            Forever(vec![b'x'; 8192]),
        ],
        limit,
    );
    assert_too_large(&r, &conn, limit);
    assert!(r.unwrap_err().to_string().contains("300000 bytes"));
}

#[test]
fn a_content_length_past_the_limit_is_refused_unread() {
    let (r, conn) = exchange_capped(
        vec![
            ReadHead,
            w(b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\nabc"),
            Sleep(500),
        ],
        1000,
    );
    assert_too_large(&r, &conn, 1000);
    let (r, _) = exchange_capped(
        vec![
            ReadHead,
            w(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"),
            Reply(vec![b'y'; 1000]),
        ],
        1000,
    );
    assert_eq!(r.unwrap().body.len(), 1000);
}

#[test]
fn an_endless_chunked_body_is_held_once_and_stops_at_the_limit() {
    let limit = 200_000;
    // One-byte chunks: six bytes on the wire for each byte of body, so a
    // buffer holding the framing too would be six times the body.
    let (r, conn) = exchange_capped(
        vec![
            ReadHead,
            w(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Forever(b"1\r\nz\r\n".repeat(2000)),
        ],
        limit,
    );
    assert_too_large(&r, &conn, limit);

    // Just under the limit, in one-byte chunks, it is read whole.
    let mut wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    wire.extend(b"1\r\nz\r\n".repeat(limit));
    wire.extend(b"0\r\n\r\n");
    let (r, conn) = exchange_capped(vec![ReadHead, Reply(wire)], limit);
    let r = r.unwrap();
    assert_eq!(r.body, vec![b'z'; limit]);
    assert!(conn.leftover().is_empty());
}

#[test]
fn endless_interim_responses_are_malformed() {
    let (r, conn) = exchange(vec![
        ReadHead,
        Forever(b"HTTP/1.1 100 Continue\r\n\r\n".to_vec()),
    ]);
    assert!(malformed_what(r).contains("interim"));
    assert!(conn.leftover().len() <= SLACK);
}

#[test]
fn waiting_for_a_close_holds_at_most_the_limit() {
    let limit = 100_000;
    let (target, _peer) = tcp_peer(vec![ReadHead, Forever(vec![b'q'; 4096])]);
    let mut conn = Connection::open(&target, timeouts()).unwrap();
    conn.limit_body(limit);
    conn.send(&get(&target, b"/")).unwrap();
    let r = conn.wait_closed(soon());
    assert!(matches!(r, Err(HttpError::BodyTooLarge { .. })), "{r:?}");
    assert!(conn.leftover().len() <= limit + SLACK);
}

/// A one-shot TLS server on a loopback port with a certificate generated
/// for 127.0.0.1: it answers one request with `204`.
fn tls_server() -> (u16, crate::http::tls::SelfSigned, JoinHandle<()>) {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let cert = crate::http::tls::SelfSigned::generate(&["127.0.0.1"]).unwrap();
    let key_der = pem_body(&cert.key_pem);
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der.clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der)),
    )
    .unwrap();
    let config = std::sync::Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        // Two connections: one that fails its handshake, one that succeeds.
        for _ in 0..2 {
            let Ok((sock, _)) = listener.accept() else {
                return;
            };
            sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, sock);
            let mut buf = [0u8; 1024];
            if matches!(tls.read(&mut buf), Ok(n) if n > 0) {
                let _ = tls.write_all(b"HTTP/1.1 204 No Content\r\n\r\n");
                let _ = tls.flush();
            }
        }
    });
    (port, cert, handle)
}

fn pem_body(pem: &str) -> Vec<u8> {
    use base64::Engine;
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

#[test]
fn tls_trusts_only_what_it_is_told_to() {
    use crate::http::tls::TlsClient;
    let (port, cert, server) = tls_server();
    let target = |tls| Target::Tls {
        host: "127.0.0.1".into(),
        port,
        tls,
    };
    // A client that trusts another certificate refuses this one.
    let other = crate::http::tls::SelfSigned::generate(&["127.0.0.1"]).unwrap();
    let wrong = TlsClient::trusting(&other.der, "another certificate").unwrap();
    let err = Connection::open(&target(wrong), timeouts()).unwrap_err();
    assert!(matches!(err, HttpError::Tls { .. }), "{err}");
    assert!(err.to_string().contains("--insecure"), "{err}");
    let trusting = TlsClient::trusting(&cert.der, "the test certificate").unwrap();
    let r = round_trip(
        &target(trusting),
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        false,
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(r.status, 204);
    server.join().unwrap();
}
