//! `compressor`: a feed-forward, channel-linked compressor with a soft knee.
//!
//! Parameters (in [`ProcessContext::params`] order, all automatable):
//!
//! | # | name          | unit | default | range        |
//! |---|---------------|------|---------|--------------|
//! | 0 | `thresholdDb` | dBFS | -24     | -120 ..= 24  |
//! | 1 | `ratio`       | :1   | 4       | 1 ..= 1000   |
//! | 2 | `attackMs`    | ms   | 10      | 0 ..= 10000  |
//! | 3 | `releaseMs`   | ms   | 100     | 0 ..= 60000  |
//! | 4 | `kneeDb`      | dB   | 6       | 0 ..= 60     |
//! | 5 | `makeupDb`    | dB   | 0       | -60 ..= 60   |
//!
//! # Algorithm (per frame, no latency)
//!
//! 1. Detection, linked: `x = 20·log10(max over channels |s_c|)` (dBFS).
//! 2. Static curve, threshold `T`, ratio `R`, knee width `W` (all in dB):
//!    - `2(x - T) < -W`: `y = x` (below the knee, no compression);
//!    - `2(x - T) > W`: `y = T + (x - T) / R`;
//!    - otherwise (inside the knee): `y = x + (1/R - 1)·(x - T + W/2)² / (2W)`.
//!
//!    With `W = 0` the knee vanishes: `y = x` for `x <= T`, else `T + (x - T)/R`.
//!    See [`static_curve`].
//! 3. Gain reduction `gr = x - y >= 0` (dB), smoothed by a one-pole in dB:
//!    `g[n] = gr + a·(g[n-1] - gr)`, with `a = exp(-1 / (τ·fs))`, `τ` =
//!    `attackMs/1000` while `gr > g[n-1]` (reduction growing) and
//!    `releaseMs/1000` otherwise (`a = 0` for a time of 0). After a step, the
//!    smoothed reduction covers `1 - 1/e` of the step after `τ`.
//! 4. Every channel is multiplied by `10^((makeupDb - g[n]) / 20)`.
//!
//! Output is independent of the block size: everything runs per frame.
//!
//! # Implementation
//! A block runs in passes: linked peaks; the natural log of the peaks
//! (skipped when, with constant parameters, no peak is above the knee start);
//! the targets `x - y` (their own pass when the parameters are constant); the
//! one-pole recursion (arithmetic only); `exp` of the gain exponents; the gains
//! applied. A block with constant parameters, no reduction left and every peak
//! at or below the knee start only applies the makeup gain.
//!
//! `ln` and `exp` are this module's own (`ln_fast`, `exp_fast`: within 2
//! and 1 ulp of `f64::ln`/`f64::exp`, worst relative errors measured over
//! wide ranges 1.72·ε and 1.0·ε), with no table. The plain build is plain
//! f64 arithmetic; the AVX2 build (chosen at run time) fuses their
//! multiply-adds (FMA), which puts them within 1 ulp of the plain build
//! (their share of the reference session's time went from 18% to 15%
//! under `perf`). The AVX-512 build (chosen where the CPU has it) performs
//! the AVX2 build's operations 8 lanes wide, with the same bits: on an AMD
//! EPYC with AVX-512 it took the reference session's block from 59.5 to
//! 50.4 µs (`cargo bench --bench render -- reference_session_64_tracks$`,
//! alternating runs of both builds). Every other pass
//! rounds as the plain build does. Each build gives the same bits at every
//! block size. Their polynomials
//! are evaluated by Estrin's scheme (short dependency chains), and the gain
//! computer multiplies by constants derived from the parameters once per
//! change instead of dividing per frame. Against a frame-by-frame evaluation with `f64::ln`/`f64::exp` the
//! gains agree to about 1e-13 dB (tested to 1e-9 dB).

use crate::processor::{Bus, ParamSpec, PrepareContext, ProcessContext, Processor};

/// Default `thresholdDb`.
pub const DEFAULT_THRESHOLD_DB: f64 = -24.0;
/// Default `ratio`.
pub const DEFAULT_RATIO: f64 = 4.0;
/// Default `attackMs`.
pub const DEFAULT_ATTACK_MS: f64 = 10.0;
/// Default `releaseMs`.
pub const DEFAULT_RELEASE_MS: f64 = 100.0;
/// Default `kneeDb`.
pub const DEFAULT_KNEE_DB: f64 = 6.0;
/// Default `makeupDb`.
pub const DEFAULT_MAKEUP_DB: f64 = 0.0;

/// `20 / ln 10`: dB per neper of amplitude (`20·log10(v) = DB_PER_NEPER · ln v`).
const DB_PER_NEPER: f64 = 20.0 / core::f64::consts::LN_10;
/// `ln 10 / 20` (`10^(d/20) = exp(d · NEPER_PER_DB)`).
const NEPER_PER_DB: f64 = core::f64::consts::LN_10 / 20.0;

/// Parameter table of [`Compressor`].
pub const PARAMS: &[ParamSpec] = &[
    ParamSpec::new("thresholdDb", -120.0, 24.0),
    ParamSpec::new("ratio", 1.0, 1000.0),
    ParamSpec::new("attackMs", 0.0, 10_000.0),
    ParamSpec::new("releaseMs", 0.0, 60_000.0),
    ParamSpec::new("kneeDb", 0.0, 60.0),
    ParamSpec::new("makeupDb", -60.0, 60.0),
];

/// Defaults in [`PARAMS`] order.
pub const DEFAULTS: [f64; 6] =
    [DEFAULT_THRESHOLD_DB, DEFAULT_RATIO, DEFAULT_ATTACK_MS, DEFAULT_RELEASE_MS, DEFAULT_KNEE_DB, DEFAULT_MAKEUP_DB];

/// The static curve: output level in dB for input level `x` dB, threshold
/// `t` dB, ratio `r` (>= 1) and knee width `w` dB (>= 0), as in the module
/// documentation.
///
/// # Realtime
/// Does not allocate, lock or panic.
#[inline]
pub fn static_curve(x: f64, t: f64, r: f64, w: f64) -> f64 {
    let over = x - t;
    if w <= 0.0 {
        if over <= 0.0 {
            x
        } else {
            t + over / r
        }
    } else if 2.0 * over < -w {
        x
    } else if 2.0 * over > w {
        t + over / r
    } else {
        let k = over + w / 2.0;
        x + (1.0 / r - 1.0) * k * k / (2.0 * w)
    }
}

/// One-pole coefficient `exp(-1 / (ms/1000 · fs))`, 0 for a zero time.
fn coefficient(ms: f64, fs: f64) -> f64 {
    let tau = ms / 1000.0 * fs;
    if tau > 0.0 {
        (-1.0 / tau).exp()
    } else {
        0.0
    }
}

/// Clamps `v` into a parameter's range, falling back to `default` when not finite.
fn sane(v: f64, spec: usize, default: f64) -> f64 {
    match PARAMS.get(spec) {
        Some(p) if v.is_finite() => v.clamp(p.min, p.max),
        _ => default,
    }
}

// ---------------------------------------------------------------------------
// Block math: natural log and exp as f64 arithmetic (no table), plain or
// with fused multiply-adds: each variant gives the same bits in a scalar
// call and in a vector loop (`f64::mul_add` always rounds once).
// Rust never fuses a multiply and an add on its own, so the vectorized loops
// perform exactly the scalar operations per element.

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
fn ln_with<const FMA: bool>(x: f64) -> f64 {
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
    let a0 = madd::<FMA>(z, 0.199_999_999_999_494_75, 0.333_333_333_333_333_5);
    let a1 = madd::<FMA>(z, 0.111_111_055_509_395_14, 0.142_857_143_130_995_57);
    let a2 = madd::<FMA>(z, 0.076_658_272_644_322_47, 0.090_914_456_571_345);
    let q = madd::<FMA>(z4, madd::<FMA>(z2, 0.073_086_100_508_517_56, a2), madd::<FMA>(z2, a1, a0));
    let t = s + s;
    // `e·LN2_HI` is exact (`LN2_HI` has 21 trailing zero bits), fused or not.
    let r = madd::<FMA>(e, LN2_HI, t + madd::<FMA>(t, z * q, e * LN2_LO));
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

/// `a·b + c`: one rounding with `FMA` (a fused multiply-add), two without.
#[inline(always)]
fn madd<const FMA: bool>(a: f64, b: f64, c: f64) -> f64 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
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
fn exp_fast(y: f64) -> f64 {
    exp_with::<false>(y)
}

/// [`exp_fast`] with its multiply-adds fused (`FMA`) or not: the same
/// reduction (the same `n` for every `y`) and polynomial, in the same order.
#[inline(always)]
fn exp_with<const FMA: bool>(y: f64) -> f64 {
    let yc = y.clamp(-708.0, 709.0);
    // Not fused, so that both builds pick the same `n`.
    let t = yc * core::f64::consts::LOG2_E + ROUND_MAGIC;
    // `n` is an integer in [-1021, 1023]; `n·LN2_HI` is exact, fused or not.
    let n = t - ROUND_MAGIC;
    let r = madd::<FMA>(-n, LN2_LO, yc - n * LN2_HI);
    // `q` by Estrin's scheme: independent pairs `c + c'·r`, combined with
    // `r²` and `r⁴`; with the small terms summed first and 1 added last,
    // 10 operations deep after `r` (Horner: 22).
    let r2 = r * r;
    let r4 = r2 * r2;
    let a0 = madd::<FMA>(r, 0.166_666_666_666_667_02, 0.500_000_000_000_001_9);
    let a1 = madd::<FMA>(r, 0.008_333_333_333_309_51, 0.041_666_666_666_487_974);
    let a2 = madd::<FMA>(r, 0.000_198_412_699_092_509_33, 0.001_388_888_895_234_707);
    let a3 = madd::<FMA>(r, 2.755_722_492_735_157_3e-6, 2.480_148_544_815_057e-5);
    let a4 = madd::<FMA>(r, 2.511_487_979_611_200_5e-8, 2.763_265_216_957_954_5e-7);
    let q = madd::<FMA>(r4, madd::<FMA>(r4, a4, madd::<FMA>(r2, a3, a2)), madd::<FMA>(r2, a1, a0));
    let p = 1.0 + madd::<FMA>(r2, q, r);
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

/// Whether this CPU runs the AVX2 + FMA build of the block math (the
/// kernels' own probe: their AVX2 level is detected together with FMA).
#[inline]
fn avx2_fma() -> bool {
    use crate::kernels::{dispatch::runnable, SimdLevel};
    runnable(SimdLevel::Avx2) == SimdLevel::Avx2
}

/// Which build of the block math a compressor runs (chosen at `prepare`
/// from the CPU and `FERRITE_SIMD`, see [`Build::detect`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Build {
    /// Plain f64 code: the reference.
    Plain,
    /// AVX2 code generation (4 lanes); `ln` and `exp` with fused
    /// multiply-adds when the CPU has FMA (within 1 ulp of the plain build).
    Avx2,
    /// AVX-512 code generation (8 lanes; 16 recursions per pass of
    /// [`smooth_lanes`]): per element exactly the operations of the AVX2
    /// build with FMA, so the same bits. Only when the CPU has AVX-512F,
    /// AVX2 and FMA.
    Avx512,
}

impl Build {
    /// The widest build this CPU runs and `FERRITE_SIMD` allows.
    fn detect() -> Build {
        #[cfg(target_arch = "x86_64")]
        {
            use crate::kernels::{dispatch::runnable, simd_level, SimdLevel};
            if crate::kernels::avx2_allowed() {
                if avx2_fma() && runnable(simd_level()) == SimdLevel::Avx512 {
                    return Build::Avx512;
                }
                return Build::Avx2;
            }
        }
        Build::Plain
    }

    /// Whether `ln` and `exp` run fused.
    fn fused(self) -> bool {
        match self {
            Build::Plain => false,
            Build::Avx2 => avx2_fma(),
            Build::Avx512 => true,
        }
    }

    /// Whether this CPU runs the AVX-512 code (checked at every call, so
    /// that the `unsafe` calls rest on a check next to them).
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn avx512_ok(self) -> bool {
        self == Build::Avx512 && std::arch::is_x86_feature_detected!("avx512f") && avx2_fma()
    }
}

/// `out = ln(inp)` elementwise: the plain [`ln_with`], or in a vector
/// build on an AVX2 + FMA CPU its fused build (within 1 ulp of it, see the
/// `fused_block_math_*` test), 4 or 8 lanes wide.
///
/// # Realtime
/// Does not allocate, lock or panic.
fn ln_block(build: Build, inp: &[f64], out: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    {
        if build.avx512_ok() {
            // SAFETY: the CPU supports AVX-512F, AVX2 and FMA (checked just above).
            unsafe { ln_slices_avx512(inp, out) };
            return;
        }
        if build != Build::Plain && avx2_fma() {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above).
            unsafe { ln_slices_avx2(inp, out) };
            return;
        }
    }
    let _ = build;
    ln_slices::<false>(inp, out);
}

/// `v = exp(v)` elementwise: [`exp_fast`], or in a vector build on an
/// AVX2 + FMA CPU its fused build.
///
/// # Realtime
/// Does not allocate, lock or panic.
fn exp_block_in_place(build: Build, v: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    {
        if build.avx512_ok() {
            // SAFETY: the CPU supports AVX-512F, AVX2 and FMA (checked just above).
            unsafe { exp_slice_avx512(v) };
            return;
        }
        if build != Build::Plain && avx2_fma() {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above).
            unsafe { exp_slice_avx2(v) };
            return;
        }
    }
    let _ = build;
    exp_slice::<false>(v);
}

/// Linked detection: `peak[i]` = the largest `|x|` over the channels of
/// `io` at frame `off + i`.
#[inline(always)]
fn linked_peaks(io: &Bus<'_>, off: usize, peak: &mut [f64]) {
    let n = peak.len();
    // The first channel initializes (`|v|.max(0.0)` is `0.0.max(|v|)`: a NaN
    // sample counts as 0), the others take the maximum.
    match io.channel(0).get(off..off + n) {
        Some(x) => {
            for (p, v) in peak.iter_mut().zip(x) {
                *p = v.abs().max(0.0);
            }
        }
        None => peak.fill(0.0),
    }
    for c in 1..io.channels() {
        let x = io.channel(c).get(off..off + n).unwrap_or(&[]);
        for (p, v) in peak.iter_mut().zip(x) {
            *p = p.max(v.abs());
        }
    }
}

/// Applies the gains to frames `off..off + gain.len()` of every channel:
/// `flat` (skipped when 1) when every frame has the same gain, else
/// `exp` of the exponents in `gain` (turned into gains in place).
#[inline(always)]
fn apply_gains(build: Build, io: &mut Bus<'_>, off: usize, gain: &mut [f64], flat: Option<f64>) {
    let n = gain.len();
    match flat {
        Some(g) => {
            if g != 1.0 {
                for c in 0..io.channels() {
                    if let Some(x) = io.channel_mut(c).get_mut(off..off + n) {
                        x.iter_mut().for_each(|s| *s *= g);
                    }
                }
            }
        }
        None => {
            exp_block_in_place(build, gain);
            for c in 0..io.channels() {
                if let Some(x) = io.channel_mut(c).get_mut(off..off + n) {
                    for (s, g) in x.iter_mut().zip(gain.iter()) {
                        *s *= g;
                    }
                }
            }
        }
    }
}

/// A feed-forward, linked, soft-knee compressor (see the module documentation).
///
/// ```
/// use ferrite_dsp::compressor::{static_curve, Compressor, DEFAULTS};
/// use ferrite_dsp::{Bus, ParamBuffer, PrepareContext, ProcessContext, Processor};
///
/// let mut comp = Compressor::new();
/// comp.prepare(&PrepareContext { sample_rate: 48_000.0, max_block: 128, channels: 1 });
/// let params: Vec<ParamBuffer> = DEFAULTS.iter().map(|&v| ParamBuffer::new(v, 128)).collect();
/// let mut audio = [0.0f64; 128];
/// for block in 0..400u64 {
///     audio.fill(0.5); // about -6 dBFS, well above the -24 dB threshold
///     let ctx = ProcessContext { frames: 128, position: block * 128, params: &params };
///     comp.process(&ctx, &mut Bus::new(&mut audio, 1, 128, 128));
/// }
/// let x = 20.0 * 0.5f64.log10();
/// let want = static_curve(x, -24.0, 4.0, 6.0) - x; // steady-state gain in dB
/// assert!((20.0 * (audio[127] / 0.5).log10() - want).abs() < 1e-9);
/// ```
#[derive(Debug, Clone)]
pub struct Compressor {
    channels: usize,
    /// The build of the block math: plain, AVX2 or AVX-512 code generation
    /// (`ln` and `exp` fused in both, within 1 ulp of the plain build, see
    /// [`ln_block`]).
    build: Build,
    /// Per-chunk scratch: linked peak per frame.
    peak: Vec<f64>,
    /// Per-chunk scratch: natural log of the peak.
    level: Vec<f64>,
    /// Per-chunk scratch: gain exponent, then linear gain.
    gain: Vec<f64>,
    gc: GainComputer,
}

/// The gain computer's state and its parameter caches.
#[derive(Debug, Clone)]
struct GainComputer {
    sample_rate: f64,
    /// Smoothed gain reduction in dB (>= 0).
    reduction: f64,
    // Caches keyed on the raw parameter values.
    raw_curve: [f64; 3],
    threshold: f64,
    /// `1 / ratio`.
    inv_ratio: f64,
    /// Half the knee width (dB); 0 for no knee.
    half_knee: f64,
    /// `(1/ratio - 1) / (2·knee)`, the knee's quadratic coefficient; 0 for no knee.
    knee_coef: f64,
    knee_start_lin: f64,
    raw_attack: f64,
    attack_coef: f64,
    raw_release: f64,
    release_coef: f64,
    raw_makeup: f64,
    makeup: f64,
    makeup_lin: f64,
    /// The per-frame `exp` runs fused (the AVX2 + FMA build): `makeup_lin`
    /// is computed the same way, so a flat block's gain has the bits of a
    /// per-frame gain at no reduction.
    fused: bool,
}

impl Default for Compressor {
    fn default() -> Self {
        Self::new()
    }
}

impl Compressor {
    /// A compressor; every setting arrives as a parameter (see [`PARAMS`], [`DEFAULTS`]).
    pub fn new() -> Self {
        Self {
            channels: 0,
            build: Build::Plain,
            peak: Vec::new(),
            level: Vec::new(),
            gain: Vec::new(),
            gc: GainComputer {
                sample_rate: 0.0,
                reduction: 0.0,
                raw_curve: [f64::NAN; 3],
                threshold: DEFAULT_THRESHOLD_DB,
                inv_ratio: 1.0 / DEFAULT_RATIO,
                half_knee: DEFAULT_KNEE_DB / 2.0,
                knee_coef: (1.0 / DEFAULT_RATIO - 1.0) / (2.0 * DEFAULT_KNEE_DB),
                knee_start_lin: 0.0,
                raw_attack: f64::NAN,
                attack_coef: 0.0,
                raw_release: f64::NAN,
                release_coef: 0.0,
                raw_makeup: f64::NAN,
                makeup: 0.0,
                makeup_lin: 1.0,
                fused: false,
            },
        }
    }

    /// Chooses the build; the makeup gain is recomputed with the matching
    /// `exp`.
    fn set_build(&mut self, build: Build) {
        self.build = build;
        self.gc.fused = build.fused();
        self.gc.raw_makeup = f64::NAN;
    }

    /// The current smoothed gain reduction in dB (for meters and tests).
    pub fn gain_reduction_db(&self) -> f64 {
        self.gc.reduction
    }

    /// Renders `n <= scratch` frames starting at block offset `off`, in passes:
    /// linked peaks; `ln` of the peaks (whole chunk, vectorized); the gain
    /// computer and the one-pole recursion (arithmetic only); `exp` of the
    /// gains (whole chunk, vectorized); the gain applied to every channel.
    /// Every pass works per frame, so the samples do not depend on how a
    /// render is split into chunks or blocks.
    #[inline(always)]
    fn process_chunk(&mut self, ctx: &ProcessContext<'_>, io: &mut Bus<'_>, off: usize, n: usize) {
        let (Some(peak), Some(level), Some(gain)) =
            (self.peak.get_mut(..n), self.level.get_mut(..n), self.gain.get_mut(..n))
        else {
            return;
        };
        // 1. Linked detection.
        linked_peaks(io, off, peak);
        // Constant parameters are read once per chunk, automated ones per frame.
        let automated = (0..PARAMS.len()).any(|k| ctx.param(k).constant().is_none());
        let makeup_constant = ctx.param(5).constant().is_some();
        let st = &mut self.gc;
        st.update(ctx, off);
        // 2. Natural log of the peaks, only needed where a peak is above the knee start.
        // (An or-fold rather than `any`: it vectorizes, the early exit does not.)
        let knee_start = st.knee_start_lin;
        let need_ln = automated || peak.iter().fold(false, |above, &p| above | (p > knee_start));
        if need_ln {
            ln_block(self.build, peak, level);
        }
        // 3. Gain computer and smoothing; `gain` gets the exponent `(makeup - r)·ln10/20`.
        // With constant parameters, no reduction left and every peak at or below
        // the knee start, every frame's target is 0 and `r` stays exactly 0:
        // nothing to compute.
        let any_reduction = if automated {
            st.frames::<true>(ctx, off, peak, level, gain)
        } else if need_ln || st.reduction != 0.0 {
            st.frames::<false>(ctx, off, peak, level, gain)
        } else {
            false
        };
        // 4.–5. Gains, applied. With no reduction and a constant makeup every
        // frame's gain is `makeup_lin` (= exp_fast of the same exponent).
        let flat = (!any_reduction && makeup_constant).then_some(st.makeup_lin);
        apply_gains(self.build, io, off, gain, flat);
    }
}

impl Compressor {
    /// [`Compressor::process_chunk`] compiled for AVX2 (without FMA, so every
    /// operation outside `ln`/`exp` rounds as in the plain build).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn process_chunk_avx2(&mut self, ctx: &ProcessContext<'_>, io: &mut Bus<'_>, off: usize, n: usize) {
        self.process_chunk(ctx, io, off, n);
    }

    /// [`Compressor::process_chunk`] compiled for AVX-512 (FMA is enabled
    /// for `ln`/`exp`, which fuse explicitly; Rust never fuses on its own, so
    /// every other operation rounds as in the plain build).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx2,fma")]
    fn process_chunk_avx512(&mut self, ctx: &ProcessContext<'_>, io: &mut Bus<'_>, off: usize, n: usize) {
        self.process_chunk(ctx, io, off, n);
    }
}

impl GainComputer {
    /// The target reduction `x - curve(x)` (dB, >= 0) for a linked peak
    /// `pk` whose natural log is `lnp`: 0 at or below the knee start (where
    /// `lnp` is not needed and may hold anything).
    ///
    /// Every case of the curve is computed and one selected (no
    /// data-dependent branches: the constant-parameter pass vectorizes), with
    /// multiplications by the constants `update` derives from the parameters
    /// instead of divisions. The automated (per-frame) and the constant paths
    /// both call this, so they give the same bits. With no knee
    /// (`half_knee = knee_coef = 0`) the inside case is reached only at
    /// `x = T` exactly, where it gives `x + 0·0·0 = x`: the hard knee of
    /// [`static_curve`]. `knee_coef` is finite, so the inside value is never
    /// NaN for a finite `x`, and where it is selected (`|x - T| <= W/2`) it is
    /// within `W/4` of `x`.
    #[inline(always)]
    fn target(&self, pk: f64, lnp: f64) -> f64 {
        let (t, h) = (self.threshold, self.half_knee);
        let x = DB_PER_NEPER * lnp;
        let over = x - t;
        let above = t + over * self.inv_ratio;
        let k = over + h;
        let inside = x + self.knee_coef * k * k;
        // `over < -h` is `2(x - T) < -W` exactly (doubling and halving are exact).
        let y = if over < -h {
            x
        } else if over > h {
            above
        } else {
            inside
        };
        let target = (x - y).max(0.0);
        if pk > self.knee_start_lin {
            target
        } else {
            0.0
        }
    }

    /// One smoothing step from `reduction` toward `target` with the attack
    /// coefficient `att` or the release coefficient `rel`. (The coefficients
    /// are passed in registers: selecting between two fields by a comparison
    /// compiled to a load whose address hangs on the comparison, in the
    /// recursion's critical path.)
    #[inline(always)]
    fn step(reduction: f64, target: f64, att: f64, rel: f64) -> f64 {
        let a = if target > reduction { att } else { rel };
        let r = target + a * (reduction - target);
        if !r.is_finite() || (r < 1e-12 && target == 0.0) {
            0.0
        } else {
            r
        }
    }

    /// The gain computer and the one-pole smoothing over one chunk: reads
    /// the peaks and their logs, writes the gain exponents
    /// `(makeup - r)·ln10/20`; returns whether any frame has a reduction.
    /// `AUTOMATED` reads the parameters per frame; otherwise they are already
    /// current, and the targets are computed in a pass of their own (into
    /// `level`) so that the recursion loop only carries the smoothing.
    #[inline(always)]
    fn frames<const AUTOMATED: bool>(
        &mut self,
        ctx: &ProcessContext<'_>,
        off: usize,
        peak: &[f64],
        level: &mut [f64],
        gain: &mut [f64],
    ) -> bool {
        let mut any_reduction = false;
        let mut reduction = self.reduction;
        if AUTOMATED {
            for (i, ((g, &pk), &lnp)) in gain.iter_mut().zip(peak).zip(level.iter()).enumerate() {
                self.update(ctx, off + i);
                let r = Self::step(reduction, self.target(pk, lnp), self.attack_coef, self.release_coef);
                reduction = r;
                any_reduction |= r != 0.0;
                *g = (self.makeup - r) * NEPER_PER_DB;
            }
        } else {
            for (t, &pk) in level.iter_mut().zip(peak) {
                *t = self.target(pk, *t);
            }
            let (makeup, att, rel) = (self.makeup, self.attack_coef, self.release_coef);
            for (g, &target) in gain.iter_mut().zip(level.iter()) {
                let r = Self::step(reduction, target, att, rel);
                reduction = r;
                any_reduction |= r != 0.0;
                *g = (makeup - r) * NEPER_PER_DB;
            }
        }
        self.reduction = reduction;
        any_reduction
    }

    #[inline]
    fn update(&mut self, ctx: &ProcessContext<'_>, i: usize) {
        let curve = [ctx.param(0).at(i), ctx.param(1).at(i), ctx.param(4).at(i)];
        // `!=` on the raw values (NaN never equals, so a NaN recomputes with defaults).
        if curve != self.raw_curve {
            self.raw_curve = curve;
            let t = sane(curve[0], 0, DEFAULT_THRESHOLD_DB);
            let ratio = sane(curve[1], 1, DEFAULT_RATIO);
            // A subnormal knee is no knee: keeps `knee_coef` finite.
            let w = sane(curve[2], 4, DEFAULT_KNEE_DB);
            let w = if w >= f64::MIN_POSITIVE { w } else { 0.0 };
            self.threshold = t;
            self.inv_ratio = 1.0 / ratio;
            self.half_knee = w / 2.0;
            self.knee_coef = if w > 0.0 { (self.inv_ratio - 1.0) / (2.0 * w) } else { 0.0 };
            // Below this linear peak the curve is the identity: no log needed.
            // (`exp_fast` rather than `powf`: automated curves land here every
            // frame. Within an ulp or two of `10^((T - W/2)/20)`; a peak that
            // close to the knee start has a target of 0 or within 1e-15 dB of it.)
            self.knee_start_lin = exp_fast((t - w / 2.0) * NEPER_PER_DB);
        }
        let attack = ctx.param(2).at(i);
        if attack != self.raw_attack {
            self.raw_attack = attack;
            self.attack_coef = coefficient(sane(attack, 2, DEFAULT_ATTACK_MS), self.sample_rate);
        }
        let release = ctx.param(3).at(i);
        if release != self.raw_release {
            self.raw_release = release;
            self.release_coef = coefficient(sane(release, 3, DEFAULT_RELEASE_MS), self.sample_rate);
        }
        let makeup = ctx.param(5).at(i);
        if makeup != self.raw_makeup {
            self.raw_makeup = makeup;
            self.makeup = sane(makeup, 5, DEFAULT_MAKEUP_DB);
            // The same function as the per-frame gains: bit-identical to them.
            let y = self.makeup * NEPER_PER_DB;
            self.makeup_lin = if self.fused { exp_with::<true>(y) } else { exp_fast(y) };
        }
    }
}

impl Processor for Compressor {
    fn prepare(&mut self, ctx: &PrepareContext) {
        self.channels = ctx.channels;
        self.set_build(Build::detect());
        let n = ctx.max_block.max(1);
        self.peak = vec![0.0; n];
        self.level = vec![0.0; n];
        self.gain = vec![1.0; n];
        let gc = &mut self.gc;
        gc.sample_rate = ctx.sample_rate;
        gc.raw_curve = [f64::NAN; 3];
        gc.raw_attack = f64::NAN;
        gc.raw_release = f64::NAN;
        gc.raw_makeup = f64::NAN;
        self.reset();
    }

    /// # Realtime
    /// Does not allocate, lock or panic (a block longer than the prepared
    /// `max_block` is processed in chunks).
    fn process(&mut self, ctx: &ProcessContext<'_>, io: &mut Bus<'_>) {
        let frames = ctx.frames.min(io.frames());
        let chunk = self.gain.len();
        if chunk == 0 {
            return;
        }
        let mut off = 0;
        while off < frames {
            let n = chunk.min(frames - off);
            #[cfg(target_arch = "x86_64")]
            {
                if self.build.avx512_ok() {
                    // SAFETY: the CPU supports AVX-512F, AVX2 and FMA (checked just above).
                    unsafe { self.process_chunk_avx512(ctx, io, off, n) };
                    off += n;
                    continue;
                }
                if self.build != Build::Plain && std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU supports AVX2 (checked just above).
                    unsafe { self.process_chunk_avx2(ctx, io, off, n) };
                    off += n;
                    continue;
                }
            }
            self.process_chunk(ctx, io, off, n);
            off += n;
        }
    }

    /// # Realtime
    /// Does not allocate, lock or panic.
    fn reset(&mut self) {
        self.gc.reduction = 0.0;
    }

    /// Linked detection (the peak of identical channels is that channel's)
    /// and one gain for every channel, with no state per channel: a mono
    /// block stays mono.
    fn channel_symmetric(&self) -> bool {
        true
    }

    /// Takes the smoothed gain reduction of another `Compressor`.
    ///
    /// # Realtime
    /// Does not allocate or free.
    fn take_state(&mut self, previous: &mut dyn Processor) -> bool {
        match previous.as_any_mut().downcast_mut::<Compressor>() {
            Some(prev) => {
                self.gc.reduction = prev.gc.reduction;
                true
            }
            None => false,
        }
    }

    fn as_any_mut(&mut self) -> &mut dyn core::any::Any {
        self
    }
}

/// One compressor's smoothing state and constants as a lane of a batch
/// (see [`Compressor::batch_begin`] and [`smooth_lanes`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SmoothLane {
    /// Smoothed gain reduction in dB before the block; after
    /// [`smooth_lanes`], after it.
    pub reduction: f64,
    /// Attack coefficient.
    pub attack: f64,
    /// Release coefficient.
    pub release: f64,
    /// Makeup gain in dB.
    pub makeup: f64,
    /// After [`smooth_lanes`]: whether any frame had a reduction.
    pub any: bool,
}

/// Batching (the engine runs parallel compressors together): the one-pole
/// recursion is the only serial part of a compressor, about 10 cycles of
/// latency per frame; run for 8 compressors at once it costs about the same
/// per frame as for one. A batched block is three calls: [`Self::batch_begin`]
/// (detection, logs and targets, per compressor), [`smooth_lanes`] (the
/// recursions of every member, side by side) and [`Self::batch_finish`] (the
/// gains applied, per compressor). Each performs exactly the arithmetic of
/// [`Processor::process`], so a batched compressor gives the same bits.
impl Compressor {
    /// Batch step 1 for a block whose parameters are all constant and that
    /// fits the prepared block: writes the block's targets to the first
    /// `frames` entries of `targets` (the lane's row of the batch) and
    /// returns the lane; `None` otherwise, `targets` untouched (then run
    /// [`Processor::process`] for this block instead).
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub fn batch_begin(&mut self, ctx: &ProcessContext<'_>, io: &Bus<'_>, targets: &mut [f64]) -> Option<SmoothLane> {
        let n = ctx.frames.min(io.frames());
        if n > self.gain.len() || (0..PARAMS.len()).any(|k| ctx.param(k).constant().is_none()) {
            return None;
        }
        let targets = targets.get_mut(..n)?;
        #[cfg(target_arch = "x86_64")]
        {
            if self.build.avx512_ok() {
                // SAFETY: the CPU supports AVX-512F, AVX2 and FMA (checked just above).
                unsafe { self.begin_avx512(ctx, io, targets) };
                return Some(self.lane());
            }
            if self.build != Build::Plain && std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2 (checked just above).
                unsafe { self.begin_avx2(ctx, io, targets) };
                return Some(self.lane());
            }
        }
        self.begin(ctx, io, targets);
        Some(self.lane())
    }

    fn lane(&self) -> SmoothLane {
        let g = &self.gc;
        SmoothLane {
            reduction: g.reduction,
            attack: g.attack_coef,
            release: g.release_coef,
            makeup: g.makeup,
            any: false,
        }
    }

    /// [`Self::begin`] compiled for AVX2 (no FMA outside `ln`).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn begin_avx2(&mut self, ctx: &ProcessContext<'_>, io: &Bus<'_>, level: &mut [f64]) {
        self.begin(ctx, io, level);
    }

    /// [`Self::begin`] compiled for AVX-512 (no fusing outside `ln`).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx2,fma")]
    fn begin_avx512(&mut self, ctx: &ProcessContext<'_>, io: &Bus<'_>, level: &mut [f64]) {
        self.begin(ctx, io, level);
    }

    /// Steps 1–3 of [`Self::process_chunk`] for constant parameters, up to
    /// the targets (written to `level`, one per frame).
    #[inline(always)]
    fn begin(&mut self, ctx: &ProcessContext<'_>, io: &Bus<'_>, level: &mut [f64]) {
        let Some(peak) = self.peak.get_mut(..level.len()) else { return };
        linked_peaks(io, 0, peak);
        let st = &mut self.gc;
        st.update(ctx, 0);
        let knee_start = st.knee_start_lin;
        if peak.iter().fold(false, |above, &p| above | (p > knee_start)) {
            ln_block(self.build, peak, level);
            for (t, &pk) in level.iter_mut().zip(peak.iter()) {
                *t = st.target(pk, *t);
            }
        } else {
            // Every peak at or below the knee start: every target is 0
            // (what `target` selects there).
            level.fill(0.0);
        }
    }

    /// Batch step 3: applies the gains whose exponents `exps` (`frames`
    /// long, the lane's row) [`smooth_lanes`] computed for this compressor's
    /// lane, and takes the lane's final reduction. `exps` is scratch: it
    /// holds the gains afterwards.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub fn batch_finish(&mut self, io: &mut Bus<'_>, exps: &mut [f64], lane: &SmoothLane) {
        self.gc.reduction = lane.reduction;
        let n = exps.len().min(io.frames());
        let Some(gain) = exps.get_mut(..n) else { return };
        // The makeup is constant in a batched block.
        let flat = (!lane.any).then_some(self.gc.makeup_lin);
        apply_gains(self.build, io, 0, gain, flat);
    }
}

/// The one-pole recursions of a batch: lane `m`'s targets are row `m` of
/// `targets` (rows of `stride`, `frames` long); its gain exponents
/// `(makeup - r)·ln10/20` go to row `m` of `exps`; `lanes[m]` carries the
/// state in and out. Per lane, exactly [`Processor::process`]'s arithmetic.
/// AVX-512 runs 16 lanes at a time (two vectors of 8), then AVX2 8 lanes
/// at a time (two vectors, so two recursions overlap), reading and writing
/// four frames of four rows per step (4×4 transposes in registers, instead
/// of a scalar load and store per lane and frame); the rest, lane by lane.
///
/// # Realtime
/// Does not allocate, lock or panic.
pub fn smooth_lanes(lanes: &mut [SmoothLane], targets: &[f64], exps: &mut [f64], stride: usize, frames: usize) {
    smooth_lanes_with(Build::detect(), lanes, targets, exps, stride, frames);
}

/// [`smooth_lanes`] in a chosen build (at most [`Build::detect`]'s).
fn smooth_lanes_with(
    build: Build,
    lanes: &mut [SmoothLane],
    targets: &[f64],
    exps: &mut [f64],
    stride: usize,
    frames: usize,
) {
    let mut m = 0;
    #[cfg(target_arch = "x86_64")]
    if build.avx512_ok() && frames <= stride {
        while m + 16 <= lanes.len() {
            let rows = m * stride..(m + 15) * stride + frames;
            if let (Some(l), Some(t), Some(e)) =
                (lanes.get_mut(m..m + 16), targets.get(rows.clone()), exps.get_mut(rows))
            {
                // SAFETY: the CPU supports AVX-512F and AVX2 (`avx512_ok`); the
                // slices hold 16 rows of `stride >= frames` (the last one `frames` long).
                unsafe { smooth_avx512(l, t, e, stride, frames) };
            }
            m += 16;
        }
    }
    #[cfg(target_arch = "x86_64")]
    if build != Build::Plain && crate::kernels::avx2_allowed() && frames <= stride {
        // 8 lanes (two vectors) per pass: four vectors (16 lanes) spill
        // registers and measured slower.
        while m + 8 <= lanes.len() {
            let rows = m * stride..(m + 7) * stride + frames;
            if let (Some(l), Some(t), Some(e)) =
                (lanes.get_mut(m..m + 8), targets.get(rows.clone()), exps.get_mut(rows))
            {
                // SAFETY: the CPU supports AVX2 (`avx2_allowed`); the slices
                // hold 8 rows of `stride >= frames` (the last one `frames` long).
                unsafe { smooth_avx2::<2>(l, t, e, stride, frames) };
            }
            m += 8;
        }
    }
    let _ = build;
    for (k, lane) in lanes.iter_mut().enumerate().skip(m) {
        let (Some(t), Some(e)) =
            (targets.get(k * stride..k * stride + frames), exps.get_mut(k * stride..k * stride + frames))
        else {
            continue;
        };
        let mut r = lane.reduction;
        for (g, &target) in e.iter_mut().zip(t) {
            r = GainComputer::step(r, target, lane.attack, lane.release);
            lane.any |= r != 0.0;
            *g = (lane.makeup - r) * NEPER_PER_DB;
        }
        lane.reduction = r;
    }
}

/// Rows `a..a+4` × frames `t..t+4` <-> frames × lanes, in registers (its
/// own inverse): the loads and stores of [`smooth_avx2`] and [`smooth_avx512`].
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2")]
fn transpose4(x: [core::arch::x86_64::__m256d; 4]) -> [core::arch::x86_64::__m256d; 4] {
    use core::arch::x86_64::*;
    let t0 = _mm256_unpacklo_pd(x[0], x[1]);
    let t1 = _mm256_unpackhi_pd(x[0], x[1]);
    let t2 = _mm256_unpacklo_pd(x[2], x[3]);
    let t3 = _mm256_unpackhi_pd(x[2], x[3]);
    [
        _mm256_permute2f128_pd::<0x20>(t0, t2),
        _mm256_permute2f128_pd::<0x20>(t1, t3),
        _mm256_permute2f128_pd::<0x31>(t0, t2),
        _mm256_permute2f128_pd::<0x31>(t1, t3),
    ]
}

/// `4·V` lanes of [`smooth_lanes`] with AVX2 (`V` vectors of 4 lanes).
/// Safety: the CPU supports AVX2; `targets` and `exps` hold rows `0..4·V` of
/// `stride` with `frames <= stride`, the last row at least `frames` long
/// (the caller's slicing); `lanes` holds `4·V` lanes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn smooth_avx2<const V: usize>(
    lanes: &mut [SmoothLane],
    targets: &[f64],
    exps: &mut [f64],
    stride: usize,
    frames: usize,
) {
    use core::arch::x86_64::*;
    let w = 4 * V;
    if lanes.len() < w
        || frames > stride
        || targets.len() < (w - 1) * stride + frames
        || exps.len() < (w - 1) * stride + frames
    {
        return;
    }
    let get = |f: fn(&SmoothLane) -> f64| -> [__m256d; V] {
        core::array::from_fn(|j| {
            let v = |k: usize| lanes.get(4 * j + k).map_or(0.0, f);
            _mm256_setr_pd(v(0), v(1), v(2), v(3))
        })
    };
    let mut r = get(|l| l.reduction);
    let att = get(|l| l.attack);
    let rel = get(|l| l.release);
    let mk = get(|l| l.makeup);
    let mut any = [_mm256_setzero_pd(); V];
    let (zero, inf, tiny, npd) =
        (_mm256_setzero_pd(), _mm256_set1_pd(f64::INFINITY), _mm256_set1_pd(1e-12), _mm256_set1_pd(NEPER_PER_DB));
    let abs_mask = _mm256_castsi256_pd(_mm256_set1_epi64x(i64::MAX));
    // GainComputer::step, lane-wise, with the same operations; returns the
    // exponent `(makeup - r)·ln10/20`.
    let mut step = |j: usize, target: __m256d| -> __m256d {
        let a = _mm256_blendv_pd(rel[j], att[j], _mm256_cmp_pd::<_CMP_GT_OQ>(target, r[j]));
        let v = _mm256_add_pd(target, _mm256_mul_pd(a, _mm256_sub_pd(r[j], target)));
        let finite = _mm256_cmp_pd::<_CMP_LT_OQ>(_mm256_and_pd(v, abs_mask), inf);
        let settled = _mm256_and_pd(_mm256_cmp_pd::<_CMP_LT_OQ>(v, tiny), _mm256_cmp_pd::<_CMP_EQ_OQ>(target, zero));
        let v = _mm256_and_pd(v, _mm256_andnot_pd(settled, finite));
        r[j] = v;
        any[j] = _mm256_or_pd(any[j], _mm256_cmp_pd::<_CMP_NEQ_OQ>(v, zero));
        _mm256_mul_pd(_mm256_sub_pd(mk[j], v), npd)
    };
    let tp = targets.as_ptr();
    let ep = exps.as_mut_ptr();
    let body = frames / 4 * 4;
    for t in (0..body).step_by(4) {
        let mut out = [[zero; 4]; V];
        // Frames t..t+4 of lanes 4j..4j+4, as one vector per frame.
        let tv: [[__m256d; 4]; V] = core::array::from_fn(|j| {
            transpose4(core::array::from_fn(|k| {
                // SAFETY: rows 0..w at frames t..t+4 <= frames are inside both slices (checked above).
                unsafe { _mm256_loadu_pd(tp.add((4 * j + k) * stride + t)) }
            }))
        });
        for i in 0..4 {
            for j in 0..V {
                out[j][i] = step(j, tv[j][i]);
            }
        }
        for (j, o) in out.into_iter().enumerate() {
            for (k, row) in transpose4(o).into_iter().enumerate() {
                // SAFETY: as for the loads.
                unsafe { _mm256_storeu_pd(ep.add((4 * j + k) * stride + t), row) };
            }
        }
    }
    for t in body..frames {
        for j in 0..V {
            let row = |k: usize| (4 * j + k) * stride + t;
            // SAFETY: rows 0..w at frame t < frames are inside both slices (checked above).
            let target = unsafe { _mm256_setr_pd(*tp.add(row(0)), *tp.add(row(1)), *tp.add(row(2)), *tp.add(row(3))) };
            let mut o = [0.0; 4];
            // SAFETY: `o` holds 4 f64.
            unsafe { _mm256_storeu_pd(o.as_mut_ptr(), step(j, target)) };
            for (k, v) in o.into_iter().enumerate() {
                // SAFETY: as for the loads.
                unsafe { *ep.add(row(k)) = v };
            }
        }
    }
    for j in 0..V {
        let (mut rr, mut aa) = ([0.0; 4], [0.0; 4]);
        // SAFETY: 4 f64 each.
        unsafe {
            _mm256_storeu_pd(rr.as_mut_ptr(), r[j]);
            _mm256_storeu_pd(aa.as_mut_ptr(), any[j]);
        }
        for k in 0..4 {
            if let Some(l) = lanes.get_mut(4 * j + k) {
                l.reduction = rr[k];
                l.any |= aa[k].to_bits() != 0;
            }
        }
    }
}

/// 16 lanes of [`smooth_lanes`] with AVX-512: two vectors of 8 lanes, each
/// lane exactly [`GainComputer::step`]'s operations (the selections by
/// comparison masks). Frames move four at a time: the 4×4 transposes of
/// [`smooth_avx2`] ([`transpose4`]) for lanes 0–3 and 4–7 of a vector, joined into one
/// 8-lane vector per frame (and split again for the stores).
/// Safety: the CPU supports AVX-512F and AVX2; `targets` and `exps` hold rows
/// `0..16` of `stride` with `frames <= stride`, the last row at least
/// `frames` long (the caller's slicing); `lanes` holds 16 lanes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2")]
unsafe fn smooth_avx512(lanes: &mut [SmoothLane], targets: &[f64], exps: &mut [f64], stride: usize, frames: usize) {
    use core::arch::x86_64::*;
    const V: usize = 2;
    let w = 8 * V;
    if lanes.len() < w
        || frames > stride
        || targets.len() < (w - 1) * stride + frames
        || exps.len() < (w - 1) * stride + frames
    {
        return;
    }
    let get = |f: fn(&SmoothLane) -> f64| -> [__m512d; V] {
        core::array::from_fn(|j| {
            let v: [f64; 8] = core::array::from_fn(|k| lanes.get(8 * j + k).map_or(0.0, f));
            // SAFETY: `v` holds 8 f64.
            unsafe { _mm512_loadu_pd(v.as_ptr()) }
        })
    };
    let mut r = get(|l| l.reduction);
    let att = get(|l| l.attack);
    let rel = get(|l| l.release);
    let mk = get(|l| l.makeup);
    let mut any: [__mmask8; V] = [0; V];
    let (zero, inf, tiny, npd) =
        (_mm512_setzero_pd(), _mm512_set1_pd(f64::INFINITY), _mm512_set1_pd(1e-12), _mm512_set1_pd(NEPER_PER_DB));
    // GainComputer::step, lane-wise, with the same operations; returns the
    // exponent `(makeup - r)·ln10/20`.
    let mut step = |j: usize, target: __m512d| -> __m512d {
        let a = _mm512_mask_blend_pd(_mm512_cmp_pd_mask::<_CMP_GT_OQ>(target, r[j]), rel[j], att[j]);
        let v = _mm512_add_pd(target, _mm512_mul_pd(a, _mm512_sub_pd(r[j], target)));
        let finite = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(_mm512_abs_pd(v), inf);
        let settled = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(v, tiny) & _mm512_cmp_pd_mask::<_CMP_EQ_OQ>(target, zero);
        let v = _mm512_maskz_mov_pd(finite & !settled, v);
        r[j] = v;
        any[j] |= _mm512_cmp_pd_mask::<_CMP_NEQ_OQ>(v, zero);
        _mm512_mul_pd(_mm512_sub_pd(mk[j], v), npd)
    };
    let tp = targets.as_ptr();
    let ep = exps.as_mut_ptr();
    let body = frames / 4 * 4;
    for t in (0..body).step_by(4) {
        // Frames t..t+4 of lanes 8j..8j+8, as one vector per frame.
        let tv: [[__m512d; 4]; V] = core::array::from_fn(|j| {
            let quarter = |q: usize| {
                transpose4(core::array::from_fn(|k| {
                    // SAFETY: rows 0..w at frames t..t+4 <= frames are inside both slices (checked above).
                    unsafe { _mm256_loadu_pd(tp.add((8 * j + 4 * q + k) * stride + t)) }
                }))
            };
            let (lo, hi) = (quarter(0), quarter(1));
            core::array::from_fn(|i| _mm512_insertf64x4::<1>(_mm512_castpd256_pd512(lo[i]), hi[i]))
        });
        let mut out = [[zero; 4]; V];
        for i in 0..4 {
            for j in 0..V {
                out[j][i] = step(j, tv[j][i]);
            }
        }
        for (j, o) in out.into_iter().enumerate() {
            let lo = transpose4(core::array::from_fn(|i| _mm512_castpd512_pd256(o[i])));
            let hi = transpose4(core::array::from_fn(|i| _mm512_extractf64x4_pd::<1>(o[i])));
            for (q, half) in [lo, hi].into_iter().enumerate() {
                for (k, row) in half.into_iter().enumerate() {
                    // SAFETY: as for the loads.
                    unsafe { _mm256_storeu_pd(ep.add((8 * j + 4 * q + k) * stride + t), row) };
                }
            }
        }
    }
    for t in body..frames {
        for j in 0..V {
            let row = |k: usize| (8 * j + k) * stride + t;
            // SAFETY: rows 0..w at frame t < frames are inside both slices (checked above).
            let tv: [f64; 8] = core::array::from_fn(|k| unsafe { *tp.add(row(k)) });
            // SAFETY: `tv` holds 8 f64.
            let target = unsafe { _mm512_loadu_pd(tv.as_ptr()) };
            let mut o = [0.0; 8];
            // SAFETY: `o` holds 8 f64.
            unsafe { _mm512_storeu_pd(o.as_mut_ptr(), step(j, target)) };
            for (k, v) in o.into_iter().enumerate() {
                // SAFETY: as for the loads.
                unsafe { *ep.add(row(k)) = v };
            }
        }
    }
    for j in 0..V {
        let mut rr = [0.0; 8];
        // SAFETY: 8 f64.
        unsafe { _mm512_storeu_pd(rr.as_mut_ptr(), r[j]) };
        for (k, &v) in rr.iter().enumerate() {
            if let Some(l) = lanes.get_mut(8 * j + k) {
                l.reduction = v;
                l.any |= (any[j] >> k) & 1 != 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processor::ParamBuffer;

    const FS: f64 = 48_000.0;

    /// The static curve written out independently of the implementation.
    fn reference_curve(x: f64, t: f64, r: f64, w: f64) -> f64 {
        if w == 0.0 {
            return if x <= t { x } else { t + (x - t) / r };
        }
        if x < t - w / 2.0 {
            x
        } else if x > t + w / 2.0 {
            t + (x - t) / r
        } else {
            x + (1.0 / r - 1.0) * (x - t + w / 2.0).powi(2) / (2.0 * w)
        }
    }

    fn db(lin: f64) -> f64 {
        20.0 * lin.log10()
    }

    fn prepared(channels: usize, max_block: usize) -> Compressor {
        let mut c = Compressor::new();
        c.prepare(&PrepareContext { sample_rate: FS, max_block, channels });
        c
    }

    /// Runs over planar `input` in blocks; `params(frame)` gives the six
    /// parameters per frame (sent as varying buffers when `varying`).
    fn run(
        comp: &mut Compressor,
        input: &[Vec<f64>],
        block: usize,
        varying: bool,
        params: &dyn Fn(usize) -> [f64; 6],
    ) -> Vec<Vec<f64>> {
        let ch = input.len();
        let n = input[0].len();
        let mut out = vec![vec![0.0; n]; ch];
        let mut pb: Vec<ParamBuffer> = (0..6).map(|_| ParamBuffer::new(0.0, block)).collect();
        let mut buf = vec![0.0; ch * block];
        let mut start = 0;
        while start < n {
            let f = block.min(n - start);
            for c in 0..ch {
                buf[c * block..c * block + f].copy_from_slice(&input[c][start..start + f]);
            }
            for (k, p) in pb.iter_mut().enumerate() {
                if varying {
                    for (i, v) in p.varying_mut(f).iter_mut().enumerate() {
                        *v = params(start + i)[k];
                    }
                } else {
                    p.set_constant(params(start)[k]);
                }
            }
            let ctx = ProcessContext { frames: f, position: start as u64, params: &pb };
            comp.process(&ctx, &mut Bus::new(&mut buf, ch, block, f));
            for c in 0..ch {
                out[c][start..start + f].copy_from_slice(&buf[c * block..c * block + f]);
            }
            start += f;
        }
        out
    }

    #[test]
    fn static_curve_matches_the_formula_at_steady_state() {
        // (threshold, ratio, knee, makeup)
        let settings = [
            (-24.0, 4.0, 6.0, 0.0),
            (-24.0, 4.0, 0.0, 0.0),
            (-10.0, 20.0, 12.0, 3.0),
            (-30.0, 1.0, 6.0, 0.0),
            (-6.0, 2.5, 24.0, -2.0),
        ];
        for &(t, r, w, m) in &settings {
            let mut level = -60.0;
            while level <= 6.0 {
                let a = 10f64.powf(level / 20.0);
                // DC of one polarity on L, the other on R (linked detection sees |a|).
                let input = [vec![a; 2_400], vec![-a; 2_400]];
                let mut comp = prepared(2, 128);
                let out = run(&mut comp, &input, 128, false, &|_| [t, r, 1.0, 1.0, w, m]);
                let expect = reference_curve(level, t, r, w) - level + m;
                for o in &out {
                    let got = db(o[2_399].abs() / a);
                    assert!(
                        (got - expect).abs() < 1e-9,
                        "T {t} R {r} W {w} at {level} dB: gain {got} dB, expected {expect}"
                    );
                }
                level += 0.25;
            }
        }
        // Points inside the knee really are on the quadratic (not on either line).
        let inside = reference_curve(-24.0, -24.0, 4.0, 6.0);
        assert!((inside - (-24.0 - 0.75 * 9.0 / 12.0)).abs() < 1e-12);
    }

    #[test]
    fn target_follows_the_curve_at_and_around_the_knee() {
        // The per-frame target (multiplications by cached constants) against
        // the curve's formula, at the threshold exactly (`t = x`, where a hard
        // knee reaches the inside case), at the knee edges and around them;
        // with no knee, a subnormal knee (treated as none) and soft knees.
        let mut comp = prepared(1, 4);
        let mut checked = 0;
        for w in [0.0, 1e-310, 0.5, 6.0, 60.0] {
            for ratio in [1.0, 4.0, 1000.0] {
                // (x from -26 to -7 dB: every threshold below stays inside its range.)
                for lnp in [-3.0, -1.234_567, -0.8] {
                    let x = DB_PER_NEPER * lnp;
                    for t in [x, x - 1e-9, x + 1e-9, x - w / 2.0, x + w / 2.0, x - w / 4.0, x - 10.0, x + 10.0] {
                        let params: Vec<ParamBuffer> =
                            [t, ratio, 10.0, 100.0, w, 0.0].iter().map(|&v| ParamBuffer::new(v, 4)).collect();
                        comp.gc.update(&ProcessContext { frames: 4, position: 0, params: &params }, 0);
                        // (The peak only gates: far above the knee start here.)
                        let got = comp.gc.target(f64::MAX, lnp);
                        let want = (x - reference_curve(x, t, ratio, w)).max(0.0);
                        assert!(
                            got.is_finite() && (got - want).abs() < 1e-12,
                            "W {w} R {ratio} T {t} x {x}: {got} vs {want}"
                        );
                        if t == x && w == 0.0 {
                            assert_eq!(got, 0.0);
                        }
                        // At or below the knee start the target is 0 whatever the log holds.
                        assert_eq!(comp.gc.target(0.0, f64::NAN), 0.0);
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 5 * 3 * 3 * 8);
    }

    #[test]
    fn attack_and_release_follow_their_time_constants() {
        let (t, r, attack, release) = (-40.0, 4.0, 10.0, 100.0);
        let (lo, hi) = (10f64.powf(-60.0 / 20.0), 10f64.powf(-20.0 / 20.0));
        let step = reference_curve(-20.0, t, r, 0.0) - -20.0; // -15 dB
        let (n_on, n_off, n) = (1_000usize, 30_000usize, 60_000usize);
        let x: Vec<f64> = (0..n).map(|i| if (n_on..n_off).contains(&i) { hi } else { lo }).collect();
        let mut comp = prepared(1, 64);
        let out = run(&mut comp, std::slice::from_ref(&x), 64, false, &|_| [t, r, attack, release, 0.0, 0.0]);
        let gain_db = |i: usize| db(out[0][i] / x[i]);
        let aa = (-1.0 / (attack / 1000.0 * FS)).exp();
        let ar = (-1.0 / (release / 1000.0 * FS)).exp();
        for k in [1usize, 10, 100, 480, 1_000, 5_000] {
            // Frame n_on + k - 1 has had k smoothing steps toward the step.
            let expect = step * (1.0 - aa.powi(k as i32));
            assert!((gain_db(n_on + k - 1) - expect).abs() < 1e-9, "attack k {k}");
        }
        // After τ the reduction covers 1 - 1/e of the step.
        let at_tau = gain_db(n_on + 480 - 1) / step;
        assert!((at_tau - (1.0 - (-1.0f64).exp())).abs() < 1e-9, "{at_tau}");
        let settled = step * (1.0 - aa.powi((n_off - n_on) as i32));
        for k in [1usize, 100, 4_800, 10_000] {
            let expect = settled * ar.powi(k as i32);
            assert!((gain_db(n_off + k - 1) - expect).abs() < 1e-9, "release k {k}");
        }
        let at_tau = gain_db(n_off + 4_800 - 1) / settled;
        assert!((at_tau - (-1.0f64).exp()).abs() < 1e-9, "{at_tau}");
    }

    #[test]
    fn makeup_gain_applies_below_threshold() {
        let x: Vec<f64> = (0..500).map(|i| 0.01 * (i as f64 * 0.1).sin()).collect();
        let out =
            run(&mut prepared(1, 128), std::slice::from_ref(&x), 128, false, &|_| [-10.0, 4.0, 10.0, 100.0, 6.0, 6.0]);
        let g = 10f64.powf(6.0 / 20.0);
        for (y, x) in out[0].iter().zip(&x) {
            assert!((y - x * g).abs() <= 1e-15, "{y} vs {}", x * g);
        }
    }

    #[test]
    fn detection_is_linked_across_channels() {
        let n = 4_800;
        let loud = vec![0.5; n];
        let quiet = vec![0.01; n];
        let out = run(&mut prepared(2, 64), &[loud.clone(), quiet.clone()], 64, false, &|_| DEFAULTS);
        for i in 0..n {
            assert!((out[0][i] / loud[i] - out[1][i] / quiet[i]).abs() < 1e-12);
        }
        assert!(out[1][n - 1] / quiet[n - 1] < 0.3);
    }

    fn noise(seed: u64, n: usize) -> Vec<f64> {
        crate::kernels::testutil::xorshift(seed.max(1), n)
    }

    #[test]
    fn output_does_not_depend_on_block_size() {
        let n = 5_000;
        let a = noise(1, n);
        let b: Vec<f64> = noise(2, n).iter().map(|v| 0.2 * v).collect();
        let params = |i: usize| {
            let s = i as f64;
            [-30.0 + 10.0 * (s / 400.0).sin(), 3.0 + (s / 300.0).cos(), 5.0, 50.0 + 40.0 * (s / 1000.0).sin(), 6.0, 2.0]
        };
        let reference = run(&mut prepared(2, 1), &[a.clone(), b.clone()], 1, true, &params);
        for block in [37, 64, 128] {
            let out = run(&mut prepared(2, block), &[a.clone(), b.clone()], block, true, &params);
            assert_eq!(out, reference, "block {block}");
        }
    }

    #[test]
    fn plain_and_avx2_builds_agree_within_1e_12() {
        // The AVX2 build fuses the multiply-adds of `ln` and `exp` (see
        // `fused_block_math_is_within_one_ulp_of_plain`), so its samples may
        // differ from the plain build's in the last bits, never by more.
        let n = 6_000;
        let x = [noise(41, n), noise(42, n).iter().map(|v| 0.3 * v).collect::<Vec<f64>>()];
        let params = |i: usize| {
            let s = i as f64;
            [-30.0 + 10.0 * (s / 400.0).sin(), 3.0, 5.0, 50.0, 6.0, 2.0 + (s / 700.0).sin()]
        };
        for varying in [false, true] {
            let mut plain = prepared(2, 128);
            plain.set_build(Build::Plain);
            let a = run(&mut plain, &x, 128, varying, &params);
            let b = run(&mut prepared(2, 128), &x, 128, varying, &params);
            let mut compressed = 0;
            for (ca, cb) in a.iter().zip(&b) {
                for (k, (&u, &v)) in ca.iter().zip(cb).enumerate() {
                    assert!((u - v).abs() <= 1e-12 * u.abs().max(v.abs()), "varying {varying} frame {k}: {u} vs {v}");
                }
            }
            for (u, v) in a[0].iter().zip(&x[0]) {
                compressed += usize::from(u.abs() < 0.9 * v.abs());
            }
            // The comparison covers compressed frames, not just the makeup gain.
            assert!(compressed > n / 10, "varying {varying}: {compressed} compressed frames");
        }
    }

    #[test]
    fn constant_and_varying_parameter_blocks_agree() {
        let x = [noise(21, 3_000), noise(22, 3_000)];
        let p = |_: usize| [-20.0, 3.0, 2.0, 40.0, 4.0, 1.5];
        let constant = run(&mut prepared(2, 64), &x, 64, false, &p);
        let varying = run(&mut prepared(2, 64), &x, 64, true, &p);
        assert_eq!(constant, varying);
    }

    #[test]
    fn wild_per_frame_automation_stays_finite_and_bounded() {
        let n = 20_000;
        let x: Vec<f64> = noise(3, n).iter().map(|v| 4.0 * v).collect();
        let r = noise(4, 6 * n);
        // Every parameter jumps anywhere in (and beyond) its range each frame.
        let params = |i: usize| {
            let mut p = [0.0; 6];
            for (k, v) in p.iter_mut().enumerate() {
                let spec = &PARAMS[k];
                let u = r[6 * i + k] * 0.6 + 0.5; // slightly past both ends
                *v = spec.min + (spec.max - spec.min) * u;
            }
            p
        };
        let out = run(&mut prepared(1, 128), std::slice::from_ref(&x), 128, true, &params);
        let max_makeup = 10f64.powf(60.0 / 20.0);
        for (y, x) in out[0].iter().zip(&x) {
            assert!(y.is_finite());
            assert!(y.abs() <= x.abs() * max_makeup * (1.0 + 1e-12));
        }
        // Non-finite parameter values fall back to defaults instead of poisoning the state.
        let out = run(&mut prepared(1, 16), &[vec![0.5; 64]], 16, true, &|_| {
            [f64::NAN, f64::INFINITY, f64::NAN, -1.0, f64::NAN, f64::NAN]
        });
        assert!(out[0].iter().all(|v| v.is_finite()));
    }

    #[test]
    fn take_state_continues_and_reset_starts_over() {
        let n = 3_000;
        let x: Vec<f64> = noise(9, n);
        let p = |_: usize| DEFAULTS;
        let whole = run(&mut prepared(1, 64), std::slice::from_ref(&x), 64, false, &p);
        let mut first = prepared(1, 64);
        let head = run(&mut first, &[x[..1_000].to_vec()], 64, false, &p);
        let mut second = prepared(1, 64);
        assert!(second.take_state(&mut first));
        assert!(second.gain_reduction_db() > 0.0);
        let mut tail = run(&mut second, &[x[1_000..].to_vec()], 64, false, &p);
        let mut joined = head[0].clone();
        joined.append(&mut tail[0]);
        assert_eq!(joined, whole[0]);
        assert_eq!(second.latency(), 0);
        second.reset();
        assert_eq!(run(&mut second, std::slice::from_ref(&x), 64, false, &p), whole);
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

    /// The builds this machine runs (and `FERRITE_SIMD` allows).
    fn builds() -> Vec<Build> {
        [Build::Plain, Build::Avx2, Build::Avx512].into_iter().filter(|&b| b <= Build::detect()).collect()
    }

    #[test]
    fn the_vector_builds_give_the_same_bits() {
        // AVX2 and AVX-512 code generation of the same operations (`ln`/`exp`
        // fused in both): the same samples and state, bit for bit, with
        // constant and with automated parameters, whole blocks and a tail.
        let vector: Vec<Build> = builds().into_iter().filter(|&b| b != Build::Plain).collect();
        if vector.len() < 2 {
            println!("skipped: this machine runs {:?} only", builds());
            return;
        }
        let n = 5_000;
        let x = [noise(51, n), noise(52, n).iter().map(|v| 0.3 * v).collect::<Vec<f64>>()];
        let params = |i: usize| {
            let s = i as f64;
            [-30.0 + 10.0 * (s / 400.0).sin(), 3.0, 5.0, 50.0, 6.0, 2.0 + (s / 700.0).sin()]
        };
        for varying in [false, true] {
            for block in [128, 37] {
                let outs: Vec<(Vec<Vec<u64>>, u64)> = vector
                    .iter()
                    .map(|&b| {
                        let mut c = prepared(2, block);
                        c.set_build(b);
                        let out = run(&mut c, &x, block, varying, &params);
                        (
                            out.iter().map(|ch| ch.iter().map(|v| v.to_bits()).collect()).collect(),
                            c.gc.reduction.to_bits(),
                        )
                    })
                    .collect();
                for (b, o) in vector.iter().zip(&outs).skip(1) {
                    assert!(o == &outs[0], "{b:?} against {:?}: varying {varying} block {block}", vector[0]);
                }
            }
        }
        // The batched recursions: 16-lane AVX-512 passes against 8-lane AVX2
        // passes, with targets that jump, settle to 0, and are not finite.
        let (lanes_n, stride, frames) = (37, 40, 39);
        let mut rng = noise(53, lanes_n * stride).into_iter();
        let targets: Vec<f64> = (0..lanes_n * stride)
            .map(|i| match (i % 97, rng.next().unwrap_or(0.0)) {
                (5, _) => f64::NAN,
                (9, _) => f64::INFINITY,
                (_, v) if (i / stride) % 5 == 0 && i % stride > 10 => 0.0 * v,
                (_, v) => 20.0 * v.abs(),
            })
            .collect();
        let lanes0: Vec<SmoothLane> = (0..lanes_n)
            .map(|m| SmoothLane {
                reduction: if m % 5 == 0 { 1e-11 } else { m as f64 * 0.7 },
                attack: 0.9 + m as f64 * 1e-3,
                release: 0.99 - m as f64 * 1e-3,
                makeup: m as f64 - 10.0,
                any: false,
            })
            .collect();
        let results: Vec<(Vec<SmoothLane>, Vec<u64>)> = vector
            .iter()
            .map(|&b| {
                let mut lanes = lanes0.clone();
                let mut exps = vec![0.0; lanes_n * stride];
                smooth_lanes_with(b, &mut lanes, &targets, &mut exps, stride, frames);
                (lanes, exps.iter().map(|v| v.to_bits()).collect())
            })
            .collect();
        for (b, r) in vector.iter().zip(&results).skip(1) {
            assert!(r.1 == results[0].1, "{b:?}: exponents");
            for (m, (u, v)) in r.0.iter().zip(&results[0].0).enumerate() {
                assert_eq!((u.reduction.to_bits(), u.any), (v.reduction.to_bits(), v.any), "{b:?}: lane {m}");
            }
        }
        // Lanes that settled to exactly 0 and lanes still reducing.
        let ends: Vec<f64> = results[0].0.iter().map(|l| l.reduction).collect();
        assert!(ends.contains(&0.0) && ends.iter().any(|&r| r > 1.0), "{ends:?}");
    }

    #[test]
    fn block_math_is_the_same_at_every_length() {
        // The plain build is `ln_fast`/`exp_fast` bit for bit; the AVX2 + FMA
        // and the AVX-512 builds are the fused variant bit for bit
        // (`f64::mul_add` rounds once with or without the instruction), at
        // every length (vector body and tail).
        let x = log_spread(1e-12, 1e6, 1_001);
        let y: Vec<f64> = noise(79, 1_001).iter().map(|v| 60.0 * v).collect();
        for build in builds() {
            let fused = build.fused();
            let ln_ref: Vec<u64> =
                x.iter().map(|&v| if fused { ln_with::<true>(v) } else { ln_fast(v) }.to_bits()).collect();
            let exp_ref: Vec<u64> =
                y.iter().map(|&v| if fused { exp_with::<true>(v) } else { exp_fast(v) }.to_bits()).collect();
            for len in [1usize, 3, 4, 5, 37, 128, 1_001] {
                let mut out = vec![0.0; len];
                ln_block(build, &x[..len], &mut out);
                assert!(out.iter().map(|v| v.to_bits()).eq(ln_ref[..len].iter().copied()), "ln {build:?} len {len}");
                let mut v = y[..len].to_vec();
                exp_block_in_place(build, &mut v);
                assert!(v.iter().map(|v| v.to_bits()).eq(exp_ref[..len].iter().copied()), "exp {build:?} len {len}");
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

    #[test]
    fn follows_a_per_frame_reference_with_std_ln_and_exp() {
        // The algorithm of the module documentation, frame by frame, with
        // f64::ln / f64::exp, linked over two channels, with automation.
        let n = 20_000;
        let a: Vec<f64> = noise(31, n).iter().enumerate().map(|(i, v)| v * (1.0 + (i as f64 / 900.0).sin())).collect();
        let b: Vec<f64> = noise(32, n).iter().map(|v| 0.3 * v).collect();
        let params = |i: usize| {
            let s = i as f64;
            [
                -30.0 + 12.0 * (s / 700.0).sin(),
                4.0 + 2.0 * (s / 500.0).cos(),
                3.0,
                80.0,
                3.0 + 3.0 * (s / 900.0).sin(),
                1.0 + (s / 1300.0).sin(),
            ]
        };
        let out = run(&mut prepared(2, 128), &[a.clone(), b.clone()], 128, true, &params);
        let mut g = 0.0f64;
        let mut compressed = 0;
        let mut worst = 0.0f64;
        for i in 0..n {
            let [t, r, att, rel, w, m] = params(i);
            let pk = a[i].abs().max(b[i].abs());
            let x = 20.0 * pk.log10();
            let target = if pk > 0.0 { (x - reference_curve(x, t, r, w)).max(0.0) } else { 0.0 };
            let ms = if target > g { att } else { rel };
            let coef = (-1.0 / (ms / 1000.0 * FS)).exp();
            g = target + coef * (g - target);
            let want = m - g;
            compressed += usize::from(g > 1.0);
            for (o, v) in [(&out[0], &a), (&out[1], &b)] {
                if v[i] != 0.0 {
                    let got = db(o[i] / v[i]);
                    worst = worst.max((got - want).abs());
                    assert!((got - want).abs() < 1e-9, "frame {i}: {got} dB, reference {want} dB");
                }
            }
        }
        assert!(compressed > n / 4, "{compressed}");
        println!("largest gain difference to the reference: {worst:e} dB");
    }

    /// Compressor `m`'s settings in the batch tests.
    fn settings(m: usize) -> [f64; 6] {
        let m = m as f64;
        [-30.0 + 2.0 * m, 2.0 + m, 1.0 + m * 3.0, 20.0 + m * 40.0, [0.0, 6.0, 12.0][m as usize % 3], m - 5.0]
    }

    /// `n` compressors, each with its own settings and signal (bursts above
    /// and below the knee, silence: a release back to exactly 0, and a
    /// non-finite sample), batched and alone, in blocks of `block`.
    fn batch_matches_alone(n: usize, block: usize) {
        let frames = block * 40;
        let signal = |m: usize, c: usize, t: usize| -> f64 {
            if t == 1000 + 37 * m && m == 3 {
                return f64::NAN;
            }
            let env = if (t / (300 + 50 * m)) % 3 == 2 { 0.0 } else { 0.05 + 0.9 * ((t / 200) % 4) as f64 / 3.0 };
            env * ((t as f64) * (0.01 + 0.003 * m as f64) + c as f64).sin()
        };
        let mut alone: Vec<Compressor> = (0..n).map(|_| prepared(2, block)).collect();
        let mut batched: Vec<Compressor> = (0..n).map(|_| prepared(2, block)).collect();
        let params: Vec<Vec<ParamBuffer>> =
            (0..n).map(|m| settings(m).iter().map(|&v| ParamBuffer::new(v, block)).collect()).collect();
        let mut a_buf = vec![vec![0.0; 2 * block]; n];
        let mut b_buf = vec![vec![0.0; 2 * block]; n];
        let mut targets = vec![0.0; n * block];
        let mut exps = vec![0.0; n * block];
        let mut reduced = 0;
        for start in (0..frames).step_by(block) {
            let mut lanes = Vec::new();
            for m in 0..n {
                for c in 0..2 {
                    for i in 0..block {
                        a_buf[m][c * block + i] = signal(m, c, start + i);
                    }
                }
                b_buf[m].copy_from_slice(&a_buf[m]);
                let ctx = ProcessContext { frames: block, position: start as u64, params: &params[m] };
                alone[m].process(&ctx, &mut Bus::new(&mut a_buf[m], 2, block, block));
                let lane = batched[m]
                    .batch_begin(
                        &ctx,
                        &Bus::new(&mut b_buf[m], 2, block, block),
                        &mut targets[m * block..(m + 1) * block],
                    )
                    .unwrap();
                lanes.push(lane);
            }
            smooth_lanes(&mut lanes, &targets, &mut exps, block, block);
            for m in 0..n {
                batched[m].batch_finish(
                    &mut Bus::new(&mut b_buf[m], 2, block, block),
                    &mut exps[m * block..(m + 1) * block],
                    &lanes[m],
                );
                let (a, b): (Vec<u64>, Vec<u64>) =
                    (a_buf[m].iter().map(|v| v.to_bits()).collect(), b_buf[m].iter().map(|v| v.to_bits()).collect());
                assert_eq!(a, b, "{n} compressors: compressor {m} block at {start}");
                assert_eq!(alone[m].gain_reduction_db().to_bits(), batched[m].gain_reduction_db().to_bits());
                reduced += usize::from(alone[m].gain_reduction_db() > 1.0);
            }
        }
        // The batch did compress (and released: some blocks have no reduction).
        assert!(reduced > 2 * n && reduced < n * frames / block, "{n} compressors: {reduced}");
    }

    #[test]
    fn a_batch_of_compressors_gives_the_bits_of_each_alone() {
        // 11 compressors: one 8-lane vector pass and 3 scalar lanes; 29:
        // three 8-lane passes and 5 scalar lanes, in blocks of 37 (four-frame
        // steps and a tail of 1); 4: scalar only.
        for (n, block) in [(11, 64), (29, 37), (4, 128)] {
            batch_matches_alone(n, block);
        }
        // Automated parameters are not batched.
        let block = 64;
        let mut batched = prepared(2, block);
        let mut b_buf = vec![0.0; 2 * block];
        let mut pb: Vec<ParamBuffer> = settings(0).iter().map(|&v| ParamBuffer::new(v, block)).collect();
        pb[0].varying_mut(block).fill(-20.0);
        let ctx = ProcessContext { frames: block, position: 0, params: &pb };
        let mut row = [7.0; 64];
        assert!(batched.batch_begin(&ctx, &Bus::new(&mut b_buf, 2, block, block), &mut row).is_none());
        assert_eq!(row, [7.0; 64], "a block that is not batched leaves its row alone");
    }
}
