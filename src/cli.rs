//! Command-line types (clap) and their validation into ready configuration.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::gateway::{GatewayKind, GatewaySpec, ServerName};
use crate::spec::Selection;

/// Checks WSGI gateway servers against PEP 3333.
#[derive(Debug, Parser)]
#[command(name = "wsgiprobe", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the conformance cases against a gateway server.
    Check(CheckArgs),
    /// List the conformance cases and their ids.
    Specs(SpecsArgs),
    /// Write the probe app into a folder, to host it under any server (then use `check --url`).
    Probe(ProbeArgs),
    /// List the servers wsgiprobe can start, whether --python can import them, and their versions.
    Servers(ServersArgs),
    /// Drive load through a stack (or any HTTP server with --url) and report latency.
    Bench(crate::bench::BenchArgs),
}

#[derive(Debug, Args)]
pub struct ServersArgs {
    /// The Python interpreter to look in.
    #[arg(long, env = "WSGIPROBE_PYTHON", default_value = "python3")]
    pub python: String,
    /// Print the list as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Which gateway to check.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// A server wsgiprobe knows how to start (default: wsgiref, from the standard library).
    #[arg(long, value_enum, group = "target")]
    pub server: Option<ServerName>,
    /// Start any server: placeholders {python} {host} {port} {app} {app_dir}; runs in {app_dir}.
    #[arg(long, value_name = "TEMPLATE", group = "target")]
    pub cmd: Option<String>,
    /// A server that already hosts the probe app (http://host:port/path or unix:/path.sock).
    #[arg(long, group = "target")]
    pub url: Option<String>,
    /// The Python interpreter that runs the server.
    #[arg(long, env = "WSGIPROBE_PYTHON", default_value = "python3")]
    pub python: String,
    /// Seconds a server has to start serving the probe.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub start_timeout: f64,
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
    /// Treat warnings (broken SHOULDs) as failures for the exit code.
    #[arg(long)]
    pub strict: bool,
    /// Cases in flight at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    /// Milliseconds one case may take unless it sets its own.
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    pub timeout: u64,
    /// No colour in the table.
    #[arg(long)]
    pub no_color: bool,
}

#[derive(Debug, Args)]
pub struct SpecsArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    /// Print the cases as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// Folder to write the probe app into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// A command-line combination that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error(
        "--cmd must contain {{port}}: wsgiprobe picks a free port and the server must bind it"
    )]
    CmdWithoutPort,
    #[error("--start-timeout must be a positive number of seconds")]
    StartTimeout,
    #[error("--timeout must be at least 1 ms")]
    CaseTimeout,
}

impl TargetArgs {
    /// The gateway to start, validated.
    pub fn gateway_spec(&self) -> Result<GatewaySpec, UsageError> {
        if !(self.start_timeout.is_finite() && self.start_timeout > 0.0) {
            return Err(UsageError::StartTimeout);
        }
        let kind = match (&self.server, &self.cmd, &self.url) {
            (_, Some(cmd), _) => {
                if !cmd.contains("{port}") {
                    return Err(UsageError::CmdWithoutPort);
                }
                GatewayKind::Command(cmd.clone())
            }
            (_, _, Some(url)) => GatewayKind::Url(url.clone()),
            (Some(name), _, _) => GatewayKind::Server(*name),
            (None, None, None) => GatewayKind::Server(ServerName::Wsgiref),
        };
        // The server runs in {app_dir}: a relative interpreter path must not
        // be read from there.
        let python = if self.python.contains('/') {
            std::path::absolute(&self.python)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| self.python.clone())
        } else {
            self.python.clone()
        };
        Ok(GatewaySpec {
            kind,
            python,
            host: "127.0.0.1".into(),
            start_timeout: Duration::from_secs_f64(self.start_timeout),
        })
    }
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

    #[test]
    fn default_gateway_is_wsgiref() {
        let cli = Cli::try_parse_from(["wsgiprobe", "check"]).unwrap();
        let Command::Check(args) = cli.command else {
            panic!("check")
        };
        let spec = args.target.gateway_spec().unwrap();
        assert!(matches!(
            spec.kind,
            GatewayKind::Server(ServerName::Wsgiref)
        ));
    }

    #[test]
    fn targets_are_exclusive_and_cmd_needs_port() {
        assert!(
            Cli::try_parse_from(["wsgiprobe", "check", "--server", "gunicorn", "--url", "x"])
                .is_err()
        );
        let cli = Cli::try_parse_from(["wsgiprobe", "check", "--cmd", "python3 s.py"]).unwrap();
        let Command::Check(args) = cli.command else {
            panic!("check")
        };
        assert!(matches!(
            args.target.gateway_spec(),
            Err(UsageError::CmdWithoutPort)
        ));
    }
}
