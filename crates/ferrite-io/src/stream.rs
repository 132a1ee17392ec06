//! The handle a caller holds on a running stream.

use std::sync::Arc;

use crossbeam_channel::Receiver;

use crate::{IoError, Stats, StatsSnapshot};

/// What keeps a stream running (the null backend's thread, a device's cpal
/// streams): each backend implements it in its own module.
pub(crate) trait Backend: Send {
    /// Stops the stream and waits until its callback has been dropped.
    fn stop(&mut self);
}

/// A running audio stream (device or null). Reports what was granted, its
/// statistics and its errors. Closing it — [`close`](Stream::close) or drop —
/// stops the audio thread and waits for it, so nothing keeps the process alive.
pub struct Stream {
    sample_rate: u32,
    buffer_size: u32,
    channels: u16,
    input_channels: u16,
    stats: Arc<Stats>,
    errors: Receiver<IoError>,
    backend: Box<dyn Backend>,
}

impl Stream {
    pub(crate) fn new(
        sample_rate: u32,
        buffer_size: u32,
        channels: u16,
        input_channels: u16,
        stats: Arc<Stats>,
        errors: Receiver<IoError>,
        backend: Box<dyn Backend>,
    ) -> Self {
        Self { sample_rate, buffer_size, channels, input_channels, stats, errors, backend }
    }

    /// Granted sample rate in Hz.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Granted frames per callback (the device's default when it could not
    /// fix the requested size). The callback never gets more frames than this.
    pub fn buffer_size(&self) -> u32 {
        self.buffer_size
    }

    /// Granted output channel count.
    pub fn channels(&self) -> u16 {
        self.channels
    }

    /// Channels captured by the input stream; 0 without one. The callback's
    /// input is mapped onto the output's channel count regardless.
    pub fn input_channels(&self) -> u16 {
        self.input_channels
    }

    /// A copy of the statistics now.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// The shared statistics, e.g. to count dropped control messages.
    pub fn stats_handle(&self) -> Arc<Stats> {
        self.stats.clone()
    }

    /// Errors reported while running (stream errors, device lost). Receive
    /// them on any thread; the channel disconnects once the stream has
    /// stopped. After an error, close the stream and open a new one.
    pub fn errors(&self) -> Receiver<IoError> {
        self.errors.clone()
    }

    /// Stops the stream and waits for its audio thread to finish. The
    /// callback is dropped by then.
    pub fn close(self) {
        drop(self);
    }

    fn stop(&mut self) {
        self.backend.stop();
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("sample_rate", &self.sample_rate)
            .field("buffer_size", &self.buffer_size)
            .field("channels", &self.channels)
            .field("input_channels", &self.input_channels)
            .finish_non_exhaustive()
    }
}
