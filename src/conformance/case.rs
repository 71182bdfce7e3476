//! One case, from its requests to its evidence: builds the bytes it sends,
//! plays its stimulus, reads back its side-channel events, and hands the
//! [`Exchange`] over for the verdict.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::config::{RunTarget, RunnerConfig};
use super::evidence::{parse_observation, Exchange, Received, WireFacts};
use super::exchange::{self, error_chain, Failed, Requests};
use super::judge::{judge, Outcome};
use super::request::{build_request, excerpt, followup_case};
use crate::http::{
    latin1_string, parse_final_head, round_trip_capped, Framing, HttpError, Response,
};
use crate::probe::{ARGS_HEADER, SCENARIO_HEADER};
use crate::spec::{Case, LoadedCase, Stimulus, WireFact};

/// What playing one case produced.
pub(super) struct Played {
    pub exchange: Exchange,
    /// The request as sent (ISO-8859-1 view of the bytes), for reports.
    pub request: String,
    /// The response's status line and headers as received, when there was one.
    pub response_head: Option<String>,
}

/// The time limit of one exchange of the case: its own, or the run's.
pub(super) fn case_limit(case: &Case, config: &RunnerConfig) -> Duration {
    case.timeout_ms
        .map(Duration::from_millis)
        .unwrap_or(config.case_timeout)
}

/// Plays one case: request, stimulus, events.
pub(super) fn play_case(
    lc: &LoadedCase,
    to: &RunTarget,
    config: &RunnerConfig,
    token: &str,
) -> Played {
    let case = &lc.case;
    let timeout = case_limit(case, config);
    let unsent = |what: String| Played {
        exchange: Exchange::HarnessFault { what },
        request: String::new(),
        response_head: None,
    };
    let build = |case: &Case, token: &str| build_request(case, to.target, to.base_path, token);

    let first = match build(case, token) {
        Ok(b) => b,
        Err(what) => return unsent(what),
    };
    let second = match lc.stimulus.second() {
        Some(f) => match build(&followup_case(case, f), &format!("{token}-2")) {
            Ok(b) => Some((b, f.request.is_head())),
            Err(what) => return unsent(what),
        },
        None => None,
    };
    let copies = match lc.stimulus {
        Stimulus::Concurrent { n } => {
            match (0..n)
                .map(|i| build(case, &format!("{token}-c{i}")))
                .collect()
            {
                Ok(c) => c,
                Err(what) => return unsent(what),
            }
        }
        _ => Vec::new(),
    };
    let mut request = excerpt(&first, 4096);
    if let Some((b, _)) = &second {
        request.push_str("\n--- second request ---\n");
        request.push_str(&excerpt(b, 4096));
    }
    let source = case
        .source_address
        .and_then(|s| super::deploy::source_address(to.target, s));
    let requests = Requests {
        first,
        first_is_head: case.request.is_head(),
        second,
        copies,
    };

    let (received, response_head) = match exchange::play(
        to.target,
        source,
        &lc.stimulus,
        &requests,
        timeout,
        config.max_body,
    ) {
        Ok(r) => {
            let head = latin1_string(&r.response.raw_head);
            (r, Some(head))
        }
        Err(Failed {
            error: e @ (HttpError::Closed { .. } | HttpError::Malformed { .. }),
            partial,
            wire,
        }) if case.broken_response_ok => cut_short(e, &partial, wire),
        Err(Failed { error, .. }) => {
            return Played {
                exchange: fault(error, timeout),
                request,
                response_head: None,
            }
        }
    };
    let observation = parse_observation(&received.response.body);
    let mut answered = Exchange::Answered {
        response: received.response,
        observation,
        events: None,
        wire: received.wire,
        second: received.second,
    };

    if case.reads_events() {
        let wait = case
            .events_wait_ms
            .map(Duration::from_millis)
            .unwrap_or(config.events_wait);
        let deadline = Instant::now() + wait;
        loop {
            let events = read_events(to, token, config);
            let Exchange::Answered { events: slot, .. } = &mut answered else {
                unreachable!("answered exchanges stay answered")
            };
            match events {
                Ok(ev) => *slot = Some(ev),
                Err(what) => {
                    return Played {
                        exchange: Exchange::HarnessFault { what },
                        request,
                        response_head,
                    }
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
    Played {
        exchange: answered,
        request,
        response_head,
    }
}

/// A response the case allows the server to break (the application raises
/// mid-body): what arrived counts, and `wire.cut` says how it ended. A
/// head that arrived whole before the cut is what the client was told, and
/// the verdict must see its status; so must a status line that arrived
/// alone, the rest of its head never sent.
fn cut_short(e: HttpError, partial: &[u8], mut wire: WireFacts) -> (Received, Option<String>) {
    let what = format!("(response cut short: {})", error_chain(&e));
    let cut = if matches!(e, HttpError::Malformed { .. }) {
        "malformed"
    } else {
        "closed"
    };
    let (response, head_text) = match parse_final_head(partial) {
        Ok(Some(head)) => {
            let text = format!(
                "{}\n{what}",
                latin1_string(&head.response.raw_head).trim_end()
            );
            (head.response, text)
        }
        _ => match status_line_alone(partial) {
            Some((line, response)) => (response, format!("{line}\n{what}")),
            None => (no_response(what.clone()), what),
        },
    };
    wire.set(WireFact::Cut, cut);
    let received = Received {
        response,
        wire,
        second: None,
    };
    (received, Some(head_text))
}

/// A status line that arrived without the rest of its head (the server
/// broke off while writing the head): the line as text, and a response that
/// carries its status and no headers.
fn status_line_alone(partial: &[u8]) -> Option<(String, Response)> {
    let end = partial.iter().position(|b| *b == b'\n')?;
    let line = latin1_string(&partial[..end]);
    let line = line.trim_end_matches('\r');
    let mut words = line.splitn(3, ' ');
    let version = words.next().filter(|v| v.starts_with("HTTP/1."))?;
    let status = words
        .next()
        .filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_digit()))?
        .parse()
        .ok()?;
    let reason = words.next().unwrap_or("").to_string();
    let response = Response {
        version: version.to_string(),
        status,
        reason,
        ..no_response(String::new())
    };
    Some((line.to_string(), response))
}

/// Stands in for a response of which no head arrived.
fn no_response(what: String) -> Response {
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

/// What a failed exchange says about the server (or the harness).
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
        // A body past the limit is not a fault of the server as such: the
        // case cannot be decided on what was kept.
        HttpError::BodyTooLarge { limit } => Exchange::HarnessFault {
            what: format!(
                "the response body went past {limit} bytes, the most wsgiprobe keeps of one; \
                 raise --max-body if the server really sends that much"
            ),
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

/// Reads back the side-channel events of `token` through the probe itself,
/// so that it works with any number of workers and with `--url`.
fn read_events(to: &RunTarget, token: &str, config: &RunnerConfig) -> Result<Vec<Value>, String> {
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\n{SCENARIO_HEADER}: events\r\n{ARGS_HEADER}: of={token}\r\nConnection: close\r\n\r\n",
        to.base_path,
        to.target.authority()
    );
    let r = round_trip_capped(
        to.target,
        request.as_bytes(),
        false,
        config.case_timeout,
        config.max_body,
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_line_that_arrived_alone_is_what_the_client_was_told() {
        let (line, r) = status_line_alone(b"HTTP/1.0 200 OK\r\nDate: x\r\n").unwrap();
        assert_eq!(line, "HTTP/1.0 200 OK");
        assert_eq!((r.status, r.reason.as_str()), (200, "OK"));
        assert!(r.headers.is_empty());
        assert!(
            status_line_alone(b"HTTP/1.0 200 OK").is_none(),
            "no line end yet"
        );
        assert!(status_line_alone(b"garbage\r\n").is_none());
        let cut = HttpError::Closed {
            phase: crate::http::Phase::Headers,
            received: 27,
        };
        let (received, head) = cut_short(
            cut,
            b"HTTP/1.0 200 OK\r\nServer: x\r\n",
            WireFacts::default(),
        );
        assert_eq!(received.response.status, 200);
        assert_eq!(received.wire.get(WireFact::Cut), Some(&"closed".into()));
        assert!(head
            .unwrap()
            .starts_with("HTTP/1.0 200 OK\n(response cut short"));
    }
}
