//! Oscillator kernels: a sine and a band-limited table read, both driven by
//! a fixed-point phase.
//!
//! # Phase
//! A phase is a fraction of a cycle in 0.64 fixed point (`u64`, one cycle =
//! 2⁶⁴). Adding increments with wrapping arithmetic wraps the phase exactly,
//! and because integer addition is associative, the phase at frame `i` of a
//! constant increment, `phase + i·inc`, is the same number as `i` successive
//! additions: a vector path that computes four frames at once, a block split
//! anywhere and a per-frame loop all give the same phases bit for bit.
//! Resolution: 2⁻⁶⁴ cycle (an increment error of at most 5e-20 cycle per frame).
//!
//! # Exactness
//! Every path performs the same operations in the same order per frame
//! (plain multiply and add, no FMA), so the AVX2 path equals the scalar
//! reference bit for bit (tested). The sine takes its position from the top
//! 52 fraction bits of the phase; the table read from the 24 bits below the
//! table index, both exactly.
//!
//! # Table reads
//! A [`TableLevel`] holds the coefficients of a periodic uniform cubic
//! B-spline, read in `f32` (the precision of the stored points): four
//! neighbouring coefficients per frame, one 16-byte load. Against linear
//! interpolation, whose images fall off as `sinc²`, the spline's fall off as
//! `sinc⁴`, so a quarter of the table points gives the same or lower
//! aliasing (see [`crate::wavetable`]), and a quarter of the memory traffic:
//! with many oscillators the table reads were bound by it.
//!
//! # Levels
//! Scalar everywhere; AVX2 (also used on AVX-512 CPUs) runs 4 frames per step
//! for the sine and 8 for the table read.

use super::dispatch::runnable;
use super::SimdLevel;

/// One cycle as a float, 2⁶⁴.
pub const CYCLE: f64 = 18_446_744_073_709_551_616.0;

/// The phase increment (or offset) of `cycles` cycles: its fractional part in
/// 0.64 fixed point. Not finite: 0.
///
/// ```
/// use ferrite_dsp::kernels::osc::{phase_of_cycles, CYCLE};
/// assert_eq!(phase_of_cycles(0.25), 1u64 << 62);
/// assert_eq!(phase_of_cycles(-0.25), 3u64 << 62);
/// assert_eq!(phase_of_cycles(3.5), 1u64 << 63);
/// ```
#[inline]
pub fn phase_of_cycles(cycles: f64) -> u64 {
    if !cycles.is_finite() {
        return 0;
    }
    let f = cycles - super::floor(cycles);
    // `f` in [0, 1]; the cast saturates at 1.0 (one cycle ≈ no change).
    (f * CYCLE) as u64
}

/// `0x3FF0…`: the bits of 1.0; OR-ed with 52 fraction bits gives `1 + frac`.
const ONE_BITS: u64 = 0x3FF0_0000_0000_0000;

/// The top 52 fraction bits of a phase as an f64 in `[0, 1)` (exact).
#[inline(always)]
fn frac52(p: u64) -> f64 {
    f64::from_bits((p >> 12) | ONE_BITS) - 1.0
}

/// Taylor coefficients of `sin θ = θ·(1 + s·(C3 + s·(C5 + …)))`, `s = θ²`,
/// through θ¹⁹: on `|θ| ≤ π/2` the truncation error is below 3e-16.
const SIN_C: [f64; 9] = [
    -1.0 / 6.0,
    1.0 / 120.0,
    -1.0 / 5040.0,
    1.0 / 362_880.0,
    -1.0 / 39_916_800.0,
    1.0 / 6_227_020_800.0,
    -1.0 / 1_307_674_368_000.0,
    1.0 / 355_687_428_096_000.0,
    -1.0 / 121_645_100_408_832_000.0,
];

/// `sin(2π·p/2⁶⁴)` (scalar reference of the sine kernel): the phase is folded
/// into a quarter cycle exactly, then an odd polynomial; absolute error below
/// 4e-15 (the folding is exact; the rest is f64 rounding).
///
/// ```
/// use ferrite_dsp::kernels::osc::{sine_of_phase, phase_of_cycles};
/// assert!((sine_of_phase(phase_of_cycles(0.1)) - (0.2 * std::f64::consts::PI).sin()).abs() < 1e-13);
/// ```
#[inline(always)]
pub fn sine_of_phase(p: u64) -> f64 {
    let c = frac52(p);
    // To [-0.5, 0.5), then to [-0.25, 0.25] by sin(π - θ) = sin θ; all exact.
    let r = if c >= 0.5 { c - 1.0 } else { c };
    let r = if r > 0.25 {
        0.5 - r
    } else if r < -0.25 {
        -0.5 - r
    } else {
        r
    };
    let t = r * core::f64::consts::TAU;
    let s = t * t;
    let mut acc = SIN_C[8];
    for &k in SIN_C[..8].iter().rev() {
        acc = acc * s + k;
    }
    t + t * (s * acc)
}

/// One level of a band-limited table: the `2^bits` coefficients of one
/// period of a periodic uniform cubic B-spline, stored with guard copies as
/// `[c(N-1), c(0), …, c(N-1), c(0), c(1)]` (`N + 3` points), so that the four
/// coefficients around any position are contiguous.
#[derive(Debug, Clone, Copy)]
pub struct TableLevel<'a> {
    data: &'a [f32],
    bits: u32,
}

/// Guard points of a [`TableLevel`] (one before the period, two after).
pub const GUARD_POINTS: usize = 3;

impl<'a> TableLevel<'a> {
    /// A level over `data`, which must hold `2^bits + 3` points with
    /// `2 <= bits <= 30` (else `None`).
    pub fn new(data: &'a [f32]) -> Option<Self> {
        let len = data.len().checked_sub(GUARD_POINTS)?;
        if !len.is_power_of_two() || !(4..=1 << 30).contains(&len) {
            return None;
        }
        Some(Self { data, bits: len.trailing_zeros() })
    }

    /// The level at phase `p` (scalar reference): with `i` the top `bits` of
    /// the phase and `t` the next 24 as a fraction, the spline of coefficients
    /// `c(i-1) … c(i+2)` at `t`, in `f32`, as `f64`.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    #[inline(always)]
    pub fn read(&self, p: u64) -> f64 {
        let i = (p >> (64 - self.bits)) as usize;
        let t = frac24(p << self.bits);
        // `i < 2^bits` and `data.len() == 2^bits + 3` (checked in `new`).
        match self.data.get(i..i + 4) {
            Some(&[c0, c1, c2, c3]) => f64::from(spline(c0, c1, c2, c3, t)),
            _ => 0.0,
        }
    }
}

/// The uniform cubic B-spline of coefficients `c0 … c3` at `t` in `[0, 1)`
/// between `c1` and `c2`: `Σ c_j·w_j(t)` with the basis weights of
/// [`weights`], summed in pairs. The vector kernel performs these exact
/// operations in this order.
#[inline(always)]
fn spline(c0: f32, c1: f32, c2: f32, c3: f32, t: f32) -> f32 {
    let [w0, w1, w2, w3] = weights(t);
    (c0 * w0 + c1 * w1) + (c2 * w2 + c3 * w3)
}

/// The uniform cubic B-spline's weights of the four coefficients around `t`
/// in `[0, 1)`: `(1−t)³/6`, `2/3 − t² + t³/2`, `1/6 + (t + t² − t³)/2`,
/// `t³/6`. They depend on the position only, so the vector kernel computes
/// them while the coefficients load.
#[inline(always)]
fn weights(t: f32) -> [f32; 4] {
    let t2 = t * t;
    let t3 = t2 * t;
    let u = 1.0 - t;
    let u3 = u * u * u;
    [u3 * SIXTH, (t3 * 0.5 - t2) + TWO_THIRDS, (t + t2 - t3) * 0.5 + SIXTH, t3 * SIXTH]
}

/// 2/3 in f32.
const TWO_THIRDS: f32 = 2.0 / 3.0;

/// 1/6 in f32.
const SIXTH: f32 = 1.0 / 6.0;

/// The top 24 bits of `p` as an f32 fraction in `[0, 1)` (exact).
#[inline(always)]
fn frac24(p: u64) -> f32 {
    (p >> 40) as u32 as f32 * FRAC24_UNIT
}

/// 2⁻²⁴.
const FRAC24_UNIT: f32 = 1.0 / 16_777_216.0;

/// The waveform of a table oscillator: one level, or two crossfaded
/// (`lo + w·(hi − lo)`).
#[derive(Debug, Clone, Copy)]
pub struct TableMix<'a> {
    /// The lower (poorer) level.
    pub lo: TableLevel<'a>,
    /// The richer level and its weight `w` in `(0, 1]`; `None` reads `lo` only.
    pub hi: Option<(TableLevel<'a>, f64)>,
}

impl TableMix<'_> {
    /// The waveform at phase `p` (scalar reference).
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    #[inline(always)]
    pub fn read(&self, p: u64) -> f64 {
        let lo = self.lo.read(p);
        match self.hi {
            Some((hi, w)) => lo + w * (hi.read(p) - lo),
            None => lo,
        }
    }
}

/// `out[i] = amp · sin(2π·(phase + i·inc)/2⁶⁴)`; returns the phase after the
/// last frame (`phase + len·inc`).
///
/// # Realtime
/// Does not allocate, lock or panic.
pub fn sine_at(level: SimdLevel, amp: f64, phase: u64, inc: u64, out: &mut [f64]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if avx2_ok(level) {
        // SAFETY: `avx2_ok` checked that the CPU runs AVX2.
        return unsafe { avx2::sine(amp, phase, inc, out) };
    }
    let _ = level;
    scalar_sine(amp, phase, inc, out)
}

/// `out[i] = amp · table.read(phase + i·inc)`; returns the phase after the
/// last frame.
///
/// # Realtime
/// Does not allocate, lock or panic.
pub fn table_at(level: SimdLevel, table: &TableMix<'_>, amp: f64, phase: u64, inc: u64, out: &mut [f64]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if avx2_ok(level) {
        // SAFETY: `avx2_ok` checked that the CPU runs AVX2.
        return unsafe { avx2::table(table, amp, phase, inc, out) };
    }
    let _ = level;
    scalar_table(table, amp, phase, inc, out)
}

/// Whether `level` allows the AVX2 path and the CPU runs it.
#[cfg(target_arch = "x86_64")]
fn avx2_ok(level: SimdLevel) -> bool {
    matches!(level, SimdLevel::Avx2 | SimdLevel::Avx512) && runnable(SimdLevel::Avx2) == SimdLevel::Avx2
}

#[cfg(not(target_arch = "x86_64"))]
#[allow(dead_code)]
fn avx2_ok(_: SimdLevel) -> bool {
    let _ = runnable;
    false
}

fn scalar_sine(amp: f64, mut p: u64, inc: u64, out: &mut [f64]) -> u64 {
    for y in out.iter_mut() {
        *y = amp * sine_of_phase(p);
        p = p.wrapping_add(inc);
    }
    p
}

fn scalar_table(table: &TableMix<'_>, amp: f64, mut p: u64, inc: u64, out: &mut [f64]) -> u64 {
    for y in out.iter_mut() {
        *y = amp * table.read(p);
        p = p.wrapping_add(inc);
    }
    p
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{TableLevel, TableMix, ONE_BITS, SIN_C};
    use core::arch::x86_64::*;

    /// Phases of 4 consecutive frames from `p`, and the step of 4 frames.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn phases(p: u64, inc: u64) -> (__m256i, __m256i) {
        let at = |k: u64| p.wrapping_add(inc.wrapping_mul(k)) as i64;
        (_mm256_setr_epi64x(at(0), at(1), at(2), at(3)), _mm256_set1_epi64x(inc.wrapping_mul(4) as i64))
    }

    /// The top 52 bits of each lane as f64 in [0, 1).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn frac52(p: __m256i) -> __m256d {
        let bits = _mm256_or_si256(_mm256_srli_epi64::<12>(p), _mm256_set1_epi64x(ONE_BITS as i64));
        _mm256_sub_pd(_mm256_castsi256_pd(bits), _mm256_set1_pd(1.0))
    }

    /// Phases of frames `p + k·inc` for `k` = 0, 1, 4, 5 and 2, 3, 6, 7 (the
    /// order [`frac24x8`] packs back into 0..8), and the step of 8 frames.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn phases8(p: u64, inc: u64) -> (__m256i, __m256i, __m256i) {
        let at = |k: u64| p.wrapping_add(inc.wrapping_mul(k)) as i64;
        (
            _mm256_setr_epi64x(at(0), at(1), at(4), at(5)),
            _mm256_setr_epi64x(at(2), at(3), at(6), at(7)),
            _mm256_set1_epi64x(inc.wrapping_mul(8) as i64),
        )
    }

    /// `frac24(p << bits)` of the 8 frames of [`phases8`], in frame order.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn frac24x8(q0: __m256i, q1: __m256i, bits: __m128i) -> __m256 {
        let f0 = _mm256_srli_epi64::<40>(_mm256_sll_epi64(q0, bits));
        let f1 = _mm256_srli_epi64::<40>(_mm256_sll_epi64(q1, bits));
        // The low dwords of each 128-bit half: frames 0, 1 (f0) and 2, 3
        // (f1), then 4, 5 and 6, 7. Each is below 2^24: exact as f32.
        let packed = _mm256_shuffle_ps::<0x88>(_mm256_castsi256_ps(f0), _mm256_castsi256_ps(f1));
        _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_castps_si256(packed)), _mm256_set1_ps(super::FRAC24_UNIT))
    }

    /// `super::weights` of 8 positions, operation for operation.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn weights8(t: __m256) -> (__m256, __m256, __m256, __m256) {
        let (half, sixth) = (_mm256_set1_ps(0.5), _mm256_set1_ps(super::SIXTH));
        let t2 = _mm256_mul_ps(t, t);
        let t3 = _mm256_mul_ps(t2, t);
        let u = _mm256_sub_ps(_mm256_set1_ps(1.0), t);
        let u3 = _mm256_mul_ps(_mm256_mul_ps(u, u), u);
        let w1 = _mm256_add_ps(_mm256_sub_ps(_mm256_mul_ps(t3, half), t2), _mm256_set1_ps(super::TWO_THIRDS));
        let w2 = _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_add_ps(t, t2), t3), half), sixth);
        (_mm256_mul_ps(u3, sixth), w1, w2, _mm256_mul_ps(t3, sixth))
    }

    /// `level.read` on the 8 frames `p + k·inc` (`k = 0..8`), `t` their
    /// fractions: frames 0..4 and 4..8 as f64.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn read8(level: &TableLevel<'_>, p: u64, inc: u64, t: __m256) -> (__m256d, __m256d) {
        let shift = 64 - level.bits;
        let ptr = level.data.as_ptr();
        // Indices from the scalar phase, not extracted from `q0`/`q1` (see
        // benches/README.md for why).
        let mut q = p;
        let mut load = || {
            let i = (q >> shift) as usize;
            q = q.wrapping_add(inc);
            // SAFETY: `i < 2^bits` and the data holds `2^bits + 3` f32, so the
            // 16 bytes of points i .. i + 4 are inside the slice.
            unsafe { _mm_loadu_ps(ptr.add(i)) }
        };
        let l: [__m128; 8] = core::array::from_fn(|_| load());
        // Rows: the four coefficients of frames k (low half) and k + 4 (high).
        let row = |k: usize| _mm256_set_m128(l[k + 4], l[k]);
        let (r0, r1, r2, r3) = (row(0), row(1), row(2), row(3));
        // 4x4 transposes in both halves: c_j holds coefficient j of frames 0..8.
        let t0 = _mm256_unpacklo_ps(r0, r1);
        let t1 = _mm256_unpackhi_ps(r0, r1);
        let t2 = _mm256_unpacklo_ps(r2, r3);
        let t3 = _mm256_unpackhi_ps(r2, r3);
        let c0 = _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t2)));
        let c1 = _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t2)));
        let c2 = _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(t1), _mm256_castps_pd(t3)));
        let c3 = _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(t1), _mm256_castps_pd(t3)));
        // `super::spline`, operation for operation.
        let (w0, w1, w2, w3) = weights8(t);
        let y = _mm256_add_ps(
            _mm256_add_ps(_mm256_mul_ps(c0, w0), _mm256_mul_ps(c1, w1)),
            _mm256_add_ps(_mm256_mul_ps(c2, w2), _mm256_mul_ps(c3, w3)),
        );
        (_mm256_cvtps_pd(_mm256_castps256_ps128(y)), _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(y)))
    }

    /// The table read, 8 frames per step.
    /// Safety: the CPU supports AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn table(t: &TableMix<'_>, amp: f64, phase: u64, inc: u64, out: &mut [f64]) -> u64 {
        // A unit amplitude (the default) skips the multiply: `y·1.0 == y`.
        if amp == 1.0 {
            // SAFETY: as for this function.
            unsafe { table_amp::<false>(t, amp, phase, inc, out) }
        } else {
            // SAFETY: as for this function.
            unsafe { table_amp::<true>(t, amp, phase, inc, out) }
        }
    }

    /// [`table`] with (`AMP`) or without the amplitude multiply.
    /// Safety: the CPU supports AVX2.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn table_amp<const AMP: bool>(t: &TableMix<'_>, amp: f64, phase: u64, inc: u64, out: &mut [f64]) -> u64 {
        let (mut q0, mut q1, step) = phases8(phase, inc);
        let va = _mm256_set1_pd(amp);
        let done = out.len() / 8 * 8;
        let mut p = phase;
        let inc8 = inc.wrapping_mul(8);
        let lo_bits = _mm_cvtsi32_si128(t.lo.bits as i32);
        let hi = t.hi.map(|(hi, w)| (hi, _mm256_set1_pd(w), _mm_cvtsi32_si128(hi.bits as i32)));
        for chunk in out.chunks_exact_mut(8) {
            let (mut y0, mut y1) = read8(&t.lo, p, inc, frac24x8(q0, q1, lo_bits));
            if let Some((hi, w, bits)) = &hi {
                let (h0, h1) = read8(hi, p, inc, frac24x8(q0, q1, *bits));
                y0 = _mm256_add_pd(y0, _mm256_mul_pd(*w, _mm256_sub_pd(h0, y0)));
                y1 = _mm256_add_pd(y1, _mm256_mul_pd(*w, _mm256_sub_pd(h1, y1)));
            }
            if AMP {
                y0 = _mm256_mul_pd(va, y0);
                y1 = _mm256_mul_pd(va, y1);
            }
            let mut a = [0.0; 8];
            // SAFETY: `a` holds 8 f64.
            unsafe {
                _mm256_storeu_pd(a.as_mut_ptr(), y0);
                _mm256_storeu_pd(a.as_mut_ptr().add(4), y1);
            }
            chunk.copy_from_slice(&a);
            q0 = _mm256_add_epi64(q0, step);
            q1 = _mm256_add_epi64(q1, step);
            p = p.wrapping_add(inc8);
        }
        let p = phase.wrapping_add(inc.wrapping_mul(done as u64));
        let rest = out.get_mut(done..).unwrap_or(&mut []);
        super::scalar_table(t, amp, p, inc, rest)
    }

    /// Safety: the CPU supports AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn sine(amp: f64, phase: u64, inc: u64, out: &mut [f64]) -> u64 {
        let (mut p, step) = phases(phase, inc);
        let va = _mm256_set1_pd(amp);
        let (half, quarter) = (_mm256_set1_pd(0.5), _mm256_set1_pd(0.25));
        let (one, tau) = (_mm256_set1_pd(1.0), _mm256_set1_pd(core::f64::consts::TAU));
        let done = out.len() / 4 * 4;
        for chunk in out.chunks_exact_mut(4) {
            let c = frac52(p);
            // r = c >= 0.5 ? c - 1 : c
            let r = _mm256_blendv_pd(c, _mm256_sub_pd(c, one), _mm256_cmp_pd::<_CMP_GE_OQ>(c, half));
            // r > 0.25 ? 0.5 - r : (r < -0.25 ? -0.5 - r : r)
            let nh = _mm256_sub_pd(_mm256_setzero_pd(), half);
            let nq = _mm256_sub_pd(_mm256_setzero_pd(), quarter);
            let low = _mm256_blendv_pd(r, _mm256_sub_pd(nh, r), _mm256_cmp_pd::<_CMP_LT_OQ>(r, nq));
            let r = _mm256_blendv_pd(low, _mm256_sub_pd(half, r), _mm256_cmp_pd::<_CMP_GT_OQ>(r, quarter));
            let t = _mm256_mul_pd(r, tau);
            let s = _mm256_mul_pd(t, t);
            let mut acc = _mm256_set1_pd(SIN_C[8]);
            for &k in SIN_C[..8].iter().rev() {
                acc = _mm256_add_pd(_mm256_mul_pd(acc, s), _mm256_set1_pd(k));
            }
            let y = _mm256_add_pd(t, _mm256_mul_pd(t, _mm256_mul_pd(s, acc)));
            let mut a = [0.0; 4];
            // SAFETY: `a` holds 4 f64.
            unsafe { _mm256_storeu_pd(a.as_mut_ptr(), _mm256_mul_pd(va, y)) };
            chunk.copy_from_slice(&a);
            p = _mm256_add_epi64(p, step);
        }
        let p = phase.wrapping_add(inc.wrapping_mul(done as u64));
        let rest = out.get_mut(done..).unwrap_or(&mut []);
        super::scalar_sine(amp, p, inc, rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::supported_levels;
    use core::f64::consts::TAU;

    #[test]
    fn phase_conversion_wraps_and_is_exact_on_binary_fractions() {
        assert_eq!(phase_of_cycles(0.0), 0);
        assert_eq!(phase_of_cycles(1.0), 0);
        assert_eq!(phase_of_cycles(0.5), 1 << 63);
        assert_eq!(phase_of_cycles(-0.5), 1 << 63);
        assert_eq!(phase_of_cycles(0.125 + 7.0), 1 << 61);
        assert_eq!(phase_of_cycles(f64::NAN), 0);
        assert_eq!(phase_of_cycles(f64::INFINITY), 0);
        // Frac of a non-binary fraction: within one unit of the exact product.
        let want = 0.1 * CYCLE;
        assert!((phase_of_cycles(0.1) as f64 - want).abs() <= want * 1e-15);
    }

    #[test]
    fn sine_matches_f64_sin_everywhere() {
        let mut worst = 0.0f64;
        for k in 0..200_000u64 {
            // Phases spread over the cycle, including the fold points.
            let p = k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let want = (TAU * (p as f64 / CYCLE)).sin();
            worst = worst.max((sine_of_phase(p) - want).abs());
        }
        for q in [0u64, 1 << 62, 1 << 63, 3 << 62, u64::MAX, (1 << 62) - 1, (1 << 62) + 1] {
            let want = (TAU * (q as f64 / CYCLE)).sin();
            worst = worst.max((sine_of_phase(q) - want).abs());
        }
        assert!(worst < 4e-15, "worst error {worst}");
        // The peaks: within one ulp of ±1, never beyond.
        let (top, bottom) = (sine_of_phase(1 << 62), sine_of_phase(3 << 62));
        assert!(top <= 1.0 && 1.0 - top <= f64::EPSILON, "{top}");
        assert!(bottom >= -1.0 && bottom + 1.0 <= f64::EPSILON, "{bottom}");
        assert_eq!(sine_of_phase(0), 0.0);
    }

    /// A level of `len` coefficients (samples of a sum of sines) with its
    /// guard points, and the coefficient at any integer index (periodic).
    fn table(len: usize) -> (Vec<f32>, impl Fn(i64) -> f64) {
        let f = move |j: i64| {
            let x = j.rem_euclid(len as i64) as f64 / len as f64;
            f64::from((0.6 * (TAU * x).sin() + 0.3 * (3.0 * TAU * x).cos()) as f32)
        };
        let data: Vec<f32> = (-1..len as i64 + 2).map(|j| f(j) as f32).collect();
        (data, f)
    }

    /// The uniform cubic B-spline basis (textbook piecewise form) at `x`.
    fn b3(x: f64) -> f64 {
        let x = x.abs();
        if x < 1.0 {
            (4.0 - 6.0 * x * x + 3.0 * x * x * x) / 6.0
        } else if x < 2.0 {
            (2.0 - x).powi(3) / 6.0
        } else {
            0.0
        }
    }

    #[test]
    fn level_read_is_the_cubic_b_spline_of_its_coefficients() {
        let n = 2048usize;
        let (data, c) = table(n);
        let level = TableLevel::new(&data).unwrap();
        for j in 0..4096u64 {
            let p = j.wrapping_mul(0x0123_4567_89AB_CDEF) ^ (j << 60);
            // Position in points, and the spline as a sum of shifted bases (f64).
            let x = p as f64 / CYCLE * n as f64;
            let i = x.floor() as i64;
            let want: f64 = (i - 1..=i + 2).map(|k| c(k) * b3(x - k as f64)).sum();
            // f32 arithmetic and a 24-bit position: within a few f32 ulps.
            assert!((level.read(p) - want).abs() < 5e-7, "phase {p:#x}: {} vs {want}", level.read(p));
        }
        // On a point the spline is (c(i-1) + 4c(i) + c(i+1))/6.
        let p = 100u64 << (64 - 11);
        assert!((level.read(p) - (c(99) + 4.0 * c(100) + c(101)) / 6.0).abs() < 2e-7);
        // Across the wrap: the guard points are the period's other end.
        for p in [u64::MAX, u64::MAX - (1 << 40), 1, 1 << 40] {
            let x = p as f64 / CYCLE * n as f64;
            let x = if x >= n as f64 { x - n as f64 } else { x };
            let i = x.floor() as i64;
            let want: f64 = (i - 1..=i + 2).map(|k| c(k) * b3(x - k as f64)).sum();
            assert!((level.read(p) - want).abs() < 5e-7, "phase {p:#x}");
        }
        assert!(TableLevel::new(&data[..100]).is_none());
        assert!(TableLevel::new(&data[..2048 + 1]).is_none());
        assert!(TableLevel::new(&[]).is_none());
    }

    #[test]
    fn every_level_equals_the_scalar_reference_bit_for_bit() {
        let (d1, _) = table(2048);
        let (d2, _) = table(8192);
        let mix2 = TableMix { lo: TableLevel::new(&d1).unwrap(), hi: Some((TableLevel::new(&d2).unwrap(), 0.37)) };
        let mix1 = TableMix { lo: TableLevel::new(&d2).unwrap(), hi: None };
        for level in supported_levels() {
            for len in [0usize, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 127, 128, 1000] {
                for (phase, inc) in
                    [(0u64, 1u64 << 55), (u64::MAX - 5, 0x0123_4567_89AB_CDEF), (1 << 63, u64::MAX - 77)]
                {
                    // Amplitude 1 takes the kernel's path without the multiply.
                    for (mix, amp) in [(&mix1, 0.7), (&mix2, 0.7), (&mix1, 1.0), (&mix2, 1.0)] {
                        let mut got = vec![9.0; len];
                        let end = table_at(level, mix, amp, phase, inc, &mut got);
                        let mut p = phase;
                        for (i, g) in got.iter().enumerate() {
                            let want = amp * mix.read(p);
                            assert_eq!(g.to_bits(), want.to_bits(), "{level} amp {amp} len {len} frame {i}");
                            p = p.wrapping_add(inc);
                        }
                        assert_eq!(end, p);
                    }
                    let mut got = vec![9.0; len];
                    let end = sine_at(level, -0.5, phase, inc, &mut got);
                    let mut p = phase;
                    for (i, g) in got.iter().enumerate() {
                        assert_eq!(g.to_bits(), (-0.5 * sine_of_phase(p)).to_bits(), "{level} sine frame {i}");
                        p = p.wrapping_add(inc);
                    }
                    assert_eq!(end, p);
                }
            }
        }
    }
}
