//! The corpus: malformed and ambiguous requests as exact bytes
//! (`specs/differential/requests.toml`, built in), validated when loaded.

use serde::Deserialize;

use crate::http::latin1_bytes;

/// The corpus built into the binary.
pub const BUILTIN_CORPUS: &str = include_str!("../../specs/differential/requests.toml");

/// One request of the corpus, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Stable id (`cl.duplicate-differ`).
    pub id: String,
    /// What is odd about the bytes, in one line.
    pub what: String,
    /// What RFC 9112 / 9110 asks of a recipient, when it says.
    #[serde(default)]
    pub rule: Option<String>,
    /// The bytes, ISO-8859-1, with placeholders.
    pub raw: String,
    /// Environ keys of interest besides method, path, query and body.
    #[serde(default)]
    pub show: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CorpusFile {
    #[serde(rename = "request")]
    requests: Vec<Entry>,
}

/// A corpus that cannot be used, with the entry at fault.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}: {detail}")]
pub struct CorpusError {
    pub file: String,
    pub detail: String,
}

/// What fills an entry's placeholders for one stack and one exchange.
pub struct Fill<'a> {
    /// `host:port` of the stack (`{host}`).
    pub host: &'a str,
    /// The control header lines of the request (`{probe}`), and of the
    /// request embedded in the bytes (`{probe2}`), each ending in CRLF.
    pub probe: &'a str,
    pub probe2: &'a str,
    /// The path the application is mounted at (`/`, `/app/`): the
    /// corpus's paths (`/diff/...`) go under it.
    pub base: &'a str,
}

/// 65536 bytes, for over-long lines (`{long}`).
const LONG: usize = 65536;

impl Entry {
    /// Whether the bytes embed a second request (`{probe2}`).
    pub fn embeds_request(&self) -> bool {
        self.raw.contains("{probe2}")
    }

    /// The bytes to send, placeholders filled in.
    pub fn bytes(&self, fill: &Fill) -> Vec<u8> {
        let text = self
            .raw
            .replace("{host}", fill.host)
            .replace("{probe}", fill.probe)
            .replace("{probe2}", fill.probe2)
            .replace("{long}", &"a".repeat(LONG))
            .replace(
                "/diff/",
                &format!("{}/diff/", fill.base.trim_end_matches('/')),
            );
        let text = match text.find("\r\n\r\n") {
            Some(i) if text.contains("{cl}") => {
                // `{cl}` sits in the head, so its own width changes where
                // the body starts but not the body's length.
                let body_len = text.len() - (i + 4);
                text.replace("{cl}", &body_len.to_string())
            }
            _ => text,
        };
        // Validated at load: every character is a byte.
        latin1_bytes(&text).unwrap_or_default()
    }
}

/// Parses and validates a corpus file.
pub fn parse(text: &str, file: &str) -> Result<Vec<Entry>, CorpusError> {
    let err = |detail: String| CorpusError {
        file: file.to_string(),
        detail,
    };
    let parsed: CorpusFile = toml::from_str(text).map_err(|e| err(e.to_string()))?;
    let mut seen = std::collections::HashSet::new();
    for e in &parsed.requests {
        let bad = |what: &str| err(format!("request {}: {what}", e.id));
        let id_ok = !e.id.is_empty()
            && e.id.split('.').all(|s| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            });
        if !id_ok {
            return Err(bad("the id must be dot-separated lowercase words"));
        }
        if !seen.insert(e.id.as_str()) {
            return Err(bad("duplicate id"));
        }
        if !e.raw.contains("{probe}") {
            return Err(bad(
                "raw must contain {probe}, where the control headers go",
            ));
        }
        if e.raw.contains("{cl}") && !e.raw.contains("\r\n\r\n") {
            return Err(bad(
                "{cl} counts the bytes after the first CRLF CRLF, which raw lacks",
            ));
        }
        if let Err(e) = latin1_bytes(&e.raw) {
            return Err(bad(&format!("raw is not bytes: {e}")));
        }
    }
    if parsed.requests.is_empty() {
        return Err(err("no [[request]]".into()));
    }
    Ok(parsed.requests)
}

/// The corpus of a `--specs DIR` folder (`DIR/differential/requests.toml`)
/// when it has one, else the built-in one.
pub fn load(specs: Option<&std::path::Path>) -> Result<Vec<Entry>, CorpusError> {
    let Some(path) = specs
        .map(|d| d.join("differential").join("requests.toml"))
        .filter(|p| p.exists())
    else {
        return Ok(builtin());
    };
    let file = path.display().to_string();
    let text = std::fs::read_to_string(&path).map_err(|e| CorpusError {
        file: file.clone(),
        detail: e.to_string(),
    })?;
    parse(&text, &file)
}

/// The entries whose id starts with one of `only` (all when empty) and
/// with none of `skip`; a prefix that matches nothing is refused.
pub fn select(
    entries: Vec<Entry>,
    only: &[String],
    skip: &[String],
) -> Result<Vec<Entry>, CorpusError> {
    for (flag, list) in [("--only", only), ("--skip", skip)] {
        if let Some(p) = list
            .iter()
            .find(|p| !entries.iter().any(|e| e.id.starts_with(p.as_str())))
        {
            return Err(CorpusError {
                file: "the differential corpus".into(),
                detail: format!("no request id starts with {p:?} (given to {flag})"),
            });
        }
    }
    Ok(entries
        .into_iter()
        .filter(|e| only.is_empty() || only.iter().any(|p| e.id.starts_with(p.as_str())))
        .filter(|e| !skip.iter().any(|p| e.id.starts_with(p.as_str())))
        .collect())
}

/// The built-in corpus.
pub fn builtin() -> Vec<Entry> {
    parse(
        BUILTIN_CORPUS,
        "specs/differential/requests.toml (built in)",
    )
    .expect("the built-in corpus is valid (a unit test checks)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_corpus_is_valid_and_covers_the_families() {
        let corpus = builtin();
        for family in [
            "baseline.",
            "header.",
            "line.",
            "cl.",
            "te.",
            "chunk.",
            "host.",
        ] {
            assert!(
                corpus.iter().any(|e| e.id.starts_with(family)),
                "no {family} request"
            );
        }
    }

    #[test]
    fn placeholders_make_exact_bytes() {
        let corpus = builtin();
        let fill = Fill {
            host: "127.0.0.1:8000",
            probe: "X-P: 1\r\n",
            probe2: "X-P: 2\r\n",
            base: "/",
        };
        let smuggle = corpus
            .iter()
            .find(|e| e.id == "te.with-content-length")
            .unwrap();
        let bytes = smuggle.bytes(&fill);
        let text = String::from_utf8(bytes).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains(&format!("Content-Length: {}\r\n", body.len())),
            "{text}"
        );
        assert!(body.starts_with(
            "0\r\n\r\nGET /diff/smuggled HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nX-P: 2\r\n"
        ));
        let long = corpus.iter().find(|e| e.id == "line.long-target").unwrap();
        assert!(long.bytes(&fill).len() > LONG);
        let nul = corpus
            .iter()
            .find(|e| e.id == "header.nul-in-value")
            .unwrap();
        assert!(nul.bytes(&fill).windows(3).any(|w| w == b"a\0b"));
        let name = corpus
            .iter()
            .find(|e| e.id == "header.control-in-name")
            .unwrap();
        assert!(name.bytes(&fill).windows(7).any(|w| w == b"X-C\x01tl:"));
        let del = corpus
            .iter()
            .find(|e| e.id == "header.del-in-value")
            .unwrap();
        assert!(del.bytes(&fill).windows(3).any(|w| w == b"a\x7fb"));
    }

    #[test]
    fn bad_entries_are_refused() {
        let entry = |raw: &str, extra: &str| {
            format!("[[request]]\nid = \"x.y\"\nwhat = \"w\"\nraw = \"{raw}\"\n{extra}")
        };
        for (text, says) in [
            (entry("GET / HTTP/1.1", ""), "{probe}"),
            (entry("GET / {probe}\\u20ac", ""), "not bytes"),
            (entry("GET / {probe}", "colour = 1"), "colour"),
        ] {
            let e = parse(&text, "t.toml").unwrap_err().to_string();
            assert!(e.contains(says), "{text}: {e}");
        }
    }
}
