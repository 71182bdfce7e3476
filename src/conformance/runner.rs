//! The runner: sends each case's request, gathers what came back (the
//! response, the probe's observation, side-channel events) and has the judge
//! decide. It never prints; progress goes out over a channel.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::judge::{judge, Exchange, Outcome, Verdict};
use crate::http::{
    latin1_bytes, latin1_string, round_trip, Connection, Framing, HttpError, RequestBody,
    RequestParts, Response, Target, Timeouts,
};
use crate::probe::{ARGS_HEADER, SCENARIO_HEADER, TOKEN_HEADER};
use crate::spec::{Case, LoadedCase};

/// How the runner behaves.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Cases in flight at once.
    pub jobs: usize,
    /// Time for one exchange when the case does not set its own.
    pub case_timeout: Duration,
    /// How long to keep polling the side channel for expected events.
    pub events_wait: Duration,
    /// The prefix of every token the run sends (`RUNID-INDEX`); a fresh one
    /// when absent.
    pub run_id: Option<String>,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            jobs: 4,
            case_timeout: Duration::from_secs(5),
            events_wait: Duration::from_secs(2),
            run_id: None,
        }
    }
}

/// Where the cases go and how to tell whether the server is still there.
pub struct RunTarget<'a> {
    pub target: &'a Target,
    pub base_path: &'a str,
    /// `Some(why)` once the server has exited.
    pub server_gone: &'a (dyn Fn() -> Option<String> + Sync),
}

/// One judged case with its evidence.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub case: LoadedCase,
    pub verdict: Verdict,
    pub elapsed: Duration,
    /// The request as sent (ISO-8859-1 view of the bytes), for reports.
    pub request: String,
    /// The response's status line and headers as received, when there was one.
    pub response_head: Option<String>,
    /// No response came within the case's time limit.
    pub timed_out: bool,
}

/// Progress, for whoever shows it.
#[derive(Debug, Clone)]
pub enum Progress {
    Finished {
        done: usize,
        total: usize,
        id: String,
        outcome: Outcome,
    },
}

/// Runs the cases and returns one result per case, in the order given.
pub fn run_cases(
    cases: &[LoadedCase],
    to: &RunTarget,
    config: &RunnerConfig,
    progress: Option<Sender<Progress>>,
) -> Vec<CaseResult> {
    let run_id = config.run_id.clone().unwrap_or_else(new_run_id);
    let total = cases.len();
    let done = AtomicUsize::new(0);
    let progress = progress.map(Mutex::new);
    let gone: Mutex<Option<String>> = Mutex::new(None);
    let report = |r: &CaseResult| {
        let n = done.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(tx) = &progress {
            if let Ok(tx) = tx.lock() {
                let _ = tx.send(Progress::Finished {
                    done: n,
                    total,
                    id: r.case.case.id.clone(),
                    outcome: r.verdict.outcome,
                });
            }
        }
    };
    let run_one = |index: usize, quiet: bool| -> CaseResult {
        let lc = &cases[index];
        let already_gone = gone.lock().ok().and_then(|g| g.clone());
        let result = match already_gone {
            Some(why) => skipped_after_exit(lc, &why),
            None => {
                let mut r = run_case(lc, to, config, &format!("{run_id}-{index}"));
                let faulted = r.verdict.outcome == Outcome::Error
                    || no_answer_from_server(r.response_head.as_deref());
                if let Some(why) = faulted
                    .then(|| gone_within(to.server_gone, EXIT_GRACE))
                    .flatten()
                {
                    if let Ok(mut g) = gone.lock() {
                        g.get_or_insert(why.clone());
                    }
                    r.verdict.outcome = Outcome::Error;
                    r.verdict.actual = format!("{}; {why}", r.verdict.actual);
                    r.timed_out = false;
                }
                r
            }
        };
        if !quiet {
            report(&result);
        }
        result
    };

    let mut results: Vec<Option<CaseResult>> = vec![None; total];
    let concurrent: Vec<usize> = (0..total).filter(|i| !cases[*i].case.serial).collect();
    let serial: Vec<usize> = (0..total).filter(|i| cases[*i].case.serial).collect();

    let next = AtomicUsize::new(0);
    let slots = Mutex::new(&mut results);
    let retry = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..config.jobs.max(1).min(concurrent.len().max(1)) {
            s.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::SeqCst);
                let Some(&index) = concurrent.get(k) else {
                    break;
                };
                // A case that timed out while others were in flight may only
                // have waited behind them (a one-worker server): it is tried
                // again alone before it counts.
                let r = run_one(index, true);
                if r.timed_out {
                    retry.lock().unwrap().push(index);
                } else {
                    report(&r);
                    slots.lock().unwrap()[index] = Some(r);
                }
            });
        }
    });
    let mut again = retry.into_inner().unwrap();
    again.sort_unstable();
    for index in again.into_iter().chain(serial) {
        results[index] = Some(run_one(index, false));
    }
    results
        .into_iter()
        .map(|r| r.expect("every case ran"))
        .collect()
}

/// A response head that is missing, or a proxy's own 502 or 504: the
/// probe never answers those, so behind nginx they mean the server is gone.
fn no_answer_from_server(head: Option<&str>) -> bool {
    let Some(head) = head else { return true };
    matches!(head.split_whitespace().nth(1), Some("502" | "504"))
}

/// A dying server closes its connections a moment before its process can
/// be reaped; a fault seen in that moment must not count against it.
const EXIT_GRACE: Duration = Duration::from_secs(1);

fn gone_within(
    server_gone: &(dyn Fn() -> Option<String> + Sync),
    grace: Duration,
) -> Option<String> {
    let deadline = Instant::now() + grace;
    loop {
        if let Some(why) = server_gone() {
            return Some(why);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn skipped_after_exit(lc: &LoadedCase, why: &str) -> CaseResult {
    CaseResult {
        case: lc.clone(),
        verdict: Verdict {
            outcome: Outcome::Error,
            expected: lc
                .case
                .expect
                .iter()
                .map(super::judge::describe)
                .collect::<Vec<_>>()
                .join("; "),
            actual: format!("not run: {}", why.lines().next().unwrap_or(why)),
        },
        elapsed: Duration::ZERO,
        request: String::new(),
        response_head: None,
        timed_out: false,
    }
}

/// A token prefix no other run shares.
pub fn new_run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("r{:x}{:x}", std::process::id(), nanos)
}

/// Runs one case: request, observation, events, verdict.
fn run_case(lc: &LoadedCase, to: &RunTarget, config: &RunnerConfig, token: &str) -> CaseResult {
    let case = &lc.case;
    let started = Instant::now();
    let timeout = case
        .timeout_ms
        .map(Duration::from_millis)
        .unwrap_or(config.case_timeout);
    let finish = |exchange: Exchange, request: String, head: Option<String>| CaseResult {
        case: lc.clone(),
        timed_out: matches!(
            exchange,
            Exchange::ServerFault {
                timed_out: true,
                ..
            }
        ),
        verdict: judge(case, &exchange),
        elapsed: started.elapsed(),
        request,
        response_head: head,
    };

    let bytes = match build_request(case, to.target, to.base_path, token) {
        Ok(b) => b,
        Err(what) => return finish(Exchange::HarnessFault { what }, String::new(), None),
    };
    let second_bytes = match &case.second {
        Some(f) => {
            let follow = Case {
                scenario: f.scenario.clone(),
                args: f.args.clone(),
                request: f.request.clone(),
                ..case.clone()
            };
            match build_request(&follow, to.target, to.base_path, &format!("{token}-2")) {
                Ok(b) => Some(b),
                Err(what) => return finish(Exchange::HarnessFault { what }, String::new(), None),
            }
        }
        None => None,
    };
    let mut request_text = excerpt(&bytes, 4096);
    if let Some(b) = &second_bytes {
        request_text.push_str("\n--- second request ---\n");
        request_text.push_str(&excerpt(b, 4096));
    }
    if let Some(n) = case.concurrent {
        return match super::concurrent::talk(case, to, token, timeout, n) {
            Ok((response, observation, wire)) => {
                let head = Some(latin1_string(&response.raw_head));
                let exchange = Exchange::Answered {
                    response,
                    observation,
                    events: None,
                    wire,
                    second: None,
                };
                finish(exchange, request_text, head)
            }
            Err(e) => finish(fault(e, timeout), request_text, None),
        };
    }
    let head = is_head(&case.request);
    let second_head = case.second.as_ref().is_some_and(|f| is_head(&f.request));
    let talk = Talk {
        case,
        first: &bytes,
        second: second_bytes.as_deref(),
        head,
        second_head,
        timeout,
        partial: Default::default(),
    };
    let (response, response_head, wire, second) = match talk.run(to.target) {
        Ok(c) => {
            let head = Some(latin1_string(&c.response.raw_head));
            (c.response, head, c.wire, c.second)
        }
        Err(e @ (HttpError::Closed { .. } | HttpError::Malformed { .. }))
            if case.broken_response_ok =>
        {
            let what = format!("(response cut short: {})", error_chain(&e));
            let cut = if matches!(e, HttpError::Malformed { .. }) {
                "malformed"
            } else {
                "closed"
            };
            // A head that arrived whole before the cut is what the client
            // was told, and the verdict must see its status.
            let partial = talk.partial.borrow();
            let (response, head_text) = match cut_head(&partial) {
                Some(r) => {
                    let text = format!("{}\n{what}", latin1_string(&r.raw_head).trim_end());
                    (r, text)
                }
                None => (cut_response(what.clone()), what),
            };
            (
                response,
                Some(head_text),
                serde_json::json!({ "cut": cut }),
                None,
            )
        }
        Err(e) => return finish(fault(e, timeout), request_text, None),
    };
    let observation = parse_observation(&response.body);
    let mut answered = Exchange::Answered {
        response,
        observation,
        events: None,
        wire,
        second,
    };

    let expects_events = case
        .expect
        .iter()
        .chain(&case.requires)
        .any(|e| e.subject.starts_with("event."));
    if expects_events {
        let wait = case
            .events_wait_ms
            .map(Duration::from_millis)
            .unwrap_or(config.events_wait);
        let deadline = Instant::now() + wait;
        loop {
            let events = read_events(to, token, config.case_timeout);
            let Exchange::Answered { events: slot, .. } = &mut answered else {
                unreachable!("answered exchanges stay answered")
            };
            match events {
                Ok(ev) => *slot = Some(ev),
                Err(what) => {
                    return finish(Exchange::HarnessFault { what }, request_text, response_head)
                }
            }
            // close() may run just after the response is sent: poll until
            // the expectation holds or the wait is over.
            if judge(case, &answered).outcome == Outcome::Pass || Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    finish(answered, request_text, response_head)
}

fn is_head(r: &crate::spec::Request) -> bool {
    r.method
        .as_deref()
        .is_some_and(|m| m.eq_ignore_ascii_case("HEAD"))
        || r.raw.as_deref().is_some_and(|r| r.starts_with("HEAD "))
}

/// What one case's connection carried.
struct Conversation {
    response: Response,
    wire: Value,
    second: Option<Box<(Response, Option<Value>)>>,
}

/// One case's use of a connection: the request (its body held back for
/// `100 Continue` when the case says so), the response, and what followed
/// it on the same connection.
struct Talk<'a> {
    case: &'a Case,
    first: &'a [u8],
    second: Option<&'a [u8]>,
    head: bool,
    second_head: bool,
    timeout: Duration,
    /// What had arrived of a response the server cut short.
    partial: std::cell::RefCell<Vec<u8>>,
}

impl Talk<'_> {
    fn run(&self, target: &Target) -> Result<Conversation, HttpError> {
        let case = self.case;
        let deadline = Instant::now() + self.timeout;
        let mut wire = serde_json::Map::new();
        let mut conn = Connection::open(
            target,
            Timeouts {
                connect: self.timeout.min(Duration::from_secs(5)),
                io: self.timeout,
            },
        )?;
        let pipelined = case.second.as_ref().is_some_and(|f| f.pipelined);
        let sent_at;
        match case.expect_continue_ms {
            Some(ms) => {
                let split = find(self.first, b"\r\n\r\n").map_or(self.first.len(), |i| i + 4);
                conn.send(&self.first[..split])?;
                sent_at = Instant::now();
                let wait_until = (sent_at + Duration::from_millis(ms)).min(deadline);
                poll_until(&mut conn, wait_until, |buf| {
                    find(buf, b"\r\n\r\n").is_some()
                })?;
                if let Some(rest) = self.first.get(split..).filter(|r| !r.is_empty()) {
                    conn.send(rest)?;
                }
            }
            None => {
                let mut bytes = self.first.to_vec();
                if pipelined {
                    bytes.extend_from_slice(self.second.unwrap_or_default());
                }
                conn.send(&bytes)?;
                sent_at = Instant::now();
            }
        }

        if case.watch_first_body || case.disconnect_after_head {
            let body_started = |buf: &[u8]| {
                final_head_end(buf).is_some_and(|end| !case.watch_first_body || buf.len() > end)
            };
            if poll_until(&mut conn, deadline, body_started)? {
                wire.insert(
                    "first_body_ms".into(),
                    Value::from(sent_at.elapsed().as_secs_f64() * 1000.0),
                );
            }
            if case.disconnect_after_head {
                let buf = conn.leftover();
                let end = final_head_end(buf).ok_or(HttpError::Timeout {
                    phase: crate::http::Phase::Headers,
                })?;
                let head = buf[..end].to_vec();
                drop(conn);
                let mut response = cut_response("(disconnected after the head)".into());
                response.status = status_of(&head);
                response.raw_head = head;
                wire.insert("disconnected".into(), Value::Bool(true));
                return Ok(Conversation {
                    response,
                    wire: Value::Object(wire),
                    second: None,
                });
            }
        }

        let mut response = match conn.read_response(self.head, deadline) {
            Ok(r) => r,
            Err(e) => {
                *self.partial.borrow_mut() = conn.leftover().to_vec();
                return Err(e);
            }
        };
        let interim: Vec<Value> = response.interim.iter().map(|i| i.status.into()).collect();
        wire.insert(
            "continue".into(),
            Value::Bool(response.interim.iter().any(|i| i.status == 100)),
        );
        wire.insert("interim".into(), Value::Array(interim));
        wire.insert("version".into(), Value::String(response.version.clone()));
        wire.insert("keep_alive".into(), Value::Bool(response.keep_alive()));

        let linger = case
            .linger_ms
            .map(Duration::from_millis)
            .or((self.head && case.second.is_none()).then_some(HEAD_LINGER));
        if let Some(linger) = linger {
            // RFC 9110 9.3.2: no content in a response to HEAD. A server that
            // sends it anyway leaves bytes behind the head; wait a moment for
            // them and count them as the body the server sent. The same
            // wait catches bytes sent past a Content-Length.
            let _ = conn.wait_closed((Instant::now() + linger).min(deadline));
            let after = conn.leftover().to_vec();
            wire.insert("after_body".into(), Value::String(latin1_string(&after)));
            wire.insert("closed".into(), Value::Bool(conn.peer_closed()));
            if self.head {
                response.body = after;
            }
        }

        let mut second = None;
        if let Some(bytes) = self.second {
            let state = if !pipelined && !response.keep_alive() {
                "not-sent"
            } else {
                let sent = if pipelined { Ok(()) } else { conn.send(bytes) };
                match sent.and_then(|()| conn.read_response(self.second_head, deadline)) {
                    Ok(r) => {
                        let obs = parse_observation(&r.body);
                        second = Some(Box::new((r, obs)));
                        "answered"
                    }
                    Err(HttpError::Closed { received: 0, .. }) => "closed",
                    Err(HttpError::Io {
                        phase: crate::http::Phase::Write,
                        ..
                    }) => "closed",
                    Err(HttpError::Timeout { .. }) => "timeout",
                    Err(e) => {
                        wire.insert("second_error".into(), Value::String(error_chain(&e)));
                        "malformed"
                    }
                }
            };
            wire.insert("second".into(), Value::String(state.into()));
        }
        Ok(Conversation {
            response,
            wire: Value::Object(wire),
            second,
        })
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The end of the first non-1xx response head in `buf`, if it has arrived.
fn final_head_end(buf: &[u8]) -> Option<usize> {
    let mut start = 0;
    loop {
        let end = start + find(&buf[start..], b"\r\n\r\n")? + 4;
        let status = status_of(&buf[start..end]);
        if !(100..200).contains(&status) || status == 101 {
            return Some(end);
        }
        start = end;
    }
}

/// The status code of a response head, 0 when it has none.
fn status_of(head: &[u8]) -> u16 {
    let line = latin1_string(&head[..find(head, b"\r\n").unwrap_or(head.len())]);
    line.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Reads in short steps until `done` holds for what has arrived, the peer
/// closes, or the deadline passes; whether `done` held.
fn poll_until(
    conn: &mut Connection,
    deadline: Instant,
    done: impl Fn(&[u8]) -> bool,
) -> Result<bool, HttpError> {
    loop {
        if done(conn.leftover()) {
            return Ok(true);
        }
        if conn.peer_closed() || Instant::now() >= deadline {
            return Ok(false);
        }
        let step = (Instant::now() + POLL_STEP).min(deadline);
        conn.wait_closed(step)?;
    }
}

/// How often the runner looks at bytes that are still arriving.
const POLL_STEP: Duration = Duration::from_millis(5);

/// How long to watch for content after a HEAD response.
const HEAD_LINGER: Duration = Duration::from_millis(300);

fn fault(e: HttpError, timeout: Duration) -> Exchange {
    match e {
        HttpError::Connect { .. } => Exchange::HarnessFault {
            what: format!("could not connect: {}", error_chain(&e)),
        },
        HttpError::Timeout { phase } => Exchange::ServerFault {
            what: format!(
                "no response within {} ms (waiting for the {phase})",
                timeout.as_millis()
            ),
            timed_out: true,
        },
        HttpError::Closed { phase, received } => Exchange::ServerFault {
            what: format!(
                "the server closed the connection during the {phase}, after {received} bytes of the response"
            ),
            timed_out: false,
        },
        HttpError::Malformed { what } => Exchange::ServerFault {
            what: format!("malformed response: {what}"),
            timed_out: false,
        },
        other => Exchange::ServerFault {
            what: error_chain(&other),
            timed_out: false,
        },
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// The status line and head of a response cut short after its head was
/// complete (interim 1xx heads skipped).
fn cut_head(bytes: &[u8]) -> Option<Response> {
    let mut rest = bytes;
    loop {
        let end = rest
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|i| i + 4)
            .or_else(|| rest.windows(2).position(|w| w == b"\n\n").map(|i| i + 2))?;
        let head = &rest[..end];
        let text = latin1_string(head);
        let mut first = text.lines().next()?.splitn(3, ' ');
        let version = first.next()?.to_string();
        let status: u16 = first.next()?.parse().ok()?;
        if !version.starts_with("HTTP/") {
            return None;
        }
        if (100..200).contains(&status) {
            rest = &rest[end..];
            continue;
        }
        let headers = text
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect();
        return Some(Response {
            version,
            status,
            reason: first.next().unwrap_or("").trim().to_string(),
            headers,
            body: Vec::new(),
            framing: Framing::UntilClose,
            trailers: Vec::new(),
            interim: Vec::new(),
            raw_head: head.to_vec(),
            bare_lf: false,
        });
    }
}

/// Stands in for a response the server cut short on purpose.
fn cut_response(what: String) -> Response {
    Response {
        version: String::new(),
        status: 0,
        reason: what,
        headers: Vec::new(),
        body: Vec::new(),
        framing: Framing::UntilClose,
        trailers: Vec::new(),
        interim: Vec::new(),
        raw_head: Vec::new(),
        bare_lf: false,
    }
}

pub(super) fn parse_observation(body: &[u8]) -> Option<Value> {
    let v: Value = serde_json::from_slice(body).ok()?;
    (v.get("probe").and_then(Value::as_str) == Some("wsgiprobe")).then_some(v)
}

/// Reads back the side-channel events of `token` through the probe itself,
/// so that it works with any number of workers and with `--url`.
fn read_events(to: &RunTarget, token: &str, timeout: Duration) -> Result<Vec<Value>, String> {
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\n{SCENARIO_HEADER}: events\r\n{ARGS_HEADER}: of={token}\r\nConnection: close\r\n\r\n",
        to.base_path,
        to.target.authority()
    );
    let r = round_trip(to.target, request.as_bytes(), false, timeout)
        .map_err(|e| format!("could not read side-channel events: {}", error_chain(&e)))?;
    let v: Value = serde_json::from_slice(&r.body).map_err(|_| {
        format!(
            "side-channel events answered status {} without JSON",
            r.status
        )
    })?;
    Ok(v.get("events")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default())
}

fn excerpt(bytes: &[u8], max: usize) -> String {
    let mut s = latin1_string(&bytes[..bytes.len().min(max)]);
    if bytes.len() > max {
        s.push_str(&format!("... ({} bytes in all)", bytes.len()));
    }
    s
}

/// Joins the gateway's base path and a case's target (`/` + `/a` = `/a`).
fn join_target(base: &str, target: &str) -> String {
    if !target.starts_with('/') {
        return target.to_string();
    }
    format!("{}{}", base.trim_end_matches('/'), target)
}

/// The exact bytes a case sends, control headers included.
pub fn build_request(
    case: &Case,
    target: &Target,
    base_path: &str,
    token: &str,
) -> Result<Vec<u8>, String> {
    let b = |field: &str, s: &str| {
        latin1_bytes(s).map_err(|e| format!("request {field} is not bytes: {e}"))
    };
    let mut control = vec![
        (SCENARIO_HEADER.to_string(), case.scenario.clone()),
        (TOKEN_HEADER.to_string(), token.to_string()),
    ];
    if !case.args.is_empty() {
        let args: Vec<String> = case.args.iter().map(|(k, v)| format!("{k}={v}")).collect();
        control.push((ARGS_HEADER.to_string(), args.join(",")));
    }
    let r = &case.request;
    if let Some(raw) = &r.raw {
        let lines: String = control
            .iter()
            .map(|(k, v)| format!("{k}: {v}\r\n"))
            .collect();
        let text = raw
            .replace("{probe}", &lines)
            .replace("{host}", &target.authority());
        return b("raw", &text);
    }

    let mut headers: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let has = |name: &str| r.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
    if r.host.unwrap_or(true) && !has("host") {
        headers.push((b"Host".to_vec(), target.authority().into_bytes()));
    }
    for (k, v) in &r.headers {
        headers.push((b("header name", k)?, b("header value", v)?));
    }
    for (k, v) in control {
        headers.push((k.into_bytes(), v.into_bytes()));
    }
    let body = match (&r.body, &r.chunked) {
        (Some(body), _) => {
            let body = b("body", body)?;
            if r.content_length.unwrap_or(true) && !has("content-length") {
                headers.push((
                    b"Content-Length".to_vec(),
                    body.len().to_string().into_bytes(),
                ));
            }
            RequestBody::Bytes(body)
        }
        (None, Some(chunks)) => {
            if !has("transfer-encoding") {
                headers.push((b"Transfer-Encoding".to_vec(), b"chunked".to_vec()));
            }
            let chunks = chunks
                .iter()
                .map(|c| b("chunk", c))
                .collect::<Result<Vec<_>, _>>()?;
            RequestBody::Chunked(chunks)
        }
        (None, None) => RequestBody::None,
    };
    let parts = RequestParts {
        method: b("method", r.method.as_deref().unwrap_or("GET"))?,
        target: b(
            "target",
            &join_target(base_path, r.target.as_deref().unwrap_or("/")),
        )?,
        version: b("version", r.version.as_deref().unwrap_or("HTTP/1.1"))?,
        headers,
        body,
    };
    Ok(parts.to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(extra: &str) -> Case {
        toml::from_str(&format!(
            "id = \"environ.t\"\nlevel = \"must\"\nsource = \"s\"\nrequirement = \"r\"\n\
             stimulus = \"x\"\nexpect = [{{ subject = \"status\", equals = 200 }}]\n{extra}"
        ))
        .unwrap()
    }

    fn tcp() -> Target {
        Target::Tcp {
            host: "127.0.0.1".into(),
            port: 8000,
        }
    }

    #[test]
    fn structured_request_bytes() {
        let c = case(
            "args = { mode = \"size\", n = \"5\" }\nscenario = \"read\"\n\
             request = { method = \"POST\", target = \"/caf\\u00e9\", headers = [[\"X-A\", \"1\"]], body = \"hi\" }",
        );
        let bytes = build_request(&c, &tcp(), "/", "tok").unwrap();
        assert_eq!(
            bytes,
            b"POST /caf\xe9 HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nX-A: 1\r\n\
              X-Wsgiprobe-Scenario: read\r\nX-Wsgiprobe-Token: tok\r\n\
              X-Wsgiprobe-Args: mode=size,n=5\r\nContent-Length: 2\r\n\r\nhi"
                .to_vec()
        );
    }

    #[test]
    fn raw_request_fills_placeholders() {
        let c =
            case("request = { raw = \"GET /x HTTP/1.0\\r\\nHost: {host}\\r\\n{probe}\\r\\n\" }");
        let bytes = build_request(&c, &tcp(), "/", "tok").unwrap();
        assert_eq!(
            latin1_string(&bytes),
            "GET /x HTTP/1.0\r\nHost: 127.0.0.1:8000\r\nX-Wsgiprobe-Scenario: environ\r\n\
             X-Wsgiprobe-Token: tok\r\n\r\n"
        );
    }

    #[test]
    fn chunked_body_and_base_path() {
        let c = case("request = { target = \"/a\", chunked = [\"ab\", \"c\"] }");
        let text = latin1_string(&build_request(&c, &tcp(), "/mount/", "t").unwrap());
        assert!(text.starts_with("GET /mount/a HTTP/1.1\r\n"), "{text}");
        assert!(text.contains("Transfer-Encoding: chunked\r\n"));
        assert!(
            text.ends_with("\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n"),
            "{text:?}"
        );
    }

    #[test]
    fn host_can_be_left_out() {
        let c = case("request = { host = false, version = \"HTTP/1.0\" }");
        let text = latin1_string(&build_request(&c, &tcp(), "/", "t").unwrap());
        assert!(!text.contains("Host:"), "{text}");
    }
}
