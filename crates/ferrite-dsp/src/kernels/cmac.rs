//! Complex multiply-accumulate for partitioned convolution:
//! `acc[k] += x[k] · h[k]` over spectra.
//!
//! # Layout
//! Interleaved `[re, im]` pairs of f64, exactly the memory layout of
//! `realfft`'s `Complex<f64>` (`num_complex::Complex` is `#[repr(C)]
//! { re, im }`), so a convolver can pass its spectra viewed as `&[f64]` of
//! twice the length. Only whole pairs over the common length are used.
//!
//! # Exactness
//! Per bin: `re += xr·hr − xi·hi`, `im += xi·hr + xr·hi`, each product-sum in
//! parentheses evaluated first. On AVX2 / AVX-512 that product-sum is one
//! FMA (`fma(xr, hr, −xi·hi)`, `fma(xi, hr, xr·hi)`); on Scalar / SSE4.2 it is
//! rounded twice. The accumulation itself is a plain add everywhere.

use super::dispatch::simd_level;
use super::{dispatch_level, for_each_simd_level, SimdLevel};

/// `acc += x · h` bin by bin over interleaved complex spectra (see the module docs).
///
/// # Realtime
/// No allocation, lock or panic.
///
/// ```
/// use ferrite_dsp::kernels::cmac;
/// let mut acc = [1.0, 0.0];
/// cmac(&mut acc, &[0.0, 1.0], &[0.0, 1.0]); // 1 + i·i = 0
/// assert_eq!(acc, [0.0, 0.0]);
/// ```
pub fn cmac(acc: &mut [f64], x: &[f64], h: &[f64]) {
    cmac_at(simd_level(), acc, x, h)
}

/// [`cmac`] at a chosen level.
///
/// # Realtime
/// No allocation, lock or panic.
pub fn cmac_at(level: SimdLevel, acc: &mut [f64], x: &[f64], h: &[f64]) {
    let n = acc.len().min(x.len()).min(h.len()) & !1;
    let (acc, x, h) = (&mut acc[..n], &x[..n], &h[..n]);
    dispatch_level!(level, scalar::cmac(acc, x, h), cmac(acc, x, h))
}

mod scalar {
    pub fn cmac(acc: &mut [f64], x: &[f64], h: &[f64]) {
        for ((a, x), h) in acc.chunks_exact_mut(2).zip(x.chunks_exact(2)).zip(h.chunks_exact(2)) {
            if let ([ar, ai], [xr, xi], [hr, hi]) = (a, x, h) {
                *ar += xr * hr - xi * hi;
                *ai += xi * hr + xr * hi;
            }
        }
    }
}

macro_rules! simd_cmac {
    ($lv:ident, $feat:literal) => {
        mod $lv {
            use crate::kernels::vocab::$lv::*;

            /// Safety: the CPU supports the level's features; lengths are equal and even.
            #[target_feature(enable = $feat)]
            pub unsafe fn cmac(acc: &mut [f64], x: &[f64], h: &[f64]) {
                let mut ac = acc.chunks_exact_mut(W);
                let mut xc = x.chunks_exact(W);
                let mut hc = h.chunks_exact(W);
                for ((a, x), h) in (&mut ac).zip(&mut xc).zip(&mut hc) {
                    // SAFETY: each chunk holds exactly `W` elements.
                    unsafe {
                        let p = cmul(load(x.as_ptr()), load(h.as_ptr()));
                        store(a.as_mut_ptr(), add(load(a.as_ptr()), p));
                    }
                }
                cmac_tail(ac.into_remainder(), xc.remainder(), hc.remainder());
            }

            /// The last pairs, in the level's rounding (fused on FMA levels).
            #[inline]
            #[target_feature(enable = $feat)]
            fn cmac_tail(acc: &mut [f64], x: &[f64], h: &[f64]) {
                for ((a, x), h) in acc.chunks_exact_mut(2).zip(x.chunks_exact(2)).zip(h.chunks_exact(2)) {
                    if let ([ar, ai], [xr, xi], [hr, hi]) = (a, x, h) {
                        if FUSED {
                            *ar += xr.mul_add(*hr, -(xi * hi));
                            *ai += xi.mul_add(*hr, xr * hi);
                        } else {
                            *ar += xr * hr - xi * hi;
                            *ai += xi * hr + xr * hi;
                        }
                    }
                }
            }
        }
    };
}
for_each_simd_level!(simd_cmac);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testutil::*;

    #[test]
    fn cmac_matches_the_complex_product_at_every_level() {
        let mut rng = Rng::new(7);
        for_each_test_level(|level| {
            for &bins in LENGTHS {
                let (acc0, x, h) = (rng.vec(2 * bins), rng.vec(2 * bins + 1), rng.vec(2 * bins + 2));
                let mut acc = acc0.clone();
                cmac_at(level, &mut acc, &x, &h);
                let mut want = acc0.clone();
                for k in 0..bins {
                    let (xr, xi, hr, hi) = (x[2 * k], x[2 * k + 1], h[2 * k], h[2 * k + 1]);
                    if fused(level) {
                        want[2 * k] += xr.mul_add(hr, -(xi * hi));
                        want[2 * k + 1] += xi.mul_add(hr, xr * hi);
                    } else {
                        want[2 * k] += xr * hr - xi * hi;
                        want[2 * k + 1] += xi * hr + xr * hi;
                    }
                }
                assert_bits_eq(&acc, &want, &format!("cmac {level} bins={bins}"));
            }
        });
    }

    #[test]
    fn cmac_of_unit_phasors_adds_angles() {
        for_each_test_level(|level| {
            let n = 13;
            let ph = |a: f64| [a.cos(), a.sin()];
            let x: Vec<f64> = (0..n).flat_map(|k| ph(0.1 * k as f64)).collect();
            let h: Vec<f64> = (0..n).flat_map(|k| ph(0.2 * k as f64)).collect();
            let mut acc = vec![0.0; 2 * n + 1]; // odd tail element untouched
            acc[2 * n] = 9.0;
            cmac_at(level, &mut acc, &x, &h);
            for k in 0..n {
                let w = ph(0.3 * k as f64);
                assert!((acc[2 * k] - w[0]).abs() < 1e-15 && (acc[2 * k + 1] - w[1]).abs() < 1e-15);
            }
            assert_eq!(acc[2 * n], 9.0);
        });
    }
}
