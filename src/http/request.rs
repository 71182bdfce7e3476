//! Requests as exact bytes.
//!
//! A conformance check has to send requests a well-behaved client never
//! would: raw non-ASCII bytes in the target, duplicate or contradictory
//! headers, HTTP/1.0, hand-made chunked bodies. So a request here is a list
//! of byte strings written out verbatim; nothing is normalised, validated or
//! added behind the caller's back.

use std::fmt::Write as _;

/// A header given on the command line that cannot go on the wire as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("header name {0:?} is not a token (letters, digits and !#$%&'*+-.^_`|~)")]
    Name(String),
    #[error("header {name}: {ch:?} at byte {at} of its value is a control character (a CR or LF would end the header and start another)")]
    Value { name: String, at: usize, ch: char },
}

/// Checks a header a user typed (`Name: value`, say from a command-line
/// flag) before it is written verbatim: the name must be a token and the
/// value must hold no control character but HTAB (RFC 9110 5.1, 5.5).
/// Cases build their own odd headers on purpose; this is for what a
/// user means to send as an ordinary header.
pub fn check_header(name: &str, value: &str) -> Result<(), HeaderError> {
    let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(tchar) {
        return Err(HeaderError::Name(name.to_string()));
    }
    match value
        .char_indices()
        .find(|&(_, c)| c.is_control() && c != '\t')
    {
        Some((at, ch)) => Err(HeaderError::Value {
            name: name.to_string(),
            at,
            ch,
        }),
        None => Ok(()),
    }
}

/// The body of a request, and how it is written after the head.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RequestBody {
    /// No body bytes at all.
    #[default]
    None,
    /// These bytes, verbatim (the caller supplies any Content-Length).
    Bytes(Vec<u8>),
    /// The chunked transfer coding (RFC 9112 7.1), one chunk per element;
    /// the caller supplies the Transfer-Encoding header.
    Chunked(Vec<Vec<u8>>),
}

/// Everything needed to write one request, byte for byte.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestParts {
    /// The method token, e.g. `GET`.
    pub method: Vec<u8>,
    /// The request target, e.g. `/path?query`; may hold any bytes.
    pub target: Vec<u8>,
    /// The protocol version, e.g. `HTTP/1.1`; empty writes a request line
    /// without one (the HTTP/0.9 form).
    pub version: Vec<u8>,
    /// Header fields, written in this order as `name: value`.
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// What follows the head.
    pub body: RequestBody,
}

impl RequestParts {
    /// An `HTTP/1.1` request with no headers and no body.
    pub fn new(method: impl Into<Vec<u8>>, target: impl Into<Vec<u8>>) -> RequestParts {
        RequestParts {
            method: method.into(),
            target: target.into(),
            version: b"HTTP/1.1".to_vec(),
            headers: Vec::new(),
            body: RequestBody::None,
        }
    }

    /// Appends a header field after those already present.
    pub fn with_header(mut self, name: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Replaces the body.
    pub fn with_body(mut self, body: RequestBody) -> Self {
        self.body = body;
        self
    }

    /// The request as it goes on the wire: request line, the headers exactly
    /// as given, the empty line, then the body.
    ///
    /// No header is added or changed: Host, Content-Length and
    /// Transfer-Encoding are the caller's to write, since several checks are
    /// about requests that get them wrong on purpose.
    pub fn to_bytes(&self) -> Vec<u8> {
        let body_len = match &self.body {
            RequestBody::None => 0,
            RequestBody::Bytes(b) => b.len(),
            RequestBody::Chunked(chunks) => chunks.iter().map(|c| c.len() + 24).sum::<usize>() + 5,
        };
        let head_len = self.method.len()
            + self.target.len()
            + self.version.len()
            + self
                .headers
                .iter()
                .map(|(n, v)| n.len() + v.len() + 4)
                .sum::<usize>()
            + 6;
        let mut out = Vec::with_capacity(head_len + body_len);

        // RFC 9112 3: request-line = method SP request-target SP HTTP-version.
        out.extend_from_slice(&self.method);
        out.push(b' ');
        out.extend_from_slice(&self.target);
        if !self.version.is_empty() {
            out.push(b' ');
            out.extend_from_slice(&self.version);
        }
        out.extend_from_slice(b"\r\n");
        for (name, value) in &self.headers {
            out.extend_from_slice(name);
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");

        match &self.body {
            RequestBody::None => {}
            RequestBody::Bytes(bytes) => out.extend_from_slice(bytes),
            RequestBody::Chunked(chunks) => {
                // An empty chunk would be read as the last-chunk (RFC 9112
                // 7.1) and end the body early, so it cannot be sent as data.
                for chunk in chunks.iter().filter(|c| !c.is_empty()) {
                    let mut size = String::new();
                    let _ = write!(size, "{:x}\r\n", chunk.len());
                    out.extend_from_slice(size.as_bytes());
                    out.extend_from_slice(chunk);
                    out.extend_from_slice(b"\r\n");
                }
                // last-chunk, then an empty trailer section.
                out.extend_from_slice(b"0\r\n\r\n");
            }
        }
        out
    }
}

/// A character that has no single-byte ISO-8859-1 encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("character {ch:?} at position {index} is not latin-1 (above U+00FF)")]
pub struct NotLatin1 {
    /// The offending character.
    pub ch: char,
    /// Its position in the string, counted in characters.
    pub index: usize,
}

/// Encodes a string as ISO-8859-1: each character U+0000..=U+00FF becomes
/// the byte with that value.
///
/// This is the mapping PEP 3333 uses for "native strings", so it is how a
/// test writes bytes such as 0xE9 into a request from text.
pub fn latin1_bytes(s: &str) -> Result<Vec<u8>, NotLatin1> {
    s.chars()
        .enumerate()
        .map(|(index, ch)| u8::try_from(u32::from(ch)).map_err(|_| NotLatin1 { ch, index }))
        .collect()
}

/// Decodes bytes as ISO-8859-1: each byte becomes the character with that
/// code point, so any byte string maps to text and back without loss.
pub fn latin1_string(b: &[u8]) -> String {
    b.iter().map(|&byte| char::from(byte)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_request_exact_bytes() {
        let req = RequestParts::new("POST", "/upload")
            .with_header("Host", "127.0.0.1:8000")
            .with_header("Transfer-Encoding", "chunked")
            .with_body(RequestBody::Chunked(vec![
                b"hello".to_vec(),
                Vec::new(),
                vec![b'x'; 26],
            ]));
        let mut want = b"POST /upload HTTP/1.1\r\n\
            Host: 127.0.0.1:8000\r\n\
            Transfer-Encoding: chunked\r\n\
            \r\n\
            5\r\nhello\r\n\
            1a\r\n"
            .to_vec();
        want.extend_from_slice(&[b'x'; 26]);
        want.extend_from_slice(b"\r\n0\r\n\r\n");
        assert_eq!(req.to_bytes(), want);
    }

    #[test]
    fn headers_kept_verbatim_and_nothing_added() {
        let req = RequestParts {
            method: b"GET".to_vec(),
            target: b"/caf\xe9?a=1".to_vec(),
            version: b"HTTP/1.0".to_vec(),
            headers: vec![
                (b"X-A".to_vec(), b"1".to_vec()),
                (b"x-a".to_vec(), b"2".to_vec()),
            ],
            body: RequestBody::Bytes(b"raw".to_vec()),
        };
        assert_eq!(
            req.to_bytes(),
            b"GET /caf\xe9?a=1 HTTP/1.0\r\nX-A: 1\r\nx-a: 2\r\n\r\nraw".to_vec()
        );
    }

    #[test]
    fn empty_version_writes_simple_request_line() {
        let req = RequestParts {
            version: Vec::new(),
            ..RequestParts::new("GET", "/")
        };
        assert_eq!(req.to_bytes(), b"GET /\r\n\r\n".to_vec());
    }

    #[test]
    fn only_empty_chunks_is_just_last_chunk() {
        let req = RequestParts::new("POST", "/").with_body(RequestBody::Chunked(vec![vec![]]));
        assert_eq!(req.to_bytes(), b"POST / HTTP/1.1\r\n\r\n0\r\n\r\n".to_vec());
    }

    #[test]
    fn headers_from_the_command_line_are_checked() {
        assert_eq!(check_header("X-Token", "a b\tc"), Ok(()));
        assert!(matches!(
            check_header("X-Token", "1\r\nX-Injected: 1"),
            Err(HeaderError::Value {
                at: 1,
                ch: '\r',
                ..
            })
        ));
        assert!(check_header("X-Token", "a\u{0}").is_err());
        assert!(matches!(
            check_header("Bad Name", "v"),
            Err(HeaderError::Name(_))
        ));
        assert!(check_header("", "v").is_err());
        assert!(check_header("X:Y", "v").is_err());
    }

    #[test]
    fn latin1_round_trip() {
        let all: Vec<u8> = (0..=255u8).collect();
        let text = latin1_string(&all);
        assert_eq!(text.chars().count(), 256);
        assert_eq!(latin1_bytes(&text).unwrap(), all);
        assert_eq!(latin1_bytes("café").unwrap(), b"caf\xe9".to_vec());
        assert_eq!(latin1_string(b"caf\xe9"), "café");
    }

    #[test]
    fn latin1_rejects_wide_characters() {
        let err = latin1_bytes("ab€c").unwrap_err();
        assert_eq!(
            err,
            NotLatin1 {
                ch: '€', index: 2
            }
        );
        assert!(err.to_string().contains("position 2"));
    }
}
