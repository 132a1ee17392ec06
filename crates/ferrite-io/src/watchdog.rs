//! Notices a device that stops calling back without reporting an error
//! (a JACK server that went away, a USB device pulled on some hosts) and
//! reports it on the stream's error channel.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{RecvTimeoutError, Sender};

use crate::{IoError, IoErrorKind, Stats};

/// Name of the watchdog thread.
const THREAD_NAME: &str = "ferrite-io-watchdog";

/// A thread that checks the callback counter of a running device stream.
pub(crate) struct Watchdog {
    stop: Option<Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Watchdog {
    /// Starts watching: no callback for `stall` (after the first one, or for
    /// `startup` before it) sends one `DeviceUnavailable` error; it is sent
    /// again only after callbacks have resumed and stalled anew. Returns
    /// `None` if the thread cannot be started (the stream works without it).
    pub(crate) fn spawn(
        stats: Arc<Stats>,
        errors: Sender<IoError>,
        stall: Duration,
        startup: Duration,
    ) -> Option<Self> {
        let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(0);
        let check_every = (stall / 4).max(Duration::from_millis(10));
        let thread = thread::Builder::new()
            .name(THREAD_NAME.to_owned())
            .spawn(move || {
                let mut last_count = stats.callbacks();
                let mut last_change = Instant::now();
                let mut reported = false;
                while let Err(RecvTimeoutError::Timeout) = stop_rx.recv_timeout(check_every) {
                    let count = stats.callbacks();
                    if count != last_count {
                        last_count = count;
                        last_change = Instant::now();
                        reported = false;
                        continue;
                    }
                    let limit = if count == 0 { startup } else { stall };
                    if !reported && last_change.elapsed() >= limit {
                        reported = true;
                        let _ = errors.try_send(IoError::new(
                            IoErrorKind::DeviceUnavailable,
                            format!(
                                "the audio device stopped calling back ({} ms without a callback); \
                                 it may have been disconnected: close the engine and open it again",
                                last_change.elapsed().as_millis()
                            ),
                        ));
                    }
                }
            })
            .ok()?;
        Some(Self { stop: Some(stop_tx), thread: Some(thread) })
    }

    /// Stops the thread and waits for it. Idempotent.
    pub(crate) fn stop(&mut self) {
        drop(self.stop.take()); // disconnects: the thread's recv returns at once
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_a_stall_once_and_rearms_after_callbacks_resume() {
        let stats = Arc::new(Stats::new());
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut dog =
            Watchdog::spawn(stats.clone(), tx, Duration::from_millis(40), Duration::from_millis(40)).expect("spawn");
        stats.record_callback(128, 1_000, 2_000_000);
        let first = rx.recv_timeout(Duration::from_secs(5)).expect("stall reported");
        assert_eq!(first.kind(), IoErrorKind::DeviceUnavailable);
        // Still stalled: not reported again.
        assert!(rx.recv_timeout(Duration::from_millis(150)).is_err());
        // Resume, then stall again: reported again.
        stats.record_callback(128, 1_000, 2_000_000);
        assert!(rx.recv_timeout(Duration::from_secs(5)).is_ok());
        dog.stop();
        // The sender went with the thread: the channel disconnects.
        assert!(matches!(rx.recv_timeout(Duration::from_secs(1)), Err(RecvTimeoutError::Disconnected)));
    }

    #[test]
    fn a_running_stream_is_not_reported() {
        let stats = Arc::new(Stats::new());
        let (tx, rx) = crossbeam_channel::unbounded();
        let dog =
            Watchdog::spawn(stats.clone(), tx, Duration::from_millis(200), Duration::from_millis(200)).expect("spawn");
        for _ in 0..30 {
            stats.record_callback(128, 1_000, 2_000_000);
            thread::sleep(Duration::from_millis(10));
        }
        drop(dog);
        assert!(rx.try_recv().is_err());
    }
}
