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
//! The loop never prints; per-second snapshots go to a channel.

use std::io::{self, ErrorKind as IoKind, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::event::{Event, Source};
use mio::net::{TcpStream, UnixStream};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use super::parse::{ReadProgress, ResponseReader};
use super::plan::{Model, Plan, Stop};
use super::stats::{
    latency_histogram, micros, timeline_histogram, Connections, ErrorKind, Errors, SecondSnapshot,
};
use crate::http::Target;

/// Bytes one connection reads at a time; a response head must fit.
const READ_BUFFER: usize = 32 * 1024;
/// How often timeouts and the end of the run are checked.
const HOUSEKEEPING: Duration = Duration::from_millis(10);
/// Wait before reopening a connection that could not be opened.
const CONNECT_BACKOFF: Duration = Duration::from_millis(10);
const TIMER: Token = Token(usize::MAX);

/// Where to connect, resolved once.
#[derive(Debug, Clone)]
pub enum Addr {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl Addr {
    pub fn resolve(target: &Target) -> io::Result<Addr> {
        match target {
            Target::Unix(p) => Ok(Addr::Unix(p.clone())),
            Target::Tcp { host, port } => (host.as_str(), *port)
                .to_socket_addrs()?
                .next()
                .map(Addr::Tcp)
                .ok_or_else(|| io::Error::other(format!("{host} has no address"))),
        }
    }
}

/// What one worker thread measured.
#[derive(Debug)]
pub struct WorkerReport {
    /// Latency from when each request was due (open model) or sent (closed).
    pub corrected: Histogram<u64>,
    /// Latency from when each request was actually sent (service time).
    pub uncorrected: Histogram<u64>,
    /// Open model: how late requests went out on connections that were free
    /// (the generator's own lag).
    pub sched_lag: Histogram<u64>,
    /// Measured requests that got a complete response or failed.
    pub requests: u64,
    /// Of those, the ones that were right.
    pub ok: u64,
    pub errors: Errors,
    pub connections: Connections,
    /// Requests sent in all (warm-up and validation included) and responses read.
    pub sent_total: u64,
    pub bytes_read: u64,
    /// Most requests that were due but waiting for a free connection at once.
    pub max_backlog: u64,
    /// CPU time this thread used, and how long it ran.
    pub cpu: Duration,
    pub wall: Duration,
    /// When the last measured response came in.
    pub last_completion: Option<Instant>,
    /// One example per error kind seen, for the user.
    pub first_error: Option<String>,
}

/// The shared timing of a run.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub start: Instant,
    pub measure_start: Instant,
    /// End of the measured window (duration runs).
    pub end: Option<Instant>,
}

enum Socket {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Socket {
    fn connect(addr: &Addr) -> io::Result<Socket> {
        Ok(match addr {
            Addr::Tcp(a) => {
                let s = TcpStream::connect(*a)?;
                s.set_nodelay(true)?;
                Socket::Tcp(s)
            }
            Addr::Unix(p) => Socket::Unix(UnixStream::connect(p)?),
        })
    }
    fn source(&mut self) -> &mut dyn Source {
        match self {
            Socket::Tcp(s) => s,
            Socket::Unix(s) => s,
        }
    }
    /// `Ok(true)` once connected, `Ok(false)` while still connecting.
    fn connected(&self) -> io::Result<bool> {
        let (err, peer) = match self {
            Socket::Tcp(s) => (s.take_error()?, s.peer_addr().map(|_| ())),
            Socket::Unix(s) => (s.take_error()?, s.peer_addr().map(|_| ())),
        };
        if let Some(e) = err {
            return Err(e);
        }
        match peer {
            Ok(()) => Ok(true),
            Err(e)
                if e.kind() == IoKind::NotConnected || e.raw_os_error() == Some(libc::ENOTCONN) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}

impl Read for Socket {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.read(b),
            Socket::Unix(s) => s.read(b),
        }
    }
}

impl Write for Socket {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.write(b),
            Socket::Unix(s) => s.write(b),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct Conn {
    stream: Option<Socket>,
    connected: bool,
    /// A request is assigned to this connection.
    busy: bool,
    /// Waiting out a failed connect until then.
    backoff_until: Option<Instant>,
    written: usize,
    buf: Box<[u8]>,
    filled: usize,
    reader: ResponseReader,
    intended: Instant,
    sent: Instant,
    deadline: Instant,
    measured: bool,
    /// Responses completed on the current socket.
    served: u64,
    retried: bool,
    check_body: bool,
    body_pos: usize,
    body_ok: bool,
}

impl Conn {
    fn new(now: Instant) -> Conn {
        Conn {
            stream: None,
            connected: false,
            busy: false,
            backoff_until: None,
            written: 0,
            buf: vec![0; READ_BUFFER].into_boxed_slice(),
            filled: 0,
            reader: ResponseReader::default(),
            intended: now,
            sent: now,
            deadline: now,
            measured: false,
            served: 0,
            retried: false,
            check_body: false,
            body_pos: 0,
            body_ok: true,
        }
    }
}

/// How a request ended, as far as the loop is concerned.
enum Done {
    Ok,
    Failed(ErrorKind, String),
}

struct Worker<'a> {
    id: usize,
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
    report: WorkerReport,
    tx: Option<Sender<SecondSnapshot>>,
    second: u64,
    sec_hist: Histogram<u64>,
    sec_requests: u64,
    sec_errors: u64,
    last_housekeeping: Instant,
}

/// Runs one worker to the end of the plan. `share` is this worker's
/// number of connections and (for counted runs) of requests.
pub fn run_worker(
    id: usize,
    plan: &Plan,
    addr: &Addr,
    clock: Clock,
    connections: usize,
    quota: Option<u64>,
    tx: Option<Sender<SecondSnapshot>>,
) -> io::Result<WorkerReport> {
    let cpu_start = thread_cpu();
    let poll = Poll::new()?;
    let (interval_ns, offset_ns, timer) = match plan.model {
        Model::Open { rate } => {
            let fd = timerfd()?;
            poll.registry()
                .register(&mut SourceFd(&fd.as_raw_fd()), TIMER, Interest::READABLE)?;
            (
                plan.threads as f64 * 1e9 / rate,
                id as f64 * 1e9 / rate,
                Some(fd),
            )
        }
        Model::Closed => (0.0, 0.0, None),
    };
    let now = Instant::now();
    let mut w = Worker {
        id,
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
        report: WorkerReport {
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
            wall: Duration::ZERO,
            last_completion: None,
            first_error: None,
        },
        tx,
        second: 0,
        sec_hist: timeline_histogram(),
        sec_requests: 0,
        sec_errors: 0,
        last_housekeeping: now,
    };
    // All workers start together so the open model's schedules interleave.
    if let Some(wait) = clock.start.checked_duration_since(Instant::now()) {
        std::thread::sleep(wait);
    }
    let wall_start = Instant::now();
    w.run()?;
    w.report.wall = wall_start.elapsed();
    w.report.cpu = thread_cpu().saturating_sub(cpu_start);
    Ok(w.report)
}

impl Worker<'_> {
    fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        loop {
            let now = Instant::now();
            if now.duration_since(self.last_housekeeping) >= HOUSEKEEPING {
                self.housekeeping(now);
            }
            self.dispatch(now);
            if self.finished(now) {
                self.flush_seconds(now, true);
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
                        let _ = self.report.sched_lag.record(micros(now - due));
                    }
                    self.start_request(i, due, now);
                }
                let backlog = self.backlog(now);
                self.report.max_backlog = self.report.max_backlog.max(backlog);
            }
        }
    }

    /// Open model: requests due by `now` and not yet sent.
    fn backlog(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.clock.start).as_nanos() as f64;
        if elapsed < self.offset_ns {
            return 0;
        }
        let due = ((elapsed - self.offset_ns) / self.interval_ns) as u64 + 1;
        due.saturating_sub(self.next_index)
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
        for i in 0..self.conns.len() {
            let c = &mut self.conns[i];
            if c.busy && now >= c.deadline {
                self.fail(i, now, ErrorKind::Timeout, String::new());
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
            if now >= end + self.plan.timeout {
                for i in 0..self.conns.len() {
                    if self.conns[i].busy {
                        self.fail(i, now, ErrorKind::Timeout, String::new());
                    }
                }
                self.give_up_backlog(now, end);
            }
        }
        self.flush_seconds(now, false);
    }

    /// Requests still waiting for a connection when the run must end count as
    /// errors with the latency they had reached: never dropped silently.
    fn give_up_backlog(&mut self, now: Instant, end: Instant) {
        if !matches!(self.plan.model, Model::Open { .. }) {
            return;
        }
        loop {
            let due = self.intended(self.next_index);
            if due > now || due >= end {
                break;
            }
            self.next_index += 1;
            if due >= self.clock.measure_start {
                let _ = self.report.corrected.record(micros(now - due));
                self.count(ErrorKind::Unsent, "no free connection before the run ended");
            }
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
        let measured = intended >= self.clock.measure_start;
        if measured {
            self.issued_measured += 1;
        }
        let check = self.plan.check.body.is_some() && {
            self.sampled = self.sampled.wrapping_add(1);
            self.sampled % self.plan.check.sample_every.max(1) == 0
        };
        self.report.sent_total += 1;
        let c = &mut self.conns[i];
        c.busy = true;
        c.intended = intended;
        c.sent = now;
        c.deadline = now + self.plan.timeout;
        c.measured = measured;
        c.retried = false;
        c.check_body = check;
        self.send(i, now);
    }

    /// (Re)sends the current request of connection `i`, opening it if needed.
    fn send(&mut self, i: usize, now: Instant) {
        let c = &mut self.conns[i];
        c.written = 0;
        c.filled = 0;
        c.reader.reset();
        c.body_pos = 0;
        c.body_ok = true;
        if c.stream.is_none() {
            match Socket::connect(self.addr) {
                Ok(mut s) => {
                    let r = self.poll.registry().register(
                        s.source(),
                        Token(i),
                        Interest::READABLE | Interest::WRITABLE,
                    );
                    if let Err(e) = r {
                        self.fail(i, now, ErrorKind::Io, e.to_string());
                        return;
                    }
                    c.stream = Some(s);
                    c.connected = false;
                    c.served = 0;
                }
                Err(e) => {
                    self.fail(i, now, ErrorKind::Connect, e.to_string());
                    return;
                }
            }
            // Connecting: the request goes out once the socket is writable.
            return;
        }
        if c.connected {
            self.write(i, now);
        }
    }

    fn on_event(&mut self, i: usize, ev: &Event) {
        let Some(c) = self.conns.get_mut(i) else {
            return;
        };
        if c.stream.is_none() {
            return;
        }
        if !c.busy {
            // An idle kept-alive connection: the server may have closed it.
            if ev.is_readable() || ev.is_read_closed() {
                self.check_idle(i);
            }
            return;
        }
        if !c.connected {
            let now = Instant::now();
            let state = c.stream.as_ref().map(Socket::connected);
            match state {
                Some(Ok(true)) => {
                    c.connected = true;
                    self.report.connections.opened += 1;
                    self.write(i, now);
                }
                Some(Ok(false)) | None => {}
                Some(Err(e)) => {
                    self.fail(i, now, ErrorKind::Connect, e.to_string());
                }
            }
            return;
        }
        if c.written < self.plan.request.len() && ev.is_writable() {
            self.write(i, Instant::now());
            return;
        }
        if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
            self.read(i, ev.is_read_closed() || ev.is_error());
        }
    }

    fn write(&mut self, i: usize, now: Instant) {
        let plan = self.plan;
        let req = &plan.request;
        let c = &mut self.conns[i];
        let Some(s) = c.stream.as_mut() else {
            return;
        };
        while c.written < req.len() {
            match s.write(&req[c.written..]) {
                Ok(n) => c.written += n,
                Err(e) if e.kind() == IoKind::WouldBlock => return,
                Err(e) if e.kind() == IoKind::Interrupted => {}
                Err(e) => {
                    self.lost(i, now, e);
                    return;
                }
            }
        }
        // No read here: the response cannot have arrived before the request
        // went out, and its arrival is a new edge for epoll. Reading now
        // would cost an empty syscall per request.
    }

    /// Reads what has arrived. `closing`: the peer has closed, so read on
    /// to the end of the stream (no further edge will report it).
    fn read(&mut self, i: usize, closing: bool) {
        loop {
            let c = &mut self.conns[i];
            let Some(s) = c.stream.as_mut() else {
                return;
            };
            let space = c.buf.len() - c.filled;
            match s.read(&mut c.buf[c.filled..]) {
                Ok(0) => {
                    self.eof(i, Instant::now());
                    return;
                }
                Ok(n) => {
                    c.filled += n;
                    self.report.bytes_read += n as u64;
                    match self.parse(i) {
                        Ok(None) => {}
                        Ok(Some(done)) => {
                            self.complete(i, Instant::now(), done);
                            return;
                        }
                        Err(kind_detail) => {
                            self.fail(i, Instant::now(), ErrorKind::Parse, kind_detail);
                            return;
                        }
                    }
                    // A short read drained the socket; epoll reports the next
                    // bytes as a new edge, so no extra read is needed.
                    if n < space && !closing {
                        return;
                    }
                }
                Err(e) if e.kind() == IoKind::WouldBlock => return,
                Err(e) if e.kind() == IoKind::Interrupted => {}
                Err(e) => {
                    self.lost(i, Instant::now(), e);
                    return;
                }
            }
        }
    }

    /// Feeds the read buffer to the response reader; `Some` once complete.
    fn parse(&mut self, i: usize) -> Result<Option<Done>, String> {
        let plan = self.plan;
        let expected = plan.check.body.as_deref();
        let c = &mut self.conns[i];
        let Conn {
            buf,
            filled,
            reader,
            check_body,
            body_pos,
            body_ok,
            ..
        } = c;
        let mut sink = |b: &[u8]| {
            if *check_body {
                if let Some(e) = expected {
                    let end = *body_pos + b.len();
                    if end > e.len() || e[*body_pos..end] != *b {
                        *body_ok = false;
                    }
                }
                *body_pos += b.len();
            }
        };
        let (progress, used) = reader
            .feed(&buf[..*filled], &mut sink)
            .map_err(|e| format!("malformed response: {e:?}"))?;
        match progress {
            ReadProgress::NeedMore => {
                buf.copy_within(used..*filled, 0);
                *filled -= used;
                if *filled == buf.len() {
                    return Err(format!("response head larger than {} bytes", READ_BUFFER));
                }
                Ok(None)
            }
            ReadProgress::Complete { used } => {
                if used < *filled {
                    return Err(format!(
                        "{} bytes after the end of a response",
                        *filled - used
                    ));
                }
                *filled = 0;
                Ok(Some(self.judge(i)))
            }
        }
    }

    fn judge(&self, i: usize) -> Done {
        let c = &self.conns[i];
        let r = &c.reader;
        if !(200..300).contains(&r.status) {
            return Done::Failed(ErrorKind::Status, format!("status {}", r.status));
        }
        if let Some(e) = &self.plan.check.body {
            if r.body_len != e.len() as u64 {
                return Done::Failed(
                    ErrorKind::Body,
                    format!("body of {} bytes, expected {}", r.body_len, e.len()),
                );
            }
        }
        if c.check_body && !c.body_ok {
            return Done::Failed(
                ErrorKind::Body,
                "body bytes differ from the workload's".into(),
            );
        }
        Done::Ok
    }

    fn eof(&mut self, i: usize, now: Instant) {
        let c = &mut self.conns[i];
        if c.reader.eof_completes() {
            let done = self.judge(i);
            self.complete(i, now, done);
            return;
        }
        self.lost(i, now, io::Error::from(IoKind::UnexpectedEof));
    }

    /// The connection broke before the response was complete. A kept-alive
    /// connection the server closed before answering gets the request again
    /// on a new connection, once: the server never saw it.
    fn lost(&mut self, i: usize, now: Instant, e: io::Error) {
        let c = &mut self.conns[i];
        if !c.reader.started && c.served > 0 && !c.retried {
            c.retried = true;
            c.stream = None;
            c.connected = false;
            self.report.connections.closed_by_server += 1;
            self.report.connections.retried_after_close += 1;
            self.send(i, now);
            return;
        }
        let kind = match e.kind() {
            IoKind::UnexpectedEof | IoKind::ConnectionReset | IoKind::BrokenPipe => {
                ErrorKind::Closed
            }
            _ => ErrorKind::Io,
        };
        self.fail(i, now, kind, e.to_string());
    }

    fn complete(&mut self, i: usize, now: Instant, done: Done) {
        let c = &mut self.conns[i];
        c.busy = false;
        c.served += 1;
        let close = c.reader.close;
        if c.measured {
            self.record(i, now, now - self.conns[i].sent);
            match done {
                Done::Ok => self.report.ok += 1,
                Done::Failed(kind, detail) => self.count(kind, &detail),
            }
        }
        if close {
            let c = &mut self.conns[i];
            c.stream = None;
            c.connected = false;
            self.report.connections.closed_by_server += 1;
        }
        self.free(i, now);
    }

    fn record(&mut self, i: usize, now: Instant, service: Duration) {
        let c = &self.conns[i];
        let corrected = micros(now - c.intended);
        let _ = self.report.corrected.record(corrected);
        let _ = self.report.uncorrected.record(micros(service));
        self.report.requests += 1;
        self.report.last_completion = Some(now);
        self.roll_second(now);
        self.sec_requests += 1;
        let _ = self.sec_hist.record(corrected);
    }

    fn count(&mut self, kind: ErrorKind, detail: &str) {
        self.report.errors.add(kind);
        self.sec_errors += 1;
        if self.report.first_error.is_none() {
            self.report.first_error = Some(format!("{}: {detail}", kind.as_str()));
        }
    }

    /// Ends the current request of `i` with an error and closes the connection.
    fn fail(&mut self, i: usize, now: Instant, kind: ErrorKind, detail: String) {
        let c = &mut self.conns[i];
        let was_busy = c.busy;
        c.busy = false;
        if c.stream.take().is_some() && kind != ErrorKind::Closed {
            self.report.connections.closed_by_client += 1;
        } else if kind == ErrorKind::Closed {
            self.report.connections.closed_by_server += 1;
        }
        c.connected = false;
        if was_busy && c.measured {
            if kind == ErrorKind::Timeout {
                // The tail must not vanish: a timeout is recorded at the timeout.
                let waited = c.sent - c.intended;
                let t = self.plan.timeout;
                self.roll_second(now);
                let _ = self.report.corrected.record(micros(waited + t));
                let _ = self.report.uncorrected.record(micros(t));
                let _ = self.sec_hist.record(micros(waited + t));
                self.report.requests += 1;
                self.sec_requests += 1;
            } else {
                self.report.requests += 1;
                self.roll_second(now);
                self.sec_requests += 1;
            }
            let detail = if detail.is_empty() {
                format!("no response within {:?}", self.plan.timeout)
            } else {
                detail
            };
            self.count(kind, &detail);
        }
        if kind == ErrorKind::Connect {
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

    /// An idle connection became readable: the server closed it (or sent
    /// bytes nobody asked for, which is as good as closing).
    fn check_idle(&mut self, i: usize) {
        let c = &mut self.conns[i];
        let Some(s) = c.stream.as_mut() else {
            return;
        };
        let mut byte = [0u8; 1];
        match s.read(&mut byte) {
            Err(e) if e.kind() == IoKind::WouldBlock => {}
            _ => {
                c.stream = None;
                c.connected = false;
                self.report.connections.closed_by_server += 1;
            }
        }
    }

    /// Moves the per-second window forward to `now`, sending finished seconds.
    fn roll_second(&mut self, now: Instant) {
        let Some(elapsed) = now.checked_duration_since(self.clock.measure_start) else {
            return;
        };
        let sec = elapsed.as_secs();
        while self.second < sec {
            self.send_second();
            self.second += 1;
        }
    }

    fn flush_seconds(&mut self, now: Instant, last: bool) {
        let limit = self.clock.end.map(|e| e.min(now)).unwrap_or(now);
        self.roll_second(limit);
        if last && limit >= self.clock.measure_start {
            self.send_second();
        }
    }

    fn send_second(&mut self) {
        let Some(tx) = &self.tx else {
            self.sec_hist.reset();
            return;
        };
        let latency = std::mem::replace(&mut self.sec_hist, timeline_histogram());
        let _ = tx.send(SecondSnapshot {
            worker: self.id,
            second: self.second,
            requests: std::mem::take(&mut self.sec_requests),
            errors: std::mem::take(&mut self.sec_errors),
            latency,
        });
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
