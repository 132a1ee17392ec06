//! Batching (the engine runs parallel compressors together): the one-pole
//! recursion is the only serial part of a compressor, bound by its latency
//! per frame, so the recursions of several compressors run side by side
//! (`kernels::smooth`). A batched block is three calls:
//! [`Compressor::batch_begin`] (detection, logs and targets, per
//! compressor), [`smooth_lanes`] (the recursions of every member, side by
//! side) and [`Compressor::batch_finish`] (the gains applied, per
//! compressor). Each performs exactly the arithmetic of
//! [`Processor::process`], so a batched compressor gives the same bits.

use super::{apply_gains, linked_peaks, Compressor, SmoothLane, PARAMS};
use crate::kernels::dispatch::{autovec_level, runnable_autovec};
use crate::kernels::math::ln_block;
use crate::kernels::{smooth, SimdLevel};
#[cfg(doc)]
use crate::processor::Processor;
use crate::processor::{Bus, ProcessContext};

/// The batch steps of a compressor (see the module documentation).
impl Compressor {
    /// Batch step 1 for a block whose parameters are all constant and that
    /// fits the prepared block: writes the block's targets to the first
    /// `frames` entries of `targets` (the lane's row of the batch) and
    /// returns the lane; `None` otherwise, `targets` untouched (then run
    /// [`Processor::process`] for this block instead). `io` is what the
    /// detector reads: the block's input, or a sidechain's key (then
    /// [`Compressor::batch_finish`] applies the gains to the programme).
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub fn batch_begin(&mut self, ctx: &ProcessContext<'_>, io: &Bus<'_>, targets: &mut [f64]) -> Option<SmoothLane> {
        let n = ctx.frames.min(io.frames());
        if n > self.gain.len() || (0..PARAMS.len()).any(|k| ctx.param(k).constant().is_none()) {
            return None;
        }
        let targets = targets.get_mut(..n)?;
        match runnable_autovec(self.simd) {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `runnable_autovec` returned AVX-512: the CPU supports AVX-512F, AVX2 and FMA.
            SimdLevel::Avx512 => unsafe { self.begin_avx512(ctx, io, targets) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `runnable_autovec` returned AVX2: the CPU supports AVX2.
            SimdLevel::Avx2 => unsafe { self.begin_avx2(ctx, io, targets) },
            _ => self.begin(ctx, io, targets),
        }
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
            ln_block(self.simd, peak, level);
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
        apply_gains(self.simd, io, 0, gain, flat);
    }
}

/// Batch step 2: the one-pole recursions of a batch. Lane `m`'s targets are
/// row `m` of `targets` (rows of `stride`, `frames` long, from
/// [`Compressor::batch_begin`]); its gain exponents `(makeup - r)·ln10/20`
/// go to row `m` of `exps` (for [`Compressor::batch_finish`]); `lanes[m]`
/// carries the state in and out. Per lane, exactly [`Processor::process`]'s
/// arithmetic, at the compressors' level (AVX-512: 16 lanes per pass, AVX2:
/// 8, the rest lane by lane).
///
/// # Realtime
/// Does not allocate, lock or panic.
pub fn smooth_lanes(lanes: &mut [SmoothLane], targets: &[f64], exps: &mut [f64], stride: usize, frames: usize) {
    smooth::smooth_lanes_at(autovec_level(), lanes, targets, exps, stride, frames);
}
