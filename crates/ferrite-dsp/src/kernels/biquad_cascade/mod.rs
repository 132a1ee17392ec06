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
//! carry moves lanes (`avx2_mono`: the loop-carried path of 8 stages in one
//! AVX-512 vector would have a lane shift at every step); SSE4.2 holds one
//! stage per vector.
//!
//! Files: `scalar.rs` (the reference), `wavefront.rs` (the wavefront per
//! SIMD level, one body on each level's vocabulary), `lanes2.rs` (the
//! per-level lane moves of the stereo wavefront), `avx2_mono.rs` (the
//! even/odd form of one cascade at AVX2 and AVX-512).
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
use super::{dispatch_level, SimdLevel};

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

mod lanes2;
mod scalar;
mod wavefront;

#[cfg(target_arch = "x86_64")]
mod avx2_mono;

#[cfg(all(test, target_arch = "x86_64"))]
use wavefront::emu8;
#[cfg(target_arch = "aarch64")]
use wavefront::neon;
#[cfg(target_arch = "x86_64")]
use wavefront::{avx2, avx512, sse};

#[cfg(test)]
mod tests;
