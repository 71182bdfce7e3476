//! Choosing cases by id prefix (`--only`, `--skip`), as h2spec selects
//! `http2/6.7` and everything below it.

use super::load::{LoadedCase, SpecSet};

/// Prefixes to keep and to drop; an empty `only` keeps everything.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub only: Vec<String>,
    pub skip: Vec<String>,
}

/// A selection that cannot be what was meant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    /// A prefix that selects no case at all is almost always a typo.
    #[error(
        "no case id starts with {prefix:?} (given to {flag}); `wsgiprobe specs` lists the ids"
    )]
    NoMatch { flag: &'static str, prefix: String },
    /// `--skip` left out everything `--only` kept: a run of nothing would
    /// pass, which no gate should take for a result.
    #[error("--skip leaves no case to run; `wsgiprobe specs` lists the ids")]
    NothingLeft,
}

/// The cases of `set` that the selection keeps, in their original order.
pub fn select(set: &SpecSet, sel: &Selection) -> Result<Vec<LoadedCase>, SelectionError> {
    for (flag, list) in [("--only", &sel.only), ("--skip", &sel.skip)] {
        if let Some(p) = list
            .iter()
            .find(|p| !set.cases.iter().any(|c| c.case.id.starts_with(p.as_str())))
        {
            return Err(SelectionError::NoMatch {
                flag,
                prefix: p.clone(),
            });
        }
    }
    let cases: Vec<LoadedCase> = set
        .cases
        .iter()
        .filter(|c| sel.only.is_empty() || sel.only.iter().any(|p| c.case.id.starts_with(p)))
        .filter(|c| !sel.skip.iter().any(|p| c.case.id.starts_with(p)))
        .cloned()
        .collect();
    if cases.is_empty() {
        return Err(SelectionError::NothingLeft);
    }
    Ok(cases)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::load_sources;

    fn set() -> SpecSet {
        let case = |id: &str| {
            format!(
                "[[case]]\nid = \"{id}\"\nlevel = \"must\"\nsource = \"s\"\nrequirement = \"r\"\n\
                 stimulus = \"x\"\nexpect = [{{ subject = \"status\", equals = 200 }}]\n"
            )
        };
        let text = format!(
            "area = \"environ\"\ntitle = \"t\"\n{}{}{}",
            case("environ.a.one"),
            case("environ.a.two"),
            case("environ.b.one")
        );
        load_sources([("environ.toml".to_string(), text)]).unwrap()
    }

    fn ids(v: Vec<LoadedCase>) -> Vec<String> {
        v.into_iter().map(|c| c.case.id).collect()
    }

    #[test]
    fn empty_selection_keeps_all() {
        assert_eq!(select(&set(), &Selection::default()).unwrap().len(), 3);
    }

    #[test]
    fn only_and_skip_compose() {
        let sel = Selection {
            only: vec!["environ.a".into()],
            skip: vec!["environ.a.two".into()],
        };
        assert_eq!(ids(select(&set(), &sel).unwrap()), ["environ.a.one"]);
    }

    #[test]
    fn prefix_matching_nothing_is_an_error() {
        let sel = Selection {
            only: vec!["environ.c".into()],
            skip: vec![],
        };
        let err = select(&set(), &sel).unwrap_err();
        assert!(matches!(
            &err,
            SelectionError::NoMatch { flag: "--only", .. }
        ));
        assert!(err.to_string().contains("environ.c"));
    }

    #[test]
    fn skipping_every_case_is_an_error() {
        let sel = Selection {
            only: vec!["environ.a".into()],
            skip: vec!["environ.a.one".into(), "environ.a.two".into()],
        };
        assert!(matches!(
            select(&set(), &sel),
            Err(SelectionError::NothingLeft)
        ));
        let sel = Selection {
            only: vec![],
            skip: vec!["environ".into()],
        };
        assert!(matches!(
            select(&set(), &sel),
            Err(SelectionError::NothingLeft)
        ));
    }
}
