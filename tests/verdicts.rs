//! Verdicts that say which of several behaviours a server showed, and
//! verdicts the harness must not pin on the server: a case's named choices,
//! a recipe's excuse, a precondition that keeps one defect from counting
//! twice. Against real wsgiref and the breakable gateway.

mod common;

use common::*;
use serde_json::Value;

fn case<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no case {id} in report"))
}

fn actual(report: &Value, id: &str) -> String {
    case(report, id)["actual"].as_str().unwrap().to_string()
}

fn gateway(rules: &[&str]) -> String {
    let breaks: String = rules.iter().map(|r| format!(" --break {r}")).collect();
    format!(
        "{{python}} {} --host {{host}} --port {{port}}{breaks} {{app}}",
        broken_gateway()
    )
}

#[test]
fn wsgirefs_thread_pool_is_the_recipes_and_is_not_held_against_wsgiref() {
    let (_, report, stderr) = check_json(&["--only", "environ.wsgi-multithread.truthful"]);
    let id = "environ.wsgi-multithread.truthful";
    assert_eq!(outcome_of(&report, id), "skip", "{stderr}");
    let said = actual(&report, id);
    assert!(
        said.starts_with("not judged with the wsgiref recipe: ")
            && said.contains("ThreadingMixIn")
            && said.contains("multithread_contradicted = true"),
        "says what the recipe added and what was seen: {said}"
    );
    assert!(
        report["stack"]["excuses"][id].is_string(),
        "{}",
        report["stack"]
    );
    // The same contradiction from a server that really runs threads is a warning.
    let (_, report, _) = check_json(&["--cmd", &gateway(&["multithread-false"]), "--only", id]);
    assert_eq!(outcome_of(&report, id), "warn");
    assert!(
        report["stack"].get("excuses").is_none(),
        "{}",
        report["stack"]
    );
}

#[test]
fn a_server_answering_in_http10_is_judged_on_expect_continue_not_skipped() {
    let id = "input.expect-continue.interim-sent";
    let (_, report, stderr) = check_json(&["--only", id]);
    assert_eq!(outcome_of(&report, id), "pass", "{stderr}");
    assert!(
        actual(&report, id)
            .starts_with("answered in HTTP/1.0, which has no 1xx responses, and sent none"),
        "{}",
        actual(&report, id)
    );
}

#[test]
fn each_choice_names_what_the_server_did() {
    let dots = "environ.path-info.dot-segments";
    let under = "environ.http.underscore-not-merged";
    let only = ["--only", dots, "--only", under];
    let run = |rules: &[&str]| {
        let cmd = gateway(rules);
        let mut args = vec!["--cmd", cmd.as_str()];
        args.extend(only);
        check_json(&args).1
    };
    let correct = run(&[]);
    assert_eq!(outcome_of(&correct, dots), "pass");
    assert!(actual(&correct, dots).starts_with("passed the dot-segment through: "));
    assert_eq!(outcome_of(&correct, under), "pass");
    assert!(actual(&correct, under).starts_with("dropped the underscore field"));

    let merged = run(&["underscore-merge"]);
    assert_eq!(outcome_of(&merged, under), "warn");
    assert!(
        actual(&merged, under).starts_with("joined both fields into one variable (ambiguous"),
        "{}",
        actual(&merged, under)
    );
    let overwritten = run(&["underscore-overwrite"]);
    assert_eq!(outcome_of(&overwritten, under), "warn");
    assert!(actual(&overwritten, under).contains("RFC 9110 17.10"));

    let dropped = run(&["dots-dropped"]);
    assert_eq!(outcome_of(&dropped, dots), "fail");
    assert!(
        actual(&dropped, dots).starts_with(
            "none of these: observation.derived.script_plus_path = \"/environ/dots/a/b\""
        ),
        "{}",
        actual(&dropped, dots)
    );
}

#[test]
fn a_head_body_before_a_close_is_not_counted_twice() {
    let id = "response.head.pipelined-next";
    let only = [
        "--only",
        id,
        "--only",
        "response.head.no-content",
        "--only",
        "response.connection.close-announced",
    ];
    let run = |rules: &[&str]| {
        let cmd = gateway(rules);
        let mut args = vec!["--cmd", cmd.as_str()];
        args.extend(only);
        check_json(&args).1
    };
    // Content after the HEAD head, and the second request answered behind it.
    let kept = run(&["head-body"]);
    assert_eq!(outcome_of(&kept, id), "fail");
    // The same content, then a close no header announced: the close and the
    // content each fail their own case, and this one has nothing left to judge.
    let closed = run(&["head-body", "silent-close"]);
    assert_eq!(outcome_of(&closed, "response.head.no-content"), "fail");
    assert_eq!(
        outcome_of(&closed, "response.connection.close-announced"),
        "fail"
    );
    assert_eq!(outcome_of(&closed, id), "skip");
    assert!(
        actual(&closed, id).contains("wire.second_seen = false"),
        "{}",
        actual(&closed, id)
    );
}

#[test]
fn a_lone_200_status_line_claims_success() {
    // wsgiref writes "HTTP/1.0 200 OK" and its own Date and Server, then
    // breaks off at a header value it cannot encode.
    let id = "response.headers.non-latin1-refused";
    let (_, report, stderr) = check_json(&["--only", id]);
    assert_eq!(outcome_of(&report, id), "warn", "{stderr}");
    assert!(
        actual(&report, id).starts_with("claimed success without the field"),
        "{}",
        actual(&report, id)
    );
    assert!(
        case(&report, id)["response_head"]
            .as_str()
            .unwrap()
            .starts_with("HTTP/1.0 200 OK\n(response cut short"),
        "{}",
        case(&report, id)
    );
}
