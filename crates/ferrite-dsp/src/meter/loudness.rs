//! Loudness per ITU-R BS.1770-4 and EBU R128: K-weighted mean square summed
//! over channels with their weights, in 100 ms sub-blocks.
//!
//! The last 30 sub-block energies live in a ring: momentary loudness is the
//! mean of the newest 4 (400 ms), short-term the mean of all 30 (3 s). Before
//! a window has filled, the missing sub-blocks count as silence. Both are
//! updated at each 100 ms boundary (EBU Tech 3341 asks for at least 10 Hz).

use super::k_weighting::{KState, KWeighting};

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

/// A channel's sample peak and its sums of squares over the meter's two
/// spans (total and interval), tallied sample by sample in order: the same
/// sums whatever the blocks.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Tally {
    pub peak: f64,
    pub total: f64,
    pub interval: f64,
}

impl Tally {
    /// Counts sample `v`: `max` ignores NaN, so a NaN cannot stick in the
    /// peak, and a square that is not finite is not summed.
    #[inline(always)]
    pub fn add(&mut self, v: f64) {
        self.peak = self.peak.max(v.abs());
        let sq = v * v;
        // Adding 0.0 leaves a sum of squares (never -0.0) unchanged.
        let sq = if sq.is_finite() { sq } else { 0.0 };
        self.total += sq;
        self.interval += sq;
    }
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
#[derive(Debug, Clone)]
pub(crate) struct LoudnessWindows {
    k: KWeighting,
    /// Frames per 100 ms sub-block (`round(fs / 10)`, at least 1).
    hop: usize,
    /// Frames already in the current sub-block.
    pos: usize,
    /// Per channel: filter memory.
    filters: Box<[KState]>,
    /// Per channel: K-weighted sum of squares in the current sub-block.
    sums: Box<[f64]>,
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
        Self {
            k: KWeighting::new(sample_rate),
            hop,
            pos: 0,
            filters: vec![KState::default(); channels].into_boxed_slice(),
            sums: vec![0.0; channels].into_boxed_slice(),
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

    /// Feeds `x` (at most [`Self::room`] frames) of channel `c`, and tallies
    /// its samples into `t`. Call it for every channel with the same number
    /// of frames, then [`Self::advance`].
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    #[inline]
    pub fn feed(&mut self, c: usize, x: &[f64], t: &mut Tally) {
        let k = self.k;
        let (Some(f), Some(s), Some(w)) = (self.filters.get_mut(c), self.sums.get_mut(c), self.weights.get(c)) else {
            x.iter().for_each(|&v| t.add(v));
            return;
        };
        if *w == 0.0 {
            x.iter().for_each(|&v| t.add(v));
            return;
        }
        let (mut st, mut acc, mut tally) = (*f, *s, *t);
        for &v in x {
            let y = st.tick(&k, v);
            acc += y * y;
            tally.add(v);
        }
        (*f, *s, *t) = (st, acc, tally);
    }

    /// [`Self::feed`] of channels `c` and `c + 1` (`x0`, `x1`: the same
    /// number of frames) in one pass: the channels' recursions (the filters
    /// and every running sum) are independent, so interleaving them lets
    /// the core run them at once; each channel's arithmetic, and so its
    /// bits, is that of `feed`. The state lives in locals for the loop.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    #[inline]
    pub fn feed_pair(&mut self, c: usize, x0: &[f64], x1: &[f64], t0: &mut Tally, t1: &mut Tally) {
        let k = self.k;
        let weighted = |w: Option<&f64>| w.is_some_and(|w| *w != 0.0);
        let both = weighted(self.weights.get(c)) && weighted(self.weights.get(c + 1)) && x0.len() == x1.len();
        if !both {
            self.feed(c, x0, t0);
            self.feed(c + 1, x1, t1);
            return;
        }
        let (Some([f0, f1]), Some([s0, s1])) = (self.filters.get_mut(c..c + 2), self.sums.get_mut(c..c + 2)) else {
            return;
        };
        let (mut k0, mut k1) = (*f0, *f1);
        let (mut a0, mut a1) = (*s0, *s1);
        let (mut q0, mut q1) = (*t0, *t1);
        for (&v0, &v1) in x0.iter().zip(x1) {
            let y0 = k0.tick(&k, v0);
            let y1 = k1.tick(&k, v1);
            a0 += y0 * y0;
            a1 += y1 * y1;
            q0.add(v0);
            q1.add(v1);
        }
        (*f0, *f1, *s0, *s1, *t0, *t1) = (k0, k1, a0, a1, q0, q1);
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
        for ((s, w), f) in self.sums.iter_mut().zip(self.weights.iter()).zip(self.filters.iter_mut()) {
            if !s.is_finite() {
                // A NaN or infinity reached the meter: forget it rather than
                // poisoning every later reading.
                f.clear();
                *s = 0.0;
            }
            f.flush_tiny();
            e += w * *s;
            *s = 0.0;
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
    }

    /// Back to silence (filters, sums, ring).
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub fn clear(&mut self) {
        self.pos = 0;
        self.filters.iter_mut().for_each(KState::clear);
        self.sums.iter_mut().for_each(|s| *s = 0.0);
        self.ring = [0.0; SHORT_TERM_SUBBLOCKS];
        self.next = 0;
        self.momentary = 0.0;
        self.short_term = 0.0;
    }
}
