//! Block math: natural log and exp of f64 slices as f64 arithmetic (no
//! table), plain or with fused multiply-adds, for the compressor's detector
//! and gains.
//!
//! Each variant gives the same bits in a scalar call and in a vector loop
//! (`f64::mul_add` always rounds once, and Rust never fuses a multiply and an
//! add on its own), so the `#[target_feature]` builds of the slice loops
//! perform exactly the scalar operations per element: the AVX-512 build has
//! the bits of the AVX2 + FMA build, and both are within 1 ulp of the plain
//! build. [`ln_block`] and [`exp_block_in_place`] choose the build from a
//! [`SimdLevel`] ([`runnable_fused`]).

use super::dispatch::runnable_fused;
use super::{scalar_madd, SimdLevel};

/// `20 / ln 10`: dB per neper of amplitude (`20·log10(v) = DB_PER_NEPER · ln v`).
pub(crate) const DB_PER_NEPER: f64 = 20.0 / core::f64::consts::LN_10;
/// `ln 10 / 20` (`10^(d/20) = exp(d · NEPER_PER_DB)`).
pub(crate) const NEPER_PER_DB: f64 = core::f64::consts::LN_10 / 20.0;

/// Bits of `sqrt(1/2)`: mantissas are reduced to `[sqrt(1/2), sqrt(2))`.
const SQRT_HALF_BITS: u64 = 0x3fe6_a09e_667f_3bcd;
/// Bits of `1.0`.
const ONE_BITS: u64 = 0x3ff0_0000_0000_0000;
/// The 52 mantissa bits.
const MANTISSA: u64 = 0x000f_ffff_ffff_ffff;
/// `2^52`; `from_bits(bits(2^52) | k) - 2^52 = k` for an integer `k < 2^52`.
const TWO_52: f64 = 4_503_599_627_370_496.0;
/// `1.5·2^52`: adding and subtracting it rounds to the nearest integer.
const ROUND_MAGIC: f64 = 6_755_399_441_055_744.0;
/// `ln 2` split so that `n·LN2_HI` is exact for `|n| < 2^21`: the high part
/// keeps 32 significant bits, `LN2_LO = ln 2 - LN2_HI` to double precision.
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;

/// Natural log of a positive, normal `x`: measured within 2 ulp of `f64::ln`
/// (worst relative error 1.72·ε over the inputs of `ln_fast_matches_std_ln`);
/// `ln(0) = -inf`, `ln(inf) = inf`. Subnormal, negative or NaN inputs give an
/// unspecified value (the compressor only uses logs of peaks above its knee
/// start, at least 10^(-150/20)).
///
/// `x = 2^e·m` with `m` in `[sqrt(1/2), sqrt(2))`; `ln m = 2·atanh(s)`,
/// `s = (m - 1)/(m + 1)`, `|s| <= 0.1716`:
/// `ln m = 2s + 2s·z·q(z)`, `z = s² <= 0.02944`, where the series
/// `q = 1/3 + z/5 + z²/7 + …` is replaced by a degree-6 polynomial: the
/// series to `z¹⁵/33`, Chebyshev-economized on `[0, 0.02944]` (exact
/// rational arithmetic, then each coefficient rounded to the nearest
/// double). Its error in `ln m` is below 5e-18 relative (the plain series to
/// `z⁸/19` left 2.5e-17).
///
/// With `FMA` the multiply-adds are fused: the same reduction and
/// polynomial in the same order, within 1 ulp of the plain build.
#[inline(always)]
pub(crate) fn ln_with<const FMA: bool>(x: f64) -> f64 {
    let u = x.to_bits().wrapping_add(ONE_BITS - SQRT_HALF_BITS);
    // The biased exponent of the shifted bits, as a double, exactly.
    let e = f64::from_bits(TWO_52.to_bits() | (u >> 52)) - (TWO_52 + 1023.0);
    let m = f64::from_bits((u & MANTISSA).wrapping_add(SQRT_HALF_BITS));
    let f = m - 1.0; // exact (Sterbenz)
    let s = f / (2.0 + f);
    let z = s * s;
    // `q` by Estrin's scheme: independent pairs `c + c'·z`, combined with
    // `z²` and `z⁴`; 5 operations deep after `z` (Horner: 12).
    let z2 = z * z;
    let z4 = z2 * z2;
    let a0 = scalar_madd::<FMA>(z, 0.199_999_999_999_494_75, 0.333_333_333_333_333_5);
    let a1 = scalar_madd::<FMA>(z, 0.111_111_055_509_395_14, 0.142_857_143_130_995_57);
    let a2 = scalar_madd::<FMA>(z, 0.076_658_272_644_322_47, 0.090_914_456_571_345);
    let q =
        scalar_madd::<FMA>(z4, scalar_madd::<FMA>(z2, 0.073_086_100_508_517_56, a2), scalar_madd::<FMA>(z2, a1, a0));
    let t = s + s;
    // `e·LN2_HI` is exact (`LN2_HI` has 21 trailing zero bits), fused or not.
    let r = scalar_madd::<FMA>(e, LN2_HI, t + scalar_madd::<FMA>(t, z * q, e * LN2_LO));
    if x == 0.0 {
        f64::NEG_INFINITY
    } else if x == f64::INFINITY {
        f64::INFINITY
    } else {
        r
    }
}

/// The plain build of [`ln_with`] (the reference the tests hold both to).
#[cfg(test)]
fn ln_fast(x: f64) -> f64 {
    ln_with::<false>(x)
}

/// `exp(y)` for `y` in `[-708, 709]`: measured within 1 ulp of `f64::exp`
/// (worst relative error 1.0·ε over the inputs of `exp_fast_matches_std_exp`); 0 below
/// -708 (where `exp` is below 3.3e-308), `inf` above 709 (short of the true
/// overflow at 709.78), NaN for NaN. The compressor's exponents are at most
/// `60 dB·ln10/20 ≈ 6.9` (makeup minus a reduction >= 0).
///
/// `y = n·ln 2 + r`, `n` the nearest integer to `y/ln 2`, `|r| <= 0.3466`;
/// `exp r = 1 + r + r²·q(r)` with `q` of degree 9: the Taylor series of
/// `exp` to `r¹⁹/19!`, Chebyshev-economized to degree 11 on
/// `[-0.3466, 0.3466]` (exact rational arithmetic; the two lowest
/// coefficients round to exactly 1, the others to the nearest double). Its
/// error is below 1.6e-17 relative (with the coefficients rounded). Times
/// `2^n` built from bits.
#[inline(always)]
pub(crate) fn exp_fast(y: f64) -> f64 {
    exp_with::<false>(y)
}

/// [`exp_fast`] with its multiply-adds fused (`FMA`) or not: the same
/// reduction (the same `n` for every `y`) and polynomial, in the same order.
#[inline(always)]
pub(crate) fn exp_with<const FMA: bool>(y: f64) -> f64 {
    let yc = y.clamp(-708.0, 709.0);
    // Not fused, so that both builds pick the same `n`.
    let t = yc * core::f64::consts::LOG2_E + ROUND_MAGIC;
    // `n` is an integer in [-1021, 1023]; `n·LN2_HI` is exact, fused or not.
    let n = t - ROUND_MAGIC;
    let r = scalar_madd::<FMA>(-n, LN2_LO, yc - n * LN2_HI);
    // `q` by Estrin's scheme: independent pairs `c + c'·r`, combined with
    // `r²` and `r⁴`; with the small terms summed first and 1 added last,
    // 10 operations deep after `r` (Horner: 22).
    let r2 = r * r;
    let r4 = r2 * r2;
    let a0 = scalar_madd::<FMA>(r, 0.166_666_666_666_667_02, 0.500_000_000_000_001_9);
    let a1 = scalar_madd::<FMA>(r, 0.008_333_333_333_309_51, 0.041_666_666_666_487_974);
    let a2 = scalar_madd::<FMA>(r, 0.000_198_412_699_092_509_33, 0.001_388_888_895_234_707);
    let a3 = scalar_madd::<FMA>(r, 2.755_722_492_735_157_3e-6, 2.480_148_544_815_057e-5);
    let a4 = scalar_madd::<FMA>(r, 2.511_487_979_611_200_5e-8, 2.763_265_216_957_954_5e-7);
    let q = scalar_madd::<FMA>(
        r4,
        scalar_madd::<FMA>(r4, a4, scalar_madd::<FMA>(r2, a3, a2)),
        scalar_madd::<FMA>(r2, a1, a0),
    );
    let p = 1.0 + scalar_madd::<FMA>(r2, q, r);
    // The low bits of `t` hold `n` (two's complement): 2^n = (n + 1023) << 52.
    let scale = f64::from_bits(t.to_bits().wrapping_sub(ROUND_MAGIC.to_bits()).wrapping_add(1023) << 52);
    let v = p * scale;
    if y < -708.0 {
        0.0
    } else if y > 709.0 {
        f64::INFINITY
    } else {
        v
    }
}

/// `out[i] = ln(inp[i])` over the common length ([`ln_with`]).
#[inline(always)]
fn ln_slices<const FMA: bool>(inp: &[f64], out: &mut [f64]) {
    for (o, &x) in out.iter_mut().zip(inp) {
        *o = ln_with::<FMA>(x);
    }
}

/// `v[i] = exp(v[i])` ([`exp_with`]).
#[inline(always)]
fn exp_slice<const FMA: bool>(v: &mut [f64]) {
    for x in v.iter_mut() {
        *x = exp_with::<FMA>(*x);
    }
}

/// [`ln_slices`] compiled for AVX2 with FMA (4 lanes).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn ln_slices_avx2(inp: &[f64], out: &mut [f64]) {
    ln_slices::<true>(inp, out);
}

/// [`exp_slice`] compiled for AVX2 with FMA (4 lanes).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn exp_slice_avx2(v: &mut [f64]) {
    exp_slice::<true>(v);
}

/// [`ln_slices`] compiled for AVX-512 with FMA (8 lanes): the same
/// operations per element as [`ln_slices_avx2`], so the same bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn ln_slices_avx512(inp: &[f64], out: &mut [f64]) {
    ln_slices::<true>(inp, out);
}

/// [`exp_slice`] compiled for AVX-512 with FMA (8 lanes).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn exp_slice_avx512(v: &mut [f64]) {
    exp_slice::<true>(v);
}

/// `out = ln(inp)` elementwise: the plain [`ln_with`], or at a fused level
/// ([`runnable_fused`] of `level`: AVX2 + FMA, or AVX-512F with both) its
/// fused build (within 1 ulp of it, see the
/// `fused_block_math_is_within_one_ulp_of_plain` test), 4 or 8 lanes wide.
///
/// # Realtime
/// Does not allocate, lock or panic.
pub(crate) fn ln_block(level: SimdLevel, inp: &[f64], out: &mut [f64]) {
    match runnable_fused(level) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `runnable_fused` returned AVX-512, so the CPU supports AVX-512F, AVX2 and FMA.
        SimdLevel::Avx512 => unsafe { ln_slices_avx512(inp, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `runnable_fused` returned AVX2, so the CPU supports AVX2 and FMA.
        SimdLevel::Avx2 => unsafe { ln_slices_avx2(inp, out) },
        _ => ln_slices::<false>(inp, out),
    }
}

/// `v = exp(v)` elementwise: [`exp_fast`], or at a fused level its fused
/// build (as [`ln_block`]).
///
/// # Realtime
/// Does not allocate, lock or panic.
pub(crate) fn exp_block_in_place(level: SimdLevel, v: &mut [f64]) {
    match runnable_fused(level) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `runnable_fused` returned AVX-512, so the CPU supports AVX-512F, AVX2 and FMA.
        SimdLevel::Avx512 => unsafe { exp_slice_avx512(v) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `runnable_fused` returned AVX2, so the CPU supports AVX2 and FMA.
        SimdLevel::Avx2 => unsafe { exp_slice_avx2(v) },
        _ => exp_slice::<false>(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::dispatch::autovec_level;

    fn noise(seed: u64, n: usize) -> Vec<f64> {
        crate::kernels::testutil::xorshift(seed.max(1), n)
    }

    /// The levels of the block math this machine runs (and `FERRITE_SIMD` allows).
    fn levels() -> Vec<SimdLevel> {
        let widest = autovec_level().width();
        [SimdLevel::Scalar, SimdLevel::Avx2, SimdLevel::Avx512].into_iter().filter(|l| l.width() <= widest).collect()
    }

    /// Values spread over `[lo, hi]` on a log scale with scrambled mantissas.
    fn log_spread(lo: f64, hi: f64, n: usize) -> Vec<f64> {
        let r = noise(77, n);
        let (a, b) = (lo.ln(), hi.ln());
        (0..n).map(|i| (a + (b - a) * ((i as f64 + 0.5 * (r[i] + 1.0)) / n as f64)).exp()).collect()
    }

    #[test]
    fn ln_fast_matches_std_ln() {
        let mut xs = log_spread(1e-300, 1e300, 200_000);
        xs.extend(log_spread(0.5, 2.0, 100_000));
        xs.extend((1..2_000).map(|k| 1.0 + k as f64 * f64::EPSILON));
        xs.extend((1..2_000).map(|k| 1.0 - k as f64 * f64::EPSILON / 2.0));
        xs.extend([f64::MIN_POSITIVE, f64::MAX, 1.0, 2.0, 0.5, 10.0, core::f64::consts::SQRT_2, 1e-6, 1e-8]);
        let (mut worst, mut worst_ulp) = (0.0f64, 0u64);
        for &x in &xs {
            let (got, want) = (ln_fast(x), x.ln());
            let err = (got - want).abs() / want.abs().max(f64::MIN_POSITIVE);
            worst = worst.max(err);
            worst_ulp = worst_ulp.max(ulps(got, want));
            assert!(err <= 4.0 * f64::EPSILON, "ln({x:e}) = {got:e}, std {want:e}, rel {err:e}");
        }
        assert_eq!(ln_fast(1.0), 0.0);
        assert_eq!(ln_fast(0.0), f64::NEG_INFINITY);
        assert_eq!(ln_fast(f64::INFINITY), f64::INFINITY);
        assert!(worst < 4.0 * f64::EPSILON, "{worst:e}");
        println!("ln_fast: worst relative error {:.3} eps, {worst_ulp} ulp from f64::ln", worst / f64::EPSILON);
    }

    /// Distance in units in the last place between two finite doubles of the same sign.
    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    #[test]
    fn exp_fast_matches_std_exp() {
        let r = noise(78, 300_000);
        let mut ys: Vec<f64> = r.iter().map(|v| 708.0 * v).collect();
        ys.extend(r.iter().take(100_000).map(|v| 10.0 * v));
        ys.extend(r.iter().take(10_000).map(|v| 1e-12 * v));
        ys.extend([0.0, -0.0, 1.0, -1.0, 708.0, -708.0, 709.0, core::f64::consts::LN_2]);
        let (mut worst, mut worst_ulp) = (0.0f64, 0u64);
        for &y in &ys {
            let (got, want) = (exp_fast(y), y.exp());
            let err = (got - want).abs() / want;
            worst = worst.max(err);
            worst_ulp = worst_ulp.max(ulps(got, want));
            assert!(err <= 4.0 * f64::EPSILON, "exp({y:e}) = {got:e}, std {want:e}, rel {err:e}");
        }
        assert_eq!(exp_fast(0.0), 1.0);
        // The split of ln 2: the high part has 21 trailing zero bits, the sum is ln 2.
        assert_eq!(LN2_HI.to_bits() & 0x1f_ffff, 0);
        assert_eq!(LN2_HI + LN2_LO, core::f64::consts::LN_2);
        assert_eq!(exp_fast(-1000.0), 0.0);
        assert_eq!(exp_fast(-708.5), 0.0);
        assert_eq!(exp_fast(709.5), f64::INFINITY);
        assert!(exp_fast(f64::NAN).is_nan());
        println!("exp_fast: worst relative error {:.3} eps, {worst_ulp} ulp from f64::exp", worst / f64::EPSILON);
    }

    #[test]
    fn block_math_is_the_same_at_every_length() {
        // The plain build is `ln_fast`/`exp_fast` bit for bit; the AVX2 + FMA
        // and the AVX-512 builds are the fused variant bit for bit
        // (`f64::mul_add` rounds once with or without the instruction), at
        // every length (vector body and tail).
        let x = log_spread(1e-12, 1e6, 1_001);
        let y: Vec<f64> = noise(79, 1_001).iter().map(|v| 60.0 * v).collect();
        for level in levels() {
            let fused = runnable_fused(level) != SimdLevel::Scalar;
            let ln_ref: Vec<u64> =
                x.iter().map(|&v| if fused { ln_with::<true>(v) } else { ln_fast(v) }.to_bits()).collect();
            let exp_ref: Vec<u64> =
                y.iter().map(|&v| if fused { exp_with::<true>(v) } else { exp_fast(v) }.to_bits()).collect();
            for len in [1usize, 3, 4, 5, 37, 128, 1_001] {
                let mut out = vec![0.0; len];
                ln_block(level, &x[..len], &mut out);
                assert!(out.iter().map(|v| v.to_bits()).eq(ln_ref[..len].iter().copied()), "ln {level:?} len {len}");
                let mut v = y[..len].to_vec();
                exp_block_in_place(level, &mut v);
                assert!(v.iter().map(|v| v.to_bits()).eq(exp_ref[..len].iter().copied()), "exp {level:?} len {len}");
            }
        }
    }

    #[test]
    fn fused_block_math_is_within_one_ulp_of_plain() {
        // And both within the documented distance of std (checked on the
        // fused variant here as `ln_fast_matches_std_ln` does on the plain one).
        let mut xs = log_spread(1e-300, 1e300, 100_000);
        xs.extend(log_spread(0.5, 2.0, 100_000));
        xs.extend((1..2_000).map(|k| 1.0 + k as f64 * f64::EPSILON));
        let (mut ln_apart, mut ln_std) = (0u64, 0.0f64);
        for &x in &xs {
            let (fused, plain) = (ln_with::<true>(x), ln_fast(x));
            ln_apart = ln_apart.max(ulps(fused, plain));
            ln_std = ln_std.max((fused - x.ln()).abs() / x.ln().abs().max(f64::MIN_POSITIVE));
        }
        let r = noise(80, 200_000);
        let (mut exp_apart, mut exp_std) = (0u64, 0.0f64);
        for y in r.iter().map(|v| 708.0 * v).chain(r.iter().map(|v| 10.0 * v)) {
            let (fused, plain) = (exp_with::<true>(y), exp_fast(y));
            exp_apart = exp_apart.max(ulps(fused, plain));
            exp_std = exp_std.max((fused - y.exp()).abs() / y.exp());
        }
        println!(
            "fused ln: {ln_apart} ulp from plain, {:.3} eps from std; fused exp: {exp_apart} ulp, {:.3} eps",
            ln_std / f64::EPSILON,
            exp_std / f64::EPSILON
        );
        assert!(ln_apart <= 1 && exp_apart <= 1, "ln {ln_apart} ulp, exp {exp_apart} ulp");
        assert!(ln_std <= 4.0 * f64::EPSILON && exp_std <= 4.0 * f64::EPSILON, "{ln_std:e} {exp_std:e}");
        // The fused variant is not the plain one under another name.
        assert!(xs.iter().any(|&x| ln_with::<true>(x) != ln_fast(x)));
    }
}
