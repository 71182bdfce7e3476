//! The page around every report: one self-contained HTML file (styles and
//! script inline, nothing fetched), light and dark by the reader's
//! preference, readable printed; and the small pieces every section uses.

use serde_json::Value;

/// The page's styles.
const CSS: &str = include_str!("page.css");
/// The page's script: legends, scale switches, values under the pointer,
/// the case dialog and the matrix filters.
const JS: &str = include_str!("page.js");

/// Recorded before anything else runs, so an error anywhere (the main
/// script included) lands in the DOM where a test or a reader sees it.
const ERROR_HOOK: &str = "window.addEventListener('error',function(e){var r=document.documentElement;r.setAttribute('data-script-errors',(r.getAttribute('data-script-errors')||'')+(e.message||'error')+'\\n');});";

/// HTML text and attribute escaping.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Data for the script, inside `<script type="application/json">`, where
/// `</script>` in a string must not end the element.
pub fn json_script(class: &str, value: &Value) -> String {
    let text = serde_json::to_string(value)
        .unwrap_or_else(|_| "null".into())
        .replace("</", "<\\/")
        .replace("<!--", "<\\!--");
    format!("<script type=\"application/json\" class=\"{class}\">{text}</script>")
}

/// A page being built: the header, then sections in order.
pub struct Page {
    title: String,
    header: String,
    body: String,
    /// The sections' anchors and headings, for the bar of links.
    toc: Vec<(String, String)>,
}

impl Page {
    /// `kind` names the report (`bench`, `matrix`, ...) for the script and
    /// for tests; `title` is the heading.
    pub fn new(title: &str, subtitle: &str, tags: &[(String, String)]) -> Page {
        let mut header = format!(
            "<header class=\"top\"><div class=\"brand\">wsgiprobe</div><h1>{}</h1>",
            esc(title)
        );
        if !subtitle.is_empty() {
            header.push_str(&format!("<p class=\"sub\">{}</p>", esc(subtitle)));
        }
        if !tags.is_empty() {
            header.push_str("<dl class=\"tags\">");
            for (k, v) in tags {
                header.push_str(&format!(
                    "<div><dt>{}</dt><dd>{}</dd></div>",
                    esc(k),
                    esc(v)
                ));
            }
            header.push_str("</dl>");
        }
        header.push_str("</header>");
        Page {
            title: title.to_string(),
            header,
            body: String::new(),
            toc: Vec::new(),
        }
    }

    /// Adds a section with a heading (its id is the anchor of the table of contents).
    pub fn section(&mut self, id: &str, heading: &str, content: &str) {
        self.toc.push((id.to_string(), heading.to_string()));
        self.body.push_str(&format!(
            "<section id=\"{}\"><h2>{}</h2>{content}</section>",
            esc(id),
            esc(heading)
        ));
    }

    /// Adds HTML as is (a section that makes its own heading).
    pub fn raw(&mut self, html: &str) {
        self.body.push_str(html);
    }

    /// The whole document; `kind` is set on `<html>` for the script.
    pub fn finish(self, kind: &str, footer: &str) -> String {
        let nav = if self.toc.len() >= 3 {
            let links: String = self
                .toc
                .iter()
                .map(|(id, h)| format!("<a href=\"#{}\">{}</a>", esc(id), esc(h)))
                .collect();
            format!("<nav class=\"toc\">{links}</nav>")
        } else {
            String::new()
        };
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\" data-report=\"{}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"color-scheme\" content=\"light dark\">\
<title>{}</title><script>{ERROR_HOOK}</script><style>{CSS}</style></head>\
<body><div class=\"errors\" role=\"alert\" hidden></div>{}{nav}<main>{}</main>\
<footer>{}</footer><dialog id=\"detail\"><form method=\"dialog\"><button class=\"close\" aria-label=\"close\">×</button></form><div class=\"content\"></div></dialog>\
<script>{JS}</script></body></html>\n",
            esc(kind),
            esc(&self.title),
            self.header,
            self.body,
            footer
        )
    }
}

/// A row of headline figures: (name, value, detail, tone).
pub fn stats(items: &[(String, String, String, &str)]) -> String {
    let mut out = String::from("<div class=\"stats\">");
    for (k, v, d, tone) in items {
        out.push_str(&format!(
            "<div class=\"stat {}\"><span class=\"k\">{}</span><span class=\"v\">{}</span>{}</div>",
            esc(tone),
            esc(k),
            esc(v),
            if d.is_empty() {
                String::new()
            } else {
                format!("<span class=\"d\">{}</span>", esc(d))
            }
        ));
    }
    out.push_str("</div>");
    out
}

/// A two-column table of facts; empty values are left out.
pub fn facts(rows: &[(&str, String)]) -> String {
    let mut out = String::from("<table class=\"facts\"><tbody>");
    for (k, v) in rows.iter().filter(|(_, v)| !v.is_empty()) {
        out.push_str(&format!("<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v)));
    }
    out.push_str("</tbody></table>");
    out
}

/// Things the reader must know, as callouts.
pub fn callouts(tone: &str, items: &[String]) -> String {
    items
        .iter()
        .map(|w| format!("<p class=\"callout {}\">{}</p>", esc(tone), esc(w)))
        .collect()
}

/// Markdown written by a person (a suite's `notes`) as HTML. Raw HTML in
/// it is shown as text: the page stays self-contained and script-free
/// whatever the notes hold.
pub fn prose(markdown: &str) -> String {
    use pulldown_cmark::{Event, Options, Parser};
    let events = Parser::new_ext(markdown, Options::ENABLE_TABLES).map(|e| match e {
        Event::Html(t) | Event::InlineHtml(t) => Event::Text(t),
        e => e,
    });
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, events);
    format!("<div class=\"prose\">{out}</div>")
}

/// Horizontal bars in HTML (they wrap and print well): (label, value,
/// shown text, colour class), scaled to the largest value.
pub fn bars(title: &str, note: &str, rows: &[(String, f64, String, String)]) -> String {
    let max = rows
        .iter()
        .map(|r| r.1)
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let mut out = format!(
        "<figure class=\"bars\"><figcaption><b>{}</b>{}</figcaption>",
        esc(title),
        if note.is_empty() {
            String::new()
        } else {
            format!("<span>{}</span>", esc(note))
        }
    );
    for (label, value, shown, class) in rows {
        let pct = if max > 0.0 && value.is_finite() {
            value / max * 100.0
        } else {
            0.0
        };
        out.push_str(&format!(
            "<div class=\"bar\"><span class=\"label\">{}</span><span class=\"track\"><span class=\"fill {}\" style=\"width:{pct:.1}%\"></span></span><span class=\"value\">{}</span></div>",
            esc(label),
            esc(class),
            esc(shown)
        ));
    }
    out.push_str("</figure>");
    out
}

/// A string at a JSON pointer.
pub fn text<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

/// A number at a JSON pointer.
pub fn num(v: &Value, pointer: &str) -> Option<f64> {
    v.pointer(pointer).and_then(Value::as_f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_data_cannot_break_out() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let s = json_script("d", &serde_json::json!({"t": "</script><script>alert(1)"}));
        assert!(!s[..s.len() - 9].contains("</script>"), "{s}");
    }

    #[test]
    fn notes_are_markdown_and_their_markup_stays_text() {
        let html = prose("Two **cores**.\n\n- `gunicorn` <script>alert(1)</script>\n");
        assert!(html.contains("<strong>cores</strong>"), "{html}");
        assert!(html.contains("<li><code>gunicorn</code>"), "{html}");
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }
}
