//! A series EQ of up to [`MAX_CASCADE_STAGES`] biquads on one signal,
//! pipelined across its stages (the "wavefront" scheme).
//!
//! A recursive filter cannot be vectorised across time (each output needs the
//! previous one; this is the reference guide's AVX-512 defect). A cascade can
//! be vectorised across its *stages*: vector lane `k` runs stage `k`, and at
//! step `n` it filters sample `n − k`, whose input is what lane `k − 1`
//! produced at step `n − 1`. Each step shifts the previous outputs up one lane
//! (the new input sample enters lane 0) and runs every stage at once. The
//! pipeline fills during the first `S − 1` steps of a call and drains during
//! the last `S − 1`, with the lanes that have no sample masked so their state
//! is untouched; so every call is complete (no latency) and a block split
//! anywhere gives the same samples as one call.
//!
//! Each stage performs exactly the operations of the serial TDF-II step
//! (see [`super::biquad`]), so the result equals running the stages in series:
//! bit for bit with the plain step on Scalar / SSE4.2 and with the fused step
//! on AVX2 / AVX-512. One cascade runs at AVX2 and at AVX-512 on two AVX2
//! vectors that hold the even and the odd stages, so that only every other
//! carry moves lanes (`avx2_mono`; faster than 8 stages in one AVX-512
//! vector, see there); SSE4.2 holds one stage per vector.
//!
//! Two cascades with the same stage count (a stereo EQ) run as one wavefront
//! over (stage, channel) lanes `[s0·L, s0·R, s1·L, s1·R, …]`
//! ([`BiquadCascade::process_pair`]): the carry to the next stage is then a
//! shift by two lanes, a whole 128-bit half, which is one lane permute per
//! vector on AVX2 and nothing at all on SSE4.2 (one stage per vector). The
//! fill/drain masks are the single cascade's, one bit per stage spread over
//! both channels' lanes.

use super::biquad::{tdf2_step, BiquadCoeffs};
use super::dispatch::simd_level;
use super::{dispatch_level, for_each_simd_level, SimdLevel};

/// Most stages one [`BiquadCascade`] holds; chain cascades for more.
pub const MAX_CASCADE_STAGES: usize = 8;

const MAX: usize = MAX_CASCADE_STAGES;

/// Coefficients and state of a cascade, one array slot per stage.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Planes {
    b0: [f64; MAX],
    b1: [f64; MAX],
    b2: [f64; MAX],
    a1: [f64; MAX],
    a2: [f64; MAX],
    z1: [f64; MAX],
    z2: [f64; MAX],
}

/// Up to 8 biquads in series on one signal, pipelined across stages.
///
/// Holds no heap memory: creating, copying and dropping it is real-time safe.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BiquadCascade {
    stages: usize,
    p: Planes,
}

impl BiquadCascade {
    /// A cascade of `stages` identity biquads with zero state; `stages` is
    /// clamped to [`MAX_CASCADE_STAGES`] (0 is a pass-through).
    ///
    /// ```
    /// use ferrite_dsp::kernels::{BiquadCascade, BiquadCoeffs};
    /// let mut eq = BiquadCascade::new(2);
    /// eq.set_coeffs(1, BiquadCoeffs { b0: 0.5, ..BiquadCoeffs::IDENTITY });
    /// let mut x = [1.0, 2.0, 3.0];
    /// eq.process(&mut x);
    /// assert_eq!(x, [0.5, 1.0, 1.5]);
    /// ```
    pub fn new(stages: usize) -> Self {
        let id = BiquadCoeffs::IDENTITY;
        Self {
            stages: stages.min(MAX),
            p: Planes {
                b0: [id.b0; MAX],
                b1: [id.b1; MAX],
                b2: [id.b2; MAX],
                a1: [id.a1; MAX],
                a2: [id.a2; MAX],
                z1: [0.0; MAX],
                z2: [0.0; MAX],
            },
        }
    }

    /// Number of stages.
    pub fn stages(&self) -> usize {
        self.stages
    }

    /// Sets a stage's coefficients; `false` if `stage` is out of range.
    ///
    /// # Realtime
    /// No allocation, lock or panic.
    pub fn set_coeffs(&mut self, stage: usize, c: BiquadCoeffs) -> bool {
        if stage >= self.stages {
            return false;
        }
        let p = &mut self.p;
        let planes = [&mut p.b0, &mut p.b1, &mut p.b2, &mut p.a1, &mut p.a2];
        for (plane, v) in planes.into_iter().zip([c.b0, c.b1, c.b2, c.a1, c.a2]) {
            if let Some(slot) = plane.get_mut(stage) {
                *slot = v;
            }
        }
        true
    }

    /// A stage's coefficients.
    pub fn coeffs(&self, stage: usize) -> Option<BiquadCoeffs> {
        if stage >= self.stages {
            return None;
        }
        let p = &self.p;
        Some(BiquadCoeffs {
            b0: *p.b0.get(stage)?,
            b1: *p.b1.get(stage)?,
            b2: *p.b2.get(stage)?,
            a1: *p.a1.get(stage)?,
            a2: *p.a2.get(stage)?,
        })
    }

    /// A stage's state `[z1, z2]`.
    pub fn state(&self, stage: usize) -> Option<[f64; 2]> {
        if stage >= self.stages {
            return None;
        }
        Some([*self.p.z1.get(stage)?, *self.p.z2.get(stage)?])
    }

    /// Whether `other` has the same stage count and every stage's state is
    /// the same as here, bit for bit (two channels through the same
    /// coefficients then give the same samples for the same input).
    ///
    /// # Realtime
    /// No allocation, lock or panic.
    pub fn same_state(&self, other: &Self) -> bool {
        let n = self.stages;
        let eq = |a: &[f64; MAX], b: &[f64; MAX]| a.iter().zip(b).take(n).all(|(x, y)| x.to_bits() == y.to_bits());
        n == other.stages && eq(&self.p.z1, &other.p.z1) && eq(&self.p.z2, &other.p.z2)
    }

    /// Sets a stage's state; `false` if out of range.
    ///
    /// # Realtime
    /// No allocation, lock or panic.
    pub fn set_state(&mut self, stage: usize, z: [f64; 2]) -> bool {
        if stage >= self.stages {
            return false;
        }
        match (self.p.z1.get_mut(stage), self.p.z2.get_mut(stage)) {
            (Some(a), Some(b)) => {
                (*a, *b) = (z[0], z[1]);
                true
            }
            _ => false,
        }
    }

    /// Zeroes every state.
    ///
    /// # Realtime
    /// No allocation, lock or panic.
    pub fn reset(&mut self) {
        self.p.z1 = [0.0; MAX];
        self.p.z2 = [0.0; MAX];
    }

    /// Zeroes the state of every stage whose state is not finite (both of
    /// its values), as a filter does after a non-finite input so that it
    /// recovers.
    ///
    /// # Realtime
    /// No allocation, lock or panic.
    pub fn clear_non_finite_states(&mut self) {
        for (z1, z2) in self.p.z1.iter_mut().zip(self.p.z2.iter_mut()).take(self.stages) {
            if !(z1.is_finite() && z2.is_finite()) {
                (*z1, *z2) = (0.0, 0.0);
            }
        }
    }

    /// Filters `data` in place through every stage in series.
    ///
    /// # Realtime
    /// No allocation, lock or panic.
    pub fn process(&mut self, data: &mut [f64]) {
        self.process_at(simd_level(), data)
    }

    /// Filters two signals through two cascades (for example the left and
    /// right channel of one EQ) in one interleaved stereo wavefront. The
    /// result is exactly that of `self.process(a); other.process(b)` (bit for
    /// bit, state included); if the stage counts or lengths differ it is done
    /// that way.
    ///
    /// The vector lanes are (stage, channel) pairs, `[s0·a, s0·b, s1·a, s1·b,
    /// …]`, so "stage `k` takes stage `k − 1`'s previous output" is a shift by
    /// two lanes: one 128-bit lane permute per vector on AVX2 (4 vectors for
    /// 8 stages), register renaming on SSE4.2, one `valignq` per vector on
    /// AVX-512 (2 vectors). Scalar runs the two cascades one after the other.
    ///
    /// Each (stage, channel) lane does exactly the serial TDF-II step, so the
    /// bits do not depend on the pairing. On SSE4.2 (one stage per vector) a
    /// pass holds at most 4 stages, so that the state stays in registers:
    /// 8 stages run as two complete 4-stage passes.
    ///
    /// Measured on a shared 2-core Zen 3 VM (AVX2, no AVX-512; numbers vary
    /// by about ±15 % from run to run there), 8 stages, 128 frames per channel,
    /// `cargo bench --bench biquad -- --warm-up-time 1 --measurement-time 1
    /// cascade`: `cascade_8_pair/avx2` went from 1.84–1.93 µs (the previous
    /// lock-step pair, no faster than two calls) to 0.85–0.95 µs, while two
    /// `process` calls take 1.3–1.5 µs (`cascade_8/avx2` 0.67–0.75 µs each);
    /// the summary's `ratio cascade pair/serial` went from 1.94 to 3.2–4.1
    /// (`ratio cascade/serial`, one channel, 2.3–2.5). So on AVX2 a stereo
    /// pair costs about 0.55–0.7 of two calls (about 6 ns per step of 16
    /// biquad-samples; each step issues 20 multiply/FMA operations, which
    /// bound it on 2 FMA ports).
    /// `cascade_8_pair/sse4.2` stayed about as before (2.2–2.6 µs). AVX-512
    /// was not measured (not available there).
    ///
    /// # Realtime
    /// No allocation, lock or panic.
    pub fn process_pair(&mut self, a: &mut [f64], other: &mut Self, b: &mut [f64]) {
        self.process_pair_at(simd_level(), a, other, b)
    }

    /// [`Self::process_pair`] at a chosen level.
    ///
    /// # Realtime
    /// No allocation, lock or panic.
    pub fn process_pair_at(&mut self, level: SimdLevel, a: &mut [f64], other: &mut Self, b: &mut [f64]) {
        let s = self.stages;
        if s != other.stages || a.len() != b.len() || s == 0 || a.is_empty() {
            self.process_at(level, a);
            other.process_at(level, b);
            return;
        }
        let (pa, pb) = (&mut self.p, &mut other.p);
        dispatch_level!(
            level,
            {
                scalar::process(pa, s, a);
                scalar::process(pb, s, b);
            },
            process_stereo([pa, pb], s, [a, b])
        )
    }

    /// [`Self::process`] at a chosen level.
    ///
    /// # Realtime
    /// No allocation, lock or panic.
    pub fn process_at(&mut self, level: SimdLevel, data: &mut [f64]) {
        let s = self.stages;
        if s == 0 || data.is_empty() {
            return;
        }
        let p = &mut self.p;
        #[cfg(target_arch = "x86_64")]
        if avx2_mono::chosen(level) {
            // SAFETY: `chosen` checked that AVX2 and FMA are present.
            unsafe { avx2_mono::process(p, s, data) };
            return;
        }
        dispatch_level!(level, scalar::process(p, s, data), process(p, s, data))
    }
}

/// Whether the tests run the emulated 8-lane vocabulary instead.
#[inline(always)]
fn emulated() -> bool {
    #[cfg(all(test, target_arch = "x86_64"))]
    if super::testutil::emu8_on() {
        return true;
    }
    false
}

/// Bit `k` set iff lane (stage) `k < stages` has a sample at pipeline step
/// `step` of a call over `n` samples: `k ≤ step` and `step − k < n`.
#[inline(always)]
fn active_lanes(step: usize, n: usize, stages: usize) -> u32 {
    let below = |k: usize| -> u32 {
        // Bits 0..k set, for k ≤ MAX (< 32).
        (1u32 << k.min(MAX)) - 1
    };
    let started = below(step.saturating_add(1));
    let finished = below((step + 1).saturating_sub(n));
    started & !finished & below(stages)
}

/// Lanes of the interleaved stereo wavefront: one per (stage, channel).
const PAIR_LANES: usize = 2 * MAX;

/// Interleaves one plane of two cascades from stage `first` on: slot
/// `2k + c` is stage `first + k` of cascade `c` (zero past the last stage).
#[inline(always)]
fn interleave(a: &[f64; MAX], b: &[f64; MAX], first: usize) -> [f64; PAIR_LANES] {
    let mut out = [0.0; PAIR_LANES];
    let (a, b) = (a.get(first..).unwrap_or(&[]), b.get(first..).unwrap_or(&[]));
    for (o, (x, y)) in out.chunks_exact_mut(2).zip(a.iter().zip(b)) {
        if let [l, r] = o {
            (*l, *r) = (*x, *y);
        }
    }
    out
}

/// The stage mask of [`active_lanes`] spread over (stage, channel) lanes:
/// bit `k` becomes bits `2k` and `2k + 1`.
#[inline(always)]
fn pair_bits(stage_bits: u32) -> u32 {
    let mut out = 0;
    for k in 0..MAX {
        if (stage_bits >> k) & 1 != 0 {
            out |= 0b11 << (2 * k);
        }
    }
    out
}

/// Per level, the two-lane moves of the stereo wavefront (lane pairs are
/// one stage's two channels):
/// `shift2(v, prev) = [prev[W−2], prev[W−1], v[0], …, v[W−3]]` and
/// `enter2(v, a, b) = [a, b, v[0], …, v[W−3]]`.
mod lanes2 {
    #[cfg(target_arch = "x86_64")]
    pub(super) mod sse {
        use crate::kernels::vocab::sse::*;
        use core::arch::x86_64::*;

        /// One vector is one stage: the shift is the previous vector itself.
        #[inline]
        #[target_feature(enable = "sse4.2")]
        pub fn shift2(_v: V, prev: V) -> V {
            prev
        }
        #[inline]
        #[target_feature(enable = "sse4.2")]
        pub fn enter2(_v: V, a: f64, b: f64) -> V {
            _mm_set_pd(b, a)
        }
        /// Lanes `lane` and `lane + 1` (`lane` is 0 here).
        #[inline]
        #[target_feature(enable = "sse4.2")]
        pub fn pair_at(v: V, _lane: usize) -> [f64; 2] {
            [_mm_cvtsd_f64(v), _mm_cvtsd_f64(_mm_unpackhi_pd(v, v))]
        }
    }

    #[cfg(target_arch = "x86_64")]
    pub(super) mod avx2 {
        use crate::kernels::vocab::avx2::*;
        use core::arch::x86_64::*;

        /// `[prev.hi, v.lo]`: one 128-bit lane permute.
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        pub fn shift2(v: V, prev: V) -> V {
            _mm256_permute2f128_pd::<0x21>(prev, v)
        }
        /// `[(a, b), v.lo]`.
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        pub fn enter2(v: V, a: f64, b: f64) -> V {
            _mm256_insertf128_pd::<1>(_mm256_castpd128_pd256(_mm_set_pd(b, a)), _mm256_castpd256_pd128(v))
        }
        /// Lanes `lane` and `lane + 1` (`lane` is 0 or 2), without a trip
        /// through memory.
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        pub fn pair_at(v: V, lane: usize) -> [f64; 2] {
            let h = if lane >= 2 { _mm256_extractf128_pd::<1>(v) } else { _mm256_castpd256_pd128(v) };
            [_mm_cvtsd_f64(h), _mm_cvtsd_f64(_mm_unpackhi_pd(h, h))]
        }
    }

    // AVX-512 intrinsics: see the note on `x86::avx512`.
    #[cfg(target_arch = "x86_64")]
    #[allow(clippy::incompatible_msrv)]
    pub(super) mod avx512 {
        use crate::kernels::vocab::avx512::*;
        use core::arch::x86_64::*;

        /// `valignq` by 6 over `[prev, v]`.
        #[inline]
        #[target_feature(enable = "avx512f")]
        pub fn shift2(v: V, prev: V) -> V {
            _mm512_castsi512_pd(_mm512_alignr_epi64::<6>(_mm512_castpd_si512(v), _mm512_castpd_si512(prev)))
        }
        #[inline]
        #[target_feature(enable = "avx512f")]
        pub fn enter2(v: V, a: f64, b: f64) -> V {
            shift2(v, _mm512_set_pd(b, a, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0))
        }
        /// Lanes `lane` and `lane + 1`.
        #[inline]
        #[target_feature(enable = "avx512f")]
        pub fn pair_at(v: V, lane: usize) -> [f64; 2] {
            let a = to_array(v);
            [a.get(lane).copied().unwrap_or(0.0), a.get(lane + 1).copied().unwrap_or(0.0)]
        }
    }

    /// The AVX-512 moves on the emulated 8-lane vocabulary (tests).
    #[cfg(all(test, target_arch = "x86_64"))]
    pub(super) mod emu8 {
        use crate::kernels::vocab::emu8::*;

        pub fn shift2(v: V, prev: V) -> V {
            core::array::from_fn(|i| if i < 2 { prev[i + 6] } else { v[i - 2] })
        }
        pub fn enter2(v: V, a: f64, b: f64) -> V {
            shift2(v, [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, a, b])
        }
        pub fn pair_at(v: V, lane: usize) -> [f64; 2] {
            [v.get(lane).copied().unwrap_or(0.0), v.get(lane + 1).copied().unwrap_or(0.0)]
        }
    }

    #[cfg(target_arch = "aarch64")]
    pub(super) mod neon {
        use crate::kernels::vocab::neon::*;

        /// One vector is one stage: the shift is the previous vector itself.
        #[inline]
        #[target_feature(enable = "neon")]
        pub fn shift2(_v: V, prev: V) -> V {
            prev
        }
        #[inline]
        #[target_feature(enable = "neon")]
        pub fn enter2(_v: V, a: f64, b: f64) -> V {
            from_array([a, b])
        }
        /// Lanes `lane` and `lane + 1` (`lane` is 0 here).
        #[inline]
        #[target_feature(enable = "neon")]
        pub fn pair_at(v: V, _lane: usize) -> [f64; 2] {
            to_array(v)
        }
    }
}

/// AVX2 (and AVX-512), one cascade: the wavefront over two vectors that
/// hold the even and the odd stages, `[s0, s2, s4, s6]` and `[s1, s3, s5,
/// s7]`, instead of `[s0..s3]` and `[s4..s7]`. An odd stage takes the even
/// vector's previous outputs lane for lane (no move at all), and an even
/// stage the odd vector's shifted up one lane with the new sample in lane 0
/// (one lane permute and one shuffle). The loop-carried path through the two
/// vectors thus has one shift in two steps instead of one per step; a
/// standalone model of the step measured 3.1 against 4.1 ns per step here.
/// Every lane performs exactly the steps it performs in the generic kernel
/// (same inputs, same operations, same masks in fill and drain), so the bits
/// are the same.
#[cfg(target_arch = "x86_64")]
mod avx2_mono {
    use super::{active_lanes, Planes, MAX};
    use crate::kernels::vocab::avx2::{madd, mul, nmadd, select, shift_in, splat, V};
    use crate::kernels::{dispatch::runnable, SimdLevel};
    use core::arch::x86_64::*;

    /// Whether a cascade at `level` runs this kernel: at AVX2, and at
    /// AVX-512 too, where it beats the one-vector wavefront (8 stages in one
    /// `zmm`, a lane shift on the loop-carried path of every step):
    /// `cascade_8/avx512` took 586 ns per 128 frames against 312 ns for this
    /// kernel, `cascade_4/avx512` 517 against 303 (`cargo bench --bench
    /// biquad -- 'cascade_[48]/'`, AMD EPYC with AVX-512, one run; 4 stages
    /// on one AVX2 vector took 332). The bits are the same (every build
    /// fuses the step at AVX2 and AVX-512). Not when the tests emulate the
    /// 8-lane vocabulary.
    #[inline(always)]
    pub(super) fn chosen(level: SimdLevel) -> bool {
        matches!(runnable(level), SimdLevel::Avx2 | SimdLevel::Avx512)
            && runnable(SimdLevel::Avx2) == SimdLevel::Avx2
            && !super::emulated()
    }

    /// `[even, odd]` vectors of a plane.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn split(p: &[f64; MAX]) -> [V; 2] {
        let [a0, a1, a2, a3, a4, a5, a6, a7] = *p;
        [_mm256_setr_pd(a0, a2, a4, a6), _mm256_setr_pd(a1, a3, a5, a7)]
    }

    /// The plane of `[even, odd]` vectors.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn join(v: [V; 2]) -> [f64; MAX] {
        let (mut e, mut o) = ([0.0; 4], [0.0; 4]);
        // SAFETY: 4 f64 each.
        unsafe {
            _mm256_storeu_pd(e.as_mut_ptr(), v[0]);
            _mm256_storeu_pd(o.as_mut_ptr(), v[1]);
        }
        [e[0], o[0], e[1], o[1], e[2], o[2], e[3], o[3]]
    }

    /// Lane masks of the even and the odd vector from per-stage bits.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn masks(bits: u32) -> [V; 2] {
        let lane = |k: u32| if bits & (1 << k) != 0 { -1i64 } else { 0 };
        [
            _mm256_castsi256_pd(_mm256_setr_epi64x(lane(0), lane(2), lane(4), lane(6))),
            _mm256_castsi256_pd(_mm256_setr_epi64x(lane(1), lane(3), lane(5), lane(7))),
        ]
    }

    /// Lane `l` (0..4) of `v`, in registers.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn lane(v: V, l: usize) -> f64 {
        let h = if l >= 2 { _mm256_extractf128_pd::<1>(v) } else { _mm256_castpd256_pd128(v) };
        _mm_cvtsd_f64(if l & 1 == 0 { h } else { _mm_unpackhi_pd(h, h) })
    }

    struct Coefs {
        b0: [V; 2],
        b1: [V; 2],
        b2: [V; 2],
        a1: [V; 2],
        a2: [V; 2],
    }

    /// One wavefront step; `MASKED` during fill and drain (`bits`: the
    /// stages with a sample, see [`active_lanes`]).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn step<const MASKED: bool>(k: &Coefs, z1: &mut [V; 2], z2: &mut [V; 2], y: &mut [V; 2], xin: f64, bits: u32) {
        let x = [shift_in(y[1], splat(xin)), y[0]];
        let m = if MASKED { masks(bits) } else { [splat(0.0); 2] };
        for j in 0..2 {
            let yj = madd(k.b0[j], x[j], z1[j]);
            let z1n = nmadd(k.a1[j], yj, madd(k.b1[j], x[j], z2[j]));
            let z2n = nmadd(k.a2[j], yj, mul(k.b2[j], x[j]));
            y[j] = yj;
            if MASKED {
                z1[j] = select(m[j], z1n, z1[j]);
                z2[j] = select(m[j], z2n, z2[j]);
            } else {
                z1[j] = z1n;
                z2[j] = z2n;
            }
        }
    }

    /// Safety: the CPU supports AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn process(p: &mut Planes, stages: usize, data: &mut [f64]) {
        if !(1..=MAX).contains(&stages) {
            return;
        }
        let k = Coefs { b0: split(&p.b0), b1: split(&p.b1), b2: split(&p.b2), a1: split(&p.a1), a2: split(&p.a2) };
        let (mut z1, mut z2, mut y) = (split(&p.z1), split(&p.z2), [splat(0.0); 2]);
        let n = data.len();
        let last = stages - 1;
        let (out_v, out_l) = (last % 2, last / 2);
        let fill_end = last.min(n + last);
        let drain_start = n.max(fill_end);
        for t in 0..n + last {
            let xin = data.get(t).copied().unwrap_or(0.0);
            if t < fill_end || t >= drain_start {
                step::<true>(&k, &mut z1, &mut z2, &mut y, xin, active_lanes(t, n, stages));
            } else {
                step::<false>(&k, &mut z1, &mut z2, &mut y, xin, 0);
            }
            if t >= last {
                if let Some(d) = data.get_mut(t - last) {
                    *d = lane(if out_v == 0 { y[0] } else { y[1] }, out_l);
                }
            }
        }
        p.z1 = join(z1);
        p.z2 = join(z2);
    }
}

mod scalar {
    use super::*;

    pub(super) fn process(p: &mut Planes, stages: usize, data: &mut [f64]) {
        let mut c = [BiquadCoeffs::IDENTITY; MAX];
        let mut z = [[0.0; 2]; MAX];
        for k in 0..stages.min(MAX) {
            c[k] = BiquadCoeffs { b0: p.b0[k], b1: p.b1[k], b2: p.b2[k], a1: p.a1[k], a2: p.a2[k] };
            z[k] = [p.z1[k], p.z2[k]];
        }
        let (c, z) = (&c[..stages.min(MAX)], &mut z[..stages.min(MAX)]);
        for v in data.iter_mut() {
            let mut x = *v;
            for (c, z) in c.iter().zip(z.iter_mut()) {
                x = tdf2_step::<false>(c, z, x);
            }
            *v = x;
        }
        for (k, z) in z.iter().enumerate() {
            p.z1[k] = z[0];
            p.z2[k] = z[1];
        }
    }
}

macro_rules! simd_cascade {
    ($lv:ident, $feat:literal) => {
        mod $lv {
            use super::lanes2::$lv::{enter2, pair_at, shift2};
            use super::{active_lanes, interleave, pair_bits, Planes, MAX, PAIR_LANES};
            use crate::kernels::vocab::$lv::*;

            /// One cascade. Safety: the CPU supports the level's features.
            #[target_feature(enable = $feat)]
            pub(super) unsafe fn process(p: &mut Planes, stages: usize, data: &mut [f64]) {
                // SAFETY: same features.
                unsafe { process_n::<1>([p], stages, [data]) }
            }

            /// Safety: the CPU supports the level's features.
            #[target_feature(enable = $feat)]
            unsafe fn process_n<const C: usize>(p: [&mut Planes; C], stages: usize, data: [&mut [f64]; C]) {
                // Vectors needed for `stages` lanes.
                match stages.div_ceil(W) {
                    // SAFETY: same features; `NV·W <= MAX` is checked inside.
                    1 => unsafe { run::<1, C>(p, stages, data) },
                    // SAFETY: as above.
                    2 => unsafe { run::<2, C>(p, stages, data) },
                    // SAFETY: as above.
                    3 => unsafe { run::<3, C>(p, stages, data) },
                    // SAFETY: as above.
                    4 => unsafe { run::<4, C>(p, stages, data) },
                    _ => {}
                }
            }

            /// `NV` vectors from an 8-slot plane (`NV·W <= MAX`).
            #[inline]
            #[target_feature(enable = $feat)]
            fn get<const NV: usize>(plane: &[f64; MAX]) -> [V; NV] {
                let mut v = [splat(0.0); NV];
                for (j, v) in v.iter_mut().enumerate() {
                    let mut a = [0.0; W];
                    if let Some(src) = plane.get(j * W..j * W + W) {
                        a.copy_from_slice(src);
                    }
                    *v = from_array(a);
                }
                v
            }

            #[inline]
            #[target_feature(enable = $feat)]
            fn put<const NV: usize>(plane: &mut [f64; MAX], v: [V; NV]) {
                for (j, v) in v.into_iter().enumerate() {
                    if let Some(dst) = plane.get_mut(j * W..j * W + W) {
                        dst.copy_from_slice(&to_array(v));
                    }
                }
            }

            /// Coefficient vectors of `C` cascades.
            struct Coefs<const NV: usize, const C: usize> {
                b0: [[V; NV]; C],
                b1: [[V; NV]; C],
                b2: [[V; NV]; C],
                a1: [[V; NV]; C],
                a2: [[V; NV]; C],
            }

            /// State vectors and the previous step's outputs of `C` cascades.
            struct State<const NV: usize, const C: usize> {
                z1: [[V; NV]; C],
                z2: [[V; NV]; C],
                y: [[V; NV]; C],
            }

            /// One wavefront step of `C` cascades; `MASKED` during fill and drain.
            #[inline]
            #[target_feature(enable = $feat)]
            fn step_n<const NV: usize, const C: usize, const MASKED: bool>(
                k: &Coefs<NV, C>,
                st: &mut State<NV, C>,
                data: &mut [&mut [f64]; C],
                step: usize,
                n: usize,
                stages: usize,
            ) {
                let last = stages - 1;
                let (out_v, out_l) = (last / W, last % W);
                let bits = if MASKED { active_lanes(step, n, stages) } else { 0 };
                for c in 0..C {
                    let xin = data[c].get(step).copied().unwrap_or(0.0);
                    // Lane k's input is lane k−1's previous output; lane 0 takes x.
                    let mut xv = [splat(0.0); NV];
                    let mut carry = splat(xin);
                    for (xv, y) in xv.iter_mut().zip(&st.y[c]) {
                        *xv = shift_in(*y, carry);
                        carry = *y;
                    }
                    for j in 0..NV {
                        let x = xv[j];
                        let (z1, z2) = (st.z1[c][j], st.z2[c][j]);
                        let yj = madd(k.b0[c][j], x, z1);
                        let z1n = nmadd(k.a1[c][j], yj, madd(k.b1[c][j], x, z2));
                        let z2n = nmadd(k.a2[c][j], yj, mul(k.b2[c][j], x));
                        st.y[c][j] = yj;
                        if MASKED {
                            let m = mask(bits >> (j * W));
                            st.z1[c][j] = select(m, z1n, z1);
                            st.z2[c][j] = select(m, z2n, z2);
                        } else {
                            st.z1[c][j] = z1n;
                            st.z2[c][j] = z2n;
                        }
                    }
                    if step >= last {
                        if let Some(d) = data[c].get_mut(step - last) {
                            // The last stage's lane, kept in registers: a
                            // trip through memory (a store of the vector, a
                            // load of one lane) measured about twice as slow
                            // per step (`cascade_8/avx2`).
                            for (j, y) in st.y[c].iter().enumerate() {
                                if j == out_v {
                                    let [lo, hi] = pair_at(*y, out_l & !1);
                                    *d = if out_l & 1 == 0 { lo } else { hi };
                                }
                            }
                        }
                    }
                }
            }

            /// The wavefront over `NV` vectors (lanes `0..NV·W`, stages
            /// `0..stages`) for `C` independent cascades advanced in lock-step,
            /// so that their recursions overlap in the pipeline. All `data`
            /// slices must have the same length (else nothing is done).
            /// Safety: the CPU supports the level's features.
            #[target_feature(enable = $feat)]
            unsafe fn run<const NV: usize, const C: usize>(
                mut p: [&mut Planes; C],
                stages: usize,
                mut data: [&mut [f64]; C],
            ) {
                if NV == 0 || NV * W > MAX || stages == 0 || stages > NV * W {
                    return;
                }
                let n = data.first().map_or(0, |d| d.len());
                if data.iter().any(|d| d.len() != n) {
                    return;
                }
                let mut b0 = [[splat(0.0); NV]; C];
                let (mut b1, mut b2, mut a1, mut a2) = (b0, b0, b0, b0);
                let (mut z1, mut z2) = (b0, b0);
                for (c, p) in p.iter().enumerate() {
                    b0[c] = get::<NV>(&p.b0);
                    b1[c] = get::<NV>(&p.b1);
                    b2[c] = get::<NV>(&p.b2);
                    a1[c] = get::<NV>(&p.a1);
                    a2[c] = get::<NV>(&p.a2);
                    z1[c] = get::<NV>(&p.z1);
                    z2[c] = get::<NV>(&p.z2);
                }
                let k = Coefs { b0, b1, b2, a1, a2 };
                let mut st = State { z1, z2, y: [[splat(0.0); NV]; C] };
                let last = stages - 1;
                // Fill: lanes start one by one; steady: every stage lane busy;
                // drain: lanes finish one by one. Only fill and drain need masks.
                let fill_end = last.min(n + last);
                for step in 0..fill_end {
                    step_n::<NV, C, true>(&k, &mut st, &mut data, step, n, stages);
                }
                for step in fill_end..n.max(fill_end) {
                    step_n::<NV, C, false>(&k, &mut st, &mut data, step, n, stages);
                }
                for step in n.max(fill_end)..n + last {
                    step_n::<NV, C, true>(&k, &mut st, &mut data, step, n, stages);
                }
                let State { z1, z2, .. } = st;
                for (c, p) in p.iter_mut().enumerate() {
                    put::<NV>(&mut p.z1, z1[c]);
                    put::<NV>(&mut p.z2, z2[c]);
                }
            }

            /// Two cascades of equal stage count over equal lengths, as one
            /// wavefront over (stage, channel) lanes (see `process_pair`).
            /// Safety: the CPU supports the level's features.
            #[target_feature(enable = $feat)]
            pub(super) unsafe fn process_stereo(p: [&mut Planes; 2], stages: usize, data: [&mut [f64]; 2]) {
                // Stages per pass: up to 4 vectors, whose 12 state vectors fit
                // in the 16 registers (8 stages on AVX2 / AVX-512, 4 on SSE4.2;
                // more would spill the recursion to memory). Passes run one
                // after the other over the whole block, which is exactly the
                // stages in series, because each pass is complete.
                let per_pass = (2 * W).min(MAX);
                let [pa, pb] = p;
                let [a, b] = data;
                let mut first = 0;
                while first < stages.min(MAX) {
                    let count = (stages - first).min(per_pass);
                    let (p, data) = ([&mut *pa, &mut *pb], [&mut *a, &mut *b]);
                    // Vectors needed for `2·count` lanes (at most 4).
                    match (2 * count).div_ceil(W) {
                        // SAFETY: same features; `NV·W <= PAIR_LANES` is checked inside.
                        1 => unsafe { run2::<1>(p, first, count, data) },
                        // SAFETY: as above.
                        2 => unsafe { run2::<2>(p, first, count, data) },
                        // SAFETY: as above.
                        3 => unsafe { run2::<3>(p, first, count, data) },
                        // SAFETY: as above.
                        4 => unsafe { run2::<4>(p, first, count, data) },
                        _ => return,
                    }
                    first += count;
                }
            }

            /// `NV` vectors from a 16-slot interleaved plane (`NV·W <= PAIR_LANES`).
            #[inline]
            #[target_feature(enable = $feat)]
            fn get2<const NV: usize>(plane: &[f64; PAIR_LANES]) -> [V; NV] {
                let mut v = [splat(0.0); NV];
                for (j, v) in v.iter_mut().enumerate() {
                    let mut a = [0.0; W];
                    if let Some(src) = plane.get(j * W..j * W + W) {
                        a.copy_from_slice(src);
                    }
                    *v = from_array(a);
                }
                v
            }

            /// Coefficient vectors of the interleaved lanes.
            struct Coefs2<const NV: usize> {
                b0: [V; NV],
                b1: [V; NV],
                b2: [V; NV],
                a1: [V; NV],
                a2: [V; NV],
            }

            /// State vectors and the previous step's outputs.
            struct State2<const NV: usize> {
                z1: [V; NV],
                z2: [V; NV],
                y: [V; NV],
            }

            /// Stages per vector of the stereo wavefront.
            const HALF: usize = W / 2;
            /// Lane masks of one vector: entry `i` enables the (stage, channel)
            /// lanes of the stages set in `i`.
            const MASKS: usize = 1 << HALF;

            /// One stereo wavefront step; `MASKED` during fill and drain.
            /// `out` is the lane of the last stage's first channel in the
            /// last vector.
            #[inline]
            #[target_feature(enable = $feat)]
            #[allow(clippy::too_many_arguments)]
            fn step2<const NV: usize, const MASKED: bool>(
                k: &Coefs2<NV>,
                st: &mut State2<NV>,
                a: &mut [f64],
                b: &mut [f64],
                step: usize,
                n: usize,
                stages: usize,
                out: usize,
                masks: &[M; MASKS],
            ) {
                let last = stages - 1;
                // The coefficients stay in memory (as FMA memory operands): with
                // them hoisted into registers the state spills instead, and the
                // recursion then waits on store-to-load forwarding every step.
                let k = core::hint::black_box(k);
                let bits = if MASKED { active_lanes(step, n, stages) } else { 0 };
                let xa = a.get(step).copied().unwrap_or(0.0);
                let xb = b.get(step).copied().unwrap_or(0.0);
                // Lane pair k takes lane pair k−1's previous outputs; pair 0 takes x.
                let mut xv = [splat(0.0); NV];
                for j in 0..NV {
                    xv[j] = match j.checked_sub(1) {
                        None => enter2(st.y[0], xa, xb),
                        Some(i) => shift2(st.y[j], st.y[i]),
                    };
                }
                for j in 0..NV {
                    let x = xv[j];
                    let (z1, z2) = (st.z1[j], st.z2[j]);
                    let yj = madd(k.b0[j], x, z1);
                    let z1n = nmadd(k.a1[j], yj, madd(k.b1[j], x, z2));
                    let z2n = nmadd(k.a2[j], yj, mul(k.b2[j], x));
                    st.y[j] = yj;
                    if MASKED {
                        // Vector j holds stages j·W/2 .. (j+1)·W/2.
                        let idx = (bits >> (j * HALF)) as usize & (MASKS - 1);
                        let m = masks.get(idx).copied().unwrap_or(masks[0]);
                        st.z1[j] = select(m, z1n, z1);
                        st.z2[j] = select(m, z2n, z2);
                    } else {
                        st.z1[j] = z1n;
                        st.z2[j] = z2n;
                    }
                }
                if step >= last {
                    // The last stage is in the last vector (`NV` is the fewest
                    // vectors for `2·stages` lanes); a constant index keeps `y`
                    // in registers.
                    if let Some(y) = st.y.last() {
                        let [ya, yb] = pair_at(*y, out);
                        if let (Some(da), Some(db)) = (a.get_mut(step - last), b.get_mut(step - last)) {
                            (*da, *db) = (ya, yb);
                        }
                    }
                }
            }

            /// The stereo wavefront over `NV` vectors: lanes `2k + c` for
            /// stage `first + k` (`k < stages`) of cascade `c`. Both slices
            /// must have the same length (else nothing is done).
            /// Safety: the CPU supports the level's features.
            #[target_feature(enable = $feat)]
            unsafe fn run2<const NV: usize>(p: [&mut Planes; 2], first: usize, stages: usize, data: [&mut [f64]; 2]) {
                if NV == 0 || NV * W > PAIR_LANES || stages == 0 || 2 * stages > NV * W || first + stages > MAX {
                    return;
                }
                let ([pa, pb], [a, b]) = (p, data);
                let n = a.len();
                if b.len() != n {
                    return;
                }
                let k = Coefs2 {
                    b0: get2::<NV>(&interleave(&pa.b0, &pb.b0, first)),
                    b1: get2::<NV>(&interleave(&pa.b1, &pb.b1, first)),
                    b2: get2::<NV>(&interleave(&pa.b2, &pb.b2, first)),
                    a1: get2::<NV>(&interleave(&pa.a1, &pb.a1, first)),
                    a2: get2::<NV>(&interleave(&pa.a2, &pb.a2, first)),
                };
                let mut st = State2 {
                    z1: get2::<NV>(&interleave(&pa.z1, &pb.z1, first)),
                    z2: get2::<NV>(&interleave(&pa.z2, &pb.z2, first)),
                    y: [splat(0.0); NV],
                };
                let last = stages - 1;
                // 2·stages > (NV − 1)·W, so the last stage is in vector NV − 1.
                let out = 2 * last - (NV - 1) * W;
                let mut masks = [mask(0); MASKS];
                for (i, m) in masks.iter_mut().enumerate() {
                    *m = mask(pair_bits(i as u32));
                }
                // Fill: lanes start one by one; steady: every stage lane busy;
                // drain: lanes finish one by one. Only fill and drain need
                // masks. One call site per kind, so that both inline and the
                // state stays in registers.
                let fill_end = last.min(n + last);
                let mut step = 0;
                while step < n + last {
                    if step == fill_end && fill_end < n {
                        // Steady state, two steps per iteration (the unrolled
                        // body keeps the state in place instead of rotating
                        // registers), then one odd step.
                        let mut s = fill_end;
                        while s + 1 < n {
                            step2::<NV, false>(&k, &mut st, a, b, s, n, stages, out, &masks);
                            step2::<NV, false>(&k, &mut st, a, b, s + 1, n, stages, out, &masks);
                            s += 2;
                        }
                        if s < n {
                            step2::<NV, false>(&k, &mut st, a, b, s, n, stages, out, &masks);
                        }
                        step = n;
                        continue;
                    }
                    step2::<NV, true>(&k, &mut st, a, b, step, n, stages, out, &masks);
                    step += 1;
                }
                // Only the cascades' own stages take state back.
                let mut z1 = [0.0; PAIR_LANES];
                let mut z2 = [0.0; PAIR_LANES];
                for (j, (v1, v2)) in st.z1.iter().zip(&st.z2).enumerate() {
                    if let Some(d) = z1.get_mut(j * W..j * W + W) {
                        d.copy_from_slice(&to_array(*v1));
                    }
                    if let Some(d) = z2.get_mut(j * W..j * W + W) {
                        d.copy_from_slice(&to_array(*v2));
                    }
                }
                for (s, (p1, p2)) in z1.chunks_exact(2).zip(z2.chunks_exact(2)).take(stages).enumerate() {
                    if let ([a1, b1], [a2, b2]) = (p1, p2) {
                        if let (Some(x), Some(y)) = (pa.z1.get_mut(first + s), pb.z1.get_mut(first + s)) {
                            (*x, *y) = (*a1, *b1);
                        }
                        if let (Some(x), Some(y)) = (pa.z2.get_mut(first + s), pb.z2.get_mut(first + s)) {
                            (*x, *y) = (*a2, *b2);
                        }
                    }
                }
            }
        }
    };
}
for_each_simd_level!(simd_cascade);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::biquad::test_reference::{filter, random_band};
    use crate::kernels::testutil::*;

    #[test]
    fn active_lanes_follow_the_wavefront() {
        // 3 stages, 2 samples: steps 0..4.
        assert_eq!(active_lanes(0, 2, 3), 0b001);
        assert_eq!(active_lanes(1, 2, 3), 0b011);
        assert_eq!(active_lanes(2, 2, 3), 0b110);
        assert_eq!(active_lanes(3, 2, 3), 0b100);
        assert_eq!(active_lanes(20, 100, 8), 0xff);
        assert_eq!(active_lanes(0, 1, 1), 1);
    }

    #[test]
    fn cascade_equals_the_stages_run_in_series_at_every_level() {
        let mut rng = Rng::new(6);
        for_each_test_level(|level| {
            for stages in 0..=MAX {
                for &n in &[0usize, 1, 2, 7, 129, 300] {
                    let coeffs: Vec<BiquadCoeffs> = (0..stages).map(|_| random_band(&mut rng)).collect();
                    let z0: Vec<[f64; 2]> = (0..stages).map(|_| [rng.signed(), rng.signed()]).collect();
                    let mut eq = BiquadCascade::new(stages);
                    for (k, (c, z)) in coeffs.iter().zip(&z0).enumerate() {
                        assert!(eq.set_coeffs(k, *c));
                        assert!(eq.set_state(k, *z));
                    }
                    let x = rng.vec(n);
                    // Blocks of 1, 37 and the rest: the split must not matter.
                    let mut got = x.clone();
                    let (a, rest) = got.split_at_mut(n.min(1));
                    let (b, c) = rest.split_at_mut(rest.len().min(37));
                    for blk in [a, b, c] {
                        eq.process_at(level, blk);
                    }
                    let mut want = x.clone();
                    for (k, (c, z)) in coeffs.iter().zip(&z0).enumerate() {
                        let mut z = *z;
                        filter(c, &mut z, &mut want, fused(level));
                        assert_eq!(eq.state(k), Some(z), "{level} S={stages} n={n} state {k}");
                    }
                    assert_bits_eq(&got, &want, &format!("{level} S={stages} n={n}"));
                }
            }
        });
    }

    #[test]
    fn a_pair_equals_two_separate_cascades() {
        let mut rng = Rng::new(8);
        for_each_test_level(|level| {
            for stages in [1usize, 3, 5, 8] {
                for &n in &[1usize, 2, 9, 130] {
                    let mk = |rng: &mut Rng| {
                        let mut eq = BiquadCascade::new(stages);
                        for k in 0..stages {
                            eq.set_coeffs(k, random_band(rng));
                            eq.set_state(k, [rng.signed(), rng.signed()]);
                        }
                        eq
                    };
                    let (mut l, mut r) = (mk(&mut rng), mk(&mut rng));
                    let (mut l2, mut r2) = (l, r);
                    let (xl, xr) = (rng.vec(n), rng.vec(n));
                    let (mut a, mut b) = (xl.clone(), xr.clone());
                    l.process_pair_at(level, &mut a, &mut r, &mut b);
                    let (mut wa, mut wb) = (xl, xr);
                    l2.process_at(level, &mut wa);
                    r2.process_at(level, &mut wb);
                    assert_bits_eq(&a, &wa, &format!("pair left {level} S={stages} n={n}"));
                    assert_bits_eq(&b, &wb, &format!("pair right {level} S={stages} n={n}"));
                    assert_eq!((l, r), (l2, r2), "pair state {level} S={stages} n={n}");
                }
            }
            // Mismatched lengths fall back to two passes.
            let (mut l, mut r) = (BiquadCascade::new(2), BiquadCascade::new(2));
            l.set_coeffs(0, BiquadCoeffs { b0: 2.0, ..BiquadCoeffs::IDENTITY });
            let (mut a, mut b) = (vec![1.0; 3], vec![1.0; 5]);
            l.process_pair_at(level, &mut a, &mut r, &mut b);
            assert_eq!((a, b), (vec![2.0; 3], vec![1.0; 5]));
        });
    }

    /// Two cascades with random bands and random state.
    fn random_pair(rng: &mut Rng, stages: usize) -> (BiquadCascade, BiquadCascade) {
        let mut mk = || {
            let mut eq = BiquadCascade::new(stages);
            for k in 0..stages {
                assert!(eq.set_coeffs(k, random_band(rng)));
                assert!(eq.set_state(k, [rng.signed(), rng.signed()]));
            }
            eq
        };
        let l = mk();
        (l, mk())
    }

    fn state_bits(eq: &BiquadCascade) -> Vec<[u64; 2]> {
        (0..eq.stages()).filter_map(|k| eq.state(k)).map(|z| [z[0].to_bits(), z[1].to_bits()]).collect()
    }

    #[test]
    fn stereo_wavefront_equals_two_serial_calls_bit_for_bit() {
        let mut rng = Rng::new(21);
        for_each_test_level(|level| {
            for stages in 1..=MAX {
                for &n in &[0usize, 1, 5, 7, 8, 9, 128, 1000] {
                    // Block patterns: one call, and splits at odd places.
                    for blocks in [&[usize::MAX][..], &[1, 37], &[3, 1, 8, 2, 64], &[7, 7, 7]] {
                        let (mut l, mut r) = random_pair(&mut rng, stages);
                        let (mut l2, mut r2) = (l, r);
                        let (xl, xr) = (rng.vec(n), rng.vec(n));
                        let (mut a, mut b) = (xl.clone(), xr.clone());
                        let (mut ra, mut rb) = (&mut a[..], &mut b[..]);
                        for &len in blocks.iter().chain([&usize::MAX]) {
                            let len = len.min(ra.len());
                            let (ha, ta) = ra.split_at_mut(len);
                            let (hb, tb) = rb.split_at_mut(len);
                            l.process_pair_at(level, ha, &mut r, hb);
                            (ra, rb) = (ta, tb);
                        }
                        let (mut wa, mut wb) = (xl, xr);
                        l2.process_at(level, &mut wa);
                        r2.process_at(level, &mut wb);
                        let what = format!("{level} S={stages} n={n} blocks={blocks:?}");
                        assert_bits_eq(&a, &wa, &format!("left {what}"));
                        assert_bits_eq(&b, &wb, &format!("right {what}"));
                        assert_eq!(state_bits(&l), state_bits(&l2), "left state {what}");
                        assert_eq!(state_bits(&r), state_bits(&r2), "right state {what}");
                    }
                }
            }
        });
    }

    #[test]
    fn stereo_wavefront_equals_the_serial_tdf2_reference() {
        // Independent of `process_at`: every stage run in series with the
        // test reference, in the level's flavour (plain or fused).
        let mut rng = Rng::new(22);
        for_each_test_level(|level| {
            for stages in 1..=MAX {
                let (mut l, mut r) = random_pair(&mut rng, stages);
                let n = 300;
                let (xl, xr) = (rng.vec(n), rng.vec(n));
                let mut want = [xl.clone(), xr.clone()];
                for (eq, w) in [&l, &r].into_iter().zip(want.iter_mut()) {
                    for k in 0..stages {
                        let (Some(c), Some(mut z)) = (eq.coeffs(k), eq.state(k)) else { panic!("stage {k}") };
                        filter(&c, &mut z, w, fused(level));
                    }
                }
                let (mut a, mut b) = (xl, xr);
                l.process_pair_at(level, &mut a, &mut r, &mut b);
                assert_bits_eq(&a, &want[0], &format!("left {level} S={stages}"));
                assert_bits_eq(&b, &want[1], &format!("right {level} S={stages}"));
            }
        });
    }

    #[test]
    fn stereo_eq_matches_a_direct_form_one_rbj_reference() {
        // An 8-band stereo EQ of RBJ peaking bands, against a direct-form-I
        // recursion written here (mathematically equal, rounded differently).
        fn rbj_peaking(fs: f64, f0: f64, q: f64, db: f64) -> [f64; 6] {
            let a = 10f64.powf(db / 40.0);
            let w = 2.0 * std::f64::consts::PI * f0 / fs;
            let alpha = w.sin() / (2.0 * q);
            [1.0 + alpha * a, -2.0 * w.cos(), 1.0 - alpha * a, 1.0 + alpha / a, -2.0 * w.cos(), 1.0 - alpha / a]
        }
        fn df1(c: [f64; 6], x: &[f64]) -> Vec<f64> {
            let [b0, b1, b2, a0, a1, a2] = c;
            let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
            x.iter()
                .map(|&x0| {
                    let y0 = (b0 * x0 + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2) / a0;
                    (x2, x1, y2, y1) = (x1, x0, y1, y0);
                    y0
                })
                .collect()
        }
        let bands = |ch: usize| -> Vec<[f64; 6]> {
            (0..MAX)
                .map(|k| {
                    rbj_peaking(
                        48000.0,
                        60.0 * 2.2f64.powi(k as i32) * (1.0 + 0.1 * ch as f64),
                        0.5 + 0.4 * k as f64,
                        12.0 - 3.5 * k as f64,
                    )
                })
                .collect()
        };
        let mut rng = Rng::new(23);
        let n = 2000;
        let x = [rng.vec(n), rng.vec(n)];
        for_each_test_level(|level| {
            let (mut l, mut r) = (BiquadCascade::new(MAX), BiquadCascade::new(MAX));
            let mut want = x.clone();
            for (ch, (eq, w)) in [&mut l, &mut r].into_iter().zip(want.iter_mut()).enumerate() {
                for (k, c) in bands(ch).into_iter().enumerate() {
                    let [b0, b1, b2, a0, a1, a2] = c;
                    assert!(eq.set_coeffs(k, BiquadCoeffs::normalized(b0, b1, b2, a0, a1, a2)));
                    *w = df1(c, w);
                }
            }
            let (mut a, mut b) = (x[0].clone(), x[1].clone());
            // In blocks of 128, as the engine runs it.
            for (ha, hb) in a.chunks_mut(128).zip(b.chunks_mut(128)) {
                l.process_pair_at(level, ha, &mut r, hb);
            }
            let scale = want.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs()));
            assert!(scale > 0.5, "the reference is not trivial");
            for (got, want) in [&a, &b].into_iter().zip(&want) {
                assert_close(got, want, 1e-9, scale, &format!("{level}"));
            }
        });
    }

    #[test]
    fn stereo_wavefront_survives_non_finite_input() {
        let mut rng = Rng::new(24);
        for_each_test_level(|level| {
            for stages in [1usize, 4, 8] {
                let (mut l, mut r) = random_pair(&mut rng, stages);
                let (mut l2, mut r2) = (l, r);
                let mut a = rng.vec(40);
                let mut b = rng.vec(40);
                a[3] = f64::NAN;
                a[10] = f64::INFINITY;
                b[20] = f64::NEG_INFINITY;
                let (mut wa, mut wb) = (a.clone(), b.clone());
                l.process_pair_at(level, &mut a, &mut r, &mut b);
                l2.process_at(level, &mut wa);
                r2.process_at(level, &mut wb);
                // Same samples as two serial calls, non-finite ones included.
                for (got, want) in [(&a, &wa), (&b, &wb)] {
                    for (g, w) in got.iter().zip(want.iter()) {
                        assert!(g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()), "{level} S={stages}");
                    }
                }
                assert!(a[..3].iter().all(|v| v.is_finite()), "samples before the NaN are untouched by it");
            }
        });
    }

    #[test]
    fn api_ranges_and_clamping() {
        let mut eq = BiquadCascade::new(20);
        assert_eq!(eq.stages(), MAX_CASCADE_STAGES);
        assert!(!eq.set_coeffs(8, BiquadCoeffs::IDENTITY));
        assert!(!eq.set_state(8, [1.0, 1.0]));
        assert_eq!(eq.coeffs(8), None);
        assert_eq!(eq.state(8), None);
        assert_eq!(eq.coeffs(7), Some(BiquadCoeffs::IDENTITY));
        eq.set_state(3, [1.0, 2.0]);
        eq.reset();
        assert_eq!(eq.state(3), Some([0.0, 0.0]));
        let mut x = [1.0, -1.0];
        BiquadCascade::new(0).process(&mut x);
        assert_eq!(x, [1.0, -1.0]);
    }
}
