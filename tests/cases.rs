//! The case catalogue as a whole: its size, its requirement coverage, and
//! the `specs --coverage` output built from it.

use std::process::Command;

use serde_json::Value;

fn wsgiprobe(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_wsgiprobe"))
        .args(args)
        .output()
        .expect("run wsgiprobe");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn at_least_ninety_cases_each_covering_a_requirement() {
    let (code, out, err) = wsgiprobe(&["specs", "--json"]);
    assert_eq!(code, 0, "{err}");
    let cases: Value = serde_json::from_str(&out).unwrap();
    let cases = cases.as_array().unwrap();
    assert!(cases.len() >= 90, "only {} cases", cases.len());
    for c in cases {
        let level = c["level"].as_str().unwrap();
        assert!(["must", "should", "may"].contains(&level), "{}", c["id"]);
        assert!(
            !c["covers"].as_array().unwrap().is_empty(),
            "{} covers no requirement",
            c["id"]
        );
    }
}

#[test]
fn every_requirement_is_covered_or_says_why_not() {
    let (code, out, err) = wsgiprobe(&["specs", "--coverage", "--json"]);
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    let reqs = doc["requirements"].as_array().unwrap();
    assert!(reqs.len() >= 60, "only {} requirements", reqs.len());
    let mut gaps = Vec::new();
    for r in reqs {
        let cases = r["cases"].as_array().unwrap();
        let reason = r["uncovered"].as_str().unwrap_or("");
        if cases.is_empty() && reason.trim().is_empty() {
            gaps.push(r["id"].as_str().unwrap().to_string());
        }
        for key in ["id", "level", "source", "text"] {
            assert!(r[key].is_string(), "{} lacks {key}", r["id"]);
        }
    }
    assert!(gaps.is_empty(), "neither covered nor explained: {gaps:?}");
    assert_eq!(doc["summary"]["unaccounted"], 0);
    assert_eq!(doc["summary"]["total"].as_u64().unwrap(), reqs.len() as u64);
    // Spot check: the close() rule is covered by its four cases.
    let close = reqs
        .iter()
        .find(|r| r["id"] == "pep3333.close.called")
        .unwrap();
    assert_eq!(close["cases"].as_array().unwrap().len(), 4, "{close}");
}

#[test]
fn coverage_table_names_uncovered_reasons() {
    let (code, out, err) = wsgiprobe(&["specs", "--coverage"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("pep3333.environ.documented"), "{out}");
    assert!(out.contains("uncovered: about the server's"), "{out}");
    assert!(out.contains("0 unaccounted"), "{out}");
}

#[test]
fn unknown_requirement_in_a_spec_folder_is_exit_2_naming_file_and_case() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("environ.toml"),
        "area = \"environ\"\ntitle = \"t\"\n\n[[case]]\nid = \"environ.x\"\nlevel = \"must\"\n\
         covers = [\"pep3333.nothing\"]\nsource = \"s\"\nrequirement = \"r\"\nstimulus = \"x\"\n\
         expect = [{ subject = \"status\", equals = 200 }]\n",
    )
    .unwrap();
    let (code, _, err) = wsgiprobe(&["specs", "--specs", dir.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("environ.toml"), "{err}");
    assert!(err.contains("environ.x"), "{err}");
    assert!(err.contains("pep3333.nothing"), "{err}");
}
