//! Loading the spec set a command's selection names.

use anyhow::{Context, Result};

use crate::cli::SelectArgs;
use crate::spec;

/// The built-in cases, or those of `--specs DIR`, validated.
pub fn load_set(select: &SelectArgs) -> Result<spec::SpecSet> {
    match &select.specs {
        Some(dir) => spec::load_dir(dir),
        None => spec::load_builtin(),
    }
    .context("invalid spec file")
}

/// The selected cases of that set.
pub fn load_cases(select: &SelectArgs) -> Result<Vec<spec::LoadedCase>> {
    let set = load_set(select)?;
    Ok(spec::select(&set, &select.selection())?)
}
