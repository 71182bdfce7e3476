//! Conformance cases: the model, loading and validation of `specs/*.toml`,
//! and selection by id prefix.

mod load;
mod model;
mod select;

pub use load::{load_builtin, load_dir, load_sources, LoadedCase, SpecError, SpecSet};
pub use model::{Case, Expect, Followup, Level, Request, SpecFile};
pub use select::{select, Selection, SelectionError};
