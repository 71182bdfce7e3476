//! `wsgiprobe compare A.json B.json`.

use anyhow::Result;

use crate::cli::CompareArgs;
use crate::exit::Exit;

/// Runs `wsgiprobe compare`.
pub fn run(_args: CompareArgs) -> Result<Exit> {
    anyhow::bail!("not yet")
}
