//! Whether a set of reports are the shards of one plan: the same target,
//! workload, model, load, window and shard count, each shard once.

use std::fmt::Display;
use std::path::Path;

use super::MergeError;
use crate::bench::Shard;

/// What two shards of one plan share, as named values; two reports whose
/// keys differ were not run from the same plan.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanKey {
    items: Vec<(&'static str, String)>,
}

impl PlanKey {
    /// Adds one named part of the plan.
    pub fn add(&mut self, name: &'static str, value: impl Display) {
        self.items.push((name, value.to_string()));
    }

    /// What differs from `other`, one `name a vs b` per part.
    pub fn differences(&self, other: &PlanKey) -> Vec<String> {
        let mut out = Vec::new();
        for (name, value) in &self.items {
            let theirs = other
                .items
                .iter()
                .find(|(n, _)| n == name)
                .map_or("(none)", |(_, v)| v.as_str());
            if value != theirs {
                out.push(format!("{name} {value} vs {theirs}"));
            }
        }
        out
    }
}

/// One report as the set check sees it.
pub struct Part<'a> {
    pub file: &'a Path,
    pub shard: Shard,
    pub key: &'a PlanKey,
}

/// Checks that `parts` are shards of one plan, each given once, and all of
/// them unless `partial`; returns the indexes missing.
pub fn check_set(parts: &[Part], partial: bool) -> Result<Vec<u32>, MergeError> {
    let Some(first) = parts.first() else {
        return Ok(Vec::new());
    };
    for p in &parts[1..] {
        let differences = first.key.differences(p.key);
        if !differences.is_empty() {
            return Err(MergeError::Plans {
                first: first.file.to_path_buf(),
                other: p.file.to_path_buf(),
                differences,
            });
        }
    }
    let count = first.shard.count;
    let mut seen: Vec<Option<&Path>> = vec![None; count as usize];
    for p in parts {
        match seen[p.shard.index as usize] {
            Some(earlier) => {
                return Err(MergeError::Duplicate {
                    shard: p.shard.to_string(),
                    first: earlier.to_path_buf(),
                    other: p.file.to_path_buf(),
                })
            }
            None => seen[p.shard.index as usize] = Some(p.file),
        }
    }
    let missing: Vec<u32> = (0..count).filter(|&i| seen[i as usize].is_none()).collect();
    if !missing.is_empty() && !partial {
        return Err(MergeError::Missing {
            count,
            missing: missing.iter().map(|i| format!("{i}/{count}")).collect(),
        });
    }
    Ok(missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(rate: &str, workload: &str, count: u32) -> PlanKey {
        let mut k = PlanKey::default();
        k.add("target", "http://svc:8000/");
        k.add("workload", workload);
        k.add("rate", rate);
        k.add("shards", count);
        k
    }

    #[test]
    fn a_different_plan_is_refused_saying_what_differs() {
        let (a, b) = (key("20000", "hello", 2), key("10000", "payload", 2));
        let parts = [
            Part {
                file: Path::new("a.json"),
                shard: Shard { index: 0, count: 2 },
                key: &a,
            },
            Part {
                file: Path::new("b.json"),
                shard: Shard { index: 1, count: 2 },
                key: &b,
            },
        ];
        let e = check_set(&parts, false).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("b.json is not a shard of the same plan as a.json"),
            "{text}"
        );
        assert!(text.contains("workload hello vs payload"), "{text}");
        assert!(text.contains("rate 20000 vs 10000"), "{text}");
        assert!(!text.contains("target"), "{text}");
    }

    #[test]
    fn each_shard_once_and_all_of_them() {
        let k = key("100", "hello", 3);
        let part = |file, index| Part {
            file: Path::new(file),
            shard: Shard { index, count: 3 },
            key: &k,
        };
        let e = check_set(&[part("a", 0), part("b", 0)], true).unwrap_err();
        assert!(matches!(e, MergeError::Duplicate { .. }), "{e}");
        let e = check_set(&[part("a", 0), part("c", 2)], false).unwrap_err();
        assert!(e.to_string().contains("1/3 is missing"), "{e}");
        assert_eq!(check_set(&[part("a", 0), part("c", 2)], true).unwrap(), [1]);
        assert!(
            check_set(&[part("a", 0), part("b", 1), part("c", 2)], false)
                .unwrap()
                .is_empty()
        );
    }
}
