//! Mixing kernels: accumulate with gain, and constant stereo pan.
//!
//! Bit-exact at every level: `dst + g·src` is a rounded product then a rounded
//! sum everywhere (no FMA, so that mixing never depends on the CPU).

use super::dispatch::simd_level;
use super::{dispatch_level, for_each_simd_level, SimdLevel};

/// `dst[i] += g · src[i]` over the common length.
///
/// # Realtime
/// No allocation, lock or panic.
pub fn mix_into(dst: &mut [f64], src: &[f64], g: f64) {
    mix_into_at(simd_level(), dst, src, g)
}

/// [`mix_into`] at a chosen level.
///
/// # Realtime
/// No allocation, lock or panic.
pub fn mix_into_at(level: SimdLevel, dst: &mut [f64], src: &[f64], g: f64) {
    let n = dst.len().min(src.len());
    let (dst, src) = (&mut dst[..n], &src[..n]);
    dispatch_level!(level, scalar::mix_into(dst, src, g), mix_into(dst, src, g))
}

/// `dst[i] = (((dst[i] + g₀·a[i]) + g₁·b[i]) + g₂·c[i]) + g₃·d[i]`: four
/// accumulations in one pass over `dst`, the same bits as four [`mix_into`]
/// calls in that order (a gain of 1 is a plain sum: `1·x` is exactly `x`).
/// Over the common length.
///
/// # Realtime
/// No allocation, lock or panic.
pub fn mix4_into(dst: &mut [f64], src: [&[f64]; 4], g: [f64; 4]) {
    mix4_into_at(simd_level(), dst, src, g)
}

/// [`mix4_into`] at a chosen level.
///
/// # Realtime
/// No allocation, lock or panic.
pub fn mix4_into_at(level: SimdLevel, dst: &mut [f64], src: [&[f64]; 4], g: [f64; 4]) {
    let n = src.iter().fold(dst.len(), |n, s| n.min(s.len()));
    let dst = &mut dst[..n];
    let [a, b, c, d] = src.map(|s| &s[..n]);
    dispatch_level!(level, scalar::mix4_into(dst, a, b, c, d, g), mix4_into(dst, a, b, c, d, g))
}

/// Constant pan of a stereo pair: `l[i] *= gl`, `r[i] *= gr` (each over its
/// own length). The pan law (for example equal power, `gl = cos θ`,
/// `gr = sin θ`) is the caller's choice.
///
/// # Realtime
/// No allocation, lock or panic.
pub fn pan_stereo(l: &mut [f64], r: &mut [f64], gl: f64, gr: f64) {
    pan_stereo_at(simd_level(), l, r, gl, gr)
}

/// [`pan_stereo`] at a chosen level.
///
/// # Realtime
/// No allocation, lock or panic.
pub fn pan_stereo_at(level: SimdLevel, l: &mut [f64], r: &mut [f64], gl: f64, gr: f64) {
    super::gain::gain_at(level, l, gl);
    super::gain::gain_at(level, r, gr);
}

mod scalar {
    pub fn mix_into(dst: &mut [f64], src: &[f64], g: f64) {
        for (d, s) in dst.iter_mut().zip(src) {
            *d += g * s;
        }
    }

    pub fn mix4_into(dst: &mut [f64], a: &[f64], b: &[f64], c: &[f64], d: &[f64], g: [f64; 4]) {
        let [g0, g1, g2, g3] = g;
        for ((((y, a), b), c), d) in dst.iter_mut().zip(a).zip(b).zip(c).zip(d) {
            *y = (((*y + g0 * a) + g1 * b) + g2 * c) + g3 * d;
        }
    }
}

macro_rules! simd_mix {
    ($lv:ident, $feat:literal) => {
        mod $lv {
            use crate::kernels::vocab::$lv::*;

            /// Safety: the CPU supports the level's features.
            #[target_feature(enable = $feat)]
            pub unsafe fn mix_into(dst: &mut [f64], src: &[f64], g: f64) {
                let gv = splat(g);
                let mut dc = dst.chunks_exact_mut(W);
                let mut sc = src.chunks_exact(W);
                for (d, s) in (&mut dc).zip(&mut sc) {
                    // SAFETY: `d` and `s` hold exactly `W` elements each.
                    unsafe { store(d.as_mut_ptr(), add(load(d.as_ptr()), mul(gv, load(s.as_ptr())))) };
                }
                super::scalar::mix_into(dc.into_remainder(), sc.remainder(), g);
            }

            /// Safety: the CPU supports the level's features; all five slices
            /// have the same length.
            #[target_feature(enable = $feat)]
            pub unsafe fn mix4_into(dst: &mut [f64], a: &[f64], b: &[f64], c: &[f64], d: &[f64], g: [f64; 4]) {
                let n = dst.len() / W * W;
                if a.len() < n || b.len() < n || c.len() < n || d.len() < n {
                    return;
                }
                let (g0, g1, g2, g3) = (splat(g[0]), splat(g[1]), splat(g[2]), splat(g[3]));
                let mut i = 0;
                while i < n {
                    // SAFETY: `i + W <= n` and every slice holds at least `n` elements.
                    unsafe {
                        let y = dst.as_mut_ptr().add(i);
                        let v = add(load(y), mul(g0, load(a.as_ptr().add(i))));
                        let v = add(v, mul(g1, load(b.as_ptr().add(i))));
                        let v = add(v, mul(g2, load(c.as_ptr().add(i))));
                        store(y, add(v, mul(g3, load(d.as_ptr().add(i)))));
                    }
                    i += W;
                }
                if let (Some(rest), Some(a), Some(b), Some(c), Some(d)) =
                    (dst.get_mut(n..), a.get(n..), b.get(n..), c.get(n..), d.get(n..))
                {
                    super::scalar::mix4_into(rest, a, b, c, d, g);
                }
            }
        }
    };
}
for_each_simd_level!(simd_mix);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testutil::*;

    #[test]
    fn mix_and_pan_match_the_formula_bit_for_bit_at_every_level() {
        let mut rng = Rng::new(2);
        for_each_test_level(|level| {
            for &n in LENGTHS {
                let (d0, s) = (rng.vec(n), rng.vec(n + 1));
                let g = rng.signed() * 2.0;
                let mut d = d0.clone();
                mix_into_at(level, &mut d, &s, g);
                let want: Vec<f64> = d0.iter().zip(&s).map(|(d, s)| d + g * s).collect();
                assert_bits_eq(&d, &want, &format!("mix_into {level} n={n}"));

                let (l0, r0) = (rng.vec(n), rng.vec(n + 2));
                let (gl, gr) = (0.3f64.cos(), 0.3f64.sin());
                let (mut l, mut r) = (l0.clone(), r0.clone());
                pan_stereo_at(level, &mut l, &mut r, gl, gr);
                let wl: Vec<f64> = l0.iter().map(|v| v * gl).collect();
                let wr: Vec<f64> = r0.iter().map(|v| v * gr).collect();
                assert_bits_eq(&l, &wl, &format!("pan l {level} n={n}"));
                assert_bits_eq(&r, &wr, &format!("pan r {level} n={n}"));
            }
        });
    }

    #[test]
    fn mix4_equals_four_mixes_bit_for_bit_at_every_level() {
        let mut rng = Rng::new(3);
        for_each_test_level(|level| {
            for &n in LENGTHS {
                let d0 = rng.vec(n);
                let s: Vec<Vec<f64>> = (0..4).map(|k| rng.vec(n + k)).collect();
                let g = [rng.signed(), 1.0, rng.signed() * 3.0, 0.25];
                let mut got = d0.clone();
                mix4_into_at(level, &mut got, [&s[0], &s[1], &s[2], &s[3]], g);
                // The formula, left to right, in f64.
                let want: Vec<f64> = (0..n)
                    .map(|i| (((d0[i] + g[0] * s[0][i]) + g[1] * s[1][i]) + g[2] * s[2][i]) + g[3] * s[3][i])
                    .collect();
                assert_bits_eq(&got, &want, &format!("mix4 {level} n={n}"));
            }
            // A short source limits the pass; the rest of `dst` is left alone.
            let mut d = vec![1.0; 7];
            mix4_into_at(level, &mut d, [&[1.0; 7], &[1.0; 5], &[1.0; 7], &[1.0; 7]], [1.0, 2.0, 1.0, 1.0]);
            assert_eq!(d, [6.0, 6.0, 6.0, 6.0, 6.0, 1.0, 1.0]);
        });
    }

    #[test]
    fn mix_with_a_short_source_leaves_the_tail() {
        for_each_test_level(|level| {
            let mut d = vec![1.0; 9];
            mix_into_at(level, &mut d, &[1.0; 4], 2.0);
            assert_eq!(d, [3.0, 3.0, 3.0, 3.0, 1.0, 1.0, 1.0, 1.0, 1.0]);
        });
        let mut d = vec![1.0, 2.0];
        let (mut l, mut r) = (vec![1.0], vec![1.0]);
        mix_into(&mut d, &[1.0, 1.0], 0.5);
        pan_stereo(&mut l, &mut r, 0.5, 0.25);
        assert_eq!((d, l, r), (vec![1.5, 2.5], vec![0.5], vec![0.25]));
    }
}
