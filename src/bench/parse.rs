//! An incremental HTTP/1.1 response reader for the load engine.
//!
//! Unlike the conformance client (`crate::http`), it never keeps a body: the
//! head is parsed in place with `httparse`, body bytes are handed to a sink
//! as they arrive (so a sampled response can be compared without a copy) and
//! then forgotten. Nothing here allocates per response.

/// Most header lines one response head may have.
const MAX_HEADERS: usize = 64;

/// What went wrong with a response's bytes. Plain data (no allocation):
/// only the first error of a run is ever turned into text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// The head is not HTTP/1.x: what httparse found, and how the head began.
    Head {
        error: httparse::Error,
        start: Excerpt,
    },
    /// A bad chunk-size line or chunk terminator: the byte that broke it
    /// and what was expected there.
    Chunk { byte: u8, expected: &'static str },
    /// A Content-Length that is not a number, or two that differ.
    Length,
}

/// The first bytes of something, kept without allocating.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Excerpt {
    bytes: [u8; 32],
    len: u8,
    /// There was more.
    cut: bool,
}

impl Excerpt {
    pub fn of(b: &[u8]) -> Excerpt {
        let mut bytes = [0u8; 32];
        let len = b.len().min(bytes.len());
        bytes[..len].copy_from_slice(&b[..len]);
        Excerpt {
            bytes,
            len: len as u8,
            cut: b.len() > len,
        }
    }
}

impl std::fmt::Debug for Excerpt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text: String = self.bytes[..usize::from(self.len)]
            .iter()
            .map(|&b| char::from(b))
            .collect();
        write!(f, "{text:?}{}", if self.cut { "..." } else { "" })
    }
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::Head {
                error: httparse::Error::TooManyHeaders,
                ..
            } => write!(
                f,
                "the response head has more than {MAX_HEADERS} header lines"
            ),
            ParseError::Head { error, start } => {
                write!(
                    f,
                    "the response head is not HTTP/1.x ({error}); it starts {start:?}"
                )
            }
            ParseError::Chunk { byte, expected } => write!(
                f,
                "bad chunked framing: byte {:?} where {expected} was expected",
                char::from(*byte)
            ),
            ParseError::Length => {
                f.write_str("a Content-Length that is not a number, or two that differ")
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    /// Bytes left of a Content-Length body.
    Length(u64),
    /// Reading a chunk-size line: the size so far, whether in an extension.
    ChunkSize {
        size: u64,
        digits: u8,
        ext: bool,
    },
    /// Expecting the LF that ends a chunk-size line.
    ChunkSizeLf(u64),
    ChunkData(u64),
    /// The CRLF after chunk data; how many of its bytes were seen.
    ChunkEnd(u8),
    /// Trailer section: length of the current line so far, whether a CR was seen.
    Trailer {
        line: u32,
        cr: bool,
    },
    /// A body that ends when the server closes the connection.
    UntilClose,
    Done,
}

/// Outcome of feeding bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadProgress {
    /// More bytes are needed; the caller keeps what was not consumed.
    NeedMore,
    /// The response ended after `used` bytes of the input.
    Complete { used: usize },
}

/// Reads one response after another from a connection's byte stream.
#[derive(Debug)]
pub struct ResponseReader {
    state: State,
    /// Status of the response being read.
    pub status: u16,
    /// The server will close the connection after this response.
    pub close: bool,
    /// Body bytes seen so far.
    pub body_len: u64,
    /// Content-Length, when the response had one.
    pub declared_len: Option<u64>,
    /// Any byte of a response was seen.
    pub started: bool,
}

impl Default for ResponseReader {
    fn default() -> Self {
        ResponseReader {
            state: State::Head,
            status: 0,
            close: false,
            body_len: 0,
            declared_len: None,
            started: false,
        }
    }
}

impl ResponseReader {
    /// Ready for the next response.
    pub fn reset(&mut self) {
        *self = ResponseReader::default();
    }

    /// Whether the head is still being read (the caller must keep unread bytes).
    pub fn in_head(&self) -> bool {
        self.state == State::Head
    }

    /// Feeds bytes. While in the head, returns `(NeedMore, 0)` without
    /// consuming anything until the whole head is in `input`; the caller keeps
    /// the bytes and calls again with more. Body bytes go to `sink`.
    /// Returns the progress and how many bytes were consumed.
    pub fn feed(
        &mut self,
        input: &[u8],
        sink: &mut impl FnMut(&[u8]),
    ) -> Result<(ReadProgress, usize), ParseError> {
        let mut pos = 0;
        if !input.is_empty() {
            self.started = true;
        }
        loop {
            let rest = &input[pos..];
            match self.state {
                State::Done => return Ok((ReadProgress::Complete { used: pos }, pos)),
                State::Head => match self.head(rest)? {
                    Some(n) => pos += n,
                    None => return Ok((ReadProgress::NeedMore, pos)),
                },
                State::Length(left) => {
                    if left == 0 {
                        self.state = State::Done;
                        continue;
                    }
                    if rest.is_empty() {
                        return Ok((ReadProgress::NeedMore, pos));
                    }
                    let n = (left.min(rest.len() as u64)) as usize;
                    sink(&rest[..n]);
                    self.body_len += n as u64;
                    pos += n;
                    self.state = State::Length(left - n as u64);
                }
                State::UntilClose => {
                    sink(rest);
                    self.body_len += rest.len() as u64;
                    return Ok((ReadProgress::NeedMore, input.len()));
                }
                State::ChunkData(left) => {
                    if rest.is_empty() {
                        return Ok((ReadProgress::NeedMore, pos));
                    }
                    let n = (left.min(rest.len() as u64)) as usize;
                    sink(&rest[..n]);
                    self.body_len += n as u64;
                    pos += n;
                    self.state = if left == n as u64 {
                        State::ChunkEnd(0)
                    } else {
                        State::ChunkData(left - n as u64)
                    };
                }
                _ => {
                    let Some(&b) = rest.first() else {
                        return Ok((ReadProgress::NeedMore, pos));
                    };
                    pos += 1;
                    self.framing_byte(b)?;
                }
            }
        }
    }

    /// One byte of chunk framing (size lines, terminators, trailers).
    fn framing_byte(&mut self, b: u8) -> Result<(), ParseError> {
        let bad = |expected| ParseError::Chunk { byte: b, expected };
        self.state = match self.state {
            State::ChunkSize { size, digits, ext } => match b {
                b'\r' => State::ChunkSizeLf(size),
                b'\n' if digits > 0 => self.after_size(size),
                _ if ext => State::ChunkSize { size, digits, ext },
                b';' | b' ' | b'\t' if digits > 0 => State::ChunkSize {
                    size,
                    digits,
                    ext: true,
                },
                _ => {
                    let d = (b as char)
                        .to_digit(16)
                        .ok_or_else(|| bad("a hex digit of a chunk size"))?;
                    if digits >= 15 {
                        return Err(bad("the end of a chunk size of at most 15 digits"));
                    }
                    State::ChunkSize {
                        size: size * 16 + u64::from(d),
                        digits: digits + 1,
                        ext,
                    }
                }
            },
            State::ChunkSizeLf(size) if b == b'\n' => self.after_size(size),
            State::ChunkEnd(0) if b == b'\r' => State::ChunkEnd(1),
            State::ChunkEnd(_) if b == b'\n' => State::ChunkSize {
                size: 0,
                digits: 0,
                ext: false,
            },
            State::Trailer { line, cr } => match b {
                b'\n' if line == 0 => State::Done,
                b'\n' => State::Trailer { line: 0, cr: false },
                b'\r' if !cr => State::Trailer { line, cr: true },
                _ => State::Trailer {
                    line: line.saturating_add(1),
                    cr: false,
                },
            },
            State::ChunkSizeLf(_) => return Err(bad("LF after CR ending a chunk size")),
            State::ChunkEnd(_) => return Err(bad("CRLF after chunk data")),
            _ => return Err(bad("chunk framing")),
        };
        Ok(())
    }

    fn after_size(&self, size: u64) -> State {
        if size == 0 {
            State::Trailer { line: 0, cr: false }
        } else {
            State::ChunkData(size)
        }
    }

    /// Parses the head when it is complete; `Some(bytes used)`.
    fn head(&mut self, input: &[u8]) -> Result<Option<usize>, ParseError> {
        // Uninitialised slots: zeroing 64 headers per response costs more
        // than parsing a short head.
        let mut headers = [std::mem::MaybeUninit::<httparse::Header>::uninit(); MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut []);
        let used = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
            &mut resp,
            input,
            &mut headers,
        ) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(error) => {
                return Err(ParseError::Head {
                    error,
                    start: Excerpt::of(input),
                })
            }
        };
        let status = resp.code.unwrap_or(0);
        let http10 = resp.version == Some(0);
        let mut length: Option<u64> = None;
        let mut chunked = false;
        let mut close = http10;
        for h in resp.headers.iter() {
            let name = h.name.as_bytes();
            if name.eq_ignore_ascii_case(b"content-length") {
                let v = parse_length(h.value).ok_or(ParseError::Length)?;
                if length.is_some_and(|l| l != v) {
                    return Err(ParseError::Length);
                }
                length = Some(v);
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                chunked = last_token_is(h.value, b"chunked");
            } else if name.eq_ignore_ascii_case(b"connection") {
                if contains_token(h.value, b"close") {
                    close = true;
                } else if contains_token(h.value, b"keep-alive") {
                    close = false;
                }
            }
        }
        // RFC 9112 6.3: 1xx, 204 and 304 have no body; interim responses are skipped.
        if (100..200).contains(&status) && status != 101 {
            return Ok(Some(used));
        }
        self.status = status;
        self.close = close;
        self.declared_len = length;
        self.state = if status == 204 || status == 304 {
            State::Done
        } else if chunked {
            State::ChunkSize {
                size: 0,
                digits: 0,
                ext: false,
            }
        } else if let Some(n) = length {
            State::Length(n)
        } else {
            self.close = true;
            State::UntilClose
        };
        Ok(Some(used))
    }

    /// The server closed the connection: whether that completes the response.
    pub fn eof_completes(&self) -> bool {
        self.state == State::UntilClose
    }
}

fn parse_length(v: &[u8]) -> Option<u64> {
    let v = trim(v);
    if v.is_empty() || v.len() > 18 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &v[start..end]
}

fn contains_token(v: &[u8], token: &[u8]) -> bool {
    v.split(|&b| b == b',')
        .any(|t| trim(t).eq_ignore_ascii_case(token))
}

fn last_token_is(v: &[u8], token: &[u8]) -> bool {
    v.split(|&b| b == b',')
        .next_back()
        .is_some_and(|t| trim(t).eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `bytes` in pieces of `step`, keeping unconsumed head bytes as a
    /// connection would; returns (status, body, bytes left in the buffer
    /// after the response).
    fn read_all(bytes: &[u8], step: usize) -> (u16, Vec<u8>, usize) {
        let mut r = ResponseReader::default();
        let mut body = Vec::new();
        let mut buf: Vec<u8> = Vec::new();
        for piece in bytes.chunks(step) {
            buf.extend_from_slice(piece);
            let (p, used) = r.feed(&buf, &mut |b| body.extend_from_slice(b)).unwrap();
            if let ReadProgress::Complete { used } = p {
                return (r.status, body, buf.len() - used);
            }
            buf.drain(..used);
        }
        panic!("response did not complete")
    }

    #[test]
    fn content_length_body_in_any_split() {
        let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloX";
        for step in 1..resp.len() {
            let (status, body, _) = read_all(resp, step);
            assert_eq!(status, 200);
            assert_eq!(body, b"hello", "step {step}");
        }
    }

    #[test]
    fn chunked_body_with_extension_and_trailer() {
        let resp =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n";
        for step in 1..resp.len() {
            let (status, body, rest) = read_all(resp, step);
            assert_eq!((status, body.as_slice(), rest), (200, &b"abcde"[..], 0));
        }
    }

    #[test]
    fn interim_response_is_skipped_and_close_is_seen() {
        let resp = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 500 Oops\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
        let mut r = ResponseReader::default();
        let (p, _) = r.feed(resp, &mut |_| {}).unwrap();
        assert!(matches!(p, ReadProgress::Complete { .. }));
        assert_eq!(r.status, 500);
        assert!(r.close);
    }

    #[test]
    fn body_until_close() {
        let mut r = ResponseReader::default();
        let mut n = 0;
        let (p, _) = r
            .feed(b"HTTP/1.0 200 OK\r\n\r\nabc", &mut |b| n += b.len())
            .unwrap();
        assert_eq!(p, ReadProgress::NeedMore);
        assert!(r.eof_completes() && r.close);
        assert_eq!(n, 3);
    }

    #[test]
    fn garbage_is_an_error() {
        let mut r = ResponseReader::default();
        assert_eq!(
            r.feed(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                &mut |_| {}
            ),
            Err(ParseError::Chunk {
                byte: b'z',
                expected: "a hex digit of a chunk size"
            })
        );
        let mut r = ResponseReader::default();
        let e = r.feed(b"NOT HTTP\r\n\r\n", &mut |_| {}).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the response head is not HTTP/1.x (invalid HTTP version); it starts \"NOT HTTP\\r\\n\\r\\n\""
        );
    }

    #[test]
    fn errors_say_what_was_malformed() {
        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        many.extend(b"X: y\r\n".repeat(MAX_HEADERS + 1));
        many.extend(b"\r\n");
        let mut r = ResponseReader::default();
        let e = r.feed(&many, &mut |_| {}).unwrap_err();
        assert!(e.to_string().contains("more than 64 header lines"), "{e}");
        let mut r = ResponseReader::default();
        let e = r
            .feed(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab",
                &mut |_| {},
            )
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "bad chunked framing: byte 'b' where CRLF after chunk data was expected"
        );
        let mut r = ResponseReader::default();
        let e = r
            .feed(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", &mut |_| {})
            .unwrap_err();
        assert!(e.to_string().contains("Content-Length"), "{e}");
        let long = Excerpt::of(&[b'g'; 100]);
        assert_eq!(format!("{long:?}"), format!("{:?}...", "g".repeat(32)));
    }
}
