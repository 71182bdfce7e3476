//! `wsgiprobe probe --out DIR`: writes the probe app for users to host.

use anyhow::{Context, Result};

use crate::cli::ProbeArgs;
use crate::exit::Exit;
use crate::{probe, report};

/// Runs `wsgiprobe probe`.
pub fn run(args: ProbeArgs) -> Result<Exit> {
    let files = probe::install(&args.out, args.force).with_context(|| {
        format!(
            "could not write the probe app into {}{}",
            args.out.display(),
            if args.force {
                ""
            } else {
                " (pass --force to replace files already there)"
            }
        )
    })?;
    report::write_stdout(&format!(
        "wrote {} and {}\nhost it with any WSGI server from that folder, for example:\n  cd {} && gunicorn --bind 127.0.0.1:8000 {}\nthen run: wsgiprobe check --url http://127.0.0.1:8000/\n(for check --validate, host {} instead)\n",
        files.app.display(),
        files.wsgiref_runner.display(),
        files.dir.display(),
        probe::APP_SPEC,
        probe::VALIDATED_APP_SPEC
    ))?;
    Ok(Exit::Clean)
}
