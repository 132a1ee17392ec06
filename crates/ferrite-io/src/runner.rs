//! The callback path every backend shares: audio-thread setup on the first
//! call, the denormal guard, timing and statistics.

use std::sync::Arc;
use std::time::Instant;

use crate::denormals::{flush_enabled, DenormalGuard};
use crate::priority::promote_current_thread;
use crate::{AudioCallback, Stats};

/// Owns the user's callback on the audio thread and wraps each device
/// callback in setup, FTZ/DAZ and measurement.
pub(crate) struct Runner<C> {
    callback: C,
    stats: Arc<Stats>,
    sample_rate: u64,
    thread_ready: bool,
}

impl<C: AudioCallback> Runner<C> {
    pub(crate) fn new(callback: C, stats: Arc<Stats>, sample_rate: u32) -> Self {
        Self { callback, stats, sample_rate: u64::from(sample_rate.max(1)), thread_ready: false }
    }

    /// Runs one device callback of `frames` frames: `body` renders it (in one
    /// or several calls to the user callback) under a [`DenormalGuard`].
    /// Returns whether the callback took longer than the audio it produced.
    ///
    /// # Realtime
    ///
    /// No allocation, lock or panic; the first call additionally asks for
    /// real-time priority (one or two system calls).
    #[inline]
    pub(crate) fn run(&mut self, frames: usize, body: impl FnOnce(&mut C)) -> bool {
        if !self.thread_ready {
            self.thread_ready = true;
            self.stats.set_realtime_priority(promote_current_thread());
        }
        let start = Instant::now();
        {
            let _guard = DenormalGuard::new();
            self.stats.set_denormals_flushed(flush_enabled());
            body(&mut self.callback);
        }
        let elapsed_ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let frames = frames as u64;
        let budget_ns = frames.saturating_mul(1_000_000_000) / self.sample_rate;
        self.stats.record_callback(frames, elapsed_ns, budget_ns)
    }
}
