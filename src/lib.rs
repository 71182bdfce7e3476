//! wsgiprobe: checks WSGI gateway servers against PEP 3333 and drives load
//! through server and proxy stacks.
//!
//! `run` is the whole program: it hands each subcommand to its file in
//! `commands/`; `main.rs` only maps the result to an exit code.
//! docs/architecture.md maps the modules.

pub mod bench;
pub mod cancel;
pub mod cli;
pub mod commands;
pub mod conformance;
pub mod differential;
pub mod duration;
pub mod exit;
pub mod expectations;
pub mod gateway;
pub mod http;
pub mod limits;
pub mod merge;
pub mod probe;
pub mod report;
pub mod spec;
pub mod suite;
pub mod textfile;

pub use exit::Exit;

use anyhow::Result;

use cli::{Cli, Command};

/// Runs one command line.
pub fn run(cli: Cli) -> Result<Exit> {
    // Before any child starts, for every command: a signal stops the
    // servers, and the handler tells the user in the command layer's words
    // when it has to end the process itself.
    gateway::on_interrupt(commands::events::interrupted);
    gateway::install_signal_handler();
    dispatch(cli)
}

/// Runs one command line without installing the signal handler: for a
/// program that hosts wsgiprobe in its own process and handles signals
/// itself, then calls [`gateway::interrupt`] (the Python module).
pub fn dispatch(cli: Cli) -> Result<Exit> {
    let output = cli.output;
    match cli.command {
        Command::Check(args) => commands::check::run(args, &output),
        Command::Specs(args) => commands::specs::run(args),
        Command::Probe(args) => commands::probe::run(args),
        Command::Servers(args) => commands::servers::run(args),
        Command::Bench(args) => commands::bench::run(args, &output),
        Command::Suite(args) => commands::suite::run(args, &output),
        Command::Compare(args) => commands::compare::run(args),
        Command::Report(args) => commands::report::run(args),
        Command::Completions(args) => commands::completions::completions(args),
        Command::Man(args) => commands::completions::man(args),
        Command::Merge(args) => commands::merge::run(args, &output),
    }
}

/// The whole program for a command line given as a list (its first item is
/// the program name): parse, run, print the final error, and return the
/// exit code. The binary and the Python module's `wsgiprobe` command both
/// end here. A usage error, `--help` and `--version` print and exit as clap
/// does.
pub fn main_from<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = cli::try_parse_from(args).unwrap_or_else(|e| e.exit());
    let result = run(cli);
    // A signal outranks whatever the run came to: an error it returned is
    // most likely the signal's doing (its server was stopped under it).
    if let Some(signal) = gateway::interrupted() {
        gateway::remove_registered_folders();
        commands::events::interrupted(signal);
        return signal.exit_code();
    }
    match result {
        Ok(exit) => exit.code(),
        Err(e) => {
            eprintln!("wsgiprobe: error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            Exit::Harness.code()
        }
    }
}
