//! Cases through a proxy: what the application sees behind nginx is what
//! counts, so the same cases run; where the proxy legitimately changes what
//! the server receives, the case's `proxy` entries say so instead of
//! blaming the server.

use super::judge::Outcome;
use super::runner::CaseResult;
use crate::spec::{ProxyEffect, ProxyEffectKind};

/// The proxy in front of a stack, as the cases' `proxy` entries match it.
#[derive(Debug, Clone, Copy)]
pub struct ProxyInFront<'a> {
    /// `nginx`, `nginx-unix` or `nginx-uwsgi`.
    pub kind: &'a str,
    pub keepalive: bool,
}

impl ProxyInFront<'_> {
    fn matches(&self, e: &ProxyEffect) -> bool {
        (e.kinds.is_empty() || e.kinds.iter().any(|k| k == self.kind))
            && e.keepalive.map_or(true, |want| want == self.keepalive)
    }
}

/// Applies the cases' proxy entries to results that did not pass: an
/// excuse turns a fail or warn into a skip that says what the proxy did;
/// a note keeps the verdict and adds the explanation. Passes, skips and
/// errors are left alone: a proxy never makes a harness error disappear.
pub fn apply_proxy_effects(results: &mut [CaseResult], proxy: ProxyInFront) {
    for r in results.iter_mut() {
        if !matches!(r.verdict.outcome, Outcome::Fail | Outcome::Warn) {
            continue;
        }
        let Some(effect) = r.case.case.proxy.iter().find(|e| proxy.matches(e)) else {
            continue;
        };
        match effect.effect {
            ProxyEffectKind::Excuse => {
                r.verdict.actual = format!(
                    "not judged behind {}: {} (the application saw: {})",
                    proxy.kind, effect.why, r.verdict.actual
                );
                r.verdict.outcome = Outcome::Skip;
            }
            ProxyEffectKind::Note => {
                r.verdict.actual = format!(
                    "{} (behind {}: {})",
                    r.verdict.actual, proxy.kind, effect.why
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::Verdict;
    use crate::spec::LoadedCase;

    fn result(outcome: Outcome, proxy: Vec<ProxyEffect>) -> CaseResult {
        let mut case: crate::spec::Case = toml::from_str(
            "id = \"environ.x\"\nlevel = \"must\"\nsource = \"s\"\nrequirement = \"r\"\nstimulus = \"t\"\n[[expect]]\nsubject = \"status\"\nequals = 200\n",
        )
        .unwrap();
        case.proxy = proxy;
        CaseResult {
            case: LoadedCase {
                area: "environ".into(),
                area_title: "t".into(),
                file: "f".into(),
                case,
            },
            verdict: Verdict {
                outcome,
                expected: "e".into(),
                actual: "saw HTTP/1.0".into(),
            },
            elapsed: std::time::Duration::ZERO,
            request: String::new(),
            response_head: None,
            timed_out: false,
        }
    }

    fn effect(kinds: &[&str], keepalive: Option<bool>, effect: ProxyEffectKind) -> ProxyEffect {
        ProxyEffect {
            kinds: kinds.iter().map(|k| k.to_string()).collect(),
            keepalive,
            effect,
            why: "nginx did it".into(),
        }
    }

    #[test]
    fn an_excuse_turns_a_failure_into_a_skip_that_says_why() {
        let mut r = vec![result(
            Outcome::Fail,
            vec![effect(&["nginx"], None, ProxyEffectKind::Excuse)],
        )];
        let nginx = ProxyInFront {
            kind: "nginx",
            keepalive: false,
        };
        apply_proxy_effects(&mut r, nginx);
        assert_eq!(r[0].verdict.outcome, Outcome::Skip);
        assert!(r[0].verdict.actual.contains("behind nginx: nginx did it"));
        assert!(r[0].verdict.actual.contains("saw HTTP/1.0"));
    }

    #[test]
    fn effects_apply_only_to_matching_proxies_and_never_to_errors() {
        let only_uwsgi = vec![effect(&["nginx-uwsgi"], None, ProxyEffectKind::Excuse)];
        let only_keepalive = vec![effect(&[], Some(true), ProxyEffectKind::Excuse)];
        let nginx = ProxyInFront {
            kind: "nginx",
            keepalive: false,
        };
        let mut r = vec![
            result(Outcome::Fail, only_uwsgi),
            result(Outcome::Warn, only_keepalive.clone()),
            result(Outcome::Error, only_keepalive.clone()),
        ];
        apply_proxy_effects(&mut r, nginx);
        assert_eq!(r[0].verdict.outcome, Outcome::Fail);
        assert_eq!(r[1].verdict.outcome, Outcome::Warn);
        assert_eq!(r[2].verdict.outcome, Outcome::Error);
        let mut r = vec![result(Outcome::Warn, only_keepalive)];
        apply_proxy_effects(
            &mut r,
            ProxyInFront {
                kind: "nginx-unix",
                keepalive: true,
            },
        );
        assert_eq!(r[0].verdict.outcome, Outcome::Skip);
    }

    #[test]
    fn a_note_keeps_the_verdict() {
        let mut r = vec![result(
            Outcome::Fail,
            vec![effect(&[], None, ProxyEffectKind::Note)],
        )];
        apply_proxy_effects(
            &mut r,
            ProxyInFront {
                kind: "nginx-uwsgi",
                keepalive: false,
            },
        );
        assert_eq!(r[0].verdict.outcome, Outcome::Fail);
        assert!(r[0]
            .verdict
            .actual
            .ends_with("(behind nginx-uwsgi: nginx did it)"));
    }
}
