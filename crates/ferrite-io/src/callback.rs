//! The contract between a backend and whatever renders audio.

/// Renders one block of audio. Implemented by the engine's render core, by
/// test callbacks, and by any `FnMut(&mut [f32], &[f32], usize, usize)` closure.
///
/// * `output`: interleaved `f32`, exactly `frames * channels` samples, to be
///   filled completely (it holds stale data on entry, not silence).
/// * `input`: interleaved captured audio laid out like the output: exactly
///   `frames * channels` samples, i.e. always the *output's* channel count.
///   A captured stream with fewer channels is repeated across the output's
///   channels (mono → every channel), one with more channels has its extra
///   channels dropped. When the stream has no input, or the capture side has
///   not delivered enough samples yet, the missing part is zeros.
/// * `frames`: frames in this block. Usually the stream's
///   [`buffer_size`](crate::Stream::buffer_size), but a device may deliver
///   other sizes; never more than the size granted at open (larger device
///   buffers are rendered in several calls).
/// * `channels`: the output's channel count, [`channels`](crate::Stream::channels).
///
/// # Realtime
///
/// Called on the audio thread. Implementations must not allocate, free,
/// lock, block, log or panic. The backend wraps every call in a
/// [`DenormalGuard`](crate::DenormalGuard).
pub trait AudioCallback: Send + 'static {
    /// Fills `output` with the next `frames` frames. See the trait docs.
    fn render(&mut self, output: &mut [f32], input: &[f32], frames: usize, channels: usize);
}

impl<F> AudioCallback for F
where
    F: FnMut(&mut [f32], &[f32], usize, usize) + Send + 'static,
{
    fn render(&mut self, output: &mut [f32], input: &[f32], frames: usize, channels: usize) {
        self(output, input, frames, channels)
    }
}
