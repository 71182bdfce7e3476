//! Responses as the server actually sent them, and the strict parsing rules
//! for their heads and framing.
//!
//! The reader in `client.rs` moves bytes; this file decides what they mean.
//! Parsing is deliberately strict (RFC 9112): anything a lenient client would
//! quietly repair is reported as malformed instead, because the point of the
//! tool is to find out what the server did. The one tolerance is bare LF line
//! ends, which are accepted but flagged on the response.

use std::fmt;

use super::request::latin1_string;

/// The longest response head accepted, status line to empty line inclusive.
pub(super) const HEAD_LIMIT: usize = 64 * 1024;

/// How the length of a response body was determined (RFC 9112 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Framing {
    /// A Content-Length header gave the length.
    ContentLength(u64),
    /// The chunked transfer coding delimited the body.
    Chunked,
    /// No length was given: the body ran until the server closed.
    UntilClose,
    /// The response cannot have a body: HEAD request, 1xx, 204 or 304.
    NoBody,
}

impl fmt::Display for Framing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Framing::ContentLength(n) => write!(f, "content-length {n}"),
            Framing::Chunked => f.write_str("chunked"),
            Framing::UntilClose => f.write_str("until close"),
            Framing::NoBody => f.write_str("no body"),
        }
    }
}

/// An informational (1xx) response that came before the final one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interim {
    /// The status code, 100..=199 (never 101, which is final).
    pub status: u16,
    /// The reason phrase, latin-1 decoded.
    pub reason: String,
    /// Header fields in order, as in [`Response::headers`].
    pub headers: Vec<(String, String)>,
}

/// One final response, with everything needed to judge how it was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The protocol version of the status line, e.g. `HTTP/1.1`.
    pub version: String,
    /// The three-digit status code.
    pub status: u16,
    /// The reason phrase, latin-1 decoded; empty when absent.
    pub reason: String,
    /// Header fields in the order received, duplicates kept, names as sent,
    /// values latin-1 decoded with surrounding SP/HTAB removed.
    pub headers: Vec<(String, String)>,
    /// The body with any chunked framing removed.
    pub body: Vec<u8>,
    /// How the body length was determined.
    pub framing: Framing,
    /// Trailer fields of a chunked body, like `headers`.
    pub trailers: Vec<(String, String)>,
    /// 1xx responses received before this one, in order.
    pub interim: Vec<Interim>,
    /// The exact bytes of the status line and header section, up to and
    /// including the empty line that ends them.
    pub raw_head: Vec<u8>,
    /// Whether any line of the head or the chunked framing ended in a bare LF
    /// instead of CRLF.
    pub bare_lf: bool,
}

impl Response {
    /// The value of the first header with this name, compared
    /// case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The values of every header with this name, in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Whether the status line stopped right after the code, without the SP
    /// that RFC 9112 4 requires before even an empty reason phrase.
    pub fn reason_missing(&self) -> bool {
        let line_end = self
            .raw_head
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(self.raw_head.len());
        let line = strip_cr(&self.raw_head[..line_end]);
        line.len() == STATUS_PREFIX_LEN
    }

    /// Whether the connection may carry another request after this response.
    pub fn keep_alive(&self) -> bool {
        // A body delimited by close leaves nothing to reuse (RFC 9112 6.3).
        if self.framing == Framing::UntilClose {
            return false;
        }
        let tokens = || {
            self.header_all("connection")
                .into_iter()
                .flat_map(|v| v.split(','))
                .map(|t| t.trim_matches([' ', '\t']))
        };
        // RFC 9112 9.6: "close" ends persistence in any version.
        if tokens().any(|t| t.eq_ignore_ascii_case("close")) {
            return false;
        }
        match parse_version(&self.version) {
            Some((1, 0)) => {
                // RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding
                // has faulty framing and the connection must be closed.
                if self.header("transfer-encoding").is_some() {
                    return false;
                }
                // RFC 9112 9.3: HTTP/1.0 persists only when asked to.
                tokens().any(|t| t.eq_ignore_ascii_case("keep-alive"))
            }
            // RFC 9112 9.3: HTTP/1.1 or later persists by default.
            Some((major, minor)) => major > 1 || (major == 1 && minor >= 1),
            None => false,
        }
    }
}

/// `HTTP/d.d SP 3DIGIT`: everything of a status line before the reason.
const STATUS_PREFIX_LEN: usize = 12;

fn parse_version(v: &str) -> Option<(u8, u8)> {
    let b = v.strip_prefix("HTTP/")?.as_bytes();
    match b {
        [major, b'.', minor] if major.is_ascii_digit() && minor.is_ascii_digit() => {
            Some((major - b'0', minor - b'0'))
        }
        _ => None,
    }
}

/// The parts of a status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StatusLine {
    pub version: String,
    pub status: u16,
    pub reason: String,
}

/// Drops the CR of a CRLF line end, if present.
pub(super) fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// A short, quoted excerpt of raw bytes for error messages.
pub(super) fn excerpt(bytes: &[u8]) -> String {
    const MAX: usize = 80;
    if bytes.len() > MAX {
        format!("{:?}...", latin1_string(&bytes[..MAX]))
    } else {
        format!("{:?}", latin1_string(bytes))
    }
}

/// Parses a status line (without its line end).
pub(super) fn parse_status_line(line: &[u8]) -> Result<StatusLine, String> {
    // RFC 9112 4: status-line = HTTP-version SP status-code SP [ reason-phrase ],
    // HTTP-version = "HTTP/" DIGIT "." DIGIT, status-code = 3DIGIT.
    let well_formed = line.len() >= STATUS_PREFIX_LEN
        && line.starts_with(b"HTTP/")
        && line[5].is_ascii_digit()
        && line[6] == b'.'
        && line[7].is_ascii_digit()
        && line[8] == b' '
        && line[9..12].iter().all(u8::is_ascii_digit)
        && (line.len() == STATUS_PREFIX_LEN || line[12] == b' ');
    if !well_formed {
        return Err(format!(
            "status line is not HTTP/x.y NNN: {}",
            excerpt(line)
        ));
    }
    let status = line[9..12]
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    // The SP before an empty reason is often left out; that is tolerated
    // here and visible through Response::reason_missing.
    let reason = line.get(STATUS_PREFIX_LEN + 1..).unwrap_or_default();
    // RFC 9112 4: reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ).
    if let Some(&bad) = reason.iter().find(|&&b| !is_field_byte(b)) {
        return Err(format!(
            "invalid byte 0x{bad:02x} in reason phrase: {}",
            excerpt(line)
        ));
    }
    Ok(StatusLine {
        version: latin1_string(&line[..8]),
        status,
        reason: latin1_string(reason),
    })
}

/// HTAB, SP, VCHAR or obs-text: what may appear in a field value or reason
/// phrase (RFC 9110 5.5); excludes every other control byte, CR and LF
/// included.
fn is_field_byte(b: u8) -> bool {
    b == b'\t' || b == b' ' || (0x21..=0x7e).contains(&b) || b >= 0x80
}

/// tchar (RFC 9110 5.6.2): the bytes of a token such as a field name.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn trim_ows(mut b: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = b {
        b = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = b {
        b = rest;
    }
    b
}

/// Parses one header or trailer field line (without its line end).
pub(super) fn parse_field_line(line: &[u8]) -> Result<(String, String), String> {
    // RFC 9112 5.2: obs-fold is deprecated; rejecting it is one of the two
    // choices a recipient has. RFC 9112 2.2 gives the same choice for a
    // whitespace-led line straight after the start-line.
    if matches!(line.first(), Some(b' ' | b'\t')) {
        return Err(format!(
            "header line starts with whitespace (obs-fold): {}",
            excerpt(line)
        ));
    }
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return Err(format!("header line without colon: {}", excerpt(line)));
    };
    let name = &line[..colon];
    if name.is_empty() {
        return Err(format!("empty header name: {}", excerpt(line)));
    }
    // RFC 9112 5.1: no whitespace is allowed between the field name and the
    // colon, and a recipient must reject a message that has it.
    if matches!(name.last(), Some(b' ' | b'\t')) {
        return Err(format!(
            "whitespace between header name and colon: {}",
            excerpt(line)
        ));
    }
    if let Some(&bad) = name.iter().find(|&&b| !is_tchar(b)) {
        return Err(format!(
            "invalid byte 0x{bad:02x} in header name: {}",
            excerpt(line)
        ));
    }
    // RFC 9112 5.1: field-line = field-name ":" OWS field-value OWS.
    let value = trim_ows(&line[colon + 1..]);
    if let Some(&bad) = value.iter().find(|&&b| !is_field_byte(b)) {
        return Err(format!(
            "invalid byte 0x{bad:02x} in header value: {}",
            excerpt(line)
        ));
    }
    Ok((latin1_string(name), latin1_string(value)))
}

/// Whether a response with this status comes before the final one: every
/// 1xx except 101, which is final for this protocol (RFC 9110 15.2).
pub(super) fn is_interim(status: u16) -> bool {
    status / 100 == 1 && status != 101
}

/// One response head (status line and field lines) parsed from the start of
/// a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ParsedHead {
    pub line: StatusLine,
    pub headers: Vec<(String, String)>,
    /// The length of the head, its empty line included.
    pub len: usize,
    /// Whether any of its lines ended in a bare LF.
    pub bare_lf: bool,
}

/// How far the start of a buffer goes towards one response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum HeadScan {
    Complete(ParsedHead),
    /// More bytes are needed; `in_status_line` while the status line itself
    /// has not ended.
    Incomplete {
        in_status_line: bool,
    },
}

/// The one response-head parser: parses the head at the start of `buf`,
/// which may stop anywhere. Each line is judged as soon as it has ended, so
/// a malformed status line is reported before the rest of the head arrives;
/// a head longer than [`HEAD_LIMIT`] is malformed whether or not it has ended.
pub(super) fn scan_head(buf: &[u8]) -> Result<HeadScan, String> {
    let too_long = || format!("response head exceeds {HEAD_LIMIT} bytes");
    let mut status_line = None;
    let mut headers = Vec::new();
    let mut bare_lf = false;
    let mut pos = 0;
    loop {
        let Some(lf) = buf[pos..].iter().position(|&b| b == b'\n').map(|i| pos + i) else {
            if buf.len() >= HEAD_LIMIT {
                return Err(too_long());
            }
            return Ok(HeadScan::Incomplete {
                in_status_line: status_line.is_none(),
            });
        };
        if lf + 1 > HEAD_LIMIT {
            return Err(too_long());
        }
        // RFC 9112 2.2: lines end in CRLF, though a recipient may accept a
        // bare LF; those are accepted and flagged.
        let lf_only = lf == pos || buf[lf - 1] != b'\r';
        bare_lf |= lf_only;
        let content = &buf[pos..if lf_only { lf } else { lf - 1 }];
        pos = lf + 1;
        match status_line.take() {
            None => status_line = Some(parse_status_line(content)?),
            Some(line) if content.is_empty() => {
                return Ok(HeadScan::Complete(ParsedHead {
                    line,
                    headers,
                    len: pos,
                    bare_lf,
                }))
            }
            Some(line) => {
                headers.push(parse_field_line(content)?);
                status_line = Some(line);
            }
        }
    }
}

/// The final response head at the start of `bytes`, which may stop anywhere
/// (a response cut short, or one still arriving): the same strict parsing
/// as a response read whole, interim 1xx heads collected on the way.
/// `Ok(None)` while the final head is incomplete.
///
/// Nothing after the head is read: the response has no body and its framing
/// is [`Framing::UntilClose`] (it ended where the connection did).
pub fn parse_final_head(bytes: &[u8]) -> Result<Option<FinalHead>, String> {
    let mut start = 0;
    let mut interim = Vec::new();
    let mut bare_lf = false;
    loop {
        let head = match scan_head(&bytes[start..])? {
            HeadScan::Complete(head) => head,
            HeadScan::Incomplete { .. } => return Ok(None),
        };
        bare_lf |= head.bare_lf;
        let end = start + head.len;
        if is_interim(head.line.status) {
            interim.push(Interim {
                status: head.line.status,
                reason: head.line.reason,
                headers: head.headers,
            });
            start = end;
            continue;
        }
        let response = Response {
            version: head.line.version,
            status: head.line.status,
            reason: head.line.reason,
            headers: head.headers,
            body: Vec::new(),
            framing: Framing::UntilClose,
            trailers: Vec::new(),
            interim,
            raw_head: bytes[start..end].to_vec(),
            bare_lf,
        };
        return Ok(Some(FinalHead { response, end }));
    }
}

/// A final response head found by [`parse_final_head`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinalHead {
    /// The response as far as its head goes.
    pub response: Response,
    /// Where the head ended in the bytes given (interim heads included).
    pub end: usize,
}

/// Whether `bytes` start with a whole response head, interim or final, or
/// with bytes that cannot begin one: either way, waiting for a head is over.
pub fn head_arrived(bytes: &[u8]) -> bool {
    !matches!(scan_head(bytes), Ok(HeadScan::Incomplete { .. }))
}

/// Decides how the body of a final response is delimited (RFC 9112 6.3).
///
/// `head_request` is true when the request was HEAD.
pub(super) fn body_framing(
    status: u16,
    headers: &[(String, String)],
    head_request: bool,
) -> Result<Framing, String> {
    // RFC 9112 6.3 rule 1: these responses end at the empty line whatever
    // their headers say.
    if head_request || status / 100 == 1 || status == 204 || status == 304 {
        return Ok(Framing::NoBody);
    }
    let values = |name: &'static str| {
        headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };

    // RFC 9112 6.3 rules 3 and 4: Transfer-Encoding overrides
    // Content-Length; chunked must be the final coding to delimit the body,
    // otherwise the body runs until close.
    let mut codings = values("transfer-encoding")
        .flat_map(|v| v.split(','))
        .map(|t| t.trim_matches([' ', '\t']))
        .peekable();
    if codings.peek().is_some() {
        let last = codings.rfind(|t| !t.is_empty());
        return Ok(match last {
            Some(t) if t.eq_ignore_ascii_case("chunked") => Framing::Chunked,
            _ => Framing::UntilClose,
        });
    }

    // RFC 9112 6.3 rule 5: differing or invalid Content-Length values make
    // the framing unrecoverable; identical repeats (RFC 9110 8.6) are one
    // length.
    let mut length: Option<u64> = None;
    for raw in values("content-length") {
        for item in raw.split(',') {
            let item = item.trim_matches([' ', '\t']);
            let n = parse_decimal(item).ok_or_else(|| format!("invalid content-length {raw:?}"))?;
            match length {
                Some(prev) if prev != n => {
                    return Err(format!("conflicting content-length values {prev} and {n}"));
                }
                _ => length = Some(n),
            }
        }
    }
    // RFC 9112 6.3 rule 8: a response without either runs until close.
    Ok(length.map_or(Framing::UntilClose, Framing::ContentLength))
}

/// 1*DIGIT as a u64; None when empty, not all digits, or too large.
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses a chunk-size line (without its line end) into the chunk size,
/// validating any chunk extensions.
pub(super) fn parse_chunk_size(line: &[u8]) -> Result<u64, String> {
    // RFC 9112 7.1: chunk = chunk-size [ chunk-ext ] CRLF ..., chunk-size = 1*HEXDIG.
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(format!("invalid chunk size: {}", excerpt(line)));
    }
    let mut size: u64 = 0;
    for &d in &line[..digits] {
        let v = u64::from(char::from(d).to_digit(16).unwrap_or(0));
        size = size
            .checked_mul(16)
            .and_then(|s| s.checked_add(v))
            .ok_or_else(|| format!("chunk size too large: {}", excerpt(line)))?;
    }
    let ext = &line[digits..];
    if !ext.is_empty() && !valid_chunk_ext(ext) {
        return Err(format!("invalid chunk size: {}", excerpt(line)));
    }
    Ok(size)
}

/// RFC 9112 7.1.1:
/// chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ),
/// chunk-ext-name = token, chunk-ext-val = token / quoted-string.
fn valid_chunk_ext(mut s: &[u8]) -> bool {
    fn skip_ws(s: &[u8]) -> &[u8] {
        let n = s.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
        &s[n..]
    }
    fn token(s: &[u8]) -> Option<&[u8]> {
        let n = s.iter().take_while(|&&b| is_tchar(b)).count();
        (n > 0).then(|| &s[n..])
    }
    fn quoted(s: &[u8]) -> Option<&[u8]> {
        // RFC 9110 5.6.4: quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE.
        let mut i = 1;
        loop {
            match s.get(i)? {
                b'"' => return Some(&s[i + 1..]),
                b'\\' => {
                    if !is_field_byte(*s.get(i + 1)?) {
                        return None;
                    }
                    i += 2;
                }
                &b if is_field_byte(b) => i += 1,
                _ => return None,
            }
        }
    }
    while !s.is_empty() {
        s = skip_ws(s);
        let Some(rest) = s.strip_prefix(b";") else {
            return false;
        };
        let Some(rest) = token(skip_ws(rest)) else {
            return false;
        };
        let after = skip_ws(rest);
        // Whitespace after a name or value is BWS only if a "=" or another
        // ";" follows; trailing whitespace fails the ";" test above.
        s = match after.strip_prefix(b"=") {
            Some(v) => {
                let v = skip_ws(v);
                let next = if v.first() == Some(&b'"') {
                    quoted(v)
                } else {
                    token(v)
                };
                match next {
                    Some(n) => n,
                    None => return false,
                }
            }
            None => rest,
        };
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(version: &str, headers: &[(&str, &str)], framing: Framing) -> Response {
        Response {
            version: version.into(),
            status: 200,
            reason: "OK".into(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: Vec::new(),
            framing,
            trailers: Vec::new(),
            interim: Vec::new(),
            raw_head: Vec::new(),
            bare_lf: false,
        }
    }

    #[test]
    fn status_lines() {
        let s = parse_status_line(b"HTTP/1.1 404 Not Found").unwrap();
        assert_eq!(
            s,
            StatusLine {
                version: "HTTP/1.1".into(),
                status: 404,
                reason: "Not Found".into()
            }
        );
        let s = parse_status_line(b"HTTP/1.0 200 ").unwrap();
        assert_eq!((s.status, s.reason.as_str()), (200, ""));
        let s = parse_status_line(b"HTTP/1.1 204").unwrap();
        assert_eq!((s.status, s.reason.as_str()), (204, ""));
        let s = parse_status_line(b"HTTP/1.1 200 Caf\xe9 \tok").unwrap();
        assert_eq!(s.reason, "Caf\u{e9} \tok");
        for bad in [
            &b"HTTP/1.1 20 OK"[..],
            b"HTTP/1.1  200 OK",
            b"http/1.1 200 OK",
            b"HTTP/11 200 OK",
            b"HTTP/1.1 2000 OK",
            b"HTTP/1.1 200OK",
            b"ICY 200 OK",
            b"",
        ] {
            let err = parse_status_line(bad).unwrap_err();
            assert!(err.starts_with("status line is not HTTP/x.y NNN"), "{err}");
        }
        assert!(parse_status_line(b"HTTP/1.1 200 O\x00K").is_err());
        assert!(parse_status_line(b"HTTP/1.1 200 O\rK").is_err());
    }

    #[test]
    fn field_lines() {
        assert_eq!(
            parse_field_line(b"Content-Type: \t text/plain \t").unwrap(),
            ("Content-Type".into(), "text/plain".into())
        );
        assert_eq!(
            parse_field_line(b"X-Empty:").unwrap(),
            ("X-Empty".into(), String::new())
        );
        assert_eq!(
            parse_field_line(b"x-latin: caf\xe9").unwrap().1,
            "caf\u{e9}"
        );
        let err = |l: &[u8]| parse_field_line(l).unwrap_err();
        assert!(err(b"Content-Length : 5").starts_with("whitespace between header name and colon"));
        assert!(err(b"NoColonHere").starts_with("header line without colon"));
        assert!(err(b" folded value").contains("obs-fold"));
        assert!(err(b": value").starts_with("empty header name"));
        assert!(err(b"Bad Name: v").starts_with("invalid byte 0x20 in header name"));
        assert!(err(b"X: a\x00b").starts_with("invalid byte 0x00 in header value"));
        assert!(err(b"X: a\rb").starts_with("invalid byte 0x0d in header value"));
    }

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn framing_rules() {
        let cl = h(&[("Content-Length", "5")]);
        assert_eq!(body_framing(200, &cl, false), Ok(Framing::ContentLength(5)));
        assert_eq!(body_framing(200, &cl, true), Ok(Framing::NoBody));
        for status in [100, 101, 204, 304] {
            assert_eq!(body_framing(status, &cl, false), Ok(Framing::NoBody));
        }
        let te = h(&[
            ("Transfer-Encoding", "gzip, Chunked"),
            ("Content-Length", "5"),
        ]);
        assert_eq!(body_framing(200, &te, false), Ok(Framing::Chunked));
        let te = h(&[
            ("Transfer-Encoding", "chunked"),
            ("Transfer-Encoding", "gzip"),
        ]);
        assert_eq!(body_framing(200, &te, false), Ok(Framing::UntilClose));
        assert_eq!(body_framing(200, &[], false), Ok(Framing::UntilClose));
        let same = h(&[("Content-Length", "7"), ("content-length", "7, 7")]);
        assert_eq!(
            body_framing(200, &same, false),
            Ok(Framing::ContentLength(7))
        );
        let differ = h(&[("Content-Length", "7"), ("Content-Length", "8")]);
        assert!(body_framing(200, &differ, false)
            .unwrap_err()
            .starts_with("conflicting content-length"));
        for bad in ["", "+5", "5 5", "0x10", "-1", "99999999999999999999999"] {
            let hs = h(&[("Content-Length", bad)]);
            assert!(
                body_framing(200, &hs, false)
                    .unwrap_err()
                    .starts_with("invalid content-length"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn chunk_size_lines() {
        assert_eq!(parse_chunk_size(b"1a"), Ok(26));
        assert_eq!(parse_chunk_size(b"0"), Ok(0));
        assert_eq!(parse_chunk_size(b"00000000000000000000ff"), Ok(255));
        assert_eq!(parse_chunk_size(b"5;name=value"), Ok(5));
        assert_eq!(parse_chunk_size(b"5 ; a ; b = \"q \\\" x\";c=d"), Ok(5));
        for bad in [
            &b""[..],
            b"g",
            b" 5",
            b"5 ",
            b"5 x",
            b"5;",
            b"5;=v",
            b"5;a=",
            b"5;a=\"open",
            b"5;a b",
            b"5;flag ",
            b"5;a=b\t",
            b"10000000000000000",
        ] {
            assert!(parse_chunk_size(bad).is_err(), "{:?}", latin1_string(bad));
        }
    }

    #[test]
    fn header_lookup() {
        let r = response(
            "HTTP/1.1",
            &[("Set-Cookie", "a=1"), ("X", "y"), ("set-cookie", "b=2")],
            Framing::NoBody,
        );
        assert_eq!(r.header("SET-COOKIE"), Some("a=1"));
        assert_eq!(r.header_all("set-cookie"), vec!["a=1", "b=2"]);
        assert_eq!(r.header("missing"), None);
        assert!(r.header_all("missing").is_empty());
    }

    #[test]
    fn keep_alive_rules() {
        let cl = Framing::ContentLength(0);
        assert!(response("HTTP/1.1", &[], cl).keep_alive());
        assert!(!response("HTTP/1.1", &[("Connection", "Close")], cl).keep_alive());
        assert!(!response("HTTP/1.1", &[("Connection", "foo, close")], cl).keep_alive());
        assert!(!response("HTTP/1.1", &[], Framing::UntilClose).keep_alive());
        assert!(!response("HTTP/1.0", &[], cl).keep_alive());
        assert!(response("HTTP/1.0", &[("Connection", "Keep-Alive")], cl).keep_alive());
        assert!(!response(
            "HTTP/1.0",
            &[
                ("Connection", "keep-alive"),
                ("Transfer-Encoding", "chunked")
            ],
            Framing::Chunked
        )
        .keep_alive());
        assert!(!response("garbage", &[], cl).keep_alive());
    }

    #[test]
    fn reason_missing_reads_raw_head() {
        let mut r = response("HTTP/1.1", &[], Framing::NoBody);
        r.raw_head = b"HTTP/1.1 204\r\nX: y\r\n\r\n".to_vec();
        assert!(r.reason_missing());
        r.raw_head = b"HTTP/1.1 204 \r\n\r\n".to_vec();
        assert!(!r.reason_missing());
        r.raw_head = b"HTTP/1.1 204\n\n".to_vec();
        assert!(r.reason_missing());
    }

    #[test]
    fn final_head_of_bytes_that_stop_anywhere() {
        let bytes = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nX: y\r\n\r\nbody";
        let head = parse_final_head(bytes).unwrap().unwrap();
        assert_eq!(head.response.status, 200);
        assert_eq!(head.response.header("x"), Some("y"));
        assert_eq!(head.response.interim[0].status, 100);
        assert_eq!(head.response.raw_head, b"HTTP/1.1 200 OK\r\nX: y\r\n\r\n");
        assert_eq!(&bytes[head.end..], b"body");
        for cut in [0, 5, 25, 40, head.end - 1] {
            assert_eq!(parse_final_head(&bytes[..cut]), Ok(None), "cut at {cut}");
        }
        assert!(head_arrived(&bytes[..25]));
        assert!(!head_arrived(&bytes[..20]));
        let switching = parse_final_head(b"HTTP/1.1 101 Switching\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(switching.response.status, 101);
        let bare = parse_final_head(b"HTTP/1.0 204\nA: b\n\n")
            .unwrap()
            .unwrap();
        assert!(bare.response.bare_lf && bare.response.reason_missing());
    }

    #[test]
    fn a_head_is_judged_line_by_line() {
        // The status line is rejected before the head has ended.
        assert!(parse_final_head(b"ICY 200 OK\r\nX: y").is_err());
        assert!(head_arrived(b"ICY 200 OK\r\n"));
        assert!(parse_final_head(b"HTTP/1.1 200 OK\r\nBad Name: v\r\n").is_err());
        assert_eq!(
            scan_head(b"HTTP/1.1 200 OK\r\nX"),
            Ok(HeadScan::Incomplete {
                in_status_line: false
            })
        );
        let long = vec![b'a'; HEAD_LIMIT];
        assert!(scan_head(&long).unwrap_err().contains("exceeds"));
    }

    #[test]
    fn framing_display() {
        assert_eq!(Framing::ContentLength(3).to_string(), "content-length 3");
        assert_eq!(Framing::UntilClose.to_string(), "until close");
    }
}
