//! A bank of independent biquads in structure-of-arrays form: `lanes`
//! signals, each through its own series of `stages` biquads, with its own
//! coefficients and state, processed several lanes per vector.
//!
//! Typical use: 64 stereo tracks × an 8-band EQ = 128 lanes × 8 stages.
//!
//! # Layout
//! Signals are **frame-major interleaved** with a row length of
//! [`BiquadBank::stride`] (`lanes` rounded up to [`BiquadBank::LANE_PAD`] = 8,
//! the widest vector): sample `t` of lane `l` is `data[t·stride + l]`. One
//! frame of all lanes is then a run of contiguous vectors, so a vector load
//! fetches the same sample of `W` lanes. Padding lanes run the identity
//! filter; what they hold is ignored.
//!
//! # Exactness
//! Each lane's result equals [`super::biquad`]'s TDF-II run stage after stage
//! on that lane alone: bit for bit with the plain scalar step on Scalar and
//! SSE4.2, and with the fused step on AVX2 and AVX-512.

use super::biquad::{tdf2_step, BiquadCoeffs};
use super::dispatch::simd_level;
use super::{dispatch_level, for_each_simd_level, SimdLevel};

/// Independent biquad chains across lanes (see the module docs).
///
/// Control side: [`BiquadBank::new`] allocates. Audio side: everything else.
#[derive(Debug, Clone)]
pub struct BiquadBank {
    lanes: usize,
    stride: usize,
    stages: usize,
    /// Coefficient planes, index `stage·stride + lane`.
    b0: Vec<f64>,
    b1: Vec<f64>,
    b2: Vec<f64>,
    a1: Vec<f64>,
    a2: Vec<f64>,
    /// State planes, same indexing.
    z1: Vec<f64>,
    z2: Vec<f64>,
}

impl BiquadBank {
    /// Lanes are padded to a multiple of this (8 f64 = one AVX-512 vector).
    pub const LANE_PAD: usize = 8;

    /// A bank of `lanes` signals × `stages` biquads, all identity filters
    /// with zero state. Allocates: call on the control side.
    pub fn new(lanes: usize, stages: usize) -> Self {
        let stride = lanes.div_ceil(Self::LANE_PAD).saturating_mul(Self::LANE_PAD);
        let n = stride.saturating_mul(stages);
        Self {
            lanes,
            stride,
            stages,
            b0: vec![1.0; n],
            b1: vec![0.0; n],
            b2: vec![0.0; n],
            a1: vec![0.0; n],
            a2: vec![0.0; n],
            z1: vec![0.0; n],
            z2: vec![0.0; n],
        }
    }

    /// Number of signal lanes asked for.
    pub fn lanes(&self) -> usize {
        self.lanes
    }

    /// Row length of the frame-major data: `lanes` rounded up to [`Self::LANE_PAD`].
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// Biquads per lane, run in series.
    pub fn stages(&self) -> usize {
        self.stages
    }

    fn index(&self, stage: usize, lane: usize) -> Option<usize> {
        (stage < self.stages && lane < self.lanes).then(|| stage * self.stride + lane)
    }

    /// Sets one biquad's coefficients; `false` if `stage` or `lane` is out of range.
    ///
    /// # Realtime
    /// No allocation, lock or panic.
    pub fn set_coeffs(&mut self, stage: usize, lane: usize, c: BiquadCoeffs) -> bool {
        let Some(i) = self.index(stage, lane) else {
            return false;
        };
        let planes = [&mut self.b0, &mut self.b1, &mut self.b2, &mut self.a1, &mut self.a2];
        for (p, v) in planes.into_iter().zip([c.b0, c.b1, c.b2, c.a1, c.a2]) {
            if let Some(slot) = p.get_mut(i) {
                *slot = v;
            }
        }
        true
    }

    /// One biquad's coefficients, `None` if out of range.
    pub fn coeffs(&self, stage: usize, lane: usize) -> Option<BiquadCoeffs> {
        let i = self.index(stage, lane)?;
        Some(BiquadCoeffs {
            b0: *self.b0.get(i)?,
            b1: *self.b1.get(i)?,
            b2: *self.b2.get(i)?,
            a1: *self.a1.get(i)?,
            a2: *self.a2.get(i)?,
        })
    }

    /// One biquad's state `[z1, z2]`, for handing state over to a new graph.
    pub fn state(&self, stage: usize, lane: usize) -> Option<[f64; 2]> {
        let i = self.index(stage, lane)?;
        Some([*self.z1.get(i)?, *self.z2.get(i)?])
    }

    /// Sets one biquad's state; `false` if out of range.
    ///
    /// # Realtime
    /// No allocation, lock or panic.
    pub fn set_state(&mut self, stage: usize, lane: usize, z: [f64; 2]) -> bool {
        let Some(i) = self.index(stage, lane) else {
            return false;
        };
        match (self.z1.get_mut(i), self.z2.get_mut(i)) {
            (Some(a), Some(b)) => {
                (*a, *b) = (z[0], z[1]);
                true
            }
            _ => false,
        }
    }

    /// Copies a planar signal into lane `lane` of frame-major `data` (row
    /// length [`Self::stride`]): `data[t·stride + lane] = src[t]` for the
    /// frames that fit. Nothing happens if `lane >= stride`.
    ///
    /// # Realtime
    /// No allocation, lock or panic.
    pub fn write_lane(&self, data: &mut [f64], lane: usize, src: &[f64]) {
        if lane < self.stride {
            for (d, s) in data.iter_mut().skip(lane).step_by(self.stride).zip(src) {
                *d = *s;
            }
        }
    }

    /// Copies lane `lane` of frame-major `data` out to a planar signal:
    /// `dst[t] = data[t·stride + lane]`. Nothing happens if `lane >= stride`.
    ///
    /// # Realtime
    /// No allocation, lock or panic.
    pub fn read_lane(&self, data: &[f64], lane: usize, dst: &mut [f64]) {
        if lane < self.stride {
            for (s, d) in data.iter().skip(lane).step_by(self.stride).zip(dst) {
                *d = *s;
            }
        }
    }

    /// Zeroes every state.
    ///
    /// # Realtime
    /// No allocation, lock or panic.
    pub fn reset(&mut self) {
        self.z1.fill(0.0);
        self.z2.fill(0.0);
    }

    /// Filters `frames` frames of frame-major `data` (row length
    /// [`Self::stride`]) in place, every lane through all its stages. Only
    /// whole rows that fit in `data` are processed.
    ///
    /// # Realtime
    /// No allocation, lock or panic.
    pub fn process(&mut self, data: &mut [f64], frames: usize) {
        self.process_at(simd_level(), data, frames)
    }

    /// [`Self::process`] at a chosen level.
    ///
    /// # Realtime
    /// No allocation, lock or panic.
    pub fn process_at(&mut self, level: SimdLevel, data: &mut [f64], frames: usize) {
        if self.stride == 0 {
            return;
        }
        let frames = frames.min(data.len() / self.stride);
        let data = &mut data[..frames * self.stride];
        let p = Planes {
            stride: self.stride,
            stages: self.stages,
            b0: &self.b0,
            b1: &self.b1,
            b2: &self.b2,
            a1: &self.a1,
            a2: &self.a2,
            z1: &mut self.z1,
            z2: &mut self.z2,
        };
        if p.is_consistent() {
            dispatch_level!(level, scalar::process(p, data, frames), process(p, data, frames))
        }
    }
}

/// Borrowed view of the bank handed to the kernels.
struct Planes<'a> {
    stride: usize,
    stages: usize,
    b0: &'a [f64],
    b1: &'a [f64],
    b2: &'a [f64],
    a1: &'a [f64],
    a2: &'a [f64],
    z1: &'a mut [f64],
    z2: &'a mut [f64],
}

impl Planes<'_> {
    /// Every plane holds `stages·stride` values and the stride is padded:
    /// the kernels rely on this for their unchecked loads.
    fn is_consistent(&self) -> bool {
        let n = self.stages.checked_mul(self.stride);
        self.stride % BiquadBank::LANE_PAD == 0
            && [self.b0.len(), self.b1.len(), self.b2.len(), self.a1.len(), self.a2.len()]
                .iter()
                .chain([self.z1.len(), self.z2.len()].iter())
                .all(|&l| Some(l) == n)
    }
}

mod scalar {
    use super::*;

    /// Stage by stage, frame by frame, lane by lane across each row: the
    /// same per-lane operations as `tdf2_step::<false>`, in an order the
    /// compiler can vectorise on its own (it never fuses `a·b + c`, so the
    /// result stays bit-exact with the plain step).
    pub(super) fn process(p: Planes<'_>, data: &mut [f64], frames: usize) {
        let stride = p.stride;
        for s in 0..p.stages {
            let r = s * stride..(s + 1) * stride;
            let (Some(b0), Some(b1), Some(b2), Some(a1), Some(a2)) = (
                p.b0.get(r.clone()),
                p.b1.get(r.clone()),
                p.b2.get(r.clone()),
                p.a1.get(r.clone()),
                p.a2.get(r.clone()),
            ) else {
                return;
            };
            let (Some(z1), Some(z2)) = (p.z1.get_mut(r.clone()), p.z2.get_mut(r)) else {
                return;
            };
            for row in data.chunks_exact_mut(stride).take(frames) {
                let lanes = row.iter_mut().zip(z1.iter_mut().zip(z2.iter_mut()));
                let coefs = b0.iter().zip(b1).zip(b2.iter().zip(a1).zip(a2));
                for ((x, (z1, z2)), ((b0, b1), ((b2, a1), a2))) in lanes.zip(coefs) {
                    let c = BiquadCoeffs { b0: *b0, b1: *b1, b2: *b2, a1: *a1, a2: *a2 };
                    let mut z = [*z1, *z2];
                    *x = tdf2_step::<false>(&c, &mut z, *x);
                    (*z1, *z2) = (z[0], z[1]);
                }
            }
        }
    }
}

macro_rules! simd_bank {
    ($lv:ident, $feat:literal) => {
        mod $lv {
            use super::Planes;
            use crate::kernels::vocab::$lv::*;

            /// Vectors per block of lanes: enough independent recursions to
            /// hide the FMA latency (each lane's step is a chain of 2 FMAs).
            const K: usize = 4;

            /// Safety: the CPU supports the level's features; `p` is
            /// consistent and `data.len() == frames·p.stride`.
            #[target_feature(enable = $feat)]
            pub(super) unsafe fn process(mut p: Planes<'_>, data: &mut [f64], frames: usize) {
                let stride = p.stride;
                let mut lane = 0;
                while lane + K * W <= stride {
                    // SAFETY: forwarded contract; lanes `lane..lane+K·W` are in the row.
                    unsafe { block::<K>(&mut p, data, frames, lane) };
                    lane += K * W;
                }
                while lane + W <= stride {
                    // SAFETY: as above for `lane..lane+W`.
                    unsafe { block::<1>(&mut p, data, frames, lane) };
                    lane += W;
                }
            }

            /// Loads `N` vectors at `plane[o..o + N·W]`.
            /// Safety: the CPU supports the level; `o + N·W <= plane.len()`.
            #[target_feature(enable = $feat)]
            unsafe fn load_n<const N: usize>(plane: &[f64], o: usize) -> [V; N] {
                let mut v = [splat(0.0); N];
                for (j, v) in v.iter_mut().enumerate() {
                    // SAFETY: `o + j·W + W <= o + N·W <= plane.len()`.
                    *v = unsafe { load(plane.as_ptr().add(o + j * W)) };
                }
                v
            }

            /// Stores `N` vectors at `plane[o..o + N·W]`.
            /// Safety: the CPU supports the level; `o + N·W <= plane.len()`.
            #[target_feature(enable = $feat)]
            unsafe fn store_n<const N: usize>(plane: &mut [f64], o: usize, v: [V; N]) {
                for (j, v) in v.into_iter().enumerate() {
                    // SAFETY: `o + j·W + W <= o + N·W <= plane.len()`.
                    unsafe { store(plane.as_mut_ptr().add(o + j * W), v) };
                }
            }

            /// Runs lanes `lane..lane + N·W` through all stages.
            /// Safety: as [`process`], and `lane + N·W <= p.stride`.
            #[target_feature(enable = $feat)]
            unsafe fn block<const N: usize>(p: &mut Planes<'_>, data: &mut [f64], frames: usize, lane: usize) {
                let stride = p.stride;
                let base = data.as_mut_ptr();
                for s in 0..p.stages {
                    let o = s * stride + lane;
                    // SAFETY: (plane loads and stores below) `o + N·W <= (s+1)·stride
                    // <= stages·stride`, the length of every plane (`is_consistent`).
                    let (b0, b1, b2, a1, a2, mut z1, mut z2) = unsafe {
                        (
                            load_n::<N>(p.b0, o),
                            load_n::<N>(p.b1, o),
                            load_n::<N>(p.b2, o),
                            load_n::<N>(p.a1, o),
                            load_n::<N>(p.a2, o),
                            load_n::<N>(p.z1, o),
                            load_n::<N>(p.z2, o),
                        )
                    };
                    for t in 0..frames {
                        // SAFETY: `t < frames` and `lane + N·W <= stride`, so the row
                        // slice `t·stride + lane .. + N·W` lies in `data`.
                        let row = unsafe { base.add(t * stride + lane) };
                        for j in 0..N {
                            // SAFETY: see `row`.
                            let x = unsafe { load(row.add(j * W)) };
                            let y = madd(b0[j], x, z1[j]);
                            z1[j] = nmadd(a1[j], y, madd(b1[j], x, z2[j]));
                            z2[j] = nmadd(a2[j], y, mul(b2[j], x));
                            // SAFETY: see `row`.
                            unsafe { store(row.add(j * W), y) };
                        }
                    }
                    // SAFETY: see the loads above.
                    unsafe {
                        store_n::<N>(p.z1, o, z1);
                        store_n::<N>(p.z2, o, z2);
                    }
                }
            }
        }
    };
}
for_each_simd_level!(simd_bank);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::biquad::test_reference::{filter, random_band};
    use crate::kernels::testutil::*;

    #[test]
    fn every_lane_equals_its_own_serial_filter_at_every_level() {
        let mut rng = Rng::new(4);
        for_each_test_level(|level| {
            for &lanes in &[1usize, 3, 8, 13, 40, 64] {
                for &stages in &[1usize, 3] {
                    for &frames in &[0usize, 1, 7, 129] {
                        let mut bank = BiquadBank::new(lanes, stages);
                        let stride = bank.stride();
                        assert_eq!(stride % 8, 0);
                        assert!(stride >= lanes && stride < lanes + 8);
                        let coeffs: Vec<Vec<BiquadCoeffs>> =
                            (0..lanes).map(|_| (0..stages).map(|_| random_band(&mut rng)).collect()).collect();
                        let z0: Vec<Vec<[f64; 2]>> =
                            (0..lanes).map(|_| (0..stages).map(|_| [rng.signed(), rng.signed()]).collect()).collect();
                        for l in 0..lanes {
                            for s in 0..stages {
                                assert!(bank.set_coeffs(s, l, coeffs[l][s]));
                                assert!(bank.set_state(s, l, z0[l][s]));
                            }
                        }
                        // Padding lanes hold NaN: it must not leak into real lanes.
                        let mut data = vec![f64::NAN; frames * stride];
                        let signals: Vec<Vec<f64>> = (0..lanes).map(|_| rng.vec(frames)).collect();
                        for (l, sig) in signals.iter().enumerate() {
                            for (t, v) in sig.iter().enumerate() {
                                data[t * stride + l] = *v;
                            }
                        }
                        // Two calls split at an odd point: state carries over.
                        let cut = frames / 3;
                        let (head, tail) = data.split_at_mut(cut * stride);
                        bank.process_at(level, head, cut);
                        bank.process_at(level, tail, frames - cut);

                        for (l, sig) in signals.iter().enumerate() {
                            let mut want = sig.clone();
                            for s in 0..stages {
                                let mut z = z0[l][s];
                                filter(&coeffs[l][s], &mut z, &mut want, fused(level));
                                assert_eq!(bank.state(s, l), Some(z), "{level} state l={l} s={s}");
                            }
                            let got: Vec<f64> = (0..frames).map(|t| data[t * stride + l]).collect();
                            assert_bits_eq(
                                &got,
                                &want,
                                &format!("{level} lanes={lanes} stages={stages} frames={frames} lane {l}"),
                            );
                        }
                    }
                }
            }
        });
    }

    #[test]
    fn fused_and_plain_levels_agree_closely() {
        let mut rng = Rng::new(5);
        let lanes = 16;
        let mut plain = BiquadBank::new(lanes, 2);
        for l in 0..lanes {
            for s in 0..2 {
                plain.set_coeffs(s, l, random_band(&mut rng));
            }
        }
        let mut fused_bank = plain.clone();
        let x = rng.vec(4096 * lanes);
        let (mut a, mut b) = (x.clone(), x);
        plain.process_at(SimdLevel::Scalar, &mut a, 4096);
        fused_bank.process(&mut b, 4096);
        let peak = a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert_close(&b, &a, 1e-12, peak, "fused vs plain");
    }

    #[test]
    fn a_bank_lane_equals_a_cascade_and_a_one_lane_bank_at_the_same_level() {
        // What makes batching safe: a lane's output does not depend on which
        // other lanes share the bank, nor on bank vs cascade, at one level.
        let mut rng = Rng::new(9);
        let stages = 5;
        let coeffs: Vec<BiquadCoeffs> = (0..stages).map(|_| random_band(&mut rng)).collect();
        let x = rng.vec(200);
        for_each_test_level(|level| {
            let mut big = BiquadBank::new(37, stages);
            let mut one = BiquadBank::new(1, stages);
            let mut eq = crate::kernels::BiquadCascade::new(stages);
            for l in 0..37 {
                for s in 0..stages {
                    big.set_coeffs(s, l, random_band(&mut rng));
                }
            }
            for (s, c) in coeffs.iter().enumerate() {
                big.set_coeffs(s, 21, *c);
                one.set_coeffs(s, 0, *c);
                eq.set_coeffs(s, *c);
            }
            let mut data = rng.vec(200 * big.stride());
            big.write_lane(&mut data, 21, &x);
            big.process_at(level, &mut data, 200);
            let mut got = vec![0.0; 200];
            big.read_lane(&data, 21, &mut got);

            let mut d1 = vec![0.0; 200 * one.stride()];
            one.write_lane(&mut d1, 0, &x);
            one.process_at(level, &mut d1, 200);
            let mut want = vec![0.0; 200];
            one.read_lane(&d1, 0, &mut want);
            assert_bits_eq(&got, &want, &format!("{level} 37-lane vs 1-lane bank"));

            let mut c = x.clone();
            eq.process_at(level, &mut c);
            assert_bits_eq(&got, &c, &format!("{level} bank lane vs cascade"));
        });
    }

    #[test]
    fn a_new_bank_is_the_identity_and_range_checks_hold() {
        let mut bank = BiquadBank::new(5, 2);
        assert_eq!((bank.lanes(), bank.stride(), bank.stages()), (5, 8, 2));
        let x: Vec<f64> = (0..8 * 10).map(|i| i as f64 - 7.5).collect();
        let mut y = x.clone();
        bank.process(&mut y, 10);
        assert_eq!(y, x);
        assert!(!bank.set_coeffs(2, 0, BiquadCoeffs::IDENTITY));
        assert!(!bank.set_coeffs(0, 5, BiquadCoeffs::IDENTITY));
        assert!(!bank.set_state(0, 5, [0.0; 2]));
        assert_eq!(bank.coeffs(0, 5), None);
        assert_eq!(bank.state(2, 0), None);
        // Too short a buffer: only whole rows are processed, no panic.
        bank.set_coeffs(0, 0, BiquadCoeffs { b0: 2.0, ..BiquadCoeffs::IDENTITY });
        let mut short = vec![1.0; 8 + 3];
        bank.process(&mut short, 5);
        assert_eq!(short[0], 2.0);
        assert_eq!(short[8], 1.0);
        bank.reset();
        assert_eq!(bank.state(0, 0), Some([0.0, 0.0]));
        let mut empty = BiquadBank::new(0, 3);
        empty.process(&mut [], 10);
    }
}
