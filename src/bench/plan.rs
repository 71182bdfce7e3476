//! A load plan: the model, the workload, how long, and what each request
//! looks like on the wire and must get back.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::shard::ShardPlan;

/// The body pattern of the probe's `payload`, `stream` and `echo`
/// workloads (the probe app repeats the same 64 bytes).
pub const PATTERN: &[u8; 64] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-\n";
/// The body of `hello`.
pub const HELLO: &[u8] = b"Hello, world!\n";
/// The body of `sleep` and `cpu`.
pub const OK: &[u8] = b"ok\n";
/// Largest body the probe agrees to make or echo.
pub const MAX_SIZE: usize = 64 * 1024 * 1024;

/// What the probe does per request (paths under `/_bench/`, docs/bench.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkloadName {
    /// A 14-byte body.
    Hello,
    /// A body of --size bytes.
    Payload,
    /// --chunks chunks of --size bytes each, without Content-Length.
    Stream,
    /// POST --size bytes; the app reads them and sends them back.
    Echo,
    /// The app sleeps --ms milliseconds.
    Sleep,
    /// The app busies the CPU for --ms milliseconds.
    Cpu,
}

/// The workload with its arguments; `Get` fetches a URL of any server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "lowercase")]
pub enum Workload {
    Hello,
    Payload {
        size: usize,
    },
    Stream {
        chunks: u32,
        size: usize,
    },
    Echo {
        size: usize,
    },
    Sleep {
        ms: u64,
    },
    Cpu {
        ms: u64,
    },
    /// A plain GET of the target URL's path; any 2xx answer will do.
    Get,
    /// A request of the user's making to the target URL (`-m`, `-H`,
    /// `--body`); any 2xx answer will do.
    Http(HttpRequest),
    /// A request to `path` on the user's own app (`bench --app`), shaped by
    /// `-m`, `-H` and `--body` like `Http`.
    App {
        path: String,
        #[serde(flatten)]
        request: HttpRequest,
    },
}

/// The request `bench --url` sends when told how (`-m`, `-H`, `--body`);
/// read back from a report without its body, which a report does not keep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpRequest {
    pub method: String,
    /// `(name, value)`, in the order given.
    pub headers: Vec<(String, String)>,
    #[serde(skip)]
    pub body: Vec<u8>,
    pub body_bytes: usize,
}

impl HttpRequest {
    /// Checks what the command line gave: a method token, `Name: value`
    /// headers with a token name and no line break in the value.
    pub fn new(
        method: Option<&str>,
        headers: &[String],
        body: Vec<u8>,
    ) -> Result<HttpRequest, String> {
        let token = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        };
        let method = match method {
            Some(m) if token(m) => m.to_string(),
            Some(m) => {
                return Err(format!(
                    "bad -m {m:?}: a method is a token such as GET or POST"
                ))
            }
            None if body.is_empty() => "GET".into(),
            None => "POST".into(),
        };
        let mut parsed = Vec::new();
        for h in headers {
            let Some((name, value)) = h.split_once(':') else {
                return Err(format!("bad -H {h:?}: give it as 'Name: value'"));
            };
            let value = value.trim();
            if !token(name) {
                return Err(format!("bad -H {h:?}: {name:?} is not a header name"));
            }
            if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
                return Err(format!("bad -H {h:?}: the value holds a control character"));
            }
            parsed.push((name.to_string(), value.to_string()));
        }
        Ok(HttpRequest {
            method,
            headers: parsed,
            body_bytes: body.len(),
            body,
        })
    }

    fn has(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }
}

impl Workload {
    pub fn name(&self) -> &'static str {
        match self {
            Workload::Hello => "hello",
            Workload::Payload { .. } => "payload",
            Workload::Stream { .. } => "stream",
            Workload::Echo { .. } => "echo",
            Workload::Sleep { .. } => "sleep",
            Workload::Cpu { .. } => "cpu",
            Workload::Get => "get",
            Workload::Http(_) => "http",
            Workload::App { .. } => "app",
        }
    }

    /// The request path, under `base` (which ends with `/`).
    pub fn path(&self, base: &str) -> String {
        if matches!(self, Workload::Get | Workload::Http(_)) {
            return if base.is_empty() {
                "/".into()
            } else {
                base.into()
            };
        }
        if let Workload::App { path, .. } = self {
            return path.clone();
        }
        let base = base.trim_end_matches('/');
        match self {
            Workload::Hello => format!("{base}/_bench/hello"),
            Workload::Payload { size } => format!("{base}/_bench/payload/{size}"),
            Workload::Stream { chunks, size } => format!("{base}/_bench/stream/{chunks}/{size}"),
            Workload::Echo { .. } => format!("{base}/_bench/echo"),
            Workload::Sleep { ms } => format!("{base}/_bench/sleep/{ms}"),
            Workload::Cpu { ms } => format!("{base}/_bench/cpu/{ms}"),
            Workload::Get | Workload::Http(_) | Workload::App { .. } => {
                unreachable!("handled above")
            }
        }
    }

    /// The whole request, serialized once and sent as is for every request.
    pub fn request(&self, base: &str, authority: &str) -> Vec<u8> {
        let path = self.path(base);
        match self {
            Workload::Echo { size } => {
                let mut r = format!(
                    "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n"
                )
                .into_bytes();
                r.extend_from_slice(&pattern(*size));
                r
            }
            Workload::Http(h) | Workload::App { request: h, .. } => {
                let mut head = format!("{} {path} HTTP/1.1\r\n", h.method);
                if !h.has("host") {
                    head.push_str(&format!("Host: {authority}\r\n"));
                }
                for (name, value) in &h.headers {
                    head.push_str(&format!("{name}: {value}\r\n"));
                }
                if !h.body.is_empty() && !h.has("content-length") {
                    head.push_str(&format!("Content-Length: {}\r\n", h.body.len()));
                }
                head.push_str("\r\n");
                let mut r = head.into_bytes();
                r.extend_from_slice(&h.body);
                r
            }
            _ => format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\n\r\n").into_bytes(),
        }
    }

    /// The body every response must have; `None` when any body will do.
    pub fn expected_body(&self) -> Option<Vec<u8>> {
        match self {
            Workload::Hello => Some(HELLO.to_vec()),
            Workload::Payload { size } | Workload::Echo { size } => Some(pattern(*size)),
            Workload::Stream { chunks, size } => Some(pattern(*size).repeat(*chunks as usize)),
            Workload::Sleep { .. } | Workload::Cpu { .. } => Some(OK.to_vec()),
            Workload::Get | Workload::Http(_) | Workload::App { .. } => None,
        }
    }
}

/// `size` bytes of the probe's body pattern.
pub fn pattern(size: usize) -> Vec<u8> {
    PATTERN.iter().copied().cycle().take(size).collect()
}

/// How requests are paced.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "model", rename_all = "lowercase")]
pub enum Model {
    /// Each connection sends its next request when the last response is in.
    Closed,
    /// Requests are due at a constant rate (per second) whatever the
    /// responses do; latency counts from when each was due.
    Open { rate: f64 },
}

/// When the measured part of the run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stop {
    /// After this long (requests started before the end are still awaited).
    Duration(#[serde(serialize_with = "secs")] Duration),
    /// After this many measured requests.
    Count(u64),
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// What the response to each request must be.
#[derive(Debug, Clone)]
pub struct ResponseCheck {
    /// The exact body, when known; otherwise only framing is checked.
    pub body: Option<Arc<[u8]>>,
    /// Compare the body bytes of one response in this many (1 = all); the
    /// length is checked on every response.
    pub sample_every: u32,
    /// The status every response must have; `None`: any 2xx.
    pub status: Option<u16>,
}

impl ResponseCheck {
    /// Whether a response status is the one asked for.
    pub fn status_ok(&self, status: u16) -> bool {
        match self.status {
            Some(want) => status == want,
            None => (200..300).contains(&status),
        }
    }
}

/// Everything the engine needs.
#[derive(Debug, Clone)]
pub struct Plan {
    pub model: Model,
    pub connections: usize,
    pub threads: usize,
    pub stop: Stop,
    pub warmup: Duration,
    pub timeout: Duration,
    pub request: Arc<[u8]>,
    pub check: ResponseCheck,
    /// This run is one shard of a larger plan (`--shard`); the fields above
    /// are its own part.
    pub shard: Option<ShardPlan>,
    /// When the load starts on the wall clock (`--start-at`): the warm-up
    /// begins then and the measured window after it.
    pub start_at: Option<SystemTime>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_bodies_match_the_probe() {
        let echo = Workload::Echo { size: 100 };
        let r = echo.request("/", "h:1");
        assert!(r.starts_with(b"POST /_bench/echo HTTP/1.1\r\nHost: h:1\r\n"));
        assert!(r.ends_with(&pattern(100)));
        assert_eq!(echo.expected_body().unwrap(), pattern(100));
        assert_eq!(&pattern(66)[62..], b"-\n01");
        let s = Workload::Stream { chunks: 3, size: 2 };
        assert_eq!(s.path("/app/"), "/app/_bench/stream/3/2");
        assert_eq!(s.expected_body().unwrap(), b"010101");
        assert_eq!(Workload::Get.path("/"), "/");
        let app = Workload::App {
            path: "/hello?x=1".into(),
            request: HttpRequest::new(None, &[], vec![]).unwrap(),
        };
        assert!(app
            .request("/", "h:1")
            .starts_with(b"GET /hello?x=1 HTTP/1.1\r\n"));
        assert_eq!(app.expected_body(), None);
        assert_eq!(Workload::Get.path("/x/"), "/x/");
    }

    #[test]
    fn a_request_of_the_users_making() {
        let h = HttpRequest::new(
            None,
            &["Content-Type: application/json".into(), "X-A:1".into()],
            b"{}".to_vec(),
        )
        .unwrap();
        let r = Workload::Http(h).request("/api", "h:1");
        assert_eq!(
            r,
            b"POST /api HTTP/1.1\r\nHost: h:1\r\nContent-Type: application/json\r\nX-A: 1\r\nContent-Length: 2\r\n\r\n{}"
        );
        let h = HttpRequest::new(Some("DELETE"), &["Host: other".into()], vec![]).unwrap();
        assert_eq!(
            Workload::Http(h).request("/", "h:1"),
            b"DELETE / HTTP/1.1\r\nHost: other\r\n\r\n"
        );
        for (m, hs) in [
            (Some("GE T"), vec![]),
            (None, vec!["NoColon".to_string()]),
            (None, vec!["Bad Name: x".to_string()]),
            (None, vec!["X: a\r\nInjected: 1".to_string()]),
        ] {
            assert!(HttpRequest::new(m, &hs, vec![]).is_err(), "{m:?} {hs:?}");
        }
    }
}
