//! The bytes a case sends: its request, built exactly as the spec says,
//! with the probe's control headers added.

use crate::http::{latin1_bytes, latin1_string, RequestBody, RequestParts, Target};
use crate::probe::{ARGS_HEADER, SCENARIO_HEADER, TOKEN_HEADER};
use crate::spec::{Case, Followup};

/// The second request of a case: the case's own request fields replaced
/// by the follow-up's.
pub(super) fn followup_case(case: &Case, second: &Followup) -> Case {
    Case {
        scenario: second.scenario.clone(),
        args: second.args.clone(),
        request: second.request.clone(),
        ..case.clone()
    }
}

/// The first `max` bytes of a request, for reports.
pub(super) fn excerpt(bytes: &[u8], max: usize) -> String {
    let mut s = latin1_string(&bytes[..bytes.len().min(max)]);
    if bytes.len() > max {
        s.push_str(&format!("... ({} bytes in all)", bytes.len()));
    }
    s
}

/// Joins the gateway's base path and a case's target (`/` + `/a` = `/a`).
fn join_target(base: &str, target: &str) -> String {
    if !target.starts_with('/') {
        return target.to_string();
    }
    format!("{}{}", base.trim_end_matches('/'), target)
}

/// The exact bytes a case sends, control headers included.
pub fn build_request(
    case: &Case,
    target: &Target,
    base_path: &str,
    token: &str,
) -> Result<Vec<u8>, String> {
    let b = |field: &str, s: &str| {
        latin1_bytes(s).map_err(|e| format!("request {field} is not bytes: {e}"))
    };
    let mut control = vec![
        (SCENARIO_HEADER.to_string(), case.scenario.clone()),
        (TOKEN_HEADER.to_string(), token.to_string()),
    ];
    if !case.args.is_empty() {
        let args: Vec<String> = case.args.iter().map(|(k, v)| format!("{k}={v}")).collect();
        control.push((ARGS_HEADER.to_string(), args.join(",")));
    }
    let r = &case.request;
    if let Some(raw) = &r.raw {
        let lines: String = control
            .iter()
            .map(|(k, v)| format!("{k}: {v}\r\n"))
            .collect();
        let text = fill(
            &raw.replace("{probe}", &lines)
                .replace("{host}", &target.authority()),
        )?;
        return b("raw", &text);
    }

    let mut headers: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let has = |name: &str| r.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
    if r.host.unwrap_or(true) && !has("host") {
        headers.push((b"Host".to_vec(), target.authority().into_bytes()));
    }
    for (k, v) in &r.headers {
        headers.push((b("header name", k)?, b("header value", v)?));
    }
    for (k, v) in control {
        headers.push((k.into_bytes(), v.into_bytes()));
    }
    let body = match (&r.body, &r.chunked) {
        (Some(body), _) => {
            let body = b("body", body)?;
            if r.content_length.unwrap_or(true) && !has("content-length") {
                headers.push((
                    b"Content-Length".to_vec(),
                    body.len().to_string().into_bytes(),
                ));
            }
            RequestBody::Bytes(body)
        }
        (None, Some(chunks)) => {
            if !has("transfer-encoding") {
                headers.push((b"Transfer-Encoding".to_vec(), b"chunked".to_vec()));
            }
            let chunks = chunks
                .iter()
                .map(|c| b("chunk", c))
                .collect::<Result<Vec<_>, _>>()?;
            RequestBody::Chunked(chunks)
        }
        (None, None) => RequestBody::None,
    };
    let parts = RequestParts {
        method: b("method", r.method.as_deref().unwrap_or("GET"))?,
        target: b(
            "target",
            &join_target(base_path, r.target.as_deref().unwrap_or("/")),
        )?,
        version: b("version", r.version.as_deref().unwrap_or("HTTP/1.1"))?,
        headers,
        body,
    };
    Ok(parts.to_bytes())
}

/// The most `{fill:N}` may ask for.
const MAX_FILL: usize = 1 << 20;

/// Replaces each `{fill:N}` of a raw request with N bytes `a`, for
/// requests whose size is the point (a long target, a large field).
fn fill(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("{fill:") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "{fill:".len()..];
        let end = after
            .find('}')
            .ok_or("request.raw: `{fill:` without its closing brace")?;
        let n: usize = after[..end]
            .parse()
            .ok()
            .filter(|n| *n <= MAX_FILL)
            .ok_or_else(|| format!("request.raw: {{fill:N}} takes a count up to {MAX_FILL}"))?;
        out.extend(std::iter::repeat('a').take(n));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(extra: &str) -> Case {
        toml::from_str(&format!(
            "id = \"environ.t\"\nlevel = \"must\"\nsource = \"s\"\nrequirement = \"r\"\n\
             stimulus = \"x\"\nexpect = [{{ subject = \"status\", equals = 200 }}]\n{extra}"
        ))
        .unwrap()
    }

    fn tcp() -> Target {
        Target::Tcp {
            host: "127.0.0.1".into(),
            port: 8000,
        }
    }

    #[test]
    fn structured_request_bytes() {
        let c = case(
            "args = { mode = \"size\", n = \"5\" }\nscenario = \"read\"\n\
             request = { method = \"POST\", target = \"/caf\\u00e9\", headers = [[\"X-A\", \"1\"]], body = \"hi\" }",
        );
        let bytes = build_request(&c, &tcp(), "/", "tok").unwrap();
        assert_eq!(
            bytes,
            b"POST /caf\xe9 HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nX-A: 1\r\n\
              X-Wsgiprobe-Scenario: read\r\nX-Wsgiprobe-Token: tok\r\n\
              X-Wsgiprobe-Args: mode=size,n=5\r\nContent-Length: 2\r\n\r\nhi"
                .to_vec()
        );
    }

    #[test]
    fn raw_request_fills_placeholders() {
        let c =
            case("request = { raw = \"GET /x HTTP/1.0\\r\\nHost: {host}\\r\\n{probe}\\r\\n\" }");
        let bytes = build_request(&c, &tcp(), "/", "tok").unwrap();
        assert_eq!(
            latin1_string(&bytes),
            "GET /x HTTP/1.0\r\nHost: 127.0.0.1:8000\r\nX-Wsgiprobe-Scenario: environ\r\n\
             X-Wsgiprobe-Token: tok\r\n\r\n"
        );
    }

    #[test]
    fn fill_repeats_a_byte_as_asked() {
        let c = case("request = { raw = \"GET /{fill:3}x{fill:0} HTTP/1.1\\r\\n{probe}\\r\\n\" }");
        let text = latin1_string(&build_request(&c, &tcp(), "/", "t").unwrap());
        assert!(text.starts_with("GET /aaax HTTP/1.1\r\n"), "{text}");
        let bad = case("request = { raw = \"GET /{fill:x} HTTP/1.1\\r\\n{probe}\\r\\n\" }");
        assert!(build_request(&bad, &tcp(), "/", "t").is_err());
    }

    #[test]
    fn chunked_body_and_base_path() {
        let c = case("request = { target = \"/a\", chunked = [\"ab\", \"c\"] }");
        let text = latin1_string(&build_request(&c, &tcp(), "/mount/", "t").unwrap());
        assert!(text.starts_with("GET /mount/a HTTP/1.1\r\n"), "{text}");
        assert!(text.contains("Transfer-Encoding: chunked\r\n"));
        assert!(
            text.ends_with("\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n"),
            "{text:?}"
        );
    }

    #[test]
    fn host_can_be_left_out() {
        let c = case("request = { host = false, version = \"HTTP/1.0\" }");
        let text = latin1_string(&build_request(&c, &tcp(), "/", "t").unwrap());
        assert!(!text.contains("Host:"), "{text}");
    }
}
