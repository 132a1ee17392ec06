//! A fixed histogram of block loudness, for the gates of integrated loudness
//! (BS.1770-4) and of loudness range (EBU Tech 3342), in bounded memory for
//! any duration (as libebur128's histogram mode).
//!
//! Bins are 0.01 LU wide from −70 LUFS (the absolute gate) to +5 LUFS; louder
//! blocks go into the top bin. Each bin keeps its block count **and the exact
//! sum of its blocks' energies**, so the power means behind the gates and the
//! integrated loudness are exact; only the decision for the one bin that
//! straddles the relative gate is made per bin (by the bin's mean loudness),
//! and a percentile is the mean loudness of the bin it falls in (within
//! 0.005 LU).

use super::loudness::lufs;

/// The absolute gate, LUFS: blocks at or below it are not counted.
pub(crate) const ABSOLUTE_GATE_LUFS: f64 = -70.0;
/// Width of a bin, LU.
const BIN_LU: f64 = 0.01;
/// Bins from −70 to +5 LUFS.
const BINS: usize = 7500;

/// Counts and energy sums of gated blocks, binned by loudness.
#[derive(Debug, Clone)]
pub(crate) struct LoudnessHistogram {
    counts: Box<[u64]>,
    energies: Box<[f64]>,
    /// Blocks above the absolute gate.
    count: u64,
    /// Sum of their energies.
    energy: f64,
}

impl LoudnessHistogram {
    /// An empty histogram (control side: allocates its bins).
    pub fn new() -> Self {
        Self {
            counts: vec![0; BINS].into_boxed_slice(),
            energies: vec![0.0; BINS].into_boxed_slice(),
            count: 0,
            energy: 0.0,
        }
    }

    /// Bin of loudness `l` (above the absolute gate), clamped to the top bin.
    #[inline]
    fn bin(l: f64) -> usize {
        (((l - ABSOLUTE_GATE_LUFS) / BIN_LU).floor().max(0.0) as usize).min(BINS - 1)
    }

    /// Adds a block of weighted mean square `z`, if it passes the absolute gate.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub fn add(&mut self, z: f64) {
        let l = lufs(z);
        // `l > gate` is false for NaN; +inf energy would poison the sums.
        let passes = l > ABSOLUTE_GATE_LUFS && z.is_finite();
        if !passes {
            return;
        }
        let b = Self::bin(l);
        if let (Some(c), Some(e)) = (self.counts.get_mut(b), self.energies.get_mut(b)) {
            *c += 1;
            *e += z;
            self.count += 1;
            self.energy += z;
        }
    }

    /// Adds `other`'s blocks (the histogram of a later segment).
    pub fn merge(&mut self, other: &LoudnessHistogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        for (a, b) in self.energies.iter_mut().zip(other.energies.iter()) {
            *a += b;
        }
        self.count += other.count;
        self.energy += other.energy;
    }

    /// Empties the histogram.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic.
    pub fn clear(&mut self) {
        self.counts.iter_mut().for_each(|c| *c = 0);
        self.energies.iter_mut().for_each(|e| *e = 0.0);
        self.count = 0;
        self.energy = 0.0;
    }

    /// The relative gate `offset_lu` below the power mean of the counted
    /// blocks, and the first bin above it, or `None` without blocks. Bins
    /// from the returned index on are above the gate; the bin holding the
    /// gate itself is counted when its mean loudness is above the gate.
    fn gate(&self, offset_lu: f64) -> Option<usize> {
        if self.count == 0 {
            return None;
        }
        let gate = lufs(self.energy / self.count as f64) + offset_lu;
        if gate <= ABSOLUTE_GATE_LUFS {
            return Some(0);
        }
        let b = Self::bin(gate);
        let (n, e) = (self.counts.get(b).copied().unwrap_or(0), self.energies.get(b).copied().unwrap_or(0.0));
        let straddler_above = n > 0 && lufs(e / n as f64) > gate;
        Some(if straddler_above { b } else { b + 1 })
    }

    /// Integrated loudness: the power mean of the blocks above the relative
    /// gate `offset_lu` (−10 LU for BS.1770-4), in LUFS; `-inf` without blocks.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic (one pass over the bins above the gate).
    pub fn gated_mean_lufs(&self, offset_lu: f64) -> f64 {
        let Some(first) = self.gate(offset_lu) else {
            return f64::NEG_INFINITY;
        };
        let (mut n, mut e) = (0u64, 0.0);
        for (c, z) in self.counts.iter().zip(self.energies.iter()).skip(first) {
            n += c;
            e += z;
        }
        if n == 0 {
            f64::NEG_INFINITY
        } else {
            lufs(e / n as f64)
        }
    }

    /// Loudness range (EBU Tech 3342): the spread between the 10th and the
    /// 95th percentiles of the blocks above the relative gate `offset_lu`
    /// (−20 LU), in LU; 0 without blocks. Percentiles are nearest-rank:
    /// `round((n-1)·p)` in ascending order.
    ///
    /// # Realtime
    /// Does not allocate, lock or panic (one pass over the bins above the gate).
    pub fn range_lu(&self, offset_lu: f64) -> f64 {
        let Some(first) = self.gate(offset_lu) else {
            return 0.0;
        };
        let n: u64 = self.counts.iter().skip(first).sum();
        if n == 0 {
            return 0.0;
        }
        let rank = |p: f64| ((n - 1) as f64 * p).round() as u64;
        let (lo_rank, hi_rank) = (rank(0.10), rank(0.95));
        let (mut lo, mut hi) = (None, None);
        let mut seen = 0u64;
        for (c, z) in self.counts.iter().zip(self.energies.iter()).skip(first) {
            if *c == 0 {
                continue;
            }
            seen += c;
            let l = lufs(z / *c as f64);
            if lo.is_none() && seen > lo_rank {
                lo = Some(l);
            }
            if seen > hi_rank {
                hi = Some(l);
                break;
            }
        }
        match (lo, hi) {
            (Some(lo), Some(hi)) => (hi - lo).max(0.0),
            _ => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn energy(l: f64) -> f64 {
        10f64.powf((l + 0.691) / 10.0)
    }

    #[test]
    fn absolute_gate_and_exact_power_mean() {
        let mut h = LoudnessHistogram::new();
        assert_eq!(h.gated_mean_lufs(-10.0), f64::NEG_INFINITY);
        h.add(energy(-80.0));
        h.add(0.0);
        h.add(f64::NAN);
        assert_eq!(h.gated_mean_lufs(-10.0), f64::NEG_INFINITY);
        h.add(energy(-20.0));
        h.add(energy(-23.456));
        let want = lufs((energy(-20.0) + energy(-23.456)) / 2.0);
        assert!((h.gated_mean_lufs(-10.0) - want).abs() < 1e-12);
        // A block far above the top bin still counts with its exact energy.
        h.clear();
        h.add(energy(12.0));
        assert!((h.gated_mean_lufs(-10.0) - 12.0).abs() < 1e-12);
    }

    #[test]
    fn relative_gate_matches_a_direct_computation() {
        // Blocks spread over 40 LU: compute BS.1770's two-stage gate directly.
        let levels: Vec<f64> = (0..400).map(|i| -60.0 + (i as f64 * 7.31) % 40.0).collect();
        let mut h = LoudnessHistogram::new();
        levels.iter().for_each(|l| h.add(energy(*l)));
        let mean = |ls: &[f64]| lufs(ls.iter().map(|l| energy(*l)).sum::<f64>() / ls.len() as f64);
        let gate = mean(&levels) - 10.0;
        let kept: Vec<f64> = levels.iter().copied().filter(|l| *l > gate).collect();
        assert!((h.gated_mean_lufs(-10.0) - mean(&kept)).abs() < 0.01);
    }

    #[test]
    fn range_is_the_spread_of_the_10th_to_95th_percentiles() {
        // 101 blocks evenly from -40 to -20 LUFS: the relative gate (-20 LU
        // below the power mean) keeps them all; percentiles at -38 and -21.
        let mut h = LoudnessHistogram::new();
        for i in 0..=100 {
            h.add(energy(-40.0 + 0.2 * i as f64));
        }
        assert!((h.range_lu(-20.0) - 17.0).abs() < 0.011, "{}", h.range_lu(-20.0));
        let mut empty = LoudnessHistogram::new();
        assert_eq!(empty.range_lu(-20.0), 0.0);
        empty.add(energy(-30.0));
        assert_eq!(empty.range_lu(-20.0), 0.0);
    }
}
