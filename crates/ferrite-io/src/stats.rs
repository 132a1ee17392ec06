//! Telemetry written by the audio thread with relaxed atomics, read anywhere.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

/// Histogram layout: values (nanoseconds) below `SUB` get a bucket each;
/// above, each power of two is split into `SUB` equal buckets, so a bucket is
/// at most 1/32 (≈3%) of its value wide.
const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;
/// Largest exponent with its own buckets: 2^40 ns ≈ 18 minutes; anything
/// longer lands in the last bucket.
const MAX_EXP: u32 = 40;
const BUCKETS: usize = (SUB + (MAX_EXP as u64 - SUB_BITS as u64 + 1) * SUB) as usize;

/// Bucket index for a duration in nanoseconds. Never out of range.
fn bucket_of(ns: u64) -> usize {
    if ns < SUB {
        return ns as usize;
    }
    let exp = 63 - ns.leading_zeros(); // ≥ SUB_BITS
    if exp > MAX_EXP {
        return BUCKETS - 1;
    }
    let sub = (ns >> (exp - SUB_BITS)) & (SUB - 1);
    (SUB + u64::from(exp - SUB_BITS) * SUB + sub) as usize
}

/// The range of nanoseconds a bucket holds, `[low, high)`.
fn bucket_range(index: usize) -> (u64, u64) {
    let i = index as u64;
    if i < SUB {
        return (i, i + 1);
    }
    let exp = (i - SUB) / SUB + u64::from(SUB_BITS);
    let sub = (i - SUB) % SUB;
    let width = 1u64 << (exp - u64::from(SUB_BITS));
    let low = (1u64 << exp) + sub * width;
    (low, low + width)
}

/// Counters shared between the audio thread (writer) and anyone who wants a
/// [`StatsSnapshot`]. Cheap to share through an `Arc`.
///
/// Every write is a relaxed atomic operation: the audio thread never locks,
/// and readers see each counter's latest value (not a consistent cut across
/// counters, which telemetry does not need).
///
/// ```
/// use ferrite_io::Stats;
/// let stats = Stats::new();
/// // 128 frames at 48 kHz have a 2667 µs budget; this callback took 300 µs.
/// let over_budget = stats.record_callback(128, 300_000, 2_666_667);
/// assert!(!over_budget);
/// stats.record_dropped_message();
/// let snapshot = stats.snapshot();
/// assert_eq!((snapshot.callbacks, snapshot.dropped_messages, snapshot.xruns), (1, 1, 0));
/// assert!((snapshot.p50_us - 300.0).abs() < 10.0);
/// ```
pub struct Stats {
    callbacks: AtomicU64,
    frames_rendered: AtomicU64,
    backend_xruns: AtomicU64,
    overrun_callbacks: AtomicU64,
    late_wakeups: AtomicU64,
    dropped_messages: AtomicU64,
    budget_ns: AtomicU64,
    max_ns: AtomicU64,
    realtime_priority: AtomicBool,
    denormals_flushed: AtomicBool,
    histogram: Box<[AtomicU64]>,
}

impl Default for Stats {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.snapshot().fmt(f)
    }
}

impl Stats {
    /// Zeroed counters.
    pub fn new() -> Self {
        Self {
            callbacks: AtomicU64::new(0),
            frames_rendered: AtomicU64::new(0),
            backend_xruns: AtomicU64::new(0),
            overrun_callbacks: AtomicU64::new(0),
            late_wakeups: AtomicU64::new(0),
            dropped_messages: AtomicU64::new(0),
            budget_ns: AtomicU64::new(0),
            max_ns: AtomicU64::new(0),
            realtime_priority: AtomicBool::new(false),
            denormals_flushed: AtomicBool::new(false),
            histogram: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Records one callback that rendered `frames` frames in `elapsed_ns`,
    /// against a budget (the block's duration) of `budget_ns`. A callback
    /// over its budget counts as an xrun. Returns whether it was over.
    ///
    /// # Realtime
    ///
    /// Relaxed atomics only.
    pub fn record_callback(&self, frames: u64, elapsed_ns: u64, budget_ns: u64) -> bool {
        self.callbacks.fetch_add(1, Relaxed);
        self.frames_rendered.fetch_add(frames, Relaxed);
        self.max_ns.fetch_max(elapsed_ns, Relaxed);
        if let Some(bucket) = self.histogram.get(bucket_of(elapsed_ns)) {
            bucket.fetch_add(1, Relaxed);
        }
        let over = elapsed_ns > budget_ns;
        if over {
            self.overrun_callbacks.fetch_add(1, Relaxed);
        }
        over
    }

    /// Counts an underrun/overrun reported by the backend.
    ///
    /// # Realtime
    ///
    /// One relaxed atomic add.
    pub fn record_backend_xrun(&self) {
        self.backend_xruns.fetch_add(1, Relaxed);
    }

    /// Counts a wake-up of the null backend's clock that came more than a
    /// period late (not caused by an over-budget callback).
    ///
    /// # Realtime
    ///
    /// One relaxed atomic add.
    pub fn record_late_wakeup(&self) {
        self.late_wakeups.fetch_add(1, Relaxed);
    }

    /// Counts a control message dropped because its queue was full.
    ///
    /// # Realtime
    ///
    /// One relaxed atomic add; callable from any thread.
    pub fn record_dropped_message(&self) {
        self.dropped_messages.fetch_add(1, Relaxed);
    }

    /// The dropped-message counter itself, for code that wants to add to it
    /// directly.
    pub fn dropped_messages_counter(&self) -> &AtomicU64 {
        &self.dropped_messages
    }

    /// Sets the budget (the granted buffer's duration) reported as `budget_us`.
    pub fn set_budget_ns(&self, budget_ns: u64) {
        self.budget_ns.store(budget_ns, Relaxed);
    }

    /// Records whether the audio thread runs with real-time priority.
    ///
    /// # Realtime
    ///
    /// One relaxed store.
    pub fn set_realtime_priority(&self, granted: bool) {
        self.realtime_priority.store(granted, Relaxed);
    }

    /// Records whether the audio thread flushes denormals (read from the CPU
    /// inside the callback).
    ///
    /// # Realtime
    ///
    /// One relaxed store.
    pub fn set_denormals_flushed(&self, flushed: bool) {
        self.denormals_flushed.store(flushed, Relaxed);
    }

    /// Callbacks so far.
    pub fn callbacks(&self) -> u64 {
        self.callbacks.load(Relaxed)
    }

    /// A copy of every counter, with percentiles computed from the histogram.
    /// Allocates (the `simd` string); call it off the audio thread.
    pub fn snapshot(&self) -> StatsSnapshot {
        let counts: Vec<u64> = self.histogram.iter().map(|b| b.load(Relaxed)).collect();
        let max_ns = self.max_ns.load(Relaxed);
        let backend_xruns = self.backend_xruns.load(Relaxed);
        let overrun_callbacks = self.overrun_callbacks.load(Relaxed);
        let late_wakeups = self.late_wakeups.load(Relaxed);
        StatsSnapshot {
            callbacks: self.callbacks.load(Relaxed),
            frames_rendered: self.frames_rendered.load(Relaxed),
            xruns: backend_xruns + overrun_callbacks + late_wakeups,
            backend_xruns,
            overrun_callbacks,
            late_wakeups,
            budget_us: self.budget_ns.load(Relaxed) as f64 / 1_000.0,
            p50_us: percentile_ns(&counts, 0.50, max_ns) / 1_000.0,
            p99_us: percentile_ns(&counts, 0.99, max_ns) / 1_000.0,
            max_us: max_ns as f64 / 1_000.0,
            dropped_messages: self.dropped_messages.load(Relaxed),
            realtime_priority: self.realtime_priority.load(Relaxed),
            denormals_flushed: self.denormals_flushed.load(Relaxed),
            simd: String::new(),
        }
    }
}

/// The value at quantile `q` (0..=1) of the histogram, as the midpoint of the
/// bucket holding it, never above the exact maximum. 0 when empty.
fn percentile_ns(counts: &[u64], q: f64, max_ns: u64) -> f64 {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return 0.0;
    }
    // Rank of the q-quantile, 1-based: the smallest value with at least
    // ceil(q·total) samples at or below it.
    let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
    let mut seen = 0u64;
    for (index, &count) in counts.iter().enumerate() {
        seen += count;
        if seen >= rank {
            let (low, high) = bucket_range(index);
            let mid = (low as f64 + high as f64 - 1.0) / 2.0;
            return mid.min(max_ns as f64);
        }
    }
    max_ns as f64
}

/// A copy of [`Stats`] at one moment. Times are in microseconds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatsSnapshot {
    /// Callbacks run.
    pub callbacks: u64,
    /// Frames rendered.
    pub frames_rendered: u64,
    /// All glitches: `backend_xruns + overrun_callbacks + late_wakeups`.
    pub xruns: u64,
    /// Underruns/overruns the backend reported.
    pub backend_xruns: u64,
    /// Callbacks that took longer than the audio they rendered lasts.
    pub overrun_callbacks: u64,
    /// Null backend: wake-ups more than one period late (the clock then
    /// resynchronises instead of catching up in a burst).
    pub late_wakeups: u64,
    /// The buffer's duration: `buffer_size / sample_rate`.
    pub budget_us: f64,
    /// Median callback time (within ≈3%, from the histogram).
    pub p50_us: f64,
    /// 99th-percentile callback time (within ≈3%, from the histogram).
    pub p99_us: f64,
    /// Longest callback (exact).
    pub max_us: f64,
    /// Control messages dropped because a queue was full.
    pub dropped_messages: u64,
    /// Whether the audio thread got real-time scheduling.
    pub realtime_priority: bool,
    /// Whether the CPU flushed denormals during the last callback.
    pub denormals_flushed: bool,
    /// SIMD level in use; left empty here, filled by the engine.
    pub simd: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_in_order() {
        // Each value falls in the bucket whose range contains it, and ranges tile.
        let mut values: Vec<u64> = (0..5_000).collect();
        values.extend([1 << 20, (1 << 20) + 12_345, 2_666_667, u64::from(u32::MAX), 1 << 40]);
        for v in values {
            let b = bucket_of(v);
            let (low, high) = bucket_range(b);
            assert!(low <= v && v < high, "{v} in bucket {b} = [{low}, {high})");
            // Width at most 1/32 of the value (plus the exact region below 32).
            assert!(high - low <= (v / 32).max(1), "{v}: width {}", high - low);
        }
        for b in 1..BUCKETS {
            assert_eq!(bucket_range(b - 1).1, bucket_range(b).0, "bucket {b}");
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn percentiles_match_a_sorted_reference() {
        let stats = Stats::new();
        // 1000 callbacks: 1 µs, 2 µs, ..., 1000 µs in a scrambled order.
        let values: Vec<u64> = (1..=1000u64).map(|i| (i * 7919) % 1000 + 1).collect();
        for &us in &values {
            stats.record_callback(128, us * 1_000, 2_666_667);
        }
        let mut sorted = values.clone();
        sorted.sort_unstable();
        let s = stats.snapshot();
        // Reference: nearest-rank percentiles of the raw data.
        let p50 = sorted[499] as f64;
        let p99 = sorted[989] as f64;
        assert!((s.p50_us - p50).abs() <= p50 / 32.0, "{} vs {p50}", s.p50_us);
        assert!((s.p99_us - p99).abs() <= p99 / 32.0, "{} vs {p99}", s.p99_us);
        assert_eq!(s.max_us, 1000.0);
        assert_eq!(s.callbacks, 1000);
        assert_eq!(s.frames_rendered, 128_000);
        assert_eq!(s.xruns, 0);
    }

    #[test]
    fn over_budget_counts_as_xrun_and_sums_into_xruns() {
        let stats = Stats::new();
        assert!(!stats.record_callback(64, 1_000, 2_000));
        assert!(!stats.record_callback(64, 2_000, 2_000), "equal to budget is in time");
        assert!(stats.record_callback(64, 2_001, 2_000));
        stats.record_backend_xrun();
        stats.record_late_wakeup();
        stats.record_dropped_message();
        stats.dropped_messages_counter().fetch_add(2, Relaxed);
        let s = stats.snapshot();
        assert_eq!((s.overrun_callbacks, s.backend_xruns, s.late_wakeups, s.xruns), (1, 1, 1, 3));
        assert_eq!(s.dropped_messages, 3);
    }

    #[test]
    fn empty_histogram_reports_zero() {
        let s = Stats::new().snapshot();
        assert_eq!((s.p50_us, s.p99_us, s.max_us), (0.0, 0.0, 0.0));
    }
}
