//! The null backend: no device, a thread paced by the monotonic clock.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::runner::Runner;
use crate::stream::{Backend, Stream};
use crate::{AudioCallback, IoError, IoErrorKind, Stats, StreamConfig};

/// Name of the null backend's audio thread.
pub const NULL_THREAD_NAME: &str = "ferrite-audio";

/// Opens the null backend: a thread named `ferrite-audio` that calls
/// `callback` every `buffer_size / sample_rate` seconds, with the same setup,
/// denormal guard and statistics as a device. Defaults: 48000 Hz, 128 frames,
/// 2 channels. `device`, `input_device` and `want_input` are ignored: the
/// input slice is always zeros.
///
/// Pacing uses absolute deadlines (`start + n·period`), so it does not drift.
/// A wake-up more than one period late is counted in
/// [`StatsSnapshot::late_wakeups`](crate::StatsSnapshot::late_wakeups) (unless
/// the lateness came from an over-budget callback, which is already counted)
/// and the clock restarts from now instead of bursting to catch up.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// let calls = Arc::new(AtomicU64::new(0));
/// let seen = calls.clone();
/// let stream = ferrite_io::open_null(&Default::default(), move |out: &mut [f32], _: &[f32], _, _| {
///     out.fill(0.0);
///     seen.fetch_add(1, Ordering::Relaxed);
/// })?;
/// std::thread::sleep(std::time::Duration::from_millis(20));
/// stream.close();
/// assert!(calls.load(Ordering::Relaxed) > 0);
/// # Ok::<(), ferrite_io::IoError>(())
/// ```
pub fn open_null<C: AudioCallback>(config: &StreamConfig, callback: C) -> Result<Stream, IoError> {
    let resolved = config.resolve_null()?;
    let stats = Arc::new(Stats::new());
    let period_ns = u64::from(resolved.buffer_size) * 1_000_000_000 / u64::from(resolved.sample_rate);
    stats.set_budget_ns(period_ns);
    let stop = Arc::new(AtomicBool::new(false));
    let (error_tx, error_rx) = crossbeam_channel::bounded::<IoError>(1);

    let frames = resolved.buffer_size as usize;
    let channels = usize::from(resolved.channels);
    let mut clock = NullClock {
        runner: Runner::new(callback, stats.clone(), resolved.sample_rate),
        stats: stats.clone(),
        stop: stop.clone(),
        output: vec![0.0; frames * channels],
        input: vec![0.0; frames * channels],
        frames,
        channels,
        period: Duration::from_nanos(period_ns),
    };
    let thread = thread::Builder::new()
        .name(NULL_THREAD_NAME.to_owned())
        .spawn(move || {
            // The sender lives as long as the thread: the errors channel
            // disconnects when the stream stops.
            let _errors = error_tx;
            clock.run();
        })
        .map_err(|e| {
            IoError::new(IoErrorKind::Backend, format!("could not start the {NULL_THREAD_NAME} thread: {e}"))
        })?;

    Ok(Stream::new(
        resolved.sample_rate,
        resolved.buffer_size,
        resolved.channels,
        0,
        stats,
        error_rx,
        Box::new(NullHandle { stop, thread: Some(thread) }),
    ))
}

/// The audio thread's state: everything allocated before the loop starts.
struct NullClock<C> {
    runner: Runner<C>,
    stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
    output: Vec<f32>,
    input: Vec<f32>,
    frames: usize,
    channels: usize,
    period: Duration,
}

impl<C: AudioCallback> NullClock<C> {
    /// The loop: call back, then wait for the next absolute deadline.
    ///
    /// # Realtime
    ///
    /// Between callbacks: clock reads and `park_timeout` only (no allocation,
    /// no lock).
    fn run(&mut self) {
        let mut start = Instant::now();
        let mut n: u32 = 0;
        while !self.stop.load(Ordering::Acquire) {
            let (frames, channels) = (self.frames, self.channels);
            let (output, input) = (&mut self.output, &self.input);
            let over_budget = self.runner.run(frames, |callback| {
                callback.render(output, input, frames, channels);
            });

            n = n.saturating_add(1);
            let now = Instant::now();
            let mut deadline = start.checked_add(self.period.saturating_mul(n)).unwrap_or(now);
            let late = deadline.checked_add(self.period).is_some_and(|limit| now > limit);
            if late {
                // More than a period late: resynchronise rather than burst.
                if !over_budget {
                    self.stats.record_late_wakeup();
                }
                start = now;
                n = 0;
                deadline = now;
            } else if n >= 1 << 20 {
                // Rebase now and then so `period · n` stays far from overflow.
                start = deadline;
                n = 0;
            }
            self.wait_until(deadline);
        }
    }

    /// Sleeps until `deadline` or until asked to stop (close unparks us).
    fn wait_until(&self, deadline: Instant) {
        loop {
            if self.stop.load(Ordering::Acquire) {
                return;
            }
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            thread::park_timeout(deadline - now);
        }
    }
}

/// The control side's handle on the null thread.
pub(crate) struct NullHandle {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Backend for NullHandle {
    /// Stops the thread and waits for it. Idempotent.
    fn stop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            // A panicking callback has already reported itself; nothing to add.
            let _ = thread.join();
        }
    }
}
