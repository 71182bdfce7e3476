//! Seeded mutation fuzzing of everything that reads untrusted bytes: the
//! spec loader, the conformance client's response reader (and its head
//! parser) and the load engine's response reader. Each target gets at
//! least [`RUNS`] inputs made by mutating valid ones, from a fixed seed, so
//! a run is repeatable and a failure names the input that caused it. No
//! input may panic, hang, or break what the reader promises (a body kept
//! within its limit, no byte used twice).
//!
//! `WSGIPROBE_FUZZ_RUNS=N` runs more; `WSGIPROBE_FUZZ_SEED=S` another seed.

use std::io::Write;
use std::os::unix::net::UnixListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wsgiprobe::bench::parse::{ReadProgress, ResponseReader};
use wsgiprobe::http::{parse_final_head, Connection, HttpError, Target, Timeouts};

/// Inputs per target and run, at least.
const RUNS: usize = 10_000;
/// A target that has not finished by then is hung.
const WATCHDOG: Duration = Duration::from_secs(240);

fn runs() -> usize {
    std::env::var("WSGIPROBE_FUZZ_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(RUNS)
        .max(RUNS)
}

fn seed() -> u64 {
    std::env::var("WSGIPROBE_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_3333)
}

/// Byte strings a parser gives meaning to, spliced in at random.
const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\r\n\r\n",
    b"\r",
    b" ",
    b"\t",
    b":",
    b";",
    b"=",
    b"\"",
    b"\\",
    b"\x00",
    b"\x7f",
    b"\xff",
    b"0\r\n\r\n",
    b"ffffffffffffffff\r\n",
    b"10000000000000000\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\n",
    b"HTTP/1.0 ",
    b"Transfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: gzip, chunked\r\n",
    b"Content-Length: 5\r\n",
    b"Content-Length: 99999999999999999999\r\n",
    b"Content-Length: 3, 4\r\n",
    b"Connection: close\r\n",
    b" folded\r\n",
    b"[[case]]\n",
    b"= { subject = \"status\", equals = 200 }",
    b"level = 5\n",
    b"\"\"\"",
    b"'''",
    b"[",
    b"]",
    b"{",
    b"}",
    b"#",
    b"\\u0000",
    b"\xc3\x28",
];

/// Makes a new input from `seeds`: one to four mutations of one of them.
struct Mutator {
    rng: fastrand::Rng,
}

impl Mutator {
    fn new(seed: u64) -> Mutator {
        Mutator {
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    fn input(&mut self, seeds: &[Vec<u8>]) -> Vec<u8> {
        let mut b = seeds[self.rng.usize(..seeds.len())].clone();
        for _ in 0..self.rng.usize(1..=4) {
            self.mutate(&mut b, seeds);
        }
        b
    }

    fn mutate(&mut self, b: &mut Vec<u8>, seeds: &[Vec<u8>]) {
        let r = &mut self.rng;
        let at = |r: &mut fastrand::Rng, b: &Vec<u8>| r.usize(..=b.len());
        match r.u8(..9) {
            0 if !b.is_empty() => {
                let i = r.usize(..b.len());
                b[i] ^= 1 << r.u8(..8);
            }
            1 if !b.is_empty() => {
                let i = r.usize(..b.len());
                b[i] = r.u8(..);
            }
            2 => {
                let i = at(r, b);
                b.insert(i, r.u8(..));
            }
            3 if !b.is_empty() => {
                let i = r.usize(..b.len());
                let n = r.usize(1..=(b.len() - i).min(16));
                b.drain(i..i + n);
            }
            4 => {
                let i = at(r, b);
                let t = TOKENS[r.usize(..TOKENS.len())];
                b.splice(i..i, t.iter().copied());
            }
            5 if !b.is_empty() => {
                // Repeat a piece, sometimes many times (long lines, many headers).
                let i = r.usize(..b.len());
                let n = r.usize(1..=(b.len() - i).min(32));
                let piece = b[i..i + n].to_vec();
                let times = if r.bool() {
                    r.usize(1..4)
                } else {
                    r.usize(100..2000)
                };
                let j = at(r, b);
                b.splice(j..j, piece.repeat(times));
            }
            6 => {
                // Splice in the tail of another seed.
                let other = &seeds[r.usize(..seeds.len())];
                let from = r.usize(..=other.len());
                let i = at(r, b);
                b.truncate(i);
                b.extend_from_slice(&other[from..]);
            }
            7 => {
                let i = at(r, b);
                b.truncate(i);
            }
            _ => {
                // A run of digits, as in a size or a length.
                let i = at(r, b);
                let digits: Vec<u8> = (0..r.usize(1..24))
                    .map(|_| b"0123456789abcdef"[r.usize(..16)])
                    .collect();
                b.splice(i..i, digits);
            }
        }
    }
}

/// Runs `body` for `runs()` inputs on a thread watched for hangs: the
/// test fails naming the input that did not finish.
fn fuzz(name: &str, seeds: Vec<Vec<u8>>, body: impl Fn(&[u8]) + Send + 'static) {
    let done = Arc::new(AtomicUsize::new(0));
    let current = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let n = runs();
    {
        let (done, current) = (done.clone(), current.clone());
        std::thread::spawn(move || {
            let mut m = Mutator::new(seed());
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                for _ in 0..n {
                    let input = m.input(&seeds);
                    *current.lock().unwrap() = input.clone();
                    body(&input);
                    done.fetch_add(1, Ordering::SeqCst);
                }
            }));
            let _ = tx.send(outcome.is_ok());
        });
    }
    let started = Instant::now();
    let ok = rx.recv_timeout(WATCHDOG);
    let show = |b: &[u8]| format!("{:?}", String::from_utf8_lossy(&b[..b.len().min(400)]));
    let at = done.load(Ordering::SeqCst);
    match ok {
        Ok(true) => {}
        Ok(false) => panic!(
            "{name}: input {at} (seed {}) panicked: {}",
            seed(),
            show(&current.lock().unwrap())
        ),
        Err(_) => panic!(
            "{name}: input {at} (seed {}) did not finish within {WATCHDOG:?}: {}",
            seed(),
            show(&current.lock().unwrap())
        ),
    }
    assert_eq!(at, n);
    eprintln!(
        "{name}: {n} mutated inputs from seed {} in {:.1} s",
        seed(),
        started.elapsed().as_secs_f64()
    );
}

/// Valid responses of every framing the readers know.
fn response_seeds() -> Vec<Vec<u8>> {
    [
        &b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"[..],
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n7 ; a ; b=\"x y\"\r\n, world\r\n0;last\r\nX-Trailer: one\r\n\r\n",
        b"HTTP/1.0 200 OK\r\nX: y\r\n\r\nbody until close",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early\r\nLink: </x>\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n",
        b"HTTP/1.1 304 Not Modified\r\n\r\n",
        b"HTTP/1.1 200\nA: b\n\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabcEXTRA",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\nraw bytes",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzzz",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n1\r\nb\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nc",
    ]
    .iter()
    .map(|s| s.to_vec())
    .collect()
}

/// The conformance client's reader, over a real unix socket: the server
/// side writes the input and closes, the client reads one response.
#[test]
fn the_conformance_client_survives_mutated_responses() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fuzz.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let target = Target::Unix(path);
    const LIMIT: usize = 64 * 1024;
    fuzz("client", response_seeds(), move |input| {
        let mut conn = Connection::open(
            &target,
            Timeouts {
                connect: Duration::from_secs(2),
                io: Duration::from_secs(2),
            },
        )
        .unwrap();
        conn.limit_body(LIMIT);
        let (mut peer, _) = listener.accept().unwrap();
        // What the socket buffer takes is written at once; more, by a thread.
        let writer = if input.len() <= 64 * 1024 {
            let _ = peer.write_all(input);
            drop(peer);
            None
        } else {
            let bytes = input.to_vec();
            Some(std::thread::spawn(move || {
                let _ = peer.write_all(&bytes);
            }))
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        for _ in 0..2 {
            match conn.read_response(false, deadline) {
                Ok(r) => {
                    assert!(r.body.len() <= LIMIT);
                    assert!(r.raw_head.len() <= input.len());
                }
                Err(HttpError::Timeout { .. }) => panic!("an input that ends cannot time out"),
                Err(_) => break,
            }
        }
        assert!(conn.leftover().len() <= input.len());
        drop(conn);
        if let Some(w) = writer {
            w.join().unwrap();
        }
        // The head parser alone, on the same bytes stopping anywhere.
        let cut = input.len() / 2;
        for bytes in [input, &input[..cut]] {
            if let Ok(Some(head)) = parse_final_head(bytes) {
                assert!(head.end <= bytes.len());
            }
        }
    });
}

/// The load engine's reader, fed the input in random pieces as a
/// connection's buffer would hold them.
#[test]
fn the_load_engines_reader_survives_mutated_responses() {
    let pieces = std::sync::Mutex::new(fastrand::Rng::with_seed(seed() ^ 1));
    fuzz("bench reader", response_seeds(), move |input| {
        let mut rng = pieces.lock().unwrap();
        let mut reader = ResponseReader::default();
        let mut buf: Vec<u8> = Vec::new();
        let mut body = 0u64;
        let mut fed = 0;
        while fed < input.len() {
            let step = rng.usize(1..=input.len() - fed);
            buf.extend_from_slice(&input[fed..fed + step]);
            fed += step;
            match reader.feed(&buf, &mut |b| body += b.len() as u64) {
                Ok((ReadProgress::Complete { used }, consumed)) => {
                    assert!(used <= buf.len() && consumed <= buf.len());
                    buf.drain(..used);
                    reader.reset();
                }
                Ok((ReadProgress::NeedMore, used)) => {
                    assert!(used <= buf.len());
                    buf.drain(..used);
                }
                Err(e) => {
                    // Every error can be told to a user.
                    assert!(!e.to_string().is_empty());
                    break;
                }
            }
            assert!(body <= input.len() as u64);
        }
    });
}

/// Every case of the built-in spec files, one per seed, as a file of its
/// own; and the requirement catalogue in pieces.
fn spec_seeds() -> Vec<Vec<u8>> {
    let files = [
        include_str!("../specs/environ.toml"),
        include_str!("../specs/input.toml"),
        include_str!("../specs/response.toml"),
    ];
    let mut seeds = Vec::new();
    for text in files {
        let (head, cases) = text.split_once("[[case]]").unwrap();
        let head = head
            .lines()
            .filter(|l| l.starts_with("area") || l.starts_with("title"))
            .collect::<Vec<_>>()
            .join("\n");
        for case in cases.split("[[case]]") {
            seeds.push(format!("{head}\n[[case]]{case}").into_bytes());
        }
    }
    let catalogue = include_str!("../specs/requirements.toml");
    for part in catalogue.split("[[requirement]]").skip(1).take(20) {
        seeds.push(format!("[[requirement]]{part}").into_bytes());
    }
    seeds
}

#[test]
fn the_spec_loader_survives_mutated_files() {
    fuzz("spec loader", spec_seeds(), |input| {
        let (name, text) = if input.starts_with(b"[[requirement]]") {
            ("requirements.toml", input)
        } else {
            ("environ.toml", input)
        };
        let text = match wsgiprobe::textfile::decode(text.to_vec()) {
            Ok(t) => t,
            Err(e) => {
                assert!(e.to_string().contains("byte"));
                String::from_utf8_lossy(text).into_owned()
            }
        };
        // A small catalogue of its own, so that each input is all that is
        // parsed (without one, the built-in catalogue would be, each time).
        let catalogue = (
            "requirements.toml".to_string(),
            "[[requirement]]\nid = \"pep3333.x\"\nlevel = \"must\"\nsource = \"s\"\ntext = \"t\"\n"
                .to_string(),
        );
        let sources = if name == "requirements.toml" {
            vec![(name.to_string(), text)]
        } else {
            vec![catalogue, (name.to_string(), text)]
        };
        let result = wsgiprobe::spec::load_sources(sources);
        if let Err(e) = result {
            assert!(!e.to_string().is_empty());
        }
    });
}
