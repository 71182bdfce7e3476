//! The Mann–Whitney U test (Wilcoxon rank-sum), two-sided: do two small
//! samples come from the same distribution, or does one tend to lie above
//! the other? `compare` uses it on per-repeat figures.
//!
//! Exact p-values (the distribution of U counted by recurrence) when there
//! are no ties and both samples are small; otherwise the normal
//! approximation with tie and continuity corrections. With three values a
//! side the smallest attainable two-sided p is 2 / C(6, 3) = 0.10, reached
//! only when every value of one sample lies beyond every value of the
//! other: such a test has little power, and the reports say so.

/// Largest sample size for which the exact distribution is counted.
const EXACT_MAX: usize = 30;

/// The result of one test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UTest {
    /// U of the first sample: pairs (a, b) with a > b, ties counting half.
    pub u: f64,
    /// Two-sided p-value.
    pub p: f64,
    /// Whether `p` is exact (no ties, small samples) or approximate.
    pub exact: bool,
}

/// Tests `a` against `b`; `None` when either is empty or holds a NaN.
pub fn u_test(a: &[f64], b: &[f64]) -> Option<UTest> {
    let (m, n) = (a.len(), b.len());
    if m == 0 || n == 0 || a.iter().chain(b).any(|v| v.is_nan()) {
        return None;
    }
    let mut all: Vec<(f64, bool)> = a
        .iter()
        .map(|&v| (v, true))
        .chain(b.iter().map(|&v| (v, false)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    // Average ranks over runs of equal values; tie sizes for the variance.
    let mut rank_sum_a = 0.0;
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i + 1;
        while j < all.len() && all[j].0 == all[i].0 {
            j += 1;
        }
        let rank = (i + 1 + j) as f64 / 2.0;
        rank_sum_a += rank * all[i..j].iter().filter(|x| x.1).count() as f64;
        let t = (j - i) as f64;
        tie_term += t * t * t - t;
        i = j;
    }
    let (mf, nf) = (m as f64, n as f64);
    let u = rank_sum_a - mf * (mf + 1.0) / 2.0;
    if tie_term == 0.0 && m <= EXACT_MAX && n <= EXACT_MAX {
        return Some(UTest {
            u,
            p: exact_p(m, n, u.round() as usize),
            exact: true,
        });
    }
    let total = mf + nf;
    let mean = mf * nf / 2.0;
    let var = mf * nf / 12.0 * ((total + 1.0) - tie_term / (total * (total - 1.0)));
    let p = if var <= 0.0 {
        1.0
    } else {
        let z = ((u - mean).abs() - 0.5).max(0.0) / var.sqrt();
        (erfc(z / std::f64::consts::SQRT_2)).min(1.0)
    };
    Some(UTest { u, p, exact: false })
}

/// The smallest two-sided p-value samples of these sizes can give (no ties).
pub fn min_p(m: usize, n: usize) -> f64 {
    if m == 0 || n == 0 {
        return 1.0;
    }
    (2.0 / binomial(m + n, m)).min(1.0)
}

fn binomial(n: usize, k: usize) -> f64 {
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

/// Exact two-sided p of U = `u` for sizes m, n without ties.
fn exact_p(m: usize, n: usize, u: usize) -> f64 {
    let counts = u_counts(m, n);
    let total: f64 = counts.iter().sum();
    let below: f64 = counts[..=u].iter().sum();
    let above: f64 = counts[u..].iter().sum();
    (2.0 * below.min(above) / total).min(1.0)
}

/// How many of the C(m+n, m) orderings give each U from 0 to m·n:
/// f(i, j, u) = f(i-1, j, u-j) + f(i, j-1, u) (the largest value belongs
/// to the first sample, beating all j of the second, or to the second).
fn u_counts(m: usize, n: usize) -> Vec<f64> {
    // table[j] holds f(i, j, ·) for the current i.
    let mut table: Vec<Vec<f64>> = (0..=n).map(|_| vec![1.0]).collect();
    for i in 1..=m {
        let mut next: Vec<Vec<f64>> = Vec::with_capacity(n + 1);
        next.push(vec![1.0]);
        for j in 1..=n {
            let mut row = vec![0.0; i * j + 1];
            for (u, slot) in row.iter_mut().enumerate() {
                let from_a = if u >= j {
                    table[j].get(u - j).copied().unwrap_or(0.0)
                } else {
                    0.0
                };
                let from_b = next[j - 1].get(u).copied().unwrap_or(0.0);
                *slot = from_a + from_b;
            }
            next.push(row);
        }
        table = next;
    }
    table.swap_remove(n)
}

/// The complementary error function (Numerical Recipes' erfcc, relative
/// error below 1.2e-7 everywhere).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn complete_separation_of_three_is_p_one_tenth() {
        let t = u_test(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]).unwrap();
        assert_eq!(t.u, 0.0);
        assert!(t.exact);
        assert!(close(t.p, 0.1, 1e-12), "{t:?}");
        assert!(close(min_p(3, 3), 0.1, 1e-12));
        // Symmetric: the other way round gives U = m·n and the same p.
        let r = u_test(&[4.0, 5.0, 6.0], &[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(r.u, 9.0);
        assert!(close(r.p, 0.1, 1e-12));
    }

    #[test]
    fn exact_values_match_the_tables() {
        // m = n = 5, complete separation: 2 / C(10, 5) = 2 / 252.
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [6.0, 7.0, 8.0, 9.0, 10.0];
        assert!(close(u_test(&a, &b).unwrap().p, 2.0 / 252.0, 1e-12));
        // One swap (U = 1): P(U <= 1) = 2 / 252, two-sided 4 / 252.
        let a = [1.0, 2.0, 3.0, 4.0, 6.0];
        let b = [5.0, 7.0, 8.0, 9.0, 10.0];
        let t = u_test(&a, &b).unwrap();
        assert_eq!(t.u, 1.0);
        assert!(close(t.p, 4.0 / 252.0, 1e-12), "{t:?}");
        // The counts of every U add up to C(m+n, m).
        let c = u_counts(4, 6);
        assert_eq!(c.len(), 25);
        assert!(close(c.iter().sum::<f64>(), 210.0, 1e-9));
        assert!(c.iter().zip(c.iter().rev()).all(|(x, y)| x == y));
    }

    #[test]
    fn identical_samples_are_not_different() {
        let a = [10.0, 12.0, 11.0];
        let t = u_test(&a, &a).unwrap();
        assert!(t.p >= 0.99, "{t:?}");
        let flat = [5.0; 4];
        assert_eq!(u_test(&flat, &flat).unwrap().p, 1.0);
        assert!(u_test(&[], &a).is_none());
        assert!(u_test(&[f64::NAN], &a).is_none());
    }

    #[test]
    fn normal_approximation_agrees_with_the_exact_count() {
        // Large untied samples: exact; the same with one tie: normal.
        let a: Vec<f64> = (0..20).map(|i| f64::from(i) * 2.0).collect();
        let b: Vec<f64> = (0..20).map(|i| f64::from(i) * 2.0 + 9.0).collect();
        let exact = u_test(&a, &b).unwrap();
        assert!(exact.exact);
        let mut tied = b.clone();
        tied[0] = a[5];
        let approx = u_test(&a, &tied).unwrap();
        assert!(!approx.exact);
        assert!(close(exact.p, approx.p, 0.01), "{exact:?} {approx:?}");
        assert!(close(erfc(0.0), 1.0, 1e-7) && close(erfc(1.0), 0.157_299_2, 1e-6));
    }
}
