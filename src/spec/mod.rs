//! Conformance cases: the model, loading and validation of `specs/*.toml`,
//! and selection by id prefix.

mod deploy;
mod load;
mod model;
mod select;
mod stimulus;
mod subject;

pub use deploy::{Need, Placeholders, Setting};
pub use load::{
    coverage, load_builtin, load_dir, load_sources, Coverage, LoadedCase, SpecError, SpecSet,
    QUIRKS_FILE, REQUIREMENTS_FILE,
};
pub use model::{
    Case, Choice, Expect, Followup, Level, ProxyEffect, ProxyEffectKind, Request, Requirement,
    SpecFile, PROXY_KINDS,
};
pub use select::{select, Selection, SelectionError};
pub use stimulus::{ReadOptions, Stimulus, HEAD_LINGER};
pub use subject::{Subject, WireFact};
