//! A small blocking HTTP/1.x client that sends exact bytes and reads
//! responses strictly.
//!
//! General-purpose clients normalise what they send and repair what they
//! receive, which hides exactly what a conformance check needs to see. This
//! one writes whatever bytes it is given over a plain TCP or Unix socket and
//! keeps a read buffer per connection, so pipelined responses and bytes sent
//! after a response are never lost. Over TLS (`https://`, or nginx in front
//! with the certificate wsgiprobe generated) the same bytes go through a
//! rustls session (`tls.rs`). Each connection is independent; there is
//! no shared state, so connections can be used from many threads at once.

use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::response::{
    body_framing, is_interim, parse_chunk_size, parse_field_line, scan_head, Framing, HeadScan,
    Interim, ParsedHead, Response, HEAD_LIMIT,
};
use super::stream::Stream;
use super::tls::TlsClient;

/// How many bytes one read asks for.
const READ_CHUNK: usize = 64 * 1024;

/// The longest chunk-size line (size plus extensions) accepted.
const CHUNK_LINE_LIMIT: usize = 8 * 1024;

/// The most body bytes a connection keeps of one response unless told
/// otherwise ([`Connection::limit_body`]): far more than any probe answer,
/// and little enough that several connections at once stay small.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// The most 1xx responses accepted before the final one; together their
/// heads may take at most [`HEAD_LIMIT`] bytes.
const INTERIM_LIMIT: usize = 64;

/// Framing bytes of a chunked body dropped from the buffer at once: the
/// buffer holds the de-chunked data and at most this much framing besides.
const COMPACT_AT: usize = 64 * 1024;

/// Where a server listens.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// A TCP host name or address and port.
    Tcp {
        /// Host name or IP address, without IPv6 brackets.
        host: String,
        /// TCP port.
        port: u16,
    },
    /// A Unix domain socket path.
    Unix(PathBuf),
    /// TLS over TCP: `https://`, or nginx terminating TLS in front.
    Tls {
        /// Host name or IP address, without IPv6 brackets; also the name
        /// the certificate must be valid for.
        host: String,
        /// TCP port.
        port: u16,
        /// What the client trusts.
        tls: TlsClient,
    },
}

impl Target {
    /// The value for a Host header: `host:port`, or `localhost` for a Unix
    /// socket, which has no authority of its own.
    pub fn authority(&self) -> String {
        match self {
            Target::Tcp { host, port } | Target::Tls { host, port, .. } if host.contains(':') => {
                format!("[{host}]:{port}")
            }
            Target::Tcp { host, port } | Target::Tls { host, port, .. } => format!("{host}:{port}"),
            Target::Unix(_) => "localhost".to_string(),
        }
    }

    /// The scheme requests to it are made under: `https` over TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        match self {
            Target::Tls { .. } => "https",
            _ => "http",
        }
    }

    /// The host and port of a TCP target (TLS or not).
    pub fn host_port(&self) -> Option<(&str, u16)> {
        match self {
            Target::Tcp { host, port } | Target::Tls { host, port, .. } => Some((host, *port)),
            Target::Unix(_) => None,
        }
    }

    /// The same target, accepting any certificate (`--insecure`); other
    /// targets are returned unchanged.
    pub fn insecure(self) -> Target {
        match self {
            Target::Tls { host, port, .. } => Target::Tls {
                host,
                port,
                tls: TlsClient::insecure(),
            },
            other => other,
        }
    }

    /// Parses `http://host:port/...` (port 80 when absent; any path is
    /// ignored, see [`parse_url`]), `unix:/path/to.sock` or `host:port`.
    pub fn parse(s: &str) -> Result<Target, TargetError> {
        parse_url(s).map(|(target, _)| target)
    }
}

impl fmt::Display for Target {
    /// The form [`Target::parse`] reads back: `host:port` or `unix:/path`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Tcp { .. } => f.write_str(&self.authority()),
            Target::Tls { .. } => write!(f, "https://{}", self.authority()),
            Target::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// Why a target or base URL could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Nothing was given.
    #[error("empty target")]
    Empty,
    /// A scheme other than `http://` or `https://`.
    #[error("unsupported scheme {scheme:?} in {input:?} (expected http://host:port, https://host:port, unix:/path or host:port)")]
    UnsupportedScheme {
        /// The whole input.
        input: String,
        /// The scheme found.
        scheme: String,
    },
    /// No host before the port.
    #[error("missing host in {input:?}")]
    MissingHost {
        /// The whole input.
        input: String,
    },
    /// `host:port` form without a port.
    #[error("missing port in {input:?} (expected host:port)")]
    MissingPort {
        /// The whole input.
        input: String,
    },
    /// A port that is not 1..=65535.
    #[error("invalid port {port:?} in {input:?}")]
    InvalidPort {
        /// The whole input.
        input: String,
        /// The port text found.
        port: String,
    },
    /// `unix:` with nothing after it.
    #[error("empty socket path in {input:?}")]
    EmptySocketPath {
        /// The whole input.
        input: String,
    },
    /// A control character (or, outside a socket path, whitespace): it
    /// would end up in the request line or a header.
    #[error("{input:?} has {ch:?} at byte {at}: a url takes no control characters or whitespace (percent-encode them)")]
    ControlCharacter {
        /// The whole input.
        input: String,
        /// Where, in bytes.
        at: usize,
        /// The character.
        ch: char,
    },
    /// TLS could not be set up for an `https://` URL.
    #[error("cannot verify certificates for {input:?}: {detail}")]
    Tls {
        /// The whole input.
        input: String,
        /// Why.
        detail: String,
    },
    /// Some other syntax problem.
    #[error("invalid target {input:?}: {reason}")]
    Invalid {
        /// The whole input.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Parses a base URL into where to connect and the path requests are made
/// under (`/` when none is given; always `/` for a Unix socket).
///
/// Accepts `http://host[:port][/path]`, `https://host[:port][/path]`
/// (certificates verified against the system's roots; see
/// [`parse_url_with`]), `host:port[/path]` and `unix:/path/to.sock`. IPv6
/// hosts go in brackets. User info, queries and fragments are refused
/// rather than silently dropped.
pub fn parse_url(s: &str) -> Result<(Target, String), TargetError> {
    parse_url_with(s, false)
}

/// [`parse_url`]; `insecure`: an `https://` target accepts any certificate.
pub fn parse_url_with(s: &str, insecure: bool) -> Result<(Target, String), TargetError> {
    let input = || s.to_string();
    let invalid = |reason| TargetError::Invalid {
        input: input(),
        reason,
    };
    if s.is_empty() {
        return Err(TargetError::Empty);
    }
    // A CR or LF here would split the request line and inject a header.
    let socket = s.starts_with("unix:");
    if let Some((at, ch)) = s
        .char_indices()
        .find(|&(_, c)| c.is_control() || (!socket && c.is_whitespace()))
    {
        return Err(TargetError::ControlCharacter {
            input: input(),
            at,
            ch,
        });
    }
    if let Some(path) = s.strip_prefix("unix:") {
        if path.is_empty() {
            return Err(TargetError::EmptySocketPath { input: input() });
        }
        return Ok((Target::Unix(PathBuf::from(path)), "/".to_string()));
    }
    let (rest, bare, tls) = match s.find("://") {
        Some(i) => {
            let scheme = &s[..i];
            let tls = if scheme.eq_ignore_ascii_case("https") {
                true
            } else if scheme.eq_ignore_ascii_case("http") {
                false
            } else {
                return Err(TargetError::UnsupportedScheme {
                    input: input(),
                    scheme: scheme.to_string(),
                });
            };
            (&s[i + 3..], false, tls)
        }
        None => (s, true, false),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if authority.contains(['?', '#']) || path.contains(['?', '#']) {
        return Err(invalid("a query or fragment has no place in a base url"));
    }
    if authority.contains('@') {
        return Err(invalid("user info is not supported"));
    }
    if authority
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid("whitespace or control character in host"));
    }

    let (host, port) = if let Some(after_bracket) = authority.strip_prefix('[') {
        let Some((host, after)) = after_bracket.split_once(']') else {
            return Err(invalid("unclosed '[' in host"));
        };
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| invalid("unexpected text after ']'"))?,
            ),
        };
        (host, port)
    } else {
        match authority.split_once(':') {
            Some((_, p)) if p.contains(':') => {
                return Err(invalid("an ipv6 address must be in brackets"));
            }
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(TargetError::MissingHost { input: input() });
    }
    let port = match (port, bare) {
        (None, true) => return Err(TargetError::MissingPort { input: input() }),
        // RFC 3986 3.2.3: an absent or empty port means the scheme's default.
        (None | Some(""), false) if tls => 443,
        (None | Some(""), false) => 80,
        (Some(p), _) => p
            .parse::<u16>()
            .ok()
            .filter(|&n| n != 0 && p.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| TargetError::InvalidPort {
                input: input(),
                port: p.to_string(),
            })?,
    };
    let path = if path.is_empty() { "/" } else { path };
    let host = host.to_string();
    let target = if !tls {
        Target::Tcp { host, port }
    } else if insecure {
        Target::Tls {
            host,
            port,
            tls: TlsClient::insecure(),
        }
    } else {
        let tls = TlsClient::system().map_err(|e| TargetError::Tls {
            input: input(),
            detail: e.to_string(),
        })?;
        Target::Tls { host, port, tls }
    };
    Ok((target, path.to_string()))
}

/// Time limits for one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timeouts {
    /// Limit for establishing a TCP connection (zero: the system's own).
    pub connect: Duration,
    /// Limit for each single read or write (zero: none).
    pub io: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(5),
            io: Duration::from_secs(10),
        }
    }
}

/// Which part of an exchange was under way when something went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Establishing the connection.
    Connect,
    /// Sending request bytes.
    Write,
    /// Reading a status line.
    StatusLine,
    /// Reading header fields.
    Headers,
    /// Reading a body, its chunk framing or trailers.
    Body,
    /// Waiting for the server to close the connection.
    Close,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Connect => "connect",
            Phase::Write => "write",
            Phase::StatusLine => "status line",
            Phase::Headers => "headers",
            Phase::Body => "body",
            Phase::Close => "wait for close",
        })
    }
}

/// What can go wrong talking to a server.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The connection could not be established.
    #[error("cannot connect to {target}")]
    Connect {
        /// The target as displayed.
        target: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The TLS handshake failed (an untrusted certificate, most often).
    #[error("TLS handshake with {target} failed (trusting {trust}; for a self-signed certificate add --insecure)")]
    Tls {
        /// The target as displayed.
        target: String,
        /// What the client trusted.
        trust: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A time limit ran out.
    #[error("timed out during {phase}")]
    Timeout {
        /// What was under way.
        phase: Phase,
    },
    /// The server closed (or reset) the connection before the response was
    /// complete.
    #[error("connection closed during {phase} after {received} bytes of the response")]
    Closed {
        /// What was under way.
        phase: Phase,
        /// Bytes of this response received, interim responses included;
        /// they remain readable through [`Connection::leftover`].
        received: usize,
    },
    /// The body went past what the connection keeps of one response; the
    /// rest was not read.
    #[error("response body exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// The limit ([`Connection::limit_body`]).
        limit: usize,
    },
    /// The response broke the HTTP/1.1 message syntax.
    #[error("malformed response: {what}")]
    Malformed {
        /// What was wrong, with an excerpt of the offending bytes.
        what: String,
    },
    /// Any other socket error.
    #[error("i/o error during {phase}")]
    Io {
        /// What was under way.
        phase: Phase,
        /// The error.
        #[source]
        source: io::Error,
    },
}

fn malformed(what: String) -> HttpError {
    HttpError::Malformed { what }
}

/// A line found in the buffer.
struct Line {
    /// End of the line's content (before CRLF or bare LF).
    end: usize,
    /// Start of whatever follows the line end.
    next: usize,
    /// Whether it ended in a bare LF.
    bare_lf: bool,
}

/// One open connection: the socket plus bytes read but not yet consumed.
pub struct Connection {
    stream: Stream,
    timeouts: Timeouts,
    /// Bytes received and not yet part of a returned response. On error the
    /// partial response stays here, so reports can show what arrived (a
    /// chunked body as far as it was de-chunked).
    buf: Vec<u8>,
    /// The peer has closed its side (or reset the connection).
    eof: bool,
    /// The most body bytes kept of one response.
    body_limit: usize,
    /// Chunk framing of the response being read, dropped from `buf`.
    dropped: usize,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("stream", &self.stream)
            .field("timeouts", &self.timeouts)
            .field("buffered", &self.buf.len())
            .field("eof", &self.eof)
            .field("body_limit", &self.body_limit)
            .finish()
    }
}

/// One request on a fresh connection, its response read within `timeout`
/// (connecting takes at most 5 s of it). `head`: the request was a HEAD.
/// At most [`DEFAULT_BODY_LIMIT`] body bytes are kept.
pub fn round_trip(
    target: &Target,
    bytes: &[u8],
    head: bool,
    timeout: Duration,
) -> Result<Response, HttpError> {
    round_trip_capped(target, bytes, head, timeout, DEFAULT_BODY_LIMIT)
}

/// [`round_trip`], keeping at most `body_limit` body bytes: a longer body
/// is [`HttpError::BodyTooLarge`].
pub fn round_trip_capped(
    target: &Target,
    bytes: &[u8],
    head: bool,
    timeout: Duration,
    body_limit: usize,
) -> Result<Response, HttpError> {
    let deadline = Instant::now() + timeout;
    let mut conn = Connection::open(
        target,
        Timeouts {
            connect: timeout.min(Duration::from_secs(5)),
            io: timeout,
        },
    )?;
    conn.limit_body(body_limit);
    conn.send(bytes)?;
    conn.read_response(head, deadline)
}

impl Connection {
    /// Connects to a target. TCP connections try each resolved address in
    /// turn within the connect timeout and disable Nagle's algorithm, so a
    /// request written in pieces goes out as written.
    pub fn open(target: &Target, timeouts: Timeouts) -> Result<Connection, HttpError> {
        Connection::open_from(target, timeouts, None)
    }

    /// Like [`Connection::open`], with the client's end of a TCP
    /// connection bound to `source` first (`127.0.0.2`, so that a server
    /// behind nginx can tell the client's address from nginx's).
    pub fn open_from(
        target: &Target,
        timeouts: Timeouts,
        source: Option<IpAddr>,
    ) -> Result<Connection, HttpError> {
        let stream = Stream::open(target, timeouts, source)?;
        let io_limit = (!timeouts.io.is_zero()).then_some(timeouts.io);
        let io_err = |source| HttpError::Io {
            phase: Phase::Connect,
            source,
        };
        stream.set_read_timeout(io_limit).map_err(io_err)?;
        stream.set_write_timeout(io_limit).map_err(io_err)?;
        Ok(Connection {
            stream,
            timeouts,
            buf: Vec::new(),
            eof: false,
            body_limit: DEFAULT_BODY_LIMIT,
            dropped: 0,
        })
    }

    /// Keeps at most `limit` body bytes of a response (default
    /// [`DEFAULT_BODY_LIMIT`]): a longer body is [`HttpError::BodyTooLarge`],
    /// and whatever else is waited for (bytes after a response, a head)
    /// never holds more than about this much either. Memory per connection
    /// is bounded by it whatever the server sends.
    pub fn limit_body(&mut self, limit: usize) {
        self.body_limit = limit;
    }

    /// The most bytes the buffer may hold: a body at its limit, with room
    /// for its heads (interim ones included), its framing and one read.
    fn buffer_limit(&self) -> usize {
        self.body_limit
            .saturating_add(3 * HEAD_LIMIT)
            .saturating_add(COMPACT_AT + READ_CHUNK)
    }

    /// Writes all of these bytes, each write bounded by the io timeout.
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), HttpError> {
        self.stream
            .write_all(bytes)
            .and_then(|()| self.stream.flush())
            .map_err(|e| match e.kind() {
                ErrorKind::WouldBlock | ErrorKind::TimedOut => HttpError::Timeout {
                    phase: Phase::Write,
                },
                _ => HttpError::Io {
                    phase: Phase::Write,
                    source: e,
                },
            })
    }

    /// Reads one response. `head` = the request was HEAD (no body whatever
    /// the headers say, RFC 9112 6.3). `deadline` bounds the whole read:
    /// each read call waits at most the io timeout or until the deadline,
    /// whichever is sooner, and running out of either is a Timeout.
    ///
    /// 1xx responses other than 101 are collected into
    /// [`Response::interim`] and reading goes on to the final response.
    /// Bytes after the response stay buffered for the next call; on error
    /// everything received for this response stays in [`Connection::leftover`].
    pub fn read_response(&mut self, head: bool, deadline: Instant) -> Result<Response, HttpError> {
        let mut start = 0;
        let mut interim = Vec::new();
        let mut bare_lf = false;
        self.dropped = 0;
        loop {
            let h = self.read_head(start, deadline)?;
            bare_lf |= h.bare_lf;
            let status = h.line.status;
            let end = start + h.len;
            if is_interim(status) {
                if interim.len() == INTERIM_LIMIT || end > HEAD_LIMIT {
                    return Err(malformed(format!(
                        "more than {INTERIM_LIMIT} interim (1xx) responses, or more than {HEAD_LIMIT} bytes of them"
                    )));
                }
                interim.push(Interim {
                    status,
                    reason: h.line.reason,
                    headers: h.headers,
                });
                start = end;
                continue;
            }
            let framing = body_framing(status, &h.headers, head).map_err(malformed)?;
            let raw_head = self.buf[start..end].to_vec();
            let mut trailers = Vec::new();
            let (body_end, message_end) = match framing {
                Framing::NoBody => (end, end),
                Framing::ContentLength(n) => self.read_sized(end, n, deadline)?,
                Framing::UntilClose => self.read_until_close(end, deadline)?,
                Framing::Chunked => {
                    self.read_chunked(end, deadline, &mut trailers, &mut bare_lf)?
                }
            };
            let body = self.take_body(end..body_end, message_end);
            return Ok(Response {
                version: h.line.version,
                status,
                reason: h.line.reason,
                headers: h.headers,
                body,
                framing,
                trailers,
                interim,
                raw_head,
                bare_lf,
            });
        }
    }

    /// Waits until the peer closes (read returns 0, or the connection is
    /// reset) or the deadline passes: Ok(true) if closed, Ok(false) if still
    /// open. Anything received meanwhile is kept in [`Connection::leftover`].
    pub fn wait_closed(&mut self, deadline: Instant) -> Result<bool, HttpError> {
        loop {
            if self.eof {
                return Ok(true);
            }
            match self.fill(Phase::Close, deadline) {
                Ok(_) => {}
                Err(HttpError::Timeout { .. }) if Instant::now() >= deadline => return Ok(false),
                // An io-step timeout before the deadline: keep waiting.
                Err(HttpError::Timeout { .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Takes the body out of the buffer without copying it, and drops the
    /// rest of the message; what follows the message stays buffered.
    fn take_body(&mut self, body: std::ops::Range<usize>, message_end: usize) -> Vec<u8> {
        let rest = self.buf.split_off(message_end);
        self.buf.truncate(body.end);
        self.buf.drain(..body.start);
        std::mem::replace(&mut self.buf, rest)
    }

    /// Bytes received but not consumed by a returned response.
    pub fn leftover(&self) -> &[u8] {
        &self.buf
    }

    /// Whether the peer has been seen to close or reset the connection.
    pub fn peer_closed(&self) -> bool {
        self.eof
    }

    /// Closes the sending side, so the server sees the end of the request
    /// stream while the response can still be read. A connection the peer
    /// has already torn down counts as shut.
    pub fn shutdown_write(&mut self) -> Result<(), HttpError> {
        match self.stream.shutdown_write() {
            Err(e) if e.kind() != ErrorKind::NotConnected => Err(HttpError::Io {
                phase: Phase::Write,
                source: e,
            }),
            _ => Ok(()),
        }
    }

    /// Reads more bytes onto the buffer; Ok(0) once the peer has closed.
    fn fill(&mut self, phase: Phase, deadline: Instant) -> Result<usize, HttpError> {
        if self.eof {
            return Ok(0);
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(HttpError::Timeout { phase });
        }
        if self.buf.len() >= self.buffer_limit() {
            return Err(HttpError::BodyTooLarge {
                limit: self.body_limit,
            });
        }
        let step = if self.timeouts.io.is_zero() {
            remaining
        } else {
            remaining.min(self.timeouts.io)
        };
        self.stream
            .set_read_timeout(Some(step))
            .map_err(|source| HttpError::Io { phase, source })?;
        let old = self.buf.len();
        self.buf.resize(old + READ_CHUNK, 0);
        let result = loop {
            match self.stream.read(&mut self.buf[old..]) {
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        let n = *result.as_ref().unwrap_or(&0);
        self.buf.truncate(old + n);
        match result {
            Ok(0) => {
                self.eof = true;
                Ok(0)
            }
            Ok(n) => Ok(n),
            Err(e) => match e.kind() {
                ErrorKind::WouldBlock | ErrorKind::TimedOut => Err(HttpError::Timeout { phase }),
                // A reset ends the stream just as a close does; the response
                // is then as incomplete as it is.
                // A TLS peer that closes without close_notify reads as an
                // unexpected end, which ends the stream all the same.
                ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::UnexpectedEof => {
                    self.eof = true;
                    Ok(0)
                }
                _ => Err(HttpError::Io { phase, source: e }),
            },
        }
    }

    /// Like `fill`, but the peer closing is an error: more was expected.
    fn more(&mut self, phase: Phase, deadline: Instant) -> Result<(), HttpError> {
        match self.fill(phase, deadline)? {
            0 => Err(HttpError::Closed {
                phase,
                received: self.buf.len() + self.dropped,
            }),
            _ => Ok(()),
        }
    }

    /// Finds the line starting at `start`, reading as needed. The line,
    /// its end included, may be at most `max` bytes long.
    fn read_line(
        &mut self,
        start: usize,
        phase: Phase,
        deadline: Instant,
        max: usize,
        too_long: &dyn Fn() -> String,
    ) -> Result<Line, HttpError> {
        let mut scanned = start;
        loop {
            if let Some(i) = self.buf[scanned..].iter().position(|&b| b == b'\n') {
                let lf = scanned + i;
                if lf + 1 - start > max {
                    return Err(malformed(too_long()));
                }
                // RFC 9112 2.2: lines end in CRLF, though a recipient may
                // accept a bare LF; those are accepted and flagged.
                let bare_lf = lf == start || self.buf[lf - 1] != b'\r';
                return Ok(Line {
                    end: if bare_lf { lf } else { lf - 1 },
                    next: lf + 1,
                    bare_lf,
                });
            }
            scanned = self.buf.len();
            if scanned - start >= max {
                return Err(malformed(too_long()));
            }
            self.more(phase, deadline)?;
        }
    }

    /// Reads until the head starting at `start` is complete, and parses it
    /// (see [`scan_head`]).
    fn read_head(&mut self, start: usize, deadline: Instant) -> Result<ParsedHead, HttpError> {
        loop {
            match scan_head(&self.buf[start..]).map_err(malformed)? {
                HeadScan::Complete(head) => return Ok(head),
                HeadScan::Incomplete { in_status_line } => {
                    let phase = if in_status_line {
                        Phase::StatusLine
                    } else {
                        Phase::Headers
                    };
                    self.more(phase, deadline)?;
                }
            }
        }
    }

    fn too_large(&self) -> HttpError {
        HttpError::BodyTooLarge {
            limit: self.body_limit,
        }
    }

    /// Reads exactly `len` body bytes starting at `start`; where the body
    /// and the message end. A length past the body limit is refused before
    /// anything of it is read.
    fn read_sized(
        &mut self,
        start: usize,
        len: u64,
        deadline: Instant,
    ) -> Result<(usize, usize), HttpError> {
        let end = usize::try_from(len)
            .ok()
            .filter(|&n| n <= self.body_limit)
            .and_then(|n| start.checked_add(n))
            .ok_or_else(|| self.too_large())?;
        while self.buf.len() < end {
            self.more(Phase::Body, deadline)?;
        }
        Ok((end, end))
    }

    /// Reads everything until the peer closes, or past the body limit.
    fn read_until_close(
        &mut self,
        start: usize,
        deadline: Instant,
    ) -> Result<(usize, usize), HttpError> {
        loop {
            if self.buf.len() - start > self.body_limit {
                return Err(self.too_large());
            }
            if self.fill(Phase::Body, deadline)? == 0 {
                return Ok((self.buf.len(), self.buf.len()));
            }
        }
    }

    /// Reads a chunked body (RFC 9112 7.1) starting at `start` and
    /// de-chunks it in place, so the data is held once: returns where the
    /// de-chunked body and the message end in the buffer.
    fn read_chunked(
        &mut self,
        start: usize,
        deadline: Instant,
        trailers: &mut Vec<(String, String)>,
        bare_lf: &mut bool,
    ) -> Result<(usize, usize), HttpError> {
        // buf: [heads][de-chunked body: start..out][framing already read: out..pos][unread]
        let mut out = start;
        let mut pos = start;
        let size_too_long = || format!("chunk size line exceeds {CHUNK_LINE_LIMIT} bytes");
        loop {
            if pos - out >= COMPACT_AT {
                // Dropping framing costs a move of what follows it (one
                // read at most), once per COMPACT_AT bytes of framing.
                self.buf.drain(out..pos);
                self.dropped += pos - out;
                pos = out;
            }
            let l = self.read_line(pos, Phase::Body, deadline, CHUNK_LINE_LIMIT, &size_too_long)?;
            *bare_lf |= l.bare_lf;
            let size = parse_chunk_size(&self.buf[pos..l.end]).map_err(malformed)?;
            pos = l.next;
            if size == 0 {
                break;
            }
            let data_end = usize::try_from(size)
                .ok()
                .filter(|&n| n <= self.body_limit - (out - start))
                .and_then(|n| pos.checked_add(n))
                .ok_or_else(|| self.too_large())?;
            // The data and at least the first byte of the line end after it.
            while self.buf.len() <= data_end {
                self.more(Phase::Body, deadline)?;
            }
            self.buf.copy_within(pos..data_end, out);
            out += data_end - pos;
            pos = match self.buf[data_end] {
                b'\n' => {
                    *bare_lf = true;
                    data_end + 1
                }
                b'\r' => {
                    while self.buf.len() <= data_end + 1 {
                        self.more(Phase::Body, deadline)?;
                    }
                    if self.buf[data_end + 1] != b'\n' {
                        return Err(malformed("chunk data not followed by CRLF".to_string()));
                    }
                    data_end + 2
                }
                _ => return Err(malformed("chunk data not followed by CRLF".to_string())),
            };
        }
        // RFC 9112 7.1.2: trailer-section = *( field-line CRLF ), then CRLF.
        let trailer_start = pos;
        let trailers_too_long = || format!("trailer section exceeds {HEAD_LIMIT} bytes");
        loop {
            let max = HEAD_LIMIT - (pos - trailer_start);
            let l = self.read_line(pos, Phase::Body, deadline, max, &trailers_too_long)?;
            *bare_lf |= l.bare_lf;
            if l.end == pos {
                return Ok((out, l.next));
            }
            trailers.push(parse_field_line(&self.buf[pos..l.end]).map_err(malformed)?);
            pos = l.next;
        }
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
