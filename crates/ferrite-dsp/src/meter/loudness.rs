//! Loudness per ITU-R BS.1770-4 and EBU R128: K-weighted mean square summed
//! over channels with their weights, in 100 ms sub-blocks.
//!
//! The last 30 sub-block energies live in a ring: momentary loudness is the
//! mean of the newest 4 (400 ms), short-term the mean of all 30 (3 s). Before
//! a window has filled, the missing sub-blocks count as silence. Both are
//! updated at each 100 ms boundary (EBU Tech 3341 asks for at least 10 Hz).

use super::k_weighting::{KState, KStep, KWeighting, STEP};

/// Sub-blocks in the momentary window (400 ms).
pub(crate) const MOMENTARY_SUBBLOCKS: usize = 4;
/// Sub-blocks in the short-term window (3 s).
pub(crate) const SHORT_TERM_SUBBLOCKS: usize = 30;

/// `-0.691 + 10·log10(z)`: loudness in LUFS of a weighted mean square `z`
/// (`-inf` for 0).
#[inline]
pub(crate) fn lufs(z: f64) -> f64 {
    -0.691 + 10.0 * z.log10()
}

/// BS.1770 weight of channel `c` in a render of `channels` channels (the
/// table in the `meter` module documentation).
///
/// - 1 to 3 channels: every channel 1.0 (mono, stereo, L R C).
/// - 4 channels: quad L R Ls Rs: 1.0, 1.0, 1.41, 1.41.
/// - 5 channels: 5.0 L R C Ls Rs: 1.0, 1.0, 1.0, 1.41, 1.41.
/// - 6 or more: 5.1 L R C LFE Ls Rs: 1.0, 1.0, 1.0, 0 (LFE excluded), 1.41,
///   1.41; channels past the sixth count 1.0.
pub(crate) fn channel_weight(c: usize, channels: usize) -> f64 {
    const SURROUND: f64 = 1.41;
    match (channels, c) {
        (0..=3, _) => 1.0,
        (4, 2 | 3) => SURROUND,
        (5, 3 | 4) => SURROUND,
        (6.., 3) => 0.0,
        (6.., 4 | 5) => SURROUND,
        _ => 1.0,
    }
}

/// Lanes of a [`Tally`]'s sums: sample `n` of the span is summed in lane
/// `n mod TALLY_LANES`, so the sums can be vectorized and still be the same
/// bits whatever the blocks.
pub(crate) const TALLY_LANES: usize = 4;

/// A channel's sample peak and its sums of squares over the meter's two
/// spans (total and interval), each sum in [`TALLY_LANES`] lanes by the
/// sample's position (see [`Tally::add_block`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Tally {
    pub peak: f64,
    pub total: [f64; TALLY_LANES],
    pub interval: [f64; TALLY_LANES],
}

/// `v²`, or 0 when that is not finite (a NaN or an overflow is not summed;
/// adding 0.0 leaves a sum of squares, never -0.0, unchanged).
#[inline(always)]
fn finite_square(v: f64) -> f64 {
    let sq = v * v;
    if sq < f64::INFINITY {
        sq
    } else {
        0.0
    }
}

impl Tally {
    /// Counts sample `v` in lane `lane`: `max` ignores NaN, so a NaN cannot
    /// stick in the peak.
    #[inline(always)]
    fn add(&mut self, lane: usize, v: f64) {
        self.peak = self.peak.max(v.abs());
        let sq = finite_square(v);
        if let (Some(t), Some(i)) = (self.total.get_mut(lane), self.interval.get_mut(lane)) {
            *t += sq;
            *i += sq;
        }
    }

    /// Counts the samples `x`, the first in lane `lane0 mod TALLY_LANES`,
    /// the next in the next lane, and so on. `wide`: the CPU runs AVX2 (see
    /// [`crate::kernels::avx2_allowed`]); both builds give the same bits (a
    /// maximum is exact, and each lane adds its squares in order, with no
    /// fused multiply-add).
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    #[inline]
    pub fn add_block(&mut self, x: &[f64], lane0: usize, wide: bool) {
        #[cfg(target_arch = "x86_64")]
        if wide {
            // SAFETY: `wide` is true only when the CPU runs AVX2.
            return unsafe { self.add_block_avx2(x, lane0) };
        }
        let _ = wide;
        self.add_block_impl(x, lane0);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn add_block_avx2(&mut self, x: &[f64], lane0: usize) {
        self.add_block_impl(x, lane0);
    }

    #[inline(always)]
    fn add_block_impl(&mut self, x: &[f64], lane0: usize) {
        let lane = lane0 % TALLY_LANES;
        let head = ((TALLY_LANES - lane) % TALLY_LANES).min(x.len());
        let (h, body) = x.split_at(head);
        for (l, &v) in (lane..).zip(h) {
            self.add(l, v);
        }
        let mut chunks = body.chunks_exact(TALLY_LANES);
        let (mut peak, mut total, mut interval) = ([0.0f64; TALLY_LANES], self.total, self.interval);
        for c in &mut chunks {
            for k in 0..TALLY_LANES {
                let v = c.get(k).copied().unwrap_or(0.0);
                peak[k] = peak[k].max(v.abs());
                let sq = finite_square(v);
                total[k] += sq;
                interval[k] += sq;
            }
        }
        (self.total, self.interval) = (total, interval);
        self.peak = peak.iter().fold(self.peak, |m, &p| m.max(p));
        for (k, &v) in chunks.remainder().iter().enumerate() {
            self.add(k, v);
        }
    }
}

/// The sum of a tally's lanes.
#[inline]
pub(crate) fn lanes_sum(l: &[f64; TALLY_LANES]) -> f64 {
    (l[0] + l[1]) + (l[2] + l[3])
}

/// What happened at a 100 ms boundary, for the gating stages.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SubBlockEnd {
    /// Mean square over the last 400 ms.
    pub momentary: f64,
    /// Mean square over the last 3 s.
    pub short_term: f64,
}

/// K-weighting, per-channel sub-block sums and the 3 s ring of sub-block energies.
///
/// The filter runs [`STEP`] samples at a time ([`KStep`]), in steps that
/// start at multiples of [`STEP`] frames into each sub-block; a step's
/// inputs that arrive in different blocks wait in `held`, and the samples
/// left at a sub-block's end (its length is not always a multiple of
/// [`STEP`]) go through one at a time. So the sums, and the readings, are
/// the same bits however the audio is cut into blocks.
#[derive(Debug, Clone)]
pub(crate) struct LoudnessWindows {
    k: KWeighting,
    step: KStep,
    /// Frames per 100 ms sub-block (`round(fs / 10)`, at least 1).
    hop: usize,
    /// Frames already in the current sub-block.
    pos: usize,
    /// Per channel: filter memory.
    filters: Box<[KState]>,
    /// Per channel: the first `pos % STEP` inputs of the current step, not
    /// yet filtered.
    held: Box<[[f64; STEP]]>,
    /// Per channel: K-weighted sum of squares in the current sub-block, in
    /// [`STEP`] lanes (lane `k`: the frames at `k` mod [`STEP`]).
    sums: Box<[[f64; STEP]]>,
    /// Per channel: BS.1770 weight.
    weights: Box<[f64]>,
    /// Weighted energies (sum of squares, not yet divided by frames) of the
    /// last [`SHORT_TERM_SUBBLOCKS`] sub-blocks; `ring[next]` is the oldest.
    ring: [f64; SHORT_TERM_SUBBLOCKS],
    next: usize,
    momentary: f64,
    short_term: f64,
}

impl LoudnessWindows {
    /// Allocates the state for `channels` channels at `sample_rate` (control side).
    pub fn new(sample_rate: f64, channels: usize) -> Self {
        let hop = super::subblock_frames(sample_rate);
        let k = KWeighting::new(sample_rate);
        Self {
            k,
            step: KStep::new(&k),
            hop,
            pos: 0,
            filters: vec![KState::default(); channels].into_boxed_slice(),
            held: vec![[0.0; STEP]; channels].into_boxed_slice(),
            sums: vec![[0.0; STEP]; channels].into_boxed_slice(),
            weights: (0..channels).map(|c| channel_weight(c, channels)).collect(),
            ring: [0.0; SHORT_TERM_SUBBLOCKS],
            next: 0,
            momentary: 0.0,
            short_term: 0.0,
        }
    }

    /// Frames that still fit in the current sub-block (at least 1).
    #[inline]
    pub fn room(&self) -> usize {
        self.hop.saturating_sub(self.pos).max(1)
    }

    /// Feeds `x` (at most [`Self::room`] frames) of channel `c`. Call it for
    /// every channel with the same number of frames, then [`Self::advance`].
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    #[inline]
    pub fn feed(&mut self, c: usize, x: &[f64]) {
        let (held, ends) = (self.pos % STEP, self.pos + x.len() >= self.hop);
        let (k, step) = (&self.k, &self.step);
        let (Some(f), Some(s), Some(h), Some(w)) =
            (self.filters.get_mut(c), self.sums.get_mut(c), self.held.get_mut(c), self.weights.get(c))
        else {
            return;
        };
        if *w == 0.0 {
            return;
        }
        let (x, held) = head(step, f, s, h, held, x);
        let (whole, rest) = x.split_at(x.len() / STEP * STEP);
        step.run(f, s, whole);
        tail(k, f, s, h, held, rest, ends);
    }

    /// [`Self::feed`] of channels `c` and `c + 1` (`x0`, `x1`: the same
    /// number of frames) in one pass: the channels' recursions are
    /// independent, so running them side by side lets the core overlap
    /// them; each channel's arithmetic, and so its bits, is that of `feed`.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    #[inline]
    pub fn feed_pair(&mut self, c: usize, x0: &[f64], x1: &[f64]) {
        let weighted = |w: Option<&f64>| w.is_some_and(|w| *w != 0.0);
        let both = weighted(self.weights.get(c)) && weighted(self.weights.get(c + 1)) && x0.len() == x1.len();
        if !both {
            self.feed(c, x0);
            self.feed(c + 1, x1);
            return;
        }
        let (held, ends) = (self.pos % STEP, self.pos + x0.len() >= self.hop);
        let (k, step) = (&self.k, &self.step);
        let (Some([f0, f1]), Some([s0, s1]), Some([h0, h1])) =
            (self.filters.get_mut(c..c + 2), self.sums.get_mut(c..c + 2), self.held.get_mut(c..c + 2))
        else {
            return;
        };
        let ((x0, held0), (x1, held1)) = (head(step, f0, s0, h0, held, x0), head(step, f1, s1, h1, held, x1));
        let n = x0.len().min(x1.len()) / STEP * STEP;
        let ((w0, r0), (w1, r1)) = (x0.split_at(n), x1.split_at(n));
        step.run_pair([f0, f1], [s0, s1], w0, w1);
        tail(k, f0, s0, h0, held0, r0, ends);
        tail(k, f1, s1, h1, held1, r1, ends);
    }

    /// Counts `frames` fed frames; returns the window energies when they
    /// completed a sub-block.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub fn advance(&mut self, frames: usize) -> Option<SubBlockEnd> {
        self.pos = self.pos.saturating_add(frames);
        if self.pos < self.hop {
            return None;
        }
        self.pos = 0;
        let mut e = 0.0;
        for ((lanes, w), f) in self.sums.iter_mut().zip(self.weights.iter()).zip(self.filters.iter_mut()) {
            let mut s = lanes_sum(lanes);
            if !s.is_finite() {
                // A NaN or infinity reached the meter: forget it rather than
                // poisoning every later reading.
                f.clear();
                s = 0.0;
            }
            f.flush_tiny();
            e += w * s;
            *lanes = [0.0; STEP];
        }
        if let Some(slot) = self.ring.get_mut(self.next) {
            *slot = e;
        }
        self.next = (self.next + 1) % SHORT_TERM_SUBBLOCKS;
        // Sum oldest to newest so the result does not depend on anything but the data.
        let mut short = 0.0;
        let mut moment = 0.0;
        for i in 0..SHORT_TERM_SUBBLOCKS {
            let v = self.ring.get((self.next + i) % SHORT_TERM_SUBBLOCKS).copied().unwrap_or(0.0);
            short += v;
            if i >= SHORT_TERM_SUBBLOCKS - MOMENTARY_SUBBLOCKS {
                moment += v;
            }
        }
        let hop = self.hop as f64;
        self.momentary = moment / (MOMENTARY_SUBBLOCKS as f64 * hop);
        self.short_term = short / (SHORT_TERM_SUBBLOCKS as f64 * hop);
        Some(SubBlockEnd { momentary: self.momentary, short_term: self.short_term })
    }

    /// Momentary loudness (LUFS) as of the last 100 ms boundary.
    pub fn momentary_lufs(&self) -> f64 {
        lufs(self.momentary)
    }

    /// Short-term loudness (LUFS) as of the last 100 ms boundary.
    pub fn short_term_lufs(&self) -> f64 {
        lufs(self.short_term)
    }

    /// True when a sub-block is partly filled.
    pub fn mid_subblock(&self) -> bool {
        self.pos > 0
    }

    /// Takes over `other`'s history (same sample rate): the ring, the
    /// sub-block position, and the filters and sums of the channels both have.
    pub fn take_from(&mut self, other: &LoudnessWindows) {
        self.pos = other.pos.min(self.hop.saturating_sub(1));
        self.ring = other.ring;
        self.next = other.next;
        self.momentary = other.momentary;
        self.short_term = other.short_term;
        for (a, b) in self.filters.iter_mut().zip(other.filters.iter()) {
            *a = *b;
        }
        for (a, b) in self.sums.iter_mut().zip(other.sums.iter()) {
            *a = *b;
        }
        for (a, b) in self.held.iter_mut().zip(other.held.iter()) {
            *a = *b;
        }
    }

    /// Back to silence (filters, sums, ring).
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub fn clear(&mut self) {
        self.pos = 0;
        self.filters.iter_mut().for_each(KState::clear);
        self.sums.iter_mut().for_each(|s| *s = [0.0; STEP]);
        self.ring = [0.0; SHORT_TERM_SUBBLOCKS];
        self.next = 0;
        self.momentary = 0.0;
        self.short_term = 0.0;
    }
}

/// The start of a channel's piece `x` when `held` inputs of the current
/// step wait in `h`: completes that step (running it when `x` fills it).
/// Returns the rest of `x` and the inputs now waiting: when inputs are still
/// waiting, the rest is empty; else it starts on a step.
#[inline(always)]
fn head<'a>(
    step: &KStep,
    f: &mut KState,
    s: &mut [f64; STEP],
    h: &mut [f64; STEP],
    held: usize,
    x: &'a [f64],
) -> (&'a [f64], usize) {
    if held == 0 {
        return (x, 0);
    }
    let n = STEP.saturating_sub(held).min(x.len());
    if let (Some(to), Some(from)) = (h.get_mut(held..held + n), x.get(..n)) {
        to.copy_from_slice(from);
    }
    if held + n < STEP {
        return (&[], held + n);
    }
    step.run(f, s, h);
    (x.get(n..).unwrap_or_default(), 0)
}

/// The end of a channel's piece: `rest` (less than a step, after `held`
/// waiting inputs) waits in `h` for the rest of its step; when the piece
/// `ends` the sub-block, the waiting inputs go through the filter one at a
/// time instead, each square into its lane.
#[inline(always)]
fn tail(
    k: &KWeighting,
    f: &mut KState,
    s: &mut [f64; STEP],
    h: &mut [f64; STEP],
    held: usize,
    rest: &[f64],
    ends: bool,
) {
    let total = (held + rest.len()).min(STEP);
    if let (Some(to), Some(from)) = (h.get_mut(held..total), rest.get(..total.saturating_sub(held))) {
        to.copy_from_slice(from);
    }
    if ends {
        for (q, v) in s.iter_mut().zip(h.iter()).take(total) {
            let y = f.tick(k, *v);
            *q += y * y;
        }
    }
}
