//! A load plan: the model, the workload, how long, and what each request
//! looks like on the wire and must get back.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    /// A GET of `path` on the user's own app (`bench --app`).
    App {
        path: String,
    },
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
            Workload::App { .. } => "app",
        }
    }

    /// The request path, under `base` (which ends with `/`).
    pub fn path(&self, base: &str) -> String {
        if *self == Workload::Get {
            return if base.is_empty() {
                "/".into()
            } else {
                base.into()
            };
        }
        if let Workload::App { path } = self {
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
            Workload::Get | Workload::App { .. } => unreachable!("handled above"),
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
            Workload::Get | Workload::App { .. } => None,
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
}

/// Parses `15s`, `500ms`, `2m`, `1h`, `1.5s` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (try 15s, 500ms, 2m)"))?;
    let scale = match unit {
        "" | "s" => 1.0,
        "ms" => 1e-3,
        "us" | "µs" => 1e-6,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {s:?} (use ms, s, m or h)"
            ))
        }
    };
    let secs = value * scale;
    if !secs.is_finite() || secs > 1e9 {
        return Err(format!("{s:?} is too long"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15s"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5 parsecs").is_err());
    }

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
        };
        assert!(app
            .request("/", "h:1")
            .starts_with(b"GET /hello?x=1 HTTP/1.1\r\n"));
        assert_eq!(app.expected_body(), None);
        assert_eq!(Workload::Get.path("/x/"), "/x/");
    }
}
