//! The differential report (`check --differential`): per request of the
//! corpus, what each stack did with it, security findings first, then the
//! disagreements with their bytes, then what every stack agreed on; in the
//! terminal, as JSON and as Markdown.

use std::time::SystemTime;

use comfy_table::Cell;
use serde_json::{json, Value};

use super::check::{rfc3339, ToolInfo};
use super::matrix::describe_stack;
use super::style::{table, trouble_cell};
use crate::differential::{escape_bytes, groups, Entry, Reaction, SecurityFinding, View};
use crate::gateway::Stack;

/// One stack of a differential run.
#[derive(Debug, Clone)]
pub struct DiffStack {
    /// Short name (`uwsgi + nginx`).
    pub label: String,
    /// nginx was in front.
    pub behind_proxy: bool,
    /// The stack and its reaction to every entry, in corpus order; or why
    /// it could not be run at all.
    pub result: Result<(Stack, Vec<Reaction>), String>,
}

/// A differential run: the corpus and every stack's reactions.
#[derive(Debug, Clone)]
pub struct DifferentialReport {
    pub tool: ToolInfo,
    pub started: SystemTime,
    pub entries: Vec<Entry>,
    /// The bytes of each entry as shown: `{host}` and the probe's control
    /// headers left as placeholders, escaped.
    pub shown_bytes: Vec<String>,
    pub stacks: Vec<DiffStack>,
}

/// One request with every stack's reaction, reduced and grouped.
pub struct Row<'a> {
    pub entry: &'a Entry,
    pub bytes: &'a str,
    pub reactions: Vec<Option<&'a Reaction>>,
    pub views: Vec<Option<View>>,
    /// Each stack's group (equal views share one), `None` when unknown.
    pub groups: Vec<Option<usize>>,
    /// The stacks saw different things.
    pub disagree: bool,
    /// Security findings: (stack index, finding).
    pub findings: Vec<(usize, SecurityFinding)>,
}

/// The longest run of bytes a report shows of one request.
const BYTES_SHOWN: usize = 600;

impl DifferentialReport {
    /// Every request, in corpus order.
    pub fn rows(&self) -> Vec<Row<'_>> {
        self.entries
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                let reactions: Vec<Option<&Reaction>> = self
                    .stacks
                    .iter()
                    .map(|s| s.result.as_ref().ok().and_then(|(_, r)| r.get(i)))
                    .collect();
                let views: Vec<Option<View>> = reactions
                    .iter()
                    .map(|r| r.map(|r| View::of(entry, r)))
                    .collect();
                let groups = groups(&views);
                let disagree = groups.iter().flatten().any(|g| *g > 0);
                let findings = reactions
                    .iter()
                    .enumerate()
                    .filter_map(|(s, r)| {
                        let behind_proxy = self.stacks[s].behind_proxy;
                        Some((s, SecurityFinding::of((*r)?, behind_proxy)?))
                    })
                    .collect();
                Row {
                    entry,
                    bytes: &self.shown_bytes[i],
                    reactions,
                    views,
                    groups,
                    disagree,
                    findings,
                }
            })
            .collect()
    }

    /// How many security findings there are, over every request and stack.
    pub fn security_findings(&self) -> usize {
        self.rows().iter().map(|r| r.findings.len()).sum()
    }

    /// Whether a stack could not be run.
    pub fn stack_failed(&self) -> bool {
        self.stacks.iter().any(|s| s.result.is_err())
    }

    fn summary_line(&self, rows: &[Row]) -> String {
        let disagreements = rows.iter().filter(|r| r.disagree).count();
        let security = rows.iter().map(|r| r.findings.len()).sum::<usize>();
        format!(
            "{} request{}, {} stack{}: {disagreements} disagreement{}, {security} SECURITY finding{}",
            rows.len(),
            plural(rows.len()),
            self.stacks.len(),
            plural(self.stacks.len()),
            plural(disagreements),
            plural(security)
        )
    }

    /// The terminal view.
    pub fn render(&self, color: bool) -> String {
        let rows = self.rows();
        let mut out = format!(
            "{} {}: check --differential\n",
            self.tool.name, self.tool.version
        );
        for (i, s) in self.stacks.iter().enumerate() {
            out.push_str(&format!("[{}] {}", i + 1, s.label));
            match &s.result {
                Ok((stack, _)) => out.push_str(&format!(": {}\n", describe_stack(stack))),
                Err(e) => out.push_str(&format!(": did not run: {}\n", first_line(e))),
            }
        }

        let findings: Vec<(&Row, usize, &SecurityFinding)> = rows
            .iter()
            .flat_map(|r| r.findings.iter().map(move |(s, f)| (r, *s, f)))
            .collect();
        if !findings.is_empty() {
            out.push_str(&format!("\nSECURITY FINDINGS ({})\n", findings.len()));
            for (row, s, f) in &findings {
                out.push_str(&format!(
                    "- {} on [{}] {}: {}\n  bytes: {}\n",
                    row.entry.id,
                    s + 1,
                    self.stacks[*s].label,
                    f.describe(),
                    shown(row.bytes)
                ));
            }
        }

        let disagreements: Vec<&Row> = rows.iter().filter(|r| r.disagree).collect();
        out.push_str(&format!(
            "\nDISAGREEMENTS: {} of {} requests\n",
            disagreements.len(),
            rows.len()
        ));
        if !disagreements.is_empty() {
            let mut t = table(Some(200));
            let mut header = vec![Cell::new("request")];
            header.extend((1..=self.stacks.len()).map(|i| Cell::new(format!("[{i}]"))));
            t.set_header(header);
            for row in &disagreements {
                let mut cells = vec![Cell::new(row.entry.id.as_str())];
                for (s, view) in row.views.iter().enumerate() {
                    cells.push(match (view, row.groups[s]) {
                        (Some(v), Some(g)) => Cell::new(format!("{} {}", letter(g), v.short())),
                        (Some(_), None) => trouble_cell("unknown", color),
                        (None, _) => trouble_cell("did not run", color),
                    });
                }
                t.add_row(cells);
            }
            out.push_str(&format!("{t}\n"));
            for row in &disagreements {
                out.push_str(&self.detail(row));
            }
        }

        let agreed: Vec<&Row> = rows.iter().filter(|r| !r.disagree).collect();
        if !agreed.is_empty() {
            out.push_str(&format!(
                "\nAGREED: {} request{}\n",
                agreed.len(),
                plural(agreed.len())
            ));
            for row in agreed {
                let common = row
                    .views
                    .iter()
                    .flatten()
                    .find(|v| **v != View::Unknown)
                    .map(View::short)
                    .unwrap_or_else(|| "unknown".into());
                out.push_str(&format!("- {}: {common}\n", row.entry.id));
            }
        }
        out.push_str(&format!("\n{}\n", self.summary_line(&rows)));
        out
    }

    /// A disagreement in full: what is odd, the rule, the bytes, and what
    /// each stack did.
    fn detail(&self, row: &Row) -> String {
        let mut out = format!("\n{} - {}\n", row.entry.id, row.entry.what);
        if let Some(rule) = &row.entry.rule {
            out.push_str(&format!("  rule: {rule}\n"));
        }
        out.push_str(&format!("  bytes: {}\n", shown(row.bytes)));
        for (s, r) in row.reactions.iter().enumerate() {
            let group = row.groups[s].map(letter).unwrap_or('?');
            let what = r.map_or("did not run".to_string(), describe_reaction);
            out.push_str(&format!(
                "  [{}] {} ({group}): {what}\n",
                s + 1,
                self.stacks[s].label
            ));
        }
        out
    }

    /// The JSON document.
    pub fn to_json(&self) -> Value {
        let rows = self.rows();
        let stacks: Vec<Value> = self
            .stacks
            .iter()
            .map(|s| match &s.result {
                Ok((stack, _)) => {
                    json!({"label": s.label, "behind_proxy": s.behind_proxy, "stack": stack})
                }
                Err(e) => {
                    json!({"label": s.label, "behind_proxy": s.behind_proxy, "start_error": e})
                }
            })
            .collect();
        let requests: Vec<Value> = rows
            .iter()
            .map(|row| {
                let reactions: Vec<Value> = row
                    .reactions
                    .iter()
                    .enumerate()
                    .map(|(s, r)| match r {
                        None => json!({"stack": s, "ran": false}),
                        Some(r) => json!({
                            "stack": s,
                            "ran": true,
                            "group": row.groups[s],
                            "view": row.views[s],
                            "summary": describe_reaction(r),
                            "reaction": r,
                        }),
                    })
                    .collect();
                let findings: Vec<Value> = row
                    .findings
                    .iter()
                    .map(|(s, f)| {
                        json!({
                            "stack": s,
                            "security": true,
                            "finding": f,
                            "what": f.describe(),
                        })
                    })
                    .collect();
                json!({
                    "id": row.entry.id,
                    "what": row.entry.what,
                    "rule": row.entry.rule,
                    "bytes": shown(row.bytes),
                    "embeds_request": row.entry.embeds_request(),
                    "disagree": row.disagree,
                    "security_findings": findings,
                    "reactions": reactions,
                })
            })
            .collect();
        json!({
            "tool": self.tool,
            "kind": "differential",
            "started_at": rfc3339(self.started),
            "stacks": stacks,
            "summary": {
                "requests": rows.len(),
                "disagreements": rows.iter().filter(|r| r.disagree).count(),
                "security_findings": rows.iter().map(|r| r.findings.len()).sum::<usize>(),
            },
            "requests": requests,
        })
    }

    /// The Markdown view: findings, the disagreements as a table and in
    /// detail, the agreements listed.
    pub fn markdown(&self) -> String {
        let rows = self.rows();
        let mut md = format!(
            "# Request parsing compared across stacks\n\nGenerated by {} {} on {} (`wsgiprobe check --differential`). {}.\n\n## Stacks\n\n",
            self.tool.name,
            self.tool.version,
            rfc3339(self.started),
            self.summary_line(&rows)
        );
        for (i, s) in self.stacks.iter().enumerate() {
            let what = match &s.result {
                Ok((stack, _)) => describe_stack(stack),
                Err(e) => format!("did not run: {}", first_line(e)),
            };
            md.push_str(&format!("{}. {}: {}\n", i + 1, esc(&s.label), esc(&what)));
        }
        let findings: Vec<(&Row, usize, &SecurityFinding)> = rows
            .iter()
            .flat_map(|r| r.findings.iter().map(move |(s, f)| (r, *s, f)))
            .collect();
        if !findings.is_empty() {
            md.push_str("\n## Security findings\n\n");
            for (row, s, f) in findings {
                md.push_str(&format!(
                    "- **security** `{}` on [{}] {}: {}\n",
                    row.entry.id,
                    s + 1,
                    esc(&self.stacks[s].label),
                    esc(&f.describe())
                ));
            }
        }
        md.push_str("\n## Disagreements\n\n");
        let disagreements: Vec<&Row> = rows.iter().filter(|r| r.disagree).collect();
        if disagreements.is_empty() {
            md.push_str("None: every stack saw every request alike.\n");
        } else {
            md.push_str("| request |");
            for i in 1..=self.stacks.len() {
                md.push_str(&format!(" {i} |"));
            }
            md.push_str("\n|---|");
            md.push_str(&"---|".repeat(self.stacks.len()));
            md.push('\n');
        }
        for row in &disagreements {
            md.push_str(&format!("| `{}` |", row.entry.id));
            for (s, v) in row.views.iter().enumerate() {
                let cell = match (v, row.groups[s]) {
                    (Some(v), Some(g)) => format!("{} {}", letter(g), v.short()),
                    (Some(_), None) => "unknown".into(),
                    (None, _) => "did not run".into(),
                };
                md.push_str(&format!(" {} |", esc(&cell)));
            }
            md.push('\n');
        }
        for row in &disagreements {
            md.push_str(&format!(
                "\n### `{}`\n\n{}\n\n",
                row.entry.id,
                esc(&row.entry.what)
            ));
            if let Some(rule) = &row.entry.rule {
                md.push_str(&format!("Rule: {}\n\n", esc(rule)));
            }
            md.push_str(&format!("```\n{}\n```\n\n", shown(row.bytes)));
            for (s, r) in row.reactions.iter().enumerate() {
                let group = row.groups[s].map(letter).unwrap_or('?');
                md.push_str(&format!(
                    "- [{}] {} ({group}): {}\n",
                    s + 1,
                    esc(&self.stacks[s].label),
                    esc(&r.map_or("did not run".to_string(), describe_reaction))
                ));
            }
        }
        md.push_str("\n## Agreed\n\n");
        for row in rows.iter().filter(|r| !r.disagree) {
            let common = row
                .views
                .iter()
                .flatten()
                .find(|v| **v != View::Unknown)
                .map(View::short)
                .unwrap_or_else(|| "unknown".into());
            md.push_str(&format!("- `{}`: {}\n", row.entry.id, esc(&common)));
        }
        md
    }
}

/// What a stack did with a request, in full: its responses, how the
/// connection ended, and what the application saw.
pub fn describe_reaction(r: &Reaction) -> String {
    if let Some(e) = &r.error {
        return format!("unknown: {e}");
    }
    let mut parts = Vec::new();
    if r.seen.is_empty() {
        parts.push("the application saw nothing".to_string());
    }
    for s in &r.seen {
        let mut p = format!(
            "the application saw {}{} {}",
            if s.request == 2 {
                "the embedded request: "
            } else {
                ""
            },
            s.method.as_deref().unwrap_or("?"),
            shorten(&escape_text(s.path.as_deref().unwrap_or("?")), 80)
        );
        if let Some(q) = s.query.as_deref().filter(|q| !q.is_empty()) {
            p.push_str(&format!("?{}", escape_text(q)));
        }
        for (k, v) in &s.fields {
            if k == "HTTP_HOST" || k.starts_with("HTTP_X_WSGIPROBE") {
                continue;
            }
            p.push_str(&format!(
                "; {}=\"{}\"",
                escape_text(k),
                shorten(&escape_text(v), 60)
            ));
        }
        match (&s.body, s.body_length, &s.body_error) {
            (_, _, Some(e)) => p.push_str(&format!("; reading the body raised {e}")),
            (Some(b), Some(n), None) if n > 0 => p.push_str(&format!(
                "; body {n} bytes \"{}\"",
                shorten(&escape_text(b), 60)
            )),
            _ => p.push_str("; no body"),
        }
        parts.push(p);
    }
    let statuses: Vec<String> = r.responses.iter().map(u16::to_string).collect();
    parts.push(match statuses.as_slice() {
        [] => format!("no response ({})", r.ended),
        s => format!("responses {} ({})", s.join(", "), r.ended),
    });
    parts.join("; ")
}

fn escape_text(text: &str) -> String {
    let bytes: Vec<u8> = text
        .chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect();
    escape_bytes(&bytes)
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let cut: String = s.chars().take(max.saturating_sub(3)).collect();
    format!("{cut}...")
}

/// Escaped bytes, cut to a readable length with the full length said.
fn shown(bytes: &str) -> String {
    if bytes.chars().count() <= BYTES_SHOWN {
        return format!("\"{bytes}\"");
    }
    let cut: String = bytes.chars().take(BYTES_SHOWN).collect();
    format!("\"{cut}\"... ({} characters in all)", bytes.chars().count())
}

fn letter(group: usize) -> char {
    char::from(b'A' + (group % 26) as u8)
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

fn esc(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}
