//! Comparing the stacks' reactions to one request: what each one's
//! application saw, reduced to what matters (method, path, query, the
//! fields of interest, body, how many requests), grouped, and the findings
//! that are security findings whatever the others did.

use serde::Serialize;

use super::corpus::Entry;
use super::run::{Reaction, Seen};

/// A reaction reduced to what is compared across stacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum View {
    /// The request never reached the application: an error status, or the
    /// connection closed without an answer.
    Refused,
    /// Nothing came back within the wait and the application saw nothing
    /// (the stack still waits for bytes it thinks are coming).
    NoAnswer,
    /// What the application saw, request by request.
    App { requests: Vec<SeenView> },
    /// The harness could not tell.
    Unknown,
}

/// What the application saw of one request, as compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeenView {
    pub method: Option<String>,
    pub path: Option<String>,
    pub query: Option<String>,
    /// The entry's fields of interest, each with its value or `None`.
    pub fields: Vec<(String, Option<String>)>,
    pub body: Option<String>,
    /// Reading the body raised.
    pub body_raised: bool,
}

impl View {
    /// Reduces a reaction for `entry`.
    pub fn of(entry: &Entry, r: &Reaction) -> View {
        if r.error.is_some() {
            return View::Unknown;
        }
        if r.seen.is_empty() {
            return if r.responses.is_empty() && r.ended == "no answer" {
                View::NoAnswer
            } else {
                View::Refused
            };
        }
        View::App {
            requests: r.seen.iter().map(|s| SeenView::of(entry, s)).collect(),
        }
    }

    /// One line for a table cell.
    pub fn short(&self) -> String {
        match self {
            View::Refused => "refused".into(),
            View::NoAnswer => "no answer".into(),
            View::Unknown => "unknown".into(),
            View::App { requests } => {
                let parts: Vec<String> = requests.iter().map(SeenView::short).collect();
                if requests.len() > 1 {
                    format!("app x{}: {}", requests.len(), parts.join(" | "))
                } else {
                    format!("app: {}", parts.join(" | "))
                }
            }
        }
    }
}

impl SeenView {
    fn of(entry: &Entry, s: &Seen) -> SeenView {
        SeenView {
            method: s.method.clone(),
            path: s.path.clone(),
            query: s.query.clone().filter(|q| !q.is_empty()),
            fields: entry
                .show
                .iter()
                .map(|k| (k.clone(), s.fields.get(k).cloned()))
                .collect(),
            body: s.body.clone().filter(|b| !b.is_empty()),
            body_raised: s.body_error.is_some(),
        }
    }

    fn short(&self) -> String {
        let mut s = format!(
            "{} {}",
            self.method.as_deref().unwrap_or("?"),
            shorten(&escape_text(self.path.as_deref().unwrap_or("?")), 40)
        );
        if let Some(q) = &self.query {
            s.push_str(&format!("?{}", shorten(&escape_text(q), 20)));
        }
        for (k, v) in &self.fields {
            if let Some(v) = v {
                s.push_str(&format!(" {}={}", escape_text(k), quoted(v, 24)));
            }
        }
        if let Some(b) = &self.body {
            s.push_str(&format!(" body={}", quoted(b, 24)));
        }
        if self.body_raised {
            s.push_str(" (reading the body raised)");
        }
        s
    }
}

/// `text` in quotes with control bytes escaped, cut to `max` characters.
pub fn quoted(text: &str, max: usize) -> String {
    format!("\"{}\"", shorten(&escape_text(text), max))
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let cut: String = s.chars().take(max.saturating_sub(3)).collect();
    format!("{cut}...")
}

/// Bytes as readable text: printable ASCII as is, `\r`, `\n`, `\t`, `\0`
/// and `\xNN` for the rest, `\\` for a backslash.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            0 => out.push_str("\\0"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

fn escape_text(text: &str) -> String {
    let bytes: Vec<u8> = text
        .chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect();
    escape_bytes(&bytes)
}

/// A finding that is a security finding whatever the other stacks did:
/// the application was handed the request the bytes embed, which the
/// client never framed as one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SecurityFinding {
    /// Behind a proxy, and its answer never reached the client: the
    /// server read a request the proxy passed on inside another (request
    /// smuggling).
    Smuggled,
    /// The stack read the bytes as two requests and answered both: a
    /// front end that reads them as RFC 9112 says passes one, and the
    /// server behind it would run two.
    Desync,
}

impl SecurityFinding {
    /// The finding of a reaction, if it has one.
    pub fn of(r: &Reaction, behind_proxy: bool) -> Option<SecurityFinding> {
        if !r.seen.iter().any(|s| s.request == 2) {
            return None;
        }
        Some(if behind_proxy && r.answered_by_app < r.seen.len() {
            SecurityFinding::Smuggled
        } else {
            SecurityFinding::Desync
        })
    }

    /// In a sentence.
    pub fn describe(&self) -> String {
        match self {
            SecurityFinding::Smuggled => "request smuggling: the application was handed the request embedded in the bytes, and its answer never reached the client: the server read a request the proxy passed on inside another".into(),
            SecurityFinding::Desync => "desync: the application was handed the request embedded in the bytes as a request of its own; the bytes hold one request (RFC 9112), so a front end that reads them as the RFC says passes one and the server runs two".into(),
        }
    }
}

/// The views of several stacks grouped: for each stack, the index of its
/// group (views that are equal), groups numbered in first-seen order.
/// Stacks whose view is unknown get no group.
pub fn groups(views: &[Option<View>]) -> Vec<Option<usize>> {
    let mut distinct: Vec<&View> = Vec::new();
    views
        .iter()
        .map(|v| {
            let v = v.as_ref().filter(|v| **v != View::Unknown)?;
            Some(match distinct.iter().position(|d| *d == v) {
                Some(i) => i,
                None => {
                    distinct.push(v);
                    distinct.len() - 1
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(show: &[&str]) -> Entry {
        Entry {
            id: "x.y".into(),
            what: "w".into(),
            rule: None,
            raw: "{probe}".into(),
            show: show.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn seen(path: &str, fold: Option<&str>) -> Seen {
        Seen {
            request: 1,
            method: Some("GET".into()),
            path: Some(path.into()),
            query: Some(String::new()),
            fields: fold
                .map(|f| [("HTTP_X_FOLDED".to_string(), f.to_string())].into())
                .unwrap_or_default(),
            body: Some(String::new()),
            body_length: Some(0),
            body_error: None,
        }
    }

    fn app(seen: Vec<Seen>, answered: usize) -> Reaction {
        Reaction {
            responses: vec![200; answered],
            answered_by_app: answered,
            ended: "closed".into(),
            seen,
            error: None,
        }
    }

    #[test]
    fn views_compare_what_matters_and_group_equal_ones() {
        let e = entry(&["HTTP_X_FOLDED"]);
        let folded = View::of(&e, &app(vec![seen("/d", Some("a b"))], 1));
        let kept = View::of(&e, &app(vec![seen("/d", Some("a\r\n b"))], 1));
        let refused = View::of(
            &e,
            &Reaction {
                responses: vec![400],
                ended: "closed".into(),
                ..Reaction::default()
            },
        );
        let closed = View::of(
            &e,
            &Reaction {
                ended: "closed".into(),
                ..Reaction::default()
            },
        );
        assert_eq!(refused, closed, "a 400 and a close both refuse");
        assert!(
            folded.short().contains("HTTP_X_FOLDED=\"a b\""),
            "{}",
            folded.short()
        );
        assert!(kept.short().contains("\\r\\n"), "{}", kept.short());
        let g = groups(&[
            Some(folded.clone()),
            Some(refused),
            Some(folded),
            Some(kept),
            Some(View::Unknown),
            None,
        ]);
        assert_eq!(g, [Some(0), Some(1), Some(0), Some(2), None, None]);
    }

    #[test]
    fn the_embedded_request_reaching_the_application_is_a_security_finding() {
        let mut embedded = seen("/smuggled", None);
        embedded.request = 2;
        let both = vec![seen("/d", None), embedded];
        assert_eq!(
            SecurityFinding::of(&app(both.clone(), 1), true),
            Some(SecurityFinding::Smuggled)
        );
        assert_eq!(
            SecurityFinding::of(&app(both.clone(), 2), true),
            Some(SecurityFinding::Desync)
        );
        assert_eq!(
            SecurityFinding::of(&app(both, 1), false),
            Some(SecurityFinding::Desync)
        );
        // The request itself, its answer lost (reading its body failed):
        // no finding.
        assert_eq!(
            SecurityFinding::of(&app(vec![seen("/d", None)], 0), true),
            None
        );
        assert!(SecurityFinding::Smuggled
            .describe()
            .contains("inside another"));
    }

    #[test]
    fn a_table_cell_escapes_control_bytes_in_names_and_queries() {
        let name = "HTTP_X_C\u{1}TL";
        let mut s = seen("/d", None);
        s.fields = [(name.to_string(), "1".to_string())].into();
        s.query = Some("a=\u{1b}[2J".into());
        let cell = View::of(&entry(&[name]), &app(vec![s], 1)).short();
        assert!(cell.contains("HTTP_X_C\\x01TL=\"1\""), "{cell}");
        assert!(cell.contains("?a=\\x1b[2J"), "{cell}");
        assert!(!cell.chars().any(|c| c.is_control()), "{cell:?}");
    }

    #[test]
    fn bytes_are_escaped_readably() {
        assert_eq!(
            escape_bytes(b"GET / HTTP/1.1\r\nX: a\0b\x01\xe9\\\n"),
            "GET / HTTP/1.1\\r\\nX: a\\0b\\x01\\xe9\\\\\\n"
        );
    }
}
