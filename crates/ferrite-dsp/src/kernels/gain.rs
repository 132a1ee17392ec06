//! Gain kernels: constant, per-frame (varying) and linear ramp.
//!
//! All three are bit-exact at every level (one multiply per element; the ramp
//! gain is `from + i·step` computed the same way everywhere, never accumulated).

use super::dispatch::simd_level;
use super::{dispatch_level, for_each_simd_level, SimdLevel};

/// `x[i] *= g`.
///
/// # Realtime
/// No allocation, lock or panic.
pub fn gain(x: &mut [f64], g: f64) {
    gain_at(simd_level(), x, g)
}

/// [`gain`] at a chosen level (lowered to one this CPU runs).
///
/// # Realtime
/// No allocation, lock or panic.
pub fn gain_at(level: SimdLevel, x: &mut [f64], g: f64) {
    dispatch_level!(level, scalar::gain(x, g), gain(x, g))
}

/// `x[i] *= g[i]` over the common length of `x` and `g`.
///
/// # Realtime
/// No allocation, lock or panic.
pub fn gain_varying(x: &mut [f64], g: &[f64]) {
    gain_varying_at(simd_level(), x, g)
}

/// [`gain_varying`] at a chosen level.
///
/// # Realtime
/// No allocation, lock or panic.
pub fn gain_varying_at(level: SimdLevel, x: &mut [f64], g: &[f64]) {
    let n = x.len().min(g.len());
    let (x, g) = (&mut x[..n], &g[..n]);
    dispatch_level!(level, scalar::gain_varying(x, g), gain_varying(x, g))
}

/// Linear ramp: `x[i] *= from + i·step` (`i` counted from 0 in this slice).
/// The gain after the slice is `from + x.len()·step`.
///
/// # Realtime
/// No allocation, lock or panic.
pub fn gain_ramp(x: &mut [f64], from: f64, step: f64) {
    gain_ramp_at(simd_level(), x, from, step)
}

/// [`gain_ramp`] at a chosen level.
///
/// # Realtime
/// No allocation, lock or panic.
pub fn gain_ramp_at(level: SimdLevel, x: &mut [f64], from: f64, step: f64) {
    dispatch_level!(level, scalar::gain_ramp(x, 0, from, step), gain_ramp(x, from, step))
}

mod scalar {
    pub fn gain(x: &mut [f64], g: f64) {
        for v in x {
            *v *= g;
        }
    }

    pub fn gain_varying(x: &mut [f64], g: &[f64]) {
        for (v, g) in x.iter_mut().zip(g) {
            *v *= g;
        }
    }

    /// `first` is the index of `x[0]` in the whole ramp.
    pub fn gain_ramp(x: &mut [f64], first: usize, from: f64, step: f64) {
        // A running f64 index: integer-valued f64 sums are exact below 2^53,
        // so this is `(first + i) as f64` without a conversion per element.
        let mut idx = first as f64;
        for v in x.iter_mut() {
            *v *= from + idx * step;
            idx += 1.0;
        }
    }
}

macro_rules! simd_gain {
    ($lv:ident, $feat:literal) => {
        mod $lv {
            use crate::kernels::vocab::$lv::*;

            /// Safety: the CPU supports the level's features.
            #[target_feature(enable = $feat)]
            pub unsafe fn gain(x: &mut [f64], g: f64) {
                let gv = splat(g);
                let mut chunks = x.chunks_exact_mut(W);
                for c in &mut chunks {
                    // SAFETY: `c` holds exactly `W` elements.
                    unsafe { store(c.as_mut_ptr(), mul(load(c.as_ptr()), gv)) };
                }
                super::scalar::gain(chunks.into_remainder(), g);
            }

            /// Safety: the CPU supports the level's features.
            #[target_feature(enable = $feat)]
            pub unsafe fn gain_varying(x: &mut [f64], g: &[f64]) {
                let mut xc = x.chunks_exact_mut(W);
                let mut gc = g.chunks_exact(W);
                for (c, gg) in (&mut xc).zip(&mut gc) {
                    // SAFETY: `c` and `gg` hold exactly `W` elements each.
                    unsafe { store(c.as_mut_ptr(), mul(load(c.as_ptr()), load(gg.as_ptr()))) };
                }
                super::scalar::gain_varying(xc.into_remainder(), gc.remainder());
            }

            /// Safety: the CPU supports the level's features.
            #[target_feature(enable = $feat)]
            pub unsafe fn gain_ramp(x: &mut [f64], from: f64, step: f64) {
                let mut iota = [0.0; W];
                for (i, v) in iota.iter_mut().enumerate() {
                    *v = i as f64;
                }
                // `idx` holds `base + i` as f64; integer-valued f64 sums below
                // 2^53 are exact, so it equals `(base + i) as f64` in the scalar path.
                let mut idx = from_array(iota);
                let wv = splat(W as f64);
                let (fv, sv) = (splat(from), splat(step));
                let mut chunks = x.chunks_exact_mut(W);
                let mut base = 0usize;
                for c in &mut chunks {
                    let g = add(fv, mul(idx, sv));
                    // SAFETY: `c` holds exactly `W` elements.
                    unsafe { store(c.as_mut_ptr(), mul(load(c.as_ptr()), g)) };
                    idx = add(idx, wv);
                    base += W;
                }
                super::scalar::gain_ramp(chunks.into_remainder(), base, from, step);
            }
        }
    };
}
for_each_simd_level!(simd_gain);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testutil::*;

    #[test]
    fn gain_kernels_match_the_formula_bit_for_bit_at_every_level() {
        let mut rng = Rng::new(1);
        for_each_test_level(|level| {
            for &n in LENGTHS {
                let x = rng.vec(n);
                let gv = rng.vec(n + 3); // longer gain: only the common length counts
                let g = rng.signed() * 4.0;
                let (from, step) = (rng.signed(), rng.signed() * 1e-2);

                let mut a = x.clone();
                gain_at(level, &mut a, g);
                let want: Vec<f64> = x.iter().map(|v| v * g).collect();
                assert_bits_eq(&a, &want, &format!("gain {level} n={n}"));

                let mut a = x.clone();
                gain_varying_at(level, &mut a, &gv);
                let want: Vec<f64> = x.iter().zip(&gv).map(|(v, g)| v * g).collect();
                assert_bits_eq(&a, &want, &format!("gain_varying {level} n={n}"));

                let mut a = x.clone();
                gain_ramp_at(level, &mut a, from, step);
                let want: Vec<f64> = x.iter().enumerate().map(|(i, v)| v * (from + i as f64 * step)).collect();
                assert_bits_eq(&a, &want, &format!("gain_ramp {level} n={n}"));
            }
        });
    }

    #[test]
    fn gain_varying_with_a_short_gain_leaves_the_tail() {
        for_each_test_level(|level| {
            let mut x = vec![1.0; 11];
            gain_varying_at(level, &mut x, &[2.0; 5]);
            assert_eq!(x, [2.0, 2.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]);
        });
    }

    #[test]
    fn default_entries_use_the_global_level() {
        let mut x = vec![1.0, -2.0, 3.0];
        gain(&mut x, 0.5);
        gain_varying(&mut x, &[2.0, 2.0, 2.0]);
        gain_ramp(&mut x, 1.0, 1.0);
        assert_eq!(x, [1.0, -4.0, 9.0]);
    }
}
