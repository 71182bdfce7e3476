//! What a case does on the wire, as a type.
//!
//! A spec writes it as flat fields of the case (`second`, `expect_continue_ms`,
//! `disconnect_after_head`, `watch_first_body`, `linger_ms`, `concurrent`);
//! they are turned into one [`Stimulus`] when the spec is loaded, so a
//! combination that makes no sense is a spec error naming the file and the
//! case, and the runner plays the stimulus without reading flags.

use std::time::Duration;

use super::model::{Case, Followup};

/// What a case sends, and how it uses the connection.
#[derive(Debug, Clone, PartialEq)]
pub enum Stimulus {
    /// The request, then its response.
    Single { read: ReadOptions },
    /// The request head alone; the body once a `100 Continue` has come, or
    /// after `wait` without one (`wire.continue`, `wire.interim`).
    ExpectContinue { wait: Duration, read: ReadOptions },
    /// The request and a second one right behind it, in one write; the
    /// second response is judged through `second.*` (`wire.second`).
    Pipelined { second: Followup, read: ReadOptions },
    /// The request, and a second one on the same connection once the first
    /// response is complete, if the server kept the connection open.
    AfterResponse { second: Followup, read: ReadOptions },
    /// The request; the client hangs up as soon as the response head has
    /// arrived (`wire.disconnected`), after the first body byte when
    /// `watch_first_body`.
    DisconnectAfterHead { watch_first_body: bool },
    /// The request `n` times at once, each on its own connection
    /// (`wire.concurrency.*`; the other subjects see the first response).
    Concurrent { n: u32 },
}

/// How the first response of a single connection is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadOptions {
    /// Time the first body byte (`wire.first_body_ms`).
    pub watch_first_body: bool,
    /// Time the response head against the end of the response
    /// (`wire.head_to_end_ms`).
    pub watch_head: bool,
    /// After the response, wait this long for bytes beyond its framed end
    /// (`wire.after_body`) and for the server to close (`wire.closed`).
    pub linger: Option<Duration>,
}

/// How long to watch for content after the response to a HEAD request
/// that is not followed by a second one, when the case sets no `linger_ms`:
/// RFC 9110 9.3.2 allows none, and bytes sent anyway would arrive after it.
pub const HEAD_LINGER: Duration = Duration::from_millis(300);

impl Stimulus {
    /// Builds a case's stimulus from its fields; the error says which
    /// combination is wrong.
    pub fn of(case: &Case) -> Result<Stimulus, String> {
        let ms = Duration::from_millis;
        if let Some(n) = case.concurrent {
            if !(2..=16).contains(&n) {
                return Err("concurrent must be between 2 and 16".into());
            }
            if case.second.is_some()
                || case.expect_continue_ms.is_some()
                || case.disconnect_after_head
                || case.watch_first_body
                || case.watch_head
                || case.linger_ms.is_some()
                || case.broken_response_ok
            {
                return Err("concurrent cannot be combined with second, expect_continue_ms, disconnect_after_head, watch_first_body, watch_head, linger_ms or broken_response_ok".into());
            }
            return Ok(Stimulus::Concurrent { n });
        }
        if case.disconnect_after_head {
            if case.second.is_some()
                || case.expect_continue_ms.is_some()
                || case.linger_ms.is_some()
                || case.watch_head
            {
                return Err("disconnect_after_head hangs up once the response head has arrived: it cannot be combined with second, expect_continue_ms, linger_ms or watch_head (it records wire.first_body_ms)".into());
            }
            return Ok(Stimulus::DisconnectAfterHead {
                watch_first_body: case.watch_first_body,
            });
        }
        let head_linger = (case.request.is_head() && case.second.is_none()).then_some(HEAD_LINGER);
        let read = ReadOptions {
            watch_first_body: case.watch_first_body,
            watch_head: case.watch_head,
            linger: case.linger_ms.map(ms).or(head_linger),
        };
        if let Some(wait) = case.expect_continue_ms {
            if case.request.body.is_none() {
                return Err("expect_continue_ms needs a request `body` to hold back".into());
            }
            if case.second.is_some() {
                return Err("expect_continue_ms cannot be combined with second: the body held back for 100 Continue is checked on a connection of its own".into());
            }
            return Ok(Stimulus::ExpectContinue {
                wait: ms(wait),
                read,
            });
        }
        Ok(match &case.second {
            None => Stimulus::Single { read },
            Some(second) if second.pipelined => Stimulus::Pipelined {
                second: second.clone(),
                read,
            },
            Some(second) => Stimulus::AfterResponse {
                second: second.clone(),
                read,
            },
        })
    }

    /// The second request, for stimuli that send one.
    pub fn second(&self) -> Option<&Followup> {
        match self {
            Stimulus::Pipelined { second, .. } | Stimulus::AfterResponse { second, .. } => {
                Some(second)
            }
            _ => None,
        }
    }
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

    #[test]
    fn flags_become_one_stimulus() {
        let read = ReadOptions::default();
        assert_eq!(Stimulus::of(&case("")), Ok(Stimulus::Single { read }));
        assert_eq!(
            Stimulus::of(&case("concurrent = 4")),
            Ok(Stimulus::Concurrent { n: 4 })
        );
        assert_eq!(
            Stimulus::of(&case(
                "expect_continue_ms = 500\nrequest = { body = \"x\" }"
            )),
            Ok(Stimulus::ExpectContinue {
                wait: Duration::from_millis(500),
                read
            })
        );
        let pipelined = Stimulus::of(&case("[second]\npipelined = true")).unwrap();
        assert!(matches!(pipelined, Stimulus::Pipelined { .. }));
        let after = Stimulus::of(&case("linger_ms = 50\n[second]\nscenario = \"read\"")).unwrap();
        let Stimulus::AfterResponse { second, read } = after else {
            panic!("{after:?}")
        };
        assert_eq!(second.scenario, "read");
        assert_eq!(read.linger, Some(Duration::from_millis(50)));
        assert_eq!(
            Stimulus::of(&case(
                "disconnect_after_head = true\nwatch_first_body = true"
            )),
            Ok(Stimulus::DisconnectAfterHead {
                watch_first_body: true
            })
        );
    }

    #[test]
    fn a_head_request_lingers_unless_a_second_request_follows() {
        let head = Stimulus::of(&case("request = { method = \"HEAD\" }")).unwrap();
        let Stimulus::Single { read } = head else {
            panic!("{head:?}")
        };
        assert_eq!(read.linger, Some(HEAD_LINGER));
        let raw = case("request = { raw = \"HEAD / HTTP/1.1\\r\\n{probe}\\r\\n\" }\n[second]\npipelined = true");
        let Stimulus::Pipelined { read, .. } = Stimulus::of(&raw).unwrap() else {
            panic!()
        };
        assert_eq!(read.linger, None);
    }

    #[test]
    fn combinations_that_make_no_sense_are_refused() {
        for (extra, says) in [
            ("concurrent = 1", "between 2 and 16"),
            (
                "concurrent = 2\nlinger_ms = 5",
                "concurrent cannot be combined",
            ),
            (
                "disconnect_after_head = true\n[second]\npipelined = true",
                "disconnect_after_head hangs up",
            ),
            (
                "disconnect_after_head = true\nlinger_ms = 5",
                "disconnect_after_head hangs up",
            ),
            ("expect_continue_ms = 5", "needs a request `body`"),
            (
                "expect_continue_ms = 5\nrequest = { body = \"x\" }\n[second]\npipelined = true",
                "cannot be combined with second",
            ),
        ] {
            let e = Stimulus::of(&case(extra)).unwrap_err();
            assert!(e.contains(says), "{extra}: {e}");
        }
    }
}
