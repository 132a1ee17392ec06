//! Scans for meters: peak of absolute values and sum of squares (for RMS).
//!
//! `peak_abs` is bit-exact at every level (max is order-independent).
//! `sum_squares` keeps `W` (or `2W`) partial sums and adds them at the end, so
//! its rounding differs from the sequential scalar sum by about `n·ε`
//! relative; it uses FMA on AVX2 / AVX-512.

use super::dispatch::simd_level;
use super::{dispatch_level, for_each_simd_level, SimdLevel};

/// The largest `|x[i]|`, 0 for an empty slice. If `x` holds a NaN the result
/// is unspecified (NaN or the peak of the other values).
///
/// # Realtime
/// No allocation, lock or panic.
pub fn peak_abs(x: &[f64]) -> f64 {
    peak_abs_at(simd_level(), x)
}

/// [`peak_abs`] at a chosen level.
///
/// # Realtime
/// No allocation, lock or panic.
pub fn peak_abs_at(level: SimdLevel, x: &[f64]) -> f64 {
    dispatch_level!(level, scalar::peak_abs(x), peak_abs(x))
}

/// `Σ x[i]²`, 0 for an empty slice. RMS is `sqrt(sum_squares(x) / n)`.
///
/// # Realtime
/// No allocation, lock or panic.
pub fn sum_squares(x: &[f64]) -> f64 {
    sum_squares_at(simd_level(), x)
}

/// [`sum_squares`] at a chosen level.
///
/// # Realtime
/// No allocation, lock or panic.
pub fn sum_squares_at(level: SimdLevel, x: &[f64]) -> f64 {
    dispatch_level!(level, scalar::sum_squares(x), sum_squares(x))
}

mod scalar {
    pub fn peak_abs(x: &[f64]) -> f64 {
        x.iter().fold(0.0, |m, v| m.max(v.abs()))
    }

    pub fn sum_squares(x: &[f64]) -> f64 {
        x.iter().fold(0.0, |s, v| s + v * v)
    }
}

macro_rules! simd_scan {
    ($lv:ident, $feat:literal) => {
        mod $lv {
            use crate::kernels::vocab::$lv::*;

            /// Safety: the CPU supports the level's features.
            #[target_feature(enable = $feat)]
            pub unsafe fn peak_abs(x: &[f64]) -> f64 {
                let mut m = splat(0.0);
                let mut chunks = x.chunks_exact(W);
                for c in &mut chunks {
                    // SAFETY: `c` holds exactly `W` elements.
                    m = max(m, abs(unsafe { load(c.as_ptr()) }));
                }
                let tail = super::scalar::peak_abs(chunks.remainder());
                to_array(m).into_iter().fold(tail, f64::max)
            }

            /// Safety: the CPU supports the level's features.
            #[target_feature(enable = $feat)]
            pub unsafe fn sum_squares(x: &[f64]) -> f64 {
                // Two accumulators hide the add latency.
                let (mut s0, mut s1) = (splat(0.0), splat(0.0));
                let mut pairs = x.chunks_exact(2 * W);
                for c in &mut pairs {
                    // SAFETY: `c` holds exactly `2W` elements.
                    let (a, b) = unsafe { (load(c.as_ptr()), load(c.as_ptr().add(W))) };
                    s0 = madd(a, a, s0);
                    s1 = madd(b, b, s1);
                }
                let mut rest = pairs.remainder().chunks_exact(W);
                for c in &mut rest {
                    // SAFETY: `c` holds exactly `W` elements.
                    let a = unsafe { load(c.as_ptr()) };
                    s0 = madd(a, a, s0);
                }
                let tail = super::scalar::sum_squares(rest.remainder());
                to_array(add(s0, s1)).into_iter().sum::<f64>() + tail
            }
        }
    };
}
for_each_simd_level!(simd_scan);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testutil::*;

    #[test]
    fn scans_match_the_formula_at_every_level() {
        let mut rng = Rng::new(3);
        for_each_test_level(|level| {
            for &n in LENGTHS {
                let mut x = rng.vec(n);
                if n > 4 {
                    x[n - 1] = -3.5; // the peak in the remainder, negative
                }
                let peak = x.iter().map(|v| v.abs()).fold(0.0, f64::max);
                assert_eq!(peak_abs_at(level, &x).to_bits(), peak.to_bits(), "{level} n={n}");
                let ss: f64 = x.iter().map(|v| v * v).sum();
                let got = sum_squares_at(level, &x);
                assert!((got - ss).abs() <= 1e-12 * ss, "{level} n={n}: {got} vs {ss}");
            }
        });
    }

    #[test]
    fn peak_in_the_vector_body_and_analytic_rms() {
        for_each_test_level(|level| {
            let mut x = vec![0.25; 64];
            x[5] = -0.75;
            assert_eq!(peak_abs_at(level, &x), 0.75);
            // A full-scale square wave has RMS 1.
            let sq: Vec<f64> = (0..1000).map(|i| if i % 2 == 0 { 1.0 } else { -1.0 }).collect();
            assert_eq!((sum_squares_at(level, &sq) / 1000.0).sqrt(), 1.0);
            assert_eq!(peak_abs_at(level, &[]), 0.0);
            assert_eq!(sum_squares_at(level, &[]), 0.0);
        });
        assert_eq!(peak_abs(&[1.0, -2.0]), 2.0);
        assert_eq!(sum_squares(&[1.0, -2.0]), 5.0);
    }
}
