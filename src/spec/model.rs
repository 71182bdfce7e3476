//! The case model: what a spec file says, deserialized strictly.
//!
//! A spec file is one area (`specs/environ.toml`); each `[[case]]` is one
//! check with a stable hierarchical id. Unknown fields are rejected so that a
//! typo in an expectation can never turn into a case that checks nothing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::deploy::{Need, Setting};
use super::subject::Subject;

/// One spec file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecFile {
    /// The area every case id in this file starts with (`environ`).
    pub area: String,
    /// A one-line title for the area, shown as the table group heading.
    pub title: String,
    #[serde(default, rename = "case")]
    pub cases: Vec<Case>,
}

/// How binding a requirement is, taken from the source's own words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// MUST / MUST NOT / "is required": breaking it is a failure.
    Must,
    /// SHOULD / SHOULD NOT: breaking it is a warning (a failure with `--strict`).
    Should,
    /// MAY: an optional feature; when absent the case is skipped.
    May,
}

impl<'de> Deserialize<'de> for Level {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Level, D::Error> {
        const ALL: [Level; 3] = [Level::Must, Level::Should, Level::May];
        Ok(ALL[one_of(d, &["must", "should", "may"])?])
    }
}

/// Reads one word of a fixed list and returns its index. Unlike serde's
/// derived enums, a value of the wrong type is then reported with the words
/// allowed ("invalid type: integer `5`, expected one of `must`, ...")
/// instead of "wanted string or table".
fn one_of<'de, D: serde::Deserializer<'de>>(
    d: D,
    words: &'static [&'static str],
) -> Result<usize, D::Error> {
    struct Words(&'static [&'static str]);
    impl serde::de::Visitor<'_> for Words {
        type Value = usize;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            let list: Vec<String> = self.0.iter().map(|w| format!("`{w}`")).collect();
            write!(f, "one of {}", list.join(", "))
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<usize, E> {
            self.0
                .iter()
                .position(|w| *w == v)
                .ok_or_else(|| E::unknown_variant(v, self.0))
        }
    }
    d.deserialize_str(Words(words))
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "must",
            Level::Should => "should",
            Level::May => "may",
        }
    }
}

/// One check.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Stable hierarchical id, `area.topic.detail`; never renamed once published.
    pub id: String,
    pub level: Level,
    /// Where the requirement comes from: `PEP 3333, environ Variables`, `RFC 3875 4.1.18`.
    pub source: String,
    /// The sentence of the source the case checks, quoted.
    pub requirement: String,
    /// What the case sends and looks at, in one line.
    pub stimulus: String,
    /// The probe scenario the request selects (see docs/probe-protocol.md).
    #[serde(default = "default_scenario")]
    pub scenario: String,
    /// Scenario arguments, sent in `X-Wsgiprobe-Args`.
    #[serde(default)]
    pub args: BTreeMap<String, String>,
    #[serde(default)]
    pub request: Request,
    /// Preconditions; when one does not hold the case is skipped (not applicable).
    #[serde(default)]
    pub requires: Vec<Expect>,
    /// What must hold for the case to pass (may be empty when `choice`
    /// entries decide the case).
    #[serde(default)]
    pub expect: Vec<Expect>,
    /// The behaviours a server may show, each named, when the source allows
    /// several (pass a dot-segment through, resolve it, or refuse it) or
    /// when each way of breaking the rule has its own reason. The first
    /// whose `when` holds names what the server did in the verdict; a legal
    /// one passes, an illegal one breaks the case at its level. When the
    /// case declares legal choices and none holds, the case is broken too.
    #[serde(default, rename = "choice")]
    pub choices: Vec<Choice>,
    /// Response statuses that count as a legitimate refusal of the request
    /// (a server may answer 400 to bytes it will not accept).
    #[serde(default)]
    pub allow_status: Vec<u16>,
    /// Total time for the exchange, milliseconds.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// The scenario breaks the response on purpose (the application raises
    /// mid-body): a response the server cuts short is what it should do, so
    /// it is not held against it and the case judges only its expectations.
    #[serde(default)]
    pub broken_response_ok: bool,
    /// Run alone, not concurrently with other cases (timing-sensitive cases).
    #[serde(default)]
    pub serial: bool,
    /// Free text shown with the verdict: why the expectation is what it is.
    #[serde(default)]
    pub note: Option<String>,
    /// Ids of the requirements (specs/requirements.toml) this case checks.
    #[serde(default)]
    pub covers: Vec<String>,
    // The fields from `second` to `concurrent` (but `events_wait_ms`) say
    // what the case does on the wire; loading turns them into the case's
    // `Stimulus`, which is what the runner plays.
    /// A second request on the same connection, after the first response
    /// (or sent together with the first when `pipelined`). Its response is
    /// judged through `second.*` subjects; `wire.second` says what became of it.
    #[serde(default)]
    pub second: Option<Followup>,
    /// Send the request head alone and wait up to this long for a
    /// `100 Continue` before sending the body (`wire.continue`, `wire.interim`).
    #[serde(default)]
    pub expect_continue_ms: Option<u64>,
    /// Read the response head, then close the connection mid-body.
    #[serde(default)]
    pub disconnect_after_head: bool,
    /// Time when the first body byte arrives (`wire.first_body_ms`).
    #[serde(default)]
    pub watch_first_body: bool,
    /// Time how long the response head came before the response ended
    /// (`wire.head_to_end_ms`), also for a response the server cuts short.
    #[serde(default)]
    pub watch_head: bool,
    /// After the response, wait this long for bytes beyond its framed end
    /// (`wire.after_body`) and for the server to close (`wire.closed`).
    #[serde(default)]
    pub linger_ms: Option<u64>,
    /// How long to keep reading the side channel for expected events.
    #[serde(default)]
    pub events_wait_ms: Option<u64>,
    /// Send the request this many times at once, each on its own connection
    /// (`wire.concurrency.*`; the other subjects see the first response).
    #[serde(default)]
    pub concurrent: Option<u32>,
    /// What a proxy in front of the server does to this case.
    #[serde(default)]
    pub proxy: Vec<ProxyEffect>,
    /// What the stack must have for the case to apply (`proxy`, `tls`,
    /// `plain`, `prefix`); without it the case is skipped unsent.
    #[serde(default)]
    pub needs: Vec<Need>,
    /// The deployment setting the verdict depends on behind a proxy: a
    /// failure on a stack without it is a warn naming the setting.
    #[serde(default)]
    pub setting: Option<Setting>,
    /// A failure of this case is a security finding, labelled as such.
    #[serde(default)]
    pub security: bool,
    /// The client's end of the connection is bound to this address (a
    /// loopback one, so a server can tell the client from nginx); the case
    /// applies only where the client can choose it.
    #[serde(default)]
    pub source_address: Option<std::net::IpAddr>,
}

impl Case {
    /// Whether judging it needs the side-channel events of its request.
    pub fn reads_events(&self) -> bool {
        self.expectations().any(|e| e.subject.needs_events())
    }

    /// Every expectation the case judges with: preconditions, expectations
    /// and the conditions of its choices.
    pub fn expectations(&self) -> impl Iterator<Item = &Expect> {
        self.requires
            .iter()
            .chain(&self.expect)
            .chain(self.choices.iter().flat_map(|c| &c.when))
    }
}

/// One named behaviour of a case (see [`Case::choices`]).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    /// What the server did, in words; the verdict starts with it.
    pub name: String,
    /// Whether the source allows it; `false` names a way of breaking the
    /// rule, with its own reason.
    #[serde(default = "legal_by_default")]
    pub legal: bool,
    /// When all of these hold, this is what the server did.
    pub when: Vec<Expect>,
}

fn legal_by_default() -> bool {
    true
}

/// How a proxy changes what a case sees. Applied only to stacks behind a
/// matching proxy, and only when the case did not pass.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProxyEffect {
    /// The proxies (`nginx`, `nginx-unix`, `nginx-uwsgi`) it applies to;
    /// empty: all of them.
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Only when upstream keep-alive is on (`true`) or off (`false`).
    #[serde(default)]
    pub keepalive: Option<bool>,
    /// `excuse`: the proxy legitimately changes what the server receives, so
    /// the server cannot be judged here (the outcome becomes `skip`);
    /// `note`: the verdict stands for the stack, with the explanation.
    pub effect: ProxyEffectKind,
    /// What the proxy does, in a sentence.
    pub why: String,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ProxyEffectKind {
    Excuse,
    Note,
}

impl<'de> Deserialize<'de> for ProxyEffectKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<ProxyEffectKind, D::Error> {
        const ALL: [ProxyEffectKind; 2] = [ProxyEffectKind::Excuse, ProxyEffectKind::Note];
        Ok(ALL[one_of(d, &["excuse", "note"])?])
    }
}

/// The proxies a case's `proxy` entries may name. An entry for `nginx`
/// applies to `nginx-tls` too: the same proxy_pass over TCP, with TLS in
/// front; name `nginx-tls` alone for what only TLS changes.
pub const PROXY_KINDS: &[&str] = &["nginx", "nginx-unix", "nginx-uwsgi", "nginx-tls"];

/// The second request of a case that checks what happens on a reused connection.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Followup {
    #[serde(default = "default_scenario")]
    pub scenario: String,
    #[serde(default)]
    pub args: BTreeMap<String, String>,
    #[serde(default)]
    pub request: Request,
    /// Send both requests at once instead of waiting for the first response.
    #[serde(default)]
    pub pipelined: bool,
}

fn default_scenario() -> String {
    "environ".to_string()
}

/// The request a case sends. Strings map to bytes as ISO-8859-1: each code
/// point U+0000..U+00FF is one byte, so `"\u00e9"` sends the byte 0xE9.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub method: Option<String>,
    /// Request target as sent on the request line (`/a%20b?x=1`).
    pub target: Option<String>,
    /// Protocol on the request line; `HTTP/1.1` when absent.
    pub version: Option<String>,
    /// Header fields in order; duplicates are kept.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// Body sent with a Content-Length (unless `content_length = false`).
    pub body: Option<String>,
    /// Body sent with `Transfer-Encoding: chunked`, one chunk per string.
    pub chunked: Option<Vec<String>>,
    /// Add a `Host` header when the case has none (default true).
    pub host: Option<bool>,
    /// Add `Content-Length` for `body` (default true).
    pub content_length: Option<bool>,
    /// Exact bytes to send instead of the structured request. `{probe}` is
    /// replaced by the probe's control header lines (each ending in CRLF) and
    /// `{host}` by the target's host:port.
    pub raw: Option<String>,
}

impl Request {
    /// Whether it is a HEAD request, whose response has no body (RFC 9110 9.3.2).
    pub fn is_head(&self) -> bool {
        self.method
            .as_deref()
            .is_some_and(|m| m.eq_ignore_ascii_case("HEAD"))
            || self.raw.as_deref().is_some_and(|r| r.starts_with("HEAD "))
    }
}

/// One expectation (or precondition): a subject and predicates that must all hold.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// What to look at, parsed when the spec is read (see [`Subject`] for
    /// every form: `environ.KEY`, `observation.a.b`, `status`, `header.NAME`,
    /// `body`, `event.NAME`, `wire.NAME`, `second.SUBJECT`).
    pub subject: Subject,
    /// Whether the subject exists at all.
    pub present: Option<bool>,
    /// The Python type name (`str`, `dict`, `tuple`) for `environ.*`; the JSON
    /// type (`string`, `number`, `bool`, `array`, `object`, `null`) otherwise.
    #[serde(rename = "type")]
    pub type_name: Option<String>,
    pub equals: Option<toml::Value>,
    pub one_of: Option<Vec<toml::Value>>,
    pub not_equals: Option<toml::Value>,
    /// A string value is not empty.
    pub nonempty: Option<bool>,
    /// Every code point of a string value is below 256.
    pub latin1: Option<bool>,
    /// A string value contains this substring, or an array contains this element.
    pub contains: Option<toml::Value>,
    /// A string value matches this regular expression (regex-lite syntax;
    /// anchor it with `^...$` to match the whole value).
    pub matches: Option<String>,
    /// A number is at least / at most this.
    pub at_least: Option<f64>,
    pub at_most: Option<f64>,
    /// The subject is absent, or present and empty.
    pub empty_or_absent: Option<bool>,
    /// The object has all these methods (environ values carry a `methods` list).
    pub methods: Option<Vec<String>>,
    /// An absent subject counts as holding (the other predicates apply
    /// only when it is there).
    pub or_absent: Option<bool>,
}

/// The requirement catalogue (`specs/requirements.toml`) as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequirementsFile {
    #[serde(default, rename = "requirement")]
    pub requirements: Vec<Requirement>,
}

/// One statement of a source that binds a server or gateway.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    /// Stable id, `pep3333.topic.detail` or `rfcNNNN.section.detail`.
    pub id: String,
    pub level: Level,
    /// `PEP 3333, environ Variables`, `RFC 9110, 5.5`.
    pub source: String,
    /// The statement, quoted.
    pub text: String,
    /// Why no case checks it, when none does.
    #[serde(default)]
    pub uncovered: Option<String>,
}
