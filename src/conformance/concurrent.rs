//! Cases that send several requests at once (`concurrent = N`), each on its
//! own connection, to see whether the gateway really invokes the application
//! simultaneously, in one process or in several, and compare that with the
//! `wsgi.multithread`, `wsgi.multiprocess` and `wsgi.run_once` it claims.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::evidence::{parse_observation, Received, WireFacts};
use crate::http::{Connection, HttpError, Response, Target, Timeouts};
use crate::spec::WireFact;

/// Sends each of `requests` (the case's request with tokens `TOKEN-cI`) on
/// a connection of its own, all at once, and returns the first response
/// with the wire fact `concurrency` (see [`summarize`]).
pub(super) fn play(
    target: &Target,
    requests: &[Vec<u8>],
    timeout: Duration,
    max_body: usize,
) -> Result<Received, HttpError> {
    let deadline = Instant::now() + timeout;
    // Every connection is open and every request sent before any response
    // is read, so a gateway that can serve them together does.
    let mut conns = Vec::new();
    for bytes in requests {
        let mut conn = Connection::open(
            target,
            Timeouts {
                connect: timeout.min(Duration::from_secs(5)),
                io: timeout,
            },
        )?;
        conn.limit_body(max_body);
        conn.send(bytes)?;
        conns.push(conn);
    }
    let results: Vec<Result<Response, HttpError>> = std::thread::scope(|s| {
        let handles: Vec<_> = conns
            .into_iter()
            .map(|mut c| s.spawn(move || c.read_response(false, deadline)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("reader thread"))
            .collect()
    });
    let observations: Vec<Option<Value>> = results
        .iter()
        .map(|r| r.as_ref().ok().and_then(|r| parse_observation(&r.body)))
        .collect();
    let mut wire = WireFacts::default();
    wire.set(
        WireFact::Concurrency,
        summarize(&observations, requests.len() as u32),
    );
    let mut first = None;
    let mut first_err = None;
    for r in results {
        match r {
            Ok(resp) if first.is_none() => first = Some(resp),
            Err(e) if first_err.is_none() => first_err = Some(e),
            _ => {}
        }
    }
    match (first, first_err) {
        (Some(response), _) => Ok(Received {
            response,
            wire,
            second: None,
        }),
        (None, Some(e)) => Err(e),
        (None, None) => Err(HttpError::Malformed {
            what: "no request was sent".into(),
        }),
    }
}

/// One request the application answered: which process and thread served
/// it, when it was in the application, and the flags it was told.
struct ServedRequest {
    pid: i64,
    thread: i64,
    from: f64,
    until: f64,
    multithread: Option<bool>,
    multiprocess: Option<bool>,
    run_once: Option<bool>,
}

fn flag(obs: &Value, key: &str) -> Option<bool> {
    obs.pointer(&format!("/environ/{}/value", key.replace('/', "~1")))
        .and_then(Value::as_bool)
}

/// What the concurrent requests showed, for `wire.concurrency.*`:
/// - `requests`, `answered` (with an observation), `processes`, `threads`;
/// - `same_process_overlap`: two requests were in the application at the
///   same time in one process; `cross_process_overlap`: in two processes;
/// - `multithread`, `multiprocess`, `run_once`: the values claimed (an
///   array of the distinct ones);
/// - `multithread_contradicted`: a same-process overlap while some request
///   was told `wsgi.multithread` is false;
/// - `multiprocess_contradicted`: a cross-process overlap while some request
///   was told `wsgi.multiprocess` is false;
/// - `run_once_contradicted`: a request was told `wsgi.run_once` is true and
///   its process ran the application for another request too.
pub fn summarize(observations: &[Option<Value>], n: u32) -> Value {
    let served: Vec<ServedRequest> = observations
        .iter()
        .flatten()
        .filter_map(|o| {
            let h = o.get("held")?;
            Some(ServedRequest {
                pid: o.get("pid")?.as_i64()?,
                thread: o.get("thread")?.as_i64()?,
                from: h.get("from")?.as_f64()?,
                until: h.get("until")?.as_f64()?,
                multithread: flag(o, "wsgi.multithread"),
                multiprocess: flag(o, "wsgi.multiprocess"),
                run_once: flag(o, "wsgi.run_once"),
            })
        })
        .collect();
    let overlap = |a: &ServedRequest, b: &ServedRequest| a.from < b.until && b.from < a.until;
    let mut same = false;
    let mut cross = false;
    for (i, a) in served.iter().enumerate() {
        for b in &served[i + 1..] {
            if overlap(a, b) {
                if a.pid == b.pid {
                    same = true;
                } else {
                    cross = true;
                }
            }
        }
    }
    let mut pids: Vec<i64> = served.iter().map(|h| h.pid).collect();
    pids.sort_unstable();
    pids.dedup();
    let mut threads: Vec<(i64, i64)> = served.iter().map(|h| (h.pid, h.thread)).collect();
    threads.sort_unstable();
    threads.dedup();
    let distinct = |pick: fn(&ServedRequest) -> Option<bool>| {
        let mut v: Vec<bool> = served.iter().filter_map(pick).collect();
        v.sort_unstable();
        v.dedup();
        Value::from(v)
    };
    let any_false =
        |pick: fn(&ServedRequest) -> Option<bool>| served.iter().any(|h| pick(h) == Some(false));
    let run_once_contradicted = served
        .iter()
        .any(|h| h.run_once == Some(true) && served.iter().filter(|o| o.pid == h.pid).count() > 1);
    json!({
        "requests": n,
        "answered": served.len(),
        "processes": pids.len(),
        "threads": threads.len(),
        "same_process_overlap": same,
        "cross_process_overlap": cross,
        "multithread": distinct(|h| h.multithread),
        "multiprocess": distinct(|h| h.multiprocess),
        "run_once": distinct(|h| h.run_once),
        "multithread_contradicted": same && any_false(|h| h.multithread),
        "multiprocess_contradicted": cross && any_false(|h| h.multiprocess),
        "run_once_contradicted": run_once_contradicted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(
        pid: i64,
        thread: i64,
        from: f64,
        until: f64,
        mt: bool,
        mp: bool,
        once: bool,
    ) -> Option<Value> {
        Some(json!({
            "pid": pid, "thread": thread, "held": {"from": from, "until": until},
            "environ": {
                "wsgi.multithread": {"type": "bool", "value": mt},
                "wsgi.multiprocess": {"type": "bool", "value": mp},
                "wsgi.run_once": {"type": "bool", "value": once},
            }
        }))
    }

    #[test]
    fn threads_overlapping_in_one_process_contradict_multithread_false() {
        let s = summarize(
            &[
                obs(1, 10, 0.0, 1.0, false, false, false),
                obs(1, 11, 0.5, 1.5, false, false, false),
            ],
            2,
        );
        assert_eq!(s["same_process_overlap"], true);
        assert_eq!(s["multithread_contradicted"], true);
        assert_eq!(s["multiprocess_contradicted"], false);
        assert_eq!(s["threads"], 2);
        let ok = summarize(
            &[
                obs(1, 10, 0.0, 1.0, true, false, false),
                obs(1, 11, 0.5, 1.5, true, false, false),
            ],
            2,
        );
        assert_eq!(ok["multithread_contradicted"], false);
    }

    #[test]
    fn serialized_requests_contradict_nothing() {
        let s = summarize(
            &[
                obs(1, 10, 0.0, 1.0, false, false, false),
                obs(1, 10, 1.0, 2.0, false, false, false),
            ],
            2,
        );
        assert_eq!(s["same_process_overlap"], false);
        assert_eq!(s["multithread_contradicted"], false);
        assert_eq!(s["multithread"], json!([false]));
    }

    #[test]
    fn processes_overlapping_contradict_multiprocess_false_and_run_once() {
        let s = summarize(
            &[
                obs(1, 10, 0.0, 1.0, false, false, false),
                obs(2, 10, 0.5, 1.5, false, false, false),
                None,
            ],
            3,
        );
        assert_eq!(s["cross_process_overlap"], true);
        assert_eq!(s["multiprocess_contradicted"], true);
        assert_eq!(s["answered"], 2);
        assert_eq!(s["processes"], 2);
        let once = summarize(
            &[
                obs(1, 10, 0.0, 1.0, false, false, true),
                obs(1, 10, 1.0, 2.0, false, false, true),
            ],
            2,
        );
        assert_eq!(once["run_once_contradicted"], true);
        let once_each = summarize(
            &[
                obs(1, 10, 0.0, 1.0, false, true, true),
                obs(2, 10, 1.0, 2.0, false, true, true),
            ],
            2,
        );
        assert_eq!(once_each["run_once_contradicted"], false);
    }
}
