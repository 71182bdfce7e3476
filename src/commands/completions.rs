//! `wsgiprobe completions SHELL` and `wsgiprobe man`: the command line
//! described for shells and for man(1), from the same clap definition the
//! parser uses, so they never drift from the flags.

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::exit::Exit;
use crate::report;

/// Prints the completion script for a shell.
pub fn completions(args: CompletionsArgs) -> Result<Exit> {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "wsgiprobe", &mut script);
    report::write_stdout(&String::from_utf8_lossy(&script))?;
    Ok(Exit::Clean)
}

/// Prints the manual page, or writes one page per command into a folder.
pub fn man(args: ManArgs) -> Result<Exit> {
    let cmd = Cli::command();
    match &args.out {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut page)?;
            report::write_stdout(&String::from_utf8_lossy(&page))?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("could not create {}", dir.display()))?;
            clap_mangen::generate_to(cmd, dir).with_context(|| {
                format!("could not write the manual pages into {}", dir.display())
            })?;
        }
    }
    Ok(Exit::Clean)
}
