//! Command-line types (clap) and their validation into ready configuration.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use std::sync::Arc;

use crate::bench::shard::parse_start_at;
use crate::bench::{Shard, Threshold, WorkloadName};
use crate::duration;
use crate::gateway::{
    self, GatewayKind, GatewaySpec, PlanError, ProxyKind, ProxySpec, RecipeBook, RecipeFileError,
    StackPlan, Tuning,
};
use crate::limits::{self, RangeError};
use crate::spec::Selection;

/// Parses the process's command line, with each numeric flag's range in
/// its help text (`limits::annotate`); exits on a usage error as clap does.
pub fn parse() -> Cli {
    let matches = limits::annotate(Cli::command()).get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// Parses a command line given as a list (its first item is the program
/// name), as [`parse`] does; a usage error (and `--help`, `--version`) is
/// returned for the caller to show or raise.
pub fn try_parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let matches = limits::annotate(Cli::command()).try_get_matches_from(args)?;
    Cli::from_arg_matches(&matches)
}

/// Checks WSGI gateway servers against PEP 3333.
#[derive(Debug, Parser)]
#[command(
    name = "wsgiprobe",
    version,
    about,
    long_about = None,
    after_help = "Examples:
  wsgiprobe check                              conformance of wsgiref (standard library)
  wsgiprobe check --server gunicorn --json -   the report as JSON on standard output
  wsgiprobe bench --server waitress -R 3000    open-loop load at 3000 requests/s"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// How every command writes to the terminal.
#[derive(Debug, Clone, Copy, Args, Default)]
pub struct OutputArgs {
    /// When to colour the output: auto (on a terminal, unless NO_COLOR is
    /// set or TERM=dumb), always or never.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto, help_heading = "Output")]
    pub color: ColorChoice,
    /// Quiet: no progress or start-up messages, and only the summary of the
    /// results (files asked for are written in full).
    #[arg(short, long, global = true, help_heading = "Output")]
    pub quiet: bool,
    /// Leave the terminal table off standard output (no flag: set by a
    /// program that runs a command in its own process and reads the JSON,
    /// such as the Python module).
    #[arg(skip)]
    pub no_table: bool,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to colour a stream that is (`tty`) or is not a terminal.
    /// `auto` follows the NO_COLOR convention (set and not empty: no colour)
    /// and leaves dumb terminals alone.
    pub fn enabled(self, tty: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => tty && fancy_terminal(),
        }
    }
}

/// Whether the terminal takes colours and cursor movement: not with
/// NO_COLOR set (non-empty) or TERM=dumb.
pub fn fancy_terminal() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
    !no_color && !dumb
}

// Parsed once per process: the size of the biggest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the conformance cases against a gateway server.
    #[command(after_help = "Examples:
  wsgiprobe check                                   wsgiref, from the standard library
  wsgiprobe check --server gunicorn --proxy nginx   gunicorn behind nginx
  wsgiprobe check --server gunicorn --server waitress --markdown matrix.md
  wsgiprobe check --url http://127.0.0.1:8000/ --only input --json report.json")]
    Check(CheckArgs),
    /// List the conformance cases and their ids.
    #[command(after_help = "Examples:
  wsgiprobe specs --only input.read     the cases whose id starts with input.read
  wsgiprobe specs --coverage            the requirements and the cases covering each")]
    Specs(SpecsArgs),
    /// Write the probe app into a folder, to host it under any server (then use `check --url`).
    #[command(after_help = "Example:
  wsgiprobe probe --out probe && cd probe && gunicorn -b 127.0.0.1:8000 wsgiprobe_app:app")]
    Probe(ProbeArgs),
    /// List the servers wsgiprobe can start, whether --python can import them, and their versions.
    #[command(after_help = "Examples:
  wsgiprobe servers
  wsgiprobe servers --python .venv/bin/python --json")]
    Servers(ServersArgs),
    /// Drive load through a stack (or any HTTP server with --url) and report latency.
    #[command(after_help = "Examples:
  wsgiprobe bench --server gunicorn --workers 2 -c 64 -d 15s     closed loop, 64 connections
  wsgiprobe bench --server waitress -R 3000 -d 1m30s             open loop at 3000 requests/s
  wsgiprobe bench --url http://127.0.0.1:8080/api -m POST -H 'Content-Type: application/json' --body '{}'")]
    Bench(BenchArgs),
    /// Run a suite file: stacks × workloads × load levels, repeated, with
    /// the sustainable rate under a latency SLO and what each server costs.
    Suite(SuiteArgs),
    /// Compare two bench or suite JSON reports: the change in req/s, p50
    /// and p99 of each stack × workload × level, judged across repeats.
    Compare(CompareArgs),
    /// Draw a JSON report wsgiprobe wrote (check, matrix, bench, suite, compare) as a self-contained HTML page.
    Report(ReportArgs),
    /// Merge the JSON reports of a sharded run (bench or suite --shard)
    /// into one: histograms added exactly, rates summed, thresholds checked
    /// on the whole.
    Merge(MergeArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(after_help = "Examples:
  wsgiprobe completions bash > ~/.local/share/bash-completion/completions/wsgiprobe
  wsgiprobe completions zsh > ~/.zfunc/_wsgiprobe
  wsgiprobe completions fish > ~/.config/fish/completions/wsgiprobe.fish")]
    Completions(CompletionsArgs),
    /// Print the manual page (roff), or write one page per command into a folder.
    #[command(after_help = "Examples:
  wsgiprobe man | man -l -
  wsgiprobe man --out /usr/local/share/man/man1")]
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write wsgiprobe.1 and one page per command (wsgiprobe-check.1, ...) into DIR.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Run a suite file and write DIR/report.json, DIR/report.md and
/// DIR/report.html after every level.
///
///   wsgiprobe suite suites/servers.toml
///   wsgiprobe suite suites/proxies.toml --out reports/proxies --python .venv/bin/python
#[derive(Debug, Args)]
pub struct SuiteArgs {
    /// The suite file (TOML; see suites/README.md).
    pub file: PathBuf,
    /// Folder for report.json, report.md and report.html (default: reports/NAME-DATE,
    /// NAME being the suite file's name).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Validate the file and every stack, print what would run and how
    /// long it would take, and start nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also write each level's per-second latency as an HdrHistogram
    /// interval log, DIR/hlog/STACK.WORKLOAD.LEVEL.rREPEAT.hlog.
    #[arg(long)]
    pub hlog: bool,
    #[command(flatten)]
    pub distributed: ShardArgs,
    /// Target options (--python, --recipes, --nginx, tuning) apply to every
    /// stack of the file that does not set its own.
    #[command(flatten)]
    pub target: TargetArgs,
}

/// Compare two reports (bench or suite JSON) stack × workload × level.
///
///   wsgiprobe compare before.json after.json
///   wsgiprobe compare before.json after.json --fail-if 'p99:+10%,rps:-5%' --markdown pr.md
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline report.
    pub before: PathBuf,
    /// The report to judge against it.
    pub after: PathBuf,
    /// Exit 1 when a significant change breaks a limit: METRIC:+N% (a rise
    /// of more than N%) or METRIC:-N% (a fall); metrics rps, p50, p90, p95,
    /// p99, p99.9; comma-separated or repeated.
    #[arg(long, value_name = "LIMITS")]
    pub fail_if: Vec<String>,
    /// Significance level of the Mann–Whitney U test (two-sided). With 3
    /// repeats a side the smallest p the test can give is 0.10.
    #[arg(long, default_value_t = 0.10)]
    pub alpha: f64,
    /// Write the comparison as JSON to FILE (`-` for standard output).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write the comparison as Markdown (sized for a pull-request comment) to FILE (`-` for standard output).
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServersArgs {
    /// The Python interpreter to look in.
    #[arg(long, env = "WSGIPROBE_PYTHON", default_value = "python3")]
    pub python: String,
    /// Recipes to add to (or replace) the built-in ones.
    #[arg(long, value_name = "FILE")]
    pub recipes: Option<PathBuf>,
    /// The nginx program for --proxy.
    #[arg(long, env = "WSGIPROBE_NGINX", default_value = "nginx")]
    pub nginx: String,
    /// Print the list as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Which gateway to check.
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// A server wsgiprobe knows how to start, `NAME` or `NAME==VERSION` (a managed
    /// environment); repeat for a matrix (default: wsgiref, from the standard library).
    #[arg(long, value_name = "NAME[==VERSION]", conflicts_with_all = ["cmd", "url"])]
    pub server: Vec<String>,
    /// One stack of a matrix, as its own options: `--stack 'gunicorn --worker-class gthread
    /// --threads 4 --proxy nginx'` (repeatable; takes the options below).
    #[arg(long, value_name = "SPEC", conflicts_with_all = ["cmd", "url"])]
    pub stack: Vec<String>,
    /// Start any server: placeholders {python} {host} {port} {socket} {app} {app_dir} {probe_dir}; runs in {app_dir}.
    #[arg(long, value_name = "TEMPLATE", group = "target")]
    pub cmd: Option<String>,
    /// A server that already hosts the probe app (http://host:port/path or unix:/path.sock).
    #[arg(long, group = "target", value_name = "URL")]
    pub url: Option<String>,
    #[command(flatten)]
    pub tuning: TuningArgs,
    /// Server recipes to add to (or replace) the built-in ones (TOML, as recipes/servers.toml).
    #[arg(long, value_name = "FILE")]
    pub recipes: Option<PathBuf>,
    /// Never create a managed environment: a server --python lacks is an error.
    #[arg(long)]
    pub no_install: bool,
    /// The Python interpreter that runs the server.
    #[arg(long, env = "WSGIPROBE_PYTHON", default_value = "python3")]
    pub python: String,
    /// The nginx program for --proxy.
    #[arg(long, env = "WSGIPROBE_NGINX", default_value = "nginx")]
    pub nginx: String,
    /// How long a server has to start serving the probe (30s, 2m; a bare number is seconds).
    #[arg(long, value_name = "DURATION", value_parser = duration::secs, default_value = "30s")]
    pub start_timeout: Duration,
    /// With --url https://...: accept any certificate (a self-signed one);
    /// the traffic is still encrypted, the server not authenticated.
    #[arg(long)]
    pub insecure: bool,
    /// Load the probe behind wsgiref.validate (set from `check --validate`;
    /// not a flag of every command).
    #[arg(skip)]
    pub validate: bool,
}

/// How one server runs: its concurrency, how it listens, what is in front.
#[derive(Debug, Clone, Args, Default)]
pub struct TuningArgs {
    /// Worker processes (servers that have them).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub workers: Option<u32>,
    /// Threads per worker (servers that have them).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub threads: Option<u32>,
    /// Worker class (gunicorn: sync, gthread, gevent).
    #[arg(long, value_name = "NAME")]
    pub worker_class: Option<String>,
    /// Put nginx in front: proxy_pass over TCP, to a unix socket, uwsgi_pass,
    /// or proxy_pass over TCP with nginx terminating TLS (nginx-tls).
    #[arg(long, value_enum, value_name = "KIND")]
    pub proxy: Option<ProxyKind>,
    /// Keep nginx's connections to the server open (upstream keepalive).
    #[arg(long, requires = "proxy")]
    pub proxy_keepalive: bool,
    /// Tell the server to trust nginx's X-Forwarded-* headers (its recipe's
    /// trust_proxy flags, e.g. gunicorn --forwarded-allow-ips).
    #[arg(long, requires = "proxy")]
    pub trust_proxy: bool,
    /// Mount the application under PATH (`/app`): SCRIPT_NAME is PATH,
    /// PATH_INFO the rest (the recipe's prefix flags); requests go under it.
    #[arg(long, value_name = "PATH")]
    pub prefix: Option<String>,
    /// Serve on a unix socket instead of TCP (no proxy).
    #[arg(long, conflicts_with = "proxy")]
    pub unix: bool,
}

/// `--stack` text, parsed with the same options as the command line.
#[derive(Debug, Parser)]
#[command(name = "--stack", no_binary_name = true)]
struct StackLine {
    /// `NAME` or `NAME==VERSION`.
    server: String,
    #[command(flatten)]
    tuning: TuningArgs,
}

/// Which cases to run.
#[derive(Debug, Args)]
pub struct SelectArgs {
    /// Run only cases whose id starts with PREFIX (repeatable).
    #[arg(long, value_name = "PREFIX")]
    pub only: Vec<String>,
    /// Leave out cases whose id starts with PREFIX (repeatable).
    #[arg(long, value_name = "PREFIX")]
    pub skip: Vec<String>,
    /// Load spec files from this folder instead of the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub specs: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Write the JSON report to FILE (`-` for standard output instead of the table).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write the results as a Markdown matrix (cases by stacks) to FILE.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Write a self-contained HTML page (the matrix, each cell opening its case) to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Treat warnings (broken SHOULDs) as failures for the exit code
    /// (with --expectations, a warn the file expects stays expected).
    #[arg(long)]
    pub strict: bool,
    /// Compare every outcome with FILE (per stack label): exit 1 only on an
    /// unexpected fail or warn; fixed, new and stale entries are listed.
    #[arg(long, value_name = "FILE")]
    pub expectations: Option<PathBuf>,
    /// Write every case's outcome (per stack) to FILE, to review and
    /// commit; entries for cases this run did not decide are kept.
    #[arg(long, value_name = "FILE")]
    pub update_expectations: Option<PathBuf>,
    /// With --expectations: exit 1 as well when anything differs from the
    /// file (a fixed case, a new one, a stale entry).
    #[arg(long, requires = "expectations")]
    pub strict_expectations: bool,
    /// Write a JUnit XML report to FILE (one testsuite per area, per stack).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Server quirks to add to the built-in ones (TOML, as specs/quirks.toml): a
    /// warn or skip they explain is shown as `quirk`; a fail stands.
    #[arg(long, value_name = "FILE")]
    pub quirks: Option<PathBuf>,
    /// Cases in flight at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    /// The most bytes kept of one response body (65536, 512KiB, 4MiB); a
    /// longer body is an error verdict that says so.
    #[arg(long, value_name = "SIZE", default_value = "1MiB", value_parser = limits::parse_size)]
    pub max_body: u64,
    /// How long one case may take unless it sets its own (5s, 500ms; a bare
    /// number is milliseconds).
    #[arg(long, value_name = "DURATION", value_parser = duration::millis, default_value = "5s")]
    pub timeout: Duration,
    /// Stop at the first case that fails (with --strict, or warns); the
    /// cases not run are listed.
    #[arg(short = 'x', long)]
    pub fail_fast: bool,
    /// Show every case, passes included, not only a summary per area.
    #[arg(short, long)]
    pub verbose: bool,
    /// Also run the standard library's wsgiref.validate checks: the server loads
    /// wsgiprobe_app:validated_app (host that yourself with --url) and the report
    /// lists what the validator found, apart from the case verdicts.
    #[arg(long)]
    pub validate: bool,
    /// The same as --color never (kept for old command lines).
    #[arg(long, hide = true)]
    pub no_color: bool,
    /// Instead of the cases, send the differential corpus (malformed and
    /// ambiguous requests) to every stack and compare what each
    /// application saw; --only and --skip select request ids.
    #[arg(long, conflicts_with_all = ["strict", "quirks", "validate", "expectations", "update_expectations", "junit", "html", "fail_fast"])]
    pub differential: bool,
}

#[derive(Debug, Args)]
pub struct SpecsArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    /// Print the cases as JSON.
    #[arg(long)]
    pub json: bool,
    /// List every requirement of the catalogue with the cases covering it
    /// (or why none does) instead of the cases.
    #[arg(long)]
    pub coverage: bool,
}

#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// Folder to write the probe app into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Replace probe files already in DIR (a symbolic link is replaced, never followed).
    #[arg(long)]
    pub force: bool,
}

/// Drive load through a stack and report throughput and latency.
///
/// With --url and no --workload, any HTTP/1.1 server can be measured: each
/// request is a plain GET of the URL's path (or what -m, -H and --body make
/// it) and any 2xx answer counts.
#[derive(Debug, Args)]
#[command(
    mut_arg("url", |a| a.help(
        "Any HTTP/1.1 server to measure (http://host:port/path or unix:/path.sock); with --workload, one hosting the probe app"
    )),
    mut_arg("server", |a| a.help(
        "A server wsgiprobe knows how to start, `NAME` or `NAME==VERSION` (a managed environment; default: wsgiref)"
    )),
    mut_arg("stack", |a| a.help(
        "The stack as its own options: `--stack 'gunicorn --worker-class gthread --threads 4 --proxy nginx'`"
    ))
)]
pub struct BenchArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// What the probe does per request (default hello; with --url and no
    /// --workload, a plain GET of the URL on any server).
    #[arg(long, value_enum)]
    pub workload: Option<WorkloadName>,
    /// Body bytes for payload and echo; bytes per chunk for stream.
    #[arg(long, default_value_t = 1024)]
    pub size: usize,
    /// Chunks of the stream workload.
    #[arg(long, default_value_t = 16)]
    pub chunks: u32,
    /// How long the sleep and cpu workloads take per request (10ms, 0.5s; a
    /// bare number is milliseconds).
    #[arg(long, value_name = "DURATION", value_parser = duration::millis, default_value = "10ms")]
    pub ms: Duration,
    /// Connections (closed model: requests in flight; open model: the most in flight).
    #[arg(short = 'c', long, default_value_t = 64)]
    pub connections: usize,
    /// Open model: requests per second, due on a fixed schedule; latency
    /// counts from when each was due (wrk2's -R). Without it, the closed model.
    #[arg(short = 'R', long, value_name = "PER_SEC")]
    pub rate: Option<f64>,
    /// How long to measure (15s, 500ms, 1m30s); default 10s unless -n is given.
    #[arg(short = 'd', long, value_name = "DURATION", value_parser = duration::secs, conflicts_with = "requests")]
    pub duration: Option<Duration>,
    /// Measure exactly this many requests instead of a duration.
    #[arg(short = 'n', long)]
    pub requests: Option<u64>,
    /// Load before measuring starts, not counted.
    #[arg(long, value_name = "DURATION", value_parser = duration::secs, default_value = "2s")]
    pub warmup: Duration,
    /// Time limit of one request; a request that hits it counts as an error
    /// and is recorded at this latency.
    #[arg(long, value_name = "DURATION", value_parser = duration::secs, default_value = "10s")]
    pub timeout: Duration,
    /// Load-generator threads, each with its own event loop (default: half
    /// the CPUs, at least 1, leaving the rest to the stack).
    #[arg(short = 't', long)]
    pub load_threads: Option<usize>,
    /// Errors a run may have and still be valid (exit 0).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub allow_errors: u64,
    /// A threshold the run must meet, k6 style, or it exits 1: p99<50ms,
    /// p99.9<200ms, max<1s, mean<5ms, rps>=1000, errors==0, errors<1%
    /// (repeatable; latency needs a unit: us, ms, s).
    #[arg(long = "fail-if", visible_alias = "threshold", value_name = "EXPR", value_parser = clap::value_parser!(Threshold))]
    pub fail_if: Vec<Threshold>,
    /// Compare the body bytes of one response in N (the length of every response is checked).
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub sample_bodies: u32,
    /// The most bytes kept of the body of the one response checked before
    /// measuring (a probe workload's own length is always allowed).
    #[arg(long, value_name = "SIZE", default_value = "1MiB", value_parser = limits::parse_size)]
    pub max_body: u64,
    /// Write the JSON report to FILE (`-` for standard output instead of the table).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write a self-contained HTML page (latency spectrum, timeline) to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Host your own WSGI application instead of the probe, as MODULE:CALLABLE
    /// (`app:app`), under any stack wsgiprobe can start (any --server, --proxy).
    #[arg(long, value_name = "MODULE:CALLABLE", conflicts_with_all = ["url", "workload"])]
    pub app: Option<String>,
    /// The folder holding --app's module; the server runs there [default: the current folder].
    #[arg(long, value_name = "DIR", requires = "app")]
    pub app_dir: Option<PathBuf>,
    /// The path every request of --app asks for (readiness too: any answer there means the stack is up).
    #[arg(long, value_name = "PATH", requires = "app", default_value = "/")]
    pub path: String,
    /// The status every response must have, with --app or --url [default: any 2xx].
    #[arg(long, value_name = "CODE", value_parser = clap::value_parser!(u16).range(100..=599), conflicts_with = "workload")]
    pub expect_status: Option<u16>,
    /// The body every response must have, with --app or --url (compared on one response in --sample-bodies).
    #[arg(long, value_name = "TEXT", conflicts_with = "workload")]
    pub expect_body: Option<String>,
    /// Write the summary as Markdown to FILE (`-` for standard output).
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// --url or --app: the request method (default GET; POST when a body is given).
    #[arg(short = 'm', long, value_name = "METHOD", conflicts_with = "workload")]
    pub method: Option<String>,
    /// --url or --app: a request header, `Name: value` (repeatable).
    #[arg(
        short = 'H',
        long = "header",
        value_name = "NAME: VALUE",
        conflicts_with = "workload"
    )]
    pub headers: Vec<String>,
    /// --url or --app: the request body.
    #[arg(long, value_name = "TEXT", conflicts_with_all = ["workload", "body_file"])]
    pub body: Option<String>,
    /// --url or --app: the request body, read from FILE.
    #[arg(long, value_name = "FILE", conflicts_with = "workload")]
    pub body_file: Option<PathBuf>,
    /// Write the corrected latency of each second as an HdrHistogram
    /// interval log (.hlog, read by HistogramLogProcessor) to FILE.
    #[arg(long, value_name = "FILE")]
    pub hlog: Option<PathBuf>,
    #[command(flatten)]
    pub distributed: ShardArgs,
}

/// Render a saved JSON report.
///
/// Examples:
///   wsgiprobe report bench.json --html bench.html
///   wsgiprobe check --server gunicorn --server waitress --json m.json && wsgiprobe report m.json --html m.html
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The JSON report a wsgiprobe command wrote (`-` for standard input).
    #[arg(value_name = "FILE.json")]
    pub file: PathBuf,
    /// Write the self-contained HTML page to FILE (`-` for standard output).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write the Markdown the run would have written (check and matrix reports) to FILE.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
}

/// One part of a plan run on several machines (docs/distributed.md).
#[derive(Debug, Clone, Default, Args)]
pub struct ShardArgs {
    /// Run the I-th of N equal parts of the plan, counting from 0 (0/4 to
    /// 3/4): 1/N of the connections and of --rate, the open model's
    /// arrivals offset so the shards interleave. `wsgiprobe merge` puts the
    /// shards' JSON reports back together.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// Start the load at this wall-clock time (RFC 3339:
    /// 2026-12-01T10:00:00Z), so that shards started at different moments
    /// measure the same window; the warm-up starts then, the measured
    /// window after it.
    #[arg(long, value_name = "TIME", value_parser = parse_start_at)]
    pub start_at: Option<SystemTime>,
}

/// Merge the JSON reports of a plan's shards (bench --shard, or suite
/// --shard) into the report of the whole.
///
///   wsgiprobe merge shard-*.json --json merged.json --fail-if 'p99<100ms'
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shards' JSON reports, one per shard of the same plan.
    #[arg(required = true, value_name = "FILES")]
    pub files: Vec<PathBuf>,
    /// Write the merged JSON report to FILE (`-` for standard output instead of the table).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write the merged suite report as Markdown to FILE (suites only).
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Write the merged report as a self-contained HTML page to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write the merged per-second latency as an HdrHistogram interval log
    /// to FILE (bench shards only).
    #[arg(long, value_name = "FILE")]
    pub hlog: Option<PathBuf>,
    /// A threshold the merged run must meet, or the exit is 1 (as bench's
    /// --fail-if: p99<50ms, rps>=1000, errors<1%); checked on the merged
    /// figures, never on a shard's.
    #[arg(long = "fail-if", visible_alias = "threshold", value_name = "EXPR", value_parser = clap::value_parser!(Threshold))]
    pub fail_if: Vec<Threshold>,
    /// Merge even if some of the plan's shards are missing (the merged load
    /// is then less than the plan's, and the report says which are).
    #[arg(long)]
    pub partial: bool,
}

/// A command-line combination that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error(transparent)]
    Range(#[from] RangeError),
    #[error("bad --stack {spec:?}: {detail}")]
    Stack { spec: String, detail: String },
    #[error("bad --server {0:?}: give NAME or NAME==VERSION")]
    ServerName(String),
    #[error("--proxy-keepalive does not apply to nginx-uwsgi: nginx keeps no upstream connections open over the uwsgi protocol")]
    UwsgiKeepalive,
    #[error("bad --prefix {0:?}: give a path such as /app (a leading slash, no trailing one, no spaces, quotes, `?` or `%`)")]
    Prefix(String),
    #[error(
        "--insecure accepts any certificate of an https:// server: it takes --url https://..."
    )]
    Insecure,
    #[error("this command takes one stack; {0} were given")]
    OneStack(usize),
    #[error("invalid recipe file {0}")]
    Recipes(#[from] RecipeFileError),
    #[error("cannot run {label} as given")]
    Plan {
        label: String,
        #[source]
        source: PlanError,
    },
}

/// One stack of the command line, planned before any starts.
#[derive(Debug, Clone)]
pub struct PlannedStack {
    /// The stack's short name (`GatewaySpec::label`).
    pub label: String,
    /// Its plan. An error only for a server with no recipe here: that stack
    /// cannot start, like a server that is not installed, and a matrix
    /// reports it as such; every other plan error is a `UsageError`.
    pub plan: Result<StackPlan, PlanError>,
}

impl TargetArgs {
    /// The one gateway to start, validated (a matrix is refused).
    pub fn gateway_spec(&self) -> Result<GatewaySpec, UsageError> {
        let mut specs = self.gateway_specs()?;
        if specs.len() != 1 {
            return Err(UsageError::OneStack(specs.len()));
        }
        Ok(specs.remove(0))
    }

    /// The one stack to start, planned (a matrix is refused).
    pub fn stack_plan(&self) -> Result<PlannedStack, UsageError> {
        planned(&self.gateway_spec()?)
    }

    /// Every stack the command line names, in order, each planned before
    /// the first starts: a flag the third stack's server lacks stops the
    /// run before the first stack has run.
    pub fn stack_plans(&self) -> Result<Vec<PlannedStack>, UsageError> {
        self.gateway_specs()?.iter().map(planned).collect()
    }

    /// Every stack the command line names, in order, validated.
    pub fn gateway_specs(&self) -> Result<Vec<GatewaySpec>, UsageError> {
        self.specs_for(&self.server, &self.stack)
    }

    /// The stacks `stacks` name in `--stack` syntax (a suite file's), each
    /// with this command line's options where it sets none of its own,
    /// planned in order before any starts.
    pub fn stack_plans_for(&self, stacks: &[String]) -> Result<Vec<PlannedStack>, UsageError> {
        self.specs_for(&[], stacks)?.iter().map(planned).collect()
    }

    fn specs_for(
        &self,
        servers: &[String],
        stacks: &[String],
    ) -> Result<Vec<GatewaySpec>, UsageError> {
        limits::START_TIMEOUT.check_duration(self.start_timeout)?;
        let recipes = Arc::new(match &self.recipes {
            Some(path) => RecipeBook::with_file(path)?,
            None => RecipeBook::builtin(),
        });
        // The server runs in {app_dir}: a relative interpreter path must not
        // be read from there.
        let absolute = |p: &str| {
            if p.contains('/') {
                std::path::absolute(p)
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|_| p.to_string())
            } else {
                p.to_string()
            }
        };
        let make = |kind: GatewayKind, tuning: &TuningArgs| -> Result<GatewaySpec, UsageError> {
            if tuning.proxy_keepalive && tuning.proxy == Some(ProxyKind::NginxUwsgi) {
                return Err(UsageError::UwsgiKeepalive);
            }
            let prefix = tuning.prefix.as_deref().map(prefix_path).transpose()?;
            Ok(GatewaySpec {
                kind,
                python: absolute(&self.python),
                host: "127.0.0.1".into(),
                start_timeout: self.start_timeout,
                tuning: Tuning {
                    workers: tuning.workers,
                    threads: tuning.threads,
                    worker_class: tuning.worker_class.clone(),
                    trust_proxy: tuning.trust_proxy,
                    prefix,
                },
                proxy: tuning.proxy.map(|kind| ProxySpec {
                    kind,
                    keepalive: tuning.proxy_keepalive,
                    nginx: absolute(&self.nginx),
                }),
                unix: tuning.unix,
                install: !self.no_install,
                recipes: recipes.clone(),
                validate: self.validate,
                app: None,
                insecure: self.insecure,
            })
        };
        if self.insecure && !self.url.as_deref().is_some_and(is_https) {
            return Err(UsageError::Insecure);
        }
        if let Some(cmd) = &self.cmd {
            return Ok(vec![make(GatewayKind::Command(cmd.clone()), &self.tuning)?]);
        }
        if let Some(url) = &self.url {
            return Ok(vec![make(GatewayKind::Url(url.clone()), &self.tuning)?]);
        }
        let mut specs = Vec::new();
        for server in servers {
            specs.push(make(server_kind(server)?, &self.tuning)?);
        }
        for text in stacks {
            let words = split_words(text).ok_or_else(|| UsageError::Stack {
                spec: text.clone(),
                detail: "unbalanced quote".into(),
            })?;
            let line = StackLine::try_parse_from(words).map_err(|e| UsageError::Stack {
                spec: text.clone(),
                detail: e.kind().to_string() + ": " + e.to_string().lines().next().unwrap_or(""),
            })?;
            // Options on the command line apply to every stack unless it sets its own.
            let t = merge(&line.tuning, &self.tuning);
            specs.push(make(server_kind(&line.server)?, &t)?);
        }
        if specs.is_empty() {
            specs.push(make(
                GatewayKind::Server {
                    name: "wsgiref".into(),
                    version: None,
                },
                &self.tuning,
            )?);
        }
        Ok(specs)
    }
}

/// Plans one stack as the command line would (`UsageError::Plan` for a
/// stack that contradicts itself).
pub fn planned(spec: &GatewaySpec) -> Result<PlannedStack, UsageError> {
    let label = spec.label();
    match gateway::plan(spec) {
        Err(source) if !source.is_unknown_server() => Err(UsageError::Plan { label, source }),
        plan => Ok(PlannedStack { label, plan }),
    }
}

fn server_kind(text: &str) -> Result<GatewayKind, UsageError> {
    let (name, version) = match text.split_once("==") {
        Some((n, v)) => (n.trim(), Some(v.trim())),
        None => (text.trim(), None),
    };
    let ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-+!".contains(c))
    };
    if !ok(name) || version.is_some_and(|v| !ok(v)) {
        return Err(UsageError::ServerName(text.to_string()));
    }
    Ok(GatewayKind::Server {
        name: name.to_string(),
        version: version.map(str::to_string),
    })
}

/// `--prefix` as a mount path: `/app` (a trailing slash dropped).
fn prefix_path(text: &str) -> Result<String, UsageError> {
    let path = text.trim_end_matches('/');
    let ok = path.starts_with('/')
        && path
            .chars()
            .all(|c| c.is_ascii_graphic() && !"'\"\\?#%".contains(c));
    if ok {
        Ok(path.to_string())
    } else {
        Err(UsageError::Prefix(text.to_string()))
    }
}

fn is_https(url: &str) -> bool {
    url.get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
}

fn merge(own: &TuningArgs, common: &TuningArgs) -> TuningArgs {
    TuningArgs {
        workers: own.workers.or(common.workers),
        threads: own.threads.or(common.threads),
        worker_class: own.worker_class.clone().or(common.worker_class.clone()),
        proxy: own.proxy.or(common.proxy),
        proxy_keepalive: own.proxy_keepalive || common.proxy_keepalive,
        trust_proxy: own.trust_proxy || common.trust_proxy,
        prefix: own.prefix.clone().or(common.prefix.clone()),
        unix: own.unix || common.unix,
    }
}

/// Splits on spaces, honouring single and double quotes.
pub(crate) fn split_words(text: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => word.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            None => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return None;
    }
    if in_word {
        words.push(word);
    }
    Some(words)
}

impl SelectArgs {
    pub fn selection(&self) -> Selection {
        Selection {
            only: self.only.clone(),
            skip: self.skip.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    fn target(args: &[&str]) -> TargetArgs {
        let mut all = vec!["wsgiprobe", "check"];
        all.extend_from_slice(args);
        let cli = Cli::try_parse_from(all).unwrap();
        let Command::Check(args) = cli.command else {
            panic!("check")
        };
        args.target
    }

    #[test]
    fn default_gateway_is_wsgiref() {
        let spec = target(&[]).gateway_spec().unwrap();
        assert!(matches!(
            &spec.kind,
            GatewayKind::Server { name, version: None } if name == "wsgiref"
        ));
        assert!(spec.proxy.is_none() && spec.tuning.is_default());
    }

    #[test]
    fn targets_are_exclusive() {
        for bad in [
            &["--server", "gunicorn", "--url", "x"][..],
            &["--stack", "gunicorn", "--cmd", "x {port}"],
            &["--unix", "--proxy", "nginx"],
            &["--proxy-keepalive"],
        ] {
            let mut all = vec!["wsgiprobe", "check"];
            all.extend_from_slice(bad);
            assert!(Cli::try_parse_from(all).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn servers_and_stacks_make_a_matrix() {
        let t = target(&[
            "--server",
            "gunicorn==22.0.0",
            "--server",
            "waitress",
            "--stack",
            "gunicorn --worker-class gthread --threads 4 --proxy nginx --proxy-keepalive",
            "--stack",
            "uwsgi --proxy 'nginx-uwsgi'",
            "--workers",
            "2",
        ]);
        let specs = t.gateway_specs().unwrap();
        let labels: Vec<_> = specs.iter().map(|s| s.label()).collect();
        assert_eq!(
            labels,
            [
                "gunicorn==22.0.0 w2",
                "waitress w2",
                "gunicorn gthread w2 t4 + nginx keepalive",
                "uwsgi w2 + nginx-uwsgi"
            ]
        );
        assert!(matches!(t.gateway_spec(), Err(UsageError::OneStack(4))));
    }

    #[test]
    fn bad_stacks_and_names_are_explained() {
        let e = target(&["--stack", "gunicorn --wrokers 2"])
            .gateway_specs()
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("gunicorn --wrokers 2") && e.contains("--wrokers"),
            "{e}"
        );
        let e = target(&["--stack", "uwsgi --proxy nginx-uwsgi --proxy-keepalive"])
            .gateway_specs()
            .unwrap_err();
        assert!(matches!(e, UsageError::UwsgiKeepalive), "{e}");
        let e = target(&["--server", "gunicorn==1 2"])
            .gateway_specs()
            .unwrap_err();
        assert!(matches!(e, UsageError::ServerName(_)), "{e}");
        assert!(target(&["--stack", "'gunicorn"]).gateway_specs().is_err());
    }

    #[test]
    fn deployment_flags_are_checked() {
        let t = target(&[
            "--stack",
            "waitress --proxy nginx-tls --trust-proxy --prefix /app/",
        ]);
        let spec = t.gateway_spec().unwrap();
        assert_eq!(spec.tuning.prefix.as_deref(), Some("/app"));
        assert!(spec.tuning.trust_proxy);
        assert_eq!(spec.label(), "waitress + nginx-tls trusted under /app");
        for bad in ["app", "/a b", "/a?b", "/a%20"] {
            let e = target(&["--prefix", bad]).gateway_specs().unwrap_err();
            assert!(matches!(e, UsageError::Prefix(_)), "{bad}: {e}");
        }
        let e = target(&["--url", "http://127.0.0.1:9/", "--insecure"])
            .gateway_specs()
            .unwrap_err();
        assert!(matches!(e, UsageError::Insecure), "{e}");
        assert!(target(&["--url", "https://127.0.0.1:9/", "--insecure"])
            .gateway_specs()
            .is_ok());
        // --trust-proxy means nothing without a proxy.
        assert!(Cli::try_parse_from(["wsgiprobe", "check", "--trust-proxy"]).is_err());
    }

    #[test]
    fn every_stack_is_planned_before_any_starts() {
        let e = target(&[
            "--stack",
            "gunicorn",
            "--stack",
            "uwsgi --proxy nginx-uwsgi",
            "--stack",
            "waitress --workers 2",
        ])
        .stack_plans()
        .unwrap_err();
        let UsageError::Plan { label, source } = &e else {
            panic!("{e}")
        };
        assert_eq!(label, "waitress w2");
        assert!(source.to_string().contains("--workers"), "{source}");

        // A server without a recipe is a stack that cannot start, not a
        // contradiction: the matrix still runs the others.
        let stacks = target(&["--server", "gunicorn", "--server", "nosuch"])
            .stack_plans()
            .unwrap();
        assert!(stacks[0].plan.is_ok());
        assert!(matches!(&stacks[1].plan, Err(e) if e.is_unknown_server()));
        assert_eq!(stacks[1].label, "nosuch");

        let one = target(&["--url", "http://127.0.0.1:9/x/"])
            .stack_plan()
            .unwrap();
        assert_eq!(one.plan.unwrap().url().unwrap().base_path, "/x/");
        assert!(matches!(
            target(&["--cmd", "serve {socket}"]).stack_plan(),
            Err(UsageError::Plan { .. })
        ));
    }
}
