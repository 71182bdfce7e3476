//! Where a finished request is recorded: [`Recorder::finish`] is the one
//! function every request passes through when it ends, however it ends.
//! It writes into [`Totals`], which each worker fills on its own and
//! [`Totals::merge`] adds up into the run's result.

use std::fmt;
use std::io;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::parse::ParseError;
use super::stats::{
    self, latency_histogram, micros, timeline_histogram, Connections, ErrorKind, Errors,
    SecondSnapshot,
};
use crate::cancel::Cancel;

/// What one worker thread, or the whole run, measured.
#[derive(Debug)]
pub struct Totals {
    /// Latency from when each request was due (open model) or sent (closed), µs.
    pub corrected: Histogram<u64>,
    /// Latency from when each request actually went out (service time), µs.
    pub uncorrected: Histogram<u64>,
    /// Open model: how late requests went out on connections that were free
    /// (the generator's own lag), µs.
    pub sched_lag: Histogram<u64>,
    /// Measured requests that ended: answered, failed, timed out or given up.
    pub requests: u64,
    /// Of those, the ones answered as they should be.
    pub ok: u64,
    pub errors: Errors,
    pub connections: Connections,
    /// Requests started on a connection in all, warm-up and validation included.
    pub sent_total: u64,
    pub bytes_read: u64,
    /// Open model: most due requests that waited for a free connection at
    /// once; summed over workers when merged (each has its own queue).
    pub max_backlog: u64,
    /// CPU time of the worker threads (summed when merged).
    pub cpu: Duration,
    /// A worker's CPU time over its wall time; the busiest one's when merged.
    pub busiest_thread: f64,
    /// When the last measured response came in (ends a counted run's window).
    pub last_response: Option<Instant>,
    /// The first error seen, as `kind: detail`, for the user.
    pub first_error: Option<String>,
    /// Measured requests answered, by status code (any status, 2xx or not).
    pub statuses: StatusCounts,
    /// Responses received in all, warm-up included (the window's count is
    /// the difference between two readings).
    pub responses_total: u64,
    /// What happened inside the measured window only.
    pub window: Window,
    /// When the run was cancelled (a signal), if it was.
    pub cancelled_at: Option<Instant>,
}

/// Counts per HTTP status code; a handful of codes at most, so a short list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusCounts(Vec<(u16, u64)>);

impl StatusCounts {
    pub fn add(&mut self, status: u16, n: u64) {
        match self.0.iter_mut().find(|(s, _)| *s == status) {
            Some((_, count)) => *count += n,
            None => self.0.push((status, n)),
        }
    }

    /// `(status, count)`, by status.
    pub fn sorted(&self) -> Vec<(u16, u64)> {
        let mut v = self.0.clone();
        v.sort_unstable();
        v
    }

    pub fn merge(&mut self, other: &StatusCounts) {
        for (s, n) in &other.0 {
            self.add(*s, *n);
        }
    }
}

/// What a worker did between the start and the end of the measured window:
/// the difference of two readings of its running counters, so warm-up
/// connections and responses that come in after the window never count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    /// Responses received (complete, any status).
    pub responses: u64,
    pub bytes_read: u64,
    /// Requests started on a connection.
    pub sent: u64,
    /// Connections opened and closed during the window.
    pub connections: Connections,
    /// Connections already open when the window began (from the warm-up).
    pub open_at_start: u64,
}

impl Window {
    pub fn merge(&mut self, o: &Window) {
        self.responses += o.responses;
        self.bytes_read += o.bytes_read;
        self.sent += o.sent;
        self.connections.merge(&o.connections);
        self.open_at_start += o.open_at_start;
    }
}

/// A reading of a worker's running counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reading {
    responses: u64,
    bytes_read: u64,
    sent: u64,
    connections: Connections,
    open: u64,
}

impl Reading {
    /// The counters of `t` now, with `open` connections open.
    pub fn of(t: &Totals, open: u64) -> Reading {
        Reading {
            responses: t.responses_total,
            bytes_read: t.bytes_read,
            sent: t.sent_total,
            connections: t.connections,
            open,
        }
    }

    /// What happened between `self` and the later reading `end`.
    pub fn until(&self, end: &Reading) -> Window {
        let c = |a: u64, b: u64| b.saturating_sub(a);
        Window {
            responses: c(self.responses, end.responses),
            bytes_read: c(self.bytes_read, end.bytes_read),
            sent: c(self.sent, end.sent),
            connections: Connections {
                opened: c(self.connections.opened, end.connections.opened),
                closed_by_server: c(
                    self.connections.closed_by_server,
                    end.connections.closed_by_server,
                ),
                retried_after_close: c(
                    self.connections.retried_after_close,
                    end.connections.retried_after_close,
                ),
                closed_by_client: c(
                    self.connections.closed_by_client,
                    end.connections.closed_by_client,
                ),
            },
            open_at_start: self.open,
        }
    }
}

impl Default for Totals {
    fn default() -> Self {
        Totals {
            corrected: latency_histogram(),
            uncorrected: latency_histogram(),
            sched_lag: latency_histogram(),
            requests: 0,
            ok: 0,
            errors: Errors::default(),
            connections: Connections::default(),
            sent_total: 0,
            bytes_read: 0,
            max_backlog: 0,
            cpu: Duration::ZERO,
            busiest_thread: 0.0,
            last_response: None,
            first_error: None,
            statuses: StatusCounts::default(),
            responses_total: 0,
            window: Window::default(),
            cancelled_at: None,
        }
    }
}

impl Totals {
    /// Adds `other` in: counts and histograms add up, the busiest thread and
    /// the last response are the later or larger, the first error is kept.
    pub fn merge(&mut self, other: &Totals) {
        stats::merge(&mut self.corrected, &other.corrected);
        stats::merge(&mut self.uncorrected, &other.uncorrected);
        stats::merge(&mut self.sched_lag, &other.sched_lag);
        self.requests += other.requests;
        self.ok += other.ok;
        self.errors.merge(&other.errors);
        self.connections.merge(&other.connections);
        self.sent_total += other.sent_total;
        self.bytes_read += other.bytes_read;
        self.max_backlog += other.max_backlog;
        self.cpu += other.cpu;
        self.busiest_thread = self.busiest_thread.max(other.busiest_thread);
        self.last_response = self.last_response.max(other.last_response);
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
        self.statuses.merge(&other.statuses);
        self.responses_total += other.responses_total;
        self.window.merge(&other.window);
        self.cancelled_at = match (self.cancelled_at, other.cancelled_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    /// Requests that got a complete response, 2xx or not (those whose
    /// latency is the server's answer rather than a failure's).
    pub fn answered(&self) -> u64 {
        self.ok + self.errors.get(ErrorKind::Status) + self.errors.get(ErrorKind::Body)
    }

    /// Requests that were started on a connection: `requests` less those
    /// given up unsent, which the server never saw and so are no throughput.
    pub fn started(&self) -> u64 {
        self.requests - self.errors.get(ErrorKind::Unsent)
    }
}

/// Why a request failed. Kept as data, so that failing requests allocate
/// nothing; only the first one is turned into text.
#[derive(Debug)]
pub enum Failure {
    /// The connection for it could not be opened.
    Connect(io::Error),
    /// No complete response within the timeout (carried here).
    Timeout(Duration),
    /// A complete response, not 2xx.
    Status(u16),
    /// A complete response whose body had the wrong length.
    BodyLength { got: u64, want: usize },
    /// A complete response whose sampled body bytes were wrong.
    BodyBytes,
    /// The server closed or reset the connection before the response was complete.
    Closed(io::Error),
    /// The response was not valid HTTP/1.x.
    Malformed(ParseError),
    /// The response head did not fit the read buffer (of this many bytes).
    HeadTooLarge(usize),
    /// This many bytes followed a complete response nobody asked for.
    Trailing(usize),
    /// Another socket error.
    Io(io::Error),
    /// Open model: still waiting for a free connection when the run ended.
    Unsent,
}

impl Failure {
    /// The kind it is counted under.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Failure::Connect(_) => ErrorKind::Connect,
            Failure::Timeout(_) => ErrorKind::Timeout,
            Failure::Status(_) => ErrorKind::Status,
            Failure::BodyLength { .. } | Failure::BodyBytes => ErrorKind::Body,
            Failure::Closed(_) => ErrorKind::Closed,
            Failure::Malformed(_) | Failure::HeadTooLarge(_) | Failure::Trailing(_) => {
                ErrorKind::Parse
            }
            Failure::Io(_) => ErrorKind::Io,
            Failure::Unsent => ErrorKind::Unsent,
        }
    }

    /// Whether a complete response came back (so the connection can carry on).
    pub fn answered(&self) -> bool {
        matches!(
            self,
            Failure::Status(_) | Failure::BodyLength { .. } | Failure::BodyBytes
        )
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Connect(e) | Failure::Closed(e) | Failure::Io(e) => write!(f, "{e}"),
            Failure::Timeout(after) => write!(f, "no response within {after:?}"),
            Failure::Status(s) => write!(f, "status {s}"),
            Failure::BodyLength { got, want } => {
                write!(f, "body of {got} bytes, expected {want}")
            }
            Failure::BodyBytes => f.write_str("body bytes differ from the workload's"),
            Failure::Malformed(e) => write!(f, "malformed response: {e}"),
            Failure::HeadTooLarge(n) => write!(f, "response head larger than {n} bytes"),
            Failure::Trailing(n) => write!(f, "{n} bytes after the end of a response"),
            Failure::Unsent => f.write_str("no free connection before the run ended"),
        }
    }
}

/// A worker's record: its [`Totals`] and the second of the timeline in
/// progress, sent to the collector as each second ends.
pub struct Recorder {
    pub totals: Totals,
    measure_start: Instant,
    /// Once set, nothing more is recorded: the signal handler is stopping
    /// the servers, and what fails from then on is its doing.
    cancel: Cancel,
    worker: usize,
    tx: Option<Sender<SecondSnapshot>>,
    /// The timeline's current second (since `measure_start`) and what ended in it.
    second: u64,
    sec_latency: Histogram<u64>,
    sec_requests: u64,
    sec_errors: u64,
}

impl Recorder {
    pub fn new(
        worker: usize,
        measure_start: Instant,
        cancel: Cancel,
        tx: Option<Sender<SecondSnapshot>>,
    ) -> Recorder {
        Recorder {
            totals: Totals::default(),
            measure_start,
            cancel,
            worker,
            tx,
            second: 0,
            sec_latency: timeline_histogram(),
            sec_requests: 0,
            sec_errors: 0,
        }
    }

    /// Records a request that ended at `now`: the one place every request
    /// passes through when it ends, answered (2xx or not), failed, timed
    /// out, or given up. `intended` is when it was due (open model) or
    /// started (closed); `sent` is when it was started on a connection;
    /// `status` is the answer's status code, when there was an answer.
    /// Requests due before the measured window (warm-up) are ignored here,
    /// but for the count of responses the window's throughput reads.
    ///
    /// A measured request adds one to `requests`, one to `ok` or to its
    /// error kind, and its latency from `intended` to `corrected` and to the
    /// timeline's second, so `requests == ok + errors == corrected.len()`
    /// always holds; every request that was sent also adds its service time
    /// (from `sent`) to `uncorrected`.
    ///
    /// - A timeout is recorded at the timeout (`sent` + timeout), not when
    ///   the housekeeping tick noticed it: the tail is exact and never vanishes.
    /// - Errors before any byte went out are requests too, deliberately: they
    ///   are what the stack did to a request that was due. A connect failure
    ///   ends a request that was started on a connection whose connect
    ///   failed; it is recorded when the failure was seen, its service time
    ///   counting from the connect attempt. An open-model request that never
    ///   found a free connection before the run ended (`Unsent`, `sent` is
    ///   `None`) is recorded at the latency it had reached and has no
    ///   service time, so `uncorrected` holds every request but those; as the
    ///   server never saw it, it is left out of the rate ([`Totals::started`]).
    ///
    /// Nothing else in the engine touches `requests`, `ok`, `errors`, the
    /// two latency histograms or the timeline's counts.
    pub fn finish(
        &mut self,
        intended: Instant,
        sent: Option<Instant>,
        now: Instant,
        status: Option<u16>,
        result: &Result<(), Failure>,
    ) {
        self.finish_n(intended, sent, now, status, result, 1);
    }

    /// Records `n` requests that ended alike, as `n` calls of
    /// [`Recorder::finish`] would: how a backlog of requests given up unsent
    /// is recorded in one step per histogram bucket rather than one per
    /// request (their latencies, all within one bucket, are recorded at
    /// that of the oldest). A run that falls far behind still ends at once.
    pub fn finish_n(
        &mut self,
        intended: Instant,
        sent: Option<Instant>,
        now: Instant,
        status: Option<u16>,
        result: &Result<(), Failure>,
        n: u64,
    ) {
        if self.cancel.is_set() {
            return;
        }
        if status.is_some() {
            self.totals.responses_total += n;
        }
        if intended < self.measure_start || n == 0 {
            return;
        }
        if let Some(s) = status {
            self.totals.statuses.add(s, n);
        }
        let ended = match (result, sent) {
            (Err(Failure::Timeout(after)), Some(sent)) => sent + *after,
            _ => now,
        };
        let corrected = micros(ended.saturating_duration_since(intended));
        self.roll_second(now);
        self.sec_requests += n;
        let _ = self.sec_latency.record_n(corrected, n);
        let t = &mut self.totals;
        t.requests += n;
        let _ = t.corrected.record_n(corrected, n);
        if let Some(sent) = sent {
            let _ = t
                .uncorrected
                .record_n(micros(ended.saturating_duration_since(sent)), n);
        }
        let answered = match result {
            Ok(()) => {
                t.ok += n;
                true
            }
            Err(failure) => {
                let kind = failure.kind();
                t.errors.add_n(kind, n);
                self.sec_errors += n;
                if t.first_error.is_none() {
                    t.first_error = Some(format!("{}: {failure}", kind.as_str()));
                }
                failure.answered()
            }
        };
        if answered {
            t.last_response = Some(now);
        }
    }

    /// Sends every second of the timeline finished by `now` (never past
    /// `end`); `last` also sends the second in progress.
    pub fn flush_seconds(&mut self, now: Instant, end: Option<Instant>, last: bool) {
        let limit = end.map(|e| e.min(now)).unwrap_or(now);
        self.roll_second(limit);
        if last && limit >= self.measure_start {
            self.send_second();
        }
    }

    /// Moves the timeline's second forward to `now`, sending finished seconds.
    fn roll_second(&mut self, now: Instant) {
        let Some(elapsed) = now.checked_duration_since(self.measure_start) else {
            return;
        };
        let sec = elapsed.as_secs();
        while self.second < sec {
            self.send_second();
            self.second += 1;
        }
    }

    fn send_second(&mut self) {
        let Some(tx) = &self.tx else {
            self.sec_latency.reset();
            return;
        };
        let latency = std::mem::replace(&mut self.sec_latency, timeline_histogram());
        let _ = tx.send(SecondSnapshot {
            worker: self.worker,
            second: self.second,
            requests: std::mem::take(&mut self.sec_requests),
            errors: std::mem::take(&mut self.sec_errors),
            latency,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_millis(300);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// One request of every ending, plus a warm-up one, through `finish`.
    fn recorded(t0: Instant) -> Recorder {
        let start = t0 + ms(100);
        let mut r = Recorder::new(0, start, Cancel::default(), None);
        let refused = || io::Error::from(io::ErrorKind::ConnectionRefused);
        let reset = || io::Error::from(io::ErrorKind::ConnectionReset);
        // Warm-up: due before the window, not recorded.
        r.finish(t0, Some(t0), start + ms(1), Some(200), &Ok(()));
        let at = |n| start + ms(n);
        r.finish(at(0), Some(at(0)), at(2), Some(200), &Ok(()));
        r.finish(
            at(1),
            Some(at(1)),
            at(3),
            Some(500),
            &Err(Failure::Status(500)),
        );
        r.finish(
            at(2),
            Some(at(7)),
            at(400),
            None,
            &Err(Failure::Timeout(TIMEOUT)),
        );
        r.finish(
            at(3),
            Some(at(3)),
            at(5),
            None,
            &Err(Failure::Closed(reset())),
        );
        r.finish(
            at(4),
            Some(at(4)),
            at(4),
            None,
            &Err(Failure::Connect(refused())),
        );
        r.finish(at(5), None, at(900), None, &Err(Failure::Unsent));
        r.finish(at(6), Some(at(6)), at(8), Some(200), &Ok(()));
        r
    }

    #[test]
    fn every_ending_is_counted_once_and_recorded_once() {
        let t0 = Instant::now();
        let t = recorded(t0).totals;
        assert_eq!(t.requests, 7);
        assert_eq!(t.ok, 2);
        assert_eq!(t.ok + t.errors.total(), t.requests);
        assert_eq!(t.corrected.len(), t.requests);
        // Only the unsent request has no service time.
        assert_eq!(t.uncorrected.len(), t.requests - 1);
        for kind in [
            ErrorKind::Status,
            ErrorKind::Timeout,
            ErrorKind::Closed,
            ErrorKind::Connect,
            ErrorKind::Unsent,
        ] {
            assert_eq!(t.errors.get(kind), 1, "{kind:?}");
        }
        assert_eq!(t.started(), 6);
        // Every answer by status, the warm-up's left out; every response
        // counted for the window's throughput, the warm-up's included.
        assert_eq!(t.statuses.sorted(), vec![(200, 2), (500, 1)]);
        assert_eq!(t.responses_total, 4);
        assert_eq!(t.first_error.as_deref(), Some("status: status 500"));
        // The last answered request (the Ok at +8 ms), not the later failures.
        assert_eq!(t.last_response, Some(t0 + ms(108)));
    }

    #[test]
    fn a_timeout_is_recorded_at_the_timeout_and_unsent_at_its_wait() {
        let t = recorded(Instant::now()).totals;
        let same = |h: &Histogram<u64>, us: u64| h.equivalent(h.max(), us);
        // Due at +2 ms, sent at +7, timed out 300 ms later (seen at +400).
        assert!(
            same(&t.uncorrected, micros(TIMEOUT)),
            "{}",
            t.uncorrected.max()
        );
        // Unsent: due at +5 ms, given up at +900.
        assert!(same(&t.corrected, 895_000), "{}", t.corrected.max());
        assert_eq!(t.corrected.count_between(305_000, 305_999), 1);
    }

    #[test]
    fn many_alike_are_recorded_as_each_would_be() {
        let t0 = Instant::now();
        let mut one = Recorder::new(0, t0, Cancel::default(), None);
        let mut many = Recorder::new(0, t0, Cancel::default(), None);
        let unsent = Err(Failure::Unsent);
        for _ in 0..1000 {
            one.finish(t0 + ms(1), None, t0 + ms(30), None, &unsent);
        }
        many.finish_n(t0 + ms(1), None, t0 + ms(30), None, &unsent, 1000);
        // Warm-up ones are left out, in bulk too.
        many.finish_n(t0 - ms(1), None, t0 + ms(30), None, &unsent, 7);
        let (a, b) = (one.totals, many.totals);
        assert_eq!((a.requests, b.requests), (1000, 1000));
        assert_eq!(
            a.errors.get(ErrorKind::Unsent),
            b.errors.get(ErrorKind::Unsent)
        );
        assert_eq!(a.corrected, b.corrected);
        assert_eq!(a.first_error, b.first_error);
        assert_eq!(b.uncorrected.len(), 0);
    }

    #[test]
    fn merge_adds_every_field_up() {
        let t0 = Instant::now();
        let mut a = recorded(t0);
        a.totals.sent_total = 10;
        a.totals.bytes_read = 100;
        a.totals.max_backlog = 3;
        a.totals.cpu = ms(5);
        a.totals.busiest_thread = 0.5;
        a.totals.connections.opened = 2;
        let mut b = Recorder::new(1, t0, Cancel::default(), None);
        b.finish(
            t0,
            Some(t0),
            t0 + ms(200),
            None,
            &Err(Failure::Io(io::Error::other("x"))),
        );
        b.totals.sent_total = 1;
        b.totals.bytes_read = 7;
        b.totals.max_backlog = 4;
        b.totals.cpu = ms(1);
        b.totals.busiest_thread = 0.75;
        b.totals.connections.opened = 1;
        let (a, b) = (a.totals, b.totals);

        let mut m = Totals::default();
        m.merge(&a);
        m.merge(&b);
        assert_eq!(m.requests, a.requests + b.requests);
        assert_eq!(m.ok, a.ok);
        assert_eq!(m.errors.total(), a.errors.total() + 1);
        assert_eq!(m.errors.get(ErrorKind::Io), 1);
        assert_eq!(m.corrected.len(), m.requests);
        assert_eq!(m.uncorrected.len(), a.uncorrected.len() + 1);
        assert_eq!(m.sched_lag.len(), 0);
        assert_eq!(
            (
                m.sent_total,
                m.bytes_read,
                m.max_backlog,
                m.connections.opened
            ),
            (11, 107, 7, 3)
        );
        assert_eq!(m.cpu, ms(6));
        assert_eq!(m.busiest_thread, 0.75);
        assert_eq!(m.last_response, a.last_response);
        assert_eq!(m.first_error, a.first_error);
        assert_eq!(m.statuses, a.statuses);
        assert_eq!(m.responses_total, a.responses_total);
        // The first error of a worker that had one, whichever merged first.
        let mut m = Totals::default();
        m.merge(&b);
        m.merge(&a);
        assert_eq!(m.first_error.as_deref(), Some("io: x"));
    }
}
