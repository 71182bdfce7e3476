//! The load engine: one event loop per worker thread (mio over epoll), each
//! driving its share of the connections with pre-serialized request bytes.
//!
//! One loop serves both load models. In the closed model a connection sends
//! its next request as soon as its last response is in. In the open model
//! request `i` is due at a fixed time whatever the responses do; a due
//! request waits (in order) for a free connection, and its latency counts
//! from when it was due, so a stalled server cannot hide its stall by
//! slowing the generator down (coordinated omission). The time from the
//! actual send is recorded too, as the service time.
//!
//! This file schedules requests and reacts to socket events; each
//! connection's I/O and parsing is in conn.rs. Every request that ends is
//! recorded by `Recorder::finish` (record.rs): through `end_request` when it
//! had a connection, directly when it was given up unsent.
//!
//! The loop never prints; per-second snapshots go to a channel.

use std::io::{self, ErrorKind as IoKind};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use mio::event::Event;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use super::conn::{Conn, ConnStep};
use super::plan::{Model, Plan, Stop};
use super::record::{Failure, Reading, Recorder, Totals};
use super::socket::{Addr, Socket};
use super::stats::{micros, SecondSnapshot};
use crate::cancel::Cancel;

/// How often timeouts and the end of the run are checked.
const HOUSEKEEPING: Duration = Duration::from_millis(10);
/// How often a worker waiting for the load's start looks for a signal.
const START_POLL: Duration = Duration::from_millis(50);
/// Wait before reopening a connection that could not be opened.
const CONNECT_BACKOFF: Duration = Duration::from_millis(10);
const TIMER: Token = Token(usize::MAX);

/// The shared timing of a run.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub start: Instant,
    pub measure_start: Instant,
    /// End of the measured window (duration runs).
    pub end: Option<Instant>,
}

struct Worker<'a> {
    plan: &'a Plan,
    addr: &'a Addr,
    clock: Clock,
    poll: Poll,
    conns: Vec<Conn>,
    idle: Vec<usize>,
    quota: Option<u64>,
    issued_measured: u64,
    /// Open model: nanoseconds between this worker's requests, and its offset.
    interval_ns: f64,
    offset_ns: f64,
    next_index: u64,
    timer: Option<OwnedFd>,
    armed_for: Option<Instant>,
    sampled: u32,
    rec: Recorder,
    last_housekeeping: Instant,
    cancel: Cancel,
    /// The counters when the measured window began, and when it ended.
    window_start: Option<Reading>,
    window_end: Option<Reading>,
}

/// Runs one worker to the end of the plan with `connections` connections
/// and, for counted runs, a `quota` of measured requests; returns what it
/// measured.
#[allow(clippy::too_many_arguments)]
pub fn run_worker(
    id: usize,
    plan: &Plan,
    addr: &Addr,
    clock: Clock,
    connections: usize,
    quota: Option<u64>,
    cancel: Cancel,
    tx: Option<Sender<SecondSnapshot>>,
) -> io::Result<Totals> {
    let cpu_start = thread_cpu();
    let poll = Poll::new()?;
    let (interval_ns, offset_ns, timer) = match plan.model {
        Model::Open { rate } => {
            let fd = timerfd()?;
            poll.registry()
                .register(&mut SourceFd(&fd.as_raw_fd()), TIMER, Interest::READABLE)?;
            // A shard's requests are offset into the gaps of the others'.
            let shard_ns = plan.shard.map_or(0.0, |s| s.offset().as_nanos() as f64);
            (
                plan.threads as f64 * 1e9 / rate,
                id as f64 * 1e9 / rate + shard_ns,
                Some(fd),
            )
        }
        Model::Closed => (0.0, 0.0, None),
    };
    let now = Instant::now();
    let mut w = Worker {
        plan,
        addr,
        clock,
        poll,
        conns: (0..connections).map(|_| Conn::new(now)).collect(),
        idle: (0..connections).rev().collect(),
        quota,
        issued_measured: 0,
        interval_ns,
        offset_ns,
        next_index: 0,
        timer,
        armed_for: None,
        sampled: 0,
        rec: Recorder::new(id, clock.measure_start, cancel, tx),
        last_housekeeping: now,
        cancel,
        window_start: None,
        window_end: None,
    };
    // All workers start together so the open model's schedules interleave.
    // On a --start-at schedule the wait can be long: a signal cuts it short,
    // and the run below ends at once with nothing measured.
    let mut cancelled_before_start = false;
    while let Some(wait) = clock.start.checked_duration_since(Instant::now()) {
        if w.cancel.is_set() {
            cancelled_before_start = true;
            break;
        }
        std::thread::sleep(wait.min(START_POLL));
    }
    let wall_start = Instant::now();
    w.run()?;
    let wall = wall_start.elapsed();
    let end = w.window_end.unwrap_or_else(|| w.reading());
    let window = w.window_start.map(|start| start.until(&end));
    let mut totals = w.rec.totals;
    totals.window = window.unwrap_or_default();
    totals.cpu = thread_cpu().saturating_sub(cpu_start);
    // A run that never started has no busy thread to speak of (its CPU
    // was the wait's, its wall time next to nothing).
    if wall > Duration::ZERO && !cancelled_before_start {
        totals.busiest_thread = totals.cpu.as_secs_f64() / wall.as_secs_f64();
    }
    Ok(totals)
}

impl Worker<'_> {
    fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        loop {
            let now = Instant::now();
            self.read_window(now);
            if self.cancel.is_set() {
                // The servers are being stopped: what is in flight now would
                // only fail for that reason, so the run ends here.
                self.rec.totals.cancelled_at = Some(now);
                if self.window_start.is_some() && self.window_end.is_none() {
                    self.window_end = Some(self.reading());
                }
                return Ok(());
            }
            if now.duration_since(self.last_housekeeping) >= HOUSEKEEPING {
                self.housekeeping(now);
            }
            self.dispatch(now);
            if self.finished(now) {
                self.rec.flush_seconds(now, self.clock.end, true);
                return Ok(());
            }
            let timeout = self.poll_timeout(now)?;
            match self.poll.poll(&mut events, Some(timeout)) {
                Ok(()) => {}
                Err(e) if e.kind() == IoKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            for ev in events.iter() {
                if ev.token() == TIMER {
                    self.drain_timer();
                    continue;
                }
                self.on_event(ev.token().0, ev);
            }
        }
    }

    /// The running counters now.
    fn reading(&self) -> Reading {
        let open = self.conns.iter().filter(|c| c.connected).count() as u64;
        Reading::of(&self.rec.totals, open)
    }

    /// Reads the counters as the measured window begins and as it ends.
    fn read_window(&mut self, now: Instant) {
        if self.window_start.is_none() && now >= self.clock.measure_start {
            self.window_start = Some(self.reading());
        }
        if self.window_end.is_none() && self.clock.end.is_some_and(|end| now >= end) {
            self.window_end = Some(self.reading());
        }
    }

    /// When request `i` of this worker is due (open model).
    fn intended(&self, i: u64) -> Instant {
        let ns = self.offset_ns + i as f64 * self.interval_ns;
        self.clock.start + Duration::from_nanos(ns as u64)
    }

    /// Whether a request starting (or due) at `t` is part of the run.
    fn may_issue(&self, t: Instant) -> bool {
        match self.plan.stop {
            Stop::Duration(_) => self.clock.end.is_none_or_before(t),
            Stop::Count(_) => {
                t < self.clock.measure_start
                    || self.issued_measured < self.quota.unwrap_or(u64::MAX)
            }
        }
    }

    fn dispatch(&mut self, now: Instant) {
        match self.plan.model {
            Model::Closed => {
                while let Some(&i) = self.idle.last() {
                    if !self.may_issue(now) {
                        break;
                    }
                    self.idle.pop();
                    self.start_request(i, now, now);
                }
            }
            Model::Open { .. } => {
                while let Some(&i) = self.idle.last() {
                    let due = self.intended(self.next_index);
                    if due > now || !self.may_issue(due) {
                        break;
                    }
                    self.idle.pop();
                    self.next_index += 1;
                    if due >= self.clock.measure_start {
                        let _ = self.rec.totals.sched_lag.record(micros(now - due));
                    }
                    self.start_request(i, due, now);
                }
                let backlog = self.backlog(now);
                self.rec.totals.max_backlog = self.rec.totals.max_backlog.max(backlog);
            }
        }
    }

    /// Open model: requests due by `now` and not yet sent.
    fn backlog(&self, now: Instant) -> u64 {
        self.due_through(now).saturating_sub(self.next_index)
    }

    /// Open model: how many of this worker's requests are due by `t`.
    fn due_through(&self, t: Instant) -> u64 {
        let elapsed = t.saturating_duration_since(self.clock.start).as_nanos() as f64;
        if elapsed < self.offset_ns {
            return 0;
        }
        ((elapsed - self.offset_ns) / self.interval_ns) as u64 + 1
    }

    fn more_to_issue(&self, now: Instant) -> bool {
        match self.plan.model {
            Model::Closed => self.may_issue(now),
            Model::Open { .. } => self.may_issue(self.intended(self.next_index)),
        }
    }

    fn finished(&self, now: Instant) -> bool {
        if self.more_to_issue(now) {
            return false;
        }
        let due_unsent = matches!(self.plan.model, Model::Open { .. })
            && self.intended(self.next_index) <= now
            && self.may_issue(self.intended(self.next_index));
        !due_unsent && self.conns.iter().all(|c| !c.busy)
    }

    fn poll_timeout(&mut self, now: Instant) -> io::Result<Duration> {
        let wake = now + HOUSEKEEPING;
        if matches!(self.plan.model, Model::Open { .. }) && !self.idle.is_empty() {
            let due = self.intended(self.next_index);
            if due > now && self.may_issue(due) {
                if due < wake && self.armed_for != Some(due) {
                    self.arm_timer(due - now)?;
                    self.armed_for = Some(due);
                }
                if due < wake {
                    // The timer wakes the loop with sub-millisecond precision;
                    // the poll timeout is only a safety net.
                    return Ok(wake - now);
                }
            }
        }
        Ok(wake.saturating_duration_since(now))
    }

    fn arm_timer(&self, after: Duration) -> io::Result<()> {
        let Some(fd) = &self.timer else {
            return Ok(());
        };
        let after = after.max(Duration::from_nanos(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: after.as_secs() as libc::time_t,
                tv_nsec: after.subsec_nanos() as libc::c_long,
            },
        };
        // SAFETY: a valid timerfd and a fully initialised itimerspec.
        let rc = unsafe { libc::timerfd_settime(fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn drain_timer(&mut self) {
        if let Some(fd) = &self.timer {
            let mut n = [0u8; 8];
            // SAFETY: reading 8 bytes into an 8-byte buffer from our own fd.
            unsafe { libc::read(fd.as_raw_fd(), n.as_mut_ptr().cast(), 8) };
        }
        self.armed_for = None;
    }

    fn housekeeping(&mut self, now: Instant) {
        self.last_housekeeping = now;
        let timeout = self.plan.timeout;
        for i in 0..self.conns.len() {
            let c = &mut self.conns[i];
            if c.busy && now >= c.deadline {
                self.end_request(i, now, Err(Failure::Timeout(timeout)));
                continue;
            }
            if let Some(t) = c.backoff_until {
                if now >= t {
                    c.backoff_until = None;
                    self.free(i, now);
                }
            }
        }
        // A duration run waits at most one timeout past its end.
        if let (Stop::Duration(_), Some(end)) = (self.plan.stop, self.clock.end) {
            if now >= end + timeout {
                for i in 0..self.conns.len() {
                    if self.conns[i].busy {
                        self.end_request(i, now, Err(Failure::Timeout(timeout)));
                    }
                }
                self.give_up_backlog(now, end);
            }
        }
        self.rec.flush_seconds(now, self.clock.end, false);
    }

    /// Requests still waiting for a connection when the run must end are
    /// recorded as `unsent` at the latency they had reached: never dropped
    /// silently.
    fn give_up_backlog(&mut self, now: Instant, end: Instant) {
        if !matches!(self.plan.model, Model::Open { .. }) {
            return;
        }
        // In steps of requests whose latencies share a histogram bucket, so
        // that a backlog of millions costs no more than one of ten.
        let nanos = Duration::from_nanos(1);
        loop {
            let due = self.intended(self.next_index);
            if due > now || due >= end {
                break;
            }
            let latency = self
                .rec
                .totals
                .corrected
                .lowest_equivalent(micros(now - due));
            let mut last = now
                .checked_sub(Duration::from_micros(latency))
                .unwrap_or(due)
                .max(due)
                .min(end - nanos);
            // Warm-up requests are not recorded: keep them out of a step of
            // measured ones.
            if due < self.clock.measure_start {
                last = last.min(self.clock.measure_start - nanos);
            }
            let n = self
                .due_through(last)
                .saturating_sub(self.next_index)
                .max(1);
            self.next_index += n;
            self.rec
                .finish_n(due, None, now, None, &Err(Failure::Unsent), n);
        }
        // Idle connections are left idle: nothing more is due.
        self.idle.clear();
        for (i, c) in self.conns.iter().enumerate() {
            if !c.busy && c.backoff_until.is_none() {
                self.idle.push(i);
            }
        }
        self.clock.end = Some(end.min(now));
        self.quota = Some(0);
    }

    fn start_request(&mut self, i: usize, intended: Instant, now: Instant) {
        if intended >= self.clock.measure_start {
            self.issued_measured += 1;
        }
        let check = self.plan.check.body.is_some() && {
            self.sampled = self.sampled.wrapping_add(1);
            self.sampled % self.plan.check.sample_every.max(1) == 0
        };
        self.rec.totals.sent_total += 1;
        self.conns[i].begin(intended, now, now + self.plan.timeout, check);
        self.send(i, now);
    }

    /// (Re)sends the current request of connection `i`, opening it if needed.
    fn send(&mut self, i: usize, now: Instant) {
        let c = &mut self.conns[i];
        c.reset_exchange();
        if c.socket.is_none() {
            // Connecting: the request goes out once the socket is writable.
            if let Err(failure) = c.open(self.addr, self.poll.registry(), Token(i)) {
                self.end_request(i, now, Err(failure));
            }
            return;
        }
        if c.connected {
            let step = c.write(&self.plan.request);
            self.step(i, step);
        }
    }

    fn on_event(&mut self, i: usize, ev: &Event) {
        let plan = self.plan;
        let Some(c) = self.conns.get_mut(i) else {
            return;
        };
        if c.socket.is_none() {
            return;
        }
        if !c.busy {
            // An idle kept-alive connection: the server may have closed it.
            if (ev.is_readable() || ev.is_read_closed()) && c.idle_closed() {
                self.rec.totals.connections.closed_by_server += 1;
            }
            return;
        }
        if !c.connected {
            match c.socket.as_ref().map(Socket::connected) {
                Some(Ok(true)) => {
                    c.connected = true;
                    self.rec.totals.connections.opened += 1;
                    let step = c.write(&plan.request);
                    self.step(i, step);
                }
                Some(Ok(false)) | None => {}
                Some(Err(e)) => {
                    self.end_request(i, Instant::now(), Err(Failure::Connect(e)));
                }
            }
            return;
        }
        if ev.is_writable() {
            // Over TLS the session may hold records a full socket refused.
            if let Some(Err(e)) = c.socket.as_mut().map(Socket::flush_pending) {
                self.step(i, ConnStep::Lost(e));
                return;
            }
        }
        if c.written < plan.request.len() && ev.is_writable() {
            let step = c.write(&plan.request);
            self.step(i, step);
            return;
        }
        if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
            let closing = ev.is_read_closed() || ev.is_error();
            let step = c.read(closing, &plan.check, &mut self.rec.totals.bytes_read);
            self.step(i, step);
        }
    }

    /// Acts on what connection `i`'s I/O came to.
    fn step(&mut self, i: usize, step: ConnStep) {
        match step {
            ConnStep::Wait => {}
            ConnStep::Done(result) => self.end_request(i, Instant::now(), result),
            ConnStep::Lost(e) => self.lost(i, Instant::now(), e),
        }
    }

    /// The connection broke before the response was complete: the request
    /// goes again if the server had closed an idle connection (it never saw
    /// it), and otherwise ends as `closed` or `io`.
    fn lost(&mut self, i: usize, now: Instant, e: io::Error) {
        if self.conns[i].resend_after_idle_close() {
            let counts = &mut self.rec.totals.connections;
            counts.closed_by_server += 1;
            counts.retried_after_close += 1;
            self.send(i, now);
            return;
        }
        let failure = match e.kind() {
            IoKind::UnexpectedEof | IoKind::ConnectionReset | IoKind::BrokenPipe => {
                Failure::Closed(e)
            }
            _ => Failure::Io(e),
        };
        self.end_request(i, now, Err(failure));
    }

    /// Ends the current request of connection `i`, however it ended. After a
    /// complete response (2xx or not) the connection stays open unless the
    /// server closes it; after anything else it is dropped. The request is
    /// then recorded, and the connection takes its next request (after a
    /// pause if it could not connect).
    fn end_request(&mut self, i: usize, now: Instant, result: Result<(), Failure>) {
        let c = &mut self.conns[i];
        let counts = &mut self.rec.totals.connections;
        c.busy = false;
        let answered = match &result {
            Ok(()) => true,
            Err(f) => f.answered(),
        };
        if answered {
            if c.count_response() {
                c.close();
                counts.closed_by_server += 1;
            }
        } else if let Err(Failure::Closed(_)) = result {
            c.close();
            counts.closed_by_server += 1;
        } else if c.close() {
            counts.closed_by_client += 1;
        }
        let status = answered.then(|| c.status());
        self.rec
            .finish(c.intended, Some(c.sent), now, status, &result);
        if let Err(Failure::Connect(_)) = result {
            self.conns[i].backoff_until = Some(now + CONNECT_BACKOFF);
        } else {
            self.free(i, now);
        }
    }

    /// Connection `i` can take a request: the closed model sends its next one
    /// now; the open model gives it the oldest due request, or idles it.
    fn free(&mut self, i: usize, now: Instant) {
        match self.plan.model {
            Model::Closed if self.may_issue(now) => self.start_request(i, now, now),
            Model::Open { .. } => {
                let due = self.intended(self.next_index);
                if due <= now && self.may_issue(due) {
                    self.next_index += 1;
                    self.start_request(i, due, now);
                } else {
                    self.idle.push(i);
                }
            }
            Model::Closed => self.idle.push(i),
        }
    }
}

trait EndExt {
    fn is_none_or_before(&self, t: Instant) -> bool;
}

impl EndExt for Option<Instant> {
    /// No end, or `t` comes before it.
    fn is_none_or_before(&self, t: Instant) -> bool {
        match self {
            None => true,
            Some(end) => t < *end,
        }
    }
}

fn timerfd() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; the fd is owned right away.
    let fd = unsafe {
        libc::timerfd_create(
            libc::CLOCK_MONOTONIC,
            libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// CPU time (user + system) used by the calling thread.
pub fn thread_cpu() -> Duration {
    rusage(libc::RUSAGE_THREAD)
}

/// CPU time (user + system) used by the whole process.
pub fn process_cpu() -> Duration {
    rusage(libc::RUSAGE_SELF)
}

fn rusage(who: libc::c_int) -> Duration {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(who, &mut u) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}
