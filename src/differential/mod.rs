//! `check --differential`: the same malformed and ambiguous requests sent
//! as exact bytes to several stacks, and what each one's application saw
//! compared (after HTTP Garden's method). Disagreements are listed with the
//! bytes; a stack that hands its application more requests than the bytes
//! hold, or a request whose answer never reaches the client (smuggling
//! through a proxy), is a security finding.
//!
//! `corpus` holds the requests (specs/differential/requests.toml), `run`
//! sends them to one stack, `compare` reduces and groups the reactions;
//! the report is report/differential.rs.

pub mod compare;
pub mod corpus;
pub mod run;

pub use compare::{escape_bytes, groups, SecurityFinding, SeenView, View};
pub use corpus::{CorpusError, Entry};
pub use run::{run_corpus, Reaction, Seen, Stage};
