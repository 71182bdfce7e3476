//! The exchange: what goes on the connection for one case. It plays the
//! case's [`Stimulus`] (the request, held back for `100 Continue`, pipelined
//! with a second one, cut off after the head, ...), reads what came back and
//! records the wire facts. Judging is not its business.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::concurrent;
use super::evidence::{parse_observation, Received, WireFacts};
use crate::http::{
    head_arrived, latin1_string, parse_final_head, Connection, HttpError, Phase, Response, Target,
    Timeouts,
};
use crate::spec::{ReadOptions, Stimulus, WireFact};

/// The request bytes a stimulus sends.
pub(super) struct Requests {
    pub first: Vec<u8>,
    /// The first request is HEAD: its response has no body.
    pub first_is_head: bool,
    /// The second request and whether it is HEAD, for stimuli with one.
    pub second: Option<(Vec<u8>, bool)>,
    /// The copies a concurrent stimulus sends, each with its own token.
    pub copies: Vec<Vec<u8>>,
}

/// An exchange that went wrong, with what had arrived of a response the
/// server cut short (empty when the failure came before or after it) and
/// the wire facts recorded before it broke off.
pub(super) struct Failed {
    pub error: HttpError,
    pub partial: Vec<u8>,
    pub wire: WireFacts,
}

impl From<HttpError> for Failed {
    fn from(error: HttpError) -> Failed {
        Failed {
            error,
            partial: Vec::new(),
            wire: WireFacts::default(),
        }
    }
}

/// Plays a stimulus against `target` within `timeout`, keeping at most
/// `max_body` body bytes of each response, from `source` when the case
/// binds the client's end.
pub(super) fn play(
    target: &Target,
    source: Option<IpAddr>,
    stimulus: &Stimulus,
    requests: &Requests,
    timeout: Duration,
    max_body: usize,
) -> Result<Received, Failed> {
    let open = |target: &Target, source: Option<IpAddr>, timeout: Duration| {
        open(target, source, timeout, max_body)
    };
    let read = match stimulus {
        Stimulus::Concurrent { .. } => {
            return Ok(concurrent::play(
                target,
                &requests.copies,
                timeout,
                max_body,
            )?)
        }
        Stimulus::DisconnectAfterHead { watch_first_body } => {
            let deadline = Instant::now() + timeout;
            let mut conn = open(target, source, timeout)?;
            conn.send(&requests.first)?;
            return Ok(hang_up_after_head(
                conn,
                Instant::now(),
                *watch_first_body,
                deadline,
            )?);
        }
        Stimulus::Single { read }
        | Stimulus::ExpectContinue { read, .. }
        | Stimulus::Pipelined { read, .. }
        | Stimulus::AfterResponse { read, .. } => *read,
    };

    let deadline = Instant::now() + timeout;
    let mut conn = open(target, source, timeout)?;
    let sent_at = match stimulus {
        Stimulus::ExpectContinue { wait, .. } => {
            send_holding_body(&mut conn, &requests.first, *wait, deadline)?
        }
        Stimulus::Pipelined { .. } => {
            let second = requests.second.as_ref().map_or(&[][..], |(b, _)| b);
            conn.send(&[&requests.first[..], second].concat())?;
            Instant::now()
        }
        _ => {
            conn.send(&requests.first)?;
            Instant::now()
        }
    };
    let mut wire = WireFacts::default();
    let response = match read_first(
        &mut conn,
        &mut wire,
        read,
        requests.first_is_head,
        sent_at,
        deadline,
    ) {
        Ok(r) => r,
        Err(failed) => return Err(Failed { wire, ..failed }),
    };
    let second = match (stimulus, &requests.second) {
        (Stimulus::Pipelined { .. }, Some((_, head))) => {
            read_second(&mut conn, None, *head, deadline, &mut wire)
        }
        (Stimulus::AfterResponse { .. }, Some((bytes, head))) if response.keep_alive() => {
            read_second(&mut conn, Some(bytes), *head, deadline, &mut wire)
        }
        (Stimulus::AfterResponse { .. }, Some(_)) => {
            wire.set(WireFact::Second, "not-sent");
            None
        }
        _ => None,
    };
    Ok(Received {
        response,
        wire,
        second,
    })
}

fn open(
    target: &Target,
    source: Option<IpAddr>,
    timeout: Duration,
    max_body: usize,
) -> Result<Connection, HttpError> {
    let mut conn = Connection::open_from(
        target,
        Timeouts {
            connect: timeout.min(Duration::from_secs(5)),
            io: timeout,
        },
        source,
    )?;
    conn.limit_body(max_body);
    Ok(conn)
}

/// Sends the request head alone, waits up to `wait` for a response head (a
/// `100 Continue`, or a final answer), then the body; returns when the head
/// went out.
fn send_holding_body(
    conn: &mut Connection,
    request: &[u8],
    wait: Duration,
    deadline: Instant,
) -> Result<Instant, HttpError> {
    let split = find(request, b"\r\n\r\n").map_or(request.len(), |i| i + 4);
    conn.send(&request[..split])?;
    let sent_at = Instant::now();
    poll_until(conn, (sent_at + wait).min(deadline), head_arrived)?;
    if let Some(rest) = request.get(split..).filter(|r| !r.is_empty()) {
        conn.send(rest)?;
    }
    Ok(sent_at)
}

/// Reads the first response and records what it showed.
fn read_first(
    conn: &mut Connection,
    wire: &mut WireFacts,
    read: ReadOptions,
    head_request: bool,
    sent_at: Instant,
    deadline: Instant,
) -> Result<Response, Failed> {
    let mut head_at = None;
    if read.watch_head {
        // Ends early on a head that cannot be parsed: reading the response
        // reports it.
        let head_done = |buf: &[u8]| !matches!(parse_final_head(buf), Ok(None));
        if poll_until(conn, deadline, head_done)? && parse_final_head(conn.leftover()).is_ok() {
            head_at = Some(Instant::now());
        }
    }
    if read.watch_first_body {
        let body_started = |buf: &[u8]| match parse_final_head(buf) {
            Ok(Some(head)) => buf.len() > head.end,
            Ok(None) => false,
            // Nothing to wait for: reading the response reports it.
            Err(_) => true,
        };
        if poll_until(conn, deadline, body_started)? {
            wire.set(WireFact::FirstBodyMs, millis_since(sent_at));
        }
    }
    let result = conn.read_response(head_request, deadline);
    if let Some(at) = head_at {
        wire.set(WireFact::HeadToEndMs, millis_since(at));
    }
    let mut response = result.map_err(|error| Failed {
        error,
        partial: conn.leftover().to_vec(),
        wire: WireFacts::default(),
    })?;
    let interim: Vec<Value> = response.interim.iter().map(|i| i.status.into()).collect();
    wire.set(
        WireFact::Continue,
        response.interim.iter().any(|i| i.status == 100),
    );
    wire.set(WireFact::Interim, interim);
    wire.set(WireFact::Version, response.version.clone());
    wire.set(WireFact::KeepAlive, response.keep_alive());

    if let Some(linger) = read.linger {
        // RFC 9110 9.3.2: no content in a response to HEAD. A server that
        // sends it anyway leaves bytes behind the head; wait a moment for
        // them and count them as the body the server sent. The same wait
        // catches bytes sent past a Content-Length.
        let _ = conn.wait_closed((Instant::now() + linger).min(deadline));
        let after = conn.leftover().to_vec();
        wire.set(WireFact::AfterBody, latin1_string(&after));
        wire.set(WireFact::Closed, conn.peer_closed());
        if head_request {
            response.body = after;
        }
    }
    Ok(response)
}

/// Sends the second request (unless it went out with the first) and reads
/// its response; `wire.second` says what became of it.
fn read_second(
    conn: &mut Connection,
    send: Option<&[u8]>,
    head_request: bool,
    deadline: Instant,
    wire: &mut WireFacts,
) -> Option<Box<(Response, Option<Value>)>> {
    let sent = send.map_or(Ok(()), |bytes| conn.send(bytes));
    let (state, second) = match sent.and_then(|()| conn.read_response(head_request, deadline)) {
        Ok(r) => {
            let observation = parse_observation(&r.body);
            ("answered", Some(Box::new((r, observation))))
        }
        Err(HttpError::Closed { received: 0, .. })
        | Err(HttpError::Io {
            phase: Phase::Write,
            ..
        }) => ("closed", None),
        Err(HttpError::Timeout { .. }) => ("timeout", None),
        Err(e) => {
            wire.set(WireFact::SecondError, error_chain(&e));
            ("malformed", None)
        }
    };
    let seen = match state {
        "answered" => true,
        "closed" => false,
        _ => {
            // Stray bytes came first: wait a moment for the rest, then look
            // for the second response behind them.
            let _ = conn.wait_closed((Instant::now() + SECOND_SEEN_WAIT).min(deadline));
            has_status_line(conn.leftover())
        }
    };
    wire.set(WireFact::Second, state);
    wire.set(WireFact::SecondSeen, seen);
    second
}

/// How long to keep reading after a second response that did not parse,
/// to see whether one follows the stray bytes.
const SECOND_SEEN_WAIT: Duration = Duration::from_millis(300);

/// Whether an HTTP/1.x status line starts these bytes or any line in them.
fn has_status_line(bytes: &[u8]) -> bool {
    let starts = |at: &[u8]| {
        at.starts_with(b"HTTP/1.")
            && at.len() >= 12
            && at[8] == b' '
            && at[9..12].iter().all(u8::is_ascii_digit)
    };
    starts(bytes)
        || bytes
            .iter()
            .enumerate()
            .any(|(i, b)| *b == b'\n' && starts(&bytes[i + 1..]))
}

/// Waits for the response head (and the first body byte when watching),
/// then drops the connection.
fn hang_up_after_head(
    mut conn: Connection,
    sent_at: Instant,
    watch_first_body: bool,
    deadline: Instant,
) -> Result<Received, HttpError> {
    let mut wire = WireFacts::default();
    let arrived = |buf: &[u8]| match parse_final_head(buf) {
        Ok(Some(head)) => !watch_first_body || buf.len() > head.end,
        Ok(None) => false,
        Err(_) => true,
    };
    if poll_until(&mut conn, deadline, arrived)? {
        // Without watch_first_body this is the time to the end of the head.
        wire.set(WireFact::FirstBodyMs, millis_since(sent_at));
    }
    let response = parse_final_head(conn.leftover())
        .map_err(|what| HttpError::Malformed { what })?
        .ok_or(HttpError::Timeout {
            phase: Phase::Headers,
        })?
        .response;
    drop(conn);
    wire.set(WireFact::Disconnected, true);
    Ok(Received {
        response,
        wire,
        second: None,
    })
}

fn millis_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
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

/// How often the exchange looks at bytes that are still arriving.
const POLL_STEP: Duration = Duration::from_millis(5);

/// An error with its causes, on one line.
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::has_status_line;

    #[test]
    fn a_status_line_is_found_behind_stray_bytes() {
        assert!(has_status_line(b"HTTP/1.1 200 OK\r\n"));
        assert!(has_status_line(
            b"chunk-1\nchunk-2\nHTTP/1.0 404 Not Found\r\n"
        ));
        assert!(!has_status_line(b"chunk-1\nchunk-2\n"));
        assert!(!has_status_line(b"xHTTP/1.1 200 OK\r\n"));
        assert!(!has_status_line(b"HTTP/1.1 2x0 OK\r\n"));
    }
}
