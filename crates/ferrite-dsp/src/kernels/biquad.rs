//! Biquad coefficients and the scalar transposed-direct-form-II step shared
//! by [`super::BiquadBank`] and [`super::BiquadCascade`].
//!
//! # The filter
//! Transposed direct form II, coefficients normalised by `a0`:
//!
//! ```text
//! y  = b0·x + z1
//! z1 = b1·x − a1·y + z2      evaluated as (b1·x + z2) − a1·y
//! z2 = b2·x − a2·y
//! ```
//!
//! On FMA levels each `p·q + r` above is one fused operation:
//! `y = fma(b0, x, z1)`, `z1 = fma(−a1, y, fma(b1, x, z2))`,
//! `z2 = fma(−a2, y, b2·x)`; elsewhere each product and sum is rounded.
//! The vector paths do exactly this per lane.

use super::{scalar_madd, scalar_nmadd};

/// Normalised biquad coefficients (`a0 = 1`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BiquadCoeffs {
    /// Feed-forward coefficient of `x[n]`.
    pub b0: f64,
    /// Feed-forward coefficient of `x[n−1]`.
    pub b1: f64,
    /// Feed-forward coefficient of `x[n−2]`.
    pub b2: f64,
    /// Feedback coefficient of `y[n−1]` (sign as in `y = … − a1·y[n−1]`).
    pub a1: f64,
    /// Feedback coefficient of `y[n−2]`.
    pub a2: f64,
}

impl BiquadCoeffs {
    /// The identity filter (`y = x`).
    pub const IDENTITY: Self = Self { b0: 1.0, b1: 0.0, b2: 0.0, a1: 0.0, a2: 0.0 };

    /// Divides raw coefficients by `a0`. Returns the identity if `a0` is zero
    /// or any result is not finite.
    ///
    /// ```
    /// use ferrite_dsp::kernels::BiquadCoeffs;
    /// let c = BiquadCoeffs::normalized(2.0, 0.0, 0.0, 2.0, -1.0, 0.0);
    /// assert_eq!((c.b0, c.a1), (1.0, -0.5));
    /// ```
    pub fn normalized(b0: f64, b1: f64, b2: f64, a0: f64, a1: f64, a2: f64) -> Self {
        let c = Self { b0: b0 / a0, b1: b1 / a0, b2: b2 / a0, a1: a1 / a0, a2: a2 / a0 };
        if [c.b0, c.b1, c.b2, c.a1, c.a2].iter().all(|v| v.is_finite()) {
            c
        } else {
            Self::IDENTITY
        }
    }
}

impl Default for BiquadCoeffs {
    fn default() -> Self {
        Self::IDENTITY
    }
}

/// One TDF-II step on scalar state, fused or not (see the module docs).
///
/// # Realtime
/// No allocation, lock or panic.
#[inline(always)]
pub(crate) fn tdf2_step<const FUSED: bool>(c: &BiquadCoeffs, z: &mut [f64; 2], x: f64) -> f64 {
    let y = scalar_madd::<FUSED>(c.b0, x, z[0]);
    z[0] = scalar_nmadd::<FUSED>(c.a1, y, scalar_madd::<FUSED>(c.b1, x, z[1]));
    z[1] = scalar_nmadd::<FUSED>(c.a2, y, c.b2 * x);
    y
}

#[cfg(test)]
pub(crate) mod test_reference {
    //! Test-only references written straight from the difference equation,
    //! independently of the kernels.
    use super::BiquadCoeffs;

    /// RBJ cookbook peaking EQ (a typical EQ band), normalised.
    pub fn peaking(fs: f64, f0: f64, q: f64, db: f64) -> BiquadCoeffs {
        let a = 10f64.powf(db / 40.0);
        let w = 2.0 * std::f64::consts::PI * f0 / fs;
        let alpha = w.sin() / (2.0 * q);
        BiquadCoeffs::normalized(
            1.0 + alpha * a,
            -2.0 * w.cos(),
            1.0 - alpha * a,
            1.0 + alpha / a,
            -2.0 * w.cos(),
            1.0 - alpha / a,
        )
    }

    /// Filters `x` in place with TDF-II; `fused` uses `mul_add` for every
    /// product-sum, as the FMA levels do. State `z` carries over.
    pub fn filter(c: &BiquadCoeffs, z: &mut [f64; 2], x: &mut [f64], fused: bool) {
        for v in x.iter_mut() {
            let xin = *v;
            let y;
            if fused {
                y = c.b0.mul_add(xin, z[0]);
                z[0] = (-c.a1).mul_add(y, c.b1.mul_add(xin, z[1]));
                z[1] = (-c.a2).mul_add(y, c.b2 * xin);
            } else {
                y = c.b0 * xin + z[0];
                z[0] = c.b1 * xin + z[1] - c.a1 * y;
                z[1] = c.b2 * xin - c.a2 * y;
            }
            *v = y;
        }
    }

    /// The same filter as a direct-form-I recursion on the past inputs and
    /// outputs (mathematically equal, rounded differently).
    pub fn filter_df1(c: &BiquadCoeffs, x: &[f64]) -> Vec<f64> {
        let mut y = vec![0.0; x.len()];
        for n in 0..x.len() {
            let xm = |k: usize| if n >= k { x[n - k] } else { 0.0 };
            let ym = |y: &[f64], k: usize| if n >= k { y[n - k] } else { 0.0 };
            y[n] = c.b0 * x[n] + c.b1 * xm(1) + c.b2 * xm(2) - c.a1 * ym(&y, 1) - c.a2 * ym(&y, 2);
        }
        y
    }

    /// Random stable coefficients: a peaking band at a random frequency.
    pub fn random_band(rng: &mut crate::kernels::testutil::Rng) -> BiquadCoeffs {
        let f0 = 40.0 * 500f64.powf(0.5 + 0.5 * rng.signed());
        let q = 0.3 + 4.0 * (0.5 + 0.5 * rng.signed());
        let db = 18.0 * rng.signed();
        peaking(48000.0, f0, q, db)
    }
}

#[cfg(test)]
mod tests {
    use super::test_reference::*;
    use super::*;

    #[test]
    fn tdf2_step_equals_direct_form_one() {
        let c = peaking(48000.0, 1000.0, 0.7, 6.0);
        let x: Vec<f64> = (0..300).map(|i| ((i * 37) % 101) as f64 / 50.0 - 1.0).collect();
        let want = filter_df1(&c, &x);
        for fused in [false, true] {
            let mut z = [0.0; 2];
            let got: Vec<f64> = if fused {
                x.iter().map(|&v| tdf2_step::<true>(&c, &mut z, v)).collect()
            } else {
                x.iter().map(|&v| tdf2_step::<false>(&c, &mut z, v)).collect()
            };
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-12, "{g} vs {w}");
            }
        }
        // The DC gain of a peaking band is 1: a long constant input passes.
        let mut z = [0.0; 2];
        let y = (0..20000).map(|_| tdf2_step::<false>(&c, &mut z, 1.0)).last();
        assert!((y.unwrap_or(0.0) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn normalized_rejects_a_zero_a0() {
        assert_eq!(BiquadCoeffs::normalized(1.0, 2.0, 3.0, 0.0, 1.0, 1.0), BiquadCoeffs::IDENTITY);
    }
}
