//! The exact output of the matrix renderers, pinned on a fixed matrix of
//! two stacks that ran and one that did not start.

mod common;

use common::fixtures;
use wsgiprobe::report::{Console, Document, Exporter, Json, Markdown};

#[test]
fn matrix_table() {
    let m = fixtures::matrix_report();
    let text = Console::default().export(&Document::Matrix(&m)).unwrap();
    insta::assert_snapshot!(text);
}

#[test]
fn matrix_markdown() {
    let m = fixtures::matrix_report();
    let text = Markdown.export(&Document::Matrix(&m)).unwrap();
    insta::assert_snapshot!(text);
}

#[test]
fn matrix_json() {
    let m = fixtures::matrix_report();
    let text = Json.export(&Document::Matrix(&m)).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    insta::assert_json_snapshot!(value, {
        ".stacks[].cases[].elapsed_ms" => "[elapsed]",
        ".stacks[].duration_ms" => "[duration]",
    });
}
