//! True peak per ITU-R BS.1770-4 Annex 2: the peak of the signal
//! oversampled with a polyphase interpolating FIR.
//!
//! Oversampling is 8× below 96 kHz (the Annex asks for at least 4× at
//! 48 kHz; 8× halves the worst under-reading near 20 kHz), 4× below
//! 176.4 kHz and 2× above. The interpolator is a Kaiser-windowed sinc
//! (β = 7, 32 input taps per phase, pass band to about 0.43·fs) with its cut-off at the input's Nyquist
//! frequency, designed in [`TruePeak::new`]; each phase is normalized to unit
//! DC gain. Its phase 0 is the input itself, so the true peak is never below
//! the sample peak. The Annex's optional 12.04 dB attenuation is not needed
//! in floating point and is not applied.
//!
//! Cost: a block whose samples cannot produce a value above the channel's
//! current maximum (block maximum × the filter's L1 gain bound ≤ maximum) is
//! only written to the history, without interpolating. Inside a block that is
//! interpolated, the same test skips each run of 16 output frames whose
//! inputs cannot beat the maximum found so far, and a finer one (per tap, the
//! largest coefficient magnitude over the phases, times the input's
//! magnitude, summed) skips single frames. Both bounds carry a slack larger
//! than the rounding of the dot products, so a skipped value is provably no
//! larger than the maximum: the reading is the same, bit for bit, as if every
//! phase had been computed.

use core::f64::consts::PI;

/// Input taps per polyphase branch (even, a multiple of 4).
const TAPS: usize = 32;
/// Kaiser window parameter.
const KAISER_BETA: f64 = 7.0;

/// Oversampling factor for `sample_rate`.
pub(crate) fn oversampling(sample_rate: f64) -> usize {
    if sample_rate < 96000.0 {
        8
    } else if sample_rate < 176400.0 {
        4
    } else {
        2
    }
}

/// Modified Bessel function of the first kind, order 0 (power series).
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let q = x * x / 4.0;
    for k in 1..64 {
        term *= q / (k * k) as f64;
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

/// `Σ a[j]·b[j]` over fixed-size arrays: every index is provably in
/// bounds, and the plain loop stays fast in unoptimized (test) builds too.
#[inline(always)]
fn dot(a: &[f64; TAPS], b: &[f64; TAPS]) -> f64 {
    let (mut s0, mut s1, mut s2, mut s3) = (0.0, 0.0, 0.0, 0.0);
    let mut j = 0;
    while j + 3 < TAPS {
        s0 += a[j] * b[j];
        s1 += a[j + 1] * b[j + 1];
        s2 += a[j + 2] * b[j + 2];
        s3 += a[j + 3] * b[j + 3];
        j += 4;
    }
    (s0 + s1) + (s2 + s3)
}

/// Relative slack on the skipping bounds. A dot product of `TAPS` terms
/// computed in f64 exceeds the exact `Σ |c|·|x|` by at most a relative
/// `(TAPS + 2)·2⁻⁵³` (< 1e-14), and so does the computed bound fall short of
/// it: `(1 + 1e-12)` covers both with room to spare.
const BOUND_SLACK: f64 = 1.0 + 1e-12;
/// Absolute slack on the skipping bounds, for the absolute error of
/// products that underflow (each at most 2⁻¹⁰⁷⁵); below it nothing is skipped.
const BOUND_FLOOR: f64 = 1e-300;
/// Output frames per coarse skipping segment in [`Tables::scan`].
const SEGMENT: usize = 16;
/// Frames whose tap bounds are computed together in [`Tables::scan`].
const LANES: usize = 4;

/// Whether `bound` (a bound on a value's exact magnitude, computed in f64)
/// proves that value, as computed, is no larger than `floor`. False for NaN.
#[inline(always)]
fn below(bound: f64, floor: f64) -> bool {
    bound * BOUND_SLACK + BOUND_FLOOR <= floor
}

/// The inputs a coarse segment's windows read, `SEGMENT + TAPS - 1`, lie
/// in three consecutive chunks of `SEGMENT` (see [`Tables::scan`]).
const _: () = assert!(SEGMENT + TAPS - 1 <= 3 * SEGMENT);

/// The largest `|x|` of `x`, NaN ignored (0 for none). `WIDE`: the
/// caller is compiled for AVX2 and the CPU runs it. A maximum is exact in
/// any order, so both builds give the same value.
#[inline(always)]
fn abs_max<const WIDE: bool>(x: &[f64]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if WIDE {
        // SAFETY: `WIDE` is true only in the AVX2 build, which runs only
        // when the CPU has AVX2.
        return unsafe { x86::abs_max_avx2(x) };
    }
    x.iter().fold(0.0f64, |m, v| m.max(v.abs()))
}

/// `Σ tap_bound[j]·|w[l + j]|` for the `LANES` consecutive windows of `w`,
/// with four partial sums per window (the order does not matter: a bound).
#[inline(always)]
fn tap_bounds(tap_bound: &[f64; TAPS], w: &[f64; TAPS + LANES - 1]) -> [f64; LANES] {
    let mut acc = [[0.0f64; LANES]; 4];
    let mut j = 0;
    while j + 3 < TAPS {
        for (k, a) in acc.iter_mut().enumerate() {
            let t = tap_bound[j + k];
            for (l, v) in a.iter_mut().enumerate() {
                *v += t * w[j + k + l].abs();
            }
        }
        j += 4;
    }
    let mut out = [0.0f64; LANES];
    for (l, o) in out.iter_mut().enumerate() {
        *o = (acc[0][l] + acc[1][l]) + (acc[2][l] + acc[3][l]);
    }
    out
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::TAPS;
    use core::arch::x86_64::*;

    /// [`super::abs_max`]: four lanes of `max(|x|, best)`, where `maxpd`
    /// returns its second operand (`best`, never NaN) when `x` is NaN.
    /// Safety: the CPU supports AVX2.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn abs_max_avx2(x: &[f64]) -> f64 {
        let sign = _mm256_set1_pd(-0.0);
        let (mut a, mut b) = (_mm256_setzero_pd(), _mm256_setzero_pd());
        let mut chunks = x.chunks_exact(8);
        for c in &mut chunks {
            // SAFETY: `c` holds eight f64.
            let (u, v) = unsafe { (_mm256_loadu_pd(c.as_ptr()), _mm256_loadu_pd(c.as_ptr().add(4))) };
            a = _mm256_max_pd(_mm256_andnot_pd(sign, u), a);
            b = _mm256_max_pd(_mm256_andnot_pd(sign, v), b);
        }
        let mut lanes = [0.0f64; 4];
        // SAFETY: `lanes` holds four f64.
        unsafe { _mm256_storeu_pd(lanes.as_mut_ptr(), _mm256_max_pd(a, b)) };
        chunks.remainder().iter().chain(lanes.iter()).fold(0.0f64, |m, v| m.max(v.abs()))
    }

    /// The largest `|dot(phase, window)|` over the phases in `grouped` (4
    /// phases per group, tap-major: the 4 phases' coefficients of tap `j`
    /// side by side), NaN ignored, 0 if none. Each lane is one phase and
    /// sums exactly as [`super::dot`] does: four partial sums (taps
    /// j ≡ k mod 4, in order, from 0.0), then `(s0 + s1) + (s2 + s3)`;
    /// multiply then add, no FMA. So every value has the same bits as the
    /// plain build's. The groups (1 or 2: up to 8 phases) run side by side,
    /// each input broadcast once for all of them.
    /// Safety: the CPU supports AVX2.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn phases_max_avx2(grouped: &[f64], window: &[f64; TAPS]) -> f64 {
        match grouped.len() / (4 * TAPS) {
            0 => 0.0,
            1 => phases_max_groups::<1>(grouped, window),
            _ => phases_max_groups::<2>(grouped, window),
        }
    }

    /// [`phases_max_avx2`] of the first `G` groups of `grouped` (which holds
    /// at least `G`).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn phases_max_groups<const G: usize>(grouped: &[f64], window: &[f64; TAPS]) -> f64 {
        let Some(grouped) = grouped.get(..G * 4 * TAPS) else { return 0.0 };
        let mut acc = [[_mm256_setzero_pd(); 4]; G];
        for (q, xs) in window.chunks_exact(4).enumerate() {
            let xs = [0, 1, 2, 3].map(|k| _mm256_set1_pd(xs.get(k).copied().unwrap_or(0.0)));
            for (g, a) in acc.iter_mut().enumerate() {
                // Tap j = 4q + k of group g.
                let at = (g * TAPS + 4 * q) * 4;
                // SAFETY: at + 15 < G·4·TAPS = grouped.len() (4q + 3 < TAPS).
                let c = unsafe { [0, 1, 2, 3].map(|k| _mm256_loadu_pd(grouped.as_ptr().add(at + 4 * k))) };
                let [a0, a1, a2, a3] = a;
                *a0 = _mm256_add_pd(*a0, _mm256_mul_pd(c[0], xs[0]));
                *a1 = _mm256_add_pd(*a1, _mm256_mul_pd(c[1], xs[1]));
                *a2 = _mm256_add_pd(*a2, _mm256_mul_pd(c[2], xs[2]));
                *a3 = _mm256_add_pd(*a3, _mm256_mul_pd(c[3], xs[3]));
            }
        }
        let sign = _mm256_set1_pd(-0.0);
        let mut best = _mm256_setzero_pd();
        for a in &acc {
            let v = _mm256_andnot_pd(sign, _mm256_add_pd(_mm256_add_pd(a[0], a[1]), _mm256_add_pd(a[2], a[3])));
            // maxpd returns its second operand when the first is NaN: `best`
            // never takes a NaN.
            best = _mm256_max_pd(v, best);
        }
        let mut lanes = [0.0f64; 4];
        // SAFETY: `lanes` holds four f64.
        unsafe { _mm256_storeu_pd(lanes.as_mut_ptr(), best) };
        lanes.iter().fold(0.0f64, |m, v| m.max(*v))
    }
}

/// The interpolator's read-only tables, borrowed apart from the history.
struct Tables<'a> {
    coefs: &'a [f64],
    /// `coefs` padded with zero phases to a multiple of 4 phases.
    grouped: &'a [f64],
    tap_bound: &'a [f64; TAPS],
    gain_bound: f64,
}

impl Tables<'_> {
    /// Every phase of the window ending at one frame, into `peak`.
    /// `WIDE`: the caller is compiled for AVX2 and the CPU runs it.
    #[inline(always)]
    fn frame<const WIDE: bool>(&self, window: &[f64; TAPS], peak: &mut f64, floor: &mut f64) {
        #[cfg(target_arch = "x86_64")]
        if WIDE && self.coefs.len() > TAPS {
            // SAFETY: `WIDE` is true only in the AVX2 build, which runs only
            // when the CPU has AVX2.
            *peak = peak.max(unsafe { x86::phases_max_avx2(self.grouped, window) });
            *floor = floor.max(*peak);
            return;
        }
        for phase in self.coefs.chunks_exact(TAPS) {
            if let Ok(phase) = <&[f64; TAPS]>::try_from(phase) {
                *peak = peak.max(dot(phase, window).abs());
            }
        }
        *floor = floor.max(*peak);
    }

    /// Interpolates the frames whose windows are `src[k..k + TAPS]`, folding
    /// their largest magnitude into `peak`, except frames proven unable to
    /// exceed `floor` (which rises with `peak`): first per `SEGMENT` frames
    /// by `gain_bound` times the largest input they read, then per frame by
    /// the tap bound.
    #[inline(always)]
    fn scan<const WIDE: bool>(&self, src: &[f64], peak: &mut f64, floor: &mut f64) {
        let frames = (src.len() + 1).saturating_sub(TAPS);
        // The largest |input| of chunk `i` of `SEGMENT` samples. The
        // windows of the segment starting at frame `SEGMENT·i` read inputs
        // in chunks i, i + 1 and i + 2 (the last one's final sample is
        // past them: a larger bound is still a bound); each chunk is
        // scanned once, the last two carried to the next segment.
        let chunk = |i: usize| src.get(i * SEGMENT..).map_or(0.0, |s| abs_max::<WIDE>(&s[..s.len().min(SEGMENT)]));
        let (mut c0, mut c1) = (chunk(0), chunk(1));
        let mut i = 0;
        let mut k = 0;
        while k < frames {
            let seg = SEGMENT.min(frames - k);
            let c2 = chunk(i + 2);
            let reach = c0.max(c1).max(c2);
            (c0, c1, i) = (c1, c2, i + 1);
            if below(reach * self.gain_bound, *floor) {
                k += seg;
                continue;
            }
            let end = k + seg;
            while k < end {
                if k + LANES <= end {
                    if let Some(Ok(w)) = src.get(k..k + TAPS + LANES - 1).map(<&[f64; TAPS + LANES - 1]>::try_from) {
                        let bounds = tap_bounds(self.tap_bound, w);
                        // The frames the floor as it stands cannot skip, found
                        // for the four at once (no lane's result waits on
                        // another's); each is tested again against the floor
                        // the frames before it have raised.
                        let f = *floor;
                        let mut open =
                            bounds.iter().enumerate().fold(0u32, |m, (l, b)| m | u32::from(!below(*b, f)) << l);
                        while open != 0 {
                            let l = open.trailing_zeros() as usize;
                            open &= open - 1;
                            if bounds.get(l).is_none_or(|b| below(*b, *floor)) {
                                continue;
                            }
                            if let Some(Ok(window)) = w.get(l..l + TAPS).map(<&[f64; TAPS]>::try_from) {
                                self.frame::<WIDE>(window, peak, floor);
                            }
                        }
                    }
                    k += LANES;
                } else {
                    if let Some(Ok(window)) = src.get(k..k + TAPS).map(<&[f64; TAPS]>::try_from) {
                        self.frame::<WIDE>(window, peak, floor);
                    }
                    k += 1;
                }
            }
        }
    }
}

/// The polyphase interpolator and each channel's input history.
#[derive(Debug, Clone)]
pub(crate) struct TruePeak {
    /// Phases 1..factor, `TAPS` coefficients each, oldest input first.
    coefs: Box<[f64]>,
    /// `coefs` in groups of 4 phases (zero phases pad the last group), each
    /// group tap-major: the 4 phases' coefficients of a tap side by side,
    /// for the AVX2 build's four phases per vector (a zero phase yields 0 or
    /// NaN, neither of which can change a maximum that ignores NaN). At most
    /// 2 groups (7 phases at 8× oversampling).
    grouped: Box<[f64]>,
    /// Largest sum of absolute coefficients over the phases: no interpolated
    /// value exceeds it times the largest input in its window.
    gain_bound: f64,
    /// Per tap, the largest absolute coefficient over the phases: no phase's
    /// value exceeds `Σ tap_bound[j]·|window[j]|`.
    tap_bound: [f64; TAPS],
    /// Per channel, `2·TAPS` samples: a ring written twice so that the last
    /// `TAPS` samples are always contiguous.
    history: Box<[f64]>,
    /// Ring position of the newest sample (shared: every channel gets the
    /// same frames).
    pos: usize,
    /// Run the AVX2 build of the block loop (the CPU has it and
    /// `FERRITE_SIMD` allows it).
    wide: bool,
}

impl TruePeak {
    /// Designs the interpolator for `sample_rate` and allocates history for
    /// `channels` channels (control side).
    pub fn new(sample_rate: f64, channels: usize) -> Self {
        let factor = oversampling(sample_rate);
        let len = factor * TAPS;
        let center = (len / 2) as f64;
        let h: Vec<f64> = (0..len)
            .map(|n| {
                let t = (n as f64 - center) / factor as f64;
                let sinc = if t == 0.0 { 1.0 } else { (PI * t).sin() / (PI * t) };
                let r = (n as f64 - center) / center;
                let w = bessel_i0(KAISER_BETA * (1.0 - r * r).max(0.0).sqrt()) / bessel_i0(KAISER_BETA);
                sinc * w
            })
            .collect();
        let mut coefs = Vec::with_capacity((factor - 1) * TAPS);
        let mut gain_bound = 1.0f64;
        let mut tap_bound = [0.0f64; TAPS];
        for phase in 1..factor {
            // Output phase `phase` uses h[m·factor + phase] for the input m samples back.
            let mut c: Vec<f64> = (0..TAPS).map(|j| h[(TAPS - 1 - j) * factor + phase]).collect();
            let dc: f64 = c.iter().sum();
            c.iter_mut().for_each(|v| *v /= dc);
            gain_bound = gain_bound.max(c.iter().map(|v| v.abs()).sum());
            for (b, v) in tap_bound.iter_mut().zip(&c) {
                *b = b.max(v.abs());
            }
            coefs.extend_from_slice(&c);
        }
        // Groups of 4 phases (zero phases pad the last), tap-major.
        let groups = coefs.len().div_ceil(4 * TAPS);
        let mut grouped = vec![0.0; groups * 4 * TAPS];
        for (p, phase) in coefs.chunks_exact(TAPS).enumerate() {
            for (j, &c) in phase.iter().enumerate() {
                if let Some(slot) = grouped.get_mut(((p / 4) * TAPS + j) * 4 + p % 4) {
                    *slot = c;
                }
            }
        }
        Self {
            coefs: coefs.into_boxed_slice(),
            grouped: grouped.into_boxed_slice(),
            gain_bound,
            tap_bound,
            history: vec![0.0; channels * 2 * TAPS].into_boxed_slice(),
            pos: 0,
            wide: crate::kernels::avx2_allowed(),
        }
    }

    /// Oversampling factor in use.
    #[cfg(test)]
    pub fn factor(&self) -> usize {
        self.coefs.len() / TAPS + 1
    }

    /// Feeds channel `c`'s block `x` and returns the largest absolute value
    /// of the oversampled signal it completes, or a value no larger than
    /// `known_max` when nothing in it can exceed `known_max`. Call it for
    /// every channel with blocks of the same length, then [`Self::advance`].
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub fn channel_block(&mut self, c: usize, x: &[f64], known_max: f64) -> f64 {
        #[cfg(target_arch = "x86_64")]
        if self.wide {
            // SAFETY: `wide` is set only when the CPU runs AVX2.
            return unsafe { self.channel_block_avx2(c, x, known_max) };
        }
        self.channel_block_plain(c, x, known_max)
    }

    /// [`Self::channel_block`] compiled for AVX2: the dot products' four
    /// accumulators become one vector; no FMA, so the same bits.
    /// Safety: the CPU supports AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn channel_block_avx2(&mut self, c: usize, x: &[f64], known_max: f64) -> f64 {
        self.channel_block_impl::<true>(c, x, known_max)
    }

    fn channel_block_plain(&mut self, c: usize, x: &[f64], known_max: f64) -> f64 {
        self.channel_block_impl::<false>(c, x, known_max)
    }

    /// `WIDE`: compiled inside [`Self::channel_block_avx2`].
    #[inline(always)]
    fn channel_block_impl<const WIDE: bool>(&mut self, c: usize, x: &[f64], known_max: f64) -> f64 {
        let Some(hist) = self.history.chunks_exact_mut(2 * TAPS).nth(c) else {
            return 0.0;
        };
        let pos = self.pos;
        let mut block_max = hist.get(pos + 1..=pos + TAPS).map_or(0.0, abs_max::<WIDE>);
        let sample_max = abs_max::<WIDE>(x);
        block_max = block_max.max(sample_max);
        let compute = block_max * self.gain_bound > known_max;
        let mut peak = sample_max;
        if compute {
            // Invariant of `scan`: every value it skips is <= `floor` at the
            // time, and `floor` = max(peak so far, known_max). So the result
            // is the exact maximum over the block whenever that maximum is
            // above `known_max`, and otherwise a value no larger than it.
            let mut floor = peak.max(known_max);
            // Frames 0..TAPS-1 read the history too: stage their windows
            // (the last TAPS-1 history samples, then the block's first ones).
            let mut head = [0.0f64; 2 * TAPS - 1];
            if let Some(h) = hist.get(pos + 2..=pos + TAPS) {
                for (d, s) in head.iter_mut().zip(h) {
                    *d = *s;
                }
            }
            let n_head = x.len().min(TAPS - 1);
            for (d, s) in head.iter_mut().skip(TAPS - 1).zip(x) {
                *d = *s;
            }
            let tables = Tables {
                coefs: &self.coefs,
                grouped: &self.grouped,
                tap_bound: &self.tap_bound,
                gain_bound: self.gain_bound,
            };
            if let Some(src) = head.get(..TAPS - 1 + n_head) {
                tables.scan::<WIDE>(src, &mut peak, &mut floor);
            }
            // Frames TAPS-1.. have their whole window inside the block.
            tables.scan::<WIDE>(x, &mut peak, &mut floor);
        }
        // The ring after the block: only its last TAPS samples are kept.
        for (i, &v) in x.iter().enumerate().skip(x.len().saturating_sub(TAPS)) {
            let p = (pos + (i + 1) % TAPS) % TAPS;
            if let Some(slot) = hist.get_mut(p) {
                *slot = v;
            }
            if let Some(slot) = hist.get_mut(p + TAPS) {
                *slot = v;
            }
        }
        peak
    }

    /// Moves the shared ring position past a block of `frames`.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub fn advance(&mut self, frames: usize) {
        self.pos = (self.pos + frames % TAPS) % TAPS;
    }

    /// Takes over `other`'s history for the channels both have (same rate).
    pub fn take_from(&mut self, other: &TruePeak) {
        for (a, b) in self.history.chunks_exact_mut(2 * TAPS).zip(other.history.chunks_exact(2 * TAPS)) {
            a.copy_from_slice(b);
        }
        self.pos = other.pos;
    }

    /// Forgets the input history.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub fn clear(&mut self) {
        self.history.iter_mut().for_each(|v| *v = 0.0);
        self.pos = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{meter, run};
    use super::*;

    fn true_peak_db_of(x: &[f64], fs: f64) -> (f64, f64) {
        let mut m = meter(fs, 1);
        run(&mut m, core::slice::from_ref(&x.to_vec()), 128, &mut 0);
        let r = m.total_reading();
        (r.peak_db, r.true_peak_db)
    }

    #[test]
    fn quarter_rate_sine_at_45_degrees_reads_its_true_peak() {
        // sin(π/2·n + π/4): every sample is ±0.7071, the peaks fall halfway
        // between samples.
        for fs in [44100.0, 48000.0, 96000.0, 192000.0] {
            let x: Vec<f64> = (0..(fs as usize / 2)).map(|n| (PI / 2.0 * n as f64 + PI / 4.0).sin()).collect();
            let (peak, tp) = true_peak_db_of(&x, fs);
            assert!((peak - 20.0 * 0.5f64.sqrt().log10()).abs() < 1e-9, "{fs}: sample peak {peak}");
            assert!(tp.abs() < 0.2, "{fs}: true peak {tp} dBTP");
        }
    }

    #[test]
    fn sines_whose_peaks_fall_between_samples() {
        // Tones at fs/4, fs/6 and fs/8 with phase offsets that put every
        // sample off the crest (in the manner of EBU Tech 3341's true-peak
        // signals), at -6.02 dBFS: the true peak is the amplitude; Tech 3341
        // allows +0.2 / -0.4 dB.
        let fs = 48000.0;
        let a: f64 = 0.5;
        for (div, phase_deg) in [(4.0, 45.0), (6.0, 60.0), (8.0, 67.5)] {
            let phase = phase_deg * PI / 180.0;
            // A 10 ms fade-in: a tone switched on mid-cycle is a step, whose
            // reconstruction overshoots (a true inter-sample peak of its own).
            let x: Vec<f64> = (0..24000)
                .map(|n| {
                    let fade = 0.5 - 0.5 * (PI * (n as f64 / 480.0).min(1.0)).cos();
                    fade * a * (2.0 * PI * n as f64 / div + phase).sin()
                })
                .collect();
            let (peak, tp) = true_peak_db_of(&x, fs);
            let want = 20.0 * a.log10();
            assert!(peak < want - 0.5, "fs/{div}: the samples must miss the crest ({peak})");
            assert!(tp - want <= 0.2 && tp - want >= -0.4, "fs/{div} at {phase_deg} degrees: {tp} dBTP");
        }
    }

    #[test]
    fn full_scale_997_hz_reads_0_dbtp() {
        let fs = 48000.0;
        let x: Vec<f64> = (0..48000).map(|n| (2.0 * PI * 997.0 * n as f64 / fs + 0.3).sin()).collect();
        let (peak, tp) = true_peak_db_of(&x, fs);
        assert!(tp.abs() < 0.01, "{tp}");
        assert!(peak <= tp);
    }

    #[test]
    fn sines_across_the_band_read_their_amplitude() {
        // The analytic true peak of A·sin is A. Under-reading is bounded by the
        // oversampled grid (cos(π·f / (L·fs))) and the filter's ripple. The
        // tone fades in over 10 ms: a tone switched on mid-cycle is a step,
        // whose band-limited reconstruction really does overshoot.
        let fs = 48000.0;
        for f in [100.0, 1000.0, 5000.0, 10000.0, 15000.0, 18000.0] {
            for phase in [0.0, 0.4, 1.1] {
                let a = 0.5;
                let x: Vec<f64> = (0..9600)
                    .map(|n| {
                        let fade = 0.5 - 0.5 * (PI * (n as f64 / 480.0).min(1.0)).cos();
                        fade * a * (2.0 * PI * f * n as f64 / fs + phase).sin()
                    })
                    .collect();
                let (_, tp) = true_peak_db_of(&x, fs);
                let err = tp - 20.0 * a.log10();
                assert!(err > -0.15 && err < 0.05, "{f} Hz phase {phase}: {err} dB");
            }
        }
    }

    #[test]
    fn interpolator_is_a_lowpass_at_the_input_nyquist() {
        // Each phase, as a fractional delay, must pass DC with gain 1 and a
        // 10 kHz tone (at 48 kHz) with its amplitude within 0.01 dB.
        let tp = TruePeak::new(48000.0, 1);
        assert_eq!(tp.factor(), 8);
        for phase in tp.coefs.chunks_exact(TAPS) {
            let dc: f64 = phase.iter().sum();
            assert!((dc - 1.0).abs() < 1e-12);
            let w = 2.0 * PI * 10000.0 / 48000.0;
            let (re, im) = phase
                .iter()
                .enumerate()
                .fold((0.0, 0.0), |(re, im), (j, h)| (re + h * (w * j as f64).cos(), im + h * (w * j as f64).sin()));
            let g = 20.0 * (re * re + im * im).sqrt().log10();
            assert!(g.abs() < 0.01, "{g}");
        }
    }

    #[test]
    fn plain_and_avx2_builds_give_the_same_bits() {
        let fs = 48000.0;
        let x: Vec<f64> = (0..6000).map(|n| (n as f64 * 0.37).sin() * (n as f64 * 0.0011).cos()).collect();
        let mut plain = TruePeak::new(fs, 2);
        plain.wide = false;
        let mut wide = TruePeak::new(fs, 2);
        wide.wide = crate::kernels::avx2_allowed();
        for block in x.chunks(100) {
            for c in 0..2 {
                let (a, b) = (plain.channel_block(c, block, 0.0), wide.channel_block(c, block, 0.0));
                assert_eq!(a.to_bits(), b.to_bits());
            }
            plain.advance(block.len());
            wide.advance(block.len());
        }
    }

    #[test]
    fn skipping_quiet_blocks_does_not_change_the_reading() {
        // A loud burst then a long quieter passage: with an unreachable
        // `known_max` of 0 (always compute) versus the running maximum.
        let fs = 48000.0;
        let x: Vec<f64> = (0..20000)
            .map(|n| {
                let a = if n < 3000 { 0.9 } else { 0.3 + 0.2 * ((n / 500) % 3) as f64 };
                a * (2.0 * PI * 11000.0 * n as f64 / fs).sin()
            })
            .collect();
        let mut always = TruePeak::new(fs, 1);
        let mut lazy = TruePeak::new(fs, 1);
        let (mut m_always, mut m_lazy) = (0.0f64, 0.0f64);
        for block in x.chunks(64) {
            m_always = m_always.max(always.channel_block(0, block, 0.0));
            always.advance(block.len());
            m_lazy = m_lazy.max(lazy.channel_block(0, block, m_lazy));
            lazy.advance(block.len());
        }
        assert_eq!(m_always, m_lazy);
    }

    /// The interpolator without any skipping: every phase of every frame,
    /// each value by the same `dot`, from a linear copy of all input so far.
    struct Reference {
        coefs: Vec<f64>,
        input: Vec<Vec<f64>>,
    }

    impl Reference {
        fn new(tp: &TruePeak, channels: usize) -> Self {
            Self { coefs: tp.coefs.to_vec(), input: vec![vec![0.0; TAPS - 1]; channels] }
        }

        fn channel_block(&mut self, c: usize, x: &[f64]) -> f64 {
            let mut peak = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let input = &mut self.input[c];
            for &v in x {
                input.push(v);
                let window: &[f64; TAPS] = input[input.len() - TAPS..].try_into().unwrap();
                for phase in self.coefs.chunks_exact(TAPS) {
                    peak = peak.max(dot(phase.try_into().unwrap(), window).abs());
                }
            }
            peak
        }
    }

    /// Test signals: noise, loud and quiet sines, a clipped square, sparse
    /// impulses, silence with a lone spike, and noise with NaN and inf.
    fn signals(fs: f64) -> Vec<(&'static str, Vec<f64>)> {
        use super::super::test_support::noise;
        // Shorter in unoptimized builds, where the reference is slow.
        let n = if cfg!(debug_assertions) { 3000 } else { 20000 };
        let mut pink = noise(n, 7);
        let mut acc = 0.0;
        for (i, v) in pink.iter_mut().enumerate() {
            acc = 0.98 * acc + 0.2 * *v;
            *v = acc * (0.5 + 0.5 * (i as f64 * 0.0007).sin());
        }
        let sine =
            |f: f64, a: f64| -> Vec<f64> { (0..n).map(|i| a * (2.0 * PI * f * i as f64 / fs + 0.3).sin()).collect() };
        let square: Vec<f64> = sine(3000.0, 3.0).iter().map(|v| v.clamp(-1.0, 1.0)).collect();
        let impulses: Vec<f64> =
            (0..n).map(|i| if i % 997 == 13 { 1.0 - (i as f64 / n as f64) } else { 0.0 }).collect();
        let mut spike = vec![0.0; n];
        spike[n / 2] = -0.25;
        let mut odd = noise(n, 11);
        odd[500] = f64::NAN;
        odd[n / 2] = f64::INFINITY;
        odd[n / 2 + 1] = f64::NEG_INFINITY;
        odd[n - 100] = f64::NAN;
        let crescendo: Vec<f64> = noise(n, 3).iter().enumerate().map(|(i, v)| v * i as f64 / n as f64).collect();
        vec![
            ("white noise", noise(n, 5)),
            ("pink-ish noise", pink),
            ("crescendo", crescendo),
            ("997 Hz", sine(997.0, 0.9)),
            ("fs/4.1 quiet", sine(fs / 4.1, 0.01)),
            ("clipped square", square),
            ("impulses", impulses),
            ("spike", spike),
            ("nan and inf", odd),
        ]
    }

    #[test]
    fn skipping_returns_the_same_bits_as_computing_everything() {
        // With `known_max` 0 every block returns its exact maximum, bit for
        // bit; with the running maximum as `known_max` (as the meter calls
        // it) the maxima agree bit for bit, block by block.
        for fs in [44100.0, 48000.0, 96000.0, 192000.0] {
            for (name, x) in signals(fs) {
                for block in [1, 5, 31, 32, 33, 128, 16384] {
                    for wide in [false, true] {
                        let mut exact = TruePeak::new(fs, 2);
                        exact.wide = wide && crate::kernels::avx2_allowed();
                        let mut lazy = exact.clone();
                        let mut reference = Reference::new(&exact, 2);
                        let mut known = [0.0f64; 2];
                        for (b, chunk) in x.chunks(block).enumerate() {
                            // Channel 1 gets the signal reversed within the block.
                            let rev: Vec<f64> = chunk.iter().rev().copied().collect();
                            for (c, data) in [chunk, &rev[..]].into_iter().enumerate() {
                                let want = reference.channel_block(c, data);
                                let got = exact.channel_block(c, data, 0.0);
                                assert_eq!(got.to_bits(), want.to_bits(), "{fs} {name} block {block} #{b} ch {c}");
                                let lazy_got = lazy.channel_block(c, data, known[c]);
                                assert_eq!(
                                    lazy_got.max(known[c]).to_bits(),
                                    want.max(known[c]).to_bits(),
                                    "{fs} {name} block {block} #{b} ch {c} (known {})",
                                    known[c]
                                );
                                known[c] = known[c].max(lazy_got);
                            }
                            exact.advance(chunk.len());
                            lazy.advance(chunk.len());
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn meter_reads_the_same_true_peak_as_the_reference() {
        // Through `Meter::process`, total readings over several block sizes.
        // (Not the NaN signal: the test driver's unchanged-signal check
        // cannot compare NaN.)
        for fs in [44100.0, 48000.0, 96000.0] {
            for (name, x) in signals(fs).into_iter().filter(|(_, x)| x.iter().all(|v| !v.is_nan())) {
                let mut reference = Reference::new(&TruePeak::new(fs, 1), 1);
                let want = x.chunks(100).fold(0.0f64, |m, b| m.max(reference.channel_block(0, b)));
                let want_db = 20.0 * want.max(x.iter().fold(0.0f64, |m, v| m.max(v.abs()))).log10();
                for block in [1, 128, 4096] {
                    let mut m = meter(fs, 1);
                    run(&mut m, core::slice::from_ref(&x), block, &mut 0);
                    let got = m.total_reading().true_peak_db;
                    assert_eq!(got.to_bits(), want_db.to_bits(), "{fs} {name} block {block}: {got} vs {want_db}");
                }
            }
        }
    }
}
