//! Exporters: one trait, one implementation per format, and the one loop
//! that writes every format a command asked for.
//!
//! A command builds an [`Exports`] from its flags before any work starts
//! (so a bad combination is refused up front), then hands each finished
//! [`Document`] to [`Exports::write`]. The formats know nothing of files or
//! of standard output; the loop knows nothing of formats.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::bench::BenchReport;
use super::bench_set::BenchSet;
use super::check::CheckReport;
use super::compare::CompareReport;
use super::differential::DifferentialReport;
use super::matrix::{MatrixReport, MatrixView};
use super::suite::SuiteReport;

/// Everything a command can export.
#[derive(Debug, Clone, Copy)]
pub enum Document<'a> {
    /// One stack checked; `label` names it where a heading needs one.
    Check {
        report: &'a CheckReport,
        label: &'a str,
    },
    /// Several stacks checked with the same cases.
    Matrix(&'a MatrixReport),
    /// One load run.
    Bench(&'a BenchReport),
    /// Several stacks benched in turn.
    BenchSet(&'a BenchSet),
    /// A suite: stacks × workloads × levels, as far as it ran.
    Suite(&'a SuiteReport),
    /// Two reports compared.
    Compare(&'a CompareReport),
    /// A report read back from the JSON a run wrote (`wsgiprobe report`).
    Saved(&'a Value),
    /// The differential corpus sent to several stacks (`check --differential`).
    Differential(&'a DifferentialReport),
}

/// A format a document can be written in.
pub trait Exporter {
    /// The format's name, for messages (`JSON report`).
    fn name(&self) -> &'static str;
    /// The whole text of the document in this format.
    fn export(&self, doc: &Document) -> Result<String, ExportError>;
}

/// Why a document could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("the {format} format cannot show a {document} report")]
    Unsupported {
        format: &'static str,
        document: &'static str,
    },
    #[error("could not draw the HTML report")]
    Html(#[source] super::html::RenderError),
    #[error("could not encode the {0}")]
    Encode(&'static str, #[source] serde_json::Error),
    #[error("could not encode the {0}")]
    Xml(&'static str, #[source] quick_junit::SerializeError),
    #[error("could not write the {what} to {path}")]
    Write {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not write the {what} to standard output")]
    Stdout {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("could not write the {what} to standard error")]
    Stderr {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
}

impl Document<'_> {
    /// What the document is, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Document::Check { .. } => "check",
            Document::Matrix(_) => "matrix",
            Document::Bench(_) => "bench",
            Document::BenchSet(_) => "bench set",
            Document::Suite(_) => "suite",
            Document::Compare(_) => "compare",
            Document::Saved(_) => "saved",
            Document::Differential(_) => "differential",
        }
    }

    /// The JSON document (DESIGN's contracts). Renderings that can also be
    /// made later from a saved report (`wsgiprobe report`) read this, so
    /// both paths give the same page.
    pub fn to_json(&self) -> Value {
        match self {
            Document::Check { report, .. } => report.to_json(),
            Document::Matrix(m) => m.to_json(),
            Document::Bench(b) => b.to_json(),
            Document::BenchSet(b) => b.to_json(),
            Document::Suite(s) => s.to_json(),
            Document::Compare(c) => c.to_json(),
            Document::Saved(v) => (*v).clone(),
            Document::Differential(d) => d.to_json(),
        }
    }
}

/// The terminal view.
#[derive(Debug, Clone, Copy)]
pub struct Console {
    /// ANSI colours.
    pub color: bool,
    /// Every case, passes included (`-v`).
    pub verbose: bool,
    /// Only the summary (`-q`).
    pub quiet: bool,
    /// Columns to fit.
    pub width: u16,
}

impl Default for Console {
    /// No colour, the usual detail, 80 columns.
    fn default() -> Self {
        Console {
            color: false,
            verbose: false,
            quiet: false,
            width: 80,
        }
    }
}

impl Exporter for Console {
    fn name(&self) -> &'static str {
        "table"
    }

    fn export(&self, doc: &Document) -> Result<String, ExportError> {
        Ok(match doc {
            Document::Check { report, .. } => super::console::render_check(report, self),
            Document::Matrix(m) => m.view().render(self.color),
            Document::Bench(b) => b.render(self),
            Document::BenchSet(b) => b.render(self),
            Document::Suite(s) => s.render(),
            Document::Compare(c) => c.render(),
            Document::Saved(_) => {
                return Err(ExportError::Unsupported {
                    format: "terminal",
                    document: doc.kind(),
                })
            }
            Document::Differential(d) => d.render(self.color),
        })
    }
}

/// The JSON document of DESIGN's contracts, pretty-printed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

impl Exporter for Json {
    fn name(&self) -> &'static str {
        "JSON report"
    }

    fn export(&self, doc: &Document) -> Result<String, ExportError> {
        serde_json::to_string_pretty(&doc.to_json())
            .map(|s| s + "\n")
            .map_err(|e| ExportError::Encode(self.name(), e))
    }
}

/// Markdown for a pull request or a published report.
#[derive(Debug, Clone, Copy, Default)]
pub struct Markdown;

impl Exporter for Markdown {
    fn name(&self) -> &'static str {
        "Markdown report"
    }

    fn export(&self, doc: &Document) -> Result<String, ExportError> {
        match doc {
            Document::Check { report, label } => Ok(MatrixView::single(report, label).markdown()),
            Document::Matrix(m) => Ok(m.view().markdown()),
            Document::Differential(d) => Ok(d.markdown()),
            Document::Suite(s) => Ok(s.markdown()),
            Document::Compare(c) => Ok(c.markdown()),
            Document::Bench(b) => Ok(b.markdown()),
            Document::BenchSet(b) => Ok(b.markdown()),
            Document::Saved(_) => Err(ExportError::Unsupported {
                format: "Markdown",
                document: doc.kind(),
            }),
        }
    }
}

/// Where one export goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Stdout,
    /// Standard error (GitHub reads workflow commands there too).
    Stderr,
    File(PathBuf),
    /// Added to the end of a file (`$GITHUB_STEP_SUMMARY`).
    Append(PathBuf),
}

impl Destination {
    /// `-` is standard output, anything else a file.
    pub fn from_arg(path: &Path) -> Destination {
        if path.as_os_str() == "-" {
            Destination::Stdout
        } else {
            Destination::File(path.to_path_buf())
        }
    }
}

/// Every format a command writes, each to its destination.
pub struct Exports {
    list: Vec<(Box<dyn Exporter>, Destination)>,
    /// Whether the terminal table is the first entry (on standard output).
    table_first: bool,
}

impl Exports {
    /// Only these formats, each to its destination.
    pub fn to(list: Vec<(Box<dyn Exporter>, Destination)>) -> Exports {
        Exports {
            list,
            table_first: false,
        }
    }

    /// The usual set: the terminal table on standard output unless a
    /// machine format claimed it (`--json -`), then `--json` and
    /// `--markdown` files.
    pub fn standard(console: Console, json: Option<&Path>, markdown: Option<&Path>) -> Exports {
        let mut list: Vec<(Box<dyn Exporter>, Destination)> = Vec::new();
        let json = json.map(Destination::from_arg);
        let markdown = markdown.map(Destination::from_arg);
        let stdout_taken =
            json == Some(Destination::Stdout) || markdown == Some(Destination::Stdout);
        if !stdout_taken {
            list.push((Box::new(console), Destination::Stdout));
        }
        if let Some(dest) = json {
            list.push((Box::new(Json), dest));
        }
        if let Some(dest) = markdown {
            list.push((Box::new(Markdown), dest));
        }
        Exports {
            table_first: !stdout_taken,
            list,
        }
    }

    /// One more format, to its destination. A format sent to standard
    /// output takes it over from the terminal table, as `--json -` does.
    pub fn add(&mut self, exporter: Box<dyn Exporter>, dest: Destination) {
        if dest == Destination::Stdout && std::mem::take(&mut self.table_first) {
            self.list.remove(0);
        }
        self.list.push((exporter, dest));
    }

    /// Leaves the terminal table out (`OutputArgs::no_table`); files and
    /// other destinations stay.
    pub fn drop_table(&mut self) {
        if std::mem::take(&mut self.table_first) {
            self.list.remove(0);
        }
    }

    /// Adds the self-contained HTML page (`--html FILE`; `-` for standard
    /// output).
    pub fn add_html(&mut self, html: Option<&Path>) {
        if let Some(path) = html {
            self.add(Box::new(super::html::Html), Destination::from_arg(path));
        }
    }

    /// Writes the document in every format. Files are written even when
    /// another destination fails (a closed pipe must not lose the JSON), and
    /// the first failure is returned after all were tried. A reader that
    /// closed standard output early (`| head`) is not a failure.
    pub fn write(&self, doc: &Document) -> Result<(), ExportError> {
        let mut first_error = None;
        for (exporter, dest) in &self.list {
            let result = exporter.export(doc).and_then(|text| match dest {
                Destination::Stdout => write_stdout(&text).map_err(|source| ExportError::Stdout {
                    what: exporter.name(),
                    source,
                }),
                Destination::Stderr => {
                    let mut err = std::io::stderr().lock();
                    err.write_all(text.as_bytes())
                        .and_then(|()| err.flush())
                        .map_err(|source| ExportError::Stderr {
                            what: exporter.name(),
                            source,
                        })
                }
                Destination::File(path) => {
                    write_atomically(path, &text).map_err(|source| ExportError::Write {
                        what: exporter.name(),
                        path: path.clone(),
                        source,
                    })
                }
                Destination::Append(path) => std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .and_then(|mut f| f.write_all(text.as_bytes()))
                    .map_err(|source| ExportError::Write {
                        what: exporter.name(),
                        path: path.clone(),
                        source,
                    }),
            });
            if let Err(e) = result {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// Writes to standard output; a closed pipe ends the output quietly.
pub fn write_stdout(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Writes a file through a temporary file in the same folder and a rename,
/// so a reader (or a crash, or Ctrl-C mid-write) sees the old text or the
/// new, never half of one: a suite rewrites its report after every level.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    let mut perms = tmp.as_file().metadata()?.permissions();
    // Readable like any file the user writes (a temporary file is 0600).
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o644);
    tmp.as_file().set_permissions(perms)?;
    tmp.as_file().sync_data()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
