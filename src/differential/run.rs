//! Sending the corpus to one stack: each request on a connection of its
//! own, every response read until the connection ends or falls silent,
//! then what the application saw read back through the probe's side
//! channel (the `differential` scenario records each request it is handed,
//! also one whose response never reaches the client).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use super::corpus::{Entry, Fill};
use crate::http::{round_trip, Connection, HttpError, Target, Timeouts};
use crate::probe::{ARGS_HEADER, SCENARIO_HEADER, TOKEN_HEADER};

/// How long to wait for a first answer to a request.
pub const ANSWER_WAIT: Duration = Duration::from_secs(2);
/// After a response, how long to wait for another (a request the stack
/// found inside the bytes) before the connection counts as silent.
const LINGER: Duration = Duration::from_millis(300);

/// Where the corpus goes.
pub struct Stage<'a> {
    pub target: &'a Target,
    pub base_path: &'a str,
    /// `Some(why)` once the server has exited.
    pub gone: &'a (dyn Fn() -> Option<String> + Sync),
}

/// What the application saw of one request it was handed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Seen {
    /// 1: the request the bytes start with; 2: the one embedded in them.
    pub request: usize,
    pub method: Option<String>,
    pub path: Option<String>,
    pub query: Option<String>,
    /// The HTTP_* and CONTENT_* variables.
    pub fields: BTreeMap<String, String>,
    /// The body as the application read it (ISO-8859-1), up to 4 KiB.
    pub body: Option<String>,
    pub body_length: Option<u64>,
    pub body_error: Option<String>,
}

impl Seen {
    /// Writes what differs from stack to stack as the bytes are shown
    /// (`{host}`, `{probe2}`, ...), so that equal readings compare equal.
    fn normalize(&mut self, swaps: &[(String, &str)]) {
        let swap = |s: &mut String| {
            for (from, to) in swaps {
                if s.contains(from.as_str()) {
                    *s = s.replace(from.as_str(), to);
                }
            }
        };
        for s in [&mut self.path, &mut self.body].into_iter().flatten() {
            swap(s);
        }
        self.fields.values_mut().for_each(swap);
    }
}

/// What one stack did with one request of the corpus.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Reaction {
    /// Statuses of the responses the client read, in order.
    pub responses: Vec<u16>,
    /// How many of them came from the application (the probe's answer).
    pub answered_by_app: usize,
    /// How the connection ended: `closed`, `silent` (still open, nothing
    /// more came), `no answer` (nothing at all within the wait), or why the
    /// response could not be read.
    pub ended: String,
    /// What the application saw, one entry per request it was handed.
    pub seen: Vec<Seen>,
    /// The harness could not tell what happened (could not connect, the
    /// side channel did not answer, the server had exited).
    pub error: Option<String>,
}

impl Reaction {
    fn fault(what: String) -> Reaction {
        Reaction {
            error: Some(what),
            ..Reaction::default()
        }
    }

    /// Nothing came back and the application saw nothing: perhaps a
    /// one-worker server busy with another request, so worth a retry alone.
    fn unanswered(&self) -> bool {
        self.error.is_none() && self.responses.is_empty() && self.seen.is_empty()
    }
}

/// Sends every entry to the stack, `jobs` at a time; an entry nothing
/// answered while others were in flight is sent again alone before it
/// counts, so a one-worker server is not taken for one that waits.
pub fn run_corpus(entries: &[Entry], stage: &Stage, jobs: usize, run_id: &str) -> Vec<Reaction> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Reaction>>> = Mutex::new(vec![None; entries.len()]);
    let gone = || (stage.gone)();
    let play_one = |i: usize| match gone() {
        Some(why) => Reaction::fault(format!("not sent: {}", first_line(&why))),
        None => play(&entries[i], stage, &format!("{run_id}-{i}")),
    };
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, entries.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= entries.len() {
                    break;
                }
                let r = play_one(i);
                results.lock().unwrap()[i] = Some(r);
            });
        }
    });
    let mut results: Vec<Reaction> = results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.expect("every entry ran"))
        .collect();
    for (i, r) in results.iter_mut().enumerate() {
        if r.unanswered() && jobs > 1 {
            *r = play_one(i);
        }
        if r.error.is_none() && r.responses.is_empty() {
            if let Some(why) = gone() {
                r.error = Some(format!("the server exited: {}", first_line(&why)));
            }
        }
    }
    results
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

fn control(token: &str) -> String {
    format!("{SCENARIO_HEADER}: differential\r\n{TOKEN_HEADER}: {token}\r\n")
}

/// The bytes of `entry` for `stage`, with `token` in its control headers.
pub fn entry_bytes(entry: &Entry, stage: &Stage, token: &str) -> Vec<u8> {
    entry.bytes(&Fill {
        host: &stage.target.authority(),
        probe: &control(token),
        probe2: &control(&format!("{token}-2")),
        base: stage.base_path,
    })
}

/// Sends one entry and gathers the stack's reaction.
pub fn play(entry: &Entry, stage: &Stage, token: &str) -> Reaction {
    let bytes = entry_bytes(entry, stage, token);
    let timeouts = Timeouts {
        connect: ANSWER_WAIT,
        io: ANSWER_WAIT,
    };
    let mut conn = match Connection::open(stage.target, timeouts) {
        Ok(c) => c,
        Err(e) => return Reaction::fault(format!("could not connect: {}", chain(&e))),
    };
    let mut r = Reaction::default();
    // A server may answer and close before it has read everything (an
    // over-long line); what it answered still counts.
    let _ = conn.send(&bytes);
    let started = Instant::now();
    r.ended = loop {
        let deadline = if r.responses.is_empty() {
            started + ANSWER_WAIT
        } else {
            Instant::now() + LINGER
        };
        match conn.read_response(false, deadline) {
            Ok(resp) => {
                r.responses.push(resp.status);
                let from_app = serde_json::from_slice::<Value>(&resp.body)
                    .ok()
                    .is_some_and(|v| v.get("seen").is_some());
                r.answered_by_app += usize::from(from_app);
            }
            Err(HttpError::Closed { received: 0, .. }) => break "closed".to_string(),
            Err(HttpError::Timeout { .. }) if r.responses.is_empty() => {
                break "no answer".to_string()
            }
            Err(HttpError::Timeout { .. }) => break "silent".to_string(),
            Err(e) => break chain(&e),
        }
    };
    drop(conn);
    let tokens = if entry.embeds_request() {
        vec![(1, token.to_string()), (2, format!("{token}-2"))]
    } else {
        vec![(1, token.to_string())]
    };
    // The embedded request's control lines first: the first's token is a
    // prefix of the second's.
    let swaps = [
        (control(&format!("{token}-2")), "{probe2}"),
        (control(token), "{probe}"),
        (stage.target.authority(), "{host}"),
    ];
    for (request, t) in tokens {
        match seen_by_app(stage, &t) {
            Ok(seen) => r.seen.extend(seen.into_iter().map(|mut s| {
                s.request = request;
                s.normalize(&swaps);
                s
            })),
            Err(e) => {
                r.error = Some(e);
                break;
            }
        }
    }
    r
}

/// What the application recorded for `token` (each request it was handed
/// that carried it).
fn seen_by_app(stage: &Stage, token: &str) -> Result<Vec<Seen>, String> {
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\n{SCENARIO_HEADER}: events\r\n{ARGS_HEADER}: of={token}\r\nConnection: close\r\n\r\n",
        stage.base_path,
        stage.target.authority()
    );
    let r = round_trip(
        stage.target,
        request.as_bytes(),
        false,
        Duration::from_secs(5),
    )
    .map_err(|e| format!("could not read what the application saw: {}", chain(&e)))?;
    let v: Value = serde_json::from_slice(&r.body)
        .map_err(|_| format!("the side channel answered status {} without JSON", r.status))?;
    let events = v
        .get("events")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Ok(events
        .iter()
        .filter(|e| e.get("name").and_then(Value::as_str) == Some("seen"))
        .filter_map(|e| e.get("detail"))
        .map(seen_of)
        .collect())
}

fn seen_of(d: &Value) -> Seen {
    let text = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_string);
    Seen {
        request: 1,
        method: text("method"),
        path: text("path"),
        query: text("query"),
        fields: d
            .get("fields")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default(),
        body: text("body"),
        body_length: d.get("body_length").and_then(Value::as_u64),
        body_error: text("body_error"),
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
