//! The verdict pipeline: the one place where a case's verdict is decided.
//!
//! [`decide`] runs five stages, always in the same order: the judge, the
//! server-gone check, what the stack around the server changes (the
//! recipe's launch, the proxy), the deployment's settings, the server's
//! quirk. Nothing else changes an outcome; what the exit code makes of the
//! outcomes is `commands::check::exit_for`.

use super::deploy::missing_setting;
use std::collections::BTreeMap;

use super::evidence::Exchange;
use super::judge::{judge, Outcome, Verdict};
use super::quirks::{AppliedQuirk, Quirk};
use crate::gateway::{Deployment, Stack};
use crate::spec::{Case, ProxyEffect, ProxyEffectKind};

/// The proxy in front of a stack, as the cases' `proxy` entries match it.
#[derive(Debug, Clone, Copy)]
pub struct ProxyInFront<'a> {
    /// `nginx`, `nginx-unix` or `nginx-uwsgi`.
    pub kind: &'a str,
    pub keepalive: bool,
}

impl ProxyInFront<'_> {
    fn matches(&self, e: &ProxyEffect) -> bool {
        // nginx-tls is nginx's proxy_pass over TCP with TLS in front.
        let named = |k: &String| k == self.kind || (k == "nginx" && self.kind == "nginx-tls");
        (e.kinds.is_empty() || e.kinds.iter().any(named))
            && e.keepalive.map_or(true, |want| want == self.keepalive)
    }
}

/// What besides the exchange can change the verdicts of one stack: what
/// its recipe's launch adds, the proxy in front of it, how it is deployed,
/// and the quirks declared for its server.
#[derive(Debug, Clone, Default)]
pub struct VerdictRules<'a> {
    /// The recipe the server was launched with, and the cases that launch
    /// makes unfit to judge the server by (case id -> why).
    recipe: Option<(String, BTreeMap<String, String>)>,
    proxy: Option<ProxyInFront<'a>>,
    /// The quirks that match the stack, in declaration order.
    quirks: Vec<&'a Quirk>,
    deployment: Option<&'a Deployment>,
}

impl<'a> VerdictRules<'a> {
    /// The rules of a stack: `proxy` in front of it, and those of `quirks`
    /// that match it.
    pub fn for_stack(
        stack: &Stack,
        proxy: Option<ProxyInFront<'a>>,
        quirks: &'a [Quirk],
    ) -> VerdictRules<'a> {
        VerdictRules {
            recipe: (!stack.excuses.is_empty())
                .then(|| (stack.gateway.clone(), stack.excuses.clone())),
            proxy,
            quirks: quirks.iter().filter(|q| q.matches(stack)).collect(),
            deployment: None,
        }
    }

    /// The same rules, with the deployment settings the deploy cases'
    /// verdicts depend on.
    pub fn with_deployment(mut self, deployment: &'a Deployment) -> VerdictRules<'a> {
        self.deployment = Some(deployment);
        self
    }

    fn quirk_for(&self, case: &Case) -> Option<&'a Quirk> {
        self.quirks.iter().copied().find(|q| q.case == case.id)
    }
}

/// A case's final verdict and what the later stages made of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub verdict: Verdict,
    /// The quirk that met a case that did not pass, downgraded or not.
    pub quirk: Option<AppliedQuirk>,
    /// Why the server is gone, when that turned the case into an error.
    pub server_gone: Option<String>,
    /// The deployment setting the stack lacks that explains the finding,
    /// with what fixes it (the deploy stage turned a failure into a warn).
    pub deployment: Option<String>,
}

/// Decides a case's verdict from its exchange, in four stages, always in
/// this order:
///
/// 1. **Judge**: the case's expectations against the exchange ([`judge`]),
///    a pure function: pass, or the outcome of a broken expectation at the
///    case's level (fail for MUST, warn for SHOULD, skip for MAY), or error
///    when it could not be decided.
/// 2. **Server gone**: when the verdict is an error or no answer came from
///    the server itself (no response, or a proxy's own 502/504), and the
///    server has exited, the case is an error that names the exit.
///    `server_gone` is asked only then: it may wait a moment for the exit
///    to show.
/// 3. **Stack effect**: a fail or warn of a case the server's recipe
///    excuses becomes a skip saying what the launch added (the harness
///    must not blame the server for its own doing); then a fail or warn
///    the case's `proxy` entry explains for this proxy becomes a skip
///    saying what the proxy did (an excuse), or keeps its outcome with the
///    explanation added (a note).
/// 4. **Deployment**: behind a proxy, a fail or warn of a case whose truth
///    depends on a deployment setting (`setting`: trusting the proxy's
///    X-Forwarded-* headers, nginx's buffering) that the stack lacks is a
///    warn that names the setting and what fixes it: it is the
///    deployment's doing, not the server's. With the setting applied the
///    verdict stands.
/// 5. **Quirk**: a declared quirk of this server turns a warn or a skip
///    into `quirk`. A fail stands (a quirk never excuses a broken MUST) and
///    so does an error (nothing was decided); the quirk is recorded beside
///    any outcome but a pass.
///
/// Why this order: a server that is gone makes the case an error before
/// any proxy excuse could hide it, and an error is out of reach of both
/// later stages. The proxy comes before the quirk because what a proxy
/// changes is not the server's doing: a failure the proxy excuses is no
/// longer a broken MUST of the server, and only then may the server's
/// quirk explain what is left. The quirk comes last so that the record it
/// leaves (`was`, `outcome`) is the case's final word.
pub fn decide(
    case: &Case,
    exchange: &Exchange,
    server_gone: &dyn Fn() -> Option<String>,
    rules: &VerdictRules,
) -> Decision {
    let judged = judge(case, exchange);
    let (verdict, gone) = server_gone_stage(judged, exchange, server_gone);
    let verdict = recipe_stage(verdict, case, rules.recipe.as_ref());
    let verdict = proxy_stage(verdict, case, rules.proxy);
    let (verdict, deployment) = deployment_stage(verdict, case, rules.deployment);
    let (verdict, quirk) = quirk_stage(verdict, case, rules);
    Decision {
        verdict,
        quirk,
        server_gone: gone,
        deployment,
    }
}

/// Stage 4: a finding that a deployment setting the stack lacks explains
/// is a warn that says what fixes it.
fn deployment_stage(
    mut verdict: Verdict,
    case: &Case,
    deployment: Option<&Deployment>,
) -> (Verdict, Option<String>) {
    let (Some(setting), Some(d)) = (case.setting, deployment) else {
        return (verdict, None);
    };
    if !matches!(verdict.outcome, Outcome::Fail | Outcome::Warn) {
        return (verdict, None);
    }
    let Some(fix) = missing_setting(d, setting) else {
        return (verdict, None);
    };
    verdict.outcome = Outcome::Warn;
    verdict.actual = format!("{}; deployment setting {setting}: {fix}", verdict.actual);
    (verdict, Some(fix))
}

/// Stage 2: a fault while the server was exiting is the harness's to
/// report, not a finding against the server.
fn server_gone_stage(
    mut verdict: Verdict,
    exchange: &Exchange,
    server_gone: &dyn Fn() -> Option<String>,
) -> (Verdict, Option<String>) {
    if matches!(exchange, Exchange::NotApplicable { .. }) {
        return (verdict, None);
    }
    let faulted = verdict.outcome == Outcome::Error || !exchange.server_answered();
    let Some(why) = faulted.then(server_gone).flatten() else {
        return (verdict, None);
    };
    verdict.outcome = Outcome::Error;
    verdict.actual = format!("{}; {why}", verdict.actual);
    (verdict, Some(why))
}

/// Stage 3, first half: a case the recipe's launch makes unfit to judge
/// the server by (wsgiref runs under a threading server it does not ship
/// with) is not held against the server. Passes, skips and errors are left
/// alone.
fn recipe_stage(
    mut verdict: Verdict,
    case: &Case,
    recipe: Option<&(String, BTreeMap<String, String>)>,
) -> Verdict {
    if !matches!(verdict.outcome, Outcome::Fail | Outcome::Warn) {
        return verdict;
    }
    let Some((name, why)) = recipe.and_then(|(name, ex)| Some((name, ex.get(&case.id)?))) else {
        return verdict;
    };
    verdict.actual = format!(
        "not judged with the {name} recipe: {why} (the application saw: {})",
        verdict.actual
    );
    verdict.outcome = Outcome::Skip;
    verdict
}

/// Stage 3, second half: what the application sees behind a proxy is what counts; where
/// the proxy legitimately changes it, the case's `proxy` entries say so
/// instead of blaming the server. Passes, skips and errors are left alone.
fn proxy_stage(mut verdict: Verdict, case: &Case, proxy: Option<ProxyInFront>) -> Verdict {
    let Some(proxy) = proxy else { return verdict };
    if !matches!(verdict.outcome, Outcome::Fail | Outcome::Warn) {
        return verdict;
    }
    let Some(effect) = case.proxy.iter().find(|e| proxy.matches(e)) else {
        return verdict;
    };
    match effect.effect {
        ProxyEffectKind::Excuse => {
            verdict.actual = format!(
                "not judged behind {}: {} (the application saw: {})",
                proxy.kind, effect.why, verdict.actual
            );
            verdict.outcome = Outcome::Skip;
        }
        ProxyEffectKind::Note => {
            verdict.actual = format!("{} (behind {}: {})", verdict.actual, proxy.kind, effect.why);
        }
    }
    verdict
}

/// Stage 5: a server's documented policy shown as information rather than
/// as a finding, and never hidden: every quirk that met a non-pass outcome
/// is recorded.
///
/// Public for verdicts that never went through the earlier stages (the
/// made-up verdicts of report fixtures); a case the runner plays gets it
/// through [`decide`], and nothing else composes the stages.
pub fn quirk_stage(
    mut verdict: Verdict,
    case: &Case,
    rules: &VerdictRules,
) -> (Verdict, Option<AppliedQuirk>) {
    let was = verdict.outcome;
    let Some(quirk) = rules.quirk_for(case).filter(|_| was != Outcome::Pass) else {
        return (verdict, None);
    };
    let (outcome, note) = match was {
        Outcome::Warn | Outcome::Skip => (Outcome::Quirk, None),
        Outcome::Fail => (
            Outcome::Fail,
            Some("a quirk never excuses a broken MUST: the failure stands".to_string()),
        ),
        _ => (
            was,
            Some("the case could not be decided: the quirk does not apply to an error".into()),
        ),
    };
    verdict.outcome = outcome;
    let applied = AppliedQuirk {
        case: case.id.clone(),
        level: case.level,
        was,
        outcome,
        downgraded: outcome == Outcome::Quirk,
        note,
        quirk: quirk.clone(),
    };
    (verdict, Some(applied))
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::http::{Framing, Response};

    /// A case at `level` expecting status 200, with these proxy entries.
    fn case(level: &str, proxy: Vec<ProxyEffect>) -> Case {
        let mut case: Case = toml::from_str(&format!(
            "id = \"environ.x\"\nlevel = \"{level}\"\nsource = \"s\"\nrequirement = \"r\"\nstimulus = \"t\"\n[[expect]]\nsubject = \"status\"\nequals = 200\n"
        ))
        .unwrap();
        case.proxy = proxy;
        case
    }

    fn status(status: u16) -> Exchange {
        Exchange::answered(
            Response {
                version: "HTTP/1.1".into(),
                status,
                reason: String::new(),
                headers: vec![],
                body: vec![],
                framing: Framing::ContentLength(0),
                trailers: vec![],
                interim: vec![],
                raw_head: vec![],
                bare_lf: false,
            },
            None,
            None,
        )
    }

    fn closed() -> Exchange {
        Exchange::ServerFault {
            what: "the server closed the connection".into(),
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

    fn excuse() -> Vec<ProxyEffect> {
        vec![effect(&["nginx"], None, ProxyEffectKind::Excuse)]
    }

    fn quirk() -> Quirk {
        Quirk {
            server: Some("gunicorn".into()),
            server_software: None,
            case: "environ.x".into(),
            reason: "its policy".into(),
            source: "https://example.org".into(),
            file: "q.toml".into(),
        }
    }

    const NGINX: ProxyInFront<'static> = ProxyInFront {
        kind: "nginx",
        keepalive: false,
    };

    fn rules<'a>(proxy: Option<ProxyInFront<'a>>, quirks: &'a [Quirk]) -> VerdictRules<'a> {
        VerdictRules {
            recipe: None,
            proxy,
            quirks: quirks.iter().collect(),
            deployment: None,
        }
    }

    fn alive() -> Option<String> {
        None
    }

    fn exited() -> Option<String> {
        Some("the server exited with status 1".into())
    }

    #[test]
    fn stage_1_the_judge_decides_and_a_pass_is_final() {
        let asked = Cell::new(0);
        let gone = || {
            asked.set(asked.get() + 1);
            exited()
        };
        let quirks = [quirk()];
        let d = decide(
            &case("should", excuse()),
            &status(200),
            &gone,
            &rules(Some(NGINX), &quirks),
        );
        assert_eq!(d.verdict.outcome, Outcome::Pass);
        assert_eq!((d.quirk, d.server_gone), (None, None));
        assert_eq!(asked.get(), 0, "a pass from the server never asks");
        let d = decide(
            &case("must", vec![]),
            &status(500),
            &alive,
            &rules(None, &[]),
        );
        assert_eq!(d.verdict, judge(&case("must", vec![]), &status(500)));
    }

    #[test]
    fn stage_2_a_server_that_is_gone_makes_the_fault_an_error() {
        let must = case("must", vec![]);
        let d = decide(&must, &closed(), &exited, &rules(None, &[]));
        assert_eq!(d.verdict.outcome, Outcome::Error);
        assert!(
            d.verdict
                .actual
                .ends_with("connection; the server exited with status 1"),
            "{:?}",
            d.verdict
        );
        assert_eq!(
            d.server_gone.as_deref(),
            Some("the server exited with status 1")
        );
        // Still there: the fault is the server's.
        let d = decide(&must, &closed(), &alive, &rules(None, &[]));
        assert_eq!((d.verdict.outcome, d.server_gone), (Outcome::Fail, None));
        // A proxy's own 502 is no answer from the server either.
        let d = decide(&must, &status(502), &exited, &rules(None, &[]));
        assert_eq!(d.verdict.outcome, Outcome::Error);
        // A wrong answer from the server is a finding, whatever happened after.
        let d = decide(&must, &status(500), &exited, &rules(None, &[]));
        assert_eq!((d.verdict.outcome, d.server_gone), (Outcome::Fail, None));
    }

    #[test]
    fn stage_3_a_proxy_excuse_turns_a_failure_into_a_skip_that_says_why() {
        let d = decide(
            &case("must", excuse()),
            &status(500),
            &alive,
            &rules(Some(NGINX), &[]),
        );
        assert_eq!(d.verdict.outcome, Outcome::Skip);
        assert!(d
            .verdict
            .actual
            .starts_with("not judged behind nginx: nginx did it"));
        assert!(d
            .verdict
            .actual
            .contains("(the application saw: status = 500)"));
        // Without a proxy in front the entry does nothing.
        let d = decide(
            &case("must", excuse()),
            &status(500),
            &alive,
            &rules(None, &[]),
        );
        assert_eq!(d.verdict.outcome, Outcome::Fail);
    }

    #[test]
    fn stage_3_a_recipe_excuse_turns_a_finding_into_a_skip_that_names_the_recipe() {
        let excused = |case_id: &str| VerdictRules {
            recipe: Some((
                "wsgiref".into(),
                BTreeMap::from([(case_id.to_string(), "the recipe adds threads".to_string())]),
            )),
            proxy: None,
            deployment: None,
            quirks: vec![],
        };
        let d = decide(
            &case("should", vec![]),
            &status(500),
            &alive,
            &excused("environ.x"),
        );
        assert_eq!(d.verdict.outcome, Outcome::Skip);
        assert!(
            d.verdict.actual.starts_with(
                "not judged with the wsgiref recipe: the recipe adds threads (the application saw: status = 500)"
            ),
            "{:?}",
            d.verdict
        );
        // Another case, or a pass, is left alone.
        let other = decide(
            &case("should", vec![]),
            &status(500),
            &alive,
            &excused("environ.y"),
        );
        assert_eq!(other.verdict.outcome, Outcome::Warn);
        let pass = decide(
            &case("should", vec![]),
            &status(200),
            &alive,
            &excused("environ.x"),
        );
        assert_eq!(pass.verdict.outcome, Outcome::Pass);
    }

    #[test]
    fn stage_3_effects_apply_only_to_matching_proxies_and_never_to_errors() {
        let only_uwsgi = vec![effect(&["nginx-uwsgi"], None, ProxyEffectKind::Excuse)];
        let only_keepalive = vec![effect(&[], Some(true), ProxyEffectKind::Excuse)];
        let outcome = |case: &Case, exchange: &Exchange, proxy| {
            decide(case, exchange, &alive, &rules(Some(proxy), &[]))
                .verdict
                .outcome
        };
        assert_eq!(
            outcome(&case("must", only_uwsgi), &status(500), NGINX),
            Outcome::Fail
        );
        let keepalive = case("should", only_keepalive);
        assert_eq!(outcome(&keepalive, &status(500), NGINX), Outcome::Warn);
        let unix_keepalive = ProxyInFront {
            kind: "nginx-unix",
            keepalive: true,
        };
        assert_eq!(
            outcome(&keepalive, &status(500), unix_keepalive),
            Outcome::Skip
        );
        let undecided = Exchange::HarnessFault {
            what: "could not connect".into(),
        };
        assert_eq!(
            outcome(&keepalive, &undecided, unix_keepalive),
            Outcome::Error
        );
    }

    #[test]
    fn stage_3_a_note_keeps_the_verdict() {
        let noted = case("must", vec![effect(&[], None, ProxyEffectKind::Note)]);
        let uwsgi = ProxyInFront {
            kind: "nginx-uwsgi",
            keepalive: false,
        };
        let d = decide(&noted, &status(500), &alive, &rules(Some(uwsgi), &[]));
        assert_eq!(d.verdict.outcome, Outcome::Fail);
        assert!(d
            .verdict
            .actual
            .ends_with("(behind nginx-uwsgi: nginx did it)"));
    }

    #[test]
    fn stage_4_a_quirk_explains_a_warn_or_skip_but_never_a_failure() {
        let quirks = [quirk()];
        let with_quirk = rules(None, &quirks);
        let d = decide(&case("should", vec![]), &status(500), &alive, &with_quirk);
        assert_eq!(d.verdict.outcome, Outcome::Quirk);
        let applied = d.quirk.unwrap();
        assert_eq!(
            (applied.was, applied.outcome),
            (Outcome::Warn, Outcome::Quirk)
        );
        assert!(applied.downgraded && applied.note.is_none());

        let d = decide(&case("may", vec![]), &status(500), &alive, &with_quirk);
        assert_eq!(d.verdict.outcome, Outcome::Quirk);

        let d = decide(&case("must", vec![]), &status(500), &alive, &with_quirk);
        assert_eq!(d.verdict.outcome, Outcome::Fail);
        let applied = d.quirk.unwrap();
        assert!(!applied.downgraded);
        assert!(applied
            .note
            .unwrap()
            .contains("never excuses a broken MUST"));

        let undecided = Exchange::HarnessFault {
            what: "could not connect".into(),
        };
        let d = decide(&case("should", vec![]), &undecided, &alive, &with_quirk);
        assert_eq!(d.verdict.outcome, Outcome::Error);
        assert!(d
            .quirk
            .unwrap()
            .note
            .unwrap()
            .contains("could not be decided"));
    }

    #[test]
    fn stage_4_quirks_apply_only_to_the_stack_they_name() {
        let quirks = [quirk()];
        let stack = |gateway: &str| Stack {
            gateway: gateway.into(),
            ..Stack::for_url(
                "http://x/",
                &crate::http::Target::parse("127.0.0.1:1").unwrap(),
                None,
            )
        };
        let should = case("should", vec![]);
        let on = |gateway| {
            let r = VerdictRules::for_stack(&stack(gateway), None, &quirks);
            decide(&should, &status(500), &alive, &r).verdict.outcome
        };
        assert_eq!(on("gunicorn"), Outcome::Quirk);
        assert_eq!(on("waitress"), Outcome::Warn);
    }

    #[test]
    fn stage_4_a_missing_deployment_setting_turns_a_failure_into_a_warn_that_names_it() {
        let mut c = case("must", vec![]);
        c.setting = Some(crate::spec::Setting::TrustScheme);
        let behind = Deployment {
            server: "waitress".into(),
            proxy: Some(crate::gateway::ProxyKind::NginxTls),
            known: true,
            trust_flags: Some("--trusted-proxy=127.0.0.1".into()),
            trust_covers: vec!["scheme".into()],
            ..Deployment::default()
        };
        let untrusted = rules(Some(NGINX), &[]).with_deployment(&behind);
        let d = decide(&c, &status(500), &alive, &untrusted);
        assert_eq!(d.verdict.outcome, Outcome::Warn);
        assert!(d
            .verdict
            .actual
            .contains("deployment setting trust-scheme: waitress was not told"));
        assert!(d.deployment.unwrap().contains("--trusted-proxy=127.0.0.1"));
        // With the setting applied the failure is the server's.
        let trusted = Deployment {
            trusted: true,
            ..behind.clone()
        };
        let d = decide(
            &c,
            &status(500),
            &alive,
            &rules(Some(NGINX), &[]).with_deployment(&trusted),
        );
        assert_eq!((d.verdict.outcome, d.deployment), (Outcome::Fail, None));
        // A case that depends on no setting is left alone.
        let plain = case("must", vec![]);
        let d = decide(
            &plain,
            &status(500),
            &alive,
            &rules(Some(NGINX), &[]).with_deployment(&behind),
        );
        assert_eq!(d.verdict.outcome, Outcome::Fail);
    }

    #[test]
    fn a_case_that_does_not_apply_is_a_skip_and_asks_nothing() {
        let asked = Cell::new(false);
        let gone = || {
            asked.set(true);
            exited()
        };
        let d = decide(
            &case("must", vec![]),
            &Exchange::NotApplicable {
                why: "no proxy in front".into(),
            },
            &gone,
            &rules(None, &[]),
        );
        assert_eq!(d.verdict.outcome, Outcome::Skip);
        assert_eq!(d.verdict.actual, "not applicable: no proxy in front");
        assert!(!asked.get());
    }

    #[test]
    fn nginx_entries_apply_behind_nginx_tls() {
        let tls = ProxyInFront {
            kind: "nginx-tls",
            keepalive: false,
        };
        let d = decide(
            &case("must", excuse()),
            &status(500),
            &alive,
            &rules(Some(tls), &[]),
        );
        assert_eq!(d.verdict.outcome, Outcome::Skip);
    }

    #[test]
    fn order_a_gone_server_is_an_error_no_proxy_excuse_can_hide() {
        // A proxy excuse and a quirk both match; the server died. Were the
        // proxy first, the fault would read as "not judged behind nginx".
        let quirks = [quirk()];
        let d = decide(
            &case("should", excuse()),
            &closed(),
            &exited,
            &rules(Some(NGINX), &quirks),
        );
        assert_eq!(d.verdict.outcome, Outcome::Error);
        assert!(!d.verdict.actual.contains("not judged"), "{:?}", d.verdict);
        let applied = d.quirk.unwrap();
        assert_eq!(
            (applied.was, applied.outcome),
            (Outcome::Error, Outcome::Error)
        );
    }

    #[test]
    fn order_the_proxy_excuse_comes_before_the_quirk() {
        // A broken MUST the proxy excuses is no longer the server's
        // failure: the skip it leaves is what the quirk explains. Were the
        // quirk first, it would record a failure that stands while the
        // case ends up a skip.
        let quirks = [quirk()];
        let d = decide(
            &case("must", excuse()),
            &status(500),
            &alive,
            &rules(Some(NGINX), &quirks),
        );
        assert_eq!(d.verdict.outcome, Outcome::Quirk);
        let applied = d.quirk.unwrap();
        assert_eq!(
            (applied.was, applied.outcome),
            (Outcome::Skip, Outcome::Quirk)
        );
        assert!(d.verdict.actual.starts_with("not judged behind nginx"));
    }

    #[test]
    fn order_a_quirk_never_excuses_a_failure_the_proxy_does_not_explain() {
        let quirks = [quirk()];
        let noted = case("must", vec![effect(&[], None, ProxyEffectKind::Note)]);
        let d = decide(&noted, &status(500), &alive, &rules(Some(NGINX), &quirks));
        assert_eq!(d.verdict.outcome, Outcome::Fail);
        assert!(d.verdict.actual.ends_with("(behind nginx: nginx did it)"));
        assert_eq!(d.quirk.unwrap().outcome, Outcome::Fail);
    }
}
