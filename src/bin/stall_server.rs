//! A tiny HTTP/1.1 server for testing the load generator itself (not a
//! gateway under test): it answers `ok\n` at once, except that every request
//! arriving in one stall window is held until the window ends, and on request
//! it answers some requests with 500 or cuts their response short.
//!
//! ```text
//! stall_server [--listen 127.0.0.1:0] [--stall-after SECS --stall-for SECS]
//!              [--fail-every N] [--cut-every N] [--max-seconds SECS]
//! ```
//!
//! The stall window starts `--stall-after` seconds after the first request
//! and lasts `--stall-for` seconds; when it ends, held responses go out in
//! arrival order from one thread, within a few milliseconds. That makes the
//! latency distribution of an open-loop run exact (docs/bench.md derives it).
//! `--fail-every N` answers every Nth request 500; `--cut-every N` sends
//! every Nth response only in part and closes the connection.
//! `GET /_count` answers the number of other requests seen. It prints
//! `listening on http://ADDR/` on stdout once it accepts connections, and
//! exits after `--max-seconds` (default 600) so it can never linger.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n";
const FAIL: &[u8] =
    b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nfail\n";
/// A response cut short: two of its three body bytes are missing.
const CUT: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\no";
const LISTENER: Token = Token(0);

struct Options {
    listen: SocketAddr,
    stall_after: Option<Duration>,
    stall_for: Duration,
    fail_every: u64,
    cut_every: u64,
    max: Duration,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        listen: "127.0.0.1:0".parse().expect("literal address"),
        stall_after: None,
        stall_for: Duration::from_secs(1),
        fail_every: 0,
        cut_every: 0,
        max: Duration::from_secs(600),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let secs = || -> Result<Duration, String> {
            value
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(Duration::from_secs_f64)
                .ok_or(format!("{flag}: {value:?} is not a number of seconds"))
        };
        let count = || value.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--listen" => o.listen = value.parse().map_err(|e| format!("{flag}: {e}"))?,
            "--stall-after" => o.stall_after = Some(secs()?),
            "--stall-for" => o.stall_for = secs()?,
            "--fail-every" => o.fail_every = count()?,
            "--cut-every" => o.cut_every = count()?,
            "--max-seconds" => o.max = secs()?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(o)
}

struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
    out: Vec<u8>,
    /// Responses of this client waiting for the stall to end.
    held: usize,
}

fn main() {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("stall_server: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = serve(&o) {
        eprintln!("stall_server: {e}");
        std::process::exit(1);
    }
}

fn serve(o: &Options) -> std::io::Result<()> {
    let born = Instant::now();
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(o.listen)?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    println!("listening on http://{}/", listener.local_addr()?);
    std::io::stdout().flush()?;

    let mut clients: HashMap<Token, Client> = HashMap::new();
    let mut next = 1usize;
    let mut first: Option<Instant> = None;
    let mut seen: u64 = 0;
    // Held responses in arrival order.
    let mut held: Vec<(Token, &'static [u8])> = Vec::new();
    let mut events = Events::with_capacity(1024);
    loop {
        let now = Instant::now();
        if now.duration_since(born) >= o.max {
            return Ok(());
        }
        let window = match (first, o.stall_after) {
            (Some(f), Some(after)) => Some((f + after, f + after + o.stall_for)),
            _ => None,
        };
        if let Some((_, end)) = window {
            if now >= end && !held.is_empty() {
                let count = held.len();
                for (token, resp) in held.drain(..) {
                    if let Some(c) = clients.get_mut(&token) {
                        c.held -= 1;
                        c.out.extend_from_slice(resp);
                        if flush(c).is_err() {
                            clients.remove(&token);
                        }
                    }
                }
                eprintln!(
                    "stall_server: released {count} held responses {:.1} ms after the window ended, in {:.1} ms",
                    (now - end).as_secs_f64() * 1e3,
                    now.elapsed().as_secs_f64() * 1e3
                );
            }
        }
        let timeout = match window {
            Some((_, end)) if !held.is_empty() => end.saturating_duration_since(now),
            _ => Duration::from_millis(100),
        };
        poll.poll(&mut events, Some(timeout.min(Duration::from_millis(100))))
            .or_else(|e| {
                if e.kind() == ErrorKind::Interrupted {
                    Ok(())
                } else {
                    Err(e)
                }
            })?;
        for ev in events.iter() {
            if ev.token() == LISTENER {
                loop {
                    match listener.accept() {
                        Ok((mut stream, _)) => {
                            let token = Token(next);
                            next += 1;
                            stream.set_nodelay(true)?;
                            poll.registry().register(
                                &mut stream,
                                token,
                                Interest::READABLE | Interest::WRITABLE,
                            )?;
                            clients.insert(
                                token,
                                Client {
                                    stream,
                                    buf: Vec::new(),
                                    out: Vec::new(),
                                    held: 0,
                                },
                            );
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    }
                }
                continue;
            }
            let token = ev.token();
            let Some(c) = clients.get_mut(&token) else {
                continue;
            };
            let mut alive = read_all(c);
            while alive {
                let Some((len, count_request)) = next_request(&c.buf) else {
                    break;
                };
                c.buf.drain(..len);
                let now = Instant::now();
                if count_request {
                    c.out.extend_from_slice(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{seen}",
                            seen.to_string().len()
                        )
                        .as_bytes(),
                    );
                    continue;
                }
                seen += 1;
                let first_at = *first.get_or_insert(now);
                if o.cut_every > 0 && seen % o.cut_every == 0 {
                    c.out.extend_from_slice(CUT);
                    let _ = flush(c);
                    alive = false;
                    break;
                }
                let resp = if o.fail_every > 0 && seen % o.fail_every == 0 {
                    FAIL
                } else {
                    OK
                };
                let stalled = o.stall_after.is_some_and(|after| {
                    let start = first_at + after;
                    now >= start && now < start + o.stall_for
                });
                if stalled || c.held > 0 {
                    c.held += 1;
                    held.push((token, resp));
                } else {
                    c.out.extend_from_slice(resp);
                }
            }
            if !alive || flush(c).is_err() {
                clients.remove(&token);
            }
        }
    }
}

/// Reads what is there; `false` once the peer closed or the socket failed.
fn read_all(c: &mut Client) -> bool {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match c.stream.read(&mut chunk) {
            Ok(0) => return false,
            Ok(n) => c.buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

fn flush(c: &mut Client) -> std::io::Result<()> {
    while !c.out.is_empty() {
        match c.stream.write(&c.out) {
            Ok(n) => {
                c.out.drain(..n);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The length of the first complete request in `buf` (head and
/// Content-Length body), and whether it asks for the count.
fn next_request(buf: &[u8]) -> Option<(usize, bool)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let body: usize = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    if buf.len() < end + body {
        return None;
    }
    let count = head.starts_with("GET /_count ");
    Some((end + body, count))
}
