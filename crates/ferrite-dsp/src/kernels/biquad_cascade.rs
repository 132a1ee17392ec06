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
//! on AVX2 / AVX-512. AVX-512 holds 8 stages in one vector, AVX2 in two (the
//! carry between them crosses vectors), SSE4.2 in four.

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

    /// Filters `data` in place through every stage in series.
    ///
    /// # Realtime
    /// No allocation, lock or panic.
    pub fn process(&mut self, data: &mut [f64]) {
        self.process_at(simd_level(), data)
    }

    /// Filters two signals through two cascades (for example the left and
    /// right channel of one EQ) in one interleaved pass, so that the two
    /// recursions can overlap in the CPU's pipeline. The result is exactly
    /// that of `self.process(a); other.process(b)`; if the stage counts or
    /// lengths differ it is done that way.
    ///
    /// Measured on AVX2 (8 stages = 2 vectors per channel) it is about as
    /// fast as two calls, not faster (register pressure); with AVX-512 (one
    /// vector per channel) it should gain, but that was not measured.
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
            process_pair([pa, pb], s, [a, b])
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
        dispatch_level!(level, scalar::process(p, s, data), process(p, s, data))
    }
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
            use super::{active_lanes, Planes, MAX};
            use crate::kernels::vocab::$lv::*;

            /// One cascade. Safety: the CPU supports the level's features.
            #[target_feature(enable = $feat)]
            pub(super) unsafe fn process(p: &mut Planes, stages: usize, data: &mut [f64]) {
                // SAFETY: same features.
                unsafe { process_n::<1>([p], stages, [data]) }
            }

            /// Two cascades of equal stage count over equal lengths, interleaved.
            /// Safety: the CPU supports the level's features.
            #[target_feature(enable = $feat)]
            pub(super) unsafe fn process_pair(p: [&mut Planes; 2], stages: usize, data: [&mut [f64]; 2]) {
                // SAFETY: same features.
                unsafe { process_n::<2>(p, stages, data) }
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
                        let out = st.y[c].get(out_v).map(|v| to_array(*v));
                        if let (Some(out), Some(d)) = (out, data[c].get_mut(step - last)) {
                            *d = out.get(out_l).copied().unwrap_or(*d);
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
