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
//! Every path performs the same f64 operations in the same order per frame
//! (plain multiply and add, no FMA), so the AVX2 path equals the scalar
//! reference bit for bit (tested). The positions are taken from the top 52
//! fraction bits of the phase, exactly.
//!
//! # Levels
//! Scalar everywhere; AVX2 (also used on AVX-512 CPUs) runs 4 frames per step.
//! The table read fetches both interpolation points of a frame with one
//! 8-byte load (four per level and step); a variant with AVX2 gathers
//! ([`table_gather_at`]) gives the same bits and was about 1.4x slower on
//! Zen 3 (`cargo bench --bench kernels -- osc_128`).

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

/// One level of a band-limited table: `2^bits` points of one period plus a
/// guard point (a copy of the first), read with linear interpolation.
#[derive(Debug, Clone, Copy)]
pub struct TableLevel<'a> {
    data: &'a [f32],
    bits: u32,
}

impl<'a> TableLevel<'a> {
    /// A level over `data`, which must hold `2^bits + 1` points with
    /// `1 <= bits <= 30` (else `None`).
    pub fn new(data: &'a [f32]) -> Option<Self> {
        let len = data.len().checked_sub(1)?;
        if !len.is_power_of_two() || !(2..=1 << 30).contains(&len) {
            return None;
        }
        Some(Self { data, bits: len.trailing_zeros() })
    }

    /// The level at phase `p` (scalar reference).
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    #[inline(always)]
    pub fn read(&self, p: u64) -> f64 {
        let i = (p >> (64 - self.bits)) as usize;
        let frac = frac52(p << self.bits);
        // `i < 2^bits` and `data.len() == 2^bits + 1` (checked in `new`).
        let (a, b) = match self.data.get(i..i + 2) {
            Some(&[a, b]) => (f64::from(a), f64::from(b)),
            _ => (0.0, 0.0),
        };
        a + frac * (b - a)
    }
}

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
        return unsafe { avx2::table_loads(table, amp, phase, inc, out) };
    }
    let _ = level;
    scalar_table(table, amp, phase, inc, out)
}

/// [`table_at`] with AVX2 gathers (one 64-bit gather per level fetches both
/// interpolation points of 4 frames) instead of four plain 8-byte loads: the
/// same bits; kept for the A/B in `cargo bench --bench kernels` (on Zen 3
/// the loads are about 1.4x faster, so [`table_at`] uses them).
///
/// # Realtime
/// Does not allocate, lock or panic.
pub fn table_gather_at(level: SimdLevel, table: &TableMix<'_>, amp: f64, phase: u64, inc: u64, out: &mut [f64]) -> u64 {
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

    /// `level.read` on 4 phases.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn read(level: &TableLevel<'_>, p: __m256i) -> __m256d {
        let idx = _mm256_srl_epi64(p, _mm_cvtsi32_si128(64 - level.bits as i32));
        let frac = frac52(_mm256_sll_epi64(p, _mm_cvtsi32_si128(level.bits as i32)));
        // SAFETY: every index is below 2^bits and the data holds 2^bits + 1
        // f32 (checked in `TableLevel::new`), so the 8 bytes at `4·idx` (points
        // idx and idx + 1) are inside the slice.
        let pairs = unsafe { _mm256_i64gather_epi64::<4>(level.data.as_ptr().cast::<i64>(), idx) };
        // Low 32 bits of each pair: point idx; high: idx + 1.
        let split = _mm256_permutevar8x32_ps(_mm256_castsi256_ps(pairs), _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7));
        let a = _mm256_cvtps_pd(_mm256_castps256_ps128(split));
        let b = _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(split));
        _mm256_add_pd(a, _mm256_mul_pd(frac, _mm256_sub_pd(b, a)))
    }

    /// `level.read` on the 4 phases `p + k·inc` (`k = 0..4`) with four
    /// 8-byte loads instead of a gather.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn read_loads(level: &TableLevel<'_>, p: u64, inc: u64, pv: __m256i) -> __m256d {
        let shift = 64 - level.bits;
        let ptr = level.data.as_ptr();
        let load = |k: u64| {
            let i = (p.wrapping_add(inc.wrapping_mul(k)) >> shift) as usize;
            // SAFETY: `i < 2^bits` and the data holds `2^bits + 1` f32, so the
            // 8 bytes of points i and i + 1 are inside the slice.
            unsafe { _mm_loadl_epi64(ptr.add(i).cast::<__m128i>()) }
        };
        let lo = _mm_unpacklo_epi64(load(0), load(1));
        let hi = _mm_unpacklo_epi64(load(2), load(3));
        let pairs = _mm256_set_m128i(hi, lo);
        let frac = frac52(_mm256_sll_epi64(pv, _mm_cvtsi32_si128(level.bits as i32)));
        let split = _mm256_permutevar8x32_ps(_mm256_castsi256_ps(pairs), _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7));
        let a = _mm256_cvtps_pd(_mm256_castps256_ps128(split));
        let b = _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(split));
        _mm256_add_pd(a, _mm256_mul_pd(frac, _mm256_sub_pd(b, a)))
    }

    /// The table read of 4 frames per step with plain 8-byte loads.
    /// Safety: the CPU supports AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn table_loads(t: &TableMix<'_>, amp: f64, phase: u64, inc: u64, out: &mut [f64]) -> u64 {
        // A unit amplitude (the default) skips the multiply: `y·1.0 == y`.
        if amp == 1.0 {
            // SAFETY: as for this function.
            unsafe { table_loads_amp::<false>(t, amp, phase, inc, out) }
        } else {
            // SAFETY: as for this function.
            unsafe { table_loads_amp::<true>(t, amp, phase, inc, out) }
        }
    }

    /// [`table_loads`] with (`AMP`) or without the amplitude multiply.
    /// Safety: the CPU supports AVX2.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn table_loads_amp<const AMP: bool>(
        t: &TableMix<'_>,
        amp: f64,
        phase: u64,
        inc: u64,
        out: &mut [f64],
    ) -> u64 {
        let (mut pv, step) = phases(phase, inc);
        let va = _mm256_set1_pd(amp);
        let done = out.len() / 4 * 4;
        let mut p = phase;
        let inc4 = inc.wrapping_mul(4);
        for chunk in out.chunks_exact_mut(4) {
            let lo = read_loads(&t.lo, p, inc, pv);
            let y = match t.hi {
                Some((hi, w)) => {
                    _mm256_add_pd(lo, _mm256_mul_pd(_mm256_set1_pd(w), _mm256_sub_pd(read_loads(&hi, p, inc, pv), lo)))
                }
                None => lo,
            };
            let y = if AMP { _mm256_mul_pd(va, y) } else { y };
            let mut a = [0.0; 4];
            // SAFETY: `a` holds 4 f64.
            unsafe { _mm256_storeu_pd(a.as_mut_ptr(), y) };
            chunk.copy_from_slice(&a);
            pv = _mm256_add_epi64(pv, step);
            p = p.wrapping_add(inc4);
        }
        let p = phase.wrapping_add(inc.wrapping_mul(done as u64));
        let rest = out.get_mut(done..).unwrap_or(&mut []);
        super::scalar_table(t, amp, p, inc, rest)
    }

    /// Safety: the CPU supports AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn table(t: &TableMix<'_>, amp: f64, phase: u64, inc: u64, out: &mut [f64]) -> u64 {
        let (mut p, step) = phases(phase, inc);
        let va = _mm256_set1_pd(amp);
        let done = out.len() / 4 * 4;
        for chunk in out.chunks_exact_mut(4) {
            let lo = read(&t.lo, p);
            let y = match t.hi {
                Some((hi, w)) => _mm256_add_pd(lo, _mm256_mul_pd(_mm256_set1_pd(w), _mm256_sub_pd(read(&hi, p), lo))),
                None => lo,
            };
            let mut a = [0.0; 4];
            // SAFETY: `a` holds 4 f64.
            unsafe { _mm256_storeu_pd(a.as_mut_ptr(), _mm256_mul_pd(va, y)) };
            chunk.copy_from_slice(&a);
            p = _mm256_add_epi64(p, step);
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

    /// A table of `len + 1` points of a sum of sines, and its formula.
    fn table(len: usize) -> (Vec<f32>, impl Fn(f64) -> f64) {
        let f = |x: f64| 0.6 * (TAU * x).sin() + 0.3 * (3.0 * TAU * x).cos();
        let data: Vec<f32> = (0..=len).map(|i| f(i as f64 / len as f64) as f32).collect();
        (data, f)
    }

    #[test]
    fn level_read_interpolates_linearly_between_points() {
        let (data, f) = table(2048);
        let level = TableLevel::new(&data).unwrap();
        for j in 0..4096u64 {
            let p = j.wrapping_mul(0x0123_4567_89AB_CDEF) ^ (j << 60);
            let x = p as f64 / CYCLE * 2048.0;
            let (i, fr) = (x.floor() as usize, x - x.floor());
            let (a, b) = (f64::from(data[i]), f64::from(data[i + 1]));
            let want = a + fr * (b - a);
            assert!((level.read(p) - want).abs() < 1e-12, "phase {p:#x}");
            // And close to the underlying function (interpolation error).
            assert!((level.read(p) - f(p as f64 / CYCLE)).abs() < 1e-4);
        }
        assert!(TableLevel::new(&data[..100]).is_none());
        assert!(TableLevel::new(&[]).is_none());
    }

    #[test]
    fn every_level_equals_the_scalar_reference_bit_for_bit() {
        let (d1, _) = table(2048);
        let (d2, _) = table(8192);
        let mix2 = TableMix { lo: TableLevel::new(&d1).unwrap(), hi: Some((TableLevel::new(&d2).unwrap(), 0.37)) };
        let mix1 = TableMix { lo: TableLevel::new(&d2).unwrap(), hi: None };
        for level in supported_levels() {
            for len in [0usize, 1, 3, 4, 5, 127, 128, 1000] {
                for (phase, inc) in
                    [(0u64, 1u64 << 55), (u64::MAX - 5, 0x0123_4567_89AB_CDEF), (1 << 63, u64::MAX - 77)]
                {
                    // Amplitude 1 takes the kernel's path without the multiply.
                    for (mix, amp) in [(&mix1, 0.7), (&mix2, 0.7), (&mix1, 1.0), (&mix2, 1.0)] {
                        for f in [table_at, table_gather_at] {
                            let mut got = vec![9.0; len];
                            let end = f(level, mix, amp, phase, inc, &mut got);
                            let mut p = phase;
                            for (i, g) in got.iter().enumerate() {
                                let want = amp * mix.read(p);
                                assert_eq!(g.to_bits(), want.to_bits(), "{level} amp {amp} len {len} frame {i}");
                                p = p.wrapping_add(inc);
                            }
                            assert_eq!(end, p);
                        }
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
