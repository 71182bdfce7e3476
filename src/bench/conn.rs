//! One connection of a worker: its socket, the request going out on it and
//! the response coming back, parsed in place in a fixed buffer and judged.
//! A connection only reports what its I/O came to (a [`ConnStep`]); the worker
//! decides what follows and records the request (engine.rs, record.rs).

use std::io::{self, ErrorKind as IoKind, Read, Write};
use std::time::Instant;

use mio::{Interest, Registry, Token};

use super::parse::{ReadProgress, ResponseReader};
use super::plan::ResponseCheck;
use super::record::Failure;
use super::socket::{Addr, Socket};

/// Bytes one connection reads at a time; a response head must fit. The
/// buffer is allocated when the connection first opens, so memory grows
/// with the connections used, not with `-c`.
pub const READ_BUFFER: usize = 32 * 1024;

/// What a connection's I/O came to.
pub enum ConnStep {
    /// Nothing more until the socket's next event.
    Wait,
    /// The response is complete and judged, or could not be read as one.
    Done(Result<(), Failure>),
    /// The connection broke before the response was complete.
    Lost(io::Error),
}

/// A connection and the request it carries.
pub struct Conn {
    pub socket: Option<Socket>,
    pub connected: bool,
    /// A request is assigned to this connection.
    pub busy: bool,
    /// Waiting out a failed connect until then.
    pub backoff_until: Option<Instant>,
    /// When the current request was due (open model) or started (closed).
    pub intended: Instant,
    /// When it was started on this connection.
    pub sent: Instant,
    pub deadline: Instant,
    /// Bytes of the request written so far.
    pub written: usize,
    /// The read buffer; empty until the connection first opens.
    buf: Vec<u8>,
    filled: usize,
    reader: ResponseReader,
    /// Responses completed on the current socket.
    served: u64,
    /// The current request was sent again after an idle close.
    retried: bool,
    check_body: bool,
    body_pos: usize,
    body_ok: bool,
}

impl Conn {
    pub fn new(now: Instant) -> Conn {
        Conn {
            socket: None,
            connected: false,
            busy: false,
            backoff_until: None,
            intended: now,
            sent: now,
            deadline: now,
            written: 0,
            buf: Vec::new(),
            filled: 0,
            reader: ResponseReader::default(),
            served: 0,
            retried: false,
            check_body: false,
            body_pos: 0,
            body_ok: true,
        }
    }

    /// Assigns a request: due at `intended`, started `now`.
    pub fn begin(&mut self, intended: Instant, now: Instant, deadline: Instant, check_body: bool) {
        self.busy = true;
        self.intended = intended;
        self.sent = now;
        self.deadline = deadline;
        self.retried = false;
        self.check_body = check_body;
    }

    /// Forgets any earlier attempt's bytes, before the request goes out.
    pub fn reset_exchange(&mut self) {
        self.written = 0;
        self.filled = 0;
        self.reader.reset();
        self.body_pos = 0;
        self.body_ok = true;
    }

    /// Starts connecting and registers the socket as `token`.
    pub fn open(&mut self, addr: &Addr, registry: &Registry, token: Token) -> Result<(), Failure> {
        let mut s = Socket::connect(addr).map_err(Failure::Connect)?;
        if self.buf.is_empty() {
            self.buf = vec![0; READ_BUFFER];
        }
        registry
            .register(s.source(), token, Interest::READABLE | Interest::WRITABLE)
            .map_err(Failure::Io)?;
        self.socket = Some(s);
        self.connected = false;
        self.served = 0;
        Ok(())
    }

    /// Drops the socket; whether there was one.
    pub fn close(&mut self) -> bool {
        self.connected = false;
        self.socket.take().is_some()
    }

    /// The status code of the response being read (once its head is in).
    pub fn status(&self) -> u16 {
        self.reader.status
    }

    /// Counts a complete response; whether the server closes the
    /// connection after it.
    pub fn count_response(&mut self) -> bool {
        self.served += 1;
        self.reader.close
    }

    /// The connection broke before any byte of the response: if it had
    /// carried responses before and this request was not resent already,
    /// the server closed it while idle and never saw the request, so it
    /// goes again on a new connection, once, as any HTTP client does.
    /// Drops the socket and returns true when so.
    pub fn resend_after_idle_close(&mut self) -> bool {
        if self.reader.started || self.served == 0 || self.retried {
            return false;
        }
        self.retried = true;
        self.close();
        true
    }

    /// Writes what is left of `request`.
    pub fn write(&mut self, request: &[u8]) -> ConnStep {
        let Some(s) = self.socket.as_mut() else {
            return ConnStep::Wait;
        };
        while self.written < request.len() {
            match s.write(&request[self.written..]) {
                Ok(n) => self.written += n,
                Err(e) if e.kind() == IoKind::WouldBlock => return ConnStep::Wait,
                Err(e) if e.kind() == IoKind::Interrupted => {}
                Err(e) => return ConnStep::Lost(e),
            }
        }
        // No read here: the response cannot have arrived before the request
        // went out, and its arrival is a new edge for epoll. Reading now
        // would cost an empty syscall per request.
        ConnStep::Wait
    }

    /// Reads what has arrived. `closing`: the peer has closed, so read on
    /// to the end of the stream (no further edge will report it).
    /// `check` says what every response must be.
    pub fn read(&mut self, closing: bool, check: &ResponseCheck, bytes_read: &mut u64) -> ConnStep {
        loop {
            let Some(s) = self.socket.as_mut() else {
                return ConnStep::Wait;
            };
            let drains = s.short_read_drains();
            let space = self.buf.len() - self.filled;
            match s.read(&mut self.buf[self.filled..]) {
                Ok(0) => return self.eof(check),
                Ok(n) => {
                    self.filled += n;
                    *bytes_read += n as u64;
                    if let Some(done) = self.parse(check) {
                        return ConnStep::Done(done);
                    }
                    // A short read drained the socket; epoll reports the next
                    // bytes as a new edge, so no extra read is needed.
                    if n < space && !closing && drains {
                        return ConnStep::Wait;
                    }
                }
                Err(e) if e.kind() == IoKind::WouldBlock => return ConnStep::Wait,
                Err(e) if e.kind() == IoKind::Interrupted => {}
                Err(e) => return ConnStep::Lost(e),
            }
        }
    }

    /// An idle kept-alive connection became readable: the server closed it
    /// (or sent bytes nobody asked for, which is as good as closing). Drops
    /// the socket and returns true when so.
    pub fn idle_closed(&mut self) -> bool {
        let Some(s) = self.socket.as_mut() else {
            return false;
        };
        let mut byte = [0u8; 1];
        match s.read(&mut byte) {
            Err(e) if e.kind() == IoKind::WouldBlock => false,
            _ => self.close(),
        }
    }

    /// Feeds the read buffer to the response reader; `Some` once the
    /// response is complete or cannot be read.
    fn parse(&mut self, check: &ResponseCheck) -> Option<Result<(), Failure>> {
        let expected = check.body.as_deref();
        let Conn {
            buf,
            filled,
            reader,
            check_body,
            body_pos,
            body_ok,
            ..
        } = self;
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
        let (progress, used) = match reader.feed(&buf[..*filled], &mut sink) {
            Ok(p) => p,
            Err(e) => return Some(Err(Failure::Malformed(e))),
        };
        match progress {
            ReadProgress::NeedMore => {
                buf.copy_within(used..*filled, 0);
                *filled -= used;
                if *filled == buf.len() {
                    return Some(Err(Failure::HeadTooLarge(READ_BUFFER)));
                }
                None
            }
            ReadProgress::Complete { used } => {
                if used < *filled {
                    return Some(Err(Failure::Trailing(*filled - used)));
                }
                *filled = 0;
                Some(self.judge(check))
            }
        }
    }

    /// Whether a complete response is the one the workload must get.
    fn judge(&self, check: &ResponseCheck) -> Result<(), Failure> {
        let r = &self.reader;
        if !check.status_ok(r.status) {
            return Err(Failure::Status(r.status));
        }
        if let Some(e) = check.body.as_deref() {
            if r.body_len != e.len() as u64 {
                return Err(Failure::BodyLength {
                    got: r.body_len,
                    want: e.len(),
                });
            }
        }
        if self.check_body && !self.body_ok {
            return Err(Failure::BodyBytes);
        }
        Ok(())
    }

    /// The server closed the connection: the end of a body that runs to the
    /// close, or a response cut short.
    fn eof(&mut self, check: &ResponseCheck) -> ConnStep {
        if self.reader.eof_completes() {
            return ConnStep::Done(self.judge(check));
        }
        ConnStep::Lost(io::Error::from(IoKind::UnexpectedEof))
    }
}
