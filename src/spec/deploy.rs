//! What the deploy cases ask of a stack: the features a case needs to
//! apply at all, the deployment setting its verdict depends on, and the
//! placeholders their requests and expectations are written with.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::model::{Case, Expect};

/// A feature of the stack a case needs; without it the case is skipped
/// as not applicable, before anything is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Need {
    /// nginx in front of the server (`--proxy`).
    Proxy,
    /// The client speaks TLS (`--proxy nginx-tls`, `--url https://`).
    Tls,
    /// The client speaks plain HTTP.
    Plain,
    /// The application is mounted under a path (`--prefix`, or the path of
    /// `--url`).
    Prefix,
}

impl Need {
    pub fn as_str(self) -> &'static str {
        match self {
            Need::Proxy => "proxy",
            Need::Tls => "tls",
            Need::Plain => "plain",
            Need::Prefix => "prefix",
        }
    }
}

/// A deployment setting a case's truth depends on behind a proxy. When the
/// stack lacks it, what the application sees is the deployment's doing,
/// not the server's: the finding is a warn that names the setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Setting {
    /// The server trusts the proxy's X-Forwarded-Proto (wsgi.url_scheme).
    TrustScheme,
    /// The server trusts the proxy's X-Forwarded-For (REMOTE_ADDR).
    TrustClient,
    /// The server trusts the proxy's X-Forwarded-Host and -Port
    /// (SERVER_NAME, SERVER_PORT).
    TrustHost,
    /// nginx passes a streamed response on as it comes (no buffering).
    ProxyBuffering,
}

impl Setting {
    pub fn as_str(self) -> &'static str {
        match self {
            Setting::TrustScheme => "trust-scheme",
            Setting::TrustClient => "trust-client",
            Setting::TrustHost => "trust-host",
            Setting::ProxyBuffering => "proxy-buffering",
        }
    }
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The values a case's request and expectations may refer to, as the
/// client addressed the stack: `{host}` (host:port), `{hostname}`,
/// `{port}` and `{prefix}` (the mount path, empty at the root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholders {
    pub hostname: String,
    pub port: Option<u16>,
    pub prefix: String,
}

impl Placeholders {
    fn fill(&self, text: &str) -> String {
        if !text.contains('{') {
            return text.to_string();
        }
        let host = match self.port {
            Some(port) if self.hostname.contains(':') => format!("[{}]:{port}", self.hostname),
            Some(port) => format!("{}:{port}", self.hostname),
            None => self.hostname.clone(),
        };
        text.replace("{hostname}", &self.hostname)
            .replace(
                "{port}",
                &self.port.map(|p| p.to_string()).unwrap_or_default(),
            )
            .replace("{prefix}", &self.prefix)
            .replace("{host}", &host)
    }

    fn fill_value(&self, v: &mut toml::Value) {
        match v {
            toml::Value::String(s) => *s = self.fill(s),
            toml::Value::Array(items) => items.iter_mut().for_each(|i| self.fill_value(i)),
            _ => {}
        }
    }

    fn fill_expect(&self, e: &mut Expect) {
        for v in [&mut e.equals, &mut e.not_equals, &mut e.contains]
            .into_iter()
            .flatten()
        {
            self.fill_value(v);
        }
        for v in e.one_of.iter_mut().flatten() {
            self.fill_value(v);
        }
    }

    /// The case with its placeholders filled in: its stimulus, header values, a raw
    /// request, and the strings its expectations compare with. (`{probe}`
    /// in a raw request is left for the runner.)
    pub fn apply(&self, case: &Case) -> Case {
        let mut c = case.clone();
        c.stimulus = self.fill(&c.stimulus);
        for (_, value) in &mut c.request.headers {
            *value = self.fill(value);
        }
        if let Some(raw) = &mut c.request.raw {
            *raw = self.fill(raw);
        }
        for e in c.expect.iter_mut().chain(c.requires.iter_mut()) {
            self.fill_expect(e);
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_fill_requests_and_expectations() {
        let case: Case = toml::from_str(
            r#"id = "deploy.x"
level = "must"
source = "s"
requirement = "r"
stimulus = "t"
request = { headers = [["Host", "wsgiprobe.test:{port}"]] }
expect = [
  { subject = "environ.SERVER_PORT", equals = "{port}" },
  { subject = "environ.SCRIPT_NAME", one_of = ["{prefix}", "x"] },
  { subject = "environ.HTTP_HOST", not_equals = "{host}" },
]"#,
        )
        .unwrap();
        let p = Placeholders {
            hostname: "127.0.0.1".into(),
            port: Some(8443),
            prefix: "/app".into(),
        };
        let c = p.apply(&case);
        assert_eq!(c.request.headers[0].1, "wsgiprobe.test:8443");
        assert_eq!(c.expect[0].equals, Some(toml::Value::from("8443")));
        assert_eq!(
            c.expect[1].one_of,
            Some(vec![toml::Value::from("/app"), toml::Value::from("x")])
        );
        assert_eq!(
            c.expect[2].not_equals,
            Some(toml::Value::from("127.0.0.1:8443"))
        );
    }
}
